/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the xfr serials file parser
 * (tapir__serials_read(), lib/engine_state.c) as the file, read from
 * memory. The file must name the state file of CREATED below; the seeds
 * do. Aborts when a refused file gives no reason, or an accepted one
 * holds what the engine must not take in: a zone for a source that is
 * not an xfr source, an expiry past year 9999, or a row of records whose
 * name is not canonical.
 */
#include "tapir_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/engine_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CREATED 1700000000

/* Two zones, a feed and a file: names of the other kinds are skipped. */
static struct tapir_config cfg = {
	.n_sources = 4,
	.sources = {
		{ .name = "rpz", .type = TAPIR_SOURCE_XFR,
			.list = TAPIR_LIST_DENY },
		{ .name = "dns-tapir", .type = TAPIR_SOURCE_MQTT,
			.list = TAPIR_LIST_DOUBT },
		{ .name = "rpz2", .type = TAPIR_SOURCE_XFR,
			.list = TAPIR_LIST_ALLOW },
		{ .name = "allow", .type = TAPIR_SOURCE_FILE,
			.list = TAPIR_LIST_ALLOW },
	},
};

static int
check_row(void *arg, const char *name, size_t len, bool subtree,
	const uint32_t n[TAPIR_ACTION_COUNT])
{
	char canon[TAPIR_NAME_BUFSIZE];
	size_t clen;

	(void)arg;
	(void)subtree;
	(void)n;
	if (tapir_name_canon(name, len, 0, canon, &clen, NULL, NULL) != 0 ||
		clen != len || memcmp(canon, name, len) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapir__serials s;
	char why[200] = "";
	bool ok;
	FILE *f;

	/* fmemopen() refuses an empty buffer on some C libraries. */
	if (size == 0 || !(f = fmemopen((void *)data, size, "r")))
		return 0;
	memset(&s, 0, sizeof(s));
	ok = tapir__serials_read(&cfg, f, CREATED, &s, why, sizeof(why));
	fclose(f);
	if (!ok && !why[0])
		abort();
	for (size_t i = 0; ok && i < TAPIR_MAX_SOURCES; i++) {
		bool xfr = i < cfg.n_sources &&
			   cfg.sources[i].type == TAPIR_SOURCE_XFR;
		if ((!xfr && (s.seen[i] || s.have[i] || s.rrs[i])) ||
			(s.have[i] && !s.seen[i]) || s.expires_at[i] < 0 ||
			s.expires_at[i] > INT64_C(253402300800))
			abort();
		if (s.rrs[i] && tapir_rrcount_walk(s.rrs[i], check_row, NULL))
			abort();
	}
	tapir__serials_clear(&s);
	return 0;
}
