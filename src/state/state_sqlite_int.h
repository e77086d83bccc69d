/*
 * state_sqlite_int.h - what the SQLite backend's two files share: the
 * connection (struct sq) with its cached statements, and the helpers of
 * state_sqlite.c that state_sqlite_tlsrpt.c uses. Nothing outside
 * src/state includes it.
 */
#ifndef DANEMX_STATE_SQLITE_INT_H
#define DANEMX_STATE_SQLITE_INT_H

#include <sqlite3.h>

#include "state/state_int.h"

/* state_sqlite.c's statements */
enum stmt {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_STS_GET, Q_STS_LIST, Q_STS_PUT, Q_STS_TOUCH, Q_STS_DELETE,
	Q_STS_EXPIRE,
	Q_MAX
};

/* state_sqlite_tlsrpt.c's statements */
enum tstmt {
	TQ_ADD_UPDATE, TQ_ADD_COUNT, TQ_ADD_INSERT, TQ_ROWS, TQ_DAYS,
	TQ_CLAIM_REPORT, TQ_CLAIM_POST, TQ_POST_LIST, TQ_POST_UPDATE,
	TQ_POST_DELETE, TQ_EXPIRE_RESULT, TQ_EXPIRE_POST, TQ_EXPIRE_REPORT,
	TQ_MAX
};

/* state_sqlite_bypass.c's statements */
enum bstmt {
	BQ_GET, BQ_LIST, BQ_PUT, BQ_DELETE,
	BQ_MAX
};

/* state_sqlite_dest.c's statements */
enum dstmt {
	DQ_GET, DQ_LIST, DQ_SEEN, DQ_DOWNGRADE, DQ_COUNT, DQ_ACCEPT, DQ_EXPIRE,
	DQ_MAX
};

struct sq {
	sqlite3		*db;
	sqlite3_stmt	*stmt[Q_MAX];
	sqlite3_stmt	*tstmt[TQ_MAX];
	sqlite3_stmt	*bstmt[BQ_MAX];
	sqlite3_stmt	*dstmt[DQ_MAX];
};

/* state_sqlite.c */
int	 sq_dberr(struct sq *, const char *what, char *err, size_t errlen);
sqlite3_stmt *sq_prep(struct sq *, sqlite3_stmt **, const char *text,
	    char *err, size_t errlen);
int	 sq_step_done(struct sq *, sqlite3_stmt *, const char *what,
	    char *err, size_t errlen);
int	 sq_exec(struct sq *, const char *text, char *err, size_t errlen);

/* state_sqlite_tlsrpt.c */
int	 sq_tlsrpt_add(void *, const struct state_tlsrpt *, char *, size_t);
int	 sq_tlsrpt_rows(void *, const char *domain, const char *day,
	    int (*)(void *, const struct state_tlsrpt *), void *, char *,
	    size_t);
int	 sq_tlsrpt_days(void *, const char *domain, const char *before_day,
	    int (*)(void *, const struct state_tlsrpt_day *), void *, char *,
	    size_t);
int	 sq_tlsrpt_claim(void *, const char *domain, const char *day,
	    const char *state, const char *report_id, const char *rua,
	    int64_t now, const struct state_tlsrpt_post *, size_t, char *,
	    size_t);
int	 sq_tlsrpt_post_list(void *, int64_t due_by, size_t max,
	    int (*)(void *, const struct state_tlsrpt_post *), void *, char *,
	    size_t);
int	 sq_tlsrpt_post_update(void *, const struct state_tlsrpt_post *,
	    char *, size_t);
int	 sq_tlsrpt_post_delete(void *, const char *report_id, const char *uri,
	    char *, size_t);
int	 sq_tlsrpt_expire(void *, const char *before_day, char *, size_t);

/* state_sqlite_bypass.c */
int	 sq_bypass_get(void *, const char *domain, struct state_bypass *,
	    char *, size_t);
int	 sq_bypass_list(void *, int (*)(void *, const struct state_bypass *),
	    void *, char *, size_t);
int	 sq_bypass_put(void *, const struct state_bypass *, char *, size_t);
int	 sq_bypass_delete(void *, const char *domain, char *, size_t);
/* state_sqlite_dest.c */
int	 sq_dest_get(void *, const char *domain, struct state_dest *, char *,
	    size_t);
int	 sq_dest_list(void *, int (*)(void *, const struct state_dest *),
	    void *, char *, size_t);
int	 sq_dest_write(void *, const struct state_dest_op *, char *, size_t);

#endif /* DANEMX_STATE_SQLITE_INT_H */
