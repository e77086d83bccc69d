/*
 * smtp_dialog.c - the SMTP client's side of the dialogue: the commands
 * of a session (EHLO, STARTTLS, MAIL, RCPT with pipelining, DATA, RSET,
 * QUIT) and what each reply means, and the message streamed into DATA
 * a chunk at a time from its source (memory, or a callback that reads
 * the queue file), encoded on the way (smtp_data.c). The connection,
 * TLS and the session's lifecycle are smtp_client.c's.
 *
 * A session owns at most one chunk of its message at a time (freed
 * when the transaction no longer needs it).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log/log.h"
#include "smtp/smtp_int.h"
#include "util/util.h"

static void	send_data(struct smtp_client *);

/* fail_reply - the server's reply ended the session */
static void
fail_reply(struct smtp_client *c, const char *what)
{
	c->res.fail_code = c->reply.code;
	smtp_fail(c, c->reply.code < 500, "%s: server said %d %s", what,
	    c->reply.code, c->res.reply);
}

/*
 * refused - the server refused the transaction (MAIL, RCPT, DATA, end
 * of data). With reuse the connection stays usable, unless the server
 * said 421 (it is closing); RSET comes first next time, except after
 * the end of data, which ends the transaction by itself.
 */
static void
refused(struct smtp_client *c, const char *what)
{
	/* A reply that cut the message short leaves the server in the
	 * middle of DATA, perhaps: that connection is not reused. */
	if (c->conf.keep && c->reply.code >= 400 && c->reply.code != 421 &&
	    !c->data_cut) {
		c->res.reusable = 1;
		c->need_rset = c->stage != SMTP_ST_DOT;
	}
	smtp_chunk_free(c);		/* parked or closing: no message now */
	fail_reply(c, what);
}

/* smtp_send_cmd - send a command and wait for its reply within secs */
void
smtp_send_cmd(struct smtp_client *c, enum smtp_stage st, unsigned secs,
    const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	smtp_set_stage(c, st);
	smtp_send_line(c, "%s", line);
	smtp_arm_timer(c, secs);
}

/*
 * body_piece - the message's next octets at off, at most SMTP_DATA_CHUNK
 * of them (*n says how many): in place, or read into c->chunk. NULL, with
 * the session failed, when they cannot be read.
 */
static const char *
body_piece(struct smtp_client *c, size_t off, size_t *n)
{
	const struct smtp_body	*b = &c->conf.body;
	size_t			 want = b->len - off;
	ssize_t			 r;

	if (want > SMTP_DATA_CHUNK)
		want = SMTP_DATA_CHUNK;
	if (b->mem != NULL) {
		*n = want;
		return b->mem + off;
	}
	if (b->read == NULL) {
		smtp_fail(c, 1, "internal error: a message without a source");
		return NULL;
	}
	/* A message of one chunk is read once: counted, then sent. */
	if (c->chunk != NULL && c->chunk_off == off && c->chunk_len > 0) {
		*n = c->chunk_len < want ? c->chunk_len : want;
		return c->chunk;
	}
	if (c->chunk == NULL && (c->chunk = malloc(SMTP_DATA_CHUNK)) == NULL) {
		smtp_fail(c, 1, "out of memory");
		return NULL;
	}
	c->chunk_len = 0;
	if ((r = b->read(b->arg, off, c->chunk, want)) <= 0) {
		smtp_fail(c, 1, "cannot read the message: %s", r == 0 ?
		    "it is shorter than its envelope says" : strerror(errno));
		return NULL;
	}
	*n = (size_t)r < want ? (size_t)r : want;
	c->chunk_off = off;
	c->chunk_len = *n;
	return c->chunk;
}

/* smtp_chunk_free - the transaction needs no more of its message */
void
smtp_chunk_free(struct smtp_client *c)
{
	free(c->chunk);
	c->chunk = NULL;
	c->chunk_len = 0;
}

/* wire_size - the message's octets on the wire (RFC 1870); -1 if unread */
static int
wire_size(struct smtp_client *c, size_t *size)
{
	struct smtp_enc	 e;
	const char	*p;
	size_t		 off = 0, n;

	*size = 0;
	smtp_enc_init(&e);
	while (off < c->conf.body.len) {
		if ((p = body_piece(c, off, &n)) == NULL)
			return -1;
		*size += smtp_enc_count(&e, p, n);
		off += n;
	}
	*size += smtp_enc_count_end(&e);
	return 0;
}

void
smtp_send_mail(struct smtp_client *c)
{
	char	 size[48] = "";
	size_t	 n;

	if (c->conf.job == SMTP_JOB_SEND && (c->res.ext & SMTP_EXT_SIZE)) {
		if (wire_size(c, &n) == -1)
			return;		/* failed */
		snprintf(size, sizeof(size), " SIZE=%zu", n);
	}
	smtp_send_cmd(c, SMTP_ST_MAIL, c->conf.t.mail, "MAIL FROM:<%s>%s",
	    c->conf.mail_from, size);
}

/* smtp_send_rcpts - one RCPT, or all of them when the server pipelines */
void
smtp_send_rcpts(struct smtp_client *c)
{
	smtp_set_stage(c, SMTP_ST_RCPT);
	do {
		smtp_send_line(c, "RCPT TO:<%s>", c->conf.rcpts[c->rcpt_sent]);
		c->rcpt_sent++;
	} while ((c->res.ext & SMTP_EXT_PIPELINING) &&
	    c->rcpt_sent < c->conf.nrcpt);
	smtp_arm_timer(c, c->conf.t.rcpt);
}

void
smtp_send_quit(struct smtp_client *c)
{
	smtp_send_cmd(c, SMTP_ST_QUIT, c->conf.t.quit, "QUIT");
}

/* smtp_proceed - after (E)HLO and any TLS: do the job */
void
smtp_proceed(struct smtp_client *c)
{
	if (c->conf.job == SMTP_JOB_CHECK || c->conf.nrcpt == 0)
		smtp_send_quit(c);
	else
		smtp_send_mail(c);
}

/* after_ehlo - EHLO or HELO accepted: STARTTLS or on with the job */
static void
after_ehlo(struct smtp_client *c)
{
	if (c->res.tls || c->conf.tls_mode == SMTP_TLS_NONE) {
		smtp_proceed(c);
		return;
	}
	if (c->res.ext & SMTP_EXT_STARTTLS) {
		smtp_send_cmd(c, SMTP_ST_STARTTLS, c->conf.t.starttls, "STARTTLS");
		return;
	}
	c->res.starttls_missing = 1;
	if (c->conf.tls_mode == SMTP_TLS_MUST) {
		c->res.no_starttls = 1;
		smtp_fail(c, 1, "STARTTLS is required but the server does "
		    "not offer it");
		return;
	}
	smtp_proceed(c);
}

/*
 * smtp_data_fill - encode more of the message into the output buffer, until it
 * holds DATA_HIGH octets; after the last octet, the final "." line. The
 * write watermark calls this again once the buffer drained to DATA_LOW.
 */
void
smtp_data_fill(struct smtp_client *c)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec	 v;
	const char		*p;
	size_t			 n;

	while (!c->body_done && evbuffer_get_length(out) < DATA_HIGH) {
		if (c->body_off == c->conf.body.len) {
			if (evbuffer_reserve_space(out, 8, &v, 1) < 1)
				goto nomem;
			n = smtp_enc_end(&c->enc, v.iov_base);
			memcpy((char *)v.iov_base + n, ".\r\n", 3);
			v.iov_len = n + 3;
			if (evbuffer_commit_space(out, &v, 1) == -1)
				goto nomem;
			c->body_done = 1;
			smtp_chunk_free(c);
			/* Now the write callback means: all of it has gone. */
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			return;
		}
		if ((p = body_piece(c, c->body_off, &n)) == NULL)
			return;		/* failed: no "." is ever sent */
		if (evbuffer_reserve_space(out, SMTP_ENC_MAX(n), &v, 1) < 1)
			goto nomem;
		v.iov_len = smtp_enc_chunk(&c->enc, p, n, v.iov_base);
		if (evbuffer_commit_space(out, &v, 1) == -1)
			goto nomem;
		c->body_off += n;
	}
	return;
nomem:
	smtp_fail(c, 1, "out of memory");
}

static void
send_data(struct smtp_client *c)
{
	struct timeval	 tv = { (time_t)c->conf.t.data_block, 0 };

	smtp_set_stage(c, SMTP_ST_DOT);
	smtp_transcript(c, "C", "(message)", 9);
	smtp_enc_init(&c->enc);
	c->body_off = 0;
	c->body_done = c->data_cut = 0;
	/* Each block must leave within data_block; the reply timer starts
	 * when the last byte has gone (client_write). */
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	evtimer_del(c->timer);
	bufferevent_setwatermark(c->bev, EV_WRITE, DATA_LOW, 0);
	smtp_data_fill(c);
}

/* on_rcpt - a reply to RCPT TO: the next one, DATA, or the end; -1
 * when the session ended */
static int
on_rcpt(struct smtp_client *c)
{
	struct smtp_rcpt_result	*rr;
	int			 code = c->reply.code;

	rr = &c->res.rcpt[c->rcpt_done++];
	rr->code = code;
	strlcpy_(rr->enhanced, c->reply.enhanced, sizeof(rr->enhanced));
	strlcpy_(rr->text, c->res.reply, sizeof(rr->text));
	if (code == 250 || code == 251)
		c->res.naccepted++;
	if (c->rcpt_done < c->rcpt_sent) {
		smtp_arm_timer(c, c->conf.t.rcpt);
		return 0;
	}
	if (c->rcpt_sent < c->conf.nrcpt) {
		smtp_send_rcpts(c);
		return 0;
	}
	if (c->conf.job == SMTP_JOB_PROBE)
		smtp_send_quit(c);
	else if (c->res.naccepted == 0) {
		refused(c, "RCPT TO (no recipient accepted)");
		return -1;
	} else
		smtp_send_cmd(c, SMTP_ST_DATA, c->conf.t.data_init, "DATA");
	return 0;
}

/* on_dot - the reply to the end of data: QUIT, or park the session for
 * the next message; -1 when the session ended */
static int
on_dot(struct smtp_client *c)
{
	int	 code = c->reply.code;

	c->res.dot_code = code;
	strlcpy_(c->res.dot_enhanced, c->reply.enhanced,
	    sizeof(c->res.dot_enhanced));
	strlcpy_(c->res.dot_reply, c->res.reply, sizeof(c->res.dot_reply));
	if (code != 250) {
		refused(c, "end of data");
		return -1;
	}
	if (c->conf.keep) {
		c->res.reusable = 1;	/* park; no QUIT */
		smtp_finish(c);
		return -1;
	}
	smtp_send_quit(c);
	return 0;
}

/*
 * peer_name - the server's name, from the first word of the reply just
 * read (its greeting, or its EHLO reply), when that word is a host name
 * or an address literal; the server's words, so checked, lowercase
 */
static void
peer_name(struct smtp_client *c)
{
	const char	*p = c->res.reply;
	size_t		 i, n = strcspn(p, " \t");

	c->res.peer_helo[0] = '\0';
	if (n == 0 || n >= sizeof(c->res.peer_helo))
		return;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) &&
		    strchr("-._:[]", p[i]) == NULL)
			return;
	for (i = 0; i < n; i++)
		c->res.peer_helo[i] = (char)tolower((unsigned char)p[i]);
	c->res.peer_helo[n] = '\0';
}

/* smtp_handle_reply - a complete reply arrived; 0 to read on, -1 if done */
int
smtp_handle_reply(struct smtp_client *c)
{
	struct smtp_ehlo	 e;
	int			 code = c->reply.code;

	evtimer_del(c->timer);
	c->res.code = code;
	strlcpy_(c->res.enhanced, c->reply.enhanced, sizeof(c->res.enhanced));
	smtp_reply_first_line(&c->reply, c->res.reply, sizeof(c->res.reply));

	switch (c->stage) {
	case SMTP_ST_GREETING:
		if (code != 220) {
			fail_reply(c, "greeting");
			return -1;
		}
		peer_name(c);
		smtp_send_cmd(c, SMTP_ST_EHLO, c->conf.t.ehlo, "EHLO %s",
		    c->conf.helo);
		break;
	case SMTP_ST_EHLO:
	case SMTP_ST_EHLO_TLS:
		if (code == 250) {
			if (c->res.peer_helo[0] == '\0')
				peer_name(c);
			smtp_ehlo_parse(&c->reply, &e);
			c->res.ext = e.ext;
			after_ehlo(c);
		} else if (code >= 500 && c->stage == SMTP_ST_EHLO) {
			smtp_send_cmd(c, SMTP_ST_HELO, c->conf.t.ehlo, "HELO %s",
			    c->conf.helo);
		} else {
			fail_reply(c, "EHLO");
			return -1;
		}
		break;
	case SMTP_ST_HELO:
		if (code != 250) {
			fail_reply(c, "HELO");
			return -1;
		}
		c->res.ext = 0;
		after_ehlo(c);
		break;
	case SMTP_ST_STARTTLS:
		if (code == 220) {
			smtp_start_tls(c);
			return -1;	/* the plaintext buffer is gone */
		}
		c->res.starttls_missing = 2;	/* refused */
		if (c->conf.tls_mode == SMTP_TLS_MUST) {
			c->res.no_starttls = 1;
			fail_reply(c, "STARTTLS");
			return -1;
		}
		smtp_proceed(c);
		break;
	case SMTP_ST_RSET:
		if (code != 250) {
			fail_reply(c, "RSET");
			return -1;
		}
		smtp_send_mail(c);
		break;
	case SMTP_ST_MAIL:
		if (code != 250) {
			refused(c, "MAIL FROM");
			return -1;
		}
		smtp_send_rcpts(c);
		break;
	case SMTP_ST_RCPT:
		if (on_rcpt(c) == -1)
			return -1;
		break;
	case SMTP_ST_DATA:
		if (code != 354) {
			refused(c, "DATA");
			return -1;
		}
		send_data(c);
		break;
	case SMTP_ST_DOT:
		if (on_dot(c) == -1)
			return -1;
		break;
	case SMTP_ST_QUIT:
		smtp_finish(c);
		return -1;
	default:
		smtp_fail(c, 1, "unexpected reply %d during %s", code,
		    smtp_stage_str(c->stage));
		return -1;
	}
	if (c->dead)
		return -1;
	smtp_reply_reset(&c->reply);
	return 0;
}
