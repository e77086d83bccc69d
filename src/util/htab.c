/*
 * htab.c - a string-keyed hash table of borrowed pointers.
 *
 * Chained buckets, a power-of-two bucket count that doubles when the
 * load passes one entry per bucket, FNV-1a over the key folded to lower
 * case (the keys are queue ids and domain names, which compare without
 * case). The table owns its buckets and a copy of each key; the values
 * are the caller's. Keys compare case-insensitively.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

struct hent {
	struct hent	*next;
	void		*val;
	char		 key[];
};

static uint32_t
hash(const char *k)
{
	uint32_t	 h = 2166136261u;

	for (; *k != '\0'; k++)
		h = (h ^ (uint32_t)tolower((unsigned char)*k)) * 16777619u;
	return h;
}

static int
grow(struct htab *t)
{
	struct hent	**nb, *e, *next;
	size_t		 ncap = t->cap ? t->cap * 2 : 64, i, j;

	if ((nb = calloc(ncap, sizeof(*nb))) == NULL)
		return -1;
	for (i = 0; i < t->cap; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			j = hash(e->key) & (ncap - 1);
			e->next = nb[j];
			nb[j] = e;
		}
	}
	free(t->b);
	t->b = nb;
	t->cap = ncap;
	return 0;
}

/* htab_get - the value under key, or NULL */
void *
htab_get(const struct htab *t, const char *key)
{
	struct hent	*e;

	if (t->cap == 0)
		return NULL;
	for (e = t->b[hash(key) & (t->cap - 1)]; e != NULL; e = e->next)
		if (strcasecmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

/* htab_put - set key to val (replacing any value); 0, or -1 if no memory */
int
htab_put(struct htab *t, const char *key, void *val)
{
	struct hent	*e;
	size_t		 i, klen = strlen(key);

	if (t->cap == 0 && grow(t) == -1)
		return -1;
	for (e = t->b[hash(key) & (t->cap - 1)]; e != NULL; e = e->next) {
		if (strcasecmp(e->key, key) == 0) {
			e->val = val;
			return 0;
		}
	}
	if (t->n >= t->cap && grow(t) == -1)
		return -1;
	if ((e = malloc(sizeof(*e) + klen + 1)) == NULL)
		return -1;
	memcpy(e->key, key, klen + 1);
	e->val = val;
	i = hash(key) & (t->cap - 1);
	e->next = t->b[i];
	t->b[i] = e;
	t->n++;
	return 0;
}

/* htab_del - remove key; its value, or NULL if it was not there */
void *
htab_del(struct htab *t, const char *key)
{
	struct hent	**pp, *e;
	void		*val;

	if (t->cap == 0)
		return NULL;
	for (pp = &t->b[hash(key) & (t->cap - 1)]; (e = *pp) != NULL;
	    pp = &e->next) {
		if (strcasecmp(e->key, key) == 0) {
			*pp = e->next;
			val = e->val;
			free(e);
			t->n--;
			return val;
		}
	}
	return NULL;
}

/* htab_foreach - call fn for every entry; fn must not change the table */
void
htab_foreach(const struct htab *t, void (*fn)(const char *, void *, void *),
    void *arg)
{
	struct hent	*e;
	size_t		 i;

	for (i = 0; i < t->cap; i++)
		for (e = t->b[i]; e != NULL; e = e->next)
			fn(e->key, e->val, arg);
}

/* htab_free - free the table (not the values) */
void
htab_free(struct htab *t)
{
	struct hent	*e, *next;
	size_t		 i;

	for (i = 0; i < t->cap; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}
