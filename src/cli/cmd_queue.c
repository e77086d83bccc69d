/*
 * cmd_queue.c - danemx sendmail (queue a message from stdin, as
 * sendmail(8) does) and danemx queue (list, show, delete, hold,
 * release, flush).
 *
 * Both find the queue as the relay does: -c FILE (default
 * /etc/danemx/danemx.conf when it exists) and -o key=value. Run by
 * root, both become the relay's user before they touch the queue (as
 * Postfix's postdrop and postqueue do): every file they write is then
 * the relay's to read, and root never acts on a name in the queue, nor
 * signals a pid from a file (priv.c). Everything allocated is freed
 * before the command returns.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "queue/queue.h"
#include "server/conf.h"
#include "util/util.h"

#define HDR_MAX		(256 * 1024)

static const char sendmail_help[] =
"usage: danemx sendmail [-c FILE] [-o KEY=VALUE] [-f SENDER] [-t] [-i]\n"
"                       [RECIPIENT...] < MESSAGE\n"
"\n"
"Queue the message on standard input for delivery by 'danemx serve',\n"
"like sendmail(8), so that existing software can use danemx unchanged.\n"
"The message is on disk (fsync'ed, directory included) before the\n"
"command exits 0. Without -i, a line holding a single '.' ends the\n"
"message. Date, Message-ID and From headers are added when missing.\n"
"Run by root (which becomes the relay's user first) or by the relay's\n"
"user, it writes the queue and prints the queue id; anyone else's\n"
"message goes through the queue's maildrop/ directory (prints\n"
"maildrop/NAME), which the relay picks up within a second, noting the\n"
"user's uid in a Received header. Below queue_minfree free space the\n"
"message is refused with 75: the rest is kept for the queue's updates.\n"
"\n"
"Options:\n"
"  -c FILE        configuration (default " CONF_DEFAULT_FILE " if present)\n"
"  -o KEY=VALUE   override a configuration setting (e.g. queue_dir=...)\n"
"  -f SENDER      envelope sender (default: USER@helo_name); '' or <>\n"
"                 for the null sender\n"
"  -t             take recipients from To, Cc and Bcc; Bcc is removed\n"
"  -i, -oi        a lone '.' line does not end the message\n"
"  -F NAME, -odb, -odi, -oem, -v   accepted and ignored\n"
"\n"
"Exit status (sysexits):\n"
"  0   queued               64  usage error\n"
"  65  bad message (no recipients, too large, bad address, too many\n"
"      Received: headers: a mail loop, see hopcount_limit)\n"
"  73  cannot create the queue files\n"
"  75  temporary failure (disk full, below queue_minfree): try later\n"
"  78  configuration error (also: the relay's user does not exist)\n";

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

/* cli_load_conf - defaults, the file, then the -o settings */
int
cli_load_conf(struct dmx_conf *conf, const char *file, char **sets, size_t nsets,
    const char *cmd)
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

static int
addr_ok(const char *a)
{
	const unsigned char *p;

	if (strlen(a) > QUEUE_ADDR_MAX)
		return 0;
	for (p = (const unsigned char *)a; *p != '\0'; p++)
		if (*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f ||
		    *p == ',' || *p == '"')
			return 0;
	return addr_domain_ok(a);	/* no port: "[192.0.2.1]:2525" */
}

/* header_addrs - addresses in one To/Cc/Bcc value; -1 on a bad one */
static int
header_addrs(char *v, char **out, size_t *n, size_t max)
{
	char	*p = v, *tok, *lt, *gt;
	int	 q = 0, ang = 0;

	for (tok = p; ; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '<' && !q)
			ang = 1;
		else if (*p == '>' && !q)
			ang = 0;
		if (*p != '\0' && (*p != ',' || q || ang))
			continue;
		{
			char	 c = *p;

			*p = '\0';
			if ((lt = strrchr(tok, '<')) != NULL &&
			    (gt = strchr(lt, '>')) != NULL) {
				*gt = '\0';
				tok = lt + 1;
			}
			while (isspace((unsigned char)*tok))
				tok++;
			for (gt = tok + strlen(tok); gt > tok &&
			    isspace((unsigned char)gt[-1]); gt--)
				gt[-1] = '\0';
			if (*tok != '\0') {
				if (!addr_ok(tok) || strchr(tok, '@') == NULL ||
				    *n >= max)
					return -1;
				if ((out[(*n)++] = strdup(tok)) == NULL)
					return -1;
			}
			if (c == '\0')
				break;
			tok = p + 1;
		}
	}
	return 0;
}

/*
 * read_input - the message from stdin as CRLF lines into body, with
 * the header block split off into hdr (unfolded names kept as is).
 */
static int
read_input(struct buf *all, int dot_ends, size_t max)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	while ((n = getline(&line, &cap, stdin)) != -1) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (dot_ends && n == 1 && line[0] == '.')
			break;
		if (buf_add(all, line, (size_t)n) == -1 ||
		    buf_add(all, "\r\n", 2) == -1 || all->len > max) {
			free(line);
			return -1;
		}
	}
	free(line);
	return ferror(stdin) ? -2 : 0;
}

static int
has_header(const char *hdr, size_t hlen, const char *name)
{
	size_t	 nl = strlen(name), pos = 0;

	while (pos < hlen) {
		if (hlen - pos > nl && strncasecmp(hdr + pos, name, nl) == 0 &&
		    hdr[pos + nl] == ':')
			return 1;
		while (pos < hlen && hdr[pos] != '\n')
			pos++;
		pos++;
	}
	return 0;
}

/* cmd_sendmail - queue a message from stdin */
int
cmd_sendmail(struct cli *c, int argc, char **argv)
{
	struct dmx_conf		 conf;
	struct queue		*q = NULL;
	struct queue_writer	*w = NULL;
	struct buf		 all, out;
	const char		*cfile = NULL, *sender = NULL;
	char			*sets[64], *rcpts[QUEUE_RCPT_MAX], err[512];
	char			 id[QUEUE_ID_LEN + 1], sbuf[600], host[256];
	char			 tmpdir[4200], dname[64];
	size_t			 nsets = 0, nrcpt = 0, i, hlen, pos;
	int			 tflag = 0, dot_ends = 1, ch, rv = 0, r, viadrop;
	struct queue_hops	 hops;
	struct passwd		*pw;
	struct relay_user	 ru;
	char			 date[64], uname[64];
	time_t			 now = time(NULL);

	(void)c;
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		fputs(sendmail_help, stdout);
		return 0;
	}
	opterr = 0;
	/* sendmail's own option letters; -o takes KEY=VALUE or iX/em/db. */
	while ((ch = getopt(argc, argv, "c:o:f:tiF:vhB:r:b:")) != -1) {
		switch (ch) {
		case 'c':
			cfile = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				dot_ends = 0;
			else if (strchr(optarg, '=') != NULL && nsets < 64)
				sets[nsets++] = optarg;
			/* -oem, -odb, -odi: accepted, ignored */
			break;
		case 'f':
		case 'r':
			sender = optarg;
			break;
		case 't':
			tflag = 1;
			break;
		case 'i':
			dot_ends = 0;
			break;
		case 'F':
		case 'v':
		case 'B':
			break;
		case 'b':
			if (strcmp(optarg, "m") != 0)
				return cli_usage_error("sendmail", "only -bm "
				    "(the default) is supported");
			break;
		case 'h':
			fputs(sendmail_help, stdout);
			return 0;
		default:
			return cli_usage_error("sendmail", "unknown option -%c",
			    optopt);
		}
	}
	if (cli_load_conf(&conf, cfile, sets, nsets, "sendmail") == -1)
		return EX_CONFIG;
	/* The default sender is the caller, before it becomes the relay. */
	pw = getpwuid(getuid());
	strlcpy_(uname, pw ? pw->pw_name : "nobody", sizeof(uname));
	if (cli_relay_user(&conf, &ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		conf_free(&conf);
		return EX_CONFIG;
	}
	if (cli_priv_drop(&ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		conf_free(&conf);
		return EX_OSERR;
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (!addr_ok(argv[i]) || nrcpt == QUEUE_RCPT_MAX) {
			fprintf(stderr, "danemx sendmail: bad recipient '%s'\n",
			    argv[i]);
			rv = EX_DATAERR;
			goto out;
		}
		rcpts[nrcpt++] = strdup(argv[i]);
	}
	if (sender == NULL) {
		if (gethostname(host, sizeof(host) - 1) == -1)
			strlcpy_(host, "localhost", sizeof(host));
		snprintf(sbuf, sizeof(sbuf), "%s@%s", uname,
		    conf.helo_name ? conf.helo_name : host);
		sender = sbuf;
	} else if (strcmp(sender, "<>") == 0)
		sender = "";
	if (sender[0] != '\0' && !addr_ok(sender)) {
		fprintf(stderr, "danemx sendmail: bad sender '%s'\n", sender);
		rv = EX_DATAERR;
		goto out;
	}

	buf_init(&all, conf.message_size_limit + 2);
	buf_init(&out, conf.message_size_limit + 4096);
	if ((r = read_input(&all, dot_ends, conf.message_size_limit)) != 0) {
		fprintf(stderr, "danemx sendmail: %s\n", r == -1 ?
		    "message larger than message_size_limit" :
		    "cannot read the message");
		rv = r == -1 ? EX_DATAERR : EX_IOERR;
		goto outbuf;
	}
	/* The header block ends at the first empty line. */
	hlen = 0;
	if (all.data != NULL) {
		const char *e = strstr(all.data, "\r\n\r\n");
		hlen = e ? (size_t)(e - all.data) + 2 : all.len;
		if (all.data[0] == '\r')
			hlen = 0;
	}
	if (tflag) {
		/* Unfold To/Cc/Bcc, collect addresses, drop Bcc. */
		pos = 0;
		while (pos < hlen) {
			size_t	 start = pos, end;
			char	*v;
			int	 bcc;

			do {
				while (pos < hlen && all.data[pos] != '\n')
					pos++;
				pos++;
			} while (pos < hlen && (all.data[pos] == ' ' ||
			    all.data[pos] == '\t'));
			end = pos > hlen ? hlen : pos;
			bcc = end - start > 4 && strncasecmp(all.data + start,
			    "bcc:", 4) == 0;
			if (bcc || (end - start > 3 && (strncasecmp(all.data +
			    start, "to:", 3) == 0 || strncasecmp(all.data +
			    start, "cc:", 3) == 0))) {
				v = strndup(all.data + start, end - start);
				if (v == NULL) {
					rv = EX_OSERR;
					goto outbuf;
				}
				for (i = 0; v[i] != '\0'; i++)
					if (v[i] == '\r' || v[i] == '\n')
						v[i] = ' ';
				if (header_addrs(strchr(v, ':') + 1, rcpts,
				    &nrcpt, QUEUE_RCPT_MAX) == -1) {
					fprintf(stderr, "danemx sendmail: bad "
					    "address in %.*s header\n",
					    (int)(strchr(v, ':') - v), v);
					free(v);
					rv = EX_DATAERR;
					goto outbuf;
				}
				free(v);
			}
			if (!bcc)
				buf_add(&out, all.data + start, end - start);
		}
	} else
		buf_add(&out, all.data ? all.data : "", hlen);
	if (nrcpt == 0) {
		fprintf(stderr, "danemx sendmail: no recipients\n");
		rv = EX_DATAERR;
		goto outbuf;
	}
	/* Headers sendmail adds when missing. */
	if (!has_header(all.data ? all.data : "", hlen, "Date")) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
		    gmtime(&now));
		buf_printf(&out, "Date: %s\r\n", date);
	}
	if (!has_header(all.data ? all.data : "", hlen, "Message-ID"))
		buf_printf(&out, "Message-ID: <%lld.%08x@%s>\r\n",
		    (long long)now, arc4random(), conf.helo_name ?
		    conf.helo_name : "localhost");
	if (!has_header(all.data ? all.data : "", hlen, "From") &&
	    sender[0] != '\0')
		buf_printf(&out, "From: <%s>\r\n", sender);
	if (all.data != NULL && buf_add(&out, all.data + hlen,
	    all.len - hlen) == -1) {
		rv = EX_DATAERR;
		goto outbuf;
	}

	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", conf.queue_dir);
	viadrop = faccessat(AT_FDCWD, tmpdir, W_OK | X_OK, AT_EACCESS) == -1 &&
	    errno == EACCES;
	/* A mail loop stops here (the pickup adds a Received: header). */
	queue_hops_init(&hops);
	queue_hops_add(&hops, out.data ? out.data : "", out.len);
	if (hops.n + (viadrop ? 1 : 0) >= conf.hopcount_limit) {
		fprintf(stderr, "danemx sendmail: message refused: too many "
		    "hops: %u Received: headers (hopcount_limit %lu), a mail "
		    "loop?\n", hops.n, conf.hopcount_limit);
		rv = EX_DATAERR;
		goto outbuf;
	}
	if (viadrop) {
		/* Not root nor the relay's user: through the maildrop. */
		if (queue_space_dir(conf.queue_dir, conf.queue_minfree, out.len,
		    err, sizeof(err)) == -1) {
			fprintf(stderr, "danemx sendmail: message not queued: "
			    "%s: try again later\n", err);
			rv = EX_TEMPFAIL;
			goto outbuf;
		}
		if (queue_maildrop_write(conf.queue_dir, sender,
		    (const char * const *)rcpts, nrcpt, out.data ? out.data : "",
		    out.len, dname, sizeof(dname), err, sizeof(err)) == -1) {
			fprintf(stderr, "danemx sendmail: message not queued: "
			    "%s\n", err);
			rv = errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
			    errno == EINVAL ? EX_DATAERR : EX_CANTCREAT;
			goto outbuf;
		}
		printf("maildrop/%s\n", dname);
		goto outbuf;
	}
	if ((q = queue_open(conf.queue_dir, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		rv = EX_CANTCREAT;
		goto outbuf;
	}
	queue_set_minfree(q, conf.queue_minfree);
	if (queue_space(q, out.len, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: message not queued: %s: try "
		    "again later\n", err);
		rv = EX_TEMPFAIL;
		goto outbuf;
	}
	if ((w = queue_writer_new(q, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		rv = errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
		    EX_CANTCREAT;
		goto outbuf;
	}
	queue_writer_add(w, out.data ? out.data : "", out.len);
	if (queue_commit(w, sender, (const char * const *)rcpts, nrcpt, id,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: message not queued: %s\n",
		    err);
		rv = EX_TEMPFAIL;
		goto outbuf;
	}
	printf("%s\n", id);
outbuf:
	buf_free(&all);
	buf_free(&out);
	queue_close(q);
out:
	for (i = 0; i < nrcpt; i++)
		free(rcpts[i]);
	conf_free(&conf);
	return rv;
}

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
	buf_adds(b, ",\"recipients\":[");
	for (i = 0; i < e->nrcpt; i++) {
		buf_adds(b, i ? ",{" : "{");
		json_kv_str(b, "address", e->rcpt[i].addr);
		buf_adds(b, ",");
		json_kv_str(b, "state", rcpt_state_str(e->rcpt[i].state));
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
	printf("%s %8zu %s UTC <%s>%s\n", e->id, e->size, when, e->sender,
	    e->held ? " (held)" : "");
	for (i = 0; i < e->nrcpt; i++)
		printf("    %-7s <%s>%s%s\n", rcpt_state_str(e->rcpt[i].state),
		    e->rcpt[i].addr, e->rcpt[i].last && e->rcpt[i].last[0] ?
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

/* cmd_queue - danemx queue COMMAND [ID] */
int
cmd_queue(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct dmx_conf		 conf;
	struct queue		*q = NULL;
	struct queue_env	 e;
	struct buf		 b;
	struct relay_user	 ru;
	const char		*cfile = NULL, *cmd, *id = NULL;
	char			*sets[64], err[512], **ids = NULL, *body;
	char			 why[512], *p;
	size_t			 nsets = 0, n = 0, i, len, hl, nbad = 0;
	int			 ch, rv = 0, changed = 0;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(queue_help, stdout);
			return 0;
		case 'c':
			cfile = optarg;
			break;
		case 'o':
			if (nsets < 64)
				sets[nsets++] = optarg;
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
	cmd = argv[optind];
	if (optind + 1 < argc)
		id = argv[optind + 1];
	if (strcmp(cmd, "list") != 0 && strcmp(cmd, "flush") != 0 && id == NULL)
		return cli_usage_error("queue", "%s needs a queue id", cmd);
	if (strcmp(cmd, "list") && strcmp(cmd, "show") &&
	    strcmp(cmd, "delete") && strcmp(cmd, "hold") &&
	    strcmp(cmd, "release") && strcmp(cmd, "flush"))
		return cli_usage_error("queue", "unknown command '%s'", cmd);
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
		goto out;
	}
	if (strcmp(cmd, "list") == 0 || (strcmp(cmd, "flush") == 0 &&
	    id == NULL)) {
		if (queue_list(q, &ids, &n, err, sizeof(err)) == -1) {
			fprintf(stderr, "danemx queue: %s\n", err);
			rv = EX_IOERR;
			goto out;
		}
		buf_init(&b, 256 * 1024 * 1024);
		if (c->json)
			buf_adds(&b, "[");
		for (i = 0; i < n; i++) {
			if (queue_env_load(q, ids[i], &e, err, sizeof(err)) ==
			    -1) {
				if (errno == ENOENT)
					continue;	/* removed meanwhile */
				/* Never in silence: the relay cannot either. */
				nbad++;
				p = strstr(err, ": ") ? strstr(err, ": ") + 2 : err;
				if (strcmp(cmd, "flush") == 0)
					continue;
				if (c->json) {
					if (b.len > 1)
						buf_adds(&b, ",");
					print_unreadable_json(&b, ids[i], p);
				} else
					printf("%s (cannot be read: %s)\n",
					    ids[i], p);
				continue;
			}
			if (strcmp(cmd, "flush") == 0) {
				for (len = 0; len < e.nrcpt; len++)
					e.rcpt[len].next_try = 0;
				queue_env_store(q, &e, err, sizeof(err));
			} else if (c->json) {
				if (b.len > 1)
					buf_adds(&b, ",");
				print_env_json(&b, &e);
			} else
				print_env_text(&e);
			queue_env_free(&e);
		}
		if (c->json && strcmp(cmd, "list") == 0)
			printf("%s]\n", b.data);
		buf_free(&b);
		if (nbad > 0)
			fprintf(stderr, "danemx queue: %zu message%s cannot be "
			    "read by the relay's user (uid %u), so %s neither "
			    "delivered nor bounced: give %s files to that user "
			    "(chown)\n", nbad, nbad == 1 ? "" : "s",
			    (unsigned)geteuid(), nbad == 1 ? "it is" :
			    "they are", nbad == 1 ? "its" : "their");
		if (strcmp(cmd, "flush") == 0 && signal_relay(&conf, why,
		    sizeof(why)) == -1)
			fprintf(stderr, "danemx queue: %s; messages will go at "
			    "the relay's next start\n", why);
		goto out;
	}
	if (queue_env_load(q, id, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx queue: %s\n", err);
		rv = 1;
		goto out;
	}
	if (strcmp(cmd, "show") == 0) {
		if (c->json) {
			buf_init(&b, 16 * 1024 * 1024);
			print_env_json(&b, &e);
			printf("%s\n", b.data);
			buf_free(&b);
		} else {
			print_env_text(&e);
			if (queue_msg_read(q, id, &body, &len, err,
			    sizeof(err)) == 0) {
				char *end = memmem(body, len, "\r\n\r\n", 4);
				hl = end ? (size_t)(end - body) + 2 : len;
				printf("\n%.*s", (int)hl, body);
				free(body);
			}
		}
	} else if (strcmp(cmd, "delete") == 0) {
		if (queue_remove(q, id) == -1) {
			fprintf(stderr, "danemx queue: %s: %s\n", id,
			    strerror(errno));
			rv = 1;
		} else
			printf("%s: deleted\n", id);
	} else {
		if (strcmp(cmd, "hold") == 0) {
			changed = !e.held;
			e.held = 1;
		} else if (strcmp(cmd, "release") == 0) {
			changed = e.held;
			e.held = 0;
		} else {
			for (i = 0; i < e.nrcpt; i++)
				e.rcpt[i].next_try = 0;
			changed = 1;
		}
		if (changed && queue_env_store(q, &e, err, sizeof(err)) == -1) {
			fprintf(stderr, "danemx queue: %s\n", err);
			rv = EX_IOERR;
		} else
			printf("%s: %s\n", id, strcmp(cmd, "hold") == 0 ? "held" :
			    strcmp(cmd, "release") == 0 ? "released" :
			    "will be retried now");
		/* The relay reads its queue index again on SIGUSR1. */
		if (strcmp(cmd, "hold") != 0 && signal_relay(&conf, why,
		    sizeof(why)) == -1 && strcmp(cmd, "flush") == 0)
			fprintf(stderr, "danemx queue: %s\n", why);
	}
	queue_env_free(&e);
out:
	queue_list_free(ids, n);
	queue_close(q);
	conf_free(&conf);
	return rv;
}
