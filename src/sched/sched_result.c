/*
 * sched_result.c - results: a delivery's result mapped onto the
 * recipients in the envelope on disk (sent; failed on a 5xx, or once
 * the queue lifetime has passed; else deferred with exponential
 * backoff), the note a destination hold leaves, the bounces that need no
 * delivery attempt (a mail loop, a port in an address literal, the
 * queue lifetime), and the end of a message: once every recipient is
 * final it leaves the queue, after a DSN to the sender if any recipient
 * failed (never for a bounce: its sender is the null sender).
 *
 * A DANE or DNSSEC failure is always a deferral, never a bounce.
 * Envelopes are reloaded from disk before every update, so jobs of one
 * message for several domains never overwrite each other's results
 * (one thread, one loop). A message's final states go to disk before
 * its bounce is written, so a failed or interrupted bounce never sends
 * again; the bounce is committed on a queue worker thread
 * (queue_workers.c: its fsyncs stay off the loop), and the message is
 * removed only once the bounce is durable. Until then the message stays
 * out of the index (sched_index_load() passes it over); a bounce that
 * cannot be queued leaves it in the queue, and the next scan tries again.
 *
 * Ownership: a bounce in flight is the scheduler's (s->bouncing, keyed
 * by the message's id) until bounce_done() frees it; everything else
 * here is borrowed for the call.
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

#define DSN_HEAD_MAX	(256 * 1024)	/* a message's start, for a DSN */

/* A bounce being committed, and the message it is for. */
struct bounce {
	struct sched		*s;
	char			 orig[QUEUE_ID_LEN + 1];
};

static int
any_failed(const struct queue_env *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpt; i++)
		if (e->rcpt[i].state == RCPT_FAILED)
			return 1;
	return 0;
}

/* sched_job_result - write the recipients' fates; the item's too */
void
sched_job_result(struct sched *s, struct job *j,
    const struct deliver_result *r)
{
	struct queue_env	 e;
	struct queue_rcpt	*qr;
	struct item		*it = j->it;
	struct qmsg		*m = it->m;
	const struct deliver_attempt *a = deliver_result_attempt(r);
	const char		*relay = "none", *raddr = "";
	char			 err[256], last[700], relbuf[DMX_NAME_MAX + 80];
	char			 rtext[560], route[3 * DMX_NAME_MAX + 32] = "";
	time_t			 now = time(NULL), due;
	size_t			 k, nfinal = 0;
	int			 code;
	const char		*status;
	enum sched_status	 st;

	m->active--;
	it->busy = 0;
	if (a != NULL && !a->skipped && r->route != NULL) {
		relay = r->route->hosts[a->host].name;
		raddr = a->addr;
	}
	snprintf(relbuf, sizeof(relbuf), "%s%s%s%s", relay, raddr[0] ? "[" : "",
	    raddr, raddr[0] ? "]" : "");
	if (strcmp(r->rte.via, "transport") == 0)	/* named in the log */
		deliver_route_text(route, sizeof(route), r->rte.via,
		    it->domain, NULL, r->rte.nexthop);
	if (queue_env_load(s->c.q, j->id, &e, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", j->id, err);
		if (errno != ENOENT) {
			/* The results are lost: sent ones go again later
			 * (at least once). */
			sched_item_due(s, it, now + sched_backoff(s, 1));
			return;
		}
		sched_item_free(s, it);		/* deleted meanwhile */
		sched_msg_maybe_free(s, m);
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
			st = SCHED_SENT;
		} else if (code >= 500 || (r->outcome == OUTCOME_REJECTED &&
		    (code == 0 || code < 400 || code >= 500))) {
			qr->state = RCPT_FAILED;
			snprintf(last, sizeof(last), "%s", r->why);
			if (code >= 500)
				snprintf(last, sizeof(last), "%d %s", code,
				    r->rcpt[k].text);
			st = SCHED_BOUNCED;
		} else {
			qr->attempts++;
			qr->next_try = now + sched_backoff(s, qr->attempts);
			if (code >= 400)
				snprintf(rtext, sizeof(rtext), "%d %s", code,
				    r->rcpt[k].text);
			snprintf(last, sizeof(last), "%s%s%s%s", code >= 400 ?
			    rtext : r->why, r->fail != DMX_FAIL_NONE ?
			    " [" : "", r->fail != DMX_FAIL_NONE ?
			    fail_name(r->fail) : "",
			    r->fail != DMX_FAIL_NONE ? "]" : "");
			st = SCHED_DEFERRED;
			if ((unsigned long)(now - e.created) >=
			    s->c.conf->max_queue_lifetime) {
				qr->state = RCPT_FAILED;
				snprintf(last + strlen(last), sizeof(last) -
				    strlen(last), " (gave up after %lu days in "
				    "the queue)", (unsigned long)(now - e.created) /
				    86400);
				st = SCHED_BOUNCED;
			}
		}
		status = sched_status_str(st);
		sched_count_rcpt(s, st, a != NULL && !a->skipped ? a->tls :
		    TLS_ACH_NONE);
		free(qr->last);
		qr->last = strdup(last);
		log_info("%s: to=<%s>, relay=%s%s%s, tls=%s, dane=%s, "
		    "delay=%llds, status=%s (%s)", j->id, qr->addr, relbuf,
		    route[0] ? ", route=" : "", route, a != NULL &&
		    !a->skipped ? deliver_tls_str(a->tls) : "none",
		    deliver_dane_text(a), (long long)(now - e.created), status,
		    last);
	}
	for (k = 0; k < e.nrcpt; k++)
		if (e.rcpt[k].state != RCPT_PENDING)
			nfinal++;
	due = 0;
	if (nfinal == e.nrcpt && m->active == 0 && !any_failed(&e)) {
		/* All sent: no need to write the envelope that is removed
		 * (a crash before the removal means duplicates, no loss). */
		sched_msg_drop(s, m, 0);
		sched_finalize(s, &e);
	} else if (nfinal == e.nrcpt && m->active == 0) {
		/* A bounce is due: the final states go to disk first, so
		 * that a failed or interrupted bounce never sends again. */
		sched_msg_drop(s, m, 0);
		if (queue_env_store(s->c.q, &e, err, sizeof(err)) == -1)
			log_warnx("%s", err);	/* rescanned in 5 s */
		else
			sched_finalize(s, &e);
	} else if (queue_env_store(s->c.q, &e, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		sched_item_due(s, it, now + sched_backoff(s, 1));
	} else if (sched_pending_due(&e, it->domain, &due))
		sched_item_due(s, it, due);
	else {
		sched_item_free(s, it);
		sched_msg_maybe_free(s, m);
	}
	queue_env_free(&e);
}

/* sched_note_held - say in the envelope why its recipients wait (a hold) */
void
sched_note_held(struct sched *s, struct item *it)
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
		    strcasecmp(sched_rcpt_domain(e.rcpt[k].addr),
		    it->domain) != 0)
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
 * settle_now - pending recipients are done now, without a delivery, as
 * state (RCPT_FAILED: status=bounced, RCPT_SENT: status=sent) for why:
 * every one of the message's (all), or those of the item's domain. The
 * item is gone after this.
 */
static void
settle_now(struct sched *s, struct item *it, struct queue_env *e,
    const char *why, int all, enum rcpt_state state)
{
	struct qmsg	*m = it->m;
	char		 err[256];
	size_t		 i, nfinal = 0;
	time_t		 now = time(NULL);
	int		 sent = state == RCPT_SENT;

	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state == RCPT_PENDING && (all ||
		    strcasecmp(sched_rcpt_domain(e->rcpt[i].addr),
		    it->domain) == 0)) {
			e->rcpt[i].state = state;
			free(e->rcpt[i].last);
			e->rcpt[i].last = strdup(why);
			log_info("%s: to=<%s>, relay=none, delay=%llds, "
			    "status=%s (%s)", e->id, e->rcpt[i].addr,
			    (long long)(now - e->created), sent ? "sent" :
			    "bounced", why);
			sched_count_rcpt(s, sent ? SCHED_SENT : SCHED_BOUNCED,
			    TLS_ACH_NONE);
		}
		if (e->rcpt[i].state != RCPT_PENDING)
			nfinal++;
	}
	if (nfinal == e->nrcpt && m->active == 0) {
		sched_msg_drop(s, m, 0);
		if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0)
			sched_finalize(s, e);
		else
			log_warnx("%s", err);	/* rescanned in 5 s */
	} else if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0) {
		sched_item_free(s, it);	/* the last job finalizes */
		sched_msg_maybe_free(s, m);
	} else {
		log_warnx("%s", err);
		sched_item_due(s, it, now + sched_backoff(s, 1));
	}
}

/*
 * sched_bounce_now - fail pending recipients now, for why: every one of
 * the message's (all), or those of the item's domain; they can never be
 * delivered. The item is gone after this.
 */
void
sched_bounce_now(struct sched *s, struct item *it, struct queue_env *e,
    const char *why, int all)
{
	settle_now(s, it, e, why, all, RCPT_FAILED);
}

/*
 * sched_discard_now - the transport table discards mail for the item's
 * domain: its pending recipients are done, as if sent, and logged with
 * the route. The item is gone after this.
 */
void
sched_discard_now(struct sched *s, struct item *it, struct queue_env *e,
    const char *route)
{
	char	 why[3 * DMX_NAME_MAX + 64];

	snprintf(why, sizeof(why), "discarded (route: %s)", route);
	settle_now(s, it, e, why, 0, RCPT_SENT);
}

/*
 * sched_bounce_loop - a message with hopcount_limit Received: headers or
 * more (dropped into the maildrop, queued by an older danemx or before
 * the limit was lowered) is bounced at once with 5.4.6, never tried: 1
 * if it was.
 */
int
sched_bounce_loop(struct sched *s, struct item *it, struct queue_env *e)
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
	sched_bounce_now(s, it, e, why, 1);
	return 1;
}

/*
 * sched_expire - the queue lifetime has passed: every pending recipient
 * of e fails; the item is gone, or waits when the envelope cannot be
 * written.
 */
void
sched_expire(struct sched *s, struct item *it, struct queue_env *e)
{
	char		 err[256];
	size_t		 i;

	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING)
			continue;
		e->rcpt[i].state = RCPT_FAILED;
		log_info("%s: to=<%s>, status=bounced (gave up after the "
		    "queue lifetime: %s)", e->id, e->rcpt[i].addr,
		    e->rcpt[i].last ? e->rcpt[i].last : "never delivered");
		sched_count_rcpt(s, SCHED_BOUNCED, TLS_ACH_NONE);
	}
	if (it->m->active == 0) {
		sched_msg_drop(s, it->m, 0);
		if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0)
			sched_finalize(s, e);
	} else if (queue_env_store(s->c.q, e, err, sizeof(err)) == 0)
		sched_item_free(s, it);	/* the last job finalizes */
	else
		sched_item_due(s, it, time(NULL) + sched_backoff(s, 1));
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

/* removed - the message leaves the queue (after its bounce, if any) */
static void
removed(struct sched *s, const char *id)
{
	log_info("%s: removed", id);
	queue_remove(s->c.q, id);
}

/*
 * bounce_done - on the loop thread: the bounce's commit has ended. Once
 * it is durable the message leaves the queue; else it stays, and the
 * next scan (or a flush, or a restart) tries again.
 */
static void
bounce_done(void *arg, int ok, const char *id, const char *err)
{
	struct bounce	*b = arg;
	struct sched	*s = b->s;

	htab_del(&s->bouncing, b->orig);
	s->nbounce--;
	if (!ok)
		log_warnx("%s: cannot queue the bounce: %s", b->orig, err);
	else {
		log_info("%s: sender non-delivery notification: %s", b->orig,
		    id);
		sched_enqueue(s, id);
		removed(s, b->orig);
	}
	free(b);
}

/*
 * bounce_start - write the bounce for e's failed recipients and hand
 * its commit to a worker (bounce_done() goes on). -1 with err when it
 * cannot: the message stays queued.
 */
static int
bounce_start(struct sched *s, const struct queue_env *e, char *err,
    size_t errlen)
{
	struct queue_writer	*w = NULL;
	struct bounce		*b = NULL;
	struct buf		 dsn;
	const char		*to[1];
	char			*orig;
	size_t			 olen = 0;

	orig = msg_head(s->c.q, e->id, &olen);
	buf_init(&dsn, 2 * 1024 * 1024 + olen);
	to[0] = e->sender;
	if ((w = queue_writer_new(s->c.q, err, errlen)) == NULL)
		goto fail;
	queue_writer_use_reserve(w);	/* the queue's own write */
	queue_writer_honour_tls(w);	/* ours: it asks as the original did */
	if (sched_dsn_build(&dsn, e, orig, olen, s->c.helo, time(NULL)) ==
	    -1 || queue_writer_add(w, dsn.data, dsn.len) == -1) {
		snprintf(err, errlen, "cannot write it");
		goto fail;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    htab_put(&s->bouncing, e->id, b) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	b->s = s;
	memcpy(b->orig, e->id, sizeof(b->orig));
	if (queue_workers_submit(s->workers, w, "", to, 1, bounce_done, b) ==
	    NULL) {
		htab_del(&s->bouncing, e->id);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->nbounce++;
	buf_free(&dsn);
	free(orig);
	return 0;
fail:
	free(b);
	queue_writer_abort(w);
	buf_free(&dsn);
	free(orig);
	return -1;
}

/*
 * sched_finalize - every recipient of e is final: bounce if needed, then
 * remove (once the bounce is durable: bounce_done())
 */
void
sched_finalize(struct sched *s, struct queue_env *e)
{
	char		 err[256];
	size_t		 i, nfail = 0;

	for (i = 0; i < e->nrcpt; i++)
		if (e->rcpt[i].state == RCPT_FAILED)
			nfail++;
	if (nfail > 0 && e->sender[0] == '\0') {
		log_info("%s: bounce not returned: the sender is the null "
		    "sender", e->id);
	} else if (nfail > 0 && !e->dsn_sent) {
		/* Keep the message; the next scan tries again. */
		if (bounce_start(s, e, err, sizeof(err)) == -1)
			log_warnx("%s: cannot queue the bounce: %s", e->id,
			    err);
		return;
	}
	removed(s, e->id);
}
