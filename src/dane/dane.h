/*
 * dane.h - TLSA records and the decisions made from them, before any TLS.
 *
 * dane_tlsa.c parses TLSA records from presentation form ("3 1 1 ABCD",
 * or a whole zone-file line) and from DNS wire rdata into a struct
 * dane_tlsa, whose data the record owns (dane_tlsa_clear() frees it).
 * A struct dane_tlsa_set owns copies of its records; free it with
 * dane_tlsa_set_free().
 *
 * dane_policy.c classifies each record as usable or unusable for the
 * chosen profile (RFC 7672 section 3.1.3, RFC 7671 section 5), says what
 * a whole RRset asks of the connection (authenticate, encrypt only, or
 * nothing), and maps failures to RFC 8460 result types. Unusable
 * records are not errors: they stay in the set with a reason.
 *
 * Parsers read untrusted text and bytes: a malformed record is an error
 * with a reason written to the caller's buffer, never a crash.
 */
#ifndef DANEMX_DANE_H
#define DANEMX_DANE_H

#include <stddef.h>
#include <stdint.h>

#include "danemx.h"

/* Field values (RFC 6698 section 2.1, RFC 7218 acronyms). */
#define DANE_USAGE_PKIX_TA	0
#define DANE_USAGE_PKIX_EE	1
#define DANE_USAGE_DANE_TA	2
#define DANE_USAGE_DANE_EE	3
#define DANE_SELECTOR_CERT	0
#define DANE_SELECTOR_SPKI	1
#define DANE_MTYPE_FULL		0
#define DANE_MTYPE_SHA256	1
#define DANE_MTYPE_SHA512	2

#define DANE_DATA_MAX		65532	/* 65535 octets of rdata less 3 */
#define DANE_MAX_RECORDS	1024	/* records in one set */
#define DANE_LINE_MAX		(2 * DANE_DATA_MAX + 4096) /* one text line */

/* Which records may be used. */
enum dane_profile {
	DANE_PROFILE_SMTP,	/* RFC 7672: DANE-TA(2) and DANE-EE(3) only */
	DANE_PROFILE_ALL	/* RFC 6698/7671: PKIX-TA(0), PKIX-EE(1) too */
};

/* Why a record cannot be used; DANE_USABLE when it can. */
enum dane_unusable {
	DANE_USABLE = 0,
	DANE_UNUSABLE_PKIX,		/* usage 0 or 1 under the SMTP profile */
	DANE_UNUSABLE_USAGE,		/* usage > 3 */
	DANE_UNUSABLE_SELECTOR,		/* selector > 1 */
	DANE_UNUSABLE_MTYPE,		/* matching type > 2 */
	DANE_UNUSABLE_DIGEST_LEN,	/* not 32 (SHA2-256) or 64 (SHA2-512) */
	DANE_UNUSABLE_FULL_CERT,	/* x 0 0 data is not a DER certificate */
	DANE_UNUSABLE_FULL_SPKI,	/* x 1 0 data is not a DER public key */
	DANE_UNUSABLE_REJECTED		/* OpenSSL's SSL_dane_tlsa_add() said no */
};

/* What a TLSA RRset asks of the connection (RFC 7672 section 2.2). */
enum dane_effect {
	DANE_EFFECT_NONE,		/* no or insecure TLSA: opportunistic TLS */
	DANE_EFFECT_ENCRYPT,		/* secure, all unusable: TLS, no auth */
	DANE_EFFECT_AUTHENTICATE	/* a usable record: the peer must match */
};


struct dane_tlsa {
	uint8_t		 usage, selector, mtype;
	size_t		 len;
	unsigned char	*data;		/* owned; NULL when len is 0 */
	enum dane_unusable why;		/* set by dane_tlsa_set_classify() */
	unsigned	 line;		/* source line for messages, 0 if none */
};

struct dane_tlsa_set {
	struct dane_tlsa *recs;		/* owned, with their data */
	size_t		 n, cap;
	int		 secure;	/* the RRset validated as DNSSEC secure */
	size_t		 nusable;	/* after dane_tlsa_set_classify() */
};

/* dane_tlsa.c */
int	 dane_tlsa_parse_text(const char *text, struct dane_tlsa *out,
	    char *err, size_t errlen);
int	 dane_tlsa_parse_line(const char *line, struct dane_tlsa *out,
	    char *err, size_t errlen);
int	 dane_tlsa_parse_wire(const unsigned char *rdata, size_t len,
	    struct dane_tlsa *out, char *err, size_t errlen);
void	 dane_tlsa_clear(struct dane_tlsa *);
char	*dane_tlsa_text(const struct dane_tlsa *, int upper);
int	 dane_tlsa_equal(const struct dane_tlsa *, uint8_t usage,
	    uint8_t selector, uint8_t mtype, const unsigned char *data,
	    size_t len);
void	 dane_tlsa_set_init(struct dane_tlsa_set *);
int	 dane_tlsa_set_add(struct dane_tlsa_set *, const struct dane_tlsa *);
int	 dane_tlsa_set_add_text(struct dane_tlsa_set *, const char *text,
	    char *err, size_t errlen);
int	 dane_tlsa_set_from_dns(struct dane_tlsa_set *,
	    const struct dmx_dns_result *, char *err, size_t errlen);
void	 dane_tlsa_set_free(struct dane_tlsa_set *);

/* dane_policy.c */
enum dane_unusable dane_tlsa_classify(const struct dane_tlsa *,
	    enum dane_profile);
size_t	 dane_tlsa_set_classify(struct dane_tlsa_set *, enum dane_profile);
enum dane_effect dane_tlsa_set_effect(const struct dane_tlsa_set *);
int	 dane_tlsa_set_digest(const struct dane_tlsa_set *, const char *base,
	    unsigned char out[32]);
const char *dane_unusable_str(enum dane_unusable);
const char *dane_tlsa_reason(const struct dane_tlsa *, char *out,
	    size_t outlen);
const char *dane_effect_str(enum dane_effect);
const char *dane_usage_str(uint8_t);
enum dmx_fail dane_fail_x509(long x509_error);

#endif /* DANEMX_DANE_H */
