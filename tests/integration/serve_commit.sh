#!/bin/sh
# serve_commit.sh - the relay's queue commits run on worker threads while
# the session waits: many concurrent sessions each get 250 and every id
# acknowledged is in the queue, whole; what a client pipelines after the
# final "." (QUIT, a whole next message) is answered only after the 250,
# in order; a commit that fails (the envelope does not fit on the disk)
# is 452 and leaves nothing; kill -9 amid concurrent commits loses no
# acknowledged message; SIGTERM amid them exits cleanly with every
# acknowledged message queued. The next hop is a closed port and retries
# are an hour away, so every message stays in the queue to be counted.
# With the free-space reserve (queue_minfree), a disk filled over SMTP
# refuses new mail with 452 at MAIL FROM while the results of a delivery
# are still recorded, so nothing is delivered twice.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
RAW="$DANEMX_SRCDIR/tests/servers/smtpraw.py"
PORT=$((18000 + ($$ % 1000)))
Q="$T_TMP/queue"
cleanup() {
	[ -s "$T_TMP/pid" ] && kill -9 "$(cat "$T_TMP/pid")" 2>/dev/null
	[ -n "${SINK:-}" ] && kill "$SINK" 2>/dev/null
	sleep 0.2
	[ -n "${SMALL:-}" ] && umount "$SMALL" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

serve() {	# serve QUEUE_DIR [-o ...]: start the relay in the background
	started=$(grep -c "relay started" "$T_TMP/log" 2>/dev/null || true)
	qd=$1
	shift
	"$DANEMX" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$PORT \
		-o queue_dir="$qd" -o user= -o pid_file="$T_TMP/pid" \
		-o helo_name=relay.test -o max_sessions=50 \
		-o "relayhost=[127.0.0.1]:1" -o retry_min=1h "$@" >>"$T_TMP/log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/log")"
}
stopped() {	# stopped PID: wait for the relay to exit after SIGTERM
	wait_for 40 sh -c "! kill -0 $1" || fail "relay did not stop"
	wait "$1"
	expect_eq "relay exit status after SIGTERM" "$?" 0
	rm -f "$T_TMP/pid"
}
talk() { $PY "$RAW" 127.0.0.1 $PORT; }

# clients SESSIONS MESSAGES TAG: that many concurrent sessions, each sending
# that many messages; one line per message, "ok ID" (the id in the 250) or
# "fail ...". A session that fails reconnects and goes on (kill -9 below).
clients() {
	$PY - 127.0.0.1 $PORT "$@" <<'PYEOF'
import re, smtplib, sys, threading, time
host, port, nsess, nmsg, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
out, lock, start = [], threading.Lock(), threading.Barrier(int(sys.argv[3]))
def session(k):
    s = None
    start.wait()
    for i in range(nmsg):
        try:
            if s is None:
                s = smtplib.SMTP(host, port, timeout=60)
                s.ehlo("c%d.test" % k)
            s.mail("s%d@client.test" % k)
            s.rcpt("r%d-%d@x.test" % (k, i))
            code, resp = s.data("Subject: %s-%d-%d\r\n\r\nbody\r\n" % (tag, k, i))
            m = re.search(r"queued as ([0-9a-f]{16})$", resp.decode())
            line = "ok %s" % m.group(1) if code == 250 and m else "fail %d %s" % (code, resp)
        except Exception as e:
            line = "fail %s" % str(e).replace("\n", " ")
            try:
                s.close()
            except Exception:
                pass
            s = None
            time.sleep(0.2)
        with lock:
            print(line, flush=True)
    if s is not None:
        try:
            s.quit()
        except Exception:
            pass
ts = [threading.Thread(target=session, args=(k,)) for k in range(nsess)]
for t in ts: t.start()
for t in ts: t.join()
PYEOF
}

# acked_in_queue FILE: how many "ok ID" lines of FILE have a whole message
# (msg/ID) in the queue
acked_in_queue() {
	n=0
	for id in $(awk '$1 == "ok" {print $2}' "$1"); do
		[ -f "$Q/msg/$id" ] && n=$((n + 1))
	done
	echo $n
}

serve "$Q"

# Pipelined after the final dot: QUIT comes after the 250, never before.
printf 'EHLO c.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\n!RAW b"Subject: pipe\\r\\n\\r\\nbody\\r\\n.\\r\\nQUIT\\r\\n"\n' |
	talk >"$T_TMP/out"
expect_match "pipelined QUIT: 250 first" "$(sed -n 11p "$T_TMP/out")" "^250 2\.0\.0 Ok: queued as [0-9a-f]{16}$"
expect_eq "pipelined QUIT: then 221" "$(sed -n 12p "$T_TMP/out")" "221 2.0.0 Bye"
expect_eq "pipelined QUIT: then closed" "$(sed -n 13p "$T_TMP/out")" "(closed)"
ID=$(sed -n 11p "$T_TMP/out" | awk '{print $NF}')
expect_eq "pipelined QUIT: queued" "$([ -f "$Q/msg/$ID" ] && echo yes)" yes
expect_match "pipelined QUIT: logged" "$(cat "$T_TMP/log")" \
	"$ID: from=<a@b\.test>, nrcpt=1, size=[0-9]+, client=127\.0\.0\.1"

# A hostile client sends two whole messages and QUIT in one write: the
# session pauses at each dot, and every reply comes in order.
printf '!RAW b"EHLO c.test\\r\\nMAIL FROM:<a@b.test>\\r\\nRCPT TO:<c@d.test>\\r\\nDATA\\r\\nSubject: one\\r\\n\\r\\n.\\r\\nRSET\\r\\nMAIL FROM:<a@b.test>\\r\\nRCPT TO:<e@d.test>\\r\\nDATA\\r\\nSubject: two\\r\\n\\r\\n..dot\\r\\n.\\r\\nQUIT\\r\\n"\n' |
	talk >"$T_TMP/out"
expect_eq "two pipelined messages: replies in order" \
	"$(grep -v '^250-' "$T_TMP/out" | cut -c1-3 | tr '\n' ' ')" \
	"220 250 250 250 354 250 250 250 250 354 250 221 (cl "
expect_eq "two pipelined messages: both queued" \
	"$(grep -o 'queued as [0-9a-f]*' "$T_TMP/out" | awk '{print $3}' | while read -r id; do [ -f "$Q/msg/$id" ] && echo "$id"; done | wc -l)" 2

# Many sessions at once: 20 concurrent clients, 10 messages each.
before=$(find "$Q/msg" -type f | wc -l)
clients 20 10 conc >"$T_TMP/conc"
expect_eq "concurrent: every message acknowledged" "$(grep -c '^ok ' "$T_TMP/conc")" 200
expect_eq "concurrent: every id distinct" "$(awk '{print $2}' "$T_TMP/conc" | sort -u | wc -l)" 200
expect_eq "concurrent: every acknowledged id in the queue" "$(acked_in_queue "$T_TMP/conc")" 200
expect_eq "concurrent: nothing else queued" "$(($(find "$Q/msg" -type f | wc -l) - before))" 200
expect_eq "concurrent: every id logged once" \
	"$(awk '$1 == "ok" {print $2}' "$T_TMP/conc" | while read -r id; do grep -c "^$id: from=<s[0-9]*@client.test>, nrcpt=1," "$T_TMP/log"; done | sort -u)" 1

# Postfix's smtp-source, 20 sessions (it fails on any reply but 2xx/3xx).
if command -v smtp-source >/dev/null 2>&1; then
	before=$(find "$Q/msg" -type f | wc -l)
	smtp-source -s 20 -m 200 -c -f from@client.test -t to@x.test \
		127.0.0.1:$PORT >"$T_TMP/ss.out" 2>&1
	expect_eq "smtp-source: exit" "$?" 0
	expect_eq "smtp-source: all queued" "$(($(find "$Q/msg" -type f | wc -l) - before))" 200
else
	echo "serve_commit: smtp-source not installed; skipped"
fi
expect_eq "queue whole: every message file has its envelope" \
	"$(for f in "$Q"/msg/*; do tail -c 43 "$f" | grep -q '^#DMXENV [0-9a-f]\{16\} [0-9a-f]\{16\}$' || echo "$f"; done | wc -l)" 0

# kill -9 amid concurrent commits: every acknowledged message is there.
clients 10 20 crash >"$T_TMP/crash" &
CPID=$!
wait_for 20 sh -c "[ \$(grep -c '^ok' '$T_TMP/crash') -ge 40 ]" || true
kill -9 "$(cat "$T_TMP/pid")"
rm -f "$T_TMP/pid"
sleep 0.3
serve "$Q"
wait "$CPID"
acked=$(grep -c '^ok' "$T_TMP/crash")
echo "serve_commit: kill -9: $acked of 200 acknowledged"
expect_eq "kill -9: some acknowledged" "$([ "$acked" -ge 40 ] && echo yes)" yes
expect_eq "kill -9: every acknowledged message queued" "$(acked_in_queue "$T_TMP/crash")" "$acked"

# SIGTERM amid concurrent commits: the sessions finish, the relay exits 0
# (ASan: nothing leaked, the threads joined), nothing acknowledged lost.
clients 10 20 term >"$T_TMP/term" &
CPID=$!
wait_for 20 sh -c "[ \$(grep -c '^ok' '$T_TMP/term') -ge 20 ]" || true
pid=$(cat "$T_TMP/pid")
kill "$pid"
wait "$CPID"
stopped "$pid"
expect_match "SIGTERM: stopped" "$(tail -n 3 "$T_TMP/log")" "danemx: stopped"
acked=$(grep -c '^ok' "$T_TMP/term")
expect_eq "SIGTERM: every acknowledged message queued" "$(acked_in_queue "$T_TMP/term")" "$acked"

# A commit that fails on the worker (the body fits on the disk, the
# envelope trailer appended at commit does not) is 452 after the dot,
# and leaves nothing behind. The body is about 4010 octets (Received
# header included): one page, but not with the 168-octet trailer.
# No reserve here (queue_minfree=0): the write itself fails.
# Root only (mount).
SMALL="$T_TMP/small"
mkdir -p "$SMALL"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k tmpfs "$SMALL" 2>/dev/null; then
	serve "$SMALL/q" -o queue_minfree=0
	# Leave exactly one free page: enough for the body, not the trailer.
	avail=$(df -B4096 --output=avail "$SMALL" | tail -n 1)
	dd if=/dev/zero of="$SMALL/fill" bs=4096 count=$((avail - 1)) 2>/dev/null
	x=$(printf '%3848s' '' | tr ' ' x)
	printf 'EHLO c.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\n!RAW b"Subject: full\\r\\n\\r\\n%s\\r\\n.\\r\\nQUIT\\r\\n"\n' "$x" |
		talk >"$T_TMP/out"
	expect_eq "full disk: 452 after the dot" "$(sed -n 11p "$T_TMP/out")" "452 4.3.1 Insufficient system storage"
	expect_eq "full disk: then 221" "$(sed -n 12p "$T_TMP/out")" "221 2.0.0 Bye"
	expect_match "full disk: reason logged" "$(cat "$T_TMP/log")" \
		"message not queued: queue write: No space left on device"
	expect_eq "full disk: no leftovers" "$(find "$SMALL/q" -type f | wc -l)" 0
	rm -f "$SMALL/fill"
	printf 'EHLO c.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\n!RAW b"Subject: room\\r\\n\\r\\nbody\\r\\n.\\r\\nQUIT\\r\\n"\n' |
		talk >"$T_TMP/out"
	expect_match "full disk: room again, 250" "$(sed -n 11p "$T_TMP/out")" "^250 2\.0\.0 Ok: queued as "
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	stopped "$pid"
	umount "$SMALL"
else
	echo "serve_commit: full-disk case skipped (needs root and tmpfs)"
fi

# The reserve (queue_minfree): a 1 MiB disk, 256 KiB of it reserved. A
# message to ok@ and defer@ waits (its next hop is down). Clients then
# fill the disk over SMTP, as anyone allowed to relay can: new mail gets
# 452 4.3.1 at MAIL FROM once the disk is down to the reserve. The next
# hop comes up and takes ok@ (defer@ is deferred): that result must be
# recorded, so the next retry sends defer@ alone and ok@ arrives once.
# Without the reserve the disk fills to the last block, the envelope
# update fails and ok@ is sent again at the next retry.
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$SMALL" 2>/dev/null; then
	SINKPORT=$((PORT + 1000))
	serve "$SMALL/q" -o queue_minfree=256k -o "relayhost=[127.0.0.1]:$SINKPORT"
	printf 'EHLO c.test\nMAIL FROM:<a@b.test>\nRCPT TO:<ok@x.test>\nRCPT TO:<defer@x.test>\nDATA\n!RAW b"Subject: once\\r\\n\\r\\nbody\\r\\n.\\r\\nQUIT\\r\\n"\n' |
		talk >"$T_TMP/out"
	M=$(grep -o 'queued as [0-9a-f]*' "$T_TMP/out" | awk '{print $3}')
	expect_match "reserve: queued" "$M" '^[0-9a-f]{16}$'
	wait_for 10 test -f "$SMALL/q/env/$M" || fail "first attempt not recorded: $(tail -5 "$T_TMP/log")"
	# Fill: 32 KiB messages until refused, then one-line ones; then a
	# MAIL FROM that announces 32 KiB finds the disk down to the reserve.
	$PY - 127.0.0.1 $PORT >"$T_TMP/fill" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
s.ehlo("filler.test")
for size in (32768, 10, 0):
    for i in range(300):
        code, resp = s.mail("f@client.test", ["SIZE=32768"] if size == 0 else [])
        if size == 0 or code != 250:
            print("mail %d %s" % (code, resp.decode())); sys.exit(0)
        s.rcpt("defer-fill@x.test")
        code, resp = s.data("Subject: fill\r\n\r\n" + "y" * size + "\r\n")
        if code != 250:
            print("dot %d %s" % (code, resp.decode()))
            s.rset()
            break
        print("ok")
PYEOF
	expect_eq "reserve: the disk filled up to the reserve: 452 at MAIL FROM" \
		"$(tail -n 1 "$T_TMP/fill")" "mail 452 4.3.1 Insufficient system storage"
	expect_match "reserve: refusal logged" "$(cat "$T_TMP/log")" \
		"smtpd: new mail refused: the queue's file system has [0-9]+ KiB free for the message, less than queue_minfree \(256 KiB\) plus its size"
	run_cmd sh -c "printf 'Subject: s\n\nx\n' | '$DANEMX' sendmail -o user= -o queue_minfree=256k -o queue_dir='$SMALL/q' a@x.test"
	expect_eq "reserve: sendmail exit 75" "$RC" 75
	# The next hop comes up; everything is retried now.
	$PY "$DANEMX_SRCDIR/tests/servers/faultsmtpd.py" --listen 127.0.0.1:$SINKPORT \
		--mode rcpt-defer --log "$T_TMP/sink" >"$T_TMP/sink.out" 2>&1 &
	SINK=$!
	wait_for 10 grep -q ready "$T_TMP/sink.out" || fail "sink did not start"
	"$DANEMX" queue -o user= -o queue_dir="$SMALL/q" -o pid_file="$T_TMP/pid" flush >/dev/null
	wait_for 20 grep -q "^$M: to=<defer@x.test>.*status=deferred (451" "$T_TMP/log" ||
		fail "not retried: $(tail -5 "$T_TMP/log")"
	expect_eq "reserve: ok@ sent" "$(grep -c "^MAIL <a@b.test> <ok@x.test> " "$T_TMP/sink")" 1
	expect_eq "reserve: the result recorded" \
		"$("$DANEMX" queue -o user= -o queue_dir="$SMALL/q" --json show "$M" | jq -r '.recipients[0].state')" sent
	expect_eq "reserve: no envelope update failed" "$(grep -c 'cannot update the envelope' "$T_TMP/log")" 0
	# The next retry sends defer@ alone.
	"$DANEMX" queue -o user= -o queue_dir="$SMALL/q" -o pid_file="$T_TMP/pid" flush >/dev/null
	wait_for 20 sh -c "[ \$(grep -c '^$M: to=<defer@x.test>.*status=deferred (451' '$T_TMP/log') -ge 2 ]" ||
		fail "not retried again: $(tail -5 "$T_TMP/log")"
	expect_eq "reserve: ok@ delivered once" "$(grep -c "^MAIL <a@b.test> <ok@x.test> " "$T_TMP/sink")" 1
	expect_eq "reserve: ok@ sent once" "$(grep -c "^$M: to=<ok@x.test>.*status=sent" "$T_TMP/log")" 1
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	stopped "$pid"
	kill "$SINK"
	SINK=""
	umount "$SMALL"
else
	echo "serve_commit: reserve case skipped (needs root and tmpfs)"
fi
SMALL=""
expect_eq "sanitizers quiet" "$(grep -c 'Sanitizer\|runtime error' "$T_TMP/log")" 0

done_ok
