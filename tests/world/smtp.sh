# smtp.sh - the SMTP side of the local world; sourced by world.sh.
#
# At "start": a private test CA and server certificates made with openssl
# (DIR/pki), TLSA data computed from them (DIR/state/subst.sed, which
# world.sh applies to every zone template: @TLSA_*@, @MX_NET@, @MX_ADDR6@),
# ONE Postfix (everything under DIR/postfix: main.cf, master.cf, queue/,
# data/, maillog) whose master.cf runs one smtpd per MX host, each on its
# own MX_NET.N:25 with its own certificate and syslog_name (so each
# maillog line says which MX received), and faultsmtpd.py servers where
# Postfix cannot play the fault. Postfix accepts mail for any recipient
# and discards it; a local part starting with "reject-" gets 550 5.1.1 at
# RCPT. The hosts and the zones that use them: tests/world/CASES.md.
#
# WORLD_MX_NET (default 127.0.25) picks the addresses: N = 10..32, 50, 51
# (the MTA-STS MX hosts; 40-48 are https.sh's), 52 (mx-keep: Postfix puts
# what it accepts on hold instead of discarding it, so a test can read it
# back with postcat: the TLS reports of tlsrpt.test), 53 (mx-connlimit:
# at most 3 connections at once from one client, each held 2 s before
# its banner: check_hostlimit.sh), so the
# .1-.9 names of secure.test & co. stay free for other tests' servers.
# WORLD_MX_ADDR6 (default ::1; empty: none) is the one IPv6 MX; when that
# port 25 is taken or IPv6 does not work here, the world goes without it
# (world.env then has WORLD_MX_ADDR6='').

# Postfix services: SUFFIX SYSLOG_NAME CERT [main.cf overrides...]
# SUFFIX "v6" is [MX_ADDR6]:25. CERT names DIR/pki/CERT.pem (NAME-chain:
# NAME's leaf and the CA) and its key DIR/pki/NAME.key.
mx_services() {
	cat <<'EOF'
10 mx-ee ee
11 mx-ta ta-chain
12 mx-ta-badname ta-badname-chain
13 mx-ta-nexthop ta-nexthop-chain
14 mx-expired expired
15 mx-ta-notsent ta-notsent
16 mx-nostarttls ee smtpd_tls_security_level=none
17 mx-mismatch other
18 mx-backup ee
19 mx-tlsa-bogus ee
20 mx-addr-bogus ee
21 mx-mx-bogus ee
22 mx-eq-a ee
23 mx-eq-b ee
24 mx-insecure ee
25 mx-cname-exp cname-exp-chain
26 mx-cname-orig ee
27 mx-unusable ee
29 mx-implicit ee
30 mx-tlsa-cname ee
31 mx-no-tlsa ee
32 mx-pref2 ee
50 mx-sts sts-chain
51 mx-sts-unlisted ee
52 mx-keep ee smtpd_end_of_data_restrictions=check_client_access,static:HOLD
53 mx-connlimit ee smtpd_client_connection_count_limit=3 smtpd_client_event_limit_exceptions= smtpd_delay_reject=no smtpd_client_restrictions=sleep,2
v6 mx-v6 ee
EOF
}
# faultsmtpd.py servers: SUFFIX MODE CERT
fault_services() {
	cat <<'EOF'
28 refuse-tls ee
EOF
}

set_mx_addrs() {
	MX_NET=${WORLD_MX_NET:-127.0.25}
	MX_ADDR6=${WORLD_MX_ADDR6-::1}
}

# svc_addr SUFFIX: the listening address (IPv6 in brackets)
svc_addr() {
	if [ "$1" = v6 ]; then echo "[$MX_ADDR6]"; else echo "$MX_NET.$1"; fi
}

# --- certificates -----------------------------------------------------------

# Keys are P-256; one openssl process makes a key and its request or
# self-signed certificate. DIR/pki is 0700: smtpd reads them as root.
NEWKEY="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

# pki_self NAME CN: a self-signed leaf (DANE-EE servers), NAME.pem NAME.key
pki_self() {
	# shellcheck disable=SC2086
	openssl req -x509 $NEWKEY -keyout "$PKI/$1.key" -out "$PKI/$1.pem" \
	    -days 3650 -subj "/CN=$2" -addext "subjectAltName=DNS:$2" \
	    2>>"$PKI/openssl.log" || die "openssl req $1 failed"
}

# pki_leaf NAME SAN SERIAL [STARTDATE ENDDATE]: a leaf signed by the test CA
# whose only name is the SAN (no CN); NAME-chain.pem is the leaf and the CA
pki_leaf() {
	# shellcheck disable=SC2086
	openssl req -new $NEWKEY -keyout "$PKI/$1.key" -out "$PKI/$1.csr" \
	    -subj "/O=danemx world/OU=$1" 2>>"$PKI/openssl.log" ||
		die "openssl req $1 failed"
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' \
	    "$2" >"$PKI/$1.ext"
	if [ $# -eq 5 ]; then
		# openssl x509 cannot date a certificate in the past; ca can
		openssl ca -batch -config "$PKI/ca.cnf" -notext -in "$PKI/$1.csr" \
		    -out "$PKI/$1.pem" -startdate "$4" -enddate "$5" \
		    -extfile "$PKI/$1.ext" 2>>"$PKI/openssl.log" ||
			die "openssl ca $1 failed (see $PKI/openssl.log)"
	else
		openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" \
		    -CAkey "$PKI/ca.key" -set_serial "$3" -days 3650 \
		    -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" \
		    2>>"$PKI/openssl.log" || die "openssl x509 $1 failed"
	fi
	cat "$PKI/$1.pem" "$PKI/ca.pem" >"$PKI/$1-chain.pem"
}

# make_pki: DIR/pki (run in the background by world.sh: no shared state)
make_pki() {
	umask 077
	PKI=$DIR/pki
	mkdir "$PKI"
	: >"$PKI/openssl.log"
	# shellcheck disable=SC2086
	openssl req -x509 $NEWKEY -keyout "$PKI/ca.key" -out "$PKI/ca.pem" \
	    -days 3650 -subj "/O=danemx world/CN=danemx world test CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    2>>"$PKI/openssl.log" || die "openssl: cannot make the test CA"
	: >"$PKI/index.txt"
	cat >"$PKI/ca.cnf" <<EOF
[ ca ]
default_ca = world
[ world ]
database = $PKI/index.txt
new_certs_dir = $PKI
certificate = $PKI/ca.pem
private_key = $PKI/ca.key
rand_serial = yes
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[ anything ]
organizationName = optional
organizationalUnitName = optional
commonName = optional
EOF
	# DANE-EE: the usual key, and another one for mismatches
	pki_self ee mx.dane-ee.test
	pki_self other other.example
	# DANE-TA: CA-signed leaves, SAN as named
	pki_leaf ta mx.dane-ta.test 1001
	pki_leaf ta-badname elsewhere.example 1002
	pki_leaf ta-nexthop dane-ta-nexthop.test 1003
	pki_leaf ta-notsent mx.dane-ta-notsent.test 1004
	pki_leaf cname-exp real.cname-exp.test 1005
	# MTA-STS: WebPKI (the test CA) for every host under mx.sts.test
	pki_leaf sts '*.mx.sts.test' 1007
	# expired in 2020 (DANE-EE ignores dates, rule 20)
	pki_leaf expired mx.dane-ee-expired.test 1006 \
	    20200101000000Z 20200201000000Z
	# the DKIM key TLS reports are signed with (rpt._domainkey.tlsrpt.test)
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$PKI/dkim.key" 2>>"$PKI/openssl.log" ||
		die "openssl: cannot make the DKIM key"
}

# spki_der CERT: the DER SubjectPublicKeyInfo of CERT, on stdout
spki_der() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER
}
# dgst ALG: hex digest of stdin
dgst() { openssl dgst "-$1" -r | cut -d' ' -f1; }

# write_subst: DIR/state/subst.sed, the TLSA data and addresses for zones
write_subst() {
	_ee=$PKI/ee.pem _other=$PKI/other.pem _ca=$PKI/ca.pem
	{
		echo "s/@MX_NET@/$MX_NET/g"
		echo "s/@MX_ADDR6@/${MX_ADDR6:-::1}/g"
		echo "s/@TLSA_EE_311@/$(spki_der "$_ee" | dgst sha256)/g"
		echo "s/@TLSA_EE_312@/$(spki_der "$_ee" | dgst sha512)/g"
		echo "s/@TLSA_EE_301@/$(openssl x509 -in "$_ee" -outform DER | dgst sha256)/g"
		echo "s/@TLSA_OTHER_311@/$(spki_der "$_other" | dgst sha256)/g"
		echo "s/@TLSA_OTHER_312@/$(spki_der "$_other" | dgst sha512)/g"
		echo "s/@TLSA_EXPIRED_311@/$(spki_der "$PKI/expired.pem" | dgst sha256)/g"
		echo "s/@TLSA_CA_201@/$(openssl x509 -in "$_ca" -outform DER | dgst sha256)/g"
		echo "s/@TLSA_CA_210@/$(spki_der "$_ca" | od -An -v -tx1 | tr -d ' \n')/g"
		# the DKIM key's p= in two character-strings (at most 255 each)
		_p=$(openssl pkey -in "$PKI/dkim.key" -pubout -outform DER |
		    openssl base64 -A)
		echo "s|@DKIM_P1@|$(printf %s "$_p" | cut -c1-200)|g"
		echo "s|@DKIM_P2@|$(printf %s "$_p" | cut -c201-)|g"
	} >"$DIR/state/subst.sed"
}

# --- servers ----------------------------------------------------------------

# ipv6_ok: can we listen on [MX_ADDR6]:25?
ipv6_ok() {
	[ -n "$MX_ADDR6" ] || return 1
	[ -e /proc/net/if_inet6 ] || return 1
	if command -v ss >/dev/null 2>&1 &&
	    [ -n "$(ss -Hltn "( sport = :25 )" 2>/dev/null |
	    awk -v a="[$MX_ADDR6]:25" '$4 == a || $4 == "[::]:25" || $4 == "*:25"')" ]; then
		say "warning: [$MX_ADDR6]:25 is taken; the world has no IPv6 MX"
		return 1
	fi
	return 0
}

# smtp_port_users: ss lines of listeners on MX_NET.*:25 (or wildcard)
smtp_port_users() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hltnp "( sport = :25 )" 2>/dev/null |
	    awk -v n="$MX_NET." 'index($4, n) == 1 || $4 == "0.0.0.0:25" || $4 == "*:25"'
}

write_postfix() {
	_pf=$DIR/postfix
	mkdir "$_pf"
	_q=$_pf/queue
	# the queue as post-install would make it; quick-start skips the
	# slow "postfix check" (seconds) at every start
	install -d -m 755 -o root -g root "$_q" "$_q/pid"
	for _d in active bounce corrupt defer deferred flush hold incoming \
	    private saved trace; do
		install -d -m 700 -o postfix -g root "$_q/$_d"
	done
	install -d -m 730 -o postfix -g postdrop "$_q/maildrop"
	install -d -m 710 -o postfix -g postdrop "$_q/public"
	install -d -m 700 -o postfix -g root "$_pf/data"
	: >"$_q/quick-start"
	: >"$_pf/maillog"
	_protos=ipv4
	[ -n "$MX_ADDR6" ] && _protos=all
	cat >"$_pf/main.cf" <<EOF
# main.cf - written by tests/world/world.sh: the MX hosts of the world.
# Accept mail for anyone from loopback, discard it; RCPT of reject-*: 550.
compatibility_level = 3.6
queue_directory = $_q
data_directory = $_pf/data
maillog_file = $_pf/maillog
maillog_file_prefixes = $DIR
myhostname = mx.world.test
mydomain = world.test
myorigin = world.test
mydestination =
relay_domains =
local_recipient_maps =
inet_interfaces = all
inet_protocols = $_protos
mynetworks = 127.0.0.0/8 [::1]/128
default_transport = discard:world
relay_transport = discard:world
local_transport = discard:world
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
	check_recipient_access regexp:$_pf/rcpt_access,
	permit_mynetworks, reject
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_cert_file = $PKI/ee.pem
smtpd_tls_key_file = $PKI/ee.key
biff = no
append_dot_mydomain = no
smtputf8_enable = no
EOF
	printf '/^reject-/\t550 5.1.1 No such user here\n' >"$_pf/rcpt_access"
	{
		echo "# master.cf - written by tests/world/world.sh; one smtpd per MX host"
		mx_services | while read -r _n _name _cert _opts; do
			if [ "$_n" = v6 ] && [ -z "$MX_ADDR6" ]; then continue; fi
			printf '%s:smtp inet n - n - - smtpd -o syslog_name=%s' \
			    "$(svc_addr "$_n")" "$_name"
			printf ' -o smtpd_tls_cert_file=%s -o smtpd_tls_key_file=%s' \
			    "$PKI/$_cert.pem" "$PKI/${_cert%-chain}.key"
			for _o in $_opts; do printf ' -o %s' "$_o"; done
			echo
		done
		cat <<'EOF'
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
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	} >"$_pf/master.cf"
	# Postfix waits until a main.cf changed in the last second or two
	# "cools down" (0.3 s naps): make them old
	touch -t 200001010000 "$_pf/main.cf" "$_pf/master.cf" "$_pf/rcpt_access"
}

POSTFIX_PID=postfix/queue/pid/master.pid

start_postfix() {
	command -v postfix >/dev/null 2>&1 ||
		die "postfix not found; run 'make deps' (package postfix)"
	if ! postfix -c "$DIR/postfix" start </dev/null \
	    >"$DIR/postfix.start.log" 2>&1; then
		echo "world: postfix failed to start:" >&2
		cat "$DIR/postfix.start.log" >&2
		tail -n 20 "$DIR/postfix/maillog" >&2 2>/dev/null || true
		return 1
	fi
	# master -w returns once it listens; its pid file is written by then
	pid_alive "$DIR/$POSTFIX_PID" master || {
		echo "world: postfix master is not running:" >&2
		tail -n 20 "$DIR/postfix/maillog" >&2 2>/dev/null || true
		return 1
	}
}

stop_postfix() {
	if [ -f "$DIR/postfix/main.cf" ] && pid_alive "$DIR/$POSTFIX_PID" master; then
		timeout 10 postfix -c "$DIR/postfix" stop </dev/null \
		    >>"$DIR/postfix.stop.log" 2>&1 || true
	fi
	# make sure the master (and its children: it leads their group) is gone
	kill_pidfile "$DIR/$POSTFIX_PID" master
}

start_faults() {
	_py=
	for _c in /usr/bin/python3 python3; do
		if command -v "$_c" >/dev/null 2>&1; then _py=$_c; break; fi
	done
	[ -n "$_py" ] || die "python3 not found (faultsmtpd.py)"
	fault_services | while read -r _n _mode _cert; do
		_log=$DIR/fault-$_n.log
		"$_py" "$HERE/../servers/faultsmtpd.py" --listen "$MX_NET.$_n:25" \
		    --mode "$_mode" --cert "$PKI/$_cert.pem" --key "$PKI/${_cert%-chain}.key" \
		    --log "$DIR/fault-$_n.mail" </dev/null >"$_log" 2>&1 &
		echo $! >"$DIR/fault-$_n.pid"
	done
}

# wait_faults: until each faultsmtpd.py says "ready" (bounded)
wait_faults() {
	fault_services | while read -r _n _mode _cert; do
		_i=0
		until grep -q ready "$DIR/fault-$_n.log" 2>/dev/null; do
			_i=$((_i + 1))
			if [ $_i -ge 200 ] || ! pid_alive "$DIR/fault-$_n.pid" faultsmtpd; then
				cat "$DIR/fault-$_n.log" >&2
				die "faultsmtpd ($_mode) on $MX_NET.$_n:25 did not start"
			fi
			sleep 0.05
		done
	done
}

stop_faults() {
	for _f in "$DIR"/fault-*.pid; do
		[ -f "$_f" ] || continue
		kill_pidfile "$_f" faultsmtpd
	done
}

# start_smtp: start the servers (they need DIR/pki); wait_smtp: until
# they all listen
start_smtp() {
	write_postfix
	start_postfix || return 1
	start_faults
}
wait_smtp() { wait_faults; }

stop_smtp() {
	stop_postfix
	stop_faults
}

write_smtp_env() {
	cat <<EOF
# MX hosts (tests/world/smtp.sh, tests/world/CASES.md): one Postfix, its log
# WORLD_MAILLOG; one smtpd per host on WORLD_MX_NET.N:25, logging as
# SYSLOG_NAME/smtpd; faultsmtpd.py servers log accepted mail to fault-N.mail.
WORLD_MX_NET='$MX_NET'
WORLD_MX_ADDR6='$MX_ADDR6'
WORLD_POSTFIX_DIR='$DIR/postfix'
WORLD_MAILLOG='$DIR/postfix/maillog'
WORLD_PKI='$DIR/pki'
WORLD_CA='$DIR/pki/ca.pem'
EOF
	mx_services | while read -r _n _name _rest; do
		echo "# $_name: $(svc_addr "$_n"):25"
	done
}
