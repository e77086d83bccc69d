/*
 * cmd_queue.c - danemx queue: list, show, delete, hold, release and
 * flush the relay's queue.
 *
 * It finds the queue as the relay does (cli_conf.c). Run by root, it
 * becomes the relay's user before it touches the queue (as Postfix's
 * postqueue does), and root never acts on a name in the queue, nor
 * signals a pid from a file (priv.c). Everything allocated is freed
 * before the command returns.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "util/util.h"

static const char queue_help[] =
"usage: danemx queue [-c FILE] [-o KEY=VALUE] [--json] COMMAND [ID]\n"
"\n"
"Commands:\n"
"  list           every message: id, size, age, sender, recipients\n"
"  show ID        the envelope and the message headers\n"
"  delete ID      remove the message (no bounce)\n"
"  hold ID        keep the message from being delivered\n"
"  release ID     undo hold (and signal the relay)\n"
"  flush [ID]     retry now (the message, or all); signals the relay\n"
"\n"
"Run by root, it becomes the relay's user first. It signals only the\n"
"process that holds the lock on pid_file (a running relay), never a\n"
"pid read from a stale file. list counts the messages the relay's user\n"
"cannot read (they are neither delivered nor bounced).\n"
"\n"
"Exit status: 0 done, 1 no such message, 64 usage, 71 cannot become\n"
"the relay's user, 78 configuration (also: no such user).\n";

static void
print_env_json(struct buf *b, const struct queue_env *e)
{
	size_t	 i;

	buf_adds(b, "{");
	json_kv_str(b, "id", e->id);
	buf_adds(b, ",");
	json_kv_str(b, "sender", e->sender);
	buf_adds(b, ",");
	json_kv_int(b, "created", (long long)e->created);
	buf_adds(b, ",");
	json_kv_int(b, "size", (long long)e->size);
	buf_adds(b, ",");
	json_kv_bool(b, "held", e->held);
	buf_adds(b, ",");
	json_kv_bool(b, "tls_required_no", e->tls_required_no);
	buf_adds(b, ",\"recipients\":[");
	for (i = 0; i < e->nrcpt; i++) {
		buf_adds(b, i ? ",{" : "{");
		json_kv_str(b, "address", e->rcpt[i].addr);
		buf_adds(b, ",");
		json_kv_str(b, "state", queue_rcpt_state_str(e->rcpt[i].state));
		buf_adds(b, ",");
		json_kv_int(b, "attempts", e->rcpt[i].attempts);
		buf_adds(b, ",");
		json_kv_int(b, "next_try", (long long)e->rcpt[i].next_try);
		buf_adds(b, ",");
		json_kv_str(b, "last", e->rcpt[i].last);
		buf_adds(b, "}");
	}
	buf_adds(b, "]}");
}

static void
print_env_text(const struct queue_env *e)
{
	char	 when[32];
	size_t	 i;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
	    gmtime(&e->created));
	printf("%s %8zu %s UTC <%s>%s%s\n", e->id, e->size, when, e->sender,
	    e->held ? " (held)" : "", e->tls_required_no ?
	    " (TLS-Required: No)" : "");
	for (i = 0; i < e->nrcpt; i++)
		printf("    %-7s <%s>%s%s\n",
		    queue_rcpt_state_str(e->rcpt[i].state), e->rcpt[i].addr, e->rcpt[i].last && e->rcpt[i].last[0] ?
		    ": " : "", e->rcpt[i].last ? e->rcpt[i].last : "");
}

/*
 * signal_relay_sig - tell the running relay to look at the queue now
 * (USR1), or to try everything now (USR2). Only the process that holds
 * the pid file's lock is signalled (cli_pidfile_owner()): a stale file
 * names a pid that may be anyone's now. -1 with why when no relay runs.
 */
static int
signal_relay_sig(const struct dmx_conf *conf, int sig, char *why,
    size_t whylen)
{
	pid_t	 pid;

	if ((pid = cli_pidfile_owner(conf->pid_file, why, whylen)) <= 0)
		return -1;
	if (kill(pid, sig) == -1) {
		snprintf(why, whylen, "cannot signal the relay (pid %ld): %s",
		    (long)pid, strerror(errno));
		return -1;
	}
	return 0;
}

static int
signal_relay(const struct dmx_conf *conf, char *why, size_t whylen)
{
	return signal_relay_sig(conf, SIGUSR1, why, whylen);
}

static void
print_unreadable_json(struct buf *b, const char *id, const char *why)
{
	buf_adds(b, "{");
	json_kv_str(b, "id", id);
	buf_adds(b, ",");
	json_kv_bool(b, "unreadable", 1);
	buf_adds(b, ",");
	json_kv_str(b, "error", why);
	buf_adds(b, ",\"recipients\":[]}");
}

/*
 * queue_args - the options, the command and its id. -1 to go on, else
 * the exit status.
 */
static int
queue_args(struct cli *c, int argc, char **argv, const char **cfile,
    char **sets, size_t *nsets, const char **cmd, const char **id)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(queue_help, stdout);
			return 0;
		case 'c':
			*cfile = optarg;
			break;
		case 'o':
			if (*nsets < 64)
				sets[(*nsets)++] = optarg;
			break;
		case '?':
			return cli_usage_error("queue", "unknown option");
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("queue", "expected a command");
	*cmd = argv[optind];
	if (optind + 1 < argc)
		*id = argv[optind + 1];
	if (strcmp(*cmd, "list") != 0 && strcmp(*cmd, "flush") != 0 &&
	    *id == NULL)
		return cli_usage_error("queue", "%s needs a queue id", *cmd);
	if (strcmp(*cmd, "list") && strcmp(*cmd, "show") &&
	    strcmp(*cmd, "delete") && strcmp(*cmd, "hold") &&
	    strcmp(*cmd, "release") && strcmp(*cmd, "flush"))
		return cli_usage_error("queue", "unknown command '%s'", *cmd);
	return -1;
}

/*
 * queue_all - list every message, or (flush) make every one due now and
 * signal the relay; a message the relay's user cannot read is never
 * passed over in silence. The exit status.
 */
static int
queue_all(struct cli *c, struct queue *q, const struct dmx_conf *conf,
    const char *cmd)
{
	struct queue_env e;
	struct buf	 b;
	char		 err[512], why[512], **ids = NULL, *p;
	size_t		 n = 0, i, k, nbad = 0;
	int		 flush = strcmp(cmd, "flush") == 0;

	if (queue_list(q, &ids, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx queue: %s\n", err);
		return EX_IOERR;
	}
	buf_init(&b, 256 * 1024 * 1024);
	if (c->json)
		buf_adds(&b, "[");
	for (i = 0; i < n; i++) {
		if (queue_env_load(q, ids[i], &e, err, sizeof(err)) == -1) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			/* Never in silence: the relay cannot either. */
			nbad++;
			p = strstr(err, ": ") ? strstr(err, ": ") + 2 : err;
			if (flush)
				continue;
			if (c->json) {
				if (b.len > 1)
					buf_adds(&b, ",");
				print_unreadable_json(&b, ids[i], p);
			} else
				printf("%s (cannot be read: %s)\n", ids[i], p);
			continue;
		}
		if (flush) {
			for (k = 0; k < e.nrcpt; k++)
				e.rcpt[k].next_try = 0;
			queue_env_store(q, &e, err, sizeof(err));
		} else if (c->json) {
			if (b.len > 1)
				buf_adds(&b, ",");
			print_env_json(&b, &e);
		} else
			print_env_text(&e);
		queue_env_free(&e);
	}
	if (c->json && !flush)
		printf("%s]\n", b.data);
	buf_free(&b);
	queue_list_free(ids, n);
	if (nbad > 0)
		fprintf(stderr, "danemx queue: %zu message%s cannot be read by "
		    "the relay's user (uid %u), so %s neither delivered nor "
		    "bounced: give %s files to that user (chown)\n", nbad,
		    nbad == 1 ? "" : "s", (unsigned)geteuid(), nbad == 1 ?
		    "it is" : "they are", nbad == 1 ? "its" : "their");
	if (flush && signal_relay(conf, why, sizeof(why)) == -1)
		fprintf(stderr, "danemx queue: %s; messages will go at the "
		    "relay's next start\n", why);
	return 0;
}

/* queue_show - a message's envelope, and its headers (text) */
static void
queue_show(struct cli *c, struct queue *q, const char *id,
    const struct queue_env *e)
{
	struct buf	 b;
	char		 err[512], *body, *end;
	size_t		 len, hl;

	if (c->json) {
		buf_init(&b, 16 * 1024 * 1024);
		print_env_json(&b, e);
		printf("%s\n", b.data);
		buf_free(&b);
		return;
	}
	print_env_text(e);
	if (queue_msg_read(q, id, &body, &len, err, sizeof(err)) == 0) {
		end = memmem(body, len, "\r\n\r\n", 4);
		hl = end ? (size_t)(end - body) + 2 : len;
		printf("\n%.*s", (int)hl, body);
		free(body);
	}
}

/*
 * queue_change - hold, release or flush one message: its envelope
 * changed, and the relay signalled (but for a hold). The exit status.
 */
static int
queue_change(struct queue *q, const struct dmx_conf *conf, const char *cmd,
    const char *id, struct queue_env *e)
{
	char	 err[512], why[512];
	size_t	 i;
	int	 changed, rv = 0;

	if (strcmp(cmd, "hold") == 0) {
		changed = !e->held;
		e->held = 1;
	} else if (strcmp(cmd, "release") == 0) {
		changed = e->held;
		e->held = 0;
	} else {
		for (i = 0; i < e->nrcpt; i++)
			e->rcpt[i].next_try = 0;
		changed = 1;
	}
	if (changed && queue_env_store(q, e, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx queue: %s\n", err);
		rv = EX_IOERR;
	} else
		printf("%s: %s\n", id, strcmp(cmd, "hold") == 0 ? "held" :
		    strcmp(cmd, "release") == 0 ? "released" :
		    "will be retried now");
	/* The relay reads its queue index again on SIGUSR1. */
	if (strcmp(cmd, "hold") != 0 && signal_relay(conf, why,
	    sizeof(why)) == -1 && strcmp(cmd, "flush") == 0)
		fprintf(stderr, "danemx queue: %s\n", why);
	return rv;
}

/* queue_one - show, delete, hold, release or flush id; the exit status */
static int
queue_one(struct cli *c, struct queue *q, const struct dmx_conf *conf,
    const char *cmd, const char *id)
{
	struct queue_env e;
	char		 err[512];
	int		 rv = 0;

	if (queue_env_load(q, id, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx queue: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "show") == 0)
		queue_show(c, q, id, &e);
	else if (strcmp(cmd, "delete") == 0) {
		if (queue_remove(q, id) == -1) {
			fprintf(stderr, "danemx queue: %s: %s\n", id,
			    strerror(errno));
			rv = 1;
		} else
			printf("%s: deleted\n", id);
	} else
		rv = queue_change(q, conf, cmd, id, &e);
	queue_env_free(&e);
	return rv;
}

/* cmd_queue - danemx queue COMMAND [ID] */
int
cmd_queue(struct cli *c, int argc, char **argv)
{
	struct dmx_conf		 conf;
	struct queue		*q;
	struct relay_user	 ru;
	const char		*cfile = NULL, *cmd = NULL, *id = NULL;
	char			*sets[64], err[512], why[512];
	size_t			 nsets = 0;
	int			 rv;

	if ((rv = queue_args(c, argc, argv, &cfile, sets, &nsets, &cmd,
	    &id)) >= 0)
		return rv;
	if (cli_load_conf(&conf, cfile, sets, nsets, "queue") == -1)
		return EX_CONFIG;
	/* Root becomes the relay's user before it touches the queue. */
	if ((rv = cli_relay_user(&conf, &ru, err, sizeof(err)) == -1 ?
	    EX_CONFIG : cli_priv_drop(&ru, err, sizeof(err)) == -1 ?
	    EX_OSERR : 0) != 0) {
		fprintf(stderr, "danemx queue: %s\n", err);
		conf_free(&conf);
		return rv;
	}
	if ((q = queue_open(conf.queue_dir, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx queue: %s\n", err);
		conf_free(&conf);
		return EX_CONFIG;
	}
	if (strcmp(cmd, "flush") == 0 && id == NULL &&
	    signal_relay_sig(&conf, SIGUSR2, why, sizeof(why)) == 0) {
		/* A running relay retries its whole index at once; no
		 * envelope needs rewriting (that takes an fsync each). */
		printf("queue: the relay retries every message now\n");
		rv = 0;
	} else if (strcmp(cmd, "list") == 0 || (strcmp(cmd, "flush") == 0 &&
	    id == NULL))
		rv = queue_all(c, q, &conf, cmd);
	else
		rv = queue_one(c, q, &conf, cmd, id);
	queue_close(q);
	conf_free(&conf);
	return rv;
}
