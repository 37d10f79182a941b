/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log-line rate limit (lib/ratelimit.h): one 64-bit word holds the
 * interval number and the lines let through in it, so that moving to a new
 * interval and counting a line are one compare-and-swap and no line can
 * slip between them; the refused lines are a separate counter, taken whole
 * by the first line of a later interval.
 */
#include "tapir_build.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "lib/ratelimit.h"

struct tapir_ratelimit {
	uint32_t per_interval; /* read-only after create */
	int64_t interval_ms;   /* read-only after create */
	/* Interval number (32 bits, wrapping) << 32 | lines let through in
	 * it. */
	_Atomic uint64_t state;
	_Atomic uint64_t suppressed; /* refused, not yet reported */
};

struct tapir_ratelimit *
tapir_ratelimit_create(uint32_t per_interval, int64_t interval_ms)
{
	struct tapir_ratelimit *rl;

	if (per_interval == 0 || interval_ms < 1)
		return NULL;
	if (!(rl = calloc(1, sizeof(*rl))))
		return NULL;
	rl->per_interval = per_interval;
	rl->interval_ms = interval_ms;
	atomic_init(&rl->state, 0);
	atomic_init(&rl->suppressed, 0);
	return rl;
}

void
tapir_ratelimit_destroy(struct tapir_ratelimit *rl)
{
	free(rl);
}

bool
tapir_ratelimit_allow(
	struct tapir_ratelimit *rl, int64_t now_ms, uint64_t *suppressed)
{
	uint32_t want = (uint32_t)((now_ms < 0 ? 0 : now_ms) / rl->interval_ms);
	uint64_t cur = atomic_load(&rl->state), next, taken = 0;
	uint32_t n;

	*suppressed = 0;
	for (;;) {
		uint32_t at = (uint32_t)(cur >> 32);

		/* An older reading counts in the interval already started:
		 * the signed difference tells older from newer across the
		 * wrap. */
		if ((int32_t)(want - at) <= 0) {
			n = (uint32_t)cur;
			if (n >= rl->per_interval) {
				atomic_fetch_add(&rl->suppressed, 1);
				return false;
			}
			next = cur + 1;
		} else {
			/* The first line of its interval reports what the
			 * intervals before refused. Taken before the interval
			 * is published, so that none of its own refusals can
			 * be among them; one counted meanwhile is reported by
			 * the next interval's first line. */
			n = 0;
			next = (uint64_t)want << 32 | 1;
			taken = atomic_exchange(&rl->suppressed, 0);
		}
		if (atomic_compare_exchange_weak(&rl->state, &cur, next))
			break;
		/* Another thread moved first: what was taken goes back. */
		if (taken)
			atomic_fetch_add(&rl->suppressed, taken);
		taken = 0;
	}
	*suppressed = taken;
	return true;
}

uint64_t
tapir_ratelimit_take_suppressed(struct tapir_ratelimit *rl)
{
	return atomic_exchange(&rl->suppressed, 0);
}
