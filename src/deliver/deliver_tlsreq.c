/*
 * deliver_tlsreq.c - RFC 8689 "TLS-Required: No" in a delivery
 * (conf.tls_required_no): the message's sender asked that the recipient
 * domain's TLS policies be tried but never stop it ("follow any policy
 * published by the recipient domain, but do not fail if this is
 * unsuccessful", 4.2.2; "regardless of its ability to negotiate
 * STARTTLS", 3). The scheduler asks this only for a message whose
 * sender may (queue_writer_honour_tls()).
 *
 *	a host the route or the MTA-STS policy left	  used, TLS if offered
 *	unusable for DANE or MTA-STS: its TLSA lookup	  (opportunistic)
 *	failed (bogus or no answer), dane-only without
 *	TLSA, malformed or unusable TLSA records, no
 *	MTA-STS pattern matches
 *	a DANE or MTA-STS host				  checked as always; a
 *							  failed check goes on
 *							  over the same session
 *							  (opportunistic)
 *	... STARTTLS missing or refused, or the		  once more, in
 *	handshake failed there				  cleartext
 *	a host without addresses, or whose address	  unusable, as always
 *	lookup failed (a bogus MX answer fails the
 *	whole route, as always)
 *
 * The policy table's own levels (none, may, encrypt, verify, secure)
 * are this relay's requirements, not the recipient domain's: they still
 * hold. Every decision is logged at once, with the message's id; the
 * verdict record keeps the failure and says relaxed.
 *
 * Owns nothing; the route's hosts are changed in place (a delivery's
 * route is its own: a relaxed delivery is never reused).
 */
#include "dns/dns.h"
#include "log/log.h"
#include "deliver/deliver_int.h"

/* lookup_failed - a DNS status that is no answer */
static int
lookup_failed(enum dmx_dns_status s)
{
	return s != DMX_DNS_SECURE && s != DMX_DNS_INSECURE;
}

/* relaxable - was host h left unusable for DANE or MTA-STS alone? */
static int
relaxable(const struct route_host *h)
{
	if (h->demand != DEMAND_UNUSABLE || h->naddr == 0 ||
	    lookup_failed(h->addr_status))
		return 0;
	if (h->tlsa_looked_up && lookup_failed(h->tlsa_status))
		return 1;
	return h->rt == DMX_FAIL_DANE_REQUIRED ||
	    h->rt == DMX_FAIL_TLSA_INVALID || h->rt == DMX_FAIL_VALIDATION;
}

/* deliver_tlsreq_log - say that a failure (what: DANE, MTA-STS, TLS)
 * at host h did not stop the message, why, and how it goes on */
void
deliver_tlsreq_log(const struct deliver *d, const struct route_host *h,
    const char *what, const char *why, const char *how)
{
	log_info("%s%sTLS-Required: No: %s: delivering despite %s failure "
	    "(%s) %s", d->msgid, d->msgid[0] ? ": " : "", h->name, what, why,
	    how);
}

/* deliver_tlsreq_log_host - say it of a host deliver_tlsreq_apply()
 * made usable, as the delivery reaches it */
void
deliver_tlsreq_log_host(const struct deliver *d, const struct route_host *h)
{
	deliver_tlsreq_log(d, h, h->rt == DMX_FAIL_VALIDATION ? "MTA-STS" :
	    h->rt == DMX_FAIL_DNSSEC_INVALID ? "DNSSEC" : "DANE", h->why,
	    "with opportunistic TLS");
}

/*
 * deliver_tlsreq_soft - may a TLS failure at host h not stop the message?
 * A host whose TLS the recipient domain demands: DANE (authenticated,
 * or encrypted for unusable TLSA records or the bypass list), MTA-STS.
 */
int
deliver_tlsreq_soft(const struct deliver *d, const struct route_host *h)
{
	if (!d->conf.tls_required_no)
		return 0;
	return h->demand == DEMAND_DANE || h->demand == DEMAND_STS ||
	    (h->demand == DEMAND_ENCRYPT && (h->tlsa.n > 0 || h->bypassed));
}

/*
 * deliver_tlsreq_plain - a session to host h failed (s): 1 when it was
 * STARTTLS (missing or refused) or the handshake where the recipient
 * domain demands TLS, and TLS-Required: No has the host tried once more
 * in cleartext (said so here; the caller starts it)
 */
int
deliver_tlsreq_plain(const struct deliver *d, const struct route_host *h,
    struct deliver_attempt *a, const struct smtp_result *s)
{
	if (!deliver_tlsreq_soft(d, h) || (s->stage != SMTP_ST_TLS &&
	    !s->no_starttls) || a->plaintext_retry || d->retry_plain)
		return 0;
	a->relaxed = 1;
	deliver_tlsreq_log(d, h, "TLS", s->error, "without TLS");
	return 1;
}

/*
 * deliver_tlsreq_apply - the route and the MTA-STS policy are known: a
 * host left unusable for DANE or MTA-STS is used with opportunistic TLS
 * (said when the delivery reaches it: deliver_log_host())
 */
void
deliver_tlsreq_apply(struct deliver *d)
{
	struct route	*rt = d->r->route;
	size_t		 i;

	if (!d->conf.tls_required_no)
		return;
	for (i = 0; i < rt->nhost; i++) {
		if (!relaxable(&rt->hosts[i]))
			continue;
		rt->hosts[i].demand = DEMAND_MAY;
		rt->hosts[i].relaxed = 1;
	}
}
