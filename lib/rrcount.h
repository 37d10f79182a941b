/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How many records of an RPZ zone stand behind one policy entry. Every
 * RR of an owner maps to the same database entry (source, name, kind)
 * (lib/listfile.h, tapir_rpz_map()), and an owner may have several: local
 * data such as an A and an AAAA record. An IXFR deletes records, not
 * entries, so the entry must stay while any of its records remain, with
 * the action those records give. This table keeps, per (name, kind), the
 * number of records of each action; the engine stores only owners with
 * more than one record, as an owner with one is its entry alone.
 *
 * Invariants: a stored row has a total of at least one record (a put with
 * none removes the row). Memory is one allocation per row, sized to its
 * name, and a bucket array at most twice the number of rows. Names are
 * hashed with XXH3 and a random seed, so a primary cannot aim its owners
 * at one chain.
 *
 * Thread safety: none; a table belongs to one thread (the engine's
 * writer).
 */
#ifndef TAPIR_RRCOUNT_H
#define TAPIR_RRCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/name.h"
#include "lib/tapir.h"
#include "lib/vocab.h"

struct tapir_rrcount;

/** @return: an empty table (owned by the caller), or NULL. */
struct tapir_rrcount *tapir_rrcount_create(void);

/** Free the table and its rows. NULL is fine. */
void tapir_rrcount_destroy(struct tapir_rrcount *rc);

/** Remove every row. */
void tapir_rrcount_clear(struct tapir_rrcount *rc);

/** @return: the number of rows. */
size_t tapir_rrcount_size(const struct tapir_rrcount *rc);

/**
 * The counts of (name, kind).
 * @param name, len: canonical name (lib/name.h).
 * @param n: receives the records per enum tapir_action; all 0 when there
 *	is no row.
 * @return: their total, 0 when there is no row.
 */
uint64_t tapir_rrcount_get(const struct tapir_rrcount *rc, const char *name,
	size_t len, bool subtree, uint32_t n[TAPIR_ACTION_COUNT]);

/**
 * Store the counts of (name, kind), replacing any; all zero removes the
 * row.
 * @param n: records per enum tapir_action (copied).
 * @return: 0, TAPIR_EINVAL (len over TAPIR_NAME_BUFSIZE - 1), TAPIR_ENOMEM
 *	(the table is as it was).
 */
int tapir_rrcount_put(struct tapir_rrcount *rc, const char *name, size_t len,
	bool subtree, const uint32_t n[TAPIR_ACTION_COUNT]) TAPIR_WUR;

/** Called with each row; return nonzero to stop. */
typedef int (*tapir_rrcount_walk_cb)(void *arg, const char *name, size_t len,
	bool subtree, const uint32_t n[TAPIR_ACTION_COUNT]);

/**
 * Visit every row, in no particular order; the callback must not change
 * the table.
 * @return: 0, or the callback's nonzero value.
 */
int tapir_rrcount_walk(
	const struct tapir_rrcount *rc, tapir_rrcount_walk_cb cb, void *arg);

/**
 * The action a set of records gives its entry: the most restrictive one
 * present (DROP > NXDOMAIN > NODATA > REDIRECT > PASSTHRU), so that records
 * of different actions at one owner (a CNAME beside other data, which DNS
 * forbids but a primary may serve) decide the same whatever their order.
 * @return: that action, TAPIR_ACTION_PASS when all counts are zero.
 */
enum tapir_action tapir_rrcount_action(const uint32_t n[TAPIR_ACTION_COUNT]);

#endif
