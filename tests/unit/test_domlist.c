/*
 * test_domlist.c - the list parser of `danemx check --file` (domlist.c):
 * domains, comments, blank lines and CRLF; malformed lines with their
 * numbers and reasons; a line split across feeds; a long line skipped
 * with the lines after it intact; the last line without a newline; and
 * a list larger than the buffer, fed in small pieces.
 */
#include <stdio.h>
#include <string.h>

#include "util/domlist.h"
#include "t.h"

/* run - feed in chunks of step bytes; write "D name" or "B lineno why
 * (shown)" a line into got */
static void
run(const char *in, size_t len, size_t step, char *got, size_t gotlen)
{
	static struct domlist	 l;
	char			 out[300], *p;
	const char		*why;
	size_t			 off = 0, n, room;
	int			 r;

	domlist_init(&l);
	got[0] = '\0';
	for (;;) {
		r = domlist_next(&l, out, sizeof(out), &why);
		if (r == DOMLIST_DOMAIN)
			snprintf(got + strlen(got), gotlen - strlen(got),
			    "D %s\n", out);
		else if (r == DOMLIST_BAD)
			snprintf(got + strlen(got), gotlen - strlen(got),
			    "B %lu %s (%s)\n", l.lineno, why, out);
		else if (l.eof)
			return;
		else if (off == len)
			domlist_end(&l);
		else {
			room = domlist_space(&l, &p);
			n = len - off < step ? len - off : step;
			if (n > room)
				n = room;
			memcpy(p, in + off, n);
			domlist_added(&l, n);
			off += n;
		}
	}
}

static const struct {
	const char	*name, *in, *want;
} cases[] = {
	{ "domains, comments, blanks, CRLF",
	  "# a list\n\nexample.org\n  Example.NET.  # why\r\n\t\r\nx_y.test\n",
	  "D example.org\nD Example.NET.\nD x_y.test\n" },
	{ "destinations",
	  "[192.0.2.1]:25\n[mx.example.org]:587\n[2001:db8::1]\n",
	  "D [192.0.2.1]:25\nD [mx.example.org]:587\nD [2001:db8::1]\n" },
	{ "malformed, by number",
	  "a.test\nnot a domain\nb..test\n.c.test\nd.test\n[x\n[a/b]\n"
	  "caf\xc3\xa9.test\n-\n.\nx\x01y\n",
	  "D a.test\n"
	  "B 2 more than one word (one domain a line) (not a domain)\n"
	  "B 3 an empty label (\"..\" or a leading dot) (b..test)\n"
	  "B 4 an empty label (\"..\" or a leading dot) (.c.test)\n"
	  "D d.test\n"
	  "B 6 '[' without ']' ([x)\n"
	  "B 7 not a destination like [192.0.2.1]:25 ([a/b])\n"
	  "B 8 not an ASCII domain name (write an IDN as its A-labels, xn--...) (caf??.test)\n"
	  "D -\n"
	  "B 10 not a domain name (.)\n"
	  "B 11 not an ASCII domain name (write an IDN as its A-labels, xn--...) (x?y)\n" },
	{ "no newline at the end", "a.test\nb.test", "D a.test\nD b.test\n" },
	{ "labels and lengths",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\n"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\n",
	  "D aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\n"
	  "B 2 a label longer than 63 octets (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...)\n" },
};

int
main(void)
{
	static char	 got[200000], big[300000], want[200000];
	size_t		 i, n, steps[] = { 1, 2, 7, 64, 100000 }, s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			run(cases[i].in, strlen(cases[i].in), steps[s], got,
			    sizeof(got));
			T_CHECK(strcmp(got, cases[i].want) == 0,
			    "%s (feeds of %zu): got\n%swant\n%s",
			    cases[i].name, steps[s], got, cases[i].want);
		}

	/* a NUL byte */
	run("a.test\nx\0y\nb.test\n", 18, 3, got, sizeof(got));
	T_CHECK(strcmp(got, "D a.test\nB 2 a NUL byte in the line (x?y)\n"
	    "D b.test\n") == 0, "NUL: got\n%s", got);

	/* a long line: reported once, its number right, the next intact,
	 * whether its newline comes in the same feed or much later */
	n = 0;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "a.test\n");
	memset(big + n, 'x', 5000);
	n += 5000;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\nb.test\n");
	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		run(big, n, steps[s], got, sizeof(got));
		T_CHECK(strcmp(got, "D a.test\nB 2 longer than 1000 characters "
		    "(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "...)\nD b.test\n") == 0, "long line (feeds of %zu): got\n%s",
		    steps[s], got);
	}
	/* ... and one at the end, without a newline */
	run(big, n - 8, 1000, got, sizeof(got));
	T_CHECK(strcmp(got, "D a.test\nB 2 longer than 1000 characters "
	    "(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...)\n")
	    == 0, "long last line: got\n%s", got);

	/* more than the buffer holds: every line, in order */
	n = 0;
	want[0] = '\0';
	for (i = 0; i < 12000; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "d%zu.test\n", i);
		if (i % 1000 == 0)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
			    "D d%zu.test\n", i);
	}
	run(big, n, 4093, got, sizeof(got));
	{
		char	 sel[200000], *line, *save = NULL;
		size_t	 k = 0, nd = 0;

		sel[0] = '\0';
		for (line = strtok_r(got, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save), k++) {
			nd++;
			if (k % 1000 == 0)
				snprintf(sel + strlen(sel), sizeof(sel) -
				    strlen(sel), "%s\n", line);
		}
		T_CHECK(nd == 12000, "big list: %zu domains, want 12000", nd);
		T_CHECK(strcmp(sel, want) == 0, "big list: got\n%swant\n%s",
		    sel, want);
	}
	return t_done("test_domlist");
}
