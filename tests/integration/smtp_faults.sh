#!/bin/sh
# smtp_faults.sh - the SMTP client against hostile and broken servers
# (tests/servers/faultsmtpd.py on loopback): each case asserts the
# outcome, the exit code and the reason a mail operator would read.
# Covers rules 15, 18, 32, 33 of docs/rfc7672-rules.md that need no DNS.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" -days 30 \
	-subj /CN=fault.test 2>/dev/null || fail "openssl req"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T_TMP"' EXIT

# A port for this test from the pid, away from the others' ranges.
BASEPORT=$((20000 + ($$ % 300) * 40))
N=0

# start MODE: start a server in MODE, set PORT and LOG
start() {
	N=$((N + 1))
	PORT=$((BASEPORT + N))
	LOG="$T_TMP/sink-$1.log"
	: >"$LOG"
	# emptied here, not by the background job's redirection: a second
	# server of the same mode must not be taken as ready by the first's
	# "ready"
	: >"$T_TMP/srv-$1.out"
	$PY "$SRV" --listen 127.0.0.1:$PORT --mode "$1" --cert "$T_TMP/cert.pem" \
		--key "$T_TMP/key.pem" --log "$LOG" >>"$T_TMP/srv-$1.out" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	until grep -q ready "$T_TMP/srv-$1.out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "server $1 did not start"
		sleep 0.1
	done
}

msg() { printf 'From: a@x.test\nSubject: t\n\nbody\n.leading dot\n'; }

# send_to MODE [danemx options...]: one delivery, sets RC OUT ERR
send_to() {
	mode=$1; shift
	start "$mode"
	msg >"$T_TMP/msg"
	run_cmd "$DANEMX" --timeout 5 send --from a@x.test --to rcpt@y.test \
		--nexthop "[127.0.0.1]:$PORT" --helo client.test "$@" <"$T_TMP/msg"
}

# A correct server: delivered over opportunistic TLS, dot-stuffed body.
send_to ok --json
expect_eq "ok: exit" "$RC" 0
expect_eq "ok: outcome" "$(echo "$OUT" | jq -r .outcome)" delivered
expect_eq "ok: tls" "$(echo "$OUT" | jq -r .tls)" opportunistic
expect_eq "ok: sink" "$(cut -d' ' -f3,5 "$LOG")" "<rcpt@y.test> tls"
expect_match "ok: log" "$ERR" "^Connection is now using TLSv1\.[23] with cipher .* \(opportunistic\)$"

# --source: the connection comes from the given local address.
send_to ok --source 127.0.0.9
expect_eq "source: exit" "$RC" 0
expect_eq "source: the sink saw it" "$(awk '{print $7}' "$LOG")" 127.0.0.9
run_cmd "$DANEMX" send --source not-an-ip --from a@x.test --to b@y.test </dev/null
expect_eq "source: bad address" "$RC" 64

# Rule 33: plaintext injected after the STARTTLS 220 is discarded, never
# read as the reply to the EHLO sent over TLS.
send_to inject --json
expect_eq "inject: exit" "$RC" 0
expect_eq "inject: tls" "$(echo "$OUT" | jq -r .tls)" opportunistic
expect_eq "inject: injected line never parsed" \
	"$(echo "$OUT" | jq -r '.attempts[0].transcript[]' | grep -c injected)" 0
expect_eq "inject: EHLO after TLS answered by the real server" \
	"$(echo "$OUT" | jq -r '.attempts[0].transcript[]' | grep -A1 '^C: EHLO' | tail -n 1)" \
	"S: 250-fault.test"

# Rule 18: opportunistic TLS may go cleartext when STARTTLS is missing.
send_to no-starttls --json
expect_eq "no-starttls may: exit" "$RC" 0
expect_eq "no-starttls may: tls" "$(echo "$OUT" | jq -r .tls)" none
expect_eq "no-starttls may: sink" "$(cut -d' ' -f5 "$LOG")" plain

send_to refuse-tls --json
expect_eq "refuse-tls may: exit" "$RC" 0
expect_eq "refuse-tls may: tls" "$(echo "$OUT" | jq -r .tls)" none

# Rule 18: a TLS handshake failure at an opportunistic host may be
# retried in cleartext, once, and says so.
send_to broken-tls --json
expect_eq "broken-tls may: exit" "$RC" 0
expect_eq "broken-tls may: attempts" "$(echo "$OUT" | jq '.attempts | length')" 2
expect_eq "broken-tls may: second is the plaintext retry" \
	"$(echo "$OUT" | jq -c '[.attempts[].plaintext_retry]')" "[false,true]"
expect_eq "broken-tls may: tls" "$(echo "$OUT" | jq -r .tls)" none
expect_match "broken-tls may: log" "$ERR" "TLS failed; retrying without TLS \(opportunistic\)"

# Rule 15: when TLS is demanded, a missing or refused STARTTLS fails the
# host and nothing is sent in cleartext.
start no-starttls
printf '[127.0.0.1]:%s encrypt\n' "$PORT" >"$T_TMP/policy"
msg | { "$DANEMX" --timeout 5 send --from a@x.test --to r@y.test \
	--nexthop "[127.0.0.1]:$PORT" --policy "$T_TMP/policy" --json \
	>"$T_TMP/out" 2>"$T_TMP/err"; echo $? >"$T_TMP/rc"; }
expect_eq "no-starttls encrypt: exit" "$(cat "$T_TMP/rc")" 75
expect_eq "no-starttls encrypt: result type" \
	"$(jq -r .result_type "$T_TMP/out")" starttls-not-supported
expect_eq "no-starttls encrypt: nothing sent" "$(wc -l <"$LOG")" 0
expect_match "no-starttls encrypt: reason" "$(cat "$T_TMP/err")" \
	"STARTTLS is required but the server does not offer it"

start broken-tls
printf '[127.0.0.1]:%s encrypt\n' "$PORT" >"$T_TMP/policy"
msg | { "$DANEMX" --timeout 5 send --from a@x.test --to r@y.test \
	--nexthop "[127.0.0.1]:$PORT" --policy "$T_TMP/policy" --json \
	>"$T_TMP/out" 2>"$T_TMP/err"; echo $? >"$T_TMP/rc"; }
expect_eq "broken-tls encrypt: exit" "$(cat "$T_TMP/rc")" 75
expect_eq "broken-tls encrypt: no cleartext retry" "$(jq '.attempts | length' "$T_TMP/out")" 1
expect_eq "broken-tls encrypt: nothing sent" "$(wc -l <"$LOG")" 0
expect_match "broken-tls encrypt: reason" "$(cat "$T_TMP/err")" "TLS handshake failed"

start refuse-tls
printf '[127.0.0.1]:%s encrypt\n' "$PORT" >"$T_TMP/policy"
msg | { "$DANEMX" --timeout 5 send --from a@x.test --to r@y.test \
	--nexthop "[127.0.0.1]:$PORT" --policy "$T_TMP/policy" \
	>"$T_TMP/out" 2>"$T_TMP/err"; echo $? >"$T_TMP/rc"; }
expect_eq "refuse-tls encrypt: exit" "$(cat "$T_TMP/rc")" 75
expect_eq "refuse-tls encrypt: nothing sent" "$(wc -l <"$LOG")" 0
expect_match "refuse-tls encrypt: reason" "$(cat "$T_TMP/err")" \
	"STARTTLS: server said 454"

# Broken servers end the session with a clear error and a deferral.
send_to garbage
expect_eq "garbage: exit" "$RC" 75
expect_match "garbage: reason" "$ERR" "protocol error during greeting: reply line (does not start with a valid code|holds NUL, CR or LF)"

send_to endless
expect_eq "endless line: exit" "$RC" 75
expect_match "endless line: reason" "$ERR" "reply line longer than 2048 octets"

send_to many-lines
expect_eq "endless reply: exit" "$RC" 75
expect_match "endless reply: reason" "$ERR" "reply has too many lines"

send_to slow --timeout 3
expect_eq "slow greeting: exit" "$RC" 75
expect_match "slow greeting: reason" "$ERR" "timeout during greeting"

send_to drop-data
expect_eq "drop mid-DATA: exit" "$RC" 75
expect_match "drop mid-DATA: reason" "$ERR" "lost connection during end of data"
expect_eq "drop mid-DATA: nothing delivered" "$(wc -l <"$LOG")" 0

send_to greet-554
expect_eq "554 greeting: exit" "$RC" 75
expect_match "554 greeting: reason" "$ERR" "greeting: server said 554 5.7.1 go away"

# EHLO refused with 5xx: HELO, and (no STARTTLS then) cleartext.
send_to ehlo-5xx --json
expect_eq "ehlo 5xx: exit" "$RC" 0
expect_eq "ehlo 5xx: HELO sent" \
	"$(echo "$OUT" | jq -r '.attempts[0].transcript[]' | grep -c '^C: HELO client.test')" 1

# Recipient probe: per-recipient replies and sysexits.
start rcpt-5xx
run_cmd "$DANEMX" probe --from a@x.test --rcpt good@y.test --rcpt bad@y.test \
	--nexthop "[127.0.0.1]:$PORT" --json
expect_eq "probe 5xx: exit" "$RC" 67
expect_eq "probe 5xx: codes" "$(echo "$OUT" | jq -c '[.rcpt[].code]')" "[250,550]"
expect_eq "probe 5xx: enhanced" "$(echo "$OUT" | jq -r '.rcpt[1].enhanced')" 5.1.1
expect_eq "probe 5xx: nothing delivered" "$(wc -l <"$LOG")" 0
expect_eq "probe 5xx: no DATA" \
	"$(echo "$OUT" | jq -r '.attempts[0].transcript[]' | grep -c '^C: DATA')" 0

start rcpt-4xx
run_cmd "$DANEMX" probe --from a@x.test --rcpt a@y.test \
	--nexthop "[127.0.0.1]:$PORT"
expect_eq "probe 4xx: exit" "$RC" 75

# Nothing listening: connection refused is a deferral.
run_cmd "$DANEMX" --timeout 3 send --from a@x.test --to r@y.test \
	--nexthop "[127.0.0.1]:1" </dev/null
expect_eq "refused: exit" "$RC" 75
expect_match "refused: reason" "$ERR" "cannot connect: Connection refused"

done_ok
