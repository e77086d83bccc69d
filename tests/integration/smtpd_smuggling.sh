#!/bin/sh
# smtpd_smuggling.sh - what a client sends is what the next hop gets.
# danemx serve relays to a capturing sink (capsmtpd.py, relayhost):
# SMTP smuggling (CVE-2023-51764: a pipelined forged message after
# <LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF>, <CR>.<CR>) is refused with 550 and
# never reaches the sink, nor does a bare CR split a header there; with
# smtpd_forbid_bare_newline = mynetworks-exempt a bare LF ends a line but
# never the message; lines of every length around the internal sizes
# arrive octet for octet, and one over smtpd_line_length_limit is
# refused at the end of DATA; hopcount_limit stops loops at the door,
# in danemx sendmail and in the scheduler (one bounce, never a retry);
# Received says "for" only with one recipient; <postmaster> is accepted
# from anyone.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
CAP="$DANEMX_SRCDIR/tests/servers/capsmtpd.py"
PIPE="$DANEMX_SRCDIR/tests/servers/smtppipe.py"
BASE=$((7000 + ($$ % 250) * 4))
SINK=$((BASE + 1)); RELAY=$((BASE + 2))
Q="$T_TMP/queue"
S="$T_TMP/sink"
mkdir -p "$S"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T_TMP/pid" ] && kill -9 "$(cat "$T_TMP/pid")" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

$PY "$CAP" --listen 127.0.0.1:$SINK --dir "$S" >"$T_TMP/sink.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q ready "$T_TMP/sink.out" || fail "sink did not start"

serve() {	# serve [-o ...]: (re)start the relay
	stop
	: >"$T_TMP/relay.log"
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
		-o helo_name=relay.test -o retry_min=1s -o retry_max=2s \
		-o "relayhost=[127.0.0.1]:$SINK" "$@" >"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {
	[ -s "$T_TMP/pid" ] || return 0
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	wait "$pid" 2>/dev/null
	rm -f "$T_TMP/pid"
}
# session NAME: pipeline $T_TMP/NAME.in into the relay, replies in NAME.out
session() { $PY "$PIPE" 127.0.0.1 $RELAY "$T_TMP/$1.in" "${2:-2}" >"$T_TMP/$1.out" 2>&1; }
# put NAME PYTHON-BYTES-EXPRESSION: write the octets of a session
put() { $PY -c "import sys; open(sys.argv[1], 'wb').write($2)" "$T_TMP/$1.in"; }
sunk() { ls "$S" | grep -c '\.eml$'; }
queue_empty() { [ "$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq length)" = 0 ]; }
ENV='b"EHLO c.test\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@x.test>\r\nDATA\r\n"'
FORGED='b"MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@x.test>\r\nDATA\r\nSubject: forged\r\n\r\nwire the money\r\n.\r\nQUIT\r\n"'

serve

# --- Smuggling: each end-of-data look-alike is refused, the session ends.
for c in "lflf:\n.\n" "lfcrlf:\n.\r\n" "crlflf:\r\n.\n" "crcr:\r.\r" "crlfcr:\r\n.\r"; do
	name=${c%%:*}
	put "$name" "$ENV + b'Subject: legit\r\n\r\nhello' + b'${c#*:}' + $FORGED"
	session "$name"
	case $name in
	crcr|crlfcr) want="550 5.5.2 Error: bare <CR> received; lines end with <CR><LF> (RFC 5321 2.3.8)" ;;
	*) want="550 5.5.2 Error: bare <LF> received; lines end with <CR><LF> (RFC 5321 2.3.8)" ;;
	esac
	expect_eq "smuggling $name: refused" "$(grep '^5' "$T_TMP/$name.out")" "$want"
	expect_eq "smuggling $name: session ended" "$(tail -n 1 "$T_TMP/$name.out")" "(closed)"
	expect_eq "smuggling $name: nothing queued" "$(grep -c 'queued as' "$T_TMP/$name.out")" 0
done
expect_eq "smuggling: logged" "$(grep -c 'bare LF received in DATA (message not queued); session ended' "$T_TMP/relay.log")" 3
# A bare CR inside a header would split it in two at the next hop.
put barecr "$ENV + b'X-Bare: a\rb\r\n\r\nx\r\n.\r\n'"
session barecr
expect_match "bare CR in a header: refused" "$(cat "$T_TMP/barecr.out")" "^550 5.5.2 Error: bare <CR> received"
# A bare LF in a command line.
put barelf 'b"EHLO c.test\r\nNOOP\nQUIT\r\n"'
session barelf
expect_match "bare LF in a command: refused" "$(cat "$T_TMP/barelf.out")" "^550 5.5.2 Error: bare <LF> received"
expect_eq "bare LF in a command: session ended" "$(tail -n 1 "$T_TMP/barelf.out")" "(closed)"
# The legitimate message still goes through, and is the only one.
put legit "$ENV + b'Subject: legit\r\n\r\nhello\r\n.\r\nQUIT\r\n'"
session legit
expect_match "legit: queued" "$(cat "$T_TMP/legit.out")" "^250 2.0.0 Ok: queued as "
wait_for 20 sh -c "[ \$(ls '$S' | grep -c eml) -ge 1 ] && '$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq -e 'length == 0'" ||
	fail "legit message not delivered: $(tail -5 "$T_TMP/relay.log")"
expect_eq "smuggling: one message reached the sink" "$(sunk)" 1
expect_eq "smuggling: it is the legit one" "$(grep -c 'Subject: legit' "$S/1.eml")" 1
expect_eq "smuggling: nothing forged anywhere" "$(cat "$S"/* | grep -c -e forged -e ceo@bank)" 0

# --- mynetworks-exempt: a bare LF ends a line for mynetworks clients,
# never the message: the forged transaction is content of the first.
serve -o smtpd_forbid_bare_newline=mynetworks-exempt
put exempt "$ENV + b'Subject: exempt\r\n\r\nhello\n.\n' + $FORGED[:-9] + b'tail\n.\r\nend\r\n.\r\nQUIT\r\n'"
session exempt
expect_eq "exempt: one message queued" "$(grep -c 'queued as' "$T_TMP/exempt.out")" 1
expect_eq "exempt: no second transaction" "$(grep -c '^250 2.1.0' "$T_TMP/exempt.out")" 1
wait_for 20 sh -c "[ \$(ls '$S' | grep -c eml) -ge 2 ]" || fail "exempt message not delivered"
# What arrives: the Received header (3 lines), then the content with
# CRLF for each bare LF, "." lines kept, dot-stuffed as on any wire.
tail -n +4 "$S/2.eml" >"$T_TMP/exempt.got"
$PY -c "import sys; open(sys.argv[1], 'wb').write(b'Subject: exempt\r\n\r\nhello\r\n..\r\nMAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@x.test>\r\nDATA\r\nSubject: forged\r\n\r\nwire the money\r\ntail\r\n..\r\nend\r\n')" "$T_TMP/exempt.want"
expect_eq "exempt: content as sent, CRLF for LF" "$(cmp "$T_TMP/exempt.got" "$T_TMP/exempt.want" && echo same)" same
expect_eq "exempt: the sink saw one sender" "$(cat "$S/2.env")" "MAIL <alice@client.test>
RCPT <bob@x.test>"
# ... and only for mynetworks: an outsider's bare LF is refused.
serve -o smtpd_forbid_bare_newline=mynetworks-exempt -o mynetworks=192.0.2.0/24
session barelf
expect_match "exempt: not for others" "$(cat "$T_TMP/barelf.out")" "^550 5.5.2 Error: bare <LF> received"

# --- Line lengths: octet for octet, every size around the buffers.
serve -o smtpd_line_length_limit=1m
$PY - "$T_TMP/long.in" "$T_TMP/long.want" <<'PYEOF'
import sys
lens = [998, 999, 1000, 1001, 4095, 4096, 4097, 16383, 16384, 16385,
        65534, 65535, 65536, 65537, 65538, 131073, 200000]
# As on any wire: a line that begins with "." has it doubled.
body = b"Subject: long lines\r\nX-8bit: \xe9t\xe9\r\n\r\n..stuffed\r\na\x00nul\r\n"
for i, n in enumerate(lens):   # a line of n octets, CRLF included
    first = b".." if i % 2 else b"x"    # every other one dot-stuffed
    body += first + bytes([0x61 + i % 26]) * (n - 2 - len(first)) + b"\r\n"
    body += b"\r\n" if i % 3 == 0 else b""
env = b"EHLO c.test\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@x.test>\r\nDATA\r\n"
open(sys.argv[1], "wb").write(env + body + b".\r\nQUIT\r\n")
open(sys.argv[2], "wb").write(body)
PYEOF
session long 5
expect_match "long lines: queued" "$(cat "$T_TMP/long.out")" "^250 2.0.0 Ok: queued as "
wait_for 20 sh -c "[ \$(ls '$S' | grep -c eml) -ge 3 ]" || fail "long lines not delivered: $(tail -3 "$T_TMP/relay.log")"
tail -n +4 "$S/3.eml" >"$T_TMP/long.got"
expect_eq "long lines: octet for octet" "$(cmp "$T_TMP/long.got" "$T_TMP/long.want" && echo same)" same
# The default limit (64k, CRLF included): 65536 passes, 65537 is refused
# at the end of DATA, and the session goes on.
serve
$PY - "$T_TMP/limit.in" "$T_TMP/limit.want" <<'PYEOF'
import sys
env = b"MAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@x.test>\r\nDATA\r\n"
ok = b"Subject: at the limit\r\n\r\n" + b"y" * 65534 + b"\r\n"
over = b"Subject: over the limit\r\n\r\n" + b"z" * 65535 + b"\r\n"
open(sys.argv[1], "wb").write(b"EHLO c.test\r\n" + env + over + b".\r\n" + env + ok + b".\r\nQUIT\r\n")
open(sys.argv[2], "wb").write(ok)
PYEOF
session limit 5
expect_eq "line limit: refused, then accepted" \
	"$(grep -e '^554' -e 'queued as' "$T_TMP/limit.out" | cut -c1-3 | tr '\n' ' ')" "554 250 "
expect_eq "line limit: the reply" "$(grep '^554' "$T_TMP/limit.out")" \
	"554 5.6.0 Message refused: a line is longer than 65536 octets"
wait_for 20 sh -c "[ \$(ls '$S' | grep -c eml) -ge 4 ]" || fail "limit message not delivered"
tail -n +4 "$S/4.eml" >"$T_TMP/limit.got"
expect_eq "line limit: 65536 octets arrive whole" "$(cmp "$T_TMP/limit.got" "$T_TMP/limit.want" && echo same)" same
expect_eq "line limit: the refused one never arrives" "$(cat "$S"/*.eml | grep -c 'over the limit')" 0

# --- Received: "for" only with exactly one recipient (no Bcc leak).
put two "b'EHLO c.test\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<to@x.test>\r\nRCPT TO:<bcc@x.test>\r\nDATA\r\nSubject: two\r\n\r\nx\r\n.\r\nQUIT\r\n'"
session two
wait_for 20 sh -c "[ \$(ls '$S' | grep -c eml) -ge 5 ]" || fail "two-recipient message not delivered"
expect_eq "Received: no 'for' with two recipients" "$(grep -c -e 'for <' -e 'bcc@' "$S/5.eml")" 0
expect_match "Received: 'for' with one" "$(sed -n 3p "$S/4.eml")" "^	for <bob@x.test>; "

# --- Hops: hopcount_limit counts Received: headers, danemx's own too.
serve -o hopcount_limit=5
hdrs() { i=0; while [ $i -lt "$1" ]; do printf 'Received: from hop%s\\r\\n' $i; i=$((i + 1)); done; }
put hops4 "b'EHLO c.test\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@x.test>\r\nDATA\r\n$(hdrs 3)RECEIVED : from odd\r\nSubject: loop\r\n\r\nReceived: in the body\r\n.\r\nQUIT\r\n'"
session hops4
expect_eq "hops: 4 + ours refused" "$(grep '^554' "$T_TMP/hops4.out")" \
	"554 5.4.6 Too many hops: 5 Received: headers (a mail loop?)"
expect_match "hops: logged" "$(cat "$T_TMP/relay.log")" \
	"smtpd: reject: 127.0.0.1: 554 5.4.6 Too many hops: 5 Received: headers \(hopcount_limit 5\); from=<alice@client.test>"
put hops3 "b'EHLO c.test\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@x.test>\r\nDATA\r\n$(hdrs 2)Received-SPF: pass\r\nReceived : from odd\r\nSubject: three hops\r\n\r\nReceived: in the body\r\n.\r\nQUIT\r\n'"
session hops3
expect_match "hops: 3 + ours accepted" "$(cat "$T_TMP/hops3.out")" "^250 2.0.0 Ok: queued as "
wait_for 20 sh -c "[ \$(ls '$S' | grep -c eml) -ge 6 ]" || fail "3-hop message not delivered"
expect_eq "hops: 3-hop message delivered" "$(grep -c 'three hops' "$S/6.eml")" 1
# danemx sendmail: exit 65 at the limit, and the message is not queued.
out=$(printf 'Received: a\nReceived: b\nReceived: c\nReceived: d\nReceived: e\nSubject: loop\n\nx\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -o hopcount_limit=5 -f alice@client.test bob@x.test 2>&1)
expect_eq "sendmail: too many hops, exit 65" "$?" 65
expect_eq "sendmail: says why" "$out" \
	"danemx sendmail: message refused: too many hops: 5 Received: headers (hopcount_limit 5), a mail loop?"
expect_eq "sendmail: nothing queued" "$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq length)" 0
printf 'Received: a\nReceived: b\nReceived: c\nReceived: d\nSubject: sendmail four\n\nx\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -o hopcount_limit=5 -f alice@client.test bob@x.test >/dev/null
expect_eq "sendmail: under the limit, exit 0" "$?" 0
# A message queued past the limit (here: under a higher one, directly and
# through the maildrop) is bounced once by the scheduler, never sent.
printf 'Received: a\nReceived: b\nReceived: c\nReceived: d\nReceived: e\nReceived: f\nSubject: queued loop\n\nx\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -o hopcount_limit=100 -f looper@client.test bob@x.test >/dev/null
expect_eq "sendmail: queued under a higher limit" "$?" 0
chmod 711 "$T_TMP"
cp "$DANEMX" "$T_TMP/danemx" && chmod 755 "$T_TMP/danemx"
printf 'Received: a\nReceived: b\nReceived: c\nReceived: d\nSubject: dropped loop\n\nx\n' |
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$T_TMP/danemx" sendmail \
	-o queue_dir="$Q" -o hopcount_limit=100 -f dropper@client.test bob@x.test >/dev/null
expect_eq "maildrop: dropped under a higher limit" "$?" 0
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 30 sh -c "grep -c '^RCPT <dropper@client.test>' '$S'/*.env | grep -q ':1' && grep -c '^RCPT <looper@client.test>' '$S'/*.env | grep -q ':1' && grep -q 'sendmail four' '$S'/*.eml && '$DANEMX' queue -o user= -o queue_dir='$Q' --json list | jq -e 'length == 0'" ||
	fail "loops not bounced: $(tail -8 "$T_TMP/relay.log")"
sleep 1
expect_eq "scheduler: the looping messages never sent" "$(cat "$S"/*.env | grep -c -e '^MAIL <looper@' -e '^MAIL <dropper@')" 0
expect_eq "scheduler: one bounce each" "$(grep -l '^MAIL <>' "$S"/*.env | xargs cat | grep -c -e looper -e dropper)" 2
expect_eq "scheduler: bounced with 5.4.6" \
	"$(grep -c 'status=bounced (5.4.6 Too many hops: [56] Received: headers (hopcount_limit 5), a mail loop)' "$T_TMP/relay.log")" 2
expect_eq "scheduler: the bounce says 5.4.6" "$(grep -l '^MAIL <>' "$S"/*.env | sed 's/env$/eml/' | xargs grep -c '^Status: 5.4.6' | grep -c ':1$')" 2

# --- <postmaster>: from anyone, to the postmaster address; other
# recipients stay relay-controlled. Listening on every address without
# postmaster set is worth a warning.
serve -o mynetworks=192.0.2.0/24 -o postmaster=hostmaster@relay.test
put pm "b'EHLO outsider.test\r\nMAIL FROM:<x@outsider.test>\r\nRCPT TO:<victim@elsewhere.test>\r\nRCPT TO:<postmaster@elsewhere.test>\r\nRCPT TO:<PostMaster>\r\nDATA\r\nSubject: to the postmaster\r\n\r\nhi\r\n.\r\nQUIT\r\n'"
session pm
expect_eq "postmaster: replies" "$(grep -e '^554' -e '^250 2.1.5' "$T_TMP/pm.out")" \
	"554 5.7.1 <victim@elsewhere.test>: Relay access denied
554 5.7.1 <postmaster@elsewhere.test>: Relay access denied
250 2.1.5 Ok"
expect_match "postmaster: queued" "$(cat "$T_TMP/pm.out")" "^250 2.0.0 Ok: queued as "
wait_for 20 sh -c "grep -l 'to the postmaster' '$S'/*.eml >/dev/null" || fail "postmaster mail not delivered"
expect_eq "postmaster: delivered to the postmaster setting" \
	"$(cat "$(grep -l 'to the postmaster' "$S"/*.eml | sed 's/eml$/env/')")" "MAIL <x@outsider.test>
RCPT <hostmaster@relay.test>"
stop
: >"$T_TMP/relay.log"
"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=0.0.0.0:$RELAY -o queue_dir="$Q" -o user= \
	-o pid_file="$T_TMP/pid" -o helo_name=relay.test -o mynetworks=192.0.2.0/24 \
	-o "relayhost=[127.0.0.1]:$SINK" >"$T_TMP/relay.log" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" || fail "relay did not start"
expect_match "postmaster unset: warned" "$(cat "$T_TMP/relay.log")" \
	"smtpd: postmaster is not set: mail to <postmaster> goes to postmaster@relay.test; set postmaster in danemx.conf"
put pm2 "b'EHLO outsider.test\r\nMAIL FROM:<y@outsider.test>\r\nRCPT TO:<postmaster>\r\nDATA\r\nSubject: default postmaster\r\n\r\nhi\r\n.\r\nQUIT\r\n'"
session pm2
wait_for 20 sh -c "grep -l 'default postmaster' '$S'/*.eml >/dev/null" || fail "default postmaster mail not delivered"
expect_eq "postmaster unset: postmaster@helo_name" \
	"$(grep RCPT "$(grep -l 'default postmaster' "$S"/*.eml | sed 's/eml$/env/')")" "RCPT <postmaster@relay.test>"
stop
done_ok
