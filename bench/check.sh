#!/bin/sh
# check.sh BUILD_DIR - DANE diagnosis of many domains: `danemx check`
# against Postfix's `posttls-finger -l dane`, same domains, same run, on a
# local world of its own (tests/world/world.sh on BENCH_WORLD_NET, default
# 127.0.62, and BENCH_WORLD_MX_NET, default 127.0.63; no IPv6 MX).
#
# The domains are the world's DANE cases with exactly one MX host with one
# address (tests/world/CASES.md), so that `danemx check` (every address of
# every MX host) and posttls-finger (the first MX address that answers) do
# the same work: MX, A and AAAA, TLSA lookups with DNSSEC validation from
# the world's root, connect, EHLO, STARTTLS, DANE authentication, QUIT.
# Both tools must report every domain DANE-verified, else no ratio.
#
# DNSSEC: danemx validates in-process (libunbound, -R DIR/unbound.conf).
# posttls-finger trusts the AD bit of the system resolver, so we run a
# validating unbound daemon on BENCH_WORLD_NET.53 with the same root hints
# and trust anchor, and run posttls-finger in a private mount namespace
# (unshare -m) where /etc/resolv.conf is bind-mounted to a file naming
# that unbound (with "options trust-ad"); MAIL_CONFIG names a private
# main.cf with smtp_dns_support_level = dnssec. The host's resolv.conf is
# never touched.
#
# The scan (the issue's goal, at least 10 times as many domains per
# second as posttls-finger): `danemx check --file LIST`, ONE process for
# the whole list, against posttls-finger run once per domain of the same
# list, in the same run, rounds interleaved (BENCH_SCAN_N, default 3).
# LIST is the DANE cases above plus BENCH_SCAN_DOMAINS (default 200) more
# world domains that this benchmark adds to the world's DANE zones
# (world.sh add): bN.ZONE with MX 10 at the zone's MX host of the case, so
# each is a distinct domain (its own MX lookup) over a world DANE host, as
# a real list has many domains on fewer MX hosts. The scan runs with
# --no-mta-sts: posttls-finger looks up no MTA-STS, and both should do
# the same work; otherwise with its defaults: 50 domains at once, at
# most 5 sessions at once to one server address (--host-concurrency).
# The list is in zone order, so its domains come in runs on one MX host:
# the per-address limit then keeps few sessions open at once, and the
# world's Postfix (on the same two cores) starts fewer smtpd processes;
# BENCH_SCAN_OPTS adds options to the scan (e.g. "--host-concurrency 0"
# to see the difference). As in the per-process ratio below, every process starts
# with no DNS cache: the scan is one new process (its cache is its own and
# fills as it goes); the unbound daemon is flushed before each
# posttls-finger run, outside the timed interval. One untimed scan comes
# first, so that the world's Postfix has started the smtpd processes that
# concurrent sessions need (posttls-finger, one session at a time, finds
# them started by the earlier parts). Also shown, with its own
# ratio: posttls-finger with the daemon flushed only before each round
# (warm for the rest of the list, as the scan's cache is). Every domain
# must be DANE-verified by both (the scan's --json verdicts;
# posttls-finger's "Matched DANE" and "Verified TLS connection" on every
# run), else no ratio. Ratios are domains per second, danemx over
# posttls-finger.
#
# Timed (the per-process ratio): one process per domain for both tools, each starting
# with no DNS cache: danemx always does (its cache lives in the process);
# the unbound daemon's cache is flushed before each posttls-finger run,
# outside the timed interval. N rounds (BENCH_N, default 10) over the
# domains, the two tools interleaved domain by domain. Also shown, not in
# the ratio: danemx checking all domains in one process (concurrently),
# and posttls-finger with a warm resolver cache.
set -eu

if [ "${1:-}" = --in-namespace ]; then
	# Second half, run by the first in a private mount namespace.
	shift
	work=$1 bdir=$2
	mount --bind "$work/resolv.conf" /etc/resolv.conf
	MAIL_CONFIG=$work/postfix
	export MAIL_CONFIG
	# sets N, conf (the world's unbound.conf), DOMAINS, nd (their number)
	# shellcheck source=/dev/null
	. "$work/vars"
	# shellcheck disable=SC2154
	: "${N:?}" "${conf:?}" "${DOMAINS:?}" "${nd:?}" "${SN:?}" "${nscan:?}"

	now_ns() { date +%s%N; }
	ubc() { unbound-control -c "$work/unbound.conf" "$@" >/dev/null; }
	flush() {
		ubc flush_zone .
		ubc flush_negative
		ubc flush_bogus
		ubc flush_infra all
	}
	danemx_one() { "$bdir/danemx" -R "$conf" check "$@" >"$work/out" 2>"$work/err"; }
	ptf_one() { posttls-finger -c -l dane "$1" >"$work/out" 2>&1; }
	# verified by danemx: exit 0 and its result line for the one address
	dx_ok() { [ "$1" -eq 0 ] && grep -q ': ok, TLS dane-verified, DANE validated' "$work/out"; }
	# verified by posttls-finger: a DANE match and a verified session
	pf_ok() {
		grep -q 'Matched DANE' "$work/out" &&
			grep -q 'Verified TLS connection established' "$work/out"
	}

	# 1. Each tool once per domain, untimed: does it DANE-verify, and
	#    does it reach exactly one address?
	dx_good=0 pf_good=0 bad=''
	for d in $DOMAINS; do
		rc=0
		"$bdir/danemx" -R "$conf" --json check "$d" >"$work/out" 2>"$work/err" || rc=$?
		dx=$(jq -r '[.tls // "-", ([.attempts[] | select(.skipped | not)] | length)] | map(tostring) | join(" ")' "$work/out" 2>/dev/null || echo "- 0")
		flush
		ptf_one "$d" || true
		if pf_ok; then pf=dane-verified; else pf=not-verified; fi
		pn=$(grep -c 'TLS connection established' "$work/out" || true)
		case "$rc $dx" in "0 dane-verified 1") dx_good=$((dx_good + 1)) ;; esac
		[ $pf = dane-verified ] && [ "$pn" -eq 1 ] && pf_good=$((pf_good + 1))
		[ "${BENCH_VERBOSE:-0}" = 1 ] &&
			echo "$d: danemx exit $rc tls ${dx% *} (${dx#* } address), posttls-finger $pf ($pn session)"
		if [ "$rc $dx" != "0 dane-verified 1" ] || [ $pf != dane-verified ] || [ "$pn" -ne 1 ]; then
			echo "DISAGREE or not verified: $d: danemx exit $rc tls ${dx% *} (${dx#* } address), posttls-finger $pf ($pn session)"
			[ $pf = dane-verified ] || sed 's/^/    /' "$work/out" | head -n 8
			bad="$bad $d"
		fi
	done
	if [ -n "$bad" ]; then
		echo "DANE-verified before timing: danemx $dx_good/$nd, posttls-finger $pf_good/$nd domains"
		echo "no ratio: the tools do not both DANE-verify every domain (${bad# }); the comparison would be meaningless"
		exit 1
	fi

	# 2. Timed: one process per domain, cold DNS for both.
	dx_ns=0 pf_ns=0 dx_v=0 pf_v=0 runs=0
	: >"$work/dx_fail"
	: >"$work/pf_fail"
	r=0
	while [ $r -lt "$N" ]; do
		for d in $DOMAINS; do
			rc=0
			t0=$(now_ns)
			danemx_one "$d" || rc=$?
			t1=$(now_ns)
			dx_ns=$((dx_ns + t1 - t0))
			if dx_ok $rc; then dx_v=$((dx_v + 1)); else echo "$d" >>"$work/dx_fail"; fi
			flush
			t0=$(now_ns)
			ptf_one "$d" || true
			t1=$(now_ns)
			pf_ns=$((pf_ns + t1 - t0))
			if pf_ok; then pf_v=$((pf_v + 1)); else echo "$d" >>"$work/pf_fail"; fi
			runs=$((runs + 1))
		done
		r=$((r + 1))
	done

	# 3. Not in the ratio: danemx, all domains in one process per round;
	#    posttls-finger, one process per domain, resolver cache kept warm.
	t0=$(now_ns)
	r=0
	while [ $r -lt "$N" ]; do
		# shellcheck disable=SC2086
		danemx_one $DOMAINS || true
		r=$((r + 1))
	done
	t1=$(now_ns)
	dxb_ns=$((t1 - t0))
	for d in $DOMAINS; do ptf_one "$d" || true; done # warm the cache
	t0=$(now_ns)
	r=0
	while [ $r -lt "$N" ]; do
		for d in $DOMAINS; do ptf_one "$d" || true; done
		r=$((r + 1))
	done
	t1=$(now_ns)
	pfw_ns=$((t1 - t0))

	# 4. The scan: danemx check --file (one process) against
	#    posttls-finger once per domain, the same list, rounds
	#    interleaved: the scan, posttls-finger flushed before each
	#    run, then posttls-finger flushed before the round only.
	sc_ns=0 sp_ns=0 sw_ns=0 sc_v=0 sp_v=0 sw_v=0 sruns=0
	: >"$work/sp_fail"
	# Untimed, once: the world's Postfix starts an smtpd process for
	# each session at once, which posttls-finger, one session at a
	# time, never needs; they stay for the timed rounds (max_idle).
	# shellcheck disable=SC2086
	"$bdir/danemx" -R "$conf" --json check --no-mta-sts $SOPTS \
	    --file "$work/scan.list" >/dev/null 2>&1 || true
	r=0
	while [ $r -lt "$SN" ]; do
		t0=$(now_ns)
		# shellcheck disable=SC2086
		"$bdir/danemx" -R "$conf" --json check --no-mta-sts $SOPTS \
		    --file "$work/scan.list" >"$work/scan.out" 2>"$work/scan.err" || true
		t1=$(now_ns)
		sc_ns=$((sc_ns + t1 - t0))
		sc_v=$((sc_v + $(grep -c '"verdict":"dane-verified"' "$work/scan.out" || true)))
		while read -r d; do
			flush
			t0=$(now_ns)
			ptf_one "$d" || true
			t1=$(now_ns)
			sp_ns=$((sp_ns + t1 - t0))
			if pf_ok; then sp_v=$((sp_v + 1)); else echo "$d" >>"$work/sp_fail"; fi
		done <"$work/scan.list"
		flush
		while read -r d; do
			t0=$(now_ns)
			ptf_one "$d" || true
			t1=$(now_ns)
			sw_ns=$((sw_ns + t1 - t0))
			if pf_ok; then sw_v=$((sw_v + 1)); else echo "$d" >>"$work/sp_fail"; fi
		done <"$work/scan.list"
		sruns=$((sruns + nscan))
		r=$((r + 1))
	done
	spf=$(sort -u "$work/sp_fail" | head -n 5 | tr '\n' ' ')
	if [ "$sc_v" -ne "$sruns" ]; then
		echo "scan: danemx DANE-verified $sc_v of $sruns; last scan's failures:"
		grep -v '"verdict":"dane-verified"' "$work/scan.out" | head -n 5
	fi
	awk -v sc="$sc_ns" -v sp="$sp_ns" -v sw="$sw_ns" -v n="$sruns" \
	    -v nl="$nscan" -v sn="$SN" -v scv="$sc_v" -v spv="$sp_v" \
	    -v swv="$sw_v" -v spf="$spf" 'BEGIN {
		dr = n / (sc / 1e9); pr = n / (sp / 1e9); wr = n / (sw / 1e9)
		printf "scan: danemx check --file, one process a list:   %d domains in %.3f s, %.1f domains/s (%d rounds of %d domains)\n", n, sc / 1e9, dr, sn, nl
		printf "scan: posttls-finger, one process a domain:      %d domains in %.3f s, %.1f domains/s (resolver cache flushed before each)\n", n, sp / 1e9, pr
		printf "scan: posttls-finger, warm through each round:   %d domains in %.3f s, %.1f domains/s (flushed before each round only)\n", n, sw / 1e9, wr
		printf "scan: DANE-verified: danemx %d/%d, posttls-finger %d/%d and %d/%d\n", scv, n, spv, n, swv, n
		if (spf != "") printf "scan: posttls-finger not verified: %s\n", spf
		if (scv == n && spv == n && swv == n) {
			printf "scan ratio (domains/s, danemx check --file / posttls-finger): %.1f (goal >= 10)\n", dr / pr
			printf "scan ratio against posttls-finger warm through the round: %.1f\n", dr / wr
		} else
			printf "scan: no ratio: not every domain was DANE-verified by both\n"
	}'

	dxf=$(sort -u "$work/dx_fail" | tr '\n' ' ')
	pff=$(sort -u "$work/pf_fail" | tr '\n' ' ')
	awk -v dx="$dx_ns" -v pf="$pf_ns" -v n="$runs" -v nd="$nd" -v dxv="$dx_v" \
	    -v pfv="$pf_v" -v dxb="$dxb_ns" -v pfw="$pfw_ns" -v dxf="$dxf" -v pff="$pff" 'BEGIN {
		printf "danemx check:   %d domains in %.3f s, %.4f s per domain (one process per domain, cold DNS cache)\n", n, dx / 1e9, dx / 1e9 / n
		printf "posttls-finger: %d domains in %.3f s, %.4f s per domain (one process per domain, resolver cache flushed before each)\n", n, pf / 1e9, pf / 1e9 / n
		if (dxv == n && pfv == n)
			printf "ratio danemx/posttls-finger: %.2f\n", dx / pf
		else
			printf "no ratio: not every timed run was DANE-verified\n"
		printf "DANE-verified: danemx %d/%d runs, posttls-finger %d/%d runs (%d distinct domains)\n", dxv, n, pfv, n, nd
		if (dxf != "") printf "danemx not verified: %s\n", dxf
		if (pff != "") printf "posttls-finger not verified: %s\n", pff
		printf "also: danemx check of all %d domains in one process: %.4f s per domain; posttls-finger with a warm resolver cache: %.4f s per domain\n", nd, dxb / 1e9 / n, pfw / 1e9 / n
	}'
	[ "$dx_v" -eq "$runs" ] && [ "$pf_v" -eq "$runs" ] &&
		[ "$sc_v" -eq "$sruns" ] && [ "$sp_v" -eq "$sruns" ] &&
		[ "$sw_v" -eq "$sruns" ]
	exit
fi

bdir=$(cd "${1:-build}" && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
N=${BENCH_N:-10}
NET=${BENCH_WORLD_NET:-127.0.62}
MXNET=${BENCH_WORLD_MX_NET:-127.0.63}
# The world's DANE cases with one MX host and one address (CASES.md).
DOMAINS="dane-ee.test dane-ee-expired.test implicit-mx.test tlsa-cname.test
dane-ta.test dane-ta-nexthop.test alias.dane-ta-nexthop.test
dane-ta-notsent.test cname-exp.test cname-orig.test tail.cname-orig.test"
nd=$(echo "$DOMAINS" | wc -w)

for t in posttls-finger unbound unbound-control unshare mount jq; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "check: $t not found; run 'make deps' (packages postfix unbound util-linux jq)" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/danemx-bench-check.XXXXXX)
chmod 755 "$work" # the world's Postfix runs as user postfix
world=$work/world
ub_pid=
cleanup() {
	if [ -n "$ub_pid" ]; then
		kill "$ub_pid" 2>/dev/null || true
		wait "$ub_pid" 2>/dev/null || true
	fi
	WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
		sh "$src/tests/world/world.sh" clean "$world" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
	sh "$src/tests/world/world.sh" start "$world" >/dev/null

# The scan's extra domains: bN.ZONE -> the case's MX host, in the case's
# zone (dane-ta-nexthop.test is left out: its certificate names the next
# hop, dane-ta-nexthop.test itself, not bN.dane-ta-nexthop.test).
NS=${BENCH_SCAN_DOMAINS:-200}
SCAN_HOSTS="dane-ee.test:mx dane-ee-expired.test:mx implicit-mx.test:@
tlsa-cname.test:mx dane-ta.test:mx dane-ta-notsent.test:mx
cname-exp.test:mx cname-orig.test:mx cname-orig.test:mx3"
nh=$(echo "$SCAN_HOSTS" | wc -w)
# shellcheck disable=SC2086
printf '%s\n' $DOMAINS >"$work/scan.list"
i=0
for zh in $SCAN_HOSTS; do
	z=${zh%%:*} h=${zh#*:}
	[ "$h" = @ ] && t="$z." || t="$h.$z."
	: >"$work/add"
	k=$i
	while [ $k -lt "$NS" ]; do
		echo "b$k MX 10 $t" >>"$work/add"
		echo "b$k.$z" >>"$work/scan.list"
		k=$((k + nh))
	done
	i=$((i + 1))
	WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
		sh "$src/tests/world/world.sh" add "$world" "$z" "$work/add" >/dev/null
done
nscan=$(wc -l <"$work/scan.list")

# A validating unbound daemon for the world (bench/lib.sh).
start_world_unbound check
mkdir "$work/postfix"
cat >"$work/postfix/main.cf" <<EOF
# posttls-finger only (MAIL_CONFIG): DANE with DNSSEC from resolv.conf
compatibility_level = 3.6
myhostname = bench.danemx.test
inet_protocols = all
smtp_host_lookup = dns
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
EOF
{
	echo "N='$N'"
	echo "conf='$world/unbound.conf'"
	echo "DOMAINS='$(echo "$DOMAINS" | tr '\n' ' ')'"
	echo "nd=$nd"
	echo "SN='${BENCH_SCAN_N:-3}'"
	echo "nscan=$nscan"
	echo "SOPTS='${BENCH_SCAN_OPTS:-}'"
} >"$work/vars"

if ! unshare -m true 2>/dev/null; then
	echo "check: cannot make a private mount namespace (unshare -m); posttls-finger cannot use the world's resolver" >&2
	echo "no ratio: posttls-finger could not validate DNSSEC here" >&2
	exit 1
fi
echo "danemx: $bdir/danemx -R WORLD/unbound.conf check DOMAIN; posttls-finger -c -l dane DOMAIN (AD bit from unbound on $ub_addr); $N rounds of $nd domains"
echo "scan: $bdir/danemx -R WORLD/unbound.conf --json check --no-mta-sts${BENCH_SCAN_OPTS:+ $BENCH_SCAN_OPTS} --file LIST ($nscan domains: the $nd above and $NS more on their MX hosts); posttls-finger once per domain; ${BENCH_SCAN_N:-3} rounds"
unshare -m sh "$self" --in-namespace "$work" "$bdir"
