/*
 * queue_read.c - reading the queue: envelopes (env/ID, else the message
 * file's trailer), message bodies (whole, opened, or their Received:
 * count), the list of queued ids, and removal.
 *
 * Every function returns an error with a reason (strerror included) and
 * errno: ENOENT means the message is not there (any more), or only an
 * envelope whose body a removal already took. What a function returns
 * in *data, *text or *ids is the caller's to free (queue_list_free()
 * for a list); a descriptor from queue_msg_open() is the caller's to
 * close.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "util/util.h"

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
