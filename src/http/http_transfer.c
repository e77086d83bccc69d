/*
 * http_transfer.c - the libcurl side of the HTTPS client: the options
 * every transfer gets (http.h says which), the sockets and the timer
 * libcurl asks the event loop to watch, and what a finished transfer
 * means (a result with the failure class and a line for the log).
 *
 * User callbacks never run inside libcurl: socket and timer events call
 * http_cu.multi_socket_action() and only then collect finished transfers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "http/http_int.h"
#include "log/log.h"

/* write_cb - collect the body; past the limit, abort the transfer */
static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *q = arg;
	size_t		 len = size * n;

	if (q->rbody.len + len > q->max_body) {
		q->too_large = 1;
		return 0;
	}
	if (buf_add(&q->rbody, p, len) == -1)
		return 0;
	return len;
}

/* no_resolve - libcurl may never look a name up itself */
static int
no_resolve(void *resolver_state, void *reserved, void *arg)
{
	(void)resolver_state;
	(void)reserved;
	(void)arg;
	return 1;
}

/* resolve_entry - "host:port:a1,[a6],..." for CURLOPT_RESOLVE */
static int
resolve_entry(struct http_req *q, char *out, size_t outlen)
{
	size_t	 i, n;

	n = (size_t)snprintf(out, outlen, "%s:%ld:", q->host, q->port);
	for (i = 0; i < q->naddrs && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, strchr(q->addrs[i],
		    ':') ? "%s[%s]" : "%s%s", i ? "," : "", q->addrs[i]);
	return n < outlen ? 0 : -1;
}

/* easy_setup - the options every transfer gets (see http.h) */
static int
easy_setup(struct http_req *q, unsigned remaining_ms)
{
	struct http_client *c = q->c;
	CURL		*e = q->easy;
	char		 entry[HTTP_MAX_ADDRS * (INET6_ADDRSTRLEN + 3) +
	    DMX_NAME_MAX + 16];
	CURLcode	 rc = CURLE_OK;

	if (!q->literal && (resolve_entry(q, entry, sizeof(entry)) == -1 ||
	    (q->resolve = http_cu.slist_append(NULL, entry)) == NULL))
		return -1;
#define SET(opt, val)	if (rc == CURLE_OK) rc = http_cu.easy_setopt(e, opt, val)
	SET(CURLOPT_URL, q->url);
	SET(CURLOPT_PRIVATE, q);
	SET(CURLOPT_ERRORBUFFER, q->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "*");
	if (!q->literal) {
		/*
		 * CURLOPT_RESOLVE entries never expire from the DNS cache they
		 * go into; give each request a cache of its own (connections
		 * are still shared), which goes with the request.
		 */
		if ((q->share = http_cu.share_init()) == NULL ||
		    http_cu.share_setopt(q->share, CURLSHOPT_SHARE,
		    CURL_LOCK_DATA_DNS) != CURLSHE_OK)
			return -1;
		SET(CURLOPT_SHARE, q->share);
		SET(CURLOPT_RESOLVE, q->resolve);
		SET(CURLOPT_RESOLVER_START_FUNCTION, no_resolve);
	}
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->ca_file != NULL)
		SET(CURLOPT_CAINFO, c->ca_file);
	SET(CURLOPT_USERAGENT, c->ua);
	SET(CURLOPT_TIMEOUT_MS, (long)remaining_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, (long)c->low_bytes);
	SET(CURLOPT_LOW_SPEED_TIME, (long)c->low_secs);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max_body);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, q);
	if (q->method == HTTP_POST) {
		if ((q->headers = http_cu.slist_append(NULL, "Expect:")) == NULL)
			return -1;
		if (q->ctype != NULL) {
			char	 h[256];

			snprintf(h, sizeof(h), "Content-Type: %s", q->ctype);
			if (http_cu.slist_append(q->headers, h) == NULL)
				return -1;
		}
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, q->body ? q->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		SET(CURLOPT_HTTPHEADER, q->headers);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/*
 * http_start_transfer - the addresses are known: hand the request to
 * libcurl. -1 if it cannot (the caller finishes the request).
 */
int
http_start_transfer(struct http_req *q)
{
	struct timeval	 tv;
	unsigned	 spent = http_elapsed_ms(q), left;

	left = spent < q->timeout_ms ? q->timeout_ms - spent : 1;
	if ((q->easy = http_cu.easy_init()) == NULL ||
	    easy_setup(q, left) == -1 ||
	    http_cu.multi_add_handle(q->c->multi, q->easy) != CURLM_OK) {
		if (q->easy != NULL)
			http_cu.easy_cleanup(q->easy);
		q->easy = NULL;
		if (q->share != NULL)
			http_cu.share_cleanup(q->share);
		q->share = NULL;
		return -1;
	}
	/*
	 * libcurl enforces the rest of the deadline itself, and says how far
	 * it got; our timer stays as a backstop, half a second later.
	 */
	if (q->timer != NULL) {
		tv.tv_sec = (left + 500) / 1000;
		tv.tv_usec = (left + 500) % 1000 * 1000;
		evtimer_add(q->timer, &tv);
	}
	return 0;
}

/*
 * cert_detail - why the certificate did not verify. libcurl checks the
 * name itself and then reports X.509 error 1 (unspecified): call that
 * what it is, X509_V_ERR_HOSTNAME_MISMATCH, with libcurl's text.
 */
static void
cert_detail(struct http_req *q, struct http_result *r)
{
	long	 v = 0;

	http_cu.easy_getinfo(q->easy, CURLINFO_SSL_VERIFYRESULT, &v);
	if ((v == X509_V_OK || v == X509_V_ERR_UNSPECIFIED) &&
	    strstr(q->errbuf, "host name") != NULL)
		v = X509_V_ERR_HOSTNAME_MISMATCH;
	r->x509_error = v;
	if (v == X509_V_ERR_HOSTNAME_MISMATCH && q->errbuf[0] != '\0')
		snprintf(r->detail, sizeof(r->detail), "%.200s: certificate "
		    "not verified: %s (X.509 error %ld): %.200s", q->host,
		    X509_verify_cert_error_string(v), v, q->errbuf);
	else if (v != X509_V_OK && v != X509_V_ERR_UNSPECIFIED)
		snprintf(r->detail, sizeof(r->detail), "%.200s: certificate "
		    "not verified: %.200s (X.509 error %ld)", q->host,
		    X509_verify_cert_error_string(v), v);
	else
		snprintf(r->detail, sizeof(r->detail), "%.200s: certificate "
		    "not verified: %.280s", q->host, q->errbuf[0] ? q->errbuf :
		    "no reason given");
}

/* status_check - a complete answer: is its status one we accept? */
static void
status_check(struct http_req *q, struct http_result *r)
{
	char	*loc = NULL, *ct = NULL;

	http_cu.easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (http_cu.easy_getinfo(q->easy, CURLINFO_CONTENT_TYPE, &ct) ==
	    CURLE_OK && ct != NULL)
		r->content_type = strdup(ct);
	if (q->method == HTTP_GET ? r->status == 200 :
	    r->status >= 200 && r->status <= 299) {
		r->error = HTTP_OK;
		r->body_len = q->rbody.len;
		r->body = buf_steal(&q->rbody);
		return;
	}
	r->error = HTTP_E_STATUS;
	if (r->status >= 300 && r->status <= 399) {
		http_cu.easy_getinfo(q->easy, CURLINFO_REDIRECT_URL, &loc);
		snprintf(r->detail, sizeof(r->detail), "HTTP status %ld, a "
		    "redirect%s%.300s (redirects are not followed)", r->status,
		    loc ? " to " : "", loc ? loc : "");
	} else
		snprintf(r->detail, sizeof(r->detail), "HTTP status %ld%s",
		    r->status, q->method == HTTP_GET ? " (only 200 is "
		    "accepted)" : "");
}

/* transfer_done - libcurl finished q's transfer with code */
static void
transfer_done(struct http_req *q, CURLcode code)
{
	struct http_result	*r;
	char			*ip = NULL;
	const char		*why = q->errbuf[0] ? q->errbuf :
	    http_cu.easy_strerror(code);
	size_t			 i;

	if ((r = http_result_new(q, HTTP_OK, "%s", "")) == NULL) {
		http_finish(q, NULL);
		return;
	}
	if (http_cu.easy_getinfo(q->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
	    ip != NULL)
		strlcpy_(r->ip, ip, sizeof(r->ip));
	switch (code) {
	case CURLE_OK:
		/* Belt and braces: only where our resolver said. */
		for (i = 0; i < q->naddrs; i++)
			if (strcmp(q->addrs[i], r->ip) == 0)
				break;
		if (i == q->naddrs) {
			r->error = HTTP_E_INTERNAL;
			snprintf(r->detail, sizeof(r->detail), "%s: answered "
			    "from %s, an address the resolver did not give",
			    q->host, r->ip);
			break;
		}
		status_check(q, r);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		r->error = HTTP_E_TIMEOUT;
		snprintf(r->detail, sizeof(r->detail), "%.200s: %.300s", q->host, why);
		break;
	case CURLE_COULDNT_CONNECT:
		r->error = HTTP_E_CONNECT;
		snprintf(r->detail, sizeof(r->detail), "%.200s: %.300s", q->host, why);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		r->error = HTTP_E_CERT;
		cert_detail(q, r);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		r->error = HTTP_E_TLS;
		snprintf(r->detail, sizeof(r->detail), "%.200s: TLS: %.290s", q->host,
		    why);
		break;
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		r->error = q->too_large || code == CURLE_FILESIZE_EXCEEDED ?
		    HTTP_E_TOO_LARGE : HTTP_E_INTERNAL;
		if (r->error == HTTP_E_TOO_LARGE)
			snprintf(r->detail, sizeof(r->detail), "%s: the body "
			    "is larger than %zu octets", q->host, q->max_body);
		else
			snprintf(r->detail, sizeof(r->detail), "%s: out of "
			    "memory reading the body", q->host);
		http_cu.easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &r->status);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		r->error = HTTP_E_DNS;
		snprintf(r->detail, sizeof(r->detail), "%.200s: %.300s", q->host, why);
		break;
	default:
		r->error = HTTP_E_PROTOCOL;
		snprintf(r->detail, sizeof(r->detail), "%.200s: %.300s", q->host, why);
		http_cu.easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &r->status);
	}
	http_finish(q, r);
}

/* collect - hand every finished transfer to its request */
static void
collect(struct http_client *c)
{
	struct http_req	*q;
	CURLMsg		*m;
	char		*p;
	int		 left;

	while ((m = http_cu.multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		http_cu.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		if ((q = (struct http_req *)(void *)p) != NULL)
			transfer_done(q, m->data.result);
	}
}

static void
sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int		 running, act = 0;

	if (what & EV_READ)
		act |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		act |= CURL_CSELECT_OUT;
	http_cu.multi_socket_action(c->multi, fd, act, &running);
	collect(c);
}

void
http_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int		 running;

	(void)fd;
	(void)what;
	http_cu.multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect(c);
}

/* http_sock_cb - libcurl says which events of socket s to watch */
int
http_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct sock_ev	*se = socketp;
	short		 kind;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (se != NULL) {
			event_free(se->ev);
			LIST_REMOVE(se, entry);
			free(se);
			http_cu.multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (se == NULL) {
		if ((se = calloc(1, sizeof(*se))) == NULL)
			return -1;
		se->fd = s;
		LIST_INSERT_HEAD(&c->socks, se, entry);
		http_cu.multi_assign(c->multi, s, se);
	} else if (se->ev != NULL) {
		event_free(se->ev);
		se->ev = NULL;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if ((se->ev = event_new(c->base, s, kind, sock_event, c)) == NULL ||
	    event_add(se->ev, NULL) == -1)
		return -1;
	return 0;
}

/* http_timer_cb - libcurl wants to be called after ms (-1: never) */
int
http_timer_cb(CURLM *m, long ms, void *userp)
{
	struct http_client *c = userp;
	struct timeval	 tv;

	(void)m;
	if (ms < 0)
		return evtimer_del(c->timer);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(c->timer, &tv);
}
