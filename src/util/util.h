/*
 * util.h - small helpers shared by every room: bounded buffers, JSON
 * output, a hash table, string and hex helpers.
 *
 * A struct buf owns its memory; buf_free() releases it. Every buffer
 * has a ceiling set at buf_init(): appending past it fails with -1 and
 * leaves the buffer as it was, so remote data can never grow memory
 * without bound.
 */
#ifndef DANEMX_UTIL_H
#define DANEMX_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "danemx.h"

struct buf {
	char	*data;		/* always NUL-terminated when non-NULL */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* ceiling on len */
};

/* buf.c */
void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_adds(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 buf_consume(struct buf *, size_t);
char	*buf_steal(struct buf *);

/* An address to connect to or from. */
struct net_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 text[64];	/* "192.0.2.1" / "2001:db8::1" */
};

/* addr.c */
int	 addr_domain_ok(const char *addr);
int	 addr_name_ok(const char *domain);
int	 addr_parse_literal(const char *dest, struct net_addr *, unsigned *port);
int	 addr_prefix_eq(const unsigned char *, const unsigned char *,
	    unsigned bits);

/* file.c */
int	 file_read(const char *path, size_t max, struct buf *out, char *err,
	    size_t errlen);
int	 file_open_trusted_dir(const char *path, char *err, size_t errlen);

/* htab.c - string keys (compared without case) to borrowed pointers */
struct hent;
struct htab {
	struct hent	**b;
	size_t		 cap, n;
};
void	*htab_get(const struct htab *, const char *key);
int	 htab_put(struct htab *, const char *key, void *val);
void	*htab_del(struct htab *, const char *key);
void	 htab_foreach(const struct htab *,
	    void (*)(const char *key, void *val, void *arg), void *arg);
void	 htab_free(struct htab *);

/* json.c - appends JSON tokens to a buf; the caller places commas. */
int	 json_str(struct buf *, const char *);		/* "..." or null */
int	 json_kv_str(struct buf *, const char *key, const char *val);
int	 json_kv_int(struct buf *, const char *key, long long val);
int	 json_kv_bool(struct buf *, const char *key, int val);

/* fail.c - the failure classes (enum dmx_fail) and their names */
const char *fail_name(enum dmx_fail);
const char *fail_rfc8460(enum dmx_fail);
int	 fail_from_name(const char *, enum dmx_fail *);

/* str.c */
size_t	 strlcpy_(char *, const char *, size_t);
void	 str_lower(char *);
void	 str_printable(char *, size_t);
const char *str_next_crlf(const char *, const char *end);
char	*xstrdup_or_null(const char *);
int	 hex_encode(char *out, size_t outlen, const unsigned char *, size_t,
	    int upper);
long	 hex_decode(unsigned char *out, size_t outlen, const char *in);
int	 parse_uint(const char *s, unsigned long max, unsigned long *out);

#define DMX_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#endif /* DANEMX_UTIL_H */
