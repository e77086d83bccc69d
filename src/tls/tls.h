/*
 * tls.h - DANE enforcement through OpenSSL, and the verdict it reaches.
 *
 * All chain matching is OpenSSL's (X509_verify_cert() with the SSL
 * handle's DANE state); nothing here compares digests by hand. One
 * code path serves a live connection and the offline checker:
 *
 *	ctx = tls_client_ctx_new(...);		   once; SSL_CTX_free()
 *	ssl = SSL_new(ctx);
 *	tls_dane_setup(ssl, &opts, set, ...);	   SNI, names, TLSA records
 *	  live:    STARTTLS, SSL_connect() ...	   OpenSSL verifies
 *	  offline: tls_dane_verify_offline(ssl, chain, ...)
 *	tls_dane_verdict(ssl, set, chain_or_NULL, &v);
 *	... use v ...; tls_verdict_free(&v); SSL_free(ssl);
 *
 * tls_dane_setup() leaves the verify mode alone. With the default
 * SSL_VERIFY_NONE the handshake completes whatever the outcome and the
 * caller decides from the verdict (send QUIT when not authenticated,
 * unless auditing); SSL_VERIFY_PEER makes OpenSSL abort the handshake
 * instead, which is also fine: the verdict still explains why.
 *
 * The set passed to tls_dane_setup() is classified there and must stay
 * unchanged until tls_dane_verdict(). A verdict owns its strings; free
 * them with tls_verdict_free().
 */
#ifndef DANEMX_TLS_H
#define DANEMX_TLS_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dane/dane.h"

struct buf;

struct tls_dane_opts {
	const char		*base;		/* TLSA base domain; also SNI */
	const char *const	*ref_ids;	/* further names for DANE-TA(2) */
	size_t			 nref_ids;
	enum dane_profile	 profile;	/* SMTP unless testing */
	int			 ee_namechecks;	/* name checks for DANE-EE(3) */
	time_t			 check_time;	/* 0: now */
};

struct tls_peer_cert {
	char		*subject;	/* RFC 2253; owned */
	char		*issuer;	/* owned */
};

struct tls_verdict {
	enum dane_effect effect;	/* what the TLSA set asked for */
	int		 authenticated;
	int		 depth;		/* where a record matched, else -1 */
	int		 matched;	/* index into the set, else -1 */
	uint8_t		 m_usage, m_selector, m_mtype;	/* when matched */
	char		*matched_text;	/* "3 1 1 <hex>" or NULL; owned */
	int		 ta_key;	/* a DNS-only 2 1 0 key signed depth */
	long		 x509_error;	/* X509_V_*, 0 when none */
	enum dmx_fail result_type;	/* RFC 8460; NONE if ok */
	int		 resumed;	/* session resumption, no new match */
	int		 pkix;		/* WebPKI decided, not DANE (below) */
	struct tls_peer_cert *chain;	/* as the peer sent it, leaf first */
	size_t		 nchain;
	char		 version[32];	/* "TLSv1.3", "" offline */
	char		 cipher[64];
	char		 peername[DMX_NAME_MAX]; /* name that matched, or "" */
	char		 text[512];	/* one line, e.g. "validated */
					/* successfully (3 1 1 at depth 0)" */
};

/* TLS floors (tls_policy.c says why): mandatory outbound, opportunistic
 * outbound, inbound. */
#define TLS_MIN_DEFAULT		TLS1_2_VERSION
#define TLS_OPP_MIN_DEFAULT	TLS1_VERSION
#define TLS_SMTPD_MIN_DEFAULT	TLS1_2_VERSION

/* tls_policy.c */
int	 tls_version_parse(const char *, int *);
const char *tls_version_name(int);
int	 tls_ctx_policy(SSL_CTX *, int client, int min_version, char *err,
	    size_t errlen);
int	 tls_ssl_floor(SSL *, int min_version);

/* tls_dane.c */
SSL_CTX	*tls_client_ctx_new(char *err, size_t errlen);
int	 tls_ctx_dane_init(SSL_CTX *, char *err, size_t errlen);
int	 tls_dane_setup(SSL *, const struct tls_dane_opts *,
	    struct dane_tlsa_set *, char *err, size_t errlen);
int	 tls_dane_verdict(SSL *, const struct dane_tlsa_set *,
	    STACK_OF(X509) *chain, struct tls_verdict *);
void	 tls_verdict_free(struct tls_verdict *);
int	 tls_verdict_json(struct buf *, const struct tls_verdict *);

/* How to arm OpenSSL for one outbound session (tls_session.c). */
struct tls_session_opts {
	const struct tls_dane_opts *dane;	/* DANE: base (SNI), ref ids;
						   NULL: no DANE */
	struct dane_tlsa_set	*tlsa;		/* with dane */
	const char		*sni;		/* without dane; NULL: none */
	const char *const	*pkix_names;	/* PKIX: any of these names
						   (".d": d's subdomains) */
	size_t			 npkix_names;
	int			 min_version;	/* protocol floor */
};

/* A WebPKI context, loaded on first use: the system's CA store, or the
 * roots in ca_file (borrowed). */
struct tls_pkix {
	const char	*ca_file;
	SSL_CTX		*ctx;
	int		 failed;
	char		 err[256];
};

/* tls_session.c */
SSL_CTX	*tls_pkix_ctx_new(const char *ca_file, char *err, size_t errlen);
SSL_CTX	*tls_pkix_get(struct tls_pkix *);
void	 tls_pkix_free(struct tls_pkix *);
SSL	*tls_session_new(SSL_CTX *, const struct tls_session_opts *,
	    char *err, size_t errlen);
int	 tls_session_verdict(SSL *, const struct dane_tlsa_set *, int pkix,
	    struct tls_verdict *);
STACK_OF(X509) *tls_session_chain(SSL *);

/* tls_offline.c */
int	 tls_dane_verify_offline(SSL *, STACK_OF(X509) *chain, char *err,
	    size_t errlen);
int	 tls_dane_check_chain(SSL_CTX *, const struct tls_dane_opts *,
	    struct dane_tlsa_set *, STACK_OF(X509) *chain,
	    struct tls_verdict *, char *err, size_t errlen);
#define TLS_LOAD_OK		0
#define TLS_LOAD_UNREADABLE	(-1)	/* errno says why */
#define TLS_LOAD_MALFORMED	(-2)
int	 tls_chain_load(const char *path, STACK_OF(X509) **out, char *err,
	    size_t errlen);
void	 tls_chain_free(STACK_OF(X509) *);

#endif /* DANEMX_TLS_H */
