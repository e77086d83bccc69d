/*
 * check_scan.h - danemx check --file: the list of domains and what the
 * scan prints (cmd_check_scan.c). The checking itself is cmd_deliver.c's,
 * the same per-domain path as `danemx check DOMAIN`.
 *
 * scan_open() returns a scan that reads its file as slots free up (at
 * most 64 KiB ahead), never blocking on a pipe; free it with scan_free(). Results are borrowed: the
 * caller frees each after scan_result().
 */
#ifndef DANEMX_CHECK_SCAN_H
#define DANEMX_CHECK_SCAN_H

#include <stddef.h>

struct deliver_result;
struct scan;

#define SCAN_CONCURRENCY_DEFAULT	50
#define SCAN_CONCURRENCY_MAX		1000
/* check: sessions at once to one server address (deliver_gate.c) */
#define HOST_CONCURRENCY_DEFAULT	5
#define SCAN_BYPASS_DAYS_DEFAULT	7
#define SCAN_BYPASS_DAYS_MAX		365

struct scan_opts {
	const char	*path;		/* "-": stdin */
	int		 json;		/* one JSON object a line */
	int		 suggest;	/* --suggest-bypass */
	unsigned	 bypass_days;	/* the entries' expiry */
	int		 progress;	/* a progress line on stderr */
};

/* scan_next() */
#define SCAN_END	0	/* the end of the list */
#define SCAN_DOMAIN	1	/* a domain */
#define SCAN_WAIT	2	/* no whole line yet: wait for scan_fd() */

/* cmd_check_scan.c */
struct scan *scan_open(const struct scan_opts *, char *err, size_t errlen);
int	 scan_fd(const struct scan *);
size_t	 scan_fit(size_t);
int	 scan_next(struct scan *, char *domain, size_t len);
void	 scan_result(struct scan *, const struct deliver_result *, int code);
void	 scan_progress(struct scan *, size_t running);
void	 scan_interrupted(struct scan *, size_t running);
int	 scan_finish(struct scan *, int worst);
void	 scan_free(struct scan *);

#endif /* DANEMX_CHECK_SCAN_H */
