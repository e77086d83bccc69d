/*
 * test_sched.c - the scheduler's end of a message whose recipients all
 * failed, against a real queue in a temporary directory (no network: the
 * scheduler is drained, so it starts no delivery).
 *
 * The bounce is committed on a worker thread and the message removed
 * only once the bounce is durable; a flush while the bounce is in
 * flight does not bounce the message a second time; a bounce whose
 * write or commit fails (a file size limit: the same errors as a full
 * disk) leaves the message queued, and the next look at the queue tries
 * again; the null sender gets no bounce; sched_free() with a bounce in
 * flight finishes it, message removal included.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "log/log.h"
#include "queue/queue.h"
#include "sched/sched.h"
#include "t.h"

static char		 dir[] = "/tmp/test_sched.XXXXXX";
static struct queue	*q;
static struct event_base *base;

/* queued - a message with sender from and one recipient, all failed */
static void
queued(const char *from, char id[QUEUE_ID_LEN + 1])
{
	static const char	 body[] = "Subject: t\r\n\r\nbody\r\n";
	const char		*rcpt[1] = { "u@example.net" };
	struct queue_writer	*w;
	struct queue_env	 e;
	char			 err[256];

	id[0] = '\0';
	if ((w = queue_writer_new(q, err, sizeof(err))) == NULL ||
	    queue_writer_add(w, body, sizeof(body) - 1) == -1 ||
	    queue_commit(w, from, rcpt, 1, id, err, sizeof(err)) == -1 ||
	    queue_env_load(q, id, &e, err, sizeof(err)) == -1) {
		T_CHECK(0, "setup: %s", err);
		return;
	}
	e.rcpt[0].state = RCPT_FAILED;
	free(e.rcpt[0].last);
	e.rcpt[0].last = strdup("550 5.1.1 no such user");
	T_CHECK(queue_env_store(q, &e, err, sizeof(err)) == 0, "store: %s",
	    err);
	queue_env_free(&e);
}

static int
exists(const char *sub, const char *id)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, id);
	return access(path, F_OK) == 0;
}

/*
 * bounces - the messages from the null sender to from; the last one's
 * body length (from its trailer) in *len
 */
static size_t
bounces(const char *from, size_t *len)
{
	struct queue_env e;
	struct dirent	*de;
	char		 err[256];
	size_t		 n = 0;
	int		 fd;
	DIR		*d;

	snprintf(err, sizeof(err), "%s/msg", dir);
	if ((d = opendir(err)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!queue_valid_id(de->d_name) ||
		    queue_env_load(q, de->d_name, &e, err, sizeof(err)) == -1)
			continue;
		if (e.sender[0] == '\0' && e.nrcpt == 1 &&
		    strcmp(e.rcpt[0].addr, from) == 0) {
			n++;
			if (len != NULL && (fd = queue_msg_open(q, de->d_name,
			    len, err, sizeof(err))) != -1)
				close(fd);
		}
		queue_env_free(&e);
	}
	closedir(d);
	return n;
}

/* run - the loop until no bounce is in flight (5 s at most) */
static void
run(struct sched *s)
{
	time_t	 end = time(NULL) + 5;

	while (sched_active(s) > 0 && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	T_CHECK(sched_active(s) == 0, "a bounce still in flight");
}

static void
fsize(rlim_t lim)
{
	struct rlimit	 rl;

	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = lim;
	T_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, "setrlimit");
}

int
main(void)
{
	struct dmx_conf		 conf;
	struct sched_conf	 sc;
	struct sched		*s;
	char			 err[256], id[QUEUE_ID_LEN + 1];
	char			 id2[QUEUE_ID_LEN + 1];
	char			 id3[QUEUE_ID_LEN + 1];
	size_t			 len = 0, len2 = 0;

	log_set_quiet(1);
	signal(SIGXFSZ, SIG_IGN);	/* over RLIMIT_FSIZE: EFBIG */
	if (mkdtemp(dir) == NULL || (base = event_base_new()) == NULL ||
	    (q = queue_open(dir, 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "setup failed\n");
		return 2;
	}
	conf_defaults(&conf);
	memset(&sc, 0, sizeof(sc));
	sc.conf = &conf;
	sc.q = q;
	sc.helo = "relay.test";

	/* Found at start: the bounce is on a worker, the message waits. */
	queued("a@example.org", id);
	s = sched_new(base, &sc);
	T_CHECK(s != NULL, "sched_new");
	if (s == NULL)
		return t_done("test_sched");
	sched_drain(s);		/* no delivery: there is no resolver */
	T_CHECK(sched_active(s) == 1, "bounce in flight: got %zu, want 1",
	    sched_active(s));
	T_CHECK(exists("msg", id), "message removed before its bounce");
	/* A flush meanwhile reads the queue again: no second bounce. */
	sched_flush(s);
	T_CHECK(sched_active(s) == 1, "flush: bounces in flight %zu, want 1",
	    sched_active(s));
	run(s);
	T_CHECK(!exists("msg", id) && !exists("env", id),
	    "bounced message still queued");
	T_CHECK(bounces("a@example.org", &len) == 1, "bounces: got %zu, "
	    "want 1", bounces("a@example.org", NULL));

	/* The write fails on the loop: the message stays, and a second
	 * look queues its bounce. */
	queued("b@example.org", id2);
	fsize(512);
	sched_flush(s);
	T_CHECK(sched_active(s) == 0, "write failed: nothing in flight");
	fsize(RLIM_INFINITY);
	T_CHECK(exists("msg", id2) && bounces("b@example.org", NULL) == 0,
	    "write failed: message gone or bounced");
	sched_flush(s);
	run(s);
	T_CHECK(!exists("msg", id2) && bounces("b@example.org", NULL) == 1,
	    "write failed, then: message %s, bounces %zu",
	    exists("msg", id2) ? "queued" : "gone",
	    bounces("b@example.org", NULL));

	/* The commit fails on the worker (the body fits under the limit,
	 * the envelope appended at commit does not): the same. */
	queued("c@example.org", id3);
	fsize(len + 40);
	sched_flush(s);
	T_CHECK(sched_active(s) == 1, "commit: not on a worker");
	run(s);
	fsize(RLIM_INFINITY);
	T_CHECK(exists("msg", id3) && bounces("c@example.org", NULL) == 0,
	    "commit failed: message gone or bounced");
	T_CHECK(t_count_dir(dir, "tmp") == 0, "commit failed: tmp/ %zu",
	    t_count_dir(dir, "tmp"));
	sched_flush(s);
	run(s);
	T_CHECK(!exists("msg", id3) && bounces("c@example.org", &len2) == 1,
	    "commit failed, then: message %s, bounces %zu",
	    exists("msg", id3) ? "queued" : "gone",
	    bounces("c@example.org", NULL));
	T_CHECK(len2 == len, "bounce sizes differ: %zu, %zu", len, len2);

	/* The null sender: no bounce, the message goes at once. */
	queued("", id);
	sched_flush(s);
	T_CHECK(sched_active(s) == 0 && !exists("msg", id) &&
	    bounces("", NULL) == 0, "null sender bounced, or kept");

	/* Stopped with a bounce in flight: it ends, and so does the
	 * message. */
	queued("d@example.org", id);
	sched_flush(s);
	T_CHECK(sched_active(s) == 1, "last bounce not in flight");
	sched_free(s);
	T_CHECK(!exists("msg", id) && bounces("d@example.org", NULL) == 1,
	    "after sched_free: message %s, bounces %zu",
	    exists("msg", id) ? "queued" : "gone",
	    bounces("d@example.org", NULL));

	queue_close(q);
	event_base_free(base);
	conf_free(&conf);
	snprintf(err, sizeof(err), "rm -rf %s", dir);
	if (system(err) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_done("test_sched");
}
