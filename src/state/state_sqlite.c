/*
 * state_sqlite.c - the SQLite backend of the state store: DIR/state.db.
 *
 * WAL mode (readers never wait for the writer, and several processes
 * share the file), synchronous=NORMAL (a commit is atomic and survives a
 * crash of the process; a power loss may undo the last commits, which a
 * cache can afford), busy timeouts instead of SQLITE_BUSY errors, and a
 * schema version in PRAGMA user_version with migrations applied in one
 * transaction by the first writer that opens a file older than this code.
 * A file newer than this code is refused. docs/state.md has the schema.
 *
 * Ownership: a connection owns its sqlite3 handle and prepared
 * statements; close() frees them. Nothing here logs or exits.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "state/state_sqlite_int.h"
#include "util/util.h"

#define READ_BUSY_MS	200	/* on the caller's (event loop) thread */
#define WRITE_BUSY_MS	5000	/* on the worker thread */

/*
 * migrations[i] takes the schema from version i to i + 1. Append; never
 * edit one that has shipped.
 */
static const char *const migrations[] = {
	/* 1: the MTA-STS policy cache (RFC 8461 section 3.3) */
	"CREATE TABLE sts_policy ("
	"  domain     TEXT PRIMARY KEY NOT NULL,"
	"  id         TEXT NOT NULL DEFAULT '',"
	"  policy     TEXT,"
	"  fetched    INTEGER NOT NULL DEFAULT 0,"
	"  expires    INTEGER NOT NULL DEFAULT 0,"
	"  checked    INTEGER NOT NULL DEFAULT 0,"
	"  last_used  INTEGER NOT NULL DEFAULT 0,"
	"  next_try   INTEGER NOT NULL DEFAULT 0,"
	"  failures   INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX sts_policy_last_used ON sts_policy(last_used);",
	/* 2: TLS-RPT (RFC 8460): results, reports, HTTPS posts to retry */
	"CREATE TABLE tlsrpt_result ("
	"  domain        TEXT NOT NULL,"
	"  day           TEXT NOT NULL,"
	"  policy_type   TEXT NOT NULL,"
	"  policy_domain TEXT NOT NULL,"
	"  policy_string TEXT NOT NULL DEFAULT '',"
	"  mx_host       TEXT NOT NULL DEFAULT '',"
	"  result_type   TEXT NOT NULL DEFAULT '',"
	"  sending_ip    TEXT NOT NULL DEFAULT '',"
	"  receiving_ip  TEXT NOT NULL DEFAULT '',"
	"  mx_hostname   TEXT NOT NULL DEFAULT '',"
	"  mx_helo       TEXT NOT NULL DEFAULT '',"
	"  reason        TEXT NOT NULL DEFAULT '',"
	"  count         INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (domain, day, policy_type, policy_domain, policy_string,"
	"    mx_host, result_type, sending_ip, receiving_ip, mx_hostname,"
	"    mx_helo, reason)"
	");"
	"CREATE TABLE tlsrpt_report ("
	"  domain    TEXT NOT NULL,"
	"  day       TEXT NOT NULL,"
	"  state     TEXT NOT NULL,"
	"  report_id TEXT NOT NULL,"
	"  rua       TEXT NOT NULL DEFAULT '',"
	"  claimed   INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (domain, day)"
	");"
	"CREATE TABLE tlsrpt_post ("
	"  report_id  TEXT NOT NULL,"
	"  uri        TEXT NOT NULL,"
	"  body       BLOB NOT NULL,"
	"  tries      INTEGER NOT NULL DEFAULT 0,"
	"  next_try   INTEGER NOT NULL DEFAULT 0,"
	"  deadline   INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (report_id, uri)"
	");"
	"CREATE INDEX tlsrpt_post_next_try ON tlsrpt_post(next_try);",
	/* 3: the DANE bypass list's rechecks and retirements (issue 14) */
	"CREATE TABLE bypass_state ("
	"  domain   TEXT PRIMARY KEY NOT NULL,"
	"  entry    TEXT NOT NULL DEFAULT '',"
	"  checked  INTEGER NOT NULL DEFAULT 0,"
	"  ok       INTEGER NOT NULL DEFAULT 0,"
	"  result   TEXT NOT NULL DEFAULT '',"
	"  retired  INTEGER NOT NULL DEFAULT 0"
	");",
	/* 4: destination memory (docs/domains.md) */
	"CREATE TABLE dest ("
	"  domain      TEXT PRIMARY KEY NOT NULL,"
	"  policy      TEXT NOT NULL DEFAULT '',"
	"  fingerprint TEXT NOT NULL DEFAULT '',"
	"  first_seen  INTEGER NOT NULL DEFAULT 0,"
	"  changed     INTEGER NOT NULL DEFAULT 0,"
	"  last_seen   INTEGER NOT NULL DEFAULT 0,"
	"  downgraded  INTEGER NOT NULL DEFAULT 0,"
	"  down_from   TEXT NOT NULL DEFAULT '',"
	"  down_to     TEXT NOT NULL DEFAULT '',"
	"  down_what   TEXT NOT NULL DEFAULT '',"
	"  held        INTEGER NOT NULL DEFAULT 0,"
	"  accepted    INTEGER NOT NULL DEFAULT 0,"
	"  day         TEXT NOT NULL DEFAULT '',"
	"  dane_today  INTEGER NOT NULL DEFAULT 0,"
	"  sts_today   INTEGER NOT NULL DEFAULT 0,"
	"  enc_today   INTEGER NOT NULL DEFAULT 0,"
	"  opp_today   INTEGER NOT NULL DEFAULT 0,"
	"  def_today   INTEGER NOT NULL DEFAULT 0,"
	"  dane_total  INTEGER NOT NULL DEFAULT 0,"
	"  sts_total   INTEGER NOT NULL DEFAULT 0,"
	"  enc_total   INTEGER NOT NULL DEFAULT 0,"
	"  opp_total   INTEGER NOT NULL DEFAULT 0,"
	"  def_total   INTEGER NOT NULL DEFAULT 0,"
	"  last_outcome TEXT NOT NULL DEFAULT ''"
	");",
};
#define SCHEMA_VERSION	((int)DMX_NELEM(migrations))

#define STS_COLS	"domain, id, policy, fetched, expires, checked, " \
			"last_used, next_try, failures, last_error"

static const char *const sql[Q_MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_STS_GET] = ("SELECT " STS_COLS " FROM sts_policy WHERE domain = ?1"),
	[Q_STS_LIST] = ("SELECT " STS_COLS " FROM sts_policy"
	    " WHERE last_used >= ?1 ORDER BY last_used DESC LIMIT ?2"),
	[Q_STS_PUT] = ("INSERT OR REPLACE INTO sts_policy (" STS_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
	[Q_STS_TOUCH] = ("UPDATE sts_policy SET last_used = ?2"
	    " WHERE domain = ?1 AND last_used < ?2"),
	[Q_STS_DELETE] = "DELETE FROM sts_policy WHERE domain = ?1",
	[Q_STS_EXPIRE] = "DELETE FROM sts_policy WHERE last_used < ?1",
};

/* sq_dberr - err is what failed and SQLite's message; -1 */
int
sq_dberr(struct sq *c, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(c->db));
	return -1;
}

/* sq_prep - the cached statement *sp of text, reset and unbound */
sqlite3_stmt *
sq_prep(struct sq *c, sqlite3_stmt **sp, const char *text, char *err,
    size_t errlen)
{
	if (*sp == NULL) {
		if (sqlite3_prepare_v3(c->db, text, -1,
		    SQLITE_PREPARE_PERSISTENT, sp, NULL) != SQLITE_OK) {
			sq_dberr(c, "prepare", err, errlen);
			return NULL;
		}
	} else {
		sqlite3_reset(*sp);
		sqlite3_clear_bindings(*sp);
	}
	return *sp;
}

/* prep - the cached statement q, reset and unbound */
static sqlite3_stmt *
prep(struct sq *c, enum stmt q, char *err, size_t errlen)
{
	return sq_prep(c, &c->stmt[q], sql[q], err, errlen);
}

/* sq_step_done - run a statement that returns no rows */
int
sq_step_done(struct sq *c, sqlite3_stmt *s, const char *what, char *err,
    size_t errlen)
{
	int	 rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		sq_dberr(c, what, err, errlen);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* sq_exec - run SQL text (no parameters); 0 or -1 with err */
int
sq_exec(struct sq *c, const char *text, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(c->db, text, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(c->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
user_version(struct sq *c, int *v, char *err, size_t errlen)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK)
		return sq_dberr(c, "schema version", err, errlen);
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return sq_dberr(c, "schema version", err, errlen);
	return 0;
}

/* migrate - bring the schema to SCHEMA_VERSION, in one transaction */
static int
migrate(struct sq *c, const char *path, char *err, size_t errlen)
{
	char	 sub[STATE_ERR_MAX], set[64];
	int	 v, i;

	if (sq_exec(c, "BEGIN IMMEDIATE", sub, sizeof(sub)) == -1) {
		snprintf(err, errlen, "%s: %s", path, sub);
		return -1;
	}
	if (user_version(c, &v, sub, sizeof(sub)) == -1)
		goto fail;
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "%s has schema version %d, newer than "
		    "this danemx knows (%d): a newer danemx wrote it", path, v,
		    SCHEMA_VERSION);
		sq_exec(c, "ROLLBACK", sub, sizeof(sub));
		return -1;
	}
	for (i = v; i < SCHEMA_VERSION; i++)
		if (sq_exec(c, migrations[i], sub, sizeof(sub)) == -1)
			goto fail;
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", SCHEMA_VERSION);
	if (v != SCHEMA_VERSION && sq_exec(c, set, sub, sizeof(sub)) == -1)
		goto fail;
	if (sq_exec(c, "COMMIT", sub, sizeof(sub)) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: schema version %d to %d: %s", path, v,
	    SCHEMA_VERSION, sub);
	sq_exec(c, "ROLLBACK", sub, sizeof(sub));
	return -1;
}

static void
sq_close(void *conn)
{
	struct sq	*c = conn;
	size_t		 i;

	if (c == NULL)
		return;
	for (i = 0; i < Q_MAX; i++)
		sqlite3_finalize(c->stmt[i]);
	for (i = 0; i < TQ_MAX; i++)
		sqlite3_finalize(c->tstmt[i]);
	for (i = 0; i < BQ_MAX; i++)
		sqlite3_finalize(c->bstmt[i]);
	for (i = 0; i < DQ_MAX; i++)
		sqlite3_finalize(c->dstmt[i]);
	sqlite3_close(c->db);
	free(c);
}

/* sq_open - a connection to DIR/state.db; a writer creates and migrates */
static void *
sq_open(const struct state_conf *conf, int writer, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	struct sq	*c;
	struct stat	 sb, db;
	char		 sub[STATE_ERR_MAX];
	int		 flags, v, existed, rc;

	if ((size_t)snprintf(path, pathlen, "%s/%s", conf->dir,
	    STATE_DB_FILE) >= pathlen) {
		snprintf(err, errlen, "state_dir %s: path too long", conf->dir);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	existed = lstat(path, &db) == 0;
	if (existed && !S_ISREG(db.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		goto fail;
	}
	/* One connection per thread; never through a symbolic link. */
	flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
	    SQLITE_OPEN_EXRESCODE;
	if (writer)
		flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	else if (conf->readonly)
		flags |= SQLITE_OPEN_READONLY;
	else
		flags |= SQLITE_OPEN_READWRITE;
	if ((rc = sqlite3_open_v2(path, &c->db, flags, NULL)) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, c->db ?
		    sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, writer ? (conf->busy_ms ? (int)conf->busy_ms :
	    WRITE_BUSY_MS) : READ_BUSY_MS);

	/* Made by root in a directory someone else owns: give it to them. */
	if (writer && !existed && geteuid() == 0 && stat(conf->dir, &sb) == 0 &&
	    sb.st_uid != 0 && chown(path, sb.st_uid, sb.st_gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		goto fail;
	}
	if (writer) {
		if (sq_exec(c, "PRAGMA journal_mode = WAL", sub, sizeof(sub)) == -1 ||
		    sq_exec(c, "PRAGMA synchronous = NORMAL", sub,
		    sizeof(sub)) == -1) {
			snprintf(err, errlen, "%s: %s", path, sub);
			goto fail;
		}
		if (migrate(c, path, err, errlen) == -1)
			goto fail;
	} else {
		if (sq_exec(c, "PRAGMA query_only = 1", sub, sizeof(sub)) == -1 ||
		    user_version(c, &v, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "%s: %s", path, sub);
			goto fail;
		}
		if (v > SCHEMA_VERSION) {
			snprintf(err, errlen, "%s has schema version %d, newer "
			    "than this danemx knows (%d)", path, v,
			    SCHEMA_VERSION);
			goto fail;
		}
	}
	return c;
fail:
	sq_close(c);
	return NULL;
}

static int
sq_begin(void *conn, char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = prep(c, Q_BEGIN, err, errlen)) == NULL)
		return -1;
	return sq_step_done(c, s, "begin", err, errlen);
}

static int
sq_commit(void *conn, char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = prep(c, Q_COMMIT, err, errlen)) == NULL)
		return -1;
	return sq_step_done(c, s, "commit", err, errlen);
}

static void
sq_rollback(void *conn)
{
	struct sq	*c = conn;
	char		 err[64];
	sqlite3_stmt	*s;

	if (sqlite3_get_autocommit(c->db))
		return;
	if ((s = prep(c, Q_ROLLBACK, err, sizeof(err))) != NULL)
		sq_step_done(c, s, "rollback", err, sizeof(err));
}

/* row_sts - the current row of s (columns STS_COLS) into r */
static int
row_sts(sqlite3_stmt *s, struct state_sts *r, char *err, size_t errlen)
{
	const unsigned char	*t;
	int			 n;

	memset(r, 0, sizeof(*r));
	if ((t = sqlite3_column_text(s, 0)) != NULL)
		strlcpy_(r->domain, (const char *)t, sizeof(r->domain));
	if ((t = sqlite3_column_text(s, 1)) != NULL)
		strlcpy_(r->id, (const char *)t, sizeof(r->id));
	if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
		t = sqlite3_column_text(s, 2);
		n = sqlite3_column_bytes(s, 2);
		if (t == NULL || n < 0 || (r->policy = malloc((size_t)n +
		    1)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(r->policy, t, (size_t)n);
		r->policy[n] = '\0';
		r->policy_len = (size_t)n;
	}
	r->fetched = sqlite3_column_int64(s, 3);
	r->expires = sqlite3_column_int64(s, 4);
	r->checked = sqlite3_column_int64(s, 5);
	r->last_used = sqlite3_column_int64(s, 6);
	r->next_try = sqlite3_column_int64(s, 7);
	n = sqlite3_column_int(s, 8);
	r->failures = n < 0 ? 0 : (unsigned)n;
	if ((t = sqlite3_column_text(s, 9)) != NULL)
		strlcpy_(r->last_error, (const char *)t, sizeof(r->last_error));
	return 0;
}

static int
sq_sts_get(void *conn, const char *domain, struct state_sts *out, char *err,
    size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;
	int		 rc, rv;

	if ((s = prep(c, Q_STS_GET, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rv = 0;
	else if (rc == SQLITE_ROW)
		rv = row_sts(s, out, err, errlen) == 0 ? 1 : -1;
	else
		rv = sq_dberr(c, "read", err, errlen);	/* before the reset */
	sqlite3_reset(s);
	return rv;
}

static int
sq_sts_list(void *conn, int64_t used_since, size_t max,
    int (*cb)(void *, const struct state_sts *), void *arg, char *err,
    size_t errlen)
{
	struct sq		*c = conn;
	struct state_sts	 r;
	sqlite3_stmt		*s;
	int			 rc, n = 0, stop = 0;

	if ((s = prep(c, Q_STS_LIST, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, used_since);
	sqlite3_bind_int64(s, 2, max > 1000000 ? 1000000 : (sqlite3_int64)max);
	while (!stop && (rc = sqlite3_step(s)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW) {
			sq_dberr(c, "list", err, errlen);
			sqlite3_reset(s);
			return -1;
		}
		if (row_sts(s, &r, err, errlen) == -1) {
			sqlite3_reset(s);
			return -1;
		}
		stop = cb(arg, &r) != 0;
		state_sts_clear(&r);
		n++;
	}
	sqlite3_reset(s);
	return n;
}

static int
sq_sts_put(void *conn, const struct state_sts *r, char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = prep(c, Q_STS_PUT, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, r->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->id, -1, SQLITE_STATIC);
	if (r->policy != NULL)
		sqlite3_bind_text(s, 3, r->policy, (int)r->policy_len,
		    SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, r->fetched);
	sqlite3_bind_int64(s, 5, r->expires);
	sqlite3_bind_int64(s, 6, r->checked);
	sqlite3_bind_int64(s, 7, r->last_used);
	sqlite3_bind_int64(s, 8, r->next_try);
	sqlite3_bind_int(s, 9, (int)(r->failures > 1000000 ? 1000000 :
	    r->failures));
	sqlite3_bind_text(s, 10, r->last_error, -1, SQLITE_STATIC);
	return sq_step_done(c, s, "write", err, errlen);
}

static int
sq_sts_touch(void *conn, const char *domain, int64_t when, char *err,
    size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = prep(c, Q_STS_TOUCH, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, when);
	return sq_step_done(c, s, "write", err, errlen);
}

static int
sq_sts_delete(void *conn, const char *domain, char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = prep(c, Q_STS_DELETE, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	return sq_step_done(c, s, "delete", err, errlen);
}

static int
sq_sts_expire(void *conn, int64_t unused_before, char *err, size_t errlen)
{
	struct sq	*c = conn;
	sqlite3_stmt	*s;

	if ((s = prep(c, Q_STS_EXPIRE, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, unused_before);
	return sq_step_done(c, s, "expire", err, errlen);
}

const struct state_backend state_backend_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.sts_get = sq_sts_get,
	.sts_list = sq_sts_list,
	.sts_put = sq_sts_put,
	.sts_touch = sq_sts_touch,
	.sts_delete = sq_sts_delete,
	.sts_expire = sq_sts_expire,
	.tlsrpt_add = sq_tlsrpt_add,
	.tlsrpt_rows = sq_tlsrpt_rows,
	.tlsrpt_days = sq_tlsrpt_days,
	.tlsrpt_claim = sq_tlsrpt_claim,
	.tlsrpt_post_list = sq_tlsrpt_post_list,
	.tlsrpt_post_update = sq_tlsrpt_post_update,
	.tlsrpt_post_delete = sq_tlsrpt_post_delete,
	.tlsrpt_expire = sq_tlsrpt_expire,
	.bypass_get = sq_bypass_get,
	.bypass_list = sq_bypass_list,
	.bypass_put = sq_bypass_put,
	.bypass_delete = sq_bypass_delete,
	.dest_get = sq_dest_get,
	.dest_list = sq_dest_list,
	.dest_write = sq_dest_write,
};
