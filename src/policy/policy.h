/*
 * policy.h - the route to a destination and the TLS it demands.
 *
 * policy_table.c reads the per-destination TLS policy file and the DANE
 * bypass list; a struct policy_table owns its entries (policy_table_free).
 *
 * route.c resolves a next-hop domain into MX hosts, their addresses and
 * TLSA records, as RFC 7672 section 2 says, and decides for each host
 * the TLS it demands. A struct route owns everything in it; the callback
 * owns the route and frees it with route_free().
 */
#ifndef DANEMX_POLICY_H
#define DANEMX_POLICY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "danemx.h"
#include "dane/dane.h"

/* Policy levels of the table (Postfix's names). */
enum tls_level {
	TLS_LEVEL_NONE,		/* cleartext only */
	TLS_LEVEL_MAY,		/* opportunistic TLS, no DANE */
	TLS_LEVEL_ENCRYPT,	/* mandatory TLS, no authentication */
	TLS_LEVEL_DANE,		/* opportunistic DANE (the default) */
	TLS_LEVEL_DANE_ONLY,	/* mandatory DANE */
	TLS_LEVEL_VERIFY	/* mandatory TLS, PKIX with the system CAs */
};

struct policy_entry {
	char		*pattern;	/* "example.org" or ".example.org" */
	enum tls_level	 level;
	time_t		 expires;	/* bypass only; 0 = never */
	char		*comment;	/* bypass only */
	unsigned	 line;
};

struct policy_table {
	struct policy_entry *e;
	size_t		 n;
};

#define POLICY_LINE_MAX		4096
#define POLICY_ENTRIES_MAX	100000

/* policy_table.c */
int	 policy_table_parse(struct policy_table *, const char *text,
	    size_t len, int bypass, char *err, size_t errlen);
int	 policy_table_load(struct policy_table *, const char *path,
	    int bypass, char *err, size_t errlen);
void	 policy_table_free(struct policy_table *);
const struct policy_entry *policy_table_match(const struct policy_table *,
	    const char *domain, time_t now);
const char *tls_level_str(enum tls_level);
int	 tls_level_from_str(const char *, enum tls_level *);

/* What one MX host demands of the connection. */
enum host_demand {
	DEMAND_NONE,		/* cleartext: policy says no TLS */
	DEMAND_MAY,		/* STARTTLS if offered, cleartext allowed */
	DEMAND_ENCRYPT,		/* TLS mandatory, not authenticated */
	DEMAND_DANE,		/* TLS mandatory, authenticated by TLSA */
	DEMAND_VERIFY,		/* TLS mandatory, authenticated by PKIX */
	DEMAND_UNUSABLE		/* do not connect: why says why */
};

#define ROUTE_MAX_HOSTS		10	/* MX hosts considered */
#define ROUTE_MAX_ADDRS		10	/* addresses per host */

struct route_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 text[64];	/* "192.0.2.1" / "2001:db8::1" */
};

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
	struct route_addr	*addrs;
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
	enum dmx_fail	 rt;
	char			 why[512];	/* for logs */
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
const char *host_demand_str(enum host_demand);
int	 route_parse_literal(const char *dest, struct route_addr *,
	    unsigned *port);

#endif /* DANEMX_POLICY_H */
