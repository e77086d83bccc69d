/*
 * test_policy_table.c - the policy file and bypass list: parsing,
 * matching precedence, expiry, and errors that name the line.
 */
#include <string.h>

#include "policy/policy.h"
#include "t.h"
#include "util/util.h"

static void
test_policy(void)
{
	static const char text[] =
	    "# TLS policy\n"
	    "example.org      dane-only\n"
	    ".example.org     encrypt   # subdomains\n"
	    ".sub.example.org none\n"
	    "\n"
	    "legacy.test      MAY\n"
	    "bank.test.       secure\n"
	    "corp.test        verify mta-sts=no\n"
	    "[mx.corp.test]:2525 encrypt\n";
	static const struct {
		const char	*domain;
		int		 found;
		enum tls_level	 want;
	} cases[] = {
		{ "example.org", 1, TLS_LEVEL_DANE_ONLY },
		{ "EXAMPLE.org.", 1, TLS_LEVEL_DANE_ONLY },
		{ "mx.example.org", 1, TLS_LEVEL_ENCRYPT },
		{ "a.sub.example.org", 1, TLS_LEVEL_NONE },
		{ "sub.example.org", 1, TLS_LEVEL_ENCRYPT },
		{ "legacy.test", 1, TLS_LEVEL_MAY },
		/* secure is PKIX against the next hop's names (issue #12),
		 * no longer a synonym of verify */
		{ "bank.test", 1, TLS_LEVEL_SECURE },
		{ "corp.test", 1, TLS_LEVEL_VERIFY },
		{ "[mx.corp.test]:2525", 1, TLS_LEVEL_ENCRYPT },
		{ "notexample.org", 0, TLS_LEVEL_DANE },
		{ "org", 0, TLS_LEVEL_DANE },
	};
	struct policy_table	 t;
	const struct policy_entry *e;
	char			 err[256] = "";
	size_t			 i;

	T_CHECK(policy_table_parse(&t, text, strlen(text), 0, err,
	    sizeof(err)) == 0, "parse: %s", err);
	T_CHECK(t.n == 7, "entries: got %zu, want 7", t.n);
	e = policy_table_match(&t, "corp.test", 0);
	T_CHECK(e != NULL && e->no_sts, "corp.test: mta-sts=no");
	e = policy_table_match(&t, "bank.test", 0);
	T_CHECK(e != NULL && !e->no_sts, "bank.test: MTA-STS on");
	for (i = 0; i < DMX_NELEM(cases); i++) {
		e = policy_table_match(&t, cases[i].domain, 0);
		T_CHECK((e != NULL) == cases[i].found, "%s: found %d, want %d",
		    cases[i].domain, e != NULL, cases[i].found);
		if (e != NULL && cases[i].found)
			T_CHECK(e->level == cases[i].want, "%s: level %s, want %s",
			    cases[i].domain, policy_level_str(e->level),
			    policy_level_str(cases[i].want));
	}
	policy_table_free(&t);
}

static void
test_bypass(void)
{
	static const char text[] =
	    "broken.test 2026-12-31 # ticket 42: rolled key without TLSA\n"
	    "old.test 2020-01-01\n"
	    ".forever.test\n";
	struct policy_table	 t;
	const struct policy_entry *e;
	char			 err[256] = "";
	time_t			 now = 1795000000;	/* 2026-11-18 */

	T_CHECK(policy_table_parse(&t, text, strlen(text), 1, err,
	    sizeof(err)) == 0, "parse: %s", err);
	e = policy_table_match(&t, "broken.test", now);
	T_CHECK(e != NULL && e->comment != NULL && strcmp(e->comment,
	    "ticket 42: rolled key without TLSA") == 0, "comment: %s",
	    e && e->comment ? e->comment : "(none)");
	T_CHECK(policy_table_match(&t, "broken.test", 1830000000) == NULL,
	    "entry matched after its date");
	T_CHECK(policy_table_match(&t, "old.test", now) == NULL,
	    "expired entry matched");
	T_CHECK(policy_table_match(&t, "mx.forever.test", now) != NULL,
	    "subdomain entry without date did not match");
	policy_table_free(&t);
}

/* The expiry forms: until a day (its end, UTC), until a time, for a
 * duration after an "added" anchor, added alone; retired entries. */
static void
test_bypass_expiry(void)
{
	static const char text[] =
	    "day.test until 2026-12-31\n"
	    "time.test UNTIL 2026-12-07T10:00:00Z # ticket 7\n"
	    "rel.test for 7d added 2026-12-01\n"
	    "relt.test for 12h added 2026-12-01T06:30:00Z\n"
	    "stamp.test added 2026-12-01T08:00:00Z\n"
	    "old.test 2026-12-31\n";
	struct policy_table	 t;
	const struct policy_entry *e;
	char			 err[256] = "", k1[POLICY_KEY_LEN];
	char			 k2[POLICY_KEY_LEN], ts[POLICY_TIME_LEN];
	time_t			 t1;

	T_CHECK(policy_table_parse(&t, text, strlen(text), 1, err,
	    sizeof(err)) == 0, "parse: %s", err);
	T_CHECK(t.n == 6, "entries: %zu", t.n);
	if (t.n != 6)
		return;
	/* 2026-12-31T23:59:59Z */
	T_CHECK(t.e[0].expires == 1798761599, "until a day: %lld",
	    (long long)t.e[0].expires);
	T_CHECK(t.e[5].expires == t.e[0].expires, "bare date is until");
	T_CHECK(t.e[1].expires == 1796637600, "until a time: %lld",
	    (long long)t.e[1].expires);
	T_CHECK(t.e[1].comment != NULL && strcmp(t.e[1].comment, "ticket 7")
	    == 0, "comment after until");
	/* 2026-12-01T00:00:00Z + 7 days */
	T_CHECK(t.e[2].added == 1796083200 && t.e[2].expires == 1796083200 +
	    7 * 86400, "for 7d: added %lld expires %lld",
	    (long long)t.e[2].added, (long long)t.e[2].expires);
	T_CHECK(t.e[3].expires == 1796106600 + 12 * 3600, "for 12h: %lld",
	    (long long)t.e[3].expires);
	T_CHECK(t.e[4].expires == 0 && t.e[4].added == 1796112000,
	    "added alone: expires %lld added %lld",
	    (long long)t.e[4].expires, (long long)t.e[4].added);
	/* Applies through its last second, not after. */
	T_CHECK(policy_table_match(&t, "time.test", 1796637600) != NULL,
	    "until: the last second applies");
	T_CHECK(policy_table_match(&t, "time.test", 1796637601) == NULL,
	    "until: applies after its time");
	T_CHECK(policy_table_match(&t, "rel.test", 1796083200 + 7 * 86400 + 1)
	    == NULL, "for: applies after its duration");
	/* A retired entry does not apply. */
	e = policy_table_match(&t, "stamp.test", 1796112000);
	T_CHECK(e != NULL, "stamp.test applies");
	t.e[4].retired = 1;
	T_CHECK(policy_table_match(&t, "stamp.test", 1796112000) == NULL,
	    "a retired entry applies");
	/* The key changes with the added time (a re-add). */
	policy_bypass_key(&t.e[4], k1, sizeof(k1));
	t.e[4].added++;
	policy_bypass_key(&t.e[4], k2, sizeof(k2));
	T_CHECK(strcmp(k1, k2) != 0, "key ignores added: %s", k1);
	policy_bypass_time_str(1796637600, ts, sizeof(ts));
	T_CHECK(strcmp(ts, "2026-12-07T10:00:00Z") == 0, "time_str: %s", ts);
	T_CHECK(policy_bypass_when(ts, 0, &t1) == 0 && t1 == 1796637600,
	    "time_str does not read back");
	policy_table_free(&t);
}

static const struct {
	const char	*name, *text;
	int		 bypass;
	const char	*want;
} bad[] = {
	{ "unknown level", "a.test may\nb.test bogus\n", 0, "line 2: unknown level" },
	{ "missing level", "a.test\n", 0, "line 1: expected 'domain level'" },
	{ "too many fields", "a.test may x y\n", 0, "line 1: too many fields" },
	{ "unknown option", "a.test may sts=off\n", 0, "line 1: unknown option 'sts=off'" },
	{ "bad host next hop", "[mx..test]:25 may\n", 0, "is not a next hop" },
	{ "bad domain", "a..test may\n", 0, "line 1: 'a..test' is not a domain" },
	{ "bad char", "a$.test may\n", 0, "is not a domain" },
	{ "label of 64 octets", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test may\n", 0,
	    "is not a domain" },
	{ "bad date", "a.test 2026-13-45\n", 1, "line 1: '2026-13-45' is not a date" },
	{ "bypass fields", "a.test 2026-01-01 x\n", 1, "expected 'domain" },
	{ "empty dot", ". may\n", 0, "is not a domain" },
	{ "for without anchor", "a.test for 7d\n", 1,
	    "line 1: 'for 7d' needs an anchor" },
	{ "no such day", "a.test until 2026-02-30\n", 1,
	    "'2026-02-30' is not a date" },
	{ "bad time", "a.test until 2026-12-07T25:00:00Z\n", 1,
	    "is not a date" },
	{ "time without Z", "a.test until 2026-12-07T10:00:00\n", 1,
	    "is not a date" },
	{ "until without value", "a.test until\n", 1,
	    "'until' needs a value" },
	{ "until twice", "a.test until 2026-01-01 until 2026-01-02\n", 1,
	    "'until' given twice" },
	{ "two expiries", "a.test until 2026-01-01 for 1d added 2026-01-01\n",
	    1, "two expiries" },
	{ "date and until", "a.test 2026-01-01 until 2026-01-02\n", 1,
	    "two expiries" },
	{ "zero duration", "a.test for 0d added 2026-01-01\n", 1,
	    "'0d' is not a duration" },
	{ "bad unit", "a.test for 7x added 2026-01-01\n", 1,
	    "'7x' is not a duration" },
	{ "too long", "a.test for 600w added 2026-01-01\n", 1,
	    "'600w' is not a duration" },
	{ "unknown word", "a.test since 2026-01-01\n", 1,
	    "unknown word 'since'" },
	{ "bad added", "a.test added yesterday\n", 1,
	    "'yesterday' is not a date" },
	{ "too many words", "a.test until 2026-01-01 added 2026-01-01 a b c d\n",
	    1, "too many fields" },
};

static void
test_bad(void)
{
	struct policy_table	 t;
	char			 err[256];
	size_t			 i;
	char			 longline[POLICY_LINE_MAX + 10];

	for (i = 0; i < DMX_NELEM(bad); i++) {
		err[0] = '\0';
		T_CHECK(policy_table_parse(&t, bad[i].text, strlen(bad[i].text),
		    bad[i].bypass, err, sizeof(err)) == -1 &&
		    strstr(err, bad[i].want) != NULL && t.n == 0,
		    "%s: got '%s', want '%s'", bad[i].name, err, bad[i].want);
	}
	memset(longline, 'a', sizeof(longline));
	T_CHECK(policy_table_parse(&t, longline, sizeof(longline), 0, err,
	    sizeof(err)) == -1 && strstr(err, "longer than") != NULL,
	    "over-long line: %s", err);
	T_CHECK(policy_table_load(&t, "/nonexistent/policy", 0, err,
	    sizeof(err)) == -1 && strstr(err, "No such file") != NULL,
	    "missing file: %s", err);
}

int
main(void)
{
	test_policy();
	test_bypass();
	test_bypass_expiry();
	test_bad();
	return t_done("test_policy_table");
}
