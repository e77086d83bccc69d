/*
 * sched.c - the delivery scheduler: from the queue to deliver_start().
 *
 * A scan reads the envelopes of messages not in flight, picks the
 * recipients that are due (pending, not held, next_try passed), groups
 * them by destination domain and starts one delivery per group, within
 * max_deliveries in all and dest_concurrency per destination. Results
 * are written back to the envelope: sent, failed (5xx, or the queue
 * lifetime passed) or deferred with exponential backoff. A DANE or
 * DNSSEC failure is always a deferral, never a bounce. When every
 * recipient is final the message leaves the queue, after a DSN to the
 * sender if any recipient failed (never for a bounce: its sender is
 * the null sender).
 *
 * Ownership: the scheduler owns its jobs; a job owns its copy of the
 * message and its live delivery. Envelopes are reloaded from disk
 * before every update, so jobs of one message for several domains
 * never overwrite each other's results (one thread, one loop).
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "log/log.h"
#include "server/server.h"
#include "util/util.h"

#define SCAN_INTERVAL	5	/* seconds between scans, at most */
#define HOLDS_MAX	256	/* destinations held after a DANE failure */

/*
 * A destination whose delivery just failed DANE or DNSSEC is held for
 * retry_min: other messages for it wait instead of hammering a host
 * that will fail again. A flush (SIGUSR1) lifts every hold.
 */
struct hold {
	char		 domain[DMX_NAME_MAX];
	time_t		 until;
	char		 why[300];
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct sched		*s;
	char			 id[QUEUE_ID_LEN + 1];
	char			 domain[DMX_NAME_MAX];
	char			*sender;	/* owned copy */
	char			**rcpts;	/* owned copies */
	size_t			*idx;		/* into the envelope */
	size_t			 nrcpt;
	char			*msg;
	size_t			 msglen;
	struct deliver		*d;
	time_t			 started;
};

struct sched {
	struct event_base	*base;
	struct sched_conf	 c;
	struct event		*tick;
	TAILQ_HEAD(, job)	 jobs;
	size_t			 njobs;
	int			 draining;
	int			 scan_pending;
	struct hold		 holds[HOLDS_MAX];
	size_t			 nholds;
};

/* dane_failure - a result type that says DANE or DNSSEC failed */
static int
dane_failure(enum dane_result_type rt)
{
	return rt != DANE_RT_NONE;
}

static struct hold *
hold_find(struct sched *s, const char *domain, time_t now)
{
	size_t	 i;

	for (i = 0; i < s->nholds; i++) {
		if (s->holds[i].until <= now) {
			s->holds[i] = s->holds[--s->nholds];
			i--;
			continue;
		}
		if (strcasecmp(s->holds[i].domain, domain) == 0)
			return &s->holds[i];
	}
	return NULL;
}

static void
hold_add(struct sched *s, const char *domain, time_t until, const char *why)
{
	struct hold	*h;

	if ((h = hold_find(s, domain, time(NULL))) == NULL) {
		if (s->nholds == HOLDS_MAX)
			return;
		h = &s->holds[s->nholds++];
	}
	strlcpy_(h->domain, domain, sizeof(h->domain));
	h->until = until;
	strlcpy_(h->why, why, sizeof(h->why));
	log_info("%s: held until the next retry (%llds): %s", domain,
	    (long long)(until - time(NULL)), why);
}

static void	scan(struct sched *);

static void
job_free(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->nrcpt; i++)
		free(j->rcpts[i]);
	free(j->sender);
	free(j->rcpts);
	free(j->idx);
	free(j->msg);
	free(j);
}

static int
in_flight(const struct sched *s, const char *id)
{
	const struct job *j;

	TAILQ_FOREACH(j, &s->jobs, entry)
		if (strcmp(j->id, id) == 0)
			return 1;
	return 0;
}

static size_t
dest_active(const struct sched *s, const char *domain)
{
	const struct job *j;
	size_t		 n = 0;

	TAILQ_FOREACH(j, &s->jobs, entry)
		if (strcasecmp(j->domain, domain) == 0)
			n++;
	return n;
}

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
		queue_msg_read(s->c.q, e->id, &orig, &olen, err, sizeof(err));
		buf_init(&dsn, 2 * 1024 * 1024 + olen);
		to[0] = e->sender;
		if ((w = queue_writer_new(s->c.q, err, sizeof(err))) == NULL)
			goto fail;
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
		sched_kick(s);
	}
	log_info("%s: removed", e->id);
	queue_remove(s->c.q, e->id);
	return;
fail:
	/* Keep the message; the next scan tries again. */
	log_warnx("%s: cannot queue the bounce: %s", e->id, err);
	buf_free(&dsn);
	free(orig);
}

static const char *
dane_text(const struct deliver_attempt *a)
{
	if (a == NULL || !a->have_verdict)
		return "none";
	return a->verdict.text;
}

/* job_done - a delivery finished: write the recipients' fates */
static void
job_done(void *arg, struct deliver_result *r)
{
	struct job		*j = arg;
	struct sched		*s = j->s;
	struct queue_env	 e;
	struct queue_rcpt	*qr;
	const struct deliver_attempt *a = r->used >= 0 ? &r->att[r->used] :
	    (r->natt > 0 ? &r->att[r->natt - 1] : NULL);
	const char		*relay = "none", *raddr = "";
	char			 err[256], last[700], relbuf[DMX_NAME_MAX + 80];
	char			 rtext[560];
	time_t			 now = time(NULL);
	size_t			 k, nfinal = 0;
	int			 code;
	const char		*status;

	TAILQ_REMOVE(&s->jobs, j, entry);
	s->njobs--;
	if (a != NULL && !a->skipped && r->route != NULL) {
		relay = r->route->hosts[a->host].name;
		raddr = a->addr;
	}
	snprintf(relbuf, sizeof(relbuf), "%s%s%s%s", relay, raddr[0] ? "[" : "",
	    raddr, raddr[0] ? "]" : "");
	if (queue_env_load(s->c.q, j->id, &e, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", j->id, err);	/* deleted meanwhile */
		goto out;
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
			snprintf(last, sizeof(last), "%s", code >= 500 ?
			    r->rcpt[k].text : r->why);
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
			    rtext : r->why, r->rt != DANE_RT_NONE ?
			    " [" : "", r->rt != DANE_RT_NONE ?
			    dane_result_type_str(r->rt) : "",
			    r->rt != DANE_RT_NONE ? "]" : "");
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
		    !a->skipped ? tls_achieved_str(a->tls) : "none",
		    dane_text(a), (long long)(now - e.created), status, last);
	}
	if (r->outcome == OUTCOME_DEFERRED && dane_failure(r->rt))
		hold_add(s, j->domain, now + backoff(s, 1), r->why);
	for (k = 0; k < e.nrcpt; k++)
		if (e.rcpt[k].state != RCPT_PENDING)
			nfinal++;
	if (queue_env_store(s->c.q, &e, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	else if (nfinal == e.nrcpt && !in_flight(s, j->id))
		finalize(s, &e);
	queue_env_free(&e);
out:
	deliver_result_free(r);
	job_free(j);
	if (!s->draining)
		sched_kick(s);
}

/* start_job - one delivery for the due recipients of e at domain */
static void
start_job(struct sched *s, const struct queue_env *e, const char *domain,
    const char *msg, size_t msglen)
{
	const struct policy_entry *pe, *be;
	struct deliver_conf	 dc;
	struct job		*j;
	char			 err[256];
	size_t			 i;
	time_t			 now = time(NULL);

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->rcpts = calloc(e->nrcpt, sizeof(char *))) == NULL ||
	    (j->idx = calloc(e->nrcpt, sizeof(size_t))) == NULL ||
	    (j->msg = malloc(msglen + 1)) == NULL) {
		if (j != NULL) {
			free(j->rcpts);
			free(j->idx);
			free(j);
		}
		return;
	}
	j->s = s;
	if ((j->sender = strdup(e->sender)) == NULL) {
		job_free(j);
		return;
	}
	memcpy(j->id, e->id, sizeof(j->id));
	strlcpy_(j->domain, domain, sizeof(j->domain));
	memcpy(j->msg, msg, msglen);
	j->msglen = msglen;
	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_PENDING ||
		    e->rcpt[i].next_try > now ||
		    strcasecmp(rcpt_domain(e->rcpt[i].addr), domain) != 0)
			continue;
		j->idx[j->nrcpt] = i;
		j->rcpts[j->nrcpt++] = strdup(e->rcpt[i].addr);
	}
	memset(&dc, 0, sizeof(dc));
	dc.domain = s->c.conf->relayhost ? s->c.conf->relayhost : domain;
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
	dc.msg = j->msg;
	dc.msglen = j->msglen;
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
	dc.log = 1;
	dc.done = job_done;
	dc.arg = j;
	j->started = now;
	TAILQ_INSERT_TAIL(&s->jobs, j, entry);
	s->njobs++;
	if ((j->d = deliver_start(s->base, s->c.res, &dc, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s: cannot start delivery to %s: %s", e->id, domain,
		    err);
		TAILQ_REMOVE(&s->jobs, j, entry);
		s->njobs--;
		job_free(j);
	}
}

/* scan_message - start what is due for one message */
static void
scan_message(struct sched *s, const char *id, time_t now)
{
	struct queue_env e;
	struct hold	*h;
	char		 err[256], *msg = NULL, done[QUEUE_RCPT_MAX], why[400];
	size_t		 i, k, msglen = 0, nfinal = 0;
	const char	*dom, *dest;
	int		 changed = 0;

	if (queue_env_load(s->c.q, id, &e, err, sizeof(err)) == -1) {
		log_warnx("queue: %s", err);
		return;
	}
	if (e.held)
		goto out;
	for (i = 0; i < e.nrcpt; i++) {
		if (e.rcpt[i].state != RCPT_PENDING) {
			nfinal++;
			continue;
		}
		if ((unsigned long)(now - e.created) >=
		    s->c.conf->max_queue_lifetime) {
			e.rcpt[i].state = RCPT_FAILED;
			log_info("%s: to=<%s>, status=bounced (gave up after the "
			    "queue lifetime: %s)", id, e.rcpt[i].addr,
			    e.rcpt[i].last ? e.rcpt[i].last : "never delivered");
			nfinal++;
		}
	}
	if (nfinal == e.nrcpt) {
		if (queue_env_store(s->c.q, &e, err, sizeof(err)) == 0)
			finalize(s, &e);
		goto out;
	}
	memset(done, 0, sizeof(done));
	for (i = 0; i < e.nrcpt; i++) {
		if (done[i] || e.rcpt[i].state != RCPT_PENDING ||
		    e.rcpt[i].next_try > now)
			continue;
		dom = rcpt_domain(e.rcpt[i].addr);
		for (k = i; k < e.nrcpt; k++)
			if (strcasecmp(rcpt_domain(e.rcpt[k].addr), dom) == 0)
				done[k] = 1;
		dest = s->c.conf->relayhost ? s->c.conf->relayhost : dom;
		if ((h = hold_find(s, dom, now)) != NULL) {
			/* Wait with the held destination; say why. */
			snprintf(why, sizeof(why), "destination held after a "
			    "DANE/DNSSEC failure: %s", h->why);
			for (k = i; k < e.nrcpt; k++) {
				if (e.rcpt[k].state != RCPT_PENDING ||
				    strcasecmp(rcpt_domain(e.rcpt[k].addr), dom))
					continue;
				e.rcpt[k].next_try = h->until;
				free(e.rcpt[k].last);
				e.rcpt[k].last = strdup(why);
				changed = 1;
			}
			continue;
		}
		if (s->njobs >= s->c.conf->max_deliveries ||
		    dest_active(s, dest) >= s->c.conf->dest_concurrency)
			continue;
		if (msg == NULL && queue_msg_read(s->c.q, id, &msg, &msglen,
		    err, sizeof(err)) == -1) {
			log_warnx("queue: %s", err);
			goto out;
		}
		start_job(s, &e, dom, msg, msglen);
	}
	if (changed && queue_env_store(s->c.q, &e, err, sizeof(err)) == -1)
		log_warnx("%s", err);
out:
	free(msg);
	queue_env_free(&e);
}

static void
scan(struct sched *s)
{
	char		**ids, err[256];
	size_t		 n, i;
	time_t		 now = time(NULL);

	if (s->draining)
		return;
	if (queue_list(s->c.q, &ids, &n, err, sizeof(err)) == -1) {
		log_warnx("queue: %s", err);
		return;
	}
	for (i = 0; i < n && s->njobs < s->c.conf->max_deliveries; i++)
		if (!in_flight(s, ids[i]))
			scan_message(s, ids[i], now);
	queue_list_free(ids, n);
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sched	*s = arg;
	struct timeval	 tv = { SCAN_INTERVAL, 0 };

	(void)fd;
	(void)ev;
	s->scan_pending = 0;
	scan(s);
	if (!s->draining)
		evtimer_add(s->tick, &tv);
}

/* sched_new - a scheduler that scans the queue now and every few seconds */
struct sched *
sched_new(struct event_base *base, const struct sched_conf *c)
{
	struct sched	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base = base;
	s->c = *c;
	TAILQ_INIT(&s->jobs);
	if ((s->tick = evtimer_new(base, tick_cb, s)) == NULL) {
		free(s);
		return NULL;
	}
	sched_kick(s);
	return s;
}

/* sched_kick - scan soon (from the loop, never from inside a callback) */
void
sched_kick(struct sched *s)
{
	struct timeval	 tv = { 0, 0 };

	if (s->draining || s->scan_pending)
		return;
	s->scan_pending = 1;
	evtimer_add(s->tick, &tv);
}

/* sched_enqueue - a message was just committed to the queue */
void
sched_enqueue(struct sched *s, const char *id)
{
	(void)id;
	sched_kick(s);
}

/* sched_flush - lift every hold and scan now (queue flush, SIGUSR1) */
void
sched_flush(struct sched *s)
{
	s->nholds = 0;
	sched_kick(s);
}

/* sched_drain - start nothing new; running deliveries finish */
void
sched_drain(struct sched *s)
{
	s->draining = 1;
	evtimer_del(s->tick);
}

/* sched_active - deliveries in flight */
size_t
sched_active(const struct sched *s)
{
	return s->njobs;
}

/* sched_free - abort what still runs (its recipients stay pending) */
void
sched_free(struct sched *s)
{
	struct job	*j;

	if (s == NULL)
		return;
	while ((j = TAILQ_FIRST(&s->jobs)) != NULL) {
		TAILQ_REMOVE(&s->jobs, j, entry);
		deliver_abort(j->d);
		job_free(j);
	}
	event_free(s->tick);
	free(s);
}
