/*
 * cmd_domains.c - danemx domains [list] | accept DOMAIN: the relay's
 * memory of each destination domain (docs/domains.md), read from the
 * state store in state_dir.
 *
 * list prints every domain the relay delivered to, worst first (see
 * rank()), with its TLS policy, when it last changed, and its message
 * counts today (UTC) and in total. accept lets a domain's mail go that
 * downgrade_action = defer holds after a downgrade: it clears the hold
 * in the store, which the relay reads again, and wakes the relay
 * (SIGUSR1, as `danemx queue flush` does). Root becomes the relay's user
 * before it opens the store. Everything is freed before returning.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "destmem/destmem.h"
#include "log/log.h"
#include "state/state.h"
#include "util/util.h"

static const char domains_help[] =
"usage: danemx domains [list] [options] [--changed-since T] [--policy P]\n"
"       danemx domains accept [options] DOMAIN\n"
"\n"
"What the relay (danemx serve) remembers of each destination domain it\n"
"delivers to, kept in the state store (state_dir): its TLS policy, the\n"
"fingerprint of its TLSA records or its MTA-STS policy id, when these\n"
"were first seen and last changed, its last downgrade, and how many\n"
"messages went out dane-verified, sts-verified, encrypted (TLS required\n"
"but not authenticated by DANE or MTA-STS), opportunistic (TLS if\n"
"offered, or cleartext) and deferred, today (UTC) and in total.\n"
"\n"
"A downgrade is a domain whose MX hosts had secure, usable TLSA records\n"
"and now have none (insecure or removed), or whose MTA-STS enforce policy\n"
"went away. The relay logs it as a warning, runs downgrade_command, and\n"
"with downgrade_action = defer holds the domain's mail until\n"
"'danemx domains accept DOMAIN'. A TLSA rollover (new records that are\n"
"still usable) is logged at info level and is not a downgrade.\n"
"\n"
"  list     (the default) every domain, worst first:\n"
"             held        its mail is held after a downgrade (defer)\n"
"             failing     its last delivery was deferred\n"
"             downgraded  its policy is still what a downgrade left\n"
"           then by policy: none, sts-testing, sts-enforce, dane;\n"
"           within each, by name\n"
"  accept   the operator accepts DOMAIN's downgrade: its held mail goes\n"
"           out under the policy DNS now gives, and the relay is told.\n"
"           DOMAIN is the name the list shows: a next hop of the\n"
"           transport table keeps its brackets and port, [mx.example]:2525\n"
"\n"
"Options:\n"
"  -c FILE               configuration (default " CONF_DEFAULT_FILE " if\n"
"                        present): state_dir, user, pid_file\n"
"  -o KEY=VALUE          override a setting, e.g. -o state_dir=/tmp/state\n"
"      --changed-since T only domains whose policy changed (or that were\n"
"                        downgraded) at or after T: Unix seconds,\n"
"                        YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC), or a\n"
"                        duration ago such as 90m, 24h, 7d\n"
"      --policy P        only domains whose policy is P: dane, sts\n"
"                        (enforce or testing) or none\n"
"\n"
"With --json, list prints one object per line with the keys domain,\n"
"policy, fingerprint, status (held, failing, downgraded or ok),\n"
"first_seen, changed, last_seen (Unix seconds), downgrade (null or an\n"
"object with time, from, to, what), held, accepted, day, last_outcome\n"
"(sent, deferred or null), and today and total (objects keyed\n"
"dane-verified, sts-verified, encrypted, opportunistic, deferred).\n"
"\n"
"Exit status: 0 done; 1 (accept) DOMAIN is not in the store; 64 usage\n"
"error; 66 no store to read; 70 internal error; 73 (accept) the store\n"
"cannot be written; 78 configuration error.\n"
"\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  danemx domains\n"
"  danemx domains --policy none --changed-since 7d\n"
"  danemx domains --json | jq 'select(.status != \"ok\")'\n"
"  danemx domains accept example.org\n";

enum {
	OPT_CHANGED = CLI_OPT_FIRST_COMMAND_OPT,
	OPT_POLICY
};

struct domains_opts {
	struct cli_confopts	 co;
	const char	*policy;
	int64_t		 since;		/* -1: any */
};

/* parse_since - T as Unix seconds (see the help); -1 if not a time */
static int64_t
parse_since(const char *t, time_t now)
{
	struct tm	 tm;
	char		*end;
	const char	*p;
	long long	 n;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(t, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL && *p == '\0')
		return (int64_t)timegm(&tm);
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(t, "%Y-%m-%d", &tm)) != NULL && *p == '\0')
		return (int64_t)timegm(&tm);
	if (*t < '0' || *t > '9')
		return -1;
	errno = 0;
	n = strtoll(t, &end, 10);
	if (errno != 0 || n < 0 || n > 100000000000LL)
		return -1;
	switch (*end) {
	case '\0':
		return n;
	case 's':
		break;
	case 'm':
		n *= 60;
		break;
	case 'h':
		n *= 3600;
		break;
	case 'd':
		n *= 86400;
		break;
	case 'w':
		n *= 7 * 86400;
		break;
	default:
		return -1;
	}
	if (end[1] != '\0')
		return -1;
	return (int64_t)now - n;
}

/* parse_opts - 0, or an exit status (-1: --help was printed) */
static int
parse_opts(struct cli *c, int argc, char **argv, struct domains_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "changed-since", required_argument, NULL, OPT_CHANGED },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(domains_help, stdout);
			return -1;
		case 'c':
		case 'o':
			if (cli_conf_opt(&o->co, ch, optarg) == -1)
				return cli_usage_error("domains", "too many -o");
			break;
		case OPT_CHANGED:
			if ((o->since = parse_since(optarg, time(NULL))) == -1)
				return cli_usage_error("domains", "--changed-since "
				    "'%.64s': not a time (Unix seconds, "
				    "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, or 7d)",
				    optarg);
			break;
		case OPT_POLICY:
			if (strcmp(optarg, "dane") != 0 &&
			    strcmp(optarg, "sts") != 0 &&
			    strcmp(optarg, "none") != 0)
				return cli_usage_error("domains", "--policy "
				    "'%.64s': one of dane, sts, none", optarg);
			o->policy = optarg;
			break;
		case '?':
			return cli_usage_error("domains", "unknown option");
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	return 0;
}

/* One row of the list, ranked. */
struct row {
	struct state_dest	 d;
	int			 rank;
	const char		*status;
};

struct list_ctx {
	const struct domains_opts *o;
	char			 today[11];
	struct row		*rows;
	size_t			 n, cap;
	int			 nomem;
};

/*
 * rank - worst first: 0 held; 1 failing (its last delivery was
 * deferred); 2 downgraded (the policy is still the one its last
 * downgrade went to)
 * (the last change was a downgrade); then by policy: 3 none (or not yet
 * known), 4 sts-testing, 5 sts-enforce, 6 dane
 */
static int
rank(const struct state_dest *d, const char **status)
{
	*status = "ok";
	if (d->held) {
		*status = "held";
		return 0;
	}
	if (strcmp(d->last_outcome, "deferred") == 0) {
		*status = "failing";
		return 1;
	}
	if (d->downgraded > 0 && strcmp(d->policy, d->down_to) == 0) {
		*status = "downgraded";
		return 2;
	}
	if (strcmp(d->policy, "dane") == 0)
		return 6;
	if (strcmp(d->policy, "sts-enforce") == 0)
		return 5;
	if (strcmp(d->policy, "sts-testing") == 0)
		return 4;
	return 3;
}

/* collect - keep d if the filters let it through */
static int
collect(void *arg, const struct state_dest *d)
{
	struct list_ctx	*lc = arg;
	struct row	*r;
	size_t		 ncap;
	int64_t		 changed = d->changed > d->downgraded ? d->changed :
	    d->downgraded;

	if (lc->o->since >= 0 && changed < lc->o->since)
		return 0;
	if (lc->o->policy != NULL && (strcmp(lc->o->policy, "sts") == 0 ?
	    strncmp(d->policy, "sts-", 4) != 0 : strcmp(lc->o->policy, "none")
	    == 0 ? strcmp(d->policy, "none") != 0 && d->policy[0] != '\0' :
	    strcmp(d->policy, lc->o->policy) != 0))
		return 0;
	if (lc->n == lc->cap) {
		ncap = lc->cap ? lc->cap * 2 : 64;
		if ((r = realloc(lc->rows, ncap * sizeof(*r))) == NULL) {
			lc->nomem = 1;
			return -1;
		}
		lc->rows = r;
		lc->cap = ncap;
	}
	r = &lc->rows[lc->n++];
	r->d = *d;
	if (strcmp(d->day, lc->today) != 0)	/* counted on another day */
		memset(r->d.today, 0, sizeof(r->d.today));
	r->rank = rank(d, &r->status);
	return 0;
}

static int
cmp_row(const void *a, const void *b)
{
	const struct row	*x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->d.domain, y->d.domain);
}

/* when - Unix time t as YYYY-MM-DDTHH:MM:SSZ, or "-" */
static const char *
when(int64_t t, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

/* counts_json - "key":{"dane-verified":N,...} */
static void
counts_json(struct buf *b, const char *key, const uint64_t n[])
{
	int	 i;

	buf_printf(b, ",\"%s\":{", key);
	for (i = 0; i < STATE_DEST_NCOUNT; i++)
		buf_printf(b, "%s\"%s\":%llu", i ? "," : "",
		    state_dest_count_name((enum state_dest_n)i),
		    (unsigned long long)n[i]);
	buf_add(b, "}", 1);
}

/* print_json - one row as one JSON object on a line */
static void
print_json(const struct row *r)
{
	const struct state_dest	*d = &r->d;
	struct buf		 b;

	buf_init(&b, 64 * 1024);
	buf_add(&b, "{", 1);
	json_kv_str(&b, "domain", d->domain);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "policy", d->policy[0] ? d->policy : NULL);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "fingerprint", d->fingerprint[0] ? d->fingerprint :
	    NULL);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "status", r->status);
	buf_add(&b, ",", 1);
	json_kv_int(&b, "first_seen", d->first_seen);
	buf_add(&b, ",", 1);
	json_kv_int(&b, "changed", d->changed);
	buf_add(&b, ",", 1);
	json_kv_int(&b, "last_seen", d->last_seen);
	if (d->downgraded > 0) {
		buf_adds(&b, ",\"downgrade\":{");
		json_kv_int(&b, "time", d->downgraded);
		buf_add(&b, ",", 1);
		json_kv_str(&b, "from", d->down_from);
		buf_add(&b, ",", 1);
		json_kv_str(&b, "to", d->down_to);
		buf_add(&b, ",", 1);
		json_kv_str(&b, "what", d->down_what);
		buf_add(&b, "}", 1);
	} else
		buf_adds(&b, ",\"downgrade\":null");
	buf_add(&b, ",", 1);
	json_kv_bool(&b, "held", d->held);
	buf_add(&b, ",", 1);
	json_kv_int(&b, "accepted", d->accepted);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "day", d->day[0] ? d->day : NULL);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "last_outcome", d->last_outcome[0] ? d->last_outcome :
	    NULL);
	counts_json(&b, "today", d->today);
	counts_json(&b, "total", d->total);
	buf_add(&b, "}", 1);
	printf("%s\n", b.data ? b.data : "{}");
	buf_free(&b);
}

/* print_text - one row as a line of the table */
static void
print_text(const struct row *r)
{
	const struct state_dest	*d = &r->d;
	char			 t[32];

	printf("%-30s %-11s %-10s %-20s %llu/%llu/%llu/%llu/%llu "
	    "%llu/%llu/%llu/%llu/%llu\n", d->domain, d->policy[0] ?
	    d->policy : "-", r->status, when(d->changed > d->downgraded ?
	    d->changed : d->downgraded, t, sizeof(t)),
	    (unsigned long long)d->today[0], (unsigned long long)d->today[1],
	    (unsigned long long)d->today[2], (unsigned long long)d->today[3],
	    (unsigned long long)d->today[4], (unsigned long long)d->total[0],
	    (unsigned long long)d->total[1], (unsigned long long)d->total[2],
	    (unsigned long long)d->total[3], (unsigned long long)d->total[4]);
	if (d->downgraded > 0 && (r->rank <= 2))
		printf("    downgraded %s from %s to %s: %s\n", when(d->downgraded,
		    t, sizeof(t)), d->down_from, d->down_to, d->down_what);
}

/* do_list - danemx domains [list] */
static int
do_list(struct cli *c, struct state *st, const struct domains_opts *o)
{
	struct list_ctx	 lc;
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 err[512];
	size_t		 i;
	int		 n;

	memset(&lc, 0, sizeof(lc));
	lc.o = o;
	gmtime_r(&now, &tm);
	strftime(lc.today, sizeof(lc.today), "%Y-%m-%d", &tm);
	if ((n = state_dest_list(st, collect, &lc, err, sizeof(err))) == -1 ||
	    lc.nomem) {
		fprintf(stderr, "danemx domains: %s\n", lc.nomem ?
		    "out of memory" : err);
		free(lc.rows);
		return EX_SOFTWARE;
	}
	if (n >= STATE_DEST_LIST_MAX)
		fprintf(stderr, "danemx domains: only the first %d domains (by "
		    "name) are listed\n", STATE_DEST_LIST_MAX);
	if (lc.n > 0)
		qsort(lc.rows, lc.n, sizeof(*lc.rows), cmp_row);
	if (!c->json && lc.n > 0)
		printf("%-30s %-11s %-10s %-20s %s\n", "DOMAIN", "POLICY",
		    "STATUS", "CHANGED", "TODAY TOTAL "
		    "(dane/sts/encrypted/opportunistic/deferred)");
	for (i = 0; i < lc.n; i++) {
		if (c->json)
			print_json(&lc.rows[i]);
		else
			print_text(&lc.rows[i]);
	}
	free(lc.rows);
	return 0;
}

/* do_accept - danemx domains accept DOMAIN */
static int
do_accept(struct state *st, const char *domain, pid_t relay)
{
	struct state_dest	 d;
	char			 err[512];

	switch (state_dest_get(st, domain, &d, err, sizeof(err))) {
	case -1:
		fprintf(stderr, "danemx domains: %s\n", err);
		return EX_SOFTWARE;
	case 0:
		fprintf(stderr, "danemx domains: %s: not in the store (the relay "
		    "has not delivered there)\n", domain);
		return 1;
	}
	if (!d.held) {
		printf("%s: not held; nothing to accept\n", domain);
		return 0;
	}
	if (state_is_readonly(st) || state_dest_accept(st, domain,
	    time(NULL)) == -1 || state_sync(st) == -1) {
		fprintf(stderr, "danemx domains: %s: cannot write the store\n",
		    domain);
		return EX_CANTCREAT;
	}
	printf("%s: downgrade from %s to %s accepted (%s)\n", domain,
	    d.down_from, d.down_to, d.down_what);
	if (relay > 0 && kill(relay, SIGUSR1) == 0)
		printf("%s: the relay (pid %ld) delivers its mail now\n", domain,
		    (long)relay);
	else
		printf("%s: no relay runs; its mail goes when it does\n",
		    domain);
	return 0;
}

/* cmd_domains - danemx domains [list] | accept DOMAIN */
int
cmd_domains(struct cli *c, int argc, char **argv)
{
	struct domains_opts	 o;
	struct dmx_conf		 conf;
	struct state		*st;
	const char		*sub = "list";
	char			 domain[STATE_DOMAIN_MAX], why[256];
	pid_t			 relay = 0;
	int			 rv, nargs;

	memset(&o, 0, sizeof(o));
	o.since = -1;
	if ((rv = parse_opts(c, argc, argv, &o)) != 0)
		return rv == -1 ? 0 : rv;
	if (optind < argc)
		sub = argv[optind++];
	nargs = argc - optind;
	if (strcmp(sub, "list") == 0) {
		if (nargs != 0)
			return cli_usage_error("domains", "list takes no "
			    "arguments");
	} else if (strcmp(sub, "accept") == 0) {
		if (nargs != 1)
			return cli_usage_error("domains", "accept takes one "
			    "DOMAIN");
		if (destmem_domain_key(argv[optind], domain,
		    sizeof(domain)) == -1)
			return cli_usage_error("domains", "'%.64s' is not a "
			    "domain name", argv[optind]);
	} else
		return cli_usage_error("domains", "expected list or accept");
	if (cli_load_conf(&conf, o.co.file, o.co.sets, o.co.nsets,
	    "domains") == -1)
		return EX_CONFIG;
	if (c->json)
		log_set_quiet(1);
	/* The relay to wake, found while root may still read its pid file. */
	if (strcmp(sub, "accept") == 0)
		relay = cli_pidfile_owner(conf.pid_file, why, sizeof(why));
	if ((st = cli_relay_store("domains", "destinations", &conf,
	    strcmp(sub, "accept") == 0)) == NULL) {
		conf_free(&conf);
		return EX_NOINPUT;
	}
	rv = strcmp(sub, "list") == 0 ? do_list(c, st, &o) :
	    do_accept(st, domain, relay);
	state_close(st);
	conf_free(&conf);
	return rv;
}
