/*
 * test_tls_required.c - RFC 8689 "TLS-Required: No", up to the envelope:
 * the header scanner (src/queue/queue_hops.c) fed every case whole, in
 * two pieces split at every position and one octet at a time; the
 * envelope's "tls_required no" line (written only when set, and absent
 * from older envelopes: 0); a queue writer that records the request
 * only for a sender allowed to make it; the bounce of such a message,
 * which asks for it too (RFC 8689 6); tls_required_header; and which
 * hosts of a route the request makes usable, and where a TLS failure no
 * longer stops the message (src/deliver/deliver_tlsreq.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "deliver/deliver_int.h"
#include "queue/queue.h"
#include "sched/sched.h"
#include "t.h"
#include "util/util.h"

static const struct tls_case {
	const char	*name, *msg;
	int		 want;		/* queue_hops_tls_required_no() */
	unsigned	 hops;		/* Received: headers */
} cases[] = {
	{ "plain", "Subject: x\r\nTLS-Required: No\r\n\r\nbody\r\n", 1, 0 },
	{ "odd case, blanks", "tls-required:   no\r\n\r\n", 1, 0 },
	{ "upper case", "TLS-REQUIRED: NO\r\n\r\n", 1, 0 },
	{ "no blank", "TLS-Required:No\r\n\r\n", 1, 0 },
	{ "blanks after", "TLS-Required: No \t\r\n\r\n", 1, 0 },
	{ "blanks before the colon", "TLS-Required\t : No\r\n\r\n", 1, 0 },
	{ "folded before the value", "TLS-Required:\r\n No\r\n\r\n", 1, 0 },
	{ "folded twice", "TLS-Required: \r\n\t\r\n No\r\n \r\nX: y\r\n\r\n",
	    1, 0 },
	{ "bare LF lines", "TLS-Required: No\nSubject: x\n\nbody\n", 1, 0 },
	{ "the message ends in it", "Subject: x\r\nTLS-Required: No", 1, 0 },
	{ "the message ends after it", "TLS-Required: No\r\n", 1, 0 },
	{ "between Received fields", "Received: a\r\nTLS-Required: no\r\n"
	    "Received: b\r\n\tby c\r\n\r\nReceived: d\r\n", 1, 2 },
	{ "in the body", "Subject: x\r\n\r\nTLS-Required: No\r\n", 0, 0 },
	{ "after a line that is no field", "Subject: x\r\nno field here\r\n"
	    "TLS-Required: No\r\n\r\n", 0, 0 },
	{ "a continuation of another field", "Subject: x\r\n TLS-Required: "
	    "No\r\n\r\n", 0, 0 },
	{ "Yes", "TLS-Required: Yes\r\n\r\n", 0, 0 },
	{ "No and more", "TLS-Required: No thanks\r\n\r\n", 0, 0 },
	{ "Nope", "TLS-Required: Nope\r\n\r\n", 0, 0 },
	{ "N o", "TLS-Required: N o\r\n\r\n", 0, 0 },
	{ "a CR inside", "TLS-Required: N\ro\r\n\r\n", 0, 0 },
	{ "quoted", "TLS-Required: \"No\"\r\n\r\n", 0, 0 },
	{ "empty value", "TLS-Required:\r\n\r\n", 0, 0 },
	{ "folded on", "TLS-Required: No\r\n thanks\r\n\r\n", 0, 0 },
	{ "twice", "TLS-Required: No\r\nTLS-Required: No\r\n\r\n", 0, 0 },
	{ "No, then Yes", "TLS-Required: No\r\nTLS-Required: Yes\r\n\r\n", 0,
	    0 },
	{ "Yes, then No", "TLS-Required: Yes\r\nTLS-Required: No\r\n\r\n", 0,
	    0 },
	{ "three times", "TLS-Required: No\r\nTLS-Required: No\r\n"
	    "TLS-Required: No\r\n\r\n", 0, 0 },
	{ "other names", "X-TLS-Required: No\r\nTLS-Requiredx: No\r\n"
	    "TLS-Require: No\r\nTLS_Required: No\r\nReceived-TLS: x\r\n\r\n",
	    0, 0 },
	{ "empty", "", 0, 0 },
};

/* check - the scanner after msg fed in pieces: the split at k, or one
 * octet at a time (k == (size_t)-1) */
static void
check(const struct tls_case *c, size_t k)
{
	struct queue_hops	 h;
	size_t			 len = strlen(c->msg), i;

	queue_hops_init(&h);
	if (k == (size_t)-1) {
		for (i = 0; i < len; i++)
			queue_hops_add(&h, c->msg + i, 1);
	} else {
		queue_hops_add(&h, c->msg, k);
		queue_hops_add(&h, c->msg + k, len - k);
	}
	T_CHECK(queue_hops_tls_required_no(&h) == c->want && h.n == c->hops,
	    "%s (split %zd): tls_required_no %d hops %u, want %d and %u",
	    c->name, (ssize_t)k, queue_hops_tls_required_no(&h), h.n, c->want,
	    c->hops);
}

static void
test_scanner(void)
{
	size_t	 i, k;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		for (k = 0; k <= strlen(cases[i].msg); k++)
			check(&cases[i], k);
		check(&cases[i], (size_t)-1);
	}
}

/* The envelope line: written only when set, read back; strict. */
static void
test_envelope(void)
{
	static const char old[] = "danemx-envelope 1\nid 0123456789abcdef\n"
	    "created 1795000000\nsender <a@example.org>\nsize 12\nhops 1\n"
	    "held 0\ndsn 0\nrcpt pending 0 0 <b@example.net>\n";
	static const char *bad[] = { "tls_required yes\n", "tls_required\n",
	    "tls_required No\n", "tls_required no \n" };
	struct queue_env	 e, e2;
	char			 err[128], *text, in[512];
	size_t			 len, i;

	T_CHECK(queue_env_parse(old, sizeof(old) - 1, &e, err,
	    sizeof(err)) == 0 && e.tls_required_no == 0, "an older envelope: "
	    "%s, tls_required_no %d", err, e.tls_required_no);
	T_CHECK(queue_env_format(&e, &text, &len) == 0 &&
	    strstr(text, "tls_required") == NULL, "written when not set");
	free(text);
	e.tls_required_no = 1;
	T_CHECK(queue_env_format(&e, &text, &len) == 0 &&
	    strstr(text, "\ntls_required no\n") != NULL, "not written");
	T_CHECK(queue_env_parse(text, len, &e2, err, sizeof(err)) == 0 &&
	    e2.tls_required_no == 1, "not read back: %s", err);
	free(text);
	queue_env_free(&e2);
	queue_env_free(&e);
	for (i = 0; i < DMX_NELEM(bad); i++) {
		snprintf(in, sizeof(in), "%s%s", old, bad[i]);
		T_CHECK(queue_env_parse(in, strlen(in), &e, err,
		    sizeof(err)) == -1 && strstr(err, "line 10") != NULL,
		    "'%.*s' accepted (%s)", (int)strlen(bad[i]) - 1, bad[i],
		    err);
	}
}

/* commit - msg queued by a writer that honours the request or not; the
 * envelope's tls_required_no, or -1 */
static int
commit(struct queue *q, const char *msg, int honour)
{
	const char		*rcpts[] = { "b@example.net" };
	struct queue_writer	*w;
	struct queue_env	 e;
	char			 err[256], id[QUEUE_ID_LEN + 1];
	int			 r = -1, early;

	if ((w = queue_writer_new(q, err, sizeof(err))) == NULL)
		return -1;
	if (honour)
		queue_writer_honour_tls(w);
	queue_writer_add(w, msg, strlen(msg));
	early = queue_writer_tls_required_no(w);
	if (queue_commit(w, "a@example.org", rcpts, 1, id, err,
	    sizeof(err)) == -1)
		return -1;
	if (queue_env_load(q, id, &e, err, sizeof(err)) == 0) {
		r = e.tls_required_no == early ? e.tls_required_no : -2;
		queue_env_free(&e);
	}
	queue_remove(q, id);
	return r;
}

/* Only a writer told that its sender may ask records the request. */
static void
test_writer(const char *dir)
{
	static const char yes[] = "TLS-Required: No\r\n\r\nbody\r\n";
	static const char body[] = "Subject: x\r\n\r\nTLS-Required: No\r\n";
	struct queue	*q;
	char		 err[256];
	int		 r;

	if ((q = queue_open(dir, 1, err, sizeof(err))) == NULL) {
		T_CHECK(0, "open: %s", err);
		return;
	}
	T_CHECK((r = commit(q, yes, 1)) == 1, "honoured: %d, want 1", r);
	T_CHECK((r = commit(q, yes, 0)) == 0, "not honoured: %d, want 0", r);
	T_CHECK((r = commit(q, body, 1)) == 0, "in the body: %d, want 0", r);
	queue_close(q);
}

/* The bounce of a message that asked for it asks for it too, in its
 * own header; the bounce of any other message does not. */
static void
test_dsn(void)
{
	/* (The original's header goes into the bounce's last part: it
	 * says nothing about the bounce itself.) */
	static const char orig[] = "Subject: s\r\nTLS-Required: No\r\n"
	    "\r\nbody\r\n";
	struct queue_rcpt	 r;
	struct queue_env	 e;
	struct queue_hops	 h;
	struct buf		 b;
	int			 no;

	memset(&e, 0, sizeof(e));
	memset(&r, 0, sizeof(r));
	strlcpy_(e.id, "6b0bd0e8b9857158", sizeof(e.id));
	e.sender = (char *)"a@client.test";
	r.addr = (char *)"bad@x.test";
	r.state = RCPT_FAILED;
	r.last = (char *)"550 5.1.1 no such user";
	e.rcpt = &r;
	e.nrcpt = 1;
	for (no = 0; no <= 1; no++) {
		e.tls_required_no = no;
		buf_init(&b, 1024 * 1024);
		T_CHECK(sched_dsn_build(&b, &e, orig, sizeof(orig) - 1,
		    "relay.test", 1700086400) == 0, "build");
		queue_hops_init(&h);
		queue_hops_add(&h, b.data, b.len);
		T_CHECK(queue_hops_tls_required_no(&h) == no, "bounce of a "
		    "message with tls_required_no %d: its header says %d", no,
		    queue_hops_tls_required_no(&h));
		buf_free(&b);
	}
}

/* tls_required_header: yes by default, yes or no. */
static void
test_conf(void)
{
	struct dmx_conf	 c;
	char		 err[256] = "";

	conf_defaults(&c);
	T_CHECK(c.tls_required_header == 1, "default %lu",
	    c.tls_required_header);
	T_CHECK(conf_set(&c, "tls_required_header = no", err,
	    sizeof(err)) == 0 && c.tls_required_header == 0, "no: %s", err);
	T_CHECK(conf_set(&c, "tls_required_header = No", err,
	    sizeof(err)) == -1, "'No' accepted");
	conf_free(&c);
}

/* A host of a route, as the route and MTA-STS left it. */
static const struct host_case {
	const char		*name;
	enum host_demand	 demand;
	enum dmx_fail		 rt;
	size_t			 naddr;
	enum dmx_dns_status	 addr_status;
	int			 tlsa_looked_up;
	enum dmx_dns_status	 tlsa_status;
	size_t			 ntlsa;
	enum host_demand	 want;		/* after deliver_tlsreq_apply() */
	int			 soft;		/* deliver_tlsreq_soft() then */
} hosts[] = {
	{ "TLSA bogus", DEMAND_UNUSABLE, DMX_FAIL_DNSSEC_INVALID, 1,
	    DMX_DNS_SECURE, 1, DMX_DNS_BOGUS, 0, DEMAND_MAY, 0 },
	{ "TLSA no answer", DEMAND_UNUSABLE, DMX_FAIL_DNS, 1, DMX_DNS_SECURE,
	    1, DMX_DNS_SERVFAIL, 0, DEMAND_MAY, 0 },
	{ "dane-only without TLSA", DEMAND_UNUSABLE, DMX_FAIL_DANE_REQUIRED, 2,
	    DMX_DNS_INSECURE, 0, DMX_DNS_SECURE, 0, DEMAND_MAY, 0 },
	{ "TLSA malformed or unusable", DEMAND_UNUSABLE, DMX_FAIL_TLSA_INVALID,
	    1, DMX_DNS_SECURE, 1, DMX_DNS_SECURE, 1, DEMAND_MAY, 0 },
	{ "no MTA-STS pattern", DEMAND_UNUSABLE, DMX_FAIL_VALIDATION, 1,
	    DMX_DNS_INSECURE, 0, DMX_DNS_SECURE, 0, DEMAND_MAY, 0 },
	{ "address lookup bogus", DEMAND_UNUSABLE, DMX_FAIL_DNSSEC_INVALID, 1,
	    DMX_DNS_BOGUS, 0, DMX_DNS_SECURE, 0, DEMAND_UNUSABLE, 0 },
	{ "address lookup failed, whatever else", DEMAND_UNUSABLE,
	    DMX_FAIL_DANE_REQUIRED, 1, DMX_DNS_SERVFAIL, 1, DMX_DNS_BOGUS, 0,
	    DEMAND_UNUSABLE, 0 },
	{ "no address", DEMAND_UNUSABLE, DMX_FAIL_NONE, 0, DMX_DNS_SECURE, 0,
	    DMX_DNS_SECURE, 0, DEMAND_UNUSABLE, 0 },
	{ "CNAME link bogus", DEMAND_UNUSABLE, DMX_FAIL_DNSSEC_INVALID, 1,
	    DMX_DNS_INSECURE, 0, DMX_DNS_SECURE, 0, DEMAND_UNUSABLE, 0 },
	{ "DANE", DEMAND_DANE, DMX_FAIL_NONE, 1, DMX_DNS_SECURE, 1,
	    DMX_DNS_SECURE, 1, DEMAND_DANE, 1 },
	{ "DANE, all TLSA unusable", DEMAND_ENCRYPT, DMX_FAIL_TLSA_INVALID, 1,
	    DMX_DNS_SECURE, 1, DMX_DNS_SECURE, 1, DEMAND_ENCRYPT, 1 },
	{ "MTA-STS", DEMAND_STS, DMX_FAIL_NONE, 1, DMX_DNS_INSECURE, 0,
	    DMX_DNS_SECURE, 0, DEMAND_STS, 1 },
	{ "policy encrypt", DEMAND_ENCRYPT, DMX_FAIL_NONE, 1, DMX_DNS_SECURE, 0,
	    DMX_DNS_SECURE, 0, DEMAND_ENCRYPT, 0 },
	{ "policy verify", DEMAND_VERIFY, DMX_FAIL_NONE, 1, DMX_DNS_SECURE, 0,
	    DMX_DNS_SECURE, 0, DEMAND_VERIFY, 0 },
	{ "policy secure", DEMAND_SECURE, DMX_FAIL_NONE, 1, DMX_DNS_SECURE, 0,
	    DMX_DNS_SECURE, 0, DEMAND_SECURE, 0 },
	{ "opportunistic", DEMAND_MAY, DMX_FAIL_NONE, 1, DMX_DNS_INSECURE, 0,
	    DMX_DNS_SECURE, 0, DEMAND_MAY, 0 },
};

/* Which hosts TLS-Required: No makes usable, and where a TLS failure no
 * longer stops the message; without it, nothing changes. */
static void
test_deliver(void)
{
	struct route_host	 h[DMX_NELEM(hosts)];
	struct route		 rt;
	struct deliver_result	 r;
	struct deliver		 d;
	const struct host_case	*c;
	size_t			 i;
	int			 no;

	for (no = 0; no <= 1; no++) {
		memset(&d, 0, sizeof(d));
		memset(&r, 0, sizeof(r));
		memset(&rt, 0, sizeof(rt));
		memset(h, 0, sizeof(h));
		for (i = 0; i < DMX_NELEM(hosts); i++) {
			c = &hosts[i];
			h[i].demand = c->demand;
			h[i].rt = c->rt;
			h[i].naddr = c->naddr;
			h[i].addr_status = c->addr_status;
			h[i].tlsa_looked_up = c->tlsa_looked_up;
			h[i].tlsa_status = c->tlsa_status;
			h[i].tlsa.n = c->ntlsa;
			h[i].tlsa.secure = c->ntlsa > 0;
		}
		rt.hosts = h;
		rt.nhost = DMX_NELEM(hosts);
		r.route = &rt;
		d.r = &r;
		d.conf.tls_required_no = no;
		deliver_tlsreq_apply(&d);
		for (i = 0; i < DMX_NELEM(hosts); i++) {
			c = &hosts[i];
			T_CHECK(h[i].demand == (no ? c->want : c->demand) &&
			    h[i].relaxed == (no && c->want != c->demand),
			    "%s (tls_required_no %d): demand %s relaxed %d, "
			    "want %s", c->name, no, route_demand_str(h[i].demand),
			    h[i].relaxed, route_demand_str(no ? c->want :
			    c->demand));
			T_CHECK(deliver_tlsreq_soft(&d, &h[i]) == (no && c->soft),
			    "%s (tls_required_no %d): soft %d", c->name, no,
			    deliver_tlsreq_soft(&d, &h[i]));
		}
	}
}

int
main(void)
{
	char	 dir[] = "/tmp/danemx-test-tlsreq.XXXXXX";
	char	 cmd[128];

	if (mkdtemp(dir) == NULL)
		return 2;
	test_scanner();
	test_envelope();
	test_writer(dir);
	test_dsn();
	test_conf();
	test_deliver();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_done("test_tls_required");
}
