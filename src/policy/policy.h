/*
 * policy.h - the TLS policy table and the DANE bypass list.
 *
 * policy_table.c reads the per-destination TLS policy file and the DANE
 * bypass list; a struct policy_table owns its entries (policy_table_free).
 * policy_bypass.c reads and writes a bypass entry's expiry ("until",
 * "for", "added") and names an entry for the relay's retirements.
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
	time_t		 expires;	/* bypass only; 0 = never; the last
					   second it applies */
	time_t		 added;		/* bypass only; 0 = not said */
	char		*comment;	/* bypass only */
	int		 retired;	/* bypass only: the relay found DANE
					   working again (serve_bypass.c) */
	int		 expiry_logged;	/* bypass only: its expiry was said */
	int		 no_sts;	/* policy: mta-sts=no */
	unsigned	 line;
};

struct policy_table {
	struct policy_entry *e;
	size_t		 n;
};

#define POLICY_LINE_MAX		4096
#define POLICY_ENTRIES_MAX	100000
#define POLICY_FIELDS_MAX	8	/* domain until X added Y: 5 */
#define POLICY_BYPASS_FOR_MAX	(10L * 366 * 86400)	/* "for" at most */
#define POLICY_TIME_LEN		21	/* "2026-12-31T23:59:59Z" + NUL */
#define POLICY_KEY_LEN		(256 + 2 * POLICY_TIME_LEN + 16)

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

/* policy_bypass.c */
int	 policy_bypass_expiry(char **fields, size_t n, time_t *expires,
	    time_t *added, char *err, size_t errlen);
int	 policy_bypass_when(const char *, int end_of_day, time_t *out);
int	 policy_bypass_duration(const char *, time_t *out);
void	 policy_bypass_time_str(time_t, char *buf, size_t len);
int	 policy_bypass_recheckable(const char *pattern, const char **why);
void	 policy_bypass_key(const struct policy_entry *, char *buf,
	    size_t len);

#endif /* DANEMX_POLICY_H */
