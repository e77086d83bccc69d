/*
 * sched_selfaddr.c - the relay's own listening addresses, so that
 * delivery can refuse to connect to itself ("mail for X loops back to
 * myself", as Postfix says): a recipient literal [127.0.0.1] when we
 * listen on 127.0.0.1:25, an MX host that resolves to one of our
 * addresses, or a relayhost that is this relay. Here for now, beside the
 * scheduler that hands it to each delivery (deliver_conf's is_self).
 *
 * An entry is an address or prefix and a port. A listen address is taken
 * as it is; a wildcard (0.0.0.0, ::) stands for every address of every
 * interface (getifaddrs() at start, so an address added later is not
 * known), the whole prefix of a loopback interface (127.0.0.0/8 reaches
 * a socket bound to 0.0.0.0), and the wildcard itself; [::] also takes
 * IPv4 (Linux's default dual-stack socket). A struct sched_selfaddr owns
 * its entries; sched_selfaddr_free() releases it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "sched/sched.h"
#include "util/util.h"

struct self_ent {
	int		 family;
	unsigned char	 addr[16];
	unsigned	 bits;
	unsigned	 port;
};

struct sched_selfaddr {
	struct self_ent	*e;
	size_t		 n, cap;
};

/* sa_bytes - the address octets of sa (v4-mapped IPv6 as IPv4), or NULL */
static const unsigned char *
sa_bytes(const struct sockaddr *sa, int *family, unsigned *port)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		*family = AF_INET;
		*port = ntohs(sin->sin_port);
		return (const unsigned char *)&sin->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		*port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			*family = AF_INET;
			return (const unsigned char *)&sin6->sin6_addr + 12;
		}
		*family = AF_INET6;
		return (const unsigned char *)&sin6->sin6_addr;
	}
	return NULL;
}

static int
add(struct sched_selfaddr *s, int family, const void *addr, unsigned bits,
    unsigned port)
{
	struct self_ent	*ne;
	size_t		 ncap;

	if (s->n == s->cap) {
		ncap = s->cap ? 2 * s->cap : 8;
		if ((ne = realloc(s->e, ncap * sizeof(*ne))) == NULL)
			return -1;
		s->e = ne;
		s->cap = ncap;
	}
	memset(&s->e[s->n], 0, sizeof(s->e[s->n]));
	s->e[s->n].family = family;
	memcpy(s->e[s->n].addr, addr, family == AF_INET ? 4 : 16);
	s->e[s->n].bits = bits;
	s->e[s->n].port = port;
	s->n++;
	return 0;
}

/* mask_bits - the prefix length of a netmask */
static unsigned
mask_bits(const struct sockaddr *m, unsigned max)
{
	const unsigned char	*p;
	unsigned		 bits = 0, i, port;
	int			 fam;

	if (m == NULL || (p = sa_bytes(m, &fam, &port)) == NULL)
		return max;
	for (i = 0; i < max / 8 && p[i] == 0xff; i++)
		bits += 8;
	if (i < max / 8)
		for (unsigned char b = p[i]; b & 0x80; b <<= 1)
			bits++;
	return bits;
}

/* add_interfaces - every local address of family (AF_UNSPEC: both) */
static int
add_interfaces(struct sched_selfaddr *s, int family, unsigned port)
{
	struct ifaddrs		*ifa, *i;
	const unsigned char	*p;
	unsigned		 bits, dummy;
	int			 fam, r = 0;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL && r == 0; i = i->ifa_next) {
		if (i->ifa_addr == NULL ||
		    (p = sa_bytes(i->ifa_addr, &fam, &dummy)) == NULL ||
		    (family != AF_UNSPEC && fam != family))
			continue;
		bits = fam == AF_INET ? 32 : 128;
		if (i->ifa_flags & IFF_LOOPBACK)
			bits = mask_bits(i->ifa_netmask, bits);
		r = add(s, fam, p, bits, port);
	}
	freeifaddrs(ifa);
	return r;
}

/*
 * sched_selfaddr_new - the entries for the listen addresses ("ADDR:PORT",
 * "[ADDR]:PORT"); NULL with err when one does not parse or memory is out
 */
struct sched_selfaddr *
sched_selfaddr_new(char * const *listen, size_t n, char *err, size_t errlen)
{
	static const unsigned char any[16];
	struct sockaddr_storage	 ss;
	struct sched_selfaddr	*s;
	const unsigned char	*p;
	unsigned		 port;
	size_t			 i;
	int			 len, fam;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (evutil_parse_sockaddr_port(listen[i],
		    (struct sockaddr *)&ss, &len) == -1 ||
		    (p = sa_bytes((struct sockaddr *)&ss, &fam, &port)) ==
		    NULL) {
			snprintf(err, errlen, "listen: '%s' is not ADDR:PORT",
			    listen[i]);
			sched_selfaddr_free(s);
			return NULL;
		}
		if (add(s, fam, p, fam == AF_INET ? 32 : 128, port) == -1)
			goto nomem;
		if (memcmp(p, any, fam == AF_INET ? 4 : 16) != 0)
			continue;
		/* A wildcard: every local address; [::] takes IPv4 too. */
		if ((fam == AF_INET6 && add(s, AF_INET, any, 32, port) == -1) ||
		    add_interfaces(s, fam == AF_INET6 ? AF_UNSPEC : AF_INET,
		    port) == -1) {
			snprintf(err, errlen, "listen: the local addresses: %s",
			    strerror(errno));
			sched_selfaddr_free(s);
			return NULL;
		}
	}
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
	sched_selfaddr_free(s);
	return NULL;
}

/*
 * sched_selfaddr_match - would a connection to sa (address and port)
 * reach this relay? (arg is the struct sched_selfaddr: the shape of
 * deliver_conf's is_self hook.)
 */
int
sched_selfaddr_match(void *arg, const struct sockaddr *sa)
{
	const struct sched_selfaddr *s = arg;
	const unsigned char	*p;
	unsigned		 port;
	size_t			 i;
	int			 fam;

	if (s == NULL || (p = sa_bytes(sa, &fam, &port)) == NULL)
		return 0;
	for (i = 0; i < s->n; i++)
		if (s->e[i].family == fam && s->e[i].port == port &&
		    addr_prefix_eq(s->e[i].addr, p, s->e[i].bits))
			return 1;
	return 0;
}

/* sched_selfaddr_free - release the list */
void
sched_selfaddr_free(struct sched_selfaddr *s)
{
	if (s == NULL)
		return;
	free(s->e);
	free(s);
}
