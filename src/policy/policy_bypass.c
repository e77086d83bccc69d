/*
 * policy_bypass.c - the expiry of a DANE bypass entry, read and written.
 *
 * After the domain, a bypass line may say (policy_table.c reads the rest):
 *
 *	until WHEN		applies through WHEN
 *	for DURATION added WHEN	applies for DURATION after WHEN
 *	added WHEN		when the entry was made (danemx bypass add)
 *	YYYY-MM-DD		the old form: "until YYYY-MM-DD"
 *
 * WHEN is a UTC date, YYYY-MM-DD (for "until": through the end of that
 * day, 23:59:59 UTC; for "added": its start), or a UTC time,
 * YYYY-MM-DDTHH:MM:SSZ. DURATION is a number and one of s, m, h, d, w.
 * "for" without "added" is refused: a relative expiry needs an anchor,
 * and neither the file's mtime (any edit would move it) nor the time the
 * relay first read the line (each reader would see another expiry) is
 * one an operator can see. danemx bypass add --for writes "until".
 *
 * Nothing is allocated; nothing logs.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy/policy.h"
#include "util/util.h"

/* digits - n decimal digits at s */
static int
digits(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * policy_bypass_when - "YYYY-MM-DD" (00:00:00, or 23:59:59 when
 * end_of_day) or "YYYY-MM-DDTHH:MM:SSZ", UTC; -1 if it is neither or
 * names no real day (2026-02-30)
 */
int
policy_bypass_when(const char *s, int end_of_day, time_t *out)
{
	struct tm	 tm, back;
	size_t		 len = strlen(s);
	time_t		 t;

	if ((len != 10 && len != 20) || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
	tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
	if (len == 20) {
		if (s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
		    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2) ||
		    s[19] != 'Z')
			return -1;
		tm.tm_hour = (s[11] - '0') * 10 + (s[12] - '0');
		tm.tm_min = (s[14] - '0') * 10 + (s[15] - '0');
		tm.tm_sec = (s[17] - '0') * 10 + (s[18] - '0');
	} else if (end_of_day) {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
	}
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 59)
		return -1;
	back = tm;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	/* timegm() moves 2026-02-30 to March: refuse what moved. */
	if (tm.tm_mday != back.tm_mday || tm.tm_mon != back.tm_mon ||
	    tm.tm_year != back.tm_year)
		return -1;
	*out = t;
	return 0;
}

/* policy_bypass_duration - "7d", "12h", "90m", "2w", "3600s"; -1 if
 * not one, 0 or longer than POLICY_BYPASS_FOR_MAX */
int
policy_bypass_duration(const char *s, time_t *out)
{
	unsigned long	 n = 0;
	long		 mul;
	size_t		 i, len = strlen(s);

	if (len < 2 || len > 12 || !digits(s, len - 1))
		return -1;
	for (i = 0; i < len - 1; i++)
		n = n * 10 + (unsigned long)(s[i] - '0');
	switch (s[len - 1]) {
	case 's':	mul = 1; break;
	case 'm':	mul = 60; break;
	case 'h':	mul = 3600; break;
	case 'd':	mul = 86400; break;
	case 'w':	mul = 7 * 86400; break;
	default:	return -1;
	}
	if (n == 0 || n > (unsigned long)(POLICY_BYPASS_FOR_MAX / mul))
		return -1;
	*out = (time_t)n * mul;
	return 0;
}

/*
 * policy_bypass_expiry - the words after the domain (n of them, maybe
 * 0): expires (0: never) and added (0: not said); -1 with err
 */
int
policy_bypass_expiry(char **f, size_t n, time_t *expires, time_t *added,
    char *err, size_t errlen)
{
	const char	*until = NULL, *dur = NULL, *add = NULL;
	time_t		 d = 0;
	size_t		 i = 0;

	*expires = *added = 0;
	if (n > 0 && policy_bypass_when(f[0], 1, expires) == 0)
		i = 1;		/* "domain YYYY-MM-DD" */
	else if (n > 0 && isdigit((unsigned char)f[0][0])) {
		snprintf(err, errlen, "'%.*s' is not a date (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ, UTC)", 40, f[0]);
		return -1;
	}
	for (; i < n; i += 2) {
		const char **slot;

		if (strcasecmp(f[i], "until") == 0)
			slot = &until;
		else if (strcasecmp(f[i], "for") == 0)
			slot = &dur;
		else if (strcasecmp(f[i], "added") == 0)
			slot = &add;
		else {
			snprintf(err, errlen, "unknown word '%.*s' (expected "
			    "'domain [until DATE | for DURATION added DATE] "
			    "[added DATE] [# comment]')", 40, f[i]);
			return -1;
		}
		if (*slot != NULL || i + 1 >= n) {
			snprintf(err, errlen, "'%s' %s", f[i], *slot != NULL ?
			    "given twice" : "needs a value");
			return -1;
		}
		*slot = f[i + 1];
	}
	if ((until != NULL && (dur != NULL || *expires != 0))) {
		snprintf(err, errlen, "two expiries: give one of 'until' and "
		    "'for'");
		return -1;
	}
	if (until != NULL && policy_bypass_when(until, 1, expires) == -1) {
		snprintf(err, errlen, "'%.*s' is not a date (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ, UTC)", 40, until);
		return -1;
	}
	if (add != NULL && policy_bypass_when(add, 0, added) == -1) {
		snprintf(err, errlen, "'%.*s' is not a date (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ, UTC)", 40, add);
		return -1;
	}
	if (dur != NULL) {
		if (policy_bypass_duration(dur, &d) == -1) {
			snprintf(err, errlen, "'%.*s' is not a duration like "
			    "12h, 7d or 2w (at most 10 years)", 40, dur);
			return -1;
		}
		if (add == NULL) {
			snprintf(err, errlen, "'for %.*s' needs an anchor: "
			    "write 'for %.*s added YYYY-MM-DD', or 'until "
			    "DATE' (danemx bypass add --for writes it)", 20,
			    dur, 20, dur);
			return -1;
		}
		*expires = *added + d;
	}
	return 0;
}

/* policy_bypass_time_str - t as "YYYY-MM-DDTHH:MM:SSZ" (UTC) */
void
policy_bypass_time_str(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/*
 * policy_bypass_key - what names an entry for the relay's retirement:
 * its pattern, expiry and added time. An entry whose line changes in
 * one of them (danemx bypass add stamps a new "added") is a new entry,
 * and a retirement of the old one no longer applies to it.
 */
void
policy_bypass_key(const struct policy_entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s expires=%lld added=%lld", e->pattern,
	    (long long)e->expires, (long long)e->added);
}

/*
 * policy_bypass_recheckable - can a recheck check this entry's pattern
 * as one destination? 1 for a domain and for a host next hop,
 * "[mx.example.org]" or "[mx.example.org]:PORT" (checked as that next
 * hop: its addresses and TLSA records); 0 with why for ".domain" (many
 * domains) and an address literal, "[192.0.2.1]:25", where DANE never
 * applies (why is static).
 */
int
policy_bypass_recheckable(const char *pattern, const char **why)
{
	struct net_addr	 a;
	unsigned	 port;

	if (pattern[0] == '.') {
		*why = "not one domain";
		return 0;
	}
	if (pattern[0] == '[' && addr_parse_literal(pattern, &a, &port) == 0) {
		*why = "an address literal: DANE does not apply";
		return 0;
	}
	*why = NULL;
	return 1;
}
