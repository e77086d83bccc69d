/*
 * cmd_serve.c - danemx serve: the relay daemon.
 *
 * As root it checks (or makes) the queue's layout through descriptors
 * (queue_open_owned(): no link the relay's user planted is followed),
 * binds the listen addresses, locks and writes the PID file, and drops
 * privileges to the configured user for good (priv.c); everything else,
 * the sweep of the queue's tmp/ included, runs as that user. Then the
 * inbound SMTP server and the delivery scheduler run on one event loop
 * until SIGTERM. SIGTERM stops new sessions, deliveries and maildrop
 * rounds, lets running ones finish (30 s at most; what is cut short
 * stays queued), empties the pid file and exits. SIGHUP reads danemx.conf,
 * the policy table, the bypass list and the transport table again;
 * SIGUSR1 scans the queue.
 * The bypass list's entries are rechecked on a timer (serve_bypass.c).
 * With metrics_listen, GET /metrics on that loopback address gives the
 * relay's counters (serve_metrics.c), bound with the SMTP listener.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "log/log.h"
#include "sched/sched.h"
#include "server/server.h"
#include "http/http.h"
#include "destmem/destmem.h"
#include "state/state.h"
#include "sts/sts.h"
#include "tlsrpt/tlsrpt.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

#define DRAIN_SECONDS	30

enum { OPT_FOREGROUND = CLI_OPT_FIRST_COMMAND_OPT };

static const char serve_help[] =
"usage: danemx serve [-c FILE] [-o KEY=VALUE ...] [--foreground]\n"
"\n"
"Run the relay: accept mail over SMTP from the networks in mynetworks\n"
"(anyone else gets 554 5.7.1 at RCPT: danemx is never an open relay;\n"
"only RCPT TO:<postmaster> is open to all, and goes to postmaster),\n"
"queue it durably (250 only after fsync), and deliver it with DANE as\n"
"RFC 7672 requires, retrying with backoff until max_queue_lifetime, then\n"
"returning a DSN to the sender. A DANE or DNSSEC failure defers; it\n"
"never bounces at once and never downgrades (but for a message whose\n"
"trusted sender asks with TLS-Required: No, RFC 8689: see\n"
"tls_required_header in danemx.conf(5)).\n"
"\n"
"Options:\n"
"  -c FILE        configuration (default " CONF_DEFAULT_FILE " if present;\n"
"                 see danemx.conf(5))\n"
"  -o KEY=VALUE   override one setting, e.g. -o listen=127.0.0.1:2525\n"
"      --foreground  stay in the foreground and log to stderr (else the\n"
"                 daemon detaches and logs to syslog, facility mail)\n"
"\n"
"Signals: TERM stops gracefully, HUP reads the configuration, the policy\n"
"table, the bypass list and the transport table again, USR1 lifts\n"
"destination holds and reads the queue again (danemx queue release sends\n"
"it), USR2 also makes every waiting message due now (danemx queue flush\n"
"sends it). USR1 also reads again the holds of domains whose mail a\n"
"downgrade holds (downgrade_action = defer; danemx domains accept\n"
"sends it).\n"
"\n"
"Each exact domain of the DANE bypass list is rechecked every\n"
"bypass_recheck_interval (default 6h) as danemx check does; an entry\n"
"whose domain validates with DANE again is retired (kept in state_dir)\n"
"and logged (danemx bypass list shows it).\n"
"\n"
"Each destination's TLS policy is remembered in state_dir and compared\n"
"with every new route: a downgrade (DANE lost, or an MTA-STS enforce\n"
"policy gone) is logged as a warning and runs downgrade_command; see\n"
"danemx domains --help.\n"
"\n"
"Connections are reused: a connection carries its destination's next\n"
"messages over the same DANE-verified session and waits 2 s for more.\n"
"danemx sendmail run by other users drops into the queue's maildrop/,\n"
"which the relay picks up every second.\n"
"\n"
"With metrics_listen (a loopback ADDR:PORT; off by default), GET\n"
"/metrics there gives the relay's counters in the Prometheus text\n"
"format (docs/metrics.md).\n"
"\n"
"As root it binds, locks pid_file and becomes the relay's user (user,\n"
"default danemx, which must exist); the queue directory is root's, its\n"
"subdirectories that user's, and a layout that is not so is refused\n"
"with the command that fixes it.\n"
"\n"
"Exit status: 0 after SIGTERM, 71 cannot bind, lock the pid file (a\n"
"relay is running) or drop privileges, 73 cannot create the queue or\n"
"its layout is unsafe, 78 configuration error (also: no such user).\n";

struct serve {
	struct event_base	*base;
	struct dmx_conf		 conf;
	struct cli_confopts	 co;		/* -c, -o: again at SIGHUP */
	int			 fg;		/* --foreground */
	struct relay_user	 ru;		/* the relay's user */
	int			 pidfd;		/* the locked pid file */
	struct dmx_resolver	*res;
	SSL_CTX			*dane_ctx, *pkix_ctx;
	struct state		*state;		/* state_dir's store */
	struct destmem		*destmem;	/* each destination's memory */
	struct http_client	*http;		/* MTA-STS fetches */
	struct sts		*sts;		/* MTA-STS policies */
	struct tlsrpt_suppress	*tlsrpt_suppress; /* no reports to these */
	struct tlsrpt_dkim	*dkim;		/* signs TLS report mail */
	struct serve_tlsrpt	*tlsrpt;	/* sends TLS reports */
	struct serve_bypass	*byp;		/* rechecks the bypass list */
	struct serve_metrics	*metrics;	/* metrics_listen, or NULL */
	struct event		*sigs[5];
	struct netlist		*mynet;
	struct sched_selfaddr	*self;		/* our listen addrs */
	struct smtpd		*smtpd;
	struct sched		*sched;
	struct pickup		*pickup;
	struct queue		*q;
	struct policy_table	 policy, bypass;
	struct transport_table	 transport;
	struct event		*drain_timer;
	int			 stopping;
};

/*
 * bypass_unreachable - the bypass list is matched against the next hop:
 * say which of its domains it can never apply to, because the transport
 * table or the relayhost sends their mail elsewhere (10 named, then a
 * count). Each entry is asked of the route a message to its domain
 * takes (deliver_conf_route), as delivery asks it, expiry aside.
 */
static void
bypass_unreachable(const struct policy_table *b,
    const struct transport_table *t, const char *relayhost)
{
	const struct transport_entry	*te;
	struct deliver_env		 env;
	struct deliver_conf		 dc;
	struct policy_entry		 one;
	struct policy_table		 only = { &one, 1 };
	const char			*d;
	size_t				 i, n = 0;

	memset(&env, 0, sizeof(env));
	env.transport = t;
	env.relayhost = relayhost != NULL && relayhost[0] != '\0' ?
	    relayhost : NULL;
	env.bypass = &only;
	for (i = 0; i < b->n; i++) {
		d = b->e[i].pattern;
		if (d[0] == '.' || d[0] == '[')
			continue;
		one = b->e[i];
		one.expires = 0;
		one.retired = 0;
		(void)deliver_conf_route(&dc, &env, d, SMTP_JOB_SEND, 0);
		if (dc.bypass)
			continue;
		if ((te = route_transport_match(t, d)) != NULL) {
			if (n++ < 10)
				log_warnx("DANE bypass for %s never applies: the "
				    "transport table sends its mail to %s (the "
				    "list is matched against the next hop)", d,
				    te->nexthop);
		} else if (env.relayhost != NULL) {
			if (n++ < 10)
				log_warnx("DANE bypass for %s never applies: its "
				    "mail goes to the relayhost %s (the list is "
				    "matched against the next hop)", d, relayhost);
		}
	}
	if (n > 10)
		log_warnx("DANE bypass: %zu more entries never apply", n - 10);
}

static void
reload_tables(struct serve *sv)
{
	struct policy_table	 p = { NULL, 0 }, b = { NULL, 0 };
	struct transport_table	 t;
	char			 err[700];

	if (sv->conf.policy_file != NULL && policy_table_load(&p,
	    sv->conf.policy_file, 0, err, sizeof(err)) == -1) {
		log_warnx("reload: policy: %s (keeping the old table)", err);
		return;
	}
	if (sv->conf.bypass_file != NULL && policy_table_load(&b,
	    sv->conf.bypass_file, 1, err, sizeof(err)) == -1) {
		log_warnx("reload: bypass list: %s (keeping the old one)", err);
		policy_table_free(&p);
		return;
	}
	memset(&t, 0, sizeof(t));
	if (sv->conf.transport_file != NULL && route_transport_load(&t,
	    sv->conf.transport_file, err, sizeof(err)) == -1) {
		log_warnx("reload: transport table: %s (keeping the old tables: "
		    "mail is routed as before)", err);
		policy_table_free(&p);
		policy_table_free(&b);
		return;
	}
	serve_bypass_carry(&sv->bypass, &b);
	policy_table_free(&sv->policy);
	policy_table_free(&sv->bypass);
	sv->policy = p;
	sv->bypass = b;
	/* The scheduler's pointer stays; reload_conf() then moves queued
	 * items to their new next hops (sched_reroute()). */
	route_transport_free(&sv->transport);
	sv->transport = t;
	log_info("reload: policy table %zu entries, bypass list %zu entries, "
	    "transport table %zu entries", p.n, b.n, t.n);
	bypass_unreachable(&sv->bypass, &sv->transport, sv->conf.relayhost);
	serve_bypass_update(sv->byp);
}

static int
str_changed(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static void
swap_str(char **dst, char **src)
{
	char	*t = *dst;

	*dst = *src;
	*src = t;
}

/*
 * reload_conf - SIGHUP: read danemx.conf and -o again and apply what can
 * change while running (limits, retries, timeouts, mynetworks, relayhost,
 * the policy, bypass and transport files, the TLS-RPT, bypass recheck and
 * downgrade settings). Addresses, queue, user, state_dir, helo_name,
 * resolver, TLS files, ca_file and DKIM need a restart, and say so. A bad
 * file changes nothing.
 */
static void
reload_conf(struct serve *sv)
{
	struct dmx_conf	 nc;
	struct netlist	*nl;
	struct tlsrpt_suppress *sup;
	char		 err[512];
	size_t		 i;
	int		 restart = 0;

	if (cli_load_conf(&nc, sv->co.file, sv->co.sets, sv->co.nsets,
	    "serve") == -1) {
		log_warnx("reload: configuration not changed");
		return;
	}
	if (conf_check(&nc, err, sizeof(err)) == -1 || (sup =
	    tlsrpt_suppress_load(nc.tlsrpt_suppress, err, sizeof(err))) ==
	    NULL) {
		log_warnx("reload: %s; configuration not changed", err);
		conf_free(&nc);
		return;
	}
	if ((nl = netlist_parse(nc.mynetworks ? nc.mynetworks : "", err,
	    sizeof(err))) == NULL) {
		log_warnx("reload: mynetworks: %s; configuration not changed",
		    err);
		tlsrpt_suppress_free(sup);
		conf_free(&nc);
		return;
	}
	tlsrpt_suppress_free(sv->tlsrpt_suppress);
	sv->tlsrpt_suppress = sup;
	smtpd_set_mynetworks(sv->smtpd, nl);
	netlist_free(sv->mynet);
	sv->mynet = nl;
	swap_str(&sv->conf.mynetworks, &nc.mynetworks);
	swap_str(&sv->conf.relayhost, &nc.relayhost);
	swap_str(&sv->conf.policy_file, &nc.policy_file);
	swap_str(&sv->conf.bypass_file, &nc.bypass_file);
	swap_str(&sv->conf.transport_file, &nc.transport_file);
	sv->conf.max_queue_lifetime = nc.max_queue_lifetime;
	sv->conf.retry_min = nc.retry_min;
	sv->conf.retry_max = nc.retry_max;
	sv->conf.message_size_limit = nc.message_size_limit;
	sv->conf.queue_minfree = nc.queue_minfree;
	queue_set_minfree(sv->q, nc.queue_minfree);
	sv->conf.recipient_limit = nc.recipient_limit;
	sv->conf.max_sessions = nc.max_sessions;
	sv->conf.max_deliveries = nc.max_deliveries;
	sv->conf.dest_concurrency = nc.dest_concurrency;
	sv->conf.smtp_timeout = nc.smtp_timeout;
	sv->conf.smtp_connect_timeout = nc.smtp_connect_timeout;
	sv->conf.smtp_greeting_timeout = nc.smtp_greeting_timeout;
	sv->conf.smtp_helo_timeout = nc.smtp_helo_timeout;
	sv->conf.smtp_starttls_timeout = nc.smtp_starttls_timeout;
	sv->conf.smtp_mail_timeout = nc.smtp_mail_timeout;
	sv->conf.smtp_rcpt_timeout = nc.smtp_rcpt_timeout;
	sv->conf.smtp_data_init_timeout = nc.smtp_data_init_timeout;
	sv->conf.smtp_data_xfer_timeout = nc.smtp_data_xfer_timeout;
	sv->conf.smtp_data_done_timeout = nc.smtp_data_done_timeout;
	sv->conf.smtp_quit_timeout = nc.smtp_quit_timeout;
	/* The listener's limits: for new sessions (and new commands). */
	swap_str(&sv->conf.postmaster, &nc.postmaster);
	swap_str(&sv->conf.smtpd_forbid_bare_newline,
	    &nc.smtpd_forbid_bare_newline);
	swap_str(&sv->conf.smtpd_client_limit_exempt,
	    &nc.smtpd_client_limit_exempt);
	sv->conf.hopcount_limit = nc.hopcount_limit;
	sv->conf.tls_required_header = nc.tls_required_header;
	sv->conf.smtpd_line_length_limit = nc.smtpd_line_length_limit;
	sv->conf.smtpd_session_time_limit = nc.smtpd_session_time_limit;
	sv->conf.smtpd_soft_error_limit = nc.smtpd_soft_error_limit;
	sv->conf.smtpd_hard_error_limit = nc.smtpd_hard_error_limit;
	sv->conf.smtpd_error_sleep_time = nc.smtpd_error_sleep_time;
	sv->conf.smtpd_junk_command_limit = nc.smtpd_junk_command_limit;
	sv->conf.smtpd_client_connection_count_limit =
	    nc.smtpd_client_connection_count_limit;
	sv->conf.smtpd_client_connection_rate_limit =
	    nc.smtpd_client_connection_rate_limit;
	sv->conf.smtpd_client_rate_time_unit = nc.smtpd_client_rate_time_unit;
	sv->conf.tls_min_version = nc.tls_min_version;
	sv->conf.mta_sts = nc.mta_sts;
	sv->conf.tlsrpt = nc.tlsrpt;
	swap_str(&sv->conf.organization_name, &nc.organization_name);
	swap_str(&sv->conf.contact_info, &nc.contact_info);
	swap_str(&sv->conf.tlsrpt_suppress, &nc.tlsrpt_suppress);
	sv->conf.tlsrpt_max_age = nc.tlsrpt_max_age;
	sv->conf.tlsrpt_send_all = nc.tlsrpt_send_all;
	sv->conf.tlsrpt_delay = nc.tlsrpt_delay;
	sv->conf.tlsrpt_retry = nc.tlsrpt_retry;
	sv->conf.bypass_recheck_interval = nc.bypass_recheck_interval;
	swap_str(&sv->conf.downgrade_action, &nc.downgrade_action);
	swap_str(&sv->conf.downgrade_command, &nc.downgrade_command);
	sv->conf.downgrade_command_timeout = nc.downgrade_command_timeout;
	sv->conf.tls_opportunistic_min_version =
	    nc.tls_opportunistic_min_version;
	if (nc.nlisten != sv->conf.nlisten)
		restart = 1;
	for (i = 0; i < nc.nlisten && !restart; i++)
		if (strcmp(nc.listen[i], sv->conf.listen[i]) != 0)
			restart = 1;
	if (restart || str_changed(nc.queue_dir, sv->conf.queue_dir) ||
	    str_changed(nc.user, sv->conf.user) ||
	    str_changed(nc.pid_file, sv->conf.pid_file) ||
	    str_changed(nc.resolver_config, sv->conf.resolver_config) ||
	    str_changed(nc.tls_cert_file, sv->conf.tls_cert_file) ||
	    str_changed(nc.tls_key_file, sv->conf.tls_key_file) ||
	    nc.smtpd_tls_min_version != sv->conf.smtpd_tls_min_version ||
	    str_changed(nc.metrics_listen, sv->conf.metrics_listen) ||
	    str_changed(nc.trust_anchor, sv->conf.trust_anchor) ||
	    str_changed(nc.forwarder, sv->conf.forwarder) ||
	    str_changed(nc.state_dir, sv->conf.state_dir) ||
	    str_changed(nc.ca_file, sv->conf.ca_file) ||
	    str_changed(nc.dkim_domain, sv->conf.dkim_domain) ||
	    str_changed(nc.dkim_selector, sv->conf.dkim_selector) ||
	    str_changed(nc.dkim_key_file, sv->conf.dkim_key_file) ||
	    (nc.helo_name != NULL &&
	    str_changed(nc.helo_name, sv->conf.helo_name)))
		log_warnx("reload: listen, metrics_listen, queue_dir, user, "
		    "pid_file, state_dir, helo_name, resolver, TLS, ca_file "
		    "and DKIM settings take effect at the next restart");
	conf_free(&nc);
	serve_tlsrpt_update(sv->tlsrpt, &sv->conf, sv->tlsrpt_suppress);
	log_info("reload: configuration read again");
	reload_tables(sv);
	sched_reroute(sv->sched);	/* relayhost, transport table */
	sched_kick(sv->sched);
}

static void
check_drained(evutil_socket_t fd, short ev, void *arg)
{
	struct serve	*sv = arg;
	struct timeval	 tv = { 0, 200000 };
	static int	 ticks;

	(void)fd;
	(void)ev;
	if ((sched_active(sv->sched) == 0 && smtpd_sessions(sv->smtpd) == 0 &&
	    pickup_busy(sv->pickup) == 0) || ++ticks > DRAIN_SECONDS * 5) {
		if (sched_active(sv->sched) > 0)
			log_info("stopping with %zu deliveries unfinished; "
			    "they stay queued", sched_active(sv->sched));
		event_base_loopexit(sv->base, NULL);
		return;
	}
	evtimer_add(sv->drain_timer, &tv);
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct serve	*sv = arg;
	struct timeval	 tv = { 0, 0 };

	(void)ev;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (sv->stopping)
			return;
		sv->stopping = 1;
		log_info("stopping: no new sessions; waiting for %zu "
		    "deliveries and %zu sessions", sched_active(sv->sched),
		    smtpd_sessions(sv->smtpd));
		smtpd_stop_listening(sv->smtpd);
		sched_drain(sv->sched);
		pickup_stop(sv->pickup);	/* drops wait for the restart */
		evtimer_add(sv->drain_timer, &tv);
		break;
	case SIGHUP:
		reload_conf(sv);
		/* downgrade_action may have left defer: holds end */
		destmem_recheck(sv->destmem);
		break;
	case SIGUSR1:
		sched_flush(sv->sched);
		destmem_recheck(sv->destmem);	/* danemx domains accept */
		break;
	case SIGUSR2:
		sched_flush_all(sv->sched);
		break;
	}
}

/*
 * raise_fd_limit - every session is a descriptor: take the hard limit
 * as the soft one, and say when it cannot carry the configured sessions
 * (max_deliveries out, max_sessions in, plus the queue's files).
 */
static void
raise_fd_limit(const struct dmx_conf *c)
{
	struct rlimit	 rl;
	unsigned long	 need = c->max_deliveries + c->max_sessions + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < need)
		log_warnx("only %llu file descriptors for max_deliveries %lu and "
		    "max_sessions %lu: raise the limit (LimitNOFILE=)",
		    (unsigned long long)rl.rlim_cur, c->max_deliveries,
		    c->max_sessions);
}

/*
 * serve_args - the options; -1 to go on, else the exit status
 */
static int
serve_args(struct serve *sv, struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:f",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(serve_help, stdout);
			return 0;
		case 'c':
		case 'o':
			if (cli_conf_opt(&sv->co, ch, optarg) == -1)
				return cli_usage_error("serve", "too many -o");
			break;
		case 'f':
		case OPT_FOREGROUND:
			sv->fg = 1;
			break;
		case '?':
			return cli_usage_error("serve", "unknown option");
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected '%s'", argv[optind]);
	return -1;
}

/*
 * serve_conf - what the configuration names: mynetworks, our own
 * addresses, the policy table and the bypass list, the resolver's
 * settings, the HELO name and the relay's user. -1 to go on, else the
 * exit status.
 */
static int
serve_conf(struct serve *sv, struct cli *c)
{
	char	 err[1024], host[256];

	if ((sv->mynet = netlist_parse(sv->conf.mynetworks ?
	    sv->conf.mynetworks : "", err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx serve: mynetworks: %s\n", err);
		return EX_CONFIG;
	}
	if (conf_check(&sv->conf, err, sizeof(err)) == -1 ||
	    (sv->tlsrpt_suppress = tlsrpt_suppress_load(
	    sv->conf.tlsrpt_suppress, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CONFIG;
	}
	if ((sv->self = sched_selfaddr_new(sv->conf.listen, sv->conf.nlisten,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CONFIG;
	}
	if ((sv->conf.policy_file != NULL && policy_table_load(&sv->policy,
	    sv->conf.policy_file, 0, err, sizeof(err)) == -1) ||
	    (sv->conf.bypass_file != NULL && policy_table_load(&sv->bypass,
	    sv->conf.bypass_file, 1, err, sizeof(err)) == -1)) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CONFIG;
	}
	if (sv->conf.transport_file != NULL && route_transport_load(
	    &sv->transport, sv->conf.transport_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx serve: transport table: %s\n", err);
		return EX_CONFIG;
	}
	if (c->resolver_config == NULL)
		c->resolver_config = sv->conf.resolver_config;
	if (c->trust_anchor == NULL)
		c->trust_anchor = sv->conf.trust_anchor;
	if (c->forwarder == NULL)
		c->forwarder = sv->conf.forwarder;
	if (sv->conf.helo_name == NULL) {
		if (gethostname(host, sizeof(host) - 1) == -1)
			strlcpy_(host, "localhost", sizeof(host));
		sv->conf.helo_name = strdup(host);
	}
	if (cli_relay_user(&sv->conf, &sv->ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CONFIG;
	}
	/* The DKIM key is root's: read it before the privileges go. */
	if (sv->conf.dkim_key_file != NULL && sv->conf.dkim_key_file[0] &&
	    (sv->dkim = tlsrpt_dkim_load(sv->conf.dkim_domain,
	    sv->conf.dkim_selector, sv->conf.dkim_key_file, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CONFIG;
	}
	return -1;
}

/*
 * serve_queue - no other relay on this pid file, and the queue: as
 * root its layout is checked, and made, through descriptors. -1 to go
 * on, else the exit status.
 */
static int
serve_queue(struct serve *sv)
{
	const struct relay_user	*ru = &sv->ru;
	char			 err[1024];
	pid_t			 other;

	if ((other = cli_pidfile_running(sv->conf.pid_file)) > 0) {
		fprintf(stderr, "danemx serve: a relay (pid %ld) is running with "
		    "pid file %s\n", (long)other, sv->conf.pid_file);
		return EX_OSERR;
	}
	if (geteuid() == 0)
		sv->q = queue_open_owned(sv->conf.queue_dir, ru->drop ?
		    ru->uid : 0, ru->drop ? ru->gid : 0, ru->drop ? ru->name :
		    "root", err, sizeof(err));
	else
		sv->q = queue_open(sv->conf.queue_dir, 1, err, sizeof(err));
	if (sv->q == NULL) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CANTCREAT;
	}
	queue_set_minfree(sv->q, sv->conf.queue_minfree);
	if (queue_space(sv->q, 0, err, sizeof(err)) == -1)
		log_warnx("%s: new mail is refused until there is more room "
		    "(or a smaller queue_minfree)", err);
	/* The state store is the relay's user's; root only makes its
	 * directory (descriptors, no links followed). */
	if (geteuid() == 0 && state_dir_setup(sv->conf.state_dir, ru->drop ?
	    ru->uid : 0, ru->drop ? ru->gid : 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx serve: %s\n", err);
		return EX_CANTCREAT;
	}
	return -1;
}

/*
 * serve_sts - as the relay's user: the state store, the HTTPS client
 * and the MTA-STS policy cache. Without a store the cache lives in
 * memory only, and says so; MTA-STS itself is switched by mta_sts
 * (live: danemx.conf is read again on SIGHUP).
 */
static int
serve_sts(struct serve *sv)
{
	struct state_conf	 stc;
	struct http_conf	 hc;
	struct sts_conf		 sc;
	char			 err[1024];

	memset(&stc, 0, sizeof(stc));
	stc.dir = sv->conf.state_dir;
	if ((sv->state = state_open(&stc, err, sizeof(err))) == NULL)
		log_warnx("state: %s; MTA-STS policies are kept in memory "
		    "only%s", err, sv->conf.tlsrpt ? ", and TLS results are "
		    "not recorded" : "");
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = sv->conf.ca_file;
	if ((sv->http = http_client_new(sv->base, sv->res, &hc, err,
	    sizeof(err))) == NULL) {
		log_warnx("HTTPS: %s", err);
		return EX_SOFTWARE;
	}
	memset(&sc, 0, sizeof(sc));
	sc.base = sv->base;
	sc.resolver = sv->res;
	sc.http = sv->http;
	sc.state = sv->state;
	if ((sv->sts = sts_new(&sc, err, sizeof(err))) == NULL) {
		log_warnx("MTA-STS: %s", err);
		return EX_SOFTWARE;
	}
	return -1;
}

/*
 * serve_listen - the TLS contexts, the daemon, the event loop and the
 * listener; then the pid file is locked and privileges dropped for
 * good. -1 to go on, else the exit status.
 */
static int
serve_listen(struct serve *sv, struct cli *c)
{
	char	 err[1024];

	if ((sv->dane_ctx = tls_client_ctx_new(err, sizeof(err))) == NULL ||
	    (sv->pkix_ctx = tls_pkix_ctx_new(sv->conf.ca_file, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "danemx serve: TLS: %s\n", err);
		return EX_SOFTWARE;
	}
	if (!sv->fg) {
		if (daemon(0, 0) == -1) {
			fprintf(stderr, "danemx serve: daemon: %s\n",
			    strerror(errno));
			return EX_OSERR;
		}
		log_init("danemx", 1, c->verbose);
	}
	if ((sv->base = event_base_new()) == NULL)
		return EX_OSERR;
	raise_fd_limit(&sv->conf);
	/* Bind first (privileged ports), then write the PID, then drop. */
	if ((sv->smtpd = smtpd_new(sv->base, &sv->conf, sv->q, sv->mynet, NULL,
	    sv->conf.helo_name, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	if (sv->conf.metrics_listen != NULL && sv->conf.metrics_listen[0] &&
	    (sv->metrics = serve_metrics_new(sv->base, sv->conf.metrics_listen,
	    err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	if ((sv->pidfd = cli_pidfile_lock(sv->conf.pid_file, err,
	    sizeof(err))) == -1 || cli_priv_drop(&sv->ru, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	return -1;
}

/* serve_release - an accepted domain's held mail goes now */
static void
serve_release(void *sched, const char *domain)
{
	sched_flush_dest(sched, domain);
}

/* serve_run_tlsrpt - the TLS report sender, when there is a store */
static void
serve_run_tlsrpt(struct serve *sv)
{
	struct serve_tlsrpt_env	 env;

	memset(&env, 0, sizeof(env));
	env.conf = &sv->conf;
	env.suppress = sv->tlsrpt_suppress;
	env.dkim = sv->dkim;
	env.base = sv->base;
	env.res = sv->res;
	env.http = sv->http;
	env.st = sv->state;
	env.sched = sv->sched;
	sv->tlsrpt = serve_tlsrpt_new(&env);
}

/* serve_run_bypass - the rechecks of the DANE bypass list */
static void
serve_run_bypass(struct serve *sv)
{
	struct serve_bypass_env	 env;

	memset(&env, 0, sizeof(env));
	env.conf = &sv->conf;
	env.tab = &sv->bypass;
	env.policy = &sv->policy;
	env.base = sv->base;
	env.res = sv->res;
	env.st = sv->state;
	env.dane_ctx = sv->dane_ctx;
	env.pkix_ctx = sv->pkix_ctx;
	env.sts = sv->sts;
	env.helo = sv->conf.helo_name;
	sv->byp = serve_bypass_new(&env);
}

/*
 * serve_run - as the relay's user: the sweep, the resolver, the
 * scheduler, the pickup and the signals; then the event loop until
 * SIGTERM. The exit status.
 */
static int
serve_run(struct serve *sv, struct cli *c)
{
	static const int	 signums[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1,
	    SIGUSR2 };
	struct sched_conf	 sc;
	struct serve_metrics_env me;
	size_t			 i;
	int			 rv;

	/* From here on, the relay's user: it sweeps what it owns. */
	queue_sweep(sv->q);
	if ((sv->res = cli_resolver(c, sv->base)) == NULL)
		return EX_CONFIG;
	if ((rv = serve_sts(sv)) >= 0)
		return rv;
	memset(&sc, 0, sizeof(sc));
	sc.conf = &sv->conf;
	sc.q = sv->q;
	sc.res = sv->res;
	sc.policy = &sv->policy;
	sc.transport = &sv->transport;
	sc.bypass = &sv->bypass;
	sc.dane_ctx = sv->dane_ctx;
	sc.pkix_ctx = sv->pkix_ctx;
	sc.sts = sv->sts;
	sc.state = sv->state;
	(void)tlsrpt_now();	/* a test clock starts now (tlsrpt_clock.c) */
	sc.helo = sv->conf.helo_name;
	sc.self = sv->self;
	if ((sv->destmem = destmem_new(sv->base, sv->state, &sv->conf)) ==
	    NULL)
		return EX_OSERR;
	sc.destmem = sv->destmem;
	if ((sv->sched = sched_new(sv->base, &sc)) == NULL)
		return EX_OSERR;
	smtpd_set_sched(sv->smtpd, sv->sched);
	destmem_set_release(sv->destmem, serve_release, sv->sched);
	if ((sv->pickup = pickup_new(sv->base, sv->q, &sv->conf, sv->sched,
	    sv->conf.helo_name)) == NULL)
		return EX_OSERR;
	serve_run_tlsrpt(sv);
	serve_run_bypass(sv);
	bypass_unreachable(&sv->bypass, &sv->transport, sv->conf.relayhost);
	me.sched = sv->sched;
	me.smtpd = sv->smtpd;
	me.res = sv->res;
	me.bypass = &sv->bypass;
	serve_metrics_attach(sv->metrics, &me);
	sv->drain_timer = evtimer_new(sv->base, check_drained, sv);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < DMX_NELEM(signums); i++) {
		sv->sigs[i] = evsignal_new(sv->base, signums[i], on_signal, sv);
		evsignal_add(sv->sigs[i], NULL);
	}
	log_info("danemx %s: relay started, listening on %zu address%s, "
	    "queue %s, %s", DANEMX_VERSION, sv->conf.nlisten,
	    sv->conf.nlisten == 1 ? "" : "es", sv->conf.queue_dir,
	    dmx_resolver_anchor(sv->res));
	if (sv->metrics != NULL)
		log_info("metrics: serving GET /metrics on %s",
		    sv->conf.metrics_listen);
	event_base_dispatch(sv->base);
	log_info("danemx: stopped");
	return 0;
}

/* serve_free - everything the relay holds, in the order it must go */
static void
serve_free(struct serve *sv)
{
	size_t	 i;

	serve_metrics_free(sv->metrics);	/* reads what follows */
	pickup_free(sv->pickup);
	sched_free(sv->sched);		/* report mail being queued: done */
	serve_bypass_free(sv->byp);	/* rechecks in flight: stopped */
	serve_tlsrpt_free(sv->tlsrpt);
	destmem_free(sv->destmem);	/* the last counts to the store */
	sts_free(sv->sts);
	http_client_free(sv->http);
	if (sv->state != NULL && state_sync(sv->state) == -1)
		log_warnx("state: could not write everything to %s",
		    sv->conf.state_dir);
	state_close(sv->state);
	smtpd_free(sv->smtpd);
	for (i = 0; i < DMX_NELEM(sv->sigs); i++)
		if (sv->sigs[i] != NULL)
			event_free(sv->sigs[i]);
	if (sv->drain_timer != NULL)
		event_free(sv->drain_timer);
	dmx_resolver_free(sv->res);
	if (sv->base != NULL)
		event_base_free(sv->base);
	SSL_CTX_free(sv->dane_ctx);
	SSL_CTX_free(sv->pkix_ctx);
	queue_close(sv->q);
	netlist_free(sv->mynet);
	sched_selfaddr_free(sv->self);
	policy_table_free(&sv->policy);
	policy_table_free(&sv->bypass);
	route_transport_free(&sv->transport);
	tlsrpt_suppress_free(sv->tlsrpt_suppress);
	tlsrpt_dkim_free(sv->dkim);
	cli_pidfile_release(sv->pidfd, sv->conf.pid_file);
	conf_free(&sv->conf);
}

/* cmd_serve - danemx serve */
int
cmd_serve(struct cli *c, int argc, char **argv)
{
	struct serve	 sv;
	int		 rv;

	memset(&sv, 0, sizeof(sv));
	sv.pidfd = -1;
	if ((rv = serve_args(&sv, c, argc, argv)) >= 0)
		return rv;
	if (cli_load_conf(&sv.conf, sv.co.file, sv.co.sets, sv.co.nsets,
	    "serve") == -1)
		return EX_CONFIG;
	if ((rv = serve_conf(&sv, c)) < 0 && (rv = serve_queue(&sv)) < 0 &&
	    (rv = serve_listen(&sv, c)) < 0)
		rv = serve_run(&sv, c);
	serve_free(&sv);
	return rv;
}
