# mxlib.sh - helpers for the tests that deliver to the world's MX hosts
# (tests/integration/dane_delivery_*.sh). Source it after tests/lib.sh.
#
# Each case is a shell function case_NAME, run by run_case NAME in a
# subshell: its first failed assertion ends that case only, so one danemx
# bug does not hide the others; cases_done reports and sets the exit code.
# Recipients carry the case name and this run's id ($$), so log lines of
# this run can be told from the runs before it and from parallel tests.

: "${DANEMX_WORLD:?DANEMX_WORLD must name a started world}"
[ -f "$DANEMX_WORLD/world.env" ] ||
	fail "no $DANEMX_WORLD/world.env: is the world started (world.sh start)?"
# shellcheck disable=SC1091
. "$DANEMX_WORLD/world.env"
CONF=$WORLD_UNBOUND_CONF
# shellcheck disable=SC2034
NET=$WORLD_MX_NET
[ -n "${WORLD_MAILLOG:-}" ] && [ -f "$WORLD_MAILLOG" ] ||
	fail "the world at $DANEMX_WORLD has no MX hosts (old world.sh?)"
RUN=$$
FROM=a@client.test
printf 'From: a@client.test\nTo: someone\nSubject: danemx test\n\nhello\n.leading dot\n' \
    >"$T_TMP/msg"

# TLSA data the world computed from its certificates (world.sh subst.sed),
# for the tests that source this file
tlsa_data() {
	sed -n "s/^s\/@$1@\/\([^/]*\)\/g\$/\1/p" "$WORLD_DIR/state/subst.sed"
}
# shellcheck disable=SC2034
{
	EE_311=$(tlsa_data TLSA_EE_311)
	EXPIRED_311=$(tlsa_data TLSA_EXPIRED_311)
	CA_201=$(tlsa_data TLSA_CA_201)
	CA_210=$(tlsa_data TLSA_CA_210)
}
[ -n "$EE_311" ] && [ -n "$CA_210" ] || fail "no TLSA data in $WORLD_DIR/state/subst.sed"

# rcpt CASE DOMAIN: a recipient address unique to this run
rcpt() { echo "$1-$RUN@$2"; }

# dmx ARG...: danemx with the world's resolver; sets RC OUT ERR
dmx() { run_cmd "$DANEMX" -R "$CONF" --timeout 10 "$@"; }

# send RCPT [OPTION...]: one delivery of the test message, JSON on OUT
send() {
	_to=$1
	shift
	"$DANEMX" -R "$CONF" --timeout 10 --json send --from "$FROM" --to "$_to" \
	    --helo client.test "$@" <"$T_TMP/msg" >"$T_TMP/out" 2>"$T_TMP/err"
	RC=$?
	OUT=$(cat "$T_TMP/out")
	ERR=$(cat "$T_TMP/err")
}

# probe RCPT... : a recipient probe (JSON), one --rcpt per argument
probe() {
	_args=''
	for _r; do _args="$_args --rcpt $_r"; done
	# shellcheck disable=SC2086
	dmx --json probe --from "$FROM" --helo client.test $_args
}

# jqo FILTER: FILTER applied to OUT, compact, keys sorted
jqo() { printf '%s\n' "$OUT" | jq -cS "$1" 2>&1; }

# expect_json WHAT FILTER WANT_JSON
expect_json() {
	expect_eq "$1" "$(jqo "$2")" "$(printf '%s\n' "$3" | jq -cS . 2>&1)"
}

# expect_result WHAT RC OUTCOME TLS MX_USED RESULT_TYPE: the exit code and
# the summary fields of the JSON result (null: write null)
expect_result() {
	expect_eq "$1: exit code (stderr: $ERR)" "$RC" "$2"
	expect_eq "$1: one JSON object" \
	    "$(printf '%s\n' "$OUT" | jq -s 'map(type)' -c 2>&1)" '["object"]'
	expect_json "$1: outcome, tls, mx_used, result_type" \
	    '[.outcome, .tls, .mx_used, .result_type]' "[$3, $4, $5, $6]"
}

# expect_log WHAT LINE: LINE is exactly one of the lines on stderr
expect_log() {
	printf '%s\n' "$ERR" | grep -Fxq -- "$2" ||
		fail "$1: no log line '$2' in:
$ERR"
	pass
}

# expect_log_match WHAT REGEX: a stderr line matches REGEX (grep -E)
expect_log_match() {
	printf '%s\n' "$ERR" | grep -Eq -- "$2" ||
		fail "$1: no log line matching /$2/ in:
$ERR"
	pass
}

# expect_no_log WHAT REGEX: no stderr line matches REGEX
expect_no_log() {
	_l=$(printf '%s\n' "$ERR" | grep -E -- "$2")
	[ -z "$_l" ] || fail "$1: unexpected log line: $_l"
	pass
}

# expect_received WHAT SYSLOG_NAME RCPT: Postfix took the message for RCPT
# on the smtpd logging as SYSLOG_NAME, and discarded it (waits up to 10 s)
expect_received() {
	_i=0
	while :; do
		_qid=$(grep -F " to=<$3>, " "$WORLD_MAILLOG" | grep -F 'status=sent' |
		    sed -n 's/.*\]: \([0-9A-Za-z]*\): to=<.*/\1/p' | head -n 1)
		[ -n "$_qid" ] && break
		_i=$((_i + 1))
		[ $_i -lt 100 ] ||
			fail "$1: no 'to=<$3> ... status=sent' in $WORLD_MAILLOG after 10 s"
		sleep 0.1
	done
	grep -Eq " $2/smtpd\[[0-9]+\]: $_qid: client=" "$WORLD_MAILLOG" ||
		fail "$1: <$3> (queue id $_qid) was not received by $2: $(grep -F "$_qid" "$WORLD_MAILLOG")"
	pass
}

# expect_not_received WHAT RCPT: no Postfix smtpd and no faultsmtpd took
# mail for RCPT (after a second for the logs to settle)
expect_not_received() {
	sleep 1
	_l=$(cat "$WORLD_MAILLOG" "$WORLD_DIR"/fault-*.mail 2>/dev/null | grep -F "<$2>")
	[ -z "$_l" ] || fail "$1: mail for <$2> reached a server: $_l"
	pass
}

# expect_rejected_logged WHAT SYSLOG_NAME RCPT: that smtpd refused RCPT
expect_rejected_logged() {
	_i=0
	until grep -E " $2/smtpd\[[0-9]+\]: [0-9A-Za-z]+: reject: RCPT from " "$WORLD_MAILLOG" |
	    grep -Fq " to=<$3> "; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] || fail "$1: $2 did not log the rejection of <$3>"
		sleep 0.1
	done
	pass
}

# connects SYSLOG_NAME: how many sessions that smtpd has logged so far
connects() {
	grep -Ec " $1/smtpd\[[0-9]+\]: connect from " "$WORLD_MAILLOG"
}

# expect_no_connect WHAT SYSLOG_NAME BEFORE: still BEFORE sessions (after
# half a second for the log to settle): the host was never contacted
expect_no_connect() {
	sleep 0.5
	expect_eq "$1: sessions at $2" "$(connects "$2")" "$3"
}

# run_case NAME: run case_NAME in a subshell; record pass or fail
CASES_RUN=0 CASES_FAILED=''
run_case() {
	CASES_RUN=$((CASES_RUN + 1))
	if ( T_PASS=0; "case_$1"; echo "$T_PASS" >"$T_TMP/pass.$1" ); then
		T_PASS=$((T_PASS + $(cat "$T_TMP/pass.$1")))
	else
		CASES_FAILED="$CASES_FAILED $1"
	fi
}

# cases_done: the summary; exit 1 if a case failed
cases_done() {
	if [ -n "$CASES_FAILED" ]; then
		echo "$T_NAME: $T_PASS assertions passed; failed cases:$CASES_FAILED" >&2
		exit 1
	fi
	echo "$T_NAME: $CASES_RUN cases, $T_PASS assertions passed, 0 failed"
	exit 0
}
