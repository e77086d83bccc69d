/*
 * dane_tlsa.c - TLSA records from text and from wire rdata, and sets of them
 *
 * The parsers fill a caller's struct dane_tlsa whose data they allocate;
 * the caller frees it with dane_tlsa_clear(), also after an error (it is
 * then empty). dane_tlsa_set_add() copies a record into a set; the set
 * owns its copies until dane_tlsa_set_free(). dane_tlsa_text() returns a
 * string the caller frees. Nothing here decides usability: a digest of
 * the wrong length parses fine and is judged by dane_policy.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dane/dane.h"
#include "util/util.h"

/* hexdigit - the value of one hex digit, -1 if c is not one */
static int
hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* seterr - write a reason for the caller, when it gave a buffer */
static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * parse_field - read one decimal 0..255 field and the blanks after it.
 * Advances *pp; returns -1 with a reason when the field is missing or
 * out of range.
 */
static int
parse_field(const char **pp, const char *what, uint8_t *out, char *err,
    size_t errlen)
{
	const char	*p = *pp;
	unsigned	 v = 0;
	int		 n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '\r' || *p == '\n') {
		seterr(err, errlen, "missing %s", what);
		return -1;
	}
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p - '0');
		if (++n > 3 || v > 255) {
			seterr(err, errlen, "%s is not a number from 0 to 255",
			    what);
			return -1;
		}
		p++;
	}
	if (n == 0 || (*p != '\0' && !isspace((unsigned char)*p))) {
		seterr(err, errlen, "%s is not a number from 0 to 255", what);
		return -1;
	}
	*out = (uint8_t)v;
	*pp = p;
	return 0;
}

/*
 * dane_tlsa_parse_text - parse "USAGE SELECTOR MTYPE HEX": the hex may
 * be in either case and contain blanks. Returns 0, or -1 with a reason
 * (out is then empty).
 */
int
dane_tlsa_parse_text(const char *text, struct dane_tlsa *out, char *err,
    size_t errlen)
{
	const char	*p = text, *h;
	size_t		 ndig = 0, i;
	int		 hi = -1, v;

	memset(out, 0, sizeof(*out));
	if (parse_field(&p, "certificate usage", &out->usage, err,
	    errlen) == -1 || parse_field(&p, "selector", &out->selector, err,
	    errlen) == -1 || parse_field(&p, "matching type", &out->mtype,
	    err, errlen) == -1)
		return -1;
	for (h = p; *h != '\0'; h++) {
		if (isspace((unsigned char)*h))
			continue;
		if (hexdigit((unsigned char)*h) == -1) {
			seterr(err, errlen, "certificate association data: "
			    "'%c' is not a hex digit", isprint((unsigned char)*h)
			    ? *h : '?');
			return -1;
		}
		if (++ndig > 2 * (size_t)DANE_DATA_MAX) {
			seterr(err, errlen, "certificate association data "
			    "longer than %d octets", DANE_DATA_MAX);
			return -1;
		}
	}
	if (ndig == 0) {
		seterr(err, errlen, "missing certificate association data");
		return -1;
	}
	if (ndig % 2 != 0) {
		seterr(err, errlen, "certificate association data has an odd "
		    "number of hex digits (%zu)", ndig);
		return -1;
	}
	if ((out->data = malloc(ndig / 2)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	out->len = ndig / 2;
	for (i = 0; *p != '\0'; p++) {
		if ((v = hexdigit((unsigned char)*p)) == -1)
			continue;	/* a blank: checked above */
		if (hi == -1) {
			hi = v;
			continue;
		}
		out->data[i++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return 0;
}

/* strip_comment - cut line at the first ';' or '#' (zone-file comments) */
static void
strip_comment(char *s)
{
	s[strcspn(s, ";#")] = '\0';
}

/*
 * dane_tlsa_parse_line - parse one line of a TLSA file: bare rdata
 * ("3 1 1 <hex>") or a zone-file line as dig prints it
 * ("_25._tcp.mx.example. 3600 IN TLSA 3 1 1 <hex>"). Returns 1 with a
 * record, 0 for a blank or comment line, -1 with a reason.
 */
int
dane_tlsa_parse_line(const char *line, struct dane_tlsa *out, char *err,
    size_t errlen)
{
	char	*copy, *p, *tok, *rdata = NULL;
	int	 rv;

	memset(out, 0, sizeof(*out));
	if (strlen(line) > DANE_LINE_MAX) {
		seterr(err, errlen, "line longer than %d characters",
		    DANE_LINE_MAX);
		return -1;
	}
	if ((copy = strdup(line)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	strip_comment(copy);
	for (p = copy; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0') {
		free(copy);
		return 0;
	}
	if (isdigit((unsigned char)*p)) {
		rdata = p;
	} else {
		/*
		 * [owner] [ttl] [class] TLSA rdata: the last "TLSA" token
		 * is the type, since rdata (digits, hex) cannot hold one.
		 */
		tok = p;
		while (*tok != '\0') {
			size_t	 n = strcspn(tok, " \t\r\n");

			if (n == 4 && strncasecmp(tok, "TLSA", 4) == 0)
				rdata = tok + 4;
			tok += n;
			tok += strspn(tok, " \t\r\n");
		}
		if (rdata == NULL) {
			seterr(err, errlen, "expected 'USAGE SELECTOR MTYPE "
			    "HEX' or a zone-file line with type TLSA");
			free(copy);
			return -1;
		}
	}
	rv = dane_tlsa_parse_text(rdata, out, err, errlen);
	free(copy);
	return rv == 0 ? 1 : -1;
}

/*
 * dane_tlsa_parse_wire - parse TLSA rdata as it is on the wire: three
 * octets, then the data (which may be empty; that record is unusable,
 * not malformed). Returns 0, or -1 with a reason.
 */
int
dane_tlsa_parse_wire(const unsigned char *rdata, size_t len,
    struct dane_tlsa *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len < 3) {
		seterr(err, errlen, "TLSA rdata of %zu octets is shorter "
		    "than 3", len);
		return -1;
	}
	if (len - 3 > DANE_DATA_MAX) {
		seterr(err, errlen, "TLSA rdata longer than %d octets",
		    DANE_DATA_MAX + 3);
		return -1;
	}
	out->usage = rdata[0];
	out->selector = rdata[1];
	out->mtype = rdata[2];
	out->len = len - 3;
	if (out->len > 0) {
		if ((out->data = malloc(out->len)) == NULL) {
			out->len = 0;
			seterr(err, errlen, "out of memory");
			return -1;
		}
		memcpy(out->data, rdata + 3, out->len);
	}
	return 0;
}

/* dane_tlsa_clear - free a record's data and empty it */
void
dane_tlsa_clear(struct dane_tlsa *t)
{
	free(t->data);
	memset(t, 0, sizeof(*t));
}

/*
 * dane_tlsa_text - the record in presentation form, "3 1 1 <hex>", hex
 * in lowercase unless upper. The caller frees it; NULL when out of memory.
 */
char *
dane_tlsa_text(const struct dane_tlsa *t, int upper)
{
	size_t	 n = 16 + 2 * t->len;
	char	*s;
	int	 k;

	if ((s = malloc(n)) == NULL)
		return NULL;
	k = snprintf(s, n, "%u %u %u%s", t->usage, t->selector, t->mtype,
	    t->len > 0 ? " " : "");
	if (k < 0 || hex_encode(s + k, n - (size_t)k, t->data, t->len,
	    upper) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

/* dane_tlsa_equal - 1 when t has exactly these fields and data */
int
dane_tlsa_equal(const struct dane_tlsa *t, uint8_t usage, uint8_t selector,
    uint8_t mtype, const unsigned char *data, size_t len)
{
	return t->usage == usage && t->selector == selector &&
	    t->mtype == mtype && t->len == len &&
	    (len == 0 || memcmp(t->data, data, len) == 0);
}

/* dane_tlsa_set_init - an empty, not secure set */
void
dane_tlsa_set_init(struct dane_tlsa_set *s)
{
	memset(s, 0, sizeof(*s));
}

/*
 * dane_tlsa_set_add - append a copy of t (classified later). Returns 0,
 * or -1 when out of memory or the set already holds DANE_MAX_RECORDS.
 */
int
dane_tlsa_set_add(struct dane_tlsa_set *s, const struct dane_tlsa *t)
{
	struct dane_tlsa	*r;
	size_t			 ncap;

	if (s->n >= DANE_MAX_RECORDS)
		return -1;
	if (s->n == s->cap) {
		ncap = s->cap == 0 ? 4 : s->cap * 2;
		if ((r = reallocarray(s->recs, ncap, sizeof(*r))) == NULL)
			return -1;
		s->recs = r;
		s->cap = ncap;
	}
	r = &s->recs[s->n];
	*r = *t;
	r->data = NULL;
	if (t->len > 0) {
		if ((r->data = malloc(t->len)) == NULL)
			return -1;
		memcpy(r->data, t->data, t->len);
	}
	r->why = DANE_USABLE;
	s->n++;
	return 0;
}

/*
 * dane_tlsa_set_add_text - parse "U S M HEX" (or a zone-file line) and
 * append it. Returns 0, or -1 with a reason.
 */
int
dane_tlsa_set_add_text(struct dane_tlsa_set *s, const char *text, char *err,
    size_t errlen)
{
	struct dane_tlsa	 t;
	int			 rv;

	if ((rv = dane_tlsa_parse_line(text, &t, err, errlen)) == -1)
		return -1;
	if (rv == 0) {
		seterr(err, errlen, "no TLSA record");
		return -1;
	}
	rv = dane_tlsa_set_add(s, &t);
	dane_tlsa_clear(&t);
	if (rv == -1)
		seterr(err, errlen, "too many TLSA records (at most %d)",
		    DANE_MAX_RECORDS);
	return rv;
}

/*
 * dane_tlsa_set_from_dns - fill an empty set from a TLSA lookup. The
 * set is secure only when the answer was DNSSEC secure. Returns 0, or
 * -1 with a reason (the set may then hold some records; free it).
 */
int
dane_tlsa_set_from_dns(struct dane_tlsa_set *s,
    const struct dmx_dns_result *res, char *err, size_t errlen)
{
	struct dane_tlsa	 t;
	size_t			 i;

	s->secure = res->status == DMX_DNS_SECURE;
	for (i = 0; i < res->nrrs; i++) {
		if (res->rrs[i].type != DMX_T_TLSA)
			continue;
		memset(&t, 0, sizeof(t));
		t.usage = res->rrs[i].u.tlsa.usage;
		t.selector = res->rrs[i].u.tlsa.selector;
		t.mtype = res->rrs[i].u.tlsa.mtype;
		t.len = res->rrs[i].u.tlsa.len;
		t.data = res->rrs[i].u.tlsa.data;	/* copied by _add */
		if (t.len > DANE_DATA_MAX || (t.len > 0 && t.data == NULL)) {
			seterr(err, errlen, "TLSA record %zu is malformed", i);
			return -1;
		}
		if (dane_tlsa_set_add(s, &t) == -1) {
			seterr(err, errlen, "too many TLSA records");
			return -1;
		}
	}
	return 0;
}

/* dane_tlsa_set_free - free every record and empty the set */
void
dane_tlsa_set_free(struct dane_tlsa_set *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		free(s->recs[i].data);
	free(s->recs);
	memset(s, 0, sizeof(*s));
}
