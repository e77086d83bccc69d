/*
 * test_tlsrpt_txt.c - the _smtp._tls TXT record (RFC 8460 3): which
 * record counts (exactly one beginning with v=TLSRPTv1, case-sensitive),
 * the rua= list (mailto: addresses percent-decoded, https: URIs kept,
 * other schemes and malformed URIs skipped with a note), extensions,
 * limits, junk. Each case gives the records and the exact outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danemx.h"
#include "t.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

#define M(a)	"m:" a		/* want a mailto: destination with addr a */
#define H(u)	"h:" u		/* want an https: destination, uri u */

static const struct txt_case {
	const char	*name;
	const char	*rec[4];	/* NULL-terminated */
	int		 want_rc;
	const char	*want[9];	/* destinations in order, NULL-ended */
	const char	*want_err;	/* substring */
	const char	*want_note;	/* substring of some note */
} cases[] = {
	{ "one mailto", { "v=TLSRPTv1; rua=mailto:tlsrpt@example.net" },
	    0, { M("tlsrpt@example.net") }, NULL, NULL },
	{ "RFC example https", { "v=TLSRPTv1;rua=https://reporting.example."
	    "com/v1/tlsrpt" }, 0, { H("https://reporting.example.com/v1/"
	    "tlsrpt") }, NULL, NULL },
	{ "mailto and https", { "v=TLSRPTv1; rua=mailto:a@example.net,"
	    "https://r.example.net/x" }, 0, { M("a@example.net"),
	    H("https://r.example.net/x") }, NULL, NULL },
	{ "blanks around , and ;", { "v=TLSRPTv1 ;\trua=mailto:a@x.test ,\t"
	    "https://h.test/ ; " }, 0, { M("a@x.test"), H("https://h.test/") },
	    NULL, NULL },
	{ "trailing ;", { "v=TLSRPTv1; rua=mailto:a@x.test;" }, 0,
	    { M("a@x.test") }, NULL, NULL },
	{ "among other TXT", { "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@x."
	    "test", "hello" }, 0, { M("a@x.test") }, NULL, NULL },
	{ "two records", { "v=TLSRPTv1; rua=mailto:a@x.test",
	    "v=TLSRPTv1; rua=mailto:b@x.test" }, -1, { NULL },
	    "more than one v=TLSRPTv1 record (2)", NULL },
	{ "two records, one broken", { "v=TLSRPTv1; rua=mailto:a@x.test",
	    "v=TLSRPTv1;junk" }, -1, { NULL }, "more than one", NULL },
	{ "no record", { "v=spf1 -all", "v=STSv1; id=1" }, -1, { NULL },
	    "no v=TLSRPTv1 record", NULL },
	{ "no TXT at all", { NULL }, -1, { NULL }, "no v=TLSRPTv1 record",
	    NULL },
	{ "version case", { "V=tlsrptv1; rua=mailto:a@x.test" }, -1, { NULL },
	    "no v=TLSRPTv1 record", NULL },
	{ "version prefix only", { "v=TLSRPTv10; rua=mailto:a@x.test" }, -1,
	    { NULL }, "no v=TLSRPTv1 record", NULL },
	{ "leading blank", { " v=TLSRPTv1; rua=mailto:a@x.test" }, -1,
	    { NULL }, "no v=TLSRPTv1 record", NULL },
	{ "no ; after version", { "v=TLSRPTv1 rua=mailto:a@x.test" }, -1,
	    { NULL }, "no ';' after v=TLSRPTv1", NULL },
	{ "version alone", { "v=TLSRPTv1" }, -1, { NULL }, "no rua= field",
	    NULL },
	{ "RUA upper case", { "v=TLSRPTv1; RUA=mailto:a@x.test" }, -1,
	    { NULL }, "no rua= field", "field 'RUA' ignored (field names are "
	    "case-sensitive: 'rua')" },
	{ "extension ignored", { "v=TLSRPTv1; ext.x_y-1=v!a; rua=mailto:a@"
	    "x.test" }, 0, { M("a@x.test") }, NULL,
	    "unknown field 'ext.x_y-1' ignored" },
	{ "malformed field", { "v=TLSRPTv1; rua=mailto:a@x.test; =x; b" }, 0,
	    { M("a@x.test") }, NULL, "malformed field '=x' ignored" },
	{ "second rua", { "v=TLSRPTv1; rua=mailto:a@x.test; rua=mailto:b@x."
	    "test" }, 0, { M("a@x.test") }, NULL,
	    "a second rua= field ignored" },
	{ "other scheme", { "v=TLSRPTv1; rua=ftp://x.test/r,mailto:a@x.test"
	    }, 0, { M("a@x.test") }, NULL, "rua URI 'ftp://x.test/r' ignored:"
	    " only mailto: and https: are used" },
	{ "http is not https", { "v=TLSRPTv1; rua=http://x.test/r" }, -1,
	    { NULL }, "no usable URI in rua= (see the notes)",
	    "'http://x.test/r' ignored" },
	{ "scheme case", { "v=TLSRPTv1; rua=MAILTO:a@x.test,HTTPS://h.test/"
	    }, 0, { M("a@x.test"), H("HTTPS://h.test/") }, NULL, NULL },
	{ "percent-decoded", { "v=TLSRPTv1; rua=mailto:tls%2Brpt@x.test" },
	    0, { M("tls+rpt@x.test") }, NULL, NULL },
	{ "encoded comma: two addresses", { "v=TLSRPTv1; rua=mailto:a@x."
	    "test%2Cb@y.test" }, 0, { M("a@x.test"), M("b@y.test") }, NULL,
	    NULL },
	{ "quoted local part", { "v=TLSRPTv1; rua=mailto:%22a%2Cb%22@x.test"
	    }, 0, { M("\"a,b\"@x.test") }, NULL, NULL },
	{ "hfields not used", { "v=TLSRPTv1; rua=mailto:a@x.test?subject="
	    "hi" }, 0, { M("a@x.test") }, NULL, "header fields (after '?') "
	    "are not used" },
	{ "same address twice", { "v=TLSRPTv1; rua=mailto:a@x.test,mailto:a"
	    "@X.TEST" }, 0, { M("a@x.test") }, NULL, NULL },
	{ "malformed skipped, good kept", { "v=TLSRPTv1; rua=mailto:nobody,"
	    "mailto:a@x.test" }, 0, { M("a@x.test") }, NULL,
	    "rua URI 'mailto:nobody' skipped: 'nobody' is not an address" },
	{ "literal !", { "v=TLSRPTv1; rua=mailto:a@x.test!10m" }, -1,
	    { NULL }, "no usable URI", "a literal '!' (it must be "
	    "percent-encoded)" },
	{ "bad percent", { "v=TLSRPTv1; rua=mailto:a%2@x.test,mailto:b@x."
	    "test%" }, -1, { NULL }, "no usable URI",
	    "a '%' not followed by two hex digits" },
	{ "encoded CR LF", { "v=TLSRPTv1; rua=mailto:a@x.test%0D%0ABcc:"
	    "evil@y.test" }, -1, { NULL }, "no usable URI",
	    "encodes a control or 8-bit octet" },
	{ "encoded 8-bit", { "v=TLSRPTv1; rua=mailto:%C3%A9@x.test" }, -1,
	    { NULL }, NULL, "encodes a control or 8-bit octet" },
	{ "blank in URI", { "v=TLSRPTv1; rua=mailto:a b@x.test" }, -1,
	    { NULL }, NULL, "a blank, control or 8-bit octet" },
	{ "address literal", { "v=TLSRPTv1; rua=mailto:a@[192.0.2.1]" }, -1,
	    { NULL }, NULL, "is not an address danemx can mail" },
	{ "domain with _", { "v=TLSRPTv1; rua=mailto:a@x_y.test" }, -1,
	    { NULL }, NULL, "is not an address" },
	{ "empty mailto", { "v=TLSRPTv1; rua=mailto:" }, -1, { NULL }, NULL,
	    "skipped: no address" },
	{ "https without host", { "v=TLSRPTv1; rua=https:/x,https://:443/,"
	    "https://u@/x" }, -1, { NULL }, NULL, "https: without '//'" },
	{ "https userinfo and port", { "v=TLSRPTv1; rua=https://u@h.test:8443"
	    "/r?a=b" }, 0, { H("https://u@h.test:8443/r?a=b") }, NULL, NULL },
	{ "no scheme", { "v=TLSRPTv1; rua=a@x.test" }, -1, { NULL }, NULL,
	    "not a URI (no scheme)" },
	{ "empty URI", { "v=TLSRPTv1; rua=,mailto:a@x.test" }, 0,
	    { M("a@x.test") }, NULL, "an empty URI in rua= skipped" },
	{ "junk", { "v=TLSRPTv1;\x01\x7f\xff;rua=mailto:a@x.test" }, 0,
	    { M("a@x.test") }, NULL, "malformed field '?\?\?' ignored" },
	{ "nine destinations", { "v=TLSRPTv1; rua=mailto:a1@x.test,mailto:a2"
	    "@x.test,mailto:a3@x.test,mailto:a4@x.test,mailto:a5@x.test,"
	    "mailto:a6@x.test,mailto:a7@x.test,mailto:a8@x.test,mailto:a9@x."
	    "test" }, 0, { M("a1@x.test"), M("a2@x.test"), M("a3@x.test"),
	    M("a4@x.test"), M("a5@x.test"), M("a6@x.test"), M("a7@x.test"),
	    M("a8@x.test") }, NULL, "rua address 'a9@x.test' ignored: more "
	    "than 8 destinations" },
};

/* check - one outcome against its case */
static void
check(const struct txt_case *c, int rc, const struct tlsrpt_rua *r,
    const char *err)
{
	size_t	 i, nwant = 0;
	int	 found = 0;

	T_CHECK(rc == c->want_rc, "%s: rc got %d, want %d (err '%s')",
	    c->name, rc, c->want_rc, err);
	while (c->want[nwant] != NULL)
		nwant++;
	T_CHECK(r->n == nwant, "%s: destinations got %zu, want %zu",
	    c->name, r->n, nwant);
	for (i = 0; i < nwant && i < r->n; i++) {
		const char	*w = c->want[i];
		const char	*got = w[0] == 'm' ? r->dest[i].addr :
		    r->dest[i].uri;

		T_CHECK((r->dest[i].scheme == TLSRPT_MAILTO) == (w[0] == 'm'),
		    "%s: destination %zu: scheme", c->name, i);
		T_CHECK(strcmp(got, w + 2) == 0, "%s: destination %zu: got '%s'"
		    ", want '%s'", c->name, i, got, w + 2);
	}
	if (c->want_err != NULL)
		T_CHECK(strstr(err, c->want_err) != NULL, "%s: err got '%s', "
		    "want '%s'", c->name, err, c->want_err);
	if (c->want_note != NULL) {
		for (i = 0; i < r->nnotes && i < TLSRPT_NOTE_MAX; i++)
			if (strstr(r->notes[i], c->want_note) != NULL)
				found = 1;
		T_CHECK(found, "%s: no note says '%s' (%zu notes, first '%s')",
		    c->name, c->want_note, r->nnotes, r->nnotes ? r->notes[0] :
		    "");
	}
}

/* limits - long input: every bound holds, nothing spills */
static void
limits(void)
{
	struct tlsrpt_rua	 r;
	struct buf		 b;
	const char		*rec[1];
	char			 err[256];
	size_t			 i;
	int			 rc;

	/* A URI of 1023 octets is kept, 1024 is not. */
	buf_init(&b, 1 << 20);
	buf_adds(&b, "v=TLSRPTv1; rua=https://h.test/");
	for (i = strlen("https://h.test/"); i < TLSRPT_URI_MAX - 1; i++)
		buf_adds(&b, "a");
	buf_adds(&b, ",https://h.test/");
	for (i = strlen("https://h.test/"); i < TLSRPT_URI_MAX; i++)
		buf_adds(&b, "b");
	rec[0] = b.data;
	rc = tlsrpt_txt_parse(rec, 1, &r, err, sizeof(err));
	T_CHECK(rc == 0 && r.n == 1 && strlen(r.dest[0].uri) ==
	    TLSRPT_URI_MAX - 1, "1023-octet URI: rc %d n %zu", rc, r.n);
	T_CHECK(r.nnotes == 1 && strstr(r.notes[0], "1024 octets, more than "
	    "1023") != NULL, "1024-octet URI: note '%s'", r.notes[0]);

	/* 100,000 URIs: 64 looked at, 8 kept, notes bounded. */
	buf_reset(&b);
	buf_adds(&b, "v=TLSRPTv1; rua=");
	for (i = 0; i < 100000; i++)
		buf_printf(&b, "%smailto:a%zu@x.test", i ? "," : "", i);
	rec[0] = b.data;
	rc = tlsrpt_txt_parse(rec, 1, &r, err, sizeof(err));
	T_CHECK(rc == 0 && r.n == TLSRPT_RUA_MAX, "100000 URIs: rc %d n %zu",
	    rc, r.n);
	T_CHECK(r.nnotes == TLSRPT_URIS_SEEN_MAX - TLSRPT_RUA_MAX + 1,
	    "100000 URIs: %zu notes", r.nnotes);
	T_CHECK(strstr(r.notes[TLSRPT_NOTE_MAX - 1], "more than 8") != NULL,
	    "100000 URIs: last kept note '%s'", r.notes[TLSRPT_NOTE_MAX - 1]);

	/* A megabyte of ';': linear, no rua. */
	buf_reset(&b);
	buf_adds(&b, "v=TLSRPTv1");
	for (i = 0; i < 500000; i++)
		buf_adds(&b, ";");
	rec[0] = b.data;
	rc = tlsrpt_txt_parse(rec, 1, &r, err, sizeof(err));
	T_CHECK(rc == -1 && strcmp(err, "no rua= field") == 0,
	    "500000 ';': rc %d err '%s'", rc, err);
	buf_free(&b);
}

/* rrs - the RRset form: non-TXT passed over, a NUL is an error */
static void
rrs(void)
{
	struct dmx_dns_rr	 rr[3];
	struct tlsrpt_rua	 r;
	char			 err[256];
	char			 d0[] = "v=TLSRPTv1; rua=mailto:a@x.test\0junk";
	char			 d1[] = "v=TLSRPTv1; rua=mailto:b@x.test";
	int			 rc;

	memset(rr, 0, sizeof(rr));
	rr[0].type = DMX_T_TXT;
	rr[0].u.txt.data = d0;
	rr[0].u.txt.len = sizeof(d0) - 1;
	rr[1].type = DMX_T_CNAME;
	rr[2].type = DMX_T_TXT;
	rr[2].u.txt.data = d1;
	rr[2].u.txt.len = sizeof(d1) - 1;
	rc = tlsrpt_txt_parse_rrs(rr, 3, &r, err, sizeof(err));
	T_CHECK(rc == -1 && strstr(err, "more than one") != NULL,
	    "rrs two: rc %d err '%s'", rc, err);
	rc = tlsrpt_txt_parse_rrs(rr, 1, &r, err, sizeof(err));
	T_CHECK(rc == -1 && strcmp(err, "malformed record: it holds a NUL "
	    "octet") == 0, "rrs NUL: rc %d err '%s'", rc, err);
	rc = tlsrpt_txt_parse_rrs(rr + 1, 2, &r, err, sizeof(err));
	T_CHECK(rc == 0 && r.n == 1 && strcmp(r.dest[0].addr, "b@x.test") ==
	    0 && r.nrecords == 1, "rrs one: rc %d n %zu", rc, r.n);
}

/* addrs - the address and domain checks the mail builder also uses */
static void
addrs(void)
{
	static const struct { const char *a; int ok; } ac[] = {
		{ "a@x.test", 1 }, { "a.b+c@x-y.test", 1 }, { "a@x", 1 },
		{ "\"a b\"@x.test", 0 }, { "\"a\\\"b\"@x.test", 1 },
		{ ".a@x.test", 0 }, { "a.@x.test", 0 }, { "a..b@x.test", 0 },
		{ "a@-x.test", 0 }, { "a@x-.test", 0 }, { "a@x..test", 0 },
		{ "a@x.test.", 0 }, { "@x.test", 0 }, { "a@", 0 },
		{ "a<b@x.test", 0 }, { "a@x.test\r\nBcc: b@y", 0 },
		{ "a@b@x.test", 0 }, { "\"a@b\"@x.test", 1 },
	};
	size_t	 i;
	int	 got;

	for (i = 0; i < DMX_NELEM(ac); i++) {
		got = tlsrpt_addr_ok(ac[i].a, strlen(ac[i].a));
		T_CHECK(got == ac[i].ok, "addr '%s': got %d, want %d", ac[i].a,
		    got, ac[i].ok);
	}
}

int
main(void)
{
	struct tlsrpt_rua	 r;
	char			 err[256];
	size_t			 i, n;
	int			 rc;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		for (n = 0; cases[i].rec[n] != NULL; n++)
			;
		err[0] = '\0';
		rc = tlsrpt_txt_parse(cases[i].rec, n, &r, err, sizeof(err));
		check(&cases[i], rc, &r, err);
	}
	limits();
	rrs();
	addrs();
	return t_done("test_tlsrpt_txt");
}
