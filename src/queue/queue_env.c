/*
 * queue_env.c - the envelope file: one "key value" per line.
 *
 *	danemx-envelope 1
 *	id 0123456789abcdef
 *	created 1795000000
 *	sender <a@example.org>
 *	size 1234
 *	hops 2
 *	tls_required no
 *	held 0
 *	dsn 0
 *	rcpt pending 0 0 <b@example.net> last result text
 *
 * A rcpt line is: state attempts next_try <address> [last result].
 * "hops" (the message's Received: headers) is absent from envelopes
 * written by older versions: e->hops is then -1. "tls_required no" is
 * there only when the message asked for "TLS-Required: No" (RFC 8689)
 * and its sender may ask; older envelopes never have it. The
 * parser is strict (a damaged envelope is an error that names its line,
 * never a guess) and bounded. queue_env_format() returns a string the
 * caller frees; parsed strings belong to the env (queue_env_free()).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "util/util.h"

#define ENV_LINE_MAX	(QUEUE_ADDR_MAX + 1200)
#define ENV_MAX		(QUEUE_RCPT_MAX * ENV_LINE_MAX + 4096)

static const char *state_names[] = { "pending", "sent", "failed" };

/* queue_rcpt_state_str - the state's name */
const char *
queue_rcpt_state_str(enum rcpt_state s)
{
	return (size_t)s < DMX_NELEM(state_names) ? state_names[s] : "?";
}

/* queue_env_free - free what an envelope owns */
void
queue_env_free(struct queue_env *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpt; i++) {
		free(e->rcpt[i].addr);
		free(e->rcpt[i].last);
	}
	free(e->rcpt);
	free(e->sender);
	memset(e, 0, sizeof(*e));
}

/* addr_ok - an address as stored: printable, no blanks or brackets */
static int
addr_ok(const char *a, size_t len)
{
	size_t	 i;

	if (len > QUEUE_ADDR_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)a[i] <= ' ' || a[i] == '<' || a[i] == '>' ||
		    a[i] == 0x7f)
			return 0;
	return 1;
}

/* bracketed - "<addr>" at s: its text into out; the rest after it */
static const char *
bracketed(const char *s, char **out)
{
	const char	*end;

	if (*s != '<' || (end = strchr(s, '>')) == NULL ||
	    !addr_ok(s + 1, (size_t)(end - s - 1)))
		return NULL;
	if ((*out = strndup(s + 1, (size_t)(end - s - 1))) == NULL)
		return NULL;
	return end + 1;
}

static int
num(const char *s, unsigned long long max, unsigned long long *v,
    const char **rest)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *v > max)
		return -1;
	*rest = end;
	return 0;
}

static int
parse_rcpt(struct queue_env *e, const char *p)
{
	struct queue_rcpt	*r, *nr;
	unsigned long long	 v;
	size_t			 i;

	if (e->nrcpt >= QUEUE_RCPT_MAX)
		return -1;
	if ((nr = realloc(e->rcpt, (e->nrcpt + 1) * sizeof(*nr))) == NULL)
		return -1;
	e->rcpt = nr;
	r = &e->rcpt[e->nrcpt];
	memset(r, 0, sizeof(*r));
	for (i = 0; i < DMX_NELEM(state_names); i++) {
		size_t n = strlen(state_names[i]);
		if (strncmp(p, state_names[i], n) == 0 && p[n] == ' ') {
			r->state = (enum rcpt_state)i;
			p += n + 1;
			break;
		}
	}
	if (i == DMX_NELEM(state_names))
		return -1;
	if (num(p, 1000000, &v, &p) == -1 || *p++ != ' ')
		return -1;
	r->attempts = (unsigned)v;
	if (num(p, (unsigned long long)1 << 40, &v, &p) == -1 || *p++ != ' ')
		return -1;
	r->next_try = (time_t)v;
	if ((p = bracketed(p, &r->addr)) == NULL)
		return -1;
	if (*p == ' ')
		p++;
	else if (*p != '\0') {
		free(r->addr);
		return -1;
	}
	if ((r->last = strdup(p)) == NULL) {
		free(r->addr);
		return -1;
	}
	e->nrcpt++;
	return 0;
}

/* queue_env_parse - parse an envelope file into e; -1 with err */
int
queue_env_parse(const char *text, size_t len, struct queue_env *e,
    char *err, size_t errlen)
{
	char			 line[ENV_LINE_MAX + 1];
	const char		*nl, *p;
	size_t			 pos = 0, n;
	unsigned		 lineno = 0;
	unsigned long long	 v;
	int			 have_id = 0, have_sender = 0;

	memset(e, 0, sizeof(*e));
	e->hops = -1;
	if (len > ENV_MAX) {
		snprintf(err, errlen, "envelope too large");
		return -1;
	}
	while (pos < len) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - text - pos) : len - pos;
		if (n > ENV_LINE_MAX || memchr(text + pos, '\0', n) != NULL)
			goto bad;
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (lineno == 1) {
			if (strcmp(line, "danemx-envelope 1") != 0)
				goto bad;
			continue;
		}
		if (strncmp(line, "id ", 3) == 0) {
			if (!queue_valid_id(line + 3))
				goto bad;
			memcpy(e->id, line + 3, QUEUE_ID_LEN + 1);
			have_id = 1;
		} else if (strncmp(line, "created ", 8) == 0) {
			if (num(line + 8, (unsigned long long)1 << 40, &v,
			    &p) == -1 || *p != '\0')
				goto bad;
			e->created = (time_t)v;
		} else if (strncmp(line, "sender ", 7) == 0) {
			if (have_sender || (p = bracketed(line + 7,
			    &e->sender)) == NULL || *p != '\0')
				goto bad;
			have_sender = 1;
		} else if (strncmp(line, "size ", 5) == 0) {
			if (num(line + 5, (unsigned long long)1 << 40, &v,
			    &p) == -1 || *p != '\0')
				goto bad;
			e->size = (size_t)v;
		} else if (strncmp(line, "hops ", 5) == 0) {
			if (num(line + 5, QUEUE_HOPS_MAX, &v, &p) == -1 ||
			    *p != '\0')
				goto bad;
			e->hops = (int)v;
		} else if (strncmp(line, "held ", 5) == 0) {
			if (strcmp(line + 5, "0") && strcmp(line + 5, "1"))
				goto bad;
			e->held = line[5] == '1';
		} else if (strncmp(line, "dsn ", 4) == 0) {
			if (strcmp(line + 4, "0") && strcmp(line + 4, "1"))
				goto bad;
			e->dsn_sent = line[4] == '1';
		} else if (strncmp(line, "rcpt ", 5) == 0) {
			if (parse_rcpt(e, line + 5) == -1)
				goto bad;
		} else if (strcmp(line, "tls_required no") == 0) {
			e->tls_required_no = 1;
		} else if (line[0] != '\0')
			goto bad;
	}
	if (!have_id || !have_sender || e->nrcpt == 0) {
		snprintf(err, errlen, "envelope incomplete (id, sender and a "
		    "recipient are required)");
		queue_env_free(e);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "envelope line %u is damaged", lineno);
	queue_env_free(e);
	return -1;
}

/* clean - the last-result text on one line, printable */
static void
clean(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		buf_add(b, (unsigned char)*s < ' ' || *s == 0x7f ? " " : s, 1);
}

/* queue_env_format - the envelope as file text (free it) */
int
queue_env_format(const struct queue_env *e, char **out, size_t *len)
{
	struct buf	 b;
	size_t		 i;
	int		 r = 0;

	buf_init(&b, ENV_MAX);
	r |= buf_printf(&b, "danemx-envelope 1\nid %s\ncreated %lld\n"
	    "sender <%s>\nsize %zu\nheld %d\ndsn %d\n", e->id,
	    (long long)e->created, e->sender ? e->sender : "", e->size,
	    e->held ? 1 : 0, e->dsn_sent ? 1 : 0);
	if (e->hops >= 0)
		r |= buf_printf(&b, "hops %d\n", e->hops);
	if (e->tls_required_no)
		r |= buf_adds(&b, "tls_required no\n");
	for (i = 0; i < e->nrcpt; i++) {
		r |= buf_printf(&b, "rcpt %s %u %lld <%s>%s",
		    queue_rcpt_state_str(e->rcpt[i].state), e->rcpt[i].attempts,
		    (long long)e->rcpt[i].next_try, e->rcpt[i].addr,
		    e->rcpt[i].last && e->rcpt[i].last[0] ? " " : "");
		clean(&b, e->rcpt[i].last);
		r |= buf_adds(&b, "\n");
	}
	if (r != 0) {
		buf_free(&b);
		return -1;
	}
	*len = b.len;
	*out = buf_steal(&b);
	return 0;
}
