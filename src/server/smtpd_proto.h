/*
 * smtpd_proto.h - the listener's input, without sockets (smtpd_proto.c):
 * the line splitter that turns client octets into command lines and
 * message content, and the command parser. smtpd_session.c feeds them
 * from its connections; fuzz/fuzz_smtpd.c and tests/unit/test_smtpd_proto.c
 * feed them bytes. smtpd_client_key() says who a client is for the
 * per-client limits.
 *
 * The splitter is a byte-level state machine. A line ends only at CRLF.
 * A bare LF is an error (SMTPD_IN_BARE_LF) unless the caller accepts
 * it (lf_ok: smtpd_forbid_bare_newline = no, or a mynetworks client
 * with mynetworks-exempt), and then it ends the line as CRLF would; a
 * bare CR is always an error. Message content ends only at
 * <CRLF>.<CRLF>: a "." line after a line that ended in a bare LF, or
 * ended by a bare LF itself, is content. Content is unstuffed (a
 * leading "." dropped) and written with CRLF line ends, octet for octet
 * otherwise, whatever the line length: over line_max the splitter says
 * so once per line and goes on, so the caller can refuse the message at
 * its end.
 *
 * Ownership: struct smtpd_in holds no pointers; the caller owns the
 * output buffer. A parsed struct smtpd_cmd owns its path (free it with
 * smtpd_cmd_free()); its other strings point into the line.
 */
#ifndef DANEMX_SMTPD_PROTO_H
#define DANEMX_SMTPD_PROTO_H

#include <stddef.h>

#include "util/util.h"

#define SMTPD_CMD_MAX	2048	/* command line octets, CRLF included;
				   RFC 5321 4.5.3.1.4 says 512 */
#define SMTPD_OUT_SOFT	(64 * 1024)	/* content octets per flush */

enum smtpd_in_ev {
	SMTPD_IN_MORE,		/* all input used: wait for more */
	SMTPD_IN_FLUSH,		/* out is full: empty it, call again */
	SMTPD_IN_COMMAND,	/* a command line in cmd[0..cmdlen) */
	SMTPD_IN_DATA_END,	/* <CRLF>.<CRLF>: back to commands */
	SMTPD_IN_TOO_LONG,	/* a line over the limit (in DATA: once
				   per line, and the line goes on) */
	SMTPD_IN_BARE_LF,	/* LF without CR before it */
	SMTPD_IN_BARE_CR,	/* CR without LF after it */
	SMTPD_IN_NOMEM		/* out could not grow */
};

struct smtpd_in {
	size_t	 line_max;	/* content line octets, CRLF included */
	int	 lf_ok;		/* a bare LF ends a line (never DATA) */
	int	 data;		/* reading message content */
	int	 st;		/* where in a line (smtpd_proto.c) */
	int	 prev_crlf;	/* the last line ended in CRLF */
	int	 long_said;	/* TOO_LONG told for this line */
	size_t	 col;		/* octets of this line so far */
	char	 cmd[SMTPD_CMD_MAX + 1];	/* NUL-terminated */
	size_t	 cmdlen;
	int	 cmd_done;	/* cmd was returned: start a new one */
};

void	 smtpd_in_init(struct smtpd_in *, size_t line_max, int lf_ok);
void	 smtpd_in_start_data(struct smtpd_in *);
enum smtpd_in_ev smtpd_in_scan(struct smtpd_in *, const char *p, size_t len,
	    size_t *used, struct buf *out);
const char *smtpd_in_ev_str(enum smtpd_in_ev);

enum smtpd_verb {
	SMTPD_V_UNKNOWN, SMTPD_V_EHLO, SMTPD_V_HELO, SMTPD_V_MAIL,
	SMTPD_V_RCPT, SMTPD_V_DATA, SMTPD_V_RSET, SMTPD_V_NOOP,
	SMTPD_V_VRFY, SMTPD_V_QUIT, SMTPD_V_STARTTLS
};

/* What is wrong with a MAIL or RCPT command (0: nothing). */
enum smtpd_cmd_err {
	SMTPD_CMD_OK,
	SMTPD_CMD_SYNTAX,	/* not "FROM:<path>" / "TO:<path>" */
	SMTPD_CMD_PARAM,	/* an unsupported MAIL parameter */
	SMTPD_CMD_SIZE_SYNTAX	/* SIZE= without a number */
};

struct smtpd_cmd {
	enum smtpd_verb	 verb;
	const char	*arg;		/* after the verb and blanks */
	enum smtpd_cmd_err err;
	char		*path;		/* MAIL, RCPT: the address (owned) */
	int		 postmaster;	/* RCPT TO:<postmaster>, any case */
	int		 has_size;
	unsigned long	 size;		/* MAIL SIZE= */
	const char	*bad_param;	/* SMTPD_CMD_PARAM: which */
};

int	 smtpd_cmd_parse(const char *line, struct smtpd_cmd *);
void	 smtpd_cmd_free(struct smtpd_cmd *);
int	 smtpd_valid_mailbox(const char *);

/* Who a client is, for the per-client limits. */
#define SMTPD_CLIENT_KEY_MAX	64
struct sockaddr;
void	 smtpd_client_key(const struct sockaddr *, char *key, size_t len);

#endif /* DANEMX_SMTPD_PROTO_H */
