/*
 * tls_offline.c - verify a certificate chain with an SSL handle's DANE
 * state, without a peer, exactly as the TLS handshake would
 *
 * tls_dane_verify_offline() repeats what libssl does with the chain a
 * server sends (ssl_verify_cert_chain() in OpenSSL): an X509_STORE_CTX on
 * the context's store, the handle's verify parameters and its DANE
 * state, then X509_verify_cert(). The result lands in the handle, where
 * tls_dane_verdict() reads it as it would after a live handshake.
 * tls_chain_load() returns a chain the caller frees with
 * tls_chain_free().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "tls/tls.h"

/*
 * tls_dane_verify_offline - verify chain (leaf first, as a server sends
 * it) for ssl, prepared by tls_dane_setup(). Returns 0 whatever the
 * outcome (it is in SSL_get_verify_result()), or -1 with a reason on an
 * internal error.
 */
int
tls_dane_verify_offline(SSL *ssl, STACK_OF(X509) *chain, char *err,
    size_t errlen)
{
	X509_STORE_CTX		*xctx;
	X509_VERIFY_PARAM	*param;
	SSL_verify_cb		 cb;
	X509_STORE		*store;

	if (chain == NULL || sk_X509_num(chain) < 1) {
		snprintf(err, errlen, "no certificate to verify");
		return -1;
	}
	store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	if ((xctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(xctx, store, sk_X509_value(chain, 0),
	    chain) ||
	    !X509_STORE_CTX_set_ex_data(xctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx(), ssl)) {
		X509_STORE_CTX_free(xctx);
		snprintf(err, errlen, "cannot set up certificate "
		    "verification");
		ERR_clear_error();
		return -1;
	}
	/* As libssl does for a client checking its server. */
	param = X509_STORE_CTX_get0_param(xctx);
	X509_STORE_CTX_set0_dane(xctx, SSL_get0_dane(ssl));
	X509_STORE_CTX_set_default(xctx, "ssl_server");
	X509_VERIFY_PARAM_set_auth_level(param, SSL_get_security_level(ssl));
	X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl));
	if ((cb = SSL_get_verify_callback(ssl)) != NULL)
		X509_STORE_CTX_set_verify_cb(xctx, cb);

	(void)X509_verify_cert(xctx);
	SSL_set_verify_result(ssl, X509_STORE_CTX_get_error(xctx));
	X509_VERIFY_PARAM_move_peername(SSL_get0_param(ssl), param);
	X509_STORE_CTX_free(xctx);
	ERR_clear_error();
	return 0;
}

/*
 * tls_dane_check_chain - the offline checker in one call: a handle on
 * ctx, set up with o and set, chain verified, verdict in v (free it with
 * tls_verdict_free()). Returns 0, or -1 with a reason.
 */
int
tls_dane_check_chain(SSL_CTX *ctx, const struct tls_dane_opts *o,
    struct dane_tlsa_set *set, STACK_OF(X509) *chain, struct tls_verdict *v,
    char *err, size_t errlen)
{
	SSL	*ssl;
	int	 rv = -1;

	memset(v, 0, sizeof(*v));
	v->depth = v->matched = -1;
	if ((ssl = SSL_new(ctx)) == NULL) {
		snprintf(err, errlen, "SSL_new failed");
		ERR_clear_error();
		return -1;
	}
	if (tls_dane_setup(ssl, o, set, err, errlen) == -1 ||
	    tls_dane_verify_offline(ssl, chain, err, errlen) == -1)
		goto done;
	if (tls_dane_verdict(ssl, set, chain, v) == -1) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rv = 0;
done:
	SSL_free(ssl);
	return rv;
}

/*
 * tls_chain_load - read certificates from path: PEM blocks (text between
 * them is skipped), or one DER certificate. Returns TLS_LOAD_OK,
 * TLS_LOAD_UNREADABLE (errno kept) or TLS_LOAD_MALFORMED, with a reason.
 */
int
tls_chain_load(const char *path, STACK_OF(X509) **out, char *err,
    size_t errlen)
{
	STACK_OF(X509)	*sk;
	struct stat	 st;
	unsigned long	 e;
	X509		*x;
	BIO		*b;
	int		 saved;

	*out = NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", path, strerror(EISDIR));
		errno = EISDIR;
		return TLS_LOAD_UNREADABLE;
	}
	if ((b = BIO_new_file(path, "rb")) == NULL) {
		saved = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		ERR_clear_error();
		errno = saved;
		return TLS_LOAD_UNREADABLE;
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		BIO_free(b);
		snprintf(err, errlen, "out of memory");
		return TLS_LOAD_MALFORMED;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto bad;
		}
	}
	e = ERR_peek_last_error();
	if (sk_X509_num(sk) > 0) {
		/* The loop ends at EOF (no start line) or at a bad block. */
		if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
		    ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
			snprintf(err, errlen, "%s: certificate %d does not "
			    "parse", path, sk_X509_num(sk) + 1);
			goto bad;
		}
	} else if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		/* No PEM at all: perhaps one DER certificate. */
		ERR_clear_error();
		(void)BIO_reset(b);
		if ((x = d2i_X509_bio(b, NULL)) == NULL ||
		    !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(err, errlen, "%s: no certificate (expected "
			    "PEM or DER)", path);
			goto bad;
		}
	} else {
		snprintf(err, errlen, "%s: certificate 1 does not parse",
		    path);
		goto bad;
	}
	ERR_clear_error();
	BIO_free(b);
	*out = sk;
	return TLS_LOAD_OK;
bad:
	ERR_clear_error();
	BIO_free(b);
	tls_chain_free(sk);
	return TLS_LOAD_MALFORMED;
}

/* tls_chain_free - free a chain and its certificates */
void
tls_chain_free(STACK_OF(X509) *sk)
{
	sk_X509_pop_free(sk, X509_free);
}
