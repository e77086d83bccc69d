/*
 * test_conf.c - danemx.conf: defaults, units, listen replacement, the
 * TLS reporting keys and their check, metrics_listen (off by default,
 * loopback only), and errors that name the line or the key.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "tls/tls.h"
#include "t.h"
#include "util/util.h"

/* test_tlsrpt_keys - TLS reporting: off by default; when on, it says who
 * reports */
static void
test_tlsrpt_keys(void)
{
	struct dmx_conf	 c;
	char		 err[256];

	conf_defaults(&c);
	T_CHECK(c.tlsrpt == 0 && c.tlsrpt_max_age == 7 * 86400 &&
	    c.tlsrpt_send_all == 0 && c.organization_name == NULL &&
	    c.contact_info == NULL && c.tlsrpt_suppress == NULL &&
	    conf_check(&c, err, sizeof(err)) == 0, "TLS-RPT defaults");
	T_CHECK(conf_set(&c, "tlsrpt = yes", err, sizeof(err)) == 0 &&
	    conf_check(&c, err, sizeof(err)) == -1 && strstr(err,
	    "organization_name and contact_info") != NULL,
	    "tlsrpt without organization_name: %s", err);
	T_CHECK(conf_set(&c, "organization_name = Example Org \xc3\xa9", err,
	    sizeof(err)) == 0 && conf_check(&c, err, sizeof(err)) == -1,
	    "tlsrpt without contact_info: %s", err);
	T_CHECK(conf_set(&c, "contact_info = tlsrpt@example.org", err,
	    sizeof(err)) == 0 && conf_check(&c, err, sizeof(err)) == 0,
	    "tlsrpt with both: %s", err);
	T_CHECK(conf_set(&c, "contact_info = not an address", err,
	    sizeof(err)) == -1 && strstr(err, "contact_info") != NULL,
	    "contact_info not an address: %s", err);
	T_CHECK(conf_set(&c, "organization_name = bad \x01 org", err,
	    sizeof(err)) == -1 && conf_set(&c, "organization_name = \xc3(",
	    err, sizeof(err)) == -1, "organization_name with a control "
	    "character or broken UTF-8");
	T_CHECK(conf_set(&c, "tlsrpt_max_age = 30d", err, sizeof(err)) == 0 &&
	    c.tlsrpt_max_age == 30 * 86400, "tlsrpt_max_age 30d: %s", err);
	T_CHECK(conf_set(&c, "tlsrpt_max_age = 7", err, sizeof(err)) == -1 &&
	    strstr(err, "172800 or more") != NULL, "tlsrpt_max_age 7 seconds: "
	    "%s", err);
	T_CHECK(c.tlsrpt_delay == 3600 && c.tlsrpt_retry == 300,
	    "tlsrpt_delay, tlsrpt_retry defaults");
	T_CHECK(conf_set(&c, "tlsrpt_delay = 0", err, sizeof(err)) == 0 &&
	    c.tlsrpt_delay == 0, "tlsrpt_delay 0: %s", err);
	T_CHECK(conf_set(&c, "tlsrpt_retry = 0", err, sizeof(err)) == -1,
	    "tlsrpt_retry 0 refused");
	T_CHECK(c.bypass_recheck_interval == 6 * 3600,
	    "bypass_recheck_interval default: %lu", c.bypass_recheck_interval);
	T_CHECK(conf_set(&c, "bypass_recheck_interval = 30m", err,
	    sizeof(err)) == 0 && c.bypass_recheck_interval == 1800,
	    "bypass_recheck_interval 30m: %s", err);
	T_CHECK(conf_set(&c, "bypass_recheck_interval = 0", err,
	    sizeof(err)) == -1, "bypass_recheck_interval 0 refused");
	T_CHECK(conf_set(&c, "tlsrpt_send_all = yes", err, sizeof(err)) == 0 &&
	    conf_set(&c, "tlsrpt_suppress = example.org, /etc/x", err,
	    sizeof(err)) == 0 && c.tlsrpt_send_all == 1 &&
	    strcmp(c.tlsrpt_suppress, "example.org, /etc/x") == 0,
	    "send_all, suppress: %s", err);
	conf_free(&c);
}

/* test_metrics_listen - off by default; a loopback ADDR:PORT only */
static void
test_metrics_listen(void)
{
	static const struct {
		const char	*val, *want;	/* want: NULL if accepted */
	} cases[] = {
		{ "127.0.0.1:9425", NULL },
		{ "127.1.2.3:9425", NULL },
		{ "[::1]:9425", NULL },
		{ "", NULL },				/* off */
		{ "192.0.2.1:9425", "is not a loopback address" },
		{ "0.0.0.0:9425", "is not a loopback address" },
		{ "[::]:9425", "is not a loopback address" },
		{ "[2001:db8::1]:9425", "is not a loopback address" },
		{ "localhost:9425", "is not ADDR:PORT" },
		{ "127.0.0.1", "has no port" },
		{ "127.0.0.1:0", "is not ADDR:PORT" },
		{ "127.0.0.1:99999", "is not ADDR:PORT" },
	};
	struct dmx_conf	 c;
	char		 err[256], kv[100];
	size_t		 i;
	int		 r;

	conf_defaults(&c);
	T_CHECK(c.metrics_listen == NULL && conf_check(&c, err,
	    sizeof(err)) == 0, "metrics are off by default");
	for (i = 0; i < DMX_NELEM(cases); i++) {
		err[0] = '\0';
		snprintf(kv, sizeof(kv), "metrics_listen = %s", cases[i].val);
		r = conf_set(&c, kv, err, sizeof(err));
		if (r == 0)
			r = conf_check(&c, err, sizeof(err));
		if (cases[i].want == NULL)
			T_CHECK(r == 0, "%s refused: %s", cases[i].val, err);
		else
			T_CHECK(r == -1 && strstr(err, cases[i].want) != NULL &&
			    strstr(err, "metrics_listen") != NULL,
			    "%s: got '%s', want '%s'", cases[i].val, err,
			    cases[i].want);
	}
	conf_free(&c);
}

int
main(void)
{
	static const char text[] =
	    "# relay\n"
	    "listen = 192.0.2.1:25\n"
	    "listen = [2001:db8::1]:587   # submission\n"
	    "queue_dir = /var/spool/x\n"
	    "max_queue_lifetime = 3d\n"
	    "message_size_limit = 10m\n"
	    "retry_min = 5m\n";
	static const struct {
		const char	*text, *want;
	} bad[] = {
		{ "listen 1.2.3.4:25\n", "line 1: expected 'key = value'" },
		{ "\nfoo = 1\n", "line 2: unknown setting 'foo'" },
		{ "max_queue_lifetime = 5x\n", "is not a duration" },
		{ "message_size_limit = lots\n", "is not a size" },
		{ "recipient_limit = 1k\n", "is not a number" },
		{ "retry_min = 99999999999999999999\n", "is not a duration" },
		{ "mta_sts = on\n", "mta_sts: 'on' is not yes or no" },
		{ "mta_sts = Yes\n", "mta_sts: 'Yes' is not yes or no" },
		{ "smtpd_forbid_bare_newline = normal\n", "line 1: "
		    "smtpd_forbid_bare_newline: 'normal' is not one of: yes, "
		    "no, mynetworks-exempt" },
		{ "smtpd_client_limit_exempt = all\n", "is not one of: "
		    "mynetworks, none" },
		{ "dkim_domain = example..org\n", "line 1: dkim_domain: "
		    "'example..org' is not a domain name" },
		{ "dkim_selector = s1; x=y\n", "dkim_selector: 's1; x=y' is not "
		    "a domain name" },
		{ "dkim_key_file = dkim.pem\n", "dkim_key_file: 'dkim.pem' is not "
		    "an absolute path" },
		{ "postmaster = hostmaster\n", "postmaster: 'hostmaster' is "
		    "not an address" },
		{ "postmaster = <a@b.test>\n", "is not an address" },
		{ "hopcount_limit = 0\n", "hopcount_limit: must be 1 or more" },
		{ "smtpd_hard_error_limit = 0\n", "must be 1 or more" },
		{ "smtpd_line_length_limit = 999\n",
		    "smtpd_line_length_limit: must be 1000 or more" },
		{ "smtpd_session_time_limit = 0\n", "must be more than 0" },
		{ "tls_min_version = TLSv1.4\n", "tls_min_version: 'TLSv1.4' "
		    "is not TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3" },
		{ "smtpd_tls_min_version = 1.2\n", "is not TLSv1" },
		{ "downgrade_action = pin\n", "downgrade_action: 'pin' is not "
		    "one of: alert, defer" },
		{ "downgrade_command = alert.sh\n", "downgrade_command: "
		    "'alert.sh' does not begin with an absolute path" },
		{ "downgrade_command_timeout = 0\n", "must be more than 0" },
	};
	char		*dump;
	struct dmx_conf	 c;
	char		 err[256] = "";
	size_t		 i;

	conf_defaults(&c);
	T_CHECK(c.nlisten == 2 && strcmp(c.listen[0], "127.0.0.1:25") == 0,
	    "default listen is loopback");
	T_CHECK(c.max_queue_lifetime == 5 * 86400, "default lifetime 5d");
	T_CHECK(strcmp(c.user, "danemx") == 0, "default user %s: a user of "
	    "its own, not nobody", c.user);
	T_CHECK(c.queue_minfree == 64UL * 1024 * 1024, "default queue_minfree "
	    "%lu", c.queue_minfree);
	T_CHECK(c.tls_min_version == TLS1_2_VERSION &&
	    c.tls_opportunistic_min_version == TLS1_VERSION &&
	    c.smtpd_tls_min_version == TLS1_2_VERSION,
	    "default TLS floors: %lx %lx %lx", c.tls_min_version,
	    c.tls_opportunistic_min_version, c.smtpd_tls_min_version);
	T_CHECK(conf_parse(&c, text, strlen(text), err, sizeof(err)) == 0,
	    "parse: %s", err);
	T_CHECK(c.nlisten == 2 && strcmp(c.listen[0], "192.0.2.1:25") == 0 &&
	    strcmp(c.listen[1], "[2001:db8::1]:587") == 0,
	    "listen replaced defaults: %zu", c.nlisten);
	T_CHECK(strcmp(c.queue_dir, "/var/spool/x") == 0, "queue_dir");
	T_CHECK(c.max_queue_lifetime == 3 * 86400, "3d = %lu",
	    c.max_queue_lifetime);
	T_CHECK(c.message_size_limit == 10 * 1024 * 1024, "10m = %lu",
	    c.message_size_limit);
	T_CHECK(c.retry_min == 300, "5m = %lu", c.retry_min);
	T_CHECK(conf_set(&c, "helo_name = mx.example.org", err,
	    sizeof(err)) == 0 && strcmp(c.helo_name, "mx.example.org") == 0,
	    "-o helo_name: %s", err);
	T_CHECK(conf_set(&c, "helo_name", err, sizeof(err)) == -1,
	    "-o without '=' accepted");
	T_CHECK(conf_set(&c, "retry_min=0", err, sizeof(err)) == -1 &&
	    strstr(err, "more than 0") != NULL, "retry_min=0 accepted: %s", err);
	T_CHECK(conf_set(&c, "dest_concurrency=0", err, sizeof(err)) == -1,
	    "dest_concurrency=0 accepted");
	T_CHECK(conf_set(&c, "queue_minfree=512k", err, sizeof(err)) == 0 &&
	    c.queue_minfree == 512 * 1024, "queue_minfree=512k: %s", err);
	T_CHECK(conf_set(&c, "queue_minfree=0", err, sizeof(err)) == 0 &&
	    c.queue_minfree == 0, "queue_minfree=0 (no reserve): %s", err);
	T_CHECK(conf_set(&c, "queue_minfree=5d", err, sizeof(err)) == -1,
	    "queue_minfree=5d accepted");
	conf_free(&c);

	/* MTA-STS: on by default, the state in /var/lib/danemx, system CAs */
	conf_defaults(&c);
	T_CHECK(c.mta_sts == 1 && strcmp(c.state_dir, "/var/lib/danemx") == 0 &&
	    c.ca_file == NULL, "MTA-STS defaults");
	T_CHECK(conf_set(&c, "mta_sts = no", err, sizeof(err)) == 0 &&
	    c.mta_sts == 0, "mta_sts = no: %s", err);
	T_CHECK(conf_set(&c, "mta_sts=yes", err, sizeof(err)) == 0 &&
	    c.mta_sts == 1, "mta_sts=yes: %s", err);
	T_CHECK(conf_set(&c, "state_dir = /srv/state", err, sizeof(err)) == 0 &&
	    strcmp(c.state_dir, "/srv/state") == 0, "state_dir: %s", err);
	T_CHECK(conf_set(&c, "ca_file = /etc/ssl/roots.pem", err,
	    sizeof(err)) == 0 && strcmp(c.ca_file, "/etc/ssl/roots.pem") == 0,
	    "ca_file: %s", err);
	dump = NULL;
	conf_set(&c, "mta_sts = no", err, sizeof(err));
	conf_dump(&c, &dump);
	T_CHECK(dump && strstr(dump, "\nmta_sts = no\n") &&
	    strstr(dump, "\nstate_dir = /srv/state\n"),
	    "dump: %s", dump ? dump : "(null)");
	free(dump);
	conf_free(&c);

	test_tlsrpt_keys();
	test_metrics_listen();

	/* The listener's limits: defaults, and the values that may be 0. */
	conf_defaults(&c);
	T_CHECK(c.hopcount_limit == 50, "hopcount_limit %lu", c.hopcount_limit);
	T_CHECK(strcmp(c.smtpd_forbid_bare_newline, "yes") == 0,
	    "smtpd_forbid_bare_newline %s", c.smtpd_forbid_bare_newline);
	T_CHECK(c.smtpd_line_length_limit == 65536 &&
	    c.smtpd_session_time_limit == 3600 &&
	    c.smtpd_soft_error_limit == 10 && c.smtpd_hard_error_limit == 20 &&
	    c.smtpd_error_sleep_time == 1 && c.smtpd_junk_command_limit == 100 &&
	    c.smtpd_client_connection_count_limit == 10 &&
	    c.smtpd_client_connection_rate_limit == 60 &&
	    c.smtpd_client_rate_time_unit == 60 &&
	    strcmp(c.smtpd_client_limit_exempt, "mynetworks") == 0 &&
	    c.postmaster == NULL, "listener defaults");
	T_CHECK(conf_set(&c, "smtpd_error_sleep_time=0", err, sizeof(err)) ==
	    0 && c.smtpd_error_sleep_time == 0, "error sleep 0: %s", err);
	T_CHECK(conf_set(&c, "smtpd_client_connection_rate_limit=0", err,
	    sizeof(err)) == 0, "rate limit 0 (none): %s", err);
	T_CHECK(conf_set(&c, "smtpd_line_length_limit=1000", err,
	    sizeof(err)) == 0 && c.smtpd_line_length_limit == 1000,
	    "line length 1000: %s", err);
	T_CHECK(conf_set(&c, "smtpd_forbid_bare_newline=mynetworks-exempt", err,
	    sizeof(err)) == 0, "mynetworks-exempt: %s", err);
	T_CHECK(conf_set(&c, "postmaster=hostmaster@example.org", err,
	    sizeof(err)) == 0 && strcmp(c.postmaster, "hostmaster@example.org")
	    == 0, "postmaster: %s", err);
	T_CHECK(conf_set(&c, "postmaster=", err, sizeof(err)) == 0 &&
	    c.postmaster[0] == '\0', "empty postmaster: %s", err);
	T_CHECK(c.dkim_domain == NULL && c.dkim_selector == NULL &&
	    c.dkim_key_file == NULL, "no DKIM key by default");
	T_CHECK(strcmp(c.downgrade_action, "alert") == 0 &&
	    c.downgrade_command == NULL && c.downgrade_command_timeout == 30,
	    "downgrade defaults: alert, no command, 30s");
	T_CHECK(conf_set(&c, "downgrade_action=defer", err, sizeof(err)) ==
	    0 && strcmp(c.downgrade_action, "defer") == 0 && conf_set(&c,
	    "downgrade_command = /usr/local/bin/page-oncall --dane", err,
	    sizeof(err)) == 0 && strcmp(c.downgrade_command,
	    "/usr/local/bin/page-oncall --dane") == 0 && conf_set(&c,
	    "downgrade_command_timeout=2m", err, sizeof(err)) == 0 &&
	    c.downgrade_command_timeout == 120, "downgrade keys: %s", err);
	T_CHECK(conf_set(&c, "dkim_domain = Mail.Example.org", err,
	    sizeof(err)) == 0 && conf_set(&c, "dkim_selector=tlsrpt-2026.a",
	    err, sizeof(err)) == 0 && conf_set(&c, "dkim_key_file=/etc/danemx/"
	    "dkim.pem", err, sizeof(err)) == 0 && strcmp(c.dkim_domain,
	    "Mail.Example.org") == 0 && strcmp(c.dkim_selector, "tlsrpt-2026.a")
	    == 0 && strcmp(c.dkim_key_file, "/etc/danemx/dkim.pem") == 0,
	    "dkim keys: %s", err);
	T_CHECK(conf_set(&c, "tls_min_version=TLSv1.3", err,
	    sizeof(err)) == 0 && c.tls_min_version == TLS1_3_VERSION, "tls_min_version: %s", err);
	T_CHECK(conf_set(&c, "smtpd_tls_min_version = tlsv1.1", err,
	    sizeof(err)) == 0 && c.smtpd_tls_min_version == TLS1_1_VERSION,
	    "smtpd_tls_min_version: %s", err);
	T_CHECK(conf_dump(&c, &dump) == 0 && strstr(dump, "tls_min_version = "
	    "TLSv1.3\ntls_opportunistic_min_version = TLSv1\n"
	    "smtpd_tls_min_version = TLSv1.1\n") != NULL, "dump: %s", dump);
	free(dump);
	conf_free(&c);
	for (i = 0; i < DMX_NELEM(bad); i++) {
		conf_defaults(&c);
		err[0] = '\0';
		T_CHECK(conf_parse(&c, bad[i].text, strlen(bad[i].text), err,
		    sizeof(err)) == -1 && strstr(err, bad[i].want) != NULL,
		    "'%s': got '%s', want '%s'", bad[i].text, err, bad[i].want);
		conf_free(&c);
	}
	return t_done("test_conf");
}
