/*
 * deliver_conf.c - one delivery's settings (struct deliver_conf) from
 * the configuration and the tables: the TLS policy table's level for the
 * next hop (dane when no entry says) and whether MTA-STS applies, the
 * DANE bypass list, the SMTP timeouts, the TLS floors, the WebPKI store,
 * HELO and source addresses, and whether the message asked for
 * TLS-Required: No (RFC 8689). check, probe,
 * send and the relay's scheduler all build theirs here, so that a
 * destination is treated the same whoever sends to it.
 *
 * deliver_conf_route() first picks the next hop of a recipient domain:
 * its transport table entry, the relayhost or the domain itself.
 *
 * Nothing is allocated: the conf borrows the env's strings and tables
 * (and the bypass entry's comment) until the delivery has started.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deliver/deliver.h"
#include "conf/conf.h"

/* deliver_conf_for - the settings for a delivery to nexthop; the caller
 * adds what is sent (mail_from, rcpts, body), reuse, done and arg */
void
deliver_conf_for(struct deliver_conf *dc, const struct deliver_env *env,
    const char *nexthop, enum smtp_job job, time_t now)
{
	const struct dmx_conf	 *c = env->conf;
	const struct policy_entry *pe, *be;
	unsigned		  t = env->timeout;

	memset(dc, 0, sizeof(*dc));
	dc->domain = nexthop;
	dc->port = 25;
	dc->job = job;
	dc->all_hosts = job == SMTP_JOB_CHECK;
	dc->level = TLS_LEVEL_DANE;
	if (env->policy != NULL &&
	    (pe = policy_table_match(env->policy, nexthop, now)) != NULL) {
		dc->level = pe->level;
		dc->no_sts = pe->no_sts;
	}
	if (env->bypass != NULL &&
	    (be = policy_table_match(env->bypass, nexthop, now)) != NULL) {
		dc->bypass = 1;
		dc->bypass_comment = be->comment;
	}
	dc->helo = env->helo;
	dc->src4 = env->src4;
	dc->src6 = env->src6;
	smtp_timeouts_default(&dc->t);
	if (c != NULL) {
		dc->t.connect = (unsigned)c->smtp_connect_timeout;
		dc->t.greeting = (unsigned)c->smtp_greeting_timeout;
		dc->t.ehlo = (unsigned)c->smtp_helo_timeout;
		dc->t.starttls = dc->t.tls = (unsigned)c->smtp_starttls_timeout;
		dc->t.mail = (unsigned)c->smtp_mail_timeout;
		dc->t.rcpt = (unsigned)c->smtp_rcpt_timeout;
		dc->t.data_init = (unsigned)c->smtp_data_init_timeout;
		dc->t.data_block = (unsigned)c->smtp_data_xfer_timeout;
		dc->t.data_end = (unsigned)c->smtp_data_done_timeout;
		dc->t.quit = (unsigned)c->smtp_quit_timeout;
		dc->tls_min_version = (int)c->tls_min_version;
		dc->tls_opp_min_version = (int)c->tls_opportunistic_min_version;
	}
	if (t != 0) {
		/* One --timeout for every reply but the data's own. */
		dc->t.connect = dc->t.greeting = dc->t.ehlo = t;
		dc->t.starttls = dc->t.tls = dc->t.mail = dc->t.rcpt = t;
		dc->t.data_init = dc->t.quit = t;
	}
	dc->dane_ctx = env->dane_ctx;
	dc->gate = env->gate;
	dc->pkix_ctx = env->pkix_ctx;
	dc->pkix = env->pkix;
	dc->sts = env->sts;
	if (c != NULL && !c->mta_sts)
		dc->no_sts = 1;
	dc->tls_required_no = env->tls_required_no;
	dc->is_self = env->is_self;
	dc->self_arg = env->self_arg;
	dc->log = 1;
}

/*
 * deliver_conf_route - the settings for mail to a recipient domain: the
 * next hop of its transport table entry when one applies (the TLS policy
 * table and the bypass list then look up that next hop, and DANE is the
 * next hop's: its MX hosts, or for [host] the host's own TLSA records),
 * else the relayhost, else the domain itself. An entry that discards or
 * bounces is returned, and dc then is for no delivery; else NULL.
 */
const struct transport_entry *
deliver_conf_route(struct deliver_conf *dc, const struct deliver_env *env,
    const char *domain, enum smtp_job job, time_t now)
{
	const struct transport_entry *te;

	te = route_transport_match(env->transport, domain);
	if (te != NULL && te->action == TRANSPORT_SMTP) {
		deliver_conf_for(dc, env, te->dest, job, now);
		dc->port = te->port;
		dc->route_via = "transport";
		dc->route_match = te->pattern;
		dc->route_nexthop = te->nexthop;
	} else if (te == NULL && env->relayhost != NULL) {
		deliver_conf_for(dc, env, env->relayhost, job, now);
		dc->route_via = "relayhost";
		dc->route_nexthop = env->relayhost;
	} else {
		deliver_conf_for(dc, env, domain, job, now);
		dc->route_via = "mx";
		dc->route_nexthop = domain;
		if (te != NULL) {
			dc->route_via = "transport";
			dc->route_match = te->pattern;
			dc->route_nexthop = te->nexthop;
		}
	}
	dc->route_domain = domain;
	return te != NULL && te->action != TRANSPORT_SMTP ? te : NULL;
}

/*
 * deliver_route_text - the route in words, into buf: "transport
 * example.org -> [mx.example.net]:2525" (with the entry's pattern in
 * parentheses when it is a ".parent" or "*"), "relayhost -> HOP",
 * "nexthop -> HOP" or "mx example.org". Returns buf.
 */
const char *
deliver_route_text(char *buf, size_t len, const char *via,
    const char *domain, const char *match, const char *nexthop)
{
	if (via == NULL || *via == '\0' || strcmp(via, "mx") == 0)
		snprintf(buf, len, "mx %s", domain ? domain : nexthop);
	else if (strcmp(via, "transport") == 0 && match != NULL &&
	    domain != NULL && strcasecmp(match, domain) != 0)
		snprintf(buf, len, "transport %s (%s) -> %s", domain, match,
		    nexthop);
	else if (strcmp(via, "transport") == 0)
		snprintf(buf, len, "transport %s -> %s", domain ? domain : "?",
		    nexthop);
	else
		snprintf(buf, len, "%s -> %s", via, nexthop);
	return buf;
}
