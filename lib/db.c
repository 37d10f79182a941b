/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy database. Invariants:
 * - A record (name) once published in the index never moves and is never
 *   freed before the database; an emptied name keeps its record (set NULL)
 *   until the index is rebuilt, so readers can always dereference a slot.
 * - An index slot goes from 0 to its final value once (a rebuild makes a
 *   new index). Readers load slots and set pointers with acquire; the
 *   writer fills a record or set completely before a release store.
 * - Entry sets are immutable once published; replaced sets and indexes go
 *   on the retire list and are freed after tapir_epoch_synchronize().
 * - Index load is kept at or below 3/4 (live and emptied records counted),
 *   so a probe sequence always ends at an empty slot.
 */
#include "tapir_build.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/db.h"
#include "lib/epoch.h"
#include "lib/name.h"

#define CHUNK_SHIFT  22 /* 4 MiB arena chunks */
#define CHUNK_SIZE   ((size_t)1 << CHUNK_SHIFT)
#define MAX_CHUNKS   8192 /* 32 GiB of names: more than max-entries allows */
#define ALIGN	     8
#define MIN_SLOTS    1024
#define RETIRE_BATCH 4096

struct eset {
	uint32_t n;
	struct tapir_entry e[];
};

struct rec {
	_Atomic(struct eset *) set;
	uint32_t hash;
	uint8_t len;
	char name[]; /* canonical, NUL-terminated */
};

/* Name storage. Chunk pointers are fixed once set; positions are 8-byte
 * units, so a 32-bit position addresses every chunk. An arena is replaced
 * whole when compacted, together with the index that points into it. */
struct arena {
	size_t n_chunks;
	size_t chunk_used;
	size_t live_bytes, dead_bytes;
	char *chunks[MAX_CHUNKS];
};

struct index {
	size_t mask;
	struct arena *arena; /* shared by successive indexes until compaction */
	_Atomic uint64_t slots[];
};

struct tapir_db {
	struct tapir_epoch *ep;
	_Atomic(struct index *) index;
	uint64_t seed;
	size_t max_names;

	/* Writer-only bookkeeping. */
	size_t n_records, n_names, n_entries, n_subtree;
	size_t set_bytes;
	_Atomic size_t subtree_atomic;
	size_t expire_cursor;

	void **retired;
	size_t n_retired, cap_retired;
};

static inline uint64_t
hash_name(uint64_t seed, const char *s, size_t len)
{
	/* FNV-1a over the bytes with a secret seed and a final avalanche
	 * (MurmurHash3 fmix64): names come from feeds and queries, so the
	 * seed keeps an outsider from aiming at one probe sequence. */
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline struct rec *
rec_at(const struct arena *ar, uint32_t pos)
{
	size_t off = (size_t)pos * ALIGN;
	return (struct rec *)(ar->chunks[off >> CHUNK_SHIFT] +
			      (off & (CHUNK_SIZE - 1)));
}

static inline size_t
rec_size(size_t len)
{
	return (sizeof(struct rec) + len + 1 + ALIGN - 1) &
	       ~(size_t)(ALIGN - 1);
}

static struct arena *
arena_new(void)
{
	struct arena *ar = calloc(1, sizeof(*ar));
	/* Position 0 is reserved: the first chunk starts one unit in. */
	if (ar)
		ar->chunk_used = CHUNK_SIZE;
	return ar;
}

static void
arena_free(struct arena *ar)
{
	if (!ar)
		return;
	for (size_t i = 0; i < ar->n_chunks; i++)
		free(ar->chunks[i]);
	free(ar);
}

static inline uint64_t
slot_make(uint64_t h, uint32_t pos)
{
	/* Position 0 is never handed out, so 0 means an empty slot. */
	return (h & 0xffffffff00000000ULL) | pos;
}

static struct index *
index_new(size_t slots, struct arena *ar)
{
	struct index *ix = calloc(1, sizeof(*ix) + slots * sizeof(uint64_t));
	if (ix) {
		ix->mask = slots - 1;
		ix->arena = ar;
	}
	return ix;
}

static int
retire(struct tapir_db *db, void *p)
{
	if (!p)
		return 0;
	if (db->n_retired == db->cap_retired) {
		size_t cap = db->cap_retired ? db->cap_retired * 2 : 64;
		void **r = realloc(db->retired, cap * sizeof(*r));
		if (!r) {
			/* Cannot defer: wait for readers and free now. */
			tapir_epoch_synchronize(db->ep);
			free(p);
			return 0;
		}
		db->retired = r;
		db->cap_retired = cap;
	}
	db->retired[db->n_retired++] = p;
	if (db->n_retired >= RETIRE_BATCH)
		tapir_db_commit(db);
	return 0;
}

void
tapir_db_commit(struct tapir_db *db)
{
	if (db->n_retired == 0)
		return;
	tapir_epoch_synchronize(db->ep);
	for (size_t i = 0; i < db->n_retired; i++)
		free(db->retired[i]);
	db->n_retired = 0;
}

struct tapir_db *
tapir_db_create(size_t max_names)
{
	struct tapir_db *db = calloc(1, sizeof(*db));
	struct arena *ar;
	struct index *ix;

	if (!db)
		return NULL;
	if (!(db->ep = tapir_epoch_create()))
		goto out_free_db;
	if (!(ar = arena_new()))
		goto out_free_epoch;
	if (!(ix = index_new(MIN_SLOTS, ar)))
		goto out_free_arena;
	atomic_init(&db->index, ix);
	if (getrandom(&db->seed, sizeof(db->seed), 0) != sizeof(db->seed))
		db->seed = (uint64_t)(uintptr_t)db ^ (uint64_t)tapir_now();
	db->max_names = max_names ? max_names : SIZE_MAX;
	return db;

out_free_arena:
	arena_free(ar);
out_free_epoch:
	tapir_epoch_destroy(db->ep);
out_free_db:
	free(db);
	return NULL;
}

void
tapir_db_destroy(struct tapir_db *db)
{
	struct index *ix;

	if (!db)
		return;
	tapir_db_commit(db);
	ix = atomic_load(&db->index);
	for (size_t i = 0; i <= ix->mask; i++) {
		uint64_t s = atomic_load_explicit(
			&ix->slots[i], memory_order_relaxed);
		if (s)
			free(atomic_load(&rec_at(ix->arena, (uint32_t)s)->set));
	}
	arena_free(ix->arena);
	free(ix);
	free(db->retired);
	tapir_epoch_destroy(db->ep);
	free(db);
}

static struct rec *
lookup(struct tapir_db *db, struct index *ix, const char *name, size_t len,
	uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);

	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		uint64_t s = atomic_load_explicit(
			&ix->slots[i], memory_order_acquire);
		struct rec *r;
		if (s == 0)
			return NULL;
		if ((uint32_t)(s >> 32) != tag)
			continue;
		r = rec_at(ix->arena, (uint32_t)s);
		if (r->len == len && memcmp(r->name, name, len) == 0)
			return r;
	}
}

static void
index_put(struct index *ix, uint64_t h, uint32_t pos)
{
	size_t i = h & ix->mask;
	while (atomic_load_explicit(&ix->slots[i], memory_order_relaxed))
		i = (i + 1) & ix->mask;
	atomic_store_explicit(
		&ix->slots[i], slot_make(h, pos), memory_order_release);
}

static struct rec *
rec_alloc(struct arena *ar, const char *name, size_t len, uint32_t tag,
	uint32_t *pos)
{
	size_t need = rec_size(len);
	struct rec *r;

	if (ar->chunk_used + need > CHUNK_SIZE) {
		if (ar->n_chunks == MAX_CHUNKS)
			return NULL;
		if (!(ar->chunks[ar->n_chunks] = malloc(CHUNK_SIZE)))
			return NULL;
		ar->n_chunks++;
		/* Unit 0 of chunk 0 is the reserved empty position. */
		ar->chunk_used = ar->n_chunks == 1 ? ALIGN : 0;
	}
	*pos = (uint32_t)((((ar->n_chunks - 1) << CHUNK_SHIFT) +
				  ar->chunk_used) /
			  ALIGN);
	r = (struct rec *)(ar->chunks[ar->n_chunks - 1] + ar->chunk_used);
	ar->chunk_used += need;
	ar->live_bytes += need;
	atomic_init(&r->set, NULL);
	r->hash = tag;
	r->len = (uint8_t)len;
	memcpy(r->name, name, len);
	r->name[len] = '\0';
	return r;
}

static void
retire_index(struct tapir_db *db, struct index *old, bool with_arena)
{
	if (with_arena) {
		/* The chunks go first so that a failing retire of the
		 * table cannot free chunks a reader still reads. */
		for (size_t i = 0; i < old->arena->n_chunks; i++)
			retire(db, old->arena->chunks[i]);
		retire(db, old->arena);
	}
	retire(db, old);
}

/*
 * Rebuild the index at a size fit for want_records, dropping emptied
 * names. When emptied names hold more arena than live ones (a feed whose
 * names come and expire), live names are copied to a fresh arena and the
 * old one goes after a grace period: memory follows the live set.
 */
static int
index_rebuild(struct tapir_db *db, size_t want_records)
{
	struct index *old = atomic_load(&db->index), *ix;
	struct arena *oar = old->arena, *ar = oar;
	bool compact = oar->dead_bytes > oar->live_bytes &&
		       oar->dead_bytes >= CHUNK_SIZE / 4;
	size_t slots = MIN_SLOTS, live = 0;

	while (slots / 4 * 3 < want_records)
		slots *= 2;
	if (compact && !(ar = arena_new()))
		return TAPIR_ENOMEM;
	if (!(ix = index_new(slots, ar))) {
		if (compact)
			arena_free(ar);
		return TAPIR_ENOMEM;
	}
	for (size_t i = 0; i <= old->mask; i++) {
		uint64_t s = atomic_load_explicit(
			&old->slots[i], memory_order_relaxed);
		struct rec *r, *nr;
		struct eset *set;
		uint32_t pos = (uint32_t)s;
		if (!s)
			continue;
		r = rec_at(oar, pos);
		if (!(set = atomic_load_explicit(
			      &r->set, memory_order_relaxed)))
			continue;
		if (compact) {
			if (!(nr = rec_alloc(
				      ar, r->name, r->len, r->hash, &pos))) {
				free(ix);
				arena_free(ar);
				return TAPIR_ENOMEM;
			}
			/* The set is shared by old and new record; only
			 * the new one will ever be written again. */
			atomic_init(&nr->set, set);
		}
		index_put(ix, hash_name(db->seed, r->name, r->len), pos);
		live++;
	}
	atomic_store_explicit(&db->index, ix, memory_order_release);
	db->n_records = live;
	db->expire_cursor = 0;
	retire_index(db, old, compact);
	return 0;
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

static struct eset *
eset_new(size_t n)
{
	struct eset *s = malloc(sizeof(*s) + n * sizeof(struct tapir_entry));
	if (s)
		s->n = (uint32_t)n;
	return s;
}

/* Replace r's set by new (may be NULL), keeping the counters true.
 * fresh: r was just allocated (already counted live). */
static void
publish_set(struct tapir_db *db, struct rec *r, struct eset *old,
	struct eset *new, bool fresh)
{
	struct arena *ar =
		atomic_load_explicit(&db->index, memory_order_relaxed)->arena;
	size_t on = old ? old->n : 0, nn = new ? new->n : 0;
	size_t osub = 0, nsub = 0;

	for (size_t i = 0; i < on; i++)
		osub += (old->e[i].flags & TAPIR_ENTRY_SUBTREE) != 0;
	for (size_t i = 0; i < nn; i++)
		nsub += (new->e[i].flags &TAPIR_ENTRY_SUBTREE) != 0;
	atomic_store_explicit(&r->set, new, memory_order_release);
	db->n_entries += nn - on;
	db->n_subtree += nsub - osub;
	atomic_store_explicit(
		&db->subtree_atomic, db->n_subtree, memory_order_relaxed);
	db->set_bytes += nn * sizeof(struct tapir_entry);
	db->set_bytes -= on * sizeof(struct tapir_entry);
	if (on && !nn) {
		db->n_names--;
		ar->live_bytes -= rec_size(r->len);
		ar->dead_bytes += rec_size(r->len);
	} else if (!on && nn) {
		db->n_names++;
		if (!fresh) {
			ar->dead_bytes -= rec_size(r->len);
			ar->live_bytes += rec_size(r->len);
		}
	}
	retire(db, old);
}

int
tapir_db_set(struct tapir_db *db, const char *name, size_t len,
	const struct tapir_entry *e)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_relaxed);
	uint64_t h;
	struct rec *r;
	struct eset *old, *new;
	size_t on, j = 0;
	bool placed = false, fresh = false;

	if (len == 0 || len >= TAPIR_NAME_BUFSIZE || e->list >= 3)
		return TAPIR_EINVAL;
	h = hash_name(db->seed, name, len);
	r = lookup(db, ix, name, len, h);
	if (!r) {
		uint32_t pos;
		if (db->n_names >= db->max_names)
			return TAPIR_EFULL;
		if ((db->n_records + 1) > (ix->mask + 1) / 4 * 3) {
			int rc = index_rebuild(
				db, db->n_names + 1 + db->n_names / 2);
			if (rc)
				return rc;
			ix = atomic_load_explicit(
				&db->index, memory_order_relaxed);
		}
		if (!(r = rec_alloc(
			      ix->arena, name, len, (uint32_t)(h >> 32), &pos)))
			return TAPIR_ENOMEM;
		index_put(ix, h, pos);
		db->n_records++;
		fresh = true;
	}
	old = atomic_load_explicit(&r->set, memory_order_relaxed);
	/* An emptied record is a new name again: it counts for max_names. */
	if (!old && !fresh && db->n_names >= db->max_names)
		return TAPIR_EFULL;
	on = old ? old->n : 0;
	if (!(new = eset_new(on + 1)))
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
	new->n = (uint32_t)j;
	publish_set(db, r, old, new, fresh);
	return 0;
}

int
tapir_db_remove(struct tapir_db *db, const char *name, size_t len,
	uint16_t source, uint8_t flags)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_relaxed);
	struct rec *r;
	struct eset *old, *new = NULL;
	size_t j = 0, found = 0;

	if (len == 0 || len >= TAPIR_NAME_BUFSIZE)
		return TAPIR_ENOENT;
	r = lookup(db, ix, name, len, hash_name(db->seed, name, len));
	if (!r || !(old = atomic_load_explicit(&r->set, memory_order_relaxed)))
		return TAPIR_ENOENT;
	for (size_t i = 0; i < old->n; i++)
		found += same_key(&old->e[i], source, flags);
	if (!found)
		return TAPIR_ENOENT;
	if (old->n > found) {
		if (!(new = eset_new(old->n - found)))
			return TAPIR_ENOMEM;
		for (size_t i = 0; i < old->n; i++)
			if (!same_key(&old->e[i], source, flags))
				new->e[j++] = old->e[i];
	}
	publish_set(db, r, old, new, false);
	return 0;
}

/* Rewrite r's set keeping the entries keep() accepts; count the dropped. */
static size_t
filter_set(struct tapir_db *db, struct rec *r,
	bool (*keep)(const struct tapir_entry *, const void *), const void *arg)
{
	struct eset *old = atomic_load_explicit(&r->set, memory_order_relaxed);
	struct eset *new = NULL;
	size_t kept = 0, j = 0, on;

	if (!old)
		return 0;
	for (size_t i = 0; i < old->n; i++)
		kept += keep(&old->e[i], arg);
	if (kept == old->n)
		return 0;
	/* publish_set() retires old, and a full retire list frees it. */
	on = old->n;
	if (kept) {
		/* Out of memory: leave the set as it is; lookups ignore
		 * expired entries and the next pass tries again. */
		if (!(new = eset_new(kept)))
			return 0;
		for (size_t i = 0; i < old->n; i++)
			if (keep(&old->e[i], arg))
				new->e[j++] = old->e[i];
	}
	publish_set(db, r, old, new, false);
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

/* Reclaim emptied names once they hold as much arena as live ones. */
static void
maybe_compact(struct tapir_db *db)
{
	struct arena *ar =
		atomic_load_explicit(&db->index, memory_order_relaxed)->arena;

	if (ar->dead_bytes > ar->live_bytes && ar->dead_bytes >= CHUNK_SIZE / 4)
		(void)index_rebuild(db, db->n_names + db->n_names / 2);
}

size_t
tapir_db_remove_source(struct tapir_db *db, uint16_t source)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_relaxed);
	size_t removed = 0;

	for (size_t i = 0; i <= ix->mask; i++) {
		uint64_t s = atomic_load_explicit(
			&ix->slots[i], memory_order_relaxed);
		if (s)
			removed +=
				filter_set(db, rec_at(ix->arena, (uint32_t)s),
					keep_other_source, &source);
	}
	maybe_compact(db);
	return removed;
}

size_t
tapir_db_expire(struct tapir_db *db, int64_t now, size_t max_slots,
	tapir_db_name_cb cb, void *arg)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_relaxed);
	size_t dropped = 0, cap = ix->mask + 1;

	if (max_slots > cap)
		max_slots = cap;
	for (size_t n = 0; n < max_slots; n++) {
		size_t i = db->expire_cursor++ & ix->mask;
		uint64_t s = atomic_load_explicit(
			&ix->slots[i], memory_order_relaxed);
		struct rec *r;
		size_t d;
		if (!s)
			continue;
		r = rec_at(ix->arena, (uint32_t)s);
		/* filter_set may rebuild nothing, so r stays valid. */
		if ((d = filter_set(db, r, keep_unexpired, &now)) != 0) {
			dropped += d;
			if (cb)
				cb(arg, r->name, r->len);
		}
	}
	maybe_compact(db);
	return dropped;
}

int
tapir_db_walk(struct tapir_db *db, tapir_db_walk_cb cb, void *arg)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_acquire);

	for (size_t i = 0; i <= ix->mask; i++) {
		uint64_t s = atomic_load_explicit(
			&ix->slots[i], memory_order_acquire);
		struct rec *r;
		struct eset *set;
		int rc;
		if (!s)
			continue;
		r = rec_at(ix->arena, (uint32_t)s);
		set = atomic_load_explicit(&r->set, memory_order_acquire);
		if (set && (rc = cb(arg, r->name, r->len, set->e, set->n)))
			return rc;
	}
	return 0;
}

void
tapir_db_stats(struct tapir_db *db, struct tapir_db_stats *st)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_relaxed);

	st->names = db->n_names;
	st->entries = db->n_entries;
	st->subtree = db->n_subtree;
	st->records = db->n_records;
	st->index_slots = ix->mask + 1;
	st->bytes = sizeof(*db) + sizeof(*ix->arena) +
		    (ix->mask + 1) * sizeof(uint64_t) +
		    ix->arena->n_chunks * CHUNK_SIZE + db->set_bytes +
		    db->n_names * sizeof(struct eset);
}

unsigned
tapir_db_read_begin(struct tapir_db *db)
{
	return tapir_epoch_enter(db->ep);
}

void
tapir_db_read_end(struct tapir_db *db, unsigned token)
{
	tapir_epoch_exit(db->ep, token);
}

const struct tapir_entry *
tapir_db_find(struct tapir_db *db, const char *name, size_t len, size_t *n)
{
	struct index *ix =
		atomic_load_explicit(&db->index, memory_order_acquire);
	struct rec *r =
		lookup(db, ix, name, len, hash_name(db->seed, name, len));
	struct eset *set;

	if (!r ||
		!(set = atomic_load_explicit(&r->set, memory_order_acquire))) {
		*n = 0;
		return NULL;
	}
	*n = set->n;
	return set->e;
}

bool
tapir_db_has_subtree(struct tapir_db *db)
{
	return atomic_load_explicit(
		       &db->subtree_atomic, memory_order_relaxed) != 0;
}
