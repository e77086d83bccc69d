/*
 * cmd_sendmail.c - danemx sendmail: queue a message from stdin, as
 * sendmail(8) does, so that existing software can use danemx unchanged.
 *
 * It finds the queue as the relay does (cli_conf.c). Run by root it
 * becomes the relay's user first (as Postfix's postdrop does), so that
 * every file it writes is the relay's to read; run by anyone else who
 * cannot write the queue, it drops the message into maildrop/ for the
 * relay's pickup. Either way the message is durable before it exits 0.
 * Everything allocated is freed before the command returns.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "util/util.h"

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

/* A sendmail run: its options, its envelope and its message. */
struct sendmail {
	struct dmx_conf	 conf;
	const char	*cfile, *sender;
	char		*sets[64];
	size_t		 nsets;
	int		 tflag, dot_ends;
	char		*rcpts[QUEUE_RCPT_MAX];
	size_t		 nrcpt;
	char		 sbuf[600];	/* the default sender */
	struct buf	 all;		/* the input, CRLF lines */
	size_t		 hlen;		/* ... its header block */
	struct buf	 out;		/* the message to queue */
};

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
/*
 * sendmail_args - sendmail's own option letters; -o takes KEY=VALUE or
 * iX/em/db. -1 to go on, else the exit status.
 */
static int
sendmail_args(struct sendmail *sm, int argc, char **argv)
{
	int	 ch;

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		fputs(sendmail_help, stdout);
		return 0;
	}
	opterr = 0;
	while ((ch = getopt(argc, argv, "c:o:f:tiF:vhB:r:b:")) != -1) {
		switch (ch) {
		case 'c':
			sm->cfile = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				sm->dot_ends = 0;
			else if (strchr(optarg, '=') != NULL && sm->nsets < 64)
				sm->sets[sm->nsets++] = optarg;
			/* -oem, -odb, -odi: accepted, ignored */
			break;
		case 'f':
		case 'r':
			sm->sender = optarg;
			break;
		case 't':
			sm->tflag = 1;
			break;
		case 'i':
			sm->dot_ends = 0;
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
	return -1;
}

/*
 * sendmail_envelope - become the relay's user, then the recipients on
 * the command line and the sender (by default the caller, whose name
 * is taken before). -1 to go on, else the exit status.
 */
static int
sendmail_envelope(struct sendmail *sm, int argc, char **argv)
{
	struct passwd		*pw;
	struct relay_user	 ru;
	char			 err[512], uname[64], host[256];
	size_t			 i;

	pw = getpwuid(getuid());
	strlcpy_(uname, pw ? pw->pw_name : "nobody", sizeof(uname));
	if (cli_relay_user(&sm->conf, &ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		return EX_CONFIG;
	}
	if (cli_priv_drop(&ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		return EX_OSERR;
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (!addr_ok(argv[i]) || sm->nrcpt == QUEUE_RCPT_MAX) {
			fprintf(stderr, "danemx sendmail: bad recipient '%s'\n",
			    argv[i]);
			return EX_DATAERR;
		}
		if ((sm->rcpts[sm->nrcpt] = strdup(argv[i])) == NULL)
			return EX_OSERR;
		sm->nrcpt++;
	}
	if (sm->sender == NULL) {
		if (gethostname(host, sizeof(host) - 1) == -1)
			strlcpy_(host, "localhost", sizeof(host));
		snprintf(sm->sbuf, sizeof(sm->sbuf), "%s@%s", uname,
		    sm->conf.helo_name ? sm->conf.helo_name : host);
		sm->sender = sm->sbuf;
	} else if (strcmp(sm->sender, "<>") == 0)
		sm->sender = "";
	if (sm->sender[0] != '\0' && !addr_ok(sm->sender)) {
		fprintf(stderr, "danemx sendmail: bad sender '%s'\n",
		    sm->sender);
		return EX_DATAERR;
	}
	return -1;
}

/*
 * sendmail_rcpt_headers - -t: unfold To, Cc and Bcc, collect their
 * addresses, copy every header but Bcc to the message. -1 to go on,
 * else the exit status.
 */
static int
sendmail_rcpt_headers(struct sendmail *sm)
{
	const char	*data = sm->all.data;
	size_t		 pos = 0, start, end, i;
	char		*v;
	int		 bcc;

	while (pos < sm->hlen) {
		start = pos;
		do {
			while (pos < sm->hlen && data[pos] != '\n')
				pos++;
			pos++;
		} while (pos < sm->hlen && (data[pos] == ' ' ||
		    data[pos] == '\t'));
		end = pos > sm->hlen ? sm->hlen : pos;
		bcc = end - start > 4 && strncasecmp(data + start, "bcc:",
		    4) == 0;
		if (bcc || (end - start > 3 && (strncasecmp(data + start,
		    "to:", 3) == 0 || strncasecmp(data + start, "cc:",
		    3) == 0))) {
			if ((v = strndup(data + start, end - start)) == NULL)
				return EX_OSERR;
			for (i = 0; v[i] != '\0'; i++)
				if (v[i] == '\r' || v[i] == '\n')
					v[i] = ' ';
			if (header_addrs(strchr(v, ':') + 1, sm->rcpts,
			    &sm->nrcpt, QUEUE_RCPT_MAX) == -1) {
				fprintf(stderr, "danemx sendmail: bad address "
				    "in %.*s header\n", (int)(strchr(v, ':') - v),
				    v);
				free(v);
				return EX_DATAERR;
			}
			free(v);
		}
		if (!bcc)
			buf_add(&sm->out, data + start, end - start);
	}
	return -1;
}

/*
 * sendmail_message - the message from stdin, with the headers sendmail
 * adds when they are missing (Date, Message-ID, From); with -t its
 * recipients. -1 to go on, else the exit status.
 */
static int
sendmail_message(struct sendmail *sm)
{
	const char	*data, *e;
	char		 date[64];
	time_t		 now = time(NULL);
	int		 r;

	buf_init(&sm->all, sm->conf.message_size_limit + 2);
	buf_init(&sm->out, sm->conf.message_size_limit + 4096);
	if ((r = read_input(&sm->all, sm->dot_ends,
	    sm->conf.message_size_limit)) != 0) {
		fprintf(stderr, "danemx sendmail: %s\n", r == -1 ?
		    "message larger than message_size_limit" :
		    "cannot read the message");
		return r == -1 ? EX_DATAERR : EX_IOERR;
	}
	data = sm->all.data ? sm->all.data : "";
	/* The header block ends at the first empty line. */
	sm->hlen = 0;
	if (sm->all.data != NULL) {
		e = strstr(data, "\r\n\r\n");
		sm->hlen = e ? (size_t)(e - data) + 2 : sm->all.len;
		if (data[0] == '\r')
			sm->hlen = 0;
	}
	if (sm->tflag) {
		if ((r = sendmail_rcpt_headers(sm)) >= 0)
			return r;
	} else
		buf_add(&sm->out, data, sm->hlen);
	if (sm->nrcpt == 0) {
		fprintf(stderr, "danemx sendmail: no recipients\n");
		return EX_DATAERR;
	}
	if (!has_header(data, sm->hlen, "Date")) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
		    gmtime(&now));
		buf_printf(&sm->out, "Date: %s\r\n", date);
	}
	if (!has_header(data, sm->hlen, "Message-ID"))
		buf_printf(&sm->out, "Message-ID: <%lld.%08x@%s>\r\n",
		    (long long)now, arc4random(), sm->conf.helo_name ?
		    sm->conf.helo_name : "localhost");
	if (!has_header(data, sm->hlen, "From") && sm->sender[0] != '\0')
		buf_printf(&sm->out, "From: <%s>\r\n", sm->sender);
	if (sm->all.data != NULL && buf_add(&sm->out, sm->all.data + sm->hlen,
	    sm->all.len - sm->hlen) == -1)
		return EX_DATAERR;
	return -1;
}

/*
 * sendmail_drop - not root nor the relay's user: through the maildrop;
 * the exit status
 */
static int
sendmail_drop(struct sendmail *sm, const char *msg)
{
	char	 err[512], dname[64];

	if (queue_space_dir(sm->conf.queue_dir, sm->conf.queue_minfree,
	    sm->out.len, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: message not queued: %s: try "
		    "again later\n", err);
		return EX_TEMPFAIL;
	}
	if (queue_maildrop_write(sm->conf.queue_dir, sm->sender,
	    (const char * const *)sm->rcpts, sm->nrcpt, msg, sm->out.len,
	    dname, sizeof(dname), err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: message not queued: %s\n",
		    err);
		return errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
		    errno == EINVAL ? EX_DATAERR : EX_CANTCREAT;
	}
	printf("maildrop/%s\n", dname);
	return 0;
}

/* sendmail_commit - into the queue itself; the exit status */
static int
sendmail_commit(struct sendmail *sm, const char *msg)
{
	struct queue		*q;
	struct queue_writer	*w;
	char			 err[512], id[QUEUE_ID_LEN + 1];
	int			 rv = 0;

	if ((q = queue_open(sm->conf.queue_dir, 0, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		return EX_CANTCREAT;
	}
	queue_set_minfree(q, sm->conf.queue_minfree);
	if (queue_space(q, sm->out.len, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx sendmail: message not queued: %s: try "
		    "again later\n", err);
		rv = EX_TEMPFAIL;
	} else if ((w = queue_writer_new(q, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx sendmail: %s\n", err);
		rv = errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
		    EX_CANTCREAT;
	} else {
		if (sm->conf.tls_required_header)
			queue_writer_honour_tls(w);	/* RFC 8689 */
		queue_writer_add(w, msg, sm->out.len);
		if (queue_commit(w, sm->sender, (const char * const *)sm->rcpts,
		    sm->nrcpt, id, err, sizeof(err)) == -1) {
			fprintf(stderr, "danemx sendmail: message not queued: "
			    "%s\n", err);
			rv = EX_TEMPFAIL;
		} else
			printf("%s\n", id);
	}
	queue_close(q);
	return rv;
}

/*
 * sendmail_queue - a mail loop stops here; else the message goes into
 * the queue, or through the maildrop for those who cannot write it (the
 * pickup adds a Received: header then). The exit status.
 */
static int
sendmail_queue(struct sendmail *sm)
{
	struct queue_hops	 hops;
	const char		*msg = sm->out.data ? sm->out.data : "";
	char			 tmpdir[4200];
	int			 viadrop;

	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", sm->conf.queue_dir);
	viadrop = faccessat(AT_FDCWD, tmpdir, W_OK | X_OK, AT_EACCESS) == -1 &&
	    errno == EACCES;
	queue_hops_init(&hops);
	queue_hops_add(&hops, msg, sm->out.len);
	if (hops.n + (viadrop ? 1 : 0) >= sm->conf.hopcount_limit) {
		fprintf(stderr, "danemx sendmail: message refused: too many "
		    "hops: %u Received: headers (hopcount_limit %lu), a mail "
		    "loop?\n", hops.n, sm->conf.hopcount_limit);
		return EX_DATAERR;
	}
	return viadrop ? sendmail_drop(sm, msg) : sendmail_commit(sm, msg);
}

/* cmd_sendmail - queue a message from stdin */
int
cmd_sendmail(struct cli *c, int argc, char **argv)
{
	struct sendmail	*sm;
	size_t		 i;
	int		 rv;

	(void)c;
	if ((sm = calloc(1, sizeof(*sm))) == NULL) {
		fprintf(stderr, "danemx sendmail: out of memory\n");
		return EX_OSERR;
	}
	sm->dot_ends = 1;
	if ((rv = sendmail_args(sm, argc, argv)) >= 0) {
		free(sm);
		return rv;
	}
	if (cli_load_conf(&sm->conf, sm->cfile, sm->sets, sm->nsets,
	    "sendmail") == -1) {
		free(sm);
		return EX_CONFIG;
	}
	if ((rv = sendmail_envelope(sm, argc, argv)) < 0 &&
	    (rv = sendmail_message(sm)) < 0)
		rv = sendmail_queue(sm);
	buf_free(&sm->all);
	buf_free(&sm->out);
	for (i = 0; i < sm->nrcpt; i++)
		free(sm->rcpts[i]);
	conf_free(&sm->conf);
	free(sm);
	return rv;
}
