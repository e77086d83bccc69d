# verify_cli.sh - danemx verify: TLSA file syntax, options and exit codes.
#
# Uses the smtpdane fixture (a chain with known records). Checks that
# zone-file and bare lines, comments and stdin are read; that a malformed
# record names its line and exits 65; unreadable files 66; usage 64.
. "$DANEMX_SRCDIR/tests/lib.sh"

fx="$DANEMX_SRCDIR/../shared/conformance/pennocktech-smtpdane"
[ -f "$fx/test-server.crt" ] || fx="$DANEMX_SRCDIR/tests/vectors/pennocktech-smtpdane"
cat "$fx/test-server.crt" "$fx/ca.pem" > "$T_TMP/chain.pem"
C=$T_TMP/chain.pem
H311=9a8079b2bfff4b8250cdeadfe26a406f27d79d5b1a15ed9310c240cb5bd9de27
U211=C6959B48DD7A09D1F3E2DBA1B8C308A5821244D34FA6484C4B2DFB141A23B6E4

# A file as dig and people write them: comments, blanks, split hex, case.
cat > "$T_TMP/zone" <<EOT
; dig +noall +answer TLSA _25._tcp.mail.test.invalid
# another comment

_25._tcp.mail.test.invalid. 3600 IN TLSA 0 0 1 $H311
_25._tcp.mail.test.invalid. IN 300 tlsa 2 1 1 ${U211%????????????????????????????????} ${U211#????????????????????????????????}
	IN TLSA 4 1 1 00 ; an unknown usage, with a trailing comment
3 1 2 $H311$H311
EOT
run_cmd "$DANEMX" verify -v --chain "$C" --name mail.test.invalid --tlsa-file "$T_TMP/zone"
expect_eq "zone file: exit" "$RC" 0
expect_eq "zone file: output" "$OUT" "unusable TLSA record 0 0 1 $H311: PKIX-TA(0) is not used for SMTP (RFC 7672 section 3.1.3)
usable TLSA record 2 1 1 $(printf '%s' "$U211" | tr A-F a-f)
unusable TLSA record 4 1 1 00: unknown certificate usage 4
usable TLSA record 3 1 2 $H311$H311
chain depth 0: subject=CN=mail.test.invalid issuer=CN=Dummy untrustworthy CA for testing,OU=SMTP-DANE,O=Example,C=US
chain depth 1: subject=CN=Dummy untrustworthy CA for testing,OU=SMTP-DANE,O=Example,C=US issuer=CN=Dummy untrustworthy CA for testing,OU=SMTP-DANE,O=Example,C=US
matched name: mail.test.invalid
DANE: validated successfully (2 1 1 at depth 1)"

run_cmd sh -c "printf '3 1 1 %s\n' $H311 | \"\$0\" verify --chain \"\$1\" --name x.invalid --tlsa-file -" "$DANEMX" "$C"
expect_eq "stdin: exit" "$RC" 0
expect_eq "stdin: verdict" "$OUT" "DANE: validated successfully (3 1 1 at depth 0)"

# --tlsa and --tlsa-file add up.
printf '2 1 1 %s\n' "$U211" > "$T_TMP/one"
run_cmd "$DANEMX" verify --chain "$C" --name mail.test.invalid --tlsa-file "$T_TMP/one" \
    --tlsa "3 1 1 $H311"
expect_eq "--tlsa and --tlsa-file: verdict" "$OUT" "DANE: validated successfully (3 1 1 at depth 0)"

# Empty file: no records, DANE does not apply.
: > "$T_TMP/empty"
run_cmd "$DANEMX" verify --chain "$C" --name mail.test.invalid --tlsa-file "$T_TMP/empty"
expect_eq "no records: exit" "$RC" 1
expect_eq "no records: verdict" "$OUT" "DANE: does not apply: no secure TLSA records"

# Malformed records: 65, naming the line.
bad() {
	printf '%s\n' "; fine" "3 1 1 $H311" "$2" > "$T_TMP/bad"
	run_cmd "$DANEMX" verify --chain "$C" --name mail.test.invalid --tlsa-file "$T_TMP/bad"
	expect_eq "$1: exit" "$RC" 65
	expect_eq "$1: message" "$ERR" "danemx verify: $T_TMP/bad:3: $3"
	expect_eq "$1: no verdict" "$OUT" ""
}
bad "bad hex" "3 1 1 zz" "certificate association data: 'z' is not a hex digit"
bad "odd hex" "3 1 1 abc" "certificate association data has an odd number of hex digits (3)"
bad "no data" "3 1 1" "missing certificate association data"
bad "two fields" "3 1" "missing matching type"
bad "usage 256" "256 1 1 00" "certificate usage is not a number from 0 to 255"
bad "negative" "3 -1 1 00" "selector is not a number from 0 to 255"
bad "no TLSA type" "_25._tcp.x. IN A 192.0.2.1" "expected 'USAGE SELECTOR MTYPE HEX' or a zone-file line with type TLSA"
bad "TLSA but no rdata" "_25._tcp.x. IN TLSA" "missing certificate usage"
run_cmd "$DANEMX" verify --chain "$C" --name mail.test.invalid --tlsa "3 1 1 0g"
expect_eq "--tlsa bad hex: exit" "$RC" 65
expect_eq "--tlsa bad hex: message" "$ERR" "danemx verify: --tlsa '3 1 1 0g': certificate association data: 'g' is not a hex digit"

# Malformed and unreadable certificates.
printf 'junk\n' > "$T_TMP/junk.pem"
run_cmd "$DANEMX" verify --chain "$T_TMP/junk.pem" --name x.invalid --tlsa "3 1 1 $H311"
expect_eq "junk chain: exit" "$RC" 65
sed 's/^MII/MIX/' "$fx/ca.pem" > "$T_TMP/broken.pem"
cat "$fx/test-server.crt" "$T_TMP/broken.pem" > "$T_TMP/broken-chain.pem"
run_cmd "$DANEMX" verify --chain "$T_TMP/broken-chain.pem" --name x.invalid --tlsa "3 1 1 $H311"
expect_eq "broken second certificate: exit" "$RC" 65
expect_eq "broken second certificate: message" "$ERR" "danemx verify: $T_TMP/broken-chain.pem: certificate 2 does not parse"
openssl x509 -in "$fx/test-server.crt" -outform DER > "$T_TMP/leaf.der" 2>/dev/null
run_cmd "$DANEMX" verify --chain "$T_TMP/leaf.der" --name x.invalid --tlsa "3 1 1 $H311"
expect_eq "DER leaf: exit" "$RC" 0
run_cmd "$DANEMX" verify --chain "$T_TMP/missing.pem" --name x.invalid --tlsa "3 1 1 $H311"
expect_eq "missing chain: exit" "$RC" 66
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa-file "$T_TMP/missing"
expect_eq "missing TLSA file: exit" "$RC" 66
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa "0 0 1 $H311" \
    --usages all --ca-file "$T_TMP/missing.pem"
expect_eq "missing CA file: exit" "$RC" 66
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa "3 1 1 $H311" \
    --ca-file "$T_TMP/missing.pem"
expect_eq "--ca-file ignored under smtp: exit" "$RC" 0

# Usage errors.
run_cmd "$DANEMX" verify --name x.invalid --tlsa "3 1 1 $H311"
expect_eq "no --chain: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --tlsa "3 1 1 $H311"
expect_eq "no --name: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid
expect_eq "no records: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name "a b" --tlsa "3 1 1 $H311"
expect_eq "bad --name: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name . --tlsa "3 1 1 $H311"
expect_eq "--name '.': exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa "3 1 1 $H311" --usages pkix
expect_eq "bad --usages: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa "3 1 1 $H311" --bogus
expect_eq "unknown option: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa "3 1 1 $H311" extra
expect_eq "extra argument: exit" "$RC" 64
run_cmd "$DANEMX" verify --chain "$C" --name x.invalid --tlsa "3 1 1 $H311" --at soon
expect_eq "bad --at: exit" "$RC" 64
run_cmd "$DANEMX" verify --help
expect_eq "--help: exit" "$RC" 0
expect_match "--help: exit status" "$OUT" "^  65  a malformed TLSA record or certificate$"
run_cmd "$DANEMX" help verify
expect_eq "help verify: exit" "$RC" 0
done_ok
