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

#include <arpa/inet.h>
#include <netinet/in.h>

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
#include "smtp/smtp_int.h"

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

/* smtp_set_stage - the only place the stage changes */
void
smtp_set_stage(struct smtp_client *c, enum smtp_stage st)
{
	log_debug("smtp %s: %s -> %s", c->conf.peer_name,
	    smtp_stage_str(c->stage), smtp_stage_str(st));
	c->stage = st;
	c->res.stage = st;
}

/* smtp_transcript - one line each way, the server's made printable */
void
smtp_transcript(struct smtp_client *c, const char *dir, const char *line,
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

void
smtp_arm_timer(struct smtp_client *c, unsigned secs)
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
 * smtp_finish - the session is over: stop all I/O now, report the
 * result and free the session from the loop, so that no caller up the
 * stack can touch freed memory.
 */
void
smtp_finish(struct smtp_client *c)
{
	struct timeval tv = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	if (!c->failed) {
		c->res.ok = 1;
		smtp_set_stage(c, SMTP_ST_DONE);
	}
	evtimer_del(c->timer);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->fin, &tv);
}

/* smtp_send_line - queue one command line (without CRLF) */
void
smtp_send_line(struct smtp_client *c, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	smtp_transcript(c, "C", line, (size_t)n);
	evbuffer_add(bufferevent_get_output(c->bev), line, (size_t)n);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
}

/* smtp_fail - end the session with a reason; the connection closes */
void
smtp_fail(struct smtp_client *c, int temporary, const char *fmt, ...)
{
	va_list	 ap;

	if (c->dead)
		return;
	if (c->stage == SMTP_ST_QUIT && c->conf.job != SMTP_JOB_CHECK &&
	    (c->conf.job != SMTP_JOB_SEND || c->res.dot_code == 250)) {
		/* The job was done before QUIT: how QUIT ends is moot. */
		smtp_finish(c);
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
	smtp_finish(c);
}




/* smtp_start_tls - swap the plaintext bufferevent for a TLS one */
void
smtp_start_tls(struct smtp_client *c)
{
	struct timeval	 tv = { (time_t)c->conf.t.tls, 0 };

	/* Drop whatever the server sent after its 220 (RFC 3207 4.2). */
	smtp_reply_reset(&c->reply);
	bufferevent_free(c->bev);
	c->bev = NULL;
	smtp_set_stage(c, SMTP_ST_TLS);
	if ((c->ssl = c->conf.tls_begin(c->conf.arg)) == NULL) {
		smtp_fail(c, 1, "cannot set up TLS");
		return;
	}
	/* A peer that just closes is a lost connection, not a TLS error;
	 * replies are whole lines, so truncation cannot fake one. */
	SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	c->bev = bufferevent_openssl_socket_new(c->base, c->fd, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, 0);
	if (c->bev == NULL) {
		smtp_fail(c, 1, "cannot start TLS on the connection");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &tv);
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
				smtp_fail(c, 1, "protocol error during %s: "
				    "reply line longer than %d octets",
				    smtp_stage_str(c->stage), SMTP_LINE_MAX);
			}
			return;
		}
		len = (size_t)eol.pos;
		if (len > SMTP_LINE_MAX) {
			smtp_fail(c, 1, "protocol error during %s: reply "
			    "line longer than %d octets",
			    smtp_stage_str(c->stage), SMTP_LINE_MAX);
			return;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		smtp_transcript(c, "S", line, len);
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
			smtp_fail(c, 1, "protocol error: unexpected text "
			    "from the server during %s",
			    smtp_stage_str(c->stage));
			return;
		}
		switch (smtp_reply_feed(&c->reply, line, len, &err)) {
		case SMTP_REPLY_MORE:
			break;
		case SMTP_REPLY_DONE:
			if (smtp_handle_reply(c) == -1)
				return;
			break;
		case SMTP_REPLY_ERROR:
			smtp_fail(c, 1, "protocol error during %s: %s",
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
		smtp_data_fill(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    !evtimer_pending(c->timer, NULL)) {
		bufferevent_set_timeouts(bev, NULL, NULL);
		smtp_arm_timer(c, c->conf.t.data_end);
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

/* note_local - our end of the connection (TLS reports' sending IP) */
static void
note_local(struct smtp_client *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const void		*a = NULL;

	c->res.local_addr[0] = '\0';
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss.ss_family, a, c->res.local_addr,
	    sizeof(c->res.local_addr)) == NULL)
		c->res.local_addr[0] = '\0';
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
			note_local(c);
			smtp_set_stage(c, SMTP_ST_GREETING);
			smtp_arm_timer(c, c->conf.t.greeting);
			return;
		}
		if (c->stage == SMTP_ST_TLS) {
			evtimer_del(c->timer);
			why[0] = '\0';
			if (c->conf.tls_check(c->conf.arg, c->ssl, 1, why,
			    sizeof(why)) == -1) {
				smtp_fail(c, 1, "%s", why[0] ? why :
				    "TLS peer not accepted");
				return;
			}
			c->res.tls = 1;
			strlcpy_(c->res.tls_version, SSL_get_version(c->ssl),
			    sizeof(c->res.tls_version));
			strlcpy_(c->res.tls_cipher, SSL_get_cipher_name(c->ssl),
			    sizeof(c->res.tls_cipher));
			smtp_send_cmd(c, SMTP_ST_EHLO_TLS, c->conf.t.ehlo, "EHLO %s",
			    c->conf.helo);
			return;
		}
	}
	if (what & BEV_EVENT_TIMEOUT) {
		smtp_fail(c, 1, "timeout sending the message");
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
		smtp_fail(c, 1, "TLS handshake failed: %s",
		    why[0] ? why : "connection closed");
		return;
	}
	if (c->stage == SMTP_ST_QUIT) {
		smtp_finish(c);	/* closing after QUIT is fine */
		return;
	}
	if (what & BEV_EVENT_EOF) {
		smtp_fail(c, 1, "lost connection during %s",
		    smtp_stage_str(c->stage));
		return;
	}
	if (c->stage == SMTP_ST_CONNECT) {
		smtp_fail(c, 1, "cannot connect: %s",
		    evutil_socket_error_to_string(e));
		return;
	}
	if (c->ssl != NULL && (se = bufferevent_get_openssl_error(bev)) != 0) {
		smtp_fail(c, 1, "TLS error during %s: %s",
		    smtp_stage_str(c->stage), ERR_reason_error_string(se) ?
		    ERR_reason_error_string(se) : "unknown");
		return;
	}
	if (e == 0 || e == EPIPE || e == ECONNRESET)
		smtp_fail(c, 1, "lost connection during %s",
		    smtp_stage_str(c->stage));
	else
		smtp_fail(c, 1, "connection error during %s: %s",
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
	smtp_fail(c, 1, "timeout during %s", smtp_stage_str(c->stage));
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
	smtp_set_stage(c, SMTP_ST_CONNECT);
	smtp_arm_timer(c, conf->t.connect);
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
	smtp_chunk_free(c);
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
		smtp_set_stage(c, SMTP_ST_MAIL);
		smtp_fail(c, 1, "lost connection while idle between messages");
		return 0;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->need_rset) {
		c->need_rset = 0;
		smtp_send_cmd(c, SMTP_ST_RSET, c->conf.t.mail, "RSET");
	} else
		smtp_send_mail(c);
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
	smtp_send_quit(c);
}
