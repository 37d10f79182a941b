/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy database: for each name, one entry per (source, kind), where
 * the kind is "exact" (the name itself) or "subtree" (every name strictly
 * below it, the RPZ "*.name" meaning). An entry carries the list it feeds,
 * the TAPIR tag bits, when it was added and when it expires.
 *
 * Layout, for millions of names: an open-addressing index of 32-byte
 * cells, each holding a name of up to 27 bytes and the position of its
 * entry set, with one tag byte per cell in an array of its own: a miss
 * reads tag bytes only, a hit one line of cells. Entry sets and longer
 * names live in one append-only chunked arena that never moves. A name's
 * entry set is immutable and exactly sized; an update appends a new set
 * and swaps one position. Names whose only entry is the same (a whole file
 * or zone) share one set.
 *
 * Thread safety: one writer thread calls every function that is not marked
 * "reader"; any number of reader threads call the reader functions between
 * tapir_db_read_begin() and tapir_db_read_end(). Readers never take a lock
 * and never wait for the writer: replaced sets and arenas are freed only
 * after a grace period (lib/epoch.h), in tapir_db_commit(), and a call
 * that rebuilds the index waits for one before it returns.
 */
#ifndef TAPIR_DB_H
#define TAPIR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tapir.h"

enum tapir_entry_flags {
	/* The entry covers names strictly below its owner, not the owner. */
	TAPIR_ENTRY_SUBTREE = 1 << 0,
};

/* Bits 1..3 of flags: the entry's own action (an RPZ record says NXDOMAIN,
 * NODATA, DROP, PASSTHRU or a redirect), as enum tapir_action; 0 means the
 * list's configured action. Not part of the (source, kind) key. */
#define TAPIR_ENTRY_ACTION_SHIFT 1
#define TAPIR_ENTRY_ACTION_MASK	 (7u << TAPIR_ENTRY_ACTION_SHIFT)
#define TAPIR_ENTRY_ACTION(flags)                                              \
	(((unsigned)(flags)&TAPIR_ENTRY_ACTION_MASK) >>                        \
		TAPIR_ENTRY_ACTION_SHIFT)

/* An expiry that never comes: file and zone sources, until removed. */
#define TAPIR_EXPIRY_NEVER UINT32_MAX

/**
 * A time (seconds since the epoch, any int64_t) as an entry's expiry or
 * added stamp: 32-bit seconds last to 2106, so a later time is the last
 * one that can be stored (TAPIR_EXPIRY_NEVER - 1, as good as never but
 * still an expiry), and one before the epoch is 0 (long past).
 */
static inline uint32_t
tapir_db_time32(int64_t t)
{
	if (t <= 0)
		return 0;
	if (t >= (int64_t)TAPIR_EXPIRY_NEVER)
		return TAPIR_EXPIRY_NEVER - 1;
	return (uint32_t)t;
}

struct tapir_entry {
	uint32_t
		expiry; /* first second (epoch) at which it no longer applies */
	uint32_t added; /* when the source says it was added (epoch) */
	uint32_t tags;	/* TAPIR tag bits */
	uint16_t source; /* index into the configuration's sources */
	uint8_t list;	 /* enum tapir_list */
	uint8_t flags;	 /* enum tapir_entry_flags */
};

struct tapir_db;

struct tapir_db_stats {
	size_t names;	/* names with at least one entry */
	size_t entries; /* entries over all names */
	size_t subtree; /* entries with TAPIR_ENTRY_SUBTREE */
	size_t records; /* names stored, including emptied ones */
	size_t index_slots;
	size_t rebuilds; /* index rebuilds (growth, compaction) so far */
	size_t expiring; /* entries that expire (not TAPIR_EXPIRY_NEVER) */
	size_t bytes;	 /* memory held: arena, index, entry sets */
};

/**
 * Create an empty database.
 * @param max_names: inserts of new names beyond this fail with TAPIR_EFULL.
 * @return: the database (owned by the caller) or NULL.
 */
struct tapir_db *tapir_db_create(size_t max_names);

/** Free everything; no reader may be inside. NULL is fine. */
void tapir_db_destroy(struct tapir_db *db);

/**
 * Add or replace the entry of (source, flags & SUBTREE) for a name.
 * @param name, len: canonical name (lib/name.h).
 * @param e: the entry (copied).
 * @return: 0, TAPIR_EFULL, TAPIR_ENOMEM, TAPIR_EINVAL.
 */
int tapir_db_set(struct tapir_db *db, const char *name, size_t len,
	const struct tapir_entry *e) TAPIR_WUR;

/**
 * tapir_db_set(), also saying what it replaced, from the same lookup (a
 * loader that needs to know would otherwise look the name up twice).
 * @param had: set to the flags of the entry of (source, flags & SUBTREE)
 *	the name had, or to -1 when it had none; left alone on failure.
 */
int tapir_db_set_had(struct tapir_db *db, const char *name, size_t len,
	const struct tapir_entry *e, int *had) TAPIR_WUR;

/**
 * Remove the entry of (source, flags & SUBTREE) for a name.
 * @return: 0 if removed, TAPIR_ENOENT if there was none, TAPIR_ENOMEM.
 */
int tapir_db_remove(struct tapir_db *db, const char *name, size_t len,
	uint16_t source, uint8_t flags) TAPIR_WUR;

/**
 * Remove every entry of a source (a source that is reloaded or dropped).
 * @return: number of entries removed.
 */
size_t tapir_db_remove_source(struct tapir_db *db, uint16_t source);

/**
 * Make the writer's changes safe to forget: wait for a grace period and
 * free what readers could still see. Cheap when nothing is pending; called
 * by the writer after each batch, and by set/remove when much is pending.
 */
void tapir_db_commit(struct tapir_db *db);

/**
 * Writer: wait until every read section that began before the call has
 * ended, for memory the embedder publishes to the same readers and
 * retires alongside the database's (the engine's runtime snapshot).
 */
void tapir_db_grace(struct tapir_db *db);

/** Called with each name whose entries an expiry pass changed. */
typedef void (*tapir_db_name_cb)(void *arg, const char *name, size_t len);

/**
 * Drop expired entries, scanning at most max_slots index slots from where
 * the last pass stopped (bounded work per pass; lookups already ignore
 * expired entries, so this only reclaims memory and reports changes).
 * @param cb: if not NULL, called with each name that lost entries.
 * @return: number of entries dropped.
 */
size_t tapir_db_expire(struct tapir_db *db, int64_t now, size_t max_slots,
	tapir_db_name_cb cb, void *arg);

/** Called for each name and its entries; return nonzero to stop. */
typedef int (*tapir_db_walk_cb)(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n);

/** Visit every name with entries (writer thread, or inside a read). */
int tapir_db_walk(struct tapir_db *db, tapir_db_walk_cb cb, void *arg);

/* The cursor of a walk in pieces that has visited every name. */
#define TAPIR_DB_CURSOR_END ((uint64_t)1 << 32)

/**
 * Visit part of the names with entries, and say where the next part
 * starts: a walk over any number of read sections, so that a reader that
 * walks millions of names (an export) holds each section for a bounded
 * number of names and lets the writer commit in between.
 *
 * The cursor is a place in the order of the names' hashes (the database's
 * hash, whose seed is fixed for its life), not an index slot: the writer
 * may grow, rebuild or compact the index between two parts, and a slot
 * number would then point at other names. What a walk of several parts
 * sees, when the writer changes the database between them:
 *  - a name that has entries from the first part to the last is visited
 *    exactly once, wherever a rebuild moved it;
 *  - a name added, emptied or re-added in the meantime is visited once or
 *    not at all (it is missed when its hash lies behind the cursor), never
 *    twice;
 *  - a name is visited with the entries it has when its part is walked.
 * Reader (inside one read section for the whole call) or writer.
 * @param cursor: 0 to start; on return, where the next part starts, or
 *	TAPIR_DB_CURSOR_END when the walk is done. Left as it was when cb
 *	stops the walk.
 * @param max_names: a part ends at the first empty slot after this many
 *	names: it visits at most that many, plus the rest of the probe run
 *	the last one is in (tens of names at the index's load).
 * @return: 0, or the nonzero value of cb that stopped the walk.
 */
int tapir_db_walk_part(struct tapir_db *db, uint64_t *cursor, size_t max_names,
	tapir_db_walk_cb cb, void *arg);

/* Sources whose entries are counted one by one: the configuration's
 * limit (TAPIR_MAX_SOURCES, with the engine's override sources). */
#define TAPIR_DB_COUNTED_SOURCES 64

/**
 * Entries of one source, over all names (the metrics' entries per
 * source). Writer thread only.
 * @return: the count; 0 for a source >= TAPIR_DB_COUNTED_SOURCES.
 */
size_t tapir_db_source_entries(struct tapir_db *db, uint16_t source);

/** Counters and memory. Writer thread, or approximate from elsewhere. */
void tapir_db_stats(struct tapir_db *db, struct tapir_db_stats *st);

/* The reader functions (read_begin, find, read_end, has_subtree) are
 * inline, in lib/db_read.h. */
#include "lib/db_read.h"

#endif
