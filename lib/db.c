/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy database. Invariants:
 * - The index is open addressing over cells of 32 bytes, two to a cache
 *   line. A cell holds a name of up to TAPIR_DB_INLINE bytes itself (94 %
 *   of the shared blocklist) and the arena position of its entry set (0:
 *   emptied); a longer name is in the arena. A tag byte per cell, in an
 *   array of its own (1 byte a name: it stays in cache), lets a probe
 *   skip cells: a miss reads tags only, a hit one line of cells. With the
 *   name behind a position instead, a hit was two dependent reads from
 *   memory (slot, then name): at 1M names 110 ns in a tight loop and
 *   280 ns one at a time, against ~80 and ~180 with names in the cells
 *   (tests/bench/bench_db.c). A name with a set of its own, not shared
 *   (bench_db -d: each of 1M names with another time added), reads the
 *   set after the cell: that case went from 113 to 125 ns, and from 63 to
 *   68 bytes a name. The layout favours shared sets, which is how files
 *   and zones, the sources of large lists, load their names.
 * - Entry sets and long names live in one append-only arena of 4 MiB
 *   chunks, addressed by 32-bit positions in 4-byte units. Arena memory
 *   is never written again once published and never freed or reused while
 *   a reader can reach it: an arena goes whole, after a grace period, when
 *   a compaction has copied its live sets and names to a new one. A set of
 *   one entry is shared by every name whose only entry is the same
 *   ("interning", below), so a file's or a zone's names share one set that
 *   stays in cache.
 * - An emptied name keeps its cell (and a long name its arena bytes) until
 *   the index is rebuilt, so that it is found again when re-added.
 * - Entry sets are immutable once published: an update appends a new set
 *   and swaps the cell's position; the old set becomes dead arena bytes.
 *   When dead bytes exceed live ones (and 1 MiB), or emptied cells
 *   outnumber live names (and take 1 MiB), the next set, expiry pass or
 *   source removal rebuilds, compacting the arena if it is the wasteful
 *   one: memory follows the live set, and the copy costs no more than the
 *   updates that made the garbage.
 * - A tag goes from 0 to its final value once, after its cell is written
 *   (release); readers load tags and set positions with acquire, and the
 *   writer fills a set completely before a release store of its position.
 *   A rebuild makes a new index and waits for a grace period before it
 *   returns, so that no reader still probes the old index's copies of the
 *   cells when the writer next changes one. Replaced arenas and sets are
 *   freed after tapir_epoch_synchronize().
 * - The index has any number of slots (not a power of two): the home slot
 *   is the hash's high 32 bits scaled to nslots (Lemire's range
 *   reduction), probing is linear with wrap. Load is kept at or below
 *   MAX_LOAD (live and emptied cells counted), so a probe sequence always
 *   ends at an empty slot; a rebuild sizes the index to MIN_LOAD of that,
 *   so it takes 33 / 0.8 to 33 / 0.6 bytes per name.
 * - Arena chunks, and indexes of HUGE_SIZE or more, are mappings of their
 *   own aligned to HUGE_SIZE (map_new()), freed with map_free() and the
 *   size they were made with (retire() records it). A hit reads random
 *   places in tens of MiB: on 4 KiB pages each also misses the TLB. So a
 *   chunk is advised for transparent huge pages once the arena has filled
 *   HUGE_SIZE (the first half of chunk 0 stays on small pages), and so is
 *   a mapped index; a small database never pays a huge page.
 */
#include "tapir_build.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/db.h"
#include "lib/epoch.h"
#include "lib/name.h"

#define CHUNK_SHIFT  TAPIR_DB_CHUNK_SHIFT
#define CHUNK_SIZE   ((size_t)1 << CHUNK_SHIFT)
#define UNIT_SHIFT   TAPIR_DB_UNIT_SHIFT
#define UNIT	     ((size_t)1 << UNIT_SHIFT)
#define MAX_CHUNKS   TAPIR_DB_MAX_CHUNKS
#define MIN_SLOTS    1024
/* Load bounds, in 1/1000: at most MAX_LOAD, MIN_LOAD after a rebuild. */
#define MAX_LOAD     800
#define MIN_LOAD     600
/* The index's header takes a cache line, so that cells pair in lines. */
#define INDEX_HEAD   64
#define MAP_MIN	     ((size_t)64 << 10)
#define RETIRE_BATCH 4096
#define INTERN_SLOTS 4096	/* a power of two */
#define REFS_STUCK   UINT16_MAX /* a set this shared stays until compaction */
/* A transparent huge page on x86-64 and arm64 with 4 KiB base pages; on
 * other sizes the alignment is merely harmless. */
#define HUGE_SIZE    ((size_t)2 << 20)
#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
#define USE_MAP 1
#else
#define USE_MAP 0
#endif

/* Memory waiting for a grace period. */
struct retired {
	void *p;
	size_t map; /* 0: from malloc; else the size given to map_new() */
};

struct tapir_db {
	struct tapir_db_head head; /* first: lib/db_read.h reads it */
	size_t max_names;

	/* Writer-only bookkeeping; n_records counts cells, emptied too. */
	size_t n_records, n_names, n_entries, n_subtree, n_rebuilds;
	size_t n_expiring; /* entries with an expiry (not TAPIR_EXPIRY_NEVER) */
	size_t n_by_source[TAPIR_DB_COUNTED_SOURCES]; /* entries per source */
	size_t expire_cursor;

	/* Writer only: one-entry sets of the current arena by their entry,
	 * so that every name whose only entry is the same shares one set (a
	 * file or a zone loads its names with one entry). A cache: emptied
	 * when full and at a compaction. 0: a free slot. */
	uint32_t intern[INTERN_SLOTS];
	size_t n_interned;

	struct retired *retired;
	size_t n_retired, cap_retired;
};

static inline size_t
round_unit(size_t n)
{
	return (n + UNIT - 1) & ~(UNIT - 1);
}

/* Arena bytes a name takes: none when its cell holds it. */
static inline size_t
name_size(size_t len)
{
	return len > TAPIR_DB_INLINE ? round_unit(len + 1) : 0;
}

static inline size_t
set_size(size_t n)
{
	return sizeof(struct tapir_db_eset) + n * sizeof(struct tapir_entry);
}

/* Bytes map_new(size) takes: whole pages. */
static size_t
map_size(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (page == 0 || page > HUGE_SIZE || (page & (page - 1)) != 0)
		page = HUGE_SIZE;
	return (size + page - 1) & ~(page - 1);
}

/* size bytes of zeroed memory starting on a HUGE_SIZE boundary, so that
 * every whole huge page inside can be one (a mapping has no malloc header
 * in front to shift it), advised for huge pages if huge. Only untouched
 * pages of the alignment slack are mapped, and unmapped at once.
 * @return: the memory, freed with map_free(p, size), or NULL. */
static void *
map_new(size_t size, bool huge)
{
#if USE_MAP
	size_t len = map_size(size), slack = HUGE_SIZE;
	char *raw = mmap(NULL, len + slack, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	if (p > raw)
		(void)munmap(raw, (size_t)(p - raw));
	if (raw + len + slack > p + len)
		(void)munmap(p + len, (size_t)(raw + len + slack - (p + len)));
	/* Advice only: without THP (or with it "never") it changes nothing,
	 * and a failure leaves small pages. */
	if (huge)
		(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
#else
	(void)huge;
	return calloc(1, size);
#endif
}

static void
map_free(void *p, size_t size)
{
#if USE_MAP
	if (p)
		(void)munmap(p, map_size(size));
#else
	(void)size;
	free(p);
#endif
}

/* Advise [p, p + len) for huge pages before it is first written. */
static void
advise_huge(void *p, size_t len)
{
#if USE_MAP
	(void)madvise(p, len, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

static struct tapir_db_arena *
arena_new(void)
{
	struct tapir_db_arena *ar = calloc(1, sizeof(*ar));
	/* Position 0 is reserved: the first chunk starts one unit in. */
	if (ar)
		ar->chunk_used = CHUNK_SIZE;
	return ar;
}

static void
arena_free(struct tapir_db_arena *ar)
{
	if (!ar)
		return;
	for (size_t i = 0; i < ar->n_chunks; i++)
		map_free(ar->chunks[i], CHUNK_SIZE);
	free(ar);
}

/* Reserve size bytes (a multiple of UNIT, at most a chunk), counted live.
 * @return: the memory and its position, or NULL. */
static void *
arena_alloc(struct tapir_db_arena *ar, size_t size, uint32_t *pos)
{
	void *p;

	if (ar->chunk_used + size > CHUNK_SIZE) {
		if (ar->n_chunks == MAX_CHUNKS)
			return NULL;
		/* Chunks after the first: the arena is past HUGE_SIZE. */
		if (!(ar->chunks[ar->n_chunks] =
				    map_new(CHUNK_SIZE, ar->n_chunks > 0)))
			return NULL;
		ar->n_chunks++;
		ar->chunk_used = ar->n_chunks == 1 ? UNIT : 0;
	} else if (ar->n_chunks == 1 && ar->chunk_used <= HUGE_SIZE &&
		   ar->chunk_used + size > HUGE_SIZE) {
		/* Chunk 0 fills its first HUGE_SIZE: the rest of it is about
		 * to be written for the first time, as huge pages. */
		advise_huge(ar->chunks[0] + HUGE_SIZE, CHUNK_SIZE - HUGE_SIZE);
	}
	*pos = (uint32_t)((((ar->n_chunks - 1) << CHUNK_SHIFT) +
				  ar->chunk_used) >>
			  UNIT_SHIFT);
	p = ar->chunks[ar->n_chunks - 1] + ar->chunk_used;
	ar->chunk_used += size;
	ar->live_bytes += size;
	return p;
}

_Static_assert(sizeof(struct tapir_db_cell) == 32, "two cells a line");
_Static_assert(sizeof(struct tapir_db_index) <= INDEX_HEAD, "head fits");

/* Cells first, after the head, then the tags. */
static size_t
index_size(size_t slots)
{
	return INDEX_HEAD + slots * (sizeof(struct tapir_db_cell) + 1);
}

/* 0 for an index from aligned_alloc, else the size to give map_free().
 * Past MAP_MIN an index is a mapping of its own, so that the memory of one
 * replaced goes back to the system (from malloc, glibc kept ~7 bytes a
 * name of them at 1M names). */
static size_t
index_map(const struct tapir_db_index *ix)
{
	size_t size = index_size(ix->nslots);

	return USE_MAP && size >= MAP_MIN ? size : 0;
}

static void
index_free(struct tapir_db_index *ix)
{
	size_t map;

	if (!ix)
		return;
	if ((map = index_map(ix)) != 0)
		map_free(ix, map);
	else
		free(ix);
}

static struct tapir_db_index *
index_new(size_t slots, struct tapir_db_arena *ar)
{
	size_t size = index_size(slots);
	struct tapir_db_index *ix;

	/* Cells are read at random: a large index takes huge pages. Every
	 * page of it gets written at the rebuild, so they cost no memory. */
	if (USE_MAP && size >= MAP_MIN) {
		ix = map_new(size, size >= HUGE_SIZE);
	} else {
		size_t line =
			(size + INDEX_HEAD - 1) & ~(size_t)(INDEX_HEAD - 1);
		if ((ix = aligned_alloc(INDEX_HEAD, line)))
			memset(ix, 0, line);
	}
	if (ix) {
		ix->nslots = slots;
		ix->arena = ar;
		ix->cells = (struct tapir_db_cell *)((char *)ix + INDEX_HEAD);
		ix->tags = (_Atomic uint8_t *)(ix->cells + slots);
	}
	return ix;
}

static void
retired_free(const struct retired *r)
{
	if (r->map)
		map_free(r->p, r->map);
	else
		free(r->p);
}

/* Free p after a grace period; map: 0 for malloc memory, else the size
 * p was mapped with. */
static int
retire(struct tapir_db *db, void *p, size_t map)
{
	struct retired one = { p, map };

	if (!p)
		return 0;
	if (db->n_retired == db->cap_retired) {
		size_t cap = db->cap_retired ? db->cap_retired * 2 : 64;
		struct retired *r = realloc(db->retired, cap * sizeof(*r));
		if (!r) {
			/* Cannot defer: wait for readers and free now. */
			tapir_epoch_synchronize(db->head.ep);
			retired_free(&one);
			return 0;
		}
		db->retired = r;
		db->cap_retired = cap;
	}
	db->retired[db->n_retired++] = one;
	if (db->n_retired >= RETIRE_BATCH)
		tapir_db_commit(db);
	return 0;
}

void
tapir_db_commit(struct tapir_db *db)
{
	if (db->n_retired == 0)
		return;
	tapir_epoch_synchronize(db->head.ep);
	for (size_t i = 0; i < db->n_retired; i++)
		retired_free(&db->retired[i]);
	db->n_retired = 0;
}

void
tapir_db_grace(struct tapir_db *db)
{
	tapir_epoch_synchronize(db->head.ep);
}

struct tapir_db *
tapir_db_create(size_t max_names)
{
	struct tapir_db *db = calloc(1, sizeof(*db));
	struct tapir_db_arena *ar;
	struct tapir_db_index *ix;

	if (!db)
		return NULL;
	if (!(db->head.ep = tapir_epoch_create()))
		goto out_free_db;
	if (!(ar = arena_new()))
		goto out_free_epoch;
	if (!(ix = index_new(MIN_SLOTS, ar)))
		goto out_free_arena;
	atomic_init(&db->head.index, ix);
	if (getrandom(&db->head.seed, sizeof(db->head.seed), 0) !=
		sizeof(db->head.seed))
		db->head.seed = (uint64_t)(uintptr_t)db ^ (uint64_t)tapir_now();
	db->max_names = max_names ? max_names : SIZE_MAX;
	return db;

out_free_arena:
	arena_free(ar);
out_free_epoch:
	tapir_epoch_destroy(db->head.ep);
out_free_db:
	free(db);
	return NULL;
}

void
tapir_db_destroy(struct tapir_db *db)
{
	struct tapir_db_index *ix;

	if (!db)
		return;
	tapir_db_commit(db);
	ix = atomic_load(&db->head.index);
	arena_free(ix->arena);
	index_free(ix);
	free(db->retired);
	tapir_epoch_destroy(db->head.ep);
	free(db);
}

/* Room for a set of n entries, counted live, with the reference of the
 * cell it is for; filled by the caller. */
static struct tapir_db_eset *
set_alloc(struct tapir_db_arena *ar, size_t n, uint32_t *pos)
{
	struct tapir_db_eset *s = arena_alloc(ar, set_size(n), pos);

	if (s) {
		s->n = (uint16_t)n;
		s->refs = 1;
	}
	return s;
}

/*
 * Interning. Sets are immutable and stay where they are until a compaction,
 * so any number of cells may point at one; a set counts the cells that do
 * (refs) and becomes dead bytes when the last one leaves. At 1M names of
 * one file, a name then takes its cell alone: 20 bytes of set a name less,
 * and the one set stays in cache.
 */
_Static_assert(sizeof(struct tapir_entry) == 16, "entries have no padding");

static inline size_t
intern_home(const struct tapir_entry *e)
{
	return (size_t)XXH3_64bits(e, sizeof(*e)) & (INTERN_SLOTS - 1);
}

/* The interned set holding just *e, or 0. */
static uint32_t
intern_find(const struct tapir_db *db, const struct tapir_db_arena *ar,
	const struct tapir_entry *e)
{
	/* At most 3/4 full: a probe always reaches a free slot. */
	for (size_t i = intern_home(e);; i = (i + 1) & (INTERN_SLOTS - 1)) {
		uint32_t pos = db->intern[i];
		if (!pos)
			return 0;
		if (memcmp(&tapir_db_set_at(ar, pos)->e[0], e, sizeof(*e)) == 0)
			return pos;
	}
}

static void
intern_clear(struct tapir_db *db)
{
	memset(db->intern, 0, sizeof(db->intern));
	db->n_interned = 0;
}

static void
intern_add(struct tapir_db *db, const struct tapir_entry *e, uint32_t pos)
{
	size_t i;

	/* Full of entries that never repeat (MQTT entries each carry their
	 * own time): start over rather than stop sharing. */
	if (db->n_interned >= INTERN_SLOTS / 4 * 3)
		intern_clear(db);
	for (i = intern_home(e); db->intern[i];
		i = (i + 1) & (INTERN_SLOTS - 1))
		;
	db->intern[i] = pos;
	db->n_interned++;
}

/* One more cell points at the set at pos. A set the last cell had
 * left (still interned) comes back from the dead bytes. */
static void
set_ref(struct tapir_db_arena *ar, uint32_t pos)
{
	struct tapir_db_eset *s = tapir_db_set_at(ar, pos);

	if (s->refs == 0) {
		ar->dead_bytes -= set_size(s->n);
		ar->live_bytes += set_size(s->n);
	}
	if (s->refs != REFS_STUCK)
		s->refs++;
}

/* A cell no longer points at the set at pos (0: none). */
static void
set_unref(struct tapir_db_arena *ar, uint32_t pos)
{
	struct tapir_db_eset *s = tapir_db_set_at(ar, pos);

	if (!s || s->refs == REFS_STUCK)
		return;
	if (--s->refs == 0) {
		ar->live_bytes -= set_size(s->n);
		ar->dead_bytes += set_size(s->n);
	}
}

/* A set holding just *e, with a reference for the caller's cell: the
 * interned one, or a new one, interned. @return: its position, or 0. */
static uint32_t
set_of_one(struct tapir_db *db, struct tapir_db_arena *ar,
	const struct tapir_entry *e)
{
	uint32_t pos = intern_find(db, ar, e);
	struct tapir_db_eset *s;

	if (pos) {
		set_ref(ar, pos);
		return pos;
	}
	if (!(s = set_alloc(ar, 1, &pos)))
		return 0;
	s->e[0] = *e;
	intern_add(db, e, pos);
	return pos;
}

/* A copy in ar of the set old (of another arena), with a reference for
 * the caller's cell: one entry is shared through interning. @return: its
 * position, or 0. */
static uint32_t
set_copy(struct tapir_db *db, struct tapir_db_arena *ar,
	const struct tapir_db_eset *old)
{
	struct tapir_db_eset *s;
	uint32_t pos;

	if (old->n == 1)
		return set_of_one(db, ar, &old->e[0]);
	if (!(s = set_alloc(ar, old->n, &pos)))
		return 0;
	memcpy(s->e, old->e, old->n * sizeof(old->e[0]));
	return pos;
}

/* Fill the cell for a name (its arena copy at lpos when it is long) and
 * the set at spos. The caller publishes its tag. */
static void
cell_fill(struct tapir_db_cell *c, const char *name, size_t len, uint32_t lpos,
	uint32_t spos)
{
	atomic_store_explicit(&c->set, spos, memory_order_relaxed);
	c->len = (uint8_t)len;
	if (len <= TAPIR_DB_INLINE)
		memcpy(c->name, name, len);
	else
		memcpy(c->name, &lpos, sizeof(lpos));
}

/* A long name's arena copy, counted live. @return: its position or 0. */
static uint32_t
name_new(struct tapir_db_arena *ar, const char *name, size_t len)
{
	uint32_t pos;
	char *p = arena_alloc(ar, name_size(len), &pos);

	if (!p)
		return 0;
	memcpy(p, name, len);
	p[len] = '\0';
	return pos;
}

/* Writer: whether slot i holds a name (emptied or not). */
static inline bool
slot_used(const struct tapir_db_index *ix, size_t i)
{
	return atomic_load_explicit(&ix->tags[i], memory_order_relaxed) != 0;
}

/* The first empty slot of h's probe sequence. */
static size_t
slot_free(const struct tapir_db_index *ix, uint64_t h)
{
	size_t i = tapir_db_home(ix, h);

	while (slot_used(ix, i))
		i = tapir_db_next_slot(ix, i);
	return i;
}

/* A name, NUL-terminated, for callbacks: the cell's bytes copied to buf,
 * or the arena copy of a long name. */
static const char *
cell_cname(const struct tapir_db_arena *ar, const struct tapir_db_cell *c,
	char buf[TAPIR_DB_INLINE + 1])
{
	if (c->len > TAPIR_DB_INLINE)
		return tapir_db_cell_name(ar, c);
	memcpy(buf, c->name, c->len);
	buf[c->len] = '\0';
	return buf;
}

static bool
arena_wasteful(const struct tapir_db_arena *ar)
{
	return ar->dead_bytes > ar->live_bytes &&
	       ar->dead_bytes >= CHUNK_SIZE / 4;
}

/* Emptied cells outnumber live names, and hold a quarter chunk's worth. */
static bool
index_wasteful(const struct tapir_db *db)
{
	size_t emptied = db->n_records - db->n_names;

	return emptied > db->n_names &&
	       emptied * sizeof(struct tapir_db_cell) >= CHUNK_SIZE / 4;
}

/*
 * Rebuild the index at a size fit for want_records, dropping emptied
 * names. When dead sets and names hold more arena than live ones, live
 * sets and long names are copied to a fresh arena and the old one goes:
 * memory follows the live set. Returns after a grace period, with the old
 * index freed: from then on every reader probes the new one.
 */
static int
index_rebuild(struct tapir_db *db, size_t want_records)
{
	struct tapir_db_index *old = atomic_load(&db->head.index), *ix;
	struct tapir_db_arena *oar = old->arena, *ar = oar;
	bool compact = arena_wasteful(oar);
	size_t slots = want_records * 1000 / MIN_LOAD + 1, live = 0;

	if (slots < MIN_SLOTS)
		slots = MIN_SLOTS;
	if (slots > UINT32_MAX)
		return TAPIR_EFULL;
	if (compact && !(ar = arena_new()))
		return TAPIR_ENOMEM;
	/* Interned sets are of one arena: the copy interns anew. */
	if (compact)
		intern_clear(db);
	if (!(ix = index_new(slots, ar))) {
		if (compact)
			arena_free(ar);
		return TAPIR_ENOMEM;
	}
	for (size_t i = 0; i < old->nslots; i++) {
		const struct tapir_db_cell *c = &old->cells[i];
		uint32_t spos, lpos = 0;
		const char *name;
		uint64_t h;
		size_t j;
		if (!slot_used(old, i) || !(spos = atomic_load_explicit(&c->set,
						    memory_order_relaxed)))
			continue;
		name = tapir_db_cell_name(oar, c);
		h = tapir_db_hash(db->head.seed, name, c->len);
		j = slot_free(ix, h);
		if (!compact) {
			memcpy(&ix->cells[j], c, sizeof(*c));
		} else {
			/* Its set and long name into the new arena. */
			if (!(spos = set_copy(
				      db, ar, tapir_db_set_at(oar, spos))) ||
				(c->len > TAPIR_DB_INLINE &&
					!(lpos = name_new(ar, name, c->len))))
				goto out_nomem;
			cell_fill(&ix->cells[j], name, c->len, lpos, spos);
		}
		/* Published with the index itself, below. */
		atomic_store_explicit(
			&ix->tags[j], tapir_db_tag(h), memory_order_relaxed);
		live++;
	}
	atomic_store_explicit(&db->head.index, ix, memory_order_release);
	db->n_records = live;
	db->n_rebuilds++;
	db->expire_cursor = 0;
	if (compact) {
		for (size_t i = 0; i < oar->n_chunks; i++)
			retire(db, oar->chunks[i], CHUNK_SIZE);
		retire(db, oar, 0);
	}
	retire(db, old, index_map(old));
	tapir_db_commit(db);
	return 0;

out_nomem:
	index_free(ix);
	arena_free(ar);
	intern_clear(db);
	return TAPIR_ENOMEM;
}

/* Rebuild when garbage outweighs the live set; on failure everything
 * just stays as it is until the next try. */
static void
maybe_compact(struct tapir_db *db)
{
	struct tapir_db_arena *ar =
		atomic_load_explicit(&db->head.index, memory_order_relaxed)
			->arena;

	if (arena_wasteful(ar) || index_wasteful(db))
		(void)index_rebuild(db, db->n_names);
}

static bool
same_key(const struct tapir_entry *a, uint16_t source, uint8_t flags)
{
	return a->source == source &&
	       ((a->flags ^ flags) & TAPIR_ENTRY_SUBTREE) == 0;
}

static int
entry_cmp(const struct tapir_entry *a, const struct tapir_entry *b)
{
	if (a->source != b->source)
		return a->source < b->source ? -1 : 1;
	return (a->flags & TAPIR_ENTRY_SUBTREE) -
	       (b->flags & TAPIR_ENTRY_SUBTREE);
}

static size_t
count_expiring(const struct tapir_db_eset *s)
{
	size_t k = 0;

	for (size_t i = 0; s && i < s->n; i++)
		k += s->e[i].expiry != TAPIR_EXPIRY_NEVER;
	return k;
}

static size_t
count_subtree(const struct tapir_db_eset *s)
{
	size_t k = 0;

	for (size_t i = 0; s && i < s->n; i++)
		k += (s->e[i].flags & TAPIR_ENTRY_SUBTREE) != 0;
	return k;
}

/* Entries per source: an old set's leave, a new set's come in; one pass
 * over a set of a few entries, like the counts above. */
static void
count_sources(struct tapir_db *db, const struct tapir_db_eset *s, bool in)
{
	for (size_t i = 0; s && i < s->n; i++) {
		uint16_t src = s->e[i].source;
		if (src >= TAPIR_DB_COUNTED_SOURCES)
			continue;
		if (in)
			db->n_by_source[src]++;
		else
			db->n_by_source[src]--;
	}
}

/* Point c at the set at npos (0: none; the caller holds a reference for c),
 * keeping the counters true. The old set loses c's reference, and a long
 * name becomes garbage when its cell is emptied. */
static void
publish_set(struct tapir_db *db, struct tapir_db_arena *ar,
	struct tapir_db_cell *c, uint32_t npos)
{
	uint32_t opos = atomic_load_explicit(&c->set, memory_order_relaxed);
	const struct tapir_db_eset *old = tapir_db_set_at(ar, opos),
				   *new = tapir_db_set_at(ar, npos);
	size_t on = old ? old->n : 0, nn = new ? new->n : 0;

	atomic_store_explicit(&c->set, npos, memory_order_release);
	db->n_entries += nn - on;
	db->n_subtree += count_subtree(new) - count_subtree(old);
	db->n_expiring += count_expiring(new) - count_expiring(old);
	count_sources(db, old, false);
	count_sources(db, new, true);
	atomic_store_explicit(
		&db->head.subtree, db->n_subtree, memory_order_relaxed);
	set_unref(ar, opos);
	if (on && !nn) {
		db->n_names--;
		ar->live_bytes -= name_size(c->len);
		ar->dead_bytes += name_size(c->len);
	} else if (!on && nn) {
		db->n_names++;
		ar->dead_bytes -= name_size(c->len);
		ar->live_bytes += name_size(c->len);
	}
}

static void
count_new_name(struct tapir_db *db, const struct tapir_entry *e)
{
	db->n_records++;
	db->n_names++;
	db->n_entries++;
	db->n_expiring += e->expiry != TAPIR_EXPIRY_NEVER;
	if (e->source < TAPIR_DB_COUNTED_SOURCES)
		db->n_by_source[e->source]++;
	if (e->flags & TAPIR_ENTRY_SUBTREE) {
		db->n_subtree++;
		atomic_store_explicit(
			&db->head.subtree, db->n_subtree, memory_order_relaxed);
	}
}

/* A name not in the index yet, with the one entry e. */
static int
add_name(struct tapir_db *db, const char *name, size_t len, uint64_t h,
	const struct tapir_entry *e)
{
	struct tapir_db_index *ix =
		atomic_load_explicit(&db->head.index, memory_order_relaxed);
	uint32_t spos, lpos = 0;
	size_t i;
	int rc;

	if (db->n_names >= db->max_names)
		return TAPIR_EFULL;
	if ((db->n_records + 1) * 1000 > ix->nslots * MAX_LOAD) {
		if ((rc = index_rebuild(db, db->n_names + 1)) != 0)
			return rc;
		ix = atomic_load_explicit(
			&db->head.index, memory_order_relaxed);
	}
	if (!(spos = set_of_one(db, ix->arena, e)))
		return TAPIR_ENOMEM;
	if (len > TAPIR_DB_INLINE && !(lpos = name_new(ix->arena, name, len))) {
		set_unref(ix->arena, spos);
		return TAPIR_ENOMEM;
	}
	i = slot_free(ix, h);
	cell_fill(&ix->cells[i], name, len, lpos, spos);
	atomic_store_explicit(
		&ix->tags[i], tapir_db_tag(h), memory_order_release);
	count_new_name(db, e);
	return 0;
}

int
tapir_db_set(struct tapir_db *db, const char *name, size_t len,
	const struct tapir_entry *e)
{
	int had;

	return tapir_db_set_had(db, name, len, e, &had);
}

int
tapir_db_set_had(struct tapir_db *db, const char *name, size_t len,
	const struct tapir_entry *e, int *had)
{
	struct tapir_db_index *ix;
	struct tapir_db_arena *ar;
	uint64_t h;
	struct tapir_db_cell *c;
	const struct tapir_db_eset *old;
	struct tapir_db_eset *new;
	uint32_t npos;
	size_t on, nn, j = 0;
	bool placed = false;
	int prev;

	if (len == 0 || len >= TAPIR_NAME_BUFSIZE || e->list >= 3)
		return TAPIR_EINVAL;
	maybe_compact(db);
	ix = atomic_load_explicit(&db->head.index, memory_order_relaxed);
	h = tapir_db_hash(db->head.seed, name, len);
	if (!(c = tapir_db_lookup(ix, name, len, h))) {
		int rc = add_name(db, name, len, h, e);
		if (rc == 0)
			*had = -1;
		return rc;
	}
	ar = ix->arena;
	old = tapir_db_set_at(
		ar, atomic_load_explicit(&c->set, memory_order_relaxed));
	/* An emptied name is a new name again: it counts for max_names. */
	if (!old && db->n_names >= db->max_names)
		return TAPIR_EFULL;
	on = old ? old->n : 0;
	nn = on + 1;
	prev = -1;
	for (size_t i = 0; i < on; i++)
		if (same_key(&old->e[i], e->source, e->flags)) {
			prev = old->e[i].flags;
			nn--;
		}
	if (nn == 1) {
		/* Only e is left: share its set with every name that has
		 * just that entry. */
		if (!(npos = set_of_one(db, ar, e)))
			return TAPIR_ENOMEM;
		publish_set(db, ar, c, npos);
		*had = prev;
		return 0;
	}
	if (!(new = set_alloc(ar, nn, &npos)))
		return TAPIR_ENOMEM;
	/* Keep sets sorted by (source, kind): deterministic explanations and
	 * state files, whatever order updates came in. */
	for (size_t i = 0; i < on; i++) {
		if (same_key(&old->e[i], e->source, e->flags))
			continue;
		if (!placed && entry_cmp(e, &old->e[i]) < 0) {
			new->e[j++] = *e;
			placed = true;
		}
		new->e[j++] = old->e[i];
	}
	if (!placed)
		new->e[j++] = *e;
	publish_set(db, ar, c, npos);
	*had = prev;
	return 0;
}

int
tapir_db_remove(struct tapir_db *db, const char *name, size_t len,
	uint16_t source, uint8_t flags)
{
	struct tapir_db_index *ix;
	struct tapir_db_arena *ar;
	struct tapir_db_cell *c;
	const struct tapir_db_eset *old;
	struct tapir_db_eset *new;
	uint32_t npos = 0;
	size_t j = 0, found = 0;

	if (len == 0 || len >= TAPIR_NAME_BUFSIZE)
		return TAPIR_ENOENT;
	ix = atomic_load_explicit(&db->head.index, memory_order_relaxed);
	ar = ix->arena;
	c = tapir_db_lookup(
		ix, name, len, tapir_db_hash(db->head.seed, name, len));
	if (!c || !(old = tapir_db_set_at(ar, atomic_load_explicit(&c->set,
						      memory_order_relaxed))))
		return TAPIR_ENOENT;
	for (size_t i = 0; i < old->n; i++)
		found += same_key(&old->e[i], source, flags);
	if (!found)
		return TAPIR_ENOENT;
	if (old->n > found) {
		if (!(new = set_alloc(ar, old->n - found, &npos)))
			return TAPIR_ENOMEM;
		for (size_t i = 0; i < old->n; i++)
			if (!same_key(&old->e[i], source, flags))
				new->e[j++] = old->e[i];
	}
	publish_set(db, ar, c, npos);
	return 0;
}

/* Scans visit cells in order but sets (and long names) at random: ask for
 * the set PREFETCH_AHEAD cells on while this one is handled, so that the
 * misses overlap. */
#define PREFETCH_AHEAD 16
static inline void
prefetch_ahead(const struct tapir_db_index *ix, size_t i)
{
	uint32_t spos;

	if (i + PREFETCH_AHEAD >= ix->nslots)
		return;
	spos = atomic_load_explicit(
		&ix->cells[i + PREFETCH_AHEAD].set, memory_order_relaxed);
	if (spos)
		__builtin_prefetch(tapir_db_at(ix->arena, spos));
}

/* Rewrite c's set keeping the entries keep() accepts; count the dropped. */
static size_t
filter_set(struct tapir_db *db, struct tapir_db_arena *ar,
	struct tapir_db_cell *c,
	bool (*keep)(const struct tapir_entry *, const void *), const void *arg)
{
	const struct tapir_db_eset *old = tapir_db_set_at(
		ar, atomic_load_explicit(&c->set, memory_order_relaxed));
	struct tapir_db_eset *new;
	uint32_t npos = 0;
	size_t kept = 0, j = 0, on;

	if (!old)
		return 0;
	for (size_t i = 0; i < old->n; i++)
		kept += keep(&old->e[i], arg);
	if (kept == old->n)
		return 0;
	on = old->n;
	if (kept == 1) {
		size_t i = 0;
		while (!keep(&old->e[i], arg))
			i++;
		/* Out of memory: leave the set as it is; lookups ignore
		 * expired entries and the next pass tries again. */
		if (!(npos = set_of_one(db, ar, &old->e[i])))
			return 0;
	} else if (kept) {
		if (!(new = set_alloc(ar, kept, &npos)))
			return 0;
		for (size_t i = 0; i < old->n; i++)
			if (keep(&old->e[i], arg))
				new->e[j++] = old->e[i];
	}
	publish_set(db, ar, c, npos);
	return on - kept;
}

static bool
keep_other_source(const struct tapir_entry *e, const void *arg)
{
	return e->source != *(const uint16_t *)arg;
}

static bool
keep_unexpired(const struct tapir_entry *e, const void *arg)
{
	return (int64_t)e->expiry > *(const int64_t *)arg;
}

size_t
tapir_db_remove_source(struct tapir_db *db, uint16_t source)
{
	struct tapir_db_index *ix =
		atomic_load_explicit(&db->head.index, memory_order_relaxed);
	size_t removed = 0;

	/* filter_set never rebuilds: ix stays the index throughout. */
	for (size_t i = 0; i < ix->nslots; i++) {
		prefetch_ahead(ix, i);
		if (slot_used(ix, i))
			removed += filter_set(db, ix->arena, &ix->cells[i],
				keep_other_source, &source);
	}
	maybe_compact(db);
	return removed;
}

size_t
tapir_db_expire(struct tapir_db *db, int64_t now, size_t max_slots,
	tapir_db_name_cb cb, void *arg)
{
	struct tapir_db_index *ix;
	size_t dropped = 0;

	/* Only entries with an expiry can expire. With none (files and zones
	 * only), a pass would read a cell and a set per slot for nothing, a
	 * second after second, evicting what Unbound's workers keep in
	 * cache. */
	if (db->n_expiring == 0) {
		maybe_compact(db);
		return 0;
	}
	ix = atomic_load_explicit(&db->head.index, memory_order_relaxed);
	if (max_slots > ix->nslots)
		max_slots = ix->nslots;
	for (size_t n = 0; n < max_slots; n++) {
		size_t i = db->expire_cursor++ % ix->nslots, d;
		struct tapir_db_cell *c = &ix->cells[i];
		char buf[TAPIR_DB_INLINE + 1];
		prefetch_ahead(ix, i);
		if (!slot_used(ix, i))
			continue;
		/* filter_set never rebuilds, so c stays valid. */
		if ((d = filter_set(db, ix->arena, c, keep_unexpired, &now)) !=
			0) {
			dropped += d;
			if (cb)
				cb(arg, cell_cname(ix->arena, c, buf), c->len);
		}
	}
	maybe_compact(db);
	return dropped;
}

int
tapir_db_walk(struct tapir_db *db, tapir_db_walk_cb cb, void *arg)
{
	struct tapir_db_index *ix =
		atomic_load_explicit(&db->head.index, memory_order_acquire);

	for (size_t i = 0; i < ix->nslots; i++) {
		struct tapir_db_cell *c = &ix->cells[i];
		const struct tapir_db_eset *set;
		char buf[TAPIR_DB_INLINE + 1];
		int rc;
		prefetch_ahead(ix, i);
		if (!atomic_load_explicit(&ix->tags[i], memory_order_acquire))
			continue;
		set = tapir_db_set_at(ix->arena,
			atomic_load_explicit(&c->set, memory_order_acquire));
		if (set && (rc = cb(arg, cell_cname(ix->arena, c, buf), c->len,
				    set->e, set->n)))
			return rc;
	}
	return 0;
}

size_t
tapir_db_source_entries(struct tapir_db *db, uint16_t source)
{
	return source < TAPIR_DB_COUNTED_SOURCES ? db->n_by_source[source] : 0;
}

void
tapir_db_stats(struct tapir_db *db, struct tapir_db_stats *st)
{
	struct tapir_db_index *ix =
		atomic_load_explicit(&db->head.index, memory_order_relaxed);

	st->names = db->n_names;
	st->entries = db->n_entries;
	st->subtree = db->n_subtree;
	st->records = db->n_records;
	st->index_slots = ix->nslots;
	st->rebuilds = db->n_rebuilds;
	st->expiring = db->n_expiring;
	st->bytes = sizeof(*db) + sizeof(*ix->arena) +
		    (index_map(ix) ? map_size(index_map(ix))
				   : index_size(ix->nslots)) +
		    ix->arena->n_chunks * CHUNK_SIZE;
}

/*
 * A walk in parts. The cursor K is a place in the order of the hashes' high
 * 32 bits, the bits that choose a name's home slot: home = (h32 * nslots)
 * >> 32 grows with h32 whatever nslots is, so every index, before and after
 * any rebuild, keeps the names of one range of h32 in one range of homes.
 * "Every name whose h32 is below K has been visited" therefore stays true
 * when the index changes under the cursor, and a slot number would not.
 *
 * A part starts at s, K's home in the index of the moment: a name with
 * h32 >= K has its home at or after s, and linear probing puts a name at
 * or after its home, never past an empty slot. So a part scans slots from
 * s on; it ends at an empty slot E (once it has visited max_names), and
 * then every name whose home lies in [s, E) is behind it: its next K is
 * the least h32 whose home is E. A name it passes whose home is before s
 * (a probe run that began earlier) belongs to an earlier part, and one
 * whose home is after the slot it sits in wrapped round from the end of
 * the index and belongs to the last part: both are skipped, which needs
 * their hash. Past the first empty slot, and before the scan wraps, no
 * name can be either, so only the first run and the wrapped one are
 * hashed. The last part follows the run at the end of the index round
 * into slot 0 and ends at its empty slot; there it takes only the names
 * that wrapped (home after their slot): the others sit at or after their
 * home, which an earlier part, or this one's start, has walked.
 */
static bool
walk_part_wanted(const struct tapir_db *db, const struct tapir_db_index *ix,
	const struct tapir_db_cell *c, uint64_t from, size_t i, bool wrapped)
{
	uint64_t h = tapir_db_hash(
		db->head.seed, tapir_db_cell_name(ix->arena, c), c->len);

	return (h >> 32) >= from && (tapir_db_home(ix, h) > i) == wrapped;
}

int
tapir_db_walk_part(struct tapir_db *db, uint64_t *cursor, size_t max_names,
	tapir_db_walk_cb cb, void *arg)
{
	struct tapir_db_index *ix =
		atomic_load_explicit(&db->head.index, memory_order_acquire);
	uint64_t from = *cursor;
	size_t n = 0, q, s, max_slots;
	/* An empty slot passed: homes from here on are past s. */
	bool settled = false;

	if (from >= TAPIR_DB_CURSOR_END)
		return 0;
	/* Slots are cheap to skip (a tag byte each), but a part over a
	 * sparse stretch of index must end too. */
	max_slots = max_names > SIZE_MAX / 16 ? SIZE_MAX : max_names * 16;
	s = (size_t)((from * ix->nslots) >> 32);
	/* q counts slots from s on, and goes past nslots when the scan
	 * wraps; an index always has an empty slot, so q stays below
	 * s + 2 * nslots. */
	for (q = s;; q++) {
		size_t i = q < ix->nslots ? q : q - ix->nslots;
		struct tapir_db_cell *c = &ix->cells[i];
		const struct tapir_db_eset *set;
		char buf[TAPIR_DB_INLINE + 1];
		int rc;
		prefetch_ahead(ix, i);
		if (!atomic_load_explicit(&ix->tags[i], memory_order_acquire)) {
			if (q >= ix->nslots)
				break;
			if (n >= max_names || q - s >= max_slots)
				break;
			settled = true;
			continue;
		}
		if ((!settled || q >= ix->nslots) &&
			!walk_part_wanted(db, ix, c, from, i, q >= ix->nslots))
			continue;
		set = tapir_db_set_at(ix->arena,
			atomic_load_explicit(&c->set, memory_order_acquire));
		if (!set)
			continue;
		n++;
		if ((rc = cb(arg, cell_cname(ix->arena, c, buf), c->len, set->e,
			     set->n)))
			return rc;
	}
	/* Homes in [s, q) are done: the next part starts at the least h32
	 * whose home is q, the ceiling of q * 2^32 / nslots. */
	*cursor = q >= ix->nslots
			  ? TAPIR_DB_CURSOR_END
			  : (((uint64_t)q << 32) + ix->nslots - 1) / ix->nslots;
	return 0;
}
