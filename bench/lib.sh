# lib.sh - shared by the benchmarks (sourced, POSIX sh; run.sh skips it).
#
# start_world_unbound WHO: a validating unbound daemon for the local world,
# on $NET.53, with the world's root hints and trust anchor (the ones
# danemx reads with -R), so that Postfix can get DNSSEC from resolv.conf.
# Needs $work (a scratch directory) and $world (a started world). Sets
# ub_addr and ub_pid (the caller stops it), writes $work/resolv.conf and
# exits the benchmark if unbound does not come up.
start_world_unbound() {
	ub_addr=$NET.53
	cat >"$work/unbound.conf" <<UBEOF
server:
	interface: $ub_addr
	port: 53
	do-ip6: no
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$work"
	pidfile: "$work/unbound.pid"
	logfile: "$work/unbound.log"
	use-syslog: no
	num-threads: 1
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	root-hints: "$world/root.hints"
	trust-anchor-file: "$world/root.ds"
	trust-anchor-signaling: no
	local-zone: "test." nodefault
	module-config: "validator iterator"
	val-log-level: 2
remote-control:
	control-enable: yes
	control-interface: "$work/unbound.ctl"
	control-use-cert: no
UBEOF
	unbound -d -c "$work/unbound.conf" </dev/null >>"$work/unbound.log" 2>&1 &
	ub_pid=$!
	_i=0
	until unbound-control -c "$work/unbound.conf" status >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 50 ] || ! kill -0 "$ub_pid" 2>/dev/null; then
			echo "$1: unbound did not start on $ub_addr:53:" >&2
			tail -n 5 "$work/unbound.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	printf 'nameserver %s\noptions trust-ad\n' "$ub_addr" >"$work/resolv.conf"
}
