/*
 * fuzz_sts_policy.c - libFuzzer target for the MTA-STS policy parser
 * (sts_policy_parse) and MX pattern matching.
 *
 * A policy that parses must keep the promises of sts.h: a known mode, a
 * max_age of at most a year, mx patterns unless the mode is none (each a
 * lowercase name that matches itself, with its wildcard label replaced),
 * and its text kept whole. Every pattern is also matched against names
 * cut from the input. The policy is freed before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "sts/sts.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check_pattern(const char *pat)
{
	char	 host[300];
	size_t	 n = strlen(pat);

	if (n == 0 || n > 255)
		abort();
	if (strncmp(pat, "*.", 2) == 0) {
		if (n + 1 >= sizeof(host))
			abort();
		host[0] = 'x';
		memcpy(host + 1, pat + 1, n);	/* "x.rest" and its NUL */
		if (!sts_pattern_match(pat, host))
			abort();
		if (sts_pattern_match(pat, pat + 2))	/* not the base */
			abort();
	} else if (!sts_pattern_match(pat, pat))
		abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sts_policy	*p;
	struct sts_diag		 d;
	char			 host[300];
	const char		*nl;
	size_t			 i, n;

	sts_diag_init(&d);
	if ((p = sts_policy_parse((const char *)data, size, &d)) == NULL) {
		if (d.error[0] == '\0')
			abort();
	} else {
		if (p->mode != STS_MODE_NONE && p->mode != STS_MODE_TESTING &&
		    p->mode != STS_MODE_ENFORCE)
			abort();
		if (p->max_age > STS_MAX_AGE_MAX || p->nmx > STS_MX_MAX ||
		    (p->mode != STS_MODE_NONE && p->nmx == 0))
			abort();
		if (p->len != size || memcmp(p->text, data, size) != 0 ||
		    p->text[size] != '\0')
			abort();
		for (i = 0; i < p->nmx; i++)
			check_pattern(p->mx[i]);
		/* names cut from the input, matched against every pattern */
		nl = memchr(data, '\n', size);
		n = nl ? (size_t)(nl - (const char *)data) : size;
		if (n >= sizeof(host))
			n = sizeof(host) - 1;
		memcpy(host, data, n);
		host[n] = '\0';
		(void)sts_mx_match(p, host);
		sts_policy_ref(p);
		sts_policy_unref(p);
		sts_policy_unref(p);
	}
	/* the pattern matcher alone: the input split in two at the first NUL */
	n = strnlen((const char *)data, size);
	if (n < size && n < sizeof(host)) {
		memcpy(host, data, n);
		host[n] = '\0';
		if (size - n - 1 < 300) {
			char	 other[300];

			memcpy(other, data + n + 1, size - n - 1);
			other[size - n - 1] = '\0';
			(void)sts_pattern_match(host, other);
		}
	}
	return 0;
}
