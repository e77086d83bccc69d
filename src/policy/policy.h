/*
 * policy.h - the TLS policy table and the DANE bypass list.
 *
 * policy_table.c reads the per-destination TLS policy file and the DANE
 * bypass list; a struct policy_table owns its entries (policy_table_free).
 *
 */
#ifndef DANEMX_POLICY_H
#define DANEMX_POLICY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "danemx.h"
#include "dane/dane.h"

/* Policy levels of the table (Postfix's names). */
enum tls_level {
	TLS_LEVEL_NONE,		/* cleartext only */
	TLS_LEVEL_MAY,		/* opportunistic TLS, no DANE */
	TLS_LEVEL_ENCRYPT,	/* mandatory TLS, no authentication */
	TLS_LEVEL_DANE,		/* opportunistic DANE (the default) */
	TLS_LEVEL_DANE_ONLY,	/* mandatory DANE */
	TLS_LEVEL_VERIFY,	/* mandatory TLS, PKIX: the MX host's name */
	TLS_LEVEL_SECURE	/* mandatory TLS, PKIX: the next-hop domain */
};

struct policy_entry {
	char		*pattern;	/* "example.org" or ".example.org" */
	enum tls_level	 level;
	time_t		 expires;	/* bypass only; 0 = never */
	char		*comment;	/* bypass only */
	int		 no_sts;	/* policy: mta-sts=no */
	unsigned	 line;
};

struct policy_table {
	struct policy_entry *e;
	size_t		 n;
};

#define POLICY_LINE_MAX		4096
#define POLICY_ENTRIES_MAX	100000

/* policy_table.c */
int	 policy_table_parse(struct policy_table *, const char *text,
	    size_t len, int bypass, char *err, size_t errlen);
int	 policy_table_load(struct policy_table *, const char *path,
	    int bypass, char *err, size_t errlen);
void	 policy_table_free(struct policy_table *);
const struct policy_entry *policy_table_match(const struct policy_table *,
	    const char *domain, time_t now);
const char *policy_level_str(enum tls_level);
int	 policy_level_from_str(const char *, enum tls_level *);

#endif /* DANEMX_POLICY_H */
