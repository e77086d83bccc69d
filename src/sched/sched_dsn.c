/*
 * sched_dsn.c - delivery status notifications (RFC 3464) for failed
 * recipients.
 *
 * sched_dsn_build() writes a multipart/report to out: a human part
 * saying what failed and why (e.g. "TLSA record did not match"), the
 * message/delivery-status part, and the original headers. The DSN goes
 * to the envelope sender from the null sender, so it is never bounced.
 * The bounce of a message that asked for "TLS-Required: No" asks for it
 * too (RFC 8689 6: a reoriginated message keeps the request); any other
 * bounce carries the original's headers and keeps its protection.
 * The caller owns out (and frees it with buf_free()); nothing else is
 * allocated.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"
#include "util/util.h"

/* status_of - an RFC 3463 code from a last-result text, or a default */
static void
status_of(const char *last, char *out, size_t outlen)
{
	const char	*p;
	int		 a, b, c;

	for (p = last; p != NULL && *p != '\0'; p++) {
		if (sscanf(p, "%1d.%3d.%3d", &a, &b, &c) == 3 && a == 5 &&
		    (p == last || p[-1] == ' ')) {
			snprintf(out, outlen, "%d.%d.%d", a, b, c);
			return;
		}
	}
	strlcpy_(out, "5.0.0", outlen);
}

/* smtp_reply_text - "550 5.1.1 ...": a server's reply, not our words */
static int
smtp_reply_text(const char *s)
{
	return (s[0] == '4' || s[0] == '5') && s[1] >= '0' && s[1] <= '9' &&
	    s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '\0');
}

/*
 * diag - a recipient's last result as the DSN may carry it: printable
 * ASCII only (the parts say us-ascii; the text may quote a remote
 * server, or an envelope written by an older danemx), one line
 */
static const char *
diag(const char *last, char *out, size_t outlen)
{
	strlcpy_(out, last != NULL ? last : "failed", outlen);
	str_printable(out, strlen(out));
	return out;
}

/* sched_dsn_build - the bounce for every FAILED recipient of e */
int
sched_dsn_build(struct buf *out, const struct queue_env *e,
    const char *orig, size_t origlen, const char *host, time_t now)
{
	const char	*hdr_end;
	char		 date[64], arrival[64], status[16], text[1024];
	const char	*last;
	size_t		 i, hlen;
	int		 r = 0;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	strftime(arrival, sizeof(arrival), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&e->created));
	r |= buf_printf(out,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Date: %s\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "%s"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s/%s\"\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n"
	    "\r\n"
	    "--%s/%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "This is the mail system at host %s.\r\n"
	    "\r\n"
	    "Your message could not be delivered to one or more recipients.\r\n"
	    "\r\n", host, e->sender, date,
	    e->tls_required_no ? "TLS-Required: No\r\n" : "",
	    e->id, host, e->id, host, host);
	for (i = 0; i < e->nrcpt; i++)
		if (e->rcpt[i].state == RCPT_FAILED)
			r |= buf_printf(out, "<%s>: %s\r\n", e->rcpt[i].addr,
			    diag(e->rcpt[i].last, text, sizeof(text)));
	r |= buf_printf(out,
	    "\r\n--%s/%s\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; %s\r\n"
	    "X-Danemx-Queue-ID: %s\r\n"
	    "Arrival-Date: %s\r\n", e->id, host, host, e->id, arrival);
	for (i = 0; i < e->nrcpt; i++) {
		if (e->rcpt[i].state != RCPT_FAILED)
			continue;
		status_of(e->rcpt[i].last, status, sizeof(status));
		last = diag(e->rcpt[i].last, text, sizeof(text));
		/* RFC 3464 2.3.6: "smtp" when it is the server's reply. */
		r |= buf_printf(out,
		    "\r\n"
		    "Final-Recipient: rfc822; %s\r\n"
		    "Action: failed\r\n"
		    "Status: %s\r\n"
		    "Diagnostic-Code: %s; %s\r\n", e->rcpt[i].addr,
		    status, smtp_reply_text(last) ? "smtp" : "X-danemx", last);
	}
	hdr_end = orig ? memmem(orig, origlen, "\r\n\r\n", 4) : NULL;
	hlen = hdr_end ? (size_t)(hdr_end - orig) + 2 : origlen;
	r |= buf_printf(out, "\r\n--%s/%s\r\n"
	    "Content-Type: text/rfc822-headers\r\n\r\n", e->id, host);
	if (orig != NULL)
		r |= buf_add(out, orig, hlen);
	r |= buf_printf(out, "\r\n--%s/%s--\r\n", e->id, host);
	return r ? -1 : 0;
}
