/*
 * state.h - the store for state that survives restarts: the MTA-STS
 * policy cache, TLS-RPT results and reports (RFC 8460), what the
 * relay's rechecks found for the DANE bypass list (state_bypass_*);
 * destination memory next.
 *
 * One small interface of typed operations (state_sts_get, _put, _touch,
 * _delete, _expire, _list; state_tlsrpt_*); no SQL outside the backend. The backend is
 * chosen at state_open() through a table of operations (state_backend.h),
 * so another one (PostgreSQL, for relays that share their state) needs no
 * change here or in any caller. SQLite is the only one today: one file,
 * DIR/state.db, in WAL mode, shared safely by every process that opens it
 * (the relay and `danemx sts`); see docs/state.md.
 *
 * Reads run at once on the caller's thread, on a connection of their own:
 * in WAL mode a reader never waits for a writer, and every read is one
 * indexed row (or a bounded list) with a short busy timeout.
 *
 * Writes never run on the caller's thread. state_sts_put() and the other
 * writers copy their arguments into a bounded queue and return; one worker
 * thread per store drains the queue and applies everything it finds in
 * one transaction (a batch), so that a burst of writes costs one commit.
 * A failed batch is logged and dropped: what is stored is a cache, and a
 * caller keeps its own copy in memory. state_sync() waits until every
 * write queued before it is committed (or failed); state_close() syncs.
 *
 * TLS-RPT results (state_tlsrpt_add) are merged in memory first: an
 * identical row (every column but count) adds its count to the pending
 * one, and the worker writes what is pending every
 * STATE_TLSRPT_FLUSH_MS (or at once past STATE_TLSRPT_PENDING_MAX rows,
 * or at state_sync()) in one transaction, so recording a session costs
 * the caller a hash lookup. state_tlsrpt_claim() is the one write that
 * waits: it returns once its transaction is durable.
 *
 * Ownership: a struct state_sts filled by state_sts_get() or passed to a
 * state_sts_list() callback owns its policy text; state_sts_clear() frees
 * it (list callbacks' records are freed by the store after the callback).
 * The same holds for the TLS-RPT records' pointers (state_tlsrpt_clear(),
 * state_tlsrpt_day_clear(), state_tlsrpt_post_clear()); records passed
 * to a write verb are copied, and stay the caller's.
 *
 * Destination memory (state_dest.c, docs/domains.md): one row per
 * destination domain the relay delivers to, with its TLS policy, its
 * TLSA fingerprint or MTA-STS id, when they changed, the last downgrade,
 * whether its mail is held for the operator, and message counts. The
 * relay merges counts in memory and hands them over in batches
 * (state_dest_count); a struct state_dest owns nothing.
 */
#ifndef DANEMX_STATE_H
#define DANEMX_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATE_DOMAIN_MAX	254	/* a domain name and its NUL */
#define STATE_STS_ID_MAX	33	/* an MTA-STS id (1-32) and its NUL */
#define STATE_ERR_MAX		256	/* last_error and its NUL */
#define STATE_QUEUE_MAX		20000	/* writes waiting for the worker */
#define STATE_BATCH_MAX		1000	/* writes in one transaction */
#define STATE_DB_FILE		"state.db"
#define STATE_TLSRPT_FLUSH_MS	2000	/* pending TLS-RPT rows wait this */
#define STATE_TLSRPT_PENDING_MAX 10000	/* distinct rows merged in memory */
#define STATE_TLSRPT_ROWS_MAX	1000	/* distinct rows kept per domain and
					   day; more fold into one (docs) */
#define STATE_TLSRPT_TEXT_MAX	16384	/* a policy string, an mx-host list */
#define STATE_TLSRPT_ID_MAX	600	/* a report id and its NUL: DAY_DOMAIN@HOST */
#define STATE_TLSRPT_URI_MAX	2048	/* an https: URI */
#define STATE_TLSRPT_BODY_MAX	(16 * 1024 * 1024)	/* a POST body */
#define STATE_DEFAULT_DIR	"/var/lib/danemx"

struct state;

/* The memory of one destination domain (state_dest.c). */
#define STATE_DEST_POLICY_MAX	16	/* "sts-enforce" and its NUL */
#define STATE_DEST_FP_MAX	65	/* SHA-256 in hex, or an STS id */
#define STATE_DEST_LIST_MAX	100000	/* rows a list reads at most */
#define STATE_DEST_MAX_AGE	(400 * 86400)	/* a domain not seen for this
					   long is forgotten (not if held) */
enum state_dest_n {
	STATE_DEST_DANE,	/* messages sent dane-verified */
	STATE_DEST_STS,		/* ... sts-verified */
	STATE_DEST_ENCRYPTED,	/* ... over TLS not authenticated by policy */
	STATE_DEST_OPPORTUNISTIC, /* ... opportunistic TLS or cleartext */
	STATE_DEST_DEFERRED,	/* deliveries deferred */
	STATE_DEST_NCOUNT
};
struct state_dest {
	char		 domain[STATE_DOMAIN_MAX];	/* lowercase */
	char		 policy[STATE_DEST_POLICY_MAX];	/* dane, sts-enforce,
					   sts-testing, none; "" unknown */
	char		 fingerprint[STATE_DEST_FP_MAX]; /* dane: SHA-256 of
					   the TLSA RRsets; sts: the id */
	int64_t		 first_seen, changed, last_seen;
	int64_t		 downgraded;	/* the last downgrade; 0 never */
	char		 down_from[STATE_DEST_POLICY_MAX];
	char		 down_to[STATE_DEST_POLICY_MAX];
	char		 down_what[STATE_ERR_MAX];	/* what changed */
	int		 held;		/* downgrade_action = defer: mail
					   waits for `danemx domains accept` */
	int64_t		 accepted;	/* the operator's last accept */
	char		 day[11];	/* the day of today[] (UTC) */
	uint64_t	 today[STATE_DEST_NCOUNT], total[STATE_DEST_NCOUNT];
	char		 last_outcome[10];	/* "sent", "deferred" or "" */
};

/* What the worker did, for tests, logs and (later) metrics. */
struct state_stats {
	unsigned long	 writes;	/* applied (committed or failed) */
	unsigned long	 batches;	/* transactions */
	unsigned long	 errors;	/* writes failed or dropped */
	size_t		 queued;	/* waiting now */
};

struct state_conf {
	const char	*backend;	/* "sqlite" (NULL: the default) */
	const char	*dir;		/* state_dir: holds DIR/state.db */
	int		 readonly;	/* reads only: no worker, no writes */
	unsigned	 busy_ms;	/* how long a write may wait for a lock
					   held by another process (default 5000;
					   reads wait at most 200 ms) */
};

/*
 * One cached MTA-STS policy (or only what is known about a domain without
 * one: the backoff after a failed fetch). Times are Unix seconds; 0 is
 * "never".
 */
struct state_sts {
	char		 domain[STATE_DOMAIN_MAX];	/* lowercase, no final dot */
	char		 id[STATE_STS_ID_MAX];	/* the policy's id; "" if none */
	char		*policy;		/* the policy text as fetched, or
						   NULL; owned */
	size_t		 policy_len;
	int64_t		 fetched;	/* the policy was fetched */
	int64_t		 expires;	/* fetched (or confirmed) + max_age */
	int64_t		 checked;	/* the TXT id last confirmed it */
	int64_t		 last_used;	/* a lookup last asked for it */
	int64_t		 next_try;	/* no fetch before (backoff) */
	unsigned	 failures;	/* fetches failed in a row */
	char		 last_error[STATE_ERR_MAX];	/* of the last failure */
};

/*
 * One TLS-RPT result row (RFC 8460 4.4): sessions of one (domain, UTC
 * day) under one policy with one outcome. result_type "" is a success;
 * its detail columns are all "". Text is printable ASCII; policy_string
 * and mx_host are lines joined by '\n' (NULL or "": none).
 */
struct state_tlsrpt {
	char		 domain[STATE_DOMAIN_MAX];	/* the recipient domain */
	char		 day[11];			/* "YYYY-MM-DD", UTC */
	char		 policy_type[16];	/* "tlsa", "sts", "no-policy-found" */
	char		 policy_domain[STATE_DOMAIN_MAX];
	char		*policy_string;		/* owned */
	char		*mx_host;		/* sts patterns; owned */
	char		 result_type[40];	/* RFC 8460 4.3; "" a success */
	char		 sending_ip[64], receiving_ip[64];
	char		 mx_hostname[STATE_DOMAIN_MAX], mx_helo[STATE_DOMAIN_MAX];
	char		 reason[STATE_ERR_MAX];	/* failure-reason-code */
	uint64_t	 count;
};

/* One (domain, day) that has results, with its report if claimed. */
struct state_tlsrpt_day {
	char		 domain[STATE_DOMAIN_MAX];
	char		 day[11];
	uint64_t	 ok, failed;		/* sessions, over all policies */
	char		 state[16];		/* "" not claimed, "sent", "skipped" */
	char		 report_id[STATE_TLSRPT_ID_MAX];
	char		*rua;			/* as claimed; owned, may be NULL */
	int64_t		 claimed;		/* when (Unix time), 0 if not */
};

/* An HTTPS delivery of a report still to be made (or retried). */
struct state_tlsrpt_post {
	char		 report_id[STATE_TLSRPT_ID_MAX];
	char		*uri;			/* owned */
	unsigned char	*body;			/* the gzip body; owned */
	size_t		 len;
	unsigned	 tries;
	int64_t		 next_try, deadline;	/* Unix time */
	char		 last_error[STATE_ERR_MAX];
};

/*
 * What the relay knows of one exact domain of the DANE bypass list
 * (serve_bypass.c): its last recheck, and whether DANE validated again,
 * so that the entry was retired. entry names the list's entry the row
 * is about (policy_bypass_key()): a retirement applies to that entry
 * only, and a changed or re-added line is a new entry.
 */
#define STATE_BYPASS_KEY_MAX	400
struct state_bypass {
	char		 domain[STATE_DOMAIN_MAX];	/* lowercase, no dot */
	char		 entry[STATE_BYPASS_KEY_MAX];
	int64_t		 checked;	/* the last recheck; 0 never */
	int		 ok;		/* DANE validated then */
	char		 result[STATE_ERR_MAX];	/* what it found */
	int64_t		 retired;	/* when retired; 0 not */
};

/* state.c */
struct state *state_open(const struct state_conf *, char *err, size_t errlen);
void	 state_close(struct state *);
int	 state_sync(struct state *);
const char *state_path(const struct state *);
const char *state_backend_name(const struct state *);
int	 state_is_readonly(const struct state *);
void	 state_stats(struct state *, struct state_stats *);
int	 state_dir_setup(const char *dir, uid_t, gid_t, char *err,
	    size_t errlen);

int	 state_sts_get(struct state *, const char *domain,
	    struct state_sts *out, char *err, size_t errlen);
int	 state_sts_list(struct state *, int64_t used_since, size_t max,
	    int (*cb)(void *arg, const struct state_sts *), void *arg,
	    char *err, size_t errlen);
int	 state_sts_put(struct state *, const struct state_sts *);
int	 state_sts_touch(struct state *, const char *domain, int64_t when);
int	 state_sts_delete(struct state *, const char *domain);
int	 state_sts_expire(struct state *, int64_t unused_before);
void	 state_sts_clear(struct state_sts *);

/* state_tlsrpt.c */
int	 state_tlsrpt_add(struct state *, const struct state_tlsrpt *);
int	 state_tlsrpt_rows(struct state *, const char *domain, const char *day,
	    int (*cb)(void *, const struct state_tlsrpt *), void *arg,
	    char *err, size_t errlen);
int	 state_tlsrpt_days(struct state *, const char *domain,
	    const char *before_day,
	    int (*cb)(void *, const struct state_tlsrpt_day *), void *arg,
	    char *err, size_t errlen);
int	 state_tlsrpt_claim(struct state *, const char *domain,
	    const char *day, const char *state, const char *report_id,
	    const char *rua, int64_t now, const struct state_tlsrpt_post *,
	    size_t nposts, char *err, size_t errlen);
int	 state_tlsrpt_post_list(struct state *, int64_t due_by, size_t max,
	    int (*cb)(void *, const struct state_tlsrpt_post *), void *arg,
	    char *err, size_t errlen);
int	 state_tlsrpt_post_update(struct state *,
	    const struct state_tlsrpt_post *);
int	 state_tlsrpt_post_delete(struct state *, const char *report_id,
	    const char *uri);
int	 state_tlsrpt_expire(struct state *, const char *before_day);
int	 state_tlsrpt_valid(const struct state_tlsrpt *);
void	 state_tlsrpt_clear(struct state_tlsrpt *);
void	 state_tlsrpt_day_clear(struct state_tlsrpt_day *);
void	 state_tlsrpt_post_clear(struct state_tlsrpt_post *);

/* state_bypass.c */
int	 state_bypass_get(struct state *, const char *domain,
	    struct state_bypass *out, char *err, size_t errlen);
int	 state_bypass_list(struct state *,
	    int (*cb)(void *, const struct state_bypass *), void *arg,
	    char *err, size_t errlen);
int	 state_bypass_put(struct state *, const struct state_bypass *);
int	 state_bypass_delete(struct state *, const char *domain);
int	 state_bypass_valid(const struct state_bypass *);
/* state_dest.c */
int	 state_dest_valid(const struct state_dest *);
int	 state_dest_get(struct state *, const char *domain,
	    struct state_dest *out, char *err, size_t errlen);
int	 state_dest_list(struct state *,
	    int (*cb)(void *, const struct state_dest *), void *arg,
	    char *err, size_t errlen);
int	 state_dest_seen(struct state *, const char *domain,
	    const char *policy, const char *fingerprint, int64_t when);
int	 state_dest_downgrade(struct state *, const char *domain,
	    const char *from, const char *to, const char *what, int held,
	    int64_t when);
int	 state_dest_count(struct state *, const char *domain, const char *day,
	    const uint64_t n[STATE_DEST_NCOUNT], const char *last,
	    int64_t when);
int	 state_dest_accept(struct state *, const char *domain, int64_t when);
int	 state_dest_expire(struct state *, int64_t unseen_before);
const char *state_dest_count_name(enum state_dest_n);

#endif /* DANEMX_STATE_H */
