#!/bin/sh
# dane_delivery_ee.sh - danemx send/probe/check to the world's Postfix MX
# hosts authenticated by DANE-EE(3) records: a plain 3 1 1 match (rule 16),
# over IPv6, an expired leaf (rule 20), digest agility (rule 24), only
# unusable records (rule 17), the implicit MX (rule 4), a TLSA CNAME
# (rule 11); recipient probes. Cases: tests/world/CASES.md.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

TLS13='TLSv1\.[23] with cipher [A-Z0-9_-]+'

case_dane_ee() {
	r=$(rcpt ee dane-ee.test)
	send "$r"
	expect_result "dane-ee" 0 '"delivered"' '"dane-verified"' \
	    '"mx.dane-ee.test"' null
	expect_json "dane-ee: address" .address_used "\"$NET.10\""
	expect_json "dane-ee: MX" '.mx | [.status, .secure, .implicit]' \
	    '["secure", true, false]'
	expect_json "dane-ee: one attempt" '.attempts | length' 1
	expect_json "dane-ee: verdict" \
	    '.attempts[0] | [.verdict.authenticated, .verdict.matched, .verdict.depth, .sni, .ref_ids]' \
	    "[true, \"3 1 1 $EE_311\", 0, \"mx.dane-ee.test\", [\"mx.dane-ee.test\", \"dane-ee.test\"]]"
	expect_log "dane-ee: MX" "dane-ee.test: MX RRset secure, 1 host"
	expect_log "dane-ee: demand" \
	    "MX mx.dane-ee.test (preference 10): TLS dane: 1 usable TLSA record at _25._tcp.mx.dane-ee.test"
	expect_log "dane-ee: connect" "Connecting to [$NET.10]:25 (DNSSEC)"
	expect_log "dane-ee: match" "DANE: validated successfully (3 1 1 at depth 0)"
	expect_log_match "dane-ee: TLS" "^Connection is now using $TLS13 \(DANE\)$"
	expect_log_match "dane-ee: delivered" \
	    "^mx\.dane-ee\.test\[$NET\.10\]:25: delivered, TLS dane-verified: 250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$"
	expect_received "dane-ee: maillog" mx-ee "$r"
}

case_dane_ee_v6() {
	if [ -z "$WORLD_MX_ADDR6" ]; then
		echo "$T_NAME: skipped dane_ee_v6: the world has no IPv6 MX" >&2
		return 0
	fi
	r=$(rcpt v6 v6.dane-ee.test)
	send "$r"
	expect_result "v6" 0 '"delivered"' '"dane-verified"' '"mx6.dane-ee.test"' null
	expect_json "v6: address" .address_used "\"$WORLD_MX_ADDR6\""
	expect_log "v6: connect" "Connecting to [$WORLD_MX_ADDR6]:25 (DNSSEC)"
	expect_log "v6: match" "DANE: validated successfully (3 1 1 at depth 0)"
	expect_received "v6: maillog" mx-v6 "$r"
}

# Rule 20: DANE-EE ignores the certificate's dates.
case_expired_leaf() {
	openssl x509 -in "$WORLD_PKI/expired.pem" -noout -checkend 0 >/dev/null &&
		fail "expired: the world's expired.pem has not expired"
	r=$(rcpt expired dane-ee-expired.test)
	send "$r"
	expect_result "expired" 0 '"delivered"' '"dane-verified"' \
	    '"mx.dane-ee-expired.test"' null
	expect_json "expired: verdict" \
	    '.attempts[0].verdict | [.matched, .depth, .x509_error, .chain[0].subject]' \
	    "[\"3 1 1 $EXPIRED_311\", 0, 0, \"OU=expired,O=danemx world\"]"
	expect_log "expired: match" "DANE: validated successfully (3 1 1 at depth 0)"
	expect_received "expired: maillog" mx-expired "$r"
}

# Rule 24: a matching 3 1 1 beside a non-matching 3 1 2: only the
# strongest digest (2, SHA-512) counts, so nothing matches.
case_digest_agility() {
	r=$(rcpt agility digest-agility.test)
	send "$r"
	expect_result "agility" 75 '"deferred"' null null '"tlsa-invalid"'
	expect_json "agility: both records usable" \
	    '[.hosts[0].tlsa[] | [(.record | split(" ") | .[0:3] | join(" ")), .usable]] | sort' \
	    '[["3 1 1", true], ["3 1 2", true]]'
	expect_json "agility: the attempt" \
	    '.attempts | map([.host, .dane_failed, .verdict.matched, .verdict.result_type])' \
	    '[["mx.digest-agility.test", true, null, "tlsa-invalid"]]'
	expect_log "agility: connect" "Connecting to [$NET.10]:25 (DNSSEC)"
	expect_log "agility: no match" \
	    "DANE: not authenticated: no matching DANE TLSA records (X.509 error 65) (deferring)"
	expect_no_log "agility: never validated" '^DANE: validated'
	expect_not_received "agility: no mail" "$r"
	dmx check digest-agility.test
	expect_eq "agility: check exit code (DANE failure)" "$RC" 2
}

# Rules 17 and 19: a secure RRset of only unusable records (1 1 1, 0 0 1,
# a 3 1 1 digest of 20 octets): TLS is mandatory but not authenticated.
case_unusable_only() {
	r=$(rcpt unusable dane-unusable.test)
	send "$r"
	expect_result "unusable" 0 '"delivered"' '"encrypted"' \
	    '"mx.dane-unusable.test"' null
	expect_json "unusable: records" \
	    '.hosts[0] | [.demand, ([.tlsa[] | [(.record | split(" ") | .[0:3] | join(" ")), .usable, (.reason | type)]] | sort)]' \
	    '["encrypt", [["0 0 1", false, "string"], ["1 1 1", false, "string"], ["3 1 1", false, "string"]]]'
	expect_json "unusable: not authenticated" '.attempts[0].verdict.authenticated' false
	expect_log "unusable: demand" \
	    "MX mx.dane-unusable.test (preference 10): TLS encrypt: every TLSA record at _25._tcp.mx.dane-unusable.test is unusable: TLS is mandatory but not authenticated"
	expect_log_match "unusable: TLS" "^Connection is now using $TLS13 \(encrypted\)$"
	expect_received "unusable: maillog" mx-unusable "$r"
	dmx check dane-unusable.test
	expect_eq "unusable: check exit code (as good as its DNS allows)" "$RC" 0
}

# Rule 4: secure NODATA for MX: the domain is its own MX (preference 0),
# TLSA at _25._tcp.DOMAIN.
case_implicit_mx() {
	r=$(rcpt implicit implicit-mx.test)
	send "$r"
	expect_result "implicit" 0 '"delivered"' '"dane-verified"' '"implicit-mx.test"' null
	expect_json "implicit: MX" '.mx | [.status, .implicit]' '["secure", true]'
	expect_json "implicit: host" \
	    '.hosts | map([.name, .preference, .tlsa_base, .demand])' \
	    '[["implicit-mx.test", 0, "implicit-mx.test", "dane"]]'
	expect_json "implicit: match" '.attempts[0].verdict | [.matched, .depth]' \
	    "[\"3 1 1 $EE_311\", 0]"
	expect_log "implicit: MX" \
	    "implicit-mx.test: MX RRset secure (no MX: the domain itself), 1 host"
	expect_log "implicit: connect" "Connecting to [$NET.29]:25 (DNSSEC)"
	expect_received "implicit: maillog" mx-implicit "$r"
}

# Rule 11: _25._tcp.mx.tlsa-cname.test is a CNAME to a secure TLSA RRset
# elsewhere; the base domain (and SNI) stays the MX host name.
case_tlsa_cname() {
	r=$(rcpt tlsacname tlsa-cname.test)
	send "$r"
	expect_result "tlsa cname" 0 '"delivered"' '"dane-verified"' '"mx.tlsa-cname.test"' null
	expect_json "tlsa cname: base" '.hosts[0] | [.tlsa_base, .tlsa_status]' \
	    '["mx.tlsa-cname.test", "secure"]'
	expect_json "tlsa cname: SNI, match" '.attempts[0] | [.sni, .verdict.matched]' \
	    "[\"mx.tlsa-cname.test\", \"3 1 1 $EE_311\"]"
	expect_log "tlsa cname: match" "DANE: validated successfully (3 1 1 at depth 0)"
	expect_received "tlsa cname: maillog" mx-tlsa-cname "$r"
}

# danemx check of a good DANE-EE domain: 0, nothing sent.
case_check_ok() {
	dmx --json check dane-ee.test
	expect_eq "check ok: exit code" "$RC" 0
	expect_json "check ok: result" '[.outcome, .tls, .mx_used]' \
	    '["accepted", "dane-verified", "mx.dane-ee.test"]'
	expect_eq "check ok: no DATA" \
	    "$(jqo '[.attempts[].transcript[] | select(startswith("C: DATA") or startswith("C: MAIL"))] | length')" 0
	expect_log "check ok: connect" "Connecting to [$NET.10]:25 (DNSSEC)"
	expect_log "check ok: match" "DANE: validated successfully (3 1 1 at depth 0)"
}

# Recipient probes over DANE: every recipient accepted (0); one rejected
# at RCPT with 550 5.1.1 (67), and Postfix says so.
case_probe() {
	ok=$(rcpt probe-ok dane-ee.test)
	probe "$ok"
	expect_result "probe ok" 0 '"accepted"' '"dane-verified"' '"mx.dane-ee.test"' null
	expect_json "probe ok: rcpt" '[.rcpt[] | [.code, .enhanced]]' '[[250, "2.1.5"]]'
	expect_eq "probe ok: no DATA" \
	    "$(jqo '[.attempts[].transcript[] | select(startswith("C: DATA"))] | length')" 0
	bad=reject-$RUN@dane-ee.test
	probe "$ok" "$bad"
	expect_result "probe reject" 67 '"rejected"' '"dane-verified"' '"mx.dane-ee.test"' null
	expect_json "probe reject: rcpt" '[.rcpt[] | [.code, .enhanced]]' \
	    '[[250, "2.1.5"], [550, "5.1.1"]]'
	expect_match "probe reject: text" "$(jqo '.rcpt[1].text')" 'Recipient address rejected: No such user here'
	expect_rejected_logged "probe reject: maillog" mx-ee "$bad"
	expect_not_received "probe: nothing delivered" "$ok"
}

# Rule 34: 5xx at RCPT fails that recipient (67), the others are delivered;
# with no recipient accepted, no DATA and no other MX.
case_rcpt_rejected() {
	bad=reject-send-$RUN@dane-ee.test
	send "$bad"
	expect_result "rcpt 5xx" 67 '"rejected"' '"dane-verified"' '"mx.dane-ee.test"' null
	expect_json "rcpt 5xx: rcpt" '[.rcpt[] | [.code, .enhanced]]' '[[550, "5.1.1"]]'
	expect_eq "rcpt 5xx: no DATA" \
	    "$(jqo '[.attempts[].transcript[] | select(startswith("C: DATA"))] | length')" 0
	expect_rejected_logged "rcpt 5xx: maillog" mx-ee "$bad"
	bad=reject-mixed-$RUN@dane-ee.test
	ok=$(rcpt mixed dane-ee.test)
	"$DANEMX" -R "$CONF" --timeout 10 --json send --from "$FROM" --to "$bad" \
	    --to "$ok" --helo client.test <"$T_TMP/msg" >"$T_TMP/out" 2>"$T_TMP/err"
	RC=$?
	OUT=$(cat "$T_TMP/out")
	ERR=$(cat "$T_TMP/err")
	expect_eq "rcpt mixed: exit code" "$RC" 67
	expect_json "rcpt mixed: rcpt" '[.rcpt[] | .code]' '[550, 250]'
	expect_received "rcpt mixed: the other one delivered" mx-ee "$ok"
}

# danemx tlsa --connect HOST reaches the host over the delivery path (its
# addresses from the validating resolver, no MX lookup) and prints the
# record the world published for it.
case_tlsa_connect() {
	OUT=$("$DANEMX" -R "$CONF" --timeout 10 tlsa --connect mx.dane-ee.test 2>"$T_TMP/err")
	expect_eq "tlsa --connect HOST: exit" "$?" 0
	expect_eq "tlsa --connect HOST: the published record" "$OUT" \
	    "_25._tcp.mx.dane-ee.test. IN TLSA 3 1 1 $EE_311"
	run_cmd "$DANEMX" -R "$CONF" --timeout 10 tlsa --connect mx1.addr-bogus.test
	expect_eq "tlsa --connect, a bogus address: exit" "$RC" 69
	expect_match "tlsa --connect, a bogus address: why" "$ERR" \
	    "no certificate chain: address lookup for mx1\.addr-bogus\.test failed: bogus"
}

run_case dane_ee
run_case tlsa_connect
run_case dane_ee_v6
run_case expired_leaf
run_case digest_agility
run_case unusable_only
run_case implicit_mx
run_case tlsa_cname
run_case check_ok
run_case probe
run_case rcpt_rejected
cases_done
