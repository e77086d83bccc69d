/*
 * state_tlsrpt.c - the TLS-RPT verbs of the state store (RFC 8460):
 * session results, merged in memory and written in batches by the
 * worker; the (domain, day) summaries; the claim of a report, durable
 * before it returns; and the HTTPS deliveries still to make.
 *
 * state_tlsrpt_add() costs its caller a hash lookup under the store's
 * lock: an identical pending row (every column but count) takes the
 * count, a new one is copied into the pending table. The worker turns
 * the table into queued writes once its oldest row has waited
 * STATE_TLSRPT_FLUSH_MS, when it holds STATE_TLSRPT_PENDING_MAX rows,
 * at state_sync() and at state_close().
 *
 * Every record, written or read back, is checked: text is printable
 * ASCII (policy lines may be joined by '\n'), names are host names,
 * addresses parse, a result type is one of RFC 8460's. Whoever can
 * write the file can at worst lose or garble a report, never crash
 * danemx or put a control character into a report or a mail header.
 *
 * Ownership: the pending table's rows are the store's; records handed
 * to a callback are freed by the store after it; a verb's arguments are
 * copied, and stay the caller's.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "state/state_int.h"

/* A claim in flight: the caller waits on it (state_tlsrpt_claim). */
struct state_claim {
	const char			*day, *state, *report_id, *rua;
	int64_t				 now;
	const struct state_tlsrpt_post	*posts;
	size_t				 nposts;
	int				 done, rv;
	char				 err[STATE_ERR_MAX];
};

/* host_ok - a lowercase host name: letters, digits, '-', '.', '_' */
static int
host_ok(const char *s, size_t size, int empty_ok)
{
	size_t	 n = strnlen(s, size);

	if (n >= size || (n == 0 && !empty_ok))
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

/* helo_ok - a HELO name as a server announced it: a name or a literal */
static int
helo_ok(const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._:[]", *s) != NULL))
			return 0;
	return 1;
}

/* day_ok - "YYYY-MM-DD" */
static int
day_ok(const char *s)
{
	int	 i;

	if (s == NULL || strnlen(s, 11) != 10)
		return 0;
	for (i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' ||
		    s[i] > '9'))
			return 0;
	return !(s[5] > '1' || (s[5] == '1' && s[6] > '2') ||
	    (s[5] == '0' && s[6] == '0') || s[8] > '3' ||
	    (s[8] == '0' && s[9] == '0'));
}

/* ip_ok - "" or an IPv4 or IPv6 address */
static int
ip_ok(const char *s, size_t size)
{
	unsigned char	 a[16];

	if (strnlen(s, size) >= size)
		return 0;
	return s[0] == '\0' || inet_pton(AF_INET, s, a) == 1 ||
	    inet_pton(AF_INET6, s, a) == 1;
}

/* type_ok - "" (a success) or an RFC 8460 result type (util/fail.c) */
static int
type_ok(const char *s, size_t size)
{
	const char	*t;
	int		 f;

	if (strnlen(s, size) >= size)
		return 0;
	if (s[0] == '\0')
		return 1;
	for (f = DMX_FAIL_NONE; f <= DMX_FAIL_SMTP; f++)
		if ((t = fail_rfc8460((enum dmx_fail)f)) != NULL &&
		    strcmp(t, s) == 0)
			return 1;
	return 0;
}

/* state_tlsrpt_valid - a result row is sound (see the top of the file) */
int
state_tlsrpt_valid(const struct state_tlsrpt *r)
{
	if (!host_ok(r->domain, sizeof(r->domain), 0) || !day_ok(r->day) ||
	    !host_ok(r->policy_domain, sizeof(r->policy_domain), 0))
		return 0;
	if (strcmp(r->policy_type, "tlsa") != 0 &&
	    strcmp(r->policy_type, "sts") != 0 &&
	    strcmp(r->policy_type, "no-policy-found") != 0)
		return 0;
	if (!state_text_ok(r->policy_string, STATE_TLSRPT_TEXT_MAX, 1, 1) ||
	    !state_text_ok(r->mx_host, STATE_TLSRPT_TEXT_MAX, 1, 0) ||
	    !type_ok(r->result_type, sizeof(r->result_type)) ||
	    !ip_ok(r->sending_ip, sizeof(r->sending_ip)) ||
	    !ip_ok(r->receiving_ip, sizeof(r->receiving_ip)) ||
	    !host_ok(r->mx_hostname, sizeof(r->mx_hostname), 1) ||
	    !helo_ok(r->mx_helo, sizeof(r->mx_helo)) ||
	    !state_text_ok(r->reason, sizeof(r->reason), 0, 1))
		return 0;
	/* A success has no details. */
	if (r->result_type[0] == '\0' && (r->sending_ip[0] ||
	    r->receiving_ip[0] || r->mx_hostname[0] || r->mx_helo[0] ||
	    r->reason[0]))
		return 0;
	return r->count > 0 && r->count <= ((uint64_t)1 << 53);
}

/* state_tlsrpt_day_valid - a (domain, day) summary is sound */
int
state_tlsrpt_day_valid(const struct state_tlsrpt_day *d)
{
	if (!host_ok(d->domain, sizeof(d->domain), 0) || !day_ok(d->day))
		return 0;
	if (d->state[0] != '\0' && strcmp(d->state, "sent") != 0 &&
	    strcmp(d->state, "skipped") != 0)
		return 0;
	return state_text_ok(d->report_id, sizeof(d->report_id), 0, 0) &&
	    state_text_ok(d->rua, STATE_TLSRPT_TEXT_MAX, 0, 1) &&
	    (strcmp(d->state, "sent") != 0 || d->report_id[0] != '\0');
}

/* post_fields_ok - a post's id, URI and last error are sound */
static int
post_fields_ok(const struct state_tlsrpt_post *p)
{
	return p->report_id[0] != '\0' && state_text_ok(p->report_id,
	    sizeof(p->report_id), 0, 0) && p->uri != NULL &&
	    p->uri[0] != '\0' && state_text_ok(p->uri, STATE_TLSRPT_URI_MAX, 0, 0) &&
	    state_text_ok(p->last_error, sizeof(p->last_error), 0, 1);
}

/* state_tlsrpt_post_valid - a post, with its body, is sound */
int
state_tlsrpt_post_valid(const struct state_tlsrpt_post *p)
{
	return post_fields_ok(p) && p->body != NULL && p->len > 0 &&
	    p->len <= STATE_TLSRPT_BODY_MAX;
}

/* row_key - the merge key: every column but count; NULL if no memory */
static char *
row_key(const struct state_tlsrpt *r)
{
	struct buf	 b;

	buf_init(&b, 2 * STATE_TLSRPT_TEXT_MAX + 8192);
	if (buf_printf(&b, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s"
	    "\x1f%s\x1f%s\x1f%s\x1f%s", r->domain, r->day, r->policy_type,
	    r->policy_domain, r->policy_string ? r->policy_string : "",
	    r->mx_host ? r->mx_host : "", r->result_type, r->sending_ip,
	    r->receiving_ip, r->mx_hostname, r->mx_helo, r->reason) == -1) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* row_copy - an owned copy of r (NULL strings become "") */
static struct state_tlsrpt *
row_copy(const struct state_tlsrpt *r)
{
	struct state_tlsrpt	*t;

	if ((t = malloc(sizeof(*t))) == NULL)
		return NULL;
	*t = *r;
	t->policy_string = strdup(r->policy_string ? r->policy_string : "");
	t->mx_host = strdup(r->mx_host ? r->mx_host : "");
	if (t->policy_string == NULL || t->mx_host == NULL) {
		state_tlsrpt_clear(t);
		free(t);
		return NULL;
	}
	return t;
}

/* move_one - a pending row becomes a queued write (lock held) */
static void
move_one(const char *key, void *val, void *arg)
{
	(void)key;
	state_enqueue_locked(arg, val);
}

/* state_tlsrpt_pending_move - with the lock held: the pending rows
 * become queued writes */
void
state_tlsrpt_pending_move(struct state *st)
{
	htab_foreach(&st->tr_pending, move_one, st);
	htab_free(&st->tr_pending);
	st->tr_npending = 0;
}

/* free_one - a pending row is dropped */
static void
free_one(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	state_op_free(val);
}

/* state_tlsrpt_pending_free - drop what is pending (the store closes) */
void
state_tlsrpt_pending_free(struct state *st)
{
	htab_foreach(&st->tr_pending, free_one, NULL);
	htab_free(&st->tr_pending);
	st->tr_npending = 0;
}

/* pending_new - with the lock held: r as a new pending row under key */
static int
pending_new(struct state *st, const struct state_tlsrpt *r, const char *key)
{
	struct state_op	*op;

	if (st->tr_npending >= STATE_TLSRPT_PENDING_MAX) {
		if (st->queued >= STATE_QUEUE_MAX) {
			st->errors++;
			if (!st->full_logged)
				log_warnx("state: %s: the store cannot keep "
				    "up; TLS-RPT results are dropped until "
				    "it does", st->path);
			st->full_logged = 1;
			return -1;
		}
		state_tlsrpt_pending_move(st);
	}
	if ((op = state_op_new(OP_TLSRPT_ADD, r->domain, 0)) == NULL)
		return -1;
	if ((op->tr = row_copy(r)) == NULL ||
	    htab_put(&st->tr_pending, key, op) == -1) {
		state_op_free(op);
		return -1;
	}
	if (st->tr_npending++ == 0) {
		st->tr_since = state_mono_ms();
		pthread_cond_signal(&st->work);	/* to time the flush */
	}
	return 0;
}

/*
 * state_tlsrpt_add - count r's sessions (r->count of them): merged with
 * an identical pending row, written by the worker (see the top). 0, or
 * -1 when r is malformed or cannot be kept.
 */
int
state_tlsrpt_add(struct state *st, const struct state_tlsrpt *r)
{
	struct state_op	*op;
	char		*key;
	int		 rv = 0;

	if (st->readonly || !st->started || !state_tlsrpt_valid(r))
		return -1;
	if ((key = row_key(r)) == NULL)
		return -1;
	pthread_mutex_lock(&st->mu);
	if ((op = htab_get(&st->tr_pending, key)) != NULL) {
		if (op->tr->count + r->count <= ((uint64_t)1 << 53))
			op->tr->count += r->count;
	} else
		rv = pending_new(st, r, key);
	pthread_mutex_unlock(&st->mu);
	free(key);
	return rv;
}

/* state_tlsrpt_apply - a TLS-RPT write on the worker's connection */
int
state_tlsrpt_apply(struct state *st, struct state_op *op, char *err,
    size_t errlen)
{
	const struct state_backend	*be = st->be;
	struct state_claim		*c = op->claim;

	switch (op->kind) {
	case OP_TLSRPT_ADD:
		return be->tlsrpt_add(st->wconn, op->tr, err, errlen);
	case OP_TLSRPT_EXPIRE:
		return be->tlsrpt_expire(st->wconn, op->day, err, errlen);
	case OP_TLSRPT_POST_UPDATE:
		return be->tlsrpt_post_update(st->wconn, op->post, err, errlen);
	case OP_TLSRPT_POST_DELETE:
		return be->tlsrpt_post_delete(st->wconn, op->post->report_id,
		    op->post->uri, err, errlen);
	case OP_TLSRPT_CLAIM:
		return be->tlsrpt_claim(st->wconn, op->domain, c->day,
		    c->state, c->report_id, c->rua, c->now, c->posts,
		    c->nposts, err, errlen);
	default:
		break;
	}
	snprintf(err, errlen, "unknown operation");
	return -1;
}

/* state_tlsrpt_op_free - free what a TLS-RPT write owns (not a claim) */
void
state_tlsrpt_op_free(struct state_op *op)
{
	if (op->tr != NULL) {
		state_tlsrpt_clear(op->tr);
		free(op->tr);
	}
	if (op->post != NULL) {
		state_tlsrpt_post_clear(op->post);
		free(op->post);
	}
}

/* state_tlsrpt_claim_done - with the lock held: the claim's outcome */
void
state_tlsrpt_claim_done(struct state_op *op, int rv, const char *err)
{
	op->claim->rv = rv;
	strlcpy_(op->claim->err, err, sizeof(op->claim->err));
	op->claim->done = 1;
}

/*
 * state_tlsrpt_claim - mark the report of (domain, day) as state ("sent"
 * or "skipped") with its id (may be "" when skipped) and rua (for a
 * skipped report: why), and store posts with it, in one
 * transaction with synchronous = FULL, unless a report row exists. It
 * runs on the worker and returns once committed: 1 claimed, 0 claimed
 * before (by this or another process), -1 with err.
 */
int
state_tlsrpt_claim(struct state *st, const char *domain, const char *day,
    const char *state, const char *report_id, const char *rua, int64_t now,
    const struct state_tlsrpt_post *posts, size_t nposts, char *err,
    size_t errlen)
{
	struct state_claim	 c;
	struct state_op		*op;
	size_t			 i;

	if (!host_ok(domain, STATE_DOMAIN_MAX, 0) || !day_ok(day) ||
	    (strcmp(state, "sent") != 0 && strcmp(state, "skipped") != 0) ||
	    report_id == NULL ||
	    (report_id[0] == '\0' && strcmp(state, "sent") == 0) ||
	    !state_text_ok(report_id, STATE_TLSRPT_ID_MAX, 0, 0) ||
	    !state_text_ok(rua, STATE_TLSRPT_TEXT_MAX, 0, 1)) {
		snprintf(err, errlen, "malformed claim");
		return -1;
	}
	for (i = 0; i < nposts; i++)
		if (!state_tlsrpt_post_valid(&posts[i])) {
			snprintf(err, errlen, "malformed post %zu", i);
			return -1;
		}
	if (st->readonly || !st->started) {
		snprintf(err, errlen, "%s is open read-only", st->path);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.day = day;
	c.state = state;
	c.report_id = report_id;
	c.rua = rua;
	c.now = now;
	c.posts = posts;
	c.nposts = nposts;
	if ((op = state_op_new(OP_TLSRPT_CLAIM, domain, now)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	op->claim = &c;
	if (state_enqueue(st, op, 1) == -1) {
		snprintf(err, errlen, "cannot queue the claim");
		return -1;
	}
	pthread_mutex_lock(&st->mu);
	while (!c.done)
		pthread_cond_wait(&st->idle, &st->mu);
	pthread_mutex_unlock(&st->mu);
	state_op_free(op);
	if (c.rv == -1)
		snprintf(err, errlen, "%s", c.err);
	return c.rv;
}

struct rows_ctx {
	int	(*row)(void *, const struct state_tlsrpt *);
	int	(*day)(void *, const struct state_tlsrpt_day *);
	int	(*post)(void *, const struct state_tlsrpt_post *);
	void	*arg;
};

/* rows_one - a row read back: to the caller if sound */
static int
rows_one(void *arg, const struct state_tlsrpt *r)
{
	struct rows_ctx	*rc = arg;

	return state_tlsrpt_valid(r) ? rc->row(rc->arg, r) : 0;
}

/*
 * state_tlsrpt_rows - the results of domain on day, ordered by policy,
 * then result type, then details; malformed rows are passed over. cb
 * returns 0 to go on. The number of rows read, or -1.
 */
int
state_tlsrpt_rows(struct state *st, const char *domain, const char *day,
    int (*cb)(void *, const struct state_tlsrpt *), void *arg, char *err,
    size_t errlen)
{
	struct rows_ctx	 rc = { cb, NULL, NULL, arg };

	if (!host_ok(domain, STATE_DOMAIN_MAX, 0) || !day_ok(day)) {
		snprintf(err, errlen, "malformed domain or day");
		return -1;
	}
	return st->be->tlsrpt_rows(st->rconn, domain, day, rows_one, &rc, err,
	    errlen);
}

/* days_one - a summary read back: to the caller if sound */
static int
days_one(void *arg, const struct state_tlsrpt_day *d)
{
	struct rows_ctx	*rc = arg;

	return state_tlsrpt_day_valid(d) ? rc->day(rc->arg, d) : 0;
}

/*
 * state_tlsrpt_days - every (domain, day) with results, oldest first,
 * of one domain (or all: NULL) and before a day (or all: NULL), with its
 * session totals and its report if claimed. The number read, or -1.
 */
int
state_tlsrpt_days(struct state *st, const char *domain,
    const char *before_day, int (*cb)(void *, const struct state_tlsrpt_day *),
    void *arg, char *err, size_t errlen)
{
	struct rows_ctx	 rc = { NULL, cb, NULL, arg };

	if ((domain != NULL && !host_ok(domain, STATE_DOMAIN_MAX, 0)) ||
	    (before_day != NULL && !day_ok(before_day))) {
		snprintf(err, errlen, "malformed domain or day");
		return -1;
	}
	return st->be->tlsrpt_days(st->rconn, domain, before_day, days_one,
	    &rc, err, errlen);
}

/* posts_one - a post read back: to the caller if sound */
static int
posts_one(void *arg, const struct state_tlsrpt_post *p)
{
	struct rows_ctx	*rc = arg;

	return state_tlsrpt_post_valid(p) ? rc->post(rc->arg, p) : 0;
}

/* state_tlsrpt_post_list - posts due by due_by, soonest first, at most
 * max; the number read, or -1 */
int
state_tlsrpt_post_list(struct state *st, int64_t due_by, size_t max,
    int (*cb)(void *, const struct state_tlsrpt_post *), void *arg,
    char *err, size_t errlen)
{
	struct rows_ctx	 rc = { NULL, NULL, cb, arg };

	return st->be->tlsrpt_post_list(st->rconn, due_by, max, posts_one, &rc,
	    err, errlen);
}

/* post_op - a queued write of p's fields (never its body) */
static struct state_op *
post_op(enum op_kind kind, const char *report_id, const char *uri)
{
	struct state_op	*op;

	if ((op = state_op_new(kind, NULL, 0)) == NULL)
		return NULL;
	if ((op->post = calloc(1, sizeof(*op->post))) == NULL ||
	    (op->post->uri = strdup(uri)) == NULL) {
		state_op_free(op);
		return NULL;
	}
	strlcpy_(op->post->report_id, report_id, sizeof(op->post->report_id));
	return op;
}

/* state_tlsrpt_post_update - a post's tries, next_try, last_error */
int
state_tlsrpt_post_update(struct state *st, const struct state_tlsrpt_post *p)
{
	struct state_op	*op;

	if (!post_fields_ok(p) || (op = post_op(OP_TLSRPT_POST_UPDATE,
	    p->report_id, p->uri)) == NULL)
		return -1;
	op->post->tries = p->tries;
	op->post->next_try = p->next_try;
	op->post->deadline = p->deadline;
	strlcpy_(op->post->last_error, p->last_error,
	    sizeof(op->post->last_error));
	return state_enqueue(st, op, 0);
}

/* state_tlsrpt_post_delete - the post is done (or given up) */
int
state_tlsrpt_post_delete(struct state *st, const char *report_id,
    const char *uri)
{
	struct state_op	*op;

	if (report_id == NULL || uri == NULL ||
	    !state_text_ok(report_id, STATE_TLSRPT_ID_MAX, 0, 0) ||
	    (op = post_op(OP_TLSRPT_POST_DELETE, report_id, uri)) == NULL)
		return -1;
	return state_enqueue(st, op, 0);
}

/* state_tlsrpt_expire - drop results, reports and their posts of the
 * days before before_day */
int
state_tlsrpt_expire(struct state *st, const char *before_day)
{
	struct state_op	*op;

	if (!day_ok(before_day) || (op = state_op_new(OP_TLSRPT_EXPIRE, NULL,
	    0)) == NULL)
		return -1;
	strlcpy_(op->day, before_day, sizeof(op->day));
	return state_enqueue(st, op, 0);
}

/* state_tlsrpt_clear - free what a row owns */
void
state_tlsrpt_clear(struct state_tlsrpt *r)
{
	free(r->policy_string);
	free(r->mx_host);
	r->policy_string = r->mx_host = NULL;
}

/* state_tlsrpt_day_clear - free what a summary owns */
void
state_tlsrpt_day_clear(struct state_tlsrpt_day *d)
{
	free(d->rua);
	d->rua = NULL;
}

/* state_tlsrpt_post_clear - free what a post owns */
void
state_tlsrpt_post_clear(struct state_tlsrpt_post *p)
{
	free(p->uri);
	free(p->body);
	p->uri = NULL;
	p->body = NULL;
	p->len = 0;
}
