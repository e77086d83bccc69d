/*
 * queue_workers.c - a small pool of threads that run queue_commit() for
 * the relay (the smtpd's messages, the maildrop pickup's drops and the
 * scheduler's bounces), so that the fsyncs of concurrent commits
 * overlap and the journal writes them out together (group commit),
 * instead of each waiting on the event loop for the fsyncs of the
 * others.
 *
 * The loop thread puts a job on the todo list (mutex and condition
 * variable) and a worker runs queue_commit() for it, then moves it to
 * the done list and writes one byte to a pipe if that list was empty.
 * An event on the pipe's read end takes the whole done list on the
 * loop thread and runs each job's callback there, so libevent stays
 * single-threaded (no evthread_use_pthreads()). The durability order is
 * queue_commit()'s own: a callback hears "ok" only after all four
 * fsyncs. A worker touches only the job's writer, sender and recipients
 * and its result fields; the callback, its argument and cancellation
 * belong to the loop thread, so cancelling needs no lock. Workers block
 * every signal: libevent's signal handling stays on the loop thread and
 * no fsync is ever interrupted. The queue room opens no socket: the
 * pipe is the only descriptor here.
 *
 * Ownership: the pool owns its threads, the pipe and every job from
 * queue_workers_submit() until the job's callback has returned (or,
 * cancelled, until its outcome is logged). A job owns the queue writer
 * and copies of the sender and recipients. queue_workers_free() lets
 * the workers finish every job submitted, so those messages are queued,
 * and calls no callback; queue_workers_wait() waits for them too and
 * runs their callbacks.
 */
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log/log.h"
#include "queue/queue.h"
#include "util/util.h"

/*
 * Four are enough to keep the journal busy with several commits at
 * once; more would only queue inside the filesystem. The loop thread
 * never waits for them.
 */
#define COMMIT_THREADS	4

struct queue_job {
	TAILQ_ENTRY(queue_job)	 entry;		/* todo or done list */
	/* The worker's, until the job is on the done list: */
	struct queue_writer	*w;
	char			*sender;
	char			**rcpts;
	size_t			 nrcpt;
	int			 ok;
	char			 id[QUEUE_ID_LEN + 1];
	char			 err[256];
	/* The loop thread's: */
	queue_job_done_cb	 done;		/* NULL: cancelled */
	void			*arg;
};

TAILQ_HEAD(joblist, queue_job);

struct queue_workers {
	struct queue		*q;		/* where the writers write */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;
	struct joblist		 todo;		/* mtx */
	struct joblist		 done;		/* mtx */
	int			 stopping;	/* mtx */
	size_t			 running;	/* mtx: taken by a worker */
	pthread_cond_t		 idle;		/* todo empty, none running */
	pthread_t		 threads[COMMIT_THREADS];
	size_t			 nthreads;
	int			 wake[2];	/* pipe: the done list has jobs */
	struct event		*ev;
	size_t			 pending;	/* submitted, not yet finished */
	queue_job_orphan_cb	 orphan;
	void			*orphan_arg;
};

static void
job_free(struct queue_job *j)
{
	size_t	 i;

	if (j == NULL)
		return;
	if (j->w != NULL)
		queue_writer_abort(j->w);
	free(j->sender);
	for (i = 0; j->rcpts != NULL && i < j->nrcpt; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j);
}

static void *
worker(void *arg)
{
	struct queue_workers	*c = arg;
	struct queue_job	*j;
	char			 b = 0;
	int			 wake;

	pthread_mutex_lock(&c->mtx);
	for (;;) {
		while (TAILQ_EMPTY(&c->todo) && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mtx);
		/* Stopping only ends a worker once nothing is left to do. */
		if ((j = TAILQ_FIRST(&c->todo)) == NULL)
			break;
		TAILQ_REMOVE(&c->todo, j, entry);
		c->running++;
		pthread_mutex_unlock(&c->mtx);

		j->ok = queue_commit(j->w, j->sender,
		    (const char * const *)j->rcpts, j->nrcpt, j->id, j->err,
		    sizeof(j->err)) == 0;
		j->w = NULL;		/* queue_commit() freed it either way */

		pthread_mutex_lock(&c->mtx);
		/*
		 * One byte per time the list becomes non-empty: the loop
		 * empties the pipe before it takes the list, so the pipe
		 * holds a byte or two at most and the write cannot block.
		 */
		wake = TAILQ_EMPTY(&c->done);
		TAILQ_INSERT_TAIL(&c->done, j, entry);
		if (--c->running == 0 && TAILQ_EMPTY(&c->todo))
			pthread_cond_broadcast(&c->idle);
		if (wake && write(c->wake[1], &b, 1) == -1) {
			/* EAGAIN: the pipe is not empty, the loop will look */
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return NULL;
}

/* finish - on the loop thread: the results of the jobs done so far */
static void
finish(struct queue_workers *c)
{
	struct joblist		 list;
	struct queue_job	*j;

	TAILQ_INIT(&list);
	pthread_mutex_lock(&c->mtx);
	TAILQ_CONCAT(&list, &c->done, entry);
	pthread_mutex_unlock(&c->mtx);
	/*
	 * A callback may submit new jobs or cancel jobs still on this list
	 * (it may free another session); the list is ours, so both are safe.
	 */
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		c->pending--;
		if (j->done != NULL)
			j->done(j->arg, j->ok, j->id, j->err);
		else if (j->ok) {
			log_info("%s: queued, but its session ended before "
			    "the client was told; it may send the message "
			    "again", j->id);
			if (c->orphan != NULL)
				c->orphan(c->orphan_arg, j->id);
		} else
			log_info("commit: the message of a session that ended "
			    "was not queued: %s", j->err);
		job_free(j);
	}
}

static void
wake_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	 b[64];

	(void)ev;
	while (read(fd, b, sizeof(b)) > 0)
		;
	finish(arg);
}

/*
 * queue_workers_new - start the workers and watch for their results on
 * base. NULL with err when it cannot.
 */
struct queue_workers *
queue_workers_new(struct event_base *base, struct queue *q, char *err,
    size_t errlen)
{
	return queue_workers_new_threads(base, q, COMMIT_THREADS, err, errlen);
}

/* queue_workers_new_threads - the same with nthreads workers (1 to 4) */
struct queue_workers *
queue_workers_new_threads(struct event_base *base, struct queue *q,
    size_t nthreads, char *err, size_t errlen)
{
	struct queue_workers	*c;
	sigset_t		 all, old;
	int			 rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->q = q;
	c->wake[0] = c->wake[1] = -1;
	TAILQ_INIT(&c->todo);
	TAILQ_INIT(&c->done);
	if ((rc = pthread_mutex_init(&c->mtx, NULL)) != 0 ||
	    (rc = pthread_cond_init(&c->cv, NULL)) != 0 ||
	    (rc = pthread_cond_init(&c->idle, NULL)) != 0) {
		/* None fails with default attributes on Linux. */
		snprintf(err, errlen, "commit threads: %s", strerror(rc));
		free(c);
		return NULL;
	}
	if (pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errlen, "commit threads: pipe: %s",
		    strerror(errno));
		goto fail;
	}
	if ((c->ev = event_new(base, c->wake[0], EV_READ | EV_PERSIST,
	    wake_cb, c)) == NULL || event_add(c->ev, NULL) == -1) {
		snprintf(err, errlen, "commit threads: cannot watch the pipe");
		goto fail;
	}
	/* Workers inherit a mask that blocks every signal. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (nthreads < 1 || nthreads > COMMIT_THREADS)
		nthreads = COMMIT_THREADS;
	while (c->nthreads < nthreads) {
		if ((rc = pthread_create(&c->threads[c->nthreads], NULL,
		    worker, c)) != 0)
			break;
		c->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (c->nthreads < nthreads) {
		snprintf(err, errlen, "commit threads: %s", strerror(rc));
		goto fail;
	}
	return c;
fail:
	queue_workers_free(c);
	return NULL;
}

/*
 * queue_workers_set_orphan - who hears of a message queued for a
 * cancelled job (the scheduler must learn of it like of any other)
 */
void
queue_workers_set_orphan(struct queue_workers *c, queue_job_orphan_cb cb,
    void *arg)
{
	c->orphan = cb;
	c->orphan_arg = arg;
}

/*
 * queue_workers_submit - commit w with this envelope on a worker, then call
 * done(arg, ...) on the loop thread. The job takes w and copies sender
 * and rcpts. NULL when out of memory: w is then still the caller's.
 */
struct queue_job *
queue_workers_submit(struct queue_workers *c, struct queue_writer *w,
    const char *sender, const char * const *rcpts, size_t nrcpt,
    queue_job_done_cb done, void *arg)
{
	struct queue_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	if ((j->sender = strdup(sender != NULL ? sender : "")) == NULL ||
	    (j->rcpts = calloc(nrcpt > 0 ? nrcpt : 1, sizeof(*j->rcpts))) ==
	    NULL) {
		job_free(j);
		return NULL;
	}
	for (; j->nrcpt < nrcpt; j->nrcpt++)
		if ((j->rcpts[j->nrcpt] = strdup(rcpts[j->nrcpt])) == NULL) {
			job_free(j);
			return NULL;
		}
	j->w = w;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&c->mtx);
	TAILQ_INSERT_TAIL(&c->todo, j, entry);
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mtx);
	c->pending++;
	return j;
}

/*
 * queue_job_cancel - the caller goes away: its callback will not run.
 * The commit still runs to its end; if it succeeds, the message is
 * queued (and logged) although nobody was told.
 */
void
queue_job_cancel(struct queue_job *j)
{
	if (j == NULL)
		return;
	j->done = NULL;
	j->arg = NULL;
}

/*
 * queue_workers_wait - wait until every job submitted so far has ended,
 * and run the callbacks of those not cancelled now, on this thread (the
 * loop's). For an owner about to go away that must hear how its jobs
 * ended (the scheduler removes a message only once its bounce is
 * queued). Jobs that the callbacks submit are not waited for.
 */
void
queue_workers_wait(struct queue_workers *c)
{
	pthread_mutex_lock(&c->mtx);
	while (!TAILQ_EMPTY(&c->todo) || c->running > 0)
		pthread_cond_wait(&c->idle, &c->mtx);
	pthread_mutex_unlock(&c->mtx);
	finish(c);
}

/*
 * queue_workers_free - wait until every job submitted is committed (or has
 * failed), then stop the workers. No callback runs: the outcome of each
 * job still pending is logged as for a cancelled one, and the orphan
 * hook is not called (its owner may be gone; a restarted scheduler
 * finds those messages in the queue).
 */
void
queue_workers_free(struct queue_workers *c)
{
	struct queue_job	*j;
	size_t			 i;

	if (c == NULL)
		return;
	if (c->pending > 0)
		log_info("commit: waiting for %zu message%s being queued",
		    c->pending, c->pending == 1 ? "" : "s");
	pthread_mutex_lock(&c->mtx);
	c->stopping = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mtx);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	/* No worker is left: the lists are ours without the lock. */
	c->orphan = NULL;
	TAILQ_FOREACH(j, &c->done, entry)
		queue_job_cancel(j);
	finish(c);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->wake[0] != -1)
		close(c->wake[0]);
	if (c->wake[1] != -1)
		close(c->wake[1]);
	pthread_cond_destroy(&c->idle);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}
