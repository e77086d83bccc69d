#!/bin/sh
# policy_verify.sh - the "verify" policy level: PKIX with the system CA
# store and the MX host name, no DANE. The world's MX mx.dane-ta.test has
# a certificate from the world's test CA: trusted when that CA is the CA
# store (SSL_CERT_FILE), refused (deferred, never cleartext) when not.
. "$DANEMX_SRCDIR/tests/lib.sh"
. "$DANEMX_SRCDIR/tests/world/mxlib.sh"

printf 'dane-ta.test verify\n' >"$T_TMP/policy"

r=$(rcpt verify-ok dane-ta.test)
SSL_CERT_FILE="$WORLD_PKI/ca.pem" send "$r" --policy "$T_TMP/policy"
expect_eq "verify, CA trusted: exit (stderr: $ERR)" "$RC" 0
expect_eq "verify, CA trusted: tls" "$(echo "$OUT" | jq -r .tls)" verified
expect_eq "verify, CA trusted: no TLSA used" "$(echo "$OUT" | jq -r '.hosts[0].tlsa_base')" null
expect_eq "verify, CA trusted: reference id" "$(echo "$OUT" | jq -c '.attempts[0].ref_ids')" '["mx.dane-ta.test"]'
expect_received "verify, CA trusted: delivered" mx-ta "$r"

r=$(rcpt verify-no dane-ta.test)
SSL_CERT_FILE=/dev/null send "$r" --policy "$T_TMP/policy"
expect_eq "verify, CA unknown: exit" "$RC" 75
expect_match "verify, CA unknown: reason" "$ERR" "certificate verification failed: (self-signed certificate in certificate chain|unable to get local issuer certificate)"
expect_eq "verify, CA unknown: no cleartext retry" "$(echo "$OUT" | jq '[.attempts[] | select(.plaintext_retry)] | length')" 0
expect_not_received "verify, CA unknown: nothing delivered" "$r"

# A name the certificate does not carry: refused even with the CA trusted.
r=$(rcpt verify-name dane-ta-badname.test)
printf 'dane-ta-badname.test verify\n' >"$T_TMP/policy"
SSL_CERT_FILE="$WORLD_PKI/ca.pem" send "$r" --policy "$T_TMP/policy"
expect_eq "verify, wrong name: exit" "$RC" 75
expect_match "verify, wrong name: reason" "$ERR" "certificate verification failed: hostname mismatch"
done_ok
