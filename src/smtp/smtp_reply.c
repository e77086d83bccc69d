/*
 * smtp_reply.c - strict parsing of SMTP replies and EHLO capabilities.
 *
 * smtp_reply_feed() takes one line (CRLF stripped) at a time: "NNN-text"
 * continues a reply, "NNN text" or "NNN" alone ends it (RFC 5321 4.2).
 * Every line of a reply must carry the same code. An enhanced status
 * code (RFC 3463) is recognised on the first line when its class matches
 * the reply's first digit. The reply's text grows only up to
 * SMTP_REPLY_MAX; longer replies, long lines, NULs and bare CR or LF are
 * protocol errors. Other control characters and octets above 0x7e in
 * the text are kept as '?' (str_printable()): the text is the server's,
 * and it ends up in logs and us-ascii DSNs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"

/* smtp_reply_init - an empty reply */
void
smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->nlines = 0;
	buf_init(&r->text, SMTP_REPLY_MAX);
}

/* smtp_reply_reset - forget the reply, keep the memory */
void
smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->nlines = 0;
	buf_reset(&r->text);
}

/* smtp_reply_free - release the reply's memory */
void
smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	r->nlines = 0;
	r->code = 0;
}

/* parse_enhanced - "c.sss.ddd " at s; its length (without the space) or 0 */
static size_t
parse_enhanced(const char *s, size_t len, int cls)
{
	size_t	 i = 0, n;

	if (len < 5 || s[0] != '0' + cls || s[1] != '.')
		return 0;
	for (i = 2, n = 0; i < len && isdigit((unsigned char)s[i]); i++)
		n++;
	if (n < 1 || n > 3 || i >= len || s[i] != '.')
		return 0;
	for (i++, n = 0; i < len && isdigit((unsigned char)s[i]); i++)
		n++;
	if (n < 1 || n > 3)
		return 0;
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

/* smtp_reply_feed - add one reply line; see enum smtp_feed */
enum smtp_feed
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
    const char **err)
{
	size_t	 i, elen;
	int	 code, more;

	if (len > SMTP_LINE_MAX) {
		*err = "reply line too long";
		return SMTP_REPLY_ERROR;
	}
	if (r->nlines >= SMTP_REPLY_LINES_MAX) {
		*err = "reply has too many lines";
		return SMTP_REPLY_ERROR;
	}
	for (i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n') {
			*err = "reply line holds NUL, CR or LF";
			return SMTP_REPLY_ERROR;
		}
	}
	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    line[0] < '2' || line[0] > '5' || line[1] > '5') {
		*err = "reply line does not start with a valid code";
		return SMTP_REPLY_ERROR;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len > 3 && line[3] != ' ' && line[3] != '-') {
		*err = "reply code not followed by space or hyphen";
		return SMTP_REPLY_ERROR;
	}
	if (r->nlines > 0 && code != r->code) {
		*err = "reply lines carry different codes";
		return SMTP_REPLY_ERROR;
	}
	r->code = code;
	more = len > 3 && line[3] == '-';
	line += len > 3 ? 4 : 3;
	len -= len > 3 ? 4 : 3;
	if (r->nlines == 0 && (elen = parse_enhanced(line, len,
	    code / 100)) > 0 && elen < sizeof(r->enhanced)) {
		memcpy(r->enhanced, line, elen);
		r->enhanced[elen] = '\0';
	}
	if ((r->nlines > 0 && buf_add(&r->text, "\n", 1) == -1) ||
	    buf_add(&r->text, line, len) == -1) {
		*err = "reply too long";
		return SMTP_REPLY_ERROR;
	}
	/* The text goes to logs, envelopes and DSNs: printable ASCII. */
	if (len > 0)
		str_printable(r->text.data + r->text.len - len, len);
	r->nlines++;
	return more ? SMTP_REPLY_MORE : SMTP_REPLY_DONE;
}

/* smtp_reply_first_line - the first line of text, into out */
const char *
smtp_reply_first_line(const struct smtp_reply *r, char *out, size_t outlen)
{
	const char	*t = r->text.data ? r->text.data : "";
	size_t		 n = strcspn(t, "\n");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, t, n);
	out[n] = '\0';
	return out;
}

/* smtp_ehlo_parse - the capabilities of an EHLO reply */
void
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	static const struct {
		const char	*kw;
		unsigned	 bit;
	} kws[] = {
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "SIZE", SMTP_EXT_SIZE },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCED },
		{ "CHUNKING", SMTP_EXT_CHUNKING },
	};
	const char	*p, *eol, *arg;
	size_t		 kwlen, i;
	char		*end;
	unsigned long	 v;

	e->ext = 0;
	e->size = 0;
	if (r->code != 250 || r->text.data == NULL)
		return;
	/* The first line is the greeting; keywords follow, one a line. */
	p = strchr(r->text.data, '\n');
	while (p != NULL) {
		p++;
		eol = strchr(p, '\n');
		kwlen = strcspn(p, " \n");
		for (i = 0; i < DMX_NELEM(kws); i++) {
			if (strlen(kws[i].kw) != kwlen ||
			    strncasecmp(p, kws[i].kw, kwlen) != 0)
				continue;
			e->ext |= kws[i].bit;
			if (kws[i].bit != SMTP_EXT_SIZE || p[kwlen] != ' ')
				break;
			arg = p + kwlen + 1;
			if (!isdigit((unsigned char)*arg))
				break;
			v = strtoul(arg, &end, 10);
			if (*end == '\0' || *end == '\n' || *end == ' ')
				e->size = v;
			break;
		}
		p = eol;
	}
}
