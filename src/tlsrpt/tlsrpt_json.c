/*
 * tlsrpt_json.c - the report of one (domain, UTC day) as RFC 8460
 * section 4.4 gives it: organization-name, date-range (00:00:00Z to
 * 23:59:59Z of the day), contact-info, report-id, and per policy its
 * policy (policy-type, policy-string, policy-domain, mx-host), summary
 * (total-successful-session-count, total-failure-session-count) and
 * failure-details (result-type, sending-mta-ip, receiving-mx-hostname,
 * receiving-mx-helo, receiving-ip, failed-session-count,
 * failure-reason-code). Optional fields and arrays that would be empty
 * are left out; policy-domain is always there; counts are numbers.
 *
 * The rows come from the store in the report's order (policy, then
 * result type, then details), so a policy is written as soon as its
 * last row has been read: memory holds one policy's failure details,
 * not the day. Everything written is checked text (state_tlsrpt_valid)
 * escaped by util/json.c. The output buffer is the caller's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"
#include "tlsrpt/tlsrpt.h"
#include "util/util.h"

/* The policy being written, and the report so far. */
struct group {
	struct buf	*out;
	int		 open;		/* a policy has rows */
	char		 type[16], domain[STATE_DOMAIN_MAX];
	char		*string, *mx;	/* owned copies */
	uint64_t	 ok, failed;
	struct buf	 details;	/* failure-details' objects */
	int		 npolicies, error;
};

/* same - two optional texts are equal (NULL is "") */
static int
same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* lines - "key":["line",...] from '\n'-joined text; nothing if empty */
static int
lines(struct buf *b, const char *key, const char *text)
{
	const char	*p, *e;
	char		*one;
	int		 r = 0, first = 1;

	if (text == NULL || text[0] == '\0')
		return 0;
	r |= buf_add(b, ",", 1) | json_str(b, key) | buf_adds(b, ":[");
	for (p = text; r == 0 && *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		if ((one = strndup(p, (size_t)(e - p))) == NULL)
			return -1;
		r |= (first ? 0 : buf_add(b, ",", 1)) | json_str(b, one);
		first = 0;
		free(one);
	}
	r |= buf_add(b, "]", 1);
	return r ? -1 : 0;
}

/* flush - write the policy gathered so far */
static int
flush(struct group *g)
{
	struct buf	*b = g->out;
	int		 r = 0;

	if (!g->open)
		return 0;
	r |= buf_adds(b, g->npolicies++ ? ",{" : "{");
	r |= buf_adds(b, "\"policy\":{");
	r |= json_kv_str(b, "policy-type", g->type);
	r |= lines(b, "policy-string", g->string);
	r |= buf_add(b, ",", 1) | json_kv_str(b, "policy-domain", g->domain);
	r |= lines(b, "mx-host", g->mx);
	r |= buf_adds(b, "},\"summary\":{");
	r |= buf_printf(b, "\"total-successful-session-count\":%llu,"
	    "\"total-failure-session-count\":%llu}",
	    (unsigned long long)g->ok, (unsigned long long)g->failed);
	if (g->details.len > 0)
		r |= buf_adds(b, ",\"failure-details\":[") |
		    buf_add(b, g->details.data, g->details.len) |
		    buf_add(b, "]", 1);
	r |= buf_add(b, "}", 1);
	free(g->string);
	free(g->mx);
	g->string = g->mx = NULL;
	buf_reset(&g->details);
	g->ok = g->failed = 0;
	g->open = 0;
	return r ? -1 : 0;
}

/* opt - ,"key":"val" when val is not empty */
static int
opt(struct buf *b, const char *key, const char *val)
{
	if (val[0] == '\0')
		return 0;
	return buf_add(b, ",", 1) == -1 ? -1 : json_kv_str(b, key, val);
}

/* detail - one failure-details object */
static int
detail(struct buf *b, const struct state_tlsrpt *r)
{
	int	 rv = 0;

	rv |= buf_adds(b, b->len > 0 ? ",{" : "{");
	rv |= json_kv_str(b, "result-type", r->result_type);
	rv |= opt(b, "sending-mta-ip", r->sending_ip);
	rv |= opt(b, "receiving-mx-hostname", r->mx_hostname);
	rv |= opt(b, "receiving-mx-helo", r->mx_helo);
	rv |= opt(b, "receiving-ip", r->receiving_ip);
	rv |= buf_printf(b, ",\"failed-session-count\":%llu",
	    (unsigned long long)r->count);
	rv |= opt(b, "failure-reason-code", r->reason);
	rv |= buf_add(b, "}", 1);
	return rv ? -1 : 0;
}

/* one_row - a row in the report's order: a new policy, or more of it */
static int
one_row(void *arg, const struct state_tlsrpt *r)
{
	struct group	*g = arg;

	if (g->open && (strcmp(g->type, r->policy_type) != 0 ||
	    strcmp(g->domain, r->policy_domain) != 0 ||
	    !same(g->string, r->policy_string) || !same(g->mx, r->mx_host)) &&
	    flush(g) == -1)
		goto fail;
	if (!g->open) {
		strlcpy_(g->type, r->policy_type, sizeof(g->type));
		strlcpy_(g->domain, r->policy_domain, sizeof(g->domain));
		g->string = xstrdup_or_null(r->policy_string);
		g->mx = xstrdup_or_null(r->mx_host);
		if ((r->policy_string && !g->string) || (r->mx_host && !g->mx))
			goto fail;
		g->open = 1;
	}
	if (r->result_type[0] == '\0') {
		g->ok += r->count;
		return 0;
	}
	g->failed += r->count;
	if (detail(&g->details, r) == -1)
		goto fail;
	return 0;
fail:
	g->error = 1;
	return -1;		/* stop */
}

/*
 * tlsrpt_report_id - "YYYYMMDDT000000Z.DOMAIN@SUBMITTER": one per domain
 * and day from one relay, the same however often it is made. It is a
 * msg-id's inside (dot-atom "@" dot-atom: no colon), as the report mail's
 * Subject and Message-ID carry it (tlsrpt_mail_build()).
 */
int
tlsrpt_report_id(char *out, size_t outlen, const char *day,
    const char *domain, const char *submitter)
{
	int	 n;

	if (strlen(day) != 10)
		return -1;
	n = snprintf(out, outlen, "%.4s%.2s%.2sT000000Z.%s@%s", day, day + 5,
	    day + 8, domain, submitter && submitter[0] ? submitter :
	    "localhost");
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* header - the report's fields before its policies */
static int
header(struct buf *b, const struct tlsrpt_report_info *info,
    const char *id, const char *day)
{
	int	 r = 0;

	r |= buf_add(b, "{", 1);
	r |= json_kv_str(b, "organization-name", info->organization ?
	    info->organization : "");
	r |= buf_printf(b, ",\"date-range\":{\"start-datetime\":"
	    "\"%sT00:00:00Z\",\"end-datetime\":\"%sT23:59:59Z\"},", day, day);
	r |= json_kv_str(b, "contact-info", info->contact ? info->contact :
	    "");
	r |= buf_add(b, ",", 1) | json_kv_str(b, "report-id", id);
	r |= buf_adds(b, ",\"policies\":[");
	return r ? -1 : 0;
}

/*
 * tlsrpt_report_json - the report of domain on day, from the store,
 * appended to out. The number of policies in it; 0 when the day has no
 * results (out unchanged); -1 with err.
 */
int
tlsrpt_report_json(struct buf *out, struct state *st,
    const struct tlsrpt_report_info *info, const char *domain,
    const char *day, char *err, size_t errlen)
{
	struct group	 g;
	struct buf	 b;
	char		 id[STATE_TLSRPT_ID_MAX];
	int		 n = 0;

	if (info->report_id == NULL && tlsrpt_report_id(id, sizeof(id), day,
	    domain, info->submitter) == -1) {
		snprintf(err, errlen, "report id too long");
		return -1;
	}
	memset(&g, 0, sizeof(g));
	buf_init(&b, TLSRPT_JSON_MAX);
	buf_init(&g.details, TLSRPT_JSON_MAX);
	g.out = &b;
	if (header(&b, info, info->report_id ? info->report_id : id,
	    day) == -1 || (n = state_tlsrpt_rows(st, domain, day, one_row, &g,
	    err, errlen)) == -1 || g.error || flush(&g) == -1 ||
	    buf_adds(&b, "]}") == -1) {
		if (g.error || n != -1)
			snprintf(err, errlen, "the report of %s on %s is too "
			    "large (or out of memory)", domain, day);
		n = -1;
	} else if (g.npolicies == 0)
		n = 0;
	else if (buf_add(out, b.data, b.len) == -1) {
		snprintf(err, errlen, "the report does not fit");
		n = -1;
	} else
		n = g.npolicies;
	free(g.string);
	free(g.mx);
	buf_free(&g.details);
	buf_free(&b);
	return n;
}
