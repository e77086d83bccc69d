/*
 * tls_dane.c - arm an SSL handle with a TLSA set, and read the verdict
 *
 * tls_client_ctx_new() returns an SSL_CTX with DANE enabled and no local
 * CA store (RFC 7672 uses none); the caller frees it with SSL_CTX_free().
 * tls_dane_setup() configures one SSL handle: SNI and the reference
 * identifiers from the TLSA base domain, name-check flags, and every
 * usable record via SSL_dane_tlsa_add(). tls_dane_verdict() reads what
 * OpenSSL decided, after a live handshake or tls_dane_verify_offline(),
 * into a struct tls_verdict whose strings tls_verdict_free() releases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"
#include "log/log.h"
#include "util/util.h"

/* ssl_error - the last OpenSSL error as text, for a reason */
static void
ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long	 e = ERR_get_error();
	char		 buf[256];

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		strlcpy_(buf, "no OpenSSL error", sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
	ERR_clear_error();
}

/*
 * tls_ctx_dane_init - enable DANE on ctx, with SHA2-512(2) ranked above
 * SHA2-256(1): of the records for one usage and selector, only those of
 * the strongest matching type count (RFC 7671 section 9, rule 24).
 * Call before any SSL_new(ctx). Returns 0, or -1 with a reason.
 */
int
tls_ctx_dane_init(SSL_CTX *ctx, char *err, size_t errlen)
{
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		ssl_error(err, errlen, "SSL_CTX_dane_enable");
		return -1;
	}
	if (SSL_CTX_dane_mtype_set(ctx, EVP_sha256(), DANE_MTYPE_SHA256,
	    1) <= 0 || SSL_CTX_dane_mtype_set(ctx, EVP_sha512(),
	    DANE_MTYPE_SHA512, 2) <= 0) {
		ssl_error(err, errlen, "SSL_CTX_dane_mtype_set");
		return -1;
	}
	return 0;
}

/*
 * tls_client_ctx_new - a TLS client context for DANE: no local trust
 * store, verify mode NONE (the verdict decides), DANE enabled, the TLS
 * policy of tls_policy.c with the opportunistic floor, no session
 * resumption. Returns NULL with a reason.
 */
SSL_CTX *
tls_client_ctx_new(char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		ssl_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Idle sessions (most of a relay's) need no 34 KiB of record
	 * buffers: bench/sessions.sh measured -32 KiB heap per session. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* The lowest floor (opportunistic TLS); mandatory TLS raises it
	 * per connection (tls_ssl_floor()). No session cache, no tickets. */
	if (tls_ctx_policy(ctx, 1, TLS_OPP_MIN_DEFAULT, err, errlen) == -1 ||
	    tls_ctx_dane_init(ctx, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * name_copy - a reference identifier as OpenSSL wants it: without the
 * final dot (with it, every DANE-TA name check fails with error 62).
 */
static int
name_copy(char *out, size_t outlen, const char *name, char *err,
    size_t errlen)
{
	size_t	 n, i;

	n = name == NULL ? 0 : strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen) {
		snprintf(err, errlen, "'%s' is not a domain name",
		    name == NULL ? "" : name);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f) {
			snprintf(err, errlen, "'%s' is not a domain name",
			    name);
			return -1;
		}
	}
	memcpy(out, name, n);
	out[n] = '\0';
	return 0;
}

/*
 * tls_dane_setup - prepare ssl, before the handshake, to authenticate
 * its peer against set under o. Classifies the set; records OpenSSL
 * rejects become DANE_UNUSABLE_REJECTED. Returns the number of records
 * in force (0: the set asks for encryption only, or for nothing), or
 * -1 with a reason on an internal or configuration error.
 */
int
tls_dane_setup(SSL *ssl, const struct tls_dane_opts *o,
    struct dane_tlsa_set *set, char *err, size_t errlen)
{
	X509_VERIFY_PARAM	*param = SSL_get0_param(ssl);
	char			 base[DMX_NAME_MAX], name[DMX_NAME_MAX];
	size_t			 i;
	int			 added = 0, r;

	if (name_copy(base, sizeof(base), o->base, err, errlen) == -1)
		return -1;
	dane_tlsa_set_classify(set, o->profile);
	if (SSL_set_tlsext_host_name(ssl, base) != 1) {
		ssl_error(err, errlen, "SNI");
		return -1;
	}
	if (o->check_time != 0)
		X509_VERIFY_PARAM_set_time(param, o->check_time);
	if (dane_tlsa_set_effect(set) != DANE_EFFECT_AUTHENTICATE)
		return 0;

	if (SSL_dane_enable(ssl, base) <= 0) {
		ssl_error(err, errlen, "SSL_dane_enable");
		return -1;
	}
	for (i = 0; i < o->nref_ids; i++) {
		if (name_copy(name, sizeof(name), o->ref_ids[i], err,
		    errlen) == -1)
			return -1;
		if (SSL_add1_host(ssl, name) != 1) {
			ssl_error(err, errlen, "SSL_add1_host");
			return -1;
		}
	}
	/* A wildcard matches one whole left-most label (rule 22). */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!o->ee_namechecks)
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);

	for (i = 0; i < set->n; i++) {
		struct dane_tlsa *t = &set->recs[i];

		if (t->why != DANE_USABLE)
			continue;
		r = SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype,
		    t->data, t->len);
		if (r < 0) {
			ssl_error(err, errlen, "SSL_dane_tlsa_add");
			return -1;
		}
		if (r == 0) {
			log_debug("TLSA %u %u %u rejected by OpenSSL",
			    t->usage, t->selector, t->mtype);
			ERR_clear_error();
			t->why = DANE_UNUSABLE_REJECTED;
			set->nusable--;
			continue;
		}
		added++;
	}
	return added;
}

/* name_text - an X509_NAME in RFC 2253 form, UTF-8 kept; caller frees */
static char *
name_text(const X509_NAME *n)
{
	BIO	*b;
	char	*p, *s = NULL;
	long	 len;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 &
	    ~ASN1_STRFLGS_ESC_MSB) >= 0 && (len = BIO_get_mem_data(b, &p)) >= 0
	    && (s = malloc((size_t)len + 1)) != NULL) {
		if (len > 0)	/* an empty name has no data at all */
			memcpy(s, p, (size_t)len);
		s[len] = '\0';
	}
	BIO_free(b);
	return s;
}

/* verdict_chain - record the subjects and issuers of chain */
static int
verdict_chain(struct tls_verdict *v, STACK_OF(X509) *chain)
{
	int	 i, n = chain == NULL ? 0 : sk_X509_num(chain);
	X509	*x;

	if (n <= 0)
		return 0;
	if ((v->chain = calloc((size_t)n, sizeof(*v->chain))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		x = sk_X509_value(chain, i);
		v->chain[i].subject = name_text(X509_get_subject_name(x));
		v->chain[i].issuer = name_text(X509_get_issuer_name(x));
		v->nchain++;
		if (v->chain[i].subject == NULL || v->chain[i].issuer == NULL)
			return -1;
	}
	return 0;
}

/* verdict_match - which record OpenSSL says matched, and at what depth */
static void
verdict_match(SSL *ssl, const struct dane_tlsa_set *set,
    struct tls_verdict *v)
{
	const unsigned char	*data = NULL;
	struct dane_tlsa	 t;
	EVP_PKEY		*mspki = NULL;
	size_t			 dlen = 0, i;
	long			 saved = SSL_get_verify_result(ssl);

	/*
	 * OpenSSL reports the match only when the verify result is OK;
	 * we also want it after a later failure (a DANE-TA match and a
	 * name mismatch), so look with the result briefly set to OK.
	 */
	SSL_set_verify_result(ssl, X509_V_OK);
	v->depth = SSL_get0_dane_tlsa(ssl, &v->m_usage, &v->m_selector,
	    &v->m_mtype, &data, &dlen);
	if (v->depth >= 0) {
		(void)SSL_get0_dane_authority(ssl, NULL, &mspki);
		v->ta_key = mspki != NULL;
	}
	SSL_set_verify_result(ssl, saved);
	if (v->depth < 0) {
		v->depth = -1;
		return;
	}
	for (i = 0; i < set->n; i++) {
		if (set->recs[i].why == DANE_USABLE &&
		    dane_tlsa_equal(&set->recs[i], v->m_usage, v->m_selector,
		    v->m_mtype, data, dlen)) {
			v->matched = (int)i;
			break;
		}
	}
	memset(&t, 0, sizeof(t));
	t.usage = v->m_usage;
	t.selector = v->m_selector;
	t.mtype = v->m_mtype;
	t.data = (unsigned char *)data;	/* not freed: OpenSSL's */
	t.len = dlen;
	v->matched_text = dane_tlsa_text(&t, 0);
}

/*
 * tls_dane_verdict - what OpenSSL decided for ssl, set up by
 * tls_dane_setup() with set and then verified (live or offline).
 * chain is the peer chain to describe; NULL takes the live one.
 * Returns 0, or -1 when out of memory (v is then partly filled; free
 * it all the same).
 */
int
tls_dane_verdict(SSL *ssl, const struct dane_tlsa_set *set,
    STACK_OF(X509) *chain, struct tls_verdict *v)
{
	const SSL_CIPHER	*c;
	const char		*peer;
	char			 where[128];
	int			 rv = 0;

	memset(v, 0, sizeof(*v));
	v->depth = -1;
	v->matched = -1;
	v->effect = dane_tlsa_set_effect(set);
	if (chain == NULL)
		chain = SSL_get_peer_cert_chain(ssl);
	if (verdict_chain(v, chain) == -1)
		rv = -1;
	if (SSL_is_init_finished(ssl)) {
		strlcpy_(v->version, SSL_get_version(ssl), sizeof(v->version));
		if ((c = SSL_get_current_cipher(ssl)) != NULL)
			strlcpy_(v->cipher, SSL_CIPHER_get_name(c),
			    sizeof(v->cipher));
		v->resumed = SSL_session_reused(ssl);
	}

	switch (v->effect) {
	case DANE_EFFECT_NONE:
		v->result_type = DMX_FAIL_NONE;
		snprintf(v->text, sizeof(v->text), "does not apply: no secure "
		    "TLSA records");
		return rv;
	case DANE_EFFECT_ENCRYPT:
		v->result_type = DMX_FAIL_TLSA_INVALID;
		snprintf(v->text, sizeof(v->text), "encrypt only: no usable "
		    "TLSA records (TLS is required, the peer is not "
		    "authenticated)");
		return rv;
	case DANE_EFFECT_AUTHENTICATE:
		break;
	}

	v->x509_error = SSL_get_verify_result(ssl);
	verdict_match(ssl, set, v);
	if (v->depth >= 0 && v->matched_text == NULL)
		rv = -1;
	if ((peer = SSL_get0_peername(ssl)) != NULL)
		strlcpy_(v->peername, peer, sizeof(v->peername));

	if (v->resumed) {
		/*
		 * A resumed session verified no certificate now, and its
		 * verdict may be from other TLSA records: never DANE-
		 * authenticated (client contexts resume nothing anyway,
		 * tls_ctx_policy()).
		 */
		v->result_type = DMX_FAIL_VALIDATION;
		snprintf(v->text, sizeof(v->text), "not authenticated: a "
		    "resumed TLS session (no certificate was verified)");
	} else if (v->x509_error == X509_V_OK && v->depth >= 0) {
		v->authenticated = 1;
		v->result_type = DMX_FAIL_NONE;
		snprintf(v->text, sizeof(v->text), "validated successfully "
		    "(%u %u %u at depth %d)", v->m_usage, v->m_selector,
		    v->m_mtype, v->depth);
	} else if (v->x509_error == X509_V_OK) {
		v->result_type = DMX_FAIL_VALIDATION;
		snprintf(v->text, sizeof(v->text), "not authenticated: no "
		    "certificate was verified");
	} else {
		v->result_type = dane_fail_x509(v->x509_error);
		where[0] = '\0';
		if (v->depth >= 0)
			snprintf(where, sizeof(where), "; %u %u %u matched at "
			    "depth %d", v->m_usage, v->m_selector, v->m_mtype,
			    v->depth);
		snprintf(v->text, sizeof(v->text), "not authenticated: %s "
		    "(X.509 error %ld%s)",
		    X509_verify_cert_error_string(v->x509_error),
		    v->x509_error, where);
	}
	return rv;
}

/* tls_verdict_free - free the verdict's strings */
void
tls_verdict_free(struct tls_verdict *v)
{
	size_t	 i;

	for (i = 0; i < v->nchain; i++) {
		free(v->chain[i].subject);
		free(v->chain[i].issuer);
	}
	free(v->chain);
	free(v->matched_text);
	memset(v, 0, sizeof(*v));
	v->depth = -1;
	v->matched = -1;
}

/*
 * tls_verdict_json - append the verdict's members (no braces) to b:
 * authenticated, effect, depth, x509_error, x509_error_text, matched,
 * result_type, peername, tls_version, cipher, resumed, chain, verdict.
 * Returns 0, or -1 when b is full.
 */
int
tls_verdict_json(struct buf *b, const struct tls_verdict *v)
{
	size_t	 i;
	int	 r = 0;

	r |= json_kv_bool(b, "authenticated", v->authenticated);
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "effect", dane_effect_str(v->effect));
	r |= buf_adds(b, ",");
	r |= json_kv_int(b, "depth", v->depth);
	r |= buf_adds(b, ",");
	r |= json_kv_int(b, "x509_error", v->x509_error);
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "x509_error_text", v->x509_error == 0 ? NULL :
	    X509_verify_cert_error_string(v->x509_error));
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "matched", v->matched_text);
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "result_type",
	    fail_rfc8460(v->result_type));
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "peername", v->peername[0] ? v->peername : NULL);
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "tls_version", v->version[0] ? v->version : NULL);
	r |= buf_adds(b, ",");
	r |= json_kv_str(b, "cipher", v->cipher[0] ? v->cipher : NULL);
	r |= buf_adds(b, ",");
	r |= json_kv_bool(b, "resumed", v->resumed);
	r |= buf_adds(b, ",\"chain\":[");
	for (i = 0; i < v->nchain; i++) {
		r |= buf_adds(b, i > 0 ? ",{" : "{");
		r |= json_kv_int(b, "depth", (long long)i);
		r |= buf_adds(b, ",");
		r |= json_kv_str(b, "subject", v->chain[i].subject);
		r |= buf_adds(b, ",");
		r |= json_kv_str(b, "issuer", v->chain[i].issuer);
		r |= buf_adds(b, "}");
	}
	r |= buf_adds(b, "],");
	r |= json_kv_str(b, "verdict", v->text);
	return r ? -1 : 0;
}
