/*
 * pickup.c - moves drops from maildrop/ (queue/maildrop.c: danemx
 * sendmail run by users who cannot write the queue) into the queue.
 *
 * Every second, unless the last round's commits are still running, at
 * most PICKUP_BATCH drops are read on the loop, checked as the
 * untrusted input they are (any local user wrote them, and the relay's
 * own user may have too), given a Received header with the dropping
 * user's uid (from the file's owner, which the user cannot forge) and
 * written to a queue file; the commit (its fsyncs) runs on a worker
 * thread (queue/queue_workers.c) and, once it is durable, the drop is
 * removed and the scheduler told. A drop that is malformed or too large
 * is logged and removed; one that cannot be queued now (below the
 * free-space reserve, a full disk) stays for a later round. Entries that are not
 * drops at all (directories, FIFOs, links) never take a drop's place in
 * a round; each is logged once (queue_maildrop_list()).
 *
 * Ownership: the pickup owns its timer, its commit workers and each
 * job's context until the job's callback; the queue, the configuration and
 * the scheduler are borrowed from danemx serve.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log/log.h"
#include "sched/sched.h"
#include "server/server.h"
#include "util/util.h"

#define PICKUP_BATCH	100	/* drops per round: the loop stays live */
#define PICKUP_THREADS	2	/* commit workers */
#define JUNK_REMEMBER	10000	/* entries not logged twice */

struct pickup {
	struct event_base	*base;
	struct queue		*q;
	const struct dmx_conf	*conf;
	struct sched		*sched;
	const char		*host;
	struct event		*tick;
	struct queue_workers	*workers;
	size_t			 inflight;	/* commits running */
	int			 stopped;
	struct htab		 junk;		/* names already logged */
	TAILQ_HEAD(, pick)	 picks;		/* being committed */
};

/* A drop being committed. */
struct pick {
	TAILQ_ENTRY(pick)	 entry;
	struct pickup	*p;
	char		 name[64];
	char		*sender;
	size_t		 nrcpt, msglen;
	unsigned	 uid;
	int		 tls_required_no;	/* asked for (RFC 8689) */
};

/* junk_cb - something that is not a drop: say so once */
static void
junk_cb(void *arg, const char *name, const char *what, unsigned uid,
    const char *done)
{
	struct pickup	*p = arg;

	if (htab_get(&p->junk, name) != NULL)
		return;
	log_warnx("maildrop: %s: not a drop but a %s of uid %u: %s", name,
	    what, uid, done);
	if (p->junk.n < JUNK_REMEMBER)
		htab_put(&p->junk, name, p);
}

/* pick_done - on the loop thread: the drop's commit has ended */
static void
pick_done(void *arg, int ok, const char *id, const char *err)
{
	struct pick	*k = arg;
	struct pickup	*p = k->p;
	char		 done[160];

	p->inflight--;
	TAILQ_REMOVE(&p->picks, k, entry);
	if (!ok)
		log_warnx("maildrop: %s: cannot queue it now: %s", k->name, err);
	else {
		/* Queued: a crash before the removal means one duplicate,
		 * never a loss (at least once). */
		queue_maildrop_remove(p->q, k->name, done, sizeof(done));
		log_info("%s: from=<%s>, nrcpt=%zu, size=%zu, uid=%u%s "
		    "(maildrop)", id, k->sender, k->nrcpt, k->msglen, k->uid,
		    k->tls_required_no ? ", tls-required=no" : "");
		if (p->sched != NULL)
			sched_enqueue(p->sched, id);
	}
	free(k->sender);
	free(k);
}

/* pick_one - read one drop and start its commit; -1: stop the round */
static int
pick_one(struct pickup *p, const char *name)
{
	struct queue_drop	 d;
	struct queue_writer	*w;
	struct pick		*k;
	struct buf		 rcv;
	char			 err[256], date[64], done[160];
	time_t			 now = time(NULL);

	if (queue_maildrop_read(p->q, name, p->conf->message_size_limit, &d,
	    err, sizeof(err)) == -1) {
		queue_maildrop_remove(p->q, name, done, sizeof(done));
		log_warnx("maildrop: %s: refused: %s; %s", name, err, done);
		return 0;
	}
	if (!queue_space_ok(p->q, d.msglen, "maildrop")) {
		queue_drop_free(&d);
		return -1;
	}
	if ((w = queue_writer_new(p->q, err, sizeof(err))) == NULL) {
		log_warnx("maildrop: %s: cannot queue it now: %s", name, err);
		queue_drop_free(&d);
		return -1;
	}
	/* A local user's own message (danemx sendmail): RFC 8689's
	 * TLS-Required: No may weaken it, unless danemx.conf says no. */
	if (p->conf->tls_required_header)
		queue_writer_honour_tls(w);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	buf_init(&rcv, 1024);
	buf_printf(&rcv, "Received: by %s (danemx, from userid %u)\r\n\tid %s; "
	    "%s\r\n", p->host, d.uid, queue_writer_id(w), date);
	if (queue_writer_add(w, rcv.data, rcv.len) == -1 ||
	    queue_writer_add(w, d.msg, d.msglen) == -1) {
		queue_writer_abort(w);
		log_warnx("maildrop: %s: cannot queue it now: write failed",
		    name);
		buf_free(&rcv);
		queue_drop_free(&d);
		return -1;
	}
	buf_free(&rcv);
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->sender = strdup(d.sender)) == NULL) {
		free(k);
		queue_writer_abort(w);
		queue_drop_free(&d);
		return -1;
	}
	k->p = p;
	strlcpy_(k->name, name, sizeof(k->name));
	k->nrcpt = d.nrcpt;
	k->msglen = d.msglen;
	k->uid = d.uid;
	k->tls_required_no = queue_writer_tls_required_no(w);
	if (queue_workers_submit(p->workers, w, d.sender,
	    (const char * const *)d.rcpts, d.nrcpt, pick_done, k) == NULL) {
		queue_writer_abort(w);
		free(k->sender);
		free(k);
		queue_drop_free(&d);
		return -1;
	}
	p->inflight++;
	TAILQ_INSERT_TAIL(&p->picks, k, entry);
	queue_drop_free(&d);
	return 0;
}

/* pickup_run - one round now, unless the last one is still committing */
void
pickup_run(struct pickup *p)
{
	char		**names, err[256];
	size_t		 n, i;

	if (p->stopped || p->inflight > 0)
		return;
	if (queue_maildrop_list(p->q, &names, &n, junk_cb, p, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return;
	}
	for (i = 0; i < n && i < PICKUP_BATCH; i++)
		if (pick_one(p, names[i]) == -1)
			break;
	queue_list_free(names, n);
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct pickup	*p = arg;
	struct timeval	 tv = { 1, 0 };

	(void)fd;
	(void)ev;
	pickup_run(p);
	if (!p->stopped)
		evtimer_add(p->tick, &tv);
}

/* pickup_new - pick up drops every second, starting now */
struct pickup *
pickup_new(struct event_base *base, struct queue *q,
    const struct dmx_conf *conf, struct sched *sched, const char *host)
{
	struct pickup	*p;
	struct timeval	 tv = { 0, 0 };
	char		 err[256];

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base = base;
	p->q = q;
	p->conf = conf;
	p->sched = sched;
	p->host = host;
	TAILQ_INIT(&p->picks);
	if ((p->workers = queue_workers_new_threads(base, q, PICKUP_THREADS,
	    err, sizeof(err))) == NULL) {
		log_warnx("maildrop: %s", err);
		free(p);
		return NULL;
	}
	if ((p->tick = evtimer_new(base, tick_cb, p)) == NULL) {
		queue_workers_free(p->workers);
		free(p);
		return NULL;
	}
	evtimer_add(p->tick, &tv);
	return p;
}

/* pickup_stop - start no more rounds; the commits running go on */
void
pickup_stop(struct pickup *p)
{
	if (p == NULL)
		return;
	p->stopped = 1;
	evtimer_del(p->tick);
}

/* pickup_busy - commits still running (the relay waits for them) */
size_t
pickup_busy(const struct pickup *p)
{
	return p != NULL ? p->inflight : 0;
}

/*
 * pickup_free - stop picking up. Commits still running complete (the
 * workers wait for them), but their drops are not removed: they are
 * queued again at the next start (at least once).
 */
void
pickup_free(struct pickup *p)
{
	struct pick	*k;

	if (p == NULL)
		return;
	event_free(p->tick);
	queue_workers_free(p->workers);	/* no callback runs */
	while ((k = TAILQ_FIRST(&p->picks)) != NULL) {
		TAILQ_REMOVE(&p->picks, k, entry);
		free(k->sender);
		free(k);
	}
	htab_free(&p->junk);
	free(p);
}
