/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Common definitions of libtapir: error codes, the log sink and the clock.
 *
 * Functions return 0 on success or a negative enum tapir_err; constructors
 * return a pointer or NULL. Nothing in lib/ includes Unbound headers: the
 * module maps the log sink onto Unbound's log and passes names in.
 *
 * Thread safety: tapir_log_set() must be called before any other thread of
 * the library runs (in the module's init); tapir_log() and tapir_strerror()
 * may be called from any thread.
 */
#ifndef TAPIR_TAPIR_H
#define TAPIR_TAPIR_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAPIR_WUR	   __attribute__((warn_unused_result))
#define TAPIR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TAPIR_EXPORT	   __attribute__((visibility("default")))

enum tapir_err {
	TAPIR_EOK = 0,
	TAPIR_ENOMEM = -ENOMEM,
	TAPIR_EINVAL = -EINVAL,
	TAPIR_EIO = -EIO,
	TAPIR_ENOENT = -ENOENT,
	TAPIR_ERANGE = -ERANGE,
	TAPIR_EEXIST = -EEXIST,
	TAPIR_ETIMEDOUT = -ETIMEDOUT,
	TAPIR_ECANCELED = -ECANCELED, /* the caller asked it to stop */
	TAPIR_EBASE = -1000,
	TAPIR_EPARSE = TAPIR_EBASE, /* malformed input */
	TAPIR_ESIG = -1001,	    /* signature does not verify */
	TAPIR_ENOKEY = -1002,	    /* no trusted key with that kid */
	TAPIR_EALG = -1003,	    /* algorithm missing or not allowed */
	TAPIR_EUNSIGNED = -1004,    /* not a JWS at all */
	TAPIR_ENAME = -1005,	    /* invalid domain name */
	TAPIR_ETOOBIG = -1006,	    /* input over a configured limit */
	TAPIR_EEXPIRED = -1007,	    /* entry already expired */
	TAPIR_ESOURCE = -1008,	    /* message for another source */
	TAPIR_ELIST = -1009,	    /* list type not accepted */
	TAPIR_ECONFIG = -1010,	    /* invalid configuration */
	TAPIR_EFULL = -1011,	    /* a fixed-size table is full */
	TAPIR_EMSGTYPE = -1012,	    /* msg_type not accepted */
	TAPIR_ELAST = -1013,
};

/**
 * Set up the libraries lib/ uses (libsodium, jansson, libmosquitto), once
 * per process; any thread, any number of times, before anything else of
 * lib/ runs. Never undone (lib/libinit.c says why).
 * @return: 0, or TAPIR_EIO when a library failed to initialise.
 */
int tapir_lib_init(void) TAPIR_WUR;

/** Text for an error code (never NULL). */
const char *tapir_strerror(int err);

/** Detail of a parse error: where and why. */
struct tapir_error {
	int line;	/* 1-based line, 0 when not applicable */
	size_t offset;	/* byte offset into the input */
	char text[160]; /* one human-readable reason */
};

/** Fill err (if not NULL) with a reason; returns code for tail calls. */
int tapir_error_set(struct tapir_error *err, int code, size_t offset,
	const char *fmt, ...) TAPIR_PRINTF(4, 5);

enum tapir_log_level {
	TAPIR_LOG_ERR = 0,
	TAPIR_LOG_WARN = 1,
	TAPIR_LOG_INFO = 2,
	TAPIR_LOG_DEBUG = 3,
};

/** Where lib/ sends its log lines. @param msg: one line, no newline,
 * already prefixed with "tapir-pop: "; valid during the call only. */
typedef void (*tapir_log_fn)(
	void *arg, enum tapir_log_level level, const char *msg);

/** Set the sink (NULL: stderr). Call before starting any library thread. */
void tapir_log_set(tapir_log_fn fn, void *arg);

/**
 * Append printf-style text at buf + at, truncating to size (NUL always
 * written). For building answers of bounded size piece by piece.
 * @return: the new length (at most size - 1); at itself when at >= size.
 */
size_t tapir_strappend(char *buf, size_t size, size_t at, const char *fmt, ...)
	TAPIR_PRINTF(4, 5);

/**
 * Parse a duration: decimal seconds, or a number with one unit suffix s,
 * m, h or d ("90", "90s", "15m", "2h", "1d"). Nothing else: no sign, no
 * blanks, no fraction, no second unit.
 * @param s: NUL-terminated text.
 * @param max: the longest duration accepted, in seconds.
 * @param out: the seconds; 0 on failure.
 * @return: 0, TAPIR_EPARSE (not a duration) or TAPIR_ERANGE (over max).
 */
int tapir_duration_parse(const char *s, int64_t max, int64_t *out) TAPIR_WUR;

/**
 * Whether len bytes at s are UTF-8 as RFC 3629 has it: no overlong forms,
 * no surrogates, nothing above U+10FFFF, no cut character. What jansson
 * accepts in a JSON string.
 */
bool tapir_utf8_valid(const char *s, size_t len);

/**
 * How many bytes of s (valid UTF-8, len bytes) to keep so that the text
 * fits in max bytes without cutting a character in two.
 * @return: at most max, and at most len.
 */
size_t tapir_utf8_prefix(const char *s, size_t len, size_t max);

/** Log one line through the sink. */
/** Log one line through the sink. Bytes of the formatted line outside
 * printable ASCII are escaped (tapir_log_escape()), so that text from
 * outside (topics, names, parser errors) can neither start a log line of
 * its own nor reach a terminal as control sequences. */
void tapir_log(enum tapir_log_level level, const char *fmt, ...)
	TAPIR_PRINTF(2, 3);

/**
 * Copy text for a log line or an operator's screen: each byte outside
 * 0x20..0x7e (control characters, DEL, any byte of UTF-8 or of something
 * else) becomes "\xHH"; the rest is copied as is.
 * @param dst: receives the text, NUL-terminated when size > 0; a copy
 *	that does not fit stops before the first escape or byte that would
 *	not fit whole.
 * @param src: len bytes, NULs included (escaped).
 * @return: the length written to dst, without the NUL.
 */
size_t tapir_log_escape(char *dst, size_t size, const char *src, size_t len);

/** Seconds since the epoch, from CLOCK_REALTIME (expiry is wall time). */
int64_t tapir_now(void);

/**
 * a + b for times and durations in seconds, saturating at INT64_MIN and
 * INT64_MAX: an addition of untrusted values (a feed's time_added and ttl,
 * a file's stamp and a zone's expire) must not overflow, which is
 * undefined behaviour.
 */
static inline int64_t
tapir_time_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/** Monotonic milliseconds, for timers that must not jump. */
int64_t tapir_monotonic_ms(void);

/** Monotonic microseconds, for measuring short operations. */
int64_t tapir_monotonic_us(void);

struct timespec;

/**
 * The deadline ms milliseconds from now on CLOCK_REALTIME, as
 * pthread_cond_timedwait() takes it on a condition of the default clock:
 * tv_nsec normalised to [0, 1e9). A negative ms is now.
 */
void tapir_deadline_ms(struct timespec *ts, int64_t ms);

/* How much nicer than Unbound's workers the module's own threads run. */
#define TAPIR_BACKGROUND_NICE 10

/**
 * Called first by each thread the module starts (MQTT, writer, purge,
 * transfers, control): name it for top -H and ps, and lower its scheduling
 * priority by TAPIR_BACKGROUND_NICE, so that a burst of decisions never
 * takes a CPU from a worker answering queries. Failures are ignored.
 * @param name: at most 15 characters.
 */
void tapir_thread_background(const char *name);

#endif
