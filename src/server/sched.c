/*
 * sched.c - the delivery scheduler: from the queue to deliver_start().
 *
 * The queue is indexed in memory, so no work per message grows with the
 * queue's size. Each message's pending
 * recipients are grouped by destination domain into items. An item is
 * ready (in its destination's FIFO), waiting (in a heap ordered by its
 * next try) or active (in a delivery). A destination with ready items
 * goes on the run queue, which is served round robin, within
 * max_deliveries connections in all and dest_concurrency per
 * destination.
 *
 * A connection (struct conn) is one delivery with its route and its
 * (DANE-authenticated) SMTP session. When a message is done and the
 * session is still sound, the connection takes the destination's next
 * ready item over the same session, or waits CONN_IDLE_MS for one, so
 * a stream of messages to one destination costs one DNS route and one
 * handshake per connection, not per message (RFC 7672 3.1: the session
 * was authenticated for this destination; nothing is reused across
 * destinations).
 *
 * Results go to the envelope on disk: sent, failed (5xx, or the queue
 * lifetime passed) or deferred with exponential backoff. A DANE or
 * DNSSEC failure is always a deferral, never a bounce, and holds the
 * destination until the next retry so it is not hammered; so does a
 * delivery in which no host answered (all down). When every
 * recipient is final the message leaves the queue, after a DSN to the
 * sender if any recipient failed (never for a bounce: its sender is the
 * null sender).
 *
 * What other processes do to the queue is found by a directory scan
 * every SCAN_SECONDS (messages from danemx sendmail, held messages
 * released; deleted ones are noticed when due) and by a flush (SIGUSR1:
 * danemx queue flush and release), which lifts every hold and reads the
 * queue again. The scan lists msg/ and env/ (readdirs, no envelope reads), the
 * only per-tick work that grows with the queue.
 *
 * A job does not hold its message: the SMTP client reads the body from
 * msg/ID a chunk at a time as it sends (job_body_read()), so memory per
 * delivery does not grow with the message. The file is open while it is
 * being read (counted for SIZE=, sent after DATA) and closed once read
 * to its end.
 *
 * Ownership: the scheduler owns the index (messages, items,
 * destinations), its connections and their jobs; a job owns the
 * descriptor of its message file while it is open. Envelopes are
 * reloaded from disk before every update, so jobs of one message for
 * several domains never overwrite each other's results (one thread, one
 * loop).
 */
#include <sys/queue.h>

#include <ctype.h>
#include <malloc.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log/log.h"
#include "server/server.h"
#include "util/util.h"

#define SCAN_SECONDS	5	/* look for messages queued by others */
#define DSN_HEAD_MAX	(256 * 1024)	/* a message's start, for a DSN */
#define CONN_IDLE_MS	2000	/* a parked session waits this long */
#define CONN_MSGS_MAX	1000	/* messages over one connection */
#define CONN_AGE_MAX	300	/* seconds one connection may be reused */
#ifndef CONN_BACKLOG
#define CONN_BACKLOG	2	/* ready messages per open connection before */
#endif				/* another one is opened */

struct item;
struct conn;

/* A queued message the index knows. */
struct qmsg {
	char			 id[QUEUE_ID_LEN + 1];
	TAILQ_HEAD(, item)	 items;
	size_t			 active;	/* items in flight */
	int			 held;		/* queue hold: never due */
};

enum item_state { IT_READY, IT_WAIT, IT_ACTIVE };

/* A message's pending recipients at one domain. */
struct item {
	TAILQ_ENTRY(item)	 mentry;	/* qmsg->items */
	TAILQ_ENTRY(item)	 rentry;	/* dest->ready when ready */
	struct qmsg		*m;
	struct dest		*dst;
	char			*domain;	/* the recipients' domain */
	time_t			 due;
	size_t			 hidx;		/* in the heap when waiting */
	enum item_state		 st;
	int			 busy;		/* a job is sending it */
	int			 force;		/* flushed: due whatever the
						   envelope says */
};

/* A destination: the recipient domain, or the relayhost. */
struct dest {
	char			 name[DMX_NAME_MAX];
	TAILQ_HEAD(, item)	 ready;
	size_t			 nready, nitems, nconn;
	TAILQ_HEAD(, conn)	 idle;
	time_t			 hold_until;
	char			 hold_why[300];
	int			 in_runq;
	int			 pinned;	/* in use up the stack: keep */
	TAILQ_ENTRY(dest)	 rentry;
};

/* One message in flight over a connection. */
struct job {
	struct conn		*c;
	struct item		*it;
	char			 id[QUEUE_ID_LEN + 1];
	char			*sender;	/* owned copies */
	char			**rcpts;
	size_t			*idx;		/* into the envelope */
	size_t			 nrcpt;
	struct queue		*q;
	int			 fd;		/* msg/ID being read, or -1 */
	size_t			 msglen;	/* the body's octets */
};

/* One delivery to a destination, and its kept session. */
struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* sched->conns */
	TAILQ_ENTRY(conn)	 ientry;	/* dest->idle when parked */
	struct sched		*s;
	struct dest		*dst;
	struct deliver		*d;
	struct job		*job;		/* NULL when parked */
	struct event		*idle_ev;
	unsigned		 nmsg;
	time_t			 opened;
	int			 parked;
};

struct sched {
	struct event_base	*base;
	struct sched_conf	 c;
	struct event		*tick, *kick;
	time_t			 last_scan;
	struct htab		 msgs, dests;
	struct htab		 unreadable;	/* ids said so once */
	struct item		**heap;
	size_t			 nheap, heapcap;
	TAILQ_HEAD(, dest)	 runq;
	TAILQ_HEAD(, conn)	 conns;
	size_t			 nconn, nbusy, peak;
	int			 draining;
};

static void	kick(struct sched *);
static int	conn_take(struct conn *);
static void	conn_free(struct conn *);

static const char *
rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : addr;
}

static time_t
backoff(const struct sched *s, unsigned attempts)
{
	unsigned long	 d = s->c.conf->retry_min;

	while (attempts-- > 1 && d < s->c.conf->retry_max)
		d *= 2;
	return (time_t)(d < s->c.conf->retry_max ? d : s->c.conf->retry_max);
}

/* --- the waiting heap, ordered by due time --- */

static void
heap_swap(struct sched *s, size_t a, size_t b)
{
	struct item	*t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->hidx = a;
	s->heap[b]->hidx = b;
}

static void
heap_up(struct sched *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->due > s->heap[i]->due) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct sched *s, size_t i)
{
	size_t	 l, m;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < s->nheap && s->heap[l]->due < s->heap[m]->due)
			m = l;
		if (l + 1 < s->nheap && s->heap[l + 1]->due < s->heap[m]->due)
			m = l + 1;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void
heap_push(struct sched *s, struct item *it)
{
	struct item	**nh;
	size_t		 ncap;

	if (s->nheap == s->heapcap) {
		ncap = s->heapcap ? s->heapcap * 2 : 256;
		if ((nh = realloc(s->heap, ncap * sizeof(*nh))) == NULL)
			fatalx("scheduler: out of memory");
		s->heap = nh;
		s->heapcap = ncap;
	}
	it->hidx = s->nheap;
	s->heap[s->nheap++] = it;
	heap_up(s, it->hidx);
}

static void
heap_remove(struct sched *s, struct item *it)
{
	size_t	 i = it->hidx;

	if (i != --s->nheap) {
		heap_swap(s, i, s->nheap);
		heap_down(s, i);
		heap_up(s, i);
	}
}

/* --- destinations and the run queue --- */

static const char *
dest_name(const struct sched *s, const char *domain)
{
	return s->c.conf->relayhost ? s->c.conf->relayhost : domain;
}

static struct dest *
dest_get(struct sched *s, const char *name)
{
	struct dest	*d;

	if ((d = htab_get(&s->dests, name)) != NULL)
		return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatalx("scheduler: out of memory");
	strlcpy_(d->name, name, sizeof(d->name));
	TAILQ_INIT(&d->ready);
	TAILQ_INIT(&d->idle);
	if (htab_put(&s->dests, d->name, d) == -1)
		fatalx("scheduler: out of memory");
	return d;
}

static void
dest_maybe_free(struct sched *s, struct dest *d)
{
	if (d->nitems > 0 || d->nconn > 0 || d->pinned || d->in_runq ||
	    d->hold_until > time(NULL))
		return;
	htab_del(&s->dests, d->name);
	free(d);
}

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
runq_add(struct sched *s, struct dest *d)
{
	if (d->nready == 0)
		return;
	if (!d->in_runq) {
		d->in_runq = 1;
		TAILQ_INSERT_TAIL(&s->runq, d, rentry);
	}
	kick(s);	/* queued but blocked, it may run now */
}

/* --- items --- */

static void
item_ready(struct sched *s, struct item *it)
{
	it->st = IT_READY;
	TAILQ_INSERT_TAIL(&it->dst->ready, it, rentry);
	it->dst->nready++;
	runq_add(s, it->dst);
}

/* item_unlink - out of the ready list or the heap */
static void
item_unlink(struct sched *s, struct item *it)
{
	if (it->st == IT_READY) {
		TAILQ_REMOVE(&it->dst->ready, it, rentry);
		it->dst->nready--;
	} else if (it->st == IT_WAIT)
		heap_remove(s, it);
	it->st = IT_ACTIVE;
}

/* item_due - ready now, or wait in the heap until due */
static void
item_due(struct sched *s, struct item *it, time_t due)
{
	item_unlink(s, it);
	it->due = due;
	if (due <= time(NULL))
		item_ready(s, it);
	else {
		it->st = IT_WAIT;
		heap_push(s, it);
	}
}

static void
qmsg_free(struct sched *s, struct qmsg *m)
{
	htab_del(&s->msgs, m->id);
	free(m);
}

/* qmsg_maybe_free - forget m once nothing of it is left to do */
static void
qmsg_maybe_free(struct sched *s, struct qmsg *m)
{
	if (TAILQ_EMPTY(&m->items) && m->active == 0 && !m->held)
		qmsg_free(s, m);
}

/* item_free - forget the item (its message stays: qmsg_maybe_free()) */
static void
item_free(struct sched *s, struct item *it)
{
	struct dest	*d = it->dst;

	item_unlink(s, it);
	TAILQ_REMOVE(&it->m->items, it, mentry);
	d->nitems--;
	free(it->domain);
	free(it);
	dest_maybe_free(s, d);
}

static void
item_new(struct sched *s, struct qmsg *m, const char *domain, time_t due)
{
	struct item	*it;

	if ((it = calloc(1, sizeof(*it))) == NULL ||
	    (it->domain = strdup(domain)) == NULL)
		fatalx("scheduler: out of memory");
	it->m = m;
	it->dst = dest_get(s, dest_name(s, domain));
	it->dst->nitems++;
	it->st = IT_ACTIVE;	/* linked nowhere yet */
	TAILQ_INSERT_TAIL(&m->items, it, mentry);
	item_due(s, it, due);
}

/* pending_due - the earliest next try of domain's pending recipients */
static int
pending_due(const struct queue_env *e, const char *domain, time_t *due)
{
	size_t	 i;
	int	 any = 0;

	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING ||
		    strcasecmp(rcpt_domain(e->rcpt[i].addr), domain) != 0)
			continue;
		if (!any || e->rcpt[i].next_try < *due)
			*due = e->rcpt[i].next_try;
		any = 1;
	}
	return any;
}

/* --- bounces and removal --- */

static int
any_failed(const struct queue_env *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpt; i++)
		if (e->rcpt[i].state == RCPT_FAILED)
			return 1;
	return 0;
}

/*
 * msg_head - the start of id's body, for the DSN's text/rfc822-headers
 * part: at most DSN_HEAD_MAX octets, cut after a CRLF (headers end long
 * before). NULL when it cannot be read (the DSN goes without). Free it.
 */
static char *
msg_head(struct queue *q, const char *id, size_t *len)
{
	char	 err[256], *p, *nl;
	size_t	 blen;
	ssize_t	 r;
	int	 fd;

	if ((fd = queue_msg_open(q, id, &blen, err, sizeof(err))) == -1)
		return NULL;
	if (blen > DSN_HEAD_MAX)
		blen = DSN_HEAD_MAX;
	if ((p = malloc(blen + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	do
		r = pread(fd, p, blen, 0);
	while (r == -1 && errno == EINTR);
	close(fd);
	if (r < 0) {
		free(p);
		return NULL;
	}
	p[r] = '\0';
	if ((size_t)r == DSN_HEAD_MAX && (nl = memrchr(p, '\n', (size_t)r)) !=
	    NULL)
		r = nl - p + 1;
	p[r] = '\0';
	*len = (size_t)r;
	return p;
}

/* finalize - every recipient is final: bounce if needed, then remove */
static void
finalize(struct sched *s, struct queue_env *e)
{
	struct queue_writer	*w;
	struct buf		 dsn;
	const char		*to[1];
	char			 err[256], id[QUEUE_ID_LEN + 1], *orig = NULL;
	size_t			 i, nfail = 0, olen = 0;

	for (i = 0; i < e->nrcpt; i++)
		if (e->rcpt[i].state == RCPT_FAILED)
			nfail++;
	if (nfail > 0 && e->sender[0] == '\0') {
		log_info("%s: bounce not returned: the sender is the null "
		    "sender", e->id);
	} else if (nfail > 0 && !e->dsn_sent) {
		orig = msg_head(s->c.q, e->id, &olen);
		buf_init(&dsn, 2 * 1024 * 1024 + olen);
		to[0] = e->sender;
		if ((w = queue_writer_new(s->c.q, err, sizeof(err))) == NULL)
			goto fail;
		queue_writer_use_reserve(w);	/* the queue's own write */
		if (dsn_build(&dsn, e, orig, olen, s->c.helo, time(NULL)) == -1 ||
		    queue_writer_add(w, dsn.data, dsn.len) == -1) {
			snprintf(err, sizeof(err), "cannot write it");
			queue_writer_abort(w);
			goto fail;
		}
		if (queue_commit(w, "", to, 1, id, err, sizeof(err)) == -1)
			goto fail;
		buf_free(&dsn);
		free(orig);
		log_info("%s: sender non-delivery notification: %s", e->id, id);
		sched_enqueue(s, id);
	}
	log_info("%s: removed", e->id);
	queue_remove(s->c.q, e->id);
	return;
fail:
	/* Keep the message; a flush or a restart tries again. */
	log_warnx("%s: cannot queue the bounce: %s", e->id, err);
	buf_free(&dsn);
	free(orig);
}

/*
 * drop_msg - forget m's items that are not being sent (it left the
 * queue, is read again, or was put on hold), and m when nothing of it
 * is left, unless it stays known as held.
 */
static void
drop_msg(struct sched *s, struct qmsg *m, int held)
{
	struct item	*it, *next;

	m->held = held;
	for (it = TAILQ_FIRST(&m->items); it != NULL; it = next) {
		next = TAILQ_NEXT(it, mentry);
		if (!it->busy)
			item_free(s, it);
	}
	qmsg_maybe_free(s, m);
}

/* index_env - put a loaded envelope's pending recipients in the index */
static void
index_env(struct sched *s, struct queue_env *e)
{
	struct qmsg	*m;
	char		 err[256];
	size_t		 i, k, nfinal = 0;
	time_t		 due;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatalx("scheduler: out of memory");
	memcpy(m->id, e->id, sizeof(m->id));
	TAILQ_INIT(&m->items);
	if (htab_put(&s->msgs, m->id, m) == -1)
		fatalx("scheduler: out of memory");
	if (e->held) {
		m->held = 1;
		return;
	}
	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING) {
			nfinal++;
			continue;
		}
		for (k = 0; k < i; k++)		/* its domain seen already? */
			if (e->rcpt[k].state == RCPT_PENDING &&
			    strcasecmp(rcpt_domain(e->rcpt[k].addr),
			    rcpt_domain(e->rcpt[i].addr)) == 0)
				break;
		if (k < i)
			continue;
		due = 0;
		pending_due(e, rcpt_domain(e->rcpt[i].addr), &due);
		item_new(s, m, rcpt_domain(e->rcpt[i].addr), due);
	}
	if (nfinal == e->nrcpt) {
		/* Left over from a crash after the last result. */
		qmsg_free(s, m);
		if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0)
			finalize(s, e);
	}
}

/*
 * refresh_msg - bring a known message in line with its envelope: held
 * (no items but those in flight) or not (an item for every domain with
 * pending recipients: those a hold dropped come back). -1 if it is gone.
 */
static int
refresh_msg(struct sched *s, struct qmsg *m)
{
	struct queue_env e;
	struct item	*it;
	char		 err[256];
	size_t		 i;
	time_t		 due;

	if (queue_env_load(s->c.q, m->id, &e, err, sizeof(err)) == -1)
		return errno == ENOENT ? -1 : 0;
	if (e.held) {
		drop_msg(s, m, 1);
		queue_env_free(&e);
		return 0;
	}
	m->held = 0;
	for (i = 0; i < e.nrcpt; i++) {
		if (e.rcpt[i].state != RCPT_PENDING)
			continue;
		TAILQ_FOREACH(it, &m->items, mentry)
			if (strcasecmp(it->domain,
			    rcpt_domain(e.rcpt[i].addr)) == 0)
				break;
		if (it != NULL)
			continue;
		due = 0;
		pending_due(&e, rcpt_domain(e.rcpt[i].addr), &due);
		item_new(s, m, rcpt_domain(e.rcpt[i].addr), due);
	}
	queue_env_free(&e);
	return 0;
}

/*
 * unreadable - a message the relay cannot read is neither delivered nor
 * bounced: say so loudly, once per message (not at every scan)
 */
static void
unreadable(struct sched *s, const char *id, const char *err)
{
	unsigned	 uid, mode;
	char		 what[96] = "";

	if (htab_get(&s->unreadable, id) != NULL)
		return;
	if (queue_msg_stat(s->c.q, id, &uid, &mode) == 0)
		snprintf(what, sizeof(what), " (msg/%s: owner uid %u, mode %04o;"
		    " the relay runs as uid %u)", id, uid, mode,
		    (unsigned)getuid());
	log_warnx("queue: %s: the relay cannot read this message, so it is "
	    "neither delivered nor bounced%s: give its files to the relay's "
	    "user (chown), and the next scan takes it", err, what);
	if (htab_put(&s->unreadable, id, s) == -1)
		fatalx("scheduler: out of memory");
}

/* index_load - read message id into the index, unless it is there */
static void
index_load(struct sched *s, const char *id)
{
	struct queue_env e;
	char		 err[256];

	if (htab_get(&s->msgs, id) != NULL)
		return;
	if (!queue_msg_exists(s->c.q, id)) {
		/* An envelope alone: a removal a crash cut short, or an
		 * update that raced a removal. Finish the removal. */
		if (queue_remove(s->c.q, id) == 0)
			log_info("%s: removed (its body was already gone)", id);
		return;
	}
	if (queue_env_load(s->c.q, id, &e, err, sizeof(err)) == -1) {
		if (errno == ENOENT)	/* no envelope: never committed */
			log_debug("queue: %s", err);
		else if (errno == EACCES || errno == EPERM)
			unreadable(s, id, err);
		else
			log_warnx("queue: %s", err);
		return;
	}
	if (s->unreadable.n > 0)
		htab_del(&s->unreadable, id);
	index_env(s, &e);
	queue_env_free(&e);
}

/* scan_dir - index what others queued; all=1 also rereads known ones */
static void
scan_dir(struct sched *s)
{
	struct qmsg	*m;
	char		**ids, err[256];
	size_t		 n, i;

	s->last_scan = time(NULL);
	if (queue_list(s->c.q, &ids, &n, err, sizeof(err)) == -1) {
		log_warnx("queue: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((m = htab_get(&s->msgs, ids[i])) == NULL)
			index_load(s, ids[i]);
		else if (m->held && refresh_msg(s, m) == -1)
			drop_msg(s, m, 0);
	}
	queue_list_free(ids, n);
}

/* --- jobs --- */

static void
job_free(struct job *j)
{
	size_t	 i;

	if (j == NULL)
		return;
	for (i = 0; i < j->nrcpt; i++)
		free(j->rcpts[i]);
	free(j->sender);
	free(j->rcpts);
	free(j->idx);
	if (j->fd != -1)
		close(j->fd);
	free(j);
}

/*
 * job_body_read - the SMTP client's reader of the message (struct
 * smtp_body): octets [off, off + n) of msg/ID's body. The file is opened
 * on the first read of a pass and closed when a read reaches the body's
 * end, so a delivery waiting for DNS, a handshake or a reply holds no
 * descriptor for it. -1 with errno (ENOENT: deleted meanwhile).
 */
static ssize_t
job_body_read(void *arg, size_t off, char *buf, size_t n)
{
	struct job	*j = arg;
	char		 err[256];
	size_t		 len;
	ssize_t		 r;

	if (j->fd == -1) {
		if ((j->fd = queue_msg_open(j->q, j->id, &len, err,
		    sizeof(err))) == -1)
			return -1;
		if (len != j->msglen) {	/* never: files do not change */
			close(j->fd);
			j->fd = -1;
			errno = EIO;
			return -1;
		}
	}
	if (off >= j->msglen)
		return 0;
	if (n > j->msglen - off)
		n = j->msglen - off;
	do
		r = pread(j->fd, buf, n, (off_t)off);
	while (r == -1 && errno == EINTR);
	if (r <= 0 || off + (size_t)r >= j->msglen) {
		close(j->fd);
		j->fd = -1;
	}
	return r;
}

/* note_held - say in the envelope why its recipients wait (a hold) */
static void
note_held(struct sched *s, struct item *it)
{
	struct queue_env e;
	char		 err[256], why[400];
	size_t		 k;

	if (queue_env_load(s->c.q, it->m->id, &e, err, sizeof(err)) == -1)
		return;
	snprintf(why, sizeof(why), "destination held until the next retry "
	    "after: %s", it->dst->hold_why);
	for (k = 0; k < e.nrcpt; k++) {
		if (e.rcpt[k].state != RCPT_PENDING ||
		    strcasecmp(rcpt_domain(e.rcpt[k].addr), it->domain) != 0)
			continue;
		e.rcpt[k].next_try = it->dst->hold_until;
		free(e.rcpt[k].last);
		e.rcpt[k].last = strdup(why);
	}
	if (queue_env_store(s->c.q, &e, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	queue_env_free(&e);
}

/*
 * bounce_now - fail pending recipients now, for why: every one of the
 * message's (all), or those of the item's domain; they can never be
 * delivered. The item is gone after this.
 */
static void
bounce_now(struct sched *s, struct item *it, struct queue_env *e,
    const char *why, int all)
{
	struct qmsg	*m = it->m;
	char		 err[256];
	size_t		 i, nfinal = 0;
	time_t		 now = time(NULL);

	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state == RCPT_PENDING && (all ||
		    strcasecmp(rcpt_domain(e->rcpt[i].addr), it->domain) == 0)) {
			e->rcpt[i].state = RCPT_FAILED;
			free(e->rcpt[i].last);
			e->rcpt[i].last = strdup(why);
			log_info("%s: to=<%s>, relay=none, delay=%llds, "
			    "status=bounced (%s)", e->id, e->rcpt[i].addr,
			    (long long)(now - e->created), why);
		}
		if (e->rcpt[i].state != RCPT_PENDING)
			nfinal++;
	}
	if (nfinal == e->nrcpt && m->active == 0) {
		drop_msg(s, m, 0);
		if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0)
			finalize(s, e);
		else
			log_warnx("%s", err);	/* rescanned in 5 s */
	} else if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0) {
		item_free(s, it);	/* the last job finalizes */
		qmsg_maybe_free(s, m);
	} else {
		log_warnx("%s", err);
		item_due(s, it, now + backoff(s, 1));
	}
}

/*
 * loop_check - a message with hopcount_limit Received: headers or more
 * (dropped into the maildrop, queued by an older danemx or before the
 * limit was lowered) is bounced at once with 5.4.6, never tried: 1 if
 * it was.
 */
static int
loop_check(struct sched *s, struct item *it, struct queue_env *e)
{
	char		 err[256], why[200];
	unsigned	 hops;

	if (e->hops >= 0)
		hops = (unsigned)e->hops;
	else if (queue_msg_hops(s->c.q, e->id, &hops, err, sizeof(err)) == -1)
		return 0;	/* reading the body for delivery will tell */
	if (hops < s->c.conf->hopcount_limit)
		return 0;
	snprintf(why, sizeof(why), "5.4.6 Too many hops: %u Received: "
	    "headers (hopcount_limit %lu), a mail loop", hops,
	    s->c.conf->hopcount_limit);
	bounce_now(s, it, e, why, 1);
	return 1;
}

/*
 * job_load - the envelope and message for a ready item, or NULL when
 * there is nothing to send (held, deleted, expired, not due after all);
 * the item has then been dealt with.
 */
static struct job *
job_load(struct sched *s, struct item *it)
{
	struct queue_env e;
	struct qmsg	*m;
	struct job	*j;
	char		 err[256];
	size_t		 i, nfinal = 0;
	time_t		 now = time(NULL), due;
	int		 gone;

	if (queue_env_load(s->c.q, it->m->id, &e, err, sizeof(err)) == -1) {
		if (errno != ENOENT) {		/* try again later */
			log_warnx("queue: %s", err);
			item_due(s, it, now + backoff(s, 1));
			return NULL;
		}
		log_info("%s: no longer in the queue", it->m->id);
		m = it->m;
		item_free(s, it);
		qmsg_maybe_free(s, m);
		return NULL;
	}
	j = NULL;
	if (e.held) {
		drop_msg(s, it->m, 1);		/* known, and held */
		goto out;
	}
	if ((unsigned long)(now - e.created) >= s->c.conf->max_queue_lifetime) {
		for (i = 0; i < e.nrcpt; i++) {
			if (e.rcpt[i].state != RCPT_PENDING) {
				nfinal++;
				continue;
			}
			e.rcpt[i].state = RCPT_FAILED;
			log_info("%s: to=<%s>, status=bounced (gave up after the "
			    "queue lifetime: %s)", e.id, e.rcpt[i].addr,
			    e.rcpt[i].last ? e.rcpt[i].last : "never delivered");
		}
		if (it->m->active == 0) {
			drop_msg(s, it->m, 0);
			if (queue_env_store(s->c.q, &e, err, sizeof(err)) == 0)
				finalize(s, &e);
		} else if (queue_env_store(s->c.q, &e, err, sizeof(err)) == 0)
			item_free(s, it);	/* the last job finalizes */
		else
			item_due(s, it, now + backoff(s, 1));
		goto out;
	}
	if (loop_check(s, it, &e))
		goto out;
	due = 0;
	if (!pending_due(&e, it->domain, &due)) {
		m = it->m;
		item_free(s, it);
		qmsg_maybe_free(s, m);
		goto out;
	}
	/* A port in a recipient's address literal, "[192.0.2.1]:2525": the
	 * listener and sendmail refuse those, but a queue file may hold
	 * anything. The route never takes a port from a recipient. */
	if (!addr_domain_ok(it->domain)) {
		bounce_now(s, it, &e, "5.1.3 bad recipient address syntax: a "
		    "port is allowed only in relayhost and the policy table, "
		    "not in an address", 0);
		goto out;
	}
	if (it->force)
		due = now;
	if (due > now) {
		item_due(s, it, due);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->rcpts = calloc(e.nrcpt, sizeof(char *))) == NULL ||
	    (j->idx = calloc(e.nrcpt, sizeof(size_t))) == NULL ||
	    (j->sender = strdup(e.sender)) == NULL)
		fatalx("scheduler: out of memory");
	j->fd = -1;
	j->q = s->c.q;
	/* Open now: its length, and whether it is there at all. The first
	 * read uses this descriptor (job_body_read()). */
	if ((j->fd = queue_msg_open(s->c.q, e.id, &j->msglen, err,
	    sizeof(err))) == -1) {
		gone = errno == ENOENT;
		job_free(j);
		j = NULL;
		if (gone && it->m->active == 0) {
			/* An envelope without its body: a removal that a
			 * crash cut short (see queue_remove()). */
			log_info("%s: removed (its body was already gone)",
			    e.id);
			queue_remove(s->c.q, e.id);
			drop_msg(s, it->m, 0);
			goto out;
		}
		log_warnx("queue: %s", err);
		item_due(s, it, now + backoff(s, 1));
		goto out;
	}
	memcpy(j->id, e.id, sizeof(j->id));
	j->it = it;
	for (i = 0; i < e.nrcpt; i++) {
		if (e.rcpt[i].state != RCPT_PENDING ||
		    (e.rcpt[i].next_try > now && !it->force) ||
		    strcasecmp(rcpt_domain(e.rcpt[i].addr), it->domain) != 0)
			continue;
		j->idx[j->nrcpt] = i;
		if ((j->rcpts[j->nrcpt++] = strdup(e.rcpt[i].addr)) == NULL)
			fatalx("scheduler: out of memory");
	}
	item_unlink(s, it);
	it->force = 0;
	it->busy = 1;
	it->m->active++;
out:
	queue_env_free(&e);
	return j;
}

static const char *
dane_text(const struct deliver_attempt *a)
{
	if (a == NULL || !a->have_verdict)
		return "none";
	return a->verdict.text;
}

/* job_result - write the recipients' fates; the item's too */
static void
job_result(struct sched *s, struct job *j, const struct deliver_result *r)
{
	struct queue_env	 e;
	struct queue_rcpt	*qr;
	struct item		*it = j->it;
	struct qmsg		*m = it->m;
	const struct deliver_attempt *a = r->used >= 0 ? &r->att[r->used] :
	    (r->natt > 0 ? &r->att[r->natt - 1] : NULL);
	const char		*relay = "none", *raddr = "";
	char			 err[256], last[700], relbuf[DMX_NAME_MAX + 80];
	char			 rtext[560];
	time_t			 now = time(NULL), due;
	size_t			 k, nfinal = 0;
	int			 code;
	const char		*status;

	m->active--;
	it->busy = 0;
	if (a != NULL && !a->skipped && r->route != NULL) {
		relay = r->route->hosts[a->host].name;
		raddr = a->addr;
	}
	snprintf(relbuf, sizeof(relbuf), "%s%s%s%s", relay, raddr[0] ? "[" : "",
	    raddr, raddr[0] ? "]" : "");
	if (queue_env_load(s->c.q, j->id, &e, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", j->id, err);
		if (errno != ENOENT) {
			/* The results are lost: sent ones go again later
			 * (at least once). */
			item_due(s, it, now + backoff(s, 1));
			return;
		}
		item_free(s, it);		/* deleted meanwhile */
		qmsg_maybe_free(s, m);
		return;
	}
	for (k = 0; k < j->nrcpt; k++) {
		if (j->idx[k] >= e.nrcpt)
			continue;
		qr = &e.rcpt[j->idx[k]];
		code = k < r->nrcpt ? r->rcpt[k].code : 0;
		if (r->outcome == OUTCOME_DELIVERED && code >= 200 && code < 300) {
			qr->state = RCPT_SENT;
			snprintf(last, sizeof(last), "%s", r->why);
			status = "sent";
		} else if (code >= 500 || (r->outcome == OUTCOME_REJECTED &&
		    (code == 0 || code < 400 || code >= 500))) {
			qr->state = RCPT_FAILED;
			snprintf(last, sizeof(last), "%s", r->why);
			if (code >= 500)
				snprintf(last, sizeof(last), "%d %s", code,
				    r->rcpt[k].text);
			status = "bounced";
		} else {
			qr->attempts++;
			qr->next_try = now + backoff(s, qr->attempts);
			if (code >= 400)
				snprintf(rtext, sizeof(rtext), "%d %s", code,
				    r->rcpt[k].text);
			snprintf(last, sizeof(last), "%s%s%s%s", code >= 400 ?
			    rtext : r->why, r->fail != DMX_FAIL_NONE ?
			    " [" : "", r->fail != DMX_FAIL_NONE ?
			    fail_name(r->fail) : "",
			    r->fail != DMX_FAIL_NONE ? "]" : "");
			status = "deferred";
			if ((unsigned long)(now - e.created) >=
			    s->c.conf->max_queue_lifetime) {
				qr->state = RCPT_FAILED;
				snprintf(last + strlen(last), sizeof(last) -
				    strlen(last), " (gave up after %lu days in "
				    "the queue)", (unsigned long)(now - e.created) /
				    86400);
				status = "bounced";
			}
		}
		free(qr->last);
		qr->last = strdup(last);
		log_info("%s: to=<%s>, relay=%s, tls=%s, dane=%s, delay=%llds, "
		    "status=%s (%s)", j->id, qr->addr, relbuf, a != NULL &&
		    !a->skipped ? deliver_tls_str(a->tls) : "none",
		    dane_text(a), (long long)(now - e.created), status, last);
	}
	for (k = 0; k < e.nrcpt; k++)
		if (e.rcpt[k].state != RCPT_PENDING)
			nfinal++;
	due = 0;
	if (nfinal == e.nrcpt && m->active == 0 && !any_failed(&e)) {
		/* All sent: no need to write the envelope that is removed
		 * (a crash before the removal means duplicates, no loss). */
		drop_msg(s, m, 0);
		finalize(s, &e);
	} else if (nfinal == e.nrcpt && m->active == 0) {
		/* A bounce is due: the final states go to disk first, so
		 * that a failed or interrupted bounce never sends again. */
		drop_msg(s, m, 0);
		if (queue_env_store(s->c.q, &e, err, sizeof(err)) == -1)
			log_warnx("%s", err);	/* rescanned in 5 s */
		else
			finalize(s, &e);
	} else if (queue_env_store(s->c.q, &e, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		item_due(s, it, now + backoff(s, 1));
	} else if (pending_due(&e, it->domain, &due))
		item_due(s, it, due);
	else {
		item_free(s, it);
		qmsg_maybe_free(s, m);
	}
	queue_env_free(&e);
}

/* --- connections --- */

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
	job_free(c->job);
	TAILQ_REMOVE(&s->conns, c, entry);
	s->nconn--;
	d->nconn--;
	event_free(c->idle_ev);
	free(c);
	runq_add(s, d);
	dest_maybe_free(s, d);
	kick(s);
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
	job_result(s, j, r);
	job_free(j);
	if (deliver_result_hold(r)) {
		/* DANE or DNSSEC failed, or no host answered: do not hammer
		 * it (see above); Postfix calls the latter a dead host. */
		dst->hold_until = now + backoff(s, 1);
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
	const struct policy_entry *pe, *be;
	struct deliver_conf	 dc;
	struct deliver_msg	 dm;
	struct item		*it;
	struct job		*j;
	char			 err[256];
	time_t			 now = time(NULL);

	for (;;) {
		if ((it = TAILQ_FIRST(&c->dst->ready)) == NULL)
			return -1;
		if ((j = job_load(s, it)) != NULL)
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
		dm.body.read = job_body_read;
		dm.body.arg = j;
		dm.arg = j;
		deliver_next_msg(c->d, &dm);
		return 0;
	}
	memset(&dc, 0, sizeof(dc));
	dc.domain = c->dst->name;
	dc.port = 25;
	dc.job = SMTP_JOB_SEND;
	dc.level = TLS_LEVEL_DANE;
	if (s->c.policy && (pe = policy_table_match(s->c.policy, dc.domain,
	    now)) != NULL)
		dc.level = pe->level;
	if (s->c.bypass && (be = policy_table_match(s->c.bypass, dc.domain,
	    now)) != NULL) {
		dc.bypass = 1;
		dc.bypass_comment = be->comment;
	}
	dc.helo = s->c.helo;
	dc.mail_from = j->sender;
	dc.rcpts = (const char * const *)j->rcpts;
	dc.nrcpt = j->nrcpt;
	dc.body.len = j->msglen;
	dc.body.read = job_body_read;
	dc.body.arg = j;
	dc.t.connect = (unsigned)s->c.conf->smtp_connect_timeout;
	dc.t.greeting = (unsigned)s->c.conf->smtp_greeting_timeout;
	dc.t.ehlo = (unsigned)s->c.conf->smtp_helo_timeout;
	dc.t.starttls = dc.t.tls = (unsigned)s->c.conf->smtp_starttls_timeout;
	dc.t.mail = (unsigned)s->c.conf->smtp_mail_timeout;
	dc.t.rcpt = (unsigned)s->c.conf->smtp_rcpt_timeout;
	dc.t.data_init = (unsigned)s->c.conf->smtp_data_init_timeout;
	dc.t.data_block = (unsigned)s->c.conf->smtp_data_xfer_timeout;
	dc.t.data_end = (unsigned)s->c.conf->smtp_data_done_timeout;
	dc.t.quit = (unsigned)s->c.conf->smtp_quit_timeout;
	dc.dane_ctx = s->c.dane_ctx;
	dc.pkix_ctx = s->c.pkix_ctx;
	dc.tls_min_version = (int)s->c.conf->tls_min_version;
	dc.tls_opp_min_version = (int)s->c.conf->tls_opportunistic_min_version;
	if (s->c.self != NULL) {
		dc.is_self = selfaddr_match;
		dc.self_arg = s->c.self;
	}
	dc.log = 1;
	dc.reuse = 1;
	dc.done = conn_done;
	dc.arg = j;
	if ((c->d = deliver_start(s->base, s->c.res, &dc, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s: cannot start delivery to %s: %s", j->id,
		    c->dst->name, err);
		c->job = NULL;
		s->nbusy--;
		j->it->m->active--;
		j->it->busy = 0;
		item_due(s, j->it, now + backoff(s, 1));
		job_free(j);
		return -1;
	}
	return 0;
}

/* conn_start - a new connection to d for its next ready item */
static void
conn_start(struct sched *s, struct dest *d)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->idle_ev = evtimer_new(s->base, conn_idle_cb, c)) == NULL)
		fatalx("scheduler: out of memory");
	c->s = s;
	c->dst = d;
	c->opened = time(NULL);
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->nconn++;
	d->nconn++;
	if (s->nconn > s->peak)
		s->peak = s->nconn;
	if (conn_take(c) == -1)
		conn_free(c);
}

/* hold_ready - a held destination's ready items wait out the hold */
static void
hold_ready(struct sched *s, struct dest *d)
{
	struct item	*it;

	while ((it = TAILQ_FIRST(&d->ready)) != NULL) {
		note_held(s, it);
		item_unlink(s, it);
		it->due = d->hold_until;	/* even if that just passed */
		it->st = IT_WAIT;
		heap_push(s, it);
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
 * dispatch - start work for the destinations on the run queue, round
 * robin: a destination that starts something goes to the tail, one
 * that cannot (at its limits) keeps its place, so the next free slot
 * goes to the destination that has waited longest. Idle connections
 * give their slot up to a destination that has none. Destinations on
 * the run queue are never freed (dest_maybe_free()), so the walk is
 * safe; entries appended meanwhile are visited in the same walk.
 */
static void
dispatch(struct sched *s)
{
	struct dest	*d, *next;
	struct conn	*c;

	for (d = TAILQ_FIRST(&s->runq); d != NULL && !s->draining; d = next) {
		next = TAILQ_NEXT(d, rentry);
		if (d->nready == 0 || d->hold_until > time(NULL)) {
			TAILQ_REMOVE(&s->runq, d, rentry);
			d->in_runq = 0;
			if (d->nready > 0)
				hold_ready(s, d);
			dest_maybe_free(s, d);
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
		dest_maybe_free(s, d);
	}
}

static void
kick_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	dispatch(arg);
}

/* kick - dispatch soon, from the loop, never inside a callback */
static void
kick(struct sched *s)
{
	struct timeval	 tv = { 0, 0 };

	if (!s->draining && !evtimer_pending(s->kick, NULL))
		evtimer_add(s->kick, &tv);
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
		item_due(s, s->heap[0], 0);
	if (now - s->last_scan >= SCAN_SECONDS)
		scan_dir(s);
	if (s->peak >= 64 && s->nconn < s->peak / 4) {
		/* After a burst of sessions, give the memory back. */
		malloc_trim(0);
		s->peak = s->nconn;
	}
	evtimer_add(s->tick, &tv);
}

/* sched_new - a scheduler that reads the queue now and runs from there */
struct sched *
sched_new(struct event_base *base, const struct sched_conf *c)
{
	struct sched	*s;
	struct timeval	 tv = { 1, 0 };

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base = base;
	s->c = *c;
	TAILQ_INIT(&s->runq);
	TAILQ_INIT(&s->conns);
	if ((s->tick = evtimer_new(base, tick_cb, s)) == NULL ||
	    (s->kick = evtimer_new(base, kick_cb, s)) == NULL) {
		if (s->tick != NULL)
			event_free(s->tick);
		free(s);
		return NULL;
	}
	scan_dir(s);
	log_info("queue: %zu messages, %zu waiting for a retry", s->msgs.n,
	    s->nheap);
	evtimer_add(s->tick, &tv);
	kick(s);
	return s;
}

/* sched_kick - look at what is ready now (after a reload) */
void
sched_kick(struct sched *s)
{
	kick(s);
}

/* sched_enqueue - a message was just committed to the queue */
void
sched_enqueue(struct sched *s, const char *id)
{
	index_load(s, id);
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
	if (n > 0 && (ms = calloc(n, sizeof(*ms))) == NULL)
		fatalx("scheduler: out of memory");
	for (i = 0; i < n; i++) {
		if ((ms[k] = htab_get(&s->msgs, ids[i])) == NULL)
			continue;
		if (ms[k]->active == 0)
			k++;
		else			/* in flight: what a hold dropped */
			refresh_msg(s, ms[k]);
	}
	for (i = 0; i < k; i++)
		drop_msg(s, ms[i], 0);
	free(ms);
	for (i = 0; i < n; i++)
		index_load(s, ids[i]);
	queue_list_free(ids, n);
	log_info("flush: holds lifted, queue read again (%zu messages)",
	    s->msgs.n);
	kick(s);
}

/* sched_flush_all - everything waiting is due now (SIGUSR2: queue flush) */
void
sched_flush_all(struct sched *s)
{
	size_t	 n = s->nheap;

	htab_foreach(&s->dests, lift_hold, NULL);
	while (s->nheap > 0) {
		s->heap[0]->force = 1;	/* the envelope's next try is later */
		item_due(s, s->heap[0], 0);
	}
	scan_dir(s);
	log_info("flush: holds lifted, %zu waiting deliveries due now", n);
	kick(s);
}

/* sched_drain - start nothing new; running deliveries finish */
void
sched_drain(struct sched *s)
{
	struct conn	*c, *next;

	s->draining = 1;
	evtimer_del(s->tick);
	evtimer_del(s->kick);
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

/*
 * sched_active - deliveries with a message in flight, and connections
 * still saying QUIT: the relay stops once none is left (or after its
 * drain time), so that their memory goes back inside the event loop
 */
size_t
sched_active(const struct sched *s)
{
	return s->nbusy + smtp_client_quitting();
}

static void
free_msg_cb(const char *key, void *val, void *arg)
{
	struct qmsg	*m = val;
	struct item	*it;

	(void)key;
	(void)arg;
	while ((it = TAILQ_FIRST(&m->items)) != NULL) {
		TAILQ_REMOVE(&m->items, it, mentry);
		free(it->domain);
		free(it);
	}
	free(m);
}

static void
free_dest_cb(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

/* sched_free - abort what still runs (its recipients stay pending) */
void
sched_free(struct sched *s)
{
	struct conn	*c;

	if (s == NULL)
		return;
	s->draining = 1;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		conn_unpark(c);
		TAILQ_REMOVE(&s->conns, c, entry);
		if (c->d != NULL)
			deliver_abort(c->d);
		job_free(c->job);
		event_free(c->idle_ev);
		free(c);
	}
	smtp_client_quitting_free();
	htab_foreach(&s->msgs, free_msg_cb, NULL);
	htab_foreach(&s->dests, free_dest_cb, NULL);
	htab_free(&s->msgs);
	htab_free(&s->dests);
	htab_free(&s->unreadable);
	free(s->heap);
	event_free(s->tick);
	event_free(s->kick);
	free(s);
}
