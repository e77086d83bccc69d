/*
 * test_state_dest.c - the destination memory: the store's verbs (seen
 * sets changed only when the policy or fingerprint differ; counts add up
 * by day and in total, a new day starts today afresh, a late batch of an
 * older day does not; a downgrade and the operator's accept touch only
 * their columns; list is by name and passes over rows another writer
 * made malformed; bad arguments are refused), and the relay's reading of
 * a route (destmem_observe: policy, fingerprint, what changed, what is
 * not known; destmem_downgrade's table; destmem_domain_key).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "dane/dane.h"
#include "destmem/destmem.h"
#include "log/log.h"
#include "state/state.h"
#include "sts/sts.h"
#include "t.h"
#include "t_state.h"
#include "util/util.h"


static struct state *
open_dir(const char *dir)
{
	struct state_conf	 c;
	struct state		*st;
	char			 err[256];

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	if ((st = state_open(&c, err, sizeof(err))) == NULL)
		T_CHECK(0, "open %s: %s", dir, err);
	return st;
}

/* sql - one statement on DIR/state.db, as another program */
static int
sql(const char *dir, const char *q)
{
	char		 path[600];
	sqlite3		*db;
	int		 rc;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static int
get(struct state *st, const char *domain, struct state_dest *d)
{
	char	 err[256];

	state_sync(st);
	return state_dest_get(st, domain, d, err, sizeof(err));
}

static void
test_seen(void)
{
	struct state		*st = open_dir(newdir());
	struct state_dest	 d;

	if (st == NULL)
		return;
	T_CHECK(state_dest_seen(st, "a.example", "dane", "ab12", 100) == 0,
	    "seen");
	T_CHECK(get(st, "a.example", &d) == 1 && strcmp(d.policy, "dane") ==
	    0 && strcmp(d.fingerprint, "ab12") == 0 && d.first_seen == 100 &&
	    d.changed == 100 && d.last_seen == 100, "first: %s %s %lld %lld "
	    "%lld", d.policy, d.fingerprint, (long long)d.first_seen,
	    (long long)d.changed, (long long)d.last_seen);
	state_dest_seen(st, "a.example", "dane", "ab12", 200);
	T_CHECK(get(st, "a.example", &d) == 1 && d.changed == 100 &&
	    d.last_seen == 200, "the same: changed %lld last_seen %lld",
	    (long long)d.changed, (long long)d.last_seen);
	state_dest_seen(st, "a.example", "dane", "cd34", 300);
	T_CHECK(get(st, "a.example", &d) == 1 && d.changed == 300 &&
	    d.first_seen == 100 && strcmp(d.fingerprint, "cd34") == 0,
	    "a rollover: changed %lld first %lld", (long long)d.changed,
	    (long long)d.first_seen);
	state_dest_seen(st, "a.example", "none", "", 400);
	T_CHECK(get(st, "a.example", &d) == 1 && d.changed == 400 &&
	    strcmp(d.policy, "none") == 0 && d.fingerprint[0] == '\0',
	    "to none: %s changed %lld", d.policy, (long long)d.changed);
	T_CHECK(get(st, "b.example", &d) == 0, "an unknown domain");
	/* bad arguments */
	T_CHECK(state_dest_seen(st, "a.example", "pinned", "", 1) == -1,
	    "an unknown policy is refused");
	T_CHECK(state_dest_seen(st, "A.example", "none", "", 1) == -1,
	    "an uppercase domain is refused");
	T_CHECK(state_dest_seen(st, "a example", "none", "", 1) == -1,
	    "a space in a domain is refused");
	T_CHECK(state_dest_seen(st, "a.example", "none", "a-b", 1) == -1,
	    "a fingerprint that is not a word is refused");
	/* next hops are keys of their own (destmem_domain_key) */
	T_CHECK(state_dest_seen(st, "[a.example]:2525", "none", "", 500) ==
	    0 && state_dest_seen(st, "a.example:2525", "dane", "ef56", 500) ==
	    0 && state_dest_seen(st, "[a.example]", "none", "", 500) == 0,
	    "next hops as keys");
	T_CHECK(get(st, "[a.example]:2525", &d) == 1 && strcmp(d.policy,
	    "none") == 0 && get(st, "a.example:2525", &d) == 1 &&
	    strcmp(d.policy, "dane") == 0 && get(st, "a.example", &d) == 1 &&
	    d.changed == 400, "each next hop apart: %s", d.policy);
	T_CHECK(state_dest_seen(st, "[a.example", "none", "", 1) == -1 &&
	    state_dest_seen(st, "a.example]:25", "none", "", 1) == -1 &&
	    state_dest_seen(st, "a.example:", "none", "", 1) == -1 &&
	    state_dest_seen(st, "a.example:123456", "none", "", 1) == -1 &&
	    state_dest_seen(st, "[a.example]x", "none", "", 1) == -1,
	    "malformed next hops are refused");
	state_close(st);
}

static void
test_count(void)
{
	struct state		*st = open_dir(newdir());
	struct state_dest	 d;
	uint64_t		 n1[STATE_DEST_NCOUNT] = { 3, 0, 1, 0, 2 };
	uint64_t		 n2[STATE_DEST_NCOUNT] = { 1, 1, 0, 4, 0 };
	uint64_t		 n3[STATE_DEST_NCOUNT] = { 0, 0, 0, 0, 5 };

	if (st == NULL)
		return;
	state_dest_count(st, "c.example", "2026-12-01", n1, "deferred", 10);
	state_dest_count(st, "c.example", "2026-12-01", n2, "sent", 20);
	T_CHECK(get(st, "c.example", &d) == 1 && d.today[0] == 4 &&
	    d.today[1] == 1 && d.today[2] == 1 && d.today[3] == 4 &&
	    d.today[4] == 2 && d.total[0] == 4 && d.total[4] == 2 &&
	    strcmp(d.day, "2026-12-01") == 0 &&
	    strcmp(d.last_outcome, "sent") == 0 && d.first_seen == 10 &&
	    d.policy[0] == '\0', "one day: today %llu/%llu/%llu/%llu/%llu "
	    "last %s", (unsigned long long)d.today[0],
	    (unsigned long long)d.today[1], (unsigned long long)d.today[2],
	    (unsigned long long)d.today[3], (unsigned long long)d.today[4],
	    d.last_outcome);
	state_dest_count(st, "c.example", "2026-12-02", n3, "deferred", 30);
	T_CHECK(get(st, "c.example", &d) == 1 && d.today[0] == 0 &&
	    d.today[4] == 5 && d.total[0] == 4 && d.total[4] == 7 &&
	    strcmp(d.day, "2026-12-02") == 0 &&
	    strcmp(d.last_outcome, "deferred") == 0, "a new day: today "
	    "%llu/%llu total %llu/%llu day %s", (unsigned long long)d.today[0],
	    (unsigned long long)d.today[4], (unsigned long long)d.total[0],
	    (unsigned long long)d.total[4], d.day);
	/* a late batch of yesterday: totals only */
	state_dest_count(st, "c.example", "2026-12-01", n1, "", 31);
	T_CHECK(get(st, "c.example", &d) == 1 && d.today[0] == 0 &&
	    d.today[4] == 5 && d.total[0] == 7 && d.total[4] == 9 &&
	    strcmp(d.day, "2026-12-02") == 0 &&
	    strcmp(d.last_outcome, "deferred") == 0, "a late batch: today "
	    "%llu/%llu total %llu/%llu day %s last %s",
	    (unsigned long long)d.today[0], (unsigned long long)d.today[4],
	    (unsigned long long)d.total[0], (unsigned long long)d.total[4],
	    d.day, d.last_outcome);
	T_CHECK(state_dest_count(st, "c.example", "2026-13", n1, "", 1) == -1,
	    "a bad day is refused");
	T_CHECK(state_dest_count(st, "c.example", "2026-12-01", n1, "lost",
	    1) == -1, "a bad outcome is refused");
	state_close(st);
}

static void
test_downgrade_accept(void)
{
	struct state		*st = open_dir(newdir());
	struct state_dest	 d;

	if (st == NULL)
		return;
	state_dest_seen(st, "d.example", "dane", "ab", 100);
	state_dest_downgrade(st, "d.example", "dane", "none",
	    "DANE lost: mx.d.example: no TLSA records", 1, 200);
	T_CHECK(get(st, "d.example", &d) == 1 && d.held && d.downgraded ==
	    200 && strcmp(d.down_from, "dane") == 0 && strcmp(d.down_to,
	    "none") == 0 && strcmp(d.down_what, "DANE lost: mx.d.example: no "
	    "TLSA records") == 0 && strcmp(d.policy, "dane") == 0,
	    "held: %d %s->%s '%s' policy %s", d.held, d.down_from, d.down_to,
	    d.down_what, d.policy);
	T_CHECK(state_dest_accept(st, "d.example", 300) == 0, "accept");
	T_CHECK(get(st, "d.example", &d) == 1 && !d.held && d.accepted ==
	    300 && d.downgraded == 200 && strcmp(d.policy, "dane") == 0,
	    "accepted: held %d accepted %lld", d.held, (long long)d.accepted);
	state_dest_seen(st, "d.example", "none", "", 400);
	T_CHECK(get(st, "d.example", &d) == 1 && !d.held &&
	    strcmp(d.down_to, "none") == 0 && d.changed == 400,
	    "seen keeps the downgrade: %s", d.down_to);
	T_CHECK(state_dest_downgrade(st, "d.example", "dane", "none",
	    "a\nb", 0, 500) == -1, "a control character in what is refused");
	/* a downgrade of a domain not seen before makes its row */
	state_dest_downgrade(st, "e.example", "sts-enforce", "sts-testing",
	    "MTA-STS enforce lost", 0, 600);
	T_CHECK(get(st, "e.example", &d) == 1 && !d.held && d.first_seen ==
	    600, "a new row: first_seen %lld", (long long)d.first_seen);
	state_close(st);
}

struct names {
	char	 text[512];
	int	 n;
};

static int
name_of(void *arg, const struct state_dest *d)
{
	struct names	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s ", d->domain);
	s->n++;
	return 0;
}

static void
test_list_hostile(void)
{
	const char		*dir = newdir();
	struct state		*st = open_dir(dir);
	struct state_dest	 d;
	struct names		 s;
	char			 err[256];

	if (st == NULL)
		return;
	state_dest_seen(st, "z.example", "none", "", 1);
	state_dest_seen(st, "m.example", "dane", "ff", 1);
	state_dest_seen(st, "a.example", "sts-enforce", "id1", 1);
	state_sync(st);
	T_CHECK(sql(dir, "INSERT INTO dest (domain, policy) VALUES "
	    "('bad.example', 'pinned'); INSERT INTO dest (domain, down_what) "
	    "VALUES ('ctl.example', 'x' || char(10) || 'y'); INSERT INTO dest "
	    "(domain) VALUES ('UP.example')") == 0, "hostile rows");
	memset(&s, 0, sizeof(s));
	T_CHECK(state_dest_list(st, name_of, &s, err, sizeof(err)) == 6 &&
	    strcmp(s.text, "a.example m.example z.example ") == 0,
	    "list: '%s' (%d)", s.text, s.n);
	T_CHECK(state_dest_get(st, "bad.example", &d, err, sizeof(err)) ==
	    -1 && strstr(err, "malformed") != NULL, "get of a malformed row: "
	    "%s", err);
	/* expire: not seen since 5 (the hostile rows were never seen), but
	 * a held one stays */
	state_dest_seen(st, "m.example", "dane", "ff", 10);
	state_dest_downgrade(st, "z.example", "dane", "none", "x", 1, 3);
	state_dest_expire(st, 5);
	state_sync(st);
	memset(&s, 0, sizeof(s));
	T_CHECK(state_dest_list(st, name_of, &s, err, sizeof(err)) == 2 &&
	    strcmp(s.text, "m.example z.example ") == 0,
	    "after expire: '%s' (%d)", s.text, s.n);
	state_close(st);
}

/* one_host - a route of one secure MX host with the TLSA records recs
 * ("u s m hex" each, n of them; none: NODATA) */
static void
one_host(struct route *rt, struct route_host *h, const char *name,
    const char *const *recs, size_t n)
{
	char	 err[256];
	size_t	 i;

	memset(h, 0, sizeof(*h));
	strlcpy_(h->name, name, sizeof(h->name));
	h->addr_status = DMX_DNS_SECURE;
	h->addr_secure = 1;
	h->tlsa_looked_up = 1;
	h->tlsa_status = DMX_DNS_SECURE;
	if (n > 0) {
		h->tlsa.recs = calloc(n, sizeof(*h->tlsa.recs));
		for (i = 0; i < n; i++)
			T_CHECK(dane_tlsa_parse_text(recs[i], &h->tlsa.recs[i],
			    err, sizeof(err)) == 0, "parse %s: %s", recs[i],
			    err);
		h->tlsa.n = h->tlsa.cap = n;
		h->tlsa.secure = 1;
		h->tlsa.nusable = n;
	} else
		snprintf(h->nodane, sizeof(h->nodane), "no TLSA records for "
		    "%s (falling back to optional TLS)", name);
	(void)rt;
}

static void
host_clear(struct route_host *h)
{
	size_t	 i;

	for (i = 0; i < h->tlsa.n; i++)
		dane_tlsa_clear(&h->tlsa.recs[i]);
	free(h->tlsa.recs);
	memset(h, 0, sizeof(*h));
}

#define R1 "3 1 1 8f0c4d6e2b1a3957c6e8d0f2a4b6c8e01a3c5e7092b4d6f8a0c2e4068a9bcdef"
#define R2 "3 1 1 0000000000000000000000000000000000000000000000000000000000000001"

static void
test_observe(void)
{
	struct route		 rt;
	struct route_host	 h[2];
	struct destmem_obs	 o, o2;
	struct deliver_sts	 sts;
	struct sts_policy	 pol;
	const char		*both[] = { R1, R2 }, *rev[] = { R2, R1, R1 };
	const char		*one[] = { R1 };

	memset(&rt, 0, sizeof(rt));
	strlcpy_(rt.domain, "obs.example", sizeof(rt.domain));
	rt.mx_status = DMX_DNS_SECURE;
	rt.mx_secure = 1;
	rt.level = TLS_LEVEL_DANE;
	rt.hosts = h;
	rt.nhost = 1;
	memset(&sts, 0, sizeof(sts));

	one_host(&rt, &h[0], "mx1.obs.example", one, 1);
	destmem_observe(&rt, &sts, &o);
	T_CHECK(o.known && strcmp(o.policy, "dane") == 0 &&
	    strlen(o.fingerprint) == 64 && o.what[0] == '\0', "dane: %d %s %s",
	    o.known, o.policy, o.fingerprint);
	host_clear(&h[0]);

	/* the same records in another order, repeated, under two hosts */
	one_host(&rt, &h[0], "mx1.obs.example", both, 2);
	destmem_observe(&rt, &sts, &o2);
	T_CHECK(strcmp(o.fingerprint, o2.fingerprint) != 0,
	    "a second record changes the fingerprint");
	host_clear(&h[0]);
	one_host(&rt, &h[0], "mx1.obs.example", one, 1);
	one_host(&rt, &h[1], "mx2.obs.example", rev, 3);
	rt.nhost = 2;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(o.known && strcmp(o.fingerprint, o2.fingerprint) == 0,
	    "order, repeats and hosts do not matter: %s vs %s", o.fingerprint,
	    o2.fingerprint);
	host_clear(&h[1]);
	rt.nhost = 1;

	/* a second host without DANE: still dane (one host has it) */
	one_host(&rt, &h[1], "mx2.obs.example", NULL, 0);
	rt.nhost = 2;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(o.known && strcmp(o.policy, "dane") == 0, "one of two: %s",
	    o.policy);
	host_clear(&h[0]);
	one_host(&rt, &h[0], "mx1.obs.example", NULL, 0);
	destmem_observe(&rt, &sts, &o);
	T_CHECK(o.known && strcmp(o.policy, "none") == 0 &&
	    o.fingerprint[0] == '\0' && strcmp(o.what, "mx1.obs.example: no "
	    "TLSA records for mx1.obs.example (falling back to optional TLS); "
	    "mx2.obs.example: no TLSA records for mx2.obs.example (falling back "
	    "to optional TLS)") == 0, "none: %s '%s'", o.policy, o.what);
	host_clear(&h[1]);
	rt.nhost = 1;

	/* what is not known */
	h[0].tlsa_status = DMX_DNS_SERVFAIL;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(!o.known, "a TLSA lookup that failed is not known");
	h[0].tlsa_status = DMX_DNS_SECURE;
	h[0].addr_status = DMX_DNS_BOGUS;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(!o.known, "a bogus address is not known");
	h[0].addr_status = DMX_DNS_SECURE;
	rt.failed = 1;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(!o.known, "a failed route is not known");
	rt.failed = 0;
	rt.level = TLS_LEVEL_MAY;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(!o.known, "a policy table level without DANE is not compared");
	rt.level = TLS_LEVEL_DANE;

	/* MTA-STS */
	memset(&pol, 0, sizeof(pol));
	pol.mode = STS_MODE_ENFORCE;
	strlcpy_(pol.id, "pol20261207", sizeof(pol.id));
	sts.looked_up = 1;
	sts.policy = &pol;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(o.known && strcmp(o.policy, "sts-enforce") == 0 &&
	    strcmp(o.fingerprint, "pol20261207") == 0, "sts: %s %s", o.policy,
	    o.fingerprint);
	pol.mode = STS_MODE_TESTING;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(strcmp(o.policy, "sts-testing") == 0, "testing: %s", o.policy);
	sts.policy = NULL;
	sts.fail = DMX_FAIL_STS_FETCH;
	destmem_observe(&rt, &sts, &o);
	T_CHECK(!o.known, "a policy that could not be fetched is not known");
	host_clear(&h[0]);
}

static void
test_downgrade_table(void)
{
	static const struct {
		const char	*from, *to;
		int		 down;
	} t[] = {
		{ "dane", "none", 1 }, { "dane", "sts-enforce", 1 },
		{ "dane", "sts-testing", 1 }, { "dane", "dane", 0 },
		{ "sts-enforce", "none", 1 }, { "sts-enforce", "sts-testing", 1 },
		{ "sts-enforce", "dane", 0 }, { "sts-enforce", "sts-enforce", 0 },
		{ "sts-testing", "none", 0 }, { "none", "dane", 0 },
		{ "", "none", 0 }, { "dane", "", 0 },
	};
	static const struct {
		const char	*in, *out;
	} k[] = {
		{ "Example.ORG", "example.org" }, { "example.org.", "example.org" },
		/* a next hop keeps what makes it another route: brackets (no
		 * MX lookup) and a port other than 25 (TLSA at _PORT._tcp) */
		{ "[mx.example.org]:2525", "[mx.example.org]:2525" },
		{ "[MX.example.org.]:25", "[mx.example.org]" },
		{ "[mx.example.org]", "[mx.example.org]" },
		{ "mx.example.org:2525", "mx.example.org:2525" },
		{ "mx.example.org:25", "mx.example.org" },
		{ "[mx.example.org", NULL }, { "mx.example.org]", NULL },
		{ "mx.example.org:", NULL }, { "mx.example.org:0", NULL },
		{ "mx.example.org:65536", NULL }, { "mx.example.org:123456", NULL },
		{ "mx.example.org:25x", NULL }, { "[]:25", NULL },
		{ "[192.0.2.1]:25", NULL }, { "a b.example", NULL }, { "", NULL },
	};
	char	 key[STATE_DOMAIN_MAX];
	size_t	 i;
	int	 rv;

	for (i = 0; i < DMX_NELEM(t); i++)
		T_CHECK(destmem_downgrade(t[i].from, t[i].to) == t[i].down,
		    "%s -> %s: want %d", t[i].from, t[i].to, t[i].down);
	for (i = 0; i < DMX_NELEM(k); i++) {
		rv = destmem_domain_key(k[i].in, key, sizeof(key));
		T_CHECK(k[i].out == NULL ? rv == -1 : rv == 0 &&
		    strcmp(key, k[i].out) == 0, "key of '%s': %d '%s'", k[i].in,
		    rv, rv == 0 ? key : "");
	}
}

int
main(void)
{
	log_init("test_state_dest", 0, 0);
	if (t_state_begin("test_state_dest") == -1)
		return 1;
	test_seen();
	test_count();
	test_downgrade_accept();
	test_list_hostile();
	test_observe();
	test_downgrade_table();
	t_state_end();
	return t_done("test_state_dest");
}
