/*
 * fuzz_config.c - libFuzzer target for the policy file and bypass list
 * parsers. The first byte chooses which; tables are freed each run.
 */
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct policy_table	 t;
	char			 err[256];

	if (size < 1)
		return 0;
	if (policy_table_parse(&t, (const char *)data + 1, size - 1,
	    data[0] & 1, err, sizeof(err)) == 0) {
		policy_table_match(&t, "a.example.org", 0);
		policy_table_free(&t);
	}
	return 0;
}
