/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the state file parser. The first byte picks
 * whether the checksum is checked (0) or skipped (anything else), since
 * random bytes never carry a valid BLAKE2b sum and would stop there. The
 * rest is the file. Aborts when a refused file left entries in the db, or
 * an accepted one put in an entry that breaks the db's invariants.
 * The config matches test_write_fuzz_seeds in tests/unit/test_state.c.
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/name.h"
#include "lib/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static struct tapir_config cfg = {
	.n_sources = 3,
	.sources = {
		{ .name = "dns-tapir", .type = TAPIR_SOURCE_MQTT,
			.list = TAPIR_LIST_DOUBT },
		{ .name = "local", .type = TAPIR_SOURCE_MQTT,
			.list = TAPIR_LIST_DENY },
		{ .name = "allow", .type = TAPIR_SOURCE_FILE,
			.list = TAPIR_LIST_ALLOW },
	},
};

static int
check_cb(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	char canon[TAPIR_NAME_BUFSIZE];
	size_t clen;

	*(size_t *)arg += n;
	if (tapir_name_canon(name, len, 0, canon, &clen, NULL, NULL) != 0 ||
		clen != len || memcmp(canon, name, len) != 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (e[i].source >= cfg.n_sources ||
			e[i].list >= TAPIR_LIST_COUNT || (e[i].flags & 0xf0) ||
			(int64_t)e[i].expiry <= NOW)
			abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapir_db *db;
	struct tapir_error err;
	size_t loaded, expired, gone, seen = 0;
	int rc;

	if (size < 1 || !(db = tapir_db_create(0)))
		return 0;
	rc = tapir__state_load_buf(db, &cfg, data + 1, size - 1, NOW,
		data[0] == 0, &loaded, &expired, &gone, &err);
	tapir_db_walk(db, check_cb, &seen);
	if (rc != 0 && (rc != TAPIR_EPARSE || seen || loaded || expired ||
			       gone || err.offset > size))
		abort();
	/* Later records may replace earlier ones of the same key. */
	if (rc == 0 && (seen > loaded || (loaded && !seen)))
		abort();
	tapir_db_destroy(db);
	return 0;
}
