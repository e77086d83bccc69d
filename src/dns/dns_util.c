/*
 * dns_util.c - names for statuses, rcodes and types; freeing results.
 *
 * The strings returned are static. dmx_dns_result_free() releases a
 * result and everything it owns.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"

static const struct {
	uint16_t	 type;
	const char	*name;
} types[] = {
	{ DMX_T_A, "A" }, { DMX_T_CNAME, "CNAME" }, { DMX_T_MX, "MX" },
	{ DMX_T_AAAA, "AAAA" }, { DMX_T_TLSA, "TLSA" }, { DMX_T_TXT, "TXT" },
};

/* dmx_dns_status_str - "secure", "insecure", "bogus", ... */
const char *
dmx_dns_status_str(enum dmx_dns_status s)
{
	switch (s) {
	case DMX_DNS_SECURE:	return "secure";
	case DMX_DNS_INSECURE:	return "insecure";
	case DMX_DNS_BOGUS:	return "bogus";
	case DMX_DNS_SERVFAIL:	return "servfail";
	case DMX_DNS_TIMEOUT:	return "timeout";
	case DMX_DNS_MALFORMED:	return "malformed";
	}
	return "unknown";
}

/* dmx_rcode_str - the rcode's mnemonic, NULL for "none" (-1) */
const char *
dmx_rcode_str(int rcode)
{
	static const char *names[] = { "NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	    "NXRRSET", "NOTAUTH", "NOTZONE" };

	if (rcode < 0)
		return NULL;
	if ((size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	return "RCODE?";
}

/* dmx_type_str - mnemonic of a supported type, or "TYPE?" */
const char *
dmx_type_str(uint16_t type)
{
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return "TYPE?";
}

/* dmx_type_from_str - type number of a supported mnemonic, or -1 */
int
dmx_type_from_str(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(types[i].name, s) == 0)
			return types[i].type;
	return -1;
}

/* dmx_dns_result_free - free a result and everything it owns */
void
dmx_dns_result_free(struct dmx_dns_result *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrrs; i++)
		dns_rr_clear(&r->rrs[i]);
	free(r->rrs);
	for (i = 0; i < r->ncname; i++)
		free(r->cname_chain[i]);
	free(r->cname_chain);
	free(r->qname);
	free(r->canonical_name);
	free(r->why_bogus);
	free(r->error);
	free(r);
}
