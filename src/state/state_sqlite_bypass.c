/*
 * state_sqlite_bypass.c - the SQLite side of the bypass verbs: the
 * bypass_state table (migration 3 in state_sqlite.c), one row per exact
 * domain of the DANE bypass list.
 *
 * Ownership: statements are cached on the connection (struct sq) and
 * finalized by its close. Nothing here logs or exits.
 */
#include <string.h>

#include "state/state_sqlite_int.h"
#include "util/util.h"

#define BYP_COLS	"domain, entry, checked, ok, result, retired"

static const char *const bsql[BQ_MAX] = {
	[BQ_GET] = "SELECT " BYP_COLS " FROM bypass_state WHERE domain = ?1",
	[BQ_LIST] = "SELECT " BYP_COLS " FROM bypass_state ORDER BY domain"
	    " LIMIT 1000000",
	[BQ_PUT] = ("INSERT OR REPLACE INTO bypass_state (" BYP_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
	[BQ_DELETE] = "DELETE FROM bypass_state WHERE domain = ?1",
};

static sqlite3_stmt *
bprep(struct sq *c, enum bstmt q, char *err, size_t errlen)
{
	return sq_prep(c, &c->bstmt[q], bsql[q], err, errlen);
}

/* text - column i into buf (cut to fit; a NUL inside ends it) */
static void
text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	buf[0] = '\0';
	if (t != NULL)
		strlcpy_(buf, (const char *)t, len);
}

/* row - the current row into r */
static void
row(sqlite3_stmt *s, struct state_bypass *r)
{
	memset(r, 0, sizeof(*r));
	text(s, 0, r->domain, sizeof(r->domain));
	text(s, 1, r->entry, sizeof(r->entry));
	r->checked = sqlite3_column_int64(s, 2);
	r->ok = sqlite3_column_int(s, 3) != 0;
	text(s, 4, r->result, sizeof(r->result));
	r->retired = sqlite3_column_int64(s, 5);
}

int
sq_bypass_get(void *conn, const char *domain, struct state_bypass *out,
    char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;
	int		 rc, rv;

	if ((s = bprep(c, BQ_GET, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rv = 0;
	else if (rc == SQLITE_ROW) {
		row(s, out);
		rv = 1;
	} else
		rv = sq_dberr(c, "read", err, errlen);
	sqlite3_reset(s);
	return rv;
}

int
sq_bypass_list(void *conn, int (*cb)(void *, const struct state_bypass *),
    void *arg, char *err, size_t errlen)
{
	struct sq		*c = conn;
	struct state_bypass	 r;
	sqlite3_stmt		*s;
	int			 rc, n = 0, stop = 0;

	if ((s = bprep(c, BQ_LIST, err, errlen)) == NULL)
		return -1;
	while (!stop && (rc = sqlite3_step(s)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW) {
			sq_dberr(c, "list", err, errlen);
			sqlite3_reset(s);
			return -1;
		}
		row(s, &r);
		stop = cb(arg, &r) != 0;
		n++;
	}
	sqlite3_reset(s);
	return n;
}

int
sq_bypass_put(void *conn, const struct state_bypass *r, char *err,
    size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = bprep(c, BQ_PUT, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, r->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->entry, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, r->checked);
	sqlite3_bind_int(s, 4, r->ok != 0);
	sqlite3_bind_text(s, 5, r->result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, r->retired);
	return sq_step_done(c, s, "write", err, errlen);
}

int
sq_bypass_delete(void *conn, const char *domain, char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = bprep(c, BQ_DELETE, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	return sq_step_done(c, s, "delete", err, errlen);
}
