/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counter-flip grace periods. Invariant: a reader increments the counter of
 * the phase it observed, then re-reads the phase; if the phase changed in
 * between, it backs out and retries before touching shared data. All these
 * accesses are sequentially consistent, so for a reader that stays, its
 * increment precedes the writer's flip in the single total order, and the
 * writer's drain loop (after the flip) sees it. A reader whose increment
 * comes after the flip sees the new phase on its re-read and backs out.
 * Hence one flip and one drain make a grace period.
 */
#include "tapir_build.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "lib/epoch.h"

#define STRIPES	  64
#define CACHELINE 64

struct stripe {
	_Atomic long count[2];
	char pad[CACHELINE - 2 * sizeof(long)];
};

struct tapir_epoch {
	_Atomic unsigned phase;
	char pad[CACHELINE - sizeof(unsigned)];
	struct stripe stripes[STRIPES];
};

/* Each thread takes the next stripe on first use; with fewer threads than
 * stripes every Unbound worker has a line of its own. */
static _Atomic unsigned next_stripe;
static __thread unsigned my_stripe_plus1;

static unsigned
my_stripe(void)
{
	if (!my_stripe_plus1)
		my_stripe_plus1 =
			atomic_fetch_add(&next_stripe, 1) % STRIPES + 1;
	return my_stripe_plus1 - 1;
}

struct tapir_epoch *
tapir_epoch_create(void)
{
	struct tapir_epoch *ep;

	if (posix_memalign((void **)&ep, CACHELINE, sizeof(*ep)) != 0)
		return NULL;
	atomic_init(&ep->phase, 0);
	for (int i = 0; i < STRIPES; i++) {
		atomic_init(&ep->stripes[i].count[0], 0);
		atomic_init(&ep->stripes[i].count[1], 0);
	}
	return ep;
}

void
tapir_epoch_destroy(struct tapir_epoch *ep)
{
	free(ep);
}

unsigned
tapir_epoch_enter(struct tapir_epoch *ep)
{
	struct stripe *s = &ep->stripes[my_stripe()];

	for (;;) {
		unsigned p = atomic_load(&ep->phase) & 1;
		atomic_fetch_add(&s->count[p], 1);
		if ((atomic_load(&ep->phase) & 1) == p)
			return p;
		atomic_fetch_sub_explicit(
			&s->count[p], 1, memory_order_release);
	}
}

void
tapir_epoch_exit(struct tapir_epoch *ep, unsigned token)
{
	atomic_fetch_sub_explicit(&ep->stripes[my_stripe()].count[token & 1], 1,
		memory_order_release);
}

static void
wait_drained(struct tapir_epoch *ep, unsigned p)
{
	for (int i = 0; i < STRIPES; i++) {
		unsigned spins = 0;
		while (atomic_load(&ep->stripes[i].count[p]) != 0) {
			/* Read sections are one lookup long: spin briefly,
			 * then yield, then sleep so a preempted reader can
			 * run on a busy 2-core machine. */
			if (++spins < 64) {
				continue;
			} else if (spins < 1024) {
				sched_yield();
			} else {
				struct timespec ts = { 0, 50000 };
				nanosleep(&ts, NULL);
			}
		}
	}
}

void
tapir_epoch_synchronize(struct tapir_epoch *ep)
{
	unsigned old = atomic_fetch_add(&ep->phase, 1) & 1;
	wait_drained(ep, old);
}
