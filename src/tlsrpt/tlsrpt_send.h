/*
 * tlsrpt_send.h - the TLS report sender (RFC 8460 section 5).
 *
 * A pass reports every (policy domain, UTC day) before today (by
 * tlsrpt_now()) that has results in the store and no report yet: it looks
 * up `_smtp._tls.DOMAIN`, builds the report, claims it in the store (a
 * durable mark, made before anything is handed on, so that no restart and
 * no second process ever sends it twice), then hands it on: one
 * DKIM-signed mail to the mailto: addresses, through the submit hook (the
 * relay's queue), and a POST to each https: address. A POST that fails is
 * retried with backoff for up to a day, from the store's post rows, so a
 * restart resumes it.
 *
 * The relay runs a pass once a day, after 00:00 UTC and a random delay
 * (tlsrpt_sender_schedule()), and at start; `danemx tlsrpt send` runs one
 * pass and waits for it (tlsrpt_sender_pass() with a done callback).
 *
 * Ownership: the conf's strings, state, resolver and HTTP client are
 * borrowed and must outlive the sender; tlsrpt_sender_free() cancels what
 * is in flight (a claimed report whose POST is cut short is retried by the
 * next process that opens the store).
 */
#ifndef DANEMX_TLSRPT_SEND_H
#define DANEMX_TLSRPT_SEND_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dmx_resolver;
struct http_client;
struct state;
struct tlsrpt_dkim;
struct tlsrpt_suppress;

#define TLSRPT_SEND_CONCURRENCY	8	/* reports built at once */
#define TLSRPT_RETRY_FIRST	300	/* s before a failed POST's retry */
#define TLSRPT_RETRY_MAX	7200	/* ... doubling up to this */
#define TLSRPT_RETRY_FOR	86400	/* and for at most this long */

/*
 * submit - queue the report mail (from, the rcpts) as the relay's own
 * message; done() runs later with ok 1 and the queue id, or ok 0 and why.
 * Returns -1 (with err) when it cannot even start.
 */
typedef void	(*tlsrpt_submit_done)(void *arg, int ok, const char *id,
		    const char *err);
typedef int	(*tlsrpt_submit_fn)(void *arg, const char *from,
		    const char * const *rcpts, size_t nrcpt, const char *msg,
		    size_t len, tlsrpt_submit_done done, void *done_arg,
		    char *err, size_t errlen);

struct tlsrpt_send_conf {
	int			 enabled;	/* the relay: tlsrpt = yes */
	struct event_base	*base;
	struct dmx_resolver	*res;
	struct http_client	*http;
	struct state		*st;
	const char		*organization_name;
	const char		*contact_info;
	const char		*submitter;	/* our domain (report-id,
						   filename, headers) */
	const char		*from;		/* the report mail's sender */
	const struct tlsrpt_dkim *dkim;		/* NULL: mail unsigned */
	const struct tlsrpt_suppress *suppress;	/* or NULL */
	int			 send_all;	/* report days without failure */
	unsigned		 delay_max;	/* s of random delay after 00:00 */
	unsigned		 retry_first;	/* 0: TLSRPT_RETRY_FIRST */
	tlsrpt_submit_fn	 submit;
	void			*submit_arg;
	/* Test aid (DANEMX_TLSRPT_STOP_AFTER_CLAIM): stop the pass right
	 * after the first claim, before anything is handed on. */
	int			 stop_after_claim;
};

/* What a pass did. */
struct tlsrpt_send_stats {
	unsigned	 reports;	/* claimed and handed on */
	unsigned	 mails;		/* report mails queued */
	unsigned	 posts_ok;	/* POSTs answered 2xx */
	unsigned	 posts_retry;	/* POSTs to be retried */
	unsigned	 skipped;	/* no record, suppressed, ... */
	unsigned	 failed;	/* lookup or build failures (next pass) */
	int		 stopped;	/* stop_after_claim stopped it */
};

struct tlsrpt_sender;

struct tlsrpt_sender *tlsrpt_sender_new(const struct tlsrpt_send_conf *,
	    char *err, size_t errlen);
void	 tlsrpt_sender_free(struct tlsrpt_sender *);
/* new settings (SIGHUP): the strings and suppress list it borrows now;
 * base, res, http, st, dkim and submit stay */
void	 tlsrpt_sender_update(struct tlsrpt_sender *,
	    const struct tlsrpt_send_conf *);
/* the relay: a pass now, then every day after 00:00 UTC; and retries */
void	 tlsrpt_sender_schedule(struct tlsrpt_sender *);
/* one pass over day (NULL: every day before today) and domain (NULL:
 * all), and the POST retries that are due; done() once all is over */
int	 tlsrpt_sender_pass(struct tlsrpt_sender *, const char *day,
	    const char *domain, void (*done)(void *,
	    const struct tlsrpt_send_stats *), void *arg);

#endif /* DANEMX_TLSRPT_SEND_H */
