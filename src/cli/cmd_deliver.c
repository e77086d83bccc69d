/*
 * cmd_deliver.c - danemx check, probe and send: one code path.
 *
 * All three run deliver_start() (src/deliver) on the same event
 * loop: check stops after TLS and QUIT at every host, probe stops after
 * RCPT at the first host that answers under its TLS demand, send goes
 * through DATA. Results are printed, then freed, before returning.
 */
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/check_scan.h"
#include "cli/cli.h"
#include "log/log.h"
#include "deliver/deliver.h"
#include "http/http.h"
#include "sts/sts.h"
#include "util/util.h"

#define MAX_RCPTS	1000
#define MAX_DOMAINS	1000
#define MAX_MESSAGE	(64UL * 1024 * 1024)

enum {
	OPT_POLICY = CLI_OPT_FIRST_COMMAND_OPT,
	OPT_BYPASS, OPT_HELO, OPT_FROM, OPT_RCPT, OPT_NEXTHOP, OPT_QUIET,
	OPT_SOURCE, OPT_CA_FILE, OPT_NO_STS, OPT_TRANSPORT,
	OPT_FILE, OPT_CONCURRENCY, OPT_SUGGEST_BYPASS, OPT_HOST_CONCURRENCY
};

/* Exit codes of check (documented in --help and danemx(8)). */
#define CHECK_OK		0
#define CHECK_UNREACHABLE	1
#define CHECK_DANE		2
#define CHECK_DNSSEC		3
#define CHECK_TLS		4
#define CHECK_DNS		5
#define CHECK_STS		6

static const char check_help[] =
"usage: danemx check [options] DOMAIN...\n"
"       danemx check [options] --file FILE|- [--concurrency N]\n"
"                    [--host-concurrency N] [--suggest-bypass[=DAYSd]]\n"
"\n"
"Diagnose mail delivery to each DOMAIN as danemx would deliver: look up\n"
"its MX hosts with DNSSEC, their addresses and TLSA records, then connect\n"
"to every address of every MX host, STARTTLS, authenticate the server\n"
"against its TLSA records, and QUIT. Nothing is sent. Domains are checked\n"
"concurrently. The log on stderr shows each step (the certificate chain,\n"
"the matched TLSA record and its depth, why a host fails); with --json,\n"
"stdout has one object per domain with the whole trace.\n"
"\n"
"DOMAIN may be an address literal, [192.0.2.1] or [192.0.2.1]:PORT, to\n"
"talk to one server directly (DANE does not apply to it), or [HOST]:PORT\n"
"for one host without MX lookup (its addresses and TLSA records decide).\n"
"With --transport, a DOMAIN the table routes elsewhere is checked at its\n"
"next hop, and the route is shown.\n"
"\n"
"A scan of many domains: --file FILE (or - for stdin) has one domain a\n"
"line; blank lines and '#' comments are skipped, a malformed line is\n"
"reported with its number and skipped. The file is read as checks end\n"
"(never all at once), and each domain is checked as above at its own MX\n"
"hosts (no --transport), N at a time on one event loop. Each domain gets\n"
"one line on stdout: its verdict (dane-verified, sts-verified, verified,\n"
"encrypted, opportunistic, cleartext: the weakest TLS of its hosts; or\n"
"failed and the failure class), the MX a delivery would use, the TLSA\n"
"record that matched and its depth. With --json, one JSON object a line\n"
"(domain, verdict, exit, fail, why, mx, address, tls, matched, depth,\n"
"bypass, bypass_suggested, hosts), and a last line {\"summary\": ...}.\n"
"Then a summary: how many domains got each verdict, failures by class.\n"
"No log lines (unless -v); on a terminal, a progress line on stderr. An\n"
"interrupt (^C) stops reading the list; the checks running end, then the\n"
"summary.\n"
"\n"
"Options:\n"
"      --policy FILE   TLS policy table ('domain level' lines; levels none,\n"
"                      may, encrypt, dane, dane-only, verify)\n"
"      --transport FILE  transport table ('domain nexthop' lines; nexthop\n"
"                      [host]:port, host, discard or error:5.X.X text)\n"
"      --bypass FILE   DANE bypass list ('domain [until WHEN | for N added\n"
"                      WHEN] [added WHEN] [# why]'; see danemx bypass)\n"
"      --helo NAME     name to send in EHLO (default: this host's name)\n"
"      --source ADDR   connect from this local address (once per family)\n"
"      --ca-file FILE  WebPKI roots (PEM) for MTA-STS and the verify and\n"
"                      secure levels, instead of the system's CA store\n"
"      --no-mta-sts    leave MTA-STS (RFC 8461) out\n"
"  -q, --quiet         no log lines, only the result\n"
"      --file FILE     check the domains listed in FILE ('-': stdin)\n"
"      --concurrency N domains checked at once with --file (default 50,\n"
"                      at most 1000)\n"
"      --host-concurrency N\n"
"                      sessions at once to one server address (IP and\n"
"                      port), over all the domains checked (default 5;\n"
"                      0: no limit). Many domains share a few MX hosts;\n"
"                      receivers limit the connections one client may\n"
"                      hold (421 replies, counted as failures), and a\n"
"                      burst of them looks like abuse. A domain whose\n"
"                      host is at the limit waits its turn, and counts\n"
"                      toward --concurrency while it waits.\n"
"      --suggest-bypass[=DAYSd]\n"
"                      with --file: print bypass list entries\n"
"                      ('example.com for 7d # tlsa-invalid (danemx check)')\n"
"                      for the domains that fail DANE by their own records\n"
"                      (no TLSA record matches the server's certificate,\n"
"                      or a DANE-TA certificate has a wrong name, expired,\n"
"                      or does not chain) and have no host that passes;\n"
"                      never for bogus DNSSEC, missing STARTTLS, DNS or\n"
"                      connection failures. The entries alone go to\n"
"                      stdout, the lines and the summary to stderr.\n"
"                      Expiry 7d unless given (1d to 365d).\n"
"\n"
"Exit status (the worst over all domains, in this order of precedence):\n"
"  2   DANE failure: a TLSA record did not match, or dane-only without TLSA\n"
"  3   DNSSEC failure: a bogus MX, address or TLSA answer\n"
"  6   MTA-STS failure: an enforce policy cannot be met (no pattern\n"
"      matches, WebPKI failed, TLS missing)\n"
"  4   TLS failure: STARTTLS missing or refused, or the handshake failed\n"
"  5   DNS error: SERVFAIL, timeout, no such domain or host\n"
"  1   a server could not be reached or refused the session\n"
"  0   every host is as good as its DNS allows\n"
"  With --file, when no domain failed: 130 interrupted, 74 the file could\n"
"  not be read to its end, 65 a line was malformed; 66 the file cannot be\n"
"  opened.\n"
"  64  usage error     78  configuration error\n"
"\n"
CLI_COMMON_HELP;

/* Help text probe and send share. */
#define PROBE_SEND_OPTS_HELP						\
"      --policy FILE   TLS policy table\n"					\
"      --bypass FILE   DANE bypass list\n"					\
"      --transport FILE  transport table (domain to next hop)\n"		\
"      --helo NAME     name to send in EHLO\n"				\
"      --source ADDR   connect from this local address (once per family)\n" \
"      --ca-file FILE  WebPKI roots for MTA-STS, verify and secure\n"	\
"      --no-mta-sts    leave MTA-STS (RFC 8461) out\n"			\
"  -q, --quiet         no log lines\n"					\
"\n"									\
"Exit status:\n"
#define PROBE_SEND_EXIT_HELP						\
"  69  other permanent failure        75  deferred (DNS, DANE, 4xx, no host)\n" \
"  64  usage error                    78  configuration error\n"		\
"\n"									\
CLI_COMMON_HELP

static const char probe_help[] =
"usage: danemx probe [options] --from ADDR --rcpt ADDR [--rcpt ADDR...]\n"
"\n"
"Ask the recipients' mail server whether it would accept mail for each\n"
"recipient, without delivering anything: MAIL FROM, RCPT TO each, QUIT.\n"
"It takes exactly the route and TLS demands of a real delivery and\n"
"stops at the first host that answers under its TLS demand. Each RCPT\n"
"reply (code, enhanced code, text) is reported with the DANE verdict.\n"
"\n"
"Options:\n"
"      --from ADDR     envelope sender ('' for the null sender)\n"
"      --rcpt ADDR     a recipient; repeat for more (one domain)\n"
"      --nexthop DEST  deliver to DEST (a domain, [ADDR]:PORT, or\n"
"                      [HOST]:PORT without MX lookup) instead of the\n"
"                      recipients' domain\n"
PROBE_SEND_OPTS_HELP
"  0   every recipient accepted       67  a recipient rejected (5xx)\n"
PROBE_SEND_EXIT_HELP;

static const char send_help[] =
"usage: danemx send [options] --from ADDR --to ADDR [--to ADDR...] < MESSAGE\n"
"\n"
"Make one delivery attempt of the RFC 5322 message on stdin, now and\n"
"without a queue, over the same route and TLS demands as the relay.\n"
"Line endings (CRLF or LF) are sent as CRLF, a lone CR as a space, and\n"
"lines starting with '.' are stuffed. The message streams to the server\n"
"in chunks. A port goes in --nexthop, never in an address.\n"
"\n"
"Options:\n"
"      --from ADDR     envelope sender ('' for the null sender)\n"
"      --to ADDR       a recipient; repeat for more (one domain)\n"
"      --nexthop DEST  deliver to DEST (a domain, [ADDR]:PORT, or\n"
"                      [HOST]:PORT without MX lookup)\n"
PROBE_SEND_OPTS_HELP
"  0   delivered                      67  a recipient rejected (5xx)\n"
PROBE_SEND_EXIT_HELP;

struct job {
	const char		*cmd;
	enum smtp_job		 kind;
	const char		*policy_file, *bypass_file, *helo, *from;
	const char		*transport_file;
	const char		*nexthop;
	const char		*rcpts[MAX_RCPTS];
	size_t			 nrcpt;
	const char		*domains[MAX_DOMAINS];
	size_t			 ndom;
	struct deliver_result	*res[MAX_DOMAINS];
	const struct transport_entry *fixed[MAX_DOMAINS]; /* discard, error */
	struct slot {
		struct job	*j;
		size_t		 i;
	}			 slot[MAX_DOMAINS];
	size_t			 pending;
	int			 quiet;
	struct net_addr	 src4, src6;
	int			 have4, have6;
	const char		*ca_file;	/* WebPKI roots; NULL: system */
	int			 no_sts;	/* --no-mta-sts */
	char			 helobuf[256];
	struct buf		 msg;
	/* check --file: a scan of a list, at most concurrency at once */
	struct scan_opts	 so;
	struct scan		*scan;
	size_t			 concurrency;
	unsigned		 host_concurrency; /* per server address */
	int			 worst;		/* the worst exit status yet */
	struct event		*sigint;	/* SIGINT: read no more */
	int			 interrupted;
};

static int	check_code(const struct deliver_result *);
static int	check_rank(int);

static void
job_done(void *arg, struct deliver_result *r)
{
	struct slot	*sl = arg;
	struct job	*j = sl->j;

	if (j->res[sl->i] == NULL)
		j->res[sl->i] = r;
	else
		deliver_result_free(r);
	j->pending--;
}

/* scan_done - one domain of a scan ended: printed now, then freed */
static void
scan_done(void *arg, struct deliver_result *r)
{
	struct job	*j = arg;
	int		 code;

	code = check_code(r);
	if (check_rank(code) > check_rank(j->worst))
		j->worst = code;
	scan_result(j->scan, r, code);
	deliver_result_free(r);
	j->pending--;
}

/* check_code - the exit status a domain's result earns: its records'
 * worst kind of failure (deliver_result_kind()) */
static int
check_code(const struct deliver_result *r)
{
	switch (deliver_result_kind(r)) {
	case DELIVER_KIND_OK:		return CHECK_OK;
	case DELIVER_KIND_DANE:		return CHECK_DANE;
	case DELIVER_KIND_DNSSEC:	return CHECK_DNSSEC;
	case DELIVER_KIND_TLS:		return CHECK_TLS;
	case DELIVER_KIND_DNS:		return CHECK_DNS;
	case DELIVER_KIND_STS:		return CHECK_STS;
	case DELIVER_KIND_UNREACHABLE:	return CHECK_UNREACHABLE;
	}
	return CHECK_UNREACHABLE;
}

static int
check_rank(int code)
{
	static const int order[] = { CHECK_OK, CHECK_UNREACHABLE, CHECK_DNS,
	    CHECK_TLS, CHECK_STS, CHECK_DNSSEC, CHECK_DANE };
	size_t	 i;

	for (i = 0; i < DMX_NELEM(order); i++)
		if (order[i] == code)
			return (int)i;
	return 0;
}

/* send_code - sysexits for probe and send */
static int
send_code(const struct deliver_result *r)
{
	size_t	 i;

	switch (r->outcome) {
	case OUTCOME_DELIVERED:
	case OUTCOME_ACCEPTED:
		for (i = 0; i < r->nrcpt; i++)
			if (r->rcpt[i].code >= 500)
				return EX_NOUSER;
		return 0;
	case OUTCOME_REJECTED:
		for (i = 0; i < r->nrcpt; i++)
			if (r->rcpt[i].code >= 500)
				return EX_NOUSER;
		return EX_UNAVAILABLE;
	case OUTCOME_DEFERRED:
		break;
	}
	return EX_TEMPFAIL;
}

/* print_summary - the result in a few lines on stdout */
static void
print_summary(const struct job *j, const struct deliver_result *r)
{
	const struct deliver_attempt *a;
	const struct route_host	*h;
	const char		*dom = r->domain;
	size_t			 i;

	if (strcmp(r->rte.via, "transport") == 0)
		dom = r->rte.domain;	/* the domain asked about */
	if (strcmp(r->rte.via, "mx") != 0)
		printf("route: %s\n", r->rte.text);
	for (i = 0; i < r->natt; i++) {
		a = &r->att[i];
		h = &r->route->hosts[a->host];
		if (a->skipped)
			printf("  %s: not used: %s\n", h->name, h->why);
		else if (a->ok)
			printf("  %s[%s]: ok, TLS %s%s%s\n", h->name, a->addr,
			    deliver_tls_str(a->tls), a->have_verdict &&
			    a->verdict.effect == DANE_EFFECT_AUTHENTICATE ?
			    ", DANE " : "", a->have_verdict &&
			    a->verdict.effect == DANE_EFFECT_AUTHENTICATE ?
			    a->verdict.text : "");
		else
			printf("  %s[%s]: failed: %s\n", h->name, a->addr,
			    a->error);
	}
	for (i = 0; i < r->nrcpt; i++)
		printf("  <%s>: %d %s\n", j->rcpts[i], r->rcpt[i].code,
		    r->rcpt[i].text);
	if (j->kind == SMTP_JOB_CHECK) {
		size_t nfail = 0, nhost = 0;

		for (i = 0; i < r->natt; i++) {
			nhost++;
			if (!r->att[i].ok)
				nfail++;
		}
		if (r->outcome == OUTCOME_ACCEPTED)
			printf("%s: ok: every host is as good as its DNS allows\n",
			    dom);
		else
			printf("%s: FAILED at %zu of %zu host address%s: %s%s%s%s\n",
			    dom, nfail, nhost, nhost == 1 ? "" : "es",
			    r->why, r->fail != DMX_FAIL_NONE ? " [" : "",
			    r->fail != DMX_FAIL_NONE ? fail_name(r->fail) :
			    "", r->fail != DMX_FAIL_NONE ? "]" : "");
		return;
	}
	printf("%s: %s", dom, deliver_outcome_str(r->outcome));
	if (r->used >= 0)
		printf(" via %s[%s] (TLS %s)",
		    r->route->hosts[r->att[r->used].host].name,
		    r->att[r->used].addr, deliver_tls_str(r->att[r->used].tls));
	if (r->outcome == OUTCOME_DEFERRED || r->outcome == OUTCOME_REJECTED)
		printf(": %s", r->why);
	if (r->fail != DMX_FAIL_NONE)
		printf(" [%s]", fail_name(r->fail));
	printf("\n");
}

static int
read_message(struct buf *b)
{
	char	 chunk[65536];
	size_t	 n;

	buf_init(b, MAX_MESSAGE);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_add(b, chunk, n) == -1)
			return -1;
	return ferror(stdin) ? -1 : 0;
}

static const char *
rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

static int
valid_addr(const char *a)
{
	const unsigned char *p;

	if (strlen(a) > 512)
		return 0;
	for (p = (const unsigned char *)a; *p != '\0'; p++)
		if (*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f)
			return 0;
	return 1;
}

/* run_tables - the policy table, the bypass list and the transport
 * table, if named; 0 or an exit status */
static int
run_tables(struct job *j, struct policy_table *pol, struct policy_table *byp,
    struct transport_table *tt)
{
	char	 err[700];

	if (j->transport_file != NULL && route_transport_load(tt,
	    j->transport_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx %s: transport table: %s\n", j->cmd, err);
		return EX_CONFIG;
	}
	if (j->policy_file != NULL &&
	    policy_table_load(pol, j->policy_file, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx %s: policy: %s\n", j->cmd, err);
		return EX_CONFIG;
	}
	if (j->bypass_file != NULL &&
	    policy_table_load(byp, j->bypass_file, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx %s: bypass list: %s\n", j->cmd, err);
		return EX_CONFIG;
	}
	return 0;
}

/*
 * start_one - a delivery to one domain, on base: the one path of check
 * DOMAIN..., check --file, probe and send. For the domains of the command
 * line (slot i) the transport table routes it; a scan (i == SCAN_SLOT)
 * checks each domain at its own MX hosts and prints it as it ends. 0 or
 * an exit status.
 */
#define SCAN_SLOT	((size_t)-1)
static int
start_one(struct job *j, struct event_base *base, struct dmx_resolver *r,
    const struct deliver_env *env, const char *domain, size_t i)
{
	struct deliver_conf	 dc;
	char			 err[512], text[3 * DMX_NAME_MAX + 32];

	if (i == SCAN_SLOT) {
		deliver_conf_for(&dc, env, domain, j->kind, time(NULL));
		dc.done = scan_done;
		dc.arg = j;
	} else {
		if (j->nexthop != NULL || domain[0] == '[') {
			/* An explicit next hop: no transport table. */
			deliver_conf_for(&dc, env, domain, j->kind, time(NULL));
			dc.route_via = "nexthop";
			dc.route_domain = j->nrcpt > 0 ?
			    rcpt_domain(j->rcpts[0]) : domain;
			dc.route_nexthop = domain;
		} else if ((j->fixed[i] = deliver_conf_route(&dc, env, domain,
		    j->kind, time(NULL))) != NULL) {
			/* discard or error: nothing to start */
			log_info("%s: route: %s", domain, deliver_route_text(text,
			    sizeof(text), "transport", domain,
			    j->fixed[i]->pattern, j->fixed[i]->nexthop));
			return 0;
		}
		dc.done = job_done;
		j->slot[i].j = j;
		j->slot[i].i = i;
		dc.arg = &j->slot[i];
	}
	dc.mail_from = j->from;
	dc.rcpts = j->rcpts;
	dc.nrcpt = j->nrcpt;
	dc.body.mem = j->msg.data ? j->msg.data : "";
	dc.body.len = j->msg.len;
	if (deliver_start(base, r, &dc, err, sizeof(err)) == NULL) {
		fprintf(stderr, "danemx %s: %s: %s\n", j->cmd, domain, err);
		return EX_SOFTWARE;
	}
	j->pending++;
	return 0;
}

/* run_start - a delivery to each domain, on base; 0 or an exit status */
static int
run_start(struct cli *c, struct job *j, struct event_base *base,
    struct dmx_resolver *r, const struct deliver_env *env)
{
	size_t	 i;
	int	 rv;

	for (i = 0; i < j->ndom; i++)
		if ((rv = start_one(j, base, r, env, j->domains[i], i)) != 0)
			return rv;
	(void)c;
	return 0;
}

/*
 * report_fixed - a domain the transport table discards or bounces: no
 * host to talk to. Its route and what becomes of the mail, on stdout;
 * probe's and send's exit status (check's is 0: no DANE to fail).
 */
static int
report_fixed(struct cli *c, const struct job *j, size_t i)
{
	const struct transport_entry *te = j->fixed[i];
	struct deliver_route	 rte;
	struct buf		 out;
	char			 why[TRANSPORT_TEXT_MAX + 100];
	int			 discard = te->action == TRANSPORT_DISCARD;

	memset(&rte, 0, sizeof(rte));
	strlcpy_(rte.via, "transport", sizeof(rte.via));
	strlcpy_(rte.domain, j->domains[i], sizeof(rte.domain));
	strlcpy_(rte.match, te->pattern, sizeof(rte.match));
	strlcpy_(rte.nexthop, te->nexthop, sizeof(rte.nexthop));
	deliver_route_text(rte.text, sizeof(rte.text), rte.via, rte.domain,
	    rte.match, rte.nexthop);
	if (discard)
		snprintf(why, sizeof(why), "discarded by the transport table");
	else
		snprintf(why, sizeof(why), "%s %s", te->enhanced, te->text[0] ?
		    te->text : "rejected by the transport table");
	if (c->json) {
		buf_init(&out, 64 * 1024);
		buf_adds(&out, "{");
		json_kv_str(&out, "domain", j->domains[i]);
		buf_adds(&out, ",\"route\":");
		deliver_route_json(&out, &rte);
		buf_adds(&out, ",\"attempts\":[],");
		json_kv_str(&out, "outcome", discard ? "discarded" :
		    deliver_outcome_str(OUTCOME_REJECTED));
		buf_adds(&out, ",");
		json_kv_str(&out, "why", why);
		buf_adds(&out, "}");
		printf("%s\n", out.data);
		buf_free(&out);
	} else {
		printf("route: %s\n", rte.text);
		printf("%s: %s: %s%s\n", j->domains[i], discard ? "discarded" :
		    deliver_outcome_str(OUTCOME_REJECTED), why,
		    j->kind == SMTP_JOB_CHECK ? " (no host to check)" : "");
	}
	return discard ? 0 : EX_NOUSER;
}

/* scan_interrupt - SIGINT during a scan: read no more of the list, let
 * the checks running end, then the summary; a second SIGINT (the
 * default action again) ends the process at once */
static void
scan_interrupt(evutil_socket_t sig, short ev, void *arg)
{
	struct job	*j = arg;

	(void)sig;
	(void)ev;
	event_del(j->sigint);
	j->interrupted = 1;
	scan_interrupted(j->scan, j->pending);
}

/* scan_readable - the list can be read again (run_scan() reads it) */
static void
scan_readable(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
}

/*
 * run_scan - check --file: keep up to concurrency checks running, taking
 * the next domain from the list as each one ends (the list is read only
 * as far as that needs, 64 KiB at most ahead), then the summary; its exit
 * status
 */
static int
run_scan(struct job *j, struct event_base *base, struct dmx_resolver *r,
    const struct deliver_env *env)
{
	struct event	*rd;
	char		 domain[DMX_NAME_MAX + 64];
	int		 next = SCAN_DOMAIN, rv = 0;

	/* a pipe with no whole line yet: the loop wakes when it has one */
	if ((rd = event_new(base, scan_fd(j->scan), EV_READ, scan_readable,
	    NULL)) == NULL)
		return EX_OSERR;
	if ((j->sigint = evsignal_new(base, SIGINT, scan_interrupt, j)) ==
	    NULL || evsignal_add(j->sigint, NULL) == -1) {
		rv = EX_OSERR;
		goto out;
	}
	for (;;) {
		while (next != SCAN_END && !j->interrupted &&
		    j->pending < j->concurrency) {
			next = scan_next(j->scan, domain, sizeof(domain));
			if (next == SCAN_WAIT) {
				if (!event_pending(rd, EV_READ, NULL) &&
				    event_add(rd, NULL) == -1) {
					rv = EX_OSERR;
					goto out;
				}
				break;
			}
			if (next == SCAN_DOMAIN &&
			    (rv = start_one(j, base, r, env, domain,
			    SCAN_SLOT)) != 0)
				goto out;
		}
		if (j->pending == 0 && (next == SCAN_END || j->interrupted))
			break;
		scan_progress(j->scan, j->pending);
		if (event_base_loop(base, EVLOOP_ONCE) == -1) {
			rv = EX_SOFTWARE;
			goto out;
		}
	}
	rv = scan_finish(j->scan, j->worst);
out:
	if (j->sigint != NULL)
		event_free(j->sigint);
	j->sigint = NULL;
	event_free(rd);
	return rv;
}

/* run_report - print each result; the exit status they earn */
static int
run_report(struct cli *c, struct job *j)
{
	struct buf	 out;
	size_t		 i;
	int		 rv = 0, code, worst = CHECK_OK;

	for (i = 0; i < j->ndom; i++) {
		if (j->fixed[i] != NULL) {
			code = report_fixed(c, j, i);
			if (j->kind != SMTP_JOB_CHECK)
				rv = code;
			continue;
		}
		if (j->res[i] == NULL)
			continue;
		if (c->json) {
			buf_init(&out, 64 * 1024 * 1024);
			deliver_result_json(&out, j->res[i]);
			printf("%s\n", out.data);
			buf_free(&out);
		} else
			print_summary(j, j->res[i]);
		if (j->kind == SMTP_JOB_CHECK) {
			code = check_code(j->res[i]);
			if (check_rank(code) > check_rank(worst))
				worst = code;
			rv = worst;
		} else
			rv = send_code(j->res[i]);
	}
	return rv;
}

/* run_sts - a policy cache of MTA-STS for this run (in memory: each run
 * looks the policies up afresh) and the HTTPS client it fetches with */
static int
run_sts(struct job *j, struct event_base *base, struct dmx_resolver *r,
    unsigned timeout_ms, struct http_client **http, struct sts **sts)
{
	struct http_conf	 hc;
	struct sts_conf		 sc;
	char			 err[512];

	memset(&hc, 0, sizeof(hc));
	hc.ca_file = j->ca_file;
	if ((*http = http_client_new(base, r, &hc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "danemx %s: HTTPS: %s\n", j->cmd, err);
		return EX_SOFTWARE;
	}
	memset(&sc, 0, sizeof(sc));
	sc.base = base;
	sc.resolver = r;
	sc.http = *http;
	sc.no_refresh = 1;
	sc.quiet = 1;		/* the delivery says what it found */
	sc.fetch_timeout_ms = timeout_ms;
	if ((*sts = sts_new(&sc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx %s: MTA-STS: %s\n", j->cmd, err);
		return EX_SOFTWARE;
	}
	return 0;
}

/* run - deliver to every domain of the job at once, then report */
static int
run(struct cli *c, struct job *j)
{
	struct policy_table	 pol = { NULL, 0 }, byp = { NULL, 0 };
	struct transport_table	 tt;
	struct event_base	*base = NULL;
	struct dmx_resolver	*r = NULL;
	struct http_client	*http = NULL;
	struct sts		*sts = NULL;
	struct deliver_env	 env;
	struct tls_pkix		 pkix;
	char			 err[512];
	size_t			 i;
	int			 rv;

	memset(&env, 0, sizeof(env));
	memset(&pkix, 0, sizeof(pkix));
	memset(&tt, 0, sizeof(tt));
	pkix.ca_file = j->ca_file;
	if ((rv = run_tables(j, &pol, &byp, &tt)) != 0)
		goto out;
	if (j->helo == NULL) {
		if (gethostname(j->helobuf, sizeof(j->helobuf) - 1) == -1 ||
		    j->helobuf[0] == '\0')
			strlcpy_(j->helobuf, "localhost", sizeof(j->helobuf));
		j->helo = j->helobuf;
	}
	if (j->quiet)
		log_set_quiet(1);
	/* The CA store (~30 ms) loads when WebPKI is first needed. */
	if ((env.dane_ctx = tls_client_ctx_new(err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx %s: TLS: %s\n", j->cmd, err);
		rv = EX_SOFTWARE;
		goto out;
	}
	if ((base = event_base_new()) == NULL) {
		rv = EX_OSERR;
		goto out;
	}
	if ((r = cli_resolver(c, base)) == NULL) {
		rv = EX_CONFIG;
		goto out;
	}
	if (!j->no_sts && (rv = run_sts(j, base, r, c->timeout_ms, &http,
	    &sts)) != 0)
		goto out;
	if (j->kind == SMTP_JOB_CHECK && j->host_concurrency > 0 &&
	    (env.gate = deliver_gate_new(base, j->host_concurrency)) == NULL) {
		rv = EX_OSERR;
		goto out;
	}
	env.timeout = c->timeout_ms / 1000;
	env.policy = &pol;
	env.bypass = &byp;
	env.transport = &tt;
	env.pkix = &pkix;
	env.sts = sts;
	env.helo = j->helo;
	env.src4 = j->have4 ? &j->src4 : NULL;
	env.src6 = j->have6 ? &j->src6 : NULL;
	if (j->scan != NULL) {
		rv = run_scan(j, base, r, &env);
		goto out;
	}
	if ((rv = run_start(c, j, base, r, &env)) != 0)
		goto out;
	while (j->pending > 0)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	rv = run_report(c, j);
out:
	for (i = 0; i < j->ndom; i++)
		deliver_result_free(j->res[i]);
	deliver_gate_free(env.gate);
	sts_free(sts);
	http_client_free(http);
	dmx_resolver_free(r);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(env.dane_ctx);
	tls_pkix_free(&pkix);
	policy_table_free(&pol);
	policy_table_free(&byp);
	route_transport_free(&tt);
	buf_free(&j->msg);
	return rv;
}

/* parse_host_concurrency - check's --host-concurrency N (0 to the
 * largest --concurrency); -1 on usage error */
static int
parse_host_concurrency(struct job *j, const char *arg)
{
	unsigned long	 n;

	if (parse_uint(arg, SCAN_CONCURRENCY_MAX, &n) == -1) {
		cli_usage_error(j->cmd, "--host-concurrency: '%s' is not a "
		    "number from 0 (no limit) to %d", arg,
		    SCAN_CONCURRENCY_MAX);
		return -1;
	}
	j->host_concurrency = (unsigned)n;
	return 0;
}

/* parse_scan - check's --file, --concurrency N, --suggest-bypass[=Nd];
 * -1 on usage error */
static int
parse_scan(struct job *j, int ch, const char *arg)
{
	char		*end;
	unsigned long	 n;

	switch (ch) {
	case OPT_FILE:
		if (arg[0] == '\0') {
			cli_usage_error(j->cmd, "--file: empty name ('-' is "
			    "stdin)");
			return -1;
		}
		j->so.path = arg;
		return 0;
	case OPT_CONCURRENCY:
		if (parse_uint(arg, SCAN_CONCURRENCY_MAX, &n) == -1 || n < 1) {
			cli_usage_error(j->cmd, "--concurrency: '%s' is not a "
			    "number from 1 to %d", arg, SCAN_CONCURRENCY_MAX);
			return -1;
		}
		j->concurrency = n;
		return 0;
	case OPT_SUGGEST_BYPASS:
		j->so.suggest = 1;
		if (arg == NULL)
			return 0;
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (!isdigit((unsigned char)arg[0]) || strcmp(end, "d") != 0 ||
		    errno != 0 || n < 1 || n > SCAN_BYPASS_DAYS_MAX) {
			cli_usage_error(j->cmd, "--suggest-bypass: '%s' is not "
			    "a number of days from 1d to %dd", arg,
			    SCAN_BYPASS_DAYS_MAX);
			return -1;
		}
		j->so.bypass_days = n;
		return 0;
	}
	return -1;
}

/* parse - options shared by the three commands; -1 on usage error */
static int
parse(struct cli *c, struct job *j, int argc, char **argv, const char *help)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "bypass", required_argument, NULL, OPT_BYPASS },
		{ "helo", required_argument, NULL, OPT_HELO },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "rcpt", required_argument, NULL, OPT_RCPT },
		{ "to", required_argument, NULL, OPT_RCPT },
		{ "nexthop", required_argument, NULL, OPT_NEXTHOP },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "ca-file", required_argument, NULL, OPT_CA_FILE },
		{ "no-mta-sts", no_argument, NULL, OPT_NO_STS },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "host-concurrency", required_argument, NULL,
		    OPT_HOST_CONCURRENCY },
		{ "suggest-bypass", optional_argument, NULL,
		    OPT_SUGGEST_BYPASS },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "q",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(help, stdout);
			return 1;
		case OPT_POLICY:
			j->policy_file = optarg;
			break;
		case OPT_BYPASS:
			j->bypass_file = optarg;
			break;
		case OPT_TRANSPORT:
			j->transport_file = optarg;
			break;
		case OPT_HELO:
			j->helo = optarg;
			break;
		case OPT_FROM:
			j->from = optarg;
			break;
		case OPT_RCPT:
			if (j->kind == SMTP_JOB_CHECK) {
				cli_usage_error(j->cmd, "--rcpt and --to are for "
				    "probe and send");
				return -1;
			}
			if (j->nrcpt == MAX_RCPTS) {
				cli_usage_error(j->cmd, "too many recipients");
				return -1;
			}
			if (!valid_addr(optarg) || rcpt_domain(optarg) == NULL) {
				cli_usage_error(j->cmd, "'%s' is not an address "
				    "like user@example.org", optarg);
				return -1;
			}
			if (!addr_domain_ok(optarg)) {
				cli_usage_error(j->cmd, "'%s': a port goes in "
				    "--nexthop [ADDR]:PORT, not in an address",
				    optarg);
				return -1;
			}
			j->rcpts[j->nrcpt++] = optarg;
			break;
		case OPT_NEXTHOP:
			j->nexthop = optarg;
			break;
		case OPT_SOURCE: {
			struct net_addr	 a;
			char			 lit[80];
			unsigned		 port;

			snprintf(lit, sizeof(lit), "[%s]:1", optarg);
			if (strlen(optarg) > 60 ||
			    addr_parse_literal(lit, &a, &port) == -1) {
				cli_usage_error(j->cmd, "--source: '%s' is not an "
				    "IP address", optarg);
				return -1;
			}
			/* port 0: any local port */
			((struct sockaddr_in *)(void *)&a.ss)->sin_port = 0;
			if (a.ss.ss_family == AF_INET6) {
				j->src6 = a;
				j->have6 = 1;
			} else {
				j->src4 = a;
				j->have4 = 1;
			}
			break;
		}
		case OPT_CA_FILE:
			j->ca_file = optarg;
			break;
		case OPT_NO_STS:
			j->no_sts = 1;
			break;
		case 'q':
		case OPT_QUIET:
			j->quiet = 1;
			break;
		case OPT_FILE:
		case OPT_CONCURRENCY:
		case OPT_SUGGEST_BYPASS:
			if (j->kind != SMTP_JOB_CHECK) {
				cli_usage_error(j->cmd, "--file, --concurrency "
				    "and --suggest-bypass are for check");
				return -1;
			}
			if (parse_scan(j, ch, optarg) == -1)
				return -1;
			break;
		case OPT_HOST_CONCURRENCY:
			if (j->kind != SMTP_JOB_CHECK) {
				cli_usage_error(j->cmd, "--host-concurrency is "
				    "for check");
				return -1;
			}
			if (parse_host_concurrency(j, optarg) == -1)
				return -1;
			break;
		case '?':
			cli_usage_error(j->cmd, "unknown option");
			return -1;
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return -1;
		}
	}
	return 0;
}

/* check_file - danemx check --file FILE: a scan of a list of domains */
static int
check_file(struct cli *c, struct job *j, int argc, char **argv)
{
	char	 err[512];
	int	 rv;

	if (optind < argc)
		return cli_usage_error("check", "--file and a DOMAIN ('%s'): "
		    "put the domain in the file", argv[optind]);
	if (j->transport_file != NULL)
		return cli_usage_error("check", "--file and --transport: a "
		    "scan checks each domain at its own MX hosts");
	if (j->so.suggest && c->json)
		return cli_usage_error("check", "--suggest-bypass prints "
		    "bypass entries, --json prints JSON lines (with "
		    "bypass_suggested): choose one");
	j->so.json = c->json;
	j->so.progress = isatty(STDERR_FILENO);
	if (!c->verbose)
		j->quiet = 1;	/* one line a domain, not the steps */
	j->from = "";
	j->concurrency = scan_fit(j->concurrency);
	if ((j->scan = scan_open(&j->so, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx check: --file %s\n", err);
		return EX_NOINPUT;
	}
	rv = run(c, j);
	scan_free(j->scan);
	j->scan = NULL;
	return rv;
}

/* cmd_check - danemx check DOMAIN... */
int
cmd_check(struct cli *c, int argc, char **argv)
{
	static struct job j;
	int	 i, r;

	memset(&j, 0, sizeof(j));
	j.cmd = "check";
	j.kind = SMTP_JOB_CHECK;
	j.concurrency = SCAN_CONCURRENCY_DEFAULT;
	j.host_concurrency = HOST_CONCURRENCY_DEFAULT;
	j.so.bypass_days = SCAN_BYPASS_DAYS_DEFAULT;
	if ((r = parse(c, &j, argc, argv, check_help)) != 0)
		return r > 0 ? 0 : EX_USAGE;
	if (j.so.path != NULL)
		return check_file(c, &j, argc, argv);
	if (j.so.suggest || j.concurrency != SCAN_CONCURRENCY_DEFAULT)
		return cli_usage_error("check", "--concurrency and "
		    "--suggest-bypass go with --file");
	if (optind >= argc)
		return cli_usage_error("check", "expected DOMAIN...");
	for (i = optind; i < argc; i++) {
		if ((size_t)(i - optind) == MAX_DOMAINS)
			return cli_usage_error("check", "too many domains");
		if (argv[i][0] == '\0' || strlen(argv[i]) > 253)
			return cli_usage_error("check", "'%s' is not a domain",
			    argv[i]);
		j.domains[j.ndom++] = argv[i];
	}
	j.from = "";
	return run(c, &j);
}

static int
probe_or_send(struct cli *c, int argc, char **argv, enum smtp_job kind)
{
	static struct job j;
	const char	*cmd = kind == SMTP_JOB_SEND ? "send" : "probe";
	const char	*d;
	size_t		 i;
	int		 r;

	memset(&j, 0, sizeof(j));
	j.cmd = cmd;
	j.kind = kind;
	if ((r = parse(c, &j, argc, argv, kind == SMTP_JOB_SEND ? send_help :
	    probe_help)) != 0)
		return r > 0 ? 0 : EX_USAGE;
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if (j.from == NULL)
		return cli_usage_error(cmd, "--from is required");
	if (j.from[0] != '\0' && !valid_addr(j.from))
		return cli_usage_error(cmd, "'%s' is not an address", j.from);
	if (j.nrcpt == 0)
		return cli_usage_error(cmd, "at least one %s is required",
		    kind == SMTP_JOB_SEND ? "--to" : "--rcpt");
	d = rcpt_domain(j.rcpts[0]);
	for (i = 1; i < j.nrcpt && j.nexthop == NULL; i++)
		if (strcasecmp(rcpt_domain(j.rcpts[i]), d) != 0)
			return cli_usage_error(cmd, "recipients must share one "
			    "domain (or give --nexthop)");
	j.domains[0] = j.nexthop != NULL ? j.nexthop : d;
	j.ndom = 1;
	if (kind == SMTP_JOB_SEND) {
		if (read_message(&j.msg) == -1) {
			fprintf(stderr, "danemx send: cannot read the message "
			    "(larger than %lu bytes?)\n", MAX_MESSAGE);
			buf_free(&j.msg);
			return EX_DATAERR;
		}
	} else
		buf_init(&j.msg, 1);
	return run(c, &j);
}

/* cmd_probe - danemx probe --from A --rcpt B... */
int
cmd_probe(struct cli *c, int argc, char **argv)
{
	return probe_or_send(c, argc, argv, SMTP_JOB_PROBE);
}

/* cmd_send - danemx send --from A --to B... < message */
int
cmd_send(struct cli *c, int argc, char **argv)
{
	return probe_or_send(c, argc, argv, SMTP_JOB_SEND);
}
