/*
 * test_util.c - buffers keep their ceiling, JSON escapes, hex round trips,
 * root walks only trusted directories, remote text made printable, no
 * port in a recipient's domain.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"
#include "t.h"

static void
test_buf(void)
{
	struct buf	 b;
	char		 big[100];

	buf_init(&b, 10);
	T_CHECK(buf_adds(&b, "0123456789") == 0 && b.len == 10,
	    "fill to the ceiling: len %zu", b.len);
	T_CHECK(buf_add(&b, "x", 1) == -1 && b.len == 10,
	    "append past the ceiling accepted (len %zu)", b.len);
	T_CHECK(buf_printf(&b, "%d", 1) == -1 && strcmp(b.data,
	    "0123456789") == 0, "printf past the ceiling changed data");
	buf_consume(&b, 4);
	T_CHECK(b.len == 6 && strcmp(b.data, "456789") == 0,
	    "consume: got '%s'", b.data);
	buf_free(&b);
	buf_init(&b, 1000);
	memset(big, 'a', sizeof(big));
	T_CHECK(buf_add(&b, big, sizeof(big)) == 0 && b.len == 100,
	    "growth: len %zu", b.len);
	buf_free(&b);
}

static void
test_json(void)
{
	struct buf	 b;

	buf_init(&b, 1024);
	json_str(&b, "a\"b\\c\n\x01\xc3\xa9");
	T_CHECK(strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"") == 0,
	    "escaping: got %s", b.data);
	buf_reset(&b);
	json_str(&b, NULL);
	T_CHECK(strcmp(b.data, "null") == 0, "NULL: got %s", b.data);
	buf_reset(&b);
	json_kv_bool(&b, "k", 1);
	T_CHECK(strcmp(b.data, "\"k\":true") == 0, "bool: got %s", b.data);
	buf_free(&b);
}

static void
test_hex(void)
{
	unsigned char	 out[4];
	char		 txt[9];

	T_CHECK(hex_decode(out, sizeof(out), "de AD be ef") == 4 &&
	    out[0] == 0xde && out[3] == 0xef, "decode with blanks");
	T_CHECK(hex_decode(out, sizeof(out), "abc") == -1, "odd digits");
	T_CHECK(hex_decode(out, sizeof(out), "zz") == -1, "bad digit");
	T_CHECK(hex_decode(out, sizeof(out), "0011223344") == -1,
	    "overflow accepted");
	hex_decode(out, sizeof(out), "deadbeef");
	T_CHECK(hex_encode(txt, sizeof(txt), out, 4, 0) == 0 &&
	    strcmp(txt, "deadbeef") == 0, "encode: got %s", txt);
	T_CHECK(hex_encode(txt, 8, out, 4, 1) == -1, "short output accepted");
}

static void
test_uint(void)
{
	unsigned long	 v;

	T_CHECK(parse_uint("30", 100, &v) == 0 && v == 30, "30");
	T_CHECK(parse_uint("101", 100, &v) == -1, "above max");
	T_CHECK(parse_uint("-1", 100, &v) == -1, "negative");
	T_CHECK(parse_uint("1x", 100, &v) == -1, "trailing junk");
	T_CHECK(parse_uint("", 100, &v) == -1, "empty");
}

static void
count_cb(const char *k, void *v, void *arg)
{
	(void)k;
	(void)v;
	(*(size_t *)arg)++;
}

static void
test_htab(void)
{
	struct htab	 t;
	char		 key[32];
	size_t		 i, bad = 0, n = 0;
	int		 vals[5000];

	memset(&t, 0, sizeof(t));
	T_CHECK(htab_get(&t, "x") == NULL && htab_del(&t, "x") == NULL,
	    "empty table found something");
	for (i = 0; i < 5000; i++) {
		vals[i] = (int)i;
		snprintf(key, sizeof(key), "Key%zu.example", i);
		if (htab_put(&t, key, &vals[i]) == -1)
			bad++;
	}
	T_CHECK(bad == 0 && t.n == 5000, "put: %zu failed, n %zu", bad, t.n);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "KEY%zu.EXAMPLE", i);
		if (htab_get(&t, key) != &vals[i])
			bad++;
	}
	T_CHECK(bad == 0, "get without case: %zu wrong", bad);
	T_CHECK(htab_put(&t, "key7.example", &vals[1]) == 0 && t.n == 5000 &&
	    htab_get(&t, "Key7.Example") == &vals[1], "replace added a key");
	for (i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "key%zu.example", i);
		if (htab_del(&t, key) == NULL)
			bad++;
	}
	T_CHECK(bad == 0 && t.n == 2500, "del: %zu missing, n %zu", bad, t.n);
	T_CHECK(htab_get(&t, "key4.example") == NULL &&
	    htab_get(&t, "key5.example") == &vals[5], "del took the wrong key");
	htab_foreach(&t, count_cb, &n);
	T_CHECK(n == 2500, "foreach saw %zu", n);
	htab_free(&t);
	T_CHECK(t.n == 0 && htab_get(&t, "key5.example") == NULL,
	    "freed table still answers");
}

/*
 * trusted directories (root only): root's own and sticky ones pass, one
 * others may write fails, root's links are followed and others' are not
 */
static void
test_trusted(void)
{
	char	 top[] = "/tmp/danemx-test-trusted.XXXXXX", p[256], q[256];
	char	 err[512] = "";
	int	 fd;

	if (geteuid() != 0) {
		printf("test_util: trusted directories skipped (needs root)\n");
		return;
	}
	if (mkdtemp(top) == NULL)
		return;
	fd = file_open_trusted_dir(top, err, sizeof(err));
	T_CHECK(fd != -1, "%s: %s", top, err);
	if (fd != -1)
		close(fd);
	T_CHECK(file_open_trusted_dir("tmp", err, sizeof(err)) == -1 &&
	    strstr(err, "not an absolute path") != NULL, "relative: %s", err);
	snprintf(p, sizeof(p), "%s/open", top);
	T_CHECK(mkdir(p, 0777) == 0 && chmod(p, 0777) == 0, "mkdir %s", p);
	T_CHECK(file_open_trusted_dir(p, err, sizeof(err)) == -1 &&
	    strstr(err, "writable by nobody else") != NULL, "0777: %s", err);
	T_CHECK(chmod(p, 01777) == 0, "chmod %s", p);
	fd = file_open_trusted_dir(p, err, sizeof(err));
	T_CHECK(fd != -1, "sticky 1777: %s", err);
	if (fd != -1)
		close(fd);
	snprintf(p, sizeof(p), "%s/sub", top);
	snprintf(q, sizeof(q), "%s/link", top);
	T_CHECK(mkdir(p, 0755) == 0 && symlink("sub", q) == 0, "link");
	snprintf(q, sizeof(q), "%s/link/", top);
	fd = file_open_trusted_dir(q, err, sizeof(err));
	T_CHECK(fd != -1, "root's link: %s", err);
	if (fd != -1)
		close(fd);
	snprintf(q, sizeof(q), "%s/link", top);
	T_CHECK(lchown(q, 65534, 65534) == 0, "lchown");
	T_CHECK(file_open_trusted_dir(q, err, sizeof(err)) == -1 &&
	    strstr(err, "a symbolic link not owned by root (uid 65534)") !=
	    NULL, "another's link: %s", err);
	T_CHECK(chown(p, 65534, 65534) == 0, "chown");
	snprintf(q, sizeof(q), "%s/sub/x", top);
	T_CHECK(mkdir(q, 0755) == 0, "mkdir %s", q);
	T_CHECK(file_open_trusted_dir(q, err, sizeof(err)) == -1 &&
	    strstr(err, "owned by uid 65534") != NULL, "under another's "
	    "directory: %s", err);
	snprintf(q, sizeof(q), "rm -rf %s", top);
	T_CHECK(system(q) == 0, "cleanup");
}

/* test_printable - controls, DEL and 8-bit octets become '?' */
static void
test_printable(void)
{
	char	 s[] = "a\x1b[31mb\x0b\x0c\tc\xc3\xa9\x7f\xff~ z\r\n";

	str_printable(s, strlen(s));
	T_CHECK(strcmp(s, "a?[31mb???c????~ z??") == 0, "got '%s'", s);
}

/* test_addr_domain - no port in an address literal, nor in a name */
static void
test_addr_domain(void)
{
	static const struct {
		const char	*addr;
		int		 want;
	} c[] = {
		{ "u@example.org", 1 },
		{ "u@[127.0.0.1]", 1 },
		{ "u@[IPv6:2001:db8::1]", 1 },
		{ "example.org", 1 },
		{ "u@[127.0.0.1]:2710", 0 },
		{ "u@[127.0.0.1]:", 0 },
		{ "u@[IPv6:::1]:25", 0 },
		{ "u@example.org:25", 0 },
		{ "u@[127.0.0.1", 0 },
		{ "u@[]", 0 },
		{ "u@[1]]", 0 },
		{ "u@[[1]", 0 },
		{ "u@", 0 },
		{ "[127.0.0.1]:25", 0 },
		{ "x@y@[127.0.0.1]:25", 0 },
	};
	size_t	 i;

	for (i = 0; i < DMX_NELEM(c); i++)
		T_CHECK(addr_domain_ok(c[i].addr) == c[i].want, "%s: got %d",
		    c[i].addr, !c[i].want);
}

int
main(void)
{
	test_trusted();
	test_printable();
	test_addr_domain();
	test_buf();
	test_htab();
	test_json();
	test_hex();
	test_uint();
	return t_done("test_util");
}
