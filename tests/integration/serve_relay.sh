#!/bin/sh
# serve_relay.sh - danemx serve end to end on loopback, with a scripted
# next hop (relayhost = [127.0.0.1]:PORT): mail in over SMTP and through
# danemx sendmail (directly, and through the maildrop as an unprivileged
# user) reaches the sink; a 5xx recipient yields one DSN from
# the null sender; a 4xx is deferred with a reason; a client outside
# mynetworks cannot relay; kill -9 mid-stream loses nothing acknowledged.
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
trap cleanup EXIT

BASE=$((10000 + ($$ % 1000) * 4))
SINK=$((BASE + 1)); SINK4=$((BASE + 2)); RELAY=$((BASE + 3))
Q="$T_TMP/queue"

sink() {	# sink PORT MODE LOG
	$PY "$SRV" --listen 127.0.0.1:$1 --mode "$2" --cert "$T_TMP/cert.pem" \
		--key "$T_TMP/key.pem" --log "$3" >"$3.out" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 10 grep -q ready "$3.out" || fail "sink $2 did not start"
}
serve() {	# serve [-o ...]: start the relay in the background
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
		-o helo_name=relay.test -o retry_min=1s -o retry_max=2s \
		-o "relayhost=[127.0.0.1]:$SINK" "$@" >>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
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
queue_empty() { [ "$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq length)" = 0 ]; }

sink $SINK rcpt-5xx "$T_TMP/sink.log"
serve

# Over SMTP: one accepted and one 5xx recipient.
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test good@x.test,bad@x.test 1 smtp >"$T_TMP/inj1"
expect_eq "smtp: acknowledged" "$(cut -d' ' -f1 "$T_TMP/inj1")" ok
wait_for 20 queue_empty || fail "queue did not empty: $("$DANEMX" queue -o user= -o queue_dir="$Q" list)"
expect_eq "smtp: delivered to the sink" \
	"$(grep -c '^MAIL <alice@client.test> <good@x.test> .* smtp-0 ' "$T_TMP/sink.log")" 1
expect_eq "5xx: exactly one DSN, from <>" "$(grep -c '^MAIL <> <alice@client.test>' "$T_TMP/sink.log")" 1
expect_eq "5xx: DSN subject" "$(grep '^MAIL <> ' "$T_TMP/sink.log" | awk '{print $6}')" \
	"Undelivered_Mail_Returned_to_Sender"
expect_match "log: sent line" "$(cat "$T_TMP/relay.log")" \
	": to=<good@x.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\], tls=opportunistic, .*status=sent \(250 2\.0\.0 queued\)"
expect_match "log: bounced line" "$(cat "$T_TMP/relay.log")" \
	": to=<bad@x.test>, .*status=bounced \(550 5\.1\.1 no such user\)"
expect_eq "log: DSN itself not bounced back" "$(grep -c 'to=<alice@client.test>.*status=sent' "$T_TMP/relay.log")" 1

# Through danemx sendmail, then queue flush (SIGUSR1).
printf 'Subject: viasendmail\n\nhello\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -f bob@client.test carol@x.test >/dev/null
expect_eq "sendmail: exit" "$?" 0
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 20 grep -q 'viasendmail' "$T_TMP/sink.log" || fail "sendmail message not delivered"
expect_eq "sendmail: delivered" "$(grep -c '^MAIL <bob@client.test> <carol@x.test> .* viasendmail ' "$T_TMP/sink.log")" 1

# Through the maildrop: danemx sendmail run by a user who cannot write the
# queue drops the message; the relay picks it up with the user's uid.
chmod 711 "$T_TMP"
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# a copy nobody can run: the build directory may be in a home of mode 0700
cp "$DANEMX" "$T_TMP/danemx" && chmod 755 "$T_TMP/danemx"
out=$(printf 'Subject: viadrop\n\nhello\n' |
	asnobody "$T_TMP/danemx" sendmail -o queue_dir="$Q" -f dave@client.test erin@x.test)
expect_eq "maildrop: exit" "$?" 0
expect_match "maildrop: says where" "$out" "^maildrop/m[0-9a-f]{32}$"
wait_for 20 grep -q 'viadrop' "$T_TMP/sink.log" || fail "maildrop message not delivered: $(tail -5 "$T_TMP/relay.log")"
expect_eq "maildrop: delivered once" "$(grep -c '^MAIL <dave@client.test> <erin@x.test> .* viadrop ' "$T_TMP/sink.log")" 1
expect_match "maildrop: picked up with the uid" "$(cat "$T_TMP/relay.log")" \
	": from=<dave@client.test>, nrcpt=1, size=[0-9]+, uid=65534 \(maildrop\)"
expect_eq "maildrop: others cannot list the queue" "$(asnobody ls "$Q/env" >/dev/null 2>&1; echo $?)" 2
expect_eq "maildrop: nor the drops" "$(asnobody ls "$Q/maildrop" >/dev/null 2>&1; echo $?)" 2
junk=m0123456789abcdef0123456789abcdef
asnobody sh -c "printf 'S me@x\nR you@x\n\n' >'$Q/maildrop/$junk'"
wait_for 10 sh -c "[ ! -e '$Q/maildrop/$junk' ]" || fail "malformed drop not removed"
expect_match "maildrop: a malformed drop is refused" "$(cat "$T_TMP/relay.log")" \
	"maildrop: $junk: refused: not a danemx drop file; removed"

# Relay control: a client outside mynetworks gets 554 5.7.1 at RCPT. The
# relay learns the new mynetworks from danemx.conf on SIGHUP.
stop
printf 'mynetworks = 127.0.0.0/8\nmax_queue_lifetime = 5d\n' >"$T_TMP/danemx.conf"
serve -c "$T_TMP/danemx.conf"
printf '# only the documentation network may relay now\nmynetworks = 192.0.2.0/24\n' >"$T_TMP/danemx.conf"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 10 grep -q "reload: configuration read again" "$T_TMP/relay.log" ||
	fail "no reload: $(tail -5 "$T_TMP/relay.log")"
$PY - $RELAY >"$T_TMP/relay-denied" 2>&1 <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("outsider.test")
s.mail("spammer@outsider.test")
print(s.rcpt("victim@elsewhere.test"))
s.quit()
PYEOF
expect_match "open relay: refused" "$(cat "$T_TMP/relay-denied")" "554, b'5.7.1 <victim@elsewhere.test>: Relay access denied'"
expect_eq "open relay: nothing queued" "$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq length)" 0
stop

# A 4xx next hop: deferred with its reason, retried with backoff.
# Injected over STARTTLS this time (inbound TLS with a configured cert).
sink $SINK4 rcpt-4xx "$T_TMP/sink4.log"
serve -o "relayhost=[127.0.0.1]:$SINK4" -o tls_cert_file="$T_TMP/cert.pem" \
	-o tls_key_file="$T_TMP/key.pem"
$PY - $RELAY >"$T_TMP/inj4" 2>&1 <<'PYEOF'
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("client.test")
print("starttls offered" if s.has_extn("starttls") else "no starttls")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
print(s.starttls(context=ctx))
s.ehlo("client.test")
print("starttls after tls" if s.has_extn("starttls") else "not offered again")
s.sendmail("alice@client.test", ["later@x.test"], "Subject: defer-0\r\n\r\nx\r\n")
s.quit()
PYEOF
expect_match "inbound STARTTLS: offered" "$(cat "$T_TMP/inj4")" "^starttls offered$"
expect_match "inbound STARTTLS: 220" "$(cat "$T_TMP/inj4")" "^\(220, b'2.0.0 Ready to start TLS'\)$"
expect_match "inbound STARTTLS: not offered twice" "$(cat "$T_TMP/inj4")" "^not offered again$"
ID4=$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq -r '.[0].id')
expect_eq "inbound STARTTLS: Received says ESMTPS" \
	"$(grep -c 'with ESMTPS id' "$Q/msg/$ID4")" 1
wait_for 20 sh -c "'$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq -e '.[0].recipients[0].attempts >= 2'" ||
	fail "not retried: $("$DANEMX" queue -o user= -o queue_dir="$Q" list)"
expect_match "4xx: deferred with the reason" \
	"$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq -r '.[0].recipients[0].last')" "450 4.2.1 try later"
expect_eq "4xx: still pending" \
	"$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq -r '.[0].recipients[0].state')" pending
expect_eq "4xx: no bounce" "$(cat "$T_TMP/sink4.log" 2>/dev/null | grep -c "^MAIL <> ")" 0
# hold stops the retries; release (which signals the relay) resumes them.
attempts() { "$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq '.[0].recipients[0].attempts'; }
"$DANEMX" queue -o user= -o queue_dir="$Q" hold "$ID4" >/dev/null
sleep 3
a1=$(attempts)
sleep 3
expect_eq "hold: no attempt while held" "$(attempts)" "$a1"
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" release "$ID4" >/dev/null
wait_for 15 sh -c "[ \$('$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq '.[0].recipients[0].attempts') -gt $a1 ]" ||
	fail "not retried after release: $("$DANEMX" queue -o user= -o queue_dir="$Q" list)"
stop
for id in $("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq -r '.[].id'); do
	"$DANEMX" queue -o user= -o queue_dir="$Q" delete "$id" >/dev/null
done

# Crash safety: kill -9 the relay twice while messages stream in and out;
# every acknowledged message must arrive (duplicates are reported).
: >"$T_TMP/sink.log"
serve
$PY "$INJ" 127.0.0.1 $RELAY alice@client.test crash@x.test 60 crash >"$T_TMP/inj-crash" &
INJPID=$!
for round in 1 2; do
	wait_for 20 sh -c "[ \$(grep -c '^ok' '$T_TMP/inj-crash') -ge $((round * 20)) ]" || true
	kill -9 "$(cat "$T_TMP/pid")"
	rm -f "$T_TMP/pid"
	sleep 0.3
	serve
done
wait "$INJPID"
acked=$(grep '^ok' "$T_TMP/inj-crash" | awk '{print "crash-" $2}' | sort -u)
nacked=$(echo "$acked" | grep -c .)
wait_for 60 sh -c "[ \$(awk '{print \$6}' '$T_TMP/sink.log' | sort -u | grep -c crash-) -ge $nacked ]" || true
arrived=$(awk '{print $6}' "$T_TMP/sink.log" | sort -u)
lost=$(echo "$acked" | grep -vxF "$arrived" | grep -c . || true)
dups=$(($(awk '{print $6}' "$T_TMP/sink.log" | grep -c crash-) - $(echo "$arrived" | grep -c crash-)))
echo "serve_relay: crash test: $nacked acknowledged, $lost lost, $dups duplicates"
expect_eq "crash: some messages acknowledged" "$([ "$nacked" -ge 20 ] && echo yes)" yes
expect_eq "crash: no acknowledged message lost" "$lost" 0
stop

done_ok
