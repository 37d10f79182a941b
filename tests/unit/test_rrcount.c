/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/rrcount.c: rows by (name, kind), replaced and removed by
 * put, kept apart by kind, found again after the table grows, walked
 * once each; and the action a set of records gives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/rrcount.h"

static const uint32_t none[TAPIR_ACTION_COUNT];

static int
setup(void **state)
{
	*state = tapir_rrcount_create();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	tapir_rrcount_destroy(*state);
	return 0;
}

static void
test_absent_row_is_zero(void **state)
{
	uint32_t n[TAPIR_ACTION_COUNT] = { 1, 2, 3, 4, 5, 6 };

	assert_int_equal(tapir_rrcount_get(*state, "x", 1, false, n), 0);
	assert_memory_equal(n, none, sizeof(none));
	assert_int_equal(tapir_rrcount_size(*state), 0);
}

static void
test_put_get_replace_remove(void **state)
{
	struct tapir_rrcount *rc = *state;
	uint32_t n[TAPIR_ACTION_COUNT] = { 0 }, got[TAPIR_ACTION_COUNT];

	n[TAPIR_ACTION_REDIRECT] = 2;
	assert_int_equal(tapir_rrcount_put(rc, "x.example", 9, false, n), 0);
	assert_int_equal(tapir_rrcount_get(rc, "x.example", 9, false, got), 2);
	assert_memory_equal(got, n, sizeof(n));
	n[TAPIR_ACTION_NXDOMAIN] = 1;
	assert_int_equal(tapir_rrcount_put(rc, "x.example", 9, false, n), 0);
	assert_int_equal(tapir_rrcount_get(rc, "x.example", 9, false, got), 3);
	assert_int_equal(tapir_rrcount_size(rc), 1);
	assert_int_equal(tapir_rrcount_put(rc, "x.example", 9, false, none), 0);
	assert_int_equal(tapir_rrcount_get(rc, "x.example", 9, false, got), 0);
	assert_int_equal(tapir_rrcount_size(rc), 0);
	/* Removing what is not there is no error. */
	assert_int_equal(tapir_rrcount_put(rc, "y", 1, false, none), 0);
}

static void
test_kinds_are_separate_rows(void **state)
{
	struct tapir_rrcount *rc = *state;
	uint32_t a[TAPIR_ACTION_COUNT] = { 0 }, b[TAPIR_ACTION_COUNT] = { 0 };
	uint32_t got[TAPIR_ACTION_COUNT];

	a[TAPIR_ACTION_REDIRECT] = 2;
	b[TAPIR_ACTION_DROP] = 3;
	assert_int_equal(tapir_rrcount_put(rc, "w", 1, false, a), 0);
	assert_int_equal(tapir_rrcount_put(rc, "w", 1, true, b), 0);
	assert_int_equal(tapir_rrcount_get(rc, "w", 1, false, got), 2);
	assert_int_equal(tapir_rrcount_get(rc, "w", 1, true, got), 3);
	assert_int_equal(got[TAPIR_ACTION_DROP], 3);
	assert_int_equal(tapir_rrcount_size(rc), 2);
}

struct walk {
	size_t rows;
	uint64_t total;
};

static int
sum_rows(void *arg, const char *name, size_t len, bool subtree,
	const uint32_t n[TAPIR_ACTION_COUNT])
{
	struct walk *w = arg;

	assert_int_equal(strlen(name), len);
	(void)subtree;
	w->rows++;
	for (int a = 0; a < TAPIR_ACTION_COUNT; a++)
		w->total += n[a];
	return 0;
}

static void
test_many_rows_survive_growth_and_walk_once(void **state)
{
	struct tapir_rrcount *rc = *state;
	uint32_t n[TAPIR_ACTION_COUNT] = { 0 }, got[TAPIR_ACTION_COUNT];
	struct walk w = { 0 };
	char name[32];

	for (uint32_t i = 0; i < 5000; i++) {
		n[TAPIR_ACTION_REDIRECT] = i + 2;
		snprintf(name, sizeof(name), "n%u.example", i);
		assert_int_equal(tapir_rrcount_put(
					 rc, name, strlen(name), i % 2 == 0, n),
			0);
	}
	assert_int_equal(tapir_rrcount_size(rc), 5000);
	for (uint32_t i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		assert_int_equal(tapir_rrcount_get(rc, name, strlen(name),
					 i % 2 == 0, got),
			i + 2);
		assert_int_equal(tapir_rrcount_get(rc, name, strlen(name),
					 i % 2 != 0, got),
			0);
	}
	assert_int_equal(tapir_rrcount_walk(rc, sum_rows, &w), 0);
	assert_int_equal(w.rows, 5000);
	assert_int_equal(w.total, (uint64_t)5000 * 5001 / 2 + 5000);
	tapir_rrcount_clear(rc);
	assert_int_equal(tapir_rrcount_size(rc), 0);
	assert_int_equal(tapir_rrcount_get(rc, "n1.example", 10, true, got), 0);
}

static void
test_name_too_long_is_einval(void **state)
{
	uint32_t n[TAPIR_ACTION_COUNT] = { 0, 0, 2 };
	char name[TAPIR_NAME_BUFSIZE + 1];

	memset(name, 'a', sizeof(name));
	assert_int_equal(
		tapir_rrcount_put(*state, name, sizeof(name), false, n),
		TAPIR_EINVAL);
	assert_int_equal(tapir_rrcount_size(*state), 0);
}

static void
test_action_is_most_restrictive_present(void **state)
{
	uint32_t n[TAPIR_ACTION_COUNT] = { 0 };

	(void)state;
	assert_int_equal(tapir_rrcount_action(n), TAPIR_ACTION_PASS);
	n[TAPIR_ACTION_PASSTHRU] = 1;
	assert_int_equal(tapir_rrcount_action(n), TAPIR_ACTION_PASSTHRU);
	n[TAPIR_ACTION_REDIRECT] = 4;
	assert_int_equal(tapir_rrcount_action(n), TAPIR_ACTION_REDIRECT);
	n[TAPIR_ACTION_NXDOMAIN] = 1;
	assert_int_equal(tapir_rrcount_action(n), TAPIR_ACTION_NXDOMAIN);
	n[TAPIR_ACTION_DROP] = 1;
	assert_int_equal(tapir_rrcount_action(n), TAPIR_ACTION_DROP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_absent_row_is_zero),
		T(test_put_get_replace_remove),
		T(test_kinds_are_separate_rows),
		T(test_many_rows_survive_growth_and_walk_once),
		T(test_name_too_long_is_einval),
		T(test_action_is_most_restrictive_present),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
