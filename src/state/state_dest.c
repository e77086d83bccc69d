/*
 * state_dest.c - the destination memory verbs of the state store
 * (docs/domains.md): what the relay knows of each destination domain's
 * TLS policy, its downgrades and its message counts.
 *
 * Writes are queued for the store's worker like every other write, so
 * the relay's event loop never waits for the disk; the relay merges a
 * domain's counts in memory and hands them over in batches
 * (state_dest_count), so a message costs the store nothing of its own.
 * state_dest_accept() is `danemx domains accept`: it touches only the
 * held and accepted columns, which the relay reads again before it
 * lets a held domain's mail go.
 *
 * Every record, written or read back, is checked (state_dest_valid):
 * whoever can write the file can at worst garble the memory, never
 * crash danemx or put a control character into a log line.
 *
 * Ownership: a struct state_dest owns nothing; arguments are copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_int.h"

static const char *const count_names[STATE_DEST_NCOUNT] = {
	[STATE_DEST_DANE] = "dane-verified",
	[STATE_DEST_STS] = "sts-verified",
	[STATE_DEST_ENCRYPTED] = "encrypted",
	[STATE_DEST_OPPORTUNISTIC] = "opportunistic",
	[STATE_DEST_DEFERRED] = "deferred",
};

/* state_dest_count_name - "dane-verified" ... "deferred" */
const char *
state_dest_count_name(enum state_dest_n n)
{
	return (unsigned)n < STATE_DEST_NCOUNT ? count_names[n] : "?";
}

/* name_ok - a memory key (destmem_domain_key): a lowercase host name, or
 * [host], [host]:port, host:port; 1 to size-1 octets */
static int
name_ok(const char *s, size_t size)
{
	size_t	 n = strnlen(s, size), i = 0, h;
	int	 digits = 0;

	if (n == 0 || n >= size)
		return 0;
	/* a domain, or a next hop: [host], [host]:port, host:port */
	if (s[0] == '[')
		i++;
	for (h = i; s[i] != '\0' && s[i] != ']' && s[i] != ':'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return 0;
	if (i == h || (s[0] == '[') != (s[i] == ']'))
		return 0;
	if (s[i] == ']')
		i++;
	if (s[i] == ':')
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	return s[i] == '\0' && (s[i - 1] != ':' || digits > 0) && digits <= 5;
}

/* policy_ok - "", "dane", "sts-enforce", "sts-testing" or "none" */
static int
policy_ok(const char *s)
{
	return s[0] == '\0' || strcmp(s, "dane") == 0 ||
	    strcmp(s, "sts-enforce") == 0 || strcmp(s, "sts-testing") == 0 ||
	    strcmp(s, "none") == 0;
}

/* word_ok - letters and digits only, shorter than size */
static int
word_ok(const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/* day_ok - "" or "YYYY-MM-DD" */
static int
day_ok(const char *s)
{
	int	 i;

	if (s[0] == '\0')
		return 1;
	if (strnlen(s, 11) != 10)
		return 0;
	for (i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' ||
		    s[i] > '9'))
			return 0;
	return 1;
}

/* outcome_ok - "", "sent" or "deferred" */
static int
outcome_ok(const char *s)
{
	return s[0] == '\0' || strcmp(s, "sent") == 0 ||
	    strcmp(s, "deferred") == 0;
}

/* state_dest_valid - a record is sound (see the top of the file) */
int
state_dest_valid(const struct state_dest *d)
{
	return name_ok(d->domain, sizeof(d->domain)) &&
	    policy_ok(d->policy) && policy_ok(d->down_from) &&
	    policy_ok(d->down_to) &&
	    word_ok(d->fingerprint, sizeof(d->fingerprint)) &&
	    state_text_ok(d->down_what, sizeof(d->down_what), 0, 1) &&
	    day_ok(d->day) &&
	    outcome_ok(d->last_outcome);
}

/* state_dest_get - the memory of domain: 1 found, 0 none, -1 error */
int
state_dest_get(struct state *st, const char *domain, struct state_dest *out,
    char *err, size_t errlen)
{
	int	 rv;

	memset(out, 0, sizeof(*out));
	if (strlen(domain) >= STATE_DOMAIN_MAX)
		return 0;
	rv = st->be->dest_get(st->rconn, domain, out, err, errlen);
	if (rv == 1 && !state_dest_valid(out)) {
		memset(out, 0, sizeof(*out));
		snprintf(err, errlen, "the stored memory of %.64s is malformed",
		    domain);
		return -1;
	}
	return rv;
}

struct dlist_ctx {
	int	(*cb)(void *, const struct state_dest *);
	void	*arg;
};

static int
dlist_one(void *arg, const struct state_dest *d)
{
	struct dlist_ctx	*lc = arg;

	if (!state_dest_valid(d))
		return 0;	/* passed over, not fatal */
	return lc->cb(lc->arg, d);
}

/*
 * state_dest_list - every destination (at most STATE_DEST_LIST_MAX), by
 * name; cb returns 0 to go on. The number read, or -1.
 */
int
state_dest_list(struct state *st, int (*cb)(void *, const struct state_dest *),
    void *arg, char *err, size_t errlen)
{
	struct dlist_ctx	 lc = { cb, arg };

	return st->be->dest_list(st->rconn, dlist_one, &lc, err, errlen);
}

/* dest_op - a new write for domain; NULL if domain is not a name */
static struct state_op *
dest_op(const char *domain, int64_t when)
{
	struct state_op	*op;

	if (!name_ok(domain, STATE_DOMAIN_MAX) ||
	    (op = state_op_new(OP_DEST, domain, when)) == NULL)
		return NULL;
	if ((op->dest = calloc(1, sizeof(*op->dest))) == NULL) {
		state_op_free(op);
		return NULL;
	}
	strlcpy_(op->dest->domain, domain, sizeof(op->dest->domain));
	op->dest->when = when;
	return op;
}

/* state_dest_seen - domain's policy and fingerprint as of when (changed
 * is set when they differ from the stored ones) */
int
state_dest_seen(struct state *st, const char *domain, const char *policy,
    const char *fingerprint, int64_t when)
{
	struct state_op	*op;

	if (!policy_ok(policy) || !word_ok(fingerprint, STATE_DEST_FP_MAX) ||
	    (op = dest_op(domain, when)) == NULL)
		return -1;
	op->dest->seen = 1;
	strlcpy_(op->dest->policy, policy, sizeof(op->dest->policy));
	strlcpy_(op->dest->fingerprint, fingerprint,
	    sizeof(op->dest->fingerprint));
	return state_enqueue(st, op, 0);
}

/* state_dest_downgrade - domain went from policy from to to at when;
 * what says what changed; held: its mail waits for the operator */
int
state_dest_downgrade(struct state *st, const char *domain, const char *from,
    const char *to, const char *what, int held, int64_t when)
{
	struct state_op	*op;

	if (!policy_ok(from) || !policy_ok(to) ||
	    (op = dest_op(domain, when)) == NULL)
		return -1;
	op->dest->downgrade = 1;
	strlcpy_(op->dest->down_from, from, sizeof(op->dest->down_from));
	strlcpy_(op->dest->down_to, to, sizeof(op->dest->down_to));
	strlcpy_(op->dest->down_what, what, sizeof(op->dest->down_what));
	op->dest->held = held != 0;
	if (!state_text_ok(op->dest->down_what, sizeof(op->dest->down_what),
	    0, 1)) {
		state_op_free(op);
		return -1;
	}
	return state_enqueue(st, op, 0);
}

/* state_dest_count - add n[] to domain's counts of day and in total;
 * last is the outcome of the last message counted ("sent", "deferred") */
int
state_dest_count(struct state *st, const char *domain, const char *day,
    const uint64_t n[STATE_DEST_NCOUNT], const char *last, int64_t when)
{
	struct state_op	*op;
	int		 i;

	if (day == NULL || day[0] == '\0' || !day_ok(day) ||
	    !outcome_ok(last) || (op = dest_op(domain, when)) == NULL)
		return -1;
	strlcpy_(op->dest->last_outcome, last, sizeof(op->dest->last_outcome));
	op->dest->count = 1;
	strlcpy_(op->dest->day, day, sizeof(op->dest->day));
	for (i = 0; i < STATE_DEST_NCOUNT; i++)
		op->dest->n[i] = n[i] > ((uint64_t)1 << 53) ? 0 : n[i];
	return state_enqueue(st, op, 0);
}

/* state_dest_accept - the operator accepts domain's downgrade: its mail
 * is no longer held. Queued like any write; state_sync() to wait. */
int
state_dest_accept(struct state *st, const char *domain, int64_t when)
{
	struct state_op	*op;

	if ((op = dest_op(domain, when)) == NULL)
		return -1;
	op->dest->accept = 1;
	return state_enqueue(st, op, 1);
}

/* state_dest_expire - forget every domain not seen since unseen_before
 * (unless its mail is held) */
int
state_dest_expire(struct state *st, int64_t unseen_before)
{
	struct state_op	*op;

	if ((op = state_op_new(OP_DEST, NULL, unseen_before)) == NULL)
		return -1;
	if ((op->dest = calloc(1, sizeof(*op->dest))) == NULL) {
		state_op_free(op);
		return -1;
	}
	op->dest->expire = 1;
	op->dest->when = unseen_before;
	return state_enqueue(st, op, 0);
}
