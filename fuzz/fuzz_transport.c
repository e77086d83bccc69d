/*
 * fuzz_transport.c - libFuzzer target for the transport table
 * (route_transport.c): parsing, then matching names against it, the
 * input's own lines included.
 */
#include <stdlib.h>
#include <string.h>

#include "route/route.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct transport_table	 t;
	char			 err[600], *s, *line, *save = NULL;
	size_t			 i;

	if (route_transport_parse(&t, (const char *)data, size, err,
	    sizeof(err)) == -1)
		return 0;
	(void)route_transport_match(&t, "example.org");
	(void)route_transport_match(&t, "a.b.example.org.");
	(void)route_transport_match(&t, "[192.0.2.1]");
	(void)route_transport_match(&t, ".");
	(void)route_transport_match(&t, "");
	for (i = 0; i < t.n; i++)
		(void)route_transport_match(&t, t.e[i].pattern);
	if ((s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		for (line = strtok_r(s, " \t\n", &save); line != NULL;
		    line = strtok_r(NULL, " \t\n", &save))
			(void)route_transport_match(&t, line);
		free(s);
	}
	route_transport_free(&t);
	return 0;
}
