#!/usr/bin/env python3
"""blackhole.py ADDR PORT PIDFILE - a "DNS server" that never answers.

Binds UDP and TCP on ADDR:PORT, reads every query and throws it away, and
holds TCP connections open without replying, so that a resolver asking it
times out (nothing refuses, unlike an address where nothing listens).
Daemonizes; writes its pid to PIDFILE. Used by world.sh for slow.test.
"""
import os
import selectors
import socket
import sys


def main():
    addr, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind((addr, port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, port))
    tcp.listen(64)

    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)

    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ)
    sel.register(tcp, selectors.EVENT_READ)
    held = []
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is udp:
                udp.recvfrom(65535)
            elif s is tcp:
                conn, _ = tcp.accept()
                held.append(conn)
                sel.register(conn, selectors.EVENT_READ)
                if len(held) > 256:
                    old = held.pop(0)
                    sel.unregister(old)
                    old.close()
            else:
                try:
                    data = s.recv(65535)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    held.remove(s)
                    s.close()


if __name__ == "__main__":
    main()
