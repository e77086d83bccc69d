/*
 * test_dane_tls.c - the DANE engine gives the same verdict on a live TLS
 * handshake (client and server in memory, over a BIO pair) as offline,
 * sends the base domain as SNI, and explains failures; a resumed session
 * is never DANE-authenticated, the client context resumes nothing, and
 * the protocol floor (tls_policy.c) refuses an older peer.
 *
 * Uses the smtpdane fixture in $DANEMX_SRCDIR/tests/vectors: a CA, a
 * server certificate for mail.test.invalid and its key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "dane/dane.h"
#include "tls/tls.h"
#include "util/util.h"
#include "t.h"

#define R311 "3 1 1 9a8079b2bfff4b8250cdeadfe26a406f27d79d5b1a15ed9310c240cb5bd9de27"
#define R301 "3 0 1 78da6f10cdccd9775872ff871178748df22fcbe6ad66d9d744737cb0e9fa9b3c"
#define R201 "2 0 1 e348526e32d604c1ca313637940ae1035da6055039890de9863885403cd34f63"
#define R211 "2 1 1 c6959b48dd7a09d1f3e2dba1b8c308a5821244d34fa6484c4b2dfb141a23b6e4"
#define RBAD "3 1 1 0000000000000000000000000000000000000000000000000000000000000000"

static char	 fx[4096];
static char	 sni_seen[256];

static const char *
path(const char *file)
{
	static char	 p[4200];

	snprintf(p, sizeof(p), "%s/%s", fx, file);
	return p;
}

/* server_ctx - a TLS server with the fixture's certificate, CA and key */
static SSL_CTX *
server_ctx(void)
{
	SSL_CTX	*ctx;
	X509	*ca;
	FILE	*fp;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_file(ctx, path("test-server.crt"),
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_use_PrivateKey_file(ctx,
	    path("test-server.key"), SSL_FILETYPE_PEM) != 1 ||
	    (fp = fopen(path("ca.pem"), "r")) == NULL) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	ca = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (ca == NULL || SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
		X509_free(ca);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
sni_cb(SSL *s, int *al, void *arg)
{
	const char *n = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	(void)al;
	(void)arg;
	strlcpy_(sni_seen, n ? n : "", sizeof(sni_seen));
	return SSL_TLSEXT_ERR_OK;
}

/*
 * handshake - client and server over a BIO pair. Returns 1 when both
 * finished, 0 when the handshake failed.
 */
static int
handshake(SSL *c, SSL *s)
{
	BIO	*cb, *sb;
	int	 i, rc = 0, rs = 0, e;

	if (BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		return 0;
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 100 && (rc != 1 || rs != 1); i++) {
		if (rc != 1 && (rc = SSL_do_handshake(c)) <= 0) {
			e = SSL_get_error(c, rc);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				break;
		}
		if (rs != 1 && (rs = SSL_do_handshake(s)) <= 0) {
			e = SSL_get_error(s, rs);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				break;
		}
	}
	ERR_clear_error();
	return rc == 1 && rs == 1;
}

static const struct live_case {
	const char	*name, *base, *ref_id;
	const char	*recs[3];
	int		 verify_peer;
	int		 want_hs, want_auth, want_depth;
	long		 want_err;
	enum dane_effect want_effect;
	const char	*want_text;
} cases[] = {
	{ "3 1 1", "mail.test.invalid", NULL, { R311 }, 0, 1, 1, 0, 0,
	    DANE_EFFECT_AUTHENTICATE,
	    "validated successfully (3 1 1 at depth 0)" },
	{ "3 0 1, other name", "other.test.invalid", NULL, { R301 }, 0, 1, 1,
	    0, 0, DANE_EFFECT_AUTHENTICATE,
	    "validated successfully (3 0 1 at depth 0)" },
	{ "2 0 1, final dot", "mail.test.invalid.", NULL, { R201 }, 0, 1, 1,
	    1, 0, DANE_EFFECT_AUTHENTICATE,
	    "validated successfully (2 0 1 at depth 1)" },
	{ "2 1 1 beside a bad 3 1 1", "signedok.test.invalid", NULL,
	    { RBAD, R211 }, 0, 1, 1, 1, 0, DANE_EFFECT_AUTHENTICATE,
	    "validated successfully (2 1 1 at depth 1)" },
	{ "2 1 1, other name", "other.test.invalid", NULL, { R211 }, 0, 1, 0,
	    1, X509_V_ERR_HOSTNAME_MISMATCH, DANE_EFFECT_AUTHENTICATE,
	    "not authenticated: hostname mismatch (X.509 error 62; 2 1 1 "
	    "matched at depth 1)" },
	{ "2 1 1, other name, ref-id", "other.test.invalid",
	    "unsigned.test.invalid", { R211 }, 0, 1, 1, 1, 0,
	    DANE_EFFECT_AUTHENTICATE,
	    "validated successfully (2 1 1 at depth 1)" },
	{ "no match", "mail.test.invalid", NULL, { RBAD }, 0, 1, 0, -1,
	    X509_V_ERR_DANE_NO_MATCH, DANE_EFFECT_AUTHENTICATE,
	    "not authenticated: no matching DANE TLSA records (X.509 error "
	    "65)" },
	{ "no match, VERIFY_PEER", "mail.test.invalid", NULL, { RBAD }, 1, 0,
	    0, -1, X509_V_ERR_DANE_NO_MATCH, DANE_EFFECT_AUTHENTICATE,
	    "not authenticated: no matching DANE TLSA records (X.509 error "
	    "65)" },
	{ "match, VERIFY_PEER", "mail.test.invalid", NULL, { R211 }, 1, 1, 1,
	    1, 0, DANE_EFFECT_AUTHENTICATE,
	    "validated successfully (2 1 1 at depth 1)" },
	{ "all unusable", "mail.test.invalid", NULL,
	    { "1 1 1 00", "3 1 1 00" }, 0, 1, 0, -1, 0, DANE_EFFECT_ENCRYPT,
	    "encrypt only: no usable TLSA records (TLS is required, the peer "
	    "is not authenticated)" },
};

/* add_recs - a secure set from a case's records */
static void
add_recs(struct dane_tlsa_set *set, const struct live_case *c)
{
	char	 err[256];
	size_t	 i;

	dane_tlsa_set_init(set);
	set->secure = 1;
	for (i = 0; i < DMX_NELEM(c->recs) && c->recs[i] != NULL; i++)
		T_CHECK(dane_tlsa_set_add_text(set, c->recs[i], err,
		    sizeof(err)) == 0, "%s: record %zu: %s", c->name, i, err);
}

static void
check_verdict(const char *how, const struct live_case *c,
    const struct tls_verdict *v)
{
	T_CHECK(v->authenticated == c->want_auth, "%s %s: authenticated %d",
	    how, c->name, v->authenticated);
	T_CHECK(v->depth == c->want_depth, "%s %s: depth %d, want %d", how,
	    c->name, v->depth, c->want_depth);
	T_CHECK(v->x509_error == c->want_err, "%s %s: x509 %ld, want %ld",
	    how, c->name, v->x509_error, c->want_err);
	T_CHECK(v->effect == c->want_effect, "%s %s: effect %s", how,
	    c->name, dane_effect_str(v->effect));
	T_CHECK(strcmp(v->text, c->want_text) == 0, "%s %s: text '%s'", how,
	    c->name, v->text);
	if (v->depth >= 0)
		T_CHECK(v->matched >= 0 && v->matched_text != NULL &&
		    strcmp(v->matched_text, c->recs[v->matched]) == 0,
		    "%s %s: matched %d '%s'", how, c->name, v->matched,
		    v->matched_text ? v->matched_text : "(null)");
}

static void
test_live_and_offline(void)
{
	STACK_OF(X509)		*chain, *cas;
	struct tls_dane_opts	 o;
	struct tls_verdict	 v;
	struct dane_tlsa_set	 set;
	SSL_CTX			*sctx, *cctx;
	SSL			*c, *s;
	size_t			 i;
	char			 err[512];
	int			 hs, n;

	sctx = server_ctx();
	cctx = tls_client_ctx_new(err, sizeof(err));
	T_CHECK(sctx != NULL && cctx != NULL, "contexts: %s", err);
	if (sctx == NULL || cctx == NULL)
		goto done;
	SSL_CTX_set_tlsext_servername_callback(sctx, sni_cb);

	/* The offline chain: what the server sends. */
	chain = NULL;
	cas = NULL;
	T_CHECK(tls_chain_load(path("test-server.crt"), &chain, err,
	    sizeof(err)) == TLS_LOAD_OK && tls_chain_load(path("ca.pem"), &cas,
	    err, sizeof(err)) == TLS_LOAD_OK, "chain: %s", err);
	if (chain != NULL && cas != NULL && sk_X509_num(cas) == 1 &&
	    X509_up_ref(sk_X509_value(cas, 0)) == 1)
		sk_X509_push(chain, sk_X509_value(cas, 0));
	tls_chain_free(cas);
	T_CHECK(chain != NULL && sk_X509_num(chain) == 2, "chain of 2");
	if (chain == NULL)
		goto done;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		const struct live_case *k = &cases[i];

		memset(&o, 0, sizeof(o));
		o.base = k->base;
		o.ref_ids = &k->ref_id;
		o.nref_ids = k->ref_id != NULL;
		o.profile = DANE_PROFILE_SMTP;

		/* Live. */
		add_recs(&set, k);
		c = SSL_new(cctx);
		s = SSL_new(sctx);
		n = tls_dane_setup(c, &o, &set, err, sizeof(err));
		T_CHECK(n == (k->want_effect == DANE_EFFECT_AUTHENTICATE ?
		    (int)set.nusable : 0) && n >= 0, "%s: setup %d: %s",
		    k->name, n, err);
		if (k->verify_peer)
			SSL_set_verify(c, SSL_VERIFY_PEER, NULL);
		sni_seen[0] = '\0';
		hs = handshake(c, s);
		T_CHECK(hs == k->want_hs, "%s: handshake %d", k->name, hs);
		T_CHECK(strcmp(sni_seen, "mail.test.invalid") == 0 ||
		    strcmp(sni_seen, "other.test.invalid") == 0 ||
		    strcmp(sni_seen, "signedok.test.invalid") == 0,
		    "%s: SNI '%s'", k->name, sni_seen);
		T_CHECK(strchr(sni_seen, '.') != NULL &&
		    sni_seen[strlen(sni_seen) - 1] != '.', "%s: SNI with a "
		    "final dot", k->name);
		T_CHECK(tls_dane_verdict(c, &set, NULL, &v) == 0, "%s: verdict",
		    k->name);
		check_verdict("live", k, &v);
		if (hs) {
			T_CHECK(v.version[0] != '\0' && v.cipher[0] != '\0' &&
			    v.nchain == 2, "%s: version '%s' cipher '%s' "
			    "chain %zu", k->name, v.version, v.cipher,
			    v.nchain);
		}
		tls_verdict_free(&v);
		SSL_free(c);
		SSL_free(s);
		dane_tlsa_set_free(&set);

		/* Offline, the same engine. */
		add_recs(&set, k);
		T_CHECK(tls_dane_check_chain(cctx, &o, &set, chain, &v, err,
		    sizeof(err)) == 0, "%s: offline: %s", k->name, err);
		check_verdict("offline", k, &v);
		T_CHECK(v.nchain == 2 && strcmp(v.chain[0].subject,
		    "CN=mail.test.invalid") == 0, "%s: chain subject '%s'",
		    k->name, v.nchain ? v.chain[0].subject : "");
		tls_verdict_free(&v);
		dane_tlsa_set_free(&set);
	}
	tls_chain_free(chain);

	/* Bad names are configuration errors, never a silent pass. */
	memset(&o, 0, sizeof(o));
	o.base = ".";
	dane_tlsa_set_init(&set);
	set.secure = 1;
	dane_tlsa_set_add_text(&set, R311, err, sizeof(err));
	c = SSL_new(cctx);
	T_CHECK(tls_dane_setup(c, &o, &set, err, sizeof(err)) == -1 &&
	    strstr(err, "not a domain name") != NULL, "base '.': %s", err);
	SSL_free(c);
	dane_tlsa_set_free(&set);
done:
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/*
 * test_resumption - a session resumed with the right records would pass
 * X.509 verification by inheritance: the verdict must not count it.
 */
static void
test_resumption(void)
{
	struct tls_dane_opts	 o;
	struct tls_verdict	 v;
	struct dane_tlsa_set	 set;
	SSL_CTX			*sctx, *cctx, *ours;
	SSL_SESSION		*sess = NULL;
	SSL			*c, *s;
	char			 err[512];
	int			 i;

	ours = tls_client_ctx_new(err, sizeof(err));
	T_CHECK(ours != NULL, "client context: %s", err);
	if (ours == NULL)
		return;
	T_CHECK(SSL_CTX_get_session_cache_mode(ours) == SSL_SESS_CACHE_OFF,
	    "the client context caches sessions: mode %ld",
	    SSL_CTX_get_session_cache_mode(ours));
	T_CHECK((SSL_CTX_get_options(ours) & SSL_OP_NO_TICKET) != 0,
	    "the client context asks for session tickets");
	T_CHECK(SSL_CTX_get_min_proto_version(ours) == TLS1_VERSION,
	    "the client context's floor: %lx",
	    (long)SSL_CTX_get_min_proto_version(ours));
	SSL_CTX_free(ours);

	/* A context that does resume (as a careless cache would). */
	sctx = server_ctx();
	cctx = SSL_CTX_new(TLS_client_method());
	T_CHECK(sctx != NULL && cctx != NULL && tls_ctx_dane_init(cctx, err,
	    sizeof(err)) == 0, "contexts: %s", err);
	if (sctx == NULL || cctx == NULL)
		goto done;
	SSL_CTX_set_max_proto_version(sctx, TLS1_2_VERSION);
	memset(&o, 0, sizeof(o));
	o.base = "mail.test.invalid";
	o.profile = DANE_PROFILE_SMTP;
	for (i = 0; i < 2; i++) {
		dane_tlsa_set_init(&set);
		set.secure = 1;
		dane_tlsa_set_add_text(&set, R311, err, sizeof(err));
		c = SSL_new(cctx);
		s = SSL_new(sctx);
		T_CHECK(tls_dane_setup(c, &o, &set, err, sizeof(err)) == 1,
		    "resumption %d: setup: %s", i, err);
		if (sess != NULL)
			SSL_set_session(c, sess);
		T_CHECK(handshake(c, s), "resumption %d: handshake", i);
		T_CHECK(SSL_session_reused(c) == i, "resumption %d: reused %d",
		    i, SSL_session_reused(c));
		T_CHECK(tls_dane_verdict(c, &set, NULL, &v) == 0,
		    "resumption %d: verdict", i);
		T_CHECK(v.authenticated == !i, "resumption %d: authenticated "
		    "%d (%s)", i, v.authenticated, v.text);
		T_CHECK(i == 0 || (v.resumed && strcmp(v.text, "not "
		    "authenticated: a resumed TLS session (no certificate was "
		    "verified)") == 0 && v.result_type ==
		    DMX_FAIL_VALIDATION), "resumed: '%s'", v.text);
		if (i == 0)
			sess = SSL_get1_session(c);
		/* Closed cleanly, else OpenSSL forgets the session. */
		SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		tls_verdict_free(&v);
		SSL_free(c);
		SSL_free(s);
		dane_tlsa_set_free(&set);
	}
done:
	SSL_SESSION_free(sess);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* test_floor - tls_ssl_floor() raises one connection's floor: TLS 1.3
 * demanded of a TLS 1.2 server fails, TLS 1.2 passes */
static void
test_floor(void)
{
	SSL_CTX	*sctx, *cctx;
	SSL	*c, *s;
	char	 err[512];
	int	 i, hs;

	sctx = server_ctx();
	cctx = tls_client_ctx_new(err, sizeof(err));
	T_CHECK(sctx != NULL && cctx != NULL, "contexts: %s", err);
	if (sctx == NULL || cctx == NULL)
		goto done;
	SSL_CTX_set_max_proto_version(sctx, TLS1_2_VERSION);
	for (i = 0; i < 2; i++) {
		c = SSL_new(cctx);
		s = SSL_new(sctx);
		T_CHECK(tls_ssl_floor(c, i ? TLS1_3_VERSION : TLS1_2_VERSION) ==
		    0 && SSL_get_min_proto_version(c) == (i ? TLS1_3_VERSION :
		    TLS1_2_VERSION), "floor %d: min %lx", i,
		    (long)SSL_get_min_proto_version(c));
		hs = handshake(c, s);
		T_CHECK(hs == !i, "floor %s against a TLS 1.2 server: "
		    "handshake %d", i ? "TLS 1.3" : "TLS 1.2", hs);
		SSL_free(c);
		SSL_free(s);
	}
	T_CHECK(tls_ctx_policy(cctx, 1, TLS1_3_VERSION, err,
	    sizeof(err)) == 0 && SSL_CTX_get_min_proto_version(cctx) == TLS1_3_VERSION,
	    "tls_ctx_policy: %s", err);
done:
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_load(void)
{
	STACK_OF(X509)	*sk;
	char		 err[512];

	T_CHECK(tls_chain_load(path("missing.pem"), &sk, err, sizeof(err)) ==
	    TLS_LOAD_UNREADABLE && sk == NULL, "missing file");
	T_CHECK(tls_chain_load(fx, &sk, err, sizeof(err)) ==
	    TLS_LOAD_UNREADABLE, "a directory");
	T_CHECK(tls_chain_load(path("test-server.key"), &sk, err,
	    sizeof(err)) == TLS_LOAD_MALFORMED && sk == NULL, "a key file");
	T_CHECK(tls_chain_load(path("test-server.crt"), &sk, err,
	    sizeof(err)) == TLS_LOAD_OK && sk_X509_num(sk) == 1,
	    "text before PEM is skipped: %s", err);
	tls_chain_free(sk);
}

int
main(void)
{
	const char	*src = getenv("DANEMX_SRCDIR");

	if (src == NULL) {
		fprintf(stderr, "test_dane_tls: DANEMX_SRCDIR is not set\n");
		return 1;
	}
	snprintf(fx, sizeof(fx), "%s/tests/vectors/pennocktech-smtpdane", src);
	test_load();
	test_live_and_offline();
	test_resumption();
	test_floor();
	return t_done("test_dane_tls");
}
