/*
 * fuzz_domlist.c - libFuzzer target for the list parser of `danemx check
 * --file` (domlist.c): the input fed in pieces whose sizes the input's
 * first byte picks; every domain handed back must pass the parser's own
 * check, fit its buffer and come from a line that exists.
 */
#include <stdlib.h>
#include <string.h>

#include "util/domlist.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct domlist	 l;
	char			 out[300], *p;
	const char		*why;
	size_t			 off = 1, step, n, room;
	unsigned long		 lines = 1;
	int			 r;

	if (size < 1 || size > 1 << 20)
		return 0;
	step = (size_t)data[0] + 1;
	for (n = 1; n < size; n++)
		if (data[n] == '\n')
			lines++;
	domlist_init(&l);
	for (;;) {
		r = domlist_next(&l, out, sizeof(out), &why);
		if (r == DOMLIST_DOMAIN) {
			if (strlen(out) >= sizeof(out) ||
			    domlist_domain_why(out) != NULL)
				abort();
		} else if (r == DOMLIST_BAD) {
			if (why == NULL || strlen(out) >= DOMLIST_SHOW_MAX)
				abort();
		} else if (l.eof)
			break;
		else if (off == size)
			domlist_end(&l);
		else {
			room = domlist_space(&l, &p);
			n = size - off < step ? size - off : step;
			if (n > room)
				n = room;
			memcpy(p, data + off, n);
			domlist_added(&l, n);
			off += n;
		}
		if (l.lineno > lines)
			abort();
	}
	return 0;
}
