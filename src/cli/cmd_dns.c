/*
 * cmd_dns.c - danemx dns NAME [TYPE]: one validated lookup, explained.
 *
 * The operator's "why did DANE not apply?" tool: prints the records and
 * the DNSSEC status our own validator gave them, in text or as one JSON
 * object. The result is freed before the command returns.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "util/util.h"

static const char dns_help[] =
"usage: danemx dns [options] NAME [TYPE]\n"
"\n"
"Look up NAME (TYPE is A, AAAA, MX, TLSA, CNAME or TXT; default A) with\n"
"the same in-process DNSSEC validation that delivery uses, and show the\n"
"records and the status they were validated to:\n"
"\n"
"  secure     signed and validated from the trust anchor\n"
"  insecure   provably unsigned (DANE does not apply)\n"
"  bogus      validation failed; the reason is shown\n"
"  servfail   no answer could be had\n"
"  timeout    no answer within --timeout\n"
"  malformed  an answer that does not parse; the reason is shown\n"
"\n"
"NXDOMAIN and NODATA are answers, not failures: a secure NXDOMAIN has\n"
"status secure and rcode NXDOMAIN. For TLSA, query the full owner name,\n"
"e.g. _25._tcp.mx.example.org.\n"
"\n"
"With --json, one object on stdout with the keys name, type, status,\n"
"rcode, nodata, nxdomain, canonical_name, cname_secure, cname_chain,\n"
"records, ttl, why_bogus and error.\n"
"\n"
"Exit status:\n"
"  0   secure          1   insecure\n"
"  2   bogus           3   servfail or malformed\n"
"  4   timeout         64  usage error\n"
"  78  resolver configuration error (no trust anchor, bad -R file)\n"
"\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  danemx dns example.org MX\n"
"  danemx dns --json _25._tcp.mail.example.org TLSA\n"
"  danemx -R world/unbound.conf dns www.secure.test\n";

struct dns_cmd {
	struct dmx_dns_result	*res;
};

static void
dns_done(void *arg, struct dmx_dns_result *res)
{
	struct dns_cmd *d = arg;

	d->res = res;
}

static int
exit_status(const struct dmx_dns_result *r)
{
	switch (r->status) {
	case DMX_DNS_SECURE:	return 0;
	case DMX_DNS_INSECURE:	return 1;
	case DMX_DNS_BOGUS:	return 2;
	case DMX_DNS_TIMEOUT:	return 4;
	case DMX_DNS_SERVFAIL:
	case DMX_DNS_MALFORMED:	break;
	}
	return 3;
}

static void
print_json(const struct dmx_dns_result *r)
{
	struct buf	 b;
	const char	*rc = r->status == DMX_DNS_TIMEOUT ? NULL :
	    dmx_rcode_str(r->rcode);
	size_t		 i;

	buf_init(&b, 16 * 1024 * 1024);
	buf_adds(&b, "{");
	json_kv_str(&b, "name", r->qname);
	buf_adds(&b, ",");
	json_kv_str(&b, "type", dmx_type_str(r->qtype));
	buf_adds(&b, ",");
	json_kv_str(&b, "status", dmx_dns_status_str(r->status));
	buf_adds(&b, ",");
	json_kv_str(&b, "rcode", rc);
	buf_adds(&b, ",");
	json_kv_bool(&b, "nodata", r->nodata);
	buf_adds(&b, ",");
	json_kv_bool(&b, "nxdomain", r->nxdomain);
	buf_adds(&b, ",");
	json_kv_str(&b, "canonical_name", r->canonical_name);
	buf_adds(&b, ",");
	json_kv_bool(&b, "cname_secure", r->cname_secure);
	buf_adds(&b, ",\"cname_chain\":[");
	for (i = 0; i < r->ncname; i++) {
		if (i > 0)
			buf_adds(&b, ",");
		json_str(&b, r->cname_chain[i]);
	}
	buf_adds(&b, "],\"records\":[");
	for (i = 0; i < r->nrrs; i++) {
		if (i > 0)
			buf_adds(&b, ",");
		json_str(&b, r->rrs[i].text);
	}
	buf_adds(&b, "],");
	json_kv_int(&b, "ttl", r->ttl);
	buf_adds(&b, ",");
	json_kv_str(&b, "why_bogus", r->why_bogus);
	buf_adds(&b, ",");
	json_kv_str(&b, "error", r->error);
	buf_adds(&b, "}\n");
	fputs(b.data, stdout);
	buf_free(&b);
}

static void
print_text(const struct dmx_dns_result *r)
{
	const char	*type = dmx_type_str(r->qtype);
	size_t		 i;

	for (i = 0; i < r->ncname; i++)
		printf("%s IN CNAME %s\n", r->cname_chain[i],
		    i + 1 < r->ncname ? r->cname_chain[i + 1] :
		    r->canonical_name);
	for (i = 0; i < r->nrrs; i++)
		printf("%s %u IN %s %s\n", r->rrs[i].owner, r->rrs[i].ttl,
		    type, r->rrs[i].text);
	if (r->ncname > 0)
		printf("canonical name: %s (CNAME chain %s)\n",
		    r->canonical_name, r->cname_secure ? "secure end to end" :
		    "not secure end to end");
	switch (r->status) {
	case DMX_DNS_SECURE:
	case DMX_DNS_INSECURE:
		printf("status: %s, rcode %s%s\n", dmx_dns_status_str(r->status),
		    dmx_rcode_str(r->rcode), r->nxdomain ?
		    " (the name does not exist)" : r->nodata ?
		    " (NODATA: the name has no records of this type)" : "");
		break;
	case DMX_DNS_BOGUS:
		printf("status: bogus: %s\n", r->why_bogus);
		break;
	default:
		printf("status: %s: %s\n", dmx_dns_status_str(r->status),
		    r->error ? r->error : "no reason given");
	}
}

/* cmd_dns - danemx dns NAME [TYPE] */
int
cmd_dns(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct event_base	*base;
	struct dmx_resolver	*r;
	struct dns_cmd		 d;
	const char		*name;
	int			 ch, type = DMX_T_A, rv;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			fputs(dns_help, stdout);
			return 0;
		}
		if (ch == '?')
			return cli_usage_error("dns", "unknown option");
		if (cli_common_opt(c, ch, optarg) != 0)
			return EX_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		return cli_usage_error("dns", "expected NAME [TYPE]");
	name = argv[0];
	if (name[0] == '\0' || strlen(name) > 254)
		return cli_usage_error("dns", "'%s' is not a domain name", name);
	if (argc == 2 && (type = dmx_type_from_str(argv[1])) == -1)
		return cli_usage_error("dns", "unsupported type '%s' (use A, "
		    "AAAA, MX, TLSA, CNAME or TXT)", argv[1]);

	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "danemx dns: cannot create the event loop\n");
		return EX_OSERR;
	}
	if ((r = cli_resolver(c, base)) == NULL) {
		event_base_free(base);
		return EX_CONFIG;
	}
	memset(&d, 0, sizeof(d));
	if (dmx_dns_lookup(r, name, (uint16_t)type, dns_done, &d) == 0) {
		dmx_resolver_free(r);
		event_base_free(base);
		return cli_usage_error("dns", "cannot look up '%s'", name);
	}
	while (d.res == NULL)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	dmx_resolver_free(r);
	event_base_free(base);
	if (d.res == NULL) {
		fprintf(stderr, "danemx dns: the event loop failed\n");
		return EX_SOFTWARE;
	}
	if (c->json)
		print_json(d.res);
	else
		print_text(d.res);
	rv = exit_status(d.res);
	dmx_dns_result_free(d.res);
	return rv;
}
