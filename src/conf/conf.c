/*
 * conf.c - reading danemx.conf(5) and -o key=value settings.
 *
 * Values: strings as written (surrounding blanks dropped), numbers with
 * an optional unit (sizes: k, m, g; durations: s, m, h, d, w), yes or no
 * for switches. "listen"
 * may repeat: the file's first "listen" replaces the default, later ones
 * add. A bad line is an error naming the line: a relay that guessed its
 * configuration could become an open one.
 *
 * A struct dmx_conf owns its strings: conf_set() and conf_load()
 * replace a value and free the old one, conf_free() frees them all.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "metrics/metrics.h"
#include "tls/tls.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

enum kind { K_STR, K_LISTEN, K_SIZE, K_TIME, K_NUM, K_BOOL, K_TLSVER };

static const struct key {
	const char	*name;
	enum kind	 kind;
	size_t		 off;
} keys[] = {
#define S(f)	offsetof(struct dmx_conf, f)
	{ "listen", K_LISTEN, 0 },
	{ "mynetworks", K_STR, S(mynetworks) },
	{ "queue_dir", K_STR, S(queue_dir) },
	{ "resolver_config", K_STR, S(resolver_config) },
	{ "trust_anchor", K_STR, S(trust_anchor) },
	{ "forwarder", K_STR, S(forwarder) },
	{ "policy_file", K_STR, S(policy_file) },
	{ "bypass_file", K_STR, S(bypass_file) },
	{ "transport_file", K_STR, S(transport_file) },
	{ "user", K_STR, S(user) },
	{ "helo_name", K_STR, S(helo_name) },
	{ "relayhost", K_STR, S(relayhost) },
	{ "pid_file", K_STR, S(pid_file) },
	{ "tls_cert_file", K_STR, S(tls_cert_file) },
	{ "tls_key_file", K_STR, S(tls_key_file) },
	{ "state_dir", K_STR, S(state_dir) },
	{ "ca_file", K_STR, S(ca_file) },
	{ "mta_sts", K_BOOL, S(mta_sts) },
	{ "dkim_domain", K_STR, S(dkim_domain) },
	{ "dkim_selector", K_STR, S(dkim_selector) },
	{ "dkim_key_file", K_STR, S(dkim_key_file) },
	{ "tls_min_version", K_TLSVER, S(tls_min_version) },
	{ "tls_opportunistic_min_version", K_TLSVER,
	    S(tls_opportunistic_min_version) },
	{ "smtpd_tls_min_version", K_TLSVER, S(smtpd_tls_min_version) },
	{ "max_queue_lifetime", K_TIME, S(max_queue_lifetime) },
	{ "retry_min", K_TIME, S(retry_min) },
	{ "retry_max", K_TIME, S(retry_max) },
	{ "message_size_limit", K_SIZE, S(message_size_limit) },
	{ "queue_minfree", K_SIZE, S(queue_minfree) },
	{ "recipient_limit", K_NUM, S(recipient_limit) },
	{ "max_sessions", K_NUM, S(max_sessions) },
	{ "max_deliveries", K_NUM, S(max_deliveries) },
	{ "dest_concurrency", K_NUM, S(dest_concurrency) },
	{ "smtp_timeout", K_TIME, S(smtp_timeout) },
	{ "smtp_connect_timeout", K_TIME, S(smtp_connect_timeout) },
	{ "smtp_greeting_timeout", K_TIME, S(smtp_greeting_timeout) },
	{ "smtp_helo_timeout", K_TIME, S(smtp_helo_timeout) },
	{ "smtp_starttls_timeout", K_TIME, S(smtp_starttls_timeout) },
	{ "smtp_mail_timeout", K_TIME, S(smtp_mail_timeout) },
	{ "smtp_rcpt_timeout", K_TIME, S(smtp_rcpt_timeout) },
	{ "smtp_data_init_timeout", K_TIME, S(smtp_data_init_timeout) },
	{ "smtp_data_xfer_timeout", K_TIME, S(smtp_data_xfer_timeout) },
	{ "smtp_data_done_timeout", K_TIME, S(smtp_data_done_timeout) },
	{ "smtp_quit_timeout", K_TIME, S(smtp_quit_timeout) },
	{ "hopcount_limit", K_NUM, S(hopcount_limit) },
	{ "tls_required_header", K_BOOL, S(tls_required_header) },
	{ "postmaster", K_STR, S(postmaster) },
	{ "smtpd_forbid_bare_newline", K_STR, S(smtpd_forbid_bare_newline) },
	{ "smtpd_line_length_limit", K_SIZE, S(smtpd_line_length_limit) },
	{ "smtpd_session_time_limit", K_TIME, S(smtpd_session_time_limit) },
	{ "smtpd_soft_error_limit", K_NUM, S(smtpd_soft_error_limit) },
	{ "smtpd_hard_error_limit", K_NUM, S(smtpd_hard_error_limit) },
	{ "smtpd_error_sleep_time", K_TIME, S(smtpd_error_sleep_time) },
	{ "smtpd_junk_command_limit", K_NUM, S(smtpd_junk_command_limit) },
	{ "smtpd_client_connection_count_limit", K_NUM,
	    S(smtpd_client_connection_count_limit) },
	{ "smtpd_client_connection_rate_limit", K_NUM,
	    S(smtpd_client_connection_rate_limit) },
	{ "smtpd_client_rate_time_unit", K_TIME,
	    S(smtpd_client_rate_time_unit) },
	{ "smtpd_client_limit_exempt", K_STR, S(smtpd_client_limit_exempt) },
	{ "tlsrpt", K_BOOL, S(tlsrpt) },
	{ "organization_name", K_STR, S(organization_name) },
	{ "contact_info", K_STR, S(contact_info) },
	{ "tlsrpt_max_age", K_TIME, S(tlsrpt_max_age) },
	{ "tlsrpt_send_all", K_BOOL, S(tlsrpt_send_all) },
	{ "tlsrpt_delay", K_TIME, S(tlsrpt_delay) },
	{ "tlsrpt_retry", K_TIME, S(tlsrpt_retry) },
	{ "tlsrpt_suppress", K_STR, S(tlsrpt_suppress) },
	{ "bypass_recheck_interval", K_TIME, S(bypass_recheck_interval) },
	{ "downgrade_action", K_STR, S(downgrade_action) },
	{ "downgrade_command", K_STR, S(downgrade_command) },
	{ "downgrade_command_timeout", K_TIME, S(downgrade_command_timeout) },
	{ "metrics_listen", K_STR, S(metrics_listen) },
#undef S
};

/* Settings that take one of a few words. */
static const struct {
	const char	*key;
	const char	*words[4];
} choices[] = {
	{ "smtpd_forbid_bare_newline", { "yes", "no", "mynetworks-exempt" } },
	{ "smtpd_client_limit_exempt", { "mynetworks", "none" } },
	{ "downgrade_action", { "alert", "defer" } },
};

/* Numbers that may not be 0 (durations never may, but one) and floors. */
static const struct {
	const char	*key;
	unsigned long	 min;
} floors[] = {
	{ "max_deliveries", 1 }, { "dest_concurrency", 1 },
	{ "hopcount_limit", 1 }, { "smtpd_hard_error_limit", 1 },
	{ "smtpd_line_length_limit", 1000 },	/* RFC 5321 4.5.3.1.6 */
	{ "tlsrpt_max_age", 2 * 86400 },	/* yesterday must be kept */
};

static char **
str_field(struct dmx_conf *c, size_t off)
{
	return (char **)(void *)((char *)c + off);
}

static unsigned long *
num_field(struct dmx_conf *c, size_t off)
{
	return (unsigned long *)(void *)((char *)c + off);
}

static int
set_str(char **f, const char *v)
{
	char	*n;

	if ((n = strdup(v)) == NULL)
		return -1;
	free(*f);
	*f = n;
	return 0;
}

/* conf_defaults - a loopback-only relay with a spool in /var/spool */
void
conf_defaults(struct dmx_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->listen[0] = strdup("127.0.0.1:25");
	c->listen[1] = strdup("[::1]:25");
	c->nlisten = 2;
	c->mynetworks = strdup("127.0.0.0/8 [::1]/128");
	c->queue_dir = strdup(CONF_DEFAULT_QUEUE);
	c->state_dir = strdup(CONF_DEFAULT_STATE);
	c->mta_sts = 1;
	c->user = strdup("danemx");	/* a user of its own: not nobody */
	c->pid_file = strdup("/run/danemx.pid");
	c->max_queue_lifetime = 5 * 86400;
	c->retry_min = 300;
	c->retry_max = 3600;
	c->message_size_limit = 25 * 1024 * 1024;
	/*
	 * Room for the queue's own writes once new mail is refused: an
	 * envelope update takes a block (64 MiB: some 16,000 of them), a
	 * bounce carries only the original headers, and the DATA that
	 * concurrent sessions write between two looks at the reserve
	 * (64 KiB each, 6.4 MiB for 100 sessions) comes out of it too.
	 */
	c->queue_minfree = 64UL * 1024 * 1024;
	c->recipient_limit = 1000;
	c->max_sessions = 100;
	c->max_deliveries = 1000;
	c->dest_concurrency = 20;
	c->smtp_timeout = 300;
	c->smtp_connect_timeout = 30;
	c->smtp_greeting_timeout = 300;
	c->smtp_helo_timeout = 300;
	c->smtp_starttls_timeout = 120;
	c->smtp_mail_timeout = 300;
	c->smtp_rcpt_timeout = 300;
	c->smtp_data_init_timeout = 120;
	c->smtp_data_xfer_timeout = 180;
	c->smtp_data_done_timeout = 600;
	c->smtp_quit_timeout = 60;
	c->hopcount_limit = 50;
	c->tls_required_header = 1;
	c->smtpd_forbid_bare_newline = strdup("yes");
	c->smtpd_line_length_limit = 64 * 1024;
	c->smtpd_session_time_limit = 3600;
	c->smtpd_soft_error_limit = 10;
	c->smtpd_hard_error_limit = 20;
	c->smtpd_error_sleep_time = 1;
	c->smtpd_junk_command_limit = 100;
	c->smtpd_client_connection_count_limit = 10;
	c->smtpd_client_connection_rate_limit = 60;
	c->smtpd_client_rate_time_unit = 60;
	c->smtpd_client_limit_exempt = strdup("mynetworks");
	c->tls_min_version = TLS_MIN_DEFAULT;
	c->tls_opportunistic_min_version = TLS_OPP_MIN_DEFAULT;
	c->smtpd_tls_min_version = TLS_SMTPD_MIN_DEFAULT;
	c->tlsrpt_max_age = 7 * 86400;
	c->tlsrpt_delay = 3600;
	c->tlsrpt_retry = 300;
	c->bypass_recheck_interval = 6 * 3600;
	c->downgrade_action = strdup("alert");
	c->downgrade_command_timeout = 30;
}

/* conf_free - release the strings */
void
conf_free(struct dmx_conf *c)
{
	size_t	 i;

	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	for (i = 0; i < DMX_NELEM(keys); i++)
		if (keys[i].kind == K_STR)
			free(*str_field(c, keys[i].off));
	memset(c, 0, sizeof(*c));
}

/* parse_scaled - "25m", "5d": a number with a unit of kind */
static int
parse_scaled(const char *v, enum kind kind, unsigned long *out)
{
	unsigned long long	 n, mul = 1;
	char			*end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (kind == K_SIZE ? tolower((unsigned char)*end) :
		    kind == K_TIME ? *end : 0) {
		case 'k':	mul = 1024; break;
		case 'm':	mul = kind == K_SIZE ? 1024 * 1024 : 60; break;
		case 'g':	mul = 1024UL * 1024 * 1024; break;
		case 's':	mul = 1; break;
		case 'h':	mul = 3600; break;
		case 'd':	mul = 86400; break;
		case 'w':	mul = 7 * 86400; break;
		default:	return -1;
		}
		if (kind == K_SIZE && strchr("kmg", tolower((unsigned char)
		    *end)) == NULL)
			return -1;	/* "5d" is not a size */
		if (kind == K_TIME && *end == 'k')
			return -1;
		if (kind == K_TIME && *end == 'g')
			return -1;
	}
	if (n > (unsigned long long)1 << 40 || n * mul > (unsigned long long)1
	    << 50)
		return -1;
	*out = (unsigned long)(n * mul);
	return 0;
}

/* text_ok - no control characters, and valid UTF-8 */
static int
text_ok(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	int			 more;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			more = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			more = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			more = 3;
		else
			return 0;
		for (p++; more > 0; more--, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* check_str - a word from its list; postmaster a mailbox; 0 or -1 */
static int
check_str(const char *key, const char *val, char *err, size_t errlen)
{
	const char	*at;
	size_t		 i, j;

	/* TLS reports: who makes them (RFC 8460 4.4) */
	if (strcmp(key, "organization_name") == 0 && !text_ok(val)) {
		snprintf(err, errlen, "organization_name: control characters "
		    "or invalid UTF-8");
		return -1;
	}
	if (strcmp(key, "contact_info") == 0 && val[0] != '\0' &&
	    (strchr(val, '@') == NULL || val[0] == '@' ||
	    strrchr(val, '@')[1] == '\0' || strlen(val) > 254 ||
	    strpbrk(val, " \t<>\"") != NULL || !text_ok(val))) {
		snprintf(err, errlen, "contact_info: '%.64s' is not an address "
		    "like tlsrpt@example.org", val);
		return -1;
	}
	for (i = 0; i < DMX_NELEM(choices); i++) {
		if (strcmp(key, choices[i].key) != 0)
			continue;
		for (j = 0; j < DMX_NELEM(choices[i].words) &&
		    choices[i].words[j] != NULL; j++)
			if (strcmp(val, choices[i].words[j]) == 0)
				return 0;
		snprintf(err, errlen, "%s: '%.64s' is not one of: %s%s%s%s%s",
		    key, val, choices[i].words[0], choices[i].words[1] ?
		    ", " : "", choices[i].words[1] ? choices[i].words[1] : "",
		    choices[i].words[2] ? ", " : "", choices[i].words[2] ?
		    choices[i].words[2] : "");
		return -1;
	}
	/* DKIM: names that go into a signature, a key root reads. */
	if ((strcmp(key, "dkim_domain") == 0 || strcmp(key, "dkim_selector")
	    == 0) && val[0] != '\0' && !tlsrpt_domain_ok(val, strlen(val))) {
		snprintf(err, errlen, "%s: '%.64s' is not a domain name (letters, "
		    "digits, '-' and '.')", key, val);
		return -1;
	}
	/* The alert: an absolute path (no shell runs it), then arguments. */
	if (strcmp(key, "downgrade_command") == 0 && val[0] != '\0' &&
	    (val[0] != '/' || strpbrk(val, "\r\n") != NULL)) {
		snprintf(err, errlen, "downgrade_command: '%.64s' does not "
		    "begin with an absolute path (it runs without a shell)",
		    val);
		return -1;
	}
	if (strcmp(key, "dkim_key_file") == 0 && val[0] != '\0' &&
	    val[0] != '/') {
		snprintf(err, errlen, "dkim_key_file: '%.64s' is not an absolute "
		    "path", val);
		return -1;
	}
	/* Empty: postmaster@helo_name. Else an address we can store. */
	if (strcmp(key, "postmaster") == 0 && val[0] != '\0') {
		at = strrchr(val, '@');
		for (i = 0; val[i] != '\0'; i++)
			if ((unsigned char)val[i] <= ' ' || val[i] == '<' ||
			    val[i] == '>' || val[i] == 0x7f)
				break;
		if (at == NULL || at == val || at[1] == '\0' ||
		    val[i] != '\0' || i > 254) {
			snprintf(err, errlen, "postmaster: '%.64s' is not an "
			    "address like hostmaster@example.org", val);
			return -1;
		}
	}
	return 0;
}

/* apply - one setting; 0, or -1 with err (no line number) */
static int
apply(struct dmx_conf *c, const char *key, const char *val, char *err,
    size_t errlen)
{
	const struct key	*k = NULL;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(keys); i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (k == NULL) {
		snprintf(err, errlen, "unknown setting '%.64s'", key);
		return -1;
	}
	if (strlen(val) > 4096) {
		snprintf(err, errlen, "%s: value too long", key);
		return -1;
	}
	switch (k->kind) {
	case K_LISTEN:
		if (val[0] == '\0' || strchr(val, ' ') != NULL) {
			snprintf(err, errlen, "listen: '%.64s' is not ADDR:PORT",
			    val);
			return -1;
		}
		/* The first listen replaces the defaults. */
		if (!c->listen_set) {
			for (i = 0; i < c->nlisten; i++)
				free(c->listen[i]);
			c->nlisten = 0;
			c->listen_set = 1;
		}
		if (c->nlisten == CONF_LISTEN_MAX) {
			snprintf(err, errlen, "listen: at most %d addresses",
			    CONF_LISTEN_MAX);
			return -1;
		}
		if ((c->listen[c->nlisten] = strdup(val)) == NULL)
			goto nomem;
		c->nlisten++;
		return 0;
	case K_STR:
		if (check_str(key, val, err, errlen) == -1)
			return -1;
		if (set_str(str_field(c, k->off), val) == -1)
			goto nomem;
		return 0;
	case K_BOOL:
		if (strcmp(val, "yes") == 0)
			*num_field(c, k->off) = 1;
		else if (strcmp(val, "no") == 0)
			*num_field(c, k->off) = 0;
		else {
			snprintf(err, errlen, "%s: '%.64s' is not yes or no",
			    key, val);
			return -1;
		}
		return 0;
	case K_TLSVER: {
		int	 v;

		if (tls_version_parse(val, &v) == -1) {
			snprintf(err, errlen, "%s: '%.64s' is not TLSv1, "
			    "TLSv1.1, TLSv1.2 or TLSv1.3", key, val);
			return -1;
		}
		*num_field(c, k->off) = (unsigned long)v;
		return 0;
	}
	case K_NUM:
	case K_SIZE:
	case K_TIME:
		if (parse_scaled(val, k->kind, num_field(c, k->off)) == -1) {
			snprintf(err, errlen, "%s: '%.64s' is not %s", key, val,
			    k->kind == K_TIME ? "a duration like 300s, 5m, 1h "
			    "or 5d" : k->kind == K_SIZE ? "a size like 10m" :
			    "a number");
			return -1;
		}
		/* Zero would make a retry loop spin or stop all delivery. */
		if (*num_field(c, k->off) == 0 && k->kind == K_TIME &&
		    strcmp(key, "smtpd_error_sleep_time") != 0 &&
		    strcmp(key, "tlsrpt_delay") != 0) {
			snprintf(err, errlen, "%s: must be more than 0", key);
			return -1;
		}
		for (i = 0; i < DMX_NELEM(floors); i++)
			if (strcmp(key, floors[i].key) == 0 &&
			    *num_field(c, k->off) < floors[i].min) {
				snprintf(err, errlen, "%s: must be %lu or more",
				    key, floors[i].min);
				return -1;
			}
		return 0;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static char *
trim(char *s)
{
	size_t	 n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* conf_parse - apply the text of a configuration file */
int
conf_parse(struct dmx_conf *c, const char *text, size_t len, char *err,
    size_t errlen)
{
	char		 line[4200], sub[200], *eq, *key, *val, *hash;
	const char	*nl;
	size_t		 pos = 0, n;
	unsigned	 lineno = 0;

	while (pos < len) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - text - pos) : len - pos;
		if (n >= sizeof(line) || memchr(text + pos, '\0', n) != NULL) {
			snprintf(err, errlen, "line %u: too long or binary",
			    lineno);
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		key = trim(line);
		if (*key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "line %u: expected 'key = value'",
			    lineno);
			return -1;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (apply(c, key, val, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "line %u: %s", lineno, sub);
			return -1;
		}
	}
	return 0;
}

/*
 * conf_check - settings that depend on each other, once all are read:
 * TLS reports (tlsrpt = yes) must say who makes them (RFC 8460 4.4);
 * metrics_listen is a loopback ADDR:PORT. 0, or -1 with err.
 */
int
conf_check(const struct dmx_conf *c, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	int			 sslen;

	if (c->tlsrpt && (c->organization_name == NULL ||
	    c->organization_name[0] == '\0' || c->contact_info == NULL ||
	    c->contact_info[0] == '\0')) {
		snprintf(err, errlen, "tlsrpt = yes needs organization_name and "
		    "contact_info (who makes the reports, RFC 8460 4.4)");
		return -1;
	}
	if (c->metrics_listen != NULL && c->metrics_listen[0] != '\0' &&
	    metrics_addr_parse(c->metrics_listen, &ss, &sslen, err, errlen) ==
	    -1)
		return -1;
	return 0;
}

/* conf_load - read path and apply it */
int
conf_load(struct dmx_conf *c, const char *path, char *err, size_t errlen)
{
	struct buf	 b;
	char		 sub[300];
	int		 r = -1;

	if (file_read(path, 1024 * 1024, &b, err, errlen) == 0) {
		r = conf_parse(c, b.data ? b.data : "", b.len, sub, sizeof(sub));
		if (r == -1)
			snprintf(err, errlen, "%s: %s", path, sub);
	}
	buf_free(&b);
	return r;
}

/* conf_set - one "key=value" (from -o) */
int
conf_set(struct dmx_conf *c, const char *keyval, char *err, size_t errlen)
{
	char	 tmp[4200], *eq;

	if (strlen(keyval) >= sizeof(tmp) || (eq = strchr(keyval, '=')) == NULL) {
		snprintf(err, errlen, "-o %.64s: expected key=value", keyval);
		return -1;
	}
	strlcpy_(tmp, keyval, sizeof(tmp));
	tmp[eq - keyval] = '\0';
	return apply(c, trim(tmp), trim(tmp + (eq - keyval) + 1), err, errlen);
}

/* conf_dump - every setting as "key = value" lines (free *out) */
int
conf_dump(const struct dmx_conf *c, char **out)
{
	struct buf	 b;
	size_t		 i;
	const char	*s;

	buf_init(&b, 1024 * 1024);
	for (i = 0; i < c->nlisten; i++)
		buf_printf(&b, "listen = %s\n", c->listen[i]);
	for (i = 0; i < DMX_NELEM(keys); i++) {
		switch (keys[i].kind) {
		case K_STR:
			s = *str_field((struct dmx_conf *)(uintptr_t)c,
			    keys[i].off);
			buf_printf(&b, "%s = %s\n", keys[i].name, s ? s : "");
			break;
		case K_NUM:
		case K_SIZE:
		case K_TIME:
			buf_printf(&b, "%s = %lu\n", keys[i].name,
			    *num_field((struct dmx_conf *)(uintptr_t)c,
			    keys[i].off));
			break;
		case K_BOOL:
			buf_printf(&b, "%s = %s\n", keys[i].name,
			    *num_field((struct dmx_conf *)(uintptr_t)c,
			    keys[i].off) ? "yes" : "no");
			break;
		case K_TLSVER:
			buf_printf(&b, "%s = %s\n", keys[i].name,
			    tls_version_name((int)*num_field((struct dmx_conf *)
			    (uintptr_t)c, keys[i].off)));
			break;
		default:
			break;
		}
	}
	*out = buf_steal(&b);
	return 0;
}
