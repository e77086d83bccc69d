/*
 * test_commit.c - the commit workers (queue_workers.c): jobs run
 * queue_commit() on worker threads and report back on the loop thread, every message reported
 * "ok" is in the queue, a failed commit is reported and leaves nothing,
 * a cancelled job's callback never runs but its message is queued (the
 * orphan hook hears of it), and queue_workers_free() waits for what is
 * in flight.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log/log.h"
#include "queue/queue.h"
#include "t.h"

#define NJOBS	64

struct result {
	int		 called;
	int		 ok;
	int		 on_loop;	/* ran on the thread that runs the loop */
	char		 id[QUEUE_ID_LEN + 1];
	char		 err[256];
};

static struct event_base *base;
static pthread_t loop_thread;
static int	 ndone, nwant, norphan;
static char	 orphans[NJOBS][QUEUE_ID_LEN + 1];

static int
in_queue(const char *dir, const char *id)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/msg/%s", dir, id);
	return access(path, F_OK) == 0;
}

static void
done_cb(void *arg, int ok, const char *id, const char *err)
{
	struct result	*r = arg;

	r->called++;
	r->ok = ok;
	r->on_loop = pthread_equal(pthread_self(), loop_thread);
	snprintf(r->id, sizeof(r->id), "%s", ok ? id : "");
	snprintf(r->err, sizeof(r->err), "%s", ok ? "" : err);
	if (++ndone + norphan >= nwant)
		event_base_loopbreak(base);
}

static void
orphan_cb(void *arg, const char *id)
{
	(void)arg;
	if (norphan < NJOBS)
		snprintf(orphans[norphan], sizeof(orphans[0]), "%s", id);
	if (++norphan + ndone >= nwant)
		event_base_loopbreak(base);
}

static struct queue_writer *
writer(struct queue *q, int n)
{
	struct queue_writer	*w;
	char			 err[256], body[64];
	int			 len;

	if ((w = queue_writer_new(q, err, sizeof(err))) == NULL)
		return NULL;
	len = snprintf(body, sizeof(body), "Subject: %d\r\n\r\nbody\r\n", n);
	queue_writer_add(w, body, (size_t)len);
	return w;
}

/* run - the loop until nwant results have come back (10 s at most) */
static void
run(void)
{
	struct timeval	 tv = { 10, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
test_many(struct queue_workers *c, struct queue *q, const char *dir)
{
	static struct result	 r[NJOBS];
	struct queue_env	 e;
	char			 rcpt[NJOBS][32], err[256] = "", *body = NULL;
	const char		*rcpts[1];
	size_t			 i, k, len, nok = 0, nloop = 0, distinct = 1;

	memset(r, 0, sizeof(r));
	ndone = norphan = 0;
	nwant = NJOBS;
	for (i = 0; i < NJOBS; i++) {
		/* The job keeps its own copy: the caller's may change. */
		snprintf(rcpt[i], sizeof(rcpt[i]), "r%zu@example.net", i);
		rcpts[0] = rcpt[i];
		T_CHECK(queue_workers_submit(c, writer(q, (int)i),
		    "a@example.org", rcpts, 1, done_cb, &r[i]) != NULL,
		    "submit %zu", i);
		strcpy(rcpt[i], "overwritten@example.net");
	}
	run();
	for (i = 0; i < NJOBS; i++) {
		nok += r[i].called == 1 && r[i].ok && in_queue(dir, r[i].id);
		nloop += r[i].on_loop;
		for (k = 0; k < i; k++)
			if (strcmp(r[i].id, r[k].id) == 0)
				distinct = 0;
	}
	T_CHECK(nok == NJOBS, "ok and in the queue: %zu of %d", nok, NJOBS);
	T_CHECK(nloop == NJOBS, "callbacks on the loop thread: %zu of %d",
	    nloop, NJOBS);
	T_CHECK(distinct, "ids not distinct");
	T_CHECK(t_count_dir(dir, "env") == 0 && t_count_dir(dir, "msg") ==
	    NJOBS && t_count_dir(dir, "tmp") == 0, "env %zu msg %zu tmp %zu",
	    t_count_dir(dir, "env"), t_count_dir(dir, "msg"), t_count_dir(dir, "tmp"));
	T_CHECK(queue_env_load(q, r[0].id, &e, err, sizeof(err)) == 0,
	    "load: %s", err);
	T_CHECK(e.nrcpt == 1 && strcmp(e.rcpt[0].addr, "r0@example.net") == 0 &&
	    strcmp(e.sender, "a@example.org") == 0, "envelope: <%s> <%s>",
	    e.sender ? e.sender : "", e.nrcpt ? e.rcpt[0].addr : "");
	queue_env_free(&e);
	T_CHECK(queue_msg_read(q, r[0].id, &body, &len, err, sizeof(err)) ==
	    0 && len > 12 && memcmp(body, "Subject: 0\r\n", 12) == 0,
	    "body of the first message: %s", err);
	free(body);
	for (i = 0; i < NJOBS; i++)
		queue_remove(q, r[i].id);
}

/* A failed commit is reported on the loop with its reason. */
static void
test_failure(struct queue_workers *c, struct queue *q, const char *dir)
{
	static struct result	 r;
	const char		*rcpts[1] = { "b@example.net" };

	memset(&r, 0, sizeof(r));
	ndone = norphan = 0;
	nwant = 1;
	/* No recipients: queue_commit() refuses it. */
	T_CHECK(queue_workers_submit(c, writer(q, 0), "", rcpts, 0, done_cb,
	    &r) != NULL, "submit");
	run();
	T_CHECK(r.called == 1 && !r.ok && strstr(r.err, "recipients") != NULL,
	    "failure: called %d ok %d err '%s'", r.called, r.ok, r.err);
	T_CHECK(t_count_dir(dir, "env") == 0 && t_count_dir(dir, "msg") == 0 &&
	    t_count_dir(dir, "tmp") == 0, "after failure: env %zu msg %zu tmp %zu",
	    t_count_dir(dir, "env"), t_count_dir(dir, "msg"), t_count_dir(dir, "tmp"));
}

/* Cancelled: no callback, the message is queued, the hook hears of it. */
static void
test_cancel(struct queue_workers *c, struct queue *q, const char *dir)
{
	static struct result	 r[8];
	struct queue_job	*j[8];
	const char		*rcpts[1] = { "b@example.net" };
	size_t			 i, called = 0, queued = 0;

	memset(r, 0, sizeof(r));
	ndone = norphan = 0;
	nwant = 8;
	for (i = 0; i < 8; i++)
		j[i] = queue_workers_submit(c, writer(q, (int)i), "", rcpts, 1,
		    done_cb, &r[i]);
	for (i = 0; i < 8; i += 2)
		queue_job_cancel(j[i]);
	run();
	for (i = 0; i < 8; i++)
		called += r[i].called;
	T_CHECK(called == 4 && norphan == 4, "cancel: %zu callbacks, %d "
	    "orphans; want 4 and 4", called, norphan);
	for (i = 0; i < 8; i += 2)
		T_CHECK(r[i].called == 0, "cancelled job %zu called back", i);
	for (i = 0; i < (size_t)norphan; i++)
		queued += in_queue(dir, orphans[i]);
	T_CHECK(queued == 4, "cancel: %zu of 4 orphans queued", queued);
	T_CHECK(t_count_dir(dir, "msg") == 8, "cancel: msg %zu, want 8",
	    t_count_dir(dir, "msg"));
}

int
main(void)
{
	char			 dir[] = "/tmp/danemx-test-commit.XXXXXX";
	char			 cmd[128], err[256] = "";
	static struct result	 r[8];
	const char		*rcpts[1] = { "b@example.net" };
	struct queue_workers	*c;
	struct queue		*q;
	struct queue_job	*j;
	size_t			 i;

	log_set_quiet(1);
	if (mkdtemp(dir) == NULL)
		return 2;
	loop_thread = pthread_self();
	if ((base = event_base_new()) == NULL ||
	    (q = queue_open(dir, 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "setup: %s\n", err);
		return 2;
	}
	c = queue_workers_new(base, q, err, sizeof(err));
	T_CHECK(c != NULL, "queue_workers_new: %s", err);
	if (c == NULL)
		return t_done("test_commit");
	queue_workers_set_orphan(c, orphan_cb, NULL);
	test_many(c, q, dir);
	test_failure(c, q, dir);
	test_cancel(c, q, dir);

	/* queue_workers_free() waits for cancelled jobs still in flight. */
	memset(r, 0, sizeof(r));
	norphan = 0;
	for (i = 0; i < 8; i++) {
		j = queue_workers_submit(c, writer(q, (int)i), "", rcpts, 1,
		    done_cb, &r[i]);
		queue_job_cancel(j);
	}
	queue_workers_free(c);
	T_CHECK(t_count_dir(dir, "msg") == 16 && t_count_dir(dir, "tmp") == 0,
	    "after free: msg %zu, want 16; tmp %zu", t_count_dir(dir, "msg"),
	    t_count_dir(dir, "tmp"));
	for (i = 0; i < 8; i++)
		T_CHECK(r[i].called == 0, "callback %zu ran in free", i);
	T_CHECK(norphan == 0, "orphan hook ran in free");

	queue_close(q);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_done("test_commit");
}
