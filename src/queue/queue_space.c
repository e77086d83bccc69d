/*
 * queue_space.c - the free-space reserve (queue_minfree), as Postfix's:
 * below it no new message enters the queue, so that what is left stays
 * for the queue's own writes, the envelope updates that record results
 * and the bounces. Without it a full disk loses results, and mail
 * already sent is sent again. One inode per INODE_RATIO octets of it is
 * kept too.
 *
 * queue_space() says whether new mail fits (queue_write.c asks it as a
 * writer goes); queue_space_ok() is the relay's side (smtpd at MAIL,
 * the maildrop pickup): a refusal is logged at most once a minute, with
 * how many were refused meanwhile, so that a full disk does not fill
 * the log too. Nothing here is allocated.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "log/log.h"
#include "queue/queue_int.h"

#define INODE_RATIO	(16 * 1024)	/* reserve one inode per 16 KiB */
#define SPACE_LOG_EVERY	60	/* seconds between two refusal log lines */

static time_t		 logged;	/* queue_space_ok(): loop thread */
static unsigned long	 unlogged;

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

/*
 * queue_space_ok - may new mail of size octets (0 when not announced)
 * enter the queue now? 1 yes; 0 no (the caller says 452 4.3.1 or waits),
 * logged for who (e.g. "smtpd: MAIL from 192.0.2.1"). Event loop thread
 * only.
 */
int
queue_space_ok(struct queue *q, unsigned long long size, const char *who)
{
	char	 why[256];
	time_t	 now;

	if (queue_space(q, size, why, sizeof(why)) == 0)
		return 1;
	now = time(NULL);
	if (now - logged >= SPACE_LOG_EVERY) {
		log_warnx("%s: new mail refused: %s (%lu more refused in the "
		    "last minute): the rest is kept for the queue's own "
		    "updates; free some space", who, why, unlogged);
		logged = now;
		unlogged = 0;
	} else
		unlogged++;
	return 0;
}
