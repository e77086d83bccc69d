/*
 * destmem.c - the relay's memory of each destination (destmem.h): the
 * policy each domain had, compared with every new route before the
 * first session, and the counts of its messages.
 *
 * A domain's entry is read from the state store once, when the relay
 * first delivers there, and kept (at most DESTMEM_MAX; past that, the
 * entries without pending counts or a hold are dropped and read again
 * when needed). What changes is written through the store's queue, off
 * the event loop. Counts are merged in the entry and handed to the store
 * by a timer every DESTMEM_FLUSH_MS, so a message costs a hash lookup
 * and an increment.
 *
 * A held domain (downgrade_action = defer) defers every delivery with
 * the reason until the store says the operator accepted it (`danemx
 * domains accept`, read again at each of its deliveries; the command
 * also wakes the relay), until the policy comes back, or until the
 * relay no longer runs with downgrade_action = defer (a reload or a
 * restart with alert releases every hold, as an accept would).
 *
 * Ownership: the table's entries are ours; freed by destmem_free().
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "destmem/destmem.h"
#include "log/log.h"
#include "util/util.h"

struct entry {
	char			 domain[STATE_DOMAIN_MAX];
	char			 policy[STATE_DEST_POLICY_MAX];	/* remembered */
	char			 fingerprint[STATE_DEST_FP_MAX];
	int			 held;
	int			 accept_next;	/* the operator accepted: the
						   next observation is kept */
	int			 by_conf;	/* ...by leaving defer */
	char			 held_why[DESTMEM_WHAT_MAX];
	/* counts not yet in the store */
	int			 dirty;
	char			 day[11];
	uint64_t		 n[STATE_DEST_NCOUNT];
	const char		*last;		/* "sent", "deferred" */
	TAILQ_ENTRY(entry)	 dentry;
};

struct destmem {
	struct event_base	*base;
	struct state		*st;		/* may be NULL */
	const struct dmx_conf	*conf;		/* read live: SIGHUP */
	struct htab		 tab;
	size_t			 n;
	TAILQ_HEAD(, entry)	 dirty;
	struct event		*flush_ev;
	int			 flush_armed;
	time_t			 day_until;	/* day[] is good before this */
	time_t			 next_expire;	/* old rows go once a day */
	char			 day[11];
	int			 full_logged;
	struct destmem_alerts	*alerts;
	size_t			 nheld;		/* entries held */
	struct event		*held_ev;	/* looks for accepts */
	void			(*release)(void *, const char *domain);
	void			*release_arg;
};

/* flush_one - e's counts to the store */
static void
flush_one(struct destmem *m, struct entry *e, time_t now)
{
	if (m->st != NULL && state_dest_count(m->st, e->domain, e->day, e->n,
	    e->last, now) == -1)
		log_debug("destinations: counts of %s not stored", e->domain);
	memset(e->n, 0, sizeof(e->n));
	e->dirty = 0;
	TAILQ_REMOVE(&m->dirty, e, dentry);
}

/* flush - every entry's pending counts to the store */
static void
flush(struct destmem *m)
{
	struct entry	*e;
	time_t		 now = time(NULL);

	while ((e = TAILQ_FIRST(&m->dirty)) != NULL)
		flush_one(m, e, now);
	if (m->st != NULL && now >= m->next_expire) {
		state_dest_expire(m->st, (int64_t)now - STATE_DEST_MAX_AGE);
		m->next_expire = now + 86400;
	}
}

static void	held_cb(evutil_socket_t, short, void *);

static void
flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct destmem	*m = arg;

	(void)fd;
	(void)ev;
	m->flush_armed = 0;
	flush(m);
}

/* hold - e's mail is held from now on */
static void
hold(struct destmem *m, struct entry *e)
{
	struct timeval	 tv = { DESTMEM_HELD_POLL, 0 };

	if (e->held)
		return;
	e->held = 1;
	if (m->nheld++ == 0)
		evtimer_add(m->held_ev, &tv);
}

/* release - e's mail goes again; the next observation is kept */
static void
release(struct destmem *m, struct entry *e)
{
	if (!e->held)
		return;
	e->held = 0;
	e->accept_next = 1;
	e->by_conf = 0;
	if (--m->nheld == 0)
		evtimer_del(m->held_ev);
}

/* defers - does the relay hold downgraded domains (downgrade_action)? */
static int
defers(const struct destmem *m)
{
	return m->conf->downgrade_action != NULL &&
	    strcmp(m->conf->downgrade_action, "defer") == 0;
}

/*
 * release_conf - e was held under downgrade_action = defer, which the
 * relay no longer has: its mail goes, as after an accept (the store's
 * hold is cleared the same way, so `danemx domains` agrees)
 */
static void
release_conf(struct destmem *m, struct entry *e, time_t now)
{
	log_info("%s: downgrade_action is now %s: its mail is no longer "
	    "held (%s)", e->domain, m->conf->downgrade_action != NULL ?
	    m->conf->downgrade_action : "alert", e->held_why[0] ?
	    e->held_why : "held after a downgrade");
	release(m, e);
	e->by_conf = 1;
	if (m->st != NULL)
		state_dest_accept(m->st, e->domain, now);
}

struct recheck_ctx {
	struct destmem	*m;
	char		(*names)[STATE_DOMAIN_MAX];
	size_t		 n, cap;
};

static void
recheck_one(const char *key, void *val, void *arg)
{
	struct entry		*e = val;
	struct recheck_ctx	*c = arg;
	struct state_dest	 d;
	char			 err[STATE_ERR_MAX];

	(void)key;
	if (e->held && c->n < c->cap && !defers(c->m)) {
		release_conf(c->m, e, time(NULL));
		strlcpy_(c->names[c->n++], e->domain, STATE_DOMAIN_MAX);
		return;
	}
	if (!e->held || c->n >= c->cap || c->m->st == NULL ||
	    state_dest_get(c->m->st, e->domain, &d, err, sizeof(err)) != 1 ||
	    d.held)
		return;
	log_info("%s: downgrade accepted by the operator; its mail goes now",
	    e->domain);
	release(c->m, e);
	strlcpy_(c->names[c->n++], e->domain, STATE_DOMAIN_MAX);
}

/*
 * destmem_recheck - read the hold of every held domain again (danemx
 * domains accept wakes the relay with SIGUSR1; a reload calls it too,
 * and a timer every DESTMEM_HELD_POLL seconds): an accepted one is
 * released, every one when downgrade_action is no longer defer, and its
 * waiting mail made due (the release callback).
 */
void
destmem_recheck(struct destmem *m)
{
	struct recheck_ctx	 c;
	size_t			 i;

	if (m == NULL || m->nheld == 0 || (m->st == NULL && defers(m)))
		return;
	c.m = m;
	c.n = 0;
	c.cap = m->nheld;
	if ((c.names = calloc(c.cap, sizeof(*c.names))) == NULL)
		return;
	htab_foreach(&m->tab, recheck_one, &c);
	for (i = 0; i < c.n; i++)
		if (m->release != NULL)
			m->release(m->release_arg, c.names[i]);
	free(c.names);
}

static void
held_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct destmem	*m = arg;
	struct timeval	 tv = { DESTMEM_HELD_POLL, 0 };

	(void)fd;
	(void)ev;
	destmem_recheck(m);
	if (m->nheld > 0)
		evtimer_add(m->held_ev, &tv);
}

/* destmem_set_release - who makes a released domain's mail due */
void
destmem_set_release(struct destmem *m, void (*cb)(void *, const char *),
    void *arg)
{
	m->release = cb;
	m->release_arg = arg;
}

/* destmem_new - the memory, over st (NULL: this process only) */
struct destmem *
destmem_new(struct event_base *base, struct state *st,
    const struct dmx_conf *conf)
{
	struct destmem	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->base = base;
	m->st = st;
	m->conf = conf;
	TAILQ_INIT(&m->dirty);
	if ((m->flush_ev = evtimer_new(base, flush_cb, m)) == NULL ||
	    (m->held_ev = evtimer_new(base, held_cb, m)) == NULL ||
	    (m->alerts = destmem_alerts_new(base)) == NULL) {
		destmem_free(m);
		return NULL;
	}
	return m;
}

static void
free_one(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

/* destmem_free - hand the last counts over and free the memory */
void
destmem_free(struct destmem *m)
{
	if (m == NULL)
		return;
	flush(m);
	htab_foreach(&m->tab, free_one, NULL);
	htab_free(&m->tab);
	if (m->flush_ev != NULL)
		event_free(m->flush_ev);
	if (m->held_ev != NULL)
		event_free(m->held_ev);
	destmem_alerts_free(m->alerts);
	free(m);
}

struct evict_ctx {
	char	**keys;
	size_t	 n, cap;
};

static void
evict_one(const char *key, void *val, void *arg)
{
	struct entry		*e = val;
	struct evict_ctx	*c = arg;

	if (!e->dirty && !e->held && c->n < c->cap)
		c->keys[c->n++] = e->domain;
	(void)key;
}

/* evict - drop the entries that the store can give back */
static void
evict(struct destmem *m)
{
	struct evict_ctx	 c;
	struct entry		*e;
	size_t			 i;

	c.n = 0;
	c.cap = m->n;
	if ((c.keys = calloc(c.cap, sizeof(*c.keys))) == NULL)
		return;
	htab_foreach(&m->tab, evict_one, &c);
	for (i = 0; i < c.n; i++)
		if ((e = htab_del(&m->tab, c.keys[i])) != NULL) {
			free(e);
			m->n--;
		}
	free(c.keys);
}

/* entry_get - the entry of key, read from the store when new; NULL when
 * there is no room for it */
static struct entry *
entry_get(struct destmem *m, const char *key)
{
	struct state_dest	 d;
	struct entry		*e;
	char			 err[STATE_ERR_MAX];

	if ((e = htab_get(&m->tab, key)) != NULL)
		return e;
	if (m->n >= DESTMEM_MAX)
		evict(m);
	if (m->n >= DESTMEM_MAX || (e = calloc(1, sizeof(*e))) == NULL) {
		if (!m->full_logged)
			log_warnx("destinations: %d domains in memory, with "
			    "counts still to write or mail held; %s is not "
			    "remembered", DESTMEM_MAX, key);
		m->full_logged = 1;
		return NULL;
	}
	strlcpy_(e->domain, key, sizeof(e->domain));
	if (htab_put(&m->tab, e->domain, e) == -1) {
		free(e);
		return NULL;
	}
	m->n++;
	if (m->st != NULL) {
		switch (state_dest_get(m->st, key, &d, err, sizeof(err))) {
		case 1:
			strlcpy_(e->policy, d.policy, sizeof(e->policy));
			strlcpy_(e->fingerprint, d.fingerprint,
			    sizeof(e->fingerprint));
			if (d.held)
				hold(m, e);
			snprintf(e->held_why, sizeof(e->held_why), "%s",
			    d.down_what);
			break;
		case -1:
			log_warnx("destinations: %s: %s", key, err);
			break;
		}
	}
	return e;
}

/* remember - o is now what e remembers */
static void
remember(struct destmem *m, struct entry *e, const struct destmem_obs *o,
    time_t now)
{
	strlcpy_(e->policy, o->policy, sizeof(e->policy));
	strlcpy_(e->fingerprint, o->fingerprint, sizeof(e->fingerprint));
	if (m->st != NULL)
		state_dest_seen(m->st, e->domain, o->policy, o->fingerprint,
		    now);
}

/* fp_short - a fingerprint for log lines: 16 hex digits, or the id */
static const char *
fp_short(const char *fp, char *buf, size_t len)
{
	snprintf(buf, len, "%.16s", fp[0] ? fp : "-");
	return buf;
}

/* alert - run downgrade_command for e's downgrade, if configured */
static void
alert(struct destmem *m, const struct entry *e, const struct destmem_obs *o,
    const char *what, const char *action, time_t now)
{
	char	 v[8][DESTMEM_WHAT_MAX + 128];
	char	*env[10];
	size_t	 i;

	if (m->conf->downgrade_command == NULL ||
	    m->conf->downgrade_command[0] == '\0')
		return;
	snprintf(v[0], sizeof(v[0]), "DANEMX_DOMAIN=%s", e->domain);
	snprintf(v[1], sizeof(v[1]), "DANEMX_OLD_POLICY=%s", e->policy);
	snprintf(v[2], sizeof(v[2]), "DANEMX_NEW_POLICY=%s", o->policy);
	snprintf(v[3], sizeof(v[3]), "DANEMX_OLD_FINGERPRINT=%s",
	    e->fingerprint);
	snprintf(v[4], sizeof(v[4]), "DANEMX_NEW_FINGERPRINT=%s",
	    o->fingerprint);
	snprintf(v[5], sizeof(v[5]), "DANEMX_WHAT=%s", what);
	snprintf(v[6], sizeof(v[6]), "DANEMX_ACTION=%s", action);
	snprintf(v[7], sizeof(v[7]), "DANEMX_TIME=%lld", (long long)now);
	for (i = 0; i < 8; i++)
		env[i] = v[i];
	env[8] = (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[9] = NULL;
	destmem_alert_run(m->alerts, m->conf->downgrade_command,
	    (unsigned)m->conf->downgrade_command_timeout, env);
}

/* held_why - the reason a held domain's deliveries defer */
static int
held_why(const struct entry *e, char *why, size_t whylen)
{
	snprintf(why, whylen, "TLS downgrade of %s held (downgrade_action = "
	    "defer): %s; `danemx domains accept %s` lets its mail go",
	    e->domain, e->held_why, e->domain);
	return -1;
}

/* still_held - e is held: is it still? The operator's accept is read
 * from the store; a policy that came back releases it too. */
static int
still_held(struct destmem *m, struct entry *e, const struct destmem_obs *o,
    time_t now)
{
	struct state_dest	 d;
	char			 err[STATE_ERR_MAX];

	if (!defers(m)) {
		release_conf(m, e, now);
		return 0;
	}
	if (m->st != NULL && state_dest_get(m->st, e->domain, &d, err,
	    sizeof(err)) == 1 && !d.held) {
		release(m, e);
		return 0;
	}
	if (o->known && !destmem_downgrade(e->policy, o->policy)) {
		release(m, e);
		e->accept_next = 0;
		log_info("%s: %s is back; mail is no longer held", e->domain,
		    destmem_policy_text(o->policy));
		if (m->st != NULL)
			state_dest_accept(m->st, e->domain, now);
		remember(m, e, o, now);
		return 0;
	}
	return 1;
}

/*
 * destmem_check - deliver_conf.route_check: compare r's route with what
 * the memory says of its domain (see the top). 0 to go on, -1 with why
 * to defer the delivery (the domain is held).
 */
int
destmem_check(void *arg, const struct deliver_result *r, char *why,
    size_t whylen)
{
	struct destmem		*m = arg;
	struct destmem_obs	 o;
	struct entry		*e;
	char			 key[STATE_DOMAIN_MAX], what[DESTMEM_WHAT_MAX + 64];
	char			 f1[20], f2[20];
	time_t			 now = time(NULL);
	int			 defer;

	if (destmem_domain_key(r->domain, key, sizeof(key)) == -1 ||
	    (e = entry_get(m, key)) == NULL)
		return 0;
	destmem_observe(r->route, &r->sts, &o);
	if (e->held && still_held(m, e, &o, now))
		return held_why(e, why, whylen);
	if (o.known && e->accept_next) {
		e->accept_next = 0;
		if (e->by_conf)
			log_info("%s: mail goes out under %s (no longer held: "
			    "downgrade_action is not defer)", key,
			    destmem_policy_text(o.policy));
		else
			log_info("%s: downgrade accepted by the operator; mail "
			    "goes out under %s", key,
			    destmem_policy_text(o.policy));
		e->by_conf = 0;
		remember(m, e, &o, now);
		return 0;
	}
	if (!o.known || (strcmp(e->policy, o.policy) == 0 &&
	    strcmp(e->fingerprint, o.fingerprint) == 0))
		return 0;
	if (e->policy[0] == '\0') {
		remember(m, e, &o, now);
		return 0;
	}
	if (!destmem_downgrade(e->policy, o.policy)) {
		if (strcmp(e->policy, "dane") == 0 && strcmp(o.policy,
		    "dane") == 0)
			log_info("%s: TLSA records changed (rollover), still "
			    "usable: fingerprint %s replaces %s", key,
			    fp_short(o.fingerprint, f2, sizeof(f2)),
			    fp_short(e->fingerprint, f1, sizeof(f1)));
		else
			log_info("%s: TLS policy changed from %s (%s) to %s "
			    "(%s)", key, destmem_policy_text(e->policy),
			    fp_short(e->fingerprint, f1, sizeof(f1)),
			    destmem_policy_text(o.policy),
			    fp_short(o.fingerprint, f2, sizeof(f2)));
		remember(m, e, &o, now);
		return 0;
	}
	/* A downgrade. */
	defer = defers(m);
	snprintf(what, sizeof(what), "%s lost%s%s", destmem_policy_text(
	    e->policy), o.what[0] ? ": " : "", o.what);
	log_warnx("%s: TLS downgrade from %s (%s) to %s: %s%s", key,
	    destmem_policy_text(e->policy), fp_short(e->fingerprint, f1,
	    sizeof(f1)), destmem_policy_text(o.policy), what, defer ?
	    "; its mail is held until `danemx domains accept` "
	    "(downgrade_action = defer)" : "");
	alert(m, e, &o, what, defer ? "defer" : "alert", now);
	if (m->st != NULL)
		state_dest_downgrade(m->st, key, e->policy, o.policy, what,
		    defer, now);
	if (defer) {
		hold(m, e);
		strlcpy_(e->held_why, what, sizeof(e->held_why));
		return held_why(e, why, whylen);
	}
	remember(m, e, &o, now);
	return 0;
}

/* today - the UTC day now, made once a day */
static const char *
today(struct destmem *m, time_t now)
{
	struct tm	 tm;

	if (now >= m->day_until || m->day[0] == '\0') {
		gmtime_r(&now, &tm);
		strftime(m->day, sizeof(m->day), "%Y-%m-%d", &tm);
		m->day_until = now - (tm.tm_hour * 3600 + tm.tm_min * 60 +
		    tm.tm_sec) + 86400;
	}
	return m->day;
}

/*
 * destmem_count - count r's message under its domain: by the TLS its
 * session achieved when delivered, or as deferred. A bounce (a
 * permanent failure) is not counted.
 */
void
destmem_count(struct destmem *m, const struct deliver_result *r)
{
	const struct deliver_attempt	*a;
	struct entry			*e;
	struct timeval			 tv = { DESTMEM_FLUSH_MS / 1000,
	    (DESTMEM_FLUSH_MS % 1000) * 1000 };
	char				 key[STATE_DOMAIN_MAX];
	const char			*day;
	time_t				 now;
	enum state_dest_n		 i;

	if (r->outcome == OUTCOME_DEFERRED)
		i = STATE_DEST_DEFERRED;
	else if (r->outcome != OUTCOME_DELIVERED ||
	    (a = deliver_result_attempt(r)) == NULL)
		return;
	else if (a->tls == TLS_ACH_DANE_VERIFIED)
		i = STATE_DEST_DANE;
	else if (a->tls == TLS_ACH_STS_VERIFIED)
		i = STATE_DEST_STS;
	else if (a->tls == TLS_ACH_ENCRYPTED || a->tls == TLS_ACH_VERIFIED)
		i = STATE_DEST_ENCRYPTED;
	else
		i = STATE_DEST_OPPORTUNISTIC;
	if (destmem_domain_key(r->domain, key, sizeof(key)) == -1 ||
	    (e = entry_get(m, key)) == NULL)
		return;
	now = time(NULL);
	day = today(m, now);
	if (e->dirty && strcmp(e->day, day) != 0)
		flush_one(m, e, now);	/* yesterday's, first */
	if (!e->dirty) {
		e->dirty = 1;
		strlcpy_(e->day, day, sizeof(e->day));
		TAILQ_INSERT_TAIL(&m->dirty, e, dentry);
	}
	e->n[i]++;
	e->last = i == STATE_DEST_DEFERRED ? "deferred" : "sent";
	if (!m->flush_armed) {
		m->flush_armed = 1;
		evtimer_add(m->flush_ev, &tv);
	}
}
