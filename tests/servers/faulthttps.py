#!/usr/bin/env python3
"""faulthttps.py - HTTPS servers that do what nginx will not, for MTA-STS.

Usage: faulthttps.py --serve MODE ADDR PORT CERT KEY [--serve ...]
                     [--log FILE] [--pidfile FILE]

One process, one thread per listening socket (and per connection). Every
mode answers GET /.well-known/mta-sts.txt; each request is logged to --log
as "MODE HOST PATH". "ready" goes to stdout once every socket listens.

Modes:
  redirect        301 to the same path at mta-sts.enforce.sts.test, with
                  "?redirected" so that a client that follows it is seen in
                  nginx's access log
  oversize        200 text/plain, a valid policy padded with comment lines
                  to 70000 octets, with a Content-Length
  oversize-stream the same without a Content-Length (HTTP/1.0, the end of
                  the body is the end of the connection)
  slow            200 text/plain, Content-Length 100, then one octet every
                  half second
  policy          200 text/plain, a valid enforce policy (with a
                  certificate that is wrong in some way: that is the test)
  error500        500
  html            200, a valid policy, Content-Type text/html
"""
import argparse, os, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POLICY = (b"version: STSv1\r\nmode: enforce\r\nmx: mx.html.sts.test\r\n"
          b"mx: mx.wrongname.sts.test\r\nmx: mx.unknownca.sts.test\r\n"
          b"max_age: 86400\r\n")

def padded(size):
    body = POLICY
    line = b"comment: " + b"x" * 60 + b"\r\n"
    while len(body) + len(line) <= size:
        body += line
    return body + b"c: " + b"y" * (size - len(body) - 5) + b"\r\n"

class Handler(BaseHTTPRequestHandler):
    server_version = "faulthttps"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def note(self):
        if self.server.logfile:
            with open(self.server.logfile, "a") as f:
                f.write("%s %s %s\n" % (self.server.mode,
                        self.headers.get("Host", "-"), self.path))

    def body(self, status, ctype, data, length=True):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.note()
        mode = self.server.mode
        try:
            if mode == "redirect":
                self.send_response(301)
                self.send_header("Location", "https://mta-sts.enforce."
                                 "sts.test/.well-known/mta-sts.txt?redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "oversize":
                self.body(200, "text/plain", padded(70000))
            elif mode == "oversize-stream":
                self.protocol_version = "HTTP/1.0"
                self.body(200, "text/plain", padded(70000), length=False)
            elif mode == "slow":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.flush()
                for i in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            elif mode == "policy":
                self.body(200, "text/plain", POLICY)
            elif mode == "error500":
                self.body(500, "text/plain", b"internal error\r\n")
            elif mode == "html":
                self.body(200, "text/html", POLICY)
            else:
                self.body(404, "text/plain", b"no such mode\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass    # clients that give up are the point of some modes

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", nargs=5, action="append", required=True,
                    metavar=("MODE", "ADDR", "PORT", "CERT", "KEY"))
    ap.add_argument("--log")
    ap.add_argument("--pidfile")
    args = ap.parse_args()
    servers = []
    for mode, addr, port, cert, key in args.serve:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv = Server((addr, int(port)), Handler)
        # the handshake happens in the connection's thread, not in accept
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
        srv.mode = mode
        srv.logfile = args.log
        servers.append(srv)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)

if __name__ == "__main__":
    main()
