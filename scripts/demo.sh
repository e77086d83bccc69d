#!/bin/sh
# demo.sh BUILD_DIR - `make demo`: start a local DNSSEC world (signed zones
# under a private root, served by NSD on loopback, and Postfix MX hosts with
# STARTTLS and TLSA records; tests/world/world.sh), then show what
# `danemx dns` says about each kind of name, and `danemx check`, `probe` and
# `send` against the MX hosts, with their log lines; then run the relay,
# `danemx serve`, give it a message through `danemx sendmail` and two over
# SMTP, and show the queue and the relay's log: three delivered
# DANE-verified, one deferred by a TLSA mismatch. Last, a TLS report (RFC
# 8460): the relay counted its sessions, and `danemx tlsrpt send` POSTs the
# day's report to the receiving domain's HTTPS collector (nginx), whose
# copy is decoded and shown. The world is stopped and removed when the
# demo ends.
#
# Needs root (NSD listens on port 53 of 127.0.55.1, Postfix on port 25 of
# 127.0.56.N; WORLD_NET and WORLD_MX_NET change those) and the packages of
# `make deps`.
set -eu

BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
ABS_BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || ABS_BUILD=$BUILD
DANEMX=$ABS_BUILD/danemx
WORLD=$ABS_BUILD/demo-world
# not the addresses the tests use, so a test run and the demo can coexist
# (the tests' world may also hold the one IPv6 MX, [::1]:25)
WORLD_NET=${WORLD_NET:-127.0.55}
WORLD_MX_NET=${WORLD_MX_NET:-127.0.56}
WORLD_MX_ADDR6=''
export WORLD_NET WORLD_MX_NET WORLD_MX_ADDR6

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: must run as root: the demo's DNS server (NSD) listens on" >&2
	echo "demo: port 53 of $WORLD_NET.1, its MX hosts (Postfix) on port 25" >&2
	echo "demo: of $WORLD_MX_NET.N. Try: sudo make demo" >&2
	exit 1
fi
if [ ! -x "$DANEMX" ]; then
	echo "demo: no $BUILD/danemx; build it first with 'make build'" >&2
	exit 1
fi

stop_world() { sh "$SRC/tests/world/world.sh" clean "$WORLD" >/dev/null 2>&1 || true; }
trap stop_world EXIT
trap 'exit 130' INT TERM

echo "Starting the local world: DNSSEC-signed zones under a private root,"
echo "served by NSD on $WORLD_NET.1, and Postfix MX hosts on $WORLD_MX_NET.N:25,"
echo "in $WORLD ..."
sh "$SRC/tests/world/world.sh" start "$WORLD"
CONF=$WORLD/unbound.conf
MAILLOG=$WORLD/postfix/maillog
# WORLD_CA, WORLD_RPT_LOG, ...
# shellcheck disable=SC1091
. "$WORLD/world.env"

N=0
# show TEXT NAME [TYPE]: a heading, the command, and what danemx says
show() {
	N=$((N + 1))
	_text=$1
	shift
	echo
	echo "== $N. $_text"
	echo "\$ danemx -R $CONF dns $*"
	_rc=0
	"$DANEMX" -R "$CONF" dns "$@" 2>&1 || _rc=$?
	echo "(exit status $_rc)"
}

# run TEXT ARG...: a heading, the command, what danemx logs and prints
run() {
	N=$((N + 1))
	_text=$1
	shift
	echo
	echo "== $N. $_text"
	echo "\$ danemx -R $CONF $*"
	_rc=0
	"$DANEMX" -R "$CONF" --timeout 10 "$@" </dev/null 2>&1 || _rc=$?
	echo "(exit status $_rc)"
}

cat <<EOF

danemx validates DNSSEC itself (libunbound in-process). Here it trusts only
the private root key of the world ($WORLD/root.ds).
Exit status: 0 secure, 1 insecure, 2 bogus, 3 servfail, 4 timeout.
EOF

show "A secure MX RRset: signed from the root down, so DANE applies" \
    secure.test MX
show "A secure TLSA record for mx1's port 25: what its certificate must match" \
    _25._tcp.mx1.secure.test TLSA
show "An insecure name: insecure.test is unsigned and test. proves it has no DS,
   so DANE does not apply (opportunistic TLS only)" \
    insecure.test MX
show "A bogus name: the signature over www.badsig.test's A record was tampered
   with. A bogus answer is a failure: delivery defers, it never falls back" \
    www.badsig.test A
show "A secure NXDOMAIN: the name provably does not exist. That is an answer,
   not a failure" \
    nosuch.secure.test A
show "A CNAME that starts secure and ends insecure: the chain is only as
   secure as its weakest link, so the whole answer is insecure" \
    out.secure.test A

N=$((N + 1))
echo
echo "== $N. The same kind of lookup as JSON, for scripts (a 2-link secure CNAME chain)"
echo "\$ danemx -R $CONF --json dns alias2.secure.test A"
_rc=0
_json=$("$DANEMX" -R "$CONF" --json dns alias2.secure.test A) || _rc=$?
if command -v jq >/dev/null 2>&1; then
	printf '%s\n' "$_json" | jq .
else
	printf '%s\n' "$_json"
fi
echo "(exit status $_rc)"

# --- mail: check, probe and send against the world's Postfix MX hosts -------

cat <<EOF

Now mail. Each MX host of the world is an smtpd of one Postfix with its own
certificate; the TLSA records were computed from those certificates when
the world started (all the cases: tests/world/CASES.md). danemx looks up the
MX hosts with DNSSEC, then their addresses, then their TLSA records, and
after STARTTLS authenticates the server's certificate against them.
'check' exit status: 0 good, 2 DANE failure, 3 DNSSEC failure, 4 TLS failure.
EOF

run "check a DANE-EE domain: its MX host's key matches the 3 1 1 record" \
    check dane-ee.test
run "check a domain whose preferred MX does not match its TLSA record: that
   host fails (danemx never gives it mail), the second MX passes" \
    check dane-mismatch.test
run "probe a recipient the MX accepts: MAIL FROM, RCPT TO, QUIT over
   DANE-verified TLS; nothing is delivered" \
    probe --from demo@client.test --rcpt someone@dane-ee.test --helo client.test
run "probe a recipient the MX rejects (550 5.1.1 at RCPT)" \
    probe --from demo@client.test --rcpt reject-me@dane-ee.test --helo client.test

N=$((N + 1))
RCPT=demo-$$@dane-ee.test
echo
echo "== $N. send one message over DANE-verified TLS (the MX discards it)"
echo "\$ printf 'Subject: hello\\\\n\\\\nhello over DANE\\\\n' |"
echo "    danemx -R $CONF send --from demo@client.test --to $RCPT --helo client.test"
_rc=0
printf 'From: demo@client.test\nTo: %s\nSubject: hello\n\nhello over DANE\n' "$RCPT" |
    "$DANEMX" -R "$CONF" --timeout 10 send --from demo@client.test --to "$RCPT" \
    --helo client.test 2>&1 || _rc=$?
echo "(exit status $_rc)"
# the receiving side: which smtpd took it (bounded wait for the log)
_i=0
until grep -q "to=<$RCPT>.*status=sent" "$MAILLOG" 2>/dev/null || [ $_i -ge 50 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
_qid=$(sed -n "s/.*\]: \([0-9A-Za-z]*\): to=<$RCPT>.*/\1/p" "$MAILLOG" | head -n 1)
echo
echo "The receiving Postfix logged ($MAILLOG):"
if [ -n "$_qid" ]; then
	grep -F ": $_qid: " "$MAILLOG" | sed 's/^/  /'
else
	echo "  (nothing for <$RCPT>)"
fi

# --- the relay: danemx serve, sendmail and queue ------------------------------

# the world's real directory: the relay checks, as root, that no one but
# root can change any directory above its queue (a checkout in a user's
# home would not pass)
RELAY_DIR=$(cd "$WORLD" && pwd -P)/relay
Q=$RELAY_DIR/queue
RLOG=$RELAY_DIR/relay.log
RCONF=$RELAY_DIR/danemx.conf
RPORT=${DEMO_RELAY_PORT:-2525}
mkdir -p "$RELAY_DIR"
# An installed relay runs as its own user, danemx (make install creates
# it); the demo leaves no user behind, so its relay keeps root's uid.
cat >"$RCONF" <<EOF
# danemx.conf(5) of the demo's relay
listen = 127.0.0.1:$RPORT
queue_dir = $Q
state_dir = $RELAY_DIR/state
pid_file = $RELAY_DIR/danemx.pid
resolver_config = $CONF
helo_name = relay.client.test
user =
retry_min = 10m
# TLS reports (RFC 8460): count every session, report each day's results
ca_file = $WORLD_CA
tlsrpt = yes
organization_name = danemx demo
contact_info = postmaster@client.test
EOF
# dq ARGS: danemx queue of the demo's relay, shown as typed
dq() {
	echo "\$ danemx queue -c danemx.conf $*"
	"$DANEMX" queue -c "$RCONF" "$@" 2>&1 | sed 's/^/  /'
}
stop_relay() {
	[ -s "$RELAY_DIR/danemx.pid" ] &&
		kill "$(cat "$RELAY_DIR/danemx.pid")" 2>/dev/null
	stop_world
}
trap stop_relay EXIT
# wait_log PATTERN: until the relay's log has a line matching PATTERN (15 s)
wait_log() {
	_i=0
	until grep -q -- "$1" "$RLOG" 2>/dev/null || [ $_i -ge 150 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

cat <<EOF

Now the relay. 'danemx serve' accepts mail over SMTP from mynetworks (here
loopback), writes each message durably to its queue before it answers 250, and
delivers it as 'send' does, retrying what is deferred. 'danemx sendmail'
queues a message from the command line, 'danemx queue' shows the queue. All
three read the relay's configuration, $RCONF:
EOF
sed 's/^/  /' "$RCONF"

N=$((N + 1))
echo
echo "== $N. start the relay"
echo "\$ danemx serve -c danemx.conf --foreground 2>relay.log &"
# The relay counts TLS sessions under yesterday's date (a testing aid,
# DANEMX_TLSRPT_CLOCK), so that its report is due now, at the end.
DAY=$(date -u -d yesterday +%Y-%m-%d)
DANEMX_TLSRPT_CLOCK=${DAY}T12:00:00Z \
    "$DANEMX" serve -c "$RCONF" --foreground >"$RLOG" 2>&1 &
wait_log "relay started"
sed -n '1,/relay started/p' "$RLOG" | sed 's/^/  /'

N=$((N + 1))
SM_RCPT=demo-sendmail-$$@dane-ee.test
echo
echo "== $N. queue a message with danemx sendmail; the relay notices it within"
echo "   5 seconds and delivers it"
echo "\$ printf 'Subject: via sendmail\\\\n\\\\nhello\\\\n' |"
echo "    danemx sendmail -c danemx.conf -f demo@client.test $SM_RCPT"
_rc=0
SM_ID=$(printf 'From: demo@client.test\nSubject: via sendmail\n\nhello from sendmail\n' |
    "$DANEMX" sendmail -c "$RCONF" -f demo@client.test "$SM_RCPT" 2>&1) || _rc=$?
echo "$SM_ID"
echo "(exit status $_rc: the message is durable; sendmail printed its queue id)"
dq list
wait_log "to=<$SM_RCPT>.*status="
echo "The relay logged:"
grep -F "to=<$SM_RCPT>" "$RLOG" | sed 's/^/  /'

N=$((N + 1))
SMTP_RCPT=demo-smtp-$$@dane-ee.test
BAD_RCPT=demo-deferred-$$@only.dane-mismatch.test
RPT_RCPT=demo-report-$$@web.tlsrpt.test
echo
echo "== $N. three messages over SMTP: one to $SMTP_RCPT,"
echo "   one to $BAD_RCPT, whose only MX fails its TLSA record,"
echo "   one to $RPT_RCPT, whose first MX fails its TLSA"
echo "   record and whose second passes (web.tlsrpt.test asks for TLS reports)"
/usr/bin/python3 - "$RPORT" "$SMTP_RCPT" "$BAD_RCPT" "$RPT_RCPT" <<'PYEOF'
import socket, sys
port, good, bad, rpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode("latin-1").rstrip("\r\n")
        print("  S: " + line)
        if len(line) < 4 or line[3] != "-":
            return
def cmd(line):
    print("  C: " + line)
    s.sendall((line + "\r\n").encode())
    reply()
reply()
cmd("EHLO client.test")
for rcpt, subj in ((good, "over SMTP"), (bad, "to a broken DANE destination"),
                   (rpt, "to a domain that wants TLS reports")):
    cmd("MAIL FROM:<demo@client.test>")
    cmd("RCPT TO:<%s>" % rcpt)
    cmd("DATA")
    lines = ["From: demo@client.test", "To: " + rcpt, "Subject: " + subj, "", "hello", "."]
    for l in lines:
        print("  C: " + l)
    s.sendall(("\r\n".join(lines) + "\r\n").encode())
    reply()
cmd("QUIT")
PYEOF
wait_log "to=<$SMTP_RCPT>.*status=sent"
wait_log "to=<$BAD_RCPT>.*status=deferred"
wait_log "to=<$RPT_RCPT>.*status=sent"
SMTP_ID=$(sed -n "s/^\([0-9a-f]*\): to=<$SMTP_RCPT>.*/\1/p" "$RLOG" | head -n 1)
BAD_ID=$(sed -n "s/^\([0-9a-f]*\): to=<$BAD_RCPT>.*/\1/p" "$RLOG" | head -n 1)
RPT_ID=$(sed -n "s/^\([0-9a-f]*\): to=<$RPT_RCPT>.*/\1/p" "$RLOG" | head -n 1)

N=$((N + 1))
echo
echo "== $N. the queue now: the messages to dane-ee.test and web.tlsrpt.test were"
echo "   delivered and are gone; the one to only.dane-mismatch.test waits, with"
echo "   its reason, until its MX is fixed"
dq list
[ -z "$BAD_ID" ] || dq show "$BAD_ID"

N=$((N + 1))
echo
echo "== $N. the relay's log lines for the four queue ids (grep ID relay.log)"
for _id in $SM_ID $SMTP_ID $BAD_ID $RPT_ID; do
	grep "^$_id: " "$RLOG" | sed 's/^/  /'
done
echo
echo "The receiving Postfix logged ($MAILLOG):"
for _r in "$SM_RCPT" "$SMTP_RCPT"; do
	_q=$(sed -n "s/.*\]: \([0-9A-Za-z]*\): to=<$_r>.*/\1/p" "$MAILLOG" | head -n 1)
	[ -z "$_q" ] || grep -F ": $_q: " "$MAILLOG" | sed 's/^/  /'
done

N=$((N + 1))
echo
echo "== $N. TLS reports (RFC 8460). The relay counted every TLS session under"
echo "   the recipient domain and the policy that applied. Once a day, after"
echo "   00:00 UTC, it reports the day before to each domain whose _smtp._tls"
echo "   TXT record asks; 'danemx tlsrpt send' does it now:"
# the store's writer flushes counts every 2 seconds
sleep 3
echo "\$ danemx tlsrpt list -c danemx.conf"
"$DANEMX" tlsrpt list -c "$RCONF" 2>&1 | sed 's/^/  /'
echo "\$ danemx -R $CONF dns _smtp._tls.web.tlsrpt.test TXT"
"$DANEMX" -R "$CONF" dns _smtp._tls.web.tlsrpt.test TXT 2>&1 | sed 's/^/  /'
echo "\$ danemx tlsrpt send -c danemx.conf --domain web.tlsrpt.test"
_rc=0
"$DANEMX" tlsrpt send -c "$RCONF" --domain web.tlsrpt.test 2>&1 |
    sed 's/^/  /' || _rc=$?
echo "(exit status $_rc)"
echo
echo "The collector (nginx at https://collector.tlsrpt.test/rpt/ok) logged:"
sed 's/^/  /' "$WORLD_RPT_LOG"
_body=$(awk '/POST \/rpt\/ok/ { f = $NF } END { print f }' "$WORLD_RPT_LOG")
if [ -n "$_body" ] && [ -f "$_body" ]; then
	echo "and the report it received, gunzipped:"
	gzip -dc <"$_body" | /usr/bin/python3 -m json.tool | sed 's/^/  /'
fi

cat <<EOF

To try more (tests/world/CASES.md lists every domain), start the world again:
  sudo WORLD_NET=$WORLD_NET WORLD_MX_NET=$WORLD_MX_NET WORLD_MX_ADDR6= sh tests/world/world.sh start '$WORLD'
  '$DANEMX' -R '$CONF' dns NAME [TYPE]
  '$DANEMX' -R '$CONF' check DOMAIN...
  sudo sh tests/world/world.sh clean '$WORLD'
EOF
echo
echo "Stopping the local world."
