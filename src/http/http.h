/*
 * http.h - an HTTPS client on the caller's libevent loop (libcurl's
 * multi-socket API), for MTA-STS policies now and TLS-RPT reports next.
 *
 * Every request is asynchronous: http_request() returns at once and the
 * callback runs later from the loop, exactly once, unless the request is
 * cancelled. Never a blocking fetch, never a thread per fetch.
 *
 * What every request gets, whatever the caller asks:
 *   - https only; the server's certificate verified against the system
 *     CA store or conf->ca_file (WebPKI), and its name against the URL's
 *     host (TLS 1.2 or later, SNI);
 *   - the host's addresses from danemx's own validating resolver (A and
 *     AAAA; a bogus answer fails the request), handed to libcurl, which
 *     is not allowed to resolve anything itself (so a stub zone in the
 *     resolver configuration steers the fetch too);
 *   - no redirects (a 3xx is an error that names the Location), no proxy
 *     from the environment, no content decoding, no cookies;
 *   - a body limit (a larger body fails the request), a total timeout
 *     (DNS included), a connect timeout, a low-speed timeout;
 *   - GET succeeds on 200 only; POST on any 2xx.
 *
 * Ownership: the result is handed to the callback, which owns it and
 * frees it with http_result_free(). Callbacks may start or cancel
 * requests but must not free the client. http_client_free() cancels
 * everything pending without calling back.
 */
#ifndef DANEMX_HTTP_H
#define DANEMX_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_BODY_MAX		65536	/* octets of response body */
#define HTTP_TIMEOUT_MS		30000	/* a whole request, DNS included */
#define HTTP_CONNECT_TIMEOUT_MS	10000
#define HTTP_LOW_SPEED_BYTES	64	/* abort below this many octets/s */
#define HTTP_LOW_SPEED_SECS	10	/* ... for this long */
#define HTTP_MAX_REQUESTS	256	/* at once; more fail with HTTP_E_LIMIT */
#define HTTP_MAX_ADDRS		16	/* addresses of a host handed to curl */
#define HTTP_URL_MAX		2048

struct event_base;
struct dmx_resolver;
struct http_client;

struct http_conf {
	const char	*ca_file;	/* PEM roots; NULL: the system store */
	const char	*user_agent;	/* NULL: "danemx/VERSION" */
	unsigned	 timeout_ms;	/* 0: HTTP_TIMEOUT_MS */
	unsigned	 connect_timeout_ms;	/* 0: HTTP_CONNECT_TIMEOUT_MS */
	unsigned	 low_speed_bytes;	/* 0: HTTP_LOW_SPEED_BYTES */
	unsigned	 low_speed_secs;	/* 0: HTTP_LOW_SPEED_SECS */
	size_t		 max_body;	/* 0: HTTP_BODY_MAX */
	unsigned	 max_requests;	/* 0: HTTP_MAX_REQUESTS */
};

enum http_method { HTTP_GET, HTTP_POST };

struct http_request {
	enum http_method method;
	const char	*url;		/* https://host[:port]/path */
	const void	*body;		/* POST: copied */
	size_t		 body_len;
	const char	*content_type;	/* POST, e.g. application/tlsrpt+gzip */
	const char	*addrs;		/* "ADDR,ADDR": connect there without
					   a DNS lookup (tests); NULL: resolve */
	size_t		 max_body;	/* 0: the client's */
	unsigned	 timeout_ms;	/* 0: the client's */
};

enum http_error {
	HTTP_OK = 0,
	HTTP_E_URL,		/* not an https URL we can fetch */
	HTTP_E_DNS,		/* the host's addresses: none, or a failure */
	HTTP_E_CONNECT,		/* no address accepted a connection */
	HTTP_E_TLS,		/* the TLS handshake failed */
	HTTP_E_CERT,		/* the certificate did not verify */
	HTTP_E_STATUS,		/* an HTTP status not accepted (3xx too) */
	HTTP_E_TOO_LARGE,	/* the body passed the limit */
	HTTP_E_TIMEOUT,		/* total, connect or low-speed timeout */
	HTTP_E_PROTOCOL,	/* the connection broke, a malformed answer */
	HTTP_E_LIMIT,		/* too many requests at once */
	HTTP_E_INTERNAL		/* out of memory, a libcurl failure */
};

struct http_result {
	uint64_t	 id;		/* as http_request() returned */
	enum http_error	 error;
	char		 detail[512];	/* what happened, for a log line */
	long		 status;	/* the HTTP status, 0 if none came */
	long		 x509_error;	/* HTTP_E_CERT: OpenSSL's X.509 error,
					   0 for a name mismatch */
	char		 ip[64];	/* the address that answered, or "" */
	char		*content_type;	/* as sent, or NULL; owned */
	char		*body;		/* NUL-terminated, or NULL; owned */
	size_t		 body_len;
	unsigned	 elapsed_ms;
};

typedef void (*http_cb)(void *arg, struct http_result *);

/* http_client.c */
struct http_client *http_client_new(struct event_base *,
	    struct dmx_resolver *, const struct http_conf *, char *err,
	    size_t errlen);
void	 http_client_free(struct http_client *);
uint64_t http_request(struct http_client *, const struct http_request *,
	    http_cb, void *arg);
void	 http_cancel(struct http_client *, uint64_t id);
void	 http_result_free(struct http_result *);
const char *http_error_str(enum http_error);
size_t	 http_pending(const struct http_client *);

#endif /* DANEMX_HTTP_H */
