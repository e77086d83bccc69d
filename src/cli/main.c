/*
 * main.c - danemx COMMAND [options]: global options and dispatch.
 *
 * Parses the options common to all commands that come before the
 * command name, then hands the rest to the command, which accepts the
 * same common options again. Nothing here outlives main().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "log/log.h"
#include "util/util.h"

static const struct {
	const char	*name;
	int		(*fn)(struct cli *, int, char **);
	const char	*summary;
} commands[] = {
	{ "dns", cmd_dns, "look up a name with DNSSEC and show its status" },
	{ "verify", cmd_verify, "check a certificate chain against TLSA records" },
	{ "tlsa", cmd_tlsa, "make TLSA records from a certificate or key" },
	{ "check", cmd_check, "diagnose DANE delivery to each MX host of domains" },
	{ "probe", cmd_probe, "ask an MX whether it accepts recipients (no mail)" },
	{ "send", cmd_send, "deliver one message from stdin now, without a queue" },
	{ "sts", cmd_sts, "show the MTA-STS policy of domains and their MX hosts" },
	{ "serve", cmd_serve, "run the relay: accept, queue and deliver with DANE" },
	{ "sendmail", cmd_sendmail, "queue a message from stdin (sendmail(8))" },
	{ "queue", cmd_queue, "list, show, delete, hold, release, flush" },
	{ "tlsrpt", cmd_tlsrpt, "TLS reports (RFC 8460): list, show, send" },
	{ "bypass", cmd_bypass, "the DANE bypass list: list, add, remove, recheck" },
	{ "domains", cmd_domains, "what the relay knows of each destination" },
};

static void
usage(FILE *fp)
{
	size_t	 i;

	fprintf(fp,
"usage: danemx [common options] COMMAND [options] [arguments]\n"
"\n"
"danemx delivers mail with DANE (RFC 7672): it validates DNSSEC itself,\n"
"looks up TLSA records and authenticates each MX host's TLS certificate.\n"
"\n"
"Commands:\n");
	for (i = 0; i < DMX_NELEM(commands); i++)
		fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp,
"\n"
"'danemx COMMAND --help' describes a command.\n"
"\n"
CLI_COMMON_HELP
"      --version               print the version\n");
}

/* cli_usage_error - report a usage error for cmd; returns EX_USAGE */
int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "danemx%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'danemx %s%s--help'.\n", cmd ? cmd : "",
	    cmd ? " " : "");
	return EX_USAGE;
}

/*
 * cli_common_opt - handle one common option. Returns 0 when handled,
 * 1 when ch is not a common option, -1 on a bad value (reported).
 */
int
cli_common_opt(struct cli *c, int ch, const char *arg)
{
	unsigned long	 v;

	switch (ch) {
	case 'R':
		c->resolver_config = arg;
		return 0;
	case 'v':
		c->verbose++;
		log_init("danemx", 0, c->verbose);
		return 0;
	case CLI_OPT_JSON:
		c->json = 1;
		return 0;
	case CLI_OPT_FORWARDER:
		c->forwarder = arg;
		return 0;
	case CLI_OPT_TA:
		c->trust_anchor = arg;
		return 0;
	case CLI_OPT_TIMEOUT:
		if (parse_uint(arg, 86400, &v) == -1 || v == 0) {
			fprintf(stderr, "danemx: --timeout: '%s' is not a number"
			    " of seconds between 1 and 86400\n", arg);
			return -1;
		}
		c->timeout_ms = (unsigned)v * 1000;
		return 0;
	}
	return 1;
}

/* cli_resolver - the resolver the common options describe, or NULL */
struct dmx_resolver *
cli_resolver(struct cli *c, struct event_base *base)
{
	struct dmx_resolver_conf rc;
	struct dmx_resolver	*r;
	char			 err[512];

	memset(&rc, 0, sizeof(rc));
	rc.config_file = c->resolver_config;
	rc.trust_anchor_file = c->trust_anchor;
	rc.forwarder = c->forwarder;
	rc.timeout_ms = c->timeout_ms;
	if ((r = dmx_resolver_new(base, &rc, err, sizeof(err))) == NULL)
		fprintf(stderr, "danemx: resolver: %s\n", err);
	else
		log_debug("resolver: %s", dmx_resolver_anchor(r));
	return r;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli	 c;
	size_t		 i;
	int		 ch;

	memset(&c, 0, sizeof(c));
	log_init("danemx", 0, 0);

	/* "+": stop at the command name; its own options follow it. */
	while ((ch = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("danemx %s\n", DANEMX_VERSION);
			return 0;
		case '?':
			return cli_usage_error(NULL, "unknown option");
		default:
			if (cli_common_opt(&c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[0], "help") == 0) {
		if (argc < 2) {
			usage(stdout);
			return 0;
		}
		argv[0] = argv[1];
		argv[1] = (char *)"--help";
		argc = 2;
	}
	for (i = 0; i < DMX_NELEM(commands); i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			optind = 0;	/* full getopt reset for the command */
			return commands[i].fn(&c, argc, argv);
		}
	}
	return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
}
