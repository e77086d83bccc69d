/*
 * sched_stats.c - the scheduler's counters, for the metrics: recipients
 * by outcome and TLS, DANE verdicts and failure classes by attempt, and
 * the queue's size and oldest message, read from the index on demand.
 *
 * The counters are plain integers in struct sched, bumped on the loop
 * where each outcome is decided and logged (sched_result.c: one per
 * status= line; sched_conn.c: one call per delivery result). They read
 * the verdict records (deliver.h) and decide nothing. Nothing to free.
 */
#include <stdint.h>
#include <time.h>

#include "sched/sched_int.h"
#include "util/util.h"

/* sched_stats - the counters since the scheduler started */
const struct sched_stats *
sched_stats(const struct sched *s)
{
	return &s->stats;
}

/* sched_status_str - a recipient outcome's name, as in status= */
const char *
sched_status_str(enum sched_status st)
{
	switch (st) {
	case SCHED_SENT:	return "sent";
	case SCHED_DEFERRED:	return "deferred";
	case SCHED_BOUNCED:	return "bounced";
	default:		return "?";
	}
}

/* sched_dane_str - a DANE verdict's name */
const char *
sched_dane_str(enum sched_dane d)
{
	switch (d) {
	case SCHED_DANE_VALIDATED:	return "validated";
	case SCHED_DANE_FAILED:		return "failed";
	case SCHED_DANE_BYPASSED:	return "bypassed";
	case SCHED_DANE_RELAXED:	return "relaxed";
	default:			return "?";
	}
}

/* sched_count_rcpt - one recipient's outcome (one status= log line) */
void
sched_count_rcpt(struct sched *s, enum sched_status st, enum tls_achieved t)
{
	if ((unsigned)st < SCHED_NSTATUS && (unsigned)t < SCHED_NTLS)
		s->stats.rcpt[st][t]++;
}

/*
 * sched_count_result - a delivery's attempts: each attempt's failure
 * class, and the DANE verdict of each session made under TLSA records
 * (a DANE failure is one the bypass list or TLS-Required: No let pass,
 * or one that stopped the host); a route that failed before any
 * attempt (a bogus MX answer, a lookup without answer) counts its
 * class once.
 */
void
sched_count_result(struct sched *s, const struct deliver_result *r)
{
	const struct deliver_attempt	*a;
	size_t				 i;

	if (r->natt == 0 && r->fail != DMX_FAIL_NONE &&
	    (unsigned)r->fail < SCHED_NFAIL)
		s->stats.fail[r->fail]++;
	for (i = 0; i < r->natt; i++) {
		a = &r->att[i];
		if (a->reused)
			continue;
		if (a->fail != DMX_FAIL_NONE && (unsigned)a->fail < SCHED_NFAIL)
			s->stats.fail[a->fail]++;
		if (a->policy != DELIVER_POLICY_TLSA || a->skipped)
			continue;
		if (a->tls == TLS_ACH_DANE_VERIFIED)
			s->stats.dane[SCHED_DANE_VALIDATED]++;
		else if (a->dane_failed && a->bypassed)
			s->stats.dane[SCHED_DANE_BYPASSED]++;
		else if (a->dane_failed && a->relaxed)
			s->stats.dane[SCHED_DANE_RELAXED]++;
		else if (a->dane_failed)
			s->stats.dane[SCHED_DANE_FAILED]++;
	}
}

static void
oldest_cb(const char *key, void *val, void *arg)
{
	const struct qmsg	*m = val;
	time_t			*oldest = arg;

	(void)key;
	if (*oldest == 0 || (m->created != 0 && m->created < *oldest))
		*oldest = m->created;
}

/*
 * sched_queue_size - messages in the index (waiting, in flight, held);
 * *oldest becomes the earliest one's queue time, or 0 when there is
 * none. One walk of the index: for a scrape, not for the hot path.
 */
size_t
sched_queue_size(const struct sched *s, time_t *oldest)
{
	*oldest = 0;
	htab_foreach(&s->msgs, oldest_cb, oldest);
	return s->msgs.n;
}

/* sched_queue_count - messages in the queue, without the walk */
size_t
sched_queue_count(const struct sched *s)
{
	return s->msgs.n;
}

/* sched_connections - outbound connections open (busy or parked) */
size_t
sched_connections(const struct sched *s)
{
	return s->nconn;
}
