/*
 * cmd_check_scan.c - danemx check --file: read a list of domains one
 * line at a time, and say what the check of each found, in one line (or
 * one JSON object), then a summary: how many are DANE-verified, MTA-STS,
 * opportunistic, failing and why. With --suggest-bypass, it prints the
 * domains that fail DANE by their own records as bypass list entries
 * with an expiry instead.
 *
 * The checks themselves run in cmd_deliver.c, on one event loop, through
 * the same deliver_start() as `danemx check DOMAIN`; this file only
 * reads the list (parsed by src/util/domlist.c) and renders the
 * results it is lent (deliver.h's records, read, never re-decided).
 * Memory stays bounded: the parser's 64 KiB, counters, and the results
 * in flight (the caller's concurrency).
 * scan_free() frees the scan and closes its file.
 */
#include <sys/resource.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/check_scan.h"
#include "cli/cli.h"
#include "deliver/deliver.h"
#include "util/domlist.h"
#include "util/util.h"

#define SCAN_CLASSES	32	/* distinct failure classes counted */

/* The verdicts a domain can get, in the summary's order. */
enum scan_verdict {
	SV_DANE, SV_STS, SV_VERIFIED, SV_ENCRYPTED, SV_OPPORTUNISTIC,
	SV_CLEARTEXT, SV_FAILED, SV_NVERDICT
};
static const char *const verdict_names[SV_NVERDICT] = {
	"dane-verified", "sts-verified", "verified", "encrypted",
	"opportunistic", "cleartext", "failed"
};

struct scan_class {
	const char	*name;		/* static (fail_name()) */
	size_t		 n;
};

struct scan {
	struct scan_opts	 o;
	int			 fd;		/* the list */
	const char		*name;		/* for messages */
	struct domlist		 dl;		/* its parser (64 KiB) */
	int			 ioerr;
	int			 interrupted;	/* SIGINT: the list not read */
	size_t			 ndone, nmalformed, nsuggested;
	size_t			 verdicts[SV_NVERDICT];
	struct scan_class	 classes[SCAN_CLASSES];
	size_t			 nclass;
	struct timespec		 t0, last_progress;
	int			 progress_shown;
	FILE			*out;		/* lines and summary */
};

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* scan_open - open the list (or stdin for "-"); NULL and err on failure */
struct scan *
scan_open(const struct scan_opts *o, char *err, size_t errlen)
{
	struct scan	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	domlist_init(&s->dl);
	if (strcmp(o->path, "-") == 0) {
		s->fd = STDIN_FILENO;
		s->name = "stdin";
	} else if ((s->fd = open(o->path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
		free(s);
		return NULL;
	} else
		s->name = o->path;
	/* Bypass entries alone on stdout, ready for the bypass list. */
	s->out = o->suggest ? stderr : stdout;
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	s->last_progress = s->t0;
	return s;
}

/*
 * scan_fit - how many checks may run at once, at most want: each takes
 * up to two descriptors (an SMTP session and an MTA-STS fetch), and the
 * resolver and the rest keep 64. The soft limit is raised toward the
 * hard one if need be; if that is not enough, fewer run at once (said
 * on stderr) rather than fail with "too many open files".
 */
size_t
scan_fit(size_t want)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)want * 2 + 64;
	size_t		 fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return want;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
		rl.rlim_cur = need;
	else
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return want;
	fit = rl.rlim_cur > 66 ? (size_t)(rl.rlim_cur - 64) / 2 : 1;
	fprintf(stderr, "danemx check: %zu checks at once, not %zu: the limit "
	    "of open files is %llu\n", fit, want,
	    (unsigned long long)rl.rlim_cur);
	return fit;
}

/* scan_free - close the list and free the scan */
void
scan_free(struct scan *s)
{
	if (s == NULL)
		return;
	if (s->fd > STDIN_FILENO)
		close(s->fd);
	free(s);
}

/* scan_fd - the list's descriptor: when scan_next() says SCAN_WAIT,
 * wait until it is readable */
int
scan_fd(const struct scan *s)
{
	return s->fd;
}

/* malformed_line - say which line is wrong and why; the scan goes on */
static void
malformed_line(struct scan *s, const char *shown, const char *why)
{
	s->nmalformed++;
	fprintf(stderr, "%sdanemx check: %s:%lu: '%s': %s; line skipped\n",
	    s->progress_shown ? "\r\033[K" : "", s->name, s->dl.lineno, shown,
	    why);
}

/* fill - feed the parser what can be read now without blocking on a
 * pipe or terminal: 1 read something (or reached the end), 0 nothing to
 * read yet */
static int
fill(struct scan *s)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	size_t		 room;
	char		*p;

	pfd.fd = s->fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) == 0)
		return 0;
	room = domlist_space(&s->dl, &p);
	n = read(s->fd, p, room);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == -1) {
		s->ioerr = errno;
		fprintf(stderr, "danemx check: %s: read error after line %lu: "
		    "%s\n", s->name, s->dl.lineno, strerror(errno));
	}
	if (n <= 0)
		domlist_end(&s->dl);
	else
		domlist_added(&s->dl, (size_t)n);
	return 1;
}

/*
 * scan_next - the next domain of the list into domain: SCAN_DOMAIN, or
 * SCAN_WAIT when the list has no whole line to read yet (wait for
 * scan_fd()), or SCAN_END at its end (or when it cannot be read:
 * scan_finish() says so). Blank lines and '#' comments are skipped; a
 * malformed line is reported with its number and skipped (domlist.c).
 */
int
scan_next(struct scan *s, char *domain, size_t len)
{
	char		 shown[DOMLIST_SHOW_MAX];
	const char	*why;

	for (;;) {
		switch (domlist_next(&s->dl, domain, len, &why)) {
		case DOMLIST_DOMAIN:
			return SCAN_DOMAIN;
		case DOMLIST_BAD:
			strlcpy_(shown, domain, sizeof(shown));
			malformed_line(s, shown, why);
			continue;
		}
		if (s->dl.eof)
			return SCAN_END;
		if (!fill(s))
			return SCAN_WAIT;
	}
}

/* verdict - what the check of one domain says: failed, or the weakest
 * TLS among the hosts that passed (a delivery may take any of them) */
static enum scan_verdict
verdict(const struct deliver_result *r)
{
	const struct deliver_attempt	*a;
	enum tls_achieved		 w = TLS_ACH_STS_VERIFIED;
	size_t				 i, n = 0;

	if (r->outcome != OUTCOME_ACCEPTED)
		return SV_FAILED;
	for (i = 0; i < r->natt; i++) {
		a = &r->att[i];
		if (a->skipped || !a->ok)
			continue;
		n++;
		if (a->tls == TLS_ACH_DANE_VERIFIED && w == TLS_ACH_STS_VERIFIED)
			w = TLS_ACH_DANE_VERIFIED;
		else if (a->tls < TLS_ACH_DANE_VERIFIED && a->tls < w)
			w = a->tls;
	}
	if (n == 0)
		return SV_FAILED;
	switch (w) {
	case TLS_ACH_DANE_VERIFIED:	return SV_DANE;
	case TLS_ACH_STS_VERIFIED:	return SV_STS;
	case TLS_ACH_VERIFIED:		return SV_VERIFIED;
	case TLS_ACH_ENCRYPTED:		return SV_ENCRYPTED;
	case TLS_ACH_OPPORTUNISTIC:	return SV_OPPORTUNISTIC;
	case TLS_ACH_NONE:		break;
	}
	return SV_CLEARTEXT;
}

/* fail_class - the name of a failed domain's failure class: the one its
 * result names, else the route's, else its last session's */
static const char *
fail_class(const struct deliver_result *r)
{
	const struct deliver_attempt	*a;

	if (r->fail != DMX_FAIL_NONE)
		return fail_name(r->fail);
	if (r->route == NULL)
		return "dns-error";
	if (r->route->null_mx)
		return "null-mx";
	if (r->route->mx_nxdomain)
		return "no-such-domain";
	if (r->route->failed)
		return r->route->rt != DMX_FAIL_NONE ?
		    fail_name(r->route->rt) : "dns-error";
	if ((a = deliver_result_attempt(r)) != NULL && a->fail != DMX_FAIL_NONE)
		return fail_name(a->fail);
	return "unreachable";
}

/*
 * suggest - does the domain fail DANE by its own records, so that a
 * bypass entry would let its mail go (over unauthenticated TLS)? Only
 * when no host passed and the failure is the server's certificate
 * against the domain's secure TLSA records: no match (tlsa-invalid), or
 * under DANE-TA a wrong name, an expired or unchained certificate. Not a
 * bogus answer (an attacker, or our own resolver or clock, cannot be
 * told from the receiver there), nor a missing STARTTLS (the bypass
 * never means cleartext), nor DNS, connection or MTA-STS failures.
 */
static int
suggest(const struct deliver_result *r)
{
	size_t	 i;

	if (r->outcome == OUTCOME_ACCEPTED || r->used >= 0 ||
	    r->route == NULL || r->route->bypass)
		return 0;
	switch (r->fail) {
	case DMX_FAIL_TLSA_INVALID:
	case DMX_FAIL_CERT_HOST_MISMATCH:
	case DMX_FAIL_CERT_EXPIRED:
	case DMX_FAIL_CERT_NOT_TRUSTED:
	case DMX_FAIL_VALIDATION:
		break;
	default:
		return 0;
	}
	for (i = 0; i < r->natt; i++)
		if (r->att[i].dane_failed && !r->att[i].skipped &&
		    r->att[i].fail == r->fail &&
		    r->att[i].policy == DELIVER_POLICY_TLSA)
			return 1;
	return 0;
}

static void
count_class(struct scan *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->nclass; i++)
		if (strcmp(s->classes[i].name, name) == 0) {
			s->classes[i].n++;
			return;
		}
	if (s->nclass < SCAN_CLASSES) {
		s->classes[s->nclass].name = name;
		s->classes[s->nclass++].n = 1;
	}
}

/* json_line - one domain as one JSON object on one line */
static void
json_line(struct buf *b, const struct deliver_result *r,
    enum scan_verdict v, const char *cls, int code, int sug)
{
	const struct deliver_attempt	*a, *u;
	size_t				 i;

	u = r->used >= 0 ? &r->att[r->used] : NULL;
	buf_adds(b, "{");
	json_kv_str(b, "domain", r->domain);
	buf_adds(b, ",");
	json_kv_str(b, "verdict", verdict_names[v]);
	buf_adds(b, ",");
	json_kv_int(b, "exit", code);
	buf_adds(b, ",");
	json_kv_str(b, "fail", cls);
	buf_adds(b, ",");
	json_kv_str(b, "why", r->why);
	buf_adds(b, ",");
	json_kv_str(b, "mx", u != NULL ? r->route->hosts[u->host].name : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "address", u != NULL ? u->addr : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "tls", u != NULL ? deliver_tls_str(u->tls) : NULL);
	buf_adds(b, ",");
	json_kv_str(b, "matched", u != NULL && u->have_verdict ?
	    u->verdict.matched_text : NULL);
	buf_adds(b, ",");
	if (u != NULL && u->have_verdict && u->verdict.matched >= 0)
		json_kv_int(b, "depth", u->verdict.depth);
	else
		buf_adds(b, "\"depth\":null");
	buf_adds(b, ",");
	json_kv_bool(b, "bypass", r->route != NULL && r->route->bypass);
	buf_adds(b, ",");
	json_kv_bool(b, "bypass_suggested", sug);
	buf_adds(b, ",\"hosts\":[");
	for (i = 0; i < r->natt; i++) {
		a = &r->att[i];
		buf_adds(b, i ? ",{" : "{");
		json_kv_str(b, "host", r->route->hosts[a->host].name);
		buf_adds(b, ",");
		json_kv_str(b, "address", a->skipped ? NULL : a->addr);
		buf_adds(b, ",");
		json_kv_str(b, "tls", a->skipped ? NULL : deliver_tls_str(a->tls));
		buf_adds(b, ",");
		json_kv_str(b, "matched", a->have_verdict ?
		    a->verdict.matched_text : NULL);
		buf_adds(b, ",");
		if (a->have_verdict && a->verdict.matched >= 0)
			json_kv_int(b, "depth", a->verdict.depth);
		else
			buf_adds(b, "\"depth\":null");
		buf_adds(b, ",");
		json_kv_str(b, "fail", a->fail == DMX_FAIL_NONE ? NULL :
		    fail_name(a->fail));
		buf_adds(b, "}");
	}
	buf_adds(b, "]}");
}

/* text_line - one domain in one line */
static void
text_line(FILE *fp, const struct deliver_result *r, enum scan_verdict v,
    const char *cls)
{
	const struct deliver_attempt	*u;

	u = r->used >= 0 ? &r->att[r->used] : NULL;
	if (v == SV_FAILED || u == NULL) {
		fprintf(fp, "%s: failed [%s]: %s\n", r->domain, cls, r->why);
		return;
	}
	fprintf(fp, "%s: %s via %s[%s]", r->domain, verdict_names[v],
	    r->route->hosts[u->host].name, u->addr);
	if (u->have_verdict && u->verdict.matched >= 0 &&
	    u->tls == TLS_ACH_DANE_VERIFIED)
		fprintf(fp, ": %u %u %u at depth %d", u->verdict.m_usage,
		    u->verdict.m_selector, u->verdict.m_mtype, u->verdict.depth);
	fputc('\n', fp);
}

/* scan_result - print one domain's result and count it; code is the
 * exit status check gives it */
void
scan_result(struct scan *s, const struct deliver_result *r, int code)
{
	enum scan_verdict	 v = verdict(r);
	const char		*cls = v == SV_FAILED ? fail_class(r) : NULL;
	struct buf		 b;
	int			 sug = v == SV_FAILED && suggest(r);

	s->ndone++;
	s->verdicts[v]++;
	if (cls != NULL)
		count_class(s, cls);
	if (s->progress_shown) {
		fputs("\r\033[K", stderr);
		s->progress_shown = 0;
	}
	if (s->o.json) {
		buf_init(&b, 1024 * 1024);
		json_line(&b, r, v, cls, code, sug);
		if (b.data != NULL)
			printf("%s\n", b.data);
		buf_free(&b);
	} else
		text_line(s->out, r, v, cls);
	if (sug) {
		s->nsuggested++;
		if (s->o.suggest)
			printf("%s for %u" "d # %s (danemx check)\n", r->domain,
			    s->o.bypass_days, cls);
	}
	fflush(stdout);
}

/* scan_progress - the progress line on stderr, at most 5 times a second */
void
scan_progress(struct scan *s, size_t running)
{
	struct timespec	 now;
	double		 t;

	if (!s->o.progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (elapsed(&s->last_progress, &now) < 0.2)
		return;
	s->last_progress = now;
	t = elapsed(&s->t0, &now);
	fprintf(stderr, "\rdanemx check: %zu checked, %zu running, %zu failed, "
	    "%zu malformed, line %lu (%.1f domains/s)\033[K", s->ndone,
	    running, s->verdicts[SV_FAILED], s->nmalformed, s->dl.lineno,
	    t > 0 ? (double)s->ndone / t : 0.0);
	s->progress_shown = 1;
}

/* scan_interrupted - SIGINT: no more of the list is read; say so */
void
scan_interrupted(struct scan *s, size_t running)
{
	s->interrupted = 1;
	fprintf(stderr, "%sdanemx check: interrupted after line %lu",
	    s->progress_shown ? "\r\033[K" : "", s->dl.lineno);
	if (running > 0)
		fprintf(stderr, "; finishing the %zu check%s running "
		    "(interrupt again to quit now)", running,
		    running == 1 ? "" : "s");
	fputc('\n', stderr);
	s->progress_shown = 0;
}

/* class_cmp - failure classes, most frequent first, then by name */
static int
class_cmp(const void *a, const void *b)
{
	const struct scan_class	*x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * scan_finish - the summary; the exit status: worst (the worst status
 * over the domains) if any failed, else 130 when interrupted, 74 when the
 * list could not be read to its end, 65 when a line was malformed, 0
 * when all is well
 */
int
scan_finish(struct scan *s, int worst)
{
	struct timespec	 now;
	struct buf	 b;
	double		 t;
	size_t		 i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	t = elapsed(&s->t0, &now);
	qsort(s->classes, s->nclass, sizeof(s->classes[0]), class_cmp);
	if (s->progress_shown)
		fputs("\r\033[K", stderr);
	if (s->o.json) {
		buf_init(&b, 64 * 1024);
		buf_printf(&b, "{\"summary\":{\"domains\":%zu,\"seconds\":%.3f,"
		    "\"domains_per_second\":%.1f,\"verdicts\":{", s->ndone, t,
		    t > 0 ? (double)s->ndone / t : 0.0);
		for (i = 0; i < SV_NVERDICT; i++) {
			if (i)
				buf_adds(&b, ",");
			json_kv_int(&b, verdict_names[i],
			    (long long)s->verdicts[i]);
		}
		buf_adds(&b, "},\"failures\":{");
		for (i = 0; i < s->nclass; i++) {
			if (i)
				buf_adds(&b, ",");
			json_kv_int(&b, s->classes[i].name,
			    (long long)s->classes[i].n);
		}
		buf_printf(&b, "},\"bypass_suggested\":%zu,\"malformed_lines\":"
		    "%zu,\"complete\":%s,\"interrupted\":%s}}", s->nsuggested,
		    s->nmalformed, s->ioerr || s->interrupted ? "false" : "true",
		    s->interrupted ? "true" : "false");
		if (b.data != NULL)
			printf("%s\n", b.data);
		buf_free(&b);
	} else {
		fprintf(s->out, "summary: %zu domains in %.2f s (%.1f domains/s)\n",
		    s->ndone, t, t > 0 ? (double)s->ndone / t : 0.0);
		for (i = 0; i < SV_NVERDICT; i++)
			fprintf(s->out, "  %-18s%zu\n", verdict_names[i],
			    s->verdicts[i]);
		for (i = 0; i < s->nclass; i++)
			fprintf(s->out, "    %-28s%zu\n", s->classes[i].name,
			    s->classes[i].n);
		fprintf(s->out, "  %-18s%zu\n", "bypass suggested",
		    s->nsuggested);
		fprintf(s->out, "  %-18s%zu\n", "malformed lines",
		    s->nmalformed);
		if (s->ioerr)
			fprintf(s->out, "  the list was not read to its end\n");
		if (s->interrupted)
			fprintf(s->out, "  interrupted after line %lu\n",
			    s->dl.lineno);
	}
	fflush(stdout);
	if (worst != 0)
		return worst;
	if (s->interrupted)
		return 128 + SIGINT;
	if (s->ioerr)
		return EX_IOERR;
	return s->nmalformed > 0 ? EX_DATAERR : 0;
}
