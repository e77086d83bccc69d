#!/bin/sh
# tls_required.sh - RFC 8689 "TLS-Required: No" through the relay, against
# the world's DANE, DNSSEC and MTA-STS cases. A message from a trusted
# sender (a mynetworks client, danemx sendmail) with the header is
# delivered despite a failure of the recipient domain's policy, with
# opportunistic TLS, and the log line says so with its queue id (also
# through the maildrop, from a user who cannot write the queue):
#   - a DANE mismatch (only.dane-mismatch.test), even while the
#     destination is held for the same failure of a message without it;
#   - a bogus TLSA answer, dane-only without TLSA (the policy table), an
#     MTA-STS enforce policy whose WebPKI check fails, STARTTLS refused
#     (then in cleartext);
#   - and the header stays in the relayed message (octets at the MX).
# The same message without the header, with the header in the body only,
# from a client outside mynetworks (to the postmaster), or from a relay
# with tls_required_header = no, stays deferred; a bogus MX answer defers
# even with the header; the relaxed session is not reused. A folded, odd-case header
# counts. The bounce of such a message asks for it too.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
RELAY=$((1000 + ($$ % 250) * 2))
RELAY2=$((RELAY + 1))
SINK=127.0.74.1		# a sink of our own on port 25, behind a DANE name
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	for f in "$T_TMP"/pid*; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# The messages: the header, none, the header in the body, folded.
printf 'Subject: tlsreq\r\nTLS-Required: No\r\n\r\nlow value\r\n' >"$T_TMP/no"
printf 'Subject: plain\r\n\r\nlow value\r\n' >"$T_TMP/plain"
printf 'Subject: body\r\n\r\nTLS-Required: No\r\n' >"$T_TMP/body"
printf 'Subject: folded\r\ntls-required:\r\n   no\r\n\r\nlow value\r\n' \
    >"$T_TMP/folded"

# Names of this run (dane-mismatch.test is no other test's to change):
# a TLSA RRset that is bogus (a CNAME into expired.test, whose signatures
# expired), and our sink, whose key its TLSA record does not name.
sh "$WORLD_WORLD_SH" add "$DANEMX_WORLD" dane-mismatch.test - >/dev/null <<EOF ||
tlsreq-$RUN		1	MX	10 mxb-$RUN
mxb-$RUN		1	A	@MX_NET@.17
_25._tcp.mxb-$RUN	1	CNAME	nx-$RUN.expired.test.
stranger-$RUN		1	MX	10 mx1
sink-$RUN		1	MX	10 mxs-$RUN
mxs-$RUN		1	A	$SINK
_25._tcp.mxs-$RUN	1	TLSA	3 1 1 @TLSA_EE_311@
EOF
	fail "world.sh add"
BOGUS=tlsreq-$RUN.dane-mismatch.test
OWN=sink-$RUN.dane-mismatch.test

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" -days 30 \
	-subj /CN=sink.test 2>/dev/null || fail "openssl req"
mkdir -p "$T_TMP/sink"
$PY "$SRV" --listen "$SINK:25" --mode ok --cert "$T_TMP/cert.pem" \
	--key "$T_TMP/key.pem" --log "$T_TMP/sink.log" --data "$T_TMP/sink" \
	>"$T_TMP/sink.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q ready "$T_TMP/sink.out" || fail "sink did not start: $(cat "$T_TMP/sink.out")"

echo "no-tlsa.test dane-only" >"$T_TMP/policy"
serve() {	# serve N PORT [-o ...]: relay N in the background
	n=$1 port=$2
	shift 2
	"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$port \
		-o queue_dir="$T_TMP/q$n" -o state_dir="$T_TMP/state$n" -o user= \
		-o pid_file="$T_TMP/pid$n" -o helo_name=relay.test \
		-o ca_file="$WORLD_CA" -o policy_file="$T_TMP/policy" \
		-o retry_min=1h -o retry_max=2h "$@" >"$T_TMP/relay$n.log" 2>&1 &
	wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay$n.log' && [ -s '$T_TMP/pid$n' ]" ||
		fail "relay $n did not start: $(cat "$T_TMP/relay$n.log")"
}
serve 1 $RELAY -o mynetworks=127.0.0.1/32 \
	-o postmaster=pm-$RUN@stranger-$RUN.dane-mismatch.test
serve 2 $RELAY2 -o tls_required_header=no
LOG=$T_TMP/relay1.log

# submit PORT MSG RCPT [FROM [CLIENT]]: MSG over SMTP, from a@client.test
# (and the client address 127.0.0.1, inside mynetworks)
submit() {
	$PY - "$1" "$T_TMP/$2" "$3" "${4:-a@client.test}" "${5:-127.0.0.1}" <<'PYEOF' ||
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30,
    source_address=(sys.argv[5], 0))
s.sendmail(sys.argv[4], [sys.argv[3]], open(sys.argv[2], "rb").read())
s.quit()
PYEOF
		fail "submit $2 to $3"
}
# status RCPT STATUS [LOG]: wait for RCPT's line with STATUS; print it
status() {
	wait_for 30 grep -q "to=<$1>.*status=$2" "${3:-$LOG}" ||
		fail "<$1> not $2: $(tail -20 "${3:-$LOG}")"
	grep "to=<$1>.*status=$2" "${3:-$LOG}" | head -n 1
}
# qid RCPT: the queue id of the message for RCPT
qid() { grep "to=<$1>" "$LOG" | head -n 1 | cut -d: -f1; }
# expect_line WHAT RCPT TEXT: "ID: TEXT" is a line of the log, ID RCPT's
expect_line() {
	_id=$(qid "$2")
	grep -Fxq -- "$_id: $3" "$LOG" ||
		fail "$1: no line '$_id: $3' in: $(grep -F "$_id" "$LOG")"
	pass
}
DANEFAIL="not authenticated: no matching DANE TLSA records (X.509 error 65)"
DANEFAIL_RE='not authenticated: no matching DANE TLSA records \(X\.509 error 65\)'

# 1. Without the header: deferred for the DANE failure; the destination
# is held. With it, to the held destination: delivered, and said so.
plain=$(rcpt plain only.dane-mismatch.test)
submit $RELAY plain "$plain"
expect_match "plain: deferred" "$(status "$plain" deferred)" \
	"tls=none, dane=not authenticated: .*status=deferred \(DANE: $DANEFAIL_RE \[tlsa-invalid\]\)"
wait_for 10 grep -q "only.dane-mismatch.test: held until the next retry" "$LOG" ||
	fail "not held: $(tail -5 "$LOG")"
no=$(rcpt no only.dane-mismatch.test)
submit $RELAY no "$no"
expect_match "no: delivered to the held destination" "$(status "$no" sent)" \
	"to=<$no>, relay=mx1\.dane-mismatch\.test\[$NET\.17\], tls=opportunistic, dane=not authenticated: no matching DANE TLSA records \(X\.509 error 65\), delay=[0-9]+s, status=sent \(250 "
expect_line "no: the log says so" "$no" \
	"TLS-Required: No: mx1.dane-mismatch.test: delivering despite DANE failure ($DANEFAIL) with opportunistic TLS"
expect_match "no: the listener saw it" "$(grep "^$(qid "$no"): from=" "$LOG")" \
	", client=127\.0\.0\.1, tls-required=no$"
expect_received "no: the world's MX got it" mx-mismatch "$no"
expect_not_received "plain: never sent" "$plain"

# 2. A folded, odd-case header counts.
folded=$(rcpt folded only.dane-mismatch.test)
submit $RELAY folded "$folded"
status "$folded" sent >/dev/null
expect_line "folded: relaxed" "$folded" \
	"TLS-Required: No: mx1.dane-mismatch.test: delivering despite DANE failure ($DANEFAIL) with opportunistic TLS"

# 3. The relayed message keeps its header, octet for octet (our sink).
# The relaxed session is not kept for the next message: one whose header
# has the field in its body only, sent at once, fails DANE afresh.
own=$(rcpt own "$OWN")
submit $RELAY no "$own"
status "$own" sent >/dev/null
body=$(rcpt body "$OWN")
submit $RELAY body "$body"
wait_for 10 grep -q "$own" "$T_TMP/sink.log" || fail "sink: nothing for <$own>"
expect_eq "own: the sink got it over TLS" "$(grep -F "<$own>" "$T_TMP/sink.log" |
	cut -d' ' -f5)" tls
expect_eq "own: the octets, header and all" "$(cat "$T_TMP/sink/msg-1" |
	sed -n '/^Subject: tlsreq\r$/,$p' | od -c)" "$(od -c <"$T_TMP/no")"
expect_match "in the body: deferred, over a connection of its own" \
	"$(status "$body" deferred)" \
	"status=deferred \(DANE: $DANEFAIL_RE \[tlsa-invalid\]\)"
expect_eq "in the body: no request in the envelope" "$("$DANEMX" queue -o user= \
	-o queue_dir="$T_TMP/q1" --json list | jq -r --arg r "$body" \
	'.[] | select(.recipients[0].address == $r) | .tls_required_no')" false
expect_eq "the sink got one message" "$(wc -l <"$T_TMP/sink.log")" 1

# 4. A bogus TLSA answer: deferred without, delivered with.
bplain=$(rcpt bplain "$BOGUS")
submit $RELAY plain "$bplain"
expect_match "bogus TLSA, plain: deferred" "$(status "$bplain" deferred)" \
	"relay=none, .*status=deferred \(TLSA lookup for _25\._tcp\.mxb-$RUN\.dane-mismatch\.test failed: .*\[dnssec-invalid\]\)"
bno=$(rcpt bno "$BOGUS")
submit $RELAY no "$bno"
expect_match "bogus TLSA, no: delivered" "$(status "$bno" sent)" \
	"relay=mxb-$RUN\.dane-mismatch\.test\[$NET\.17\], tls=opportunistic, "
expect_match "bogus TLSA, no: the log says so" "$(grep "^$(qid "$bno"): TLS-Required" "$LOG")" \
	": TLS-Required: No: mxb-$RUN\.dane-mismatch\.test: delivering despite DNSSEC failure \(TLSA lookup for _25\._tcp\.mxb-$RUN\.dane-mismatch\.test failed: .+\) with opportunistic TLS$"

# 5. dane-only without TLSA (the policy table): the same.
dplain=$(rcpt dplain no-tlsa.test)
submit $RELAY plain "$dplain"
expect_match "dane-only, plain: deferred" "$(status "$dplain" deferred)" \
	"\[dane-required\]\)$"
dno=$(rcpt dno no-tlsa.test)
submit $RELAY no "$dno"
status "$dno" sent >/dev/null
expect_line "dane-only, no: the log says so" "$dno" \
	"TLS-Required: No: mx.no-tlsa.test: delivering despite DANE failure (no TLSA records, but the policy for no-tlsa.test is dane-only) with opportunistic TLS"
expect_received "dane-only, no: the MX got it" mx-no-tlsa "$dno"

# 6. MTA-STS enforce, WebPKI fails (the certificate names another host).
splain=$(rcpt splain badcert.sts.test)
submit $RELAY plain "$splain"
expect_match "MTA-STS, plain: deferred" "$(status "$splain" deferred)" \
	"\[sts-webpki-invalid\]\)$"
sno=$(rcpt sno badcert.sts.test)
submit $RELAY no "$sno"
expect_match "MTA-STS, no: delivered" "$(status "$sno" sent)" \
	"relay=wrong\.mx\.sts\.test\[$NET\.12\], tls=opportunistic, "
expect_line "MTA-STS, no: the log says so" "$sno" \
	"TLS-Required: No: wrong.mx.sts.test: delivering despite MTA-STS failure (certificate verification failed: hostname mismatch) with opportunistic TLS"

# 7. STARTTLS refused at a DANE host: once more, in cleartext.
tno=$(rcpt tno tls-refused.test)
submit $RELAY no "$tno"
expect_match "STARTTLS refused, no: delivered without TLS" "$(status "$tno" sent)" \
	"relay=mx\.tls-refused\.test\[$NET\.28\], tls=none, "
expect_match "STARTTLS refused, no: the log says so" \
	"$(grep "^$(qid "$tno"): TLS-Required" "$LOG")" \
	": TLS-Required: No: mx\.tls-refused\.test: delivering despite TLS failure \(.*STARTTLS.*\) without TLS$"
wait_for 10 grep -q "<$tno>" "$WORLD_DIR/fault-28.mail" || fail "tls-refused: nothing for <$tno>"
expect_eq "STARTTLS refused: the MX got it in cleartext" \
	"$(grep -F "<$tno>" "$WORLD_DIR/fault-28.mail" | cut -d' ' -f5)" plain

# 8. A bogus MX answer cannot be routed: deferred even with the header.
mno=$(rcpt mno mx-bogus.test)
submit $RELAY no "$mno"
expect_match "bogus MX, no: deferred" "$(status "$mno" deferred)" \
	"\[dnssec-invalid\]\)$"

# 9. Through danemx sendmail (the queue written directly): delivered.
sm=$(rcpt sm only.dane-mismatch.test)
tr -d '\r' <"$T_TMP/no" | "$DANEMX" sendmail -o user= -o queue_dir="$T_TMP/q1" \
	-f a@client.test "$sm" >/dev/null || fail "sendmail"
status "$sm" sent >/dev/null
expect_line "sendmail: relaxed" "$sm" \
	"TLS-Required: No: mx1.dane-mismatch.test: delivering despite DANE failure ($DANEFAIL) with opportunistic TLS"

# 9b. Through the maildrop: a user who cannot write the queue.
chmod 711 "$T_TMP"
cp "$DANEMX" "$T_TMP/danemx" && chmod 755 "$T_TMP/danemx"
md=$(rcpt md only.dane-mismatch.test)
tr -d '\r' <"$T_TMP/no" | setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$T_TMP/danemx" sendmail -o queue_dir="$T_TMP/q1" -f a@client.test "$md" \
	>"$T_TMP/md.out" || fail "sendmail as nobody"
expect_match "maildrop: dropped" "$(cat "$T_TMP/md.out")" "^maildrop/m[0-9a-f]{32}$"
status "$md" sent >/dev/null
expect_match "maildrop: picked up, the request seen" "$(grep "^$(qid "$md"): from=" "$LOG")" \
	", uid=65534, tls-required=no \(maildrop\)$"
expect_line "maildrop: relaxed" "$md" \
	"TLS-Required: No: mx1.dane-mismatch.test: delivering despite DANE failure ($DANEFAIL) with opportunistic TLS"

# 9c. A client outside mynetworks reaches only the postmaster: its field
# means nothing.
submit $RELAY no postmaster a@client.test 127.0.0.2
pm=pm-$RUN@stranger-$RUN.dane-mismatch.test
expect_match "stranger: deferred" "$(status "$pm" deferred)" \
	"status=deferred \(DANE: $DANEFAIL_RE \[tlsa-invalid\]\)"
expect_match "stranger: no request" "$(grep "^$(qid "$pm"): from=" "$LOG")" \
	", client=127\.0\.0\.2$"

# 10. A refused recipient: the bounce asks for TLS-Required: No too, and
# goes back to a sender at the DANE-failing domain all the same.
rej=$(rcpt reject-no only.dane-mismatch.test)
back=$(rcpt back only.dane-mismatch.test)
submit $RELAY no "$rej" "$back"
status "$rej" bounced >/dev/null
wait_for 10 grep -q "^$(qid "$rej"): sender non-delivery notification: " "$LOG" ||
	fail "no bounce: $(tail -5 "$LOG")"
dsn=$(grep "^$(qid "$rej"): sender non-delivery notification: " "$LOG" | sed 's/.*: //')
expect_match "bounce: delivered" "$(status "$back" sent)" \
	"^$dsn: to=<$back>, relay=mx1\.dane-mismatch\.test\[$NET\.17\], tls=opportunistic, "
expect_line "bounce: relaxed" "$back" \
	"TLS-Required: No: mx1.dane-mismatch.test: delivering despite DANE failure ($DANEFAIL) with opportunistic TLS"

# 11. tls_required_header = no: the header means nothing from anyone.
n2=$(rcpt n2 only.dane-mismatch.test)
submit $RELAY2 no "$n2"
expect_match "header = no: deferred" "$(status "$n2" deferred "$T_TMP/relay2.log")" \
	"status=deferred \(DANE: $DANEFAIL_RE \[tlsa-invalid\]\)"
expect_eq "header = no: nothing relaxed" \
	"$(grep -c "TLS-Required" "$T_TMP/relay2.log")" 0
expect_not_received "header = no: never sent" "$n2"

for n in 1 2; do
	kill "$(cat "$T_TMP/pid$n")"
done
done_ok
