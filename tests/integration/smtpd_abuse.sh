#!/bin/sh
# smtpd_abuse.sh - danemx serve against clients that abuse it: every
# error counts (refused RCPTs, bad MAIL, unknown commands, and NOOP,
# RSET, VRFY past the junk limit) up to 421 at smtpd_hard_error_limit;
# past smtpd_soft_error_limit replies wait on a timer while other
# sessions go on; a delivered message starts the count again; per-client
# session and connection-rate limits (421, logged once; mynetworks
# exempt unless told otherwise); the session time limit against a client
# that dribbles; a client that pipelines and never reads stops being
# read; out of descriptors the listener pauses, logs once and does not
# spin.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
PIPE="$DANEMX_SRCDIR/tests/servers/smtppipe.py"
RELAY=$((8000 + ($$ % 1000)))
Q="$T_TMP/queue"
cleanup() {
	[ -f "$T_TMP/pid" ] && kill -9 "$(cat "$T_TMP/pid")" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# The client (127.0.0.1) is outside mynetworks unless a case says so.
serve() {
	stop
	: >"$T_TMP/relay.log"
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
		-o helo_name=relay.test -o "relayhost=[127.0.0.1]:1" \
		-o retry_min=1h -o mynetworks=192.0.2.0/24 "$@" \
		>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {
	[ -s "$T_TMP/pid" ] || return 0
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	wait "$pid" 2>/dev/null
	rm -f "$T_TMP/pid"
}
session() { $PY "$PIPE" 127.0.0.1 $RELAY "$T_TMP/$1.in" "${2:-3}" >"$T_TMP/$1.out" 2>&1; }
put() { $PY -c "import sys; open(sys.argv[1], 'wb').write($2)" "$T_TMP/$1.in"; }
# greet: a new connection's first line
greet() { $PY - $RELAY <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(s.makefile("rb").readline().decode().rstrip())
PYEOF
}

serve -o smtpd_soft_error_limit=5 -o smtpd_hard_error_limit=6 \
	-o smtpd_error_sleep_time=1s -o smtpd_junk_command_limit=4 \
	-o smtpd_client_connection_count_limit=3 \
	-o smtpd_client_connection_rate_limit=1000

# --- Errors. Refused recipients count: the 6th is the last.
put rcpt "b'EHLO c.test\r\nMAIL FROM:<a@c.test>\r\n' + b''.join(b'RCPT TO:<v%d@elsewhere.test>\r\n' % i for i in range(10))"
session rcpt
expect_eq "refused RCPTs: six" "$(grep -c '^554 5.7.1 <v.@elsewhere.test>: Relay access denied' "$T_TMP/rcpt.out")" 6
expect_eq "refused RCPTs: then 421" "$(tail -n 2 "$T_TMP/rcpt.out")" "421 4.7.0 relay.test Error: too many errors
(closed)"
expect_match "refused RCPTs: logged" "$(cat "$T_TMP/relay.log")" \
	"smtpd: 127.0.0.1: too many errors \(6, smtpd_hard_error_limit\); session ended"
# Bad MAIL commands count.
put mail "b'EHLO c.test\r\n' + b'MAIL FROM:<bad\r\n' * 10"
session mail
expect_eq "bad MAIL: six" "$(grep -c '^501 5.1.7 Bad sender address syntax' "$T_TMP/mail.out")" 6
expect_eq "bad MAIL: then 421" "$(tail -n 2 "$T_TMP/mail.out" | head -n 1)" "421 4.7.0 relay.test Error: too many errors"
# NOOP, RSET and VRFY: four are free, then each is an error.
put junk "b'EHLO c.test\r\n' + b'NOOP\r\nRSET\r\nVRFY x\r\n' * 10"
session junk
expect_eq "junk: ten answered" "$(grep -c -e '^250 2.0.0 Ok' -e '^252 ' "$T_TMP/junk.out")" 10
expect_eq "junk: then 421" "$(tail -n 2 "$T_TMP/junk.out")" "421 4.7.0 relay.test Error: too many errors
(closed)"
# A delivered message starts the count again (<postmaster> is open to
# anyone): 4 errors, a message, 4 errors, and the session lives on.
put reset "b'EHLO c.test\r\n' + b'FROB\r\n' * 4 + b'MAIL FROM:<a@c.test>\r\nRCPT TO:<postmaster>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\n' + b'FROB\r\n' * 4 + b'QUIT\r\n'"
session reset
expect_eq "reset: eight errors, no 421" "$(grep -c -e '^500 ' -e '^421 ' "$T_TMP/reset.out")" 8
expect_match "reset: the message queued" "$(cat "$T_TMP/reset.out")" "^250 2.0.0 Ok: queued as "
expect_eq "reset: QUIT answered" "$(tail -n 2 "$T_TMP/reset.out" | head -n 1)" "221 2.0.0 Bye"

# --- The soft limit: the 5th error's reply waits a second, on a timer:
# another client is served meanwhile.
$PY - $RELAY >"$T_TMP/soft.out" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), timeout=10)
fa = a.makefile("rb")
fa.readline()
a.sendall(b"EHLO a.test\r\n" + b"FROB\r\n" * 5)
while not fa.readline().startswith(b"250 "):
    pass
for i in range(4):
    fa.readline()
t4 = time.monotonic()
b = socket.create_connection(("127.0.0.1", port), timeout=10)
fb = b.makefile("rb")
fb.readline()
b.sendall(b"NOOP\r\n")
nb = fb.readline()
tb = time.monotonic()
r5 = fa.readline()
t5 = time.monotonic()
print("fifth: %s" % r5.decode().rstrip())
print("delayed: %s" % ("yes" if t5 - t4 >= 0.8 else "no %.3f" % (t5 - t4)))
print("other client served first: %s" % ("yes" if tb < t5 and nb.startswith(b"250") else "no"))
PYEOF
expect_eq "soft limit: the fifth reply" "$(sed -n 1p "$T_TMP/soft.out")" "fifth: 500 5.5.2 Command not recognized"
expect_eq "soft limit: it waited" "$(sed -n 2p "$T_TMP/soft.out")" "delayed: yes"
expect_eq "soft limit: the loop went on" "$(sed -n 3p "$T_TMP/soft.out")" "other client served first: yes"

# --- Sessions per client (3): the 4th and 5th get 421, logged once; when
# one ends, the client is served again.
sleep 0.5	# the relay sees the sessions above end
$PY - $RELAY >"$T_TMP/conc.out" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    print("hold: %s" % f.readline().decode().rstrip())
    held.append((s, f))
for i in range(2):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    print("extra: %s" % f.readline().decode().rstrip())
    print("extra: %s" % (f.readline().decode().rstrip() or "(closed)"))
held[0][0].sendall(b"QUIT\r\n")
held[0][1].readline()
held[0][1].read()
time.sleep(0.2)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
print("after: %s" % s.makefile("rb").readline().decode().rstrip())
PYEOF
expect_eq "per client: three served" "$(grep -c '^hold: 220 relay.test' "$T_TMP/conc.out")" 3
expect_eq "per client: the others refused" "$(grep '^extra' "$T_TMP/conc.out")" \
"extra: 421 4.7.0 relay.test Error: too many connections from your address, try again later
extra: (closed)
extra: 421 4.7.0 relay.test Error: too many connections from your address, try again later
extra: (closed)"
expect_eq "per client: served again" "$(grep '^after' "$T_TMP/conc.out")" "after: 220 relay.test ESMTP danemx"
expect_eq "per client: logged once" "$(grep -c 'smtpd: 127.0.0.1: too many sessions at once (3, smtpd_client_connection_count_limit): refused with 421' "$T_TMP/relay.log")" 1

# --- Connections per client and time unit: 4 in 3 s, then 421 until
# the unit is over.
serve -o smtpd_client_connection_rate_limit=4 -o smtpd_client_rate_time_unit=3s
for i in 1 2 3 4; do
	expect_eq "rate: connection $i" "$(greet)" "220 relay.test ESMTP danemx"
done
expect_eq "rate: the 5th refused" "$(greet)" \
	"421 4.7.0 relay.test Error: too many connections from your address, try again later"
expect_match "rate: logged" "$(cat "$T_TMP/relay.log")" \
	"smtpd: 127.0.0.1: too many connections \(more than 4 in 3s, smtpd_client_connection_rate_limit\)"
i=0
until [ "$(greet)" = "220 relay.test ESMTP danemx" ]; do
	i=$((i + 1)); [ $i -lt 60 ] || fail "rate: not served again after the time unit"
	sleep 0.1
done
pass
# mynetworks is exempt by default, not with smtpd_client_limit_exempt=none.
serve -o mynetworks=127.0.0.0/8 -o smtpd_client_connection_rate_limit=2 \
	-o smtpd_client_rate_time_unit=1h
for i in 1 2 3 4; do greet >/dev/null; done
expect_eq "rate: mynetworks exempt" "$(greet)" "220 relay.test ESMTP danemx"
serve -o mynetworks=127.0.0.0/8 -o smtpd_client_connection_rate_limit=2 \
	-o smtpd_client_rate_time_unit=1h -o smtpd_client_limit_exempt=none
for i in 1 2; do greet >/dev/null; done
expect_match "rate: mynetworks limited when told" "$(greet)" "^421 4.7.0 "

# --- A client that dribbles a byte at a time is cut off at
# smtpd_session_time_limit, however busy it keeps the idle timer.
serve -o smtpd_session_time_limit=2s
$PY - $RELAY >"$T_TMP/slow.out" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.settimeout(0.3)
end = time.monotonic() + 8
got = b""
try:
    while time.monotonic() < end and b"\n" not in got:
        s.sendall(b"N")
        try:
            got += s.recv(1000)
        except socket.timeout:
            pass
except OSError:
    pass
print(got.decode().rstrip() or "nothing")
PYEOF
expect_eq "session time limit: 421" "$(cat "$T_TMP/slow.out")" "421 4.4.2 relay.test Error: session time limit exceeded"
expect_match "session time limit: logged" "$(cat "$T_TMP/relay.log")" \
	"smtpd: 127.0.0.1: session time limit \(2s, smtpd_session_time_limit\) reached; session ended"

# --- A client that pipelines and never reads its replies: the relay
# stops reading it (it could otherwise take 8 MB of EHLO and hold some
# 100 MB of replies); it reads again once the replies are taken.
serve
$PY - $RELAY >"$T_TMP/flood.out" <<'PYEOF'
import socket, sys, time, errno
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.setblocking(False)
chunk = b"EHLO x\r\n" * 8192
sent, stuck = 0, None
while sent < 8 * 1024 * 1024:
    try:
        sent += s.send(chunk)
        stuck = None
    except BlockingIOError:
        stuck = stuck or time.monotonic()
        if time.monotonic() - stuck > 1.5:
            break
        time.sleep(0.02)
print("bounded" if sent < 3 * 1024 * 1024 else "took %d octets" % sent)
s.close()
# At a smaller scale, read everything back: nothing is lost or stuck.
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
n = 30000
s.sendall(b"EHLO x\r\n" * n + b"QUIT\r\n")
time.sleep(1)
done = 0
while True:
    l = f.readline()
    if not l:
        break
    if l.startswith(b"250 ENHANCEDSTATUSCODES"):
        done += 1
    if l.startswith(b"221"):
        print("answered %d of %d, then QUIT" % (done, n))
PYEOF
expect_eq "no reading: bounded" "$(sed -n 1p "$T_TMP/flood.out")" bounded
expect_eq "no reading: all answered later" "$(sed -n 2p "$T_TMP/flood.out")" "answered 30000 of 30000, then QUIT"
stop

# --- Out of descriptors: the listener pauses (no busy loop), says so
# once, and accepts again when descriptors are free.
: >"$T_TMP/relay.log"
(ulimit -n 40; exec "$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
	-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" -o helo_name=relay.test \
	-o "relayhost=[127.0.0.1]:1" -o retry_min=1h) >"$T_TMP/relay.log" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start: $(cat "$T_TMP/relay.log")"
$PY - $RELAY "$(cat "$T_TMP/pid")" >"$T_TMP/fd.out" <<'PYEOF'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])        # utime + stime, in ticks
socks = []
for i in range(60):
    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
time.sleep(0.5)
c0 = cpu()
time.sleep(2)
c1 = cpu()
print("idle while out of descriptors" if c1 - c0 < 50 else "busy: %d ticks in 2 s" % (c1 - c0))
for s in socks:
    s.close()
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
print("then: %s" % s.makefile("rb").readline().decode().rstrip())
PYEOF
expect_eq "descriptors: no busy loop" "$(sed -n 1p "$T_TMP/fd.out")" "idle while out of descriptors"
expect_eq "descriptors: accepting again" "$(sed -n 2p "$T_TMP/fd.out")" "then: 220 relay.test ESMTP danemx"
expect_eq "descriptors: logged once" "$(grep -c 'smtpd: cannot accept connections: Too many open files' "$T_TMP/relay.log")" 1
expect_eq "descriptors: recovery logged" "$(grep -c 'smtpd: accepting connections again' "$T_TMP/relay.log")" 1
stop
done_ok
