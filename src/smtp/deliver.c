/*
 * deliver.c - one delivery attempt over the RFC 7672 route.
 *
 * The route (policy/route.c) has decided each host's TLS demand; here
 * the hosts are tried in order, every address of each, one SMTP session
 * at a time. The session's TLS hooks arm OpenSSL through tls/ and judge
 * the handshake from the verdict: a DANE host that does not match is
 * left (rule 16) unless the bypass list applies (rule 27, logged
 * loudly); a host that demanded TLS is never retried in cleartext
 * (rule 15); only an opportunistic host may be (rule 18).
 *
 * Ownership: struct deliver owns the route request, the live session
 * and the result until done(), which takes the result; the route has
 * one reference for the delivery and one per result. Log lines are
 * written where each decision is made, once. With reuse, done() is
 * called straight from the session's callback, and may go on with
 * deliver_next_msg() or end with deliver_quit() or deliver_abort().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dns/dns.h"
#include "log/log.h"
#include "smtp/deliver.h"
#include "util/util.h"

struct deliver {
	struct event_base	*base;
	struct dmx_resolver	*res;
	struct deliver_conf	 conf;
	struct route_req	*rreq;
	struct route		*route;		/* our reference */
	struct smtp_client	*sess;
	struct deliver_result	*r;		/* NULL while kept idle */
	char			 domain[DMX_NAME_MAX];
	int			 keep;		/* the session is parked */
	struct deliver_attempt	 sticky;	/* the parked session's attempt */
	size_t			 hi, ai;
	size_t			 nhost;		/* hosts before any self */
	int			 retry_plain;	/* next session without TLS */
	int			 logged_host;	/* host hi's lines are out */
	struct event		*ev;
};

static void	deliver_next(struct deliver *);
static void	deliver_free(struct deliver *);

/* tls_achieved_str - the reported TLS level */
const char *
tls_achieved_str(enum tls_achieved t)
{
	switch (t) {
	case TLS_ACH_NONE:		return "none";
	case TLS_ACH_OPPORTUNISTIC:	return "opportunistic";
	case TLS_ACH_ENCRYPTED:		return "encrypted";
	case TLS_ACH_VERIFIED:		return "verified";
	case TLS_ACH_DANE_VERIFIED:	return "dane-verified";
	}
	return "?";
}

/* deliver_outcome_str - the outcome's name */
const char *
deliver_outcome_str(enum deliver_outcome o)
{
	switch (o) {
	case OUTCOME_DELIVERED:	return "delivered";
	case OUTCOME_ACCEPTED:	return "accepted";
	case OUTCOME_REJECTED:	return "rejected";
	case OUTCOME_DEFERRED:	return "deferred";
	}
	return "?";
}

/* deliver_pkix_ctx_new - a client context that verifies with system CAs */
SSL_CTX *
deliver_pkix_ctx_new(char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load the system CA store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* verify is mandatory TLS: tls_begin() raises the floor. */
	if (tls_ctx_policy(ctx, 1, TLS_OPP_MIN_DEFAULT, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
attempt_clear(struct deliver_attempt *a)
{
	if (a->have_verdict)
		tls_verdict_free(&a->verdict);
	free(a->rcpt);
	free(a->transcript);
}

/* deliver_result_free - free a result and everything it owns */
void
deliver_result_free(struct deliver_result *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->natt; i++)
		attempt_clear(&r->att[i]);
	free(r->att);
	free(r->rcpt);
	route_free(r->route);
	free(r);
}

static struct deliver_attempt *
attempt_new(struct deliver *d)
{
	struct deliver_result	*r = d->r;
	struct deliver_attempt	*a;
	size_t			 ncap;

	if (r->natt == r->attcap) {
		/* Most deliveries take one attempt; 3 KiB each. */
		ncap = r->attcap ? r->attcap * 2 : 2;
		if ((a = realloc(r->att, ncap * sizeof(*a))) == NULL)
			fatalx("deliver: out of memory");
		r->att = a;
		r->attcap = ncap;
	}
	a = &r->att[r->natt++];
	memset(a, 0, sizeof(*a));
	a->host = d->hi;
	return a;
}

static struct deliver_attempt *
cur_attempt(struct deliver *d)
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
	attempt_clear(&d->sticky);
	d->sticky = *a;
	d->sticky.rcpt = NULL;
	d->sticky.nrcpt = 0;
	d->sticky.transcript = NULL;
	d->sticky.verdict.chain = NULL;		/* logged once, not copied */
	d->sticky.verdict.nchain = 0;
	d->sticky.verdict.matched_text =
	    xstrdup_or_null(a->verdict.matched_text);
}

static void
finish(struct deliver *d, enum deliver_outcome o, enum dmx_fail rt,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* finish - set the outcome and schedule done() */
static void
finish(struct deliver *d, enum deliver_outcome o, enum dmx_fail rt,
    const char *fmt, ...)
{
	struct timeval		 tv = { 0, 0 };
	struct deliver_result	*r;
	va_list			 ap;

	d->r->outcome = o;
	d->r->rt = rt;
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
	if ((d->ev = evtimer_new(d->base, finish_cb, d)) == NULL)
		fatalx("deliver: out of memory");
	evtimer_add(d->ev, &tv);
}

/* more_hosts - is there a usable host after hi? */
static int
more_hosts(struct deliver *d)
{
	size_t	 i;

	for (i = d->hi + 1; i < d->nhost; i++)
		if (d->r->route->hosts[i].demand != DEMAND_UNUSABLE)
			return 1;
	return 0;
}

/* log_host - what was decided for host hi, said once */
static void
log_host(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	const char		*next = more_hosts(d) ? "trying next MX" :
	    "deferring";

	if (d->logged_host)
		return;
	d->logged_host = 1;
	/* A bypass is always said, whatever else is quiet (rule 27). */
	if (h->bypassed)
		log_warnx("DANE bypass for %s%s%s%s: %s", rt->domain,
		    rt->bypass_comment[0] ? " (" : "", rt->bypass_comment,
		    rt->bypass_comment[0] ? ")" : "", h->why);
	if (!d->conf.log)
		return;
	if (!rt->literal)
		log_info("MX %s (preference %u): TLS %s: %s", h->name, h->pref,
		    route_demand_str(h->demand), h->why);
	switch (h->demand) {
	case DEMAND_UNUSABLE:
		if (h->tlsa_looked_up && h->tlsa_status != DMX_DNS_SECURE &&
		    h->tlsa_status != DMX_DNS_INSECURE)
			log_info("DANE: TLSA lookup for _%u._tcp.%s failed: %s "
			    "(%s)", rt->port, h->tlsa_base,
			    dmx_dns_status_str(h->tlsa_status), next);
		else
			log_info("%s: not used (%s)", h->name, next);
		break;
	case DEMAND_MAY:
		if (rt->level != TLS_LEVEL_DANE &&
		    rt->level != TLS_LEVEL_DANE_ONLY)
			break;
		if (rt->literal)
			log_info("DANE: address literal %s (falling back to "
			    "optional TLS)", rt->domain);
		else if (!rt->mx_secure)
			log_info("DANE: insecure name %s (falling back to "
			    "optional TLS)", rt->domain);
		else if (!h->tlsa_looked_up)
			log_info("DANE: insecure name %s (falling back to "
			    "optional TLS)", h->name);
		else if (h->tlsa_status == DMX_DNS_INSECURE)
			log_info("DANE: insecure TLSA RRset at _%u._tcp.%s "
			    "(ignored; falling back to optional TLS)", rt->port,
			    h->tlsa_base);
		else
			log_info("DANE: no TLSA records for %s (falling back "
			    "to optional TLS)", h->name);
		break;
	default:
		break;
	}
}

/* tls_begin - the session wants an SSL for host hi */
static SSL *
tls_begin(void *arg)
{
	struct deliver		*d = arg;
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	struct deliver_attempt	*a = cur_attempt(d);
	struct tls_dane_opts	 o;
	const char		*refs[2];
	char			 err[256];
	SSL			*ssl;

	if (h->demand == DEMAND_VERIFY && d->conf.pkix_ctx == NULL) {
		log_warnx("TLS for %s: policy verify without a CA store", h->name);
		return NULL;
	}
	ssl = SSL_new(h->demand == DEMAND_VERIFY ? d->conf.pkix_ctx :
	    d->conf.dane_ctx);
	if (ssl == NULL)
		return NULL;
	/* The protocol floor: mandatory TLS, or opportunistic (MAY), where
	 * a refused handshake would mean cleartext (tls/tls_policy.c). */
	if (tls_ssl_floor(ssl, h->demand == DEMAND_MAY ?
	    (d->conf.tls_opp_min_version ? d->conf.tls_opp_min_version :
	    TLS_OPP_MIN_DEFAULT) : (d->conf.tls_min_version ?
	    d->conf.tls_min_version : TLS_MIN_DEFAULT)) == -1) {
		log_warnx("TLS setup for %s: cannot set the protocol floor",
		    h->name);
		SSL_free(ssl);
		return NULL;
	}
	if (h->demand == DEMAND_DANE || (h->demand == DEMAND_ENCRYPT &&
	    h->tlsa.n > 0)) {
		memset(&o, 0, sizeof(o));
		o.base = h->tlsa_base;
		o.profile = DANE_PROFILE_SMTP;
		strlcpy_(a->sni, h->tlsa_base, sizeof(a->sni));
		strlcpy_(a->ref_ids[a->nref_ids++], h->tlsa_base, DMX_NAME_MAX);
		/* Rule 21: the next-hop domain too, when the MX was secure. */
		if (rt->mx_secure && !dns_name_equal(rt->domain, h->tlsa_base)) {
			refs[o.nref_ids++] = rt->domain;
			strlcpy_(a->ref_ids[a->nref_ids++], rt->domain,
			    DMX_NAME_MAX);
		}
		/* ... and its CNAME expansion when that differs. */
		if (rt->mx_secure && rt->domain_canonical[0] != '\0' &&
		    !dns_name_equal(rt->domain_canonical, rt->domain) &&
		    !dns_name_equal(rt->domain_canonical, h->tlsa_base)) {
			refs[o.nref_ids++] = rt->domain_canonical;
			strlcpy_(a->ref_ids[a->nref_ids++],
			    rt->domain_canonical, DMX_NAME_MAX);
		}
		o.ref_ids = refs;
		if (tls_dane_setup(ssl, &o, &h->tlsa, err, sizeof(err)) == -1) {
			log_warnx("TLS setup for %s: %s", h->name, err);
			SSL_free(ssl);
			return NULL;
		}
		return ssl;
	}
	strlcpy_(a->sni, h->name, sizeof(a->sni));
	if (!rt->literal)
		SSL_set_tlsext_host_name(ssl, h->name);
	if (h->demand == DEMAND_VERIFY) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(ssl, h->name);
		strlcpy_(a->ref_ids[a->nref_ids++], h->name, DMX_NAME_MAX);
	}
	return ssl;
}

/*
 * log_chain - the peer's certificates, posttls-finger style; the names
 * are the peer's words (UTF-8 in the verdict): printable ASCII here
 */
static void
log_chain(struct deliver *d, const struct tls_verdict *v)
{
	char	 subj[512], iss[512];
	size_t	 i;

	if (!d->conf.log)
		return;
	for (i = 0; i < v->nchain; i++) {
		strlcpy_(subj, v->chain[i].subject ? v->chain[i].subject : "",
		    sizeof(subj));
		strlcpy_(iss, v->chain[i].issuer ? v->chain[i].issuer : "",
		    sizeof(iss));
		str_printable(subj, strlen(subj));
		str_printable(iss, strlen(iss));
		log_info("X.509: depth %zu subject %s", i, subj);
		log_info("X.509: depth %zu issuer %s", i, iss);
	}
}

/* tls_check - judge the finished handshake; -1 leaves the host */
static int
tls_check(void *arg, SSL *ssl, int handshake_ok, char *why, size_t whylen)
{
	struct deliver		*d = arg;
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	struct deliver_attempt	*a = cur_attempt(d);
	struct tls_verdict	*v = &a->verdict;
	long			 err;

	if (!handshake_ok)
		return -1;
	if (tls_dane_verdict(ssl, &h->tlsa, NULL, v) == -1)
		log_warnx("TLS verdict for %s: out of memory", h->name);
	a->have_verdict = 1;
	log_chain(d, v);
	switch (h->demand) {
	case DEMAND_DANE:
		if (v->effect == DANE_EFFECT_ENCRYPT) {
			/* OpenSSL could use none of the records: rule 17. */
			a->tls = TLS_ACH_ENCRYPTED;
			break;
		}
		if (v->authenticated) {
			a->tls = TLS_ACH_DANE_VERIFIED;
			if (d->conf.log)
				log_info("DANE: %s", v->text);
			break;
		}
		a->dane_failed = 1;
		if (rt->bypass) {
			a->bypassed = 1;
			a->tls = TLS_ACH_ENCRYPTED;
			log_warnx("DANE bypass for %s%s%s%s: %s; delivering over "
			    "unauthenticated TLS", rt->domain,
			    rt->bypass_comment[0] ? " (" : "",
			    rt->bypass_comment, rt->bypass_comment[0] ? ")" :
			    "", v->text);
			break;
		}
		if (d->conf.log)
			log_info("DANE: %s (%s)", v->text, d->ai + 1 < h->naddr ?
			    "trying next address" : more_hosts(d) ?
			    "trying next MX" : "deferring");
		snprintf(why, whylen, "DANE: %s", v->text);
		return -1;
	case DEMAND_VERIFY:
		if ((err = SSL_get_verify_result(ssl)) != X509_V_OK) {
			snprintf(why, whylen, "certificate verification failed: "
			    "%s", X509_verify_cert_error_string(err));
			if (d->conf.log)
				log_info("%s", why);
			return -1;
		}
		a->tls = TLS_ACH_VERIFIED;
		break;
	case DEMAND_ENCRYPT:
		a->tls = TLS_ACH_ENCRYPTED;
		break;
	default:
		a->tls = TLS_ACH_OPPORTUNISTIC;
		break;
	}
	if (d->conf.log)
		log_info("Connection is now using %s with cipher %s (%s)",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		    a->tls == TLS_ACH_DANE_VERIFIED ? "DANE" :
		    tls_achieved_str(a->tls));
	return 0;
}

static void
copy_session(struct deliver_attempt *a, const struct smtp_result *s)
{
	a->stage = s->stage;
	a->ok = s->ok;
	a->temporary = s->temporary;
	/* The reply that decided: the end of data's, when there was one. */
	a->code = s->dot_code ? s->dot_code : s->fail_code ? s->fail_code :
	    s->code;
	strlcpy_(a->enhanced, s->dot_code ? s->dot_enhanced : s->enhanced,
	    sizeof(a->enhanced));
	strlcpy_(a->reply, s->dot_code ? s->dot_reply : s->reply,
	    sizeof(a->reply));
	strlcpy_(a->error, s->error, sizeof(a->error));
	strlcpy_(a->tls_version, s->tls_version, sizeof(a->tls_version));
	strlcpy_(a->tls_cipher, s->tls_cipher, sizeof(a->tls_cipher));
	a->no_starttls = s->no_starttls;
	if (!s->tls)
		a->tls = TLS_ACH_NONE;
	if (s->nrcpt > 0 && (a->rcpt = calloc(s->nrcpt,
	    sizeof(*a->rcpt))) != NULL) {
		memcpy(a->rcpt, s->rcpt, s->nrcpt * sizeof(*a->rcpt));
		a->nrcpt = s->nrcpt;
	}
	a->transcript = xstrdup_or_null(s->transcript.data ?
	    s->transcript.data : "");
}

/* take_rcpts - the used attempt's recipient replies become the result's */
static void
take_rcpts(struct deliver *d, const struct deliver_attempt *a)
{
	if (a->nrcpt == 0)
		return;
	if ((d->r->rcpt = calloc(a->nrcpt, sizeof(*d->r->rcpt))) == NULL)
		fatalx("deliver: out of memory");
	memcpy(d->r->rcpt, a->rcpt, a->nrcpt * sizeof(*a->rcpt));
	d->r->nrcpt = a->nrcpt;
}

/* session_done - a session ended: done, next address, or next host */
static void
session_done(void *arg, const struct smtp_result *s)
{
	struct deliver		*d = arg;
	struct route_host	*h = &d->r->route->hosts[d->hi];
	struct deliver_attempt	*a = cur_attempt(d);
	size_t			 i;
	int			 rej = 0, tmp = 0, perm;

	d->keep = d->conf.reuse && s->reusable;
	if (!d->keep)
		d->sess = NULL;		/* it frees itself */
	copy_session(a, s);
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
			    a->addr, d->r->route->port, tls_achieved_str(a->tls),
			    a->code, a->reply);
		else if (d->conf.log)
			log_info("%s[%s]:%u: session completed, TLS %s", h->name,
			    a->addr, d->r->route->port, tls_achieved_str(a->tls));
		if (d->conf.job == SMTP_JOB_SEND)
			finish(d, OUTCOME_DELIVERED, a->bypassed ?
			    a->verdict.result_type : h->bypassed ? h->rt :
			    DMX_FAIL_NONE, "%d %s", a->code, a->reply);
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
	struct deliver_attempt	*a, *why;
	enum dmx_fail	 rtype = DMX_FAIL_NONE;
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
	/*
	 * The first DANE/DNSSEC failure names the result; its attempt, or
	 * else the last one that failed, gives the reason. (With check,
	 * later hosts may have passed: their attempts say nothing.)
	 */
	why = NULL;
	for (i = 0; i < d->r->natt; i++) {
		a = &d->r->att[i];
		if (a->ok)
			continue;
		if (rtype == DMX_FAIL_NONE) {
			if (a->skipped)
				rtype = rt->hosts[a->host].rt;
			else if (a->dane_failed)
				rtype = a->verdict.result_type;
			else if (a->no_starttls)
				rtype = DMX_FAIL_STARTTLS_NOT_SUPPORTED;
			if (rtype != DMX_FAIL_NONE) {
				why = a;
				continue;
			}
		}
		if (why == NULL || why->ok || rtype == DMX_FAIL_NONE)
			why = a;
	}
	finish(d, permanent ? OUTCOME_REJECTED : OUTCOME_DEFERRED, rtype,
	    "%s", why == NULL ? "no MX host to try" : why->skipped ?
	    rt->hosts[why->host].why : why->error);
}

/* deliver_next - start the next session, or finish */
static void
deliver_next(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct route_host	*h;
	struct deliver_attempt	*a;
	struct smtp_client_conf	 sc;
	const struct net_addr	*src;
	char			 peer[DMX_NAME_MAX + 80], err[256];

	while (d->hi < d->nhost) {
		h = &rt->hosts[d->hi];
		log_host(d);
		if (h->demand == DEMAND_UNUSABLE) {
			a = attempt_new(d);
			a->skipped = 1;
			d->hi++;
			d->ai = 0;
			d->logged_host = 0;
			continue;
		}
		if (d->ai >= h->naddr) {
			d->hi++;
			d->ai = 0;
			d->logged_host = 0;
			continue;
		}
		a = attempt_new(d);
		strlcpy_(a->addr, h->addrs[d->ai].text, sizeof(a->addr));
		a->plaintext_retry = d->retry_plain;
		snprintf(peer, sizeof(peer), "%s[%s]:%u", h->name, a->addr,
		    rt->port);
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
		sc.tls_begin = tls_begin;
		sc.tls_check = tls_check;
		sc.done = session_done;
		sc.arg = d;
		switch (h->demand) {
		case DEMAND_NONE:
			sc.tls_mode = SMTP_TLS_NONE;
			break;
		case DEMAND_MAY:
			sc.tls_mode = d->retry_plain ? SMTP_TLS_NONE :
			    SMTP_TLS_MAY;
			break;
		default:
			sc.tls_mode = SMTP_TLS_MUST;
			break;
		}
		d->retry_plain = 0;
		if (d->conf.log)
			log_info("Connecting to [%s]:%u%s", a->addr, rt->port,
			    h->addr_secure ? " (DNSSEC)" : "");
		if ((d->sess = smtp_client_start(d->base, &sc, err,
		    sizeof(err))) == NULL) {
			snprintf(a->error, sizeof(a->error), "%s", err);
			a->stage = SMTP_ST_CONNECT;
			if (d->conf.log)
				log_info("%s: %s", peer, err);
			d->ai++;
			continue;
		}
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

/* on_route - the route is known: log the MX and start with host 0 */
static void
on_route(void *arg, struct route *rt)
{
	struct deliver	*d = arg;

	d->rreq = NULL;
	d->route = rt;
	d->r->route = route_ref(rt);
	if (d->conf.log && !rt->literal && rt->mx_status <= DMX_DNS_INSECURE &&
	    !rt->failed)
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
	if (self_cut(d)) {
		finish(d, OUTCOME_REJECTED, DMX_FAIL_NONE, "5.4.6 mail for %s "
		    "loops back to myself", rt->domain);
		return;
	}
	deliver_next(d);
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
	strlcpy_(d->domain, conf->domain, sizeof(d->domain));
	strlcpy_(d->r->domain, conf->domain, sizeof(d->r->domain));
	d->rreq = route_resolve(res, conf->domain, conf->port ? conf->port : 25,
	    conf->level, conf->bypass, conf->bypass_comment, on_route, d);
	if (d->rreq == NULL) {
		snprintf(err, errlen, "cannot resolve %s", conf->domain);
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
	if (d->ev != NULL)
		event_free(d->ev);
	deliver_result_free(d->r);
	route_free(d->route);
	attempt_clear(&d->sticky);
	free(d);
}

/* deliver_abort - stop now; done() will not run */
void
deliver_abort(struct deliver *d)
{
	if (d->rreq != NULL)
		route_cancel(d->rreq);
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
 * cannot, a fresh walk of the route.
 */
void
deliver_next_msg(struct deliver *d, const struct deliver_msg *m)
{
	struct route_host	*h;
	struct deliver_attempt	*a;
	char			 err[256];

	if ((d->r = calloc(1, sizeof(*d->r))) == NULL)
		fatalx("deliver: out of memory");
	d->r->used = -1;
	strlcpy_(d->r->domain, d->domain, sizeof(d->r->domain));
	d->r->route = route_ref(d->route);
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
		return;
	}
	h = &d->route->hosts[d->hi];
	a = attempt_new(d);
	*a = d->sticky;
	a->verdict.matched_text = xstrdup_or_null(d->sticky.verdict.matched_text);
	a->reused = 1;
	a->dane_failed = 0;	/* a bypassed failure is not repeated */
	if (d->conf.log)
		log_info("%s[%s]:%u: reusing the connection (TLS %s)", h->name,
		    a->addr, d->route->port, tls_achieved_str(a->tls));
	if (smtp_client_next(d->sess, m->mail_from, m->rcpts, m->nrcpt,
	    &m->body, err, sizeof(err)) == -1) {
		snprintf(a->error, sizeof(a->error), "%s", err);
		smtp_client_quit(d->sess);
		d->sess = NULL;
		finish(d, OUTCOME_DEFERRED, DMX_FAIL_NONE, "%s", err);
	}
}

static void
json_rcpts(struct buf *b, const struct smtp_rcpt_result *rc, size_t n)
{
	size_t	 i;

	buf_adds(b, "[");
	for (i = 0; i < n; i++) {
		buf_adds(b, i ? ",{" : "{");
		json_kv_int(b, "code", rc[i].code);
		buf_adds(b, ",");
		json_kv_str(b, "enhanced", rc[i].enhanced[0] ?
		    rc[i].enhanced : NULL);
		buf_adds(b, ",");
		json_kv_str(b, "text", rc[i].text);
		buf_adds(b, "}");
	}
	buf_adds(b, "]");
}

static void
json_host(struct buf *b, const struct route_host *h)
{
	size_t	 i;
	char	*t;

	buf_adds(b, "{");
	json_kv_str(b, "name", h->name);
	buf_printf(b, ",\"preference\":%u,", h->pref);
	json_kv_str(b, "address_status", dmx_dns_status_str(h->addr_status));
	buf_adds(b, ",\"addresses\":[");
	for (i = 0; i < h->naddr; i++) {
		if (i)
			buf_adds(b, ",");
		json_str(b, h->addrs[i].text);
	}
	buf_adds(b, "],");
	json_kv_str(b, "canonical_name", h->cname ? h->canonical : h->name);
	buf_adds(b, ",");
	json_kv_bool(b, "cname_secure", h->cname_secure);
	buf_adds(b, ",\"tlsa_base_candidates\":[");
	for (i = 0; i < h->nbases; i++) {
		if (i)
			buf_adds(b, ",");
		json_str(b, h->bases[i]);
	}
	buf_adds(b, "],");
	json_kv_str(b, "tlsa_base", h->tlsa_looked_up ? h->tlsa_base : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "tlsa_status", h->tlsa_looked_up ?
	    dmx_dns_status_str(h->tlsa_status) : NULL);
	buf_adds(b, ",\"tlsa\":[");
	for (i = 0; i < h->tlsa.n; i++) {
		buf_adds(b, i ? ",{" : "{");
		t = dane_tlsa_text(&h->tlsa.recs[i], 0);
		json_kv_str(b, "record", t);
		free(t);
		buf_adds(b, ",");
		json_kv_bool(b, "usable", h->tlsa.recs[i].why == DANE_USABLE);
		buf_adds(b, ",");
		json_kv_str(b, "reason", h->tlsa.recs[i].why == DANE_USABLE ?
		    NULL : dane_unusable_str(h->tlsa.recs[i].why));
		buf_adds(b, "}");
	}
	buf_adds(b, "],");
	json_kv_str(b, "demand", route_demand_str(h->demand));
	buf_adds(b, ",");
	json_kv_bool(b, "bypassed", h->bypassed);
	buf_adds(b, ",");
	json_kv_str(b, "why", h->why);
	buf_adds(b, ",");
	json_kv_str(b, "result_type", fail_rfc8460(h->rt));
	buf_adds(b, "}");
}

static void
json_attempt(struct buf *b, const struct deliver_result *r,
    const struct deliver_attempt *a)
{
	const char	*p, *nl;
	char		 line[SMTP_LINE_MAX + 8];
	size_t		 i, n;
	int		 first = 1;

	buf_adds(b, "{");
	json_kv_str(b, "host", r->route->hosts[a->host].name);
	buf_adds(b, ",");
	json_kv_str(b, "address", a->skipped ? NULL : a->addr);
	buf_adds(b, ",");
	json_kv_bool(b, "skipped", a->skipped);
	buf_adds(b, ",");
	json_kv_str(b, "demand",
	    route_demand_str(r->route->hosts[a->host].demand));
	if (a->skipped) {
		buf_adds(b, ",");
		json_kv_str(b, "why", r->route->hosts[a->host].why);
		buf_adds(b, "}");
		return;
	}
	buf_adds(b, ",");
	json_kv_str(b, "tls", tls_achieved_str(a->tls));
	buf_adds(b, ",");
	json_kv_bool(b, "plaintext_retry", a->plaintext_retry);
	buf_adds(b, ",");
	json_kv_str(b, "sni", a->sni[0] ? a->sni : NULL);
	buf_adds(b, ",\"ref_ids\":[");
	for (i = 0; i < a->nref_ids; i++) {
		if (i)
			buf_adds(b, ",");
		json_str(b, a->ref_ids[i]);
	}
	buf_adds(b, "],\"verdict\":");
	if (a->have_verdict) {
		buf_adds(b, "{");
		tls_verdict_json(b, &a->verdict);
		buf_adds(b, "}");
	} else
		buf_adds(b, "null");
	buf_adds(b, ",");
	json_kv_bool(b, "dane_failed", a->dane_failed);
	buf_adds(b, ",");
	json_kv_bool(b, "bypassed", a->bypassed);
	buf_adds(b, ",");
	json_kv_str(b, "tls_version", a->tls_version[0] ? a->tls_version : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "cipher", a->tls_cipher[0] ? a->tls_cipher : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "stage", smtp_stage_str(a->stage));
	buf_adds(b, ",");
	json_kv_bool(b, "ok", a->ok);
	buf_adds(b, ",");
	json_kv_int(b, "code", a->code);
	buf_adds(b, ",");
	json_kv_str(b, "enhanced", a->enhanced[0] ? a->enhanced : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "reply", a->reply);
	buf_adds(b, ",");
	json_kv_str(b, "error", a->error[0] ? a->error : NULL);
	buf_adds(b, ",\"rcpt\":");
	json_rcpts(b, a->rcpt, a->nrcpt);
	buf_adds(b, ",\"transcript\":[");
	for (p = a->transcript; p != NULL && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		n = (size_t)(nl - p);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (!first)
			buf_adds(b, ",");
		first = 0;
		json_str(b, line);
	}
	buf_adds(b, "]}");
}

/* deliver_result_json - the whole trace as one JSON object */
int
deliver_result_json(struct buf *b, const struct deliver_result *r)
{
	const struct route	*rt = r->route;
	size_t			 i;

	buf_adds(b, "{");
	json_kv_str(b, "domain", r->domain);
	if (rt != NULL) {
		buf_adds(b, ",");
		json_kv_str(b, "policy", policy_level_str(rt->level));
		buf_adds(b, ",");
		json_kv_bool(b, "bypass", rt->bypass);
		buf_adds(b, ",\"mx\":{");
		json_kv_str(b, "status", rt->literal ? NULL :
		    dmx_dns_status_str(rt->mx_status));
		buf_adds(b, ",");
		json_kv_bool(b, "secure", rt->mx_secure);
		buf_adds(b, ",");
		json_kv_bool(b, "implicit", rt->implicit_mx);
		buf_adds(b, ",");
		json_kv_bool(b, "literal", rt->literal);
		buf_adds(b, ",");
		json_kv_bool(b, "null_mx", rt->null_mx);
		buf_adds(b, "},\"hosts\":[");
		for (i = 0; i < rt->nhost; i++) {
			if (i)
				buf_adds(b, ",");
			json_host(b, &rt->hosts[i]);
		}
		buf_adds(b, "]");
	}
	buf_adds(b, ",\"attempts\":[");
	for (i = 0; i < r->natt; i++) {
		if (i)
			buf_adds(b, ",");
		json_attempt(b, r, &r->att[i]);
	}
	buf_adds(b, "],");
	json_kv_str(b, "outcome", deliver_outcome_str(r->outcome));
	buf_adds(b, ",");
	json_kv_str(b, "mx_used", r->used >= 0 ?
	    rt->hosts[r->att[r->used].host].name : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "address_used", r->used >= 0 ? r->att[r->used].addr :
	    NULL);
	buf_adds(b, ",");
	json_kv_str(b, "tls", r->used >= 0 ?
	    tls_achieved_str(r->att[r->used].tls) : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "result_type", fail_rfc8460(r->rt));
	buf_adds(b, ",");
	json_kv_str(b, "why", r->why);
	buf_adds(b, ",\"rcpt\":");
	json_rcpts(b, r->rcpt, r->nrcpt);
	return buf_adds(b, "}");
}
