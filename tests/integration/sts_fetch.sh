#!/bin/sh
# sts_fetch.sh - `danemx sts` against the world's MTA-STS policy hosts
# (tests/world/https.sh: nginx and faulthttps.py, certificates from the
# world's CA; zones sts.test and sts-insecure.test): valid enforce,
# testing and none policies; MX pattern matching; warnings for unknown
# keys; an invalid policy; a CNAME'd and a split TXT record; 404, a
# redirect (not followed), bodies past 64 KiB with and without a length, a
# stalled body (timeout), a certificate for another name, one from an
# unknown CA, 500, text/html; two records, a bad id, no record, a bogus
# record, no policy host, a bogus address of the policy host; an id change
# refetches and an unchanged id does not (nginx's access log counts the
# fetches), a cache that survives each new process, a fetch error that
# keeps the cached policy and backs off, max_age extension and expiry
# (with DANEMX_TEST_NOW), the exit status.
#
# Uses no ports of its own: only the world's servers (WORLD_MX_NET.40-48
# port 443, NSD). Changes only sts.test's added records and the policy
# files of change, flaky and expiry.sts.test.
# shellcheck source=tests/lib.sh
. "$DANEMX_SRCDIR/tests/lib.sh"

: "${DANEMX_WORLD:?DANEMX_WORLD must name a started world}"
[ -f "$DANEMX_WORLD/world.env" ] || fail "no world at $DANEMX_WORLD"
# shellcheck disable=SC1091
. "$DANEMX_WORLD/world.env"
CONF=$WORLD_UNBOUND_CONF
STATE=$T_TMP/state
LOG=$WORLD_HTTPS_ACCESS_LOG
WWW=$WORLD_HTTPS_WWW
# a configuration file names the store and the world's CA (ca_file)
cat >"$T_TMP/danemx.conf" <<EOF
state_dir = $STATE
ca_file = $WORLD_CA
user =
EOF
NOW=$(date +%s)

# sts [OPTION...] DOMAIN...: danemx --json sts; RC, OUT, ERR
sts() {
	run_cmd "$DANEMX" -R "$CONF" --json sts -c "$T_TMP/danemx.conf" "$@"
}
# sts_text: the same, in text
sts_text() {
	run_cmd "$DANEMX" -R "$CONF" sts -c "$T_TMP/danemx.conf" "$@"
}
# j FILTER: jq -r FILTER on OUT
j() { printf '%s\n' "$OUT" | jq -r "$1" 2>&1; }
# expect_j WHAT FILTER WANT
expect_j() { expect_eq "$1" "$(j "$2")" "$3"; }
# fetches HOST: requests nginx logged for HOST so far
fetches() { grep -c "^$1 " "$LOG" || true; }
# policy_file DOMAIN: where nginx serves DOMAIN's policy from
policy_file() { echo "$WWW/mta-sts.$1/.well-known/mta-sts.txt"; }
# zone_extra: sts.test's added records (the test owns them all)
zone_extra() {
	sh "$WORLD_WORLD_SH" set "$DANEMX_WORLD" sts.test "$T_TMP/extra" \
	    >/dev/null || fail "world.sh set sts.test failed"
}

# --- valid policies ---------------------------------------------------------

sts enforce.sts.test
expect_eq "enforce: exit (stderr: $ERR)" "$RC" 0
expect_eq "enforce: keys" "$(j 'keys | join(",")')" \
    "cache,cache_note,domain,error,failure,fetch,mx,mx_status,policy,result_type,status,txt"
expect_j "enforce: txt" '[.txt.status, .txt.id, .txt.error] | @json' \
    '["secure","20260101T000000",null]'
expect_j "enforce: policy" '[.policy.mode, .policy.id, .policy.max_age,
    .policy.source, (.policy.mx | join(" "))] | @json' \
    '["enforce","20260101T000000",86400,"fetched","mx1.enforce.sts.test *.mx.sts.test"]'
expect_j "enforce: fetch" '[.fetch.attempted, .fetch.http_status,
    .fetch.content_type] | @json' '[true,200,null]'
expect_j "enforce: cache" '[.cache.state, .cache.expires - .cache.fetched]
    | @json' '["fresh",86400]'
expect_j "enforce: mx" '[.mx[] | "\(.preference) \(.host) \(.pattern)"]
    | join(", ")' '10 mx1.enforce.sts.test mx1.enforce.sts.test, 20 b.mx.sts.test *.mx.sts.test'
expect_j "enforce: no failure" '[.failure, .result_type, .error] | @json' \
    '["none",null,null]'
expect_eq "enforce: one fetch" "$(fetches mta-sts.enforce.sts.test)" 1
expect_match "enforce: the fetch" "$(grep '^mta-sts.enforce.sts.test ' "$LOG")" \
    '"GET /.well-known/mta-sts.txt HTTP/1.1" 200 '

# a new process: the cache on disk, the same id, no fetch
sts_text enforce.sts.test
expect_eq "enforce again: exit" "$RC" 0
expect_eq "enforce again: no fetch" "$(fetches mta-sts.enforce.sts.test)" 1
expect_match "enforce again: text" "$OUT" \
    '^enforce.sts.test: policy id=20260101T000000, cached from https://mta-sts.enforce.sts.test/.well-known/mta-sts.txt:$'
expect_match "enforce again: cache" "$OUT" \
    '^enforce.sts.test: cache: fresh, fetched [0-9T:-]+Z, expires [0-9T:-]+Z \(in (1d 0h|23h 59m)\)$'
expect_match "enforce again: TXT" "$OUT" \
    '^enforce.sts.test: _mta-sts TXT \(secure\): "v=STSv1; id=20260101T000000"$'
expect_match "enforce again: MX" "$OUT" \
    '^enforce.sts.test: MX 20 b.mx.sts.test: matches \*.mx.sts.test$'
expect_match "enforce again: policy line" "$OUT" '^  mx: \*.mx.sts.test$'
expect_match "enforce again: verdict" "$OUT" \
    '^enforce.sts.test: MTA-STS: enforce policy id=20260101T000000 in force$'

sts testing.sts.test
expect_eq "testing: exit" "$RC" 0
expect_j "testing" '[.policy.mode, .policy.max_age, .mx[0].pattern] | @json' \
    '["testing",604800,"mx.testing.sts.test"]'

sts none.sts.test
expect_eq "mode none: exit (does not apply)" "$RC" 1
expect_j "mode none" '[.policy.mode, .mx[0].pattern] | @json' '["none",null]'

sts mismatch.sts.test
expect_eq "mismatch: exit" "$RC" 5
expect_j "mismatch: patterns" '[.mx[].pattern] | @json' \
    '["mx1.mismatch.sts.test",null]'
sts_text mismatch.sts.test
expect_match "mismatch: text" "$OUT" \
    '^mismatch.sts.test: MX 20 mx.elsewhere.test: matches no pattern \(enforce: never delivered to\)$'

sts warn.sts.test
expect_eq "warn: exit" "$RC" 0
expect_j "warn: policy warning" '.policy.warnings | @json' \
    '["line 4: unknown key '"'nmx'"' ignored (did you mean '"'mx'"'?)"]'
expect_j "warn: TXT warning" '.txt.warnings | @json' \
    '["unknown field '"'ID'"' ignored (did you mean '"'id'"'?)"]'
sts_text warn.sts.test
expect_match "warn: text" "$OUT" \
    "^warn.sts.test: warning: policy line 4: unknown key 'nmx' ignored \\(did you mean 'mx'\\?\\)$"

sts invalid.sts.test
expect_eq "invalid policy: exit" "$RC" 2
expect_j "invalid policy" '[.policy, .failure, .result_type] | @json' \
    '[null,"policy-invalid","sts-policy-invalid"]'
expect_j "invalid policy: error" '.error' \
    "policy invalid: mode enforce without an mx field: the policy must list its MX hosts (is 'nmx' on line 3 a typo of 'mx'? keys are case-sensitive)"

sts cname.sts.test
expect_eq "CNAME'd record: exit" "$RC" 0
expect_j "CNAME'd record: id" '.txt.id' 20260101T000000
expect_eq "CNAME'd record: the policy host is mta-sts.cname" \
    "$(fetches mta-sts.cname.sts.test)" 1
sts split.sts.test
expect_j "two strings joined" '[.txt.id, .policy.mode] | @json' '["split1","testing"]'
expect_j "two strings shown as such" '.txt.records | @json' \
    '["\"v=STSv1; \" \"id=split1\""]'
# the DNS room's TXT records, as danemx dns shows them
run_cmd "$DANEMX" -R "$CONF" --json dns _mta-sts.split.sts.test TXT
expect_eq "dns TXT: exit" "$RC" 0
expect_eq "dns TXT" "$(j '[.status, .type, .records[0]] | @json')" \
    '["secure","TXT","\"v=STSv1; \" \"id=split1\""]'
sts sts-insecure.test
expect_eq "unsigned zone: exit" "$RC" 0
expect_j "unsigned zone" '[.txt.status, .policy.mode] | @json' '["insecure","enforce"]'

# --- fetch failures ---------------------------------------------------------

# expect_fetch_error WHAT DOMAIN ERROR-PATTERN [STATUS]
expect_fetch_error() {
	expect_eq "$1: exit (stderr: $ERR)" "$RC" 3
	expect_j "$1: no policy" '[.policy, .failure, .result_type,
	    .fetch.attempted] | @json' \
	    '[null,"fetch-failed","sts-policy-fetch-error",true]'
	expect_match "$1: error" "$(j .error)" "$2"
	[ $# -lt 3 ] || expect_j "$1: status" '.fetch.http_status' "$3"
}
sts nopolicy.sts.test
expect_fetch_error "404" '^policy fetch failed: HTTP status 404 \(only 200 is accepted\)$' 404
sts redirect.sts.test
expect_fetch_error "redirect" \
    '^policy fetch failed: HTTP status 301, a redirect to https://mta-sts.enforce.sts.test/.well-known/mta-sts.txt\?redirected \(redirects are not followed\)$' 301
expect_eq "redirect: not followed" "$(grep -c redirected "$LOG")" 0
expect_match "redirect: the fault server saw it" "$(cat "$WORLD_FAULT_HTTPS_LOG")" \
    '^redirect mta-sts.redirect.sts.test /.well-known/mta-sts.txt$'
sts oversize.sts.test
expect_fetch_error "oversize" 'mta-sts.oversize.sts.test: the body is larger than 65536 octets$'
sts oversize-stream.sts.test
expect_fetch_error "oversize, no length" \
    'mta-sts.oversize-stream.sts.test: the body is larger than 65536 octets$'
_t0=$(date +%s)
sts --timeout 2 slow.sts.test
expect_fetch_error "slow body" 'mta-sts.slow.sts.test: Operation timed out after'
expect_eq "slow body: within the timeout" "$(( $(date +%s) - _t0 < 6 ))" 1
sts wrongname.sts.test
expect_fetch_error "wrong name" \
    "mta-sts.wrongname.sts.test: certificate not verified: hostname mismatch \\(X.509 error 62\\)"
sts unknownca.sts.test
expect_fetch_error "unknown CA" \
    'mta-sts.unknownca.sts.test: certificate not verified: self-signed certificate in certificate chain \(X.509 error 19\)'
sts error500.sts.test
expect_fetch_error "500" '^policy fetch failed: HTTP status 500' 500
sts nohost.sts.test
expect_fetch_error "no policy host" \
    'mta-sts.nohost.sts.test: no such host \(NXDOMAIN\)'
n=$(fetches mta-sts.bogushost.sts.test)
sts bogushost.sts.test
expect_fetch_error "a bogus address of the policy host" \
    '^policy fetch failed: mta-sts.bogushost.sts.test: A lookup bogus: '
expect_eq "bogus address: never connected" "$(fetches mta-sts.bogushost.sts.test)" "$n"
# the system store does not know the world's CA (which nginx sends along)
run_cmd "$DANEMX" -R "$CONF" --json sts --no-cache enforce.sts.test
expect_fetch_error "system CA store" \
    'certificate not verified: self-signed certificate in certificate chain \(X.509 error 19\)'
expect_j "--no-cache: note" '.cache_note' '--no-cache: nothing is read or kept'

# served as text/html: used, with a warning
sts html.sts.test
expect_eq "text/html: exit" "$RC" 0
expect_j "text/html" '[.policy.mode, .fetch.content_type] | @json' '["enforce","text/html"]'
sts_text --refresh html.sts.test
expect_match "text/html: text" "$OUT" \
    "^html.sts.test: warning: the policy was served as 'text/html', not text/plain \\(RFC 8461 3.3\\)$"

# --- DNS cases --------------------------------------------------------------

# (other tests fetch other policies meanwhile: count these domains only)
dnsfetches() { grep -Ec '^mta-sts\.(twotxt|badid|notxt|bogus)\.sts\.test ' "$LOG"; }
n=$(dnsfetches)
sts twotxt.sts.test
expect_eq "two records: exit" "$RC" 2
expect_j "two records" '[.failure, .policy, .txt.id, .error] | @json' \
    '["txt-invalid",null,null,"invalid TXT record at _mta-sts.twotxt.sts.test: 2 TXT records start with v=STSv1; there must be exactly one"]'
sts badid.sts.test
expect_eq "bad id: exit" "$RC" 2
expect_match "bad id" "$(j .error)" "id 'has-a-dash' is not letters and digits only"
sts notxt.sts.test
expect_eq "no record: exit" "$RC" 1
expect_j "no record" '[.failure, .policy, .txt.records, .error] | @json' \
    '["none",null,[],null]'
sts bogus.sts.test
expect_eq "bogus record: exit" "$RC" 4
expect_j "bogus record" '[.failure, .txt.status] | @json' '["txt-lookup-failed","bogus"]'
expect_match "bogus record: why" "$(j .error)" '^TXT lookup of _mta-sts.bogus.sts.test: bogus: '
expect_eq "DNS cases: nothing fetched" "$(dnsfetches)" "$n"

# --- an id change refetches; the same id does not ---------------------------

: >"$T_TMP/extra"
sts change.sts.test
expect_eq "change, no record yet: exit" "$RC" 1
printf '_mta-sts.change TXT "v=STSv1; id=c1"\n' >"$T_TMP/extra"
zone_extra
sts change.sts.test
expect_j "id c1: fetched" '[.policy.id, .policy.mode, .policy.source] | @json' \
    '["c1","testing","fetched"]'
expect_eq "id c1: one fetch" "$(fetches mta-sts.change.sts.test)" 1
sts change.sts.test
expect_j "id c1 again: cached" '[.policy.id, .policy.source] | @json' '["c1","cache"]'
expect_eq "id c1 again: no fetch" "$(fetches mta-sts.change.sts.test)" 1
printf 'version: STSv1\nmode: enforce\nmx: mx.change.sts.test\nmax_age: 86400\n' \
    >"$(policy_file change.sts.test)"
printf '_mta-sts.change TXT "v=STSv1; id=c2"\n' >"$T_TMP/extra"
zone_extra
sts change.sts.test
expect_j "id c2: fetched" '[.policy.id, .policy.mode, .policy.source] | @json' \
    '["c2","enforce","fetched"]'
expect_eq "id c2: a second fetch" "$(fetches mta-sts.change.sts.test)" 2

# --- a failed fetch keeps the cached policy and backs off -------------------

printf '_mta-sts.change TXT "v=STSv1; id=c2"\n_mta-sts.flaky TXT "v=STSv1; id=f1"\n' \
    >"$T_TMP/extra"
zone_extra
sts flaky.sts.test
expect_j "flaky: fetched" '[.policy.id, .policy.mode] | @json' '["f1","enforce"]'
mv "$(policy_file flaky.sts.test)" "$T_TMP/flaky.txt"
sts --refresh flaky.sts.test
expect_eq "flaky, 404: exit" "$RC" 3
expect_j "flaky, 404: the cached policy stays" '[.policy.id, .policy.mode,
    .cache.state, .result_type, .fetch.http_status] | @json' \
    '["f1","enforce","fresh","sts-policy-fetch-error",404]'
expect_eq "flaky: two fetches" "$(fetches mta-sts.flaky.sts.test)" 2
next=$(j .cache.next_try)
expect_eq "flaky: next try in 5 minutes" "$((next - $(date +%s) > 290 && next - $(date +%s) <= 300))" 1
# a new id while backing off: no fetch, the old policy stale
printf '_mta-sts.change TXT "v=STSv1; id=c2"\n_mta-sts.flaky TXT "v=STSv1; id=f2"\n' \
    >"$T_TMP/extra"
zone_extra
sts flaky.sts.test
expect_eq "flaky, backing off: no fetch" "$(fetches mta-sts.flaky.sts.test)" 2
expect_j "flaky, backing off" '[.policy.id, .cache.state, .txt.id, .failure] | @json' \
    '["f1","stale","f2","fetch-failed"]'
expect_match "flaky, backing off: why" "$(j .error)" \
    '^policy fetch failed: HTTP status 404 \(only 200 is accepted\); no fetch before [0-9]+$'
# five minutes later: tried again, failed again, the wait doubles
later=$((NOW + 400))
DANEMX_TEST_NOW=$later sts flaky.sts.test
expect_eq "flaky, 5 min later: fetched" "$(fetches mta-sts.flaky.sts.test)" 3
expect_eq "flaky, 5 min later: next try in 10 min" "$(( $(j .cache.next_try) - later ))" 600
expect_j "flaky, 5 min later: still f1" '.policy.id' f1
# the server is back: the new policy, the backoff gone
mv "$T_TMP/flaky.txt" "$(policy_file flaky.sts.test)"
DANEMX_TEST_NOW=$((later + 601)) sts flaky.sts.test
expect_eq "flaky, back: exit" "$RC" 0
expect_j "flaky, back" '[.policy.id, .policy.source, .cache.state, .cache.next_try] | @json' \
    '["f2","fetched","fresh",null]'

# --- max_age: extended by the same id, then expired -------------------------

sts expiry.sts.test
expect_j "expiry: fetched" '[.policy.id, .policy.max_age] | @json' '["e1",3600]'
expect_eq "expiry: one fetch" "$(fetches mta-sts.expiry.sts.test)" 1
t=$((NOW + 1800))
DANEMX_TEST_NOW=$t sts expiry.sts.test
expect_j "half an hour later: the same id extends it" \
    '[.policy.source, .cache.expires] | @json' "[\"cache\",$((t + 3600))]"
expect_eq "half an hour later: no fetch" "$(fetches mta-sts.expiry.sts.test)" 1
mv "$(policy_file expiry.sts.test)" "$T_TMP/expiry.txt"
t=$((t + 3601))
DANEMX_TEST_NOW=$t sts expiry.sts.test
expect_eq "expired and 404: exit" "$RC" 3
expect_j "expired and 404: nothing applies" '[.policy, .cache.state] | @json' '[null,"expired"]'
expect_eq "expired: fetched again" "$(fetches mta-sts.expiry.sts.test)" 2
DANEMX_TEST_NOW=$t run_cmd "$DANEMX" -R "$CONF" sts -c "$T_TMP/danemx.conf" expiry.sts.test
expect_match "expired: text" "$OUT" '^expiry.sts.test: cache: policy id=e1 expired at [0-9T:-]+Z$'
mv "$T_TMP/expiry.txt" "$(policy_file expiry.sts.test)"
DANEMX_TEST_NOW=$((t + 601)) sts expiry.sts.test
expect_j "expired, then fetched" '[.policy.id, .policy.source] | @json' '["e1","fetched"]'

# --- several domains: the worst status wins ---------------------------------

sts notxt.sts.test enforce.sts.test mismatch.sts.test
expect_eq "three domains: exit 5" "$RC" 5
expect_eq "three domains: three objects" "$(printf '%s\n' "$OUT" | jq -s length)" 3
sts notxt.sts.test invalid.sts.test mismatch.sts.test nopolicy.sts.test
expect_eq "invalid outranks the rest" "$RC" 2
sts notxt.sts.test nopolicy.sts.test bogus.sts.test
expect_eq "a fetch error outranks a DNS error" "$RC" 3
run_cmd "$DANEMX" -R "$CONF" sts -c "$T_TMP/danemx.conf" 'not a domain'
expect_eq "not a domain: exit" "$RC" 64

done_ok
