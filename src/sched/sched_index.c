/*
 * sched_index.c - the scheduler's index of the queue: messages, their
 * items (pending recipients per domain), destinations, the heap of
 * waiting items, the run queue of destinations with ready items, and
 * the reads of the queue directory that fill them.
 *
 * What other processes do to the queue is found by a directory scan
 * every SCAN_SECONDS (messages from danemx sendmail, held messages
 * released; deleted ones are noticed when due) and by a flush
 * (sched.c). The scan lists msg/ and env/ (readdirs, no envelope
 * reads), the only per-tick work that grows with the queue.
 *
 * Out of memory, nothing is lost: a message that cannot be indexed
 * stays out of the index and the next scan reads it again; an item
 * that cannot be made marks its message stale, and the next scan makes
 * it again (sched_msg_refresh()). Both are logged. The heap never needs
 * memory of its own at a bad moment: its capacity grows with the items
 * (item_new()), before one can wait in it.
 *
 * Ownership: the index's records are the scheduler's (sched_int.h);
 * sched_index_free() frees what is left of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "sched/sched_int.h"
#include "util/util.h"

#define HEAP_MIN	256	/* first capacity of the heap */

/* sched_rcpt_domain - the domain of a recipient address */
const char *
sched_rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : addr;
}

/* sched_backoff - the wait before try attempts + 1 (retry_min doubled) */
time_t
sched_backoff(const struct sched *s, unsigned attempts)
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

/* heap_reserve - room in the heap for n items; -1 when out of memory */
static int
heap_reserve(struct sched *s, size_t n)
{
	struct item	**nh;
	size_t		 ncap;

	if (n <= s->heapcap)
		return 0;
	ncap = s->heapcap ? s->heapcap * 2 : HEAP_MIN;
	if (ncap < n)
		ncap = n;
	if ((nh = realloc(s->heap, ncap * sizeof(*nh))) == NULL)
		return -1;
	s->heap = nh;
	s->heapcap = ncap;
	return 0;
}

/*
 * sched_heap_push - it waits until it->due. Never fails: an item is in
 * the heap at most once, and the capacity is at least the item count.
 */
void
sched_heap_push(struct sched *s, struct item *it)
{
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

static struct dest *dest_get(struct sched *, const char *);

/*
 * sched_dest_name - the destination domain's mail goes to: its transport
 * entry's next hop, else the relayhost, else the domain. A discard or
 * error entry keeps the domain (its items never connect).
 */
const char *
sched_dest_name(const struct sched *s, const char *domain)
{
	const struct transport_entry *te;

	if ((te = route_transport_match(s->c.transport, domain)) != NULL)
		return te->action == TRANSPORT_SMTP ? te->nexthop : domain;
	return s->c.conf->relayhost ? s->c.conf->relayhost : domain;
}

/*
 * sched_item_rehome - the transport table or the relayhost changed
 * (SIGHUP) since the item was made: it moves to the destination its
 * domain now goes to, due then there. 1 if it moved, 0 if it is where
 * it belongs, -1 if out of memory (it stays).
 */
int
sched_item_rehome(struct sched *s, struct item *it, time_t due)
{
	struct dest	*old = it->dst, *d;
	const char	*name = sched_dest_name(s, it->domain);

	if (strcasecmp(old->name, name) == 0)
		return 0;
	if ((d = dest_get(s, name)) == NULL)
		return -1;
	sched_item_unlink(s, it);
	old->nitems--;
	it->dst = d;
	d->nitems++;
	log_info("%s: recipients at %s now go to %s (was %s)", it->m->id,
	    it->domain, d->name, old->name);
	sched_item_due(s, it, due);
	sched_dest_maybe_free(s, old);
	return 1;
}

static void
reroute_msg(const char *key, void *val, void *arg)
{
	struct sched	*s = arg;
	struct qmsg	*m = val;
	struct item	*it;

	(void)key;
	TAILQ_FOREACH(it, &m->items, mentry)
		if (!it->busy)
			(void)sched_item_rehome(s, it, it->due);
}

/*
 * sched_reroute - the tables were read again: every item not being sent
 * moves to the destination its domain goes to now, keeping its next try
 * (out of memory, it moves when it is next due: sched_job_load()).
 */
void
sched_reroute(struct sched *s)
{
	htab_foreach(&s->msgs, reroute_msg, s);
}

/* dest_get - the destination called name, made if new; NULL: no memory */
static struct dest *
dest_get(struct sched *s, const char *name)
{
	struct dest	*d;

	if ((d = htab_get(&s->dests, name)) != NULL)
		return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	strlcpy_(d->name, name, sizeof(d->name));
	TAILQ_INIT(&d->ready);
	TAILQ_INIT(&d->idle);
	if (htab_put(&s->dests, d->name, d) == -1) {
		free(d);
		return NULL;
	}
	return d;
}

/* sched_dest_maybe_free - forget d once nothing refers to it */
void
sched_dest_maybe_free(struct sched *s, struct dest *d)
{
	if (d->nitems > 0 || d->nconn > 0 || d->pinned || d->in_runq ||
	    d->hold_until > time(NULL))
		return;
	htab_del(&s->dests, d->name);
	free(d);
}

/* sched_runq_add - d has ready items: on the run queue, dispatch soon */
void
sched_runq_add(struct sched *s, struct dest *d)
{
	if (d->nready == 0)
		return;
	if (!d->in_runq) {
		d->in_runq = 1;
		TAILQ_INSERT_TAIL(&s->runq, d, rentry);
	}
	sched_kick(s);	/* queued but blocked, it may run now */
}

/* --- items --- */

static void
item_ready(struct sched *s, struct item *it)
{
	it->st = IT_READY;
	TAILQ_INSERT_TAIL(&it->dst->ready, it, rentry);
	it->dst->nready++;
	sched_runq_add(s, it->dst);
}

/* sched_item_unlink - out of the ready list or the heap */
void
sched_item_unlink(struct sched *s, struct item *it)
{
	if (it->st == IT_READY) {
		TAILQ_REMOVE(&it->dst->ready, it, rentry);
		it->dst->nready--;
	} else if (it->st == IT_WAIT)
		heap_remove(s, it);
	it->st = IT_ACTIVE;
}

/* sched_item_due - ready now, or wait in the heap until due */
void
sched_item_due(struct sched *s, struct item *it, time_t due)
{
	sched_item_unlink(s, it);
	it->due = due;
	if (due <= time(NULL))
		item_ready(s, it);
	else {
		it->st = IT_WAIT;
		sched_heap_push(s, it);
	}
}

static void
qmsg_free(struct sched *s, struct qmsg *m)
{
	htab_del(&s->msgs, m->id);
	free(m);
}

/* sched_msg_maybe_free - forget m once nothing of it is left to do */
void
sched_msg_maybe_free(struct sched *s, struct qmsg *m)
{
	if (TAILQ_EMPTY(&m->items) && m->active == 0 && !m->held && !m->stale)
		qmsg_free(s, m);
}

/* sched_item_free - forget the item (its message: sched_msg_maybe_free()) */
void
sched_item_free(struct sched *s, struct item *it)
{
	struct dest	*d = it->dst;

	sched_item_unlink(s, it);
	TAILQ_REMOVE(&it->m->items, it, mentry);
	d->nitems--;
	s->nitems--;
	free(it->domain);
	free(it);
	sched_dest_maybe_free(s, d);
}

/*
 * item_new - an item for m's pending recipients at domain, due then;
 * -1 when out of memory (logged; m is stale, for the next scan)
 */
static int
item_new(struct sched *s, struct qmsg *m, const char *domain, time_t due)
{
	struct item	*it = NULL;
	struct dest	*d;

	if (heap_reserve(s, s->nitems + 1) == -1 ||
	    (d = dest_get(s, sched_dest_name(s, domain))) == NULL ||
	    (it = calloc(1, sizeof(*it))) == NULL ||
	    (it->domain = strdup(domain)) == NULL) {
		free(it);
		if (!m->stale)
			log_warnx("%s: out of memory: its recipients at %s "
			    "stay queued, for the next scan (%d s)", m->id,
			    domain, SCAN_SECONDS);
		m->stale = 1;
		return -1;
	}
	it->m = m;
	it->dst = d;
	d->nitems++;
	s->nitems++;
	it->st = IT_ACTIVE;	/* linked nowhere yet */
	TAILQ_INSERT_TAIL(&m->items, it, mentry);
	sched_item_due(s, it, due);
	return 0;
}

/* sched_pending_due - the earliest next try of domain's pending recipients */
int
sched_pending_due(const struct queue_env *e, const char *domain, time_t *due)
{
	size_t	 i;
	int	 any = 0;

	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING ||
		    strcasecmp(sched_rcpt_domain(e->rcpt[i].addr), domain) != 0)
			continue;
		if (!any || e->rcpt[i].next_try < *due)
			*due = e->rcpt[i].next_try;
		any = 1;
	}
	return any;
}

/*
 * sched_msg_drop - forget m's items that are not being sent (it left
 * the queue, is read again, or was put on hold), and m when nothing of
 * it is left, unless it stays known as held.
 */
void
sched_msg_drop(struct sched *s, struct qmsg *m, int held)
{
	struct item	*it, *next;

	m->held = held;
	m->stale = 0;
	for (it = TAILQ_FIRST(&m->items); it != NULL; it = next) {
		next = TAILQ_NEXT(it, mentry);
		if (!it->busy)
			sched_item_free(s, it);
	}
	sched_msg_maybe_free(s, m);
}

/*
 * index_items - an item for every domain of e's pending recipients that
 * m has none for; how many recipients are final
 */
static size_t
index_items(struct sched *s, struct qmsg *m, const struct queue_env *e)
{
	struct item	*it;
	const char	*dom;
	size_t		 i, nfinal = 0;
	time_t		 due;

	m->stale = 0;
	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING) {
			nfinal++;
			continue;
		}
		dom = sched_rcpt_domain(e->rcpt[i].addr);
		TAILQ_FOREACH(it, &m->items, mentry)
			if (strcasecmp(it->domain, dom) == 0)
				break;
		if (it != NULL)
			continue;
		due = 0;
		sched_pending_due(e, dom, &due);
		item_new(s, m, dom, due);
	}
	return nfinal;
}

/* index_env - put a loaded envelope's pending recipients in the index */
static void
index_env(struct sched *s, struct queue_env *e)
{
	struct qmsg	*m;
	char		 err[256];

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    htab_put(&s->msgs, e->id, m) == -1) {
		free(m);
		log_warnx("%s: out of memory: it stays queued, for the next "
		    "scan (%d s)", e->id, SCAN_SECONDS);
		return;
	}
	memcpy(m->id, e->id, sizeof(m->id));
	TAILQ_INIT(&m->items);
	m->tls_required_no = e->tls_required_no;
	m->created = e->created;
	if (e->held) {
		m->held = 1;
		return;
	}
	if (index_items(s, m, e) == e->nrcpt) {
		/* Left over from a crash after the last result. */
		qmsg_free(s, m);
		if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0)
			sched_finalize(s, e);
	}
}

/*
 * sched_msg_refresh - bring a known message in line with its envelope:
 * held (no items but those in flight) or not (an item for every domain
 * with pending recipients: those a hold dropped, or memory did not
 * allow, come back). -1 if it is gone.
 */
int
sched_msg_refresh(struct sched *s, struct qmsg *m)
{
	struct queue_env e;
	char		 err[256];

	if (queue_env_load(s->c.q, m->id, &e, err, sizeof(err)) == -1)
		return errno == ENOENT ? -1 : 0;
	if (e.held) {
		sched_msg_drop(s, m, 1);
		queue_env_free(&e);
		return 0;
	}
	m->held = 0;
	index_items(s, m, &e);
	queue_env_free(&e);
	return 0;
}

/*
 * unreadable - a message the relay cannot read is neither delivered nor
 * bounced: say so loudly, once per message (not at every scan; out of
 * memory, at every scan)
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
	htab_put(&s->unreadable, id, s);
}

/*
 * sched_index_load - read message id into the index, unless it is there
 * or its bounce is being committed (it leaves the queue after that)
 */
void
sched_index_load(struct sched *s, const char *id)
{
	struct queue_env e;
	char		 err[256];

	if (htab_get(&s->msgs, id) != NULL ||
	    (s->nbounce > 0 && htab_get(&s->bouncing, id) != NULL))
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

/*
 * sched_scan - index what others queued, and read again the messages
 * that are held or stale
 */
void
sched_scan(struct sched *s)
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
			sched_index_load(s, ids[i]);
		else if ((m->held || m->stale) && sched_msg_refresh(s, m) == -1)
			sched_msg_drop(s, m, 0);
	}
	queue_list_free(ids, n);
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

/* sched_index_free - free the index (the scheduler is going away) */
void
sched_index_free(struct sched *s)
{
	htab_foreach(&s->msgs, free_msg_cb, NULL);
	htab_foreach(&s->dests, free_dest_cb, NULL);
	htab_free(&s->msgs);
	htab_free(&s->dests);
	htab_free(&s->unreadable);
	free(s->heap);
}
