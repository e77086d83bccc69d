/*
 * metrics.c - the Prometheus text exposition format, version 0.0.4:
 *
 *	# HELP danemx_x_total What it counts.
 *	# TYPE danemx_x_total counter
 *	danemx_x_total{status="sent",tls="dane-verified"} 3
 *
 * Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]*: a bad one is our bug, refused with -1. In a
 * HELP text a backslash and a line feed are escaped (\\, \n); in a label
 * value also a double quote (\"). Everything is appended to the caller's
 * buf, whose ceiling holds (-1 past it); nothing to free here.
 */
#include <inttypes.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/util.h"

/* name_ok - [a-zA-Z_(:)][a-zA-Z0-9_(:)]*, colons if colon */
static int
name_ok(const char *s, int colon)
{
	size_t	 i;
	char	 c;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; (c = s[i]) != '\0'; i++)
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (colon && c == ':') || (i > 0 && c >= '0' &&
		    c <= '9')))
			return 0;
	return 1;
}

/* metrics_name_ok - may s name a metric? */
int
metrics_name_ok(const char *s)
{
	return name_ok(s, 1);
}

/* escape - s into b with \\ and \n (and \" if quote) escaped */
static int
escape(struct buf *b, const char *s, int quote)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\\' && buf_add(b, "\\\\", 2) == -1)
			return -1;
		else if (*p == '\n' && buf_add(b, "\\n", 2) == -1)
			return -1;
		else if (*p == '"' && quote && buf_add(b, "\\\"", 2) == -1)
			return -1;
		else if (*p != '\\' && *p != '\n' && (*p != '"' || !quote) &&
		    buf_add(b, p, 1) == -1)
			return -1;
	}
	return 0;
}

/* metrics_family - the # HELP and # TYPE lines of a metric family */
int
metrics_family(struct buf *b, const char *name, enum metrics_type type,
    const char *help)
{
	if (!metrics_name_ok(name))
		return -1;
	if (buf_printf(b, "# HELP %s ", name) == -1 || escape(b, help, 0) ==
	    -1 || buf_printf(b, "\n# TYPE %s %s\n", name,
	    type == METRICS_COUNTER ? "counter" : "gauge") == -1)
		return -1;
	return 0;
}

/* metrics_sample - one line: name{label="value",...} value */
int
metrics_sample(struct buf *b, const char *name,
    const struct metrics_label *l, size_t n, uint64_t value)
{
	size_t	 i;

	if (!metrics_name_ok(name) || buf_adds(b, name) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (!name_ok(l[i].name, 0) || buf_printf(b, "%s%s=\"",
		    i == 0 ? "{" : ",", l[i].name) == -1 ||
		    escape(b, l[i].value != NULL ? l[i].value : "", 1) == -1 ||
		    buf_add(b, "\"", 1) == -1)
			return -1;
	}
	if ((n > 0 && buf_add(b, "}", 1) == -1) ||
	    buf_printf(b, " %" PRIu64 "\n", value) == -1)
		return -1;
	return 0;
}
