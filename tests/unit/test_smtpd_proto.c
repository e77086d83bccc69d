/*
 * test_smtpd_proto.c - the listener's line splitter and command parser
 * (src/server/smtpd_proto.c), and the Received: counter behind
 * hopcount_limit (src/queue/queue_hops.c), and who a client is for
 * the per-client limits, fed bytes: every splitter case is
 * also fed one octet at a time and in two pieces split at every
 * position, and must give the same events and the same content.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "server/smtpd_proto.h"
#include "t.h"

/*
 * run - feed in (pieces of at most chunk octets; 0: split at "split"),
 * starting in DATA if data; the events as a string ("C:NOOP" for a
 * command, "E" for the end of data, the event name otherwise), the
 * content into out. Stops at a fatal event.
 */
static void
run(const char *in, size_t len, int data, int lf_ok, size_t line_max,
    size_t chunk, size_t split, struct buf *ev, struct buf *out)
{
	struct smtpd_in		 s;
	struct buf		 part;	/* as the session's: flushed when full */
	enum smtpd_in_ev	 e;
	size_t			 pos = 0, end, used;

	buf_init(&part, SMTPD_OUT_SOFT + 16);
	smtpd_in_init(&s, line_max, lf_ok);
	if (data)
		smtpd_in_start_data(&s);
	while (pos < len) {
		end = chunk ? (pos + chunk < len ? pos + chunk : len) :
		    (pos < split ? split : len);
		while (pos < end) {
			e = smtpd_in_scan(&s, in + pos, end - pos, &used, &part);
			pos += used;
			switch (e) {
			case SMTPD_IN_MORE:
				break;
			case SMTPD_IN_FLUSH:
				buf_add(out, part.data, part.len);
				buf_reset(&part);
				break;
			case SMTPD_IN_COMMAND:
				buf_printf(ev, "C:%s ", s.cmd);
				if (strcmp(s.cmd, "DATA") == 0)
					smtpd_in_start_data(&s);
				break;
			case SMTPD_IN_DATA_END:
				buf_adds(ev, "E ");
				break;
			case SMTPD_IN_TOO_LONG:
				buf_adds(ev, "too-long ");
				if (!s.data)
					goto out;
				break;
			default:
				buf_printf(ev, "%s ", smtpd_in_ev_str(e));
				goto out;
			}
		}
	}
out:
	buf_add(out, part.data, part.len);
	buf_free(&part);
}

static const struct split_case {
	const char	*name;
	const char	*in;
	int		 data, lf_ok;
	const char	*want_ev, *want_out;
} split_cases[] = {
	/* Content before a fatal event is the caller's to drop. */
	{ "commands", "EHLO a\r\nNOOP\r\n", 0, 0, "C:EHLO a C:NOOP ", "" },
	{ "bare LF in a command", "NOOP\nQUIT\r\n", 0, 0, "bare-lf ", "" },
	{ "bare LF in a command, allowed", "NOOP\nQUIT\r\n", 0, 1,
	    "C:NOOP C:QUIT ", "" },
	{ "bare CR in a command", "NO\rOP\r\n", 0, 1, "bare-cr ", "" },
	{ "a message", "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n", 0, 0,
	    "C:DATA E C:QUIT ", "Subject: x\r\n\r\nhi\r\n" },
	{ "empty message", "DATA\r\n.\r\n", 0, 0, "C:DATA E ", "" },
	{ "dot-stuffing undone", "..x\r\n.y\r\n..\r\n.\r\n", 1, 0, "E ",
	    ".x\r\ny\r\n.\r\n" },
	/* SMTP smuggling: none of these ends the message. */
	{ "LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n", 1, 0, "bare-lf ", "a" },
	{ "LF.CRLF", "a\n.\r\n", 1, 0, "bare-lf ", "a" },
	{ "CRLF.LF", "a\r\n.\nMAIL FROM:<x@y>\r\n", 1, 0, "bare-lf ",
	    "a\r\n" },
	{ "CR.CR", "a\r.\r\n", 1, 0, "bare-cr ", "a" },
	{ "CRLF.CR", "a\r\n.\rMAIL\r\n", 1, 0, "bare-cr ", "a\r\n" },
	{ "bare CR mid-line", "X-Bare: a\rb\r\n", 1, 0, "bare-cr ",
	    "X-Bare: a" },
	{ "CRCRLF", "a\r\r\n", 1, 1, "bare-cr ", "a" },
	/* Bare LF accepted as a line end: still never the end of DATA. */
	{ "LF.LF allowed: content", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", 1, 1,
	    "E ", "a\r\n.\r\n" "MAIL FROM:<x@y>\r\n" },
	{ "LF.CRLF allowed: content", "a\n.\r\nb\r\n.\r\n", 1, 1, "E ",
	    "a\r\n.\r\nb\r\n" },
	{ "CRLF.LF allowed: content", "a\r\n.\nb\r\n.\r\n", 1, 1, "E ",
	    "a\r\n.\r\nb\r\n" },
	{ "DATA ended by LF, then .CRLF", "DATA\n.\r\n.\r\n", 0, 1,
	    "C:DATA E ", ".\r\n" },
	{ "NUL and 8-bit kept", "a\0b\xff\r\n.\r\n", 1, 0, "E ",
	    "a\0b\xff\r\n" },
};

static void
test_split(void)
{
	const struct split_case	*c;
	struct buf		 ev, out;
	size_t			 i, len, wlen, k;

	for (i = 0; i < DMX_NELEM(split_cases); i++) {
		c = &split_cases[i];
		len = strlen(c->in);
		if (strcmp(c->name, "NUL and 8-bit kept") == 0)
			len = 9;
		wlen = strcmp(c->name, "NUL and 8-bit kept") == 0 ? 6 :
		    strlen(c->want_out);
		/* k = 0: whole; 1: octet by octet; 2..: split at k - 1 */
		for (k = 0; k <= len + 1; k++) {
			buf_init(&ev, 4096);
			buf_init(&out, 1 << 20);
			run(c->in, len, c->data, c->lf_ok, 1000, k == 1 ? 1 :
			    0, k >= 2 ? k - 1 : len, &ev, &out);
			T_CHECK(ev.data != NULL && strcmp(ev.data,
			    c->want_ev) == 0, "%s (k %zu): events '%s', want "
			    "'%s'", c->name, k, ev.data ? ev.data : "",
			    c->want_ev);
			T_CHECK(out.len == wlen && (wlen == 0 ||
			    memcmp(out.data, c->want_out, wlen) == 0),
			    "%s (k %zu): content '%s', want '%s'", c->name, k,
			    out.data ? out.data : "", c->want_out);
			buf_free(&ev);
			buf_free(&out);
		}
	}
}

/*
 * test_lengths - lines of every length around the limits and the
 * internal sizes are copied octet for octet; one over the limit is
 * reported once, and the message goes on to its end.
 */
static void
test_lengths(void)
{
	static const size_t	 lens[] = { 4, 998, 999, 1000, 1001, 4095,
	    4096, 4097, 16383, 16384, 16385, 65534, 65535, 65536, 65537,
	    65538, 131072, 200001 };
	struct buf		 ev, out, in, want;
	size_t			 i, k, n, chunks[] = { 0, 1000, 4096, 65536 };

	for (i = 0; i < DMX_NELEM(lens); i++) {
		for (k = 0; k < DMX_NELEM(chunks); k++) {
			buf_init(&in, 1 << 20);
			buf_init(&want, 1 << 20);
			/* a line of lens[i] octets, CRLF included, stuffed */
			for (n = 0; n + 2 < lens[i]; n++)
				buf_add(&in, n < 2 || n % 71 == 0 ? "." : "x",
				    1);
			buf_adds(&in, "\r\nend\r\n.\r\n");
			buf_add(&want, in.data + 1, in.len - 4);
			buf_init(&ev, 4096);
			buf_init(&out, 1 << 20);
			/* as the session does: flush when told */
			run(in.data, in.len, 1, 0, 65536, chunks[k],
			    in.len, &ev, &out);
			T_CHECK(strcmp(ev.data, lens[i] > 65536 ?
			    "too-long E " : "E ") == 0,
			    "line of %zu (chunk %zu): events '%s'", lens[i],
			    chunks[k], ev.data);
			T_CHECK(out.len == want.len && memcmp(out.data,
			    want.data, want.len) == 0, "line of %zu (chunk "
			    "%zu): %zu octets out, want %zu", lens[i],
			    chunks[k], out.len, want.len);
			buf_free(&ev);
			buf_free(&out);
			buf_free(&in);
			buf_free(&want);
		}
	}
}

/* test_flush - content comes out in pieces of at most SMTPD_OUT_SOFT */
static void
test_flush(void)
{
	struct smtpd_in		 s;
	struct buf		 in, out, got;
	enum smtpd_in_ev	 e;
	size_t			 pos = 0, used, flushes = 0, maxlen = 0, clen;

	buf_init(&in, 1 << 22);
	buf_init(&got, 1 << 22);
	while (in.len < 300000)
		buf_adds(&in, "0123456789012345678901234567890123456789\r\n");
	clen = in.len;
	buf_adds(&in, ".\r\n");
	buf_init(&out, SMTPD_OUT_SOFT + 16);
	smtpd_in_init(&s, 1000, 0);
	smtpd_in_start_data(&s);
	for (;;) {
		e = smtpd_in_scan(&s, in.data + pos, in.len - pos, &used, &out);
		pos += used;
		if (out.len > maxlen)
			maxlen = out.len;
		if (e != SMTPD_IN_FLUSH)
			break;
		flushes++;
		buf_add(&got, out.data, out.len);
		buf_reset(&out);
	}
	buf_add(&got, out.data, out.len);
	T_CHECK(e == SMTPD_IN_DATA_END, "flush: event %s", smtpd_in_ev_str(e));
	T_CHECK(flushes >= 4, "flush: %zu flushes", flushes);
	T_CHECK(maxlen <= SMTPD_OUT_SOFT + 3, "flush: out grew to %zu", maxlen);
	T_CHECK(pos == in.len, "flush: used %zu of %zu", pos, in.len);
	T_CHECK(got.len == clen && memcmp(got.data, in.data, clen) == 0,
	    "flush: %zu octets of content, want %zu", got.len, clen);
	buf_free(&in);
	buf_free(&out);
	buf_free(&got);
}

static const struct cmd_case {
	const char		*line;
	enum smtpd_verb		 verb;
	enum smtpd_cmd_err	 err;
	const char		*path;	/* NULL: none */
	int			 postmaster;
	unsigned long		 size;
} cmd_cases[] = {
	{ "EHLO client.test", SMTPD_V_EHLO, 0, NULL, 0, 0 },
	{ "ehlo", SMTPD_V_EHLO, 0, NULL, 0, 0 },
	{ "EHLOX a", SMTPD_V_UNKNOWN, 0, NULL, 0, 0 },
	{ "NOOPX", SMTPD_V_UNKNOWN, 0, NULL, 0, 0 },
	{ "NOOP anything", SMTPD_V_NOOP, 0, NULL, 0, 0 },
	{ "DATA x", SMTPD_V_UNKNOWN, 0, NULL, 0, 0 },
	{ "MAIL FROM:<a@b.test>", SMTPD_V_MAIL, 0, "a@b.test", 0, 0 },
	{ "mail from: <>", SMTPD_V_MAIL, 0, "", 0, 0 },
	{ "MAIL FROM:<a@b.test> SIZE=1000 BODY=8BITMIME SMTPUTF8",
	    SMTPD_V_MAIL, 0, "a@b.test", 0, 1000 },
	{ "MAIL FROM:<a@b.test> SIZE=x", SMTPD_V_MAIL, SMTPD_CMD_SIZE_SYNTAX,
	    "a@b.test", 0, 0 },
	{ "MAIL FROM:<a@b.test> FOO=1", SMTPD_V_MAIL, SMTPD_CMD_PARAM,
	    "a@b.test", 0, 0 },
	{ "MAIL FROM:a@b.test", SMTPD_V_MAIL, SMTPD_CMD_SYNTAX, NULL, 0, 0 },
	{ "MAIL FROM:<a b@c>", SMTPD_V_MAIL, SMTPD_CMD_SYNTAX, NULL, 0, 0 },
	{ "MAIL FROM:<nodomain>", SMTPD_V_MAIL, SMTPD_CMD_SYNTAX,
	    "nodomain", 0, 0 },
	{ "RCPT TO:<@a.test,@b.test:c@d.test>", SMTPD_V_RCPT, 0, "c@d.test",
	    0, 0 },
	{ "RCPT TO:<postmaster>", SMTPD_V_RCPT, 0, "postmaster", 1, 0 },
	{ "RCPT TO:<PostMaster>", SMTPD_V_RCPT, 0, "PostMaster", 1, 0 },
	{ "RCPT TO:<postmaster@x.test>", SMTPD_V_RCPT, 0,
	    "postmaster@x.test", 0, 0 },
	{ "RCPT TO:<postmasterx>", SMTPD_V_RCPT, SMTPD_CMD_SYNTAX,
	    "postmasterx", 0, 0 },
	{ "RCPT TO:<\"post master\">", SMTPD_V_RCPT, SMTPD_CMD_SYNTAX, NULL,
	    0, 0 },
};

static void
test_cmd(void)
{
	const struct cmd_case	*c;
	struct smtpd_cmd	 cmd;
	size_t			 i;

	for (i = 0; i < DMX_NELEM(cmd_cases); i++) {
		c = &cmd_cases[i];
		T_CHECK(smtpd_cmd_parse(c->line, &cmd) == 0, "%s: parse",
		    c->line);
		T_CHECK(cmd.verb == c->verb, "%s: verb %d, want %d", c->line,
		    cmd.verb, c->verb);
		T_CHECK(cmd.err == c->err, "%s: err %d, want %d", c->line,
		    cmd.err, c->err);
		T_CHECK((c->path == NULL && cmd.path == NULL) ||
		    (c->path != NULL && cmd.path != NULL &&
		    strcmp(c->path, cmd.path) == 0), "%s: path '%s', want "
		    "'%s'", c->line, cmd.path ? cmd.path : "(none)",
		    c->path ? c->path : "(none)");
		T_CHECK(cmd.postmaster == c->postmaster, "%s: postmaster %d",
		    c->line, cmd.postmaster);
		T_CHECK(cmd.size == c->size, "%s: size %lu, want %lu",
		    c->line, cmd.size, c->size);
		smtpd_cmd_free(&cmd);
	}
}

static const struct hops_case {
	const char	*name, *msg;
	unsigned	 want;
} hops_cases[] = {
	{ "two", "Received: a\r\nReceived: b\r\nSubject: x\r\n\r\nbody\r\n", 2 },
	{ "any case, blanks before the colon",
	    "RECEIVED: a\r\nreceived : b\r\nReceived\t: c\r\n\r\n", 3 },
	{ "folded", "Received: a\r\n\tby b\r\n Received: not a field\r\n"
	    "Received: c\r\n\r\n", 2 },
	{ "not these", "Received-SPF: pass\r\nX-Received: a\r\nReceive: b\r\n"
	    "Receivedx: c\r\n\r\n", 0 },
	{ "not in the body", "Subject: x\r\n\r\nReceived: a\r\n", 0 },
	{ "not after a line that is no field",
	    "Received: a\r\nthis is no header\r\nReceived: b\r\n\r\n", 1 },
	{ "bare LF lines", "Received: a\nReceived: b\n\nReceived: c\n", 2 },
	{ "no body", "Received: a\r\nReceived: b\r\n", 2 },
	{ "empty", "", 0 },
};

static void
test_hops(void)
{
	const struct hops_case	*c;
	struct queue_hops	 h;
	size_t			 i, k, len;

	for (i = 0; i < DMX_NELEM(hops_cases); i++) {
		c = &hops_cases[i];
		len = strlen(c->msg);
		for (k = 0; k <= len; k++) {
			queue_hops_init(&h);
			queue_hops_add(&h, c->msg, k);
			queue_hops_add(&h, c->msg + k, len - k);
			T_CHECK(h.n == c->want, "hops %s (split %zu): %u, "
			    "want %u", c->name, k, h.n, c->want);
		}
		queue_hops_init(&h);
		for (k = 0; k < len; k++)
			queue_hops_add(&h, c->msg + k, 1);
		T_CHECK(h.n == c->want, "hops %s (octets): %u, want %u",
		    c->name, h.n, c->want);
	}
}

static void
test_client_key(void)
{
	static const struct {
		int		 family;
		const char	*addr, *want;
	} cases[] = {
		{ AF_INET, "192.0.2.1", "192.0.2.1" },
		{ AF_INET6, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
		{ AF_INET6, "2001:db8:1:2::ffff", "2001:db8:1:2::/64" },
		{ AF_INET6, "::ffff:192.0.2.7", "192.0.2.7" },
		{ AF_INET6, "::1", "::/64" },
	};
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	char			 key[SMTPD_CLIENT_KEY_MAX];
	size_t			 i;

	for (i = 0; i < DMX_NELEM(cases); i++) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)cases[i].family;
		inet_pton(cases[i].family, cases[i].addr, cases[i].family ==
		    AF_INET ? (void *)&s4->sin_addr : (void *)&s6->sin6_addr);
		smtpd_client_key((struct sockaddr *)&ss, key, sizeof(key));
		T_CHECK(strcmp(key, cases[i].want) == 0, "client %s: '%s', "
		    "want '%s'", cases[i].addr, key, cases[i].want);
	}
}

int
main(void)
{
	test_split();
	test_lengths();
	test_flush();
	test_cmd();
	test_hops();
	test_client_key();
	return t_done("test_smtpd_proto");
}
