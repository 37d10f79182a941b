/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replays a fuzz target's seed corpus without libFuzzer, so that every seed
 * (and every crash ever found, which becomes a seed) runs under make check.
 * The corpus is $srcdir/tests/fuzz/<program name>.in/, or the directories
 * and files given as arguments.
 */
#include "tapir_build.h"

#include <dirent.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	/* An exact-size heap copy lets ASan see reads past the input. */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int
run_path(const char *path, int *count)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d))) {
		char sub[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (run_path(sub, count) != 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	int count = 0, rc = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (run_path(argv[i], &count) != 0)
				rc = 1;
	} else {
		const char *srcdir = getenv("srcdir");
		char self[1024], dir[4096];
		snprintf(self, sizeof(self), "%s", argv[0]);
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s.in",
			srcdir ? srcdir : ".", basename(self));
		if (run_path(dir, &count) != 0)
			rc = 1;
	}
	if (count == 0) {
		fprintf(stderr, "%s: empty corpus\n", argv[0]);
		return 1;
	}
	printf("%s: %d inputs replayed\n", argv[0], count);
	return rc;
}
