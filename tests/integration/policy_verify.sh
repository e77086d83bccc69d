#!/bin/sh
# policy_verify.sh - the "verify" policy level: PKIX with the system CA
# store and the MX host name, no DANE. The world's MX mx.dane-ta.test has
# a certificate from the world's test CA: trusted when that CA is the CA
# store (SSL_CERT_FILE), refused (deferred, never cleartext) when not.
# The "secure" level matches the next-hop domain instead (Postfix's
# nexthop, dot-nexthop): the MX name may come from unsigned DNS, so a
# certificate that names only the MX host proves nothing about the
# destination.
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
# secure: dane-ta-nexthop.test's MX carries a certificate for the domain
# itself (not for its MX host name): secure passes, verify does not.
r=$(rcpt secure-ok dane-ta-nexthop.test)
printf 'dane-ta-nexthop.test secure\n' >"$T_TMP/policy"
send "$r" --policy "$T_TMP/policy" --ca-file "$WORLD_PKI/ca.pem"
expect_eq "secure, the next hop named: exit (stderr: $ERR)" "$RC" 0
expect_eq "secure: tls" "$(echo "$OUT" | jq -r .tls)" verified
expect_eq "secure: the names matched" "$(echo "$OUT" | jq -c '.attempts[0].ref_ids')" \
	'["dane-ta-nexthop.test",".dane-ta-nexthop.test","mx.dane-ta-nexthop.test"]'
expect_received "secure: delivered" mx-ta-nexthop "$r"
r=$(rcpt verify-nexthop dane-ta-nexthop.test)
printf 'dane-ta-nexthop.test verify\n' >"$T_TMP/policy"
send "$r" --policy "$T_TMP/policy" --ca-file "$WORLD_PKI/ca.pem"
expect_eq "verify, only the next hop named: exit" "$RC" 75
# secure does not take a certificate for the MX host's name alone when
# the MX lookup is not what names it: dane-ta.test's MX carries one for
# mx.dane-ta.test, which is the MX name and the MX RRset is secure: pass.
r=$(rcpt secure-mx dane-ta.test)
printf 'dane-ta.test secure\n' >"$T_TMP/policy"
send "$r" --policy "$T_TMP/policy" --ca-file "$WORLD_PKI/ca.pem"
expect_eq "secure, the MX name from a secure MX RRset: exit" "$RC" 0
done_ok
