/*
 * cmd_tlsa_connect.c - danemx tlsa --connect: the certificate chain a
 * live server sends after STARTTLS, read over the delivery path that
 * check uses (src/deliver): the host's addresses from the validating
 * resolver (no MX lookup: the next hop is "[HOST]:PORT"), TLS demanded
 * but not authenticated (the records are what we are making), the first
 * address that completes a handshake.
 *
 * The chain is the caller's (tls_chain_free()); the rest is freed here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "deliver/deliver.h"
#include "util/util.h"

struct tlsa_conn {
	struct deliver_result	*r;
	int			 done;
};

static void
tlsa_conn_done(void *arg, struct deliver_result *r)
{
	struct tlsa_conn	*tc = arg;

	tc->r = r;
	tc->done = 1;
}

/* nexthop - "HOST", "HOST:PORT" or "[ADDR]:PORT" as a next hop without
 * MX lookup, "[HOST]:PORT"; the host name (none for an address) into
 * name. 0, or -1 when spec is none of these. */
static int
nexthop(const char *spec, char *dest, size_t destlen, char *name,
    size_t namelen)
{
	char		 host[DMX_NAME_MAX];
	const char	*colon;
	unsigned long	 port = 25;
	size_t		 n;

	name[0] = '\0';
	if (spec[0] == '[') {
		strlcpy_(dest, spec, destlen);
		return 0;
	}
	if ((colon = strrchr(spec, ':')) != NULL) {
		if (parse_uint(colon + 1, 65535, &port) == -1 || port == 0)
			return -1;
		n = (size_t)(colon - spec);
	} else
		n = strlen(spec);
	if (n == 0 || n >= sizeof(host) || memchr(spec, '[', n) != NULL)
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	str_lower(host);
	strlcpy_(name, host, namelen);
	snprintf(dest, destlen, "[%s]:%lu", host, port);
	return 0;
}

/*
 * cli_tlsa_connect - the chain of the server at spec (HOST, HOST:PORT
 * or [ADDR]:PORT) into *chain, the port connected to into *port, and
 * HOST into name ("" for an address). 0, or an exit status.
 */
int
cli_tlsa_connect(struct cli *c, const char *spec, unsigned long *port,
    char *name, size_t namelen, STACK_OF(X509) **chain)
{
	struct event_base		*base = NULL;
	struct dmx_resolver		*res = NULL;
	struct deliver_env		 env;
	struct deliver_conf		 dc;
	struct tlsa_conn		 tc;
	struct deliver_attempt		*a;
	char				 dest[DMX_NAME_MAX + 16], err[256];
	size_t				 i;
	int				 rv = EX_UNAVAILABLE;

	memset(&env, 0, sizeof(env));
	memset(&tc, 0, sizeof(tc));
	if (nexthop(spec, dest, sizeof(dest), name, namelen) == -1)
		return cli_usage_error("tlsa", "--connect: '%s' is not HOST, "
		    "HOST:PORT or [ADDR]:PORT", spec);
	if ((env.dane_ctx = tls_client_ctx_new(err, sizeof(err))) == NULL ||
	    (base = event_base_new()) == NULL) {
		rv = EX_SOFTWARE;
		goto out;
	}
	if ((res = cli_resolver(c, base)) == NULL) {
		rv = EX_CONFIG;
		goto out;
	}
	env.timeout = c->timeout_ms / 1000;
	env.helo = "danemx-tlsa.invalid";
	deliver_conf_for(&dc, &env, dest, SMTP_JOB_CHECK, time(NULL));
	dc.level = TLS_LEVEL_ENCRYPT;	/* TLS, nothing authenticated */
	dc.all_hosts = 0;		/* the first chain will do */
	dc.keep_chain = 1;
	dc.mail_from = "";
	dc.log = 0;
	dc.done = tlsa_conn_done;
	dc.arg = &tc;
	if (deliver_start(base, res, &dc, err, sizeof(err)) == NULL) {
		fprintf(stderr, "danemx tlsa: %s: %s\n", spec, err);
		goto out;
	}
	while (!tc.done)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	for (i = 0; tc.r != NULL && i < tc.r->natt && *chain == NULL; i++) {
		a = &tc.r->att[i];
		if (a->chain != NULL && sk_X509_num(a->chain) > 0) {
			*chain = a->chain;
			a->chain = NULL;
			*port = tc.r->route->port;
		}
	}
	if (*chain == NULL) {
		fprintf(stderr, "danemx tlsa: %s: no certificate chain: %s\n",
		    spec, tc.r != NULL && tc.r->why[0] ? tc.r->why : "no TLS");
		goto out;
	}
	rv = 0;
out:
	deliver_result_free(tc.r);
	dmx_resolver_free(res);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(env.dane_ctx);
	return rv;
}
