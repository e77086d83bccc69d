/*
 * fuzz_envelope.c - libFuzzer target for the queue envelope parser; a
 * parsed envelope is formatted again and reparsed, which must succeed
 * and give the same hops, TLS-Required request and recipients.
 */
#include <stdlib.h>

#include "queue/queue.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct queue_env e, e2;
	char		 err[128], *out;
	size_t		 len;

	if (queue_env_parse((const char *)data, size, &e, err,
	    sizeof(err)) == -1)
		return 0;
	if (queue_env_format(&e, &out, &len) == 0) {
		if (queue_env_parse(out, len, &e2, err, sizeof(err)) == -1 ||
		    e2.tls_required_no != e.tls_required_no ||
		    e2.hops != e.hops || e2.nrcpt != e.nrcpt)
			abort();
		queue_env_free(&e2);
		free(out);
	}
	queue_env_free(&e);
	return 0;
}
