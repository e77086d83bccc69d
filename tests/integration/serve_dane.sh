#!/bin/sh
# serve_dane.sh - the relay against the world's DANE MX hosts: mail for a
# DANE-verified domain arrives at the right Postfix MX with tls
# dane-verified (injected over SMTP and through danemx sendmail); a TLSA
# mismatch defers (never bounces, never falls back),
# holds the destination so a second message does not hammer the host, and
# both are delivered once the TLSA record is fixed and the queue flushed.
# A stream of messages to one DANE destination reuses the authenticated
# session, and each message's log line still carries the DANE verdict.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

Q="$T_TMP/queue"
RELAY=$((16000 + ($$ % 1000)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	printf '' | sh "$DANEMX_SRCDIR/tests/world/world.sh" set "$DANEMX_WORLD" \
	    secure.test - >/dev/null 2>&1
	rm -rf "$T_TMP"
}
trap cleanup EXIT

qjson() { "$DANEMX" queue -o user= -o queue_dir="$Q" --json list; }

# A destination whose only MX presents the "other" key: the TLSA says EE.
# TTL 1, so that the fixed record is seen as soon as it is served.
sh "$DANEMX_SRCDIR/tests/world/world.sh" set "$DANEMX_WORLD" secure.test - <<EOF2 ||
relayfix		1	MX	10 mxfix.relayfix
mxfix.relayfix		1	A	@MX_NET@.17
_25._tcp.mxfix.relayfix	1	TLSA	3 1 1 @TLSA_EE_311@
EOF2
	fail "world.sh set"

"$DANEMX" -R "$CONF" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
	-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
	-o helo_name=relay.test -o retry_min=1h -o retry_max=2h \
	-o dest_concurrency=1 >"$T_TMP/relay.log" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start: $(cat "$T_TMP/relay.log")"

# 1. DANE-verified delivery through the relay, to the right MX.
ok=$(rcpt relay-ok dane-ee.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$ok" 1 relay-ok >"$T_TMP/inj1"
expect_eq "dane-ee: acknowledged" "$(cut -d' ' -f1 "$T_TMP/inj1")" ok
wait_for 30 grep -q "to=<$ok>.*status=sent" "$T_TMP/relay.log" ||
	fail "not delivered: $(cat "$T_TMP/relay.log")"
expect_match "dane-ee: log line" "$(cat "$T_TMP/relay.log")" \
	"to=<$ok>, relay=mx\.dane-ee\.test\[$NET\.10\], tls=dane-verified, dane=validated successfully \(3 1 1 at depth 0\), delay=[0-9]+s, status=sent \(250 2\.0\.0 Ok"
expect_received "dane-ee: the MX got it" mx-ee "$ok"

# 1b. Four more in a row: they reuse the DANE-verified session.
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$ok" 4 relay-more >"$T_TMP/inj1b"
wait_for 30 sh -c "[ \$(grep -c 'to=<$ok>.*status=sent' '$T_TMP/relay.log') -ge 5 ]" ||
	fail "not all delivered: $(tail -20 "$T_TMP/relay.log")"
expect_eq "reuse: five sent, each with the DANE verdict" \
	"$(grep -c "to=<$ok>, relay=mx\.dane-ee\.test\[$NET\.10\], tls=dane-verified, dane=validated successfully (3 1 1 at depth 0), .*status=sent" "$T_TMP/relay.log")" 5
conns=$(grep -c "^Connecting to \[$NET\.10\]:25 (DNSSEC)" "$T_TMP/relay.log")
expect_eq "reuse: at most two connections for five messages" "$([ "$conns" -le 2 ] && echo yes)" yes
expect_eq "reuse: the rest went over the DANE-verified session" \
	"$(grep -c "^mx\.dane-ee\.test\[$NET\.10\]:25: reusing the connection (TLS dane-verified)" "$T_TMP/relay.log")" $((5 - conns))

# 1c. Through danemx sendmail: to the right MX, DANE-verified too.
viasm=$(rcpt relay-sm dane-ee.test)
printf 'Subject: via sendmail\n\nhello\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -f a@client.test "$viasm" >/dev/null
expect_eq "sendmail: exit" "$?" 0
wait_for 30 grep -q "to=<$viasm>.*status=sent" "$T_TMP/relay.log" ||
	fail "sendmail message not delivered: $(tail -5 "$T_TMP/relay.log")"
expect_match "sendmail: DANE-verified at the right MX" "$(cat "$T_TMP/relay.log")" \
	"to=<$viasm>, relay=mx\.dane-ee\.test\[$NET\.10\], tls=dane-verified, dane=validated successfully \(3 1 1 at depth 0\), .*status=sent"
expect_received "sendmail: the MX got it" mx-ee "$viasm"

# 2. A TLSA mismatch: deferred with the DANE reason, no bounce.
bad=$(rcpt relay-fix relayfix.secure.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$bad" 1 relay-fix >"$T_TMP/inj2"
wait_for 30 grep -q "to=<$bad>.*status=deferred" "$T_TMP/relay.log" ||
	fail "not deferred: $(cat "$T_TMP/relay.log")"
expect_match "mismatch: deferred with the DANE reason" "$(cat "$T_TMP/relay.log")" \
	"to=<$bad>, relay=mxfix\.relayfix\.secure\.test\[$NET\.17\], tls=none, dane=not authenticated: no matching DANE TLSA records \(X\.509 error 65\), .*status=deferred \(DANE: not authenticated: no matching DANE TLSA records \(X\.509 error 65\) \[tlsa-invalid\]\)"
expect_eq "mismatch: not bounced" "$(grep -c "to=<$bad>.*status=bounced" "$T_TMP/relay.log")" 0
expect_match "mismatch: destination held" "$(cat "$T_TMP/relay.log")" \
	"relayfix\.secure\.test: held until the next retry"

# 3. A second message to the held destination does not connect again.
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$bad" 1 relay-fix2 >"$T_TMP/inj3"
wait_for 15 sh -c "'$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq -e '[.[].recipients[].last | select(test(\"destination held\"))] | length == 1'" ||
	fail "second message not held: $(qjson)"
expect_eq "held: one connection to the failing MX only" \
	"$(grep -c "^Connecting to \[$NET\.17\]:25" "$T_TMP/relay.log")" 1

# 4. Fix the TLSA record, flush: both messages go, DANE-verified.
sh "$DANEMX_SRCDIR/tests/world/world.sh" set "$DANEMX_WORLD" secure.test - <<EOF2 ||
relayfix		1	MX	10 mxfix.relayfix
mxfix.relayfix		1	A	@MX_NET@.17
_25._tcp.mxfix.relayfix	1	TLSA	3 1 1 @TLSA_OTHER_311@
EOF2
	fail "world.sh set (fix)"
sleep 2		# the old records' TTL (1 s) runs out
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 40 sh -c "[ \$(grep -c 'to=<$bad>.*status=sent' '$T_TMP/relay.log') -ge 2 ]" ||
	fail "not delivered after the fix: $(tail -20 "$T_TMP/relay.log")"
expect_match "fixed: delivered DANE-verified" "$(cat "$T_TMP/relay.log")" \
	"to=<$bad>, relay=mxfix\.relayfix\.secure\.test\[$NET\.17\], tls=dane-verified, .*status=sent"
wait_for 20 sh -c "[ \$('$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq length) = 0 ]" ||
	fail "queue not empty: $(qjson)"
expect_eq "fixed: queue empty" "$(qjson | jq length)" 0
kill "$(cat "$T_TMP/pid")"
done_ok
