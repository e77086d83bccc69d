/*
 * cli.h - the danemx command: shared option handling and the command table.
 *
 * Each command lives in src/cli/cmd_<name>.c as
 *	int cmd_<name>(struct cli *, int argc, char **argv);
 * and returns the process exit status. argv[0] is the command name.
 * Options common to all commands (-R, --json, --timeout, ...) are
 * accepted before and after the command name: parse them by putting
 * CLI_COMMON_LONGOPTS in the command's option table and passing unknown
 * option characters to cli_common_opt().
 */
#ifndef DANEMX_CLI_H
#define DANEMX_CLI_H

#include <sys/types.h>

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include <openssl/x509.h>

#include "danemx.h"

struct event_base;

struct cli {
	const char	*resolver_config;	/* -R FILE */
	const char	*forwarder;		/* --forwarder IP[@PORT] */
	const char	*trust_anchor;		/* --trust-anchor FILE */
	int		 json;			/* --json */
	unsigned	 timeout_ms;		/* --timeout SECONDS */
	int		 verbose;		/* -v */
};

enum {
	CLI_OPT_JSON = 0x100,
	CLI_OPT_TIMEOUT,
	CLI_OPT_FORWARDER,
	CLI_OPT_TA,
	CLI_OPT_FIRST_COMMAND_OPT = 0x200	/* commands number from here */
};

#define CLI_COMMON_SHORTOPTS	"R:vh"
#define CLI_COMMON_LONGOPTS						\
	{ "resolver-config", required_argument, NULL, 'R' },		\
	{ "json", no_argument, NULL, CLI_OPT_JSON },			\
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },	\
	{ "forwarder", required_argument, NULL, CLI_OPT_FORWARDER },	\
	{ "trust-anchor", required_argument, NULL, CLI_OPT_TA },	\
	{ "verbose", no_argument, NULL, 'v' },				\
	{ "help", no_argument, NULL, 'h' }

/* Text for --help pages: the common options, one per line. */
#define CLI_COMMON_HELP							\
"Common options (before or after the command name):\n"			\
"  -R, --resolver-config FILE  unbound.conf(5) file with trust anchors,\n" \
"                              stub zones or forwarders; overrides the\n" \
"                              default root trust anchor\n"		\
"      --trust-anchor FILE     root trust anchor (default\n"		\
"                              /usr/share/dns/root.key, else built in)\n" \
"      --forwarder IP[@PORT]   send queries to this resolver; answers are\n" \
"                              still validated here, its AD bit is ignored\n" \
"      --timeout SECONDS       per DNS lookup (default 30) and, for\n"   \
"                              check/probe/send, per SMTP reply\n"		\
"      --json                  machine-readable output on stdout\n"	\
"  -v, --verbose               debug logging on stderr\n"		\
"  -h, --help                  this help\n"

/* main.c */
int	 cli_common_opt(struct cli *, int ch, const char *arg);
struct dmx_resolver *cli_resolver(struct cli *, struct event_base *);
int	 cli_usage_error(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

struct dmx_conf;

/* priv.c - the relay's user, the privilege drop and the pid file */
struct relay_user {
	char		 name[64];
	uid_t		 uid;
	gid_t		 gid;
	int		 drop;		/* this process is root: become it */
};
int	 cli_relay_user(const struct dmx_conf *, struct relay_user *,
	    char *err, size_t errlen);
int	 cli_priv_drop(const struct relay_user *, char *err, size_t errlen);
pid_t	 cli_pidfile_owner(const char *path, char *why, size_t whylen);
pid_t	 cli_pidfile_running(const char *path);
int	 cli_pidfile_lock(const char *path, char *err, size_t errlen);
void	 cli_pidfile_release(int fd, const char *path);

/* cli_conf.c */
/* -c FILE and -o KEY=VALUE of the commands that read the relay's
 * configuration; the strings are argv's */
struct cli_confopts {
	const char	*file;
	char		*sets[64];
	size_t		 nsets;
};
int	 cli_conf_opt(struct cli_confopts *, int ch, char *arg);
int	 cli_load_conf(struct dmx_conf *, const char *file, char **sets,
	    size_t nsets, const char *cmd);
struct state *cli_relay_store(const char *cmd, const char *what,
	    struct dmx_conf *, int write);
const char *cli_tlsrpt_submitter(const struct dmx_conf *, char *buf,
	    size_t len);

/* The commands. */
int	 cmd_dns(struct cli *, int, char **);
int	 cmd_verify(struct cli *, int, char **);
int	 cmd_tlsa(struct cli *, int, char **);
int	 cmd_check(struct cli *, int, char **);
int	 cmd_probe(struct cli *, int, char **);
int	 cmd_send(struct cli *, int, char **);
int	 cmd_sendmail(struct cli *, int, char **);
int	 cmd_queue(struct cli *, int, char **);
int	 cmd_serve(struct cli *, int, char **);

/* cmd_tlsa_connect.c - tlsa --connect over the delivery path */
int	 cli_tlsa_connect(struct cli *, const char *spec, unsigned long *port,
	    char *name, size_t namelen, STACK_OF(X509) **chain);
int	 cmd_sts(struct cli *, int, char **);
int	 cmd_tlsrpt(struct cli *, int, char **);
int	 cmd_domains(struct cli *, int, char **);
/* serve_tlsrpt.c - the relay's TLS report sender */
struct serve_tlsrpt;
struct serve_tlsrpt_env {
	const struct dmx_conf	*conf;
	const struct tlsrpt_suppress *suppress;
	struct tlsrpt_dkim	*dkim;		/* or NULL */
	struct event_base	*base;
	struct dmx_resolver	*res;
	struct http_client	*http;
	struct state		*st;		/* or NULL: none */
	struct sched		*sched;
};
struct serve_tlsrpt *serve_tlsrpt_new(const struct serve_tlsrpt_env *);
void	 serve_tlsrpt_update(struct serve_tlsrpt *, const struct dmx_conf *,
	    const struct tlsrpt_suppress *);
void	 serve_tlsrpt_free(struct serve_tlsrpt *);
/* serve_metrics.c - the relay's metrics on metrics_listen */
struct serve_metrics;
struct serve_metrics_env {
	const struct sched	*sched;
	const struct smtpd	*smtpd;
	const struct dmx_resolver *res;
	const struct policy_table *bypass;	/* the entries that apply */
};
struct serve_metrics *serve_metrics_new(struct event_base *, const char *spec,
	    char *err, size_t errlen);
void	 serve_metrics_attach(struct serve_metrics *,
	    const struct serve_metrics_env *);
void	 serve_metrics_free(struct serve_metrics *);
/* cmd_tlsrpt_send.c */
int	 cli_tlsrpt_send(struct cli *, struct dmx_conf *, const char *day,
	    const char *domain);
/* serve_bypass.c - the relay's rechecks of the DANE bypass list */
struct serve_bypass;
struct policy_table;
struct serve_bypass_env {
	const struct dmx_conf	*conf;		/* bypass_recheck_interval */
	struct policy_table	*tab;		/* the list in force */
	const struct policy_table *policy;	/* the TLS policy table */
	struct event_base	*base;
	struct dmx_resolver	*res;
	struct state		*st;		/* or NULL: in memory only */
	struct ssl_ctx_st	*dane_ctx, *pkix_ctx;
	struct sts		*sts;		/* or NULL */
	const char		*helo;
};
struct serve_bypass *serve_bypass_new(const struct serve_bypass_env *);
void	 serve_bypass_update(struct serve_bypass *);
void	 serve_bypass_carry(const struct policy_table *old,
	    struct policy_table *nt);
void	 serve_bypass_free(struct serve_bypass *);
struct deliver_result;
enum bypass_judgement { BYPASS_RETIRE, BYPASS_FAILS, BYPASS_NODANE };
enum bypass_judgement cli_bypass_judge(const struct deliver_result *,
	    char *out, size_t len);
/* cmd_bypass.c */
int	 cmd_bypass(struct cli *, int, char **);

#endif /* DANEMX_CLI_H */
