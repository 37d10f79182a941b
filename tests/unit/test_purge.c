/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The purger (lib/purge.c) with the module's remote-control protocol
 * (module/unbound_control.c) against a stand-in for Unbound's control
 * socket: a thread that accepts connections, records each request line and
 * answers like Unbound does ("ok" or an error), or stays silent.
 */
#include "tapir_build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/purge.h"
#include "module/unbound_control.h"

struct fake_unbound {
	char path[108];
	int fd;
	pthread_t thread;
	_Atomic int requests;
	_Atomic int refuse; /* answer "error" this many times first */
	_Atomic int hold;   /* answer nothing while set: a busy Unbound */
	char last[256];
	pthread_mutex_t lock;
};

static void *
fake_main(void *arg)
{
	struct fake_unbound *f = arg;

	for (;;) {
		char buf[256];
		ssize_t n;
		size_t got = 0;
		int c = accept(f->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		while (got < sizeof(buf) - 1 &&
			(n = read(c, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)n;
			if (memchr(buf, '\n', got))
				break;
		}
		buf[got] = '\0';
		pthread_mutex_lock(&f->lock);
		snprintf(f->last, sizeof(f->last), "%s", buf);
		pthread_mutex_unlock(&f->lock);
		atomic_fetch_add(&f->requests, 1);
		while (atomic_load(&f->hold)) {
			struct timespec ts = { 0, 1000000L };
			nanosleep(&ts, NULL);
		}
		if (atomic_load(&f->refuse) > 0) {
			atomic_fetch_sub(&f->refuse, 1);
			(void)!write(c, "error busy\n", 11);
		} else {
			(void)!write(
				c, "ok removed 1 rrsets, 1 messages\n", 32);
		}
		close(c);
	}
}

static void wait_requests(struct fake_unbound *f, int n);
static void hold_for(struct fake_unbound *f, long ms);

/* The control endpoint of the purger under test (one at a time). */
static struct tapir_ubctl ctl;

static struct tapir_purger *
purger(const char *path, size_t queue_max)
{
	assert_int_equal(tapir_ubctl_init(&ctl, path, 0), 0);
	return tapir_purger_create(
		tapir_ubctl_flush, &ctl, ctl.what, queue_max);
}

static int
setup(void **state)
{
	struct fake_unbound *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->path, sizeof(f->path), "/tmp/tapir-purge-%d.sock",
		(int)getpid());
	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->fd, 8), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake_unbound *f = *state;

	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->thread, NULL);
	unlink(f->path);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static void
test_push_sends_flush_zone_for_the_name(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 16);
	struct tapir_purger_stats st;

	assert_non_null(p);
	assert_int_equal(tapir_purger_push(p, "bad.example"), 0);
	tapir_purger_drain(p, 5000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.requested, 1);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.by_name, 0);
	assert_string_equal(f->last, "UBCT1 flush_zone bad.example.\n");
	tapir_purger_destroy(p);
}

/* A name whose cached answers a flush by key removes: "flush", no walk. */
static void
test_push_name_sends_flush_for_the_name(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 16);
	struct tapir_purger_stats st;

	assert_non_null(p);
	assert_int_equal(tapir_purger_push_name(p, "bad.example"), 0);
	tapir_purger_drain(p, 5000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.requested, 1);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.by_name, 1);
	assert_string_equal(f->last, "UBCT1 flush bad.example.\n");
	tapir_purger_destroy(p);
}

static void
test_refused_request_is_retried(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 16);
	struct tapir_purger_stats st;

	atomic_store(&f->refuse, 2);
	assert_int_equal(tapir_purger_push(p, "retry.example"), 0);
	tapir_purger_drain(p, 5000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.done, 1);
	assert_int_equal(atomic_load(&f->requests), 3);
	tapir_purger_destroy(p);
}

static void
test_unreachable_socket_counts_failure(void **state)
{
	struct tapir_purger *p = purger("/nonexistent/ctl", 4);
	struct tapir_purger_stats st;

	(void)state;
	assert_int_equal(tapir_purger_push(p, "gone.example"), 0);
	tapir_purger_drain(p, 5000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.done, 0);
	tapir_purger_destroy(p);
}

/* More names than the queue holds (one MQTT message, a file reload): none
 * is lost, the queue becomes one flush of everything. */
static void
test_full_queue_becomes_one_flush_of_everything(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 4);
	struct tapir_purger_stats st;
	char name[64];
	int refused = 0;

	atomic_store(&f->hold, 1);
	assert_int_equal(tapir_purger_push(p, "first.example"), 0);
	wait_requests(f, 1);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "many-%d.example", i);
		refused += tapir_purger_push(p, name) != 0;
	}
	hold_for(f, 20);
	tapir_purger_drain(p, 10000);
	assert_int_equal(refused, 0);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.overflows, 1);
	/* 4 queued and the 5th folded in at the overflow, 5 after it. */
	assert_int_equal(st.coalesced, 9);
	assert_int_equal(atomic_load(&f->requests), 2);
	assert_string_equal(f->last, "UBCT1 flush_zone .\n");
	tapir_purger_destroy(p);
}

static void
test_destroy_with_queued_names_returns(void **state)
{
	struct tapir_purger *p = purger("/nonexistent/ctl", 100);
	int64_t t0 = tapir_monotonic_ms();

	(void)state;
	for (int i = 0; i < 50; i++)
		assert_int_equal(tapir_purger_push(p, "q.example"), 0);
	tapir_purger_destroy(p);
	/* At most one retry interval plus one connect attempt. */
	assert_true(tapir_monotonic_ms() - t0 < 2000);
}

static void
wait_requests(struct fake_unbound *f, int n)
{
	for (int i = 0; i < 2000 && atomic_load(&f->requests) < n; i++) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(atomic_load(&f->requests), n);
}

static void
hold_for(struct fake_unbound *f, long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
	atomic_store(&f->hold, 0);
}

static void
test_burst_is_folded_into_one_flush_of_everything(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 10000);
	struct tapir_purger_stats st;
	char name[64];

	/* The first request reaches Unbound, which answers nothing for a
	 * while (a flush of a large cache) until the other 399 names wait
	 * behind it: one by one they would take far past the budget. */
	atomic_store(&f->hold, 1);
	assert_int_equal(tapir_purger_push(p, "burst-0.example"), 0);
	wait_requests(f, 1);
	for (int i = 1; i < 400; i++) {
		snprintf(name, sizeof(name), "burst-%d.example", i);
		assert_int_equal(tapir_purger_push(p, name), 0);
	}
	hold_for(f, 20);
	tapir_purger_drain(p, 10000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.requested, 400);
	/* The first name on its own, then one flush of everything. */
	assert_int_equal(atomic_load(&f->requests), 2);
	assert_int_equal(st.coalesced, 398);
	assert_int_equal(st.done, 2);
	assert_string_equal(f->last, "UBCT1 flush_zone .\n");
	tapir_purger_destroy(p);
}

/* Flushes by name walk no cache: a backlog of them is never folded, even
 * after a flush_zone that took long (which would fold flush_zones). */
static void
test_flushes_by_name_are_not_folded(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 10000);
	struct tapir_purger_stats st;
	char name[64];

	atomic_store(&f->hold, 1);
	assert_int_equal(tapir_purger_push(p, "slow.example"), 0);
	wait_requests(f, 1);
	hold_for(f, 50);
	tapir_purger_drain(p, 10000);
	atomic_store(&f->hold, 1);
	assert_int_equal(tapir_purger_push_name(p, "name-0.example"), 0);
	wait_requests(f, 2);
	for (int i = 1; i < 400; i++) {
		snprintf(name, sizeof(name), "name-%d.example", i);
		assert_int_equal(tapir_purger_push_name(p, name), 0);
	}
	hold_for(f, 20);
	tapir_purger_drain(p, 10000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.coalesced, 0);
	assert_int_equal(st.by_name, 400);
	assert_int_equal(atomic_load(&f->requests), 401);
	assert_string_equal(f->last, "UBCT1 flush name-399.example.\n");
	tapir_purger_destroy(p);
}

/* Cheap flushes (a small cache) are never folded, however many names
 * wait: 400 names, each flushed on its own, nothing else dropped. */
static void
test_cheap_flushes_are_not_folded(void **state)
{
	struct fake_unbound *f = *state;
	struct tapir_purger *p = purger(f->path, 10000);
	struct tapir_purger_stats st;
	char name[64];

	/* Eight round trips first: the cost is the least of the last eight,
	 * so one slow start (a loaded machine, a sanitizer) cannot fold. */
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "warm-%d.example", i);
		assert_int_equal(tapir_purger_push(p, name), 0);
		tapir_purger_drain(p, 10000);
	}
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "burst-%d.example", i);
		assert_int_equal(tapir_purger_push(p, name), 0);
	}
	tapir_purger_drain(p, 10000);
	tapir_purger_stats(p, &st);
	assert_int_equal(st.requested, 408);
	assert_int_equal(st.coalesced, 0);
	assert_int_equal(st.done, 408);
	assert_int_equal(atomic_load(&f->requests), 408);
	assert_string_equal(f->last, "UBCT1 flush_zone burst-399.example.\n");
	tapir_purger_destroy(p);
}

static int
count_send(void *arg, const char *name, bool zone)
{
	(void)name;
	(void)zone;
	atomic_fetch_add((_Atomic int *)arg, 1);
	return 0;
}

static void
wait_count(_Atomic int *n, int want)
{
	for (int i = 0; i < 2000 && atomic_load(n) < want; i++) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(atomic_load(n), want);
}

/* Held (the writer, across a batch), pushes do not wake the purger until
 * a few dozen wait; release sends what came meanwhile. */
static void
test_held_pushes_wait_for_release_or_a_batch(void **state)
{
	_Atomic int sent = 0;
	struct tapir_purger *p =
		tapir_purger_create(count_send, &sent, "test", 10000);
	struct timespec ts = { 0, 100000000L };
	char name[32];

	(void)state;
	assert_non_null(p);
	/* One sent, and time to fall asleep: an awake purger goes on. */
	assert_int_equal(tapir_purger_push_name(p, "first.example"), 0);
	wait_count(&sent, 1);
	nanosleep(&ts, NULL);
	tapir_purger_hold(p);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		assert_int_equal(tapir_purger_push_name(p, name), 0);
	}
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&sent), 1);
	tapir_purger_release(p);
	wait_count(&sent, 11);

	/* A long burst is worked through while it grows. */
	tapir_purger_hold(p);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "m%d.example", i);
		assert_int_equal(tapir_purger_push_name(p, name), 0);
	}
	nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	assert_true(atomic_load(&sent) >= 11 + 64);
	tapir_purger_release(p);
	wait_count(&sent, 111);
	tapir_purger_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_push_sends_flush_zone_for_the_name, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_push_name_sends_flush_for_the_name, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_refused_request_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_burst_is_folded_into_one_flush_of_everything,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cheap_flushes_are_not_folded, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_flushes_by_name_are_not_folded, setup, teardown),
		cmocka_unit_test(test_unreachable_socket_counts_failure),
		cmocka_unit_test_setup_teardown(
			test_full_queue_becomes_one_flush_of_everything, setup,
			teardown),
		cmocka_unit_test(test_destroy_with_queued_names_returns),
		cmocka_unit_test(test_held_pushes_wait_for_release_or_a_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
