/*
 * sts.h - MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy
 * (sts_parse.c), MX pattern matching (sts_match.c), and the policy cache
 * that discovers, fetches, keeps and refreshes policies for the relay
 * (sts_cache.c and sts_discover.c, with its I/O in sts_io.c). Applying
 * a policy to a delivery is the delivery engine's job; this room only
 * says which policy is in force.
 *
 * Parsers read untrusted bytes and never trust a length: a record or a
 * policy that breaks RFC 8461's grammar is an error with a precise reason
 * (struct sts_diag), never a crash or a silently partial result.
 *
 * Ownership: a struct sts_policy is reference-counted; sts_policy_parse()
 * returns one reference, sts_policy_ref()/sts_policy_unref() add and drop
 * one. An answer handed to a lookup's callback borrows its policy for the
 * duration of the callback: take a reference to keep it.
 */
#ifndef DANEMX_STS_H
#define DANEMX_STS_H

#include <stddef.h>
#include <stdint.h>

#define STS_ID_MAX		32		/* id: 1-32 letters and digits */
#define STS_MAX_AGE_MAX		31557600UL	/* RFC 8461 3.2 */
#define STS_POLICY_MAX		65536		/* octets of policy body */
#define STS_MX_MAX		256		/* mx patterns in a policy */
#define STS_WARN_MAX		8		/* warnings kept per parse */
#define STS_WARN_LEN		200
#define STS_ERR_LEN		256
#define STS_DOMAIN_MAX		254		/* a domain and its NUL */

struct dmx_dns_result;
struct dmx_dns_rr;
struct dmx_resolver;
struct event_base;
struct http_client;
struct state;

enum sts_mode { STS_MODE_NONE, STS_MODE_TESTING, STS_MODE_ENFORCE };

/* What a parse found wrong (error) or worth saying (warnings). */
struct sts_diag {
	char	 error[STS_ERR_LEN];	/* why the input is invalid */
	char	 warn[STS_WARN_MAX][STS_WARN_LEN];
	size_t	 nwarn;			/* held in warn[] */
	size_t	 dropped;		/* more than STS_WARN_MAX */
};

/* The `_mta-sts` TXT record (RFC 8461 3.1). */
struct sts_record {
	char	 id[STS_ID_MAX + 1];
};

enum sts_txt_status {
	STS_TXT_OK,		/* exactly one valid MTA-STS record */
	STS_TXT_NONE,		/* no record starts with v=STSv1 */
	STS_TXT_INVALID		/* more than one, or a syntax error */
};

/* A policy (RFC 8461 3.2), as fetched and parsed. */
struct sts_policy {
	unsigned	 refs;
	enum sts_mode	 mode;
	unsigned long	 max_age;	/* seconds, at most STS_MAX_AGE_MAX */
	char		**mx;		/* patterns, lowercase */
	size_t		 nmx;
	char		*text;		/* the policy as fetched, NUL-terminated */
	size_t		 len;
	char		**warn;		/* from the parse; may be empty */
	size_t		 nwarn;
	char		 id[STS_ID_MAX + 1];	/* the TXT id it was fetched
						   under ("" if not known) */
};

/* sts_parse.c */
enum sts_txt_status sts_txt_parse(const char *data, size_t len,
	    struct sts_record *, struct sts_diag *);
enum sts_txt_status sts_txt_select(const struct dmx_dns_rr *, size_t n,
	    struct sts_record *, struct sts_diag *);
struct sts_policy *sts_policy_parse(const char *text, size_t len,
	    struct sts_diag *);
void	 sts_policy_ref(struct sts_policy *);
void	 sts_policy_unref(struct sts_policy *);
const char *sts_mode_str(enum sts_mode);
void	 sts_diag_init(struct sts_diag *);
void	 sts_warn(struct sts_diag *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* sts_match.c */
int	 sts_pattern_match(const char *pattern, const char *host);
const char *sts_mx_match(const struct sts_policy *, const char *host);
int	 sts_domain_ok(const char *domain);

/*
 * The policy cache (sts_cache.c).
 *
 * sts_lookup(domain) answers which policy is in force for mail to domain,
 * following RFC 8461 sections 3 and 5: look up `_mta-sts.DOMAIN` TXT
 * through the validating resolver (rechecked at most once per TTL, at
 * least once an hour; or at once with STS_F_RECHECK); with a policy
 * cached under the same id, extend it by its max_age without a fetch;
 * else fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt, once for
 * every lookup waiting on the domain. A valid policy replaces the cached
 * one at once (mode none too). A failed fetch keeps the cached policy
 * until its max_age runs out and waits before the next try (backoff_min,
 * doubling to backoff_max). A missing or failed TXT record never removes
 * a cached policy. Policies of domains in use are refreshed before they
 * expire; domains unused for unused_max are forgotten. Everything is
 * kept in the state store (if given), so it survives restarts and is
 * shared with other processes.
 */

#define STS_BACKOFF_MIN		300	/* seconds; RFC 8461 asks >= 5 min */
#define STS_BACKOFF_MAX		3600
#define STS_RECHECK_MIN		60	/* TXT rechecks: TTL within these */
#define STS_RECHECK_MAX		3600
#define STS_UNUSED_MAX		(30 * 86400)
#define STS_MAX_ENTRIES		10000	/* domains kept in memory */
#define STS_MAX_POLICY_BYTES	(32 * 1024 * 1024)	/* their policy texts */
#define STS_FETCH_TIMEOUT_MS	20000

/* Where the answer came from, for logs and `danemx sts`. */
enum sts_source {
	STS_SRC_NONE,		/* no policy in force */
	STS_SRC_FETCHED,	/* fetched by this lookup */
	STS_SRC_CACHE		/* from the cache (memory or store) */
};

/* What went wrong during discovery (RFC 8460 result types). */
enum sts_failure {
	STS_FAIL_NONE,
	STS_FAIL_TXT,		/* the TXT lookup failed (DNS) */
	STS_FAIL_TXT_INVALID,	/* the TXT record is invalid */
	STS_FAIL_FETCH,		/* sts-policy-fetch-error */
	STS_FAIL_POLICY		/* sts-policy-invalid */
};

struct sts_answer {
	const char		*domain;
	struct sts_policy	*policy;	/* in force, or NULL: deliver as
						   if the domain had none.
						   Borrowed (see above). */
	enum sts_source		 source;
	int			 stale;		/* the TXT names a newer id that
						   could not be fetched */
	int64_t			 fetched, expires;	/* of the policy */
	const char		*txt_id;	/* the TXT record's id, or NULL
						   if none was seen */
	enum sts_failure	 failure;	/* of this discovery, even when a
						   cached policy still applies */
	const char		*error;		/* what failed, or NULL */
	int64_t			 next_try;	/* no fetch before, if failing */
	int			 fetch_attempted;	/* this lookup fetched */
	long			 http_status;	/* of that fetch, 0 if none */
	const char		*content_type;	/* of that fetch, if it was not
						   text/plain (RFC 8461 3.3) */
};

typedef void (*sts_cb)(void *arg, const struct sts_answer *);

/* How the cache reaches the world; tests replace it (sts_io.c is real). */
typedef void (*sts_txt_cb)(void *arg, struct dmx_dns_result *);
struct sts_fetch_result {
	int		 ok;		/* a 200 with a body */
	const char	*body;
	size_t		 len;
	const char	*content_type;
	long		 status;	/* HTTP status, 0 if none */
	const char	*kind;		/* when !ok: http_error_str() */
	char		 error[512];	/* when !ok */
};
typedef void (*sts_fetch_cb)(void *arg, const struct sts_fetch_result *);
struct sts_io {
	uint64_t	(*txt)(void *io, const char *name, sts_txt_cb, void *);
	void		(*txt_cancel)(void *io, uint64_t);
	uint64_t	(*fetch)(void *io, const char *url, sts_fetch_cb, void *);
	void		(*fetch_cancel)(void *io, uint64_t);
};

struct sts_conf {
	struct event_base	*base;
	struct dmx_resolver	*resolver;	/* for sts_io_default */
	struct http_client	*http;		/* for sts_io_default */
	struct state		*state;		/* NULL: memory only */
	const struct sts_io	*io;		/* NULL: sts_io_default */
	void			*io_arg;	/* NULL: this conf's resolver
						   and http (sts_io_default) */
	int64_t			(*now)(void *);	/* NULL: time(NULL) */
	void			*now_arg;
	unsigned		 fetch_timeout_ms;	/* 0: STS_FETCH_TIMEOUT_MS */
	unsigned		 backoff_min, backoff_max;	/* 0: defaults */
	unsigned		 unused_max;
	size_t			 max_entries;
	size_t			 max_policy_bytes;
	int			 no_refresh;	/* tools: no background work */
	int			 quiet;		/* tools that print the answers:
						   no log lines */
};

#define STS_F_RECHECK	0x1	/* look at the TXT record now (RFC 8461 5.1:
				   before a message is failed for good) */
#define STS_F_REFRESH	0x2	/* fetch now, whatever the id and backoff */

struct sts;

/* sts_cache.c */
struct sts *sts_new(const struct sts_conf *, char *err, size_t errlen);
void	 sts_free(struct sts *);
int	 sts_peek(struct sts *, const char *domain, struct sts_answer *);
uint64_t sts_lookup(struct sts *, const char *domain, unsigned flags,
	    sts_cb, void *arg);
void	 sts_cancel(struct sts *, uint64_t id);
size_t	 sts_entries(const struct sts *);
const char *sts_failure_str(enum sts_failure);
const char *sts_result_type(enum sts_failure);

/* sts_discover.c */
void	 sts_sweep(struct sts *);

/* sts_io.c */
extern const struct sts_io sts_io_default;
struct sts_io_ctx;
struct sts_io_ctx *sts_io_new(struct dmx_resolver *, struct http_client *,
	    unsigned timeout_ms);
void	 sts_io_free(struct sts_io_ctx *);

#endif /* DANEMX_STS_H */
