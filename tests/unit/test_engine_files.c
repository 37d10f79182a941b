/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/engine_files.c: a started engine (its broker unreachable)
 * with one denylist file source checked every second, in a private
 * temporary directory; the file is rewritten under it as a careless
 * writer would.
 *
 * They prove that a file caught mid-rewrite is not taken as the new
 * truth: an emptied file, or one that would lose more than max-shrink
 * percent of its names, or one whose last line is cut, keeps the names it
 * no longer lists and says so in status ("problem:" and the source's
 * error=) until the same file is seen again at the next check, or until
 * tapir-pop-control reload accepts it at once; and that an ordinary edit
 * is applied at the first check, as before.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/control.h"
#include "lib/engine.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

struct fixture {
	char dir[64];
	char yaml_path[128];
	char list_path[128];
	struct tapir_engine *e;
};

/* Status once it has want (or fail after 5 s); the caller frees it. */
static char *
status_with(struct fixture *f, const char *want)
{
	int64_t t0 = tapir_monotonic_ms();
	char *out = NULL;

	while (tapir_monotonic_ms() - t0 < 5000) {
		free(out);
		out = fixture_command(f->e, "status");
		if (strstr(out, want))
			return out;
		fixture_sleep_ms(20);
	}
	fail_msg("no '%s' in:\n%s", want, out);
	return out;
}

static enum tapir_action
decide(struct fixture *f, const char *name)
{
	return tapir_engine_decide(f->e, name, strlen(name), NULL);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	tapir_log_set(fixture_quiet_log, NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-files-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->yaml_path, sizeof(f->yaml_path), "%s/tapir-pop.yaml",
		f->dir);
	snprintf(f->list_path, sizeof(f->list_path), "%s/list.txt", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tapir_engine_destroy(f->e);
	unlink(f->yaml_path);
	unlink(f->list_path);
	rmdir(f->dir);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

/* A started engine with the file source "local" (denylist, checked every
 * refresh seconds) over list, and extra appended to the source. */
static void
start_every(struct fixture *f, unsigned refresh, const char *list,
	const char *extra)
{
	char yaml[1024];

	fixture_write_file(f->list_path, list);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"  reconnect-min: 1\n"
		"  reconnect-max: 2\n"
		"keys: %s/no-keys.json\n"
		"sources:\n"
		"  - name: local\n"
		"    type: file\n"
		"    list: denylist\n"
		"    path: %s\n"
		"    refresh: %u\n"
		"%s",
		f->dir, f->list_path, refresh, extra ? extra : "");
	fixture_write_file(f->yaml_path, yaml);
	f->e = tapir_engine_create(f->yaml_path);
	assert_non_null(f->e);
	assert_true(tapir_engine_active(f->e));
	assert_int_equal(tapir_engine_start(f->e), 0);
	free(status_with(f, "source: local list=denylist type=file"));
}

static void
start_with(struct fixture *f, const char *list, const char *extra)
{
	start_every(f, 1, list, extra);
}

static const char four[] = "a.example\nb.example\nc.example\nd.example\n";

static void
assert_all_four(struct fixture *f, enum tapir_action want)
{
	assert_int_equal(decide(f, "a.example"), want);
	assert_int_equal(decide(f, "b.example"), want);
	assert_int_equal(decide(f, "c.example"), want);
	assert_int_equal(decide(f, "d.example"), want);
}

/* A file emptied by a writer that has not written yet: the names stay,
 * status says why; the same empty file one check later is the truth. */
static void
test_emptied_file_is_held_for_one_check(void **state)
{
	struct fixture *f = *state;
	int64_t t0;
	char *out;

	start_with(f, four, NULL);
	free(status_with(f, " names=4 "));
	assert_all_four(f, TAPIR_ACTION_NXDOMAIN);

	fixture_write_file(f->list_path, "");
	t0 = tapir_monotonic_ms();
	out = status_with(f, "\nproblem: source local: ");
	assert_all_four(f, TAPIR_ACTION_NXDOMAIN);
	assert_non_null(strstr(out, " names=4 "));
	assert_non_null(strstr(out, " error="));
	assert_non_null(strstr(out, "keeping 4 names"));
	free(out);

	/* Unchanged at the next check (a second later): accepted. */
	out = status_with(f, " names=0 ");
	assert_null(strstr(out, "problem: source local"));
	assert_null(strstr(out, " error="));
	free(out);
	assert_all_four(f, TAPIR_ACTION_PASS);
	printf("emptied file held, then accepted after %lld ms\n",
		(long long)(tapir_monotonic_ms() - t0));
}

/* Cut mid-line (2 of 4 names left, the last one half written): held;
 * tapir-pop-control reload accepts it at once. */
static void
test_cut_file_is_held_until_reload(void **state)
{
	struct fixture *f = *state;
	char *out;

	/* Checks 3 s apart: the reload comes before the second one. */
	start_every(f, 3, four, NULL);
	free(status_with(f, " names=4 "));
	fixture_write_file(f->list_path, "a.example\nb.example\nc.exa");
	out = status_with(f, "\nproblem: source local: ");
	assert_non_null(strstr(out, "last line"));
	free(out);
	assert_int_equal(decide(f, "d.example"), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "c.example"), TAPIR_ACTION_NXDOMAIN);

	out = fixture_command(f->e, "reload");
	assert_string_equal(out, "ok\n");
	free(out);
	assert_int_equal(decide(f, "d.example"), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "c.example"), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "a.example"), TAPIR_ACTION_NXDOMAIN);
	out = fixture_command(f->e, "status");
	assert_null(strstr(out, "problem: source local"));
	assert_non_null(strstr(out, " names=3 "));
	free(out);
}

/* More than max-shrink percent of the names gone at once: held. */
static void
test_large_shrink_is_held(void **state)
{
	struct fixture *f = *state;
	char *out;

	start_with(f, four, "    max-shrink: 25\n");
	free(status_with(f, " names=4 "));
	fixture_write_file(f->list_path, "a.example\nb.example\n");
	out = status_with(f, "\nproblem: source local: ");
	assert_non_null(strstr(out, "max-shrink 25%"));
	free(out);
	assert_all_four(f, TAPIR_ACTION_NXDOMAIN);
	free(status_with(f, " names=2 "));
	assert_int_equal(decide(f, "c.example"), TAPIR_ACTION_PASS);
}

/* An ordinary edit (one name of four removed, one added) is applied at
 * the first check. */
static void
test_plausible_change_is_applied_at_once(void **state)
{
	struct fixture *f = *state;
	char *out;

	start_with(f, four, NULL);
	free(status_with(f, " names=4 "));
	fixture_write_file(
		f->list_path, "a.example\nb.example\nc.example\ne.example\n");
	for (int i = 0; i < 250; i++) {
		if (decide(f, "e.example") == TAPIR_ACTION_NXDOMAIN &&
			decide(f, "d.example") == TAPIR_ACTION_PASS)
			break;
		fixture_sleep_ms(20);
	}
	assert_int_equal(decide(f, "e.example"), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "d.example"), TAPIR_ACTION_PASS);
	out = fixture_command(f->e, "status");
	assert_null(strstr(out, "problem: source local"));
	free(out);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_emptied_file_is_held_for_one_check),
		T(test_cut_file_is_held_until_reload),
		T(test_large_shrink_is_held),
		T(test_plausible_change_is_applied_at_once),
	};

	return cmocka_run_group_tests(tests, fixture_group_setup, NULL);
}
