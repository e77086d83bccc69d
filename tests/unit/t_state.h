/*
 * t_state.h - what the unit tests of the state store share: a scratch
 * directory per test program (t_state_begin, t_state_end), a fresh
 * state_dir per case (newdir) and one SQL statement run on a store as
 * another program would (sql1). Header-only; t_state_end() removes the
 * scratch directory.
 */
#ifndef DANEMX_T_STATE_H
#define DANEMX_T_STATE_H

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

static char	 base[256];
static int	 ncase;

/* t_state_begin - the scratch directory under $TMPDIR; 0, or -1 said */
static inline int
t_state_begin(const char *name)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(base, sizeof(base), "%s/danemx-%s.XXXXXX", tmp ? tmp : "/tmp",
	    name);
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* t_state_end - remove the scratch directory */
static inline void
t_state_end(void)
{
	char	 cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
}

/* newdir - a fresh, empty state_dir for one case (mode 0700) */
static inline const char *
newdir(void)
{
	static char	 d[512];

	snprintf(d, sizeof(d), "%s/s%d", base, ncase++);
	mkdir(d, 0700);
	return d;
}

/* sql1 - one statement on DIR/state.db, as another program; the first
 * column of its first row in *out (if not NULL); 0 or -1 */
static inline int
sql1(const char *dir, const char *q, int *out)
{
	char		 path[600];
	sqlite3		*db;
	sqlite3_stmt	*s;
	int		 rc;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "sql1: %s: %s\n", q, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	rc = sqlite3_step(s);
	if (out != NULL && rc == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

#endif /* DANEMX_T_STATE_H */
