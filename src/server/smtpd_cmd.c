/*
 * smtpd_cmd.c - a session's commands and its message: EHLO, MAIL, RCPT,
 * DATA and the rest, and the end of DATA, when the message is refused
 * or handed to a commit worker.
 *
 * Only clients inside mynetworks may relay; anyone else gets 554 5.7.1
 * at RCPT: there are no local domains, so danemx is never an open
 * relay. The one exception is RCPT TO:<postmaster>, which anyone may
 * send (RFC 5321 4.5.1): it goes to the postmaster address. DATA
 * streams into a queue writer; "250 ... queued as ID" is sent only
 * after queue_commit() has made the message durable, on a worker thread
 * (queue_workers.c). Meanwhile the session is paused: it reads nothing
 * and leaves what the client pipelined after the final "." (QUIT, the
 * next MAIL) in its input buffer, so no reply can overtake the 250 or
 * 452; commit_done() replies and resumes it. A write failure (a full
 * disk) is 452; message size, recipients, hops (hopcount_limit) and
 * line lengths have their limits.
 *
 * Ownership: the transaction (sender, recipients, the queue writer) is
 * the session's until smtpd_txn_reset(), except the writer, which a
 * commit job takes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>

#include "log/log.h"
#include "server/smtpd_int.h"
#include "util/util.h"

/* smtpd_txn_reset - forget the transaction: sender, recipients, message */
void
smtpd_txn_reset(struct session *s)
{
	size_t	 i;

	free(s->from);
	s->from = NULL;
	for (i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	s->nrcpt = 0;
	if (s->w != NULL)
		queue_writer_abort(s->w);
	s->w = NULL;
	buf_reset(&s->wbuf);
	s->size = s->hdrlen = 0;
	s->too_big = s->too_long = s->write_failed = 0;
	s->tls_required_no = 0;
	if (s->state != S_GREET && s->state != S_CLOSING)
		s->state = S_READY;
}

static void
cmd_ehlo(struct session *s, const char *arg, int esmtp)
{
	const struct dmx_conf *c = s->d->conf;

	if (*arg == '\0') {
		smtpd_reply(s, "501 5.5.4 %s needs a domain", esmtp ? "EHLO" :
		    "HELO");
		return;
	}
	smtpd_txn_reset(s);
	strlcpy_(s->helo, arg, sizeof(s->helo));
	for (char *p = s->helo; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	s->esmtp = esmtp;
	s->state = S_READY;
	if (!esmtp) {
		smtpd_reply(s, "250 %s", s->d->host);
		return;
	}
	smtpd_reply(s, "250-%s", s->d->host);
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-SIZE %lu", c->message_size_limit);
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-SMTPUTF8");
	if (s->d->tls_ctx != NULL && !s->tls)
		smtpd_reply(s, "250-STARTTLS");
	smtpd_reply(s, "250 ENHANCEDSTATUSCODES");
}

static void
cmd_mail(struct session *s, struct smtpd_cmd *c)
{
	if (s->state == S_GREET) {
		smtpd_reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->state != S_READY) {
		smtpd_reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	switch (c->err) {
	case SMTPD_CMD_OK:
		break;
	case SMTPD_CMD_PARAM:
		smtpd_reply(s, "555 5.5.4 Unsupported option: %.40s",
		    c->bad_param);
		return;
	case SMTPD_CMD_SIZE_SYNTAX:
		smtpd_reply(s, "501 5.5.4 Bad SIZE parameter");
		return;
	default:
		smtpd_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (c->has_size && c->size > s->d->conf->message_size_limit) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	/* Below queue_minfree the rest is for the queue's own updates. */
	if (!queue_space_ok(s->d->q, c->has_size ? c->size : 0, "smtpd")) {
		smtpd_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->from = c->path;
	c->path = NULL;
	s->state = S_MAIL;
	smtpd_reply(s, "250 2.1.0 Ok");
}

/* postmaster_addr - where RCPT TO:<postmaster> goes (free it) */
static char *
postmaster_addr(struct session *s)
{
	const char	*pm = s->d->conf->postmaster;
	char		*a;

	if (pm != NULL && pm[0] != '\0')
		return strdup(pm);
	if (asprintf(&a, "postmaster@%s", s->d->host) == -1)
		return NULL;
	return a;
}

static void
cmd_rcpt(struct session *s, struct smtpd_cmd *c)
{
	char	*to;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		smtpd_reply(s, "503 5.5.1 Need MAIL command");
		return;
	}
	if (c->err != SMTPD_CMD_OK) {
		smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	/* <postmaster> is for anyone (RFC 5321 4.5.1); the rest relays. */
	if (!c->postmaster && !s->relay_ok) {
		log_info("smtpd: reject: RCPT from %s: 554 5.7.1 <%s>: Relay "
		    "access denied", s->addr, c->path);
		smtpd_reply(s, "554 5.7.1 <%s>: Relay access denied", c->path);
		return;
	}
	if (s->nrcpt >= s->d->conf->recipient_limit ||
	    s->nrcpt >= QUEUE_RCPT_MAX) {
		smtpd_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (c->postmaster) {
		if ((to = postmaster_addr(s)) == NULL) {
			smtpd_reply(s, "451 4.3.0 Out of memory");
			return;
		}
		log_info("smtpd: %s: RCPT TO:<%s> goes to <%s>", s->addr,
		    c->path, to);
	} else {
		to = c->path;
		c->path = NULL;
	}
	s->rcpts[s->nrcpt++] = to;
	s->state = S_RCPT;
	smtpd_reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct session *s)
{
	char		 err[256], date[64];
	time_t		 now = time(NULL);

	if (s->state != S_RCPT) {
		smtpd_reply(s, s->state == S_MAIL ? "554 5.5.1 No valid "
		    "recipients" : "503 5.5.1 Need RCPT command");
		return;
	}
	if ((s->w = queue_writer_new(s->d->q, err, sizeof(err))) == NULL) {
		log_warnx("smtpd: %s", err);
		smtpd_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	/* RFC 8689: mynetworks may ask for TLS-Required: No; anyone else
	 * sends only to the postmaster, and the field is just relayed. */
	if (s->relay_ok && s->d->conf->tls_required_header)
		queue_writer_honour_tls(s->w);
	s->state = S_DATA;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	/* "for" only with one recipient: more would show the Bcc ones. */
	if (s->nrcpt == 1)
		buf_printf(&s->wbuf, "Received: from %s ([%s])\r\n\tby %s "
		    "(danemx) with %s%s id %s\r\n\tfor <%s>; %s\r\n", s->helo,
		    s->addr, s->d->host, s->esmtp ? "ESMTP" : "SMTP",
		    s->tls ? "S" : "", queue_writer_id(s->w), s->rcpts[0],
		    date);
	else
		buf_printf(&s->wbuf, "Received: from %s ([%s])\r\n\tby %s "
		    "(danemx) with %s%s id %s;\r\n\t%s\r\n", s->helo, s->addr,
		    s->d->host, s->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "",
		    queue_writer_id(s->w), date);
	s->hdrlen = s->wbuf.len;
	smtpd_in_start_data(&s->in);
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/*
 * smtpd_data_flush - move buffered content into the queue file; once the
 * message is refused (too big, a line too long, a failed write) it is
 * only counted
 */
void
smtpd_data_flush(struct session *s)
{
	s->size += s->wbuf.len;
	if (s->size - s->hdrlen > s->d->conf->message_size_limit)
		s->too_big = 1;
	if (s->wbuf.len > 0 && !s->too_big && !s->too_long &&
	    !s->write_failed && queue_writer_add(s->w, s->wbuf.data,
	    s->wbuf.len) == -1) {
		log_warn("smtpd: queue write");
		s->write_failed = 1;
	}
	buf_reset(&s->wbuf);
}

/*
 * commit_done - the commit of this session's message has ended (on the
 * loop thread): reply, then go on with what the client pipelined.
 */
static void
commit_done(void *arg, int ok, const char *id, const char *err)
{
	struct session	*s = arg;

	s->job = NULL;
	if (!ok) {
		log_warnx("smtpd: %s: message not queued: %s", s->addr, err);
		smtpd_reply(s, "452 4.3.1 Insufficient system storage");
	} else {
		log_info("%s: from=<%s>, nrcpt=%zu, size=%zu, client=%s%s",
		    id, s->from, s->nrcpt, s->size - s->hdrlen, s->addr,
		    s->tls_required_no ? ", tls-required=no" : "");
		/* Mail was delivered: the error counts start again. */
		s->errors = s->junk = 0;
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
		if (s->d->sched != NULL)
			sched_enqueue(s->d->sched, id);
	}
	smtpd_txn_reset(s);
	if (s->time_up) {
		smtpd_reply(s, "421 4.4.2 %s Error: session time limit "
		    "exceeded", s->d->host);
		smtpd_close_after_output(s);
		return;
	}
	smtpd_after_command(s);
	/*
	 * Lines already buffered raise no read event of their own: read
	 * them now (smtpd_session_read() then enables reading again,
	 * unless they ended the session or paused it again).
	 */
	smtpd_session_read(s->bev, s);
}

/* smtpd_data_end - <CRLF>.<CRLF>: refuse the message or commit it */
void
smtpd_data_end(struct session *s)
{
	const struct dmx_conf	*c = s->d->conf;
	unsigned		 hops;

	smtpd_data_flush(s);
	s->tls_required_no = queue_writer_tls_required_no(s->w);
	if (s->too_big) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
	} else if (s->too_long) {
		log_info("smtpd: reject: %s: a line longer than %lu octets "
		    "(smtpd_line_length_limit); from=<%s>", s->addr,
		    c->smtpd_line_length_limit, s->from);
		smtpd_reply(s, "554 5.6.0 Message refused: a line is longer "
		    "than %lu octets", c->smtpd_line_length_limit);
	} else if (s->write_failed) {
		smtpd_reply(s, "452 4.3.1 Insufficient system storage");
	} else if ((hops = queue_writer_hops(s->w)) >= c->hopcount_limit) {
		log_info("smtpd: reject: %s: 554 5.4.6 Too many hops: %u "
		    "Received: headers (hopcount_limit %lu); from=<%s>",
		    s->addr, hops, c->hopcount_limit, s->from);
		smtpd_reply(s, "554 5.4.6 Too many hops: %u Received: headers "
		    "(a mail loop?)", hops);
	} else if ((s->job = queue_workers_submit(s->d->workers, s->w,
	    s->from, (const char * const *)s->rcpts, s->nrcpt,
	    commit_done, s)) == NULL) {
		log_warnx("smtpd: %s: message not queued: out of memory",
		    s->addr);
		smtpd_reply(s, "452 4.3.1 Insufficient system storage");
	} else {
		/* No reply and no more input until it is durable. */
		s->w = NULL;
		s->state = S_COMMIT;
		return;
	}
	smtpd_txn_reset(s);
}

/* junk - NOOP, RSET, VRFY: past smtpd_junk_command_limit, each is an error */
static void
junk(struct session *s)
{
	if (++s->junk > s->d->conf->smtpd_junk_command_limit)
		s->errors++;
}

/* smtpd_command - one command line, answered */
void
smtpd_command(struct session *s, const char *line, size_t len)
{
	struct smtpd_cmd	 c;

	if (memchr(line, '\0', len) != NULL) {
		smtpd_reply(s, "500 5.5.2 NUL in command");
		return;
	}
	if (smtpd_cmd_parse(line, &c) == -1) {
		smtpd_reply(s, "451 4.3.0 Out of memory");
		return;
	}
	switch (c.verb) {
	case SMTPD_V_EHLO:
	case SMTPD_V_HELO:
		cmd_ehlo(s, c.arg, c.verb == SMTPD_V_EHLO);
		break;
	case SMTPD_V_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTPD_V_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTPD_V_DATA:
		cmd_data(s);
		break;
	case SMTPD_V_RSET:
		junk(s);
		smtpd_txn_reset(s);
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_V_NOOP:
		junk(s);
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_V_VRFY:
		junk(s);
		smtpd_reply(s, "252 2.0.0 Cannot VRFY; send some mail");
		break;
	case SMTPD_V_QUIT:
		smtpd_reply(s, "221 2.0.0 Bye");
		smtpd_close_after_output(s);
		break;
	case SMTPD_V_STARTTLS:
		smtpd_starttls(s);
		break;
	default:
		smtpd_reply(s, "500 5.5.2 Command not recognized");
		break;
	}
	smtpd_cmd_free(&c);
}
