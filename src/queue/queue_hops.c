/*
 * queue_hops.c - one pass over a message's header section, as its
 * octets come: the Received: headers (its hops, to stop mail loops with
 * hopcount_limit) and the TLS-Required: field of RFC 8689 3.
 *
 * The scanner reads the message in pieces of any size. Field names are
 * matched in any case, with blanks allowed before the colon (RFC 5322's
 * obsolete syntax). The header section ends at the first empty line, or
 * at the first line that is neither a header field nor its continuation
 * (as Postfix's cleanup decides); nothing after it is looked at. Every
 * queue writer runs one (queue_write.c), so the smtpd, sendmail, the
 * maildrop pickup and the scheduler all read the same header the same
 * way.
 *
 * TLS-Required: its value is "No" (any case, RFC 5234 strings), with
 * folding white space before or after it ([FWS] "No" CRLF; a bare LF
 * ends a line too). queue_hops_tls_required_no() is 1 only when the
 * section has exactly one TLS-Required field and that is its value: a
 * second field (RFC 8689 3: "MUST NOT") or any other value counts as no
 * request at all, since the field can only weaken the message's
 * protection.
 *
 * Ownership: struct queue_hops holds no pointers.
 */
#include <string.h>

#include "queue/queue.h"

enum {
	H_BOL,		/* at the start of a line */
	H_BOL_CR,	/* a line that began with CR */
	H_NAME,		/* in a field name */
	H_WSP,		/* blanks between the name and the colon */
	H_SKIP,		/* the rest of a field line */
	H_VAL,		/* in the value of a TLS-Required field */
	H_VBOL,		/* at the start of a line after one of its lines */
	H_BODY		/* past the header section */
};

/* The field names looked for (h->match bits), and their lengths. */
#define M_RCVD		1
#define M_TLS		2
static const char rcvd[] = "received";
static const char tlsreq[] = "tls-required";
#define RCVD_LEN	(sizeof(rcvd) - 1)
#define TLSREQ_LEN	(sizeof(tlsreq) - 1)

/* A TLS-Required value so far (h->v). */
enum { V_WSP, V_N, V_NO, V_BAD };

/* queue_hops_init - a scanner at the start of a message */
void
queue_hops_init(struct queue_hops *h)
{
	memset(h, 0, sizeof(*h));
	h->st = H_BOL;
}

/* ftext - a character of a field name (RFC 5322 3.6.8) */
static int
ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* name_char - the next character c of a field name */
static void
name_char(struct queue_hops *h, unsigned char c)
{
	unsigned char	 lc = c | 0x20;

	if (h->match != 0) {
		if (h->k >= RCVD_LEN || lc != (unsigned char)rcvd[h->k])
			h->match &= ~M_RCVD;
		if (h->k >= TLSREQ_LEN || lc != (unsigned char)tlsreq[h->k])
			h->match &= ~M_TLS;
	}
	if (h->k <= TLSREQ_LEN)
		h->k++;
}

/* colon - the end of a field name: count Received, read TLS-Required */
static inline void
colon(struct queue_hops *h)
{
	h->st = H_SKIP;
	if ((h->match & M_RCVD) && h->k == RCVD_LEN) {
		if (h->n < QUEUE_HOPS_MAX)
			h->n++;
	} else if ((h->match & M_TLS) && h->k == TLSREQ_LEN) {
		if (h->ntls < 2)
			h->ntls++;
		h->v = V_WSP;
		h->st = H_VAL;
	}
}

/* value_char - the next octet c of a TLS-Required value, within a line */
static void
value_char(struct queue_hops *h, unsigned char c)
{
	if (c == ' ' || c == '\t' || c == '\r') {
		if (h->v == V_N)
			h->v = V_BAD;		/* "N o" */
	} else if (h->v == V_WSP && (c | 0x20) == 'n')
		h->v = V_N;
	else if (h->v == V_N && (c | 0x20) == 'o')
		h->v = V_NO;
	else
		h->v = V_BAD;
}

/* queue_hops_add - the next len octets of the message */
void
queue_hops_add(struct queue_hops *h, const void *data, size_t len)
{
	const unsigned char	*p = data, *nl;
	size_t			 i = 0;
	unsigned char		 c;

	while (i < len && h->st != H_BODY) {
		c = p[i];
		switch (h->st) {
		case H_SKIP:
			if ((nl = memchr(p + i, '\n', len - i)) == NULL)
				return;
			i = (size_t)(nl - p) + 1;
			h->st = H_BOL;
			continue;
		case H_BOL:
			if (c == ' ' || c == '\t')
				h->st = H_SKIP;		/* a continuation */
			else if (c == '\r')
				h->st = H_BOL_CR;
			else if (ftext(c)) {
				h->st = H_NAME;
				h->k = 0;
				h->match = M_RCVD | M_TLS;
				name_char(h, c);
			} else
				h->st = H_BODY;	/* empty line, or not a field */
			break;
		case H_BOL_CR:
			h->st = H_BODY;		/* "\r\n": the empty line */
			break;
		case H_NAME:
			if (h->match == 0) {
				/* A name of no interest: on to its end. */
				while (i < len && ftext(p[i]))
					i++;
				if (i == len)
					return;
				c = p[i];
			}
			if (c == ':')
				colon(h);
			else if (c == ' ' || c == '\t')
				h->st = H_WSP;
			else if (ftext(c))
				name_char(h, c);
			else
				h->st = H_BODY;
			break;
		case H_WSP:
			if (c == ':')
				colon(h);
			else if (c != ' ' && c != '\t')
				h->st = H_BODY;
			break;
		case H_VAL:
			if (c == '\n')
				h->st = H_VBOL;
			else if (h->v == V_BAD) {
				/* Nothing can mend it: on to the line's end. */
				if ((nl = memchr(p + i, '\n', len - i)) == NULL)
					return;
				i = (size_t)(nl - p);
				continue;
			} else
				value_char(h, c);
			break;
		case H_VBOL:
			if (c == ' ' || c == '\t') {
				h->st = H_VAL;	/* folded: the value goes on */
				break;
			}
			h->tls_no = h->v == V_NO;	/* the field is over */
			h->st = H_BOL;
			continue;		/* c starts the next line */
		}
		i++;
	}
}

/* queue_hops_done - the header section is over: the results are final */
int
queue_hops_done(const struct queue_hops *h)
{
	return h->st == H_BODY;
}

/*
 * queue_hops_tls_required_no - does the header section so far ask for
 * "TLS-Required: No", once and nothing else? A field still open (the
 * message ends in it) counts as it stands.
 */
int
queue_hops_tls_required_no(const struct queue_hops *h)
{
	int	 no = h->tls_no;

	if (h->st == H_VAL || h->st == H_VBOL)
		no = h->v == V_NO;
	return h->ntls == 1 && no;
}
