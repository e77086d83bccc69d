/*
 * fuzz_sts_txt.c - libFuzzer target for the MTA-STS TXT record parser
 * (sts_txt_parse) and the choice of the one record among an RRset
 * (sts_txt_select).
 *
 * The input is parsed whole as one record's data, then split at '\n'
 * into up to four records for sts_txt_select. An id that is accepted
 * must be 1-32 letters and digits; a record that is invalid must say why.
 * Nothing is allocated that outlives the call.
 */
#include <stdlib.h>
#include <string.h>

#include "danemx.h"
#include "sts/sts.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check(enum sts_txt_status st, const struct sts_record *rec,
    const struct sts_diag *d)
{
	size_t	 i, n;

	if (st == STS_TXT_OK) {
		n = strlen(rec->id);
		if (n == 0 || n > STS_ID_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (!((rec->id[i] >= 'a' && rec->id[i] <= 'z') ||
			    (rec->id[i] >= 'A' && rec->id[i] <= 'Z') ||
			    (rec->id[i] >= '0' && rec->id[i] <= '9')))
				abort();
	}
	if (st == STS_TXT_INVALID && d->error[0] == '\0')
		abort();
	if (d->nwarn > STS_WARN_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct dmx_dns_rr	 rrs[4];
	struct sts_record	 rec;
	struct sts_diag		 d;
	const char		*p = (const char *)data, *nl;
	size_t			 n = 0, len;
	enum sts_txt_status	 st;

	sts_diag_init(&d);
	st = sts_txt_parse(p, size, &rec, &d);
	check(st, &rec, &d);

	memset(rrs, 0, sizeof(rrs));
	while (size > 0 && n < 4) {
		nl = memchr(p, '\n', size);
		len = nl ? (size_t)(nl - p) : size;
		rrs[n].type = DMX_T_TXT;
		rrs[n].u.txt.data = (char *)(uintptr_t)p;
		rrs[n].u.txt.len = len;
		n++;
		if (nl == NULL)
			break;
		p = nl + 1;
		size -= len + 1;
	}
	sts_diag_init(&d);
	st = sts_txt_select(rrs, n, &rec, &d);
	check(st, &rec, &d);
	return 0;
}
