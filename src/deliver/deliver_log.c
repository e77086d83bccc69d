/*
 * deliver_log.c - the log lines that say what the route decided for a
 * host, once, as the delivery reaches it: its TLS demand and why, why
 * DANE does not apply (the route's reason, in posttls-finger's words),
 * and, always, a bypass or a TLS-Required: No. Owns nothing.
 */
#include "dns/dns.h"
#include "log/log.h"
#include "deliver/deliver_int.h"

/* deliver_log_host - what was decided for host hi, said once */
void
deliver_log_host(struct deliver *d)
{
	struct route		*rt = d->r->route;
	struct route_host	*h = &rt->hosts[d->hi];
	const char		*next = deliver_more_hosts(d) ? "trying next MX" :
	    "deferring";

	if (d->logged_host)
		return;
	d->logged_host = 1;
	/* A bypass is always said, whatever else is quiet (rule 27). */
	if (h->bypassed)
		log_warnx("DANE bypass for %s%s%s%s: %s", rt->domain,
		    rt->bypass_comment[0] ? " (" : "", rt->bypass_comment,
		    rt->bypass_comment[0] ? ")" : "", h->why);
	if (h->relaxed)		/* said as loudly */
		deliver_tlsreq_log_host(d, h);
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
		if (h->nodane[0] != '\0')
			log_info("DANE: %s", h->nodane);
		break;
	default:
		break;
	}
}
