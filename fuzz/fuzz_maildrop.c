/*
 * fuzz_maildrop.c - libFuzzer target for the maildrop file parser: any
 * local user writes those files. A parsed drop must have a sender, at
 * least one recipient, and a message inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct queue_drop d;
	char		 err[128], *copy;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (queue_drop_parse(copy, size, &d, err, sizeof(err)) == -1) {
		free(copy);
		return 0;
	}
	if (d.sender == NULL || d.nrcpt == 0 || d.msg < copy ||
	    d.msg + d.msglen != copy + size)
		abort();
	queue_drop_free(&d);	/* frees copy */
	return 0;
}
