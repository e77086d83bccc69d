/*
 * test_smtp_data.c - DATA encoding: CRLF normalisation, lone CR and LF,
 * dot-stuffing; the streaming encoder (smtp_enc_*) split into chunks at
 * random gives the same octets as the whole message at once, its count
 * (SIZE=) is exact, and no input can end the data early.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"
#include "t.h"

static const struct {
	const char	*name, *in, *want;
} cases[] = {
	{ "plain", "a\r\nb\r\n", "a\r\nb\r\n.\r\n" },
	{ "bare LF", "a\nb\n", "a\r\nb\r\n.\r\n" },
	{ "bare CR inside a line", "a\rb", "a b\r\n.\r\n" },
	{ "bare CR header", "X-Bare: a\rb\r\n\r\nbody\r\n",
	    "X-Bare: a b\r\n\r\nbody\r\n.\r\n" },
	{ "CR CR LF", "a\r\r\nb", "a \r\nb\r\n.\r\n" },
	{ "CR at the end", "a\r", "a \r\n.\r\n" },
	{ "CR alone", "\r", " \r\n.\r\n" },
	{ "LF CR", "a\n\rb", "a\r\n b\r\n.\r\n" },
	{ "no final newline", "a", "a\r\n.\r\n" },
	{ "empty", "", ".\r\n" },
	{ "dot line", "a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n" },
	{ "leading dot", ".x\r\n", "..x\r\n.\r\n" },
	{ "only a dot", ".", "..\r\n.\r\n" },
	{ "dots mid-line", "a.b\n", "a.b\r\n.\r\n" },
	{ "CRLF.CRLF inside", "x\r\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n" },
	/* SMTP smuggling: none of these may end the data early. */
	{ "LF.LF", "x\n.\nMAIL FROM:<a@b>\n", "x\r\n..\r\nMAIL FROM:<a@b>\r\n"
	    ".\r\n" },
	{ "CR.CR", "x\r.\rMAIL", "x . MAIL\r\n.\r\n" },
	{ "CRLF.CR", "x\r\n.\rMAIL", "x\r\n.. MAIL\r\n.\r\n" },
	{ "CR.CRLF", "x\r.\r\nMAIL", "x .\r\nMAIL\r\n.\r\n" },
	{ "LF.CRLF", "x\n.\r\nMAIL", "x\r\n..\r\nMAIL\r\n.\r\n" },
	{ "CRLF.LF", "x\r\n.\nMAIL", "x\r\n..\r\nMAIL\r\n.\r\n" },
};

/*
 * reference - the rule as the file comment of smtp_data.c states it,
 * written as plainly as possible: split into lines at CR LF or a lone LF,
 * a lone CR becomes a space, stuff each line that starts with '.', end
 * each line with CR LF, then ".\r\n".
 */
static size_t
reference(const char *in, size_t len, char *out)
{
	size_t	 i, o = 0;
	int	 bol = 1;

	for (i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;	/* the LF ends the line */
		if (in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			bol = 1;
			continue;
		}
		if (bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i] == '\r' ? ' ' : in[i];
		bol = 0;
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* chunked - encode in chunks whose sizes come from rand(); out's length */
static size_t
chunked(const char *in, size_t len, char *out, size_t maxchunk,
    size_t *count)
{
	struct smtp_enc	 e, ec;
	size_t		 off = 0, o = 0, n;

	smtp_enc_init(&e);
	smtp_enc_init(&ec);
	*count = 0;
	while (off < len) {
		n = 1 + (size_t)rand() % maxchunk;
		if (n > len - off)
			n = len - off;
		o += smtp_enc_chunk(&e, in + off, n, out + o);
		*count += smtp_enc_count(&ec, in + off, n);
		off += n;
	}
	o += smtp_enc_end(&e, out + o);
	*count += smtp_enc_count_end(&ec);
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* ends_once - CR and LF only as CR LF pairs, and "\r\n.\r\n" (or a first
 * line ".") only at the very end */
static int
ends_once(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			return 0;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 0;
		if (i + 5 < n && memcmp(p + i, "\r\n.\r\n", 5) == 0)
			return 0;
	}
	if (n > 3 && memcmp(p, ".\r\n", 3) == 0)
		return 0;
	return n >= 3 && memcmp(p + n - 3, ".\r\n", 3) == 0 &&
	    (n == 3 || (n >= 5 && memcmp(p + n - 5, "\r\n", 2) == 0));
}

int
main(void)
{
	static const char alphabet[] = "..\r\r\n\nab";
	struct buf	 b;
	char		 in[600], want[2 * 600 + 8], got[2 * 600 + 8];
	size_t		 i, k, len, wlen, glen, count, bad = 0, badc = 0;
	size_t		 badend = 0;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		buf_init(&b, 1024);
		T_CHECK(smtp_data_encode(&b, cases[i].in,
		    strlen(cases[i].in)) == 0 && b.data != NULL &&
		    strcmp(b.data, cases[i].want) == 0, "%s: got '%s'",
		    cases[i].name, b.data ? b.data : "(null)");
		wlen = reference(cases[i].in, strlen(cases[i].in), want);
		T_CHECK(wlen == strlen(cases[i].want) && memcmp(want,
		    cases[i].want, wlen) == 0, "%s: the reference disagrees",
		    cases[i].name);
		/* Every split point of the case, e.g. "\r" | "\n." */
		for (k = 0; k <= strlen(cases[i].in); k++) {
			struct smtp_enc	 e;

			smtp_enc_init(&e);
			glen = smtp_enc_chunk(&e, cases[i].in, k, got);
			glen += smtp_enc_chunk(&e, cases[i].in + k,
			    strlen(cases[i].in) - k, got + glen);
			glen += smtp_enc_end(&e, got + glen);
			memcpy(got + glen, ".\r\n", 3);
			glen += 3;
			T_CHECK(glen == strlen(cases[i].want) && memcmp(got,
			    cases[i].want, glen) == 0, "%s: split at %zu: got "
			    "'%.*s'", cases[i].name, k, (int)glen, got);
		}
		buf_free(&b);
	}
	buf_init(&b, 4);
	T_CHECK(smtp_data_encode(&b, "abcdef", 6) == -1,
	    "ceiling not enforced");
	buf_free(&b);

	/* Random messages of CR, LF, '.' and letters, split at random. */
	srand(7672);
	for (i = 0; i < 20000; i++) {
		len = (size_t)rand() % sizeof(in);
		for (k = 0; k < len; k++)
			in[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		wlen = reference(in, len, want);
		glen = chunked(in, len, got, i % 3 == 0 ? 3 : 1 +
		    (size_t)rand() % 64, &count);
		if (glen != wlen || memcmp(got, want, glen) != 0)
			bad++;
		if (count != glen - 3)
			badc++;
		if (!ends_once(got, glen))
			badend++;
	}
	T_CHECK(bad == 0, "%zu random messages encoded in chunks differ from "
	    "the whole", bad);
	T_CHECK(badc == 0, "%zu random messages counted wrong (SIZE=)", badc);
	T_CHECK(badend == 0, "%zu random messages with a bare CR or LF, or "
	    "an early end of data", badend);
	/* SMTP_ENC_MAX: a pending CR and a chunk of LFs, the worst case. */
	{
		struct smtp_enc	 e;

		smtp_enc_init(&e);
		glen = smtp_enc_chunk(&e, "\r", 1, got);
		T_CHECK(glen == 0, "a CR at a chunk's end was written: %zu",
		    glen);
		glen = smtp_enc_chunk(&e, "\n\n\n", 3, got);
		T_CHECK(glen == 6 && memcmp(got, "\r\n\r\n\r\n", 6) == 0,
		    "CR | LF LF LF: got '%.*s'", (int)glen, got);
		smtp_enc_init(&e);
		smtp_enc_chunk(&e, "\r", 1, got);
		glen = smtp_enc_chunk(&e, ".\n.", 3, got);
		T_CHECK(glen <= SMTP_ENC_MAX(3) && glen == 6 &&
		    memcmp(got, " .\r\n..", 6) == 0, "CR | .LF.: got '%.*s'",
		    (int)glen, got);
	}
	return t_done("test_smtp_data");
}
