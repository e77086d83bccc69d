/*
 * smtpd_proto.c - the listener's line splitter and command parser,
 * without sockets (see smtpd_proto.h for the rules).
 *
 * smtpd_in_scan() consumes octets up to the next event and says how
 * many it used; whatever it has not used, the caller keeps for the next
 * call (after a DATA_END: what the client pipelined after the message).
 * Message content is copied in runs, never a line at a time, so no line
 * length has a buffer boundary to be corrupted at: a long line is just
 * more runs.
 *
 * Ownership: the splitter owns nothing; smtpd_cmd_parse() allocates the
 * path of MAIL and RCPT, freed by smtpd_cmd_free().
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/queue.h"
#include "server/smtpd_proto.h"

/* Where the splitter is in a line. */
enum {
	C_LINE,		/* a command line */
	C_CR,		/* a command line, after CR */
	D_BOL,		/* content: at the start of a line */
	D_DOT,		/* content: "." at the start of a line */
	D_DOTCR,	/* content: ".\r" at the start of a line */
	D_MID,		/* content: inside a line */
	D_CR		/* content: after CR */
};

/* smtpd_in_init - a splitter reading commands */
void
smtpd_in_init(struct smtpd_in *in, size_t line_max, int lf_ok)
{
	memset(in, 0, sizeof(*in));
	in->line_max = line_max < 3 ? 3 : line_max;
	in->lf_ok = lf_ok;
	in->st = C_LINE;
	in->prev_crlf = 1;
}

/* smtpd_in_start_data - message content follows (after the 354) */
void
smtpd_in_start_data(struct smtpd_in *in)
{
	in->data = 1;
	in->st = D_BOL;
	in->col = 0;
	in->long_said = 0;
}

/* smtpd_in_ev_str - the event's name, for tests and logs */
const char *
smtpd_in_ev_str(enum smtpd_in_ev ev)
{
	static const char *names[] = { "more", "flush", "command",
	    "data-end", "too-long", "bare-lf", "bare-cr", "nomem" };

	return (size_t)ev < DMX_NELEM(names) ? names[ev] : "?";
}

/* line_end - a content line ended; crlf says how */
static void
line_end(struct smtpd_in *in, int crlf)
{
	in->prev_crlf = crlf;
	in->st = D_BOL;
	in->col = 0;
	in->long_said = 0;
}

/* scan_cmd - the command-line half of smtpd_in_scan() */
static enum smtpd_in_ev
scan_cmd(struct smtpd_in *in, const char *p, size_t len, size_t *i)
{
	size_t	 j, n;

	while (*i < len) {
		if (in->st == C_CR) {
			if (p[(*i)++] != '\n')
				return SMTPD_IN_BARE_CR;
			in->st = C_LINE;
			in->prev_crlf = 1;
			in->cmd_done = 1;
			return SMTPD_IN_COMMAND;
		}
		if (p[*i] == '\r') {
			in->st = C_CR;
			(*i)++;
			continue;
		}
		if (p[*i] == '\n') {
			(*i)++;
			if (!in->lf_ok)
				return SMTPD_IN_BARE_LF;
			in->prev_crlf = 0;
			in->cmd_done = 1;
			return SMTPD_IN_COMMAND;
		}
		j = (size_t)(str_next_crlf(p + *i, p + len) - p);
		n = j - *i;
		if (n > SMTPD_CMD_MAX - 2 - in->cmdlen) {
			*i += SMTPD_CMD_MAX - 2 - in->cmdlen + 1;
			return SMTPD_IN_TOO_LONG;
		}
		memcpy(in->cmd + in->cmdlen, p + *i, n);
		in->cmdlen += n;
		in->cmd[in->cmdlen] = '\0';
		*i = j;
	}
	return SMTPD_IN_MORE;
}

/*
 * scan_mark - content: the octet c at a line's start, after a "." there,
 * or after a CR. 1 when it was dealt with (*ev: SMTPD_IN_MORE to go on,
 * else the event to return); 0 when it is the line's text.
 */
static int
scan_mark(struct smtpd_in *in, char c, size_t *i, struct buf *out,
    enum smtpd_in_ev *ev)
{
	*ev = SMTPD_IN_MORE;
	switch (in->st) {
	case D_DOT:
		if (c == '\r') {
			in->st = D_DOTCR;
			(*i)++;
			return 1;
		}
		if (c == '\n') {
			(*i)++;
			if (!in->lf_ok) {
				*ev = SMTPD_IN_BARE_LF;
				return 1;
			}
			/* Not <CRLF>.<CRLF>: a "." line of content. */
			if (buf_add(out, ".\r\n", 3) == -1) {
				*ev = SMTPD_IN_NOMEM;
				return 1;
			}
			line_end(in, 0);
			return 1;
		}
		/* A stuffed line: its first "." goes (RFC 5321 4.5.2). */
		in->st = D_MID;
		return 1;
	case D_DOTCR:
		(*i)++;
		if (c != '\n') {
			*ev = SMTPD_IN_BARE_CR;
			return 1;
		}
		if (in->prev_crlf) {
			in->data = 0;
			in->st = C_LINE;
			in->col = 0;
			*ev = SMTPD_IN_DATA_END;
			return 1;
		}
		/* "." after a line that ended in a bare LF: content. */
		if (buf_add(out, ".\r\n", 3) == -1) {
			*ev = SMTPD_IN_NOMEM;
			return 1;
		}
		line_end(in, 1);
		return 1;
	case D_CR:
		(*i)++;
		if (c != '\n') {
			*ev = SMTPD_IN_BARE_CR;
			return 1;
		}
		if (buf_add(out, "\r\n", 2) == -1) {
			*ev = SMTPD_IN_NOMEM;
			return 1;
		}
		line_end(in, 1);
		return 1;
	case D_BOL:
		if (c == '.') {
			in->st = D_DOT;
			in->col = 1;
			(*i)++;
			return 1;
		}
		return 0;
	default:
		return 0;
	}
}

/* scan_data - the content half of smtpd_in_scan() */
static enum smtpd_in_ev
scan_data(struct smtpd_in *in, const char *p, size_t len, size_t *i,
    struct buf *out)
{
	enum smtpd_in_ev	 ev;
	size_t			 j, n;
	char			 c;

	while (*i < len) {
		if (out->len >= SMTPD_OUT_SOFT)
			return SMTPD_IN_FLUSH;
		c = p[*i];
		if (in->st != D_MID && scan_mark(in, c, i, out, &ev)) {
			if (ev != SMTPD_IN_MORE)
				return ev;
			continue;
		}
		/* At the start of a line or inside one. */
		if (c == '\r') {
			in->st = D_CR;
			(*i)++;
			continue;
		}
		if (c == '\n') {
			(*i)++;
			if (!in->lf_ok)
				return SMTPD_IN_BARE_LF;
			if (buf_add(out, "\r\n", 2) == -1)
				return SMTPD_IN_NOMEM;
			line_end(in, 0);
			continue;
		}
		j = (size_t)(str_next_crlf(p + *i, p + len) - p);
		n = j - *i;
		if (n > SMTPD_OUT_SOFT - out->len)
			n = SMTPD_OUT_SOFT - out->len;
		if (buf_add(out, p + *i, n) == -1)
			return SMTPD_IN_NOMEM;
		*i += n;
		in->col += n;
		in->st = D_MID;
		if (!in->long_said && in->col > in->line_max - 2) {
			in->long_said = 1;
			return SMTPD_IN_TOO_LONG;
		}
	}
	return SMTPD_IN_MORE;
}

/*
 * smtpd_in_scan - consume p[0..len) up to the next event; *used says
 * how much. In DATA the content goes to out (at most SMTPD_OUT_SOFT
 * octets and a line end before FLUSH). After COMMAND, cmd holds the
 * line until the next call. After BARE_LF, BARE_CR, NOMEM or a TOO_LONG
 * command the session cannot go on.
 */
enum smtpd_in_ev
smtpd_in_scan(struct smtpd_in *in, const char *p, size_t len, size_t *used,
    struct buf *out)
{
	enum smtpd_in_ev	 ev;
	size_t			 i = 0;

	if (in->cmd_done) {
		in->cmdlen = 0;
		in->cmd[0] = '\0';
		in->cmd_done = 0;
	}
	if (!in->data)
		ev = scan_cmd(in, p, len, &i);
	else
		ev = scan_data(in, p, len, &i, out);
	*used = i;	/* after NOMEM the session ends: it does not matter */
	return ev;
}

/* --- commands --- */

/* path_arg - "<addr>" at p (blanks before it allowed); NULL if bad */
static char *
path_arg(const char *p, const char **rest)
{
	const char	*end, *colon;
	size_t		 n, i;

	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return NULL;
	n = (size_t)(end - p - 1);
	if (n > QUEUE_ADDR_MAX)
		return NULL;
	for (i = 1; i <= n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '<' || p[i] == 0x7f)
			return NULL;
	/* A source route "<@a,@b:user@c>" is reduced to its mailbox. */
	if (n > 0 && p[1] == '@' && (colon = memchr(p + 1, ':', n)) != NULL) {
		n -= (size_t)(colon - p);
		p = colon;
	}
	*rest = end + 1;
	return strndup(p + 1, n);
}

/* smtpd_valid_mailbox - local@domain, both parts present, no port */
int
smtpd_valid_mailbox(const char *a)
{
	const char	*at = strrchr(a, '@');

	return at != NULL && at != a && at[1] != '\0' && strlen(at + 1) < 254 &&
	    addr_domain_ok(a);		/* no "[192.0.2.1]:2525" */
}

/* verb_is - line starts with verb, then a blank or the end */
static int
verb_is(const char *line, const char *verb, int args)
{
	size_t	 n = strlen(verb);

	if (strncasecmp(line, verb, n) != 0)
		return 0;
	return line[n] == '\0' || (args && line[n] == ' ');
}

/* mail_params - the parameters after MAIL FROM:<path> */
static void
mail_params(const char *rest, struct smtpd_cmd *c)
{
	const char	*v;
	char		*end;

	while (*rest == ' ')
		rest++;
	while (*rest != '\0') {
		if (strncasecmp(rest, "SIZE=", 5) == 0) {
			v = rest + 5;
			errno = 0;
			if (!isdigit((unsigned char)*v) ||
			    ((c->size = strtoul(v, &end, 10)) == 0 &&
			    errno != 0) || (*end != ' ' && *end != '\0')) {
				c->err = SMTPD_CMD_SIZE_SYNTAX;
				return;
			}
			if (errno == ERANGE)
				c->size = (unsigned long)-1;
			c->has_size = 1;
		} else if (strncasecmp(rest, "BODY=", 5) != 0 &&
		    !verb_is(rest, "SMTPUTF8", 1)) {
			c->err = SMTPD_CMD_PARAM;
			c->bad_param = rest;
			return;
		}
		while (*rest != '\0' && *rest != ' ')
			rest++;
		while (*rest == ' ')
			rest++;
	}
}

/*
 * smtpd_cmd_parse - what line asks for: the verb, its argument, and for
 * MAIL and RCPT the path and parameters (c->err says what is wrong with
 * them). 0; -1 only when out of memory.
 */
int
smtpd_cmd_parse(const char *line, struct smtpd_cmd *c)
{
	static const struct {
		const char	*name;
		enum smtpd_verb	 verb;
		int		 args;
	} verbs[] = {
		{ "EHLO", SMTPD_V_EHLO, 1 }, { "HELO", SMTPD_V_HELO, 1 },
		{ "MAIL", SMTPD_V_MAIL, 1 }, { "RCPT", SMTPD_V_RCPT, 1 },
		{ "DATA", SMTPD_V_DATA, 0 }, { "RSET", SMTPD_V_RSET, 0 },
		{ "NOOP", SMTPD_V_NOOP, 1 }, { "VRFY", SMTPD_V_VRFY, 1 },
		{ "QUIT", SMTPD_V_QUIT, 0 }, { "STARTTLS", SMTPD_V_STARTTLS, 0 },
	};
	const char	*arg, *rest = "";
	size_t		 i;
	int		 rcpt;

	memset(c, 0, sizeof(*c));
	c->arg = "";
	for (i = 0; i < DMX_NELEM(verbs); i++)
		if (verb_is(line, verbs[i].name, verbs[i].args))
			break;
	if (i == DMX_NELEM(verbs))
		return 0;		/* SMTPD_V_UNKNOWN */
	c->verb = verbs[i].verb;
	arg = line + strlen(verbs[i].name);
	while (*arg == ' ')
		arg++;
	c->arg = arg;
	if (c->verb != SMTPD_V_MAIL && c->verb != SMTPD_V_RCPT)
		return 0;
	rcpt = c->verb == SMTPD_V_RCPT;
	if (strncasecmp(arg, rcpt ? "TO:" : "FROM:", rcpt ? 3 : 5) != 0) {
		c->err = SMTPD_CMD_SYNTAX;
		return 0;
	}
	errno = 0;
	if ((c->path = path_arg(arg + (rcpt ? 3 : 5), &rest)) == NULL) {
		c->err = SMTPD_CMD_SYNTAX;
		return errno == ENOMEM ? -1 : 0;
	}
	if (rcpt && strcasecmp(c->path, "postmaster") == 0)
		c->postmaster = 1;
	else if ((rcpt || c->path[0] != '\0') &&
	    !smtpd_valid_mailbox(c->path)) {
		c->err = SMTPD_CMD_SYNTAX;
		return 0;
	}
	if (!rcpt)
		mail_params(rest, c);
	return 0;
}

/* smtpd_cmd_free - free the path */
void
smtpd_cmd_free(struct smtpd_cmd *c)
{
	free(c->path);
	c->path = NULL;
}

/*
 * smtpd_client_key - a client for the per-client limits: its IPv4
 * address (also when mapped into IPv6), or the /64 network of its IPv6
 * address, which one customer usually has whole
 */
void
smtpd_client_key(const struct sockaddr *sa, char *key, size_t len)
{
	const struct sockaddr_in6	*s6;
	struct in6_addr			 net;

	if (len < SMTPD_CLIENT_KEY_MAX) {
		if (len > 0)
			key[0] = '\0';
		return;
	}
	if (sa->sa_family != AF_INET6) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, key, (socklen_t)len);
		return;
	}
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], key,
		    (socklen_t)len);
		return;
	}
	memset(&net, 0, sizeof(net));
	memcpy(net.s6_addr, s6->sin6_addr.s6_addr, 8);
	inet_ntop(AF_INET6, &net, key, (socklen_t)len - 3);
	strcat(key, "/64");
}
