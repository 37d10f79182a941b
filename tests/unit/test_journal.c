/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/journal.c: records written and replayed give back the
 * same entries, every field, exact and subtree, removes included, across a
 * reordered configuration; a torn tail is dropped, counted, and cut off by
 * a reopen so that what is appended after it replays; a record with a bad
 * checksum in the middle stops the replay there; a journal of another
 * generation, or not a journal, applies nothing; records of a source no
 * longer configured (or whose list changed) are skipped, and so are
 * expired entries, which also remove the entry they replaced.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/db_read.h"
#include "lib/journal.h"
#include "tests/unit/fixture.h"

#define NOW   1700000000
#define LATER (NOW + 3600)
#define GEN   1699990000

struct fixture {
	char dir[64];
	char path[96];
	struct tapir_config *cfg;
	struct tapir_db *db;
	struct tapir_journal_batch b;
};

static const struct fixture_src sources[] = {
	{ "dns-tapir", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
	{ "local", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
};

/* An entry at this test's clock. */
#define mk(source, list, tags, expiry, flags)                                  \
	fixture_entry(source, list, tags, expiry, flags, NOW)

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/tapir-journal-XXXXXX",
		tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/state.journal", f->dir);
	f->cfg = fixture_sources_config(sources, 2);
	if (!(f->db = tapir_db_create(0)))
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	tapir_journal_batch_free(&f->b);
	tapir_db_destroy(f->db);
	free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static size_t
find(struct tapir_db *db, const char *name, struct tapir_entry *out)
{
	tapir_epoch_token tok = tapir_db_read_begin(db);
	size_t n = 0;
	const struct tapir_entry *e = tapir_db_find(db, name, strlen(name), &n);

	assert_true(n <= 8);
	if (n)
		memcpy(out, e, n * sizeof(*e));
	tapir_db_read_end(db, tok);
	return n;
}

static size_t
db_entries(struct tapir_db *db)
{
	struct tapir_db_stats st;

	tapir_db_stats(db, &st);
	return st.entries;
}

static void
add_set(struct fixture *f, int src, const char *name, struct tapir_entry e)
{
	assert_int_equal(tapir_journal_add_set(&f->b, &f->cfg->sources[src],
				 name, strlen(name), &e),
		0);
}

static void
add_remove(struct fixture *f, int src, const char *name, uint8_t flags)
{
	assert_int_equal(tapir_journal_add_remove(&f->b, &f->cfg->sources[src],
				 name, strlen(name), flags),
		0);
}

/* Start a journal and append the batch (emptied after), as one write. */
static struct tapir_journal *
start(struct fixture *f, int64_t gen)
{
	struct tapir_journal *j = NULL;
	struct tapir_error err = { 0 };

	assert_int_equal(tapir_journal_start(f->path, gen, &j, &err), 0);
	assert_non_null(j);
	assert_int_equal(tapir_journal_size(j), TAPIR_JOURNAL_HDR_SIZE);
	return j;
}

static void
append(struct fixture *f, struct tapir_journal *j)
{
	struct tapir_error err = { 0 };
	uint64_t before = tapir_journal_size(j);

	assert_int_equal(tapir_journal_append(j, &f->b, &err), 0);
	assert_int_equal(tapir_journal_size(j), before + f->b.len);
	tapir_journal_batch_reset(&f->b);
}

static int
replay(struct fixture *f, struct tapir_db *db, const struct tapir_config *cfg,
	int64_t gen, struct tapir_journal_stats *st)
{
	struct tapir_error err = { 0 };

	return tapir_journal_replay(f->path, gen, db, cfg, NOW, st, &err);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void
test_round_trip(void **state)
{
	struct fixture *f = *state;
	static const struct fixture_src reordered[] = {
		{ "other", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
		{ "local", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
		{ "dns-tapir", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
	};
	struct tapir_config *cfg2 = fixture_sources_config(reordered, 3);
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, GEN);
	struct tapir_entry e[8];
	struct tapir_entry pre = mk(1, TAPIR_LIST_DENY, 9, LATER, 0);

	add_set(f, 0, "a.example", mk(0, TAPIR_LIST_DOUBT, 10, LATER, 0));
	add_set(f, 1, "b.example",
		mk(1, TAPIR_LIST_DENY, 11, LATER + 5, TAPIR_ENTRY_SUBTREE));
	append(f, j);
	/* A second message: one more set, and a remove of an entry the
	 * state file brought (pre, below) and of one this journal set. */
	add_set(f, 0, "c.example", mk(0, TAPIR_LIST_DOUBT, 12, LATER, 0));
	add_remove(f, 1, "gone.example", 0);
	add_remove(f, 1, "b.example", TAPIR_ENTRY_SUBTREE);
	add_set(f, 1, "b.example", mk(1, TAPIR_LIST_DENY, 13, LATER, 0));
	append(f, j);
	assert_int_equal(tapir_journal_sync(j), 0);
	tapir_journal_close(j);

	/* Replayed on top of the state file, under a reordered config:
	 * "local" is index 1 there too, "dns-tapir" 2. */
	pre.source = 1;
	assert_int_equal(tapir_db_set(f->db, "gone.example", 12, &pre), 0);
	assert_int_equal(replay(f, f->db, cfg2, GEN, &st), 0);
	assert_int_equal(st.generation, GEN);
	assert_int_equal(st.replayed, 6);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.other_source, 0);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.valid_len, file_size(f->path));
	assert_int_equal(db_entries(f->db), 3);
	assert_int_equal(find(f->db, "gone.example", e), 0);
	assert_int_equal(find(f->db, "a.example", e), 1);
	assert_int_equal(e[0].source, 2);
	assert_int_equal(e[0].list, TAPIR_LIST_DOUBT);
	assert_int_equal(e[0].tags, 10);
	assert_int_equal(e[0].added, NOW - 20);
	assert_int_equal(e[0].expiry, LATER);
	assert_int_equal(e[0].flags, 0);
	/* The subtree entry was set and removed; the exact one stays. */
	assert_int_equal(find(f->db, "b.example", e), 1);
	assert_int_equal(e[0].source, 1);
	assert_int_equal(e[0].tags, 13);
	assert_int_equal(e[0].flags, 0);
	assert_int_equal(find(f->db, "c.example", e), 1);
	assert_int_equal(e[0].tags, 12);
	free(cfg2);
}

static void
test_subtree_entry_kept(void **state)
{
	struct fixture *f = *state;
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, 0);
	struct tapir_entry e[8];

	add_set(f, 1, "sub.example",
		mk(1, TAPIR_LIST_DENY, 3, LATER, TAPIR_ENTRY_SUBTREE));
	append(f, j);
	tapir_journal_close(j);
	/* Generation 0: the journal of a start without a state file. */
	assert_int_equal(replay(f, f->db, f->cfg, 0, &st), 0);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(find(f->db, "sub.example", e), 1);
	assert_int_equal(e[0].flags, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(e[0].expiry, LATER);
}

static void
test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, GEN);
	struct tapir_error err = { 0 };
	struct tapir_db *db2;
	uint64_t good;

	add_set(f, 0, "one.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	append(f, j);
	good = tapir_journal_size(j);
	add_set(f, 0, "two.example", mk(0, TAPIR_LIST_DOUBT, 2, LATER, 0));
	append(f, j);
	tapir_journal_close(j);
	/* The last write only got part of the way: 5 bytes short. */
	assert_int_equal(truncate(f->path, file_size(f->path) - 5), 0);

	assert_int_equal(replay(f, f->db, f->cfg, GEN, &st), 0);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(st.valid_len, good);
	assert_int_equal(st.dropped, file_size(f->path) - (off_t)good);
	assert_true(st.dropped > 0);
	assert_int_equal(db_entries(f->db), 1);

	/* Reopened after the good records: the tail is cut off, and what
	 * is appended now replays. */
	assert_int_equal(
		tapir_journal_reopen(f->path, st.valid_len, &j, &err), 0);
	assert_int_equal(file_size(f->path), (off_t)good);
	add_set(f, 0, "three.example", mk(0, TAPIR_LIST_DOUBT, 3, LATER, 0));
	append(f, j);
	tapir_journal_close(j);
	assert_non_null(db2 = tapir_db_create(0));
	assert_int_equal(replay(f, db2, f->cfg, GEN, &st), 0);
	assert_int_equal(st.replayed, 2);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(db_entries(db2), 2);
	tapir_db_destroy(db2);
}

static void
test_bad_checksum_in_middle(void **state)
{
	struct fixture *f = *state;
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, GEN);
	struct tapir_entry e[8];
	uint64_t first, second;
	int fd;
	char c;

	add_set(f, 0, "one.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	append(f, j);
	first = tapir_journal_size(j);
	add_set(f, 0, "two.example", mk(0, TAPIR_LIST_DOUBT, 2, LATER, 0));
	append(f, j);
	second = tapir_journal_size(j);
	add_set(f, 0, "six.example", mk(0, TAPIR_LIST_DOUBT, 3, LATER, 0));
	append(f, j);
	tapir_journal_close(j);
	/* One byte of the second record's tags changes: still a record
	 * that parses, but its checksum no longer matches. */
	assert_true((fd = open(f->path, O_RDWR)) >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)first + 6), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)first + 6), 1);
	close(fd);

	assert_int_equal(replay(f, f->db, f->cfg, GEN, &st), 0);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(st.valid_len, first);
	assert_int_equal(st.dropped, file_size(f->path) - (off_t)first);
	assert_true(st.dropped > second - first);
	assert_int_equal(find(f->db, "one.example", e), 1);
	assert_int_equal(find(f->db, "two.example", e), 0);
	assert_int_equal(find(f->db, "six.example", e), 0);
}

static void
test_generation_mismatch(void **state)
{
	struct fixture *f = *state;
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, GEN);

	add_set(f, 0, "one.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	append(f, j);
	tapir_journal_close(j);
	assert_int_equal(replay(f, f->db, f->cfg, GEN + 1, &st), TAPIR_ERANGE);
	assert_int_equal(st.generation, GEN);
	assert_int_equal(st.replayed, 0);
	assert_int_equal(replay(f, f->db, f->cfg, 0, &st), TAPIR_ERANGE);
	assert_int_equal(db_entries(f->db), 0);

	/* A new journal replaces it whole: empty, of the new generation. */
	j = start(f, GEN + 1);
	tapir_journal_close(j);
	assert_int_equal(file_size(f->path), TAPIR_JOURNAL_HDR_SIZE);
	assert_int_equal(replay(f, f->db, f->cfg, GEN + 1, &st), 0);
	assert_int_equal(st.replayed, 0);
	assert_int_equal(db_entries(f->db), 0);
}

static void
test_missing_or_not_a_journal(void **state)
{
	struct fixture *f = *state;
	struct tapir_journal_stats st;
	FILE *fp;

	assert_int_equal(replay(f, f->db, f->cfg, GEN, &st), TAPIR_ENOENT);
	assert_non_null(fp = fopen(f->path, "w"));
	fputs("TAPIRST\n and more bytes than a header needs to be read", fp);
	fclose(fp);
	assert_int_equal(replay(f, f->db, f->cfg, GEN, &st), TAPIR_EPARSE);
	assert_int_equal(db_entries(f->db), 0);
}

static void
test_source_no_longer_configured(void **state)
{
	struct fixture *f = *state;
	static const struct fixture_src changed[] = {
		/* "local" is gone; "dns-tapir" now feeds the denylist. */
		{ "dns-tapir", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
		{ "new", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
	};
	struct tapir_config *cfg2 = fixture_sources_config(changed, 2);
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, GEN);

	add_set(f, 0, "one.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	add_set(f, 1, "two.example", mk(1, TAPIR_LIST_DENY, 2, LATER, 0));
	add_remove(f, 1, "three.example", 0);
	append(f, j);
	tapir_journal_close(j);
	assert_int_equal(replay(f, f->db, cfg2, GEN, &st), 0);
	assert_int_equal(st.replayed, 0);
	assert_int_equal(st.other_source, 3);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(db_entries(f->db), 0);
	free(cfg2);
}

static void
test_expired_entry(void **state)
{
	struct fixture *f = *state;
	struct tapir_journal_stats st;
	struct tapir_journal *j = start(f, GEN);
	struct tapir_entry e[8];
	struct tapir_entry old = mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0);

	/* Expired by replay time (expiry is the first dead second): the
	 * entry the state file had for it goes, as the set replaced it. */
	add_set(f, 0, "old.example", mk(0, TAPIR_LIST_DOUBT, 2, NOW, 0));
	add_set(f, 0, "new.example", mk(0, TAPIR_LIST_DOUBT, 3, NOW - 5, 0));
	add_set(f, 0, "live.example", mk(0, TAPIR_LIST_DOUBT, 4, NOW + 1, 0));
	append(f, j);
	tapir_journal_close(j);
	assert_int_equal(tapir_db_set(f->db, "old.example", 11, &old), 0);
	assert_int_equal(replay(f, f->db, f->cfg, GEN, &st), 0);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(st.expired, 2);
	assert_int_equal(find(f->db, "old.example", e), 0);
	assert_int_equal(find(f->db, "new.example", e), 0);
	assert_int_equal(find(f->db, "live.example", e), 1);
	assert_int_equal(db_entries(f->db), 1);
}

static void
test_batch_refuses_what_does_not_fit(void **state)
{
	struct fixture *f = *state;
	struct tapir_source_config unnamed = { .list = TAPIR_LIST_DOUBT };
	struct tapir_entry ent = mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0);
	char name[300];

	memset(name, 'a', sizeof(name));
	assert_int_equal(tapir_journal_add_set(
				 &f->b, &f->cfg->sources[0], name, 254, &ent),
		TAPIR_EINVAL);
	assert_int_equal(
		tapir_journal_add_set(&f->b, &unnamed, "a.example", 9, &ent),
		TAPIR_EINVAL);
	assert_int_equal(f->b.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_subtree_entry_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_checksum_in_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_generation_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_missing_or_not_a_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_source_no_longer_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_expired_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_batch_refuses_what_does_not_fit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
