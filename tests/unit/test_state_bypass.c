/*
 * test_state_bypass.c - the bypass verbs of the state store: a row is
 * stored, read back and replaced; list returns every row in domain
 * order; delete forgets one; a version 2 file (before the bypass table)
 * is migrated with its rows kept; a malformed row another writer of
 * the file made is passed over by list and refused by get; put refuses
 * a malformed record.
 */
#include <sys/stat.h>

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
open_dir(const char *dir)
{
	struct state_conf	 c;
	struct state		*st;
	char			 err[256];

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.busy_ms = 5000;
	if ((st = state_open(&c, err, sizeof(err))) == NULL)
		T_CHECK(0, "open %s: %s", dir, err);
	return st;
}

struct seen {
	char	 domains[8][STATE_DOMAIN_MAX];
	size_t	 n;
};

static int
seen_one(void *arg, const struct state_bypass *r)
{
	struct seen	*s = arg;

	if (s->n < 8)
		strlcpy_(s->domains[s->n++], r->domain, STATE_DOMAIN_MAX);
	return 0;
}

static void
row(struct state_bypass *r, const char *domain, int64_t retired)
{
	memset(r, 0, sizeof(*r));
	strlcpy_(r->domain, domain, sizeof(r->domain));
	snprintf(r->entry, sizeof(r->entry), "%s expires=0 added=1", domain);
	r->checked = 1000;
	r->ok = retired != 0;
	strlcpy_(r->result, retired ? "DANE validated successfully (3 1 1 "
	    "at depth 0)" : "DANE: not authenticated", sizeof(r->result));
	r->retired = retired;
}

static void
test_put_get_list(void)
{
	const char		*dir = newdir();
	struct state		*st = open_dir(dir);
	struct state_bypass	 r, got;
	struct seen		 s;
	char			 err[256] = "";
	int			 n;

	if (st == NULL)
		return;
	row(&r, "b.example", 0);
	T_CHECK(state_bypass_put(st, &r) == 0, "put b");
	row(&r, "a.example", 1001);
	T_CHECK(state_bypass_put(st, &r) == 0, "put a");
	T_CHECK(state_sync(st) == 0, "sync");
	T_CHECK(state_bypass_get(st, "a.example", &got, err, sizeof(err)) ==
	    1 && got.retired == 1001 && got.ok == 1 && got.checked == 1000 &&
	    strcmp(got.entry, "a.example expires=0 added=1") == 0 &&
	    strcmp(got.result, "DANE validated successfully (3 1 1 at depth "
	    "0)") == 0, "get a: %s", err);
	T_CHECK(state_bypass_get(st, "c.example", &got, err, sizeof(err)) ==
	    0, "get of a domain without a row");
	/* replaced: a re-added entry's recheck */
	row(&r, "a.example", 0);
	strlcpy_(r.entry, "a.example expires=0 added=2", sizeof(r.entry));
	T_CHECK(state_bypass_put(st, &r) == 0 && state_sync(st) == 0,
	    "put a again");
	T_CHECK(state_bypass_get(st, "a.example", &got, err, sizeof(err)) ==
	    1 && got.retired == 0 && strcmp(got.entry,
	    "a.example expires=0 added=2") == 0, "a replaced");
	memset(&s, 0, sizeof(s));
	n = state_bypass_list(st, seen_one, &s, err, sizeof(err));
	T_CHECK(n == 2 && s.n == 2 && strcmp(s.domains[0], "a.example") ==
	    0 && strcmp(s.domains[1], "b.example") == 0, "list: %d: %s", n,
	    err);
	T_CHECK(state_bypass_delete(st, "b.example") == 0 &&
	    state_sync(st) == 0 && state_bypass_get(st, "b.example", &got,
	    err, sizeof(err)) == 0, "delete b");
	/* malformed records are refused */
	row(&r, "Bad Domain", 0);
	T_CHECK(state_bypass_put(st, &r) == -1, "put of a bad domain");
	row(&r, "c.example", 0);
	r.result[0] = '\x01';
	T_CHECK(state_bypass_put(st, &r) == -1, "put of a control character");
	/* a host next hop of the list is a key too; nothing else bracketed */
	{
		static const char *const good[] = { "[mx.example.org]",
		    "[mx.example.org]:25", "[mx.example.org]:65535" };
		static const char *const bad[] = { "[]", "[]:25", "[MX.example]",
		    "[mx.example]:", "[mx.example]:123456", "[mx.example]:2x",
		    "[mx.example]x", "[mx.example", "mx]", "[mx[.example]" };
		size_t	 i;

		for (i = 0; i < DMX_NELEM(good); i++) {
			row(&r, good[i], 0);
			T_CHECK(state_bypass_valid(&r), "next hop %s refused",
			    good[i]);
		}
		for (i = 0; i < DMX_NELEM(bad); i++) {
			row(&r, bad[i], 0);
			T_CHECK(!state_bypass_valid(&r), "key %s accepted",
			    bad[i]);
		}
	}
	state_close(st);
}

static void
test_migrate_and_hostile(void)
{
	const char		*dir = newdir();
	struct state		*st;
	struct state_bypass	 got;
	struct seen		 s;
	char			 err[256] = "";
	int			 v = -1, n;

	/* a version 2 file: made by this code, then the table dropped */
	if ((st = open_dir(dir)) == NULL)
		return;
	state_close(st);
	T_CHECK(sql1(dir, "DROP TABLE bypass_state", NULL) == 0 &&
	    sql1(dir, "DROP TABLE dest", NULL) == 0 &&
	    sql1(dir, "INSERT INTO sts_policy (domain, id) VALUES "
	    "('kept.example', 'k1')", NULL) == 0 &&
	    sql1(dir, "PRAGMA user_version = 2", NULL) == 0, "a v2 file");
	if ((st = open_dir(dir)) == NULL)
		return;
	T_CHECK(sql1(dir, "PRAGMA user_version", &v) == 0 && v == 4,
	    "migrated to %d, want 4", v);
	T_CHECK(sql1(dir, "SELECT count(*) FROM sts_policy", &v) == 0 &&
	    v == 1, "the v2 rows are kept: %d", v);
	/* rows another writer made: a bad domain, a control character */
	T_CHECK(sql1(dir, "INSERT INTO bypass_state (domain, entry, result) "
	    "VALUES ('ok.example', 'ok.example expires=0 added=0', 'x'), "
	    "('BAD DOMAIN', '', ''), ('ctl.example', '', char(1))", NULL) ==
	    0, "hostile rows");
	memset(&s, 0, sizeof(s));
	n = state_bypass_list(st, seen_one, &s, err, sizeof(err));
	T_CHECK(n == 3 && s.n == 1 && strcmp(s.domains[0], "ok.example") == 0,
	    "list passes malformed rows over: %d read, %zu given", n, s.n);
	T_CHECK(state_bypass_get(st, "ctl.example", &got, err, sizeof(err)) ==
	    -1 && strstr(err, "malformed") != NULL, "get of a malformed "
	    "row: %s", err);
	state_close(st);
}

int
main(void)
{
	log_init("test_state_bypass", 0, 0);
	if (t_state_begin("test_state_bypass") == -1)
		return 1;
	test_put_get_list();
	test_migrate_and_hostile();
	t_state_end();
	return t_done("test_state_bypass");
}
