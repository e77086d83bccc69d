/*
 * pickup.c - moves drops from maildrop/ (queue/maildrop.c: danemx
 * sendmail run by users who cannot write the queue) into the queue.
 *
 * Every second, at most PICKUP_BATCH drops are read, checked as the
 * untrusted input they are (any local user wrote them), given a
 * Received header with the dropping user's uid (from the file's owner,
 * which the user cannot forge), queued with queue_commit() and removed;
 * the scheduler is told at once. A drop that is malformed or too large
 * is logged and removed; one that cannot be queued now (a full disk)
 * stays for the next round.
 *
 * Ownership: the pickup owns its timer; the queue, the configuration
 * and the scheduler are borrowed from danemx serve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log/log.h"
#include "server/server.h"
#include "util/util.h"

#define PICKUP_BATCH	100	/* drops per round: the loop stays live */

struct pickup {
	struct event_base	*base;
	struct queue		*q;
	const struct dmx_conf	*conf;
	struct sched		*sched;
	const char		*host;
	struct event		*tick;
};

/* pick_one - queue one drop; -1 if the queue cannot take it now */
static int
pick_one(struct pickup *p, const char *name)
{
	struct queue_drop	 d;
	struct queue_writer	*w;
	struct buf		 rcv;
	char			 err[256], id[QUEUE_ID_LEN + 1], date[64];
	time_t			 now = time(NULL);

	if (queue_maildrop_read(p->q, name, p->conf->message_size_limit, &d,
	    err, sizeof(err)) == -1) {
		log_warnx("maildrop: %s: refused: %s; removed", name, err);
		queue_maildrop_remove(p->q, name);
		return 0;
	}
	if ((w = queue_writer_new(p->q, err, sizeof(err))) == NULL) {
		log_warnx("maildrop: %s: cannot queue it now: %s", name, err);
		queue_drop_free(&d);
		return -1;
	}
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
	if (queue_commit(w, d.sender, (const char * const *)d.rcpts, d.nrcpt,
	    id, err, sizeof(err)) == -1) {
		log_warnx("maildrop: %s: cannot queue it now: %s", name, err);
		queue_drop_free(&d);
		return -1;
	}
	/* Queued: a crash before the unlink means one duplicate, never a
	 * loss (at least once). */
	queue_maildrop_remove(p->q, name);
	log_info("%s: from=<%s>, nrcpt=%zu, size=%zu, uid=%u (maildrop)", id,
	    d.sender, d.nrcpt, d.msglen, d.uid);
	queue_drop_free(&d);
	if (p->sched != NULL)
		sched_enqueue(p->sched, id);
	return 0;
}

/* pickup_run - one round now */
void
pickup_run(struct pickup *p)
{
	char		**names, err[256];
	size_t		 n, i;

	if (queue_maildrop_list(p->q, &names, &n, err, sizeof(err)) == -1) {
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
	evtimer_add(p->tick, &tv);
}

/* pickup_new - pick up drops every second, starting now */
struct pickup *
pickup_new(struct event_base *base, struct queue *q,
    const struct dmx_conf *conf, struct sched *sched, const char *host)
{
	struct pickup	*p;
	struct timeval	 tv = { 0, 0 };

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base = base;
	p->q = q;
	p->conf = conf;
	p->sched = sched;
	p->host = host;
	if ((p->tick = evtimer_new(base, tick_cb, p)) == NULL) {
		free(p);
		return NULL;
	}
	evtimer_add(p->tick, &tv);
	return p;
}

/* pickup_free - stop picking up */
void
pickup_free(struct pickup *p)
{
	if (p == NULL)
		return;
	event_free(p->tick);
	free(p);
}
