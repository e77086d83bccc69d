/*
 * t.h - a tiny table-driven test harness for unit tests.
 *
 * T_CHECK(cond, fmt, ...) records a failure with got/want detail and
 * goes on; t_done() prints "N passed, N failed" and returns the exit
 * status for main(). Header-only; nothing to free.
 */
#ifndef DANEMX_T_H
#define DANEMX_T_H

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

#endif /* DANEMX_T_H */
