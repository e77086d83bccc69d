/*
 * sts_cache.c - which MTA-STS policy is in force for a domain: discovery,
 * fetching, caching and refreshing (RFC 8461 sections 3.3, 5 and 10.2).
 *
 * One entry per domain in memory (a hash table and an LRU list, at most
 * max_entries, the least recently used idle one evicted first), mirrored
 * in the state store. An entry knows its cached policy and when it
 * expires, what the TXT record last said and until when that holds, and
 * the backoff after failed fetches. A lookup is answered from the entry
 * when the TXT record was checked within its TTL and nothing is due;
 * otherwise it waits for one discovery (TXT lookup, then a fetch if the id
 * is new), which every lookup of the domain meanwhile shares. The rules
 * are in sts.h and docs/mta-sts.md.
 *
 * Every write to the store goes through the store's queue (state.h), so
 * nothing here blocks the event loop but a read of one row, the first
 * time a domain is looked up in this process.
 *
 * Ownership: the cache owns its entries, their policies (one reference
 * each) and the waiting lookups; sts_free() drops them all without
 * calling back. Answers lend the entry's policy to the callback.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "danemx.h"
#include "log/log.h"
#include "state/state.h"
#include "sts/sts.h"
#include "util/util.h"

#define TOUCH_EVERY	3600	/* write last_used at most hourly */
#define SWEEP_EVERY	60	/* seconds between refresh sweeps */
#define REFRESH_AHEAD_MAX 86400

enum txt_state { TXT_UNKNOWN, TXT_NONE, TXT_INVALID, TXT_FAILED, TXT_OK };

struct waiter {
	TAILQ_ENTRY(waiter)	 entry;		/* e->waiters or s->ready */
	TAILQ_ENTRY(waiter)	 all;		/* s->all */
	struct sts_entry	*e;		/* NULL: not a domain */
	uint64_t		 id;
	uint64_t		 gen;		/* when it was made ready */
	int			 on_ready;
	int			 fetched_now;
	sts_cb			 cb;
	void			*arg;
	char			 domain[STS_DOMAIN_MAX];
};
TAILQ_HEAD(waiters, waiter);

struct sts_entry {
	TAILQ_ENTRY(sts_entry)	 lru;
	struct sts		*s;		/* the cache it belongs to */
	char			 domain[STS_DOMAIN_MAX];
	struct sts_policy	*policy;	/* cached, maybe expired */
	int64_t			 fetched, expires, checked, last_used;
	int64_t			 next_try, stored_used;
	unsigned		 failures;
	char			 last_error[STATE_ERR_MAX];

	enum txt_state		 txt;
	int64_t			 txt_until;	/* recheck the TXT after */
	char			 txt_id[STS_ID_MAX + 1];
	char			 txt_error[512];

	enum sts_failure	 failure;	/* of the last discovery */
	char			 error[700];
	int			 fetch_attempted, fetched_now;
	long			 http_status;
	char			 ctype[64];

	uint64_t		 txt_q, fetch_q;
	char			 fetch_id[STS_ID_MAX + 1];
	int			 force;		/* STS_F_REFRESH asked */
	int			 busy;		/* answering: not evictable */
	struct waiters		 waiters;
};

struct sts {
	struct event_base	*base;
	struct state		*state;
	const struct sts_io	*io;
	void			*io_arg;
	struct sts_io_ctx	*own_io;
	int64_t			(*now)(void *);
	void			*now_arg;
	unsigned		 backoff_min, backoff_max, unused_max;
	size_t			 max_entries;
	int			 no_refresh, quiet;
	struct htab		 byname;
	TAILQ_HEAD(, sts_entry)	 lru;		/* least recently used first */
	size_t			 nentries;
	struct waiters		 ready;		/* answers due from the loop */
	struct waiters		 all;		/* every waiting lookup */
	uint64_t		 gen;
	struct event		*ready_ev;
	struct event		*sweep_ev;
	uint64_t		 next_id;
	int64_t			 last_expire;
};

static void	discover(struct sts *, struct sts_entry *, unsigned);
static void	answer_all(struct sts *, struct sts_entry *);

static int64_t
now_of(struct sts *s)
{
	return s->now ? s->now(s->now_arg) : (int64_t)time(NULL);
}

/* sts_failure_str - what went wrong, in a word */
const char *
sts_failure_str(enum sts_failure f)
{
	switch (f) {
	case STS_FAIL_NONE:		return "none";
	case STS_FAIL_TXT:		return "txt-lookup-failed";
	case STS_FAIL_TXT_INVALID:	return "txt-invalid";
	case STS_FAIL_FETCH:		return "fetch-failed";
	case STS_FAIL_POLICY:		return "policy-invalid";
	}
	return "?";
}

/* sts_result_type - the RFC 8460 result type of a failure, or NULL */
const char *
sts_result_type(enum sts_failure f)
{
	switch (f) {
	case STS_FAIL_FETCH:	return "sts-policy-fetch-error";
	case STS_FAIL_POLICY:	return "sts-policy-invalid";
	default:		return NULL;
	}
}

/* in_force - the entry's policy, if it has not expired */
static struct sts_policy *
in_force(const struct sts_entry *e, int64_t now)
{
	return e->policy != NULL && now < e->expires ? e->policy : NULL;
}

/* fill - the answer the entry gives now */
static void
fill(struct sts_entry *e, int64_t now, struct sts_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->domain = e->domain;
	a->policy = in_force(e, now);
	if (a->policy != NULL) {
		a->source = e->fetched_now ? STS_SRC_FETCHED : STS_SRC_CACHE;
		a->fetched = e->fetched;
		a->expires = e->expires;
		a->stale = e->txt == TXT_OK &&
		    strcmp(e->txt_id, a->policy->id) != 0;
	}
	a->txt_id = e->txt == TXT_OK ? e->txt_id : NULL;
	a->failure = e->failure;
	a->error = e->error[0] ? e->error : NULL;
	a->next_try = e->failure == STS_FAIL_FETCH ||
	    e->failure == STS_FAIL_POLICY ? e->next_try : 0;
	a->fetch_attempted = e->fetched_now || e->fetch_attempted;
	a->http_status = e->http_status;
	a->content_type = e->ctype[0] ? e->ctype : NULL;
}

/* --- the store ------------------------------------------------------------ */

static void
store_put(struct sts *s, struct sts_entry *e)
{
	struct state_sts	 r;

	if (s->state == NULL || state_is_readonly(s->state))
		return;
	memset(&r, 0, sizeof(r));
	strlcpy_(r.domain, e->domain, sizeof(r.domain));
	if (e->policy != NULL) {
		strlcpy_(r.id, e->policy->id, sizeof(r.id));
		r.policy = e->policy->text;
		r.policy_len = e->policy->len;
	}
	r.fetched = e->fetched;
	r.expires = e->expires;
	r.checked = e->checked;
	r.last_used = e->last_used;
	r.next_try = e->next_try;
	r.failures = e->failures;
	strlcpy_(r.last_error, e->last_error, sizeof(r.last_error));
	if (state_sts_put(s->state, &r) == 0)
		e->stored_used = e->last_used;
}

/* load - what the store knows of e's domain (a restart, another process) */
static int
load(struct sts *s, struct sts_entry *e, const struct state_sts *r)
{
	struct sts_policy	*p = NULL;
	struct sts_diag		 d;

	if (r->policy != NULL) {
		sts_diag_init(&d);
		if ((p = sts_policy_parse(r->policy, r->policy_len, &d)) ==
		    NULL) {
			log_warnx("MTA-STS: %s: the stored policy does not "
			    "parse (%s); it is ignored", e->domain, d.error);
			return -1;
		}
		strlcpy_(p->id, r->id, sizeof(p->id));
	}
	(void)s;
	sts_policy_unref(e->policy);
	e->policy = p;
	e->fetched = r->fetched;
	e->expires = r->expires;
	e->checked = r->checked;
	if (r->last_used > e->last_used)
		e->last_used = r->last_used;
	e->stored_used = r->last_used;
	e->next_try = r->next_try;
	e->failures = r->failures;
	strlcpy_(e->last_error, r->last_error, sizeof(e->last_error));
	if (e->failures > 0 && e->last_error[0] != '\0') {
		e->failure = strncmp(e->last_error, "policy invalid", 14) == 0 ?
		    STS_FAIL_POLICY : STS_FAIL_FETCH;
		snprintf(e->error, sizeof(e->error), "%s", e->last_error);
	}
	return 0;
}

/* --- entries -------------------------------------------------------------- */

static void
entry_free(struct sts *s, struct sts_entry *e)
{
	struct waiter	*w;

	if (e->txt_q != 0)
		s->io->txt_cancel(s->io_arg, e->txt_q);
	if (e->fetch_q != 0)
		s->io->fetch_cancel(s->io_arg, e->fetch_q);
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		TAILQ_REMOVE(&s->all, w, all);
		free(w);
	}
	sts_policy_unref(e->policy);
	free(e);
}

static int
idle(const struct sts_entry *e)
{
	return e->txt_q == 0 && e->fetch_q == 0 && !e->busy &&
	    TAILQ_EMPTY(&e->waiters);
}

/* entry_drop - forget e (memory only) */
static void
entry_drop(struct sts *s, struct sts_entry *e)
{
	struct waiter	*w, *next;

	/* answers queued for it cannot outlive it */
	for (w = TAILQ_FIRST(&s->ready); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->e == e)
			return;		/* still needed: keep it */
	}
	htab_del(&s->byname, e->domain);
	TAILQ_REMOVE(&s->lru, e, lru);
	s->nentries--;
	entry_free(s, e);
}

/* entry_get - the entry of domain (lowercase), made (and loaded) if new */
static struct sts_entry *
entry_get(struct sts *s, const char *domain)
{
	struct sts_entry	*e, *old;
	struct state_sts	 r;
	char			 err[STATE_ERR_MAX];

	if ((e = htab_get(&s->byname, domain)) != NULL) {
		TAILQ_REMOVE(&s->lru, e, lru);
		TAILQ_INSERT_TAIL(&s->lru, e, lru);
		return e;
	}
	/* make room: the least recently used idle entries go */
	for (old = TAILQ_FIRST(&s->lru); old != NULL &&
	    s->nentries >= s->max_entries; ) {
		struct sts_entry *next = TAILQ_NEXT(old, lru);

		if (idle(old))
			entry_drop(s, old);
		old = next;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	strlcpy_(e->domain, domain, sizeof(e->domain));
	e->s = s;
	TAILQ_INIT(&e->waiters);
	if (htab_put(&s->byname, e->domain, e) == -1) {
		free(e);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&s->lru, e, lru);
	s->nentries++;
	if (s->state != NULL) {
		switch (state_sts_get(s->state, domain, &r, err, sizeof(err))) {
		case 1:
			load(s, e, &r);
			state_sts_clear(&r);
			break;
		case -1:
			log_warnx("MTA-STS: %s: cannot read the cache: %s",
			    domain, err);
			break;
		}
	}
	return e;
}

/* touch - e was asked for now; tell the store now and then */
static void
touch(struct sts *s, struct sts_entry *e, int64_t now)
{
	e->last_used = now;
	if (s->state != NULL && !state_is_readonly(s->state) &&
	    e->stored_used != 0 && now - e->stored_used >= TOUCH_EVERY &&
	    state_sts_touch(s->state, e->domain, now) == 0)
		e->stored_used = now;
}

/* --- discovery ------------------------------------------------------------ */

/* wants_fetch - the TXT names a policy we do not have, and we may try */
static int
wants_fetch(const struct sts_entry *e, int64_t now)
{
	struct sts_policy *p = in_force(e, now);

	if (e->txt != TXT_OK)
		return 0;
	if (p != NULL && strcmp(p->id, e->txt_id) == 0)
		return 0;
	return now >= e->next_try;
}

/* due - does a lookup of e need a discovery now? */
static int
due(const struct sts_entry *e, int64_t now, unsigned flags)
{
	if (flags & (STS_F_RECHECK | STS_F_REFRESH))
		return 1;
	if (e->txt_q != 0 || e->fetch_q != 0)
		return 1;	/* one is under way: wait for it */
	if (now >= e->txt_until)
		return 1;
	return wants_fetch(e, now);
}

/* backoff - a fetch failed: when may the next one be tried? */
static void
backoff(struct sts *s, struct sts_entry *e, int64_t now)
{
	unsigned long	 delay = s->backoff_min;
	unsigned	 i;

	for (i = 1; i < e->failures && delay < s->backoff_max; i++)
		delay *= 2;
	if (delay > s->backoff_max)
		delay = s->backoff_max;
	e->next_try = now + (int64_t)delay;
}

static void
fetch_failed(struct sts *s, struct sts_entry *e, enum sts_failure f,
    const char *why)
{
	struct sts_policy *p;
	int64_t		 now = now_of(s);

	e->failure = f;
	e->failures++;
	backoff(s, e, now);
	snprintf(e->last_error, sizeof(e->last_error), "%s", why);
	p = in_force(e, now);
	snprintf(e->error, sizeof(e->error), "%s", why);
	if (!s->quiet)
		log_warnx("MTA-STS: %s: %s; %s; next try in %llds", e->domain,
		    why, p ? "the cached policy still applies" :
		    "no policy applies", (long long)(e->next_try - now));
	store_put(s, e);
}

/* fetched - the policy fetch of e ended */
static void
fetched(void *arg, const struct sts_fetch_result *r)
{
	struct sts_entry	*e = arg;
	struct sts		*s = e->s;
	struct sts_policy	*p;
	struct sts_diag		 d;
	char			 why[600];
	size_t			 i;
	int64_t			 now = now_of(s);

	e->fetch_q = 0;
	e->fetch_attempted = 1;
	e->http_status = r->status;
	e->ctype[0] = '\0';
	if (!r->ok) {
		snprintf(why, sizeof(why), "policy fetch failed: %s", r->error);
		fetch_failed(s, e, STS_FAIL_FETCH, why);
		answer_all(s, e);
		return;
	}
	if (r->content_type == NULL || strncasecmp(r->content_type,
	    "text/plain", 10) != 0 || (r->content_type[10] != '\0' &&
	    r->content_type[10] != ';' && r->content_type[10] != ' '))
		snprintf(e->ctype, sizeof(e->ctype), "%s", r->content_type ?
		    r->content_type : "(none)");
	sts_diag_init(&d);
	if ((p = sts_policy_parse(r->body ? r->body : "", r->len, &d)) ==
	    NULL) {
		snprintf(why, sizeof(why), "policy invalid: %s", d.error);
		fetch_failed(s, e, STS_FAIL_POLICY, why);
		answer_all(s, e);
		return;
	}
	strlcpy_(p->id, e->fetch_id, sizeof(p->id));
	sts_policy_unref(e->policy);
	e->policy = p;
	e->fetched = e->checked = now;
	e->expires = now + (int64_t)p->max_age;
	e->failures = 0;
	e->next_try = 0;
	e->last_error[0] = '\0';
	e->failure = STS_FAIL_NONE;
	e->error[0] = '\0';
	e->fetched_now = 1;
	if (!s->quiet) {
		log_info("MTA-STS: %s: fetched policy id=%s: mode %s, max_age "
		    "%lu, %zu mx pattern%s", e->domain, p->id,
		    sts_mode_str(p->mode), p->max_age, p->nmx, p->nmx == 1 ?
		    "" : "s");
		for (i = 0; i < p->nwarn; i++)
			log_warnx("MTA-STS: %s: policy id=%s: %s", e->domain,
			    p->id, p->warn[i]);
		if (e->ctype[0] != '\0')
			log_warnx("MTA-STS: %s: policy served as '%s', not "
			    "text/plain (RFC 8461 3.3)", e->domain, e->ctype);
	}
	store_put(s, e);
	answer_all(s, e);
	e->fetched_now = 0;
}

/*
 * adopt - another process (or this one before a restart) stored the
 * policy the TXT record names: use it instead of fetching. 1 if adopted.
 */
static int
adopt(struct sts *s, struct sts_entry *e, int64_t now)
{
	struct state_sts	 r;
	char			 err[STATE_ERR_MAX];
	int			 ok = 0;

	if (s->state == NULL || state_sts_get(s->state, e->domain, &r, err,
	    sizeof(err)) != 1)
		return 0;
	if (r.policy != NULL && strcmp(r.id, e->txt_id) == 0 &&
	    now < r.expires && r.fetched >= e->fetched &&
	    load(s, e, &r) == 0) {
		e->failure = STS_FAIL_NONE;
		e->error[0] = '\0';
		ok = 1;
	}
	state_sts_clear(&r);
	return ok;
}

/* after_txt - the TXT state is known: extend, fetch, or answer */
static void
after_txt(struct sts *s, struct sts_entry *e)
{
	struct sts_policy	*p;
	char			 url[STS_DOMAIN_MAX + 64], why[128];
	int64_t			 now = now_of(s);
	int			 force = e->force;

	e->force = 0;
	switch (e->txt) {
	case TXT_OK:
		break;
	case TXT_FAILED:
		e->failure = STS_FAIL_TXT;
		snprintf(e->error, sizeof(e->error), "%s", e->txt_error);
		answer_all(s, e);
		return;
	case TXT_INVALID:
		e->failure = STS_FAIL_TXT_INVALID;
		snprintf(e->error, sizeof(e->error), "%s", e->txt_error);
		answer_all(s, e);
		return;
	default:	/* no record: a cached policy applies until it expires */
		e->failure = STS_FAIL_NONE;
		e->error[0] = '\0';
		answer_all(s, e);
		return;
	}
	p = in_force(e, now);
	if (p != NULL && strcmp(p->id, e->txt_id) == 0 && !force) {
		/* the same id: the same policy, good for max_age more */
		e->expires = now + (int64_t)p->max_age;
		e->checked = now;
		e->failure = STS_FAIL_NONE;
		e->error[0] = '\0';
		store_put(s, e);
		answer_all(s, e);
		return;
	}
	if (!force && now < e->next_try) {
		/* backing off: the last failure stands */
		if (e->failure != STS_FAIL_FETCH && e->failure !=
		    STS_FAIL_POLICY)
			e->failure = strncmp(e->last_error, "policy invalid",
			    14) == 0 ? STS_FAIL_POLICY : STS_FAIL_FETCH;
		snprintf(why, sizeof(why), "; no fetch before %lld",
		    (long long)e->next_try);
		snprintf(e->error, sizeof(e->error), "%.400s%s",
		    e->last_error[0] ? e->last_error : "the last fetch failed",
		    why);
		answer_all(s, e);
		return;
	}
	if (!force && adopt(s, e, now)) {
		if (!s->quiet)
			log_info("MTA-STS: %s: policy id=%s from the cache "
			    "another process filled", e->domain, e->txt_id);
		answer_all(s, e);
		return;
	}
	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/mta-sts.txt",
	    e->domain);
	strlcpy_(e->fetch_id, e->txt_id, sizeof(e->fetch_id));
	e->fetch_q = s->io->fetch(s->io_arg, url, fetched, e);
	if (e->fetch_q == 0) {
		e->fetch_attempted = 1;
		fetch_failed(s, e, STS_FAIL_FETCH, "policy fetch failed: cannot "
		    "start the request");
		answer_all(s, e);
	}
}

static int64_t
recheck_after(uint32_t ttl)
{
	if (ttl < STS_RECHECK_MIN)
		return STS_RECHECK_MIN;
	if (ttl > STS_RECHECK_MAX)
		return STS_RECHECK_MAX;
	return ttl;
}

/* txt_done - the `_mta-sts` TXT lookup of e answered */
static void
txt_done(void *arg, struct dmx_dns_result *res)
{
	struct sts_entry	*e = arg;
	struct sts		*s = e->s;
	struct sts_record	 rec;
	struct sts_diag		 d;
	int64_t			 now = now_of(s);

	e->txt_q = 0;
	e->txt_error[0] = '\0';
	sts_diag_init(&d);
	switch (res->status) {
	case DMX_DNS_SECURE:
	case DMX_DNS_INSECURE:
		e->txt_until = now + recheck_after(res->ttl);
		switch (sts_txt_select(res->rrs, res->nrrs, &rec, &d)) {
		case STS_TXT_OK:
			e->txt = TXT_OK;
			strlcpy_(e->txt_id, rec.id, sizeof(e->txt_id));
			break;
		case STS_TXT_NONE:
			e->txt = TXT_NONE;
			break;
		case STS_TXT_INVALID:
			e->txt = TXT_INVALID;
			snprintf(e->txt_error, sizeof(e->txt_error),
			    "invalid TXT record at _mta-sts.%.200s: %.250s",
			    e->domain, d.error);
			break;
		}
		break;
	case DMX_DNS_BOGUS:
		e->txt = TXT_FAILED;
		e->txt_until = now + STS_RECHECK_MIN;
		snprintf(e->txt_error, sizeof(e->txt_error), "TXT lookup of "
		    "_mta-sts.%.200s: bogus: %s", e->domain, res->why_bogus ?
		    res->why_bogus : "validation failure");
		break;
	default:
		e->txt = TXT_FAILED;
		e->txt_until = now + STS_RECHECK_MIN;
		snprintf(e->txt_error, sizeof(e->txt_error), "TXT lookup of "
		    "_mta-sts.%.200s: %s: %s", e->domain,
		    dmx_dns_status_str(res->status), res->error ? res->error :
		    "no reason given");
	}
	dmx_dns_result_free(res);
	if (e->txt != TXT_OK && e->txt != TXT_NONE && !s->quiet)
		log_info("MTA-STS: %s: %s", e->domain, e->txt_error);
	after_txt(s, e);
}

/* discover - look at the TXT record (unless it is fresh), then go on */
static void
discover(struct sts *s, struct sts_entry *e, unsigned flags)
{
	char	 name[STS_DOMAIN_MAX + 16];
	int64_t	 now = now_of(s);

	if (flags & STS_F_REFRESH)
		e->force = 1;
	if (e->txt_q != 0 || e->fetch_q != 0)
		return;		/* join the discovery under way */
	e->fetch_attempted = 0;
	e->http_status = 0;
	e->ctype[0] = '\0';
	if (!(flags & (STS_F_RECHECK | STS_F_REFRESH)) && now < e->txt_until) {
		after_txt(s, e);
		return;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", e->domain);
	if ((e->txt_q = s->io->txt(s->io_arg, name, txt_done, e)) == 0) {
		e->txt = TXT_FAILED;
		e->txt_until = now + STS_RECHECK_MIN;
		snprintf(e->txt_error, sizeof(e->txt_error), "cannot look up "
		    "%.300s", name);
		after_txt(s, e);
	}
}

/* --- answers -------------------------------------------------------------- */

/* make_ready - queue w's answer for the loop (never the caller's stack) */
static void
make_ready(struct sts *s, struct waiter *w)
{
	w->on_ready = 1;
	w->gen = s->gen;
	TAILQ_INSERT_TAIL(&s->ready, w, entry);
	event_active(s->ready_ev, EV_TIMEOUT, 0);
}

/* answer_all - the discovery of e is over: answer everyone waiting */
static void
answer_all(struct sts *s, struct sts_entry *e)
{
	struct waiter	*w;

	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		w->fetched_now = e->fetched_now;
		make_ready(s, w);
	}
}

/* ready_cb - call back the answers queued before this run */
static void
ready_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sts		*s = arg;
	struct sts_answer	 a;
	struct waiter		*w;
	struct sts_entry	*e;
	uint64_t		 gen = ++s->gen;
	sts_cb			 cb;
	void			*cbarg;

	(void)fd;
	(void)ev;
	while ((w = TAILQ_FIRST(&s->ready)) != NULL && w->gen < gen) {
		TAILQ_REMOVE(&s->ready, w, entry);
		TAILQ_REMOVE(&s->all, w, all);
		if ((e = w->e) != NULL) {
			e->fetched_now = w->fetched_now;
			fill(e, now_of(s), &a);
			e->fetched_now = 0;
			e->busy++;
		} else {
			memset(&a, 0, sizeof(a));
			a.domain = w->domain;
			a.error = "not a domain name MTA-STS can be looked up "
			    "for";
		}
		cb = w->cb;
		cbarg = w->arg;
		free(w);
		cb(cbarg, &a);
		if (e != NULL)
			e->busy--;
	}
}

/* --- the refresh sweep ---------------------------------------------------- */

static int64_t
refresh_ahead(unsigned long max_age)
{
	unsigned long	 ahead = max_age / 4;

	if (ahead > REFRESH_AHEAD_MAX)
		ahead = REFRESH_AHEAD_MAX;
	if (ahead < SWEEP_EVERY)
		ahead = SWEEP_EVERY;
	return (int64_t)ahead;
}

/*
 * sts_sweep - forget domains unused for unused_max; refresh the policies
 * of the others before they expire (RFC 8461 10.2: a policy that lapses
 * while an attacker blocks its refresh protects nothing). The cache runs
 * it every minute; tests call it with their clock.
 */
void
sts_sweep(struct sts *s)
{
	struct sts_entry	*e, *next;
	struct sts_policy	*p;
	int64_t			 now = now_of(s);
	int64_t			 unused = now - (int64_t)s->unused_max;

	for (e = TAILQ_FIRST(&s->lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);
		if (!idle(e))
			continue;
		if (e->last_used < unused) {
			entry_drop(s, e);
			continue;
		}
		if (s->no_refresh || (p = in_force(e, now)) == NULL)
			continue;
		if (e->expires - now <= refresh_ahead(p->max_age) &&
		    now >= e->next_try && now >= e->txt_until) {
			log_debug("MTA-STS: %s: refreshing policy id=%s before "
			    "it expires", e->domain, p->id);
			discover(s, e, STS_F_RECHECK);
		}
	}
	if (s->state != NULL && !state_is_readonly(s->state) &&
	    now - s->last_expire >= TOUCH_EVERY) {
		state_sts_expire(s->state, unused);
		s->last_expire = now;
	}
}

static void
sweep_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	sts_sweep(arg);
}

/* --- the interface -------------------------------------------------------- */

/* norm - domain lowercase without a final dot into out; 0 if not a domain */
static int
norm(const char *domain, char *out, size_t outlen)
{
	size_t	 n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen)
		return 0;
	memcpy(out, domain, n);
	out[n] = '\0';
	str_lower(out);
	return sts_domain_ok(out);
}

/*
 * sts_peek - answer from memory, without I/O: 1 with *a filled (valid
 * until the next call into the cache), 0 if a lookup is needed.
 */
int
sts_peek(struct sts *s, const char *domain, struct sts_answer *a)
{
	struct sts_entry	*e;
	char			 d[STS_DOMAIN_MAX];
	int64_t			 now = now_of(s);

	if (!norm(domain, d, sizeof(d)) ||
	    (e = htab_get(&s->byname, d)) == NULL || due(e, now, 0))
		return 0;
	touch(s, e, now);
	fill(e, now, a);
	return 1;
}

/*
 * sts_lookup - which policy is in force for domain; cb runs later from
 * the loop, exactly once, unless cancelled. Returns an id, or 0 when out
 * of memory (cb will not run).
 */
uint64_t
sts_lookup(struct sts *s, const char *domain, unsigned flags, sts_cb cb,
    void *arg)
{
	struct waiter		*w;
	struct sts_entry	*e = NULL;
	int64_t			 now = now_of(s);

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return 0;
	w->id = s->next_id++;
	w->cb = cb;
	w->arg = arg;
	if (!norm(domain, w->domain, sizeof(w->domain))) {
		strlcpy_(w->domain, domain, sizeof(w->domain));
		TAILQ_INSERT_TAIL(&s->all, w, all);
		make_ready(s, w);
		return w->id;
	}
	if ((e = entry_get(s, w->domain)) == NULL) {
		free(w);
		return 0;
	}
	w->e = e;
	touch(s, e, now);
	TAILQ_INSERT_TAIL(&s->all, w, all);
	if (due(e, now, flags)) {
		TAILQ_INSERT_TAIL(&e->waiters, w, entry);
		discover(s, e, flags);
	} else
		make_ready(s, w);
	return w->id;
}

/* sts_cancel - the callback of lookup id will not run */
void
sts_cancel(struct sts *s, uint64_t id)
{
	struct waiter	*w;

	TAILQ_FOREACH(w, &s->all, all)
		if (w->id == id)
			break;
	if (w == NULL)
		return;
	TAILQ_REMOVE(&s->all, w, all);
	if (w->on_ready)
		TAILQ_REMOVE(&s->ready, w, entry);
	else if (w->e != NULL)
		TAILQ_REMOVE(&w->e->waiters, w, entry);
	free(w);
}

/* sts_entries - domains held in memory */
size_t
sts_entries(const struct sts *s)
{
	return s->nentries;
}

static int
preload_one(void *arg, const struct state_sts *r)
{
	struct sts		*s = arg;
	struct sts_entry	*e;

	if (s->nentries >= s->max_entries)
		return -1;
	if (htab_get(&s->byname, r->domain) != NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL)
		return 0;
	strlcpy_(e->domain, r->domain, sizeof(e->domain));
	e->s = s;
	TAILQ_INIT(&e->waiters);
	if (load(s, e, r) == -1 || htab_put(&s->byname, e->domain, e) == -1) {
		sts_policy_unref(e->policy);
		free(e);
		return 0;
	}
	/* the list comes most recently used first: oldest at the head */
	TAILQ_INSERT_HEAD(&s->lru, e, lru);
	s->nentries++;
	return 0;
}

/* sts_new - a policy cache; NULL with a reason in err */
struct sts *
sts_new(const struct sts_conf *conf, char *err, size_t errlen)
{
	struct sts	*s;
	struct timeval	 tv = { SWEEP_EVERY, 0 };
	char		 sub[STATE_ERR_MAX];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = conf->base;
	s->state = conf->state;
	s->now = conf->now;
	s->now_arg = conf->now_arg;
	s->backoff_min = conf->backoff_min ? conf->backoff_min :
	    STS_BACKOFF_MIN;
	s->backoff_max = conf->backoff_max ? conf->backoff_max :
	    STS_BACKOFF_MAX;
	if (s->backoff_max < s->backoff_min)
		s->backoff_max = s->backoff_min;
	s->unused_max = conf->unused_max ? conf->unused_max : STS_UNUSED_MAX;
	s->max_entries = conf->max_entries ? conf->max_entries :
	    STS_MAX_ENTRIES;
	s->no_refresh = conf->no_refresh;
	s->quiet = conf->quiet;
	s->next_id = 1;
	TAILQ_INIT(&s->lru);
	TAILQ_INIT(&s->ready);
	TAILQ_INIT(&s->all);
	if (conf->io != NULL) {
		s->io = conf->io;
		s->io_arg = conf->io_arg;
	} else {
		if ((s->own_io = sts_io_new(conf->resolver, conf->http,
		    conf->fetch_timeout_ms)) == NULL)
			goto nomem;
		s->io = &sts_io_default;
		s->io_arg = s->own_io;
	}
	if ((s->ready_ev = event_new(s->base, -1, 0, ready_cb, s)) == NULL)
		goto nomem;
	if (!s->no_refresh) {
		if ((s->sweep_ev = event_new(s->base, -1, EV_PERSIST, sweep_cb,
		    s)) == NULL || event_add(s->sweep_ev, &tv) == -1)
			goto nomem;
		s->last_expire = now_of(s);
		if (s->state != NULL && state_sts_list(s->state, now_of(s) -
		    (int64_t)s->unused_max, s->max_entries, preload_one, s,
		    sub, sizeof(sub)) == -1)
			log_warnx("MTA-STS: cannot read the cache: %s", sub);
	}
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
	sts_free(s);
	return NULL;
}

/* sts_free - drop everything, calling nobody back */
void
sts_free(struct sts *s)
{
	struct sts_entry	*e;
	struct waiter		*w;

	if (s == NULL)
		return;
	while ((w = TAILQ_FIRST(&s->ready)) != NULL) {
		TAILQ_REMOVE(&s->ready, w, entry);
		TAILQ_REMOVE(&s->all, w, all);
		free(w);
	}
	while ((e = TAILQ_FIRST(&s->lru)) != NULL) {
		TAILQ_REMOVE(&s->lru, e, lru);
		entry_free(s, e);
	}
	htab_free(&s->byname);
	if (s->ready_ev != NULL)
		event_free(s->ready_ev);
	if (s->sweep_ev != NULL)
		event_free(s->sweep_ev);
	sts_io_free(s->own_io);
	free(s);
}
