/*
 * queue_write.c - writing the queue: a message is received into tmp/
 * by a queue writer and made durable and visible by queue_commit()
 * (write, fsync, rename into msg/, fsync of msg/) before anyone is told
 * "accepted"; an envelope update is a whole-file rewrite of env/ID
 * through tmp/ (queue_env_store()).
 *
 * A failed commit unlinks what it wrote, so a full disk costs the
 * message being received and nothing else. A writer owns its temporary
 * file until commit or abort; queue_commit() frees the writer whatever
 * its outcome.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "util/util.h"

#define SPACE_STEP	(64 * 1024)	/* a writer looks at the reserve after
					   this many octets */

struct queue_writer {
	struct queue	*q;
	char		 id[QUEUE_ID_LEN + 1];
	int		 fd;
	size_t		 size;
	struct queue_hops hops;		/* Received: headers written, and
					   TLS-Required: */
	int		 honour_tls;	/* ... may ask for "No" */
	int		 failed;	/* a write failed: errno saved */
	int		 err;
	int		 reserve;	/* may use the reserve (a bounce) */
	size_t		 unchecked;	/* octets since the last look at it */
	char		 below[160];	/* why the reserve refused it */
};

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

/*
 * queue_writer_honour_tls - the sender may ask for "TLS-Required: No"
 * (RFC 8689): if the message's header does, its envelope will say so.
 * Without this call the header field is relayed but means nothing.
 */
void
queue_writer_honour_tls(struct queue_writer *w)
{
	w->honour_tls = 1;
}

/* queue_writer_tls_required_no - will the envelope say tls_required_no? */
int
queue_writer_tls_required_no(const struct queue_writer *w)
{
	return w->honour_tls && queue_hops_tls_required_no(&w->hops);
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
	e.tls_required_no = queue_writer_tls_required_no(w);
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
