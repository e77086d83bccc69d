/*
 * sts_discover.c - one discovery of a domain's MTA-STS policy (RFC 8461
 * sections 3 and 5): the `_mta-sts` TXT record, then, when it names a
 * policy the cache does not hold, the fetch; the backoff after failures;
 * and the sweep that refreshes policies before they expire and forgets
 * domains long unused (section 10.2). The rules: sts.h, docs/mta-sts.md.
 *
 * Ownership: works on the cache's entries (sts_int.h) and frees only the
 * DNS results and policies it replaces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemx.h"
#include "log/log.h"
#include "sts/sts_int.h"

/* wants_fetch - the TXT names a policy we do not have, and we may try */
static int
wants_fetch(const struct sts_entry *e, int64_t now)
{
	struct sts_policy *p = sts_in_force(e, now);

	if (e->txt != TXT_OK)
		return 0;
	if (p != NULL && strcmp(p->id, e->txt_id) == 0)
		return 0;
	return now >= e->next_try;
}

/* sts_due - does a lookup of e need a discovery now? */
int
sts_due(const struct sts_entry *e, int64_t now, unsigned flags)
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

/* fetch_failed - keep what is cached, note why, back off */
static void
fetch_failed(struct sts *s, struct sts_entry *e, enum sts_failure f,
    const char *why)
{
	struct sts_policy *p;
	int64_t		 now = sts_now(s);

	e->failure = f;
	e->failures++;
	backoff(s, e, now);
	snprintf(e->last_error, sizeof(e->last_error), "%s", why);
	p = sts_in_force(e, now);
	snprintf(e->error, sizeof(e->error), "%s", why);
	if (!s->quiet)
		log_warnx("MTA-STS: %s: %s; %s; next try in %llds", e->domain,
		    why, p ? "the cached policy still applies" :
		    "no policy applies", (long long)(e->next_try - now));
	sts_store_put(s, e);
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
	int64_t			 now = sts_now(s);

	e->fetch_q = 0;
	e->fetch_attempted = 1;
	e->http_status = r->status;
	e->ctype[0] = '\0';
	if (!r->ok) {
		snprintf(why, sizeof(why), "policy fetch failed: %s", r->error);
		fetch_failed(s, e, STS_FAIL_FETCH, why);
		sts_answer_all(s, e);
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
		sts_answer_all(s, e);
		return;
	}
	strlcpy_(p->id, e->fetch_id, sizeof(p->id));
	sts_set_policy(s, e, p);
	sts_trim(s, e);
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
	sts_store_put(s, e);
	sts_answer_all(s, e);
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
	    sts_load(s, e, &r) == 0) {
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
	int64_t			 now = sts_now(s);
	int			 force = e->force;

	e->force = 0;
	switch (e->txt) {
	case TXT_OK:
		break;
	case TXT_FAILED:
		e->failure = STS_FAIL_TXT;
		snprintf(e->error, sizeof(e->error), "%s", e->txt_error);
		sts_answer_all(s, e);
		return;
	case TXT_INVALID:
		e->failure = STS_FAIL_TXT_INVALID;
		snprintf(e->error, sizeof(e->error), "%s", e->txt_error);
		sts_answer_all(s, e);
		return;
	default:	/* no record: a cached policy applies until it expires */
		e->failure = STS_FAIL_NONE;
		e->error[0] = '\0';
		sts_answer_all(s, e);
		return;
	}
	p = sts_in_force(e, now);
	if (p != NULL && strcmp(p->id, e->txt_id) == 0 && !force) {
		/* the same id: the same policy, good for max_age more */
		e->expires = now + (int64_t)p->max_age;
		e->checked = now;
		e->failure = STS_FAIL_NONE;
		e->error[0] = '\0';
		sts_store_put(s, e);
		sts_answer_all(s, e);
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
		sts_answer_all(s, e);
		return;
	}
	if (!force && adopt(s, e, now)) {
		if (!s->quiet)
			log_info("MTA-STS: %s: policy id=%s from the cache "
			    "another process filled", e->domain, e->txt_id);
		sts_answer_all(s, e);
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
		sts_answer_all(s, e);
	}
}

/* recheck_after - how long a TXT answer holds: its TTL, within bounds */
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
	int64_t			 now = sts_now(s);

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

/* sts_discover - look at the TXT record (unless it is fresh), then go on */
void
sts_discover(struct sts *s, struct sts_entry *e, unsigned flags)
{
	char	 name[STS_DOMAIN_MAX + 16];
	int64_t	 now = sts_now(s);

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

/* --- the refresh sweep ---------------------------------------------------- */

/* refresh_ahead - how long before expiry a policy in use is refreshed */
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
	int64_t			 now = sts_now(s);
	int64_t			 unused = now - (int64_t)s->unused_max;

	for (e = TAILQ_FIRST(&s->lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);
		if (!sts_idle(e))
			continue;
		if (e->last_used < unused) {
			sts_entry_drop(s, e);
			continue;
		}
		if (s->no_refresh || (p = sts_in_force(e, now)) == NULL)
			continue;
		if (e->expires - now <= refresh_ahead(p->max_age) &&
		    now >= e->next_try && now >= e->txt_until) {
			log_debug("MTA-STS: %s: refreshing policy id=%s before "
			    "it expires", e->domain, p->id);
			sts_discover(s, e, STS_F_RECHECK);
		}
	}
	if (s->state != NULL && !state_is_readonly(s->state) &&
	    now - s->last_expire >= TOUCH_EVERY) {
		state_sts_expire(s->state, unused);
		s->last_expire = now;
	}
}
