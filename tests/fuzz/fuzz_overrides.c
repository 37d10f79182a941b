/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the overrides.json parser: jansson with the
 * flags the engine loads the file with, then tapir__overrides_parse()
 * (lib/engine_overrides.c). Aborts when an override it hands on has a
 * name that is not canonical, or an expiry flagged wrongly: the engine
 * keeps what it is given for years, as entries of the database.
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>

#include "lib/engine_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
check_one(void *arg, const struct tapir__override_rec *r)
{
	char canon[TAPIR_NAME_BUFSIZE];
	size_t len = strlen(r->name), clen;

	if (tapir_name_canon(r->name, len, 0, canon, &clen, NULL, NULL) != 0 ||
		clen != len || memcmp(canon, r->name, len) != 0)
		abort();
	if (r->out_of_range !=
		(r->expires < 0 ||
			r->expires >= (json_int_t)TAPIR_EXPIRY_NEVER))
		abort();
	/* As the engine keeps it (set_comment()): a valid comment is cut
	 * to a valid prefix of at most 255 bytes. */
	if (r->comment && tapir_utf8_valid(r->comment, strlen(r->comment))) {
		size_t n =
			tapir_utf8_prefix(r->comment, strlen(r->comment), 255);
		if (n > 255 || !tapir_utf8_valid(r->comment, n))
			abort();
	}
	(*(size_t *)arg)++;
	return r->out_of_range ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *root;
	size_t seen = 0;
	int taken;

	root = json_loadb(
		(const char *)data, size, TAPIR__OVERRIDES_JSON_FLAGS, &jerr);
	if (!root)
		return 0;
	taken = tapir__overrides_parse(root, check_one, &seen);
	if (taken < 0 || (size_t)taken > seen)
		abort();
	json_decref(root);
	return 0;
}
