/*
 * sts_parse.c - the MTA-STS TXT record and policy, to the letter of
 * RFC 8461 sections 3.1 and 3.2 (MX patterns: sts_match.c).
 *
 * Names and fixed values are case-sensitive as the ABNF's %s says: "ID=1"
 * is an extension field, not an id, and "Mode: enforce" an extension key,
 * not a mode. Extension fields and keys are ignored, as they must be, but
 * each is reported as a warning, with a hint when it is one typo away
 * from a key we know ("nmx" for "mx"), because such a typo can silently
 * leave an enforce policy without its mx lines. A duplicated field counts
 * only the first time (mx excepted: every mx line counts) and is
 * reported. A max_age above 31557600 is used as 31557600, with a warning.
 * Anything else that breaks the grammar (a blank line, a lone CR, a
 * trailing dot in an mx pattern, a tab inside a value, bytes that are not
 * UTF-8) or a missing required field makes the policy invalid, with the
 * line and the reason.
 *
 * Ownership: sts_policy_parse() returns a policy with one reference; the
 * last sts_policy_unref() frees it and everything it owns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemx.h"
#include "sts/sts.h"
#include "util/util.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_ALNUM(c)	(IS_ALPHA(c) || IS_DIGIT(c))
#define NAME_MAX_LEN	32	/* ext-name: 1 + *31 */

static const char *const policy_keys[] = { "version", "mode", "max_age",
    "mx" };
static const char *const txt_keys[] = { "v", "id" };

/* sts_diag_init - no error, no warnings */
void
sts_diag_init(struct sts_diag *d)
{
	memset(d, 0, sizeof(*d));
}

/* sts_warn - add a warning (past STS_WARN_MAX they are only counted) */
void
sts_warn(struct sts_diag *d, const char *fmt, ...)
{
	va_list	 ap;

	if (d->nwarn == STS_WARN_MAX) {
		d->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(d->warn[d->nwarn++], STS_WARN_LEN, fmt, ap);
	va_end(ap);
}

/* fail - set the error (the first one stands); returns -1 */
static int __attribute__((format(printf, 2, 3)))
fail(struct sts_diag *d, const char *fmt, ...)
{
	va_list	 ap;

	if (d->error[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	return -1;
}

/* show - untrusted bytes, quoted and escaped, at most 40 of them */
static const char *
show(const char *p, size_t n, char *out, size_t outlen)
{
	size_t	 i, o = 0;
	unsigned char c;

	for (i = 0; i < n && i < 40 && o + 6 < outlen; i++) {
		c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	if (i < n && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* near - a and b (b NUL-terminated) differ only in case or by one edit */
static int
near(const char *a, size_t la, const char *b)
{
	size_t	 lb = strlen(b), i, j, diff = 0;

	if (la == lb) {
		for (i = 0; i < la; i++)
			if ((a[i] | 0x20) != (b[i] | 0x20))
				diff++;
		if (diff <= 1)
			return 1;
		for (i = 0; i + 1 < la; i++)	/* one transposition */
			if ((a[i] | 0x20) == (b[i + 1] | 0x20) &&
			    (a[i + 1] | 0x20) == (b[i] | 0x20) &&
			    strncasecmp(a, b, i) == 0 &&
			    strncasecmp(a + i + 2, b + i + 2, la - i - 2) == 0)
				return 1;
		return 0;
	}
	if (la + 1 != lb && lb + 1 != la)
		return 0;
	/* one insertion or deletion: walk both, skip once in the longer */
	for (i = j = 0; i < la && j < lb; ) {
		if ((a[i] | 0x20) == (b[j] | 0x20)) {
			i++;
			j++;
		} else if (diff++ > 0)
			return 0;
		else if (la > lb)
			i++;
		else
			j++;
	}
	return 1;
}

/* hint - the known key an unknown one probably meant, or NULL */
static const char *
hint(const char *key, size_t n, const char *const *known, size_t nknown)
{
	size_t	 i;

	for (i = 0; i < nknown; i++)
		if (near(key, n, known[i]))
			return known[i];
	return NULL;
}

/* --- the TXT record (RFC 8461 3.1) --------------------------------------- */

/*
 * is_sts - the data starts with "v=STSv1;" (RFC 8461 3.1: other records
 * are discarded), or with "v=STSv1" and a blank, which the grammar allows
 * before the ';'. A bare "v=STSv1" is discarded.
 */
static int
is_sts(const char *p, size_t n)
{
	return n > 7 && memcmp(p, "v=STSv1", 7) == 0 &&
	    (p[7] == ';' || IS_WSP(p[7]));
}

/* ext_vchar - %x21-3A / %x3C / %x3E-7E: printable but '=', ';', blank */
static int
ext_vchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '=' && c != ';';
}

struct tstate {
	struct sts_record	*rec;
	struct sts_diag		*d;
	int			 have_id, saw_ID;
};

/* txt_id - the value of an id field at p[vs..]; -1 if it is not one */
static int
txt_id(struct tstate *ts, const char *p, size_t n, size_t vs, size_t *pos)
{
	char	 s1[200];
	size_t	 vl;

	/* sts-id = %s"id=" 1*32(ALPHA / DIGIT) */
	while (*pos < n && IS_ALNUM(p[*pos]))
		(*pos)++;
	vl = *pos - vs;
	if (*pos < n && p[*pos] != ';' && !IS_WSP(p[*pos])) {
		while (*pos < n && p[*pos] != ';' && !IS_WSP(p[*pos]))
			(*pos)++;
		return fail(ts->d, "id '%s' is not letters and digits only",
		    show(p + vs, *pos - vs, s1, sizeof(s1)));
	}
	if (vl == 0)
		return fail(ts->d, "the id is empty");
	if (vl > STS_ID_MAX)
		return fail(ts->d, "id '%s' is longer than %d characters",
		    show(p + vs, vl, s1, sizeof(s1)), STS_ID_MAX);
	if (ts->have_id)
		sts_warn(ts->d, "a second id ('%s') is ignored; the first "
		    "('%s') counts", show(p + vs, vl, s1, sizeof(s1)),
		    ts->rec->id);
	else {
		memcpy(ts->rec->id, p + vs, vl);
		ts->rec->id[vl] = '\0';
	}
	ts->have_id = 1;
	return 0;
}

/* txt_field - one field at p[*pos..]: name "=" value; -1 if broken */
static int
txt_field(struct tstate *ts, const char *p, size_t n, size_t *pos)
{
	char		 s1[200], s2[200];
	const char	*h;
	size_t		 ns = *pos, nl, vs;

	if (!IS_ALNUM(p[*pos]))
		return fail(ts->d, "at octet %zu: a field name starts with a "
		    "letter or digit, not '%s'", *pos + 1, show(p + *pos, 1,
		    s1, sizeof(s1)));
	while (*pos < n && (IS_ALNUM(p[*pos]) || p[*pos] == '_' ||
	    p[*pos] == '-' || p[*pos] == '.'))
		(*pos)++;
	nl = *pos - ns;
	if (nl > NAME_MAX_LEN)
		return fail(ts->d, "field name '%s' is longer than %d "
		    "characters", show(p + ns, nl, s1, sizeof(s1)),
		    NAME_MAX_LEN);
	if (*pos == n || p[*pos] != '=')
		return fail(ts->d, "at octet %zu: expected '=' after '%s'",
		    *pos + 1, show(p + ns, nl, s1, sizeof(s1)));
	vs = ++(*pos);
	if (nl == 2 && memcmp(p + ns, "id", 2) == 0)
		return txt_id(ts, p, n, vs, pos);
	/* sts-extension: a value of 1*ext_vchar */
	while (*pos < n && ext_vchar((unsigned char)p[*pos]))
		(*pos)++;
	if (*pos < n && p[*pos] != ';' && !IS_WSP(p[*pos]))
		return fail(ts->d, "at octet %zu: '%s' is not allowed in the "
		    "value of '%s'", *pos + 1, show(p + *pos, 1, s1,
		    sizeof(s1)), show(p + ns, nl, s2, sizeof(s2)));
	if (*pos == vs)
		return fail(ts->d, "field '%s' has an empty value",
		    show(p + ns, nl, s1, sizeof(s1)));
	if (nl == 2 && strncasecmp(p + ns, "id", 2) == 0)
		ts->saw_ID = 1;
	h = hint(p + ns, nl, txt_keys, DMX_NELEM(txt_keys));
	sts_warn(ts->d, "unknown field '%s' ignored%s%s%s", show(p + ns, nl,
	    s1, sizeof(s1)), h ? " (did you mean '" : "", h ? h : "",
	    h ? "'?)" : "");
	return 0;
}

/*
 * sts_txt_parse - one TXT record's data (its strings joined). STS_TXT_NONE
 * when it is not an MTA-STS record (RFC 8461: other records are
 * discarded); STS_TXT_INVALID with d->error when it is one that breaks
 * the grammar.
 */
enum sts_txt_status
sts_txt_parse(const char *p, size_t n, struct sts_record *rec,
    struct sts_diag *d)
{
	struct tstate	 ts = { rec, d, 0, 0 };
	size_t		 pos = 7, q, nfields = 0;
	char		 s1[200];

	memset(rec, 0, sizeof(*rec));
	if (!is_sts(p, n))
		return STS_TXT_NONE;
	/* fields, each after a sts-field-delim: *WSP ";" *WSP */
	while (pos < n) {
		for (q = pos; q < n && IS_WSP(p[q]); q++)
			;
		if (q == n || p[q] != ';') {
			fail(d, "at octet %zu: expected ';' before '%s'", q + 1,
			    show(p + q, n - q, s1, sizeof(s1)));
			return STS_TXT_INVALID;
		}
		for (pos = q + 1; pos < n && IS_WSP(p[pos]); pos++)
			;
		if (pos == n)
			break;		/* a trailing delimiter */
		if (txt_field(&ts, p, n, &pos) == -1)
			return STS_TXT_INVALID;
		nfields++;
	}
	if (!ts.have_id) {
		if (nfields == 0)
			fail(d, "no field after v=STSv1: an id is required");
		else
			fail(d, "no id field%s", ts.saw_ID ? " (field names "
			    "are case-sensitive: 'id', not 'ID')" : "");
		return STS_TXT_INVALID;
	}
	return STS_TXT_OK;
}

/*
 * sts_txt_select - the MTA-STS record among a TXT RRset: records that do
 * not start with v=STSv1 are discarded; there must be exactly one left.
 */
enum sts_txt_status
sts_txt_select(const struct dmx_dns_rr *rrs, size_t n, struct sts_record *rec,
    struct sts_diag *d)
{
	size_t	 i, found = 0, which = 0;

	memset(rec, 0, sizeof(*rec));
	for (i = 0; i < n; i++) {
		if (rrs[i].type != DMX_T_TXT ||
		    !is_sts(rrs[i].u.txt.data, rrs[i].u.txt.len))
			continue;
		if (found++ == 0)
			which = i;
	}
	if (found == 0)
		return STS_TXT_NONE;
	if (found > 1) {
		fail(d, "%zu TXT records start with v=STSv1; there must be "
		    "exactly one", found);
		return STS_TXT_INVALID;
	}
	return sts_txt_parse(rrs[which].u.txt.data, rrs[which].u.txt.len, rec,
	    d);
}

/* --- the policy (RFC 8461 3.2) ------------------------------------------- */

struct pstate {
	struct sts_diag	*d;
	unsigned	 line;
	int		 have_version, have_mode, have_max_age;
	enum sts_mode	 mode;
	unsigned long	 max_age;
	char		**mx;
	size_t		 nmx;
	/* unknown keys, for the hint when a required one is missing */
	char		 unknown[STS_WARN_MAX][NAME_MAX_LEN + 1];
	unsigned	 unknown_line[STS_WARN_MAX];
	size_t		 nunknown;
};

/* utf8_len - octets of the UTF-8 sequence at p (RFC 3629), 0 if none */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned char	 c = p[0];
	size_t		 len, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len > n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* ext_value_ok - sts-policy-ext-value: VCHAR or UTF-8, inner spaces */
static int
ext_value_ok(struct pstate *ps, const char *key, const char *v, size_t n)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t		 i = 0, k;

	if (n == 0)
		return fail(ps->d, "line %u: '%s' has an empty value", ps->line,
		    key);
	while (i < n) {
		if ((p[i] >= 0x21 && p[i] <= 0x7e) || p[i] == ' ') {
			i++;
			continue;
		}
		if (p[i] == '\t')
			return fail(ps->d, "line %u: a tab inside the value of "
			    "'%s'", ps->line, key);
		if (p[i] >= 0x80 && (k = utf8_len(p + i, n - i)) > 0) {
			i += k;
			continue;
		}
		return fail(ps->d, "line %u: the value of '%s' has the octet "
		    "0x%02x, neither a visible character nor UTF-8", ps->line,
		    key, p[i]);
	}
	return 0;
}

/*
 * mx_pattern_ok - sts-policy-mx-value = ["*."] Domain, where Domain is
 * RFC 5321's: labels of letters, digits and inner hyphens, no final dot.
 */
static int
mx_pattern_ok(struct pstate *ps, const char *v, size_t n)
{
	const char	*p = v, *end = v + n, *lab;
	char		 s[200];
	size_t		 len;

	if (n >= 2 && p[0] == '*' && p[1] == '.')
		p += 2;
	if (p == end)
		return fail(ps->d, "line %u: mx '%s' names no domain", ps->line,
		    show(v, n, s, sizeof(s)));
	if ((size_t)(end - p) > 253)
		return fail(ps->d, "line %u: mx pattern longer than 253 "
		    "characters", ps->line);
	for (lab = p; lab < end; ) {
		for (len = 0; lab + len < end && lab[len] != '.'; len++) {
			unsigned char c = (unsigned char)lab[len];

			if (c == '*')
				return fail(ps->d, "line %u: mx '%s': a "
				    "wildcard is allowed only as '*.' at the "
				    "start", ps->line, show(v, n, s, sizeof(s)));
			if (c >= 0x80)
				return fail(ps->d, "line %u: mx '%s': not an "
				    "A-label domain (write IDNs as xn--)",
				    ps->line, show(v, n, s, sizeof(s)));
			if (!IS_ALNUM(c) && c != '-')
				return fail(ps->d, "line %u: mx '%s': '%c' is "
				    "not allowed in a domain", ps->line,
				    show(v, n, s, sizeof(s)), c);
		}
		if (len == 0)
			return fail(ps->d, "line %u: mx '%s': %s", ps->line,
			    show(v, n, s, sizeof(s)), lab + 1 == end ?
			    "a trailing dot is not allowed" : "an empty label");
		if (len > 63)
			return fail(ps->d, "line %u: mx '%s': a label longer "
			    "than 63 characters", ps->line, show(v, n, s,
			    sizeof(s)));
		if (lab[0] == '-' || lab[len - 1] == '-')
			return fail(ps->d, "line %u: mx '%s': a label starts "
			    "or ends with '-'", ps->line, show(v, n, s,
			    sizeof(s)));
		lab += len;
		if (lab < end)
			lab++;		/* the dot */
		if (lab == end && lab[-1] == '.')
			return fail(ps->d, "line %u: mx '%s': a trailing dot "
			    "is not allowed", ps->line, show(v, n, s,
			    sizeof(s)));
	}
	return 0;
}

/* field - one "key: value" line, value without its surrounding blanks */
static int
field(struct pstate *ps, const char *key, size_t kl, const char *v, size_t vl)
{
	char		 s[200], k[NAME_MAX_LEN + 1], **nmx;
	unsigned long long n;
	const char	*h;
	size_t		 i;

	memcpy(k, key, kl);
	k[kl] = '\0';
	if (strcmp(k, "version") == 0) {
		if (vl != 5 || memcmp(v, "STSv1", 5) != 0)
			return fail(ps->d, "line %u: version '%s' is not STSv1",
			    ps->line, show(v, vl, s, sizeof(s)));
		if (ps->have_version)
			sts_warn(ps->d, "line %u: a second version line is "
			    "ignored", ps->line);
		ps->have_version = 1;
	} else if (strcmp(k, "mode") == 0) {
		enum sts_mode m;

		if (vl == 7 && memcmp(v, "enforce", 7) == 0)
			m = STS_MODE_ENFORCE;
		else if (vl == 7 && memcmp(v, "testing", 7) == 0)
			m = STS_MODE_TESTING;
		else if (vl == 4 && memcmp(v, "none", 4) == 0)
			m = STS_MODE_NONE;
		else
			return fail(ps->d, "line %u: mode '%s' is not enforce, "
			    "testing or none (values are case-sensitive)",
			    ps->line, show(v, vl, s, sizeof(s)));
		if (ps->have_mode)
			sts_warn(ps->d, "line %u: a second mode ('%s') is "
			    "ignored; the first ('%s') counts", ps->line,
			    sts_mode_str(m), sts_mode_str(ps->mode));
		else
			ps->mode = m;
		ps->have_mode = 1;
	} else if (strcmp(k, "max_age") == 0) {
		for (i = 0; i < vl; i++)
			if (!IS_DIGIT(v[i]))
				break;
		if (vl == 0 || vl > 10 || i < vl)
			return fail(ps->d, "line %u: max_age '%s' is not a "
			    "number of 1 to 10 digits", ps->line, show(v, vl,
			    s, sizeof(s)));
		for (n = 0, i = 0; i < vl; i++)
			n = n * 10 + (unsigned)(v[i] - '0');
		if (n > STS_MAX_AGE_MAX) {
			sts_warn(ps->d, "line %u: max_age %llu is more than "
			    "%lu (a year); %lu is used", ps->line, n,
			    STS_MAX_AGE_MAX, STS_MAX_AGE_MAX);
			n = STS_MAX_AGE_MAX;
		}
		if (ps->have_max_age)
			sts_warn(ps->d, "line %u: a second max_age (%llu) is "
			    "ignored; the first (%lu) counts", ps->line, n,
			    ps->max_age);
		else
			ps->max_age = (unsigned long)n;
		ps->have_max_age = 1;
	} else if (strcmp(k, "mx") == 0) {
		if (mx_pattern_ok(ps, v, vl) == -1)
			return -1;
		if (ps->nmx == STS_MX_MAX)
			return fail(ps->d, "line %u: more than %d mx patterns",
			    ps->line, STS_MX_MAX);
		if ((nmx = realloc(ps->mx, (ps->nmx + 1) * sizeof(*nmx))) ==
		    NULL)
			return fail(ps->d, "out of memory");
		ps->mx = nmx;
		if ((ps->mx[ps->nmx] = malloc(vl + 1)) == NULL)
			return fail(ps->d, "out of memory");
		memcpy(ps->mx[ps->nmx], v, vl);
		ps->mx[ps->nmx][vl] = '\0';
		str_lower(ps->mx[ps->nmx]);
		ps->nmx++;
	} else {
		if (ext_value_ok(ps, k, v, vl) == -1)
			return -1;
		h = hint(k, kl, policy_keys, DMX_NELEM(policy_keys));
		sts_warn(ps->d, "line %u: unknown key '%s' ignored%s%s%s",
		    ps->line, k, h ? " (did you mean '" : "", h ? h : "",
		    h ? "'?)" : "");
		if (ps->nunknown < STS_WARN_MAX) {
			strlcpy_(ps->unknown[ps->nunknown], k,
			    sizeof(ps->unknown[0]));
			ps->unknown_line[ps->nunknown++] = ps->line;
		}
	}
	return 0;
}

/* line - one line (without its terminator): key ":" *WSP value *WSP */
static int
line(struct pstate *ps, const char *p, size_t n)
{
	char		 s[200];
	size_t		 kl, vs, ve;

	if (n == 0)
		return fail(ps->d, "line %u is empty (a policy has no blank "
		    "lines)", ps->line);
	if (!IS_ALNUM(p[0]))
		return fail(ps->d, "line %u: a key starts with a letter or "
		    "digit, not '%s'", ps->line, show(p, 1, s, sizeof(s)));
	for (kl = 1; kl < n && (IS_ALNUM(p[kl]) || p[kl] == '_' ||
	    p[kl] == '-' || p[kl] == '.'); kl++)
		;
	if (kl > NAME_MAX_LEN)
		return fail(ps->d, "line %u: key '%s' is longer than %d "
		    "characters", ps->line, show(p, kl, s, sizeof(s)),
		    NAME_MAX_LEN);
	if (kl == n || p[kl] != ':')
		return fail(ps->d, "line %u: expected ':' right after the key "
		    "'%s'%s", ps->line, show(p, kl, s, sizeof(s)),
		    kl < n && IS_WSP(p[kl]) ? " (no blank before the colon)" :
		    "");
	for (vs = kl + 1; vs < n && IS_WSP(p[vs]); vs++)
		;
	for (ve = n; ve > vs && IS_WSP(p[ve - 1]); ve--)
		;
	return field(ps, p, kl, p + vs, ve - vs);
}

/* missing - the error for a required key that is not there */
static void
missing(struct pstate *ps, const char *key, const char *why)
{
	size_t	 i;

	for (i = 0; i < ps->nunknown; i++)
		if (near(ps->unknown[i], strlen(ps->unknown[i]), key)) {
			fail(ps->d, "%s (is '%s' on line %u a typo of '%s'? "
			    "keys are case-sensitive)", why, ps->unknown[i],
			    ps->unknown_line[i], key);
			return;
		}
	fail(ps->d, "%s", why);
}

/*
 * sts_policy_parse - the policy text as fetched. NULL with d->error when
 * it is invalid (sts-policy-invalid); warnings in d either way.
 */
struct sts_policy *
sts_policy_parse(const char *text, size_t len, struct sts_diag *d)
{
	struct pstate		 ps;
	struct sts_policy	*pol = NULL;
	const char		*nl;
	size_t			 pos = 0, end, cend, i;

	memset(&ps, 0, sizeof(ps));
	ps.d = d;
	if (len == 0) {
		fail(d, "the policy is empty");
		return NULL;
	}
	if (len > STS_POLICY_MAX) {
		fail(d, "the policy is larger than %d octets", STS_POLICY_MAX);
		return NULL;
	}
	while (pos < len) {
		ps.line++;
		nl = memchr(text + pos, '\n', len - pos);
		end = nl ? (size_t)(nl - text) : len;
		cend = end;
		if (nl != NULL && cend > pos && text[cend - 1] == '\r')
			cend--;		/* CRLF */
		if (memchr(text + pos, '\r', cend - pos) != NULL) {
			fail(d, "line %u: a CR not followed by LF", ps.line);
			goto fail;
		}
		if (memchr(text + pos, '\0', cend - pos) != NULL) {
			fail(d, "line %u: a NUL octet", ps.line);
			goto fail;
		}
		if (line(&ps, text + pos, cend - pos) == -1)
			goto fail;
		pos = nl ? end + 1 : len;
	}
	if (!ps.have_version)
		missing(&ps, "version", "no version field ('version: STSv1')");
	else if (!ps.have_mode)
		missing(&ps, "mode", "no mode field");
	else if (!ps.have_max_age)
		missing(&ps, "max_age", "no max_age field");
	else if (ps.mode != STS_MODE_NONE && ps.nmx == 0)
		missing(&ps, "mx", ps.mode == STS_MODE_ENFORCE ?
		    "mode enforce without an mx field: the policy must list "
		    "its MX hosts" : "mode testing without an mx field: the "
		    "policy must list its MX hosts");
	if (d->error[0] != '\0')
		goto fail;

	if ((pol = calloc(1, sizeof(*pol))) == NULL ||
	    (pol->text = malloc(len + 1)) == NULL ||
	    (d->nwarn > 0 && (pol->warn = calloc(d->nwarn + 1,
	    sizeof(char *))) == NULL)) {
		fail(d, "out of memory");
		goto fail;
	}
	pol->refs = 1;
	pol->mode = ps.mode;
	pol->max_age = ps.max_age;
	pol->mx = ps.mx;
	pol->nmx = ps.nmx;
	ps.mx = NULL;
	memcpy(pol->text, text, len);
	pol->text[len] = '\0';
	pol->len = len;
	for (i = 0; i < d->nwarn; i++)
		if ((pol->warn[pol->nwarn] = strdup(d->warn[i])) != NULL)
			pol->nwarn++;
	if (d->dropped > 0 && (pol->warn[pol->nwarn] = malloc(64)) != NULL)
		snprintf(pol->warn[pol->nwarn++], 64, "... and %zu more "
		    "warnings", d->dropped);
	return pol;
fail:
	for (i = 0; i < ps.nmx; i++)
		free(ps.mx[i]);
	free(ps.mx);
	if (pol != NULL) {
		pol->refs = 1;
		sts_policy_unref(pol);
	}
	return NULL;
}

/* sts_policy_ref - one more holder */
void
sts_policy_ref(struct sts_policy *p)
{
	p->refs++;
}

/* sts_policy_unref - one holder fewer; the last one frees */
void
sts_policy_unref(struct sts_policy *p)
{
	size_t	 i;

	if (p == NULL || --p->refs > 0)
		return;
	for (i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	free(p->mx);
	for (i = 0; i < p->nwarn; i++)
		free(p->warn[i]);
	free(p->warn);
	free(p->text);
	free(p);
}

/* sts_mode_str - "enforce", "testing", "none" */
const char *
sts_mode_str(enum sts_mode m)
{
	switch (m) {
	case STS_MODE_ENFORCE:	return "enforce";
	case STS_MODE_TESTING:	return "testing";
	case STS_MODE_NONE:	return "none";
	}
	return "?";
}
