/*
 * metrics.h - the relay's counters and gauges for Prometheus: the text
 * exposition format (version 0.0.4) and a small HTTP server for it on
 * the relay's event loop (libevent's evhttp).
 *
 * metrics.c writes the text: metrics_family() starts a metric family
 * (# HELP and # TYPE lines), metrics_sample() adds one sample with its
 * labels, escaped as the format demands. Everything goes into a caller's
 * struct buf (its ceiling holds); nothing here allocates otherwise.
 *
 * metrics_http.c serves GET /metrics on one loopback address: the body
 * comes from a callback at each scrape; every other path is 404, every
 * other method 405. A client can take little: METRICS_CONN_MAX
 * connections at a time (the listener pauses past it), requests of
 * METRICS_REQ_MAX octets, METRICS_IDLE_SECONDS of silence and
 * METRICS_LIFE_SECONDS in all. metrics_http_new() binds (as root, before
 * the privilege drop); metrics_http_free() closes everything.
 */
#ifndef DANEMX_METRICS_H
#define DANEMX_METRICS_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct buf;
struct event_base;

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE };

/* A sample's label: name="value" (value escaped when written). */
struct metrics_label {
	const char	*name;
	const char	*value;
};

/* metrics.c */
int	 metrics_family(struct buf *, const char *name, enum metrics_type,
	    const char *help);
int	 metrics_sample(struct buf *, const char *name,
	    const struct metrics_label *, size_t nlabels, uint64_t value);
int	 metrics_name_ok(const char *);

/* metrics_http.c */
#define METRICS_CONN_MAX	16	/* connections at a time */
#define METRICS_REQ_MAX		8192	/* request line and headers */
#define METRICS_IDLE_SECONDS	5	/* silence before a connection goes */
#define METRICS_LIFE_SECONDS	15	/* a connection's whole life */
#define METRICS_BODY_MAX	(4 * 1024 * 1024)	/* a scrape's text */

struct metrics_http;
/* Fills out with the scrape's text; -1 if it cannot (500). */
typedef int (*metrics_render_fn)(struct buf *out, void *arg);
int	 metrics_addr_parse(const char *spec, struct sockaddr_storage *,
	    int *len, char *err, size_t errlen);
struct metrics_http *metrics_http_new(struct event_base *, const char *spec,
	    metrics_render_fn, void *arg, char *err, size_t errlen);
void	 metrics_http_free(struct metrics_http *);

#endif /* DANEMX_METRICS_H */
