/*
 * fuzz_dns.c - libFuzzer target for the DNS message and rdata parsers.
 *
 * The first byte picks the query type; the rest is the message. Each
 * parse result is freed before returning. A name read off the wire must
 * pass dns_name_wire_ok() (the resolver asks only for such names), and
 * dns_name_wire_ok() takes any text.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const uint16_t types[] = { DMX_T_A, DMX_T_AAAA, DMX_T_MX,
	    DMX_T_TLSA, DMX_T_CNAME, DMX_T_TXT };
	struct dmx_dns_result	*r;
	struct dmx_dns_rr	 rr;
	const char		*err;
	char			 name[DMX_NAME_MAX];
	size_t			 off = 0;

	if (size < 1)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 0;
	r->qtype = types[data[0] % DMX_NELEM(types)];
	/* qname NULL: accept whatever question the message holds */
	if (dns_msg_parse(data + 1, size - 1, r, &err) == 0 && r->nrrs > 0 &&
	    r->rrs[0].text == NULL)
		abort();
	/* TXT data is as long as it says and NUL-terminated. */
	for (off = 0; off < r->nrrs; off++)
		if (r->rrs[off].type == DMX_T_TXT &&
		    r->rrs[off].u.txt.data[r->rrs[off].u.txt.len] != '\0')
			abort();
	off = 0;
	dmx_dns_result_free(r);

	/* Bare rdata of each type. */
	memset(&rr, 0, sizeof(rr));
	if (dns_rdata_parse(data + 1, size - 1, 0, size - 1,
	    types[data[0] % DMX_NELEM(types)], &rr, &err) == 0)
		dns_rr_clear(&rr);
	/* A name read off the wire can always be asked for again. */
	if (dns_name_read(data + 1, size - 1, &off, name, sizeof(name),
	    &err) == 0 && !dns_name_wire_ok(name))
		abort();
	/* Any text: an answer, never a crash (a NUL-terminated copy). */
	{
		char	*t;

		if ((t = malloc(size)) != NULL) {
			memcpy(t, data + 1, size - 1);
			t[size - 1] = '\0';
			(void)dns_name_wire_ok(t);
			free(t);
		}
	}
	return 0;
}
