/*
 * test_tlsrpt_dkim.c - DKIM signatures on the TLS report mail: keys
 * made at test time with the openssl tool (RSA 2048 and Ed25519), the
 * mail signed by libopendkim through tlsrpt_dkim_sign(), then verified
 * by python3-dkim with the public key as the openssl tool prints it (not
 * as danemx does). A signed mail changed afterwards, or given a second
 * TLS-Report-Domain header, must not verify. The key file is read
 * safely: no symbolic link, no key others may read, as root none that
 * is not root's nor in a directory others may write.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

static const char json[] =
    "{\"organization-name\":\"Example Org\",\"report-id\":\"r1@mail.sender."
    "example\",\"policies\":[]}";

static const char *const to1[] = { "tlsrpt@example.net" };

static const struct tlsrpt_mail_info info = {
	.from = "tlsrpt@sender.example", .to = to1, .nto = 1,
	.domain = "example.net", .submitter = "mail.sender.example",
	.report_id = "r1@mail.sender.example", .begin = 1796601600,
	.end = 1796687999, .date = 1796688605,
};

static char tmp[] = "/tmp/danemx-test_tlsrpt_dkim.XXXXXX";

/* sh - run a shell command; its exit status */
static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
sh(const char *fmt, ...)
{
	char	 cmd[4096];
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : 255;
}

static void
write_file(const char *name, const void *p, size_t len)
{
	char	 path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, len, fp) != len) {
		perror(path);
		exit(2);
	}
	fclose(fp);
}

/*
 * verify - python3-dkim and the mail check over tmp/name: 0 if all is
 * well, 1 if only the DKIM signature fails, else 2
 */
static int
verify(const char *name, const char *dnsfile)
{
	const char	*src = getenv("DANEMX_SRCDIR");
	int		 r;

	r = sh("/usr/bin/python3 %s/tests/unit/tlsrpt_mail_check.py %s/%s "
	    "%s/report.json %s/%s 2>%s/check.err", src ? src : ".", tmp, name,
	    tmp, tmp, dnsfile, tmp);
	if (r == 0)
		return 0;
	if (sh("grep -qx 'tlsrpt_mail_check: DKIM signature does not verify'"
	    " %s/check.err", tmp) == 0)
		return 1;
	sh("cat %s/check.err >&2", tmp);
	return 2;
}

/* signed_ok - a key type end to end; then tampering is caught */
static void
signed_ok(const char *kind, const char *genargs, const char *dnsprefix,
    const char *pubcmd, const char *alg)
{
	struct tlsrpt_dkim	*s;
	struct buf		 msg, txt, bad;
	char			 key[512], err[512] = "", dns[64], *p;
	int			 rc;

	snprintf(key, sizeof(key), "%s/%s.pem", tmp, kind);
	snprintf(dns, sizeof(dns), "%s.txt", kind);
	if (sh("openssl genpkey %s -out %s 2>/dev/null && chmod 600 %s", genargs,
	    key, key) != 0) {
		T_CHECK(0, "%s: openssl genpkey failed", kind);
		return;
	}
	/* The DNS record as the openssl tool makes it. */
	sh("printf '%s' > %s/%s && openssl pkey -in %s -pubout -outform DER "
	    "%s | base64 -w0 >> %s/%s", dnsprefix, tmp, dns, key, pubcmd, tmp,
	    dns);
	s = tlsrpt_dkim_load("sender.example", "rpt2026", key, err,
	    sizeof(err));
	T_CHECK(s != NULL, "%s: load: %s", kind, err);
	if (s == NULL)
		return;
	T_CHECK(strcmp(tlsrpt_dkim_alg(s), alg) == 0, "%s: alg %s", kind,
	    tlsrpt_dkim_alg(s));
	buf_init(&txt, 4096);
	T_CHECK(tlsrpt_dkim_txt(s, &txt) == 0 && sh("test \"$(cat %s/%s)\" = "
	    "'%s'", tmp, dns, txt.data) == 0, "%s: tlsrpt_dkim_txt '%s' is "
	    "the openssl tool's", kind, txt.data);

	buf_init(&msg, 1 << 20);
	rc = tlsrpt_mail_build(&msg, &info, json, sizeof(json) - 1, err,
	    sizeof(err));
	T_CHECK(rc == 0, "%s: build: %s", kind, err);
	rc = tlsrpt_dkim_sign(s, &msg, err, sizeof(err));
	T_CHECK(rc == 0, "%s: sign: %s", kind, err);
	T_CHECK(strncmp(msg.data, "DKIM-Signature: v=1; a=", 23) == 0 &&
	    strstr(msg.data, " d=sender.example;") != NULL &&
	    strstr(msg.data, "\ts=rpt2026;") != NULL,
	    "%s: the signature header comes first: %.120s", kind, msg.data);
	write_file("signed.eml", msg.data, msg.len);
	write_file("report.json", json, sizeof(json) - 1);
	T_CHECK(verify("signed.eml", dns) == 0, "%s: python3-dkim verifies",
	    kind);

	/*
	 * Changed after signing, in ways the mail check itself does not
	 * notice: a signed header, the body, a signed header added on top.
	 */
	buf_init(&bad, 1 << 20);
	buf_add(&bad, msg.data, msg.len);
	if ((p = strstr(bad.data, "To: tlsrpt@example.net")) != NULL)
		p[4] = 'T';
	write_file("bad1.eml", bad.data, bad.len);
	T_CHECK(verify("bad1.eml", dns) == 1, "%s: a changed To: fails", kind);
	buf_reset(&bad);
	buf_add(&bad, msg.data, msg.len);
	if ((p = strstr(bad.data, "aggregate TLS report")) != NULL)
		p[0] = 'A';
	write_file("bad2.eml", bad.data, bad.len);
	T_CHECK(verify("bad2.eml", dns) == 1, "%s: a changed body fails", kind);
	buf_reset(&bad);
	buf_adds(&bad, "To: evil@evil.test\r\n");
	buf_add(&bad, msg.data, msg.len);
	write_file("bad3.eml", bad.data, bad.len);
	T_CHECK(verify("bad3.eml", dns) == 1, "%s: a second To: added on top "
	    "fails (oversigned)", kind);
	buf_free(&bad);
	buf_free(&msg);
	buf_free(&txt);
	tlsrpt_dkim_free(s);
}

/* sign_errors - what cannot be signed leaves the message as it was */
static void
sign_errors(void)
{
	struct tlsrpt_dkim	*s;
	struct buf		 msg;
	char			 key[512], err[512] = "";
	int			 rc;

	snprintf(key, sizeof(key), "%s/rsa.pem", tmp);
	if ((s = tlsrpt_dkim_load("sender.example", "s", key, err,
	    sizeof(err))) == NULL)
		return;
	buf_init(&msg, 1 << 20);
	buf_adds(&msg, "From: a@b.test\r\nSubject: no body\r\n");
	rc = tlsrpt_dkim_sign(s, &msg, err, sizeof(err));
	T_CHECK(rc == -1 && strstr(err, "not CRLF header lines, a blank "
	    "line and a body") != NULL && strcmp(msg.data, "From: a@b.test\r\n"
	    "Subject: no body\r\n") == 0, "no body: rc %d err '%s'", rc, err);
	buf_reset(&msg);
	buf_adds(&msg, "From: a@b.test\nSubject: LF only\n\nbody\n");
	rc = tlsrpt_dkim_sign(s, &msg, err, sizeof(err));
	T_CHECK(rc == -1, "bare LF: rc %d err '%s'", rc, err);
	buf_reset(&msg);
	buf_adds(&msg, "From: a@b.test\r\n\r\nbody\r\n");
	msg.max = msg.len + 100;
	rc = tlsrpt_dkim_sign(s, &msg, err, sizeof(err));
	T_CHECK(rc == -1 && strstr(err, "larger than") != NULL &&
	    strcmp(msg.data, "From: a@b.test\r\n\r\nbody\r\n") == 0,
	    "ceiling: rc %d err '%s'", rc, err);
	buf_free(&msg);
	tlsrpt_dkim_free(s);
}

/* key_files - what tlsrpt_dkim_load() refuses, and why */
static void
key_files(void)
{
	static const struct {
		const char	*name, *setup, *path, *want;
		int		 rootonly;
	} cases[] = {
		{ "symlink", "ln -s rsa.pem link.pem", "link.pem",
		    "(a symbolic link is not followed)", 0 },
		{ "world-readable", "cp rsa.pem r644.pem && chmod 644 r644.pem",
		    "r644.pem", "mode 0644: a private key must be", 0 },
		{ "group-writable", "cp rsa.pem r660.pem && chmod 660 r660.pem",
		    "r660.pem", "mode 0660", 0 },
		{ "group-readable is fine", "cp rsa.pem r640.pem && chmod 640 "
		    "r640.pem", "r640.pem", NULL, 0 },
		{ "missing", "true", "nonexistent.pem",
		    "No such file or directory", 0 },
		{ "directory", "mkdir d.pem && chmod 700 d.pem", "d.pem",
		    "not a regular file", 0 },
		{ "garbage", "head -c 300 /dev/urandom > junk.pem && chmod 600 "
		    "junk.pem", "junk.pem", "not a PEM private key", 0 },
		{ "encrypted", "openssl genpkey -algorithm RSA -pkeyopt "
		    "rsa_keygen_bits:1024 -aes128 -pass pass:x -out enc.pem "
		    "2>/dev/null && chmod 600 enc.pem", "enc.pem",
		    "not a PEM private key without a passphrase", 0 },
		{ "RSA 512", "openssl genpkey -algorithm RSA -pkeyopt "
		    "rsa_keygen_bits:512 -out r512.pem 2>/dev/null && chmod 600 "
		    "r512.pem", "r512.pem", "an RSA key of 512 bits", 0 },
		{ "EC key", "openssl genpkey -algorithm EC -pkeyopt "
		    "ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null && chmod 600 "
		    "ec.pem", "ec.pem", "not an RSA or Ed25519 key", 0 },
		{ "not root's", "cp rsa.pem daemon.pem && chown 1 daemon.pem",
		    "daemon.pem", "owned by uid 1: a key root reads", 1 },
		{ "open directory", "mkdir open && chmod 777 open && cp rsa.pem "
		    "open/k.pem", "open/k.pem", "a directory root uses must "
		    "belong to root", 1 },
	};
	struct tlsrpt_dkim	*s;
	char			 path[512], err[512];
	size_t			 i;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		if (cases[i].rootonly && geteuid() != 0)
			continue;
		if (sh("cd %s && %s", tmp, cases[i].setup) != 0) {
			T_CHECK(0, "%s: setup failed", cases[i].name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", tmp, cases[i].path);
		err[0] = '\0';
		s = tlsrpt_dkim_load("sender.example", "s", path, err,
		    sizeof(err));
		if (cases[i].want == NULL)
			T_CHECK(s != NULL, "%s: refused: %s", cases[i].name, err);
		else
			T_CHECK(s == NULL && strstr(err, cases[i].want) != NULL,
			    "%s: err '%s', want '%s'", cases[i].name, err,
			    cases[i].want);
		tlsrpt_dkim_free(s);
	}
	if (geteuid() == 0) {
		s = tlsrpt_dkim_load("sender.example", "s", "rsa.pem", err,
		    sizeof(err));
		T_CHECK(s == NULL && strstr(err, "not an absolute path") != NULL,
		    "relative path as root: '%s'", err);
		tlsrpt_dkim_free(s);
	}
	snprintf(path, sizeof(path), "%s/rsa.pem", tmp);
	s = tlsrpt_dkim_load("sender example", "s", path, err, sizeof(err));
	T_CHECK(s == NULL && strstr(err, "dkim_domain") != NULL, "bad domain");
	s = tlsrpt_dkim_load("sender.example", "s;x", path, err, sizeof(err));
	T_CHECK(s == NULL && strstr(err, "dkim_selector") != NULL,
	    "bad selector");
}

int
main(void)
{
	if (mkdtemp(tmp) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	signed_ok("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
	    "v=DKIM1; k=rsa; p=", "", "rsa-sha256");
	signed_ok("ed25519", "-algorithm ed25519", "v=DKIM1; k=ed25519; p=",
	    "| tail -c 32", "ed25519-sha256");
	sign_errors();
	key_files();
	if (sh("rm -rf %s", tmp) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	return t_done("test_tlsrpt_dkim");
}
