#!/bin/sh
# serve_stream.sh - messages stream to the next hop a chunk at a time
# (smtp/smtp_client.c reads the body from memory or, in the relay, from
# the queue file through src/sched): multi-megabyte messages arrive
# byte for byte (danemx send, and danemx serve from SMTP and from danemx
# sendmail), MAIL FROM's SIZE= is the octets on the wire, a lone CR or LF
# neither splits a header nor ends the data early, and the relay's memory
# does not grow with message size x destinations: one 3 MB message to 40
# destinations, all held at the end of DATA at once, adds a few MiB where
# holding the message per delivery took 240.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
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

BASE=$((5000 + ($$ % 100) * 5))
SINK=$((BASE + 1)); RELAY=$((BASE + 2))
Q="$T_TMP/queue"
NDEST=40
HOLDNET=127.0.71

sink() {	# sink NAME MODE [faultsmtpd options...]: sets SPID
	name=$1 mode=$2
	shift 2
	mkdir -p "$T_TMP/$name"
	$PY "$SRV" --mode "$mode" --cert "$T_TMP/cert.pem" --key "$T_TMP/key.pem" \
		--log "$T_TMP/$name.log" --data "$T_TMP/$name" "$@" \
		>"$T_TMP/$name.out" 2>&1 &
	SPID=$!
	PIDS="$PIDS $SPID"
	wait_for 10 grep -q ready "$T_TMP/$name.out" || fail "sink $name did not start"
}
serve() {	# serve [-o ...]
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
		-o helo_name=relay.test -o retry_min=1s -o retry_max=2s \
		"$@" >>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	rc=0
	wait "$pid" || rc=$?
	expect_eq "relay stopped cleanly (exit status)" "$rc" 0
	rm -f "$T_TMP/pid"
}
# gen BYTES FILE: a message of CRLF lines up to 990 octets, one in ten
# starting with ".", some a lone "."; the same every run
gen() {
	$PY - "$1" "$2" <<'PYEOF'
import random, sys
random.seed(7672)
want, out = int(sys.argv[1]), [b"Subject: big\r\nFrom: <a@x.test>\r\n\r\n"]
n = len(out[0])
while n < want:
    r = random.random()
    line = b"." if r < 0.01 else (b"." if r < 0.1 else b"") + bytes(
        random.choice(b"abcdefgh .:-") for _ in range(random.randint(0, 990)))
    out.append(line + b"\r\n")
    n += len(line) + 2
open(sys.argv[2], "wb").write(b"".join(out))
PYEOF
}
# stuffed FILE: its octets on the wire (one more per line that starts with ".")
stuffed() { echo $(( $(wc -c <"$1") + $(grep -c '^\.' "$1") )); }
inject() {	# inject FILE RCPT[,RCPT...]: over SMTP into the relay
	$PY - "$RELAY" "$1" "$2" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
s.sendmail("a@x.test", sys.argv[3].split(","), open(sys.argv[2], "rb").read())
s.quit()
PYEOF
}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$(cat "$T_TMP/pid")/status"; }

gen 4200000 "$T_TMP/big.eml"
WIRE=$(stuffed "$T_TMP/big.eml")

# danemx send: the message from memory, in chunks, byte for byte.
sink s1 ok --listen 127.0.0.1:$SINK
run_cmd "$DANEMX" --timeout 30 send --from a@x.test --to b@y.test \
	--nexthop "[127.0.0.1]:$SINK" <"$T_TMP/big.eml"
expect_eq "send: exit ($ERR)" "$RC" 0
cmp -s "$T_TMP/big.eml" "$T_TMP/s1/msg-1" || fail "send: the message arrived changed"
pass
expect_eq "send: SIZE= and the octets on the wire" "$(cat "$T_TMP/s1/msg-1.size")" "$WIRE $WIRE"
kill "$SPID"

# danemx serve: from the queue file, a chunk at a time. The sink refuses
# bad@y.test: the DSN returns the headers, read from the file's start.
sink s2 rcpt-5xx --listen 127.0.0.1:$SINK
serve -o "relayhost=[127.0.0.1]:$SINK"
inject "$T_TMP/big.eml" c@y.test,bad@y.test || fail "inject: the relay did not take the message"
wait_for 60 test -e "$T_TMP/s2/msg-1" || fail "serve: not delivered: $(tail -3 "$T_TMP/relay.log")"
# The relay adds its Received header; the rest is the message.
expect_match "serve: a Received header first" "$(head -n 1 "$T_TMP/s2/msg-1")" "^Received: from "
tail -c "$(wc -c <"$T_TMP/big.eml")" "$T_TMP/s2/msg-1" | cmp -s - "$T_TMP/big.eml" ||
	fail "serve: the message arrived changed"
pass
hlen=$(( $(wc -c <"$T_TMP/s2/msg-1") - $(wc -c <"$T_TMP/big.eml") ))
expect_eq "serve: SIZE= and the octets on the wire" "$(cat "$T_TMP/s2/msg-1.size")" \
	"$((WIRE + hlen)) $((WIRE + hlen))"
wait_for 20 test -e "$T_TMP/s2/msg-2" || fail "no DSN: $(tail -3 "$T_TMP/relay.log")"
expect_eq "DSN: to the sender" "$(sed -n 2p "$T_TMP/s2.log" | cut -d' ' -f2,3)" "<> <a@x.test>"
expect_eq "DSN: the original headers, and only those" "$($PY -c 'import sys
d = open(sys.argv[1], "rb").read().decode("latin-1")
part = d.split("text/rfc822-headers\r\n\r\n", 1)[1].split("\r\n--", 1)[0]
print(" ".join(l.split(":")[0] for l in part.split("\r\n") if l and l[0] not in " \t"))' "$T_TMP/s2/msg-2")" \
	"Received Subject From"
expect_eq "DSN: not the body" "$([ "$(wc -c <"$T_TMP/s2/msg-2")" -lt 20000 ] && echo small)" small

# danemx sendmail may queue anything: a lone CR becomes a space (no new
# header line, no "." line for a receiver that ends lines at CR), a lone
# LF a line end, and every "." line is stuffed.
printf 'X-Bare: a\rb\nSubject: bare\n\n.\nx\r.\ry\r\n.\rz\n\rend' |
	"$DANEMX" sendmail -i -o user= -o queue_dir="$Q" -f s@x.test d@y.test >/dev/null ||
	fail "sendmail failed"
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 20 test -e "$T_TMP/s2/msg-3" || fail "sendmail message not delivered"
expect_eq "lone CR: one header line" "$(grep -c '^X-Bare: a b' "$T_TMP/s2/msg-3")" 1
expect_eq "lone CR: no line starts with b" "$(grep -c '^b' "$T_TMP/s2/msg-3")" 0
expect_eq "lone CR and LF: the body" "$($PY -c 'import sys
d = open(sys.argv[1], "rb").read()
print(repr(d[d.index(b"\r\n\r\n"):]))' "$T_TMP/s2/msg-3")" "b'\\r\\n\\r\\n.\\r\\nx . y\\r\\n. z\\r\\n end\\r\\n'"
expect_eq "lone CR and LF: no extra message for the sink" "$(wc -l <"$T_TMP/s2.log")" 3
stop
kill "$SPID"

# Memory: 40 destinations ([127.0.71.K] literals, port 25), the sink
# holds each at its end of DATA until all 40 are there. ASan's quarantine
# would keep every freed chunk: off for this relay, so RSS is what a
# release build holds.
listen=""
k=1
while [ $k -le $NDEST ]; do
	listen="$listen --listen $HOLDNET.$k:25"
	rcpts="${rcpts:+$rcpts,}u$k@[$HOLDNET.$k]"
	k=$((k + 1))
done
# shellcheck disable=SC2086
sink hold hold --release "$T_TMP/release" $listen
gen 3000000 "$T_TMP/3m.eml"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0" \
	serve -o max_deliveries=100 -o dest_concurrency=5
sleep 1
rss0=$(rss)
inject "$T_TMP/3m.eml" "$rcpts" || fail "inject to $NDEST destinations"
wait_for 120 grep -q "^HELD $NDEST\$" "$T_TMP/hold.out" ||
	fail "the sink holds $(tail -1 "$T_TMP/hold.out") of $NDEST: $(tail -3 "$T_TMP/relay.log")"
sleep 1
rss1=$(rss)
grow=$(( (rss1 - rss0) / 1024 ))
echo "serve_stream: VmRSS $((rss0 / 1024)) MiB before, $((rss1 / 1024)) MiB with a 3 MB message held at the end of DATA at $NDEST destinations (+$grow MiB)"
[ $grow -lt 48 ] || fail "memory: +$grow MiB for $NDEST deliveries of a 3 MB message (the message is held per delivery?)"
pass
: >"$T_TMP/release"
wait_for 60 sh -c "[ \$(grep -c 'status=sent' '$T_TMP/relay.log') -ge $((NDEST + 3)) ]" ||
	fail "not all $NDEST sent: $(grep -c 'status=sent' "$T_TMP/relay.log")"
expect_eq "memory: every destination got it whole" \
	"$(cd "$T_TMP/hold" && for f in msg-[0-9]*; do case $f in *.size) ;; *)
		tail -c "$(wc -c <"$T_TMP/3m.eml")" "$f" | cmp -s - "$T_TMP/3m.eml" && echo ok;;
		esac; done | wc -l)" $NDEST
stop

done_ok
