/*
 * destmem_alert.c - downgrade_command: the operator's alert, run for
 * each downgrade without a shell, with the details in its environment,
 * as the relay's (unprivileged) user, and never waited for on the event
 * loop.
 *
 * The command is an absolute path and arguments separated by blanks (no
 * quoting, no shell). It gets an environment of its own (the caller's
 * DANEMX_* variables and a PATH, nothing of the relay's), stdin, stdout
 * and stderr on /dev/null, no other descriptor (closefrom, glibc 2.34),
 * and a process group of its own. At most
 * DESTMEM_ALERTS_MAX run at once; up to DESTMEM_ALERTQ_MAX more wait
 * their turn, past that an alert is dropped (and logged: the warning
 * line is the alert of record). A timer polls the running ones
 * (waitpid, WNOHANG); one that outlives its timeout is killed with its
 * group. How each ended is logged.
 *
 * Ownership: the runner owns its queued alerts (copies of the command
 * and the environment); destmem_alerts_free() frees them and leaves
 * running commands to finish on their own.
 */
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "destmem/destmem.h"
#include "log/log.h"
#include "util/util.h"

#define ALERT_ARGS_MAX	32
#define ALERT_ENV_MAX	16
#define ALERT_POLL_MS	100

struct alert {
	TAILQ_ENTRY(alert)	 entry;
	char			*command;		/* owned */
	char			*env[ALERT_ENV_MAX + 1];	/* owned */
	unsigned		 timeout;
	pid_t			 pid;			/* running: > 0 */
	struct timespec		 deadline;
};
TAILQ_HEAD(alertq, alert);

struct destmem_alerts {
	struct event_base	*base;
	struct event		*poll_ev;
	struct alertq		 waiting, running;
	size_t			 nwaiting, nrunning;
};

static void
alert_free(struct alert *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	free(a->command);
	for (i = 0; a->env[i] != NULL; i++)
		free(a->env[i]);
	free(a);
}

static void	poll_cb(evutil_socket_t, short, void *);

/* destmem_alerts_new - a runner on base; NULL when out of memory */
struct destmem_alerts *
destmem_alerts_new(struct event_base *base)
{
	struct destmem_alerts	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->base = base;
	TAILQ_INIT(&r->waiting);
	TAILQ_INIT(&r->running);
	if ((r->poll_ev = evtimer_new(base, poll_cb, r)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* destmem_alerts_free - free the runner; running commands go on alone */
void
destmem_alerts_free(struct destmem_alerts *r)
{
	struct alert	*a;

	if (r == NULL)
		return;
	while ((a = TAILQ_FIRST(&r->waiting)) != NULL) {
		TAILQ_REMOVE(&r->waiting, a, entry);
		alert_free(a);
	}
	while ((a = TAILQ_FIRST(&r->running)) != NULL) {
		TAILQ_REMOVE(&r->running, a, entry);
		alert_free(a);
	}
	event_free(r->poll_ev);
	free(r);
}

/* spawn - start a: 0, or -1 (logged) */
static int
spawn(struct alert *a)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, def;
	char				*argv[ALERT_ARGS_MAX + 1], *cmd, *p;
	size_t				 n = 0;
	int				 rc;

	if ((cmd = strdup(a->command)) == NULL)
		return -1;
	for (p = strtok(cmd, " \t"); p != NULL && n < ALERT_ARGS_MAX;
	    p = strtok(NULL, " \t"))
		argv[n++] = p;
	argv[n] = NULL;
	if (n == 0) {
		free(cmd);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && \
    __GLIBC_MINOR__ >= 34))
	/* Nothing of the relay's: sockets, the queue, the store. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&a->pid, argv[0], &fa, &at, argv, a->env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		log_warnx("downgrade_command %s: cannot run it: %s", argv[0],
		    strerror(rc));
		free(cmd);
		a->pid = 0;
		return -1;
	}
	free(cmd);
	clock_gettime(CLOCK_MONOTONIC, &a->deadline);
	a->deadline.tv_sec += a->timeout;
	return 0;
}

/* start_waiting - start what waits, as far as there is room */
static void
start_waiting(struct destmem_alerts *r)
{
	struct timeval	 tv = { 0, ALERT_POLL_MS * 1000 };
	struct alert	*a;

	while (r->nrunning < DESTMEM_ALERTS_MAX &&
	    (a = TAILQ_FIRST(&r->waiting)) != NULL) {
		TAILQ_REMOVE(&r->waiting, a, entry);
		r->nwaiting--;
		if (spawn(a) == -1) {
			alert_free(a);
			continue;
		}
		TAILQ_INSERT_TAIL(&r->running, a, entry);
		r->nrunning++;
	}
	if (r->nrunning > 0 && !evtimer_pending(r->poll_ev, NULL))
		evtimer_add(r->poll_ev, &tv);
}

/* poll_cb - reap what ended, kill what ran too long */
static void
poll_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct destmem_alerts	*r = arg;
	struct alert		*a, *next;
	struct timespec		 now;
	pid_t			 pid;
	int			 status;

	(void)fd;
	(void)ev;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (a = TAILQ_FIRST(&r->running); a != NULL; a = next) {
		next = TAILQ_NEXT(a, entry);
		pid = waitpid(a->pid, &status, WNOHANG);
		if (pid == 0) {
			if (now.tv_sec > a->deadline.tv_sec ||
			    (now.tv_sec == a->deadline.tv_sec &&
			    now.tv_nsec >= a->deadline.tv_nsec)) {
				log_warnx("downgrade_command (pid %ld) still "
				    "runs after %us: killed", (long)a->pid,
				    a->timeout);
				kill(-a->pid, SIGKILL);
				kill(a->pid, SIGKILL);
				a->deadline.tv_sec += 3600;	/* once */
			}
			continue;
		}
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid == -1)
			log_warnx("downgrade_command (pid %ld): %s",
			    (long)a->pid, strerror(errno));
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("downgrade_command (pid %ld) done",
			    (long)a->pid);
		else if (WIFEXITED(status))
			log_warnx("downgrade_command (pid %ld) failed: exit "
			    "status %d", (long)a->pid, WEXITSTATUS(status));
		else
			log_warnx("downgrade_command (pid %ld) ended by "
			    "signal %d", (long)a->pid, WIFSIGNALED(status) ?
			    WTERMSIG(status) : 0);
		TAILQ_REMOVE(&r->running, a, entry);
		r->nrunning--;
		alert_free(a);
	}
	start_waiting(r);
}

/*
 * destmem_alert_run - run command (see the top) with env (NULL-ended,
 * copied) and a timeout in seconds (0: 30). 0 started or waiting, -1
 * dropped (logged).
 */
int
destmem_alert_run(struct destmem_alerts *r, const char *command,
    unsigned timeout, char *const env[])
{
	struct alert	*a;
	size_t		 i;

	if (r->nwaiting >= DESTMEM_ALERTQ_MAX) {
		log_warnx("downgrade_command: %d alerts wait already; this "
		    "one is dropped (the warning above is its record)",
		    DESTMEM_ALERTQ_MAX);
		return -1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->command = strdup(command)) == NULL)
		goto nomem;
	for (i = 0; env[i] != NULL && i < ALERT_ENV_MAX; i++)
		if ((a->env[i] = strdup(env[i])) == NULL)
			goto nomem;
	a->timeout = timeout ? timeout : 30;
	TAILQ_INSERT_TAIL(&r->waiting, a, entry);
	r->nwaiting++;
	start_waiting(r);
	return 0;
nomem:
	log_warnx("downgrade_command: out of memory; alert dropped");
	alert_free(a);
	return -1;
}
