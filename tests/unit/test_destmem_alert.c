/*
 * test_destmem_alert.c - downgrade_command's runner: a command runs with
 * exactly the environment it is given and its arguments split on blanks;
 * one that outlives its timeout is killed with its process group (a
 * child it started too) and reaped; one that cannot run is refused
 * without harm; the event loop is never blocked (the loop's own timer
 * fires on time while a command sleeps).
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "destmem/destmem.h"
#include "log/log.h"
#include "t.h"

static char	 dir[256];

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopexit(arg, NULL);
}

static int	 ticks;

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	 tv = { 0, 100000 };

	(void)fd;
	(void)ev;
	ticks++;
	evtimer_add(arg, &tv);
}

/* run_for - the loop for ms milliseconds */
static void
run_for(struct event_base *base, long ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event	*ev = evtimer_new(base, stop_cb, base);

	evtimer_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
}

static void
write_file(const char *name, const char *text, int mode)
{
	char	 path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL)
		return;
	fputs(text, fp);
	fclose(fp);
	chmod(path, (mode_t)mode);
}

static char *
read_file(const char *name)
{
	static char	 buf[4096];
	char		 path[512];
	FILE		*fp;
	size_t		 n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* gone - pid has ended (no process, or a zombie nobody reaps here) */
static int
gone(long pid)
{
	char	 path[64], *st;

	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	{
		FILE	*fp = fopen(path, "r");
		char	 line[512] = "";

		if (fp == NULL)
			return 1;
		if (fgets(line, sizeof(line), fp) == NULL)
			line[0] = '\0';
		fclose(fp);
		st = strrchr(line, ')');
		return st != NULL && st[1] == ' ' && st[2] == 'Z';
	}
}

int
main(void)
{
	struct event_base	*base;
	struct destmem_alerts	*r;
	struct event		*tick;
	struct timeval		 tv = { 0, 100000 };
	char			 cmd[600], script[1024], e1[600];
	char			*env[] = { e1, (char *)"DANEMX_DOMAIN=a.example",
	    NULL };
	const char		*tmp = getenv("TMPDIR");
	long			 shpid = 0, sleeppid = 0;
	char			*got;

	log_init("test_destmem_alert", 0, 0);
	snprintf(dir, sizeof(dir), "%s/danemx-test_destmem_alert.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || (base = event_base_new()) == NULL ||
	    (r = destmem_alerts_new(base)) == NULL) {
		perror("setup");
		return 1;
	}
	snprintf(e1, sizeof(e1), "DANEMX_WHAT=DANE lost: mx.a.example: no TLSA");

	/* 1. The environment, exactly, and the arguments. */
	snprintf(script, sizeof(script), "#!/bin/sh\n{ env | sort; echo \"args=$*\"; }"
	    " >\"%s/env.tmp\"\nmv \"%s/env.tmp\" \"%s/env\"\n", dir, dir, dir);
	write_file("env.sh", script, 0755);
	snprintf(cmd, sizeof(cmd), "%s/env.sh  one\ttwo", dir);
	T_CHECK(destmem_alert_run(r, cmd, 5, env) == 0, "run env.sh");
	run_for(base, 1500);
	got = read_file("env");
	T_CHECK(strstr(got, "DANEMX_DOMAIN=a.example\n") != NULL &&
	    strstr(got, "DANEMX_WHAT=DANE lost: mx.a.example: no TLSA\n") !=
	    NULL && strstr(got, "args=one two\n") != NULL &&
	    strstr(got, "HOME=") == NULL && strstr(got, "TMPDIR=") == NULL,
	    "environment and arguments: '%s'", got);

	/* 2. A command that outlives its timeout: killed with its group,
	 * while the loop goes on. */
	snprintf(script, sizeof(script), "#!/bin/sh\nsleep 60 &\necho \"$$ $!\" "
	    ">\"%s/pids\"\nwait\n", dir);
	write_file("slow.sh", script, 0755);
	snprintf(cmd, sizeof(cmd), "%s/slow.sh", dir);
	tick = evtimer_new(base, tick_cb, NULL);
	event_assign(tick, base, -1, 0, tick_cb, tick);
	evtimer_add(tick, &tv);
	T_CHECK(destmem_alert_run(r, cmd, 1, env) == 0, "run slow.sh");
	run_for(base, 2000);
	evtimer_del(tick);
	event_free(tick);
	if (sscanf(read_file("pids"), "%ld %ld", &shpid, &sleeppid) != 2)
		T_CHECK(0, "slow.sh did not say its pids");
	T_CHECK(gone(shpid), "the command (pid %ld) was killed", shpid);
	T_CHECK(gone(sleeppid), "its child (pid %ld) was killed with its group",
	    sleeppid);
	T_CHECK(ticks >= 15, "the loop went on meanwhile: %d ticks of 100 ms",
	    ticks);

	/* 3. A command that cannot run: refused, no harm. */
	snprintf(cmd, sizeof(cmd), "%s/no-such-command", dir);
	T_CHECK(destmem_alert_run(r, cmd, 1, env) == 0, "queued");
	run_for(base, 300);

	destmem_alerts_free(r);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return t_done("test_destmem_alert");
}
