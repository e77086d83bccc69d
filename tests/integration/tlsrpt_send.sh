#!/bin/sh
# tlsrpt_send.sh - TLS reports (RFC 8460 section 5) sent by the relay to
# the world's tlsrpt.test domains (tests/world/CASES.md): a day of mail
# under an injected clock (DANEMX_TLSRPT_CLOCK), then the next day's
# pass: a DKIM-signed report mail reaches mx-keep over DANE and its gzip
# part is the report `danemx tlsrpt show` prints; nginx receives the
# https: reports (application/tlsrpt+gzip); 500 and 302 are retried until
# a 200; two TLSRPTv1 records, no record and a suppressed domain send
# nothing; a malformed rua is skipped with a log line; a clean day sends
# nothing; a restart sends nothing twice, nor does one that stops right
# after the claim.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

Q=$T_TMP/queue
STATE=$T_TMP/state
RELAY=$((6000 + ($$ % 500)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
CHECK="$DANEMX_SRCDIR/tests/servers/tlsrpt_check.py"
RLOG=$WORLD_RPT_LOG
PF=$WORLD_DIR/postfix
D1=2026-03-01
D2=2026-03-02
D3=2026-03-03
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	rm -f "$WORLD_RPT_DIR/rpt-flaky-ok" "$WORLD_RPT_DIR/rpt-redirect-ok"
	rm -rf "$T_TMP"
}
trap cleanup EXIT
cp "$WORLD_DKIM_KEY" "$T_TMP/dkim.key"

# the relay's settings for reports, also for danemx tlsrpt
cat >"$T_TMP/danemx.conf" <<EOF
queue_dir = $Q
state_dir = $STATE
user =
pid_file = $T_TMP/pid
helo_name = relay.tlsrpt.test
ca_file = $WORLD_CA
tlsrpt = yes
organization_name = danemx world
contact_info = postmaster@tlsrpt.test
dkim_domain = tlsrpt.test
dkim_selector = rpt
dkim_key_file = $T_TMP/dkim.key
tlsrpt_suppress = suppressed.tlsrpt.test
tlsrpt_delay = 0
tlsrpt_retry = 1s
EOF
OPTS="-c $T_TMP/danemx.conf"

serve() {	# serve CLOCK: the relay, in the background, at that time
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	# shellcheck disable=SC2086
	DANEMX_TLSRPT_CLOCK=$1 "$DANEMX" -R "$CONF" serve --foreground \
		-o listen=127.0.0.1:$RELAY $OPTS -o retry_min=1h \
		-o retry_max=2h >>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
}
tlsrpt() {	# tlsrpt CLOCK ARGS...: danemx tlsrpt; OUT (stdout), RC
	_clock=$1
	shift
	# shellcheck disable=SC2086
	OUT=$(DANEMX_TLSRPT_CLOCK=$_clock "$DANEMX" -R "$CONF" tlsrpt $OPTS "$@" \
		2>"$T_TMP/tlsrpt.err")
	RC=$?
}
# posts PATH STATUS: lines of the collector's log for that answer
posts() { grep -c "^collector\.tlsrpt\.test \"POST /rpt/$1 HTTP/1\.1\" $2 application/tlsrpt+gzip " "$RLOG"; }
# held RCPT: messages mx-keep holds for RCPT
held() { postqueue -c "$PF" -j | grep -c "\"address\": \"$1\""; }
held_id() { postqueue -c "$PF" -j | grep "\"address\": \"$1\"" | sed 's/.*"queue_id": "\([^"]*\)".*/\1/' | tail -1; }

# 1. Day 1: one message to each domain. Each goes to mx1 (TLSA
# mismatch: a failed session) and then mx2 (good), but clean's only host
# is good.
serve ${D1}T12:00:00Z
n=0
for d in mail web both flaky redirect two badrua none clean suppressed; do
	/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test \
		"$(rcpt r $d.tlsrpt.test)" 1 "$d" >/dev/null
	n=$((n + 1))
done
wait_for 60 sh -c "[ \$(grep -c 'status=sent' '$T_TMP/relay.log') -ge $n ]" ||
	fail "day 1 not all sent: $(tail -5 "$T_TMP/relay.log")"
expect_eq "day 1: no report before the day is over" \
	"$(grep 'TLS report' "$T_TMP/relay.log" | grep -v 'count days from')" ""
stop
before_ok=$(posts ok 200)
before_mail=$(held reports@rua.tlsrpt.test)
before_both=$(held both@rua.tlsrpt.test)

# 2. Day 2, just after midnight: the pass.
: >"$T_TMP/relay.log"
serve ${D2}T00:00:05Z
L=$T_TMP/relay.log
wait_for 30 grep -q "TLS report for two\.tlsrpt\.test ($D1): _smtp._tls.two.tlsrpt.test: .*more than one.*; not sent" "$L" ||
	fail "two records: $(grep 'TLS report' "$L")"
wait_for 30 grep -q "TLS report for none\.tlsrpt\.test ($D1): _smtp._tls.none.tlsrpt.test: .*no .*record.*; not sent" "$L" ||
	fail "no record: $(grep 'TLS report' "$L")"
expect_log_match_file() { grep -q "$2" "$L" || fail "$1: no line /$2/ in: $(grep 'TLS report' "$L")"; pass; }
expect_log_match_file "suppressed" \
	"TLS report for suppressed\.tlsrpt\.test ($D1): the domain is in tlsrpt_suppress; not sent"
expect_eq "clean: a day without failures sends nothing" \
	"$(grep -c 'TLS report.*clean\.tlsrpt\.test' "$L")" 0
expect_log_match_file "badrua: the malformed address is named" \
	"TLS report for badrua\.tlsrpt\.test ($D1): rua .*mailto:.*skipped"

# web, both, badrua: POSTed once each to /rpt/ok
wait_for 30 sh -c "[ \$(grep -c '\"POST /rpt/ok HTTP/1.1\" 200' '$RLOG') -ge $((before_ok + 3)) ]" ||
	fail "3 POSTs to /rpt/ok expected: $(cat "$RLOG")"
expect_eq "web, both, badrua: one POST each" "$(( $(posts ok 200) - before_ok ))" 3
body=$(grep "POST /rpt/ok HTTP/1.1\" 200" "$RLOG" | tail -3 | awk '{ print $NF }')
for f in $body; do
	/usr/bin/python3 "$CHECK" gzip-json "$f" "$DANEMX_SRCDIR/tests/vectors/tlsrpt-schema.json" \
		>"$T_TMP/posted.json" || fail "a POSTed body is no valid report: $(cat "$T_TMP/posted.json")"
	pass
done
tlsrpt ${D2}T00:00:06Z show web.tlsrpt.test --day $D1
expect_eq "show web: exit" "$RC" 0
printf '%s\n' "$OUT" >"$T_TMP/web.json"
for f in $body; do
	if /usr/bin/python3 "$CHECK" gzip-json "$f" - | grep -q '"web.tlsrpt.test"'; then
		/usr/bin/python3 "$CHECK" same-json "$f" "$T_TMP/web.json" ||
			fail "the POSTed web report is not what show prints"
		pass
	fi
done

# mail: the report mail is queued, goes out over DANE to mx-keep, and
# holds the report show prints, DKIM-signed
wait_for 30 sh -c "grep -q 'to=<reports@rua.tlsrpt.test>.*status=sent' '$L'" ||
	fail "the report mail was not delivered: $(grep -e 'TLS report' -e 'rua.tlsrpt' "$L")"
expect_match "report mail: over DANE" "$(grep -F 'to=<reports@rua.tlsrpt.test>' "$L")" \
	"relay=mx-keep\.tlsrpt\.test\[$NET\.52\], tls=dane-verified, .*status=sent"
wait_for 10 sh -c "[ \$(postqueue -c '$PF' -j | grep -c '\"address\": \"reports@rua.tlsrpt.test\"') -gt $before_mail ]" ||
	fail "mx-keep holds no report for reports@"
postcat -c "$PF" -bhq "$(held_id reports@rua.tlsrpt.test)" >"$T_TMP/mail.eml" 2>/dev/null ||
	fail "postcat"
tlsrpt ${D2}T00:00:06Z show mail.tlsrpt.test --day $D1
printf '%s\n' "$OUT" >"$T_TMP/mail.json"
/usr/bin/python3 "$CHECK" mail "$T_TMP/mail.eml" "$T_TMP/mail.json" \
	"$DANEMX_SRCDIR/tests/vectors/tlsrpt-schema.json" mail.tlsrpt.test \
	tlsrpt.test "$CONF" "$DANEMX" >"$T_TMP/check.out" 2>&1 ||
	fail "report mail: $(cat "$T_TMP/check.out")"
pass
expect_match "report mail: DKIM verified by python3-dkim" "$(cat "$T_TMP/check.out")" "dkim: pass"
wait_for 30 sh -c "grep -q 'to=<both@rua.tlsrpt.test>.*status=sent' '$L'" ||
	fail "both: no mail"
expect_eq "both: one mail" "$(( $(held both@rua.tlsrpt.test) - before_both ))" 1

# flaky (500) and redirect (302): retried, then 200 once the collector
# says so
wait_for 30 sh -c "[ \$(grep -c '\"POST /rpt/flaky HTTP/1.1\" 500' '$RLOG') -ge 2 ]" ||
	fail "flaky: no retry after 500: $(grep flaky "$RLOG")"
wait_for 30 sh -c "[ \$(grep -c '\"POST /rpt/redirect HTTP/1.1\" 302' '$RLOG') -ge 2 ]" ||
	fail "redirect: no retry after 302: $(grep redirect "$RLOG")"
expect_log_match_file "500: said and retried" \
	"TLS report .*: POST to https://collector\.tlsrpt\.test/rpt/flaky failed: .*500.*; trying again in [0-9]* s"
touch "$WORLD_RPT_DIR/rpt-flaky-ok" "$WORLD_RPT_DIR/rpt-redirect-ok"
wait_for 30 sh -c "[ \$(grep -c '\"POST /rpt/flaky HTTP/1.1\" 200' '$RLOG') -ge 1 ] && [ \$(grep -c '\"POST /rpt/redirect HTTP/1.1\" 200' '$RLOG') -ge 1 ]" ||
	fail "flaky/redirect: no 200: $(tail -5 "$RLOG")"
sleep 3
expect_eq "flaky: 200 is final" "$(posts flaky 200)" 1
expect_eq "redirect: 200 is final" "$(posts redirect 200)" 1
stop

# 3. A restart the same day sends nothing again.
n_ok=$(posts ok 200)
n_mail=$(held reports@rua.tlsrpt.test)
serve ${D2}T00:10:00Z
sleep 3
stop
expect_eq "restart: no POST again" "$(posts ok 200)" "$n_ok"
expect_eq "restart: no mail again" "$(held reports@rua.tlsrpt.test)" "$n_mail"
tlsrpt ${D2}T00:10:00Z list
expect_eq "list: exit" "$RC" 0
expect_match "list: mail sent" "$OUT" "mail\.tlsrpt\.test +$D1 .*sent"
expect_match "list: two skipped" "$OUT" "two\.tlsrpt\.test +$D1 .*skipped"

# 4. Day 2 mail to web; on day 3, `danemx tlsrpt send` stops right after
# the claim (the test aid for a crash there): the report is never sent
# twice, and its POST is made once, by whoever opens the store next.
serve ${D2}T12:00:00Z
r2=$(rcpt d2 web.tlsrpt.test)
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r2" 1 d2 >/dev/null
wait_for 30 sh -c "grep -q 'to=<$r2>.*status=sent' '$T_TMP/relay.log'" ||
	fail "day 2 not sent"
stop
n_ok=$(posts ok 200)
DANEMX_TLSRPT_STOP_AFTER_CLAIM=1 tlsrpt ${D3}T00:00:05Z send --day $D2
expect_eq "send, stopped after the claim: exit" "$RC" 75
expect_eq "stopped after the claim: no POST yet" "$(posts ok 200)" "$n_ok"
tlsrpt ${D3}T00:00:06Z send --day $D2
expect_eq "send again: nothing to claim" "$RC" 0
serve ${D3}T00:00:10Z
wait_for 30 sh -c "[ \$(grep -c '\"POST /rpt/ok HTTP/1.1\" 200' '$RLOG') -gt $n_ok ]" ||
	fail "the claimed report's POST was not resumed"
sleep 3
stop
expect_eq "claimed, restarted: posted exactly once" "$(( $(posts ok 200) - n_ok ))" 1
done_ok
