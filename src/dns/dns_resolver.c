/*
 * dns_resolver.c - DNSSEC-validating lookups on a libevent loop.
 *
 * One libunbound context per resolver validates in-process, with our
 * own trust anchor: an AD bit from any upstream is never trusted. The
 * context runs on the caller's event_base (ub_ctx_create_event): no
 * thread, no pipe between threads; its sockets and timers are events
 * of the one loop. Each lookup has a timer; on expiry the lookup is
 * reported as a timeout.
 *
 * libunbound keeps working on a lookup it was asked for until it has an
 * answer (ub_cancel() only marks it), and its callback's argument must
 * live until then: a lookup that is cancelled or times out stays with
 * libunbound as an orphan until libunbound answers it (every pending
 * lookup is answered, with SERVFAIL, when the context is deleted); the
 * answer is then dropped. A name no DNS query can carry (a label over 63
 * octets, over 255 in all: an MX target from hostile DNS, with
 * "_25._tcp." in front) is never handed to libunbound, which would keep
 * its record of the failed lookup until the context is deleted.
 * An answer that libunbound gives while a lookup is being started
 * (from its cache) waits for the loop, so that callbacks never run
 * inside dmx_dns_lookup().
 *
 * Ownership: the resolver owns its pending queries and its orphans. A
 * query's result is handed to the callback, which owns it
 * (dmx_dns_result_free()). Callbacks may start or cancel lookups but
 * must not free the resolver.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>

#include "dns/dns.h"
#include "log/log.h"
#include "util/util.h"

#define DEFAULT_TIMEOUT_MS	30000
#define DEBIAN_ROOT_KEY		"/usr/share/dns/root.key"

/*
 * The root zone KSKs (KSK-2017 and KSK-2024), used when no anchor file
 * is installed. Same data as IANA's root-anchors.xml.
 */
static const char *builtin_root_ds[] = {
	". IN DS 20326 8 2 "
	    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
	". IN DS 38696 8 2 "
	    "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
};

struct dns_query {
	TAILQ_ENTRY(dns_query) entry;
	struct dmx_resolver	*r;
	uint64_t		 id;
	int			 async_id;
	char			*name;
	uint16_t		 type;
	dmx_dns_cb		 cb;
	void			*arg;
	struct event		*timer;
	struct dmx_dns_result	*res;	/* made with the query: answering
					   never needs memory it lacks */
	int			 in_unbound; /* libunbound holds it as its
					   callback's argument */
	int			 orphan;   /* on r->orphans: nobody waits */
	int			 answered; /* res is final; the timer
					   delivers it */
};

struct dmx_resolver {
	struct event_base	*base;
	struct ub_ctx		*ctx;		/* NULL for a canned resolver */
	dns_canned_fn		 canned;	/* unit tests' answers */
	void			*canned_arg;
	unsigned		 timeout_ms;
	uint64_t		 next_id;
	int			 starting; /* inside ub_resolve_event() */
	TAILQ_HEAD(, dns_query)	 queries;
	TAILQ_HEAD(, dns_query)	 orphans;
	FILE			*devnull;
	char			 anchor[1024];
	uint64_t		 counts[DNS_NSTATUS];	/* answers by status */
};

static void
query_free(struct dns_query *q)
{
	if (q->timer != NULL)
		event_free(q->timer);
	dmx_dns_result_free(q->res);
	free(q->name);
	free(q);
}

/* result_new - a result for q with only the question filled in */
static struct dmx_dns_result *
result_new(const struct dns_query *q)
{
	struct dmx_dns_result *res;

	if ((res = calloc(1, sizeof(*res))) == NULL)
		return NULL;
	if ((res->qname = strdup(q->name)) == NULL) {
		free(res);
		return NULL;
	}
	res->qtype = q->type;
	res->rcode = -1;
	return res;
}

/* query_drop - take q off the pending list; free it, or leave it to
 * libunbound as an orphan while libunbound still holds it */
static void
query_drop(struct dns_query *q)
{
	struct dmx_resolver *r = q->r;

	TAILQ_REMOVE(&r->queries, q, entry);
	if (!q->in_unbound) {
		query_free(q);
		return;
	}
	if (q->timer != NULL) {
		event_free(q->timer);
		q->timer = NULL;
	}
	dmx_dns_result_free(q->res);
	q->res = NULL;
	q->orphan = 1;
	TAILQ_INSERT_TAIL(&r->orphans, q, entry);
}

/* query_finish - detach q, hand res to its callback, drop q */
static void
query_finish(struct dns_query *q, struct dmx_dns_result *res)
{
	struct dmx_resolver *r = q->r;
	dmx_dns_cb	 cb = q->cb;
	void		*arg = q->arg;

	if (res == q->res)
		q->res = NULL;		/* the callback's now */
	if (res != NULL && (unsigned)res->status < DNS_NSTATUS)
		r->counts[res->status]++;
	query_drop(q);
	cb(arg, res);
}

static void
set_error(struct dmx_dns_result *res, enum dmx_dns_status st,
    const char *why)
{
	res->status = st;
	free(res->error);
	res->error = xstrdup_or_null(why);
}

/*
 * classify - turn libunbound's answer into our result: rcode is its
 * error (0: the packet's own rcode stands), sec 0 insecure, 1 bogus,
 * 2 secure (ub_resolve_event()).
 */
static void
classify(struct dmx_dns_result *res, int rcode, const unsigned char *pkt,
    int len, int sec, const char *why_bogus)
{
	const char	*perr;
	char		 why[128];

	if (rcode == 0 && pkt != NULL && len >= DNS_HDR_LEN)
		rcode = pkt[3] & 0x0f;
	res->rcode = rcode;
	if (sec == 1) {
		/* What a validating resolver answers for it: SERVFAIL. */
		res->rcode = DMX_RCODE_SERVFAIL;
		res->status = DMX_DNS_BOGUS;
		res->why_bogus = strdup(why_bogus != NULL &&
		    why_bogus[0] != '\0' ? why_bogus : "validation failure");
		/* It quotes DNS data (names, EDE text): logs, DSNs. */
		if (res->why_bogus != NULL)
			str_printable(res->why_bogus, strlen(res->why_bogus));
		return;
	}
	if (rcode != DMX_RCODE_NOERROR && rcode != DMX_RCODE_NXDOMAIN) {
		snprintf(why, sizeof(why), "the lookup failed with rcode %s",
		    dmx_rcode_str(rcode));
		set_error(res, DMX_DNS_SERVFAIL, why);
		return;
	}
	res->status = sec == 2 ? DMX_DNS_SECURE : DMX_DNS_INSECURE;
	res->nxdomain = rcode == DMX_RCODE_NXDOMAIN;
	if (pkt == NULL || len <= 0) {
		set_error(res, DMX_DNS_MALFORMED, "no answer packet");
		return;
	}
	if (dns_msg_parse(pkt, (size_t)len, res, &perr) == -1) {
		snprintf(why, sizeof(why), "malformed answer: %s", perr);
		set_error(res, DMX_DNS_MALFORMED, why);
		return;
	}
	res->nodata = !res->nxdomain && res->nrrs == 0;
	res->cname_secure = res->ncname > 0 && res->status == DMX_DNS_SECURE;
}

/*
 * ub_done - libunbound's answer (ub_resolve_event()'s callback): from
 * the loop, from inside ub_resolve_event() when it answers at once, or
 * from ub_ctx_delete() (SERVFAIL) for every lookup still pending. The
 * packet and why_bogus are libunbound's, valid during the call only.
 */
static void
ub_done(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus,
    int ratelimited)
{
	struct dns_query	*q = arg;
	struct dmx_dns_result	*res;
	struct timeval		 now = { 0, 0 };

	(void)ratelimited;
	if (q == NULL)
		return;			/* the start-up probe */
	q->in_unbound = 0;
	if (q->orphan) {
		TAILQ_REMOVE(&q->r->orphans, q, entry);
		query_free(q);
		return;
	}
	if ((res = q->res) != NULL) {
		classify(res, rcode, pkt, len, sec, why_bogus);
		if (res->canonical_name == NULL)
			res->canonical_name = strdup(res->qname);
	}
	log_debug("dns: %s %s: %s", q->name, dmx_type_str(q->type),
	    res ? dmx_dns_status_str(res->status) : "?");
	if (q->r->starting) {
		/* Not inside dmx_dns_lookup(): the loop delivers it. */
		q->answered = 1;
		evtimer_add(q->timer, &now);
		return;
	}
	query_finish(q, res);
}

/* canned_answer - a canned resolver's lookup: its function answers */
static void
canned_answer(evutil_socket_t fd, short ev, void *arg)
{
	struct dns_query	*q = arg;
	struct dmx_dns_result	*res;

	(void)fd;
	(void)ev;
	if ((res = q->r->canned(q->r->canned_arg, q->name, q->type)) == NULL &&
	    (res = q->res) != NULL) {
		set_error(res, DMX_DNS_TIMEOUT, "no answer (canned)");
		res->canonical_name = strdup(res->qname);
	}
	query_finish(q, res);
}

/* query_timeout - the lookup took too long: report a timeout (or
 * deliver an answer that came while the lookup was being started) */
static void
query_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct dns_query	*q = arg;
	struct dmx_dns_result	*res;
	char			 why[96];

	(void)fd;
	(void)ev;
	if (q->answered) {
		query_finish(q, q->res);
		return;
	}
	if ((res = q->res) != NULL) {
		snprintf(why, sizeof(why), "no answer within %u ms",
		    q->r->timeout_ms);
		set_error(res, DMX_DNS_TIMEOUT, why);
		res->canonical_name = strdup(res->qname);
	}
	query_finish(q, res);
}

/* get_option - a libunbound option's value, or "" (static buffer) */
static const char *
get_option(struct ub_ctx *ctx, const char *name)
{
	static char	 val[1024];
	char		*s = NULL;

	val[0] = '\0';
	if (ub_ctx_get_option(ctx, name, &s) == 0 && s != NULL)
		strlcpy_(val, s, sizeof(val));
	free(s);
	/* Lists come back one per line; keep it on one line for messages. */
	for (s = val; *s != '\0'; s++)
		if (*s == '\n')
			*s = ' ';
	while (val[0] != '\0' && val[strlen(val) - 1] == ' ')
		val[strlen(val) - 1] = '\0';
	return val;
}

static int
readable(const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return 1;
	snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	return 0;
}

/* configure - apply conf to r->ctx; 0, or -1 with err */
static int
configure(struct dmx_resolver *r, const struct dmx_resolver_conf *conf,
    char *err, size_t errlen)
{
	const char	*ta_file = conf->trust_anchor_file, *v;
	char		 anchors[600];
	size_t		 i;
	int		 e;

	if (conf->config_file != NULL) {
		if (!readable(conf->config_file, err, errlen))
			return -1;
		if ((e = ub_ctx_config(r->ctx, conf->config_file)) != 0) {
			snprintf(err, errlen, "%s: %s (see unbound.conf(5))",
			    conf->config_file, ub_strerror(e));
			return -1;
		}
	}
	if (ta_file == NULL && conf->config_file == NULL &&
	    access(DEBIAN_ROOT_KEY, R_OK) == 0)
		ta_file = DEBIAN_ROOT_KEY;
	if (ta_file != NULL) {
		if (!readable(ta_file, err, errlen))
			return -1;
		if ((e = ub_ctx_add_ta_file(r->ctx, ta_file)) != 0)
			goto uberr;
	} else if (conf->config_file == NULL) {
		for (i = 0; i < DMX_NELEM(builtin_root_ds); i++)
			if ((e = ub_ctx_add_ta(r->ctx, builtin_root_ds[i])) != 0)
				goto uberr;
	}
	if (conf->forwarder != NULL &&
	    (e = ub_ctx_set_fwd(r->ctx, conf->forwarder)) != 0) {
		snprintf(err, errlen, "forwarder %s: %s", conf->forwarder,
		    ub_strerror(e));
		return -1;
	}

	/* Refuse any setup that would pass unvalidated answers as answers. */
	v = get_option(r->ctx, "module-config");
	if (v[0] != '\0' && strstr(v, "validator") == NULL) {
		snprintf(err, errlen, "module-config \"%s\" has no validator: "
		    "DNSSEC would not be checked", v);
		return -1;
	}
	if (strcmp(get_option(r->ctx, "val-permissive-mode"), "yes") == 0) {
		snprintf(err, errlen, "val-permissive-mode would turn bogus "
		    "answers into insecure ones; refusing it");
		return -1;
	}
	anchors[0] = '\0';
	{
		static const char *opts[] = { "trust-anchor-file",
		    "auto-trust-anchor-file", "trusted-keys-file",
		    "trust-anchor" };
		for (i = 0; i < DMX_NELEM(opts); i++) {
			v = get_option(r->ctx, opts[i]);
			if (v[0] == '\0')
				continue;
			snprintf(anchors + strlen(anchors),
			    sizeof(anchors) - strlen(anchors), "%s%s: %s",
			    anchors[0] ? "; " : "", opts[i], v);
		}
	}
	if (anchors[0] == '\0') {
		snprintf(err, errlen, "no trust anchor configured%s%s: without "
		    "one no answer can be validated", conf->config_file ?
		    " in " : "", conf->config_file ? conf->config_file : "");
		return -1;
	}
	snprintf(r->anchor, sizeof(r->anchor), "%s%s%s", anchors,
	    conf->forwarder ? "; forwarder: " : "",
	    conf->forwarder ? conf->forwarder : "");

	/* Why-bogus texts need val-log-level 2; keep libunbound's own log quiet. */
	ub_ctx_set_option(r->ctx, "val-log-level:", "2");
	if (r->devnull != NULL)
		ub_ctx_debugout(r->ctx, r->devnull);
	return 0;
uberr:
	snprintf(err, errlen, "%s", ub_strerror(e));
	return -1;
}

/* dmx_resolver_new - create a validating resolver on base */
struct dmx_resolver *
dmx_resolver_new(struct event_base *base, const struct dmx_resolver_conf *conf,
    char *err, size_t errlen)
{
	struct dmx_resolver	*r;
	int			 e, probe;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->base = base;
	r->timeout_ms = conf->timeout_ms ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
	r->next_id = 1;
	TAILQ_INIT(&r->queries);
	TAILQ_INIT(&r->orphans);
	r->devnull = fopen("/dev/null", "w");
	if ((r->ctx = ub_ctx_create_event(base)) == NULL) {
		snprintf(err, errlen, "cannot create a libunbound context");
		goto fail;
	}
	if (configure(r, conf, err, errlen) == -1)
		goto fail;

	/*
	 * The context loads its trust anchors on the first lookup: make
	 * that happen now, so that a broken anchor is a startup error
	 * rather than every lookup's. The probe's answer (the root's
	 * DNSKEY, which every validation needs) is dropped.
	 */
	r->starting = 1;
	e = ub_resolve_event(r->ctx, ".", 48 /* DNSKEY */, 1, NULL, ub_done,
	    &probe);
	r->starting = 0;
	if (e != 0) {
		snprintf(err, errlen, "cannot start the validator (%s): check "
		    "the trust anchor (%s)", ub_strerror(e), r->anchor);
		goto fail;
	}
	return r;
fail:
	dmx_resolver_free(r);
	return NULL;
}

/*
 * dns_resolver_canned_new - a resolver that asks fn instead of the DNS:
 * each lookup is answered from the event loop with what fn returns (the
 * callback owns it), or a timeout when fn returns NULL. For unit tests
 * of the code above the resolver (Postfix's mock_dns_lookup).
 */
struct dmx_resolver *
dns_resolver_canned_new(struct event_base *base, dns_canned_fn fn, void *arg)
{
	struct dmx_resolver	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->base = base;
	r->canned = fn;
	r->canned_arg = arg;
	r->next_id = 1;
	TAILQ_INIT(&r->queries);
	TAILQ_INIT(&r->orphans);
	strlcpy_(r->anchor, "canned answers", sizeof(r->anchor));
	return r;
}

/* dmx_resolver_free - cancel everything pending (no callbacks) and free */
void
dmx_resolver_free(struct dmx_resolver *r)
{
	struct dns_query *q;

	if (r == NULL)
		return;
	while ((q = TAILQ_FIRST(&r->queries)) != NULL)
		query_drop(q);
	/* Answers every orphan (SERVFAIL), which frees it. */
	if (r->ctx != NULL)
		ub_ctx_delete(r->ctx);
	while ((q = TAILQ_FIRST(&r->orphans)) != NULL) {
		TAILQ_REMOVE(&r->orphans, q, entry);
		query_free(q);
	}
	if (r->devnull != NULL)
		fclose(r->devnull);
	free(r);
}

/* dmx_resolver_base - the event_base the resolver runs on */
struct event_base *
dmx_resolver_base(const struct dmx_resolver *r)
{
	return r->base;
}

/* dns_resolver_counts - lookups answered, by status (DNS_NSTATUS) */
const uint64_t *
dns_resolver_counts(const struct dmx_resolver *r)
{
	return r->counts;
}

/* dmx_resolver_anchor - the trust configuration, for logs */
const char *
dmx_resolver_anchor(const struct dmx_resolver *r)
{
	return r->anchor;
}

/* dmx_dns_lookup - start an asynchronous validated lookup */
uint64_t
dmx_dns_lookup(struct dmx_resolver *r, const char *name, uint16_t type,
    dmx_dns_cb cb, void *arg)
{
	struct dns_query *q;
	struct timeval	 tv;
	size_t		 len;
	int		 e;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->name = strdup(name)) == NULL) {
		free(q);
		return 0;
	}
	len = strlen(q->name);
	if (len > 1 && q->name[len - 1] == '.')
		q->name[len - 1] = '\0';
	str_lower(q->name);
	q->r = r;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->id = r->next_id++;
	if ((q->res = result_new(q)) == NULL)
		goto fail;
	if (r->canned != NULL) {
		tv.tv_sec = tv.tv_usec = 0;
		if ((q->timer = evtimer_new(r->base, canned_answer, q)) == NULL)
			goto fail;
		evtimer_add(q->timer, &tv);
		TAILQ_INSERT_TAIL(&r->queries, q, entry);
		return q->id;
	}
	if ((q->timer = evtimer_new(r->base, query_timeout, q)) == NULL)
		goto fail;
	TAILQ_INSERT_TAIL(&r->queries, q, entry);
	if (!dns_name_wire_ok(q->name)) {
		/* As libunbound says of it: a syntax error (SERVFAIL). */
		set_error(q->res, DMX_DNS_SERVFAIL, "resolver error: not a "
		    "DNS name (a label over 63 octets, or over 255 in all)");
		q->res->canonical_name = strdup(q->res->qname);
		q->answered = 1;
		tv.tv_sec = tv.tv_usec = 0;
		evtimer_add(q->timer, &tv);
		return q->id;
	}
	q->in_unbound = 1;
	r->starting = 1;
	e = ub_resolve_event(r->ctx, q->name, type, 1 /* IN */, q, ub_done,
	    &q->async_id);
	r->starting = 0;
	if (e != 0) {
		/* libunbound keeps no reference when it fails */
		log_warnx("dns: cannot look up %s: %s", name, ub_strerror(e));
		q->in_unbound = 0;
		TAILQ_REMOVE(&r->queries, q, entry);
		goto fail;
	}
	if (!q->answered) {
		tv.tv_sec = r->timeout_ms / 1000;
		tv.tv_usec = (r->timeout_ms % 1000) * 1000;
		evtimer_add(q->timer, &tv);
	}
	return q->id;
fail:
	query_free(q);
	return 0;
}

/* dmx_dns_cancel - forget lookup id; its callback will not run */
void
dmx_dns_cancel(struct dmx_resolver *r, uint64_t id)
{
	struct dns_query *q;

	TAILQ_FOREACH(q, &r->queries, entry) {
		if (q->id == id) {
			query_drop(q);
			return;
		}
	}
}
