/*
 * test_route_transport.c - the transport table (route_transport.c):
 * every next-hop form, matching precedence (exact, nearest ".parent",
 * "*"), errors that name the line, and the settings a delivery gets
 * from an entry (deliver_conf_route(): the TLS policy table looks up the
 * next hop, not the recipient domain).
 */
#include <string.h>

#include "deliver/deliver.h"
#include "route/route.h"
#include "t.h"
#include "util/util.h"

static const char table[] =
    "# transport table\n"
    "partner.test        [mx.partner.test]:2525\n"
    ".partner.test       smtp:[relay.partner.test]\n"
    ".deep.partner.test  other.test:2526   # a comment\n"
    "lit.test            [192.0.2.1]:26\n"
    "v6.test             [ipv6:2001:db8::1]\n"
    "mx.test             OTHER.test.\n"
    "\tdrop.test\tdiscard\n"
    "bad.test            error:5.1.1 No such domain here # kept\n"
    "bare.test           error:5.7.1\n";

static void
test_match(void)
{
	static const struct {
		const char		*domain;
		const char		*pattern;	/* NULL: no entry */
		enum transport_action	 action;
		const char		*dest;
		unsigned		 port;
		const char		*nexthop;
	} cases[] = {
		{ "partner.test", "partner.test", TRANSPORT_SMTP,
		    "[mx.partner.test]:2525", 2525, "[mx.partner.test]:2525" },
		{ "PARTNER.test.", "partner.test", TRANSPORT_SMTP,
		    "[mx.partner.test]:2525", 2525, "[mx.partner.test]:2525" },
		/* .domain: subdomains, not the domain itself */
		{ "a.partner.test", ".partner.test", TRANSPORT_SMTP,
		    "[relay.partner.test]", 25, "[relay.partner.test]" },
		{ "x.y.partner.test", ".partner.test", TRANSPORT_SMTP,
		    "[relay.partner.test]", 25, "[relay.partner.test]" },
		/* the longest suffix wins */
		{ "a.deep.partner.test", ".deep.partner.test", TRANSPORT_SMTP,
		    "other.test", 2526, "other.test:2526" },
		{ "deep.partner.test", ".partner.test", TRANSPORT_SMTP,
		    "[relay.partner.test]", 25, "[relay.partner.test]" },
		{ "lit.test", "lit.test", TRANSPORT_SMTP, "[192.0.2.1]:26", 26,
		    "[192.0.2.1]:26" },
		{ "v6.test", "v6.test", TRANSPORT_SMTP, "[ipv6:2001:db8::1]", 25,
		    "[ipv6:2001:db8::1]" },
		{ "mx.test", "mx.test", TRANSPORT_SMTP, "other.test", 25,
		    "other.test" },
		{ "drop.test", "drop.test", TRANSPORT_DISCARD, NULL, 0,
		    "discard" },
		{ "bad.test", "bad.test", TRANSPORT_ERROR, NULL, 0,
		    "error:5.1.1 No such domain here # kept" },
		{ "sub.bad.test", NULL, 0, NULL, 0, NULL },
		{ "notpartner.test", NULL, 0, NULL, 0, NULL },
		{ "test", NULL, 0, NULL, 0, NULL },
		{ "[192.0.2.7]", NULL, 0, NULL, 0, NULL },
	};
	struct transport_table	 t;
	const struct transport_entry *e;
	char			 err[512] = "";
	size_t			 i;

	T_CHECK(route_transport_parse(&t, table, strlen(table), err,
	    sizeof(err)) == 0, "parse: %s", err);
	T_CHECK(t.n == 9, "entries: got %zu, want 9", t.n);
	T_CHECK(t.dflt == NULL, "no default entry");
	for (i = 0; i < DMX_NELEM(cases); i++) {
		e = route_transport_match(&t, cases[i].domain);
		if (cases[i].pattern == NULL) {
			T_CHECK(e == NULL, "%s: got %s, want no entry",
			    cases[i].domain, e ? e->pattern : "");
			continue;
		}
		T_CHECK(e != NULL && strcmp(e->pattern, cases[i].pattern) == 0,
		    "%s: got %s, want %s", cases[i].domain,
		    e ? e->pattern : "none", cases[i].pattern);
		if (e == NULL)
			continue;
		T_CHECK(e->action == cases[i].action, "%s: action %d, want %d",
		    cases[i].domain, e->action, cases[i].action);
		if (cases[i].dest != NULL) {
			T_CHECK(strcmp(e->dest, cases[i].dest) == 0,
			    "%s: dest '%s', want '%s'", cases[i].domain,
			    e->dest, cases[i].dest);
			T_CHECK(e->port == cases[i].port, "%s: port %u, want %u",
			    cases[i].domain, e->port, cases[i].port);
		}
		T_CHECK(strcmp(e->nexthop, cases[i].nexthop) == 0,
		    "%s: nexthop '%s', want '%s'", cases[i].domain, e->nexthop,
		    cases[i].nexthop);
	}
	e = route_transport_match(&t, "bad.test");
	T_CHECK(e != NULL && strcmp(e->enhanced, "5.1.1") == 0 &&
	    strcmp(e->text, "No such domain here # kept") == 0,
	    "error entry: '%s' '%s'", e ? e->enhanced : "",
	    e ? e->text : "");
	e = route_transport_match(&t, "bare.test");
	T_CHECK(e != NULL && strcmp(e->enhanced, "5.7.1") == 0 &&
	    e->text[0] == '\0', "error without text");
	route_transport_free(&t);
	T_CHECK(t.n == 0 && t.e == NULL, "freed");
	T_CHECK(route_transport_match(&t, "partner.test") == NULL,
	    "an empty table routes nothing");
	T_CHECK(route_transport_match(NULL, "partner.test") == NULL,
	    "no table routes nothing");
}

static void
test_default(void)
{
	static const char text[] =
	    "*            [smarthost.test]:587\n"
	    "local.test   local.test\n";
	struct transport_table	 t;
	const struct transport_entry *e;
	char			 err[512] = "";

	T_CHECK(route_transport_parse(&t, text, strlen(text), err,
	    sizeof(err)) == 0, "parse: %s", err);
	e = route_transport_match(&t, "anything.example");
	T_CHECK(e != NULL && strcmp(e->pattern, "*") == 0 && e->port == 587,
	    "* takes what nothing else does");
	e = route_transport_match(&t, "local.test");
	T_CHECK(e != NULL && strcmp(e->pattern, "local.test") == 0 &&
	    strcmp(e->dest, "local.test") == 0, "an exact entry beats *");
	e = route_transport_match(&t, "[192.0.2.1]");
	T_CHECK(e != NULL && strcmp(e->pattern, "*") == 0,
	    "* takes address literals too");
	route_transport_free(&t);
}

static void
test_errors(void)
{
	static const struct {
		const char	*text;
		const char	*want;	/* in the error */
	} cases[] = {
		{ "a.test\n", "line 1: expected 'domain nexthop'" },
		{ "a.test # no hop\n", "line 1: expected 'domain nexthop'" },
		{ "# c\n\nbad_dom!.test [mx.test]\n", "line 3: 'bad_dom!.test' "
		    "is not a domain" },
		{ "a..test [mx.test]\n", "line 1: 'a..test' is not a domain" },
		/* a label of 64 octets: too long (63 is the most) */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test [mx.test]\n", "is not a domain" },
		{ "a.test [mx.test]:0\n", "line 1: '[mx.test]:0' is not a next "
		    "hop" },
		{ "a.test [mx.test]:65536\n", "is not a next hop" },
		{ "a.test [mx.test]x\n", "is not a next hop" },
		{ "a.test []\n", "is not a next hop" },
		{ "a.test [mx.test\n", "is not a next hop" },
		{ "a.test mx.test:\n", "is not a next hop" },
		{ "a.test mx.test:abc\n", "is not a next hop" },
		{ "a.test [1.2.3.4]:99999\n", "is not a next hop" },
		{ "a.test mx.test extra\n", "line 1: unexpected 'extra' after "
		    "the next hop" },
		{ "a.test error:4.1.1 later\n", "line 1: '4.1.1' is not a "
		    "permanent status" },
		{ "a.test error:5.1\n", "is not a permanent status" },
		{ "a.test error:5.1.1111 x\n", "is not a permanent status" },
		{ "a.test error:no code\n", "is not a permanent status" },
		{ "a.test error:5.1.1 bad\x01text\n", "printable ASCII" },
		{ "a.test mx.test\nA.test. [mx2.test]\n", "line 2: 'a.test' is "
		    "already routed at line 1" },
		{ "a.test mx.test\n\0b.test mx.test\n", "line 2: holds a NUL "
		    "byte" },
	};
	struct transport_table	 t;
	char			 err[512], big[TRANSPORT_LINE_MAX + 40];
	size_t			 i, len;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		err[0] = '\0';
		len = strlen(cases[i].text);
		if (strstr(cases[i].want, "NUL") != NULL)
			len += 1 + strlen(cases[i].text + len + 1);
		T_CHECK(route_transport_parse(&t, cases[i].text, len, err,
		    sizeof(err)) == -1 && t.n == 0 && t.e == NULL,
		    "case %zu: accepted", i);
		T_CHECK(strstr(err, cases[i].want) != NULL,
		    "case %zu: error '%s', want '%s'", i, err, cases[i].want);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, "x.test ", 7);
	big[sizeof(big) - 1] = '\0';
	T_CHECK(route_transport_parse(&t, big, strlen(big), err,
	    sizeof(err)) == -1 && strstr(err, "line 1: longer than") != NULL,
	    "long line: %s", err);
	T_CHECK(route_transport_load(&t, "/nonexistent/transport", err,
	    sizeof(err)) == -1 && strstr(err, "/nonexistent/transport") !=
	    NULL, "missing file named: %s", err);
}

/* The settings a delivery gets: the next hop's, the policy table's
 * level for the next hop (not the recipient domain), the route. */
static void
test_conf_route(void)
{
	static const char pol[] =
	    "[mx.partner.test]:2525 dane-only\n"
	    "partner.test           may\n"
	    "other.test             encrypt\n";
	struct transport_table	 t;
	struct policy_table	 p;
	struct deliver_env	 env;
	struct deliver_conf	 dc;
	const struct transport_entry *e;
	char			 err[512] = "", text[800];

	T_CHECK(route_transport_parse(&t, table, strlen(table), err,
	    sizeof(err)) == 0, "parse: %s", err);
	T_CHECK(policy_table_parse(&p, pol, strlen(pol), 0, err,
	    sizeof(err)) == 0, "policy: %s", err);
	memset(&env, 0, sizeof(env));
	env.transport = &t;
	env.policy = &p;
	e = deliver_conf_route(&dc, &env, "partner.test", SMTP_JOB_SEND, 0);
	T_CHECK(e == NULL, "an SMTP route is a delivery");
	T_CHECK(strcmp(dc.domain, "[mx.partner.test]:2525") == 0 &&
	    dc.port == 2525, "next hop: %s:%u", dc.domain, dc.port);
	T_CHECK(dc.level == TLS_LEVEL_DANE_ONLY, "the next hop's policy: %s",
	    policy_level_str(dc.level));
	T_CHECK(strcmp(dc.route_via, "transport") == 0 &&
	    strcmp(dc.route_match, "partner.test") == 0, "route");
	deliver_route_text(text, sizeof(text), dc.route_via, dc.route_domain,
	    dc.route_match, dc.route_nexthop);
	T_CHECK(strcmp(text, "transport partner.test -> "
	    "[mx.partner.test]:2525") == 0, "text: %s", text);
	e = deliver_conf_route(&dc, &env, "a.deep.partner.test",
	    SMTP_JOB_SEND, 0);
	T_CHECK(e == NULL && strcmp(dc.domain, "other.test") == 0 &&
	    dc.port == 2526 && dc.level == TLS_LEVEL_ENCRYPT,
	    "host:port: %s:%u %s", dc.domain, dc.port,
	    policy_level_str(dc.level));
	deliver_route_text(text, sizeof(text), dc.route_via, dc.route_domain,
	    dc.route_match, dc.route_nexthop);
	T_CHECK(strcmp(text, "transport a.deep.partner.test "
	    "(.deep.partner.test) -> other.test:2526") == 0, "text: %s", text);
	e = deliver_conf_route(&dc, &env, "drop.test", SMTP_JOB_SEND, 0);
	T_CHECK(e != NULL && e->action == TRANSPORT_DISCARD, "discard");
	e = deliver_conf_route(&dc, &env, "elsewhere.test", SMTP_JOB_SEND, 0);
	T_CHECK(e == NULL && strcmp(dc.domain, "elsewhere.test") == 0 &&
	    dc.port == 25 && strcmp(dc.route_via, "mx") == 0 &&
	    dc.level == TLS_LEVEL_DANE, "no entry: the domain's own MX");
	env.relayhost = "[smart.test]:587";
	e = deliver_conf_route(&dc, &env, "elsewhere.test", SMTP_JOB_SEND, 0);
	T_CHECK(e == NULL && strcmp(dc.domain, "[smart.test]:587") == 0 &&
	    strcmp(dc.route_via, "relayhost") == 0, "relayhost");
	e = deliver_conf_route(&dc, &env, "partner.test", SMTP_JOB_SEND, 0);
	T_CHECK(e == NULL && strcmp(dc.domain, "[mx.partner.test]:2525") == 0,
	    "the transport table beats the relayhost");
	policy_table_free(&p);
	route_transport_free(&t);
}

int
main(void)
{
	test_match();
	test_default();
	test_errors();
	test_conf_route();
	return t_done("test_route_transport");
}
