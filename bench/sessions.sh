#!/bin/sh
# sessions.sh BUILD_DIR - thousands of concurrent outbound DANE sessions of
# `danemx serve`, and its memory per session, on a local world of its own
# (tests/world/world.sh on BENCH_WORLD_NET, default 127.0.68, and
# BENCH_WORLD_MX_NET, default 127.0.69; no IPv6 MX).
#
# The destination: hold.secure.test, MX mxhold.hold.secure.test at
# MX_NET.77, with a DANE-EE TLSA record (3 1 1) of the world's ee key. On
# that address runs bench/holdsink.py: an SMTP server with STARTTLS
# (pki/ee.pem) that takes every message but holds the reply to its final
# "." until it is released, so each delivery stays open, authenticated,
# in the middle of its session.
#
# danemx serve runs with dest_concurrency = max_deliveries = N
# (BENCH_SESSIONS_N, default 2000). It opens another connection to a
# destination only while the destination has more than 2 ready messages
# per open connection, so M = 3N + 50 messages are queued (one
# recipient each, BENCH_MSG_SIZE octets of body, default 1000, injected
# over SMTP by smtp-source with BENCH_INJECT_SESSIONS parallel sessions,
# default 20).
#
# Separating the queue from the sessions: the sink is NOT listening while
# the M messages are injected. danemx tries each at once, resolves the
# destination (MX, A, TLSA: all secure), finds the port closed and defers
# the message (retry_min 1h). Once every message is queued and deferred,
# danemx holds the in-memory index of M messages, a warm DNS cache and no
# session: that is the baseline. Then the sink starts, `danemx queue
# flush` makes every message due, and danemx ramps up to N sessions, each
# held at the end of DATA. Measured from /proc (VmRSS, VmHWM, open
# descriptors) at start (idle), at the baseline (M queued), and once the
# sink holds N sessions (bounded wait, BENCH_WAIT seconds, default 300);
#   per session = (RSS at N sessions - RSS at the baseline) / N.
# A session held there costs what a real one in flight costs: the TCP
# socket, the OpenSSL connection (DANE-verified, TLS 1.3), libevent's
# bufferevent and buffers, the SMTP client and delivery state, and what
# it holds of its message (it streams from the queue file in 16 KiB
# chunks, so nothing once sent). (RSS at baseline - RSS idle) / M is the
# index cost per queued message (it includes the first, failed attempts'
# leftovers in the allocator, so it is an upper bound).
#
# Then the sink is released: the N held messages and the rest of the M
# are answered 250, and the run waits (BENCH_WAIT) until danemx has
# logged all M as status=sent; it counts how many carry
# tls=dane-verified (all must). RSS after everything is delivered and
# the sessions are closed is reported too (what the allocator keeps).
#
# BENCH_SESSIONS_BIG=1 (the default; 0 skips it) runs the DANE measurement
# once more with big messages: BENCH_BIG_MSG_SIZE octets each (default
# 1 MiB) and BENCH_BIG_N sessions (default 200, so 3N+50 = 650 messages,
# 650 MiB of queue). Memory per session must not grow with the message:
# the last line compares it with the first run's.
#
# BENCH_SESSIONS_PLAIN=1 runs the same again with a fresh danemx against
# an unsigned destination (hold.insecure.test, MX_NET.78) whose sink
# offers no STARTTLS: plaintext sessions, so the difference per session
# is what TLS (OpenSSL) costs. BENCH_DX_OPTS adds "-o key=value" settings
# to danemx serve; BENCH_MALLOC_STATS=1 also reports the heap in use
# (glibc malloc_stats() through gdb) at the baseline and at N sessions;
# BENCH_DX_WRAP runs danemx under a wrapper, e.g. "heaptrack -o FILE" to
# see where the memory per session goes (heaptrack_print --print-peaks),
# or "env LD_PRELOAD=...". BENCH_KEEP=1 keeps the scratch directory (logs,
# the sink's status file, ramp-TAG: the ramp sampled); BENCH_VERBOSE=1
# shows log tails.
set -eu

bdir=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_SESSIONS_N:-2000}
NET=${BENCH_WORLD_NET:-127.0.68}
MXNET=${BENCH_WORLD_MX_NET:-127.0.69}
WAIT=${BENCH_WAIT:-300}
ISESS=${BENCH_INJECT_SESSIONS:-20}
MSGSIZE=${BENCH_MSG_SIZE:-1000}
M=$((3 * N + 50))
DX_ADDR=$NET.60 PORT=2525
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for t in smtp-source postfix jq ss "$PY"; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "sessions: $t not found; run 'make deps' (packages postfix jq iproute2 python3)" >&2
		exit 1
	fi
done
[ "$(id -u)" = 0 ] || { echo "sessions: must run as root (world on ports 53 and 25)" >&2; exit 1; }
[ -x "$bdir/danemx" ] || { echo "sessions: no $bdir/danemx; run make" >&2; exit 1; }

# Descriptors: danemx needs N outbound + a few hundred, the sink N + a
# few; both raise their soft limit to the hard one. Raise the hard one
# here (we are root) when it is too low.
# (ulimit -H/-S/-n: not POSIX, but in dash and bash, the /bin/sh we run on)
# shellcheck disable=SC3045
need=$((2 * N + 1024))
# shellcheck disable=SC3045
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
	ulimit -Hn "$need" 2>/dev/null || {
		echo "sessions: hard descriptor limit $(ulimit -Hn) < $need and cannot be raised" >&2
		exit 1
	}
fi
# shellcheck disable=SC3045
ulimit -Sn "$(ulimit -Hn)"
# shellcheck disable=SC3045
nofile=$(ulimit -Sn)

work=$(mktemp -d /tmp/danemx-bench-sessions.XXXXXX)
chmod 755 "$work"
world=$work/world
dx_pid='' sink_pid=''
# The binary under test, copied: a rebuild during the run does not change it.
cp "$bdir/danemx" "$work/danemx"
DX=$work/danemx

stop_pid() { # stop_pid PID: TERM, bounded wait, KILL
	kill "$1" 2>/dev/null || return 0
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	set +e
	[ -n "$dx_pid" ] && stop_pid "$dx_pid"
	[ -n "$sink_pid" ] && stop_pid "$sink_pid"
	WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
		sh "$src/tests/world/world.sh" clean "$world" >/dev/null 2>&1
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "sessions: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
	sh "$src/tests/world/world.sh" start "$world" >/dev/null
conf=$world/unbound.conf
# the world's ee key: pki/ee.pem and pki/ee.key, from which @TLSA_EE_311@
# is computed (tests/world/smtp.sh write_subst)
WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
	sh "$src/tests/world/world.sh" set "$world" secure.test - >/dev/null <<EOF
hold			MX	10 mxhold.hold
mxhold.hold		A	@MX_NET@.77
_25._tcp.mxhold.hold	TLSA	3 1 1 @TLSA_EE_311@
EOF
if [ "${BENCH_SESSIONS_PLAIN:-0}" = 1 ]; then
	WORLD_NET=$NET WORLD_MX_NET=$MXNET WORLD_MX_ADDR6='' \
		sh "$src/tests/world/world.sh" set "$world" insecure.test - >/dev/null <<EOF
hold			MX	10 mxhold.hold
mxhold.hold		A	@MX_NET@.78
EOF
fi

# --- helpers -----------------------------------------------------------------
# kb PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM)
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
nfd() { set -- "/proc/$1/fd"/*; echo $#; }
# sink KEY: a value from the sink's status file (0 before it has one)
sink() { awk -F= -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$sink_st" 2>/dev/null || echo 0; }
# sent TAG: status=sent lines for the run's recipients; dane TAG: of
# those, with tls=dane-verified
sent() { grep -c "to=<[0-9]*$1@.*status=sent" "$dxlog" || true; }
dane() { grep "to=<[0-9]*$1@.*status=sent" "$dxlog" | grep -c 'tls=dane-verified' || true; }
# undue: recipients in the queue due now (not yet tried, or not deferred)
undue() {
	"$DX" queue -o user= -o queue_dir="$q" --json list 2>/dev/null |
		jq --argjson t "$(date +%s)" '[.[].recipients[] | select(.next_try <= $t)] | length'
}
queued() { "$DX" queue -o user= -o queue_dir="$q" --json list 2>/dev/null | jq length; }
# inuse: with BENCH_MALLOC_STATS=1, the heap KiB in use in danemx now, from
# glibc's malloc_stats() (gdb attaches for a moment; it prints to the log)
inuse() {
	[ "${BENCH_MALLOC_STATS:-0}" = 1 ] && command -v gdb >/dev/null 2>&1 || return 0
	gdb -p "$dx_pid" -batch -ex 'call (void) malloc_stats()' >/dev/null 2>&1 || return 0
	sleep 0.5
	awk '/^Total \(incl. mmap\):/ { t = 1; next }
		t && $1 == "in" && $2 == "use" { v = int($5 / 1024); t = 0 }
		END { print v }' "$dxlog"
}
# alive: danemx still runs, or the benchmark ends with its log's tail
alive() {
	kill -0 "$dx_pid" 2>/dev/null && return 0
	echo "sessions: danemx died; the end of its log:" >&2
	tail -n 20 "$dxlog" >&2
	dx_pid=''
	exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run TAG DOMAIN SINKADDR TLS(1|0): one measurement; sets r_* variables
run() {
	tag=$1 dom=$2 saddr=$3 tls=$4
	q=$work/q-$tag dxlog=$work/dx-$tag.log sink_st=$work/sink-$tag.status
	rel=$work/sink-$tag.release
	rm -f "$work/dx.pid"
	# shellcheck disable=SC2086
	${BENCH_DX_WRAP:-} "$DX" -R "$conf" serve --foreground -o "state_dir=$work/state" -o "listen=$DX_ADDR:$PORT" \
		-o queue_dir="$q" -o user= -o pid_file="$work/dx.pid" \
		-o helo_name=relay.bench.test -o mynetworks=127.0.0.0/8 \
		-o dest_concurrency="$N" -o max_deliveries="$N" \
		-o retry_min=1h -o retry_max=2h ${BENCH_DX_OPTS:-} \
		>"$dxlog" 2>&1 &
	dx_pid=$! wrap_pid=$!
	i=0
	until grep -q 'relay started' "$dxlog" 2>/dev/null && [ -s "$work/dx.pid" ]; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$wrap_pid" 2>/dev/null; then
			echo "sessions: danemx serve did not start:" >&2
			tail -n 5 "$dxlog" >&2
			exit 1
		fi
		sleep 0.1
	done
	# the relay's own pid (not a wrapper's: BENCH_DX_WRAP)
	dx_pid=$(cat "$work/dx.pid")
	sleep 1
	r_idle=$(kb "$dx_pid" VmRSS) r_idle_fd=$(nfd "$dx_pid")

	# 1. M messages, the sink not listening: all deferred
	t0=$(now_ms)
	smtp-source -d -N -s "$ISESS" -m "$M" -l "$MSGSIZE" -M client.bench.test \
		-f sender@client.bench.test -t "$tag@$dom" "$DX_ADDR:$PORT" \
		>"$work/inject-$tag.log" 2>&1 ||
		echo "sessions: smtp-source reported errors (see $work/inject-$tag.log)" >&2
	r_inj_s=$(( $(now_ms) - t0 ))
	deadline=$(($(date +%s) + WAIT))
	while :; do
		nq=$(queued) nu=$(undue)
		[ "$nq" -ge "$M" ] && [ "$nu" -eq 0 ] && break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "sessions: $tag: after ${WAIT}s, $nq/$M queued, $nu not yet deferred" >&2
			break
		fi
		sleep 1
	done
	r_queued=$nq
	alive
	sleep 1
	r_base=$(kb "$dx_pid" VmRSS) r_base_fd=$(nfd "$dx_pid")
	r_inuse0=$(inuse)

	# 2. the sink listens; every message due; ramp up to N held sessions
	set -- --no-tls
	[ "$tls" = 1 ] && set -- --cert "$world/pki/ee.pem" --key "$world/pki/ee.key"
	"$PY" "$src/bench/holdsink.py" --addr "$saddr" --port 25 "$@" \
		--status "$sink_st" --release "$rel" --log "$work/sink-$tag.log" \
		--name "mxhold.$dom" >"$work/sink-$tag.out" 2>&1 &
	sink_pid=$!
	i=0
	until [ -s "$sink_st" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$sink_pid" 2>/dev/null; then
			echo "sessions: the sink did not start on $saddr:25:" >&2
			cat "$work/sink-$tag.out" >&2
			exit 1
		fi
		sleep 0.1
	done
	log0=$(wc -l <"$dxlog")
	t0=$(now_ms)
	"$DX" queue -o user= -o queue_dir="$q" -o pid_file="$work/dx.pid" flush >/dev/null
	t1=$(now_ms)
	r_flush=$((t1 - t0))
	dx_ss0=$(cat "/proc/$dx_pid/schedstat") sink_ss0=$(cat "/proc/$sink_pid/schedstat")
	deadline=$(($(date +%s) + WAIT))
	# the ramp, sampled (the sink updates its status every 0.25 s): ms
	# since the flush signal, sink connections, of those in TLS, held at
	# the end of DATA, CPU ticks of danemx and of the sink
	: >"$work/ramp-$tag"
	while :; do
		ms=$(( $(now_ms) - t1 ))
		# one read of the status file: connections, in TLS, held
		snap=$(awk -F= '{ v[$1] = $2 } END { print v["conns"] + 0, v["tls"] + 0, v["held"] + 0 }' "$sink_st")
		h=${snap##* }
		echo "$ms $snap" \
			"$(awk '{ print $14 + $15 }' "/proc/$dx_pid/stat")" \
			"$(awk '{ print $14 + $15 }' "/proc/$sink_pid/stat")" >>"$work/ramp-$tag"
		[ "$h" -ge "$N" ] && break
		if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$dx_pid" 2>/dev/null; then
			break
		fi
		sleep 0.2
	done
	r_ramp=$ms
	# CPU time and run-queue wait (ns, /proc/PID/schedstat: the main
	# thread) of danemx and of the sink during the ramp, and the load
	r_sched=$(echo "$dx_ss0 $(cat "/proc/$dx_pid/schedstat") $sink_ss0 $(cat "/proc/$sink_pid/schedstat")" |
		awk '{ printf "danemx ran %.1f s and waited %.1f s for a CPU, the sink ran %.1f s and waited %.1f s", ($4 - $1) / 1e9, ($5 - $2) / 1e9, ($10 - $7) / 1e9, ($11 - $8) / 1e9 }')
	r_load=$(cut -d' ' -f1-3 /proc/loadavg)
	# when the sink first saw N connections, N in TLS, N/2 held
	r_t_conn=$(awk -v n="$N" '$2 >= n { print $1; exit }' "$work/ramp-$tag")
	r_t_tls=$(awk -v n="$N" '$3 >= n { print $1; exit }' "$work/ramp-$tag")
	r_t_half=$(awk -v n="$N" '$4 >= n / 2 { print $1; exit }' "$work/ramp-$tag")
	sleep 1 # the last replies' bookkeeping
	alive
	r_held=$(sink held)
	r_rss=$(kb "$dx_pid" VmRSS) r_hwm=$(kb "$dx_pid" VmHWM) r_fd=$(nfd "$dx_pid")
	r_anon=$(awk '$1 == "Anonymous:" { print $2 }' "/proc/$dx_pid/smaps_rollup")
	r_est=$(ss -Htn state established "( dport = :25 and dst $saddr )" | wc -l)
	r_dxcpu=$(awk '{ print $14 + $15 }' "/proc/$dx_pid/stat")
	[ "${BENCH_KEEP:-0}" = 1 ] && cp "/proc/$dx_pid/smaps" "$work/smaps-$tag"
	# BENCH_MALLOC_STATS=1: glibc's malloc_stats() in danemx (gdb attaches
	# for a moment) gives the heap bytes in use, against the RSS
	r_inuse=$(inuse)

	# 3. release; all M delivered (over the same sessions, reused)
	: >"$rel"
	kill -USR1 "$sink_pid" 2>/dev/null || true
	deadline=$(($(date +%s) + WAIT))
	while [ "$(sent "$tag")" -lt "$M" ] && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.5
	done
	# the sessions close (idle 2 s, or QUIT); then what the allocator kept
	i=0
	while [ "$(ss -Htn state established "( dport = :25 and dst $saddr )" | wc -l)" -gt 0 ] &&
	    [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	sleep 1
	alive
	r_after=$(kb "$dx_pid" VmRSS) r_after_fd=$(nfd "$dx_pid")
	r_hwm=$(kb "$dx_pid" VmHWM)
	[ "$r_hwm" -ge "$r_rss" ] || r_hwm=$r_rss # VmHWM is updated lazily
	r_dxcpu=$(awk '{ print $14 + $15 }' "/proc/$dx_pid/stat")
	r_threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$dx_pid/status")
	r_sent=$(sent "$tag") r_dane=$(dane "$tag")
	r_none=$(grep "to=<[0-9]*$tag@.*status=sent" "$dxlog" | grep -c 'tls=none' || true)
	r_recv=$(sink received) r_peak=$(sink peak_conns) r_accepted=$(sink accepted)
	r_errs=$(sink errors)
	# log lines that look like trouble, but for the refused connections
	# of step 1
	grep -iE 'error|warn|fatal|cannot|out of|fail|abort|timeout|timed out' "$dxlog" |
		grep -v 'Connection refused' >"$work/dx-$tag.trouble" || true
	r_warn=$(wc -l <"$work/dx-$tag.trouble")
	r_refused=$(grep -c "to=<[0-9]*$tag@.*status=deferred (cannot connect: Connection refused)" "$dxlog" || true)
	r_conn=$(tail -n +"$((log0 + 1))" "$dxlog" | grep -c "^Connecting to \[$saddr\]:25" || true)
	r_reuse=$(tail -n +"$((log0 + 1))" "$dxlog" | grep -c "reusing the connection" || true)
	stop_pid "$dx_pid"
	dx_pid=''
	[ -z "${BENCH_DX_WRAP:-}" ] || wait "$wrap_pid" || true
	stop_pid "$sink_pid"
	sink_pid=''
	if [ "${BENCH_VERBOSE:-0}" = 1 ]; then
		echo "-- $tag: danemx log (tail):"; tail -n 5 "$dxlog"
		echo "-- $tag: sink status:"; tr '\n' ' ' <"$sink_st"; echo
	fi
	if [ "$r_warn" -gt 0 ]; then
		echo "-- $tag: $r_warn danemx log lines about trouble, e.g.:"
		sort "$work/dx-$tag.trouble" | sed 's/^[0-9a-f]\{16\}: to=<[^>]*>/ID: to=<...>/' |
			uniq -c | sort -rn | head -n 5
	fi
}

# report TAG LABEL: the figures of the last run; sets why
report() {
	why=''
	[ "$r_queued" -ge "$M" ] || why="$why; only $r_queued/$M messages queued"
	[ "$r_held" -ge "$N" ] || why="$why; the sink held $r_held/$N sessions after ${WAIT}s"
	[ "$r_sent" -eq "$M" ] || why="$why; danemx logged $r_sent/$M status=sent"
	if [ "$2" = DANE-verified ] && [ "$r_dane" -ne "$r_sent" ]; then
		why="$why; $((r_sent - r_dane)) of $r_sent sent NOT tls=dane-verified"
	fi
	[ "$r_recv" -ge "$M" ] || why="$why; the sink answered $r_recv/$M messages"
	awk -v n="$N" -v m="$M" -v tag="$1" -v held="$r_held" \
	    -v idle="$r_idle" -v base="$r_base" -v rss="$r_rss" -v hwm="$r_hwm" \
	    -v after="$r_after" -v fd="$r_fd" -v fdi="$r_idle_fd" -v fdb="$r_base_fd" \
	    -v fda="$r_after_fd" -v est="$r_est" -v anon="$r_anon" -v ramp="$r_ramp" \
	    -v half="${r_t_half:--1}" -v tconn="${r_t_conn:--1}" -v ttls="${r_t_tls:--1}" -v flush="$r_flush" -v reuse="$r_reuse" -v inj="$r_inj_s" -v sent="$r_sent" -v dane="$r_dane" \
	    -v recv="$r_recv" -v peak="$r_peak" -v acc="$r_accepted" -v errs="$r_errs" \
	    -v conn="$r_conn" -v warn="$r_warn" -v refused="$r_refused" -v thr="$r_threads" \
	    -v cpu="$r_dxcpu" -v inuse="$r_inuse" -v inuse0="$r_inuse0" -v hz="$(getconf CLK_TCK)" \
	    -v none="$r_none" -v sched="$r_sched" -v load="$r_load" -v ncpu="$(nproc)" '
	function t(ms) { return ms < 0 ? "-" : sprintf("%.1f", ms / 1000) }
	BEGIN {
		if (held < 1) held = 1	# (a failed run: no division by zero)
		if (inj < 1) inj = 1
		printf "%s: %d messages injected in %.1f s (%.0f msg/s) while the sink was down: %d deferred (connection refused)\n", tag, m, inj / 1000, m / (inj / 1000), refused
		printf "%s: RSS idle %.1f MiB (%d fds); %d messages queued and deferred %.1f MiB (%d fds): %.2f KiB per queued message\n", tag, idle / 1024, fdi, m, base / 1024, fdb, (base - idle) / m
		printf "%s: flush (%.1f s to rewrite %d envelopes), then %d sessions held at end of DATA in %.1f s (%d connections at %s s, all in TLS at %s s, half held at %s s); %d established to the sink, sink peak %d connections, %d accepted, %d errors\n", tag, flush / 1000, m, held, ramp / 1000, n, t(tconn), t(ttls), t(half), est, peak, acc, errs
		printf "%s: during the ramp %s; load average %s on %d CPUs\n", tag, sched, load, ncpu
		printf "%s: at %d sessions: VmRSS %.1f MiB (anonymous %.1f MiB), VmHWM %.1f MiB, %d fds: %.1f KiB per session above the baseline (%.1f above idle)\n", tag, held, rss / 1024, anon / 1024, hwm / 1024, fd, (rss - base) / held, (rss - idle) / held
		printf "%s: released: %d/%d sent (%d tls=dane-verified, %d tls=none), sink answered %d, %d connections opened and %d messages over a reused one; after the sessions closed: VmRSS %.1f MiB, %d fds; danemx CPU %.1f s in all, %d threads; %d log lines about trouble (not counting the refused connections of step 1)\n", tag, sent, m, dane, none, recv, conn, reuse, after / 1024, fda, cpu / hz, thr, warn
		if (inuse != "" && inuse0 != "")
			printf "%s: malloc in use (malloc_stats): %.1f MiB at the baseline, %.1f MiB at %d sessions: %.1f KiB per session (RSS: %.1f)\n", tag, inuse0 / 1024, inuse / 1024, held, (inuse - inuse0) / held, (rss - base) / held
	}'
	printf 'sessions: %s %s concurrent %s sessions, danemx RSS %s MiB idle -> %s MiB with %s queued -> %s MiB, %s KiB per session, %s fds\n' \
		"$1" "$r_held" "$2" \
		"$(awk -v x="$r_idle" 'BEGIN { printf "%.1f", x / 1024 }')" \
		"$(awk -v x="$r_base" 'BEGIN { printf "%.1f", x / 1024 }')" "$M" \
		"$(awk -v x="$r_rss" 'BEGIN { printf "%.1f", x / 1024 }')" \
		"$(awk -v a="$r_rss" -v b="$r_base" -v n="$r_held" 'BEGIN { printf "%.1f", (n > 0) ? (a - b) / n : 0 }')" \
		"$r_fd"
	if [ -n "$why" ]; then
		echo "sessions: $1: FAILED: ${why#; }"
		return 1
	fi
}

echo "sessions: N=$N concurrent sessions wanted, $M messages (3N+50) of $MSGSIZE octets, world $NET/$MXNET, descriptors $nofile"
status=0
run dane hold.secure.test "$MXNET.77" 1
report dane DANE-verified || status=1
dane_rss=$r_rss dane_base=$r_base dane_held=$r_held
if [ "${BENCH_SESSIONS_PLAIN:-0}" = 1 ]; then
	run plain hold.insecure.test "$MXNET.78" 0
	report plain plaintext || status=1
	awk -v a="$dane_rss" -v b="$dane_base" -v n="$dane_held" -v pa="$r_rss" \
	    -v pb="$r_base" -v pn="$r_held" 'BEGIN {
		if (n < 1) n = 1
		if (pn < 1) pn = 1
		d = (a - b) / n; p = (pa - pb) / pn
		printf "sessions: per session %.1f KiB with DANE/TLS against %.1f KiB plaintext: TLS costs %.1f KiB (%.0f%%)\n", d, p, d - p, 100 * (d - p) / d
	}'
fi
if [ "${BENCH_SESSIONS_BIG:-1}" = 1 ]; then
	small=$MSGSIZE
	N=${BENCH_BIG_N:-200}
	M=$((3 * N + 50))
	MSGSIZE=${BENCH_BIG_MSG_SIZE:-1048576}
	echo "sessions: again with N=$N sessions and $M messages of $MSGSIZE octets"
	run dane-big hold.secure.test "$MXNET.77" 1
	report dane-big DANE-verified || status=1
	awk -v a="$dane_rss" -v b="$dane_base" -v n="$dane_held" -v ba="$r_rss" \
	    -v bb="$r_base" -v bn="$r_held" -v s="$small" -v big="$MSGSIZE" 'BEGIN {
		if (n < 1) n = 1
		if (bn < 1) bn = 1
		d = (a - b) / n; g = (ba - bb) / bn
		printf "sessions: per session %.1f KiB with %d-octet messages, %.1f KiB with %d-octet messages (%.2f of a message)\n", d, s, g, big, g * 1024 / big
	}'
fi
exit $status
