# https.sh - the HTTPS side of the local world (MTA-STS policy hosts);
# sourced by world.sh.
#
# At "start", in the background beside the MX hosts and the zone signing:
# a certificate from the world's CA naming every mta-sts.DOMAIN that nginx
# serves, a second private CA ("rogue") that no test trusts, then
#
#   - ONE nginx (everything under DIR/https: nginx.conf, nginx.pid,
#     error.log, access.log, tmp/, www/) on HTTPS_ADDR:443 (WORLD_MX_NET.40),
#     serving DIR/https/www/HOST/.well-known/mta-sts.txt for the Host asked
#     (404 when there is no such file). The master runs as root and reads
#     the keys; its worker runs as www-data and reads www/ (0755, files
#     0644). No system nginx configuration is read or touched;
#   - ONE faulthttps.py (tests/servers) with a socket per fault on
#     WORLD_MX_NET.41-48:443: redirect, oversize, oversize-stream, slow,
#     a certificate for another name, a certificate from the rogue CA,
#     500, a policy served as text/html. Its log: DIR/https/fault.log.
#
# The zones (zones/sts.test.zone, zones/sts-insecure.test.zone) point
# mta-sts.DOMAIN at these addresses; sts_sites below is the one list of
# the sites, their servers and the policies nginx starts with. Tests change
# a policy by writing DIR/https/www/mta-sts.DOMAIN/.well-known/mta-sts.txt
# (world.env: WORLD_HTTPS_WWW) and count fetches in WORLD_HTTPS_ACCESS_LOG
# (one line per request: "HOST ADDR "REQUEST" STATUS BYTES").
#
# The same nginx is the TLS-RPT collector (RFC 8460 https: reporting) for
# https://collector.tlsrpt.test/rpt/NAME: it keeps every body it is POSTed
# in DIR/https/rpt/ and logs one line per request to DIR/https/rpt.log
# ("HOST "REQUEST" STATUS CONTENT-TYPE BODY-FILE"), and answers as a second
# server block on HTTPS_ADDR:8025 says: /rpt/ok 200; /rpt/flaky 500 and
# /rpt/redirect 302 until DIR/https/rpt-flaky-ok or rpt-redirect-ok
# exists, 200 after.

HTTPS_PORT=443

# sts_sites: DOMAIN SERVER (nginx, or the fault mode) [POLICY-NAME]
sts_sites() {
	cat <<'EOF'
enforce.sts.test nginx enforce
testing.sts.test nginx testing
none.sts.test nginx none
mismatch.sts.test nginx mismatch
warn.sts.test nginx warn
invalid.sts.test nginx invalid
cname.sts.test nginx cname
split.sts.test nginx split
nopolicy.sts.test nginx
change.sts.test nginx change
flaky.sts.test nginx flaky
expiry.sts.test nginx expiry
sts-insecure.test nginx insecure
deliver.sts.test nginx mxsts
badcert.sts.test nginx mxsts
skip.sts.test nginx mxsts
testbad.sts.test nginx mxsts-testing
stsnone.sts.test nginx none
nopol.sts.test nginx
danests.sts.test nginx mxsts
danebad.sts.test nginx mxsts
tlsafail.sts.test nginx mxsts
relay.sts.test nginx mxsts
relayon.sts.test nginx mxsts
redirect.sts.test redirect
oversize.sts.test oversize
oversize-stream.sts.test oversize-stream
slow.sts.test slow
wrongname.sts.test policy-wrongname
unknownca.sts.test policy-unknownca
error500.sts.test error500
html.sts.test html
EOF
}

# fault_https: MODE SUFFIX CERT (faulthttps.py modes on HTTPS_NET.SUFFIX)
fault_https() {
	cat <<'EOF'
redirect 41 https
oversize 42 https
oversize-stream 43 https
slow 44 https
policy-wrongname 45 ta-badname
policy-unknownca 46 rogue-leaf
error500 47 https
html 48 https
EOF
}

# sts_policy NAME: the policy text nginx starts with (CRLF for some, LF
# for others: both are RFC 8461)
sts_policy() {
	case $1 in
	enforce) printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.enforce.sts.test\r\nmx: *.mx.sts.test\r\nmax_age: 86400\r\n' ;;
	testing) printf 'version: STSv1\nmode: testing\nmx: mx.testing.sts.test\nmax_age: 604800\n' ;;
	none) printf 'version: STSv1\nmode: none\nmax_age: 86400\n' ;;
	mismatch) printf 'version: STSv1\nmode: enforce\nmx: mx1.mismatch.sts.test\nmax_age: 86400\n' ;;
	warn) printf 'version: STSv1\nmode: enforce\nmx: mx.warn.sts.test\nnmx: mx2.warn.sts.test\nmax_age: 86400\n' ;;
	invalid) printf 'version: STSv1\nmode: enforce\nnmx: mx.invalid.sts.test\nmax_age: 86400\n' ;;
	cname) printf 'version: STSv1\nmode: enforce\nmx: mx.cname.sts.test\nmax_age: 86400\n' ;;
	split) printf 'version: STSv1\nmode: testing\nmx: mx.split.sts.test\nmax_age: 86400\n' ;;
	change) printf 'version: STSv1\nmode: testing\nmx: mx.change.sts.test\nmax_age: 86400\n' ;;
	flaky) printf 'version: STSv1\nmode: enforce\nmx: mx.flaky.sts.test\nmax_age: 86400\n' ;;
	expiry) printf 'version: STSv1\nmode: enforce\nmx: mx.expiry.sts.test\nmax_age: 3600\n' ;;
	insecure) printf 'version: STSv1\nmode: enforce\nmx: mx.sts-insecure.test\nmax_age: 86400\n' ;;
	mxsts) printf 'version: STSv1\nmode: enforce\nmx: *.mx.sts.test\nmax_age: 86400\n' ;;
	mxsts-testing) printf 'version: STSv1\nmode: testing\nmx: *.mx.sts.test\nmax_age: 86400\n' ;;
	esac
}

set_https_addrs() {
	HTTPS_NET=${WORLD_MX_NET:-127.0.25}
	HTTPS_ADDR=$HTTPS_NET.40
}

# https_port_users: ss lines of listeners on HTTPS_NET.*:443 (or wildcard)
https_port_users() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hltnp "( sport = :$HTTPS_PORT )" 2>/dev/null |
	    awk -v n="$HTTPS_NET." 'index($4, n) == 1 || $4 == "0.0.0.0:443" || $4 == "*:443"'
}

# https_leaf NAME ISSUER SAN-LIST: a serverAuth leaf NAME.{key,pem} signed
# by ISSUER.{key,pem}, NAME-chain.pem the leaf and the issuer
https_leaf() {
	# shellcheck disable=SC2086
	openssl req -new $NEWKEY -keyout "$PKI/$1.key" -out "$PKI/$1.csr" \
	    -subj "/O=danemx world/OU=$1" 2>>"$PKI/openssl-https.log" ||
		die "openssl req $1 failed"
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
	    "$3" >"$PKI/$1.ext"
	openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" \
	    -CAkey "$PKI/$2.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
	    -days 3650 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" \
	    2>>"$PKI/openssl-https.log" || die "openssl x509 $1 failed"
	cat "$PKI/$1.pem" "$PKI/$2.pem" >"$PKI/$1-chain.pem"
}

# make_https_pki: the certificates (needs the world's CA from make_pki)
make_https_pki() {
	_san=''
	for _d in $(sts_sites | awk '$2 != "policy-wrongname" && $2 != "policy-unknownca" { print $1 }'); do
		_san="${_san:+$_san,}DNS:mta-sts.$_d"
	done
	https_leaf https ca "$_san,DNS:collector.tlsrpt.test"
	# a CA nobody trusts, and a leaf with the right name from it
	# shellcheck disable=SC2086
	openssl req -x509 $NEWKEY -keyout "$PKI/rogue.key" -out "$PKI/rogue.pem" \
	    -days 3650 -subj "/O=danemx world/CN=rogue CA nobody trusts" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    2>>"$PKI/openssl-https.log" || die "openssl: cannot make the rogue CA"
	https_leaf rogue-leaf rogue "DNS:mta-sts.unknownca.sts.test"
}

# write_www: the policy files nginx starts with
write_www() {
	_www=$DIR/https/www
	sts_sites | while read -r _d _srv _pol; do
		[ "$_srv" = nginx ] && [ -n "$_pol" ] || continue
		mkdir -p "$_www/mta-sts.$_d/.well-known"
		sts_policy "$_pol" >"$_www/mta-sts.$_d/.well-known/mta-sts.txt"
	done
	# nopolicy, nopol: sites without the file (404)
	mkdir -p "$_www/mta-sts.nopolicy.sts.test/.well-known" \
	    "$_www/mta-sts.nopol.sts.test/.well-known"
}

write_nginx_conf() {
	_h=$DIR/https
	_user=''
	[ "$(id -u)" -eq 0 ] && _user='user www-data www-data;'
	cat >"$_h/nginx.conf" <<EOF
# nginx.conf - written by tests/world/https.sh: the MTA-STS policy hosts
# of the world. Everything lives in $_h.
$_user
worker_processes 1;
daemon on;
pid $_h/nginx.pid;
error_log $_h/error.log info;
events {
	worker_connections 256;
}
http {
	log_format sts '\$host \$remote_addr "\$request" \$status \$body_bytes_sent';
	access_log $_h/access.log sts;
	log_format rpt '\$host "\$request" \$status \$content_type \$request_body_file';
	client_body_temp_path $_h/tmp/client_body;
	proxy_temp_path $_h/tmp/proxy;
	fastcgi_temp_path $_h/tmp/fastcgi;
	uwsgi_temp_path $_h/tmp/uwsgi;
	scgi_temp_path $_h/tmp/scgi;
	types {
		text/plain txt;
	}
	default_type application/octet-stream;
	server_tokens off;
	keepalive_timeout 5;
	server {
		listen $HTTPS_ADDR:$HTTPS_PORT ssl;
		server_name _;
		ssl_certificate $PKI/https-chain.pem;
		ssl_certificate_key $PKI/https.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $_h/www/\$host;
		location / {
			try_files \$uri =404;
		}
		location /rpt/ {
			client_body_in_file_only on;
			client_body_temp_path $_h/rpt;
			client_max_body_size 1m;
			access_log $_h/rpt.log rpt;
			proxy_pass http://$HTTPS_ADDR:8025;
			proxy_redirect off;
		}
	}
	server {
		listen $HTTPS_ADDR:8025;
		access_log off;
		location = /rpt/ok {
			return 200 "thanks\n";
		}
		location = /rpt/flaky {
			if (-f $_h/rpt-flaky-ok) {
				return 200 "thanks\n";
			}
			return 500;
		}
		location = /rpt/redirect {
			if (-f $_h/rpt-redirect-ok) {
				return 200 "thanks\n";
			}
			return 302 https://collector.tlsrpt.test/rpt/ok;
		}
		location / {
			return 404;
		}
	}
}
EOF
}

# start_https: certificates, nginx and the fault servers (world.sh runs it
# in the background once make_pki is done; wait_https waits for it)
start_https() {
	command -v nginx >/dev/null 2>&1 ||
		die "nginx not found; run 'make deps' (package nginx-light)"
	_busy=$(https_port_users)
	if [ -n "$_busy" ]; then
		echo "world: port $HTTPS_PORT on $HTTPS_NET.* is already taken:" >&2
		echo "$_busy" >&2
		die "stop that server (another world? 'world.sh stop ITSDIR'), or set WORLD_MX_NET"
	fi
	mkdir -p "$DIR/https/tmp" "$DIR/https/www"
	: >"$DIR/https/access.log"
	: >"$DIR/https/rpt.log"
	: >"$DIR/https/fault.log"
	(umask 077 && make_https_pki) || die "cannot make the HTTPS certificates"
	write_www
	write_nginx_conf
	if ! nginx -e "$DIR/https/error.log" -p "$DIR/https/" \
	    -c "$DIR/https/nginx.conf" </dev/null >"$DIR/https/start.log" 2>&1; then
		cat "$DIR/https/start.log" "$DIR/https/error.log" >&2 2>/dev/null
		die "nginx failed to start on $HTTPS_ADDR:$HTTPS_PORT"
	fi
	set --
	while read -r _mode _n _cert; do
		set -- "$@" --serve "$_mode" "$HTTPS_NET.$_n" "$HTTPS_PORT" \
		    "$PKI/$_cert-chain.pem" "$PKI/$_cert.key"
	done <<EOF
$(fault_https)
EOF
	/usr/bin/env python3 "$HERE/../servers/faulthttps.py" "$@" \
	    --log "$DIR/https/fault.log" --pidfile "$DIR/https/fault.pid" \
	    </dev/null >"$DIR/https/fault.out" 2>&1 &
}

# wait_https: until nginx and faulthttps.py listen (bounded)
wait_https() {
	_i=0
	until grep -q ready "$DIR/https/fault.out" 2>/dev/null &&
	    pid_alive "$DIR/https/nginx.pid" nginx; do
		_i=$((_i + 1))
		if [ $_i -ge 200 ]; then
			cat "$DIR/https/fault.out" "$DIR/https/error.log" >&2 2>/dev/null
			die "the HTTPS servers did not start"
		fi
		sleep 0.05
	done
}

stop_https() {
	kill_pidfile "$DIR/https/nginx.pid" nginx
	kill_pidfile "$DIR/https/fault.pid" faulthttps
}

write_https_env() {
	cat <<EOF
# MTA-STS policy hosts (tests/world/https.sh): nginx on WORLD_HTTPS_ADDR:443
# serves WORLD_HTTPS_WWW/HOST/.well-known/mta-sts.txt and logs each request
# to WORLD_HTTPS_ACCESS_LOG; faulthttps.py on WORLD_MX_NET.41-48:443 logs
# to WORLD_FAULT_HTTPS_LOG. The rogue CA (WORLD_ROGUE_CA) is trusted by no one.
WORLD_HTTPS_ADDR='$HTTPS_ADDR'
WORLD_HTTPS_WWW='$DIR/https/www'
WORLD_HTTPS_ACCESS_LOG='$DIR/https/access.log'
WORLD_FAULT_HTTPS_LOG='$DIR/https/fault.log'
WORLD_ROGUE_CA='$DIR/pki/rogue.pem'
# The TLS-RPT collector (https://collector.tlsrpt.test/rpt/...): its log and
# the bodies it kept; a test creates WORLD_RPT_DIR/../rpt-flaky-ok to end
# /rpt/flaky's 500s.
WORLD_RPT_LOG='$DIR/https/rpt.log'
WORLD_RPT_DIR='$DIR/https'
# The DKIM key of rpt._domainkey.tlsrpt.test (reports are signed with it),
# and the MX host that keeps what it accepts (Postfix's hold queue).
WORLD_DKIM_KEY='$DIR/pki/dkim.key'
WORLD_KEEP_MX_ADDR='$HTTPS_NET.52'
EOF
}
