#!/usr/bin/env python3
"""faultsmtpd.py - a small scripted SMTP server for hostile-server tests.

Usage: faultsmtpd.py --listen ADDR:PORT [--listen ADDR:PORT...] --mode MODE
                     [--cert C --key K] [--tls-max 1.2|1.3] [--log FILE]
                     [--connlog FILE] [--data DIR] [--release FILE]

Modes (what the server does wrong, or right):
  ok             a correct ESMTP server with STARTTLS (if --cert) that
                 accepts everything and discards the message
  no-starttls    does not offer STARTTLS
  refuse-tls     offers STARTTLS, answers it with 454
  broken-tls     offers STARTTLS, says 220, then sends garbage instead of
                 a TLS handshake (and offers no STARTTLS to a retry)
  inject         sends "250 injected" in the same segment as the
                 STARTTLS 220 (CVE-2011-0411 class; must be discarded)
  garbage        greets with bytes that are not SMTP
  endless        a reply line that never ends
  many-lines     a multi-line reply that never ends
  slow           sends the greeting one byte per second
  drop-data      drops the connection in the middle of DATA
  rcpt-5xx       rejects recipients whose local part starts with "bad"
  rcpt-4xx       defers every recipient with 450
  rcpt-defer     defers recipients whose local part starts with "defer"
                 (451), accepts the others
  greet-554      refuses the session in the greeting
  ehlo-5xx       refuses EHLO (HELO works)
  close-after-data  closes the connection right after each 250 to DATA
                 (a reused connection that is gone)
  evil-text      a correct server whose greeting, EHLO keywords and
                 replies carry ESC sequences, VT, FF and 8-bit octets;
                 recipients whose local part starts with "bad" get 550
  hold           holds its reply to the final "." until the file named
                 by --release exists (many sessions in flight at once)
Each accepted message is appended to --log as one line
"MAIL <from> rcpts bytes tls|plain subject client-address" (bytes: the
message as stored, CRLF line endings, dot-stuffing undone); with --data
its octets are also written to DIR/msg-N (N counts from 1), and to
DIR/msg-N.size the MAIL FROM's SIZE= ("-" without) and the octets that
came between 354 and the final "." (what SIZE= must say). --connlog
gets one line per connection (CONN addr) and RSET; the server prints
HELD N to stdout whenever N sessions wait in hold mode.
"""
import argparse, os, socket, ssl, sys, threading, time

EVIL = b"\x1b[31mred\x1b[0m\x0b\x0c caf\xc3\xa9 \xff\x7f end"
lock = threading.Lock()
counter = {"data": 0, "held": 0}

def handle(conn, args, ctx):
    f = conn
    peer = conn.getpeername()[0]
    inbuf = [b""]
    def send(data):
        f.sendall(data if isinstance(data, bytes) else data.encode())
    def rawline():
        """the next line with its line ending, from a buffer"""
        while True:
            i = inbuf[0].find(b"\n")
            if i >= 0:
                line, inbuf[0] = inbuf[0][:i + 1], inbuf[0][i + 1:]
                return line
            if len(inbuf[0]) > 100000:
                raise EOFError
            c = f.recv(65536)
            if not c:
                raise EOFError
            inbuf[0] += c
    def readline():
        return rawline().decode("latin-1").rstrip("\r\n")
    mode = args.mode
    def connlog(what):
        if args.connlog:
            with open(args.connlog, "a") as lf:
                lf.write("%s %s\n" % (what, peer))
    connlog("CONN")
    try:
        if mode == "garbage":
            send(b"\x00\x01\x02 HELLO THERE\r\nxyz\r\n")
            time.sleep(2); return
        if mode == "endless":
            send("220-")
            for _ in range(10000):
                send("x" * 1000)
            time.sleep(2); return
        if mode == "many-lines":
            for _ in range(100000):
                send("220-more and more\r\n")
            return
        if mode == "slow":
            for ch in "220 slow.example ESMTP\r\n":
                send(ch); time.sleep(1)
            return
        if mode == "greet-554":
            send("554 5.7.1 go away\r\n"); readline(); return
        if mode == "evil-text":
            send(b"220 fault.test ESMTP " + EVIL + b"\r\n")
        else:
            send("220 fault.test ESMTP\r\n")
        tls = False
        mail = None; rcpts = []
        while True:
            line = readline()
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "EHLO" and mode == "ehlo-5xx":
                    send("502 5.5.2 no EHLO here\r\n"); continue
                if verb == "HELO":
                    send("250 fault.test\r\n"); continue
                caps = ["fault.test", "PIPELINING", "SIZE 10240000", "8BITMIME",
                        "ENHANCEDSTATUSCODES"]
                if ctx and not tls and mode != "no-starttls" and not (
                        mode == "broken-tls" and getattr(args, "tls_broken_once", False)):
                    caps.append("STARTTLS")
                if mode == "evil-text":
                    caps.insert(1, EVIL.decode("latin-1"))
                out = "".join("250-%s\r\n" % c for c in caps[:-1]) + "250 %s\r\n" % caps[-1]
                send(out.encode("latin-1"))
            elif verb == "STAR":
                if mode == "refuse-tls":
                    send("454 4.7.0 TLS not available\r\n"); continue
                if mode == "broken-tls":
                    send("220 2.0.0 go ahead\r\n")
                    send(b"this is not TLS\r\n" * 4)
                    time.sleep(0.5)
                    f.close()
                    args.tls_broken_once = True
                    return
                if mode == "inject":
                    send("220 2.0.0 go ahead\r\n250 injected\r\n")
                else:
                    send("220 2.0.0 go ahead\r\n")
                inbuf[0] = b""   # nothing sent before TLS is acted on
                f = ctx.wrap_socket(conn, server_side=True)
                tls = True
            elif verb == "MAIL":
                mail = line[10:].split(" ")[0]; rcpts = []
                size = "-"
                for param in line[10:].split(" ")[1:]:
                    if param.upper().startswith("SIZE="):
                        size = param[5:]
                send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                addr = line[8:]
                if mode == "rcpt-4xx":
                    send("450 4.2.1 try later\r\n")
                elif mode == "rcpt-5xx" and addr.lstrip("<").startswith("bad"):
                    send("550 5.1.1 no such user\r\n")
                elif mode == "rcpt-defer" and addr.lstrip("<").startswith("defer"):
                    send("451 4.3.0 later\r\n")
                elif mode == "evil-text" and addr.lstrip("<").startswith("bad"):
                    send(b"550 5.1.1 " + EVIL + b"\r\n")
                else:
                    rcpts.append(addr); send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                send("354 go ahead\r\n")
                n = 0
                wire = 0
                subject = "-"
                data = []
                while True:
                    raw = rawline()
                    if raw == b".\r\n":
                        break
                    wire += len(raw)
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    l = raw.decode("latin-1").rstrip("\r\n")
                    if subject == "-" and l.lower().startswith("subject: "):
                        subject = l[9:].replace(" ", "_")
                    n += len(raw)
                    if args.data:
                        data.append(raw)
                    if mode == "drop-data" and n > 10:
                        f.close(); return
                if args.data:
                    with lock:
                        counter["data"] += 1
                        k = counter["data"]
                    with open(os.path.join(args.data, "msg-%d.size" % k), "w") as df:
                        df.write("%s %d\n" % (size, wire))
                    with open(os.path.join(args.data, "msg-%d.tmp" % k), "wb") as df:
                        df.write(b"".join(data))
                    os.rename(os.path.join(args.data, "msg-%d.tmp" % k),
                              os.path.join(args.data, "msg-%d" % k))
                data = None
                if mode == "hold":
                    with lock:
                        counter["held"] += 1
                        print("HELD %d" % counter["held"], flush=True)
                    while not os.path.exists(args.release):
                        time.sleep(0.1)
                    with lock:
                        counter["held"] -= 1
                if args.log:
                    with open(args.log, "a") as lf:
                        lf.write("MAIL %s %s %d %s %s %s\n" % (mail, ",".join(rcpts), n, "tls" if tls else "plain", subject, peer))
                send("250 2.0.0 queued\r\n")
                if mode == "close-after-data":
                    time.sleep(0.1); return
            elif verb == "RSET":
                connlog("RSET")
                send("250 ok\r\n")
            elif verb == "QUIT":
                send("221 bye\r\n"); return
            else:
                send("500 5.5.1 what?\r\n")
    except (EOFError, OSError, ssl.SSLError):
        pass
    finally:
        try: f.close()
        except OSError: pass

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True, action="append")
    p.add_argument("--mode", default="ok")
    p.add_argument("--cert"); p.add_argument("--key")
    p.add_argument("--tls-max", choices=["1.2", "1.3"],
                   help="the highest TLS version offered")
    p.add_argument("--log")
    p.add_argument("--connlog", help="one line per connection (CONN) and RSET")
    p.add_argument("--data", help="directory for each message's octets")
    p.add_argument("--release", help="hold mode: answer once this file exists")
    a = p.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    socks = []
    for spec in a.listen:
        host, port = spec.rsplit(":", 1)
        host = host.strip("[]")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port))); s.listen(64)
        socks.append(s)
    def serve(s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c, a, ctx), daemon=True).start()
    for s in socks[1:]:
        threading.Thread(target=serve, args=(s,), daemon=True).start()
    print("ready", flush=True)
    serve(socks[0])

if __name__ == "__main__":
    main()
