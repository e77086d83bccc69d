/*
 * smtp.h - SMTP protocol pieces: reply and EHLO parsing (smtp_reply.c).
 *
 * The parsers read untrusted server data one line at a time (the line
 * without its CRLF) and enforce ceilings on line length, line count and
 * total size. A struct smtp_reply owns its text; smtp_reply_free()
 * releases it, smtp_reply_reset() readies it for the next reply.
 */
#ifndef DANEMX_SMTP_H
#define DANEMX_SMTP_H

#include <stddef.h>

#include "util/util.h"

#define SMTP_LINE_MAX		2048	/* RFC 5321 says 512; be lenient */
#define SMTP_REPLY_LINES_MAX	100
#define SMTP_REPLY_MAX		(64 * 1024)

struct smtp_reply {
	int		 code;		/* 200..599, 0 until the first line */
	char		 enhanced[16];	/* "5.7.1", or "" when absent */
	size_t		 nlines;
	struct buf	 text;		/* lines without code, '\n'-separated */
};

enum smtp_feed {
	SMTP_REPLY_MORE,	/* a continuation line; feed the next */
	SMTP_REPLY_DONE,	/* the last line: the reply is complete */
	SMTP_REPLY_ERROR	/* a protocol violation; *err says which */
};

/* EHLO capabilities (smtp_ehlo_parse) */
#define SMTP_EXT_STARTTLS	0x01
#define SMTP_EXT_PIPELINING	0x02
#define SMTP_EXT_SIZE		0x04
#define SMTP_EXT_8BITMIME	0x08
#define SMTP_EXT_SMTPUTF8	0x10
#define SMTP_EXT_ENHANCED	0x20
#define SMTP_EXT_CHUNKING	0x40

struct smtp_ehlo {
	unsigned	 ext;		/* SMTP_EXT_* */
	unsigned long	 size;		/* SIZE limit, 0 if none given */
};

/* smtp_reply.c */
void	 smtp_reply_init(struct smtp_reply *);
void	 smtp_reply_reset(struct smtp_reply *);
void	 smtp_reply_free(struct smtp_reply *);
enum smtp_feed smtp_reply_feed(struct smtp_reply *, const char *line,
	    size_t len, const char **err);
void	 smtp_ehlo_parse(const struct smtp_reply *, struct smtp_ehlo *);
const char *smtp_reply_first_line(const struct smtp_reply *, char *,
	    size_t);

#endif /* DANEMX_SMTP_H */
