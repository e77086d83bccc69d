/*
 * dns_wire.c - parse DNS messages and the rdata danemx uses, with bounds.
 *
 * dns_msg_parse() reads the answer section of a message (as libunbound
 * hands it over) into a dmx_dns_result: the CNAME chain from the query
 * name, and the records of the query type at the end of that chain.
 * Names are returned lowercase, without the trailing dot, with bytes
 * outside [a-z0-9-_*] escaped as \DDD (and '.' or '\' as \. and \\).
 * Record memory (text, TLSA and TXT data) belongs to the result; the caller
 * frees it with dmx_dns_result_free(). On error nothing stays allocated
 * in the result beyond what dmx_dns_result_free() releases.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "util/util.h"

#define NAME_WIRE_MAX	255
#define MAX_POINTERS	64	/* compression pointers followed per name */

static int	txt_parse(const unsigned char *, size_t, struct dmx_dns_rr *,
		    const char **);

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* name_putc - append one label byte in presentation form */
static int
name_putc(char *out, size_t outlen, size_t *n, unsigned char c)
{
	char	 tmp[5];
	size_t	 k;

	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_' || c == '*') {
		tmp[0] = (char)c;
		k = 1;
	} else if (c == '.' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		k = 2;
	} else {
		snprintf(tmp, sizeof(tmp), "\\%03u", c);
		k = 4;
	}
	if (*n + k >= outlen)
		return -1;
	memcpy(out + *n, tmp, k);
	*n += k;
	out[*n] = '\0';
	return 0;
}

/*
 * dns_name_read - read a possibly compressed name at *off into out.
 * *off moves past the name as it stands at *off. The root name reads
 * as ".". Returns 0, or -1 with *err set.
 */
int
dns_name_read(const unsigned char *msg, size_t msglen, size_t *off,
    char *out, size_t outlen, const char **err)
{
	size_t	 pos = *off, n = 0, wire = 0, end = 0;
	int	 jumped = 0, hops = 0;
	unsigned len, i;

	if (outlen < 2) {
		*err = "name buffer too small";
		return -1;
	}
	out[0] = '\0';
	for (;;) {
		if (pos >= msglen) {
			*err = "name runs past the end of the message";
			return -1;
		}
		len = msg[pos];
		if ((len & 0xc0) == 0xc0) {
			if (pos + 1 >= msglen) {
				*err = "truncated compression pointer";
				return -1;
			}
			if (++hops > MAX_POINTERS) {
				*err = "compression pointer loop";
				return -1;
			}
			if (!jumped) {
				end = pos + 2;
				jumped = 1;
			}
			pos = (size_t)(get16(msg + pos) & 0x3fff);
			continue;
		}
		if ((len & 0xc0) != 0) {
			*err = "unsupported label type";
			return -1;
		}
		wire += len + 1;
		if (wire > NAME_WIRE_MAX) {
			*err = "name longer than 255 octets";
			return -1;
		}
		if (len == 0) {
			pos++;
			break;
		}
		if (pos + 1 + len > msglen) {
			*err = "label runs past the end of the message";
			return -1;
		}
		if (n > 0) {
			if (n + 1 >= outlen)
				goto toolong;
			out[n++] = '.';
			out[n] = '\0';
		}
		for (i = 0; i < len; i++)
			if (name_putc(out, outlen, &n, msg[pos + 1 + i]) == -1)
				goto toolong;
		pos += 1 + len;
	}
	if (n == 0) {
		out[0] = '.';
		out[1] = '\0';
	}
	*off = jumped ? end : pos;
	return 0;
toolong:
	*err = "name too long for its presentation form";
	return -1;
}

/* dns_name_equal - compare presentation names, ignoring case and a final dot */
int
dns_name_equal(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '.' && (la < 2 || a[la - 2] != '\\'))
		la--;
	if (lb > 1 && b[lb - 1] == '.' && (lb < 2 || b[lb - 2] != '\\'))
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* dns_rr_clear - free what a record owns */
void
dns_rr_clear(struct dmx_dns_rr *rr)
{
	if (rr->type == DMX_T_TLSA)
		free(rr->u.tlsa.data);
	else if (rr->type == DMX_T_TXT)
		free(rr->u.txt.data);
	free(rr->text);
	memset(rr, 0, sizeof(*rr));
}

/*
 * dns_rdata_parse - parse rdlen bytes at off (inside msg, for name
 * compression) as a record of type into rr, including rr->text.
 * Returns 0, or -1 with *err set and rr holding nothing to free.
 */
int
dns_rdata_parse(const unsigned char *msg, size_t msglen, size_t off,
    size_t rdlen, uint16_t type, struct dmx_dns_rr *rr, const char **err)
{
	char	 text[DMX_NAME_MAX + 64];
	size_t	 pos = off, hexlen;
	char	*hex;

	if (off > msglen || rdlen > msglen - off) {
		*err = "rdata runs past the end of the message";
		return -1;
	}
	rr->type = type;
	switch (type) {
	case DMX_T_A:
		if (rdlen != 4) {
			*err = "A rdata is not 4 octets";
			return -1;
		}
		memcpy(rr->u.addr, msg + off, 4);
		inet_ntop(AF_INET, rr->u.addr, text, sizeof(text));
		break;
	case DMX_T_AAAA:
		if (rdlen != 16) {
			*err = "AAAA rdata is not 16 octets";
			return -1;
		}
		memcpy(rr->u.addr, msg + off, 16);
		inet_ntop(AF_INET6, rr->u.addr, text, sizeof(text));
		break;
	case DMX_T_MX:
		if (rdlen < 3) {
			*err = "MX rdata shorter than 3 octets";
			return -1;
		}
		rr->u.mx.pref = get16(msg + off);
		pos = off + 2;
		/* The name may not reach past this record's rdata. */
		if (dns_name_read(msg, off + rdlen, &pos, rr->u.mx.host,
		    sizeof(rr->u.mx.host), err) == -1)
			return -1;
		if (pos != off + rdlen) {
			*err = "MX rdata has trailing octets";
			return -1;
		}
		snprintf(text, sizeof(text), "%u %s", rr->u.mx.pref,
		    rr->u.mx.host);
		break;
	case DMX_T_CNAME:
		if (dns_name_read(msg, off + rdlen, &pos, rr->u.target,
		    sizeof(rr->u.target), err) == -1)
			return -1;
		if (pos != off + rdlen) {
			*err = "CNAME rdata has trailing octets";
			return -1;
		}
		strlcpy_(text, rr->u.target, sizeof(text));
		break;
	case DMX_T_TLSA:
		if (rdlen < 3) {
			/* Empty data parses; the DANE room calls it unusable. */
			*err = "TLSA rdata shorter than 3 octets";
			return -1;
		}
		rr->u.tlsa.usage = msg[off];
		rr->u.tlsa.selector = msg[off + 1];
		rr->u.tlsa.mtype = msg[off + 2];
		rr->u.tlsa.len = rdlen - 3;
		hexlen = 2 * rr->u.tlsa.len + 32;
		if ((rr->u.tlsa.data = malloc(rr->u.tlsa.len + 1)) == NULL ||
		    (hex = malloc(hexlen)) == NULL) {
			free(rr->u.tlsa.data);
			rr->u.tlsa.data = NULL;
			*err = "out of memory";
			return -1;
		}
		memcpy(rr->u.tlsa.data, msg + off + 3, rr->u.tlsa.len);
		snprintf(hex, hexlen, "%u %u %u ", rr->u.tlsa.usage,
		    rr->u.tlsa.selector, rr->u.tlsa.mtype);
		hex_encode(hex + strlen(hex), hexlen - strlen(hex),
		    rr->u.tlsa.data, rr->u.tlsa.len, 0);
		rr->text = hex;
		return 0;
	case DMX_T_TXT:
		return txt_parse(msg + off, rdlen, rr, err);
	default:
		*err = "unsupported record type";
		return -1;
	}
	if ((rr->text = strdup(text)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	return 0;
}

/*
 * txt_parse - TXT rdata (one or more character-strings, RFC 1035 3.3.14)
 * into rr->u.txt (the strings joined, as RFC 7208 and RFC 8461 read
 * them) and rr->text (each string quoted, '"' and '\\' escaped, other
 * bytes outside 0x20-0x7e as \DDD, as dig prints them). The data is at
 * most rdlen octets and the text at most 4 * rdlen + 2 per string.
 */
static int
txt_parse(const unsigned char *p, size_t rdlen, struct dmx_dns_rr *rr,
    const char **err)
{
	struct buf	 text;
	size_t		 pos = 0, len;
	unsigned char	 c;
	char		*data;

	if (rdlen == 0) {
		*err = "TXT rdata holds no character-string";
		return -1;
	}
	if ((data = malloc(rdlen + 1)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	buf_init(&text, 4 * rdlen + 2 * rdlen + 1);
	rr->u.txt.len = 0;
	rr->u.txt.nstrings = 0;
	while (pos < rdlen) {
		len = p[pos++];
		if (len > rdlen - pos) {
			*err = "TXT character-string runs past its rdata";
			goto fail;
		}
		if ((rr->u.txt.nstrings > 0 && buf_add(&text, " ", 1) == -1) ||
		    buf_add(&text, "\"", 1) == -1)
			goto nomem;
		memcpy(data + rr->u.txt.len, p + pos, len);
		rr->u.txt.len += len;
		for (; len > 0; len--, pos++) {
			c = p[pos];
			if (c == '"' || c == '\\') {
				if (buf_printf(&text, "\\%c", c) == -1)
					goto nomem;
			} else if (c < 0x20 || c > 0x7e) {
				if (buf_printf(&text, "\\%03u", c) == -1)
					goto nomem;
			} else if (buf_add(&text, &c, 1) == -1)
				goto nomem;
		}
		if (buf_add(&text, "\"", 1) == -1)
			goto nomem;
		rr->u.txt.nstrings++;
	}
	data[rr->u.txt.len] = '\0';
	rr->u.txt.data = data;
	rr->text = buf_steal(&text);
	return 0;
nomem:
	*err = "out of memory";
fail:
	free(data);
	buf_free(&text);
	rr->u.txt.len = 0;
	rr->u.txt.nstrings = 0;
	return -1;
}

struct cname_link {
	char	 owner[DMX_NAME_MAX];
	char	 target[DMX_NAME_MAX];
};

/* follow_chain - from the question down the CNAME links, each used once;
 * cur ends as the canonical name. -1 when out of memory. */
static int
follow_chain(struct dmx_dns_result *res, const char *qname,
    struct cname_link *links, size_t nlinks, char *cur, size_t curlen,
    const char **err)
{
	size_t	 i, k;

	strlcpy_(cur, qname, curlen);
	res->cname_chain = NULL;
	res->ncname = 0;
	for (k = 0; k < nlinks; k++) {
		for (i = 0; i < nlinks; i++)
			if (dns_name_equal(links[i].owner, cur))
				break;
		if (i == nlinks)
			break;
		if (res->cname_chain == NULL &&
		    (res->cname_chain = calloc(nlinks,
		    sizeof(char *))) == NULL) {
			*err = "out of memory";
			return -1;
		}
		if ((res->cname_chain[res->ncname] =
		    strdup(links[i].owner)) == NULL) {
			*err = "out of memory";
			return -1;
		}
		res->ncname++;
		strlcpy_(cur, links[i].target, curlen);
		links[i].owner[0] = '\0';	/* a loop ends the walk */
	}
	return 0;
}

/* read_question - the header and the one question: its name and type */
static int
read_question(const unsigned char *msg, size_t msglen, size_t *off,
    unsigned *an, char *qname, size_t qlen, uint16_t *qtype,
    const char **err)
{
	if (msglen < DNS_HDR_LEN) {
		*err = "message shorter than a DNS header";
		return -1;
	}
	*an = get16(msg + 6);
	if (get16(msg + 4) != 1) {
		*err = "message does not hold exactly one question";
		return -1;
	}
	if (*an > DNS_MAX_RRS) {
		*err = "too many answer records";
		return -1;
	}
	*off = DNS_HDR_LEN;
	if (dns_name_read(msg, msglen, off, qname, qlen, err) == -1)
		return -1;
	if (*off + 4 > msglen) {
		*err = "truncated question";
		return -1;
	}
	*qtype = get16(msg + *off);
	*off += 4;
	return 0;
}

/* rest_ttl - the smallest TTL in the authority and additional sections,
 * which start at off (EDNS's OPT pseudo-record aside); UINT32_MAX if
 * none. A malformed section ends the walk: the TTL is only a cache hint. */
static uint32_t
rest_ttl(const unsigned char *msg, size_t msglen, size_t off)
{
	char		 name[DMX_NAME_MAX];
	const char	*err;
	uint32_t	 ttl, min = UINT32_MAX;
	unsigned	 n, i;
	size_t		 rdlen;

	n = (unsigned)get16(msg + 8) + get16(msg + 10);
	for (i = 0; i < n && i < DNS_MAX_RRS; i++) {
		if (dns_name_read(msg, msglen, &off, name, sizeof(name),
		    &err) == -1 || off + 10 > msglen)
			break;
		ttl = get32(msg + off + 4);
		rdlen = get16(msg + off + 8);
		if (get16(msg + off) != 41 /* OPT */ && ttl < min)
			min = ttl;
		off += 10;
		if (rdlen > msglen - off)
			break;
		off += rdlen;
	}
	return min;
}

/*
 * dns_name_wire_ok - 1 when a name in presentation form (\DDD and \X
 * escapes, a trailing dot or none) can be put on the wire: labels of 1
 * to 63 octets, 255 octets in all; 0 when no DNS query can ask for it.
 */
int
dns_name_wire_ok(const char *name)
{
	const char	*p;
	size_t		 total = 1, label = 0;	/* the root's zero octet */

	if (name[0] == '\0' || strcmp(name, ".") == 0)
		return 1;
	for (p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;	/* an empty label */
			total += label + 1;
			label = 0;
			continue;
		}
		if (*p == '\\') {
			if (isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2]) &&
			    isdigit((unsigned char)p[3]))
				p += 3;
			else if (p[1] != '\0')
				p++;
			else
				return 0;
		}
		if (++label > 63)
			return 0;
	}
	total += label > 0 ? label + 1 : 0;
	return total <= 255;
}

/*
 * dns_msg_parse - the answer section of msg into res: the records of
 * the asked type (on the CNAME chain from the question, and only
 * there), the chain's owners, the canonical name. 0, or -1 with err.
 */
int
dns_msg_parse(const unsigned char *msg, size_t msglen,
    struct dmx_dns_result *res, const char **err)
{
	struct cname_link links[DNS_MAX_CNAME_CHAIN];
	struct dmx_dns_rr *rrs = NULL, rr;
	char		 owner[DMX_NAME_MAX], qname[DMX_NAME_MAX];
	char		 cur[DMX_NAME_MAX];
	size_t		 off, nrr = 0, nlinks = 0, i;
	unsigned	 an;
	uint16_t	 type, qtype;
	uint32_t	 ttl, minttl = UINT32_MAX;
	size_t		 rdlen;

	if (read_question(msg, msglen, &off, &an, qname, sizeof(qname),
	    &qtype, err) == -1)
		return -1;
	if (res->qname != NULL && (!dns_name_equal(qname, res->qname) ||
	    qtype != res->qtype)) {
		*err = "answer is for a different question";
		return -1;
	}
	if (an > 0 && (rrs = calloc(an, sizeof(*rrs))) == NULL) {
		*err = "out of memory";
		return -1;
	}
	res->ncname = 0;
	for (i = 0; i < an; i++) {
		if (dns_name_read(msg, msglen, &off, owner, sizeof(owner),
		    err) == -1)
			goto fail;
		if (off + 10 > msglen) {
			*err = "truncated resource record header";
			goto fail;
		}
		type = get16(msg + off);
		ttl = get32(msg + off + 4);
		rdlen = get16(msg + off + 8);
		off += 10;
		if (rdlen > msglen - off) {
			*err = "rdata runs past the end of the message";
			goto fail;
		}
		if (ttl < minttl)
			minttl = ttl;
		if (type == DMX_T_CNAME && qtype != DMX_T_CNAME) {
			if (nlinks == DNS_MAX_CNAME_CHAIN) {
				*err = "CNAME chain too long";
				goto fail;
			}
			memset(&rr, 0, sizeof(rr));
			if (dns_rdata_parse(msg, msglen, off, rdlen, type, &rr,
			    err) == -1)
				goto fail;
			strlcpy_(links[nlinks].owner, owner, DMX_NAME_MAX);
			strlcpy_(links[nlinks].target, rr.u.target,
			    DMX_NAME_MAX);
			nlinks++;
			dns_rr_clear(&rr);
		} else if (type == qtype) {
			if (dns_rdata_parse(msg, msglen, off, rdlen, type,
			    &rrs[nrr], err) == -1) {
				dns_rr_clear(&rrs[nrr]);
				goto fail;
			}
			strlcpy_(rrs[nrr].owner, owner, DMX_NAME_MAX);
			rrs[nrr].ttl = ttl;
			nrr++;
		}
		off += rdlen;
	}
	if (follow_chain(res, qname, links, nlinks, cur, sizeof(cur),
	    err) == -1)
		goto fail;
	for (i = 0; i < nrr; i++) {
		if (!dns_name_equal(rrs[i].owner, cur)) {
			*err = "answer record outside the CNAME chain";
			goto fail;
		}
	}
	free(res->canonical_name);
	if ((res->canonical_name = strdup(cur)) == NULL) {
		*err = "out of memory";
		goto fail;
	}
	res->rrs = rrs;
	res->nrrs = nrr;
	/*
	 * As libunbound's ub_result: with records of the asked type, the
	 * answer section's smallest TTL (CNAMEs included); without (NODATA,
	 * NXDOMAIN, after a CNAME chain too), the whole message's smallest,
	 * which a negative answer's SOA sets (RFC 2308).
	 */
	if (nrr == 0 && (ttl = rest_ttl(msg, msglen, off)) < minttl)
		minttl = ttl;
	res->ttl = minttl == UINT32_MAX ? 0 : minttl;
	return 0;
fail:
	for (i = 0; i < nrr; i++)
		dns_rr_clear(&rrs[i]);
	free(rrs);
	for (i = 0; i < res->ncname; i++)
		free(res->cname_chain[i]);
	free(res->cname_chain);
	res->cname_chain = NULL;
	res->ncname = 0;
	return -1;
}
