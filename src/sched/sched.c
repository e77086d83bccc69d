/*
 * sched.c - the scheduler's life: sched_new() reads the queue and starts
 * the timers, and the relay's signals reach it here (a reload, a flush,
 * the drain at SIGTERM). See sched.h for the whole; the index is in
 * sched_index.c, connections in sched_conn.c, jobs in sched_job.c,
 * results and bounces in sched_result.c.
 *
 * Every second the items whose time has come become ready, and every
 * SCAN_SECONDS the queue directory is scanned for what other processes
 * did. A flush (SIGUSR1: danemx queue flush and release) lifts every
 * destination hold and reads the queue again; a flush of all (SIGUSR2)
 * also makes every waiting item due now.
 *
 * Ownership: the scheduler owns its timers, its index, its connections
 * and the worker pool its bounces are committed on; sched_free()
 * releases them all, after the bounces in flight have ended.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "destmem/destmem.h"
#include "log/log.h"
#include "sched/sched_int.h"
#include "state/state.h"
#include "tlsrpt/tlsrpt.h"
#include "util/util.h"

#define BOUNCE_THREADS	1	/* bounces are few: one commit worker */

/* A message of the relay's own being committed (sched_submit()). */
struct submit {
	struct sched		*s;
	void			(*done)(void *, int, const char *,
				    const char *);
	void			*arg;
};

static void
submit_done(void *arg, int ok, const char *id, const char *err)
{
	struct submit	*sb = arg;

	if (ok)
		sched_enqueue(sb->s, id);
	sb->done(sb->arg, ok, id, err);
	free(sb);
}

/*
 * sched_submit - queue a message of the relay's own (a TLS report):
 * committed on the bounce workers, then scheduled; done() runs on the
 * loop with the outcome. -1 with err when it cannot start.
 */
int
sched_submit(struct sched *s, const char *from, const char * const *rcpts,
    size_t nrcpt, const char *msg, size_t len,
    void (*done)(void *, int, const char *, const char *), void *arg,
    char *err, size_t errlen)
{
	struct queue_writer	*w;
	struct submit		*sb;

	if (s->draining) {
		snprintf(err, errlen, "the relay is stopping");
		return -1;
	}
	if ((w = queue_writer_new(s->c.q, err, errlen)) == NULL)
		return -1;
	queue_writer_honour_tls(w);	/* ours: TLS-Required: No counts */
	if (queue_writer_add(w, msg, len) == -1 ||
	    (sb = calloc(1, sizeof(*sb))) == NULL) {
		snprintf(err, errlen, "cannot write it");
		queue_writer_abort(w);
		return -1;
	}
	sb->s = s;
	sb->done = done;
	sb->arg = arg;
	if (queue_workers_submit(s->workers, w, from, rcpts, nrcpt,
	    submit_done, sb) == NULL) {
		snprintf(err, errlen, "out of memory");
		queue_writer_abort(w);	/* still ours */
		free(sb);
		return -1;
	}
	return 0;
}

static void
kick_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	sched_dispatch(arg);
}

/* expire_tlsrpt - on a new TLS-RPT day: results older than
 * tlsrpt_max_age go (the store does it off the loop) */
static void
expire_tlsrpt(struct sched *s)
{
	char	 today[TLSRPT_DAY_LEN], before[TLSRPT_DAY_LEN];

	if (tlsrpt_day(tlsrpt_now(), today) == -1 ||
	    strcmp(today, s->tlsrpt_day) == 0)
		return;
	strlcpy_(s->tlsrpt_day, today, sizeof(s->tlsrpt_day));
	if (tlsrpt_day_add(today, -(int)(s->c.conf->tlsrpt_max_age / 86400),
	    before) == 0)
		state_tlsrpt_expire(s->c.state, before);
}

/* tick_cb - every second: due items become ready; now and then a scan */
static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sched	*s = arg;
	struct timeval	 tv = { 1, 0 };
	time_t		 now = time(NULL);

	(void)fd;
	(void)ev;
	if (s->draining)
		return;
	while (s->nheap > 0 && s->heap[0]->due <= now)
		sched_item_due(s, s->heap[0], 0);
	if (now - s->last_scan >= SCAN_SECONDS)
		sched_scan(s);
	if (s->c.conf->tlsrpt && s->c.state != NULL)
		expire_tlsrpt(s);
	if (s->peak >= 64 && s->nconn < s->peak / 4) {
		/* After a burst of sessions, give the memory back. */
		malloc_trim(0);
		s->peak = s->nconn;
	}
	evtimer_add(s->tick, &tv);
}

/*
 * sched_new - a scheduler that reads the queue now and runs from there;
 * NULL (logged) when it cannot start
 */
struct sched *
sched_new(struct event_base *base, const struct sched_conf *c)
{
	struct sched	*s;
	struct timeval	 tv = { 1, 0 };
	char		 err[256];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warnx("scheduler: out of memory");
		return NULL;
	}
	s->base = base;
	s->c = *c;
	TAILQ_INIT(&s->runq);
	TAILQ_INIT(&s->conns);
	if ((s->tick = evtimer_new(base, tick_cb, s)) == NULL ||
	    (s->kick = evtimer_new(base, kick_cb, s)) == NULL) {
		log_warnx("scheduler: out of memory");
		sched_free(s);
		return NULL;
	}
	if ((s->workers = queue_workers_new_threads(base, c->q,
	    BOUNCE_THREADS, err, sizeof(err))) == NULL) {
		log_warnx("scheduler: %s", err);
		sched_free(s);
		return NULL;
	}
	sched_scan(s);
	log_info("queue: %zu messages, %zu waiting for a retry", s->msgs.n,
	    s->nheap);
	evtimer_add(s->tick, &tv);
	sched_kick(s);
	return s;
}

/* sched_kick - dispatch soon, from the loop, never inside a callback */
void
sched_kick(struct sched *s)
{
	struct timeval	 tv = { 0, 0 };

	if (!s->draining && !evtimer_pending(s->kick, NULL))
		evtimer_add(s->kick, &tv);
}

/* sched_enqueue - a message was just committed to the queue */
void
sched_enqueue(struct sched *s, const char *id)
{
	sched_index_load(s, id);
}

static void
lift_hold(const char *key, void *val, void *arg)
{
	struct dest	*d = val;

	(void)key;
	(void)arg;
	d->hold_until = 0;
}

/* sched_flush - lift every hold and read the queue again (SIGUSR1) */
void
sched_flush(struct sched *s)
{
	struct qmsg	**ms = NULL;
	char		**ids, err[256];
	size_t		 n, i, k = 0;

	htab_foreach(&s->dests, lift_hold, NULL);
	/* Reread every message not in flight: next tries, holds, deletes. */
	if (queue_list(s->c.q, &ids, &n, err, sizeof(err)) == -1) {
		log_warnx("queue: %s", err);
		return;
	}
	if (n > 0 && (ms = calloc(n, sizeof(*ms))) == NULL) {
		/* What is known stays as it is; new ones are read. */
		log_warnx("flush: out of memory: holds lifted, the queue is "
		    "only scanned");
		queue_list_free(ids, n);
		sched_scan(s);
		sched_kick(s);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((ms[k] = htab_get(&s->msgs, ids[i])) == NULL)
			continue;
		if (ms[k]->active == 0)
			k++;
		else			/* in flight: what a hold dropped */
			sched_msg_refresh(s, ms[k]);
	}
	for (i = 0; i < k; i++)
		sched_msg_drop(s, ms[i], 0);
	free(ms);
	for (i = 0; i < n; i++)
		sched_index_load(s, ids[i]);
	queue_list_free(ids, n);
	log_info("flush: holds lifted, queue read again (%zu messages)",
	    s->msgs.n);
	sched_kick(s);
}

/* sched_flush_all - everything waiting is due now (SIGUSR2: queue flush) */
void
sched_flush_all(struct sched *s)
{
	size_t	 n = s->nheap;

	htab_foreach(&s->dests, lift_hold, NULL);
	while (s->nheap > 0) {
		s->heap[0]->force = 1;	/* the envelope's next try is later */
		sched_item_due(s, s->heap[0], 0);
	}
	sched_scan(s);
	log_info("flush: holds lifted, %zu waiting deliveries due now", n);
	sched_kick(s);
}

/* sched_drain - start nothing new; running deliveries finish */
void
sched_drain(struct sched *s)
{
	s->draining = 1;
	evtimer_del(s->tick);
	evtimer_del(s->kick);
	sched_conn_drain(s);
}

/*
 * sched_active - deliveries with a message in flight, connections still
 * saying QUIT, and bounces being committed: the relay stops once none
 * is left (or after its drain time), so that their memory goes back
 * inside the event loop and no bounce is committed without its message
 * being removed
 */
size_t
sched_active(const struct sched *s)
{
	return s->nbusy + s->nbounce + sched_conn_quitting();
}

/*
 * sched_free - abort what still runs (its recipients stay pending); the
 * bounces being committed end first, and their messages leave the queue
 */
void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	s->draining = 1;
	sched_conn_free_all(s);
	if (s->workers != NULL) {
		queue_workers_wait(s->workers);	/* runs bounce_done() */
		queue_workers_free(s->workers);
	}
	sched_index_free(s);
	htab_free(&s->bouncing);
	if (s->tick != NULL)
		event_free(s->tick);
	if (s->kick != NULL)
		event_free(s->kick);
	free(s);
}

struct flush_ctx {
	const char	 *key;
	struct dest	**d;
	size_t		  n, cap;
};

/* flush_match - a destination whose name is the memory's key */
static void
flush_match(const char *name, void *val, void *arg)
{
	struct flush_ctx	*c = arg;
	char			 key[STATE_DOMAIN_MAX];

	if (c->n < c->cap && destmem_domain_key(name, key, sizeof(key)) == 0 &&
	    strcmp(key, c->key) == 0)
		c->d[c->n++] = val;
}

/* flush_one - d's hold is lifted and its waiting items are due now */
static void
flush_one(struct sched *s, struct dest *d)
{
	struct item	**its;
	size_t		  i, n = 0;

	d->hold_until = 0;
	if (s->nheap > 0 && (its = calloc(s->nheap, sizeof(*its))) != NULL) {
		for (i = 0; i < s->nheap; i++)
			if (s->heap[i]->dst == d)
				its[n++] = s->heap[i];
		for (i = 0; i < n; i++) {
			its[i]->force = 1;
			sched_item_due(s, its[i], 0);
		}
		free(its);
	}
	log_info("%s: hold lifted, %zu waiting deliveries due now", d->name,
	    n);
}

/*
 * sched_flush_dest - the operator accepted the downgrade of the domain
 * the destination memory calls key (src/destmem: a next hop's name,
 * lowercase, without brackets or port): every destination of that name
 * ("example.org", "[mx.example.org]:2525", "Example.ORG:25" all are
 * mx.example.org or example.org's) has its hold lifted and its waiting
 * items due now.
 */
void
sched_flush_dest(struct sched *s, const char *key)
{
	struct flush_ctx	 c;
	size_t			 i;

	memset(&c, 0, sizeof(c));
	c.key = key;
	c.cap = s->dests.n;
	if (c.cap == 0 || (c.d = calloc(c.cap, sizeof(*c.d))) == NULL)
		return;
	htab_foreach(&s->dests, flush_match, &c);
	for (i = 0; i < c.n; i++)
		flush_one(s, c.d[i]);
	free(c.d);
	if (c.n > 0)
		sched_kick(s);
}
