/*
 * test_tlsrpt_record.c - hand-made delivery results (the verdict records
 * of deliver.h) become exactly the TLS-RPT rows RFC 8460 asks for: one
 * per session that reached STARTTLS or was denied it, none for a
 * connection that never got there or a reused one, a dnssec-invalid
 * failure for a host passed over for a bogus answer and for a bogus MX,
 * the policy (tlsa with its records and base domain, sts with its lines
 * and patterns, no-policy-found) and the failure details (addresses, MX
 * name, HELO, the X.509 error's name, why_bogus, the fetch error). Every
 * failure class maps to util/fail.c's result type or to no row, and a
 * DANE-EE(3) match never yields certificate-expired: the world's
 * certificate, verified as at 2040 (expired), passes under 3 1 1 and
 * fails certificate-expired under 2 0 1, through OpenSSL.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver.h"
#include "log/log.h"
#include "state/state.h"
#include "sts/sts.h"
#include "tlsrpt/tlsrpt.h"
#include "t.h"
#include "util/util.h"

#define EE311	"3 1 1 9A8079B2BFFF4B8250CDEADFE26A406F27D79D5B1A15ED9310C240CB5BD9DE27"
#define TA201	"2 0 1 E348526E32D604C1CA313637940AE1035DA6055039890DE9863885403CD34F63"
#define T_NOON	1772366400	/* 2026-03-01T12:00:00Z */

static struct state	*st;
static char		 base[256];

/* res_new - a result for domain with nhost hosts, room for 8 attempts */
static struct deliver_result *
res_new(const char *domain, size_t nhost)
{
	struct deliver_result	*r = calloc(1, sizeof(*r));

	strlcpy_(r->domain, domain, sizeof(r->domain));
	r->route = calloc(1, sizeof(*r->route));
	strlcpy_(r->route->domain, domain, sizeof(r->route->domain));
	r->route->hosts = calloc(nhost ? nhost : 1, sizeof(*r->route->hosts));
	r->route->nhost = nhost;
	r->att = calloc(8, sizeof(*r->att));
	r->attcap = 8;
	r->used = -1;
	return r;
}

/* host - host i: its name, demand, route failure and TLSA records */
static struct route_host *
host(struct deliver_result *r, size_t i, const char *name,
    enum host_demand d, enum dmx_fail rt, const char *tlsa)
{
	struct route_host	*h = &r->route->hosts[i];
	char			 err[256], line[256];

	strlcpy_(h->name, name, sizeof(h->name));
	h->demand = d;
	h->rt = rt;
	snprintf(h->why, sizeof(h->why), "why of %s", name);
	dane_tlsa_set_init(&h->tlsa);
	while (tlsa != NULL && *tlsa != '\0') {	/* lines */
		h->tlsa_looked_up = 1;
		h->tlsa.secure = 1;
		strlcpy_(h->tlsa_base, name, sizeof(h->tlsa_base));
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(tlsa, "\n"),
		    tlsa);
		if (dane_tlsa_set_add_text(&h->tlsa, line, err,
		    sizeof(err)) == -1)
			T_CHECK(0, "TLSA %s: %s", line, err);
		tlsa += strcspn(tlsa, "\n");
		tlsa += *tlsa == '\n';
	}
	return h;
}

/* att - a session to host hi from 192.0.2.1; the server says helo */
static struct deliver_attempt *
att(struct deliver_result *r, size_t hi, const char *addr, const char *helo)
{
	struct deliver_attempt	*a = &r->att[r->natt++];

	a->host = hi;
	strlcpy_(a->addr, addr ? addr : "", sizeof(a->addr));
	a->skipped = addr == NULL;
	if (addr != NULL)
		strlcpy_(a->local_addr, "192.0.2.1", sizeof(a->local_addr));
	strlcpy_(a->peer_helo, helo ? helo : "", sizeof(a->peer_helo));
	a->stage = SMTP_ST_DONE;
	if (r->route->hosts[hi].tlsa.secure)
		a->policy = DELIVER_POLICY_TLSA;
	return a;
}

/* ok_tls - the attempt reached TLS of level t and the job was done */
static void
ok_tls(struct deliver_attempt *a, enum tls_achieved t)
{
	a->tls = t;
	a->ok = 1;
}

/* fail_tls - the handshake was judged and failed (x509: its error) */
static void
fail_tls(struct deliver_attempt *a, enum dmx_fail f, long x509)
{
	a->stage = SMTP_ST_TLS;
	a->fail = f;
	a->have_verdict = 1;
	a->verdict.x509_error = x509;
	snprintf(a->detail, sizeof(a->detail), "detail of %s", fail_name(f));
}

struct got {
	char	 text[8192];
	int	 n;
};

static int
got_row(void *arg, const struct state_tlsrpt *r)
{
	struct got	*g = arg;
	size_t		 len = strlen(g->text);

	snprintf(g->text + len, sizeof(g->text) - len,
	    "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%llu\n", r->policy_type,
	    r->policy_domain, r->policy_string, r->mx_host, r->result_type,
	    r->sending_ip, r->receiving_ip, r->mx_hostname, r->mx_helo,
	    r->reason, (unsigned long long)r->count);
	g->n++;
	return 0;
}

/* record - r recorded at now and freed; its domain's rows that day */
static const char *
record(struct deliver_result *r, time_t now, int want_n)
{
	static struct got	 g;
	char			 domain[DMX_NAME_MAX], day[TLSRPT_DAY_LEN];
	char			 err[256];
	int			 n;

	strlcpy_(domain, r->domain, sizeof(domain));
	str_lower(domain);
	n = tlsrpt_record(st, r, now);
	T_CHECK(n == want_n, "%s: recorded %d rows, want %d", domain, n,
	    want_n);
	deliver_result_free(r);
	state_sync(st);
	memset(&g, 0, sizeof(g));
	tlsrpt_day(now, day);
	if (domain[0] != '[' && state_tlsrpt_rows(st, domain, day, got_row,
	    &g, err, sizeof(err)) == -1)
		T_CHECK(0, "rows of %s: %s", domain, err);
	return g.text;
}

#define EXPECT(what, got, want) \
	T_CHECK(strcmp((got), (want)) == 0, "%s:\ngot:\n%swant:\n%s", what, \
	    got, want)

static void
test_dane(void)
{
	struct deliver_result	*r;
	struct deliver_attempt	*a;
	const char		*g;

	/* DANE ok; a second delivery merges into the same row */
	r = res_new("dane-ok.test", 1);
	host(r, 0, "mx.dane-ok.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	ok_tls(att(r, 0, "127.0.25.10", "mx.dane-ok.test"),
	    TLS_ACH_DANE_VERIFIED);
	record(r, T_NOON, 1);
	r = res_new("DANE-OK.test", 1);
	host(r, 0, "mx.dane-ok.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	ok_tls(att(r, 0, "127.0.25.10", "mx.dane-ok.test"),
	    TLS_ACH_DANE_VERIFIED);
	g = record(r, T_NOON, 1);
	EXPECT("dane ok", g, "tlsa|mx.dane-ok.test|" EE311 "|||||||"
	    "|2\n");

	/* the preferred MX fails its TLSA record; the next one passes */
	r = res_new("mismatch.test", 2);
	host(r, 0, "mx1.mismatch.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	host(r, 1, "mx2.mismatch.test", DEMAND_DANE, DMX_FAIL_NONE,
	    EE311 "\n" TA201);
	a = att(r, 0, "127.0.25.17", "MX1.Mismatch.TEST");
	fail_tls(a, DMX_FAIL_TLSA_INVALID, 65);
	a->dane_failed = 1;
	ok_tls(att(r, 1, "127.0.25.18", NULL), TLS_ACH_DANE_VERIFIED);
	g = record(r, T_NOON, 2);
	EXPECT("dane mismatch", g,
	    "tlsa|mx1.mismatch.test|" EE311 "||tlsa-invalid|192.0.2.1|"
	    "127.0.25.17|mx1.mismatch.test|mx1.mismatch.test|"
	    "X509_V_ERR_DANE_NO_MATCH|1\n"
	    "tlsa|mx2.mismatch.test|" EE311 "\n" TA201 "|||||||"
	    "|1\n");

	/* every record unusable: TLS without authentication reports it */
	r = res_new("unusable.test", 1);
	host(r, 0, "mx.unusable.test", DEMAND_ENCRYPT, DMX_FAIL_TLSA_INVALID,
	    "1 1 1 AB");
	ok_tls(att(r, 0, "127.0.25.27", "mx.unusable.test"),
	    TLS_ACH_ENCRYPTED);
	g = record(r, T_NOON, 1);
	EXPECT("encrypt only", g, "tlsa|mx.unusable.test|1 1 1 AB||"
	    "tlsa-invalid|192.0.2.1|127.0.25.27|mx.unusable.test|"
	    "mx.unusable.test|why of mx.unusable.test|1\n");

	/* a handshake that failed before any verdict */
	r = res_new("handshake.test", 1);
	host(r, 0, "mx.handshake.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	a = att(r, 0, "127.0.25.9", NULL);
	a->stage = SMTP_ST_TLS;
	a->fail = DMX_FAIL_VALIDATION;
	strlcpy_(a->detail, "TLS handshake failed: unsupported protocol",
	    sizeof(a->detail));
	g = record(r, T_NOON, 1);
	EXPECT("handshake", g, "tlsa|mx.handshake.test|" EE311 "||"
	    "validation-failure|192.0.2.1|127.0.25.9|mx.handshake.test||"
	    "TLS handshake failed: unsupported protocol|1\n");
}

static void
test_dnssec(void)
{
	struct deliver_result	*r;
	struct route_host	*h;
	struct deliver_attempt	*a;
	const char		*g;

	/* a bogus TLSA answer: mx1 passed over, mx2 used */
	r = res_new("tlsa-bogus.test", 2);
	h = host(r, 0, "mx1.tlsa-bogus.test", DEMAND_UNUSABLE,
	    DMX_FAIL_DNSSEC_INVALID, NULL);
	strlcpy_(h->tlsa_base, "mx1.tlsa-bogus.test", sizeof(h->tlsa_base));
	strlcpy_(h->bogus, "signature crypto failed from 127.0.53.1",
	    sizeof(h->bogus));
	host(r, 1, "mx2.tlsa-bogus.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	a = att(r, 0, NULL, NULL);
	a->fail = DMX_FAIL_DNSSEC_INVALID;
	ok_tls(att(r, 1, "127.0.25.10", "mx.dane-ee.test"),
	    TLS_ACH_DANE_VERIFIED);
	g = record(r, T_NOON, 2);
	EXPECT("tlsa bogus", g,
	    "tlsa|mx1.tlsa-bogus.test|||dnssec-invalid|||mx1.tlsa-bogus.test|"
	    "|signature crypto failed from 127.0.53.1|1\n"
	    "tlsa|mx2.tlsa-bogus.test|" EE311 "|||||||"
	    "|1\n");

	/* a bogus address answer (no TLSA looked up): the host's name */
	r = res_new("addr-bogus.test", 1);
	h = host(r, 0, "mx1.addr-bogus.test", DEMAND_UNUSABLE,
	    DMX_FAIL_DNSSEC_INVALID, NULL);
	a = att(r, 0, NULL, NULL);
	a->fail = DMX_FAIL_DNSSEC_INVALID;
	g = record(r, T_NOON, 1);
	EXPECT("address bogus", g, "tlsa|mx1.addr-bogus.test|||"
	    "dnssec-invalid|||mx1.addr-bogus.test||why of "
	    "mx1.addr-bogus.test|1\n");

	/* a bogus MX answer: the route failed, nobody contacted */
	r = res_new("mx-bogus.test", 0);
	r->route->failed = 1;
	r->route->rt = DMX_FAIL_DNSSEC_INVALID;
	strlcpy_(r->route->bogus, "validation failure <mx-bogus.test. MX "
	    "IN>: signature expired", sizeof(r->route->bogus));
	g = record(r, T_NOON, 1);
	EXPECT("mx bogus", g, "tlsa|mx-bogus.test|||dnssec-invalid|||||"
	    "validation failure <mx-bogus.test. MX IN>: signature expired|1\n");

	/* a route that failed for want of an answer: nothing */
	r = res_new("servfail.test", 0);
	r->route->failed = 1;
	r->route->rt = DMX_FAIL_DNS;
	g = record(r, T_NOON, 0);
	EXPECT("servfail", g, "");

	/* dane-only without TLSA: dane-required */
	r = res_new("dane-only.test", 1);
	host(r, 0, "mx.dane-only.test", DEMAND_UNUSABLE,
	    DMX_FAIL_DANE_REQUIRED, NULL);
	att(r, 0, NULL, NULL)->fail = DMX_FAIL_DANE_REQUIRED;
	g = record(r, T_NOON, 1);
	EXPECT("dane required", g, "tlsa|mx.dane-only.test|||dane-required|"
	    "||mx.dane-only.test||why of mx.dane-only.test|1\n");
}

static void
test_starttls_and_not_sessions(void)
{
	struct deliver_result	*r;
	struct deliver_attempt	*a;
	const char		*g;

	/* TLS demanded, STARTTLS not offered; then refused with 454 */
	r = res_new("nostarttls.test", 1);
	host(r, 0, "mx.nostarttls.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	a = att(r, 0, "127.0.25.16", "mx.nostarttls.test");
	a->stage = SMTP_ST_EHLO;
	a->fail = DMX_FAIL_STARTTLS_NOT_SUPPORTED;
	a->starttls_missing = 1;
	a = att(r, 0, "127.0.25.28", "fault.test");
	a->stage = SMTP_ST_STARTTLS;
	a->fail = DMX_FAIL_STARTTLS_NOT_SUPPORTED;
	a->starttls_missing = 2;
	a->code = 454;
	strlcpy_(a->reply, "4.7.0 TLS not available", sizeof(a->reply));
	g = record(r, T_NOON, 2);
	EXPECT("starttls", g,
	    "tlsa|mx.nostarttls.test|" EE311 "||starttls-not-supported|"
	    "192.0.2.1|127.0.25.16|mx.nostarttls.test|mx.nostarttls.test|"
	    "STARTTLS not offered|1\n"
	    "tlsa|mx.nostarttls.test|" EE311 "||starttls-not-supported|"
	    "192.0.2.1|127.0.25.28|mx.nostarttls.test|fault.test|"
	    "STARTTLS refused: 454 4.7.0 TLS not available|1\n");

	/* opportunistic, no policy, STARTTLS not offered: a failed session,
	 * and the cleartext delivery after it is none */
	r = res_new("opp.test", 1);
	host(r, 0, "mx.opp.test", DEMAND_MAY, DMX_FAIL_NONE, NULL);
	a = att(r, 0, "127.0.25.24", "mx.opp.test");
	a->starttls_missing = 1;
	a->ok = 1;
	g = record(r, T_NOON, 1);
	EXPECT("opportunistic", g, "no-policy-found|opp.test|||"
	    "starttls-not-supported|192.0.2.1|127.0.25.24|mx.opp.test|"
	    "mx.opp.test|STARTTLS not offered|1\n");

	/* not sessions: refused connection, cleartext by policy, a plain
	 * retry, a reused connection, a literal next hop */
	r = res_new("none.test", 1);
	host(r, 0, "mx.none.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	a = att(r, 0, "127.0.25.99", NULL);
	a->stage = SMTP_ST_CONNECT;
	a->fail = DMX_FAIL_CONNECT;
	a = att(r, 0, "127.0.25.98", NULL);
	a->stage = SMTP_ST_GREETING;
	a->fail = DMX_FAIL_SMTP;
	a = att(r, 0, "127.0.25.97", NULL);
	a->plaintext_retry = 1;
	a->ok = 1;
	a = att(r, 0, "127.0.25.10", NULL);
	ok_tls(a, TLS_ACH_DANE_VERIFIED);
	a->reused = 1;
	g = record(r, T_NOON, 0);
	EXPECT("not sessions", g, "");
	r = res_new("[192.0.2.25]", 1);
	host(r, 0, "192.0.2.25", DEMAND_MAY, DMX_FAIL_NONE, NULL);
	ok_tls(att(r, 0, "192.0.2.25", NULL), TLS_ACH_OPPORTUNISTIC);
	record(r, T_NOON, 0);

	/* TLS reached, then the server refused the recipient: a success */
	r = res_new("rcpt.test", 1);
	host(r, 0, "mx.rcpt.test", DEMAND_DANE, DMX_FAIL_NONE, EE311);
	a = att(r, 0, "127.0.25.10", NULL);
	a->tls = TLS_ACH_DANE_VERIFIED;
	a->stage = SMTP_ST_RCPT;
	a->fail = DMX_FAIL_SMTP;
	g = record(r, T_NOON, 1);
	EXPECT("TLS then 550", g, "tlsa|mx.rcpt.test|" EE311 "|||||||"
	    "|1\n");
}

static struct sts_policy *
policy(const char *text)
{
	struct sts_diag		 d;
	struct sts_policy	*p;

	sts_diag_init(&d);
	if ((p = sts_policy_parse(text, strlen(text), &d)) == NULL)
		T_CHECK(0, "policy: %s", d.error);
	return p;
}

static void
test_sts(void)
{
	struct deliver_result	*r;
	struct deliver_attempt	*a;
	const char		*g;
	const char		*enforce = "version: STSv1\r\nmode: enforce\r\n"
	    "mx: *.mx.sts.test\r\nmx: MX1.sts.test\r\nmax_age: 86400\r\n";
	const char		*lines = "version: STSv1\nmode: enforce\n"
	    "mx: *.mx.sts.test\nmx: MX1.sts.test\nmax_age: 86400";

	/* enforce: verified; WebPKI failed; an MX the policy does not list */
	r = res_new("enforce.sts.test", 3);
	r->sts.looked_up = 1;
	r->sts.policy = policy(enforce);
	host(r, 0, "notlisted.skip.sts.test", DEMAND_UNUSABLE,
	    DMX_FAIL_VALIDATION, NULL);
	host(r, 1, "wrong.mx.sts.test", DEMAND_STS, DMX_FAIL_NONE, NULL);
	host(r, 2, "ok.mx.sts.test", DEMAND_STS, DMX_FAIL_NONE, NULL);
	a = att(r, 0, NULL, NULL);
	a->fail = DMX_FAIL_VALIDATION;
	a->policy = DELIVER_POLICY_STS;
	a = att(r, 1, "127.0.25.12", "mx.ta-badname.test");
	a->policy = DELIVER_POLICY_STS;
	fail_tls(a, DMX_FAIL_STS_WEBPKI, 62);
	a = att(r, 2, "127.0.25.50", "ok.mx.sts.test");
	a->policy = DELIVER_POLICY_STS;
	ok_tls(a, TLS_ACH_STS_VERIFIED);
	g = record(r, T_NOON, 3);
	{
		char	 want[2048];

		snprintf(want, sizeof(want),
		    "sts|enforce.sts.test|%s|*.mx.sts.test\nmx1.sts.test|||||||1\n"
		    "sts|enforce.sts.test|%s|*.mx.sts.test\nmx1.sts.test|"
		    "sts-webpki-invalid|192.0.2.1|127.0.25.12|wrong.mx.sts.test|"
		    "mx.ta-badname.test|X509_V_ERR_HOSTNAME_MISMATCH|1\n"
		    "sts|enforce.sts.test|%s|*.mx.sts.test\nmx1.sts.test|"
		    "validation-failure|||notlisted.skip.sts.test||why of "
		    "notlisted.skip.sts.test|1\n", lines, lines, lines);
		EXPECT("sts enforce", g, want);
	}

	/* testing: delivered, what enforce would refuse is reported */
	r = res_new("testbad.sts.test", 2);
	r->sts.looked_up = 1;
	r->sts.policy = policy("version: STSv1\nmode: testing\nmx: "
	    "*.mx.sts.test\nmax_age: 600\n");
	host(r, 0, "wrong.mx.sts.test", DEMAND_MAY, DMX_FAIL_NONE, NULL);
	host(r, 1, "elsewhere.test", DEMAND_MAY, DMX_FAIL_NONE, NULL);
	a = att(r, 0, "127.0.25.12", NULL);
	a->policy = DELIVER_POLICY_STS;
	ok_tls(a, TLS_ACH_OPPORTUNISTIC);
	a->sts_fail = DMX_FAIL_STS_WEBPKI;
	a->have_verdict = 1;
	a->verdict.x509_error = 62;
	a = att(r, 1, "127.0.25.13", NULL);
	a->policy = DELIVER_POLICY_STS;
	ok_tls(a, TLS_ACH_OPPORTUNISTIC);
	a->sts_fail = DMX_FAIL_VALIDATION;
	g = record(r, T_NOON, 2);
	EXPECT("sts testing", g,
	    "sts|testbad.sts.test|version: STSv1\nmode: testing\nmx: "
	    "*.mx.sts.test\nmax_age: 600|*.mx.sts.test|sts-webpki-invalid|"
	    "192.0.2.1|127.0.25.12|wrong.mx.sts.test||"
	    "X509_V_ERR_HOSTNAME_MISMATCH|1\n"
	    "sts|testbad.sts.test|version: STSv1\nmode: testing\nmx: "
	    "*.mx.sts.test\nmax_age: 600|*.mx.sts.test|validation-failure|"
	    "192.0.2.1|127.0.25.13|elsewhere.test||elsewhere.test matches no "
	    "mx pattern of the testing policy|1\n");

	/* the policy could not be fetched: the session reports it */
	r = res_new("nopol.sts.test", 1);
	r->sts.looked_up = 1;
	r->sts.fail = DMX_FAIL_STS_FETCH;
	strlcpy_(r->sts.error, "HTTP status 404", sizeof(r->sts.error));
	host(r, 0, "ok.mx.sts.test", DEMAND_MAY, DMX_FAIL_NONE, NULL);
	ok_tls(att(r, 0, "127.0.25.50", "ok.mx.sts.test"),
	    TLS_ACH_OPPORTUNISTIC);
	g = record(r, T_NOON, 1);
	EXPECT("sts fetch error", g, "sts|nopol.sts.test|||"
	    "sts-policy-fetch-error|192.0.2.1|127.0.25.50|ok.mx.sts.test|"
	    "ok.mx.sts.test|HTTP status 404|1\n");
}

/* field - the n-th '|' field of the first line of g, into out */
static const char *
field(const char *g, int n, char *out, size_t outlen)
{
	size_t	 len;

	while (n-- > 0 && (g = strchr(g, '|')) != NULL)
		g++;
	if (g == NULL)
		g = "";
	len = strcspn(g, "|\n");
	snprintf(out, outlen, "%.*s", (int)len, g);
	return out;
}

/*
 * test_every_class - a session that failed with each class reports its
 * result type (util/fail.c); the classes without one (no answer, no
 * connection, the SMTP dialogue) end before STARTTLS and report nothing
 */
static void
test_every_class(void)
{
	struct deliver_result	*r;
	struct deliver_attempt	*a;
	const char		*g, *want;
	char			 domain[64], type[64];
	int			 f;

	for (f = DMX_FAIL_NONE; f <= DMX_FAIL_SMTP; f++) {
		snprintf(domain, sizeof(domain), "class%d.test", f);
		r = res_new(domain, 1);
		host(r, 0, "mx.class.test", DEMAND_DANE, DMX_FAIL_NONE, NULL);
		a = att(r, 0, "127.0.25.10", NULL);
		want = fail_rfc8460((enum dmx_fail)f);
		if (want != NULL || f == DMX_FAIL_NONE) {
			fail_tls(a, (enum dmx_fail)f, 0);
			g = record(r, T_NOON, 1);
			T_CHECK(strcmp(field(g, 4, type, sizeof(type)), want ?
			    want : "") == 0 && strchr(g, '\n') == g +
			    strlen(g) - 1, "class %s: %s",
			    fail_name((enum dmx_fail)f), g);
		} else {
			a->stage = SMTP_ST_GREETING;
			a->fail = (enum dmx_fail)f;
			g = record(r, T_NOON, 0);
			T_CHECK(g[0] == '\0', "class %s: %s",
			    fail_name((enum dmx_fail)f), g);
		}
	}
}

/*
 * test_dane_ee_never_expired - RFC 7672 3.1.1: DANE-EE(3) ignores the
 * certificate's dates. Verified as at 2040, the fixture's certificate
 * (valid to 2037) passes 3 1 1 and fails 2 0 1 with X.509 error 10,
 * certificate-expired; recorded, they are a success and a failure.
 */
static void
test_dane_ee_never_expired(void)
{
	static const char	*recs[] = { EE311, TA201 };
	struct deliver_result	*r;
	struct deliver_attempt	*a;
	struct tls_dane_opts	 o;
	struct dane_tlsa_set	 set;
	struct tls_verdict	 v;
	STACK_OF(X509)		*chain = NULL, *ca = NULL;
	SSL_CTX			*ctx;
	const char		*src = getenv("DANEMX_SRCDIR"), *g;
	char			 p[1024], err[256];
	size_t			 i;

	if (src == NULL || (ctx = tls_client_ctx_new(err,
	    sizeof(err))) == NULL) {
		T_CHECK(0, "DANEMX_SRCDIR set, TLS context: %s", err);
		return;
	}
	snprintf(p, sizeof(p), "%s/tests/vectors/pennocktech-smtpdane/"
	    "test-server.crt", src);
	T_CHECK(tls_chain_load(p, &chain, err, sizeof(err)) == TLS_LOAD_OK,
	    "%s: %s", p, err);
	snprintf(p, sizeof(p), "%s/tests/vectors/pennocktech-smtpdane/ca.pem",
	    src);
	T_CHECK(tls_chain_load(p, &ca, err, sizeof(err)) == TLS_LOAD_OK,
	    "%s: %s", p, err);
	if (chain == NULL || ca == NULL)
		goto out;
	sk_X509_push(chain, sk_X509_shift(ca));
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		o.base = "mail.test.invalid";
		o.profile = DANE_PROFILE_SMTP;
		o.check_time = 2208988800;	/* 2040-01-01 */
		dane_tlsa_set_init(&set);
		set.secure = 1;
		dane_tlsa_set_add_text(&set, recs[i], err, sizeof(err));
		if (tls_dane_check_chain(ctx, &o, &set, chain, &v, err,
		    sizeof(err)) == -1) {
			T_CHECK(0, "check %s: %s", recs[i], err);
			dane_tlsa_set_free(&set);
			continue;
		}
		T_CHECK(i == 0 ? v.authenticated && v.result_type ==
		    DMX_FAIL_NONE : !v.authenticated && v.result_type ==
		    DMX_FAIL_CERT_EXPIRED, "%s as at 2040: authenticated %d, "
		    "%s (X.509 error %ld)", recs[i], v.authenticated,
		    fail_name(v.result_type), v.x509_error);
		/* the verdict as deliver_tls.c puts it into the record */
		r = res_new(i == 0 ? "ee-2040.test" : "ta-2040.test", 1);
		host(r, 0, "mail.test.invalid", DEMAND_DANE, DMX_FAIL_NONE,
		    recs[i]);
		a = att(r, 0, "127.0.25.14", NULL);
		a->have_verdict = 1;
		a->verdict = v;
		if (v.authenticated)
			ok_tls(a, TLS_ACH_DANE_VERIFIED);
		else {
			a->stage = SMTP_ST_TLS;
			a->dane_failed = 1;
			a->fail = v.result_type;
		}
		g = record(r, T_NOON, 1);
		T_CHECK(i == 0 ? strstr(g, "|certificate-expired|") == NULL &&
		    strstr(g, "||||||||1\n") != NULL : strstr(g,
		    "|certificate-expired|192.0.2.1|127.0.25.14|"
		    "mail.test.invalid||X509_V_ERR_CERT_HAS_EXPIRED|1") != NULL,
		    "%s recorded: %s", recs[i], g);
		dane_tlsa_set_free(&set);
	}
out:
	tls_chain_free(chain);
	tls_chain_free(ca);
	SSL_CTX_free(ctx);
}

/* test_day_boundary - 23:59:59 and 00:00:00 are two days */
static void
test_day_boundary(void)
{
	struct deliver_result	*r;
	const char		*g;
	int			 i;
	time_t			 t[2] = { 1772409599, 1772409600 };
	char			 day[TLSRPT_DAY_LEN];

	tlsrpt_day(t[0], day);
	T_CHECK(strcmp(day, "2026-03-01") == 0, "day of 23:59:59: %s", day);
	for (i = 0; i < 2; i++) {
		r = res_new("midnight.test", 1);
		host(r, 0, "mx.midnight.test", DEMAND_MAY, DMX_FAIL_NONE, NULL);
		ok_tls(att(r, 0, "127.0.25.31", NULL), TLS_ACH_OPPORTUNISTIC);
		g = record(r, t[i], 1);
		T_CHECK(strcmp(g, "no-policy-found|midnight.test|||||||||1\n") ==
		    0, "%s: %s", i ? "00:00:00" : "23:59:59", g);
	}
	T_CHECK(tlsrpt_day_add("2026-03-01", 1, day) == 0 &&
	    strcmp(day, "2026-03-02") == 0, "the next day: %s", day);
	T_CHECK(tlsrpt_day_add("2024-03-01", -1, day) == 0 &&
	    strcmp(day, "2024-02-29") == 0, "the day before: %s", day);
}

int
main(void)
{
	struct state_conf	 c;
	const char		*tmp = getenv("TMPDIR");
	char			 err[256], cmd[600];

	log_init("test_tlsrpt_record", 0, 0);
	snprintf(base, sizeof(base), "%s/danemx-test_tlsrpt_record.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	memset(&c, 0, sizeof(c));
	c.dir = base;
	if ((st = state_open(&c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "state_open: %s\n", err);
		return 1;
	}
	test_dane();
	test_dnssec();
	test_starttls_and_not_sessions();
	test_sts();
	test_every_class();
	test_dane_ee_never_expired();
	test_day_boundary();
	state_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	return t_done("test_tlsrpt_record");
}
