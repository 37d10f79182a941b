/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bounded whole-file reads, atomic file replaces (and the removal of what
 * an interrupted one left) and the descriptor wait,
 * written once for every part of libtapir (see fileio.h).
 */
#include "tapir_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"

int (*tapir__fileio_fsync)(int fd) = fsync;

/* Where a file's size is not known (a FIFO), the first buffer. */
#define FIRST_CAP 65536

int
tapir_fileio_open(const char *path, size_t max, unsigned flags, int *fdp,
	struct stat *sb, struct tapir_error *err)
{
	int fd, rc;

	*fdp = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int saved = errno;
		return tapir_error_set(err,
			saved == ENOENT ? TAPIR_ENOENT : TAPIR_EIO, 0, "%s: %s",
			path, strerror(saved));
	}
	if (fstat(fd, sb) != 0) {
		rc = tapir_error_set(
			err, TAPIR_EIO, 0, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (S_ISDIR(sb->st_mode)) {
		rc = tapir_error_set(
			err, TAPIR_EIO, 0, "%s: %s", path, strerror(EISDIR));
		goto out_close;
	}
	if ((flags & TAPIR_FILEIO_REGULAR) && !S_ISREG(sb->st_mode)) {
		rc = tapir_error_set(
			err, TAPIR_EIO, 0, "%s: not a regular file", path);
		goto out_close;
	}
	if (S_ISREG(sb->st_mode) && (uint64_t)sb->st_size > max) {
		rc = tapir_error_set(err, TAPIR_ETOOBIG, 0,
			"%s: larger than %zu bytes", path, max);
		goto out_close;
	}
	*fdp = fd;
	return 0;

out_close:
	close(fd);
	return rc;
}

int
tapir_fileio_read(const char *path, size_t max, unsigned flags, char **out,
	size_t *outlen, struct tapir_error *err)
{
	struct stat sb;
	size_t cap, n = 0;
	char *buf, *nb;
	int fd, rc;

	*out = NULL;
	*outlen = 0;
	/* Room for max + 1 bytes and the NUL. */
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	if ((rc = tapir_fileio_open(path, max, flags, &fd, &sb, err)) != 0)
		return rc;
	/* A plain read, not mmap: a file truncated under a mapping would
	 * raise SIGBUS inside Unbound. Up to max + 1 bytes are read, so that
	 * a file that grows while being read is still caught as too big. */
	cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : FIRST_CAP;
	if (cap > max + 1)
		cap = max + 1;
	if (!(buf = malloc(cap + 1))) {
		rc = tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		goto out_close;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > max) {
				rc = tapir_error_set(err, TAPIR_ETOOBIG, 0,
					"%s: larger than %zu bytes", path, max);
				goto out_free_buf;
			}
			cap = cap > max / 2 ? max + 1 : cap * 2;
			if (!(nb = realloc(buf, cap + 1))) {
				rc = tapir_error_set(
					err, TAPIR_ENOMEM, 0, "out of memory");
				goto out_free_buf;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = tapir_error_set(err, TAPIR_EIO, n, "%s: %s", path,
				strerror(errno));
			goto out_free_buf;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;

out_free_buf:
	free(buf);
out_close:
	close(fd);
	return rc;
}

/* Make a rename durable: its directory entry lives in the directory. */
static int
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	rc = tapir__fileio_fsync(fd);
	if (rc != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return rc;
	}
	close(fd);
	return 0;
}

int
tapir_fileio_write_atomic(const char *path, tapir_fileio_fill_fn fill,
	void *arg, struct tapir_error *err)
{
	char *tmp;
	int fd, rc;

	if (!(tmp = malloc(strlen(path) + sizeof(".XXXXXX"))))
		return tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
	strcpy(tmp, path);
	strcat(tmp, ".XXXXXX");
	/* Beside the target, so that rename() stays within one file system;
	 * mkostemp creates it 0600, which is what lib/'s files should be. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = tapir_error_set(
			err, TAPIR_EIO, 0, "%s: %s", tmp, strerror(errno));
		goto out_free_tmp;
	}
	if ((rc = fill(arg, fd, err)) != 0) {
		if (rc > 0)
			rc = tapir_error_set(
				err, TAPIR_EIO, 0, "%s: %s", tmp, strerror(rc));
		goto out_unlink;
	}
	if (tapir__fileio_fsync(fd) != 0) {
		rc = tapir_error_set(
			err, TAPIR_EIO, 0, "%s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	rc = close(fd);
	fd = -1;
	if (rc != 0) {
		rc = tapir_error_set(
			err, TAPIR_EIO, 0, "%s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (rename(tmp, path) != 0) {
		rc = tapir_error_set(err, TAPIR_EIO, 0, "rename to %s: %s",
			path, strerror(errno));
		goto out_unlink;
	}
	/* The new file is in place; only its durability is in doubt. */
	rc = 0;
	if (sync_dir(path) != 0)
		rc = tapir_error_set(err, TAPIR_EIO, 0,
			"%s: directory sync: %s", path, strerror(errno));
	goto out_free_tmp;

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_free_tmp:
	free(tmp);
	return rc;
}

int
tapir_fileio_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* mkstemp's letters: ASCII, whatever the locale. */
static bool
temp_letter(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

size_t
tapir_fileio_remove_temps(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base), removed = 0;
	char dir[4096];
	struct dirent *de;
	DIR *d;
	int dfd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return 0;
	else
		snprintf(dir, sizeof(dir), "%.*s",
			slash == path ? 1 : (int)(slash - path), path);
	if (!(d = opendir(dir)))
		return 0;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		const char *tail = de->d_name + blen;
		struct stat st;
		bool temp;

		if (strncmp(de->d_name, base, blen) != 0 || tail[0] != '.' ||
			strlen(tail) != 7)
			continue;
		temp = true;
		for (int i = 1; i < 7; i++)
			temp = temp && temp_letter(tail[i]);
		if (temp &&
			fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
				0 &&
			S_ISREG(st.st_mode) &&
			unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int
tapir_fd_wait(
	int fd, short events, int64_t deadline_ms, struct tapir_error *err)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline_ms - tapir_monotonic_ms();
		int n;

		if (left <= 0)
			return tapir_error_set(
				err, TAPIR_ETIMEDOUT, 0, "timed out");
		/* A minute at a time keeps the int conversion in range. */
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tapir_error_set(
				err, TAPIR_EIO, 0, "poll: %s", strerror(errno));
		if (n > 0)
			return 0;
	}
}
