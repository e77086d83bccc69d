/*
 * tlsrpt_txt.c - the TLS-RPT policy record (RFC 8460 3): which TXT
 * record at _smtp._tls.<domain> counts, and where its rua= field says
 * reports go.
 *
 *   tlsrpt-record  = %s"v=TLSRPTv1" 1*(field-delim tlsrpt-field)
 *                    [field-delim]
 *   field-delim    = *WSP ";" *WSP
 *   tlsrpt-rua     = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri     = URI   ; commas and "!" MUST be percent-encoded
 *   tlsrpt-extension = ext-name "=" ext-value   ; ignored
 *
 * Only mailto: (RFC 6068: the addresses before any "?", percent-
 * decoded; header fields are not used) and https: URIs are kept. A URI
 * that is malformed, too long, of another scheme or one too many is
 * skipped with a note, and so is a malformed field: whoever publishes
 * the record can at worst lose their own reports. Everything lands in
 * the caller's fixed-size struct tlsrpt_rua; nothing is allocated.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

#define VERSION		"v=TLSRPTv1"
#define VERSION_LEN	(sizeof(VERSION) - 1)
#define QUOTE_MAX	60	/* octets of a URI quoted in a note */
#define Q(len)		((int)((len) < QUOTE_MAX ? (len) : QUOTE_MAX))

/* note - one line for the log: why something was skipped or ignored */
static void __attribute__((format(printf, 2, 3)))
note(struct tlsrpt_rua *out, const char *fmt, ...)
{
	va_list	 ap;
	char	*n;

	if (out->nnotes++ >= TLSRPT_NOTE_MAX)
		return;
	n = out->notes[out->nnotes - 1];
	va_start(ap, fmt);
	vsnprintf(n, TLSRPT_NOTE_LEN, fmt, ap);
	va_end(ap);
	str_printable(n, strlen(n));
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 atext */
static int
is_atext(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL);
}

/*
 * tlsrpt_domain_ok - a host name in ASCII: dot-separated labels of
 * letters, digits and '-' (not first or last), 1-63 octets each, 253 in
 * all, no trailing dot. 1 if it is one.
 */
int
tlsrpt_domain_ok(const char *d, size_t len)
{
	size_t	 i, label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		if (d[i] == '.') {
			if (label == 0 || d[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)d[i]) && d[i] != '-')
			return 0;
		if (d[i] == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && d[len - 1] != '-';
}

/* local_ok - a dot-atom-text or a quoted string without blanks */
static int
local_ok(const char *l, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 64)
		return 0;
	if (l[0] == '"') {
		if (len < 3 || l[len - 1] != '"')
			return 0;
		for (i = 1; i < len - 1; i++) {
			if (l[i] == '\\')
				i++;	/* quoted-pair: next is a VCHAR */
			else if (l[i] == '"')
				return 0;
			if (i >= len - 1 || l[i] <= ' ' || l[i] > '~')
				return 0;
		}
		return 1;
	}
	for (i = 0; i < len; i++) {
		if (l[i] == '.') {
			if (i == 0 || i == len - 1 || l[i - 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)l[i]))
			return 0;
	}
	return 1;
}

/*
 * tlsrpt_addr_ok - an addr-spec we may put in an envelope and a header:
 * local-part "@" host name (tlsrpt_domain_ok()), 254 octets at most.
 */
int
tlsrpt_addr_ok(const char *a, size_t len)
{
	const char	*at;

	if (len == 0 || len > 254 || memchr(a, '\0', len) != NULL)
		return 0;
	for (at = a + len - 1; at > a && *at != '@'; at--)
		;
	if (*at != '@')
		return 0;
	return local_ok(a, (size_t)(at - a)) &&
	    tlsrpt_domain_ok(at + 1, len - (size_t)(at - a) - 1);
}

/*
 * uri_chars - are u[0..len) the octets a URI may hold (RFC 3986: no
 * blanks, controls or 8-bit octets; '%' only before two hex digits),
 * and no literal '!' (RFC 8460 3)? NULL, or why not.
 */
static const char *
uri_chars(const char *u, size_t len)
{
	static const char	 ok[] = "-._~:/?#[]@$&'()*+,;=";
	size_t			 i;

	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)u[i];

		if (c == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)u[i + 1]) ||
			    !isxdigit((unsigned char)u[i + 2]))
				return "a '%' not followed by two hex digits";
			i += 2;
		} else if (c == '!')
			return "a literal '!' (it must be percent-encoded)";
		else if (c <= ' ' || c >= 0x7f)
			return "a blank, control or 8-bit octet";
		else if (!isalnum(c) && strchr(ok, c) == NULL)
			return "an octet a URI cannot hold";
	}
	return NULL;
}

static int
hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' :
	    tolower((unsigned char)c) - 'a' + 10;
}

/* add_addr - one decoded mailto: address, checked; kept once */
static void
add_addr(struct tlsrpt_rua *out, const char *uri, size_t ulen,
    const char *a, size_t len)
{
	struct tlsrpt_dest	*d;
	size_t			 i;

	if (!tlsrpt_addr_ok(a, len)) {
		note(out, "rua URI '%.*s' skipped: '%.*s' is not an address "
		    "danemx can mail (local-part@host.name)", Q(ulen), uri,
		    Q(len), a);
		return;
	}
	for (i = 0; i < out->n; i++)
		if (out->dest[i].scheme == TLSRPT_MAILTO &&
		    strlen(out->dest[i].addr) == len &&
		    strncasecmp(out->dest[i].addr, a, len) == 0)
			return;		/* said twice: one report */
	if (out->n == TLSRPT_RUA_MAX) {
		note(out, "rua address '%.*s' ignored: more than %d "
		    "destinations", Q(len), a, TLSRPT_RUA_MAX);
		return;
	}
	d = &out->dest[out->n++];
	d->scheme = TLSRPT_MAILTO;
	memcpy(d->uri, uri, ulen);
	d->uri[ulen] = '\0';
	memcpy(d->addr, a, len);
	d->addr[len] = '\0';
}

/*
 * mailto - "mailto:" to [ "?" hfields ] (RFC 6068): the addresses in
 * to, percent-decoded, separated by ',' outside quoted strings
 */
static void
mailto(struct tlsrpt_rua *out, const char *u, size_t len)
{
	char		 to[TLSRPT_URI_MAX];
	const char	*p = u + 7, *end = u + len, *q;
	size_t		 n = 0, start, i;
	int		 quoted = 0;

	if ((q = memchr(p, '?', (size_t)(end - p))) != NULL) {
		note(out, "rua URI '%.*s': its header fields (after '?') are "
		    "not used", Q(len), u);
		end = q;
	}
	for (; p < end; p++) {
		if (*p == '%') {
			to[n] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
			if ((unsigned char)to[n] < ' ' ||
			    (unsigned char)to[n] >= 0x7f) {
				note(out, "rua URI '%.*s' skipped: it encodes "
				    "a control or 8-bit octet", Q(len), u);
				return;
			}
		} else
			to[n] = *p;
		n++;
	}
	if (n == 0) {
		note(out, "rua URI '%.*s' skipped: no address", Q(len), u);
		return;
	}
	for (i = start = 0; i <= n; i++) {
		if (i < n && to[i] == '"' && (i == 0 || to[i - 1] != '\\'))
			quoted = !quoted;
		if (i == n || (to[i] == ',' && !quoted)) {
			add_addr(out, u, len, to + start, i - start);
			start = i + 1;
		}
	}
}

/* https - "https://" authority path...: an authority with a host */
static void
https(struct tlsrpt_rua *out, const char *u, size_t len)
{
	struct tlsrpt_dest	*d;
	const char		*a = u + 6, *end = u + len, *ae, *host;

	if (len < 8 || a[0] != '/' || a[1] != '/') {
		note(out, "rua URI '%.*s' skipped: https: without '//' and a "
		    "host", Q(len), u);
		return;
	}
	a += 2;
	for (ae = a; ae < end && *ae != '/' && *ae != '?' && *ae != '#'; ae++)
		;
	for (host = ae; host > a && host[-1] != '@'; host--)
		;
	if (host == ae || *host == ':') {
		note(out, "rua URI '%.*s' skipped: no host", Q(len), u);
		return;
	}
	if (out->n == TLSRPT_RUA_MAX) {
		note(out, "rua URI '%.*s' ignored: more than %d destinations",
		    Q(len), u, TLSRPT_RUA_MAX);
		return;
	}
	d = &out->dest[out->n++];
	d->scheme = TLSRPT_HTTPS;
	memcpy(d->uri, u, len);
	d->uri[len] = '\0';
	d->addr[0] = '\0';
}

/* uri - one tlsrpt-uri of a rua= list */
static void
uri(struct tlsrpt_rua *out, const char *u, size_t len)
{
	const char	*why, *colon;
	size_t		 i;

	if (len == 0) {
		note(out, "an empty URI in rua= skipped");
		return;
	}
	if (len >= TLSRPT_URI_MAX) {
		note(out, "rua URI '%.*s...' skipped: %zu octets, more than "
		    "%d", Q(len), u, len, TLSRPT_URI_MAX - 1);
		return;
	}
	if ((why = uri_chars(u, len)) != NULL) {
		note(out, "rua URI '%.*s' skipped: it holds %s", Q(len), u,
		    why);
		return;
	}
	colon = memchr(u, ':', len);
	for (i = 0; colon != NULL && u + i < colon; i++)
		if (!(isalpha((unsigned char)u[i]) || (i > 0 &&
		    (isdigit((unsigned char)u[i]) || strchr("+-.", u[i]) !=
		    NULL))))
			colon = NULL;
	if (colon == NULL || colon == u) {
		note(out, "rua URI '%.*s' skipped: not a URI (no scheme)",
		    Q(len), u);
		return;
	}
	if (colon - u == 6 && strncasecmp(u, "mailto", 6) == 0)
		mailto(out, u, len);
	else if (colon - u == 5 && strncasecmp(u, "https", 5) == 0)
		https(out, u, len);
	else
		note(out, "rua URI '%.*s' ignored: only mailto: and https: "
		    "are used", Q(len), u);
}

/* rua - the value of rua=: URIs separated by "," and blanks */
static void
rua(struct tlsrpt_rua *out, const char *v, size_t len)
{
	size_t	 pos = 0, s, e, seen = 0;

	while (pos <= len) {
		for (s = pos; s < len && v[s] != ','; s++)
			;
		e = s;
		while (pos < e && is_wsp(v[pos]))
			pos++;
		while (e > pos && is_wsp(v[e - 1]))
			e--;
		if (++seen > TLSRPT_URIS_SEEN_MAX) {
			note(out, "rua= lists more than %d URIs: the rest are "
			    "ignored", TLSRPT_URIS_SEEN_MAX);
			return;
		}
		uri(out, v + pos, e - pos);
		pos = s + 1;
	}
}

/* ext_ok - an extension field: ext-name "=" ext-value (RFC 8460 3) */
static int
ext_ok(const char *f, size_t len, size_t eq)
{
	size_t	 i;

	if (eq == 0 || eq > 32 || eq + 1 >= len ||
	    !isalnum((unsigned char)f[0]))
		return 0;
	for (i = 1; i < eq; i++)
		if (!isalnum((unsigned char)f[i]) && strchr("_-.", f[i]) ==
		    NULL)
			return 0;
	for (i = eq + 1; i < len; i++)
		if ((unsigned char)f[i] <= ' ' || (unsigned char)f[i] >= 0x7f ||
		    f[i] == '=' || f[i] == ';')
			return 0;
	return 1;
}

/* field - one tlsrpt-field: rua= (the first counts) or an extension */
static void
field(struct tlsrpt_rua *out, const char *f, size_t len, int *nrua)
{
	const char	*eq = memchr(f, '=', len);

	if (len == 0)
		return;		/* ";;": nothing there */
	if (len >= 4 && memcmp(f, "rua=", 4) == 0) {
		if ((*nrua)++ == 0)
			rua(out, f + 4, len - 4);
		else
			note(out, "a second rua= field ignored: the first "
			    "counts");
		return;
	}
	if (eq == NULL || !ext_ok(f, len, (size_t)(eq - f)))
		note(out, "malformed field '%.*s' ignored", Q(len), f);
	else if ((size_t)(eq - f) == 3 && strncasecmp(f, "rua", 3) == 0)
		note(out, "field '%.3s' ignored (field names are "
		    "case-sensitive: 'rua')", f);
	else
		note(out, "unknown field '%.*s' ignored", (int)(eq - f), f);
}

/* record - the fields after v=TLSRPTv1; 0, or -1 with err */
static int
record(struct tlsrpt_rua *out, const char *p, size_t len, char *err,
    size_t errlen)
{
	size_t	 pos = VERSION_LEN, s, e;
	int	 nrua = 0;

	while (pos < len && is_wsp(p[pos]))
		pos++;
	if (pos < len && p[pos] != ';') {
		snprintf(err, errlen, "malformed record: no ';' after "
		    VERSION);
		return -1;
	}
	while (pos < len) {
		pos++;			/* the ';' */
		for (s = pos; s < len && p[s] != ';'; s++)
			;
		e = s;
		while (pos < e && is_wsp(p[pos]))
			pos++;
		while (e > pos && is_wsp(p[e - 1]))
			e--;
		field(out, p + pos, e - pos, &nrua);
		pos = s;
	}
	if (nrua == 0) {
		snprintf(err, errlen, "no rua= field");
		return -1;
	}
	if (out->n == 0) {
		snprintf(err, errlen, "no usable URI in rua=%s", out->nnotes ?
		    " (see the notes)" : "");
		return -1;
	}
	return 0;
}

/* is_tlsrpt - does a record begin with v=TLSRPTv1 (then ';', WSP, end)? */
static int
is_tlsrpt(const char *p, size_t len)
{
	return len >= VERSION_LEN && memcmp(p, VERSION, VERSION_LEN) == 0 &&
	    (len == VERSION_LEN || p[VERSION_LEN] == ';' ||
	    is_wsp(p[VERSION_LEN]));
}

/* A record's data: txt_parse's strings, or an RRset's TXT records. */
struct src {
	const char *const	*txts;
	const struct dmx_dns_rr	*rrs;
};

/* get - record i's data and length; 0 if it is no TXT record */
static int
get(const struct src *s, size_t i, const char **p, size_t *len)
{
	if (s->txts != NULL) {
		*p = s->txts[i];
		*len = *p != NULL ? strlen(*p) : 0;
		return *p != NULL;
	}
	*p = s->rrs[i].u.txt.data;
	*len = s->rrs[i].u.txt.len;
	return s->rrs[i].type == DMX_T_TXT && *p != NULL;
}

/* parse - the one TLS-RPT record among n */
static int
parse(const struct src *s, size_t n, struct tlsrpt_rua *out, char *err,
    size_t errlen)
{
	const char	*p, *rec = NULL;
	size_t		 i, len, reclen = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (get(s, i, &p, &len) && is_tlsrpt(p, len)) {
			out->nrecords++;
			rec = p;
			reclen = len;
		}
	}
	if (out->nrecords == 0) {
		snprintf(err, errlen, "no " VERSION " record");
		return -1;
	}
	if (out->nrecords > 1) {
		snprintf(err, errlen, "more than one " VERSION " record (%zu): "
		    "RFC 8460 says to send no report", out->nrecords);
		return -1;
	}
	if (memchr(rec, '\0', reclen) != NULL) {
		snprintf(err, errlen, "malformed record: it holds a NUL octet");
		return -1;
	}
	return record(out, rec, reclen, err, errlen);
}

/* tlsrpt_txt_parse - the TLS-RPT record among n TXT records (strings) */
int
tlsrpt_txt_parse(const char *const *txts, size_t n, struct tlsrpt_rua *out,
    char *err, size_t errlen)
{
	struct src	 s = { txts, NULL };

	return parse(&s, n, out, err, errlen);
}

/* tlsrpt_txt_parse_rrs - the same over a TXT RRset from the resolver */
int
tlsrpt_txt_parse_rrs(const struct dmx_dns_rr *rrs, size_t n,
    struct tlsrpt_rua *out, char *err, size_t errlen)
{
	struct src	 s = { NULL, rrs };

	return parse(&s, n, out, err, errlen);
}
