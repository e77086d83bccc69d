/*
 * danemx.h - the public interface of libdanemx.
 *
 * Everything is asynchronous on a libevent event_base that the caller
 * owns and runs. Results are allocated by the library and handed to the
 * caller's callback, which owns them from then on and frees them with
 * the matching *_free() function. The library never exits the caller's
 * process.
 */
#ifndef DANEMX_H
#define DANEMX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

#define DMX_NAME_MAX	256	/* presentation name, no trailing dot, + NUL */

/* DNS record types we look up and parse. */
#define DMX_T_A		1
#define DMX_T_CNAME	5
#define DMX_T_MX	15
#define DMX_T_TXT	16
#define DMX_T_AAAA	28
#define DMX_T_TLSA	52

/* DNS response codes as reported in results. */
#define DMX_RCODE_NOERROR	0
#define DMX_RCODE_SERVFAIL	2
#define DMX_RCODE_NXDOMAIN	3

/*
 * Why a delivery attempt failed: one class per attempt. The classes of a
 * failure of TLS or of its policy map one to one onto the RFC 8460
 * result types (fail_rfc8460()); the last three are no TLS failure (the
 * session never got that far) and have no result type.
 */
enum dmx_fail {
	DMX_FAIL_NONE = 0,		/* no failure */
	DMX_FAIL_STARTTLS_NOT_SUPPORTED, /* TLS demanded, not offered or refused */
	DMX_FAIL_CERT_HOST_MISMATCH,	/* no reference identifier matched */
	DMX_FAIL_CERT_EXPIRED,		/* (never for DANE-EE) */
	DMX_FAIL_CERT_NOT_TRUSTED,	/* no path to a trust anchor */
	DMX_FAIL_VALIDATION,		/* any other failure to authenticate */
	DMX_FAIL_TLSA_INVALID,		/* no TLSA record matched, or all unusable */
	DMX_FAIL_DNSSEC_INVALID,	/* a bogus answer (never a mere SERVFAIL) */
	DMX_FAIL_DANE_REQUIRED,		/* the policy demands DANE; there is none */
	DMX_FAIL_STS_FETCH,		/* the MTA-STS policy could not be had */
	DMX_FAIL_STS_INVALID,		/* the MTA-STS policy is malformed */
	DMX_FAIL_STS_WEBPKI,		/* WebPKI failed under MTA-STS */
	DMX_FAIL_DNS,			/* a lookup got no answer: SERVFAIL, timeout */
	DMX_FAIL_CONNECT,		/* no connection */
	DMX_FAIL_SMTP			/* the SMTP dialogue failed */
};

/*
 * What a lookup's answer may be trusted as. Only SECURE and INSECURE are
 * answers (and may be NXDOMAIN or NODATA); the rest are failures that
 * must defer delivery, never downgrade it (RFC 7672 section 2.1.1).
 */
enum dmx_dns_status {
	DMX_DNS_SECURE,		/* validated by our own validator */
	DMX_DNS_INSECURE,	/* provably unsigned */
	DMX_DNS_BOGUS,		/* validation failed: why_bogus says why */
	DMX_DNS_SERVFAIL,	/* no answer could be had */
	DMX_DNS_TIMEOUT,	/* no answer within the timeout */
	DMX_DNS_MALFORMED	/* an answer we could not parse: error says why */
};

struct dmx_dns_rr {
	char		 owner[DMX_NAME_MAX];
	uint16_t	 type;
	uint32_t	 ttl;
	union {
		unsigned char	 addr[16];	/* A: 4 bytes, AAAA: 16 */
		struct {
			uint16_t pref;
			char	 host[DMX_NAME_MAX];
		} mx;
		char		 target[DMX_NAME_MAX];	/* CNAME */
		struct {
			uint8_t	 usage, selector, mtype;
			size_t	 len;
			unsigned char *data;	/* owned by the result */
		} tlsa;
		struct {
			size_t	 len;		/* octets of data */
			unsigned nstrings;	/* character-strings joined */
			char	*data;		/* the character-strings joined
						   without separators, NUL-
						   terminated (it may hold NULs
						   itself); owned by the result */
		} txt;
	} u;
	char		*text;		/* rdata in presentation form; owned */
};

struct dmx_dns_result {
	char		*qname;		/* as asked, no trailing dot */
	uint16_t	 qtype;
	enum dmx_dns_status status;
	int		 rcode;		/* DMX_RCODE_*, -1 on timeout */
	int		 nodata;	/* NOERROR without records of qtype */
	int		 nxdomain;
	char		*canonical_name; /* after CNAME expansion */
	int		 cname_secure;	/* chain present and secure end to end */
	char		**cname_chain;	/* owners of each CNAME, in order */
	size_t		 ncname;
	struct dmx_dns_rr *rrs;		/* answer records of qtype */
	size_t		 nrrs;
	uint32_t	 ttl;
	char		*why_bogus;	/* validator's reason, when BOGUS */
	char		*error;		/* reason for SERVFAIL/MALFORMED/TIMEOUT */
};

struct dmx_resolver;

struct dmx_resolver_conf {
	const char	*config_file;	/* unbound.conf(5) file, or NULL */
	const char	*trust_anchor_file; /* default: Debian's root.key */
	const char	*forwarder;	/* IP[@port]; validation stays local */
	unsigned	 timeout_ms;	/* per lookup; 0 = 30 s */
};

typedef void (*dmx_dns_cb)(void *arg, struct dmx_dns_result *res);

/*
 * dmx_resolver_new - create a validating resolver on base.
 * Returns NULL and writes a reason to err when the configuration is
 * unusable: a missing trust anchor, validation disabled, a bad file.
 */
struct dmx_resolver *dmx_resolver_new(struct event_base *base,
	    const struct dmx_resolver_conf *conf, char *err, size_t errlen);
/* dmx_resolver_free - cancel pending lookups (no callbacks) and free */
void	 dmx_resolver_free(struct dmx_resolver *);
/* dmx_resolver_base - the event_base the resolver runs on */
struct event_base *dmx_resolver_base(const struct dmx_resolver *);
/* dmx_resolver_anchor - describe the trust configuration in use */
const char *dmx_resolver_anchor(const struct dmx_resolver *);

/*
 * dmx_dns_lookup - start a lookup; cb runs later from the event loop,
 * exactly once, unless cancelled. The callback owns the result.
 * Returns a non-zero id, or 0 on failure (err filled in).
 */
uint64_t dmx_dns_lookup(struct dmx_resolver *, const char *name,
	    uint16_t type, dmx_dns_cb cb, void *arg);
/* dmx_dns_cancel - the callback for id will not run */
void	 dmx_dns_cancel(struct dmx_resolver *, uint64_t id);
void	 dmx_dns_result_free(struct dmx_dns_result *);

const char *dmx_dns_status_str(enum dmx_dns_status);
const char *dmx_rcode_str(int rcode);
const char *dmx_type_str(uint16_t type);
int	 dmx_type_from_str(const char *);	/* -1 if unknown */

#ifdef __cplusplus
}
#endif
#endif /* DANEMX_H */
