/*
 * sts_cache.c - which MTA-STS policy is in force for a domain: the cache
 * of policies, its entries and its store, and the lookups that wait on a
 * discovery (which sts_discover.c runs; RFC 8461 sections 3.3, 5, 10.2).
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
#include "sts/sts_int.h"

/* sts_now - the cache's clock */
int64_t
sts_now(struct sts *s)
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

/* sts_in_force - the entry's policy, if it has not expired */
struct sts_policy *
sts_in_force(const struct sts_entry *e, int64_t now)
{
	return e->policy != NULL && now < e->expires ? e->policy : NULL;
}

/* fill - the answer the entry gives now */
static void
fill(struct sts_entry *e, int64_t now, struct sts_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->domain = e->domain;
	a->policy = sts_in_force(e, now);
	/* a policy of max_age 0 still applies to the lookups that fetched it */
	if (a->policy == NULL && e->fetched_now)
		a->policy = e->policy;
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

/* sts_store_put - write e's record to the store (queued, never waits) */
void
sts_store_put(struct sts *s, struct sts_entry *e)
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

/* sts_load - take what the store knows of e (a restart, another process) */
int
sts_load(struct sts *s, struct sts_entry *e, const struct state_sts *r)
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
	sts_set_policy(s, e, p);
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

/* entry_free - cancel what e has under way and free it */
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
	sts_set_policy(s, e, NULL);
	free(e);
}

/* sts_idle - e has nothing under way and nobody waiting: it may go */
int
sts_idle(const struct sts_entry *e)
{
	return e->txt_q == 0 && e->fetch_q == 0 && !e->busy &&
	    TAILQ_EMPTY(&e->waiters);
}

/* sts_entry_drop - forget e (memory only) */
void
sts_entry_drop(struct sts *s, struct sts_entry *e)
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

/* sts_set_policy - e's policy is now p (its reference taken), counted */
void
sts_set_policy(struct sts *s, struct sts_entry *e, struct sts_policy *p)
{
	if (e->policy != NULL) {
		s->policy_bytes -= e->policy->len;
		sts_policy_unref(e->policy);
	}
	if ((e->policy = p) != NULL)
		s->policy_bytes += p->len;
}

/*
 * sts_trim - keep memory within max_entries domains and max_policy_bytes
 * of policy text: the least recently used idle entries go (keep stays).
 */
void
sts_trim(struct sts *s, const struct sts_entry *keep)
{
	struct sts_entry	*e, *next;

	for (e = TAILQ_FIRST(&s->lru); e != NULL && (s->nentries >
	    s->max_entries || s->policy_bytes > s->max_policy_bytes);
	    e = next) {
		next = TAILQ_NEXT(e, lru);
		if (e != keep && sts_idle(e))
			sts_entry_drop(s, e);
	}
}

/* entry_get - the entry of domain (lowercase), made (and loaded) if new */
static struct sts_entry *
entry_get(struct sts *s, const char *domain)
{
	struct sts_entry	*e;
	struct state_sts	 r;
	char			 err[STATE_ERR_MAX];

	if ((e = htab_get(&s->byname, domain)) != NULL) {
		TAILQ_REMOVE(&s->lru, e, lru);
		TAILQ_INSERT_TAIL(&s->lru, e, lru);
		return e;
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
			sts_load(s, e, &r);
			state_sts_clear(&r);
			break;
		case -1:
			log_warnx("MTA-STS: %s: cannot read the cache: %s",
			    domain, err);
			break;
		}
	}
	sts_trim(s, e);
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

/* sts_answer_all - the discovery of e is over: answer everyone waiting */
void
sts_answer_all(struct sts *s, struct sts_entry *e)
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
			fill(e, sts_now(s), &a);
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

/* sweep_cb - the minute timer */
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
	int64_t			 now = sts_now(s);

	if (!norm(domain, d, sizeof(d)) ||
	    (e = htab_get(&s->byname, d)) == NULL || sts_due(e, now, 0))
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
	int64_t			 now = sts_now(s);

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
	if (sts_due(e, now, flags)) {
		TAILQ_INSERT_TAIL(&e->waiters, w, entry);
		sts_discover(s, e, flags);
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

/* preload_one - a record in use, from the store, at start */
static int
preload_one(void *arg, const struct state_sts *r)
{
	struct sts		*s = arg;
	struct sts_entry	*e;

	if (s->nentries >= s->max_entries ||
	    s->policy_bytes >= s->max_policy_bytes)
		return -1;
	if (htab_get(&s->byname, r->domain) != NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL)
		return 0;
	strlcpy_(e->domain, r->domain, sizeof(e->domain));
	e->s = s;
	TAILQ_INIT(&e->waiters);
	if (sts_load(s, e, r) == -1 || htab_put(&s->byname, e->domain,
	    e) == -1) {
		sts_set_policy(s, e, NULL);
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
	s->max_policy_bytes = conf->max_policy_bytes ?
	    conf->max_policy_bytes : STS_MAX_POLICY_BYTES;
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
		s->last_expire = sts_now(s);
		if (s->state != NULL && state_sts_list(s->state, sts_now(s) -
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
