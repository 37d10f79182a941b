/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes, as one request line, to the control request
 * parser (lib/control_parse.c): the command, then its arguments as the
 * engine would read them. Nothing runs: no engine, file or socket.
 *
 * Aborts when a line let through to everyone (reads_only) would change
 * state, when a pointer of the request leaves the line, or when what an
 * argument parser accepts breaks what the engine relies on: canonical
 * names, a type as written, filters in range, a TTL within ten years, a
 * comment of UTF-8 without control characters.
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/control.h"
#include "lib/name.h"
#include "lib/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
inside(const char *p, const char *line, size_t len)
{
	return p >= line && p <= line + len;
}

static bool
canonical(const char *name, size_t len)
{
	char canon[TAPIR_NAME_BUFSIZE];
	size_t clen;

	return tapir_name_canon(name, len, 0, canon, &clen, NULL, NULL) == 0 &&
	       clen == len && memcmp(canon, name, len) == 0;
}

static int
source_index(void *arg, const char *name)
{
	(void)arg;
	if (!strcmp(name, "dns-tapir"))
		return 0;
	return !strcmp(name, "local") ? 1 : -1;
}

static void
check_lookup(const char *args)
{
	struct tapir_lookup_args a;
	struct tapir_error err = { 0 };
	const char *sp = strchr(args, ' ');

	if (tapir_control_parse_lookup(args, &a, &err) != 0) {
		if (!err.text[0])
			abort();
		return;
	}
	if (!canonical(a.name, a.len) || (a.typed && !sp))
		abort();
	/* TYPEnn is taken only as written: its digits are the type. */
	if (a.typed && !strncasecmp(sp + 1, "TYPE", 4)) {
		unsigned long v = strtoul(sp + 5, NULL, 10);
		if (v != a.qtype)
			abort();
	}
}

static void
check_list(const char *args)
{
	struct tapir_list_args a;
	char why[200] = "";

	if (tapir_control_parse_list(
		    args, source_index, NULL, &a, why, sizeof(why)) != 0) {
		if (!why[0])
			abort();
		return;
	}
	if (a.list < -1 || a.list >= TAPIR_LIST_COUNT || a.action < -1 ||
		a.action >= TAPIR_ACTION_COUNT || a.source < -1 || a.source > 1)
		abort();
}

static void
check_override(const struct tapir_control_req *r)
{
	struct tapir_override_args o;
	char why[300] = "";
	int rc = tapir_control_parse_override(r->args, &o, why, sizeof(why));

	/* The verb that decided who may run it is the one that runs. */
	if (o.verb != r->verb ||
		(r->reads_only && (rc != 0 || o.verb != TAPIR_OVERRIDE_LIST)))
		abort();
	if (rc != 0) {
		if (!why[0])
			abort();
		return;
	}
	if (o.verb == TAPIR_OVERRIDE_LIST)
		return;
	if (!o.named || !canonical(o.name, strlen(o.name)) || o.ttl < 0 ||
		o.ttl > TAPIR_OVERRIDE_TTL_MAX ||
		!inside(o.comment, r->args, strlen(r->args)))
		abort();
	for (const char *c = o.comment; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			abort();
	if (!tapir_utf8_valid(o.comment, strlen(o.comment)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapir_control_req r;
	char *line;
	size_t len;

	/* As the server hands it on: at most TAPIR_CONTROL_MAX_LINE bytes,
	 * a C string (an embedded NUL ends it). */
	if (size > TAPIR_CONTROL_MAX_LINE || !(line = malloc(size + 1)))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	len = strlen(line);
	tapir_control_parse(line, &r);
	if (!inside(r.command, line, len) || !inside(r.args, line, len) ||
		(r.args[0] && r.args < r.command))
		abort();
	/* Only these only read; stats resets counters. */
	if (r.reads_only && r.cmd != TAPIR_CMD_STATUS &&
		r.cmd != TAPIR_CMD_STATS_NORESET &&
		r.cmd != TAPIR_CMD_METRICS && r.cmd != TAPIR_CMD_DIGEST &&
		r.cmd != TAPIR_CMD_LOOKUP && r.cmd != TAPIR_CMD_LIST &&
		r.cmd != TAPIR_CMD_DUMP_RPZ && r.cmd != TAPIR_CMD_OVERRIDE)
		abort();
	if (r.streams !=
		(r.cmd == TAPIR_CMD_LIST || r.cmd == TAPIR_CMD_DUMP_RPZ))
		abort();
	switch (r.cmd) {
	case TAPIR_CMD_LOOKUP:
		check_lookup(r.args);
		break;
	case TAPIR_CMD_LIST:
		check_list(r.args);
		break;
	case TAPIR_CMD_OVERRIDE:
		check_override(&r);
		break;
	case TAPIR_CMD_DUMP_RPZ:
	case TAPIR_CMD_FLUSH:
		/* Names the engine canonicalises itself. */
		(void)canonical(r.args, strlen(r.args));
		break;
	default:
		if (r.args[0])
			abort();
	}
	free(line);
	return 0;
}
