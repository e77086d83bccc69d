/*
 * route.c - from a next-hop domain to MX hosts, addresses, TLSA records
 * and the TLS each host demands (RFC 7672 section 2).
 *
 * Order of work, as the RFC asks: the MX RRset (a failure defers the
 * whole destination, rule 3; none means the implicit MX, rule 4); for
 * each host, A and AAAA first (rule 9); then, only when those are
 * secure or start with a secure CNAME, TLSA at _PORT._tcp.BASE for each
 * base-domain candidate in turn (rules 10-11). A failed TLSA lookup
 * makes the host unusable (rule 12): it is never downgraded. Hosts keep
 * MX preference order; equal preferences are shuffled (rule 8).
 *
 * All lookups run concurrently on the resolver. The route_req owns the
 * route until the callback, which then owns it (route_free()). Lookups
 * find their host by index, never by a pointer that could go stale.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "log/log.h"
#include "route/route.h"
#include "util/util.h"

#define LOOKUPS_MAX	(ROUTE_MAX_HOSTS * 4 + 2)

enum lookup_kind { LK_MX, LK_A, LK_AAAA, LK_CNAME, LK_TLSA };

struct lookup {
	struct route_req	*req;
	enum lookup_kind	 kind;
	size_t			 host;
	uint64_t		 id;	/* 0 when not in flight */
};

struct route_req {
	struct event_base	*base;
	struct dmx_resolver	*res;
	struct route		*rt;
	route_cb		 cb;
	void			*arg;
	struct lookup		 lk[LOOKUPS_MAX];
	size_t			 nlk;
	int			 pending;
	struct event		*ev;	/* deferred completion */
	int			 finishing;	/* ev is added */
};

static void	lookup_done(void *, struct dmx_dns_result *);
static void	host_tlsa_next(struct route_req *, size_t);
static void	finish_cb(evutil_socket_t, short, void *);
static int	start_hosts(struct route_req *);

/* route_demand_str - the demand's name for logs and JSON */
const char *
route_demand_str(enum host_demand d)
{
	switch (d) {
	case DEMAND_NONE:	return "none";
	case DEMAND_MAY:	return "may";
	case DEMAND_ENCRYPT:	return "encrypt";
	case DEMAND_DANE:	return "dane";
	case DEMAND_VERIFY:	return "verify";
	case DEMAND_SECURE:	return "secure";
	case DEMAND_STS:	return "sts";
	case DEMAND_UNUSABLE:	return "unusable";
	}
	return "?";
}

/* route_ref - one more owner; each owner calls route_free() once */
struct route *
route_ref(struct route *rt)
{
	rt->refs++;
	return rt;
}

/* route_free - drop one owner; the last frees everything it holds */
void
route_free(struct route *rt)
{
	size_t	 i;

	if (rt == NULL)
		return;
	if (rt->refs > 0) {
		rt->refs--;
		return;
	}
	for (i = 0; i < rt->nhost; i++) {
		free(rt->hosts[i].addrs);
		dane_tlsa_set_free(&rt->hosts[i].tlsa);
	}
	free(rt->hosts);
	free(rt);
}

static int
is_failure(enum dmx_dns_status s)
{
	return s != DMX_DNS_SECURE && s != DMX_DNS_INSECURE;
}

/* lookup_fail - the class of a failed lookup: only a bogus answer is a
 * DNSSEC failure; no answer at all (SERVFAIL, timeout) is a DNS error */
static enum dmx_fail
lookup_fail(enum dmx_dns_status s)
{
	return s == DMX_DNS_BOGUS ? DMX_FAIL_DNSSEC_INVALID : DMX_FAIL_DNS;
}

/* lookup_why - why a lookup failed, for logs */
static const char *
lookup_why(const struct dmx_dns_result *res)
{
	if (res->status == DMX_DNS_BOGUS && res->why_bogus != NULL)
		return res->why_bogus;
	if (res->error != NULL)
		return res->error;
	return dmx_dns_status_str(res->status);
}

/* no_answer - no name server answered (not an answer that failed) */
static int
no_answer(const struct dmx_dns_result *res)
{
	return res->status == DMX_DNS_TIMEOUT ||
	    (res->status == DMX_DNS_SERVFAIL && res->rcode == DMX_RCODE_SERVFAIL);
}

#define NO_ANSWER_HINT	" (no usable answer from any name server: is outbound DNS, " \
	"UDP and TCP port 53, open? A resolver can be named with --forwarder " \
	"or the forwarder setting)"

/* start - begin a lookup for host h; 0, or -1 if it could not start */
static int
start(struct route_req *req, enum lookup_kind kind, size_t h,
    const char *name, uint16_t type)
{
	struct lookup	*lk;

	if (req->nlk == LOOKUPS_MAX) {
		log_warnx("route: %s: lookup table full", req->rt->domain);
		return -1;
	}
	lk = &req->lk[req->nlk++];
	lk->req = req;
	lk->kind = kind;
	lk->host = h;
	if ((lk->id = dmx_dns_lookup(req->res, name, type, lookup_done,
	    lk)) == 0)
		return -1;
	req->pending++;
	return 0;
}

/* finish - everything is known: hand the route over (deferred) */
static void
finish_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct route_req	*req = arg;
	struct route		*rt = req->rt;
	route_cb		 cb = req->cb;
	void			*cbarg = req->arg;

	(void)fd;
	(void)ev;
	event_free(req->ev);
	free(req);
	cb(cbarg, rt);
}

/* finish - schedule the hand-over (its event was made with the request) */
static void
finish(struct route_req *req)
{
	struct timeval tv = { 0, 0 };

	req->finishing = 1;
	evtimer_add(req->ev, &tv);
}

static void
route_fail(struct route_req *req, int permanent, enum dmx_fail rt,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
route_fail(struct route_req *req, int permanent, enum dmx_fail rtype,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(req->rt->why, sizeof(req->rt->why), fmt, ap);
	va_end(ap);
	req->rt->failed = 1;
	req->rt->permanent = permanent;
	req->rt->rt = rtype;
}

static void
host_set(struct route_host *h, enum host_demand d, enum dmx_fail rt,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* host_set - decide what host h demands, and why */
static void
host_set(struct route_host *h, enum host_demand d, enum dmx_fail rt,
    const char *fmt, ...)
{
	va_list	 ap;

	h->demand = d;
	h->rt = rt;
	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
}

/* level_demand - what a host gets when the level does no DANE */
static enum host_demand
level_demand(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_NONE:	return DEMAND_NONE;
	case TLS_LEVEL_ENCRYPT:	return DEMAND_ENCRYPT;
	case TLS_LEVEL_VERIFY:	return DEMAND_VERIFY;
	case TLS_LEVEL_SECURE:	return DEMAND_SECURE;
	default:		return DEMAND_MAY;
	}
}

static void
host_no_dane(struct route_req *req, struct route_host *h, const char *why,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * host_no_dane - DANE does not apply to host h: the level decides. why
 * is the host's reason; fmt says it as the log line "DANE: ..." does
 * (posttls-finger's words), which delivery prints as it is.
 */
static void
host_no_dane(struct route_req *req, struct route_host *h, const char *why,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(h->nodane, sizeof(h->nodane), fmt, ap);
	va_end(ap);
	if (req->rt->level == TLS_LEVEL_DANE_ONLY)
		host_set(h, DEMAND_UNUSABLE, DMX_FAIL_DANE_REQUIRED,
		    "%s, but the policy for %s is dane-only", why,
		    req->rt->domain);
	else
		host_set(h, DEMAND_MAY, DMX_FAIL_NONE, "%s", why);
}

/* host_addrs_done - A and AAAA are in: decide whether to look up TLSA */
static void
host_addrs_done(struct route_req *req, size_t hi)
{
	struct route		*rt = req->rt;
	struct route_host	*h = &rt->hosts[hi];
	enum dmx_dns_status	 bad;

	if (is_failure(h->a_status) || is_failure(h->aaaa_status)) {
		bad = is_failure(h->a_status) ? h->a_status : h->aaaa_status;
		h->addr_status = bad;
		host_set(h, DEMAND_UNUSABLE, lookup_fail(bad),
		    "address lookup for %s failed: %s", h->name,
		    dmx_dns_status_str(bad));
		return;
	}
	h->addr_secure = h->a_status == DMX_DNS_SECURE &&
	    h->aaaa_status == DMX_DNS_SECURE;
	h->addr_status = h->addr_secure ? DMX_DNS_SECURE : DMX_DNS_INSECURE;
	if (h->naddr == 0) {
		host_set(h, DEMAND_UNUSABLE, DMX_FAIL_NONE,
		    "no address records for %s", h->name);
		return;
	}
	if (rt->level != TLS_LEVEL_DANE && rt->level != TLS_LEVEL_DANE_ONLY) {
		host_set(h, level_demand(rt->level), DMX_FAIL_NONE,
		    "policy level %s", policy_level_str(rt->level));
		return;
	}
	if (!rt->mx_secure) {
		/*
		 * Rule 7: an insecure MX RRset means DANE does not apply to
		 * the destination. Like Postfix, danemx then does not use the
		 * hosts' TLSA records at all: a host an attacker could have
		 * named proves nothing about the domain.
		 */
		host_no_dane(req, h, "insecure MX RRset", "insecure name %s "
		    "(falling back to optional TLS)", rt->domain);
		return;
	}
	if (h->addr_secure) {
		/* Rule 10: the expanded name first, then the original. */
		if (h->cname && !dns_name_equal(h->canonical, h->name))
			strlcpy_(h->bases[h->nbases++], h->canonical,
			    DMX_NAME_MAX);
		strlcpy_(h->bases[h->nbases++], h->name, DMX_NAME_MAX);
		host_tlsa_next(req, hi);
		return;
	}
	if (h->cname) {
		/* Insecure at the end; is the first CNAME secure? */
		if (start(req, LK_CNAME, hi, h->name, DMX_T_CNAME) == -1)
			host_set(h, DEMAND_UNUSABLE, DMX_FAIL_NONE,
			    "cannot look up %s CNAME", h->name);
		return;
	}
	host_no_dane(req, h, "insecure address records", "insecure name %s "
	    "(falling back to optional TLS)", h->name);
}

/* host_tlsa_next - look up TLSA for the next base-domain candidate */
static void
host_tlsa_next(struct route_req *req, size_t hi)
{
	struct route_host	*h = &req->rt->hosts[hi];
	char			 qname[DMX_NAME_MAX + 16];

	if (h->next_base >= h->nbases) {
		if (h->tlsa_looked_up && h->tlsa_status == DMX_DNS_INSECURE)
			host_no_dane(req, h, "no TLSA records", "insecure TLSA "
			    "RRset at _%u._tcp.%s (ignored; falling back to "
			    "optional TLS)", req->rt->port, h->tlsa_base);
		else
			host_no_dane(req, h, "no TLSA records", "no TLSA "
			    "records for %s (falling back to optional TLS)",
			    h->name);
		return;
	}
	snprintf(qname, sizeof(qname), "_%u._tcp.%s", req->rt->port,
	    h->bases[h->next_base]);
	h->tlsa_looked_up = 1;
	if (start(req, LK_TLSA, hi, qname, DMX_T_TLSA) == -1)
		host_set(h, DEMAND_UNUSABLE, DMX_FAIL_NONE,
		    "cannot look up %s TLSA", qname);
}

/* host_tlsa - a TLSA answer for host hi's current candidate */
static void
host_tlsa(struct route_req *req, size_t hi, struct dmx_dns_result *res)
{
	struct route		*rt = req->rt;
	struct route_host	*h = &rt->hosts[hi];
	const char		*base = h->bases[h->next_base];
	enum dane_effect	 eff;
	char			 err[256];

	h->tlsa_status = res->status;
	strlcpy_(h->tlsa_base, base, sizeof(h->tlsa_base));
	if (is_failure(res->status)) {
		/* Rule 12: never downgrade; the bypass list softens it. */
		if (rt->bypass) {
			h->bypassed = 1;
			host_set(h, DEMAND_ENCRYPT, lookup_fail(res->status),
			    "TLSA lookup for _%u._tcp.%s failed: %s (DANE "
			    "bypass applies: TLS without authentication)",
			    rt->port, base, res->why_bogus ? res->why_bogus :
			    dmx_dns_status_str(res->status));
		} else
			host_set(h, DEMAND_UNUSABLE, lookup_fail(res->status),
			    "TLSA lookup for _%u._tcp.%s failed: %s", rt->port,
			    base, res->status == DMX_DNS_BOGUS && res->why_bogus ?
			    res->why_bogus : dmx_dns_status_str(res->status));
		return;
	}
	if (res->status == DMX_DNS_INSECURE || res->nrrs == 0) {
		/* Rule 13: insecure TLSA is no TLSA. Next candidate. */
		h->tlsa_nxdomain = res->nxdomain;
		h->next_base++;
		host_tlsa_next(req, hi);
		return;
	}
	if (dane_tlsa_set_from_dns(&h->tlsa, res, err, sizeof(err)) == -1) {
		host_set(h, DEMAND_UNUSABLE, DMX_FAIL_TLSA_INVALID,
		    "TLSA records for %s: %s", base, err);
		return;
	}
	dane_tlsa_set_classify(&h->tlsa, DANE_PROFILE_SMTP);
	eff = dane_tlsa_set_effect(&h->tlsa);
	if (eff == DANE_EFFECT_AUTHENTICATE) {
		host_set(h, DEMAND_DANE, DMX_FAIL_NONE, "%zu usable TLSA "
		    "record%s at _%u._tcp.%s", h->tlsa.nusable,
		    h->tlsa.nusable == 1 ? "" : "s", rt->port, base);
		return;
	}
	/* Rule 17: secure but all unusable: TLS, not authenticated. */
	if (rt->level == TLS_LEVEL_DANE_ONLY && !rt->bypass)
		host_set(h, DEMAND_UNUSABLE, DMX_FAIL_TLSA_INVALID,
		    "every TLSA record at _%u._tcp.%s is unusable, and the "
		    "policy is dane-only", rt->port, base);
	else
		host_set(h, DEMAND_ENCRYPT, DMX_FAIL_TLSA_INVALID,
		    "every TLSA record at _%u._tcp.%s is unusable: TLS is "
		    "mandatory but not authenticated", rt->port, base);
}

static void
add_addrs(struct route_host *h, const struct dmx_dns_result *res,
    unsigned port)
{
	struct net_addr	*a;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	size_t			 i;

	for (i = 0; i < res->nrrs && h->naddr < ROUTE_MAX_ADDRS; i++) {
		a = &h->addrs[h->naddr++];
		memset(a, 0, sizeof(*a));
		if (res->qtype == DMX_T_A) {
			sin = (struct sockaddr_in *)&a->ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			memcpy(&sin->sin_addr, res->rrs[i].u.addr, 4);
			a->len = sizeof(*sin);
		} else {
			sin6 = (struct sockaddr_in6 *)&a->ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)port);
			memcpy(&sin6->sin6_addr, res->rrs[i].u.addr, 16);
			a->len = sizeof(*sin6);
		}
		strlcpy_(a->text, res->rrs[i].text, sizeof(a->text));
	}
}

static int
cmp_pref(const void *a, const void *b)
{
	const struct route_host *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* hosts_from_mx - the host list, preference order, equal ones shuffled */
static int
hosts_from_mx(struct route *rt, const struct dmx_dns_result *res)
{
	struct route_host	 tmp;
	size_t			 i, j, k, n = res->nrrs;

	if (n == 0) {
		n = 1;
		rt->implicit_mx = 1;
	}
	if ((rt->hosts = calloc(n, sizeof(*rt->hosts))) == NULL)
		return -1;
	if (rt->implicit_mx) {
		strlcpy_(rt->hosts[0].name, rt->domain, DMX_NAME_MAX);
		rt->nhost = 1;
	} else {
		for (i = 0; i < n; i++) {
			strlcpy_(rt->hosts[i].name, res->rrs[i].u.mx.host,
			    DMX_NAME_MAX);
			rt->hosts[i].pref = res->rrs[i].u.mx.pref;
		}
		rt->nhost = n;
		qsort(rt->hosts, n, sizeof(*rt->hosts), cmp_pref);
		/* Fisher-Yates within each run of equal preference. */
		for (i = 0; i < n; i = j) {
			for (j = i + 1; j < n &&
			    rt->hosts[j].pref == rt->hosts[i].pref; j++)
				;
			for (k = j - 1; k > i; k--) {
				size_t r = i + arc4random_uniform(
				    (uint32_t)(k - i + 1));
				tmp = rt->hosts[k];
				rt->hosts[k] = rt->hosts[r];
				rt->hosts[r] = tmp;
			}
		}
		if (rt->nhost > ROUTE_MAX_HOSTS)
			rt->nhost = ROUTE_MAX_HOSTS;
	}
	for (i = 0; i < rt->nhost; i++) {
		dane_tlsa_set_init(&rt->hosts[i].tlsa);
		if ((rt->hosts[i].addrs = calloc(ROUTE_MAX_ADDRS,
		    sizeof(struct net_addr))) == NULL)
			return -1;
	}
	return 0;
}

/* start_hosts - the address lookups of every host (rule 9: addresses
 * first, both families together); -1 (route failed) if they cannot */
static int
start_hosts(struct route_req *req)
{
	struct route	*rt = req->rt;
	size_t		 i;

	for (i = 0; i < rt->nhost; i++) {
		rt->hosts[i].pending = 2;
		if (start(req, LK_AAAA, i, rt->hosts[i].name, DMX_T_AAAA) == -1 ||
		    start(req, LK_A, i, rt->hosts[i].name, DMX_T_A) == -1) {
			/* Out of resources: cancel what started, give up. */
			for (i = 0; i < req->nlk; i++)
				if (req->lk[i].id != 0 && req->lk[i].kind != LK_MX) {
					dmx_dns_cancel(req->res, req->lk[i].id);
					req->lk[i].id = 0;
					req->pending--;
				}
			route_fail(req, 0, DMX_FAIL_NONE, "cannot start the "
			    "address lookups for %s", rt->domain);
			return -1;
		}
	}
	return 0;
}

/* on_mx - the MX answer: decide the host list, start address lookups */
static void
on_mx(struct route_req *req, struct dmx_dns_result *res)
{
	struct route	*rt = req->rt;

	rt->mx_status = res->status;
	if (is_failure(res->status)) {
		/* Rule 3: defer the destination; no fallback to A. */
		route_fail(req, 0, lookup_fail(res->status),
		    "MX lookup for %s failed: %s%s", rt->domain,
		    lookup_why(res), no_answer(res) ? NO_ANSWER_HINT : "");
		return;
	}
	rt->mx_secure = res->status == DMX_DNS_SECURE;
	rt->mx_nxdomain = res->nxdomain;
	if (res->ncname > 0 && res->canonical_name != NULL)
		strlcpy_(rt->domain_canonical, res->canonical_name,
		    sizeof(rt->domain_canonical));
	if (res->nrrs == 1 && res->rrs[0].u.mx.host[0] == '.' &&
	    res->rrs[0].u.mx.host[1] == '\0') {
		rt->null_mx = 1;
		route_fail(req, 1, DMX_FAIL_NONE, "%s does not accept mail "
		    "(null MX, RFC 7505)", rt->domain);
		return;
	}
	if (res->nxdomain) {
		route_fail(req, 1, DMX_FAIL_NONE, "domain %s does not exist",
		    rt->domain);
		return;
	}
	if (hosts_from_mx(rt, res) == -1) {
		route_fail(req, 0, DMX_FAIL_NONE, "out of memory");
		return;
	}
	start_hosts(req);
}

/* lookup_done - every answer comes here and finds its host by index */
static void
lookup_done(void *arg, struct dmx_dns_result *res)
{
	struct lookup		*lk = arg;
	struct route_req	*req = lk->req;
	struct route_host	*h = NULL;

	lk->id = 0;
	req->pending--;
	if (lk->kind != LK_MX)
		h = &req->rt->hosts[lk->host];
	/* The validator's reason, for TLS reports. */
	if (res->status == DMX_DNS_BOGUS && res->why_bogus != NULL)
		strlcpy_(h ? h->bogus : req->rt->bogus, res->why_bogus,
		    sizeof(req->rt->bogus));
	switch (lk->kind) {
	case LK_MX:
		on_mx(req, res);
		break;
	case LK_A:
	case LK_AAAA:
		if (lk->kind == LK_A)
			h->a_status = res->status;
		else
			h->aaaa_status = res->status;
		if (!is_failure(res->status)) {
			add_addrs(h, res, req->rt->port);
			if (res->ncname > 0 && !h->cname) {
				h->cname = 1;
				h->cname_secure = res->cname_secure;
				strlcpy_(h->canonical, res->canonical_name,
				    sizeof(h->canonical));
			}
		}
		if (--h->pending == 0)
			host_addrs_done(req, lk->host);
		break;
	case LK_CNAME:
		if (is_failure(res->status)) {
			/* Rules 6 and 12: a failed link is a failed lookup. */
			host_set(h, DEMAND_UNUSABLE, lookup_fail(res->status),
			    "CNAME lookup for %s failed: %s", h->name,
			    dmx_dns_status_str(res->status));
			break;
		}
		h->first_cname_secure = res->status == DMX_DNS_SECURE &&
		    res->nrrs > 0;
		if (h->first_cname_secure) {
			strlcpy_(h->bases[h->nbases++], h->name, DMX_NAME_MAX);
			host_tlsa_next(req, lk->host);
		} else
			host_no_dane(req, h, "insecure CNAME chain to the "
			    "address records", "insecure name %s (falling "
			    "back to optional TLS)", h->name);
		break;
	case LK_TLSA:
		host_tlsa(req, lk->host, res);
		break;
	}
	dmx_dns_result_free(res);
	if (req->pending == 0)
		finish(req);
}

/* route_literal - "[192.0.2.1]:25": one address, no DANE (rule 14) */
static void
route_literal(struct route_req *req, const char *dest)
{
	struct route		*rt = req->rt;
	struct route_host	*h = &rt->hosts[0];

	rt->literal = 1;
	rt->nhost = 1;
	if (addr_parse_literal(dest, &h->addrs[0], &rt->port) == -1) {
		route_fail(req, 1, DMX_FAIL_NONE, "'%s' is not an address "
		    "literal like [192.0.2.1]:25", dest);
		return;
	}
	h->naddr = 1;
	strlcpy_(h->name, h->addrs[0].text, sizeof(h->name));
	h->addr_status = DMX_DNS_INSECURE;
	if (rt->level == TLS_LEVEL_DANE || rt->level == TLS_LEVEL_DANE_ONLY)
		host_no_dane(req, h, "address literal: DANE does not apply",
		    "address literal %s (falling back to optional TLS)",
		    rt->domain);
	else
		host_set(h, level_demand(rt->level), DMX_FAIL_NONE,
		    "policy level %s", policy_level_str(rt->level));
}

/*
 * route_host_only - "[mx.example.org]:25": that host, no MX lookup (as
 * Postfix's brackets). The name comes from the configuration, not from
 * DNS, so it is as trusted as a secure MX RRset: its addresses and TLSA
 * records decide (rules 9-13). 0, or -1 when it is no such next hop.
 */
static int
route_host_only(struct route_req *req, const char *dest)
{
	struct route	*rt = req->rt;
	struct net_addr	 a;
	const char	*end = strchr(dest, ']');
	char		 name[DMX_NAME_MAX];
	unsigned long	 p = rt->port;
	unsigned	 lport;
	size_t		 n;

	if (addr_parse_literal(dest, &a, &lport) == 0 || end == NULL ||
	    (n = (size_t)(end - dest - 1)) == 0 || n >= sizeof(name))
		return -1;
	if (end[1] == ':') {
		if (parse_uint(end + 2, 65535, &p) == -1 || p == 0)
			return -1;
	} else if (end[1] != '\0')
		return -1;
	memcpy(name, dest + 1, n);
	name[n] = '\0';
	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	if (strpbrk(name, ":[]") != NULL)
		return -1;
	str_lower(name);
	strlcpy_(rt->domain, name, sizeof(rt->domain));
	rt->port = (unsigned)p;
	rt->host_only = 1;
	rt->mx_status = DMX_DNS_SECURE;
	rt->mx_secure = 1;
	rt->nhost = 1;
	strlcpy_(rt->hosts[0].name, rt->domain, DMX_NAME_MAX);
	return 0;
}

/*
 * route_resolve - resolve dest for delivery at level: a domain
 * ("example.org"), an address literal ("[192.0.2.1]:25") or a host
 * without MX lookup ("[mx.example.org]:25"). cb gets the route from the
 * event loop later; NULL when nothing could be started.
 */
struct route_req *
route_resolve(struct dmx_resolver *res, const char *dest, unsigned port,
    enum tls_level level, int bypass, const char *bypass_comment,
    route_cb cb, void *arg)
{
	struct route_req	*req;
	struct route		*rt;
	size_t			 len;

	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (rt = calloc(1, sizeof(*rt))) == NULL) {
		free(req);
		return NULL;
	}
	req->base = dmx_resolver_base(res);
	req->res = res;
	req->rt = rt;
	req->cb = cb;
	req->arg = arg;
	rt->port = port;
	rt->level = level;
	rt->bypass = bypass;
	if (bypass_comment != NULL)
		strlcpy_(rt->bypass_comment, bypass_comment,
		    sizeof(rt->bypass_comment));
	strlcpy_(rt->domain, dest, sizeof(rt->domain));
	len = strlen(rt->domain);
	if (len > 1 && rt->domain[len - 1] == '.')
		rt->domain[len - 1] = '\0';
	str_lower(rt->domain);
	if ((req->ev = evtimer_new(req->base, finish_cb, req)) == NULL)
		goto fail;
	if (dest[0] == '[') {
		if ((rt->hosts = calloc(1, sizeof(*rt->hosts))) == NULL ||
		    (rt->hosts[0].addrs = calloc(ROUTE_MAX_ADDRS,
		    sizeof(struct net_addr))) == NULL)
			goto fail;
		dane_tlsa_set_init(&rt->hosts[0].tlsa);
		if (route_host_only(req, dest) == 0) {
			if (start_hosts(req) == -1)
				finish(req);
			return req;
		}
		route_literal(req, dest);
		finish(req);
		return req;
	}
	if (start(req, LK_MX, 0, rt->domain, DMX_T_MX) == -1)
		goto fail;
	return req;
fail:
	if (req->ev != NULL)
		event_free(req->ev);
	route_free(rt);
	free(req);
	return NULL;
}

/* route_cancel - stop resolving; the callback will not run */
void
route_cancel(struct route_req *req)
{
	size_t	 i;

	if (!req->finishing)
		for (i = 0; i < req->nlk; i++)
			if (req->lk[i].id != 0)
				dmx_dns_cancel(req->res, req->lk[i].id);
	event_free(req->ev);
	route_free(req->rt);
	free(req);
}
