/*
 * deliver_json.c - a delivery's whole trace as one JSON object, beside
 * the records it reads (deliver.h): the route (MX, hosts, TLSA records
 * with why each is usable or not), every attempt's record (policy, TLS,
 * DANE verdict, failure class and its RFC 8460 type, every SMTP line),
 * the outcome, and the route taken (deliver_route_json()). Appends to a
 * struct buf the caller owns.
 */
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver.h"
#include "dns/dns.h"
#include "sts/sts.h"
#include "util/util.h"

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
	buf_adds(b, ",");
	json_kv_str(b, "policy_type", deliver_policy_str(a->policy));
	buf_adds(b, ",");
	json_kv_str(b, "fail", a->fail == DMX_FAIL_NONE ? NULL :
	    fail_name(a->fail));
	buf_adds(b, ",");
	json_kv_str(b, "result_type", fail_rfc8460(a->fail));
	buf_adds(b, ",");
	json_kv_str(b, "detail", a->detail[0] ? a->detail : NULL);
	if (a->policy == DELIVER_POLICY_STS) {
		buf_adds(b, ",");
		json_kv_str(b, "sts_pattern", a->sts_pattern);
		buf_adds(b, ",");
		json_kv_str(b, "sts_testing_fail", a->sts_fail == DMX_FAIL_NONE ?
		    NULL : fail_name(a->sts_fail));
	}
	if (a->skipped) {
		buf_adds(b, ",");
		json_kv_str(b, "why", r->route->hosts[a->host].why);
		buf_adds(b, "}");
		return;
	}
	buf_adds(b, ",");
	json_kv_str(b, "tls", deliver_tls_str(a->tls));
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

/* json_sts - the MTA-STS policy the delivery found, or null */
static void
json_sts(struct buf *b, const struct deliver_sts *ds)
{
	const struct sts_policy	*p = ds->policy;
	size_t			 i;

	if (!ds->looked_up) {
		buf_adds(b, "null");
		return;
	}
	buf_adds(b, "{");
	json_kv_str(b, "mode", p != NULL ? sts_mode_str(p->mode) : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "id", p != NULL ? p->id : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "source", p == NULL ? NULL : ds->cached ? "cache" :
	    "fetched");
	buf_adds(b, ",\"mx\":[");
	for (i = 0; p != NULL && i < p->nmx; i++) {
		if (i)
			buf_adds(b, ",");
		json_str(b, p->mx[i]);
	}
	buf_adds(b, "],");
	json_kv_str(b, "fail", ds->fail == DMX_FAIL_NONE ? NULL :
	    fail_name(ds->fail));
	buf_adds(b, ",");
	json_kv_str(b, "error", ds->error[0] ? ds->error : NULL);
	buf_adds(b, "}");
}

/* deliver_route_json - the route taken, as an object: via, the recipient
 * domain, the transport entry matched (or null), the next hop, the text */
int
deliver_route_json(struct buf *b, const struct deliver_route *r)
{
	buf_adds(b, "{");
	json_kv_str(b, "via", r->via[0] ? r->via : "mx");
	buf_adds(b, ",");
	json_kv_str(b, "domain", r->domain);
	buf_adds(b, ",");
	json_kv_str(b, "match", r->match[0] ? r->match : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "nexthop", r->nexthop);
	buf_adds(b, ",");
	json_kv_str(b, "text", r->text);
	return buf_adds(b, "}");
}

/* deliver_result_json - the whole trace as one JSON object */
int
deliver_result_json(struct buf *b, const struct deliver_result *r)
{
	const struct route	*rt = r->route;
	size_t			 i;

	buf_adds(b, "{");
	/* The domain asked about; a transport entry's next hop is in the
	 * route (a --nexthop stays the domain, as it always was). */
	json_kv_str(b, "domain", strcmp(r->rte.via, "transport") == 0 ?
	    r->rte.domain : r->domain);
	buf_adds(b, ",\"route\":");
	deliver_route_json(b, &r->rte);
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
		buf_adds(b, "},\"sts\":");
		json_sts(b, &r->sts);
		buf_adds(b, ",\"hosts\":[");
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
	    deliver_tls_str(r->att[r->used].tls) : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "fail", r->fail == DMX_FAIL_NONE ? NULL :
	    fail_name(r->fail));
	buf_adds(b, ",");
	json_kv_str(b, "result_type", fail_rfc8460(r->fail));
	buf_adds(b, ",");
	json_kv_str(b, "why", r->why);
	buf_adds(b, ",\"rcpt\":");
	json_rcpts(b, r->rcpt, r->nrcpt);
	return buf_adds(b, "}");
}
