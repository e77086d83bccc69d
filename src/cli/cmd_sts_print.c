/*
 * cmd_sts_print.c - the output of `danemx sts` for one domain, as text
 * lines or one JSON object, and its exit status (enum cmd_sts_exit).
 *
 * Everything printed from the network went through a parser that
 * refuses control characters (the policy) or is shown in DNS
 * presentation form (the TXT records), so a hostile server cannot write
 * escape sequences to the terminal. Nothing here allocates beyond a
 * buffer freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd_sts.h"
#include "danemx.h"
#include "util/util.h"

#define MX_SHOWN	64	/* MX hosts shown at most */

/* cmd_sts_dom_clear - free what d owns */
void
cmd_sts_dom_clear(struct cmd_sts_dom *d)
{
	dmx_dns_result_free(d->txt);
	dmx_dns_result_free(d->mx);
	state_sts_clear(&d->before);
	sts_policy_unref(d->policy);
	free(d->error);
	free(d->txt_id);
	free(d->ctype);
	memset(d, 0, sizeof(*d));
}

static const char *
iso(int64_t t, char *out, size_t outlen)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, outlen, "never");
	else
		strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* span - "in 23h 59m" or "3m ago" */
static const char *
span(int64_t secs, char *out, size_t outlen)
{
	int64_t	 a = secs < 0 ? -secs : secs;

	if (a >= 86400)
		snprintf(out, outlen, "%s%lldd %lldh%s", secs < 0 ? "" : "in ",
		    (long long)(a / 86400), (long long)(a % 86400 / 3600),
		    secs < 0 ? " ago" : "");
	else if (a >= 3600)
		snprintf(out, outlen, "%s%lldh %lldm%s", secs < 0 ? "" : "in ",
		    (long long)(a / 3600), (long long)(a % 3600 / 60),
		    secs < 0 ? " ago" : "");
	else if (a >= 60)
		snprintf(out, outlen, "%s%lldm %llds%s", secs < 0 ? "" : "in ",
		    (long long)(a / 60), (long long)(a % 60),
		    secs < 0 ? " ago" : "");
	else
		snprintf(out, outlen, "%s%llds%s", secs < 0 ? "" : "in ",
		    (long long)a, secs < 0 ? " ago" : "");
	return out;
}

static int
dns_failed(const struct dmx_dns_result *r)
{
	return r == NULL || (r->status != DMX_DNS_SECURE &&
	    r->status != DMX_DNS_INSECURE);
}

static const char *
dns_why(const struct dmx_dns_result *r)
{
	if (r == NULL)
		return "no answer";
	if (r->status == DMX_DNS_BOGUS)
		return r->why_bogus ? r->why_bogus : "validation failure";
	return r->error ? r->error : "no reason given";
}

/* mx_hosts - the hosts mail goes to: the MX RRset, else the domain */
static size_t
mx_hosts(const struct cmd_sts_dom *d, const char **host, unsigned *pref,
    size_t max)
{
	size_t	 i, j, n = 0;

	if (dns_failed(d->mx) || d->mx->nxdomain)
		return 0;
	if (d->mx->nrrs == 0) {		/* no MX: the domain itself */
		host[0] = d->name;
		pref[0] = 0;
		return 1;
	}
	for (i = 0; i < d->mx->nrrs && n < max; i++) {
		if (strcmp(d->mx->rrs[i].u.mx.host, ".") == 0)
			continue;	/* a null MX: no host at all */
		host[n] = d->mx->rrs[i].u.mx.host;
		pref[n] = d->mx->rrs[i].u.mx.pref;
		/* in preference order */
		for (j = n; j > 0 && pref[j - 1] > pref[j]; j--) {
			const char *th = host[j];
			unsigned tp = pref[j];

			host[j] = host[j - 1];
			pref[j] = pref[j - 1];
			host[j - 1] = th;
			pref[j - 1] = tp;
		}
		n++;
	}
	return n;
}

static int
applies(const struct cmd_sts_dom *d)
{
	return d->policy != NULL && d->policy->mode != STS_MODE_NONE;
}

/* exit_of - the domain's status (enum cmd_sts_exit), worst first */
static int
exit_of(const struct cmd_sts_dom *d)
{
	const char	*host[MX_SHOWN];
	unsigned	 pref[MX_SHOWN];
	size_t		 i, n;

	if (d->failure == STS_FAIL_TXT_INVALID || d->failure == STS_FAIL_POLICY)
		return CMD_STS_EXIT_INVALID;
	if (applies(d)) {
		n = mx_hosts(d, host, pref, MX_SHOWN);
		for (i = 0; i < n; i++)
			if (sts_mx_match(d->policy, host[i]) == NULL)
				return CMD_STS_EXIT_MX;
	}
	if (d->failure == STS_FAIL_FETCH)
		return CMD_STS_EXIT_FETCH;
	if (d->failure == STS_FAIL_TXT || dns_failed(d->mx))
		return CMD_STS_EXIT_DNS;
	if (!applies(d))
		return CMD_STS_EXIT_NONE;
	return CMD_STS_EXIT_OK;
}

/* cache_state - "fresh", "stale", "expired" or "none" */
static const char *
cache_state(const struct cmd_sts_dom *d, int64_t now)
{
	if (d->policy != NULL)
		return d->stale ? "stale" : "fresh";
	if (d->have_before && d->before.policy != NULL &&
	    d->before.expires <= now)
		return "expired";
	return "none";
}

/* --- text ----------------------------------------------------------------- */

static void
print_txt(const struct cmd_sts_dom *d)
{
	struct sts_record	 rec;
	struct sts_diag		 diag;
	size_t			 i;

	if (dns_failed(d->txt)) {
		printf("%s: _mta-sts TXT: lookup failed: %s: %s\n", d->name,
		    d->txt ? dmx_dns_status_str(d->txt->status) : "none",
		    dns_why(d->txt));
		return;
	}
	if (d->txt->nrrs == 0)
		printf("%s: _mta-sts TXT (%s): none (%s)\n", d->name,
		    dmx_dns_status_str(d->txt->status), d->txt->nxdomain ?
		    "NXDOMAIN" : "NODATA");
	for (i = 0; i < d->txt->nrrs; i++)
		printf("%s: _mta-sts TXT (%s): %s\n", d->name,
		    dmx_dns_status_str(d->txt->status), d->txt->rrs[i].text);
	sts_diag_init(&diag);
	sts_txt_select(d->txt->rrs, d->txt->nrrs, &rec, &diag);
	for (i = 0; i < diag.nwarn; i++)
		printf("%s: warning: TXT record: %s\n", d->name, diag.warn[i]);
}

static void
print_policy(const struct cmd_sts_dom *d, int64_t now)
{
	const struct sts_policy	*p = d->policy;
	const char		*l, *nl;
	char			 t1[32], t2[32], sp[48];
	size_t			 i, n;

	if (p == NULL)
		return;
	printf("%s: policy id=%s, %s https://mta-sts.%s/.well-known/"
	    "mta-sts.txt%s\n", d->name, p->id, d->source == STS_SRC_FETCHED ?
	    "fetched now from" : "cached from", d->name,
	    d->source == STS_SRC_FETCHED ? " (HTTP 200):" : ":");
	for (l = p->text; l < p->text + p->len; l = nl + 1) {
		if ((nl = memchr(l, '\n', (size_t)(p->text + p->len - l))) ==
		    NULL)
			nl = p->text + p->len;
		n = (size_t)(nl - l);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		printf("  %.*s\n", (int)n, l);
	}
	for (i = 0; i < p->nwarn; i++)
		printf("%s: warning: policy %s\n", d->name, p->warn[i]);
	if (d->ctype != NULL)
		printf("%s: warning: the policy was served as '%s', not "
		    "text/plain (RFC 8461 3.3)\n", d->name, d->ctype);
	printf("%s: cache: %s, fetched %s, expires %s (%s)\n", d->name,
	    cache_state(d, now), iso(d->fetched, t1, sizeof(t1)),
	    iso(d->expires, t2, sizeof(t2)), span(d->expires - now, sp,
	    sizeof(sp)));
	if (d->stale && d->txt_id != NULL)
		printf("%s: cache: the TXT record names id=%s, which could not "
		    "be fetched; id=%s applies until it expires\n", d->name,
		    d->txt_id, p->id);
}

static void
print_mx(const struct cmd_sts_dom *d)
{
	const char	*host[MX_SHOWN], *m;
	unsigned	 pref[MX_SHOWN];
	size_t		 i, n;

	if (dns_failed(d->mx)) {
		printf("%s: MX lookup failed: %s: %s\n", d->name, d->mx ?
		    dmx_dns_status_str(d->mx->status) : "none", dns_why(d->mx));
		return;
	}
	if (d->mx->nxdomain) {
		printf("%s: MX: the domain does not exist (NXDOMAIN)\n",
		    d->name);
		return;
	}
	if ((n = mx_hosts(d, host, pref, MX_SHOWN)) == 0)
		printf("%s: MX: a null MX: the domain accepts no mail\n",
		    d->name);
	for (i = 0; i < n; i++) {
		m = d->policy ? sts_mx_match(d->policy, host[i]) : NULL;
		if (d->policy == NULL)
			printf("%s: MX %u %s\n", d->name, pref[i], host[i]);
		else if (m != NULL)
			printf("%s: MX %u %s: matches %s\n", d->name, pref[i],
			    host[i], m);
		else
			printf("%s: MX %u %s: matches no pattern%s\n", d->name,
			    pref[i], host[i], d->policy->mode ==
			    STS_MODE_ENFORCE ? " (enforce: never delivered to)" :
			    d->policy->mode == STS_MODE_TESTING ? " (testing: "
			    "reported, delivered to)" : "");
	}
}

static void
print_text(const struct cmd_sts_out *o, const struct cmd_sts_dom *d, int status)
{
	char	 t[32], sp[48];

	if (o->cache_note != NULL)
		printf("%s: note: %s\n", d->name, o->cache_note);
	print_txt(d);
	print_policy(d, o->now);
	if (d->policy == NULL && strcmp(cache_state(d, o->now), "expired") == 0)
		printf("%s: cache: policy id=%s expired at %s\n", d->name,
		    d->before.id, iso(d->before.expires, t, sizeof(t)));
	if (d->error != NULL)
		printf("%s: %s%s%s%s\n", d->name, d->error,
		    sts_result_type(d->failure) ? " [" : "",
		    sts_result_type(d->failure) ? sts_result_type(d->failure) :
		    "", sts_result_type(d->failure) ? "]" : "");
	if (d->next_try > o->now)
		printf("%s: next fetch %s (%s)\n", d->name, span(d->next_try -
		    o->now, sp, sizeof(sp)), iso(d->next_try, t, sizeof(t)));
	print_mx(d);
	if (d->policy != NULL)
		printf("%s: MTA-STS: %s policy id=%s in force%s\n", d->name,
		    sts_mode_str(d->policy->mode), d->policy->id,
		    status == CMD_STS_EXIT_MX ? ", but an MX host matches no "
		    "pattern" : "");
	else
		printf("%s: MTA-STS: no policy in force%s\n", d->name,
		    d->txt_id == NULL && d->failure == STS_FAIL_NONE ?
		    " (no _mta-sts record)" : "");
}

/* --- JSON ----------------------------------------------------------------- */

static void
json_strs(struct buf *b, const char *key, char *const *v, size_t n)
{
	size_t	 i;

	json_str(b, key);
	buf_adds(b, ":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_adds(b, ",");
		json_str(b, v[i]);
	}
	buf_adds(b, "]");
}

static void
json_time(struct buf *b, const char *key, int64_t t)
{
	if (t > 0)
		json_kv_int(b, key, t);
	else {
		json_str(b, key);
		buf_adds(b, ":null");
	}
}

static void
json_txt(struct buf *b, const struct cmd_sts_dom *d)
{
	struct sts_record	 rec;
	struct sts_diag		 diag;
	char			*warn[STS_WARN_MAX];
	size_t			 i;
	enum sts_txt_status	 st = STS_TXT_NONE;

	buf_printf(b, "\"txt\":{\"name\":\"_mta-sts.%s\",", d->name);
	json_kv_str(b, "status", d->txt ? dmx_dns_status_str(d->txt->status) :
	    NULL);
	buf_adds(b, ",\"records\":[");
	for (i = 0; d->txt && !dns_failed(d->txt) && i < d->txt->nrrs; i++) {
		if (i > 0)
			buf_adds(b, ",");
		json_str(b, d->txt->rrs[i].text);	/* ASCII, escaped */
	}
	buf_adds(b, "],");
	sts_diag_init(&diag);
	if (!dns_failed(d->txt))
		st = sts_txt_select(d->txt->rrs, d->txt->nrrs, &rec, &diag);
	json_kv_str(b, "id", st == STS_TXT_OK ? rec.id : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "error", dns_failed(d->txt) ? dns_why(d->txt) :
	    diag.error[0] ? diag.error : NULL);
	buf_adds(b, ",");
	for (i = 0; i < diag.nwarn; i++)
		warn[i] = diag.warn[i];
	json_strs(b, "warnings", warn, diag.nwarn);
	buf_adds(b, "}");
}

static void
json_policy(struct buf *b, const struct cmd_sts_dom *d, int64_t now)
{
	const struct sts_policy	*p = d->policy;

	buf_adds(b, "\"policy\":");
	if (p == NULL)
		buf_adds(b, "null");
	else {
		buf_adds(b, "{");
		json_kv_str(b, "id", p->id);
		buf_adds(b, ",");
		json_kv_str(b, "mode", sts_mode_str(p->mode));
		buf_adds(b, ",");
		json_kv_int(b, "max_age", (long long)p->max_age);
		buf_adds(b, ",");
		json_strs(b, "mx", p->mx, p->nmx);
		buf_adds(b, ",");
		json_kv_str(b, "text", p->text);
		buf_adds(b, ",");
		json_strs(b, "warnings", p->warn, p->nwarn);
		buf_adds(b, ",");
		json_kv_str(b, "source", d->source == STS_SRC_FETCHED ?
		    "fetched" : "cache");
		buf_printf(b, ",\"url\":\"https://mta-sts.%s/.well-known/"
		    "mta-sts.txt\"}", d->name);
	}
	buf_adds(b, ",\"cache\":{");
	json_kv_str(b, "state", cache_state(d, now));
	buf_adds(b, ",");
	json_time(b, "fetched", p ? d->fetched : d->have_before ?
	    d->before.fetched : 0);
	buf_adds(b, ",");
	json_time(b, "expires", p ? d->expires : d->have_before ?
	    d->before.expires : 0);
	buf_adds(b, ",");
	json_time(b, "next_try", d->next_try > now ? d->next_try : 0);
	buf_adds(b, "},\"fetch\":{");
	json_kv_bool(b, "attempted", d->fetch_attempted);
	buf_adds(b, ",");
	if (d->http_status > 0)
		json_kv_int(b, "http_status", d->http_status);
	else
		buf_adds(b, "\"http_status\":null");
	buf_adds(b, ",");
	json_kv_str(b, "content_type", d->ctype);
	buf_adds(b, "}");
}

static void
json_mx(struct buf *b, const struct cmd_sts_dom *d)
{
	const char	*host[MX_SHOWN];
	unsigned	 pref[MX_SHOWN];
	size_t		 i, n;

	json_kv_str(b, "mx_status", d->mx ? dmx_dns_status_str(d->mx->status) :
	    NULL);
	buf_adds(b, ",\"mx\":[");
	n = mx_hosts(d, host, pref, MX_SHOWN);
	for (i = 0; i < n; i++) {
		buf_adds(b, i > 0 ? ",{" : "{");
		json_kv_str(b, "host", host[i]);
		buf_adds(b, ",");
		json_kv_int(b, "preference", pref[i]);
		buf_adds(b, ",");
		json_kv_str(b, "pattern", d->policy ? sts_mx_match(d->policy,
		    host[i]) : NULL);
		buf_adds(b, "}");
	}
	buf_adds(b, "]");
}

static void
print_json(const struct cmd_sts_out *o, const struct cmd_sts_dom *d, int status)
{
	struct buf	 b;

	buf_init(&b, 4 * 1024 * 1024);
	buf_adds(&b, "{");
	json_kv_str(&b, "domain", d->name);
	buf_adds(&b, ",");
	json_txt(&b, d);
	buf_adds(&b, ",");
	json_policy(&b, d, o->now);
	buf_adds(&b, ",");
	json_kv_str(&b, "failure", sts_failure_str(d->failure));
	buf_adds(&b, ",");
	json_kv_str(&b, "result_type", sts_result_type(d->failure));
	buf_adds(&b, ",");
	json_kv_str(&b, "error", d->error);
	buf_adds(&b, ",");
	json_mx(&b, d);
	buf_adds(&b, ",");
	json_kv_int(&b, "status", status);
	buf_adds(&b, ",");
	json_kv_str(&b, "cache_note", o->cache_note);
	buf_adds(&b, "}\n");
	fputs(b.data, stdout);
	buf_free(&b);
}

/* cmd_sts_print - print d; returns its status (enum cmd_sts_exit) */
int
cmd_sts_print(const struct cmd_sts_out *o, const struct cmd_sts_dom *d)
{
	int	 status = exit_of(d);

	if (o->json)
		print_json(o, d, status);
	else
		print_text(o, d, status);
	return status;
}
