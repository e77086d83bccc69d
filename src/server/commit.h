/*
 * commit.h - queue commits off the event loop (commit.c).
 *
 * queue_commit() does four fsyncs. Run on the loop, one session's
 * commit would stall every other session; run on a few worker threads,
 * the commits of concurrent sessions overlap and the filesystem journal
 * writes them out together. The result comes back to the loop thread,
 * where the job's callback runs: nothing but queue_commit() ever runs
 * on a worker, and libevent stays single-threaded.
 *
 * Ownership: the committer owns its threads and every job until the
 * job's callback has returned. A submitted job owns the queue writer
 * and copies of the sender and recipients. commit_job_cancel() only
 * forgets the callback: the commit itself always runs to its end, so a
 * message the client was never told about may still be queued (at least
 * once: the client sends it again, the next hop may see it twice).
 */
#ifndef DANEMX_COMMIT_H
#define DANEMX_COMMIT_H

#include <stddef.h>

#include "queue/queue.h"

struct event_base;
struct committer;
struct commit_job;

/*
 * done - the result, on the loop thread: ok 1 with the queue id, or ok 0
 * with err (nothing of the message is left on disk). id and err live only
 * for the call.
 */
typedef void	(*commit_done_cb)(void *arg, int ok, const char *id,
		    const char *err);
/* orphan - a cancelled job's message was queued all the same */
typedef void	(*commit_orphan_cb)(void *arg, const char *id);

struct committer *committer_new(struct event_base *, struct queue *,
	    char *err, size_t errlen);
struct committer *committer_new_threads(struct event_base *, struct queue *,
	    size_t nthreads, char *err, size_t errlen);
void	 committer_set_orphan(struct committer *, commit_orphan_cb, void *);
struct commit_job *committer_submit(struct committer *, struct queue_writer *,
	    const char *sender, const char * const *rcpts, size_t nrcpt,
	    commit_done_cb, void *arg);
void	 commit_job_cancel(struct commit_job *);
void	 committer_free(struct committer *);

#endif /* DANEMX_COMMIT_H */
