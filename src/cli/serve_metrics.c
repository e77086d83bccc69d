/*
 * serve_metrics.c - the relay's metrics (docs/metrics.md): what the
 * scheduler, the listener, the resolver and the bypass list already
 * count, written in the Prometheus text format at each scrape of
 * metrics_listen (src/metrics serves it).
 *
 * Every counter is emitted with each of its label values, zeros too,
 * so that rate() sees a series from its start. Nothing is counted here.
 *
 * Ownership: serve_metrics_new() binds (as root, before the privilege
 * drop) and returns the server; the sources given to
 * serve_metrics_attach() are borrowed until serve_metrics_free().
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "dns/dns.h"
#include "metrics/metrics.h"
#include "sched/sched.h"
#include "server/server.h"
#include "util/util.h"

struct serve_metrics {
	struct metrics_http		*http;
	struct serve_metrics_env	 env;
	int				 attached;
	time_t				 started;
	/* The oldest message's time, found by a walk of the queue index:
	 * at most once a second, however often anyone scrapes. */
	time_t				 oldest, oldest_at;
};


/* gauge - a family with one sample without labels */
static int
gauge(struct buf *b, const char *name, const char *help, uint64_t v)
{
	if (metrics_family(b, name, METRICS_GAUGE, help) == -1 ||
	    metrics_sample(b, name, NULL, 0, v) == -1)
		return -1;
	return 0;
}

/* render_sched - recipients, DANE verdicts, failures, the queue */
static int
render_sched(struct buf *b, struct serve_metrics *sm, const struct sched *s,
    time_t now)
{
	const struct sched_stats	*st = sched_stats(s);
	struct metrics_label		 l[2];
	const char			*n;
	time_t				 oldest;
	size_t				 q;
	unsigned			 i, j;

	n = "danemx_recipients_total";
	if (metrics_family(b, n, METRICS_COUNTER, "Recipients' delivery "
	    "outcomes, one per status= log line, by the TLS of the attempt "
	    "that decided it.") == -1)
		return -1;
	for (i = 0; i < SCHED_NSTATUS; i++)
		for (j = 0; j < SCHED_NTLS; j++) {
			l[0].name = "status";
			l[0].value = sched_status_str((enum sched_status)i);
			l[1].name = "tls";
			l[1].value = deliver_tls_str((enum tls_achieved)j);
			if (metrics_sample(b, n, l, 2, st->rcpt[i][j]) == -1)
				return -1;
		}
	n = "danemx_dane_verdicts_total";
	if (metrics_family(b, n, METRICS_COUNTER, "DANE verdicts of outbound "
	    "sessions with TLSA records: validated, failed (host not used), "
	    "bypassed (bypass list), relaxed (TLS-Required: No).") == -1)
		return -1;
	for (i = 0; i < SCHED_DANE_NVERDICT; i++) {
		l[0].name = "verdict";
		l[0].value = sched_dane_str((enum sched_dane)i);
		if (metrics_sample(b, n, l, 1, st->dane[i]) == -1)
			return -1;
	}
	n = "danemx_delivery_failures_total";
	if (metrics_family(b, n, METRICS_COUNTER, "Failed delivery attempts "
	    "(one per host address tried, or per route that failed before "
	    "any), by failure class (RFC 8460 result types and danemx's "
	    "own).") == -1)
		return -1;
	for (i = 1; i < SCHED_NFAIL; i++) {
		l[0].name = "class";
		l[0].value = fail_name((enum dmx_fail)i);
		if (metrics_sample(b, n, l, 1, st->fail[i]) == -1)
			return -1;
	}
	if ((q = sched_queue_count(s)) == 0)
		sm->oldest_at = 0;	/* empty: nothing old */
	else if (sm->oldest_at != now) {
		(void)sched_queue_size(s, &sm->oldest);
		sm->oldest_at = now;
	}
	oldest = q > 0 ? sm->oldest : 0;
	if (gauge(b, "danemx_queue_messages", "Messages in the queue (waiting, "
	    "being delivered or held).", q) == -1 ||
	    gauge(b, "danemx_queue_oldest_age_seconds", "Age of the oldest "
	    "message in the queue; 0 when it is empty.", oldest != 0 &&
	    now > oldest ? (uint64_t)(now - oldest) : 0) == -1)
		return -1;
	return 0;
}

/* bypass_in_force - the bypass list's entries that apply now: neither
 * expired nor retired by a recheck (policy_table_match() skips those) */
static uint64_t
bypass_in_force(const struct policy_table *t, time_t now)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < t->n; i++)
		if (!t->e[i].retired && (t->e[i].expires == 0 ||
		    now <= t->e[i].expires))
			n++;
	return n;
}

/* render - the whole scrape */
static int
render(struct buf *b, void *arg)
{
	struct serve_metrics		*sm = arg;
	const struct serve_metrics_env	*e = &sm->env;
	struct metrics_label		 l[1];
	const uint64_t			*dc;
	const char			*n;
	time_t				 now = time(NULL);
	unsigned			 i;

	if (gauge(b, "danemx_start_time_seconds", "When the relay started, "
	    "in seconds since the Unix epoch.", (uint64_t)sm->started) == -1)
		return -1;
	if (!sm->attached)
		return 0;		/* not running yet */
	if (render_sched(b, sm, e->sched, now) == -1)
		return -1;
	n = "danemx_sessions_open";
	if (metrics_family(b, n, METRICS_GAUGE, "SMTP sessions open now: "
	    "inbound (clients of the listener), outbound (connections to MX "
	    "hosts, busy or kept for reuse).") == -1)
		return -1;
	l[0].name = "direction";
	l[0].value = "inbound";
	if (metrics_sample(b, n, l, 1, smtpd_sessions(e->smtpd)) == -1)
		return -1;
	l[0].value = "outbound";
	if (metrics_sample(b, n, l, 1, sched_connections(e->sched)) == -1)
		return -1;
	n = "danemx_dns_lookups_total";
	if (metrics_family(b, n, METRICS_COUNTER, "DNS lookups answered, by "
	    "DNSSEC status as danemx dns says it (servfail, timeout and "
	    "malformed are errors).") == -1)
		return -1;
	dc = dns_resolver_counts(e->res);
	for (i = 0; i < DNS_NSTATUS; i++) {
		l[0].name = "status";
		l[0].value = dmx_dns_status_str((enum dmx_dns_status)i);
		if (metrics_sample(b, n, l, 1, dc[i]) == -1)
			return -1;
	}
	if (gauge(b, "danemx_bypass_entries", "Domains in the DANE bypass "
	    "list (bypass_file) that apply: neither expired nor retired.",
	    bypass_in_force(e->bypass, now)) == -1)
		return -1;
	return 0;
}

/* serve_metrics_new - bind spec; NULL with err */
struct serve_metrics *
serve_metrics_new(struct event_base *base, const char *spec, char *err,
    size_t errlen)
{
	struct serve_metrics	*sm;

	if ((sm = calloc(1, sizeof(*sm))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sm->started = time(NULL);
	if ((sm->http = metrics_http_new(base, spec, render, sm, err,
	    errlen)) == NULL) {
		free(sm);
		return NULL;
	}
	return sm;
}

/* serve_metrics_attach - the sources, once the relay runs */
void
serve_metrics_attach(struct serve_metrics *sm,
    const struct serve_metrics_env *env)
{
	if (sm == NULL)
		return;
	sm->env = *env;
	sm->attached = 1;
}

/* serve_metrics_free - stop serving */
void
serve_metrics_free(struct serve_metrics *sm)
{
	if (sm == NULL)
		return;
	metrics_http_free(sm->http);
	free(sm);
}
