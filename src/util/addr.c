/*
 * addr.c - a check on mail addresses that every way into the queue and
 * the scheduler share (smtpd, sendmail, the queue's recipients).
 *
 * Allocates nothing.
 */
#include <string.h>

#include "util/util.h"

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
