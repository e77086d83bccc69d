/*
 * test_state.c - the state store over SQLite: records round-trip, the
 * typed writes (put, touch, delete, expire) land in batches off the
 * caller's thread, two stores on one file (two processes) see each
 * other's commits and never lose a write to a lock, a lock held elsewhere
 * delays writes but never the caller, the queue is bounded, the schema is
 * versioned (a newer file is refused, an empty one migrated), and a
 * state_dir that others could write, or a planted symbolic link, is
 * refused. Each case has its own directory under $TMPDIR.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log/log.h"
#include "state/state.h"
#include "t.h"
#include "t_state.h"
#include "util/util.h"


static struct state *
open_dir(const char *dir, int readonly, char *err, size_t errlen)
{
	struct state_conf	 c;

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.readonly = readonly;
	c.busy_ms = 5000;
	return state_open(&c, err, errlen);
}

static void
rec(struct state_sts *r, const char *domain, const char *id,
    const char *policy, int64_t t)
{
	memset(r, 0, sizeof(*r));
	strlcpy_(r->domain, domain, sizeof(r->domain));
	strlcpy_(r->id, id, sizeof(r->id));
	r->policy = (char *)(uintptr_t)policy;
	r->policy_len = policy ? strlen(policy) : 0;
	r->fetched = t;
	r->expires = t + 86400;
	r->checked = t;
	r->last_used = t;
}

static void
test_roundtrip(void)
{
	struct state		*st;
	struct state_sts	 r, got;
	struct state_stats	 stats;
	const char		*dir = newdir();
	char			 err[256] = "", path[600];
	const char		*pol = "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx.example.org\r\nmax_age: 86400\r\n";
	int			 v = -1;
	char			 mode[16] = "";

	st = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(st != NULL, "open: %s", err);
	if (st == NULL)
		return;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	T_CHECK(strcmp(state_path(st), path) == 0, "path %s", state_path(st));
	T_CHECK(strcmp(state_backend_name(st), "sqlite") == 0, "backend");
	T_CHECK(state_sts_get(st, "example.org", &got, err, sizeof(err)) == 0,
	    "get of nothing: %s", err);

	rec(&r, "example.org", "20260101", pol, 1000);
	r.next_try = 1300;
	r.failures = 2;
	strlcpy_(r.last_error, "HTTP status 500", sizeof(r.last_error));
	T_CHECK(state_sts_put(st, &r) == 0, "put");
	rec(&r, "none.example", "", NULL, 900);	/* a backoff, no policy */
	T_CHECK(state_sts_put(st, &r) == 0, "put without a policy");
	T_CHECK(state_sync(st) == 0, "sync after puts");

	T_CHECK(state_sts_get(st, "example.org", &got, err, sizeof(err)) == 1,
	    "get: %s", err);
	T_CHECK(strcmp(got.id, "20260101") == 0 && got.policy != NULL &&
	    got.policy_len == strlen(pol) && strcmp(got.policy, pol) == 0 &&
	    got.fetched == 1000 && got.expires == 1000 + 86400 &&
	    got.checked == 1000 && got.last_used == 1000 &&
	    got.next_try == 1300 && got.failures == 2 &&
	    strcmp(got.last_error, "HTTP status 500") == 0,
	    "record round-trips: id '%s' policy %zu octets failures %u",
	    got.id, got.policy_len, got.failures);
	state_sts_clear(&got);
	T_CHECK(state_sts_get(st, "none.example", &got, err, sizeof(err)) == 1 &&
	    got.policy == NULL && got.id[0] == '\0', "record without a policy");
	state_sts_clear(&got);

	/* touch moves last_used forward only */
	T_CHECK(state_sts_touch(st, "example.org", 5000) == 0 &&
	    state_sts_touch(st, "example.org", 4000) == 0 &&
	    state_sync(st) == 0, "touch");
	state_sts_get(st, "example.org", &got, err, sizeof(err));
	T_CHECK(got.last_used == 5000, "last_used after touch 5000, 4000: %lld",
	    (long long)got.last_used);
	state_sts_clear(&got);

	/* expire drops what was not used since; delete drops one */
	T_CHECK(state_sts_expire(st, 1000) == 0 && state_sync(st) == 0,
	    "expire");
	T_CHECK(state_sts_get(st, "none.example", &got, err, sizeof(err)) == 0,
	    "a record unused since 900 survived expire(1000)");
	T_CHECK(state_sts_get(st, "example.org", &got, err, sizeof(err)) == 1,
	    "a record used at 5000 was expired by expire(1000)");
	state_sts_clear(&got);
	T_CHECK(state_sts_delete(st, "example.org") == 0 && state_sync(st) == 0,
	    "delete");
	T_CHECK(state_sts_get(st, "example.org", &got, err, sizeof(err)) == 0,
	    "deleted record still there");

	/* bad records are refused before they are queued */
	rec(&r, "Example.ORG", "1", NULL, 1);
	T_CHECK(state_sts_put(st, &r) == -1, "upper-case domain accepted");
	rec(&r, "example.org", "id-1", NULL, 1);
	T_CHECK(state_sts_put(st, &r) == -1, "id with '-' accepted");
	rec(&r, "", "1", NULL, 1);
	T_CHECK(state_sts_put(st, &r) == -1, "empty domain accepted");

	state_stats(st, &stats);
	T_CHECK(stats.errors == 0 && stats.queued == 0 && stats.writes == 6,
	    "stats: %lu writes, %lu errors, %zu queued", stats.writes,
	    stats.errors, stats.queued);
	state_close(st);

	/* WAL mode and schema version 4, as another program sees them */
	T_CHECK(sql1(dir, "PRAGMA user_version", &v) == 0 && v == 4,
	    "user_version %d, want 4", v);
	{
		sqlite3		*db;
		sqlite3_stmt	*s;

		if (sqlite3_open(path, &db) == SQLITE_OK &&
		    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
		    NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				strlcpy_(mode, (const char *)
				    sqlite3_column_text(s, 0), sizeof(mode));
			sqlite3_finalize(s);
		}
		sqlite3_close(db);
	}
	T_CHECK(strcmp(mode, "wal") == 0, "journal_mode '%s', want wal", mode);
}

struct listed {
	char	 names[8][64];
	int	 n;
	int	 stop_after;
};

static int
list_cb(void *arg, const struct state_sts *r)
{
	struct listed	*l = arg;

	if (l->n < 8)
		strlcpy_(l->names[l->n], r->domain, sizeof(l->names[0]));
	l->n++;
	return l->stop_after > 0 && l->n >= l->stop_after ? -1 : 0;
}

/* A restart: what one store wrote, the next one opened reads. */
static void
test_reopen_and_list(void)
{
	struct state		*st;
	struct state_sts	 r;
	struct listed		 l;
	const char		*dir = newdir();
	char			 err[256] = "", name[64];
	int			 i, n;

	if ((st = open_dir(dir, 0, err, sizeof(err))) == NULL) {
		T_CHECK(0, "open: %s", err);
		return;
	}
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		rec(&r, name, "1", "version: STSv1\n", 100 + i);
		state_sts_put(st, &r);
	}
	state_close(st);	/* applies what is queued */

	if ((st = open_dir(dir, 0, err, sizeof(err))) == NULL) {
		T_CHECK(0, "reopen: %s", err);
		return;
	}
	memset(&l, 0, sizeof(l));
	n = state_sts_list(st, 102, 10, list_cb, &l, err, sizeof(err));
	T_CHECK(n == 3 && l.n == 3 && strcmp(l.names[0], "d4.example") == 0 &&
	    strcmp(l.names[2], "d2.example") == 0,
	    "list used since 102: %d (%s ... %s), want d4, d3, d2", n,
	    l.names[0], l.names[2]);
	memset(&l, 0, sizeof(l));
	n = state_sts_list(st, 0, 2, list_cb, &l, err, sizeof(err));
	T_CHECK(n == 2 && l.n == 2, "list at most 2: %d", n);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	n = state_sts_list(st, 0, 10, list_cb, &l, err, sizeof(err));
	T_CHECK(l.n == 1, "list stopped by its callback after %d", l.n);
	state_close(st);

	/* read-only: reads work, writes fail at once */
	if ((st = open_dir(dir, 1, err, sizeof(err))) == NULL) {
		T_CHECK(0, "open read-only: %s", err);
		return;
	}
	T_CHECK(state_is_readonly(st), "read-only flag");
	T_CHECK(state_sts_get(st, "d1.example", &r, err, sizeof(err)) == 1,
	    "read-only get: %s", err);
	state_sts_clear(&r);
	rec(&r, "d9.example", "1", NULL, 1);
	T_CHECK(state_sts_put(st, &r) == -1, "read-only store took a write");
	T_CHECK(state_sync(st) == 0, "read-only sync");
	state_close(st);
}

/*
 * Two stores on one file, as the relay and `danemx sts` are: each writes
 * a thousand records at once; every one of them lands, and each store
 * reads the other's.
 */
static void
test_two_writers(void)
{
	struct state		*a, *b;
	struct state_sts	 r;
	struct state_stats	 sa, sb;
	const char		*dir = newdir();
	char			 err[256] = "", name[64];
	int			 i, n = -1;

	a = open_dir(dir, 0, err, sizeof(err));
	b = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(a != NULL && b != NULL, "two opens: %s", err);
	if (a == NULL || b == NULL) {
		state_close(a);
		state_close(b);
		return;
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "a%d.example", i);
		rec(&r, name, "1", "version: STSv1\n", i);
		state_sts_put(a, &r);
		snprintf(name, sizeof(name), "b%d.example", i);
		rec(&r, name, "2", NULL, i);
		state_sts_put(b, &r);
	}
	T_CHECK(state_sync(a) == 0 && state_sync(b) == 0, "both synced");
	state_stats(a, &sa);
	state_stats(b, &sb);
	T_CHECK(sa.writes == 1000 && sb.writes == 1000 && sa.errors == 0 &&
	    sb.errors == 0, "writes %lu + %lu, errors %lu + %lu", sa.writes,
	    sb.writes, sa.errors, sb.errors);
	/* queued faster than committed: batched, not one commit per write */
	T_CHECK(sa.batches < 1000 && sb.batches < 1000,
	    "batches %lu and %lu for 1000 writes each", sa.batches,
	    sb.batches);
	T_CHECK(sql1(dir, "SELECT count(*) FROM sts_policy", &n) == 0 &&
	    n == 2000, "%d records, want 2000", n);
	T_CHECK(state_sts_get(a, "b999.example", &r, err, sizeof(err)) == 1 &&
	    strcmp(r.id, "2") == 0, "a reads b's write: %s", err);
	state_sts_clear(&r);
	T_CHECK(state_sts_get(b, "a0.example", &r, err, sizeof(err)) == 1 &&
	    r.policy != NULL, "b reads a's write: %s", err);
	state_sts_clear(&r);
	state_close(a);
	state_close(b);
}

/*
 * Another process holds the write lock: writes queue up (the caller is
 * never blocked), land once it lets go, and past STATE_QUEUE_MAX the
 * next write fails at once instead of growing memory.
 */
static void
test_lock_held_elsewhere(void)
{
	struct state		*st;
	struct state_sts	 r;
	struct state_stats	 stats;
	const char		*dir = newdir();
	char			 err[256] = "", path[600], name[64];
	sqlite3			*db = NULL;
	int			 i, refused = 0, n = -1;

	if ((st = open_dir(dir, 0, err, sizeof(err))) == NULL) {
		T_CHECK(0, "open: %s", err);
		return;
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		T_CHECK(0, "cannot take the write lock");
		sqlite3_close(db);
		state_close(st);
		return;
	}
	for (i = 0; i < STATE_QUEUE_MAX + STATE_BATCH_MAX + 10; i++) {
		snprintf(name, sizeof(name), "q%d.example", i);
		rec(&r, name, "1", NULL, i);
		if (state_sts_put(st, &r) == -1)
			refused++;
	}
	state_stats(st, &stats);
	T_CHECK(refused >= 10 && stats.queued <= STATE_QUEUE_MAX,
	    "queue bounded: %d refused, %zu queued", refused, stats.queued);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	T_CHECK(state_sync(st) == -1, "sync says some writes were dropped");
	T_CHECK(state_sync(st) == 0, "the next sync is clean");
	T_CHECK(sql1(dir, "SELECT count(*) FROM sts_policy", &n) == 0 &&
	    n == STATE_QUEUE_MAX + STATE_BATCH_MAX + 10 - refused,
	    "%d records after the lock was released, want %d", n,
	    STATE_QUEUE_MAX + STATE_BATCH_MAX + 10 - refused);
	state_close(st);
}

static void
test_schema(void)
{
	struct state		*st;
	struct state_sts	 r;
	const char		*dir;
	char			 err[256] = "", path[600];
	int			 v = -1;
	FILE			*fp;

	/* an empty database file (version 0) is migrated */
	dir = newdir();
	T_CHECK(sql1(dir, "PRAGMA user_version", &v) == 0 && v == 0,
	    "fresh file version %d", v);
	st = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(st != NULL, "open of a version 0 file: %s", err);
	state_close(st);
	T_CHECK(sql1(dir, "PRAGMA user_version", &v) == 0 && v == 4,
	    "migrated to %d", v);

	/* a newer file is refused, read-write and read-only */
	T_CHECK(sql1(dir, "PRAGMA user_version = 99", NULL) == 0, "set 99");
	err[0] = '\0';
	st = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "schema version 99, newer than") !=
	    NULL, "newer schema: got '%s'", err);
	state_close(st);
	err[0] = '\0';
	st = open_dir(dir, 1, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "newer than") != NULL,
	    "newer schema read-only: got '%s'", err);
	state_close(st);

	/* not a database */
	dir = newdir();
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if ((fp = fopen(path, "w")) != NULL) {
		fputs("this is not an SQLite file, but it is long enough to "
		    "look like one to a careless reader\n", fp);
		fclose(fp);
	}
	err[0] = '\0';
	st = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "not a database") != NULL,
	    "a text file as state.db: got '%s'", err);
	state_close(st);

	/* a row that another writer of the file made malformed */
	dir = newdir();
	st = open_dir(dir, 0, err, sizeof(err));
	if (st == NULL) {
		T_CHECK(0, "open: %s", err);
		return;
	}
	T_CHECK(sql1(dir, "INSERT INTO sts_policy (domain, id) VALUES "
	    "('bad.example', 'no spaces allowed')", NULL) == 0, "insert");
	err[0] = '\0';
	T_CHECK(state_sts_get(st, "bad.example", &r, err, sizeof(err)) == -1 &&
	    strstr(err, "malformed") != NULL, "malformed row: got '%s'", err);
	state_close(st);
}

static void
test_dir_checks(void)
{
	struct state	*st;
	const char	*dir;
	char		 err[256] = "", path[600], sub[600];
	int		 fd;

	/* made when missing, 0700 */
	dir = newdir();
	snprintf(sub, sizeof(sub), "%s/new", dir);
	st = open_dir(sub, 0, err, sizeof(err));
	T_CHECK(st != NULL, "open of a missing state_dir: %s", err);
	state_close(st);
	{
		struct stat sb;

		T_CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700,
		    "state_dir mode %o", (unsigned)(sb.st_mode & 0777));
	}
	/* read-only does not make it */
	snprintf(sub, sizeof(sub), "%s/absent", dir);
	err[0] = '\0';
	st = open_dir(sub, 1, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "No such file") != NULL,
	    "read-only open of a missing dir: got '%s'", err);

	/* writable by others */
	dir = newdir();
	chmod(dir, 0777);
	err[0] = '\0';
	st = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "writable by others") != NULL,
	    "world-writable state_dir: got '%s'", err);
	state_close(st);

	/* not a directory */
	snprintf(path, sizeof(path), "%s/file", base);
	if ((fd = creat(path, 0600)) != -1)
		close(fd);
	err[0] = '\0';
	st = open_dir(path, 0, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "not a directory") != NULL,
	    "a file as state_dir: got '%s'", err);
	state_close(st);

	/* a symbolic link planted as state.db */
	dir = newdir();
	snprintf(path, sizeof(path), "%s/state.db", dir);
	snprintf(sub, sizeof(sub), "%s/elsewhere.db", base);
	T_CHECK(symlink(sub, path) == 0, "symlink");
	err[0] = '\0';
	st = open_dir(dir, 0, err, sizeof(err));
	T_CHECK(st == NULL && strstr(err, "not a regular file") != NULL,
	    "symlinked state.db: got '%s'", err);
	state_close(st);
	T_CHECK(access(sub, F_OK) == -1, "the link's target was created");

	/* an unknown backend */
	{
		struct state_conf c;

		memset(&c, 0, sizeof(c));
		c.dir = base;
		c.backend = "pgsql";
		err[0] = '\0';
		st = state_open(&c, err, sizeof(err));
		T_CHECK(st == NULL && strstr(err, "unknown state backend "
		    "'pgsql'") != NULL, "unknown backend: got '%s'", err);
	}
}

int
main(void)
{
	log_init("test_state", 0, 0);
	if (t_state_begin("test_state") == -1)
		return 1;
	test_roundtrip();
	test_reopen_and_list();
	test_two_writers();
	test_lock_held_elsewhere();
	test_schema();
	test_dir_checks();
	t_state_end();
	return t_done("test_state");
}
