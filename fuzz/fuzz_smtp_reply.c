/*
 * fuzz_smtp_reply.c - libFuzzer target for SMTP reply and EHLO parsing.
 *
 * The input is split at LF (a trailing CR is dropped, as the connection
 * layer does) and fed line by line; each completed reply is parsed as
 * an EHLO reply too. The reply is freed before returning.
 */
#include <string.h>

#include "smtp/smtp.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct smtp_reply	 r;
	struct smtp_ehlo	 e;
	const char		*p = (const char *)data, *nl, *err;
	size_t			 len;
	enum smtp_feed		 f;

	smtp_reply_init(&r);
	while (size > 0) {
		nl = memchr(p, '\n', size);
		len = nl ? (size_t)(nl - p) : size;
		f = smtp_reply_feed(&r, p, len > 0 && p[len - 1] == '\r' ?
		    len - 1 : len, &err);
		if (f == SMTP_REPLY_DONE) {
			smtp_ehlo_parse(&r, &e);
			smtp_reply_reset(&r);
		} else if (f == SMTP_REPLY_ERROR)
			smtp_reply_reset(&r);
		if (nl == NULL)
			break;
		size -= len + 1;
		p = nl + 1;
	}
	smtp_reply_free(&r);
	return 0;
}
