#!/usr/bin/env python3
"""smtppipe.py - pipeline raw octets into an SMTP server, print the replies.

Usage: smtppipe.py HOST PORT FILE [QUIET]
Reads the greeting, sends FILE's octets exactly as they are in one go
(commands, message content, bare CR or LF: whatever the file holds),
then prints every reply line until the server closes the connection
("(closed)") or says nothing for QUIET seconds (default 2).
"""
import socket, sys

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
quiet = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
data = open(path, "rb").read()
s = socket.create_connection((host, port), timeout=10)
f = s.makefile("rb")
print(f.readline().decode("latin-1").rstrip("\r\n"), flush=True)
try:
    s.sendall(data)
except OSError:
    pass            # the server hung up while we wrote: show why below
s.settimeout(quiet)
try:
    while True:
        line = f.readline()
        if not line:
            print("(closed)")
            break
        print(line.decode("latin-1").rstrip("\r\n"), flush=True)
except socket.timeout:
    pass
except OSError:
    print("(closed)")
