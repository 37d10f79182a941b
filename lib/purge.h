/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Purging Unbound's caches for names that become blocked. Unbound answers
 * from its message cache before any module runs, so a name cached while
 * allowed would keep resolving after the decision. The purger asks Unbound
 * itself, through its remote-control socket ("UBCT1 flush_zone NAME"), to
 * drop everything cached at or below the name: Unbound runs that on its own
 * worker with its own locking, and during a reload (when Unbound frees and
 * recreates its caches) it simply does not answer, so the purger can never
 * touch freed cache memory. Requests that fail are retried briefly, then
 * counted and dropped. When the names waiting would take longer than a
 * second to flush one by one (at the recent cost of one flush, which grows
 * with the cache), they are folded into one flush of the whole cache: one
 * walk instead of one per name.
 *
 * Thread safety: push() from any thread (the engine's writer); a thread of
 * its own talks to Unbound, so nobody waits on Unbound's control socket.
 */
#ifndef TAPIR_PURGE_H
#define TAPIR_PURGE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/tapir.h"

struct tapir_purger;

struct tapir_purger_stats {
	uint64_t requested, done, failed, dropped;
	uint64_t coalesced; /* names folded into one flush of everything */
};

/**
 * Start a purger.
 * @param endpoint: a Unix socket path ("/run/unbound.ctl") or an IPv4/IPv6
 *	loopback address, of an Unbound remote-control interface that uses no
 *	certificates (control-use-cert: no).
 * @param port: TCP port when endpoint is an address.
 * @param queue_max: names waiting at most; more are dropped and counted.
 * @return: the purger or NULL.
 */
struct tapir_purger *tapir_purger_create(
	const char *endpoint, int port, size_t queue_max);

/** Stop and join the thread, drop what is queued; NULL is fine. */
void tapir_purger_destroy(struct tapir_purger *p);

/** Queue a canonical name for flush_zone. @return: 0 or TAPIR_EFULL. */
int tapir_purger_push(struct tapir_purger *p, const char *name);

/** Counters. */
void tapir_purger_stats(struct tapir_purger *p, struct tapir_purger_stats *st);

/** Wait until the queue is empty and no request is in flight (tests). */
void tapir_purger_drain(struct tapir_purger *p, int timeout_ms);

#endif
