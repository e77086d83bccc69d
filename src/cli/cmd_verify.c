/*
 * cmd_verify.c - danemx verify: check a certificate chain against TLSA
 * records offline, with the same engine delivery uses.
 *
 * Reads the chain and the records, runs tls_dane_check_chain() and
 * prints one verdict line (or one JSON object). Everything allocated
 * here is freed before the command returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "cli/cli.h"
#include "dane/dane.h"
#include "log/log.h"
#include "tls/tls.h"
#include "util/util.h"

#define VERIFY_MAX_REF_IDS	32

static const char verify_help[] =
"usage: danemx verify --chain FILE --name BASE\n"
"                     (--tlsa 'U S M HEX' ... | --tlsa-file FILE ...)\n"
"                     [--ref-id NAME ...] [--usages smtp|all]\n"
"                     [--ca-file FILE] [--ee-namechecks] [--at SECONDS]\n"
"                     [--json]\n"
"\n"
"Check a server's certificate chain against TLSA records, offline, with\n"
"the same OpenSSL DANE enforcement that delivery uses after STARTTLS,\n"
"and print the verdict in one line, for example\n"
"\n"
"  DANE: validated successfully (3 1 1 at depth 0)\n"
"  DANE: not authenticated: hostname mismatch (X.509 error 62; 2 1 1\n"
"        matched at depth 1)\n"
"  DANE: encrypt only: no usable TLSA records (TLS is required, the\n"
"        peer is not authenticated)\n"
"\n"
"Each unusable record is reported on a line of its own before the\n"
"verdict. The records are taken as DNSSEC-validated.\n"
"\n"
"Options:\n"
"      --chain FILE        the chain as the server sends it, leaf first:\n"
"                          PEM certificates (text between them is\n"
"                          skipped), or one DER certificate\n"
"      --name BASE         the TLSA base domain (the MX host name); it is\n"
"                          also the first reference identifier for\n"
"                          DANE-TA(2) name checks. --host is a synonym.\n"
"      --ref-id NAME       a further name the certificate may match under\n"
"                          DANE-TA(2), e.g. the next-hop domain when the\n"
"                          MX lookup was secure (RFC 7672 section 3.2.2);\n"
"                          repeatable\n"
"      --tlsa 'U S M HEX'  a record in presentation form; the hex may be in\n"
"                          either case and contain blanks; repeatable\n"
"      --tlsa-file FILE    records, one a line: bare rdata ('3 1 1 ab..')\n"
"                          or a zone-file line as dig prints it\n"
"                          ('_25._tcp.mx.example. 3600 IN TLSA 3 1 1 ab..').\n"
"                          Blank lines and ';' or '#' comments are\n"
"                          ignored. '-' reads standard input. Repeatable.\n"
"      --usages smtp|all   smtp (default): RFC 7672, where PKIX-TA(0) and\n"
"                          PKIX-EE(1) records are unusable and no local CA\n"
"                          store is used. all: RFC 6698/7671, where they\n"
"                          need a path to a root in --ca-file.\n"
"      --ca-file FILE      PEM roots for PKIX-TA(0)/PKIX-EE(1); ignored\n"
"                          with --usages smtp\n"
"      --ee-namechecks     check names for DANE-EE(3) matches too (generic\n"
"                          DANE; RFC 7672 SMTP does not)\n"
"      --at SECONDS        verify as at this Unix time instead of now\n"
"\n"
"Records that are parsed but unusable (rule 19): PKIX-TA(0) and\n"
"PKIX-EE(1) under --usages smtp; an unknown usage, selector or matching\n"
"type; a digest whose length does not fit SHA2-256(1) (32 octets) or\n"
"SHA2-512(2) (64 octets); Full(0) data that is not a DER certificate or\n"
"public key. When every record is unusable, TLS is still required but\n"
"the peer is not authenticated (\"encrypt only\"). Of several matching\n"
"types for one usage and selector only the strongest counts, so a\n"
"matching 3 1 1 beside a non-matching 3 1 2 fails (RFC 7671 section 9).\n"
"DANE-EE(3) has no name or date checks; DANE-TA(2) checks both.\n"
"\n"
"With --json, one object on stdout with the keys name, ref_ids, usages,\n"
"usable, unusable (record and reason), authenticated, effect, depth\n"
"(where a record matched, also when verification failed afterwards;\n"
"-1 when none did), x509_error (OpenSSL's number, 0 when none),\n"
"x509_error_text, matched (\"U S M HEX\" or null), result_type (RFC 8460,\n"
"null on success), peername, tls_version, cipher, resumed, chain and\n"
"verdict.\n"
"\n"
"Exit status:\n"
"  0   authenticated\n"
"  1   not authenticated (no match, a failed check, or encrypt only)\n"
"  64  usage error\n"
"  65  a malformed TLSA record or certificate\n"
"  66  a file that cannot be read\n"
"  70  internal error\n"
"\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  danemx verify --chain chain.pem --name mx.example.org \\\n"
"      --tlsa '3 1 1 9a8079b2bfff4b8250cdeadfe26a406f27d79d5b1a15ed9310c240cb5bd9de27'\n"
"  dig +short TLSA _25._tcp.mx.example.org > tlsa.txt\n"
"  danemx verify --chain chain.pem --name mx.example.org \\\n"
"      --ref-id example.org --tlsa-file tlsa.txt --json\n";

enum {
	OPT_CHAIN = CLI_OPT_FIRST_COMMAND_OPT,
	OPT_NAME,
	OPT_REF_ID,
	OPT_TLSA,
	OPT_TLSA_FILE,
	OPT_USAGES,
	OPT_CA_FILE,
	OPT_EE_NAMECHECKS,
	OPT_AT
};

/*
 * read_tlsa_file - add the records in path ("-": stdin) to set.
 * Returns 0 or an exit status, having said why.
 */
static int
read_tlsa_file(struct dane_tlsa_set *set, const char *path)
{
	struct dane_tlsa	 t;
	FILE			*fp;
	char			*line = NULL, err[256];
	size_t			 cap = 0;
	unsigned		 lineno = 0;
	int			 rv = 0, r;

	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "danemx verify: %s: %s\n", path,
		    strerror(errno));
		return EX_NOINPUT;
	}
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		if ((r = dane_tlsa_parse_line(line, &t, err,
		    sizeof(err))) == -1) {
			fprintf(stderr, "danemx verify: %s:%u: %s\n", path,
			    lineno, err);
			rv = EX_DATAERR;
			break;
		}
		if (r == 0)
			continue;
		t.line = lineno;
		r = dane_tlsa_set_add(set, &t);
		dane_tlsa_clear(&t);
		if (r == -1) {
			fprintf(stderr, "danemx verify: %s:%u: too many TLSA "
			    "records (at most %d)\n", path, lineno,
			    DANE_MAX_RECORDS);
			rv = EX_DATAERR;
			break;
		}
	}
	if (rv == 0 && ferror(fp)) {
		fprintf(stderr, "danemx verify: %s: %s\n", path,
		    strerror(errno));
		rv = EX_NOINPUT;
	}
	free(line);
	if (fp != stdin)
		fclose(fp);
	return rv;
}

/* bad_name - 1 when s cannot be a domain name (a final dot is fine) */
static int
bad_name(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 1;
	return 0;
}

/* load_ca_file - put the PEM roots in path into ctx's store */
static int
load_ca_file(SSL_CTX *ctx, const char *path)
{
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "danemx verify: %s: %s\n", path,
		    strerror(errno));
		return EX_NOINPUT;
	}
	fclose(fp);
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
		fprintf(stderr, "danemx verify: %s: no usable PEM "
		    "certificates\n", path);
		ERR_clear_error();
		return EX_DATAERR;
	}
	return 0;
}

/* print_records - the unusable records (all with -v), one a line */
static void
print_records(const struct dane_tlsa_set *set, int all, struct buf *json)
{
	char	*txt, why[256];
	size_t	 i;
	int	 first;

	if (json != NULL) {
		buf_adds(json, "\"usable\":[");
		for (i = 0, first = 1; i < set->n; i++) {
			if (set->recs[i].why != DANE_USABLE)
				continue;
			txt = dane_tlsa_text(&set->recs[i], 0);
			buf_adds(json, first ? "" : ",");
			json_str(json, txt);
			free(txt);
			first = 0;
		}
		buf_adds(json, "],\"unusable\":[");
	}
	for (i = 0, first = 1; i < set->n; i++) {
		const struct dane_tlsa *t = &set->recs[i];

		if (t->why == DANE_USABLE && (!all || json != NULL))
			continue;
		txt = dane_tlsa_text(t, 0);
		dane_tlsa_reason(t, why, sizeof(why));
		if (json != NULL) {
			buf_adds(json, first ? "{" : ",{");
			json_kv_str(json, "record", txt);
			buf_adds(json, ",");
			json_kv_str(json, "reason", why);
			buf_adds(json, "}");
		} else if (t->why == DANE_USABLE) {
			printf("usable TLSA record %s\n", txt ? txt : "?");
		} else {
			printf("unusable TLSA record %s: %s\n", txt ? txt : "?",
			    why);
		}
		free(txt);
		first = 0;
	}
	if (json != NULL)
		buf_adds(json, "],");
}

/* print_json - the whole result as one object */
static int
print_json(const struct tls_dane_opts *o, const struct dane_tlsa_set *set,
    const struct tls_verdict *v)
{
	struct buf	 b;
	size_t		 i;
	int		 r = 0;

	buf_init(&b, 64 * 1024 * 1024);
	r |= buf_adds(&b, "{");
	r |= json_kv_str(&b, "name", o->base);
	r |= buf_adds(&b, ",\"ref_ids\":[");
	for (i = 0; i < o->nref_ids; i++) {
		r |= buf_adds(&b, i > 0 ? "," : "");
		r |= json_str(&b, o->ref_ids[i]);
	}
	r |= buf_adds(&b, "],");
	r |= json_kv_str(&b, "usages", o->profile == DANE_PROFILE_SMTP ?
	    "smtp" : "all");
	r |= buf_adds(&b, ",");
	print_records(set, 1, &b);
	r |= tls_verdict_json(&b, v);
	r |= buf_adds(&b, "}\n");
	if (r == 0)
		fputs(b.data, stdout);
	else
		fprintf(stderr, "danemx verify: JSON output too large\n");
	buf_free(&b);
	return r == 0 ? 0 : EX_SOFTWARE;
}

/* print_text - unusable records, with -v the rest, then the verdict */
static void
print_text(const struct cli *c, const struct dane_tlsa_set *set,
    const struct tls_verdict *v)
{
	size_t	 i;

	print_records(set, c->verbose > 0, NULL);
	if (c->verbose > 0) {
		for (i = 0; i < v->nchain; i++)
			printf("chain depth %zu: subject=%s issuer=%s\n", i,
			    v->chain[i].subject, v->chain[i].issuer);
		if (v->peername[0] != '\0')
			printf("matched name: %s\n", v->peername);
		if (v->result_type != DMX_FAIL_NONE)
			printf("result type: %s\n",
			    fail_rfc8460(v->result_type));
	}
	printf("DANE: %s\n", v->text);
}

/* What the command line asked for; the set and ref_ids are ours. */
struct verify_args {
	const char		*ref_ids[VERIFY_MAX_REF_IDS];
	const char		*chain_file, *ca_file;
	struct dane_tlsa_set	 set;
	struct tls_dane_opts	 o;
	int			 nrecs_given;
};

#define VERIFY_GO_ON	(-1)

/* verify_opt - one option of verify; VERIFY_GO_ON, or an exit status */
static int
verify_opt(struct cli *c, struct verify_args *a, int ch)
{
	unsigned long	 at;
	char		 err[512];
	int		 rv;

	switch (ch) {
	case 'h':
		fputs(verify_help, stdout);
		return 0;
	case '?':
		return cli_usage_error("verify", "unknown option");
	case OPT_CHAIN:
		a->chain_file = optarg;
		break;
	case OPT_NAME:
		a->o.base = optarg;
		break;
	case OPT_REF_ID:
		if (a->o.nref_ids >= VERIFY_MAX_REF_IDS)
			return cli_usage_error("verify", "at most %d --ref-id",
			    VERIFY_MAX_REF_IDS);
		a->ref_ids[a->o.nref_ids++] = optarg;
		break;
	case OPT_TLSA:
		a->nrecs_given++;
		if (dane_tlsa_set_add_text(&a->set, optarg, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "danemx verify: --tlsa '%s': %s\n",
			    optarg, err);
			return EX_DATAERR;
		}
		break;
	case OPT_TLSA_FILE:
		a->nrecs_given++;
		if ((rv = read_tlsa_file(&a->set, optarg)) != 0)
			return rv;
		break;
	case OPT_USAGES:
		if (strcmp(optarg, "smtp") == 0)
			a->o.profile = DANE_PROFILE_SMTP;
		else if (strcmp(optarg, "all") == 0)
			a->o.profile = DANE_PROFILE_ALL;
		else
			return cli_usage_error("verify", "--usages: '%s' is "
			    "not smtp or all", optarg);
		break;
	case OPT_CA_FILE:
		a->ca_file = optarg;
		break;
	case OPT_EE_NAMECHECKS:
		a->o.ee_namechecks = 1;
		break;
	case OPT_AT:
		if (parse_uint(optarg, (unsigned long)INT32_MAX * 4, &at) == -1 ||
		    at == 0)
			return cli_usage_error("verify", "--at: '%s' is not a "
			    "Unix time", optarg);
		a->o.check_time = (time_t)at;
		break;
	default:
		if (cli_common_opt(c, ch, optarg) != 0)
			return EX_USAGE;
	}
	return VERIFY_GO_ON;
}

/* verify_args_check - what is required is there and well formed */
static int
verify_args_check(const struct verify_args *a, int argc, char **argv)
{
	size_t	 i;

	if (optind < argc)
		return cli_usage_error("verify", "unexpected argument '%s'",
		    argv[optind]);
	if (a->chain_file == NULL || a->o.base == NULL || a->nrecs_given == 0)
		return cli_usage_error("verify", "--chain, --name and --tlsa "
		    "or --tlsa-file are required");
	if (bad_name(a->o.base))
		return cli_usage_error("verify", "--name: '%s' is not a domain "
		    "name", a->o.base);
	for (i = 0; i < a->o.nref_ids; i++)
		if (bad_name(a->ref_ids[i]))
			return cli_usage_error("verify", "--ref-id: '%s' is not "
			    "a domain name", a->ref_ids[i]);
	return VERIFY_GO_ON;
}

/* verify_run - load the chain, check it, print the verdict */
static int
verify_run(struct cli *c, struct verify_args *a)
{
	struct tls_verdict	 v;
	STACK_OF(X509)		*chain = NULL;
	SSL_CTX			*ctx = NULL;
	char			 err[512];
	int			 rv;

	memset(&v, 0, sizeof(v));
	switch (tls_chain_load(a->chain_file, &chain, err, sizeof(err))) {
	case TLS_LOAD_OK:
		break;
	case TLS_LOAD_UNREADABLE:
		fprintf(stderr, "danemx verify: %s\n", err);
		return EX_NOINPUT;
	default:
		fprintf(stderr, "danemx verify: %s\n", err);
		return EX_DATAERR;
	}
	if ((ctx = tls_client_ctx_new(err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx verify: %s\n", err);
		rv = EX_SOFTWARE;
		goto done;
	}
	if (a->ca_file != NULL && a->o.profile == DANE_PROFILE_SMTP)
		log_debug("--ca-file %s ignored: RFC 7672 uses no local CA "
		    "store", a->ca_file);
	else if (a->ca_file != NULL &&
	    (rv = load_ca_file(ctx, a->ca_file)) != 0)
		goto done;
	if (tls_dane_check_chain(ctx, &a->o, &a->set, chain, &v, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "danemx verify: %s\n", err);
		rv = EX_SOFTWARE;
		goto done;
	}
	if (c->json) {
		if ((rv = print_json(&a->o, &a->set, &v)) != 0)
			goto done;
	} else
		print_text(c, &a->set, &v);
	rv = v.authenticated ? 0 : 1;
done:
	tls_verdict_free(&v);
	SSL_CTX_free(ctx);
	tls_chain_free(chain);
	return rv;
}

/* cmd_verify - danemx verify --chain FILE --name BASE --tlsa ... */
int
cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "chain", required_argument, NULL, OPT_CHAIN },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "host", required_argument, NULL, OPT_NAME },
		{ "ref-id", required_argument, NULL, OPT_REF_ID },
		{ "tlsa", required_argument, NULL, OPT_TLSA },
		{ "tlsa-file", required_argument, NULL, OPT_TLSA_FILE },
		{ "usages", required_argument, NULL, OPT_USAGES },
		{ "ca-file", required_argument, NULL, OPT_CA_FILE },
		{ "ee-namechecks", no_argument, NULL, OPT_EE_NAMECHECKS },
		{ "at", required_argument, NULL, OPT_AT },
		{ NULL, 0, NULL, 0 }
	};
	struct verify_args	 a;
	int			 ch, rv = VERIFY_GO_ON;

	memset(&a, 0, sizeof(a));
	dane_tlsa_set_init(&a.set);
	a.set.secure = 1;	/* given by the operator: taken as validated */
	a.o.profile = DANE_PROFILE_SMTP;
	a.o.ref_ids = a.ref_ids;
	while (rv == VERIFY_GO_ON && (ch = getopt_long(argc, argv,
	    CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1)
		rv = verify_opt(c, &a, ch);
	if (rv == VERIFY_GO_ON)
		rv = verify_args_check(&a, argc, argv);
	if (rv == VERIFY_GO_ON)
		rv = verify_run(c, &a);
	dane_tlsa_set_free(&a.set);
	return rv;
}
