#!/bin/sh
# tlsrpt_record.sh - TLS reporting (RFC 8460) by the relay, against the
# world's real servers: with tlsrpt = yes and a TLS-RPT clock fixed on
# 2026-03-01 (DANEMX_TLSRPT_CLOCK), one message each to the world's cases
# (DANE ok, DANE mismatch, bogus TLSA, bogus address, bogus MX, STARTTLS
# missing, STARTTLS refused, MTA-STS enforce ok, an MX the policy does not
# list, a certificate with the wrong name, a testing policy, no policy);
# then `danemx tlsrpt show` of each domain gives exactly the expected
# sessions and failure details (the JSON parsed by python3; the HELO names
# as the servers' own greetings say), every report validates against the
# JSON Schema of RFC 8460 4.4 (tests/tlsrpt_validate.py), and `danemx
# tlsrpt list` shows each day. The day boundary: with the clock started at
# 23:59:52, a message delivered at once counts on that day, one delivered
# after midnight on the next.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

Q=$T_TMP/queue
STATE=$T_TMP/state
RELAY=$((2000 + ($$ % 1000)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
VALIDATE="$DANEMX_SRCDIR/tests/tlsrpt_validate.py"
DAY=2026-03-01
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

serve() {	# serve CLOCK: the relay, reporting, its TLS-RPT clock at CLOCK
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	DANEMX_TLSRPT_CLOCK=$1 "$DANEMX" -R "$CONF" serve --foreground \
	    -o listen=127.0.0.1:$RELAY -o queue_dir="$Q" -o state_dir="$STATE" \
	    -o user= -o pid_file="$T_TMP/pid" -o helo_name=relay.test \
	    -o ca_file="$WORLD_CA" -o retry_min=1h -o retry_max=2h \
	    -o tlsrpt=yes -o "organization_name=danemx tests" \
	    -o contact_info=tlsrpt@relay.test >>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {	# stop: SIGTERM; the store writes what it holds
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
}
send() {	# send CASE DOMAIN: one message; its recipient in R
	R=$(rcpt "$1" "$2")
	/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$R" 1 "$1" \
	    >"$T_TMP/inj.$1"
	grep -q '^ok ' "$T_TMP/inj.$1" || fail "$1: not acknowledged"
	echo "$R" >>"$T_TMP/rcpts"
}
settled() {	# settled: every message sent has a status line
	while read -r r; do
		grep -Eq "to=<$r>.*status=(sent|deferred)" "$T_TMP/relay.log" ||
			return 1
	done <"$T_TMP/rcpts"
}
tlsrpt() {	# tlsrpt ARGS...: danemx tlsrpt with the relay's settings
	run_cmd "$DANEMX" tlsrpt -o user= -o state_dir="$STATE" \
	    -o helo_name=relay.test -o "organization_name=danemx tests" \
	    -o contact_info=tlsrpt@relay.test "$@"
}
# banner IP: the first word of the greeting of the server at IP:25
banner() {
	/usr/bin/python3 -c 'import socket,sys
s = socket.create_connection((sys.argv[1], 25), timeout=10)
print(s.recv(512).decode().split()[1].lower())' "$1"
}

# summary: the report on OUT as one line per policy and per failure
cat >"$T_TMP/summary.py" <<'EOF'
import json, sys
r = json.load(sys.stdin)
for p in r["policies"]:
    q = p["policy"]
    print("P %s %s ok=%d failed=%d strings=%s mx=%s" % (q["policy-type"],
        q["policy-domain"], p["summary"]["total-successful-session-count"],
        p["summary"]["total-failure-session-count"],
        "|".join(q.get("policy-string", [])), "|".join(q.get("mx-host", []))))
    for d in p.get("failure-details", []):
        print("F %s sip=%s rip=%s mx=%s helo=%s n=%d reason=%s" % (
            d["result-type"], d.get("sending-mta-ip", ""),
            d.get("receiving-ip", ""), d.get("receiving-mx-hostname", ""),
            d.get("receiving-mx-helo", ""), d["failed-session-count"],
            d.get("failure-reason-code", "")))
EOF
NREPORT=0
# report DOMAIN [DAY]: its report, checked by the schema; summary in SUM
report() {
	tlsrpt show --day "${2:-$DAY}" "$1"
	[ "$RC" = 0 ] || fail "show $1: exit $RC: $ERR"
	NREPORT=$((NREPORT + 1))
	printf '%s\n' "$OUT" >"$T_TMP/report.$NREPORT.json"
	v=$(/usr/bin/python3 "$VALIDATE" "$T_TMP/report.$NREPORT.json")
	expect_match "$1: the schema of RFC 8460 4.4" "$v" "^ok "
	SUM=$(printf '%s\n' "$OUT" | /usr/bin/python3 "$T_TMP/summary.py")
}

EE=$(echo "$EE_311" | tr a-f A-F)
MXSTS='version: STSv1|mode: enforce|mx: *.mx.sts.test|max_age: 86400'
H=$(banner "$NET.17")
[ -n "$H" ] || fail "no greeting from $NET.17"
HFAULT=$(banner "$NET.28")

# 1. A day of deliveries across the world's cases, at noon.
serve 2026-03-01T12:00:00Z
send ee dane-ee.test
send mismatch dane-mismatch.test
send tlsabogus tlsa-bogus.test
send addrbogus addr-bogus.test
send mxbogus mx-bogus.test
send nostarttls no-starttls.test
send refused tls-refused.test
send sts deliver.sts.test
send skip skip.sts.test
send badcert badcert.sts.test
send testing testbad.sts.test
send none no-tlsa.test
wait_for 60 settled || fail "not all settled: $(tail -20 "$T_TMP/relay.log")"
stop

report dane-ee.test
expect_eq "DANE ok" "$SUM" "P tlsa mx.dane-ee.test ok=1 failed=0 strings=3 1 1 $EE mx="

report dane-mismatch.test
expect_eq "DANE mismatch: mx1 fails, mx2 delivers" "$SUM" \
"P tlsa mx1.dane-mismatch.test ok=0 failed=1 strings=3 1 1 $EE mx=
F tlsa-invalid sip=127.0.0.1 rip=$NET.17 mx=mx1.dane-mismatch.test helo=$H n=1 reason=X509_V_ERR_DANE_NO_MATCH
P tlsa mx2.dane-mismatch.test ok=1 failed=0 strings=3 1 1 $EE mx="

report tlsa-bogus.test
expect_match "bogus TLSA: why_bogus" "$SUM" \
	"F dnssec-invalid sip= rip= mx=mx1\.tlsa-bogus\.test helo= n=1 reason=validation failure <_25\._tcp\.mx1\.tlsa-bogus\.test\. TLSA IN>: .+"
expect_eq "bogus TLSA: mx1 not contacted, mx2 delivers" \
	"$(printf '%s\n' "$SUM" | sed 's/ reason=.*/ reason=.../')" \
"P tlsa mx1.tlsa-bogus.test ok=0 failed=1 strings= mx=
F dnssec-invalid sip= rip= mx=mx1.tlsa-bogus.test helo= n=1 reason=...
P tlsa mx2.tlsa-bogus.test ok=1 failed=0 strings=3 1 1 $EE mx="

report addr-bogus.test
expect_eq "bogus address: mx1 passed over, mx2 delivers" \
	"$(printf '%s\n' "$SUM" | sed 's/ reason=.*/ reason=.../')" \
"P tlsa mx1.addr-bogus.test ok=0 failed=1 strings= mx=
F dnssec-invalid sip= rip= mx=mx1.addr-bogus.test helo= n=1 reason=...
P tlsa mx2.addr-bogus.test ok=1 failed=0 strings=3 1 1 $EE mx="
expect_match "bogus address: why_bogus" "$SUM" \
	"reason=validation failure <mx1\.addr-bogus\.test\. A IN>: .+"

report mx-bogus.test
expect_eq "bogus MX: one failure, nobody contacted" \
	"$(printf '%s\n' "$SUM" | sed 's/ reason=.*/ reason=.../')" \
"P tlsa mx-bogus.test ok=0 failed=1 strings= mx=
F dnssec-invalid sip= rip= mx= helo= n=1 reason=..."
expect_match "bogus MX: why_bogus" "$SUM" \
	"reason=validation failure <mx-bogus\.test\. MX IN>: .+"

report no-starttls.test
expect_eq "STARTTLS not offered" "$SUM" \
"P tlsa mx.no-starttls.test ok=0 failed=1 strings=3 1 1 $EE mx=
F starttls-not-supported sip=127.0.0.1 rip=$NET.16 mx=mx.no-starttls.test helo=$(banner "$NET.16") n=1 reason=STARTTLS not offered"

report tls-refused.test
expect_match "STARTTLS refused" "$SUM" \
	"^F starttls-not-supported sip=127\.0\.0\.1 rip=$NET\.28 mx=mx\.tls-refused\.test helo=$HFAULT n=1 reason=STARTTLS refused: 454 "

report deliver.sts.test
expect_eq "MTA-STS enforce ok" "$SUM" \
	"P sts deliver.sts.test ok=1 failed=0 strings=$MXSTS mx=*.mx.sts.test"

report skip.sts.test
expect_eq "MTA-STS: an MX the policy does not list" \
	"$(printf '%s\n' "$SUM" | sed 's/ reason=.*/ reason=.../')" \
"P sts skip.sts.test ok=1 failed=1 strings=$MXSTS mx=*.mx.sts.test
F validation-failure sip= rip= mx=notlisted.skip.sts.test helo= n=1 reason=..."
expect_match "MTA-STS unlisted: why" "$SUM" \
	"reason=MTA-STS: notlisted\.skip\.sts\.test matches no pattern of the enforce policy id=sk1 for skip\.sts\.test"

report badcert.sts.test
expect_eq "MTA-STS: the certificate names another host" "$SUM" \
"P sts badcert.sts.test ok=0 failed=1 strings=$MXSTS mx=*.mx.sts.test
F sts-webpki-invalid sip=127.0.0.1 rip=$NET.12 mx=wrong.mx.sts.test helo=$(banner "$NET.12") n=1 reason=X509_V_ERR_HOSTNAME_MISMATCH"

report testbad.sts.test
expect_eq "MTA-STS testing: delivered, the would-be failure reported" "$SUM" \
"P sts testbad.sts.test ok=0 failed=1 strings=version: STSv1|mode: testing|mx: *.mx.sts.test|max_age: 86400 mx=*.mx.sts.test
F sts-webpki-invalid sip=127.0.0.1 rip=$NET.12 mx=wrong.mx.sts.test helo=$(banner "$NET.12") n=1 reason=X509_V_ERR_HOSTNAME_MISMATCH"
expect_match "MTA-STS testing: delivered" "$(cat "$T_TMP/relay.log")" \
	"to=<$(rcpt testing testbad.sts.test)>.*status=sent"

report no-tlsa.test
expect_eq "no policy" "$SUM" "P no-policy-found no-tlsa.test ok=1 failed=0 strings= mx="

tlsrpt list
expect_eq "list: exit" "$RC" 0
expect_match "list: a day with failures, not yet reported" "$OUT" \
	"dane-mismatch\.test +2026-03-01 +1 +1 pending +-"
expect_match "list: a day without" "$OUT" "dane-ee\.test +2026-03-01 +1 +0 pending +-"
tlsrpt show --day 2026-02-28 dane-ee.test
expect_eq "show of a day without results: exit" "$RC" 1

# 2. The day boundary: 23:59:52, a message at once; another after midnight.
serve 2026-03-02T23:59:52Z
t0=$(date +%s)
send before dane-ee.test
wait_for 7 grep -q "to=<$R>.*status=sent" "$T_TMP/relay.log" ||
	fail "not sent before midnight: $(tail -5 "$T_TMP/relay.log")"
wait_for 15 sh -c "[ \$(date +%s) -ge $((t0 + 9)) ]"
send after dane-ee.test
wait_for 30 grep -q "to=<$R>.*status=sent" "$T_TMP/relay.log" ||
	fail "not sent after midnight: $(tail -5 "$T_TMP/relay.log")"
stop
report dane-ee.test 2026-03-02
expect_eq "23:59:5x: that day" "$SUM" "P tlsa mx.dane-ee.test ok=1 failed=0 strings=3 1 1 $EE mx="
report dane-ee.test 2026-03-03
expect_eq "after midnight: the next day" "$SUM" "P tlsa mx.dane-ee.test ok=1 failed=0 strings=3 1 1 $EE mx="
report dane-ee.test
expect_eq "the first day unchanged" "$SUM" "P tlsa mx.dane-ee.test ok=1 failed=0 strings=3 1 1 $EE mx="
done_ok
