/*
 * cmd_tlsa.c - danemx tlsa: make the TLSA records to publish for a
 * certificate, a chain or a key.
 *
 * Reads the file once, computes each record with OpenSSL's DER encoders
 * and digests, and prints zone-file lines (or one JSON object).
 * Everything allocated here is freed before the command returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "dane/dane.h"
#include "route/route.h"
#include "smtp/smtp.h"
#include "util/util.h"

#define TLSA_FILE_MAX	(1024 * 1024)	/* certificates and keys are small */
#define TLSA_SHORT_LIFE	(398 * 86400)	/* longest public CA lifetime */

static const char tlsa_help[] =
"usage: danemx tlsa [--usage 3|2] [--selector 1|0] [--mtype 1|2|0]\n"
"                   [--host NAME] [--port PORT] [--ta-depth N]\n"
"                   [--next KEY.pem] [--upper] [--json] FILE\n"
"       danemx tlsa [options] --connect HOST[:PORT]\n"
"\n"
"Print the TLSA record to publish for a mail server, as a zone-file line:\n"
"\n"
"  _25._tcp.mx.example.org. IN TLSA 3 1 1 9a8079b2...\n"
"\n"
"FILE is a PEM certificate or chain (leaf first; text between blocks is\n"
"skipped), a PEM private key (unencrypted) or public key, or one DER\n"
"certificate or public key. The default, 3 1 1 (DANE-EE, the server's\n"
"public key, SHA2-256), is the record operators should publish: it\n"
"survives certificate renewals that keep the key. A key file gives the\n"
"next key's record before its certificate exists (selector 1 only).\n"
"\n"
"Options:\n"
"      --usage 3|2      3: DANE-EE, the server's own certificate or key\n"
"                       (default). 2: DANE-TA, a CA that issued it: with\n"
"                       a chain file, the issuing CA (depth 1) unless\n"
"                       --ta-depth says otherwise; with a key file, that\n"
"                       key is the CA's\n"
"      --selector 1|0   1: the SubjectPublicKeyInfo (default); 0: the\n"
"                       whole certificate, which changes at every renewal\n"
"      --mtype 1|2|0    1: SHA2-256 (default); 2: SHA2-512; 0: the full\n"
"                       DER data\n"
"      --host NAME      the MX host name for the owner _PORT._tcp.NAME.;\n"
"                       default: the certificate's first DNS name (a\n"
"                       subjectAltName without wildcard, else the CN).\n"
"                       Required for a key file.\n"
"      --port PORT      the TCP port in the owner name (default 25)\n"
"      --ta-depth N     with --usage 2: the chain certificate to publish,\n"
"                       counting the leaf as 0 (default 1)\n"
"      --next KEY.pem   also print the record for the next key, so both\n"
"                       can be published before a key rollover: publish\n"
"                       both, wait at least twice the TTL, switch keys,\n"
"                       then remove the old record (selector 1 only)\n"
"      --upper          upper-case hex, as openssl x509 -fingerprint\n"
"                       prints it (default lower case)\n"
"      --connect HOST[:PORT]\n"
"                       read the chain from a live server over STARTTLS\n"
"                       (SMTP; HOST's addresses are looked up with\n"
"                       DNSSEC); the owner name is HOST unless --host\n"
"\n"
"A warning goes to standard error when a 3 0 x record is asked for on a\n"
"certificate valid for 398 days or less: each renewal would break it.\n"
"\n"
"With --json, one object on stdout: {\"records\": [{\"owner\", \"usage\",\n"
"\"selector\", \"mtype\", \"data\", \"rr\", \"role\"}]}, role being\n"
"\"current\" or \"next\".\n"
"\n"
"Exit status:\n"
"  0   records printed\n"
"  64  usage error (including a missing --host for a key file)\n"
"  65  a file that holds no usable certificate or key, or a chain\n"
"      too short for --ta-depth\n"
"  66  a file that cannot be read\n"
"  69  --connect: no address, no connection, or no TLS\n"
"  70  internal error\n"
"\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  danemx tlsa /etc/ssl/mail/fullchain.pem\n"
"  danemx tlsa --host mx.example.org --next next-key.pem cert.pem\n"
"  danemx tlsa --usage 2 --selector 0 fullchain.pem\n";

enum {
	OPT_USAGE = CLI_OPT_FIRST_COMMAND_OPT,
	OPT_SELECTOR,
	OPT_MTYPE,
	OPT_HOST,
	OPT_PORT,
	OPT_TA_DEPTH,
	OPT_NEXT,
	OPT_UPPER,
	OPT_CONNECT
};

/* What a file held: certificates (leaf first), or one key. */
struct tlsa_input {
	STACK_OF(X509)	*certs;
	EVP_PKEY	*key;
};

/* input_free - free what load_input() read */
static void
input_free(struct tlsa_input *in)
{
	sk_X509_pop_free(in->certs, X509_free);
	EVP_PKEY_free(in->key);
	memset(in, 0, sizeof(*in));
}

/* no_password - never prompt: an encrypted key is an error */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/*
 * read_file - the contents of path, at most TLSA_FILE_MAX octets; the
 * caller frees *out. Returns 0 or an exit status, having said why.
 */
static int
read_file(const char *path, unsigned char **out, size_t *outlen)
{
	FILE		*fp;
	unsigned char	*p;
	size_t		 n;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "danemx tlsa: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	if ((p = malloc(TLSA_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		fprintf(stderr, "danemx tlsa: out of memory\n");
		return EX_SOFTWARE;
	}
	n = fread(p, 1, TLSA_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		fprintf(stderr, "danemx tlsa: %s: %s\n", path, strerror(errno));
		fclose(fp);
		free(p);
		return EX_NOINPUT;
	}
	fclose(fp);
	if (n > TLSA_FILE_MAX) {
		fprintf(stderr, "danemx tlsa: %s: larger than %d octets\n",
		    path, TLSA_FILE_MAX);
		free(p);
		return EX_DATAERR;
	}
	*out = p;
	*outlen = n;
	return 0;
}

/*
 * load_input - certificates or a key from path. Returns 0 or an exit
 * status, having said why.
 */
static int
load_input(const char *path, struct tlsa_input *in)
{
	const unsigned char	*q;
	unsigned char		*data;
	size_t			 len;
	X509			*x;
	BIO			*b;
	int			 rv;

	memset(in, 0, sizeof(*in));
	if ((rv = read_file(path, &data, &len)) != 0)
		return rv;
	if ((in->certs = sk_X509_new_null()) == NULL ||
	    (b = BIO_new_mem_buf(data, (int)len)) == NULL) {
		free(data);
		fprintf(stderr, "danemx tlsa: out of memory\n");
		return EX_SOFTWARE;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL)
		if (!sk_X509_push(in->certs, x)) {
			X509_free(x);
			break;
		}
	if (sk_X509_num(in->certs) == 0) {
		(void)BIO_reset(b);
		in->key = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	}
	if (sk_X509_num(in->certs) == 0 && in->key == NULL) {
		(void)BIO_reset(b);
		in->key = PEM_read_bio_PUBKEY(b, NULL, no_password, NULL);
	}
	BIO_free(b);
	if (sk_X509_num(in->certs) == 0 && in->key == NULL) {
		q = data;
		if ((x = d2i_X509(NULL, &q, (long)len)) != NULL &&
		    q == data + len)
			sk_X509_push(in->certs, x);
		else {
			X509_free(x);
			q = data;
			in->key = d2i_PUBKEY(NULL, &q, (long)len);
		}
	}
	ERR_clear_error();
	rv = 0;
	if (sk_X509_num(in->certs) == 0 && in->key == NULL) {
		if (memmem(data, len, "ENCRYPTED", 9) != NULL)
			fprintf(stderr, "danemx tlsa: %s: the key is encrypted;"
			    " give its certificate or public key instead\n",
			    path);
		else
			fprintf(stderr, "danemx tlsa: %s: no certificate or "
			    "key (expected PEM or DER)\n", path);
		rv = EX_DATAERR;
	}
	free(data);
	return rv;
}

/*
 * make_record - the record of the given kind for cert (selector 0 or 1)
 * or key (selector 1). Returns 0, or -1 when out of memory.
 */
static int
make_record(struct dane_tlsa *t, uint8_t usage, uint8_t selector,
    uint8_t mtype, X509 *cert, EVP_PKEY *key)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	int		 len;

	memset(t, 0, sizeof(*t));
	t->usage = usage;
	t->selector = selector;
	t->mtype = mtype;
	if (selector == DANE_SELECTOR_CERT)
		len = i2d_X509(cert, &der);
	else
		len = i2d_PUBKEY(key != NULL ? key : X509_get0_pubkey(cert),
		    &der);
	if (len <= 0)
		return -1;
	if (mtype == DANE_MTYPE_FULL) {
		t->len = (size_t)len;
		if ((t->data = malloc(t->len)) == NULL) {
			OPENSSL_free(der);
			return -1;
		}
		memcpy(t->data, der, t->len);
		OPENSSL_free(der);
		return 0;
	}
	if (EVP_Digest(der, (size_t)len, md, &mdlen, mtype ==
	    DANE_MTYPE_SHA256 ? EVP_sha256() : EVP_sha512(), NULL) != 1 ||
	    (t->data = malloc(mdlen)) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	memcpy(t->data, md, mdlen);
	t->len = mdlen;
	OPENSSL_free(der);
	return 0;
}

/*
 * cert_name - the certificate's first DNS subjectAltName without a
 * wildcard, else its CN, lowercased into out. Returns 0 or -1 when it
 * has no such name.
 */
static int
cert_name(X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	X509_NAME_ENTRY		*e;
	const ASN1_STRING	*s;
	int			 i, found = 0, idx;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		s = g->d.dNSName;
		if (ASN1_STRING_length(s) <= 0 || (size_t)ASN1_STRING_length(s)
		    >= outlen || memchr(ASN1_STRING_get0_data(s), '*',
		    (size_t)ASN1_STRING_length(s)) != NULL ||
		    memchr(ASN1_STRING_get0_data(s), '\0',
		    (size_t)ASN1_STRING_length(s)) != NULL)
			continue;
		memcpy(out, ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
		out[ASN1_STRING_length(s)] = '\0';
		found = 1;
		break;
	}
	GENERAL_NAMES_free(gens);
	if (!found) {
		idx = X509_NAME_get_index_by_NID(X509_get_subject_name(x),
		    NID_commonName, -1);
		if (idx < 0 || (e = X509_NAME_get_entry(X509_get_subject_name(x),
		    idx)) == NULL)
			return -1;
		s = X509_NAME_ENTRY_get_data(e);
		if (ASN1_STRING_length(s) <= 0 || (size_t)ASN1_STRING_length(s)
		    >= outlen || memchr(ASN1_STRING_get0_data(s), '\0',
		    (size_t)ASN1_STRING_length(s)) != NULL)
			return -1;
		memcpy(out, ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
		out[ASN1_STRING_length(s)] = '\0';
		if (strchr(out, ' ') != NULL || strchr(out, '*') != NULL)
			return -1;
	}
	str_lower(out);
	return 0;
}

/* short_lived - lifetime in days when cert lives at most a renewal cycle */
static int
short_lived(X509 *x)
{
	int	 days, secs;

	if (ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)) != 1)
		return 0;
	if (days < 0 || (long)days * 86400 + secs > TLSA_SHORT_LIFE)
		return 0;
	return days > 0 ? days : 1;
}

/* print_record - one zone-file line, or one JSON element */
static int
print_record(struct buf *json, int first, const char *owner,
    const struct dane_tlsa *t, int upper, const char *role)
{
	char	*txt, *rr = NULL;
	size_t	 n;
	int	 r = 0;

	if ((txt = dane_tlsa_text(t, upper)) == NULL)
		return -1;
	if (json == NULL) {
		printf("%s IN TLSA %s%s%s\n", owner, txt, role ? " ; " : "",
		    role ? role : "");
		free(txt);
		return 0;
	}
	n = strlen(owner) + strlen(txt) + 16;
	if ((rr = malloc(n)) == NULL) {
		free(txt);
		return -1;
	}
	snprintf(rr, n, "%s IN TLSA %s", owner, txt);
	r |= buf_adds(json, first ? "{" : ",{");
	r |= json_kv_str(json, "owner", owner);
	r |= buf_adds(json, ",");
	r |= json_kv_int(json, "usage", t->usage);
	r |= buf_adds(json, ",");
	r |= json_kv_int(json, "selector", t->selector);
	r |= buf_adds(json, ",");
	r |= json_kv_int(json, "mtype", t->mtype);
	r |= buf_adds(json, ",");
	/* txt is "U S M HEX": the data is after the third blank */
	r |= json_kv_str(json, "data", txt + strlen(txt) - 2 * t->len);
	r |= buf_adds(json, ",");
	r |= json_kv_str(json, "rr", rr);
	r |= buf_adds(json, ",");
	r |= json_kv_str(json, "role", role ? role : "current");
	r |= buf_adds(json, "}");
	free(rr);
	free(txt);
	return r ? -1 : 0;
}

/* parse_choice - a numeric option limited to the listed values */
static int
parse_choice(const char *opt, const char *arg, const char *allowed,
    uint8_t *out)
{
	unsigned long	 v;

	if (parse_uint(arg, 255, &v) == -1 || strlen(arg) != 1 ||
	    strchr(allowed, arg[0]) == NULL) {
		cli_usage_error("tlsa", "%s: '%s' is not one of %s", opt, arg,
		    allowed);
		return -1;
	}
	*out = (uint8_t)v;
	return 0;
}

/* What the command line asked for. */
struct tlsa_args {
	const char	*host, *next_file, *connect, *file;
	unsigned long	 port, ta_depth;
	uint8_t		 usage, selector, mtype;
	int		 upper, ta_given, port_given;
	char		 name[DMX_NAME_MAX];	/* the owner's host */
};

#define TLSA_GO_ON	(-1)

/* tlsa_opt - one option; TLSA_GO_ON, or an exit status */
static int
tlsa_opt(struct cli *c, struct tlsa_args *a, int ch)
{
	switch (ch) {
	case 'h':
		fputs(tlsa_help, stdout);
		return 0;
	case '?':
		return cli_usage_error("tlsa", "unknown option");
	case OPT_USAGE:
		return parse_choice("--usage", optarg, "32", &a->usage) == -1 ?
		    EX_USAGE : TLSA_GO_ON;
	case OPT_SELECTOR:
		return parse_choice("--selector", optarg, "10",
		    &a->selector) == -1 ? EX_USAGE : TLSA_GO_ON;
	case OPT_MTYPE:
		return parse_choice("--mtype", optarg, "120", &a->mtype) == -1 ?
		    EX_USAGE : TLSA_GO_ON;
	case OPT_HOST:
		a->host = optarg;
		break;
	case OPT_PORT:
		if (parse_uint(optarg, 65535, &a->port) == -1 || a->port == 0)
			return cli_usage_error("tlsa", "--port: '%s' is not a "
			    "port number", optarg);
		a->port_given = 1;
		break;
	case OPT_TA_DEPTH:
		if (parse_uint(optarg, 64, &a->ta_depth) == -1 ||
		    a->ta_depth == 0)
			return cli_usage_error("tlsa", "--ta-depth: '%s' is "
			    "not a depth from 1 to 64", optarg);
		a->ta_given = 1;
		break;
	case OPT_NEXT:
		a->next_file = optarg;
		break;
	case OPT_UPPER:
		a->upper = 1;
		break;
	case OPT_CONNECT:
		a->connect = optarg;
		break;
	default:
		if (cli_common_opt(c, ch, optarg) != 0)
			return EX_USAGE;
	}
	return TLSA_GO_ON;
}

/* tlsa_args_check - the options and the FILE agree */
static int
tlsa_args_check(struct tlsa_args *a, int argc, char **argv)
{
	size_t	 n;

	if (a->connect != NULL && argc != 0)
		return cli_usage_error("tlsa", "give --connect or FILE, not "
		    "both");
	if (a->connect == NULL && argc != 1)
		return cli_usage_error("tlsa", "expected one FILE");
	a->file = a->connect != NULL ? a->connect : argv[0];
	if (a->ta_given && a->usage != DANE_USAGE_DANE_TA)
		return cli_usage_error("tlsa", "--ta-depth needs --usage 2");
	if (a->next_file != NULL && a->selector != DANE_SELECTOR_SPKI)
		return cli_usage_error("tlsa", "--next needs --selector 1: the "
		    "next certificate does not exist yet");
	if (a->host != NULL) {
		n = strlen(a->host);
		if (n > 0 && a->host[n - 1] == '.')
			n--;
		if (n == 0 || n >= sizeof(a->name) - 1 || strcspn(a->host,
		    " \t\r\n;") != strlen(a->host))
			return cli_usage_error("tlsa", "--host: '%s' is not a "
			    "domain name", a->host);
		memcpy(a->name, a->host, n);
		a->name[n] = '\0';
		str_lower(a->name);
	}
	return TLSA_GO_ON;
}

/*
 * tlsa_subject - from what was read, the certificate (at the depth
 * --usage 2 asks for) or key to publish, and the owner's host name when
 * --host did not say; TLSA_GO_ON, or an exit status
 */
static int
tlsa_subject(struct tlsa_args *a, const struct tlsa_input *in, X509 **cert)
{
	unsigned long	 depth;
	int		 days;

	if (in->key != NULL) {
		if (a->selector != DANE_SELECTOR_SPKI)
			return cli_usage_error("tlsa", "%s holds a key: only "
			    "--selector 1 applies", a->file);
		if (a->name[0] == '\0')
			return cli_usage_error("tlsa", "a key has no name: give "
			    "--host");
		return TLSA_GO_ON;
	}
	depth = a->usage == DANE_USAGE_DANE_TA ? a->ta_depth : 0;
	if (depth >= (unsigned long)sk_X509_num(in->certs)) {
		fprintf(stderr, "danemx tlsa: %s holds %d certificate(s); "
		    "--usage 2 needs the CA at depth %lu: give the chain, leaf "
		    "first\n", a->file, sk_X509_num(in->certs), depth);
		return EX_DATAERR;
	}
	*cert = sk_X509_value(in->certs, (int)depth);
	if (a->name[0] == '\0' && cert_name(sk_X509_value(in->certs, 0),
	    a->name, sizeof(a->name)) == -1)
		return cli_usage_error("tlsa", "%s has no DNS name to use: give "
		    "--host", a->file);
	if (a->usage == DANE_USAGE_DANE_EE &&
	    a->selector == DANE_SELECTOR_CERT && (days = short_lived(*cert)) > 0)
		fprintf(stderr, "danemx tlsa: warning: the certificate is valid "
		    "for %d days; a 3 0 %u record breaks at every renewal: "
		    "publish 3 1 1 and keep the key across renewals\n", days,
		    a->mtype);
	return TLSA_GO_ON;
}

/* tlsa_next - the record for --next KEY.pem into nxt; 0 or exit status */
static int
tlsa_next(const struct tlsa_args *a, const struct dane_tlsa *cur,
    struct tlsa_input *next, struct dane_tlsa *nxt)
{
	unsigned long	 ndepth;
	int		 rv;

	if ((rv = load_input(a->next_file, next)) != 0)
		return rv;
	ndepth = a->usage == DANE_USAGE_DANE_TA ? a->ta_depth : 0;
	if (next->key == NULL &&
	    ndepth >= (unsigned long)sk_X509_num(next->certs)) {
		fprintf(stderr, "danemx tlsa: %s holds %d certificate(s); "
		    "--usage 2 needs the CA at depth %lu\n", a->next_file,
		    sk_X509_num(next->certs), ndepth);
		return EX_DATAERR;
	}
	if (make_record(nxt, a->usage, a->selector, a->mtype, next->key ==
	    NULL ? sk_X509_value(next->certs, (int)ndepth) : NULL,
	    next->key) == -1) {
		fprintf(stderr, "danemx tlsa: cannot encode the key in %s\n",
		    a->next_file);
		return EX_SOFTWARE;
	}
	if (dane_tlsa_equal(cur, nxt->usage, nxt->selector, nxt->mtype,
	    nxt->data, nxt->len))
		fprintf(stderr, "danemx tlsa: warning: %s has the same key as "
		    "%s\n", a->next_file, a->file);
	return 0;
}

/* tlsa_print - the record(s), as zone-file lines or one JSON object */
static int
tlsa_print(struct cli *c, const struct tlsa_args *a, const char *owner,
    const struct dane_tlsa *cur, const struct dane_tlsa *nxt)
{
	struct buf	 json, *jp = NULL;
	int		 rv = 0;

	buf_init(&json, 16 * 1024 * 1024);
	if (c->json) {
		jp = &json;
		buf_adds(jp, "{\"records\":[");
	}
	print_record(jp, 1, owner, cur, a->upper, a->next_file ? "current" :
	    NULL);
	if (a->next_file != NULL)
		print_record(jp, 0, owner, nxt, a->upper, "next");
	if (jp != NULL) {
		if (buf_adds(jp, "]}\n") == -1) {
			fprintf(stderr, "danemx tlsa: JSON output too large\n");
			rv = EX_SOFTWARE;
		} else
			fputs(jp->data, stdout);
	}
	buf_free(&json);
	return rv;
}

/* tlsa_run - read, make and print the records */
static int
tlsa_run(struct cli *c, struct tlsa_args *a)
{
	struct tlsa_input	 in, next;
	struct dane_tlsa	 cur, nxt;
	X509			*cert = NULL;
	char			 owner[DMX_NAME_MAX + 16], cname[DMX_NAME_MAX];
	unsigned long		 cport;
	int			 rv;

	memset(&in, 0, sizeof(in));
	memset(&next, 0, sizeof(next));
	memset(&cur, 0, sizeof(cur));
	memset(&nxt, 0, sizeof(nxt));
	if (a->connect != NULL) {
		if ((rv = cli_tlsa_connect(c, a->connect, a->port_given ?
		    &cport : &a->port, cname, sizeof(cname), &in.certs)) != 0)
			goto done;
		if (a->name[0] == '\0' && cname[0] != '\0')
			strlcpy_(a->name, cname, sizeof(a->name));
	} else if ((rv = load_input(a->file, &in)) != 0)
		goto done;
	if ((rv = tlsa_subject(a, &in, &cert)) != TLSA_GO_ON)
		goto done;
	snprintf(owner, sizeof(owner), "_%lu._tcp.%s.", a->port, a->name);
	if (make_record(&cur, a->usage, a->selector, a->mtype, cert,
	    in.key) == -1) {
		fprintf(stderr, "danemx tlsa: cannot encode the %s\n",
		    a->selector == DANE_SELECTOR_CERT ? "certificate" : "key");
		rv = EX_SOFTWARE;
		goto done;
	}
	if (a->next_file != NULL && (rv = tlsa_next(a, &cur, &next,
	    &nxt)) != 0)
		goto done;
	rv = tlsa_print(c, a, owner, &cur, &nxt);
done:
	dane_tlsa_clear(&cur);
	dane_tlsa_clear(&nxt);
	input_free(&in);
	input_free(&next);
	return rv;
}

/* cmd_tlsa - danemx tlsa [options] FILE | --connect HOST[:PORT] */
int
cmd_tlsa(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "usage", required_argument, NULL, OPT_USAGE },
		{ "selector", required_argument, NULL, OPT_SELECTOR },
		{ "mtype", required_argument, NULL, OPT_MTYPE },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "ta-depth", required_argument, NULL, OPT_TA_DEPTH },
		{ "next", required_argument, NULL, OPT_NEXT },
		{ "upper", no_argument, NULL, OPT_UPPER },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ NULL, 0, NULL, 0 }
	};
	struct tlsa_args	 a;
	int			 ch, rv = TLSA_GO_ON;

	memset(&a, 0, sizeof(a));
	a.port = 25;
	a.ta_depth = 1;
	a.usage = 3;
	a.selector = 1;
	a.mtype = 1;
	while (rv == TLSA_GO_ON && (ch = getopt_long(argc, argv,
	    CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1)
		rv = tlsa_opt(c, &a, ch);
	if (rv == TLSA_GO_ON)
		rv = tlsa_args_check(&a, argc - optind, argv + optind);
	if (rv == TLSA_GO_ON)
		rv = tlsa_run(c, &a);
	return rv;
}
