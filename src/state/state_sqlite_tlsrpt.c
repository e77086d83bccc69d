/*
 * state_sqlite_tlsrpt.c - the TLS-RPT tables of the SQLite backend
 * (schema version 2, docs/state.md): tlsrpt_result (one row per distinct
 * outcome of a domain's day, with a count), tlsrpt_report (a report
 * claimed: sent or skipped) and tlsrpt_post (HTTPS deliveries to retry).
 *
 * A domain keeps at most STATE_TLSRPT_ROWS_MAX distinct rows a day: a
 * peer that announces a new HELO name in every session (or a domain
 * whose DNS names a new address each time) would otherwise grow the
 * file by a row per message. Past the bound, a new row is folded into
 * one per policy type and result type, without details; counts stay
 * exact.
 *
 * A claim runs its own transaction with synchronous = FULL, so the mark
 * survives a power loss before anything is sent. Rows read are copied
 * into the caller's structs; a column too long for its field makes the
 * row invalid (the store's checks then pass it over). Nothing here
 * logs or exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_sqlite_int.h"
#include "util/util.h"

#define KEY_COLS	"domain, day, policy_type, policy_domain, " \
			"policy_string, mx_host, result_type, sending_ip, " \
			"receiving_ip, mx_hostname, mx_helo, reason"
#define KEY_MATCH	"domain = ?1 AND day = ?2 AND policy_type = ?3 AND " \
			"policy_domain = ?4 AND policy_string = ?5 AND " \
			"mx_host = ?6 AND result_type = ?7 AND " \
			"sending_ip = ?8 AND receiving_ip = ?9 AND " \
			"mx_hostname = ?10 AND mx_helo = ?11 AND reason = ?12"
#define POST_COLS	"report_id, uri, body, tries, next_try, deadline, " \
			"last_error"
#define ROWS_READ_MAX	(10 * STATE_TLSRPT_ROWS_MAX)	/* a hostile file */
#define DAYS_READ_MAX	100000
#define FOLDED		"details folded: more distinct results this day " \
			"than danemx keeps"

static const char *const tsql[TQ_MAX] = {
	[TQ_ADD_UPDATE] = ("UPDATE tlsrpt_result SET count = count + ?13"
	    " WHERE " KEY_MATCH),
	[TQ_ADD_COUNT] = ("SELECT COUNT(*) FROM tlsrpt_result"
	    " WHERE domain = ?1 AND day = ?2"),
	[TQ_ADD_INSERT] = ("INSERT INTO tlsrpt_result (" KEY_COLS ", count)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	    " ON CONFLICT (" KEY_COLS ") DO UPDATE"
	    " SET count = count + excluded.count"),
	[TQ_ROWS] = ("SELECT " KEY_COLS ", count FROM tlsrpt_result"
	    " WHERE domain = ?1 AND day = ?2 ORDER BY policy_type,"
	    " policy_domain, policy_string, mx_host, result_type, sending_ip,"
	    " receiving_ip, mx_hostname, mx_helo, reason LIMIT ?3"),
	[TQ_DAYS] = ("SELECT r.domain, r.day,"
	    " SUM(CASE WHEN r.result_type = '' THEN r.count ELSE 0 END),"
	    " SUM(CASE WHEN r.result_type <> '' THEN r.count ELSE 0 END),"
	    " p.state, p.report_id, p.rua, p.claimed"
	    " FROM tlsrpt_result r LEFT JOIN tlsrpt_report p"
	    " ON p.domain = r.domain AND p.day = r.day"
	    " WHERE (?1 IS NULL OR r.domain = ?1) AND (?2 IS NULL OR r.day < ?2)"
	    " GROUP BY r.domain, r.day ORDER BY r.day, r.domain LIMIT ?3"),
	[TQ_CLAIM_REPORT] = ("INSERT INTO tlsrpt_report (domain, day, state,"
	    " report_id, rua, claimed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (domain, day) DO NOTHING"),
	[TQ_CLAIM_POST] = ("INSERT OR REPLACE INTO tlsrpt_post (" POST_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
	[TQ_POST_LIST] = ("SELECT " POST_COLS " FROM tlsrpt_post"
	    " WHERE next_try <= ?1 ORDER BY next_try LIMIT ?2"),
	[TQ_POST_UPDATE] = ("UPDATE tlsrpt_post SET tries = ?3, next_try = ?4,"
	    " last_error = ?5 WHERE report_id = ?1 AND uri = ?2"),
	[TQ_POST_DELETE] = ("DELETE FROM tlsrpt_post"
	    " WHERE report_id = ?1 AND uri = ?2"),
	[TQ_EXPIRE_RESULT] = "DELETE FROM tlsrpt_result WHERE day < ?1",
	[TQ_EXPIRE_POST] = ("DELETE FROM tlsrpt_post WHERE report_id IN"
	    " (SELECT report_id FROM tlsrpt_report WHERE day < ?1)"),
	[TQ_EXPIRE_REPORT] = "DELETE FROM tlsrpt_report WHERE day < ?1",
};

/* tprep - the cached TLS-RPT statement q, reset and unbound */
static sqlite3_stmt *
tprep(struct sq *c, enum tstmt q, char *err, size_t errlen)
{
	return sq_prep(c, &c->tstmt[q], tsql[q], err, errlen);
}

/* nz - s, or "" for NULL */
static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* bind_key - the twelve key columns of r as ?1..?12 */
static void
bind_key(sqlite3_stmt *s, const struct state_tlsrpt *r)
{
	const char	*v[12] = { r->domain, r->day, r->policy_type,
	    r->policy_domain, nz(r->policy_string), nz(r->mx_host),
	    r->result_type, r->sending_ip, r->receiving_ip, r->mx_hostname,
	    r->mx_helo, r->reason };
	int		 i;

	for (i = 0; i < 12; i++)
		sqlite3_bind_text(s, i + 1, v[i], -1, SQLITE_STATIC);
}

/* day_rows - how many distinct rows domain has on day; -1 on error */
static long long
day_rows(struct sq *c, const struct state_tlsrpt *r, char *err,
    size_t errlen)
{
	sqlite3_stmt	*s;
	long long	 n = -1;

	if ((s = tprep(c, TQ_ADD_COUNT, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, r->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	else
		sq_dberr(c, "count", err, errlen);
	sqlite3_reset(s);
	return n;
}

/*
 * sq_tlsrpt_add - count r: its row's count grows, or a new row is made
 * (folded past STATE_TLSRPT_ROWS_MAX rows for the domain's day)
 */
int
sq_tlsrpt_add(void *conn, const struct state_tlsrpt *r, char *err,
    size_t errlen)
{
	struct sq		*c = conn;
	struct state_tlsrpt	 f;
	sqlite3_stmt		*s;
	long long		 n;

	if ((s = tprep(c, TQ_ADD_UPDATE, err, errlen)) == NULL)
		return -1;
	bind_key(s, r);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)r->count);
	if (sq_step_done(c, s, "write", err, errlen) == -1)
		return -1;
	if (sqlite3_changes(c->db) > 0)
		return 0;
	if ((n = day_rows(c, r, err, errlen)) == -1)
		return -1;
	f = *r;
	if (n >= STATE_TLSRPT_ROWS_MAX) {
		strlcpy_(f.policy_domain, r->domain, sizeof(f.policy_domain));
		f.policy_string = f.mx_host = NULL;
		f.sending_ip[0] = f.receiving_ip[0] = '\0';
		f.mx_hostname[0] = f.mx_helo[0] = '\0';
		strlcpy_(f.reason, r->result_type[0] ? FOLDED : "",
		    sizeof(f.reason));
	}
	if ((s = tprep(c, TQ_ADD_INSERT, err, errlen)) == NULL)
		return -1;
	bind_key(s, &f);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)r->count);
	return sq_step_done(c, s, "write", err, errlen);
}

/* col - column i of s into dst (size octets); -1 if it does not fit */
static int
col(sqlite3_stmt *s, int i, char *dst, size_t size)
{
	const unsigned char	*t = sqlite3_column_text(s, i);
	int			 n = sqlite3_column_bytes(s, i);

	dst[0] = '\0';
	if (t == NULL)
		return 0;
	if (n < 0 || (size_t)n >= size)
		return -1;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* col_dup - column i of s, copied (NULL and *bad if longer than max) */
static char *
col_dup(sqlite3_stmt *s, int i, size_t max, int *bad)
{
	const unsigned char	*t = sqlite3_column_text(s, i);
	int			 n = sqlite3_column_bytes(s, i);
	char			*d;

	if (t == NULL)
		return NULL;
	if (n < 0 || (size_t)n >= max || (d = malloc((size_t)n + 1)) == NULL) {
		*bad = 1;
		return NULL;
	}
	memcpy(d, t, (size_t)n);
	d[n] = '\0';
	return d;
}

/* row_result - the current row (KEY_COLS, count) into r; r->count is 0
 * (invalid) when a column does not fit */
static void
row_result(sqlite3_stmt *s, struct state_tlsrpt *r)
{
	sqlite3_int64	 n;
	int		 bad = 0;

	memset(r, 0, sizeof(*r));
	bad |= col(s, 0, r->domain, sizeof(r->domain));
	bad |= col(s, 1, r->day, sizeof(r->day));
	bad |= col(s, 2, r->policy_type, sizeof(r->policy_type));
	bad |= col(s, 3, r->policy_domain, sizeof(r->policy_domain));
	r->policy_string = col_dup(s, 4, STATE_TLSRPT_TEXT_MAX, &bad);
	r->mx_host = col_dup(s, 5, STATE_TLSRPT_TEXT_MAX, &bad);
	bad |= col(s, 6, r->result_type, sizeof(r->result_type));
	bad |= col(s, 7, r->sending_ip, sizeof(r->sending_ip));
	bad |= col(s, 8, r->receiving_ip, sizeof(r->receiving_ip));
	bad |= col(s, 9, r->mx_hostname, sizeof(r->mx_hostname));
	bad |= col(s, 10, r->mx_helo, sizeof(r->mx_helo));
	bad |= col(s, 11, r->reason, sizeof(r->reason));
	n = sqlite3_column_int64(s, 12);
	r->count = bad || sqlite3_column_type(s, 12) != SQLITE_INTEGER ||
	    n < 0 ? 0 : (uint64_t)n;
}

/* sq_tlsrpt_rows - the rows of (domain, day), in the report's order */
int
sq_tlsrpt_rows(void *conn, const char *domain, const char *day,
    int (*cb)(void *, const struct state_tlsrpt *), void *arg, char *err,
    size_t errlen)
{
	struct sq		*c = conn;
	struct state_tlsrpt	 r;
	sqlite3_stmt		*s;
	int			 rc, n = 0, stop = 0;

	if ((s = tprep(c, TQ_ROWS, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, ROWS_READ_MAX);
	while (!stop && (rc = sqlite3_step(s)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW) {
			sq_dberr(c, "read", err, errlen);
			sqlite3_reset(s);
			return -1;
		}
		row_result(s, &r);
		stop = cb(arg, &r) != 0;
		state_tlsrpt_clear(&r);
		n++;
	}
	sqlite3_reset(s);
	return n;
}

/* count_col - a SUM column as a count (0 when it is not one) */
static uint64_t
count_col(sqlite3_stmt *s, int i)
{
	sqlite3_int64	 n = sqlite3_column_int64(s, i);

	return sqlite3_column_type(s, i) == SQLITE_INTEGER && n > 0 ?
	    (uint64_t)n : 0;
}

/* sq_tlsrpt_days - the (domain, day) summaries, oldest first */
int
sq_tlsrpt_days(void *conn, const char *domain, const char *before_day,
    int (*cb)(void *, const struct state_tlsrpt_day *), void *arg,
    char *err, size_t errlen)
{
	struct sq		*c = conn;
	struct state_tlsrpt_day	 d;
	sqlite3_stmt		*s;
	int			 rc, n = 0, stop = 0, bad;

	if ((s = tprep(c, TQ_DAYS, err, errlen)) == NULL)
		return -1;
	if (domain != NULL)
		sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	if (before_day != NULL)
		sqlite3_bind_text(s, 2, before_day, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, DAYS_READ_MAX);
	while (!stop && (rc = sqlite3_step(s)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW) {
			sq_dberr(c, "read", err, errlen);
			sqlite3_reset(s);
			return -1;
		}
		memset(&d, 0, sizeof(d));
		bad = col(s, 0, d.domain, sizeof(d.domain));
		bad |= col(s, 1, d.day, sizeof(d.day));
		d.ok = count_col(s, 2);
		d.failed = count_col(s, 3);
		bad |= col(s, 4, d.state, sizeof(d.state));
		bad |= col(s, 5, d.report_id, sizeof(d.report_id));
		d.rua = col_dup(s, 6, STATE_TLSRPT_TEXT_MAX, &bad);
		d.claimed = sqlite3_column_int64(s, 7);
		if (bad)
			d.domain[0] = '\0';	/* invalid: passed over */
		stop = cb(arg, &d) != 0;
		state_tlsrpt_day_clear(&d);
		n++;
	}
	sqlite3_reset(s);
	return n;
}

/* claim_posts - insert the posts of a claim (inside its transaction) */
static int
claim_posts(struct sq *c, const struct state_tlsrpt_post *posts,
    size_t nposts, char *err, size_t errlen)
{
	const struct state_tlsrpt_post	*p;
	sqlite3_stmt			*s;
	size_t				 i;

	for (i = 0; i < nposts; i++) {
		p = &posts[i];
		if ((s = tprep(c, TQ_CLAIM_POST, err, errlen)) == NULL)
			return -1;
		sqlite3_bind_text(s, 1, p->report_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, p->uri, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, p->body, (int)p->len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, p->tries);
		sqlite3_bind_int64(s, 5, p->next_try);
		sqlite3_bind_int64(s, 6, p->deadline);
		sqlite3_bind_text(s, 7, p->last_error, -1, SQLITE_STATIC);
		if (sq_step_done(c, s, "claim", err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * sq_tlsrpt_claim - the report row (only if none exists) and its posts,
 * in one transaction committed with synchronous = FULL: 1 claimed, 0
 * claimed before, -1 with err
 */
int
sq_tlsrpt_claim(void *conn, const char *domain, const char *day,
    const char *state, const char *report_id, const char *rua, int64_t now,
    const struct state_tlsrpt_post *posts, size_t nposts, char *err,
    size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;
	char		 sub[STATE_ERR_MAX];
	int		 rv = -1;

	if (sq_exec(c, "PRAGMA synchronous = FULL", err, errlen) == -1)
		return -1;
	if (sq_exec(c, "BEGIN IMMEDIATE", err, errlen) == -1)
		goto out;
	if ((s = tprep(c, TQ_CLAIM_REPORT, err, errlen)) == NULL)
		goto rollback;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, report_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, nz(rua), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, now);
	if (sq_step_done(c, s, "claim", err, errlen) == -1)
		goto rollback;
	if (sqlite3_changes(c->db) == 0) {
		rv = 0;			/* claimed before: nothing to do */
		goto rollback;
	}
	if (claim_posts(c, posts, nposts, err, errlen) == -1 ||
	    sq_exec(c, "COMMIT", err, errlen) == -1)
		goto rollback;
	rv = 1;
	goto out;
rollback:
	if (!sqlite3_get_autocommit(c->db))
		sq_exec(c, "ROLLBACK", sub, sizeof(sub));
out:
	sq_exec(c, "PRAGMA synchronous = NORMAL", sub, sizeof(sub));
	return rv;
}

/* row_post - the current row (POST_COLS) into p; p->body is NULL
 * (invalid) when it is missing or too long */
static void
row_post(sqlite3_stmt *s, struct state_tlsrpt_post *p)
{
	const void	*b;
	sqlite3_int64	 tries;
	int		 n, bad = 0;

	memset(p, 0, sizeof(*p));
	bad |= col(s, 0, p->report_id, sizeof(p->report_id));
	p->uri = col_dup(s, 1, STATE_TLSRPT_URI_MAX, &bad);
	b = sqlite3_column_blob(s, 2);
	n = sqlite3_column_bytes(s, 2);
	tries = sqlite3_column_int64(s, 3);
	p->tries = tries < 0 ? 0 : tries > 1000000 ? 1000000 : (unsigned)tries;
	p->next_try = sqlite3_column_int64(s, 4);
	p->deadline = sqlite3_column_int64(s, 5);
	bad |= col(s, 6, p->last_error, sizeof(p->last_error));
	if (!bad && b != NULL && n > 0 && n <= STATE_TLSRPT_BODY_MAX &&
	    (p->body = malloc((size_t)n)) != NULL) {
		memcpy(p->body, b, (size_t)n);
		p->len = (size_t)n;
	}
}

/* sq_tlsrpt_post_list - the posts due by due_by, soonest first */
int
sq_tlsrpt_post_list(void *conn, int64_t due_by, size_t max,
    int (*cb)(void *, const struct state_tlsrpt_post *), void *arg,
    char *err, size_t errlen)
{
	struct sq			*c = conn;
	struct state_tlsrpt_post	 p;
	sqlite3_stmt			*s;
	int				 rc, n = 0, stop = 0;

	if ((s = tprep(c, TQ_POST_LIST, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, due_by);
	sqlite3_bind_int64(s, 2, max > 100000 ? 100000 : (sqlite3_int64)max);
	while (!stop && (rc = sqlite3_step(s)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW) {
			sq_dberr(c, "read", err, errlen);
			sqlite3_reset(s);
			return -1;
		}
		row_post(s, &p);
		stop = cb(arg, &p) != 0;
		state_tlsrpt_post_clear(&p);
		n++;
	}
	sqlite3_reset(s);
	return n;
}

/* sq_tlsrpt_post_update - a post's tries, next try and last error */
int
sq_tlsrpt_post_update(void *conn, const struct state_tlsrpt_post *p,
    char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = tprep(c, TQ_POST_UPDATE, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, p->report_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, p->uri, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, p->tries);
	sqlite3_bind_int64(s, 4, p->next_try);
	sqlite3_bind_text(s, 5, p->last_error, -1, SQLITE_STATIC);
	return sq_step_done(c, s, "write", err, errlen);
}

/* sq_tlsrpt_post_delete - forget a post */
int
sq_tlsrpt_post_delete(void *conn, const char *report_id, const char *uri,
    char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = tprep(c, TQ_POST_DELETE, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, report_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, uri, -1, SQLITE_STATIC);
	return sq_step_done(c, s, "delete", err, errlen);
}

/* sq_tlsrpt_expire - the days before before_day: results, reports and
 * their posts (posts first: they are found through their reports) */
int
sq_tlsrpt_expire(void *conn, const char *before_day, char *err,
    size_t errlen)
{
	static const enum tstmt	 order[] = { TQ_EXPIRE_RESULT, TQ_EXPIRE_POST,
	    TQ_EXPIRE_REPORT };
	struct sq		*c = conn;
	sqlite3_stmt		*s;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(order); i++) {
		if ((s = tprep(c, order[i], err, errlen)) == NULL)
			return -1;
		sqlite3_bind_text(s, 1, before_day, -1, SQLITE_STATIC);
		if (sq_step_done(c, s, "expire", err, errlen) == -1)
			return -1;
	}
	return 0;
}
