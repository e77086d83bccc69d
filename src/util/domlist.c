/*
 * domlist.c - a list of domains, one a line, read in pieces: the parser
 * behind `danemx check --file` (domlist.h says how it is fed).
 *
 * A line holds one domain name, or a bracketed destination the check
 * itself examines ([192.0.2.1]:25, [mx.example]:587); '#' starts a
 * comment; blank lines are skipped; spaces, tabs and a CR around the
 * domain are dropped. Anything else is a malformed line, handed back with
 * its number and the reason, and the list goes on. Nothing here
 * allocates; nothing is kept but the struct's buffer.
 */
#include <ctype.h>
#include <string.h>

#include "util/domlist.h"
#include "util/util.h"

/* domlist_init - an empty list, nothing fed yet */
void
domlist_init(struct domlist *l)
{
	l->start = l->end = 0;
	l->eof = l->skipping = 0;
	l->lineno = 0;
}

/* domlist_space - where the next bytes go (*p) and how many may come */
size_t
domlist_space(struct domlist *l, char **p)
{
	if (l->start > 0) {
		memmove(l->in, l->in + l->start, l->end - l->start);
		l->end -= l->start;
		l->start = 0;
	}
	*p = l->in + l->end;
	return DOMLIST_BUF - l->end;
}

/* domlist_added - n bytes came at domlist_space()'s place */
void
domlist_added(struct domlist *l, size_t n)
{
	if (n > DOMLIST_BUF - l->end)
		n = DOMLIST_BUF - l->end;
	l->end += n;
}

/* domlist_end - no more bytes will come: a last line without its
 * newline still counts */
void
domlist_end(struct domlist *l)
{
	l->eof = 1;
}

/*
 * domlist_domain_why - NULL when t may be checked: a domain name (ASCII
 * letters, digits, '-', '_'; labels of 1 to 63 octets; at most 253
 * octets; one trailing dot allowed), or a bracketed destination. Else
 * why not, in a few words.
 */
const char *
domlist_domain_why(const char *t)
{
	const unsigned char	*p;
	size_t			 label = 0, len = strlen(t);

	for (p = (const unsigned char *)t; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			return "more than one word (one domain a line)";
		if (*p < 0x20 || *p >= 0x7f)
			return "not an ASCII domain name (write an IDN as "
			    "its A-labels, xn--...)";
	}
	if (t[0] == '[') {
		if (strchr(t, ']') == NULL)
			return "'[' without ']'";
		for (p = (const unsigned char *)t; *p != '\0'; p++)
			if (!isalnum(*p) && strchr(".:-_[]", *p) == NULL)
				return "not a destination like [192.0.2.1]:25";
		return len > 300 ? "too long" : NULL;
	}
	if (len > 0 && t[len - 1] == '.')
		len--;
	if (len == 0)
		return "not a domain name";
	if (len > 253)
		return "longer than 253 octets";
	for (p = (const unsigned char *)t; p < (const unsigned char *)t + len;
	    p++) {
		if (*p == '.') {
			if (label == 0)
				return "an empty label (\"..\" or a leading dot)";
			label = 0;
			continue;
		}
		if (!isalnum(*p) && *p != '-' && *p != '_')
			return "not a domain name (letters, digits, '-', '_' "
			    "and dots)";
		if (++label > 63)
			return "a label longer than 63 octets";
	}
	return NULL;
}

/* show - a line as it may be shown: at most 60 characters (then "..."),
 * control and non-ASCII bytes as '?' */
static void
show(const char *in, size_t n, char *out, size_t outlen)
{
	size_t	 i;

	if (outlen == 0)
		return;
	for (i = 0; i < n && i < 60 && i + 4 < outlen; i++)
		out[i] = (unsigned char)in[i] < 0x20 ||
		    (unsigned char)in[i] >= 0x7f ? '?' : in[i];
	out[i] = '\0';
	if (i < n && i + 3 < outlen)
		strlcpy_(out + i, "...", outlen - i);
}

/* bad - a malformed line: shown into out, why */
static int
bad(const char *line, size_t n, char *out, size_t outlen, const char **why,
    const char *reason)
{
	show(line, n, out, outlen);
	*why = reason;
	return DOMLIST_BAD;
}

/*
 * take - the next whole line (its newline made a NUL) and its length, or
 * NULL when there is none yet. A line longer than DOMLIST_LINE_MAX comes
 * back as *toolong (its first part); the rest of it is skipped.
 */
static char *
take(struct domlist *l, size_t *len, int *toolong)
{
	char	*p, *nl;

	*toolong = 0;
	for (;;) {
		p = l->in + l->start;
		if ((nl = memchr(p, '\n', l->end - l->start)) != NULL) {
			*len = (size_t)(nl - p);
			*nl = '\0';
			l->start += *len + 1;
			if (l->skipping) {	/* the end of a long line */
				l->skipping = 0;
				continue;
			}
			*toolong = *len > DOMLIST_LINE_MAX;
			return p;
		}
		if (l->end - l->start > DOMLIST_LINE_MAX) {
			/* no newline in sight: report it now, skip the rest */
			*len = l->end - l->start;
			l->start = l->end;
			if (l->skipping)
				continue;
			l->skipping = 1;
			*toolong = 1;
			return p;
		}
		if (!l->eof || l->start == l->end)
			return NULL;
		/* the last line, without its newline */
		*len = l->end - l->start;
		l->in[l->end] = '\0';
		l->start = l->end;
		if (l->skipping) {
			l->skipping = 0;
			return NULL;
		}
		return p;
	}
}

/*
 * domlist_next - the next domain into out (DOMLIST_DOMAIN); or a
 * malformed line, shown into out, with why and its number in lineno
 * (DOMLIST_BAD); or DOMLIST_MORE when no whole line is there yet (feed
 * more; after domlist_end(), the list is done).
 */
int
domlist_next(struct domlist *l, char *out, size_t outlen, const char **why)
{
	char		*line, *p, *e;
	size_t		 n;
	int		 toolong;

	for (;;) {
		if ((line = take(l, &n, &toolong)) == NULL)
			return DOMLIST_MORE;
		l->lineno++;
		if (toolong)
			return bad(line, n, out, outlen, why,
			    "longer than 1000 characters");
		if (memchr(line, '\0', n) != NULL)
			return bad(line, n, out, outlen, why,
			    "a NUL byte in the line");
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (e = p + strlen(p); e > p && (e[-1] == ' ' ||
		    e[-1] == '\t' || e[-1] == '\r'); e--)
			;
		*e = '\0';
		if (*p == '\0')
			continue;
		if ((*why = domlist_domain_why(p)) != NULL)
			return bad(p, strlen(p), out, outlen, why, *why);
		if (strlen(p) >= outlen)
			return bad(p, strlen(p), out, outlen, why, "too long");
		strlcpy_(out, p, outlen);
		return DOMLIST_DOMAIN;
	}
}
