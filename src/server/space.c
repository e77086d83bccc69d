/*
 * space.c - the relay's side of the free-space reserve (queue_minfree):
 * new mail, from SMTP or the maildrop, enters the queue only while the
 * disk has more than the reserve free (queue_space()); the rest stays
 * for the queue's own writes (envelope updates, bounces), so that a
 * full disk never loses a result and sends mail twice.
 *
 * A refusal is logged at most once a minute, with how many were refused
 * meanwhile, so that a full disk does not fill the log too. Event loop
 * thread only; nothing is allocated.
 */
#include <stdio.h>
#include <time.h>

#include "log/log.h"
#include "server/server.h"

#define SPACE_LOG_EVERY	60	/* seconds between two refusal log lines */

static time_t		 logged;
static unsigned long	 unlogged;

/*
 * space_ok - may new mail of size octets (0 when not announced) enter
 * the queue now? 1 yes; 0 no (the caller says 452 4.3.1 or waits),
 * logged for who (e.g. "smtpd: MAIL from 192.0.2.1").
 */
int
space_ok(struct queue *q, unsigned long long size, const char *who)
{
	char	 why[256];
	time_t	 now;

	if (queue_space(q, size, why, sizeof(why)) == 0)
		return 1;
	now = time(NULL);
	if (now - logged >= SPACE_LOG_EVERY) {
		log_warnx("%s: new mail refused: %s (%lu more refused in the "
		    "last minute): the rest is kept for the queue's own "
		    "updates; free some space", who, why, unlogged);
		logged = now;
		unlogged = 0;
	} else
		unlogged++;
	return 0;
}
