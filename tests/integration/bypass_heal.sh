#!/bin/sh
# bypass_heal.sh - the DANE bypass list that heals itself (issue 14),
# against the world's DNSSEC and Postfix MX hosts, with a recheck every
# 2 s (bypass_recheck_interval):
#   - danemx bypass add writes the list (stamped "added", --until kept,
#     --for made absolute), refuses a symbolic link, and remove drops a
#     line;
#   - a bypassed domain whose TLSA record does not match its MX gets its
#     mail through the bypass; the recheck says it is still needed; once
#     the record is fixed in DNS (world.sh add) the recheck retires the
#     entry with the line "DANE bypass for D no longer needed: validated
#     successfully (3 1 1 at depth 0)", and list says "retired";
#   - an entry "until" a time a few seconds away lets mail through until
#     then; then it is logged once as expired (not again after a reload)
#     and mail to the still broken domain is deferred;
#   - danemx bypass add of the retired domain makes it apply again (the
#     relay is told with SIGHUP), and it is retired again by the recheck;
#   - danemx bypass recheck checks now and prints the verdict (a domain
#     without DANE now is kept, not retired);
#   - a restart keeps the retirement (state_dir);
#   - a bypass_recheck_interval changed on SIGHUP applies at once (the
#     pass comes at the new interval, not when the old one ends), and a
#     helo_name changed with it is said to need a restart.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

RELAY=$((3500 + ($$ % 500)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
LOG=$T_TMP/relay.log
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# Names of this run: two domains whose only MX (NET.17, key "other")
# has a TLSA record for the "ee" key: a DANE failure. HEAL's gets fixed.
sh "$WORLD_WORLD_SH" add "$DANEMX_WORLD" dane-mismatch.test - >/dev/null <<EOF ||
byph-$RUN		1	MX	10 mxh-$RUN
mxh-$RUN		1	A	@MX_NET@.17
_25._tcp.mxh-$RUN	1	TLSA	3 1 1 @TLSA_EE_311@
bype-$RUN		1	MX	10 mx1
EOF
	fail "world.sh add"
HEAL=byph-$RUN.dane-mismatch.test
EXP=bype-$RUN.dane-mismatch.test
HEAL_RE=$(printf '%s' "$HEAL" | sed 's/\./\\./g')
EXP_RE=$(printf '%s' "$EXP" | sed 's/\./\\./g')

mkdir -p "$T_TMP/etc"
cat >"$T_TMP/danemx.conf" <<EOF
listen = 127.0.0.1:$RELAY
queue_dir = $T_TMP/queue
state_dir = $T_TMP/state
user =
pid_file = $T_TMP/pid
helo_name = relay.test
resolver_config = $CONF
ca_file = $WORLD_CA
retry_min = 1h
retry_max = 2h
bypass_file = $T_TMP/etc/bypass
bypass_recheck_interval = 2s
EOF
byp() { run_cmd "$DANEMX" bypass -c "$T_TMP/danemx.conf" "$@"; }

# 1. The list, made with the command.
byp add "$HEAL" --comment "ticket 1"
expect_eq "add: exit" "$RC" 0
expect_match "add: said" "$OUT" "^added $HEAL_RE: $HEAL_RE added [0-9-]{10}T[0-9:]{8}Z # ticket 1\$"
expect_match "add: no relay yet" "$OUT" "^no relay running: it reads the list when it starts\$"
UNTIL=$(date -u -d "@$(($(date +%s) + 12))" +%Y-%m-%dT%H:%M:%SZ)
byp add "$EXP" --until "$UNTIL"
expect_eq "add --until: exit" "$RC" 0
byp add gone.test --for 7d
expect_eq "add --for: exit" "$RC" 0
expect_match "add --for: written as until" "$(grep '^gone\.test ' "$T_TMP/etc/bypass")" \
	"^gone\.test until [0-9-]{10}T[0-9:]{8}Z added "
expect_eq "three lines" "$(wc -l <"$T_TMP/etc/bypass")" 3
byp add "bad..test"
expect_eq "add: a bad domain is refused" "$RC" 64
expect_match "add: a bad domain says why" "$ERR" "'bad\.\.test' is not a domain"
byp add x.test --until 2020-01-01
expect_eq "add: a date gone is refused" "$RC" 64
byp remove gone.test
expect_eq "remove: exit" "$RC" 0
expect_eq "remove: the line is gone" "$(grep -c '^gone\.test' "$T_TMP/etc/bypass")" 0
byp remove gone.test
expect_eq "remove: no such entry" "$RC" 66
# root never writes through a link to the file
echo "keep" >"$T_TMP/target"
ln -s "$T_TMP/target" "$T_TMP/etc/linked"
byp -o bypass_file="$T_TMP/etc/linked" add x.test
expect_eq "a symbolic link is refused" "$RC" 73
expect_match "a symbolic link: why" "$ERR" "a symbolic link: not followed"
expect_eq "the link's target is untouched" "$(cat "$T_TMP/target")" keep
# add -: the lines danemx check --suggest-bypass prints
printf 'scan1.test for 7d # from the scan\nscan2.test\n' >"$T_TMP/scan"
byp add - <"$T_TMP/scan"
expect_eq "add -: exit" "$RC" 0
expect_match "add -: for made absolute, comment kept" "$(grep '^scan1\.test ' "$T_TMP/etc/bypass")" \
	"^scan1\.test until [0-9-]{10}T[0-9:]{8}Z added [0-9-]{10}T[0-9:]{8}Z # from the scan\$"
expect_match "add -: a bare domain" "$(grep '^scan2\.test ' "$T_TMP/etc/bypass")" \
	"^scan2\.test added [0-9-]{10}T[0-9:]{8}Z\$"
printf 'scan4.test\nscan3.test for 7d extra\n' >"$T_TMP/scan"
byp add - <"$T_TMP/scan"
expect_eq "add -: a bad line" "$RC" 65
expect_eq "add -: a bad line adds nothing" "$(grep -c '^scan3' "$T_TMP/etc/bypass")" 0
expect_eq "add -: nor the good lines before it" "$(grep -c '^scan4' "$T_TMP/etc/bypass")" 0
# One editor at a time: another editor's read-modify-write under the
# lock beside the list is not undone by add, which waits for the lock
# and then reads the list again.
flock -x "$T_TMP/etc/.bypass.lock" sh -c "cp '$T_TMP/etc/bypass' '$T_TMP/snap' &&
	echo 'other1.test' >>'$T_TMP/snap' && : >'$T_TMP/locked' && sleep 1 &&
	cat '$T_TMP/snap' >'$T_TMP/etc/bypass'" &
LOCKER=$!
wait_for 5 test -e "$T_TMP/locked" || fail "flock: no lock"
byp add other2.test
wait $LOCKER
expect_eq "add under another editor's lock: exit" "$RC" 0
expect_match "add under another editor's lock: waited" "$ERR" "waiting for .*\.bypass\.lock"
expect_eq "the other editor's entry is kept" "$(grep -c '^other1\.test' "$T_TMP/etc/bypass")" 1
expect_eq "and add's entry too" "$(grep -c '^other2\.test ' "$T_TMP/etc/bypass")" 1
byp remove other1.test other2.test
expect_eq "remove both: exit" "$RC" 0
expect_eq "the lock file is 0600" "$(stat -c %a "$T_TMP/etc/.bypass.lock")" 600
ln "$T_TMP/etc/.bypass.lock" "$T_TMP/etc/lock-link"
byp add other3.test
expect_eq "a lock file with a second link is refused" "$RC" 73
expect_eq "its mode is not touched" "$(stat -c %a "$T_TMP/etc/lock-link")" 600
rm "$T_TMP/etc/lock-link"
byp remove scan1.test scan2.test
expect_eq "remove two: exit" "$RC" 0
expect_eq "remove two: said" "$OUT" "removed 2 lines
no relay running: it reads the list when it starts"
chmod 0640 "$T_TMP/etc/bypass"
byp add other.test
expect_eq "add keeps the mode" "$(stat -c %a "$T_TMP/etc/bypass")" 640
byp remove other.test

# 2. The relay: mail to both goes out through the bypass.
"$DANEMX" serve -c "$T_TMP/danemx.conf" --foreground >>"$LOG" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$LOG' && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start: $(cat "$LOG")"
expect_match "the list at the start" "$(cat "$LOG")" \
	"DANE bypass list: 2 entries, 0 retired, 0 expired; rechecked every 2s"
h1=$(rcpt h1 "$HEAL")
e1=$(rcpt e1 "$EXP")
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$h1" 1 h1 >/dev/null
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$e1" 1 e1 >/dev/null
wait_for 30 grep -q "to=<$h1>.*status=sent" "$LOG" ||
	fail "heal: not sent: $(tail -5 "$LOG")"
wait_for 30 grep -q "to=<$e1>.*status=sent" "$LOG" ||
	fail "expire: not sent before its expiry: $(tail -5 "$LOG")"
expect_match "heal: the bypass applied" "$(cat "$LOG")" \
	"DANE bypass for $HEAL_RE \(ticket 1\): not authenticated: no matching DANE TLSA records \(X\.509 error 65\); delivering over unauthenticated TLS"
expect_match "heal: sent encrypted" "$(grep -F "to=<$h1>" "$LOG")" "tls=encrypted, .*status=sent"

# 3. The recheck: still needed while the record is wrong.
wait_for 20 grep -q "DANE bypass for $HEAL still needed: " "$LOG" ||
	fail "no recheck: $(tail -5 "$LOG")"
expect_match "recheck: still needed, and why" "$(grep "DANE bypass for $HEAL still needed" "$LOG" | head -1)" \
	"still needed: DANE: not authenticated: no matching DANE TLSA records \(X\.509 error 65\)"
expect_eq "not retired while broken" "$(grep -c "DANE bypass for $HEAL no longer needed" "$LOG")" 0

# 4. Fixed in DNS: the record of the key the MX presents joins the RRset.
sh "$WORLD_WORLD_SH" add "$DANEMX_WORLD" dane-mismatch.test - >/dev/null <<EOF ||
_25._tcp.mxh-$RUN	1	TLSA	3 1 1 @TLSA_OTHER_311@
EOF
	fail "world.sh add (the fix)"
wait_for 30 grep -Fxq "DANE bypass for $HEAL no longer needed: validated successfully (3 1 1 at depth 0)" "$LOG" ||
	fail "not retired: $(grep -F "$HEAL" "$LOG" | tail -3)"
pass
byp list
expect_eq "list: exit" "$RC" 0
expect_match "list: retired, with the recheck" "$(printf '%s\n' "$OUT" | grep "^$HEAL_RE ")" \
	"^$HEAL_RE +retired +never +[0-9-]{10}T[0-9:]{8}Z +[0-9-]{10}T[0-9:]{8}Z: DANE validated successfully \(3 1 1 at depth 0\)\$"
expect_match "list: the other applies" "$(printf '%s\n' "$OUT" | grep "^$EXP_RE ")" \
	"^$EXP_RE +(applies|expired) +$UNTIL "

# 5. The expiry: said once; then mail to the broken domain waits.
wait_for 20 grep -q "DANE bypass for $EXP expired at" "$LOG" ||
	fail "no expiry line: $(tail -5 "$LOG")"
expect_match "expiry: the line" "$(grep "DANE bypass for $EXP expired" "$LOG")" \
	"DANE bypass for $EXP_RE expired at $UNTIL \($T_TMP/etc/bypass line 2\): it no longer applies\$"
e2=$(rcpt e2 "$EXP")
/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$e2" 1 e2 >/dev/null
wait_for 30 grep -q "to=<$e2>.*status=deferred" "$LOG" ||
	fail "expired: not deferred: $(grep -F "to=<$e2>" "$LOG")"
expect_match "expired: deferred for DANE" "$(grep -F "to=<$e2>" "$LOG")" \
	"status=deferred \(DANE: not authenticated: no matching DANE TLSA records \(X\.509 error 65\) \[tlsa-invalid\]\)"
expect_eq "expired: never sent" "$(grep -c "to=<$e2>.*status=sent" "$LOG")" 0
kill -HUP "$(cat "$T_TMP/pid")"
# the summary comes after the expiries of the list read again
wait_for 10 sh -c "[ \$(grep -c 'DANE bypass list: 2 entries, 1 retired, 1 expired' '$LOG') -ge 1 ]" ||
	fail "no reload: $(tail -3 "$LOG")"
expect_eq "expiry said once, also after a reload" \
	"$(grep -c "DANE bypass for $EXP expired" "$LOG")" 1

# 6. Added again: it applies again (SIGHUP from the command), and the
# recheck retires it again.
byp add "$HEAL" --comment "ticket 2"
expect_eq "re-add: exit" "$RC" 0
expect_match "re-add: the relay is told" "$OUT" "the relay \(pid [0-9]+\) reads the list again"
wait_for 10 grep -q "DANE bypass list: 2 entries, 0 retired, 1 expired" "$LOG" ||
	fail "re-add: not read again: $(tail -3 "$LOG")"
pass
byp list
expect_match "re-add: list says it applies" "$(printf '%s\n' "$OUT" | grep "^$HEAL_RE ")" \
	"^$HEAL_RE +applies "
wait_for 30 sh -c "[ \$(grep -c 'DANE bypass for $HEAL no longer needed' '$LOG') -ge 2 ]" ||
	fail "re-add: not retired again: $(tail -3 "$LOG")"
pass

# 7. recheck from the command line: checks now, prints the verdict.
byp recheck "$HEAL"
expect_eq "recheck: exit" "$RC" 0
expect_eq "recheck: the verdict" "$(printf '%s\n' "$OUT" | head -1)" \
	"$HEAL: no longer needed: validated successfully (3 1 1 at depth 0) (retired)"
expect_match "recheck: the relay is told" "$OUT" "the relay \(pid [0-9]+\) reads the list again"
byp recheck "$EXP"
expect_eq "recheck of a broken domain: exit" "$RC" 1
expect_match "recheck of a broken domain: why" "$OUT" \
	"^$EXP_RE: still needed: DANE: not authenticated: no matching DANE TLSA records"

# A domain without DANE now: nothing to validate, kept (not retired).
byp add opp.insecure.test --no-reload
byp recheck opp.insecure.test
expect_eq "recheck without DANE: exit" "$RC" 1
expect_eq "recheck without DANE: kept" "$OUT" \
	"opp.insecure.test: kept: DANE does not apply now: TLS opportunistic"
byp remove opp.insecure.test --no-reload
expect_eq "recheck without DANE: removed" "$RC" 0

# A host next hop ([host]:port, for a transport table's or relayhost's
# next hop) is rechecked as that next hop and retired when it validates,
# by the relay and by the command; an address literal never is (DANE
# does not apply to it).
NH='[mx.dane-ee.test]:25'
NH_RE='\[mx\.dane-ee\.test\]:25'
LIT="[$NET.10]:25"
byp add "$NH"
expect_eq "add a next hop: exit" "$RC" 0
wait_for 30 grep -Fxq "DANE bypass for $NH no longer needed: validated successfully (3 1 1 at depth 0)" "$LOG" ||
	fail "next hop: not retired by the relay: $(grep -F "$NH" "$LOG" | tail -3)"
pass
byp add "$LIT" --no-reload
expect_eq "add an address literal: exit" "$RC" 0
byp recheck "$NH"
expect_eq "recheck of a next hop: exit" "$RC" 0
expect_eq "recheck of a next hop: the verdict" "$(printf '%s\n' "$OUT" | head -1)" \
	"$NH: no longer needed: validated successfully (3 1 1 at depth 0) (retired)"
byp list
expect_match "list: the next hop retired" "$(printf '%s\n' "$OUT" | grep -F "$NH ")" \
	"^$NH_RE +retired +never +[0-9-]{10}T[0-9:]{8}Z +[0-9-]{10}T[0-9:]{8}Z: DANE validated successfully \(3 1 1 at depth 0\)\$"
expect_match "list: an address literal is not rechecked" "$(printf '%s\n' "$OUT" | grep -F "$LIT ")" \
	"not rechecked \(an address literal: DANE does not apply\)\$"
byp remove "$NH" "$LIT"
expect_eq "remove the next hops: exit" "$RC" 0
wait_for 10 sh -c "[ \$(grep -c 'DANE bypass list: 2 entries, 1 retired, 1 expired' '$LOG') -ge 2 ]" ||
	fail "next hops removed: not read again: $(tail -3 "$LOG")"
pass

# 8. A restart keeps the retirement. (It runs with an interval of 1h.)
pid=$(cat "$T_TMP/pid")
kill "$pid"
wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
sed -i 's/^bypass_recheck_interval = 2s$/bypass_recheck_interval = 1h/' \
	"$T_TMP/danemx.conf"
"$DANEMX" serve -c "$T_TMP/danemx.conf" --foreground >>"$LOG" 2>&1 &
wait_for 15 sh -c "[ \$(grep -c 'relay started' '$LOG') -ge 2 ] && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start again: $(tail -5 "$LOG")"
expect_eq "restart: the retirement is kept" \
	"$(grep 'DANE bypass list: ' "$LOG" | grep -v rechecking | tail -1)" \
	"DANE bypass list: 2 entries, 1 retired, 1 expired; rechecked every 3600s"
byp remove "$EXP"
expect_eq "remove: exit" "$RC" 0
expect_eq "remove: one line left" "$(wc -l <"$T_TMP/etc/bypass")" 1

# 9. bypass_recheck_interval changed on SIGHUP: the next pass comes at
# the new interval, not at the end of the old one. helo_name changed in
# the same reload is said to need a restart.
byp add "$EXP" --for 1d
expect_eq "add again: exit" "$RC" 0
n=$(grep -c "DANE bypass list: rechecking" "$LOG")
sed -i -e 's/^bypass_recheck_interval = 1h$/bypass_recheck_interval = 2s/' \
	-e 's/^helo_name = relay.test$/helo_name = other.test/' "$T_TMP/danemx.conf"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 10 sh -c "[ \$(grep -c 'DANE bypass list: rechecking' '$LOG') -gt $n ]" ||
	fail "reload: the new interval did not apply: $(tail -5 "$LOG")"
pass
expect_eq "reload: a restart setting changed is said" \
	"$(grep -c 'reload: .*helo_name.* take effect at the next restart' "$LOG")" 1
pid=$(cat "$T_TMP/pid")
kill "$pid"
wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
done_ok
