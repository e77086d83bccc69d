/*
 * test_metrics.c - the Prometheus text format (0.0.4): HELP and TYPE
 * lines, samples with and without labels, escaping of backslashes, line
 * feeds and double quotes (label values) and of backslashes and line
 * feeds (HELP), bad metric and label names refused, and the buffer's
 * ceiling kept.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "t.h"
#include "util/util.h"

static const struct sample_case {
	const char	*name;
	const char	*lname[2], *lvalue[2];
	size_t		 nl;
	uint64_t	 v;
	const char	*want;		/* NULL: refused */
} samples[] = {
	{ "danemx_x", { NULL }, { NULL }, 0, 0, "danemx_x 0\n" },
	{ "danemx_x_total", { "status", "tls" }, { "sent", "dane-verified" },
	    2, 18446744073709551615ULL,
	    "danemx_x_total{status=\"sent\",tls=\"dane-verified\"} "
	    "18446744073709551615\n" },
	{ "quote", { "v" }, { "a\"b" }, 1, 1, "quote{v=\"a\\\"b\"} 1\n" },
	{ "backslash", { "v" }, { "C:\\dir\\" }, 1, 2,
	    "backslash{v=\"C:\\\\dir\\\\\"} 2\n" },
	{ "newline", { "v" }, { "line1\nline2" }, 1, 3,
	    "newline{v=\"line1\\nline2\"} 3\n" },
	{ "all", { "v" }, { "\\\"\n" }, 1, 4, "all{v=\"\\\\\\\"\\n\"} 4\n" },
	{ "utf8", { "v" }, { "\xc3\xa9t\xc3\xa9" }, 1, 5,
	    "utf8{v=\"\xc3\xa9t\xc3\xa9\"} 5\n" },
	{ "empty", { "v" }, { "" }, 1, 6, "empty{v=\"\"} 6\n" },
	{ "ns:colon_ok", { NULL }, { NULL }, 0, 7, "ns:colon_ok 7\n" },
	{ "9starts_with_digit", { NULL }, { NULL }, 0, 0, NULL },
	{ "has-dash", { NULL }, { NULL }, 0, 0, NULL },
	{ "", { NULL }, { NULL }, 0, 0, NULL },
	{ "ok", { "has:colon" }, { "x" }, 1, 0, NULL },
	{ "ok", { "1digit" }, { "x" }, 1, 0, NULL },
	{ "ok", { "sp ace" }, { "x" }, 1, 0, NULL },
};

static void
test_samples(void)
{
	const struct sample_case	*c;
	struct metrics_label		 l[2];
	struct buf			 b;
	size_t				 i, k;
	int				 r;

	for (i = 0; i < DMX_NELEM(samples); i++) {
		c = &samples[i];
		for (k = 0; k < c->nl; k++) {
			l[k].name = c->lname[k];
			l[k].value = c->lvalue[k];
		}
		buf_init(&b, 4096);
		r = metrics_sample(&b, c->name, l, c->nl, c->v);
		if (c->want == NULL)
			T_CHECK(r == -1, "%s: accepted a bad name: %s", c->name,
			    b.data ? b.data : "");
		else
			T_CHECK(r == 0 && b.data != NULL &&
			    strcmp(b.data, c->want) == 0,
			    "%s: got '%s', want '%s'", c->name,
			    b.data ? b.data : "(null)", c->want);
		buf_free(&b);
	}
}

static void
test_family(void)
{
	struct buf	 b;
	const char	*want;

	buf_init(&b, 4096);
	want = "# HELP danemx_q_total Counts \"things\": a\\\\b, two\\nlines.\n"
	    "# TYPE danemx_q_total counter\n";
	T_CHECK(metrics_family(&b, "danemx_q_total", METRICS_COUNTER,
	    "Counts \"things\": a\\b, two\nlines.") == 0 && b.data != NULL &&
	    strcmp(b.data, want) == 0, "counter HELP: got '%s', want '%s'",
	    b.data ? b.data : "(null)", want);
	buf_reset(&b);
	T_CHECK(metrics_family(&b, "danemx_g", METRICS_GAUGE, "G.") == 0 &&
	    b.data != NULL && strcmp(b.data, "# HELP danemx_g G.\n"
	    "# TYPE danemx_g gauge\n") == 0, "gauge: got '%s'",
	    b.data ? b.data : "(null)");
	buf_reset(&b);
	T_CHECK(metrics_family(&b, "bad name", METRICS_GAUGE, "x") == -1,
	    "family with a bad name accepted");
	buf_free(&b);
}

/* test_ceiling - a scrape larger than its buffer fails, never grows */
static void
test_ceiling(void)
{
	struct metrics_label	 l = { "v", "0123456789" };
	struct buf		 b;
	int			 i, r = 0;

	buf_init(&b, 100);
	for (i = 0; i < 10 && r == 0; i++)
		r = metrics_sample(&b, "danemx_fill", &l, 1, (uint64_t)i);
	T_CHECK(r == -1 && b.len <= 100, "past the ceiling: r %d len %zu", r,
	    b.len);
	buf_free(&b);
}

int
main(void)
{
	test_samples();
	test_family();
	test_ceiling();
	return t_done("test_metrics");
}
