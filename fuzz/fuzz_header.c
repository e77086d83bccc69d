/*
 * fuzz_header.c - libFuzzer target for the header scanner
 * (src/queue/queue_hops.c): the Received: count behind hopcount_limit
 * and RFC 8689's "TLS-Required: No", read from what SMTP clients and
 * local users send.
 *
 * The first octet says how the rest is cut into pieces (1 to 256
 * octets), as reads from a socket would cut it. The streaming scanner
 * must agree with a plain one written here from the rules, line by
 * line on the whole input: the header section is the lines before the
 * first empty line (or one that starts with CR) or line that is neither
 * a field ("name [blanks]:") nor a continuation (a leading blank); a
 * Received field counts; TLS-Required counts when it is the only one
 * and its value, continuations included, is "No" once its surrounding
 * blanks, CRs and line breaks are gone. Nothing is allocated.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/queue.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct ref {
	unsigned	 hops, ntls;
	int		 tls_no;	/* the last TLS-Required value was No */
	int		 in_tls;	/* continuations belong to one */
	const char	*vbeg, *vend;	/* its value so far */
};

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* value_no - is [b, e) "No" between blanks and line breaks? */
static int
value_no(const char *b, const char *e)
{
	while (b < e && blank(*b))
		b++;
	while (e > b && blank(e[-1]))
		e--;
	return e - b == 2 && strncasecmp(b, "no", 2) == 0;
}

/* field - a line that starts a field: 0, or -1 when it is no field */
static int
field(struct ref *r, const char *l, const char *end)
{
	const char	*p = l, *name_end;

	while (p < end && *p >= 33 && *p <= 126 && *p != ':')
		p++;
	if (p == l)
		return -1;
	name_end = p;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != ':')
		return -1;
	if (name_end - l == 8 && strncasecmp(l, "received", 8) == 0)
		r->hops++;
	if (name_end - l == 12 && strncasecmp(l, "tls-required", 12) == 0) {
		r->ntls++;
		r->in_tls = 1;
		r->vbeg = p + 1;
	}
	return 0;
}

/* reference - the header section of the whole input, line by line */
static void
reference(const char *m, size_t len, struct ref *r)
{
	const char	*l = m, *end = m + len, *nl;

	memset(r, 0, sizeof(*r));
	while (l < end) {
		nl = memchr(l, '\n', (size_t)(end - l));
		nl = nl ? nl + 1 : end;
		if (*l == ' ' || *l == '\t') {		/* a continuation */
			if (r->in_tls)
				r->vend = nl;
			l = nl;
			continue;
		}
		if (r->in_tls)
			r->tls_no = value_no(r->vbeg, r->vend);
		r->in_tls = 0;
		if (*l == '\r' || *l == '\n' || field(r, l, nl) == -1)
			return;
		if (r->in_tls)
			r->vend = nl;
		l = nl;
	}
	if (r->in_tls)
		r->tls_no = value_no(r->vbeg, r->vend);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct queue_hops	 h;
	struct ref		 r;
	const char		*m = (const char *)data + 1;
	size_t			 chunk, len, pos, n;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	len = size - 1;
	queue_hops_init(&h);
	for (pos = 0; pos < len; pos += n) {
		n = len - pos < chunk ? len - pos : chunk;
		queue_hops_add(&h, m + pos, n);
	}
	reference(m, len, &r);
	if (h.n != r.hops || queue_hops_tls_required_no(&h) !=
	    (r.ntls == 1 && r.tls_no))
		abort();
	return 0;
}
