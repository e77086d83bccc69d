/*
 * smtp_data.c - a message as DATA content, encoded a chunk at a time.
 *
 * The encoder turns message octets into what goes on the wire after
 * "354": every line ends in CRLF, a line that starts with "." gets
 * another "." in front (RFC 5321 4.5.2), the last line is ended if it
 * was not, and "." CRLF ends the data. It keeps its state (at the start
 * of a line? a CR not yet decided?) in a struct smtp_enc between calls,
 * so a message can be encoded in chunks of any size, split anywhere,
 * with the same result as in one piece; the SMTP client streams a queue
 * file through it without holding the message (smtp_client.c).
 *
 * Line endings, for any input (a queue file from danemx sendmail may
 * hold anything):
 *	CR LF	a line ending, sent as CR LF
 *	LF	alone: a line ending (the Unix convention), sent as CR LF
 *	CR	alone (not followed by LF, or the last octet): one space.
 *		A lone CR never becomes a line ending, so it can neither
 *		split a header on the next hop ("X-Bare: a\rb" stays one
 *		header line) nor hide a "." line from us and end the data
 *		early at a receiver that takes CR as a line ending (SMTP
 *		smuggling, CVE-2023-51764 class). Postfix's
 *		cleanup_replace_stray_cr_lf does the same.
 * So the only CRs and LFs on the wire are the CR LF pairs written here,
 * and every line that starts with "." is stuffed: the data can end only
 * where the encoder ends it.
 *
 * Nothing here allocates but smtp_data_encode(), which appends to a
 * struct buf the caller owns.
 */
#include <string.h>

#include "smtp/smtp.h"
#include "util/util.h"

/* smtp_enc_init - the state before a message's first octet */
void
smtp_enc_init(struct smtp_enc *e)
{
	e->bol = 1;
	e->cr = 0;
}

/*
 * smtp_enc_chunk - encode len octets of the message into out, which has
 * room for SMTP_ENC_MAX(len) octets; returns how many were written. A
 * CR at the end of the chunk is written with the next chunk (or by
 * smtp_enc_end()), once it is known whether an LF follows.
 */
size_t
smtp_enc_chunk(struct smtp_enc *e, const char *in, size_t len, char *out)
{
	const char	*p = in, *end = in + len, *q;
	char		*o = out;

	while (p < end) {
		if (e->cr) {
			e->cr = 0;
			if (*p == '\n') {
				*o++ = '\r';
				*o++ = '\n';
				e->bol = 1;
				p++;
				continue;
			}
			*o++ = ' ';		/* a lone CR */
			e->bol = 0;
		}
		if (e->bol && *p == '.')
			*o++ = '.';
		q = str_next_crlf(p, end);
		if (q > p) {
			memcpy(o, p, (size_t)(q - p));
			o += q - p;
			e->bol = 0;
			p = q;
			if (p == end)
				break;
		}
		if (*p == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			e->bol = 1;
		} else
			e->cr = 1;	/* decided by the next octet */
		p++;
	}
	return (size_t)(o - out);
}

/*
 * smtp_enc_end - the end of the message: a pending CR, the last line's
 * CR LF if it had none (at most 3 octets into out), but not the final
 * "." line, which the caller adds. Returns how many were written.
 */
size_t
smtp_enc_end(struct smtp_enc *e, char *out)
{
	size_t	 n = 0;

	if (e->cr) {
		e->cr = 0;
		out[n++] = ' ';
		e->bol = 0;
	}
	if (!e->bol) {
		out[n++] = '\r';
		out[n++] = '\n';
		e->bol = 1;
	}
	return n;
}

/*
 * smtp_enc_count - what smtp_enc_chunk() would write for these octets,
 * without writing it: the message's size on the wire (RFC 1870 SIZE)
 * is the sum over its chunks plus smtp_enc_count_end().
 */
size_t
smtp_enc_count(struct smtp_enc *e, const char *in, size_t len)
{
	const char	*p = in, *end = in + len, *q;
	size_t		 n = len;

	/* A CR LF stays two octets and a lone CR becomes one space: only
	 * a lone LF (+1) and a stuffed dot (+1) add octets. The same walk
	 * as smtp_enc_chunk(), writing nothing. */
	while (p < end) {
		if (e->cr) {
			e->cr = 0;
			if (*p == '\n') {
				e->bol = 1;
				p++;
				continue;
			}
			e->bol = 0;		/* the CR became a space */
		}
		if (e->bol && *p == '.')
			n++;
		q = str_next_crlf(p, end);
		if (q > p) {
			e->bol = 0;
			p = q;
			if (p == end)
				break;
		}
		if (*p == '\n') {
			n++;
			e->bol = 1;
		} else
			e->cr = 1;
		p++;
	}
	return n;
}

/*
 * smtp_enc_count_end - what smtp_enc_end() adds: a pending CR was counted
 * already (as the space it becomes), so only the last line's CR LF
 */
size_t
smtp_enc_count_end(struct smtp_enc *e)
{
	int	 open_line = e->cr || !e->bol;

	e->cr = 0;
	e->bol = 1;
	return open_line ? 2 : 0;
}

/*
 * smtp_data_encode - the whole message as DATA content, with the final
 * ".\r\n", appended to out. -1 if out's ceiling is too small.
 */
int
smtp_data_encode(struct buf *out, const char *msg, size_t len)
{
	struct smtp_enc	 e;
	char		 tmp[2 * 4096 + 8];
	size_t		 n, off = 0;

	smtp_enc_init(&e);
	while (off < len) {
		n = len - off < 4096 ? len - off : 4096;
		if (buf_add(out, tmp, smtp_enc_chunk(&e, msg + off, n,
		    tmp)) == -1)
			return -1;
		off += n;
	}
	if (buf_add(out, tmp, smtp_enc_end(&e, tmp)) == -1)
		return -1;
	return buf_adds(out, ".\r\n");
}
