/*
 * deliver_sts.c - MTA-STS (RFC 8461) in a delivery, with DANE first
 * (rule 31 of docs/rfc7672-rules.md).
 *
 * Beside the route, the delivery asks the policy cache (src/sts) which
 * policy is in force for the destination; when both are known, the
 * policy meets the route host by host:
 *
 *	a host with secure TLSA records (usable or not)	  DANE decides
 *	a host whose TLSA lookup failed			  unusable, as before:
 *							  never MTA-STS
 *	no DANE, enforce, the host matches a pattern	  TLS, WebPKI, the
 *							  host's name (sts)
 *	no DANE, enforce, no pattern matches		  not used
 *	no DANE, testing				  as without a policy;
 *							  what would fail is
 *							  recorded
 *	no DANE, mode none or no policy			  as without a policy
 *
 * MTA-STS applies to a domain next hop at the default levels (dane, may)
 * only: a literal or "[host]" next hop, a level the policy table names
 * (none, encrypt, verify, secure, dane-only), mta-sts=no in the table and
 * mta_sts = no in danemx.conf leave it out. The DANE bypass list never
 * touches it.
 *
 * The result holds one reference to the policy (deliver_sts_free()).
 */
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "deliver/deliver_int.h"
#include "sts/sts.h"
#include "util/util.h"

/* applies - is MTA-STS for this delivery at all? */
static int
applies(const struct deliver *d)
{
	return d->conf.sts != NULL && !d->conf.no_sts &&
	    d->domain[0] != '[' && (d->conf.level == TLS_LEVEL_DANE ||
	    d->conf.level == TLS_LEVEL_MAY);
}

/* take - keep what the answer says in the result */
static void
take(struct deliver *d, const struct sts_answer *a)
{
	struct deliver_sts	*ds = &d->r->sts;

	ds->looked_up = 1;
	if (a->policy != NULL) {
		sts_policy_ref(a->policy);
		ds->policy = a->policy;
	}
	ds->cached = a->source == STS_SRC_CACHE;
	switch (a->failure) {
	case STS_FAIL_FETCH:
		ds->fail = DMX_FAIL_STS_FETCH;
		break;
	case STS_FAIL_POLICY:
		ds->fail = DMX_FAIL_STS_INVALID;
		break;
	default:
		ds->fail = DMX_FAIL_NONE;
		break;
	}
	if (a->error != NULL)
		strlcpy_(ds->error, a->error, sizeof(ds->error));
}

/* on_sts - the cache answered: go on once the route is known too */
static void
on_sts(void *arg, const struct sts_answer *a)
{
	struct deliver	*d = arg;

	d->sts_id = 0;
	take(d, a);
	if (d->waiting != NULL)
		deliver_ready(d);
}

/*
 * deliver_sts_start - ask for the domain's policy beside the route: 0
 * when the answer is known now (from memory) or MTA-STS does not apply,
 * 1 when it will come to deliver_ready()
 */
int
deliver_sts_start(struct deliver *d)
{
	struct sts_answer	 a;

	if (!applies(d))
		return 0;
	if (sts_peek(d->conf.sts, d->domain, &a) == 1) {
		take(d, &a);
		return 0;
	}
	if ((d->sts_id = sts_lookup(d->conf.sts, d->domain, 0, on_sts,
	    d)) == 0) {
		/* As a failed fetch without a cached policy: none. */
		d->r->sts.looked_up = 1;
		d->r->sts.fail = DMX_FAIL_STS_FETCH;
		strlcpy_(d->r->sts.error, "cannot start the lookup",
		    sizeof(d->r->sts.error));
		return 0;
	}
	return 1;
}

/* deliver_sts_cancel - the delivery is gone: its lookup too */
void
deliver_sts_cancel(struct deliver *d)
{
	if (d->sts_id != 0)
		sts_cancel(d->conf.sts, d->sts_id);
	d->sts_id = 0;
}

/* deliver_sts_free - drop the result's reference to the policy */
void
deliver_sts_free(struct deliver_sts *ds)
{
	if (ds->policy != NULL)
		sts_policy_unref(ds->policy);
	ds->policy = NULL;
}

/* deliver_sts_copy - dst is src, with a reference of its own */
void
deliver_sts_copy(struct deliver_sts *dst, const struct deliver_sts *src)
{
	*dst = *src;
	if (dst->policy != NULL)
		sts_policy_ref(dst->policy);
}

/* deliver_pkix - the WebPKI context (verify, secure, MTA-STS), or NULL */
SSL_CTX *
deliver_pkix(struct deliver *d)
{
	if (d->conf.pkix_ctx != NULL)
		return d->conf.pkix_ctx;
	if (d->conf.pkix == NULL)
		return NULL;
	if (tls_pkix_get(d->conf.pkix) == NULL && d->conf.pkix->failed == 1) {
		log_warnx("WebPKI: %s", d->conf.pkix->err);
		d->conf.pkix->failed = 2;	/* said once */
	}
	return d->conf.pkix->ctx;
}

/* dane_decides - does the host have secure TLSA records (rule 31)? */
static int
dane_decides(const struct route_host *h)
{
	return h->demand == DEMAND_DANE || (h->demand == DEMAND_ENCRYPT &&
	    h->tlsa.n > 0 && h->tlsa.secure) || h->demand == DEMAND_UNUSABLE;
}

/* deliver_sts_apply - the policy in force meets the route, host by host */
void
deliver_sts_apply(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct deliver_sts	*ds = &d->r->sts;
	struct sts_policy	*p = ds->policy;
	struct route_host	*h;
	const char		*pat;
	size_t			 i;

	if (!ds->looked_up)
		return;
	if (p == NULL || p->mode == STS_MODE_NONE) {
		if (d->conf.log && ds->fail != DMX_FAIL_NONE)
			log_info("MTA-STS: no policy for %s: %s (delivering as "
			    "without one)", rt->domain, ds->error);
		else if (d->conf.log && p != NULL)
			log_info("MTA-STS: policy id=%s for %s is mode none",
			    p->id, rt->domain);
		return;
	}
	if (d->conf.log)
		log_info("MTA-STS: %s policy id=%s for %s (%s%s%s)",
		    sts_mode_str(p->mode), p->id, rt->domain, ds->cached ?
		    "cached" : "fetched", ds->fail != DMX_FAIL_NONE ? "; " : "",
		    ds->fail != DMX_FAIL_NONE ? ds->error : "");
	for (i = 0; i < rt->nhost; i++) {
		h = &rt->hosts[i];
		if (dane_decides(h)) {
			if (d->conf.log && h->demand != DEMAND_UNUSABLE)
				log_info("MTA-STS: %s has secure TLSA records: "
				    "DANE decides", h->name);
			continue;
		}
		pat = sts_mx_match(p, h->name);
		if (p->mode == STS_MODE_TESTING) {
			if (d->conf.log)
				log_info("MTA-STS: testing policy id=%s for %s: "
				    "%s %s%s", p->id, rt->domain, h->name, pat ?
				    "matches " : "matches no pattern (would not "
				    "be used under enforce)", pat ? pat : "");
			continue;
		}
		/* Enforce: said with the host's other lines (log_host). */
		if (pat == NULL) {
			h->demand = DEMAND_UNUSABLE;
			h->rt = DMX_FAIL_VALIDATION;
			snprintf(h->why, sizeof(h->why), "MTA-STS: %s matches no "
			    "pattern of the enforce policy id=%s for %s",
			    h->name, p->id, rt->domain);
			continue;
		}
		h->demand = DEMAND_STS;
		h->rt = DMX_FAIL_NONE;
		snprintf(h->why, sizeof(h->why), "MTA-STS: enforce policy id=%s "
		    "for %s: %s matches %s", p->id, rt->domain, h->name, pat);
	}
}
