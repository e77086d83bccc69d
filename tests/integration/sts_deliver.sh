#!/bin/sh
# sts_deliver.sh - danemx send and check under MTA-STS (RFC 8461) against
# the world: the policies from its nginx, the MX hosts its Postfix smtpd
# (tests/world/zones/sts.test.zone, "delivery under MTA-STS"), WebPKI
# from the world's CA (--ca-file). DANE decides first, host by host
# (rule 31 of docs/rfc7672-rules.md):
#
#   deliver   enforce, the MX matches: sts-verified at mx-sts
#   badcert   enforce, the certificate names another host: deferred,
#             sts-webpki-invalid, check 6; with --no-mta-sts or
#             mta-sts=no in the policy table: opportunistic
#   skip      enforce, the preferred MX matches no pattern: never
#             contacted, the next MX used
#   testbad   testing, WebPKI would fail: delivered, the failure recorded
#   stsnone   mode none; nopol: 404, no policy: opportunistic
#   danests   TLSA matches, WebPKI fails: dane-verified
#   danebad   WebPKI passes, TLSA does not match: deferred tlsa-invalid
#   tlsafail  the TLSA RRset is bogus: deferred dnssec-invalid, nobody
#             contacted, never delivered under MTA-STS
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

CAF=$WORLD_CA

case_enforce() {
	ok=$(rcpt sts-ok deliver.sts.test)
	send "$ok" --ca-file "$CAF"
	expect_result "enforce" 0 '"delivered"' '"sts-verified"' \
	    '"ok.mx.sts.test"' null
	expect_log "enforce: the policy" \
	    "MTA-STS: enforce policy id=d1 for deliver.sts.test (fetched)"
	expect_log "enforce: which pattern decided" \
	    "MX ok.mx.sts.test (preference 10): TLS sts: MTA-STS: enforce policy id=d1 for deliver.sts.test: ok.mx.sts.test matches *.mx.sts.test"
	expect_log_match "enforce: WebPKI" \
	    '^MTA-STS: certificate verified \(WebPKI, matched \*\.mx\.sts\.test\)$'
	expect_json "enforce: the record" \
	    '.attempts[0] | [.policy_type, .sts_pattern, .fail, .tls]' \
	    '["sts", "*.mx.sts.test", null, "sts-verified"]'
	expect_json "enforce: the policy in the JSON" \
	    '.sts | [.mode, .id, .source, .mx]' \
	    '["enforce", "d1", "fetched", ["*.mx.sts.test"]]'
	expect_received "enforce: mx-sts got it" mx-sts "$ok"
	dmx check --ca-file "$CAF" deliver.sts.test
	expect_eq "enforce: check" "$RC" 0
}

case_badcert() {
	bad=$(rcpt sts-bad badcert.sts.test)
	send "$bad" --ca-file "$CAF"
	expect_result "wrong name" 75 '"deferred"' null null \
	    '"sts-webpki-invalid"'
	expect_log_match "wrong name: why" \
	    '^wrong\.mx\.sts\.test\[[0-9.]+\]:25: MTA-STS: certificate verification failed: hostname mismatch$'
	expect_json "wrong name: the record" \
	    '.attempts[0] | [.policy_type, .fail, .result_type, .tls]' \
	    '["sts", "sts-webpki-invalid", "sts-webpki-invalid", "none"]'
	expect_not_received "wrong name: nothing sent in clear" "$bad"
	dmx check --ca-file "$CAF" badcert.sts.test
	expect_eq "wrong name: check exit (MTA-STS)" "$RC" 6
	# MTA-STS off: as if the domain had no policy
	off=$(rcpt sts-off badcert.sts.test)
	send "$off" --ca-file "$CAF" --no-mta-sts
	expect_result "--no-mta-sts" 0 '"delivered"' '"opportunistic"' \
	    '"wrong.mx.sts.test"' null
	expect_json "--no-mta-sts: no policy looked up" '.sts' 'null'
	printf 'badcert.sts.test dane mta-sts=no\n' >"$T_TMP/policy"
	tab=$(rcpt sts-table badcert.sts.test)
	send "$tab" --ca-file "$CAF" --policy "$T_TMP/policy"
	expect_result "mta-sts=no in the table" 0 '"delivered"' \
	    '"opportunistic"' '"wrong.mx.sts.test"' null
	# the bypass list is for DANE: it does not bypass MTA-STS
	printf 'badcert.sts.test\n' >"$T_TMP/bypass"
	send "$(rcpt sts-byp badcert.sts.test)" --ca-file "$CAF" \
	    --bypass "$T_TMP/bypass"
	expect_result "bypass list" 75 '"deferred"' null null \
	    '"sts-webpki-invalid"'
}

case_skip() {
	before=$(connects mx-sts-unlisted)
	sk=$(rcpt sts-skip skip.sts.test)
	send "$sk" --ca-file "$CAF"
	expect_result "not listed" 0 '"delivered"' '"sts-verified"' \
	    '"ok.mx.sts.test"' null
	expect_log "not listed: why" \
	    "MX notlisted.skip.sts.test (preference 10): TLS unusable: MTA-STS: notlisted.skip.sts.test matches no pattern of the enforce policy id=sk1 for skip.sts.test"
	expect_json "not listed: its record" \
	    '.attempts[0] | [.host, .skipped, .policy_type, .fail]' \
	    '["notlisted.skip.sts.test", true, "sts", "validation-failure"]'
	expect_no_connect "not listed: never contacted" mx-sts-unlisted "$before"
}

case_testing() {
	tb=$(rcpt sts-test testbad.sts.test)
	send "$tb" --ca-file "$CAF"
	expect_result "testing" 0 '"delivered"' '"opportunistic"' \
	    '"wrong.mx.sts.test"' null
	expect_log "testing: what enforce would refuse" \
	    "MTA-STS testing: wrong.mx.sts.test would fail under enforce: certificate verification failed: hostname mismatch"
	expect_json "testing: recorded" \
	    '.attempts[0] | [.policy_type, .sts_pattern, .sts_testing_fail, .fail]' \
	    '["sts", "*.mx.sts.test", "sts-webpki-invalid", null]'
	expect_received "testing: delivered" mx-ta-badname "$tb"
}

case_none() {
	send "$(rcpt sts-none stsnone.sts.test)" --ca-file "$CAF"
	expect_result "mode none" 0 '"delivered"' '"opportunistic"' \
	    '"ok.mx.sts.test"' null
	expect_log "mode none: said" \
	    "MTA-STS: policy id=sn1 for stsnone.sts.test is mode none"
	send "$(rcpt sts-nopol nopol.sts.test)" --ca-file "$CAF"
	expect_result "no policy (404)" 0 '"delivered"' '"opportunistic"' \
	    '"ok.mx.sts.test"' null
	expect_json "no policy (404): the fetch error" '.sts | [.mode, .fail]' \
	    '[null, "sts-policy-fetch-error"]'
	expect_log_match "no policy (404): said" \
	    '^MTA-STS: no policy for nopol\.sts\.test: policy fetch failed: HTTP status 404'
}

case_dane_first() {
	dn=$(rcpt sts-dane danests.sts.test)
	send "$dn" --ca-file "$CAF"
	expect_result "DANE matches, WebPKI fails" 0 '"delivered"' \
	    '"dane-verified"' '"dane.mx.sts.test"' null
	expect_log "DANE decides" \
	    "MTA-STS: dane.mx.sts.test has secure TLSA records: DANE decides"
	expect_json "DANE decides: the record" '.attempts[0].policy_type' '"tlsa"'
	send "$(rcpt sts-danebad danebad.sts.test)" --ca-file "$CAF"
	expect_result "WebPKI passes, TLSA does not match" 75 '"deferred"' \
	    null null '"tlsa-invalid"'
	before=$(connects mx-sts)
	tf=$(rcpt sts-tlsafail tlsafail.sts.test)
	send "$tf" --ca-file "$CAF"
	expect_result "TLSA bogus under enforce" 75 '"deferred"' null null \
	    '"dnssec-invalid"'
	expect_no_connect "TLSA bogus: nobody contacted" mx-sts "$before"
	expect_not_received "TLSA bogus: never delivered under MTA-STS" "$tf"
}

case_check_json() {
	dmx --json check --ca-file "$CAF" skip.sts.test
	expect_eq "check: the unlisted MX fails the enforce policy" "$RC" 6
	expect_json "check: MTA-STS beside DANE, per host" \
	    '[.attempts[] | [.host, .policy_type, .tls]]' \
	    '[["notlisted.skip.sts.test", "sts", null], ["ok.mx.sts.test", "sts", "sts-verified"]]'
}

run_case enforce
run_case badcert
run_case skip
run_case testing
run_case none
run_case dane_first
run_case check_json
cases_done
