/*
 * serve_bypass.c - the relay's DANE bypass list that heals itself.
 *
 * Every bypass_recheck_interval (first 30 s after the start, or sooner
 * when the interval is shorter; the same after a reload that changed
 * it) each exact domain of the list that
 * still applies is checked as `danemx check` checks it: deliver_start()
 * with SMTP_JOB_CHECK, the policy table but not the bypass list, on the
 * relay's event loop, every host and address, TLS and QUIT, nothing
 * sent. When every host that answered authenticated with DANE (and one
 * did), the entry is retired: it stops applying, the state store keeps
 * the retirement (the relay never writes root's list), and the log says
 *
 *	DANE bypass for example.com no longer needed: validated
 *	successfully (3 1 1 at depth 0)
 *
 * A retirement names the entry (policy_bypass_key()): a line whose
 * expiry or "added" time changes (danemx bypass add stamps a new one) is
 * a new entry and applies again. ".parent" entries name no host to
 * check and are never retired. Entries whose expiry passed stop applying
 * in policy_table_match() at once; this file says so in the log, once
 * per entry, from a timer set to the next expiry.
 *
 * Without a state store, retirements are kept in memory until the relay
 * stops (and said so at the start).
 *
 * Ownership: struct serve_bypass owns its timers, its rechecks in
 * flight (deliver_abort() at free) and its memory of the rows it wrote;
 * the table, the store, the resolver and the TLS contexts are the
 * relay's and outlive it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "log/log.h"
#include "policy/policy.h"
#include "state/state.h"
#include "util/util.h"

#define RECHECK_FIRST		30	/* s after the start, at most */
#define RECHECK_CONCURRENCY	10	/* domains checked at once */
#define RECHECK_PASS_MAX	1000	/* domains in one pass; the next pass
					   goes on where this one stopped */
#define EXPIRY_TIMER_MAX	3600	/* s: look again at least this often */

struct recheck {
	struct serve_bypass	*sb;
	struct deliver		*d;		/* in flight, or NULL */
	char			 domain[STATE_DOMAIN_MAX];
	char			 key[POLICY_KEY_LEN];
};

struct serve_bypass {
	struct serve_bypass_env	 env;
	struct event		*tick, *expiry;
	struct htab		 rows;		/* domain -> struct state_bypass */
	struct recheck		*rc;		/* this pass's domains */
	size_t			 nrc, next, running;
	size_t			 cursor;	/* where the next pass starts */
	unsigned long		 armed;		/* the interval tick runs at */
};

/* exact - a pattern the recheck can check: one domain, or one host
 * next hop ([mx.example.org]:25) */
static int
exact(const struct policy_entry *e)
{
	const char	*why;

	return policy_bypass_recheckable(e->pattern, &why) &&
	    strlen(e->pattern) < STATE_DOMAIN_MAX;
}

/* row_for - the row kept for domain: ours, or the store's when newer
 * (danemx bypass recheck writes it too); NULL if none */
static struct state_bypass *
row_for(struct serve_bypass *sb, const char *domain)
{
	struct state_bypass	*r = htab_get(&sb->rows, domain), st;
	char			 err[256];

	if (sb->env.st != NULL && state_bypass_get(sb->env.st, domain, &st,
	    err, sizeof(err)) == 1 && (r == NULL || st.checked > r->checked ||
	    st.retired > r->retired)) {
		if (r == NULL) {
			if ((r = malloc(sizeof(*r))) == NULL ||
			    htab_put(&sb->rows, domain, r) == -1) {
				free(r);
				return NULL;
			}
		}
		*r = st;
	}
	return r;
}

/* find - the entry of the list now in force for an exact domain */
static struct policy_entry *
find(struct serve_bypass *sb, const char *domain)
{
	struct policy_table	*t = sb->env.tab;
	size_t			 i;

	for (i = 0; i < t->n; i++)
		if (exact(&t->e[i]) && strcmp(t->e[i].pattern, domain) == 0)
			return &t->e[i];
	return NULL;
}

/* log_expired - say once of each entry whose expiry has passed; the
 * seconds until the next one expires (0: none) */
static time_t
log_expired(struct serve_bypass *sb, time_t now)
{
	struct policy_table	*t = sb->env.tab;
	char			 when[POLICY_TIME_LEN];
	time_t			 next = 0;
	size_t			 i;

	for (i = 0; i < t->n; i++) {
		struct policy_entry *e = &t->e[i];

		if (e->expires == 0)
			continue;
		if (now <= e->expires) {
			if (next == 0 || e->expires + 1 - now < next)
				next = e->expires + 1 - now;
			continue;
		}
		if (e->expiry_logged)
			continue;
		e->expiry_logged = 1;
		policy_bypass_time_str(e->expires, when, sizeof(when));
		log_warnx("DANE bypass for %s expired at %s (%s line %u): it "
		    "no longer applies", e->pattern, when,
		    sb->env.conf->bypass_file ? sb->env.conf->bypass_file :
		    "bypass list", e->line);
	}
	return next;
}

/* on_expiry - the timer at the next expiry */
static void
on_expiry(evutil_socket_t fd, short ev, void *arg)
{
	struct serve_bypass	*sb = arg;
	struct timeval		 tv = { EXPIRY_TIMER_MAX, 0 };
	time_t			 next;

	(void)fd;
	(void)ev;
	if ((next = log_expired(sb, time(NULL))) > 0 &&
	    next < EXPIRY_TIMER_MAX)
		tv.tv_sec = next;
	evtimer_add(sb->expiry, &tv);
}

/*
 * cli_bypass_judge - what a recheck found (danemx bypass recheck asks
 * the same): BYPASS_RETIRE when every host contacted authenticated with
 * DANE, and one did (out: its verdict, "validated successfully (3 1 1
 * at depth 0)"); BYPASS_FAILS when DANE (or anything) still fails (out:
 * why); BYPASS_NODANE when all went well without DANE to validate (no
 * secure TLSA records now: nothing to bypass, nothing to retire for).
 */
enum bypass_judgement
cli_bypass_judge(const struct deliver_result *r, char *out, size_t len)
{
	const struct deliver_attempt *first = NULL;
	size_t			 i;
	int			 nodane = 0;

	if (deliver_result_kind(r) != DELIVER_KIND_OK) {
		strlcpy_(out, r->why[0] ? r->why : "no host answered", len);
		str_printable(out, strlen(out));
		return BYPASS_FAILS;
	}
	for (i = 0; i < r->natt; i++) {
		const struct deliver_attempt *a = &r->att[i];

		if (a->skipped)
			continue;
		if (!a->ok) {
			strlcpy_(out, a->error, len);
			str_printable(out, strlen(out));
			return BYPASS_FAILS;
		}
		if (a->tls != TLS_ACH_DANE_VERIFIED || !a->have_verdict ||
		    !a->verdict.authenticated) {
			nodane = 1;
			snprintf(out, len, "DANE does not apply now: TLS %s",
			    deliver_tls_str(a->tls));
			continue;
		}
		if (first == NULL)
			first = a;
	}
	if (nodane || first == NULL) {
		if (first == NULL && !nodane)
			strlcpy_(out, "no host contacted", len);
		return first == NULL && !nodane ? BYPASS_FAILS : BYPASS_NODANE;
	}
	strlcpy_(out, first->verdict.text, len);
	str_printable(out, strlen(out));
	return BYPASS_RETIRE;
}

static void	start_next(struct serve_bypass *);

/* recheck_done - a domain's check is over: retire, or keep and say why */
static void
recheck_done(void *arg, struct deliver_result *r)
{
	struct recheck		*rc = arg;
	struct serve_bypass	*sb = rc->sb;
	struct state_bypass	 row, *kept;
	struct policy_entry	*e;
	char			 key[POLICY_KEY_LEN], v[STATE_ERR_MAX - 8];
	enum bypass_judgement	 j = cli_bypass_judge(r, v, sizeof(v));

	rc->d = NULL;
	sb->running--;
	memset(&row, 0, sizeof(row));
	strlcpy_(row.domain, rc->domain, sizeof(row.domain));
	strlcpy_(row.entry, rc->key, sizeof(row.entry));
	row.checked = time(NULL);
	row.ok = j == BYPASS_RETIRE;
	snprintf(row.result, sizeof(row.result), "%s%s",
	    j == BYPASS_RETIRE ? "DANE " : "", v);
	/* The list may have been read again meanwhile: the entry checked
	 * must still be the one in force. */
	e = find(sb, rc->domain);
	if (e != NULL)
		policy_bypass_key(e, key, sizeof(key));
	if (e == NULL || strcmp(key, rc->key) != 0) {
		deliver_result_free(r);
		start_next(sb);
		return;
	}
	if (j == BYPASS_RETIRE) {
		row.retired = row.checked;
		e->retired = 1;
		log_info("DANE bypass for %s no longer needed: %s", rc->domain,
		    v);
	} else if (j == BYPASS_NODANE)
		log_info("DANE bypass for %s kept: %s", rc->domain, v);
	else
		log_info("DANE bypass for %s still needed: %s", rc->domain, v);
	if ((kept = htab_get(&sb->rows, row.domain)) == NULL &&
	    (kept = malloc(sizeof(*kept))) != NULL &&
	    htab_put(&sb->rows, row.domain, kept) == -1) {
		free(kept);
		kept = NULL;
	}
	if (kept != NULL)
		*kept = row;
	if (sb->env.st != NULL && state_bypass_put(sb->env.st, &row) == -1)
		log_warnx("state: the recheck of %s was not stored",
		    rc->domain);
	deliver_result_free(r);
	start_next(sb);
}

/* start_next - more of this pass's rechecks, up to the concurrency */
static void
start_next(struct serve_bypass *sb)
{
	struct deliver_env	 env;
	struct deliver_conf	 dc;
	char			 err[512];
	struct recheck		*rc;

	while (sb->running < RECHECK_CONCURRENCY && sb->next < sb->nrc) {
		rc = &sb->rc[sb->next++];
		memset(&env, 0, sizeof(env));
		env.conf = sb->env.conf;
		env.policy = sb->env.policy;
		env.bypass = NULL;	/* DANE as it is, not as bypassed */
		env.dane_ctx = sb->env.dane_ctx;
		env.pkix_ctx = sb->env.pkix_ctx;
		env.sts = sb->env.sts;
		env.helo = sb->env.helo;
		deliver_conf_for(&dc, &env, rc->domain, SMTP_JOB_CHECK,
		    time(NULL));
		dc.mail_from = "";	/* as danemx check: nothing is sent */
		dc.log = 0;		/* one line per recheck says it all */
		dc.done = recheck_done;
		dc.arg = rc;
		if ((rc->d = deliver_start(sb->env.base, sb->env.res, &dc, err,
		    sizeof(err))) == NULL) {
			log_warnx("DANE bypass for %s: cannot recheck: %s",
			    rc->domain, err);
			continue;
		}
		sb->running++;
	}
}

/* on_tick - a pass: every exact entry in force, not retired (at most
 * RECHECK_PASS_MAX: a longer list is rechecked over several passes) */
static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct serve_bypass	*sb = arg;
	struct policy_table	*t = sb->env.tab;
	struct timeval		 tv = { 0, 0 };
	time_t			 now = time(NULL);
	size_t			 i, k, n = 0, cap;

	(void)fd;
	(void)ev;
	sb->armed = sb->env.conf->bypass_recheck_interval;
	tv.tv_sec = (time_t)sb->armed;
	evtimer_add(sb->tick, &tv);
	if (sb->running > 0)
		return;		/* the last pass is not over: skip one */
	free(sb->rc);
	sb->rc = NULL;
	sb->nrc = sb->next = 0;
	cap = t->n < RECHECK_PASS_MAX ? t->n : RECHECK_PASS_MAX;
	if (t->n == 0 || (sb->rc = calloc(cap, sizeof(*sb->rc))) == NULL)
		return;
	if (sb->cursor >= t->n)
		sb->cursor = 0;
	for (k = 0; k < t->n && n < cap; k++) {
		const struct policy_entry *e;

		i = (sb->cursor + k) % t->n;
		e = &t->e[i];

		if (!exact(e) || e->retired || (e->expires != 0 &&
		    now > e->expires))
			continue;
		sb->rc[n].sb = sb;
		strlcpy_(sb->rc[n].domain, e->pattern,
		    sizeof(sb->rc[n].domain));
		policy_bypass_key(e, sb->rc[n].key, sizeof(sb->rc[n].key));
		n++;
	}
	sb->cursor = (sb->cursor + k) % t->n;
	sb->nrc = n;
	if (n > 0)
		log_info("DANE bypass list: rechecking %zu domain%s", n,
		    n == 1 ? "" : "s");
	start_next(sb);
}

/* serve_bypass_carry - after a reload: what was said of the old list's
 * entries (their expiry) is not said again of the same entries */
void
serve_bypass_carry(const struct policy_table *old, struct policy_table *nt)
{
	char	 k1[POLICY_KEY_LEN], k2[POLICY_KEY_LEN];
	size_t	 i, j;

	for (i = 0; i < nt->n; i++) {
		policy_bypass_key(&nt->e[i], k1, sizeof(k1));
		for (j = 0; j < old->n; j++) {
			if (!old->e[j].expiry_logged)
				continue;
			policy_bypass_key(&old->e[j], k2, sizeof(k2));
			if (strcmp(k1, k2) == 0)
				nt->e[i].expiry_logged = 1;
		}
	}
}

/*
 * serve_bypass_update - the list was read (at the start, or again): mark
 * its retired entries, say what has expired, set the timers. A summary
 * line says what the list holds.
 */
void
serve_bypass_update(struct serve_bypass *sb)
{
	struct policy_table	*t;
	struct state_bypass	*r;
	struct timeval		 tv = { 0, 0 };
	char			 key[POLICY_KEY_LEN];
	time_t			 now = time(NULL), next;
	size_t			 i, nret = 0, nexp = 0;

	if (sb == NULL)
		return;
	t = sb->env.tab;
	for (i = 0; i < t->n; i++) {
		struct policy_entry *e = &t->e[i];

		if (e->expires != 0 && now > e->expires)
			nexp++;
		if (!exact(e) || (r = row_for(sb, e->pattern)) == NULL ||
		    r->retired == 0)
			continue;
		policy_bypass_key(e, key, sizeof(key));
		if (strcmp(key, r->entry) == 0) {
			e->retired = 1;
			nret++;
		}
	}
	next = log_expired(sb, now);
	if (t->n > 0)
		log_info("DANE bypass list: %zu entr%s, %zu retired, %zu "
		    "expired; rechecked every %lus", t->n, t->n == 1 ? "y" :
		    "ies", nret, nexp, sb->env.conf->bypass_recheck_interval);
	tv.tv_sec = next > 0 && next < EXPIRY_TIMER_MAX ? next :
	    EXPIRY_TIMER_MAX;
	evtimer_del(sb->expiry);
	evtimer_add(sb->expiry, &tv);
	/* The first pass, or a bypass_recheck_interval changed by the
	 * reload: the next pass comes as after a start. */
	if (!evtimer_pending(sb->tick, NULL) ||
	    sb->armed != sb->env.conf->bypass_recheck_interval) {
		sb->armed = sb->env.conf->bypass_recheck_interval;
		tv.tv_sec = (time_t)sb->armed;
		if (tv.tv_sec > RECHECK_FIRST)
			tv.tv_sec = RECHECK_FIRST;
		evtimer_del(sb->tick);
		evtimer_add(sb->tick, &tv);
	}
}

/* serve_bypass_new - the rechecks and the expiry timer, armed; NULL
 * only when out of memory */
struct serve_bypass *
serve_bypass_new(const struct serve_bypass_env *env)
{
	struct serve_bypass	*sb;

	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return NULL;
	sb->env = *env;
	if ((sb->tick = evtimer_new(env->base, on_tick, sb)) == NULL ||
	    (sb->expiry = evtimer_new(env->base, on_expiry, sb)) == NULL) {
		serve_bypass_free(sb);
		return NULL;
	}
	if (env->st == NULL && env->tab->n > 0)
		log_warnx("DANE bypass list: no state store: retirements are "
		    "kept in memory until the relay stops");
	serve_bypass_update(sb);
	return sb;
}

static void
free_row(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

/* serve_bypass_free - stop the rechecks in flight and free it all */
void
serve_bypass_free(struct serve_bypass *sb)
{
	size_t	 i;

	if (sb == NULL)
		return;
	for (i = 0; i < sb->nrc; i++)
		if (sb->rc[i].d != NULL)
			deliver_abort(sb->rc[i].d);
	free(sb->rc);
	if (sb->tick != NULL)
		event_free(sb->tick);
	if (sb->expiry != NULL)
		event_free(sb->expiry);
	htab_foreach(&sb->rows, free_row, NULL);
	htab_free(&sb->rows);
	free(sb);
}
