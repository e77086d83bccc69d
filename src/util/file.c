/*
 * file.c - read a whole (configuration) file into a bounded buffer, and
 * open a directory that only root can have steered (for what root does
 * before it drops its privileges).
 *
 * The caller owns out and frees it with buf_free(), also on error; a
 * descriptor from file_open_trusted_dir() is the caller's to close.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* file_read - path into out (at most max octets); -1 with err */
int
file_read(const char *path, size_t max, struct buf *out, char *err,
    size_t errlen)
{
	char	 chunk[8192];
	size_t	 n;
	FILE	*fp;

	buf_init(out, max);
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_add(out, chunk, n) == -1) {
			snprintf(err, errlen, "%s: larger than %zu octets", path,
			    max);
			fclose(fp);
			return -1;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

#define TRUST_LINKS_MAX	40	/* symbolic links followed on one walk */

/*
 * trusted - may a directory be used by root to look names up in? It is
 * root's, and nobody else may change its entries: not writable by a
 * group other than root's, nor by others unless it is sticky (as /tmp
 * is: others cannot rename or remove what root owns in it).
 */
static int
trusted(const struct stat *st)
{
	return st->st_uid == 0 && S_ISDIR(st->st_mode) &&
	    (!(st->st_mode & S_IWGRP) || st->st_gid == 0) &&
	    (!(st->st_mode & S_IWOTH) || (st->st_mode & S_ISVTX));
}

/*
 * file_open_trusted_dir - open the directory path (absolute) so that no
 * user but root can have decided where it leads: every directory on the
 * way, the last one included, is trusted() when it is opened, and every
 * symbolic link on the way is root's. The walk opens one component at
 * a time with O_NOFOLLOW, so a link swapped in meanwhile fails it
 * rather than being followed. A descriptor, or -1 with err naming the
 * component at fault.
 */
int
file_open_trusted_dir(const char *path, char *err, size_t errlen)
{
	char		 rest[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX];
	char		 done[PATH_MAX], comp[NAME_MAX + 1], *p, *slash;
	struct stat	 st;
	ssize_t		 ll;
	size_t		 len;
	int		 fd, nfd, links = 0;

	if (path[0] != '/' || strlen(path) >= sizeof(rest)) {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -1;
	}
	strlcpy_(rest, path, sizeof(rest));
	strlcpy_(done, "/", sizeof(done));
	if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "/: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !trusted(&st))
		goto untrusted;
	p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return fd;
		if ((slash = strchr(p, '/')) != NULL)
			len = (size_t)(slash - p);
		else
			len = strlen(p);
		if (len > NAME_MAX) {
			snprintf(err, errlen, "%s: name too long", path);
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		if (strcmp(comp, ".") == 0)
			continue;
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			snprintf(err, errlen, "%s%s%s: %s", done, strcmp(done, "/") ?
			    "/" : "", comp, strerror(errno));
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			/* Root's link in a trusted directory: root chose it. */
			if (st.st_uid != 0 || ++links > TRUST_LINKS_MAX ||
			    (ll = readlinkat(fd, comp, link, sizeof(link) - 1)) <=
			    0) {
				snprintf(err, errlen, "%s%s%s: a symbolic link "
				    "not owned by root (uid %u), or too many links",
				    done, strcmp(done, "/") ? "/" : "", comp,
				    (unsigned)st.st_uid);
				goto fail;
			}
			link[ll] = '\0';
			if ((size_t)snprintf(tmp, sizeof(tmp), "%s%s", link, p) >=
			    sizeof(tmp)) {
				snprintf(err, errlen, "%s: path too long", path);
				goto fail;
			}
			strlcpy_(rest, tmp, sizeof(rest));
			p = rest;
			if (rest[0] == '/') {
				close(fd);
				strlcpy_(done, "/", sizeof(done));
				if ((fd = open("/", O_RDONLY | O_DIRECTORY |
				    O_CLOEXEC)) == -1) {
					snprintf(err, errlen, "/: %s",
					    strerror(errno));
					return -1;
				}
			}
			continue;
		}
		if ((nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "%s%s%s: %s", done, strcmp(done, "/") ?
			    "/" : "", comp, strerror(errno));
			goto fail;
		}
		close(fd);
		fd = nfd;
		len = strlen(done);
		snprintf(done + len, sizeof(done) - len, "%s%s",
		    strcmp(done, "/") ? "/" : "", comp);
		if (fstat(fd, &st) == -1 || !trusted(&st))
			goto untrusted;
	}
untrusted:
	snprintf(err, errlen, "%s: owned by uid %u with mode %04o: a directory "
	    "root uses must belong to root and be writable by nobody else",
	    done, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
fail:
	if (fd != -1)
		close(fd);
	return -1;
}
