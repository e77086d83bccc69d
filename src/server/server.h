/*
 * server.h - the relay's inbound side: the SMTP listener (smtpd.c with
 * smtpd_session.c, smtpd_cmd.c, smtpd_tls.c and smtpd_proto.c), relay
 * control (netlist.c) and the maildrop pickup (pickup.c). The outbound
 * side, the scheduler, is src/sched.
 *
 * One event loop runs everything, except the fsyncs of queue commits
 * (of smtpd's messages and of maildrop drops), which run on the queue's
 * worker threads (queue/queue_workers.c). smtpd sessions own their
 * connection and the message being received; a message belongs to the
 * queue once committed, and the scheduler is told its id.
 */
#ifndef DANEMX_SERVER_H
#define DANEMX_SERVER_H

#include <sys/socket.h>

#include <stddef.h>

#include "conf/conf.h"
#include "queue/queue.h"

struct event_base;
struct sched;
struct smtpd;

/* netlist.c - address/prefix lists such as mynetworks */
struct netlist;
struct netlist *netlist_parse(const char *text, char *err, size_t errlen);
int	 netlist_match(const struct netlist *, const struct sockaddr *);
void	 netlist_free(struct netlist *);

/* smtpd.c - the listener */
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

#endif /* DANEMX_SERVER_H */
