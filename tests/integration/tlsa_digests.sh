# tlsa_digests.sh - danemx tlsa agrees with openssl's own digests.
#
# For RSA, ECDSA P-256 and Ed25519 keys made at test time, every
# selector and matching type of danemx tlsa equals what
#   openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum
# (and SHA2-512, and the full DER) gives, from the certificate and,
# for selector 1, from the private and public key files. Also: owner
# names, --next, --upper, --json, the 3 0 x warning, and exit codes.
. "$DANEMX_SRCDIR/tests/lib.sh"

command -v openssl >/dev/null 2>&1 || { echo "$T_NAME: SKIP: no openssl"; exit 0; }
case $DANEMX in /*) ;; *) DANEMX=$(pwd)/$DANEMX ;; esac
cd "$T_TMP" || fail "cd $T_TMP"

q() { "$@" >/dev/null 2>&1 || fail "setup: $*"; }
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# selfsigned NAME DAYS SUBJECT SAN KEYGEN-ARGS...
selfsigned() {
	name=$1 days=$2 subj=$3 san=$4
	shift 4
	q openssl genpkey "$@" -out "$name.key"
	if [ -n "$san" ]; then
		q openssl req -x509 -new -key "$name.key" -subj "$subj" -days "$days" \
		    -addext "subjectAltName=$san" -out "$name.pem"
	else
		q openssl req -x509 -new -key "$name.key" -subj "$subj" -days "$days" \
		    -out "$name.pem"
	fi
}
selfsigned rsa 3650 /CN=rsa.example.test "DNS:*.example.test,DNS:rsa.example.test" \
    -algorithm RSA -pkeyopt rsa_keygen_bits:2048
selfsigned p256 3650 /CN=ignored.example.test "DNS:p256.example.test" \
    -algorithm EC -pkeyopt ec_paramgen_curve:P-256
selfsigned ed25519 3650 /CN=Ed25519.Example.Test "" -algorithm ED25519

for k in rsa p256 ed25519; do
	case $k in
	rsa) host=rsa.example.test ;;		# first SAN without wildcard
	p256) host=p256.example.test ;;		# SAN wins over CN
	ed25519) host=ed25519.example.test ;;	# CN, lowercased
	esac
	openssl x509 -in $k.pem -outform DER > $k.cert.der
	openssl x509 -in $k.pem -pubkey -noout > $k.pub.pem
	openssl pkey -pubin -in $k.pub.pem -outform DER > $k.spki.der
	for s in 0 1; do
		[ $s = 0 ] && der=$k.cert.der || der=$k.spki.der
		for m in 0 1 2; do
			case $m in
			0) want=$(hexof $der) ;;
			1) want=$(sha256sum < $der | cut -d' ' -f1) ;;
			2) want=$(sha512sum < $der | cut -d' ' -f1) ;;
			esac
			run_cmd "$DANEMX" tlsa --selector $s --mtype $m $k.pem
			expect_eq "$k 3 $s $m: exit" "$RC" 0
			expect_eq "$k 3 $s $m" "$OUT" "_25._tcp.$host. IN TLSA 3 $s $m $want"
			expect_eq "$k 3 $s $m: no warning" "$ERR" ""
			[ $s = 1 ] || continue
			for f in $k.key $k.pub.pem $k.spki.der; do
				run_cmd "$DANEMX" tlsa --host $host --mtype $m $f
				expect_eq "$k 3 1 $m from $f: exit" "$RC" 0
				expect_eq "$k 3 1 $m from $f" "$OUT" \
				    "_25._tcp.$host. IN TLSA 3 1 $m $want"
			done
		done
	done
	run_cmd "$DANEMX" tlsa $k.cert.der
	expect_eq "$k DER certificate" "$OUT" \
	    "_25._tcp.$host. IN TLSA 3 1 1 $(sha256sum < $k.spki.der | cut -d' ' -f1)"
done

# --upper, --port, --host, --json
want=$(sha256sum < p256.spki.der | cut -d' ' -f1)
WANT=$(printf '%s' "$want" | tr a-f A-F)
run_cmd "$DANEMX" tlsa --upper --port 465 --host MX.Example.Org. p256.pem
expect_eq "--upper --port --host" "$OUT" "_465._tcp.mx.example.org. IN TLSA 3 1 1 $WANT"
run_cmd "$DANEMX" tlsa --json p256.pem
expect_eq "--json" "$OUT" "{\"records\":[{\"owner\":\"_25._tcp.p256.example.test.\",\"usage\":3,\"selector\":1,\"mtype\":1,\"data\":\"$want\",\"rr\":\"_25._tcp.p256.example.test. IN TLSA 3 1 1 $want\",\"role\":\"current\"}]}"

# --next: the current record, then the next key's, marked as such
nextw=$(sha256sum < rsa.spki.der | cut -d' ' -f1)
run_cmd "$DANEMX" tlsa --next rsa.key p256.pem
expect_eq "--next: exit" "$RC" 0
expect_eq "--next" "$OUT" "_25._tcp.p256.example.test. IN TLSA 3 1 1 $want ; current
_25._tcp.p256.example.test. IN TLSA 3 1 1 $nextw ; next"
run_cmd "$DANEMX" tlsa --next rsa.key --selector 0 p256.pem
expect_eq "--next with selector 0: exit" "$RC" 64

# Usage 2 picks the issuer, or --ta-depth.
cat p256.pem rsa.pem ed25519.pem > chain.pem
run_cmd "$DANEMX" tlsa --usage 2 chain.pem
expect_eq "--usage 2" "$OUT" "_25._tcp.p256.example.test. IN TLSA 2 1 1 $(sha256sum < rsa.spki.der | cut -d' ' -f1)"
run_cmd "$DANEMX" tlsa --usage 2 --ta-depth 2 --selector 0 chain.pem
expect_eq "--usage 2 --ta-depth 2" "$OUT" "_25._tcp.p256.example.test. IN TLSA 2 0 1 $(sha256sum < ed25519.cert.der | cut -d' ' -f1)"
run_cmd "$DANEMX" tlsa --usage 2 --ta-depth 3 chain.pem
expect_eq "--ta-depth beyond the chain: exit" "$RC" 65
run_cmd "$DANEMX" tlsa --ta-depth 1 chain.pem
expect_eq "--ta-depth without --usage 2: exit" "$RC" 64

# The 3 0 x warning, for short-lived certificates only.
selfsigned short 90 /CN=short.example.test "DNS:short.example.test" \
    -algorithm EC -pkeyopt ec_paramgen_curve:P-256
run_cmd "$DANEMX" tlsa --selector 0 short.pem
expect_eq "3 0 1 short-lived: exit" "$RC" 0
expect_eq "3 0 1 short-lived: warning" "$ERR" "danemx tlsa: warning: the certificate is valid for 90 days; a 3 0 1 record breaks at every renewal: publish 3 1 1 and keep the key across renewals"
run_cmd "$DANEMX" tlsa short.pem
expect_eq "3 1 1 short-lived: no warning" "$ERR" ""
run_cmd "$DANEMX" tlsa --usage 2 --selector 0 --ta-depth 1 chain.pem
expect_eq "2 0 1: no warning" "$ERR" ""

# Errors and exit codes.
run_cmd "$DANEMX" tlsa p256.key
expect_eq "key without --host: exit" "$RC" 64
run_cmd "$DANEMX" tlsa --host x.example --selector 0 p256.key
expect_eq "key with --selector 0: exit" "$RC" 64
run_cmd "$DANEMX" tlsa --usage 1 p256.pem
expect_eq "--usage 1: exit" "$RC" 64
run_cmd "$DANEMX" tlsa --mtype 3 p256.pem
expect_eq "--mtype 3: exit" "$RC" 64
run_cmd "$DANEMX" tlsa --port 0 p256.pem
expect_eq "--port 0: exit" "$RC" 64
run_cmd "$DANEMX" tlsa
expect_eq "no FILE: exit" "$RC" 64
run_cmd "$DANEMX" tlsa a.pem b.pem
expect_eq "two FILEs: exit" "$RC" 64
run_cmd "$DANEMX" tlsa "$T_TMP/missing.pem"
expect_eq "missing file: exit" "$RC" 66
run_cmd "$DANEMX" tlsa "$T_TMP"
expect_eq "a directory: exit" "$RC" 66
printf 'not a certificate\n' > junk.pem
run_cmd "$DANEMX" tlsa junk.pem
expect_eq "junk: exit" "$RC" 65
expect_eq "junk: message" "$ERR" "danemx tlsa: junk.pem: no certificate or key (expected PEM or DER)"
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:x -out enc.key
run_cmd "$DANEMX" tlsa --host x.example enc.key
expect_eq "encrypted key: exit" "$RC" 65
run_cmd "$DANEMX" tlsa --help
expect_eq "--help: exit" "$RC" 0
expect_match "--help: exit codes" "$OUT" "^  69  --connect"
done_ok
