/*
 * fuzz_smtpd.c - libFuzzer target for the listener's line splitter and
 * command parser (src/server/smtpd_proto.c), as smtpd_session.c drives
 * them.
 *
 * The first octet chooses the settings (a bare LF allowed or not, the
 * line length limit) and how the rest is cut into pieces, as reads from
 * a socket would cut it. Each command line is parsed, and "DATA" starts
 * message content. Beyond memory errors, it checks what the splitter
 * promises: every call makes progress, content never holds a bare CR
 * or LF, a message ends only after <CRLF>.<CRLF> on the wire, and with
 * bare LF refused the content is exactly the wire's lines unstuffed.
 * Everything allocated is freed before returning.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/smtpd_proto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* clean - no CR without LF after it, no LF without CR before it */
static void
clean(const struct buf *b)
{
	size_t	 i;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && (i + 1 == b->len ||
		    b->data[i + 1] != '\n'))
			abort();
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			abort();
	}
}

/* unstuffed - the wire's content lines (CRLF-ended), first "." dropped */
static void
unstuffed(const char *w, size_t len, struct buf *out)
{
	size_t	 pos = 0, n;

	while (pos < len) {
		for (n = 0; pos + n + 1 < len && !(w[pos + n] == '\r' &&
		    w[pos + n + 1] == '\n'); n++)
			;
		if (w[pos] == '.')
			buf_add(out, w + pos + 1, n - 1);
		else
			buf_add(out, w + pos, n);
		buf_add(out, "\r\n", 2);
		pos += n + 2;
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const size_t	 maxes[] = { 1000, 1001, 64, 65536 };
	struct smtpd_in		 in;
	struct smtpd_cmd	 cmd;
	struct buf		 out, got, wire;
	enum smtpd_in_ev	 ev;
	const char		*p;
	size_t			 pos = 0, end, used, chunk, len;
	int			 lf_ok, done = 0;

	if (size < 1)
		return 0;
	lf_ok = data[0] & 1;
	chunk = (data[0] >> 3) + 1;		/* 1 to 32 octets a read */
	p = (const char *)data + 1;
	len = size - 1;
	smtpd_in_init(&in, maxes[(data[0] >> 1) & 3], lf_ok);
	buf_init(&out, SMTPD_OUT_SOFT + 16);
	buf_init(&got, 1 << 20);
	buf_init(&wire, 1 << 20);
	while (pos < len && !done) {
		end = pos + chunk < len ? pos + chunk : len;
		while (pos < end && !done) {
			ev = smtpd_in_scan(&in, p + pos, end - pos, &used, &out);
			if (used > end - pos || (used == 0 &&
			    ev != SMTPD_IN_FLUSH && ev != SMTPD_IN_MORE))
				abort();
			if (ev == SMTPD_IN_FLUSH && out.len < SMTPD_OUT_SOFT)
				abort();
			if (in.data || ev == SMTPD_IN_DATA_END)
				buf_add(&wire, p + pos, used);
			pos += used;
			clean(&out);
			buf_add(&got, out.data, out.len);
			buf_reset(&out);
			switch (ev) {
			case SMTPD_IN_COMMAND:
				if (smtpd_cmd_parse(in.cmd, &cmd) == 0)
					smtpd_cmd_free(&cmd);
				if (strcasecmp(in.cmd, "DATA") == 0) {
					smtpd_in_start_data(&in);
					buf_reset(&got);
					buf_reset(&wire);
				}
				break;
			case SMTPD_IN_DATA_END:
				/* The wire ended <CRLF>.<CRLF>: the CRLF before
				 * the "." may end the DATA command itself. */
				if (wire.len < 3 || memcmp(wire.data + wire.len -
				    3, ".\r\n", 3) != 0 || (wire.len > 3 &&
				    (wire.len < 5 || memcmp(wire.data +
				    wire.len - 5, "\r\n", 2) != 0)))
					abort();
				if (!lf_ok) {
					struct buf	 ref;

					buf_init(&ref, 1 << 20);
					unstuffed(wire.data, wire.len - 3, &ref);
					if (ref.len != got.len || (ref.len > 0 &&
					    memcmp(ref.data, got.data,
					    ref.len) != 0))
						abort();
					buf_free(&ref);
				}
				buf_reset(&got);
				buf_reset(&wire);
				break;
			case SMTPD_IN_MORE:
			case SMTPD_IN_FLUSH:
				break;
			case SMTPD_IN_TOO_LONG:
				if (!in.data)
					done = 1;
				break;
			default:	/* bare LF or CR, no memory: the end */
				done = 1;
				break;
			}
		}
	}
	buf_free(&out);
	buf_free(&got);
	buf_free(&wire);
	return 0;
}
