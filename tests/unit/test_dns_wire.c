/*
 * test_dns_wire.c - the DNS wire parser against well-formed and hostile
 * messages: every malformed case must fail with the expected reason,
 * never crash or yield a silently empty answer.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "t.h"
#include "util/util.h"

struct msg {
	unsigned char	 b[4096];
	size_t		 n;
};

static void
put8(struct msg *m, unsigned v)
{
	m->b[m->n++] = (unsigned char)v;
}

static void
put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void
put32(struct msg *m, unsigned long v)
{
	put16(m, (unsigned)(v >> 16));
	put16(m, (unsigned)(v & 0xffff));
}

/* putname - uncompressed wire form of a dotted name */
static void
putname(struct msg *m, const char *name)
{
	const char	*p = name, *dot;
	size_t		 len;

	while (*p != '\0') {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		put8(m, (unsigned)len);
		memcpy(m->b + m->n, p, len);
		m->n += len;
		p += len;
		if (*p == '.')
			p++;
	}
	put8(m, 0);
}

static void
header(struct msg *m, unsigned qd, unsigned an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void
question(struct msg *m, const char *name, unsigned type)
{
	putname(m, name);
	put16(m, type);
	put16(m, 1);
}

/* rrhdr - owner, type, class IN, ttl 300, rdlength */
static void
rrhdr(struct msg *m, const char *owner, unsigned type, unsigned rdlen)
{
	putname(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, 300);
	put16(m, rdlen);
}

static struct dmx_dns_result *
newres(const char *qname, uint16_t qtype)
{
	struct dmx_dns_result *r = calloc(1, sizeof(*r));

	r->qname = strdup(qname);
	r->qtype = qtype;
	return r;
}

/* parse - run the parser; returns the error string or NULL on success */
static const char *
parse(struct msg *m, struct dmx_dns_result *r)
{
	const char *err = NULL;

	if (dns_msg_parse(m->b, m->n, r, &err) == 0)
		return NULL;
	return err ? err : "(no reason)";
}

static void
test_good(void)
{
	struct msg		 m;
	struct dmx_dns_result	*r;
	const char		*err;
	size_t			 qoff;

	/* A */
	header(&m, 1, 2);
	question(&m, "www.Example.ORG", DMX_T_A);
	rrhdr(&m, "www.example.org", DMX_T_A, 4);
	put8(&m, 192); put8(&m, 0); put8(&m, 2); put8(&m, 1);
	rrhdr(&m, "www.example.org", 46 /* RRSIG, skipped */, 3);
	put8(&m, 1); put8(&m, 2); put8(&m, 3);
	r = newres("www.example.org", DMX_T_A);
	err = parse(&m, r);
	T_CHECK(err == NULL, "A: got error %s", err);
	T_CHECK(r->nrrs == 1, "A: got %zu records, want 1", r->nrrs);
	if (r->nrrs == 1)
		T_CHECK(strcmp(r->rrs[0].text, "192.0.2.1") == 0,
		    "A text: got %s", r->rrs[0].text);
	T_CHECK(r->ncname == 0 && strcmp(r->canonical_name,
	    "www.example.org") == 0, "A canonical: got %s", r->canonical_name);
	dmx_dns_result_free(r);

	/* MX whose exchange is "mx1" plus a compression pointer to the question */
	header(&m, 1, 1);
	qoff = m.n;
	question(&m, "example.org", DMX_T_MX);
	rrhdr(&m, "example.org", DMX_T_MX, 2 + 4 + 2);
	put16(&m, 10);
	put8(&m, 3); put8(&m, 'm'); put8(&m, 'x'); put8(&m, '1');
	put16(&m, 0xc000 | (unsigned)qoff);
	r = newres("example.org", DMX_T_MX);
	err = parse(&m, r);
	T_CHECK(err == NULL, "MX: got error %s", err);
	if (r->nrrs == 1) {
		T_CHECK(r->rrs[0].u.mx.pref == 10, "MX pref %u",
		    r->rrs[0].u.mx.pref);
		T_CHECK(strcmp(r->rrs[0].text, "10 mx1.example.org") == 0,
		    "MX text: got '%s'", r->rrs[0].text);
	} else
		T_CHECK(0, "MX: got %zu records, want 1", r->nrrs);
	dmx_dns_result_free(r);

	/* CNAME chain of two links, then TLSA */
	header(&m, 1, 3);
	question(&m, "_25._tcp.mx.example.org", DMX_T_TLSA);
	rrhdr(&m, "_25._tcp.mx.example.org", DMX_T_CNAME, 9);
	putname(&m, "a.b.org");
	rrhdr(&m, "a.b.org", DMX_T_CNAME, 9);
	putname(&m, "c.d.org");
	rrhdr(&m, "c.d.org", DMX_T_TLSA, 3 + 4);
	put8(&m, 3); put8(&m, 1); put8(&m, 1);
	put32(&m, 0xdeadBEEF);
	r = newres("_25._tcp.mx.example.org", DMX_T_TLSA);
	err = parse(&m, r);
	T_CHECK(err == NULL, "TLSA chain: got error %s", err);
	T_CHECK(r->ncname == 2, "TLSA chain: %zu links, want 2", r->ncname);
	T_CHECK(r->canonical_name && strcmp(r->canonical_name, "c.d.org") == 0,
	    "TLSA chain canonical: %s", r->canonical_name);
	if (r->nrrs == 1)
		T_CHECK(strcmp(r->rrs[0].text, "3 1 1 deadbeef") == 0,
		    "TLSA text: '%s'", r->rrs[0].text);
	else
		T_CHECK(0, "TLSA: %zu records", r->nrrs);
	dmx_dns_result_free(r);

	/* TXT: two records; the first of three character-strings, joined
	 * without separators; quotes, backslashes and other bytes escaped
	 * in the text form */
	header(&m, 1, 2);
	question(&m, "_mta-sts.example.org", DMX_T_TXT);
	rrhdr(&m, "_mta-sts.example.org", DMX_T_TXT, 1 + 9 + 1 + 5 + 1 + 0);
	put8(&m, 9); memcpy(m.b + m.n, "v=STSv1; ", 9); m.n += 9;
	put8(&m, 5); memcpy(m.b + m.n, "id=1\"", 5); m.n += 5;
	put8(&m, 0);
	rrhdr(&m, "_mta-sts.example.org", DMX_T_TXT, 1 + 4);
	put8(&m, 4); put8(&m, 'a'); put8(&m, '\\'); put8(&m, 0); put8(&m, 0xc3);
	r = newres("_mta-sts.example.org", DMX_T_TXT);
	err = parse(&m, r);
	T_CHECK(err == NULL, "TXT: got error %s", err);
	if (r->nrrs == 2) {
		T_CHECK(r->rrs[0].u.txt.len == 14 && r->rrs[0].u.txt.nstrings == 3 &&
		    strcmp(r->rrs[0].u.txt.data, "v=STSv1; id=1\"") == 0,
		    "TXT data: got '%s' (%zu octets, %u strings)",
		    r->rrs[0].u.txt.data, r->rrs[0].u.txt.len,
		    r->rrs[0].u.txt.nstrings);
		T_CHECK(strcmp(r->rrs[0].text, "\"v=STSv1; \" \"id=1\\\"\" \"\"") == 0,
		    "TXT text: got '%s'", r->rrs[0].text);
		T_CHECK(r->rrs[1].u.txt.len == 4 &&
		    memcmp(r->rrs[1].u.txt.data, "a\\\0\xc3", 5) == 0,
		    "TXT with a NUL: %zu octets", r->rrs[1].u.txt.len);
		T_CHECK(strcmp(r->rrs[1].text, "\"a\\\\\\000\\195\"") == 0,
		    "TXT text escapes: got '%s'", r->rrs[1].text);
	} else
		T_CHECK(0, "TXT: %zu records, want 2", r->nrrs);
	T_CHECK(strcmp(dmx_type_str(DMX_T_TXT), "TXT") == 0 &&
	    dmx_type_from_str("txt") == DMX_T_TXT, "TXT mnemonic");
	dmx_dns_result_free(r);

	/* NODATA: no answers at all */
	header(&m, 1, 0);
	question(&m, "example.org", DMX_T_AAAA);
	r = newres("example.org", DMX_T_AAAA);
	err = parse(&m, r);
	T_CHECK(err == NULL && r->nrrs == 0, "NODATA: %s", err);
	dmx_dns_result_free(r);
}

static const struct bad_case {
	const char	*name;
	const char	*want;		/* substring of the error */
} bad_cases[] = {
	{ "short header", "shorter than a DNS header" },
	{ "two questions", "exactly one question" },
	{ "truncated question", "truncated question" },
	{ "different question", "different question" },
	{ "rr header cut", "truncated resource record header" },
	{ "rdlength past end", "past the end" },
	{ "A of 5 octets", "A rdata is not 4 octets" },
	{ "AAAA of 4 octets", "AAAA rdata is not 16 octets" },
	{ "MX of 2 octets", "MX rdata shorter" },
	{ "MX trailing", "MX rdata has trailing octets" },
	{ "pointer loop", "compression pointer loop" },
	{ "name past rdata", "past the end" },
	{ "label type 0x40", "unsupported label type" },
	{ "name > 255", "longer than 255" },
	{ "TLSA of 2 octets", "TLSA rdata shorter" },
	{ "too many answers", "too many answer records" },
	{ "outside chain", "outside the CNAME chain" },
	{ "chain too long", "CNAME chain too long" },
	{ "label past end", "past the end" },
	{ "TXT of 0 octets", "TXT rdata holds no character-string" },
	{ "TXT string past rdata", "TXT character-string runs past its rdata" },
	{ "TXT string past rdata (2nd)", "TXT character-string runs past" },
};

/* build_bad - the message for bad case i; returns the qtype */
static uint16_t
build_bad(size_t i, struct msg *m)
{
	size_t	 k;

	switch (i) {
	case 0:
		m->n = 5;
		memset(m->b, 0, 5);
		return DMX_T_A;
	case 1:
		header(m, 2, 0);
		question(m, "a.org", DMX_T_A);
		question(m, "a.org", DMX_T_A);
		return DMX_T_A;
	case 2:
		header(m, 1, 0);
		putname(m, "a.org");
		put16(m, DMX_T_A);
		return DMX_T_A;
	case 3:
		header(m, 1, 0);
		question(m, "b.org", DMX_T_A);
		return DMX_T_A;
	case 4:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_A);
		putname(m, "a.org");
		put16(m, DMX_T_A);
		return DMX_T_A;
	case 5:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_A);
		rrhdr(m, "a.org", DMX_T_A, 40);
		put32(m, 0);
		return DMX_T_A;
	case 6:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_A);
		rrhdr(m, "a.org", DMX_T_A, 5);
		put32(m, 0);
		put8(m, 0);
		return DMX_T_A;
	case 7:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_AAAA);
		rrhdr(m, "a.org", DMX_T_AAAA, 4);
		put32(m, 0);
		return DMX_T_AAAA;
	case 8:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_MX);
		rrhdr(m, "a.org", DMX_T_MX, 2);
		put16(m, 10);
		return DMX_T_MX;
	case 9:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_MX);
		rrhdr(m, "a.org", DMX_T_MX, 2 + 8 + 1);
		put16(m, 10);
		putname(m, "mx.org");
		put8(m, 0xff);
		return DMX_T_MX;
	case 10:	/* exchange points at itself */
		header(m, 1, 1);
		question(m, "a.org", DMX_T_MX);
		rrhdr(m, "a.org", DMX_T_MX, 4);
		put16(m, 10);
		put16(m, 0xc000 | (unsigned)(m->n));
		return DMX_T_MX;
	case 11:	/* exchange label runs past its rdata */
		header(m, 1, 1);
		question(m, "a.org", DMX_T_MX);
		rrhdr(m, "a.org", DMX_T_MX, 4);
		put16(m, 10);
		put8(m, 5); put8(m, 'a');
		put32(m, 0);
		return DMX_T_MX;
	case 12:
		header(m, 1, 0);
		put8(m, 0x40);
		put8(m, 0);
		put16(m, 1); put16(m, 1);
		return DMX_T_A;
	case 13:	/* 5 labels of 63 = 320 octets */
		header(m, 1, 0);
		for (k = 0; k < 5; k++) {
			put8(m, 63);
			memset(m->b + m->n, 'a', 63);
			m->n += 63;
		}
		put8(m, 0);
		put16(m, 1); put16(m, 1);
		return DMX_T_A;
	case 14:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_TLSA);
		rrhdr(m, "a.org", DMX_T_TLSA, 2);
		put8(m, 3); put8(m, 1);
		return DMX_T_TLSA;
	case 15:
		header(m, 1, DNS_MAX_RRS + 1);
		question(m, "a.org", DMX_T_A);
		return DMX_T_A;
	case 16:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_A);
		rrhdr(m, "evil.org", DMX_T_A, 4);
		put32(m, 0x7f000001);
		return DMX_T_A;
	case 17:
		header(m, 1, DNS_MAX_CNAME_CHAIN + 1);
		question(m, "a.org", DMX_T_A);
		for (k = 0; k <= DNS_MAX_CNAME_CHAIN; k++) {
			rrhdr(m, "a.org", DMX_T_CNAME, 7);
			putname(m, "a.org");
		}
		return DMX_T_A;
	case 18:
		header(m, 1, 0);
		put8(m, 30);
		put8(m, 'a');
		return DMX_T_A;
	case 19:
		header(m, 1, 1);
		question(m, "a.org", DMX_T_TXT);
		rrhdr(m, "a.org", DMX_T_TXT, 0);
		return DMX_T_TXT;
	case 20:	/* a string of 5 in 3 octets of rdata (more follow) */
		header(m, 1, 1);
		question(m, "a.org", DMX_T_TXT);
		rrhdr(m, "a.org", DMX_T_TXT, 3);
		put8(m, 5); put8(m, 'a'); put8(m, 'b');
		put32(m, 0);
		return DMX_T_TXT;
	case 21:	/* the second string's length octet claims too much */
		header(m, 1, 1);
		question(m, "a.org", DMX_T_TXT);
		rrhdr(m, "a.org", DMX_T_TXT, 4);
		put8(m, 1); put8(m, 'a'); put8(m, 2); put8(m, 'b');
		return DMX_T_TXT;
	}
	return 0;
}

static void
test_bad(void)
{
	struct msg		 m;
	struct dmx_dns_result	*r;
	const char		*err;
	uint16_t		 qt;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(bad_cases); i++) {
		memset(&m, 0, sizeof(m));
		qt = build_bad(i, &m);
		r = newres("a.org", qt);
		err = parse(&m, r);
		T_CHECK(err != NULL && strstr(err, bad_cases[i].want) != NULL,
		    "%s: got error '%s', want '%s'", bad_cases[i].name,
		    err ? err : "(success)", bad_cases[i].want);
		T_CHECK(r->nrrs == 0 && r->rrs == NULL && r->ncname == 0,
		    "%s: records left behind after an error", bad_cases[i].name);
		dmx_dns_result_free(r);
	}
}

static void
test_names(void)
{
	unsigned char	 b[64] = { 3, 'W', '.', 'x', 3, 'o', 'r', 'g', 0 };
	char		 out[DMX_NAME_MAX];
	const char	*err = NULL;
	size_t		 off = 0;

	T_CHECK(dns_name_read(b, 9, &off, out, sizeof(out), &err) == 0 &&
	    strcmp(out, "w\\.x.org") == 0 && off == 9,
	    "escaped name: got '%s' off %zu", out, off);
	b[0] = 0;
	off = 0;
	T_CHECK(dns_name_read(b, 1, &off, out, sizeof(out), &err) == 0 &&
	    strcmp(out, ".") == 0, "root name: got '%s'", out);
	b[0] = 1; b[1] = 0x01; b[2] = 0;
	off = 0;
	T_CHECK(dns_name_read(b, 3, &off, out, sizeof(out), &err) == 0 &&
	    strcmp(out, "\\001") == 0, "binary label: got '%s'", out);
	off = 0;
	T_CHECK(dns_name_read(b, 3, &off, out, 3, &err) == -1,
	    "tiny output buffer accepted");
	T_CHECK(dns_name_equal("Example.ORG.", "example.org"),
	    "names differing in case and final dot compare unequal");
	T_CHECK(!dns_name_equal("example.org", "example.or"),
	    "different names compare equal");
}

/* rr_ttl - an RR with its own TTL and rdata bytes */
static void
rr_ttl(struct msg *m, const char *owner, unsigned type, unsigned long ttl,
    const unsigned char *rd, unsigned rdlen)
{
	unsigned i;

	putname(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
	for (i = 0; i < rdlen; i++)
		put8(m, rd[i]);
}

/*
 * test_ttl - the result's TTL is libunbound's ub_result's: the smallest
 * of the answer section (every record there, CNAMEs and signatures
 * included), or for an answer without records the authority section's
 * smallest (the SOA of a negative answer), or 0 when neither has any.
 */
static void
test_ttl(void)
{
	static const unsigned char a[4] = { 192, 0, 2, 1 };
	static const unsigned char sig[3] = { 1, 2, 3 };
	static const unsigned char soa[22] = { 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
	    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	struct msg		 m;
	struct dmx_dns_result	*r;
	const char		*err;

	header(&m, 1, 3);
	question(&m, "www.example.org", DMX_T_A);
	rr_ttl(&m, "www.example.org", DMX_T_A, 3600, a, 4);
	rr_ttl(&m, "www.example.org", DMX_T_A, 1800, a, 4);
	rr_ttl(&m, "www.example.org", 46 /* RRSIG */, 900, sig, 3);
	r = newres("www.example.org", DMX_T_A);
	err = parse(&m, r);
	T_CHECK(err == NULL, "ttl, answer: got error %s", err);
	T_CHECK(r->ttl == 900, "ttl, answer: got %u, want 900 (its RRSIG's)",
	    (unsigned)r->ttl);
	dmx_dns_result_free(r);

	/* NXDOMAIN: nothing in the answer; SOA 300 and NSEC 600 after it */
	header(&m, 1, 0);
	m.b[8] = 0;
	m.b[9] = 2;		/* NSCOUNT */
	question(&m, "nosuch.example.org", DMX_T_A);
	rr_ttl(&m, "example.org", 6 /* SOA */, 300, soa, 22);
	rr_ttl(&m, "example.org", 47 /* NSEC */, 600, sig, 3);
	r = newres("nosuch.example.org", DMX_T_A);
	err = parse(&m, r);
	T_CHECK(err == NULL, "ttl, negative: got error %s", err);
	T_CHECK(r->ttl == 300, "ttl, negative: got %u, want the SOA's 300",
	    (unsigned)r->ttl);
	dmx_dns_result_free(r);

	/* a CNAME to a name that does not exist: the SOA's, not the
	 * CNAME's (libunbound's negative TTL covers every section) */
	header(&m, 1, 1);
	m.b[3] = 0x83;		/* NXDOMAIN */
	m.b[9] = 1;		/* NSCOUNT */
	m.b[11] = 1;		/* ARCOUNT: an OPT, whose "TTL" is flags */
	question(&m, "alias.example.org", DMX_T_A);
	{
		struct msg	 t;

		t.n = 0;	/* the CNAME's target, as rdata */
		putname(&t, "gone.example.org");
		rr_ttl(&m, "alias.example.org", DMX_T_CNAME, 86400, t.b,
		    (unsigned)t.n);
		rr_ttl(&m, "example.org", 6 /* SOA */, 300, soa, 22);
		putname(&m, "");
		put16(&m, 41);
		put16(&m, 1232);
		put32(&m, 0);		/* extended rcode, version, flags */
		put16(&m, 0);
	}
	r = newres("alias.example.org", DMX_T_A);
	err = parse(&m, r);
	T_CHECK(err == NULL, "ttl, CNAME to NXDOMAIN: got error %s", err);
	T_CHECK(r->ttl == 300, "ttl, CNAME to NXDOMAIN: got %u, want the "
	    "SOA's 300, not the CNAME's 86400 nor the OPT's",
	    (unsigned)r->ttl);
	dmx_dns_result_free(r);

	/* NXDOMAIN again, for the truncation case below */
	header(&m, 1, 0);
	m.b[8] = 0;
	m.b[9] = 2;		/* NSCOUNT */
	question(&m, "nosuch.example.org", DMX_T_A);
	rr_ttl(&m, "example.org", 6 /* SOA */, 300, soa, 22);
	rr_ttl(&m, "example.org", 47 /* NSEC */, 600, sig, 3);

	/* a truncated authority section: what was read counts, no error */
	m.n -= 5;
	r = newres("nosuch.example.org", DMX_T_A);
	err = parse(&m, r);
	T_CHECK(err == NULL, "ttl, cut authority: got error %s", err);
	T_CHECK(r->ttl == 300, "ttl, cut authority: got %u, want 300",
	    (unsigned)r->ttl);
	dmx_dns_result_free(r);

	/* nothing anywhere: 0 */
	header(&m, 1, 0);
	question(&m, "nosuch.example.org", DMX_T_A);
	r = newres("nosuch.example.org", DMX_T_A);
	err = parse(&m, r);
	T_CHECK(err == NULL && r->ttl == 0, "ttl, empty: got %u (%s)",
	    (unsigned)r->ttl, err ? err : "no error");
	dmx_dns_result_free(r);
}

/* test_wire_ok - which names a DNS query can carry */
static void
test_wire_ok(void)
{
	char	 l63[64], l64[65], n253[300], n254[300];
	size_t	 i;

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	/* 4 labels of 63 (+ dots) = 255 characters: too long by 2; 63 + 1 +
	 * 63 + 1 + 63 + 1 + 61 = 253 characters, 255 octets: the most */
	snprintf(n253, sizeof(n253), "%s.%s.%s.", l63, l63, l63);
	for (i = 0; i < 61; i++)
		strcat(n253, "b");
	strcpy(n254, n253);
	strcat(n254, "b");
	T_CHECK(dns_name_wire_ok(l63), "a 63-octet label refused");
	T_CHECK(!dns_name_wire_ok(l64), "a 64-octet label accepted");
	T_CHECK(dns_name_wire_ok(n253), "253 characters (255 octets) refused");
	T_CHECK(!dns_name_wire_ok(n254), "254 characters (256 octets) accepted");
	T_CHECK(dns_name_wire_ok("_25._tcp.mx.example.org."),
	    "a trailing dot refused");
	T_CHECK(!dns_name_wire_ok("a..b") && !dns_name_wire_ok(".a"),
	    "an empty label accepted");
	T_CHECK(dns_name_wire_ok("a\\.b.example") &&
	    dns_name_wire_ok("\\065\\066.example"), "escapes refused");
	T_CHECK(!dns_name_wire_ok("a\\"), "a lone backslash accepted");
	/* 21 escapes of 4 characters and 42 letters: 126 characters, 63
	 * octets, one label */
	n254[0] = '\0';
	for (i = 0; i < 21; i++)
		strcat(n254, "\\046");
	for (i = 0; i < 42; i++)
		strcat(n254, "c");
	T_CHECK(dns_name_wire_ok(n254), "\\DDD counted as more than one "
	    "octet");
	strcat(n254, "c");
	T_CHECK(!dns_name_wire_ok(n254), "a 64-octet escaped label accepted");
}

int
main(void)
{
	test_good();
	test_ttl();
	test_wire_ok();
	test_bad();
	test_names();
	return t_done("test_dns_wire");
}
