/*
 * log.c - plain one-line logging to stderr or syslog.
 *
 * Lines go to stderr as "ident: message" (info lines without the
 * prefix, so the CLI reads like posttls-finger), or to syslog(3) with
 * LOG_MAIL. Nothing here allocates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log/log.h"

static const char *log_ident = "danemx";
static int log_syslog;
static int log_verbose;		/* 0: info, 1+: debug */
static int log_quiet;		/* suppress info (e.g. --json --quiet) */

/* log_init - choose destination and verbosity; call once at startup */
void
log_init(const char *ident, int to_syslog, int verbosity)
{
	log_ident = ident;
	log_syslog = to_syslog;
	log_verbose = verbosity;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_set_quiet - drop info lines (warnings and errors still show) */
void
log_set_quiet(int q)
{
	log_quiet = q;
}

static void __attribute__((format(printf, 3, 0)))
vlog(int pri, const char *prefix, const char *fmt, va_list ap, int err)
{
	char	 msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ": %s",
		    strerror(err));
	if (log_syslog) {
		syslog(pri, "%s%s", prefix, msg);
		return;
	}
	if (pri == LOG_INFO || pri == LOG_DEBUG)
		fprintf(stderr, "%s%s\n", prefix, msg);
	else
		fprintf(stderr, "%s: %s%s\n", log_ident, prefix, msg);
}

/* log_warn - warning with strerror(errno) appended */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "", fmt, ap, e);
	va_end(ap);
}

/* log_warnx - warning */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "", fmt, ap, 0);
	va_end(ap);
}

/* log_info - one event an operator wants to see */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, "", fmt, ap, 0);
	va_end(ap);
}

/* log_debug - detail shown with -v */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, "debug: ", fmt, ap, 0);
	va_end(ap);
}

/* fatal - broken setup: log with strerror(errno) and exit */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap, e);
	va_end(ap);
	exit(1);
}

/* fatalx - our own bug: log and exit */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
