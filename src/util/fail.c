/*
 * fail.c - the failure classes of delivery attempts (enum dmx_fail in
 * danemx.h) and their names: the one table that maps each class onto its
 * RFC 8460 section 4.3 result type, for logs, JSON and TLS reports.
 * Static strings only; nothing to free.
 */
#include <string.h>

#include "util/util.h"

static const struct {
	enum dmx_fail	 f;
	const char	*name;		/* danemx's name (logs, JSON) */
	const char	*rfc8460;	/* result type, or NULL: not TLS */
} fails[] = {
	{ DMX_FAIL_NONE,		"none",		NULL },
	{ DMX_FAIL_STARTTLS_NOT_SUPPORTED, "starttls-not-supported",
	    "starttls-not-supported" },
	{ DMX_FAIL_CERT_HOST_MISMATCH,	"certificate-host-mismatch",
	    "certificate-host-mismatch" },
	{ DMX_FAIL_CERT_EXPIRED,	"certificate-expired",
	    "certificate-expired" },
	{ DMX_FAIL_CERT_NOT_TRUSTED,	"certificate-not-trusted",
	    "certificate-not-trusted" },
	{ DMX_FAIL_VALIDATION,		"validation-failure",
	    "validation-failure" },
	{ DMX_FAIL_TLSA_INVALID,	"tlsa-invalid",	"tlsa-invalid" },
	{ DMX_FAIL_DNSSEC_INVALID,	"dnssec-invalid", "dnssec-invalid" },
	{ DMX_FAIL_DANE_REQUIRED,	"dane-required", "dane-required" },
	{ DMX_FAIL_STS_FETCH,		"sts-policy-fetch-error",
	    "sts-policy-fetch-error" },
	{ DMX_FAIL_STS_INVALID,		"sts-policy-invalid",
	    "sts-policy-invalid" },
	{ DMX_FAIL_STS_WEBPKI,		"sts-webpki-invalid",
	    "sts-webpki-invalid" },
	{ DMX_FAIL_DNS,			"dns-error",	NULL },
	{ DMX_FAIL_CONNECT,		"connect-error", NULL },
	{ DMX_FAIL_SMTP,		"smtp-error",	NULL },
};

/* fail_name - the class's name: its RFC 8460 type, or danemx's own */
const char *
fail_name(enum dmx_fail f)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(fails); i++)
		if (fails[i].f == f)
			return fails[i].name;
	return "validation-failure";
}

/* fail_rfc8460 - the RFC 8460 result type, or NULL (success, or no TLS) */
const char *
fail_rfc8460(enum dmx_fail f)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(fails); i++)
		if (fails[i].f == f)
			return fails[i].rfc8460;
	return "validation-failure";
}

/* fail_from_name - the class of a name fail_name() gives; -1 if none */
int
fail_from_name(const char *name, enum dmx_fail *f)
{
	size_t	 i;

	for (i = 0; i < DMX_NELEM(fails); i++)
		if (strcmp(fails[i].name, name) == 0) {
			*f = fails[i].f;
			return 0;
		}
	return -1;
}
