/*
 * metrics_http.c - GET /metrics over libevent's evhttp, on the relay's
 * one event loop, for a loopback address only: the counters tell who
 * the relay mails and how, which is nobody else's business, and evhttp
 * speaks neither TLS nor authentication (put a proxy in front to scrape
 * from elsewhere).
 *
 * Limits (metrics.h): the listener pauses while METRICS_CONN_MAX
 * connections are open; a request's line and headers may take
 * METRICS_REQ_MAX octets and a body 1 KiB; METRICS_IDLE_SECONDS of
 * silence closes a connection (evhttp's timeout), and so does
 * METRICS_LIFE_SECONDS in all (a client trickling a byte a second gets
 * no further). Each response says "Connection: close". The text is made
 * at each scrape, in one go on the loop, from counters that are already
 * there: a scrape costs the relay microseconds.
 *
 * evhttp does not say when it closes a connection. Each connection's
 * bufferevent is made here (evhttp_set_bevcb()) with a reference of our
 * own; once evhttp has freed it (its callbacks are gone) a sweep, every
 * second while any are open, lets it go and counts the slot free. The
 * sweep also ends connections past their life (shutdown(); evhttp then
 * sees the end and frees its side).
 *
 * Ownership: the server owns its evhttp, the listener (through evhttp)
 * and its references; metrics_http_free() releases them all.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "util/util.h"

#define SLOTS	(METRICS_CONN_MAX * 2)	/* accepted in one burst: room */

struct slot {
	struct bufferevent	*bev;		/* our reference, or NULL */
	time_t			 opened;
	int			 doomed;	/* over the limit: close now */
};

struct metrics_http {
	struct event_base	*base;
	struct evhttp		*http;
	struct evconnlistener	*lst;		/* evhttp's to free */
	struct event		*sweep, *resume;
	struct slot		 slots[SLOTS];
	size_t			 nconn;		/* slots in use */
	int			 paused;	/* full, or accept failed */
	int			 errpause;
	metrics_render_fn	 render;
	void			*arg;
	char			 spec[128];
};

/*
 * metrics_addr_parse - "ADDR:PORT" or "[ADDR]:PORT" of a loopback
 * address (127.0.0.0/8, ::1), numeric; 0, or -1 with err
 */
int
metrics_addr_parse(const char *spec, struct sockaddr_storage *ss, int *len,
    char *err, size_t errlen)
{
	int	 loopback, port;

	*len = sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, len) ==
	    -1) {
		snprintf(err, errlen, "metrics_listen: '%s' is not ADDR:PORT",
		    spec);
		return -1;
	}
	if (ss->ss_family == AF_INET) {
		loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
		port = ntohs(((struct sockaddr_in *)ss)->sin_port);
	} else {
		loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->
		    sin6_addr);
		port = ntohs(((struct sockaddr_in6 *)ss)->sin6_port);
	}
	if (port == 0) {
		snprintf(err, errlen, "metrics_listen: '%s' has no port", spec);
		return -1;
	}
	if (!loopback) {
		snprintf(err, errlen, "metrics_listen: %s is not a loopback "
		    "address (127.0.0.0/8 or [::1]): the metrics have no "
		    "authentication; scrape from elsewhere through a proxy",
		    spec);
		return -1;
	}
	return 0;
}

/* update - accept while there is room, and no accept error is fresh */
static void
update(struct metrics_http *m)
{
	int	 pause = m->nconn >= METRICS_CONN_MAX || m->errpause;

	if (pause == m->paused)
		return;
	m->paused = pause;
	if (pause)
		evconnlistener_disable(m->lst);
	else
		evconnlistener_enable(m->lst);
}

static void
sweep_arm(struct metrics_http *m, int now)
{
	struct timeval	 tv = { now ? 0 : 1, 0 };

	evtimer_add(m->sweep, &tv);
}

/* slot_drop - evhttp is done with it: let our reference go */
static void
slot_drop(struct metrics_http *m, struct slot *s)
{
	bufferevent_decref(s->bev);	/* the last: closes the socket */
	s->bev = NULL;
	m->nconn--;
}

/* sweep - free what evhttp closed; close what lived too long */
static void
sweep(evutil_socket_t fd, short ev, void *arg)
{
	struct metrics_http	*m = arg;
	bufferevent_event_cb	 evcb;
	struct slot		*s;
	time_t			 now = time(NULL);
	evutil_socket_t		 sfd;
	size_t			 i;

	(void)fd;
	(void)ev;
	for (i = 0; i < SLOTS; i++) {
		s = &m->slots[i];
		if (s->bev == NULL)
			continue;
		bufferevent_getcb(s->bev, NULL, NULL, &evcb, NULL);
		if (evcb == NULL) {		/* evhttp freed it */
			slot_drop(m, s);
			continue;
		}
		if ((s->doomed || now - s->opened >= METRICS_LIFE_SECONDS) &&
		    (sfd = bufferevent_getfd(s->bev)) != -1)
			shutdown(sfd, SHUT_RDWR);	/* evhttp sees the end */
	}
	update(m);
	if (m->nconn > 0)
		sweep_arm(m, 0);
}

/* new_bev - evhttp accepted a connection: its bufferevent, with our
 * reference (NULL: evhttp makes one itself, which we cannot see) */
static struct bufferevent *
new_bev(struct event_base *base, void *arg)
{
	struct metrics_http	*m = arg;
	struct slot		*s = NULL;
	size_t			 i;

	for (i = 0; i < SLOTS && s == NULL; i++)
		if (m->slots[i].bev == NULL)
			s = &m->slots[i];
	if (s == NULL)
		return NULL;
	if ((s->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	bufferevent_incref(s->bev);
	s->opened = time(NULL);
	s->doomed = m->nconn >= METRICS_CONN_MAX;
	m->nconn++;
	update(m);
	sweep_arm(m, s->doomed);
	return s->bev;
}

static void
accept_error(struct evconnlistener *l, void *arg)
{
	struct metrics_http	*m = arg;
	struct timeval		 tv = { 1, 0 };

	(void)l;
	log_warnx("metrics: cannot accept on %s: %s; pausing for a second",
	    m->spec, strerror(EVUTIL_SOCKET_ERROR()));
	m->errpause = 1;
	update(m);
	evtimer_add(m->resume, &tv);
}

static void
resume(evutil_socket_t fd, short ev, void *arg)
{
	struct metrics_http	*m = arg;

	(void)fd;
	(void)ev;
	m->errpause = 0;
	update(m);
}

/* handle - GET /metrics gets the text; every other path 404, every
 * other method 405 */
static void
handle(struct evhttp_request *req, void *arg)
{
	struct metrics_http	*m = arg;
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*out = evhttp_request_get_output_buffer(req);
	struct buf		 b;

	evhttp_add_header(h, "Connection", "close");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(h, "Allow", "GET");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	buf_init(&b, METRICS_BODY_MAX);
	if (m->render(&b, m->arg) == -1 || evbuffer_add(out, b.data ? b.data :
	    "", b.len) == -1) {
		buf_free(&b);
		log_warnx("metrics: the scrape did not fit in %d octets",
		    METRICS_BODY_MAX);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	buf_free(&b);
	evhttp_add_header(h, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

/* metrics_http_new - bind spec and serve; NULL with err */
struct metrics_http *
metrics_http_new(struct event_base *base, const char *spec,
    metrics_render_fn render, void *arg, char *err, size_t errlen)
{
	struct metrics_http	*m;
	struct sockaddr_storage	 ss;
	int			 len;

	if (metrics_addr_parse(spec, &ss, &len, err, errlen) == -1)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->base = base;
	m->render = render;
	m->arg = arg;
	strlcpy_(m->spec, spec, sizeof(m->spec));
	if ((m->sweep = evtimer_new(base, sweep, m)) == NULL ||
	    (m->resume = evtimer_new(base, resume, m)) == NULL ||
	    (m->http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "out of memory");
		metrics_http_free(m);
		return NULL;
	}
	if ((m->lst = evconnlistener_new_bind(base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    METRICS_CONN_MAX, (struct sockaddr *)&ss, len)) == NULL) {
		snprintf(err, errlen, "metrics_listen: cannot listen on %s: %s",
		    spec, strerror(errno));
		metrics_http_free(m);
		return NULL;
	}
	if (evhttp_bind_listener(m->http, m->lst) == NULL) {
		evconnlistener_free(m->lst);
		m->lst = NULL;
		snprintf(err, errlen, "metrics_listen: %s: out of memory", spec);
		metrics_http_free(m);
		return NULL;
	}
	evconnlistener_set_error_cb(m->lst, accept_error);
	evhttp_set_bevcb(m->http, new_bev, m);
	evhttp_set_gencb(m->http, handle, m);
	/* The others get 405 (evhttp's own answer would be 501). */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_timeout(m->http, METRICS_IDLE_SECONDS);
	evhttp_set_max_headers_size(m->http, METRICS_REQ_MAX);
	evhttp_set_max_body_size(m->http, 1024);
	return m;
}

/* metrics_http_free - close the listener and every connection */
void
metrics_http_free(struct metrics_http *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);	/* its connections and the listener */
	for (i = 0; i < SLOTS; i++)
		if (m->slots[i].bev != NULL)
			slot_drop(m, &m->slots[i]);
	if (m->sweep != NULL)
		event_free(m->sweep);
	if (m->resume != NULL)
		event_free(m->resume);
	free(m);
}
