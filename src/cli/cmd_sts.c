/*
 * cmd_sts.c - danemx sts DOMAIN...: what MTA-STS says about each domain.
 *
 * For every domain at once, on one event loop: the `_mta-sts` TXT record
 * and the MX RRset through the validating resolver, and a lookup in the
 * same policy cache the relay uses (sts_cache.c, with its store in
 * state_dir), which fetches the policy when the cache has none for the
 * id the TXT record names (or always, with --refresh). Then prints what
 * it found (cmd_sts_print.c). Everything is freed before returning.
 *
 * DANEMX_TEST_NOW=SECONDS (Unix time) sets the cache's clock; it exists
 * for the tests of max_age expiry and is not documented for users.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "cli/cmd_sts.h"
#include "http/http.h"
#include "log/log.h"
#include "conf/conf.h"
#include "util/util.h"

#define STS_DOMAINS_MAX	1000

static const char sts_help[] =
"usage: danemx sts [options] DOMAIN...\n"
"\n"
"Show what MTA-STS (RFC 8461) says about mail to each DOMAIN: the\n"
"_mta-sts TXT record, the policy as fetched from\n"
"https://mta-sts.DOMAIN/.well-known/mta-sts.txt or as cached, the cache\n"
"state (fresh, stale, expired), warnings (unknown keys, a max_age above a\n"
"year, a policy not served as text/plain), and the MX hosts of the domain\n"
"with the pattern each one matches. It uses the relay's cache in\n"
"state_dir, and updates it as the relay would: the policy is fetched\n"
"when the cache has none under the id the TXT record names. No\n"
"connection is made to the MX hosts.\n"
"\n"
"Options:\n"
"  -c FILE          configuration (default " CONF_DEFAULT_FILE " if\n"
"                   present): state_dir, ca_file, resolver settings\n"
"  -o KEY=VALUE     override a setting, e.g. -o state_dir=/tmp/sts\n"
"      --ca-file FILE  trust these PEM roots for the policy host's\n"
"                   certificate instead of the system store\n"
"      --refresh    fetch the policy even when the cached one is current,\n"
"                   and even while backing off after failed fetches\n"
"      --no-cache   neither read nor write the cache\n"
"\n"
"With --json, one object per domain on stdout, with the keys domain, txt,\n"
"policy, cache, fetch, failure, result_type, error, mx_status, mx and\n"
"status.\n"
"\n"
"Exit status, the worst over all domains in this order of precedence:\n"
"  2   the TXT record or the policy is invalid (sts-policy-invalid)\n"
"  5   an MX host matches no pattern of the policy in force\n"
"  3   the policy could not be fetched (sts-policy-fetch-error)\n"
"  4   a DNS lookup (TXT or MX) failed\n"
"  1   MTA-STS does not apply (no record, or mode none)\n"
"  0   a policy is in force and every MX host matches it\n"
"  64  usage error    70 internal error    78 configuration error\n"
"\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  danemx sts gmail.com\n"
"  danemx sts --json --refresh example.org example.net\n";

enum {
	OPT_CA_FILE = CLI_OPT_FIRST_COMMAND_OPT,
	OPT_REFRESH,
	OPT_NO_CACHE
};

struct run {
	struct cmd_sts_dom	*doms;
	size_t		 ndoms;
	int		 pending;
	int64_t		 test_now;
};

static int64_t
test_clock(void *arg)
{
	return ((struct run *)arg)->test_now;
}

static void
one_done(struct run *r, struct cmd_sts_dom *d)
{
	d->pending--;
	r->pending--;
}

static struct cmd_sts_dom *
dom_of(struct run *r, const char *qname)
{
	size_t	 i;

	for (i = 0; i < r->ndoms; i++)
		if (strcasecmp(r->doms[i].name, qname) == 0)
			return &r->doms[i];
	return NULL;
}

/* lookup_done - the TXT or MX answer of one domain */
static void
lookup_done(void *arg, struct dmx_dns_result *res)
{
	struct run	*r = arg;
	struct cmd_sts_dom	*d;
	const char	*q = res->qname;

	if (res->qtype == DMX_T_TXT && strncasecmp(q, "_mta-sts.", 9) == 0)
		q += 9;
	if ((d = dom_of(r, q)) == NULL) {
		dmx_dns_result_free(res);
		return;
	}
	if (res->qtype == DMX_T_TXT)
		d->txt = res;
	else
		d->mx = res;
	one_done(r, d);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* answered - the cache's answer for one domain, copied */
static void
answered(void *arg, const struct sts_answer *a)
{
	struct run	*r = arg;
	struct cmd_sts_dom	*d;

	if ((d = dom_of(r, a->domain)) == NULL)
		return;
	d->answered = 1;
	if ((d->policy = a->policy) != NULL)
		sts_policy_ref(d->policy);
	d->source = a->source;
	d->stale = a->stale;
	d->fetch_attempted = a->fetch_attempted;
	d->fetched = a->fetched;
	d->expires = a->expires;
	d->next_try = a->next_try;
	d->failure = a->failure;
	d->http_status = a->http_status;
	d->error = dup_or_null(a->error);
	d->txt_id = dup_or_null(a->txt_id);
	d->ctype = dup_or_null(a->content_type);
	one_done(r, d);
}

/* open_state - the relay's store, or a note saying why there is none */
static struct state *
open_state(const char *dir, const char **note, char *why, size_t whylen)
{
	struct state_conf	 sc;
	struct state		*st;
	char			 err[512];

	memset(&sc, 0, sizeof(sc));
	sc.dir = dir;
	if ((st = state_open(&sc, err, sizeof(err))) != NULL)
		return st;
	/* not ours to write (another user's relay): read what is there */
	sc.readonly = 1;
	if ((st = state_open(&sc, why, whylen)) != NULL) {
		snprintf(why, whylen, "the cache in %s is read-only here (%s): "
		    "nothing fetched now is kept", dir, err);
		*note = why;
		return st;
	}
	snprintf(why, whylen, "no cache (%s): nothing is read or kept", err);
	*note = why;
	return NULL;
}

/* start - the three lookups of every domain */
static int
start(struct run *r, struct dmx_resolver *res, struct sts *sts,
    struct state *st, unsigned flags)
{
	struct cmd_sts_dom	*d;
	char		 name[STS_DOMAIN_MAX + 16], err[256];
	size_t		 i;

	for (i = 0; i < r->ndoms; i++) {
		d = &r->doms[i];
		if (st != NULL)
			d->have_before = state_sts_get(st, d->name, &d->before,
			    err, sizeof(err)) == 1;
		snprintf(name, sizeof(name), "_mta-sts.%s", d->name);
		d->pending = 3;
		r->pending += 3;
		if (dmx_dns_lookup(res, name, DMX_T_TXT, lookup_done, r) == 0 ||
		    dmx_dns_lookup(res, d->name, DMX_T_MX, lookup_done, r) == 0 ||
		    sts_lookup(sts, d->name, flags, answered, r) == 0) {
			fprintf(stderr, "danemx sts: cannot look up %s\n",
			    d->name);
			return -1;
		}
	}
	return 0;
}

/*
 * domains - the arguments, lowercase without a final dot, each once; -1
 * if one is not a domain
 */
static int
domains(struct run *r, int argc, char **argv)
{
	size_t	 i, n;
	char	 name[STS_DOMAIN_MAX];

	if ((r->doms = calloc((size_t)argc, sizeof(*r->doms))) == NULL)
		return -1;
	for (i = 0; i < (size_t)argc; i++) {
		n = strlen(argv[i]);
		if (n > 0 && argv[i][n - 1] == '.')
			n--;
		if (n == 0 || n >= STS_DOMAIN_MAX) {
			cli_usage_error("sts", "'%s' is not a domain", argv[i]);
			return -1;
		}
		memcpy(name, argv[i], n);
		name[n] = '\0';
		str_lower(name);
		if (!sts_domain_ok(name)) {
			cli_usage_error("sts", "'%s' is not a domain", argv[i]);
			return -1;
		}
		if (dom_of(r, name) != NULL)
			continue;
		strlcpy_(r->doms[r->ndoms++].name, name, STS_DOMAIN_MAX);
	}
	return 0;
}

struct cmd_sts_opts {
	struct cli_confopts	 co;
	const char	*ca_file;
	int		 refresh, no_cache;
};

/* parse_opts - the options; 0, or the exit status to return */
static int
parse_opts(struct cli *c, int argc, char **argv, struct cmd_sts_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "ca-file", required_argument, NULL, OPT_CA_FILE },
		{ "refresh", no_argument, NULL, OPT_REFRESH },
		{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(sts_help, stdout);
			return -1;
		case 'c':
		case 'o':
			if (cli_conf_opt(&o->co, ch, optarg) == -1)
				return cli_usage_error("sts", "too many -o");
			break;
		case OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case OPT_REFRESH:
			o->refresh = 1;
			break;
		case OPT_NO_CACHE:
			o->no_cache = 1;
			break;
		case '?':
			return cli_usage_error("sts", "unknown option");
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("sts", "expected DOMAIN...");
	if (argc - optind > STS_DOMAINS_MAX)
		return cli_usage_error("sts", "at most %d domains",
		    STS_DOMAINS_MAX);
	return 0;
}

/* run_all - resolver, client, store and cache up; loop until done */
static int
run_all(struct cli *c, struct dmx_conf *conf, struct cmd_sts_opts *o,
    struct run *r, struct cmd_sts_out *out)
{
	struct event_base	*base;
	struct dmx_resolver	*res = NULL;
	struct http_client	*http = NULL;
	struct state		*st = NULL;
	struct sts		*sts = NULL;
	struct http_conf	 hc;
	struct sts_conf		 sc;
	static char		 note[700];
	char			 err[512];
	int			 rv = EX_SOFTWARE;

	if ((base = event_base_new()) == NULL)
		return EX_OSERR;
	if (c->resolver_config == NULL && c->forwarder == NULL &&
	    c->trust_anchor == NULL) {
		c->resolver_config = conf->resolver_config;
		c->forwarder = conf->forwarder;
		c->trust_anchor = conf->trust_anchor;
	}
	if ((res = cli_resolver(c, base)) == NULL) {
		rv = EX_CONFIG;
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = o->ca_file ? o->ca_file : conf->ca_file;
	if ((http = http_client_new(base, res, &hc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "danemx sts: %s\n", err);
		goto out;
	}
	if (o->no_cache)
		out->cache_note = "--no-cache: nothing is read or kept";
	else
		st = open_state(conf->state_dir, &out->cache_note, note,
		    sizeof(note));
	memset(&sc, 0, sizeof(sc));
	sc.base = base;
	sc.resolver = res;
	sc.http = http;
	sc.state = st;
	sc.no_refresh = 1;
	sc.quiet = 1;
	sc.fetch_timeout_ms = c->timeout_ms;
	if (r->test_now != 0) {
		sc.now = test_clock;
		sc.now_arg = r;
	}
	if ((sts = sts_new(&sc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx sts: %s\n", err);
		goto out;
	}
	if (start(r, res, sts, st, STS_F_RECHECK | (o->refresh ?
	    STS_F_REFRESH : 0)) == -1)
		goto out;
	while (r->pending > 0)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			goto out;
	rv = 0;
out:
	sts_free(sts);
	if (st != NULL && state_sync(st) == -1)
		fprintf(stderr, "danemx sts: could not write the cache in %s\n",
		    conf->state_dir);
	state_close(st);
	http_client_free(http);
	dmx_resolver_free(res);
	event_base_free(base);
	return rv;
}

/* cmd_sts - danemx sts DOMAIN... */
int
cmd_sts(struct cli *c, int argc, char **argv)
{
	struct cmd_sts_opts	 o;
	struct dmx_conf	 conf;
	struct run	 r;
	struct cmd_sts_out	 out;
	struct relay_user	 ru;
	const char	*tn;
	char		 err[512];
	size_t		 i;
	int		 rv, worst = CMD_STS_EXIT_OK, st;
	static const int rank[] = { [CMD_STS_EXIT_OK] = 0,
	    [CMD_STS_EXIT_NONE] = 1, [CMD_STS_EXIT_DNS] = 2,
	    [CMD_STS_EXIT_FETCH] = 3, [CMD_STS_EXIT_MX] = 4,
	    [CMD_STS_EXIT_INVALID] = 5 };

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	memset(&out, 0, sizeof(out));
	if ((rv = parse_opts(c, argc, argv, &o)) != 0)
		return rv == -1 ? 0 : rv;
	if (cli_load_conf(&conf, o.co.file, o.co.sets, o.co.nsets,
	    "sts") == -1)
		return EX_CONFIG;
	if (domains(&r, argc - optind, argv + optind) == -1) {
		free(r.doms);
		conf_free(&conf);
		return EX_USAGE;
	}
	if ((tn = getenv("DANEMX_TEST_NOW")) != NULL)
		r.test_now = strtoll(tn, NULL, 10);
	signal(SIGPIPE, SIG_IGN);
	if (c->json)
		log_set_quiet(1);
	out.json = c->json;
	/* Root becomes the relay's user before it opens the relay's store,
	 * so that every file in state_dir stays the relay's. */
	if (!o.no_cache && (cli_relay_user(&conf, &ru, err,
	    sizeof(err)) == -1 || cli_priv_drop(&ru, err, sizeof(err)) == -1)) {
		fprintf(stderr, "danemx sts: %s\n", err);
		free(r.doms);
		conf_free(&conf);
		return EX_CONFIG;
	}
	rv = run_all(c, &conf, &o, &r, &out);
	out.now = r.test_now ? r.test_now : (int64_t)time(NULL);
	if (rv == 0 && !conf.mta_sts && !c->json)
		printf("note: mta_sts = no in the configuration: the relay "
		    "does not apply MTA-STS\n");
	for (i = 0; i < r.ndoms; i++) {
		if (rv == 0) {
			st = cmd_sts_print(&out, &r.doms[i]);
			if (rank[st] > rank[worst])
				worst = st;
		}
		cmd_sts_dom_clear(&r.doms[i]);
	}
	free(r.doms);
	conf_free(&conf);
	return rv != 0 ? rv : worst;
}
