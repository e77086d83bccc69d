/*
 * domlist.h - a list of domains, one a line, read in pieces (domlist.c):
 * the parser behind `danemx check --file`.
 *
 * The caller owns the struct (no allocation) and feeds it bytes as they
 * arrive: domlist_space() says where and how much, domlist_added() how
 * much came, domlist_end() that no more will. domlist_next() then gives
 * one domain at a time, or one malformed line with its number and why.
 * Memory is the struct alone: at most DOMLIST_BUF bytes are held, and a
 * line longer than DOMLIST_LINE_MAX is malformed, never grown.
 */
#ifndef DANEMX_DOMLIST_H
#define DANEMX_DOMLIST_H

#include <stddef.h>

#define DOMLIST_BUF		65536
#define DOMLIST_LINE_MAX	1000
#define DOMLIST_SHOW_MAX	64	/* a malformed line, as shown */

struct domlist {
	char		 in[DOMLIST_BUF + 1];
	size_t		 start, end;	/* fed, not yet taken */
	int		 eof;		/* domlist_end() */
	int		 skipping;	/* the rest of a long line */
	unsigned long	 lineno;	/* of the line last taken */
};

/* domlist_next() */
#define DOMLIST_MORE	0	/* feed more (or, after domlist_end(), done) */
#define DOMLIST_DOMAIN	1	/* a domain */
#define DOMLIST_BAD	2	/* a malformed line: shown, why, lineno */

/* domlist.c */
void	 domlist_init(struct domlist *);
size_t	 domlist_space(struct domlist *, char **);
void	 domlist_added(struct domlist *, size_t);
void	 domlist_end(struct domlist *);
int	 domlist_next(struct domlist *, char *out, size_t outlen,
	    const char **why);
const char *domlist_domain_why(const char *);

#endif /* DANEMX_DOMLIST_H */
