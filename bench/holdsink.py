#!/usr/bin/python3
"""holdsink.py - an SMTP sink that holds every message at the end of DATA.

Used by bench/sessions.sh to keep thousands of outbound sessions of the
relay under test open at once. It listens on ADDR:PORT (asyncio, stdlib
only), offers PIPELINING, 8BITMIME and (unless --no-tls) STARTTLS with
CERT/KEY, accepts any MAIL FROM and RCPT TO, takes DATA, and then does NOT
answer the final "." until it is released: by SIGUSR1, or once the file
given with --release exists. From then on every held session, and every
later message, gets "250 2.0.0 Ok". The sessions stay open afterwards
(the client decides when to QUIT).

Every 0.25 s it writes STATUS (atomically, one "key=value" per line):
  held       sessions waiting at the end of DATA for their reply
  conns      connections open now
  tls        of those, the ones in TLS
  peak_conns most connections open at once
  accepted   connections accepted in all
  received   messages answered 250 at the end of DATA
  rcpts      recipients of those messages
  released   0 or 1
  errors     connections that ended with an error (handshake, reset...)
Each message answered is also logged to --log (if given), one line:
  "received tls=VERSION|none rcpt=ADDR[,ADDR...]".

It raises its own RLIMIT_NOFILE soft limit to the hard limit and listens
with a large backlog, so that a few thousand concurrent TLS sessions fit.
"""
import argparse
import asyncio
import os
import resource
import signal
import ssl
import sys
import time

STATS = {"held": 0, "conns": 0, "tls": 0, "peak_conns": 0, "accepted": 0,
         "received": 0, "rcpts": 0, "released": 0, "errors": 0}


class Sink:
    def __init__(self, args):
        self.args = args
        self.release = asyncio.Event()
        self.ctx = None
        if not args.no_tls:
            self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ctx.load_cert_chain(args.cert, args.key)
        self.log = open(args.log, "a", buffering=1 << 16) if args.log else None
        self.qid = 0

    def do_release(self):
        if not self.release.is_set():
            STATS["released"] = 1
            self.release.set()

    async def reply(self, w, text):
        w.write(text.encode())
        await w.drain()

    async def session(self, r, w):
        STATS["accepted"] += 1
        STATS["conns"] += 1
        STATS["peak_conns"] = max(STATS["peak_conns"], STATS["conns"])
        in_tls = False
        held = False
        try:
            await self.reply(w, "220 %s ESMTP holdsink\r\n" % self.args.name)
            rcpts = []
            while True:
                line = await r.readline()
                if not line:
                    break
                cmd = line.decode("latin-1").rstrip("\r\n")
                verb = cmd[:4].upper()
                if verb in ("EHLO", "HELO"):
                    rcpts = []
                    if verb == "HELO":
                        await self.reply(w, "250 %s\r\n" % self.args.name)
                        continue
                    ext = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
                    if self.ctx is not None and not in_tls:
                        ext.append("STARTTLS")
                    lines = [self.args.name] + ext
                    await self.reply(w, "".join(
                        "250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", x)
                        for i, x in enumerate(lines)))
                elif verb == "STAR" and cmd.upper() == "STARTTLS":
                    if self.ctx is None or in_tls:
                        await self.reply(w, "502 5.5.1 Not offered\r\n")
                        continue
                    await self.reply(w, "220 2.0.0 Ready to start TLS\r\n")
                    await w.start_tls(self.ctx)
                    in_tls = True
                    STATS["tls"] += 1
                    rcpts = []
                elif verb == "MAIL":
                    rcpts = []
                    await self.reply(w, "250 2.1.0 Ok\r\n")
                elif verb == "RCPT":
                    a = cmd[cmd.find(":") + 1:].strip()
                    if a.startswith("<"):
                        a = a[1:a.find(">")] if ">" in a else a[1:]
                    rcpts.append(a)
                    await self.reply(w, "250 2.1.5 Ok\r\n")
                elif verb == "DATA":
                    if not rcpts:
                        await self.reply(w, "554 5.5.1 No valid recipients\r\n")
                        continue
                    await self.reply(w, "354 End data with <CR><LF>.<CR><LF>\r\n")
                    while True:
                        d = await r.readline()
                        if not d:
                            return
                        if d in (b".\r\n", b".\n"):
                            break
                    if not self.release.is_set():
                        held = True
                        STATS["held"] += 1
                        await self.release.wait()
                        STATS["held"] -= 1
                        held = False
                    self.qid += 1
                    STATS["received"] += 1
                    STATS["rcpts"] += len(rcpts)
                    if self.log:
                        tv = "none"
                        if in_tls:
                            so = w.get_extra_info("ssl_object")
                            tv = so.version() if so else "?"
                        self.log.write("received tls=%s rcpt=%s\n"
                                       % (tv, ",".join(rcpts)))
                    rcpts = []
                    await self.reply(w, "250 2.0.0 Ok: queued as H%08d\r\n"
                                     % self.qid)
                elif verb == "RSET":
                    rcpts = []
                    await self.reply(w, "250 2.0.0 Ok\r\n")
                elif verb == "NOOP":
                    await self.reply(w, "250 2.0.0 Ok\r\n")
                elif verb == "QUIT":
                    await self.reply(w, "221 2.0.0 Bye\r\n")
                    break
                else:
                    await self.reply(w, "502 5.5.2 Command not recognized\r\n")
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError, ConnectionError):
            STATS["errors"] += 1
        finally:
            if held:
                STATS["held"] -= 1
            STATS["conns"] -= 1
            if in_tls:
                STATS["tls"] -= 1
            try:
                w.close()
            except Exception:
                pass

    async def status_loop(self):
        tmp = self.args.status + ".tmp"
        while True:
            if (self.args.release and not self.release.is_set()
                    and os.path.exists(self.args.release)):
                self.do_release()
            with open(tmp, "w") as f:
                f.write("".join("%s=%d\n" % kv for kv in STATS.items()))
                f.write("time=%.3f\n" % time.time())
            os.replace(tmp, self.args.status)
            if self.log:
                self.log.flush()
            await asyncio.sleep(0.25)

    async def main(self):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self.do_release)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        srv = await asyncio.start_server(
            self.session, self.args.addr, self.args.port,
            backlog=self.args.backlog, reuse_address=True)
        if self.args.pidfile:
            with open(self.args.pidfile, "w") as f:
                f.write("%d\n" % os.getpid())
        st = asyncio.create_task(self.status_loop())
        await stop.wait()
        st.cancel()
        srv.close()
        if self.log:
            self.log.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--no-tls", action="store_true")
    p.add_argument("--status", required=True)
    p.add_argument("--release", help="release once this file exists")
    p.add_argument("--log")
    p.add_argument("--pidfile")
    p.add_argument("--name", default="holdsink.test")
    p.add_argument("--backlog", type=int, default=8192)
    args = p.parse_args()
    if not args.no_tls and not (args.cert and args.key):
        p.error("--cert and --key are needed unless --no-tls")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        asyncio.run(Sink(args).main())
    except OSError as e:
        print("holdsink: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
