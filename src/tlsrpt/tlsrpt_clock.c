/*
 * tlsrpt_clock.c - the clock TLS-RPT counts days by: time(NULL), or, for
 * tests, a clock that starts at DANEMX_TLSRPT_CLOCK=YYYY-MM-DDTHH:MM:SSZ
 * when first read and runs at the real rate (docs/tlsrpt.md). It is used
 * for the day a result is recorded under and the report schedule only,
 * never for certificates, DNSSEC or the queue. Nothing to free.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "tlsrpt/tlsrpt.h"

static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static time_t		 offset;	/* added to time(NULL) */

/* tlsrpt_parse_time - "YYYY-MM-DDTHH:MM:SSZ" (UTC); 0, or -1 */
int
tlsrpt_parse_time(const char *s, time_t *out)
{
	struct tm	 tm;
	int		 n = -1;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, &n) != 6 || n != 20 || tm.tm_year < 1970 ||
	    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 59)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

/* clock_init - the offset of the test clock, once per process */
static void
clock_init(void)
{
	const char	*v = getenv(TLSRPT_CLOCK_ENV);
	time_t		 t;

	if (v == NULL || v[0] == '\0')
		return;
	if (tlsrpt_parse_time(v, &t) == -1) {
		log_warnx("%s=%.40s is not YYYY-MM-DDTHH:MM:SSZ; TLS reports "
		    "use the real clock", TLSRPT_CLOCK_ENV, v);
		return;
	}
	offset = t - time(NULL);
	log_info("TLS reports count days from %s (%s)", v, TLSRPT_CLOCK_ENV);
}

/* tlsrpt_now - the time TLS-RPT days are counted by */
time_t
tlsrpt_now(void)
{
	pthread_once(&once, clock_init);
	return time(NULL) + offset;
}

/* tlsrpt_day - the UTC day of t, "YYYY-MM-DD"; 0, or -1 */
int
tlsrpt_day(time_t t, char out[TLSRPT_DAY_LEN])
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, TLSRPT_DAY_LEN,
	    "%Y-%m-%d", &tm) != 10)
		return -1;
	return 0;
}

/* tlsrpt_day_add - the day days after day (before, if negative) */
int
tlsrpt_day_add(const char *day, int days, char out[TLSRPT_DAY_LEN])
{
	char	 s[32];
	time_t	 t;

	if (strlen(day) != 10)
		return -1;
	snprintf(s, sizeof(s), "%sT12:00:00Z", day);
	if (tlsrpt_parse_time(s, &t) == -1)
		return -1;
	return tlsrpt_day(t + (time_t)days * 86400, out);
}
