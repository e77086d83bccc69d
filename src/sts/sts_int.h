/*
 * sts_int.h - the insides of the MTA-STS policy cache, shared by
 * sts_cache.c (entries, the store, answers, the interface) and
 * sts_discover.c (TXT lookups, fetches, backoff, the refresh sweep).
 * Nothing outside src/sts includes it.
 *
 * Ownership: the cache (struct sts) owns its entries; an entry owns one
 * reference to its policy and its waiting lookups.
 */
#ifndef DANEMX_STS_INT_H
#define DANEMX_STS_INT_H

#include <sys/queue.h>

#include <stdint.h>

#include "state/state.h"
#include "sts/sts.h"
#include "util/util.h"

struct event;
struct event_base;

#define TOUCH_EVERY	3600	/* write last_used at most hourly */
#define SWEEP_EVERY	60	/* seconds between refresh sweeps */
#define REFRESH_AHEAD_MAX 86400

enum txt_state { TXT_UNKNOWN, TXT_NONE, TXT_INVALID, TXT_FAILED, TXT_OK };

struct waiter {
	TAILQ_ENTRY(waiter)	 entry;		/* e->waiters or s->ready */
	TAILQ_ENTRY(waiter)	 all;		/* s->all */
	struct sts_entry	*e;		/* NULL: not a domain */
	uint64_t		 id;
	uint64_t		 gen;		/* when it was made ready */
	int			 on_ready;
	int			 fetched_now;
	sts_cb			 cb;
	void			*arg;
	char			 domain[STS_DOMAIN_MAX];
};
TAILQ_HEAD(waiters, waiter);

struct sts_entry {
	TAILQ_ENTRY(sts_entry)	 lru;
	struct sts		*s;		/* the cache it belongs to */
	char			 domain[STS_DOMAIN_MAX];
	struct sts_policy	*policy;	/* cached, maybe expired */
	int64_t			 fetched, expires, checked, last_used;
	int64_t			 next_try, stored_used;
	unsigned		 failures;
	char			 last_error[STATE_ERR_MAX];

	enum txt_state		 txt;
	int64_t			 txt_until;	/* recheck the TXT after */
	char			 txt_id[STS_ID_MAX + 1];
	char			 txt_error[512];

	enum sts_failure	 failure;	/* of the last discovery */
	char			 error[700];
	int			 fetch_attempted, fetched_now;
	long			 http_status;
	char			 ctype[64];

	uint64_t		 txt_q, fetch_q;
	char			 fetch_id[STS_ID_MAX + 1];
	int			 force;		/* STS_F_REFRESH asked */
	int			 busy;		/* answering: not evictable */
	struct waiters		 waiters;
};

struct sts {
	struct event_base	*base;
	struct state		*state;
	const struct sts_io	*io;
	void			*io_arg;
	struct sts_io_ctx	*own_io;
	int64_t			(*now)(void *);
	void			*now_arg;
	unsigned		 backoff_min, backoff_max, unused_max;
	size_t			 max_entries;
	size_t			 max_policy_bytes, policy_bytes;
	int			 no_refresh, quiet;
	struct htab		 byname;
	TAILQ_HEAD(, sts_entry)	 lru;		/* least recently used first */
	size_t			 nentries;
	struct waiters		 ready;		/* answers due from the loop */
	struct waiters		 all;		/* every waiting lookup */
	uint64_t		 gen;
	struct event		*ready_ev;
	struct event		*sweep_ev;
	uint64_t		 next_id;
	int64_t			 last_expire;
};

/* sts_cache.c */
int64_t	 sts_now(struct sts *);
struct sts_policy *sts_in_force(const struct sts_entry *, int64_t now);
void	 sts_store_put(struct sts *, struct sts_entry *);
int	 sts_load(struct sts *, struct sts_entry *, const struct state_sts *);
int	 sts_idle(const struct sts_entry *);
void	 sts_entry_drop(struct sts *, struct sts_entry *);
void	 sts_set_policy(struct sts *, struct sts_entry *, struct sts_policy *);
void	 sts_trim(struct sts *, const struct sts_entry *keep);
void	 sts_answer_all(struct sts *, struct sts_entry *);

/* sts_discover.c */
int	 sts_due(const struct sts_entry *, int64_t now, unsigned flags);
void	 sts_discover(struct sts *, struct sts_entry *, unsigned flags);

#endif /* DANEMX_STS_INT_H */
