/*
 * test_dane.c - TLSA parsers take malformed input apart safely; records
 * are classified, sets judged and failures named as RFC 7672 and 8460 say.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dane/dane.h"
#include "util/util.h"
#include "t.h"

#define HEX32	"9a8079b2bfff4b8250cdeadfe26a406f27d79d5b1a15ed9310c240cb5bd9de27"

static const struct text_case {
	const char	*name, *in;
	int		 want_rc;
	int		 usage, selector, mtype;
	size_t		 len;
	const char	*want_err;	/* substring */
} text_cases[] = {
	{ "3 1 1", "3 1 1 " HEX32, 0, 3, 1, 1, 32, NULL },
	{ "blanks and case", " 3\t1  1 AB cd\tEF 01 ", 0, 3, 1, 1, 4, NULL },
	{ "trailing newline", "2 0 1 00ff\r\n", 0, 2, 0, 1, 2, NULL },
	{ "leading zeros", "003 01 2 00", 0, 3, 1, 2, 1, NULL },
	{ "unknown values parse", "255 255 255 00", 0, 255, 255, 255, 1, NULL },
	{ "empty", "", -1, 0, 0, 0, 0, "missing certificate usage" },
	{ "blank", "  \t", -1, 0, 0, 0, 0, "missing certificate usage" },
	{ "one field", "3", -1, 0, 0, 0, 0, "missing selector" },
	{ "two fields", "3 1", -1, 0, 0, 0, 0, "missing matching type" },
	{ "no data", "3 1 1", -1, 0, 0, 0, 0, "missing certificate association" },
	{ "no data, blanks", "3 1 1   ", -1, 0, 0, 0, 0, "missing certificate" },
	{ "usage 256", "256 1 1 00", -1, 0, 0, 0, 0, "usage is not a number" },
	{ "four digits", "0003 1 1 00", -1, 0, 0, 0, 0, "usage is not" },
	{ "negative", "3 -1 1 00", -1, 0, 0, 0, 0, "selector is not" },
	{ "letters in a field", "3a 1 1 00", -1, 0, 0, 0, 0, "usage is not" },
	{ "mtype glued to hex", "3 1 1abcd", -1, 0, 0, 0, 0, "matching type is not" },
	{ "odd digits", "3 1 1 abc", -1, 0, 0, 0, 0, "odd number of hex digits (3)" },
	{ "bad digit", "3 1 1 zz", -1, 0, 0, 0, 0, "'z' is not a hex digit" },
	{ "bad digit later", "3 1 1 00 11 2g", -1, 0, 0, 0, 0, "'g' is not" },
	{ "non-printing", "3 1 1 0\x01", -1, 0, 0, 0, 0, "'?' is not" },
	{ "0x prefix", "3 1 1 0x00", -1, 0, 0, 0, 0, "'x' is not" },
};

static void
test_text(void)
{
	struct dane_tlsa	 t;
	char			 err[256];
	size_t			 i;
	int			 rc;

	for (i = 0; i < DMX_NELEM(text_cases); i++) {
		const struct text_case *c = &text_cases[i];

		err[0] = '\0';
		rc = dane_tlsa_parse_text(c->in, &t, err, sizeof(err));
		T_CHECK(rc == c->want_rc, "%s: rc got %d, want %d (%s)",
		    c->name, rc, c->want_rc, err);
		if (rc == 0 && c->want_rc == 0)
			T_CHECK(t.usage == c->usage && t.selector ==
			    c->selector && t.mtype == c->mtype &&
			    t.len == c->len, "%s: got %u %u %u len %zu",
			    c->name, t.usage, t.selector, t.mtype, t.len);
		if (c->want_err != NULL)
			T_CHECK(strstr(err, c->want_err) != NULL,
			    "%s: error '%s', want '%s'", c->name, err,
			    c->want_err);
		if (rc == -1)
			T_CHECK(t.data == NULL && t.len == 0,
			    "%s: data left after an error", c->name);
		dane_tlsa_clear(&t);
	}
}

/* test_text_sizes - the largest record parses, one octet more does not */
static void
test_text_sizes(void)
{
	struct dane_tlsa	 t;
	size_t			 n = 6 + 2 * (DANE_DATA_MAX + 1) + 1;
	char			*s, err[256];
	int			 rc;

	if ((s = malloc(n)) == NULL)
		return;
	memcpy(s, "3 0 0 ", 6);
	memset(s + 6, 'a', 2 * DANE_DATA_MAX);
	s[6 + 2 * DANE_DATA_MAX] = '\0';
	rc = dane_tlsa_parse_text(s, &t, err, sizeof(err));
	T_CHECK(rc == 0 && t.len == DANE_DATA_MAX && t.data[0] == 0xaa &&
	    t.data[DANE_DATA_MAX - 1] == 0xaa, "largest: rc %d len %zu", rc,
	    t.len);
	dane_tlsa_clear(&t);
	memset(s + 6, 'a', 2 * (DANE_DATA_MAX + 1));
	s[6 + 2 * (DANE_DATA_MAX + 1)] = '\0';
	rc = dane_tlsa_parse_text(s, &t, err, sizeof(err));
	T_CHECK(rc == -1 && strstr(err, "longer than 65532") != NULL,
	    "oversized: rc %d err '%s'", rc, err);
	dane_tlsa_clear(&t);
	/* A NULL error buffer is allowed. */
	T_CHECK(dane_tlsa_parse_text("x", &t, NULL, 0) == -1, "NULL err");
	free(s);
}

static const struct line_case {
	const char	*name, *in;
	int		 want_rc;
	int		 usage;
	const char	*want_err;
} line_cases[] = {
	{ "empty", "", 0, 0, NULL },
	{ "newline", "\n", 0, 0, NULL },
	{ "blank", " \t \r\n", 0, 0, NULL },
	{ "; comment", "; _25._tcp.x. IN TLSA 3 1 1 00", 0, 0, NULL },
	{ "# comment", "   # note", 0, 0, NULL },
	{ "bare", "3 1 1 " HEX32 "\n", 1, 3, NULL },
	{ "dig line", "_25._tcp.mx.example. 3600 IN TLSA 2 1 1 " HEX32, 1, 2,
	    NULL },
	{ "class before ttl", "mx. IN 60 tlsa 3 0 1 " HEX32, 1, 3, NULL },
	{ "no owner", "\tIN TLSA 3 1 1 00", 1, 3, NULL },
	{ "type only", "TLSA 3 1 1 00", 1, 3, NULL },
	{ "owner called tlsa", "tlsa IN TLSA 1 1 1 00", 1, 1, NULL },
	{ "trailing comment", "x. IN TLSA 3 1 1 00 ; was 3 1 1 ff", 1, 3,
	    NULL },
	{ "split hex", "x. TLSA 3 1 1 9a8079b2 bfff4b82", 1, 3, NULL },
	{ "other type", "x. IN A 192.0.2.1", -1, 0, "type TLSA" },
	{ "word", "hello", -1, 0, "type TLSA" },
	{ "TLSA without rdata", "x. IN TLSA", -1, 0, "missing certificate usage" },
	{ "TLSA with bad rdata", "x. IN TLSA 3 1 1 0", -1, 0, "odd number" },
	{ "generic rdata", "x. IN TLSA \\# 4 03010100", -1, 0,
	    "certificate usage is not" },
	{ "bad hex", "3 1 1 xyz", -1, 0, "not a hex digit" },
};

static void
test_line(void)
{
	struct dane_tlsa	 t;
	char			 err[256], *big;
	size_t			 i;
	int			 rc;

	for (i = 0; i < DMX_NELEM(line_cases); i++) {
		const struct line_case *c = &line_cases[i];

		err[0] = '\0';
		rc = dane_tlsa_parse_line(c->in, &t, err, sizeof(err));
		T_CHECK(rc == c->want_rc, "line %s: rc got %d, want %d (%s)",
		    c->name, rc, c->want_rc, err);
		if (rc == 1)
			T_CHECK(t.usage == c->usage, "line %s: usage %u",
			    c->name, t.usage);
		if (c->want_err != NULL)
			T_CHECK(strstr(err, c->want_err) != NULL,
			    "line %s: error '%s', want '%s'", c->name, err,
			    c->want_err);
		dane_tlsa_clear(&t);
	}
	if ((big = malloc(DANE_LINE_MAX + 2)) != NULL) {
		memset(big, ' ', DANE_LINE_MAX + 1);
		big[DANE_LINE_MAX + 1] = '\0';
		rc = dane_tlsa_parse_line(big, &t, err, sizeof(err));
		T_CHECK(rc == -1 && strstr(err, "line longer") != NULL,
		    "overlong line: rc %d", rc);
		dane_tlsa_clear(&t);
		free(big);
	}
}

static void
test_wire(void)
{
	static const unsigned char rd[] = { 3, 1, 1, 0xde, 0xad };
	struct dane_tlsa	 t;
	unsigned char		*big;
	char			 err[256], *txt;
	size_t			 n;

	for (n = 0; n < 3; n++) {
		T_CHECK(dane_tlsa_parse_wire(rd, n, &t, err, sizeof(err)) ==
		    -1 && strstr(err, "shorter than 3") != NULL,
		    "wire: %zu octets accepted", n);
		dane_tlsa_clear(&t);
	}
	T_CHECK(dane_tlsa_parse_wire(rd, 3, &t, err, sizeof(err)) == 0 &&
	    t.len == 0 && t.data == NULL, "wire: empty data");
	txt = dane_tlsa_text(&t, 0);
	T_CHECK(txt != NULL && strcmp(txt, "3 1 1") == 0, "wire: text of "
	    "empty data '%s'", txt ? txt : "(null)");
	free(txt);
	dane_tlsa_clear(&t);
	T_CHECK(dane_tlsa_parse_wire(rd, sizeof(rd), &t, err, sizeof(err)) ==
	    0 && t.usage == 3 && t.selector == 1 && t.mtype == 1 &&
	    t.len == 2 && t.data[0] == 0xde, "wire: 5 octets");
	txt = dane_tlsa_text(&t, 1);
	T_CHECK(txt != NULL && strcmp(txt, "3 1 1 DEAD") == 0, "wire: text "
	    "'%s'", txt ? txt : "(null)");
	free(txt);
	dane_tlsa_clear(&t);

	if ((big = calloc(1, DANE_DATA_MAX + 4)) == NULL)
		return;
	big[0] = 2;
	T_CHECK(dane_tlsa_parse_wire(big, DANE_DATA_MAX + 3, &t, err,
	    sizeof(err)) == 0 && t.len == DANE_DATA_MAX, "wire: largest");
	dane_tlsa_clear(&t);
	T_CHECK(dane_tlsa_parse_wire(big, DANE_DATA_MAX + 4, &t, err,
	    sizeof(err)) == -1 && t.data == NULL, "wire: oversized accepted");
	dane_tlsa_clear(&t);
	free(big);
}

/* der_cert - a fresh self-signed P-256 certificate, DER; caller frees */
static unsigned char *
der_cert(int *len, unsigned char **spki, int *spkilen)
{
	EVP_PKEY	*k;
	X509		*x;
	unsigned char	*der = NULL;

	*len = *spkilen = 0;
	*spki = NULL;
	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return NULL;
	if ((x = X509_new()) != NULL) {
		X509_set_version(x, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
		X509_gmtime_adj(X509_getm_notBefore(x), 0);
		X509_gmtime_adj(X509_getm_notAfter(x), 86400);
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		    MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(x));
		X509_set_pubkey(x, k);
		if (X509_sign(x, k, EVP_sha256()) > 0) {
			*len = i2d_X509(x, &der);
			*spkilen = i2d_PUBKEY(k, spki);
		}
		X509_free(x);
	}
	EVP_PKEY_free(k);
	return der;
}

static struct dane_tlsa
rec(uint8_t u, uint8_t s, uint8_t m, unsigned char *data, size_t len)
{
	struct dane_tlsa	 t;

	memset(&t, 0, sizeof(t));
	t.usage = u;
	t.selector = s;
	t.mtype = m;
	t.data = data;
	t.len = len;
	return t;
}

static void
test_classify(void)
{
	unsigned char	 d[80], *cert, *spki, *longer;
	struct dane_tlsa t;
	char		 why[256];
	int		 clen, slen;

	memset(d, 0x5a, sizeof(d));
	cert = der_cert(&clen, &spki, &slen);
	T_CHECK(cert != NULL && spki != NULL, "test certificate");
	if (cert == NULL || spki == NULL)
		return;

#define CL(u, s, m, p, n, prof, want) do {				\
	t = rec(u, s, m, p, n);						\
	T_CHECK(dane_tlsa_classify(&t, prof) == want,			\
	    "classify %d %d %d len %d: got %d, want %d", u, s, m,	\
	    (int)(n), dane_tlsa_classify(&t, prof), want);		\
} while (0)
	CL(3, 1, 1, d, 32, DANE_PROFILE_SMTP, DANE_USABLE);
	CL(2, 0, 2, d, 64, DANE_PROFILE_SMTP, DANE_USABLE);
	CL(0, 0, 1, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_PKIX);
	CL(1, 1, 1, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_PKIX);
	CL(0, 0, 1, d, 32, DANE_PROFILE_ALL, DANE_USABLE);
	CL(1, 1, 2, d, 64, DANE_PROFILE_ALL, DANE_USABLE);
	CL(4, 1, 1, d, 32, DANE_PROFILE_ALL, DANE_UNUSABLE_USAGE);
	CL(255, 1, 1, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_USAGE);
	CL(3, 2, 1, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_SELECTOR);
	CL(3, 1, 3, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_MTYPE);
	CL(3, 1, 255, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_MTYPE);
	CL(3, 1, 1, d, 31, DANE_PROFILE_SMTP, DANE_UNUSABLE_DIGEST_LEN);
	CL(3, 1, 1, d, 33, DANE_PROFILE_SMTP, DANE_UNUSABLE_DIGEST_LEN);
	CL(3, 1, 1, d, 64, DANE_PROFILE_SMTP, DANE_UNUSABLE_DIGEST_LEN);
	CL(3, 1, 2, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_DIGEST_LEN);
	CL(3, 1, 1, NULL, 0, DANE_PROFILE_SMTP, DANE_UNUSABLE_DIGEST_LEN);
	CL(3, 0, 0, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_FULL_CERT);
	CL(3, 1, 0, d, 32, DANE_PROFILE_SMTP, DANE_UNUSABLE_FULL_SPKI);
	CL(2, 0, 0, NULL, 0, DANE_PROFILE_SMTP, DANE_UNUSABLE_FULL_CERT);
	CL(3, 0, 0, cert, (size_t)clen, DANE_PROFILE_SMTP, DANE_USABLE);
	CL(2, 1, 0, spki, (size_t)slen, DANE_PROFILE_SMTP, DANE_USABLE);
	CL(3, 0, 0, spki, (size_t)slen, DANE_PROFILE_SMTP,
	    DANE_UNUSABLE_FULL_CERT);
	CL(3, 1, 0, cert, (size_t)clen, DANE_PROFILE_SMTP,
	    DANE_UNUSABLE_FULL_SPKI);
	CL(3, 0, 0, cert, (size_t)clen - 1, DANE_PROFILE_SMTP,
	    DANE_UNUSABLE_FULL_CERT);
	if ((longer = malloc((size_t)clen + 1)) != NULL) {
		memcpy(longer, cert, (size_t)clen);
		longer[clen] = 0;	/* trailing junk */
		CL(3, 0, 0, longer, (size_t)clen + 1, DANE_PROFILE_SMTP,
		    DANE_UNUSABLE_FULL_CERT);
		free(longer);
	}
#undef CL

	t = rec(3, 1, 1, d, 31);
	t.why = dane_tlsa_classify(&t, DANE_PROFILE_SMTP);
	T_CHECK(strcmp(dane_tlsa_reason(&t, why, sizeof(why)),
	    "SHA2-256(1) digest of 31 octets, want 32") == 0, "reason '%s'",
	    why);
	t = rec(2, 0, 2, d, 63);
	t.why = dane_tlsa_classify(&t, DANE_PROFILE_SMTP);
	T_CHECK(strcmp(dane_tlsa_reason(&t, why, sizeof(why)),
	    "SHA2-512(2) digest of 63 octets, want 64") == 0, "reason '%s'",
	    why);
	t = rec(1, 1, 1, d, 32);
	t.why = dane_tlsa_classify(&t, DANE_PROFILE_SMTP);
	T_CHECK(strcmp(dane_tlsa_reason(&t, why, sizeof(why)),
	    "PKIX-EE(1) is not used for SMTP (RFC 7672 section 3.1.3)") == 0,
	    "reason '%s'", why);
	t = rec(7, 1, 1, d, 32);
	t.why = dane_tlsa_classify(&t, DANE_PROFILE_SMTP);
	T_CHECK(strcmp(dane_tlsa_reason(&t, why, sizeof(why)),
	    "unknown certificate usage 7") == 0, "reason '%s'", why);
	OPENSSL_free(cert);
	OPENSSL_free(spki);
}

static void
test_set(void)
{
	struct dane_tlsa_set	 s, s2;
	unsigned char		 d1[32], d2[32];
	char			 err[256];
	int			 i, rc = 0;

	dane_tlsa_set_init(&s);
	T_CHECK(dane_tlsa_set_effect(&s) == DANE_EFFECT_NONE, "empty set");
	s.secure = 1;
	T_CHECK(dane_tlsa_set_effect(&s) == DANE_EFFECT_NONE,
	    "empty secure set");
	T_CHECK(dane_tlsa_set_add_text(&s, "0 0 1 " HEX32, err,
	    sizeof(err)) == 0, "add 0 0 1");
	T_CHECK(dane_tlsa_set_add_text(&s, "x. IN TLSA 3 1 1 " HEX32 "00",
	    err, sizeof(err)) == 0, "add long 3 1 1");
	T_CHECK(dane_tlsa_set_classify(&s, DANE_PROFILE_SMTP) == 0,
	    "nothing usable");
	T_CHECK(dane_tlsa_set_effect(&s) == DANE_EFFECT_ENCRYPT,
	    "all unusable: got %s", dane_effect_str(dane_tlsa_set_effect(&s)));
	T_CHECK(dane_tlsa_set_add_text(&s, "3 1 1 " HEX32, err,
	    sizeof(err)) == 0, "add 3 1 1");
	T_CHECK(dane_tlsa_set_classify(&s, DANE_PROFILE_SMTP) == 1,
	    "one usable");
	T_CHECK(dane_tlsa_set_effect(&s) == DANE_EFFECT_AUTHENTICATE,
	    "one usable: got %s", dane_effect_str(dane_tlsa_set_effect(&s)));
	s.secure = 0;
	T_CHECK(dane_tlsa_set_effect(&s) == DANE_EFFECT_NONE,
	    "insecure: got %s", dane_effect_str(dane_tlsa_set_effect(&s)));
	s.secure = 1;
	T_CHECK(dane_tlsa_set_add_text(&s, "; only a comment", err,
	    sizeof(err)) == -1, "a comment is not a record");
	T_CHECK(dane_tlsa_set_add_text(&s, "3 1 1 0", err, sizeof(err)) ==
	    -1 && s.n == 3, "a bad record is not added");

	/* The session key: order-free, name-normalised, usable only. */
	dane_tlsa_set_init(&s2);
	dane_tlsa_set_add_text(&s2, "3 1 1 " HEX32, err, sizeof(err));
	dane_tlsa_set_add_text(&s2, "2 0 0 00", err, sizeof(err));
	dane_tlsa_set_classify(&s2, DANE_PROFILE_SMTP);
	T_CHECK(dane_tlsa_set_digest(&s, "mx.example", d1) == 0 &&
	    dane_tlsa_set_digest(&s2, "MX.Example.", d2) == 0 &&
	    memcmp(d1, d2, 32) == 0, "digest: same usable records");
	T_CHECK(dane_tlsa_set_digest(&s2, "mx2.example", d2) == 0 &&
	    memcmp(d1, d2, 32) != 0, "digest: other base domain");
	dane_tlsa_set_add_text(&s2, "2 1 1 " HEX32, err, sizeof(err));
	dane_tlsa_set_classify(&s2, DANE_PROFILE_SMTP);
	T_CHECK(dane_tlsa_set_digest(&s2, "mx.example", d2) == 0 &&
	    memcmp(d1, d2, 32) != 0, "digest: another record");
	dane_tlsa_set_free(&s2);
	dane_tlsa_set_free(&s);
	T_CHECK(s.n == 0 && s.recs == NULL, "freed set is empty");

	/* A ceiling on the number of records. */
	dane_tlsa_set_init(&s);
	for (i = 0; i < DANE_MAX_RECORDS + 1; i++)
		rc = dane_tlsa_set_add_text(&s, "3 1 1 00", err, sizeof(err));
	T_CHECK(rc == -1 && s.n == DANE_MAX_RECORDS && strstr(err,
	    "too many") != NULL, "ceiling: n %zu", s.n);
	dane_tlsa_set_free(&s);
}

static void
test_from_dns(void)
{
	static unsigned char	 a[2] = { 0xab, 0xcd };
	struct dmx_dns_rr	 rrs[3];
	struct dmx_dns_result	 r;
	struct dane_tlsa_set	 s;
	char			 err[256];

	memset(rrs, 0, sizeof(rrs));
	memset(&r, 0, sizeof(r));
	rrs[0].type = DMX_T_TLSA;
	rrs[0].u.tlsa.usage = 3;
	rrs[0].u.tlsa.selector = 1;
	rrs[0].u.tlsa.mtype = 1;
	rrs[0].u.tlsa.data = a;
	rrs[0].u.tlsa.len = sizeof(a);
	rrs[1].type = DMX_T_CNAME;
	rrs[2] = rrs[0];
	rrs[2].u.tlsa.usage = 2;
	r.rrs = rrs;
	r.nrrs = 3;
	r.status = DMX_DNS_SECURE;
	dane_tlsa_set_init(&s);
	T_CHECK(dane_tlsa_set_from_dns(&s, &r, err, sizeof(err)) == 0 &&
	    s.secure && s.n == 2 && s.recs[1].usage == 2 &&
	    s.recs[0].data != a && s.recs[0].data[1] == 0xcd,
	    "from secure DNS: n %zu", s.n);
	dane_tlsa_set_free(&s);
	r.status = DMX_DNS_INSECURE;
	T_CHECK(dane_tlsa_set_from_dns(&s, &r, err, sizeof(err)) == 0 &&
	    !s.secure && s.n == 2, "from insecure DNS");
	dane_tlsa_set_classify(&s, DANE_PROFILE_SMTP);
	T_CHECK(dane_tlsa_set_effect(&s) == DANE_EFFECT_NONE,
	    "insecure DNS: no DANE");
	dane_tlsa_set_free(&s);
	rrs[0].u.tlsa.data = NULL;
	T_CHECK(dane_tlsa_set_from_dns(&s, &r, err, sizeof(err)) == -1,
	    "data missing");
	dane_tlsa_set_free(&s);
}

static void
test_result_types(void)
{
	static const struct {
		long		 err;
		const char	*want;
	} c[] = {
		{ X509_V_OK, NULL },
		{ X509_V_ERR_DANE_NO_MATCH, "tlsa-invalid" },
		{ X509_V_ERR_HOSTNAME_MISMATCH, "certificate-host-mismatch" },
		{ X509_V_ERR_CERT_HAS_EXPIRED, "certificate-expired" },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		    "certificate-not-trusted" },
		{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		    "certificate-not-trusted" },
		{ X509_V_ERR_CERT_SIGNATURE_FAILURE, "validation-failure" },
		{ X509_V_ERR_CERT_NOT_YET_VALID, "validation-failure" },
	};
	const char	*got;
	size_t		 i;

	for (i = 0; i < DMX_NELEM(c); i++) {
		got = fail_rfc8460(dane_fail_x509(c[i].err));
		T_CHECK((got == NULL && c[i].want == NULL) || (got != NULL &&
		    c[i].want != NULL && strcmp(got, c[i].want) == 0),
		    "x509 %ld: got %s, want %s", c[i].err, got ? got : "null",
		    c[i].want ? c[i].want : "null");
	}
	T_CHECK(strcmp(fail_rfc8460(DMX_FAIL_DNSSEC_INVALID),
	    "dnssec-invalid") == 0, "dnssec-invalid");
	T_CHECK(strcmp(fail_rfc8460(DMX_FAIL_STARTTLS_NOT_SUPPORTED),
	    "starttls-not-supported") == 0, "starttls-not-supported");
	T_CHECK(strcmp(fail_rfc8460(DMX_FAIL_DANE_REQUIRED),
	    "dane-required") == 0, "dane-required");
}

int
main(void)
{
	test_text();
	test_text_sizes();
	test_line();
	test_wire();
	test_classify();
	test_set();
	test_from_dns();
	test_result_types();
	return t_done("test_dane");
}
