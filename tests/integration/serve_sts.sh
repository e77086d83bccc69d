#!/bin/sh
# serve_sts.sh - the relay under MTA-STS (RFC 8461), against the world's
# nginx policy hosts and Postfix MX hosts (sts.test, "the relay's cases"):
# 100 messages to an enforce domain go out sts-verified and the policy is
# fetched once; a restart keeps the policy (state_dir): no fetch; a TXT
# record that turns invalid does not remove the cached policy; with
# mta_sts = no, read again on SIGHUP, a domain whose policy would refuse
# its MX gets opportunistic TLS.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

Q=$T_TMP/queue
STATE=$T_TMP/state
RELAY=$((3000 + ($$ % 500)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
ALOG=$WORLD_HTTPS_ACCESS_LOG
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# fetches HOST: how many times nginx served HOST's policy
fetches() { grep -c "^$1 .*\"GET /.well-known/mta-sts.txt" "$ALOG"; }

serve() {	# serve [-o ...]: the relay, in the background
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o state_dir="$STATE" -o user= \
		-o pid_file="$T_TMP/pid" -o helo_name=relay.test \
		-o ca_file="$WORLD_CA" -o retry_min=1h -o retry_max=2h "$@" \
		>>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
}
sent() { grep -c "to=<$1>.*status=sent" "$T_TMP/relay.log"; }

# 1. 100 messages to an enforce domain: sts-verified, one fetch.
before=$(fetches mta-sts.relay.sts.test)
serve
r=$(rcpt many relay.sts.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r" 100 sts >"$T_TMP/inj"
expect_eq "100 acknowledged" "$(grep -c '^ok ' "$T_TMP/inj")" 100
wait_for 60 sh -c "[ \$(grep -c 'to=<$r>.*status=sent' '$T_TMP/relay.log') -ge 100 ]" ||
	fail "not all sent: $(grep -c "to=<$r>.*status=sent" "$T_TMP/relay.log") of 100; $(tail -5 "$T_TMP/relay.log")"
expect_eq "all 100 sts-verified at ok.mx.sts.test" \
	"$(grep -c "to=<$r>, relay=ok\.mx\.sts\.test\[$NET\.50\], tls=sts-verified, dane=none, .*status=sent" "$T_TMP/relay.log")" 100
expect_eq "the policy fetched once for 100 messages" \
	"$(( $(fetches mta-sts.relay.sts.test) - before ))" 1
expect_match "the log says which policy decided" "$(cat "$T_TMP/relay.log")" \
	"MX ok\.mx\.sts\.test \(preference 10\): TLS sts: MTA-STS: enforce policy id=rl1 for relay\.sts\.test: ok\.mx\.sts\.test matches \*\.mx\.sts\.test"
stop

# 2. A restart keeps the policy: no fetch, "cached".
before=$(fetches mta-sts.relay.sts.test)
serve
r2=$(rcpt restart relay.sts.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r2" 1 sts2 >/dev/null
wait_for 30 sh -c "[ \$(grep -c 'to=<$r2>.*status=sent' '$T_TMP/relay.log') -ge 1 ]" ||
	fail "not sent after the restart: $(tail -5 "$T_TMP/relay.log")"
expect_match "restart: sts-verified" "$(grep -F "to=<$r2>" "$T_TMP/relay.log")" "tls=sts-verified"
expect_eq "restart: no fetch" "$(( $(fetches mta-sts.relay.sts.test) - before ))" 0
expect_match "restart: from the cache" "$(cat "$T_TMP/relay.log")" \
	"MTA-STS: enforce policy id=rl1 for relay\.sts\.test \(cached\)"

# 3. The TXT record turns invalid (two v=STSv1 records): the cached
# policy still applies (RFC 8461 5.1). relayon's policy is cached first.
r3=$(rcpt on1 relayon.sts.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r3" 1 on1 >/dev/null
wait_for 30 sh -c "grep -q 'to=<$r3>.*status=sent' '$T_TMP/relay.log'" ||
	fail "relayon not sent: $(tail -5 "$T_TMP/relay.log")"
stop
sh "$WORLD_WORLD_SH" add "$DANEMX_WORLD" sts.test - >/dev/null <<EOF ||
_mta-sts.relayon	TXT	"v=STSv1; id=ro2"
EOF
	fail "world.sh add"
serve
r4=$(rcpt on2 relayon.sts.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r4" 1 on2 >/dev/null
wait_for 30 sh -c "grep -q 'to=<$r4>.*status=sent' '$T_TMP/relay.log'" ||
	fail "relayon not sent with a broken TXT: $(tail -5 "$T_TMP/relay.log")"
expect_match "broken TXT: the cached policy still applies" \
	"$(grep -F "to=<$r4>" "$T_TMP/relay.log")" "tls=sts-verified"

# 4. mta_sts = no, read again on SIGHUP: the wrong certificate is used
# (opportunistic TLS), where enforce deferred it.
stop
: >"$T_TMP/danemx.conf"
serve -c "$T_TMP/danemx.conf"
r5=$(rcpt bad badcert.sts.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r5" 1 bad >/dev/null
wait_for 30 sh -c "grep -q 'to=<$r5>.*status=deferred' '$T_TMP/relay.log'" ||
	fail "badcert not deferred: $(tail -5 "$T_TMP/relay.log")"
expect_match "enforce: deferred with the MTA-STS reason" \
	"$(grep -F "to=<$r5>" "$T_TMP/relay.log")" \
	"status=deferred \(MTA-STS: certificate verification failed: hostname mismatch \[sts-webpki-invalid\]\)"
printf 'mta_sts = no\n' >"$T_TMP/danemx.conf"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 10 grep -q "reload: configuration read again" "$T_TMP/relay.log" ||
	fail "no reload"
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 30 sh -c "grep -q 'to=<$r5>.*status=sent' '$T_TMP/relay.log'" ||
	fail "badcert not sent with mta_sts = no: $(tail -5 "$T_TMP/relay.log")"
expect_match "mta_sts = no: opportunistic" "$(grep -F "to=<$r5>" "$T_TMP/relay.log" | tail -1)" \
	"tls=opportunistic, .*status=sent"
stop
done_ok
