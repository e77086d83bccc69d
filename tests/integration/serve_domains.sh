#!/bin/sh
# serve_domains.sh - the relay's memory of each destination (issue 14,
# docs/domains.md), against the world's Postfix MX hosts, with records
# of its own in dane-ee.test (h14a-a, h14a-d; TTL 1 s):
# h14a-a (downgrade_action = alert): DANE mail is remembered as dane; a
# TLSA rollover is an info line, no alert; the TLSA record removed is a
# warning naming what changed, downgrade_command runs with the details in
# its environment, and the mail goes (opportunistic). h14a-d
# (downgrade_action = defer): its MX host moves to an insecure zone; the
# mail is held with the reason (log, danemx queue) until `danemx domains
# accept`, which reaches the running relay and lets it go (also for a
# domain the transport table routes to h14a-d's MX hosts). h14a-e: held
# under defer, released by a reload with downgrade_action = alert. `danemx
# domains --json` shows the exact policy, downgrade and counts.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

Q=$T_TMP/queue
STATE=$T_TMP/state
RELAY=$((1500 + ($$ % 500)))
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
ZONE=dane-ee.test
TAG=h14a-		# every record of this test's owner names has it
cleanup() {
	kill -9 "$(cat "$T_TMP/pid" 2>/dev/null)" 2>/dev/null
	zone_set </dev/null >/dev/null 2>&1
	rm -rf "$T_TMP"
}

# zone_set: this test's records in $ZONE become stdin's; the records
# other tests added to the zone stay
zone_set() {
	{ grep -v "$TAG" "$WORLD_DIR/extra/$ZONE.zone" 2>/dev/null; cat; } \
	    >"$T_TMP/zone"
	sh "$WORLD_WORLD_SH" set "$DANEMX_WORLD" "$ZONE" "$T_TMP/zone" >/dev/null
}
trap cleanup EXIT

serve() {	# serve [-o ...]: the relay, in the background
	started=$(grep -c "relay started" "$T_TMP/relay.log" 2>/dev/null || true)
	"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$Q" -o state_dir="$STATE" -o user= \
		-o pid_file="$T_TMP/pid" -o helo_name=relay.test \
		-o retry_min=1h -o retry_max=2h \
		-o downgrade_command="$T_TMP/alert.sh $T_TMP/alert" "$@" \
		>>"$T_TMP/relay.log" 2>&1 &
	wait_for 15 sh -c "[ \$(grep -c 'relay started' '$T_TMP/relay.log') -gt ${started:-0} ] && [ -s '$T_TMP/pid' ]" ||
		fail "relay did not start: $(cat "$T_TMP/relay.log")"
}
stop() {
	pid=$(cat "$T_TMP/pid")
	kill "$pid"
	wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
}
# send RCPT TAG: one message through the relay; waits for its log line
send_one() {
	/usr/bin/python3 "$INJ" 127.0.0.1 $RELAY a@client.test "$1" 1 "$2" \
	    >"$T_TMP/inj" || fail "inject $1: $(cat "$T_TMP/inj")"
	wait_for 30 grep -q "to=<$1>.*status=$3" "$T_TMP/relay.log" ||
		fail "$1 not $3: $(tail -20 "$T_TMP/relay.log")"
}
domains() { "$DANEMX" domains -o user= -o state_dir="$STATE" "$@"; }
# dj DOMAIN JQ: a field of DOMAIN in danemx domains --json
dj() { domains --json | jq -c "select(.domain == \"$1\") | $2"; }

cat >"$T_TMP/alert.sh" <<'EOF2'
#!/bin/sh
# the alert: what it was told, as whom it ran, and how many of the
# relay's descriptors it got (sockets, the queue, the store)
leaked=$(for f in /proc/$$/fd/*; do readlink "$f"; done |
    grep -c -E '^socket:|state\.db|queue')
{ env | grep '^DANEMX_' | sort; echo "uid=$(id -u)"; echo "leaked=$leaked"; } \
    >"$1.$DANEMX_DOMAIN.tmp"
mv "$1.$DANEMX_DOMAIN.tmp" "$1.$DANEMX_DOMAIN"
EOF2
chmod 755 "$T_TMP/alert.sh"

A=h14a-a.$ZONE
D=h14a-d.$ZONE
OTHER=$(printf 'h14a rollover' | sha256sum | cut -d' ' -f1)
base_records() {
	cat <<EOF2
h14a-a			1	MX	10 mx.h14a-a
mx.h14a-a		1	A	@MX_NET@.10
h14a-d			1	MX	10 mx.h14a-d
mx.h14a-d		1	A	@MX_NET@.10
_25._tcp.mx.h14a-d	1	TLSA	3 1 1 @TLSA_EE_311@
EOF2
}

# 1. DANE: remembered as dane, counted dane-verified.
{ base_records; echo "_25._tcp.mx.h14a-a 1 TLSA 3 1 1 @TLSA_EE_311@"; } |
	zone_set || fail "world.sh set (1)"
serve
r1=$(rcpt one "$A")
send_one "$r1" d1 sent
expect_match "1: dane-verified" "$(grep -F "to=<$r1>" "$T_TMP/relay.log")" \
	"tls=dane-verified, .*status=sent"
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$A\") | .total[\"dane-verified\"]')\" = 1 ]" ||
	fail "1: not counted: $(domains --json)"
expect_eq "1: policy dane" "$(dj "$A" .policy)" '"dane"'
fp1=$(dj "$A" .fingerprint)
expect_match "1: a SHA-256 fingerprint" "$fp1" '^"[0-9a-f]{64}"$'
expect_eq "1: status ok" "$(dj "$A" .status)" '"ok"'

# 2. A rollover: a second record, the first still matches. Info, no alert.
{ base_records; echo "_25._tcp.mx.h14a-a 1 TLSA 3 1 1 @TLSA_EE_311@"
  echo "_25._tcp.mx.h14a-a 1 TLSA 3 1 1 $OTHER"; } |
	zone_set || fail "world.sh set (2)"
sleep 2		# the old records' TTL (1 s) and the parked session (2 s)
r2=$(rcpt two "$A")
send_one "$r2" d2 sent
expect_match "2: still dane-verified" "$(grep -F "to=<$r2>" "$T_TMP/relay.log")" \
	"tls=dane-verified, .*status=sent"
expect_match "2: the rollover is logged" "$(cat "$T_TMP/relay.log")" \
	"^$A: TLSA records changed \(rollover\), still usable: fingerprint [0-9a-f]{16} replaces $(echo "$fp1" | cut -c2-17)\$"
expect_eq "2: no downgrade" "$(grep -c "TLS downgrade" "$T_TMP/relay.log")" 0
expect_eq "2: no alert" "$(find "$T_TMP" -name 'alert.h14a*' | grep -c .)" 0
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$A\") | .fingerprint')\" != $fp1 ]" ||
	fail "2: fingerprint not changed: $(domains --json)"

# 3. The TLSA records removed: a warning naming the change, the alert
# with its environment, and the mail goes (downgrade_action = alert).
base_records | zone_set || fail "world.sh set (3)"
sleep 2
r3=$(rcpt three "$A")
send_one "$r3" d3 sent
expect_match "3: opportunistic" "$(grep -F "to=<$r3>" "$T_TMP/relay.log")" \
	"tls=opportunistic, .*status=sent"
expect_match "3: the warning names what changed" "$(cat "$T_TMP/relay.log")" \
	"^danemx: $A: TLS downgrade from DANE \([0-9a-f]{16}\) to no policy: DANE lost: mx\.$A: no TLSA records for mx\.$A \(falling back to optional TLS\)\$"
wait_for 10 test -f "$T_TMP/alert.$A" || fail "3: the alert did not run: $(tail "$T_TMP/relay.log")"
expect_eq "3: the alert's environment" "$(grep -v '^DANEMX_TIME=\|^DANEMX_OLD_FINGERPRINT=' "$T_TMP/alert.$A")" \
"DANEMX_ACTION=alert
DANEMX_DOMAIN=$A
DANEMX_NEW_FINGERPRINT=
DANEMX_NEW_POLICY=none
DANEMX_OLD_POLICY=dane
DANEMX_WHAT=DANE lost: mx.$A: no TLSA records for mx.$A (falling back to optional TLS)
uid=0
leaked=0"
expect_match "3: the old fingerprint" "$(grep '^DANEMX_OLD_FINGERPRINT=' "$T_TMP/alert.$A")" \
	'^DANEMX_OLD_FINGERPRINT=[0-9a-f]{64}$'
wait_for 10 grep -q "downgrade_command (pid [0-9]*) done" "$T_TMP/relay.log" ||
	fail "3: the alert's end not logged"
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$A\") | .total.opportunistic')\" = 1 ]" ||
	fail "3: not counted: $(domains --json)"
expect_eq "3: the memory" "$(dj "$A" '[.policy, .fingerprint, .status, .held, .downgrade.from, .downgrade.to, .total, .today]')" \
'["none",null,"downgraded",false,"dane","none",{"dane-verified":2,"sts-verified":0,"encrypted":0,"opportunistic":1,"deferred":0},{"dane-verified":2,"sts-verified":0,"encrypted":0,"opportunistic":1,"deferred":0}]'
stop

# 4. downgrade_action = defer: h14a-d's MX host moves into the unsigned
# insecure.test. Its mail is held, with the reason, until accepted. The
# held message is for via.h14a-d, which the transport table sends to
# h14a-d's MX hosts (next hop "h14a-d...:25"): the memory's key is the
# next hop's name, h14a-d, and the accept must find the relay's
# destination all the same.
printf 'via.%s %s:25\n' "$D" "$D" >"$T_TMP/transport"
serve -o downgrade_action=defer -o transport_file="$T_TMP/transport"
r4=$(rcpt four "$D")
send_one "$r4" d4 sent
expect_match "4: dane-verified first" "$(grep -F "to=<$r4>" "$T_TMP/relay.log")" \
	"tls=dane-verified, .*status=sent"
base_records | sed 's/^h14a-d\(.*\)MX.*/h14a-d\1MX	10 ih.insecure.test./' | zone_set ||
	fail "world.sh set (4)"
sleep 2
r5=$(rcpt five "via.$D")
send_one "$r5" d5 deferred
why="TLS downgrade of $D held \(downgrade_action = defer\): DANE lost: ih\.insecure\.test: insecure name ih\.insecure\.test \(falling back to optional TLS\); \`danemx domains accept $D\` lets its mail go"
expect_match "4: the warning" "$(cat "$T_TMP/relay.log")" \
	"^danemx: $D: TLS downgrade from DANE \([0-9a-f]{16}\) to no policy: DANE lost: ih\.insecure\.test: insecure name ih\.insecure\.test \(falling back to optional TLS\); its mail is held until \`danemx domains accept\` \(downgrade_action = defer\)\$"
expect_match "4: deferred with the reason" "$(grep -F "to=<$r5>" "$T_TMP/relay.log")" \
	"status=deferred \($why \[dane-required\]\)"
expect_eq "4: no connection to the insecure host" \
	"$(grep -c "^Connecting to \[$NET\.24\]" "$T_TMP/relay.log")" 0
expect_match "4: danemx queue shows why" \
	"$("$DANEMX" queue -o user= -o queue_dir="$Q" --json list | jq -r '.[].recipients[].last')" "$why"
wait_for 10 test -f "$T_TMP/alert.$D" || fail "4: the alert did not run"
expect_match "4: the alert says defer" "$(cat "$T_TMP/alert.$D")" "DANEMX_ACTION=defer"
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$D\") | .status')\" = held ]" ||
	fail "4: not held in the store: $(domains --json)"
expect_match "4: the list puts it first, held" "$(domains | sed -n 2p)" "^$D +dane +held "
# another restart keeps the hold
stop
serve -o downgrade_action=defer -o transport_file="$T_TMP/transport"
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 30 sh -c "[ \$(grep -c 'to=<$r5>.*status=deferred' '$T_TMP/relay.log') -ge 2 ]" ||
	fail "4: not deferred after a restart: $(tail -5 "$T_TMP/relay.log")"
expect_eq "4: the hold was remembered, not found again" \
	"$(grep -c "^danemx: $D: TLS downgrade" "$T_TMP/relay.log")" 1

# 5. The operator accepts: the running relay lets the mail go.
run_cmd domains -o pid_file="$T_TMP/pid" accept "$D"
expect_eq "5: accept exit" "$RC" 0
expect_match "5: accept says what" "$OUT" "^$D: downgrade from dane to none accepted"
expect_match "5: accept woke the relay" "$OUT" "the relay \(pid [0-9]+\) delivers its mail now"
wait_for 20 grep -q "to=<$r5>.*status=sent" "$T_TMP/relay.log" ||
	fail "5: not delivered after accept: $(tail -20 "$T_TMP/relay.log")"
expect_match "5: opportunistic, to the insecure host" "$(grep -F "to=<$r5>" "$T_TMP/relay.log" | tail -1)" \
	"relay=ih\.insecure\.test\[$NET\.24\], route=transport via\.$D -> $D:25, tls=opportunistic, .*status=sent"
expect_match "5: the relay says so" "$(cat "$T_TMP/relay.log")" \
	"^$D: downgrade accepted by the operator; mail goes out under no policy\$"
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$D\") | .total.opportunistic')\" = 1 ]" ||
	fail "5: not counted: $(domains --json)"
expect_eq "5: the memory" "$(dj "$D" '[.policy, .status, .held, (.accepted > 0), .downgrade.to, .total]')" \
'["none","downgraded",false,true,"none",{"dane-verified":1,"sts-verified":0,"encrypted":0,"opportunistic":1,"deferred":2}]'
run_cmd domains accept "$D"
expect_eq "5: accept again: nothing held" "$OUT" "$D: not held; nothing to accept"
run_cmd domains accept nosuch.example
expect_eq "5: accept of an unknown domain" "$RC" 1

# 6. The filters.
expect_eq "6: --policy dane" "$(domains --json --policy dane | jq -r .domain | grep -c "$TAG")" 0
expect_eq "6: --policy none" "$(domains --json --policy none | jq -r .domain | grep "$TAG" | sort | tr '\n' ' ')" "$A $D "
expect_eq "6: --changed-since the future" "$(domains --json --changed-since "$(( $(date +%s) + 100 ))" | grep -c .)" 0
expect_eq "6: --changed-since 1h" "$(domains --json --changed-since 1h | jq -r .domain | grep -c "$TAG")" 2
run_cmd domains --changed-since yesterday
expect_eq "6: a bad time" "$RC" 64

# 7. h14a-a gets DANE back: an info line, and it is no longer downgraded.
{ base_records | sed 's/^h14a-d\(.*\)MX.*/h14a-d\1MX	10 ih.insecure.test./'
  echo "_25._tcp.mx.h14a-a 1 TLSA 3 1 1 @TLSA_EE_311@"; } |
	zone_set || fail "world.sh set (7)"
sleep 2
r7=$(rcpt seven "$A")
send_one "$r7" d7 sent
expect_match "7: dane-verified again" "$(grep -F "to=<$r7>" "$T_TMP/relay.log")" \
	"tls=dane-verified, .*status=sent"
expect_match "7: the change is logged" "$(cat "$T_TMP/relay.log")" \
	"^$A: TLS policy changed from no policy \(-\) to DANE \([0-9a-f]{16}\)\$"
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$A\") | .total[\"dane-verified\"]')\" = 3 ]" ||
	fail "7: not counted: $(domains --json)"
expect_eq "7: the memory" "$(dj "$A" '[.policy, .status, .downgrade.to]')" '["dane","ok","none"]'
expect_eq "7: worst first: D (downgraded, none) before A (dane)" \
	"$(domains --json | jq -r .domain | grep "$TAG" | tr '\n' ' ')" "$D $A "
stop

# 8. Leaving defer ends the holds: h14a-e is held under defer (its MX
# host moved into insecure.test); a reload with downgrade_action = alert
# lets its mail go at once, with no accept and no flush, and says so.
E=h14a-e.$ZONE
E_RE=$(printf '%s' "$E" | sed 's/\./\\./g')
records8() {	# records8 E_MX
	base_records | sed 's/^h14a-d\(.*\)MX.*/h14a-d\1MX	10 ih.insecure.test./'
	echo "_25._tcp.mx.h14a-a 1 TLSA 3 1 1 @TLSA_EE_311@"
	echo "h14a-e 1 MX 10 $1"
	echo "mx.h14a-e 1 A @MX_NET@.10"
	echo "_25._tcp.mx.h14a-e 1 TLSA 3 1 1 @TLSA_EE_311@"
}
records8 mx.h14a-e | zone_set || fail "world.sh set (8)"
printf 'downgrade_action = defer\n' >"$T_TMP/d.conf"
serve -c "$T_TMP/d.conf"
r8=$(rcpt eight "$E")
send_one "$r8" d8 sent
records8 ih.insecure.test. | zone_set || fail "world.sh set (8b)"
sleep 2
r9=$(rcpt nine "$E")
send_one "$r9" d9 deferred
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$E\") | .status')\" = held ]" ||
	fail "8: not held: $(domains --json)"
printf 'downgrade_action = alert\n' >"$T_TMP/d.conf"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 20 grep -q "to=<$r9>.*status=sent" "$T_TMP/relay.log" ||
	fail "8: not delivered after the reload: $(tail -20 "$T_TMP/relay.log")"
expect_match "8: the reload says the hold ended, and why it was held" \
	"$(cat "$T_TMP/relay.log")" \
	"^$E_RE: downgrade_action is now alert: its mail is no longer held \(DANE lost: ih\.insecure\.test: insecure name ih\.insecure\.test \(falling back to optional TLS\)\)\$"
expect_match "8: then it goes out, not as an operator's accept" \
	"$(cat "$T_TMP/relay.log")" \
	"^$E_RE: mail goes out under no policy \(no longer held: downgrade_action is not defer\)\$"
expect_eq "8: no accept logged" \
	"$(grep -c "^$E_RE: downgrade accepted by the operator" "$T_TMP/relay.log")" 0
wait_for 10 sh -c "[ \"\$(\"$DANEMX\" domains -o user= -o state_dir='$STATE' --json | jq -r 'select(.domain == \"$E\") | .held')\" = false ]" ||
	fail "8: still held in the store: $(domains --json)"
stop
done_ok
