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

/* State of one --connect session. */
struct conn {
	struct tlsa_input	*in;
	SSL_CTX			*ctx;
	const char		*sni;
	struct dmx_dns_result	*res[2];
	int			 pending, done;
	char			 error[512];
};

static void
conn_dns(void *arg, struct dmx_dns_result *r)
{
	struct conn *cn = arg;

	cn->res[r->qtype == DMX_T_AAAA ? 1 : 0] = r;
	cn->pending--;
}

static SSL *
conn_tls_begin(void *arg)
{
	struct conn	*cn = arg;
	SSL		*ssl;

	if ((ssl = SSL_new(cn->ctx)) != NULL && cn->sni != NULL)
		SSL_set_tlsext_host_name(ssl, cn->sni);
	return ssl;
}

/* conn_tls_check - keep the chain the server sent; judge nothing */
static int
conn_tls_check(void *arg, SSL *ssl, int ok, char *why, size_t whylen)
{
	struct conn	*cn = arg;
	STACK_OF(X509)	*chain;
	int		 i;

	(void)why;
	(void)whylen;
	if (!ok || (chain = SSL_get_peer_cert_chain(ssl)) == NULL)
		return -1;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		if (X509_up_ref(x) == 1 && !sk_X509_push(cn->in->certs, x))
			X509_free(x);
	}
	return 0;
}

static void
conn_done(void *arg, const struct smtp_result *r)
{
	struct conn *cn = arg;

	if (!r->ok)
		snprintf(cn->error, sizeof(cn->error), "%s", r->error);
	else if (!r->tls)
		snprintf(cn->error, sizeof(cn->error), "no TLS");
	cn->done = 1;
}

/*
 * connect_chain - the chain a live server sends after STARTTLS, into in.
 * spec is HOST, HOST:PORT or [ADDR]:PORT; HOST's addresses come from the
 * same validating resolver as delivery. Returns 0 or an exit status.
 */
static int
connect_chain(struct cli *c, const char *spec, unsigned long *port,
    char *name, size_t namelen, struct tlsa_input *in)
{
	struct event_base	*base = NULL;
	struct dmx_resolver	*r = NULL;
	struct smtp_client_conf	 sc;
	struct net_addr	 a;
	struct conn		 cn;
	char			 host[DMX_NAME_MAX + 8], lit[DMX_NAME_MAX + 16];
	char			 err[256], *colon;
	unsigned		 p = 25;
	size_t			 i;
	int			 rv = 0, literal;

	memset(&cn, 0, sizeof(cn));
	cn.in = in;
	strlcpy_(host, spec, sizeof(host));
	literal = host[0] == '[';
	if (!literal && (colon = strrchr(host, ':')) != NULL) {
		unsigned long v;
		if (parse_uint(colon + 1, 65535, &v) == -1 || v == 0)
			return cli_usage_error("tlsa", "--connect: bad port in "
			    "'%s'", spec);
		p = (unsigned)v;
		*colon = '\0';
	}
	if ((in->certs = sk_X509_new_null()) == NULL ||
	    (cn.ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (base = event_base_new()) == NULL) {
		rv = EX_SOFTWARE;
		goto out;
	}
	SSL_CTX_set_verify(cn.ctx, SSL_VERIFY_NONE, NULL);
	if (literal) {
		if (addr_parse_literal(host, &a, &p) == -1) {
			rv = cli_usage_error("tlsa", "--connect: '%s' is not "
			    "[ADDR]:PORT", spec);
			goto out;
		}
	} else {
		if ((r = cli_resolver(c, base)) == NULL) {
			rv = EX_CONFIG;
			goto out;
		}
		cn.pending = 2;
		if (dmx_dns_lookup(r, host, DMX_T_A, conn_dns, &cn) == 0 ||
		    dmx_dns_lookup(r, host, DMX_T_AAAA, conn_dns, &cn) == 0) {
			rv = cli_usage_error("tlsa", "'%s' is not a host name",
			    host);
			goto out;
		}
		while (cn.pending > 0)
			if (event_base_loop(base, EVLOOP_ONCE) == -1)
				break;
		memset(&a, 0, sizeof(a));
		for (i = 0; i < 2 && a.len == 0; i++) {
			struct dmx_dns_result *d = cn.res[i];
			if (d == NULL || d->nrrs == 0 ||
			    (d->status != DMX_DNS_SECURE &&
			    d->status != DMX_DNS_INSECURE))
				continue;
			snprintf(lit, sizeof(lit), "[%s]:%u", d->rrs[0].text, p);
			addr_parse_literal(lit, &a, &p);
		}
		if (a.len == 0) {
			fprintf(stderr, "danemx tlsa: %s: no usable address "
			    "(A: %s, AAAA: %s)\n", host, cn.res[0] ?
			    dmx_dns_status_str(cn.res[0]->status) : "?",
			    cn.res[1] ? dmx_dns_status_str(cn.res[1]->status) :
			    "?");
			rv = EX_UNAVAILABLE;
			goto out;
		}
		cn.sni = host;
	}
	memset(&sc, 0, sizeof(sc));
	sc.addr = (struct sockaddr *)&a.ss;
	sc.addrlen = a.len;
	sc.peer_name = spec;
	sc.helo = "danemx-tlsa.invalid";
	sc.tls_mode = SMTP_TLS_MUST;
	sc.job = SMTP_JOB_CHECK;
	sc.mail_from = "";
	smtp_timeouts_default(&sc.t);
	if (c->timeout_ms)
		sc.t.connect = sc.t.greeting = sc.t.ehlo = sc.t.starttls =
		    sc.t.tls = sc.t.quit = c->timeout_ms / 1000;
	sc.tls_begin = conn_tls_begin;
	sc.tls_check = conn_tls_check;
	sc.done = conn_done;
	sc.arg = &cn;
	if (smtp_client_start(base, &sc, err, sizeof(err)) == NULL) {
		fprintf(stderr, "danemx tlsa: %s: %s\n", spec, err);
		rv = EX_UNAVAILABLE;
		goto out;
	}
	while (!cn.done)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	if (sk_X509_num(in->certs) == 0) {
		fprintf(stderr, "danemx tlsa: %s: no certificate chain: %s\n",
		    spec, cn.error[0] ? cn.error : "no TLS");
		rv = EX_UNAVAILABLE;
		goto out;
	}
	*port = p;
	if (!literal)
		strlcpy_(name, host, namelen);
	else
		name[0] = '\0';
out:
	dmx_dns_result_free(cn.res[0]);
	dmx_dns_result_free(cn.res[1]);
	dmx_resolver_free(r);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(cn.ctx);
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

/* cmd_tlsa - danemx tlsa [options] FILE */
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
	struct tlsa_input	 in, next;
	struct dane_tlsa	 cur, nxt;
	struct buf		 json, *jp = NULL;
	const char		*host = NULL, *next_file = NULL;
	const char		*connect_arg = NULL, *src;
	unsigned long		 port = 25, ta_depth = 1, ndepth;
	uint8_t			 usage = 3, selector = 1, mtype = 1;
	X509			*cert = NULL;
	EVP_PKEY		*key = NULL;
	char			 name[DMX_NAME_MAX], owner[DMX_NAME_MAX + 16];
	int			 ch, rv, upper = 0, connect = 0, ta_given = 0;
	int			 port_given = 0;
	unsigned long		 cport;
	int			 days;

	memset(&in, 0, sizeof(in));
	memset(&next, 0, sizeof(next));
	memset(&cur, 0, sizeof(cur));
	memset(&nxt, 0, sizeof(nxt));
	buf_init(&json, 16 * 1024 * 1024);

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(tlsa_help, stdout);
			rv = 0;
			goto done;
		case '?':
			rv = cli_usage_error("tlsa", "unknown option");
			goto done;
		case OPT_USAGE:
			if (parse_choice("--usage", optarg, "32", &usage) == -1)
				goto usage;
			break;
		case OPT_SELECTOR:
			if (parse_choice("--selector", optarg, "10",
			    &selector) == -1)
				goto usage;
			break;
		case OPT_MTYPE:
			if (parse_choice("--mtype", optarg, "120", &mtype) == -1)
				goto usage;
			break;
		case OPT_HOST:
			host = optarg;
			break;
		case OPT_PORT:
			if (parse_uint(optarg, 65535, &port) == -1 || port == 0) {
				rv = cli_usage_error("tlsa", "--port: '%s' is not "
				    "a port number", optarg);
				goto done;
			}
			port_given = 1;
			break;
		case OPT_TA_DEPTH:
			if (parse_uint(optarg, 64, &ta_depth) == -1 ||
			    ta_depth == 0) {
				rv = cli_usage_error("tlsa", "--ta-depth: '%s' "
				    "is not a depth from 1 to 64", optarg);
				goto done;
			}
			ta_given = 1;
			break;
		case OPT_NEXT:
			next_file = optarg;
			break;
		case OPT_UPPER:
			upper = 1;
			break;
		case OPT_CONNECT:
			connect = 1;
			connect_arg = optarg;
			break;
		default:
			if (cli_common_opt(c, ch, optarg) != 0)
				goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (connect && argc != 0) {
		rv = cli_usage_error("tlsa", "give --connect or FILE, not both");
		goto done;
	}
	if (!connect && argc != 1) {
		rv = cli_usage_error("tlsa", "expected one FILE");
		goto done;
	}
	if (ta_given && usage != DANE_USAGE_DANE_TA) {
		rv = cli_usage_error("tlsa", "--ta-depth needs --usage 2");
		goto done;
	}
	if (next_file != NULL && selector != DANE_SELECTOR_SPKI) {
		rv = cli_usage_error("tlsa", "--next needs --selector 1: the "
		    "next certificate does not exist yet");
		goto done;
	}
	if (host != NULL) {
		size_t n = strlen(host);

		if (n > 0 && host[n - 1] == '.')
			n--;
		if (n == 0 || n >= sizeof(name) - 1 || strcspn(host,
		    " \t\r\n;") != strlen(host)) {
			rv = cli_usage_error("tlsa", "--host: '%s' is not a "
			    "domain name", host);
			goto done;
		}
		memcpy(name, host, n);
		name[n] = '\0';
		str_lower(name);
	}

	src = connect ? connect_arg : argv[0];
	if (connect) {
		char cname[DMX_NAME_MAX];

		if ((rv = connect_chain(c, connect_arg, port_given ? &cport :
		    &port, cname,
		    sizeof(cname), &in)) != 0)
			goto done;
		if (host == NULL && cname[0] != '\0') {
			strlcpy_(name, cname, sizeof(name));
			str_lower(name);
			host = name;
		}
	} else if ((rv = load_input(src, &in)) != 0)
		goto done;
	if (in.key != NULL) {
		if (selector != DANE_SELECTOR_SPKI) {
			rv = cli_usage_error("tlsa", "%s holds a key: only "
			    "--selector 1 applies", src);
			goto done;
		}
		if (host == NULL) {
			rv = cli_usage_error("tlsa", "a key has no name: give "
			    "--host");
			goto done;
		}
		key = in.key;
	} else {
		unsigned long depth = usage == DANE_USAGE_DANE_TA ? ta_depth :
		    0;

		if (depth >= (unsigned long)sk_X509_num(in.certs)) {
			fprintf(stderr, "danemx tlsa: %s holds %d "
			    "certificate(s); --usage 2 needs the CA at depth "
			    "%lu: give the chain, leaf first\n", src,
			    sk_X509_num(in.certs), depth);
			rv = EX_DATAERR;
			goto done;
		}
		cert = sk_X509_value(in.certs, (int)depth);
		if (host == NULL && cert_name(sk_X509_value(in.certs, 0), name,
		    sizeof(name)) == -1) {
			rv = cli_usage_error("tlsa", "%s has no DNS name to use:"
			    " give --host", src);
			goto done;
		}
		if (usage == DANE_USAGE_DANE_EE &&
		    selector == DANE_SELECTOR_CERT &&
		    (days = short_lived(cert)) > 0)
			fprintf(stderr, "danemx tlsa: warning: the certificate "
			    "is valid for %d days; a 3 0 %u record breaks at "
			    "every renewal: publish 3 1 1 and keep the key "
			    "across renewals\n", days, mtype);
	}
	snprintf(owner, sizeof(owner), "_%lu._tcp.%s.", port, name);

	if (make_record(&cur, usage, selector, mtype, cert, key) == -1) {
		fprintf(stderr, "danemx tlsa: cannot encode the %s\n",
		    selector == DANE_SELECTOR_CERT ? "certificate" : "key");
		rv = EX_SOFTWARE;
		goto done;
	}
	if (next_file != NULL) {
		if ((rv = load_input(next_file, &next)) != 0)
			goto done;
		ndepth = usage == DANE_USAGE_DANE_TA ? ta_depth : 0;
		if (next.key == NULL &&
		    ndepth >= (unsigned long)sk_X509_num(next.certs)) {
			fprintf(stderr, "danemx tlsa: %s holds %d "
			    "certificate(s); --usage 2 needs the CA at depth "
			    "%lu\n", next_file, sk_X509_num(next.certs), ndepth);
			rv = EX_DATAERR;
			goto done;
		}
		if (make_record(&nxt, usage, selector, mtype, next.key ==
		    NULL ? sk_X509_value(next.certs, (int)ndepth) : NULL,
		    next.key) == -1) {
			fprintf(stderr, "danemx tlsa: cannot encode the key in "
			    "%s\n", next_file);
			rv = EX_SOFTWARE;
			goto done;
		}
		if (dane_tlsa_equal(&cur, nxt.usage, nxt.selector, nxt.mtype,
		    nxt.data, nxt.len))
			fprintf(stderr, "danemx tlsa: warning: %s has the same "
			    "key as %s\n", next_file, src);
	}

	if (c->json) {
		jp = &json;
		buf_adds(jp, "{\"records\":[");
	}
	print_record(jp, 1, owner, &cur, upper, next_file ? "current" : NULL);
	if (next_file != NULL)
		print_record(jp, 0, owner, &nxt, upper, "next");
	if (jp != NULL) {
		if (buf_adds(jp, "]}\n") == -1) {
			fprintf(stderr, "danemx tlsa: JSON output too large\n");
			rv = EX_SOFTWARE;
			goto done;
		}
		fputs(jp->data, stdout);
	}
	rv = 0;
	goto done;
usage:
	rv = EX_USAGE;
done:
	dane_tlsa_clear(&cur);
	dane_tlsa_clear(&nxt);
	input_free(&in);
	input_free(&next);
	buf_free(&json);
	return rv;
}
