/*
 * tlsrpt_record.c - one delivery's result as TLS-RPT rows (RFC 8460),
 * counted in the state store under the recipient domain and the UTC day.
 *
 * What counts (docs/tlsrpt.md has the table):
 *
 *	an attempt that reached STARTTLS, or was	one session: a success,
 *	denied it (not offered, refused)		or a failure of the
 *							record's class
 *	a connection that ended before STARTTLS,	nothing: not a session
 *	or a session without TLS by policy
 *	a host passed over for a policy failure (a	one failed session per
 *	bogus address or TLSA answer, dane-only		delivery that passed it
 *	without TLSA, an MX the MTA-STS policy does	over
 *	not list)
 *	a route whose MX answer was bogus		one dnssec-invalid
 *	an attempt over a reused connection		nothing: counted once,
 *							when it was made
 *
 * Nothing is decided here that the records (deliver.h, route.h) do not
 * say already: a failure's result type is util/fail.c's name of the
 * record's class. A session that succeeded under a failure the route
 * softened (every TLSA record unusable: TLS without authentication; the
 * DANE bypass list) reports that failure, and so does a testing MTA-STS
 * policy's would-be failure; a session without a policy while the
 * domain's MTA-STS policy could not be fetched (or was invalid) reports
 * that. The policy is the attempt's: `tlsa` with the host's TLSA records
 * and base domain (DNSSEC and TLSA failures are DANE's), `sts` with the
 * policy's lines and patterns, or `no-policy-found`.
 *
 * Text that came from the peer or the network (a HELO name, a
 * validator's reason) is cut to printable ASCII. The rows are merged in
 * memory by the store and written by its worker, off the event loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver.h"
#include "state/state.h"
#include "sts/sts.h"
#include "tlsrpt/tlsrpt.h"
#include "util/util.h"

/* One delivery's rows in the making. */
struct rec {
	struct state			*st;
	const struct deliver_result	*r;
	char				 domain[STATE_DOMAIN_MAX];
	char				 day[TLSRPT_DAY_LEN];
	char				*sts_lines, *sts_mx;	/* made once */
	int				 n, failed;
};

/* clean - src into dst as printable ASCII (else '?'), lowercase if
 * lower, cut to size */
static void
clean(char *dst, size_t size, const char *src, int lower)
{
	size_t	 i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < size; i++) {
		dst[i] = src[i] < ' ' || src[i] > '~' ? '?' : src[i];
		if (lower && dst[i] >= 'A' && dst[i] <= 'Z')
			dst[i] = (char)(dst[i] - 'A' + 'a');
	}
	dst[i] = '\0';
	if (lower && i > 0 && dst[i - 1] == '.')
		dst[i - 1] = '\0';
}

/* tlsa_lines - the host's TLSA records as "u s m HEX" lines; NULL if
 * none (or no memory) */
static char *
tlsa_lines(const struct route_host *h)
{
	struct buf	 b;
	char		*t;
	size_t		 i;

	if (!h->tlsa.secure || h->tlsa.n == 0)
		return NULL;
	buf_init(&b, STATE_TLSRPT_TEXT_MAX - 1);
	for (i = 0; i < h->tlsa.n; i++) {
		if ((t = dane_tlsa_text(&h->tlsa.recs[i], 1)) == NULL)
			break;
		if ((b.len > 0 && buf_add(&b, "\n", 1) == -1) ||
		    buf_adds(&b, t) == -1)
			i = h->tlsa.n;	/* the rest does not fit */
		free(t);
	}
	return buf_steal(&b);
}

/* sts_text - the policy's lines (without CR or blank lines) and its
 * patterns, each joined by '\n', made once per delivery */
static void
sts_text(struct rec *c)
{
	const struct sts_policy	*p = c->r->sts.policy;
	struct buf		 lines, mx;
	const char		*s, *e, *end;
	char			 line[1024];
	size_t			 i, n;

	if (p == NULL || c->sts_lines != NULL)
		return;
	buf_init(&lines, STATE_TLSRPT_TEXT_MAX - 1);
	buf_init(&mx, STATE_TLSRPT_TEXT_MAX - 1);
	end = p->text + p->len;
	for (s = p->text; s < end; s = e + 1) {
		if ((e = memchr(s, '\n', (size_t)(end - s))) == NULL)
			e = end;
		n = (size_t)(e - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n == 0 || n >= sizeof(line))
			continue;
		memcpy(line, s, n);
		line[n] = '\0';
		clean(line, sizeof(line), line, 0);
		if ((lines.len > 0 && buf_add(&lines, "\n", 1) == -1) ||
		    buf_adds(&lines, line) == -1)
			break;
	}
	for (i = 0; i < p->nmx; i++) {
		clean(line, sizeof(line), p->mx[i], 1);
		if ((mx.len > 0 && buf_add(&mx, "\n", 1) == -1) ||
		    buf_adds(&mx, line) == -1)
			break;
	}
	c->sts_lines = buf_steal(&lines);
	c->sts_mx = buf_steal(&mx);
}

/* policy_of - the policy a failure of class f belongs to */
static enum deliver_policy
policy_of(const struct deliver_attempt *a, enum dmx_fail f)
{
	switch (f) {
	case DMX_FAIL_DNSSEC_INVALID:
	case DMX_FAIL_TLSA_INVALID:
	case DMX_FAIL_DANE_REQUIRED:
		return DELIVER_POLICY_TLSA;
	case DMX_FAIL_STS_FETCH:
	case DMX_FAIL_STS_INVALID:
		return DELIVER_POLICY_STS;
	default:
		return a != NULL ? a->policy : DELIVER_POLICY_TLSA;
	}
}

/* row_policy - the row's key and policy; tlsa_str is set to what the
 * caller frees */
static void
row_policy(struct rec *c, struct state_tlsrpt *row, enum deliver_policy p,
    const struct route_host *h, char **tlsa_str)
{
	memset(row, 0, sizeof(*row));
	strlcpy_(row->domain, c->domain, sizeof(row->domain));
	strlcpy_(row->day, c->day, sizeof(row->day));
	strlcpy_(row->policy_domain, c->domain, sizeof(row->policy_domain));
	*tlsa_str = NULL;
	row->count = 1;
	switch (p) {
	case DELIVER_POLICY_TLSA:
		strlcpy_(row->policy_type, "tlsa", sizeof(row->policy_type));
		if (h == NULL)
			break;
		clean(row->policy_domain, sizeof(row->policy_domain),
		    h->tlsa_base[0] ? h->tlsa_base : h->canonical[0] ?
		    h->canonical : h->name, 1);
		row->policy_string = *tlsa_str = tlsa_lines(h);
		break;
	case DELIVER_POLICY_STS:
		strlcpy_(row->policy_type, "sts", sizeof(row->policy_type));
		sts_text(c);
		row->policy_string = c->sts_lines;
		row->mx_host = c->sts_mx;
		break;
	case DELIVER_POLICY_NONE:
		strlcpy_(row->policy_type, "no-policy-found",
		    sizeof(row->policy_type));
		break;
	}
}

/* checked_by_x509 - is f a verdict of certificate verification? */
static int
checked_by_x509(enum dmx_fail f)
{
	return f == DMX_FAIL_CERT_HOST_MISMATCH || f == DMX_FAIL_CERT_EXPIRED ||
	    f == DMX_FAIL_CERT_NOT_TRUSTED || f == DMX_FAIL_VALIDATION ||
	    f == DMX_FAIL_TLSA_INVALID || f == DMX_FAIL_STS_WEBPKI;
}

/* reason - the failure-reason-code: the X.509 error's name, the
 * validator's or the fetch's reason, or the record's detail */
static void
reason(struct rec *c, struct state_tlsrpt *row, enum dmx_fail f,
    const struct deliver_attempt *a, const struct route_host *h)
{
	const char	*why = NULL, *name;
	char		 buf[DMX_NAME_MAX + 600];	/* cut to the row's */

	if (a != NULL && a->have_verdict && a->verdict.x509_error != 0 &&
	    checked_by_x509(f)) {
		if ((name = tlsrpt_x509_name(a->verdict.x509_error)) == NULL) {
			snprintf(buf, sizeof(buf), "X509 error %ld",
			    a->verdict.x509_error);
			name = buf;
		}
		why = name;
	} else if (f == DMX_FAIL_DNSSEC_INVALID)
		why = h == NULL ? (c->r->route->bogus[0] ? c->r->route->bogus :
		    c->r->route->why) : h->bogus[0] ? h->bogus : h->why;
	else if (f == DMX_FAIL_STS_FETCH || f == DMX_FAIL_STS_INVALID)
		why = c->r->sts.error;
	else if (f == DMX_FAIL_STARTTLS_NOT_SUPPORTED && a != NULL) {
		if (a->starttls_missing == 2 && a->stage == SMTP_ST_STARTTLS &&
		    a->code >= 400)
			snprintf(buf, sizeof(buf), "STARTTLS refused: %d %s",
			    a->code, a->reply);
		else
			snprintf(buf, sizeof(buf), "STARTTLS %s",
			    a->starttls_missing == 2 ? "refused" : "not offered");
		why = buf;
	} else if (a != NULL && a->sts_fail == DMX_FAIL_VALIDATION &&
	    f == DMX_FAIL_VALIDATION && h != NULL) {
		snprintf(buf, sizeof(buf), "%s matches no mx pattern of the "
		    "testing policy", h->name);
		why = buf;
	} else if (a != NULL && !a->skipped && a->detail[0] != '\0')
		why = a->detail;
	else if (h != NULL)
		why = h->why;
	clean(row->reason, sizeof(row->reason), why, 0);
}

/* add - count one row; the store copies it */
static void
add(struct rec *c, struct state_tlsrpt *row)
{
	if (state_tlsrpt_add(c->st, row) == 0)
		c->n++;
	else
		c->failed++;
}

/* failed_row - a failed session of class f; a is NULL for a route */
static void
failed_row(struct rec *c, enum dmx_fail f, const struct deliver_attempt *a,
    const struct route_host *h)
{
	struct state_tlsrpt	 row;
	char			*tlsa;

	row_policy(c, &row, policy_of(a, f), h, &tlsa);
	strlcpy_(row.result_type, fail_rfc8460(f), sizeof(row.result_type));
	if (a != NULL && !a->skipped) {
		clean(row.sending_ip, sizeof(row.sending_ip), a->local_addr, 1);
		clean(row.receiving_ip, sizeof(row.receiving_ip), a->addr, 1);
		clean(row.mx_helo, sizeof(row.mx_helo), a->peer_helo, 1);
	}
	if (h != NULL)
		clean(row.mx_hostname, sizeof(row.mx_hostname), h->name, 1);
	reason(c, &row, f, a, h);
	add(c, &row);
	free(tlsa);
}

/* tls_session - did the attempt reach STARTTLS, or was it denied it? */
static int
tls_session(const struct deliver_attempt *a)
{
	return a->tls != TLS_ACH_NONE || a->stage == SMTP_ST_TLS ||
	    a->starttls_missing || a->have_verdict;
}

/*
 * session_fail - the class a session reports: its own failure if that
 * has a result type; the domain's MTA-STS policy that could not be had,
 * for a session without a policy; STARTTLS denied to opportunistic TLS;
 * a testing policy's would-be failure; a failure the route softened;
 * else none (a success)
 */
static enum dmx_fail
session_fail(const struct deliver_result *r, const struct deliver_attempt *a,
    const struct route_host *h)
{
	if (fail_rfc8460(a->fail) != NULL)
		return a->fail;
	if (a->policy == DELIVER_POLICY_NONE && r->sts.fail != DMX_FAIL_NONE &&
	    r->sts.policy == NULL && fail_rfc8460(r->sts.fail) != NULL)
		return r->sts.fail;
	if (a->starttls_missing)
		return DMX_FAIL_STARTTLS_NOT_SUPPORTED;
	if (fail_rfc8460(a->sts_fail) != NULL)
		return a->sts_fail;
	if (fail_rfc8460(h->rt) != NULL)
		return h->rt;
	return DMX_FAIL_NONE;
}

/* session - one attempt over a connection of its own */
static void
session(struct rec *c, const struct deliver_attempt *a)
{
	const struct route_host	*h = &c->r->route->hosts[a->host];
	struct state_tlsrpt	 row;
	enum dmx_fail		 f;
	char			*tlsa;

	if (!tls_session(a))
		return;
	if ((f = session_fail(c->r, a, h)) != DMX_FAIL_NONE) {
		failed_row(c, f, a, h);
		return;
	}
	row_policy(c, &row, a->policy, h, &tlsa);
	add(c, &row);
	free(tlsa);
}

/*
 * tlsrpt_record - count the TLS sessions of result r (a delivery by the
 * relay) on the day of now (tlsrpt_now()). The number of rows counted,
 * or -1 when the store refused one (malformed or full; the others are
 * counted). A literal next hop ([192.0.2.1]) has no domain to report to.
 */
int
tlsrpt_record(struct state *st, const struct deliver_result *r, time_t now)
{
	const struct deliver_attempt	*a;
	struct rec			 c;
	size_t				 i;

	if (st == NULL || r == NULL || r->route == NULL || r->domain[0] == '[')
		return 0;
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.r = r;
	clean(c.domain, sizeof(c.domain), r->domain, 1);
	if (tlsrpt_day(now, c.day) == -1)
		return -1;
	if (r->route->failed) {
		if (r->route->rt == DMX_FAIL_DNSSEC_INVALID)
			failed_row(&c, DMX_FAIL_DNSSEC_INVALID, NULL, NULL);
	} else {
		for (i = 0; i < r->natt; i++) {
			a = &r->att[i];
			if (a->reused || a->host >= r->route->nhost)
				continue;
			if (!a->skipped)
				session(&c, a);
			else if (fail_rfc8460(a->fail) != NULL)
				failed_row(&c, a->fail, a,
				    &r->route->hosts[a->host]);
		}
	}
	free(c.sts_lines);
	free(c.sts_mx);
	return c.failed > 0 ? -1 : c.n;
}
