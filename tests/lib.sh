# lib.sh - shared helpers for integration tests (sourced, POSIX sh).
#
# Each test asserts one specific outcome with expect_*; on the first
# failure it prints got/want and exits 1. DANEMX is the binary under
# test; DANEMX_WORLD is the running local world (tests/world/world.sh).
set -u
: "${DANEMX:?DANEMX must name the danemx binary}"
: "${DANEMX_SRCDIR:?}"
# TCP ports: each test takes its own range below the kernel's ephemeral
# ports (32768+), offset by its pid: serve_sts 3000-3499, serve_privs
# 4000-4499, serve_stream
# 5000-5499 (and port 25 on 127.0.71.1-40), serve_outbound 5500-5999 (and
# port 25 on 127.0.72.1, 127.0.73.1-2), smtpd_smuggling 7000-7999,
# smtpd_abuse 8000-8999, serve_relay 10000-13999, tlsa_connect
# 14000-15999, serve_dane 16000-16999, smtpd_limits 17000-17999,
# serve_commit 18000-18999, serve_reuse 19000-19999, smtp_faults
# 20000-31999, tls_required 1000-1499 (and port 25 on 127.0.74.1),
# tlsrpt_record 2000-2999, tlsrpt_send 6000-6499, transport 6500-6999,
# bypass_heal 3500-3999, serve_domains 1500-1999, serve_metrics
# 9000-9999. Keep new tests out of these ranges. (check_scan takes none: it
# talks to the world's MX hosts on port 25. sts_fetch takes none:
# it uses the world's HTTPS servers on port 443.)
T_NAME=$(basename "$0" .sh)
T_PASS=0
T_TMP=$(mktemp -d "/tmp/danemx-$T_NAME.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT

fail() { echo "FAIL $T_NAME: $*" >&2; exit 1; }
pass() { T_PASS=$((T_PASS + 1)); }

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	pass
}

# expect_match WHAT TEXT PATTERN (grep -E)
expect_match() {
	printf '%s\n' "$2" | grep -Eq -- "$3" || fail "$1: '$2' does not match /$3/"
	pass
}

# run_cmd: run "$@", set RC, OUT (stdout) and ERR (stderr)
run_cmd() {
	"$@" >"$T_TMP/out" 2>"$T_TMP/err"
	RC=$?
	OUT=$(cat "$T_TMP/out")
	ERR=$(cat "$T_TMP/err")
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout
wait_for() {
	_n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.1
	done
}

# test_user NAME: a system user (and group) of its own for a test that
# drops privileges, made if absent (tests must not share nobody's)
test_user() {
	_n=50
	while ! id -u "$1" >/dev/null 2>&1; do
		useradd --system --user-group --no-create-home \
			--home-dir /nonexistent --shell /usr/sbin/nologin "$1" \
			>/dev/null 2>&1 && return 0
		_n=$((_n - 1))	# another test may hold the lock of /etc/passwd
		[ $_n -gt 0 ] || return 1
		sleep 0.1
	done
}

done_ok() { echo "$T_NAME: $T_PASS passed, 0 failed"; exit 0; }
