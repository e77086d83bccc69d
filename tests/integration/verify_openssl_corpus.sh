# verify_openssl_corpus.sh - danemx verify over OpenSSL's 55 DANE cases.
#
# Generic profile (--usages all, the case's CA file, --ee-namechecks
# when the case checks names): each case must give exactly the expected
# X.509 error and match depth. SMTP profile (the default): cases whose
# records are all PKIX-TA(0)/PKIX-EE(1) must be "encrypt only"; cases
# whose records are all DANE-TA(2)/DANE-EE(3) must give the generic
# answer, except that DANE-EE(3) never checks names (RFC 7672 3.1.1).
# Reads ../shared/conformance when present, else tests/vectors.
. "$DANEMX_SRCDIR/tests/lib.sh"

corpus="$DANEMX_SRCDIR/../shared/conformance/openssl-danetest"
[ -f "$corpus/cases.tsv" ] || corpus="$DANEMX_SRCDIR/tests/vectors/openssl-danetest"
[ -f "$corpus/cases.tsv" ] || fail "no corpus in $corpus"
echo "corpus: $corpus"

npass=0
nfail=0
ENCRYPT_ONLY="DANE: encrypt only: no usable TLSA records (TLS is required, the peer is not authenticated)"

# json_int KEY: the first integer member KEY of $OUT
json_int() {
	printf '%s\n' "$OUT" | grep -o "\"$1\":-\{0,1\}[0-9]*" | head -n 1 | cut -d: -f2
}

# check CASE PROFILE WANT_RC WANT_ERR WANT_DEPTH [WANT_VERDICT]
check() {
	got_err=$(json_int x509_error)
	got_depth=$(json_int depth)
	got_verdict=$(printf '%s\n' "$OUT" | sed -n 's/.*"verdict":"\(.*\)"}$/DANE: \1/p')
	why=
	[ "$RC" = "$3" ] || why="$why exit $RC, want $3;"
	[ "$got_err" = "$4" ] || why="$why x509_error $got_err, want $4;"
	[ "$got_depth" = "$5" ] || why="$why depth $got_depth, want $5;"
	if [ $# -ge 6 ] && [ "$got_verdict" != "$6" ]; then
		why="$why verdict '$got_verdict', want '$6';"
	fi
	[ -z "$ERR" ] || why="$why stderr not empty;"
	if [ -n "$why" ]; then
		echo "FAIL $1 ($2):$why ${ERR:+stderr: $ERR}"
		nfail=$((nfail + 1))
	else
		npass=$((npass + 1))
	fi
}

ncases=0
tab=$(printf '\t')
while IFS="$tab" read -r cid base ca noee want_err _name want_depth _rest; do
	[ "$cid" = case ] && continue
	[ -n "$cid" ] || continue
	ncases=$((ncases + 1))
	dir="$corpus/split/$cid"
	want_rc=1
	[ "$want_err" = 0 ] && want_rc=0

	# Generic DANE, as OpenSSL's own runner does it.
	set -- --json verify --chain "$dir/chain.pem" --name "$base" \
	    --tlsa-file "$dir/tlsa.rr" --usages all --ca-file "$corpus/$ca"
	[ "$noee" = 0 ] && set -- "$@" --ee-namechecks
	run_cmd "$DANEMX" "$@"
	check "$cid" all "$want_rc" "$want_err" "$want_depth"

	# SMTP (RFC 7672).
	usages=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "TLSA") { print $(i + 1); break } }' \
	    "$dir/tlsa.rr" | sort -u | tr -d '\n')
	run_cmd "$DANEMX" --json verify --chain "$dir/chain.pem" --name "$base" \
	    --tlsa-file "$dir/tlsa.rr" --ca-file "$corpus/$ca"
	case "$usages" in
	0|1|01)
		check "$cid" smtp 1 0 -1 "$ENCRYPT_ONLY" ;;
	3)
		if [ "$want_err" = 62 ]; then
			check "$cid" smtp 0 0 "$want_depth"
		else
			check "$cid" smtp "$want_rc" "$want_err" "$want_depth"
		fi ;;
	2|23)
		check "$cid" smtp "$want_rc" "$want_err" "$want_depth" ;;
	*)
		echo "FAIL $cid (smtp): mixed usages '$usages' not handled by this test"
		nfail=$((nfail + 1)) ;;
	esac
done < "$corpus/cases.tsv"

[ "$ncases" = 55 ] || { echo "FAIL: $ncases cases in cases.tsv, want 55"; nfail=$((nfail + 1)); }
echo "$T_NAME: $npass passed, $nfail failed ($ncases cases, generic and SMTP profiles)"
[ "$nfail" = 0 ]
