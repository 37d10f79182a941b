/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cache purges after a change of the database: the rare-type filter that
 * tells a flush by name from a walk, and the purges of names whose
 * decision now blocks. Writer thread, but for tapir__eng_rare_note(),
 * which workers call.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

/*
 * Names that had an answer of a type Unbound's "flush NAME" does not
 * remove (TXT, CAA, DNSKEY, ANY, ...; the module says which, with
 * TAPIR_QUERY_RARE_TYPE): one bit each, by a keyed hash, set by the worker that lets such a query
 * pass, before it decides. Every message Unbound caches comes from a
 * query that passed a module, this one first (operate(), and the chain
 * check after the iterator for the names a CNAME or DNAME chain brings
 * in). A name whose bit is clear can then be flushed by key, without the
 * cache walk of flush_zone; a bit set by another name costs a walk, as
 * every flush did before. Bits are never cleared: with serve-expired an
 * answer can stay in the cache for ever.
 *
 * Order: a worker sets the bit (a full barrier) before it reads the
 * database, and the writer changes the database before a full fence and
 * reads the bit; so a query that still passed under the old entries is
 * always seen by the writer that changed them.
 */
static size_t
rare_bit(const struct tapir_engine *e, const char *name, size_t len)
{
	return (size_t)XXH3_64bits_withSeed(name, len, e->rare_seed) &
	       (RARE_BITS - 1);
}

void
tapir__eng_rare_note(struct tapir_engine *e, const char *name, size_t len)
{
	size_t b = rare_bit(e, name, len);
	uint64_t m = UINT64_C(1) << (b & 63);

	/* Read first: after the first query for a name, no shared write. */
	if (!(atomic_load_explicit(&e->rare[b >> 6], memory_order_relaxed) & m))
		atomic_fetch_or(&e->rare[b >> 6], m);
}

static bool
rare_seen(struct tapir_engine *e, const char *name)
{
	size_t b = rare_bit(e, name, strlen(name));

	tapir_fence();
	return (atomic_load_explicit(&e->rare[b >> 6], memory_order_relaxed) >>
		       (b & 63)) &
	       1;
}

/* The new entry is visible to every worker from here on; answers cached
 * before it are not: ask Unbound to drop them when the name now blocks.
 * A subtree, or a name with an answer a flush by name would leave, needs
 * the walk of flush_zone; any other name is flushed by key. */
void
tapir__eng_purge_decided(struct tapir_engine *e, const char *name, bool subtree,
	enum tapir_action a)
{
	/* With block answers in Unbound's message cache, a name that stops
	 * being blocked must leave it too: every change is flushed. */
	if (!e->purger || (!subtree && a <= TAPIR_ACTION_PASSTHRU &&
				  !wcfg(e)->answer.cache_blocked))
		return;
	if (subtree || rare_seen(e, name))
		(void)tapir_purger_push(e->purger, name);
	else
		(void)tapir_purger_push_name(e->purger, name);
}

enum tapir_action
tapir__eng_decide_now(struct tapir_engine *e, const char *name, int64_t now)
{
	return tapir_decide(
		wrt(e)->policy, e->db, name, strlen(name), now, NULL);
}

void
tapir__eng_purge_if_blocked(
	struct tapir_engine *e, const char *name, bool subtree, int64_t now)
{
	if (e->purger)
		tapir__eng_purge_decided(
			e, name, subtree, tapir__eng_decide_now(e, name, now));
}

void
tapir__eng_purges_add(struct tapir_engine *e, struct purges *p,
	const char *name, bool subtree)
{
	if (e->purger && p->n++ < PURGE_BATCH_MAX)
		tapir__eng_purge_if_blocked(e, name, subtree, e->now());
}

void
tapir__eng_purges_end(struct tapir_engine *e, const struct purges *p)
{
	if (e->purger && p->n > PURGE_BATCH_MAX)
		(void)tapir_purger_push(e->purger, "");
}

/* Remove a source's entry. Taking a name off a denylist or doubtlist can
 * only unblock it, but taking it off an allowlist can block it (a subtree
 * entry: names under it) while its allowed answer sits in the cache, so
 * that removal is purged like an added block; with answer.cache-blocked an
 * unblock is purged too, for the block answer in the cache.
 * @return: 0 when an entry was removed. */
int
tapir__eng_remove_entry(struct tapir_engine *e, int src, const char *name,
	uint8_t flags, struct purges *p)
{
	if (tapir_db_remove(e->db, name, strlen(name), (uint16_t)src, flags) !=
		0)
		return -1;
	if (wcfg(e)->sources[src].list == TAPIR_LIST_ALLOW ||
		wcfg(e)->answer.cache_blocked)
		tapir__eng_purges_add(
			e, p, name, (flags & TAPIR_ENTRY_SUBTREE) != 0);
	return 0;
}

/* A policy change (tapir-pop-control reload): which names it changes. */
struct policy_walk {
	struct tapir_engine *e;
	const struct tapir_runtime *old, *cur;
	int64_t now;
	size_t changed;
	struct purges p;
};

static void
policy_walk_one(
	struct policy_walk *w, const char *name, size_t len, bool subtree)
{
	enum tapir_action was, is;

	was = tapir_decide(w->old->policy, w->e->db, name, len, w->now, NULL);
	is = tapir_decide(w->cur->policy, w->e->db, name, len, w->now, NULL);
	if (was == is)
		return;
	w->changed++;
	if (w->e->purger && w->p.n++ < PURGE_BATCH_MAX)
		tapir__eng_purge_decided(w->e, name, subtree, is);
}

static int
policy_walk_cb(void *arg, const char *name, size_t len,
	const struct tapir_entry *ent, size_t n)
{
	struct policy_walk *w = arg;
	char child[TAPIR_NAME_BUFSIZE + 16];
	bool exact = false, subtree = false;
	int m;

	for (size_t i = 0; i < n; i++) {
		if (ent[i].flags & TAPIR_ENTRY_SUBTREE)
			subtree = true;
		else
			exact = true;
	}
	if (exact)
		policy_walk_one(w, name, len, false);
	/* Below a subtree entry: a name with no entries of its own stands
	 * for all of them (as dump-rpz's wildcard does). */
	m = snprintf(child, sizeof(child), "x--tapir.%s", name);
	if (subtree && m > 0 && (size_t)m < TAPIR_NAME_BUFSIZE) {
		size_t before = w->changed;
		policy_walk_one(w, child, (size_t)m, true);
		if (w->changed != before && w->e->purger &&
			w->p.n <= PURGE_BATCH_MAX)
			(void)tapir_purger_push(w->e->purger, name);
	}
	return 0;
}

/*
 * Writer, after a reload put cur in force in place of old (which the
 * caller still holds): every name whose decision the new policy changes
 * leaves Unbound's caches, as a change of the data would make it leave;
 * past PURGE_BATCH_MAX names, one flush of everything. Block answers kept
 * in the cache (answer.cache-blocked) whose content changed go as well.
 * @return: the names whose decision changed.
 */
size_t
tapir__eng_purge_policy_change(struct tapir_engine *e,
	const struct tapir_runtime *old, const struct tapir_runtime *cur)
{
	struct policy_walk w = { .e = e, .old = old, .cur = cur };
	tapir_epoch_token tok;

	w.now = e->now();
	tok = tapir_db_read_begin(e->db);
	(void)tapir_db_walk(e->db, policy_walk_cb, &w);
	tapir_db_read_end(e->db, tok);
	if ((old->answer.cache_blocked || cur->answer.cache_blocked) &&
		memcmp(&old->answer, &cur->answer, sizeof(old->answer)) != 0)
		w.p.n = PURGE_BATCH_MAX + 1;
	tapir__eng_purges_end(e, &w.p);
	count(e, TAPIR_C_DECISION_CHANGES, w.changed);
	return w.changed;
}
