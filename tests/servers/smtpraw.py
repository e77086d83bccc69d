#!/usr/bin/env python3
"""smtpraw.py - talk raw SMTP to a server and print every reply line.

Usage: smtpraw.py HOST PORT < SCRIPT
SCRIPT lines are sent as they are (with CRLF) one at a time, waiting for
the reply to each; a line "!PIPE a|b|c" sends a, b and c in one write and
then reads one reply per command; "!RAW <python bytes literal>" sends those
bytes as they are and reads what comes back within a second; "!SLEEP n".
Each reply line is printed as received; "(closed)" when the server hangs up.
"""
import ast, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=10)
f = s.makefile("rb")

def reply():
    while True:
        line = f.readline()
        if not line:
            print("(closed)"); sys.stdout.flush(); sys.exit(0)
        text = line.decode("latin-1").rstrip("\r\n")
        print(text); sys.stdout.flush()
        if len(text) < 4 or text[3] != "-":
            return

reply()
for raw in sys.stdin:
    cmd = raw.rstrip("\n")
    if cmd.startswith("!SLEEP "):
        time.sleep(float(cmd[7:])); continue
    if cmd.startswith("!PIPE "):
        parts = cmd[6:].split("|")
        s.sendall("".join(p + "\r\n" for p in parts).encode())
        for _ in parts:
            reply()
        continue
    if cmd.startswith("!RAW "):
        s.sendall(ast.literal_eval(cmd[5:]))
        reply()
        continue
    s.sendall((cmd + "\r\n").encode("latin-1"))
    reply()
# The script is done: show whatever else comes, and whether it closed.
s.settimeout(2)
try:
    while True:
        line = f.readline()
        if not line:
            print("(closed)")
            break
        print(line.decode("latin-1").rstrip("\r\n"))
except (socket.timeout, OSError):
    pass
