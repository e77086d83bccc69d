/*
 * deliver.h - one delivery attempt to one destination over the RFC 7672
 * route: the single code path behind check, probe, send and the relay.
 *
 * deliver_start() resolves the route (policy/route.c), then walks the
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

#include "route/route.h"
#include "smtp/smtp.h"
#include "tls/tls.h"

struct event_base;
struct dmx_resolver;

/* The TLS a session achieved, as reported. */
enum tls_achieved {
	TLS_ACH_NONE,		/* cleartext */
	TLS_ACH_OPPORTUNISTIC,	/* TLS without any demand */
	TLS_ACH_ENCRYPTED,	/* TLS demanded, not authenticated */
	TLS_ACH_VERIFIED,	/* PKIX-verified (policy verify) */
	TLS_ACH_DANE_VERIFIED	/* authenticated by TLSA */
};

struct deliver_attempt {
	size_t			 host;		/* index into route->hosts */
	char			 addr[64];	/* "" when the host was skipped */
	int			 skipped;	/* not contacted: host->why */
	int			 plaintext_retry; /* retry after a TLS failure */
	int			 reused;	/* over an earlier message's session */
	enum tls_achieved	 tls;
	int			 dane_failed;	/* TLSA present, no match */
	int			 no_starttls;	/* STARTTLS demanded, missing */
	int			 bypassed;	/* ... but the bypass list applied */
	int			 have_verdict;
	struct tls_verdict	 verdict;
	char			 sni[DMX_NAME_MAX];
	char			 ref_ids[3][DMX_NAME_MAX];
	size_t			 nref_ids;
	/* The SMTP session, copied from its result. */
	enum smtp_stage		 stage;
	int			 ok, temporary;
	int			 code;
	char			 enhanced[16];
	char			 reply[512];
	char			 error[512];
	char			 tls_version[32], tls_cipher[96];
	struct smtp_rcpt_result	*rcpt;
	size_t			 nrcpt;
	char			*transcript;
};

enum deliver_outcome {
	OUTCOME_DELIVERED,	/* send: the message was accepted */
	OUTCOME_ACCEPTED,	/* probe: every recipient accepted; check: ok */
	OUTCOME_REJECTED,	/* permanent: 5xx, null MX, no such domain */
	OUTCOME_DEFERRED	/* temporary: retry later */
};

struct deliver_result {
	char			 domain[DMX_NAME_MAX];
	struct route		*route;		/* owned */
	struct deliver_attempt	*att;
	size_t			 natt, attcap;
	int			 used;		/* attempt that did the job, or -1 */
	enum deliver_outcome	 outcome;
	enum dmx_fail	 rt;		/* RFC 8460, NONE on success */
	char			 why[512];
	int			 kept;		/* session parked: next_msg or quit */
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
	SSL_CTX			*pkix_ctx;	/* with the system CAs */
	int			 tls_min_version; /* mandatory TLS floor, */
	int			 tls_opp_min_version; /* opportunistic; 0:
						   the defaults (tls.h) */
	int			 log;		/* log events as they happen */
	int			 reuse;		/* park sessions (see above) */
	/* Is this address and port the relay itself? A route whose best
	 * MX is fails "loops back to myself"; hosts less preferred than
	 * one that is are not used (RFC 5321 5.1). NULL: never. */
	int			(*is_self)(void *, const struct sockaddr *);
	void			*self_arg;
	void			(*done)(void *arg, struct deliver_result *);
	void			*arg;
};

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
void	 deliver_next_msg(struct deliver *, const struct deliver_msg *);
void	 deliver_quit(struct deliver *);
void	 deliver_result_free(struct deliver_result *);
int	 deliver_result_json(struct buf *, const struct deliver_result *);
const char *tls_achieved_str(enum tls_achieved);
const char *deliver_outcome_str(enum deliver_outcome);
SSL_CTX	*deliver_pkix_ctx_new(char *err, size_t errlen);

#endif /* DANEMX_DELIVER_H */
