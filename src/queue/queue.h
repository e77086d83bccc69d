/*
 * queue.h - the durable on-disk queue: spool files, write-fsync-rename.
 *
 * Layout under the queue directory (docs/queue.md defends it):
 *	tmp/	files being written; anything here after a crash is junk
 *	msg/ID	the message as it will be sent (CRLF line endings),
 *		followed by its envelope as committed (a trailer)
 *	env/ID	its envelope once a delivery attempt changed it: sender,
 *		recipients and their states; it overrides the trailer
 *	maildrop/  drops from users who cannot write the rest
 * The directory is root's and writable by root alone (0711); tmp/, msg/
 * and env/ (0700) and maildrop/ (1733) are the relay's user's. Root
 * checks and makes that layout with queue_open_owned() and touches
 * nothing in it by name; the relay's user, and danemx sendmail and
 * queue run by root (they become that user first), do the rest.
 * A message exists once msg/ID exists: it is written whole in tmp/,
 * fsync'ed, renamed into msg/, and msg/ is fsync'ed. queue_commit()
 * returns after that, so a 250 (or sendmail's exit 0) given after it
 * survives a crash or power loss. Envelope updates are whole-file
 * rewrites of env/ID through tmp/. (Queues of older versions, with the
 * envelope only in env/ID and no trailer, are read the same way.)
 *
 * The queue never opens a socket. Its functions run on the caller's
 * thread; queue_commit() is also safe on a worker thread beside the
 * others: queue_workers.c runs it on a small pool of threads for the
 * relay and hands the result back to the event loop.
 * Below the free-space reserve (queue_set_minfree()) a writer fails as
 * on a full disk, unless it may use the reserve (a bounce); envelope
 * updates always may.
 * A struct queue owns its paths; a struct queue_env owns its strings
 * (queue_env_free()).
 */
#ifndef DANEMX_QUEUE_H
#define DANEMX_QUEUE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define QUEUE_ID_LEN	16		/* hex digits */
#define QUEUE_ADDR_MAX	512
#define QUEUE_RCPT_MAX	1000

enum rcpt_state {
	RCPT_PENDING,		/* not yet delivered; may have been deferred */
	RCPT_SENT,		/* accepted by the next hop */
	RCPT_FAILED		/* permanently failed; a DSN is due or sent */
};

struct queue_rcpt {
	char		*addr;
	enum rcpt_state	 state;
	unsigned	 attempts;
	time_t		 next_try;	/* 0: as soon as possible */
	char		*last;		/* last result, for logs and DSNs */
};

struct queue_env {
	char		 id[QUEUE_ID_LEN + 1];
	char		*sender;	/* "" for the null sender */
	time_t		 created;
	int		 held;
	int		 dsn_sent;
	size_t		 size;		/* message octets */
	int		 hops;		/* Received: headers; -1: not
					   recorded (queued by an older
					   danemx): queue_msg_hops() */
	int		 tls_required_no; /* RFC 8689 "TLS-Required: No",
					   from a sender allowed to ask
					   (queue_writer_honour_tls()) */
	struct queue_rcpt *rcpt;
	size_t		 nrcpt;
};

struct queue;
struct queue_writer;

/* The header section as a message's octets go by (queue_hops.c): its
 * Received: headers, and its TLS-Required: field (RFC 8689). */
#define QUEUE_HOPS_MAX	1000000
struct queue_hops {
	int		 st;		/* where in the header (queue_hops.c) */
	unsigned	 k;		/* octets of the field name so far */
	int		 match;		/* ... names they may still be */
	unsigned	 n;		/* Received: fields so far */
	unsigned	 ntls;		/* TLS-Required: fields (at most 2) */
	int		 v;		/* ... the value of the last so far */
	int		 tls_no;	/* ... it was "No" */
};

/* queue.c - the layout */
struct queue *queue_open(const char *dir, int create, char *err, size_t errlen);
struct queue *queue_open_owned(const char *dir, uid_t uid, gid_t gid,
	    const char *user, char *err, size_t errlen);
void	 queue_sweep(struct queue *);
void	 queue_close(struct queue *);
const char *queue_dir(const struct queue *);
int	 queue_valid_id(const char *);

/* queue_space.c - the free-space reserve (queue_minfree) */
void	 queue_set_minfree(struct queue *, unsigned long long bytes);
int	 queue_space(struct queue *, unsigned long long need, char *err,
	    size_t errlen);
int	 queue_space_dir(const char *dir, unsigned long long minfree,
	    unsigned long long need, char *err, size_t errlen);
int	 queue_space_ok(struct queue *, unsigned long long size,
	    const char *who);

/* queue_write.c - messages in, envelope updates */
struct queue_writer *queue_writer_new(struct queue *, char *err,
	    size_t errlen);
void	 queue_writer_use_reserve(struct queue_writer *);
int	 queue_writer_add(struct queue_writer *, const void *, size_t);
const char *queue_writer_id(const struct queue_writer *);
unsigned queue_writer_hops(const struct queue_writer *);
void	 queue_writer_honour_tls(struct queue_writer *);
int	 queue_writer_tls_required_no(const struct queue_writer *);
int	 queue_commit(struct queue_writer *, const char *sender,
	    const char * const *rcpts, size_t nrcpt, char id[QUEUE_ID_LEN + 1],
	    char *err, size_t errlen);
void	 queue_writer_abort(struct queue_writer *);
int	 queue_env_store(struct queue *, const struct queue_env *, char *err,
	    size_t errlen);

/* queue_read.c - envelopes, bodies, the list, removal */
int	 queue_env_load(struct queue *, const char *id, struct queue_env *,
	    char *err, size_t errlen);
int	 queue_remove(struct queue *, const char *id);
char	*queue_msg_path(struct queue *, const char *id);
int	 queue_msg_exists(struct queue *, const char *id);
int	 queue_msg_stat(struct queue *, const char *id, unsigned *uid,
	    unsigned *mode);
int	 queue_msg_hops(struct queue *, const char *id, unsigned *hops,
	    char *err, size_t errlen);
int	 queue_msg_open(struct queue *, const char *id, size_t *len,
	    char *err, size_t errlen);
int	 queue_msg_read(struct queue *, const char *id, char **data,
	    size_t *len, char *err, size_t errlen);
int	 queue_list(struct queue *, char ***ids, size_t *n, char *err,
	    size_t errlen);
void	 queue_list_free(char **ids, size_t n);

/*
 * queue_workers.c - queue_commit() off the event loop, on a few worker
 * threads; each job's callback runs on the loop thread.
 *
 * A submitted job owns the queue writer and copies of the sender and
 * recipients. queue_job_cancel() only forgets the callback: the commit
 * itself always runs to its end, so a message its submitter no longer
 * waits for may still be queued (the orphan hook hears of it).
 */
struct event_base;
struct queue_workers;
struct queue_job;
/*
 * done - the result, on the loop thread: ok 1 with the queue id, or ok 0
 * with err (nothing of the message is left on disk). id and err live only
 * for the call.
 */
typedef void	(*queue_job_done_cb)(void *arg, int ok, const char *id,
		    const char *err);
/* orphan - a cancelled job's message was queued all the same */
typedef void	(*queue_job_orphan_cb)(void *arg, const char *id);
struct queue_workers *queue_workers_new(struct event_base *, struct queue *,
	    char *err, size_t errlen);
struct queue_workers *queue_workers_new_threads(struct event_base *,
	    struct queue *, size_t nthreads, char *err, size_t errlen);
void	 queue_workers_set_orphan(struct queue_workers *, queue_job_orphan_cb,
	    void *);
struct queue_job *queue_workers_submit(struct queue_workers *,
	    struct queue_writer *, const char *sender,
	    const char * const *rcpts, size_t nrcpt, queue_job_done_cb,
	    void *arg);
void	 queue_job_cancel(struct queue_job *);
void	 queue_workers_wait(struct queue_workers *);
void	 queue_workers_free(struct queue_workers *);

/* maildrop.c - drops from users who cannot write the queue */
struct queue_drop {
	char		*sender;
	char		**rcpts;
	size_t		 nrcpt;
	const char	*msg;		/* into data */
	size_t		 msglen;
	unsigned	 uid;		/* the file's owner */
	char		*data;		/* owned */
};
int	 queue_maildrop_write(const char *qdir, const char *sender,
	    const char * const *rcpts, size_t nrcpt, const char *msg,
	    size_t len, char *name, size_t namelen, char *err, size_t errlen);
int	 queue_drop_parse(char *data, size_t len, struct queue_drop *,
	    char *err, size_t errlen);
void	 queue_drop_free(struct queue_drop *);
/* junk - an entry named like a drop that is not one, and what was done */
typedef void	(*queue_junk_cb)(void *arg, const char *name, const char *what,
		    unsigned uid, const char *done);
int	 queue_maildrop_list(struct queue *, char ***names, size_t *n,
	    queue_junk_cb junk, void *arg, char *err, size_t errlen);
int	 queue_maildrop_read(struct queue *, const char *name, size_t max,
	    struct queue_drop *, char *err, size_t errlen);
int	 queue_maildrop_remove(struct queue *, const char *name, char *done,
	    size_t donelen);

/* queue_hops.c - the header section: Received: headers, for
 * hopcount_limit, and TLS-Required: No (RFC 8689) */
void	 queue_hops_init(struct queue_hops *);
void	 queue_hops_add(struct queue_hops *, const void *, size_t);
int	 queue_hops_done(const struct queue_hops *);
int	 queue_hops_tls_required_no(const struct queue_hops *);

/* queue_env.c - the envelope file format */
int	 queue_env_parse(const char *text, size_t len, struct queue_env *,
	    char *err, size_t errlen);
int	 queue_env_format(const struct queue_env *, char **out, size_t *len);
void	 queue_env_free(struct queue_env *);
const char *queue_rcpt_state_str(enum rcpt_state);

#endif /* DANEMX_QUEUE_H */
