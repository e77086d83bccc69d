# verify_matrix.sh - danemx verify over certificates made at test time.
#
# A root, an intermediate and leaves are made with openssl in a temp
# dir; the expected TLSA data is computed with openssl alone. Runs usage
# {2,3} x selector {0,1} x mtype {0,1,2} x {match, mismatch}, then the
# RFC 7672 rules one by one: TAs only in DNS (rule 23), digest agility
# (24), DANE-EE without name or date checks (20), DANE-TA names and
# dates (21, 22), unusable records (17, 19). Each case asserts the exit
# status, the match depth and the exact verdict line.
. "$DANEMX_SRCDIR/tests/lib.sh"

command -v openssl >/dev/null 2>&1 || { echo "$T_NAME: SKIP: no openssl"; exit 0; }
case $DANEMX in /*) ;; *) DANEMX=$(pwd)/$DANEMX ;; esac
D=$T_TMP
cd "$D" || fail "cd $D"

cat > ext.cnf <<'EOF'
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[mx]
subjectAltName = DNS:mx.example.test
[other]
subjectAltName = DNS:other.example.test
[wild]
subjectAltName = DNS:*.example.test
[partial]
subjectAltName = DNS:m*.example.test
[cnonly]
basicConstraints = CA:false
[san_other_cn_mx]
subjectAltName = DNS:other.example.test
EOF
cat > ca.cnf <<'EOF'
[ca]
default_ca = tca
[tca]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
EOF
: > index.txt

q() { "$@" >/dev/null 2>&1 || fail "setup: $*"; }

# newkey NAME
newkey() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
# selfsigned NAME CN
selfsigned() {
	newkey "$1"
	q openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 \
	    -sha256 -extensions ca -config ext.cnf -out "$1.pem"
}
# issue NAME CN ISSUER EXT
issue() {
	newkey "$1"
	q openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
	q openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
	    -CAcreateserial -days 825 -sha256 -extfile ext.cnf -extensions "$4" \
	    -out "$1.pem"
}

selfsigned root "Matrix Root"
issue inter "Matrix Issuer" root ca
issue leaf mx.example.test inter mx
issue otherleaf other.example.test inter other
issue wild wildcard inter wild
issue partial partial inter partial
issue cnonly mx.example.test inter cnonly
issue sanother mx.example.test inter san_other_cn_mx
selfsigned otherca "Unrelated CA"
# An expired leaf: valid in January 2020 only.
newkey expired
q openssl req -new -key expired.key -subj /CN=mx.example.test -out expired.csr
q openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key \
    -in expired.csr -out expired.pem -notext -startdate 20200101000000Z \
    -enddate 20200201000000Z -extfile ext.cnf -extensions mx

for n in leaf otherleaf wild partial cnonly sanother expired; do
	cat $n.pem inter.pem > $n.chain
done
cat leaf.pem inter.pem root.pem > leaf.fullchain

# rec U S M CERT: the record's rdata, computed with openssl only
rec() {
	if [ "$2" = 0 ]; then
		openssl x509 -in "$4" -outform DER > rec.der
	else
		openssl x509 -in "$4" -pubkey -noout | openssl pkey -pubin -outform DER > rec.der
	fi
	case $3 in
	0) hex=$(od -An -v -tx1 rec.der | tr -d ' \n') ;;
	1) hex=$(openssl dgst -sha256 -r rec.der | cut -d' ' -f1) ;;
	2) hex=$(openssl dgst -sha512 -r rec.der | cut -d' ' -f1) ;;
	esac
	echo "$1 $2 $3 $hex"
}

NOMATCH="not authenticated: no matching DANE TLSA records (X.509 error 65)"
ENCRYPT="encrypt only: no usable TLSA records (TLS is required, the peer is not authenticated)"

# case_is WHAT WANT_RC WANT_DEPTH WANT_VERDICT ARGS...: run verify in text
# and in JSON; check the exit status, the last line, and the depth.
case_is() {
	what=$1 want_rc=$2 want_depth=$3 want_verdict=$4
	shift 4
	run_cmd "$DANEMX" verify "$@"
	expect_eq "$what: exit" "$RC" "$want_rc"
	expect_eq "$what: stderr" "$ERR" ""
	expect_eq "$what: verdict" "$(printf '%s\n' "$OUT" | tail -n 1)" "DANE: $want_verdict"
	LAST_OUT=$OUT
	run_cmd "$DANEMX" --json verify "$@"
	expect_eq "$what: json exit" "$RC" "$want_rc"
	got=$(printf '%s\n' "$OUT" | grep -o '"depth":-\{0,1\}[0-9]*' | head -n 1)
	expect_eq "$what: depth" "$got" "\"depth\":$want_depth"
	JSON=$OUT
}
ok() { echo "validated successfully ($1 at depth $2)"; }

# 1. The matrix.
for u in 2 3; do
	for s in 0 1; do
		for m in 0 1 2; do
			if [ $u = 3 ]; then good=leaf.pem bad=otherleaf.pem d=0
			else good=inter.pem bad=otherca.pem d=1
			fi
			case_is "$u $s $m match" 0 $d "$(ok "$u $s $m" $d)" \
			    --chain leaf.chain --name mx.example.test \
			    --tlsa "$(rec $u $s $m $good)"
			case_is "$u $s $m mismatch" 1 -1 "$NOMATCH" \
			    --chain leaf.chain --name mx.example.test \
			    --tlsa "$(rec $u $s $m $bad)"
		done
	done
done

# 2. DANE-TA at the root, sent or only in DNS (rule 23).
case_is "2 0 1 root sent" 0 2 "$(ok "2 0 1" 2)" --chain leaf.fullchain \
    --name mx.example.test --tlsa "$(rec 2 0 1 root.pem)"
case_is "2 0 1 root not sent" 1 -1 "$NOMATCH" --chain leaf.chain \
    --name mx.example.test --tlsa "$(rec 2 0 1 root.pem)"
case_is "2 0 0 root only in DNS" 0 2 "$(ok "2 0 0" 2)" --chain leaf.chain \
    --name mx.example.test --tlsa "$(rec 2 0 0 root.pem)"
case_is "2 1 0 root key only in DNS" 0 1 "$(ok "2 1 0" 1)" --chain leaf.chain \
    --name mx.example.test --tlsa "$(rec 2 1 0 root.pem)"
case_is "2 1 0 issuer key only in DNS" 0 0 "$(ok "2 1 0" 0)" --chain leaf.pem \
    --name mx.example.test --tlsa "$(rec 2 1 0 inter.pem)"
case_is "2 0 0 issuer only in DNS" 0 1 "$(ok "2 0 0" 1)" --chain leaf.pem \
    --name mx.example.test --tlsa "$(rec 2 0 0 inter.pem)"

# 3. Digest agility (rule 24): only the strongest matching type counts.
case_is "3 1 1 match beside 3 1 2 mismatch" 1 -1 "$NOMATCH" --chain leaf.chain \
    --name mx.example.test --tlsa "$(rec 3 1 1 leaf.pem)" \
    --tlsa "$(rec 3 1 2 otherleaf.pem)"
case_is "3 1 2 match beside 3 1 1 mismatch" 0 0 "$(ok "3 1 2" 0)" --chain leaf.chain \
    --name mx.example.test --tlsa "$(rec 3 1 1 otherleaf.pem)" \
    --tlsa "$(rec 3 1 2 leaf.pem)"
case_is "3 0 1 match beside 3 1 2 mismatch (other selector)" 0 0 "$(ok "3 0 1" 0)" \
    --chain leaf.chain --name mx.example.test --tlsa "$(rec 3 0 1 leaf.pem)" \
    --tlsa "$(rec 3 1 2 otherleaf.pem)"

# 4. DANE-EE: no name checks, no dates (rule 20).
case_is "3 1 1 wrong name" 0 0 "$(ok "3 1 1" 0)" --chain otherleaf.chain \
    --name mx.example.test --tlsa "$(rec 3 1 1 otherleaf.pem)"
case_is "3 1 1 expired" 0 0 "$(ok "3 1 1" 0)" --chain expired.chain \
    --name mx.example.test --tlsa "$(rec 3 1 1 expired.pem)"
case_is "3 1 1 wrong name, --ee-namechecks" 1 0 \
    "not authenticated: hostname mismatch (X.509 error 62; 3 1 1 matched at depth 0)" \
    --chain otherleaf.chain --name mx.example.test --ee-namechecks \
    --tlsa "$(rec 3 1 1 otherleaf.pem)"

# 5. DANE-TA: names and dates (rules 21, 22).
case_is "2 0 1 wrong name" 1 1 \
    "not authenticated: hostname mismatch (X.509 error 62; 2 0 1 matched at depth 1)" \
    --chain otherleaf.chain --name mx.example.test --tlsa "$(rec 2 0 1 inter.pem)"
expect_match "2 0 1 wrong name: result type" "$JSON" '"result_type":"certificate-host-mismatch"'
case_is "2 0 1 wrong name, --ref-id matches" 0 1 "$(ok "2 0 1" 1)" \
    --chain otherleaf.chain --name mx.example.test --ref-id other.example.test \
    --tlsa "$(rec 2 0 1 inter.pem)"
expect_match "2 0 1 --ref-id: peername" "$JSON" '"peername":"other.example.test"'
case_is "2 0 1 wrong name, --ref-id does not match" 1 1 \
    "not authenticated: hostname mismatch (X.509 error 62; 2 0 1 matched at depth 1)" \
    --chain otherleaf.chain --name mx.example.test --ref-id example.test \
    --tlsa "$(rec 2 0 1 inter.pem)"
case_is "2 0 1 expired leaf" 1 1 \
    "not authenticated: certificate has expired (X.509 error 10; 2 0 1 matched at depth 1)" \
    --chain expired.chain --name mx.example.test --tlsa "$(rec 2 0 1 inter.pem)"
expect_match "2 0 1 expired: result type" "$JSON" '"result_type":"certificate-expired"'
case_is "2 0 1 --at in 2100" 1 1 \
    "not authenticated: certificate has expired (X.509 error 10; 2 0 1 matched at depth 1)" \
    --chain leaf.chain --name mx.example.test --at 4102444800 \
    --tlsa "$(rec 2 0 1 inter.pem)"
case_is "2 1 1 wildcard, one label" 0 1 "$(ok "2 1 1" 1)" --chain wild.chain \
    --name mx.example.test --tlsa "$(rec 2 1 1 inter.pem)"
case_is "2 1 1 wildcard, two labels" 1 1 \
    "not authenticated: hostname mismatch (X.509 error 62; 2 1 1 matched at depth 1)" \
    --chain wild.chain --name a.mx.example.test --tlsa "$(rec 2 1 1 inter.pem)"
case_is "2 1 1 wildcard, base domain itself" 1 1 \
    "not authenticated: hostname mismatch (X.509 error 62; 2 1 1 matched at depth 1)" \
    --chain wild.chain --name example.test --tlsa "$(rec 2 1 1 inter.pem)"
case_is "2 1 1 partial wildcard m*" 1 1 \
    "not authenticated: hostname mismatch (X.509 error 62; 2 1 1 matched at depth 1)" \
    --chain partial.chain --name mx.example.test --tlsa "$(rec 2 1 1 inter.pem)"
case_is "2 1 1 CN without SAN" 0 1 "$(ok "2 1 1" 1)" --chain cnonly.chain \
    --name mx.example.test --tlsa "$(rec 2 1 1 inter.pem)"
case_is "2 1 1 CN ignored beside a SAN" 1 1 \
    "not authenticated: hostname mismatch (X.509 error 62; 2 1 1 matched at depth 1)" \
    --chain sanother.chain --name mx.example.test --tlsa "$(rec 2 1 1 inter.pem)"
case_is "2 1 1 case-insensitive name, final dot" 0 1 "$(ok "2 1 1" 1)" \
    --chain leaf.chain --name MX.Example.TEST. --tlsa "$(rec 2 1 1 inter.pem)"

# 6. Unusable records (rules 17, 19).
case_is "all unusable: 0 0 1 and 1 1 1" 1 -1 "$ENCRYPT" --chain leaf.fullchain \
    --name mx.example.test --tlsa "$(rec 0 0 1 root.pem)" --tlsa "$(rec 1 1 1 leaf.pem)"
expect_eq "all unusable: lines" "$(printf '%s\n' "$LAST_OUT" | sed -n 1,2p | cut -c1-30)" \
"unusable TLSA record 0 0 1 $(rec 0 0 1 root.pem | cut -d' ' -f4 | cut -c1-3)
unusable TLSA record 1 1 1 $(rec 1 1 1 leaf.pem | cut -d' ' -f4 | cut -c1-3)"
expect_match "all unusable: reason" "$LAST_OUT" \
    ': PKIX-TA\(0\) is not used for SMTP \(RFC 7672 section 3.1.3\)$'
expect_match "all unusable: json" "$JSON" \
    '"authenticated":false,"effect":"encrypt","depth":-1,"x509_error":0,'
expect_match "all unusable: result type" "$JSON" '"result_type":"tlsa-invalid"'
case_is "PKIX under --usages all" 0 0 "$(ok "1 1 1" 0)" --chain leaf.chain \
    --name mx.example.test --usages all --ca-file root.pem \
    --tlsa "$(rec 1 1 1 leaf.pem)"
case_is "PKIX under --usages all, no CA file" 1 0 \
    "not authenticated: unable to get local issuer certificate (X.509 error 20; 1 1 1 matched at depth 0)" \
    --chain leaf.chain --name mx.example.test --usages all \
    --tlsa "$(rec 1 1 1 leaf.pem)"

short=$(rec 3 1 1 leaf.pem | cut -c1-68)	# "3 1 1 " and 31 octets
case_is "wrong digest length" 1 -1 "$ENCRYPT" --chain leaf.chain \
    --name mx.example.test --tlsa "$short"
expect_eq "wrong digest length: reason" "$(printf '%s\n' "$LAST_OUT" | head -n 1)" \
    "unusable TLSA record $short: SHA2-256(1) digest of 31 octets, want 32"
expect_match "wrong digest length: json" "$JSON" \
    '"unusable":\[\{"record":"3 1 1 [0-9a-f]{62}","reason":"SHA2-256\(1\) digest of 31 octets, want 32"\}\]'
case_is "wrong digest length beside a match" 0 0 "$(ok "3 1 1" 0)" --chain leaf.chain \
    --name mx.example.test --tlsa "$short" --tlsa "$(rec 3 1 1 leaf.pem)"
long=$(rec 3 1 2 leaf.pem)00
case_is "SHA2-512 of 65 octets" 1 -1 "$ENCRYPT" --chain leaf.chain \
    --name mx.example.test --tlsa "$long"
expect_match "SHA2-512 of 65 octets: reason" "$LAST_OUT" \
    ': SHA2-512\(2\) digest of 65 octets, want 64$'
case_is "unknown usage, selector, mtype; bad Full(0)" 1 -1 "$ENCRYPT" \
    --chain leaf.chain --name mx.example.test --tlsa "4 1 1 $(rec 3 1 1 leaf.pem | cut -d' ' -f4)" \
    --tlsa "3 2 1 00" --tlsa "3 1 3 00" --tlsa "3 0 0 3003020100" --tlsa "2 1 0 00"
expect_eq "unusable reasons" "$(printf '%s\n' "$LAST_OUT" | sed 's/^unusable TLSA record [0-9] [0-9] [0-9] [0-9a-f]*: //' | head -n 5)" \
"unknown certificate usage 4
unknown selector 2
unknown matching type 3
Full(0) data is not a DER certificate
Full(0) data is not a DER SubjectPublicKeyInfo"

done_ok
