/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tapir-pop-control: the operator's client of the module's control socket,
 * with the habits of unbound-control: one command per call, "name=value"
 * statistics, and exit codes scripts can rely on:
 *   0  the command succeeded
 *   1  the module answered with an error
 *   2  usage error, or the socket could not be reached
 */
#include "tapir_build.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/control.h"

#define DEFAULT_SOCKET "/run/unbound/tapir-pop.sock"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: tapir-pop-control [-s SOCKET] COMMAND [ARGS]\n"
		"  -s SOCKET   control socket (default " DEFAULT_SOCKET ")\n"
		"commands:\n"
		"  status          version, uptime, feed and database state\n"
		"  stats           counters as name=value, then reset them\n"
		"  stats_noreset   counters as name=value\n"
		"  lookup NAME     the decision for NAME and why\n");
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("TAPIR_POP_SOCKET");
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tapir_buf out = { 0 };
	struct tapir_error err = { 0 };
	char line[TAPIR_CONTROL_MAX_LINE];
	size_t at = 0;
	int c, rc;

	if (!sock || !sock[0])
		sock = DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	line[0] = '\0';
	for (int i = optind; i < argc; i++) {
		int n = snprintf(line + at, sizeof(line) - at, "%s%s",
			i > optind ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - at ||
			strchr(argv[i], '\n')) {
			fprintf(stderr,
				"tapir-pop-control: command too long\n");
			return 2;
		}
		at += (size_t)n;
	}
	rc = tapir_control_request(sock, line, 10000, &out, &err);
	if (rc != 0) {
		fprintf(stderr, "tapir-pop-control: %s\n", err.text);
		tapir_buf_clear(&out);
		return 2;
	}
	if (out.len)
		fwrite(out.data, 1, out.len, stdout);
	rc = out.len >= 6 && strncmp(out.data, "error:", 6) == 0 ? 1 : 0;
	tapir_buf_clear(&out);
	return rc;
}
