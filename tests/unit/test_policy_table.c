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
	{ "bad date", "a.test 2026-13-45\n", 1, "line 1: '2026-13-45' is not a date" },
	{ "bypass fields", "a.test 2026-01-01 x\n", 1, "expected 'domain" },
	{ "empty dot", ". may\n", 0, "is not a domain" },
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
	test_bad();
	return t_done("test_policy_table");
}
