/*
 * test_route.c - the RFC 7672 route (src/route/route.c) against tables
 * of canned DNS answers, at the seam where it calls the resolver
 * (dns_resolver_canned_new), without NSD: which hosts, in which order,
 * what each demands and why, which lookups were made. The rule numbers
 * are those of docs/rfc7672-rules.md.
 *
 * Each case is a list of answers; a lookup with no answer in the table
 * fails the case (and is answered SERVFAIL), so every lookup the route
 * makes is one the case expects. The results are freed by the route.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "route/route.h"
#include "util/util.h"
#include "t.h"

#define NO_ANSWER	((enum dmx_dns_status)-1)	/* the lookup times out */

struct ans {
	const char		*name;
	uint16_t		 type;
	enum dmx_dns_status	 st;
	int			 nxdomain;
	const char		*canonical;	/* a CNAME chain ends here */
	const char		*rr[4];		/* presentation rdata */
};

struct ccase {
	const char		*name;
	const struct ans	*ans;
	char			 asked[32][300];	/* "name TYPE" */
	size_t			 nasked;
};

#define H32 "0123456789abcdef0123456789abcdef"
#define H64 H32 H32

static void
rr_fill(struct dmx_dns_rr *rr, const char *owner, uint16_t type,
    const char *text)
{
	unsigned	 u, s, m, pref;
	char		 host[DMX_NAME_MAX], hex[1024];
	long		 n;

	memset(rr, 0, sizeof(*rr));
	strlcpy_(rr->owner, owner, sizeof(rr->owner));
	rr->type = type;
	rr->ttl = 300;
	rr->text = strdup(text);
	switch (type) {
	case DMX_T_MX:
		if (sscanf(text, "%u %254s", &pref, host) != 2)
			abort();
		rr->u.mx.pref = (uint16_t)pref;
		strlcpy_(rr->u.mx.host, host, sizeof(rr->u.mx.host));
		break;
	case DMX_T_A:
		inet_pton(AF_INET, text, rr->u.addr);
		break;
	case DMX_T_AAAA:
		inet_pton(AF_INET6, text, rr->u.addr);
		break;
	case DMX_T_CNAME:
		strlcpy_(rr->u.target, text, sizeof(rr->u.target));
		break;
	case DMX_T_TLSA:
		if (sscanf(text, "%u %u %u %1023s", &u, &s, &m, hex) != 4)
			abort();
		rr->u.tlsa.usage = (uint8_t)u;
		rr->u.tlsa.selector = (uint8_t)s;
		rr->u.tlsa.mtype = (uint8_t)m;
		rr->u.tlsa.data = malloc(512);
		if ((n = hex_decode(rr->u.tlsa.data, 512, hex)) < 0)
			abort();
		rr->u.tlsa.len = (size_t)n;
		break;
	}
}

/* answer - the canned resolver's function: look the question up */
static struct dmx_dns_result *
answer(void *arg, const char *name, uint16_t type)
{
	struct ccase		*c = arg;
	const struct ans	*a;
	struct dmx_dns_result	*res;
	size_t			 n;

	if (c->nasked < 32)
		snprintf(c->asked[c->nasked++], sizeof(c->asked[0]), "%s %s",
		    name, dmx_type_str(type));
	for (a = c->ans; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0 && a->type == type)
			break;
	if (a->name != NULL && a->st == NO_ANSWER)
		return NULL;
	res = calloc(1, sizeof(*res));
	res->qname = strdup(name);
	res->qtype = type;
	if (a->name == NULL) {
		T_CHECK(0, "%s: unexpected lookup %s %s", c->name, name,
		    dmx_type_str(type));
		res->status = DMX_DNS_SERVFAIL;
		res->rcode = DMX_RCODE_SERVFAIL;
		res->error = strdup("no canned answer");
		res->canonical_name = strdup(name);
		return res;
	}
	res->status = a->st;
	res->nxdomain = a->nxdomain;
	res->canonical_name = strdup(a->canonical ? a->canonical : name);
	switch (a->st) {
	case DMX_DNS_BOGUS:
		res->rcode = DMX_RCODE_SERVFAIL;
		res->why_bogus = strdup("signature expired");
		return res;
	case DMX_DNS_SERVFAIL:
		res->rcode = DMX_RCODE_SERVFAIL;
		res->error = strdup("the lookup failed with rcode SERVFAIL");
		return res;
	default:
		res->rcode = a->nxdomain ? DMX_RCODE_NXDOMAIN :
		    DMX_RCODE_NOERROR;
	}
	if (a->canonical != NULL) {
		res->ncname = 1;
		res->cname_chain = calloc(1, sizeof(char *));
		res->cname_chain[0] = strdup(name);
		res->cname_secure = a->st == DMX_DNS_SECURE;
	}
	for (n = 0; n < 4 && a->rr[n] != NULL; n++)
		;
	res->rrs = calloc(n ? n : 1, sizeof(*res->rrs));
	for (res->nrrs = 0; res->nrrs < n; res->nrrs++)
		rr_fill(&res->rrs[res->nrrs], res->canonical_name, type,
		    a->rr[res->nrrs]);
	res->nodata = !res->nxdomain && res->nrrs == 0;
	return res;
}

static void
got_route(void *arg, struct route *rt)
{
	*(struct route **)arg = rt;
}

/* resolve - route domain at level through the case's answers */
static struct route *
resolve(struct ccase *c, const char *domain, enum tls_level level,
    int bypass)
{
	struct event_base	*base = event_base_new();
	struct dmx_resolver	*res = dns_resolver_canned_new(base, answer, c);
	struct route		*rt = NULL;

	c->nasked = 0;
	if (route_resolve(res, domain, 25, level, bypass, NULL, got_route,
	    &rt) == NULL)
		abort();
	event_base_dispatch(base);
	dmx_resolver_free(res);
	event_base_free(base);
	if (rt == NULL)
		abort();
	return rt;
}

/* asked - did the route look up "name TYPE"? */
static int
asked(const struct ccase *c, const char *q)
{
	size_t	 i;

	for (i = 0; i < c->nasked; i++)
		if (strcmp(c->asked[i], q) == 0)
			return 1;
	return 0;
}

static int
has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

#define SEC	DMX_DNS_SECURE
#define INSEC	DMX_DNS_INSECURE

/* A secure destination with two hosts; mx1's TLSA lookup is st. */
static void
tlsa_failure_skips_host(enum dmx_dns_status st, const char *what)
{
	const struct ans ans[] = {
		{ "a.test", DMX_T_MX, SEC, 0, NULL,
		    { "20 mx2.a.test", "10 mx1.a.test" } },
		{ "mx1.a.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.1" } },
		{ "mx1.a.test", DMX_T_AAAA, SEC, 0, NULL, { NULL } },
		{ "mx2.a.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.2" } },
		{ "mx2.a.test", DMX_T_AAAA, SEC, 0, NULL, { NULL } },
		{ "_25._tcp.mx1.a.test", DMX_T_TLSA, st, 0, NULL, { NULL } },
		{ "_25._tcp.mx2.a.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "3 1 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c = { what, ans, { { 0 } }, 0 };
	struct route	*rt = resolve(&c, "a.test", TLS_LEVEL_DANE, 0);

	T_CHECK(!rt->failed, "%s: route failed: %s", what, rt->why);
	T_CHECK(rt->mx_secure, "%s: MX secure", what);
	T_CHECK(rt->nhost == 2, "%s: 2 hosts, got %zu", what, rt->nhost);
	/* Rule 8: preference order, whatever the answer's order. */
	T_CHECK(strcmp(rt->hosts[0].name, "mx1.a.test") == 0 &&
	    rt->hosts[0].pref == 10, "%s: mx1 first, got %s", what,
	    rt->hosts[0].name);
	/* Rule 12: a failed TLSA lookup leaves the host unusable. */
	T_CHECK(rt->hosts[0].demand == DEMAND_UNUSABLE,
	    "%s: mx1 unusable, got %s", what,
	    route_demand_str(rt->hosts[0].demand));
	T_CHECK(has(rt->hosts[0].why, "TLSA lookup for _25._tcp.mx1.a.test "
	    "failed"), "%s: why: %s", what, rt->hosts[0].why);
	T_CHECK(rt->hosts[1].demand == DEMAND_DANE, "%s: mx2 dane, got %s",
	    what, route_demand_str(rt->hosts[1].demand));
	T_CHECK(strcmp(rt->hosts[1].tlsa_base, "mx2.a.test") == 0,
	    "%s: mx2 base %s", what, rt->hosts[1].tlsa_base);
	T_CHECK(rt->hosts[1].tlsa.nusable == 1, "%s: 1 usable record", what);
	/* Only a bogus answer is a DNSSEC failure; no answer is a DNS error. */
	T_CHECK(rt->hosts[0].rt == (st == DMX_DNS_BOGUS ?
	    DMX_FAIL_DNSSEC_INVALID : DMX_FAIL_DNS), "%s: class %s", what,
	    fail_name(rt->hosts[0].rt));
	route_free(rt);

	/* Rule 27: the bypass list softens it to TLS, never to cleartext. */
	rt = resolve(&c, "a.test", TLS_LEVEL_DANE, 1);
	T_CHECK(rt->hosts[0].demand == DEMAND_ENCRYPT && rt->hosts[0].bypassed,
	    "%s with bypass: mx1 encrypt, got %s", what,
	    route_demand_str(rt->hosts[0].demand));
	route_free(rt);
}

static void
insecure_mx(void)
{
	const struct ans ans[] = {
		{ "b.test", DMX_T_MX, INSEC, 0, NULL, { "10 mx.b.test" } },
		{ "mx.b.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.3" } },
		{ "mx.b.test", DMX_T_AAAA, SEC, 0, NULL, { NULL } },
		{ "_25._tcp.mx.b.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "3 1 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c = { "insecure MX", ans, { { 0 } }, 0 };
	struct route	*rt = resolve(&c, "b.test", TLS_LEVEL_DANE, 0);

	/* Rule 7: DANE does not apply; the host's TLSA is not even asked. */
	T_CHECK(!rt->failed && !rt->mx_secure, "insecure MX: not failed");
	T_CHECK(rt->hosts[0].demand == DEMAND_MAY, "insecure MX: may, got %s",
	    route_demand_str(rt->hosts[0].demand));
	T_CHECK(strcmp(rt->hosts[0].why, "insecure MX RRset") == 0,
	    "insecure MX: why %s", rt->hosts[0].why);
	T_CHECK(!asked(&c, "_25._tcp.mx.b.test TLSA"),
	    "insecure MX: no TLSA lookup");
	/* Rule 9: the addresses were looked up, both families. */
	T_CHECK(asked(&c, "mx.b.test A") && asked(&c, "mx.b.test AAAA"),
	    "insecure MX: A and AAAA asked");
	route_free(rt);

	/* Rule 28: dane-only makes such a host unusable. */
	rt = resolve(&c, "b.test", TLS_LEVEL_DANE_ONLY, 0);
	T_CHECK(rt->hosts[0].demand == DEMAND_UNUSABLE &&
	    rt->hosts[0].rt == DMX_FAIL_DANE_REQUIRED,
	    "insecure MX, dane-only: unusable/dane-required, got %s/%s",
	    route_demand_str(rt->hosts[0].demand),
	    fail_rfc8460(rt->hosts[0].rt));
	route_free(rt);
}

static void
cname_mx(void)
{
	/* mx.c.test is a secure CNAME to real.d.test. */
	const struct ans at_expanded[] = {
		{ "c.test", DMX_T_MX, SEC, 0, NULL, { "10 mx.c.test" } },
		{ "mx.c.test", DMX_T_A, SEC, 0, "real.d.test", { "192.0.2.4" } },
		{ "mx.c.test", DMX_T_AAAA, SEC, 0, "real.d.test", { NULL } },
		{ "_25._tcp.real.d.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "2 0 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	const struct ans at_original[] = {
		{ "c.test", DMX_T_MX, SEC, 0, NULL, { "10 mx.c.test" } },
		{ "mx.c.test", DMX_T_A, SEC, 0, "real.d.test", { "192.0.2.4" } },
		{ "mx.c.test", DMX_T_AAAA, SEC, 0, "real.d.test", { NULL } },
		{ "_25._tcp.real.d.test", DMX_T_TLSA, SEC, 1, NULL, { NULL } },
		{ "_25._tcp.mx.c.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "3 1 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	/* The chain ends insecure: the first link decides (rule 10). */
	const struct ans insecure_end[] = {
		{ "c.test", DMX_T_MX, SEC, 0, NULL, { "10 mx.c.test" } },
		{ "mx.c.test", DMX_T_A, INSEC, 0, "real.i.test", { "192.0.2.5" } },
		{ "mx.c.test", DMX_T_AAAA, INSEC, 0, "real.i.test", { NULL } },
		{ "mx.c.test", DMX_T_CNAME, SEC, 0, NULL, { "real.i.test" } },
		{ "_25._tcp.mx.c.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "3 1 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c1 = { "CNAME MX, TLSA at the expanded name",
			    at_expanded, { { 0 } }, 0 };
	struct ccase	 c2 = { "CNAME MX, TLSA at the original name",
			    at_original, { { 0 } }, 0 };
	struct ccase	 c3 = { "CNAME MX, insecure end", insecure_end,
			    { { 0 } }, 0 };
	struct route	*rt;

	rt = resolve(&c1, "c.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->hosts[0].demand == DEMAND_DANE, "%s: dane, got %s",
	    c1.name, route_demand_str(rt->hosts[0].demand));
	T_CHECK(strcmp(rt->hosts[0].tlsa_base, "real.d.test") == 0,
	    "%s: base %s", c1.name, rt->hosts[0].tlsa_base);
	T_CHECK(!asked(&c1, "_25._tcp.mx.c.test TLSA"),
	    "%s: the original name not asked once the first matched", c1.name);
	route_free(rt);

	rt = resolve(&c2, "c.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->hosts[0].demand == DEMAND_DANE, "%s: dane, got %s",
	    c2.name, route_demand_str(rt->hosts[0].demand));
	T_CHECK(strcmp(rt->hosts[0].tlsa_base, "mx.c.test") == 0,
	    "%s: base %s", c2.name, rt->hosts[0].tlsa_base);
	T_CHECK(asked(&c2, "_25._tcp.real.d.test TLSA") &&
	    strcmp(c2.asked[c2.nasked - 1], "_25._tcp.mx.c.test TLSA") == 0,
	    "%s: the expanded name first, then the original", c2.name);
	route_free(rt);

	rt = resolve(&c3, "c.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->hosts[0].demand == DEMAND_DANE &&
	    strcmp(rt->hosts[0].tlsa_base, "mx.c.test") == 0,
	    "%s: dane at mx.c.test, got %s at %s", c3.name,
	    route_demand_str(rt->hosts[0].demand), rt->hosts[0].tlsa_base);
	T_CHECK(!asked(&c3, "_25._tcp.real.i.test TLSA"),
	    "%s: the insecure end is no candidate", c3.name);
	route_free(rt);
}

static void
all_unusable(void)
{
	const struct ans ans[] = {
		{ "e.test", DMX_T_MX, SEC, 0, NULL, { "10 mx.e.test" } },
		{ "mx.e.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.6" } },
		{ "mx.e.test", DMX_T_AAAA, SEC, 0, NULL, { "2001:db8::6" } },
		/* PKIX-EE, PKIX-TA, and a SHA2-256 digest of 16 octets */
		{ "_25._tcp.mx.e.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "1 1 1 " H64, "0 0 1 " H64, "3 1 1 " H32 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c = { "all unusable", ans, { { 0 } }, 0 };
	struct route	*rt = resolve(&c, "e.test", TLS_LEVEL_DANE, 0);

	/* Rules 15, 17, 19: TLS mandatory, not authenticated. */
	T_CHECK(rt->hosts[0].demand == DEMAND_ENCRYPT &&
	    rt->hosts[0].rt == DMX_FAIL_TLSA_INVALID,
	    "all unusable: encrypt/tlsa-invalid, got %s/%s",
	    route_demand_str(rt->hosts[0].demand),
	    fail_rfc8460(rt->hosts[0].rt));
	T_CHECK(rt->hosts[0].tlsa.n == 3 && rt->hosts[0].tlsa.nusable == 0,
	    "all unusable: 3 records, 0 usable");
	T_CHECK(rt->hosts[0].naddr == 2, "all unusable: both addresses");
	route_free(rt);

	rt = resolve(&c, "e.test", TLS_LEVEL_DANE_ONLY, 0);
	T_CHECK(rt->hosts[0].demand == DEMAND_UNUSABLE,
	    "all unusable, dane-only: unusable, got %s",
	    route_demand_str(rt->hosts[0].demand));
	route_free(rt);
}

static void
mx_answers(void)
{
	const struct ans null_mx[] = {
		{ "f.test", DMX_T_MX, SEC, 0, NULL, { "0 ." } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	const struct ans bogus_mx[] = {
		{ "g.test", DMX_T_MX, DMX_DNS_BOGUS, 0, NULL, { NULL } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	const struct ans timeout_mx[] = {
		{ "g.test", DMX_T_MX, NO_ANSWER, 0, NULL, { NULL } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	const struct ans no_mx[] = {
		{ "h.test", DMX_T_MX, SEC, 0, NULL, { NULL } },
		{ "h.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.8" } },
		{ "h.test", DMX_T_AAAA, SEC, 0, NULL, { NULL } },
		{ "_25._tcp.h.test", DMX_T_TLSA, SEC, 1, NULL, { NULL } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	const struct ans nx[] = {
		{ "nx.test", DMX_T_MX, SEC, 1, NULL, { NULL } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c1 = { "null MX", null_mx, { { 0 } }, 0 };
	struct ccase	 c2 = { "bogus MX", bogus_mx, { { 0 } }, 0 };
	struct ccase	 c3 = { "MX timeout", timeout_mx, { { 0 } }, 0 };
	struct ccase	 c4 = { "no MX", no_mx, { { 0 } }, 0 };
	struct ccase	 c5 = { "NXDOMAIN", nx, { { 0 } }, 0 };
	struct route	*rt;

	rt = resolve(&c1, "f.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->failed && rt->permanent && rt->null_mx,
	    "null MX: a permanent failure");
	T_CHECK(has(rt->why, "null MX, RFC 7505"), "null MX: why %s", rt->why);
	T_CHECK(c1.nasked == 1, "null MX: nothing else asked (%zu)", c1.nasked);
	route_free(rt);

	/* Rule 3: defer the destination, no fallback to the A record. */
	rt = resolve(&c2, "g.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->failed && !rt->permanent && rt->nhost == 0,
	    "bogus MX: deferred, no hosts");
	T_CHECK(has(rt->why, "signature expired"), "bogus MX: why %s",
	    rt->why);
	T_CHECK(!asked(&c2, "g.test A"), "bogus MX: no A fallback");

	T_CHECK(rt->rt == DMX_FAIL_DNSSEC_INVALID, "bogus MX: %s",
	    fail_name(rt->rt));
	route_free(rt);

	rt = resolve(&c3, "g.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->failed && !rt->permanent, "MX timeout: deferred");
	T_CHECK(rt->rt == DMX_FAIL_DNS, "MX timeout: a DNS error, not a DNSSEC "
	    "failure: %s", fail_name(rt->rt));
	T_CHECK(has(rt->why, "is outbound DNS, UDP and TCP port 53, open?") &&
	    has(rt->why, "--forwarder"), "MX timeout: why %s", rt->why);
	T_CHECK(!asked(&c3, "g.test A"), "MX timeout: no A fallback");
	route_free(rt);

	/* Rule 4: no MX, the domain itself at preference 0. */
	rt = resolve(&c4, "h.test", TLS_LEVEL_DANE, 0);
	T_CHECK(!rt->failed && rt->implicit_mx && rt->nhost == 1 &&
	    strcmp(rt->hosts[0].name, "h.test") == 0 && rt->hosts[0].pref == 0,
	    "no MX: the implicit MX h.test");
	T_CHECK(rt->hosts[0].demand == DEMAND_MAY &&
	    strcmp(rt->hosts[0].why, "no TLSA records") == 0,
	    "no MX: may (no TLSA records), got %s: %s",
	    route_demand_str(rt->hosts[0].demand), rt->hosts[0].why);
	route_free(rt);

	rt = resolve(&c5, "nx.test", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->failed && rt->permanent, "NXDOMAIN: permanent");
	route_free(rt);
}

static void
host_answers(void)
{
	const struct ans ans[] = {
		{ "k.test", DMX_T_MX, SEC, 0, NULL,
		    { "10 mx1.k.test", "20 mx2.k.test", "30 mx3.k.test" } },
		/* Rule 5: mx1's AAAA lookup fails: mx1 is skipped */
		{ "mx1.k.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.11" } },
		{ "mx1.k.test", DMX_T_AAAA, DMX_DNS_SERVFAIL, 0, NULL, { NULL } },
		/* Rule 9: insecure addresses: no TLSA lookup */
		{ "mx2.k.test", DMX_T_A, INSEC, 0, NULL, { "192.0.2.12" } },
		{ "mx2.k.test", DMX_T_AAAA, INSEC, 0, NULL, { NULL } },
		/* Rule 13: an insecure TLSA RRset is none */
		{ "mx3.k.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.13" } },
		{ "mx3.k.test", DMX_T_AAAA, SEC, 0, NULL, { NULL } },
		{ "_25._tcp.mx3.k.test", DMX_T_TLSA, INSEC, 0, NULL,
		    { "3 1 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c = { "hosts", ans, { { 0 } }, 0 };
	struct route	*rt = resolve(&c, "k.test", TLS_LEVEL_DANE, 0);

	T_CHECK(rt->nhost == 3, "hosts: 3, got %zu", rt->nhost);
	T_CHECK(rt->hosts[0].demand == DEMAND_UNUSABLE &&
	    has(rt->hosts[0].why, "address lookup for mx1.k.test failed"),
	    "hosts: mx1 unusable: %s", rt->hosts[0].why);
	T_CHECK(!asked(&c, "_25._tcp.mx1.k.test TLSA"), "hosts: no TLSA for mx1");
	T_CHECK(rt->hosts[1].demand == DEMAND_MAY &&
	    strcmp(rt->hosts[1].why, "insecure address records") == 0,
	    "hosts: mx2 may: %s", rt->hosts[1].why);
	T_CHECK(!asked(&c, "_25._tcp.mx2.k.test TLSA"), "hosts: no TLSA for mx2");
	T_CHECK(rt->hosts[2].demand == DEMAND_MAY && rt->hosts[2].tlsa.n == 0,
	    "hosts: mx3 may, no records kept");
	route_free(rt);
}

static void
host_only(void)
{
	const struct ans ans[] = {
		{ "mx.h.test", DMX_T_A, SEC, 0, NULL, { "192.0.2.31" } },
		{ "mx.h.test", DMX_T_AAAA, SEC, 0, NULL, { NULL } },
		{ "_2525._tcp.mx.h.test", DMX_T_TLSA, SEC, 0, NULL,
		    { "3 1 1 " H64 } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c = { "host only", ans, { { 0 } }, 0 };
	struct route	*rt = resolve(&c, "[MX.h.test.]:2525", TLS_LEVEL_DANE, 0);

	/* "[host]:port": no MX lookup; the host's TLSA at that port. */
	T_CHECK(!rt->failed && rt->host_only && !rt->literal && rt->port == 2525,
	    "host only: a host without MX, port %u: %s", rt->port, rt->why);
	T_CHECK(!asked(&c, "mx.h.test MX") && !asked(&c, "[mx.h.test]:2525 MX"),
	    "host only: no MX lookup");
	T_CHECK(rt->nhost == 1 && strcmp(rt->hosts[0].name, "mx.h.test") == 0 &&
	    strcmp(rt->domain, "mx.h.test") == 0, "host only: %s", rt->domain);
	T_CHECK(rt->hosts[0].demand == DEMAND_DANE &&
	    strcmp(rt->hosts[0].tlsa_base, "mx.h.test") == 0,
	    "host only: dane at mx.h.test, got %s",
	    route_demand_str(rt->hosts[0].demand));
	route_free(rt);

	/* An address literal stays one: "[2001:db8::1]:25". */
	rt = resolve(&c, "[2001:db8::1]:25", TLS_LEVEL_DANE, 0);
	T_CHECK(rt->literal && !rt->host_only && rt->hosts[0].naddr == 1 &&
	    rt->hosts[0].demand == DEMAND_MAY, "IPv6 literal");
	route_free(rt);
}

static void
equal_preference(void)
{
	const struct ans ans[] = {
		{ "m.test", DMX_T_MX, SEC, 0, NULL, { "10 a.m.test", "10 b.m.test" } },
		{ "a.m.test", DMX_T_A, INSEC, 0, NULL, { "192.0.2.21" } },
		{ "a.m.test", DMX_T_AAAA, INSEC, 0, NULL, { NULL } },
		{ "b.m.test", DMX_T_A, INSEC, 0, NULL, { "192.0.2.22" } },
		{ "b.m.test", DMX_T_AAAA, INSEC, 0, NULL, { NULL } },
		{ NULL, 0, 0, 0, NULL, { NULL } }
	};
	struct ccase	 c = { "equal preference", ans, { { 0 } }, 0 };
	struct route	*rt;
	int		 i, first_a = 0;

	/* Rule 8: equal preferences are shuffled (both orders, 64 tries). */
	for (i = 0; i < 64; i++) {
		rt = resolve(&c, "m.test", TLS_LEVEL_DANE, 0);
		first_a += strcmp(rt->hosts[0].name, "a.m.test") == 0;
		route_free(rt);
	}
	T_CHECK(first_a > 0 && first_a < 64,
	    "equal preference: a first %d times of 64", first_a);
}

int
main(void)
{
	tlsa_failure_skips_host(DMX_DNS_SERVFAIL, "TLSA SERVFAIL");
	tlsa_failure_skips_host(DMX_DNS_BOGUS, "TLSA bogus");
	tlsa_failure_skips_host(NO_ANSWER, "TLSA timeout");
	insecure_mx();
	cname_mx();
	all_unusable();
	mx_answers();
	host_answers();
	host_only();
	equal_preference();
	return t_done("test_route");
}
