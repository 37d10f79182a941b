/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Purging a resolver's caches for names whose decision changed. Unbound
 * answers from its message cache before any module runs, so a name cached
 * while allowed would keep resolving after the decision. The purger queues
 * the names and hands them, one at a time and off the caller's thread, to
 * a send function of the embedder's: the module asks Unbound itself
 * through its remote-control socket (module/unbound_control.h); this file
 * knows nothing of how. Requests that fail are retried briefly, then
 * counted and dropped. When the names waiting would take longer than a
 * second to flush one by one (at the recent cost of one flush, which grows
 * with the cache), they are folded into one flush of the whole cache: one
 * walk instead of one per name.
 *
 * A name that only ever had answers of the types a flush by name covers
 * (the embedder knows which) is pushed with tapir_purger_push_name(): the
 * resolver removes those types of that name by key, without walking the
 * cache. A walk holds each cache table's spinlock while it runs; a worker
 * preempted in one kept another worker spinning for a whole scheduler tick
 * (4 ms), so every walk saved is a stall less likely (lib/engine_purge.c
 * decides which).
 *
 * Thread safety: push() from any thread (the engine's writer); a thread of
 * its own calls the send function, so nobody waits on the resolver.
 */
#ifndef TAPIR_PURGE_H
#define TAPIR_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tapir.h"

struct tapir_purger;

struct tapir_purger_stats {
	uint64_t requested, done, failed, dropped;
	uint64_t coalesced; /* names folded into one flush of everything */
	uint64_t by_name;   /* of done: flushes by name, no walk */
	uint64_t overflows; /* full queues turned into a flush of everything */
};

/**
 * How the embedder flushes one name: name and everything below it (zone;
 * "" for the whole cache), or the common types of name alone (by key).
 * Called on the purger's thread; may block up to its own deadline.
 * @return: 0 when done, else non-zero (retried, then counted as failed).
 */
typedef int (*tapir_purge_send_fn)(void *arg, const char *name, bool zone);

/**
 * Start a purger.
 * @param send, arg: the embedder's flush; arg must outlive the purger.
 * @param what: what send talks to, for log lines (copied).
 * @param queue_max: names waiting at most; past it they are folded into
 *	one flush of everything.
 * @return: the purger or NULL.
 */
struct tapir_purger *tapir_purger_create(tapir_purge_send_fn send, void *arg,
	const char *what, size_t queue_max);

/** Stop and join the thread, drop what is queued; NULL is fine. */
void tapir_purger_destroy(struct tapir_purger *p);

/** Queue a canonical name for flush_zone (it and everything below it;
 * "" for the whole cache). A full queue becomes one flush of everything,
 * which covers the name: nothing is lost. @return: 0 or TAPIR_ENOMEM. */
int tapir_purger_push(struct tapir_purger *p, const char *name);

/** Queue a canonical name for a flush by name: the common types of that
 * name alone, by key. @return: as tapir_purger_push(). */
int tapir_purger_push_name(struct tapir_purger *p, const char *name);

/** Between hold and release, pushes queue without waking the purger
 * thread until a few dozen wait (one that is awake goes on working): the
 * writer holds it across a batch of messages, so that a burst of
 * decisions costs a wake-up per few dozen names rather than one per name.
 * Release wakes it for what came meanwhile. */
void tapir_purger_hold(struct tapir_purger *p);
void tapir_purger_release(struct tapir_purger *p);

/** Counters. */
void tapir_purger_stats(struct tapir_purger *p, struct tapir_purger_stats *st);

/** Wait until the queue is empty and no request is in flight (tests). */
void tapir_purger_drain(struct tapir_purger *p, int timeout_ms);

#endif
