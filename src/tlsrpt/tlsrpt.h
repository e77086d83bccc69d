/*
 * tlsrpt.h - SMTP TLS Reporting (RFC 8460), docs/tlsrpt.md: recording
 * each outbound TLS session's result in the state store
 * (tlsrpt_record.c), the report's JSON (tlsrpt_json.c), the clock that
 * days are counted by (tlsrpt_clock.c), X.509 error names
 * (tlsrpt_x509.c) and the suppression list (tlsrpt_suppress.c). The
 * `_smtp._tls` record, the report mail and DKIM are in tlsrpt_mail.h.
 *
 * Ownership: a struct tlsrpt_suppress is the caller's
 * (tlsrpt_suppress_free()); everything else here borrows its arguments.
 */
#ifndef DANEMX_TLSRPT_H
#define DANEMX_TLSRPT_H

#include <stddef.h>
#include <time.h>

struct buf;
struct state;
struct deliver_result;

#define TLSRPT_DAY_LEN		11	/* "YYYY-MM-DD" and its NUL */
#define TLSRPT_JSON_MAX		(16 * 1024 * 1024)	/* one report */
#define TLSRPT_CLOCK_ENV	"DANEMX_TLSRPT_CLOCK"

/* What a report says about who made it (RFC 8460 4.4). */
struct tlsrpt_report_info {
	const char	*organization;	/* organization-name */
	const char	*contact;	/* contact-info (an address) */
	const char	*report_id;	/* NULL: tlsrpt_report_id() */
	const char	*submitter;	/* this relay's host name */
};

/* tlsrpt_clock.c */
time_t	 tlsrpt_now(void);
int	 tlsrpt_day(time_t, char out[TLSRPT_DAY_LEN]);
int	 tlsrpt_day_add(const char *day, int days, char out[TLSRPT_DAY_LEN]);
int	 tlsrpt_parse_time(const char *, time_t *);

/* tlsrpt_record.c */
int	 tlsrpt_record(struct state *, const struct deliver_result *,
	    time_t now);

/* tlsrpt_json.c */
int	 tlsrpt_report_json(struct buf *, struct state *,
	    const struct tlsrpt_report_info *, const char *domain,
	    const char *day, char *err, size_t errlen);
int	 tlsrpt_report_id(char *out, size_t outlen, const char *day,
	    const char *domain, const char *submitter);

/* tlsrpt_x509.c */
const char *tlsrpt_x509_name(long code);

/* tlsrpt_suppress.c - domains and addresses that never get reports */
struct tlsrpt_suppress;
struct tlsrpt_suppress *tlsrpt_suppress_load(const char *spec, char *err,
	    size_t errlen);
int	 tlsrpt_suppressed(const struct tlsrpt_suppress *, const char *);
void	 tlsrpt_suppress_free(struct tlsrpt_suppress *);

#endif /* DANEMX_TLSRPT_H */
