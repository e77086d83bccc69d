/*
 * smtpd_int.h - what the listener's files share: the listener (struct
 * smtpd, smtpd.c), its sessions (smtpd_session.c), their commands
 * (smtpd_cmd.c) and STARTTLS (smtpd_tls.c). Nothing outside src/server
 * includes it.
 *
 * Ownership: the smtpd owns its listeners, its commit workers, its
 * client table and its sessions; a session owns its bufferevent, its
 * timers and the queue writer of the message in progress, until it
 * hands the writer to a commit job. A client record belongs to the
 * table; a session borrows it.
 */
#ifndef DANEMX_SMTPD_INT_H
#define DANEMX_SMTPD_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <time.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "sched/sched.h"
#include "server/server.h"
#include "server/smtpd_proto.h"
#include "util/util.h"

struct bufferevent;
struct evbuffer;
struct event;
struct evconnlistener;

#define WBUF_MAX	(SMTPD_OUT_SOFT + 16)	/* content before a write */
#define OUT_HIGH	(64 * 1024)	/* replies waiting: stop reading */
#define CLOSE_SECONDS	10		/* for the last replies to leave */
#define CLIENTS_MAX	10000		/* clients the limits remember */
#define CLIENT_SWEEP	60		/* seconds between sweeps */
#define FULL_LOG_EVERY	60		/* seconds between "cannot accept" logs */

enum sstate {
	S_GREET, S_READY, S_MAIL, S_RCPT, S_DATA,
	S_COMMIT,		/* after ".": input paused until the commit ends */
	S_CLOSING
};

/* A client, as the per-client limits see it (an address or an IPv6 /64). */
struct client {
	TAILQ_ENTRY(client)	 entry;
	char			 key[SMTPD_CLIENT_KEY_MAX];
	unsigned long		 conns;		/* sessions open now */
	unsigned long		 rate;		/* connections in this window */
	time_t			 window;	/* when the window began */
	int			 logged;	/* a refusal was logged in it */
};

struct session {
	TAILQ_ENTRY(session)	 entry;
	struct smtpd		*d;
	struct bufferevent	*bev;
	struct sockaddr_storage	 ss;
	char			 addr[64];
	char			 helo[256];
	int			 esmtp;
	int			 relay_ok;
	int			 tls;		/* STARTTLS done */
	struct client		*cl;		/* NULL: not limited */
	struct smtpd_in		 in;		/* the line splitter */
	struct event		*closer;	/* waits for output to drain */
	unsigned		 close_ticks;
	struct event		*deadline;	/* smtpd_session_time_limit */
	int			 time_up;	/* ... passed during a commit */
	struct event		*sleep;		/* smtpd_error_sleep_time */
	struct evbuffer		*held;		/* replies the sleep holds */
	int			 sleeping;
	int			 out_paused;	/* replies above OUT_HIGH */
	int			 reading;	/* EV_READ enabled */
	enum sstate		 state;
	char			*from;
	char			*rcpts[QUEUE_RCPT_MAX];
	size_t			 nrcpt;
	struct queue_writer	*w;
	struct queue_job	*job;		/* S_COMMIT: the writer's now */
	struct buf		 wbuf;
	size_t			 size;		/* octets written, header too */
	size_t			 hdrlen;	/* our Received: header */
	int			 too_big, too_long, write_failed;
	int			 tls_required_no; /* the message asked (RFC 8689) */
	unsigned long		 errors;	/* 4xx and 5xx replies */
	unsigned long		 junk;		/* NOOP, RSET, VRFY */
};

struct smtpd {
	struct event_base	*base;
	const struct dmx_conf	*conf;
	struct queue		*q;
	const struct netlist	*mynet;
	struct sched		*sched;
	struct queue_workers	*workers;	/* commits */
	char			 host[256];
	SSL_CTX			*tls_ctx;	/* NULL: no STARTTLS */
	struct evconnlistener	*lst[CONF_LISTEN_MAX];
	size_t			 nlst;
	int			 accepting;	/* listeners enabled */
	int			 full;		/* at max_sessions */
	time_t			 full_logged;
	int			 fd_paused;	/* accept() failed: wait */
	int			 fd_episode;	/* ... since the last accept */
	int			 fd_said;	/* ... and this episode logged */
	time_t			 fd_logged;
	struct event		*resume;	/* ends fd_paused */
	TAILQ_HEAD(, session)	 sessions;
	size_t			 nsess;
	struct htab		 clients;	/* key -> struct client */
	TAILQ_HEAD(, client)	 clist;
	size_t			 nclients;
	int			 clients_full_said;
	struct event		*sweep;
};

/* smtpd.c */
void	 smtpd_listeners_update(struct smtpd *);

/* smtpd_session.c */
void	 smtpd_session_start(struct smtpd *, evutil_socket_t,
	    const struct sockaddr *, int salen, struct client *, int relay_ok);
void	 smtpd_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 smtpd_close_after_output(struct session *);
void	 smtpd_after_command(struct session *);
void	 smtpd_session_read(struct bufferevent *, void *);
void	 smtpd_session_write(struct bufferevent *, void *);
void	 smtpd_session_event(struct bufferevent *, short, void *);
void	 smtpd_session_free(struct session *);

/* smtpd_cmd.c */
void	 smtpd_command(struct session *, const char *line, size_t len);
void	 smtpd_txn_reset(struct session *);
void	 smtpd_data_flush(struct session *);
void	 smtpd_data_end(struct session *);

/* smtpd_tls.c */
SSL_CTX	*smtpd_tls_ctx_new(const struct dmx_conf *, char *err, size_t errlen);
void	 smtpd_starttls(struct session *);

#endif /* DANEMX_SMTPD_INT_H */
