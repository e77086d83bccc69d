/*
 * sched.h - the outbound scheduler: from the queue to the delivery
 * engine (deliver_start()), and the results back to the queue.
 *
 * The queue is indexed in memory (sched_index.c), so no work per
 * message grows with the queue's size. Each message's pending
 * recipients are grouped by destination domain into items; a
 * destination with ready items goes on a run queue served round robin
 * within max_deliveries connections in all and dest_concurrency per
 * destination. A connection keeps its DANE-authenticated session for
 * the destination's next messages (sched_conn.c). Results go to the
 * envelope on disk, and a message whose recipients are all final
 * leaves the queue, after a DSN to its sender if any failed
 * (sched_result.c, sched_dsn.c); the DSN's commit runs on a queue
 * worker thread, and the message is removed only once it is durable.
 *
 * One event loop runs it all; it reads messages only from the queue.
 * Ownership: the scheduler owns its index, its connections and their
 * jobs; sched_free() releases them (recipients still in flight stay
 * pending in the queue). A struct sched_selfaddr owns its entries
 * (sched_selfaddr_free()).
 */
#ifndef DANEMX_SCHED_H
#define DANEMX_SCHED_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"
#include "policy/policy.h"
#include "queue/queue.h"
#include "deliver/deliver.h"
#include "util/util.h"

struct sched;
struct sched_selfaddr;
struct destmem;
struct state;
struct event_base;
struct dmx_resolver;

/* sched.c - the scheduler's life and the relay's signals */
struct sched_conf {
	const struct dmx_conf	*conf;
	struct queue		*q;
	struct dmx_resolver	*res;
	struct policy_table	*policy;	/* may change on SIGHUP */
	struct policy_table	*bypass;
	struct transport_table	*transport;	/* may change on SIGHUP */
	SSL_CTX			*dane_ctx, *pkix_ctx;
	struct sts		*sts;		/* MTA-STS policies, or NULL */
	struct state		*state;		/* TLS-RPT results go here when
						   conf->tlsrpt; NULL: nowhere */
	const char		*helo;
	struct sched_selfaddr	*self;		/* never deliver here */
	struct destmem		*destmem;	/* destination memory, or NULL */
};
struct sched *sched_new(struct event_base *, const struct sched_conf *);
void	 sched_kick(struct sched *);		/* look at the queue now */
void	 sched_enqueue(struct sched *, const char *id); /* just queued */
void	 sched_flush(struct sched *);		/* lift holds, look now */
void	 sched_flush_all(struct sched *);	/* ... and all due now */
void	 sched_flush_dest(struct sched *, const char *key); /* destmem key */
void	 sched_drain(struct sched *);		/* start nothing new */
size_t	 sched_active(const struct sched *);
int	 sched_submit(struct sched *, const char *from,
	    const char * const *rcpts, size_t nrcpt, const char *msg,
	    size_t len, void (*done)(void *, int ok, const char *id,
	    const char *err), void *arg, char *err, size_t errlen);
void	 sched_free(struct sched *);

/* sched_index.c - the relayhost or the transport table changed (SIGHUP):
 * queued items move to their new destinations */
void	 sched_reroute(struct sched *);
/*
 * sched_stats.c - what the scheduler counted since it started (for the
 * metrics), updated where each thing is decided and logged: plain
 * integers on the loop. A recipient's outcome is counted once per log
 * line (status=sent, deferred or bounced) with the TLS of the attempt
 * that decided it; a session's DANE verdict and failure class once per
 * attempt (not for a message over a reused session: its TLS was judged
 * when it was made).
 */
enum sched_status { SCHED_SENT, SCHED_DEFERRED, SCHED_BOUNCED, SCHED_NSTATUS };
#define SCHED_NTLS	(TLS_ACH_STS_VERIFIED + 1)
enum sched_dane {
	SCHED_DANE_VALIDATED,	/* authenticated by TLSA */
	SCHED_DANE_FAILED,	/* TLSA present, no match: not delivered */
	SCHED_DANE_BYPASSED,	/* ... delivered under the bypass list */
	SCHED_DANE_RELAXED,	/* ... delivered for TLS-Required: No */
	SCHED_DANE_NVERDICT
};
#define SCHED_NFAIL	(DMX_FAIL_SMTP + 1)
struct sched_stats {
	uint64_t	 rcpt[SCHED_NSTATUS][SCHED_NTLS];
	uint64_t	 dane[SCHED_DANE_NVERDICT];
	uint64_t	 fail[SCHED_NFAIL];	/* per attempt, or per route
						   that failed before any;
						   [0]: none, not counted */
};
const struct sched_stats *sched_stats(const struct sched *);
size_t	 sched_queue_size(const struct sched *, time_t *oldest);
size_t	 sched_queue_count(const struct sched *);
size_t	 sched_connections(const struct sched *);
const char *sched_status_str(enum sched_status);
const char *sched_dane_str(enum sched_dane);
void	 sched_count_rcpt(struct sched *, enum sched_status,
	    enum tls_achieved);
void	 sched_count_result(struct sched *, const struct deliver_result *);

/* sched_selfaddr.c - the relay's own listening addresses (mail loops) */
struct sched_selfaddr *sched_selfaddr_new(char * const *listen, size_t n,
	    char *err, size_t errlen);
int	 sched_selfaddr_match(void *selfaddr, const struct sockaddr *);
void	 sched_selfaddr_free(struct sched_selfaddr *);

/* sched_dsn.c - the bounce (RFC 3464) for a message's failed recipients */
int	 sched_dsn_build(struct buf *out, const struct queue_env *,
	    const char *orig, size_t origlen, const char *hostname,
	    time_t now);

#endif /* DANEMX_SCHED_H */
