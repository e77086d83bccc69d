/*
 * tlsrpt_mail.c - the mail that carries a TLS report (RFC 8460 5.3),
 * and the gzip body that the mail and an HTTPS POST (5.4) share.
 *
 * tlsrpt_mail_build() writes a multipart/report; report-type="tlsrpt"
 * message: a text/plain part saying what it is, then the report as an
 * application/tlsrpt+gzip attachment named as 5.1 says
 * (submitter!domain!begin!end[!unique].json.gz), base64 in lines of 76.
 * Its header names the report (Subject "Report Domain: D Submitter: S
 * Report-ID: <id>", TLS-Report-Domain, TLS-Report-Submitter) and asks
 * for delivery whatever TLS can be had (TLS-Required: No, RFC 8689 5):
 * a report about failing TLS must get through the failure it reports.
 * Every name is checked before it goes into a header, so nothing a DNS
 * record or a state file says can add a header line.
 *
 * Output is appended to the caller's struct buf (util.h), within its
 * ceiling; the caller frees it. Nothing else outlives a call.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

#define TO_MAX		64	/* addresses in To: */
#define ID_MAX		200	/* octets of a report id or Message-ID */
#define UNIQUE_MAX	64	/* octets of the filename's unique-id */
#define B64_IN		57	/* octets per base64 line of 76 */

/* tlsrpt_gzip - json gzip-compressed (RFC 1952) appended to out */
int
tlsrpt_gzip(struct buf *out, const char *json, size_t len)
{
	unsigned char	 chunk[16384];
	z_stream	 z;
	size_t		 left = len, start = out->len;
	int		 r, flush;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper; no name, mtime 0. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)(uintptr_t)json;
	do {
		z.avail_in = left > (1U << 30) ? 1U << 30 : (uInt)left;
		left -= z.avail_in;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			r = deflate(&z, flush);
			if (r == Z_STREAM_ERROR || buf_add(out, chunk,
			    sizeof(chunk) - z.avail_out) == -1)
				goto fail;
		} while (z.avail_out == 0);
	} while (flush != Z_FINISH);
	if (r != Z_STREAM_END)
		goto fail;
	deflateEnd(&z);
	return 0;
fail:
	deflateEnd(&z);
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

/* base64 - p[0..len) in lines of 76 with CRLF (RFC 2045 6.8) */
static int
base64(struct buf *out, const unsigned char *p, size_t len)
{
	unsigned char	 line[80];
	size_t		 n;
	int		 k;

	while (len > 0) {
		n = len < B64_IN ? len : B64_IN;
		k = EVP_EncodeBlock(line, p, (int)n);
		if (k < 0 || buf_add(out, line, (size_t)k) == -1 ||
		    buf_add(out, "\r\n", 2) == -1)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* dot_atom_ok - RFC 5322 dot-atom-text */
static int
dot_atom_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (c == '.') {
			if (i == 0 || i == len - 1 || s[i - 1] == '.')
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != '\0' &&
		    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL)))
			return 0;
	}
	return 1;
}

/* msgid_ok - id-left "@" id-right, both dot-atom-text (RFC 5322 3.6.4) */
static int
msgid_ok(const char *id)
{
	const char	*at;
	size_t		 len;

	if (id == NULL || (len = strlen(id)) > ID_MAX ||
	    (at = strchr(id, '@')) == NULL)
		return 0;
	return dot_atom_ok(id, (size_t)(at - id)) &&
	    dot_atom_ok(at + 1, len - (size_t)(at - id) - 1);
}

static int
domain_ok(const char *d)
{
	return d != NULL && tlsrpt_domain_ok(d, strlen(d));
}

static int
unique_ok(const char *u)
{
	size_t	 i;

	for (i = 0; u != NULL && u[i] != '\0'; i++)
		if (i >= UNIQUE_MAX || !((u[i] >= 'a' && u[i] <= 'z') ||
		    (u[i] >= 'A' && u[i] <= 'Z') || (u[i] >= '0' && u[i] <= '9')))
			return 0;
	return 1;
}

/* tlsrpt_filename - "submitter!domain!begin!end[!unique].json.gz" */
int
tlsrpt_filename(char *name, size_t namelen, const struct tlsrpt_mail_info *i)
{
	int	 n;

	if (!domain_ok(i->submitter) || !domain_ok(i->domain) ||
	    !unique_ok(i->unique) || i->begin < 0 || i->end < i->begin)
		return -1;
	n = snprintf(name, namelen, "%s!%s!%lld!%lld%s%s.json.gz",
	    i->submitter, i->domain, (long long)i->begin, (long long)i->end,
	    i->unique != NULL && i->unique[0] != '\0' ? "!" : "",
	    i->unique != NULL ? i->unique : "");
	return n < 0 || (size_t)n >= namelen ? -1 : 0;
}

/* check - every field fit for a header; NULL, or what is wrong */
static const char *
check(const struct tlsrpt_mail_info *i)
{
	size_t	 k;

	if (i->from == NULL || !tlsrpt_addr_ok(i->from, strlen(i->from)))
		return "From: is not an address";
	if (i->to == NULL || i->nto == 0 || i->nto > TO_MAX)
		return "To: needs 1 to 64 addresses";
	for (k = 0; k < i->nto; k++)
		if (i->to[k] == NULL || !tlsrpt_addr_ok(i->to[k],
		    strlen(i->to[k])))
			return "a To: address is not an address";
	if (!domain_ok(i->domain))
		return "the report domain is not a host name";
	if (!domain_ok(i->submitter))
		return "the submitter is not a host name";
	if (!msgid_ok(i->report_id))
		return "the report id is not a message id's inside "
		    "(dot-atom@dot-atom, no ':')";
	if (i->message_id != NULL && !msgid_ok(i->message_id))
		return "the Message-ID is not one";
	if (!unique_ok(i->unique))
		return "the filename's unique id is not letters and digits";
	if (i->begin < 0 || i->end < i->begin)
		return "the date range is reversed";
	return NULL;
}

/* rfc5322_date - "Mon, 07 Dec 2026 00:10:00 +0000", whatever the locale */
static void
rfc5322_date(char *out, size_t outlen, time_t t)
{
	static const char	 days[7][4] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char	 mons[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm		 tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* iso - "2026-12-07T00:00:00Z" */
static void
iso(char *out, size_t outlen, int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* header - the message header section, blank line included */
static int
header(struct buf *out, const struct tlsrpt_mail_info *i, const char *bnd)
{
	char	 date[128];
	size_t	 k;
	int	 r = 0;

	rfc5322_date(date, sizeof(date), i->date);
	r |= buf_printf(out, "From: %s\r\nTo: ", i->from);
	for (k = 0; k < i->nto; k++)
		r |= buf_printf(out, "%s%s", k ? ",\r\n\t" : "", i->to[k]);
	r |= buf_printf(out, "\r\n"
	    "Subject: Report Domain: %s\r\n"
	    " Submitter: %s\r\n"
	    " Report-ID: <%s>\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	    "\tboundary=\"%s\"\r\n"
	    "TLS-Report-Domain: %s\r\n"
	    "TLS-Report-Submitter: %s\r\n"
	    "TLS-Required: No\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n", i->domain, i->submitter, i->report_id, date,
	    i->message_id != NULL ? i->message_id : i->report_id, bnd,
	    i->domain, i->submitter);
	return r;
}

/* tlsrpt_mail_build - the report mail (RFC 8460 5.3), appended to out */
int
tlsrpt_mail_build(struct buf *out, const struct tlsrpt_mail_info *i,
    const char *json, size_t jsonlen, char *err, size_t errlen)
{
	struct buf	 gz;
	char		 bnd[64], name[600], b[96], e[96];
	const char	*why;
	size_t		 start = out->len;
	int		 r = 0;

	if ((why = check(i)) != NULL) {
		snprintf(err, errlen, "TLS report mail: %s", why);
		return -1;
	}
	if (tlsrpt_filename(name, sizeof(name), i) == -1) {
		snprintf(err, errlen, "TLS report mail: no filename");
		return -1;
	}
	buf_init(&gz, out->max);
	if (tlsrpt_gzip(&gz, json, jsonlen) == -1) {
		snprintf(err, errlen, "TLS report mail: gzip: out of memory "
		    "or larger than %zu octets", out->max);
		buf_free(&gz);
		return -1;
	}
	/* "=_" is in no base64 line nor in our text: a safe boundary. */
	snprintf(bnd, sizeof(bnd), "=_tlsrpt_%lld_%lld", (long long)i->begin,
	    (long long)i->end);
	iso(b, sizeof(b), i->begin);
	iso(e, sizeof(e), i->end);
	r |= header(out, i, bnd);
	r |= buf_printf(out, "This is a multipart message in MIME format.\r\n"
	    "\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "This is an aggregate TLS report (RFC 8460, SMTP TLS Reporting)\r\n"
	    "from %s about the mail it sent to %s\r\n"
	    "from %s to %s.\r\n"
	    "\r\n"
	    "The report is the attached gzip-compressed JSON file.\r\n"
	    "\r\n--%s\r\n"
	    "Content-Type: application/tlsrpt+gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment;\r\n"
	    "\tfilename=\"%s\"\r\n"
	    "\r\n", bnd, i->submitter, i->domain, b, e, bnd, name);
	r |= base64(out, (const unsigned char *)gz.data, gz.len);
	r |= buf_printf(out, "--%s--\r\n", bnd);
	buf_free(&gz);
	if (r != 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		snprintf(err, errlen, "TLS report mail: out of memory or "
		    "larger than %zu octets", out->max);
		return -1;
	}
	return 0;
}
