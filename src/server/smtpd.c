/*
 * smtpd.c - the relay's inbound SMTP server.
 *
 * ESMTP with SIZE, PIPELINING, 8BITMIME, SMTPUTF8 and
 * ENHANCEDSTATUSCODES. Only clients inside mynetworks may relay; anyone
 * else gets 554 5.7.1 at RCPT: there are no local domains, so danemx is
 * never an open relay. Command lines and the number of recipients,
 * sessions and message octets all have ceilings. DATA streams into a
 * queue writer; "250 ... queued as ID" is sent only after queue_commit()
 * has made the message durable. A write failure (a full disk) is 452.
 *
 * The commit (two fsyncs) runs on the committer's worker threads
 * (commit.c), so that concurrent sessions' commits overlap and the
 * journal groups them. Meanwhile the session is paused: it reads
 * nothing and leaves what the client pipelined after the final "."
 * (QUIT, the next MAIL) in its input buffer, so no reply can overtake
 * the 250 or 452; the result's callback replies and resumes it.
 *
 * Ownership: the smtpd owns its listeners, its committer and its
 * sessions; a session owns its bufferevent and the queue writer of the
 * message in progress, until it hands the writer to a commit job. A
 * session freed while its commit runs cancels the job's callback; the
 * commit completes and the message stays queued (at least once).
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
#include "util/util.h"

#define CMD_LINE_MAX	2048		/* RFC 5321 4.5.3.1.4 says 512 */
#define DATA_LINE_MAX	(64 * 1024)	/* lenient: 1000 is the rule */
#define WBUF_MAX	(64 * 1024)
#define ERRORS_MAX	10		/* bad commands before we hang up */

enum sstate {
	S_GREET, S_READY, S_MAIL, S_RCPT, S_DATA,
	S_COMMIT,		/* after ".": input paused until the commit ends */
	S_CLOSING
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
	struct event		*closer;	/* waits for output to drain */
	unsigned		 close_ticks;
	enum sstate		 state;
	char			*from;
	char			*rcpts[QUEUE_RCPT_MAX];
	size_t			 nrcpt;
	struct queue_writer	*w;
	struct commit_job	*job;		/* S_COMMIT: the writer's now */
	struct buf		 wbuf;
	size_t			 size;
	int			 too_big, write_failed;
	unsigned		 errors;
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
	TAILQ_HEAD(, session)	 sessions;
	size_t			 nsess;
};

static void	session_free(struct session *);
static void	session_read(struct bufferevent *, void *);
static void	session_write(struct bufferevent *, void *);
static void	session_event(struct bufferevent *, short, void *);

static void
reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* reply - queue one reply line (CRLF added) */
static void
reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(s->bev), "\r\n", 2);
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
	s->size = 0;
	s->too_big = s->write_failed = 0;
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

static void
closer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;
	struct timeval	 tv = { 0, 50000 };

	(void)fd;
	(void)ev;
	if (output_pending(s) == 0 || ++s->close_ticks > 200)
		session_free(s);
	else
		evtimer_add(s->closer, &tv);
}

/* close_after_output - hang up once the replies are on the wire */
static void
close_after_output(struct session *s)
{
	struct timeval	 tv = { 0, 0 };

	if (s->state == S_CLOSING)
		return;
	s->state = S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	if (s->closer == NULL &&
	    (s->closer = evtimer_new(s->d->base, closer_cb, s)) == NULL) {
		session_free(s);
		return;
	}
	evtimer_add(s->closer, &tv);
}

/* path_arg - "<addr>" after "FROM:" or "TO:"; NULL if malformed */
static char *
path_arg(const char *p, const char **rest)
{
	const char	*end;
	size_t		 n, i;

	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return NULL;
	n = (size_t)(end - p - 1);
	if (n > QUEUE_ADDR_MAX)
		return NULL;
	for (i = 1; i <= n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '<' || p[i] == 0x7f)
			return NULL;
	/* A source route "<@a,@b:user@c>" is reduced to its mailbox. */
	if (n > 0 && p[1] == '@' && memchr(p + 1, ':', n) != NULL) {
		const char *colon = memchr(p + 1, ':', n);
		n -= (size_t)(colon - p);
		p = colon;
	}
	*rest = end + 1;
	return strndup(p + 1, n);
}

static int
valid_mailbox(const char *a)
{
	const char	*at = strrchr(a, '@');

	return at != NULL && at != a && at[1] != '\0' && strlen(at + 1) < 254 &&
	    addr_domain_ok(a);		/* no "[192.0.2.1]:2525" */
}

static void
cmd_ehlo(struct session *s, const char *arg, int esmtp)
{
	const struct dmx_conf *c = s->d->conf;

	while (*arg == ' ')
		arg++;
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
cmd_mail(struct session *s, const char *arg)
{
	const char	*rest;
	unsigned long	 size;
	char		*p;

	if (s->state == S_GREET) {
		reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->state != S_READY) {
		reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (strncasecmp(arg, "FROM:", 5) != 0 ||
	    (s->from = path_arg(arg + 5, &rest)) == NULL ||
	    (s->from[0] != '\0' && !valid_mailbox(s->from))) {
		free(s->from);
		s->from = NULL;
		reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	/* Parameters: SIZE is checked, BODY and SMTPUTF8 accepted. */
	while (*rest == ' ')
		rest++;
	while (*rest != '\0') {
		if (strncasecmp(rest, "SIZE=", 5) == 0) {
			size = strtoul(rest + 5, &p, 10);
			if (size > s->d->conf->message_size_limit) {
				reply(s, "552 5.3.4 Message size exceeds fixed "
				    "limit");
				free(s->from);
				s->from = NULL;
				return;
			}
		} else if (strncasecmp(rest, "BODY=", 5) != 0 &&
		    strncasecmp(rest, "SMTPUTF8", 8) != 0) {
			reply(s, "555 5.5.4 Unsupported option: %.40s", rest);
			free(s->from);
			s->from = NULL;
			return;
		}
		while (*rest != '\0' && *rest != ' ')
			rest++;
		while (*rest == ' ')
			rest++;
	}
	s->state = S_MAIL;
	reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct session *s, const char *arg)
{
	const char	*rest;
	char		*to = NULL;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		reply(s, "503 5.5.1 Need MAIL command");
		return;
	}
	if (strncasecmp(arg, "TO:", 3) != 0 ||
	    (to = path_arg(arg + 3, &rest)) == NULL || !valid_mailbox(to)) {
		free(to);
		reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (!s->relay_ok) {
		log_info("smtpd: reject: RCPT from %s: 554 5.7.1 <%s>: Relay "
		    "access denied", s->addr, to);
		reply(s, "554 5.7.1 <%s>: Relay access denied", to);
		free(to);
		return;
	}
	if (s->nrcpt >= s->d->conf->recipient_limit ||
	    s->nrcpt >= QUEUE_RCPT_MAX) {
		reply(s, "452 4.5.3 Too many recipients");
		free(to);
		return;
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
	buf_printf(&s->wbuf, "Received: from %s ([%s])\r\n\tby %s (danemx) "
	    "with %s%s id %s\r\n\tfor <%s>; %s\r\n", s->helo, s->addr,
	    s->d->host, s->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "",
	    queue_writer_id(s->w),
	    s->rcpts[0], date);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* data_flush - move buffered body octets into the queue file */
static void
data_flush(struct session *s)
{
	if (s->wbuf.len == 0 || s->write_failed)
		return;
	if (queue_writer_add(s->w, s->wbuf.data, s->wbuf.len) == -1) {
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
		    id, s->from, s->nrcpt, s->size, s->addr);
		reply(s, "250 2.0.0 Ok: queued as %s", id);
		if (s->d->sched != NULL)
			sched_enqueue(s->d->sched, id);
	}
	txn_reset(s);
	/*
	 * Lines already buffered raise no read event of their own: read
	 * them now, then read on, unless they ended the session (QUIT) or
	 * paused it again (a whole message pipelined).
	 */
	session_read(s->bev, s);
	if (s->state != S_COMMIT && s->state != S_CLOSING)
		bufferevent_enable(s->bev, EV_READ);
}

/* commit_orphan - a message queued for a session that is gone */
static void
commit_orphan(void *arg, const char *id)
{
	struct smtpd	*d = arg;

	if (d->sched != NULL)
		sched_enqueue(d->sched, id);
}

/* data_line - one line of message content (CRLF stripped) */
static void
data_line(struct session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.') {
		data_flush(s);
		if (s->too_big) {
			reply(s, "552 5.3.4 Message size exceeds fixed limit");
		} else if (s->write_failed) {
			reply(s, "452 4.3.1 Insufficient system storage");
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
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		txn_reset(s);
		return;
	}
	if (line[0] == '.') {		/* dot-stuffing */
		line++;
		len--;
	}
	s->size += len + 2;
	if (s->size > s->d->conf->message_size_limit)
		s->too_big = 1;
	if (s->too_big || s->write_failed)
		return;
	if (buf_add(&s->wbuf, line, len) == -1 ||
	    buf_add(&s->wbuf, "\r\n", 2) == -1) {
		data_flush(s);
		buf_add(&s->wbuf, line, len);
		buf_add(&s->wbuf, "\r\n", 2);
	}
	if (s->wbuf.len > WBUF_MAX / 2)
		data_flush(s);
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
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	tb = bufferevent_openssl_filter_new(s->d->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		close_after_output(s);
		return;
	}
	s->bev = tb;
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	tv.tv_sec = (time_t)s->d->conf->smtp_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	txn_reset(s);
	s->tls = 1;
	s->state = S_GREET;
	s->helo[0] = '\0';
}

static void
command(struct session *s, char *line)
{
	if (strncasecmp(line, "EHLO", 4) == 0 && (line[4] == ' ' ||
	    line[4] == '\0'))
		cmd_ehlo(s, line + 4, 1);
	else if (strncasecmp(line, "HELO", 4) == 0 && (line[4] == ' ' ||
	    line[4] == '\0'))
		cmd_ehlo(s, line + 4, 0);
	else if (strncasecmp(line, "MAIL ", 5) == 0)
		cmd_mail(s, line + 5);
	else if (strncasecmp(line, "RCPT ", 5) == 0)
		cmd_rcpt(s, line + 5);
	else if (strcasecmp(line, "DATA") == 0)
		cmd_data(s);
	else if (strcasecmp(line, "RSET") == 0) {
		txn_reset(s);
		reply(s, "250 2.0.0 Ok");
	} else if (strncasecmp(line, "NOOP", 4) == 0)
		reply(s, "250 2.0.0 Ok");
	else if (strncasecmp(line, "VRFY", 4) == 0)
		reply(s, "252 2.0.0 Cannot VRFY; send some mail");
	else if (strcasecmp(line, "QUIT") == 0) {
		reply(s, "221 2.0.0 Bye");
		close_after_output(s);
		return;
	} else if (strcasecmp(line, "STARTTLS") == 0)
		cmd_starttls(s);
	else {
		reply(s, "500 5.5.2 Command not recognized");
		if (++s->errors >= ERRORS_MAX) {
			reply(s, "421 4.7.0 %s Too many errors", s->d->host);
			close_after_output(s);
		}
		return;
	}
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	struct session		*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 len, max;

	while (s->state != S_CLOSING && s->state != S_COMMIT) {
		max = s->state == S_DATA ? DATA_LINE_MAX : CMD_LINE_MAX;
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > max) {
				reply(s, "500 5.5.2 Line too long");
				close_after_output(s);
			}
			return;
		}
		if (len > max) {
			free(line);
			reply(s, "500 5.5.2 Line too long");
			close_after_output(s);
			return;
		}
		if (s->state == S_DATA)
			data_line(s, line, len);
		else if (memchr(line, '\0', len) != NULL) {
			reply(s, "500 5.5.2 NUL in command");
		} else
			command(s, line);
		free(line);
	}
}

static void
session_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
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
	if (what & BEV_EVENT_TIMEOUT) {
		reply(s, "421 4.4.2 %s Timeout exceeded", s->d->host);
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
	TAILQ_REMOVE(&d->sessions, s, entry);
	d->nsess--;
	bufferevent_free(s->bev);
	free(s);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct smtpd	*d = arg;
	struct session	*s;
	struct timeval	 tv;
	const void	*a;

	(void)l;
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
	s->relay_ok = netlist_match(d->mynet, sa);
	buf_init(&s->wbuf, WBUF_MAX);
	if ((s->bev = bufferevent_socket_new(d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		evutil_closesocket(fd);
		free(s);
		return;
	}
	TAILQ_INSERT_TAIL(&d->sessions, s, entry);
	d->nsess++;
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	tv.tv_sec = (time_t)d->conf->smtp_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (d->nsess > d->conf->max_sessions) {
		reply(s, "421 4.7.0 %s Too many connections, try later",
		    d->host);
		close_after_output(s);
		return;
	}
	s->state = S_GREET;
	reply(s, "220 %s ESMTP danemx", d->host);
}

/* listen_one - bind "ADDR:PORT" or "[ADDR]:PORT" */
static struct evconnlistener *
listen_one(struct smtpd *d, const char *spec, char *err, size_t errlen)
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
	l = evconnlistener_new_bind(d->base, accept_cb, d,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, len);
	if (l == NULL)
		snprintf(err, errlen, "listen on %s: %s", spec,
		    strerror(errno));
	return l;
}

/* smtpd_new - bind every listen address; NULL with err if one fails */
struct smtpd *
smtpd_new(struct event_base *base, const struct dmx_conf *conf,
    struct queue *q, const struct netlist *mynet, struct sched *sched,
    const char *hostname, char *err, size_t errlen)
{
	struct smtpd	*d;
	size_t		 i;

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
		if ((d->lst[i] = listen_one(d, conf->listen[i], err,
		    errlen)) == NULL) {
			smtpd_free(d);
			return NULL;
		}
		d->nlst++;
	}
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

	if (d == NULL)
		return;
	smtpd_stop_listening(d);
	while ((s = TAILQ_FIRST(&d->sessions)) != NULL)
		session_free(s);
	committer_free(d->committer);
	SSL_CTX_free(d->tls_ctx);
	free(d);
}
