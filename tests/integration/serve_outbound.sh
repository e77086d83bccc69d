#!/bin/sh
# serve_outbound.sh - the relay's outbound hardening, end to end:
#  - a port in a recipient's address literal ("u@[127.0.0.1]:PORT") is
#    refused at RCPT (501) and by danemx sendmail (65), and a queue file
#    that holds one anyway is bounced (5.1.3) without a connection to it;
#  - mail that would come back to the relay itself (a literal of one of
#    its listen addresses, a relayhost that is the relay, a wildcard
#    listener's loopback address) bounces "loops back to myself" (5.4.6);
#  - a remote server's ESC sequences, controls and 8-bit octets (in its
#    replies, its EHLO keywords, its certificate's subject) reach neither
#    the log nor the DSN: '?' each;
#  - TLS floors: tls_min_version refuses a TLS 1.2 peer where TLS is
#    mandatory (encrypt) but not where it is opportunistic (may), and
#    smtpd_tls_min_version refuses an inbound TLS 1.2 client.
# No DNS: every next hop is an address literal.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" -days 30 \
	-subj /CN=sink.test 2>/dev/null || fail "openssl req"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T_TMP/pid" ] && kill -9 "$(cat "$T_TMP/pid")" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

BASE=$((5500 + ($$ % 100) * 5))
SINK=$((BASE + 1)); BADPORT=$((BASE + 2)); RELAY=$((BASE + 3))
SELF=127.0.72.1		# the relay listens here on port 25 too
TLS12=127.0.73		# .1 and .2: sinks that speak TLS 1.2 at most
Q="$T_TMP/queue"

sink() {	# sink NAME MODE [faultsmtpd options...]
	name=$1 mode=$2
	shift 2
	mkdir -p "$T_TMP/$name"
	$PY "$SRV" --mode "$mode" --cert "$T_TMP/cert.pem" --key "$T_TMP/key.pem" \
		--log "$T_TMP/$name.log" --data "$T_TMP/$name" \
		--connlog "$T_TMP/$name.conn" "$@" >"$T_TMP/$name.out" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 10 grep -q ready "$T_TMP/$name.out" || fail "sink $name did not start"
	: >>"$T_TMP/$name.conn"
}
serve() {	# serve [-o ...]
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o queue_dir="$Q" -o user= \
		-o pid_file="$T_TMP/pid" -o helo_name=relay.test \
		-o retry_min=1s -o retry_max=2s "$@" >>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(tail -5 "$T_TMP/relay.log")"
}
stop() {
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	rc=0
	wait "$pid" || rc=$?
	expect_eq "relay stopped cleanly (exit status)" "$rc" 0
	rm -f "$T_TMP/pid"
}
# smtp FROM RCPT...: one message over SMTP; prints each RCPT's code, then
# the DATA result ("sent" or "none")
smtp() {
	$PY - "$RELAY" "$@" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.test")
s.mail(sys.argv[2])
ok = 0
for r in sys.argv[3:]:
    code, text = s.rcpt(r)
    print(code, text.decode().split(" ")[0])
    ok += code == 250
if ok:
    s.data(b"Subject: outbound\r\nFrom: <a@x.test>\r\n\r\nhello\r\n")
    print("sent")
else:
    print("none")
s.quit()
PYEOF
}
log() { cat "$T_TMP/relay.log"; }

# 1. A port in a recipient's address literal.
sink bad ok --listen 127.0.0.1:$BADPORT
serve -o listen=127.0.0.1:$RELAY -o listen=$SELF:25
expect_eq "RCPT with a port: refused" "$(smtp a@x.test "u@[127.0.0.1]:$BADPORT")" \
	"501 5.1.3
none"
expect_eq "MAIL FROM with a port: refused" "$($PY - "$RELAY" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.test")
print(s.mail("a@[127.0.0.1]:25")[0])
PYEOF
)" 501
run_cmd "$DANEMX" sendmail -o user= -o queue_dir="$Q" -f a@x.test "u@[127.0.0.1]:$BADPORT" </dev/null
expect_eq "sendmail with a port: exit" "$RC" 65
expect_match "sendmail with a port: says why" "$ERR" "bad recipient 'u@\[127\.0\.0\.1\]:$BADPORT'"
run_cmd sh -c "printf 'To: <u@[127.0.0.1]:$BADPORT>\n\nx\n' | '$DANEMX' sendmail -t -o user= -o queue_dir='$Q' -f a@x.test"
expect_eq "sendmail -t with a port: exit" "$RC" 65
run_cmd "$DANEMX" send --from a@x.test --to "u@[127.0.0.1]:$BADPORT" </dev/null
expect_eq "send with a port: usage error" "$RC" 64
expect_match "send with a port: says where the port goes" "$ERR" "a port goes in --nexthop"

# ... and a queue file that holds one anyway (an older danemx, or a
# file made by hand) is bounced, never delivered to that port.
stop
id=$("$DANEMX" sendmail -o user= -o queue_dir="$Q" -f '' "u@[127.0.0.1]" </dev/null | tail -n 1)
$PY - "$Q/msg/$id" "$BADPORT" <<'PYEOF' || fail "cannot rewrite the queue file"
import sys
path, port = sys.argv[1], sys.argv[2]
d = open(path, "rb").read()
off, ln = int(d[-34:-18], 16), int(d[-17:-1], 16)
env = d[off:off + ln].replace(b"<u@[127.0.0.1]>", b"<u@[127.0.0.1]:%s>" % port.encode())
assert env != d[off:off + ln]
open(path, "wb").write(d[:off] + env + b"\n#DMXENV %016x %016x\n" % (off, len(env)))
PYEOF
serve -o listen=127.0.0.1:$RELAY -o listen=$SELF:25
wait_for 10 grep -q "to=<u@\[127.0.0.1\]:$BADPORT>.*status=bounced" "$T_TMP/relay.log" ||
	fail "port literal in the queue not bounced: $(tail -5 "$T_TMP/relay.log")"
expect_match "queued port literal: bounced, 5.1.3" "$(log)" \
	"$id: to=<u@\[127\.0\.0\.1\]:$BADPORT>, relay=none, delay=[0-9]+s, status=bounced \(5\.1\.3 bad recipient address syntax: a port is allowed only in relayhost and the policy table, not in an address\)"
expect_eq "queued port literal: no connection to the port" "$(wc -l <"$T_TMP/bad.conn")" 0

# 2. Loops: a literal of one of our own listen addresses.
expect_eq "literal of our address: accepted" "$(smtp '' "u@[$SELF]")" "250 2.1.5
sent"
wait_for 10 grep -q "to=<u@\[$SELF\]>.*status=bounced" "$T_TMP/relay.log" ||
	fail "loop not bounced: $(tail -5 "$T_TMP/relay.log")"
expect_match "literal of our address: loops back" "$(log)" \
	"to=<u@\[$SELF\]>, relay=none, .*status=bounced \(5\.4\.6 mail for \[$SELF\] loops back to myself\)"
expect_match "literal of our address: the log says why" "$(log)" \
	"$SELF\[$SELF\]:25 is this relay: the mail loops back to itself"
expect_eq "literal of our address: never connected to itself" \
	"$(grep -c "Connecting to \[$SELF\]" "$T_TMP/relay.log")" 0
stop

# A relayhost that is the relay itself, on a wildcard listener: the
# loopback network reaches it at any of its addresses.
serve -o listen=0.0.0.0:$RELAY -o "relayhost=[127.0.0.9]:$RELAY"
expect_eq "relayhost that is us: accepted" "$(smtp a@x.test b@y.test)" "250 2.1.5
sent"
wait_for 10 grep -q "to=<b@y.test>.*status=bounced" "$T_TMP/relay.log" ||
	fail "relayhost loop not bounced: $(tail -5 "$T_TMP/relay.log")"
expect_match "relayhost that is us: loops back" "$(log)" \
	"to=<b@y.test>, .*status=bounced \(5\.4\.6 mail for \[127\.0\.0\.9\]:$RELAY loops back to myself\)"
wait_for 10 grep -q "bounce not returned: the sender is the null sender" "$T_TMP/relay.log" ||
	fail "the bounce's bounce: $(tail -5 "$T_TMP/relay.log")"
pass
expect_eq "relayhost that is us: never connected to itself" \
	"$(grep -c "Connecting to \[127.0.0.9\]" "$T_TMP/relay.log")" 0
stop

# 3. A server's reply text with ESC, VT, FF, DEL and 8-bit octets, and
# a certificate whose subject is UTF-8 with an ESC (the log names it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
	-keyout "$T_TMP/evil.key" -out "$T_TMP/evil.pem" -days 30 \
	-subj "/CN=$(printf 'caf\303\251\033[2J.test')" 2>/dev/null || fail "openssl req (evil)"
sink evil evil-text --listen 127.0.0.1:$SINK --cert "$T_TMP/evil.pem" --key "$T_TMP/evil.key"
: >"$T_TMP/relay.log"
serve -o listen=127.0.0.1:$RELAY -o "relayhost=[127.0.0.1]:$SINK"
expect_eq "evil: accepted" "$(smtp a@x.test good@y.test bad@y.test)" "250 2.1.5
250 2.1.5
sent"
wait_for 20 grep -q '^MAIL <> <a@x.test>' "$T_TMP/evil.log" ||
	fail "no DSN: $(tail -5 "$T_TMP/relay.log")"
expect_match "evil: the certificate's subject" "$(log)" \
	"X\.509: depth 0 subject CN=caf\?\?\\\\1B\[2J\.test"
expect_match "evil: the log line" "$(log)" \
	"to=<bad@y.test>, .*status=bounced \(550 5\.1\.1 \?\[31mred\?\[0m\?\? caf\?\? \?\? end\)"
ctl=$(printf '[\001-\010\013-\037\177-\377]')
expect_eq "evil: no control or 8-bit octet in the log" "$(LC_ALL=C grep -c "$ctl" "$T_TMP/relay.log")" 0
dsn=$(grep -l '^Final-Recipient: rfc822; bad@y.test' "$T_TMP"/evil/msg-[0-9]* | head -n 1)
[ -n "$dsn" ] || fail "no DSN among the sink's messages"
expect_eq "evil: the DSN's diagnostic" "$(grep -a '^Diagnostic-Code' "$dsn" | tr -d '\r')" \
	"Diagnostic-Code: smtp; 550 5.1.1 ?[31mred?[0m?? caf?? ?? end"
expect_eq "evil: no control or 8-bit octet in the DSN" \
	"$(LC_ALL=C tr -d '\r\n\t' <"$dsn" | LC_ALL=C grep -c "$ctl")" 0
stop

# 4. TLS floors. Outbound, tls_min_version = TLSv1.3: the TLS 1.2 sink at
# [$TLS12.1] (encrypt, mandatory) is refused, the one at [$TLS12.2] (may,
# opportunistic: its floor stays TLSv1) is delivered to over TLS 1.2.
sink tls12 ok --tls-max 1.2 --listen $TLS12.1:25 --listen $TLS12.2:25
printf '[%s.1] encrypt\n[%s.2] may\n' $TLS12 $TLS12 >"$T_TMP/policy"
: >"$T_TMP/relay.log"
serve -o listen=127.0.0.1:$RELAY -o policy_file="$T_TMP/policy" \
	-o tls_min_version=TLSv1.3 -o retry_min=1h -o retry_max=2h
expect_eq "floor: accepted" "$(smtp a@x.test "u@[$TLS12.1]" "u@[$TLS12.2]")" "250 2.1.5
250 2.1.5
sent"
wait_for 20 sh -c "grep -q 'to=<u@\[$TLS12.1\]>.*status=deferred' '$T_TMP/relay.log' &&
	grep -q 'to=<u@\[$TLS12.2\]>.*status=sent' '$T_TMP/relay.log'" ||
	fail "floor: $(tail -8 "$T_TMP/relay.log")"
pass
expect_match "floor: encrypt refuses TLS 1.2" "$(log)" \
	"to=<u@\[$TLS12\.1\]>, .*tls=none, .*status=deferred \(TLS handshake failed: .*protocol version\)"
expect_match "floor: may takes TLS 1.2" "$(log)" \
	"Connection is now using TLSv1\.2 with cipher .* \(opportunistic\)"
expect_eq "floor: the sink got one message, over TLS" "$(cut -d' ' -f3,5 "$T_TMP/tls12.log")" \
	"<u@[$TLS12.2]> tls"
stop

# Inbound, smtpd_tls_min_version = TLSv1.3: a TLS 1.2 client fails its
# handshake, a TLS 1.3 one succeeds.
serve -o listen=127.0.0.1:$RELAY -o tls_cert_file="$T_TMP/cert.pem" \
	-o tls_key_file="$T_TMP/key.pem" -o smtpd_tls_min_version=TLSv1.3
starttls() {	# starttls -tls1_2|-tls1_3: the protocol, or "failed"
	echo QUIT | timeout 10 openssl s_client -starttls smtp -brief \
		-connect 127.0.0.1:$RELAY "$1" >"$T_TMP/sc.out" 2>&1 &&
		sed -n 's/^Protocol version: //p' "$T_TMP/sc.out" || echo failed
}
expect_eq "inbound floor: TLS 1.2 refused" "$(starttls -tls1_2)" failed
expect_eq "inbound floor: TLS 1.3 taken" "$(starttls -tls1_3)" TLSv1.3
stop

done_ok
