#!/bin/sh
# serve_metrics.sh - the relay's metrics (metrics_listen, docs/metrics.md)
# after known deliveries through the world: a scrape (curl) in the strict
# Prometheus text format (tests/unit/metrics_check.py) with the exact
# counts of recipients by status and TLS, DANE verdicts, failure classes,
# the queue and its oldest message, sessions open, DNS lookups by DNSSEC
# status and the bypass list's size; a second scrape after more
# deliveries shows the increments, a third the bypass list read again
# (only the entries in force count) and a discarded recipient. Only GET
# /metrics answers (404 for other paths, 405 for other methods); a
# non-loopback address is refused; without metrics_listen nothing more
# listens. The limits: an idle
# connection is closed after 5 s, a trickling one after 15 s in all, a
# request header past 8 KiB is refused, past 16 connections the listener
# waits while SMTP goes on, and it serves again once they are gone.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

Q="$T_TMP/queue"
RELAY=$((9000 + ($$ % 500)))
M=$((9500 + ($$ % 500)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
CHECK="$DANEMX_SRCDIR/tests/unit/metrics_check.py"
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	for p in $(cat "$T_TMP/bg" 2>/dev/null); do kill "$p" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# scrape [PATH [CURL-OPTION...]]: the HTTP status; the body in $T_TMP/scrape
scrape() {
	_p=${1:-/metrics}
	[ $# -gt 0 ] && shift
	curl -sS --max-time 3 -o "$T_TMP/scrape" -w '%{http_code}' "$@" \
	    "http://127.0.0.1:$M$_p" 2>"$T_TMP/curl.err"
}
# scrape_ok: a 200 scrape that parses; its samples in $T_TMP/samples
scrape_ok() {
	[ "$(scrape)" = 200 ] || fail "scrape: $(cat "$T_TMP/curl.err")"
	python3 "$CHECK" <"$T_TMP/scrape" >"$T_TMP/samples" ||
		fail "scrape does not parse: $(cat "$T_TMP/samples")"
	pass
}
# val SERIES: the value of one series of the last scrape
val() {
	awk -v k="$1" 'substr($0, 1, length(k) + 1) == k " " {
	    print substr($0, length(k) + 2) }' "$T_TMP/samples"
}
# nonzero NAME: NAME's series with a value other than 0, sorted
nonzero() {
	grep "^$1[{ ]" "$T_TMP/samples" | grep -v ' 0$' | sort
}
R=danemx_recipients_total
bg() { echo "$1" >>"$T_TMP/bg"; }

# 1. A non-loopback address is refused at start, with the reason.
run_cmd "$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
	-o metrics_listen=0.0.0.0:$M -o queue_dir="$Q" -o user= \
	-o pid_file="$T_TMP/pid" -o state_dir="$T_TMP/state"
expect_eq "0.0.0.0: exit" "$RC" 78
expect_match "0.0.0.0: why" "$ERR" \
	"metrics_listen: 0\.0\.0\.0:$M is not a loopback address"

# 2. By default the relay listens for SMTP and nothing else.
"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
	-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
	-o state_dir="$T_TMP/state" >"$T_TMP/relay0.log" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay0.log' && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start: $(cat "$T_TMP/relay0.log")"
pid=$(cat "$T_TMP/pid")
expect_eq "default: one listening socket (SMTP)" \
	"$(ss -Hltnp | grep "pid=$pid," | awk '{print $4}')" "127.0.0.1:$RELAY"
expect_eq "default: no metrics log line" \
	"$(grep -c 'metrics: serving' "$T_TMP/relay0.log")" 0
kill "$pid"
wait_for 15 sh -c "! kill -0 $pid" || fail "relay did not stop"

# 3. The relay with metrics and a bypass list of two entries.
printf 'only.dane-mismatch.test 2099-12-31 # rollover gone wrong\nexample.invalid\n' \
	>"$T_TMP/bypass"
: >"$T_TMP/transport"
"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
	-o metrics_listen=127.0.0.1:$M -o bypass_file="$T_TMP/bypass" \
	-o transport_file="$T_TMP/transport" \
	-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
	-o state_dir="$T_TMP/state" -o helo_name=relay.test \
	-o retry_min=1h -o retry_max=2h -o dest_concurrency=1 \
	>"$T_TMP/relay.log" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start: $(cat "$T_TMP/relay.log")"
expect_match "started: log line" "$(cat "$T_TMP/relay.log")" \
	"metrics: serving GET /metrics on 127\.0\.0\.1:$M"

# Hostile clients, timed in the background: one that says nothing, one
# that trickles a request line a byte a second. Each prints the seconds
# until the relay closed it.
holdconn() {	# MODE: idle | trickle
	python3 - "$M" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.time()
s.settimeout(1.0)
for i in range(60):
    try:
        if sys.argv[2] == "trickle":
            s.send(b"G")
        if s.recv(100) == b"":
            break
    except socket.timeout:
        pass
    except OSError:
        break
print(round(time.time() - t0, 1))
PY
}
holdconn idle >"$T_TMP/idle.t" 2>&1 &
bg $!
holdconn trickle >"$T_TMP/trickle.t" 2>&1 &
bg $!

# 4. The first scrape: nothing delivered yet.
scrape_ok
expect_eq "start: no recipients" "$(nonzero $R)" ""
expect_eq "start: no DANE verdicts" "$(nonzero danemx_dane_verdicts_total)" ""
expect_eq "start: no failures" "$(nonzero danemx_delivery_failures_total)" ""
expect_eq "start: queue" "$(val danemx_queue_messages)" 0
expect_eq "start: oldest" "$(val danemx_queue_oldest_age_seconds)" 0
expect_eq "start: bypass entries" "$(val danemx_bypass_entries)" 2
expect_eq "start: no bogus lookup" \
	"$(val 'danemx_dns_lookups_total{status="bogus"}')" 0
expect_eq "start: every series" "$(wc -l <"$T_TMP/samples")" 48
expect_eq "start: content type" "$(curl -sS --max-time 2 -o /dev/null -w '%{content_type}' \
	"http://127.0.0.1:$M/metrics")" "text/plain; version=0.0.4; charset=utf-8"
expect_eq "404: another path" "$(scrape /)" 404
expect_eq "404: below /metrics" "$(scrape /metrics/x)" 404
expect_eq "405: POST" "$(scrape /metrics -d x=1)" 405
big=$(head -c 9000 /dev/zero | tr '\0' a)
expect_eq "a header past 8 KiB: refused" \
	"$(scrape /metrics -H "X-Big: $big" | sed 's/^[^4].*/not 4xx/; s/^4.*/4xx/')" 4xx

# 5. Known deliveries: two DANE-verified to dane-ee.test over one SMTP
# session, a TLSA mismatch deferred (digest-agility.test: tlsa-invalid),
# a TLSA mismatch on the bypass list sent encrypted, an insecure domain
# sent opportunistic, a bogus TLSA deferred (dnssec-invalid).
ok=$(rcpt metrics-ok dane-ee.test)
agile=$(rcpt metrics-agile digest-agility.test)
byp=$(rcpt metrics-bypass only.dane-mismatch.test)
opp=$(rcpt metrics-opp opp.insecure.test)
bogus=$(rcpt metrics-bogus only.tlsa-bogus.test)
python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$ok" 2 m-ok >/dev/null
for r in "$agile" "$byp" "$opp" "$bogus"; do
	python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$r" 1 m >/dev/null
done
wait_for 60 sh -c "[ \$(grep -c 'to=<$ok>.*status=sent' '$T_TMP/relay.log') = 2 ] &&
	grep -q 'to=<$agile>.*status=deferred' '$T_TMP/relay.log' &&
	grep -q 'to=<$byp>.*status=sent' '$T_TMP/relay.log' &&
	grep -q 'to=<$opp>.*status=sent' '$T_TMP/relay.log' &&
	grep -q 'to=<$bogus>.*status=deferred' '$T_TMP/relay.log'" ||
	fail "not all done: $(cat "$T_TMP/relay.log")"
expect_match "bypass: sent encrypted" "$(cat "$T_TMP/relay.log")" \
	"to=<$byp>, .*tls=encrypted, .*status=sent"
scrape_ok
expect_eq "A: recipients by status and TLS" "$(nonzero $R)" \
"$R{status=\"deferred\",tls=\"none\"} 2
$R{status=\"sent\",tls=\"dane-verified\"} 2
$R{status=\"sent\",tls=\"encrypted\"} 1
$R{status=\"sent\",tls=\"opportunistic\"} 1"
# One DANE-verified session per connection to mx.dane-ee.test that
# carried mail (the second message may reuse the first one's).
sessions=$(grep -c "^Connecting to \[$NET\.10\]:25" "$T_TMP/relay.log")
expect_eq "A: DANE verdicts" "$(nonzero danemx_dane_verdicts_total)" \
"danemx_dane_verdicts_total{verdict=\"bypassed\"} 1
danemx_dane_verdicts_total{verdict=\"failed\"} 1
danemx_dane_verdicts_total{verdict=\"validated\"} $((sessions - 1))"
expect_eq "A: failure classes" "$(nonzero danemx_delivery_failures_total)" \
"danemx_delivery_failures_total{class=\"dnssec-invalid\"} 1
danemx_delivery_failures_total{class=\"tlsa-invalid\"} 2"
expect_eq "A: queue (the two deferred)" "$(val danemx_queue_messages)" 2
bogus1=$(val 'danemx_dns_lookups_total{status="bogus"}')
expect_eq "A: bogus lookups" "$([ "$bogus1" -ge 1 ] && echo yes)" yes
expect_eq "A: secure and insecure lookups" \
	"$([ "$(val 'danemx_dns_lookups_total{status="secure"}')" -ge 5 ] &&
	[ "$(val 'danemx_dns_lookups_total{status="insecure"}')" -ge 1 ] && echo yes)" yes
# The oldest message ages.
wait_for 10 sh -c "curl -s --max-time 2 http://127.0.0.1:$M/metrics |
	grep -q '^danemx_queue_oldest_age_seconds [2-9]'" ||
	fail "oldest age: $(grep oldest "$T_TMP/scrape")"
pass

# 6. Sessions open: an inbound client; outbound ones end after 2 s idle.
python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(512)
time.sleep(30)' $RELAY &
client=$!
bg $client
wait_for 10 sh -c "curl -s --max-time 2 http://127.0.0.1:$M/metrics |
	grep -q '^danemx_sessions_open{direction=\"inbound\"} 1\$'" ||
	fail "inbound session not seen: $(cat "$T_TMP/scrape")"
pass
wait_for 10 sh -c "curl -s --max-time 2 http://127.0.0.1:$M/metrics |
	grep -q '^danemx_sessions_open{direction=\"outbound\"} 0\$'" ||
	fail "outbound sessions: $(cat "$T_TMP/scrape")"
pass
kill $client
wait_for 10 sh -c "curl -s --max-time 2 http://127.0.0.1:$M/metrics |
	grep -q '^danemx_sessions_open{direction=\"inbound\"} 0\$'" ||
	fail "inbound session did not end"
pass

# 7. The hostile clients were closed: idle after 5 s, trickling after 15.
wait_for 25 sh -c "[ -s '$T_TMP/trickle.t' ] && [ -s '$T_TMP/idle.t' ]" ||
	fail "hostile clients still open"
# (libevent times from its cached clock: a busy loop may end one early)
expect_eq "idle client closed after 4-7 s" \
	"$(awk '{print ($1 >= 4 && $1 <= 7) ? "yes" : $1}' "$T_TMP/idle.t")" yes
expect_eq "trickling client closed after 14-17 s" \
	"$(awk '{print ($1 >= 14 && $1 <= 17) ? "yes" : $1}' "$T_TMP/trickle.t")" yes

# 8. Sixteen connections held open: the seventeenth waits, SMTP goes on;
# more deliveries meanwhile: sent to one recipient, the other bounced
# (550 at RCPT), and the bounce to the sender sent.
python3 -c '
import socket, sys, time
c = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for i in range(16)]
time.sleep(60)' $M &
holders=$!
bg $holders
sleep 1
expect_eq "17th connection: no answer while 16 are open" "$(scrape)" 000
ok2=$(rcpt metrics-ok2 dane-ee.test)
rej="reject-$(rcpt metrics-rej dane-ee.test)"
snd=$(rcpt metrics-sender dane-ee.test)
python3 "$INJ" 127.0.0.1 $RELAY "$snd" "$ok2,$rej" 1 m-b >"$T_TMP/injb"
expect_match "SMTP goes on meanwhile" "$(cat "$T_TMP/injb")" "^ok 0"
wait_for 30 sh -c "grep -q 'to=<$ok2>.*status=sent' '$T_TMP/relay.log' &&
	grep -q 'to=<$rej>.*status=bounced' '$T_TMP/relay.log' &&
	grep -q 'to=<$snd>.*status=sent' '$T_TMP/relay.log'" ||
	fail "B not done: $(tail -20 "$T_TMP/relay.log")"
kill $holders
wait_for 5 sh -c "[ \$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' \
	http://127.0.0.1:$M/metrics) = 200 ]" ||
	fail "no scrape after the holders left"
pass

# 9. The second scrape: the increments.
scrape_ok
expect_eq "B: recipients by status and TLS" "$(nonzero $R)" \
"$R{status=\"bounced\",tls=\"dane-verified\"} 1
$R{status=\"deferred\",tls=\"none\"} 2
$R{status=\"sent\",tls=\"dane-verified\"} 4
$R{status=\"sent\",tls=\"encrypted\"} 1
$R{status=\"sent\",tls=\"opportunistic\"} 1"
sessions=$(grep -c "^Connecting to \[$NET\.10\]:25" "$T_TMP/relay.log")
expect_eq "B: DANE verdicts" "$(nonzero danemx_dane_verdicts_total)" \
"danemx_dane_verdicts_total{verdict=\"bypassed\"} 1
danemx_dane_verdicts_total{verdict=\"failed\"} 1
danemx_dane_verdicts_total{verdict=\"validated\"} $((sessions - 1))"
expect_eq "B: failure classes unchanged" \
	"$(nonzero danemx_delivery_failures_total)" \
"danemx_delivery_failures_total{class=\"dnssec-invalid\"} 1
danemx_delivery_failures_total{class=\"tlsa-invalid\"} 2"
expect_eq "B: bogus lookups unchanged" \
	"$(val 'danemx_dns_lookups_total{status="bogus"}')" "$bogus1"
expect_eq "B: queue" "$(val danemx_queue_messages)" 2

# 10. The bypass list read again (SIGHUP): its new size, counting only
# the entries in force (an expired one is read but no longer applies).
# The transport table read again too: a discarded recipient is one
# status=sent line, so it counts as sent without TLS.
printf 'third.example\nold.example until 2020-01-01\n' >>"$T_TMP/bypass"
printf 'drop.example discard\n' >"$T_TMP/transport"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 10 grep -q 'bypass list 4 entries' "$T_TMP/relay.log" ||
	fail "no reload: $(tail -3 "$T_TMP/relay.log")"
scrape_ok
expect_eq "reload: bypass entries in force" "$(val danemx_bypass_entries)" 3
sent0=$(val "$R{status=\"sent\",tls=\"none\"}")
drop=$(rcpt metrics-drop drop.example)
python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$drop" 1 m-drop >/dev/null
wait_for 30 grep -q "to=<$drop>.*status=sent (discarded" "$T_TMP/relay.log" ||
	fail "not discarded: $(tail -3 "$T_TMP/relay.log")"
scrape_ok
expect_eq "discard: one more sent without TLS" \
	"$(val "$R{status=\"sent\",tls=\"none\"}")" $((sent0 + 1))

# 11. A clean stop: no sanitizer report about what the server held.
kill "$(cat "$T_TMP/pid")"
wait_for 20 sh -c "grep -q 'danemx: stopped' '$T_TMP/relay.log' &&
	! kill -0 $(cat "$T_TMP/pid")" || fail "relay did not stop"
expect_eq "no sanitizer report" \
	"$(grep -c 'Sanitizer' "$T_TMP/relay.log")" 0
done_ok
