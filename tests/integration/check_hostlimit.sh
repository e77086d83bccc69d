#!/bin/sh
# check_hostlimit.sh - check's --host-concurrency: a scan never holds more
# sessions at once to one server address than it allows, over all the
# domains on that server, and so passes a receiver that caps connections
# per client where a scan without the limit reads the receiver's 421
# refusals as failures.
#
# The receiver is the world's mx-connlimit (NET.53, tests/world/CASES.md):
# a Postfix smtpd that allows 3 connections at once from one client
# (anvil, smtpd_client_connection_count_limit) and holds each 2 s before
# its banner, so that the sessions of a scan overlap for certain. Six
# domains of this run, each with its own MX record, all on that host.
# The server's own log says how many sessions were open at once.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

command -v jq >/dev/null || fail "jq not found (make deps)"

{
	echo "mxl-$RUN		1	A	@MX_NET@.53"
	echo "_25._tcp.mxl-$RUN	1	TLSA	3 1 1 @TLSA_EE_311@"
	for i in 1 2 3 4 5 6; do
		echo "hl$i-$RUN		1	MX	10 mxl-$RUN"
		echo "hl$i-$RUN.dane-ee.test" >>"$T_TMP/list"
	done
} | sh "$WORLD_WORLD_SH" add "$DANEMX_WORLD" dane-ee.test - >/dev/null ||
	fail "world.sh add"

# since: mx-connlimit's log lines after the mark
since() {
	tail -n +"$((MARK + 1))" "$WORLD_MAILLOG" | grep -F " mx-connlimit/smtpd["
}
# settled: every session since the mark has logged its end
settled() {
	[ "$(since | grep -c ': connect from ')" -gt 0 ] &&
		[ "$(since | grep -c ': connect from ')" = \
		    "$(since | grep -c ': disconnect from ')" ]
}
# peak: the most sessions open at once, by the server's connect and
# disconnect lines. A session lasts 2 s or more, but smtpd logs its
# disconnect after the 221 and its TLS shutdown, when danemx may have
# started the next session: the log can show one more than were open.
peak() {
	since | awk '/: connect from /{ n++; if (n > m) m = n }
	    /: disconnect from /{ n-- } END { print m + 0 }'
}
verified() { printf '%s\n' "$OUT" | grep -c '"verdict":"dane-verified"'; }

# 1. At most 2 at once: all six verified, 2 sessions open at most (and
#    at least: the limit is used), no connection refused.
MARK=$(wc -l <"$WORLD_MAILLOG")
dmx --json check --no-mta-sts --concurrency 6 --host-concurrency 2 \
    --file "$T_TMP/list"
expect_eq "limit 2: exit (stderr: $ERR)" "$RC" 0
expect_eq "limit 2: domains verified" "$(verified)" 6
wait_for 10 settled || fail "limit 2: the server's log did not settle: $(since)"
expect_match "limit 2: most sessions open at once (server's log: 2, or 3 for an instant at a hand-over)" \
    "$(peak)" '^[23]$'
expect_eq "limit 2: connections refused by the server" \
    "$(since | grep -c 'Connection concurrency limit exceeded')" 0
expect_eq "limit 2: sessions" "$(since | grep -c ': connect from ')" 6

# 2. No limit (0): six at once, and the receiver refuses three of them,
#    which the scan must report as failures (exit 1: refused).
MARK=$(wc -l <"$WORLD_MAILLOG")
dmx --json check --no-mta-sts --concurrency 6 --host-concurrency 0 \
    --file "$T_TMP/list"
expect_eq "no limit: exit" "$RC" 1
wait_for 10 settled || fail "no limit: the server's log did not settle: $(since)"
expect_match "no limit: the server refused some" \
    "$(since | grep -c 'Connection concurrency limit exceeded')" '^[1-3]$'
expect_match "no limit: more than 3 connections at once" "$(peak)" '^[4-6]$'
expect_match "no limit: verified only those the server let in" \
    "$(verified)" '^[3-5]$'
expect_match "no limit: a refusal, as the scan reports it" \
    "$(printf '%s\n' "$OUT" | jq -r 'select(.verdict == "failed") | .why' |
    head -n 1)" '421.*too many connections'

# 3. The option's bounds.
dmx check --host-concurrency 1001 --file "$T_TMP/list"
expect_eq "1001: usage error" "$RC" 64
expect_match "1001: says why" "$ERR" "--host-concurrency: '1001' is not a number from 0 \(no limit\) to 1000"
dmx check --host-concurrency x dane-ee.test
expect_eq "x: usage error" "$RC" 64
dmx probe --host-concurrency 2 dane-ee.test
expect_eq "probe: usage error" "$RC" 64
expect_match "probe: says why" "$ERR" "--host-concurrency is for check"

done_ok
