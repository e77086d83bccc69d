/*
 * queue_hops.c - count the Received: headers of a message (its hops),
 * to stop mail loops (hopcount_limit).
 *
 * The counter reads a message's octets as they come, in pieces of any
 * size, and counts the header fields named "Received" (any case, blanks
 * allowed before the colon, as RFC 5322's obsolete syntax does) in the
 * header section. The section ends at the first empty line, or at the
 * first line that is neither a header field nor its continuation (as
 * Postfix's cleanup decides); nothing after it is looked at. Every
 * queue writer runs one (queue_write.c), so the smtpd, sendmail, the maildrop
 * pickup and the scheduler all use the same count.
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
	H_BODY		/* past the header section */
};

/* queue_hops_init - a counter at the start of a message */
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

/* colon - the end of a field name: count it if it is Received */
static void
colon(struct queue_hops *h)
{
	if (h->match && h->k == 8 && h->n < QUEUE_HOPS_MAX)
		h->n++;
	h->st = H_SKIP;
}

/* queue_hops_add - the next len octets of the message */
void
queue_hops_add(struct queue_hops *h, const void *data, size_t len)
{
	static const char	 rcvd[] = "received";
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
				h->k = 1;
				h->match = (c | 0x20) == rcvd[0];
			} else
				h->st = H_BODY;	/* empty line, or not a field */
			break;
		case H_BOL_CR:
			h->st = H_BODY;		/* "\r\n": the empty line */
			break;
		case H_NAME:
			if (c == ':')
				colon(h);
			else if (c == ' ' || c == '\t')
				h->st = H_WSP;
			else if (ftext(c)) {
				h->match = h->match && h->k < 8 &&
				    (c | 0x20) == rcvd[h->k];
				if (h->k < 9)
					h->k++;
			} else
				h->st = H_BODY;
			break;
		case H_WSP:
			if (c == ':')
				colon(h);
			else if (c != ' ' && c != '\t')
				h->st = H_BODY;
			break;
		}
		i++;
	}
}

/* queue_hops_done - the header section is over: the count is final */
int
queue_hops_done(const struct queue_hops *h)
{
	return h->st == H_BODY;
}
