/*
 * state_int.h - what the files of the state store share: the store
 * itself (struct state, owned by state.c), the queued write (struct
 * state_op) and the queue's functions. state_tlsrpt.c adds the TLS-RPT
 * verbs on top. Nothing outside src/state includes it.
 */
#ifndef DANEMX_STATE_INT_H
#define DANEMX_STATE_INT_H

#include <sys/queue.h>

#include <pthread.h>

#include "state/state_backend.h"
#include "util/util.h"

enum op_kind {
	OP_STS_PUT, OP_STS_TOUCH, OP_STS_DELETE, OP_STS_EXPIRE,
	OP_TLSRPT_ADD,		/* tr: a merged row */
	OP_TLSRPT_EXPIRE,	/* day */
	OP_TLSRPT_POST_UPDATE,	/* post (no body) */
	OP_TLSRPT_POST_DELETE,	/* post's report_id and uri */
	OP_TLSRPT_CLAIM,	/* claim: the caller's, who waits */
	OP_BYPASS_PUT,		/* byp: owned copy */
	OP_BYPASS_DELETE,	/* domain */
	OP_DEST			/* dest: what to write (state_dest.c) */
};

/* A write of destination memory: one or more of its parts. */
struct state_dest_op {
	char		 domain[STATE_DOMAIN_MAX];
	int64_t		 when;
	int		 seen;		/* policy and fingerprint */
	char		 policy[STATE_DEST_POLICY_MAX];
	char		 fingerprint[STATE_DEST_FP_MAX];
	int		 downgrade;	/* down_* and held */
	char		 down_from[STATE_DEST_POLICY_MAX];
	char		 down_to[STATE_DEST_POLICY_MAX];
	char		 down_what[STATE_ERR_MAX];
	int		 held;
	int		 count;		/* add n[] under day */
	char		 day[11];
	uint64_t	 n[STATE_DEST_NCOUNT];
	char		 last_outcome[10];	/* of the batch's last message */
	int		 accept;	/* held = 0, accepted = when */
	int		 expire;	/* every row not seen since when
					   (and not held) goes */
};

struct state_claim;

struct state_op {
	STAILQ_ENTRY(state_op)	 entry;
	enum op_kind		 kind;
	int64_t			 when;
	struct state_sts	*sts;		/* OP_STS_PUT: owned copy */
	struct state_tlsrpt	*tr;		/* OP_TLSRPT_ADD: owned copy */
	struct state_tlsrpt_post *post;		/* OP_TLSRPT_POST_*: owned */
	struct state_claim	*claim;		/* OP_TLSRPT_CLAIM: borrowed */
	struct state_bypass	*byp;		/* OP_BYPASS_PUT: owned copy */
	struct state_dest_op	*dest;		/* OP_DEST: owned */
	char			 domain[STATE_DOMAIN_MAX];
	char			 day[11];
};

STAILQ_HEAD(op_queue, state_op);

struct state {
	const struct state_backend *be;
	void			*rconn;		/* the caller's thread */
	void			*wconn;		/* the worker's */
	char			 path[1024];
	int			 readonly;

	pthread_t		 worker;
	int			 started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 work;		/* queue not empty, or stop
						   (CLOCK_MONOTONIC) */
	pthread_cond_t		 idle;		/* a batch finished */
	struct op_queue		 queue;
	size_t			 queued;	/* ops in queue */
	uint64_t		 seq_queued;	/* ops ever queued */
	uint64_t		 seq_done;	/* ops ever finished */
	unsigned long		 batches;	/* transactions tried */
	unsigned long		 errors;	/* ops failed (not stored) */
	unsigned long		 errors_seen;	/* at the last state_sync */
	int			 stop;
	int			 full_logged;

	/* TLS-RPT rows merged in memory (key -> OP_TLSRPT_ADD op), until
	 * the worker takes them (state_tlsrpt.c) */
	struct htab		 tr_pending;
	size_t			 tr_npending;
	int64_t			 tr_since;	/* monotonic ms of the oldest */
};

/* state.c */
void	 state_op_free(struct state_op *);
struct state_op *state_op_new(enum op_kind, const char *domain, int64_t);
int	 state_enqueue(struct state *, struct state_op *, int force);
void	 state_enqueue_locked(struct state *, struct state_op *);
int64_t	 state_mono_ms(void);
int	 state_text_ok(const char *, size_t, int nl, int space);

/* state_tlsrpt.c */
void	 state_tlsrpt_pending_move(struct state *);
void	 state_tlsrpt_pending_free(struct state *);
int	 state_tlsrpt_apply(struct state *, struct state_op *, char *err,
	    size_t errlen);
void	 state_tlsrpt_op_free(struct state_op *);
void	 state_tlsrpt_claim_done(struct state_op *, int rv, const char *err);

/* state_bypass.c */
int	 state_bypass_apply(struct state *, struct state_op *, char *err,
	    size_t errlen);

#endif /* DANEMX_STATE_INT_H */
