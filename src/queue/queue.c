/*
 * queue.c - the queue's layout: opening (or making) the queue directory
 * and its subdirectories, as the relay's user (queue_open()) or as root
 * checking the ownership model (queue_open_owned()), and the sweep of
 * what crashed writers left in tmp/. See queue.h for the layout and the
 * commit order; queue_write.c writes messages and envelopes,
 * queue_read.c reads and removes them, queue_space.c keeps the reserve.
 *
 * Every function returns an error with a reason (strerror included).
 * struct queue owns its directory paths and descriptors; queue_close()
 * releases them.
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

#include "queue/queue_int.h"
#include "util/util.h"

#define TMP_MAX_AGE	(24 * 3600)	/* stale tmp files are swept */

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
