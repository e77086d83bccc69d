#!/bin/sh
# demo.sh BUILD_DIR - `make demo`: start a local DNSSEC world (signed zones
# under a private root, served by NSD on loopback; tests/world/world.sh),
# then show what `danemx dns` says about each kind of name. The world is
# stopped again when the demo ends.
#
# Needs root (NSD listens on port 53 of 127.0.55.1; WORLD_NET changes the
# 127.0.55 part) and the packages of `make deps`.
set -eu

BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
ABS_BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || ABS_BUILD=$BUILD
DANEMX=$ABS_BUILD/danemx
WORLD=$ABS_BUILD/demo-world
# not the address the tests use, so a test run and the demo can coexist
WORLD_NET=${WORLD_NET:-127.0.55}
export WORLD_NET

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: must run as root: the demo's DNS server (NSD) listens on" >&2
	echo "demo: port 53 of $WORLD_NET.1. Try: sudo make demo" >&2
	exit 1
fi
if [ ! -x "$DANEMX" ]; then
	echo "demo: no $BUILD/danemx; build it first with 'make build'" >&2
	exit 1
fi

stop_world() { sh "$SRC/tests/world/world.sh" stop "$WORLD" >/dev/null 2>&1 || true; }
trap stop_world EXIT
trap 'exit 130' INT TERM

echo "Starting the local world: DNSSEC-signed zones under a private root,"
echo "served by NSD on $WORLD_NET.1, in $WORLD ..."
sh "$SRC/tests/world/world.sh" start "$WORLD"
CONF=$WORLD/unbound.conf

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

cat <<EOF

To try more names (see tests/world/zones/*.zone), start the world again:
  sudo WORLD_NET=$WORLD_NET sh tests/world/world.sh start $WORLD
  $DANEMX -R $CONF dns NAME [TYPE]
  sudo sh tests/world/world.sh stop $WORLD
EOF
echo
echo "Stopping the local world."
