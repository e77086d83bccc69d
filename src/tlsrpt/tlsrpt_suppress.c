/*
 * tlsrpt_suppress.c - tlsrpt_suppress, the domains and addresses that
 * never get TLS reports: blank- or comma-separated entries, and /FILE
 * entries whose lines hold more (# starts a comment). An entry is
 *
 *	example.org		that domain: no report about it, and none
 *				to an address at it
 *	.example.org		its subdomains (not itself)
 *	tlsrpt@example.org	that address
 *
 * compared without case. A malformed entry or an unreadable file is an
 * error that names it: the operator meant to keep reports from someone.
 * The list owns its entries; tlsrpt_suppress_free() frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrpt/tlsrpt.h"
#include "util/util.h"

#define SUPPRESS_MAX		100000		/* entries */
#define SUPPRESS_FILE_MAX	(4 * 1024 * 1024)

struct tlsrpt_suppress {
	char	**e;
	size_t	 n, cap;
};

/* entry_ok - a domain, .domain, or local@domain of sane characters */
static int
entry_ok(const char *s)
{
	const char	*at = strrchr(s, '@'), *d = at ? at + 1 : s;
	size_t		 i;

	if (strlen(s) > 512 || *d == '\0' || (at != NULL && (at == s ||
	    s[0] == '.')))
		return 0;
	for (i = 0; s + i < (at ? at : s); i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '<' || s[i] == '>' ||
		    s[i] == 0x7f)
			return 0;
	if (*d == '.' && at == NULL)
		d++;
	for (; *d != '\0'; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		    (*d >= '0' && *d <= '9') || *d == '-' || *d == '.' ||
		    *d == '_'))
			return 0;
	return 1;
}

/* add - one entry, checked and lowercased */
static int
add(struct tlsrpt_suppress *l, const char *tok, char *err, size_t errlen)
{
	char	**ne;

	if (!entry_ok(tok)) {
		snprintf(err, errlen, "tlsrpt_suppress: '%.64s' is not a "
		    "domain or an address", tok);
		return -1;
	}
	if (l->n == SUPPRESS_MAX) {
		snprintf(err, errlen, "tlsrpt_suppress: more than %d entries",
		    SUPPRESS_MAX);
		return -1;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((ne = realloc(l->e, l->cap * sizeof(*ne))) == NULL)
			goto nomem;
		l->e = ne;
	}
	if ((l->e[l->n] = strdup(tok)) == NULL)
		goto nomem;
	str_lower(l->e[l->n++]);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* words - each entry of text (one file's or the setting's) */
static int
words(struct tlsrpt_suppress *l, char *text, int in_file, char *err,
    size_t errlen)
{
	struct buf	 b;
	char		*line, *tok, *ls = NULL, *ts = NULL, *hash, sub[300];
	int		 rv = 0;

	for (line = strtok_r(text, "\n", &ls); rv == 0 && line != NULL;
	    line = strtok_r(NULL, "\n", &ls)) {
		if (in_file && (hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		for (tok = strtok_r(line, " \t\r,", &ts); rv == 0 &&
		    tok != NULL; tok = strtok_r(NULL, " \t\r,", &ts)) {
			if (tok[0] != '/') {
				rv = add(l, tok, err, errlen);
				continue;
			}
			if (in_file) {
				snprintf(err, errlen, "tlsrpt_suppress: %.64s: "
				    "a file within a file", tok);
				return -1;
			}
			if (file_read(tok, SUPPRESS_FILE_MAX, &b, sub,
			    sizeof(sub)) == -1) {
				snprintf(err, errlen, "tlsrpt_suppress: %s", sub);
				buf_free(&b);
				return -1;
			}
			rv = words(l, b.data ? b.data : (char *)"", 1, err,
			    errlen);
			buf_free(&b);
		}
	}
	return rv;
}

/* tlsrpt_suppress_load - the list of spec (NULL: empty); NULL with err */
struct tlsrpt_suppress *
tlsrpt_suppress_load(const char *spec, char *err, size_t errlen)
{
	struct tlsrpt_suppress	*l;
	char			*copy;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (copy = strdup(spec ? spec : "")) == NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (words(l, copy, 0, err, errlen) == -1) {
		free(copy);
		tlsrpt_suppress_free(l);
		return NULL;
	}
	free(copy);
	return l;
}

/* domain_match - entry e (a domain or .domain) matches domain d */
static int
domain_match(const char *e, const char *d)
{
	size_t	 el = strlen(e), dl = strlen(d);

	if (e[0] != '.')
		return strcasecmp(e, d) == 0;
	return dl > el && strcasecmp(d + dl - el, e) == 0;
}

/*
 * tlsrpt_suppressed - does the list name x: a domain (a report about
 * it) or an address (a report to it)? 1 yes, 0 no.
 */
int
tlsrpt_suppressed(const struct tlsrpt_suppress *l, const char *x)
{
	const char	*at = strrchr(x, '@'), *d = at ? at + 1 : x;
	size_t		 i;

	for (i = 0; l != NULL && i < l->n; i++) {
		if (strchr(l->e[i], '@') != NULL) {
			if (at != NULL && strcasecmp(l->e[i], x) == 0)
				return 1;
		} else if (domain_match(l->e[i], d))
			return 1;
	}
	return 0;
}

/* tlsrpt_suppress_free - free the list */
void
tlsrpt_suppress_free(struct tlsrpt_suppress *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->e[i]);
	free(l->e);
	free(l);
}
