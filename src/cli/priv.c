/*
 * priv.c - who the relay runs as, and the pid file that says it runs.
 *
 * cli_relay_user() looks up the configured user; cli_priv_drop() makes
 * the process that user for good (groups, gid, uid, as Postfix's
 * set_ugid does). danemx serve drops after binding; danemx sendmail and
 * danemx queue run by root drop before they touch the queue, as
 * Postfix's postdrop and postqueue do, so that every file in the queue
 * is the relay's and root never acts on a name its user controls.
 *
 * The pid file is root's (written before the drop, in a directory only
 * root can change) and locked with fcntl() by the relay for as long as
 * it runs: the kernel drops the lock when the relay exits, however it
 * exits, so a pid file nobody holds is stale whatever it says.
 * cli_pidfile_owner() asks the kernel who holds the lock, and nothing
 * signals a pid that is not a live relay's. The relay empties the file
 * when it stops (it may no longer unlink it) and root removes it.
 *
 * Nothing here allocates; a pid file descriptor is the caller's.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "util/util.h"

/*
 * cli_relay_user - the relay's user from conf: drop is set when this
 * process is root and must become it (an empty user or root: no drop).
 * -1 with err when root must become a user that does not exist.
 */
int
cli_relay_user(const struct dmx_conf *conf, struct relay_user *ru, char *err,
    size_t errlen)
{
	struct passwd	*pw;

	memset(ru, 0, sizeof(*ru));
	if (conf->user == NULL || conf->user[0] == '\0' ||
	    strcmp(conf->user, "root") == 0)
		return 0;
	strlcpy_(ru->name, conf->user, sizeof(ru->name));
	errno = 0;
	if ((pw = getpwnam(conf->user)) == NULL) {
		if (geteuid() != 0)
			return 0;	/* nothing to become: no drop */
		snprintf(err, errlen, "the relay's user '%s' does not exist: "
		    "create it (useradd --system --user-group --home-dir "
		    "/nonexistent --shell /usr/sbin/nologin %s) or set user in "
		    "danemx.conf", conf->user, conf->user);
		return -1;
	}
	ru->uid = pw->pw_uid;
	ru->gid = pw->pw_gid;
	ru->drop = geteuid() == 0 && pw->pw_uid != 0;
	return 0;
}

/* cli_priv_drop - become the relay's user for good; -1 with err */
int
cli_priv_drop(const struct relay_user *ru, char *err, size_t errlen)
{
	if (!ru->drop)
		return 0;
	if (setgroups(1, &ru->gid) == -1 || setgid(ru->gid) == -1 ||
	    setuid(ru->uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", ru->name,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1 || getuid() != ru->uid || geteuid() != ru->uid ||
	    getgid() != ru->gid || getegid() != ru->gid) {
		snprintf(err, errlen, "privileges could not be dropped to %s",
		    ru->name);
		return -1;
	}
	return 0;
}

/* holder - who holds a write lock on fd's file: 0 nobody, -1 error */
static pid_t
holder(int fd)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1)
		return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	/* A read lock is nobody's claim to be the relay. */
	return fl.l_type == F_WRLCK && fl.l_pid > 0 ? fl.l_pid : 0;
}

/* read_pid - the number in fd's file, or 0 */
static long
read_pid(int fd)
{
	char	 b[32], *end;
	ssize_t	 n;
	long	 pid;

	if ((n = pread(fd, b, sizeof(b) - 1, 0)) <= 0)
		return 0;
	b[n] = '\0';
	pid = strtol(b, &end, 10);
	return end != b && (*end == '\n' || *end == '\0') && pid > 1 ? pid : 0;
}

/*
 * cli_pidfile_owner - the pid of the relay running with pid file path:
 * the process that holds its lock, if the file names it too. 0 when no
 * relay runs (no file, or a stale one: nobody holds the lock); why
 * says so. Never a pid read from the file alone.
 */
pid_t
cli_pidfile_owner(const char *path, char *why, size_t whylen)
{
	struct stat	 st;
	pid_t		 pid;
	long		 named;
	int		 fd;

	snprintf(why, whylen, "no relay running");
	if (path == NULL || path[0] == '\0')
		return 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) ==
	    -1) {
		if (errno != ENOENT)
			snprintf(why, whylen, "pid file %s: %s", path,
			    strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "pid file %s: not a regular file", path);
		close(fd);
		return 0;
	}
	pid = holder(fd);
	named = read_pid(fd);
	close(fd);
	if (pid <= 0) {
		if (named > 0)
			snprintf(why, whylen, "no relay running (pid file %s "
			    "names %ld, but no relay holds its lock: stale)",
			    path, named);
		return 0;
	}
	if ((long)pid != named) {
		snprintf(why, whylen, "pid file %s names %ld, but process %ld "
		    "holds its lock: signalling nobody", path, named, (long)pid);
		return 0;
	}
	return pid;
}

/*
 * cli_pidfile_lock - open, lock and write the pid file; the descriptor
 * stays open (and the lock held) for the life of the relay. As root the
 * file must lie in a trusted directory and be a regular file of root's
 * with one link, so that no other user can have planted it. -1 with err,
 * which names the relay already running.
 */
int
cli_pidfile_lock(const char *path, char *err, size_t errlen)
{
	struct flock	 fl;
	struct stat	 st;
	char		 dir[4096], sub[1024], b[32];
	const char	*base;
	int		 dfd = AT_FDCWD, fd, n;
	pid_t		 pid;

	if (path == NULL || path[0] == '\0')
		return -2;	/* none configured */
	base = path;
	if (geteuid() == 0) {
		if (path[0] != '/' || (base = strrchr(path, '/')) == NULL ||
		    base[1] == '\0' || strlen(path) >= sizeof(dir)) {
			snprintf(err, errlen, "pid_file %s: must be an absolute "
			    "path", path);
			return -1;
		}
		memcpy(dir, path, (size_t)(base - path));
		dir[base - path] = '\0';
		base++;
		if ((dfd = file_open_trusted_dir(dir[0] ? dir : "/", sub,
		    sizeof(sub))) == -1) {
			snprintf(err, errlen, "pid_file %s: %s", path, sub);
			return -1;
		}
	}
	fd = openat(dfd, base, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0644);
	if (dfd != AT_FDCWD)
		close(dfd);
	if (fd == -1) {
		snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (geteuid() == 0 && st.st_uid != 0)) {
		snprintf(err, errlen, "pid file %s: not a regular file of root's "
		    "with one link: remove it", path);
		goto fail;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		pid = holder(fd);
		snprintf(err, errlen, "pid file %s is locked by process %ld: "
		    "another relay is running", path, (long)pid);
		goto fail;
	}
	n = snprintf(b, sizeof(b), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, b, (size_t)n, 0) != n) {
		snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * cli_pidfile_running - before the relay detaches: is another one
 * running with this pid file? Its pid, or 0.
 */
pid_t
cli_pidfile_running(const char *path)
{
	int	 fd;
	pid_t	 pid;

	if (path == NULL || path[0] == '\0' ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) ==
	    -1)
		return 0;
	pid = holder(fd);
	close(fd);
	return pid > 0 ? pid : 0;
}

/*
 * cli_pidfile_release - the relay stops: empty the file (a stale pid
 * is worse than none) and, if this process may, remove it, unless it
 * is no longer the file that was locked. Then let go of the lock.
 */
void
cli_pidfile_release(int fd, const char *path)
{
	struct stat	 a, b;

	if (fd < 0)
		return;
	if (ftruncate(fd, 0) == -1) {
		/* nothing more to do: the lock goes with the descriptor */
	}
	if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && unlink(path) == -1) {
		/* after the drop: the directory is root's; empty is enough */
	}
	close(fd);
}
