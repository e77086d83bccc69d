#!/bin/sh
# smtpd_limits.sh - the relay's SMTP server against bad and hostile
# clients: command order, pipelining, over-long lines, NUL bytes, bad
# addresses, recipient and size limits, the session limit (new clients
# wait in the listen queue), too many errors. Each case asserts the
# exact reply. smtpd_abuse.sh and smtpd_smuggling.sh test the rest.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
RAW="$DANEMX_SRCDIR/tests/servers/smtpraw.py"
PORT=$((17000 + ($$ % 1000)))
Q="$T_TMP/queue"
trap 'kill "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null; rm -rf "$T_TMP"' EXIT

"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$PORT -o queue_dir="$Q" \
	-o user= -o pid_file="$T_TMP/pid" -o helo_name=relay.test \
	-o recipient_limit=3 -o message_size_limit=2k -o max_sessions=3 \
	-o smtpd_error_sleep_time=0 \
	-o "relayhost=[127.0.0.1]:1" -o retry_min=1h >"$T_TMP/log" 2>&1 &
i=0
until grep -q "relay started" "$T_TMP/log" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 150 ] || fail "relay did not start: $(cat "$T_TMP/log")"
	sleep 0.1
done

talk() { $PY "$RAW" 127.0.0.1 $PORT; }
# nth_reply N: the Nth reply line (1 = the greeting)
nth() { sed -n "${1}p" "$T_TMP/out"; }

printf 'MAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\nQUIT\n' | talk >"$T_TMP/out"
expect_eq "greeting" "$(nth 1)" "220 relay.test ESMTP danemx"
expect_eq "MAIL before EHLO" "$(nth 2)" "503 5.5.1 Send EHLO first"
expect_eq "RCPT without MAIL" "$(nth 3)" "503 5.5.1 Need MAIL command"
expect_eq "DATA without RCPT" "$(nth 4)" "503 5.5.1 Need RCPT command"

printf 'EHLO c.test\nMAIL FROM:a@b.test\nMAIL FROM:<a b@c>\nMAIL FROM:<a@b.test> FOO=1\nMAIL FROM:<a@b.test> SIZE=999999\nMAIL FROM:<>\nRCPT TO:<nodomain>\nRCPT TO:<x1@y.test>\nRCPT TO:<x2@y.test>\nRCPT TO:<x3@y.test>\nRCPT TO:<x4@y.test>\nQUIT\n' | talk >"$T_TMP/out"
expect_eq "EHLO: SIZE advertised" "$(grep -c '^250-SIZE 2048$' "$T_TMP/out")" 1
expect_eq "EHLO: no STARTTLS without a certificate" "$(grep -c STARTTLS "$T_TMP/out")" 0
expect_eq "MAIL without brackets" "$(grep -c '^501 5.1.7 Bad sender address syntax' "$T_TMP/out")" 2
expect_eq "unknown MAIL parameter" "$(grep -c '^555 5.5.4 Unsupported option: FOO=1' "$T_TMP/out")" 1
expect_eq "SIZE over the limit" "$(grep -c '^552 5.3.4 Message size exceeds fixed limit' "$T_TMP/out")" 1
expect_eq "null sender accepted" "$(grep -c '^250 2.1.0 Ok' "$T_TMP/out")" 1
expect_eq "recipient without domain" "$(grep -c '^501 5.1.3 Bad recipient address syntax' "$T_TMP/out")" 1
expect_eq "recipient limit" "$(grep -c '^452 4.5.3 Too many recipients' "$T_TMP/out")" 1

# Pipelining: replies come back in order.
printf '!PIPE EHLO p.test|MAIL FROM:<a@b.test>|RCPT TO:<c@d.test>|RSET|NOOP\nQUIT\n' | talk >"$T_TMP/out"
expect_eq "pipelined replies in order" \
	"$(grep -v '^250-' "$T_TMP/out" | sed -n '2,6p' | cut -c1-3 | tr '\n' ' ')" "250 250 250 250 250 "

# A message over the size limit: read to the end, then refused; nothing queued.
$PY - 127.0.0.1 $PORT >"$T_TMP/out" <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
f = s.makefile("rb")
def rd():
    while True:
        l = f.readline().decode().rstrip("\r\n"); print(l)
        if len(l) < 4 or l[3] != "-": return l
rd()
for c in ["EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"]:
    s.sendall((c + "\r\n").encode()); rd()
s.sendall(b"Subject: big\r\n\r\n" + (b"x" * 78 + b"\r\n") * 60 + b".\r\n"); rd()
s.sendall(b"QUIT\r\n"); rd()
PYEOF
expect_eq "oversized message: 552 at the end" "$(grep -c '^552 5.3.4 Message size exceeds fixed limit' "$T_TMP/out")" 1
expect_eq "oversized message: nothing queued" "$(find "$Q/msg" -type f | wc -l)" 0

# An over-long command line: 500 and the session ends.
printf '!RAW b"EHLO %s\\r\\n"\n' "$(head -c 3000 /dev/zero | tr '\0' a)" | talk >"$T_TMP/out"
expect_eq "over-long line" "$(nth 2)" "500 5.5.2 Line too long"
expect_eq "over-long line: closed" "$(nth 3)" "(closed)"

# A NUL byte in a command.
printf '!RAW b"NOOP\\x00x\\r\\n"\nQUIT\n' | talk >"$T_TMP/out"
expect_eq "NUL in command" "$(nth 2)" "500 5.5.2 NUL in command"

# Unknown commands are errors: at smtpd_hard_error_limit (20) the server
# hangs up (smtpd_abuse.sh tests the other errors and the soft limit).
{ i=0; while [ $i -lt 20 ]; do echo "FROB $i"; i=$((i + 1)); done; } | talk >"$T_TMP/out"
expect_eq "too many errors: 20 errors" "$(grep -c '^500 5.5.2 Command not recognized' "$T_TMP/out")" 20
expect_eq "too many errors: 421" "$(grep -c '^421 4.7.0 relay.test Error: too many errors' "$T_TMP/out")" 1
expect_eq "too many errors: closed" "$(tail -n 1 "$T_TMP/out")" "(closed)"

# The session limit (3): a fourth client waits in the listen queue (no
# 421, no busy loop) and is served as soon as a session ends.
HOLDERS=""
for n in 1 2 3; do
	printf '!SLEEP 2\nQUIT\n' | talk >"$T_TMP/hold$n" &
	HOLDERS="$HOLDERS $!"
done
wait_for 10 sh -c "cat '$T_TMP'/hold? | grep -c '^220 ' | grep -qx 3" || fail "holders not served"
printf 'QUIT\n' | talk >"$T_TMP/out" 2>/dev/null &
FOURTH=$!
sleep 1
expect_eq "session limit: the fourth waits" "$(cat "$T_TMP/out")" ""
# shellcheck disable=SC2086
wait $HOLDERS $FOURTH
expect_eq "the first three were served" "$(cat "$T_TMP/hold1" "$T_TMP/hold2" "$T_TMP/hold3" | grep -c '^220 ')" 3
expect_eq "session limit: then the fourth" "$(nth 1)" "220 relay.test ESMTP danemx"
expect_eq "session limit: logged once" \
	"$(grep -c 'smtpd: 3 sessions (max_sessions): new clients wait in the listen queue' "$T_TMP/log")" 1
done_ok
