/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The resident memory of one process over time, for bench_mem.sh: VmRSS
 * read from /proc/PID/status every INTERVAL ms until SIGTERM or the
 * process is gone. A shell loop would fork a reader for each sample,
 * taking a CPU from the daemon it measures on a 2-core machine; this
 * takes one read a sample.
 *
 * bench_rss -p PID [-i INTERVAL_MS] [-o FILE]
 *
 * Prints "samples N max_rss_kb KB" at the end; with -o, each sample as
 * "ms rss_kb" (ms since the start), for a plot. Asserts nothing.
 */
#include "tapir_build.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t terminated;

static void
on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* VmRSS of the process in kB; -1 once it is gone. */
static long
rss_kb(const char *path)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	const char *out = NULL;
	long pid = 0, interval = 10, max = 0, kb;
	unsigned long samples = 0;
	char path[64];
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec tick;
	FILE *f = NULL;
	int64_t t0 = now_ms();
	int c;

	while ((c = getopt(argc, argv, "p:i:o:")) != -1) {
		switch (c) {
		case 'p':
			pid = strtol(optarg, NULL, 10);
			break;
		case 'i':
			interval = strtol(optarg, NULL, 10);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_rss -p PID [-i MS] "
					"[-o FILE]\n");
			return 2;
		}
	}
	if (pid <= 0 || interval < 1 || interval > 10000) {
		fprintf(stderr, "bench_rss: -p PID required, -i 1 to 10000\n");
		return 2;
	}
	if (out && !(f = fopen(out, "w"))) {
		perror(out);
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	tick.tv_sec = interval / 1000;
	tick.tv_nsec = (interval % 1000) * 1000000;
	while (!terminated && (kb = rss_kb(path)) >= 0) {
		samples++;
		if (kb > max)
			max = kb;
		if (f)
			fprintf(f, "%lld %ld\n", (long long)(now_ms() - t0),
				kb);
		nanosleep(&tick, NULL);
	}
	if (f && fclose(f) != 0)
		return 1;
	printf("samples %lu max_rss_kb %ld\n", samples, max);
	return 0;
}
