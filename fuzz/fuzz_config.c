/*
 * fuzz_config.c - libFuzzer target for the policy file and bypass list
 * parsers. The first byte chooses which; tables are freed each run. For
 * the bypass list, each entry's expiry is also written as the relay and
 * danemx bypass write it, and must read back the same (policy_bypass.c).
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct policy_table	 t;
	char			 err[256], key[POLICY_KEY_LEN];
	char			 when[POLICY_TIME_LEN];
	time_t			 back;
	size_t			 i;

	if (size < 1)
		return 0;
	if (policy_table_parse(&t, (const char *)data + 1, size - 1,
	    data[0] & 1, err, sizeof(err)) == 0) {
		policy_table_match(&t, "a.example.org", 0);
		policy_table_match(&t, "a.example.org", 1796637600);
		for (i = 0; (data[0] & 1) && i < t.n; i++) {
			policy_bypass_key(&t.e[i], key, sizeof(key));
			if (t.e[i].expires <= 0 ||
			    t.e[i].expires >= 253402300800LL)
				continue;	/* year 10000: not written */
			policy_bypass_time_str(t.e[i].expires, when,
			    sizeof(when));
			if (policy_bypass_when(when, 0, &back) != 0 ||
			    back != t.e[i].expires)
				abort();
		}
		policy_table_free(&t);
	}
	return 0;
}
