/*
 * test_tlsrpt_json.c - the report of a domain's day from the store is
 * RFC 8460 4.4's JSON, byte for byte as expected: the date range of the
 * UTC day, policies in the store's order with their lines and patterns,
 * summaries, failure details without their empty fields, counts as
 * numbers; a day without results gives no report; a long HELO and a
 * policy string are escaped; every report this test makes, and the RFC's
 * own example, validate against tests/vectors/tlsrpt-schema.json
 * (tests/tlsrpt_validate.py, python3-jsonschema), and a broken report
 * does not.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "state/state.h"
#include "tlsrpt/tlsrpt.h"
#include "t.h"
#include "util/util.h"

static struct state	*st;
static char		 base[256];
static int		 nfile;

static void
add(const char *domain, const char *ptype, const char *pdomain,
    const char *pstring, const char *mx, const char *type, const char *rip,
    const char *helo, const char *reason, uint64_t count)
{
	struct state_tlsrpt	 r;

	memset(&r, 0, sizeof(r));
	strlcpy_(r.domain, domain, sizeof(r.domain));
	strlcpy_(r.day, "2026-03-01", sizeof(r.day));
	strlcpy_(r.policy_type, ptype, sizeof(r.policy_type));
	strlcpy_(r.policy_domain, pdomain, sizeof(r.policy_domain));
	r.policy_string = (char *)(uintptr_t)pstring;
	r.mx_host = (char *)(uintptr_t)mx;
	strlcpy_(r.result_type, type, sizeof(r.result_type));
	if (type[0] != '\0') {
		strlcpy_(r.sending_ip, "192.0.2.1", sizeof(r.sending_ip));
		strlcpy_(r.receiving_ip, rip, sizeof(r.receiving_ip));
		strlcpy_(r.mx_hostname, "mx1.example.org",
		    sizeof(r.mx_hostname));
		strlcpy_(r.mx_helo, helo, sizeof(r.mx_helo));
		strlcpy_(r.reason, reason, sizeof(r.reason));
	}
	r.count = count;
	T_CHECK(state_tlsrpt_add(st, &r) == 0, "add %s %s", domain, type);
}

/* validate - the schema's verdict on json (0 ok) */
static int
validate(const char *json)
{
	const char	*src = getenv("DANEMX_SRCDIR");
	char		 path[600], cmd[2048];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/report%d.json", base, nfile++);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fputs(json, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/tlsrpt_validate.py' "
	    "'%s' >&2", src ? src : ".", path);
	return system(cmd);
}

static void
test_report(void)
{
	struct tlsrpt_report_info	 info = { "Example Org",
	    "tlsrpt@relay.test", NULL, "relay.test" };
	struct buf			 b;
	char				 err[256];
	int				 n;

	add("example.org", "tlsa", "mx1.example.org", "3 1 1 AB\n3 1 1 CD",
	    NULL, "", "", "", "", 7);
	add("example.org", "tlsa", "mx1.example.org", "3 1 1 AB\n3 1 1 CD",
	    NULL, "tlsa-invalid", "2001:db8::25", "mx1.example.org",
	    "X509_V_ERR_DANE_NO_MATCH", 2);
	add("example.org", "tlsa", "mx1.example.org", "3 1 1 AB\n3 1 1 CD",
	    NULL, "starttls-not-supported", "192.0.2.25", "", "STARTTLS "
	    "not offered", 1);
	add("example.org", "tlsa", "mx2.example.org", NULL, NULL,
	    "dnssec-invalid", "", "", "validation failure <x>: \"sig\"", 3);
	add("example.org", "sts", "example.org", "version: STSv1\nmode: "
	    "enforce\nmx: *.example.org\nmax_age: 86400", "*.example.org", "",
	    "", "", "", 5);
	add("example.org", "no-policy-found", "example.org", NULL, NULL, "",
	    "", "", "", 4);
	add("other.example", "tlsa", "mx.other.example", "3 1 1 EE", NULL, "",
	    "", "", "", 1);
	state_sync(st);

	buf_init(&b, 1 << 20);
	n = tlsrpt_report_json(&b, st, &info, "example.org", "2026-03-01", err,
	    sizeof(err));
	T_CHECK(n == 4, "policies %d, want 4: %s", n, err);
	T_CHECK(b.data != NULL && strcmp(b.data,
	    "{\"organization-name\":\"Example Org\",\"date-range\":"
	    "{\"start-datetime\":\"2026-03-01T00:00:00Z\",\"end-datetime\":"
	    "\"2026-03-01T23:59:59Z\"},\"contact-info\":\"tlsrpt@relay.test\","
	    "\"report-id\":\"20260301T000000Z.example.org@relay.test\","
	    "\"policies\":["
	    "{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":"
	    "\"example.org\"},\"summary\":{\"total-successful-session-count\":4,"
	    "\"total-failure-session-count\":0}},"
	    "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":["
	    "\"version: STSv1\",\"mode: enforce\",\"mx: *.example.org\","
	    "\"max_age: 86400\"],\"policy-domain\":\"example.org\",\"mx-host\":"
	    "[\"*.example.org\"]},\"summary\":{\"total-successful-session-count\""
	    ":5,\"total-failure-session-count\":0}},"
	    "{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":["
	    "\"3 1 1 AB\",\"3 1 1 CD\"],\"policy-domain\":\"mx1.example.org\"},"
	    "\"summary\":{\"total-successful-session-count\":7,"
	    "\"total-failure-session-count\":3},\"failure-details\":["
	    "{\"result-type\":\"starttls-not-supported\",\"sending-mta-ip\":"
	    "\"192.0.2.1\",\"receiving-mx-hostname\":\"mx1.example.org\","
	    "\"receiving-ip\":\"192.0.2.25\",\"failed-session-count\":1,"
	    "\"failure-reason-code\":\"STARTTLS not offered\"},"
	    "{\"result-type\":\"tlsa-invalid\",\"sending-mta-ip\":\"192.0.2.1\","
	    "\"receiving-mx-hostname\":\"mx1.example.org\",\"receiving-mx-helo\":"
	    "\"mx1.example.org\",\"receiving-ip\":\"2001:db8::25\","
	    "\"failed-session-count\":2,\"failure-reason-code\":"
	    "\"X509_V_ERR_DANE_NO_MATCH\"}]},"
	    "{\"policy\":{\"policy-type\":\"tlsa\",\"policy-domain\":"
	    "\"mx2.example.org\"},\"summary\":{\"total-successful-session-count\""
	    ":0,\"total-failure-session-count\":3},\"failure-details\":["
	    "{\"result-type\":\"dnssec-invalid\",\"sending-mta-ip\":\"192.0.2.1\","
	    "\"receiving-mx-hostname\":\"mx1.example.org\",\"failed-session-count"
	    "\":3,\"failure-reason-code\":\"validation failure <x>: \\\"sig\\\"\""
	    "}]}]}") == 0, "report:\n%s", b.data ? b.data : "(none)");
	T_CHECK(b.data != NULL && validate(b.data) == 0, "the report does not "
	    "validate");

	/* a given report id; another domain's report */
	buf_reset(&b);
	info.report_id = "r-1";
	n = tlsrpt_report_json(&b, st, &info, "other.example", "2026-03-01",
	    err, sizeof(err));
	T_CHECK(n == 1 && strstr(b.data, "\"report-id\":\"r-1\"") != NULL &&
	    validate(b.data) == 0, "other.example: %d %s", n, b.data);

	/* a day without results: no report, nothing appended */
	buf_reset(&b);
	n = tlsrpt_report_json(&b, st, &info, "example.org", "2026-03-02", err,
	    sizeof(err));
	T_CHECK(n == 0 && b.len == 0, "empty day: %d, %zu octets", n, b.len);
	T_CHECK(tlsrpt_report_json(&b, st, &info, "Bad Domain", "2026-03-01",
	    err, sizeof(err)) == -1, "a bad domain");

	/* the schema is no rubber stamp */
	T_CHECK(validate("{\"organization-name\":\"x\"}") != 0,
	    "an incomplete report validates");
	{
		const char	*src = getenv("DANEMX_SRCDIR");
		char		 cmd[1200];

		snprintf(cmd, sizeof(cmd), "python3 '%s/tests/tlsrpt_validate.py' "
		    "'%s/tests/vectors/tlsrpt-rfc8460-example.json' >&2",
		    src ? src : ".", src ? src : ".");
		T_CHECK(system(cmd) == 0, "the RFC's example does not validate");
	}
	buf_free(&b);
}

int
main(void)
{
	struct state_conf	 c;
	const char		*tmp = getenv("TMPDIR");
	char			 err[256], cmd[600];

	log_init("test_tlsrpt_json", 0, 0);
	snprintf(base, sizeof(base), "%s/danemx-test_tlsrpt_json.XXXXXX",
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
	test_report();
	state_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	return t_done("test_tlsrpt_json");
}
