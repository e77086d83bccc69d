/*
 * policy_table.c - the TLS policy table and the DANE bypass list.
 *
 * Policy file: one "domain level [mta-sts=no]" per line; ".domain"
 * matches every subdomain, "[192.0.2.1]:25" an address-literal next hop
 * and "[mx.example.org]:25" a host without MX lookup; '#' starts a
 * comment. Levels: none, may, encrypt, dane, dane-only, verify (PKIX,
 * the MX host's name) and secure (PKIX, the next-hop domain's names).
 * mta-sts=no turns MTA-STS off for the destination.
 *
 * Bypass file: one "domain [until WHEN | for DURATION] [added WHEN]
 * [# comment]" per line (the expiry grammar is policy_bypass.c's; a bare
 * "domain YYYY-MM-DD" is "until" that day): DANE failures for that
 * domain do not block delivery until the entry expires (RFC 7672
 * section 9.1, "audit only").
 *
 * An exact entry beats a ".parent" entry; a nearer parent beats a
 * farther one. Bad lines are errors that name the line: a policy file
 * half understood is worse than one refused. The table owns its strings.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy/policy.h"
#include "util/util.h"

static const struct {
	const char	*name;
	enum tls_level	 level;
} levels[] = {
	{ "none", TLS_LEVEL_NONE }, { "may", TLS_LEVEL_MAY },
	{ "encrypt", TLS_LEVEL_ENCRYPT }, { "dane", TLS_LEVEL_DANE },
	{ "dane-only", TLS_LEVEL_DANE_ONLY }, { "verify", TLS_LEVEL_VERIFY },
	{ "secure", TLS_LEVEL_SECURE },
};

/* policy_level_str - the level's name */
const char *
policy_level_str(enum tls_level l)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(levels); i++)
		if (levels[i].level == l)
			return levels[i].name;
	return "?";
}

/* policy_level_from_str - parse a level name; -1 if unknown */
int
policy_level_from_str(const char *s, enum tls_level *out)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(levels); i++) {
		if (strcasecmp(levels[i].name, s) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -1;
}


/* host_nexthop - "[mx.example.org]" or "[mx.example.org]:25" */
static int
host_nexthop(const char *s)
{
	char		 name[256];
	const char	*end = strchr(s, ']');
	unsigned long	 port;
	size_t		 n;

	if (s[0] != '[' || end == NULL || (n = (size_t)(end - s - 1)) == 0 ||
	    n >= sizeof(name))
		return 0;
	if (end[1] == ':' && (parse_uint(end + 2, 65535, &port) == -1 ||
	    port == 0))
		return 0;
	if (end[1] != ':' && end[1] != '\0')
		return 0;
	memcpy(name, s + 1, n);
	name[n] = '\0';
	return addr_name_ok(name);
}

static int
add_entry(struct policy_table *t, const char *pattern, enum tls_level level,
    time_t expires, const char *comment, unsigned line)
{
	struct policy_entry	*e;

	if (t->n >= POLICY_ENTRIES_MAX)
		return -1;
	if ((e = realloc(t->e, (t->n + 1) * sizeof(*e))) == NULL)
		return -1;
	t->e = e;
	e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	if ((e->pattern = strdup(pattern)) == NULL)
		return -1;
	str_lower(e->pattern);
	if (comment != NULL && (e->comment = strdup(comment)) == NULL) {
		free(e->pattern);
		return -1;
	}
	e->level = level;
	e->expires = expires;
	e->line = line;
	t->n++;
	return 0;
}

/* parse_line - one line of either file; 0, or -1 with err */
static int
parse_line(struct policy_table *t, char *s, unsigned lineno, int bypass,
    char *err, size_t errlen)
{
	char		*fields[POLICY_FIELDS_MAX], *comment = NULL, *p;
	char		*save = NULL;
	size_t		 n = 0, len;
	enum tls_level	 level = TLS_LEVEL_DANE;
	time_t		 expires = 0, added = 0;
	const char	*dom;
	char		 sub[200];
	int		 no_sts = 0;

	if ((p = strchr(s, '#')) != NULL) {
		*p++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		comment = p;
		len = strlen(comment);
		while (len > 0 && isspace((unsigned char)comment[len - 1]))
			comment[--len] = '\0';
	}
	for (p = strtok_r(s, " \t\r", &save); p != NULL;
	    p = strtok_r(NULL, " \t\r", &save)) {
		if (n == (bypass ? POLICY_FIELDS_MAX : 3)) {
			snprintf(err, errlen, "line %u: too many fields", lineno);
			return -1;
		}
		fields[n++] = p;
	}
	if (n == 0)
		return 0;
	dom = fields[0][0] == '.' ? fields[0] + 1 : fields[0];
	len = strlen(fields[0]);
	if (len > 1 && fields[0][len - 1] == '.')
		fields[0][len - 1] = '\0';
	if (fields[0][0] == '[') {
		/* An address-literal next hop, "[192.0.2.1]:25", as Postfix. */
		struct net_addr a;
		unsigned port;

		if (addr_parse_literal(fields[0], &a, &port) == -1 &&
		    !host_nexthop(fields[0])) {
			snprintf(err, errlen, "line %u: '%.*s' is not a next "
			    "hop like [192.0.2.1]:25 or [mx.example.org]:25",
			    lineno, 200, fields[0]);
			return -1;
		}
	} else if (!addr_name_ok(dom)) {
		snprintf(err, errlen, "line %u: '%.*s' is not a domain", lineno,
		    200, fields[0]);
		return -1;
	}
	if (bypass) {
		if (policy_bypass_expiry(fields + 1, n - 1, &expires, &added,
		    sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "line %u: %s", lineno, sub);
			return -1;
		}
	} else {
		if (n == 3 && strcasecmp(fields[2], "mta-sts=no") == 0)
			no_sts = 1;
		else if (n == 3 && strcasecmp(fields[2], "mta-sts=yes") != 0) {
			snprintf(err, errlen, "line %u: unknown option '%.*s' "
			    "(mta-sts=no or mta-sts=yes)", lineno, 40,
			    fields[2]);
			return -1;
		}
		if (n < 2) {
			snprintf(err, errlen, "line %u: expected 'domain level'",
			    lineno);
			return -1;
		}
		if (policy_level_from_str(fields[1], &level) == -1) {
			snprintf(err, errlen, "line %u: unknown level '%.*s' "
			    "(none, may, encrypt, dane, dane-only, verify, "
			    "secure)",
			    lineno, 40, fields[1]);
			return -1;
		}
	}
	if (add_entry(t, fields[0], level, expires, comment, lineno) == -1) {
		snprintf(err, errlen, "line %u: too many entries or out of "
		    "memory", lineno);
		return -1;
	}
	t->e[t->n - 1].no_sts = no_sts;
	t->e[t->n - 1].added = added;
	return 0;
}

/*
 * policy_table_parse - parse text (a policy file, or a bypass list when
 * bypass) into t. On error t holds nothing and err names the line.
 */
int
policy_table_parse(struct policy_table *t, const char *text, size_t len,
    int bypass, char *err, size_t errlen)
{
	char		 line[POLICY_LINE_MAX + 1];
	size_t		 pos = 0, n;
	unsigned	 lineno = 0;
	const char	*nl;

	t->e = NULL;
	t->n = 0;
	while (pos < len) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > POLICY_LINE_MAX) {
			snprintf(err, errlen, "line %u: longer than %d octets",
			    lineno, POLICY_LINE_MAX);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "line %u: holds a NUL byte", lineno);
			goto fail;
		}
		if (parse_line(t, line, lineno, bypass, err, errlen) == -1)
			goto fail;
		pos += n + 1;
	}
	return 0;
fail:
	policy_table_free(t);
	return -1;
}

/* policy_table_load - read and parse a file */
int
policy_table_load(struct policy_table *t, const char *path, int bypass,
    char *err, size_t errlen)
{
	struct buf	 b;
	char		 sub[400];
	int		 r = -1;

	t->e = NULL;
	t->n = 0;
	if (file_read(path, 64 * 1024 * 1024, &b, err, errlen) == 0) {
		r = policy_table_parse(t, b.data ? b.data : "", b.len, bypass,
		    sub, sizeof(sub));
		if (r == -1)
			snprintf(err, errlen, "%s: %s", path, sub);
	}
	buf_free(&b);
	return r;
}

/* policy_table_free - release every entry */
void
policy_table_free(struct policy_table *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++) {
		free(t->e[i].pattern);
		free(t->e[i].comment);
	}
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

/*
 * policy_table_match - the entry for domain: an exact match, else the
 * nearest ".parent". Bypass entries whose date has passed, or that the
 * relay retired (serve_bypass.c), do not match.
 */
const struct policy_entry *
policy_table_match(const struct policy_table *t, const char *domain,
    time_t now)
{
	const struct policy_entry *best = NULL;
	size_t	 i, dlen = strlen(domain), plen, bestlen = 0;
	const char *pat;

	if (dlen > 0 && domain[dlen - 1] == '.')
		dlen--;
	for (i = 0; i < t->n; i++) {
		pat = t->e[i].pattern;
		plen = strlen(pat);
		if ((t->e[i].expires != 0 && now > t->e[i].expires) ||
		    t->e[i].retired)
			continue;
		if (pat[0] != '.') {
			if (plen == dlen && strncasecmp(pat, domain, dlen) == 0)
				return &t->e[i];
			continue;
		}
		/* ".example.org" matches "a.example.org", not itself */
		if (dlen > plen && strncasecmp(pat, domain + dlen - plen,
		    plen) == 0 && plen > bestlen) {
			best = &t->e[i];
			bestlen = plen;
		}
	}
	return best;
}
