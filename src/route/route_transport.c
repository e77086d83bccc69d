/*
 * route_transport.c - the transport table (transport_file): which next
 * hop takes a recipient domain's mail, as Postfix's transport(5).
 *
 * One "PATTERN NEXTHOP" per line; '#' starts a comment line. PATTERN is
 * a domain (exactly it), ".domain" (its subdomains, not itself) or "*"
 * (every other domain). NEXTHOP, optionally after "smtp:":
 *   [host]:port, [host]    that host, no MX lookup (its A/AAAA and TLSA
 *                          at _port._tcp.host decide, RFC 7672 3.2.2)
 *   [192.0.2.1]:port       an address literal (DANE does not apply)
 *   host, host:port        the MX hosts of another domain
 *   discard                accept and drop the mail (logged)
 *   error:5.X.X text       bounce it with that status and text
 * A trailing "# comment" may follow all but error's text.
 *
 * An exact entry beats a ".parent"; a longer suffix beats a shorter;
 * "*" comes last. Bad lines are errors that name the line, and a table
 * half understood is refused whole. The table owns its strings; free it
 * with route_transport_free().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route/route.h"
#include "util/util.h"

/* text_ok - printable ASCII and spaces: it goes into logs and bounces */
static int
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

/* enhanced_ok - "5.X.X" (RFC 3463): class 5, subject and detail 0-999 */
static int
enhanced_ok(const char *s)
{
	size_t	 i, n;

	if (s[0] != '5' || s[1] != '.')
		return 0;
	s += 2;
	for (i = 0; i < 2; i++) {
		n = strspn(s, "0123456789");
		if (n == 0 || n > 3)
			return 0;
		s += n;
		if (i == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

/* parse_smtp - an SMTP next hop into e; 0, or -1 with why */
static int
parse_smtp(struct transport_entry *e, const char *hop, char *why,
    size_t whylen)
{
	char		 name[DMX_NAME_MAX];
	struct net_addr	 a;
	const char	*end, *colon;
	unsigned long	 p = 25;
	unsigned	 lport;
	size_t		 n;

	if (strlen(hop) >= DMX_NAME_MAX) {
		snprintf(why, whylen, "longer than %d octets", DMX_NAME_MAX - 1);
		return -1;
	}
	if (hop[0] == '[') {
		if (addr_parse_literal(hop, &a, &lport) == 0) {
			e->port = lport;
			goto ok;
		}
		end = strchr(hop, ']');
		if (end == NULL || (n = (size_t)(end - hop - 1)) == 0 ||
		    n >= sizeof(name))
			goto bad;
		memcpy(name, hop + 1, n);
		name[n] = '\0';
		if (n > 1 && name[n - 1] == '.')
			name[n - 1] = '\0';
		if (!addr_name_ok(name))
			goto bad;
		if (end[1] == ':') {
			if (parse_uint(end + 2, 65535, &p) == -1 || p == 0)
				goto bad;
		} else if (end[1] != '\0')
			goto bad;
		e->port = (unsigned)p;
		goto ok;
	}
	if ((colon = strchr(hop, ':')) != NULL) {
		if (parse_uint(colon + 1, 65535, &p) == -1 || p == 0)
			goto bad;
		n = (size_t)(colon - hop);
	} else
		n = strlen(hop);
	memcpy(name, hop, n);
	name[n] = '\0';
	if (n > 1 && name[n - 1] == '.')
		name[--n] = '\0';
	if (!addr_name_ok(name))
		goto bad;
	if ((e->dest = strdup(name)) == NULL)
		goto nomem;
	e->port = (unsigned)p;
	return 0;
ok:
	if ((e->dest = strdup(hop)) == NULL)
		goto nomem;
	return 0;
bad:
	snprintf(why, whylen, "'%.*s' is not a next hop ([host]:port, [host], "
	    "[192.0.2.1]:port, host, host:port, discard or error:5.X.X text)",
	    200, hop);
	return -1;
nomem:
	snprintf(why, whylen, "out of memory");
	return -1;
}

/* parse_hop - the next hop (the rest of the line) into e; 0 or -1 */
static int
parse_hop(struct transport_entry *e, char *hop, char *why, size_t whylen)
{
	char	*p, *sp;
	size_t	 n;

	if (strncasecmp(hop, "error:", 6) == 0) {
		p = hop + 6;
		sp = p + strcspn(p, " \t");
		if (*sp != '\0')
			*sp++ = '\0';
		while (*sp == ' ' || *sp == '\t')
			sp++;
		if (!enhanced_ok(p)) {
			snprintf(why, whylen, "'%.*s' is not a permanent status "
			    "like 5.1.1 (error:5.X.X text)", 40, p);
			return -1;
		}
		if (strlen(sp) > TRANSPORT_TEXT_MAX || !text_ok(sp)) {
			snprintf(why, whylen, "the error text must be printable "
			    "ASCII, at most %d octets", TRANSPORT_TEXT_MAX);
			return -1;
		}
		e->action = TRANSPORT_ERROR;
		strlcpy_(e->enhanced, p, sizeof(e->enhanced));
		if ((e->text = strdup(sp)) == NULL)
			goto nomem;
		if ((e->nexthop = malloc(strlen(p) + strlen(sp) + 8)) == NULL)
			goto nomem;
		sprintf(e->nexthop, "error:%s%s%s", p, *sp ? " " : "", sp);
		return 0;
	}
	/* One field, then an optional "# comment". */
	sp = hop + strcspn(hop, " \t");
	if (*sp != '\0') {
		*sp++ = '\0';
		while (*sp == ' ' || *sp == '\t')
			sp++;
		if (*sp != '\0' && *sp != '#') {
			snprintf(why, whylen, "unexpected '%.*s' after the next "
			    "hop", 40, sp);
			return -1;
		}
	}
	if (strncasecmp(hop, "smtp:", 5) == 0)
		hop += 5;
	if (strcasecmp(hop, "discard") == 0 ||
	    strcasecmp(hop, "discard:") == 0) {
		e->action = TRANSPORT_DISCARD;
		if ((e->text = strdup("")) == NULL ||
		    (e->nexthop = strdup("discard")) == NULL)
			goto nomem;
		return 0;
	}
	str_lower(hop);
	n = strlen(hop);
	if (hop[0] != '[' && strchr(hop, ':') == NULL && n > 1 &&
	    hop[n - 1] == '.')
		hop[n - 1] = '\0';	/* "example.net." as "example.net" */
	e->action = TRANSPORT_SMTP;
	if (parse_smtp(e, hop, why, whylen) == -1)
		return -1;
	if ((e->nexthop = strdup(hop)) == NULL)
		goto nomem;
	return 0;
nomem:
	snprintf(why, whylen, "out of memory");
	return -1;
}

static void
entry_free(struct transport_entry *e)
{
	free(e->pattern);
	free(e->nexthop);
	free(e->dest);
	free(e->text);
}

/* parse_line - one line; 0, or -1 with err naming the line */
static int
parse_line(struct transport_table *t, char *s, unsigned lineno, char *err,
    size_t errlen)
{
	struct transport_entry	 e, *ne;
	char			*pat, *hop, why[400];
	size_t			 len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	if (*s == '\0' || *s == '#')
		return 0;
	pat = s;
	hop = s + strcspn(s, " \t");
	if (*hop != '\0')
		*hop++ = '\0';
	while (*hop == ' ' || *hop == '\t')
		hop++;
	len = strlen(pat);
	if (len > 1 && pat[len - 1] == '.')
		pat[--len] = '\0';
	str_lower(pat);
	if (strcmp(pat, "*") != 0 &&
	    !addr_name_ok(pat[0] == '.' ? pat + 1 : pat)) {
		snprintf(err, errlen, "line %u: '%.*s' is not a domain, "
		    ".domain or *", lineno, 200, pat);
		return -1;
	}
	if (*hop == '\0' || *hop == '#') {
		snprintf(err, errlen, "line %u: expected 'domain nexthop'",
		    lineno);
		return -1;
	}
	if (t->n >= TRANSPORT_ENTRIES_MAX) {
		snprintf(err, errlen, "line %u: more than %d entries", lineno,
		    TRANSPORT_ENTRIES_MAX);
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.line = lineno;
	if (parse_hop(&e, hop, why, sizeof(why)) == -1 ||
	    ((e.pattern = strdup(pat)) == NULL &&
	    strlcpy_(why, "out of memory", sizeof(why)) > 0)) {
		snprintf(err, errlen, "line %u: %s", lineno, why);
		entry_free(&e);
		return -1;
	}
	if ((ne = realloc(t->e, (t->n + 1) * sizeof(*ne))) == NULL) {
		snprintf(err, errlen, "line %u: out of memory", lineno);
		entry_free(&e);
		return -1;
	}
	t->e = ne;
	t->e[t->n++] = e;
	return 0;
}

/* index_entries - the pattern index, once the array stops moving */
static int
index_entries(struct transport_table *t, char *err, size_t errlen)
{
	const struct transport_entry *old;
	size_t	 i;

	for (i = 0; i < t->n; i++) {
		if ((old = htab_get(&t->idx, t->e[i].pattern)) != NULL) {
			snprintf(err, errlen, "line %u: '%.*s' is already "
			    "routed at line %u", t->e[i].line, 200,
			    t->e[i].pattern, old->line);
			return -1;
		}
		if (htab_put(&t->idx, t->e[i].pattern, &t->e[i]) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (strcmp(t->e[i].pattern, "*") == 0)
			t->dflt = &t->e[i];
	}
	return 0;
}

/*
 * route_transport_parse - parse text into t. On error t holds nothing
 * and err names the line.
 */
int
route_transport_parse(struct transport_table *t, const char *text,
    size_t len, char *err, size_t errlen)
{
	char		 line[TRANSPORT_LINE_MAX + 1];
	size_t		 pos = 0, n;
	unsigned	 lineno = 0;
	const char	*nl;

	memset(t, 0, sizeof(*t));
	while (pos < len) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > TRANSPORT_LINE_MAX) {
			snprintf(err, errlen, "line %u: longer than %d octets",
			    lineno, TRANSPORT_LINE_MAX);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "line %u: holds a NUL byte",
			    lineno);
			goto fail;
		}
		if (parse_line(t, line, lineno, err, errlen) == -1)
			goto fail;
		pos += n + 1;
	}
	if (index_entries(t, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	route_transport_free(t);
	return -1;
}

/* route_transport_load - read and parse a file; err names it and the line */
int
route_transport_load(struct transport_table *t, const char *path, char *err,
    size_t errlen)
{
	struct buf	 b;
	char		 sub[500];
	int		 r = -1;

	memset(t, 0, sizeof(*t));
	if (file_read(path, 64 * 1024 * 1024, &b, err, errlen) == 0) {
		r = route_transport_parse(t, b.data ? b.data : "", b.len, sub,
		    sizeof(sub));
		if (r == -1)
			snprintf(err, errlen, "%s: %s", path, sub);
	}
	buf_free(&b);
	return r;
}

/* route_transport_free - release every entry */
void
route_transport_free(struct transport_table *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		entry_free(&t->e[i]);
	free(t->e);
	htab_free(&t->idx);
	memset(t, 0, sizeof(*t));
}

/*
 * route_transport_match - the entry for a recipient domain: the domain
 * itself, else ".parent" from the nearest parent up, else "*"; NULL when
 * none applies (the domain's own MX hosts, or the relayhost).
 */
const struct transport_entry *
route_transport_match(const struct transport_table *t, const char *domain)
{
	const struct transport_entry *e;
	char		 key[DMX_NAME_MAX + 1];
	const char	*p;
	size_t		 n;

	if (t == NULL || t->n == 0)
		return NULL;
	n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(key))
		return t->dflt;
	memcpy(key, domain, n);
	key[n] = '\0';
	if ((e = htab_get(&t->idx, key)) != NULL && key[0] != '.')
		return e;
	if (key[0] == '[')	/* an address literal has no parents */
		return t->dflt;
	/* ".parent" keys: each suffix that starts at a dot. */
	for (p = strchr(key + 1, '.'); p != NULL; p = strchr(p + 1, '.'))
		if ((e = htab_get(&t->idx, p)) != NULL)
			return e;
	return t->dflt;
}
