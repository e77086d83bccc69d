/*
 * sts_io.c - how the policy cache reaches the world: TXT lookups through
 * danemx's validating resolver, policy fetches through the HTTPS client
 * (http.h: WebPKI, no redirects, 200 only, the body limit, timeouts).
 * Unit tests hand the cache another struct sts_io instead.
 *
 * Ownership: a context borrows its resolver and client and owns one
 * small record per fetch under way; sts_io_free() cancels those.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danemx.h"
#include "http/http.h"
#include "sts/sts.h"
#include "util/util.h"

struct io_fetch {
	TAILQ_ENTRY(io_fetch)	 entry;
	struct sts_io_ctx	*ctx;
	uint64_t		 id;
	sts_fetch_cb		 cb;
	void			*arg;
};

struct sts_io_ctx {
	struct dmx_resolver	*resolver;
	struct http_client	*http;
	unsigned		 timeout_ms;
	TAILQ_HEAD(, io_fetch)	 fetches;
};

/* sts_io_new - real I/O over resolver and http (both borrowed) */
struct sts_io_ctx *
sts_io_new(struct dmx_resolver *resolver, struct http_client *http,
    unsigned timeout_ms)
{
	struct sts_io_ctx	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->resolver = resolver;
	x->http = http;
	x->timeout_ms = timeout_ms ? timeout_ms : STS_FETCH_TIMEOUT_MS;
	TAILQ_INIT(&x->fetches);
	return x;
}

/* sts_io_free - cancel the fetches under way (no callbacks) and free */
void
sts_io_free(struct sts_io_ctx *x)
{
	struct io_fetch	*f;

	if (x == NULL)
		return;
	while ((f = TAILQ_FIRST(&x->fetches)) != NULL) {
		TAILQ_REMOVE(&x->fetches, f, entry);
		http_cancel(x->http, f->id);
		free(f);
	}
	free(x);
}

static uint64_t
io_txt(void *io, const char *name, sts_txt_cb cb, void *arg)
{
	struct sts_io_ctx *x = io;

	if (x->resolver == NULL)
		return 0;
	return dmx_dns_lookup(x->resolver, name, DMX_T_TXT, cb, arg);
}

static void
io_txt_cancel(void *io, uint64_t id)
{
	struct sts_io_ctx *x = io;

	dmx_dns_cancel(x->resolver, id);
}

static void
io_fetched(void *arg, struct http_result *r)
{
	struct io_fetch		*f = arg;
	struct sts_fetch_result	 fr;

	TAILQ_REMOVE(&f->ctx->fetches, f, entry);
	memset(&fr, 0, sizeof(fr));
	fr.ok = r->error == HTTP_OK;
	fr.body = r->body;
	fr.len = r->body_len;
	fr.content_type = r->content_type;
	fr.status = r->status;
	fr.kind = http_error_str(r->error);
	if (!fr.ok)
		snprintf(fr.error, sizeof(fr.error), "%s", r->detail);
	f->cb(f->arg, &fr);
	http_result_free(r);
	free(f);
}

static uint64_t
io_fetch(void *io, const char *url, sts_fetch_cb cb, void *arg)
{
	struct sts_io_ctx	*x = io;
	struct http_request	 rq;
	struct io_fetch		*f;

	if (x->http == NULL || (f = calloc(1, sizeof(*f))) == NULL)
		return 0;
	memset(&rq, 0, sizeof(rq));
	rq.method = HTTP_GET;
	rq.url = url;
	rq.max_body = STS_POLICY_MAX;
	rq.timeout_ms = x->timeout_ms;
	f->ctx = x;
	f->cb = cb;
	f->arg = arg;
	if ((f->id = http_request(x->http, &rq, io_fetched, f)) == 0) {
		free(f);
		return 0;
	}
	TAILQ_INSERT_TAIL(&x->fetches, f, entry);
	return f->id;
}

static void
io_fetch_cancel(void *io, uint64_t id)
{
	struct sts_io_ctx	*x = io;
	struct io_fetch		*f;

	TAILQ_FOREACH(f, &x->fetches, entry)
		if (f->id == id) {
			TAILQ_REMOVE(&x->fetches, f, entry);
			http_cancel(x->http, id);
			free(f);
			return;
		}
}

const struct sts_io sts_io_default = {
	.txt = io_txt,
	.txt_cancel = io_txt_cancel,
	.fetch = io_fetch,
	.fetch_cancel = io_fetch_cancel,
};
