/*
 * dane_policy.c - which TLSA records count, what an RRset asks for, and
 * how a failure is named in RFC 8460 reports
 *
 * dane_tlsa_set_classify() marks each record of a set usable or not
 * (RFC 7672 section 3.1.3, RFC 7671 section 5) and keeps the unusable
 * ones with their reason. Nothing here allocates memory that outlives
 * a call; the strings returned are static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dane/dane.h"

/* full_parses - 1 when Full(0) data decodes exactly as OpenSSL requires */
static int
full_parses(const struct dane_tlsa *t)
{
	const unsigned char	*p = t->data;
	X509			*x;
	EVP_PKEY		*k;
	int			 ok;

	if (t->len == 0 || t->len > (size_t)DANE_DATA_MAX)
		return 0;
	if (t->selector == DANE_SELECTOR_CERT) {
		x = d2i_X509(NULL, &p, (long)t->len);
		ok = x != NULL && p == t->data + t->len &&
		    X509_get0_pubkey(x) != NULL;
		X509_free(x);
		return ok;
	}
	k = d2i_PUBKEY(NULL, &p, (long)t->len);
	ok = k != NULL && p == t->data + t->len;
	EVP_PKEY_free(k);
	return ok;
}

/*
 * dane_tlsa_classify - why t cannot be used under profile, or
 * DANE_USABLE. OpenSSL may still reject a record this accepts; the TLS
 * room then marks it DANE_UNUSABLE_REJECTED.
 */
enum dane_unusable
dane_tlsa_classify(const struct dane_tlsa *t, enum dane_profile profile)
{
	if (t->usage > DANE_USAGE_DANE_EE)
		return DANE_UNUSABLE_USAGE;
	if (profile == DANE_PROFILE_SMTP && t->usage < DANE_USAGE_DANE_TA)
		return DANE_UNUSABLE_PKIX;
	if (t->selector > DANE_SELECTOR_SPKI)
		return DANE_UNUSABLE_SELECTOR;
	switch (t->mtype) {
	case DANE_MTYPE_SHA256:
		return t->len == 32 ? DANE_USABLE : DANE_UNUSABLE_DIGEST_LEN;
	case DANE_MTYPE_SHA512:
		return t->len == 64 ? DANE_USABLE : DANE_UNUSABLE_DIGEST_LEN;
	case DANE_MTYPE_FULL:
		if (full_parses(t))
			return DANE_USABLE;
		return t->selector == DANE_SELECTOR_CERT ?
		    DANE_UNUSABLE_FULL_CERT : DANE_UNUSABLE_FULL_SPKI;
	}
	return DANE_UNUSABLE_MTYPE;
}

/* dane_tlsa_set_classify - classify every record; returns how many count */
size_t
dane_tlsa_set_classify(struct dane_tlsa_set *s, enum dane_profile profile)
{
	size_t	 i;

	s->nusable = 0;
	for (i = 0; i < s->n; i++) {
		s->recs[i].why = dane_tlsa_classify(&s->recs[i], profile);
		if (s->recs[i].why == DANE_USABLE)
			s->nusable++;
	}
	return s->nusable;
}

/*
 * dane_tlsa_set_effect - what the set asks of the connection (RFC 7672
 * section 2.2): authenticate when any record is usable, encrypt only
 * when a secure non-empty set has none, else nothing beyond
 * opportunistic TLS.
 */
enum dane_effect
dane_tlsa_set_effect(const struct dane_tlsa_set *s)
{
	size_t	 i;

	if (!s->secure || s->n == 0)
		return DANE_EFFECT_NONE;
	for (i = 0; i < s->n; i++)
		if (s->recs[i].why == DANE_USABLE)
			return DANE_EFFECT_AUTHENTICATE;
	return DANE_EFFECT_ENCRYPT;
}

/* cmp32 - qsort order of two SHA2-256 digests */
static int
cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/*
 * dane_tlsa_set_digest - SHA2-256 over the base domain and the usable
 * records, independent of their order: the key under which a TLS
 * session may be cached and resumed as DANE-verified (rule 26).
 * Returns 0, or -1 when out of memory.
 */
int
dane_tlsa_set_digest(const struct dane_tlsa_set *s, const char *base,
    unsigned char out[32])
{
	unsigned char	(*d)[32] = NULL, hdr[3];
	EVP_MD_CTX	*md = NULL;
	size_t		 i, n = 0, blen;
	int		 rv = -1;
	char		 c;

	if (s->n > 0 && (d = calloc(s->n, sizeof(*d))) == NULL)
		return -1;
	if ((md = EVP_MD_CTX_new()) == NULL)
		goto done;
	for (i = 0; i < s->n; i++) {
		const struct dane_tlsa *t = &s->recs[i];

		if (t->why != DANE_USABLE)
			continue;
		hdr[0] = t->usage;
		hdr[1] = t->selector;
		hdr[2] = t->mtype;
		if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(md, hdr, 3) != 1 ||
		    EVP_DigestUpdate(md, t->data, t->len) != 1 ||
		    EVP_DigestFinal_ex(md, d[n++], NULL) != 1)
			goto done;
	}
	qsort(d, n, sizeof(*d), cmp32);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, "danemx-tlsa-1", 14) != 1)
		goto done;
	blen = strlen(base);
	if (blen > 0 && base[blen - 1] == '.')
		blen--;
	for (i = 0; i < blen; i++) {	/* names compare without case */
		c = base[i] >= 'A' && base[i] <= 'Z' ? base[i] - 'A' + 'a' :
		    base[i];
		if (EVP_DigestUpdate(md, &c, 1) != 1)
			goto done;
	}
	if (EVP_DigestUpdate(md, "", 1) != 1)
		goto done;
	for (i = 0; i < n; i++)
		if (EVP_DigestUpdate(md, d[i], 32) != 1)
			goto done;
	if (EVP_DigestFinal_ex(md, out, NULL) == 1)
		rv = 0;
done:
	EVP_MD_CTX_free(md);
	free(d);
	return rv;
}

/* dane_unusable_str - why a record is unusable, for logs and JSON */
const char *
dane_unusable_str(enum dane_unusable why)
{
	switch (why) {
	case DANE_USABLE:
		return "usable";
	case DANE_UNUSABLE_PKIX:
		return "PKIX-TA(0) and PKIX-EE(1) are not used for SMTP "
		    "(RFC 7672 section 3.1.3)";
	case DANE_UNUSABLE_USAGE:
		return "unknown certificate usage";
	case DANE_UNUSABLE_SELECTOR:
		return "unknown selector";
	case DANE_UNUSABLE_MTYPE:
		return "unknown matching type";
	case DANE_UNUSABLE_DIGEST_LEN:
		return "digest length does not fit the matching type "
		    "(SHA2-256 is 32 octets, SHA2-512 is 64)";
	case DANE_UNUSABLE_FULL_CERT:
		return "Full(0) data is not a DER certificate";
	case DANE_UNUSABLE_FULL_SPKI:
		return "Full(0) data is not a DER SubjectPublicKeyInfo";
	case DANE_UNUSABLE_REJECTED:
		return "rejected by OpenSSL";
	}
	return "unknown reason";
}

/*
 * dane_tlsa_reason - why t (classified) is unusable, with the particulars:
 * "SHA2-256(1) digest of 31 octets, want 32". Returns out.
 */
const char *
dane_tlsa_reason(const struct dane_tlsa *t, char *out, size_t outlen)
{
	switch (t->why) {
	case DANE_UNUSABLE_PKIX:
		snprintf(out, outlen, "%s is not used for SMTP (RFC 7672 "
		    "section 3.1.3)", dane_usage_str(t->usage));
		break;
	case DANE_UNUSABLE_USAGE:
		snprintf(out, outlen, "unknown certificate usage %u", t->usage);
		break;
	case DANE_UNUSABLE_SELECTOR:
		snprintf(out, outlen, "unknown selector %u", t->selector);
		break;
	case DANE_UNUSABLE_MTYPE:
		snprintf(out, outlen, "unknown matching type %u", t->mtype);
		break;
	case DANE_UNUSABLE_DIGEST_LEN:
		snprintf(out, outlen, "%s digest of %zu octets, want %d",
		    t->mtype == DANE_MTYPE_SHA256 ? "SHA2-256(1)" :
		    "SHA2-512(2)", t->len,
		    t->mtype == DANE_MTYPE_SHA256 ? 32 : 64);
		break;
	default:
		snprintf(out, outlen, "%s", dane_unusable_str(t->why));
	}
	return out;
}

/* dane_effect_str - "authenticate", "encrypt" or "none" */
const char *
dane_effect_str(enum dane_effect e)
{
	switch (e) {
	case DANE_EFFECT_AUTHENTICATE:
		return "authenticate";
	case DANE_EFFECT_ENCRYPT:
		return "encrypt";
	case DANE_EFFECT_NONE:
		break;
	}
	return "none";
}

/* dane_usage_str - RFC 7218 acronym of a certificate usage */
const char *
dane_usage_str(uint8_t usage)
{
	static const char *const names[] = { "PKIX-TA(0)", "PKIX-EE(1)",
	    "DANE-TA(2)", "DANE-EE(3)" };

	return usage <= DANE_USAGE_DANE_EE ? names[usage] : "unknown usage";
}

/* dane_fail_x509 - the failure class of an X.509 verification error */
enum dmx_fail
dane_fail_x509(long err)
{
	switch (err) {
	case X509_V_OK:
		return DMX_FAIL_NONE;
	case X509_V_ERR_DANE_NO_MATCH:
		return DMX_FAIL_TLSA_INVALID;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return DMX_FAIL_CERT_HOST_MISMATCH;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return DMX_FAIL_CERT_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_INVALID_CA:
		return DMX_FAIL_CERT_NOT_TRUSTED;
	}
	return DMX_FAIL_VALIDATION;
}
