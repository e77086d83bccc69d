#!/bin/sh
# dane_delivery_fail.sh - DANE failures against the world's MX hosts: a
# TLSA mismatch on the preferred MX with a good second MX (rules 16, 8),
# TLSA but no STARTTLS or STARTTLS refused (rule 15), a bogus TLSA RRset
# (rule 12), a bogus address (rule 5), a bogus MX RRset (rule 3); the DANE
# bypass list (rule 27); danemx check's exit codes for a DANE (2), DNSSEC
# (3) and TLS (4) failure. Cases: tests/world/CASES.md.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

NO_MATCH='not authenticated: no matching DANE TLSA records (X.509 error 65)'
NO_MATCH_RE='not authenticated: no matching DANE TLSA records \(X\.509 error 65\)'

# Rules 16 and 8: mx1 (preference 10) does not match its TLSA; mx2 does.
case_mismatch_next_mx() {
	r=$(rcpt mismatch dane-mismatch.test)
	send "$r"
	expect_result "mismatch" 0 '"delivered"' '"dane-verified"' '"mx2.dane-mismatch.test"' null
	expect_json "mismatch: attempts" \
	    '.attempts | map([.host, .address, .dane_failed, .tls, .verdict.result_type])' \
	    "[[\"mx1.dane-mismatch.test\", \"$NET.17\", true, \"none\", \"tlsa-invalid\"],
	      [\"mx2.dane-mismatch.test\", \"$NET.18\", false, \"dane-verified\", null]]"
	expect_log "mismatch: mx1 first" "Connecting to [$NET.17]:25 (DNSSEC)"
	expect_log "mismatch: mx1 fails" "DANE: $NO_MATCH (trying next MX)"
	expect_log "mismatch: then mx2" "Connecting to [$NET.18]:25 (DNSSEC)"
	expect_log "mismatch: mx2 matches" "DANE: validated successfully (3 1 1 at depth 0)"
	expect_received "mismatch: maillog" mx-backup "$r"
}

# Only the mismatching host: deferred (never cleartext, never unverified).
case_mismatch_only() {
	r=$(rcpt mismatch-only only.dane-mismatch.test)
	send "$r"
	expect_result "mismatch only" 75 '"deferred"' null null '"tlsa-invalid"'
	expect_json "mismatch only: one attempt" \
	    '.attempts | map([.host, .dane_failed, .plaintext_retry])' \
	    '[["mx1.dane-mismatch.test", true, false]]'
	expect_log "mismatch only: why" "DANE: $NO_MATCH (deferring)"
	expect_not_received "mismatch only: no mail" "$r"
	dmx check only.dane-mismatch.test
	expect_eq "mismatch only: check exit code (DANE failure)" "$RC" 2
}

# Rule 27: the bypass list turns the DANE failure into delivery over
# unauthenticated TLS, said loudly.
case_bypass_mismatch() {
	printf 'only.dane-mismatch.test 2099-12-31 # key rollover gone wrong\n' \
	    >"$T_TMP/bypass"
	r=$(rcpt bypass only.dane-mismatch.test)
	send "$r" --bypass "$T_TMP/bypass"
	expect_eq "bypass: exit code (stderr: $ERR)" "$RC" 0
	expect_json "bypass: result" '[.outcome, .tls, .mx_used, .bypass]' \
	    '["delivered", "encrypted", "mx1.dane-mismatch.test", true]'
	expect_json "bypass: attempt" \
	    '.attempts | map([.dane_failed, .bypassed, .tls, .verdict.authenticated])' \
	    '[[true, true, "encrypted", false]]'
	expect_log_match "bypass: loud" \
	    "DANE bypass for only\.dane-mismatch\.test \(key rollover gone wrong\): $NO_MATCH_RE; delivering over unauthenticated TLS$"
	expect_log_match "bypass: TLS" '^Connection is now using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(encrypted\)$'
	expect_no_log "bypass: not DANE" '\(DANE\)$'
	expect_received "bypass: maillog" mx-mismatch "$r"
}

# Rule 27 and 12: a bogus TLSA RRset is a DANE failure the bypass list
# also softens: TLS without authentication.
case_bypass_bogus_tlsa() {
	printf 'only.tlsa-bogus.test\n' >"$T_TMP/bypass"
	r=$(rcpt bypass-bogus only.tlsa-bogus.test)
	send "$r" --bypass "$T_TMP/bypass"
	expect_eq "bypass bogus: exit code (stderr: $ERR)" "$RC" 0
	expect_json "bypass bogus: result" '[.outcome, .tls, .mx_used]' \
	    '["delivered", "encrypted", "mx1.tlsa-bogus.test"]'
	expect_json "bypass bogus: host" '.hosts[0] | [.tlsa_status, .demand, .bypassed]' \
	    '["bogus", "encrypt", true]'
	expect_log_match "bypass bogus: loud" \
	    'DANE bypass for only\.tlsa-bogus\.test: TLSA lookup for _25\._tcp\.mx1\.tlsa-bogus\.test failed: .*TLS without authentication'
	expect_received "bypass bogus: maillog" mx-tlsa-bogus "$r"
}

# Rule 15 (and 27: the bypass never means cleartext): TLSA, no STARTTLS.
case_no_starttls() {
	r=$(rcpt nostarttls no-starttls.test)
	send "$r"
	expect_result "no starttls" 75 '"deferred"' null null '"starttls-not-supported"'
	expect_json "no starttls: one attempt, no cleartext retry" \
	    '.attempts | map([.host, .demand, .tls, .plaintext_retry])' \
	    '[["mx.no-starttls.test", "dane", "none", false]]'
	expect_log "no starttls: why" \
	    "mx.no-starttls.test[$NET.16]:25: STARTTLS is required but the server does not offer it"
	expect_no_log "no starttls: no retry" 'retrying without TLS'
	printf 'no-starttls.test\n' >"$T_TMP/bypass"
	r2=$(rcpt nostarttls-bypass no-starttls.test)
	send "$r2" --bypass "$T_TMP/bypass"
	expect_result "no starttls, bypass" 75 '"deferred"' null null '"starttls-not-supported"'
	expect_not_received "no starttls: no mail" "$r"
	expect_not_received "no starttls, bypass: no mail" "$r2"
	dmx check no-starttls.test
	expect_eq "no starttls: check exit code (TLS failure)" "$RC" 4
}

# Rules 15 and 17: only unusable records still make STARTTLS mandatory.
case_unusable_no_starttls() {
	r=$(rcpt unusable-nostarttls unusable.no-starttls.test)
	send "$r"
	expect_result "unusable, no starttls" 75 '"deferred"' null null '"starttls-not-supported"'
	expect_json "unusable, no starttls: demand" '[.hosts[0].demand, (.attempts | length)]' \
	    '["encrypt", 1]'
	expect_log "unusable, no starttls: why" \
	    "mx-unusable.no-starttls.test[$NET.16]:25: STARTTLS is required but the server does not offer it"
	expect_not_received "unusable, no starttls: no mail" "$r"
}

# Rule 15: STARTTLS answered with 454 (faultsmtpd.py refuse-tls).
case_tls_refused() {
	r=$(rcpt refused tls-refused.test)
	send "$r"
	expect_result "refused" 75 '"deferred"' null null '"starttls-not-supported"'
	expect_json "refused: one attempt" '.attempts | map([.stage, .tls, .plaintext_retry])' \
	    '[["STARTTLS", "none", false]]'
	expect_log "refused: why" \
	    "mx.tls-refused.test[$NET.28]:25: STARTTLS: server said 454 4.7.0 TLS not available"
	expect_not_received "refused: no mail" "$r"
	dmx check tls-refused.test
	expect_eq "refused: check exit code (TLS failure)" "$RC" 4
}

# Rule 12: mx1's TLSA RRset is bogus: mx1 is never contacted; mx2 is used.
case_tlsa_bogus() {
	before=$(connects mx-tlsa-bogus)
	r=$(rcpt tlsabogus tlsa-bogus.test)
	send "$r"
	expect_result "tlsa bogus" 0 '"delivered"' '"dane-verified"' '"mx2.tlsa-bogus.test"' null
	expect_json "tlsa bogus: mx1" \
	    '.hosts[0] | [.name, .tlsa_status, .demand, .result_type]' \
	    '["mx1.tlsa-bogus.test", "bogus", "unusable", "dnssec-invalid"]'
	expect_json "tlsa bogus: attempts" '.attempts | map([.host, .skipped, .address])' \
	    "[[\"mx1.tlsa-bogus.test\", true, null], [\"mx2.tlsa-bogus.test\", false, \"$NET.10\"]]"
	expect_log "tlsa bogus: why" \
	    "DANE: TLSA lookup for _25._tcp.mx1.tlsa-bogus.test failed: bogus (trying next MX)"
	expect_no_log "tlsa bogus: mx1 not contacted" "^Connecting to \[$NET\.19\]"
	expect_received "tlsa bogus: maillog" mx-ee "$r"
	expect_no_connect "tlsa bogus: mx1 not contacted" mx-tlsa-bogus "$before"
	dmx check tlsa-bogus.test
	expect_eq "tlsa bogus: check exit code (DNSSEC failure)" "$RC" 3
}

# Rule 12: the only host's TLSA RRset is bogus: deferred.
case_tlsa_bogus_only() {
	before=$(connects mx-tlsa-bogus)
	r=$(rcpt tlsabogus-only only.tlsa-bogus.test)
	send "$r"
	expect_result "tlsa bogus only" 75 '"deferred"' null null '"dnssec-invalid"'
	expect_log "tlsa bogus only: why" \
	    "DANE: TLSA lookup for _25._tcp.mx1.tlsa-bogus.test failed: bogus (deferring)"
	expect_no_log "tlsa bogus only: nobody contacted" '^Connecting to '
	expect_no_connect "tlsa bogus only: mx1 not contacted" mx-tlsa-bogus "$before"
	dmx check only.tlsa-bogus.test
	expect_eq "tlsa bogus only: check exit code (DNSSEC failure)" "$RC" 3
}

# Rule 5: mx1's A RRset is bogus: skip it, use mx2.
case_addr_bogus() {
	before=$(connects mx-addr-bogus)
	r=$(rcpt addrbogus addr-bogus.test)
	send "$r"
	expect_result "addr bogus" 0 '"delivered"' '"dane-verified"' '"mx2.addr-bogus.test"' null
	expect_json "addr bogus: mx1" '.hosts[0] | [.name, .address_status, .addresses, .demand, .tlsa_status]' \
	    '["mx1.addr-bogus.test", "bogus", [], "unusable", null]'
	expect_json "addr bogus: attempts" '.attempts | map([.host, .skipped])' \
	    '[["mx1.addr-bogus.test", true], ["mx2.addr-bogus.test", false]]'
	expect_log "addr bogus: why" \
	    "MX mx1.addr-bogus.test (preference 10): TLS unusable: address lookup for mx1.addr-bogus.test failed: bogus"
	expect_log "addr bogus: next" "mx1.addr-bogus.test: not used (trying next MX)"
	expect_log "addr bogus: mx2" "Connecting to [$NET.10]:25 (DNSSEC)"
	expect_received "addr bogus: maillog" mx-ee "$r"
	expect_no_connect "addr bogus: mx1 not contacted" mx-addr-bogus "$before"
}

# Rule 3: the MX RRset is bogus: defer, and never fall back to the
# domain's own A record (it points at a live MX with a matching TLSA).
case_mx_bogus() {
	before=$(connects mx-mx-bogus)
	r=$(rcpt mxbogus mx-bogus.test)
	send "$r"
	expect_result "mx bogus" 75 '"deferred"' null null '"dnssec-invalid"'
	expect_json "mx bogus: nothing tried" '[.mx.status, .hosts, .attempts]' \
	    '["bogus", [], []]'
	expect_log_match "mx bogus: why" \
	    '^mx-bogus\.test: MX lookup for mx-bogus\.test failed: .*signature.* \(deferring\)$'
	expect_no_log "mx bogus: nobody contacted" '^Connecting to '
	probe "$(rcpt mxbogus-probe mx-bogus.test)"
	expect_result "mx bogus probe" 75 '"deferred"' null null '"dnssec-invalid"'
	dmx check mx-bogus.test
	expect_eq "mx bogus: check exit code (DNSSEC failure)" "$RC" 3
	expect_no_connect "mx bogus: the domain's A never used" mx-mx-bogus "$before"
	expect_not_received "mx bogus: no mail" "$r"
}

# check's exit code is the worst over its domains, DANE first.
case_check_precedence() {
	dmx check dane-ee.test tls-refused.test mx-bogus.test only.dane-mismatch.test
	expect_eq "check: DANE before DNSSEC before TLS" "$RC" 2
	dmx check dane-ee.test tls-refused.test mx-bogus.test
	expect_eq "check: DNSSEC before TLS" "$RC" 3
}

# check diagnoses every host: with one failing host it says which and why
# (not the empty reason of the last host, which passed).
case_check_reason() {
	dmx --json check dane-mismatch.test
	expect_eq "check reason: exit code (DANE failure)" "$RC" 2
	expect_json "check reason: both hosts tried" '[.attempts[] | [.host, .ok]]' \
	    '[["mx1.dane-mismatch.test", false], ["mx2.dane-mismatch.test", true]]'
	expect_json "check reason: result type" .result_type '"tlsa-invalid"'
	expect_match "check reason: why" "$(jqo .why)" 'no matching DANE TLSA records'
}

run_case mismatch_next_mx
run_case mismatch_only
run_case bypass_mismatch
run_case bypass_bogus_tlsa
run_case no_starttls
run_case unusable_no_starttls
run_case tls_refused
run_case tlsa_bogus
run_case tlsa_bogus_only
run_case addr_bogus
run_case mx_bogus
run_case check_precedence
run_case check_reason
cases_done
