/*
 * state.c - the state store: reads on the caller's thread, writes queued
 * and committed in batches by one worker thread, over a backend chosen at
 * state_open() (state_backend.h).
 *
 * The queue is bounded (STATE_QUEUE_MAX writes): past it a write fails at
 * once and is counted, so a store that cannot keep up (a disk gone slow,
 * another process holding the lock) costs memory that is bounded and
 * never stalls the caller. The worker takes up to STATE_BATCH_MAX writes
 * at a time and applies them in one transaction; a write queued while
 * a transaction commits waits for the next one. state_close() applies
 * what is queued, then stops the worker.
 *
 * TLS-RPT rows wait in memory, merged, until the worker takes them
 * (state_tlsrpt.c); a claim (state_tlsrpt_claim) runs alone in a
 * transaction of its own, and its caller waits for it.
 *
 * Ownership: the store owns its queue, its connections and its thread;
 * state_close() frees them all. Records read are the caller's (free with
 * state_sts_clear()).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "state/state_int.h"

static const struct state_backend *backends[] = {
	&state_backend_sqlite,
};

/* state_op_free - free a queued write and what it owns */
void
state_op_free(struct state_op *op)
{
	if (op == NULL)
		return;
	if (op->sts != NULL) {
		state_sts_clear(op->sts);
		free(op->sts);
	}
	state_tlsrpt_op_free(op);
	free(op->byp);
	free(op->dest);
	free(op);
}

/* state_text_ok - a record's text: printable ASCII (' ' when space,
 * '\n' when nl), shorter than size; NULL is fine */
int
state_text_ok(const char *s, size_t size, int nl, int space)
{
	if (s == NULL)
		return 1;
	if (strnlen(s, size) >= size)
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '\n' && nl)
			continue;
		if (*s == ' ' && space)
			continue;
		if (*s <= ' ' || *s > '~')
			return 0;
	}
	return 1;
}

/* state_mono_ms - a monotonic clock, in milliseconds */
int64_t
state_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* apply - one op on the worker's connection */
static int
apply(struct state *st, struct state_op *op, char *err, size_t errlen)
{
	switch (op->kind) {
	case OP_STS_PUT:
		return st->be->sts_put(st->wconn, op->sts, err, errlen);
	case OP_STS_TOUCH:
		return st->be->sts_touch(st->wconn, op->domain, op->when, err,
		    errlen);
	case OP_STS_DELETE:
		return st->be->sts_delete(st->wconn, op->domain, err, errlen);
	case OP_STS_EXPIRE:
		return st->be->sts_expire(st->wconn, op->when, err, errlen);
	case OP_BYPASS_PUT:
	case OP_BYPASS_DELETE:
		return state_bypass_apply(st, op, err, errlen);
	case OP_DEST:
		return st->be->dest_write(st->wconn, op->dest, err, errlen);
	default:
		return state_tlsrpt_apply(st, op, err, errlen);
	}
	snprintf(err, errlen, "unknown operation");
	return -1;
}

/*
 * run_batch - apply ops in one transaction. One op that fails is logged
 * and skipped (the others still commit); a transaction that cannot
 * begin or commit fails them all.
 */
static size_t
run_batch(struct state *st, struct op_queue *batch, size_t n)
{
	struct state_op	*op;
	char		 err[STATE_ERR_MAX];
	size_t		 failed = 0;

	if (st->be->begin(st->wconn, err, sizeof(err)) == -1) {
		log_warnx("state: %s: cannot write %zu change%s: %s", st->path,
		    n, n == 1 ? "" : "s", err);
		return n;
	}
	STAILQ_FOREACH(op, batch, entry) {
		if (apply(st, op, err, sizeof(err)) == -1) {
			log_warnx("state: %s: a change for %s was not stored: %s",
			    st->path, op->domain[0] ? op->domain : "(all)", err);
			failed++;
		}
	}
	if (st->be->commit(st->wconn, err, sizeof(err)) == -1) {
		st->be->rollback(st->wconn);
		log_warnx("state: %s: cannot commit %zu change%s: %s", st->path,
		    n, n == 1 ? "" : "s", err);
		return n;
	}
	return failed;
}

/*
 * wait_work - with the lock held, wait until there is something to do:
 * 1, or 0 to stop. Pending TLS-RPT rows become queued writes once the
 * oldest has waited STATE_TLSRPT_FLUSH_MS, or at the stop.
 */
static int
wait_work(struct state *st)
{
	struct timespec	 ts;
	int64_t		 due;

	for (;;) {
		if (!STAILQ_EMPTY(&st->queue))
			return 1;
		if (st->tr_npending > 0) {
			due = st->tr_since + STATE_TLSRPT_FLUSH_MS;
			if (st->stop || state_mono_ms() >= due) {
				state_tlsrpt_pending_move(st);
				continue;
			}
			ts.tv_sec = (time_t)(due / 1000);
			ts.tv_nsec = (long)(due % 1000) * 1000000;
			pthread_cond_timedwait(&st->work, &st->mu, &ts);
			continue;
		}
		if (st->stop)
			return 0;
		pthread_cond_wait(&st->work, &st->mu);
	}
}

/* run_claim - a claim, alone in its own (durable) transaction */
static void
run_claim(struct state *st, struct state_op *op)
{
	char	 err[STATE_ERR_MAX] = "";
	int	 rv;

	rv = state_tlsrpt_apply(st, op, err, sizeof(err));
	pthread_mutex_lock(&st->mu);
	if (rv == -1)
		st->errors++;
	state_tlsrpt_claim_done(op, rv, err);	/* the caller frees it */
	st->seq_done++;
	st->batches++;
	pthread_cond_broadcast(&st->idle);
}

/* worker - drain the queue in batches until told to stop */
static void *
worker(void *arg)
{
	struct state	*st = arg;
	struct op_queue	 batch;
	struct state_op	*op;
	size_t		 n, failed;

	pthread_mutex_lock(&st->mu);
	while (wait_work(st)) {
		op = STAILQ_FIRST(&st->queue);
		if (op->kind == OP_TLSRPT_CLAIM) {
			STAILQ_REMOVE_HEAD(&st->queue, entry);
			st->queued--;
			pthread_mutex_unlock(&st->mu);
			run_claim(st, op);	/* returns locked */
			continue;
		}
		STAILQ_INIT(&batch);
		for (n = 0; n < STATE_BATCH_MAX &&
		    (op = STAILQ_FIRST(&st->queue)) != NULL &&
		    op->kind != OP_TLSRPT_CLAIM; n++) {
			STAILQ_REMOVE_HEAD(&st->queue, entry);
			STAILQ_INSERT_TAIL(&batch, op, entry);
		}
		st->queued -= n;
		pthread_mutex_unlock(&st->mu);

		failed = run_batch(st, &batch, n);
		while ((op = STAILQ_FIRST(&batch)) != NULL) {
			STAILQ_REMOVE_HEAD(&batch, entry);
			state_op_free(op);
		}

		pthread_mutex_lock(&st->mu);
		st->errors += failed;
		st->seq_done += n;
		st->batches++;
		pthread_cond_broadcast(&st->idle);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* state_enqueue_locked - with the lock held: queue op, wake the worker */
void
state_enqueue_locked(struct state *st, struct state_op *op)
{
	STAILQ_INSERT_TAIL(&st->queue, op, entry);
	st->queued++;
	st->seq_queued++;
	pthread_cond_signal(&st->work);
}

/*
 * state_enqueue - hand op to the worker; frees it and returns -1 if it
 * cannot. force: past the queue's bound too (a caller that waits).
 */
int
state_enqueue(struct state *st, struct state_op *op, int force)
{
	if (st->readonly || !st->started) {
		state_op_free(op);
		return -1;
	}
	pthread_mutex_lock(&st->mu);
	if (st->queued >= STATE_QUEUE_MAX && !force) {
		st->errors++;
		if (!st->full_logged)
			log_warnx("state: %s: %d changes are waiting to be "
			    "written; dropping new ones until the store "
			    "catches up", st->path, STATE_QUEUE_MAX);
		st->full_logged = 1;
		pthread_mutex_unlock(&st->mu);
		state_op_free(op);
		return -1;
	}
	st->full_logged = 0;
	state_enqueue_locked(st, op);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/* state_op_new - a write of kind for domain (may be NULL); NULL if none */
struct state_op *
state_op_new(enum op_kind kind, const char *domain, int64_t when)
{
	struct state_op	*op;

	if (domain != NULL && strlen(domain) >= STATE_DOMAIN_MAX)
		return NULL;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->kind = kind;
	op->when = when;
	if (domain != NULL)
		strlcpy_(op->domain, domain, sizeof(op->domain));
	return op;
}

/* check_dir - dir exists (made 0700 if not) and no one else may write it */
static int
check_dir(const char *dir, int create, char *err, size_t errlen)
{
	struct stat	 sb;

	if (stat(dir, &sb) == -1) {
		if (errno != ENOENT || !create) {
			snprintf(err, errlen, "state_dir %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "cannot make state_dir %s: %s",
			    dir, strerror(errno));
			return -1;
		}
		if (stat(dir, &sb) == -1) {
			snprintf(err, errlen, "state_dir %s: %s", dir,
			    strerror(errno));
			return -1;
		}
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state_dir %s is not a directory", dir);
		return -1;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "state_dir %s is writable by others "
		    "(mode %04o); refusing to keep state there", dir,
		    (unsigned)(sb.st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * state_open - open (creating if need be) the store that conf describes.
 * NULL with a reason in err if it cannot be used.
 */
struct state *
state_open(const struct state_conf *conf, char *err, size_t errlen)
{
	struct state		*st;
	pthread_condattr_t	 ca;
	const char		*name = conf->backend ? conf->backend : "sqlite";
	size_t			 i;

	if (conf->dir == NULL || conf->dir[0] == '\0') {
		snprintf(err, errlen, "no state_dir configured");
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < DMX_NELEM(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			st->be = backends[i];
	if (st->be == NULL) {
		snprintf(err, errlen, "unknown state backend '%.32s'", name);
		free(st);
		return NULL;
	}
	st->readonly = conf->readonly;
	STAILQ_INIT(&st->queue);
	pthread_mutex_init(&st->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&st->idle, NULL);
	if (check_dir(conf->dir, !conf->readonly, err, errlen) == -1)
		goto fail;
	/* The writer first: it creates the file and migrates the schema. */
	if (!st->readonly && (st->wconn = st->be->open(conf, 1, st->path,
	    sizeof(st->path), err, errlen)) == NULL)
		goto fail;
	if ((st->rconn = st->be->open(conf, 0, st->path, sizeof(st->path),
	    err, errlen)) == NULL)
		goto fail;
	if (!st->readonly) {
		if (pthread_create(&st->worker, NULL, worker, st) != 0) {
			snprintf(err, errlen, "cannot start the state writer "
			    "thread");
			goto fail;
		}
		st->started = 1;
	}
	return st;
fail:
	state_close(st);
	return NULL;
}

/* state_close - write what is queued, stop the worker, free everything */
void
state_close(struct state *st)
{
	struct state_op	*op;

	if (st == NULL)
		return;
	if (st->started) {
		pthread_mutex_lock(&st->mu);
		st->stop = 1;
		pthread_cond_signal(&st->work);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->worker, NULL);
	}
	while ((op = STAILQ_FIRST(&st->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&st->queue, entry);
		state_op_free(op);
	}
	state_tlsrpt_pending_free(st);
	if (st->rconn != NULL)
		st->be->close(st->rconn);
	if (st->wconn != NULL)
		st->be->close(st->wconn);
	pthread_cond_destroy(&st->work);
	pthread_cond_destroy(&st->idle);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/*
 * state_sync - wait until every write queued so far is committed. 0, or
 * -1 if a write failed (or was dropped) since the last state_sync().
 * It blocks: for tools, tests and shutdown, never on the event loop.
 */
int
state_sync(struct state *st)
{
	uint64_t	 target;
	int		 rv;

	pthread_mutex_lock(&st->mu);
	if (st->started && st->tr_npending > 0)
		state_tlsrpt_pending_move(st);
	target = st->seq_queued;
	while (st->started && st->seq_done < target)
		pthread_cond_wait(&st->idle, &st->mu);
	rv = st->errors == st->errors_seen ? 0 : -1;
	st->errors_seen = st->errors;
	pthread_mutex_unlock(&st->mu);
	return rv;
}

/* state_path - where the store lives, for messages */
const char *
state_path(const struct state *st)
{
	return st->path;
}

/* state_backend_name - "sqlite" */
const char *
state_backend_name(const struct state *st)
{
	return st->be->name;
}

/* state_is_readonly - opened for reads only */
int
state_is_readonly(const struct state *st)
{
	return st->readonly;
}

/* state_stats - what the worker did so far */
void
state_stats(struct state *st, struct state_stats *out)
{
	pthread_mutex_lock(&st->mu);
	out->writes = (unsigned long)st->seq_done;
	out->batches = st->batches;
	out->errors = st->errors;
	out->queued = st->queued;
	pthread_mutex_unlock(&st->mu);
}

/*
 * state_dir_setup - root makes (0700) or checks state_dir for the
 * relay's user (uid, gid), who opens the store after the privilege
 * drop. Root never follows what that user could have planted: dir's
 * parents must be root's and writable by root alone, dir is opened
 * with O_NOFOLLOW and checked with fstat, only a directory root has
 * just made is given away (fchown), and nothing inside it is touched.
 * -1 with err, naming the fix, when dir is not as it must be.
 */
int
state_dir_setup(const char *dir, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	struct stat	 sb;
	char		 parent[1024], why[600];
	const char	*base;
	int		 pfd = -1, fd = -1, made, rv = -1;

	if ((base = strrchr(dir, '/')) == NULL || dir[0] != '/' ||
	    base[1] == '\0' || (size_t)(base - dir) >= sizeof(parent)) {
		snprintf(err, errlen, "state_dir %s: must be an absolute path "
		    "without a final /", dir);
		return -1;
	}
	memcpy(parent, dir, (size_t)(base - dir));
	parent[base - dir] = '\0';
	base++;
	if ((pfd = file_open_trusted_dir(parent[0] ? parent : "/", why,
	    sizeof(why))) == -1) {
		snprintf(err, errlen, "state_dir %s: %s", dir, why);
		return -1;
	}
	made = mkdirat(pfd, base, 0700) == 0;
	if (!made && errno != EEXIST) {
		snprintf(err, errlen, "cannot make state_dir %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if ((fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "state_dir %s: %s%s", dir, strerror(errno),
		    errno == ELOOP || errno == ENOTDIR ? ": it must be a real "
		    "directory, not a link" : "");
		goto out;
	}
	if (made && fchown(fd, uid, gid) == -1) {
		snprintf(err, errlen, "state_dir %s: chown: %s", dir,
		    strerror(errno));
		goto out;
	}
	if (!made && sb.st_uid != uid) {
		snprintf(err, errlen, "state_dir %s belongs to uid %u, not to "
		    "the relay's user (uid %u): fix it with chown -R %u:%u %s",
		    dir, (unsigned)sb.st_uid, (unsigned)uid, (unsigned)uid,
		    (unsigned)gid, dir);
		goto out;
	}
	if (!made && (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen, "state_dir %s is writable by others (mode "
		    "%04o): fix it with chmod 0700 %s", dir,
		    (unsigned)(sb.st_mode & 07777), dir);
		goto out;
	}
	rv = 0;
out:
	if (fd != -1)
		close(fd);
	close(pfd);
	return rv;
}

/*
 * state_sts_valid - a record read from the store is sound: a domain of
 * hostname characters, an id of 1-32 letters and digits (or none). The
 * file may have been written by anyone who can write state_dir.
 */
int
state_sts_valid(const struct state_sts *r)
{
	const char	*p;
	size_t		 n;

	n = strnlen(r->domain, sizeof(r->domain));
	if (n == 0 || n >= sizeof(r->domain))
		return 0;
	for (p = r->domain; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_'))
			return 0;
	n = strnlen(r->id, sizeof(r->id));
	if (n >= sizeof(r->id))
		return 0;
	for (p = r->id; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/* state_sts_get - the record of domain: 1 found, 0 none, -1 error */
int
state_sts_get(struct state *st, const char *domain, struct state_sts *out,
    char *err, size_t errlen)
{
	int	 rv;

	memset(out, 0, sizeof(*out));
	if (strlen(domain) >= STATE_DOMAIN_MAX)
		return 0;
	rv = st->be->sts_get(st->rconn, domain, out, err, errlen);
	if (rv == 1 && !state_sts_valid(out)) {
		state_sts_clear(out);
		snprintf(err, errlen, "the stored record of %.64s is malformed",
		    domain);
		return -1;
	}
	return rv;
}

struct list_ctx {
	int	(*cb)(void *, const struct state_sts *);
	void	*arg;
};

static int
list_one(void *arg, const struct state_sts *r)
{
	struct list_ctx	*lc = arg;

	if (!state_sts_valid(r))
		return 0;	/* skipped, not fatal */
	return lc->cb(lc->arg, r);
}

/*
 * state_sts_list - records used at or after used_since, most recently
 * used first, at most max; cb returns 0 to go on, -1 to stop. Returns
 * the number listed, or -1.
 */
int
state_sts_list(struct state *st, int64_t used_since, size_t max,
    int (*cb)(void *, const struct state_sts *), void *arg, char *err,
    size_t errlen)
{
	struct list_ctx	 lc = { cb, arg };

	return st->be->sts_list(st->rconn, used_since, max, list_one, &lc,
	    err, errlen);
}

/* state_sts_put - store r (a copy is queued); 0, or -1 */
int
state_sts_put(struct state *st, const struct state_sts *r)
{
	struct state_op	*op;

	if (!state_sts_valid(r) || (op = state_op_new(OP_STS_PUT, r->domain,
	    0)) == NULL)
		return -1;
	if ((op->sts = malloc(sizeof(*op->sts))) == NULL) {
		free(op);
		return -1;
	}
	*op->sts = *r;
	op->sts->policy = NULL;
	if (r->policy != NULL) {
		if ((op->sts->policy = malloc(r->policy_len + 1)) == NULL) {
			state_op_free(op);
			return -1;
		}
		memcpy(op->sts->policy, r->policy, r->policy_len);
		op->sts->policy[r->policy_len] = '\0';
	}
	return state_enqueue(st, op, 0);
}

/* state_sts_touch - the domain's policy was used at when */
int
state_sts_touch(struct state *st, const char *domain, int64_t when)
{
	struct state_op	*op;

	if ((op = state_op_new(OP_STS_TOUCH, domain, when)) == NULL)
		return -1;
	return state_enqueue(st, op, 0);
}

/* state_sts_delete - forget domain */
int
state_sts_delete(struct state *st, const char *domain)
{
	struct state_op	*op;

	if ((op = state_op_new(OP_STS_DELETE, domain, 0)) == NULL)
		return -1;
	return state_enqueue(st, op, 0);
}

/* state_sts_expire - forget every domain not used since unused_before */
int
state_sts_expire(struct state *st, int64_t unused_before)
{
	struct state_op	*op;

	if ((op = state_op_new(OP_STS_EXPIRE, NULL, unused_before)) == NULL)
		return -1;
	return state_enqueue(st, op, 0);
}

/* state_sts_clear - free what a record owns */
void
state_sts_clear(struct state_sts *r)
{
	free(r->policy);
	r->policy = NULL;
	r->policy_len = 0;
}
