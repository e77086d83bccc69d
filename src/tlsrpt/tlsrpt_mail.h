/*
 * tlsrpt_mail.h - where a TLS report goes and the mail that carries it
 * (RFC 8460 sections 3 and 5.3): the _smtp._tls TXT record, the
 * multipart/report message with its gzip part, and its DKIM signature.
 *
 * Who frees what:
 * - tlsrpt_txt_parse() fills a caller's struct tlsrpt_rua of fixed size:
 *   nothing to free.
 * - tlsrpt_mail_build() and tlsrpt_gzip() append to a caller's struct
 *   buf (util.h); the caller frees it with buf_free(). Both respect the
 *   buffer's ceiling: -1 when the output would pass it, and on any error
 *   the buffer is as it was.
 * - tlsrpt_dkim_load() returns a signer the caller frees with
 *   tlsrpt_dkim_free(). tlsrpt_dkim_sign() replaces the memory of the
 *   caller's buffer (same ceiling; pointers into msg->data are stale
 *   after a successful call) and allocates nothing else that outlives
 *   the call. The first signature loads libopendkim (dlopen): sign from
 *   one thread (the relay's event loop, or danemx tlsrpt send).
 * No function here keeps a pointer to its arguments, none exits the
 * process, none blocks but tlsrpt_dkim_load() (it reads a file).
 */
#ifndef DANEMX_TLSRPT_MAIL_H
#define DANEMX_TLSRPT_MAIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "danemx.h"
#include "util/util.h"

/* Limits on what a published record can make us keep. */
#define TLSRPT_RUA_MAX		8	/* destinations kept from one record */
#define TLSRPT_URI_MAX		1024	/* octets of one URI, as published */
#define TLSRPT_ADDR_MAX		255	/* a mailto: address, decoded, + NUL */
#define TLSRPT_NOTE_MAX		8	/* notes kept (more are counted) */
#define TLSRPT_NOTE_LEN		256
#define TLSRPT_URIS_SEEN_MAX	64	/* URIs looked at in one rua= */

enum tlsrpt_scheme {
	TLSRPT_MAILTO,		/* mail the report to addr */
	TLSRPT_HTTPS		/* POST the gzip body to uri */
};

struct tlsrpt_dest {
	enum tlsrpt_scheme	 scheme;
	char			 uri[TLSRPT_URI_MAX];	/* as published
							   (printable ASCII) */
	char			 addr[TLSRPT_ADDR_MAX];	/* mailto: one
				   addr-spec, percent-decoded and checked (no
				   blanks, controls or 8-bit octets; the local
				   part a dot-atom or a quoted string; the
				   domain a host name, never a literal);
				   "" for https */
};

/*
 * The outcome of tlsrpt_txt_parse(). A mailto: URI naming several
 * addresses gives one destination per address; duplicates are kept
 * once. notes[] say, one line each, what was skipped or ignored and
 * why (for the log: "rua URI 'ftp://x' ignored: only mailto: and
 * https: are used"); nnotes counts them all, notes[] keeps the first
 * TLSRPT_NOTE_MAX.
 */
struct tlsrpt_rua {
	size_t			 nrecords;	/* TXT records that begin with
						   v=TLSRPTv1 */
	size_t			 n;
	struct tlsrpt_dest	 dest[TLSRPT_RUA_MAX];
	size_t			 nnotes;
	char			 notes[TLSRPT_NOTE_MAX][TLSRPT_NOTE_LEN];
};

/* tlsrpt_txt.c */
/*
 * tlsrpt_txt_parse - the TLS-RPT policy among the TXT records found at
 * _smtp._tls.<domain> (txts[i]: one record's strings joined). Records
 * that do not begin with "v=TLSRPTv1" (case-sensitive, RFC 8460 3) are
 * not TLS-RPT records; of the rest exactly one must remain. Returns 0
 * with out->n >= 1 destinations, or -1 with err: "no v=TLSRPTv1 record"
 * (out->nrecords == 0: the domain does not ask for reports, nothing to
 * log), "more than one v=TLSRPTv1 record" (RFC 8460 3: send nothing),
 * a record without rua=, or one whose URIs were all skipped (notes say
 * why). A malformed URI or field is skipped with a note, never fatal.
 */
int	 tlsrpt_txt_parse(const char *const *txts, size_t n,
	    struct tlsrpt_rua *out, char *err, size_t errlen);
/*
 * tlsrpt_txt_parse_rrs - the same over a TXT RRset as the resolver
 * returns it (struct dmx_dns_rr of type DMX_T_TXT; others are passed
 * over). A TLS-RPT record that holds a NUL octet counts as a record
 * and is an error.
 */
int	 tlsrpt_txt_parse_rrs(const struct dmx_dns_rr *rrs, size_t n,
	    struct tlsrpt_rua *out, char *err, size_t errlen);
/* tlsrpt_domain_ok - d[0..len) a host name in ASCII (LDH labels)? 1/0 */
int	 tlsrpt_domain_ok(const char *d, size_t len);
/* tlsrpt_addr_ok - a[0..len) an addr-spec as in struct tlsrpt_dest? */
int	 tlsrpt_addr_ok(const char *a, size_t len);

/* tlsrpt_mail.c */
/*
 * What the report mail says about itself. Every string is borrowed for
 * the call only. Names are checked before they go into a header: a
 * domain is a host name in ASCII (A-labels), an address an addr-spec as
 * in struct tlsrpt_dest, report_id a msg-id's inside: dot-atom-text "@"
 * dot-atom-text (letters, digits and !#$%&'*+-/=?^_`{|}~ between dots;
 * no ':' - "2026-12-07T00:00:00Z" is not one, "20261207T000000Z" is).
 */
struct tlsrpt_mail_info {
	const char		*from;		/* From: (and the DKIM d= domain
						   should be its domain) */
	const char *const	*to;		/* To: the rua mailto: addresses */
	size_t			 nto;		/* >= 1 */
	const char		*domain;	/* the policy domain reported on:
						   Subject, TLS-Report-Domain,
						   the filename */
	const char		*submitter;	/* our domain: TLS-Report-
						   Submitter, the filename, the
						   domain of contact-info */
	const char		*report_id;	/* the JSON's report-id; in the
						   Subject as Report-ID: <id> */
	const char		*message_id;	/* Message-ID without <>; NULL:
						   report_id */
	const char		*unique;	/* the filename's unique-id
						   (letters and digits); NULL or
						   "": left out */
	int64_t			 begin, end;	/* date-range, seconds since the
						   epoch (the filename's
						   timestamps) */
	time_t			 date;		/* Date: */
};

/*
 * tlsrpt_mail_build - the report mail (RFC 8460 5.3) with the JSON
 * report json[0..jsonlen) gzip-compressed in its application/tlsrpt+gzip
 * part, appended to out with CRLF line ends, ready for the queue (and
 * for tlsrpt_dkim_sign()). It carries "TLS-Required: No" (RFC 8689) and
 * "Auto-Submitted: auto-generated" (RFC 3834). 0, or -1 with err (a
 * field that is not what it should be, or out's ceiling).
 */
int	 tlsrpt_mail_build(struct buf *out, const struct tlsrpt_mail_info *,
	    const char *json, size_t jsonlen, char *err, size_t errlen);
/*
 * tlsrpt_gzip - json[0..len) gzip-compressed (RFC 1952; zlib) appended
 * to out: the body of an HTTPS POST (Content-Type: application/tlsrpt+
 * gzip), the same bytes as the mail's gzip part. The gzip header holds
 * no name and no time, so equal reports compress to equal bytes. 0 or
 * -1 (out of memory, or out's ceiling).
 */
int	 tlsrpt_gzip(struct buf *out, const char *json, size_t len);
/*
 * tlsrpt_filename - "submitter!domain!begin!end[!unique].json.gz" (RFC
 * 8460 5.1) into name; 0, or -1 when it does not fit or a field is bad
 */
int	 tlsrpt_filename(char *name, size_t namelen,
	    const struct tlsrpt_mail_info *);

/* tlsrpt_dkim.c - DKIM signatures (RFC 6376) made with libopendkim */
struct tlsrpt_dkim;	/* a loaded key and its d= and s=; opaque */
/*
 * tlsrpt_dkim_load - read the private key (PEM without a passphrase:
 * RSA of 1024 bits or more, or Ed25519) for signing as d=domain,
 * s=selector (conf: dkim_domain, dkim_selector, dkim_key_file). Call it
 * as root before the relay drops its privileges. The file must be a
 * regular file of at most 64 KiB, mode 0600 or 0640 (no write by group,
 * nothing for others), and is opened with O_NOFOLLOW (no symbolic link
 * at its last component); as root also root's, at an absolute path
 * whose every directory is root's and writable by nobody else
 * (file_open_trusted_dir()). Returns a signer (free it with
 * tlsrpt_dkim_free()), or NULL with err naming the file and the fault.
 */
struct tlsrpt_dkim *tlsrpt_dkim_load(const char *domain,
	    const char *selector, const char *key_file, char *err,
	    size_t errlen);
/*
 * tlsrpt_dkim_sign - put a DKIM-Signature header at the top of the
 * message in msg (as tlsrpt_mail_build() made it: CRLF line ends):
 * relaxed/relaxed, rsa-sha256 or ed25519-sha256, no l=, over From, To,
 * Subject, Date, Message-ID, MIME-Version, Content-Type, Auto-Submitted,
 * TLS-Report-Domain, TLS-Report-Submitter and TLS-Required, each signed
 * once more than it occurs (so that none can be added later). 0, or -1
 * with err; msg is unchanged on error.
 */
int	 tlsrpt_dkim_sign(const struct tlsrpt_dkim *, struct buf *msg,
	    char *err, size_t errlen);
/*
 * tlsrpt_dkim_txt - the TXT record to publish at <selector>._domainkey.
 * <domain> for this key ("v=DKIM1; k=rsa; p=..."), appended to out;
 * 0 or -1
 */
int	 tlsrpt_dkim_txt(const struct tlsrpt_dkim *, struct buf *out);
/* tlsrpt_dkim_alg - "rsa-sha256" or "ed25519-sha256" */
const char *tlsrpt_dkim_alg(const struct tlsrpt_dkim *);
void	 tlsrpt_dkim_free(struct tlsrpt_dkim *);

#endif /* DANEMX_TLSRPT_MAIL_H */
