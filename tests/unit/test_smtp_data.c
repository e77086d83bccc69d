/*
 * test_smtp_data.c - DATA encoding: CRLF normalisation and dot-stuffing.
 */
#include <string.h>

#include "smtp/smtp.h"
#include "t.h"

static const struct {
	const char	*name, *in, *want;
} cases[] = {
	{ "plain", "a\r\nb\r\n", "a\r\nb\r\n.\r\n" },
	{ "bare LF", "a\nb\n", "a\r\nb\r\n.\r\n" },
	{ "bare CR", "a\rb", "a\r\nb\r\n.\r\n" },
	{ "no final newline", "a", "a\r\n.\r\n" },
	{ "empty", "", ".\r\n" },
	{ "dot line", "a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n" },
	{ "leading dot", ".x\r\n", "..x\r\n.\r\n" },
	{ "dots mid-line", "a.b\n", "a.b\r\n.\r\n" },
	{ "CRLF.CRLF inside", "x\r\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n" },
};

int
main(void)
{
	struct buf	 b;
	size_t		 i;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		buf_init(&b, 1024);
		T_CHECK(smtp_data_encode(&b, cases[i].in,
		    strlen(cases[i].in)) == 0 && b.data != NULL &&
		    strcmp(b.data, cases[i].want) == 0, "%s: got '%s'",
		    cases[i].name, b.data ? b.data : "(null)");
		buf_free(&b);
	}
	buf_init(&b, 4);
	T_CHECK(smtp_data_encode(&b, "abcdef", 6) == -1,
	    "ceiling not enforced");
	buf_free(&b);
	return t_done("test_smtp_data");
}
