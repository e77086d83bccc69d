/*
 * cmd_tlsrpt.c - danemx tlsrpt list | show DOMAIN | send: the TLS
 * reports (RFC 8460) of the relay's recorded sessions, from the state
 * store in state_dir (docs/tlsrpt.md).
 *
 * list prints every (domain, day) with results: the sessions that
 * succeeded and failed, and the report's state (open: today, still
 * counting; pending: not yet reported; sent or skipped, with its id).
 * show prints a day's report JSON as it would be sent (a report sent
 * with its id). send runs the sender once (cmd_tlsrpt_send.c). Root
 * becomes the relay's user before it opens the store, as danemx sts does. Everything is freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "log/log.h"
#include "state/state.h"
#include "sts/sts.h"
#include "tlsrpt/tlsrpt.h"
#include "util/util.h"

static const char tlsrpt_help[] =
"usage: danemx tlsrpt list [options]\n"
"       danemx tlsrpt show [options] [--day YYYY-MM-DD] DOMAIN\n"
"       danemx tlsrpt send [options] [--day YYYY-MM-DD] [--domain DOMAIN]\n"
"\n"
"SMTP TLS Reporting (RFC 8460). The relay (tlsrpt = yes) counts every\n"
"outbound TLS session under its recipient domain and UTC day, in the\n"
"state store (state_dir).\n"
"\n"
"  list   every domain and day with results: sessions ok and failed, and\n"
"         the report's state: open (today, still counting), pending (not\n"
"         reported yet), sent or skipped, with its report id\n"
"  show   the report of DOMAIN for a day (default: yesterday, UTC) as the\n"
"         JSON that would be sent (RFC 8460 section 4.4)\n"
"  send   send the reports of days before today that are due now\n"
"         (or of --day, --domain): as the relay does after midnight\n"
"\n"
"Options:\n"
"  -c FILE          configuration (default " CONF_DEFAULT_FILE " if\n"
"                   present): state_dir, organization_name, contact_info,\n"
"                   helo_name\n"
"  -o KEY=VALUE     override a setting, e.g. -o state_dir=/tmp/state\n"
"      --day DAY    the UTC day, YYYY-MM-DD\n"
"      --domain D   (send) only this domain\n"
"\n"
"With --json, list prints one object per line with the keys domain, day,\n"
"ok, failed, state, report_id, rua and claimed.\n"
"\n"
"Exit status: 0 done; 1 no results for that domain and day; 64 usage\n"
"error; 66 no store to read; 70 internal error; 73 (send) the queue\n"
"cannot be opened; 75 (send) something could not be done now (a\n"
"lookup, a report), try again later; 77 (send) cannot become the\n"
"relay's user; 78 configuration error (show and send need\n"
"organization_name and contact_info).\n"
"\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  danemx tlsrpt list\n"
"  danemx tlsrpt show --day 2026-03-01 example.org | python3 -m json.tool\n";

enum {
	OPT_DAY = CLI_OPT_FIRST_COMMAND_OPT,
	OPT_DOMAIN
};

struct tlsrpt_opts {
	struct cli_confopts	 co;
	const char	*day, *domain;
};

/* parse_opts - the options after the subcommand; 0, or an exit status
 * (-1: --help was printed) */
static int
parse_opts(struct cli *c, int argc, char **argv, struct tlsrpt_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "day", required_argument, NULL, OPT_DAY },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(tlsrpt_help, stdout);
			return -1;
		case 'c':
		case 'o':
			if (cli_conf_opt(&o->co, ch, optarg) == -1)
				return cli_usage_error("tlsrpt", "too many -o");
			break;
		case OPT_DAY:
			o->day = optarg;
			break;
		case OPT_DOMAIN:
			o->domain = optarg;
			break;
		case '?':
			return cli_usage_error("tlsrpt", "unknown option");
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	return 0;
}

struct list_ctx {
	int	 json, n;
	char	 today[TLSRPT_DAY_LEN];
};

/* list_one - one line (or JSON object) per domain and day */
static int
list_one(void *arg, const struct state_tlsrpt_day *d)
{
	struct list_ctx	*lc = arg;
	struct buf	 b;
	const char	*state = d->state[0] ? d->state :
	    strcmp(d->day, lc->today) >= 0 ? "open" : "pending";

	if (lc->n++ == 0 && !lc->json)
		printf("%-30s %-10s %8s %8s %-8s %s\n", "DOMAIN", "DAY", "OK",
		    "FAILED", "STATE", "REPORT-ID");
	if (!lc->json) {
		printf("%-30s %-10s %8llu %8llu %-8s %s\n", d->domain, d->day,
		    (unsigned long long)d->ok, (unsigned long long)d->failed,
		    state, d->report_id[0] ? d->report_id : "-");
		return 0;
	}
	buf_init(&b, 64 * 1024);
	buf_add(&b, "{", 1);
	json_kv_str(&b, "domain", d->domain);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "day", d->day);
	buf_printf(&b, ",\"ok\":%llu,\"failed\":%llu,",
	    (unsigned long long)d->ok, (unsigned long long)d->failed);
	json_kv_str(&b, "state", state);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "report_id", d->report_id[0] ? d->report_id : NULL);
	buf_add(&b, ",", 1);
	json_kv_str(&b, "rua", d->rua && d->rua[0] ? d->rua : NULL);
	buf_add(&b, ",", 1);
	json_kv_int(&b, "claimed", d->claimed);
	buf_add(&b, "}", 1);
	printf("%s\n", b.data ? b.data : "{}");
	buf_free(&b);
	return 0;
}

/* do_list - danemx tlsrpt list */
static int
do_list(struct cli *c, struct state *st)
{
	struct list_ctx	 lc;
	char		 err[512];

	memset(&lc, 0, sizeof(lc));
	lc.json = c->json;
	if (tlsrpt_day(tlsrpt_now(), lc.today) == -1)
		return EX_SOFTWARE;
	if (state_tlsrpt_days(st, NULL, NULL, list_one, &lc, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "danemx tlsrpt: %s\n", err);
		return EX_SOFTWARE;
	}
	if (lc.n == 0 && !c->json)
		fprintf(stderr, "danemx tlsrpt: no TLS results recorded\n");
	return 0;
}

/* domain_arg - DOMAIN lowercase without a final dot; -1 if it is none */
static int
domain_arg(const char *in, char *out, size_t outlen)
{
	size_t	 n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, in, n);
	out[n] = '\0';
	str_lower(out);
	return sts_domain_ok(out) ? 0 : -1;
}

struct sent_ctx {
	const char	*day;
	char		 id[STATE_TLSRPT_ID_MAX];
};

static int
sent_id(void *arg, const struct state_tlsrpt_day *d)
{
	struct sent_ctx	*sc = arg;

	if (strcmp(d->day, sc->day) == 0 && strcmp(d->state, "sent") == 0)
		strlcpy_(sc->id, d->report_id, sizeof(sc->id));
	return 0;
}

/* do_show - danemx tlsrpt show [--day D] DOMAIN */
static int
do_show(struct dmx_conf *conf, struct state *st, const char *domain,
    const char *day)
{
	struct tlsrpt_report_info	 info;
	struct sent_ctx			 sid;
	struct buf			 b;
	char				 err[512], host[256];
	int				 n;

	memset(&info, 0, sizeof(info));
	info.organization = conf->organization_name;
	info.contact = conf->contact_info;
	info.submitter = cli_tlsrpt_submitter(conf, host, sizeof(host));
	/* a report already sent: with the id it was sent with */
	memset(&sid, 0, sizeof(sid));
	sid.day = day;
	if (state_tlsrpt_days(st, domain, NULL, sent_id, &sid, err,
	    sizeof(err)) == 0 && sid.id[0] != '\0')
		info.report_id = sid.id;
	buf_init(&b, TLSRPT_JSON_MAX);
	n = tlsrpt_report_json(&b, st, &info, domain, day, err, sizeof(err));
	if (n > 0)
		printf("%s\n", b.data);
	else if (n == 0)
		fprintf(stderr, "danemx tlsrpt: no TLS results for %s on %s\n",
		    domain, day);
	else
		fprintf(stderr, "danemx tlsrpt: %s\n", err);
	buf_free(&b);
	return n > 0 ? 0 : n == 0 ? 1 : EX_SOFTWARE;
}

/* check_args - the subcommand's arguments; 0 or an exit status */
static int
check_args(const char *sub, int nargs, char **args, struct tlsrpt_opts *o,
    char *domain, size_t domainlen, char *day)
{
	char	 t[32];
	time_t	 when;

	if (strcmp(sub, "list") == 0 && (nargs != 0 || o->day || o->domain))
		return cli_usage_error("tlsrpt", "list takes no arguments");
	if (strcmp(sub, "show") == 0 && (nargs != 1 || o->domain))
		return cli_usage_error("tlsrpt", "show takes one DOMAIN");
	if (strcmp(sub, "send") == 0 && nargs != 0)
		return cli_usage_error("tlsrpt", "send takes no arguments");
	if (nargs == 1 && domain_arg(args[0], domain, domainlen) == -1)
		return cli_usage_error("tlsrpt", "'%s' is not a domain",
		    args[0]);
	if (o->domain != NULL && domain_arg(o->domain, domain, domainlen) ==
	    -1)
		return cli_usage_error("tlsrpt", "--domain %s: not a domain",
		    o->domain);
	if (o->day != NULL) {
		snprintf(t, sizeof(t), "%.10sT00:00:00Z", o->day);
		if (strlen(o->day) != 10 || tlsrpt_parse_time(t, &when) == -1)
			return cli_usage_error("tlsrpt", "--day %s: not "
			    "YYYY-MM-DD", o->day);
		strlcpy_(day, o->day, TLSRPT_DAY_LEN);
	} else if (tlsrpt_day(tlsrpt_now() - 86400, day) == -1)
		return EX_SOFTWARE;
	return 0;
}

/* cmd_tlsrpt - danemx tlsrpt list | show DOMAIN | send */
int
cmd_tlsrpt(struct cli *c, int argc, char **argv)
{
	struct tlsrpt_opts	 o;
	struct dmx_conf		 conf;
	struct state		*st;
	const char		*sub;
	char			 domain[DMX_NAME_MAX] = "", day[TLSRPT_DAY_LEN];
	char			 err[512];
	int			 rv;

	memset(&o, 0, sizeof(o));
	if ((rv = parse_opts(c, argc, argv, &o)) != 0)
		return rv == -1 ? 0 : rv;
	if (optind >= argc || (strcmp(argv[optind], "list") != 0 &&
	    strcmp(argv[optind], "show") != 0 &&
	    strcmp(argv[optind], "send") != 0))
		return cli_usage_error("tlsrpt", "expected list, show or send");
	sub = argv[optind];
	if ((rv = check_args(sub, argc - optind - 1, argv + optind + 1, &o,
	    domain, sizeof(domain), day)) != 0)
		return rv;
	if (cli_load_conf(&conf, o.co.file, o.co.sets, o.co.nsets,
	    "tlsrpt") == -1)
		return EX_CONFIG;
	if (strcmp(sub, "list") != 0 && (conf_check(&conf, err,
	    sizeof(err)) == -1 || conf.organization_name == NULL ||
	    conf.contact_info == NULL)) {
		fprintf(stderr, "danemx tlsrpt: %s\n", conf_check(&conf, err,
		    sizeof(err)) == -1 ? err : "a report needs "
		    "organization_name and contact_info");
		conf_free(&conf);
		return EX_CONFIG;
	}
	if (strcmp(sub, "send") == 0) {
		rv = cli_tlsrpt_send(c, &conf, o.day != NULL ? day : NULL,
		    o.domain != NULL ? domain : NULL);
		conf_free(&conf);
		return rv;
	}
	if (c->json)
		log_set_quiet(1);
	if ((st = cli_relay_store("tlsrpt", "TLS results", &conf, 0)) ==
	    NULL) {
		conf_free(&conf);
		return EX_NOINPUT;
	}
	rv = strcmp(sub, "list") == 0 ? do_list(c, st) : do_show(&conf, st,
	    domain, day);
	state_close(st);
	conf_free(&conf);
	return rv;
}
