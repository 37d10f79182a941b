/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error texts, the log sink and clocks shared by every part of libtapir.
 */
#include "tapir_build.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "lib/tapir.h"

static tapir_log_fn log_fn;
static void *log_arg;

static const struct {
	int code;
	const char *text;
} errors[] = {
	{ TAPIR_EOK, "success" },
	{ TAPIR_ENOMEM, "out of memory" },
	{ TAPIR_EINVAL, "invalid argument" },
	{ TAPIR_EIO, "input/output error" },
	{ TAPIR_ENOENT, "not found" },
	{ TAPIR_ERANGE, "value out of range" },
	{ TAPIR_EEXIST, "already exists" },
	{ TAPIR_ETIMEDOUT, "timed out" },
	{ TAPIR_ECANCELED, "cancelled" },
	{ TAPIR_EPARSE, "malformed input" },
	{ TAPIR_ESIG, "bad signature" },
	{ TAPIR_ENOKEY, "unknown key id" },
	{ TAPIR_EALG, "algorithm not allowed" },
	{ TAPIR_EUNSIGNED, "not a signed message" },
	{ TAPIR_ENAME, "invalid domain name" },
	{ TAPIR_ETOOBIG, "input too large" },
	{ TAPIR_EEXPIRED, "already expired" },
	{ TAPIR_ESOURCE, "message for another source" },
	{ TAPIR_ELIST, "list type not accepted" },
	{ TAPIR_ECONFIG, "invalid configuration" },
	{ TAPIR_EFULL, "table full" },
	{ TAPIR_EMSGTYPE, "message type not accepted" },
};

const char *
tapir_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == err)
			return errors[i].text;
	return "unknown error";
}

int
tapir_error_set(
	struct tapir_error *err, int code, size_t offset, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->offset = offset;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
	}
	return code;
}

void
tapir_log_set(tapir_log_fn fn, void *arg)
{
	log_fn = fn;
	log_arg = arg;
}

size_t
tapir_log_escape(char *dst, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t at = 0;

	if (size == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f) {
			if (at + 1 >= size)
				break;
			dst[at++] = (char)c;
			continue;
		}
		/* Whole escapes only: a cut "\x0" would read as other text. */
		if (at + 4 >= size)
			break;
		dst[at++] = '\\';
		dst[at++] = 'x';
		dst[at++] = hex[c >> 4];
		dst[at++] = hex[c & 15];
	}
	dst[at] = '\0';
	return at;
}

void
tapir_log(enum tapir_log_level level, const char *fmt, ...)
{
	/* Escaping can make a line up to four times as long; the second
	 * buffer keeps twice the first, and longer lines are cut. */
	char text[512], line[1024];
	int n = snprintf(text, sizeof(text), "tapir-pop: ");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	/* Escaped here, once for every caller: the arguments are where
	 * outside text comes in (topics, source names, jansson's errors,
	 * query names), and no caller has to remember it. */
	tapir_log_escape(line, sizeof(line), text, strlen(text));
	if (log_fn)
		log_fn(log_arg, level, line);
	else
		fprintf(stderr, "%s\n", line);
}

int64_t
tapir_now(void)
{
	struct timespec ts;
	/* Expiry is to the second: the coarse clock (a few ms resolution,
	 * no hardware read) is exact enough and cheap on the query path. */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t
tapir_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
tapir_monotonic_ms(void)
{
	return tapir_monotonic_us() / 1000;
}

void
tapir_deadline_ms(struct timespec *ts, int64_t ms)
{
	/* pthread_cond_timedwait() takes an absolute time on the condition's
	 * clock, CLOCK_REALTIME for every condition here (their default). A
	 * step of the wall clock moves the deadline: the waits are bounded
	 * ticks and time-outs, re-armed by their loops. */
	if (ms < 0)
		ms = 0;
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void
tapir_thread_background(const char *name)
{
#if defined(__linux__)
	/* On Linux a nice value belongs to a thread: PRIO_PROCESS with a
	 * thread id changes that thread alone. A weight of 110 against a
	 * worker's 1024 still leaves the writer a share under full load, so
	 * decisions keep being applied; SCHED_IDLE could starve them. */
	id_t tid = (id_t)syscall(SYS_gettid);
	int cur;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, tid);
	if (!(cur == -1 && errno != 0)) {
		int want = cur + TAPIR_BACKGROUND_NICE;
		(void)setpriority(PRIO_PROCESS, tid, want > 19 ? 19 : want);
	}
	(void)pthread_setname_np(pthread_self(), name);
#else
	(void)name;
#endif
}

int
tapir_duration_parse(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0, unit = 1;
	const char *p = s;

	*out = 0;
	if (!s || *p < '0' || *p > '9')
		return TAPIR_EPARSE;
	for (; *p >= '0' && *p <= '9'; p++) {
		/* Past max already: refused as too long, not wrapped. */
		if (v > (INT64_MAX - 9) / 10)
			return TAPIR_ERANGE;
		v = v * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return TAPIR_EPARSE;
	}
	if (*p && p[1])
		return TAPIR_EPARSE;
	if (v > max / unit)
		return TAPIR_ERANGE;
	*out = v * unit;
	return 0;
}

/* Bytes of the UTF-8 character that starts at s (n left), or 0 when none
 * starts there (RFC 3629, section 4: the well-formed byte sequences). */
static size_t
utf8_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* The second byte's range shuts out overlong forms, surrogates and
	 * code points above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

bool
tapir_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, n; i < len; i += n)
		if (!(n = utf8_char(p + i, len - i)))
			return false;
	return true;
}

size_t
tapir_utf8_prefix(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t at;

	if (len <= max)
		return len;
	/* Back from max to the first byte of a character: at most 3
	 * continuation bytes in valid UTF-8. */
	at = max;
	while (at > 0 && (p[at] & 0xc0) == 0x80)
		at--;
	return at;
}

size_t
tapir_strappend(char *buf, size_t size, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at >= size)
		return at;
	va_start(ap, fmt);
	n = vsnprintf(buf + at, size - at, fmt, ap);
	va_end(ap);
	if (n < 0)
		return at;
	return at + (size_t)n >= size ? size - 1 : at + (size_t)n;
}
