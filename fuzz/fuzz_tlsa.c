/*
 * fuzz_tlsa.c - libFuzzer target for the TLSA presentation, line and
 * wire parsers, and the classifier behind them.
 *
 * The input is tried as wire rdata, and as text (a NUL-terminated copy)
 * through the line parser. Every record parsed is printed back and must
 * parse again to the same record, then is classified under both
 * profiles. Everything is freed before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "dane/dane.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* roundtrip - t printed and parsed again must be t; abort() if not */
static void
roundtrip(const struct dane_tlsa *t)
{
	struct dane_tlsa	 u;
	char			*txt, err[256];

	(void)dane_tlsa_classify(t, DANE_PROFILE_SMTP);
	(void)dane_tlsa_classify(t, DANE_PROFILE_ALL);
	if (t->len == 0 || (txt = dane_tlsa_text(t, t->usage & 1)) == NULL)
		return;
	if (dane_tlsa_parse_text(txt, &u, err, sizeof(err)) != 0 ||
	    !dane_tlsa_equal(&u, t->usage, t->selector, t->mtype, t->data,
	    t->len))
		abort();
	dane_tlsa_clear(&u);
	free(txt);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct dane_tlsa_set	 set;
	struct dane_tlsa	 t;
	char			*s, err[256];

	if (dane_tlsa_parse_wire(data, size, &t, err, sizeof(err)) == 0)
		roundtrip(&t);
	dane_tlsa_clear(&t);

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (dane_tlsa_parse_line(s, &t, err, sizeof(err)) == 1)
		roundtrip(&t);
	dane_tlsa_clear(&t);
	if (dane_tlsa_parse_text(s, &t, err, sizeof(err)) == 0)
		roundtrip(&t);
	dane_tlsa_clear(&t);

	dane_tlsa_set_init(&set);
	set.secure = 1;
	if (dane_tlsa_set_add_text(&set, s, err, sizeof(err)) == 0) {
		(void)dane_tlsa_set_classify(&set, DANE_PROFILE_SMTP);
		(void)dane_tlsa_set_effect(&set);
	}
	dane_tlsa_set_free(&set);
	free(s);
	return 0;
}
