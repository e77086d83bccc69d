/*
 * server.h - the relay: inbound SMTP (smtpd.c), relay control
 * (netlist.c), the delivery scheduler (sched.c), the maildrop pickup
 * (pickup.c), bounces (dsn.c) and its own addresses (selfaddr.c).
 *
 * One event loop runs everything, except the fsyncs of queue commits
 * (of smtpd's messages and of maildrop drops), which run on commit.c's
 * worker threads. smtpd sessions own their connection
 * and the message being received; a message belongs to the queue once
 * committed, and the scheduler only ever reads it from there.
 */
#ifndef DANEMX_SERVER_H
#define DANEMX_SERVER_H

#include <sys/socket.h>

#include <stddef.h>
#include <time.h>

#include "policy/policy.h"
#include "queue/queue.h"
#include "server/conf.h"
#include "deliver/deliver.h"

/* netlist.c - address/prefix lists such as mynetworks */
struct netlist;
struct netlist *netlist_parse(const char *text, char *err, size_t errlen);
int	 netlist_match(const struct netlist *, const struct sockaddr *);
void	 netlist_free(struct netlist *);

/* selfaddr.c - the relay's own listening addresses (mail loops) */
struct selfaddr;
struct selfaddr *selfaddr_new(char * const *listen, size_t n, char *err,
	    size_t errlen);
int	 selfaddr_match(void *selfaddr, const struct sockaddr *);
void	 selfaddr_free(struct selfaddr *);

struct sched;
struct smtpd;
struct event_base;
struct dmx_resolver;

/* sched.c */
struct sched_conf {
	const struct dmx_conf	*conf;
	struct queue		*q;
	struct dmx_resolver	*res;
	struct policy_table	*policy;	/* may change on SIGHUP */
	struct policy_table	*bypass;
	SSL_CTX			*dane_ctx, *pkix_ctx;
	const char		*helo;
	struct selfaddr		*self;		/* never deliver here */
};
struct sched *sched_new(struct event_base *, const struct sched_conf *);
void	 sched_kick(struct sched *);		/* look at the queue now */
void	 sched_enqueue(struct sched *, const char *id); /* just queued */
void	 sched_flush(struct sched *);		/* lift holds, look now */
void	 sched_flush_all(struct sched *);	/* ... and all due now */
void	 sched_drain(struct sched *);		/* start nothing new */
size_t	 sched_active(const struct sched *);
void	 sched_free(struct sched *);

/* smtpd.c */
struct smtpd *smtpd_new(struct event_base *, const struct dmx_conf *,
	    struct queue *, const struct netlist *mynetworks,
	    struct sched *, const char *hostname, char *err, size_t errlen);
void	 smtpd_set_sched(struct smtpd *, struct sched *);
void	 smtpd_set_mynetworks(struct smtpd *, const struct netlist *);
void	 smtpd_stop_listening(struct smtpd *);
size_t	 smtpd_sessions(const struct smtpd *);
void	 smtpd_free(struct smtpd *);

/* pickup.c - drops from maildrop/ into the queue */
struct pickup;
struct pickup *pickup_new(struct event_base *, struct queue *,
	    const struct dmx_conf *, struct sched *, const char *hostname);
void	 pickup_run(struct pickup *);
void	 pickup_stop(struct pickup *);		/* pick up nothing more */
size_t	 pickup_busy(const struct pickup *);	/* commits in flight */
void	 pickup_free(struct pickup *);

/* space.c - the free-space reserve for new mail */
int	 space_ok(struct queue *, unsigned long long size, const char *who);

/* dsn.c */
int	 dsn_build(struct buf *out, const struct queue_env *,
	    const char *orig, size_t origlen, const char *hostname,
	    time_t now);

#endif /* DANEMX_SERVER_H */
