/*
 * test_sts.c - the MTA-STS parsers against every rule of RFC 8461 3.1
 * (the TXT record) and 3.2 (the policy), and MX pattern matching (4.1):
 * each case gives the input and the exact outcome (valid with its fields,
 * or invalid with the reason), and the warnings expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danemx.h"
#include "sts/sts.h"
#include "t.h"
#include "util/util.h"

#define ID32	"abcdefghijABCDEFGHIJ0123456789xy"
#define NAME32	"a23456789012345678901234567890bc"

static const struct txt_case {
	const char		*name, *in;
	size_t			 len;	/* 0: strlen(in) */
	enum sts_txt_status	 want;
	const char		*want_id;	/* OK */
	const char		*want_err;	/* INVALID: substring */
	const char		*want_warn;	/* substring of a warning */
} txt_cases[] = {
	{ "RFC example", "v=STSv1; id=20160831085700Z;", 0, STS_TXT_OK,
	    "20160831085700Z", NULL, NULL },
	{ "no blanks", "v=STSv1;id=abc", 0, STS_TXT_OK, "abc", NULL, NULL },
	{ "blank before ;", "v=STSv1 ; id=abc", 0, STS_TXT_OK, "abc", NULL,
	    NULL },
	{ "tabs around ;", "v=STSv1;\tid=abc\t;\t", 0, STS_TXT_OK, "abc", NULL,
	    NULL },
	{ "trailing ; and blank", "v=STSv1; id=1; ", 0, STS_TXT_OK, "1", NULL,
	    NULL },
	{ "32-character id", "v=STSv1; id=" ID32, 0, STS_TXT_OK, ID32, NULL,
	    NULL },
	{ "extension field", "v=STSv1; id=a; ext=val!", 0, STS_TXT_OK, "a",
	    NULL, "unknown field 'ext' ignored" },
	{ "extension before id", "v=STSv1; x.y_z-1=~; id=a", 0, STS_TXT_OK,
	    "a", NULL, "unknown field 'x.y_z-1' ignored" },
	{ "32-character name", "v=STSv1; id=a; " NAME32 "=1", 0, STS_TXT_OK,
	    "a", NULL, "unknown field '" NAME32 "'" },
	{ "Id beside id", "v=STSv1; id=abc; Id=x", 0, STS_TXT_OK, "abc", NULL,
	    "unknown field 'Id' ignored (did you mean 'id'?)" },
	{ "two ids", "v=STSv1; id=1; id=2", 0, STS_TXT_OK, "1", NULL,
	    "a second id ('2') is ignored; the first ('1') counts" },
	{ "ID only", "v=STSv1; ID=abc", 0, STS_TXT_INVALID, NULL,
	    "no id field (field names are case-sensitive: 'id', not 'ID')",
	    NULL },
	{ "no id", "v=STSv1; foo=bar", 0, STS_TXT_INVALID, NULL,
	    "no id field", NULL },
	{ "nothing after ;", "v=STSv1;", 0, STS_TXT_INVALID, NULL,
	    "no field after v=STSv1: an id is required", NULL },
	{ "empty id", "v=STSv1; id=", 0, STS_TXT_INVALID, NULL,
	    "the id is empty", NULL },
	{ "empty id then ;", "v=STSv1; id=;", 0, STS_TXT_INVALID, NULL,
	    "the id is empty", NULL },
	{ "id with -", "v=STSv1; id=abc-def", 0, STS_TXT_INVALID, NULL,
	    "id 'abc-def' is not letters and digits only", NULL },
	{ "id of 33", "v=STSv1; id=" ID32 "z", 0, STS_TXT_INVALID, NULL,
	    "longer than 32 characters", NULL },
	{ "empty field", "v=STSv1; ;id=1", 0, STS_TXT_INVALID, NULL,
	    "a field name starts with a letter or digit, not ';'", NULL },
	{ "no ; after version", "v=STSv1 id=1", 0, STS_TXT_INVALID, NULL,
	    "at octet 9: expected ';' before 'id=1'", NULL },
	{ "no ; between fields", "v=STSv1; id=1 x=2", 0, STS_TXT_INVALID,
	    NULL, "expected ';' before 'x=2'", NULL },
	{ "blank after id", "v=STSv1; id=1 ", 0, STS_TXT_INVALID, NULL,
	    "expected ';'", NULL },
	{ "= in a value", "v=STSv1; x=a=b; id=1", 0, STS_TXT_INVALID, NULL,
	    "'=' is not allowed in the value of 'x'", NULL },
	{ "empty value", "v=STSv1; x=; id=1", 0, STS_TXT_INVALID, NULL,
	    "field 'x' has an empty value", NULL },
	{ "name starts with _", "v=STSv1; _x=1; id=1", 0, STS_TXT_INVALID,
	    NULL, "a field name starts with a letter or digit, not '_'",
	    NULL },
	{ "name of 33", "v=STSv1; id=1; " NAME32 "d=1", 0, STS_TXT_INVALID,
	    NULL, "is longer than 32 characters", NULL },
	{ "no =", "v=STSv1; id", 0, STS_TXT_INVALID, NULL,
	    "expected '=' after 'id'", NULL },
	{ "UTF-8 in a value", "v=STSv1; id=1; x=\xc3\xa9", 0, STS_TXT_INVALID,
	    NULL, "'\\xc3' is not allowed in the value of 'x'", NULL },
	{ "NUL", "v=STSv1; id=1\0", 14, STS_TXT_INVALID, NULL,
	    "id '1\\x00' is not letters and digits only", NULL },
	{ "v=STSv10", "v=STSv10; id=1", 0, STS_TXT_NONE, NULL, NULL, NULL },
	{ "bare v=STSv1", "v=STSv1", 0, STS_TXT_NONE, NULL, NULL, NULL },
	{ "V=STSv1", "V=STSv1; id=1", 0, STS_TXT_NONE, NULL, NULL, NULL },
	{ "v=stsv1", "v=stsv1; id=1", 0, STS_TXT_NONE, NULL, NULL, NULL },
	{ "leading blank", " v=STSv1; id=1", 0, STS_TXT_NONE, NULL, NULL,
	    NULL },
	{ "another record", "v=spf1 -all", 0, STS_TXT_NONE, NULL, NULL, NULL },
	{ "empty", "", 0, STS_TXT_NONE, NULL, NULL, NULL },
};

static int
has_warning(const struct sts_diag *d, const char *want)
{
	size_t	 i;

	for (i = 0; i < d->nwarn; i++)
		if (strstr(d->warn[i], want) != NULL)
			return 1;
	return 0;
}

static void
test_txt(void)
{
	const struct txt_case	*c;
	struct sts_record	 rec;
	struct sts_diag		 d;
	enum sts_txt_status	 got;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(txt_cases); i++) {
		c = &txt_cases[i];
		sts_diag_init(&d);
		got = sts_txt_parse(c->in, c->len ? c->len : strlen(c->in),
		    &rec, &d);
		T_CHECK(got == c->want, "TXT %s: status %d, want %d (%s)",
		    c->name, got, c->want, d.error);
		if (c->want == STS_TXT_OK)
			T_CHECK(strcmp(rec.id, c->want_id) == 0,
			    "TXT %s: id '%s', want '%s'", c->name, rec.id,
			    c->want_id);
		if (c->want_err != NULL)
			T_CHECK(strstr(d.error, c->want_err) != NULL,
			    "TXT %s: error '%s', want '%s'", c->name, d.error,
			    c->want_err);
		else
			T_CHECK(d.error[0] == '\0', "TXT %s: error '%s'",
			    c->name, d.error);
		if (c->want_warn != NULL)
			T_CHECK(has_warning(&d, c->want_warn),
			    "TXT %s: no warning '%s' (%zu: '%s')", c->name,
			    c->want_warn, d.nwarn, d.nwarn ? d.warn[0] : "");
		else if (c->want == STS_TXT_OK)
			T_CHECK(d.nwarn == 0, "TXT %s: warning '%s'", c->name,
			    d.warn[0]);
	}
}

/* txt_rr - a TXT record as the DNS room makes it */
static void
txt_rr(struct dmx_dns_rr *rr, const char *data)
{
	memset(rr, 0, sizeof(*rr));
	rr->type = DMX_T_TXT;
	rr->u.txt.data = (char *)(uintptr_t)data;
	rr->u.txt.len = strlen(data);
	rr->u.txt.nstrings = 1;
}

static void
test_txt_select(void)
{
	struct dmx_dns_rr	 rrs[3];
	struct sts_record	 rec;
	struct sts_diag		 d;
	enum sts_txt_status	 got;

	txt_rr(&rrs[0], "v=spf1 -all");
	txt_rr(&rrs[1], "v=STSv1; id=42");
	txt_rr(&rrs[2], "google-site-verification=xyz");
	sts_diag_init(&d);
	got = sts_txt_select(rrs, 3, &rec, &d);
	T_CHECK(got == STS_TXT_OK && strcmp(rec.id, "42") == 0,
	    "one of three: %d id '%s' (%s)", got, rec.id, d.error);

	txt_rr(&rrs[2], "v=STSv1; id=43");
	sts_diag_init(&d);
	got = sts_txt_select(rrs, 3, &rec, &d);
	T_CHECK(got == STS_TXT_INVALID && strcmp(d.error, "2 TXT records start "
	    "with v=STSv1; there must be exactly one") == 0,
	    "two records: %d '%s'", got, d.error);

	/* a bare "v=STSv1" is discarded, not counted */
	txt_rr(&rrs[2], "v=STSv1");
	sts_diag_init(&d);
	got = sts_txt_select(rrs, 3, &rec, &d);
	T_CHECK(got == STS_TXT_OK && strcmp(rec.id, "42") == 0,
	    "bare v=STSv1 beside a record: %d '%s'", got, d.error);

	sts_diag_init(&d);
	got = sts_txt_select(rrs, 1, &rec, &d);
	T_CHECK(got == STS_TXT_NONE, "no MTA-STS record: %d", got);
	got = sts_txt_select(rrs, 0, &rec, &d);
	T_CHECK(got == STS_TXT_NONE, "empty RRset: %d", got);

	/* the only record, invalid */
	txt_rr(&rrs[0], "v=STSv1; id=a b");
	sts_diag_init(&d);
	got = sts_txt_select(rrs, 1, &rec, &d);
	T_CHECK(got == STS_TXT_INVALID && strstr(d.error, "expected ';'"),
	    "one invalid record: %d '%s'", got, d.error);

	/* character-strings are joined without spaces (the DNS room) */
	txt_rr(&rrs[0], "v=STSv1; id=12345");
	rrs[0].u.txt.nstrings = 2;
	sts_diag_init(&d);
	got = sts_txt_select(rrs, 1, &rec, &d);
	T_CHECK(got == STS_TXT_OK && strcmp(rec.id, "12345") == 0,
	    "joined strings: %d '%s'", got, rec.id);
}

#define V	"version: STSv1\n"
#define E	"mode: enforce\n"
#define A	"max_age: 86400\n"
#define M	"mx: mail.example.com\n"
#define RFC	"version: STSv1\nmode: enforce\nmx: mail.example.com\n" \
		"mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n"

static const struct policy_case {
	const char	*name, *in;
	size_t		 len;		/* 0: strlen */
	int		 valid;
	enum sts_mode	 mode;
	unsigned long	 max_age;
	size_t		 nmx;
	const char	*want_err;	/* invalid: substring */
	const char	*want_warn;	/* a warning: substring */
} policy_cases[] = {
	{ "RFC 8461 example", RFC, 0, 1, STS_MODE_ENFORCE, 604800, 3, NULL,
	    NULL },
	{ "CRLF", "version: STSv1\r\nmode: testing\r\nmx: a.example\r\n"
	    "max_age: 1\r\n", 0, 1, STS_MODE_TESTING, 1, 1, NULL, NULL },
	{ "no final line end", V E M "max_age: 86400", 0, 1, STS_MODE_ENFORCE,
	    86400, 1, NULL, NULL },
	{ "CRLF and LF mixed", "version: STSv1\r\nmode: enforce\nmx: a.b\r\n"
	    "max_age: 5", 0, 1, STS_MODE_ENFORCE, 5, 1, NULL, NULL },
	{ "any order", A M E V, 0, 1, STS_MODE_ENFORCE, 86400, 1, NULL, NULL },
	{ "no blank after colon", "version:STSv1\nmode:enforce\nmx:a.b\n"
	    "max_age:7\n", 0, 1, STS_MODE_ENFORCE, 7, 1, NULL, NULL },
	{ "tabs and trailing blanks", "version:\tSTSv1 \t\nmode: \tenforce\n"
	    "mx: a.b  \nmax_age: 9\t\n", 0, 1, STS_MODE_ENFORCE, 9, 1, NULL,
	    NULL },
	{ "mode none, no mx", V "mode: none\n" A, 0, 1, STS_MODE_NONE, 86400,
	    0, NULL, NULL },
	{ "mode none with mx", V "mode: none\n" M A, 0, 1, STS_MODE_NONE,
	    86400, 1, NULL, NULL },
	{ "max_age 0", V E M "max_age: 0\n", 0, 1, STS_MODE_ENFORCE, 0, 1,
	    NULL, NULL },
	{ "max_age leading zeros", V E M "max_age: 0086400\n", 0, 1,
	    STS_MODE_ENFORCE, 86400, 1, NULL, NULL },
	{ "max_age the maximum", V E M "max_age: 31557600\n", 0, 1,
	    STS_MODE_ENFORCE, 31557600, 1, NULL, NULL },
	{ "max_age above the maximum", V E M "max_age: 31557601\n", 0, 1,
	    STS_MODE_ENFORCE, 31557600, 1, NULL,
	    "max_age 31557601 is more than 31557600 (a year); 31557600 is "
	    "used" },
	{ "max_age of 10 digits", V E M "max_age: 9999999999\n", 0, 1,
	    STS_MODE_ENFORCE, 31557600, 1, NULL, "is more than 31557600" },
	{ "mx lowercased", V E "mx: MAIL.Example.COM\n" A, 0, 1,
	    STS_MODE_ENFORCE, 86400, 1, NULL, NULL },
	{ "extension key", V E M A "comment: any text, with UTF-8 h\xc3\xa9 "
	    "\xe2\x82\xac \xf0\x9f\x93\xa7\n", 0, 1, STS_MODE_ENFORCE, 86400,
	    1, NULL, "line 5: unknown key 'comment' ignored" },
	{ "extension key near mx", V E M "nmx: other.example.com\n" A, 0, 1,
	    STS_MODE_ENFORCE, 86400, 1, NULL,
	    "line 4: unknown key 'nmx' ignored (did you mean 'mx'?)" },
	{ "Mode beside mode", V E "Mode: testing\n" M A, 0, 1,
	    STS_MODE_ENFORCE, 86400, 1, NULL, "unknown key 'Mode' ignored "
	    "(did you mean 'mode'?)" },
	{ "second mode", V E "mode: testing\n" M A, 0, 1, STS_MODE_ENFORCE,
	    86400, 1, NULL, "line 3: a second mode ('testing') is ignored; "
	    "the first ('enforce') counts" },
	{ "second max_age", V E M A "max_age: 1\n", 0, 1, STS_MODE_ENFORCE,
	    86400, 1, NULL, "a second max_age (1) is ignored; the first "
	    "(86400) counts" },
	{ "second version", V V E M A, 0, 1, STS_MODE_ENFORCE, 86400, 1, NULL,
	    "line 2: a second version line is ignored" },
	{ "mx twice counts twice", V E M M A, 0, 1, STS_MODE_ENFORCE, 86400, 2,
	    NULL, NULL },
	{ "one-label mx", V E "mx: localhost\n" A, 0, 1, STS_MODE_ENFORCE,
	    86400, 1, NULL, NULL },
	{ "wildcard of one label", V E "mx: *.com\n" A, 0, 1,
	    STS_MODE_ENFORCE, 86400, 1, NULL, NULL },
	{ "xn-- mx", V E "mx: mx.xn--bcher-kva.de\n" A, 0, 1,
	    STS_MODE_ENFORCE, 86400, 1, NULL, NULL },

	{ "empty", "", 0, 0, 0, 0, 0, "the policy is empty", NULL },
	{ "no version", E M A, 0, 0, 0, 0, 0, "no version field", NULL },
	{ "no mode", V M A, 0, 0, 0, 0, 0, "no mode field", NULL },
	{ "no max_age", V E M, 0, 0, 0, 0, 0, "no max_age field", NULL },
	{ "enforce without mx", V E A, 0, 0, 0, 0, 0,
	    "mode enforce without an mx field", NULL },
	{ "testing without mx", V "mode: testing\n" A, 0, 0, 0, 0, 0,
	    "mode testing without an mx field", NULL },
	{ "nmx instead of mx", V E "nmx: mail.example.com\n" A, 0, 0, 0, 0, 0,
	    "mode enforce without an mx field: the policy must list its MX "
	    "hosts (is 'nmx' on line 3 a typo of 'mx'? keys are "
	    "case-sensitive)", "unknown key 'nmx' ignored (did you mean "
	    "'mx'?)" },
	{ "Mode instead of mode", V "Mode: enforce\n" M A, 0, 0, 0, 0, 0,
	    "no mode field (is 'Mode' on line 2 a typo of 'mode'?", NULL },
	{ "max-age instead of max_age", V E M "max-age: 5\n", 0, 0, 0, 0, 0,
	    "no max_age field (is 'max-age' on line 4 a typo of 'max_age'?",
	    NULL },
	{ "version STSv2", "version: STSv2\n" E M A, 0, 0, 0, 0, 0,
	    "line 1: version 'STSv2' is not STSv1", NULL },
	{ "version stsv1", "version: stsv1\n" E M A, 0, 0, 0, 0, 0,
	    "version 'stsv1' is not STSv1", NULL },
	{ "version empty", "version:\n" E M A, 0, 0, 0, 0, 0,
	    "version '' is not STSv1", NULL },
	{ "mode Enforce", V "mode: Enforce\n" M A, 0, 0, 0, 0, 0,
	    "line 2: mode 'Enforce' is not enforce, testing or none (values "
	    "are case-sensitive)", NULL },
	{ "mode enforcing", V "mode: enforcing\n" M A, 0, 0, 0, 0, 0,
	    "mode 'enforcing' is not", NULL },
	{ "second mode invalid", V E "mode: bogus\n" M A, 0, 0, 0, 0, 0,
	    "line 3: mode 'bogus' is not", NULL },
	{ "max_age of 11 digits", V E M "max_age: 12345678901\n", 0, 0, 0, 0,
	    0, "max_age '12345678901' is not a number of 1 to 10 digits",
	    NULL },
	{ "max_age negative", V E M "max_age: -1\n", 0, 0, 0, 0, 0,
	    "max_age '-1' is not a number", NULL },
	{ "max_age 1e5", V E M "max_age: 1e5\n", 0, 0, 0, 0, 0,
	    "max_age '1e5' is not a number", NULL },
	{ "max_age empty", V E M "max_age:\n", 0, 0, 0, 0, 0,
	    "max_age '' is not a number", NULL },
	{ "max_age with a space inside", V E M "max_age: 86 400\n", 0, 0, 0, 0,
	    0, "max_age '86 400' is not a number", NULL },
	{ "blank line", V E "\n" M A, 0, 0, 0, 0, 0,
	    "line 3 is empty (a policy has no blank lines)", NULL },
	{ "two final line ends", V E M A "\n", 0, 0, 0, 0, 0,
	    "line 5 is empty", NULL },
	{ "blank CRLF line", "version: STSv1\r\n\r\n" E M A, 0, 0, 0, 0, 0,
	    "line 2 is empty", NULL },
	{ "leading blank", V "  mode: enforce\n" M A, 0, 0, 0, 0, 0,
	    "line 2: a key starts with a letter or digit, not ' '", NULL },
	{ "blank before colon", V "mode : enforce\n" M A, 0, 0, 0, 0, 0,
	    "line 2: expected ':' right after the key 'mode' (no blank before "
	    "the colon)", NULL },
	{ "no colon", V "mode enforce\n" M A, 0, 0, 0, 0, 0,
	    "expected ':' right after the key 'mode'", NULL },
	{ "= instead of :", V "mode=enforce\n" M A, 0, 0, 0, 0, 0,
	    "expected ':' right after the key 'mode'", NULL },
	{ "lone CR", "version: STSv1\rmode: enforce\n" M A, 0, 0, 0, 0, 0,
	    "line 1: a CR not followed by LF", NULL },
	{ "CR at the very end", V E M "max_age: 1\r", 0, 0, 0, 0, 0,
	    "line 4: a CR not followed by LF", NULL },
	{ "NUL", V E M A "x: \0\n", sizeof(V E M A "x: \0\n") - 1, 0, 0, 0, 0,
	    "line 5: a NUL octet", NULL },
	{ "BOM", "\xef\xbb\xbf" V E M A, 0, 0, 0, 0, 0,
	    "line 1: a key starts with a letter or digit, not '\\xef'", NULL },
	{ "key of 33", V E M A NAME32 "x: 1\n", 0, 0, 0, 0, 0,
	    "line 5: key '" NAME32 "x' is longer than 32 characters", NULL },
	{ "key with _ first", V E M A "_x: 1\n", 0, 0, 0, 0, 0,
	    "a key starts with a letter or digit, not '_'", NULL },
	{ "extension without value", V E M A "x:\n", 0, 0, 0, 0, 0,
	    "line 5: 'x' has an empty value", NULL },
	{ "tab inside a value", V E M A "x: a\tb\n", 0, 0, 0, 0, 0,
	    "line 5: a tab inside the value of 'x'", NULL },
	{ "control octet", V E M A "x: a\x01z\n", 0, 0, 0, 0, 0,
	    "the value of 'x' has the octet 0x01", NULL },
	{ "DEL octet", V E M A "x: a\x7fz\n", 0, 0, 0, 0, 0,
	    "has the octet 0x7f", NULL },
	{ "bad UTF-8", V E M A "x: \xc3\x28\n", 0, 0, 0, 0, 0,
	    "has the octet 0xc3, neither a visible character nor UTF-8", NULL },
	{ "overlong UTF-8", V E M A "x: \xc0\xaf\n", 0, 0, 0, 0, 0,
	    "has the octet 0xc0", NULL },
	{ "UTF-16 surrogate", V E M A "x: \xed\xa0\x80\n", 0, 0, 0, 0, 0,
	    "has the octet 0xed", NULL },
	{ "UTF-8 past U+10FFFF", V E M A "x: \xf4\x90\x80\x80\n", 0, 0, 0, 0,
	    0, "has the octet 0xf4", NULL },
	{ "truncated UTF-8", V E M A "x: a\xe2\x82", 0, 0, 0, 0, 0,
	    "has the octet 0xe2", NULL },
	{ "mx with final dot", V E "mx: mail.example.com.\n" A, 0, 0, 0, 0, 0,
	    "line 3: mx 'mail.example.com.': a trailing dot is not allowed",
	    NULL },
	{ "mx two wildcards", V E "mx: *.*.example.com\n" A, 0, 0, 0, 0, 0,
	    "a wildcard is allowed only as '*.' at the start", NULL },
	{ "mx wildcard inside", V E "mx: mail*.example.com\n" A, 0, 0, 0, 0, 0,
	    "a wildcard is allowed only", NULL },
	{ "mx wildcard alone", V E "mx: *\n" A, 0, 0, 0, 0, 0,
	    "a wildcard is allowed only", NULL },
	{ "mx *. alone", V E "mx: *.\n" A, 0, 0, 0, 0, 0,
	    "mx '*.' names no domain", NULL },
	{ "mx empty", V E "mx:\n" A, 0, 0, 0, 0, 0, "mx '' names no domain",
	    NULL },
	{ "mx leading hyphen", V E "mx: -mail.example.com\n" A, 0, 0, 0, 0, 0,
	    "a label starts or ends with '-'", NULL },
	{ "mx trailing hyphen", V E "mx: mail-.example.com\n" A, 0, 0, 0, 0, 0,
	    "a label starts or ends with '-'", NULL },
	{ "mx underscore", V E "mx: mail_1.example.com\n" A, 0, 0, 0, 0, 0,
	    "'_' is not allowed in a domain", NULL },
	{ "mx empty label", V E "mx: mail..example.com\n" A, 0, 0, 0, 0, 0,
	    "an empty label", NULL },
	{ "mx leading dot", V E "mx: .example.com\n" A, 0, 0, 0, 0, 0,
	    "an empty label", NULL },
	{ "mx two patterns on a line", V E "mx: a.example b.example\n" A, 0,
	    0, 0, 0, 0, "' ' is not allowed in a domain", NULL },
	{ "mx U-label", V E "mx: b\xc3\xbc" "cher.de\n" A, 0, 0, 0, 0, 0,
	    "not an A-label domain", NULL },
	{ "mx label of 64", V E "mx: a234567890123456789012345678901234567890"
	    "123456789012345678901234.example\n" A, 0, 0, 0, 0, 0,
	    "a label longer than 63 characters", NULL },
	{ "mx URL", V E "mx: https://mail.example.com\n" A, 0, 0, 0, 0, 0,
	    "':' is not allowed in a domain", NULL },
};

static void
test_policy(void)
{
	const struct policy_case *c;
	struct sts_policy	*p;
	struct sts_diag		 d;
	size_t			 i, len;

	for (i = 0; i < DMX_NELEM(policy_cases); i++) {
		c = &policy_cases[i];
		len = c->len ? c->len : strlen(c->in);
		sts_diag_init(&d);
		p = sts_policy_parse(c->in, len, &d);
		T_CHECK((p != NULL) == c->valid, "policy %s: %s, want %s (%s)",
		    c->name, p ? "valid" : "invalid", c->valid ? "valid" :
		    "invalid", d.error);
		if (c->want_err != NULL)
			T_CHECK(strstr(d.error, c->want_err) != NULL,
			    "policy %s: error '%s', want '%s'", c->name,
			    d.error, c->want_err);
		if (c->want_warn != NULL)
			T_CHECK(has_warning(&d, c->want_warn),
			    "policy %s: no warning '%s' (%zu: '%s')", c->name,
			    c->want_warn, d.nwarn, d.nwarn ? d.warn[0] : "");
		else if (c->valid)
			T_CHECK(d.nwarn == 0, "policy %s: warning '%s'",
			    c->name, d.warn[0]);
		if (p == NULL)
			continue;
		T_CHECK(p->mode == c->mode && p->max_age == c->max_age &&
		    p->nmx == c->nmx, "policy %s: mode %s max_age %lu, %zu mx; "
		    "want %s %lu %zu", c->name, sts_mode_str(p->mode),
		    p->max_age, p->nmx, sts_mode_str(c->mode), c->max_age,
		    c->nmx);
		T_CHECK(p->len == len && memcmp(p->text, c->in, len) == 0 &&
		    p->text[len] == '\0', "policy %s: text kept", c->name);
		T_CHECK(p->nwarn == d.nwarn, "policy %s: %zu warnings kept, "
		    "%zu found", c->name, p->nwarn, d.nwarn);
		sts_policy_unref(p);
	}
}

static void
test_policy_limits(void)
{
	struct sts_policy	*p;
	struct sts_diag		 d;
	struct buf		 b;
	int			 i;

	/* the RFC example's patterns, in order and lowercase */
	sts_diag_init(&d);
	p = sts_policy_parse(V E "mx: MAIL.example.com\nmx: *.Example.NET\n" A,
	    strlen(V E "mx: MAIL.example.com\nmx: *.Example.NET\n" A), &d);
	T_CHECK(p && p->nmx == 2 && strcmp(p->mx[0], "mail.example.com") == 0 &&
	    strcmp(p->mx[1], "*.example.net") == 0, "patterns kept lowercase");
	if (p != NULL) {
		sts_policy_ref(p);
		sts_policy_unref(p);
		T_CHECK(p->refs == 1, "refs %u after ref+unref", p->refs);
		sts_policy_unref(p);
	}

	/* 256 mx lines are fine, 257 are not */
	buf_init(&b, 1024 * 1024);
	buf_adds(&b, V E A);
	for (i = 0; i < STS_MX_MAX; i++)
		buf_printf(&b, "mx: mx%d.example.com\n", i);
	sts_diag_init(&d);
	p = sts_policy_parse(b.data, b.len, &d);
	T_CHECK(p && p->nmx == STS_MX_MAX, "%d mx: %s", STS_MX_MAX, d.error);
	sts_policy_unref(p);
	buf_adds(&b, "mx: one-more.example.com\n");
	sts_diag_init(&d);
	p = sts_policy_parse(b.data, b.len, &d);
	T_CHECK(p == NULL && strstr(d.error, "more than 256 mx patterns"),
	    "257 mx: %s", d.error);
	sts_policy_unref(p);

	/* larger than 64 KiB */
	buf_reset(&b);
	buf_adds(&b, V E M A);
	while (b.len <= STS_POLICY_MAX)
		buf_adds(&b, "comment: padding padding padding padding\n");
	sts_diag_init(&d);
	p = sts_policy_parse(b.data, b.len, &d);
	T_CHECK(p == NULL && strstr(d.error, "larger than 65536 octets"),
	    "a policy past 64 KiB: %s", d.error);

	/* warnings are bounded: 8 kept, the rest counted */
	buf_reset(&b);
	buf_adds(&b, V E M A);
	for (i = 0; i < 20; i++)
		buf_printf(&b, "x%d: y\n", i);
	sts_diag_init(&d);
	p = sts_policy_parse(b.data, b.len, &d);
	T_CHECK(p && d.nwarn == STS_WARN_MAX && d.dropped == 12 &&
	    p->nwarn == STS_WARN_MAX + 1 &&
	    strcmp(p->warn[STS_WARN_MAX], "... and 12 more warnings") == 0,
	    "20 unknown keys: %zu warnings, %zu dropped", d.nwarn, d.dropped);
	sts_policy_unref(p);
	buf_free(&b);
}

static const struct match_case {
	const char	*pattern, *host;
	int		 want;
} match_cases[] = {
	{ "mail.example.com", "mail.example.com", 1 },
	{ "mail.example.com", "MAIL.Example.COM", 1 },
	{ "mail.example.com", "mail.example.com.", 1 },
	{ "mail.example.com.", "mail.example.com", 1 },
	{ "MAIL.EXAMPLE.COM", "mail.example.com", 1 },
	{ "mail.example.com", "mail.example.co", 0 },
	{ "mail.example.com", "mail.example.com.evil", 0 },
	{ "mail.example.com", "xmail.example.com", 0 },
	{ "example.com", "mail.example.com", 0 },
	{ "*.example.com", "mail.example.com", 1 },
	{ "*.example.com", "MX.EXAMPLE.COM.", 1 },
	{ "*.example.com", "example.com", 0 },
	{ "*.example.com", "a.b.example.com", 0 },
	{ "*.example.com", ".example.com", 0 },
	{ "*.example.com", "mailexample.com", 0 },
	{ "*.example.com", "mail.example.net", 0 },
	{ "*.example.com", "*.example.com", 1 },
	{ "*.com", "example.com", 1 },
	{ "", "mail.example.com", 0 },
	{ "mail.example.com", "", 0 },
	{ ".", ".", 0 },
};

static void
test_match(void)
{
	struct sts_policy	*p;
	struct sts_diag		 d;
	const char		*m;
	const char		*text = V E "mx: mx1.example.com\n"
	    "mx: *.example.net\n" A;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(match_cases); i++)
		T_CHECK(sts_pattern_match(match_cases[i].pattern,
		    match_cases[i].host) == match_cases[i].want,
		    "'%s' against '%s': want %d", match_cases[i].pattern,
		    match_cases[i].host, match_cases[i].want);
	sts_diag_init(&d);
	if ((p = sts_policy_parse(text, strlen(text), &d)) == NULL) {
		T_CHECK(0, "parse: %s", d.error);
		return;
	}
	m = sts_mx_match(p, "MX1.example.com.");
	T_CHECK(m && strcmp(m, "mx1.example.com") == 0, "mx1 matched %s", m);
	m = sts_mx_match(p, "b.example.net");
	T_CHECK(m && strcmp(m, "*.example.net") == 0, "b matched %s", m);
	T_CHECK(sts_mx_match(p, "a.b.example.net") == NULL, "a.b matched");
	T_CHECK(sts_mx_match(p, "mx2.example.com") == NULL, "mx2 matched");
	sts_policy_unref(p);
}

static void
test_domains(void)
{
	static const struct {
		const char	*d;
		int		 ok;
	} cases[] = {
		{ "example.com", 1 }, { "EXAMPLE.com", 1 }, { "a", 1 },
		{ "xn--bcher-kva.de", 1 }, { "a-b.c_d.example", 1 },
		{ "", 0 }, { ".", 0 }, { "example.com.", 0 }, { ".example", 0 },
		{ "a..b", 0 }, { "a b", 0 }, { "a/b", 0 }, { "a:443", 0 },
		{ "a@b", 0 }, { "b\xc3\xbc" "cher.de", 0 },
	};
	char	 long_label[80], long_name[300];
	size_t	 i;

	for (i = 0; i < DMX_NELEM(cases); i++)
		T_CHECK(sts_domain_ok(cases[i].d) == cases[i].ok,
		    "domain '%s': want %d", cases[i].d, cases[i].ok);
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".com");
	T_CHECK(!sts_domain_ok(long_label), "a label of 64 accepted");
	for (i = 0; i < 254; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[253] = 'a';
	long_name[254] = '\0';
	T_CHECK(!sts_domain_ok(long_name), "a name of 254 accepted");
	long_name[253] = '\0';
	T_CHECK(sts_domain_ok(long_name), "a name of 253 refused");
}

int
main(void)
{
	test_txt();
	test_txt_select();
	test_policy();
	test_policy_limits();
	test_match();
	test_domains();
	return t_done("test_sts");
}
