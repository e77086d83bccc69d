/*
 * test_state_tlsrpt.c - the TLS-RPT verbs of the state store: identical
 * rows merge into one count (in memory, then across flushes in SQL),
 * rows come back in the report's order, the day summaries add up and
 * show the claim, a claim succeeds once (0 the second time, from a
 * second store on the file and from a second process racing it), posts
 * are listed, updated and deleted, expire drops the old days with their
 * reports and posts, a domain's day keeps a bounded number of distinct
 * rows (folding the rest, counts exact), a version 1 file is migrated
 * with its MTA-STS rows kept, and rows another writer of the file made
 * malformed are passed over. Each case has its own directory.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log/log.h"
#include "state/state.h"
#include "t.h"
#include "t_state.h"
#include "util/util.h"


static struct state *
open_dir(const char *dir, int readonly)
{
	struct state_conf	 c;
	struct state		*st;
	char			 err[256];

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.readonly = readonly;
	c.busy_ms = 5000;
	if ((st = state_open(&c, err, sizeof(err))) == NULL)
		T_CHECK(0, "open %s: %s", dir, err);
	return st;
}

/* row - a failure row (type "" makes a success, without details) */
static void
row(struct state_tlsrpt *r, const char *domain, const char *day,
    const char *ptype, const char *pstring, const char *type,
    const char *helo, uint64_t count)
{
	memset(r, 0, sizeof(*r));
	strlcpy_(r->domain, domain, sizeof(r->domain));
	strlcpy_(r->day, day, sizeof(r->day));
	strlcpy_(r->policy_type, ptype, sizeof(r->policy_type));
	strlcpy_(r->policy_domain, strcmp(ptype, "tlsa") == 0 ?
	    "mx.example.org" : domain, sizeof(r->policy_domain));
	r->policy_string = (char *)(uintptr_t)pstring;
	strlcpy_(r->result_type, type, sizeof(r->result_type));
	if (type[0] != '\0') {
		strlcpy_(r->sending_ip, "192.0.2.1", sizeof(r->sending_ip));
		strlcpy_(r->receiving_ip, "2001:db8::25",
		    sizeof(r->receiving_ip));
		strlcpy_(r->mx_hostname, "mx.example.org",
		    sizeof(r->mx_hostname));
		strlcpy_(r->mx_helo, helo, sizeof(r->mx_helo));
		strlcpy_(r->reason, "X509_V_ERR_DANE_NO_MATCH",
		    sizeof(r->reason));
	}
	r->count = count;
}

/* What the callbacks saw, as one line per row. */
struct seen {
	char	 text[8192];
	int	 n;
};

static int
seen_row(void *arg, const struct state_tlsrpt *r)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s|%s|%s|%s|%s|%s|"
	    "%llu\n", r->policy_type, r->policy_domain, r->policy_string ?
	    r->policy_string : "(null)", r->result_type, r->mx_helo, r->reason,
	    (unsigned long long)r->count);
	s->n++;
	return 0;
}

static int
seen_day(void *arg, const struct state_tlsrpt_day *d)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s %s ok=%llu "
	    "failed=%llu state=%s id=%s rua=%s claimed=%lld\n", d->domain,
	    d->day, (unsigned long long)d->ok, (unsigned long long)d->failed,
	    d->state, d->report_id, d->rua ? d->rua : "(null)",
	    (long long)d->claimed);
	s->n++;
	return 0;
}

static void
rows_of(struct state *st, const char *domain, const char *day,
    struct seen *s)
{
	char	 err[256];

	memset(s, 0, sizeof(*s));
	T_CHECK(state_tlsrpt_rows(st, domain, day, seen_row, s, err,
	    sizeof(err)) >= 0, "rows: %s", err);
}

static void
days_of(struct state *st, const char *domain, const char *before,
    struct seen *s)
{
	char	 err[256];

	memset(s, 0, sizeof(*s));
	T_CHECK(state_tlsrpt_days(st, domain, before, seen_day, s, err,
	    sizeof(err)) >= 0, "days: %s", err);
}

static void
test_merge_and_order(void)
{
	struct state		*st, *other;
	struct state_tlsrpt	 r;
	struct state_stats	 stats;
	struct seen		 s;
	const char		*dir = newdir();
	int			 i;

	if ((st = open_dir(dir, 0)) == NULL)
		return;
	/* 100 identical successes and 3 identical failures: two rows */
	for (i = 0; i < 100; i++) {
		row(&r, "example.org", "2026-03-01", "tlsa", "3 1 1 AB\n2 0 1 CD",
		    "", "", 1);
		T_CHECK(state_tlsrpt_add(st, &r) == 0, "add %d", i);
	}
	for (i = 0; i < 3; i++) {
		row(&r, "example.org", "2026-03-01", "tlsa", "3 1 1 AB\n2 0 1 CD",
		    "tlsa-invalid", "mx.example.org", 2);
		T_CHECK(state_tlsrpt_add(st, &r) == 0, "add failure %d", i);
	}
	/* Merged in memory: nothing written before the flush. */
	other = open_dir(dir, 1);
	if (other != NULL) {
		rows_of(other, "example.org", "2026-03-01", &s);
		T_CHECK(s.n == 0, "before the flush another reader sees %d "
		    "rows, want 0", s.n);
	}
	T_CHECK(state_sync(st) == 0, "sync");
	state_stats(st, &stats);
	T_CHECK(stats.writes == 2, "writes %lu, want 2 (merged in memory)",
	    stats.writes);
	/* Merged in SQL across flushes too, and other rows sort in. */
	row(&r, "example.org", "2026-03-01", "tlsa", "3 1 1 AB\n2 0 1 CD", "",
	    "", 5);
	state_tlsrpt_add(st, &r);
	row(&r, "example.org", "2026-03-01", "no-policy-found", NULL,
	    "starttls-not-supported", "mx2.example.org", 1);
	state_tlsrpt_add(st, &r);
	row(&r, "example.org", "2026-03-01", "tlsa", "3 1 1 AB\n2 0 1 CD",
	    "certificate-host-mismatch", "[192.0.2.7]", 1);
	state_tlsrpt_add(st, &r);
	row(&r, "example.org", "2026-03-02", "tlsa", "3 1 1 AB", "", "", 7);
	state_tlsrpt_add(st, &r);
	row(&r, "other.example", "2026-03-01", "sts", "version: STSv1", "",
	    "", 4);
	state_tlsrpt_add(st, &r);
	T_CHECK(state_sync(st) == 0, "sync 2");
	rows_of(other != NULL ? other : st, "example.org", "2026-03-01", &s);
	T_CHECK(strcmp(s.text,
	    "no-policy-found|example.org||starttls-not-supported|"
	    "mx2.example.org|X509_V_ERR_DANE_NO_MATCH|1\n"
	    "tlsa|mx.example.org|3 1 1 AB\n2 0 1 CD||||105\n"
	    "tlsa|mx.example.org|3 1 1 AB\n2 0 1 CD|certificate-host-mismatch|"
	    "[192.0.2.7]|X509_V_ERR_DANE_NO_MATCH|1\n"
	    "tlsa|mx.example.org|3 1 1 AB\n2 0 1 CD|tlsa-invalid|"
	    "mx.example.org|X509_V_ERR_DANE_NO_MATCH|6\n") == 0,
	    "rows in order, merged:\n%s", s.text);
	days_of(st, NULL, NULL, &s);
	T_CHECK(strcmp(s.text,
	    "example.org 2026-03-01 ok=105 failed=8 state= id= rua=(null) "
	    "claimed=0\n"
	    "other.example 2026-03-01 ok=4 failed=0 state= id= rua=(null) "
	    "claimed=0\n"
	    "example.org 2026-03-02 ok=7 failed=0 state= id= rua=(null) "
	    "claimed=0\n") == 0, "days:\n%s", s.text);
	days_of(st, "example.org", "2026-03-02", &s);
	T_CHECK(s.n == 1 && strstr(s.text, "2026-03-01") != NULL,
	    "days of one domain before a day: %s", s.text);
	/* Malformed rows are refused. */
	row(&r, "Example.org", "2026-03-01", "tlsa", NULL, "", "", 1);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "uppercase domain accepted");
	row(&r, "example.org", "2026-13-01", "tlsa", NULL, "", "", 1);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "month 13 accepted");
	row(&r, "example.org", "2026-03-01", "dane", NULL, "", "", 1);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "policy type dane accepted");
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "dns-error", "", 1);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "dns-error (no RFC 8460 "
	    "type) accepted");
	row(&r, "example.org", "2026-03-01", "tlsa", "a\r\nb", "", "", 1);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "a CR in a policy accepted");
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "tlsa-invalid",
	    "evil\"}", 1);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "a quote in a HELO accepted");
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "", "", 1);
	strlcpy_(r.reason, "a success with a reason", sizeof(r.reason));
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "a success with details");
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "tlsa-invalid",
	    "", 1);
	strlcpy_(r.receiving_ip, "192.0.2.300", sizeof(r.receiving_ip));
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "a bad address accepted");
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "", "", 0);
	T_CHECK(state_tlsrpt_add(st, &r) == -1, "a count of 0 accepted");
	state_close(other);
	state_close(st);
}

/* test_flush_by_time - pending rows reach the file on their own */
static void
test_flush_by_time(void)
{
	struct state		*st, *other;
	struct state_tlsrpt	 r;
	struct seen		 s;
	const char		*dir = newdir();
	int			 i;

	if ((st = open_dir(dir, 0)) == NULL)
		return;
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "", "", 1);
	state_tlsrpt_add(st, &r);
	other = open_dir(dir, 1);
	s.n = 0;
	for (i = 0; i < 100 && other != NULL && s.n == 0; i++) {
		usleep(100 * 1000);
		rows_of(other, "example.org", "2026-03-01", &s);
	}
	T_CHECK(s.n == 1 && i >= STATE_TLSRPT_FLUSH_MS / 100 - 2,
	    "flushed after %d00 ms (%d rows), want about %d ms", i, s.n,
	    STATE_TLSRPT_FLUSH_MS);
	state_close(other);
	state_close(st);
}

static void
post(struct state_tlsrpt_post *p, const char *id, const char *uri,
    int64_t next_try)
{
	static unsigned char	 body[] = { 0x1f, 0x8b, 0x08, 0x00, 0x01 };

	memset(p, 0, sizeof(*p));
	strlcpy_(p->report_id, id, sizeof(p->report_id));
	p->uri = (char *)(uintptr_t)uri;
	p->body = body;
	p->len = sizeof(body);
	p->next_try = next_try;
	p->deadline = next_try + 86400;
}

static int
seen_post(void *arg, const struct state_tlsrpt_post *p)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s %s len=%zu "
	    "tries=%u next=%lld err=%s\n", p->report_id, p->uri, p->len,
	    p->tries, (long long)p->next_try, p->last_error);
	s->n++;
	return 0;
}

static void
test_claim(void)
{
	struct state			*st, *st2;
	struct state_tlsrpt		 r;
	struct state_tlsrpt_post	 p[2], u;
	struct seen			 s;
	const char			*dir = newdir();
	char				 err[256] = "";
	int				 rv, status, v = -1;
	pid_t				 pid;

	if ((st = open_dir(dir, 0)) == NULL || (st2 = open_dir(dir, 0)) ==
	    NULL) {
		state_close(st);
		return;
	}
	row(&r, "example.org", "2026-03-01", "tlsa", NULL, "tlsa-invalid",
	    "mx", 1);
	state_tlsrpt_add(st, &r);
	state_sync(st);
	post(&p[0], "20260301T000000Z.example.org@relay.test",
	    "https://a.example/r", 1000);
	post(&p[1], "20260301T000000Z.example.org@relay.test",
	    "https://b.example/r", 2000);
	rv = state_tlsrpt_claim(st, "example.org", "2026-03-01", "sent",
	    "20260301T000000Z.example.org@relay.test",
	    "mailto:tlsrpt@example.org,https://a.example/r", 5000, p, 2, err,
	    sizeof(err));
	T_CHECK(rv == 1, "first claim: %d (%s), want 1", rv, err);
	/* Durable: another program sees it at once. */
	T_CHECK(sql1(dir, "SELECT COUNT(*) FROM tlsrpt_post", &v) == 0 &&
	    v == 2, "posts stored with the claim: %d", v);
	rv = state_tlsrpt_claim(st, "example.org", "2026-03-01", "sent", "x",
	    NULL, 6000, NULL, 0, err, sizeof(err));
	T_CHECK(rv == 0, "second claim, same store: %d, want 0", rv);
	rv = state_tlsrpt_claim(st2, "example.org", "2026-03-01", "skipped",
	    "y", NULL, 6000, NULL, 0, err, sizeof(err));
	T_CHECK(rv == 0, "second claim, another connection: %d, want 0", rv);
	days_of(st2, "example.org", NULL, &s);
	T_CHECK(strstr(s.text, "ok=0 failed=1 state=sent id=20260301T000000Z."
	    "example.org@relay.test rua=mailto:tlsrpt@example.org,https:"
	    "//a.example/r claimed=5000") != NULL, "the claim as listed: %s",
	    s.text);

	/* A skipped report has no id; a sent one must have one. */
	row(&r, "example.org", "2026-02-27", "tlsa", "3 1 1 AB", "", "", 1);
	state_tlsrpt_add(st, &r);
	state_sync(st);
	rv = state_tlsrpt_claim(st, "example.org", "2026-02-27", "sent", "",
	    NULL, 6000, NULL, 0, err, sizeof(err));
	T_CHECK(rv == -1, "sent without an id: %d, want -1", rv);
	rv = state_tlsrpt_claim(st, "example.org", "2026-02-27", "skipped", "",
	    "_smtp._tls.example.org: no v=TLSRPTv1 record", 6000, NULL, 0,
	    err, sizeof(err));
	T_CHECK(rv == 1, "skipped without an id: %d (%s), want 1", rv, err);
	days_of(st, "example.org", NULL, &s);
	T_CHECK(strstr(s.text, "example.org 2026-02-27 ok=1 failed=0 "
	    "state=skipped id= rua=_smtp._tls.example.org: no v=TLSRPTv1 "
	    "record") != NULL, "the skipped day as listed: %s", s.text);

	/* Two processes race for one claim: exactly one wins. */
	state_close(st2);
	if ((pid = fork()) == 0) {
		struct state	*c = open_dir(dir, 0);

		rv = c ? state_tlsrpt_claim(c, "example.org", "2026-03-02",
		    "sent", "child", NULL, 1, NULL, 0, err, sizeof(err)) : -1;
		state_close(c);
		_exit(rv == 1 ? 1 : rv == 0 ? 0 : 2);
	}
	rv = state_tlsrpt_claim(st, "example.org", "2026-03-02", "sent",
	    "parent", NULL, 1, NULL, 0, err, sizeof(err));
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 2 && rv != -1 &&
	    rv + WEXITSTATUS(status) == 1, "race: parent %d child %d, want "
	    "exactly one 1", rv, WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	/* Posts: due ones listed, updated, deleted. */
	memset(&s, 0, sizeof(s));
	T_CHECK(state_tlsrpt_post_list(st, 1500, 10, seen_post, &s, err,
	    sizeof(err)) == 1 && strstr(s.text, "https://a.example/r len=5 "
	    "tries=0 next=1000") != NULL, "due posts: %s", s.text);
	u = p[0];
	u.tries = 1;
	u.next_try = 1700;
	strlcpy_(u.last_error, "HTTP 500", sizeof(u.last_error));
	T_CHECK(state_tlsrpt_post_update(st, &u) == 0, "update");
	T_CHECK(state_tlsrpt_post_delete(st, p[1].report_id, p[1].uri) == 0,
	    "delete");
	state_sync(st);
	memset(&s, 0, sizeof(s));
	state_tlsrpt_post_list(st, 100000, 10, seen_post, &s, err, sizeof(err));
	T_CHECK(strcmp(s.text, "20260301T000000Z.example.org@relay.test "
	    "https://a.example/r len=5 tries=1 next=1700 err=HTTP 500\n") == 0,
	    "after update and delete: %s", s.text);

	/* Malformed claims are refused before anything is written. */
	T_CHECK(state_tlsrpt_claim(st, "example.org", "2026-03-03", "maybe",
	    "z", NULL, 1, NULL, 0, err, sizeof(err)) == -1, "state maybe");
	post(&u, "id", "https://a.example/\r\nX-Evil: 1", 1);
	T_CHECK(state_tlsrpt_claim(st, "example.org", "2026-03-03", "sent",
	    "z", NULL, 1, &u, 1, err, sizeof(err)) == -1, "CRLF in a URI");
	state_close(st);
	st = open_dir(dir, 1);
	T_CHECK(st != NULL && state_tlsrpt_claim(st, "example.org",
	    "2026-03-04", "sent", "z", NULL, 1, NULL, 0, err,
	    sizeof(err)) == -1, "a claim on a read-only store");
	state_close(st);
}

static void
test_expire(void)
{
	struct state			*st;
	struct state_tlsrpt		 r;
	struct state_tlsrpt_post	 p;
	struct seen			 s;
	const char			*dir = newdir();
	const char			*days[] = { "2026-02-27", "2026-02-28",
	    "2026-03-01" };
	char				 err[256], id[64];
	size_t				 i;
	int				 v = -1;

	if ((st = open_dir(dir, 0)) == NULL)
		return;
	for (i = 0; i < 3; i++) {
		row(&r, "example.org", days[i], "tlsa", NULL, "", "", 1);
		state_tlsrpt_add(st, &r);
		state_sync(st);
		snprintf(id, sizeof(id), "%s_example.org", days[i]);
		post(&p, id, "https://a.example/r", 1);
		T_CHECK(state_tlsrpt_claim(st, "example.org", days[i], "sent",
		    id, NULL, 1, &p, 1, err, sizeof(err)) == 1, "claim %s: %s",
		    days[i], err);
	}
	T_CHECK(state_tlsrpt_expire(st, "2026-03-01") == 0, "expire");
	T_CHECK(state_tlsrpt_expire(st, "2026-3-1") == -1, "a bad day");
	state_sync(st);
	days_of(st, NULL, NULL, &s);
	T_CHECK(s.n == 1 && strstr(s.text, "2026-03-01 ok=1") != NULL,
	    "days left: %s", s.text);
	T_CHECK(sql1(dir, "SELECT COUNT(*) FROM tlsrpt_report", &v) == 0 &&
	    v == 1, "reports left: %d", v);
	T_CHECK(sql1(dir, "SELECT COUNT(*) FROM tlsrpt_post WHERE report_id = "
	    "'2026-03-01_example.org'", &v) == 0 && v == 1 && sql1(dir,
	    "SELECT COUNT(*) FROM tlsrpt_post", &v) == 0 && v == 1,
	    "posts left: %d", v);
	state_close(st);
}

/* test_fold - a peer announcing a new HELO name every session */
static void
test_fold(void)
{
	struct state		*st;
	struct state_tlsrpt	 r;
	struct seen		 s;
	const char		*dir = newdir();
	char			 helo[64];
	int			 i, v = -1;

	if ((st = open_dir(dir, 0)) == NULL)
		return;
	for (i = 0; i < STATE_TLSRPT_ROWS_MAX + 500; i++) {
		snprintf(helo, sizeof(helo), "h%d.example.org", i);
		row(&r, "example.org", "2026-03-01", "tlsa", "3 1 1 AB",
		    "tlsa-invalid", helo, 1);
		state_tlsrpt_add(st, &r);
		if (i % 300 == 0)
			state_sync(st);
	}
	state_sync(st);
	T_CHECK(sql1(dir, "SELECT COUNT(*) FROM tlsrpt_result", &v) == 0 &&
	    v == STATE_TLSRPT_ROWS_MAX + 1, "rows %d, want %d", v,
	    STATE_TLSRPT_ROWS_MAX + 1);
	T_CHECK(sql1(dir, "SELECT SUM(count) FROM tlsrpt_result", &v) == 0 &&
	    v == STATE_TLSRPT_ROWS_MAX + 500, "sessions %d, want %d", v,
	    STATE_TLSRPT_ROWS_MAX + 500);
	days_of(st, NULL, NULL, &s);
	T_CHECK(strstr(s.text, "failed=1500 ") != NULL, "days: %s", s.text);
	T_CHECK(sql1(dir, "SELECT count FROM tlsrpt_result WHERE mx_helo = '' "
	    "AND reason LIKE 'details folded%'", &v) == 0 && v == 500,
	    "folded row count %d, want 500", v);
	state_close(st);
}

/* test_migrate_v1 - a file of the MTA-STS-only schema gains the tables */
static void
test_migrate_v1(void)
{
	struct state		*st;
	struct state_sts	 got;
	struct state_tlsrpt	 r;
	struct seen		 s;
	const char		*dir = newdir();
	char			 err[256];
	int			 v = -1;

	T_CHECK(sql1(dir, "CREATE TABLE sts_policy (domain TEXT PRIMARY KEY "
	    "NOT NULL, id TEXT NOT NULL DEFAULT '', policy TEXT, fetched "
	    "INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL DEFAULT 0, "
	    "checked INTEGER NOT NULL DEFAULT 0, last_used INTEGER NOT NULL "
	    "DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0, failures INTEGER "
	    "NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '')", NULL) ==
	    0 && sql1(dir, "INSERT INTO sts_policy (domain, id, policy) VALUES "
	    "('kept.example', 'k1', 'version: STSv1')", NULL) == 0 &&
	    sql1(dir, "PRAGMA user_version = 1", NULL) == 0, "a v1 file");
	if ((st = open_dir(dir, 0)) == NULL)
		return;
	T_CHECK(sql1(dir, "PRAGMA user_version", &v) == 0 && v == 4,
	    "migrated to %d, want 4", v);
	T_CHECK(state_sts_get(st, "kept.example", &got, err, sizeof(err)) ==
	    1 && strcmp(got.id, "k1") == 0, "the v1 row is kept: %s", err);
	state_sts_clear(&got);
	row(&r, "example.org", "2026-03-01", "sts", "version: STSv1", "", "",
	    3);
	T_CHECK(state_tlsrpt_add(st, &r) == 0 && state_sync(st) == 0,
	    "add after the migration");
	rows_of(st, "example.org", "2026-03-01", &s);
	T_CHECK(s.n == 1, "rows after the migration: %d", s.n);
	state_close(st);
}

/* test_hostile_rows - rows someone else wrote into the file */
static void
test_hostile_rows(void)
{
	struct state	*st;
	struct seen	 s;
	const char	*dir = newdir();

	if ((st = open_dir(dir, 0)) == NULL)
		return;
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_result (domain, day, "
	    "policy_type, policy_domain, count) VALUES ('example.org', "
	    "'2026-03-01', 'tlsa', 'mx.example.org', 2)", NULL) == 0, "good");
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_result (domain, day, "
	    "policy_type, policy_domain, result_type, mx_helo, count) VALUES "
	    "('example.org', '2026-03-01', 'tlsa', 'mx.example.org', "
	    "'tlsa-invalid', 'a\"},{\"x', 1)", NULL) == 0, "JSON in a HELO");
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_result (domain, day, "
	    "policy_type, policy_domain, result_type, reason, count) VALUES "
	    "('example.org', '2026-03-01', 'tlsa', 'mx.example.org', "
	    "'tlsa-invalid', 'line' || char(13) || char(10) || 'Bcc: x', 1)",
	    NULL) == 0, "CRLF in a reason");
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_result (domain, day, "
	    "policy_type, policy_domain, count) VALUES ('example.org', "
	    "'2026-03-01', 'sts', 'example.org', -5)", NULL) == 0, "negative");
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_result (domain, day, "
	    "policy_type, policy_domain, mx_host, count) VALUES ('example.org', "
	    "'2026-03-01', 'sts', 'example.org', 'x', 'many')", NULL) == 0,
	    "text");
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_result (domain, day, "
	    "policy_type, policy_domain, policy_string, count) VALUES "
	    "('example.org', '2026-03-01', 'sts', 'example.org', "
	    "hex(zeroblob(20000)), 1)", NULL) == 0, "a long policy");
	T_CHECK(sql1(dir, "INSERT INTO tlsrpt_report (domain, day, state, "
	    "report_id) VALUES ('example.org', '2026-03-01', 'sent', "
	    "'id' || char(10) || 'Subject: x')", NULL) == 0, "bad report id");
	rows_of(st, "example.org", "2026-03-01", &s);
	T_CHECK(s.n == 1 && strcmp(s.text, "tlsa|mx.example.org||||"
	    "|2\n") == 0, "only the sound row: %d: %s", s.n, s.text);
	days_of(st, NULL, NULL, &s);
	T_CHECK(s.n == 0, "a summary with a bad report id passed over: %s",
	    s.text);
	state_close(st);
}

int
main(void)
{
	log_init("test_state_tlsrpt", 0, 0);
	if (t_state_begin("test_state_tlsrpt") == -1)
		return 1;
	test_merge_and_order();
	test_flush_by_time();
	test_claim();
	test_expire();
	test_fold();
	test_migrate_v1();
	test_hostile_rows();
	t_state_end();
	return t_done("test_state_tlsrpt");
}
