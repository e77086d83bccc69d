/*
 * smtp_client.c - one asynchronous SMTP client session on libevent.
 *
 * See smtp.h for the protocol steps. Every reply has a deadline (RFC
 * 5321 4.5.3.2) that bounds the whole reply, not each read, so a server
 * that trickles bytes cannot hold a session; replies are parsed by
 * smtp_reply_feed() with its ceilings. After the STARTTLS 220 reply the
 * plaintext bufferevent is freed with whatever it had buffered (RFC 3207
 * 4.2: nothing sent before TLS is acted on) and a TLS bufferevent takes
 * over the socket; EHLO is sent again.
 *
 * Connection reuse (conf.keep): a transaction that the server answered
 * leaves the session parked instead of saying QUIT; smtp_client_next()
 * runs the next one over the same connection and TLS session, and
 * smtp_client_quit() ends it. While parked, anything from the server
 * (a 421, a close) marks the connection broken, and the next
 * transaction fails at once without a reply, so the owner reconnects.
 *
 * The message streams (struct smtp_body): after the 354 reply it is read
 * and encoded (smtp_data.c) SMTP_DATA_CHUNK octets at a time while the
 * output buffer holds less than DATA_HIGH octets, and again each time the
 * connection has drained it below DATA_LOW (the bufferevent's write
 * watermark), so a session holds a few tens of KiB of its message
 * whatever the message's size. SIZE= is counted by a first pass over the
 * message with the same encoder, before MAIL.
 *
 * Text from the server (reply lines, and so EHLO keywords and the
 * transcript) has its control characters and non-ASCII octets replaced
 * (str_printable()) before anyone sees it: it goes into logs, the queue's
 * envelopes and DSNs, which are us-ascii.
 *
 * Ownership: the session owns the socket, both bufferevents, the SSL
 * (from tls_begin()) and the result; done() borrows the result, and the
 * session frees itself right after done() returns, unless it was parked
 * (then its owner ends it with smtp_client_quit() or _abort()). The
 * strings in the conf, and those given to smtp_client_next(), are
 * borrowed and must live until the next done() has run.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log/log.h"
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

/* Sessions saying QUIT belong to nobody; smtp_client_quitting_free()
 * ends those still open at exit. */
static LIST_HEAD(, smtp_client) quitting = LIST_HEAD_INITIALIZER(quitting);

static const char *stage_names[] = {
	"connect", "greeting", "EHLO", "HELO", "STARTTLS", "TLS handshake",
	"EHLO after STARTTLS", "MAIL FROM", "RCPT TO", "DATA",
	"end of data", "QUIT", "done", "RSET", "idle"
};

static void	client_read(struct bufferevent *, void *);
static void	client_write(struct bufferevent *, void *);
static void	client_event(struct bufferevent *, short, void *);
static void	client_proceed(struct smtp_client *);
static void	chunk_free(struct smtp_client *);
static void	send_line(struct smtp_client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	client_fail(struct smtp_client *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	send_cmd(struct smtp_client *, enum smtp_stage, unsigned,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

/* smtp_stage_str - a stage's name for logs */
const char *
smtp_stage_str(enum smtp_stage st)
{
	if ((size_t)st < DMX_NELEM(stage_names))
		return stage_names[st];
	return "?";
}

/* smtp_timeouts_default - RFC 5321 4.5.3.2 values */
void
smtp_timeouts_default(struct smtp_timeouts *t)
{
	t->connect = 30;
	t->greeting = 300;
	t->ehlo = 300;
	t->starttls = 120;
	t->tls = 120;
	t->mail = 300;
	t->rcpt = 300;
	t->data_init = 120;
	t->data_block = 180;
	t->data_end = 600;
	t->quit = 60;
}

/* set_stage - the only place the stage changes */
static void
set_stage(struct smtp_client *c, enum smtp_stage st)
{
	log_debug("smtp %s: %s -> %s", c->conf.peer_name,
	    smtp_stage_str(c->stage), smtp_stage_str(st));
	c->stage = st;
	c->res.stage = st;
}

/* transcript - one line each way, the server's made printable */
static void
transcript(struct smtp_client *c, const char *dir, const char *line,
    size_t len)
{
	struct buf	*t = &c->res.transcript;
	size_t		 start;

	if (t->len + len + 8 > t->max)
		return;
	buf_adds(t, dir);
	buf_adds(t, ": ");
	start = t->len;
	if (buf_add(t, line, len) == 0 && len > 0)
		str_printable(t->data + start, len);
	buf_add(t, "\n", 1);
}

static void
arm_timer(struct smtp_client *c, unsigned secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	evtimer_add(c->timer, &tv);
}

/* client_free - release everything; the session is gone */
static void
client_free(struct smtp_client *c)
{
	if (c->silent)
		LIST_REMOVE(c, qentry);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		evutil_closesocket(c->fd);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->fin != NULL)
		event_free(c->fin);
	smtp_reply_free(&c->reply);
	free(c->chunk);
	buf_free(&c->res.transcript);
	free(c->res.rcpt);
	free(c);
}

static void
finish_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_client *c = arg;

	(void)fd;
	(void)ev;
	if (c->silent) {
		client_free(c);
		return;
	}
	if (c->res.reusable) {
		/* Parked: the owner goes on (next) or ends it (quit/abort),
		 * from done() or later; c may be gone once done() returns. */
		c->dead = 0;
		c->idle = 1;
		c->stage = SMTP_ST_IDLE;
		/* Anything unasked-for already here: do not trust it. */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			c->broken = 1;
		else
			bufferevent_enable(c->bev, EV_READ);
		c->conf.done(c->conf.arg, &c->res);
		return;
	}
	c->conf.done(c->conf.arg, &c->res);
	client_free(c);
}

/*
 * client_finish - the session is over: stop all I/O now, report the
 * result and free the session from the loop, so that no caller up the
 * stack can touch freed memory.
 */
static void
client_finish(struct smtp_client *c)
{
	struct timeval tv = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	if (!c->failed) {
		c->res.ok = 1;
		set_stage(c, SMTP_ST_DONE);
	}
	evtimer_del(c->timer);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->fin, &tv);
}

/* send_line - queue one command line (without CRLF) */
static void
send_line(struct smtp_client *c, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	transcript(c, "C", line, (size_t)n);
	evbuffer_add(bufferevent_get_output(c->bev), line, (size_t)n);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
}

/* client_fail - end the session with a reason; the connection closes */
static void
client_fail(struct smtp_client *c, int temporary, const char *fmt, ...)
{
	va_list	 ap;

	if (c->dead)
		return;
	if (c->stage == SMTP_ST_QUIT && c->conf.job != SMTP_JOB_CHECK &&
	    (c->conf.job != SMTP_JOB_SEND || c->res.dot_code == 250)) {
		/* The job was done before QUIT: how QUIT ends is moot. */
		client_finish(c);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(c->res.error, sizeof(c->res.error), fmt, ap);
	va_end(ap);
	c->failed = 1;
	c->res.ok = 0;
	c->res.temporary = temporary;
	log_debug("smtp %s: failed at %s: %s", c->conf.peer_name,
	    smtp_stage_str(c->stage), c->res.error);
	client_finish(c);
}

/* fail_reply - the server's reply ended the session */
static void
fail_reply(struct smtp_client *c, const char *what)
{
	c->res.fail_code = c->reply.code;
	client_fail(c, c->reply.code < 500, "%s: server said %d %s", what,
	    c->reply.code, c->res.reply);
}

/*
 * refused - the server refused the transaction (MAIL, RCPT, DATA, end
 * of data). With reuse the connection stays usable, unless the server
 * said 421 (it is closing); RSET comes first next time, except after
 * the end of data, which ends the transaction by itself.
 */
static void
refused(struct smtp_client *c, const char *what)
{
	/* A reply that cut the message short leaves the server in the
	 * middle of DATA, perhaps: that connection is not reused. */
	if (c->conf.keep && c->reply.code >= 400 && c->reply.code != 421 &&
	    !c->data_cut) {
		c->res.reusable = 1;
		c->need_rset = c->stage != SMTP_ST_DOT;
	}
	chunk_free(c);		/* parked or closing: no message now */
	fail_reply(c, what);
}

/* send_cmd - send a command and wait for its reply within secs */
static void
send_cmd(struct smtp_client *c, enum smtp_stage st, unsigned secs,
    const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	set_stage(c, st);
	send_line(c, "%s", line);
	arm_timer(c, secs);
}

/* start_tls - swap the plaintext bufferevent for a TLS one */
static void
start_tls(struct smtp_client *c)
{
	struct timeval	 tv = { (time_t)c->conf.t.tls, 0 };

	/* Drop whatever the server sent after its 220 (RFC 3207 4.2). */
	smtp_reply_reset(&c->reply);
	bufferevent_free(c->bev);
	c->bev = NULL;
	set_stage(c, SMTP_ST_TLS);
	if ((c->ssl = c->conf.tls_begin(c->conf.arg)) == NULL) {
		client_fail(c, 1, "cannot set up TLS");
		return;
	}
	/* A peer that just closes is a lost connection, not a TLS error;
	 * replies are whole lines, so truncation cannot fake one. */
	SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	c->bev = bufferevent_openssl_socket_new(c->base, c->fd, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, 0);
	if (c->bev == NULL) {
		client_fail(c, 1, "cannot start TLS on the connection");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &tv);
}

/*
 * body_piece - the message's next octets at off, at most SMTP_DATA_CHUNK
 * of them (*n says how many): in place, or read into c->chunk. NULL, with
 * the session failed, when they cannot be read.
 */
static const char *
body_piece(struct smtp_client *c, size_t off, size_t *n)
{
	const struct smtp_body	*b = &c->conf.body;
	size_t			 want = b->len - off;
	ssize_t			 r;

	if (want > SMTP_DATA_CHUNK)
		want = SMTP_DATA_CHUNK;
	if (b->mem != NULL) {
		*n = want;
		return b->mem + off;
	}
	if (b->read == NULL)
		fatalx("smtp_client: a message without a source");
	/* A message of one chunk is read once: counted, then sent. */
	if (c->chunk != NULL && c->chunk_off == off && c->chunk_len > 0) {
		*n = c->chunk_len < want ? c->chunk_len : want;
		return c->chunk;
	}
	if (c->chunk == NULL && (c->chunk = malloc(SMTP_DATA_CHUNK)) == NULL) {
		client_fail(c, 1, "out of memory");
		return NULL;
	}
	c->chunk_len = 0;
	if ((r = b->read(b->arg, off, c->chunk, want)) <= 0) {
		client_fail(c, 1, "cannot read the message: %s", r == 0 ?
		    "it is shorter than its envelope says" : strerror(errno));
		return NULL;
	}
	*n = (size_t)r < want ? (size_t)r : want;
	c->chunk_off = off;
	c->chunk_len = *n;
	return c->chunk;
}

/* chunk_free - the transaction needs no more of its message */
static void
chunk_free(struct smtp_client *c)
{
	free(c->chunk);
	c->chunk = NULL;
	c->chunk_len = 0;
}

/* wire_size - the message's octets on the wire (RFC 1870); -1 if unread */
static int
wire_size(struct smtp_client *c, size_t *size)
{
	struct smtp_enc	 e;
	const char	*p;
	size_t		 off = 0, n;

	*size = 0;
	smtp_enc_init(&e);
	while (off < c->conf.body.len) {
		if ((p = body_piece(c, off, &n)) == NULL)
			return -1;
		*size += smtp_enc_count(&e, p, n);
		off += n;
	}
	*size += smtp_enc_count_end(&e);
	return 0;
}

static void
send_mail(struct smtp_client *c)
{
	char	 size[48] = "";
	size_t	 n;

	if (c->conf.job == SMTP_JOB_SEND && (c->res.ext & SMTP_EXT_SIZE)) {
		if (wire_size(c, &n) == -1)
			return;		/* failed */
		snprintf(size, sizeof(size), " SIZE=%zu", n);
	}
	send_cmd(c, SMTP_ST_MAIL, c->conf.t.mail, "MAIL FROM:<%s>%s",
	    c->conf.mail_from, size);
}

/* send_rcpts - one RCPT, or all of them when the server pipelines */
static void
send_rcpts(struct smtp_client *c)
{
	set_stage(c, SMTP_ST_RCPT);
	do {
		send_line(c, "RCPT TO:<%s>", c->conf.rcpts[c->rcpt_sent]);
		c->rcpt_sent++;
	} while ((c->res.ext & SMTP_EXT_PIPELINING) &&
	    c->rcpt_sent < c->conf.nrcpt);
	arm_timer(c, c->conf.t.rcpt);
}

static void
send_quit(struct smtp_client *c)
{
	send_cmd(c, SMTP_ST_QUIT, c->conf.t.quit, "QUIT");
}

/* client_proceed - after (E)HLO and any TLS: do the job */
static void
client_proceed(struct smtp_client *c)
{
	if (c->conf.job == SMTP_JOB_CHECK || c->conf.nrcpt == 0)
		send_quit(c);
	else
		send_mail(c);
}

/* after_ehlo - EHLO or HELO accepted: STARTTLS or on with the job */
static void
after_ehlo(struct smtp_client *c)
{
	if (c->res.tls || c->conf.tls_mode == SMTP_TLS_NONE) {
		client_proceed(c);
		return;
	}
	if (c->res.ext & SMTP_EXT_STARTTLS) {
		send_cmd(c, SMTP_ST_STARTTLS, c->conf.t.starttls, "STARTTLS");
		return;
	}
	if (c->conf.tls_mode == SMTP_TLS_MUST) {
		c->res.no_starttls = 1;
		client_fail(c, 1, "STARTTLS is required but the server does "
		    "not offer it");
		return;
	}
	client_proceed(c);
}

/*
 * data_fill - encode more of the message into the output buffer, until it
 * holds DATA_HIGH octets; after the last octet, the final "." line. The
 * write watermark calls this again once the buffer drained to DATA_LOW.
 */
static void
data_fill(struct smtp_client *c)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec	 v;
	const char		*p;
	size_t			 n;

	while (!c->body_done && evbuffer_get_length(out) < DATA_HIGH) {
		if (c->body_off == c->conf.body.len) {
			if (evbuffer_reserve_space(out, 8, &v, 1) < 1)
				goto nomem;
			n = smtp_enc_end(&c->enc, v.iov_base);
			memcpy((char *)v.iov_base + n, ".\r\n", 3);
			v.iov_len = n + 3;
			if (evbuffer_commit_space(out, &v, 1) == -1)
				goto nomem;
			c->body_done = 1;
			chunk_free(c);
			/* Now the write callback means: all of it has gone. */
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			return;
		}
		if ((p = body_piece(c, c->body_off, &n)) == NULL)
			return;		/* failed: no "." is ever sent */
		if (evbuffer_reserve_space(out, SMTP_ENC_MAX(n), &v, 1) < 1)
			goto nomem;
		v.iov_len = smtp_enc_chunk(&c->enc, p, n, v.iov_base);
		if (evbuffer_commit_space(out, &v, 1) == -1)
			goto nomem;
		c->body_off += n;
	}
	return;
nomem:
	client_fail(c, 1, "out of memory");
}

static void
send_data(struct smtp_client *c)
{
	struct timeval	 tv = { (time_t)c->conf.t.data_block, 0 };

	set_stage(c, SMTP_ST_DOT);
	transcript(c, "C", "(message)", 9);
	smtp_enc_init(&c->enc);
	c->body_off = 0;
	c->body_done = c->data_cut = 0;
	/* Each block must leave within data_block; the reply timer starts
	 * when the last byte has gone (client_write). */
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	evtimer_del(c->timer);
	bufferevent_setwatermark(c->bev, EV_WRITE, DATA_LOW, 0);
	data_fill(c);
}

/* handle_reply - a complete reply arrived; 0 to read on, -1 if done */
static int
handle_reply(struct smtp_client *c)
{
	struct smtp_ehlo	 e;
	struct smtp_rcpt_result	*rr;
	int			 code = c->reply.code;

	evtimer_del(c->timer);
	c->res.code = code;
	strlcpy_(c->res.enhanced, c->reply.enhanced, sizeof(c->res.enhanced));
	smtp_reply_first_line(&c->reply, c->res.reply, sizeof(c->res.reply));

	switch (c->stage) {
	case SMTP_ST_GREETING:
		if (code != 220) {
			fail_reply(c, "greeting");
			return -1;
		}
		send_cmd(c, SMTP_ST_EHLO, c->conf.t.ehlo, "EHLO %s",
		    c->conf.helo);
		break;
	case SMTP_ST_EHLO:
	case SMTP_ST_EHLO_TLS:
		if (code == 250) {
			smtp_ehlo_parse(&c->reply, &e);
			c->res.ext = e.ext;
			after_ehlo(c);
		} else if (code >= 500 && c->stage == SMTP_ST_EHLO) {
			send_cmd(c, SMTP_ST_HELO, c->conf.t.ehlo, "HELO %s",
			    c->conf.helo);
		} else {
			fail_reply(c, "EHLO");
			return -1;
		}
		break;
	case SMTP_ST_HELO:
		if (code != 250) {
			fail_reply(c, "HELO");
			return -1;
		}
		c->res.ext = 0;
		after_ehlo(c);
		break;
	case SMTP_ST_STARTTLS:
		if (code == 220) {
			start_tls(c);
			return -1;	/* the plaintext buffer is gone */
		}
		if (c->conf.tls_mode == SMTP_TLS_MUST) {
			c->res.no_starttls = 1;
			fail_reply(c, "STARTTLS");
			return -1;
		}
		client_proceed(c);
		break;
	case SMTP_ST_RSET:
		if (code != 250) {
			fail_reply(c, "RSET");
			return -1;
		}
		send_mail(c);
		break;
	case SMTP_ST_MAIL:
		if (code != 250) {
			refused(c, "MAIL FROM");
			return -1;
		}
		send_rcpts(c);
		break;
	case SMTP_ST_RCPT:
		rr = &c->res.rcpt[c->rcpt_done++];
		rr->code = code;
		strlcpy_(rr->enhanced, c->reply.enhanced, sizeof(rr->enhanced));
		strlcpy_(rr->text, c->res.reply, sizeof(rr->text));
		if (code == 250 || code == 251)
			c->res.naccepted++;
		if (c->rcpt_done < c->rcpt_sent) {
			arm_timer(c, c->conf.t.rcpt);
			break;
		}
		if (c->rcpt_sent < c->conf.nrcpt) {
			send_rcpts(c);
			break;
		}
		if (c->conf.job == SMTP_JOB_PROBE)
			send_quit(c);
		else if (c->res.naccepted == 0) {
			refused(c, "RCPT TO (no recipient accepted)");
			return -1;
		} else
			send_cmd(c, SMTP_ST_DATA, c->conf.t.data_init, "DATA");
		break;
	case SMTP_ST_DATA:
		if (code != 354) {
			refused(c, "DATA");
			return -1;
		}
		send_data(c);
		break;
	case SMTP_ST_DOT:
		c->res.dot_code = code;
		strlcpy_(c->res.dot_enhanced, c->reply.enhanced,
		    sizeof(c->res.dot_enhanced));
		strlcpy_(c->res.dot_reply, c->res.reply,
		    sizeof(c->res.dot_reply));
		if (code != 250) {
			refused(c, "end of data");
			return -1;
		}
		if (c->conf.keep) {
			c->res.reusable = 1;	/* park; no QUIT */
			client_finish(c);
			return -1;
		}
		send_quit(c);
		break;
	case SMTP_ST_QUIT:
		client_finish(c);
		return -1;
	default:
		client_fail(c, 1, "unexpected reply %d during %s", code,
		    smtp_stage_str(c->stage));
		return -1;
	}
	if (c->dead)
		return -1;
	smtp_reply_reset(&c->reply);
	return 0;
}

/* client_read - split input into lines and feed the reply parser */
static void
client_read(struct bufferevent *bev, void *arg)
{
	struct smtp_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 eol;
	char			 line[SMTP_LINE_MAX + 3];
	const char		*err = "";
	size_t			 eol_len, len;

	if (c->idle) {
		/* Parked: a 421 or any other text means it is closing. */
		c->broken = 1;
		evbuffer_drain(in, evbuffer_get_length(in));
		bufferevent_disable(bev, EV_READ);
		return;
	}
	for (;;) {
		if (c->dead)
			return;
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > SMTP_LINE_MAX) {
				client_fail(c, 1, "protocol error during %s: "
				    "reply line longer than %d octets",
				    smtp_stage_str(c->stage), SMTP_LINE_MAX);
			}
			return;
		}
		len = (size_t)eol.pos;
		if (len > SMTP_LINE_MAX) {
			client_fail(c, 1, "protocol error during %s: reply "
			    "line longer than %d octets",
			    smtp_stage_str(c->stage), SMTP_LINE_MAX);
			return;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		transcript(c, "S", line, len);
		if (c->stage == SMTP_ST_DOT && (!c->body_done ||
		    evbuffer_get_length(bufferevent_get_output(bev)) > 0)) {
			/* A reply before the message has gone (e.g. 552):
			 * it is the answer; stop sending the rest. */
			evbuffer_drain(bufferevent_get_output(bev),
			    evbuffer_get_length(bufferevent_get_output(bev)));
			bufferevent_set_timeouts(bev, NULL, NULL);
			bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
			c->body_done = c->data_cut = 1;
		}
		if (c->stage == SMTP_ST_CONNECT || c->stage == SMTP_ST_DONE) {
			client_fail(c, 1, "protocol error: unexpected text "
			    "from the server during %s",
			    smtp_stage_str(c->stage));
			return;
		}
		switch (smtp_reply_feed(&c->reply, line, len, &err)) {
		case SMTP_REPLY_MORE:
			break;
		case SMTP_REPLY_DONE:
			if (handle_reply(c) == -1)
				return;
			break;
		case SMTP_REPLY_ERROR:
			client_fail(c, 1, "protocol error during %s: %s",
			    smtp_stage_str(c->stage), err);
			return;
		}
	}
}

/*
 * client_write - output drained (to DATA_LOW while the message streams):
 * more of the message, or, once all of it has gone, await the reply
 */
static void
client_write(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	if (c->dead || c->stage != SMTP_ST_DOT)
		return;
	if (!c->body_done) {
		data_fill(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    !evtimer_pending(c->timer, NULL)) {
		bufferevent_set_timeouts(bev, NULL, NULL);
		arm_timer(c, c->conf.t.data_end);
	}
}

static void
ssl_errors(char *out, size_t outlen)
{
	unsigned long	 e;
	size_t		 n = 0;

	out[0] = '\0';
	while ((e = ERR_get_error()) != 0 && n + 2 < outlen) {
		snprintf(out + n, outlen - n, "%s%s", n ? "; " : "",
		    ERR_reason_error_string(e) ? ERR_reason_error_string(e) :
		    "unknown TLS error");
		n = strlen(out);
	}
}

/* client_event - connected, handshake done, EOF, error or write timeout */
static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client	*c = arg;
	char			 why[512];
	int			 e = EVUTIL_SOCKET_ERROR();
	unsigned long		 se;

	if (c->dead)
		return;
	if (c->idle) {
		c->broken = 1;		/* closed or failed while parked */
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (c->stage == SMTP_ST_CONNECT) {
			set_stage(c, SMTP_ST_GREETING);
			arm_timer(c, c->conf.t.greeting);
			return;
		}
		if (c->stage == SMTP_ST_TLS) {
			evtimer_del(c->timer);
			why[0] = '\0';
			if (c->conf.tls_check(c->conf.arg, c->ssl, 1, why,
			    sizeof(why)) == -1) {
				client_fail(c, 1, "%s", why[0] ? why :
				    "TLS peer not accepted");
				return;
			}
			c->res.tls = 1;
			strlcpy_(c->res.tls_version, SSL_get_version(c->ssl),
			    sizeof(c->res.tls_version));
			strlcpy_(c->res.tls_cipher, SSL_get_cipher_name(c->ssl),
			    sizeof(c->res.tls_cipher));
			send_cmd(c, SMTP_ST_EHLO_TLS, c->conf.t.ehlo, "EHLO %s",
			    c->conf.helo);
			return;
		}
	}
	if (what & BEV_EVENT_TIMEOUT) {
		client_fail(c, 1, "timeout sending the message");
		return;
	}
	if (c->stage == SMTP_ST_TLS) {
		ssl_errors(why, sizeof(why));
		/* What the TLS bufferevent took off OpenSSL's queue, e.g.
		 * "unsupported protocol" below our floor (tls_policy.c). */
		while (why[0] == '\0' &&
		    (se = bufferevent_get_openssl_error(bev)) != 0)
			if (ERR_reason_error_string(se) != NULL)
				strlcpy_(why, ERR_reason_error_string(se),
				    sizeof(why));
		if (c->conf.tls_check != NULL)
			c->conf.tls_check(c->conf.arg, c->ssl, 0, why,
			    sizeof(why));
		client_fail(c, 1, "TLS handshake failed: %s",
		    why[0] ? why : "connection closed");
		return;
	}
	if (c->stage == SMTP_ST_QUIT) {
		client_finish(c);	/* closing after QUIT is fine */
		return;
	}
	if (what & BEV_EVENT_EOF) {
		client_fail(c, 1, "lost connection during %s",
		    smtp_stage_str(c->stage));
		return;
	}
	if (c->stage == SMTP_ST_CONNECT) {
		client_fail(c, 1, "cannot connect: %s",
		    evutil_socket_error_to_string(e));
		return;
	}
	if (c->ssl != NULL && (se = bufferevent_get_openssl_error(bev)) != 0) {
		client_fail(c, 1, "TLS error during %s: %s",
		    smtp_stage_str(c->stage), ERR_reason_error_string(se) ?
		    ERR_reason_error_string(se) : "unknown");
		return;
	}
	if (e == 0 || e == EPIPE || e == ECONNRESET)
		client_fail(c, 1, "lost connection during %s",
		    smtp_stage_str(c->stage));
	else
		client_fail(c, 1, "connection error during %s: %s",
		    smtp_stage_str(c->stage), evutil_socket_error_to_string(e));
}

/* client_timeout - a reply did not complete in time */
static void
client_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_client *c = arg;

	(void)fd;
	(void)ev;
	if (c->dead)
		return;
	client_fail(c, 1, "timeout during %s", smtp_stage_str(c->stage));
}

/* cmd_arg_ok - printable, no CR/LF/NUL, not too long (RFC 5321 4.5.3.1) */
static int
cmd_arg_ok(const char *s, size_t max)
{
	const unsigned char *p;

	if (s == NULL || strlen(s) > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/*
 * txn_prepare - check a transaction's sender, recipients and message for
 * use in SMTP and allocate the recipients' results. 0, or -1 with err
 * and nothing allocated.
 */
static int
txn_prepare(int send, const char *mail_from, const char * const *rcpts,
    size_t nrcpt, const struct smtp_body *body,
    struct smtp_rcpt_result **rr, char *err, size_t errlen)
{
	size_t	 i;

	*rr = NULL;
	if (!cmd_arg_ok(mail_from, SMTP_PATH_MAX)) {
		snprintf(err, errlen, "sender unusable in SMTP");
		return -1;
	}
	for (i = 0; i < nrcpt; i++) {
		if (!cmd_arg_ok(rcpts[i], SMTP_PATH_MAX)) {
			snprintf(err, errlen, "recipient unusable in SMTP");
			return -1;
		}
	}
	if (send && body->mem == NULL && body->read == NULL &&
	    body->len > 0) {
		snprintf(err, errlen, "no message to send");
		return -1;
	}
	if (nrcpt > 0 && (*rr = calloc(nrcpt, sizeof(**rr))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* smtp_client_start - open a session; NULL with err if it cannot start */
struct smtp_client *
smtp_client_start(struct event_base *base, const struct smtp_client_conf *conf,
    char *err, size_t errlen)
{
	struct smtp_client	*c;

	if (!cmd_arg_ok(conf->helo, 255)) {
		snprintf(err, errlen, "HELO name unusable in SMTP");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (txn_prepare(conf->job == SMTP_JOB_SEND, conf->mail_from,
	    conf->rcpts, conf->nrcpt, &conf->body, &c->res.rcpt, err,
	    errlen) == -1) {
		free(c);
		return NULL;
	}
	c->base = base;
	c->conf = *conf;
	c->fd = -1;
	smtp_reply_init(&c->reply);
	buf_init(&c->res.transcript, TRANSCRIPT_MAX);
	c->res.nrcpt = conf->nrcpt;
	if ((c->timer = evtimer_new(base, client_timeout, c)) == NULL ||
	    (c->fin = evtimer_new(base, finish_cb, c)) == NULL)
		goto nomem;
	c->fd = socket(conf->addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	evutil_make_socket_nonblocking(c->fd);
	if (conf->src != NULL && bind(c->fd, conf->src, conf->srclen) == -1) {
		snprintf(err, errlen, "bind to the source address: %s",
		    strerror(errno));
		goto fail;
	}
	if ((c->bev = bufferevent_socket_new(base, c->fd, 0)) == NULL)
		goto nomem;
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	set_stage(c, SMTP_ST_CONNECT);
	arm_timer(c, conf->t.connect);
	if (bufferevent_socket_connect(c->bev, conf->addr,
	    (int)conf->addrlen) == -1) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto fail;
	}
	return c;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	client_free(c);
	return NULL;
}

/* smtp_client_abort - end the session now, without calling done() */
void
smtp_client_abort(struct smtp_client *c)
{
	client_free(c);
}

/* smtp_client_quitting - sessions still saying QUIT */
size_t
smtp_client_quitting(void)
{
	struct smtp_client	*c;
	size_t			 n = 0;

	LIST_FOREACH(c, &quitting, qentry)
		n++;
	return n;
}

/* smtp_client_quitting_free - close what still says QUIT (at exit) */
void
smtp_client_quitting_free(void)
{
	while (!LIST_EMPTY(&quitting))
		client_free(LIST_FIRST(&quitting));
}

/*
 * smtp_client_next - the next transaction over a parked session; done()
 * is called for it as for the first. -1 with err if the arguments are
 * unusable (the session stays parked).
 */
int
smtp_client_next(struct smtp_client *c, const char *mail_from,
    const char * const *rcpts, size_t nrcpt, const struct smtp_body *body,
    char *err, size_t errlen)
{
	struct smtp_rcpt_result	*rr;

	if (!c->idle || nrcpt == 0) {
		snprintf(err, errlen, "no parked session or no recipient");
		return -1;
	}
	if (txn_prepare(1, mail_from, rcpts, nrcpt, body, &rr, err,
	    errlen) == -1)
		return -1;
	chunk_free(c);
	free(c->res.rcpt);
	c->res.rcpt = rr;
	c->res.nrcpt = nrcpt;
	c->res.naccepted = 0;
	c->res.ok = c->res.temporary = c->res.reusable = 0;
	c->res.code = c->res.fail_code = c->res.dot_code = 0;
	c->res.enhanced[0] = c->res.reply[0] = c->res.error[0] = '\0';
	c->res.dot_enhanced[0] = c->res.dot_reply[0] = '\0';
	buf_reset(&c->res.transcript);
	c->conf.mail_from = mail_from;
	c->conf.rcpts = rcpts;
	c->conf.nrcpt = nrcpt;
	c->conf.body = *body;
	c->rcpt_sent = c->rcpt_done = 0;
	c->failed = c->dead = c->idle = 0;
	smtp_reply_reset(&c->reply);
	if (c->broken) {
		set_stage(c, SMTP_ST_MAIL);
		client_fail(c, 1, "lost connection while idle between messages");
		return 0;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->need_rset) {
		c->need_rset = 0;
		send_cmd(c, SMTP_ST_RSET, c->conf.t.mail, "RSET");
	} else
		send_mail(c);
	return 0;
}

/* smtp_client_quit - end a parked session politely; no more done() */
void
smtp_client_quit(struct smtp_client *c)
{
	if (!c->idle || c->broken) {
		client_free(c);
		return;
	}
	c->silent = 1;
	LIST_INSERT_HEAD(&quitting, c, qentry);
	c->idle = c->dead = c->failed = 0;
	smtp_reply_reset(&c->reply);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	send_quit(c);
}
