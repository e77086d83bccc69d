/*
 * test_dsn.c - the bounce is a well-formed RFC 3464 report: a
 * multipart/report with a human part, a message/delivery-status part
 * naming only the failed recipients with their status and the server's
 * reply, and the original headers; CRLF line endings, short lines.
 */
#include <stdio.h>
#include <string.h>

#include "sched/sched.h"
#include "t.h"
#include "util/util.h"

static int
has(const struct buf *b, const char *s)
{
	return b->data != NULL && strstr(b->data, s) != NULL;
}

int
main(void)
{
	struct queue_rcpt	 r[3];
	struct queue_env	 e;
	struct buf		 b;
	const char		*orig = "Subject: the original\r\nFrom: <a@client.test>\r\n"
	    "\r\nsecret body\r\n", *p, *nl;
	size_t			 longest = 0, bare_lf = 0;

	memset(&e, 0, sizeof(e));
	memset(r, 0, sizeof(r));
	strlcpy_(e.id, "6b0bd0e8b9857158", sizeof(e.id));
	e.sender = (char *)"a@client.test";
	e.created = 1700000000;
	r[0].addr = (char *)"good@x.test";
	r[0].state = RCPT_SENT;
	r[1].addr = (char *)"bad@x.test";
	r[1].state = RCPT_FAILED;
	r[1].last = (char *)"550 5.1.1 no such user";
	r[2].addr = (char *)"late@dane.test";
	r[2].state = RCPT_FAILED;
	r[2].last = (char *)"DANE: not authenticated: no matching DANE TLSA "
	    "records [tlsa-invalid] (gave up after 5 days in the queue)";
	e.rcpt = r;
	e.nrcpt = 3;
	buf_init(&b, 1024 * 1024);
	T_CHECK(sched_dsn_build(&b, &e, orig, strlen(orig), "relay.test",
	    1700086400) == 0, "sched_dsn_build failed");
	T_CHECK(has(&b, "To: <a@client.test>\r\n"), "not to the sender");
	T_CHECK(has(&b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"6b0bd0e8b9857158/"
	    "relay.test\"\r\n"), "not a multipart/report");
	T_CHECK(has(&b, "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; relay.test\r\n"), "no delivery-status part");
	T_CHECK(has(&b, "Final-Recipient: rfc822; bad@x.test\r\nAction: failed\r\n"
	    "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"),
	    "the 5xx recipient's fields");
	T_CHECK(has(&b, "Final-Recipient: rfc822; late@dane.test\r\n"
	    "Action: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: X-danemx; "
	    "DANE: not authenticated"), "the expired DANE recipient's fields");
	T_CHECK(has(&b, "<late@dane.test>: DANE: not authenticated: no "
	    "matching DANE TLSA records"), "the human part says what failed");
	T_CHECK(!has(&b, "rfc822; good@x.test"), "a delivered recipient "
	    "is reported");
	T_CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n\r\nSubject: "
	    "the original\r\n"), "no original headers");
	T_CHECK(!has(&b, "secret body"), "the original body is returned");
	T_CHECK(has(&b, "--6b0bd0e8b9857158/relay.test--\r\n"),
	    "no closing boundary");
	for (p = b.data; p != NULL && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		if (nl == p || nl[-1] != '\r')
			bare_lf++;
		if ((size_t)(nl - p) > longest)
			longest = (size_t)(nl - p);
	}
	T_CHECK(bare_lf == 0, "%zu lines without CR", bare_lf);
	T_CHECK(longest <= 998, "a line of %zu octets", longest);
	buf_free(&b);

	/* A last result with ESC, VT, FF and 8-bit octets (an envelope of
	 * an older danemx): the us-ascii DSN carries '?' for each. */
	r[1].last = (char *)"550 5.1.1 \x1b[31mred\x1b[0m\x0b\x0c caf\xc3\xa9";
	r[2].state = RCPT_SENT;
	buf_init(&b, 1024 * 1024);
	T_CHECK(sched_dsn_build(&b, &e, orig, strlen(orig), "relay.test",
	    1700086400) == 0, "sched_dsn_build failed");
	T_CHECK(has(&b, "<bad@x.test>: 550 5.1.1 ?[31mred?[0m?? caf??\r\n"),
	    "the human part: %s", b.data);
	T_CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.1 ?[31mred?[0m?? "
	    "caf??\r\n"), "the delivery-status part");
	for (p = b.data, bare_lf = 0; p != NULL && *p != '\0'; p++)
		if ((*p < ' ' && *p != '\r' && *p != '\n' && *p != '\t') ||
		    (unsigned char)*p > 0x7e)
			bare_lf++;
	T_CHECK(bare_lf == 0, "%zu octets not printable ASCII", bare_lf);
	buf_free(&b);
	return t_done("test_dsn");
}
