#!/bin/sh
# dane_delivery_ta.sh - danemx send/check to the world's Postfix MX hosts
# authenticated by DANE-TA(2) records of the world's test CA: a 2 0 1 match
# at depth 1, the leaf's name checks (rule 21: neither MX nor domain fails;
# the next-hop domain passes over a secure MX), a 2 1 0 trust anchor the
# server does not send (rule 23), and TLSA base domains of a secure CNAME
# (rules 10, 25). Cases: tests/world/CASES.md.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

CA_SUBJECT='CN=danemx world test CA,O=danemx world'

# san CERT: the DNS names of a certificate of the world, comma-separated
san() {
	openssl x509 -in "$WORLD_PKI/$1.pem" -noout -ext subjectAltName |
	    sed -n 's/^ *//; s/DNS://gp' | tr -d ' '
}

case_dane_ta() {
	expect_eq "dane-ta: the leaf's name" "$(san ta)" mx.dane-ta.test
	r=$(rcpt ta dane-ta.test)
	send "$r"
	expect_result "dane-ta" 0 '"delivered"' '"dane-verified"' '"mx.dane-ta.test"' null
	expect_json "dane-ta: verdict" \
	    '.attempts[0] | [.verdict.matched, .verdict.depth, (.verdict.chain | length), .verdict.chain[1].subject, .ref_ids]' \
	    "[\"2 0 1 $CA_201\", 1, 2, \"$CA_SUBJECT\", [\"mx.dane-ta.test\", \"dane-ta.test\"]]"
	expect_log "dane-ta: connect" "Connecting to [$NET.11]:25 (DNSSEC)"
	expect_log "dane-ta: chain" "X.509: depth 1 subject $CA_SUBJECT"
	expect_log "dane-ta: match" "DANE: validated successfully (2 0 1 at depth 1)"
	expect_received "dane-ta: maillog" mx-ta "$r"
}

# Rule 21: the CA matches, but the leaf names neither the MX host nor
# the domain: the host fails (certificate-host-mismatch), nothing is sent.
case_dane_ta_badname() {
	expect_eq "badname: the leaf's name" "$(san ta-badname)" elsewhere.example
	r=$(rcpt badname dane-ta-badname.test)
	send "$r"
	expect_result "badname" 75 '"deferred"' null null '"certificate-host-mismatch"'
	expect_json "badname: attempt" \
	    '.attempts | map([.dane_failed, .verdict.authenticated, .verdict.x509_error, .verdict.result_type])' \
	    '[[true, false, 62, "certificate-host-mismatch"]]'
	expect_log "badname: why" \
	    "DANE: not authenticated: hostname mismatch (X.509 error 62; 2 0 1 matched at depth 1) (deferring)"
	expect_no_log "badname: never validated" '^DANE: validated'
	expect_not_received "badname: no mail" "$r"
	dmx check dane-ta-badname.test
	expect_eq "badname: check exit code (DANE failure)" "$RC" 2
}

# Rule 21: the MX lookup was secure, so the next-hop domain is a reference
# identifier too: a leaf whose only name is the domain passes.
case_dane_ta_nexthop() {
	expect_eq "nexthop: the leaf's name" "$(san ta-nexthop)" dane-ta-nexthop.test
	r=$(rcpt nexthop dane-ta-nexthop.test)
	send "$r"
	expect_result "nexthop" 0 '"delivered"' '"dane-verified"' '"mx.dane-ta-nexthop.test"' null
	expect_json "nexthop: verdict" \
	    '.attempts[0] | [.verdict.matched, .verdict.depth, .ref_ids]' \
	    "[\"2 0 1 $CA_201\", 1, [\"mx.dane-ta-nexthop.test\", \"dane-ta-nexthop.test\"]]"
	expect_log "nexthop: match" "DANE: validated successfully (2 0 1 at depth 1)"
	expect_received "nexthop: maillog" mx-ta-nexthop "$r"
	# the next hop is a secure CNAME to that domain: the expanded name
	# is a reference identifier too
	r=$(rcpt nexthop-alias alias.dane-ta-nexthop.test)
	send "$r"
	expect_result "nexthop alias" 0 '"delivered"' '"dane-verified"' '"mx.dane-ta-nexthop.test"' null
	expect_json "nexthop alias: names" '.attempts[0].ref_ids' \
	    '["mx.dane-ta-nexthop.test", "alias.dane-ta-nexthop.test", "dane-ta-nexthop.test"]'
	expect_log "nexthop alias: match" "DANE: validated successfully (2 0 1 at depth 1)"
	expect_received "nexthop alias: maillog" mx-ta-nexthop "$r"
}

# Rule 23: 2 1 0, the CA's public key, and the server sends only its leaf.
# OpenSSL reports the depth of the top certificate of the chain, the one
# the trust-anchor key signed (SSL_get0_dane_authority(): 0 here).
case_dane_ta_notsent() {
	r=$(rcpt notsent dane-ta-notsent.test)
	send "$r"
	expect_result "notsent" 0 '"delivered"' '"dane-verified"' '"mx.dane-ta-notsent.test"' null
	expect_json "notsent: verdict" \
	    '.attempts[0].verdict | [.matched, .depth, (.chain | length), .chain[0].issuer]' \
	    "[\"2 1 0 $CA_210\", 0, 1, \"$CA_SUBJECT\"]"
	expect_log "notsent: only the leaf" "X.509: depth 0 issuer $CA_SUBJECT"
	expect_no_log "notsent: no CA sent" '^X\.509: depth 1 '
	expect_log "notsent: match" "DANE: validated successfully (2 1 0 at depth 0)"
	expect_received "notsent: maillog" mx-ta-notsent "$r"
}

# Rule 10: the MX host is a secure CNAME (mx -> real). Candidates: the
# expanded name first, then the original. TLSA exists only at the expanded
# name: it is the base domain, the SNI (rule 25) and the name the DANE-TA
# leaf must match.
case_cname_expanded() {
	expect_eq "cname-exp: the leaf's name" "$(san cname-exp)" real.cname-exp.test
	r=$(rcpt cnexp cname-exp.test)
	send "$r"
	expect_result "cname-exp" 0 '"delivered"' '"dane-verified"' '"mx.cname-exp.test"' null
	expect_json "cname-exp: host" \
	    '.hosts[0] | [.canonical_name, .cname_secure, .tlsa_base_candidates, .tlsa_base]' \
	    '["real.cname-exp.test", true, ["real.cname-exp.test", "mx.cname-exp.test"], "real.cname-exp.test"]'
	expect_json "cname-exp: SNI, names, match" \
	    '.attempts[0] | [.sni, .ref_ids, .verdict.matched, .verdict.depth]' \
	    "[\"real.cname-exp.test\", [\"real.cname-exp.test\", \"cname-exp.test\"], \"2 0 1 $CA_201\", 1]"
	expect_log "cname-exp: demand" \
	    "MX mx.cname-exp.test (preference 10): TLS dane: 1 usable TLSA record at _25._tcp.real.cname-exp.test"
	expect_log "cname-exp: match" "DANE: validated successfully (2 0 1 at depth 1)"
	expect_received "cname-exp: maillog" mx-cname-exp "$r"
}

# Rule 10: the same shape, TLSA only at the original name: the expanded
# name has none (secure NXDOMAIN), so the original is the base domain.
case_cname_original() {
	r=$(rcpt cnorig cname-orig.test)
	send "$r"
	expect_result "cname-orig" 0 '"delivered"' '"dane-verified"' '"mx.cname-orig.test"' null
	expect_json "cname-orig: host" \
	    '.hosts[0] | [.canonical_name, .cname_secure, .tlsa_base_candidates, .tlsa_base]' \
	    '["real.cname-orig.test", true, ["real.cname-orig.test", "mx.cname-orig.test"], "mx.cname-orig.test"]'
	expect_json "cname-orig: SNI, match" '.attempts[0] | [.sni, .verdict.matched]' \
	    "[\"mx.cname-orig.test\", \"3 1 1 $EE_311\"]"
	expect_log "cname-orig: demand" \
	    "MX mx.cname-orig.test (preference 10): TLS dane: 1 usable TLSA record at _25._tcp.mx.cname-orig.test"
	expect_log "cname-orig: connect" "Connecting to [$NET.26]:25 (DNSSEC)"
	expect_received "cname-orig: maillog" mx-cname-orig "$r"
}

# Rule 10: intermediate names of a CNAME chain are never candidates
# (mx2 -> mid -> real2; only mid has TLSA, naming another key): no DANE.
case_cname_intermediate() {
	r=$(rcpt cnchain chain.cname-orig.test)
	send "$r"
	expect_result "cname chain" 0 '"delivered"' '"opportunistic"' '"mx2.cname-orig.test"' null
	expect_json "cname chain: candidates" \
	    '.hosts[0] | [.canonical_name, .tlsa_base_candidates, .demand, .tlsa]' \
	    '["real2.cname-orig.test", ["real2.cname-orig.test", "mx2.cname-orig.test"], "may", []]'
	expect_log "cname chain: no TLSA" \
	    "DANE: no TLSA records for mx2.cname-orig.test (falling back to optional TLS)"
	expect_received "cname chain: maillog" mx-cname-orig "$r"
}

# Rule 9: the MX host is a secure CNAME into the unsigned insecure.test.
# The address is insecure, but the first link is secure: the TLSA base is
# the original name, and its (matching) TLSA applies.
case_cname_to_insecure() {
	r=$(rcpt cntail tail.cname-orig.test)
	send "$r"
	expect_result "cname to insecure" 0 '"delivered"' '"dane-verified"' '"mx3.cname-orig.test"' null
	expect_json "cname to insecure: host" \
	    '.hosts[0] | [.address_status, .tlsa_base_candidates, .tlsa_base, .demand]' \
	    '["insecure", ["mx3.cname-orig.test"], "mx3.cname-orig.test", "dane"]'
	expect_json "cname to insecure: SNI, match" '.attempts[0] | [.sni, .verdict.matched]' \
	    "[\"mx3.cname-orig.test\", \"3 1 1 $EE_311\"]"
	expect_log "cname to insecure: connect, address not DNSSEC" "Connecting to [$NET.26]:25"
	expect_log "cname to insecure: match" "DANE: validated successfully (3 1 1 at depth 0)"
	expect_received "cname to insecure: maillog" mx-cname-orig "$r"
}

run_case dane_ta
run_case dane_ta_badname
run_case dane_ta_nexthop
run_case dane_ta_notsent
run_case cname_expanded
run_case cname_original
run_case cname_intermediate
run_case cname_to_insecure
cases_done
