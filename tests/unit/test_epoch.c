/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/epoch.c: a grace period waits for every read section
 * that began before it and for none that began after, and memory that a
 * writer unlinks, waits for and then frees is never seen by a reader. The
 * threaded tests never call cmocka asserts off the main thread (cmocka is
 * not thread-safe); threads count what they see in atomics and the main
 * thread checks. Every wait is bounded, so a broken grace period fails a
 * test instead of hanging it.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "lib/epoch.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Poll a flag until it is set or ms have passed. @return: whether set. */
static bool
wait_flag(atomic_bool *flag, long ms)
{
	int64_t end = tapir_monotonic_ms() + ms;

	while (!atomic_load(flag)) {
		if (tapir_monotonic_ms() > end)
			return false;
		sleep_ms(1);
	}
	return true;
}

static int
setup(void **state)
{
	struct tapir_epoch *ep = tapir_epoch_create();

	if (!ep)
		return -1;
	*state = ep;
	return 0;
}

static int
teardown(void **state)
{
	tapir_epoch_destroy(*state);
	return 0;
}

/* Runs one synchronize in its own thread, so that the caller can bound
 * how long it waits and look at the world while it is blocked. */
struct syncer {
	struct tapir_epoch *ep;
	atomic_bool started, done;
	pthread_t thread;
};

static void *
syncer_main(void *arg)
{
	struct syncer *s = arg;

	atomic_store(&s->started, true);
	tapir_epoch_synchronize(s->ep);
	atomic_store(&s->done, true);
	return NULL;
}

static void
syncer_start(struct syncer *s, struct tapir_epoch *ep)
{
	s->ep = ep;
	atomic_init(&s->started, false);
	atomic_init(&s->done, false);
	assert_int_equal(pthread_create(&s->thread, NULL, syncer_main, s), 0);
}

/*
 * Whether a synchronize with no reader inside returns within ms. On
 * failure the stuck thread is left behind and the domain deliberately
 * leaked (the caller must not destroy it), so the test fails and the run
 * goes on.
 */
static bool
synchronize_within(struct tapir_epoch *ep, long ms)
{
	struct syncer *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	syncer_start(s, ep);
	if (!wait_flag(&s->done, ms)) {
		pthread_detach(s->thread);
		return false;
	}
	pthread_join(s->thread, NULL);
	free(s);
	return true;
}

static void
test_synchronize_without_readers_returns(void **state)
{
	struct tapir_epoch *ep = *state;
	int64_t t0 = tapir_monotonic_ms();

	for (int i = 0; i < 1000; i++)
		tapir_epoch_synchronize(ep);
	assert_true(tapir_monotonic_ms() - t0 < 1000);
}

static void
test_synchronize_after_enter_exit_returns(void **state)
{
	struct tapir_epoch *ep = *state;

	/* Sections in both phases: a leftover count in either would make
	 * a later synchronize wait for ever. */
	for (int i = 0; i < 4; i++) {
		tapir_epoch_token tok = tapir_epoch_enter(ep);
		tapir_epoch_exit(ep, tok);
		if (!synchronize_within(ep, 2000)) {
			*state = NULL;
			fail_msg("synchronize waits with no reader inside");
		}
	}
}

static void
test_nested_sections_balance(void **state)
{
	struct tapir_epoch *ep = *state;
	tapir_epoch_token outer = tapir_epoch_enter(ep);
	tapir_epoch_token inner = tapir_epoch_enter(ep);

	tapir_epoch_exit(ep, inner);
	tapir_epoch_exit(ep, outer);
	if (!synchronize_within(ep, 2000)) {
		*state = NULL;
		fail_msg("synchronize waits after nested sections ended");
	}
}

/* A reader that enters, says so, stays inside for hold_ms and records
 * that it is leaving just before it exits. */
struct timed_reader {
	struct tapir_epoch *ep;
	long hold_ms;
	atomic_bool entered, leaving;
};

static void *
timed_reader_main(void *arg)
{
	struct timed_reader *r = arg;
	tapir_epoch_token tok = tapir_epoch_enter(r->ep);

	atomic_store(&r->entered, true);
	sleep_ms(r->hold_ms);
	atomic_store(&r->leaving, true);
	tapir_epoch_exit(r->ep, tok);
	return NULL;
}

static void
test_synchronize_waits_for_reader_that_entered_before(void **state)
{
	struct timed_reader r = { .ep = *state, .hold_ms = 100 };
	pthread_t th;
	int64_t t0;

	atomic_init(&r.entered, false);
	atomic_init(&r.leaving, false);
	assert_int_equal(pthread_create(&th, NULL, timed_reader_main, &r), 0);
	assert_true(wait_flag(&r.entered, 5000));
	t0 = tapir_monotonic_ms();
	tapir_epoch_synchronize(r.ep);
	/* Had it not waited, the reader would still be asleep inside. */
	assert_true(atomic_load(&r.leaving));
	assert_true(tapir_monotonic_ms() - t0 >= 50);
	pthread_join(th, NULL);
}

/* A reader that stays inside until released. */
struct held_reader {
	struct tapir_epoch *ep;
	atomic_bool *go; /* enter once this is set (NULL: at once) */
	long delay_ms;	 /* and this long after */
	atomic_bool entered, release;
	pthread_t thread;
};

static void *
held_reader_main(void *arg)
{
	struct held_reader *r = arg;
	tapir_epoch_token tok;

	if (r->go)
		while (!atomic_load(r->go))
			sleep_ms(1);
	sleep_ms(r->delay_ms);
	tok = tapir_epoch_enter(r->ep);
	atomic_store(&r->entered, true);
	while (!atomic_load(&r->release))
		sleep_ms(1);
	tapir_epoch_exit(r->ep, tok);
	return NULL;
}

static void
held_reader_start(struct held_reader *r, struct tapir_epoch *ep,
	atomic_bool *go, long delay_ms)
{
	r->ep = ep;
	r->go = go;
	r->delay_ms = delay_ms;
	atomic_init(&r->entered, false);
	atomic_init(&r->release, false);
	assert_int_equal(
		pthread_create(&r->thread, NULL, held_reader_main, r), 0);
}

static void
test_synchronize_ignores_reader_entering_after_start(void **state)
{
	struct tapir_epoch *ep = *state;
	struct held_reader early, late;
	struct syncer s;
	bool blocked, returned;

	held_reader_start(&early, ep, NULL, 0);
	assert_true(wait_flag(&early.entered, 5000));
	syncer_start(&s, ep);
	/* The late reader enters 50 ms after the syncer began: the syncer
	 * flips the phase right after it sets "started", long before. */
	held_reader_start(&late, ep, &s.started, 50);
	assert_true(wait_flag(&late.entered, 5000));
	/* Blocked on the early reader, as it must be. */
	sleep_ms(20);
	blocked = !atomic_load(&s.done);
	atomic_store(&early.release, true);
	/* The late reader is still inside; the grace period ends anyway. */
	returned = wait_flag(&s.done, 2000);
	atomic_store(&late.release, true);
	pthread_join(early.thread, NULL);
	pthread_join(late.thread, NULL);
	pthread_join(s.thread, NULL);
	assert_true(blocked);
	assert_true(returned);
}

#define MANY_READERS 80 /* more than the 64 counter stripes */

static void
test_synchronize_waits_for_every_reader_of_many(void **state)
{
	struct tapir_epoch *ep = *state;
	struct held_reader *r = calloc(MANY_READERS, sizeof(*r));
	struct syncer s;
	bool blocked;

	assert_non_null(r);
	for (int i = 0; i < MANY_READERS; i++)
		held_reader_start(&r[i], ep, NULL, 0);
	for (int i = 0; i < MANY_READERS; i++)
		assert_true(wait_flag(&r[i].entered, 5000));
	syncer_start(&s, ep);
	/* With more threads than stripes some share a counter: release all
	 * readers but one, and the grace period must still be open. */
	for (int i = 0; i < MANY_READERS - 1; i++)
		atomic_store(&r[i].release, true);
	for (int i = 0; i < MANY_READERS - 1; i++)
		pthread_join(r[i].thread, NULL);
	sleep_ms(20);
	blocked = !atomic_load(&s.done);
	atomic_store(&r[MANY_READERS - 1].release, true);
	pthread_join(r[MANY_READERS - 1].thread, NULL);
	assert_true(wait_flag(&s.done, 5000));
	pthread_join(s.thread, NULL);
	free(r);
	assert_true(blocked);
}

/*
 * Stress: readers dereference whatever the writer published; the writer
 * swaps in a new object, waits for a grace period, poisons the old one and
 * frees it. A reader that ever sees the poison (or, under ASan, touches
 * the freed object) was not waited for.
 */
#define STRESS_READERS 4
#define STRESS_TARGET  200000 /* reader sections, all readers together */
#define STRESS_SWAPS   2000   /* and grace periods, unless time runs out */
#define STRESS_READS   32     /* reads of the object per section */
#define STRESS_MS      2000
#define MAGIC	       0x7461706972414c49ULL
#define POISON	       0xdeaddeaddeaddeadULL

struct obj {
	uint64_t magic;
	uint64_t serial;
	uint64_t check; /* serial ^ MAGIC */
	uint64_t pad[5];
};

struct stress {
	struct tapir_epoch *ep;
	_Atomic(struct obj *) cur;
	atomic_bool stop;
	atomic_ulong sections, bad;
};

static void *
stress_reader(void *arg)
{
	struct stress *st = arg;
	unsigned long n = 0;

	while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
		tapir_epoch_token tok = tapir_epoch_enter(st->ep);
		const volatile struct obj *o =
			atomic_load_explicit(&st->cur, memory_order_acquire);
		bool ok = true;

		/* Look at the object for a while, as a lookup would: the
		 * longer a section, the likelier a broken grace period
		 * frees the object under it. volatile: every pass reads. */
		for (int k = 0; k < STRESS_READS; k++)
			ok &= o->magic == MAGIC &&
			      (o->serial ^ MAGIC) == o->check;
		if (!ok)
			atomic_fetch_add(&st->bad, 1);
		tapir_epoch_exit(st->ep, tok);
		/* More readers than cores: give the CPU away between
		 * sections now and then, so that the scheduler seldom
		 * preempts a reader inside one and the writer gets on. */
		atomic_fetch_add_explicit(
			&st->sections, 1, memory_order_relaxed);
		if (++n % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static struct obj *
obj_new(uint64_t serial)
{
	struct obj *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->magic = MAGIC;
	o->serial = serial;
	o->check = serial ^ MAGIC;
	return o;
}

static void
test_readers_never_see_freed_object(void **state)
{
	struct stress st = { .ep = *state };
	pthread_t th[STRESS_READERS];
	uint64_t swaps = 0;
	int64_t end = tapir_monotonic_ms() + STRESS_MS;

	atomic_init(&st.cur, obj_new(0));
	atomic_init(&st.stop, false);
	atomic_init(&st.sections, 0);
	atomic_init(&st.bad, 0);
	for (int i = 0; i < STRESS_READERS; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, stress_reader, &st), 0);
	while ((atomic_load(&st.sections) < STRESS_TARGET ||
		       swaps < STRESS_SWAPS) &&
		tapir_monotonic_ms() < end) {
		struct obj *old = atomic_exchange_explicit(
			&st.cur, obj_new(++swaps), memory_order_acq_rel);
		tapir_epoch_synchronize(st.ep);
		old->magic = POISON;
		old->check = POISON;
		free(old);
	}
	atomic_store(&st.stop, true);
	for (int i = 0; i < STRESS_READERS; i++)
		pthread_join(th[i], NULL);
	free(atomic_load(&st.cur));
	print_message("%lu reader sections, %llu swaps\n",
		(unsigned long)atomic_load(&st.sections),
		(unsigned long long)swaps);
	assert_int_equal(atomic_load(&st.bad), 0);
	/* Not vacuous: readers and writer really overlapped. */
	assert_true(swaps >= 100);
	assert_true(atomic_load(&st.sections) >= 1000);
}

/* A thread that runs a few read sections and exits. */
static void *
brief_reader_main(void *arg)
{
	struct tapir_epoch *ep = arg;

	for (int i = 0; i < 100; i++)
		tapir_epoch_exit(ep, tapir_epoch_enter(ep));
	return NULL;
}

/* Readers own a slot per thread, from a fixed array: far more threads
 * than slots come and go, then more threads than can own a slot stay
 * inside at once (some borrow overflow slots). Synchronize must still
 * wait for every one of them, and return once they leave. */
#define COMING_GOING 600
#define HELD	     125 /* above the slots a thread can own */

static void
test_slots_reused_and_overflow_readers_waited_for(void **state)
{
	struct tapir_epoch *ep = *state;
	struct held_reader *r = calloc(HELD, sizeof(*r));
	struct syncer s;
	pthread_t th[20];

	assert_non_null(r);
	for (int i = 0; i < COMING_GOING; i += 20) {
		for (int j = 0; j < 20; j++)
			assert_int_equal(pthread_create(&th[j], NULL,
						 brief_reader_main, ep),
				0);
		for (int j = 0; j < 20; j++)
			pthread_join(th[j], NULL);
	}
	assert_true(synchronize_within(ep, 5000));
	for (int i = 0; i < HELD; i++)
		held_reader_start(&r[i], ep, NULL, 0);
	for (int i = 0; i < HELD; i++)
		assert_true(wait_flag(&r[i].entered, 10000));
	syncer_start(&s, ep);
	assert_true(wait_flag(&s.started, 5000));
	sleep_ms(100);
	assert_false(atomic_load(&s.done));
	for (int i = 0; i < HELD - 1; i++)
		atomic_store(&r[i].release, true);
	sleep_ms(50);
	/* Still one reader inside: the last started, most likely lent. */
	assert_false(atomic_load(&s.done));
	atomic_store(&r[HELD - 1].release, true);
	assert_true(wait_flag(&s.done, 5000));
	pthread_join(s.thread, NULL);
	for (int i = 0; i < HELD; i++)
		pthread_join(r[i].thread, NULL);
	free(r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_synchronize_without_readers_returns),
		T(test_synchronize_after_enter_exit_returns),
		T(test_nested_sections_balance),
		T(test_synchronize_waits_for_reader_that_entered_before),
		T(test_synchronize_ignores_reader_entering_after_start),
		T(test_synchronize_waits_for_every_reader_of_many),
		T(test_readers_never_see_freed_object),
		T(test_slots_reused_and_overflow_readers_waited_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
