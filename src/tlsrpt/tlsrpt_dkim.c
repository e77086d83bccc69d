/*
 * tlsrpt_dkim.c - DKIM signatures (RFC 6376) on TLS report mail, made
 * with libopendkim: RFC 8460 5.3 says a report mailed without a valid
 * signature by the reporting domain MUST be ignored.
 *
 * tlsrpt_dkim_load() reads the private key once (as root, before the
 * relay drops its privileges: see tlsrpt_mail.h for what it checks),
 * checks it with OpenSSL and keeps it as unencrypted PKCS#8 PEM, the
 * form libopendkim reads. tlsrpt_dkim_sign() signs one message in
 * memory: relaxed/relaxed, rsa-sha256 or ed25519-sha256, never l=, over
 * a fixed list of headers, each signed once more than it occurs.
 *
 * libopendkim and what it needs (Berkeley DB, libbsd) cost every danemx
 * process some 0.5 ms at start if linked (measured: see docs/tlsrpt.md),
 * and a report is signed once a day, so it is loaded with dlopen() at
 * the first signature, as http_curl.c loads libcurl; it then stays
 * loaded for the life of the process. It is built against the headers
 * of the very version it loads (libopendkim.so.11).
 *
 * A signer owns its key (wiped when freed with tlsrpt_dkim_free()).
 *
 * libopendkim 2.11.0~beta2 (Debian 12) leaks some 500 octets of key
 * state in each Ed25519 signature (dkim_free() does not free it; fixed
 * upstream in OpenDKIM PR #321); a report is signed once a day per
 * domain, so that is tolerable; sanitizer builds are told that what
 * dkim_eom() allocates for an Ed25519 key is no leak of ours.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dkim.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tlsrpt/tlsrpt_mail.h"
#include "util/util.h"

#define SONAME		"libopendkim.so.11"
#define KEY_FILE_MAX	(64 * 1024)	/* octets of a PEM key file */
#define RSA_BITS_MIN	1024		/* RFC 8301 3.2 */

struct tlsrpt_dkim {
	char		 domain[DMX_NAME_MAX];
	char		 selector[DMX_NAME_MAX];
	char		*pem;		/* PKCS#8, unencrypted; wiped on free */
	size_t		 pemlen;
	int		 ed25519;	/* else RSA */
	int		 bits;
};

/* The functions of libopendkim danemx calls, once loaded. */
static struct {
	DKIM_LIB	*(*init)(void *(*)(void *, size_t),
			    void (*)(void *, void *));
	void		 (*close)(DKIM_LIB *);
	DKIM_STAT	 (*options)(DKIM_LIB *, int, dkim_opts_t, void *,
			    size_t);
	_Bool		 (*libfeature)(DKIM_LIB *, u_int);
	DKIM		*(*sign)(DKIM_LIB *, const unsigned char *, void *,
			    const dkim_sigkey_t, const unsigned char *,
			    const unsigned char *, dkim_canon_t, dkim_canon_t,
			    dkim_alg_t, ssize_t, DKIM_STAT *);
	DKIM_STAT	 (*header)(DKIM *, u_char *, size_t);
	DKIM_STAT	 (*eoh)(DKIM *);
	DKIM_STAT	 (*body)(DKIM *, u_char *, size_t);
	DKIM_STAT	 (*eom)(DKIM *, _Bool *);
	DKIM_STAT	 (*getsighdr_d)(DKIM *, size_t, u_char **, size_t *);
	DKIM_STAT	 (*free)(DKIM *);
	const char	*(*geterror)(DKIM *);
	const char	*(*getresultstr)(DKIM_STAT);
} dk;

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_OK_BEGIN(c)	do { if (c) __lsan_disable(); } while (0)
#define LEAK_OK_END(c)		do { if (c) __lsan_enable(); } while (0)
#else
#define LEAK_OK_BEGIN(c)	do { } while (0)
#define LEAK_OK_END(c)		do { } while (0)
#endif

/* The headers signed (RFC 8460 5.3 wants the TLS-Report-* ones). */
static const char *signed_hdrs[] = {
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
	"Content-Type", "Auto-Submitted", "TLS-Report-Domain",
	"TLS-Report-Submitter", "TLS-Required", NULL
};

/* dk_load - libopendkim and its functions, once; 0 or -1 with err */
static int
dk_load(char *err, size_t errlen)
{
	static int	 state;		/* 0 not tried, 1 loaded, -1 failed */
	static char	 why[256];
	const char	*missing = NULL;
	void		*h;

	if (state == 0) {
		state = -1;
		if ((h = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			snprintf(why, sizeof(why), "cannot load %s: %s "
			    "(install the Debian package libopendkim11)",
			    SONAME, dlerror());
			goto out;
		}
#define SYM(field, name) do {						\
	if (missing == NULL &&						\
	    (*(void **)&dk.field = dlsym(h, name)) == NULL)		\
		missing = name;						\
} while (0)
		SYM(init, "dkim_init");
		SYM(close, "dkim_close");
		SYM(options, "dkim_options");
		SYM(libfeature, "dkim_libfeature");
		SYM(sign, "dkim_sign");
		SYM(header, "dkim_header");
		SYM(eoh, "dkim_eoh");
		SYM(body, "dkim_body");
		SYM(eom, "dkim_eom");
		SYM(getsighdr_d, "dkim_getsighdr_d");
		SYM(free, "dkim_free");
		SYM(geterror, "dkim_geterror");
		SYM(getresultstr, "dkim_getresultstr");
#undef SYM
		if (missing != NULL) {
			snprintf(why, sizeof(why), "%s has no %s", SONAME,
			    missing);
			goto out;
		}
		state = 1;
	}
out:
	if (state == -1)
		snprintf(err, errlen, "%s", why);
	return state == 1 ? 0 : -1;
}

/* key_open - the key file, opened as tlsrpt_mail.h says; -1 with err */
static int
key_open(const char *path, char *err, size_t errlen)
{
	char		 dir[PATH_MAX];
	const char	*base;
	struct stat	 st;
	int		 dfd = AT_FDCWD, fd, root = geteuid() == 0;
	int		 flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
			    O_NOCTTY;

	if ((base = strrchr(path, '/')) != NULL && root) {
		if ((size_t)(base - path) >= sizeof(dir)) {
			snprintf(err, errlen, "%s: path too long", path);
			return -1;
		}
		memcpy(dir, path, (size_t)(base - path));
		dir[base - path] = '\0';
		if ((dfd = file_open_trusted_dir(dir[0] ? dir : "/", err,
		    errlen)) == -1)
			return -1;
		base++;
	} else if (root) {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -1;
	} else
		base = path;
	fd = openat(dfd, base, flags);
	if (dfd != AT_FDCWD)
		close(dfd);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symbolic link is not followed)" : "");
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (root && st.st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %u: a key root reads "
		    "must be root's", path, (unsigned)st.st_uid);
		goto fail;
	}
	if (st.st_mode & 027) {
		snprintf(err, errlen, "%s: mode %04o: a private key must be "
		    "writable by its owner only and readable by nobody but its "
		    "owner and group (chmod 0600 or 0640)", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* no_pass - refuse to prompt for a passphrase (a daemon has no tty) */
static int
no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/* key_parse - the PEM text into s->pem as PKCS#8; 0 or -1 with err */
static int
key_parse(struct tlsrpt_dkim *s, const struct buf *text, const char *path,
    char *err, size_t errlen)
{
	EVP_PKEY	*pk = NULL;
	BIO		*in = NULL, *out = NULL;
	char		*p;
	long		 n;
	int		 r = -1;

	if ((in = BIO_new_mem_buf(text->data, (int)text->len)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(in, NULL, no_pass, NULL)) == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key without a "
		    "passphrase", path);
		goto out;
	}
	s->bits = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519)
		s->ed25519 = 1;
	else if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "%s: not an RSA or Ed25519 key", path);
		goto out;
	} else if (s->bits < RSA_BITS_MIN) {
		snprintf(err, errlen, "%s: an RSA key of %d bits: DKIM wants "
		    "%d or more (RFC 8301; 2048 is usual)", path, s->bits,
		    RSA_BITS_MIN);
		goto out;
	}
	if ((out = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(out, pk, NULL, NULL, 0, NULL,
	    NULL) != 1 || (n = BIO_get_mem_data(out, &p)) <= 0 ||
	    (s->pem = malloc((size_t)n + 1)) == NULL) {
		snprintf(err, errlen, "%s: cannot keep the key in memory", path);
		goto out;
	}
	memcpy(s->pem, p, (size_t)n);
	s->pem[n] = '\0';
	s->pemlen = (size_t)n;
	r = 0;
out:
	EVP_PKEY_free(pk);
	BIO_free(in);
	BIO_free(out);
	return r;
}

/* tlsrpt_dkim_load - a signer for d=domain s=selector from key_file */
struct tlsrpt_dkim *
tlsrpt_dkim_load(const char *domain, const char *selector,
    const char *key_file, char *err, size_t errlen)
{
	struct tlsrpt_dkim	*s;
	struct buf		 text;
	ssize_t			 n;
	char			 chunk[4096];
	int			 fd, ok;

	if (domain == NULL || !tlsrpt_domain_ok(domain, strlen(domain))) {
		snprintf(err, errlen, "dkim_domain: not a domain name");
		return NULL;
	}
	if (selector == NULL || !tlsrpt_domain_ok(selector, strlen(selector))) {
		snprintf(err, errlen, "dkim_selector: not a selector (letters, "
		    "digits, '-' and '.')");
		return NULL;
	}
	if (key_file == NULL || key_file[0] == '\0') {
		snprintf(err, errlen, "dkim_key_file: not set");
		return NULL;
	}
	if ((fd = key_open(key_file, err, errlen)) == -1)
		return NULL;
	buf_init(&text, KEY_FILE_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&text, chunk, (size_t)n) == -1)
			break;
	ok = n == 0;
	if (!ok)
		snprintf(err, errlen, "%s: %s", key_file, n < 0 ?
		    strerror(errno) : "larger than 64 KiB: not a key");
	close(fd);
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		ok = 0;
	}
	if (ok) {
		strlcpy_(s->domain, domain, sizeof(s->domain));
		strlcpy_(s->selector, selector, sizeof(s->selector));
		str_lower(s->domain);
		ok = key_parse(s, &text, key_file, err, errlen) == 0;
	}
	if (text.data != NULL)
		OPENSSL_cleanse(text.data, text.cap);
	buf_free(&text);
	if (!ok) {
		tlsrpt_dkim_free(s);
		return NULL;
	}
	return s;
}

/* tlsrpt_dkim_free - wipe the key, free the signer (NULL is fine) */
void
tlsrpt_dkim_free(struct tlsrpt_dkim *s)
{
	if (s == NULL)
		return;
	if (s->pem != NULL) {
		OPENSSL_cleanse(s->pem, s->pemlen);
		free(s->pem);
	}
	free(s);
}

/* tlsrpt_dkim_alg - the a= of the signatures it makes */
const char *
tlsrpt_dkim_alg(const struct tlsrpt_dkim *s)
{
	return s->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

/*
 * tlsrpt_dkim_txt - the DNS TXT record to publish at
 * <selector>._domainkey.<domain>: "v=DKIM1; k=rsa; p=<base64 of the
 * SubjectPublicKeyInfo>" (RFC 6376 3.6.1), or for Ed25519 k=ed25519 and
 * the raw 32-octet public key (RFC 8463 4). Appended to out; 0 or -1.
 */
int
tlsrpt_dkim_txt(const struct tlsrpt_dkim *s, struct buf *out)
{
	EVP_PKEY	*pk = NULL;
	BIO		*in;
	unsigned char	*der = NULL, raw[64];
	char		*b64 = NULL;
	size_t		 rawlen = sizeof(raw);
	int		 len = -1, r = -1;

	if ((in = BIO_new_mem_buf(s->pem, (int)s->pemlen)) != NULL)
		pk = PEM_read_bio_PrivateKey(in, NULL, no_pass, NULL);
	BIO_free(in);
	if (pk == NULL)
		return -1;
	if (s->ed25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) == 1)
			len = (int)rawlen;
	} else
		len = i2d_PUBKEY(pk, &der);
	if (len > 0 && (b64 = malloc((size_t)len * 4 / 3 + 8)) != NULL &&
	    EVP_EncodeBlock((unsigned char *)b64, s->ed25519 ? raw : der,
	    len) > 0)
		r = buf_printf(out, "v=DKIM1; k=%s; p=%s", s->ed25519 ?
		    "ed25519" : "rsa", b64);
	free(b64);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	return r;
}

/* feed - the message's header fields and body to the signing handle */
static DKIM_STAT
feed(DKIM *d, const struct buf *msg)
{
	char		*p = msg->data, *end = msg->data + msg->len, *f, *nl;
	DKIM_STAT	 st = DKIM_STAT_OK;

	while (p < end && st == DKIM_STAT_OK) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			p += 2;		/* the blank line: the body follows */
			if ((st = dk.eoh(d)) == DKIM_STAT_OK)
				st = dk.body(d, (u_char *)p, (size_t)(end - p));
			return st;
		}
		/* One field: this line and the folded ones after it. */
		for (f = p; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;) {
			p = nl + 1;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		if (nl == NULL || nl == f || nl[-1] != '\r')
			return DKIM_STAT_SYNTAX;
		st = dk.header(d, (u_char *)f, (size_t)(nl - 1 - f));
	}
	return st == DKIM_STAT_OK ? DKIM_STAT_SYNTAX : st;	/* no body */
}

/* sign - the DKIM-Signature header field for msg, appended to sig */
static int
sign(DKIM_LIB *lib, const struct tlsrpt_dkim *s, const struct buf *msg,
    struct buf *sig, char *err, size_t errlen)
{
	DKIM		*d;
	DKIM_STAT	 st;
	u_char		*h;
	size_t		 hlen;
	int		 r = -1;

	if (s->ed25519 && !dk.libfeature(lib, DKIM_FEATURE_ED25519)) {
		snprintf(err, errlen, "DKIM: this libopendkim cannot sign "
		    "with Ed25519 keys");
		return -1;
	}
	if (dk.options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, signed_hdrs,
	    sizeof(char **)) != DKIM_STAT_OK || dk.options(lib, DKIM_OP_SETOPT,
	    DKIM_OPTS_OVERSIGNHDRS, signed_hdrs, sizeof(char **)) !=
	    DKIM_STAT_OK) {
		snprintf(err, errlen, "DKIM: cannot set the headers to sign");
		return -1;
	}
	d = dk.sign(lib, (const unsigned char *)"tlsrpt", NULL,
	    (dkim_sigkey_t)s->pem, (const unsigned char *)s->selector,
	    (const unsigned char *)s->domain, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, s->ed25519 ? DKIM_SIGN_ED25519SHA256 :
	    DKIM_SIGN_RSASHA256, -1, &st);
	if (d == NULL) {
		snprintf(err, errlen, "DKIM: %s", dk.getresultstr(st));
		return -1;
	}
	if ((st = feed(d, msg)) == DKIM_STAT_OK) {
		LEAK_OK_BEGIN(s->ed25519);
		st = dk.eom(d, NULL);
		LEAK_OK_END(s->ed25519);
	}
	if (st == DKIM_STAT_OK && (st = dk.getsighdr_d(d,
	    strlen("DKIM-Signature: "), &h, &hlen)) == DKIM_STAT_OK) {
		if (buf_adds(sig, "DKIM-Signature: ") == 0 &&
		    buf_add(sig, h, hlen) == 0 && buf_adds(sig, "\r\n") == 0)
			r = 0;
		else
			snprintf(err, errlen, "DKIM: the signed message is "
			    "larger than %zu octets", sig->max);
	} else {
		const char	*e = dk.geterror(d);

		snprintf(err, errlen, "DKIM: %s%s%s", st == DKIM_STAT_SYNTAX ?
		    "the message is not CRLF header lines, a blank line and a "
		    "body" : dk.getresultstr(st), e != NULL && *e ? ": " : "",
		    e != NULL ? e : "");
	}
	dk.free(d);
	return r;
}

/* tlsrpt_dkim_sign - prepend a DKIM-Signature header to msg */
int
tlsrpt_dkim_sign(const struct tlsrpt_dkim *s, struct buf *msg, char *err,
    size_t errlen)
{
	DKIM_LIB	*lib;
	struct buf	 sig;
	int		 r;

	if (msg->data == NULL || msg->len == 0) {
		snprintf(err, errlen, "DKIM: an empty message");
		return -1;
	}
	if (dk_load(err, errlen) == -1)
		return -1;
	if ((lib = dk.init(NULL, NULL)) == NULL) {
		snprintf(err, errlen, "DKIM: cannot initialise libopendkim");
		return -1;
	}
	buf_init(&sig, msg->max);
	r = sign(lib, s, msg, &sig, err, errlen);
	dk.close(lib);
	if (r == 0 && (sig.len > msg->max - msg->len ||
	    buf_add(&sig, msg->data, msg->len) == -1)) {
		snprintf(err, errlen, "DKIM: the signed message is larger than "
		    "%zu octets", msg->max);
		r = -1;
	}
	if (r == 0) {
		buf_free(msg);
		*msg = sig;	/* same ceiling */
	} else
		buf_free(&sig);
	return r;
}
