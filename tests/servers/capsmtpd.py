#!/usr/bin/env python3
"""capsmtpd.py - an SMTP sink that keeps every message octet for octet.

Usage: capsmtpd.py --listen ADDR:PORT --dir DIR

A correct ESMTP server (PIPELINING, 8BITMIME, no STARTTLS) that accepts
every sender and recipient. Each message's DATA is stored as it came on
the wire, dot-stuffing included, up to (not including) the final
".\\r\\n", in DIR/N.eml; DIR/N.env holds "MAIL <from>" and one
"RCPT <to>" line per recipient. N counts from 1; each file appears
whole (N.env before N.eml). Prints "ready" once
listening. It reads DATA in large pieces, so long lines cost nothing.
"""
import argparse, os, socket, threading

lock = threading.Lock()
count = [0]

def handle(conn, outdir):
    buf = b""
    def fill():
        nonlocal buf
        d = conn.recv(65536)
        if not d:
            raise EOFError
        buf += d
    def line():
        nonlocal buf
        while b"\n" not in buf:
            fill()
        i = buf.index(b"\n")
        l, buf = buf[:i + 1], buf[i + 1:]
        return l.decode("latin-1").rstrip("\r\n")
    try:
        conn.sendall(b"220 cap.test ESMTP\r\n")
        mail, rcpts = None, []
        while True:
            cmd = line()
            verb = cmd[:4].upper()
            if verb == "EHLO":
                conn.sendall(b"250-cap.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n")
            elif verb == "HELO":
                conn.sendall(b"250 cap.test\r\n")
            elif verb == "MAIL":
                mail, rcpts = cmd[10:].split(" ")[0], []
                conn.sendall(b"250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].split(" ")[0])
                conn.sendall(b"250 2.1.5 ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                # The content ends at CRLF.CRLF (or at once with ".CRLF").
                while True:
                    if buf.startswith(b".\r\n"):
                        data, buf = b"", buf[3:]
                        break
                    i = buf.find(b"\r\n.\r\n")
                    if i >= 0:
                        data, buf = buf[:i + 2], buf[i + 5:]
                        break
                    fill()
                with lock:
                    count[0] += 1
                    n = count[0]
                # Whole files only: written aside, then renamed, the
                # envelope first (a test polls for N.eml).
                for name, text in (("%d.env" % n, ("MAIL %s\n" % mail +
                        "".join("RCPT %s\n" % r for r in rcpts)).encode()),
                        ("%d.eml" % n, data)):
                    tmp = os.path.join(outdir, "." + name)
                    with open(tmp, "wb") as f:
                        f.write(text)
                    os.rename(tmp, os.path.join(outdir, name))
                conn.sendall(b"250 2.0.0 kept as %d\r\n" % n)
            elif verb == "RSET":
                mail, rcpts = None, []
                conn.sendall(b"250 ok\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"500 5.5.1 what?\r\n")
    except (EOFError, OSError):
        pass
    finally:
        conn.close()

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    host, port = a.listen.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host.strip("[]"), int(port)))
    s.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, a.dir), daemon=True).start()

if __name__ == "__main__":
    main()
