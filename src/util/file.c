/*
 * file.c - read a whole (configuration) file into a bounded buffer.
 *
 * The caller owns out and frees it with buf_free(), also on error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

/* file_read - path into out (at most max octets); -1 with err */
int
file_read(const char *path, size_t max, struct buf *out, char *err,
    size_t errlen)
{
	char	 chunk[8192];
	size_t	 n;
	FILE	*fp;

	buf_init(out, max);
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_add(out, chunk, n) == -1) {
			snprintf(err, errlen, "%s: larger than %zu octets", path,
			    max);
			fclose(fp);
			return -1;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}
