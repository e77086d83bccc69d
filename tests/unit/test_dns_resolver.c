/*
 * test_dns_resolver.c - the resolver's contract with its callers, on a
 * real libunbound context on a real event loop (no network: a local zone
 * answers at once, and a UDP socket of the test's own that never answers
 * stands in for a forwarder):
 *  - a callback runs from the loop, never inside dmx_dns_lookup(), even
 *    when libunbound answers before ub_resolve_event() returns;
 *  - a cancelled lookup's callback never runs, whether its answer was
 *    already in or is still outstanding;
 *  - a lookup with no answer times out, and the resolver can be freed
 *    with lookups outstanding (AddressSanitizer checks that nothing
 *    leaks and nothing is used after it is freed).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "danemx.h"
#include "t.h"

struct probe {
	int			 calls;
	int			 in_lookup;	/* set around dmx_dns_lookup() */
	int			 during;	/* a call came while it was set */
	struct dmx_dns_result	*res;
};

static void
on_answer(void *arg, struct dmx_dns_result *res)
{
	struct probe *p = arg;

	p->calls++;
	if (p->in_lookup)
		p->during = 1;
	dmx_dns_result_free(p->res);
	p->res = res;
}

static uint64_t
lookup(struct dmx_resolver *r, struct probe *p, const char *name)
{
	uint64_t id;

	p->in_lookup = 1;
	id = dmx_dns_lookup(r, name, DMX_T_A, on_answer, p);
	p->in_lookup = 0;
	return id;
}

/* spin - run the loop until p has its answer or 5 s passed */
static void
spin(struct event_base *base, struct probe *p)
{
	int i;

	for (i = 0; i < 500 && p->calls == 0; i++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

int
main(void)
{
	struct dmx_resolver_conf conf;
	struct dmx_resolver	*r;
	struct event_base	*base;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	struct probe		 p1, p2, p3, p4;
	char			 path[] = "/tmp/danemx-test-dns.XXXXXX";
	char			 fwd[64], err[256];
	uint64_t		 id;
	FILE			*fp;
	int			 fd, silent;

	/* A forwarder that never answers: our own socket, never read. */
	silent = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (silent == -1 || bind(silent, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || getsockname(silent,
	    (struct sockaddr *)&sin, &slen) == -1) {
		perror("test_dns_resolver: loopback UDP socket");
		return 1;
	}
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", ntohs(sin.sin_port));

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		perror("test_dns_resolver: config file");
		return 1;
	}
	fprintf(fp, "server:\n"
	    "  trust-anchor: \". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C"
	    "65D08458E880409BBC683457104237C7F8EC8D\"\n"
	    "  do-not-query-localhost: no\n"
	    "  local-zone: \"sync.test.\" static\n"
	    "  local-data: \"www.sync.test. 300 IN A 192.0.2.7\"\n"
	    "  domain-insecure: \"nowhere.danemxtest.\"\n");
	fclose(fp);

	memset(&conf, 0, sizeof(conf));
	conf.config_file = path;
	conf.forwarder = fwd;
	conf.timeout_ms = 300;
	base = event_base_new();
	r = dmx_resolver_new(base, &conf, err, sizeof(err));
	T_CHECK(r != NULL, "resolver: %s", err);
	if (r == NULL)
		return t_done("test_dns_resolver");

	/* 1. Answered by libunbound at once: still delivered by the loop. */
	memset(&p1, 0, sizeof(p1));
	id = lookup(r, &p1, "www.sync.test");
	T_CHECK(id != 0, "local data: no lookup id");
	T_CHECK(p1.calls == 0 && !p1.during, "local data: the callback ran "
	    "inside dmx_dns_lookup()");
	spin(base, &p1);
	T_CHECK(p1.calls == 1, "local data: %d callbacks, want 1", p1.calls);
	if (p1.res != NULL) {
		T_CHECK(p1.res->status == DMX_DNS_INSECURE,
		    "local data: status %s, want insecure",
		    dmx_dns_status_str(p1.res->status));
		T_CHECK(p1.res->nrrs == 1 && strcmp(p1.res->rrs[0].text,
		    "192.0.2.7") == 0, "local data: %zu records (%s)",
		    p1.res->nrrs, p1.res->nrrs ? p1.res->rrs[0].text : "-");
		T_CHECK(p1.res->ttl == 300, "local data: ttl %u, want 300",
		    (unsigned)p1.res->ttl);
	}

	/* 2. Cancelled with its answer already in: no callback. */
	memset(&p2, 0, sizeof(p2));
	id = lookup(r, &p2, "www.sync.test");
	dmx_dns_cancel(r, id);
	dmx_dns_result_free(p1.res);
	memset(&p1, 0, sizeof(p1));
	(void)lookup(r, &p1, "www.sync.test");	/* to know the loop ran */
	spin(base, &p1);
	T_CHECK(p2.calls == 0, "cancelled (answered): %d callbacks, want 0",
	    p2.calls);
	dmx_dns_result_free(p1.res);

	/* 3. Cancelled while libunbound still waits for the forwarder. */
	memset(&p3, 0, sizeof(p3));
	id = lookup(r, &p3, "cancelled.nowhere.danemxtest");
	T_CHECK(id != 0, "cancel: no lookup id");
	dmx_dns_cancel(r, id);

	/* 4. No answer: a timeout, from the loop. */
	memset(&p4, 0, sizeof(p4));
	(void)lookup(r, &p4, "silent.nowhere.danemxtest");
	T_CHECK(p4.calls == 0, "timeout: the callback ran inside "
	    "dmx_dns_lookup()");
	spin(base, &p4);
	T_CHECK(p4.calls == 1 && p4.res != NULL &&
	    p4.res->status == DMX_DNS_TIMEOUT, "timeout: %d callbacks, "
	    "status %s", p4.calls,
	    p4.res ? dmx_dns_status_str(p4.res->status) : "none");
	T_CHECK(p3.calls == 0, "cancelled (outstanding): %d callbacks, "
	    "want 0", p3.calls);

	/* 4b. A name no query can carry: SERVFAIL, from the loop, and
	 * never handed to libunbound (which would keep it until the end). */
	{
		char	 longname[300];
		size_t	 k;

		strcpy(longname, "_25._tcp.");
		for (k = 0; k < 4; k++)
			strcat(longname, "abcdefghijklmnopqrstuvwxyzabcdefghij"
			    "klmnopqrstuvwxyzabcdefghij.");
		strcat(longname, "example");
		dmx_dns_result_free(p4.res);
		memset(&p4, 0, sizeof(p4));
		(void)lookup(r, &p4, longname);
		T_CHECK(p4.calls == 0, "long name: the callback ran inside "
		    "dmx_dns_lookup()");
		spin(base, &p4);
		T_CHECK(p4.calls == 1 && p4.res != NULL &&
		    p4.res->status == DMX_DNS_SERVFAIL && p4.res->error != NULL &&
		    strstr(p4.res->error, "not a DNS name") != NULL,
		    "long name: %d callbacks, status %s, error %s", p4.calls,
		    p4.res ? dmx_dns_status_str(p4.res->status) : "none",
		    p4.res && p4.res->error ? p4.res->error : "none");
	}

	/* 5. Freed with lookups outstanding: no callback, nothing leaks. */
	memset(&p2, 0, sizeof(p2));
	(void)lookup(r, &p2, "pending.nowhere.danemxtest");
	dmx_resolver_free(r);
	T_CHECK(p2.calls == 0, "freed: %d callbacks, want 0", p2.calls);
	T_CHECK(p3.calls == 0, "freed: the cancelled lookup's callback ran");

	dmx_dns_result_free(p4.res);
	event_base_free(base);
	close(silent);
	unlink(path);
	return t_done("test_dns_resolver");
}
