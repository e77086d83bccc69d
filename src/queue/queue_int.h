/*
 * queue_int.h - what the queue's own files share (queue.c, queue_space.c,
 * queue_write.c, queue_read.c): the queue handle and the message file's
 * trailer. Nothing outside src/queue includes it.
 *
 * A struct queue owns its directory path and the descriptors of the
 * directory and its subdirectories (queue_close() releases them); they
 * do not change after queue_open(), so any thread may use them.
 */
#ifndef DANEMX_QUEUE_INT_H
#define DANEMX_QUEUE_INT_H

#include "queue/queue.h"

struct queue {
	char	*dir;
	int	 dfd;		/* the queue directory */
	int	 tmpfd, msgfd, envfd;	/* its subdirectories */
	unsigned long long minfree;	/* queue_minfree; __atomic access */
};

/*
 * The trailer: a message file is the body, then its envelope as first
 * committed, then a fixed-size footer that says where the envelope is:
 * "\n#DMXENV <offset> <length>\n", both 16 hex digits. A later envelope
 * (env/ID, after a delivery attempt) overrides the trailer's.
 * queue_write.c writes it (queue_commit()), queue_read.c reads it.
 */
#define FOOTER_LEN	43

#endif /* DANEMX_QUEUE_INT_H */
