/*
 * http_int.h - the insides of the HTTPS client, shared by http_client.c
 * (requests, DNS lookups, deadlines, the interface) and http_transfer.c
 * (the libcurl side: options, sockets and timers on the event loop, and
 * what a finished transfer means). Nothing outside src/http includes it.
 *
 * Ownership: the client owns its requests and socket events; a request
 * owns its easy handle, its DNS cache (share), lists and body.
 */
#ifndef DANEMX_HTTP_INT_H
#define DANEMX_HTTP_INT_H

#include <sys/queue.h>
#include <sys/time.h>

#include <arpa/inet.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "danemx.h"
#include "http/http.h"
#include "util/util.h"

struct http_req {
	TAILQ_ENTRY(http_req)	 entry;
	struct http_client	*c;
	uint64_t		 id;
	http_cb			 cb;
	void			*arg;
	enum http_method	 method;
	char			*url;
	char			 host[DMX_NAME_MAX];
	long			 port;
	char			*body;		/* POST */
	size_t			 body_len;
	char			*ctype;		/* POST */
	size_t			 max_body;
	unsigned		 timeout_ms;
	struct timeval		 start;

	uint64_t		 dns_id[2];	/* A, AAAA */
	int			 dns_pending;
	char			 addrs[HTTP_MAX_ADDRS][INET6_ADDRSTRLEN];
	size_t			 naddrs;
	char			 dns_why[256];	/* the first failure */
	int			 dns_bogus;
	int			 literal;	/* the host is an IP address */

	CURL			*easy;
	CURLSH			*share;		/* its own DNS cache (below) */
	struct curl_slist	*resolve, *headers;
	struct buf		 rbody;
	int			 too_large;
	char			 errbuf[CURL_ERROR_SIZE];
	struct event		*timer;		/* deadline; or a deferred error */
	struct http_result	*res;		/* a result waiting for timer */
};

struct sock_ev {
	LIST_ENTRY(sock_ev)	 entry;
	struct event		*ev;
	curl_socket_t		 fd;
};

struct http_client {
	struct event_base	*base;
	struct dmx_resolver	*resolver;
	CURLM			*multi;
	struct event		*timer;		/* libcurl's timeout */
	TAILQ_HEAD(, http_req)	 reqs;
	size_t			 nreqs;
	LIST_HEAD(, sock_ev)	 socks;
	uint64_t		 next_id;
	char			*ca_file;
	char			 ua[64];
	unsigned		 timeout_ms, connect_ms, low_bytes, low_secs;
	size_t			 max_body;
	unsigned		 max_requests;
};

/* http_client.c */
void	 http_finish(struct http_req *, struct http_result *);
struct http_result *http_result_new(struct http_req *, enum http_error,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
unsigned http_elapsed_ms(const struct http_req *);

/* http_transfer.c */
int	 http_start_transfer(struct http_req *);
int	 http_sock_cb(CURL *, curl_socket_t, int what, void *userp,
	    void *socketp);
int	 http_timer_cb(CURLM *, long ms, void *userp);
void	 http_curl_timer(evutil_socket_t, short, void *);


/* The libcurl functions danemx calls (http_curl.c loads them). */
struct http_curl_api {
	CURLcode	(*global_init)(long);
	CURLM		*(*multi_init)(void);
	CURLMcode	(*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	(*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	CURLMcode	(*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	(*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	(*multi_cleanup)(CURLM *);
	CURLMcode	(*multi_assign)(CURLM *, curl_socket_t, void *);
	CURL		*(*easy_init)(void);
	CURLcode	(*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	(*easy_getinfo)(CURL *, CURLINFO, ...);
	void		(*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	void		(*free)(void *);
	CURLSH		*(*share_init)(void);
	CURLSHcode	(*share_setopt)(CURLSH *, CURLSHoption, ...);
	CURLSHcode	(*share_cleanup)(CURLSH *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		(*slist_free_all)(struct curl_slist *);
	CURLU		*(*url)(void);
	void		(*url_cleanup)(CURLU *);
	CURLUcode	(*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode	(*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
};
extern struct http_curl_api http_cu;

/* http_curl.c */
int	 http_curl_load(char *err, size_t errlen);

#endif /* DANEMX_HTTP_INT_H */
