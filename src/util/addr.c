/*
 * addr.c - a check on mail addresses that every way into the queue and
 * the scheduler share (smtpd, sendmail, the queue's recipients), the
 * check on a domain name in the operator's tables, and the parser of
 * address-literal next hops ("[192.0.2.1]:25").
 *
 * Allocates nothing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

/*
 * addr_name_ok - a domain name as the policy table, the bypass list and
 * the transport table take it: letters, digits, '-', '_' and dots, no
 * empty label, labels of at most 63 octets, 253 in all. 1 if it is one.
 */
int
addr_name_ok(const char *d)
{
	size_t	 label = 0, len = strlen(d);

	if (len == 0 || len > 253)
		return 0;
	for (; *d != '\0'; d++) {
		if (*d == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*d) && *d != '-' && *d != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/*
 * addr_domain_ok - can the domain of addr (after its last '@', or all of
 * addr without one) route mail? An address literal is "[...]" and ends
 * there (RFC 5321 4.1.3): "[192.0.2.1]:2525" is not an address, and
 * taking its port would let anyone who may relay make the relay connect
 * to any host and port. A port belongs in relayhost and the policy
 * table only. A domain name holds no '[', ']' or ':'. 1 if usable.
 */
int
addr_domain_ok(const char *addr)
{
	const char	*d = strrchr(addr, '@');
	size_t		 n;

	d = d != NULL ? d + 1 : addr;
	n = strlen(d);
	if (n == 0)
		return 0;
	if (d[0] == '[')
		return n > 2 && d[n - 1] == ']' && strchr(d + 1, '[') == NULL &&
		    strchr(d, ']') == d + n - 1;
	return strpbrk(d, "[]:") == NULL;
}

/*
 * addr_parse_literal - "[192.0.2.1]", "[2001:db8::1]", "[ipv6:...]",
 * optionally followed by ":PORT". Returns 0 and fills a, or -1.
 */
int
addr_parse_literal(const char *dest, struct net_addr *a, unsigned *port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;
	char			 addr[64];
	const char		*end;
	unsigned long		 p = 25;
	size_t			 n;

	if (dest[0] != '[' || (end = strchr(dest, ']')) == NULL)
		return -1;
	n = (size_t)(end - dest - 1);
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, dest + 1, n);
	addr[n] = '\0';
	if (end[1] == ':') {
		if (parse_uint(end + 2, 65535, &p) == -1 || p == 0)
			return -1;
	} else if (end[1] != '\0')
		return -1;
	memset(a, 0, sizeof(*a));
	if (strncasecmp(addr, "ipv6:", 5) == 0)
		memmove(addr, addr + 5, strlen(addr + 5) + 1);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		a->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		a->len = sizeof(*sin6);
	} else
		return -1;
	strlcpy_(a->text, addr, sizeof(a->text));
	*port = (unsigned)p;
	return 0;
}

/* addr_prefix_eq - do a and b (network order) agree on their first bits? */
int
addr_prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned	 bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rem == 0)
		return 1;
	return (a[bytes] >> (8 - rem)) == (b[bytes] >> (8 - rem));
}
