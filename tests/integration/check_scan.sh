#!/bin/sh
# check_scan.sh - danemx check --file: a scan of every MX case of the world
# (tests/world/CASES.md, plus a few domains of other world zones: MTA-STS,
# a bogus DS, expired signatures, a lame delegation, no such domain), each
# with its exact verdict, failure class, exit status and bypass suggestion;
# the summary's counts; --json lines (each valid JSON, one per domain, then
# the summary) that agree with `danemx check DOMAIN...`; the text lines;
# --suggest-bypass's entries; a malformed line reported with its number;
# stdin ("-"); a list read as it arrives (a FIFO); an interrupt (the
# summary of what was checked); --concurrency 1 keeps the list's order;
# fewer checks at once under a low limit of open files; the progress line
# on a terminal only; exit statuses.
# No ports of its own: it talks to the world's MX hosts on port 25.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

command -v jq >/dev/null || fail "jq not found (make deps)"
LC_ALL=C	# sort
export LC_ALL
CAF=$WORLD_CA	# the world's MTA-STS hosts are signed by its CA

# What each domain's check must say: DOMAIN VERDICT FAIL EXIT SUGGESTED
# (FAIL '-': none). The CASES.md rows first (in its order), then others.
cat >"$T_TMP/want" <<'EOF'
dane-ee.test dane-verified - 0 false
v6.dane-ee.test dane-verified - 0 false
dane-ee-expired.test dane-verified - 0 false
digest-agility.test failed tlsa-invalid 2 true
dane-unusable.test encrypted - 0 false
implicit-mx.test dane-verified - 0 false
tlsa-cname.test dane-verified - 0 false
dane-ta.test dane-verified - 0 false
dane-ta-badname.test failed certificate-host-mismatch 2 true
dane-ta-nexthop.test dane-verified - 0 false
alias.dane-ta-nexthop.test dane-verified - 0 false
dane-ta-notsent.test dane-verified - 0 false
cname-exp.test dane-verified - 0 false
cname-orig.test dane-verified - 0 false
chain.cname-orig.test opportunistic - 0 false
tail.cname-orig.test dane-verified - 0 false
dane-mismatch.test failed tlsa-invalid 2 false
only.dane-mismatch.test failed tlsa-invalid 2 true
no-starttls.test failed starttls-not-supported 4 false
unusable.no-starttls.test failed starttls-not-supported 4 false
tls-refused.test failed starttls-not-supported 4 false
tlsa-bogus.test failed dnssec-invalid 3 false
only.tlsa-bogus.test failed dnssec-invalid 3 false
addr-bogus.test failed dnssec-invalid 3 false
mx-bogus.test failed dnssec-invalid 3 false
equal-pref.test dane-verified - 0 false
pref-order.test opportunistic - 0 false
no-tlsa.test opportunistic - 0 false
opp.insecure.test opportunistic - 0 false
insecure-host.test opportunistic - 0 false
dane-mx.insecure.test opportunistic - 0 false
deliver.sts.test sts-verified - 0 false
badcert.sts.test failed sts-webpki-invalid 6 false
danebad.sts.test failed tlsa-invalid 2 true
bogus-ds.test failed dnssec-invalid 3 false
expired.test failed dnssec-invalid 3 false
lame.test failed dns-error 5 false
nosuch.test failed no-such-domain 5 false
EOF
# v6.dane-ee.test needs the world's IPv6 MX
[ -n "${WORLD_MX_ADDR6:-}" ] || sed -i '/^v6\.dane-ee\.test /d' "$T_TMP/want"

# Every MX case of CASES.md has its row above (a new case needs one).
sed -n 's/^| \([a-z0-9.-]*\.test\) |.*/\1/p' \
    "$DANEMX_SRCDIR/tests/world/CASES.md" >"$T_TMP/cases"
[ -n "${WORLD_MX_ADDR6:-}" ] || sed -i '/^v6\.dane-ee\.test$/d' "$T_TMP/cases"
missing=$(awk '{ print $1 }' "$T_TMP/want" | grep -Fvxf - "$T_TMP/cases")
expect_eq "every CASES.md domain is scanned" "$missing" ""
nwant=$(wc -l <"$T_TMP/want")

# The list: the domains, with comments and blank lines to skip.
{
	echo "# the world's domains (check_scan.sh)"
	echo
	awk '{ print $1 }' "$T_TMP/want" | sed '3s/$/   # a comment after a domain/'
} >"$T_TMP/list"

# 1. --json: one valid JSON object a domain, then the summary.
dmx --json check --ca-file "$CAF" --file "$T_TMP/list"
expect_eq "json: exit status (the worst: DANE) (stderr: $ERR)" "$RC" 2
expect_eq "json: nothing on stderr" "$ERR" ""
expect_eq "json: lines" "$(printf '%s\n' "$OUT" | wc -l)" $((nwant + 1))
bad=$(printf '%s\n' "$OUT" | python3 -c 'import json, sys
for n, l in enumerate(sys.stdin, 1):
    try:
        assert isinstance(json.loads(l), dict)
    except Exception:
        print("line %d: %s" % (n, l.strip()))')
expect_eq "json: every line a JSON object (python3 json)" "$bad" ""
got=$(printf '%s\n' "$OUT" | jq -r 'select(.domain) |
    [.domain, .verdict, (.fail // "-"), (.exit | tostring),
     (.bypass_suggested | tostring)] | join(" ")' | sort)
expect_eq "json: the verdict of each domain" "$got" "$(sort "$T_TMP/want")"
jl() { printf '%s\n' "$OUT" | jq -cS "select(.domain == \"$1\") | $2"; }
expect_eq "json: dane-ee.test" \
    "$(jl dane-ee.test '[.mx, .address, .tls, .matched, .depth, .why]')" \
    "[\"mx.dane-ee.test\",\"$NET.10\",\"dane-verified\",\"3 1 1 $EE_311\",0,\"every host passed\"]"
expect_eq "json: dane-ta.test (DANE-TA at depth 1)" \
    "$(jl dane-ta.test '[.mx, .tls, .matched, .depth]')" \
    "[\"mx.dane-ta.test\",\"dane-verified\",\"2 0 1 $CA_201\",1]"
expect_eq "json: dane-ta-notsent.test" \
    "$(jl dane-ta-notsent.test '[.matched, .depth]')" "[\"2 1 0 $CA_210\",0]"
expect_eq "json: pref-order.test (mx1 opportunistic, mx2 DANE)" \
    "$(jl pref-order.test '[.mx, .tls, [.hosts[] | [.host, .tls, .depth]]]')" \
    '["mx1.pref-order.test","opportunistic",[["mx1.pref-order.test","opportunistic",null],["mx2.pref-order.test","dane-verified",0]]]'
expect_eq "json: dane-mismatch.test (mx1 fails, mx2 passes)" \
    "$(jl dane-mismatch.test '[.mx, [.hosts[] | [.host, .address, .tls, .fail]]]')" \
    "[\"mx2.dane-mismatch.test\",[[\"mx1.dane-mismatch.test\",\"$NET.17\",\"none\",\"tlsa-invalid\"],[\"mx2.dane-mismatch.test\",\"$NET.18\",\"dane-verified\",null]]]"
expect_eq "json: only.tlsa-bogus.test (nobody contacted)" \
    "$(jl only.tlsa-bogus.test '[.mx, .address, [.hosts[] | [.host, .address, .tls, .fail]]]')" \
    '[null,null,[["mx1.tlsa-bogus.test",null,null,"dnssec-invalid"]]]'
expect_eq "json: dane-ta-badname.test" \
    "$(jl dane-ta-badname.test '[.why, .hosts[0].matched, .hosts[0].depth]')" \
    "[\"DANE: not authenticated: hostname mismatch (X.509 error 62; 2 0 1 matched at depth 1)\",\"2 0 1 $CA_201\",1]"
# the summary, from the same records
nd=$(grep -c ' dane-verified ' "$T_TMP/want")
expect_eq "json: summary" \
    "$(printf '%s\n' "$OUT" | tail -n 1 | jq -cS '.summary | del(.seconds, .domains_per_second)')" \
    "$(jq -cnS "{domains: $nwant, complete: true, interrupted: false,
        malformed_lines: 0, bypass_suggested: 4,
        verdicts: {\"dane-verified\": $nd, \"sts-verified\": 1, verified: 0,
            encrypted: 1, opportunistic: 6, cleartext: 0, failed: 17},
        failures: {\"dnssec-invalid\": 6, \"tlsa-invalid\": 4,
            \"starttls-not-supported\": 3, \"certificate-host-mismatch\": 1,
            \"dns-error\": 1, \"no-such-domain\": 1, \"sts-webpki-invalid\": 1}}")"
scan=$OUT

# The same path as `danemx check DOMAIN...`: the same TLS and failure.
# shellcheck disable=SC2046
dmx --json check --ca-file "$CAF" $(awk '{ print $1 }' "$T_TMP/want")
expect_eq "check DOMAIN...: exit status" "$RC" 2
expect_eq "scan and check DOMAIN... agree: TLS and failure of each" \
    "$(printf '%s\n' "$scan" | jq -cS 'select(.domain) | {(.domain): [.tls,
        (if .fail == "no-such-domain" then null else .fail end)]}' | jq -cSs add)" \
    "$(printf '%s\n' "$OUT" | jq -cS '{(.domain): [.tls, .fail]}' | jq -cSs add)"

# 2. Text, from stdin, with a malformed line (its number is 4).
{
	echo "# stdin"
	echo dane-ee.test
	echo
	echo "not a domain"
	echo dane-ta.test
	echo only.dane-mismatch.test
	echo no-tlsa.test
	echo deliver.sts.test
	echo dane-unusable.test
	echo dane-ta-badname.test
	echo nosuch.test
} >"$T_TMP/stdin"
run_cmd "$DANEMX" -R "$CONF" --timeout 10 check --ca-file "$CAF" --file - \
    <"$T_TMP/stdin"
expect_eq "stdin: exit status" "$RC" 2
expect_eq "stdin: the malformed line, by number" "$ERR" \
    "danemx check: stdin:4: 'not a domain': more than one word (one domain a line); line skipped"
expect_eq "stdin: one line a domain" "$(printf '%s\n' "$OUT" | sed -n '1,8p' | sort)" \
"dane-ee.test: dane-verified via mx.dane-ee.test[$NET.10]: 3 1 1 at depth 0
dane-ta-badname.test: failed [certificate-host-mismatch]: DANE: not authenticated: hostname mismatch (X.509 error 62; 2 0 1 matched at depth 1)
dane-ta.test: dane-verified via mx.dane-ta.test[$NET.11]: 2 0 1 at depth 1
dane-unusable.test: encrypted via mx.dane-unusable.test[$NET.27]
deliver.sts.test: sts-verified via ok.mx.sts.test[$NET.50]
no-tlsa.test: opportunistic via mx.no-tlsa.test[$NET.31]
nosuch.test: failed [no-such-domain]: domain nosuch.test does not exist
only.dane-mismatch.test: failed [tlsa-invalid]: DANE: not authenticated: no matching DANE TLSA records (X.509 error 65)"
expect_match "stdin: summary head" "$(printf '%s\n' "$OUT" | sed -n 9p)" \
    '^summary: 8 domains in [0-9]+\.[0-9]{2} s \([0-9]+\.[0-9] domains/s\)$'
expect_eq "stdin: summary" "$(printf '%s\n' "$OUT" | sed -n '10,$p')" \
"  dane-verified     2
  sts-verified      1
  verified          0
  encrypted         1
  opportunistic     1
  cleartext         0
  failed            3
    certificate-host-mismatch   1
    no-such-domain              1
    tlsa-invalid                1
  bypass suggested  2
  malformed lines   1"

# 3. --suggest-bypass: the entries alone on stdout, the rest on stderr.
dmx check --ca-file "$CAF" --suggest-bypass --file "$T_TMP/list"
expect_eq "suggest: exit status" "$RC" 2
expect_eq "suggest: entries" "$(printf '%s\n' "$OUT" | sort)" \
"dane-ta-badname.test for 7d # certificate-host-mismatch (danemx check)
danebad.sts.test for 7d # tlsa-invalid (danemx check)
digest-agility.test for 7d # tlsa-invalid (danemx check)
only.dane-mismatch.test for 7d # tlsa-invalid (danemx check)"
expect_match "suggest: the lines on stderr" "$ERR" \
    '^only\.dane-mismatch\.test: failed \[tlsa-invalid\]: '
expect_match "suggest: the summary on stderr" "$ERR" '^  bypass suggested  4$'
printf 'only.dane-mismatch.test\ndigest-agility.test\nno-tlsa.test\n' >"$T_TMP/l3"
printf 'only.dane-mismatch.test # bypassed already\n' >"$T_TMP/bypass"
dmx check --suggest-bypass=30d --bypass "$T_TMP/bypass" --file "$T_TMP/l3"
expect_eq "suggest 30d, one bypassed already: entries" "$OUT" \
    "digest-agility.test for 30d # tlsa-invalid (danemx check)"
expect_match "suggest: bypassed is encrypted" "$ERR" \
    '^only\.dane-mismatch\.test: encrypted via mx1\.dane-mismatch\.test\['

# 4. The list is read as it arrives: a result before the list ends.
mkfifo "$T_TMP/fifo"
"$DANEMX" -R "$CONF" --timeout 10 check --file "$T_TMP/fifo" \
    >"$T_TMP/fifo.out" 2>&1 &
pid=$!
exec 3>"$T_TMP/fifo"
echo dane-ee.test >&3
wait_for 20 grep -q '^dane-ee\.test: dane-verified ' "$T_TMP/fifo.out" ||
	fail "fifo: no result for the first line while the list is open: $(cat "$T_TMP/fifo.out")"
pass
echo dane-ta.test >&3
exec 3>&-
wait $pid
expect_eq "fifo: exit status" "$?" 0
expect_match "fifo: second line" "$(cat "$T_TMP/fifo.out")" \
    '^dane-ta\.test: dane-verified via '

# An interrupt: no more of the list is read; the summary of what was
# checked; exit 130 (nothing failed).
"$DANEMX" -R "$CONF" --timeout 10 check --file "$T_TMP/fifo" \
    >"$T_TMP/int.out" 2>"$T_TMP/int.err" &
pid=$!
exec 3>"$T_TMP/fifo"
echo dane-ee.test >&3
wait_for 20 grep -q '^dane-ee\.test: dane-verified ' "$T_TMP/int.out" ||
	fail "interrupt: no result for the first line: $(cat "$T_TMP/int.out")"
kill -INT $pid
if ! wait_for 20 sh -c "! kill -0 $pid"; then
	kill -9 $pid
	fail "interrupt: still running 20 s after SIGINT"
fi
wait $pid
expect_eq "interrupt: exit status" "$?" 130
exec 3>&-
expect_eq "interrupt: said" "$(cat "$T_TMP/int.err")" \
    "danemx check: interrupted after line 1"
expect_eq "interrupt: summary" "$(sed -n '3p;4p;$p' "$T_TMP/int.out")" \
"  dane-verified     1
  sts-verified      0
  interrupted after line 1"

# 5. --concurrency 1: one at a time, in the list's order.
printf 'no-tlsa.test\ndane-ta.test\nnosuch.test\ndane-ee.test\ndane-unusable.test\n' \
    >"$T_TMP/l5"
dmx check --concurrency 1 --file "$T_TMP/l5"
expect_eq "concurrency 1: order" "$(printf '%s\n' "$OUT" | sed -n '1,5s/:.*//p')" \
    "$(cat "$T_TMP/l5")"
expect_eq "concurrency 1: exit status (no such domain: DNS)" "$RC" 5

# 6. Exit statuses and errors.
printf 'dane-ee.test\n# ok\ndane-ta.test\n' >"$T_TMP/ok"
dmx check --file "$T_TMP/ok"
expect_eq "all verified: exit 0" "$RC" 0
expect_eq "all verified: stderr" "$ERR" ""
{
	echo dane-ee.test
	echo 'bad..test'
	head -c 1500 /dev/zero | tr '\0' x
	echo
	printf 'caf\303\251.test\n'
	printf 'dane-ta.test'		# no newline at the end
} >"$T_TMP/bad"
dmx check --file "$T_TMP/bad"
expect_eq "malformed lines only: exit 65" "$RC" 65
expect_eq "malformed lines: messages" "$ERR" \
"danemx check: $T_TMP/bad:2: 'bad..test': an empty label (\"..\" or a leading dot); line skipped
danemx check: $T_TMP/bad:3: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': longer than 1000 characters; line skipped
danemx check: $T_TMP/bad:4: 'caf??.test': not an ASCII domain name (write an IDN as its A-labels, xn--...); line skipped"
expect_match "malformed lines: the last line, without newline" "$OUT" \
    '^dane-ta\.test: dane-verified '
dmx check --file "$T_TMP/nonexistent"
expect_eq "no such file: exit 66" "$RC" 66
expect_match "no such file: message" "$ERR" "^danemx check: --file $T_TMP/nonexistent: No such file or directory$"
dmx check --concurrency 0 --file "$T_TMP/ok"
expect_eq "--concurrency 0: usage" "$RC" 64
dmx check --concurrency 1001 --file "$T_TMP/ok"
expect_eq "--concurrency 1001: usage" "$RC" 64
dmx --json check --suggest-bypass --file "$T_TMP/ok"
expect_eq "--json --suggest-bypass: usage" "$RC" 64
dmx check --file "$T_TMP/ok" dane-ee.test
expect_eq "--file and a DOMAIN: usage" "$RC" 64
dmx check --suggest-bypass dane-ee.test
expect_eq "--suggest-bypass without --file: usage" "$RC" 64

# Descriptors: fewer checks at once than asked when the hard limit of
# open files is too low for them, said once; never "too many open files".
(
	# shellcheck disable=SC3045
	ulimit -n 100 &&
	exec "$DANEMX" -R "$CONF" --timeout 10 check --concurrency 500 \
	    --file "$T_TMP/ok" >"$T_TMP/out" 2>"$T_TMP/err"
)
expect_eq "open files: exit status" "$?" 0
expect_eq "open files: fewer at once" "$(cat "$T_TMP/err")" \
    "danemx check: 18 checks at once, not 500: the limit of open files is 100"

# 7. The progress line: on a terminal only (script(1) gives one).
if command -v script >/dev/null 2>&1; then
	rm -f "$T_TMP/fifo"
	mkfifo "$T_TMP/fifo"
	{ echo dane-ee.test; sleep 0.5; echo dane-ta.test; } >"$T_TMP/fifo" &
	script -qec "'$DANEMX' -R '$CONF' --timeout 10 check --file '$T_TMP/fifo'" \
	    /dev/null >"$T_TMP/tty" 2>&1
	expect_match "progress on a terminal" "$(tr '\r' '\n' <"$T_TMP/tty")" \
	    '^danemx check: [0-2] checked, [0-2] running, 0 failed, 0 malformed, line [12] \([0-9.]+ domains/s\)'
	{ echo dane-ee.test; sleep 0.5; echo dane-ta.test; } >"$T_TMP/fifo" &
	dmx check --file "$T_TMP/fifo"
	expect_eq "no progress without a terminal" "$ERR" ""
fi

done_ok
