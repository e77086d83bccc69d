/*
 * deliver_tls.c - a session's TLS, for the host the delivery is at: the
 * SMTP client's two hooks. deliver_tls_begin() says what the host
 * demands (DANE with its TLSA records and reference identifiers, PKIX
 * for policy verify, or neither) and has tls/ arm OpenSSL for it;
 * deliver_tls_check() has tls/ judge the finished handshake and writes
 * the verdict into the attempt's record: the TLS level reached, the DANE
 * result and depth, and the failure class when it failed. A DANE host
 * that does not match is left (rule 16), unless the bypass list applies
 * (rule 27, said loudly) or the message asked for TLS-Required: No
 * (deliver_tlsreq.c; said as loudly).
 *
 * The SSL belongs to the SMTP client; the verdict to the record.
 */
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "log/log.h"
#include "deliver/deliver_int.h"
#include "sts/sts.h"
#include "util/util.h"

/* dane_opts - DANE's names for host h: the TLSA base domain (the SNI,
 * rule 25), and with a secure MX the next hop and its CNAME expansion
 * (rule 21); they go into the record too */
static void
dane_opts(const struct route *rt, const struct route_host *h,
    struct deliver_attempt *a, struct tls_dane_opts *o, const char **refs)
{
	memset(o, 0, sizeof(*o));
	o->base = h->tlsa_base;
	o->profile = DANE_PROFILE_SMTP;
	o->ref_ids = refs;
	strlcpy_(a->sni, h->tlsa_base, sizeof(a->sni));
	strlcpy_(a->ref_ids[a->nref_ids++], h->tlsa_base, DMX_NAME_MAX);
	if (rt->mx_secure && !dns_name_equal(rt->domain, h->tlsa_base)) {
		refs[o->nref_ids++] = rt->domain;
		strlcpy_(a->ref_ids[a->nref_ids++], rt->domain, DMX_NAME_MAX);
	}
	if (rt->mx_secure && rt->domain_canonical[0] != '\0' &&
	    !dns_name_equal(rt->domain_canonical, rt->domain) &&
	    !dns_name_equal(rt->domain_canonical, h->tlsa_base)) {
		refs[o->nref_ids++] = rt->domain_canonical;
		strlcpy_(a->ref_ids[a->nref_ids++], rt->domain_canonical,
		    DMX_NAME_MAX);
	}
}

/* sts_testing - is host h under an MTA-STS testing policy (rule 31:
 * only without DANE)? */
static int
sts_testing(const struct deliver *d, const struct route_host *h)
{
	const struct sts_policy	*p = d->r->sts.policy;

	return p != NULL && p->mode == STS_MODE_TESTING &&
	    h->demand == DEMAND_MAY;
}

/*
 * pkix_names - the names WebPKI matches for host h: the host's for
 * verify and MTA-STS (and a testing policy's would-be check); for
 * secure the next-hop domain and its subdomains (Postfix's nexthop,
 * dot-nexthop), and the MX host when the MX lookup was secure
 */
static size_t
pkix_names(const struct deliver *d, const struct route_host *h,
    const char **names, char *dot, size_t dotlen)
{
	const struct route	*rt = d->r->route;
	size_t			 n = 0;

	if (h->demand != DEMAND_SECURE) {
		names[n++] = h->name;
		return n;
	}
	names[n++] = rt->domain;
	snprintf(dot, dotlen, ".%s", rt->domain);
	names[n++] = dot;
	if (rt->mx_secure && !rt->literal && !dns_name_equal(h->name,
	    rt->domain))
		names[n++] = h->name;
	return n;
}

/* deliver_tls_begin - the session wants an SSL for host hi */
SSL *
deliver_tls_begin(void *arg)
{
	struct deliver		*d = arg;
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	struct deliver_attempt	*a = deliver_cur_attempt(d);
	struct tls_session_opts	 so;
	struct tls_dane_opts	 o;
	const char		*refs[2], *names[3];
	char			 err[256], dot[DMX_NAME_MAX + 2];
	SSL_CTX			*ctx = d->conf.dane_ctx;
	SSL			*ssl;
	size_t			 i;
	int			 pkix = h->demand == DEMAND_VERIFY ||
	    h->demand == DEMAND_SECURE || h->demand == DEMAND_STS ||
	    sts_testing(d, h);

	if (pkix && (ctx = deliver_pkix(d)) == NULL) {
		if (h->demand != DEMAND_MAY) {
			log_warnx("TLS for %s: WebPKI without a CA store",
			    h->name);
			return NULL;
		}
		ctx = d->conf.dane_ctx;	/* testing: nothing to check with */
		pkix = 0;
	}
	memset(&so, 0, sizeof(so));
	/* The protocol floor: mandatory TLS, or opportunistic (MAY), where
	 * a refused handshake would mean cleartext (tls/tls_policy.c). */
	so.min_version = h->demand == DEMAND_MAY ?
	    (d->conf.tls_opp_min_version ? d->conf.tls_opp_min_version :
	    TLS_OPP_MIN_DEFAULT) : (d->conf.tls_min_version ?
	    d->conf.tls_min_version : TLS_MIN_DEFAULT);
	if (h->demand == DEMAND_DANE || (h->demand == DEMAND_ENCRYPT &&
	    h->tlsa.n > 0)) {
		dane_opts(rt, h, a, &o, refs);
		so.dane = &o;
		so.tlsa = &h->tlsa;
	} else {
		strlcpy_(a->sni, h->name, sizeof(a->sni));
		so.sni = rt->literal ? NULL : h->name;
		if (pkix) {
			so.npkix_names = pkix_names(d, h, names, dot,
			    sizeof(dot));
			so.pkix_names = names;
			for (i = 0; i < so.npkix_names && a->nref_ids < 3; i++)
				strlcpy_(a->ref_ids[a->nref_ids++], names[i],
				    DMX_NAME_MAX);
		}
	}
	if ((ssl = tls_session_new(ctx, &so, err, sizeof(err))) == NULL)
		log_warnx("TLS setup for %s: %s", h->name, err);
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

/* dane_failed - the DANE verdict did not authenticate the host: -1 to
 * leave it, or 0 when the bypass list or TLS-Required: No lets the
 * session go on */
static int
dane_failed(struct deliver *d, struct deliver_attempt *a, char *why,
    size_t whylen)
{
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	const struct tls_verdict *v = &a->verdict;

	a->dane_failed = 1;
	a->fail = v->result_type != DMX_FAIL_NONE ? v->result_type :
	    DMX_FAIL_VALIDATION;
	snprintf(a->detail, sizeof(a->detail), "DANE: %s", v->text);
	if (rt->bypass) {
		a->bypassed = 1;
		a->tls = TLS_ACH_ENCRYPTED;
		log_warnx("DANE bypass for %s%s%s%s: %s; delivering over "
		    "unauthenticated TLS", rt->domain,
		    rt->bypass_comment[0] ? " (" : "", rt->bypass_comment,
		    rt->bypass_comment[0] ? ")" : "", v->text);
		return 0;
	}
	if (deliver_tlsreq_soft(d, h)) {
		a->relaxed = 1;
		a->tls = TLS_ACH_OPPORTUNISTIC;
		deliver_tlsreq_log(d, h, "DANE", v->text,
		    "with opportunistic TLS");
		return 0;
	}
	if (d->conf.log)
		log_info("DANE: %s (%s)", v->text, d->ai + 1 < h->naddr ?
		    "trying next address" : deliver_more_hosts(d) ?
		    "trying next MX" : "deferring");
	snprintf(why, whylen, "DANE: %s", v->text);
	return -1;
}

/* pkix_failed - WebPKI did not authenticate host h (verify, secure,
 * MTA-STS enforce): the record says why; -1 to leave the host, or 0
 * when TLS-Required: No lets an MTA-STS session go on */
static int
pkix_failed(struct deliver *d, struct deliver_attempt *a, char *why,
    size_t whylen)
{
	struct route_host	*h = &d->r->route->hosts[d->hi];
	const struct tls_verdict *v = &a->verdict;

	if (h->demand == DEMAND_STS) {
		a->fail = DMX_FAIL_STS_WEBPKI;
		snprintf(a->detail, sizeof(a->detail), "MTA-STS: %s", v->text);
		if (deliver_tlsreq_soft(d, h)) {
			a->relaxed = 1;
			a->tls = TLS_ACH_OPPORTUNISTIC;
			deliver_tlsreq_log(d, h, "MTA-STS", v->text,
			    "with opportunistic TLS");
			return 0;
		}
	} else {
		a->fail = v->result_type;
		strlcpy_(a->detail, v->text, sizeof(a->detail));
	}
	snprintf(why, whylen, "%s", a->detail);
	if (d->conf.log)
		log_info("%s", why);
	return -1;
}

/* deliver_tls_check - judge the finished handshake; -1 leaves the host */
int
deliver_tls_check(void *arg, SSL *ssl, int handshake_ok, char *why,
    size_t whylen)
{
	struct deliver		*d = arg;
	struct route_host	*h = &d->r->route->hosts[d->hi];
	struct deliver_attempt	*a = deliver_cur_attempt(d);
	struct tls_verdict	*v = &a->verdict;
	int			 pkix = h->demand == DEMAND_VERIFY ||
	    h->demand == DEMAND_SECURE || h->demand == DEMAND_STS ||
	    (sts_testing(d, h) && deliver_pkix(d) != NULL);

	if (!handshake_ok)
		return -1;
	if (tls_session_verdict(ssl, &h->tlsa, pkix, v) == -1)
		log_warnx("TLS verdict for %s: out of memory", h->name);
	a->have_verdict = 1;
	if (d->conf.keep_chain && a->chain == NULL)
		a->chain = tls_session_chain(ssl);
	log_chain(d, v);
	switch (h->demand) {
	case DEMAND_DANE:
		if (v->effect == DANE_EFFECT_ENCRYPT) {
			/* OpenSSL could use none of the records: rule 17. */
			a->tls = TLS_ACH_ENCRYPTED;
			break;
		}
		if (!v->authenticated) {
			if (dane_failed(d, a, why, whylen) == -1)
				return -1;
			break;
		}
		a->tls = TLS_ACH_DANE_VERIFIED;
		if (d->conf.log)
			log_info("DANE: %s", v->text);
		break;
	case DEMAND_VERIFY:
	case DEMAND_SECURE:
	case DEMAND_STS:
		if (!v->authenticated) {
			if (pkix_failed(d, a, why, whylen) == -1)
				return -1;
			break;
		}
		a->tls = h->demand == DEMAND_STS ? TLS_ACH_STS_VERIFIED :
		    TLS_ACH_VERIFIED;
		if (d->conf.log && h->demand == DEMAND_STS)
			log_info("MTA-STS: %s", v->text);
		break;
	case DEMAND_ENCRYPT:
		a->tls = TLS_ACH_ENCRYPTED;
		break;
	default:
		a->tls = TLS_ACH_OPPORTUNISTIC;
		if (pkix && !v->authenticated) {
			/* Testing (RFC 8461 5): deliver, but say what
			 * enforce would have refused (an MX no pattern
			 * matches would not even have been used). */
			if (a->sts_fail == DMX_FAIL_NONE)
				a->sts_fail = DMX_FAIL_STS_WEBPKI;
			if (d->conf.log)
				log_info("MTA-STS testing: %s would fail under "
				    "enforce: %s", h->name, v->text);
		}
		break;
	}
	if (d->conf.log)
		log_info("Connection is now using %s with cipher %s (%s)",
		    v->version, v->cipher, a->tls == TLS_ACH_DANE_VERIFIED ?
		    "DANE" : a->tls == TLS_ACH_STS_VERIFIED ? "MTA-STS" :
		    deliver_tls_str(a->tls));
	return 0;
}
