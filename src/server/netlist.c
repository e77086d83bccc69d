/*
 * netlist.c - lists of networks ("127.0.0.0/8 [::1]/128 192.0.2.7"),
 * as mynetworks uses, and matching a client address against them.
 * The list owns its entries; netlist_free() releases it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

struct net {
	int		 family;
	unsigned char	 addr[16];
	unsigned	 bits;
};

struct netlist {
	struct net	*n;
	size_t		 count;
};

/* netlist_parse - parse blank- or comma-separated prefixes */
struct netlist *
netlist_parse(const char *text, char *err, size_t errlen)
{
	struct netlist	*l;
	struct net	*nn;
	char		*copy, *tok, *save = NULL, *slash, *a;
	unsigned long	 bits;
	size_t		 len;

	if ((l = calloc(1, sizeof(*l))) == NULL || (copy = strdup(text)) ==
	    NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if ((nn = realloc(l->n, (l->count + 1) * sizeof(*nn))) == NULL)
			goto bad;
		l->n = nn;
		nn = &l->n[l->count];
		memset(nn, 0, sizeof(*nn));
		slash = strchr(tok, '/');
		if (slash != NULL)
			*slash++ = '\0';
		a = tok;
		len = strlen(a);
		if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
			a[len - 1] = '\0';
			a++;
		}
		if (inet_pton(AF_INET, a, nn->addr) == 1) {
			nn->family = AF_INET;
			bits = 32;
		} else if (inet_pton(AF_INET6, a, nn->addr) == 1) {
			nn->family = AF_INET6;
			bits = 128;
		} else
			goto bad;
		if (slash != NULL && parse_uint(slash, bits, &bits) == -1)
			goto bad;
		nn->bits = (unsigned)bits;
		l->count++;
	}
	free(copy);
	return l;
bad:
	snprintf(err, errlen, "'%s' is not an address or prefix", tok);
	free(copy);
	netlist_free(l);
	return NULL;
}

/* netlist_match - is sa inside one of the prefixes? */
int
netlist_match(const struct netlist *l, const struct sockaddr *sa)
{
	const unsigned char	*addr;
	unsigned char		 v4[4];
	int			 fam = sa->sa_family;
	size_t			 i;

	if (fam == AF_INET)
		addr = (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (fam == AF_INET6) {
		addr = (const unsigned char *)
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		/* ::ffff:a.b.c.d is the IPv4 client a.b.c.d */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)
		    (const void *)addr)) {
			memcpy(v4, addr + 12, 4);
			addr = v4;
			fam = AF_INET;
		}
	} else
		return 0;
	for (i = 0; l != NULL && i < l->count; i++)
		if (l->n[i].family == fam &&
		    addr_prefix_eq(l->n[i].addr, addr, l->n[i].bits))
			return 1;
	return 0;
}

/* netlist_free - release the list */
void
netlist_free(struct netlist *l)
{
	if (l == NULL)
		return;
	free(l->n);
	free(l);
}
