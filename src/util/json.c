/*
 * json.c - minimal JSON writer on top of struct buf.
 *
 * Strings are escaped per RFC 8259; bytes >= 0x80 pass through, and
 * control characters become \u00XX. Nothing is allocated here beyond
 * what the buf grows.
 */
#include <stdio.h>
#include <string.h>

#include "util/util.h"

/* json_str - append s as a JSON string, or null when s is NULL */
int
json_str(struct buf *b, const char *s)
{
	const unsigned char *p;
	int	 r = 0;

	if (s == NULL)
		return buf_adds(b, "null");
	r |= buf_add(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':	r |= buf_adds(b, "\\\""); break;
		case '\\':	r |= buf_adds(b, "\\\\"); break;
		case '\n':	r |= buf_adds(b, "\\n"); break;
		case '\r':	r |= buf_adds(b, "\\r"); break;
		case '\t':	r |= buf_adds(b, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				r |= buf_printf(b, "\\u%04x", *p);
			else
				r |= buf_add(b, p, 1);
		}
	}
	r |= buf_add(b, "\"", 1);
	return r ? -1 : 0;
}

/* json_kv_str - append "key":"val" */
int
json_kv_str(struct buf *b, const char *key, const char *val)
{
	if (json_str(b, key) == -1 || buf_add(b, ":", 1) == -1)
		return -1;
	return json_str(b, val);
}

/* json_kv_int - append "key":val */
int
json_kv_int(struct buf *b, const char *key, long long val)
{
	if (json_str(b, key) == -1)
		return -1;
	return buf_printf(b, ":%lld", val);
}

/* json_kv_bool - append "key":true|false */
int
json_kv_bool(struct buf *b, const char *key, int val)
{
	if (json_str(b, key) == -1)
		return -1;
	return buf_adds(b, val ? ":true" : ":false");
}
