#!/bin/sh
# dns_status.sh - `danemx dns` against the local world (tests/world): the
# DNSSEC status, rcode, NXDOMAIN/NODATA, CNAME chain and records of each
# kind of name, in JSON and in text, and the exit codes (rules 1, 2, 6).
#
# Needs the world fixture started (DANEMX_WORLD, see tests/world/world.sh).
# shellcheck source=tests/lib.sh
. "$DANEMX_SRCDIR/tests/lib.sh"

: "${DANEMX_WORLD:?DANEMX_WORLD must name a started world}"
CONF=$DANEMX_WORLD/unbound.conf
[ -f "$CONF" ] || fail "no $CONF: is the world started (world.sh start)?"

KEYS='["canonical_name","cname_chain","cname_secure","error","name","nodata","nxdomain","rcode","records","status","ttl","type","why_bogus"]'

# dns [OPTION...] NAME TYPE: run danemx dns --json; RC, OUT, ERR
dns() {
	run_cmd "$DANEMX" -R "$CONF" --json dns "$@"
}

# jqo FILTER: FILTER applied to OUT, compact, keys sorted
jqo() { printf '%s\n' "$OUT" | jq -cS "$1" 2>&1; }

# expect_json WHAT FILTER WANT_JSON
expect_json() {
	expect_eq "$1" "$(jqo "$2")" "$(printf '%s\n' "$3" | jq -cS .)"
}

# expect_result WHAT WANT_RC WANT_JSON: the exit code, that OUT is exactly
# one object with exactly the contract's keys, and every field but ttl,
# why_bogus and error (records compared as a set).
expect_result() {
	expect_eq "$1: exit code (stderr: $ERR)" "$RC" "$2"
	expect_eq "$1: one JSON object" \
	    "$(printf '%s\n' "$OUT" | jq -s 'map(type)' -c 2>&1)" '["object"]'
	expect_eq "$1: keys" "$(jqo 'keys')" "$KEYS"
	expect_json "$1: fields" \
	    'del(.ttl, .why_bogus, .error) | .records |= sort' "$3"
}

# expect_clean WHAT: why_bogus and error are both null
expect_clean() {
	expect_json "$1: why_bogus, error" '[.why_bogus, .error]' '[null, null]'
}

# expect_bogus WHAT WHY_PATTERN: status bogus, with the validator's reason
expect_bogus() {
	expect_eq "$1: why_bogus is a string" "$(jqo '.why_bogus | type')" '"string"'
	expect_match "$1: why_bogus" "$(jqo '.why_bogus')" "$2"
	expect_eq "$1: error" "$(jqo '.error')" null
}

# --- secure answers ---------------------------------------------------------

dns www.secure.test A
expect_result "secure A" 0 '{"name":"www.secure.test","type":"A",
    "status":"secure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"www.secure.test","cname_secure":false,"cname_chain":[],
    "records":["127.0.25.1"]}'
expect_clean "secure A"
# a fresh process: the TTL of the zone (3600), give or take a second or two
expect_match "secure A: ttl" "$(jqo .ttl)" '^(3600|359[0-9])$'

dns www.secure.test AAAA
expect_result "secure AAAA" 0 '{"name":"www.secure.test","type":"AAAA",
    "status":"secure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"www.secure.test","cname_secure":false,"cname_chain":[],
    "records":["::1"]}'
expect_clean "secure AAAA"

dns secure.test MX
expect_result "secure MX" 0 '{"name":"secure.test","type":"MX",
    "status":"secure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"secure.test","cname_secure":false,"cname_chain":[],
    "records":["10 mx1.secure.test","20 mx2.secure.test"]}'
expect_clean "secure MX"

# the zone has the digest in upper case; danemx must print lower case
dns _25._tcp.mx1.secure.test TLSA
expect_result "secure TLSA" 0 '{"name":"_25._tcp.mx1.secure.test",
    "type":"TLSA","status":"secure","rcode":"NOERROR","nodata":false,
    "nxdomain":false,"canonical_name":"_25._tcp.mx1.secure.test",
    "cname_secure":false,"cname_chain":[],
    "records":["3 1 1 8f0c4d6e2b1a3957c6e8d0f2a4b6c8e01a3c5e7092b4d6f8a0c2e4068a9bcdef"]}'
expect_clean "secure TLSA"

# names are lower case without the trailing dot, whatever was asked
dns WWW.Secure.TEST. A
expect_result "mixed-case query" 0 '{"name":"www.secure.test","type":"A",
    "status":"secure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"www.secure.test","cname_secure":false,"cname_chain":[],
    "records":["127.0.25.1"]}'

# --- secure NODATA and NXDOMAIN: answers, not failures (rule 1) -------------

dns nomx.secure.test MX
expect_result "secure NODATA" 0 '{"name":"nomx.secure.test","type":"MX",
    "status":"secure","rcode":"NOERROR","nodata":true,"nxdomain":false,
    "canonical_name":"nomx.secure.test","cname_secure":false,"cname_chain":[],
    "records":[]}'
expect_clean "secure NODATA"
# a negative answer's TTL is its SOA's (min(3600, minimum 300)), as
# libunbound's ub_result has it
expect_match "secure NODATA: ttl" "$(jqo .ttl)" '^(300|29[0-9])$'

dns nosuch.secure.test A
expect_result "secure NXDOMAIN" 0 '{"name":"nosuch.secure.test","type":"A",
    "status":"secure","rcode":"NXDOMAIN","nodata":false,"nxdomain":true,
    "canonical_name":"nosuch.secure.test","cname_secure":false,
    "cname_chain":[],"records":[]}'
expect_clean "secure NXDOMAIN"
expect_match "secure NXDOMAIN: ttl" "$(jqo .ttl)" '^(300|29[0-9])$'

# --- CNAME chains (rule 6) --------------------------------------------------

dns alias.secure.test A
expect_result "secure CNAME" 0 '{"name":"alias.secure.test","type":"A",
    "status":"secure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"www.secure.test","cname_secure":true,
    "cname_chain":["alias.secure.test"],"records":["127.0.25.1"]}'
expect_clean "secure CNAME"

dns alias2.secure.test A
expect_result "secure 2-link CNAME" 0 '{"name":"alias2.secure.test",
    "type":"A","status":"secure","rcode":"NOERROR","nodata":false,
    "nxdomain":false,"canonical_name":"www.secure.test","cname_secure":true,
    "cname_chain":["alias2.secure.test","alias.secure.test"],
    "records":["127.0.25.1"]}'
# the chain is in order, not just as a set
expect_json "secure 2-link CNAME: order" .cname_chain \
    '["alias2.secure.test","alias.secure.test"]'

dns out.secure.test A
expect_result "CNAME secure to insecure" 1 '{"name":"out.secure.test",
    "type":"A","status":"insecure","rcode":"NOERROR","nodata":false,
    "nxdomain":false,"canonical_name":"host.insecure.test",
    "cname_secure":false,"cname_chain":["out.secure.test"],
    "records":["127.0.25.3"]}'
expect_clean "CNAME secure to insecure"

dns back.insecure.test A
expect_result "CNAME insecure to secure" 1 '{"name":"back.insecure.test",
    "type":"A","status":"insecure","rcode":"NOERROR","nodata":false,
    "nxdomain":false,"canonical_name":"www.secure.test","cname_secure":false,
    "cname_chain":["back.insecure.test"],"records":["127.0.25.1"]}'

# --- insecure: unsigned zone, no DS in signed test. -------------------------

dns host.insecure.test A
expect_result "insecure A" 1 '{"name":"host.insecure.test","type":"A",
    "status":"insecure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"host.insecure.test","cname_secure":false,
    "cname_chain":[],"records":["127.0.25.3"]}'
expect_clean "insecure A"

dns insecure.test MX
expect_result "insecure MX" 1 '{"name":"insecure.test","type":"MX",
    "status":"insecure","rcode":"NOERROR","nodata":false,"nxdomain":false,
    "canonical_name":"insecure.test","cname_secure":false,"cname_chain":[],
    "records":["10 host.insecure.test"]}'

dns nosuch.insecure.test A
expect_result "insecure NXDOMAIN" 1 '{"name":"nosuch.insecure.test",
    "type":"A","status":"insecure","rcode":"NXDOMAIN","nodata":false,
    "nxdomain":true,"canonical_name":"nosuch.insecure.test",
    "cname_secure":false,"cname_chain":[],"records":[]}'

# --- bogus: never shown as records ------------------------------------------

dns www.badsig.test A
expect_result "bad RRSIG" 2 '{"name":"www.badsig.test","type":"A",
    "status":"bogus","rcode":"SERVFAIL","nodata":false,"nxdomain":false,
    "canonical_name":"www.badsig.test","cname_secure":false,"cname_chain":[],
    "records":[]}'
expect_bogus "bad RRSIG" 'signature'

# same zone, intact signature: the damage is per RRset
dns ok.badsig.test A
expect_result "good RRSIG beside a bad one" 0 '{"name":"ok.badsig.test",
    "type":"A","status":"secure","rcode":"NOERROR","nodata":false,
    "nxdomain":false,"canonical_name":"ok.badsig.test","cname_secure":false,
    "cname_chain":[],"records":["127.0.25.5"]}'

dns www.expired.test A
expect_result "expired RRSIG" 2 '{"name":"www.expired.test","type":"A",
    "status":"bogus","rcode":"SERVFAIL","nodata":false,"nxdomain":false,
    "canonical_name":"www.expired.test","cname_secure":false,
    "cname_chain":[],"records":[]}'
expect_bogus "expired RRSIG" 'expired'

dns www.bogus-ds.test A
expect_result "DS matches no key" 2 '{"name":"www.bogus-ds.test","type":"A",
    "status":"bogus","rcode":"SERVFAIL","nodata":false,"nxdomain":false,
    "canonical_name":"www.bogus-ds.test","cname_secure":false,
    "cname_chain":[],"records":[]}'
expect_bogus "DS matches no key" 'DS'

# A root trust anchor that matches no root key: everything is bogus, even
# names that are secure with the right anchor (only our validation counts).
awk '$4 == "DS" { n = length($NF); c = substr($NF, n)
	$NF = substr($NF, 1, n - 1) (c == "0" ? "1" : "0") } { print }' \
    "$DANEMX_WORLD/root.ds" >"$T_TMP/wrong.ds"
cmp -s "$T_TMP/wrong.ds" "$DANEMX_WORLD/root.ds" &&
    fail "could not make a wrong trust anchor from $DANEMX_WORLD/root.ds"
sed "s|^\([ 	]*trust-anchor-file:\).*|\1 \"$T_TMP/wrong.ds\"|" "$CONF" \
    >"$T_TMP/wrong-anchor.conf"
run_cmd "$DANEMX" -R "$T_TMP/wrong-anchor.conf" --json dns www.secure.test A
expect_eq "wrong trust anchor: exit code" "$RC" 2
expect_json "wrong trust anchor: status, records" '[.status, .records]' \
    '["bogus", []]'

# --- failures without a DNSSEC verdict --------------------------------------

# lame.test is delegated to a name server name that does not exist
dns www.lame.test A
expect_result "servfail" 3 '{"name":"www.lame.test","type":"A",
    "status":"servfail","rcode":"SERVFAIL","nodata":false,"nxdomain":false,
    "canonical_name":"www.lame.test","cname_secure":false,"cname_chain":[],
    "records":[]}'
expect_eq "servfail: error is a string" "$(jqo '.error | type')" '"string"'
expect_eq "servfail: why_bogus" "$(jqo .why_bogus)" null

# slow.test's server reads queries and never answers
t0=$(date +%s)
dns --timeout 2 www.slow.test A
t1=$(date +%s)
expect_result "timeout" 4 '{"name":"www.slow.test","type":"A",
    "status":"timeout","rcode":null,"nodata":false,"nxdomain":false,
    "canonical_name":"www.slow.test","cname_secure":false,"cname_chain":[],
    "records":[]}'
expect_eq "timeout: error is a string" "$(jqo '.error | type')" '"string"'
expect_eq "timeout: gave up within 2 s (+2 s slack)" \
    "$([ $((t1 - t0)) -le 4 ] && echo yes || echo "no, $((t1 - t0)) s")" yes

# --- text mode --------------------------------------------------------------

# the status as a word of its own (not part of a name such as x.insecure.test)
word() { printf '(^|[^.a-z_-])%s([^.a-z_-]|$)' "$1"; }

run_cmd "$DANEMX" -R "$CONF" dns ok.badsig.test
expect_eq "text secure: exit code" "$RC" 0
expect_match "text secure: status" "$OUT
$ERR" "$(word secure)"
expect_match "text secure: address" "$OUT" '127\.0\.25\.5'
expect_eq "text secure: not JSON" \
    "$(printf '%s\n' "$OUT" | jq -e . >/dev/null 2>&1 && echo json || echo text)" text

run_cmd "$DANEMX" -R "$CONF" dns host.insecure.test A
expect_eq "text insecure: exit code" "$RC" 1
expect_match "text insecure: status" "$OUT
$ERR" "$(word insecure)"

run_cmd "$DANEMX" -R "$CONF" dns www.expired.test A
expect_eq "text bogus: exit code" "$RC" 2
expect_match "text bogus: status" "$OUT
$ERR" "$(word bogus)"
expect_match "text bogus: reason" "$OUT
$ERR" 'expired'

# --- configuration and usage errors -----------------------------------------

expect_match "the world's config names a trust anchor" \
    "$(grep -c '^[[:space:]]*trust-anchor' "$CONF")" '^[1-9]'
grep -v 'trust-anchor' "$CONF" >"$T_TMP/no-anchor.conf"
run_cmd "$DANEMX" -R "$T_TMP/no-anchor.conf" --json dns www.secure.test A
expect_eq "no trust anchor: exit code" "$RC" 78
expect_match "no trust anchor: message" "$ERR" '[Tt]rust anchor'

run_cmd "$DANEMX" -R "$T_TMP/does-not-exist.conf" dns www.secure.test A
expect_eq "missing -R file: exit code" "$RC" 78

run_cmd "$DANEMX" -R "$CONF" dns www.secure.test NOSUCHTYPE
expect_eq "unknown type: exit code" "$RC" 64

run_cmd "$DANEMX" -R "$CONF" dns
expect_eq "no name: exit code" "$RC" 64

done_ok
