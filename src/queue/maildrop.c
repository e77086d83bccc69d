/*
 * maildrop.c - the drop box through which users who may not write the
 * queue (danemx sendmail run by anyone but root or the relay's user)
 * hand a message to the relay, as Postfix's postdrop does.
 *
 * maildrop/ is mode 1733: anyone may create a file, nobody but its
 * owner and the relay can list, read back or remove others' files (the
 * names are random and the directory is not readable). A drop is
 * written as tNAME, fsync'ed, renamed to mNAME and committed with
 * syncfs() (the writer cannot open the directory to fsync it): sendmail
 * exits 0 only then, so a drop survives a crash like a queued message. The relay's pickup (server/pickup.c) reads mNAME
 * files, checks them as untrusted input (queue_drop_parse(), fuzzed),
 * queues them with queue_commit() and removes them; the owner's uid,
 * which the sender cannot forge, goes into a Received header.
 *
 * Any local user can put anything in maildrop/, and so can the relay's
 * own user: only regular files with one link are drops. Anything else
 * named like a drop (a directory, a FIFO, a link, a socket) is removed,
 * or moved aside as bad-NAME when it cannot be (a directory with
 * something in it), and reported once to the caller; it never takes a
 * drop's place in a round. Drops are opened with O_NOFOLLOW|O_NONBLOCK
 * and checked with fstat(), so a FIFO swapped in cannot block the relay.
 *
 * File format, all text up to the empty line:
 *	DANEMX-DROP 1\n
 *	S <sender>\n		("" for the null sender)
 *	R <recipient>\n		(one per recipient, at least one)
 *	\n
 *	the message, as queued (CRLF line endings)
 *
 * Ownership: a struct queue_drop owns its strings (queue_drop_free());
 * list results are freed with queue_list_free().
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue.h"
#include "util/util.h"

#define DROP_MAGIC	"DANEMX-DROP 1\n"
#define DROP_HEAD_MAX	(QUEUE_RCPT_MAX * (QUEUE_ADDR_MAX + 4) + 1024)
#define DROP_TMP_AGE	(24 * 3600)
#define DROP_NAME_LEN	33		/* 't' or 'm', 32 hex digits */

/* drop_dir - maildrop/; writers may not read it, so they get an O_PATH */
static int
drop_dir(const char *qdir, int writer, char *err, size_t errlen)
{
	char	 path[4096];
	int	 fd;

	snprintf(path, sizeof(path), "%s/maildrop", qdir);
	if ((fd = open(path, (writer ? O_PATH : O_RDONLY) | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return fd;
}

/* addr_ok - an address as the queue keeps it: printable, bounded */
static int
addr_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len >= QUEUE_ADDR_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f || s[i] == '<' ||
		    s[i] == '>')
			return 0;
	return 1;
}

/*
 * queue_maildrop_write - drop a message for the relay to pick up; the
 * drop's name goes to name. 0 once it is durable, -1 with err (errno
 * kept: ENOSPC and EDQUOT mean try later).
 */
int
queue_maildrop_write(const char *qdir, const char *sender,
    const char * const *rcpts, size_t nrcpt, const char *msg, size_t len,
    char *name, size_t namelen, char *err, size_t errlen)
{
	struct buf	 head;
	char		 tname[DROP_NAME_LEN + 1], mname[DROP_NAME_LEN + 1];
	size_t		 i, off;
	ssize_t		 n;
	int		 dfd, fd = -1, e;

	if ((dfd = drop_dir(qdir, 1, err, errlen)) == -1)
		return -1;
	buf_init(&head, DROP_HEAD_MAX);
	if (!addr_ok(sender, strlen(sender)) && sender[0] != '\0')
		goto bad;
	buf_adds(&head, DROP_MAGIC);
	buf_printf(&head, "S %s\n", sender);
	for (i = 0; i < nrcpt; i++) {
		if (!addr_ok(rcpts[i], strlen(rcpts[i])) || rcpts[i][0] == '\0')
			goto bad;
		if (buf_printf(&head, "R %s\n", rcpts[i]) == -1)
			goto bad;
	}
	if (nrcpt == 0 || buf_adds(&head, "\n") == -1)
		goto bad;
	for (i = 0; i < 8; i++) {
		snprintf(tname, sizeof(tname), "t%08x%08x%08x%08x",
		    arc4random(), arc4random(), arc4random(), arc4random());
		fd = openat(dfd, tname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1)
		goto syserr;
	/* Readable by the relay, which is another user; nobody else can
	 * find it in the unreadable directory. */
	if (fchmod(fd, 0644) == -1)
		goto syserr_unlink;
	for (off = 0; off < head.len + len; off += (size_t)n) {
		if (off < head.len)
			n = write(fd, head.data + off, head.len - off);
		else
			n = write(fd, msg + (off - head.len),
			    len - (off - head.len));
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			goto syserr_unlink;
	}
	memcpy(mname, tname, sizeof(mname));
	mname[0] = 'm';
	if (fsync(fd) == -1 || renameat(dfd, tname, dfd, mname) == -1)
		goto syserr_unlink;
	/* The directory cannot be opened to fsync it (no read right):
	 * syncfs commits the rename with the filesystem's journal. */
	if (syncfs(fd) == -1)
		goto syserr;	/* renamed: the relay may still pick it up */
	close(fd);
	close(dfd);
	buf_free(&head);
	strlcpy_(name, mname, namelen);
	return 0;
bad:
	snprintf(err, errlen, "address unusable in the queue");
	close(dfd);
	buf_free(&head);
	errno = EINVAL;
	return -1;
syserr_unlink:
	e = errno;
	unlinkat(dfd, tname, 0);
	errno = e;
syserr:
	e = errno;
	snprintf(err, errlen, "%s/maildrop: %s", qdir, strerror(e));
	if (fd != -1)
		close(fd);
	close(dfd);
	buf_free(&head);
	errno = e;
	return -1;
}

/* queue_drop_free - release a parsed drop */
void
queue_drop_free(struct queue_drop *d)
{
	size_t	 i;

	for (i = 0; i < d->nrcpt; i++)
		free(d->rcpts[i]);
	free(d->rcpts);
	free(d->sender);
	free(d->data);
	memset(d, 0, sizeof(*d));
}

/*
 * queue_drop_parse - check and split a drop file's contents (untrusted:
 * any local user wrote them). Takes data (malloc'ed) on success; the
 * message points into it. 0, or -1 with err.
 */
int
queue_drop_parse(char *data, size_t len, struct queue_drop *d, char *err,
    size_t errlen)
{
	const char	*p, *end = data + len, *nl;
	char		**nr;
	size_t		 l;

	memset(d, 0, sizeof(*d));
	if (len < sizeof(DROP_MAGIC) - 1 ||
	    memcmp(data, DROP_MAGIC, sizeof(DROP_MAGIC) - 1) != 0) {
		snprintf(err, errlen, "not a danemx drop file");
		return -1;
	}
	p = data + sizeof(DROP_MAGIC) - 1;
	for (;;) {
		if (p >= end || (nl = memchr(p, '\n', (size_t)(end - p))) ==
		    NULL) {
			snprintf(err, errlen, "truncated envelope");
			goto fail;
		}
		l = (size_t)(nl - p);
		if (l == 0) {
			p = nl + 1;
			break;
		}
		if (l < 2 || p[1] != ' ' || (p[0] != 'S' && p[0] != 'R')) {
			snprintf(err, errlen, "bad envelope line");
			goto fail;
		}
		if (!addr_ok(p + 2, l - 2) || (p[0] == 'R' && l == 2)) {
			snprintf(err, errlen, "bad address");
			goto fail;
		}
		if (p[0] == 'S') {
			if (d->sender != NULL) {
				snprintf(err, errlen, "two senders");
				goto fail;
			}
			if ((d->sender = strndup(p + 2, l - 2)) == NULL)
				goto nomem;
		} else {
			if (d->nrcpt == QUEUE_RCPT_MAX) {
				snprintf(err, errlen, "too many recipients");
				goto fail;
			}
			if ((nr = realloc(d->rcpts, (d->nrcpt + 1) *
			    sizeof(*nr))) == NULL)
				goto nomem;
			d->rcpts = nr;
			if ((d->rcpts[d->nrcpt] = strndup(p + 2, l - 2)) == NULL)
				goto nomem;
			d->nrcpt++;
		}
		p = nl + 1;
	}
	if (d->sender == NULL || d->nrcpt == 0) {
		snprintf(err, errlen, "no sender or no recipient");
		goto fail;
	}
	d->msg = p;
	d->msglen = (size_t)(end - p);
	d->data = data;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	d->data = NULL;
	queue_drop_free(d);
	return -1;
}

static const char *
type_name(mode_t m)
{
	return S_ISDIR(m) ? "directory" : S_ISFIFO(m) ? "FIFO" : S_ISLNK(m) ?
	    "symbolic link" : S_ISSOCK(m) ? "socket" : S_ISREG(m) ?
	    "file with several links" : "device";
}

/*
 * drop_discard - get rid of an entry that is not a drop: unlink it, or
 * remove the (empty) directory, or else move it aside as bad-NAME,
 * where it is no longer read; what was done goes to done.
 */
static void
drop_discard(int dfd, const char *name, char *done, size_t donelen)
{
	char	 bad[DROP_NAME_LEN + 8];

	if (unlinkat(dfd, name, 0) == 0 ||
	    unlinkat(dfd, name, AT_REMOVEDIR) == 0) {
		snprintf(done, donelen, "removed");
		return;
	}
	snprintf(bad, sizeof(bad), "bad-%s", name);
	if (renameat2(dfd, name, dfd, bad, RENAME_NOREPLACE) == 0)
		snprintf(done, donelen, "moved aside as maildrop/%s: remove it "
		    "by hand", bad);
	else
		snprintf(done, donelen, "cannot be removed (%s): ignored",
		    strerror(errno));
}

/*
 * queue_maildrop_list - the finished drops (mNAME), in no promised
 * order; stale unfinished ones (tNAME) are swept. Entries named like
 * drops that are not regular files are discarded (drop_discard()) and
 * each is told to junk (may be NULL) with what it was, its owner and
 * what was done.
 */
int
queue_maildrop_list(struct queue *q, char ***names, size_t *n,
    queue_junk_cb junk, void *arg, char *err, size_t errlen)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	char		**v = NULL, **nv, done[160];
	size_t		 cnt = 0;
	int		 dfd;
	time_t		 now = time(NULL);

	*names = NULL;
	*n = 0;
	if ((dfd = drop_dir(queue_dir(q), 0, err, errlen)) == -1)
		return -1;
	if ((dir = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "maildrop: %s", strerror(errno));
		close(dfd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strlen(de->d_name) != DROP_NAME_LEN || (de->d_name[0] != 't' &&
		    de->d_name[0] != 'm'))
			continue;
		if (de->d_type != DT_REG && fstatat(dfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
			drop_discard(dfd, de->d_name, done, sizeof(done));
			if (junk != NULL)
				junk(arg, de->d_name, type_name(st.st_mode),
				    (unsigned)st.st_uid, done);
			continue;
		}
		if (de->d_name[0] == 't') {
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 && now - st.st_mtime > DROP_TMP_AGE)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL ||
		    (nv[cnt] = strdup(de->d_name)) == NULL) {
			if (nv != NULL)
				v = nv;
			queue_list_free(v, cnt);
			closedir(dir);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		v = nv;
		cnt++;
	}
	closedir(dir);
	*names = v;
	*n = cnt;
	return 0;
}

/*
 * queue_maildrop_read - read and parse drop name, at most max octets of
 * message; -1 with err for anything wrong (the caller removes it).
 */
int
queue_maildrop_read(struct queue *q, const char *name, size_t max,
    struct queue_drop *d, char *err, size_t errlen)
{
	struct stat	 st;
	char		*data;
	size_t		 off = 0;
	ssize_t		 r;
	int		 dfd, fd;

	memset(d, 0, sizeof(*d));
	if ((dfd = drop_dir(queue_dir(q), 0, err, errlen)) == -1)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "not a drop: a %s", type_name(st.st_mode));
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size > max + DROP_HEAD_MAX) {
		snprintf(err, errlen, "too large (%lld octets)",
		    (long long)st.st_size);
		close(fd);
		return -1;
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		r = read(fd, data + off, (size_t)st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	if (off != (size_t)st.st_size) {
		snprintf(err, errlen, "short read");
		free(data);
		return -1;
	}
	data[off] = '\0';
	if (queue_drop_parse(data, off, d, err, errlen) == -1) {
		free(data);
		return -1;
	}
	d->uid = st.st_uid;
	if (d->msglen > max) {
		snprintf(err, errlen, "message too large");
		queue_drop_free(d);
		return -1;
	}
	return 0;
}

/*
 * queue_maildrop_remove - the drop is queued (or refused): remove it,
 * or, when it has become something unlinkat() cannot remove, move it
 * aside (drop_discard()); what was done goes to done (may be NULL).
 * 0 once it is no longer read as a drop.
 */
int
queue_maildrop_remove(struct queue *q, const char *name, char *done,
    size_t donelen)
{
	char	 err[64], d[160];
	int	 dfd, rv = 0;

	if ((dfd = drop_dir(queue_dir(q), 0, err, sizeof(err))) == -1)
		return -1;
	if (unlinkat(dfd, name, 0) == 0)
		snprintf(d, sizeof(d), "removed");
	else if (errno == ENOENT)
		snprintf(d, sizeof(d), "gone");
	else {
		drop_discard(dfd, name, d, sizeof(d));
		rv = strncmp(d, "cannot", 6) == 0 ? -1 : 0;
	}
	close(dfd);
	if (done != NULL)
		strlcpy_(done, d, donelen);
	return rv;
}
