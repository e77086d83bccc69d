/*
 * t.h - a tiny table-driven test harness for unit tests.
 *
 * T_CHECK(cond, fmt, ...) records a failure with got/want detail and
 * goes on; t_done() prints "N passed, N failed" and returns the exit
 * status for main(); t_count_dir() counts a directory's entries.
 * Header-only; nothing to free.
 */
#ifndef DANEMX_T_H
#define DANEMX_T_H

#include <dirent.h>
#include <stdio.h>

static int t_pass, t_fail;

#define T_CHECK(cond, ...) do {						\
	if (cond) {							\
		t_pass++;						\
	} else {							\
		t_fail++;						\
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static inline int
t_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}

/* t_count_dir - entries in DIR/SUB (dot files aside), or (size_t)-1 */
static inline size_t
t_count_dir(const char *dir, const char *sub)
{
	char		 path[512];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return (size_t)-1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

#endif /* DANEMX_T_H */
