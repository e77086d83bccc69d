#!/bin/sh
# world.sh - the "local world": DNSSEC-signed zones under a private root,
# served by a real NSD on loopback, and an unbound.conf that makes
# danemx's in-process libunbound (danemx -R FILE) resolve and validate them.
#
#   sh tests/world/world.sh start DIR      build DIR from scratch and start it
#   sh tests/world/world.sh stop DIR       stop it (succeeds if not running)
#   sh tests/world/world.sh clean DIR      stop it and remove its files
#   sh tests/world/world.sh add DIR ZONE [FILE]
#                                          append records to ZONE, re-sign it,
#                                          reload NSD and wait until served
#   sh tests/world/world.sh set DIR ZONE [FILE]
#                                          the same, but replace the records
#                                          added before (empty FILE: remove)
#
# Where the files live. Postfix and NSD open files as their own users
# (postfix, nsd), who may not walk into the checkout (a home directory of
# mode 0700, /root), so DIR is a symbolic link to a fresh directory of mode
# 0755 under WORLD_STATE_ROOT (default /tmp), made with mktemp. "start"
# replaces an earlier world of DIR (stopping it and removing its directory);
# every path the services and world.env are given is the real one, so it
# has no spaces either, wherever the checkout is.
#
# Runs as root (NSD binds port 53, Postfix port 25). WORLD_NET (default
# 127.0.53) picks the DNS addresses: WORLD_NET.1 is NSD (every zone), .2 has
# nothing listening (down.test), .3 is a server that never answers
# (slow.test, blackhole.py). lame.test is delegated to a name server name
# that does not exist.
#
# Mail: "start" also makes a private test CA and server certificates, and
# starts ONE Postfix (DIR/postfix, log DIR/postfix/maillog) with one smtpd
# per MX host on WORLD_MX_NET.N:25 (default 127.0.25, N >= 10) and [::1]:25,
# plus faultsmtpd.py servers; the DANE test domains (dane-ee.test, ...) point
# at them, with TLSA records computed from those certificates. See smtp.sh
# and the table in CASES.md. "stop" stops Postfix and those servers too.
#
# HTTPS: "start" also runs nginx on WORLD_MX_NET.40:443 and faulthttps.py
# on .41-.48, the MTA-STS policy hosts of the sts.test domains (https.sh).
#
# Layout. tests/world/zones.conf lists the zones and how each is signed or
# broken (signed, unsigned, bogus-ds, badsig, expired); tests/world/zones/
# holds one template per zone. Templates use @SERIAL@, @NS_ADDR@,
# @DOWN_ADDR@, @BLACKHOLE_ADDR@, and from smtp.sh @MX_NET@, @MX_ADDR6@ and
# @TLSA_*@ (TLSA data of the generated certificates; records added with
# "add" may use them too). "start" creates keys (ECDSAP256SHA256,
# a KSK and a ZSK per signed zone), signs the zones deepest first and adds
# each child's DS to its parent, up to the root; the root KSK's DS is the
# trust anchor. To add a zone: write zones/NAME.zone, add a line to
# zones.conf, and delegate it (NS + glue) in the parent's template.
#
# Adding records from a test (e.g. a TLSA made from a certificate made at
# test time): write them in zone-file syntax, names relative to the zone or
# absolute with a trailing dot, and run
#
#   sh "$DANEMX_SRCDIR/tests/world/world.sh" add "$DANEMX_WORLD" secure.test <<EOF
#   mx3            A     127.0.25.3
#   _25._tcp.mx3   TLSA  3 1 1 $digest
#   EOF
#
# The zone keeps its keys (the DS in the parent does not change) and its
# brokenness (badsig/expired stay broken). "add" returns once NSD serves the
# new serial. Records added by different tests to the same zone accumulate,
# so give each test its own names. Files in DIR after start:
#   unbound.conf  for danemx -R / unbound-host -C
#   world.env     shell variables (addresses, names) for tests to source
#   root.ds       the trust anchor;  root.hints  the private root server
#   nsd.conf, nsd.log, nsd.pid, zones/*.signed, keys/, extra/ (added records)
#   pki/ (CA, certificates, keys), postfix/ (main.cf, master.cf, queue/,
#   maillog), fault-N.{pid,log,mail} (faultsmtpd.py servers), https/
#   (nginx.conf, access.log, www/, fault.log: the MTA-STS policy hosts)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/world/smtp.sh
. "$HERE/smtp.sh"
# shellcheck source=tests/world/https.sh
. "$HERE/https.sh"
ZONES_CONF=$HERE/zones.conf
MARKER=.danemx-world
ALG=ECDSAP256SHA256

die() { echo "world: $*" >&2; exit 1; }
say() { echo "world: $*"; }

usage() {
	echo "usage: world.sh start|stop|clean DIR" >&2
	echo "       world.sh add|set DIR ZONE [FILE]" >&2
	exit 64
}

set_addrs() {
	WORLD_NET=${WORLD_NET:-127.0.53}
	NS_ADDR=$WORLD_NET.1
	DOWN_ADDR=$WORLD_NET.2
	BLACKHOLE_ADDR=$WORLD_NET.3
	set_mx_addrs
	set_https_addrs
}

# zone_file ZONE: the base file name for ZONE ("." is "root")
zone_file() { if [ "$1" = . ]; then echo root; else echo "$1"; fi; }
# fqdn ZONE: ZONE with its trailing dot
fqdn() { if [ "$1" = . ]; then echo .; else echo "$1."; fi; }
# zone_names ZONE: set _zf (zone_file) and _fq (fqdn) without a subshell
zone_names() { if [ "$1" = . ]; then _zf=root _fq=.; else _zf=$1 _fq=$1.; fi; }

# manifest: "DEPTH ZONE MODE ARG..." for each zone, deepest first (read
# once per run into DIR/state/manifest when that directory exists)
manifest() {
	if [ -s "${DIR:-/nonexistent}/state/manifest" ]; then
		cat "$DIR/state/manifest"
		return
	fi
	[ -f "$ZONES_CONF" ] || die "missing $ZONES_CONF"
	awk '!/^[ \t]*(#|$)/ {
		d = ($1 == ".") ? 0 : split($1, l, ".")
		print d, $0
	}' "$ZONES_CONF" | sort -s -k1,1nr
}

# pid_alive PIDFILE WORD: the pid in PIDFILE runs a command containing WORD
pid_alive() {
	[ -f "$1" ] || return 1
	_p=$(tr -d ' \t\n' <"$1" 2>/dev/null) || return 1
	case $_p in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$_p/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q -- "$2"
}

# running PID|-PGID: that process (or a member of that process group) is
# alive; zombies do not count (an init that is slow to reap them is common
# in containers)
running() {
	case $1 in
	-*) ps -e -o pgid=,stat= 2>/dev/null |
		awk -v g="${1#-}" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }' ;;
	*) ps -o stat= -p "$1" 2>/dev/null | grep -q '^[^Z]' ;;
	esac
}

# kill_pidfile PIDFILE WORD: stop that process (and its process group, if
# it leads one, as NSD does), bounded wait
kill_pidfile() {
	if pid_alive "$1" "$2"; then
		_p=$(tr -d ' \t\n' <"$1")
		_t=$_p
		[ "$(ps -o pgid= -p "$_p" 2>/dev/null | tr -d ' ')" = "$_p" ] &&
			_t=-$_p
		kill -TERM "$_t" 2>/dev/null || true
		_i=0
		while running "$_t" && [ $_i -lt 40 ]; do
			sleep 0.05
			_i=$((_i + 1))
		done
		if running "$_t"; then
			kill -KILL "$_t" 2>/dev/null || true
			sleep 0.2
		fi
	fi
	rm -f "$1"
}

do_stop() {
	stop_https
	stop_smtp
	kill_pidfile "$DIR/nsd.pid" "$DIR/nsd.conf"
	kill_pidfile "$DIR/blackhole.pid" blackhole
}

# keygen ZONE FLAGS NAME: make a key in DIR/keys, remember its base as NAME
# (run in DIR/keys)
keygen() {
	zone_names "$1"
	_base=$(ldns-keygen -a $ALG ${2:+"$2"} "$_fq") ||
		die "ldns-keygen failed for $1"
	echo "$DIR/keys/$_base" >"$DIR/keys/$_zf.$3"
}

# next_serial ZONE: bump the SOA serial of ZONE, set _serial
next_serial() {
	zone_names "$1"
	_f=$DIR/state/$_zf.serial
	_serial=1
	if [ -f "$_f" ]; then
		read -r _serial <"$_f"
		_serial=$((_serial + 1))
	fi
	echo "$_serial" >"$_f"
}

# child_ds ZONE MODE: the DS records ZONE's parent publishes for it
child_ds() {
	zone_names "$1"
	case $2 in
	unsigned) return ;;
	bogus-ds) read -r _key <"$DIR/keys/$_zf.decoy" ;;
	*) read -r _key <"$DIR/keys/$_zf.ksk" ;;
	esac
	ldns-key2ds -n -2 "$_key.key"
}

# sign_zone ZONE MODE [ARG...]: build DIR/zones/FILE.signed, the file NSD serves
sign_zone() {
	_zone=$1 _mode=$2
	shift 2
	next_serial "$_zone"
	zone_names "$_zone"
	_tmpl=$HERE/zones/$_zf.zone
	[ -f "$_tmpl" ] || die "zone $_zone: missing template $_tmpl"
	_unsigned=$DIR/zones/$_zf.unsigned
	_signed=$DIR/zones/$_zf.signed
	{
		sed -e "s/@SERIAL@/$_serial/" -e "s/@NS_ADDR@/$NS_ADDR/g" \
		    -e "s/@DOWN_ADDR@/$DOWN_ADDR/g" \
		    -e "s/@BLACKHOLE_ADDR@/$BLACKHOLE_ADDR/g" \
		    -f "$DIR/state/subst.sed" "$_tmpl"
		if [ -s "$DIR/extra/$_zf.zone" ]; then
			echo "; added with world.sh add/set"
			echo "\$ORIGIN $_fq"
			sed -f "$DIR/state/subst.sed" "$DIR/extra/$_zf.zone"
		fi
		manifest | awk -v p="$_zone" '$2 != "." {
			i = index($2, ".")
			if ((i ? substr($2, i + 1) : ".") == p) print $2, $3
		}' | while read -r _child _m; do
			# (a subshell: child_ds sets _zf and _fq)
			echo "; DS of $_child ($_m)"
			child_ds "$_child" "$_m"
		done
	} >"$_unsigned"

	_ksk='' _zsk=''
	if [ "$_mode" != unsigned ]; then
		read -r _ksk <"$DIR/keys/$_zf.ksk"
		read -r _zsk <"$DIR/keys/$_zf.zsk"
	fi
	case $_mode in
	signed | bogus-ds | badsig)
		ldns-signzone -o "$_fq" -f "$_signed.tmp" \
		    "$_unsigned" "$_ksk" "$_zsk" >&2 ;;
	expired)
		ldns-signzone -i 20200101000000 -e 20200201000000 \
		    -o "$_fq" -f "$_signed.tmp" \
		    "$_unsigned" "$_ksk" "$_zsk" >&2 ;;
	unsigned)
		cp "$_unsigned" "$_signed.tmp" ;;
	*)
		die "zone $_zone: unknown mode '$_mode' in zones.conf" ;;
	esac || die "zone $_zone: ldns-signzone failed"

	if [ "$_mode" = badsig ]; then
		# Corrupt the signature of the RRSIG over each "OWNER TYPE":
		# change the first base64 character, so it no longer verifies.
		[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] ||
			die "zone $_zone: badsig needs 'OWNER TYPE [OWNER TYPE...]'"
		while [ $# -ge 2 ]; do
			awk -v o="$1" -v t="$2" '
				$1 == o && $4 == "RRSIG" && $5 == t {
					c = substr($NF, 1, 1)
					$NF = (c == "A" ? "B" : "A") substr($NF, 2)
					n++
				}
				{ print }
				END { exit n == 1 ? 0 : 1 }' "$_signed.tmp" >"$_signed.bad" ||
				die "zone $_zone: no single RRSIG over '$1 $2' to corrupt"
			mv "$_signed.bad" "$_signed.tmp"
			shift 2
		done
	fi
	mv "$_signed.tmp" "$_signed"
	echo "$_serial"
}

# soa_serial ZONE: the serial NSD serves for ZONE (empty if none)
soa_serial() {
	drill -Q "$(fqdn "$1")" SOA "@$NS_ADDR" 2>/dev/null |
		awk 'NF >= 7 && $3 ~ /^[0-9]+$/ { print $3; exit }'
}

write_nsd_conf() {
	cat >"$DIR/nsd.conf" <<EOF
# nsd.conf - written by tests/world/world.sh; runs as root, no chroot,
# everything inside $DIR.
server:
	ip-address: $NS_ADDR
	port: 53
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "$DIR/zones"
	database: ""
	pidfile: "$DIR/nsd.pid"
	logfile: "$DIR/nsd.log"
	zonelistfile: "$DIR/state/zone.list"
	xfrdfile: "$DIR/state/xfrd.state"
	xfrdir: "$DIR/state"
	server-count: 1
	verbosity: 1
	hide-version: yes
	refuse-any: yes

remote-control:
	control-enable: no
EOF
	manifest | while read -r _d _zone _m _rest; do
		zone_names "$_zone"
		printf '\nzone:\n\tname: "%s"\n\tzonefile: "%s.signed"\n' \
		    "$_fq" "$_zf"
	done >>"$DIR/nsd.conf"
}

write_unbound_conf() {
	ldns-key2ds -n -2 "$(cat "$DIR/keys/root.ksk").key" >"$DIR/root.ds"
	cat >"$DIR/root.hints" <<EOF
; root hints of the private root (tests/world)
.			3600000	IN	NS	a.root-servers.test.
a.root-servers.test.	3600000	IN	A	$NS_ADDR
EOF
	cat >"$DIR/unbound.conf" <<EOF
# unbound.conf(5) for libunbound (danemx -R, unbound-host -C): resolve and
# validate under the private root of the local world (tests/world/world.sh).
server:
	# our name servers live on loopback
	do-not-query-localhost: no
	# the private root server, and its KSK as the only trust anchor
	root-hints: "$DIR/root.hints"
	trust-anchor-file: "$DIR/root.ds"
	# test. is a locally served "nothing here" zone by default (RFC 6761)
	local-zone: "test." nodefault
	module-config: "validator iterator"
	# say why an answer is bogus
	val-log-level: 2
	# every name server of the world has only an IPv4 address
	do-ip6: no
EOF
}

write_env() {
	cat >"$DIR/world.env" <<EOF
# world.env - written by tests/world/world.sh start; source it.
WORLD_DIR='$DIR'
WORLD_NET='$WORLD_NET'
WORLD_NS_ADDR='$NS_ADDR'
WORLD_DOWN_ADDR='$DOWN_ADDR'
WORLD_BLACKHOLE_ADDR='$BLACKHOLE_ADDR'
WORLD_UNBOUND_CONF='$DIR/unbound.conf'
WORLD_TRUST_ANCHOR='$DIR/root.ds'
WORLD_WORLD_SH='$HERE/world.sh'
# secure.test: signed; MX 10 mx1, 20 mx2; TLSA at _25._tcp.mx1
WORLD_SECURE_DOMAIN=secure.test
WORLD_MX1=mx1.secure.test
WORLD_MX1_ADDR=127.0.25.1
WORLD_MX1_ADDR6=::1
WORLD_MX2=mx2.secure.test
WORLD_MX2_ADDR=127.0.25.2
# insecure.test: unsigned, no DS; MX 10 host
WORLD_INSECURE_DOMAIN=insecure.test
WORLD_INSECURE_MX=host.insecure.test
WORLD_INSECURE_MX_ADDR=127.0.25.3
# bogus: bogus-ds.test (wrong DS), www.badsig.test (bad RRSIG), expired.test
WORLD_BOGUS_DS_DOMAIN=bogus-ds.test
WORLD_BADSIG_NAME=www.badsig.test
WORLD_EXPIRED_DOMAIN=expired.test
# unreachable: down.test (nothing listens), slow.test (never answers)
WORLD_DOWN_DOMAIN=down.test
WORLD_SLOW_DOMAIN=slow.test
EOF
	write_smtp_env >>"$DIR/world.env"
	write_https_env >>"$DIR/world.env"
}

# port_user ADDR: the ss lines of sockets already on ADDR:53 (or wildcard)
port_user() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hlnup 2>/dev/null | awk -v a="$1:53" \
		'$4 == a || $4 == "0.0.0.0:53" || $4 == "*:53" { print }'
	ss -Hlntp 2>/dev/null | awk -v a="$1:53" \
		'$4 == a || $4 == "0.0.0.0:53" || $4 == "*:53" { print }'
}

start_blackhole() {
	_py=
	for _c in /usr/bin/python3 python3; do
		if command -v "$_c" >/dev/null 2>&1; then _py=$_c; break; fi
	done
	if [ -z "$_py" ]; then
		say "warning: no python3, slow.test will not time out"
		return 0
	fi
	"$_py" "$HERE/blackhole.py" "$BLACKHOLE_ADDR" 53 "$DIR/blackhole.pid" \
	    </dev/null >>"$DIR/blackhole.log" 2>&1 ||
		die "cannot start the silent server on $BLACKHOLE_ADDR:53: $(cat "$DIR/blackhole.log")"
}

do_start() {
	[ "$(id -u)" -eq 0 ] ||
		die "must run as root (NSD listens on port 53 of $NS_ADDR)"
	for _t in nsd ldns-keygen ldns-signzone ldns-key2ds drill; do
		command -v "$_t" >/dev/null 2>&1 ||
			die "$_t not found; run 'make deps' (packages nsd ldnsutils)"
	done
	for _t in openssl postfix; do
		command -v "$_t" >/dev/null 2>&1 ||
			die "$_t not found; run 'make deps' (packages openssl postfix)"
	done
	case $DIR in
	/ | "") die "refusing to use '$DIR' as the world directory" ;;
	esac
	_link=$DIR
	if [ -L "$_link" ]; then
		# an earlier world: stop it, remove its directory and the link
		DIR=$(readlink "$_link")
		if [ -f "$DIR/$MARKER" ]; then
			do_stop
			rm -rf "$DIR"
		fi
		rm -f "$_link"
	elif [ -e "$_link" ]; then
		# a world directory of an older layout (in place)
		[ -f "$_link/$MARKER" ] || [ -z "$(ls -A "$_link" 2>/dev/null)" ] ||
			die "$_link exists and is not a world directory; remove it first"
		DIR=$_link
		[ -f "$DIR/$MARKER" ] && do_stop
		rm -rf "$_link"
	fi
	_root=${WORLD_STATE_ROOT:-/tmp}
	DIR=$(mktemp -d "$_root/danemx-world.XXXXXX") ||
		die "cannot make a directory under $_root (WORLD_STATE_ROOT)"
	chmod 755 "$DIR"
	mkdir -p "$(dirname "$_link")"
	ln -s "$DIR" "$_link" || die "cannot link $_link to $DIR"
	mkdir "$DIR/keys" "$DIR/zones" "$DIR/state" "$DIR/extra"
	: >"$DIR/$MARKER"
	manifest >"$DIR/state/manifest.tmp"
	mv "$DIR/state/manifest.tmp" "$DIR/state/manifest"

	_busy=$(port_user "$NS_ADDR")
	if [ -n "$_busy" ]; then
		echo "world: port 53 on $NS_ADDR is already taken:" >&2
		echo "$_busy" >&2
		for _p in $(echo "$_busy" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
			echo "world:   pid $_p: $(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null)" >&2
		done
		die "stop that server (another world? 'world.sh stop ITSDIR'), or set WORLD_NET"
	fi
	_busy=$(smtp_port_users)
	if [ -n "$_busy" ]; then
		echo "world: port 25 on $MX_NET.* is already taken:" >&2
		echo "$_busy" >&2
		die "stop that server (another world? 'world.sh stop ITSDIR'), or set WORLD_MX_NET"
	fi
	ipv6_ok || MX_ADDR6=''
	STARTING=1

	# Work that does not depend on each other runs in parallel: the
	# certificates of the MX hosts beside the zone keys; the MX servers
	# beside the signing; the zones of one depth together.
	make_pki &
	_pki=$!
	# keys: a KSK and a ZSK for each signed zone, a decoy KSK for bogus-ds
	manifest | {
		cd "$DIR/keys"
		_pids=''
		while read -r _d _zone _mode _rest; do
			[ "$_mode" = unsigned ] && continue
			keygen "$_zone" -k ksk &
			_pids="$_pids $!"
			keygen "$_zone" "" zsk &
			_pids="$_pids $!"
			if [ "$_mode" = bogus-ds ]; then
				keygen "$_zone" -k decoy &
				_pids="$_pids $!"
			fi
		done
		for _p in $_pids; do wait "$_p" || exit 1; done
	}
	wait "$_pki" || die "cannot make the certificates (see $DIR/pki/openssl.log)"
	PKI=$DIR/pki
	# the MTA-STS policy hosts, beside everything below
	start_https &
	_https=$!
	# the TLSA data for the zones; the MX hosts can start now
	write_subst
	start_smtp || die "cannot start the MX hosts"
	# zones, deepest first, so each parent gets its children's DS
	manifest | {
		_pids='' _cur=''
		while read -r _d _zone _mode _rest; do
			if [ "$_d" != "$_cur" ]; then
				for _p in $_pids; do wait "$_p" || exit 1; done
				_pids='' _cur=$_d
			fi
			# shellcheck disable=SC2086
			sign_zone "$_zone" "$_mode" $_rest >/dev/null &
			_pids="$_pids $!"
		done
		for _p in $_pids; do wait "$_p" || exit 1; done
	}
	write_nsd_conf
	write_unbound_conf
	write_env

	nsd-checkconf "$DIR/nsd.conf" || die "bad $DIR/nsd.conf"
	if ! nsd -c "$DIR/nsd.conf" </dev/null >"$DIR/nsd.stderr" 2>&1; then
		echo "world: nsd failed to start:" >&2
		cat "$DIR/nsd.stderr" "$DIR/nsd.log" >&2 2>/dev/null || true
		if grep -qi 'in use' "$DIR/nsd.stderr" "$DIR/nsd.log" 2>/dev/null; then
			die "port 53 on $NS_ADDR is taken by another server"
		fi
		exit 1
	fi
	_i=0
	until [ -n "$(soa_serial .)" ]; do
		_i=$((_i + 1))
		if [ $_i -ge 100 ] || { [ $_i -ge 10 ] && ! pid_alive "$DIR/nsd.pid" "$DIR/nsd.conf"; }; then
			echo "world: NSD does not answer on $NS_ADDR:53; its log:" >&2
			cat "$DIR/nsd.stderr" "$DIR/nsd.log" >&2 2>/dev/null || true
			do_stop
			exit 1
		fi
		sleep 0.1
	done
	start_blackhole
	say "NSD serves $(manifest | wc -l) zones on $NS_ADDR:53 (pid $(cat "$DIR/nsd.pid"))"
	wait_smtp || die "cannot start the MX hosts"
	wait "$_https" || die "cannot start the HTTPS servers"
	wait_https
	say "nginx: MTA-STS policy hosts on $HTTPS_ADDR:$HTTPS_PORT (log $DIR/https/access.log); faulthttps: $(fault_https | grep -c .)"
	say "Postfix: $(mx_services | grep -c .) smtpd on $MX_NET.N:25${MX_ADDR6:+ and [$MX_ADDR6]:25} (log $DIR/postfix/maillog); faultsmtpd: $(fault_services | grep -c .)"
	say "resolver config: $DIR/unbound.conf"
	STARTING=''
}

# do_add append|replace ZONE FILE
do_add() {
	_how=$1 _zone=${2%.}
	[ -n "$_zone" ] || _zone=.
	if [ ! -f "$DIR/$MARKER" ] || [ ! -f "$DIR/world.env" ]; then
		die "$DIR is not a started world"
	fi
	# shellcheck disable=SC1091
	WORLD_NET=$(. "$DIR/world.env" && echo "$WORLD_NET")
	set_addrs
	_line=$(manifest | awk -v z="$_zone" '$2 == z { $1 = ""; print }')
	[ -n "$_line" ] || die "zone '$_zone' is not in zones.conf"
	pid_alive "$DIR/nsd.pid" "$DIR/nsd.conf" || die "NSD of $DIR is not running"
	_zf=$(zone_file "$_zone")

	# one change at a time (tests may run in parallel)
	_i=0
	until mkdir "$DIR/state/lock" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt 300 ] || die "$DIR/state/lock held for 30 s"
		sleep 0.1
	done
	LOCKED=1
	if [ "$_how" = replace ]; then
		cat "$3" >"$DIR/extra/$_zf.zone.new"
	else
		{ cat "$DIR/extra/$_zf.zone" 2>/dev/null || true; cat "$3"; } \
		    >"$DIR/extra/$_zf.zone.new"
	fi
	[ -f "$DIR/extra/$_zf.zone" ] &&
		cp "$DIR/extra/$_zf.zone" "$DIR/extra/$_zf.zone.old"
	mv "$DIR/extra/$_zf.zone.new" "$DIR/extra/$_zf.zone"
	# shellcheck disable=SC2086
	if ! _serial=$(sign_zone $_line); then
		if [ -f "$DIR/extra/$_zf.zone.old" ]; then
			mv "$DIR/extra/$_zf.zone.old" "$DIR/extra/$_zf.zone"
		else
			rm -f "$DIR/extra/$_zf.zone"
		fi
		die "zone $_zone: the records do not sign; nothing changed"
	fi
	rm -f "$DIR/extra/$_zf.zone.old"
	# SIGHUP: NSD re-reads zone files whose mtime changed; repeat until
	# the new serial is served (bounded).
	_i=0
	while [ "$(soa_serial "$_zone")" != "$_serial" ]; do
		[ $((_i % 10)) -eq 0 ] && kill -HUP "$(cat "$DIR/nsd.pid")"
		_i=$((_i + 1))
		if [ $_i -ge 100 ]; then
			tail -n 20 "$DIR/nsd.log" >&2
			die "NSD did not load serial $_serial of $_zone"
		fi
		sleep 0.1
	done
	say "$_zone: serial $_serial served"
}

TMPSRC='' LOCKED='' STARTING=''
cleanup() {
	_rc=$?
	# a start that failed half-way leaves nothing running
	if [ -n "$STARTING" ] && [ "$_rc" -ne 0 ]; then
		STARTING=''
		do_stop 2>/dev/null || true
	fi
	[ -z "$TMPSRC" ] || rm -f "$TMPSRC"
	[ -z "$LOCKED" ] || rmdir "$DIR/state/lock" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ $# -ge 2 ] || usage
CMD=$1 DIR=$2
# the services read the files as their own users: nothing of the world may
# be private to root
umask 022
set_addrs
case $CMD in
start)
	[ $# -eq 2 ] || usage
	do_start ;;
stop)
	[ $# -eq 2 ] || usage
	if [ -d "$DIR" ]; then
		DIR=$(cd "$DIR" && pwd -P)
		do_stop
		say "stopped $DIR"
	fi ;;
clean)
	[ $# -eq 2 ] || usage
	if [ -L "$DIR" ]; then
		_link=$DIR
		DIR=$(readlink "$_link")
		if [ -f "$DIR/$MARKER" ]; then
			do_stop
			rm -rf "$DIR"
		fi
		rm -f "$_link"
		say "removed $_link"
	fi ;;
add | set)
	[ $# -eq 3 ] || [ $# -eq 4 ] || usage
	DIR=$(cd "$DIR" 2>/dev/null && pwd -P) || die "no world at $2"
	_src=${4:--}
	if [ "$_src" = - ]; then
		_src=$(mktemp)
		TMPSRC=$_src
		cat >"$_src"
	fi
	[ -r "$_src" ] || die "cannot read $_src"
	if [ "$CMD" = add ]; then do_add append "$3" "$_src"
	else do_add replace "$3" "$_src"; fi ;;
*)
	usage ;;
esac
