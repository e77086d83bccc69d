/*
 * state_backend.h - what a storage backend of the state store provides.
 *
 * state.c owns the queue and the worker thread and knows no SQL; a
 * backend provides connections and the typed operations on them. Each
 * connection is used by one thread at a time: state.c opens one for the
 * reads of the caller's thread and, unless read-only, one for its worker.
 * open() of a writer connection creates or migrates the schema.
 *
 * Every function returns 0 (get: 1 found, 0 not found; list: the number
 * of records) or -1 with a reason in err. Nothing here exits or logs.
 *
 * To add a backend: implement this table in state_NAME.c and list it in
 * backends[] in state.c. To add an operation: a member here, a function
 * in every backend, a verb in state.h and (for writes) an op kind in
 * state.c.
 */
#ifndef DANEMX_STATE_BACKEND_H
#define DANEMX_STATE_BACKEND_H

#include "state/state.h"

struct state_dest_op;

struct state_backend {
	const char	*name;
	void		*(*open)(const struct state_conf *, int writer,
			    char *path, size_t pathlen, char *err,
			    size_t errlen);
	void		 (*close)(void *conn);
	int		 (*begin)(void *conn, char *err, size_t errlen);
	int		 (*commit)(void *conn, char *err, size_t errlen);
	void		 (*rollback)(void *conn);

	int		 (*sts_get)(void *conn, const char *domain,
			    struct state_sts *out, char *err, size_t errlen);
	int		 (*sts_list)(void *conn, int64_t used_since, size_t max,
			    int (*cb)(void *, const struct state_sts *),
			    void *arg, char *err, size_t errlen);
	int		 (*sts_put)(void *conn, const struct state_sts *,
			    char *err, size_t errlen);
	int		 (*sts_touch)(void *conn, const char *domain,
			    int64_t when, char *err, size_t errlen);
	int		 (*sts_delete)(void *conn, const char *domain,
			    char *err, size_t errlen);
	int		 (*sts_expire)(void *conn, int64_t unused_before,
			    char *err, size_t errlen);

	/* TLS-RPT (RFC 8460). tlsrpt_add merges an identical row (count
	 * += n); tlsrpt_claim runs its own durable transaction (no begin
	 * or commit around it) and returns 1 claimed, 0 already claimed. */
	int		 (*tlsrpt_add)(void *conn, const struct state_tlsrpt *,
			    char *err, size_t errlen);
	int		 (*tlsrpt_rows)(void *conn, const char *domain,
			    const char *day,
			    int (*cb)(void *, const struct state_tlsrpt *),
			    void *arg, char *err, size_t errlen);
	int		 (*tlsrpt_days)(void *conn, const char *domain,
			    const char *before_day,
			    int (*cb)(void *, const struct state_tlsrpt_day *),
			    void *arg, char *err, size_t errlen);
	int		 (*tlsrpt_claim)(void *conn, const char *domain,
			    const char *day, const char *state,
			    const char *report_id, const char *rua, int64_t now,
			    const struct state_tlsrpt_post *, size_t nposts,
			    char *err, size_t errlen);
	int		 (*tlsrpt_post_list)(void *conn, int64_t due_by,
			    size_t max,
			    int (*cb)(void *, const struct state_tlsrpt_post *),
			    void *arg, char *err, size_t errlen);
	int		 (*tlsrpt_post_update)(void *conn,
			    const struct state_tlsrpt_post *, char *err,
			    size_t errlen);
	int		 (*tlsrpt_post_delete)(void *conn, const char *report_id,
			    const char *uri, char *err, size_t errlen);
	int		 (*tlsrpt_expire)(void *conn, const char *before_day,
			    char *err, size_t errlen);

	/* The DANE bypass list's rechecks (serve_bypass.c). */
	int		 (*bypass_get)(void *conn, const char *domain,
			    struct state_bypass *out, char *err, size_t errlen);
	int		 (*bypass_list)(void *conn,
			    int (*cb)(void *, const struct state_bypass *),
			    void *arg, char *err, size_t errlen);
	int		 (*bypass_put)(void *conn, const struct state_bypass *,
			    char *err, size_t errlen);
	int		 (*bypass_delete)(void *conn, const char *domain,
			    char *err, size_t errlen);

	/* Destination memory (state_dest.c). dest_write applies one
	 * merged write (a struct state_dest_op, state_int.h). */
	int		 (*dest_get)(void *conn, const char *domain,
			    struct state_dest *out, char *err, size_t errlen);
	int		 (*dest_list)(void *conn,
			    int (*cb)(void *, const struct state_dest *),
			    void *arg, char *err, size_t errlen);
	int		 (*dest_write)(void *conn, const struct state_dest_op *,
			    char *err, size_t errlen);
};

/* state.c */
int	 state_sts_valid(const struct state_sts *);

/* state_tlsrpt.c */
int	 state_tlsrpt_day_valid(const struct state_tlsrpt_day *);
int	 state_tlsrpt_post_valid(const struct state_tlsrpt_post *);

/* state_sqlite.c */
extern const struct state_backend state_backend_sqlite;

#endif /* DANEMX_STATE_BACKEND_H */
