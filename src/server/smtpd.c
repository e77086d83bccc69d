/*
 * smtpd.c - the relay's inbound SMTP server.
 *
 * ESMTP with SIZE, PIPELINING, 8BITMIME, SMTPUTF8 and
 * ENHANCEDSTATUSCODES. Only clients inside mynetworks may relay; anyone
 * else gets 554 5.7.1 at RCPT: there are no local domains, so danemx is
 * never an open relay. The one exception is RCPT TO:<postmaster>, which
 * anyone may send (RFC 5321 4.5.1): it goes to the postmaster address.
 * DATA streams into a queue writer; "250 ... queued as ID" is sent only
 * after queue_commit() has made the message durable. A write failure (a
 * full disk) is 452.
 *
 * Octets become lines and commands in smtpd_proto.c, which knows no
 * sockets: a line ends only at CRLF, a bare LF or CR ends the session
 * with 550 (smtpd_forbid_bare_newline may accept a bare LF as a line
 * end, but never as part of the end of DATA, which is <CRLF>.<CRLF>
 * only), and content is copied octet for octet whatever its line length
 * (a line over smtpd_line_length_limit refuses the message at its end).
 *
 * Every resource a client can take has a limit: sessions in all
 * (max_sessions: the listeners pause, and new clients wait in the listen
 * queue), sessions and connections per client (a table like Postfix's
 * anvil; mynetworks exempt by default), a session's life
 * (smtpd_session_time_limit), errors (every 4xx or 5xx reply is one;
 * past smtpd_soft_error_limit replies wait smtpd_error_sleep_time on a
 * timer, past smtpd_hard_error_limit the session ends with 421; NOOP,
 * RSET and VRFY past smtpd_junk_command_limit are errors too), replies
 * the client does not read (input is not read while more than OUT_HIGH
 * octets of replies wait), message size, recipients, hops
 * (hopcount_limit) and line lengths. When accept() fails for want of
 * descriptors, the listeners pause until a session ends or a second
 * passes, and the log says so once.
 *
 * The commit (two fsyncs) runs on the committer's worker threads
 * (commit.c), so that concurrent sessions' commits overlap and the
 * journal groups them. Meanwhile the session is paused: it reads
 * nothing and leaves what the client pipelined after the final "."
 * (QUIT, the next MAIL) in its input buffer, so no reply can overtake
 * the 250 or 452; the result's callback replies and resumes it.
 *
 * Ownership: the smtpd owns its listeners, its committer, its client
 * table and its sessions; a session owns its bufferevent, its timers
 * and the queue writer of the message in progress, until it hands the
 * writer to a commit job. A session freed while its commit runs cancels
 * the job's callback; the commit completes and the message stays queued
 * (at least once).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log/log.h"
#include "server/commit.h"
#include "server/server.h"
#include "server/smtpd_proto.h"
#include "util/util.h"

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
	struct commit_job	*job;		/* S_COMMIT: the writer's now */
	struct buf		 wbuf;
	size_t			 size;		/* octets written, header too */
	size_t			 hdrlen;	/* our Received: header */
	int			 too_big, too_long, write_failed;
	unsigned long		 errors;	/* 4xx and 5xx replies */
	unsigned long		 junk;		/* NOOP, RSET, VRFY */
};

struct smtpd {
	struct event_base	*base;
	const struct dmx_conf	*conf;
	struct queue		*q;
	const struct netlist	*mynet;
	struct sched		*sched;
	struct committer	*committer;
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

static void	session_free(struct session *);
static void	session_read(struct bufferevent *, void *);
static void	session_write(struct bufferevent *, void *);
static void	session_event(struct bufferevent *, short, void *);
static void	listeners_update(struct smtpd *);
static void	after_command(struct session *);

static void
reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * reply - queue one reply line (CRLF added). Every 4xx and 5xx reply is
 * an error; past smtpd_soft_error_limit errors, replies are held back
 * for the sleep (session_read() starts it).
 */
static void
reply(struct session *s, const char *fmt, ...)
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

static void
txn_reset(struct session *s)
{
	size_t	 i;

	free(s->from);
	s->from = NULL;
	for (i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	s->nrcpt = 0;
	if (s->w != NULL)
		queue_writer_abort(s->w);
	s->w = NULL;
	buf_reset(&s->wbuf);
	s->size = s->hdrlen = 0;
	s->too_big = s->too_long = s->write_failed = 0;
	if (s->state != S_GREET && s->state != S_CLOSING)
		s->state = S_READY;
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
		session_free(s);
	else
		close_check(s);
}

/* close_after_output - hang up once the replies are on the wire */
static void
close_after_output(struct session *s)
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
	reply(s, "%s", text);
	close_after_output(s);
}

static void
cmd_ehlo(struct session *s, const char *arg, int esmtp)
{
	const struct dmx_conf *c = s->d->conf;

	if (*arg == '\0') {
		reply(s, "501 5.5.4 %s needs a domain", esmtp ? "EHLO" : "HELO");
		return;
	}
	txn_reset(s);
	strlcpy_(s->helo, arg, sizeof(s->helo));
	for (char *p = s->helo; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	s->esmtp = esmtp;
	s->state = S_READY;
	if (!esmtp) {
		reply(s, "250 %s", s->d->host);
		return;
	}
	reply(s, "250-%s", s->d->host);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %lu", c->message_size_limit);
	reply(s, "250-8BITMIME");
	reply(s, "250-SMTPUTF8");
	if (s->d->tls_ctx != NULL && !s->tls)
		reply(s, "250-STARTTLS");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static void
cmd_mail(struct session *s, struct smtpd_cmd *c)
{
	if (s->state == S_GREET) {
		reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->state != S_READY) {
		reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	switch (c->err) {
	case SMTPD_CMD_OK:
		break;
	case SMTPD_CMD_PARAM:
		reply(s, "555 5.5.4 Unsupported option: %.40s", c->bad_param);
		return;
	case SMTPD_CMD_SIZE_SYNTAX:
		reply(s, "501 5.5.4 Bad SIZE parameter");
		return;
	default:
		reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (c->has_size && c->size > s->d->conf->message_size_limit) {
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	/* Below queue_minfree the rest is for the queue's own updates. */
	if (!space_ok(s->d->q, c->has_size ? c->size : 0, "smtpd")) {
		reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->from = c->path;
	c->path = NULL;
	s->state = S_MAIL;
	reply(s, "250 2.1.0 Ok");
}

/* postmaster_addr - where RCPT TO:<postmaster> goes (free it) */
static char *
postmaster_addr(struct session *s)
{
	const char	*pm = s->d->conf->postmaster;
	char		*a;

	if (pm != NULL && pm[0] != '\0')
		return strdup(pm);
	if (asprintf(&a, "postmaster@%s", s->d->host) == -1)
		return NULL;
	return a;
}

static void
cmd_rcpt(struct session *s, struct smtpd_cmd *c)
{
	char	*to;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		reply(s, "503 5.5.1 Need MAIL command");
		return;
	}
	if (c->err != SMTPD_CMD_OK) {
		reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	/* <postmaster> is for anyone (RFC 5321 4.5.1); the rest relays. */
	if (!c->postmaster && !s->relay_ok) {
		log_info("smtpd: reject: RCPT from %s: 554 5.7.1 <%s>: Relay "
		    "access denied", s->addr, c->path);
		reply(s, "554 5.7.1 <%s>: Relay access denied", c->path);
		return;
	}
	if (s->nrcpt >= s->d->conf->recipient_limit ||
	    s->nrcpt >= QUEUE_RCPT_MAX) {
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (c->postmaster) {
		if ((to = postmaster_addr(s)) == NULL) {
			reply(s, "451 4.3.0 Out of memory");
			return;
		}
		log_info("smtpd: %s: RCPT TO:<%s> goes to <%s>", s->addr,
		    c->path, to);
	} else {
		to = c->path;
		c->path = NULL;
	}
	s->rcpts[s->nrcpt++] = to;
	s->state = S_RCPT;
	reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct session *s)
{
	char		 err[256], date[64];
	time_t		 now = time(NULL);

	if (s->state != S_RCPT) {
		reply(s, s->state == S_MAIL ? "554 5.5.1 No valid recipients" :
		    "503 5.5.1 Need RCPT command");
		return;
	}
	if ((s->w = queue_writer_new(s->d->q, err, sizeof(err))) == NULL) {
		log_warnx("smtpd: %s", err);
		reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->state = S_DATA;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	/* "for" only with one recipient: more would show the Bcc ones. */
	if (s->nrcpt == 1)
		buf_printf(&s->wbuf, "Received: from %s ([%s])\r\n\tby %s "
		    "(danemx) with %s%s id %s\r\n\tfor <%s>; %s\r\n", s->helo,
		    s->addr, s->d->host, s->esmtp ? "ESMTP" : "SMTP",
		    s->tls ? "S" : "", queue_writer_id(s->w), s->rcpts[0],
		    date);
	else
		buf_printf(&s->wbuf, "Received: from %s ([%s])\r\n\tby %s "
		    "(danemx) with %s%s id %s;\r\n\t%s\r\n", s->helo, s->addr,
		    s->d->host, s->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "",
		    queue_writer_id(s->w), date);
	s->hdrlen = s->wbuf.len;
	smtpd_in_start_data(&s->in);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/*
 * data_flush - move buffered content into the queue file; once the
 * message is refused (too big, a line too long, a failed write) it is
 * only counted
 */
static void
data_flush(struct session *s)
{
	s->size += s->wbuf.len;
	if (s->size - s->hdrlen > s->d->conf->message_size_limit)
		s->too_big = 1;
	if (s->wbuf.len > 0 && !s->too_big && !s->too_long &&
	    !s->write_failed && queue_writer_add(s->w, s->wbuf.data,
	    s->wbuf.len) == -1) {
		log_warn("smtpd: queue write");
		s->write_failed = 1;
	}
	buf_reset(&s->wbuf);
}

/*
 * commit_done - the commit of this session's message has ended (on the
 * loop thread): reply, then go on with what the client pipelined.
 */
static void
commit_done(void *arg, int ok, const char *id, const char *err)
{
	struct session	*s = arg;

	s->job = NULL;
	if (!ok) {
		log_warnx("smtpd: %s: message not queued: %s", s->addr, err);
		reply(s, "452 4.3.1 Insufficient system storage");
	} else {
		log_info("%s: from=<%s>, nrcpt=%zu, size=%zu, client=%s",
		    id, s->from, s->nrcpt, s->size - s->hdrlen, s->addr);
		/* Mail was delivered: the error counts start again. */
		s->errors = s->junk = 0;
		reply(s, "250 2.0.0 Ok: queued as %s", id);
		if (s->d->sched != NULL)
			sched_enqueue(s->d->sched, id);
	}
	txn_reset(s);
	if (s->time_up) {
		reply(s, "421 4.4.2 %s Error: session time limit exceeded",
		    s->d->host);
		close_after_output(s);
		return;
	}
	after_command(s);
	/*
	 * Lines already buffered raise no read event of their own: read
	 * them now (session_read() then enables reading again, unless they
	 * ended the session or paused it again).
	 */
	session_read(s->bev, s);
}

/* commit_orphan - a message queued for a session that is gone */
static void
commit_orphan(void *arg, const char *id)
{
	struct smtpd	*d = arg;

	if (d->sched != NULL)
		sched_enqueue(d->sched, id);
}

/* data_end - <CRLF>.<CRLF>: refuse the message or commit it */
static void
data_end(struct session *s)
{
	const struct dmx_conf	*c = s->d->conf;
	unsigned		 hops;

	data_flush(s);
	if (s->too_big) {
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
	} else if (s->too_long) {
		log_info("smtpd: reject: %s: a line longer than %lu octets "
		    "(smtpd_line_length_limit); from=<%s>", s->addr,
		    c->smtpd_line_length_limit, s->from);
		reply(s, "554 5.6.0 Message refused: a line is longer than "
		    "%lu octets", c->smtpd_line_length_limit);
	} else if (s->write_failed) {
		reply(s, "452 4.3.1 Insufficient system storage");
	} else if ((hops = queue_writer_hops(s->w)) >= c->hopcount_limit) {
		log_info("smtpd: reject: %s: 554 5.4.6 Too many hops: %u "
		    "Received: headers (hopcount_limit %lu); from=<%s>",
		    s->addr, hops, c->hopcount_limit, s->from);
		reply(s, "554 5.4.6 Too many hops: %u Received: headers "
		    "(a mail loop?)", hops);
	} else if ((s->job = committer_submit(s->d->committer, s->w,
	    s->from, (const char * const *)s->rcpts, s->nrcpt,
	    commit_done, s)) == NULL) {
		log_warnx("smtpd: %s: message not queued: out of memory",
		    s->addr);
		reply(s, "452 4.3.1 Insufficient system storage");
	} else {
		/* No reply and no more input until it is durable. */
		s->w = NULL;
		s->state = S_COMMIT;
		return;
	}
	txn_reset(s);
}

/*
 * cmd_starttls - 220, then TLS over the same socket. Anything the client
 * pipelined after STARTTLS is discarded (RFC 3207 4.2); the session
 * starts over and needs EHLO again.
 */
static void
cmd_starttls(struct session *s)
{
	struct bufferevent	*tb;
	struct timeval		 tv;
	SSL			*ssl;

	if (s->d->tls_ctx == NULL || s->tls) {
		reply(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if (s->state != S_READY && s->state != S_GREET) {
		reply(s, "503 5.5.1 STARTTLS inside a transaction");
		return;
	}
	if ((ssl = SSL_new(s->d->tls_ctx)) == NULL) {
		reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	if (s->held != NULL)	/* the 220 goes out in the clear, now */
		evbuffer_add_buffer(bufferevent_get_output(s->bev), s->held);
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	tb = bufferevent_openssl_filter_new(s->d->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		close_after_output(s);
		return;
	}
	/* The TLS layer writes no more than this below itself (OUT_HIGH). */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, OUT_HIGH / 2);
	s->bev = tb;
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	tv.tv_sec = (time_t)s->d->conf->smtp_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->reading = 1;
	txn_reset(s);
	smtpd_in_init(&s->in, s->in.line_max, s->in.lf_ok);
	s->tls = 1;
	s->state = S_GREET;
	s->helo[0] = '\0';
}

/* junk - NOOP, RSET, VRFY: past smtpd_junk_command_limit, each is an error */
static void
junk(struct session *s)
{
	if (++s->junk > s->d->conf->smtpd_junk_command_limit)
		s->errors++;
}

static void
command(struct session *s, const char *line, size_t len)
{
	struct smtpd_cmd	 c;

	if (memchr(line, '\0', len) != NULL) {
		reply(s, "500 5.5.2 NUL in command");
		return;
	}
	if (smtpd_cmd_parse(line, &c) == -1) {
		reply(s, "451 4.3.0 Out of memory");
		return;
	}
	switch (c.verb) {
	case SMTPD_V_EHLO:
	case SMTPD_V_HELO:
		cmd_ehlo(s, c.arg, c.verb == SMTPD_V_EHLO);
		break;
	case SMTPD_V_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTPD_V_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTPD_V_DATA:
		cmd_data(s);
		break;
	case SMTPD_V_RSET:
		junk(s);
		txn_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_V_NOOP:
		junk(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_V_VRFY:
		junk(s);
		reply(s, "252 2.0.0 Cannot VRFY; send some mail");
		break;
	case SMTPD_V_QUIT:
		reply(s, "221 2.0.0 Bye");
		close_after_output(s);
		break;
	case SMTPD_V_STARTTLS:
		cmd_starttls(s);
		break;
	default:
		reply(s, "500 5.5.2 Command not recognized");
		break;
	}
	smtpd_cmd_free(&c);
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
	session_read(s->bev, s);
}

/*
 * after_command - what a command's replies mean for the session: too
 * many errors end it; past the soft limit the replies wait on a timer;
 * replies the client does not read stop the reading.
 */
static void
after_command(struct session *s)
{
	const struct dmx_conf	*c = s->d->conf;
	struct timeval		 tv;

	if (s->state == S_CLOSING)
		return;
	if (s->errors >= c->smtpd_hard_error_limit) {
		log_info("smtpd: %s: too many errors (%lu, "
		    "smtpd_hard_error_limit); session ended", s->addr,
		    s->errors);
		reply(s, "421 4.7.0 %s Error: too many errors", s->d->host);
		close_after_output(s);
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
 * session_read - take what the client sent, as far as the session may
 * go now; then read on only if nothing pauses it.
 */
static void
session_read(struct bufferevent *bev, void *arg)
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
			data_flush(s);
			break;
		case SMTPD_IN_COMMAND:
			command(s, s->in.cmd, s->in.cmdlen);
			after_command(s);
			break;
		case SMTPD_IN_DATA_END:
			data_end(s);
			after_command(s);
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

/* session_write - the output has drained: go on reading, or close */
static void
session_write(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	(void)bev;
	if (s->state == S_CLOSING)
		close_check(s);
	else if (s->out_paused) {
		s->out_paused = 0;
		session_read(s->bev, s);
	}
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
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
		session_free(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		reply(s, "421 4.4.2 %s Timeout exceeded", s->d->host);
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
	session_free(s);
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
	reply(s, "421 4.4.2 %s Error: session time limit exceeded",
	    s->d->host);
	close_after_output(s);
}

static void
session_free(struct session *s)
{
	struct smtpd	*d = s->d;

	/* A commit in flight completes; only its reply is dropped. */
	commit_job_cancel(s->job);
	s->job = NULL;
	txn_reset(s);
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
	listeners_update(d);
}

/* --- per-client limits --- */

/* client_sweep - forget clients with no session whose window is over */
static void
client_sweep(struct smtpd *d, time_t now)
{
	struct client	*cl, *next;

	for (cl = TAILQ_FIRST(&d->clist); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		if (cl->conns > 0 || now - cl->window <
		    (time_t)d->conf->smtpd_client_rate_time_unit)
			continue;
		htab_del(&d->clients, cl->key);
		TAILQ_REMOVE(&d->clist, cl, entry);
		free(cl);
		d->nclients--;
	}
	if (d->nclients < CLIENTS_MAX)
		d->clients_full_said = 0;
}

static void
sweep_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	client_sweep(arg, time(NULL));
}

/*
 * client_admit - count a connection from sa against its client's limits:
 * 0 with *out (NULL when the table is full: not limited), or -1 when
 * the client is over a limit (logged once per window).
 */
static int
client_admit(struct smtpd *d, const struct sockaddr *sa, struct client **out)
{
	const struct dmx_conf	*c = d->conf;
	struct client		*cl;
	char			 key[SMTPD_CLIENT_KEY_MAX];
	time_t			 now = time(NULL);

	*out = NULL;
	smtpd_client_key(sa, key, sizeof(key));
	if ((cl = htab_get(&d->clients, key)) == NULL) {
		if (d->nclients >= CLIENTS_MAX)
			client_sweep(d, now);
		if (d->nclients >= CLIENTS_MAX ||
		    (cl = calloc(1, sizeof(*cl))) == NULL) {
			if (!d->clients_full_said)
				log_warnx("smtpd: %d clients in the table: "
				    "new clients are not limited per client "
				    "for now", CLIENTS_MAX);
			d->clients_full_said = 1;
			return 0;
		}
		strlcpy_(cl->key, key, sizeof(cl->key));
		if (htab_put(&d->clients, cl->key, cl) == -1) {
			free(cl);
			return 0;
		}
		TAILQ_INSERT_TAIL(&d->clist, cl, entry);
		d->nclients++;
		cl->window = now;
	}
	if (now - cl->window >= (time_t)c->smtpd_client_rate_time_unit) {
		cl->window = now;
		cl->rate = 0;
		cl->logged = 0;
	}
	cl->rate++;
	if (c->smtpd_client_connection_count_limit > 0 &&
	    cl->conns >= c->smtpd_client_connection_count_limit) {
		if (!cl->logged)
			log_warnx("smtpd: %s: too many sessions at once (%lu, "
			    "smtpd_client_connection_count_limit): refused "
			    "with 421 (logged once per %lus)", cl->key,
			    cl->conns, c->smtpd_client_rate_time_unit);
		cl->logged = 1;
		return -1;
	}
	if (c->smtpd_client_connection_rate_limit > 0 &&
	    cl->rate > c->smtpd_client_connection_rate_limit) {
		if (!cl->logged)
			log_warnx("smtpd: %s: too many connections (more than "
			    "%lu in %lus, smtpd_client_connection_rate_limit): "
			    "refused with 421 (logged once per %lus)", cl->key,
			    c->smtpd_client_connection_rate_limit,
			    c->smtpd_client_rate_time_unit,
			    c->smtpd_client_rate_time_unit);
		cl->logged = 1;
		return -1;
	}
	*out = cl;
	return 0;
}

/* refuse - one reply to a connection that gets no session, and close */
static void
refuse(evutil_socket_t fd, const char *text)
{
	/* A fresh socket's send buffer always has room for one line. */
	if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
		/* the client is gone already */
	}
	evutil_closesocket(fd);
}

/* --- listening --- */

/*
 * listeners_update - accept while there is room for a session and
 * descriptors to spare; otherwise new clients wait in the listen queue
 */
static void
listeners_update(struct smtpd *d)
{
	time_t	 now;
	size_t	 i;
	int	 full = d->nsess >= d->conf->max_sessions, on;

	if (full && !d->full) {
		now = time(NULL);
		if (now - d->full_logged >= FULL_LOG_EVERY) {
			log_warnx("smtpd: %zu sessions (max_sessions): new "
			    "clients wait in the listen queue", d->nsess);
			d->full_logged = now;
		}
	}
	d->full = full;
	on = !full && !d->fd_paused;
	if (on == d->accepting)
		return;
	for (i = 0; i < d->nlst; i++)
		if (on)
			evconnlistener_enable(d->lst[i]);
		else
			evconnlistener_disable(d->lst[i]);
	d->accepting = on;
}

static void
resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct smtpd	*d = arg;

	(void)fd;
	(void)ev;
	d->fd_paused = 0;
	listeners_update(d);
}

/*
 * accept_error - accept() failed for want of descriptors (or worse):
 * pause the listeners (a readable listener would call us again at
 * once), and resume when a session ends or in a second. Logged once
 * per episode (until a connection is accepted again), and at most once
 * a minute.
 */
static void
accept_error(struct evconnlistener *l, void *arg)
{
	struct smtpd	*d = arg;
	struct timeval	 tv = { 1, 0 };
	time_t		 now = time(NULL);
	int		 err = EVUTIL_SOCKET_ERROR();

	(void)l;
	if (!d->fd_episode && now - d->fd_logged >= FULL_LOG_EVERY) {
		log_warnx("smtpd: cannot accept connections: %s%s; not "
		    "accepting until a session ends (or for a second)",
		    strerror(err), err == EMFILE || err == ENFILE ?
		    " (raise the descriptor limit, LimitNOFILE=)" : "");
		d->fd_logged = now;
		d->fd_said = 1;
	}
	d->fd_episode = 1;
	d->fd_paused = 1;
	listeners_update(d);
	evtimer_add(d->resume, &tv);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct smtpd	*d = arg;
	const char	*bare = d->conf->smtpd_forbid_bare_newline ?
			    d->conf->smtpd_forbid_bare_newline : "yes";
	const char	*exempt = d->conf->smtpd_client_limit_exempt ?
			    d->conf->smtpd_client_limit_exempt : "none";
	struct session	*s;
	struct client	*cl = NULL;
	struct timeval	 tv;
	char		 text[400];
	const void	*a;
	int		 relay_ok;

	(void)l;
	if (d->fd_episode) {
		if (d->fd_said)
			log_info("smtpd: accepting connections again");
		d->fd_episode = d->fd_said = 0;
	}
	relay_ok = netlist_match(d->mynet, sa);
	if (d->nsess >= d->conf->max_sessions) {	/* lowered on SIGHUP */
		snprintf(text, sizeof(text), "421 4.7.0 %s Error: too many "
		    "connections, try again later\r\n", d->host);
		refuse(fd, text);
		listeners_update(d);
		return;
	}
	if ((!relay_ok || strcmp(exempt, "mynetworks") != 0) &&
	    client_admit(d, sa, &cl) == -1) {
		snprintf(text, sizeof(text), "421 4.7.0 %s Error: too many "
		    "connections from your address, try again later\r\n",
		    d->host);
		refuse(fd, text);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	s->d = d;
	memcpy(&s->ss, sa, (size_t)salen < sizeof(s->ss) ? (size_t)salen :
	    sizeof(s->ss));
	a = sa->sa_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)(void *)sa)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)(void *)sa)->sin_addr;
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
	listeners_update(d);
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	tv.tv_sec = (time_t)d->conf->smtp_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->reading = 1;
	tv.tv_sec = (time_t)d->conf->smtpd_session_time_limit;
	evtimer_add(s->deadline, &tv);
	s->state = S_GREET;
	reply(s, "220 %s ESMTP danemx", d->host);
}

/* listen_one - bind "ADDR:PORT" or "[ADDR]:PORT" */
static struct evconnlistener *
listen_one(struct smtpd *d, const char *spec, int *loopback, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct evconnlistener	*l;
	int			 len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &len)
	    == -1) {
		snprintf(err, errlen, "listen: '%s' is not ADDR:PORT", spec);
		return NULL;
	}
	*loopback = ss.ss_family == AF_INET ?
	    (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) ==
	    127 : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->
	    sin6_addr);
	l = evconnlistener_new_bind(d->base, accept_cb, d,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, len);
	if (l == NULL)
		snprintf(err, errlen, "listen on %s: %s", spec,
		    strerror(errno));
	else
		evconnlistener_set_error_cb(l, accept_error);
	return l;
}

/* smtpd_new - bind every listen address; NULL with err if one fails */
struct smtpd *
smtpd_new(struct event_base *base, const struct dmx_conf *conf,
    struct queue *q, const struct netlist *mynet, struct sched *sched,
    const char *hostname, char *err, size_t errlen)
{
	struct smtpd	*d;
	struct timeval	 tv = { CLIENT_SWEEP, 0 };
	size_t		 i;
	int		 loopback, public = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->base = base;
	d->conf = conf;
	d->q = q;
	d->mynet = mynet;
	d->sched = sched;
	strlcpy_(d->host, hostname, sizeof(d->host));
	TAILQ_INIT(&d->sessions);
	TAILQ_INIT(&d->clist);
	if ((d->resume = evtimer_new(base, resume_cb, d)) == NULL ||
	    (d->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, d)) ==
	    NULL || event_add(d->sweep, &tv) == -1) {
		snprintf(err, errlen, "out of memory");
		smtpd_free(d);
		return NULL;
	}
	if (conf->tls_cert_file != NULL && conf->tls_cert_file[0] != '\0') {
		if ((d->tls_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
		    SSL_CTX_use_certificate_chain_file(d->tls_ctx,
		    conf->tls_cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(d->tls_ctx, conf->tls_key_file ?
		    conf->tls_key_file : conf->tls_cert_file,
		    SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(d->tls_ctx) != 1) {
			snprintf(err, errlen, "STARTTLS: cannot load %s / %s: %s",
			    conf->tls_cert_file, conf->tls_key_file ?
			    conf->tls_key_file : conf->tls_cert_file,
			    ERR_reason_error_string(ERR_get_error()));
			smtpd_free(d);
			return NULL;
		}
		SSL_CTX_set_options(d->tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
		/* The floor and the ciphers: tls/tls_policy.c */
		if (tls_ctx_policy(d->tls_ctx, 0,
		    (int)conf->smtpd_tls_min_version, err, errlen) == -1) {
			smtpd_free(d);
			return NULL;
		}
	}
	if ((d->committer = committer_new(base, q, err, errlen)) == NULL) {
		smtpd_free(d);
		return NULL;
	}
	committer_set_orphan(d->committer, commit_orphan, d);
	for (i = 0; i < conf->nlisten; i++) {
		if ((d->lst[i] = listen_one(d, conf->listen[i], &loopback, err,
		    errlen)) == NULL) {
			smtpd_free(d);
			return NULL;
		}
		d->nlst++;
		public |= !loopback;
	}
	d->accepting = 1;
	if (public && (conf->postmaster == NULL || conf->postmaster[0] ==
	    '\0'))
		log_warnx("smtpd: postmaster is not set: mail to <postmaster> "
		    "goes to postmaster@%s; set postmaster in danemx.conf to "
		    "an address a person reads", d->host);
	return d;
}

/* smtpd_set_sched - tell the scheduler about each message queued */
void
smtpd_set_sched(struct smtpd *d, struct sched *s)
{
	d->sched = s;
}

/* smtpd_set_mynetworks - who may relay, for sessions from now on */
void
smtpd_set_mynetworks(struct smtpd *d, const struct netlist *l)
{
	d->mynet = l;
}

/* smtpd_stop_listening - no new sessions (SIGTERM) */
void
smtpd_stop_listening(struct smtpd *d)
{
	size_t	 i;

	for (i = 0; i < d->nlst; i++)
		evconnlistener_free(d->lst[i]);
	d->nlst = 0;
}

/* smtpd_sessions - sessions open now */
size_t
smtpd_sessions(const struct smtpd *d)
{
	return d->nsess;
}

/*
 * smtpd_free - close everything. Messages still being received are lost
 * (their clients were never told 250); commits already running are
 * waited for, so those messages are queued although their clients were
 * never told either (at least once).
 */
void
smtpd_free(struct smtpd *d)
{
	struct session	*s;
	struct client	*cl;

	if (d == NULL)
		return;
	smtpd_stop_listening(d);
	while ((s = TAILQ_FIRST(&d->sessions)) != NULL)
		session_free(s);
	committer_free(d->committer);
	SSL_CTX_free(d->tls_ctx);
	while ((cl = TAILQ_FIRST(&d->clist)) != NULL) {
		TAILQ_REMOVE(&d->clist, cl, entry);
		free(cl);
	}
	htab_free(&d->clients);
	if (d->resume != NULL)
		event_free(d->resume);
	if (d->sweep != NULL)
		event_free(d->sweep);
	free(d);
}
