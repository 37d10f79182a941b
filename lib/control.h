/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: a Unix stream socket served by a thread of its own,
 * so that no Unbound worker ever waits on an operator. One request line per
 * connection (at most TAPIR_CONTROL_MAX_LINE bytes, read with a deadline),
 * a text answer, then the server closes. An answer whose first line starts
 * with "error:" reports a failed command.
 *
 * Thread safety: the handler runs on the control thread; it must only use
 * reader-safe functions of the engine.
 */
#ifndef TAPIR_CONTROL_H
#define TAPIR_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/tapir.h"

#define TAPIR_CONTROL_MAX_LINE 4096

/** A growable answer buffer. */
struct tapir_buf {
	char *data; /* owned, NUL-terminated when len > 0 */
	size_t len, cap;
	bool failed; /* an allocation failed: the answer is truncated */
};

/** Append formatted text. */
void tapir_buf_printf(struct tapir_buf *b, const char *fmt, ...)
	TAPIR_PRINTF(2, 3);
/** Append bytes. */
void tapir_buf_append(struct tapir_buf *b, const char *s, size_t len);
/** Free the buffer's memory and empty it. */
void tapir_buf_clear(struct tapir_buf *b);

/** Handles one request line (without the newline) into out. */
typedef void (*tapir_control_fn)(
	void *arg, const char *line, struct tapir_buf *out);

struct tapir_control;

/**
 * Bind the socket (replacing a stale one) and start the thread.
 * @param path: socket path; mode: its permission bits.
 * @return: the server or NULL with err filled.
 */
struct tapir_control *tapir_control_create(const char *path, unsigned mode,
	tapir_control_fn fn, void *arg, struct tapir_error *err);

/** Stop and join the thread, remove the socket; NULL is fine. */
void tapir_control_destroy(struct tapir_control *c);

/**
 * Client side: send one request and collect the answer.
 * @param timeout_ms: for connect, send and the whole answer.
 * @return: 0 or a negative tapir_err (err filled).
 */
int tapir_control_request(const char *path, const char *line, int timeout_ms,
	struct tapir_buf *out, struct tapir_error *err) TAPIR_WUR;

#endif
