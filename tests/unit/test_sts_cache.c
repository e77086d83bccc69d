/*
 * test_sts_cache.c - the MTA-STS policy cache (sts_cache.c) with canned
 * DNS and HTTPS answers (a struct sts_io of our own) and a clock of our
 * own: discovery, the same id extending the policy without a fetch, a new
 * id fetching, a failed fetch keeping the cached policy and backing off
 * (5 minutes, doubling, capped), an invalid policy, mode none replacing
 * at once, expiry, a missing or failed TXT record never removing a cached
 * policy, two records, concurrent lookups sharing one discovery, the
 * recheck and refresh flags, the refresh sweep and the dropping of unused
 * domains, the memory bound, cancellation, and the state store: a restart
 * keeps the cache and the backoff, and a process adopts a policy another
 * one fetched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "danemx.h"
#include "log/log.h"
#include "state/state.h"
#include "sts/sts.h"
#include "t.h"
#include "util/util.h"

#define P_ENFORCE	"version: STSv1\nmode: enforce\nmx: mx.example.org\n" \
			"max_age: 86400\n"
#define P_TESTING	"version: STSv1\nmode: testing\nmx: *.example.org\n" \
			"max_age: 86400\n"
#define P_NONE		"version: STSv1\nmode: none\nmax_age: 86400\n"
#define P_SHORT		"version: STSv1\nmode: enforce\nmx: mx.example.org\n" \
			"max_age: 100\n"
#define T0		1700000000

static struct event_base *base;
static int64_t	 now_val = T0;

static int64_t
clock_now(void *arg)
{
	(void)arg;
	return now_val;
}

/* --- canned I/O ----------------------------------------------------------- */

struct pending {
	struct pending	*next;
	uint64_t	 id;
	int		 is_fetch;
	char		 name[300];
	sts_txt_cb	 tcb;
	sts_fetch_cb	 fcb;
	void		*arg;
};

static struct {
	/* what the next TXT lookup answers */
	enum dmx_dns_status status;
	int		 nxdomain;
	const char	*txt[3];	/* records, NULL-terminated */
	uint32_t	 ttl;
	/* what the next fetch answers */
	int		 ok;
	const char	*body;
	const char	*ctype;
	long		 http_status;
	const char	*error;
	/* counts and the last names asked */
	int		 txt_calls, fetch_calls;
	char		 last_url[300];
	struct pending	*pending;
	uint64_t	 next_id;
	struct event	*ev;
} io;

static void
answer_pending(evutil_socket_t fd, short what, void *arg)
{
	struct pending	*p;

	(void)fd;
	(void)what;
	(void)arg;
	while ((p = io.pending) != NULL) {
		io.pending = p->next;
		if (p->is_fetch) {
			struct sts_fetch_result r;

			memset(&r, 0, sizeof(r));
			r.ok = io.ok;
			r.body = io.body;
			r.len = io.body ? strlen(io.body) : 0;
			r.content_type = io.ctype;
			r.status = io.http_status;
			r.kind = io.ok ? "ok" : "status";
			if (io.error)
				snprintf(r.error, sizeof(r.error), "%s",
				    io.error);
			p->fcb(p->arg, &r);
		} else {
			struct dmx_dns_result *res = calloc(1, sizeof(*res));
			size_t	 n = 0, i;

			res->qname = strdup(p->name);
			res->qtype = DMX_T_TXT;
			res->status = io.status;
			res->nxdomain = io.nxdomain;
			res->ttl = io.ttl;
			if (io.status == DMX_DNS_BOGUS)
				res->why_bogus = strdup("signature expired");
			else if (io.status != DMX_DNS_SECURE &&
			    io.status != DMX_DNS_INSECURE)
				res->error = strdup("rcode SERVFAIL");
			while (n < 3 && io.txt[n] != NULL)
				n++;
			if (n > 0 && !io.nxdomain) {
				res->rrs = calloc(n, sizeof(*res->rrs));
				for (i = 0; i < n; i++) {
					res->rrs[i].type = DMX_T_TXT;
					res->rrs[i].u.txt.data =
					    strdup(io.txt[i]);
					res->rrs[i].u.txt.len =
					    strlen(io.txt[i]);
				}
				res->nrrs = n;
			}
			p->tcb(p->arg, res);
		}
		free(p);
	}
}

static uint64_t
queue_io(int is_fetch, const char *name, sts_txt_cb tcb, sts_fetch_cb fcb,
    void *arg)
{
	struct pending	*p = calloc(1, sizeof(*p)), **pp;
	struct timeval	 tv = { 0, 0 };

	p->id = ++io.next_id;
	p->is_fetch = is_fetch;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->tcb = tcb;
	p->fcb = fcb;
	p->arg = arg;
	for (pp = &io.pending; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	evtimer_add(io.ev, &tv);
	return p->id;
}

static void
cancel_io(uint64_t id)
{
	struct pending	**pp, *p;

	for (pp = &io.pending; (p = *pp) != NULL; pp = &p->next)
		if (p->id == id) {
			*pp = p->next;
			free(p);
			return;
		}
}

static uint64_t
fake_txt(void *x, const char *name, sts_txt_cb cb, void *arg)
{
	(void)x;
	io.txt_calls++;
	return queue_io(0, name, cb, NULL, arg);
}

static void
fake_txt_cancel(void *x, uint64_t id)
{
	(void)x;
	cancel_io(id);
}

static uint64_t
fake_fetch(void *x, const char *url, sts_fetch_cb cb, void *arg)
{
	(void)x;
	io.fetch_calls++;
	snprintf(io.last_url, sizeof(io.last_url), "%s", url);
	return queue_io(1, url, NULL, cb, arg);
}

static void
fake_fetch_cancel(void *x, uint64_t id)
{
	(void)x;
	cancel_io(id);
}

static const struct sts_io fake_io = {
	fake_txt, fake_txt_cancel, fake_fetch, fake_fetch_cancel
};

/* world - set what DNS and HTTPS answer from now on */
static void
txt_is(const char *rec)
{
	io.status = DMX_DNS_SECURE;
	io.nxdomain = 0;
	io.txt[0] = rec;
	io.txt[1] = NULL;
	io.ttl = 300;
}

static void
serve(const char *body)
{
	io.ok = 1;
	io.body = body;
	io.ctype = "text/plain";
	io.http_status = 200;
	io.error = NULL;
}

static void
serve_error(long status, const char *error)
{
	io.ok = 0;
	io.body = NULL;
	io.http_status = status;
	io.error = error;
}

/* --- lookups -------------------------------------------------------------- */

struct got {
	int			 calls;
	int			 has_policy;
	enum sts_mode		 mode;
	char			 id[40], txt_id[40], error[800];
	enum sts_source		 source;
	enum sts_failure	 failure;
	int			 stale, fetch_attempted;
	int64_t			 expires, next_try;
	char			 ctype[64];
};

static void
got_cb(void *arg, const struct sts_answer *a)
{
	struct got	*g = arg;

	g->calls++;
	g->has_policy = a->policy != NULL;
	g->mode = a->policy ? a->policy->mode : STS_MODE_NONE;
	snprintf(g->id, sizeof(g->id), "%s", a->policy ? a->policy->id : "");
	snprintf(g->txt_id, sizeof(g->txt_id), "%s", a->txt_id ? a->txt_id :
	    "");
	snprintf(g->error, sizeof(g->error), "%s", a->error ? a->error : "");
	g->source = a->source;
	g->failure = a->failure;
	g->stale = a->stale;
	g->fetch_attempted = a->fetch_attempted;
	g->expires = a->expires;
	g->next_try = a->next_try;
	snprintf(g->ctype, sizeof(g->ctype), "%s", a->content_type ?
	    a->content_type : "");
}

/* lookup - one lookup, run until answered */
static struct got
lookup(struct sts *s, const char *domain, unsigned flags)
{
	struct got	 g;
	int		 i;

	memset(&g, 0, sizeof(g));
	if (sts_lookup(s, domain, flags, got_cb, &g) == 0)
		T_CHECK(0, "sts_lookup %s failed", domain);
	T_CHECK(g.calls == 0, "%s: answered inside sts_lookup", domain);
	for (i = 0; i < 100 && g.calls == 0; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	T_CHECK(g.calls == 1, "%s: %d answers", domain, g.calls);
	return g;
}

static size_t	 policy_budget;	/* 0: the default */

static struct sts *
cache(struct state *st, int no_refresh)
{
	struct sts_conf	 c;
	struct sts	*s;
	char		 err[256];

	memset(&c, 0, sizeof(c));
	c.base = base;
	c.state = st;
	c.io = &fake_io;
	c.now = clock_now;
	c.no_refresh = no_refresh;
	c.max_entries = 100;
	c.max_policy_bytes = policy_budget;
	c.quiet = 1;		/* the answers are what is checked */
	if ((s = sts_new(&c, err, sizeof(err))) == NULL)
		fprintf(stderr, "sts_new: %s\n", err);
	return s;
}

#define COUNTS(what, t, f) T_CHECK(io.txt_calls == (t) && io.fetch_calls == \
	(f), "%s: %d TXT lookups and %d fetches, want %d and %d", what, \
	io.txt_calls, io.fetch_calls, t, f)

static void
test_discovery(void)
{
	struct sts		*s = cache(NULL, 1);
	struct sts_answer	 a;
	struct got		 g;
	int			 i;

	memset(&io.txt, 0, sizeof(io.txt));
	io.txt_calls = io.fetch_calls = 0;

	/* no record: no policy, remembered for the TTL */
	io.status = DMX_DNS_SECURE;
	io.nxdomain = 1;
	io.ttl = 600;
	g = lookup(s, "none.example", 0);
	T_CHECK(!g.has_policy && g.failure == STS_FAIL_NONE && g.error[0] ==
	    '\0', "no record: policy %d failure %d '%s'", g.has_policy,
	    g.failure, g.error);
	g = lookup(s, "none.example", 0);
	COUNTS("no record, twice", 1, 0);
	T_CHECK(sts_peek(s, "NONE.example.", &a) == 1 && a.policy == NULL,
	    "peek of a domain without a policy");
	now_val += 601;
	T_CHECK(sts_peek(s, "none.example", &a) == 0, "peek past the TTL");
	g = lookup(s, "none.example", 0);
	COUNTS("no record, after the TTL", 2, 0);

	/* a record and a policy: fetched once, then cached */
	txt_is("v=STSv1; id=1");
	serve(P_ENFORCE);
	g = lookup(s, "Example.ORG.", 0);
	COUNTS("first policy", 3, 1);
	T_CHECK(strcmp(io.last_url, "https://mta-sts.example.org/.well-known/"
	    "mta-sts.txt") == 0, "url %s", io.last_url);
	T_CHECK(g.has_policy && g.mode == STS_MODE_ENFORCE && strcmp(g.id,
	    "1") == 0 && g.source == STS_SRC_FETCHED && g.failure ==
	    STS_FAIL_NONE && g.expires == now_val + 86400 && g.fetch_attempted,
	    "fetched: policy %d mode %d id '%s' source %d expires %+lld",
	    g.has_policy, g.mode, g.id, g.source,
	    (long long)(g.expires - now_val));
	g = lookup(s, "example.org", 0);
	COUNTS("cached", 3, 1);
	T_CHECK(g.source == STS_SRC_CACHE && strcmp(g.id, "1") == 0,
	    "cached: source %d", g.source);
	T_CHECK(sts_peek(s, "example.org", &a) == 1 && a.policy != NULL &&
	    strcmp(a.policy->id, "1") == 0 && strcmp(sts_mx_match(a.policy,
	    "MX.example.org"), "mx.example.org") == 0, "peek with a policy");

	/* the TTL passes, the id is the same: extended, no fetch */
	now_val += 3000;
	g = lookup(s, "example.org", 0);
	COUNTS("same id", 4, 1);
	T_CHECK(g.has_policy && g.expires == now_val + 86400 &&
	    g.source == STS_SRC_CACHE, "extended to %+lld",
	    (long long)(g.expires - now_val));

	/* the recheck flag looks at the TXT record at once */
	g = lookup(s, "example.org", STS_F_RECHECK);
	COUNTS("recheck", 5, 1);
	/* the refresh flag fetches even with the same id */
	g = lookup(s, "example.org", STS_F_REFRESH);
	COUNTS("refresh", 6, 2);
	T_CHECK(g.source == STS_SRC_FETCHED, "refresh fetched: %d", g.source);

	/* a new id: fetched again */
	txt_is("v=STSv1; id=2");
	serve(P_TESTING);
	g = lookup(s, "example.org", STS_F_RECHECK);
	COUNTS("new id", 7, 3);
	T_CHECK(g.mode == STS_MODE_TESTING && strcmp(g.id, "2") == 0,
	    "new id: mode %d id %s", g.mode, g.id);

	/* mode none replaces it at once */
	txt_is("v=STSv1; id=3");
	serve(P_NONE);
	g = lookup(s, "example.org", STS_F_RECHECK);
	T_CHECK(g.has_policy && g.mode == STS_MODE_NONE && strcmp(g.id,
	    "3") == 0, "mode none: mode %d id %s", g.mode, g.id);

	/* a policy served as something else than text/plain: said */
	txt_is("v=STSv1; id=4");
	serve(P_ENFORCE);
	io.ctype = "text/html; charset=utf-8";
	g = lookup(s, "example.org", STS_F_RECHECK);
	T_CHECK(g.has_policy && strcmp(g.ctype, "text/html; charset=utf-8") ==
	    0, "content type '%s'", g.ctype);
	serve(P_ENFORCE);
	txt_is("v=STSv1; id=5");
	g = lookup(s, "example.org", STS_F_RECHECK);
	T_CHECK(g.ctype[0] == '\0', "text/plain reported: '%s'", g.ctype);

	/* max_age 0: applies to the lookup that fetched it, then expires */
	txt_is("v=STSv1; id=z0");
	serve("version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 0\n");
	g = lookup(s, "zero.example", 0);
	T_CHECK(g.has_policy && g.source == STS_SRC_FETCHED, "max_age 0: the "
	    "fetching lookup gets it: policy %d", g.has_policy);
	i = io.fetch_calls;
	g = lookup(s, "zero.example", 0);
	T_CHECK(io.fetch_calls == i + 1 && g.has_policy, "max_age 0: the next "
	    "lookup fetches again: %d fetches", io.fetch_calls - i);

	/* not a domain */
	g = lookup(s, "a b", 0);
	T_CHECK(!g.has_policy && strstr(g.error, "not a domain"), "'a b': %s",
	    g.error);
	sts_free(s);
}

static void
test_failures(void)
{
	struct sts	*s = cache(NULL, 1);
	struct got	 g;
	int		 i;
	int64_t		 want[] = { 600, 1200, 2400, 3600, 3600 };

	io.txt_calls = io.fetch_calls = 0;
	txt_is("v=STSv1; id=1");
	serve(P_ENFORCE);
	g = lookup(s, "fail.example", 0);
	T_CHECK(g.has_policy, "first fetch");

	/* a new id, the server fails: the cached policy stays, stale */
	txt_is("v=STSv1; id=2");
	serve_error(500, "HTTP status 500 (only 200 is accepted)");
	g = lookup(s, "fail.example", STS_F_RECHECK);
	COUNTS("failed fetch", 2, 2);
	T_CHECK(g.has_policy && strcmp(g.id, "1") == 0 && g.stale &&
	    g.failure == STS_FAIL_FETCH && strcmp(g.txt_id, "2") == 0 &&
	    strstr(g.error, "policy fetch failed: HTTP status 500") &&
	    g.next_try == now_val + 300,
	    "failed fetch: policy %d id %s stale %d failure %d error '%s' "
	    "next %+lld", g.has_policy, g.id, g.stale, g.failure, g.error,
	    (long long)(g.next_try - now_val));
	T_CHECK(strcmp(sts_result_type(g.failure), "sts-policy-fetch-error") ==
	    0, "result type");

	/* within the backoff: no fetch, the failure stands */
	now_val += 299;
	g = lookup(s, "fail.example", STS_F_RECHECK);
	COUNTS("backing off", 3, 2);
	T_CHECK(g.has_policy && g.failure == STS_FAIL_FETCH &&
	    strstr(g.error, "no fetch before"), "backing off: '%s'", g.error);

	/* each further failure doubles the wait, up to backoff_max */
	for (i = 0; i < 5; i++) {
		now_val = g.next_try;
		g = lookup(s, "fail.example", STS_F_RECHECK);
		T_CHECK(g.next_try - now_val == want[i],
		    "failure %d: next try in %lld, want %lld", i + 2,
		    (long long)(g.next_try - now_val), (long long)want[i]);
	}
	T_CHECK(g.next_try - now_val == STS_BACKOFF_MAX, "capped at %d: %lld",
	    STS_BACKOFF_MAX, (long long)(g.next_try - now_val));

	/* the policy expires meanwhile: nothing applies any more */
	now_val += 86400;
	g = lookup(s, "fail.example", STS_F_RECHECK);
	T_CHECK(!g.has_policy && g.failure == STS_FAIL_FETCH,
	    "expired while failing: policy %d failure %d", g.has_policy,
	    g.failure);

	/* it works again: the backoff is gone */
	now_val = g.next_try;
	serve(P_TESTING);
	g = lookup(s, "fail.example", STS_F_RECHECK);
	T_CHECK(g.has_policy && strcmp(g.id, "2") == 0 && g.failure ==
	    STS_FAIL_NONE && g.next_try == 0 && g.error[0] == '\0',
	    "recovered: id %s failure %d '%s'", g.id, g.failure, g.error);

	/* an invalid policy: sts-policy-invalid, the cached one stays */
	txt_is("v=STSv1; id=3");
	serve("version: STSv1\nmode: enforce\nnmx: mx.example.org\n"
	    "max_age: 86400\n");
	g = lookup(s, "fail.example", STS_F_RECHECK);
	T_CHECK(g.has_policy && strcmp(g.id, "2") == 0 && g.failure ==
	    STS_FAIL_POLICY && strstr(g.error, "policy invalid: mode enforce "
	    "without an mx field") && strcmp(sts_result_type(g.failure),
	    "sts-policy-invalid") == 0, "invalid policy: id %s failure %d "
	    "'%s'", g.id, g.failure, g.error);

	/* the TXT lookup fails: the cached policy stays */
	now_val += 3600;
	io.status = DMX_DNS_SERVFAIL;
	g = lookup(s, "fail.example", 0);
	T_CHECK(g.has_policy && strcmp(g.id, "2") == 0 && g.failure ==
	    STS_FAIL_TXT && strstr(g.error, "TXT lookup of _mta-sts."
	    "fail.example: servfail"), "TXT servfail: policy %d failure %d "
	    "'%s'", g.has_policy, g.failure, g.error);
	/* a bogus one too, and it says so */
	now_val += 61;
	io.status = DMX_DNS_BOGUS;
	g = lookup(s, "fail.example", 0);
	T_CHECK(g.has_policy && g.failure == STS_FAIL_TXT &&
	    strstr(g.error, "bogus: signature expired"), "TXT bogus: '%s'",
	    g.error);
	/* the record is gone: the cached policy stays until it expires */
	now_val += 61;
	io.status = DMX_DNS_SECURE;
	io.nxdomain = 1;
	g = lookup(s, "fail.example", 0);
	T_CHECK(g.has_policy && g.failure == STS_FAIL_NONE, "TXT gone: "
	    "policy %d failure %d", g.has_policy, g.failure);
	/* two records: invalid, no fetch, the cached policy stays */
	now_val += 301;
	io.nxdomain = 0;
	io.txt[0] = "v=STSv1; id=7";
	io.txt[1] = "v=STSv1; id=8";
	io.txt[2] = NULL;
	i = io.fetch_calls;
	g = lookup(s, "fail.example", 0);
	T_CHECK(g.has_policy && g.failure == STS_FAIL_TXT_INVALID &&
	    strstr(g.error, "2 TXT records start with v=STSv1") &&
	    io.fetch_calls == i, "two records: failure %d '%s'", g.failure,
	    g.error);
	/* and it expires */
	now_val += 86400;
	g = lookup(s, "fail.example", 0);
	T_CHECK(!g.has_policy, "expired with two records");
	sts_free(s);
}

static void
test_sharing_and_limits(void)
{
	struct sts	*s = cache(NULL, 1);
	struct got	 g1, g2, g3;
	char		 name[64];
	int		 i;
	uint64_t	 id;

	io.txt_calls = io.fetch_calls = 0;
	txt_is("v=STSv1; id=1");
	serve(P_ENFORCE);
	/* three lookups at once: one TXT lookup, one fetch */
	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	memset(&g3, 0, sizeof(g3));
	sts_lookup(s, "shared.example", 0, got_cb, &g1);
	sts_lookup(s, "shared.example", 0, got_cb, &g2);
	id = sts_lookup(s, "shared.example", 0, got_cb, &g3);
	sts_cancel(s, id);
	for (i = 0; i < 100 && (g1.calls == 0 || g2.calls == 0); i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	COUNTS("three at once", 1, 1);
	T_CHECK(g1.calls == 1 && g2.calls == 1 && g1.has_policy &&
	    g2.has_policy && g1.source == STS_SRC_FETCHED, "both answered");
	T_CHECK(g3.calls == 0, "a cancelled lookup was answered");
	/* a lookup cancelled while queued as ready */
	memset(&g3, 0, sizeof(g3));
	id = sts_lookup(s, "shared.example", 0, got_cb, &g3);
	sts_cancel(s, id);
	event_base_loop(base, EVLOOP_NONBLOCK);
	T_CHECK(g3.calls == 0, "a cancelled ready lookup was answered");

	/* at most max_entries domains in memory */
	io.nxdomain = 1;
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		lookup(s, name, 0);
	}
	T_CHECK(sts_entries(s) <= 100, "%zu entries, at most 100",
	    sts_entries(s));
	sts_free(s);

	/* at most max_policy_bytes of policy text in memory */
	policy_budget = 10 * strlen(P_ENFORCE);
	s = cache(NULL, 1);
	txt_is("v=STSv1; id=1");
	serve(P_ENFORCE);
	io.nxdomain = 0;
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "p%d.example", i);
		g1 = lookup(s, name, 0);
		T_CHECK(g1.has_policy, "%s: no policy", name);
	}
	T_CHECK(sts_entries(s) >= 5 && sts_entries(s) <= 10,
	    "%zu entries with policies of %zu octets in a budget of %zu",
	    sts_entries(s), strlen(P_ENFORCE), policy_budget);
	sts_free(s);
	policy_budget = 0;

	/* freed with lookups under way: nobody is called back */
	s = cache(NULL, 1);
	memset(&g1, 0, sizeof(g1));
	sts_lookup(s, "gone.example", 0, got_cb, &g1);
	sts_free(s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	T_CHECK(g1.calls == 0, "freeing the cache called back");
}

static void
test_sweep(void)
{
	struct sts	*s = cache(NULL, 0);
	struct got	 g;
	int		 t;

	io.txt_calls = io.fetch_calls = 0;
	txt_is("v=STSv1; id=1");
	serve(P_ENFORCE);
	g = lookup(s, "busy.example", 0);
	T_CHECK(g.has_policy, "fetched");
	/* not yet near expiry: the sweep does nothing */
	now_val += 3600;
	sts_sweep(s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	COUNTS("sweep early", 1, 1);
	/* within max_age/4 of expiry: rechecked, extended, no fetch */
	now_val += 86400 - 3600 - 21000;
	t = io.txt_calls;
	sts_sweep(s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	T_CHECK(io.txt_calls == t + 1 && io.fetch_calls == 1,
	    "refresh ahead: %d TXT, %d fetches", io.txt_calls, io.fetch_calls);
	{
		struct sts_answer a;

		T_CHECK(sts_peek(s, "busy.example", &a) == 1 && a.policy &&
		    a.expires == now_val + 86400, "extended by the sweep: "
		    "%+lld", (long long)(a.expires - now_val));
	}
	/* unused for 30 days: forgotten */
	now_val += STS_UNUSED_MAX + 1;
	sts_sweep(s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	T_CHECK(sts_entries(s) == 0, "%zu entries after 30 days unused",
	    sts_entries(s));
	sts_free(s);
}

static void
test_store(const char *dir)
{
	struct state_conf	 sc;
	struct state		*st, *st2;
	struct sts		*s, *s2;
	struct state_sts	 r;
	struct got		 g;
	char			 err[256];

	memset(&sc, 0, sizeof(sc));
	sc.dir = dir;
	if ((st = state_open(&sc, err, sizeof(err))) == NULL) {
		T_CHECK(0, "state_open: %s", err);
		return;
	}
	io.txt_calls = io.fetch_calls = 0;
	txt_is("v=STSv1; id=7");
	serve(P_ENFORCE);
	s = cache(st, 1);
	g = lookup(s, "kept.example", 0);
	T_CHECK(g.has_policy && g.source == STS_SRC_FETCHED, "fetched");
	sts_free(s);
	state_sync(st);
	T_CHECK(state_sts_get(st, "kept.example", &r, err, sizeof(err)) == 1 &&
	    strcmp(r.id, "7") == 0 && r.policy && strcmp(r.policy,
	    P_ENFORCE) == 0 && r.expires == now_val + 86400,
	    "stored: id '%s'", r.id);
	state_sts_clear(&r);

	/* a restart: the same id needs no fetch */
	s = cache(st, 1);
	now_val += 10;
	g = lookup(s, "kept.example", 0);
	COUNTS("after a restart", 2, 1);
	T_CHECK(g.has_policy && g.source == STS_SRC_CACHE && strcmp(g.id,
	    "7") == 0, "after a restart: policy %d source %d", g.has_policy,
	    g.source);
	/* a failure and its backoff survive a restart too */
	txt_is("v=STSv1; id=8");
	serve_error(404, "HTTP status 404 (only 200 is accepted)");
	g = lookup(s, "kept.example", STS_F_RECHECK);
	T_CHECK(g.failure == STS_FAIL_FETCH && g.has_policy, "failed");
	sts_free(s);
	state_sync(st);
	s = cache(st, 1);
	g = lookup(s, "kept.example", 0);
	COUNTS("backoff after a restart", 4, 2);
	T_CHECK(g.has_policy && strcmp(g.id, "7") == 0 && g.failure ==
	    STS_FAIL_FETCH && strstr(g.error, "HTTP status 404") &&
	    strstr(g.error, "no fetch before"), "backoff kept: '%s'", g.error);

	/* another process fetches id 8; this one adopts it, no fetch */
	if ((st2 = state_open(&sc, err, sizeof(err))) == NULL) {
		T_CHECK(0, "second state_open: %s", err);
		sts_free(s);
		state_close(st);
		return;
	}
	s2 = cache(st2, 1);
	serve(P_TESTING);
	g = lookup(s2, "kept.example", STS_F_REFRESH);
	T_CHECK(g.has_policy && strcmp(g.id, "8") == 0, "the other process "
	    "fetched id %s", g.id);
	sts_free(s2);
	state_sync(st2);
	state_close(st2);
	now_val += 301;
	serve_error(500, "must not be fetched");
	g = lookup(s, "kept.example", STS_F_RECHECK);
	COUNTS("adopted", 6, 3);
	T_CHECK(g.has_policy && strcmp(g.id, "8") == 0 && g.mode ==
	    STS_MODE_TESTING && g.failure == STS_FAIL_NONE,
	    "adopted: id %s mode %d failure %d", g.id, g.mode, g.failure);
	sts_free(s);

	/* the relay's start loads what is in use, for the refresh sweep */
	s = cache(st, 0);
	T_CHECK(sts_entries(s) == 1, "%zu entries loaded", sts_entries(s));
	sts_free(s);
	state_close(st);
}

int
main(void)
{
	char	 dir[] = "/tmp/danemx-test_sts_cache.XXXXXX", cmd[128];

	log_init("test_sts_cache", 0, 0);
	log_set_quiet(1);
	base = event_base_new();
	io.ev = evtimer_new(base, answer_pending, NULL);
	test_discovery();
	test_failures();
	test_sharing_and_limits();
	test_sweep();
	if (mkdtemp(dir) != NULL) {
		test_store(dir);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	} else
		T_CHECK(0, "mkdtemp");
	event_free(io.ev);
	event_base_free(base);
	return t_done("test_sts_cache");
}
