/*
 * deliver.c - the delivery engine: one delivery attempt over the RFC
 * 7672 route.
 *
 * The route (src/route) has decided each host's TLS demand; here the
 * hosts are tried in order, every address of each, one SMTP session at
 * a time, each with a verdict record (deliver.h) that says what
 * happened. The session's TLS hooks (deliver_tls.c) arm OpenSSL through
 * tls/ and judge the handshake; a host that demanded TLS is never
 * retried in cleartext (rule 15); only an opportunistic host may be
 * (rule 18). When nothing worked, the records say which failure names
 * the result (deliver_result.c).
 *
 * Ownership: struct deliver owns the route request, the live session
 * and the result until done(), which takes the result; the route has
 * one reference for the delivery and one per result. Log lines are
 * written where each decision is made, once. With reuse, done() is
 * called straight from the session's callback, and may go on with
 * deliver_next_msg() or end with deliver_quit() or deliver_abort().
 * Out of memory, a delivery defers: it never exits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "log/log.h"
#include "deliver/deliver_int.h"
#include "sts/sts.h"
#include "util/util.h"

static void	deliver_next(struct deliver *);
static void	deliver_free(struct deliver *);
static void	session_done(void *, const struct smtp_result *);

/* attempt_new - a new record for host hi; NULL when out of memory */
static struct deliver_attempt *
attempt_new(struct deliver *d)
{
	struct deliver_result	*r = d->r;
	struct route_host	*h = &r->route->hosts[d->hi];
	struct deliver_attempt	*a;
	size_t			 ncap;

	if (r->natt == r->attcap) {
		/* Most deliveries take one attempt; 3 KiB each. */
		ncap = r->attcap ? r->attcap * 2 : 2;
		if ((a = realloc(r->att, ncap * sizeof(*a))) == NULL)
			return NULL;
		r->att = a;
		r->attcap = ncap;
	}
	a = &r->att[r->natt++];
	memset(a, 0, sizeof(*a));
	a->host = d->hi;
	/* The policy: DANE when the host's secure TLSA records decide
	 * (rule 31), else MTA-STS when one is in force. */
	if (h->tlsa_looked_up && h->tlsa.secure && h->tlsa.n > 0)
		a->policy = DELIVER_POLICY_TLSA;
	else if (r->sts.policy != NULL && r->sts.policy->mode !=
	    STS_MODE_NONE && (h->demand == DEMAND_STS || h->demand ==
	    DEMAND_MAY || (h->demand == DEMAND_UNUSABLE && h->rt ==
	    DMX_FAIL_VALIDATION))) {
		a->policy = DELIVER_POLICY_STS;
		a->sts_pattern = sts_mx_match(r->sts.policy, h->name);
		if (a->sts_pattern == NULL && r->sts.policy->mode ==
		    STS_MODE_TESTING)
			a->sts_fail = DMX_FAIL_VALIDATION; /* enforce: unused */
	}
	return a;
}

/* deliver_cur_attempt - the record of the session under way */
struct deliver_attempt *
deliver_cur_attempt(struct deliver *d)
{
	return &d->r->att[d->r->natt - 1];
}

/* finish_cb - hand the result over; the deliver is gone after this */
static void
finish_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct deliver		*d = arg;
	struct deliver_result	*r = d->r;
	void			(*done)(void *, struct deliver_result *) =
	    d->conf.done;
	void			*cbarg = d->conf.arg;

	(void)fd;
	(void)ev;
	d->r = NULL;
	deliver_free(d);
	done(cbarg, r);
}

/* keep_attempt - remember the parked session's TLS facts for the next */
static void
keep_attempt(struct deliver *d, const struct deliver_attempt *a)
{
	deliver_attempt_clear(&d->sticky);
	if (deliver_attempt_copy(&d->sticky, a) == -1)
		log_warnx("deliver: %s: out of memory (the next message's "
		    "record has no DANE verdict)", d->domain);
}

static void
finish(struct deliver *d, enum deliver_outcome o, enum dmx_fail fail,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* finish - set the outcome and schedule done() */
static void
finish(struct deliver *d, enum deliver_outcome o, enum dmx_fail fail,
    const char *fmt, ...)
{
	struct timeval		 tv = { 0, 0 };
	struct deliver_result	*r;
	va_list			 ap;

	d->r->outcome = o;
	d->r->fail = fail;
	va_start(ap, fmt);
	vsnprintf(d->r->why, sizeof(d->r->why), fmt, ap);
	va_end(ap);
	if (d->keep) {
		/* The session is parked: hand over now; the owner goes on. */
		r = d->r;
		d->r = NULL;
		r->kept = 1;
		if (r->used >= 0)
			keep_attempt(d, &r->att[r->used]);
		d->conf.done(d->conf.arg, r);
		return;
	}
	evtimer_add(d->ev, &tv);	/* made with the delivery */
}

/* deliver_more_hosts - is there a usable host after hi? */
int
deliver_more_hosts(const struct deliver *d)
{
	size_t	 i;

	for (i = d->hi + 1; i < d->nhost; i++)
		if (d->r->route->hosts[i].demand != DEMAND_UNUSABLE)
			return 1;
	return 0;
}

/* take_rcpts - the used attempt's recipient replies become the result's */
static void
take_rcpts(struct deliver *d, const struct deliver_attempt *a)
{
	if (a->nrcpt == 0)
		return;
	if ((d->r->rcpt = calloc(a->nrcpt, sizeof(*d->r->rcpt))) == NULL) {
		/* Without the replies the recipients count as deferred:
		 * sent again later, at least once, never lost. */
		log_warnx("deliver: %s: out of memory", d->domain);
		return;
	}
	memcpy(d->r->rcpt, a->rcpt, a->nrcpt * sizeof(*a->rcpt));
	d->r->nrcpt = a->nrcpt;
}

/* session_done - a session ended: done, next address, or next host */
static void
session_done(void *arg, const struct smtp_result *s)
{
	struct deliver		*d = arg;
	struct route_host	*h = &d->r->route->hosts[d->hi];
	struct deliver_attempt	*a = deliver_cur_attempt(d);
	size_t			 i;
	int			 rej = 0, tmp = 0, perm;

	if (d->conf.gate != NULL)
		deliver_gate_leave(d->conf.gate, &d->gate);
	d->keep = d->conf.reuse && s->reusable;
	if (!d->keep)
		d->sess = NULL;		/* it frees itself */
	deliver_attempt_session(a, s);
	if (a->reused && !s->ok && (s->fail_code == 0 ||
	    s->fail_code == 421 || s->stage == SMTP_ST_RSET)) {
		/* The parked connection was no longer there: start over. */
		if (d->conf.log)
			log_info("%s[%s]:%u: reused connection failed (%s); "
			    "connecting again", h->name, a->addr,
			    d->r->route->port, s->error);
		d->hi = d->ai = 0;
		d->logged_host = 0;
		d->retry_plain = 0;
		deliver_next(d);
		return;
	}
	if (s->ok || (d->conf.job == SMTP_JOB_SEND && s->dot_code == 250)) {
		a->ok = 1;
		if (d->conf.job == SMTP_JOB_CHECK && d->conf.all_hosts) {
			if (d->r->used == -1)
				d->r->used = (int)(d->r->natt - 1);
			d->ai++;
			deliver_next(d);
			return;
		}
		d->r->used = (int)(d->r->natt - 1);
		take_rcpts(d, a);
		for (i = 0; i < a->nrcpt; i++) {
			if (a->rcpt[i].code >= 500)
				rej = 1;
			else if (a->rcpt[i].code >= 400)
				tmp = 1;
		}
		if (d->conf.log && d->conf.job == SMTP_JOB_SEND)
			log_info("%s[%s]:%u: delivered, TLS %s: %d %s", h->name,
			    a->addr, d->r->route->port, deliver_tls_str(a->tls),
			    a->code, a->reply);
		else if (d->conf.log)
			log_info("%s[%s]:%u: session completed, TLS %s", h->name,
			    a->addr, d->r->route->port, deliver_tls_str(a->tls));
		if (d->conf.job == SMTP_JOB_SEND)
			finish(d, OUTCOME_DELIVERED, a->bypassed ||
			    a->relaxed ? a->fail : h->bypassed || h->relaxed ?
			    h->rt : DMX_FAIL_NONE, "%d %s", a->code, a->reply);
		else if (rej)
			finish(d, OUTCOME_REJECTED, DMX_FAIL_NONE,
			    "a recipient was rejected");
		else if (tmp)
			finish(d, OUTCOME_DEFERRED, DMX_FAIL_NONE,
			    "a recipient was deferred");
		else
			finish(d, OUTCOME_ACCEPTED, DMX_FAIL_NONE, "%s",
			    d->conf.job == SMTP_JOB_CHECK ? "TLS check passed" :
			    "every recipient accepted");
		return;
	}
	if (d->conf.log)
		log_info("%s[%s]:%u: %s", h->name, a->addr, d->r->route->port,
		    s->error);
	/*
	 * The server itself answered the transaction (MAIL, RCPT, DATA):
	 * no other MX helps. A lost connection or a timeout has no such
	 * answer (fail_code 0) and moves on like any host failure.
	 */
	if (d->conf.job != SMTP_JOB_CHECK && s->fail_code >= 400 &&
	    s->stage >= SMTP_ST_MAIL && s->stage <= SMTP_ST_DOT) {
		d->r->used = (int)(d->r->natt - 1);
		take_rcpts(d, a);
		perm = s->fail_code >= 500;
		if (s->stage == SMTP_ST_RCPT)	/* every recipient refused */
			for (i = 0; i < a->nrcpt; i++)
				if (a->rcpt[i].code < 500)
					perm = 0;
		finish(d, perm ? OUTCOME_REJECTED : OUTCOME_DEFERRED,
		    DMX_FAIL_NONE, "%s", s->error);
		return;
	}
	if (d->keep) {		/* parked, but not carried on: end it */
		smtp_client_quit(d->sess);
		d->sess = NULL;
		d->keep = 0;
	}
	if (deliver_tlsreq_plain(d, h, a, s)) {	/* TLS-Required: No */
		d->retry_plain = 1;
		deliver_next(d);
		return;
	}
	/* Rule 18: only an opportunistic host may be retried in clear. */
	if (h->demand == DEMAND_MAY && s->stage == SMTP_ST_TLS &&
	    !a->plaintext_retry && !d->retry_plain) {
		if (d->conf.log)
			log_info("%s[%s]:%u: TLS failed; retrying without TLS "
			    "(opportunistic)", h->name, a->addr,
			    d->r->route->port);
		d->retry_plain = 1;
		deliver_next(d);
		return;
	}
	d->retry_plain = 0;
	d->ai++;
	deliver_next(d);
}

/* finish_failed - nothing worked: say why, in one line */
static void
finish_failed(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct route_host	*h;
	enum dmx_fail		 fail;
	const char		*why;
	size_t			 i;
	int			 permanent = rt->nhost > 0;

	if (d->conf.job == SMTP_JOB_CHECK && d->conf.all_hosts &&
	    d->r->used != -1) {
		for (i = 0; i < d->r->natt; i++)
			if (!d->r->att[i].ok)
				break;
		if (i == d->r->natt) {
			finish(d, OUTCOME_ACCEPTED, DMX_FAIL_NONE,
			    "every host passed");
			return;
		}
	}
	/* Permanent only when every host provably has no address. */
	for (i = 0; i < rt->nhost; i++) {
		h = &rt->hosts[i];
		if (h->demand != DEMAND_UNUSABLE || h->naddr > 0 ||
		    (h->addr_status != DMX_DNS_SECURE &&
		    h->addr_status != DMX_DNS_INSECURE))
			permanent = 0;
	}
	deliver_settle(d->r, &fail, &why);
	finish(d, permanent ? OUTCOME_REJECTED : OUTCOME_DEFERRED, fail, "%s",
	    why);
}

/* session_start - a session to host hi's address ai for record a: 0,
 * or -1 when it could not start (the record says why) */
static int
session_start(struct deliver *d, struct deliver_attempt *a)
{
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	struct smtp_client_conf	 sc;
	const struct net_addr	*src;
	char			 peer[DMX_NAME_MAX + 80], err[256];

	strlcpy_(a->addr, h->addrs[d->ai].text, sizeof(a->addr));
	a->plaintext_retry = d->retry_plain;
	snprintf(peer, sizeof(peer), "%s[%s]:%u", h->name, a->addr, rt->port);
	memset(&sc, 0, sizeof(sc));
	sc.addr = (const struct sockaddr *)&h->addrs[d->ai].ss;
	sc.addrlen = h->addrs[d->ai].len;
	sc.peer_name = peer;
	src = h->addrs[d->ai].ss.ss_family == AF_INET6 ? d->conf.src6 :
	    d->conf.src4;
	if (src != NULL) {
		sc.src = (const struct sockaddr *)&src->ss;
		sc.srclen = src->len;
	}
	sc.helo = d->conf.helo;
	sc.job = d->conf.job;
	sc.mail_from = d->conf.mail_from;
	sc.rcpts = d->conf.rcpts;
	sc.nrcpt = d->conf.nrcpt;
	sc.body = d->conf.body;
	sc.t = d->conf.t;
	sc.keep = d->conf.reuse && d->conf.job == SMTP_JOB_SEND;
	sc.tls_begin = deliver_tls_begin;
	sc.tls_check = deliver_tls_check;
	sc.done = session_done;
	sc.arg = d;
	switch (h->demand) {
	case DEMAND_NONE:
		sc.tls_mode = SMTP_TLS_NONE;
		break;
	case DEMAND_MAY:
		sc.tls_mode = SMTP_TLS_MAY;
		break;
	default:
		sc.tls_mode = SMTP_TLS_MUST;
		break;
	}
	if (d->retry_plain)	/* rule 18, or TLS-Required: No */
		sc.tls_mode = SMTP_TLS_NONE;
	d->retry_plain = 0;
	if (d->conf.log)
		log_info("Connecting to [%s]:%u%s", a->addr, rt->port,
		    h->addr_secure ? " (DNSSEC)" : "");
	if ((d->sess = smtp_client_start(d->base, &sc, err,
	    sizeof(err))) == NULL) {
		snprintf(a->error, sizeof(a->error), "%s", err);
		strlcpy_(a->detail, err, sizeof(a->detail));
		a->stage = SMTP_ST_CONNECT;
		a->fail = DMX_FAIL_CONNECT;
		if (d->conf.log)
			log_info("%s: %s", peer, err);
		return -1;
	}
	return 0;
}

/* gate_resume - the gate gave this delivery its slot: go on */
static void
gate_resume(void *arg)
{
	deliver_next(arg);
}

/*
 * gate_enter - may a session to address ai of host h start now? 1 yes
 * (a slot is held, or there is no gate); 0 when the delivery waits in
 * line: gate_resume() runs once it holds a slot
 */
static int
gate_enter(struct deliver *d, const struct route_host *h)
{
	char	 key[DELIVER_GATE_KEY_MAX];

	if (d->conf.gate == NULL)
		return 1;
	snprintf(key, sizeof(key), "%s %u", h->addrs[d->ai].text,
	    d->r->route->port);
	if (deliver_gate_enter(d->conf.gate, &d->gate, key))
		return 1;
	log_debug("%s: [%s]:%u has as many sessions as allowed at once; "
	    "waiting", d->domain, h->addrs[d->ai].text, d->r->route->port);
	return 0;
}

/* deliver_next - start the next session, or finish */
static void
deliver_next(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct route_host	*h;
	struct deliver_attempt	*a;

	while (d->hi < d->nhost) {
		h = &rt->hosts[d->hi];
		deliver_log_host(d);
		if (h->demand != DEMAND_UNUSABLE && d->ai < h->naddr) {
			if (!gate_enter(d, h))
				return;
			if ((a = attempt_new(d)) == NULL)
				break;
			if (session_start(d, a) == 0)
				return;
			if (d->conf.gate != NULL)
				deliver_gate_leave(d->conf.gate, &d->gate);
			d->ai++;
			continue;
		}
		if (h->demand == DEMAND_UNUSABLE) {
			/* Not contacted: the route's reason is the record's. */
			if ((a = attempt_new(d)) == NULL)
				break;
			a->skipped = 1;
			a->fail = h->rt != DMX_FAIL_NONE ? h->rt : DMX_FAIL_DNS;
			strlcpy_(a->detail, h->why, sizeof(a->detail));
		}
		d->hi++;
		d->ai = 0;
		d->logged_host = 0;
	}
	if (d->hi < d->nhost) {
		finish(d, OUTCOME_DEFERRED, DMX_FAIL_NONE, "out of memory");
		return;
	}
	finish_failed(d);
}

/*
 * self_cut - which hosts may be used: an MX host that is this relay
 * (conf.is_self), and every host not more preferred than it, may not
 * (RFC 5321 5.1, as Postfix does). Sets d->nhost; returns 1 when that
 * leaves no host: the mail would loop back to this relay.
 */
static int
self_cut(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct route_host	*h;
	size_t			 i, k;

	d->nhost = rt->nhost;
	if (d->conf.is_self == NULL)
		return 0;
	for (i = 0; i < rt->nhost; i++) {
		h = &rt->hosts[i];
		for (k = 0; k < h->naddr; k++)
			if (d->conf.is_self(d->conf.self_arg,
			    (const struct sockaddr *)&h->addrs[k].ss))
				break;
		if (k < h->naddr)
			break;
	}
	if (i == rt->nhost)
		return 0;
	for (d->nhost = 0; d->nhost < rt->nhost &&
	    rt->hosts[d->nhost].pref < h->pref; d->nhost++)
		;
	if (d->conf.log)
		log_info("%s[%s]:%u is this relay: %s", h->name,
		    h->addrs[k].text, rt->port, d->nhost == 0 ? "the mail "
		    "loops back to itself" : "only more preferred MX hosts "
		    "are used");
	return d->nhost == 0;
}

/*
 * deliver_ready - the route and the MTA-STS policy are known: log the
 * MX, apply the policy, and start with host 0
 */
void
deliver_ready(struct deliver *d)
{
	struct route	*rt = d->waiting;
	char		 why[sizeof(d->r->why)];

	d->waiting = NULL;
	d->route = rt;
	d->r->route = route_ref(rt);
	if (d->conf.log && !rt->literal && !rt->host_only &&
	    rt->mx_status <= DMX_DNS_INSECURE && !rt->failed)
		log_info("%s: MX RRset %s%s, %zu host%s", rt->domain,
		    dmx_dns_status_str(rt->mx_status), rt->implicit_mx ?
		    " (no MX: the domain itself)" : "", rt->nhost,
		    rt->nhost == 1 ? "" : "s");
	if (rt->failed) {
		if (d->conf.log)
			log_info("%s: %s (%s)", rt->domain, rt->why,
			    rt->permanent ? "bouncing" : "deferring");
		finish(d, rt->permanent ? OUTCOME_REJECTED : OUTCOME_DEFERRED,
		    rt->rt, "%s", rt->why);
		return;
	}
	deliver_sts_apply(d);
	deliver_tlsreq_apply(d);
	deliver_sts_copy(&d->sts, &d->r->sts);	/* for the next messages */
	if (self_cut(d)) {
		finish(d, OUTCOME_REJECTED, DMX_FAIL_NONE, "5.4.6 mail for %s "
		    "loops back to myself", rt->domain);
		return;
	}
	if (d->conf.route_check != NULL && d->conf.route_check(
	    d->conf.route_check_arg, d->r, why, sizeof(why)) == -1) {
		d->r->held = 1;
		finish(d, OUTCOME_DEFERRED, DMX_FAIL_DANE_REQUIRED, "%s", why);
		return;
	}
	deliver_next(d);
}

/* on_route - the route is known; the MTA-STS policy may still come */
static void
on_route(void *arg, struct route *rt)
{
	struct deliver	*d = arg;

	d->rreq = NULL;
	d->waiting = rt;
	if (d->sts_id == 0)
		deliver_ready(d);
}

/* route_note - the route into the delivery and its result, and a log
 * line when it is not the domain's own MX hosts; conf's strings are
 * borrowed */
static void
route_note(struct deliver *d, const struct deliver_conf *conf)
{
	struct deliver_route	*r = &d->r->rte;

	d->conf.route_via = d->conf.route_domain = NULL;
	d->conf.route_match = d->conf.route_nexthop = NULL;
	strlcpy_(r->via, conf->route_via ? conf->route_via : "mx",
	    sizeof(r->via));
	strlcpy_(r->domain, conf->route_domain ? conf->route_domain :
	    conf->domain, sizeof(r->domain));
	if (conf->route_match != NULL)
		strlcpy_(r->match, conf->route_match, sizeof(r->match));
	strlcpy_(r->nexthop, conf->route_nexthop ? conf->route_nexthop :
	    conf->domain, sizeof(r->nexthop));
	deliver_route_text(r->text, sizeof(r->text), r->via, r->domain,
	    conf->route_match, r->nexthop);
	d->rte = *r;		/* for the next messages' results */
	if (conf->log && strcmp(r->via, "mx") != 0)
		log_info("%s: route: %s", r->domain, r->text);
}

/* deliver_start - begin delivering to conf->domain */
struct deliver *
deliver_start(struct event_base *base, struct dmx_resolver *res,
    const struct deliver_conf *conf, char *err, size_t errlen)
{
	struct deliver	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->r = calloc(1, sizeof(*d->r))) == NULL) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->base = base;
	d->res = res;
	d->conf = *conf;
	d->conf.domain = NULL;		/* borrowed: d->domain is ours */
	d->r->used = -1;
	if ((d->ev = evtimer_new(base, finish_cb, d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(d->r);
		free(d);
		return NULL;
	}
	strlcpy_(d->domain, conf->domain, sizeof(d->domain));
	if (conf->msgid != NULL)
		strlcpy_(d->msgid, conf->msgid, sizeof(d->msgid));
	d->conf.msgid = NULL;		/* borrowed: d->msgid is ours */
	if (conf->tls_required_no)
		d->conf.reuse = 0;	/* relaxed for this message alone */
	if (d->conf.reuse)
		d->conf.gate = NULL;	/* a parked session keeps its slot */
	deliver_gate_ticket(&d->gate, gate_resume, d);
	strlcpy_(d->r->domain, conf->domain, sizeof(d->r->domain));
	route_note(d, conf);
	deliver_sts_start(d);		/* beside the route, if at all */
	d->rreq = route_resolve(res, conf->domain, conf->port ? conf->port : 25,
	    conf->level, conf->bypass, conf->bypass_comment, on_route, d);
	if (d->rreq == NULL) {
		snprintf(err, errlen, "cannot resolve %s", conf->domain);
		deliver_sts_cancel(d);
		deliver_sts_free(&d->r->sts);
		event_free(d->ev);
		free(d->r);
		free(d);
		return NULL;
	}
	return d;
}

/* deliver_free - free what the delivery still owns (not the session) */
static void
deliver_free(struct deliver *d)
{
	if (d->conf.gate != NULL)
		deliver_gate_leave(d->conf.gate, &d->gate);
	if (d->ev != NULL)
		event_free(d->ev);
	deliver_result_free(d->r);
	route_free(d->route);
	deliver_attempt_clear(&d->sticky);
	deliver_sts_free(&d->sts);
	free(d);
}

/* deliver_abort - stop now; done() will not run */
void
deliver_abort(struct deliver *d)
{
	if (d->rreq != NULL)
		route_cancel(d->rreq);
	deliver_sts_cancel(d);
	route_free(d->waiting);
	if (d->sess != NULL)
		smtp_client_abort(d->sess);
	deliver_free(d);
}

/* deliver_quit - end a kept delivery: QUIT, then it is gone */
void
deliver_quit(struct deliver *d)
{
	if (d->sess != NULL)
		smtp_client_quit(d->sess);
	d->sess = NULL;
	deliver_free(d);
}

/*
 * deliver_next_msg - the next message over a kept delivery. Its done()
 * comes as for the first; the parked session carries it, or, when that
 * cannot, a fresh walk of the route. -1 (and no done()) only when out of
 * memory: the caller still owns the delivery and its message.
 */
int
deliver_next_msg(struct deliver *d, const struct deliver_msg *m)
{
	struct route_host	*h;
	struct deliver_attempt	*a;
	char			 err[256];

	if ((d->r = calloc(1, sizeof(*d->r))) == NULL)
		return -1;
	d->r->used = -1;
	strlcpy_(d->r->domain, d->domain, sizeof(d->r->domain));
	d->r->route = route_ref(d->route);
	d->r->rte = d->rte;
	deliver_sts_copy(&d->r->sts, &d->sts);
	d->conf.mail_from = m->mail_from;
	d->conf.rcpts = m->rcpts;
	d->conf.nrcpt = m->nrcpt;
	d->conf.body = m->body;
	d->conf.arg = m->arg;
	d->keep = 0;
	d->logged_host = 1;
	if (d->sess == NULL) {
		d->hi = d->ai = 0;
		d->logged_host = 0;
		deliver_next(d);
		return 0;
	}
	h = &d->route->hosts[d->hi];
	if ((a = attempt_new(d)) == NULL) {
		smtp_client_quit(d->sess);
		d->sess = NULL;
		finish(d, OUTCOME_DEFERRED, DMX_FAIL_NONE, "out of memory");
		return 0;
	}
	if (deliver_attempt_copy(a, &d->sticky) == -1)
		log_warnx("deliver: %s: out of memory (no DANE verdict in the "
		    "record)", d->domain);
	a->reused = 1;
	a->dane_failed = 0;	/* a bypassed failure is not repeated */
	if (d->conf.log)
		log_info("%s[%s]:%u: reusing the connection (TLS %s)", h->name,
		    a->addr, d->route->port, deliver_tls_str(a->tls));
	if (smtp_client_next(d->sess, m->mail_from, m->rcpts, m->nrcpt,
	    &m->body, err, sizeof(err)) == -1) {
		snprintf(a->error, sizeof(a->error), "%s", err);
		smtp_client_quit(d->sess);
		d->sess = NULL;
		finish(d, OUTCOME_DEFERRED, DMX_FAIL_NONE, "%s", err);
	}
	return 0;
}
