#!/bin/sh
# serve_privs.sh - the queue's ownership and privilege model, with a real
# relay started as root that drops to a user of its own (danemxtest):
# - root makes the layout (queue directory root's 0711, tmp/ msg/ env/
#   the relay user's 0700, maildrop/ 1733) and the relay user cannot
#   swap its entries; a layout with a link planted in it (or the old
#   one, where the relay user owned the queue directory) is refused
#   with the fix named, and the link's target is left alone; a pid file
#   in a directory the relay user can write is refused, its target too;
# - danemx sendmail and queue hold/release run as root become the relay
#   user first: their files are the relay's, and the mail is delivered;
# - a queue file the relay cannot read is logged once and counted by
#   danemx queue list (text and --json);
# - the pid file is locked: a second relay refuses to start, the file is
#   emptied at exit, and queue flush with a stale pid file signals
#   nobody (the pid's process, of the relay user, lives on);
# - an unknown user is refused with the useradd command that fixes it;
# - the maildrop: directories (full and empty), a FIFO and a link named
#   like drops are moved aside or removed, each logged once, and never
#   block a real drop, which is delivered.
# Root only.
. "$DANEMX_SRCDIR/tests/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "serve_privs: skipped (needs root)"
	done_ok
fi
PY=/usr/bin/python3
RAW="$DANEMX_SRCDIR/tests/servers/smtpraw.py"
PORT=$((4000 + ($$ % 500)))
SINKPORT=$((PORT + 500))
RU=danemxtest
test_user $RU || fail "cannot create the test user $RU"
chmod 0711 "$T_TMP"
mkdir -m 0755 "$T_TMP/run"
Q="$T_TMP/queue"
PIDF="$T_TMP/run/pid"
RELAY=""
SINK=""
SLEEPER=""
cleanup() {
	for p in $RELAY $SINK $SLEEPER; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
# a copy other users can run: the build directory may be in a 0700 home
cp "$DANEMX" "$T_TMP/danemx" && chmod 755 "$T_TMP/danemx"
D="$T_TMP/danemx"
as_ru() { setpriv --reuid=$RU --regid=$RU --clear-groups "$@"; }
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
owner_mode() { stat -c '%U %a' "$1"; }
dq() {	# dq COMMAND ARGS: danemx sendmail or queue with the relay's settings
	cmd=$1
	shift
	"$D" "$cmd" -o user=$RU -o queue_dir="$Q" -o pid_file="$PIDF" "$@"
}

serve() {	# serve [-o ...]: the relay as root, dropping to $RU
	started=$(grep -c "relay started" "$T_TMP/log" 2>/dev/null || true)
	"$D" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$PORT -o queue_dir="$Q" \
		-o user=$RU -o pid_file="$PIDF" -o helo_name=relay.test \
		-o "relayhost=[127.0.0.1]:$SINKPORT" -o retry_min=1h "$@" \
		>>"$T_TMP/log" 2>&1 &
	RELAY=$!
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/log') -gt ${started:-0} ] && [ -s '$PIDF' ]" ||
		fail "relay did not start: $(tail -5 "$T_TMP/log")"
}
must_refuse() {	# must_refuse [-o ...]: serve must exit at once (RC, ERR)
	run_cmd timeout 20 "$D" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$PORT \
		-o queue_dir="$Q" -o user=$RU -o pid_file="$PIDF" "$@"
}
stop() {
	kill "$RELAY"
	wait_for 40 sh -c "! kill -0 $RELAY" || fail "relay did not stop"
	wait "$RELAY"
	expect_eq "relay exit status after SIGTERM" "$?" 0
	RELAY=""
}
$PY "$DANEMX_SRCDIR/tests/servers/faultsmtpd.py" --listen 127.0.0.1:$SINKPORT \
	--mode ok --log "$T_TMP/sink" >"$T_TMP/sink.out" 2>&1 &
SINK=$!
wait_for 10 grep -q ready "$T_TMP/sink.out" || fail "sink did not start"

# An unknown user: refused, with the command that makes it.
must_refuse -o user=danemx-nosuchuser
expect_eq "unknown user: serve exit" "$RC" 78
expect_match "unknown user: serve says how to fix it" "$ERR" \
	"the relay's user 'danemx-nosuchuser' does not exist: create it \(useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin danemx-nosuchuser\)"
run_cmd sh -c "printf 'x\n' | '$D' sendmail -o user=danemx-nosuchuser -o queue_dir='$Q' a@x.test"
expect_eq "unknown user: sendmail as root exit" "$RC" 78
expect_eq "unknown user: nothing made" "$([ -e "$Q" ] && echo made)" ""

# The layout root makes, and the relay running as its user.
serve
expect_eq "layout: queue directory" "$(owner_mode "$Q")" "root 711"
for d in tmp msg env; do
	expect_eq "layout: $d/" "$(owner_mode "$Q/$d")" "$RU 700"
done
expect_eq "layout: maildrop/" "$(owner_mode "$Q/maildrop")" "$RU 1733"
expect_eq "relay runs as its user" "$(stat -c %U /proc/$RELAY)" $RU
u=$(id -u $RU)
expect_eq "the relay has its commit workers (4 smtpd, 2 maildrop)" \
	"$([ "$(ls /proc/$RELAY/task | wc -l)" -ge 7 ] && echo yes)" yes
expect_eq "every thread (commit workers too) has dropped every uid" \
	"$(cat /proc/$RELAY/task/*/status | grep '^Uid:' | grep -cv "^Uid:	$u	$u	$u	$u$")" 0
expect_eq "pid file: the relay's pid" "$(cat "$PIDF")" "$RELAY"
expect_eq "pid file: root's" "$(owner_mode "$PIDF")" "root 644"
expect_eq "the relay user cannot swap tmp/" \
	"$(as_ru sh -c "mv '$Q/tmp' '$Q/tmp.x' && ln -s / '$Q/tmp'" 2>/dev/null; echo $?)" 1

# A second relay with the same pid file: refused.
run_cmd timeout 20 "$D" serve --foreground -o state_dir="$T_TMP/state" -o listen=127.0.0.1:$((PORT + 1)) \
	-o queue_dir="$Q" -o user=$RU -o pid_file="$PIDF"
expect_eq "second relay: exit" "$RC" 71
expect_match "second relay: says who runs" "$ERR" "a relay \(pid $RELAY\) is running with pid file"

# sendmail as root: the message is the relay's, and it is delivered.
out=$(printf 'Subject: fromroot\n\nhello\n' | dq sendmail -f root@relay.test r1@x.test)
expect_eq "sendmail as root: exit" "$?" 0
expect_match "sendmail as root: queue id" "$out" '^[0-9a-f]{16}$'
kill -USR1 "$RELAY"	# read the queue now, not at the next scan
wait_for 20 sh -c "[ \$(grep -c ' fromroot ' '$T_TMP/sink' 2>/dev/null) = 1 ]" ||
	fail "mail from root not delivered: $(tail -5 "$T_TMP/log")"
expect_match "sendmail as root: delivered" "$(cat "$T_TMP/sink")" \
	"^MAIL <root@relay.test> <r1@x.test> [0-9]+ plain fromroot "
printf 'Subject: dflt\n\nx\n' | dq sendmail r2@x.test >/dev/null
kill -USR1 "$RELAY"
wait_for 20 grep -q ' dflt ' "$T_TMP/sink" || fail "second mail from root not delivered"
expect_match "sendmail as root: the default sender is root's" \
	"$(grep ' dflt ' "$T_TMP/sink")" "^MAIL <root@[^>]+> <r2@x.test> "

# queue flush with the relay running: signalled.
run_cmd dq queue flush
expect_eq "flush: signalled" "$OUT" "queue: the relay retries every message now"
wait_for 10 grep -q 'flush: holds lifted' "$T_TMP/log" || fail "flush not received"

# A file the relay cannot read (as root once wrote them): said once, loudly,
# and counted by queue list.
BAD=$(printf 'Subject: unreadable\n\nx\n' | "$D" sendmail -o user= -o queue_dir="$Q" r3@x.test)
expect_eq "unreadable: root-owned" "$(owner_mode "$Q/msg/$BAD")" "root 600"
flushes=$(grep -c 'flush: holds lifted, queue read again' "$T_TMP/log")
kill -USR1 "$RELAY"
wait_for 10 grep -q "$BAD: .*the relay cannot read this message" "$T_TMP/log" ||
	fail "unreadable file not logged: $(tail -3 "$T_TMP/log")"
kill -USR1 "$RELAY"
sleep 0.3
kill -USR1 "$RELAY"
wait_for 10 sh -c "[ \$(grep -c 'flush: holds lifted, queue read again' '$T_TMP/log') -ge $((flushes + 3)) ]" ||
	fail "the relay did not read its queue three times"
expect_eq "unreadable: logged once" "$(grep -c "$BAD: .*the relay cannot read this message" "$T_TMP/log")" 1
expect_match "unreadable: the log says who owns it" "$(cat "$T_TMP/log")" \
	"queue: $BAD: Permission denied: the relay cannot read this message, so it is neither delivered nor bounced \(msg/$BAD: owner uid 0, mode 0600; the relay runs as uid $(id -u $RU)\)"
run_cmd dq queue list
expect_match "unreadable: listed" "$OUT" "^$BAD \(cannot be read: Permission denied\)$"
expect_match "unreadable: counted" "$ERR" "^danemx queue: 1 message cannot be read by the relay's user"
expect_eq "unreadable: in --json" \
	"$(dq queue --json list | jq -c ".[] | select(.id == \"$BAD\") | [.unreadable, .error]")" \
	'[true,"Permission denied"]'
chown $RU:$RU "$Q/msg/$BAD"
kill -USR1 "$RELAY"
wait_for 20 grep -q ' unreadable ' "$T_TMP/sink" || fail "fixed file not delivered"

# The maildrop: junk named like drops, by another local user, blocks
# nothing; each piece is logged once and none is said to be "removed"
# when it is not.
asnobody $PY - "$Q/maildrop" <<'PYEOF'
import os, secrets, sys
d = sys.argv[1]
for i in range(150):
    h = secrets.token_hex(16)
    if i % 2:		# not empty: cannot be removed; made whole first
        os.mkdir(os.path.join(d, "s" + h))
        os.mkdir(os.path.join(d, "s" + h, "x"))
        os.rename(os.path.join(d, "s" + h), os.path.join(d, "m" + h))
    else:
        os.mkdir(os.path.join(d, "m" + h))
os.mkfifo(os.path.join(d, "m" + secrets.token_hex(16)))
os.symlink("/etc/passwd", os.path.join(d, "m" + secrets.token_hex(16)))
PYEOF
out=$(printf 'Subject: viadrop\n\nhello\n' | asnobody "$D" sendmail -o queue_dir="$Q" -f dave@client.test erin@x.test)
expect_eq "maildrop: exit" "$?" 0
wait_for 20 grep -q ' viadrop ' "$T_TMP/sink" ||
	fail "a drop behind junk not delivered: $(tail -3 "$T_TMP/log")"
expect_eq "maildrop: junk moved aside once each" \
	"$(grep -c 'maildrop: m[0-9a-f]*: not a drop but a directory of uid 65534: moved aside as maildrop/bad-m' "$T_TMP/log")" 75
expect_eq "maildrop: empty directories removed" \
	"$(grep -c 'maildrop: m[0-9a-f]*: not a drop but a directory of uid 65534: removed' "$T_TMP/log")" 75
expect_eq "maildrop: the FIFO and the link removed" \
	"$(grep -c 'maildrop: m[0-9a-f]*: not a drop but a \(FIFO\|symbolic link\) of uid 65534: removed' "$T_TMP/log")" 2
expect_eq "maildrop: what the log says is removed is gone" \
	"$(grep -o 'maildrop: [mt][0-9a-f]\{32\}: .*removed$' "$T_TMP/log" | cut -d' ' -f2 | tr -d : |
	  while read -r n; do [ -e "$Q/maildrop/$n" ] && echo "$n"; done | wc -l)" 0
expect_eq "maildrop: no drop-named junk left" \
	"$(ls "$Q/maildrop" | grep -c '^[mt][0-9a-f]\{32\}$')" 0
sleep 1.2	# another round: nothing is logged twice
expect_eq "maildrop: each logged once" \
	"$(grep -c 'maildrop: m[0-9a-f]*: not a drop' "$T_TMP/log")" 152
printf 'EHLO c.test\nQUIT\n' | $PY "$RAW" 127.0.0.1 $PORT >"$T_TMP/out"
expect_eq "maildrop: the relay still answers" "$(head -n 1 "$T_TMP/out" | cut -c1-4)" "220 "

# hold and release as root: the envelope is the relay's; release signals
# the relay, which delivers.
stop
ID=$(printf 'Subject: holdme\n\nx\n' | dq sendmail r4@x.test)
run_cmd dq queue hold "$ID"
expect_eq "hold as root: exit" "$RC" 0
expect_eq "hold as root: the envelope is the relay's" "$(owner_mode "$Q/env/$ID")" "$RU 600"
expect_eq "relay stopped: pid file emptied" "$(stat -c %s "$PIDF")" 0

# A stale pid file naming a live process of the relay's user: queue
# flush signals nobody (SIGUSR2 would kill it).
setpriv --reuid=$RU --regid=$RU --clear-groups sleep 60 &
SLEEPER=$!
wait_for 5 sh -c "[ \$(stat -c %U /proc/$SLEEPER) = $RU ]"
echo "$SLEEPER" >"$PIDF"
run_cmd dq queue flush
sleep 0.2
expect_eq "stale pid file: the process lives" "$(kill -0 "$SLEEPER" 2>/dev/null && echo alive)" alive
expect_match "stale pid file: nobody signalled" "$ERR" \
	"no relay running \(pid file $PIDF names $SLEEPER, but no relay holds its lock: stale\)"
run_cmd dq queue release "$ID"
expect_eq "stale pid file: release signals nobody" \
	"$(kill -0 "$SLEEPER" 2>/dev/null && echo alive)" alive
kill "$SLEEPER"
SLEEPER=""

serve
wait_for 20 grep -q ' holdme ' "$T_TMP/sink" || fail "released message not delivered"
stop

# Layouts root must refuse. The old one: the queue directory belonged to
# the relay's user, who could swap tmp/ for a link to a directory whose
# old files root's start would sweep (and chown). Root's start refuses,
# and the target is left alone.
mkdir -m 0755 "$T_TMP/victim"
touch -d '3 days ago' "$T_TMP/victim/old"
chown $RU "$Q"
as_ru sh -c "mv '$Q/tmp' '$Q/tmp.x' && ln -s '$T_TMP/victim' '$Q/tmp'" ||
	fail "the relay user could not plant the link in the old layout"
must_refuse
expect_eq "old layout: refused" "$RC" 73
expect_match "old layout: the fix" "$ERR" \
	"queue directory $Q is owned by uid $(id -u $RU) with mode 0711: it must belong to root .* fix it with chown root:root $Q && chmod 0711 $Q \(look at what is in it first\); its tmp, msg, env and maildrop belong to the relay's user: chown -R $RU: $Q/tmp $Q/msg $Q/env && chown $RU: $Q/maildrop$"
chown root "$Q"
must_refuse
expect_eq "tmp/ a link: refused" "$RC" 73
expect_match "tmp/ a link: says so" "$ERR" "$Q/tmp: Not a directory: it must be a directory, not a link or a file: remove it"
expect_eq "tmp/ a link: target's owner and mode kept" "$(owner_mode "$T_TMP/victim")" "root 755"
expect_eq "tmp/ a link: target's old file kept" "$(ls "$T_TMP/victim")" old
rm "$Q/tmp"
mv "$Q/tmp.x" "$Q/tmp"
# maildrop/ swapped for a link (as root, standing in for any way it got
# there): root would have made the target 1733.
mv "$Q/maildrop" "$Q/maildrop.x"
ln -s "$T_TMP/victim" "$Q/maildrop"
must_refuse
expect_eq "maildrop/ a link: refused" "$RC" 73
expect_eq "maildrop/ a link: target's mode kept" "$(owner_mode "$T_TMP/victim")" "root 755"
rm "$Q/maildrop"
mv "$Q/maildrop.x" "$Q/maildrop"
# msg/ of root (as danemx serve run without user= leaves it): refused,
# because the relay could not read what is in it.
chown root "$Q/msg"
must_refuse
expect_eq "msg/ of root: refused" "$RC" 73
expect_match "msg/ of root: the fix" "$ERR" "$Q/msg is owned by uid 0, not by the relay's user $RU .*: fix it with chown -R $RU: $Q/msg"
chown $RU "$Q/msg"
# A pid file where the relay user can write: a link there would make
# root truncate and write its target.
echo precious >"$T_TMP/victim/file"
as_ru ln -s "$T_TMP/victim/file" "$Q/tmp/pid"
must_refuse -o pid_file="$Q/tmp/pid"
expect_eq "pid file in the relay user's directory: refused" "$RC" 71
expect_match "pid file in the relay user's directory: says why" "$ERR" \
	"pid_file $Q/tmp/pid: $Q/tmp: owned by uid $(id -u $RU) with mode 0700: a directory root uses must belong to root"
expect_eq "pid file in the relay user's directory: target kept" "$(cat "$T_TMP/victim/file")" precious

# Put right, it starts again.
serve
stop
expect_eq "sanitizers quiet" "$(grep -c 'Sanitizer\|runtime error' "$T_TMP/log")" 0
done_ok
