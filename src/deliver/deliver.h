/*
 * deliver.h - one delivery attempt to one destination over the RFC 7672
 * route: the single code path behind check, probe, send and the relay.
 *
 * deliver_start() resolves the route (src/route), then walks the
 * hosts in order and their addresses, opening an SMTP session under
 * each host's TLS demand with the DANE engine (tls/) as the judge.
 * Unusable hosts are never contacted; a failed host moves on to the
 * next; nothing is ever downgraded. The result, with the whole trace,
 * is handed to done(), which owns it (deliver_result_free()).
 *
 * Connection reuse (conf.reuse, SEND only): when the server answered a
 * message's transaction and the connection is sound, the result comes
 * with kept set and the delivery stays alive with its session parked.
 * Its owner then gives it the next message for the same destination
 * with deliver_next_msg() (same route, same authenticated TLS session;
 * no DNS, no handshake), or ends it with deliver_quit(), at once or
 * later. Only a session the route and DANE already accepted is reused;
 * if it turns out closed, the next message connects afresh over the
 * whole route, as a new delivery would.
 */
#ifndef DANEMX_DELIVER_H
#define DANEMX_DELIVER_H

#include <time.h>

#include "route/route.h"
#include "smtp/smtp.h"
#include "tls/tls.h"

struct dmx_conf;

struct event_base;
struct dmx_resolver;
struct sts;
struct sts_policy;

/* The TLS a session achieved, as reported. */
enum tls_achieved {
	TLS_ACH_NONE,		/* cleartext */
	TLS_ACH_OPPORTUNISTIC,	/* TLS without any demand */
	TLS_ACH_ENCRYPTED,	/* TLS demanded, not authenticated */
	TLS_ACH_VERIFIED,	/* PKIX-verified (policy verify, secure) */
	TLS_ACH_DANE_VERIFIED,	/* authenticated by TLSA */
	TLS_ACH_STS_VERIFIED	/* WebPKI under an MTA-STS enforce policy */
};

/* The policy that applied to a session (RFC 8460 4.3's policy types). */
enum deliver_policy {
	DELIVER_POLICY_NONE,	/* no-policy-found */
	DELIVER_POLICY_TLSA,	/* DANE: the host's secure TLSA records */
	DELIVER_POLICY_STS	/* MTA-STS */
};

/*
 * The verdict record: one per attempt to deliver over one address of
 * one host (a session, or a host skipped without one). It is made where
 * each thing is decided, once, and everything downstream reads it: the
 * log lines, the JSON, check's exit status, the scheduler's holds, TLS
 * reports. fail is the first thing that failed (NONE when nothing did):
 * a lookup or DANE demand that made the host unusable, the connection,
 * STARTTLS, the handshake or its authentication, or the SMTP dialogue
 * after it; tls says how far TLS got. The DANE policy is the route's
 * host (its TLSA records and base domain).
 */
struct deliver_attempt {
	size_t			 host;		/* index into route->hosts */
	char			 addr[64];	/* "" when the host was skipped */
	int			 skipped;	/* not contacted: host->why */
	int			 plaintext_retry; /* retry after a TLS failure */
	int			 reused;	/* over an earlier message's session */
	enum deliver_policy	 policy;
	enum tls_achieved	 tls;
	enum dmx_fail		 fail;		/* NONE: nothing failed */
	char			 detail[600];	/* why, in one line */
	int			 dane_failed;	/* TLSA present, no match */
	int			 bypassed;	/* ... but the bypass list applied */
	int			 relaxed;	/* a DANE, MTA-STS or TLS failure
						   TLS-Required: No let pass */
	int			 have_verdict;
	struct tls_verdict	 verdict;	/* DANE result and depth */
	char			 sni[DMX_NAME_MAX];
	char			 ref_ids[3][DMX_NAME_MAX];
	size_t			 nref_ids;
	STACK_OF(X509)		*chain;		/* conf.keep_chain: as sent */
	/* MTA-STS (policy STS): the pattern the host matched (in the
	 * result's policy), and under a testing policy what would have
	 * failed under enforce (NONE: nothing; VALIDATION: no pattern
	 * matches the host; STS_WEBPKI: WebPKI failed). */
	const char		*sts_pattern;
	enum dmx_fail		 sts_fail;
	/* The SMTP session, copied from its result. */
	enum smtp_stage		 stage;
	int			 ok, temporary;
	int			 code;
	char			 enhanced[16];
	char			 reply[512];
	char			 error[512];
	char			 tls_version[32], tls_cipher[96];
	int			 starttls_missing; /* TLS wanted; the server
						   did not offer it (1), refused (2) */
	char			 local_addr[64];	/* our address */
	char			 peer_helo[DMX_NAME_MAX]; /* the server's name,
						   as it announced itself */
	struct smtp_rcpt_result	*rcpt;
	size_t			 nrcpt;
	char			*transcript;
};

/* What an attempt's failure says about the destination (check's exit
 * status, the scheduler's holds): deliver_attempt_kind(). */
enum deliver_kind {
	DELIVER_KIND_OK,		/* nothing failed */
	DELIVER_KIND_DANE,		/* DANE failed: no match, dane-only */
	DELIVER_KIND_DNSSEC,		/* a bogus answer */
	DELIVER_KIND_STS,		/* an MTA-STS enforce policy unmet */
	DELIVER_KIND_TLS,		/* STARTTLS, handshake, PKIX */
	DELIVER_KIND_DNS,		/* a lookup without answer */
	DELIVER_KIND_UNREACHABLE	/* no connection, or the SMTP dialogue */
};

enum deliver_outcome {
	OUTCOME_DELIVERED,	/* send: the message was accepted */
	OUTCOME_ACCEPTED,	/* probe: every recipient accepted; check: ok */
	OUTCOME_REJECTED,	/* permanent: 5xx, null MX, no such domain */
	OUTCOME_DEFERRED	/* temporary: retry later */
};

/* The MTA-STS policy a delivery found (RFC 8461), and what went wrong
 * finding it. */
struct deliver_sts {
	int			 looked_up;	/* MTA-STS applied to the domain */
	struct sts_policy	*policy;	/* in force (one reference), or
						   NULL: as if the domain had none */
	int			 cached;	/* from the cache, not fetched */
	enum dmx_fail		 fail;		/* STS_FETCH, STS_INVALID, NONE */
	char			 error[300];
};

/* The route a delivery took (deliver_conf's route_*, copied): via "mx",
 * "transport", "relayhost" or "nexthop"; the text as logged. */
struct deliver_route {
	char			 via[16];
	char			 domain[DMX_NAME_MAX];
	char			 match[DMX_NAME_MAX];	/* "" unless transport */
	char			 nexthop[DMX_NAME_MAX];
	char			 text[3 * DMX_NAME_MAX + 32];
};

struct deliver_result {
	char			 domain[DMX_NAME_MAX];
	struct deliver_sts	 sts;
	struct route		*route;		/* owned */
	struct deliver_attempt	*att;
	size_t			 natt, attcap;
	int			 used;		/* attempt that did the job, or -1 */
	enum deliver_outcome	 outcome;
	enum dmx_fail		 fail;		/* the attempt that names it */
	char			 why[512];
	int			 kept;		/* session parked: next_msg or quit */
	struct deliver_route	 rte;		/* the route taken */
	int			 held;		/* deferred by conf.route_check */
	/* Per-recipient outcome (probe and send). */
	size_t			 nrcpt;
	struct smtp_rcpt_result	*rcpt;
};

struct deliver_conf {
	const char		*domain;
	unsigned		 port;		/* 25 */
	enum smtp_job		 job;
	int			 all_hosts;	/* check: every host and address */
	enum tls_level		 level;
	int			 bypass;
	const char		*bypass_comment;
	const char		*helo;
	const struct net_addr	*src4, *src6;	/* source addresses, or NULL */
	const char		*mail_from;
	const char * const	*rcpts;
	size_t			 nrcpt;
	struct smtp_body	 body;		/* send: borrowed */
	struct smtp_timeouts	 t;
	SSL_CTX			*dane_ctx;	/* tls_client_ctx_new() */
	SSL_CTX			*pkix_ctx;	/* WebPKI, or NULL: pkix's */
	struct tls_pkix		*pkix;		/* WebPKI, loaded when needed */
	struct sts		*sts;		/* MTA-STS policies, or NULL */
	int			 no_sts;	/* not for this destination */
	int			 tls_min_version; /* mandatory TLS floor, */
	int			 tls_opp_min_version; /* opportunistic; 0:
						   the defaults (tls.h) */
	int			 log;		/* log events as they happen */
	int			 keep_chain;	/* records keep the peer's chain */
	int			 reuse;		/* park sessions (see above) */
	/* RFC 8689 "TLS-Required: No": the recipient domain's DANE and
	 * MTA-STS are tried but stop nothing (deliver_tlsreq.c). Such a
	 * delivery is for one message (msgid, for its log lines): never
	 * reuse it for another. */
	int			 tls_required_no;
	const char		*msgid;
	/* Is this address and port the relay itself? A route whose best
	 * MX is fails "loops back to myself"; hosts less preferred than
	 * one that is are not used (RFC 5321 5.1). NULL: never. */
	int			(*is_self)(void *, const struct sockaddr *);
	void			*self_arg;
	/* Once the route and the MTA-STS policy are known, before the
	 * first session: may the delivery go on? 0 yes; -1 defers it with
	 * why (the result's held is set). NULL: always. (The relay's
	 * destination memory: src/destmem.) */
	int			(*route_check)(void *, const struct deliver_result *,
				    char *why, size_t whylen);
	void			*route_check_arg;
	void			(*done)(void *arg, struct deliver_result *);
	void			*arg;
	/* Which route this is, for the log, the result and its JSON: via
	 * "mx" (NULL too), "transport", "relayhost" or "nexthop" (a
	 * command's --nexthop); the recipient domain, the transport
	 * entry's pattern and its next hop as written. Copied. */
	const char		*route_via, *route_domain, *route_match;
	const char		*route_nexthop;
	/* At most so many sessions at once to one server address, shared
	 * with every delivery given the same gate (deliver_gate.c); NULL:
	 * no limit. Not with reuse (a parked session would hold its slot). */
	struct deliver_gate	*gate;
};

/* deliver_gate.c - a per-address session limit shared by deliveries */
struct deliver_gate *deliver_gate_new(struct event_base *, unsigned limit);
void	 deliver_gate_free(struct deliver_gate *);

/* The next message over a kept delivery; the strings and the body's
 * source are borrowed until its done(), which gets arg. */
struct deliver_msg {
	const char		*mail_from;
	const char * const	*rcpts;
	size_t			 nrcpt;
	struct smtp_body	 body;
	void			*arg;
};

struct deliver;

/* deliver.c */
struct deliver *deliver_start(struct event_base *, struct dmx_resolver *,
	    const struct deliver_conf *, char *err, size_t errlen);
void	 deliver_abort(struct deliver *);
int	 deliver_next_msg(struct deliver *, const struct deliver_msg *);
void	 deliver_quit(struct deliver *);

/* deliver_result.c - the record and the result, read */
void	 deliver_result_free(struct deliver_result *);
enum deliver_kind deliver_attempt_kind(const struct deliver_result *,
	    const struct deliver_attempt *);
enum deliver_kind deliver_result_kind(const struct deliver_result *);
int	 deliver_result_unreachable(const struct deliver_result *);
int	 deliver_result_hold(const struct deliver_result *);
const struct deliver_attempt *deliver_result_attempt(
	    const struct deliver_result *);
const char *deliver_tls_str(enum tls_achieved);
const char *deliver_outcome_str(enum deliver_outcome);
const char *deliver_policy_str(enum deliver_policy);
const char *deliver_dane_text(const struct deliver_attempt *);
const char *deliver_route_text(char *buf, size_t len, const char *via,
	    const char *domain, const char *match, const char *nexthop);

/* deliver_json.c */
int	 deliver_result_json(struct buf *, const struct deliver_result *);
int	 deliver_route_json(struct buf *, const struct deliver_route *);

/* deliver_conf.c - a delivery's settings from danemx.conf and the tables */
struct deliver_env {
	const struct dmx_conf	*conf;		/* serve: timeouts, TLS floors;
						   NULL: RFC 5321's, tls.h's */
	unsigned		 timeout;	/* CLI --timeout: each reply */
	const struct policy_table *policy;	/* may be NULL */
	const struct policy_table *bypass;	/* may be NULL */
	SSL_CTX			*dane_ctx, *pkix_ctx;
	struct tls_pkix		*pkix;		/* may be NULL */
	struct sts		*sts;		/* MTA-STS, or NULL: none */
	const char		*helo;
	const struct net_addr	*src4, *src6;	/* may be NULL */
	int			(*is_self)(void *, const struct sockaddr *);
	void			*self_arg;
	int			 tls_required_no; /* the message asks it */
	const struct transport_table *transport; /* may be NULL */
	const char		*relayhost;	/* may be NULL */
	struct deliver_gate	*gate;		/* may be NULL (conf.gate) */
};
void	 deliver_conf_for(struct deliver_conf *, const struct deliver_env *,
	    const char *nexthop, enum smtp_job, time_t now);
const struct transport_entry *deliver_conf_route(struct deliver_conf *,
	    const struct deliver_env *, const char *domain, enum smtp_job,
	    time_t now);

#endif /* DANEMX_DELIVER_H */
