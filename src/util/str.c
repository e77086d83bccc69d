/*
 * str.c - string, number and hex helpers.
 *
 * Nothing here allocates except xstrdup_or_null(), whose result the
 * caller frees.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* strlcpy_ - bounded copy that always terminates; returns strlen(src) */
size_t
strlcpy_(char *dst, const char *src, size_t size)
{
	size_t	 n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* str_lower - lowercase ASCII in place */
void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/*
 * str_printable - replace each octet of s[0..len) that is not printable
 * ASCII (controls, DEL, and every octet >= 0x80) with '?', in place.
 * Text a peer sent (an SMTP reply, a DNS server's words, a certificate
 * name) goes through this before it reaches a log line, the queue's
 * envelope or a DSN, which is us-ascii: an ESC sequence cannot reach an
 * operator's terminal, nor a CR or LF start a new log or header line.
 */
void
str_printable(char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
}

/* xstrdup_or_null - strdup that passes NULL through */
char *
xstrdup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* hex_encode - write 2*len hex digits and a NUL; -1 if outlen is short */
int
hex_encode(char *out, size_t outlen, const unsigned char *p, size_t len,
    int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t	 i;

	if (outlen < 2 * len + 1)
		return -1;
	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * len] = '\0';
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * hex_decode - decode hex digits, skipping blanks between them.
 * Returns the number of bytes, or -1 on a bad digit, an odd count or
 * output longer than outlen.
 */
long
hex_decode(unsigned char *out, size_t outlen, const char *in)
{
	size_t	 n = 0;
	int	 hi = -1, v;

	for (; *in != '\0'; in++) {
		if (*in == ' ' || *in == '\t')
			continue;
		if ((v = hexval((unsigned char)*in)) == -1)
			return -1;
		if (hi == -1) {
			hi = v;
			continue;
		}
		if (n >= outlen)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return hi == -1 ? (long)n : -1;
}

/* parse_uint - strict decimal in [0, max]; -1 on anything else */
int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char		*end;
	unsigned long	 v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * str_next_crlf - the first CR or LF in [p, end), or end: the line
 * splitters' inner loop, on memchr (which scans many octets at a step)
 * rather than one octet at a time.
 */
const char *
str_next_crlf(const char *p, const char *end)
{
	const char	*lf, *cr;

	if (p >= end)
		return end;
	if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
		lf = end;
	if ((cr = memchr(p, '\r', (size_t)(lf - p))) != NULL)
		return cr;
	return lf;
}
