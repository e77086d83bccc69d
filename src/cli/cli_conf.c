/*
 * cli_conf.c - the relay's configuration as every command reads it:
 * the defaults, then danemx.conf (-c FILE, or /etc/danemx/danemx.conf
 * when it exists), then each -o key=value.
 *
 * Also: the relay's state store as the relay's user would open it
 * (cli_relay_store), for the commands that read or change it.
 *
 * The caller owns the struct dmx_conf filled in and frees it with
 * conf_free(); on failure nothing is left to free. The caller closes a
 * store opened here with state_close().
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "state/state.h"
#include "util/util.h"

/*
 * cli_relay_store - become the relay's user (when root), then open its
 * store in state_dir; a command that only reads (write 0) opens it read
 * only when it may not write it. NULL when there is none, said on stderr
 * as "danemx CMD: no WHAT to read" (or "to change").
 */
struct state *
cli_relay_store(const char *cmd, const char *what, struct dmx_conf *conf,
    int write)
{
	struct state_conf	 sc;
	struct relay_user	 ru;
	struct state		*st;
	char			 err[512], err2[512];

	if (cli_relay_user(conf, &ru, err, sizeof(err)) == -1 ||
	    cli_priv_drop(&ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx %s: %s\n", cmd, err);
		return NULL;
	}
	memset(&sc, 0, sizeof(sc));
	sc.dir = conf->state_dir;
	if ((st = state_open(&sc, err, sizeof(err))) != NULL)
		return st;
	if (!write) {
		sc.readonly = 1;	/* not ours to write: read it */
		if ((st = state_open(&sc, err2, sizeof(err2))) != NULL)
			return st;
	}
	fprintf(stderr, "danemx %s: no %s to %s: %s\n", cmd, what,
	    write ? "change" : "read", err);
	return NULL;
}

/* cli_conf_opt - keep option ch ('c' or 'o') and its argument; -1 when
 * there are too many -o */
int
cli_conf_opt(struct cli_confopts *o, int ch, char *arg)
{
	if (ch == 'c') {
		o->file = arg;
		return 0;
	}
	if (o->nsets == DMX_NELEM(o->sets))
		return -1;
	o->sets[o->nsets++] = arg;
	return 0;
}

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
