/*
 * deliver_int.h - what the files of the delivery engine share: the
 * state of one delivery (struct deliver), owned by deliver.c, and the
 * functions each file lends the others.
 */
#ifndef DANEMX_DELIVER_INT_H
#define DANEMX_DELIVER_INT_H

#include <sys/queue.h>

#include "deliver/deliver.h"

/* A delivery's place at the gate (deliver_gate.c): none, in line for an
 * address, handed a slot (its resume() is due), or holding one. */
#define DELIVER_GATE_KEY_MAX	(DMX_NAME_MAX + 8)
enum ticket_state { TICKET_NONE, TICKET_WAITING, TICKET_READY, TICKET_HELD };
struct gate_key;
struct deliver_ticket {
	TAILQ_ENTRY(deliver_ticket) entry;
	enum ticket_state	 state;
	struct gate_key		*key;
	void			(*resume)(void *);
	void			*arg;
};

/* deliver_gate.c */
void	 deliver_gate_ticket(struct deliver_ticket *, void (*)(void *),
	    void *);
int	 deliver_gate_enter(struct deliver_gate *, struct deliver_ticket *,
	    const char *addr);
void	 deliver_gate_leave(struct deliver_gate *, struct deliver_ticket *);
unsigned deliver_gate_held(const struct deliver_gate *, const char *addr);

struct deliver {
	struct event_base	*base;
	struct dmx_resolver	*res;
	struct deliver_conf	 conf;
	struct route_req	*rreq;
	struct route		*route;		/* our reference */
	struct smtp_client	*sess;
	struct deliver_result	*r;		/* NULL while kept idle */
	char			 domain[DMX_NAME_MAX];
	char			 msgid[64];	/* conf.msgid, or "" */
	int			 keep;		/* the session is parked */
	struct deliver_attempt	 sticky;	/* the parked session's attempt */
	size_t			 hi, ai;
	size_t			 nhost;		/* hosts before any self */
	int			 retry_plain;	/* next session without TLS */
	int			 logged_host;	/* host hi's lines are out */
	struct event		*ev;		/* hands the result over */
	uint64_t		 sts_id;	/* MTA-STS lookup under way */
	struct deliver_sts	 sts;		/* for the next messages: one
						   reference of its own */
	struct route		*waiting;	/* the route, while it waits */
	struct deliver_route	 rte;		/* which route, for each result */
	struct deliver_ticket	 gate;		/* at conf.gate, if any */
};

/* deliver.c */
struct deliver_attempt *deliver_cur_attempt(struct deliver *);
int	 deliver_more_hosts(const struct deliver *);

/* deliver_tls.c - the session's TLS hooks */
SSL	*deliver_tls_begin(void *arg);
int	 deliver_tls_check(void *arg, SSL *, int handshake_ok, char *why,
	    size_t whylen);

/* deliver_sts.c */
int	 deliver_sts_start(struct deliver *);
void	 deliver_sts_cancel(struct deliver *);
void	 deliver_sts_apply(struct deliver *);
void	 deliver_sts_free(struct deliver_sts *);
void	 deliver_sts_copy(struct deliver_sts *, const struct deliver_sts *);
SSL_CTX	*deliver_pkix(struct deliver *);

/* deliver.c, once the route and the MTA-STS policy are both known */
void	 deliver_ready(struct deliver *);

/* deliver_tlsreq.c - RFC 8689 TLS-Required: No */
void	 deliver_tlsreq_apply(struct deliver *);
int	 deliver_tlsreq_soft(const struct deliver *, const struct route_host *);
int	 deliver_tlsreq_plain(const struct deliver *, const struct route_host *,
	    struct deliver_attempt *, const struct smtp_result *);
void	 deliver_tlsreq_log(const struct deliver *, const struct route_host *,
	    const char *what, const char *why, const char *how);
void	 deliver_tlsreq_log_host(const struct deliver *,
	    const struct route_host *);

/* deliver_log.c */
void	 deliver_log_host(struct deliver *);

/* deliver_result.c */
void	 deliver_attempt_clear(struct deliver_attempt *);
int	 deliver_attempt_copy(struct deliver_attempt *dst,
	    const struct deliver_attempt *src);
void	 deliver_attempt_session(struct deliver_attempt *,
	    const struct smtp_result *);
void	 deliver_settle(const struct deliver_result *, enum dmx_fail *fail,
	    const char **why);

#endif /* DANEMX_DELIVER_INT_H */
