/*
 * smtp.h - SMTP protocol pieces: reply and EHLO parsing (smtp_reply.c),
 * the DATA encoder (smtp_data.c) and the client session (smtp_client.c).
 *
 * The parsers read untrusted server data one line at a time (the line
 * without its CRLF) and enforce ceilings on line length, line count and
 * total size. A struct smtp_reply owns its text; smtp_reply_free()
 * releases it, smtp_reply_reset() readies it for the next reply.
 */
#ifndef DANEMX_SMTP_H
#define DANEMX_SMTP_H

#include <sys/types.h>

#include <stddef.h>

#include "util/util.h"

#define SMTP_LINE_MAX		2048	/* RFC 5321 says 512; be lenient */
#define SMTP_REPLY_LINES_MAX	100
#define SMTP_REPLY_MAX		(64 * 1024)

struct smtp_reply {
	int		 code;		/* 200..599, 0 until the first line */
	char		 enhanced[16];	/* "5.7.1", or "" when absent */
	size_t		 nlines;
	struct buf	 text;		/* lines without code, '\n'-separated */
};

enum smtp_feed {
	SMTP_REPLY_MORE,	/* a continuation line; feed the next */
	SMTP_REPLY_DONE,	/* the last line: the reply is complete */
	SMTP_REPLY_ERROR	/* a protocol violation; *err says which */
};

/* EHLO capabilities (smtp_ehlo_parse) */
#define SMTP_EXT_STARTTLS	0x01
#define SMTP_EXT_PIPELINING	0x02
#define SMTP_EXT_SIZE		0x04
#define SMTP_EXT_8BITMIME	0x08
#define SMTP_EXT_SMTPUTF8	0x10
#define SMTP_EXT_ENHANCED	0x20
#define SMTP_EXT_CHUNKING	0x40

struct smtp_ehlo {
	unsigned	 ext;		/* SMTP_EXT_* */
	unsigned long	 size;		/* SIZE limit, 0 if none given */
};

/*
 * The asynchronous client session (smtp_client.c).
 *
 * One session is one TCP connection to one address: connect, greeting,
 * EHLO (HELO only when EHLO gets 5xx), STARTTLS as the TLS mode asks,
 * EHLO again over TLS, then MAIL, RCPT..., DATA and QUIT as the job
 * asks. TLS itself is the caller's: tls_begin() returns a configured
 * SSL (DANE, SNI) and tls_check() judges the finished handshake, so
 * the session only enforces what it is given. The session owns its
 * socket and buffers; the result passed to done() is owned by the
 * session and valid only during the callback. The session frees itself
 * after done() returns.
 *
 * Connection reuse (conf.keep, SEND only): when a transaction ends with
 * the server's answer to it (the end of data, or a refused MAIL, RCPT
 * or DATA) and the connection is sound, the result says reusable and
 * the session is not freed but parked idle after done(). Its owner
 * then calls smtp_client_next() with the next message, which runs over
 * the same (authenticated) connection, RSET first when the last
 * transaction was refused, or smtp_client_quit(), which says QUIT and
 * frees the session without another done(). A parked connection that
 * the server closes is noticed, and smtp_client_next() then fails at
 * once with no reply (fail_code 0), so the owner can connect afresh.
 */
enum smtp_stage {
	SMTP_ST_CONNECT, SMTP_ST_GREETING, SMTP_ST_EHLO, SMTP_ST_HELO,
	SMTP_ST_STARTTLS, SMTP_ST_TLS, SMTP_ST_EHLO_TLS, SMTP_ST_MAIL,
	SMTP_ST_RCPT, SMTP_ST_DATA, SMTP_ST_DOT, SMTP_ST_QUIT, SMTP_ST_DONE,
	SMTP_ST_RSET, SMTP_ST_IDLE
};

enum smtp_tls_mode {
	SMTP_TLS_NONE,		/* never STARTTLS */
	SMTP_TLS_MAY,		/* STARTTLS when offered */
	SMTP_TLS_MUST		/* no STARTTLS offered or refused: fail */
};

enum smtp_job {
	SMTP_JOB_CHECK,		/* stop after TLS: QUIT */
	SMTP_JOB_PROBE,		/* MAIL and RCPT, then QUIT */
	SMTP_JOB_SEND		/* the whole transaction */
};

/* RFC 5321 4.5.3.2 timeouts, in seconds. */
struct smtp_timeouts {
	unsigned	 connect, greeting, ehlo, starttls, tls, mail, rcpt;
	unsigned	 data_init, data_block, data_end, quit;
};

struct smtp_rcpt_result {
	int		 code;
	char		 enhanced[16];
	char		 text[512];
};

struct smtp_result {
	enum smtp_stage	 stage;		/* where it ended (DONE on success) */
	int		 ok;		/* the job completed */
	int		 temporary;	/* a failure worth retrying later */
	int		 tls;		/* TLS was established */
	int		 no_starttls;	/* TLS demanded, STARTTLS missing */
	int		 starttls_missing; /* TLS wanted (may or must), but
					   not offered (1) or refused (2) */
	char		 local_addr[64];	/* our end of the connection */
	char		 peer_helo[DMX_NAME_MAX]; /* the name in the server's
					   greeting (else its EHLO reply), if
					   it is one; for TLS reports */
	char		 tls_version[32];
	char		 tls_cipher[96];
	unsigned	 ext;		/* SMTP_EXT_* of the last EHLO */
	int		 code;		/* last reply, 0 if none */
	char		 enhanced[16];
	char		 reply[512];	/* its first line */
	int		 fail_code;	/* the reply that ended it, else 0 */
	int		 dot_code;	/* reply to the end of data */
	char		 dot_enhanced[16];
	char		 dot_reply[512];
	char		 error[512];	/* why it failed, for logs */
	size_t		 nrcpt;
	struct smtp_rcpt_result *rcpt;	/* one per recipient */
	size_t		 naccepted;
	int		 reusable;	/* parked: next() or quit() it */
	struct buf	 transcript;	/* "S: ..." / "C: ..." lines */
};

/*
 * A message to send (SEND), in any line-ending convention (smtp_data.c
 * says how each is sent). Either in memory: mem, len. Or, with mem
 * NULL, read in order through read(), which puts octets [off, off + n)
 * into buf, at most n of them, and returns how many: 0 only when the
 * message is shorter than len, -1 with errno when reading fails. The
 * session reads and encodes it a chunk at a time as the connection
 * drains, so it never holds more than SMTP_DATA_CHUNK of the message,
 * whatever its size; it reads it twice when the server takes SIZE=
 * (first to count the octets on the wire). A failed read ends the
 * session without the final ".", so the server drops what it got.
 */
struct smtp_body {
	const char	*mem;
	size_t		 len;
	ssize_t		(*read)(void *arg, size_t off, char *buf, size_t n);
	void		*arg;
};

#define SMTP_DATA_CHUNK		(16 * 1024)	/* read and encoded at once */

/* The DATA encoder's state between chunks (smtp_data.c). */
struct smtp_enc {
	int		 bol;		/* at the start of a line */
	int		 cr;		/* a CR came last, not yet decided */
};
#define SMTP_ENC_MAX(len)	(2 * (len) + 1)	/* output for len octets */

struct ssl_st;
struct sockaddr;

struct smtp_client_conf {
	const struct sockaddr *addr;	/* the peer, with its port */
	unsigned	 addrlen;
	const struct sockaddr *src;	/* source address, or NULL */
	unsigned	 srclen;
	const char	*peer_name;	/* for logs: "mx.example.org[192.0.2.1]:25" */
	const char	*helo;
	enum smtp_tls_mode tls_mode;
	enum smtp_job	 job;
	const char	*mail_from;	/* "" for the null sender */
	const char * const *rcpts;
	size_t		 nrcpt;
	struct smtp_body body;		/* SEND: the message */
	struct smtp_timeouts t;
	int		 keep;		/* park after a transaction (reuse) */
	/* TLS, supplied by the caller (see above). */
	struct ssl_st	*(*tls_begin)(void *arg);
	int		 (*tls_check)(void *arg, struct ssl_st *, int handshake_ok,
			    char *why, size_t whylen);
	void		 (*done)(void *arg, const struct smtp_result *);
	void		*arg;
};

struct event_base;
struct smtp_client;

/* smtp_client.c */
void	 smtp_timeouts_default(struct smtp_timeouts *);
struct smtp_client *smtp_client_start(struct event_base *,
	    const struct smtp_client_conf *, char *err, size_t errlen);
void	 smtp_client_abort(struct smtp_client *);
int	 smtp_client_next(struct smtp_client *, const char *mail_from,
	    const char * const *rcpts, size_t nrcpt,
	    const struct smtp_body *, char *err, size_t errlen);
void	 smtp_client_quit(struct smtp_client *);
size_t	 smtp_client_quitting(void);
void	 smtp_client_quitting_free(void);
const char *smtp_stage_str(enum smtp_stage);

/* smtp_data.c */
void	 smtp_enc_init(struct smtp_enc *);
size_t	 smtp_enc_chunk(struct smtp_enc *, const char *in, size_t len,
	    char *out);
size_t	 smtp_enc_end(struct smtp_enc *, char *out);
size_t	 smtp_enc_count(struct smtp_enc *, const char *in, size_t len);
size_t	 smtp_enc_count_end(struct smtp_enc *);
int	 smtp_data_encode(struct buf *out, const char *msg, size_t len);

/* smtp_reply.c */
void	 smtp_reply_init(struct smtp_reply *);
void	 smtp_reply_reset(struct smtp_reply *);
void	 smtp_reply_free(struct smtp_reply *);
enum smtp_feed smtp_reply_feed(struct smtp_reply *, const char *line,
	    size_t len, const char **err);
void	 smtp_ehlo_parse(const struct smtp_reply *, struct smtp_ehlo *);
const char *smtp_reply_first_line(const struct smtp_reply *, char *,
	    size_t);

#endif /* DANEMX_SMTP_H */
