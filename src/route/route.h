/*
 * route.h - the route to a destination (route.c): from a next-hop domain
 * to MX hosts, their addresses, TLSA records and the TLS each host
 * demands, as RFC 7672 section 2 says (rules 3-14, 17 and 28 of
 * docs/rfc7672-rules.md).
 *
 * route_resolve() looks everything up on the validating resolver and
 * hands the route to its callback from the event loop. A struct route
 * owns everything in it; the callback owns the route and frees it with
 * route_free() (route_ref() adds an owner).
 */
#ifndef DANEMX_ROUTE_H
#define DANEMX_ROUTE_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "danemx.h"
#include "dane/dane.h"
#include "policy/policy.h"

/* What one MX host demands of the connection. */
enum host_demand {
	DEMAND_NONE,		/* cleartext: policy says no TLS */
	DEMAND_MAY,		/* STARTTLS if offered, cleartext allowed */
	DEMAND_ENCRYPT,		/* TLS mandatory, not authenticated */
	DEMAND_DANE,		/* TLS mandatory, authenticated by TLSA */
	DEMAND_VERIFY,		/* TLS mandatory, PKIX: the MX host's name */
	DEMAND_SECURE,		/* TLS mandatory, PKIX: the next hop's names */
	DEMAND_STS,		/* TLS mandatory, PKIX under an MTA-STS
				   enforce policy (set by the delivery) */
	DEMAND_UNUSABLE		/* do not connect: why says why */
};

#define ROUTE_MAX_HOSTS		10	/* MX hosts considered */
#define ROUTE_MAX_ADDRS		10	/* addresses per host */

struct route_host {
	char			 name[DMX_NAME_MAX];	/* the MX exchange */
	unsigned		 pref;
	/* Addresses (rule 9: looked up before TLSA). */
	enum dmx_dns_status	 addr_status;	/* worst of A and AAAA */
	int			 addr_secure;
	char			 canonical[DMX_NAME_MAX];
	int			 cname;		/* a CNAME chain was followed */
	int			 cname_secure;	/* ... secure end to end */
	int			 first_cname_secure;
	struct net_addr	*addrs;
	size_t			 naddr;
	/* TLSA (rules 10-13). */
	char			 bases[2][DMX_NAME_MAX]; /* candidates */
	size_t			 nbases;
	char			 tlsa_base[DMX_NAME_MAX]; /* the one used */
	int			 tlsa_looked_up;
	enum dmx_dns_status	 tlsa_status;
	int			 tlsa_nxdomain;
	struct dane_tlsa_set	 tlsa;
	/* The decision. */
	enum host_demand	 demand;
	int			 bypassed;	/* demand softened by the bypass list */
	int			 relaxed;	/* ... by TLS-Required: No (set by
						   the delivery: deliver_tlsreq.c) */
	enum dmx_fail	 rt;
	char			 why[1024];	/* for logs */
	char			 bogus[256];	/* why_bogus of a bogus answer
						   (address, CNAME, TLSA) */
	char			 nodane[600];	/* why DANE does not apply, as
						   "DANE: ..." says it */
	/* in flight */
	int			 pending;
	size_t			 next_base;
	enum dmx_dns_status	 a_status, aaaa_status;
};

struct route {
	unsigned		 refs;		/* extra owners (route_ref()) */
	char			 domain[DMX_NAME_MAX];	/* next hop */
	char			 domain_canonical[DMX_NAME_MAX]; /* MX CNAME */
	unsigned		 port;
	int			 literal;	/* [address] destination */
	int			 host_only;	/* [host] destination: no MX */
	enum tls_level		 level;
	int			 bypass;	/* on the DANE bypass list */
	char			 bypass_comment[256];
	enum dmx_dns_status	 mx_status;
	int			 mx_secure;
	int			 mx_nxdomain;
	int			 implicit_mx;	/* no MX: the domain itself */
	int			 null_mx;	/* RFC 7505 "0 ." */
	struct route_host	*hosts;
	size_t			 nhost;
	/* Outcome of resolution: ok, or failed with a reason. */
	int			 failed;
	int			 permanent;	/* the failure will not heal */
	enum dmx_fail	 rt;
	char			 why[512];
	char			 bogus[256];	/* why_bogus of a bogus MX answer */
};

struct dmx_resolver;
typedef void (*route_cb)(void *arg, struct route *);

/* route.c */
struct route_req;
struct route_req *route_resolve(struct dmx_resolver *, const char *domain,
	    unsigned port, enum tls_level, int bypass, const char *bypass_comment,
	    route_cb, void *arg);
void	 route_cancel(struct route_req *);
void	 route_free(struct route *);
struct route *route_ref(struct route *);
const char *route_demand_str(enum host_demand);

#endif /* DANEMX_ROUTE_H */
