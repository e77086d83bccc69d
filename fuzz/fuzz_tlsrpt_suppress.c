/*
 * fuzz_tlsrpt_suppress.c - libFuzzer target for the tlsrpt_suppress list
 * (tlsrpt_suppress.c): entries, and matching every entry against a name.
 * Inputs naming a file ('/') are passed over: the target reads no files.
 */
#include <stdlib.h>
#include <string.h>

#include "tlsrpt/tlsrpt.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct tlsrpt_suppress	*l;
	char			*s, err[300];

	if (size > 65536 || memchr(data, '/', size) != NULL ||
	    (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((l = tlsrpt_suppress_load(s, err, sizeof(err))) != NULL) {
		(void)tlsrpt_suppressed(l, "example.org");
		(void)tlsrpt_suppressed(l, "tlsrpt@sub.example.org");
		(void)tlsrpt_suppressed(l, s);
		tlsrpt_suppress_free(l);
	}
	free(s);
	return 0;
}
