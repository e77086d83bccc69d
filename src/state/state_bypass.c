/*
 * state_bypass.c - the bypass verbs of the state store: what the relay's
 * rechecks of the DANE bypass list found (serve_bypass.c), one row per
 * exact domain, and whether the entry was retired.
 *
 * Every record, written or read back, is checked (state_bypass_valid):
 * a host name (or a host next hop, [name]:port), printable text.
 * Whoever can write the file can at worst retire an entry of the list
 * or make one apply again; that is as much as the relay's user can do
 * anyway, and the list is root's.
 *
 * Ownership: a verb's record is copied; a record handed to a callback
 * is the store's, valid during the callback only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_int.h"

/* name_chars - s[0..n) is made of a domain's characters */
static int
name_chars(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * key_ok - a row's key: a domain, or a host next hop of the bypass list,
 * "[mx.example.org]" or "[mx.example.org]:PORT"
 */
static int
key_ok(const char *k)
{
	const char	*end;
	size_t		 i;

	if (k[0] != '[')
		return name_chars(k, strlen(k));
	if ((end = strchr(k, ']')) == NULL || !name_chars(k + 1,
	    (size_t)(end - k - 1)))
		return 0;
	if (end[1] == '\0')
		return 1;
	if (end[1] != ':' || end[2] == '\0' || strlen(end + 2) > 5)
		return 0;
	for (i = 2; end[i] != '\0'; i++)
		if (end[i] < '0' || end[i] > '9')
			return 0;
	return 1;
}

/* state_bypass_valid - a row is sound */
int
state_bypass_valid(const struct state_bypass *r)
{
	size_t		 n = strnlen(r->domain, sizeof(r->domain));

	if (n == 0 || n >= sizeof(r->domain) || !key_ok(r->domain))
		return 0;
	return state_text_ok(r->entry, sizeof(r->entry), 0, 1) &&
	    state_text_ok(r->result, sizeof(r->result), 0, 1) &&
	    r->checked >= 0 &&
	    r->retired >= 0 && (r->ok == 0 || r->ok == 1);
}

/* state_bypass_get - domain's row: 1 found, 0 not, -1 with err */
int
state_bypass_get(struct state *st, const char *domain,
    struct state_bypass *out, char *err, size_t errlen)
{
	int	 rv;

	memset(out, 0, sizeof(*out));
	rv = st->be->bypass_get(st->rconn, domain, out, err, errlen);
	if (rv == 1 && !state_bypass_valid(out)) {
		snprintf(err, errlen, "a malformed bypass row for %.64s",
		    domain);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return rv;
}

struct list_ctx {
	int	(*cb)(void *, const struct state_bypass *);
	void	*arg;
};

static int
list_one(void *arg, const struct state_bypass *r)
{
	struct list_ctx	*lc = arg;

	return state_bypass_valid(r) ? lc->cb(lc->arg, r) : 0;
}

/* state_bypass_list - every sound row, by domain; cb returns non-zero
 * to stop. The number read, or -1 with err. */
int
state_bypass_list(struct state *st,
    int (*cb)(void *, const struct state_bypass *), void *arg, char *err,
    size_t errlen)
{
	struct list_ctx	 lc = { cb, arg };

	return st->be->bypass_list(st->rconn, list_one, &lc, err, errlen);
}

/* state_bypass_put - store r (a copy is queued); 0, or -1 */
int
state_bypass_put(struct state *st, const struct state_bypass *r)
{
	struct state_op	*op;

	if (!state_bypass_valid(r) || (op = state_op_new(OP_BYPASS_PUT,
	    r->domain, 0)) == NULL)
		return -1;
	if ((op->byp = malloc(sizeof(*op->byp))) == NULL) {
		state_op_free(op);
		return -1;
	}
	*op->byp = *r;
	return state_enqueue(st, op, 0);
}

/* state_bypass_delete - forget domain's row */
int
state_bypass_delete(struct state *st, const char *domain)
{
	struct state_op	*op;

	if ((op = state_op_new(OP_BYPASS_DELETE, domain, 0)) == NULL)
		return -1;
	return state_enqueue(st, op, 0);
}

/* state_bypass_apply - a bypass write on the worker's connection */
int
state_bypass_apply(struct state *st, struct state_op *op, char *err,
    size_t errlen)
{
	if (op->kind == OP_BYPASS_PUT)
		return st->be->bypass_put(st->wconn, op->byp, err, errlen);
	return st->be->bypass_delete(st->wconn, op->domain, err, errlen);
}
