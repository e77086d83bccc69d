/*
 * test_conf.c - danemx.conf: defaults, units, listen replacement, and
 * errors that name the line or the key.
 */
#include <stdlib.h>
#include <string.h>

#include "server/conf.h"
#include "tls/tls.h"
#include "t.h"
#include "util/util.h"

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
		{ "tls_min_version = TLSv1.4\n", "tls_min_version: 'TLSv1.4' "
		    "is not TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3" },
		{ "smtpd_tls_min_version = 1.2\n", "is not TLSv1" },
	};
	char		*dump;
	struct dmx_conf	 c;
	char		 err[256] = "";
	size_t		 i;

	conf_defaults(&c);
	T_CHECK(c.nlisten == 2 && strcmp(c.listen[0], "127.0.0.1:25") == 0,
	    "default listen is loopback");
	T_CHECK(c.max_queue_lifetime == 5 * 86400, "default lifetime 5d");
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
