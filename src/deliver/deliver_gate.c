/*
 * deliver_gate.c - at most N SMTP sessions at once to one server
 * address, across every delivery that shares the gate (`danemx check`
 * of many domains, whose MX hosts are often the same few).
 *
 * Receivers cap how many connections one client may hold at once
 * (Postfix's smtpd_client_connection_count_limit, 50 by default, often
 * set to 10 or 20; the large providers say "421 try again later"). A
 * scan that opens more would read the receiver's refusals as its
 * failures, and look like abuse. A delivery asks the gate before each
 * session (deliver_gate_enter()); when the address is full it waits in
 * line, and the gate resumes it from the event loop, first come first
 * served, when a session to that address ends (deliver_gate_leave()).
 *
 * Ownership: the gate owns its per-address entries, which exist only
 * while a session holds or waits for a slot there (so at most as many
 * as sessions and waiters). Tickets belong to the caller (struct
 * deliver embeds one) and must leave the gate before they are freed.
 * deliver_gate_free() needs every ticket gone.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "deliver/deliver_int.h"
#include "util/util.h"

struct gate_key {
	TAILQ_ENTRY(gate_key)	 entry;
	char			 addr[DELIVER_GATE_KEY_MAX];
	unsigned		 held;
	TAILQ_HEAD(, deliver_ticket) waiting;
};

struct deliver_gate {
	struct event_base	*base;
	unsigned		 limit;		/* 0: no limit */
	TAILQ_HEAD(, gate_key)	 keys;
	TAILQ_HEAD(, deliver_ticket) ready;	/* given a slot, not resumed */
	struct event		*ev;		/* resumes the ready ones */
};

static void
gate_run(evutil_socket_t fd, short ev, void *arg)
{
	struct deliver_gate	*g = arg;
	struct deliver_ticket	*t;

	(void)fd;
	(void)ev;
	/* resume() may enter or leave the gate: take one at a time */
	while ((t = TAILQ_FIRST(&g->ready)) != NULL) {
		TAILQ_REMOVE(&g->ready, t, entry);
		t->state = TICKET_HELD;
		t->resume(t->arg);
	}
}

/* deliver_gate_new - a gate of limit sessions per address (0: none) */
struct deliver_gate *
deliver_gate_new(struct event_base *base, unsigned limit)
{
	struct deliver_gate *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->base = base;
	g->limit = limit;
	TAILQ_INIT(&g->keys);
	TAILQ_INIT(&g->ready);
	if ((g->ev = event_new(base, -1, 0, gate_run, g)) == NULL) {
		free(g);
		return NULL;
	}
	return g;
}

/* deliver_gate_free - free the gate; no ticket may still be in it */
void
deliver_gate_free(struct deliver_gate *g)
{
	struct gate_key *k;

	if (g == NULL)
		return;
	while ((k = TAILQ_FIRST(&g->keys)) != NULL) {
		TAILQ_REMOVE(&g->keys, k, entry);
		free(k);
	}
	event_free(g->ev);
	free(g);
}

/* deliver_gate_ticket - a ticket that resume(arg) will wake */
void
deliver_gate_ticket(struct deliver_ticket *t, void (*resume)(void *),
    void *arg)
{
	memset(t, 0, sizeof(*t));
	t->state = TICKET_NONE;
	t->resume = resume;
	t->arg = arg;
}

/*
 * deliver_gate_enter - a slot at addr for t: 1 when t holds one now; 0
 * when t waits in line (t's resume() runs from the loop once it holds
 * one). Without memory for a new address the gate lets t through.
 */
int
deliver_gate_enter(struct deliver_gate *g, struct deliver_ticket *t,
    const char *addr)
{
	struct gate_key *k;

	if (t->state != TICKET_NONE)
		return t->state == TICKET_HELD;
	t->key = NULL;
	if (g->limit == 0) {
		t->state = TICKET_HELD;
		return 1;
	}
	TAILQ_FOREACH(k, &g->keys, entry)
		if (strcmp(k->addr, addr) == 0)
			break;
	if (k == NULL) {
		if ((k = calloc(1, sizeof(*k))) == NULL) {
			t->state = TICKET_HELD;		/* fail open */
			return 1;
		}
		strlcpy_(k->addr, addr, sizeof(k->addr));
		TAILQ_INIT(&k->waiting);
		TAILQ_INSERT_TAIL(&g->keys, k, entry);
	}
	t->key = k;
	if (k->held < g->limit) {
		k->held++;
		t->state = TICKET_HELD;
		return 1;
	}
	t->state = TICKET_WAITING;
	TAILQ_INSERT_TAIL(&k->waiting, t, entry);
	return 0;
}

/* key_gone - forget k when nobody holds or waits for it */
static void
key_gone(struct deliver_gate *g, struct gate_key *k)
{
	if (k->held == 0 && TAILQ_EMPTY(&k->waiting)) {
		TAILQ_REMOVE(&g->keys, k, entry);
		free(k);
	}
}

/*
 * deliver_gate_leave - t gives up its slot (the session ended, or never
 * started) or its place in line; the next in line for that address is
 * resumed from the loop. A ticket that is in no state is left alone.
 */
void
deliver_gate_leave(struct deliver_gate *g, struct deliver_ticket *t)
{
	struct gate_key		*k = t->key;
	struct deliver_ticket	*w;

	switch (t->state) {
	case TICKET_NONE:
		return;
	case TICKET_WAITING:
		TAILQ_REMOVE(&k->waiting, t, entry);
		break;
	case TICKET_READY:
		TAILQ_REMOVE(&g->ready, t, entry);
		/* FALLTHROUGH: it was given a slot */
	case TICKET_HELD:
		if (k == NULL)
			break;
		k->held--;
		if ((w = TAILQ_FIRST(&k->waiting)) != NULL) {
			TAILQ_REMOVE(&k->waiting, w, entry);
			k->held++;
			w->state = TICKET_READY;
			TAILQ_INSERT_TAIL(&g->ready, w, entry);
			event_active(g->ev, 0, 0);
		}
		break;
	}
	t->state = TICKET_NONE;
	t->key = NULL;
	if (k != NULL)
		key_gone(g, k);
}

/* deliver_gate_held - sessions holding a slot at addr (for tests) */
unsigned
deliver_gate_held(const struct deliver_gate *g, const char *addr)
{
	const struct gate_key *k;

	TAILQ_FOREACH(k, &g->keys, entry)
		if (strcmp(k->addr, addr) == 0)
			return k->held;
	return 0;
}
