/*
 * sts_match.c - MX patterns (RFC 8461 section 4.1) and the domain names
 * MTA-STS is looked up for. Nothing here allocates.
 */
#include <string.h>
#include <strings.h>

#include "sts/sts.h"
#include "util/util.h"

/*
 * sts_pattern_match - does host match pattern? Case is ignored, and so
 * is a final dot on either. "*.example.com" matches one whole leftmost
 * label: mail.example.com, not example.com, not a.b.example.com.
 */
int
sts_pattern_match(const char *pattern, const char *host)
{
	size_t		 pl = strlen(pattern), hl = strlen(host), rl;
	const char	*dot;

	if (pl > 0 && pattern[pl - 1] == '.')
		pl--;
	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pl == 0 || hl == 0)
		return 0;
	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		if ((dot = memchr(host, '.', hl)) == NULL || dot == host)
			return 0;
		rl = hl - (size_t)(dot + 1 - host);
		return rl == pl - 2 && strncasecmp(dot + 1, pattern + 2, rl) ==
		    0;
	}
	return hl == pl && strncasecmp(host, pattern, hl) == 0;
}

/* sts_mx_match - the first of the policy's patterns host matches, or NULL */
const char *
sts_mx_match(const struct sts_policy *p, const char *host)
{
	size_t	 i;

	for (i = 0; i < p->nmx; i++)
		if (sts_pattern_match(p->mx[i], host))
			return p->mx[i];
	return NULL;
}

/*
 * sts_domain_ok - a domain we may look up and fetch for: letters,
 * digits, hyphens and dots, labels of 1-63, at most 253 in all, no
 * leading or final dot.
 */
int
sts_domain_ok(const char *d)
{
	return addr_name_ok(d);
}
