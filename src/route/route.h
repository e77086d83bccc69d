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
#include "util/util.h"

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

/*
 * The transport table (transport_file, route_transport.c), as Postfix's
 * transport(5): a recipient domain, ".domain" for its subdomains or "*"
 * maps to a next hop. The table owns its entries and their strings.
 */
enum transport_action {
	TRANSPORT_SMTP,		/* deliver to dest (and port) */
	TRANSPORT_DISCARD,	/* accept and drop, logged */
	TRANSPORT_ERROR		/* bounce with enhanced and text */
};

struct transport_entry {
	char			*pattern;	/* "example.org", ".example.org",
						   "*" (lowercase) */
	enum transport_action	 action;
	char			*nexthop;	/* as logged: "[mx.example.org]:2525",
						   "example.net:2525", "discard",
						   "error:5.1.1 text" */
	char			*dest;		/* SMTP: as route_resolve() takes
						   it: "[mx.example.org]:2525",
						   "[192.0.2.1]", "example.net" */
	unsigned		 port;		/* SMTP: 25, or host:port's */
	char			 enhanced[16];	/* ERROR: "5.1.1" */
	char			*text;		/* ERROR, DISCARD: the text, or "" */
	unsigned		 line;
};

struct transport_table {
	struct transport_entry	*e;
	size_t			 n;
	struct htab		 idx;		/* pattern -> entry */
	const struct transport_entry *dflt;	/* "*", or NULL */
};

#define TRANSPORT_LINE_MAX	4096
#define TRANSPORT_ENTRIES_MAX	100000
#define TRANSPORT_TEXT_MAX	400

/* route_transport.c */
int	 route_transport_parse(struct transport_table *, const char *text,
	    size_t len, char *err, size_t errlen);
int	 route_transport_load(struct transport_table *, const char *path,
	    char *err, size_t errlen);
void	 route_transport_free(struct transport_table *);
const struct transport_entry *route_transport_match(
	    const struct transport_table *, const char *domain);

#endif /* DANEMX_ROUTE_H */
