/*
 * tlsrpt_send.c - the TLS report sender (RFC 8460 section 5; see
 * tlsrpt_send.h for what a pass does, and docs/tlsrpt.md).
 *
 * A pass lists the (domain, day) pairs with results and no report, and
 * works through them TLSRPT_SEND_CONCURRENCY at a time: each is a job
 * (struct job) that looks up `_smtp._tls.DOMAIN` on the resolver, builds
 * the report, claims it and hands it on. POSTs (struct post) run on the
 * HTTP client; their rows in the store say what is still to retry.
 *
 * Ownership: the sender owns its jobs, posts, timers and the pass's
 * list; everything in the conf is borrowed. A job frees itself when it
 * ends; a post when its request ends.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "http/http.h"
#include "log/log.h"
#include "state/state.h"
#include "tlsrpt/tlsrpt.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "tlsrpt/tlsrpt_send.h"
#include "util/util.h"

#define REPORT_JSON_MAX		(8 * 1024 * 1024)
#define REPORT_MAIL_MAX		(16 * 1024 * 1024)
#define RETRY_TICK		60	/* s between looks at due POSTs */
#define REPASS_AFTER		3600	/* s before a pass with failures
					   runs again (the relay) */

/* A (domain, day) to report. */
struct todo {
	char		 domain[STATE_DOMAIN_MAX];
	char		 day[11];
	uint64_t	 ok, failed;
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct tlsrpt_sender	*s;
	struct todo		 t;
	uint64_t		 dns_id;
};

struct post {
	TAILQ_ENTRY(post)	 entry;
	struct tlsrpt_sender	*s;
	struct state_tlsrpt_post p;	/* owns uri and body */
	char			 domain[STATE_DOMAIN_MAX];
	uint64_t		 http_id;
};

struct tlsrpt_sender {
	struct tlsrpt_send_conf	 c;
	struct event		*daily;		/* the next pass */
	struct event		*retry;		/* due POSTs */
	TAILQ_HEAD(, job)	 jobs;
	TAILQ_HEAD(, post)	 posts;
	size_t			 njobs;
	struct todo		*todo;		/* this pass's list */
	size_t			 ntodo, itodo, todocap;
	int			 passing;
	int			 stopped;	/* stop_after_claim came */
	unsigned		 pending_mails;	/* submitted, not done */
	struct tlsrpt_send_stats st;
	void			(*done)(void *, const struct tlsrpt_send_stats *);
	void			*done_arg;
};

static void	 job_next(struct tlsrpt_sender *);
static void	 pass_maybe_done(struct tlsrpt_sender *);
static void	 post_start(struct tlsrpt_sender *, struct state_tlsrpt_post *,
		    const char *domain);

/* day_of - "YYYY-MM-DD" of a Unix time (UTC) */
static void
day_of(int64_t t, char day[11])
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	gmtime_r(&tt, &tm);
	strftime(day, 11, "%Y-%m-%d", &tm);
}

/* day_start - 00:00:00Z of a day; -1 if it is no day */
static int64_t
day_start(const char *day)
{
	struct tm	 tm;
	char		*end;

	memset(&tm, 0, sizeof(tm));
	if (strlen(day) != 10 || (end = strptime(day, "%Y-%m-%d", &tm)) ==
	    NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* uri_host - the host of an https: URI, for the suppression list */
static void
uri_host(const char *uri, char *host, size_t hostlen)
{
	const char	*h = uri, *e;
	size_t		 n;

	if (strncasecmp(h, "https://", 8) == 0)
		h += 8;
	if ((e = strpbrk(h, "/:?#")) == NULL)
		e = h + strlen(h);
	n = (size_t)(e - h);
	if (n >= hostlen)
		n = hostlen - 1;
	memcpy(host, h, n);
	host[n] = '\0';
}

/* backoff - seconds before retry number tries (1, 2, ...) */
static unsigned
backoff(const struct tlsrpt_sender *s, unsigned tries)
{
	unsigned	 b = s->c.retry_first ? s->c.retry_first :
			    TLSRPT_RETRY_FIRST;

	while (tries-- > 1 && b < TLSRPT_RETRY_MAX)
		b *= 2;
	return b < TLSRPT_RETRY_MAX ? b : TLSRPT_RETRY_MAX;
}

/* --- the pass ------------------------------------------------------------ */

struct list_ctx {
	struct tlsrpt_sender	*s;
	const char		*day;
	const char		*today;
};

static int
list_cb(void *arg, const struct state_tlsrpt_day *d)
{
	struct list_ctx		*lc = arg;
	struct tlsrpt_sender	*s = lc->s;
	struct todo		*t;

	if (d->state[0] != '\0' || strcmp(d->day, lc->today) >= 0 ||
	    (lc->day != NULL && strcmp(d->day, lc->day) != 0))
		return 0;
	if (d->failed == 0 && !s->c.send_all)
		return 0;		/* a clean day: nothing to say */
	if (s->ntodo == s->todocap) {
		size_t	 cap = s->todocap ? 2 * s->todocap : 64;

		if ((t = reallocarray(s->todo, cap, sizeof(*t))) == NULL)
			return -1;
		s->todo = t;
		s->todocap = cap;
	}
	t = &s->todo[s->ntodo++];
	strlcpy_(t->domain, d->domain, sizeof(t->domain));
	strlcpy_(t->day, d->day, sizeof(t->day));
	t->ok = d->ok;
	t->failed = d->failed;
	return 0;
}

/* retry_due - start the POSTs whose time has come (not already going) */
struct due_ctx {
	struct tlsrpt_sender	*s;
};

static int
due_cb(void *arg, const struct state_tlsrpt_post *p)
{
	struct tlsrpt_sender	*s = arg;
	struct state_tlsrpt_post c;
	struct post		*po;

	TAILQ_FOREACH(po, &s->posts, entry)
		if (strcmp(po->p.report_id, p->report_id) == 0 &&
		    strcmp(po->p.uri, p->uri) == 0)
			return 0;
	memset(&c, 0, sizeof(c));
	memcpy(c.report_id, p->report_id, sizeof(c.report_id));
	c.tries = p->tries;
	c.next_try = p->next_try;
	c.deadline = p->deadline;
	c.len = p->len;
	if ((c.uri = strdup(p->uri)) == NULL ||
	    (c.body = malloc(p->len ? p->len : 1)) == NULL) {
		free(c.uri);
		return -1;
	}
	memcpy(c.body, p->body, p->len);
	post_start(s, &c, "");
	return 0;
}

static void
retry_due(struct tlsrpt_sender *s)
{
	char	 err[256];

	if (state_tlsrpt_post_list(s->c.st, tlsrpt_now(), 100, due_cb, s,
	    err, sizeof(err)) == -1)
		log_warnx("TLS reports: cannot list the POSTs to retry: %s",
		    err);
}

/*
 * tlsrpt_sender_pass - list what is to report and start on it; done()
 * runs once every job, mail and POST of the pass has ended
 */
int
tlsrpt_sender_pass(struct tlsrpt_sender *s, const char *day,
    const char *domain, void (*done)(void *, const struct tlsrpt_send_stats *),
    void *arg)
{
	struct list_ctx	 lc;
	char		 today[11], err[256];

	if (s->passing)
		return 0;		/* one at a time; the next comes */
	day_of(tlsrpt_now(), today);
	memset(&s->st, 0, sizeof(s->st));
	s->ntodo = s->itodo = 0;
	s->done = done;
	s->done_arg = arg;
	lc.s = s;
	lc.day = day;
	lc.today = today;
	if (state_tlsrpt_days(s->c.st, domain, today, list_cb, &lc, err,
	    sizeof(err)) == -1) {
		log_warnx("TLS reports: cannot list the results: %s", err);
		return -1;
	}
	s->passing = 1;
	if (s->ntodo > 0)
		log_info("TLS reports: %zu report%s to send", s->ntodo,
		    s->ntodo == 1 ? "" : "s");
	retry_due(s);
	job_next(s);
	pass_maybe_done(s);
	return 0;
}

static void
pass_maybe_done(struct tlsrpt_sender *s)
{
	void	(*done)(void *, const struct tlsrpt_send_stats *);

	if (!s->passing || s->njobs > 0 || (s->itodo < s->ntodo &&
	    !s->stopped) || s->pending_mails > 0 || (s->done != NULL &&
	    !TAILQ_EMPTY(&s->posts)))
		return;
	s->passing = 0;
	done = s->done;
	s->done = NULL;
	if (done != NULL)
		done(s->done_arg, &s->st);
}

/* --- one report ---------------------------------------------------------- */

static void
job_free(struct job *j)
{
	struct tlsrpt_sender	*s = j->s;

	if (j->dns_id != 0)
		dmx_dns_cancel(s->c.res, j->dns_id);
	TAILQ_REMOVE(&s->jobs, j, entry);
	s->njobs--;
	free(j);
}

/* claim_skip - the report is settled without sending: say why, once */
static void
claim_skip(struct job *j, const char *why)
{
	struct tlsrpt_sender	*s = j->s;
	char			 err[256];

	log_info("TLS report for %s (%s): %s; not sent", j->t.domain,
	    j->t.day, why);
	if (state_tlsrpt_claim(s->c.st, j->t.domain, j->t.day, "skipped",
	    "", why, tlsrpt_now(), NULL, 0, err, sizeof(err)) == -1)
		log_warnx("TLS report for %s (%s): %s", j->t.domain,
		    j->t.day, err);
	s->st.skipped++;
}

static void
mail_done(void *arg, int ok, const char *id, const char *err)
{
	struct tlsrpt_sender	*s = arg;

	s->pending_mails--;
	if (ok) {
		log_info("TLS report mail queued as %s", id);
		s->st.mails++;
	} else
		log_warnx("TLS report mail not queued: %s", err);
	pass_maybe_done(s);
}

/*
 * hand_on - the report is claimed: queue its mail, start its POSTs
 */
static void
hand_on(struct job *j, const char *id, struct buf *mail,
    const char * const *to, size_t nto, struct state_tlsrpt_post *posts,
    size_t nposts)
{
	struct tlsrpt_sender	*s = j->s;
	char			 err[256];
	size_t			 i;

	s->st.reports++;
	if (nto > 0) {
		s->pending_mails++;
		if (s->c.submit(s->c.submit_arg, s->c.from, to, nto,
		    mail->data, mail->len, mail_done, s, err,
		    sizeof(err)) == -1) {
			s->pending_mails--;
			log_warnx("TLS report %s for %s (%s): mail not "
			    "queued: %s", id, j->t.domain, j->t.day, err);
		}
	}
	for (i = 0; i < nposts; i++) {
		post_start(s, &posts[i], j->t.domain);
		memset(&posts[i], 0, sizeof(posts[i]));	/* post_start's */
	}
}

/* rua_join - the addresses for the claim's record, "a,b,c" */
static void
rua_join(struct buf *b, const struct tlsrpt_rua *rua, const char * const
    *to, size_t nto)
{
	size_t	 i;

	for (i = 0; i < nto; i++)
		buf_printf(b, "%smailto:%s", b->len ? "," : "", to[i]);
	for (i = 0; i < rua->n; i++)
		if (rua->dest[i].scheme == TLSRPT_HTTPS)
			buf_printf(b, "%s%s", b->len ? "," : "",
			    rua->dest[i].uri);
}

/* dest_suppressed - is the destination on tlsrpt_suppress? */
static int
dest_suppressed(const struct tlsrpt_sender *s, const struct tlsrpt_dest *d)
{
	char	 host[TLSRPT_URI_MAX];

	if (d->scheme == TLSRPT_MAILTO)
		return tlsrpt_suppressed(s->c.suppress, d->addr);
	uri_host(d->uri, host, sizeof(host));
	return tlsrpt_suppressed(s->c.suppress, host);
}

/*
 * job_report - the record is known: build, claim, hand on. Everything
 * that can fail is done before the claim, so a claimed report is one
 * that goes out.
 */
static void
job_report(struct job *j, const struct tlsrpt_rua *rua)
{
	struct tlsrpt_sender	*s = j->s;
	struct tlsrpt_report_info info;
	struct tlsrpt_mail_info	 mi;
	struct state_tlsrpt_post posts[TLSRPT_RUA_MAX];
	const char		*to[TLSRPT_RUA_MAX];
	struct buf		 json, gz, mail, ruas;
	char			 id[STATE_TLSRPT_ID_MAX], err[512];
	size_t			 i, nto = 0, nposts = 0;
	int64_t			 now = tlsrpt_now(), begin;
	int			 r;

	buf_init(&json, REPORT_JSON_MAX);
	buf_init(&gz, REPORT_JSON_MAX);
	buf_init(&mail, REPORT_MAIL_MAX);
	buf_init(&ruas, 8192);
	memset(posts, 0, sizeof(posts));
	for (i = 0; i < rua->n; i++) {
		if (dest_suppressed(s, &rua->dest[i]))
			log_info("TLS report for %s (%s): %s is in "
			    "tlsrpt_suppress", j->t.domain, j->t.day,
			    rua->dest[i].uri);
		else if (rua->dest[i].scheme == TLSRPT_HTTPS)
			nposts++;
		else if (s->c.dkim == NULL)
			log_warnx("TLS report for %s (%s): %s: no DKIM key "
			    "(dkim_key_file) to sign the mail with, and RFC "
			    "8460 has unsigned reports ignored: not mailed",
			    j->t.domain, j->t.day, rua->dest[i].uri);
		else
			to[nto++] = rua->dest[i].addr;
	}
	if (nto + nposts == 0) {
		claim_skip(j, "no address to send it to");
		goto out;
	}
	if (tlsrpt_report_id(id, sizeof(id), j->t.day, j->t.domain,
	    s->c.submitter) == -1) {
		log_warnx("TLS report for %s (%s): the report id is too long",
		    j->t.domain, j->t.day);
		s->st.failed++;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.organization = s->c.organization_name;
	info.contact = s->c.contact_info;
	info.report_id = id;
	info.submitter = s->c.submitter;
	begin = day_start(j->t.day);
	if (tlsrpt_report_json(&json, s->c.st, &info, j->t.domain, j->t.day,
	    err, sizeof(err)) == -1 || tlsrpt_gzip(&gz, json.data,
	    json.len) == -1) {
		log_warnx("TLS report for %s (%s): cannot build it: %s",
		    j->t.domain, j->t.day, err);
		s->st.failed++;
		goto out;
	}
	if (nto > 0) {
		memset(&mi, 0, sizeof(mi));
		mi.from = s->c.from;
		mi.to = to;
		mi.nto = nto;
		mi.domain = j->t.domain;
		mi.submitter = s->c.submitter;
		mi.report_id = id;
		mi.begin = begin;
		mi.end = begin + 86399;
		mi.date = (time_t)now;
		if (tlsrpt_mail_build(&mail, &mi, json.data, json.len, err,
		    sizeof(err)) == -1 || (s->c.dkim != NULL &&
		    tlsrpt_dkim_sign(s->c.dkim, &mail, err, sizeof(err)) ==
		    -1)) {
			log_warnx("TLS report for %s (%s): cannot build the "
			    "mail: %s", j->t.domain, j->t.day, err);
			s->st.failed++;
			goto out;
		}
	}
	nposts = 0;
	for (i = 0; i < rua->n; i++) {
		struct state_tlsrpt_post *p = &posts[nposts];

		if (rua->dest[i].scheme != TLSRPT_HTTPS ||
		    dest_suppressed(s, &rua->dest[i]))
			continue;
		strlcpy_(p->report_id, id, sizeof(p->report_id));
		p->uri = strdup(rua->dest[i].uri);
		p->body = malloc(gz.len);
		if (p->uri == NULL || p->body == NULL) {
			log_warnx("TLS report for %s: out of memory",
			    j->t.domain);
			s->st.failed++;
			nposts++;
			goto out;
		}
		memcpy(p->body, gz.data, gz.len);
		p->len = gz.len;
		p->next_try = now + backoff(s, 1);
		p->deadline = now + TLSRPT_RETRY_FOR;
		nposts++;
	}
	rua_join(&ruas, rua, to, nto);
	r = state_tlsrpt_claim(s->c.st, j->t.domain, j->t.day, "sent", id,
	    ruas.data != NULL ? ruas.data : "", now, posts, nposts, err,
	    sizeof(err));
	if (r == -1) {
		log_warnx("TLS report for %s (%s): cannot mark it sent, so it "
		    "is not sent: %s", j->t.domain, j->t.day, err);
		s->st.failed++;
		goto out;
	}
	if (r == 0) {
		log_info("TLS report for %s (%s): already sent", j->t.domain,
		    j->t.day);
		goto out;
	}
	log_info("TLS report %s for %s (%s): %llu session%s, %llu failed, "
	    "to %s", id, j->t.domain, j->t.day,
	    (unsigned long long)(j->t.ok + j->t.failed),
	    j->t.ok + j->t.failed == 1 ? "" : "s",
	    (unsigned long long)j->t.failed, ruas.data);
	if (s->c.stop_after_claim) {
		s->stopped = 1;
		s->st.stopped = 1;
		goto out;
	}
	hand_on(j, id, &mail, to, nto, posts, nposts);
out:
	for (i = 0; i < TLSRPT_RUA_MAX; i++) {
		free(posts[i].uri);
		free(posts[i].body);
	}
	buf_free(&json);
	buf_free(&gz);
	buf_free(&mail);
	buf_free(&ruas);
}

/* txt_done - the `_smtp._tls` record of the job's domain answered */
static void
txt_done(void *arg, struct dmx_dns_result *res)
{
	struct job		*j = arg;
	struct tlsrpt_sender	*s = j->s;
	struct tlsrpt_rua	 rua;
	char			 err[512], why[800];
	size_t			 i;
	int			 r;

	j->dns_id = 0;
	switch (res->status) {
	case DMX_DNS_SECURE:
	case DMX_DNS_INSECURE:
		r = tlsrpt_txt_parse_rrs(res->rrs, res->nrrs, &rua, err,
		    sizeof(err));
		for (i = 0; i < rua.nnotes && i < TLSRPT_NOTE_MAX; i++)
			log_info("TLS report for %s (%s): %s", j->t.domain,
			    j->t.day, rua.notes[i]);
		if (r == -1) {
			snprintf(why, sizeof(why), "_smtp._tls.%s: %s",
			    j->t.domain, err);
			claim_skip(j, why);
			break;
		}
		job_report(j, &rua);
		break;
	default:
		/* No answer is no answer: the next pass asks again. */
		log_warnx("TLS report for %s (%s): TXT lookup of _smtp._tls.%s: "
		    "%s: %s; trying again later", j->t.domain, j->t.day,
		    j->t.domain, dmx_dns_status_str(res->status),
		    res->why_bogus != NULL ? res->why_bogus : res->error !=
		    NULL ? res->error : "no reason given");
		s->st.failed++;
	}
	dmx_dns_result_free(res);
	job_free(j);
	job_next(s);
	pass_maybe_done(s);
}

/* job_next - start reports until TLSRPT_SEND_CONCURRENCY are going */
static void
job_next(struct tlsrpt_sender *s)
{
	struct job	*j;
	char		 name[STATE_DOMAIN_MAX + 16];

	while (!s->stopped && s->njobs < TLSRPT_SEND_CONCURRENCY &&
	    s->itodo < s->ntodo) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			return;
		j->s = s;
		j->t = s->todo[s->itodo++];
		TAILQ_INSERT_TAIL(&s->jobs, j, entry);
		s->njobs++;
		if (tlsrpt_suppressed(s->c.suppress, j->t.domain)) {
			claim_skip(j, "the domain is in tlsrpt_suppress");
			job_free(j);
			continue;
		}
		snprintf(name, sizeof(name), "_smtp._tls.%s", j->t.domain);
		if ((j->dns_id = dmx_dns_lookup(s->c.res, name, DMX_T_TXT,
		    txt_done, j)) == 0) {
			log_warnx("TLS report for %s: cannot look up %s",
			    j->t.domain, name);
			s->st.failed++;
			job_free(j);
		}
	}
}

/* --- POSTs --------------------------------------------------------------- */

static void
post_free(struct post *po)
{
	TAILQ_REMOVE(&po->s->posts, po, entry);
	free(po->p.uri);
	free(po->p.body);
	free(po);
}

static void
post_done(void *arg, struct http_result *r)
{
	struct post		*po = arg;
	struct tlsrpt_sender	*s = po->s;
	int64_t			 now = tlsrpt_now();
	unsigned		 b;

	po->http_id = 0;
	po->p.tries++;
	if (r->error == HTTP_OK) {
		log_info("TLS report %s: posted to %s (%ld)", po->p.report_id,
		    po->p.uri, r->status);
		state_tlsrpt_post_delete(s->c.st, po->p.report_id, po->p.uri);
		s->st.posts_ok++;
	} else if (now + (b = backoff(s, po->p.tries)) > po->p.deadline) {
		log_warnx("TLS report %s: POST to %s failed: %s; giving up "
		    "after %u tr%s", po->p.report_id, po->p.uri, r->detail,
		    po->p.tries, po->p.tries == 1 ? "y" : "ies");
		state_tlsrpt_post_delete(s->c.st, po->p.report_id, po->p.uri);
	} else {
		log_warnx("TLS report %s: POST to %s failed: %s; trying again "
		    "in %u s", po->p.report_id, po->p.uri, r->detail, b);
		po->p.next_try = now + b;
		strlcpy_(po->p.last_error, r->detail,
		    sizeof(po->p.last_error));
		state_tlsrpt_post_update(s->c.st, &po->p);
		s->st.posts_retry++;
	}
	http_result_free(r);
	post_free(po);
	pass_maybe_done(s);
}

/* post_start - POST p (taken over: its uri and body) */
static void
post_start(struct tlsrpt_sender *s, struct state_tlsrpt_post *p,
    const char *domain)
{
	struct http_request	 req;
	struct post		*po;

	if ((po = calloc(1, sizeof(*po))) == NULL) {
		free(p->uri);
		free(p->body);
		return;			/* the row stays: retried later */
	}
	po->s = s;
	po->p = *p;
	strlcpy_(po->domain, domain, sizeof(po->domain));
	TAILQ_INSERT_TAIL(&s->posts, po, entry);
	memset(&req, 0, sizeof(req));
	req.method = HTTP_POST;
	req.url = po->p.uri;
	req.body = po->p.body;
	req.body_len = po->p.len;
	req.content_type = "application/tlsrpt+gzip";
	if ((po->http_id = http_request(s->c.http, &req, post_done, po)) ==
	    0) {
		log_warnx("TLS report %s: cannot POST to %s", po->p.report_id,
		    po->p.uri);
		post_free(po);
	}
}

/* --- the schedule -------------------------------------------------------- */

/* next_run - seconds until the next 00:00 UTC plus a random delay */
static long
next_run(const struct tlsrpt_sender *s)
{
	int64_t		 now = tlsrpt_now();
	unsigned	 r = 0;

	if (s->c.delay_max > 0 && RAND_bytes((unsigned char *)&r,
	    sizeof(r)) == 1)
		r %= s->c.delay_max;
	else
		r = 0;
	return (long)(86400 - now % 86400) + r;
}

static void
on_daily(evutil_socket_t fd, short ev, void *arg)
{
	struct tlsrpt_sender	*s = arg;
	struct timeval		 tv;

	(void)fd;
	(void)ev;
	if (s->c.enabled)
		tlsrpt_sender_pass(s, NULL, NULL, NULL, NULL);
	tv.tv_sec = s->st.failed > 0 ? REPASS_AFTER : next_run(s);
	tv.tv_usec = 0;
	evtimer_add(s->daily, &tv);
}

static void
on_retry(evutil_socket_t fd, short ev, void *arg)
{
	struct tlsrpt_sender	*s = arg;
	struct timeval		 tv = { RETRY_TICK, 0 };

	(void)fd;
	(void)ev;
	if (s->c.retry_first > 0 && s->c.retry_first < RETRY_TICK)
		tv.tv_sec = s->c.retry_first;
	if (s->c.enabled)
		retry_due(s);
	evtimer_add(s->retry, &tv);
}

/* tlsrpt_sender_schedule - the relay's: a pass now, daily, and retries */
void
tlsrpt_sender_schedule(struct tlsrpt_sender *s)
{
	struct timeval	 now = { 0, 0 };

	evtimer_add(s->daily, &now);
	evtimer_add(s->retry, &now);
}

struct tlsrpt_sender *
tlsrpt_sender_new(const struct tlsrpt_send_conf *c, char *err, size_t errlen)
{
	struct tlsrpt_sender	*s;

	if (c->st == NULL || c->res == NULL || c->http == NULL ||
	    c->submit == NULL || c->submitter == NULL || c->from == NULL) {
		snprintf(err, errlen, "TLS reports need the state store, a "
		    "resolver, HTTPS and the queue");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->c = *c;
	TAILQ_INIT(&s->jobs);
	TAILQ_INIT(&s->posts);
	if ((s->daily = evtimer_new(c->base, on_daily, s)) == NULL ||
	    (s->retry = evtimer_new(c->base, on_retry, s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		tlsrpt_sender_free(s);
		return NULL;
	}
	return s;
}

/* tlsrpt_sender_update - new settings (SIGHUP); what runs goes on */
void
tlsrpt_sender_update(struct tlsrpt_sender *s, const struct tlsrpt_send_conf *c)
{
	s->c.enabled = c->enabled;
	s->c.organization_name = c->organization_name;
	s->c.contact_info = c->contact_info;
	s->c.submitter = c->submitter;
	s->c.from = c->from;
	s->c.suppress = c->suppress;
	s->c.send_all = c->send_all;
	s->c.delay_max = c->delay_max;
	s->c.retry_first = c->retry_first;
}

void
tlsrpt_sender_free(struct tlsrpt_sender *s)
{
	struct post	*po;

	if (s == NULL)
		return;
	while (!TAILQ_EMPTY(&s->jobs))
		job_free(TAILQ_FIRST(&s->jobs));
	while ((po = TAILQ_FIRST(&s->posts)) != NULL) {
		if (po->http_id != 0)
			http_cancel(s->c.http, po->http_id);
		post_free(po);
	}
	if (s->daily != NULL)
		event_free(s->daily);
	if (s->retry != NULL)
		event_free(s->retry);
	free(s->todo);
	free(s);
}
