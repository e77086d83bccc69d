#!/bin/sh
# serve_reuse.sh - connection reuse in danemx serve, against scripted next
# hops: a stream of messages to one destination goes over one session;
# after a refused transaction the next one starts with RSET; a reused
# connection the server has closed is replaced by a fresh one and nothing
# is deferred or lost; an envelope left without its body by a crash during
# removal is removed.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" -days 30 \
	-subj /CN=sink.test 2>/dev/null || fail "openssl req"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T_TMP/pid" ] && kill -9 "$(cat "$T_TMP/pid")" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap - EXIT

BASE=$((19000 + ($$ % 200) * 4))
SINK=$((BASE + 1)); RELAY=$((BASE + 3))
Q="$T_TMP/queue"

sink() {	# sink MODE NAME: a fresh sink on $SINK, logs under $T_TMP/NAME.*
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	PIDS=""
	sleep 0.2
	$PY "$SRV" --listen 127.0.0.1:$SINK --mode "$1" --cert "$T_TMP/cert.pem" \
		--key "$T_TMP/key.pem" --log "$T_TMP/$2.log" \
		--connlog "$T_TMP/$2.conn" >"$T_TMP/$2.out" 2>&1 &
	PIDS="$!"
	wait_for 10 grep -q ready "$T_TMP/$2.out" || fail "sink $1 did not start"
}
serve() {	# serve LOG: the relay, one connection per destination at most
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
		-o helo_name=relay.test -o retry_min=1h -o retry_max=2h \
		-o dest_concurrency=1 \
		-o "relayhost=[127.0.0.1]:$SINK" >"$T_TMP/$1" 2>&1 &
	wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/$1' && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/$1")"
}
stop() {	# TERM; the relay must exit 0 (no leaks under ASan) in time
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	(sleep 40; kill -9 "$pid" 2>/dev/null) &
	guard=$!
	rc=0
	wait "$pid" || rc=$?
	kill "$guard" 2>/dev/null
	expect_eq "relay stopped cleanly (exit status)" "$rc" 0
	rm -f "$T_TMP/pid"
}
count() { grep -c "$1" "$2" 2>/dev/null || true; }

# 1. Ten messages in a row: one connection, nine reuses, all sent.
sink ok reuse
serve relay1.log
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test r@x.test 10 reuse >"$T_TMP/inj1"
expect_eq "stream: all acknowledged" "$(count '^ok' "$T_TMP/inj1")" 10
wait_for 30 sh -c "[ \$(grep -c '^MAIL' '$T_TMP/reuse.log') -ge 10 ]" ||
	fail "not all delivered: $(tail -5 "$T_TMP/relay1.log")"
expect_eq "stream: ten messages at the sink" "$(count '^MAIL <alice@client.test> <r@x.test>' "$T_TMP/reuse.log")" 10
expect_eq "stream: over one connection" "$(count '^CONN' "$T_TMP/reuse.conn")" 1
expect_eq "stream: nine reuses logged" \
	"$(count "127\.0\.0\.1\[127\.0\.0\.1\]:$SINK: reusing the connection (TLS opportunistic)" "$T_TMP/relay1.log")" 9
expect_eq "stream: every one logged sent, over TLS" \
	"$(count 'to=<r@x.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\], tls=opportunistic, .*status=sent (250 2\.0\.0 queued)' "$T_TMP/relay1.log")" 10
expect_eq "stream: each went over TLS" "$(grep '^MAIL' "$T_TMP/reuse.log" | awk '{print $5}' | sort -u)" tls
stop

# 2. A refused transaction (the only recipient gets 550): the next message
#    over the same connection starts with RSET; the DSN follows it there.
sink rcpt-5xx rset
serve relay2.log
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test bad@x.test 1 refused >"$T_TMP/inj2"
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test good@x.test 1 after >"$T_TMP/inj3"
wait_for 30 sh -c "grep -q '^MAIL <> <alice@client.test>' '$T_TMP/rset.log' && grep -q 'after-0' '$T_TMP/rset.log'" ||
	fail "not delivered: $(tail -8 "$T_TMP/relay2.log")"
expect_eq "rset: the good message arrived once" "$(count '^MAIL <alice@client.test> <good@x.test> .* after-0 ' "$T_TMP/rset.log")" 1
expect_eq "rset: one DSN for the refused one" "$(count '^MAIL <> <alice@client.test>' "$T_TMP/rset.log")" 1
expect_eq "rset: RSET once, after the refusal" "$(count '^RSET' "$T_TMP/rset.conn")" 1
expect_eq "rset: over one connection" "$(count '^CONN' "$T_TMP/rset.conn")" 1
expect_match "rset: the refusal bounced" "$(cat "$T_TMP/relay2.log")" \
	"to=<bad@x.test>, .*status=bounced \(550 5\.1\.1 no such user\)"
stop

# 3. The server closes the connection after each message: every reuse
#    fails, a fresh connection carries the message, nothing is deferred.
sink close-after-data gone
serve relay3.log
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test g@x.test 3 gone >"$T_TMP/inj4"
wait_for 30 sh -c "[ \$(grep -c '^MAIL' '$T_TMP/gone.log') -ge 3 ]" ||
	fail "not all delivered: $(tail -8 "$T_TMP/relay3.log")"
expect_eq "gone: three messages, each once" "$(grep '^MAIL' "$T_TMP/gone.log" | awk '{print $6}' | sort | tr '\n' ' ')" "gone-0 gone-1 gone-2 "
expect_eq "gone: three connections" "$(count '^CONN' "$T_TMP/gone.conn")" 3
expect_eq "gone: nothing deferred" "$(count 'status=deferred' "$T_TMP/relay3.log")" 0
expect_eq "gone: sent three" "$(count 'to=<g@x.test>.*status=sent' "$T_TMP/relay3.log")" 3
stop

# 4. A removal cut short by a crash (removals are not fsync'ed): an
#    updated envelope (env/ID, here from hold and release) whose message
#    file is gone is removed, not retried forever.
ID=$(printf 'Subject: half\n\nx\n' | "$DANEMX" sendmail -o user= -o queue_dir="$Q" -f a@client.test h@x.test)
"$DANEMX" queue -o user= -o queue_dir="$Q" hold "$ID" >/dev/null
"$DANEMX" queue -o user= -o queue_dir="$Q" release "$ID" >/dev/null
expect_eq "half-removed: an updated envelope" "$([ -f "$Q/env/$ID" ] && echo yes)" yes
rm "$Q/msg/$ID"
serve relay4.log
wait_for 15 sh -c "[ ! -e '$Q/env/$ID' ]" || fail "envelope without body kept: $(tail -5 "$T_TMP/relay4.log")"
expect_match "half-removed: said" "$(cat "$T_TMP/relay4.log")" "^$ID: removed \(its body was already gone\)$"
stop

# 5. Nobody answers (the next hop refuses connections): the destination is
#    held after the first failure, so the other messages do not try again.
for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
PIDS=""
serve relay5.log
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test d@x.test 3 dead >"$T_TMP/inj5"
expect_eq "dead: all acknowledged" "$(count '^ok' "$T_TMP/inj5")" 3
wait_for 15 sh -c "[ \$('$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq '[.[].recipients[].last | select(test(\"destination held\"))] | length') -eq 2 ]" ||
	fail "not held: $("$DANEMX" queue -o user= -o queue_dir="$Q" list)"
expect_eq "dead: one connection attempt for three messages" \
	"$(count "127\.0\.0\.1\[127\.0\.0\.1\]:$SINK: cannot connect" "$T_TMP/relay5.log")" 1
expect_match "dead: the hold is logged" "$(cat "$T_TMP/relay5.log")" \
	"held until the next retry \([0-9]+s\): cannot connect: Connection refused"

# 6. The next hop is back; queue flush tells the running relay (SIGUSR2)
#    to try everything now, without rewriting the envelopes.
sink ok back
out=$("$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush)
expect_eq "flush: the relay was told" "$out" "queue: the relay retries every message now"
wait_for 15 sh -c "[ \$(grep -c '^MAIL' '$T_TMP/back.log' 2>/dev/null) -ge 3 ]" ||
	fail "not delivered after flush: $(tail -5 "$T_TMP/relay5.log")"
expect_eq "flush: three delivered" "$(grep '^MAIL' "$T_TMP/back.log" | awk '{print $6}' | sort | tr '\n' ' ')" "dead-0 dead-1 dead-2 "
expect_match "flush: logged" "$(cat "$T_TMP/relay5.log")" "flush: holds lifted, [0-9]+ waiting deliveries due now"
stop
done_ok
