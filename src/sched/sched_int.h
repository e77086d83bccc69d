/*
 * sched_int.h - what the scheduler's files share: the index's records
 * (messages, items, destinations), jobs, connections and the scheduler
 * itself, and the functions one file calls in another. Nothing outside
 * src/sched includes it.
 *
 * A message's pending recipients at one domain are an item. An item is
 * ready (in its destination's FIFO), waiting (in the heap ordered by its
 * next try) or active (in a delivery). A connection (struct conn) is one
 * delivery with its route and its SMTP session; a job is the message it
 * is sending now.
 *
 * Ownership: the scheduler owns every record here. A message (struct
 * qmsg) owns nothing but its list of items; an item owns its domain
 * string; a destination borrows its items and parked connections; a
 * connection owns its delivery (struct deliver) and its job; a job owns
 * copies of the sender and recipients and, while it is open, the
 * descriptor of its message file.
 */
#ifndef DANEMX_SCHED_INT_H
#define DANEMX_SCHED_INT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "sched/sched.h"

#define SCAN_SECONDS	5	/* look for messages queued by others */

struct item;
struct conn;

/* A queued message the index knows. */
struct qmsg {
	char			 id[QUEUE_ID_LEN + 1];
	TAILQ_HEAD(, item)	 items;
	size_t			 active;	/* items in flight */
	int			 held;		/* queue hold: never due */
	int			 stale;		/* an item could not be made
						   (out of memory): the next
						   scan makes it again */
	int			 tls_required_no; /* RFC 8689: a destination's
						   hold does not stop it */
	time_t			 created;	/* queued (the envelope's) */
};

enum item_state { IT_READY, IT_WAIT, IT_ACTIVE };

/* A message's pending recipients at one domain. */
struct item {
	TAILQ_ENTRY(item)	 mentry;	/* qmsg->items */
	TAILQ_ENTRY(item)	 rentry;	/* dest->ready when ready */
	struct qmsg		*m;
	struct dest		*dst;
	char			*domain;	/* the recipients' domain */
	time_t			 due;
	size_t			 hidx;		/* in the heap when waiting */
	enum item_state		 st;
	int			 busy;		/* a job is sending it */
	int			 force;		/* flushed: due whatever the
						   envelope says */
};

/* A destination: the recipient domain, its transport next hop, or the
 * relayhost. */
struct dest {
	char			 name[DMX_NAME_MAX];
	TAILQ_HEAD(, item)	 ready;
	size_t			 nready, nitems, nconn;
	TAILQ_HEAD(, conn)	 idle;
	time_t			 hold_until;
	char			 hold_why[300];
	int			 in_runq;
	int			 pinned;	/* in use up the stack: keep */
	TAILQ_ENTRY(dest)	 rentry;
};

/* One message in flight over a connection. */
struct job {
	struct conn		*c;
	struct item		*it;
	char			 id[QUEUE_ID_LEN + 1];
	char			*sender;	/* owned copies */
	char			**rcpts;
	size_t			*idx;		/* into the envelope */
	size_t			 nrcpt;
	struct queue		*q;
	int			 fd;		/* msg/ID being read, or -1 */
	size_t			 msglen;	/* the body's octets */
	int			 tls_required_no; /* RFC 8689 TLS-Required: No */
};

/* One delivery to a destination, and its kept session. */
struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* sched->conns */
	TAILQ_ENTRY(conn)	 ientry;	/* dest->idle when parked */
	struct sched		*s;
	struct dest		*dst;
	struct deliver		*d;
	struct job		*job;		/* NULL when parked */
	struct event		*idle_ev;
	unsigned		 nmsg;
	time_t			 opened;
	int			 parked;
};

struct sched {
	struct event_base	*base;
	struct sched_conf	 c;
	struct event		*tick, *kick;
	time_t			 last_scan;
	struct htab		 msgs, dests;
	struct htab		 unreadable;	/* ids said so once */
	struct htab		 bouncing;	/* id -> its bounce's commit */
	size_t			 nbounce;
	struct queue_workers	*workers;	/* bounce commits */
	struct item		**heap;
	size_t			 nheap, heapcap;
	size_t			 nitems;	/* heapcap is never less */
	TAILQ_HEAD(, dest)	 runq;
	TAILQ_HEAD(, conn)	 conns;
	size_t			 nconn, nbusy, peak;
	int			 draining;
	char			 tlsrpt_day[11];	/* expired up to */
	struct sched_stats	 stats;		/* sched_stats.c */
};

/* sched_index.c */
const char *sched_rcpt_domain(const char *addr);
time_t	 sched_backoff(const struct sched *, unsigned attempts);
void	 sched_heap_push(struct sched *, struct item *);
void	 sched_dest_maybe_free(struct sched *, struct dest *);
void	 sched_runq_add(struct sched *, struct dest *);
void	 sched_item_unlink(struct sched *, struct item *);
void	 sched_item_due(struct sched *, struct item *, time_t due);
void	 sched_item_free(struct sched *, struct item *);
void	 sched_msg_maybe_free(struct sched *, struct qmsg *);
void	 sched_msg_drop(struct sched *, struct qmsg *, int held);
int	 sched_msg_refresh(struct sched *, struct qmsg *);
int	 sched_pending_due(const struct queue_env *, const char *domain,
	    time_t *due);
void	 sched_index_load(struct sched *, const char *id);
void	 sched_scan(struct sched *);
void	 sched_index_free(struct sched *);
const char *sched_dest_name(const struct sched *, const char *domain);
int	 sched_item_rehome(struct sched *, struct item *, time_t due);

/* sched_conn.c */
void	 sched_dispatch(struct sched *);
void	 sched_conn_drain(struct sched *);
void	 sched_conn_free_all(struct sched *);
size_t	 sched_conn_quitting(void);

/* sched_job.c */
struct job *sched_job_load(struct sched *, struct item *);
ssize_t	 sched_job_body_read(void *job, size_t off, char *buf, size_t n);
void	 sched_job_free(struct job *);

/* sched_result.c */
void	 sched_job_result(struct sched *, struct job *,
	    const struct deliver_result *);
void	 sched_note_held(struct sched *, struct item *);
void	 sched_bounce_now(struct sched *, struct item *, struct queue_env *,
	    const char *why, int all);
void	 sched_discard_now(struct sched *, struct item *, struct queue_env *,
	    const char *route);
int	 sched_bounce_loop(struct sched *, struct item *, struct queue_env *);
void	 sched_expire(struct sched *, struct item *, struct queue_env *);
void	 sched_finalize(struct sched *, struct queue_env *);

#endif /* DANEMX_SCHED_INT_H */
