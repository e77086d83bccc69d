/*
 * conf.h - danemx.conf(5): "key = value" lines, and -o key=value. The
 * room of its own for the relay's configuration, read by the relay
 * (danemx serve), sendmail, queue and sts alike.
 *
 * conf_defaults() fills in the defaults; conf_load() and conf_set() apply
 * a file and single settings on top, each refusing an unknown key or a
 * bad value with a message that names it (and the line). A struct
 * dmx_conf owns its strings; conf_free() releases them.
 */
#ifndef DANEMX_CONF_H
#define DANEMX_CONF_H

#include <stddef.h>

#define CONF_LISTEN_MAX		16

struct dmx_conf {
	char		*listen[CONF_LISTEN_MAX];	/* "127.0.0.1:25" */
	size_t		 nlisten;
	int		 listen_set;	/* defaults replaced */
	char		*mynetworks;		/* "127.0.0.0/8 [::1]/128" */
	char		*queue_dir;
	char		*resolver_config;
	char		*trust_anchor;
	char		*forwarder;
	char		*policy_file;
	char		*bypass_file;
	char		*transport_file;	/* domain -> next hop table */
	char		*user;
	char		*helo_name;
	char		*relayhost;		/* every message to this next hop */
	char		*pid_file;
	char		*tls_cert_file;		/* inbound STARTTLS */
	char		*tls_key_file;
	char		*state_dir;		/* the state store (state.h) */
	char		*ca_file;		/* WebPKI roots; NULL: system */
	unsigned long	 mta_sts;		/* 1: apply MTA-STS (yes/no) */
	/* DKIM signatures on TLS report mail (src/tlsrpt/tlsrpt_dkim.c) */
	char		*dkim_domain;		/* d=; NULL or "": none */
	char		*dkim_selector;		/* s= */
	char		*dkim_key_file;		/* PEM private key, absolute */
	/* TLS protocol floors (OpenSSL's TLS1_x_VERSION; tls_policy.c) */
	unsigned long	 tls_min_version;	/* outbound, TLS mandatory */
	unsigned long	 tls_opportunistic_min_version;	/* ... may */
	unsigned long	 smtpd_tls_min_version;	/* inbound */
	unsigned long	 max_queue_lifetime;	/* seconds */
	unsigned long	 retry_min;		/* first backoff, seconds */
	unsigned long	 retry_max;		/* backoff ceiling, seconds */
	unsigned long	 message_size_limit;	/* octets */
	unsigned long	 queue_minfree;		/* free-space reserve, octets */
	unsigned long	 recipient_limit;	/* per message */
	unsigned long	 max_sessions;		/* inbound, concurrent */
	unsigned long	 max_deliveries;	/* outbound, concurrent */
	unsigned long	 dest_concurrency;	/* per destination */
	unsigned long	 smtp_timeout;		/* inbound command, seconds */
	/* Outbound SMTP timeouts (RFC 5321 4.5.3.2), seconds. */
	unsigned long	 smtp_connect_timeout, smtp_greeting_timeout;
	unsigned long	 smtp_helo_timeout, smtp_starttls_timeout;
	unsigned long	 smtp_mail_timeout, smtp_rcpt_timeout;
	unsigned long	 smtp_data_init_timeout, smtp_data_xfer_timeout;
	unsigned long	 smtp_data_done_timeout, smtp_quit_timeout;
	/* The listener against loops and abuse (server/smtpd*.c). */
	unsigned long	 hopcount_limit;	/* Received: headers */
	unsigned long	 tls_required_header;	/* 1: trusted senders may ask
						   for TLS-Required: No */
	char		*postmaster;		/* where <postmaster> goes */
	char		*smtpd_forbid_bare_newline;	/* yes, no,
							   mynetworks-exempt */
	unsigned long	 smtpd_line_length_limit;	/* octets, CRLF in */
	unsigned long	 smtpd_session_time_limit;	/* seconds */
	unsigned long	 smtpd_soft_error_limit;	/* then replies wait */
	unsigned long	 smtpd_hard_error_limit;	/* then 421 */
	unsigned long	 smtpd_error_sleep_time;	/* seconds */
	unsigned long	 smtpd_junk_command_limit;	/* NOOP RSET VRFY */
	unsigned long	 smtpd_client_connection_count_limit;
	unsigned long	 smtpd_client_connection_rate_limit;
	unsigned long	 smtpd_client_rate_time_unit;	/* seconds */
	char		*smtpd_client_limit_exempt;	/* mynetworks, none */
	/* TLS reporting (RFC 8460; docs/tlsrpt.md). */
	unsigned long	 tlsrpt;		/* record and report (yes/no) */
	char		*organization_name;	/* the reports' organization-name */
	char		*contact_info;		/* ... and contact-info */
	unsigned long	 tlsrpt_max_age;	/* seconds results are kept */
	unsigned long	 tlsrpt_send_all;	/* days without a failure too */
	unsigned long	 tlsrpt_delay;		/* s of random delay after 00:00 */
	unsigned long	 tlsrpt_retry;		/* s before a failed POST's retry */
	char		*tlsrpt_suppress;	/* domains, addresses, /files */
	/* The DANE bypass list that heals itself (serve_bypass.c). */
	unsigned long	 bypass_recheck_interval;	/* seconds */
	/* Destination memory and downgrades (docs/domains.md). */
	char		*downgrade_action;	/* alert, defer */
	char		*downgrade_command;	/* /path and arguments, or "" */
	unsigned long	 downgrade_command_timeout;	/* seconds */
	/* Metrics (docs/metrics.md): GET /metrics on this loopback
	 * ADDR:PORT; NULL or "": none. */
	char		*metrics_listen;
};

/* conf.c */
void	 conf_defaults(struct dmx_conf *);
int	 conf_load(struct dmx_conf *, const char *path, char *err,
	    size_t errlen);
int	 conf_parse(struct dmx_conf *, const char *text, size_t len,
	    char *err, size_t errlen);
int	 conf_set(struct dmx_conf *, const char *keyval, char *err,
	    size_t errlen);
void	 conf_free(struct dmx_conf *);
int	 conf_check(const struct dmx_conf *, char *err, size_t errlen);
int	 conf_dump(const struct dmx_conf *, char **out);

#define CONF_DEFAULT_FILE	"/etc/danemx/danemx.conf"
#define CONF_DEFAULT_QUEUE	"/var/spool/danemx"
#define CONF_DEFAULT_STATE	"/var/lib/danemx"

#endif /* DANEMX_CONF_H */
