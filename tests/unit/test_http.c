/*
 * test_http.c - the HTTPS client against an HTTPS server in the same
 * process, on the same event loop (libevent + OpenSSL, the smtpdane
 * fixture's CA and its certificate for mail.test.invalid): a 200 body
 * arrives whole; 3xx is not followed; 204, 404 and 500 to a GET fail with
 * their status; a body past the limit fails, with and without a
 * Content-Length; a body that stalls times out; a wrong name and an
 * unknown CA fail certificate verification with the reason; a refused
 * connection, a bad URL, too many requests and no resolver fail as
 * themselves; POST delivers its body and content type and accepts 2xx
 * only; a cancelled request never calls back; freeing the client with
 * requests under way calls nothing back and leaks nothing.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http/http.h"
#include "log/log.h"
#include "t.h"
#include "util/util.h"

#define POLICY	"version: STSv1\r\nmode: enforce\r\nmx: mail.test.invalid\r\n" \
		"max_age: 86400\r\n"

static struct event_base	*base;
static SSL_CTX			*sctx;
static int			 port;
static char			 fx[4096];

/* What the server last received. */
static struct {
	char	 method[16], path[128], ctype[128];
	char	 body[4096];
	size_t	 body_len;
	int	 requests;
} seen;

struct conn {
	struct bufferevent	*bev;
	int			 responded;
	int			 stall;	/* keep the connection open, silent */
};

static const char *
fixture(const char *file)
{
	static char	 p[4200];

	snprintf(p, sizeof(p), "%s/%s", fx, file);
	return p;
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*cn = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;		/* BEV_EVENT_CONNECTED: the handshake is done */
	bufferevent_free(bev);
	free(cn);
}

static void
conn_written(struct bufferevent *bev, void *arg)
{
	struct conn	*cn = arg;

	if (cn->responded && !cn->stall &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		/* close: the client learns the body ended */
		SSL_set_shutdown(bufferevent_openssl_get_ssl(bev),
		    SSL_RECEIVED_SHUTDOWN);
		bufferevent_free(bev);
		free(cn);
	}
}

static void
respond(struct conn *cn, const char *path)
{
	struct evbuffer	*out = bufferevent_get_output(cn->bev);
	size_t		 i;

	cn->responded = 1;
	if (strcmp(path, "/ok") == 0)
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Type: "
		    "text/plain\r\nContent-Length: %zu\r\nConnection: close"
		    "\r\n\r\n%s", strlen(POLICY), POLICY);
	else if (strcmp(path, "/redirect") == 0)
		evbuffer_add_printf(out, "HTTP/1.1 301 Moved\r\nLocation: "
		    "https://mail.test.invalid:%d/ok\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n", port);
	else if (strncmp(path, "/status/", 8) == 0)
		evbuffer_add_printf(out, "HTTP/1.1 %d X\r\nContent-Length: 2"
		    "\r\nConnection: close\r\n\r\nno", atoi(path + 8));
	else if (strcmp(path, "/big") == 0) {
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: "
		    "70000\r\nConnection: close\r\n\r\n");
		for (i = 0; i < 70000; i++)
			evbuffer_add(out, "a", 1);
	} else if (strcmp(path, "/big-stream") == 0) {
		evbuffer_add_printf(out, "HTTP/1.0 200 OK\r\n\r\n");
		for (i = 0; i < 70000; i++)
			evbuffer_add(out, "a", 1);
	} else if (strcmp(path, "/exact") == 0) {
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: "
		    "1000\r\nConnection: close\r\n\r\n");
		for (i = 0; i < 1000; i++)
			evbuffer_add(out, "b", 1);
	} else if (strcmp(path, "/slow") == 0) {
		cn->stall = 1;
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: "
		    "1000\r\n\r\nversion: ");
	} else if (strcmp(path, "/post") == 0)
		evbuffer_add_printf(out, "HTTP/1.1 202 Accepted\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	else
		evbuffer_add_printf(out, "HTTP/1.1 404 Not Found\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn	*cn = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char		*head, *p, *cl;
	size_t		 hlen, blen = 0;

	if (cn->responded)
		return;
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0)
		return;
	hlen = (size_t)end.pos + 4;
	if ((head = malloc(hlen + 1)) == NULL)
		return;
	evbuffer_copyout(in, head, hlen);
	head[hlen] = '\0';
	if ((cl = strcasestr(head, "\r\ncontent-length:")) != NULL)
		blen = strtoul(cl + 17, NULL, 10);
	if (evbuffer_get_length(in) < hlen + blen) {
		free(head);
		return;
	}
	evbuffer_drain(in, hlen);
	memset(&seen, 0, sizeof(seen.method) + sizeof(seen.path) +
	    sizeof(seen.ctype) + sizeof(seen.body) + sizeof(seen.body_len));
	sscanf(head, "%15s %127s", seen.method, seen.path);
	if ((p = strcasestr(head, "\r\ncontent-type:")) != NULL)
		sscanf(p + 15, " %127[^\r]", seen.ctype);
	seen.body_len = blen < sizeof(seen.body) ? blen : sizeof(seen.body);
	evbuffer_remove(in, seen.body, seen.body_len);
	seen.requests++;
	free(head);
	respond(cn, seen.path);
}

static void
accepted(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct conn	*cn;
	SSL		*ssl;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	if ((cn = calloc(1, sizeof(*cn))) == NULL ||
	    (ssl = SSL_new(sctx)) == NULL) {
		free(cn);
		close(fd);
		return;
	}
	cn->bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(cn->bev, conn_read, conn_written, conn_event, cn);
	bufferevent_enable(cn->bev, EV_READ | EV_WRITE);
}

static struct evconnlistener *
server_start(void)
{
	struct evconnlistener	*l;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	X509			*ca;
	FILE			*fp;

	if ((sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_file(sctx, fixture("test-server.crt"),
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_use_PrivateKey_file(sctx,
	    fixture("test-server.key"), SSL_FILETYPE_PEM) != 1 ||
	    (fp = fopen(fixture("ca.pem"), "r")) == NULL)
		return NULL;
	ca = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (ca == NULL || SSL_CTX_add0_chain_cert(sctx, ca) != 1)
		return NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = evconnlistener_new_bind(base, accepted, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin))) == NULL)
		return NULL;
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	return l;
}

/* --- client side ---------------------------------------------------------- */

struct got {
	struct http_result	*r;
	int			 calls;
};

static void
got_cb(void *arg, struct http_result *r)
{
	struct got	*g = arg;

	g->calls++;
	http_result_free(g->r);
	g->r = r;
}

static void
guard(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	*(int *)arg = 1;
}

/* run - loop until g has its answer (or 10 s pass: a failure) */
static void
run(struct got *g)
{
	struct event	*t;
	struct timeval	 tv = { 10, 0 };
	int		 expired = 0;

	t = evtimer_new(base, guard, &expired);
	evtimer_add(t, &tv);
	while (g->calls == 0 && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

/* fetch - one request to the local server; the result in g */
static void
fetch(struct http_client *c, enum http_method m, const char *host,
    const char *path, const char *body, const char *ctype, struct got *g)
{
	struct http_request	 rq;
	char			 url[256];

	memset(g, 0, sizeof(*g));
	snprintf(url, sizeof(url), "https://%s:%d%s", host, port, path);
	memset(&rq, 0, sizeof(rq));
	rq.method = m;
	rq.url = url;
	rq.addrs = "127.0.0.1";
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.content_type = ctype;
	rq.timeout_ms = 2000;
	if (http_request(c, &rq, got_cb, g) == 0) {
		T_CHECK(0, "%s: http_request failed", path);
		return;
	}
	run(g);
}

static void
expect(const char *what, struct got *g, enum http_error e, long status,
    const char *detail)
{
	T_CHECK(g->calls == 1 && g->r != NULL, "%s: %d callbacks", what,
	    g->calls);
	if (g->r == NULL)
		return;
	T_CHECK(g->r->error == e, "%s: error %s (%s), want %s", what,
	    http_error_str(g->r->error), g->r->detail, http_error_str(e));
	T_CHECK(g->r->status == status, "%s: status %ld, want %ld", what,
	    g->r->status, status);
	T_CHECK(detail == NULL || strstr(g->r->detail, detail) != NULL,
	    "%s: detail '%s', want '%s'", what, g->r->detail, detail);
}

static void
done(struct got *g)
{
	http_result_free(g->r);
	g->r = NULL;
}

static void
test_client(void)
{
	struct http_client	*c, *sys, *one;
	struct http_conf	 conf;
	struct http_request	 rq;
	struct got		 g, g2;
	char			 err[256], url[128];
	int			 s, closed_port;
	uint64_t		 id;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	memset(&conf, 0, sizeof(conf));
	conf.ca_file = fixture("ca.pem");
	conf.max_body = 65536;
	if ((c = http_client_new(base, NULL, &conf, err, sizeof(err))) == NULL) {
		T_CHECK(0, "client: %s", err);
		return;
	}

	fetch(c, HTTP_GET, "mail.test.invalid", "/ok", NULL, NULL, &g);
	expect("GET 200", &g, HTTP_OK, 200, NULL);
	if (g.r != NULL) {
		T_CHECK(g.r->body != NULL && g.r->body_len == strlen(POLICY) &&
		    strcmp(g.r->body, POLICY) == 0, "body: '%s'", g.r->body);
		T_CHECK(g.r->content_type != NULL &&
		    strcmp(g.r->content_type, "text/plain") == 0,
		    "content type '%s'", g.r->content_type);
		T_CHECK(strcmp(g.r->ip, "127.0.0.1") == 0, "ip '%s'", g.r->ip);
	}
	T_CHECK(strcmp(seen.method, "GET") == 0 && strcmp(seen.path, "/ok") ==
	    0, "server saw %s %s", seen.method, seen.path);
	done(&g);

	fetch(c, HTTP_GET, "mail.test.invalid", "/exact", NULL, NULL, &g);
	expect("GET 1000 octets", &g, HTTP_OK, 200, NULL);
	T_CHECK(g.r && g.r->body_len == 1000, "1000 octets: %zu",
	    g.r ? g.r->body_len : 0);
	done(&g);

	seen.requests = 0;
	fetch(c, HTTP_GET, "mail.test.invalid", "/redirect", NULL, NULL, &g);
	expect("301", &g, HTTP_E_STATUS, 301, "a redirect to https://"
	    "mail.test.invalid");
	T_CHECK(g.r && strstr(g.r->detail, "redirects are not followed"),
	    "301 detail: %s", g.r ? g.r->detail : "");
	T_CHECK(seen.requests == 1, "the redirect was followed: %d requests",
	    seen.requests);
	done(&g);

	fetch(c, HTTP_GET, "mail.test.invalid", "/status/404", NULL, NULL, &g);
	expect("404", &g, HTTP_E_STATUS, 404, "HTTP status 404 (only 200");
	done(&g);
	fetch(c, HTTP_GET, "mail.test.invalid", "/status/500", NULL, NULL, &g);
	expect("500", &g, HTTP_E_STATUS, 500, "HTTP status 500");
	done(&g);
	fetch(c, HTTP_GET, "mail.test.invalid", "/status/204", NULL, NULL, &g);
	expect("204 to a GET", &g, HTTP_E_STATUS, 204, "HTTP status 204");
	done(&g);

	fetch(c, HTTP_GET, "mail.test.invalid", "/big", NULL, NULL, &g);
	expect("70000 with Content-Length", &g, HTTP_E_TOO_LARGE, 200,
	    "larger than 65536 octets");
	done(&g);
	fetch(c, HTTP_GET, "mail.test.invalid", "/big-stream", NULL, NULL, &g);
	expect("70000 without Content-Length", &g, HTTP_E_TOO_LARGE, 200,
	    "larger than 65536 octets");
	done(&g);

	fetch(c, HTTP_GET, "mail.test.invalid", "/slow", NULL, NULL, &g);
	T_CHECK(g.r && g.r->error == HTTP_E_TIMEOUT && g.r->elapsed_ms >= 1900,
	    "stalled body: %s after %u ms (%s)", g.r ?
	    http_error_str(g.r->error) : "-", g.r ? g.r->elapsed_ms : 0,
	    g.r ? g.r->detail : "");
	done(&g);

	fetch(c, HTTP_GET, "other.test.invalid", "/ok", NULL, NULL, &g);
	expect("wrong name", &g, HTTP_E_CERT, 0, "other.test.invalid: "
	    "certificate not verified: hostname mismatch (X.509 error 62): "
	    "SSL: no alternative certificate subject name matches target "
	    "host name 'other.test.invalid'");
	T_CHECK(g.r && g.r->x509_error == 62, "wrong name: x509_error %ld",
	    g.r ? g.r->x509_error : -1);
	done(&g);

	/* POST: body and type arrive; 202 is success; 3xx and 404 are not */
	fetch(c, HTTP_POST, "mail.test.invalid", "/post", "{\"report\":1}",
	    "application/tlsrpt+gzip", &g);
	expect("POST 202", &g, HTTP_OK, 202, NULL);
	T_CHECK(strcmp(seen.method, "POST") == 0 &&
	    strcmp(seen.ctype, "application/tlsrpt+gzip") == 0 &&
	    seen.body_len == 12 && memcmp(seen.body, "{\"report\":1}", 12) == 0,
	    "server saw %s type '%s' body %zu octets", seen.method, seen.ctype,
	    seen.body_len);
	done(&g);
	fetch(c, HTTP_POST, "mail.test.invalid", "/redirect", "x", "text/plain",
	    &g);
	expect("POST 301", &g, HTTP_E_STATUS, 301, "redirects are not");
	done(&g);
	fetch(c, HTTP_POST, "mail.test.invalid", "/nothing", "x", "text/plain",
	    &g);
	expect("POST 404", &g, HTTP_E_STATUS, 404, "HTTP status 404");
	done(&g);

	/* nothing listens there */
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(s, (struct sockaddr *)&sin, &len);
	closed_port = ntohs(sin.sin_port);
	close(s);
	memset(&g, 0, sizeof(g));
	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "https://mail.test.invalid:%d/ok",
	    closed_port);
	rq.url = url;
	rq.addrs = "127.0.0.1";
	http_request(c, &rq, got_cb, &g);
	run(&g);
	expect("refused", &g, HTTP_E_CONNECT, 0, "mail.test.invalid");
	done(&g);

	/* bad URLs, bad addresses, no resolver */
	memset(&rq, 0, sizeof(rq));
	rq.url = "http://mail.test.invalid/ok";
	memset(&g, 0, sizeof(g));
	http_request(c, &rq, got_cb, &g);
	T_CHECK(g.calls == 0, "callback ran inside http_request");
	run(&g);
	expect("http://", &g, HTTP_E_URL, 0, "not an https URL");
	done(&g);
	rq.url = "no url at all";
	memset(&g, 0, sizeof(g));
	http_request(c, &rq, got_cb, &g);
	run(&g);
	expect("not a URL", &g, HTTP_E_URL, 0, "is not a");
	done(&g);
	rq.url = "https://mail.test.invalid/ok";
	rq.addrs = "127.0.0.1,mail";
	memset(&g, 0, sizeof(g));
	http_request(c, &rq, got_cb, &g);
	run(&g);
	expect("bad addrs", &g, HTTP_E_URL, 0, "not a list of IP addresses");
	done(&g);
	rq.addrs = NULL;
	memset(&g, 0, sizeof(g));
	http_request(c, &rq, got_cb, &g);
	run(&g);
	expect("no resolver", &g, HTTP_E_DNS, 0, "no resolver");
	done(&g);

	/* cancelled: never called back; the next request is unaffected */
	memset(&g, 0, sizeof(g));
	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "https://mail.test.invalid:%d/slow", port);
	rq.url = url;
	rq.addrs = "127.0.0.1";
	id = http_request(c, &rq, got_cb, &g);
	event_base_loop(base, EVLOOP_NONBLOCK);
	http_cancel(c, id);
	fetch(c, HTTP_GET, "mail.test.invalid", "/ok", NULL, NULL, &g2);
	expect("after a cancel", &g2, HTTP_OK, 200, NULL);
	done(&g2);
	T_CHECK(g.calls == 0, "a cancelled request called back");
	T_CHECK(http_pending(c) == 0, "%zu requests pending", http_pending(c));
	http_client_free(c);

	/* the system store does not know the fixture's CA */
	memset(&conf, 0, sizeof(conf));
	if ((sys = http_client_new(base, NULL, &conf, err, sizeof(err))) !=
	    NULL) {
		fetch(sys, HTTP_GET, "mail.test.invalid", "/ok", NULL, NULL,
		    &g);
		/* the server sends its (self-signed) CA along */
		expect("unknown CA", &g, HTTP_E_CERT, 0, "certificate not "
		    "verified: self-signed certificate in certificate chain "
		    "(X.509 error 19)");
		T_CHECK(g.r && g.r->x509_error == 19, "x509_error %ld",
		    g.r ? g.r->x509_error : -1);
		done(&g);
		http_client_free(sys);
	} else
		T_CHECK(0, "client: %s", err);

	/* one request at a time: the second fails at once */
	conf.ca_file = fixture("ca.pem");
	conf.max_requests = 1;
	if ((one = http_client_new(base, NULL, &conf, err, sizeof(err))) !=
	    NULL) {
		memset(&g, 0, sizeof(g));
		memset(&g2, 0, sizeof(g2));
		snprintf(url, sizeof(url), "https://mail.test.invalid:%d/ok",
		    port);
		rq.url = url;
		http_request(one, &rq, got_cb, &g);
		http_request(one, &rq, got_cb, &g2);
		run(&g2);
		expect("over the limit", &g2, HTTP_E_LIMIT, 0, "the limit is 1");
		run(&g);
		expect("under the limit", &g, HTTP_OK, 200, NULL);
		done(&g);
		done(&g2);
		/* freed with a request under way: no callback, no leak */
		memset(&g, 0, sizeof(g));
		snprintf(url, sizeof(url), "https://mail.test.invalid:%d/slow",
		    port);
		http_request(one, &rq, got_cb, &g);
		event_base_loop(base, EVLOOP_NONBLOCK);
		http_client_free(one);
		T_CHECK(g.calls == 0, "freeing the client called back");
	} else
		T_CHECK(0, "client: %s", err);
}

int
main(void)
{
	struct evconnlistener	*l;
	const char		*src = getenv("DANEMX_SRCDIR");

	log_init("test_http", 0, 0);
	signal(SIGPIPE, SIG_IGN);	/* the server writes to clients that left */
	snprintf(fx, sizeof(fx), "%s/tests/vectors/pennocktech-smtpdane",
	    src ? src : ".");
	base = event_base_new();
	if ((l = server_start()) == NULL) {
		fprintf(stderr, "test_http: cannot start the local HTTPS server "
		    "(fixture %s)\n", fx);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	test_client();
	evconnlistener_free(l);
	/* let closing connections finish */
	event_base_loop(base, EVLOOP_NONBLOCK);
	SSL_CTX_free(sctx);
	event_base_free(base);
	return t_done("test_http");
}
