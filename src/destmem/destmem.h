/*
 * destmem.h - the relay's memory of each destination (docs/domains.md):
 * the TLS policy each destination domain had when mail last went there,
 * its changes, its downgrades, and how its messages went out.
 *
 * destmem_observe() reads a route (and the MTA-STS policy a delivery
 * found) as one observation: the policy (dane, sts-enforce, sts-testing,
 * none) and its fingerprint (the SHA-256 of the domain's TLSA RRsets, or
 * the MTA-STS id); an observation is "known" only when DNS answered
 * (a lookup that failed or was bogus proves nothing, and DANE already
 * defers it).
 *
 * The relay (destmem.c) compares each delivery's observation with what
 * it remembers, before the first session (deliver_conf.route_check): a
 * TLSA rollover is logged at info level; a downgrade (DANE lost, or an
 * MTA-STS enforce policy gone) is logged as a warning, runs
 * downgrade_command (destmem_alert.c) and, with downgrade_action =
 * defer, holds the domain's mail until `danemx domains accept DOMAIN`.
 * destmem_count() counts each message's outcome in memory; a timer hands
 * the counts to the state store in batches, off the event loop.
 *
 * Ownership: struct destmem owns its table, its timer and its running
 * alert commands; destmem_free() hands the last counts to the store and
 * lets the commands run on (they are not waited for).
 */
#ifndef DANEMX_DESTMEM_H
#define DANEMX_DESTMEM_H

#include <stddef.h>

#include "deliver/deliver.h"
#include "state/state.h"

#define DESTMEM_WHAT_MAX	STATE_ERR_MAX	/* what changed, one line */
#define DESTMEM_MAX		100000	/* domains kept in memory */
#define DESTMEM_FLUSH_MS	2000	/* counts wait at most this */
#define DESTMEM_HELD_POLL	30	/* s between looks for accepts */
#define DESTMEM_ALERTS_MAX	4	/* alert commands at once; more wait */
#define DESTMEM_ALERTQ_MAX	64	/* ... at most this many; then dropped */

/* One observation of a destination (destmem_observe.c). */
struct destmem_obs {
	int	 known;			/* DNS answered: comparable */
	char	 policy[STATE_DEST_POLICY_MAX];	/* dane, sts-enforce, ... */
	char	 fingerprint[STATE_DEST_FP_MAX];
	char	 what[DESTMEM_WHAT_MAX];	/* not dane: why, per host */
};

struct event_base;
struct dmx_conf;
struct destmem;

/* destmem_observe.c */
void	 destmem_observe(const struct route *, const struct deliver_sts *,
	    struct destmem_obs *);
int	 destmem_downgrade(const char *from, const char *to);
const char *destmem_policy_text(const char *policy);
int	 destmem_domain_key(const char *name, char *out, size_t outlen);

/* destmem.c */
struct destmem *destmem_new(struct event_base *, struct state *,
	    const struct dmx_conf *);
void	 destmem_free(struct destmem *);
int	 destmem_check(void *destmem, const struct deliver_result *,
	    char *why, size_t whylen);
void	 destmem_count(struct destmem *, const struct deliver_result *);
void	 destmem_recheck(struct destmem *);
void	 destmem_set_release(struct destmem *,
	    void (*)(void *, const char *domain), void *);

/* destmem_alert.c - downgrade_command, run without a shell */
struct destmem_alerts;
struct destmem_alerts *destmem_alerts_new(struct event_base *);
void	 destmem_alerts_free(struct destmem_alerts *);
int	 destmem_alert_run(struct destmem_alerts *, const char *command,
	    unsigned timeout, char *const env[]);

#endif /* DANEMX_DESTMEM_H */
