/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/state.c: a save and a load give back the same entries,
 * every field, exact and subtree; expiry is exact to the second on both
 * sides; sources map by name, and gone or changed ones are skipped and
 * counted; a failed save leaves the old file and no temporary; every
 * one-byte change and every truncation of a valid file is refused with
 * nothing added; structural checks hold even behind a valid checksum; and
 * 200k entries go through both ways (rates printed, not asserted).
 *
 * With TAPIR_STATE_SEEDS=dir set, test_write_fuzz_seeds writes the seed
 * corpus of tests/fuzz/fuzz_state.c into dir (same config as there).
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/name.h"
#include "lib/state.h"
#include "tests/unit/fixture.h"

#define NOW   1700000000
#define LATER (NOW + 3600)

struct fixture {
	char dir[64];
	char path[96];
	struct tapir_config *cfg;
	struct tapir_db *db;
};

/* The config of the fuzz target: keep the two in step. */
static const struct fixture_src fuzz_sources[] = {
	{ "dns-tapir", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
	{ "local", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
	{ "allow", TAPIR_LIST_ALLOW, TAPIR_SOURCE_FILE },
};

/* An entry at this test's clock. */
#define mk(source, list, tags, expiry, flags)                                  \
	fixture_entry(source, list, tags, expiry, flags, NOW)

static void
set_ok(struct tapir_db *db, const char *name, struct tapir_entry e)
{
	assert_int_equal(tapir_db_set(db, name, strlen(name), &e), 0);
}

static size_t
db_entries(struct tapir_db *db)
{
	struct tapir_db_stats st;

	tapir_db_stats(db, &st);
	return st.entries;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/tapir-state-XXXXXX",
		tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	f->cfg = fixture_sources_config(fuzz_sources, 3);
	if (!(f->db = tapir_db_create(0)))
		return -1;
	*state = f;
	return 0;
}

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d;
	struct dirent *de;

	chmod(f->dir, 0700);
	if ((d = opendir(f->dir))) {
		while ((de = readdir(d))) {
			char p[512];
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	tapir_db_destroy(f->db);
	free(f->cfg);
	free(f);
	return 0;
}

/* A sorted copy of a database, for comparing two. */
struct item {
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_entry e;
};

struct snap {
	struct item *v;
	size_t n, cap;
};

static int
snap_cb(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct snap *s = arg;

	for (size_t i = 0; i < n; i++) {
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->v = realloc(s->v, s->cap * sizeof(*s->v));
			assert_non_null(s->v);
		}
		memcpy(s->v[s->n].name, name, len);
		s->v[s->n].name[len] = '\0';
		s->v[s->n].e = e[i];
		s->n++;
	}
	return 0;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->e.source != y->e.source)
		return x->e.source < y->e.source ? -1 : 1;
	return (int)x->e.flags - (int)y->e.flags;
}

static struct snap
snapshot(struct tapir_db *db)
{
	struct snap s = { 0 };

	assert_int_equal(tapir_db_walk(db, snap_cb, &s), 0);
	if (s.n)
		qsort(s.v, s.n, sizeof(*s.v), item_cmp);
	return s;
}

static void
assert_snap_equal(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].name, b->v[i].name);
		assert_int_equal(a->v[i].e.source, b->v[i].e.source);
		assert_int_equal(a->v[i].e.flags, b->v[i].e.flags);
		assert_int_equal(a->v[i].e.list, b->v[i].e.list);
		assert_int_equal(a->v[i].e.tags, b->v[i].e.tags);
		assert_int_equal(a->v[i].e.added, b->v[i].e.added);
		assert_int_equal(a->v[i].e.expiry, b->v[i].e.expiry);
	}
}

static void
save_ok(struct fixture *f, int64_t now, size_t want_saved)
{
	struct tapir_error err;
	size_t saved = 99;
	int rc = tapir_state_save(
		f->db, f->cfg, f->path, now, NULL, NULL, &saved, &err);

	if (rc)
		fail_msg("save: %s", err.text);
	assert_int_equal(saved, want_saved);
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Recompute the checksum after an edit, to reach the structural checks. */
static void
reseal(uint8_t *buf, size_t len)
{
	assert_int_equal(
		crypto_generichash(buf + len - 32, 32, buf, len - 32, NULL, 0),
		0);
}

/* Three sources, exact and subtree, every field distinct. */
static size_t
fill(struct tapir_db *db, size_t n)
{
	char name[TAPIR_NAME_BUFSIZE];
	size_t entries = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t t = (uint32_t)(i * 2654435761u);
		snprintf(name, sizeof(name), "n%zu.sub-%zu.example.com", i,
			i % 7);
		set_ok(db, name,
			mk(0, TAPIR_LIST_DOUBT, t, LATER + (uint32_t)i, 0));
		entries++;
		if (i % 3 == 0) {
			set_ok(db, name,
				mk(1, TAPIR_LIST_DENY, t ^ 0xffff,
					TAPIR_EXPIRY_NEVER,
					TAPIR_ENTRY_SUBTREE));
			entries++;
		}
		if (i % 5 == 0) {
			set_ok(db, name,
				mk(2, TAPIR_LIST_ALLOW, ~t, LATER + 7, 0));
			set_ok(db, name,
				mk(2, TAPIR_LIST_ALLOW, t >> 3, LATER + 9,
					TAPIR_ENTRY_SUBTREE));
			entries += 2;
		}
	}
	return entries;
}

static void
test_round_trip_keeps_every_field(void **state)
{
	struct fixture *f = *state;
	struct tapir_db *db2 = tapir_db_create(0);
	struct tapir_error err;
	size_t n = fill(f->db, 3000), loaded = 0, exp = 9, gone = 9;
	char longest[TAPIR_NAME_BUFSIZE];
	struct snap a, b;

	/* The longest canonical name: 63.63.63.61 = 253 characters. */
	memset(longest, 'x', 253);
	longest[63] = longest[127] = longest[191] = '.';
	longest[253] = '\0';
	set_ok(f->db, longest, mk(1, TAPIR_LIST_DENY, 7, LATER, 0));
	n++;
#ifdef TAPIR_ENTRY_ACTION_MASK
	/* An entry's own action (an RPZ record) travels in its flags. */
	set_ok(f->db, "rpz.example",
		mk(2, TAPIR_LIST_DENY, 8, LATER,
			TAPIR_ENTRY_SUBTREE |
				TAPIR_ACTION_DROP << TAPIR_ENTRY_ACTION_SHIFT));
	n++;
#endif
	save_ok(f, NOW, n);
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 &exp, &gone, &err),
		0);
	assert_int_equal(loaded, n);
	assert_int_equal(exp, 0);
	assert_int_equal(gone, 0);
	a = snapshot(f->db);
	b = snapshot(db2);
	assert_snap_equal(&a, &b);
	free(a.v);
	free(b.v);
	tapir_db_destroy(db2);
}

static void
test_state_file_is_private(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	save_ok(f, NOW, fill(f->db, 3));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_expired_entries_are_not_saved_nor_loaded(void **state)
{
	struct fixture *f = *state;
	struct tapir_db *db2 = tapir_db_create(0);
	size_t loaded = 0, exp = 0, gone = 9;

	set_ok(f->db, "past.example", mk(0, TAPIR_LIST_DOUBT, 1, NOW - 1, 0));
	set_ok(f->db, "now.example", mk(0, TAPIR_LIST_DOUBT, 2, NOW, 0));
	set_ok(f->db, "next.example", mk(0, TAPIR_LIST_DOUBT, 3, NOW + 1, 0));

	/* Expiry is the first dead second: expiry == now is not written. */
	save_ok(f, NOW, 1);
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 &exp, &gone, NULL),
		0);
	assert_int_equal(loaded, 1);
	assert_int_equal(exp, 0);

	/* Saved earlier, loaded at NOW: the same rule on the way in. */
	save_ok(f, NOW - 10, 3);
	tapir_db_destroy(db2);
	db2 = tapir_db_create(0);
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 &exp, &gone, NULL),
		0);
	assert_int_equal(loaded, 1);
	assert_int_equal(exp, 2);
	assert_int_equal(gone, 0);
	assert_int_equal(db_entries(db2), 1);
	tapir_db_destroy(db2);
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

static void
test_sources_map_by_name_after_reorder(void **state)
{
	struct fixture *f = *state;
	static const struct fixture_src reordered[] = {
		{ "allow", TAPIR_LIST_ALLOW, TAPIR_SOURCE_FILE },
		{ "extra", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
		{ "dns-tapir", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
		{ "local", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
	};
	struct tapir_config *cfg2 = fixture_sources_config(reordered, 4);
	struct tapir_db *db2 = tapir_db_create(0);
	struct tapir_entry e[8];
	size_t loaded = 0, gone = 9;

	set_ok(f->db, "a.example", mk(0, TAPIR_LIST_DOUBT, 10, LATER, 0));
	set_ok(f->db, "a.example",
		mk(1, TAPIR_LIST_DENY, 11, LATER, TAPIR_ENTRY_SUBTREE));
	set_ok(f->db, "a.example", mk(2, TAPIR_LIST_ALLOW, 12, LATER, 0));
	save_ok(f, NOW, 3);
	assert_int_equal(tapir_state_load(db2, cfg2, f->path, NOW, &loaded,
				 NULL, &gone, NULL),
		0);
	assert_int_equal(loaded, 3);
	assert_int_equal(gone, 0);
	/* Sets are kept in source order: allow (0), dns-tapir (2), local. */
	assert_int_equal(find(db2, "a.example", e), 3);
	assert_int_equal(e[0].source, 0);
	assert_int_equal(e[0].tags, 12);
	assert_int_equal(e[1].source, 2);
	assert_int_equal(e[1].tags, 10);
	assert_int_equal(e[2].source, 3);
	assert_int_equal(e[2].tags, 11);
	assert_int_equal(e[2].flags, TAPIR_ENTRY_SUBTREE);
	tapir_db_destroy(db2);
	free(cfg2);
}

static void
test_gone_or_changed_sources_are_skipped(void **state)
{
	struct fixture *f = *state;
	/* "local" removed, "allow" now a denylist, "dns-tapir" now a file. */
	static const struct fixture_src changed[] = {
		{ "allow", TAPIR_LIST_DENY, TAPIR_SOURCE_FILE },
		{ "dns-tapir", TAPIR_LIST_DOUBT, TAPIR_SOURCE_FILE },
		{ "kept", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
	};
	static const struct fixture_src renamed[] = {
		{ "dns-tapir", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
	};
	struct tapir_config *cfg2 = fixture_sources_config(changed, 3);
	struct tapir_config *cfg3 = fixture_sources_config(renamed, 1);
	struct tapir_db *db2 = tapir_db_create(0);
	struct tapir_entry e[8];
	size_t loaded = 9, exp = 9, gone = 0;

	set_ok(f->db, "a.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	set_ok(f->db, "b.example", mk(1, TAPIR_LIST_DENY, 2, LATER, 0));
	set_ok(f->db, "c.example", mk(1, TAPIR_LIST_DENY, 3, LATER, 0));
	set_ok(f->db, "d.example", mk(2, TAPIR_LIST_ALLOW, 4, LATER, 0));
	save_ok(f, NOW, 4);

	assert_int_equal(tapir_state_load(db2, cfg2, f->path, NOW, &loaded,
				 &exp, &gone, NULL),
		0);
	assert_int_equal(loaded, 0);
	assert_int_equal(exp, 0);
	assert_int_equal(gone, 4);
	assert_int_equal(db_entries(db2), 0);

	assert_int_equal(tapir_state_load(db2, cfg3, f->path, NOW, &loaded,
				 &exp, &gone, NULL),
		0);
	assert_int_equal(loaded, 1);
	assert_int_equal(gone, 3);
	assert_int_equal(find(db2, "a.example", e), 1);
	assert_int_equal(e[0].source, 0);
	assert_int_equal(e[0].tags, 1);
	tapir_db_destroy(db2);
	free(cfg2);
	free(cfg3);
}

static void
test_load_replaces_same_key_and_keeps_others(void **state)
{
	struct fixture *f = *state;
	struct tapir_db *db2 = tapir_db_create(0);
	struct tapir_entry e[8];
	size_t loaded = 0;

	set_ok(f->db, "a.example", mk(0, TAPIR_LIST_DOUBT, 2, LATER, 0));
	save_ok(f, NOW, 1);
	set_ok(db2, "a.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER + 5, 0));
	set_ok(db2, "a.example",
		mk(0, TAPIR_LIST_DOUBT, 3, LATER, TAPIR_ENTRY_SUBTREE));
	set_ok(db2, "a.example", mk(1, TAPIR_LIST_DENY, 4, LATER, 0));
	set_ok(db2, "z.example", mk(1, TAPIR_LIST_DENY, 5, LATER, 0));
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 NULL, NULL, NULL),
		0);
	assert_int_equal(loaded, 1);
	assert_int_equal(find(db2, "a.example", e), 3);
	assert_int_equal(e[0].source, 0);
	assert_int_equal(e[0].flags, 0);
	assert_int_equal(e[0].tags, 2);
	assert_int_equal(e[0].expiry, LATER);
	assert_int_equal(e[1].tags, 3);
	assert_int_equal(e[2].tags, 4);
	assert_int_equal(find(db2, "z.example", e), 1);
	tapir_db_destroy(db2);
}

static bool
only_source_1(void *arg, uint16_t source)
{
	(*(int *)arg)++;
	return source == 1;
}

static void
test_want_callback_filters_sources(void **state)
{
	struct fixture *f = *state;
	struct tapir_db *db2 = tapir_db_create(0);
	struct tapir_entry e[8];
	size_t saved = 0, loaded = 0;
	int calls = 0;

	set_ok(f->db, "a.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	set_ok(f->db, "a.example", mk(1, TAPIR_LIST_DENY, 2, LATER, 0));
	set_ok(f->db, "b.example", mk(2, TAPIR_LIST_ALLOW, 3, LATER, 0));
	/* A stale entry of a source index the config no longer has. */
	set_ok(f->db, "c.example", mk(9, TAPIR_LIST_DENY, 4, LATER, 0));
	assert_int_equal(tapir_state_save(f->db, f->cfg, f->path, NOW,
				 only_source_1, &calls, &saved, NULL),
		0);
	assert_int_equal(calls, 3);
	assert_int_equal(saved, 1);
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 NULL, NULL, NULL),
		0);
	assert_int_equal(loaded, 1);
	assert_int_equal(find(db2, "a.example", e), 1);
	assert_int_equal(e[0].source, 1);
	assert_int_equal(e[0].tags, 2);

	/* NULL saves every configured source, never an unknown one. */
	save_ok(f, NOW, 3);
	tapir_db_destroy(db2);
}

static void
test_failed_save_keeps_old_file(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err;
	struct rlimit old, lim;
	uint8_t *before, *after;
	size_t blen, alen, saved = 9;
	char missing[160];

	set_ok(f->db, "a.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	save_ok(f, NOW, 1);
	before = read_all(f->path, &blen);
	fill(f->db, 2000);

	/* A write that fails halfway (the file size limit stands in for a
	 * full disk, and works as root too). */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(tapir_state_save(f->db, f->cfg, f->path, NOW, NULL,
				 NULL, &saved, &err),
		TAPIR_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(saved, 0);
	assert_non_null(strstr(err.text, "state."));
	after = read_all(f->path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(after);
	assert_int_equal(count_files(f->dir), 1);

	/* A directory that cannot be written (root ignores the mode). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->dir, 0500), 0);
		assert_int_equal(tapir_state_save(f->db, f->cfg, f->path, NOW,
					 NULL, NULL, &saved, &err),
			TAPIR_EIO);
		assert_int_equal(chmod(f->dir, 0700), 0);
		after = read_all(f->path, &alen);
		assert_int_equal(alen, blen);
		assert_memory_equal(after, before, blen);
		free(after);
		assert_int_equal(count_files(f->dir), 1);
	}

	/* A directory that does not exist. */
	snprintf(missing, sizeof(missing), "%s/no/such/state", f->dir);
	assert_int_equal(tapir_state_save(f->db, f->cfg, missing, NOW, NULL,
				 NULL, &saved, &err),
		TAPIR_EIO);
	assert_int_equal(count_files(f->dir), 1);
	free(before);
}

/* One name, so that the record order is known: sets are source-sorted
 * while the order of names follows the db's seeded hash. */
static uint8_t *
small_file(struct fixture *f, size_t *len)
{
	set_ok(f->db, "a.example", mk(0, TAPIR_LIST_DOUBT, 1, LATER, 0));
	set_ok(f->db, "a.example",
		mk(1, TAPIR_LIST_DENY, 2, LATER, TAPIR_ENTRY_SUBTREE));
	set_ok(f->db, "a.example", mk(2, TAPIR_LIST_ALLOW, 3, LATER, 0));
	save_ok(f, NOW, 3);
	return read_all(f->path, len);
}

static void
test_every_changed_byte_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tapir_db *db2 = tapir_db_create(0);
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct tapir_error err;
	size_t len, loaded = 9;
	uint8_t *buf = small_file(f, &len);

	/* The unchanged buffer loads, so each refusal is the change's. */
	assert_int_equal(tapir__state_load_buf(db2, f->cfg, buf, len, NOW, true,
				 &loaded, NULL, NULL, &err),
		0);
	assert_int_equal(loaded, 3);
	tapir_db_destroy(db2);
	db2 = tapir_db_create(0);
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			buf[i] ^= masks[m];
			assert_int_equal(
				tapir__state_load_buf(db2, f->cfg, buf, len,
					NOW, true, &loaded, NULL, NULL, &err),
				TAPIR_EPARSE);
			assert_int_equal(loaded, 0);
			assert_int_equal(db_entries(db2), 0);
			buf[i] ^= masks[m];
		}
	}
	/* And once through the file, for the path the engine takes. */
	buf[len / 2] ^= 1;
	fixture_write_bytes(f->path, buf, len);
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 NULL, NULL, &err),
		TAPIR_EPARSE);
	assert_string_equal(err.text, "checksum mismatch");
	assert_int_equal(db_entries(db2), 0);
	free(buf);
	tapir_db_destroy(db2);
}

static void
test_every_truncation_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tapir_db *db2 = tapir_db_create(0);
	size_t len;
	uint8_t *buf = small_file(f, &len);

	for (size_t n = 0; n < len; n++) {
		/* An exact-size copy, so ASan sees any read past the end. */
		uint8_t *cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, buf, n);
		assert_int_equal(tapir__state_load_buf(db2, f->cfg, cut, n, NOW,
					 true, NULL, NULL, NULL, NULL),
			TAPIR_EPARSE);
		/* Without the checksum too: the parser's own bounds. */
		assert_int_equal(tapir__state_load_buf(db2, f->cfg, cut, n, NOW,
					 false, NULL, NULL, NULL, NULL),
			TAPIR_EPARSE);
		free(cut);
		assert_int_equal(db_entries(db2), 0);
	}
	fixture_write_bytes(f->path, buf, len - 1);
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, NULL, NULL,
				 NULL, NULL),
		TAPIR_EPARSE);
	free(buf);
	tapir_db_destroy(db2);
}

static void
test_missing_file_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err;
	size_t loaded = 9, exp = 9, gone = 9;

	assert_int_equal(tapir_state_load(f->db, f->cfg, f->path, NOW, &loaded,
				 &exp, &gone, &err),
		TAPIR_ENOENT);
	assert_int_equal(loaded + exp + gone, 0);
	assert_non_null(strstr(err.text, f->path));
}

static void
test_empty_state_round_trips(void **state)
{
	struct fixture *f = *state;
	size_t loaded = 9;

	save_ok(f, NOW, 0);
	assert_int_equal(tapir_state_load(f->db, f->cfg, f->path, NOW, &loaded,
				 NULL, NULL, NULL),
		0);
	assert_int_equal(loaded, 0);
}

/* The stamp a save was given, from the header alone; what is not a state
 * file of this version has none. */
static void
test_created_reads_the_stamp_of_the_save(void **state)
{
	struct fixture *f = *state;
	int64_t created = 7;
	FILE *fp;

	assert_int_equal(tapir_state_created(f->path, &created), TAPIR_ENOENT);
	assert_int_equal(created, 0);
	save_ok(f, NOW + 5, 0);
	assert_int_equal(tapir_state_created(f->path, &created), 0);
	assert_int_equal(created, NOW + 5);
	assert_non_null(fp = fopen(f->path, "wb"));
	fputs("TAPIRST", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(tapir_state_created(f->path, &created), TAPIR_EPARSE);
	assert_int_equal(created, 0);
}

/* Layout of small_file(): header 40, the source table ("dns-tapir",
 * "local", "allow"), three records of 16 + 9 bytes, the checksum. */
#define REC0	 (40 + 3 + 9 + 3 + 5 + 3 + 5)
#define REC_LAST (REC0 + 2 * 25)
#define SMALL	 (REC0 + 3 * 25 + 32)

static void
expect_refused(struct fixture *f, uint8_t *buf, size_t len, const char *why)
{
	struct tapir_db *db2 = tapir_db_create(0);
	struct tapir_error err;

	reseal(buf, len);
	assert_int_equal(tapir__state_load_buf(db2, f->cfg, buf, len, NOW, true,
				 NULL, NULL, NULL, &err),
		TAPIR_EPARSE);
	if (!strstr(err.text, why))
		fail_msg("expected \"%s\", got \"%s\"", why, err.text);
	assert_int_equal(db_entries(db2), 0);
	tapir_db_destroy(db2);
}

static void
test_structure_checked_behind_valid_checksum(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *orig = small_file(f, &len), *buf = malloc(len + 300);

	assert_non_null(buf);
	assert_int_equal(len, SMALL);
	assert_memory_equal(orig + REC0 + 16, "a.example", 9);
#define EDIT(stmt, why)                                                        \
	do {                                                                   \
		memcpy(buf, orig, len);                                        \
		stmt;                                                          \
		expect_refused(f, buf, len, why);                              \
	} while (0)
	EDIT(buf[8] = 2, "unknown version");
	EDIT(buf[12] = 65, "sources, at most");
	EDIT(buf[24] = 5, "records cannot fit");
	EDIT(buf[24] = 4, "record truncated");
	EDIT(buf[24] = 2, "after the last record");
	EDIT(buf[32]++, "header says");
	EDIT(buf[40] = 0, "name length");
	EDIT(buf[41] = 3, "unknown");
	EDIT(buf[42] = 7, "unknown");
	EDIT(buf[43] = 0, "NUL in name");
	EDIT(memcpy(buf + 55, "allow", 5), "duplicate name");
	EDIT(buf[REC0] = 3, "out of range");
	EDIT(buf[REC0 + 1] = 0x10, "unknown flags");
	EDIT(buf[REC0 + 1] = 0x80, "unknown flags");
#ifdef TAPIR_ENTRY_ACTION_MASK
	/* Actions 6 and 7 do not exist. */
	EDIT(buf[REC0 + 1] = 7 << TAPIR_ENTRY_ACTION_SHIFT, "unknown flags");
#endif
	EDIT(buf[REC0 + 2] = 3, "unknown list");
	EDIT(buf[REC0 + 3] = 0, "name length");
	EDIT(buf[REC0 + 3] = 10, "not canonical");
	EDIT(buf[REC0 + 16] = 'A', "not canonical");
	EDIT(buf[REC0 + 17] = '\0', "not canonical");
	EDIT(buf[REC0 + 24] = '.', "not canonical");
	EDIT(buf[REC0 + 16] = '*', "not canonical");
	EDIT(buf[REC_LAST + 3] = 200, "record truncated");
#undef EDIT

	/* A name of 254 octets as the last record, counts adjusted to fit:
	 * one past the longest canonical name. */
	memcpy(buf, orig, len - 32);
	buf[REC_LAST + 3] = 254;
	memset(buf + REC_LAST + 16, 'a', 254);
	for (size_t i = 50; i < 254; i += 50)
		buf[REC_LAST + 16 + i] = '.';
	buf[32] = (uint8_t)(75 + 245);
	buf[33] = (uint8_t)((75 + 245) >> 8);
	expect_refused(f, buf, len + 245, "name length");
	free(buf);
	free(orig);
}

/* An order-independent digest of a database, for the large test. */
static int
digest_cb(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	uint64_t *d = arg;

	for (size_t i = 0; i < n; i++) {
		uint64_t h = 14695981039346656037ull;
		for (size_t j = 0; j < len; j++)
			h = (h ^ (uint8_t)name[j]) * 1099511628211ull;
		h ^= (uint64_t)e[i].tags << 32 | e[i].expiry;
		h = h * 1099511628211ull ^ e[i].added;
		h = h * 1099511628211ull ^
		    ((uint64_t)e[i].source << 16 | e[i].list << 8 | e[i].flags);
		*d += h * 0x9e3779b97f4a7c15ull;
	}
	return 0;
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_many_entries_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *env = getenv("TAPIR_STATE_BENCH_N");
	size_t names = env ? strtoul(env, NULL, 10) : 120000;
	size_t n = fill(f->db, names), saved = 0, loaded = 0;
	struct tapir_db *db2 = tapir_db_create(0);
	uint64_t d1 = 0, d2 = 0;
	uint8_t *buf;
	size_t len;
	double t0, t1, t2, t3;

	assert_true(n >= 200000 || env);
	t0 = seconds();
	assert_int_equal(tapir_state_save(f->db, f->cfg, f->path, NOW, NULL,
				 NULL, &saved, NULL),
		0);
	t1 = seconds();
	assert_int_equal(tapir_state_load(db2, f->cfg, f->path, NOW, &loaded,
				 NULL, NULL, NULL),
		0);
	t2 = seconds();
	assert_int_equal(saved, n);
	assert_int_equal(loaded, n);
	assert_int_equal(db_entries(db2), n);
	tapir_db_walk(f->db, digest_cb, &d1);
	tapir_db_walk(db2, digest_cb, &d2);
	assert_true(d1 == d2);

	/* The parse alone, into a db that already holds every entry. */
	buf = read_all(f->path, &len);
	t3 = seconds();
	assert_int_equal(tapir__state_load_buf(db2, f->cfg, buf, len, NOW, true,
				 &loaded, NULL, NULL, NULL),
		0);
	t3 = seconds() - t3;
	printf("# state: %zu entries, %zu bytes: save %.0f/s (%.3f s, "
	       "fsync included), load %.0f/s (%.3f s), reload into full "
	       "db %.0f/s\n",
		n, len, (double)n / (t1 - t0), t1 - t0, (double)n / (t2 - t1),
		t2 - t1, (double)n / t3);
	free(buf);
	tapir_db_destroy(db2);
}

/* Seeds: first byte 0 = check the checksum, else skip it (fuzz_state.c). */
static void
write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *buf,
	size_t len)
{
	char p[512];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "wb"));
	assert_int_equal(fwrite(&mode, 1, 1, fp), 1);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
test_write_fuzz_seeds(void **state)
{
	struct fixture *f = *state;
	const char *dir = getenv("TAPIR_STATE_SEEDS");
	uint8_t *buf;
	size_t len;

	if (!dir)
		skip();
	save_ok(f, NOW, 0);
	buf = read_all(f->path, &len);
	write_seed(dir, "empty", 0, buf, len);
	free(buf);

	buf = small_file(f, &len);
	write_seed(dir, "valid", 0, buf, len);
	write_seed(dir, "valid-nocheck", 1, buf, len);
	buf[REC0 + 16] = 'A';
	write_seed(dir, "uppercase-name-nocheck", 1, buf, len);
	reseal(buf, len);
	write_seed(dir, "uppercase-name-resealed", 0, buf, len);
	buf[REC0 + 16] = 'a';
	write_seed(dir, "truncated", 0, buf, len / 2);
	buf[8] = 2;
	write_seed(dir, "version-2-nocheck", 1, buf, len);
	free(buf);

	set_ok(f->db, "x.y.z.example", mk(0, TAPIR_LIST_DOUBT, 9, NOW, 0));
	set_ok(f->db, "gone.example", mk(1, TAPIR_LIST_DENY, 9, NOW + 1, 0));
	save_ok(f, NOW - 5, 5);
	buf = read_all(f->path, &len);
	write_seed(dir, "with-expired", 0, buf, len);
	free(buf);

	/* A source table the fuzz config only partly knows. */
	static const struct fixture_src other[] = {
		{ "local", TAPIR_LIST_DENY, TAPIR_SOURCE_MQTT },
		{ "old-feed", TAPIR_LIST_DOUBT, TAPIR_SOURCE_MQTT },
		{ "allow", TAPIR_LIST_DENY, TAPIR_SOURCE_FILE },
	};
	free(f->cfg);
	f->cfg = fixture_sources_config(other, 3);
	save_ok(f, NOW - 5, 5);
	buf = read_all(f->path, &len);
	write_seed(dir, "remapped-sources", 0, buf, len);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_round_trip_keeps_every_field),
		T(test_state_file_is_private),
		T(test_expired_entries_are_not_saved_nor_loaded),
		T(test_sources_map_by_name_after_reorder),
		T(test_gone_or_changed_sources_are_skipped),
		T(test_load_replaces_same_key_and_keeps_others),
		T(test_want_callback_filters_sources),
		T(test_failed_save_keeps_old_file),
		T(test_every_changed_byte_is_refused),
		T(test_every_truncation_is_refused),
		T(test_missing_file_is_enoent),
		T(test_empty_state_round_trips),
		T(test_created_reads_the_stamp_of_the_save),
		T(test_structure_checked_behind_valid_checksum),
		T(test_many_entries_round_trip),
		T(test_write_fuzz_seeds),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
