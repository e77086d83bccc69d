/*
 * queue.c - the spool: messages and envelopes as files, made durable
 * with write, fsync, rename and a directory fsync before anyone is told
 * "accepted". See queue.h for the layout and the commit order.
 *
 * Every function returns an error with a reason (strerror included) and
 * leaves nothing half-visible: a failed commit unlinks what it wrote, so
 * a full disk costs the message being received and nothing else.
 * struct queue owns its directory paths and descriptors; a writer owns
 * its temporary file until commit or abort.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
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

#define TMP_MAX_AGE	(24 * 3600)	/* stale tmp files are swept */
#define SPACE_STEP	(64 * 1024)	/* a writer looks at the reserve after
					   this many octets */
#define INODE_RATIO	(16 * 1024)	/* reserve one inode per 16 KiB */

struct queue {
	char	*dir;
	int	 dfd;		/* the queue directory */
	int	 tmpfd, msgfd, envfd;	/* its subdirectories */
	unsigned long long minfree;	/* queue_minfree; __atomic access */
};

struct queue_writer {
	struct queue	*q;
	char		 id[QUEUE_ID_LEN + 1];
	int		 fd;
	size_t		 size;
	struct queue_hops hops;		/* Received: headers written */
	int		 failed;	/* a write failed: errno saved */
	int		 err;
	int		 reserve;	/* may use the reserve (a bounce) */
	size_t		 unchecked;	/* octets since the last look at it */
	char		 below[160];	/* why the reserve refused it */
};

/* queue_valid_id - 16 lowercase hex digits */
int
queue_valid_id(const char *id)
{
	size_t	 i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[QUEUE_ID_LEN] == '\0';
}

static int
open_sub(struct queue *q, const char *name, int create, char *err,
    size_t errlen)
{
	int	 fd;

	if (create && mkdirat(q->dfd, name, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s/%s: %s", q->dir, name, strerror(errno));
		return -1;
	}
	if ((fd = openat(q->dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		snprintf(err, errlen, "%s/%s: %s", q->dir, name, strerror(errno));
	return fd;
}

/*
 * queue_sweep - remove what crashed writers left in tmp/ long ago. The
 * relay runs it as its own user, after the privilege drop: root never
 * deletes in a directory that user owns.
 */
void
queue_sweep(struct queue *q)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;
	time_t		 now = time(NULL);

	if ((fd = dup(q->tmpfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(q->tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && now - st.st_mtime > TMP_MAX_AGE)
			unlinkat(q->tmpfd, de->d_name, 0);
	}
	closedir(d);
}

/*
 * queue_open - open the queue at dir; with create, make it (the
 * directory 0711, tmp/, msg/ and env/ 0700, maildrop/ 1733). For a
 * process that owns the queue; root uses queue_open_owned(). NULL with
 * err when it cannot.
 */
struct queue *
queue_open(const char *dir, int create, char *err, size_t errlen)
{
	struct queue	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->dir = strdup(dir)) == NULL) {
		free(q);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->dfd = q->tmpfd = q->msgfd = q->envfd = -1;
	/* 0711: others may reach maildrop/, nothing else (see maildrop.c). */
	if (create && mkdir(dir, 0711) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	/* Root's 0711 directory: the relay's user may not read it, only
	 * go through it (O_PATH) to the subdirectories it owns. */
	if ((q->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    (errno != EACCES || create || (q->dfd = open(dir, O_PATH |
	    O_DIRECTORY | O_CLOEXEC)) == -1)) {
		snprintf(err, errlen, "queue directory %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if ((q->tmpfd = open_sub(q, "tmp", create, err, errlen)) == -1 ||
	    (q->msgfd = open_sub(q, "msg", create, err, errlen)) == -1 ||
	    (q->envfd = open_sub(q, "env", create, err, errlen)) == -1)
		goto fail;
	if (create) {
		if ((mkdirat(q->dfd, "maildrop", 01733) == -1 &&
		    errno != EEXIST) || fchmodat(q->dfd, "maildrop", 01733,
		    0) == -1 || fchmod(q->dfd, 0711) == -1) {
			snprintf(err, errlen, "%s/maildrop: %s", dir,
			    strerror(errno));
			goto fail;
		}
	}
	return q;
fail:
	queue_close(q);
	return NULL;
}

/*
 * The queue's ownership model, for root (queue_open_owned()): the
 * directory is root's (0711: others may reach maildrop/, nothing else)
 * and nobody else may write it, so nobody else can rename, replace or
 * add its entries; its subdirectories belong to the relay's user. Root
 * opens each with O_NOFOLLOW and checks it with fstat() on the open
 * descriptor; what it changes (a new subdirectory's owner, a mode) it
 * changes through that descriptor, so no link planted by the relay's
 * user can lead it elsewhere.
 */
static const struct qsub {
	const char	*name;
	mode_t		 mode;
} qsubs[] = {
	{ "tmp", 0700 }, { "msg", 0700 }, { "env", 0700 },
	{ "maildrop", 01733 },	/* anyone may drop; see maildrop.c */
};

/* owned_sub - open (or make) subdirectory sub for the relay's user */
static int
owned_sub(const char *dir, int dfd, const struct qsub *sub, uid_t uid,
    gid_t gid, const char *user, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd, made;

	made = mkdirat(dfd, sub->name, 0700) == 0;
	if (!made && errno != EEXIST) {
		snprintf(err, errlen, "%s/%s: %s", dir, sub->name,
		    strerror(errno));
		return -1;
	}
	if ((fd = openat(dfd, sub->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s/%s: %s: it must be a directory, not a "
		    "link or a file: remove it (danemx serve makes it again)",
		    dir, sub->name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s/%s: %s", dir, sub->name,
		    strerror(errno));
		goto fail;
	}
	if (made && fchown(fd, uid, gid) == -1) {
		snprintf(err, errlen, "%s/%s: chown: %s", dir, sub->name,
		    strerror(errno));
		goto fail;
	}
	if (!made && st.st_uid != uid) {
		/* maildrop/: the drops in it stay their writers' */
		snprintf(err, errlen, "%s/%s is owned by uid %u, not by the "
		    "relay's user %s (uid %u): fix it with chown%s %s: %s/%s",
		    dir, sub->name, (unsigned)st.st_uid, user, (unsigned)uid,
		    sub->mode == 01733 ? "" : " -R", user, dir, sub->name);
		goto fail;
	}
	if ((made || (st.st_mode & 07777) != sub->mode) &&
	    fchmod(fd, sub->mode) == -1) {
		snprintf(err, errlen, "%s/%s: chmod: %s", dir, sub->name,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * queue_open_owned - root opens (or makes) the queue at dir for the
 * relay's user (uid, gid; its name for messages), checking the
 * ownership model above, and refuses, saying what to fix, when the
 * layout is not as it must be: dir's parents are trusted (every one
 * root's and writable by root alone, see file_open_trusted_dir()), dir
 * is root's and writable by root alone, and each subdirectory is a
 * directory owned by the relay's user. Nothing is swept: that is done
 * after the privilege drop (queue_sweep()). NULL with err otherwise.
 */
struct queue *
queue_open_owned(const char *dir, uid_t uid, gid_t gid, const char *user,
    char *err, size_t errlen)
{
	struct queue	*q;
	struct stat	 st;
	char		 parent[4096], sub[3000];
	const char	*base;
	int		 pfd = -1, fds[DMX_NELEM(qsubs)], made;
	size_t		 i;

	for (i = 0; i < DMX_NELEM(fds); i++)
		fds[i] = -1;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->dir = strdup(dir)) == NULL) {
		free(q);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->dfd = q->tmpfd = q->msgfd = q->envfd = -1;
	if ((base = strrchr(dir, '/')) == NULL || dir[0] != '/' ||
	    base[1] == '\0' || strlen(dir) >= sizeof(parent)) {
		snprintf(err, errlen, "queue_dir %s: must be an absolute path "
		    "without a final /", dir);
		goto fail;
	}
	memcpy(parent, dir, (size_t)(base - dir));
	parent[base - dir] = '\0';
	base++;
	if ((pfd = file_open_trusted_dir(parent[0] ? parent : "/", sub,
	    sizeof(sub))) == -1) {
		snprintf(err, errlen, "queue_dir %s: %s", dir, sub);
		goto fail;
	}
	made = mkdirat(pfd, base, 0711) == 0;
	if (!made && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((q->dfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "queue directory %s: %s%s", dir,
		    strerror(errno), errno == ELOOP || errno == ENOTDIR ?
		    ": set queue_dir to a real directory, not a link" : "");
		goto fail;
	}
	if (fstat(q->dfd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "queue directory %s is owned by uid %u "
		    "with mode %04o: it must belong to root and be writable by "
		    "root alone, so that the relay's user cannot replace what "
		    "is in it: fix it with chown root:root %s && chmod 0711 %s "
		    "(look at what is in it first); its tmp, msg, env and "
		    "maildrop belong to the relay's user: chown -R %s: %s/tmp "
		    "%s/msg %s/env && chown %s: %s/maildrop", dir,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), dir,
		    dir, user, dir, dir, dir, user, dir);
		goto fail;
	}
	if ((st.st_mode & 07777) != 0711 && fchmod(q->dfd, 0711) == -1) {
		snprintf(err, errlen, "%s: chmod: %s", dir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < DMX_NELEM(qsubs); i++)
		if ((fds[i] = owned_sub(dir, q->dfd, &qsubs[i], uid, gid, user,
		    err, errlen)) == -1)
			goto fail;
	q->tmpfd = fds[0];
	q->msgfd = fds[1];
	q->envfd = fds[2];
	close(fds[3]);		/* maildrop/ is opened by name when used */
	close(pfd);
	return q;
fail:
	for (i = 0; i < DMX_NELEM(fds); i++)
		if (fds[i] != -1)
			close(fds[i]);
	if (pfd != -1)
		close(pfd);
	queue_close(q);
	return NULL;
}

/* queue_close - release the queue handle */
void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	if (q->dfd != -1)
		close(q->dfd);
	if (q->tmpfd != -1)
		close(q->tmpfd);
	if (q->msgfd != -1)
		close(q->msgfd);
	if (q->envfd != -1)
		close(q->envfd);
	free(q->dir);
	free(q);
}

/* queue_dir - the queue's directory */
const char *
queue_dir(const struct queue *q)
{
	return q->dir;
}

/*
 * The free-space reserve (queue_minfree), as Postfix's: below it no new
 * message enters the queue, so that what is left stays for the queue's
 * own writes, the envelope updates that record results and the
 * bounces. Without it a full disk loses results, and mail already sent
 * is sent again. One inode per INODE_RATIO octets of it is kept too.
 */

/* queue_set_minfree - the reserve in octets (0: none); any thread */
void
queue_set_minfree(struct queue *q, unsigned long long bytes)
{
	__atomic_store_n(&q->minfree, bytes, __ATOMIC_RELAXED);
}

/* space_check - need octets fit above minfree on fd's filesystem? */
static int
space_check(int fd, const char *path, unsigned long long minfree,
    unsigned long long need, char *err, size_t errlen)
{
	struct statvfs		 sv;
	unsigned long long	 avail, inodes;
	int			 r;

	if (minfree == 0)
		return 0;
	r = fd != -1 ? fstatvfs(fd, &sv) : statvfs(path, &sv);
	if (r == -1)
		return 0;	/* cannot tell: the writes will say */
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	inodes = minfree / INODE_RATIO;
	if (avail < minfree + need) {
		snprintf(err, errlen, "the queue's file system has %llu KiB "
		    "free%s, less than queue_minfree (%llu KiB)%s",
		    avail / 1024, need > 0 ? " for the message" : "",
		    minfree / 1024, need > 0 ? " plus its size" : "");
		errno = ENOSPC;
		return -1;
	}
	if (sv.f_files > 0 && (unsigned long long)sv.f_favail < inodes) {
		snprintf(err, errlen, "the queue's file system has %llu inodes "
		    "free, less than the %llu queue_minfree keeps",
		    (unsigned long long)sv.f_favail, inodes);
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/*
 * queue_space - may new mail of need octets (0: unknown) enter the
 * queue? 0, or -1 (errno ENOSPC) with err saying what is left.
 */
int
queue_space(struct queue *q, unsigned long long need, char *err,
    size_t errlen)
{
	return space_check(q->tmpfd, NULL, __atomic_load_n(&q->minfree,
	    __ATOMIC_RELAXED), need, err, errlen);
}

/* queue_space_dir - the same for a process that cannot open the queue */
int
queue_space_dir(const char *dir, unsigned long long minfree,
    unsigned long long need, char *err, size_t errlen)
{
	return space_check(-1, dir, minfree, need, err, errlen);
}

/* queue_writer_use_reserve - this message may use the reserve (a bounce) */
void
queue_writer_use_reserve(struct queue_writer *w)
{
	w->reserve = 1;
}

/*
 * writer_space - every SPACE_STEP octets, and at the commit, a writer
 * that may not use the reserve stops when the disk is below it; -1
 * (errno ENOSPC) then, the reason in w->below.
 */
static int
writer_space(struct queue_writer *w, size_t len, int now)
{
	if (w->reserve)
		return 0;
	w->unchecked += len;
	if (!now && w->unchecked < SPACE_STEP)
		return 0;
	w->unchecked = 0;
	return queue_space(w->q, len, w->below, sizeof(w->below));
}

/* queue_msg_stat - owner and mode of msg/ID (for a file it cannot read) */
int
queue_msg_stat(struct queue *q, const char *id, unsigned *uid, unsigned *mode)
{
	struct stat	 st;

	if (!queue_valid_id(id) || fstatat(q->msgfd, id, &st,
	    AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	*uid = (unsigned)st.st_uid;
	*mode = (unsigned)(st.st_mode & 07777);
	return 0;
}

static void
new_id(char id[QUEUE_ID_LEN + 1])
{
	snprintf(id, QUEUE_ID_LEN + 1, "%08x%08x",
	    (unsigned)(time(NULL) & 0xffffffff), arc4random());
}

/* queue_writer_new - start receiving a message body */
struct queue_writer *
queue_writer_new(struct queue *q, char *err, size_t errlen)
{
	struct queue_writer	*w;
	char			 name[QUEUE_ID_LEN + 8];
	int			 tries;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->q = q;
	queue_hops_init(&w->hops);
	for (tries = 0; tries < 10; tries++) {
		new_id(w->id);
		snprintf(name, sizeof(name), "%s.msg", w->id);
		w->fd = openat(q->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (w->fd != -1 || errno != EEXIST)
			break;
	}
	if (w->fd == -1) {
		snprintf(err, errlen, "%s/tmp: %s", q->dir, strerror(errno));
		free(w);
		return NULL;
	}
	return w;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* queue_writer_add - append body bytes; -1 (errno set) on a write error */
int
queue_writer_add(struct queue_writer *w, const void *p, size_t len)
{
	if (w->failed) {
		errno = w->err;
		return -1;
	}
	if (writer_space(w, len, 0) == -1 || write_all(w->fd, p, len) == -1) {
		w->failed = 1;
		w->err = errno;
		return -1;
	}
	queue_hops_add(&w->hops, p, len);
	w->size += len;
	return 0;
}

/* queue_writer_hops - the Received: headers written so far */
unsigned
queue_writer_hops(const struct queue_writer *w)
{
	return w->hops.n;
}

/* queue_writer_id - the id the message will have once committed */
const char *
queue_writer_id(const struct queue_writer *w)
{
	return w->id;
}

/* queue_writer_abort - drop the message being received */
void
queue_writer_abort(struct queue_writer *w)
{
	char	 name[QUEUE_ID_LEN + 8];

	if (w == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	snprintf(name, sizeof(name), "%s.msg", w->id);
	unlinkat(w->q->tmpfd, name, 0);
	free(w);
}

/* write_env_tmp - the envelope into tmp/NAME, fsync'ed; -1 with errno */
static int
write_env_tmp(struct queue *q, const struct queue_env *e, const char *name)
{
	char	*text;
	size_t	 len;
	int	 fd, saved;

	if (queue_env_format(e, &text, &len) == -1) {
		errno = ENOMEM;
		return -1;
	}
	if ((fd = openat(q->tmpfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1) {
		saved = errno;
		free(text);
		errno = saved;
		return -1;
	}
	if (write_all(fd, text, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(q->tmpfd, name, 0);
		free(text);
		errno = saved;
		return -1;
	}
	free(text);
	if (close(fd) == -1) {
		saved = errno;
		unlinkat(q->tmpfd, name, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * The trailer: a message file is the body, then its envelope as first
 * committed, then a fixed-size footer that says where the envelope is:
 * "\n#DMXENV <offset> <length>\n", both 16 hex digits. A later envelope
 * (env/ID, after a delivery attempt) overrides the trailer's.
 */
#define FOOTER_LEN	43

/* hex16 - exactly 16 lowercase hex digits; -1 otherwise */
static int
hex16(const char *p, unsigned long long *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < 16; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			*v = *v << 4 | (unsigned)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			*v = *v << 4 | (unsigned)(p[i] - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/* footer_parse - f is the file's last FOOTER_LEN octets (no NUL) */
static int
footer_parse(const char *f, size_t fsize, size_t *off, size_t *len)
{
	unsigned long long	 o, l;

	if (fsize < FOOTER_LEN || memcmp(f, "\n#DMXENV ", 9) != 0 ||
	    f[25] != ' ' || f[42] != '\n' || hex16(f + 9, &o) == -1 ||
	    hex16(f + 26, &l) == -1)
		return -1;
	if (o > fsize || l > fsize || o + l + FOOTER_LEN != fsize)
		return -1;
	*off = (size_t)o;
	*len = (size_t)l;
	return 0;
}

/*
 * queue_commit - make the message durable and visible. On success id
 * holds its queue id and the writer is gone; on failure nothing of it
 * remains on disk, err says why, and the writer is gone too. Safe on
 * any thread, beside other calls on the same queue but queue_close():
 * it touches only its writer and the directory descriptors, which do
 * not change after queue_open().
 *
 * One file per message: the envelope is appended to the body (see the
 * trailer above), the file fsync'ed, renamed into msg/ and msg/
 * fsync'ed. The rename is the commit: a message is whole or absent.
 */
int
queue_commit(struct queue_writer *w, const char *sender,
    const char * const *rcpts, size_t nrcpt, char id[QUEUE_ID_LEN + 1],
    char *err, size_t errlen)
{
	struct queue		*q = w->q;
	struct queue_env	 e;
	struct queue_rcpt	*r = NULL;
	char			 mname[QUEUE_ID_LEN + 8], footer[FOOTER_LEN + 1];
	const char		*what = "write";
	char			 ebuf[128], *text = NULL;
	size_t			 i, tlen;
	int			 saved, moved = 0;

	snprintf(mname, sizeof(mname), "%s.msg", w->id);
	if (nrcpt == 0 || nrcpt > QUEUE_RCPT_MAX) {
		snprintf(err, errlen, "a message needs 1 to %d recipients",
		    QUEUE_RCPT_MAX);
		queue_writer_abort(w);
		return -1;
	}
	if (w->failed) {
		errno = w->err;
		goto fail;
	}
	memset(&e, 0, sizeof(e));
	memcpy(e.id, w->id, sizeof(e.id));
	e.sender = (char *)(uintptr_t)sender;
	e.created = time(NULL);
	e.size = w->size;
	e.hops = (int)w->hops.n;
	if ((r = calloc(nrcpt, sizeof(*r))) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	for (i = 0; i < nrcpt; i++)
		r[i].addr = (char *)(uintptr_t)rcpts[i];
	e.rcpt = r;
	e.nrcpt = nrcpt;
	what = "envelope";
	if (queue_env_format(&e, &text, &tlen) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	snprintf(footer, sizeof(footer), "\n#DMXENV %016llx %016llx\n",
	    (unsigned long long)w->size, (unsigned long long)tlen);
	what = "reserve";
	if (writer_space(w, tlen + FOOTER_LEN, 1) == -1)
		goto fail;
	what = "write";
	if (write_all(w->fd, text, tlen) == -1 ||
	    write_all(w->fd, footer, FOOTER_LEN) == -1)
		goto fail;
	what = "fsync";
	if (fsync(w->fd) == -1)
		goto fail;
	what = "close";
	if (close(w->fd) == -1) {
		w->fd = -1;
		goto fail;
	}
	w->fd = -1;
	what = "rename";
	if (renameat(q->tmpfd, mname, q->msgfd, w->id) == -1)
		goto fail;
	moved = 1;
	what = "fsync";
	if (fsync(q->msgfd) == -1)
		goto fail;	/* visible but maybe not durable: take it back */
	free(text);
	free(r);
	memcpy(id, w->id, QUEUE_ID_LEN + 1);
	free(w);
	return 0;
fail:
	saved = errno;
	/* strerror_r (GNU): this may run on a commit thread. */
	if (w->below[0] != '\0')
		snprintf(err, errlen, "queue: %s", w->below);
	else
		snprintf(err, errlen, "queue %s: %s", what,
		    strerror_r(saved, ebuf, sizeof(ebuf)));
	free(text);
	free(r);
	if (w->fd != -1)
		close(w->fd);
	unlinkat(q->tmpfd, mname, 0);
	if (moved)
		unlinkat(q->msgfd, w->id, 0);
	free(w);
	errno = saved;
	return -1;
}

static int
read_file(int dirfd, const char *name, size_t max, char **data, size_t *len)
{
	struct buf	 b;
	char		 chunk[65536];
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	buf_init(&b, max);
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) == -1) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	*len = b.len;
	*data = buf_steal(&b);
	return 0;
fail:
	saved = errno;
	close(fd);
	buf_free(&b);
	errno = saved;
	return -1;
}

/*
 * trailer_read - the envelope in msg/ID's trailer; -1 with errno
 * (ENOENT: no such message, or a body without a trailer, which only a
 * commit of an older danemx cut short can leave: never acknowledged).
 */
static int
trailer_read(struct queue *q, const char *id, char **text, size_t *len)
{
	struct stat	 st;
	char		 f[FOOTER_LEN], *t;
	size_t		 off, elen;
	int		 fd, saved;

	ssize_t		 r;

	if ((fd = openat(q->msgfd, id, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if ((size_t)st.st_size >= FOOTER_LEN && (r = pread(fd, f, FOOTER_LEN,
	    st.st_size - FOOTER_LEN)) != FOOTER_LEN) {
		if (r >= 0)
			errno = EIO;	/* a real error is not "gone" */
		goto fail;
	}
	if ((size_t)st.st_size < FOOTER_LEN ||
	    footer_parse(f, (size_t)st.st_size, &off, &elen) == -1 ||
	    elen > 4 * 1024 * 1024) {
		errno = ENOENT;		/* no envelope: not a message */
		goto fail;
	}
	if ((t = malloc(elen + 1)) == NULL)
		goto fail;
	if (pread(fd, t, elen, (off_t)off) != (ssize_t)elen) {
		free(t);
		errno = EIO;
		goto fail;
	}
	t[elen] = '\0';
	close(fd);
	*text = t;
	*len = elen;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* queue_env_load - read the envelope of id */
int
queue_env_load(struct queue *q, const char *id, struct queue_env *e,
    char *err, size_t errlen)
{
	char	*text, sub[128];
	size_t	 len;
	int	 saved;

	memset(e, 0, sizeof(*e));
	if (!queue_valid_id(id)) {
		snprintf(err, errlen, "'%s' is not a queue id", id);
		errno = EINVAL;
		return -1;
	}
	if (read_file(q->envfd, id, 4 * 1024 * 1024, &text, &len) == -1 &&
	    (errno != ENOENT || trailer_read(q, id, &text, &len) == -1)) {
		saved = errno;
		snprintf(err, errlen, "%s: %s", id, saved == ENOENT ?
		    "no such message in the queue" : strerror(saved));
		errno = saved;		/* ENOENT: it is not there (any more) */
		return -1;
	}
	if (queue_env_parse(text, len, e, sub, sizeof(sub)) == -1) {
		snprintf(err, errlen, "%s: %s", id, sub);
		free(text);
		errno = EINVAL;
		return -1;
	}
	free(text);
	if (strcmp(e->id, id) != 0) {
		snprintf(err, errlen, "%s: envelope names another id", id);
		queue_env_free(e);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* queue_env_store - replace the envelope of e->id atomically, durably:
 * env/ID, which overrides the trailer from then on */
int
queue_env_store(struct queue *q, const struct queue_env *e, char *err,
    size_t errlen)
{
	char	 name[QUEUE_ID_LEN + 16];

	snprintf(name, sizeof(name), "%s.env.%u", e->id, arc4random());
	if (write_env_tmp(q, e, name) == -1 ||
	    renameat(q->tmpfd, name, q->envfd, e->id) == -1 ||
	    fsync(q->envfd) == -1) {
		snprintf(err, errlen, "%s: cannot update the envelope: %s",
		    e->id, strerror(errno));
		unlinkat(q->tmpfd, name, 0);
		return -1;
	}
	return 0;
}

/* queue_remove - delete a message: envelope first, then the body */
int
queue_remove(struct queue *q, const char *id)
{
	if (!queue_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * No fsync: a removal lost in a crash only means a duplicate (at
	 * least once). If the message file's unlink survives and that of
	 * its later envelope (env/ID) does not, that envelope has no body,
	 * which a commit never leaves: readers treat it as a removal cut
	 * short (queue_msg_read(): ENOENT; queue_msg_exists()).
	 */
	int	 e, r;

	/* The message file first: should the envelope's unlink survive a
	 * crash and this one not, the message would come back with its
	 * first envelope (everything pending again, unheld). */
	r = unlinkat(q->msgfd, id, 0);
	e = errno;
	if (unlinkat(q->envfd, id, 0) == 0)
		return 0;
	if (r == -1) {
		errno = e;		/* ENOENT: no such message */
		return -1;
	}
	return 0;
}

/* queue_msg_path - the body's path (free it) */
char *
queue_msg_path(struct queue *q, const char *id)
{
	char	*p;

	if (asprintf(&p, "%s/msg/%s", q->dir, id) == -1)
		return NULL;
	return p;
}

/* queue_msg_exists - does msg/ID exist (an env/ID alone is not a message)? */
int
queue_msg_exists(struct queue *q, const char *id)
{
	return queue_valid_id(id) && faccessat(q->msgfd, id, F_OK, 0) == 0;
}

/*
 * queue_msg_hops - count the Received: headers of a queued message (for
 * one whose envelope has no count: queued by an older danemx). Reads
 * the header section only.
 */
int
queue_msg_hops(struct queue *q, const char *id, unsigned *hops, char *err,
    size_t errlen)
{
	struct queue_hops	 h;
	struct stat		 st;
	char			 chunk[16384], f[FOOTER_LEN];
	size_t			 body, off, elen;
	off_t			 pos = 0;
	ssize_t			 n;
	int			 fd, e;

	if (!queue_valid_id(id) ||
	    (fd = openat(q->msgfd, id, O_RDONLY | O_CLOEXEC)) == -1) {
		e = queue_valid_id(id) ? errno : EINVAL;
		snprintf(err, errlen, "%s: message body: %s", id, strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	/* The body ends where the trailer begins (older files have none). */
	body = (size_t)st.st_size;
	if (body >= FOOTER_LEN && pread(fd, f, FOOTER_LEN, st.st_size -
	    FOOTER_LEN) == FOOTER_LEN && footer_parse(f, body, &off,
	    &elen) == 0)
		body = off;
	queue_hops_init(&h);
	while ((size_t)pos < body && !queue_hops_done(&h)) {
		n = pread(fd, chunk, body - (size_t)pos < sizeof(chunk) ?
		    body - (size_t)pos : sizeof(chunk), pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		queue_hops_add(&h, chunk, (size_t)n);
		pos += n;
	}
	close(fd);
	*hops = h.n;
	return 0;
fail:
	e = errno;
	close(fd);
	snprintf(err, errlen, "%s: message body: %s", id, strerror(e));
	errno = e;
	return -1;
}

/*
 * queue_msg_open - msg/ID opened for reading its body, which is the
 * file's first *len octets (up to the trailer; older files have none).
 * Returns the descriptor, which the caller closes, or -1 with errno
 * (ENOENT: no such message, or a removal cut short) and err.
 */
int
queue_msg_open(struct queue *q, const char *id, size_t *len, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		 f[FOOTER_LEN];
	size_t		 off, elen;
	ssize_t		 r;
	int		 fd, e;

	if (!queue_valid_id(id)) {
		errno = EINVAL;
		goto fail;
	}
	if ((fd = openat(q->msgfd, id, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail_fd;
	*len = (size_t)st.st_size;
	if ((size_t)st.st_size >= FOOTER_LEN) {
		if ((r = pread(fd, f, FOOTER_LEN, st.st_size - FOOTER_LEN)) !=
		    FOOTER_LEN) {
			if (r >= 0)
				errno = EIO;
			goto fail_fd;
		}
		if (footer_parse(f, (size_t)st.st_size, &off, &elen) == 0)
			*len = off;
	}
	return fd;
fail_fd:
	e = errno;
	close(fd);
	errno = e;
fail:
	e = errno;
	snprintf(err, errlen, "%s: message body: %s", id, strerror(e));
	errno = e;
	return -1;
}

/* queue_msg_read - the whole body into memory (free *data) */
int
queue_msg_read(struct queue *q, const char *id, char **data, size_t *len,
    char *err, size_t errlen)
{
	int	 e;

	size_t	 off, elen;

	if (!queue_valid_id(id) || read_file(q->msgfd, id, 1024UL * 1024 * 1024 +
	    8 * 1024 * 1024, data, len) == -1) {
		e = errno;
		snprintf(err, errlen, "%s: message body: %s", id, strerror(e));
		errno = e;	/* ENOENT: a removal was cut short */
		return -1;
	}
	/* The body ends where the trailer begins (older files have none). */
	if (*len >= FOOTER_LEN && footer_parse(*data + *len - FOOTER_LEN, *len,
	    &off, &elen) == 0) {
		*len = off;
		(*data)[off] = '\0';
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* list_dir - the queue ids in one directory, appended to *v */
static int
list_dir(int dirfd, char ***v, size_t *cnt, size_t *cap)
{
	struct dirent	*de;
	DIR		*d;
	char		**nv;
	int		 fd;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!queue_valid_id(de->d_name))
			continue;
		if (*cnt == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			if ((nv = realloc(*v, *cap * sizeof(**v))) == NULL)
				goto nomem;
			*v = nv;
		}
		if (((*v)[*cnt] = strdup(de->d_name)) == NULL)
			goto nomem;
		(*cnt)++;
	}
	closedir(d);
	return 0;
nomem:
	closedir(d);
	errno = ENOMEM;
	return -1;
}

/*
 * queue_list - the ids of the queued messages, sorted: those in msg/,
 * and any envelope in env/ whose body is gone (a removal a crash cut
 * short, for the scheduler to finish).
 */
int
queue_list(struct queue *q, char ***ids, size_t *n, char *err, size_t errlen)
{
	char		**v = NULL;
	size_t		 cnt = 0, cap = 0, i, k;

	if (list_dir(q->msgfd, &v, &cnt, &cap) == -1 ||
	    list_dir(q->envfd, &v, &cnt, &cap) == -1) {
		snprintf(err, errlen, "%s: %s", q->dir, strerror(errno));
		queue_list_free(v, cnt);
		return -1;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_str);
	for (i = k = 0; i < cnt; i++) {		/* each id once */
		if (k > 0 && strcmp(v[k - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*ids = v;
	*n = k;
	return 0;
}

/* queue_list_free - free a list from queue_list() */
void
queue_list_free(char **ids, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}
