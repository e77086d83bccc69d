/*
 * test_tlsrpt_mail.c - the TLS report mail (RFC 8460 5.3) built from a
 * fixed JSON report: its exact header, its parts, the filename (5.1),
 * the gzip part decoded back to the JSON byte for byte (by our zlib
 * reading and by Python's email and gzip modules), the gzip body of an
 * HTTPS POST equal to the mail's part; and every field that could
 * inject a header refused.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "t.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

static const char json[] =
    "{\"organization-name\":\"Example Org\",\"date-range\":{\"start-datetime\""
    ":\"2026-12-07T00:00:00Z\",\"end-datetime\":\"2026-12-07T23:59:59Z\"},"
    "\"contact-info\":\"tlsrpt@mail.sender.example\",\"report-id\":"
    "\"20261207T000000Z.example.net@mail.sender.example\",\"policies\":[]}";

static const char *const to2[] = { "tlsrpt@example.net", "b+x@rpt.test" };

static const struct tlsrpt_mail_info base = {
	.from = "tlsrpt@mail.sender.example", .to = to2, .nto = 2,
	.domain = "example.net", .submitter = "mail.sender.example",
	.report_id = "20261207T000000Z.example.net@mail.sender.example",
	.unique = "abc1", .begin = 1796601600, .end = 1796687999,
	.date = 1796688605,
};

static const char want_header[] =
    "From: tlsrpt@mail.sender.example\r\n"
    "To: tlsrpt@example.net,\r\n"
    "\tb+x@rpt.test\r\n"
    "Subject: Report Domain: example.net\r\n"
    " Submitter: mail.sender.example\r\n"
    " Report-ID: <20261207T000000Z.example.net@mail.sender.example>\r\n"
    "Date: Tue, 08 Dec 2026 00:10:05 +0000\r\n"
    "Message-ID: <20261207T000000Z.example.net@mail.sender.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
    "\tboundary=\"=_tlsrpt_1796601600_1796687999\"\r\n"
    "TLS-Report-Domain: example.net\r\n"
    "TLS-Report-Submitter: mail.sender.example\r\n"
    "TLS-Required: No\r\n"
    "Auto-Submitted: auto-generated\r\n"
    "\r\n";

static const char want_attach[] =
    "--=_tlsrpt_1796601600_1796687999\r\n"
    "Content-Type: application/tlsrpt+gzip\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n"
    "\tfilename=\"mail.sender.example!example.net!1796601600!1796687999!"
    "abc1.json.gz\"\r\n"
    "\r\n";

static const char tail[] = "\r\n--=_tlsrpt_1796601600_1796687999--\r\n";

static char tmpdir[] = "/tmp/danemx-test_tlsrpt_mail.XXXXXX";

/* gunzip - inflate a gzip stream; -1 if it is not one */
static int
gunzip(const unsigned char *p, size_t len, struct buf *out)
{
	unsigned char	 chunk[4096];
	z_stream	 z;
	int		 r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + 15) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = inflate(&z, Z_NO_FLUSH);
		if ((r != Z_OK && r != Z_STREAM_END) ||
		    buf_add(out, chunk, sizeof(chunk) - z.avail_out) == -1) {
			inflateEnd(&z);
			return -1;
		}
	} while (r != Z_STREAM_END);
	inflateEnd(&z);
	return z.avail_in == 0 ? 0 : -1;
}

/* attachment - the base64 part of a built mail, decoded, into out */
static int
attachment(const char *msg, struct buf *out)
{
	const char	*p, *end, *nl;
	unsigned char	 bin[64];
	int		 n, pad;

	if ((p = strstr(msg, want_attach)) == NULL)
		return -1;
	p += strlen(want_attach);
	if ((end = strstr(p, "--=_tlsrpt_1796601600_1796687999--\r\n")) == NULL)
		return -1;
	for (; p < end; p = nl + 2) {
		nl = strstr(p, "\r\n");
		if (nl == NULL || nl > end || nl - p > 76 || (nl - p) % 4 != 0)
			return -1;
		n = EVP_DecodeBlock(bin, (const unsigned char *)p, (int)(nl - p));
		pad = nl - p >= 2 && nl[-1] == '=' ? (nl[-2] == '=' ? 2 : 1) : 0;
		if (n < 0 || buf_add(out, bin, (size_t)(n - pad)) == -1)
			return -1;
	}
	return 0;
}

/* write_file - bytes to DIR/name; the path in path */
static void
write_file(char *path, size_t pathlen, const char *name, const void *p,
    size_t len)
{
	FILE	*fp;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, len, fp) != len) {
		perror(path);
		exit(2);
	}
	fclose(fp);
}

/* python_check - tlsrpt_mail_check.py over msg and the JSON: 0 if ok */
static int
python_check(const struct buf *msg)
{
	char		 m[512], j[512], cmd[2048];
	const char	*src = getenv("DANEMX_SRCDIR");

	write_file(m, sizeof(m), "msg.eml", msg->data, msg->len);
	write_file(j, sizeof(j), "report.json", json, sizeof(json) - 1);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/unit/"
	    "tlsrpt_mail_check.py %s %s", src ? src : ".", m, j);
	return system(cmd);
}

/* build_ok - the mail, exactly */
static void
build_ok(void)
{
	struct buf	 msg, body, gz, plain;
	char		 err[256] = "";
	int		 rc;
	size_t		 i;

	buf_init(&msg, 1 << 20);
	rc = tlsrpt_mail_build(&msg, &base, json, sizeof(json) - 1, err,
	    sizeof(err));
	T_CHECK(rc == 0, "build: rc %d err '%s'", rc, err);
	if (rc != 0)
		return;
	T_CHECK(strncmp(msg.data, want_header, strlen(want_header)) == 0,
	    "header: got\n%.*s\nwant\n%s", (int)strlen(want_header), msg.data,
	    want_header);
	T_CHECK(strstr(msg.data, "\r\n\r\nThis is an aggregate TLS report "
	    "(RFC 8460, SMTP TLS Reporting)\r\nfrom mail.sender.example about "
	    "the mail it sent to example.net\r\nfrom 2026-12-07T00:00:00Z to "
	    "2026-12-07T23:59:59Z.\r\n") != NULL, "text part");
	T_CHECK(strstr(msg.data, "--=_tlsrpt_1796601600_1796687999\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n") != NULL,
	    "text part type");
	for (i = 0; i < msg.len; i++)
		if (msg.data[i] == '\n' && (i == 0 || msg.data[i - 1] != '\r'))
			break;
	T_CHECK(i == msg.len, "bare LF at %zu", i);
	T_CHECK(msg.len > strlen(tail) && strcmp(msg.data + msg.len -
	    strlen(tail), tail) == 0, "ends with the closing boundary");

	/* The gzip part decodes to the JSON; it is tlsrpt_gzip()'s bytes. */
	buf_init(&body, 1 << 20);
	buf_init(&plain, 1 << 20);
	buf_init(&gz, 1 << 20);
	rc = attachment(msg.data, &body);
	T_CHECK(rc == 0, "attachment found and base64 in lines of 76");
	T_CHECK(rc == 0 && gunzip((unsigned char *)body.data, body.len,
	    &plain) == 0 && plain.len == sizeof(json) - 1 &&
	    memcmp(plain.data, json, plain.len) == 0,
	    "gzip part decodes to the JSON (%zu octets)", plain.len);
	T_CHECK(tlsrpt_gzip(&gz, json, sizeof(json) - 1) == 0 &&
	    gz.len == body.len && memcmp(gz.data, body.data, gz.len) == 0,
	    "HTTPS body equals the mail's gzip part");

	rc = python_check(&msg);
	T_CHECK(rc == 0, "python check of the mail: %d", rc);
	buf_free(&msg);
	buf_free(&body);
	buf_free(&plain);
	buf_free(&gz);
}

/* build_refused - fields that must not reach a header */
static void
build_refused(void)
{
	static const char *const bad_to[] = { "a@x.test\r\nBcc: e@evil.test" };
	static const char *const ok_to[] = { "a@x.test" };
	struct tlsrpt_mail_info	 i;
	struct buf		 msg;
	char			 err[256];
	int			 k, rc;
	static const struct {
		const char	*name, *want;
	} cases[] = {
		{ "from", "From: is not an address" },
		{ "to", "a To: address is not an address" },
		{ "nto", "To: needs 1 to 64 addresses" },
		{ "domain", "the report domain is not a host name" },
		{ "submitter", "the submitter is not a host name" },
		{ "report_id", "the report id is not a message id's inside" },
		{ "message_id", "the Message-ID is not one" },
		{ "unique", "the filename's unique id is not letters and digits" },
		{ "range", "the date range is reversed" },
		{ "ceiling", "larger than 200 octets" },
		{ "ceiling after the header", "larger than 900 octets" },
	};

	buf_init(&msg, 1 << 20);
	buf_adds(&msg, "kept");
	for (k = 0; k < (int)DMX_NELEM(cases); k++) {
		i = base;
		i.to = ok_to;
		i.nto = 1;
		switch (k) {
		case 0: i.from = "tlsrpt@mail.sender.example>\r\nBcc: x@y"; break;
		case 1: i.to = bad_to; break;
		case 2: i.nto = 0; break;
		case 3: i.domain = "example.net\r\nBcc: e@evil.test"; break;
		case 4: i.submitter = "mail sender"; break;
		case 5: i.report_id = "2026-12-07T00:00:00Z_example.net@x"; break;
		case 6: i.message_id = "a@b>\r\nX: y"; break;
		case 7: i.unique = "a!b"; break;
		case 8: i.begin = i.end + 1; break;
		case 9: msg.max = 200; break;
		case 10: msg.max = 900; break;
		}
		err[0] = '\0';
		rc = tlsrpt_mail_build(&msg, &i, json, sizeof(json) - 1, err,
		    sizeof(err));
		T_CHECK(rc == -1 && strstr(err, cases[k].want) != NULL,
		    "%s: rc %d err '%s', want '%s'", cases[k].name, rc, err,
		    cases[k].want);
		T_CHECK(msg.len == 4 && strcmp(msg.data, "kept") == 0,
		    "%s: the buffer is as it was", cases[k].name);
	}
	buf_free(&msg);
}

/* gzip_cases - deterministic bytes, empty and large input, ceiling */
static void
gzip_cases(void)
{
	struct buf	 a, b, plain;
	char		*big;
	size_t		 i, n = 3 * 1024 * 1024;
	unsigned	 seed;

	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	T_CHECK(tlsrpt_gzip(&a, json, sizeof(json) - 1) == 0 &&
	    tlsrpt_gzip(&b, json, sizeof(json) - 1) == 0 && a.len == b.len &&
	    memcmp(a.data, b.data, a.len) == 0, "gzip: same bytes twice");
	T_CHECK(a.len > 10 && (unsigned char)a.data[0] == 0x1f &&
	    (unsigned char)a.data[1] == 0x8b && a.data[2] == 8 &&
	    a.data[3] == 0 && memcmp(a.data + 4, "\0\0\0\0", 4) == 0,
	    "gzip: header without name and time");
	buf_reset(&a);
	buf_init(&plain, 1 << 20);
	T_CHECK(tlsrpt_gzip(&a, "", 0) == 0 && gunzip((unsigned char *)a.data,
	    a.len, &plain) == 0 && plain.len == 0, "gzip: empty input");
	buf_free(&plain);

	/* 3 MiB of varied JSON-ish text round-trips. */
	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = "{\"a\":[1,2,3]}, "[(i * 7 + i / 13) % 15];
	buf_free(&a);
	buf_init(&a, 8 << 20);
	buf_init(&plain, 8 << 20);
	T_CHECK(tlsrpt_gzip(&a, big, n) == 0 && gunzip((unsigned char *)
	    a.data, a.len, &plain) == 0 && plain.len == n &&
	    memcmp(plain.data, big, n) == 0, "gzip: 3 MiB round trip");

	/*
	 * A ceiling too low, passed after some output was added (random
	 * octets do not compress): -1, the buffer as it was.
	 */
	for (i = 0, seed = 1; i < 100000; i++) {
		seed = seed * 1103515245 + 12345;
		big[i] = (char)(seed >> 16);
	}
	buf_free(&b);
	buf_init(&b, 40000);
	buf_adds(&b, "x");
	T_CHECK(tlsrpt_gzip(&b, big, 100000) == -1 && b.len == 1 &&
	    strcmp(b.data, "x") == 0, "gzip: ceiling (%zu octets)", b.len);
	free(big);
	buf_free(&a);
	buf_free(&b);
	buf_free(&plain);
}

/* filename - RFC 8460 5.1, with and without the unique id */
static void
filename(void)
{
	struct tlsrpt_mail_info	 i = base;
	char			 name[600];

	T_CHECK(tlsrpt_filename(name, sizeof(name), &i) == 0 &&
	    strcmp(name, "mail.sender.example!example.net!1796601600!"
	    "1796687999!abc1.json.gz") == 0, "filename: '%s'", name);
	i.unique = NULL;
	T_CHECK(tlsrpt_filename(name, sizeof(name), &i) == 0 &&
	    strcmp(name, "mail.sender.example!example.net!1796601600!"
	    "1796687999.json.gz") == 0, "filename without unique: '%s'", name);
	T_CHECK(tlsrpt_filename(name, 20, &i) == -1, "filename: too short");
}

int
main(void)
{
	char	 cmd[128];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	build_ok();
	build_refused();
	gzip_cases();
	filename();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return t_done("test_tlsrpt_mail");
}
