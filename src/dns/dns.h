/*
 * dns.h - internals of the DNS room: the wire parser behind the
 * resolver, exposed for unit tests and fuzzing, and a resolver with
 * canned answers for unit tests of what sits above it.
 *
 * The parsers read untrusted bytes and check every bound: a malformed
 * message is an error with a reason (a static string), never a crash
 * or a silently empty answer. Records they produce are owned by the
 * dmx_dns_result they are stored in (free with dmx_dns_result_free()).
 */
#ifndef DANEMX_DNS_H
#define DANEMX_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "danemx.h"

#define DNS_HDR_LEN		12
#define DNS_MAX_RRS		1024	/* answer records we accept */
#define DNS_MAX_CNAME_CHAIN	16	/* links we follow */

struct event_base;
struct dmx_resolver;

/* Answers for a canned resolver: a result for (name, type), which the
 * lookup's callback will own, or NULL for a timeout. */
typedef struct dmx_dns_result *(*dns_canned_fn)(void *arg, const char *name,
	    uint16_t type);

/* dns_resolver.c */
struct dmx_resolver *dns_resolver_canned_new(struct event_base *,
	    dns_canned_fn, void *arg);
/* Lookups answered since the resolver was made, by status (enum
 * dmx_dns_status; [DNS_NSTATUS - 1] and below), for the metrics. */
#define DNS_NSTATUS	(DMX_DNS_MALFORMED + 1)
const uint64_t *dns_resolver_counts(const struct dmx_resolver *);

/* dns_wire.c */
int	 dns_name_read(const unsigned char *msg, size_t msglen, size_t *off,
	    char *out, size_t outlen, const char **err);
int	 dns_rdata_parse(const unsigned char *msg, size_t msglen, size_t off,
	    size_t rdlen, uint16_t type, struct dmx_dns_rr *rr,
	    const char **err);
int	 dns_msg_parse(const unsigned char *msg, size_t msglen,
	    struct dmx_dns_result *res, const char **err);
int	 dns_name_equal(const char *, const char *);
int	 dns_name_wire_ok(const char *);
void	 dns_rr_clear(struct dmx_dns_rr *);

#endif /* DANEMX_DNS_H */
