/*
 * tls_session.c - OpenSSL armed for one outbound session, and judged
 * after its handshake, for the delivery engine (src/deliver): what it
 * asks for (DANE with the host's TLSA records, PKIX with the CA store,
 * or neither) in a struct tls_session_opts; what it gets in a struct
 * tls_verdict. Every SSL_* call of a delivery is here or in tls_dane.c.
 *
 * tls_session_new() returns an SSL the SMTP client owns (it frees it
 * with the connection); the verdict owns its strings (tls_verdict_free).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"
#include "util/util.h"

/* tls_pkix_ctx_new - a client context that verifies with the system CAs
 * (policy verify and secure, MTA-STS), or with ca_file's roots instead;
 * the caller frees it with SSL_CTX_free() */
SSL_CTX *
tls_pkix_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file,
	    NULL) != 1 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		if (ca_file != NULL)
			snprintf(err, errlen, "cannot load the CA file %s",
			    ca_file);
		else
			snprintf(err, errlen, "cannot load the system CA store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* WebPKI is mandatory TLS: each session raises the floor. */
	if (tls_ctx_policy(ctx, 1, TLS_OPP_MIN_DEFAULT, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* tls_pkix_get - the WebPKI context, loaded on first use (it costs some
 * 30 ms); NULL, said once in p->err, when it cannot be */
SSL_CTX *
tls_pkix_get(struct tls_pkix *p)
{
	if (p->ctx == NULL && !p->failed &&
	    (p->ctx = tls_pkix_ctx_new(p->ca_file, p->err,
	    sizeof(p->err))) == NULL)
		p->failed = 1;
	return p->ctx;
}

/* tls_pkix_free - free the context, if it was ever loaded */
void
tls_pkix_free(struct tls_pkix *p)
{
	SSL_CTX_free(p->ctx);
	p->ctx = NULL;
	p->failed = 0;
}

/* tls_session_new - an SSL for one session as o asks; NULL with err */
SSL *
tls_session_new(SSL_CTX *ctx, const struct tls_session_opts *o, char *err,
    size_t errlen)
{
	SSL	*ssl;

	if ((ssl = SSL_new(ctx)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (tls_ssl_floor(ssl, o->min_version) == -1) {
		snprintf(err, errlen, "cannot set the protocol floor");
		goto fail;
	}
	if (o->dane != NULL) {
		/* SNI, reference identifiers and the TLSA records. */
		if (tls_dane_setup(ssl, o->dane, o->tlsa, err, errlen) == -1)
			goto fail;
		return ssl;
	}
	if (o->sni != NULL && SSL_set_tlsext_host_name(ssl, o->sni) != 1) {
		snprintf(err, errlen, "cannot set the SNI %s", o->sni);
		goto fail;
	}
	if (o->npkix_names > 0) {
		size_t	 i;

		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		for (i = 0; i < o->npkix_names; i++) {
			if ((i == 0 ? SSL_set1_host(ssl, o->pkix_names[i]) :
			    SSL_add1_host(ssl, o->pkix_names[i])) != 1) {
				snprintf(err, errlen, "cannot verify the name "
				    "%s", o->pkix_names[i]);
				goto fail;
			}
		}
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/*
 * tls_session_verdict - after the handshake: the DANE verdict against
 * tlsa (its effect NONE when there are none), and with pkix the CA
 * store's instead: authenticated, the X.509 error and its failure
 * class. -1 when out of memory (the verdict is then incomplete).
 */
int
tls_session_verdict(SSL *ssl, const struct dane_tlsa_set *tlsa, int pkix,
    struct tls_verdict *v)
{
	long	 err;
	int	 rv;

	const char *peer;

	rv = tls_dane_verdict(ssl, tlsa, NULL, v);
	if (!pkix)
		return rv;
	if ((peer = SSL_get0_peername(ssl)) != NULL)
		strlcpy_(v->peername, peer, sizeof(v->peername));
	err = SSL_get_verify_result(ssl);
	v->pkix = 1;
	v->x509_error = err;
	v->authenticated = err == X509_V_OK;
	v->result_type = err == X509_V_OK ? DMX_FAIL_NONE : dane_fail_x509(err);
	if (err == X509_V_OK)
		snprintf(v->text, sizeof(v->text), "certificate verified "
		    "(WebPKI%s%s)", v->peername[0] ? ", matched " : "",
		    v->peername);
	else
		snprintf(v->text, sizeof(v->text), "certificate verification "
		    "failed: %s", X509_verify_cert_error_string(err));
	return rv;
}

/* tls_session_chain - a copy of the chain the peer sent (leaf first),
 * for the caller to keep (tls_chain_free()); NULL when none or no memory */
STACK_OF(X509) *
tls_session_chain(SSL *ssl)
{
	STACK_OF(X509)	*peer, *copy;
	X509		*x;
	int		 i;

	if ((peer = SSL_get_peer_cert_chain(ssl)) == NULL ||
	    (copy = sk_X509_new_null()) == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(peer); i++) {
		x = sk_X509_value(peer, i);
		if (X509_up_ref(x) != 1)
			break;
		if (!sk_X509_push(copy, x)) {
			X509_free(x);
			break;
		}
	}
	if (sk_X509_num(copy) == 0) {
		sk_X509_free(copy);
		return NULL;
	}
	return copy;
}
