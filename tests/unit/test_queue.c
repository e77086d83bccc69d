/*
 * test_queue.c - the spool: commit makes a message visible and whole,
 * updates are atomic, a failed write leaves nothing behind, damaged
 * envelopes are refused with the line named.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue.h"
#include "t.h"
#include "util/util.h"

static void
test_commit(const char *dir)
{
	const char		*rcpts[] = { "b@example.net", "c@example.org" };
	struct queue		*q;
	struct queue_writer	*w;
	struct queue_env	 e;
	char			 err[256] = "", id[QUEUE_ID_LEN + 1], **ids;
	char			*body;
	size_t			 n, len;

	q = queue_open(dir, 1, err, sizeof(err));
	T_CHECK(q != NULL, "open: %s", err);
	if (q == NULL)
		return;
	w = queue_writer_new(q, err, sizeof(err));
	T_CHECK(w != NULL, "writer: %s", err);
	queue_writer_add(w, "Subject: x\r\n\r\n", 14);
	queue_writer_add(w, "body\r\n", 6);
	T_CHECK(t_count_dir(dir, "msg") == 0, "visible before commit");
	T_CHECK(queue_commit(w, "a@example.org", rcpts, 2, id, err,
	    sizeof(err)) == 0, "commit: %s", err);
	T_CHECK(queue_valid_id(id), "id '%s'", id);
	T_CHECK(t_count_dir(dir, "env") == 0 && t_count_dir(dir, "msg") == 1 &&
	    t_count_dir(dir, "tmp") == 0, "layout after commit: env %zu msg %zu "
	    "tmp %zu", t_count_dir(dir, "env"), t_count_dir(dir, "msg"),
	    t_count_dir(dir, "tmp"));
	T_CHECK(queue_list(q, &ids, &n, err, sizeof(err)) == 0 && n == 1 &&
	    strcmp(ids[0], id) == 0, "list: %zu ids", n);
	queue_list_free(ids, n);

	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == 0, "load: %s",
	    err);
	T_CHECK(strcmp(e.sender, "a@example.org") == 0 && e.nrcpt == 2 &&
	    strcmp(e.rcpt[1].addr, "c@example.org") == 0 && e.size == 20 &&
	    e.rcpt[0].state == RCPT_PENDING, "envelope fields");
	/* An update: one recipient sent, one deferred with a reason. */
	e.rcpt[0].state = RCPT_SENT;
	e.rcpt[1].attempts = 3;
	e.rcpt[1].next_try = 1800000000;
	free(e.rcpt[1].last);
	e.rcpt[1].last = strdup("451 4.7.5 TLSA lookup failed\r\nx");
	T_CHECK(queue_env_store(q, &e, err, sizeof(err)) == 0, "store: %s", err);
	T_CHECK(t_count_dir(dir, "env") == 1, "the update is not in env/");
	queue_env_free(&e);
	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == 0 &&
	    e.rcpt[0].state == RCPT_SENT && e.rcpt[1].attempts == 3 &&
	    e.rcpt[1].next_try == 1800000000 &&
	    strcmp(e.rcpt[1].last, "451 4.7.5 TLSA lookup failed  x") == 0,
	    "reloaded update: '%s'", e.nrcpt > 1 ? e.rcpt[1].last : "");
	queue_env_free(&e);
	T_CHECK(queue_msg_read(q, id, &body, &len, err, sizeof(err)) == 0 &&
	    len == 20 && memcmp(body, "Subject: x\r\n\r\nbody\r\n", 20) == 0,
	    "body round trip");
	free(body);
	T_CHECK(queue_remove(q, id) == 0 && t_count_dir(dir, "env") == 0 &&
	    t_count_dir(dir, "msg") == 0, "remove");
	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == -1 &&
	    strstr(err, "no such message") != NULL, "load removed: %s", err);
	T_CHECK(queue_env_load(q, "../../etc/passwd", &e, err,
	    sizeof(err)) == -1 && strstr(err, "not a queue id") != NULL,
	    "path in id accepted");
	queue_close(q);
}

/* A queue of an older version (envelope only in env/, body without a
 * trailer) reads the same; a body without trailer or envelope is not a
 * message (a commit cut short), and a forged trailer is not believed. */
static void
test_old_layout(const char *dir)
{
	static const char *id = "00000000000000aa", *junk = "00000000000000bb";
	struct queue		*q;
	struct queue_env	 e, o;
	struct queue_rcpt	 r;
	char			 err[256] = "", path[512], *text, *body, **ids;
	size_t			 tlen, len, n;
	FILE			*fp;

	q = queue_open(dir, 1, err, sizeof(err));
	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	strlcpy_(o.id, id, sizeof(o.id));
	o.sender = (char *)"old@example.org";
	r.addr = (char *)"x@example.net";
	o.rcpt = &r;
	o.nrcpt = 1;
	o.size = 7;
	o.hops = -1;		/* older versions wrote no count */
	T_CHECK(queue_env_format(&o, &text, &tlen) == 0 &&
	    strstr(text, "hops") == NULL, "format");
	snprintf(path, sizeof(path), "%s/env/%s", dir, id);
	fp = fopen(path, "w");
	fwrite(text, 1, tlen, fp);
	fclose(fp);
	free(text);
	snprintf(path, sizeof(path), "%s/msg/%s", dir, id);
	fp = fopen(path, "w");
	fputs("hello\r\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/msg/%s", dir, junk);
	fp = fopen(path, "w");	/* a forged trailer: lengths do not add up */
	fputs("body\r\n\n#DMXENV 0000000000000000 0000000000000001\n", fp);
	fclose(fp);
	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == 0 &&
	    strcmp(e.sender, "old@example.org") == 0 && e.hops == -1,
	    "old envelope: %s", err);
	queue_env_free(&e);
	T_CHECK(queue_msg_read(q, id, &body, &len, err, sizeof(err)) == 0 &&
	    len == 7 && memcmp(body, "hello\r\n", 7) == 0, "old body");
	free(body);
	T_CHECK(queue_env_load(q, junk, &e, err, sizeof(err)) == -1 &&
	    errno == ENOENT, "a body without envelope loaded: %s", err);
	T_CHECK(queue_msg_read(q, junk, &body, &len, err, sizeof(err)) == 0 &&
	    len == 49, "a forged trailer was stripped (len %zu)", len);
	free(body);
	/* The footer's numbers are exactly 16 lowercase hex digits. */
	fp = fopen(path, "w");
	fputs("hello\r\ne\n#DMXENV 0000000000000007 0000000000000001\n", fp);
	fclose(fp);
	T_CHECK(queue_msg_read(q, junk, &body, &len, err, sizeof(err)) == 0 &&
	    len == 7, "a valid footer not stripped (len %zu)", len);
	free(body);
	fp = fopen(path, "w");
	fputs("hello\r\ne\n#DMXENV 0x00000000000007 0000000000000001\n", fp);
	fclose(fp);
	T_CHECK(queue_msg_read(q, junk, &body, &len, err, sizeof(err)) == 0 &&
	    len == 51, "a 0x footer believed (len %zu)", len);
	free(body);
	T_CHECK(queue_list(q, &ids, &n, err, sizeof(err)) == 0 && n == 2 &&
	    strcmp(ids[0], id) == 0, "list over msg/ and env/: %zu", n);
	queue_list_free(ids, n);
	T_CHECK(queue_remove(q, id) == 0 && queue_remove(q, junk) == 0 &&
	    t_count_dir(dir, "env") == 0 && t_count_dir(dir, "msg") == 0,
	    "remove old");
	T_CHECK(queue_remove(q, id) == -1 && errno == ENOENT,
	    "removing nothing succeeded");
	queue_close(q);
}

/* A write that fails (file size limit, like a full disk) loses nothing
 * already queued and leaves no trace of the new message. */
static void
test_write_failure(const char *dir)
{
	const char		*rcpts[] = { "b@example.net" };
	struct queue		*q;
	struct queue_writer	*w;
	struct rlimit		 rl, old;
	char			 err[256] = "", id[QUEUE_ID_LEN + 1], id1[32];
	char			 big[8192];
	int			 r;

	q = queue_open(dir, 1, err, sizeof(err));
	w = queue_writer_new(q, err, sizeof(err));
	queue_writer_add(w, "small\r\n", 7);
	T_CHECK(queue_commit(w, "", rcpts, 1, id1, err, sizeof(err)) == 0,
	    "first commit: %s", err);

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = 4096;
	setrlimit(RLIMIT_FSIZE, &rl);
	w = queue_writer_new(q, err, sizeof(err));
	memset(big, 'x', sizeof(big));
	r = queue_writer_add(w, big, sizeof(big));
	T_CHECK(r == -1, "oversized write succeeded");
	T_CHECK(queue_commit(w, "", rcpts, 1, id, err, sizeof(err)) == -1 &&
	    strstr(err, "queue write") != NULL, "commit after failed write: "
	    "'%s'", err);
	setrlimit(RLIMIT_FSIZE, &old);
	T_CHECK(t_count_dir(dir, "env") == 0 && t_count_dir(dir, "msg") == 1 &&
	    t_count_dir(dir, "tmp") == 0, "after failure: env %zu msg %zu tmp %zu",
	    t_count_dir(dir, "env"), t_count_dir(dir, "msg"), t_count_dir(dir, "tmp"));
	queue_remove(q, id1);
	queue_close(q);
}

static const struct {
	const char	*name, *text, *want;
} bad_env[] = {
	{ "no header", "id 0123456789abcdef\n", "line 1" },
	{ "bad id", "danemx-envelope 1\nid 0123\n", "line 2" },
	{ "bad state", "danemx-envelope 1\nid 0123456789abcdef\nsender <>\n"
	    "rcpt gone 0 0 <a@b>\n", "line 4" },
	{ "blank in addr", "danemx-envelope 1\nid 0123456789abcdef\n"
	    "sender <a b@c>\n", "line 3" },
	{ "no rcpt", "danemx-envelope 1\nid 0123456789abcdef\nsender <>\n",
	    "incomplete" },
	{ "unknown key", "danemx-envelope 1\nid 0123456789abcdef\nfoo 1\n",
	    "line 3" },
	{ "huge attempts", "danemx-envelope 1\nid 0123456789abcdef\nsender <>\n"
	    "rcpt pending 99999999999 0 <a@b>\n", "line 4" },
};

static void
test_env_parse(void)
{
	struct queue_env e;
	char		 err[128];
	size_t		 i;

	for (i = 0; i < DMX_NELEM(bad_env); i++) {
		err[0] = '\0';
		T_CHECK(queue_env_parse(bad_env[i].text, strlen(bad_env[i].text),
		    &e, err, sizeof(err)) == -1 && strstr(err,
		    bad_env[i].want) != NULL, "%s: got '%s', want '%s'",
		    bad_env[i].name, err, bad_env[i].want);
	}
}

/* junk_seen - collects what queue_maildrop_list() says is not a drop */
struct junk_seen {
	size_t	 n, moved, removed;
	char	 last[64];
};

static void
junk_cb(void *arg, const char *name, const char *what, unsigned uid,
    const char *done)
{
	struct junk_seen *j = arg;

	(void)uid;
	j->n++;
	if (strncmp(done, "moved aside", 11) == 0)
		j->moved++;
	if (strcmp(done, "removed") == 0)
		j->removed++;
	snprintf(j->last, sizeof(j->last), "%s", what);
	(void)name;
}

/*
 * maildrop junk: entries named like drops that are not regular files
 * (an empty and a full directory, a FIFO, a link) are removed or moved
 * aside, reported, and never listed as drops; the real drop is listed;
 * reading a FIFO swapped in for a drop fails at once (no hang).
 */
static void
test_maildrop_junk(const char *dir)
{
	const char	*rcpts[] = { "x@example.net" };
	struct queue	*q;
	struct queue_drop d;
	struct junk_seen j;
	char		 err[256] = "", name[64], path[512], **names;
	size_t		 n;

	q = queue_open(dir, 1, err, sizeof(err));
	T_CHECK(q != NULL, "open: %s", err);
	if (q == NULL)
		return;
	snprintf(path, sizeof(path), "%s/maildrop/m%032d", dir, 1);
	T_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
	snprintf(path, sizeof(path), "%s/maildrop/m%032d", dir, 2);
	T_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
	snprintf(path, sizeof(path), "%s/maildrop/m%032d/x", dir, 2);
	T_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
	snprintf(path, sizeof(path), "%s/maildrop/m%032d", dir, 3);
	T_CHECK(mkfifo(path, 0600) == 0, "mkfifo %s", path);
	snprintf(path, sizeof(path), "%s/maildrop/t%032d", dir, 4);
	T_CHECK(symlink("/etc/passwd", path) == 0, "symlink %s", path);
	T_CHECK(queue_maildrop_write(dir, "s@example.com", rcpts, 1, "x\r\n", 3,
	    name, sizeof(name), err, sizeof(err)) == 0, "write: %s", err);
	memset(&j, 0, sizeof(j));
	T_CHECK(queue_maildrop_list(q, &names, &n, junk_cb, &j, err,
	    sizeof(err)) == 0 && n == 1 && strcmp(names[0], name) == 0,
	    "junk listed: %zu names", n);
	if (n > 0)
		queue_list_free(names, n);
	T_CHECK(j.n == 4 && j.removed == 3 && j.moved == 1, "junk: %zu "
	    "reported, %zu removed, %zu moved aside", j.n, j.removed, j.moved);
	snprintf(path, sizeof(path), "%s/maildrop/bad-m%032d/x", dir, 2);
	T_CHECK(access(path, F_OK) == 0, "not moved aside: %s", path);
	memset(&j, 0, sizeof(j));
	T_CHECK(queue_maildrop_list(q, &names, &n, junk_cb, &j, err,
	    sizeof(err)) == 0 && n == 1 && j.n == 0, "junk again: %zu names, "
	    "%zu reported", n, j.n);
	if (n > 0)
		queue_list_free(names, n);
	/* The drop becomes a FIFO between the list and the read. */
	snprintf(path, sizeof(path), "%s/maildrop/%s", dir, name);
	unlink(path);
	T_CHECK(mkfifo(path, 0644) == 0, "mkfifo %s", path);
	T_CHECK(queue_maildrop_read(q, name, 1000, &d, err, sizeof(err)) == -1 &&
	    strstr(err, "FIFO") != NULL, "FIFO read: %s", err);
	T_CHECK(queue_maildrop_remove(q, name, err, sizeof(err)) == 0 &&
	    access(path, F_OK) == -1, "FIFO not removed: %s", err);
	/* A directory in a drop's place is moved aside, not "removed". */
	T_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
	snprintf(path, sizeof(path), "%s/maildrop/%s/x", dir, name);
	T_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
	T_CHECK(queue_maildrop_remove(q, name, err, sizeof(err)) == 0 &&
	    strncmp(err, "moved aside", 11) == 0, "directory: %s", err);
	snprintf(path, sizeof(path), "rm -rf %s/maildrop/bad-*", dir);
	T_CHECK(system(path) == 0, "cleanup");
	queue_close(q);
}

/*
 * reserve: below queue_minfree new mail is refused (queue_space(), the
 * commit, a large body as it is written); a bounce may use the reserve
 * and envelope updates always may.
 */
static void
test_reserve(const char *dir)
{
	const char		*rcpts[] = { "b@example.net" };
	static char		 big[200 * 1024];
	struct queue		*q;
	struct queue_writer	*w;
	struct queue_env	 e;
	char			 err[256] = "", id[QUEUE_ID_LEN + 1];
	size_t			 before;

	q = queue_open(dir, 1, err, sizeof(err));
	T_CHECK(q != NULL, "open: %s", err);
	if (q == NULL)
		return;
	before = t_count_dir(dir, "msg");
	T_CHECK(queue_space(q, 1000, err, sizeof(err)) == 0, "no reserve: %s",
	    err);
	queue_set_minfree(q, 1ULL << 50);	/* more than any disk */
	T_CHECK(queue_space(q, 0, err, sizeof(err)) == -1 && errno == ENOSPC &&
	    strstr(err, "less than queue_minfree") != NULL, "space: %s", err);
	w = queue_writer_new(q, err, sizeof(err));
	T_CHECK(w != NULL, "writer: %s", err);
	queue_writer_add(w, "x\r\n", 3);
	T_CHECK(queue_commit(w, "a@example.org", rcpts, 1, id, err,
	    sizeof(err)) == -1 && strstr(err, "queue_minfree") != NULL,
	    "commit below the reserve: %s", err);
	T_CHECK(t_count_dir(dir, "msg") == before && t_count_dir(dir, "tmp") ==
	    0, "leftovers below the reserve");
	memset(big, 'x', sizeof(big));
	w = queue_writer_new(q, err, sizeof(err));
	T_CHECK(w != NULL && queue_writer_add(w, big, sizeof(big)) == -1 &&
	    errno == ENOSPC, "a large body written below the reserve");
	queue_writer_abort(w);
	w = queue_writer_new(q, err, sizeof(err));
	T_CHECK(w != NULL, "writer: %s", err);
	queue_writer_use_reserve(w);
	queue_writer_add(w, big, sizeof(big));
	T_CHECK(queue_commit(w, "", rcpts, 1, id, err, sizeof(err)) == 0,
	    "a bounce below the reserve: %s", err);
	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == 0, "load: %s",
	    err);
	e.rcpt[0].state = RCPT_SENT;
	T_CHECK(queue_env_store(q, &e, err, sizeof(err)) == 0,
	    "an update below the reserve: %s", err);
	queue_env_free(&e);
	queue_remove(q, id);
	queue_set_minfree(q, 0);
	queue_close(q);
}

/*
 * owned layout (root only): queue_open_owned() makes the layout, then
 * refuses a queue directory that is not root's, a subdirectory that is
 * a link or another user's, with the fix in the message; a link it
 * refused is not followed (its target keeps its owner and mode).
 */
static void
test_owned(const char *top)
{
	char		 dir[512], victim[512], path[600], err[1024];
	struct queue	*q;
	struct stat	 st;
	uid_t		 uid = 65534;

	if (geteuid() != 0) {
		printf("test_queue: owned layout skipped (needs root)\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/owned", top);
	snprintf(victim, sizeof(victim), "%s/victim", top);
	T_CHECK(chmod(top, 0711) == 0, "chmod %s", top);
	q = queue_open_owned(dir, uid, uid, "nobody", err, sizeof(err));
	T_CHECK(q != NULL, "owned: %s", err);
	queue_close(q);
	T_CHECK(stat(dir, &st) == 0 && st.st_uid == 0 &&
	    (st.st_mode & 07777) == 0711, "queue dir: uid %u mode %o",
	    (unsigned)st.st_uid, (unsigned)st.st_mode);
	snprintf(path, sizeof(path), "%s/msg", dir);
	T_CHECK(stat(path, &st) == 0 && st.st_uid == uid &&
	    (st.st_mode & 07777) == 0700, "msg: uid %u mode %o",
	    (unsigned)st.st_uid, (unsigned)st.st_mode);
	snprintf(path, sizeof(path), "%s/maildrop", dir);
	T_CHECK(stat(path, &st) == 0 && st.st_uid == uid &&
	    (st.st_mode & 07777) == 01733, "maildrop: uid %u mode %o",
	    (unsigned)st.st_uid, (unsigned)st.st_mode);

	/* tmp/ replaced by a link to a directory of root's */
	T_CHECK(mkdir(victim, 0755) == 0, "mkdir victim");
	snprintf(path, sizeof(path), "%s/tmp", dir);
	T_CHECK(rmdir(path) == 0 && symlink(victim, path) == 0, "link tmp");
	q = queue_open_owned(dir, uid, uid, "nobody", err, sizeof(err));
	T_CHECK(q == NULL && strstr(err, "/tmp: ") != NULL &&
	    strstr(err, "remove it") != NULL, "link tmp: %s", err);
	queue_close(q);
	T_CHECK(stat(victim, &st) == 0 && st.st_uid == 0 &&
	    (st.st_mode & 07777) == 0755, "victim changed: uid %u mode %o",
	    (unsigned)st.st_uid, (unsigned)st.st_mode);
	T_CHECK(unlink(path) == 0, "unlink tmp");

	/* msg/ of another user */
	snprintf(path, sizeof(path), "%s/msg", dir);
	T_CHECK(chown(path, 0, 0) == 0, "chown msg");
	q = queue_open_owned(dir, uid, uid, "nobody", err, sizeof(err));
	T_CHECK(q == NULL && strstr(err, "chown -R nobody:") != NULL,
	    "msg of root: %s", err);
	queue_close(q);
	T_CHECK(chown(path, uid, uid) == 0, "chown msg back");

	/* the queue directory of the relay's user (the old layout) */
	T_CHECK(chown(dir, uid, uid) == 0, "chown dir");
	q = queue_open_owned(dir, uid, uid, "nobody", err, sizeof(err));
	T_CHECK(q == NULL && strstr(err, "chown root:root") != NULL,
	    "dir of the relay's user: %s", err);
	queue_close(q);
	T_CHECK(chown(dir, 0, 0) == 0, "chown dir back");
	q = queue_open_owned(dir, uid, uid, "nobody", err, sizeof(err));
	T_CHECK(q != NULL, "fixed: %s", err);
	queue_close(q);

	/* a parent directory others may write */
	T_CHECK(chmod(top, 0777) == 0, "chmod top");
	q = queue_open_owned(dir, uid, uid, "nobody", err, sizeof(err));
	T_CHECK(q == NULL && strstr(err, "writable by nobody else") != NULL,
	    "untrusted parent: %s", err);
	queue_close(q);
	T_CHECK(chmod(top, 0700) == 0, "chmod top back");
}

/* maildrop: a drop round-trips; hostile drop files are refused */
static void
test_maildrop(const char *dir)
{
	const char	*rcpts[] = { "x@example.net", "y@example.org" };
	const char	*bad_rcpts[] = { "evil>\nR inject@example.com" };
	static const char *hostile[] = {
		"",
		"DANEMX-DROP 1\n",
		"DANEMX-DROP 1\nS a@b\n\nbody",		/* no recipient */
		"DANEMX-DROP 1\nR a@b\n\nbody",		/* no sender */
		"DANEMX-DROP 1\nS a@b\nS c@d\nR e@f\n\n",	/* two senders */
		"DANEMX-DROP 1\nS a@b\nR e f\n\n",		/* space */
		"DANEMX-DROP 1\nS a@b\nR <e@f>\n\n",		/* brackets */
		"DANEMX-DROP 1\nS a@b\nR \n\n",			/* empty rcpt */
		"DANEMX-DROP 1\nS a@b\nX e@f\n\n",		/* bad line */
		"DANEMX-DROP 1\nS a@b\nR e@f\n",		/* no end */
		"DANEMX-DROP 2\nS a@b\nR e@f\n\n",		/* version */
	};
	struct queue		*q;
	struct queue_drop	 d;
	char			 err[256] = "", name[64], **names, *copy;
	size_t			 n, i, refused = 0;

	q = queue_open(dir, 1, err, sizeof(err));
	T_CHECK(q != NULL, "open: %s", err);
	if (q == NULL)
		return;
	T_CHECK(queue_maildrop_write(dir, "s@example.com", rcpts, 2,
	    "Subject: hi\r\n\r\nbody\r\n", 21, name, sizeof(name), err,
	    sizeof(err)) == 0 && name[0] == 'm', "write: %s", err);
	T_CHECK(queue_maildrop_list(q, &names, &n, NULL, NULL, err,
	    sizeof(err)) == 0 && n == 1 && strcmp(names[0], name) == 0,
	    "list: %zu drops", n);
	if (n == 1)
		queue_list_free(names, n);
	T_CHECK(queue_maildrop_read(q, name, 1000, &d, err, sizeof(err)) == 0,
	    "read: %s", err);
	T_CHECK(d.sender != NULL && strcmp(d.sender, "s@example.com") == 0 &&
	    d.nrcpt == 2 && strcmp(d.rcpts[1], "y@example.org") == 0 &&
	    d.msglen == 21 && memcmp(d.msg, "Subject: hi\r\n", 13) == 0 &&
	    d.uid == (unsigned)geteuid(), "read back wrong");
	queue_drop_free(&d);
	T_CHECK(queue_maildrop_read(q, name, 10, &d, err, sizeof(err)) == -1,
	    "a drop over the size limit was read");
	T_CHECK(queue_maildrop_remove(q, name, NULL, 0) == 0 && t_count_dir(dir,
	    "maildrop") == 0, "remove left %zu", t_count_dir(dir, "maildrop"));
	T_CHECK(queue_maildrop_write(dir, "s@example.com", bad_rcpts, 1, "x", 1,
	    name, sizeof(name), err, sizeof(err)) == -1 &&
	    t_count_dir(dir, "maildrop") == 0, "an injected recipient written");
	for (i = 0; i < DMX_NELEM(hostile); i++) {
		copy = strdup(hostile[i]);
		if (queue_drop_parse(copy, strlen(copy), &d, err,
		    sizeof(err)) == -1) {
			refused++;
			free(copy);
		} else
			queue_drop_free(&d);
	}
	T_CHECK(refused == DMX_NELEM(hostile), "hostile drops: %zu of %zu "
	    "refused", refused, DMX_NELEM(hostile));
	queue_close(q);
}

/*
 * test_hops - the writer counts Received: headers into the envelope; an
 * envelope without the count (older versions) is counted from the body
 * alone, never from the trailer.
 */
static void
test_hops(const char *dir)
{
	static const char	 msg[] = "Received: from a\r\n\tby b\r\n"
	    "received : c\r\nSubject: x\r\n\r\nReceived: not a header\r\n";
	const char		*rcpts[] = { "b@example.net" };
	struct queue		*q;
	struct queue_writer	*w;
	struct queue_env	 e;
	char			 err[256] = "", id[QUEUE_ID_LEN + 1];
	unsigned		 hops = 99;

	q = queue_open(dir, 1, err, sizeof(err));
	w = queue_writer_new(q, err, sizeof(err));
	queue_writer_add(w, msg, 20);
	queue_writer_add(w, msg + 20, sizeof(msg) - 21);
	T_CHECK(queue_writer_hops(w) == 2, "writer hops %u",
	    queue_writer_hops(w));
	T_CHECK(queue_commit(w, "a@example.org", rcpts, 1, id, err,
	    sizeof(err)) == 0, "commit: %s", err);
	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == 0 &&
	    e.hops == 2, "envelope hops %d", e.hops);
	e.hops = -1;		/* as an older danemx would store it */
	T_CHECK(queue_env_store(q, &e, err, sizeof(err)) == 0, "store");
	queue_env_free(&e);
	T_CHECK(queue_env_load(q, id, &e, err, sizeof(err)) == 0 &&
	    e.hops == -1, "stored without hops: %d", e.hops);
	queue_env_free(&e);
	T_CHECK(queue_msg_hops(q, id, &hops, err, sizeof(err)) == 0 &&
	    hops == 2, "counted from the body: %u (%s)", hops, err);
	queue_remove(q, id);
	/* A body that is all header: the trailer is not read as more. */
	w = queue_writer_new(q, err, sizeof(err));
	queue_writer_add(w, "Received: a\r\nReceived: b\r\n", 26);
	T_CHECK(queue_commit(w, "a@example.org", rcpts, 1, id, err,
	    sizeof(err)) == 0, "commit: %s", err);
	T_CHECK(queue_msg_hops(q, id, &hops, err, sizeof(err)) == 0 &&
	    hops == 2, "header only: %u", hops);
	queue_remove(q, id);
	T_CHECK(queue_msg_hops(q, id, &hops, err, sizeof(err)) == -1 &&
	    errno == ENOENT, "gone: %s", err);
	queue_close(q);
}

int
main(void)
{
	char	 dir[] = "/tmp/danemx-test-queue.XXXXXX";
	char	 cmd[128];

	if (mkdtemp(dir) == NULL)
		return 2;
	test_commit(dir);
	test_write_failure(dir);
	test_env_parse();
	test_old_layout(dir);
	test_maildrop(dir);
	test_hops(dir);
	test_maildrop_junk(dir);
	test_reserve(dir);
	test_owned(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_done("test_queue");
}
