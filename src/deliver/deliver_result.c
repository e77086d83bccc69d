/*
 * deliver_result.c - the verdict records of a delivery and its result,
 * read: which attempt names the result, what a failure says about the
 * destination (check's exit status, the scheduler's holds), and the
 * names of it all. Nothing here decides anything a record does not say
 * already; the records are made in deliver.c and deliver_tls.c.
 *
 * A result owns its records (and theirs: recipients, transcript, the
 * verdict's strings) and one reference to the route; free it with
 * deliver_result_free().
 */
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver_int.h"
#include "sts/sts.h"
#include "util/util.h"

/* deliver_tls_str - the reported TLS level */
const char *
deliver_tls_str(enum tls_achieved t)
{
	switch (t) {
	case TLS_ACH_NONE:		return "none";
	case TLS_ACH_OPPORTUNISTIC:	return "opportunistic";
	case TLS_ACH_ENCRYPTED:		return "encrypted";
	case TLS_ACH_VERIFIED:		return "verified";
	case TLS_ACH_DANE_VERIFIED:	return "dane-verified";
	case TLS_ACH_STS_VERIFIED:	return "sts-verified";
	}
	return "?";
}

/* deliver_outcome_str - the outcome's name */
const char *
deliver_outcome_str(enum deliver_outcome o)
{
	switch (o) {
	case OUTCOME_DELIVERED:	return "delivered";
	case OUTCOME_ACCEPTED:	return "accepted";
	case OUTCOME_REJECTED:	return "rejected";
	case OUTCOME_DEFERRED:	return "deferred";
	}
	return "?";
}

/* deliver_policy_str - the RFC 8460 policy type */
const char *
deliver_policy_str(enum deliver_policy p)
{
	switch (p) {
	case DELIVER_POLICY_NONE:	return "no-policy-found";
	case DELIVER_POLICY_TLSA:	return "tlsa";
	case DELIVER_POLICY_STS:	return "sts";
	}
	return "?";
}

/* deliver_dane_text - the DANE verdict of an attempt, for log lines */
const char *
deliver_dane_text(const struct deliver_attempt *a)
{
	if (a == NULL || !a->have_verdict || a->verdict.pkix)
		return "none";
	return a->verdict.text;
}

/* deliver_attempt_clear - free what a record owns */
void
deliver_attempt_clear(struct deliver_attempt *a)
{
	if (a->have_verdict)
		tls_verdict_free(&a->verdict);
	tls_chain_free(a->chain);
	free(a->rcpt);
	free(a->transcript);
}

/*
 * deliver_attempt_copy - dst becomes src's TLS facts, for a parked
 * session's next message: no recipients, no transcript, no chain (it
 * was logged once). -1 when out of memory (dst then has no verdict).
 */
int
deliver_attempt_copy(struct deliver_attempt *dst,
    const struct deliver_attempt *src)
{
	*dst = *src;
	dst->chain = NULL;
	dst->rcpt = NULL;
	dst->nrcpt = 0;
	dst->transcript = NULL;
	dst->verdict.chain = NULL;
	dst->verdict.nchain = 0;
	dst->verdict.matched_text = NULL;
	if (src->have_verdict && src->verdict.matched_text != NULL &&
	    (dst->verdict.matched_text =
	    strdup(src->verdict.matched_text)) == NULL) {
		dst->have_verdict = 0;
		return -1;
	}
	return 0;
}

/*
 * deliver_attempt_session - a finished SMTP session into its record: the
 * reply that decided (the end of data's, when there was one), the TLS
 * the session reached, and, when nothing failed before, that the SMTP
 * dialogue did
 */
void
deliver_attempt_session(struct deliver_attempt *a, const struct smtp_result *s)
{
	a->stage = s->stage;
	a->ok = s->ok;
	a->temporary = s->temporary;
	a->code = s->dot_code ? s->dot_code : s->fail_code ? s->fail_code :
	    s->code;
	strlcpy_(a->enhanced, s->dot_code ? s->dot_enhanced : s->enhanced,
	    sizeof(a->enhanced));
	strlcpy_(a->reply, s->dot_code ? s->dot_reply : s->reply,
	    sizeof(a->reply));
	strlcpy_(a->error, s->error, sizeof(a->error));
	strlcpy_(a->tls_version, s->tls_version, sizeof(a->tls_version));
	strlcpy_(a->tls_cipher, s->tls_cipher, sizeof(a->tls_cipher));
	a->starttls_missing = s->starttls_missing;
	strlcpy_(a->local_addr, s->local_addr, sizeof(a->local_addr));
	strlcpy_(a->peer_helo, s->peer_helo, sizeof(a->peer_helo));
	if (!s->tls)
		a->tls = TLS_ACH_NONE;
	if (a->fail == DMX_FAIL_NONE && !s->ok) {
		if (s->no_starttls)
			a->fail = DMX_FAIL_STARTTLS_NOT_SUPPORTED;
		else if (s->stage == SMTP_ST_TLS)
			a->fail = DMX_FAIL_VALIDATION;	/* the handshake */
		else if (s->stage <= SMTP_ST_GREETING && s->code == 0)
			a->fail = DMX_FAIL_CONNECT;
		else
			a->fail = DMX_FAIL_SMTP;
		strlcpy_(a->detail, s->error, sizeof(a->detail));
	}
	if (s->nrcpt > 0 && (a->rcpt = calloc(s->nrcpt,
	    sizeof(*a->rcpt))) != NULL) {
		memcpy(a->rcpt, s->rcpt, s->nrcpt * sizeof(*a->rcpt));
		a->nrcpt = s->nrcpt;
	}
	a->transcript = xstrdup_or_null(s->transcript.data ?
	    s->transcript.data : "");
}

/* deliver_result_free - free a result and everything it owns */
void
deliver_result_free(struct deliver_result *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->natt; i++)
		deliver_attempt_clear(&r->att[i]);
	free(r->att);
	free(r->rcpt);
	route_free(r->route);
	deliver_sts_free(&r->sts);
	free(r);
}

/* names - does this failure name a failed result? A host that could not
 * be used (a lookup, DANE demanded), a DANE failure, STARTTLS missing */
static int
names(const struct deliver_attempt *a)
{
	return a->skipped || a->dane_failed ||
	    a->fail == DMX_FAIL_STARTTLS_NOT_SUPPORTED ||
	    (a->policy == DELIVER_POLICY_STS && a->fail != DMX_FAIL_SMTP &&
	    a->fail != DMX_FAIL_CONNECT);
}

/*
 * deliver_settle - nothing worked: which failure names the result, and
 * why in one line. The first record with a naming failure names it and
 * gives the reason; without one, the last failure gives the reason.
 * (With check, later hosts may have passed: their records say nothing.)
 */
void
deliver_settle(const struct deliver_result *r, enum dmx_fail *fail,
    const char **why)
{
	const struct deliver_attempt	*a, *w = NULL;
	size_t				 i;

	*fail = DMX_FAIL_NONE;
	for (i = 0; i < r->natt; i++) {
		a = &r->att[i];
		if (a->ok)
			continue;
		if (names(a) && a->fail != DMX_FAIL_NONE) {
			if (*fail == DMX_FAIL_NONE) {
				*fail = a->fail;
				w = a;
			}
			continue;
		}
		if (*fail == DMX_FAIL_NONE)
			w = a;
	}
	if (w == NULL)
		*why = "no MX host to try";
	else if (w->skipped)
		*why = r->route->hosts[w->host].why;
	else
		*why = w->error;
}

/* deliver_attempt_kind - what an attempt's failure says (check, holds) */
enum deliver_kind
deliver_attempt_kind(const struct deliver_result *r,
    const struct deliver_attempt *a)
{
	(void)r;
	if (a->ok)
		return DELIVER_KIND_OK;
	switch (a->fail) {
	case DMX_FAIL_NONE:
		return DELIVER_KIND_OK;
	case DMX_FAIL_DNSSEC_INVALID:
		return DELIVER_KIND_DNSSEC;
	case DMX_FAIL_DNS:
		return DELIVER_KIND_DNS;
	case DMX_FAIL_TLSA_INVALID:
	case DMX_FAIL_DANE_REQUIRED:
		if (a->skipped || (a->dane_failed && !a->bypassed &&
		    !a->relaxed))
			return DELIVER_KIND_DANE;
		return DELIVER_KIND_TLS;
	case DMX_FAIL_CERT_HOST_MISMATCH:
	case DMX_FAIL_CERT_EXPIRED:
	case DMX_FAIL_CERT_NOT_TRUSTED:
	case DMX_FAIL_VALIDATION:
		if (a->dane_failed && !a->bypassed && !a->relaxed)
			return DELIVER_KIND_DANE;
		if (a->policy == DELIVER_POLICY_STS)
			return DELIVER_KIND_STS;
		return DELIVER_KIND_TLS;
	case DMX_FAIL_STS_FETCH:
	case DMX_FAIL_STS_INVALID:
	case DMX_FAIL_STS_WEBPKI:
		return DELIVER_KIND_STS;
	case DMX_FAIL_STARTTLS_NOT_SUPPORTED:
		if (a->policy == DELIVER_POLICY_STS)
			return DELIVER_KIND_STS;
		return DELIVER_KIND_TLS;
	case DMX_FAIL_CONNECT:
	case DMX_FAIL_SMTP:
		break;
	}
	return DELIVER_KIND_UNREACHABLE;
}

/* deliver_result_kind - the worst kind over the result's records, in
 * this order: DANE, DNSSEC, MTA-STS, TLS, DNS, unreachable, OK */
enum deliver_kind
deliver_result_kind(const struct deliver_result *r)
{
	static const enum deliver_kind rank[] = { DELIVER_KIND_OK,
	    DELIVER_KIND_UNREACHABLE, DELIVER_KIND_DNS, DELIVER_KIND_TLS,
	    DELIVER_KIND_STS, DELIVER_KIND_DNSSEC, DELIVER_KIND_DANE };
	enum deliver_kind	 k, worst = DELIVER_KIND_OK;
	size_t			 i, rk, rw = 0;

	if (r->route == NULL)
		return DELIVER_KIND_DNS;
	if (r->route->failed)
		return r->route->rt == DMX_FAIL_DNSSEC_INVALID ?
		    DELIVER_KIND_DNSSEC : DELIVER_KIND_DNS;
	for (i = 0; i < r->natt; i++) {
		k = deliver_attempt_kind(r, &r->att[i]);
		for (rk = 0; rank[rk] != k; rk++)
			;
		if (rk > rw) {
			rw = rk;
			worst = k;
		}
	}
	if (worst == DELIVER_KIND_OK && r->used == -1)
		return DELIVER_KIND_UNREACHABLE;
	return worst;
}

/* deliver_result_unreachable - every host tried was down: nothing got
 * past the connection (Postfix's dead host) */
int
deliver_result_unreachable(const struct deliver_result *r)
{
	size_t	 i, tried = 0;

	for (i = 0; i < r->natt; i++) {
		if (r->att[i].skipped)
			continue;
		if (r->att[i].fail != DMX_FAIL_CONNECT)
			return 0;
		tried++;
	}
	return tried > 0;
}

/*
 * deliver_result_hold - should the destination wait until the next
 * retry? A deferral for a failure of TLS, its policy or DNS (which will
 * fail the same way at once), or because no host answered: the relay
 * then does not hammer the host.
 */
int
deliver_result_hold(const struct deliver_result *r)
{
	return r->outcome == OUTCOME_DEFERRED &&
	    (r->fail != DMX_FAIL_NONE || deliver_result_unreachable(r));
}

/* deliver_result_attempt - the record of the session that did the job,
 * or else the last one; NULL when there was none */
const struct deliver_attempt *
deliver_result_attempt(const struct deliver_result *r)
{
	if (r->used >= 0)
		return &r->att[r->used];
	return r->natt > 0 ? &r->att[r->natt - 1] : NULL;
}
