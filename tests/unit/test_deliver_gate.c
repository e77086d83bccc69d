/*
 * test_deliver_gate.c - the per-address session limit (deliver_gate.c):
 * never more than the limit at one address, addresses independent, a
 * waiter resumed from the loop (never inside the call that freed its
 * slot), first come first served, a waiter or a resumed-but-not-yet-run
 * ticket that leaves gives its place on, 0 means no limit, and nothing
 * is left behind (AddressSanitizer).
 */
#include <string.h>

#include <event2/event.h>

#include "deliver/deliver_int.h"
#include "t.h"

static int	order[16];
static int	norder;

struct who {
	int			 id;
	struct deliver_ticket	 t;
	struct deliver_gate	*g;
	int			 leave_on_resume;	/* leave at once */
};

static void
resumed(void *arg)
{
	struct who *w = arg;

	order[norder++] = w->id;
	if (w->leave_on_resume)
		deliver_gate_leave(w->g, &w->t);
}

static void
mk(struct who *w, int id, struct deliver_gate *g)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->g = g;
	deliver_gate_ticket(&w->t, resumed, w);
}

static void
loop(struct event_base *base)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int
main(void)
{
	struct event_base	*base = event_base_new();
	struct deliver_gate	*g = deliver_gate_new(base, 2), *g0;
	struct who		 w[8];
	int			 i;

	for (i = 0; i < 8; i++)
		mk(&w[i], i, g);

	/* Two at A; the third and fourth wait; B is another address. */
	T_CHECK(deliver_gate_enter(g, &w[1].t, "192.0.2.1 25") == 1,
	    "first at A must enter");
	T_CHECK(deliver_gate_enter(g, &w[2].t, "192.0.2.1 25") == 1,
	    "second at A must enter");
	T_CHECK(deliver_gate_enter(g, &w[3].t, "192.0.2.1 25") == 0,
	    "third at A must wait (limit 2)");
	T_CHECK(deliver_gate_enter(g, &w[4].t, "192.0.2.1 25") == 0,
	    "fourth at A must wait");
	T_CHECK(deliver_gate_enter(g, &w[5].t, "192.0.2.1 587") == 1,
	    "another port of A is another address");
	T_CHECK(deliver_gate_held(g, "192.0.2.1 25") == 2,
	    "A: %u held, want 2", deliver_gate_held(g, "192.0.2.1 25"));

	/* A slot frees: the first waiter gets it, from the loop. */
	deliver_gate_leave(g, &w[1].t);
	T_CHECK(norder == 0, "a waiter was resumed inside leave()");
	T_CHECK(deliver_gate_held(g, "192.0.2.1 25") == 2,
	    "A: %u held after the hand-over, want 2",
	    deliver_gate_held(g, "192.0.2.1 25"));
	loop(base);
	T_CHECK(norder == 1 && order[0] == 3, "resumed %d (%d of them), "
	    "want 3 first", norder ? order[0] : -1, norder);
	T_CHECK(w[3].t.state == TICKET_HELD, "3 must hold its slot");
	T_CHECK(deliver_gate_enter(g, &w[3].t, "192.0.2.1 25") == 1,
	    "entering again while holding must say so, not queue");

	/* A waiter that gives up leaves no trace; the next frees nothing
	 * for it. */
	deliver_gate_leave(g, &w[4].t);
	T_CHECK(w[4].t.state == TICKET_NONE, "4 must be out of line");
	deliver_gate_leave(g, &w[2].t);
	loop(base);
	T_CHECK(norder == 1, "the one who left was resumed");
	T_CHECK(deliver_gate_held(g, "192.0.2.1 25") == 1,
	    "A: %u held, want 1", deliver_gate_held(g, "192.0.2.1 25"));

	/* Handed a slot but gone before the loop ran: the slot passes on. */
	T_CHECK(deliver_gate_enter(g, &w[6].t, "192.0.2.1 25") == 1,
	    "6 must enter (one free)");
	T_CHECK(deliver_gate_enter(g, &w[7].t, "192.0.2.1 25") == 0,
	    "7 must wait");
	w[0].t.state = TICKET_NONE;
	T_CHECK(deliver_gate_enter(g, &w[0].t, "192.0.2.1 25") == 0,
	    "0 must wait behind 7");
	deliver_gate_leave(g, &w[6].t);		/* 7 is handed the slot */
	T_CHECK(w[7].t.state == TICKET_READY, "7 must be ready");
	deliver_gate_leave(g, &w[7].t);		/* ...and leaves: 0 next */
	T_CHECK(w[0].t.state == TICKET_READY, "0 must get 7's slot");
	w[0].leave_on_resume = 1;		/* leaves from its resume() */
	loop(base);
	T_CHECK(norder == 2 && order[1] == 0, "resumed %d, want 0",
	    norder > 1 ? order[1] : -1);
	T_CHECK(deliver_gate_held(g, "192.0.2.1 25") == 1,
	    "A: %u held, want 1 (3's)", deliver_gate_held(g, "192.0.2.1 25"));

	/* Everyone out: the addresses are forgotten. */
	deliver_gate_leave(g, &w[3].t);
	deliver_gate_leave(g, &w[5].t);
	deliver_gate_leave(g, &w[5].t);		/* twice: harmless */
	T_CHECK(deliver_gate_held(g, "192.0.2.1 25") == 0 &&
	    deliver_gate_held(g, "192.0.2.1 587") == 0, "slots still held");
	deliver_gate_free(g);

	/* Limit 0: no limit at all. */
	g0 = deliver_gate_new(base, 0);
	for (i = 0; i < 8; i++) {
		mk(&w[i], i, g0);
		T_CHECK(deliver_gate_enter(g0, &w[i].t, "192.0.2.9 25") == 1,
		    "no limit: %d must enter", i);
	}
	for (i = 0; i < 8; i++)
		deliver_gate_leave(g0, &w[i].t);
	deliver_gate_free(g0);
	event_base_free(base);
	return t_done("test_deliver_gate");
}
