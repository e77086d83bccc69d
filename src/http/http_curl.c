/*
 * http_curl.c - libcurl, loaded when the first HTTPS request needs it.
 *
 * libcurl (the OpenSSL flavour) pulls in some 25 shared libraries of its
 * own (GSSAPI, LDAP, SSH, IDN, HTTP/2, compressors...), whose loading
 * costs every danemx process some 4 ms at start: more than a whole
 * `danemx check` of a DANE domain. Most runs never fetch anything (only
 * MTA-STS policies and TLS reports go over HTTPS), so danemx does not
 * link libcurl: http_curl_load() opens it with dlopen() on the first
 * request and takes the functions danemx calls into http_cu. It is
 * built against the headers of the very version it loads (libcurl.so.4,
 * the ABI those headers describe).
 *
 * The library stays loaded for the life of the process; nothing here is
 * freed.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "http/http_int.h"

struct http_curl_api http_cu;

#define SONAME	"libcurl.so.4"

/* http_curl_load - libcurl and its functions, once; 0 or -1 with err */
int
http_curl_load(char *err, size_t errlen)
{
	static int	 state;		/* 0 not tried, 1 loaded, -1 failed */
	static char	 why[256];
	void		*h;
	const char	*missing = NULL;

	if (state == 0) {
		state = -1;
		if ((h = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			snprintf(why, sizeof(why), "cannot load %s: %s "
			    "(install the Debian package libcurl4)", SONAME,
			    dlerror());
			goto out;
		}
#define SYM(field, name) do {						\
	if (missing == NULL &&						\
	    (*(void **)&http_cu.field = dlsym(h, name)) == NULL)	\
		missing = name;						\
} while (0)
		SYM(global_init, "curl_global_init");
		SYM(multi_init, "curl_multi_init");
		SYM(multi_setopt, "curl_multi_setopt");
		SYM(multi_socket_action, "curl_multi_socket_action");
		SYM(multi_info_read, "curl_multi_info_read");
		SYM(multi_add_handle, "curl_multi_add_handle");
		SYM(multi_remove_handle, "curl_multi_remove_handle");
		SYM(multi_cleanup, "curl_multi_cleanup");
		SYM(multi_assign, "curl_multi_assign");
		SYM(easy_init, "curl_easy_init");
		SYM(easy_setopt, "curl_easy_setopt");
		SYM(easy_getinfo, "curl_easy_getinfo");
		SYM(easy_cleanup, "curl_easy_cleanup");
		SYM(easy_strerror, "curl_easy_strerror");
		SYM(free, "curl_free");
		SYM(share_init, "curl_share_init");
		SYM(share_setopt, "curl_share_setopt");
		SYM(share_cleanup, "curl_share_cleanup");
		SYM(slist_append, "curl_slist_append");
		SYM(slist_free_all, "curl_slist_free_all");
		SYM(url, "curl_url");
		SYM(url_cleanup, "curl_url_cleanup");
		SYM(url_get, "curl_url_get");
		SYM(url_set, "curl_url_set");
#undef SYM
		if (missing != NULL) {
			snprintf(why, sizeof(why), "%s has no %s: too old a "
			    "libcurl (7.62 or later is needed)", SONAME,
			    missing);
			goto out;
		}
		if (http_cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(why, sizeof(why), "cannot initialise libcurl");
			goto out;
		}
		state = 1;
	}
out:
	if (state == -1)
		snprintf(err, errlen, "%s", why);
	return state == 1 ? 0 : -1;
}
