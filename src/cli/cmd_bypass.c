/*
 * cmd_bypass.c - danemx bypass: list, add, remove and recheck the DANE
 * bypass list (bypass_file in danemx.conf) without a text editor.
 *
 * add and remove rewrite the file atomically: a new file in the same
 * directory (same owner and mode), fsync, rename over the old one, fsync
 * of the directory. One editor at a time: each holds a lock on
 * ".NAME.lock" beside the list from its read to its rename, so that two
 * edits at once never undo each other. Run by root, the directory is opened so that no
 * other user can have steered the path (file_open_trusted_dir()) and the
 * file itself is never followed if it is a symbolic link: root never
 * writes through a name an unprivileged user could have planted. Other
 * lines, comments included, are kept as they are. Then the running
 * relay is told to read the list again (SIGHUP, to the process that
 * holds the pid file's lock only).
 *
 * list and recheck read the relay's state store as the relay's user (a
 * root process drops its privileges first: the store is that user's,
 * and root must not create files in it). recheck checks each exact
 * domain now as `danemx check` does, without the bypass, prints the
 * result, stores it, and retires an entry whose domain validates; then
 * it tells the relay.
 *
 * Everything allocated is freed before the command returns.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "policy/policy.h"
#include "state/state.h"
#include "tls/tls.h"
#include "util/util.h"

#define BYPASS_FILE_MAX	(64 * 1024 * 1024)

enum {
	OPT_UNTIL = CLI_OPT_FIRST_COMMAND_OPT, OPT_FOR, OPT_COMMENT,
	OPT_NO_RELOAD
};

static const char bypass_help[] =
"usage: danemx bypass [-c FILE] [-o KEY=VALUE] [--json] list\n"
"       danemx bypass [-c FILE] [-o KEY=VALUE] add DOMAIN\n"
"                     [--until DATE | --for DURATION] [--comment TEXT]\n"
"       danemx bypass [-c FILE] [-o KEY=VALUE] add -\n"
"       danemx bypass [-c FILE] [-o KEY=VALUE] remove DOMAIN...\n"
"       danemx bypass [-c FILE] [-o KEY=VALUE] recheck [DOMAIN...]\n"
"\n"
"Manage the DANE bypass list (bypass_file in danemx.conf): domains whose\n"
"DANE failures do not stop their mail (TLS is still required).\n"
"\n"
"Commands:\n"
"  list       each entry: its state (applies, expired, retired), expiry,\n"
"             when it was added, and the relay's last recheck\n"
"  add        add DOMAIN (or .DOMAIN for its subdomains), or replace its\n"
"             line; the line is stamped 'added NOW', so an entry the relay\n"
"             retired applies again. --for 7d writes 'until' NOW + 7 days.\n"
"             'add -' reads lines 'domain [for DURATION | until DATE]\n"
"             [# comment]' from stdin (danemx check --suggest-bypass);\n"
"             a bad line adds none of them\n"
"  remove     remove the lines of each DOMAIN\n"
"  recheck    check each domain now (every exact entry that applies, or\n"
"             those named) as danemx check does, without the bypass, and\n"
"             retire those that validate with DANE; a host next hop\n"
"             ([mx.example.org]:25) is checked as that next hop, an\n"
"             address literal never\n"
"\n"
"Options:\n"
"  -c FILE            configuration (default " CONF_DEFAULT_FILE ")\n"
"  -o KEY=VALUE       override one setting, e.g. -o bypass_file=/etc/x\n"
"      --until DATE   YYYY-MM-DD (through the end of that day, UTC) or\n"
"                     YYYY-MM-DDTHH:MM:SSZ\n"
"      --for DURATION 12h, 7d, 2w: until now + DURATION\n"
"      --comment TEXT kept after '#' on the line\n"
"      --no-reload    do not tell the running relay\n"
"\n"
"add and remove rewrite the file atomically (same owner and mode; one\n"
"at a time, under the lock file .NAME.lock beside it) and\n"
"send the running relay SIGHUP, which reads the list again. Run by root,\n"
"they never follow a symbolic link to the file, nor a directory another\n"
"user could have changed. list and recheck read the relay's state_dir\n"
"as the relay's user.\n"
"\n"
"Exit status: 0 done (recheck: every domain validated and was retired),\n"
"1 recheck: a domain was not retired, 64 usage, 65 a bad line on stdin, 66 no such entry (remove), 71 cannot\n"
"become the relay's user, 73 cannot write the file, 78 configuration.\n";

struct bopts {
	struct cli_confopts	 co;
	const char	*until, *dur, *comment;
	int		 no_reload;
};

/* ------------------------------------------------------------------ */
/* The file, read and rewritten safely. */

struct bfile {
	int		 dfd;		/* its directory */
	int		 lockfd;	/* ".NAME.lock" beside it, or -1 */
	char		 base[256];
	struct buf	 text;		/* the content */
	int		 exists;
	uid_t		 uid;
	gid_t		 gid;
	mode_t		 mode;
};

#define BYPASS_LOCK_WAIT	100	/* tenths of a second */

/*
 * bfile_lock - one editor at a time: an exclusive flock() on ".NAME.lock"
 * beside the list, waited for at most BYPASS_LOCK_WAIT. The lock file is
 * ours and 0600 (no other user may open it and hold the lock); one of
 * another user's is refused. -1 with err.
 */
static int
bfile_lock(struct bfile *f, const char *path, char *err, size_t errlen)
{
	char		 name[300];
	struct stat	 st;
	int		 i;

	snprintf(name, sizeof(name), ".%.200s.lock", f->base);
	if ((f->lockfd = openat(f->dfd, name, O_RDONLY | O_CREAT |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: lock file %s: %s", path, name,
		    strerror(errno));
		return -1;
	}
	/* One link: not another file of ours linked in (a sticky dir). */
	if (fstat(f->lockfd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1) {
		snprintf(err, errlen, "%s: lock file %s: not a regular file of "
		    "uid %u with one link: remove it", path, name,
		    (unsigned)geteuid());
		return -1;
	}
	if ((st.st_mode & 077) != 0)
		(void)fchmod(f->lockfd, 0600);
	for (i = 0; flock(f->lockfd, LOCK_EX | LOCK_NB) == -1; i++) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || i == BYPASS_LOCK_WAIT) {
			snprintf(err, errlen, "%s: lock file %s: %s", path, name,
			    errno == EWOULDBLOCK ? "another process still "
			    "edits the list; try again" : strerror(errno));
			return -1;
		}
		if (i == 0)
			fprintf(stderr, "danemx bypass: waiting for %s (another "
			    "process edits the list)\n", name);
		usleep(100000);
	}
	return 0;
}

/* bfile_open - the directory and content of path, locked for an edit
 * when lock is set; -1 with err */
static int
bfile_open(struct bfile *f, const char *path, int lock, char *err,
    size_t errlen)
{
	char		 dir[1024];
	const char	*slash;
	struct stat	 st;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd;

	memset(f, 0, sizeof(*f));
	f->dfd = f->lockfd = -1;
	buf_init(&f->text, BYPASS_FILE_MAX);
	if (path[0] != '/' || (slash = strrchr(path, '/')) == NULL ||
	    slash[1] == '\0' || (size_t)(slash - path) >= sizeof(dir) ||
	    strlen(slash + 1) >= sizeof(f->base)) {
		snprintf(err, errlen, "bypass_file %s: not an absolute path "
		    "to a file", path);
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (dir[0] == '\0')
		strlcpy_(dir, "/", sizeof(dir));
	strlcpy_(f->base, slash + 1, sizeof(f->base));
	if (geteuid() == 0)
		f->dfd = file_open_trusted_dir(dir, err, errlen);
	else if ((f->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		snprintf(err, errlen, "%.900s: %s", dir, strerror(errno));
	if (f->dfd == -1 || (lock && bfile_lock(f, path, err, errlen) == -1))
		return -1;
	f->uid = geteuid();
	f->gid = getegid();
	f->mode = 0644;
	if ((fd = openat(f->dfd, f->base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;	/* add makes it */
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symbolic link: not followed)" : "");
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	f->exists = 1;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->mode = st.st_mode & 07777;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&f->text, chunk, (size_t)n) == -1) {
			snprintf(err, errlen, "%s: larger than %d octets", path,
			    BYPASS_FILE_MAX);
			close(fd);
			return -1;
		}
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
bfile_close(struct bfile *f)
{
	if (f->lockfd != -1)
		close(f->lockfd);	/* the lock goes with it */
	if (f->dfd != -1)
		close(f->dfd);
	f->dfd = f->lockfd = -1;
	buf_free(&f->text);
}

/* bfile_write - replace the file with text: a new file beside it, its
 * owner and mode, fsync, rename, fsync of the directory; -1 with err */
static int
bfile_write(struct bfile *f, const char *path, const struct buf *text,
    char *err, size_t errlen)
{
	char		 tmp[300];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd = -1, i;

	for (i = 0; i < 100 && fd == -1; i++) {
		snprintf(tmp, sizeof(tmp), ".%.200s.%ld.%d", f->base,
		    (long)getpid(), i);
		fd = openat(f->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot make a new file beside it: "
		    "%s", path, strerror(errno));
		return -1;
	}
	if (fchown(fd, f->uid, f->gid) == -1 && geteuid() == 0) {
		snprintf(err, errlen, "%s: chown: %s", path, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, f->mode) == -1) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		goto fail;
	}
	while (off < text->len) {
		if ((n = write(fd, text->data + off, text->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: write: %s", path,
			    strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (renameat(f->dfd, tmp, f->dfd, f->base) == -1) {
		snprintf(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto fail;
	}
	(void)fsync(f->dfd);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlinkat(f->dfd, tmp, 0);
	return -1;
}

/* line_domain - the first word of a line, lowercase, without a final
 * dot, into out ("" for a blank or comment line) */
static void
line_domain(const char *line, size_t len, char *out, size_t outlen)
{
	size_t	 i = 0, n = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (i < len && line[i] != ' ' && line[i] != '\t' &&
	    line[i] != '#' && line[i] != '\r' && n + 1 < outlen)
		out[n++] = line[i++];
	if (n > 1 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	str_lower(out);
}

/* canon - a domain as the file's first word: lowercase, no final dot */
static void
canon(const char *in, char *out, size_t outlen)
{
	size_t	 n;

	strlcpy_(out, in, outlen);
	n = strlen(out);
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
	str_lower(out);
}

/*
 * rewrite - text without the lines of each of doms[] (a blank or comment
 * line is kept); the first one's place takes newline (when not NULL:
 * add), else it goes at the end. *found counts the lines dropped.
 */
static int
rewrite(const struct buf *in, const char * const *doms, size_t ndom,
    const char *newline, struct buf *out, size_t *found)
{
	const char	*p = in->data ? in->data : "", *end = p + in->len, *nl;
	char		 d[300];
	size_t		 len, i;
	int		 placed = newline == NULL, hit;

	*found = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line_domain(p, len, d, sizeof(d));
		for (hit = 0, i = 0; i < ndom && d[0] != '\0'; i++)
			if (strcmp(d, doms[i]) == 0)
				hit = 1;
		if (hit) {
			(*found)++;
			if (!placed && (buf_adds(out, newline) == -1 ||
			    buf_adds(out, "\n") == -1))
				return -1;
			placed = 1;
		} else if (buf_add(out, p, len) == -1 ||
		    buf_adds(out, "\n") == -1)
			return -1;
		p += len + (nl ? 1 : 0);
	}
	if (!placed && (buf_adds(out, newline) == -1 ||
	    buf_adds(out, "\n") == -1))
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The relay: told to read the list again. */

/* tell_relay - SIGHUP to the running relay (the lock holder only) */
static void
tell_relay(const struct dmx_conf *conf, pid_t pid, const char *why)
{
	if (pid <= 0) {
		printf("%s: it reads the list when it starts\n", why);
		return;
	}
	if (kill(pid, SIGHUP) == -1)
		fprintf(stderr, "danemx bypass: cannot signal the relay (pid "
		    "%ld): %s\n", (long)pid, strerror(errno));
	else
		printf("the relay (pid %ld) reads the list again\n",
		    (long)pid);
	(void)conf;
}

/* ------------------------------------------------------------------ */
/* add and remove */

/* entry_line - "domain [until X] added NOW [# comment]" from the
 * options, checked by the parser; -1 with err */
static int
entry_line(const char *domain, const char *until, const char *dur,
    const char *comment, time_t now, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct policy_table	 t;
	char			 d[300], when[POLICY_TIME_LEN], stamp[POLICY_TIME_LEN];
	char			 sub[300];
	time_t			 exp = 0, len;

	canon(domain, d, sizeof(d));
	policy_bypass_time_str(now, stamp, sizeof(stamp));
	if (until != NULL && dur != NULL) {
		snprintf(err, errlen, "give --until or --for, not both");
		return -1;
	}
	if (dur != NULL) {
		if (policy_bypass_duration(dur, &len) == -1) {
			snprintf(err, errlen, "'%.40s' is not a duration like "
			    "12h, 7d or 2w", dur);
			return -1;
		}
		policy_bypass_time_str(now + len, when, sizeof(when));
		until = when;
	}
	if (until != NULL && (policy_bypass_when(until, 1, &exp) == -1 ||
	    exp < now)) {
		snprintf(err, errlen, "'%.40s' is not a date to come "
		    "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)", until);
		return -1;
	}
	if (comment != NULL && (strchr(comment, '\n') != NULL ||
	    strchr(comment, '\r') != NULL)) {
		snprintf(err, errlen, "the comment is one line");
		return -1;
	}
	if ((size_t)snprintf(out, outlen, "%s%s%s added %s%s%s", d,
	    until ? " until " : "", until ? until : "", stamp,
	    comment ? " # " : "", comment ? comment : "") >= outlen) {
		snprintf(err, errlen, "the line is too long");
		return -1;
	}
	if (policy_table_parse(&t, out, strlen(out), 1, sub,
	    sizeof(sub)) == -1) {
		snprintf(err, errlen, "%s", sub + (strncmp(sub, "line 1: ", 8)
		    == 0 ? 8 : 0));
		return -1;
	}
	policy_table_free(&t);
	return 0;
}

/* edit - add (newline) or remove (NULL) the lines of doms[] in the
 * file, atomically; the exit status */
static int
edit(const struct dmx_conf *conf, const char * const *doms, size_t ndom,
    const char *newline, int no_reload)
{
	struct bfile		 f;
	struct policy_table	 t;
	struct buf		 out;
	char			 err[1024], sub[512], why[256] = "";
	size_t			 found = 0;
	pid_t			 pid = 0;
	int			 rv = EX_CANTCREAT;

	buf_init(&out, BYPASS_FILE_MAX);
	if (bfile_open(&f, conf->bypass_file, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx bypass: %s\n", err);
		goto out;
	}
	/* A list the relay refuses is not made worse by a guess. */
	if (policy_table_parse(&t, f.text.data ? f.text.data : "", f.text.len,
	    1, sub, sizeof(sub)) == -1) {
		fprintf(stderr, "danemx bypass: %s: %s; fix it first\n",
		    conf->bypass_file, sub);
		rv = EX_CONFIG;
		goto out;
	}
	policy_table_free(&t);
	if (rewrite(&f.text, doms, ndom, newline, &out, &found) == -1) {
		fprintf(stderr, "danemx bypass: %s: too large\n",
		    conf->bypass_file);
		goto out;
	}
	if (newline == NULL && found == 0) {
		fprintf(stderr, "danemx bypass: no entry for %s in %s\n",
		    doms[0], conf->bypass_file);
		rv = EX_NOINPUT;
		goto out;
	}
	if (bfile_write(&f, conf->bypass_file, &out, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx bypass: %s\n", err);
		goto out;
	}
	if (newline != NULL)
		printf("%s %s: %s\n", found ? "replaced" : "added", doms[0],
		    newline);
	else
		printf("removed %zu line%s\n", found, found == 1 ? "" : "s");
	if (!no_reload) {
		pid = cli_pidfile_owner(conf->pid_file, why, sizeof(why));
		tell_relay(conf, pid, why);
	}
	rv = 0;
out:
	buf_free(&out);
	bfile_close(&f);
	return rv;
}

/* add_stdin - 'add -': each line of stdin an entry, every line checked
 * before the list is touched (a bad line adds nothing); the exit status */
static int
add_stdin(const struct dmx_conf *conf, int no_reload)
{
	char		 line[POLICY_LINE_MAX + 2], entry[POLICY_LINE_MAX + 100];
	char		*w[8], *save = NULL, *comment, *p, err[300], d[300];
	const char	*dom[1], *q;
	struct buf	 todo;		/* "domain\0entry\0" for each line */
	size_t		 n, lineno = 0, added = 0;
	time_t		 now = time(NULL);
	int		 rv = EX_DATAERR;

	buf_init(&todo, BYPASS_FILE_MAX);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(stdin)) {
			fprintf(stderr, "danemx bypass: stdin line %zu: longer "
			    "than %d octets\n", lineno, POLICY_LINE_MAX);
			goto out;
		}
		if ((comment = strchr(line, '#')) != NULL) {
			*comment++ = '\0';
			comment += strspn(comment, " \t");
			comment[strcspn(comment, "\r\n")] = '\0';
			if (*comment == '\0')
				comment = NULL;
		}
		for (n = 0, p = strtok_r(line, " \t\r\n", &save); p != NULL &&
		    n < DMX_NELEM(w); p = strtok_r(NULL, " \t\r\n", &save))
			w[n++] = p;
		if (n == 0)
			continue;
		if (!(n == 1 || (n == 3 && (strcasecmp(w[1], "for") == 0 ||
		    strcasecmp(w[1], "until") == 0)))) {
			fprintf(stderr, "danemx bypass: stdin line %zu: expected "
			    "'domain [for DURATION | until DATE] [# comment]'\n",
			    lineno);
			goto out;
		}
		if (entry_line(w[0], n == 3 && strcasecmp(w[1], "until") == 0 ?
		    w[2] : NULL, n == 3 && strcasecmp(w[1], "for") == 0 ? w[2] :
		    NULL, comment, now, entry, sizeof(entry), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "danemx bypass: stdin line %zu: %s\n",
			    lineno, err);
			goto out;
		}
		canon(w[0], d, sizeof(d));
		if (buf_add(&todo, d, strlen(d) + 1) == -1 ||
		    buf_add(&todo, entry, strlen(entry) + 1) == -1) {
			fprintf(stderr, "danemx bypass: stdin: more than %d "
			    "octets\n", BYPASS_FILE_MAX);
			goto out;
		}
	}
	rv = 0;
	for (q = todo.data; q != NULL && q < todo.data + todo.len;
	    q += strlen(q) + 1) {
		dom[0] = q;
		q += strlen(q) + 1;
		if ((rv = edit(conf, dom, 1, q, 1)) != 0)
			break;		/* what was written is told */
		added++;
	}
	if (added > 0 && !no_reload) {
		char	 why[256] = "";

		tell_relay(conf, cli_pidfile_owner(conf->pid_file, why,
		    sizeof(why)), why);
	}
out:
	buf_free(&todo);
	return rv;
}

/* ------------------------------------------------------------------ */
/* list and recheck: the list, and the store as the relay's user */

/* load - the list as the relay reads it; -1 said */
static int
load(const struct dmx_conf *conf, struct policy_table *t)
{
	struct bfile	 f;
	char		 err[1024], sub[512];
	int		 rv = -1;

	t->e = NULL;
	t->n = 0;
	if (bfile_open(&f, conf->bypass_file, 0, err, sizeof(err)) == -1)
		fprintf(stderr, "danemx bypass: %s\n", err);
	else if (policy_table_parse(t, f.text.data ? f.text.data : "",
	    f.text.len, 1, sub, sizeof(sub)) == -1)
		fprintf(stderr, "danemx bypass: %s: %s\n", conf->bypass_file,
		    sub);
	else
		rv = 0;
	bfile_close(&f);
	return rv;
}

/* become - the relay's user (when root); the exit status, or -1 */
static int
become(const struct dmx_conf *conf)
{
	struct relay_user	 ru;
	char			 err[512];

	if (cli_relay_user(conf, &ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx bypass: %s\n", err);
		return EX_CONFIG;
	}
	if (ru.drop && cli_priv_drop(&ru, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx bypass: %s\n", err);
		return EX_OSERR;
	}
	return -1;
}

/* store - the state store, or NULL (said on stderr) */
static struct state *
store(const struct dmx_conf *conf, int readonly)
{
	struct state_conf	 sc;
	struct state		*st;
	char			 err[512];

	memset(&sc, 0, sizeof(sc));
	sc.dir = conf->state_dir;
	sc.readonly = readonly;
	if ((st = state_open(&sc, err, sizeof(err))) == NULL)
		fprintf(stderr, "danemx bypass: state: %s; no recheck "
		    "results\n", err);
	return st;
}

/* entry_state - "applies", "expired" or "retired", with the row */
static const char *
entry_state(struct state *st, struct policy_entry *e, time_t now,
    struct state_bypass *row)
{
	char		 key[POLICY_KEY_LEN], err[256];
	const char	*nwhy;
	int		 have = 0;

	memset(row, 0, sizeof(*row));
	if (st != NULL && policy_bypass_recheckable(e->pattern, &nwhy))
		have = state_bypass_get(st, e->pattern, row, err,
		    sizeof(err)) == 1;
	if (!have)
		memset(row, 0, sizeof(*row));
	policy_bypass_key(e, key, sizeof(key));
	if (have && strcmp(key, row->entry) != 0) {
		/* about an earlier line of the domain: not this entry */
		memset(row, 0, sizeof(*row));
	}
	if (row->retired != 0)
		e->retired = 1;
	if (e->expires != 0 && now > e->expires)
		return "expired";
	return e->retired ? "retired" : "applies";
}

/* cmd_list - danemx bypass list */
static int
cmd_list(struct cli *c, const struct dmx_conf *conf)
{
	struct policy_table	 t;
	struct state_bypass	 row;
	struct state		*st;
	struct buf		 b;
	char			 exp[POLICY_TIME_LEN], add[POLICY_TIME_LEN];
	char			 chk[POLICY_TIME_LEN];
	const char		*state;
	time_t			 now = time(NULL);
	size_t			 i;
	int			 rv;

	if (load(conf, &t) == -1)
		return EX_CONFIG;
	if ((rv = become(conf)) >= 0) {
		policy_table_free(&t);
		return rv;
	}
	st = store(conf, 1);
	if (!c->json && t.n > 0)
		printf("%-34s %-8s %-21s %-21s %s\n", "DOMAIN", "STATE",
		    "EXPIRES", "ADDED", "LAST RECHECK");
	for (i = 0; i < t.n; i++) {
		struct policy_entry *e = &t.e[i];
		const char *nwhy;

		state = entry_state(st, e, now, &row);
		if (e->expires)
			policy_bypass_time_str(e->expires, exp, sizeof(exp));
		else
			strlcpy_(exp, "never", sizeof(exp));
		if (e->added)
			policy_bypass_time_str(e->added, add, sizeof(add));
		else
			strlcpy_(add, "-", sizeof(add));
		if (row.checked)
			policy_bypass_time_str(row.checked, chk, sizeof(chk));
		else
			strlcpy_(chk, "never", sizeof(chk));
		if (c->json) {
			buf_init(&b, 1024 * 1024);
			buf_adds(&b, "{");
			json_kv_str(&b, "domain", e->pattern);
			buf_adds(&b, ",");
			json_kv_int(&b, "line", e->line);
			buf_adds(&b, ",");
			json_kv_str(&b, "state", state);
			buf_adds(&b, ",");
			json_kv_str(&b, "expires", e->expires ? exp : NULL);
			buf_adds(&b, ",");
			json_kv_str(&b, "added", e->added ? add : NULL);
			buf_adds(&b, ",");
			json_kv_str(&b, "comment", e->comment);
			buf_adds(&b, ",");
			json_kv_str(&b, "checked", row.checked ? chk : NULL);
			buf_adds(&b, ",");
			json_kv_str(&b, "result", row.checked ? row.result :
			    NULL);
			buf_adds(&b, ",");
			json_kv_bool(&b, "validated", row.ok);
			buf_adds(&b, "}");
			printf("%s\n", b.data);
			buf_free(&b);
		} else if (!policy_bypass_recheckable(e->pattern, &nwhy))
			printf("%-34s %-8s %-21s %-21s not rechecked (%s)\n",
			    e->pattern, state, exp, add, nwhy);
		else
			printf("%-34s %-8s %-21s %-21s %s%s%s\n", e->pattern,
			    state, exp, add, chk, row.checked ? ": " : "",
			    row.checked ? row.result : "");
	}
	if (!c->json && t.n == 0)
		printf("the bypass list %s is empty\n", conf->bypass_file);
	state_close(st);
	policy_table_free(&t);
	return 0;
}

#define RECHECK_AT_ONCE	10	/* checks running at once */

struct rcjob {
	struct state		*st;
	const char		*domain;
	char			 key[POLICY_KEY_LEN];
	struct deliver_result	*res;
	int			 pending;
};

static void
rc_done(void *arg, struct deliver_result *r)
{
	struct rcjob	*j = arg;

	j->res = r;
	j->pending = 0;
}

/* cmd_recheck - danemx bypass recheck [DOMAIN...] */
static int
cmd_recheck(struct cli *c, struct dmx_conf *conf, char **doms, size_t ndom)
{
	struct policy_table	 t, pol = { NULL, 0 };
	struct event_base	*base = NULL;
	struct dmx_resolver	*r = NULL;
	struct deliver_env	 env;
	struct deliver_conf	 dc;
	struct state		*st = NULL;
	struct state_bypass	 row;
	struct rcjob		*jobs = NULL;
	SSL_CTX			*dctx = NULL;
	char			 err[512], why[256] = "", d[300];
	char			 v[STATE_ERR_MAX - 8];
	enum bypass_judgement	 jg;
	time_t			 now = time(NULL);
	size_t			 i, k, nj = 0, next = 0, nretired = 0;
	size_t			 nfail = 0;
	pid_t			 pid;
	int			 rv;

	if (load(conf, &t) == -1)
		return EX_CONFIG;
	if (conf->policy_file != NULL && policy_table_load(&pol,
	    conf->policy_file, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx bypass: policy: %s\n", err);
		policy_table_free(&t);
		return EX_CONFIG;
	}
	pid = cli_pidfile_owner(conf->pid_file, why, sizeof(why));
	if ((rv = become(conf)) >= 0)
		goto out;
	rv = EX_SOFTWARE;
	st = store(conf, 0);
	if ((jobs = calloc(t.n + 1, sizeof(*jobs))) == NULL)
		goto out;
	for (k = 0; k < ndom; k++) {
		canon(doms[k], d, sizeof(d));
		for (i = 0; i < t.n; i++)
			if (strcmp(t.e[i].pattern, d) == 0)
				break;
		if (i == t.n) {
			fprintf(stderr, "danemx bypass: %s is not on the list\n",
			    d);
			rv = EX_NOINPUT;
			goto out;
		}
	}
	for (i = 0; i < t.n; i++) {
		struct policy_entry *e = &t.e[i];
		const char *s, *nwhy;

		if (!policy_bypass_recheckable(e->pattern, &nwhy))
			continue;
		for (k = 0; k < ndom; k++) {
			canon(doms[k], d, sizeof(d));
			if (strcmp(d, e->pattern) == 0)
				break;
		}
		if (ndom > 0 && k == ndom)
			continue;
		s = entry_state(st, e, now, &row);
		if (strcmp(s, "applies") != 0 && ndom == 0) {
			printf("%s: %s, not rechecked\n", e->pattern, s);
			continue;
		}
		jobs[nj].st = st;
		jobs[nj].domain = e->pattern;
		policy_bypass_key(e, jobs[nj].key, sizeof(jobs[nj].key));
		nj++;
	}
	if ((dctx = tls_client_ctx_new(err, sizeof(err))) == NULL ||
	    (base = event_base_new()) == NULL) {
		fprintf(stderr, "danemx bypass: %s\n", dctx ? "event loop" :
		    err);
		goto out;
	}
	if (c->resolver_config == NULL)
		c->resolver_config = conf->resolver_config;
	if (c->trust_anchor == NULL)
		c->trust_anchor = conf->trust_anchor;
	if (c->forwarder == NULL)
		c->forwarder = conf->forwarder;
	if ((r = cli_resolver(c, base)) == NULL) {
		rv = EX_CONFIG;
		goto out;
	}
	memset(&env, 0, sizeof(env));
	env.conf = conf;
	env.policy = &pol;
	env.dane_ctx = dctx;
	env.helo = conf->helo_name;
	/* RECHECK_AT_ONCE at a time, as the relay's rechecks: a long list
	 * must not use up descriptors or flood the resolver. */
	for (;;) {
		for (k = 0, i = 0; i < next; i++)
			k += jobs[i].pending;
		for (; next < nj && k < RECHECK_AT_ONCE; next++) {
			deliver_conf_for(&dc, &env, jobs[next].domain,
			    SMTP_JOB_CHECK, now);
			dc.mail_from = "";	/* as danemx check */
			dc.log = c->verbose;
			dc.done = rc_done;
			dc.arg = &jobs[next];
			if (deliver_start(base, r, &dc, err, sizeof(err)) ==
			    NULL) {
				fprintf(stderr, "danemx bypass: %s: %s\n",
				    jobs[next].domain, err);
				continue;
			}
			jobs[next].pending = 1;
			k++;
		}
		if (k == 0 || event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	}
	for (i = 0; i < nj; i++) {
		if (jobs[i].res == NULL) {
			nfail++;
			continue;
		}
		jg = cli_bypass_judge(jobs[i].res, v, sizeof(v));
		memset(&row, 0, sizeof(row));
		strlcpy_(row.domain, jobs[i].domain, sizeof(row.domain));
		strlcpy_(row.entry, jobs[i].key, sizeof(row.entry));
		row.checked = time(NULL);
		row.ok = jg == BYPASS_RETIRE;
		snprintf(row.result, sizeof(row.result), "%s%s",
		    jg == BYPASS_RETIRE ? "DANE " : "", v);
		if (jg == BYPASS_RETIRE) {
			row.retired = row.checked;
			nretired++;
			printf("%s: no longer needed: %s (retired)\n",
			    jobs[i].domain, v);
		} else {
			nfail++;
			printf("%s: %s: %s\n", jobs[i].domain,
			    jg == BYPASS_NODANE ? "kept" : "still needed", v);
		}
		if (st != NULL && state_bypass_put(st, &row) == -1)
			fprintf(stderr, "danemx bypass: %s: not stored\n",
			    jobs[i].domain);
	}
	if (st != NULL && state_sync(st) == -1)
		fprintf(stderr, "danemx bypass: state: not everything was "
		    "stored\n");
	if (nretired > 0 && st != NULL)
		tell_relay(conf, pid, why);
	rv = nfail > 0 ? 1 : 0;
out:
	for (i = 0; jobs != NULL && i < nj; i++)
		deliver_result_free(jobs[i].res);
	free(jobs);
	dmx_resolver_free(r);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(dctx);
	state_close(st);
	policy_table_free(&pol);
	policy_table_free(&t);
	return rv;
}

/* ------------------------------------------------------------------ */

/* cmd_bypass - danemx bypass */
int
cmd_bypass(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "for", required_argument, NULL, OPT_FOR },
		{ "comment", required_argument, NULL, OPT_COMMENT },
		{ "no-reload", no_argument, NULL, OPT_NO_RELOAD },
		{ NULL, 0, NULL, 0 }
	};
	struct bopts		 o;
	struct dmx_conf		 conf;
	char			 line[POLICY_LINE_MAX + 100], err[512];
	char			 d[300];
	const char		*cmd, *dom[1];
	int			 ch, rv;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:o:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(bypass_help, stdout);
			return 0;
		case 'c':
		case 'o':
			if (cli_conf_opt(&o.co, ch, optarg) == -1)
				return cli_usage_error("bypass", "too many -o");
			break;
		case OPT_UNTIL:
			o.until = optarg;
			break;
		case OPT_FOR:
			o.dur = optarg;
			break;
		case OPT_COMMENT:
			o.comment = optarg;
			break;
		case OPT_NO_RELOAD:
			o.no_reload = 1;
			break;
		case '?':
			return cli_usage_error("bypass", "unknown option");
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("bypass", "list, add, remove or recheck?");
	cmd = argv[optind++];
	if (strcmp(cmd, "list") != 0 && strcmp(cmd, "add") != 0 &&
	    strcmp(cmd, "remove") != 0 && strcmp(cmd, "recheck") != 0)
		return cli_usage_error("bypass", "unknown command '%s'", cmd);
	if (strcmp(cmd, "list") == 0 && optind < argc)
		return cli_usage_error("bypass", "list takes no arguments");
	if ((strcmp(cmd, "add") == 0 && optind + 1 != argc) ||
	    (strcmp(cmd, "remove") == 0 && optind >= argc))
		return cli_usage_error("bypass", "%s: which domain?", cmd);
	if (strcmp(cmd, "add") != 0 && (o.until || o.dur || o.comment))
		return cli_usage_error("bypass", "--until, --for and --comment "
		    "are for add");
	if (cli_load_conf(&conf, o.co.file, o.co.sets, o.co.nsets,
	    "bypass") == -1)
		return EX_CONFIG;
	if (conf.bypass_file == NULL || conf.bypass_file[0] == '\0') {
		fprintf(stderr, "danemx bypass: no bypass_file in danemx.conf\n");
		conf_free(&conf);
		return EX_CONFIG;
	}
	if (strcmp(cmd, "list") == 0)
		rv = cmd_list(c, &conf);
	else if (strcmp(cmd, "recheck") == 0)
		rv = cmd_recheck(c, &conf, argv + optind,
		    (size_t)(argc - optind));
	else if (strcmp(cmd, "remove") == 0) {
		const char	*doms[256];
		char		 cd[256][300];
		size_t		 n = 0;

		if (argc - optind > (int)DMX_NELEM(doms)) {
			conf_free(&conf);
			return cli_usage_error("bypass", "remove: at most %zu "
			    "domains at once", DMX_NELEM(doms));
		}
		for (; optind < argc && n < DMX_NELEM(doms); optind++, n++) {
			canon(argv[optind], cd[n], sizeof(cd[n]));
			doms[n] = cd[n];
		}
		rv = edit(&conf, doms, n, NULL, o.no_reload);
	} else if (strcmp(argv[optind], "-") == 0)
		rv = add_stdin(&conf, o.no_reload);
	else if (entry_line(argv[optind], o.until, o.dur, o.comment,
	    time(NULL), line, sizeof(line), err, sizeof(err)) == -1) {
		fprintf(stderr, "danemx bypass: %s\n", err);
		rv = EX_USAGE;
	} else {
		canon(argv[optind], d, sizeof(d));
		dom[0] = d;
		rv = edit(&conf, dom, 1, line, o.no_reload);
	}
	conf_free(&conf);
	return rv;
}
