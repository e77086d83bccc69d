/*
 * test_smtp_reply.c - SMTP reply and EHLO parsing, good and hostile.
 */
#include <string.h>

#include "smtp/smtp.h"
#include "t.h"

static const struct reply_case {
	const char	*name;
	const char	*in;		/* lines separated by '|' */
	int		 want;		/* final feed result */
	int		 want_code;
	const char	*want_enh;
	const char	*want_text;	/* or the error substring */
} cases[] = {
	{ "single", "250 ok", SMTP_REPLY_DONE, 250, "", "ok" },
	{ "code alone", "354", SMTP_REPLY_DONE, 354, "", "" },
	{ "multiline", "250-a|250-b|250 c", SMTP_REPLY_DONE, 250, "", "a\nb\nc" },
	{ "enhanced", "451 4.7.5 TLSA lookup failed", SMTP_REPLY_DONE, 451,
	    "4.7.5", "4.7.5 TLSA lookup failed" },
	{ "enhanced class mismatch", "550 4.1.1 no", SMTP_REPLY_DONE, 550, "",
	    "4.1.1 no" },
	{ "enhanced only", "250 2.0.0", SMTP_REPLY_DONE, 250, "2.0.0", "2.0.0" },
	{ "not enhanced", "250 2.0.0x", SMTP_REPLY_DONE, 250, "", "2.0.0x" },
	{ "continuation", "220-hello", SMTP_REPLY_MORE, 220, "", "hello" },
	{ "mixed codes", "250-a|251 b", SMTP_REPLY_ERROR, 0, "", "different codes" },
	{ "bad code", "abc hello", SMTP_REPLY_ERROR, 0, "", "valid code" },
	{ "code 199", "199 x", SMTP_REPLY_ERROR, 0, "", "valid code" },
	{ "code 600", "600 x", SMTP_REPLY_ERROR, 0, "", "valid code" },
	{ "code 260", "260 x", SMTP_REPLY_ERROR, 0, "", "valid code" },
	{ "short", "25", SMTP_REPLY_ERROR, 0, "", "valid code" },
	{ "bad separator", "250xok", SMTP_REPLY_ERROR, 0, "", "space or hyphen" },
	{ "embedded CR", "250 a\rb", SMTP_REPLY_ERROR, 0, "", "NUL, CR or LF" },
	/* The text goes to logs and DSNs: controls and 8-bit become '?'. */
	{ "ESC, VT, FF, 8-bit", "550-5.1.1 \x1b[31mred\x1b[0m\x0b\x0c|"
	    "550 caf\xc3\xa9 \xff\x7f\tend", SMTP_REPLY_DONE, 550, "5.1.1",
	    "5.1.1 ?[31mred?[0m??\ncaf?? ???end" },
};

/* feed - feed '|'-separated lines; returns the last result */
static enum smtp_feed
feed(struct smtp_reply *r, const char *in, const char **err)
{
	char		 buf[512], *line, *save = NULL;
	enum smtp_feed	 f = SMTP_REPLY_ERROR;

	strlcpy_(buf, in, sizeof(buf));
	for (line = strtok_r(buf, "|", &save); line != NULL;
	    line = strtok_r(NULL, "|", &save)) {
		f = smtp_reply_feed(r, line, strlen(line), err);
		if (f == SMTP_REPLY_ERROR)
			break;
	}
	return f;
}

static void
test_cases(void)
{
	struct smtp_reply	 r;
	const struct reply_case	*c;
	const char		*err = "";
	enum smtp_feed		 f;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		c = &cases[i];
		smtp_reply_init(&r);
		err = "";
		f = feed(&r, c->in, &err);
		T_CHECK((int)f == c->want, "%s: result %d, want %d (%s)",
		    c->name, f, c->want, err);
		if (c->want == SMTP_REPLY_ERROR) {
			T_CHECK(strstr(err, c->want_text) != NULL,
			    "%s: error '%s', want '%s'", c->name, err,
			    c->want_text);
		} else {
			T_CHECK(r.code == c->want_code, "%s: code %d, want %d",
			    c->name, r.code, c->want_code);
			T_CHECK(strcmp(r.enhanced, c->want_enh) == 0,
			    "%s: enhanced '%s', want '%s'", c->name,
			    r.enhanced, c->want_enh);
			T_CHECK(strcmp(r.text.data, c->want_text) == 0,
			    "%s: text '%s', want '%s'", c->name, r.text.data,
			    c->want_text);
		}
		smtp_reply_free(&r);
	}
}

static void
test_ceilings(void)
{
	struct smtp_reply	 r;
	char			 line[SMTP_LINE_MAX + 10];
	const char		*err = "";
	enum smtp_feed		 f = SMTP_REPLY_MORE;
	size_t			 i;

	smtp_reply_init(&r);
	memset(line, 'a', sizeof(line));
	memcpy(line, "250 ", 4);
	f = smtp_reply_feed(&r, line, sizeof(line), &err);
	T_CHECK(f == SMTP_REPLY_ERROR && strstr(err, "too long"),
	    "over-long line accepted");
	smtp_reply_reset(&r);
	f = SMTP_REPLY_MORE;
	for (i = 0; i < 1000 && f != SMTP_REPLY_ERROR; i++)
		f = smtp_reply_feed(&r, "250-x", 5, &err);
	T_CHECK(f == SMTP_REPLY_ERROR && strstr(err, "too many lines") &&
	    i == SMTP_REPLY_LINES_MAX + 1,
	    "endless reply: stopped after %zu lines (%s)", i, err);
	smtp_reply_reset(&r);
	memset(line, 'b', SMTP_LINE_MAX);
	memcpy(line, "250-", 4);
	f = SMTP_REPLY_MORE;
	for (i = 0; i < SMTP_REPLY_LINES_MAX && f != SMTP_REPLY_ERROR; i++)
		f = smtp_reply_feed(&r, line, SMTP_LINE_MAX, &err);
	T_CHECK(f == SMTP_REPLY_ERROR && strstr(err, "reply too long") &&
	    r.text.len <= SMTP_REPLY_MAX, "huge reply: len %zu (%s)",
	    r.text.len, err);
	smtp_reply_free(&r);
}

static void
test_ehlo(void)
{
	struct smtp_reply	 r;
	struct smtp_ehlo	 e;
	const char		*err;

	smtp_reply_init(&r);
	feed(&r, "250-mx.example.org hello|250-PIPELINING|250-SIZE 10240000|"
	    "250-starttls|250-8BITMIME|250-ENHANCEDSTATUSCODES|250-SMTPUTF8|"
	    "250 CHUNKING", &err);
	smtp_ehlo_parse(&r, &e);
	T_CHECK(e.ext == (SMTP_EXT_STARTTLS | SMTP_EXT_PIPELINING |
	    SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
	    SMTP_EXT_ENHANCED | SMTP_EXT_CHUNKING), "ext 0x%x", e.ext);
	T_CHECK(e.size == 10240000, "size %lu", e.size);
	smtp_reply_reset(&r);
	/* STARTTLS in the greeting line or as a prefix is not the keyword. */
	feed(&r, "250-STARTTLS greeting|250-STARTTLSX|250 SIZE", &err);
	smtp_ehlo_parse(&r, &e);
	T_CHECK(e.ext == SMTP_EXT_SIZE && e.size == 0,
	    "greeting/prefix: ext 0x%x size %lu", e.ext, e.size);
	smtp_reply_reset(&r);
	feed(&r, "502 5.5.1 no EHLO", &err);
	smtp_ehlo_parse(&r, &e);
	T_CHECK(e.ext == 0, "refused EHLO has capabilities 0x%x", e.ext);
	smtp_reply_free(&r);
}

int
main(void)
{
	test_cases();
	test_ceilings();
	test_ehlo();
	return t_done("test_smtp_reply");
}
