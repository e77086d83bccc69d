/*
 * state_sqlite_dest.c - the destination memory table of the SQLite
 * backend (schema version 3, docs/state.md): one row per destination
 * domain (table dest).
 *
 * A write touches only its own columns, so the relay (policy, counts,
 * downgrades) and `danemx domains accept` (held, accepted) never undo
 * each other's changes. Counts of a new UTC day start today's columns
 * afresh. Rows read are copied into the caller's struct; a column too
 * long for its field makes the row invalid (passed over by the store's
 * checks). Nothing here logs or exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_sqlite_int.h"
#include "util/util.h"

#define DEST_COLS	"domain, policy, fingerprint, first_seen, changed, " \
			"last_seen, downgraded, down_from, down_to, " \
			"down_what, held, accepted, day, dane_today, " \
			"sts_today, enc_today, opp_today, def_today, " \
			"dane_total, sts_total, enc_total, opp_total, " \
			"def_total, last_outcome"

/* today's column c: p added on the row's day ?2, p alone on a new day,
 * unchanged for a day older than the row's (a late batch) */
#define ADD_TODAY(c, p)	c " = CASE WHEN day = ?2 THEN " c " + " p \
			" WHEN day > ?2 THEN " c " ELSE " p " END"

static const char *const dsql[DQ_MAX] = {
	[DQ_GET] = "SELECT " DEST_COLS " FROM dest WHERE domain = ?1",
	[DQ_LIST] = "SELECT " DEST_COLS " FROM dest ORDER BY domain LIMIT ?1",
	[DQ_SEEN] = ("INSERT INTO dest (domain, policy, fingerprint,"
	    " first_seen, changed, last_seen) VALUES (?1, ?2, ?3, ?4, ?4, ?4)"
	    " ON CONFLICT (domain) DO UPDATE SET"
	    " changed = CASE WHEN policy <> excluded.policy OR"
	    " fingerprint <> excluded.fingerprint THEN excluded.changed"
	    " ELSE changed END,"
	    " first_seen = CASE WHEN first_seen = 0 THEN excluded.first_seen"
	    " ELSE first_seen END,"
	    " policy = excluded.policy, fingerprint = excluded.fingerprint,"
	    " last_seen = MAX(last_seen, excluded.last_seen)"),
	[DQ_DOWNGRADE] = ("INSERT INTO dest (domain, first_seen, last_seen,"
	    " downgraded, down_from, down_to, down_what, held)"
	    " VALUES (?1, ?2, ?2, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (domain) DO UPDATE SET"
	    " downgraded = excluded.downgraded, down_from = excluded.down_from,"
	    " down_to = excluded.down_to, down_what = excluded.down_what,"
	    " held = excluded.held"),
	[DQ_COUNT] = ("INSERT INTO dest (domain, day, first_seen, last_seen,"
	    " dane_today, sts_today, enc_today, opp_today, def_today,"
	    " dane_total, sts_total, enc_total, opp_total, def_total,"
	    " last_outcome) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?4,"
	    " ?5, ?6, ?7, ?8, ?9)"
	    " ON CONFLICT (domain) DO UPDATE SET "
	    ADD_TODAY("dane_today", "?4") ", "
	    ADD_TODAY("sts_today", "?5") ", "
	    ADD_TODAY("enc_today", "?6") ", "
	    ADD_TODAY("opp_today", "?7") ", "
	    ADD_TODAY("def_today", "?8") ","
	    " dane_total = dane_total + ?4, sts_total = sts_total + ?5,"
	    " enc_total = enc_total + ?6, opp_total = opp_total + ?7,"
	    " def_total = def_total + ?8,"
	    " last_outcome = CASE WHEN ?9 <> '' THEN ?9 ELSE last_outcome END,"
	    " day = CASE WHEN day > ?2 THEN day ELSE ?2 END,"
	    " last_seen = MAX(last_seen, ?3)"),
	[DQ_ACCEPT] = ("UPDATE dest SET held = 0, accepted = ?2"
	    " WHERE domain = ?1"),
	[DQ_EXPIRE] = "DELETE FROM dest WHERE last_seen < ?1 AND held = 0",
};

/* dprep - the cached statement q, reset and unbound */
static sqlite3_stmt *
dprep(struct sq *c, enum dstmt q, char *err, size_t errlen)
{
	return sq_prep(c, &c->dstmt[q], dsql[q], err, errlen);
}

/* col - column i of s into dst (size octets); 1 if it does not fit */
static int
col(sqlite3_stmt *s, int i, char *dst, size_t size)
{
	const unsigned char	*t = sqlite3_column_text(s, i);
	int			 n = sqlite3_column_bytes(s, i);

	dst[0] = '\0';
	if (t == NULL)
		return 0;
	if (n < 0 || (size_t)n >= size)
		return 1;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* count_col - a count column; a negative one (a hostile file) is 0 */
static uint64_t
count_col(sqlite3_stmt *s, int i)
{
	sqlite3_int64	 v = sqlite3_column_int64(s, i);

	return v < 0 ? 0 : (uint64_t)v;
}

/* row_dest - the current row of s (DEST_COLS) into d; invalid: domain "" */
static void
row_dest(sqlite3_stmt *s, struct state_dest *d)
{
	int	 bad, i;

	memset(d, 0, sizeof(*d));
	bad = col(s, 0, d->domain, sizeof(d->domain));
	bad |= col(s, 1, d->policy, sizeof(d->policy));
	bad |= col(s, 2, d->fingerprint, sizeof(d->fingerprint));
	d->first_seen = sqlite3_column_int64(s, 3);
	d->changed = sqlite3_column_int64(s, 4);
	d->last_seen = sqlite3_column_int64(s, 5);
	d->downgraded = sqlite3_column_int64(s, 6);
	bad |= col(s, 7, d->down_from, sizeof(d->down_from));
	bad |= col(s, 8, d->down_to, sizeof(d->down_to));
	bad |= col(s, 9, d->down_what, sizeof(d->down_what));
	d->held = sqlite3_column_int(s, 10) != 0;
	d->accepted = sqlite3_column_int64(s, 11);
	bad |= col(s, 12, d->day, sizeof(d->day));
	for (i = 0; i < STATE_DEST_NCOUNT; i++) {
		d->today[i] = count_col(s, 13 + i);
		d->total[i] = count_col(s, 13 + STATE_DEST_NCOUNT + i);
	}
	bad |= col(s, 13 + 2 * STATE_DEST_NCOUNT, d->last_outcome,
	    sizeof(d->last_outcome));
	if (bad)
		d->domain[0] = '\0';
}

/* sq_dest_get - the row of domain: 1, 0 none, -1 */
int
sq_dest_get(void *conn, const char *domain, struct state_dest *out,
    char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = dprep(c, DQ_GET, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_dest(s, out);
	else if (rc != SQLITE_DONE)
		sq_dberr(c, "read", err, errlen);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* sq_dest_list - every row (bounded), by domain; the number, or -1 */
int
sq_dest_list(void *conn, int (*cb)(void *, const struct state_dest *),
    void *arg, char *err, size_t errlen)
{
	struct sq		*c = conn;
	struct state_dest	 d;
	sqlite3_stmt		*s;
	int			 rc, n = 0;

	if ((s = dprep(c, DQ_LIST, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int(s, 1, STATE_DEST_LIST_MAX);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_dest(s, &d);
		n++;
		if (cb(arg, &d) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_dberr(c, "read", err, errlen);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return n;
}

/* sq_dest_write - the parts of one write, in the caller's transaction */
int
sq_dest_write(void *conn, const struct state_dest_op *o, char *err,
    size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;
	int		 i;

	if (o->seen) {
		if ((s = dprep(c, DQ_SEEN, err, errlen)) == NULL)
			return -1;
		sqlite3_bind_text(s, 1, o->domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, o->policy, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, o->fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, o->when);
		if (sq_step_done(c, s, "write", err, errlen) == -1)
			return -1;
	}
	if (o->downgrade) {
		if ((s = dprep(c, DQ_DOWNGRADE, err, errlen)) == NULL)
			return -1;
		sqlite3_bind_text(s, 1, o->domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, o->when);
		sqlite3_bind_text(s, 3, o->down_from, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, o->down_to, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, o->down_what, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 6, o->held);
		if (sq_step_done(c, s, "write", err, errlen) == -1)
			return -1;
	}
	if (o->count) {
		if ((s = dprep(c, DQ_COUNT, err, errlen)) == NULL)
			return -1;
		sqlite3_bind_text(s, 1, o->domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, o->day, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, o->when);
		for (i = 0; i < STATE_DEST_NCOUNT; i++)
			sqlite3_bind_int64(s, 4 + i, (sqlite3_int64)o->n[i]);
		sqlite3_bind_text(s, 9, o->last_outcome, -1, SQLITE_STATIC);
		if (sq_step_done(c, s, "write", err, errlen) == -1)
			return -1;
	}
	if (o->expire) {
		if ((s = dprep(c, DQ_EXPIRE, err, errlen)) == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, o->when);
		if (sq_step_done(c, s, "expire", err, errlen) == -1)
			return -1;
	}
	if (o->accept) {
		if ((s = dprep(c, DQ_ACCEPT, err, errlen)) == NULL)
			return -1;
		sqlite3_bind_text(s, 1, o->domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, o->when);
		if (sq_step_done(c, s, "write", err, errlen) == -1)
			return -1;
	}
	return 0;
}
