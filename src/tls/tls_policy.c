/*
 * tls_policy.c - which TLS versions and ciphers danemx accepts, set in
 * one place for every context it makes: outbound (DANE and PKIX,
 * tls_client_ctx_new(), tls_pkix_ctx_new()) and inbound (smtpd).
 *
 * Versions: each context gets a floor, SSL_CTX_set_min_proto_version();
 * the ceiling is the newest OpenSSL has. The relay's floors (danemx.conf):
 *	tls_min_version			TLSv1.2	outbound where TLS is mandatory
 *					(dane with TLSA records, dane-only,
 *					encrypt, verify): raised per connection
 *					by tls_ssl_floor()
 *	tls_opportunistic_min_version	TLSv1	outbound opportunistic TLS (may,
 *					and dane without TLSA records)
 *	smtpd_tls_min_version		TLSv1.2	inbound STARTTLS
 * The opportunistic floor is low on purpose (RFC 7435; RFC 7672 2.2 and
 * Postfix's smtp_tls_protocols): a handshake refused there is retried in
 * cleartext, which is worse than any TLS. OpenSSL's security level
 * (openssl.cnf, else its built-in level) still applies to all three and
 * is never lowered here: on Debian 12 it already refuses TLS 1.0 and 1.1.
 *
 * Ciphers (TLS 1.2 and older): OpenSSL's DEFAULT list without anonymous
 * (aNULL) or null-encryption (eNULL) suites, whatever openssl.cnf says;
 * TLS 1.3's suites are all AEAD with certificates and stay OpenSSL's.
 *
 * Resumption: a client context has no session cache and asks for no
 * tickets, so every outbound handshake verifies the peer afresh against
 * the TLSA records of that moment; tls_dane_verdict() refuses to count
 * a resumed session as authenticated all the same. A server context
 * keeps no session cache either (no memory a client can fill); its
 * stateless tickets may resume inbound sessions, which authenticate
 * nobody.
 *
 * Nothing here allocates.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "tls/tls.h"
#include "util/util.h"

#define TLS_CIPHERS	"DEFAULT:!aNULL:!eNULL"

static const struct {
	const char	*name;
	int		 v;
} versions[] = {
	{ "TLSv1", TLS1_VERSION },
	{ "TLSv1.0", TLS1_VERSION },
	{ "TLSv1.1", TLS1_1_VERSION },
	{ "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
};

/* tls_version_parse - "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"; -1 else */
int
tls_version_parse(const char *s, int *v)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(versions); i++) {
		if (strcasecmp(s, versions[i].name) == 0) {
			*v = versions[i].v;
			return 0;
		}
	}
	return -1;
}

/* tls_version_name - the name of a version tls_version_parse() knows */
const char *
tls_version_name(int v)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(versions); i++)
		if (versions[i].v == v)
			return versions[i].name;
	return "?";
}

/*
 * tls_ctx_policy - the floor (min_version; 0: TLS_OPP_MIN_DEFAULT), the
 * cipher list and, for a client context, no resumption, on ctx. 0, or
 * -1 with err.
 */
int
tls_ctx_policy(SSL_CTX *ctx, int client, int min_version, char *err,
    size_t errlen)
{
	if (min_version == 0)
		min_version = TLS_OPP_MIN_DEFAULT;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (client)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, 0) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1) {
		snprintf(err, errlen, "TLS policy (floor %s, ciphers %s): %s",
		    tls_version_name(min_version), TLS_CIPHERS,
		    ERR_reason_error_string(ERR_get_error()));
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/*
 * tls_ssl_floor - raise one connection's floor to min_version (0: keep
 * the context's); for a mandatory-TLS host on the shared client context.
 * 0, or -1 when OpenSSL refuses.
 */
int
tls_ssl_floor(SSL *ssl, int min_version)
{
	if (min_version == 0 ||
	    SSL_get_min_proto_version(ssl) >= min_version)
		return 0;
	return SSL_set_min_proto_version(ssl, min_version) == 1 ? 0 : -1;
}
