/*
 * smtpd.c - the relay's inbound SMTP server: its listeners, accepting
 * connections, and the limits per client and in all. A session's life
 * is in smtpd_session.c, its commands and message in smtpd_cmd.c,
 * STARTTLS in smtpd_tls.c.
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
 * The commit (two fsyncs) runs on the queue's worker threads
 * (queue/queue_workers.c), so that concurrent sessions' commits overlap
 * and the journal groups them. Meanwhile the session is paused: it reads
 * nothing and leaves what the client pipelined after the final "."
 * (QUIT, the next MAIL) in its input buffer, so no reply can overtake
 * the 250 or 452; the result's callback replies and resumes it.
 *
 * Ownership: the smtpd owns its listeners, its commit workers, its
 * client table and its sessions; a session owns its bufferevent, its
 * timers and the queue writer of the message in progress, until it
 * hands the writer to a commit job. A session freed while its commit
 * runs cancels the job's callback; the commit completes and the message
 * stays queued (at least once).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log/log.h"
#include "server/smtpd_int.h"
#include "util/util.h"

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
 * smtpd_listeners_update - accept while there is room for a session and
 * descriptors to spare; otherwise new clients wait in the listen queue
 */
void
smtpd_listeners_update(struct smtpd *d)
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
	smtpd_listeners_update(d);
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
	smtpd_listeners_update(d);
	evtimer_add(d->resume, &tv);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct smtpd	*d = arg;
	const char	*exempt = d->conf->smtpd_client_limit_exempt ?
			    d->conf->smtpd_client_limit_exempt : "none";
	struct client	*cl = NULL;
	char		 text[400];
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
		smtpd_listeners_update(d);
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
	smtpd_session_start(d, fd, sa, salen, cl, relay_ok);
}

/* commit_orphan - a message queued for a session that is gone */
static void
commit_orphan(void *arg, const char *id)
{
	struct smtpd	*d = arg;

	if (d->sched != NULL)
		sched_enqueue(d->sched, id);
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
	if (conf->tls_cert_file != NULL && conf->tls_cert_file[0] != '\0' &&
	    (d->tls_ctx = smtpd_tls_ctx_new(conf, err, errlen)) == NULL) {
		smtpd_free(d);
		return NULL;
	}
	if ((d->workers = queue_workers_new(base, q, err, errlen)) == NULL) {
		smtpd_free(d);
		return NULL;
	}
	queue_workers_set_orphan(d->workers, commit_orphan, d);
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
		smtpd_session_free(s);
	queue_workers_free(d->workers);
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
