#!/bin/sh
# transport.sh - routing per destination (transport_file, --transport),
# against the world's Postfix MX hosts and DNSSEC:
#   - [host] goes to that host, not to the domain's MX (a domain that does
#     not even exist), DANE-verified by the host's own TLSA records;
#   - [host] whose TLSA does not match defers with the DANE reason, and
#     the domain's backup MX (that would match) is never tried;
#   - host does an MX lookup of the other name (its backup MX takes it);
#   - [host]:port uses _PORT._tcp.host's TLSA (a sink of ours on a port
#     the world's Postfix does not listen on);
#   - .domain takes subdomains but not the domain itself;
#   - the TLS policy table applies to the next hop, not the recipient
#     domain;
#   - discard (exit 0, nothing arrives) and error:5.1.1 (exit 67);
#   - check --json and send --json show the route, the log names it;
#   - a bad table is refused naming the file and line (CLI, relay start);
#   - the relay routes, discards, bounces (the bounce arrives), logs
#     the route per recipient, and on SIGHUP moves a deferred message to
#     its new next hop; a bad table on SIGHUP keeps the old one, loudly.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
INJ="$DANEMX_SRCDIR/tests/servers/inject.py"
RELAY=$((6500 + ($$ % 250) * 2))
SINKPORT=$((RELAY + 1))
Q=$T_TMP/queue
T=$T_TMP/transport
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T_TMP/pid" ] && kill -9 "$(cat "$T_TMP/pid")" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# Our names: a host with TLSA for the sink's port (the world's EE key),
# in dane-ee.test, which no other test changes.
sh "$WORLD_WORLD_SH" add "$DANEMX_WORLD" dane-ee.test - >/dev/null <<EOF ||
mxp-$RUN			1	A	127.0.0.1
mxport-$RUN			1	MX	10 mxp-$RUN
_$SINKPORT._tcp.mxp-$RUN	1	TLSA	3 1 1 @TLSA_EE_311@
EOF
	fail "world.sh add"
mkdir -p "$T_TMP/sink"
$PY "$SRV" --listen "127.0.0.1:$SINKPORT" --mode ok \
	--cert "$WORLD_PKI/ee.pem" --key "$WORLD_PKI/ee.key" \
	--log "$T_TMP/sink.log" >"$T_TMP/sink.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q ready "$T_TMP/sink.out" ||
	fail "sink did not start: $(cat "$T_TMP/sink.out")"

D=$RUN.xport.test	# recipient domains below it have no DNS at all
cat >"$T" <<EOF
# the partner over a fixed link
host.$D			[mx.dane-ee.test]
.sub.$D			smtp:[mx1.dane-mismatch.test]
mx.$D			dane-mismatch.test
port.$D			[mxp-$RUN.dane-ee.test]:$SINKPORT	# our sink
hp.$D			mxport-$RUN.dane-ee.test:$SINKPORT	# its MX: our sink
drop.$D			discard
err.$D			error:5.1.1 No such domain here
EOF

# 1. [host]: that host, DANE-verified by its own TLSA, not the domain's MX.
r=$(rcpt host "host.$D")
send "$r" --transport "$T"
expect_result "[host]" 0 '"delivered"' '"dane-verified"' \
	'"mx.dane-ee.test"' null
expect_json "[host]: the route" .route "{\"via\":\"transport\",
	\"domain\":\"host.$D\",\"match\":\"host.$D\",
	\"nexthop\":\"[mx.dane-ee.test]\",
	\"text\":\"transport host.$D -> [mx.dane-ee.test]\"}"
expect_log "[host]: the log names the route" \
	"host.$D: route: transport host.$D -> [mx.dane-ee.test]"
expect_log "[host]: its TLSA decides" \
	"MX mx.dane-ee.test (preference 0): TLS dane: 1 usable TLSA record at _25._tcp.mx.dane-ee.test"
expect_no_log "[host]: no MX lookup" "MX RRset"
expect_received "[host]: mx-ee got it" mx-ee "$r"

# 2. [host] whose TLSA does not match: deferred with the DANE reason; the
# domain's backup MX (mx2, which would match) is not tried. A subdomain
# of .sub matches.
r=$(rcpt sub "a.sub.$D")
send "$r" --transport "$T"
expect_result "[host] mismatch" 75 '"deferred"' null null \
	'"tlsa-invalid"'
expect_json "[host] mismatch: fail, route" '[.fail, .route.match, .route.nexthop]' \
	"[\"tlsa-invalid\", \".sub.$D\", \"[mx1.dane-mismatch.test]\"]"
expect_match "[host] mismatch: the DANE reason" "$(jqo -r .why)" \
	"DANE: not authenticated: no matching DANE TLSA records"
expect_log "[host] mismatch: the log names the route" \
	"a.sub.$D: route: transport a.sub.$D (.sub.$D) -> [mx1.dane-mismatch.test]"
expect_json "[host] mismatch: that host alone, tried once" \
	'[[.hosts[].name], (.attempts | length)]' '[["mx1.dane-mismatch.test"], 1]'
expect_not_received "[host] mismatch: nothing arrives" "$r"

# 3. .sub.D does not take sub.D itself: its own MX (it does not exist).
r=$(rcpt subself "sub.$D")
send "$r" --transport "$T"
expect_json ".domain: not the domain itself" '[.route.via, .route.match, .outcome]' \
	'["mx", null, "rejected"]'
expect_match ".domain: looked up as itself" "$(jqo -r .why)" \
	"domain sub\.$D does not exist"

# 4. host: the MX hosts of another name; mx1 fails DANE, mx2 takes it.
r=$(rcpt mx "mx.$D")
send "$r" --transport "$T"
expect_result "host" 0 '"delivered"' '"dane-verified"' \
	'"mx2.dane-mismatch.test"' null
expect_log_match "host: the other name's MX RRset" \
	"^dane-mismatch\.test: MX RRset secure, 2 hosts$"
expect_received "host: mx-backup got it" mx-backup "$r"

# 5. [host]:port: TLSA at _PORT._tcp.host; our sink on that port gets it.
r=$(rcpt port "port.$D")
send "$r" --transport "$T"
expect_result "[host]:port" 0 '"delivered"' '"dane-verified"' \
	"\"mxp-$RUN.dane-ee.test\"" null
expect_log "[host]:port: TLSA at the port" \
	"MX mxp-$RUN.dane-ee.test (preference 0): TLS dane: 1 usable TLSA record at _$SINKPORT._tcp.mxp-$RUN.dane-ee.test"
expect_log "[host]:port: connected there" "Connecting to [127.0.0.1]:$SINKPORT (DNSSEC)"
expect_match "[host]:port: the sink got it over TLS" "$(cat "$T_TMP/sink.log")" \
	"^MAIL <$FROM> <$r> [0-9]+ tls "

# 5b. host:port: the other name's MX hosts, at that port (TLSA too).
r=$(rcpt hp "hp.$D")
send "$r" --transport "$T"
expect_result "host:port" 0 '"delivered"' '"dane-verified"' \
	"\"mxp-$RUN.dane-ee.test\"" null
expect_json "host:port: the route" '[.route.nexthop, .mx.secure]' \
	"[\"mxport-$RUN.dane-ee.test:$SINKPORT\", true]"
expect_log "host:port: TLSA at the port" \
	"MX mxp-$RUN.dane-ee.test (preference 10): TLS dane: 1 usable TLSA record at _$SINKPORT._tcp.mxp-$RUN.dane-ee.test"
expect_match "host:port: the sink got it over TLS" "$(cat "$T_TMP/sink.log")" \
	"^MAIL <$FROM> <$r> [0-9]+ tls "

# 6. The TLS policy table looks up the next hop: may for [mx.dane-ee.test]
# makes it opportunistic; dane-only for the recipient domain is not used.
printf '[mx.dane-ee.test] may\nhost.%s dane-only\n' "$D" >"$T_TMP/policy"
r=$(rcpt policy "host.$D")
send "$r" --transport "$T" --policy "$T_TMP/policy"
expect_result "policy of the next hop" 0 '"delivered"' '"opportunistic"' \
	'"mx.dane-ee.test"' null
expect_json "policy of the next hop: level" .policy '"may"'

# 6b. probe takes the route too, and says so.
dmx --json probe --from "$FROM" --rcpt "$(rcpt probe "host.$D")" --transport "$T"
expect_eq "probe: exit ($ERR)" "$RC" 0
expect_json "probe: route, host, outcome" '[.route.text, .mx_used, .outcome]' \
	"[\"transport host.$D -> [mx.dane-ee.test]\", \"mx.dane-ee.test\", \"accepted\"]"

# 7. discard: accepted, nothing arrives; error: 67 with the text.
r=$(rcpt drop "drop.$D")
send "$r" --transport "$T"
expect_eq "discard: exit" "$RC" 0
expect_json "discard: outcome, route" '[.outcome, .route.nexthop, .attempts]' \
	'["discarded", "discard", []]'
expect_log "discard: logged" "drop.$D: route: transport drop.$D -> discard"
expect_not_received "discard: nothing arrives" "$r"
r=$(rcpt err "err.$D")
send "$r" --transport "$T"
expect_eq "error: exit (stderr: $ERR)" "$RC" 67
expect_json "error: outcome, why" '[.outcome, .why, .route.nexthop]' \
	'["rejected", "5.1.1 No such domain here", "error:5.1.1 No such domain here"]'
dmx probe --from "$FROM" --rcpt "$r" --transport "$T"
expect_eq "error: probe exit" "$RC" 67
expect_match "error: probe says" "$OUT" "^err\.$D: rejected: 5\.1\.1 No such domain here$"

# 8. check shows the route (text and JSON) and checks the next hop.
dmx check --transport "$T" "host.$D"
expect_eq "check: exit ($ERR)" "$RC" 0
expect_match "check: route line" "$OUT" "^route: transport host\.$D -> \[mx\.dane-ee\.test\]$"
expect_match "check: ok" "$OUT" "^host\.$D: ok: every host"
dmx --json check --transport "$T" "host.$D" "a.sub.$D"
expect_eq "check --json: exit (DANE failure at a.sub)" "$RC" 2
expect_eq "check --json: the routes" \
	"$(printf '%s\n' "$OUT" | jq -c '[.domain, .route.text, .outcome]' | tr '\n' ' ')" \
	"[\"host.$D\",\"transport host.$D -> [mx.dane-ee.test]\",\"accepted\"] [\"a.sub.$D\",\"transport a.sub.$D (.sub.$D) -> [mx1.dane-mismatch.test]\",\"deferred\"] "

# 9. A bad table: refused, naming the file and the line.
printf 'ok.test [mx.dane-ee.test]\nbad.test [mx.dane-ee.test]:99999\n' >"$T_TMP/bad"
send "$r" --transport "$T_TMP/bad"
expect_eq "bad table: exit" "$RC" 78
expect_match "bad table: file and line" "$ERR" \
	"^danemx send: transport table: $T_TMP/bad: line 2: '\[mx\.dane-ee\.test\]:99999' is not a next hop"
run_cmd "$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
	-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid0" \
	-o transport_file="$T_TMP/bad"
expect_eq "bad table: serve exit" "$RC" 78
expect_match "bad table: serve says" "$ERR" \
	"^danemx serve: transport table: $T_TMP/bad: line 2: "

# 10. The relay. The bounce's sender domain is routed too, to mx-ee.
# A bypass entry for a routed domain can never apply (the list is matched
# against the next hop): the relay says so; one for a domain the table
# leaves alone, or for the next hop itself, is fine.
SND=s-$RUN@snd.$D
printf 'snd.%s [mx.dane-ee.test]\nhup.%s [mx1.dane-mismatch.test]\n' "$D" "$D" >>"$T"
printf 'host.%s\nmx.%s\nother.test\ndane-mismatch.test\n' "$D" "$D" >"$T_TMP/bypass"
"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
	-o queue_dir="$Q" -o user= -o pid_file="$T_TMP/pid" \
	-o helo_name=relay.test -o retry_min=1h -o retry_max=2h \
	-o bypass_file="$T_TMP/bypass" \
	-o transport_file="$T" >"$T_TMP/relay.log" 2>&1 &
wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay.log' && [ -s '$T_TMP/pid' ]" ||
	fail "relay did not start: $(cat "$T_TMP/relay.log")"
wait_for 10 grep -q "DANE bypass for mx\.$D never applies" "$T_TMP/relay.log" ||
	fail "bypass: no warning: $(cat "$T_TMP/relay.log")"
expect_eq "bypass entries that never apply, named" \
	"$(grep 'never applies' "$T_TMP/relay.log" | sed 's/^danemx: //')" \
	"DANE bypass for host.$D never applies: the transport table sends its mail to [mx.dane-ee.test] (the list is matched against the next hop)
DANE bypass for mx.$D never applies: the transport table sends its mail to dane-mismatch.test (the list is matched against the next hop)"
r=$(rcpt relay "host.$D")
$PY "$INJ" 127.0.0.1 $RELAY "$FROM" "$r" 1 relay >/dev/null
wait_for 30 grep -q "to=<$r>.*status=" "$T_TMP/relay.log" ||
	fail "relay: no result: $(tail -5 "$T_TMP/relay.log")"
expect_match "relay: routed, logged" "$(grep -F "to=<$r>" "$T_TMP/relay.log")" \
	"to=<$r>, relay=mx\.dane-ee\.test\[$NET\.10\], route=transport host\.$D -> \[mx\.dane-ee\.test\], tls=dane-verified, .*status=sent"
expect_received "relay: mx-ee got it" mx-ee "$r"

rd=$(rcpt relaydrop "drop.$D")
$PY "$INJ" 127.0.0.1 $RELAY "$FROM" "$rd" 1 relaydrop >/dev/null
wait_for 30 grep -q "to=<$rd>.*status=" "$T_TMP/relay.log" ||
	fail "relay discard: no result: $(tail -5 "$T_TMP/relay.log")"
expect_match "relay: discarded, logged" "$(grep -F "to=<$rd>" "$T_TMP/relay.log")" \
	"to=<$rd>, relay=none, delay=[0-9]+s, status=sent \(discarded \(route: transport drop\.$D -> discard\)\)"
expect_not_received "relay: discard: nothing arrives" "$rd"

re=$(rcpt relayerr "err.$D")
$PY "$INJ" 127.0.0.1 $RELAY "$SND" "$re" 1 relayerr >/dev/null
wait_for 30 grep -q "to=<$re>.*status=" "$T_TMP/relay.log" ||
	fail "relay error: no result: $(tail -5 "$T_TMP/relay.log")"
expect_match "relay: bounced, logged" "$(grep -F "to=<$re>" "$T_TMP/relay.log")" \
	"to=<$re>, relay=none, delay=[0-9]+s, status=bounced \(5\.1\.1 No such domain here \(route: transport err\.$D -> error:5\.1\.1 No such domain here\)\)"
expect_received "relay: the bounce arrives (routed to mx-ee)" mx-ee "$SND"
expect_not_received "relay: error: nothing arrives" "$re"

# 11. SIGHUP: hup.D goes to a mismatching [host] (deferred); the table
# changes to [mx.dane-ee.test]; the reload moves the queued message to
# its new next hop, and at its next try (a flush) it goes there. Then a
# bad table on SIGHUP keeps the old one.
rh=$(rcpt hup "hup.$D")
$PY "$INJ" 127.0.0.1 $RELAY "$FROM" "$rh" 1 hup >/dev/null
wait_for 30 grep -q "to=<$rh>.*status=deferred" "$T_TMP/relay.log" ||
	fail "hup: not deferred: $(tail -5 "$T_TMP/relay.log")"
expect_match "hup: deferred with the DANE reason, route named" \
	"$(grep -F "to=<$rh>" "$T_TMP/relay.log")" \
	"route=transport hup\.$D -> \[mx1\.dane-mismatch\.test\], .*status=deferred \(DANE: not authenticated: no matching DANE TLSA records"
sed "s/^hup\.$D .*/hup.$D [mx.dane-ee.test]/" "$T" >"$T.new" && mv "$T.new" "$T"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 10 grep -q "reload: policy table 0 entries, bypass list 4 entries, transport table 9 entries" \
	"$T_TMP/relay.log" || fail "hup: no reload: $(tail -5 "$T_TMP/relay.log")"
wait_for 10 grep -q ": recipients at hup\.$D now go to \[mx\.dane-ee\.test\] (was \[mx1\.dane-mismatch\.test\])" \
	"$T_TMP/relay.log" || fail "hup: not moved at the reload: $(tail -5 "$T_TMP/relay.log")"
expect_eq "hup: not sent before its next try" "$(grep -c "to=<$rh>.*status=sent" "$T_TMP/relay.log")" 0
"$DANEMX" queue -o user= -o queue_dir="$Q" -o pid_file="$T_TMP/pid" flush >/dev/null 2>&1
wait_for 30 grep -q "to=<$rh>.*status=sent" "$T_TMP/relay.log" ||
	fail "hup: not sent after the reload: $(tail -5 "$T_TMP/relay.log")"
expect_match "hup: sent there" "$(grep -F "to=<$rh>" "$T_TMP/relay.log" | tail -1)" \
	"relay=mx\.dane-ee\.test\[$NET\.10\], route=transport hup\.$D -> \[mx\.dane-ee\.test\], tls=dane-verified, .*status=sent"
expect_received "hup: mx-ee got it" mx-ee "$rh"

printf 'hup.%s [mx1.dane-mismatch.test]\nbad.test [nohost\n' "$D" >"$T"
kill -HUP "$(cat "$T_TMP/pid")"
wait_for 10 grep -q "reload: transport table: " "$T_TMP/relay.log" ||
	fail "bad hup: no warning: $(tail -5 "$T_TMP/relay.log")"
expect_match "bad hup: loud, file and line" "$(cat "$T_TMP/relay.log")" \
	"reload: transport table: $T: line 2: '\[nohost' is not a next hop.* \(keeping the old tables: mail is routed as before\)"
rh2=$(rcpt hup2 "hup.$D")
$PY "$INJ" 127.0.0.1 $RELAY "$FROM" "$rh2" 1 hup2 >/dev/null
wait_for 30 grep -q "to=<$rh2>.*status=" "$T_TMP/relay.log" ||
	fail "bad hup: no result: $(tail -5 "$T_TMP/relay.log")"
expect_match "bad hup: the old table still routes" \
	"$(grep -F "to=<$rh2>" "$T_TMP/relay.log")" \
	"relay=mx\.dane-ee\.test\[$NET\.10\], route=transport hup\.$D -> \[mx\.dane-ee\.test\], .*status=sent"
pid=$(cat "$T_TMP/pid")
kill "$pid"
wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"

# 12. A relayhost: every bypass entry but the relayhost's own next hop
# never applies. [host]:port is that next hop, as written: an entry for
# the bare host does not match it.
printf 'mx.dane-ee.test\n[mx.dane-ee.test]:25\nother.test\n' >"$T_TMP/bypass2"
for rh in '[mx.dane-ee.test]:25' 'mx.dane-ee.test'; do
	: >"$T_TMP/relay2.log"
	"$DANEMX" -R "$CONF" serve --foreground -o listen=127.0.0.1:$RELAY \
		-o queue_dir="$T_TMP/q2" -o user= -o pid_file="$T_TMP/pid2" \
		-o helo_name=relay.test -o relayhost="$rh" \
		-o bypass_file="$T_TMP/bypass2" >"$T_TMP/relay2.log" 2>&1 &
	wait_for 15 sh -c "grep -q 'relay started' '$T_TMP/relay2.log' && [ -s '$T_TMP/pid2' ]" ||
		fail "relayhost $rh: relay did not start: $(cat "$T_TMP/relay2.log")"
	got=$(grep 'never applies' "$T_TMP/relay2.log" | sed 's/^danemx: //')
	pid=$(cat "$T_TMP/pid2")
	kill "$pid"
	wait_for 40 sh -c "! kill -0 $pid 2>/dev/null" || fail "relay did not stop"
	rm -f "$T_TMP/pid2"
	case $rh in
	\[*) expect_eq "relayhost $rh: the entries that never apply" "$got" \
"DANE bypass for mx.dane-ee.test never applies: its mail goes to the relayhost $rh (the list is matched against the next hop)
DANE bypass for other.test never applies: its mail goes to the relayhost $rh (the list is matched against the next hop)" ;;
	*) expect_eq "relayhost $rh: the entries that never apply" "$got" \
"DANE bypass for other.test never applies: its mail goes to the relayhost $rh (the list is matched against the next hop)" ;;
	esac
done
done_ok
