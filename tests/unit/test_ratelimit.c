/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/ratelimit.c: at most N lines an interval, the refused
 * ones counted and reported once by the first line of a later interval, a
 * late clock reading counted in the newer interval, and N threads hammering
 * one limit never getting more than N lines through an interval, with every
 * refusal accounted for.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdbool.h>
#include <cmocka.h>

#include "lib/ratelimit.h"

static int
setup(void **state)
{
	*state = tapir_ratelimit_create(3, 1000);
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	tapir_ratelimit_destroy(*state);
	return 0;
}

static void
test_allows_n_per_interval_then_reports_the_rest(void **state)
{
	struct tapir_ratelimit *rl = *state;
	uint64_t missed = 99;

	for (int i = 0; i < 3; i++) {
		assert_true(tapir_ratelimit_allow(rl, 1000 + i, &missed));
		assert_int_equal(missed, 0);
	}
	assert_false(tapir_ratelimit_allow(rl, 1500, &missed));
	assert_int_equal(missed, 0);
	assert_false(tapir_ratelimit_allow(rl, 1999, &missed));
	/* The next interval: its first line carries the two refused. */
	assert_true(tapir_ratelimit_allow(rl, 2000, &missed));
	assert_int_equal(missed, 2);
	assert_true(tapir_ratelimit_allow(rl, 2001, &missed));
	assert_int_equal(missed, 0);
	/* Reported once: a quiet interval later, nothing is owed. */
	assert_true(tapir_ratelimit_allow(rl, 9000, &missed));
	assert_int_equal(missed, 0);
	assert_int_equal(tapir_ratelimit_take_suppressed(rl), 0);
}

static void
test_late_clock_counts_in_the_newer_interval(void **state)
{
	struct tapir_ratelimit *rl = *state;
	uint64_t missed;

	for (int i = 0; i < 3; i++)
		assert_true(tapir_ratelimit_allow(rl, 5000, &missed));
	/* A thread that read the clock in the interval before: no fresh
	 * start for it. */
	assert_false(tapir_ratelimit_allow(rl, 4999, &missed));
	assert_false(tapir_ratelimit_allow(rl, 0, &missed));
	assert_true(tapir_ratelimit_allow(rl, 6000, &missed));
	assert_int_equal(missed, 2);
}

static void
test_take_suppressed_reports_and_resets(void **state)
{
	struct tapir_ratelimit *rl = *state;
	uint64_t missed;

	for (int i = 0; i < 10; i++)
		(void)tapir_ratelimit_allow(rl, 1000, &missed);
	assert_int_equal(tapir_ratelimit_take_suppressed(rl), 7);
	assert_int_equal(tapir_ratelimit_take_suppressed(rl), 0);
	assert_true(tapir_ratelimit_allow(rl, 2000, &missed));
	assert_int_equal(missed, 0);
}

static void
test_bad_bounds_and_null(void **state)
{
	(void)state;
	assert_null(tapir_ratelimit_create(0, 1000));
	assert_null(tapir_ratelimit_create(1, 0));
	assert_null(tapir_ratelimit_create(1, -5));
	tapir_ratelimit_destroy(NULL);
}

#define THREADS	   8
#define PER_THREAD 20000

struct hammer {
	struct tapir_ratelimit *rl;
	pthread_barrier_t *go;
	uint64_t allowed, reported;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	uint64_t missed;

	pthread_barrier_wait(h->go);
	/* Interval 7 only: the limit must hold under contention. */
	for (int i = 0; i < PER_THREAD; i++) {
		if (tapir_ratelimit_allow(h->rl, 7000 + i % 1000, &missed))
			h->allowed++;
		h->reported += missed;
	}
	return NULL;
}

static void
test_threads_never_exceed_the_limit(void **state)
{
	struct tapir_ratelimit *rl = tapir_ratelimit_create(50, 1000);
	struct hammer h[THREADS];
	pthread_t t[THREADS];
	pthread_barrier_t go;
	uint64_t allowed = 0, reported = 0, missed;

	(void)state;
	assert_non_null(rl);
	assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){ .rl = rl, .go = &go };
		assert_int_equal(
			pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		allowed += h[i].allowed;
		reported += h[i].reported;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(allowed, 50);
	assert_int_equal(reported, 0);
	/* The next interval's first line reports every refusal. */
	assert_true(tapir_ratelimit_allow(rl, 8000, &missed));
	assert_int_equal(missed, (uint64_t)THREADS * PER_THREAD - 50);
	assert_int_equal(tapir_ratelimit_take_suppressed(rl), 0);
	tapir_ratelimit_destroy(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_allows_n_per_interval_then_reports_the_rest, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_late_clock_counts_in_the_newer_interval, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_take_suppressed_reports_and_resets, setup,
			teardown),
		cmocka_unit_test(test_bad_bounds_and_null),
		cmocka_unit_test(test_threads_never_exceed_the_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
