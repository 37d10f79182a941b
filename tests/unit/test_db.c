/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/db.c: one entry per (source, kind) and name, kept in
 * (source, kind) order; replacing, removing, limits; growth through many
 * index rebuilds and arena compaction, with stats that follow the live set;
 * expiry exact to the second and in bounded passes that resume; walks, and
 * walks in parts that visit each name once while the writer rebuilds the
 * index between parts; and one writer against three lock-free readers (run
 * it under TSan and ASan). TAPIR_DB_TEST_FILTER picks tests by name.
 * Threads other than the main one never call cmocka asserts; they count
 * what they see in atomics and the main thread checks.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/db.h"
#include "lib/msg.h"
#include "lib/name.h"

#define NOW	    1700000000
#define LATER	    (NOW + 3600)
#define MAX_ENTRIES 16

static struct tapir_entry
mk(uint16_t source, uint8_t list, uint32_t tags, uint32_t expiry, uint8_t flags)
{
	struct tapir_entry e;

	memset(&e, 0, sizeof(e));
	e.source = source;
	e.list = list;
	e.tags = tags;
	e.expiry = expiry;
	e.added = NOW - 10;
	e.flags = flags;
	return e;
}

static int
set(struct tapir_db *db, const char *name, struct tapir_entry e)
{
	return tapir_db_set(db, name, strlen(name), &e);
}

static void
set_ok(struct tapir_db *db, const char *name, struct tapir_entry e)
{
	assert_int_equal(set(db, name, e), 0);
}

static int
rm(struct tapir_db *db, const char *name, uint16_t source, uint8_t flags)
{
	return tapir_db_remove(db, name, strlen(name), source, flags);
}

/* Copy a name's entries out of a read section. @return: their number. */
static size_t
find(struct tapir_db *db, const char *name, struct tapir_entry *out)
{
	tapir_epoch_token tok = tapir_db_read_begin(db);
	size_t n = 99;
	const struct tapir_entry *e = tapir_db_find(db, name, strlen(name), &n);

	assert_true(n <= MAX_ENTRIES);
	if (n)
		memcpy(out, e, n * sizeof(*e));
	else
		assert_null(e);
	tapir_db_read_end(db, tok);
	return n;
}

static void
assert_entry_equal(const struct tapir_entry *a, const struct tapir_entry *b)
{
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->list, b->list);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->tags, b->tags);
	assert_int_equal(a->expiry, b->expiry);
	assert_int_equal(a->added, b->added);
}

static struct tapir_db_stats
stats(struct tapir_db *db)
{
	struct tapir_db_stats st;

	tapir_db_stats(db, &st);
	return st;
}

static char *
numbered(char *buf, const char *prefix, size_t i)
{
	snprintf(buf, TAPIR_NAME_BUFSIZE, "%s%zu.example.com", prefix, i);
	return buf;
}

static int
setup(void **state)
{
	struct tapir_db *db = tapir_db_create(0);

	if (!db)
		return -1;
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	tapir_db_destroy(*state);
	return 0;
}

static void
test_set_then_find_returns_the_entry(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry want = mk(3, TAPIR_LIST_DOUBT, 0x14, LATER, 0);
	struct tapir_entry got[MAX_ENTRIES];

	set_ok(db, "www.example.com", want);
	assert_int_equal(find(db, "www.example.com", got), 1);
	assert_entry_equal(&got[0], &want);
}

static void
test_find_absent_name_returns_nothing(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];

	assert_int_equal(find(db, "example.com", got), 0);
	set_ok(db, "www.example.com", mk(0, TAPIR_LIST_DENY, 0, LATER, 0));
	/* Neither the parent, a child nor a prefix is the name. */
	assert_int_equal(find(db, "example.com", got), 0);
	assert_int_equal(find(db, "a.www.example.com", got), 0);
	assert_int_equal(find(db, "www.example.co", got), 0);
}

static void
test_set_same_source_and_kind_replaces_tags_and_expiry(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry first = mk(0, TAPIR_LIST_DOUBT, 0x3, LATER, 0);
	struct tapir_entry second = mk(0, TAPIR_LIST_DOUBT, 0x4, NOW + 5, 0);
	struct tapir_entry got[MAX_ENTRIES];

	set_ok(db, "x.example", first);
	set_ok(db, "x.example", second);
	assert_int_equal(find(db, "x.example", got), 1);
	/* Replaced, not merged: 0x4, not 0x7; the new, earlier expiry. */
	assert_entry_equal(&got[0], &second);
	assert_int_equal(stats(db).entries, 1);
}

/* A loader learns what a set replaced from the set itself: the flags of
 * the entry of the same (source, kind), -1 when there was none. */
static void
test_set_had_names_the_replaced_entry(void **state)
{
	struct tapir_db *db = *state;
	uint8_t nx = TAPIR_ACTION_NXDOMAIN << TAPIR_ENTRY_ACTION_SHIFT;
	struct tapir_entry a = mk(1, TAPIR_LIST_DENY, 0, LATER, nx);
	struct tapir_entry b = mk(1, TAPIR_LIST_DENY, 0, LATER, 0);
	struct tapir_entry sub =
		mk(1, TAPIR_LIST_DENY, 0, LATER, TAPIR_ENTRY_SUBTREE);
	struct tapir_entry other = mk(2, TAPIR_LIST_DENY, 0, LATER, nx);
	int had = 7;

	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &a, &had), 0);
	assert_int_equal(had, -1);
	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &b, &had), 0);
	assert_int_equal(had, nx);
	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &b, &had), 0);
	assert_int_equal(had, 0);
	/* Another kind or another source is another entry. */
	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &sub, &had), 0);
	assert_int_equal(had, -1);
	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &other, &had), 0);
	assert_int_equal(had, -1);
	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &other, &had), 0);
	assert_int_equal(had, nx);
	/* Emptied, the name has nothing to replace. */
	assert_int_equal(rm(db, "x.example", 1, 0), 0);
	assert_int_equal(rm(db, "x.example", 1, TAPIR_ENTRY_SUBTREE), 0);
	assert_int_equal(rm(db, "x.example", 2, nx), 0);
	assert_int_equal(tapir_db_set_had(db, "x.example", 9, &b, &had), 0);
	assert_int_equal(had, -1);
	/* A failed set leaves it alone. */
	had = 7;
	assert_int_equal(tapir_db_set_had(db, "", 0, &b, &had), TAPIR_EINVAL);
	assert_int_equal(had, 7);
}

static void
test_exact_and_subtree_entries_of_same_source_coexist(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry ex = mk(2, TAPIR_LIST_DENY, 1, LATER, 0);
	struct tapir_entry sub =
		mk(2, TAPIR_LIST_DENY, 2, LATER, TAPIR_ENTRY_SUBTREE);
	struct tapir_entry got[MAX_ENTRIES];
	struct tapir_db_stats st;

	set_ok(db, "example.com", ex);
	set_ok(db, "example.com", sub);
	assert_int_equal(find(db, "example.com", got), 2);
	assert_entry_equal(&got[0], &ex);
	assert_entry_equal(&got[1], &sub);
	st = stats(db);
	assert_int_equal(st.names, 1);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.subtree, 1);
	assert_int_equal(st.records, 1);
}

static void
test_entries_sorted_by_source_and_kind_whatever_the_order(void **state)
{
	struct tapir_db *db = *state;
	/* Already in the expected order: (source, exact < subtree). */
	const struct tapir_entry want[] = {
		mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0),
		mk(0, TAPIR_LIST_DOUBT, 2, LATER, TAPIR_ENTRY_SUBTREE),
		mk(1, TAPIR_LIST_DENY, 3, LATER, 0),
		mk(1, TAPIR_LIST_DENY, 4, LATER, TAPIR_ENTRY_SUBTREE),
		mk(2, TAPIR_LIST_ALLOW, 5, LATER, TAPIR_ENTRY_SUBTREE),
		mk(7, TAPIR_LIST_DOUBT, 6, LATER, 0),
	};
	const size_t n = sizeof(want) / sizeof(want[0]);
	struct tapir_entry got[MAX_ENTRIES];
	unsigned seed = 12345;

	for (size_t round = 0; round < 50; round++) {
		size_t order[6] = { 0, 1, 2, 3, 4, 5 };
		char name[TAPIR_NAME_BUFSIZE];

		/* Round 0 inserts in reverse; the rest in shuffled orders. */
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = round ? (size_t)rand_r(&seed) % (i + 1) : 0;
			size_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		numbered(name, "sorted", round);
		for (size_t i = 0; i < n; i++)
			set_ok(db, name, want[order[i]]);
		assert_int_equal(find(db, name, got), n);
		for (size_t i = 0; i < n; i++)
			assert_entry_equal(&got[i], &want[i]);
	}
}

static void
test_remove_drops_only_that_source_and_kind(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];

	set_ok(db, "example.com", mk(1, TAPIR_LIST_DENY, 0, LATER, 0));
	set_ok(db, "example.com",
		mk(1, TAPIR_LIST_DENY, 0, LATER, TAPIR_ENTRY_SUBTREE));
	set_ok(db, "example.com", mk(2, TAPIR_LIST_DOUBT, 9, LATER, 0));
	assert_int_equal(rm(db, "example.com", 1, TAPIR_ENTRY_SUBTREE), 0);
	assert_int_equal(find(db, "example.com", got), 2);
	assert_int_equal(got[0].source, 1);
	assert_int_equal(got[0].flags, 0);
	assert_int_equal(got[1].source, 2);
	assert_int_equal(stats(db).entries, 2);
	assert_int_equal(stats(db).subtree, 0);
}

static void
test_remove_absent_entry_returns_enoent(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];

	assert_int_equal(rm(db, "example.com", 1, 0), TAPIR_ENOENT);
	set_ok(db, "example.com", mk(1, TAPIR_LIST_DENY, 0, LATER, 0));
	assert_int_equal(rm(db, "other.example", 1, 0), TAPIR_ENOENT);
	assert_int_equal(rm(db, "example.com", 2, 0), TAPIR_ENOENT);
	assert_int_equal(
		rm(db, "example.com", 1, TAPIR_ENTRY_SUBTREE), TAPIR_ENOENT);
	assert_int_equal(rm(db, "example.com", 1, 0), 0);
	assert_int_equal(rm(db, "example.com", 1, 0), TAPIR_ENOENT);
	assert_int_equal(find(db, "example.com", got), 0);
}

static void
test_remove_last_entry_makes_name_absent(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];
	struct tapir_db_stats st;

	set_ok(db, "example.com", mk(1, TAPIR_LIST_DENY, 0, LATER, 0));
	assert_int_equal(rm(db, "example.com", 1, 0), 0);
	assert_int_equal(find(db, "example.com", got), 0);
	st = stats(db);
	assert_int_equal(st.names, 0);
	assert_int_equal(st.entries, 0);
	/* The emptied record stays until the next index rebuild. */
	assert_int_equal(st.records, 1);
	/* And it is reused when the name comes back. */
	set_ok(db, "example.com", mk(1, TAPIR_LIST_DENY, 0, LATER, 0));
	st = stats(db);
	assert_int_equal(st.names, 1);
	assert_int_equal(st.records, 1);
}

static void
test_remove_source_drops_only_that_source(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_db_stats st;

	for (size_t i = 0; i < 100; i++) {
		numbered(name, "n", i);
		set_ok(db, name, mk(4, TAPIR_LIST_DENY, 0, LATER, 0));
		set_ok(db, name,
			mk(4, TAPIR_LIST_DENY, 0, LATER, TAPIR_ENTRY_SUBTREE));
		if (i % 2)
			set_ok(db, name, mk(5, TAPIR_LIST_DOUBT, 1, LATER, 0));
	}
	assert_int_equal(tapir_db_remove_source(db, 4), 200);
	for (size_t i = 0; i < 100; i++) {
		size_t n = find(db, numbered(name, "n", i), got);
		assert_int_equal(n, i % 2);
		if (n)
			assert_int_equal(got[0].source, 5);
	}
	st = stats(db);
	assert_int_equal(st.names, 50);
	assert_int_equal(st.entries, 50);
	assert_int_equal(st.subtree, 0);
	assert_int_equal(tapir_db_remove_source(db, 4), 0);
	assert_int_equal(tapir_db_remove_source(db, 5), 50);
	assert_int_equal(stats(db).names, 0);
}

static void
test_set_rejects_invalid_arguments(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry e = mk(0, TAPIR_LIST_DENY, 0, LATER, 0);
	char longname[TAPIR_NAME_BUFSIZE + 1];

	assert_int_equal(tapir_db_set(db, "x", 0, &e), TAPIR_EINVAL);
	memset(longname, 'a', sizeof(longname));
	assert_int_equal(tapir_db_set(db, longname, TAPIR_NAME_BUFSIZE, &e),
		TAPIR_EINVAL);
	e.list = TAPIR_LIST_COUNT;
	assert_int_equal(set(db, "x.example", e), TAPIR_EINVAL);
	assert_int_equal(stats(db).names, 0);
}

static void
test_names_of_length_1_and_253_are_stored(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];
	char longest[254], almost[254];

	/* 63.63.63.61: the longest canonical name (255 octets on the wire). */
	memset(longest, 'a', 253);
	longest[63] = longest[127] = longest[191] = '.';
	longest[253] = '\0';
	memcpy(almost, longest, sizeof(almost));
	almost[252] = 'b';
	set_ok(db, "x", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	set_ok(db, longest, mk(0, TAPIR_LIST_DENY, 2, LATER, 0));
	assert_int_equal(find(db, "x", got), 1);
	assert_int_equal(got[0].tags, 1);
	assert_int_equal(find(db, longest, got), 1);
	assert_int_equal(got[0].tags, 2);
	assert_int_equal(find(db, almost, got), 0);
	assert_int_equal(find(db, "y", got), 0);
	assert_int_equal(rm(db, longest, 0, 0), 0);
	assert_int_equal(rm(db, "x", 0, 0), 0);
	assert_int_equal(stats(db).names, 0);
}

static void
test_max_names_full_but_existing_names_update(void **state)
{
	struct tapir_db *db = tapir_db_create(3);
	struct tapir_entry got[MAX_ENTRIES];

	(void)state;
	assert_non_null(db);
	set_ok(db, "a.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	set_ok(db, "b.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	set_ok(db, "c.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	assert_int_equal(
		set(db, "d.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0)),
		TAPIR_EFULL);
	assert_int_equal(find(db, "d.example", got), 0);
	/* A new entry for a known name, and a replacement, still work. */
	set_ok(db, "a.example", mk(0, TAPIR_LIST_DENY, 2, LATER, 0));
	set_ok(db, "a.example", mk(1, TAPIR_LIST_DOUBT, 3, LATER, 0));
	assert_int_equal(find(db, "a.example", got), 2);
	assert_int_equal(got[0].tags, 2);
	assert_int_equal(got[1].tags, 3);
	/* Room again once a name is gone. */
	assert_int_equal(rm(db, "b.example", 0, 0), 0);
	set_ok(db, "d.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	assert_int_equal(stats(db).names, 3);
	tapir_db_destroy(db);
}

static void
test_max_names_counts_a_readded_emptied_name(void **state)
{
	struct tapir_db *db = tapir_db_create(2);
	struct tapir_entry got[MAX_ENTRIES];

	(void)state;
	assert_non_null(db);
	set_ok(db, "a.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	set_ok(db, "b.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	assert_int_equal(rm(db, "a.example", 0, 0), 0);
	set_ok(db, "c.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0));
	/* "a" still has a record, but no entries: it is a new name. */
	assert_int_equal(
		set(db, "a.example", mk(0, TAPIR_LIST_DENY, 1, LATER, 0)),
		TAPIR_EFULL);
	assert_int_equal(find(db, "a.example", got), 0);
	assert_int_equal(stats(db).names, 2);
	tapir_db_destroy(db);
}

#define MANY 200000

static void
insert_many(struct tapir_db *db, const char *prefix, size_t n, uint16_t src,
	uint32_t expiry)
{
	char name[TAPIR_NAME_BUFSIZE];

	for (size_t i = 0; i < n; i++)
		set_ok(db, numbered(name, prefix, i),
			mk(src, TAPIR_LIST_DOUBT, (uint32_t)i, expiry, 0));
	tapir_db_commit(db);
}

/* Every name findable with its own tags (or, with want == false, none). */
static void
assert_many(struct tapir_db *db, const char *prefix, size_t n, bool want)
{
	struct tapir_entry got[MAX_ENTRIES];
	char name[TAPIR_NAME_BUFSIZE];

	for (size_t i = 0; i < n; i++) {
		size_t k = find(db, numbered(name, prefix, i), got);
		if (!want) {
			assert_int_equal(k, 0);
			continue;
		}
		assert_int_equal(k, 1);
		assert_int_equal(got[0].tags, (uint32_t)i);
	}
}

static void
test_many_names_findable_across_index_rebuilds(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_db_stats st;

	insert_many(db, "n", MANY, 0, LATER);
	assert_many(db, "n", MANY, true);
	assert_many(db, "absent", 1000, false);
	st = stats(db);
	assert_int_equal(st.names, MANY);
	assert_int_equal(st.entries, MANY);
	assert_int_equal(st.records, MANY);
	/* Grown from 1024 slots, and never more than 3/4 full. */
	assert_true(st.index_slots >= MANY / 3 * 4);
	assert_true(st.bytes >= MANY * 20);
}

static void
test_readded_names_reuse_their_records(void **state)
{
	struct tapir_db *db = *state;
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_db_stats st;

	insert_many(db, "n", MANY, 0, LATER);
	for (size_t i = 0; i < MANY; i++)
		assert_int_equal(rm(db, numbered(name, "n", i), 0, 0), 0);
	tapir_db_commit(db);
	assert_many(db, "n", MANY, false);
	st = stats(db);
	assert_int_equal(st.names, 0);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.records, MANY);
	insert_many(db, "n", MANY, 0, LATER);
	assert_many(db, "n", MANY, true);
	st = stats(db);
	assert_int_equal(st.names, MANY);
	assert_int_equal(st.records, MANY);
}

static void
test_new_names_after_mass_removal_compact_the_arena(void **state)
{
	struct tapir_db *db = *state;
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_db_stats before, after;

	insert_many(db, "old", MANY, 0, LATER);
	before = stats(db);
	for (size_t i = 0; i < MANY; i++)
		assert_int_equal(rm(db, numbered(name, "old", i), 0, 0), 0);
	/* Other names: the index fills with emptied records, and the rebuild
	 * that makes room drops them and copies live names to a new arena. */
	insert_many(db, "new", MANY, 0, LATER);
	assert_many(db, "new", MANY, true);
	assert_many(db, "old", MANY, false);
	after = stats(db);
	assert_int_equal(after.names, MANY);
	assert_int_equal(after.entries, MANY);
	assert_int_equal(after.records, MANY);
	/* Memory follows the live set, not everything ever inserted. */
	assert_true(after.bytes < before.bytes + before.bytes / 4);
}

static void
test_expiring_most_names_gives_memory_back(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_db_stats before, after;

	insert_many(db, "gone", MANY, 0, NOW);
	insert_many(db, "kept", 1000, 1, LATER);
	before = stats(db);
	assert_int_equal(tapir_db_expire(db, NOW, SIZE_MAX, NULL, NULL), MANY);
	tapir_db_commit(db);
	after = stats(db);
	assert_int_equal(after.names, 1000);
	assert_int_equal(after.entries, 1000);
	assert_int_equal(after.records, 1000);
	/* What is left is one 4 MiB arena chunk, a small index and sets. */
	assert_true(after.bytes < before.bytes / 3);
	assert_many(db, "kept", 1000, true);
	assert_many(db, "gone", MANY, false);
}

/* MANY names of source 3, each with an entry of its own or all with the
 * same one (shared), and 1000 of source 1; then source 3 goes. */
static void
remove_big_source(struct tapir_db *db, bool shared,
	struct tapir_db_stats *before, struct tapir_db_stats *after)
{
	char name[TAPIR_NAME_BUFSIZE];

	if (!shared)
		insert_many(db, "gone", MANY, 3, LATER);
	for (size_t i = 0; shared && i < MANY; i++)
		set_ok(db, numbered(name, "gone", i),
			mk(3, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	insert_many(db, "kept", 1000, 1, LATER);
	*before = stats(db);
	assert_int_equal(tapir_db_remove_source(db, 3), MANY);
	tapir_db_commit(db);
	*after = stats(db);
	assert_int_equal(after->names, 1000);
	assert_int_equal(after->records, 1000);
	assert_many(db, "kept", 1000, true);
	assert_many(db, "gone", MANY, false);
}

static void
test_removing_a_big_source_gives_memory_back(void **state)
{
	struct tapir_db_stats before, after;

	remove_big_source(*state, false, &before, &after);
	/* What is left is one 4 MiB arena chunk, a small index and sets. */
	assert_true(after.bytes < before.bytes / 3);
}

/* A name of n bytes: "p" repeated, with one last byte of its own. */
static char *
sized(char buf[TAPIR_NAME_BUFSIZE], size_t n, char last)
{
	memset(buf, 'p', n - 1);
	buf[n - 1] = last;
	buf[n] = '\0';
	return buf;
}

static int
walk_check_len(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n)
{
	size_t *bad = arg;

	*bad += strlen(name) != len || n != 1 || e[0].tags != len;
	return 0;
}

/* Names of 27 bytes live in their index cell, names of 28 in the arena;
 * names that differ only there are told apart, through rebuilds and a
 * compaction, and callbacks get each whole and terminated. */
static void
test_names_either_side_of_the_cell_limit_are_told_apart(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];
	char name[TAPIR_NAME_BUFSIZE];
	static const size_t lens[] = { 26, 27, 28, 29 };
	size_t bad = 0;

	for (size_t k = 0; k < 4; k++)
		set_ok(db, sized(name, lens[k], 'a'),
			mk(0, TAPIR_LIST_DENY, (uint32_t)lens[k], LATER, 0));
	for (int round = 0; round < 3; round++) {
		for (size_t k = 0; k < 4; k++) {
			assert_int_equal(
				find(db, sized(name, lens[k], 'a'), got), 1);
			assert_int_equal(got[0].tags, lens[k]);
			assert_int_equal(
				find(db, sized(name, lens[k], 'b'), got), 0);
		}
		assert_int_equal(find(db, sized(name, 30, 'a'), got), 0);
		/* Round 0 grows the index; round 1 also leaves more dead
		 * arena than live, so round 2 runs on a compacted arena. */
		if (round == 0)
			insert_many(db, "grow", MANY, 1, LATER);
		else if (round == 1)
			assert_int_equal(tapir_db_remove_source(db, 1), MANY);
	}
	assert_true(stats(db).rebuilds >= 2);
	assert_int_equal(stats(db).names, 4);
	assert_int_equal(tapir_db_walk(db, walk_check_len, &bad), 0);
	assert_int_equal(bad, 0);
}

/* Names that share one entry (a file's) take no arena of their own: when
 * they go, it is the index, emptied, that is rebuilt small again. */
static void
test_removing_a_big_shared_entry_source_shrinks_the_index(void **state)
{
	struct tapir_db_stats before, after;

	remove_big_source(*state, true, &before, &after);
	assert_true(after.index_slots < before.index_slots / 20);
	assert_true(after.bytes < before.bytes / 2);
}

/* Collects names an expiry pass reports. */
struct seen {
	size_t n;
	char names[2048][TAPIR_NAME_BUFSIZE];
};

static void
collect(void *arg, const char *name, size_t len)
{
	struct seen *s = arg;

	assert_true(s->n < 2048);
	assert_int_equal(strlen(name), len);
	memcpy(s->names[s->n], name, len + 1);
	s->n++;
}

static size_t
count_seen(const struct seen *s, const char *name)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		k += strcmp(s->names[i], name) == 0;
	return k;
}

static void
test_expire_drops_entries_whose_expiry_is_now_or_earlier(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];

	set_ok(db, "future.example", mk(0, TAPIR_LIST_DENY, 0, NOW + 1, 0));
	set_ok(db, "now.example", mk(0, TAPIR_LIST_DENY, 0, NOW, 0));
	set_ok(db, "past.example", mk(0, TAPIR_LIST_DENY, 0, NOW - 1, 0));
	set_ok(db, "never.example",
		mk(0, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	assert_int_equal(tapir_db_expire(db, NOW, SIZE_MAX, NULL, NULL), 2);
	assert_int_equal(find(db, "future.example", got), 1);
	assert_int_equal(find(db, "now.example", got), 0);
	assert_int_equal(find(db, "past.example", got), 0);
	assert_int_equal(find(db, "never.example", got), 1);
	assert_int_equal(tapir_db_expire(db, NOW + 1, SIZE_MAX, NULL, NULL), 1);
	assert_int_equal(find(db, "future.example", got), 0);
	assert_int_equal(tapir_db_expire(db, (int64_t)UINT32_MAX - 1, SIZE_MAX,
				 NULL, NULL),
		0);
	assert_int_equal(find(db, "never.example", got), 1);
	assert_int_equal(stats(db).names, 1);
}

static void
test_expire_keeps_unexpired_entries_of_the_same_name(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry got[MAX_ENTRIES];

	set_ok(db, "x.example", mk(0, TAPIR_LIST_DOUBT, 1, NOW, 0));
	set_ok(db, "x.example", mk(1, TAPIR_LIST_DOUBT, 2, NOW + 1, 0));
	set_ok(db, "x.example",
		mk(1, TAPIR_LIST_DOUBT, 3, NOW, TAPIR_ENTRY_SUBTREE));
	assert_int_equal(tapir_db_expire(db, NOW, SIZE_MAX, NULL, NULL), 2);
	assert_int_equal(find(db, "x.example", got), 1);
	assert_int_equal(got[0].tags, 2);
	assert_int_equal(stats(db).subtree, 0);
}

static void
test_expire_reports_each_changed_name_once(void **state)
{
	struct tapir_db *db = *state;
	struct seen *s = calloc(1, sizeof(*s));
	char name[TAPIR_NAME_BUFSIZE];

	assert_non_null(s);
	for (size_t i = 0; i < 500; i++) {
		numbered(name, "n", i);
		/* Two expiring entries on even names, one kept on odd. */
		set_ok(db, name, mk(0, TAPIR_LIST_DOUBT, 0, NOW - 5, 0));
		set_ok(db, name,
			mk(0, TAPIR_LIST_DOUBT, 0, NOW, TAPIR_ENTRY_SUBTREE));
		if (i % 2)
			set_ok(db, name, mk(1, TAPIR_LIST_DOUBT, 0, LATER, 0));
	}
	set_ok(db, "untouched.example", mk(1, TAPIR_LIST_DOUBT, 0, LATER, 0));
	assert_int_equal(tapir_db_expire(db, NOW, SIZE_MAX, collect, s), 1000);
	assert_int_equal(s->n, 500);
	for (size_t i = 0; i < 500; i++)
		assert_int_equal(count_seen(s, numbered(name, "n", i)), 1);
	assert_int_equal(count_seen(s, "untouched.example"), 0);
	/* Nothing left to drop: no callback at all. */
	s->n = 0;
	assert_int_equal(tapir_db_expire(db, NOW, SIZE_MAX, collect, s), 0);
	assert_int_equal(s->n, 0);
	free(s);
}

static void
test_expire_bounded_passes_resume_and_cover_everything(void **state)
{
	struct tapir_db *db = *state;
	struct seen *s = calloc(1, sizeof(*s));
	char name[TAPIR_NAME_BUFSIZE];
	const size_t names = 1500, step = 100;
	size_t slots, passes = 0, total = 0;

	assert_non_null(s);
	for (size_t i = 0; i < names; i++)
		set_ok(db, numbered(name, "n", i),
			mk(0, TAPIR_LIST_DOUBT, 0, NOW, 0));
	slots = stats(db).index_slots;
	assert_int_equal(tapir_db_expire(db, NOW, 0, collect, s), 0);
	/* Each pass looks at step slots (one entry each at most) and
	 * starts where the last one stopped: slots/step passes reach every
	 * slot. A pass that restarted at slot 0 would never get there. */
	while (stats(db).entries > 0 && passes <= slots / step) {
		size_t d = tapir_db_expire(db, NOW, step, collect, s);
		assert_true(d <= step);
		total += d;
		passes++;
	}
	assert_int_equal(total, names);
	assert_int_equal(stats(db).entries, 0);
	assert_true(passes <= (slots + step - 1) / step);
	assert_true(passes > 1);
	assert_int_equal(s->n, names);
	for (size_t i = 0; i < names; i++)
		assert_int_equal(count_seen(s, numbered(name, "n", i)), 1);
	free(s);
}

/* Counts the names a walk visits. */
struct walk_state {
	size_t calls, stop_after;
	unsigned char hits[1000];
	size_t entries;
	bool bad;
};

static int
walk_count(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_state *w = arg;
	unsigned i;

	w->calls++;
	w->entries += n;
	if (n == 0 || !e || strlen(name) != len ||
		sscanf(name, "w%u.example.com", &i) != 1 || i >= 1000)
		w->bad = true;
	else
		w->hits[i]++;
	return w->stop_after && w->calls == w->stop_after ? 42 : 0;
}

static void
test_walk_visits_every_live_name_once(void **state)
{
	struct tapir_db *db = *state;
	struct walk_state *w = calloc(1, sizeof(*w));
	char name[TAPIR_NAME_BUFSIZE];

	assert_non_null(w);
	for (size_t i = 0; i < 1000; i++) {
		numbered(name, "w", i);
		set_ok(db, name, mk(0, TAPIR_LIST_DOUBT, 0, LATER, 0));
		if (i % 3 == 0)
			set_ok(db, name, mk(1, TAPIR_LIST_DENY, 0, LATER, 0));
	}
	for (size_t i = 0; i < 1000; i += 10)
		assert_int_equal(rm(db, numbered(name, "w", i), 0, 0), 0);
	for (size_t i = 0; i < 1000; i += 30)
		assert_int_equal(rm(db, numbered(name, "w", i), 1, 0), 0);
	assert_int_equal(tapir_db_walk(db, walk_count, w), 0);
	assert_false(w->bad);
	assert_int_equal(w->calls, stats(db).names);
	assert_int_equal(w->entries, stats(db).entries);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(w->hits[i], i % 10 == 0 ? 0 : 1);
	free(w);
}

static void
test_walk_stops_when_callback_returns_nonzero(void **state)
{
	struct tapir_db *db = *state;
	struct walk_state *w = calloc(1, sizeof(*w));
	char name[TAPIR_NAME_BUFSIZE];

	assert_non_null(w);
	for (size_t i = 0; i < 100; i++)
		set_ok(db, numbered(name, "w", i),
			mk(0, TAPIR_LIST_DOUBT, 0, LATER, 0));
	w->stop_after = 7;
	assert_int_equal(tapir_db_walk(db, walk_count, w), 42);
	assert_int_equal(w->calls, 7);
	free(w);
}

/* What a walk in parts saw: visits by name prefix and number, and the
 * largest part. */
#define PART_NAMES 6000
struct part_state {
	unsigned short w[PART_NAMES], g[PART_NAMES], c[PART_NAMES];
	size_t part, max_part, parts, calls;
	bool bad;
};

static int
part_count(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct part_state *p = arg;
	unsigned i;
	char k;

	p->part++;
	p->calls++;
	if (n == 0 || !e || strlen(name) != len ||
		sscanf(name, "%c%u.example.com", &k, &i) != 2 ||
		i >= PART_NAMES)
		p->bad = true;
	else if (k == 'w')
		p->w[i]++;
	else if (k == 'g')
		p->g[i]++;
	else if (k == 'c')
		p->c[i]++;
	else
		p->bad = true;
	return 0;
}

/* One part of a walk inside a read section of its own, as an export
 * makes them. */
static int
walk_one_part(
	struct tapir_db *db, uint64_t *cursor, size_t max, struct part_state *p)
{
	tapir_epoch_token tok = tapir_db_read_begin(db);
	int rc;

	p->part = 0;
	rc = tapir_db_walk_part(db, cursor, max, part_count, p);
	tapir_db_read_end(db, tok);
	p->parts++;
	if (p->part > p->max_part)
		p->max_part = p->part;
	return rc;
}

/* Unchanged, a walk in parts of any size sees what one walk sees: every
 * name once. Parts of one name end at each probe run's end; a part of
 * every name follows the run at the end of the index round into slot 0.
 * Each round is a database with a seed of its own, so that the rounds
 * place the names, and the runs that wrap, differently. */
static void
test_walk_in_parts_visits_every_name_once(void **state)
{
	struct part_state *p = malloc(sizeof(*p));
	static const size_t sizes[] = { 1, 7, 100, 5000 };
	char name[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_non_null(p);
	for (int round = 0; round < 16; round++) {
		struct tapir_db *db = tapir_db_create(0);
		assert_non_null(db);
		for (size_t i = 0; i < 3000; i++)
			set_ok(db, numbered(name, "w", i),
				mk(0, TAPIR_LIST_DOUBT, 0, LATER, 0));
		for (size_t i = 0; i < 3000; i += 4)
			assert_int_equal(
				rm(db, numbered(name, "w", i), 0, 0), 0);
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			uint64_t cursor = 0;
			memset(p, 0, sizeof(*p));
			while (cursor != TAPIR_DB_CURSOR_END) {
				assert_int_equal(
					walk_one_part(db, &cursor, sizes[k], p),
					0);
				assert_true(p->parts <= 3000 + 1);
			}
			assert_false(p->bad);
			for (size_t i = 0; i < 3000; i++)
				if (p->w[i] != (i % 4 != 0))
					fail_msg(
						"parts of %zu: w%zu visited %u times",
						sizes[k], i, p->w[i]);
			assert_int_equal(p->calls, stats(db).names);
			if (sizes[k] < 3000)
				assert_true(p->parts > 1);
		}
		tapir_db_destroy(db);
	}
	free(p);
}

/*
 * The writer changes the database between the parts of a walk: it grows
 * the index past several rebuilds, then empties most of it so that a
 * rebuild shrinks it, and churns names in and out. A name that had
 * entries throughout is visited exactly once; no name is visited twice.
 * A cursor that counted index slots revisits and skips names as soon as a
 * rebuild moves them.
 */
static void
test_walk_in_parts_survives_rebuilds_between_parts(void **state)
{
	struct tapir_db *db = *state;
	struct part_state *p = calloc(1, sizeof(*p));
	struct tapir_entry e = mk(0, TAPIR_LIST_DOUBT, 0, LATER, 0);
	char name[TAPIR_NAME_BUFSIZE];
	size_t grown = 0, rebuilds, max = 40;
	uint64_t cursor = 0;

	assert_non_null(p);
	for (size_t i = 0; i < 1000; i++)
		set_ok(db, numbered(name, "w", i), e);
	rebuilds = stats(db).rebuilds;
	while (cursor != TAPIR_DB_CURSOR_END) {
		assert_int_equal(walk_one_part(db, &cursor, max, p), 0);
		if (p->parts < 20) {
			/* Grow: each batch doubles the names or so. */
			for (size_t k = 0; k < 250 && grown < PART_NAMES;
				k++, grown++)
				set_ok(db, numbered(name, "g", grown), e);
		} else if (p->parts == 20) {
			/* Empty the grown names: the index shrinks. */
			for (size_t k = 0; k < grown; k++)
				assert_int_equal(
					rm(db, numbered(name, "g", k), 0, 0),
					0);
			set_ok(db, "trigger.example.com", e);
			assert_int_equal(
				rm(db, "trigger.example.com", 0, 0), 0);
		}
		/* Churn: a name in, another out. */
		set_ok(db, numbered(name, "c", p->parts % PART_NAMES), e);
		if (p->parts >= 3)
			(void)rm(db, numbered(name, "c", (p->parts - 3)), 0, 0);
		tapir_db_commit(db);
		assert_true(p->parts < 10000);
	}
	assert_false(p->bad);
	/* Growth and the shrink rebuilt the index during the walk. */
	if (stats(db).rebuilds < rebuilds + 3)
		fail_msg("only %zu rebuilds during the walk",
			stats(db).rebuilds - rebuilds);
	for (size_t i = 0; i < 1000; i++)
		if (p->w[i] != 1)
			fail_msg("w%zu, there throughout, visited %u times", i,
				p->w[i]);
	for (size_t i = 0; i < PART_NAMES; i++)
		if (p->g[i] > 1 || p->c[i] > 1)
			fail_msg("g%zu visited %u times, c%zu %u times", i,
				p->g[i], i, p->c[i]);
	/* A part ends at the end of a probe run: a bounded overshoot. */
	if (p->max_part > max + 400)
		fail_msg(
			"a part visited %zu names (max %zu)", p->max_part, max);
	free(p);
}

static void
test_walk_in_parts_stops_with_the_callback_value(void **state)
{
	struct tapir_db *db = *state;
	struct walk_state *w = calloc(1, sizeof(*w));
	char name[TAPIR_NAME_BUFSIZE];
	uint64_t cursor = 0;

	assert_non_null(w);
	for (size_t i = 0; i < 100; i++)
		set_ok(db, numbered(name, "w", i),
			mk(0, TAPIR_LIST_DOUBT, 0, LATER, 0));
	w->stop_after = 7;
	assert_int_equal(
		tapir_db_walk_part(db, &cursor, 50, walk_count, w), 42);
	assert_int_equal(w->calls, 7);
	assert_int_equal(cursor, 0);
	free(w);
}

static void
test_has_subtree_follows_subtree_entries(void **state)
{
	struct tapir_db *db = *state;
	struct tapir_entry sub =
		mk(1, TAPIR_LIST_DENY, 0, NOW, TAPIR_ENTRY_SUBTREE);

	assert_false(tapir_db_has_subtree(db));
	set_ok(db, "example.com", mk(1, TAPIR_LIST_DENY, 0, LATER, 0));
	assert_false(tapir_db_has_subtree(db));
	set_ok(db, "example.com", sub);
	assert_true(tapir_db_has_subtree(db));
	assert_int_equal(rm(db, "example.com", 1, TAPIR_ENTRY_SUBTREE), 0);
	assert_false(tapir_db_has_subtree(db));
	set_ok(db, "example.org", sub);
	assert_true(tapir_db_has_subtree(db));
	assert_int_equal(tapir_db_remove_source(db, 1), 2);
	assert_false(tapir_db_has_subtree(db));
	set_ok(db, "example.net", sub);
	assert_true(tapir_db_has_subtree(db));
	assert_int_equal(tapir_db_expire(db, NOW, SIZE_MAX, NULL, NULL), 1);
	assert_false(tapir_db_has_subtree(db));
}

/*
 * One writer, three readers. The writer keeps replacing the entries of a
 * fixed set of names (tags alternate between two values, a subtree entry
 * comes and goes) while it grows and shrinks a second source by tens of
 * thousands of names, so the index is rebuilt and the arena compacted
 * under the readers. Readers must only ever see whole, valid entries.
 */
#define FIXED	     64
#define TAGS_A	     0x00000005u
#define TAGS_B	     0x000000a0u
#define TAGS_SUB     0x00010000u
#define TAGS_GROW    0x00000777u
#define GROW_NAMES   30000 /* ~1.4 MiB of arena: enough to compact */
#define CONC_READERS 3
#define CONC_MS	     2000

/* Growth name i of a cycle: every other one too long for its index cell,
 * so that both kinds of name are copied under the readers. */
static void
grow_name(char name[TAPIR_NAME_BUFSIZE], unsigned cycle, unsigned i)
{
	snprintf(name, TAPIR_NAME_BUFSIZE, "g%u-%u%s.grow.example", cycle, i,
		i % 2 ? ".a-label-that-keeps-it-in-the-arena" : "");
}

struct conc {
	struct tapir_db *db;
	atomic_bool stop;
	atomic_uint cycle; /* growth names "g<cycle>-<i>" exist */
	atomic_ulong lookups, bad, missing, grow_hits;
	char fixed[FIXED][TAPIR_NAME_BUFSIZE];
};

static bool
fixed_entry_ok(const struct tapir_entry *e)
{
	if (e->list != TAPIR_LIST_DOUBT || e->expiry != LATER)
		return false;
	if (e->source == 0 && e->flags == 0)
		return e->tags == TAGS_A || e->tags == TAGS_B;
	if (e->source == 1 && e->flags == TAPIR_ENTRY_SUBTREE)
		return e->tags == TAGS_SUB;
	return false;
}

static void *
conc_reader(void *arg)
{
	struct conc *c = arg;
	unsigned long lookups = 0, bad = 0, missing = 0, grow_hits = 0;
	unsigned k = 0;

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		char name[TAPIR_NAME_BUFSIZE];
		tapir_epoch_token tok = tapir_db_read_begin(c->db);
		unsigned cyc = atomic_load(&c->cycle);
		const struct tapir_entry *e;
		size_t n;

		for (size_t i = 0; i < FIXED; i++) {
			e = tapir_db_find(
				c->db, c->fixed[i], strlen(c->fixed[i]), &n);
			/* The exact entry of source 0 is never removed. */
			if (n < 1 || n > 2 || e[0].source != 0)
				missing++;
			for (size_t j = 0; j < n && j < 2; j++)
				bad += !fixed_entry_ok(&e[j]);
			lookups++;
		}
		grow_name(name, cyc, k++ % GROW_NAMES);
		e = tapir_db_find(c->db, name, strlen(name), &n);
		if (n) {
			grow_hits++;
			bad += n != 1 || e[0].source != 2 ||
			       e[0].tags != TAGS_GROW;
		}
		tapir_db_read_end(c->db, tok);
	}
	atomic_fetch_add(&c->lookups, lookups);
	atomic_fetch_add(&c->bad, bad);
	atomic_fetch_add(&c->missing, missing);
	atomic_fetch_add(&c->grow_hits, grow_hits);
	return NULL;
}

static void
conc_touch_fixed(struct conc *c, unsigned round)
{
	for (size_t i = 0; i < FIXED; i++) {
		const char *name = c->fixed[i];
		uint32_t tags = (round + i) % 2 ? TAGS_A : TAGS_B;

		set_ok(c->db, name, mk(0, TAPIR_LIST_DOUBT, tags, LATER, 0));
		if ((round + i) % 3 == 0)
			set_ok(c->db, name,
				mk(1, TAPIR_LIST_DOUBT, TAGS_SUB, LATER,
					TAPIR_ENTRY_SUBTREE));
		else if ((round + i) % 3 == 1)
			(void)rm(c->db, name, 1, TAPIR_ENTRY_SUBTREE);
	}
}

static void
test_readers_see_only_valid_entries_during_updates(void **state)
{
	struct conc *c = calloc(1, sizeof(*c));
	pthread_t th[CONC_READERS];
	int64_t end = tapir_monotonic_ms() + CONC_MS;
	unsigned round = 0, cycles = 0, rebuilds = 0, compactions = 0;
	struct tapir_db_stats st;
	size_t slots;

	assert_non_null(c);
	c->db = *state;
	for (size_t i = 0; i < FIXED; i++)
		snprintf(c->fixed[i], TAPIR_NAME_BUFSIZE,
			"fixed%zu.example.org", i);
	conc_touch_fixed(c, round++);
	tapir_db_commit(c->db);
	slots = stats(c->db).index_slots;
	for (int i = 0; i < CONC_READERS; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, conc_reader, c), 0);
	/* Always one full cycle (grow, then drop and compact), then more
	 * while time is left. */
	do {
		char name[TAPIR_NAME_BUFSIZE];

		atomic_store(&c->cycle, cycles);
		for (unsigned i = 0; i < GROW_NAMES; i++) {
			grow_name(name, cycles, i);
			struct tapir_entry ge =
				mk(2, TAPIR_LIST_DENY, TAGS_GROW, LATER, 0);
			/* Distinct entries, so that no set is shared and
			 * each cycle leaves enough garbage to compact. */
			ge.added = NOW - 1000000 + i;
			set_ok(c->db, name, ge);
			if (i % 1000 == 0) {
				conc_touch_fixed(c, round++);
				tapir_db_commit(c->db);
			}
			if (stats(c->db).index_slots != slots) {
				slots = stats(c->db).index_slots;
				rebuilds++;
			}
		}
		assert_int_equal(tapir_db_remove_source(c->db, 2), GROW_NAMES);
		tapir_db_commit(c->db);
		st = stats(c->db);
		/* Only a compaction shrinks the index. */
		compactions += st.index_slots < slots;
		slots = st.index_slots;
		cycles++;
	} while (tapir_monotonic_ms() < end);
	atomic_store(&c->stop, true);
	for (int i = 0; i < CONC_READERS; i++)
		pthread_join(th[i], NULL);
	print_message("%u cycles, %u index resizes, %u compactions, "
		      "%lu lookups, %lu growth hits\n",
		cycles, rebuilds, compactions, atomic_load(&c->lookups),
		atomic_load(&c->grow_hits));
	assert_int_equal(atomic_load(&c->bad), 0);
	assert_int_equal(atomic_load(&c->missing), 0);
	/* Not vacuous: the readers ran through rebuilds and compactions. */
	assert_true(atomic_load(&c->lookups) > 0);
	assert_true(rebuilds >= 5);
	assert_int_equal(compactions, cycles);
	assert_int_equal(st.names, FIXED);
	free(c);
}

/* A reader inside a read section since before a rebuild. */
struct held {
	struct tapir_db *db;
	atomic_bool inside, done;
};

static void *
hold_read(void *arg)
{
	struct held *h = arg;
	tapir_epoch_token tok = tapir_db_read_begin(h->db);
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	atomic_store(&h->inside, true);
	nanosleep(&ts, NULL);
	atomic_store(&h->done, true);
	tapir_db_read_end(h->db, tok);
	return NULL;
}

/* A reader on the old index would not see what the writer changes in the
 * new one: the set that rebuilds returns only after such readers left. */
static void
test_a_rebuild_waits_for_readers_of_the_old_index(void **state)
{
	struct held h = { .db = tapir_db_create(0) };
	char name[TAPIR_NAME_BUFSIZE];
	pthread_t th;
	size_t slots, i = 0;

	(void)state;
	assert_non_null(h.db);
	set_ok(h.db, "first.example", mk(0, TAPIR_LIST_DENY, 0, LATER, 0));
	slots = stats(h.db).index_slots;
	assert_int_equal(pthread_create(&th, NULL, hold_read, &h), 0);
	while (!atomic_load(&h.inside))
		sched_yield();
	while (stats(h.db).index_slots == slots)
		set_ok(h.db, numbered(name, "r", i++),
			mk(0, TAPIR_LIST_DENY, 0, LATER, 0));
	assert_true(atomic_load(&h.done));
	pthread_join(th, NULL);
	tapir_db_destroy(h.db);
}

/* Names whose only entry is the same share one entry set: less memory,
 * and each name still changes, expires and is counted on its own. */
static void
test_identical_entries_share_one_set(void **state)
{
	struct tapir_db *same = tapir_db_create(0),
			*distinct = tapir_db_create(0);
	struct tapir_entry e = mk(1, TAPIR_LIST_DOUBT, 1, NOW + 60, 0);
	struct tapir_entry other = mk(1, TAPIR_LIST_DOUBT, 2, NOW + 60, 0);
	char name[64];
	const struct tapir_entry *found;
	size_t n, left;

	(void)state;
	for (int i = 0; i < 300000; i++) {
		struct tapir_entry d = e;
		(void)snprintf(name, sizeof(name), "n%d.example", i);
		d.added = NOW - i;
		set_ok(same, name, e);
		set_ok(distinct, name, d);
	}
	/* ~28 bytes a name against ~48: whole 4 MiB chunks fewer. */
	assert_true(
		stats(same).bytes + ((size_t)4 << 20) <= stats(distinct).bytes);
	assert_int_equal(stats(same).entries, 300000);

	/* One name moves to another entry, its neighbours keep theirs. */
	set_ok(same, "n5.example", other);
	found = tapir_db_find(same, "n5.example", 10, &n);
	assert_int_equal(n, 1);
	assert_int_equal(found[0].tags, 2);
	found = tapir_db_find(same, "n6.example", 10, &n);
	assert_int_equal(n, 1);
	assert_int_equal(found[0].tags, 1);
	/* Back to the shared entry, then a second entry on top. */
	set_ok(same, "n5.example", e);
	set_ok(same, "n5.example", mk(2, TAPIR_LIST_DENY, 0, NOW + 60, 0));
	found = tapir_db_find(same, "n5.example", 10, &n);
	assert_int_equal(n, 2);
	found = tapir_db_find(same, "n7.example", 10, &n);
	assert_int_equal(n, 1);
	assert_int_equal(stats(same).entries, 300001);

	/* Everything expires, name by name; the memory goes back. */
	left = 300001;
	for (int pass = 0; pass < 64 && left; pass++)
		left -= tapir_db_expire(same, NOW + 61, SIZE_MAX, NULL, NULL);
	assert_int_equal(left, 0);
	assert_int_equal(stats(same).names, 0);
	for (int i = 0; i < 1000; i++) {
		(void)snprintf(name, sizeof(name), "after%d.example", i);
		set_ok(same, name, e);
	}
	tapir_db_commit(same);
	assert_true(stats(same).bytes <= ((size_t)8 << 20));
	tapir_db_destroy(same);
	tapir_db_destroy(distinct);
}

/* The count of entries that can expire follows every change: expiry
 * passes are skipped while it is 0. */
static void
test_expiring_entries_are_counted(void **state)
{
	struct tapir_db *db = tapir_db_create(0);

	(void)state;
	set_ok(db, "file.example",
		mk(1, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	set_ok(db, "both.example",
		mk(1, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	assert_int_equal(stats(db).expiring, 0);
	assert_int_equal(
		tapir_db_expire(db, NOW + 100000, SIZE_MAX, NULL, NULL), 0);
	set_ok(db, "both.example", mk(2, TAPIR_LIST_DOUBT, 1, NOW + 60, 0));
	set_ok(db, "mqtt.example", mk(2, TAPIR_LIST_DOUBT, 1, NOW + 60, 0));
	assert_int_equal(stats(db).expiring, 2);
	/* An update that gives an entry an expiry, and one that takes it. */
	set_ok(db, "file.example", mk(1, TAPIR_LIST_DENY, 0, NOW + 30, 0));
	assert_int_equal(stats(db).expiring, 3);
	set_ok(db, "file.example",
		mk(1, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	assert_int_equal(stats(db).expiring, 2);
	assert_int_equal(rm(db, "mqtt.example", 2, 0), 0);
	assert_int_equal(stats(db).expiring, 1);
	assert_int_equal(
		tapir_db_expire(db, NOW + 61, SIZE_MAX, NULL, NULL), 1);
	assert_int_equal(stats(db).expiring, 0);
	assert_int_equal(stats(db).names, 2);
	tapir_db_destroy(db);
}

/* Entries are counted per source through every change: a set, its
 * replacement, a second kind, a removal, an expiry pass, a source dropped
 * whole, and entries shared by many names (the metrics' entries per
 * source come from here). */
static void
test_entries_are_counted_per_source(void **state)
{
	struct tapir_db *db = tapir_db_create(0);
	char name[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(tapir_db_source_entries(db, 1), 0);
	set_ok(db, "a.example",
		mk(1, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	set_ok(db, "a.example", mk(1, TAPIR_LIST_DENY, 0, NOW + 60, 0));
	set_ok(db, "a.example",
		mk(1, TAPIR_LIST_DENY, 0, NOW + 60, TAPIR_ENTRY_SUBTREE));
	set_ok(db, "a.example", mk(2, TAPIR_LIST_DOUBT, 1, NOW + 30, 0));
	set_ok(db, "b.example", mk(2, TAPIR_LIST_DOUBT, 1, LATER, 0));
	assert_int_equal(tapir_db_source_entries(db, 1), 2);
	assert_int_equal(tapir_db_source_entries(db, 2), 2);
	assert_int_equal(rm(db, "a.example", 1, TAPIR_ENTRY_SUBTREE), 0);
	assert_int_equal(tapir_db_source_entries(db, 1), 1);
	assert_int_equal(
		tapir_db_expire(db, NOW + 31, SIZE_MAX, NULL, NULL), 1);
	assert_int_equal(tapir_db_source_entries(db, 2), 1);
	/* Shared sets: one entry set, many names, each counted. */
	for (size_t i = 0; i < 100; i++)
		set_ok(db, numbered(name, "f", i),
			mk(5, TAPIR_LIST_DENY, 0, TAPIR_EXPIRY_NEVER, 0));
	assert_int_equal(tapir_db_source_entries(db, 5), 100);
	assert_int_equal(tapir_db_remove_source(db, 5), 100);
	assert_int_equal(tapir_db_source_entries(db, 5), 0);
	assert_int_equal(tapir_db_source_entries(db, 1), 1);
	assert_int_equal(tapir_db_source_entries(db, 2), 1);
	assert_int_equal(stats(db).entries, 2);
	/* Past the counted sources: stored, never counted. */
	set_ok(db, "c.example",
		mk(TAPIR_DB_COUNTED_SOURCES, TAPIR_LIST_DENY, 0, LATER, 0));
	assert_int_equal(
		tapir_db_source_entries(db, TAPIR_DB_COUNTED_SOURCES), 0);
	tapir_db_destroy(db);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* An expiry pass with nothing to drop leaves the index alone, however
 * many arena chunks the names fill: a rebuild of the whole index on every
 * pass once stalled the writer ~70 ms a second at 1M names. */
static void
expiry_pass_keeps_index(int names)
{
	struct tapir_db *db = tapir_db_create(0);
	struct tapir_entry e = mk(1, TAPIR_LIST_DOUBT, 1, NOW + 3600, 0);
	struct tapir_db_stats before, after;
	char name[64];

	for (int i = 0; i < names; i++) {
		int l = snprintf(name, sizeof(name),
			"name-%d.padding-to-a-longer-name.example", i);
		e.added = NOW - (uint32_t)i;
		assert_int_equal(tapir_db_set(db, name, (size_t)l, &e), 0);
	}
	tapir_db_commit(db);
	/* From right after the load: the first pass rebuilt too, once. */
	tapir_db_stats(db, &before);
	for (int pass = 0; pass < 8; pass++)
		assert_int_equal(
			tapir_db_expire(db, NOW, 65536, NULL, NULL), 0);
	assert_int_equal(tapir_db_remove_source(db, 9), 0);
	tapir_db_stats(db, &after);
	assert_int_equal(after.rebuilds, before.rebuilds);
	assert_int_equal(after.names, names);
	tapir_db_destroy(db);
}

static void
test_expiry_pass_does_not_rebuild_a_settled_index(void **state)
{
	(void)state;
	/* Names of ~72 bytes with an entry of their own. 350k fill six 4 MiB
	 * chunks, where asking room for twice the live chunks outgrew what a
	 * rebuild leaves (2 * 6 + 2, rounded up to 16 chunks): every pass
	 * rebuilt. 500k fill nine, where asking room for the live chunks
	 * again (9 + 2 + 9 > 16) rebuilt at the first pass after the load. */
	expiry_pass_keeps_index(350000);
	expiry_pass_keeps_index(500000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_set_then_find_returns_the_entry),
		T(test_find_absent_name_returns_nothing),
		T(test_set_same_source_and_kind_replaces_tags_and_expiry),
		T(test_set_had_names_the_replaced_entry),
		T(test_exact_and_subtree_entries_of_same_source_coexist),
		T(test_entries_sorted_by_source_and_kind_whatever_the_order),
		T(test_remove_drops_only_that_source_and_kind),
		T(test_remove_absent_entry_returns_enoent),
		T(test_remove_last_entry_makes_name_absent),
		T(test_remove_source_drops_only_that_source),
		T(test_set_rejects_invalid_arguments),
		T(test_names_of_length_1_and_253_are_stored),
		cmocka_unit_test(test_max_names_full_but_existing_names_update),
		cmocka_unit_test(
			test_expiry_pass_does_not_rebuild_a_settled_index),
		cmocka_unit_test(test_identical_entries_share_one_set),
		cmocka_unit_test(test_expiring_entries_are_counted),
		cmocka_unit_test(test_entries_are_counted_per_source),
		cmocka_unit_test(test_max_names_counts_a_readded_emptied_name),
		T(test_many_names_findable_across_index_rebuilds),
		T(test_readded_names_reuse_their_records),
		T(test_new_names_after_mass_removal_compact_the_arena),
		T(test_expiring_most_names_gives_memory_back),
		T(test_removing_a_big_source_gives_memory_back),
		T(test_removing_a_big_shared_entry_source_shrinks_the_index),
		T(test_names_either_side_of_the_cell_limit_are_told_apart),
		cmocka_unit_test(
			test_a_rebuild_waits_for_readers_of_the_old_index),
		T(test_expire_drops_entries_whose_expiry_is_now_or_earlier),
		T(test_expire_keeps_unexpired_entries_of_the_same_name),
		T(test_expire_reports_each_changed_name_once),
		T(test_expire_bounded_passes_resume_and_cover_everything),
		T(test_walk_visits_every_live_name_once),
		T(test_walk_stops_when_callback_returns_nonzero),
		T(test_walk_in_parts_visits_every_name_once),
		T(test_walk_in_parts_survives_rebuilds_between_parts),
		T(test_walk_in_parts_stops_with_the_callback_value),
		T(test_has_subtree_follows_subtree_entries),
		T(test_readers_see_only_valid_entries_during_updates),
	};

	/* TAPIR_DB_TEST_FILTER: only the tests whose names match (cmocka's
	 * patterns, * and ?); the ThreadSanitizer run of scripts/test-all.sh
	 * takes the concurrent ones ("*reader*"), as the others take minutes
	 * under it and have one thread. */
	if (getenv("TAPIR_DB_TEST_FILTER"))
		cmocka_set_test_filter(getenv("TAPIR_DB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
