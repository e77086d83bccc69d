/*
 * sched_job.c - jobs: what a connection sends next. sched_job_load()
 * reads a ready item's envelope again and either makes a job of its
 * pending recipients that are due, or deals with the item (held,
 * deleted, expired, a mail loop, a port in an address literal, not due
 * after all).
 *
 * A job does not hold its message: the SMTP client reads the body from
 * msg/ID a chunk at a time as it sends (sched_job_body_read()), so
 * memory per delivery does not grow with the message. The file is open
 * while it is being read (counted for SIZE=, sent after DATA) and
 * closed once read to its end.
 *
 * Ownership: a job owns copies of the sender and its recipients, and
 * the descriptor of its message file while it is open;
 * sched_job_free() frees it all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "sched/sched_int.h"
#include "util/util.h"

/* sched_job_free - free a job and close its message file */
void
sched_job_free(struct job *j)
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
 * sched_job_body_read - the SMTP client's reader of the message (struct
 * smtp_body): octets [off, off + n) of msg/ID's body. The file is opened
 * on the first read of a pass and closed when a read reaches the body's
 * end, so a delivery waiting for DNS, a handshake or a reply holds no
 * descriptor for it. -1 with errno (ENOENT: deleted meanwhile).
 */
ssize_t
sched_job_body_read(void *arg, size_t off, char *buf, size_t n)
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

/*
 * job_new - a job of e's recipients at the item's domain that are due
 * now, its message file opened; NULL when there is none to make, and the
 * item has then been dealt with (out of memory or the file unreadable:
 * it waits for the next retry; the file gone: the message is removed).
 */
static struct job *
job_new(struct sched *s, struct item *it, const struct queue_env *e,
    time_t now)
{
	struct job	*j;
	char		 err[256];
	size_t		 i;
	int		 gone;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto nomem;
	j->fd = -1;
	j->q = s->c.q;
	if ((j->rcpts = calloc(e->nrcpt, sizeof(char *))) == NULL ||
	    (j->idx = calloc(e->nrcpt, sizeof(size_t))) == NULL ||
	    (j->sender = strdup(e->sender)) == NULL)
		goto nomem;
	memcpy(j->id, e->id, sizeof(j->id));
	j->it = it;
	j->tls_required_no = e->tls_required_no;
	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING ||
		    (e->rcpt[i].next_try > now && !it->force) ||
		    strcasecmp(sched_rcpt_domain(e->rcpt[i].addr),
		    it->domain) != 0)
			continue;
		j->idx[j->nrcpt] = i;
		if ((j->rcpts[j->nrcpt] = strdup(e->rcpt[i].addr)) == NULL)
			goto nomem;
		j->nrcpt++;
	}
	/* Open now: its length, and whether it is there at all. The first
	 * read uses this descriptor (sched_job_body_read()). */
	if ((j->fd = queue_msg_open(s->c.q, e->id, &j->msglen, err,
	    sizeof(err))) == -1) {
		gone = errno == ENOENT;
		sched_job_free(j);
		if (gone && it->m->active == 0) {
			/* An envelope without its body: a removal that a
			 * crash cut short (see queue_remove()). */
			log_info("%s: removed (its body was already gone)",
			    e->id);
			queue_remove(s->c.q, e->id);
			sched_msg_drop(s, it->m, 0);
			return NULL;
		}
		log_warnx("queue: %s", err);
		sched_item_due(s, it, now + sched_backoff(s, 1));
		return NULL;
	}
	return j;
nomem:
	sched_job_free(j);
	log_warnx("%s: out of memory: its recipients at %s stay queued for "
	    "%llds", e->id, it->domain, (long long)sched_backoff(s, 1));
	sched_item_due(s, it, now + sched_backoff(s, 1));
	return NULL;
}

/*
 * route_fixed - the transport table decides without a connection: an
 * error entry bounces the item's recipients, a discard entry drops them
 * (logged); and an item whose domain now goes elsewhere (the table or
 * the relayhost changed on SIGHUP) moves there. 1 if the item was dealt
 * with here.
 */
static int
route_fixed(struct sched *s, struct item *it, struct queue_env *e)
{
	const struct transport_entry *te;
	char	 why[TRANSPORT_TEXT_MAX + 3 * DMX_NAME_MAX + 64];
	char	 rtext[3 * DMX_NAME_MAX + 32];

	te = route_transport_match(s->c.transport, it->domain);
	if (te != NULL && te->action != TRANSPORT_SMTP) {
		deliver_route_text(rtext, sizeof(rtext), "transport",
		    it->domain, te->pattern, te->nexthop);
		if (te->action == TRANSPORT_DISCARD) {
			sched_discard_now(s, it, e, rtext);
			return 1;
		}
		snprintf(why, sizeof(why), "%s %s (route: %s)", te->enhanced,
		    te->text[0] ? te->text : "mail for this domain is not "
		    "accepted", rtext);
		sched_bounce_now(s, it, e, why, 0);
		return 1;
	}
	switch (sched_item_rehome(s, it, time(NULL))) {
	case 0:
		return 0;
	case 1:
		return 1;
	default:
		log_warnx("%s: out of memory: its recipients at %s stay "
		    "queued for %llds", e->id, it->domain,
		    (long long)sched_backoff(s, 1));
		sched_item_due(s, it, time(NULL) + sched_backoff(s, 1));
		return 1;
	}
}

/*
 * sched_job_load - the envelope and message for a ready item, or NULL
 * when there is nothing to send (held, deleted, expired, not due after
 * all); the item has then been dealt with.
 */
struct job *
sched_job_load(struct sched *s, struct item *it)
{
	struct queue_env e;
	struct qmsg	*m;
	struct job	*j = NULL;
	char		 err[256];
	time_t		 now = time(NULL), due;

	if (queue_env_load(s->c.q, it->m->id, &e, err, sizeof(err)) == -1) {
		if (errno != ENOENT) {		/* try again later */
			log_warnx("queue: %s", err);
			sched_item_due(s, it, now + sched_backoff(s, 1));
			return NULL;
		}
		log_info("%s: no longer in the queue", it->m->id);
		m = it->m;
		sched_item_free(s, it);
		sched_msg_maybe_free(s, m);
		return NULL;
	}
	if (e.held) {
		sched_msg_drop(s, it->m, 1);	/* known, and held */
		goto out;
	}
	if ((unsigned long)(now - e.created) >= s->c.conf->max_queue_lifetime) {
		sched_expire(s, it, &e);
		goto out;
	}
	if (sched_bounce_loop(s, it, &e))
		goto out;
	due = 0;
	if (!sched_pending_due(&e, it->domain, &due)) {
		m = it->m;
		sched_item_free(s, it);
		sched_msg_maybe_free(s, m);
		goto out;
	}
	/* A port in a recipient's address literal, "[192.0.2.1]:2525": the
	 * listener and sendmail refuse those, but a queue file may hold
	 * anything. The route never takes a port from a recipient. */
	if (!addr_domain_ok(it->domain)) {
		sched_bounce_now(s, it, &e, "5.1.3 bad recipient address "
		    "syntax: a port is allowed only in relayhost and the "
		    "policy table, not in an address", 0);
		goto out;
	}
	if (it->force)
		due = now;
	if (due > now) {
		sched_item_due(s, it, due);
		goto out;
	}
	if (route_fixed(s, it, &e))
		goto out;
	if ((j = job_new(s, it, &e, now)) == NULL)
		goto out;
	sched_item_unlink(s, it);
	it->force = 0;
	it->busy = 1;
	it->m->active++;
out:
	queue_env_free(&e);
	return j;
}
