/*
 * smtp_int.h - what the SMTP client's two files share: the session
 * (struct smtp_client; its connection, TLS and lifecycle in
 * smtp_client.c, its dialogue in smtp_dialog.c) and the functions each
 * lends the other. A session frees itself (smtp_client.c says when).
 */
#ifndef DANEMX_SMTP_INT_H
#define DANEMX_SMTP_INT_H

#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "smtp/smtp.h"

#define TRANSCRIPT_MAX	(64 * 1024)
#define SMTP_PATH_MAX	512	/* 256 in RFC 5321; some are longer */
#define DATA_HIGH	(64 * 1024)	/* encode while output holds less */
#define DATA_LOW	(16 * 1024)	/* ... again once it drained to this */

struct smtp_client {
	struct event_base	*base;
	struct smtp_client_conf	 conf;
	evutil_socket_t		 fd;
	struct bufferevent	*bev;
	struct event		*timer;
	struct event		*fin;		/* deferred done() and free */
	int			 dead;		/* finished: ignore all events */
	SSL			*ssl;
	enum smtp_stage		 stage;
	struct smtp_reply	 reply;
	struct smtp_result	 res;
	struct smtp_enc		 enc;		/* SEND: the encoder's state */
	size_t			 body_off;	/* octets read and encoded */
	int			 body_done;	/* all of it, and ".", queued */
	int			 data_cut;	/* the server answered before */
	char			*chunk;		/* from read(), or NULL */
	size_t			 chunk_off, chunk_len; /* what it holds */
	size_t			 rcpt_sent, rcpt_done;
	int			 failed;
	int			 idle;		/* parked between transactions */
	int			 broken;	/* ... and the server went away */
	int			 need_rset;	/* the last transaction was refused */
	int			 silent;	/* quitting: no more done() */
	LIST_ENTRY(smtp_client)	 qentry;	/* in quitting while silent */
};

/* smtp_client.c */
void	 smtp_set_stage(struct smtp_client *, enum smtp_stage);
void	 smtp_transcript(struct smtp_client *, const char *dir,
	    const char *line, size_t len);
void	 smtp_arm_timer(struct smtp_client *, unsigned secs);
void	 smtp_finish(struct smtp_client *);
void	 smtp_send_line(struct smtp_client *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 smtp_fail(struct smtp_client *, int temporary, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 smtp_start_tls(struct smtp_client *);

/* smtp_dialog.c */
int	 smtp_handle_reply(struct smtp_client *);
void	 smtp_data_fill(struct smtp_client *);
void	 smtp_proceed(struct smtp_client *);
void	 smtp_chunk_free(struct smtp_client *);
void	 smtp_send_mail(struct smtp_client *);
void	 smtp_send_rcpts(struct smtp_client *);
void	 smtp_send_quit(struct smtp_client *);
void	 smtp_send_cmd(struct smtp_client *, enum smtp_stage, unsigned,
	    const char *, ...) __attribute__((format(printf, 4, 5)));

#endif /* DANEMX_SMTP_INT_H */
