/*
 * sched_conn.c - connections: dispatch from the run queue, a delivery
 * per connection (deliver_start()), the session kept for the
 * destination's next messages, parking, and closing.
 *
 * A connection (struct conn) is one delivery with its route and its
 * (DANE-authenticated) SMTP session. When a message is done and the
 * session is still sound, the connection takes the destination's next
 * ready item over the same session, or waits CONN_IDLE_MS for one, so
 * a stream of messages to one destination costs one DNS route and one
 * handshake per connection, not per message (RFC 7672 3.1: the session
 * was authenticated for this destination; nothing is reused across
 * destinations). A DANE or DNSSEC failure, or a delivery in which no
 * host answered, holds the destination until the next retry, so it is
 * not hammered.
 *
 * Every call into the delivery engine (deliver_start(),
 * deliver_next_msg(), deliver_quit(), deliver_abort(), the smtp client's
 * count of sessions saying QUIT) is in this file; sched_result.c reads
 * the result.
 *
 * Ownership: a connection owns its delivery until deliver_quit() or
 * deliver_abort() (or until the result says the session is gone) and
 * its job until the job's result is written; conn_free() frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "destmem/destmem.h"
#include "log/log.h"
#include "sched/sched_int.h"
#include "tlsrpt/tlsrpt.h"
#include "util/util.h"

#define CONN_IDLE_MS	2000	/* a parked session waits this long */
#define CONN_MSGS_MAX	1000	/* messages over one connection */
#define CONN_AGE_MAX	300	/* seconds one connection may be reused */
#ifndef CONN_BACKLOG
#define CONN_BACKLOG	2	/* ready messages per open connection before */
#endif				/* another one is opened */

static int	conn_take(struct conn *);
static void	conn_free(struct conn *);

/* dest_can_run - could dispatch start something for d now? */
static int
dest_can_run(const struct sched *s, const struct dest *d)
{
	if (d->nready == 0 || s->draining)
		return 0;
	if (TAILQ_FIRST(&d->idle) != NULL)
		return 1;
	/* Another connection only for a backlog the open ones cannot
	 * take soon: each reuses its session for the next message. */
	return d->nconn < s->c.conf->dest_concurrency &&
	    s->nconn < s->c.conf->max_deliveries &&
	    d->nready > CONN_BACKLOG * d->nconn;
}

static void
conn_idle_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	TAILQ_REMOVE(&c->dst->idle, c, ientry);
	c->parked = 0;
	deliver_quit(c->d);
	c->d = NULL;
	conn_free(c);
}

/* conn_park - wait a little for another message to this destination */
static void
conn_park(struct conn *c)
{
	struct timeval	 tv = { CONN_IDLE_MS / 1000, (CONN_IDLE_MS % 1000) * 1000 };

	c->parked = 1;
	TAILQ_INSERT_TAIL(&c->dst->idle, c, ientry);
	evtimer_add(c->idle_ev, &tv);
}

static void
conn_unpark(struct conn *c)
{
	if (!c->parked)
		return;
	c->parked = 0;
	TAILQ_REMOVE(&c->dst->idle, c, ientry);
	evtimer_del(c->idle_ev);
}

/* conn_free - the connection is over (its delivery already gone) */
static void
conn_free(struct conn *c)
{
	struct sched	*s = c->s;
	struct dest	*d = c->dst;

	conn_unpark(c);
	if (c->d != NULL)
		deliver_abort(c->d);
	sched_job_free(c->job);
	TAILQ_REMOVE(&s->conns, c, entry);
	s->nconn--;
	d->nconn--;
	event_free(c->idle_ev);
	free(c);
	sched_runq_add(s, d);
	sched_dest_maybe_free(s, d);
	sched_kick(s);
}

/* conn_done - a message's delivery finished over connection c */
static void
conn_done(void *arg, struct deliver_result *r)
{
	struct job	*j = arg;
	struct conn	*c = j->c;
	struct sched	*s = c->s;
	struct dest	*dst = c->dst;
	time_t		 now = time(NULL);

	c->job = NULL;
	s->nbusy--;
	/* TLS reporting: the store merges and writes off the loop. A
	 * message that said TLS-Required: No records nothing. */
	if (s->c.conf->tlsrpt && s->c.state != NULL && !j->tls_required_no &&
	    !r->held)
		tlsrpt_record(s->c.state, r, tlsrpt_now());
	/* The destination's memory counts it (merged; written later). */
	if (s->c.destmem != NULL)
		destmem_count(s->c.destmem, r);
	sched_count_result(s, r);
	sched_job_result(s, j, r);
	sched_job_free(j);
	if (deliver_result_hold(r)) {
		/* DANE, DNSSEC, MTA-STS or DNS failed, or no host answered:
		 * do not hammer it (see above); Postfix calls the latter a
		 * dead host. */
		dst->hold_until = now + sched_backoff(s, 1);
		strlcpy_(dst->hold_why, r->why, sizeof(dst->hold_why));
		log_info("%s: held until the next retry (%llds): %s", dst->name,
		    (long long)(dst->hold_until - now), r->why);
	}
	if (!r->kept) {
		c->d = NULL;		/* it is gone */
		deliver_result_free(r);
		conn_free(c);
		return;
	}
	deliver_result_free(r);
	if (s->draining || dst->hold_until > now || c->nmsg >= CONN_MSGS_MAX ||
	    now - c->opened >= CONN_AGE_MAX) {
		deliver_quit(c->d);
		c->d = NULL;
		conn_free(c);
		return;
	}
	/* The session is sound and authenticated: the next message, or
	 * wait a little for one. */
	if (conn_take(c) == -1)
		conn_park(c);
}

/* conn_take - start c's destination's next ready item; -1 if none */
static int
conn_take(struct conn *c)
{
	struct sched		*s = c->s;
	struct deliver_env	 env;
	struct deliver_conf	 dc;
	struct deliver_msg	 dm;
	struct item		*it;
	struct job		*j;
	char			 err[256];
	time_t			 now = time(NULL);

	for (;;) {
		if ((it = TAILQ_FIRST(&c->dst->ready)) == NULL)
			return -1;
		if ((j = sched_job_load(s, it)) != NULL)
			break;
	}
	j->c = c;
	c->job = j;
	c->nmsg++;
	s->nbusy++;
	if (c->d != NULL) {
		memset(&dm, 0, sizeof(dm));
		dm.mail_from = j->sender;
		dm.rcpts = (const char * const *)j->rcpts;
		dm.nrcpt = j->nrcpt;
		dm.body.len = j->msglen;
		dm.body.read = sched_job_body_read;
		dm.body.arg = j;
		dm.arg = j;
		if (deliver_next_msg(c->d, &dm) == 0)
			return 0;
		/* Out of memory: the message waits, the connection goes. */
		log_warnx("%s: cannot go on over the connection to %s: out of "
		    "memory", j->id, c->dst->name);
		c->job = NULL;
		s->nbusy--;
		j->it->m->active--;
		j->it->busy = 0;
		sched_item_due(s, j->it, now + sched_backoff(s, 1));
		sched_job_free(j);
		deliver_quit(c->d);
		c->d = NULL;
		return -1;
	}
	memset(&env, 0, sizeof(env));
	env.conf = s->c.conf;
	env.policy = s->c.policy;
	env.bypass = s->c.bypass;
	env.dane_ctx = s->c.dane_ctx;
	env.pkix_ctx = s->c.pkix_ctx;
	env.sts = s->c.sts;
	env.helo = s->c.helo;
	env.tls_required_no = j->tls_required_no;
	if (s->c.self != NULL) {
		env.is_self = sched_selfaddr_match;
		env.self_arg = s->c.self;
	}
	env.transport = s->c.transport;
	env.relayhost = s->c.conf->relayhost;
	/* The item is where its domain goes now (sched_job_load()). */
	(void)deliver_conf_route(&dc, &env, j->it->domain, SMTP_JOB_SEND, now);
	dc.mail_from = j->sender;
	dc.rcpts = (const char * const *)j->rcpts;
	dc.nrcpt = j->nrcpt;
	dc.body.len = j->msglen;
	dc.body.read = sched_job_body_read;
	dc.body.arg = j;
	dc.log = 1;
	dc.reuse = !j->tls_required_no;	/* relaxed for it alone */
	dc.msgid = j->id;
	dc.done = conn_done;
	dc.arg = j;
	/* A downgrade may hold the destination (not a message that said
	 * TLS-Required: No). */
	if (s->c.destmem != NULL && !j->tls_required_no) {
		dc.route_check = destmem_check;
		dc.route_check_arg = s->c.destmem;
	}
	if ((c->d = deliver_start(s->base, s->c.res, &dc, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s: cannot start delivery to %s: %s", j->id,
		    c->dst->name, err);
		c->job = NULL;
		s->nbusy--;
		j->it->m->active--;
		j->it->busy = 0;
		sched_item_due(s, j->it, now + sched_backoff(s, 1));
		sched_job_free(j);
		return -1;
	}
	return 0;
}

/*
 * conn_start - a new connection to d for its next ready item. Out of
 * memory, d's ready items wait for the next retry (logged), so that
 * dispatch does not try again at once.
 */
static void
conn_start(struct sched *s, struct dest *d)
{
	struct conn	*c;
	struct item	*it;
	time_t		 now = time(NULL);

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->idle_ev = evtimer_new(s->base, conn_idle_cb, c)) == NULL) {
		free(c);
		log_warnx("%s: out of memory: cannot open a connection; "
		    "its %zu ready messages stay queued for %llds", d->name,
		    d->nready, (long long)sched_backoff(s, 1));
		while ((it = TAILQ_FIRST(&d->ready)) != NULL)
			sched_item_due(s, it, now + sched_backoff(s, 1));
		return;
	}
	c->s = s;
	c->dst = d;
	c->opened = now;
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->nconn++;
	d->nconn++;
	if (s->nconn > s->peak)
		s->peak = s->nconn;
	if (conn_take(c) == -1)
		conn_free(c);
}

/*
 * hold_ready - a held destination's ready items wait out the hold, but
 * those of messages that asked for TLS-Required: No (RFC 8689): the
 * DANE or MTA-STS failure that held it does not stop them
 */
static void
hold_ready(struct sched *s, struct dest *d)
{
	struct item	*it, *next;

	for (it = TAILQ_FIRST(&d->ready); it != NULL; it = next) {
		next = TAILQ_NEXT(it, rentry);
		if (it->m->tls_required_no)
			continue;
		sched_note_held(s, it);
		sched_item_unlink(s, it);
		it->due = d->hold_until;	/* even if that just passed */
		it->st = IT_WAIT;
		sched_heap_push(s, it);
	}
}

/* close_one_parked - free a global slot held by an idle connection */
static int
close_one_parked(struct sched *s)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &s->conns, entry) {
		if (!c->parked)
			continue;
		conn_unpark(c);
		deliver_quit(c->d);
		c->d = NULL;
		conn_free(c);
		return 0;
	}
	return -1;
}

/*
 * sched_dispatch - start work for the destinations on the run queue, round
 * robin: a destination that starts something goes to the tail, one
 * that cannot (at its limits) keeps its place, so the next free slot
 * goes to the destination that has waited longest. Idle connections
 * give their slot up to a destination that has none. Destinations on
 * the run queue are never freed (sched_dest_maybe_free()), so the walk is
 * safe; entries appended meanwhile are visited in the same walk.
 */
void
sched_dispatch(struct sched *s)
{
	struct dest	*d, *next;
	struct conn	*c;

	for (d = TAILQ_FIRST(&s->runq); d != NULL && !s->draining; d = next) {
		next = TAILQ_NEXT(d, rentry);
		if (d->nready > 0 && d->hold_until > time(NULL))
			hold_ready(s, d);
		if (d->nready == 0) {
			TAILQ_REMOVE(&s->runq, d, rentry);
			d->in_runq = 0;
			sched_dest_maybe_free(s, d);
			continue;
		}
		if (!dest_can_run(s, d) && !(TAILQ_EMPTY(&d->idle) &&
		    d->nconn < s->c.conf->dest_concurrency &&
		    d->nready > CONN_BACKLOG * d->nconn &&
		    s->nconn >= s->c.conf->max_deliveries &&
		    close_one_parked(s) == 0))
			continue;		/* keeps its place */
		TAILQ_REMOVE(&s->runq, d, rentry);
		d->in_runq = 0;
		d->pinned++;
		if ((c = TAILQ_FIRST(&d->idle)) != NULL) {
			conn_unpark(c);
			if (conn_take(c) == -1)
				conn_park(c);
		} else
			conn_start(s, d);
		d->pinned--;
		if (d->nready > 0 && !d->in_runq) {
			d->in_runq = 1;		/* round robin */
			TAILQ_INSERT_TAIL(&s->runq, d, rentry);
			if (next == NULL)
				next = d;
		}
		sched_dest_maybe_free(s, d);
	}
}

/* sched_conn_drain - close the parked connections (SIGTERM) */
void
sched_conn_drain(struct sched *s)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->parked) {
			conn_unpark(c);
			deliver_quit(c->d);
			c->d = NULL;
			conn_free(c);
		}
	}
}

/* sched_conn_free_all - abort every connection (the scheduler goes) */
void
sched_conn_free_all(struct sched *s)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		conn_unpark(c);
		TAILQ_REMOVE(&s->conns, c, entry);
		if (c->d != NULL)
			deliver_abort(c->d);
		sched_job_free(c->job);
		event_free(c->idle_ev);
		free(c);
	}
	smtp_client_quitting_free();
}

/* sched_conn_quitting - sessions still saying QUIT */
size_t
sched_conn_quitting(void)
{
	return smtp_client_quitting();
}
