/*
 * fuzz_tlsrpt_txt.c - libFuzzer target for the _smtp._tls TXT record
 * parser (tlsrpt_txt_parse, tlsrpt_txt_parse_rrs).
 *
 * The input is split at '\n' into up to four records and parsed both as
 * C strings and as an RRset (where the records may hold NULs). Whatever
 * the input, a destination kept must be safe to use: a mailto: address
 * that tlsrpt_addr_ok() accepts, an https: URI of printable ASCII
 * without blanks; every note is one printable line; a failure says why.
 * Nothing is allocated that outlives the call.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemx.h"
#include "tlsrpt/tlsrpt_mail.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
printable(const char *s, size_t max)
{
	size_t	 n = strnlen(s, max);

	if (n == max)
		abort();	/* not terminated */
	while (n-- > 0)
		if ((unsigned char)s[n] < ' ' || (unsigned char)s[n] > '~')
			abort();
}

static void
check(int rc, const struct tlsrpt_rua *r, const char *err)
{
	size_t	 i;

	if (rc == -1 && err[0] == '\0')
		abort();
	if (rc == 0 && (r->n == 0 || r->nrecords != 1))
		abort();
	if (r->n > TLSRPT_RUA_MAX)
		abort();
	for (i = 0; i < r->n; i++) {
		const struct tlsrpt_dest	*d = &r->dest[i];

		printable(d->uri, sizeof(d->uri));
		if (strchr(d->uri, ' ') != NULL || strchr(d->uri, '!') != NULL)
			abort();
		if (d->scheme == TLSRPT_MAILTO) {
			if (strncasecmp(d->uri, "mailto:", 7) != 0 ||
			    !tlsrpt_addr_ok(d->addr, strlen(d->addr)))
				abort();
		} else if (d->scheme != TLSRPT_HTTPS ||
		    strncasecmp(d->uri, "https://", 8) != 0 ||
		    d->addr[0] != '\0')
			abort();
	}
	for (i = 0; i < r->nnotes && i < TLSRPT_NOTE_MAX; i++)
		printable(r->notes[i], TLSRPT_NOTE_LEN);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct dmx_dns_rr	 rrs[4];
	struct tlsrpt_rua	 r;
	char			 strs[4][4097], err[256];
	const char		*txts[4];
	const char		*p = (const char *)data, *nl;
	size_t			 n = 0, len;
	int			 rc;

	if (size > 4096)
		return 0;
	memset(rrs, 0, sizeof(rrs));
	while (n < 4) {
		nl = memchr(p, '\n', size);
		len = nl ? (size_t)(nl - p) : size;
		memcpy(strs[n], p, len);
		strs[n][len] = '\0';
		txts[n] = strs[n];
		rrs[n].type = DMX_T_TXT;
		rrs[n].u.txt.data = (char *)(uintptr_t)p;
		rrs[n].u.txt.len = len;
		n++;
		if (nl == NULL)
			break;
		p = nl + 1;
		size -= len + 1;
	}
	err[0] = '\0';
	rc = tlsrpt_txt_parse(txts, n, &r, err, sizeof(err));
	check(rc, &r, err);
	err[0] = '\0';
	rc = tlsrpt_txt_parse_rrs(rrs, n, &r, err, sizeof(err));
	check(rc, &r, err);
	return 0;
}
