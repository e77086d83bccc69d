#!/bin/sh
# relay.sh BUILD_DIR - the same relay job for `danemx serve` and for a
# Postfix configured as a DANE relay, in the same run, on one local world
# of its own (tests/world/world.sh on BENCH_WORLD_NET, default 127.0.66,
# and BENCH_WORLD_MX_NET, default 127.0.67; no IPv6 MX).
#
# The job: N messages (BENCH_MSGS, default 200), one recipient each, all
# distinct, spread evenly over DANE-verified world domains (BENCH_DOMAINS),
# injected over SMTP by Postfix's smtp-source (BENCH_SESSIONS parallel
# sessions per domain, default 5, several messages per session), then a
# bounded wait (BENCH_WAIT seconds, default 300) until the world's sink MX
# hosts (Postfix smtpd + discard) have logged all N as status=sent. The
# clock runs from the first injection to the last sink log line.
#
# Before each timed run, BENCH_WARMUP messages per domain (default 25) go
# through the same relay untimed: they fill the resolver caches and make
# the sinks' Postfix spawn its smtpd processes, so that neither relay
# pays for the other's cold start. BENCH_DX_OPTS adds "-o key=value"
# settings to danemx serve (e.g. "-o dest_concurrency=5").
#
# Measured for each relay: wall seconds, messages per second, relay CPU
# seconds per 1000 messages, peak memory. CPU comes from kernel
# accounting: each relay runs in its own cpuacct cgroup (v1; v2 cpu.stat
# when that is what /sys/fs/cgroup is), so it covers every process and
# thread of the relay (for Postfix: master, smtpd, cleanup, qmgr,
# trivial-rewrite, smtp, tlsproxy, scache, anvil, postlogd...) and nothing
# else: not the injector, the sinks, nor the validating resolver (danemx
# validates in-process with libunbound, so its DNSSEC work IS counted;
# Postfix's is done by the unbound daemon and is NOT - see the report).
# Only the interval from just before injection to the last delivery is
# counted (start-up excluded). Peak memory: danemx's VmHWM; for Postfix
# the sum of VmHWM over its processes at the end (and their number).
#
# Postfix trusts the AD bit of its resolver: as in bench/check.sh, a
# validating unbound daemon for the world runs on BENCH_WORLD_NET.53 and
# the Postfix relay is started in a private mount namespace whose
# /etc/resolv.conf names it ("options trust-ad"). Its main.cf and
# master.cf are written below (chroot off, tlsproxy for
# smtp_tls_connection_reuse = yes).
#
# Both relays must DANE-verify every delivery, else "no ratio".
set -eu

if [ "${1:-}" = --in-namespace ]; then
	shift
	work=$1
	mount --bind "$work/resolv.conf" /etc/resolv.conf
	postfix -c "$work/pfr" start </dev/null >"$work/pfr.start.log" 2>&1
	exit
fi

bdir=$(cd "${1:-build}" && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
N=${BENCH_MSGS:-200}
NET=${BENCH_WORLD_NET:-127.0.66}
MXNET=${BENCH_WORLD_MX_NET:-127.0.67}
SESS=${BENCH_SESSIONS:-5}
WAIT=${BENCH_WAIT:-300}
DOMAINS=${BENCH_DOMAINS:-"dane-ee.test dane-ta.test cname-orig.test implicit-mx.test"}
nd=$(echo "$DOMAINS" | wc -w)
DX_ADDR=$NET.60 PF_ADDR=$NET.61 PORT=2525

for t in smtp-source postfix unbound unbound-control unshare mount; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "relay: $t not found; run 'make deps' (packages postfix unbound util-linux)" >&2
		exit 1
	fi
done
[ "$(id -u)" = 0 ] || { echo "relay: must run as root (world, Postfix, cgroups)" >&2; exit 1; }

work=$(mktemp -d /tmp/danemx-bench-relay.XXXXXX)
chmod 755 "$work"
world=$work/world
ub_pid='' dx_pid='' pf_started=''

# cgroups: v2 unified (cgroup.controllers at the top) or v1 cpuacct
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cgv=2 cgroot=/sys/fs/cgroup/danemx-bench.$$
else
	cgv=1 cgroot=/sys/fs/cgroup/cpuacct/danemx-bench.$$
fi
mkdir "$cgroot" "$cgroot/dx" "$cgroot/pf" 2>/dev/null || {
	echo "relay: cannot make cgroups under $cgroot; no CPU figures" >&2
	exit 1
}
cg_ns() { # cg_ns NAME: CPU nanoseconds used so far by the cgroup
	if [ $cgv = 2 ]; then
		awk '$1 == "usage_usec" { print $2 * 1000 }' "$cgroot/$1/cpu.stat"
	else
		cat "$cgroot/$1/cpuacct.usage"
	fi
}

cleanup() {
	set +e
	[ -n "$dx_pid" ] && kill "$dx_pid" 2>/dev/null && sleep 1 && kill -9 "$dx_pid" 2>/dev/null
	[ -n "$pf_started" ] && timeout 20 postfix -c "$work/pfr" stop >/dev/null 2>&1
	if [ -n "$ub_pid" ]; then kill "$ub_pid" 2>/dev/null; wait "$ub_pid" 2>/dev/null; fi
	WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
		sh "$src/tests/world/world.sh" clean "$world" >/dev/null 2>&1
	for g in dx pf; do
		i=0
		while [ -s "$cgroot/$g/cgroup.procs" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
		rmdir "$cgroot/$g" 2>/dev/null
	done
	rmdir "$cgroot" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "relay: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
	sh "$src/tests/world/world.sh" start "$world" >/dev/null
conf=$world/unbound.conf
maillog=$world/postfix/maillog

# A validating unbound daemon for the world (bench/lib.sh).
start_world_unbound relay

# --- the Postfix relay ---------------------------------------------------
pf=$work/pfr
q=$pf/queue
mkdir "$pf"
install -d -m 755 -o root -g root "$q" "$q/pid"
for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
	install -d -m 700 -o postfix -g root "$q/$d"
done
install -d -m 730 -o postfix -g postdrop "$q/maildrop"
install -d -m 710 -o postfix -g postdrop "$q/public"
install -d -m 700 -o postfix -g root "$pf/data"
: >"$q/quick-start"
: >"$pf/maillog"
reuse=yes
[ -x "$(postconf -c "$world/postfix" -h daemon_directory)/tlsproxy" ] || reuse=no
cat >"$pf/main.cf" <<EOF
# main.cf - written by bench/relay.sh: Postfix as an outbound DANE relay
compatibility_level = 3.6
queue_directory = $q
data_directory = $pf/data
maillog_file = $pf/maillog
maillog_file_prefixes = $work
myhostname = relay.bench.test
mydomain = bench.test
myorigin = bench.test
mydestination =
relay_domains =
local_recipient_maps =
local_transport = error:no local delivery
alias_maps =
alias_database =
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_host_lookup = dns
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
smtp_tls_loglevel = 1
smtp_tls_connection_reuse = $reuse
biff = no
append_dot_mydomain = no
EOF
cat >"$pf/master.cf" <<EOF
# master.cf - written by bench/relay.sh; chroot off everywhere
$PF_ADDR:$PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
tlsproxy  unix  -       -       n       -       0       tlsproxy
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
touch -t 200001010000 "$pf/main.cf" "$pf/master.cf"

# --- the job ---------------------------------------------------------------
now_ns() { date +%s%N; }
# sent TAG: distinct recipients *TAG@DOMAIN the sinks logged as sent
sent() {
	grep -E "postfix/discard\[[0-9]+\]: [0-9A-F]+: to=<[0-9]+$1@" "$maillog" 2>/dev/null |
		grep 'status=sent' | sed 's/.*to=<\([^>]*\)>.*/\1/' | sort -u | wc -l
}
# inject ADDR TAG COUNT: COUNT messages over SMTP, spread over the
# domains, smtp-source in parallel (one per domain)
inject() {
	per=$(($3 / nd)) extra=$(($3 % nd)) k=0 ipids=''
	for d in $DOMAINS; do
		m=$per
		[ $k -lt $extra ] && m=$((m + 1))
		k=$((k + 1))
		s=$SESS
		[ "$m" -lt "$s" ] && s=$m
		[ "$m" -eq 0 ] && continue
		smtp-source -d -N -s "$s" -m "$m" -l 1000 -M client.bench.test \
			-f "sender@client.bench.test" -t "$2@$d" "$1:$PORT" \
			>>"$work/inject-$2.log" 2>&1 &
		ipids="$ipids $!"
	done
	ifail=0
	for p in $ipids; do wait "$p" || ifail=1; done
	return $ifail
}
# proc_cpu PID: utime+stime of one process, in clock ticks
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# warm TAG ADDR: BENCH_WARMUP messages per domain, untimed (processes
# spawned, resolver caches filled), waited for
warm() {
	w=$((${BENCH_WARMUP:-25} * nd))
	[ "$w" -gt 0 ] || return 0
	inject "$2" "w$1" "$w" || true
	deadline=$(($(date +%s) + WAIT))
	while [ "$(sent "w$1")" -lt "$w" ] && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.05
	done
	sleep 0.5
}
# run TAG ADDR CGROUP: inject, wait for the sinks; sets wall_ns cpu_ns
# inj_ns got ub_ticks (the validating unbound daemon's CPU meanwhile)
run() {
	warm "$1" "$2"
	base=$(cg_ns "$3")
	ub0=$(proc_cpu "$ub_pid")
	t0=$(now_ns)
	inject "$2" "$1" "$N" || echo "relay: smtp-source reported errors for $1 (see below)" >&2
	t_inj=$(now_ns)
	deadline=$(($(date +%s) + WAIT))
	while [ "$(sent "$1")" -lt "$N" ] && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.05
	done
	t1=$(now_ns)
	cpu_ns=$(($(cg_ns "$3") - base))
	ub_ticks=$(($(proc_cpu "$ub_pid") - ub0))
	wall_ns=$((t1 - t0))
	inj_ns=$((t_inj - t0))
	got=$(sent "$1")
}

echo "relay: $N messages over $nd domains ($(echo "$DOMAINS" | tr -s " \n" " ")), smtp-source $SESS sessions per domain; world $NET/$MXNET"

# (a) danemx serve, in cgroup dx
q_dx=$work/dxq
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$cgroot/dx" \
	"$bdir/danemx" -R "$conf" serve --foreground -o "state_dir=$work/state" -o "listen=$DX_ADDR:$PORT" \
	-o queue_dir="$q_dx" -o user= -o pid_file="$work/dx.pid" \
	-o helo_name=relay.bench.test -o mynetworks=127.0.0.0/8 ${BENCH_DX_OPTS:-} \
	>"$work/dx.log" 2>&1 &
dx_pid=$!
i=0
until grep -q 'relay started' "$work/dx.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 "$dx_pid" 2>/dev/null; then
		echo "relay: danemx serve did not start:" >&2
		tail -n 5 "$work/dx.log" >&2
		exit 1
	fi
	sleep 0.1
done
run dx "$DX_ADDR" dx
dx_wall=$wall_ns dx_cpu=$cpu_ns dx_got=$got dx_inj=$inj_ns
dx_ub=$ub_ticks
dx_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$dx_pid/status")
dx_pss=$(awk '/^Pss:/ { print $2 }' "/proc/$dx_pid/smaps_rollup")
dx_threads=$(awk '/^Threads/ { print $2 }' "/proc/$dx_pid/status")
kill "$dx_pid"
i=0
while kill -0 "$dx_pid" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.1; i=$((i + 1)); done
dx_pid=''

# (b) Postfix, in cgroup pf, in a private mount namespace
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$cgroot/pf" \
	unshare -m sh "$self" --in-namespace "$work" || {
	echo "relay: Postfix relay failed to start:" >&2
	cat "$work/pfr.start.log" "$pf/maillog" >&2
	exit 1
}
pf_started=1
i=0
until [ -n "$(ss -ltnH "src $PF_ADDR:$PORT" 2>/dev/null)" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "relay: Postfix not listening on $PF_ADDR:$PORT" >&2; exit 1; }
	sleep 0.1
done
run pf "$PF_ADDR" pf
pf_wall=$wall_ns pf_cpu=$cpu_ns pf_got=$got pf_inj=$inj_ns pf_ub=$ub_ticks
pf_hwm=0 pf_nproc=0 pf_pss=0
while read -r p; do
	h=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
	[ -n "$h" ] || continue
	ps=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
	pf_hwm=$((pf_hwm + h)) pf_nproc=$((pf_nproc + 1)) pf_pss=$((pf_pss + ${ps:-0}))
done <"$cgroot/pf/cgroup.procs"
sleep 1 # let postlogd write the last lines
timeout 20 postfix -c "$pf" stop >/dev/null 2>&1 || true
pf_started=''

# --- did both deliver everything with DANE? --------------------------------
dx_sent=$(grep -c 'to=<[0-9]*dx@.*status=sent' "$work/dx.log" || true)
dx_dane=$(grep -c 'to=<[0-9]*dx@.*tls=dane-verified.*status=sent' "$work/dx.log" || true)
pf_sent=$(grep -c 'postfix/smtp\[.*to=<[0-9]*pf@.*status=sent' "$pf/maillog" || true)
pf_ver=$(grep -c 'Verified TLS connection established' "$pf/maillog" || true)
pf_unver=$(grep 'TLS connection established' "$pf/maillog" | grep -vc 'Verified TLS' || true)
# each domain: its relay= host had a Verified TLS session in Postfix's log
pf_nover=''
for d in $DOMAINS; do
	h=$(grep "postfix/smtp\[.*to=<[0-9]*pf@$d>.*status=sent" "$pf/maillog" | head -n 1 |
		sed 's/.* relay=\([^[]*\)\[.*/\1/')
	if [ -z "$h" ] || ! grep -q "Verified TLS connection established to $h\[" "$pf/maillog"; then
		pf_nover="$pf_nover $d"
	fi
done
why=''
[ "$dx_got" -eq "$N" ] || why="$why; sinks got $dx_got/$N from danemx"
[ "$pf_got" -eq "$N" ] || why="$why; sinks got $pf_got/$N from Postfix"
[ "$dx_dane" -eq "$N" ] || why="$why; danemx logged $dx_dane/$N sent with tls=dane-verified ($dx_sent sent)"
[ "$pf_sent" -eq "$N" ] || why="$why; Postfix logged $pf_sent/$N status=sent"
[ -z "$pf_nover" ] || why="$why; Postfix: no Verified TLS session to the MX of:$pf_nover"
[ "$pf_ver" -ge 1 ] && [ "$pf_unver" -eq 0 ] ||
	why="$why; Postfix TLS sessions: $pf_ver verified, $pf_unver not"
if [ "${BENCH_VERBOSE:-0}" = 1 ] || [ -n "$why" ]; then
	echo "-- danemx log (tail):"; tail -n 5 "$work/dx.log"
	echo "-- Postfix relay maillog (tail):"; tail -n 8 "$pf/maillog"
	echo "-- injection:"; tail -n 3 "$work/inject-dx.log" "$work/inject-pf.log" 2>/dev/null
fi

awk -v n="$N" -v dxw="$dx_wall" -v dxc="$dx_cpu" -v dxh="$dx_hwm" -v dxt="$dx_threads" \
    -v pfw="$pf_wall" -v pfc="$pf_cpu" -v pfh="$pf_hwm" -v pfn="$pf_nproc" \
    -v dxi="$dx_inj" -v pfi="$pf_inj" -v reuse="$reuse" -v why="${why#; }" \
    -v pfv="$pf_ver" -v dxp="$dx_pss" -v pfp="$pf_pss" -v hz="$(getconf CLK_TCK)" \
    -v dxu="$dx_ub" -v pfu="$pf_ub" -v warm="${BENCH_WARMUP:-25}" 'BEGIN {
	printf "danemx serve: %d msgs in %.2f s (injection %.2f s): %.1f msg/s, CPU %.3f s per 1000 msgs, memory: VmHWM %.1f MiB, Pss at end %.1f MiB (1 process, %d threads)\n", n, dxw / 1e9, dxi / 1e9, n / (dxw / 1e9), dxc / 1e9 * 1000 / n, dxh / 1024, dxp / 1024, dxt
	printf "postfix:      %d msgs in %.2f s (injection %.2f s): %.1f msg/s, CPU %.3f s per 1000 msgs, memory: sum of VmHWM %.1f MiB, sum of Pss at end %.1f MiB (%d processes); connection reuse %s, %d verified TLS session log lines\n", n, pfw / 1e9, pfi / 1e9, n / (pfw / 1e9), pfc / 1e9 * 1000 / n, pfh / 1024, pfp / 1024, pfn, reuse, pfv
	printf "not counted above: the validating unbound daemon (the Postfix resolver) used %.3f s CPU per 1000 msgs during its run (%.3f during the danemx run, which validates in-process); warm-up %d msg per domain before each timed run\n", pfu / hz * 1000 / n, dxu / hz * 1000 / n, warm
	if (why != "") {
		printf "no ratio: %s\n", why
		exit 1
	}
	printf "ratio danemx/postfix: CPU per 1000 msgs %.3f (%.3f with unbound added to Postfix), throughput %.2f\n", dxc / pfc, dxc / (pfc + pfu / hz * 1e9), (n / dxw) / (n / pfw)
}'
