/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A rate limit for log lines that any number of threads may write at once,
 * such as the block log of Unbound's workers: at most `per_interval` lines
 * in each interval of a monotonic clock. Lines over the limit are dropped
 * and counted, and the first line let through after them carries the count,
 * so that the log says how many are missing and when.
 *
 * Invariants: within one interval at most per_interval calls return true,
 * however many threads call; every refused call is reported exactly once,
 * by a later tapir_ratelimit_allow() or by tapir_ratelimit_take_suppressed().
 * A caller whose clock reading is older than the interval another thread
 * has started counts in that newer interval (a thread preempted between
 * reading the clock and calling cannot restart an interval). Interval
 * numbers wrap after 2^32 intervals (136 years of seconds).
 *
 * Thread safety: every function but create and destroy may be called from
 * any thread at once; none takes a lock or waits (a compare-and-swap on
 * one 64-bit word, retried while another thread wins it).
 */
#ifndef TAPIR_RATELIMIT_H
#define TAPIR_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/tapir.h"

struct tapir_ratelimit;

/**
 * A new limit.
 * @param per_interval: lines allowed per interval, at least 1.
 * @param interval_ms: the interval, at least 1 millisecond.
 * @return: the limit (owned by the caller) or NULL (out of memory, or a
 *   bound of 0).
 */
struct tapir_ratelimit *tapir_ratelimit_create(
	uint32_t per_interval, int64_t interval_ms);

/** Free a limit; NULL is fine. No call may be running on it. */
void tapir_ratelimit_destroy(struct tapir_ratelimit *rl);

/**
 * May one more line be written now?
 * @param now_ms: the time, in milliseconds of a monotonic clock
 *   (tapir_monotonic_ms()).
 * @param suppressed: set to the number of lines refused since they were
 *   last reported when this is the first line of its interval to be let
 *   through (the caller logs that count before its line), else to 0.
 * @return: true to write the line; false to drop it (it is counted).
 */
bool tapir_ratelimit_allow(
	struct tapir_ratelimit *rl, int64_t now_ms, uint64_t *suppressed);

/**
 * The lines refused and not yet reported, for a last report (when the
 * writer of the lines stops); the count starts again from 0.
 */
uint64_t tapir_ratelimit_take_suppressed(struct tapir_ratelimit *rl);

#endif
