/*
 * cmd_sts.h - what `danemx sts` learns about one domain, shared between
 * the command (cmd_sts.c: options, lookups, the event loop) and its
 * output (cmd_sts_print.c: text, JSON, the exit status).
 *
 * Ownership: a struct cmd_sts_dom owns its DNS results, its policy reference
 * and its strings; cmd_sts_dom_clear() frees them.
 */
#ifndef DANEMX_CMD_STS_H
#define DANEMX_CMD_STS_H

#include <stdint.h>

#include "state/state.h"
#include "sts/sts.h"

/* Exit status of `danemx sts`, worst first (cmd_sts_print.c). */
enum cmd_sts_exit {
	CMD_STS_EXIT_OK = 0,	/* a policy in force and every MX matches */
	CMD_STS_EXIT_NONE = 1,	/* MTA-STS does not apply (no record, none) */
	CMD_STS_EXIT_INVALID = 2,	/* the TXT record or the policy is invalid */
	CMD_STS_EXIT_FETCH = 3,	/* the policy could not be fetched */
	CMD_STS_EXIT_DNS = 4,	/* a DNS lookup (TXT or MX) failed */
	CMD_STS_EXIT_MX = 5		/* an MX host matches no pattern */
};

struct cmd_sts_dom {
	char			 name[STS_DOMAIN_MAX];
	int			 pending;	/* lookups not answered yet */
	struct dmx_dns_result	*txt;		/* _mta-sts TXT, for display */
	struct dmx_dns_result	*mx;
	struct state_sts	 before;	/* the store, before the lookup */
	int			 have_before;

	/* the answer of the cache, copied */
	int			 answered;
	struct sts_policy	*policy;	/* one reference, or NULL */
	enum sts_source		 source;
	int			 stale, fetch_attempted;
	int64_t			 fetched, expires, next_try;
	enum sts_failure	 failure;
	long			 http_status;
	char			*error, *txt_id, *ctype;
};

struct cmd_sts_out {
	int		 json;
	int64_t		 now;
	const char	*cache_note;	/* why nothing is cached, or NULL */
};

/* cmd_sts_print.c */
int	 cmd_sts_print(const struct cmd_sts_out *, const struct cmd_sts_dom *);
void	 cmd_sts_dom_clear(struct cmd_sts_dom *);

#endif /* DANEMX_CMD_STS_H */
