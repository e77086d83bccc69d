/*
 * http_client.c - HTTPS requests on a libevent loop through libcurl's
 * multi-socket API, with the host's addresses from our own resolver: the
 * requests, their DNS lookups and deadlines (http_transfer.c hands them to
 * libcurl and reads what comes back).
 *
 * A request goes: parse the URL; look up A and AAAA with dmx_dns_lookup()
 * (unless the caller gave addresses); hand libcurl an easy handle whose
 * CURLOPT_RESOLVE names exactly those addresses and whose resolver-start
 * hook refuses any other lookup; finish when libcurl reports it done, or
 * when the request's own deadline passes. libcurl asks for its sockets to
 * be watched (http_sock_cb: one event per socket) and for a timer
 * (http_timer_cb); both call http_cu.multi_socket_action() and then collect
 * finished transfers, so user callbacks never run inside libcurl.
 *
 * Ownership: the client owns its requests; http_finish() detaches a
 * request (DNS lookups cancelled, easy handle removed), hands its result
 * to the callback, which owns it (http_result_free()), and frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"
#include "log/log.h"

/* http_error_str - a short name of the failure class */
const char *
http_error_str(enum http_error e)
{
	switch (e) {
	case HTTP_OK:		return "ok";
	case HTTP_E_URL:	return "url";
	case HTTP_E_DNS:	return "dns";
	case HTTP_E_CONNECT:	return "connect";
	case HTTP_E_TLS:	return "tls";
	case HTTP_E_CERT:	return "certificate";
	case HTTP_E_STATUS:	return "status";
	case HTTP_E_TOO_LARGE:	return "too-large";
	case HTTP_E_TIMEOUT:	return "timeout";
	case HTTP_E_PROTOCOL:	return "protocol";
	case HTTP_E_LIMIT:	return "limit";
	case HTTP_E_INTERNAL:	return "internal";
	}
	return "unknown";
}

/* http_result_free - free a result and what it owns */
void
http_result_free(struct http_result *r)
{
	if (r == NULL)
		return;
	free(r->content_type);
	free(r->body);
	free(r);
}

/* http_pending - requests not finished yet */
size_t
http_pending(const struct http_client *c)
{
	return c->nreqs;
}

/* http_elapsed_ms - since the request was made */
unsigned
http_elapsed_ms(const struct http_req *q)
{
	struct timeval	 now, d;

	evutil_gettimeofday(&now, NULL);
	evutil_timersub(&now, &q->start, &d);
	if (d.tv_sec < 0)
		return 0;
	return (unsigned)(d.tv_sec * 1000 + d.tv_usec / 1000);
}

/* http_result_new - an error result (or HTTP_OK) with a formatted detail */
struct http_result *
http_result_new(struct http_req *q, enum http_error e, const char *fmt, ...)
{
	struct http_result	*r;
	va_list			 ap;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->id = q->id;
	r->error = e;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	r->elapsed_ms = http_elapsed_ms(q);
	return r;
}

/* detach - stop everything q has under way */
static void
detach(struct http_req *q)
{
	struct http_client *c = q->c;
	int		 i;

	for (i = 0; i < 2; i++)
		if (q->dns_id[i] != 0) {
			dmx_dns_cancel(c->resolver, q->dns_id[i]);
			q->dns_id[i] = 0;
		}
	if (q->easy != NULL) {
		http_cu.multi_remove_handle(c->multi, q->easy);
		http_cu.easy_cleanup(q->easy);
		q->easy = NULL;
	}
	if (q->share != NULL) {
		http_cu.share_cleanup(q->share);
		q->share = NULL;
	}
	if (q->timer != NULL) {
		event_free(q->timer);
		q->timer = NULL;
	}
}

static void
req_free(struct http_req *q)
{
	detach(q);
	http_cu.slist_free_all(q->resolve);
	http_cu.slist_free_all(q->headers);
	buf_free(&q->rbody);
	http_result_free(q->res);
	free(q->url);
	free(q->body);
	free(q->ctype);
	free(q);
}

/*
 * finish - q is done with r (NULL: out of memory): take it off the
 * client, call back, free it.
 */
void
http_finish(struct http_req *q, struct http_result *r)
{
	struct http_client *c = q->c;
	http_cb		 cb = q->cb;
	void		*arg = q->arg;
	uint64_t	 id = q->id;

	TAILQ_REMOVE(&c->reqs, q, entry);
	c->nreqs--;
	if (r == NULL)
		r = calloc(1, sizeof(*r));	/* last try */
	req_free(q);
	if (r == NULL) {
		log_warnx("http: out of memory: request %llu dropped",
		    (unsigned long long)id);
		return;
	}
	r->id = id;
	log_debug("http: request %llu: %s%s%s", (unsigned long long)id,
	    http_error_str(r->error), r->detail[0] ? ": " : "", r->detail);
	cb(arg, r);
}

/* req_timer - the deadline passed, or a deferred result is due */
static void
req_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct http_req	*q = arg;
	struct http_result *r;

	(void)fd;
	(void)ev;
	if ((r = q->res) != NULL) {
		q->res = NULL;
		http_finish(q, r);
		return;
	}
	http_finish(q, http_result_new(q, HTTP_E_TIMEOUT, "%s: no answer "
	    "within %u ms%s", q->host, q->timeout_ms, q->dns_pending ?
	    " (the DNS lookups of its addresses did not finish)" : ""));
}

/* fail_later - finish q with r from the loop, not from the caller's stack */
static void
fail_later(struct http_req *q, struct http_result *r)
{
	struct timeval	 now = { 0, 0 };

	detach(q);
	q->res = r;
	if ((q->timer = evtimer_new(q->c->base, req_timer, q)) == NULL ||
	    evtimer_add(q->timer, &now) == -1) {
		log_warnx("http: cannot schedule a result; request %llu "
		    "dropped", (unsigned long long)q->id);
		TAILQ_REMOVE(&q->c->reqs, q, entry);
		q->c->nreqs--;
		req_free(q);
	}
}

/* add_addr - remember one address (text) for CURLOPT_RESOLVE */
static void
add_addr(struct http_req *q, int af, const void *bin)
{
	if (q->naddrs < HTTP_MAX_ADDRS &&
	    inet_ntop(af, bin, q->addrs[q->naddrs], INET6_ADDRSTRLEN) != NULL)
		q->naddrs++;
}

/* dns_done - one of the address lookups answered */
static void
dns_done(void *arg, struct dmx_dns_result *res)
{
	struct http_req *q = arg;
	size_t		 i;
	char		 why[200];
	int		 k = res->qtype == DMX_T_A ? 0 : 1;

	q->dns_id[k] = 0;
	q->dns_pending--;
	why[0] = '\0';
	switch (res->status) {
	case DMX_DNS_SECURE:
	case DMX_DNS_INSECURE:
		for (i = 0; i < res->nrrs; i++)
			add_addr(q, res->qtype == DMX_T_A ? AF_INET : AF_INET6,
			    res->rrs[i].u.addr);
		if (res->nxdomain)
			snprintf(why, sizeof(why), "no such host (NXDOMAIN)");
		break;
	case DMX_DNS_BOGUS:
		q->dns_bogus = 1;
		snprintf(why, sizeof(why), "%s lookup bogus: %s",
		    dmx_type_str(res->qtype), res->why_bogus ? res->why_bogus :
		    "validation failure");
		break;
	default:
		snprintf(why, sizeof(why), "%s lookup failed: %s: %s",
		    dmx_type_str(res->qtype), dmx_dns_status_str(res->status),
		    res->error ? res->error : "no reason given");
	}
	/* A bogus answer outranks any other reason. */
	if (why[0] != '\0' && (q->dns_why[0] == '\0' || res->status ==
	    DMX_DNS_BOGUS))
		strlcpy_(q->dns_why, why, sizeof(q->dns_why));
	dmx_dns_result_free(res);
	if (q->dns_pending > 0)
		return;
	if (q->dns_bogus) {
		http_finish(q, http_result_new(q, HTTP_E_DNS, "%s: %s", q->host,
		    q->dns_why));
		return;
	}
	if (q->naddrs == 0) {
		http_finish(q, http_result_new(q, HTTP_E_DNS, "%s: %s", q->host,
		    q->dns_why[0] ? q->dns_why : "no address records"));
		return;
	}
	if (http_start_transfer(q) == -1)
		http_finish(q, http_result_new(q, HTTP_E_INTERNAL, "%s: cannot "
		    "start the transfer (libcurl)", q->host));
}

/* parse_url - https://host[:port]/... into q->host and q->port */
static int
parse_url(struct http_req *q, char *why, size_t whylen)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL;
	int	 rv = -1;

	if ((u = http_cu.url()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (strlen(q->url) > HTTP_URL_MAX ||
	    http_cu.url_set(u, CURLUPART_URL, q->url, 0) != CURLUE_OK) {
		snprintf(why, whylen, "'%.100s' is not a URL", q->url);
		goto out;
	}
	if (http_cu.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    strcasecmp(scheme, "https") != 0) {
		snprintf(why, whylen, "'%.100s' is not an https URL", q->url);
		goto out;
	}
	if (http_cu.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    strlen(host) >= sizeof(q->host) || host[0] == '\0') {
		snprintf(why, whylen, "'%.100s' has no usable host", q->url);
		goto out;
	}
	strlcpy_(q->host, host, sizeof(q->host));
	q->port = 443;
	if (http_cu.url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    (q->port = strtol(port, NULL, 10)) <= 0)
		q->port = 443;
	rv = 0;
out:
	http_cu.free(scheme);
	http_cu.free(host);
	http_cu.free(port);
	http_cu.url_cleanup(u);
	return rv;
}

/* given_addrs - "ADDR,ADDR" (or an IP literal host): no DNS */
static int
given_addrs(struct http_req *q, const char *list)
{
	unsigned char	 bin[16];
	char		 one[INET6_ADDRSTRLEN + 2], *p;
	const char	*s = list, *comma;
	size_t		 n;

	while (*s != '\0') {
		comma = strchr(s, ',');
		n = comma ? (size_t)(comma - s) : strlen(s);
		if (n >= sizeof(one))
			return -1;
		memcpy(one, s, n);
		one[n] = '\0';
		p = one;
		if (p[0] == '[' && n > 2 && p[n - 1] == ']') {
			p[n - 1] = '\0';
			p++;
		}
		if (inet_pton(AF_INET, p, bin) == 1)
			add_addr(q, AF_INET, bin);
		else if (inet_pton(AF_INET6, p, bin) == 1)
			add_addr(q, AF_INET6, bin);
		else
			return -1;
		s += n + (comma ? 1 : 0);
	}
	return q->naddrs > 0 ? 0 : -1;
}

/* client_ready - libcurl loaded and the multi handle made, once; 0 or
 * -1 with err */
static int
client_ready(struct http_client *c, char *err, size_t errlen)
{
	if (c->multi != NULL)
		return 0;
	if (http_curl_load(err, errlen) == -1)
		return -1;
	if ((c->multi = http_cu.multi_init()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	http_cu.multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_sock_cb);
	http_cu.multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	http_cu.multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	http_cu.multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	http_cu.multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 64L);
	http_cu.multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
	http_cu.multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 16L);
	return 0;
}

/*
 * http_request - start a request; cb runs later, exactly once, unless
 * cancelled. Returns its id, or 0 when out of memory (cb will not run).
 */
uint64_t
http_request(struct http_client *c, const struct http_request *rq,
    http_cb cb, void *arg)
{
	struct http_req	*q;
	struct timeval	 tv;
	char		 why[256];

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return 0;
	q->c = c;
	q->id = c->next_id++;
	q->cb = cb;
	q->arg = arg;
	q->method = rq->method;
	q->max_body = rq->max_body ? rq->max_body : c->max_body;
	q->timeout_ms = rq->timeout_ms ? rq->timeout_ms : c->timeout_ms;
	evutil_gettimeofday(&q->start, NULL);
	buf_init(&q->rbody, q->max_body + 1);
	if ((q->url = strdup(rq->url ? rq->url : "")) == NULL ||
	    (rq->content_type && (q->ctype = strdup(rq->content_type)) ==
	    NULL) || (rq->body_len > 0 &&
	    (q->body = malloc(rq->body_len)) == NULL)) {
		req_free(q);
		return 0;
	}
	if (rq->body_len > 0)
		memcpy(q->body, rq->body, rq->body_len);
	q->body_len = rq->body_len;
	TAILQ_INSERT_TAIL(&c->reqs, q, entry);
	c->nreqs++;

	if (client_ready(c, why, sizeof(why)) == -1) {
		fail_later(q, http_result_new(q, HTTP_E_INTERNAL, "%s", why));
		return q->id;
	}
	if (c->nreqs > c->max_requests) {
		fail_later(q, http_result_new(q, HTTP_E_LIMIT, "%zu requests "
		    "under way: the limit is %u", c->nreqs - 1,
		    c->max_requests));
		return q->id;
	}
	if (parse_url(q, why, sizeof(why)) == -1) {
		fail_later(q, http_result_new(q, HTTP_E_URL, "%s", why));
		return q->id;
	}
	if (q->ctype != NULL && strpbrk(q->ctype, "\r\n") != NULL) {
		fail_later(q, http_result_new(q, HTTP_E_URL, "a content type "
		    "with a line break"));
		return q->id;
	}
	if ((q->timer = evtimer_new(c->base, req_timer, q)) == NULL) {
		fail_later(q, http_result_new(q, HTTP_E_INTERNAL, "out of "
		    "memory"));
		return q->id;
	}
	tv.tv_sec = q->timeout_ms / 1000;
	tv.tv_usec = (q->timeout_ms % 1000) * 1000;
	evtimer_add(q->timer, &tv);

	q->literal = strchr(q->host, ':') != NULL ||
	    inet_pton(AF_INET, q->host, why) == 1;
	if (rq->addrs != NULL || q->literal) {
		/* Given addresses, or an IP literal (curl keeps the brackets). */
		const char *list = q->literal ? q->host : rq->addrs;

		if (given_addrs(q, list) == -1) {
			fail_later(q, http_result_new(q, HTTP_E_URL, "'%.100s' "
			    "is not a list of IP addresses", list));
			return q->id;
		}
		if (http_start_transfer(q) == -1)
			fail_later(q, http_result_new(q, HTTP_E_INTERNAL, "%s: "
			    "cannot start the transfer (libcurl)", q->host));
		return q->id;
	}
	if (c->resolver == NULL) {
		fail_later(q, http_result_new(q, HTTP_E_DNS, "%s: no resolver",
		    q->host));
		return q->id;
	}
	q->dns_pending = 2;
	q->dns_id[0] = dmx_dns_lookup(c->resolver, q->host, DMX_T_A, dns_done,
	    q);
	q->dns_id[1] = dmx_dns_lookup(c->resolver, q->host, DMX_T_AAAA,
	    dns_done, q);
	if (q->dns_id[0] == 0 || q->dns_id[1] == 0)
		fail_later(q, http_result_new(q, HTTP_E_DNS, "%s: cannot start "
		    "the address lookups", q->host));
	return q->id;
}

/* http_cancel - forget request id; its callback will not run */
void
http_cancel(struct http_client *c, uint64_t id)
{
	struct http_req	*q;

	TAILQ_FOREACH(q, &c->reqs, entry) {
		if (q->id == id) {
			TAILQ_REMOVE(&c->reqs, q, entry);
			c->nreqs--;
			req_free(q);
			return;
		}
	}
}

/* http_client_new - a client on base, resolving through resolver */
struct http_client *
http_client_new(struct event_base *base, struct dmx_resolver *resolver,
    const struct http_conf *conf, char *err, size_t errlen)
{
	struct http_client	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->resolver = resolver;
	c->next_id = 1;
	TAILQ_INIT(&c->reqs);
	LIST_INIT(&c->socks);
	snprintf(c->ua, sizeof(c->ua), "%s", conf->user_agent ?
	    conf->user_agent : "danemx/" DANEMX_VERSION);
	c->timeout_ms = conf->timeout_ms ? conf->timeout_ms : HTTP_TIMEOUT_MS;
	c->connect_ms = conf->connect_timeout_ms ? conf->connect_timeout_ms :
	    HTTP_CONNECT_TIMEOUT_MS;
	c->low_bytes = conf->low_speed_bytes ? conf->low_speed_bytes :
	    HTTP_LOW_SPEED_BYTES;
	c->low_secs = conf->low_speed_secs ? conf->low_speed_secs :
	    HTTP_LOW_SPEED_SECS;
	c->max_body = conf->max_body ? conf->max_body : HTTP_BODY_MAX;
	c->max_requests = conf->max_requests ? conf->max_requests :
	    HTTP_MAX_REQUESTS;
	if (conf->ca_file != NULL && (c->ca_file = strdup(conf->ca_file)) ==
	    NULL)
		goto nomem;
	if ((c->timer = evtimer_new(base, http_curl_timer, c)) == NULL)
		goto nomem;
	/* libcurl itself comes with the first request (http_curl.c). */
	return c;
nomem:
	snprintf(err, errlen, "out of memory");
	http_client_free(c);
	return NULL;
}

/* http_client_free - cancel everything (no callbacks) and free */
void
http_client_free(struct http_client *c)
{
	struct http_req	*q;
	struct sock_ev	*se;

	if (c == NULL)
		return;
	while ((q = TAILQ_FIRST(&c->reqs)) != NULL) {
		TAILQ_REMOVE(&c->reqs, q, entry);
		req_free(q);
	}
	if (c->multi != NULL)
		http_cu.multi_cleanup(c->multi);	/* may call http_sock_cb */
	while ((se = LIST_FIRST(&c->socks)) != NULL) {
		LIST_REMOVE(se, entry);
		if (se->ev != NULL)
			event_free(se->ev);
		free(se);
	}
	if (c->timer != NULL)
		event_free(c->timer);
	free(c->ca_file);
	free(c);
}
