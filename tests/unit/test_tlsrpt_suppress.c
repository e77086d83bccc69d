/*
 * test_tlsrpt_suppress.c - tlsrpt_suppress: domains (and their
 * addresses), .domain for subdomains, addresses, /FILE entries with
 * comments; a malformed entry, a missing file and a file naming a file
 * are errors that name the culprit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrpt/tlsrpt.h"
#include "t.h"

int
main(void)
{
	struct tlsrpt_suppress	*l;
	char			 path[] = "/tmp/danemx-suppress.XXXXXX", spec[200];
	char			 err[300];
	FILE			*fp;
	int			 fd;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		return 1;
	fputs("# reports we do not send\nfile.example  # a comment\n"
	    "\n  Postmaster@Listed.Example , .sub.example\n", fp);
	fclose(fp);
	snprintf(spec, sizeof(spec), "Plain.Example,%s other.example", path);
	l = tlsrpt_suppress_load(spec, err, sizeof(err));
	T_CHECK(l != NULL, "load: %s", err);
	T_CHECK(tlsrpt_suppressed(l, "plain.example") &&
	    tlsrpt_suppressed(l, "PLAIN.example") &&
	    tlsrpt_suppressed(l, "file.example") &&
	    tlsrpt_suppressed(l, "other.example"), "listed domains");
	T_CHECK(tlsrpt_suppressed(l, "tlsrpt@plain.example"),
	    "an address at a listed domain");
	T_CHECK(!tlsrpt_suppressed(l, "sub.plain.example"),
	    "a subdomain of a plain entry");
	T_CHECK(tlsrpt_suppressed(l, "a.sub.example") &&
	    !tlsrpt_suppressed(l, "sub.example"), ".sub.example");
	T_CHECK(tlsrpt_suppressed(l, "postmaster@listed.example") &&
	    !tlsrpt_suppressed(l, "other@listed.example") &&
	    !tlsrpt_suppressed(l, "listed.example"), "an address entry");
	T_CHECK(!tlsrpt_suppressed(l, "example.org"), "not listed");
	tlsrpt_suppress_free(l);

	l = tlsrpt_suppress_load(NULL, err, sizeof(err));
	T_CHECK(l != NULL && !tlsrpt_suppressed(l, "example.org"),
	    "an empty list");
	tlsrpt_suppress_free(l);
	T_CHECK(tlsrpt_suppress_load("good.example bad<x>", err,
	    sizeof(err)) == NULL && strstr(err, "'bad<x>'") != NULL,
	    "a malformed entry: %s", err);
	T_CHECK(tlsrpt_suppress_load("/nonexistent/list", err,
	    sizeof(err)) == NULL && strstr(err, "/nonexistent/list") != NULL,
	    "a missing file: %s", err);
	fp = fopen(path, "w");
	fprintf(fp, "a.example /etc/passwd\n");
	fclose(fp);
	T_CHECK(tlsrpt_suppress_load(path, err, sizeof(err)) == NULL &&
	    strstr(err, "a file within a file") != NULL, "nested: %s", err);
	unlink(path);
	return t_done("test_tlsrpt_suppress");
}
