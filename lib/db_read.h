/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The read path of the policy database, inline: every query runs it once
 * per name it looks up, and calls into lib/db.c took ~10 ns of the ~100 a
 * lookup then took at 1M names. Only what a reader touches is here: the
 * head of struct tapir_db, the index and arena layout, the hash and the
 * probe. Everything that writes stays in lib/db.c, which explains the
 * layout and its invariants. Include lib/db.h, not this file.
 */
#ifndef TAPIR_DB_READ_H
#define TAPIR_DB_READ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Header-only: XXH3 is compiled into each reader, no library at run time. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lib/epoch.h"

#define TAPIR_DB_CHUNK_SHIFT 22 /* 4 MiB arena chunks */
#define TAPIR_DB_UNIT_SHIFT  2	/* positions count 4-byte units */
/* 2^32 units, 16 GiB: more than max-entries needs. */
#define TAPIR_DB_MAX_CHUNKS  4096

/* A name's entries, sorted by (source, kind); immutable once published.
 * One set may be shared by many names (lib/db.c, "interning"). */
struct tapir_db_eset {
	uint16_t n;
	uint16_t refs; /* writer only: cells pointing here, saturating */
	struct tapir_entry e[];
};

/* Names up to this long live in their index cell; a longer one lives in
 * the arena, NUL-terminated, and its cell holds the position. */
#define TAPIR_DB_INLINE 27

/* A name in the index: 32 bytes, two to a cache line, so that a hit on a
 * short name reads one line of cells (lib/db.c explains why). Written
 * whole before its tag is published, and never changed after, but for
 * set. */
struct tapir_db_cell {
	_Atomic uint32_t set; /* arena position of the entry set, 0: none */
	uint8_t len;
	/* len <= TAPIR_DB_INLINE: the name, not terminated; else the arena
	 * position of the name, a uint32_t in native order. */
	char name[TAPIR_DB_INLINE];
};

/* Arena. Chunk pointers are fixed once set. Position 0 (the first unit of
 * chunk 0) is never handed out, so 0 means "no set". */
struct tapir_db_arena {
	size_t n_chunks;
	size_t chunk_used;
	size_t live_bytes, dead_bytes;
	char *chunks[TAPIR_DB_MAX_CHUNKS];
};

/* Open addressing over nslots cells, with one tag byte per cell in an
 * array of its own: a probe reads tags, and a cell only where the tag is
 * the name's. */
struct tapir_db_index {
	size_t nslots; /* below 2^32 */
	/* Shared by successive indexes until a compaction. */
	struct tapir_db_arena *arena;
	_Atomic uint8_t *tags; /* 0: empty; else the hash's tag */
	struct tapir_db_cell *cells;
};

/* What readers use of struct tapir_db, which starts with it. */
struct tapir_db_head {
	struct tapir_epoch *ep;
	_Atomic(struct tapir_db_index *) index;
	uint64_t seed;
	_Atomic size_t subtree; /* subtree entries, for has_subtree() */
};

static inline uint64_t
tapir_db_hash(uint64_t seed, const char *s, size_t len)
{
	/* XXH3 with a secret per-database seed: names come from feeds and
	 * queries, so the seed keeps an outsider from aiming at one probe
	 * sequence. For names (mostly 17 to 128 bytes) it reads overlapping
	 * 16-byte pairs with no loop whose trip count depends on the length.
	 * A hand-written 8-bytes-a-step hash with a tail branch kept lookups
	 * from overlapping their cache misses: at 1M names (bench_db) a miss
	 * took 74 ns with it, 57 ns with XXH3. */
	return XXH3_64bits_withSeed(s, len, seed);
}

static inline void *
tapir_db_at(const struct tapir_db_arena *ar, uint32_t pos)
{
	size_t off = (size_t)pos << TAPIR_DB_UNIT_SHIFT;

	return ar->chunks[off >> TAPIR_DB_CHUNK_SHIFT] +
	       (off & (((size_t)1 << TAPIR_DB_CHUNK_SHIFT) - 1));
}

static inline struct tapir_db_eset *
tapir_db_set_at(const struct tapir_db_arena *ar, uint32_t pos)
{
	return pos ? (struct tapir_db_eset *)tapir_db_at(ar, pos) : NULL;
}

/* The home slot: the hash's high 32 bits scaled to nslots (Lemire). */
static inline size_t
tapir_db_home(const struct tapir_db_index *ix, uint64_t h)
{
	return (size_t)(((h >> 32) * (uint64_t)ix->nslots) >> 32);
}

/* The tag: the hash's low byte, never 0 (an empty slot). Independent of
 * the home slot, so names probing the same slots rarely share one. */
static inline uint8_t
tapir_db_tag(uint64_t h)
{
	uint8_t t = (uint8_t)h;

	return t ? t : 1;
}

static inline size_t
tapir_db_next_slot(const struct tapir_db_index *ix, size_t i)
{
	return ++i == ix->nslots ? 0 : i;
}

/* The name a cell holds, cell->len bytes. */
static inline const char *
tapir_db_cell_name(
	const struct tapir_db_arena *ar, const struct tapir_db_cell *c)
{
	uint32_t pos;

	if (c->len <= TAPIR_DB_INLINE)
		return c->name;
	memcpy(&pos, c->name, sizeof(pos));
	return (const char *)tapir_db_at(ar, pos);
}

/* Linear probing from the home slot to the first empty one, over the tag
 * bytes; a cell is read only where its tag matches (1 in 255 others). */
static inline struct tapir_db_cell *
tapir_db_lookup(const struct tapir_db_index *ix, const char *name, size_t len,
	uint64_t h)
{
	uint8_t tag = tapir_db_tag(h);

	for (size_t i = tapir_db_home(ix, h);; i = tapir_db_next_slot(ix, i)) {
		uint8_t t = atomic_load_explicit(
			&ix->tags[i], memory_order_acquire);
		struct tapir_db_cell *c;
		if (t == 0)
			return NULL;
		if (t != tag)
			continue;
		c = &ix->cells[i];
		if (c->len == len && memcmp(tapir_db_cell_name(ix->arena, c),
					     name, len) == 0)
			return c;
	}
}

/** Reader: enter a read section. @return: token for read_end. */
static inline tapir_epoch_token
tapir_db_read_begin(struct tapir_db *db)
{
	return tapir_epoch_enter(((struct tapir_db_head *)(void *)db)->ep);
}

/** Reader: leave the read section. */
static inline void
tapir_db_read_end(struct tapir_db *db, tapir_epoch_token token)
{
	tapir_epoch_exit(((struct tapir_db_head *)(void *)db)->ep, token);
}

/**
 * Reader: the entries of a name, valid until tapir_db_read_end(). Expired
 * entries may be among them: the caller compares expiry with its clock.
 * @param name, len: canonical name (lib/name.h).
 * @param n: receives the number of entries (0 when the name is absent).
 * @return: the entries or NULL.
 */
static inline const struct tapir_entry *
tapir_db_find(struct tapir_db *db, const char *name, size_t len, size_t *n)
{
	struct tapir_db_head *hd = (struct tapir_db_head *)(void *)db;
	struct tapir_db_index *ix =
		atomic_load_explicit(&hd->index, memory_order_acquire);
	struct tapir_db_cell *c = tapir_db_lookup(
		ix, name, len, tapir_db_hash(hd->seed, name, len));
	const struct tapir_db_eset *set;

	if (!c || !(set = tapir_db_set_at(
			    ix->arena, atomic_load_explicit(&c->set,
					       memory_order_acquire)))) {
		*n = 0;
		return NULL;
	}
	*n = set->n;
	return set->e;
}

/** Reader: whether any subtree entry exists (lets lookups skip ancestors). */
static inline bool
tapir_db_has_subtree(struct tapir_db *db)
{
	return atomic_load_explicit(
		       &((struct tapir_db_head *)(void *)db)->subtree,
		       memory_order_relaxed) != 0;
}

#endif
