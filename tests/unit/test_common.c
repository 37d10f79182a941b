/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/common.c: every error code has its own text and an unknown
 * code still gets one, tapir_error_set() formats into a fixed buffer without
 * overrunning it, the log sink sees prefixed single lines with every byte
 * outside printable ASCII escaped whole (and NULL puts stderr back),
 * the two clocks agree with the system's, and a condition wait's deadline
 * is normalised.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/tapir.h"

struct sink {
	int calls;
	enum tapir_log_level level;
	char line[1024];
};

static void
capture_log(void *arg, enum tapir_log_level level, const char *msg)
{
	struct sink *s = arg;

	s->calls++;
	s->level = level;
	snprintf(s->line, sizeof(s->line), "%s", msg);
}

static int
setup_sink(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	tapir_log_set(capture_log, s);
	*state = s;
	return 0;
}

static int
teardown_sink(void **state)
{
	tapir_log_set(NULL, NULL);
	free(*state);
	return 0;
}

static const int all_codes[] = {
	TAPIR_EOK,
	TAPIR_ENOMEM,
	TAPIR_EINVAL,
	TAPIR_EIO,
	TAPIR_ENOENT,
	TAPIR_ERANGE,
	TAPIR_EEXIST,
	TAPIR_ECANCELED,
	TAPIR_EPARSE,
	TAPIR_ESIG,
	TAPIR_ENOKEY,
	TAPIR_EALG,
	TAPIR_EUNSIGNED,
	TAPIR_ENAME,
	TAPIR_ETOOBIG,
	TAPIR_EEXPIRED,
	TAPIR_ESOURCE,
	TAPIR_ELIST,
	TAPIR_ECONFIG,
	TAPIR_EFULL,
	TAPIR_EMSGTYPE,
};
#define N_CODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void
test_strerror_every_code_has_its_own_text(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CODES; i++) {
		const char *t = tapir_strerror(all_codes[i]);
		assert_non_null(t);
		assert_true(strlen(t) > 0);
		assert_string_not_equal(t, "unknown error");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(
				t, tapir_strerror(all_codes[j]));
	}
}

static void
test_strerror_library_range_is_fully_covered(void **state)
{
	(void)state;
	/* A code added to enum tapir_err without a text shows up here. */
	for (int c = TAPIR_EBASE; c > TAPIR_ELAST; c--)
		assert_string_not_equal(tapir_strerror(c), "unknown error");
}

static void
test_strerror_unknown_codes_get_a_text(void **state)
{
	(void)state;
	assert_string_equal(tapir_strerror(TAPIR_ELAST), "unknown error");
	assert_string_equal(tapir_strerror(1), "unknown error");
	assert_string_equal(tapir_strerror(-999999), "unknown error");
	assert_string_equal(tapir_strerror(-EPIPE), "unknown error");
}

static void
test_errno_codes_are_negative_errno(void **state)
{
	(void)state;
	assert_int_equal(TAPIR_ENOMEM, -ENOMEM);
	assert_int_equal(TAPIR_EINVAL, -EINVAL);
	assert_int_equal(TAPIR_EIO, -EIO);
	assert_int_equal(TAPIR_ENOENT, -ENOENT);
}

static void
test_error_set_formats_text_and_offset(void **state)
{
	struct tapir_error err;

	(void)state;
	memset(&err, 0xaa, sizeof(err));
	assert_int_equal(tapir_error_set(&err, TAPIR_EPARSE, 42, "bad %s at %d",
				 "thing", 7),
		TAPIR_EPARSE);
	assert_int_equal(err.offset, 42);
	assert_string_equal(err.text, "bad thing at 7");
}

static void
test_error_set_truncates_long_text(void **state)
{
	struct tapir_error err;
	char big[1000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(&err, 0xaa, sizeof(err));
	assert_int_equal(tapir_error_set(&err, TAPIR_ETOOBIG, 0, "%s", big),
		TAPIR_ETOOBIG);
	assert_int_equal(strlen(err.text), sizeof(err.text) - 1);
	assert_int_equal(err.text[sizeof(err.text) - 1], '\0');
	assert_int_equal(err.text[0], 'x');
}

static void
test_error_set_null_error_returns_code(void **state)
{
	(void)state;
	assert_int_equal(tapir_error_set(NULL, TAPIR_ESIG, 3, "ignored %d", 1),
		TAPIR_ESIG);
}

static void
test_log_sink_receives_prefixed_line_and_level(void **state)
{
	struct sink *s = *state;

	tapir_log(TAPIR_LOG_WARN, "queue %s: %d dropped", "full", 3);
	assert_int_equal(s->calls, 1);
	assert_int_equal(s->level, TAPIR_LOG_WARN);
	assert_string_equal(s->line, "tapir-pop: queue full: 3 dropped");

	tapir_log(TAPIR_LOG_DEBUG, "x");
	assert_int_equal(s->calls, 2);
	assert_int_equal(s->level, TAPIR_LOG_DEBUG);
	assert_string_equal(s->line, "tapir-pop: x");
}

static void
test_log_long_line_is_truncated_with_prefix(void **state)
{
	struct sink *s = *state;
	char big[2000];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tapir_log(TAPIR_LOG_ERR, "%s", big);
	assert_int_equal(s->calls, 1);
	assert_int_equal(strncmp(s->line, "tapir-pop: yyy", 14), 0);
	/* Bounded by the library's line buffer, far below the input. */
	assert_true(strlen(s->line) < 1000);
	assert_null(strchr(s->line, '\n'));
}

/* Text from outside (a topic, a source name, jansson's error quoting the
 * message) reaches the log through the format's arguments: a newline
 * there would forge a second log line, an ESC sequence would drive the
 * terminal of whoever reads the log. Each such byte arrives escaped. */
static void
test_log_escapes_control_bytes_of_arguments(void **state)
{
	struct sink *s = *state;

	tapir_log(TAPIR_LOG_WARN, "topic %s: %s", "a\nFAKE: tapir-pop: admin\r",
		"\x1b[31mred\x7f\xff\x01");
	assert_int_equal(s->calls, 1);
	assert_string_equal(s->line,
		"tapir-pop: topic a\\x0aFAKE: tapir-pop: admin\\x0d: "
		"\\x1b[31mred\\x7f\\xff\\x01");
	assert_null(strchr(s->line, '\n'));
}

static void
test_log_escape_keeps_printable_ascii(void **state)
{
	char all[96], out[200];

	(void)state;
	for (int c = 0x20; c < 0x7f; c++)
		all[c - 0x20] = (char)c;
	all[0x7f - 0x20] = '\0';
	assert_int_equal(tapir_log_escape(out, sizeof(out), all, strlen(all)),
		strlen(all));
	assert_string_equal(out, all);
}

static void
test_log_escape_escapes_nul_and_high_bytes(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(
		tapir_log_escape(out, sizeof(out), "a\0b\x80\xc3\xa9", 6), 18);
	assert_string_equal(out, "a\\x00b\\x80\\xc3\\xa9");
}

/* A copy that does not fit ends before the escape that would not fit
 * whole, never in the middle of one. */
static void
test_log_escape_never_cuts_an_escape(void **state)
{
	char out[8];

	(void)state;
	memset(out, '#', sizeof(out));
	/* "ab" and one escape fit 6 of the 7 bytes; the next one does not. */
	assert_int_equal(tapir_log_escape(out, sizeof(out), "ab\n\n", 4), 6);
	assert_string_equal(out, "ab\\x0a");
	assert_int_equal(tapir_log_escape(out, 4, "\n", 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(tapir_log_escape(out, 1, "x", 1), 0);
	assert_string_equal(out, "");
	out[0] = '#';
	assert_int_equal(tapir_log_escape(out, 0, "x", 1), 0);
	assert_int_equal(out[0], '#');
}

/* Runs tapir_log() with stderr redirected to a file; returns what it got. */
static size_t
log_to_stderr(char *buf, size_t size)
{
	FILE *tmp = tmpfile();
	int saved;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_not_equal(dup2(fileno(tmp), STDERR_FILENO), -1);
	tapir_log(TAPIR_LOG_INFO, "to %s", "stderr");
	fflush(stderr);
	assert_int_not_equal(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return n;
}

static void
test_log_set_null_restores_stderr(void **state)
{
	struct sink *s = *state;
	char got[256];

	tapir_log_set(NULL, NULL);
	log_to_stderr(got, sizeof(got));
	assert_int_equal(s->calls, 0);
	assert_string_equal(got, "tapir-pop: to stderr\n");
}

static void
test_log_sink_installed_keeps_stderr_quiet(void **state)
{
	struct sink *s = *state;
	char got[256];

	assert_int_equal(log_to_stderr(got, sizeof(got)), 0);
	assert_int_equal(s->calls, 1);
	assert_string_equal(s->line, "tapir-pop: to stderr");
}

static void
test_now_matches_system_wall_clock(void **state)
{
	time_t before, after;
	int64_t now;

	(void)state;
	before = time(NULL);
	now = tapir_now();
	after = time(NULL);
	/* The coarse clock may lag the precise one by one tick. */
	assert_true(now >= (int64_t)before - 1);
	assert_true(now <= (int64_t)after);
	assert_true(now > 1700000000); /* after 2023: not a zero clock */
}

static void
test_monotonic_ms_advances_with_sleep(void **state)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 30 * 1000000 };
	int64_t a, b;

	(void)state;
	a = tapir_monotonic_ms();
	assert_int_equal(nanosleep(&ts, NULL), 0);
	b = tapir_monotonic_ms();
	assert_true(b - a >= 29);
	assert_true(b - a < 5000);
	assert_true(tapir_monotonic_ms() >= b);
}

static int64_t
ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* One tapir_deadline_ms(ms), read between two readings of the wall clock:
 * normalised, and ms after a moment between them. Returns whether it
 * had to carry nanoseconds into seconds: the clock read inside it is no
 * earlier than before, in the same second. */
static bool
check_deadline(int64_t ms)
{
	struct timespec before, got, after;
	int64_t add = ms > 0 ? ms * 1000000 : 0;

	clock_gettime(CLOCK_REALTIME, &before);
	tapir_deadline_ms(&got, ms);
	clock_gettime(CLOCK_REALTIME, &after);
	if (got.tv_nsec < 0 || got.tv_nsec >= 1000000000L)
		fail_msg("deadline %lld ms: tv_nsec %ld not normalised",
			(long long)ms, (long)got.tv_nsec);
	assert_true(ns_of(&got) >= ns_of(&before) + add);
	assert_true(ns_of(&got) <= ns_of(&after) + add);
	return after.tv_sec == before.tv_sec &&
	       before.tv_nsec + (ms % 1000) * 1000000 >= 1000000000L;
}

/* The deadline a condition wait takes: milliseconds that cross a second
 * boundary carry into tv_sec, a value past 32 bits is no less exact, a
 * negative one is now. */
static void
test_deadline_ms_normalises_and_takes_large_values(void **state)
{
	int carried = 0;

	(void)state;
	/* 999 ms from any moment after the first millisecond of a second
	 * crosses into the next: retried until one such moment is met. */
	for (int i = 0; i < 1000 && carried < 3; i++)
		carried += check_deadline(999);
	assert_int_equal(carried, 3);
	check_deadline(0);
	check_deadline(1);
	check_deadline(1500);
	check_deadline(-5);
	/* About 58 days, past INT_MAX and UINT_MAX milliseconds. */
	check_deadline(INT64_C(5000000123));
}

struct bg_seen {
	int before, after;
	char name[16];
};

static void *
bg_main(void *arg)
{
	struct bg_seen *seen = arg;
	id_t tid = (id_t)syscall(SYS_gettid);

	seen->before = getpriority(PRIO_PROCESS, tid);
	tapir_thread_background("tapir-test");
	seen->after = getpriority(PRIO_PROCESS, tid);
	pthread_getname_np(pthread_self(), seen->name, sizeof(seen->name));
	return NULL;
}

/* The module's threads yield to Unbound's workers: a named thread, ten
 * nice levels down (capped at 19), and the caller's thread untouched. */
static void
test_thread_background_lowers_only_that_thread(void **state)
{
	struct bg_seen seen = { 0 };
	pthread_t th;
	int mine = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	int want;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, bg_main, &seen), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	want = seen.before + TAPIR_BACKGROUND_NICE;
	assert_int_equal(seen.after, want > 19 ? 19 : want);
	assert_string_equal(seen.name, "tapir-test");
	assert_int_equal(
		getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), mine);
}

static void
test_duration_parse_takes_seconds_and_one_unit(void **state)
{
	static const struct {
		const char *text;
		int64_t want;
	} good[] = {
		{ "0", 0 },
		{ "90", 90 },
		{ "90s", 90 },
		{ "15m", 900 },
		{ "2h", 7200 },
		{ "1d", 86400 },
		{ "007", 7 },
		{ "3650d", INT64_C(3650) * 86400 },
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(tapir_duration_parse(good[i].text,
					 INT64_C(3650) * 86400, &v),
			0);
		assert_int_equal(v, good[i].want);
	}
}

static void
test_duration_parse_refuses_garbage_and_too_long(void **state)
{
	static const char *const bad[] = { "", "abc", "d", "1x", "1dd", "1d2",
		"-5", "+5", " 5", "5 ", "1.5h", "0x10", "1D", "5ms" };
	int64_t v = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tapir_duration_parse(bad[i], 1000000, &v) != TAPIR_EPARSE)
			fail_msg("'%s' not refused", bad[i]);
		assert_int_equal(v, 0);
	}
	assert_int_equal(
		tapir_duration_parse("3651d", INT64_C(3650) * 86400, &v),
		TAPIR_ERANGE);
	assert_int_equal(
		tapir_duration_parse("99999999999999999999d", INT64_MAX, &v),
		TAPIR_ERANGE);
	assert_int_equal(
		tapir_duration_parse("106751991167301d", INT64_MAX, &v),
		TAPIR_ERANGE);
	assert_int_equal(v, 0);
}

static void
test_utf8_valid_follows_rfc3629(void **state)
{
	static const char *const good[] = { "", "plain", "caf\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbf",
		"\xf4\x8f\xbf\xbf" };
	static const char *const bad[] = {
		"\xff",		    /* never a UTF-8 byte */
		"caf\xe9",	    /* Latin-1 */
		"\xc3",		    /* cut */
		"\xe2\x82",	    /* cut */
		"\xc0\xaf",	    /* overlong '/' */
		"\xe0\x80\xaf",	    /* overlong */
		"\xed\xa0\x80",	    /* surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\x80",		    /* continuation alone */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!tapir_utf8_valid(good[i], strlen(good[i])))
			fail_msg("good[%zu] refused", i);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tapir_utf8_valid(bad[i], strlen(bad[i])))
			fail_msg("bad[%zu] accepted", i);
}

static void
test_utf8_prefix_never_cuts_a_character(void **state)
{
	/* a, é (2), € (3), 😀 (4): boundaries at 1, 3, 6, 10. */
	static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	static const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 10 };

	(void)state;
	for (size_t max = 0; max < sizeof(want) / sizeof(want[0]); max++)
		assert_int_equal(tapir_utf8_prefix(s, 10, max), want[max]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_every_code_has_its_own_text),
		cmocka_unit_test(
			test_thread_background_lowers_only_that_thread),
		cmocka_unit_test(test_strerror_library_range_is_fully_covered),
		cmocka_unit_test(test_strerror_unknown_codes_get_a_text),
		cmocka_unit_test(test_errno_codes_are_negative_errno),
		cmocka_unit_test(test_error_set_formats_text_and_offset),
		cmocka_unit_test(test_error_set_truncates_long_text),
		cmocka_unit_test(test_error_set_null_error_returns_code),
		cmocka_unit_test_setup_teardown(
			test_log_sink_receives_prefixed_line_and_level,
			setup_sink, teardown_sink),
		cmocka_unit_test_setup_teardown(
			test_log_long_line_is_truncated_with_prefix, setup_sink,
			teardown_sink),
		cmocka_unit_test(test_log_escape_keeps_printable_ascii),
		cmocka_unit_test(test_log_escape_escapes_nul_and_high_bytes),
		cmocka_unit_test(test_log_escape_never_cuts_an_escape),
		cmocka_unit_test_setup_teardown(
			test_log_escapes_control_bytes_of_arguments, setup_sink,
			teardown_sink),
		cmocka_unit_test_setup_teardown(
			test_log_set_null_restores_stderr, setup_sink,
			teardown_sink),
		cmocka_unit_test_setup_teardown(
			test_log_sink_installed_keeps_stderr_quiet, setup_sink,
			teardown_sink),
		cmocka_unit_test(test_now_matches_system_wall_clock),
		cmocka_unit_test(test_monotonic_ms_advances_with_sleep),
		cmocka_unit_test(
			test_deadline_ms_normalises_and_takes_large_values),
		cmocka_unit_test(
			test_duration_parse_takes_seconds_and_one_unit),
		cmocka_unit_test(
			test_duration_parse_refuses_garbage_and_too_long),
		cmocka_unit_test(test_utf8_valid_follows_rfc3629),
		cmocka_unit_test(test_utf8_prefix_never_cuts_a_character),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
