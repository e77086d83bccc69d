/*
 * fuzz_conf.c - libFuzzer target for danemx.conf parsing.
 */
#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct dmx_conf	 c;
	char		 err[256];

	conf_defaults(&c);
	conf_parse(&c, (const char *)data, size, err, sizeof(err));
	conf_free(&c);
	return 0;
}
