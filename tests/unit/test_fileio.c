/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/fileio.c: a bounded read refuses a file over its limit with
 * the limit in the error, also one that never ends, and names what it could
 * not read; an atomic write leaves the old file whole and no temporary file
 * behind when filling or renaming fails, and fsyncs the file and then its
 * directory (seen through the tapir__fileio_fsync seam); the descriptor
 * wait times out at its deadline and returns at once when ready.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"

struct fixture {
	char dir[64];
	char path[96];
};

/* What the fsync seam saw, in order. */
static struct {
	unsigned calls;
	bool dir[4];
	ino_t ino[4];
	int fail_dir; /* errno to fail a directory's fsync with, or 0 */
} synced;

static int
record_fsync(int fd)
{
	struct stat sb;

	assert_int_equal(fstat(fd, &sb), 0);
	if (synced.calls < 4) {
		synced.dir[synced.calls] = S_ISDIR(sb.st_mode);
		synced.ino[synced.calls] = sb.st_ino;
	}
	synced.calls++;
	if (S_ISDIR(sb.st_mode) && synced.fail_dir) {
		errno = synced.fail_dir;
		return -1;
	}
	return fsync(fd);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/tapir-fileio-XXXXXX",
		tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
	memset(&synced, 0, sizeof(synced));
	tapir__fileio_fsync = record_fsync;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[400];
	DIR *d;
	struct dirent *de;

	tapir__fileio_fsync = fsync;
	if ((d = opendir(f->dir))) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
				!strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			if (unlink(p) != 0)
				(void)rmdir(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
put_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
assert_file_is(const char *path, const char *want)
{
	char *buf;
	size_t len;

	assert_int_equal(tapir_fileio_read(path, 4096, 0, &buf, &len, NULL), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
	free(buf);
}

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Bounded read */

static void
test_read_whole_file_up_to_the_limit_nul_terminated(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char *buf;
	size_t len;

	put_file(f->path, "0123456789");
	assert_int_equal(
		tapir_fileio_read(f->path, 10, 0, &buf, &len, &err), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "0123456789", 11);
	free(buf);
}

static void
test_read_too_large_file_refused_with_its_limit(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char *buf = (char *)1;
	size_t len = 1;
	char want[160];

	put_file(f->path, "01234567890123456789");
	assert_int_equal(tapir_fileio_read(f->path, 19, 0, &buf, &len, &err),
		TAPIR_ETOOBIG);
	assert_null(buf);
	assert_int_equal(len, 0);
	snprintf(want, sizeof(want), "%s: larger than 19 bytes", f->path);
	assert_string_equal(err.text, want);
}

static void
test_read_endless_device_stops_one_byte_over_the_limit(void **state)
{
	struct tapir_error err = { 0 };
	char *buf;
	size_t len;

	(void)state;
	/* No size to check up front: the read loop itself must stop. */
	assert_int_equal(
		tapir_fileio_read("/dev/zero", 100000, 0, &buf, &len, &err),
		TAPIR_ETOOBIG);
	assert_string_equal(err.text, "/dev/zero: larger than 100000 bytes");
}

static void
test_read_missing_file_is_enoent_and_named(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char *buf;
	size_t len;
	char want[160];

	assert_int_equal(tapir_fileio_read(f->path, 100, 0, &buf, &len, &err),
		TAPIR_ENOENT);
	assert_null(buf);
	snprintf(want, sizeof(want), "%s: %s", f->path, strerror(ENOENT));
	assert_string_equal(err.text, want);
}

static void
test_read_directory_is_unreadable(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char *buf;
	size_t len;
	char want[160];

	assert_int_equal(
		tapir_fileio_read(f->dir, 100, 0, &buf, &len, &err), TAPIR_EIO);
	assert_null(buf);
	snprintf(want, sizeof(want), "%s: %s", f->dir, strerror(EISDIR));
	assert_string_equal(err.text, want);
}

static void
test_read_regular_flag_refuses_a_device(void **state)
{
	struct tapir_error err = { 0 };
	char *buf;
	size_t len;

	(void)state;
	assert_int_equal(tapir_fileio_read("/dev/null", 100,
				 TAPIR_FILEIO_REGULAR, &buf, &len, &err),
		TAPIR_EIO);
	assert_string_equal(err.text, "/dev/null: not a regular file");
	/* Without the flag a device is read like a file. */
	assert_int_equal(
		tapir_fileio_read("/dev/null", 100, 0, &buf, &len, &err), 0);
	assert_int_equal(len, 0);
	free(buf);
}

/* Atomic write */

static int
fill_text(void *arg, int fd, struct tapir_error *err)
{
	size_t n = strlen(arg);

	(void)err;
	return write(fd, arg, n) == (ssize_t)n ? 0 : errno;
}

/* Writes half, then fails as a full disk would. */
static int
fill_then_enospc(void *arg, int fd, struct tapir_error *err)
{
	(void)err;
	assert_int_equal(write(fd, arg, 3), 3);
	return ENOSPC;
}

static int
fill_then_refuse(void *arg, int fd, struct tapir_error *err)
{
	assert_int_equal(write(fd, arg, 3), 3);
	return tapir_error_set(err, TAPIR_EINVAL, 0, "changed meanwhile");
}

static void
test_write_replaces_the_file(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct stat sb;

	put_file(f->path, "old");
	assert_int_equal(tapir_fileio_write_atomic(f->path, fill_text,
				 (void *)"new contents", &err),
		0);
	assert_file_is(f->path, "new contents");
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(count_files(f->dir), 1);
}

static void
test_write_failing_fill_keeps_old_file_and_no_temp(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char want[160];

	put_file(f->path, "old");
	assert_int_equal(tapir_fileio_write_atomic(f->path, fill_then_enospc,
				 (void *)"new contents", &err),
		TAPIR_EIO);
	/* The temporary file is named, with the reason. */
	snprintf(want, sizeof(want), "%s.", f->path);
	assert_memory_equal(err.text, want, strlen(want));
	assert_non_null(strstr(err.text, strerror(ENOSPC)));
	assert_file_is(f->path, "old");
	assert_int_equal(count_files(f->dir), 1);
	assert_int_equal(synced.calls, 0);
}

static void
test_write_fill_error_is_passed_through(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };

	put_file(f->path, "old");
	assert_int_equal(tapir_fileio_write_atomic(f->path, fill_then_refuse,
				 (void *)"new contents", &err),
		TAPIR_EINVAL);
	assert_string_equal(err.text, "changed meanwhile");
	assert_file_is(f->path, "old");
	assert_int_equal(count_files(f->dir), 1);
}

static void
test_write_failing_rename_keeps_old_and_no_temp(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char inside[160];

	/* A non-empty directory cannot be renamed over, even by root (for
	 * whom a read-only directory would not fail). */
	assert_int_equal(mkdir(f->path, 0700), 0);
	snprintf(inside, sizeof(inside), "%s/keep", f->path);
	put_file(inside, "old");
	assert_int_equal(tapir_fileio_write_atomic(
				 f->path, fill_text, (void *)"new", &err),
		TAPIR_EIO);
	assert_non_null(strstr(err.text, "rename to "));
	assert_file_is(inside, "old");
	assert_int_equal(count_files(f->dir), 1);
	assert_int_equal(unlink(inside), 0);
}

static void
test_write_missing_directory_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char path[160];

	snprintf(path, sizeof(path), "%s/none/file", f->dir);
	assert_int_equal(
		tapir_fileio_write_atomic(path, fill_text, (void *)"x", &err),
		TAPIR_EIO);
	assert_non_null(strstr(err.text, strerror(ENOENT)));
}

static void
test_write_fsyncs_file_then_its_directory(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct stat file_sb, dir_sb;

	assert_int_equal(tapir_fileio_write_atomic(
				 f->path, fill_text, (void *)"data", &err),
		0);
	assert_int_equal(stat(f->path, &file_sb), 0);
	assert_int_equal(stat(f->dir, &dir_sb), 0);
	assert_int_equal(synced.calls, 2);
	assert_false(synced.dir[0]);
	assert_int_equal(synced.ino[0], file_sb.st_ino);
	assert_true(synced.dir[1]);
	assert_int_equal(synced.ino[1], dir_sb.st_ino);
}

static void
test_write_failed_directory_sync_reported_file_in_place(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char want[160];

	synced.fail_dir = EIO;
	put_file(f->path, "old");
	assert_int_equal(tapir_fileio_write_atomic(
				 f->path, fill_text, (void *)"new", &err),
		TAPIR_EIO);
	snprintf(want, sizeof(want), "%s: directory sync: %s", f->path,
		strerror(EIO));
	assert_string_equal(err.text, want);
	assert_file_is(f->path, "new");
}

/* Descriptor wait */

static void
test_wait_times_out_at_the_deadline(void **state)
{
	struct tapir_error err = { 0 };
	int p[2];
	int64_t t0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	t0 = tapir_monotonic_ms();
	assert_int_equal(
		tapir_fd_wait(p[0], POLLIN, t0 + 50, &err), TAPIR_ETIMEDOUT);
	assert_true(tapir_monotonic_ms() - t0 >= 49);
	assert_true(tapir_monotonic_ms() - t0 < 5000);
	assert_string_equal(err.text, "timed out");
	close(p[0]);
	close(p[1]);
}

static void
test_wait_past_deadline_does_not_poll(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	/* Writable at once, but the time is already up. */
	assert_int_equal(
		tapir_fd_wait(p[1], POLLOUT, tapir_monotonic_ms() - 1, NULL),
		TAPIR_ETIMEDOUT);
	close(p[0]);
	close(p[1]);
}

static void
test_wait_ready_returns_at_once(void **state)
{
	int p[2];
	int64_t t0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	t0 = tapir_monotonic_ms();
	assert_int_equal(tapir_fd_wait(p[1], POLLOUT, t0 + 10000, NULL), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(tapir_fd_wait(p[0], POLLIN, t0 + 10000, NULL), 0);
	assert_true(tapir_monotonic_ms() - t0 < 5000);
	close(p[0]);
	close(p[1]);
}

/* What a save killed before its rename leaves: PATH.XXXXXX. Those go;
 * the file itself, other names, and a directory of that shape stay. */
static void
test_remove_temps_takes_only_leftover_temporaries(void **state)
{
	struct fixture *f = *state;
	static const char *const gone[] = { ".aB3xY9", ".000000" };
	static const char *const kept[] = { ".aB3xY", ".aB3xY9z", ".aB-xY9",
		"x.aB3xY9", ".serials" };
	char p[600];
	struct stat st;

	put_file(f->path, "state");
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, gone[i]);
		put_file(p, "half a save");
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, kept[i]);
		put_file(p, "not ours");
	}
	snprintf(p, sizeof(p), "%s.Dir123", f->path);
	assert_int_equal(mkdir(p, 0700), 0);

	assert_int_equal(tapir_fileio_remove_temps(f->path), 2);
	assert_int_equal(stat(f->path, &st), 0);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, gone[i]);
		assert_int_not_equal(stat(p, &st), 0);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, kept[i]);
		assert_int_equal(stat(p, &st), 0);
	}
	snprintf(p, sizeof(p), "%s.Dir123", f->path);
	assert_int_equal(stat(p, &st), 0);
	/* Nothing left to remove the second time. */
	assert_int_equal(tapir_fileio_remove_temps(f->path), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_whole_file_up_to_the_limit_nul_terminated),
		T(test_read_too_large_file_refused_with_its_limit),
		T(test_read_endless_device_stops_one_byte_over_the_limit),
		T(test_read_missing_file_is_enoent_and_named),
		T(test_read_directory_is_unreadable),
		T(test_read_regular_flag_refuses_a_device),
		T(test_write_replaces_the_file),
		T(test_write_failing_fill_keeps_old_file_and_no_temp),
		T(test_write_fill_error_is_passed_through),
		T(test_write_failing_rename_keeps_old_and_no_temp),
		T(test_write_missing_directory_fails_cleanly),
		T(test_write_fsyncs_file_then_its_directory),
		T(test_write_failed_directory_sync_reported_file_in_place),
		T(test_wait_times_out_at_the_deadline),
		T(test_wait_past_deadline_does_not_poll),
		T(test_wait_ready_returns_at_once),
		T(test_remove_temps_takes_only_leftover_temporaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
