/*
 * cli_conf.c - the relay's configuration as every command reads it:
 * the defaults, then danemx.conf (-c FILE, or /etc/danemx/danemx.conf
 * when it exists), then each -o key=value.
 *
 * The caller owns the struct dmx_conf filled in and frees it with
 * conf_free(); on failure nothing is left to free.
 */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "util/util.h"

/* cli_load_conf - defaults, the file, then the -o settings */
int
cli_load_conf(struct dmx_conf *conf, const char *file, char **sets,
    size_t nsets, const char *cmd)
{
	char	 err[512];
	size_t	 i;

	conf_defaults(conf);
	if (file == NULL && access(CONF_DEFAULT_FILE, F_OK) == 0)
		file = CONF_DEFAULT_FILE;
	if (file != NULL && conf_load(conf, file, err, sizeof(err)) == -1)
		goto fail;
	for (i = 0; i < nsets; i++)
		if (conf_set(conf, sets[i], err, sizeof(err)) == -1)
			goto fail;
	return 0;
fail:
	fprintf(stderr, "danemx %s: %s\n", cmd, err);
	conf_free(conf);
	return -1;
}

/*
 * cli_tlsrpt_submitter - the domain TLS reports come from (report-id,
 * filename, TLS-Report-Submitter): dkim_domain, which signs them, else
 * helo_name, else the host's name. Into buf; returns buf.
 */
const char *
cli_tlsrpt_submitter(const struct dmx_conf *conf, char *buf, size_t len)
{
	if (conf->dkim_domain != NULL && conf->dkim_domain[0] != '\0')
		strlcpy_(buf, conf->dkim_domain, len);
	else if (conf->helo_name != NULL && conf->helo_name[0] != '\0')
		strlcpy_(buf, conf->helo_name, len);
	else if (gethostname(buf, len - 1) == -1)
		strlcpy_(buf, "localhost", len);
	buf[len - 1] = '\0';
	return buf;
}
