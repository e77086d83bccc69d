# verify_smtpdane.sh - the smtpdane fixture: danemx tlsa reproduces its
# four known TLSA records from the certificate, chain and key, and
# danemx verify authenticates its chain against each at the known depth.
# Reads ../shared/conformance when present, else tests/vectors.
. "$DANEMX_SRCDIR/tests/lib.sh"

fx="$DANEMX_SRCDIR/../shared/conformance/pennocktech-smtpdane"
[ -f "$fx/test-server.crt" ] || fx="$DANEMX_SRCDIR/tests/vectors/pennocktech-smtpdane"
[ -f "$fx/test-server.crt" ] || fail "no fixture in $fx"
cat "$fx/test-server.crt" "$fx/ca.pem" > "$T_TMP/chain.pem"

OWNER=_25._tcp.mail.test.invalid.
R311="3 1 1 9a8079b2bfff4b8250cdeadfe26a406f27d79d5b1a15ed9310c240cb5bd9de27"
R301="3 0 1 78da6f10cdccd9775872ff871178748df22fcbe6ad66d9d744737cb0e9fa9b3c"
R201="2 0 1 e348526e32d604c1ca313637940ae1035da6055039890de9863885403cd34f63"
R211="2 1 1 c6959b48dd7a09d1f3e2dba1b8c308a5821244d34fa6484c4b2dfb141a23b6e4"

# tlsa_is WHAT WANT_RECORD ARGS...: one record line, exit 0, no warning
tlsa_is() {
	what=$1 want=$2
	shift 2
	run_cmd "$DANEMX" tlsa "$@"
	expect_eq "$what: exit" "$RC" 0
	expect_eq "$what: record" "$OUT" "$OWNER IN TLSA $want"
	expect_eq "$what: stderr" "$ERR" ""
}
tlsa_is "3 1 1 from the certificate" "$R311" "$fx/test-server.crt"
tlsa_is "3 0 1 from the certificate" "$R301" --selector 0 "$fx/test-server.crt"
tlsa_is "2 0 1 from the chain" "$R201" --usage 2 --selector 0 "$T_TMP/chain.pem"
tlsa_is "2 1 1 from the chain" "$R211" --usage 2 "$T_TMP/chain.pem"
tlsa_is "2 1 1 with --ta-depth 1" "$R211" --usage 2 --ta-depth 1 "$T_TMP/chain.pem"
tlsa_is "3 1 1 from the key" "$R311" --host mail.test.invalid "$fx/test-server.key"
tlsa_is "3 1 1 from the key, --host with a dot" "$R311" --host MAIL.test.invalid. "$fx/test-server.key"
run_cmd "$DANEMX" tlsa --usage 2 "$fx/test-server.crt"
expect_eq "--usage 2 without the CA: exit" "$RC" 65

run_cmd "$DANEMX" tlsa --upper "$fx/test-server.crt"
expect_eq "--upper" "$OUT" "$OWNER IN TLSA $(printf '%s' "$R311" | tr a-f A-F)"
run_cmd "$DANEMX" tlsa --port 587 "$fx/test-server.crt"
expect_eq "--port" "$OUT" "_587._tcp.mail.test.invalid. IN TLSA $R311"

# verify_is WHAT RECORD WANT_DEPTH: authenticated at that depth
verify_is() {
	run_cmd "$DANEMX" verify --chain "$T_TMP/chain.pem" \
	    --name mail.test.invalid --tlsa "$2"
	expect_eq "$1: exit" "$RC" 0
	expect_eq "$1: verdict" "$OUT" \
	    "DANE: validated successfully ($(echo "$2" | cut -d' ' -f1-3) at depth $3)"
	run_cmd "$DANEMX" verify --json --chain "$T_TMP/chain.pem" \
	    --name mail.test.invalid. --tlsa "$2"
	expect_eq "$1: json exit" "$RC" 0
	expect_match "$1: json depth" "$OUT" "\"authenticated\":true,\"effect\":\"authenticate\",\"depth\":$3,\"x509_error\":0,"
	expect_match "$1: json matched" "$OUT" "\"matched\":\"$2\""
}
verify_is "3 1 1" "$R311" 0
verify_is "3 0 1" "$R301" 0
verify_is "2 0 1" "$R201" 1
verify_is "2 1 1" "$R211" 1

# The records danemx tlsa printed, as a zone file, verify too.
{
	echo "; made by danemx tlsa"
	"$DANEMX" tlsa --usage 2 "$T_TMP/chain.pem"
	"$DANEMX" tlsa "$fx/test-server.crt"
} > "$T_TMP/zone"
run_cmd "$DANEMX" verify --chain "$T_TMP/chain.pem" --name mail.test.invalid \
    --tlsa-file "$T_TMP/zone"
expect_eq "zone file from danemx tlsa: exit" "$RC" 0
expect_eq "zone file from danemx tlsa: verdict" "$OUT" \
    "DANE: validated successfully (3 1 1 at depth 0)"

# DANE-TA names: a name the certificate lacks fails, a --ref-id it has passes.
run_cmd "$DANEMX" verify --chain "$T_TMP/chain.pem" --name other.test.invalid \
    --tlsa "$R211"
expect_eq "2 1 1 other name: exit" "$RC" 1
expect_eq "2 1 1 other name: verdict" "$OUT" \
    "DANE: not authenticated: hostname mismatch (X.509 error 62; 2 1 1 matched at depth 1)"
run_cmd "$DANEMX" verify --chain "$T_TMP/chain.pem" --name other.test.invalid \
    --ref-id signedok.test.invalid --tlsa "$R211"
expect_eq "2 1 1 other name, --ref-id: exit" "$RC" 0
run_cmd "$DANEMX" verify --chain "$T_TMP/chain.pem" --name other.test.invalid \
    --tlsa "$R311"
expect_eq "3 1 1 other name: exit" "$RC" 0
done_ok
