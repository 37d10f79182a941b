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
 * A name that only ever had answers of the types in
 * TAPIR_PURGE_BY_NAME_TYPES cached is flushed by name instead ("UBCT1
 * flush NAME"): Unbound removes those types of that name from its rrset
 * and message caches by key, without walking the cache. A walk holds
 * each cache table's spinlock while it runs; a worker preempted in one
 * kept another worker spinning for a whole scheduler tick (4 ms), so
 * every walk saved is a stall less likely (lib/engine.c decides which).
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
	uint64_t by_name;   /* of done: flushes by name, no walk */
};

/* The types Unbound's "flush NAME" removes (daemon/remote.c do_flush_name,
 * 1.17): A, AAAA, NS, SOA, CNAME, DNAME, MX, PTR, SRV, NAPTR, SVCB, HTTPS,
 * with the CD variant of AAAA and the negative SOA. */
static inline int
tapir_purge_by_name_covers(uint16_t qtype)
{
	switch (qtype) {
	case 1:	 /* A */
	case 28: /* AAAA */
	case 2:	 /* NS */
	case 6:	 /* SOA */
	case 5:	 /* CNAME */
	case 39: /* DNAME */
	case 15: /* MX */
	case 12: /* PTR */
	case 33: /* SRV */
	case 35: /* NAPTR */
	case 64: /* SVCB */
	case 65: /* HTTPS */
		return 1;
	default:
		return 0;
	}
}

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

/** Queue a canonical name for flush_zone (it and everything below it;
 * "" for the whole cache). @return: 0 or TAPIR_EFULL. */
int tapir_purger_push(struct tapir_purger *p, const char *name);

/** Queue a canonical name for flush: the types tapir_purge_by_name_covers()
 * of that name alone, by key. @return: 0 or TAPIR_EFULL. */
int tapir_purger_push_name(struct tapir_purger *p, const char *name);

/** Counters. */
void tapir_purger_stats(struct tapir_purger *p, struct tapir_purger_stats *st);

/** Wait until the queue is empty and no request is in flight (tests). */
void tapir_purger_drain(struct tapir_purger *p, int timeout_ms);

#endif
