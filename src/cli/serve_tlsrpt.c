/*
 * serve_tlsrpt.c - the relay's TLS report sender (RFC 8460): its
 * settings from danemx.conf, read again on SIGHUP, and its mail handed
 * to the scheduler's queue as the relay's own (TLS-Required: No honoured:
 * a report about a broken setup must reach the domain that has it).
 *
 * Ownership: struct serve_tlsrpt owns the sender and a copy of the
 * submitter's name; the conf strings, suppression list, DKIM key, store,
 * resolver, HTTP client and scheduler are the relay's and outlive it
 * (serve_tlsrpt_update() is given the new ones after a reload).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "log/log.h"
#include "sched/sched.h"
#include "tlsrpt/tlsrpt.h"
#include "tlsrpt/tlsrpt_send.h"
#include "util/util.h"

struct serve_tlsrpt {
	struct tlsrpt_sender	*s;
	struct sched		*sched;
	char			 submitter[256];
};

/* submit - the sender's hook: the report mail into the relay's queue */
static int
submit(void *arg, const char *from, const char * const *rcpts, size_t nrcpt,
    const char *msg, size_t len, tlsrpt_submit_done done, void *done_arg,
    char *err, size_t errlen)
{
	struct serve_tlsrpt	*t = arg;

	return sched_submit(t->sched, from, rcpts, nrcpt, msg, len, done,
	    done_arg, err, errlen);
}

/* fill - the sender's settings from the relay's */
static void
fill(struct serve_tlsrpt *t, struct tlsrpt_send_conf *tc,
    const struct dmx_conf *conf, const struct tlsrpt_suppress *sup)
{
	tc->enabled = conf->tlsrpt != 0;
	tc->organization_name = conf->organization_name;
	tc->contact_info = conf->contact_info;
	tc->submitter = cli_tlsrpt_submitter(conf, t->submitter,
	    sizeof(t->submitter));
	tc->from = conf->contact_info;
	tc->suppress = sup;
	tc->send_all = conf->tlsrpt_send_all;
	tc->delay_max = (unsigned)conf->tlsrpt_delay;
	tc->retry_first = (unsigned)conf->tlsrpt_retry;
}

/*
 * serve_tlsrpt_new - the sender, scheduled (a pass now, then daily);
 * NULL (said) when it cannot run: without a store there is nothing to
 * report from.
 */
struct serve_tlsrpt *
serve_tlsrpt_new(const struct serve_tlsrpt_env *env)
{
	struct serve_tlsrpt	*t;
	struct tlsrpt_send_conf	 tc;
	char			 err[512];

	if (env->st == NULL) {
		if (env->conf->tlsrpt)
			log_warnx("TLS reports: no state store: none are "
			    "recorded or sent");
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->sched = env->sched;
	memset(&tc, 0, sizeof(tc));
	fill(t, &tc, env->conf, env->suppress);
	tc.base = env->base;
	tc.res = env->res;
	tc.http = env->http;
	tc.st = env->st;
	tc.dkim = env->dkim;
	tc.submit = submit;
	tc.submit_arg = t;
	if ((t->s = tlsrpt_sender_new(&tc, err, sizeof(err))) == NULL) {
		log_warnx("TLS reports: %s", err);
		free(t);
		return NULL;
	}
	if (env->conf->tlsrpt && env->dkim == NULL)
		log_warnx("TLS reports: no DKIM key (dkim_key_file): reports "
		    "go to https: addresses only");
	tlsrpt_sender_schedule(t->s);
	return t;
}

/* serve_tlsrpt_update - after a reload: the new settings */
void
serve_tlsrpt_update(struct serve_tlsrpt *t, const struct dmx_conf *conf,
    const struct tlsrpt_suppress *sup)
{
	struct tlsrpt_send_conf	 tc;

	if (t == NULL)
		return;
	memset(&tc, 0, sizeof(tc));
	fill(t, &tc, conf, sup);
	tlsrpt_sender_update(t->s, &tc);
}

void
serve_tlsrpt_free(struct serve_tlsrpt *t)
{
	if (t == NULL)
		return;
	tlsrpt_sender_free(t->s);
	free(t);
}
