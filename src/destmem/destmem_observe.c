/*
 * destmem_observe.c - a route as one observation of its destination's
 * TLS policy (destmem.h): which policy, its fingerprint, and, when DANE
 * does not apply, why, host by host in the route's words.
 *
 * The policy is "dane" when some MX host has a secure TLSA RRset with a
 * usable record; else "sts-enforce" or "sts-testing" when the delivery
 * found an MTA-STS policy in that mode; else "none". The fingerprint of
 * "dane" is the SHA-256 (hex) of the sorted, distinct records of every
 * secure TLSA RRset of the route ("u s m data" lines), so the same
 * records under another MX host are no change, and a rollover is. A
 * route that failed, or a host whose address or TLSA lookup failed, is
 * not known: nothing is compared or remembered.
 *
 * Ownership: nothing is kept; the caller owns the route and the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "destmem/destmem.h"
#include "sts/sts.h"
#include "util/util.h"

#define OBS_RECS_MAX	256	/* TLSA records hashed at most */

/* answered - a lookup answered (secure or insecure) */
static int
answered(enum dmx_dns_status s)
{
	return s == DMX_DNS_SECURE || s == DMX_DNS_INSECURE;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* fingerprint - SHA-256 over the sorted distinct lines; "" on failure */
static void
fingerprint(char **lines, size_t n, char *out, size_t outlen)
{
	EVP_MD_CTX	*md;
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned	 dlen = 0;
	size_t		 k;

	out[0] = '\0';
	qsort(lines, n, sizeof(*lines), cmp_str);
	if ((md = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (k = 0; k < n; k++) {
		if (k > 0 && strcmp(lines[k], lines[k - 1]) == 0)
			continue;
		if (EVP_DigestUpdate(md, lines[k], strlen(lines[k]) + 1) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, d, &dlen) == 1)
		(void)hex_encode(out, outlen, d, dlen, 0);
out:
	EVP_MD_CTX_free(md);
}

/* append - s at the end of dst (size octets), cut to fit; anything but
 * printable ASCII becomes '?' (names came from DNS) */
static void
append(char *dst, size_t size, const char *s)
{
	size_t	 n = strlen(dst);

	for (; *s != '\0' && n + 1 < size; s++)
		dst[n++] = *s < ' ' || *s > '~' ? '?' : *s;
	dst[n] = '\0';
}

/* add_what - "HOST: why" to o->what, "; " between */
static void
add_what(struct destmem_obs *o, const char *host, const char *why)
{
	if (o->what[0] != '\0')
		append(o->what, sizeof(o->what), "; ");
	append(o->what, sizeof(o->what), host);
	append(o->what, sizeof(o->what), ": ");
	append(o->what, sizeof(o->what), why);
}

/* destmem_observe - the route rt (and the MTA-STS policy sts found) as
 * one observation o (see the top) */
void
destmem_observe(const struct route *rt, const struct deliver_sts *sts,
    struct destmem_obs *o)
{
	const struct route_host	*h;
	char			*lines[OBS_RECS_MAX];
	size_t			 i, k, n = 0;
	int			 dane = 0;

	memset(o, 0, sizeof(*o));
	if (rt == NULL || rt->failed || !answered(rt->mx_status) ||
	    rt->literal || rt->level < TLS_LEVEL_DANE ||
	    rt->level > TLS_LEVEL_DANE_ONLY)
		return;		/* not known, or DANE not asked for */
	for (i = 0; i < rt->nhost; i++) {
		h = &rt->hosts[i];
		if (!answered(h->addr_status) || (h->tlsa_looked_up &&
		    !answered(h->tlsa_status)) || h->bogus[0] != '\0')
			goto free;	/* a lookup failed: not known */
		if (h->tlsa_looked_up && h->tlsa.secure && h->tlsa.n > 0) {
			if (h->tlsa.nusable > 0)
				dane = 1;
			else
				add_what(o, h->name, h->why);
			for (k = 0; k < h->tlsa.n && n < OBS_RECS_MAX; k++)
				if ((lines[n] = dane_tlsa_text(&h->tlsa.recs[k],
				    0)) != NULL)
					n++;
		} else
			add_what(o, h->name, h->nodane[0] ? h->nodane : h->why);
	}
	if (dane) {
		strlcpy_(o->policy, "dane", sizeof(o->policy));
		fingerprint(lines, n, o->fingerprint, sizeof(o->fingerprint));
		o->what[0] = '\0';
		o->known = o->fingerprint[0] != '\0';
		goto free;
	}
	if (sts != NULL && sts->policy == NULL && sts->fail != DMX_FAIL_NONE)
		goto free;	/* MTA-STS could not be had: not known */
	if (sts != NULL && sts->policy != NULL && sts->policy->mode ==
	    STS_MODE_ENFORCE)
		strlcpy_(o->policy, "sts-enforce", sizeof(o->policy));
	else if (sts != NULL && sts->policy != NULL && sts->policy->mode ==
	    STS_MODE_TESTING)
		strlcpy_(o->policy, "sts-testing", sizeof(o->policy));
	else
		strlcpy_(o->policy, "none", sizeof(o->policy));
	if (sts != NULL && sts->policy != NULL) {
		for (k = 0; sts->policy->id[k] != '\0' && k + 1 <
		    sizeof(o->fingerprint); k++)
			o->fingerprint[k] = sts->policy->id[k];
		o->fingerprint[k] = '\0';
	}
	o->known = 1;
free:
	for (k = 0; k < n; k++)
		free(lines[k]);
}

/* rank - how much a policy protects: none 0 ... dane 3 */
static int
rank(const char *p)
{
	if (strcmp(p, "dane") == 0)
		return 3;
	if (strcmp(p, "sts-enforce") == 0)
		return 2;
	if (strcmp(p, "sts-testing") == 0)
		return 1;
	return 0;
}

/*
 * destmem_downgrade - is from -> to a downgrade? DANE lost (to anything
 * else), or an MTA-STS enforce policy gone (to testing or none). A first
 * observation ("") is none.
 */
int
destmem_downgrade(const char *from, const char *to)
{
	if (from[0] == '\0' || to[0] == '\0')
		return 0;
	if (strcmp(from, "dane") == 0)
		return strcmp(to, "dane") != 0;
	if (strcmp(from, "sts-enforce") == 0)
		return rank(to) < 2;
	return 0;
}

/* destmem_policy_text - a policy in words, for log lines */
const char *
destmem_policy_text(const char *p)
{
	if (strcmp(p, "dane") == 0)
		return "DANE";
	if (strcmp(p, "sts-enforce") == 0)
		return "MTA-STS enforce";
	if (strcmp(p, "sts-testing") == 0)
		return "MTA-STS testing";
	if (strcmp(p, "none") == 0)
		return "no policy";
	return "unknown";
}

/*
 * destmem_domain_key - name (a domain, or a next hop: "[host]:port",
 * "[host]", "host:port") as the memory's key: lowercase, no final dot,
 * brackets kept (a host without MX lookup is another route than the MX
 * hosts of that name, with other TLSA records), and the port kept unless
 * it is 25 (TLSA records live at _PORT._tcp). -1 if it is not a host
 * name (an address literal has no memory) or not well formed.
 */
int
destmem_domain_key(const char *name, char *out, size_t outlen)
{
	size_t		 i = 0, n = 0;
	unsigned long	 port = 25;
	int		 alpha = 0, bracket = 0, digits = 0;
	char		 c;

	if (outlen < 2)
		return -1;
	if (name[0] == '[') {
		bracket = 1;
		out[n++] = '[';
		i++;
	}
	for (; name[i] != '\0' && name[i] != ']' && name[i] != ':'; i++) {
		c = name[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.'))
			return -1;
		if (c >= 'a' && c <= 'z')
			alpha = 1;
		if (n + 1 >= outlen)
			return -1;
		out[n++] = c;
	}
	if (n > (size_t)bracket && out[n - 1] == '.')
		n--;
	if (n == (size_t)bracket || !alpha)
		return -1;
	if (bracket) {
		if (name[i++] != ']')
			return -1;
		if (n + 1 >= outlen)
			return -1;
		out[n++] = ']';
	}
	if (name[i] == ':') {
		for (i++, port = 0; name[i] >= '0' && name[i] <= '9'; i++) {
			port = port * 10 + (unsigned long)(name[i] - '0');
			if (++digits > 5)
				return -1;
		}
		if (digits == 0 || port == 0 || port > 65535)
			return -1;
	}
	if (name[i] != '\0')
		return -1;
	out[n] = '\0';
	if (port != 25 && snprintf(out + n, outlen - n, ":%lu", port) >=
	    (int)(outlen - n))
		return -1;
	return 0;
}
