#!/bin/sh
# dane_delivery_route.sh - where DANE does not apply, and MX order, against
# the world's MX hosts: an insecure MX RRset (opportunistic TLS, rule 18),
# an insecure MX host behind a secure MX (rule 9), an insecure MX RRset
# whose host has secure TLSA (rule 7: still not verified delivery), no
# TLSA, MX preference before TLSA (rule 8), equal preferences shuffled
# (rule 8), and the dane-only policy (rule 28). Cases: tests/world/CASES.md.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

TLS_OPP='^Connection is now using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(opportunistic\)$'

# An unsigned domain and MX host: DANE does not apply, TLS is optional.
case_insecure_domain() {
	r=$(rcpt insecure opp.insecure.test)
	send "$r"
	expect_result "insecure" 0 '"delivered"' '"opportunistic"' '"ih.insecure.test"' null
	expect_json "insecure: MX" '.mx | [.status, .secure]' '["insecure", false]'
	expect_json "insecure: host" '.hosts[0] | [.demand, .tlsa_status, .tlsa]' \
	    '["may", null, []]'
	expect_log "insecure: falls back" \
	    "DANE: insecure name opp.insecure.test (falling back to optional TLS)"
	expect_log "insecure: connect, no DNSSEC" "Connecting to [$NET.24]:25"
	expect_log_match "insecure: TLS" "$TLS_OPP"
	expect_received "insecure: maillog" mx-insecure "$r"
}

# Rule 9: a secure MX RRset naming a host in an unsigned zone: its address
# is insecure, so its TLSA (unsigned, and naming another key) is never
# looked up; opportunistic TLS.
case_insecure_mx_host() {
	r=$(rcpt insecure-host insecure-host.test)
	send "$r"
	expect_result "insecure host" 0 '"delivered"' '"opportunistic"' '"ih.insecure.test"' null
	expect_json "insecure host: MX secure" '.mx.status' '"secure"'
	expect_json "insecure host: no TLSA lookup" \
	    '.hosts[0] | [.address_status, .demand, .tlsa_base, .tlsa_status, .tlsa]' \
	    '["insecure", "may", null, null, []]'
	expect_log "insecure host: falls back" \
	    "DANE: insecure name ih.insecure.test (falling back to optional TLS)"
	expect_log "insecure host: connect, no DNSSEC" "Connecting to [$NET.24]:25"
	expect_received "insecure host: maillog" mx-insecure "$r"
}

# Rule 7: the MX RRset is insecure, its host mx.dane-ee.test has a secure
# matching TLSA. DANE does not apply to the domain: never reported (or
# logged) as verified delivery to it.
case_insecure_mx_secure_host() {
	r=$(rcpt rule7 dane-mx.insecure.test)
	send "$r"
	expect_result "rule 7" 0 '"delivered"' '"opportunistic"' '"mx.dane-ee.test"' null
	expect_json "rule 7: MX insecure" '.mx | [.status, .secure]' '["insecure", false]'
	expect_json "rule 7: not verified" '[.attempts[].tls]' '["opportunistic"]'
	expect_log "rule 7: falls back" \
	    "DANE: insecure name dane-mx.insecure.test (falling back to optional TLS)"
	expect_no_log "rule 7: never 'validated'" '^DANE: validated'
	expect_no_log "rule 7: never DANE TLS" '\(DANE\)$'
	expect_log_match "rule 7: TLS" "$TLS_OPP"
	expect_received "rule 7: maillog" mx-ee "$r"
}

# Rule 18: a secure host without TLSA: opportunistic TLS.
case_no_tlsa() {
	r=$(rcpt notlsa no-tlsa.test)
	send "$r"
	expect_result "no tlsa" 0 '"delivered"' '"opportunistic"' '"mx.no-tlsa.test"' null
	expect_json "no tlsa: host" '.hosts[0] | [.address_status, .tlsa_base, .tlsa_status, .demand]' \
	    '["secure", "mx.no-tlsa.test", "secure", "may"]'
	expect_log "no tlsa: falls back" \
	    "DANE: no TLSA records for mx.no-tlsa.test (falling back to optional TLS)"
	expect_log "no tlsa: connect" "Connecting to [$NET.31]:25 (DNSSEC)"
	expect_log_match "no tlsa: TLS" "$TLS_OPP"
	expect_received "no tlsa: maillog" mx-no-tlsa "$r"
}

# Rule 8: MX 10 without TLSA goes before MX 20 with TLSA.
case_preference_first() {
	r=$(rcpt pref pref-order.test)
	send "$r"
	expect_result "preference" 0 '"delivered"' '"opportunistic"' '"mx1.pref-order.test"' null
	expect_json "preference: hosts in order" '[.hosts[] | [.name, .preference, .demand]]' \
	    '[["mx1.pref-order.test", 10, "may"], ["mx2.pref-order.test", 20, "dane"]]'
	expect_json "preference: one attempt" '[.attempts[].host]' '["mx1.pref-order.test"]'
	expect_no_log "preference: mx2 not contacted" "^Connecting to \[$NET\.32\]"
	expect_received "preference: maillog" mx-no-tlsa "$r"
}

# Rule 8: equal preferences are shuffled: 20 probes, each host chosen at
# least once (each fails with probability 2^-19), each verified.
case_equal_preference() {
	: >"$T_TMP/used"
	i=0
	while [ $i -lt 20 ]; do
		i=$((i + 1))
		probe "$(rcpt equal-$i equal-pref.test)"
		expect_eq "equal preference: probe $i exit code (stderr: $ERR)" "$RC" 0
		expect_json "equal preference: probe $i" '[.outcome, .tls, (.hosts | map(.preference))]' \
		    '["accepted", "dane-verified", [10, 10]]'
		printf '%s\n' "$OUT" | jq -r .mx_used >>"$T_TMP/used"
	done
	expect_eq "equal preference: hosts chosen" "$(sort -u "$T_TMP/used" | tr '\n' ' ')" \
	    'mxa.equal-pref.test mxb.equal-pref.test '
}

# Rule 28: dane-only and no usable secure TLSA: deferred, dane-required.
case_dane_only() {
	printf 'opp.insecure.test dane-only\nno-tlsa.test dane-only\n.pref-order.test may\npref-order.test dane-only\n' \
	    >"$T_TMP/policy"
	before=$(connects mx-insecure)
	r=$(rcpt daneonly opp.insecure.test)
	send "$r" --policy "$T_TMP/policy"
	expect_result "dane-only insecure" 75 '"deferred"' null null '"dane-required"'
	expect_json "dane-only insecure: policy, host" '[.policy, .hosts[0].demand, .attempts[0].skipped]' \
	    '["dane-only", "unusable", true]'
	expect_log "dane-only insecure: why" \
	    "MX ih.insecure.test (preference 10): TLS unusable: insecure MX RRset, but the policy for opp.insecure.test is dane-only"
	expect_no_log "dane-only insecure: nobody contacted" '^Connecting to '
	expect_no_connect "dane-only insecure: not contacted" mx-insecure "$before"

	r=$(rcpt daneonly no-tlsa.test)
	send "$r" --policy "$T_TMP/policy"
	expect_result "dane-only no tlsa" 75 '"deferred"' null null '"dane-required"'
	expect_no_log "dane-only no tlsa: nobody contacted" '^Connecting to '
	dmx check --policy "$T_TMP/policy" no-tlsa.test
	expect_eq "dane-only no tlsa: check exit code (DANE failure)" "$RC" 2

	# the host without TLSA is skipped, the DANE host used
	r=$(rcpt daneonly pref-order.test)
	send "$r" --policy "$T_TMP/policy"
	expect_result "dane-only preference" 0 '"delivered"' '"dane-verified"' '"mx2.pref-order.test"' null
	expect_json "dane-only preference: attempts" '.attempts | map([.host, .skipped])' \
	    '[["mx1.pref-order.test", true], ["mx2.pref-order.test", false]]'
	expect_received "dane-only preference: maillog" mx-pref2 "$r"
}

run_case insecure_domain
run_case insecure_mx_host
run_case insecure_mx_secure_host
run_case no_tlsa
run_case preference_first
run_case equal_preference
run_case dane_only
cases_done
