/*
 * cmd_tlsrpt_send.c - danemx tlsrpt send: one pass of the TLS report
 * sender (src/tlsrpt/tlsrpt_send.c) now, outside the relay, over the
 * relay's store and queue: the DKIM key is read as root, then the
 * process becomes the relay's user, claims each report in the store and
 * commits report mail straight into the queue (the relay sends it within
 * seconds), and POSTs https: reports itself; a POST that fails is left
 * in the store for the relay to retry. Everything is freed before it
 * returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "http/http.h"
#include "log/log.h"
#include "queue/queue.h"
#include "state/state.h"
#include "tlsrpt/tlsrpt.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "tlsrpt/tlsrpt_send.h"
#include "util/util.h"

struct send_run {
	struct queue		*q;
	struct event_base	*base;
	int			 done;
	struct tlsrpt_send_stats st;
};

/* commit - the sender's submit hook: the mail straight into the queue */
static int
commit(void *arg, const char *from, const char * const *rcpts, size_t nrcpt,
    const char *msg, size_t len, tlsrpt_submit_done done, void *done_arg,
    char *err, size_t errlen)
{
	struct send_run		*r = arg;
	struct queue_writer	*w;
	char			 id[QUEUE_ID_LEN + 1];

	if (queue_space(r->q, len, err, errlen) == -1 ||
	    (w = queue_writer_new(r->q, err, errlen)) == NULL)
		return -1;
	queue_writer_honour_tls(w);	/* its TLS-Required: No is ours */
	if (queue_writer_add(w, msg, len) == -1) {
		queue_writer_abort(w);
		snprintf(err, errlen, "cannot write it");
		return -1;
	}
	if (queue_commit(w, from, rcpts, nrcpt, id, err, errlen) == -1)
		return -1;
	done(done_arg, 1, id, NULL);
	return 0;
}

static void
pass_done(void *arg, const struct tlsrpt_send_stats *st)
{
	struct send_run	*r = arg;

	r->st = *st;
	r->done = 1;
	event_base_loopbreak(r->base);
}

/* setup - as root: the key; then the relay's user, its store and queue */
static int
setup(struct dmx_conf *conf, struct tlsrpt_dkim **dkim, struct state **st,
    struct queue **q)
{
	struct relay_user	 ru;
	struct state_conf	 sc;
	char			 err[512];

	if (conf->dkim_key_file != NULL && conf->dkim_key_file[0] != '\0' &&
	    (*dkim = tlsrpt_dkim_load(conf->dkim_domain, conf->dkim_selector,
	    conf->dkim_key_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx tlsrpt send: %s\n", err);
		return EX_CONFIG;
	}
	if (cli_relay_user(conf, &ru, err, sizeof(err)) == -1 ||
	    cli_priv_drop(&ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx tlsrpt send: %s\n", err);
		return EX_NOPERM;
	}
	memset(&sc, 0, sizeof(sc));
	sc.dir = conf->state_dir;
	if ((*st = state_open(&sc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx tlsrpt send: %s\n", err);
		return EX_NOINPUT;
	}
	if ((*q = queue_open(conf->queue_dir, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx tlsrpt send: %s\n", err);
		return EX_CANTCREAT;
	}
	queue_set_minfree(*q, conf->queue_minfree);
	return -1;
}

/* report - what the pass did, on stdout; the exit status */
static int
report(const struct send_run *r)
{
	printf("%u report%s sent: %u mail%s queued, %u POST%s answered 2xx, "
	    "%u to retry; %u skipped; %u failed\n", r->st.reports,
	    r->st.reports == 1 ? "" : "s", r->st.mails, r->st.mails == 1 ?
	    "" : "s", r->st.posts_ok, r->st.posts_ok == 1 ? "" : "s",
	    r->st.posts_retry, r->st.skipped, r->st.failed);
	if (r->st.stopped) {
		printf("stopped after the first claim "
		    "(DANEMX_TLSRPT_STOP_AFTER_CLAIM)\n");
		return EX_TEMPFAIL;
	}
	return r->st.failed > 0 ? EX_TEMPFAIL : 0;
}

/*
 * cli_tlsrpt_send - danemx tlsrpt send [--day D] [--domain D]; day NULL:
 * every day before today. The exit status.
 */
int
cli_tlsrpt_send(struct cli *c, struct dmx_conf *conf, const char *day,
    const char *domain)
{
	struct tlsrpt_dkim	*dkim = NULL;
	struct state		*st = NULL;
	struct dmx_resolver	*res = NULL;
	struct http_client	*http = NULL;
	struct tlsrpt_sender	*s = NULL;
	struct tlsrpt_send_conf	 tc;
	struct http_conf	 hc;
	struct send_run		 r;
	char			 err[512], submitter[256];
	int			 rv;

	memset(&r, 0, sizeof(r));
	memset(&tc, 0, sizeof(tc));
	if ((rv = setup(conf, &dkim, &st, &r.q)) >= 0)
		goto out;
	rv = EX_SOFTWARE;
	if ((r.base = event_base_new()) == NULL)
		goto out;
	if (c->resolver_config == NULL && c->forwarder == NULL &&
	    c->trust_anchor == NULL) {
		c->resolver_config = conf->resolver_config;
		c->forwarder = conf->forwarder;
		c->trust_anchor = conf->trust_anchor;
	}
	if ((res = cli_resolver(c, r.base)) == NULL) {
		rv = EX_CONFIG;
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = conf->ca_file;
	if ((http = http_client_new(r.base, res, &hc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "danemx tlsrpt send: %s\n", err);
		goto out;
	}
	tc.enabled = 1;
	tc.base = r.base;
	tc.res = res;
	tc.http = http;
	tc.st = st;
	tc.organization_name = conf->organization_name;
	tc.contact_info = conf->contact_info;
	tc.submitter = cli_tlsrpt_submitter(conf, submitter,
	    sizeof(submitter));
	tc.from = conf->contact_info;
	tc.dkim = dkim;
	tc.send_all = conf->tlsrpt_send_all;
	tc.retry_first = conf->tlsrpt_retry;
	tc.submit = commit;
	tc.submit_arg = &r;
	tc.stop_after_claim = getenv("DANEMX_TLSRPT_STOP_AFTER_CLAIM") != NULL;
	if ((tc.suppress = tlsrpt_suppress_load(conf->tlsrpt_suppress, err,
	    sizeof(err))) == NULL || (s = tlsrpt_sender_new(&tc, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "danemx tlsrpt send: %s\n", err);
		goto out;
	}
	if (tlsrpt_sender_pass(s, day, domain, pass_done, &r) == -1)
		goto out;
	while (!r.done)
		if (event_base_loop(r.base, EVLOOP_ONCE) == -1)
			goto out;
	rv = report(&r);
out:
	tlsrpt_sender_free(s);
	tlsrpt_suppress_free((struct tlsrpt_suppress *)tc.suppress);
	if (st != NULL && state_sync(st) == -1 && rv == 0)
		rv = EX_TEMPFAIL;
	state_close(st);
	http_client_free(http);
	dmx_resolver_free(res);
	if (r.base != NULL)
		event_base_free(r.base);
	if (r.q != NULL)
		queue_close(r.q);
	tlsrpt_dkim_free(dkim);
	return rv;
}
