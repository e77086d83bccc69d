/*
 * smtpd_session.c - a listener's session: its life from the 220 to the
 * close, reading what the client sends as far as the session may go
 * (the line splitter of smtpd_proto.c turns octets into commands and
 * message content), its replies, and the limits on it: a session's
 * life (smtpd_session_time_limit), errors (every 4xx or 5xx reply is
 * one; past smtpd_soft_error_limit replies wait smtpd_error_sleep_time
 * on a timer, past smtpd_hard_error_limit the session ends with 421)
 * and replies the client does not read (input is not read while more
 * than OUT_HIGH octets of replies wait). A line ends only at CRLF: a
 * bare LF or CR ends the session with 550.
 *
 * Ownership: a session owns its bufferevent, its timers, the replies a
 * sleep holds and its transaction (smtpd_cmd.c); smtpd_session_free()
 * frees it all. A commit in flight then completes (its message stays
 * queued, at least once); only its reply is dropped.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "log/log.h"
#include "server/smtpd_int.h"
#include "util/util.h"

/*
 * smtpd_reply - queue one reply line (CRLF added). Every 4xx and 5xx reply is
 * an error; past smtpd_soft_error_limit errors, replies are held back
 * for the sleep (smtpd_session_read() starts it).
 */
void
smtpd_reply(struct session *s, const char *fmt, ...)
{
	const struct dmx_conf	*c = s->d->conf;
	struct evbuffer		*out = bufferevent_get_output(s->bev);
	va_list			 ap;

	if (fmt[0] == '4' || fmt[0] == '5')
		s->errors++;
	if (s->state != S_CLOSING && c->smtpd_error_sleep_time > 0 &&
	    s->errors > 0 && s->errors >= c->smtpd_soft_error_limit) {
		if (s->held == NULL)
			s->held = evbuffer_new();
		if (s->held != NULL)
			out = s->held;
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* output_pending - bytes not yet on the wire (TLS: in either layer) */
static size_t
output_pending(struct session *s)
{
	struct bufferevent	*u = bufferevent_get_underlying(s->bev);
	size_t			 n;

	n = evbuffer_get_length(bufferevent_get_output(s->bev));
	if (u != NULL)
		n += evbuffer_get_length(bufferevent_get_output(u));
	return n;
}

/*
 * close_check - free the session once its replies are out: at once if
 * nothing is left, else when the write callback says the output has
 * drained (TLS: the lower layer is polled, for CLOSE_SECONDS at most).
 */
static void
close_check(struct session *s)
{
	struct timeval	 now = { 0, 0 }, poll = { 0, 50000 };

	if (output_pending(s) == 0)
		evtimer_add(s->closer, &now);	/* not from inside a callback */
	else if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		evtimer_add(s->closer, &poll);
}

static void
closer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	if (output_pending(s) == 0 || ++s->close_ticks > CLOSE_SECONDS * 20)
		smtpd_session_free(s);
	else
		close_check(s);
}

/* smtpd_close_after_output - hang up once the replies are on the wire */
void
smtpd_close_after_output(struct session *s)
{
	struct timeval	 tv = { CLOSE_SECONDS, 0 };

	if (s->state == S_CLOSING)
		return;
	s->state = S_CLOSING;
	if (s->held != NULL)
		evbuffer_add_buffer(bufferevent_get_output(s->bev), s->held);
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	close_check(s);
}

/* hang_up - a protocol violation: say so, log it, end the session */
static void
hang_up(struct session *s, const char *why, const char *text)
{
	log_info("smtpd: %s: %s%s; session ended", s->addr, why,
	    s->state == S_DATA ? " in DATA (message not queued)" : "");
	smtpd_reply(s, "%s", text);
	smtpd_close_after_output(s);
}

/* paused - reasons not to read: closing, committing, sleeping, full */
static int
paused(const struct session *s)
{
	return s->state == S_CLOSING || s->state == S_COMMIT ||
	    s->sleeping || s->out_paused;
}

static void
sleep_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	s->sleeping = 0;
	if (s->held != NULL)
		evbuffer_add_buffer(bufferevent_get_output(s->bev), s->held);
	smtpd_session_read(s->bev, s);
}

/*
 * smtpd_after_command - what a command's replies mean for the session: too
 * many errors end it; past the soft limit the replies wait on a timer;
 * replies the client does not read stop the reading.
 */
void
smtpd_after_command(struct session *s)
{
	const struct dmx_conf	*c = s->d->conf;
	struct timeval		 tv;

	if (s->state == S_CLOSING)
		return;
	if (s->errors >= c->smtpd_hard_error_limit) {
		log_info("smtpd: %s: too many errors (%lu, "
		    "smtpd_hard_error_limit); session ended", s->addr,
		    s->errors);
		smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
		    s->d->host);
		smtpd_close_after_output(s);
		return;
	}
	if (s->held != NULL && evbuffer_get_length(s->held) > 0 &&
	    !s->sleeping) {
		if (s->sleep == NULL &&
		    (s->sleep = evtimer_new(s->d->base, sleep_cb, s)) == NULL) {
			evbuffer_add_buffer(bufferevent_get_output(s->bev),
			    s->held);
		} else {
			tv.tv_sec = (time_t)c->smtpd_error_sleep_time;
			tv.tv_usec = 0;
			s->sleeping = 1;
			evtimer_add(s->sleep, &tv);
		}
	}
	if (output_pending(s) > OUT_HIGH)
		s->out_paused = 1;
}

/*
 * smtpd_session_read - take what the client sent, as far as the session may
 * go now; then read on only if nothing pauses it.
 */
void
smtpd_session_read(struct bufferevent *bev, void *arg)
{
	struct session		*s = arg;
	struct evbuffer		*in;
	struct evbuffer_iovec	 v;
	enum smtpd_in_ev	 ev;
	size_t			 used;

	(void)bev;
	while (!paused(s)) {
		in = bufferevent_get_input(s->bev);	/* STARTTLS changes it */
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		ev = smtpd_in_scan(&s->in, v.iov_base, v.iov_len, &used,
		    &s->wbuf);
		evbuffer_drain(in, used);
		switch (ev) {
		case SMTPD_IN_MORE:
			break;
		case SMTPD_IN_FLUSH:
			smtpd_data_flush(s);
			break;
		case SMTPD_IN_COMMAND:
			smtpd_command(s, s->in.cmd, s->in.cmdlen);
			smtpd_after_command(s);
			break;
		case SMTPD_IN_DATA_END:
			smtpd_data_end(s);
			smtpd_after_command(s);
			break;
		case SMTPD_IN_TOO_LONG:
			if (s->state == S_DATA)
				s->too_long = 1;	/* refused at the end */
			else
				hang_up(s, "command line too long",
				    "500 5.5.2 Line too long");
			break;
		case SMTPD_IN_BARE_LF:
			hang_up(s, "bare LF received",
			    "550 5.5.2 Error: bare <LF> received; lines end "
			    "with <CR><LF> (RFC 5321 2.3.8)");
			break;
		case SMTPD_IN_BARE_CR:
			hang_up(s, "bare CR received",
			    "550 5.5.2 Error: bare <CR> received; lines end "
			    "with <CR><LF> (RFC 5321 2.3.8)");
			break;
		case SMTPD_IN_NOMEM:
			hang_up(s, "out of memory",
			    "421 4.3.0 Out of memory, try again later");
			break;
		}
	}
	if (s->state == S_CLOSING || paused(s) == !s->reading)
		return;
	s->reading = !paused(s);
	if (s->reading)
		bufferevent_enable(s->bev, EV_READ);
	else
		bufferevent_disable(s->bev, EV_READ);
}

/* smtpd_session_write - the output has drained: go on reading, or close */
void
smtpd_session_write(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	(void)bev;
	if (s->state == S_CLOSING)
		close_check(s);
	else if (s->out_paused) {
		s->out_paused = 0;
		smtpd_session_read(s->bev, s);
	}
}

void
smtpd_session_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {	/* the TLS handshake is done */
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		log_debug("smtpd: %s: TLS %s %s", s->addr,
		    ssl ? SSL_get_version(ssl) : "?",
		    ssl ? SSL_get_cipher_name(ssl) : "?");
		return;
	}
	if (s->state == S_CLOSING) {
		smtpd_session_free(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		smtpd_reply(s, "421 4.4.2 %s Timeout exceeded", s->d->host);
		if (s->held != NULL)
			evbuffer_add_buffer(bufferevent_get_output(s->bev),
			    s->held);
		bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
	}
	if (s->state == S_DATA)
		log_info("smtpd: lost connection after DATA from %s: message "
		    "not queued", s->addr);
	else if (s->state == S_COMMIT)
		log_info("smtpd: lost connection from %s while its message "
		    "was being queued", s->addr);
	smtpd_session_free(s);
}

/* deadline_cb - smtpd_session_time_limit has passed */
static void
deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	if (s->state == S_CLOSING)
		return;
	log_info("smtpd: %s: session time limit (%lus, "
	    "smtpd_session_time_limit) reached%s; session ended", s->addr,
	    s->d->conf->smtpd_session_time_limit, s->state == S_DATA ?
	    " in DATA (message not queued)" : "");
	if (s->state == S_COMMIT) {
		s->time_up = 1;		/* commit_done() says 421 */
		return;
	}
	smtpd_reply(s, "421 4.4.2 %s Error: session time limit exceeded",
	    s->d->host);
	smtpd_close_after_output(s);
}

void
smtpd_session_free(struct session *s)
{
	struct smtpd	*d = s->d;

	/* A commit in flight completes; only its reply is dropped. */
	queue_job_cancel(s->job);
	s->job = NULL;
	smtpd_txn_reset(s);
	buf_free(&s->wbuf);
	if (s->closer != NULL)
		event_free(s->closer);
	if (s->deadline != NULL)
		event_free(s->deadline);
	if (s->sleep != NULL)
		event_free(s->sleep);
	if (s->held != NULL)
		evbuffer_free(s->held);
	if (s->cl != NULL)
		s->cl->conns--;
	TAILQ_REMOVE(&d->sessions, s, entry);
	d->nsess--;
	bufferevent_free(s->bev);
	free(s);
	/* A session and a descriptor are free: accept again if paused. */
	d->fd_paused = 0;
	smtpd_listeners_update(d);
}

/*
 * smtpd_session_start - a session for a connection accepted from sa
 * (counted against client cl, NULL when not limited; relay_ok: inside
 * mynetworks), greeted with 220. Out of memory, the connection is just
 * closed.
 */
void
smtpd_session_start(struct smtpd *d, evutil_socket_t fd,
    const struct sockaddr *sa, int salen, struct client *cl, int relay_ok)
{
	const char	*bare = d->conf->smtpd_forbid_bare_newline ?
			    d->conf->smtpd_forbid_bare_newline : "yes";
	struct session	*s;
	struct timeval	 tv;
	const void	*a;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	s->d = d;
	memcpy(&s->ss, sa, (size_t)salen < sizeof(s->ss) ? (size_t)salen :
	    sizeof(s->ss));
	a = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->
	    sin6_addr :
	    (const void *)&((const struct sockaddr_in *)(const void *)sa)->
	    sin_addr;
	inet_ntop(sa->sa_family, a, s->addr, sizeof(s->addr));
	s->relay_ok = relay_ok;
	smtpd_in_init(&s->in, d->conf->smtpd_line_length_limit,
	    strcmp(bare, "no") == 0 || (relay_ok &&
	    strcmp(bare, "mynetworks-exempt") == 0));
	buf_init(&s->wbuf, WBUF_MAX);
	if ((s->bev = bufferevent_socket_new(d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (s->closer = evtimer_new(d->base, closer_cb, s)) == NULL ||
	    (s->deadline = evtimer_new(d->base, deadline_cb, s)) == NULL) {
		if (s->closer != NULL)
			event_free(s->closer);
		if (s->bev != NULL)
			bufferevent_free(s->bev);
		else
			evutil_closesocket(fd);
		free(s);
		return;
	}
	s->cl = cl;
	if (cl != NULL)
		cl->conns++;
	TAILQ_INSERT_TAIL(&d->sessions, s, entry);
	d->nsess++;
	smtpd_listeners_update(d);
	bufferevent_setcb(s->bev, smtpd_session_read, smtpd_session_write,
	    smtpd_session_event, s);
	tv.tv_sec = (time_t)d->conf->smtp_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->reading = 1;
	tv.tv_sec = (time_t)d->conf->smtpd_session_time_limit;
	evtimer_add(s->deadline, &tv);
	s->state = S_GREET;
	smtpd_reply(s, "220 %s ESMTP danemx", d->host);
}
