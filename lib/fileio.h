/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small file and descriptor utilities shared by libtapir: a bounded read
 * of a whole file, an atomic replace of a file (and the removal of the
 * temporary files of one that was killed), and a wait for one descriptor
 * with a deadline.
 *
 * Invariants: a read never holds more than max bytes, however the file
 * grows while it is read; a replace leaves either the old file or the
 * complete new one under the path, never a part (temporary file in the same
 * directory, fsync, rename, fsync of the directory).
 *
 * Thread safety: every function may be called from any thread; two
 * writers of one path each replace it atomically and the last rename wins.
 */
#ifndef TAPIR_FILEIO_H
#define TAPIR_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lib/tapir.h"

/* Refuse anything but a regular file (a FIFO would block the reader). */
#define TAPIR_FILEIO_REGULAR 0x1u

/**
 * Open a file to read, with the checks of tapir_fileio_read() made before
 * any of it is read.
 * @param fdp: receives the descriptor (O_CLOEXEC), the caller's to close;
 *	-1 on failure.
 * @param sb: receives its fstat().
 * @return: as tapir_fileio_read(), but for TAPIR_ENOMEM.
 */
int tapir_fileio_open(const char *path, size_t max, unsigned flags, int *fdp,
	struct stat *sb, struct tapir_error *err) TAPIR_WUR;

/**
 * Read a whole file into memory.
 * @param path: the file; named in every error.
 * @param max: the most bytes accepted; a bigger file is refused.
 * @param flags: 0 or TAPIR_FILEIO_REGULAR.
 * @param out: receives the contents, NUL-terminated (the NUL is not counted
 *	in outlen); owned by the caller, to free(). NULL on failure.
 * @param outlen: receives the length; 0 on failure.
 * @param err: if not NULL, the reason on failure.
 * @return: 0, TAPIR_ENOENT (no such file), TAPIR_EIO (cannot open or read,
 *	a directory, or not regular under TAPIR_FILEIO_REGULAR),
 *	TAPIR_ETOOBIG (over max: "PATH: larger than MAX bytes") or TAPIR_ENOMEM.
 */
int tapir_fileio_read(const char *path, size_t max, unsigned flags, char **out,
	size_t *outlen, struct tapir_error *err) TAPIR_WUR;

/**
 * Writes the new contents into the temporary file.
 * @param arg: the argument given to tapir_fileio_write_atomic().
 * @param fd: the temporary file, open for writing; borrowed, do not close.
 * @param err: may be NULL.
 * @return: 0; an errno value (> 0) when a write to fd failed, which
 *	tapir_fileio_write_atomic() reports as TAPIR_EIO with the temporary
 *	file's name; or a negative enum tapir_err with err filled.
 */
typedef int (*tapir_fileio_fill_fn)(void *arg, int fd, struct tapir_error *err);

/**
 * Replace path atomically: create PATH.XXXXXX (mode 0600) beside it, let
 * fill write it, fsync and close it, rename it over path, then fsync the
 * directory so that the rename itself survives a crash. On any failure
 * before the rename the temporary file is removed and path is untouched.
 * @param path: the file to replace; its directory must take new files.
 * @param fill: writes the contents.
 * @param arg: passed to fill; borrowed.
 * @param err: if not NULL, the reason on failure.
 * @return: 0, the negative error fill returned, TAPIR_EIO (create, write,
 *	sync, rename or directory sync failed: after a failed directory sync
 *	the new file is in place but may not survive a crash) or TAPIR_ENOMEM.
 */
int tapir_fileio_write_atomic(const char *path, tapir_fileio_fill_fn fill,
	void *arg, struct tapir_error *err) TAPIR_WUR;

/**
 * Remove what tapir_fileio_write_atomic() leaves behind when the process
 * is killed between creating its temporary file and the rename: regular
 * files named PATH.XXXXXX (six of mkstemp's letters and digits) beside
 * path. Only the single writer of path may call it (the invariant above),
 * before its first write, so that no temporary file is in use.
 * @return: how many were removed.
 */
size_t tapir_fileio_remove_temps(const char *path);

/**
 * Write all n bytes to fd, going on after short writes and EINTR.
 * @return: 0, or -1 with errno set by the write that failed.
 */
int tapir_fileio_write_all(int fd, const void *buf, size_t n) TAPIR_WUR;

/**
 * Wait until fd is ready for events or the deadline passes. Interrupted
 * waits are resumed; each poll() sleeps at most a minute.
 * @param fd: the descriptor; borrowed.
 * @param events: POLLIN, POLLOUT or both.
 * @param deadline_ms: on the tapir_monotonic_ms() clock.
 * @param err: if not NULL, the reason on failure.
 * @return: 0 when ready (an error or hang-up counts as ready: the next
 *	read or write reports it), TAPIR_ETIMEDOUT or TAPIR_EIO (poll failed).
 */
int tapir_fd_wait(int fd, short events, int64_t deadline_ms,
	struct tapir_error *err) TAPIR_WUR;

/* Tests only: the fsync() that tapir_fileio_write_atomic() calls, on the
 * file and then on its directory. */
extern int (*tapir__fileio_fsync)(int fd);

#endif
