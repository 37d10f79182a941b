/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to tapir_msg_parse() and tapir_msg_clear(), checking
 * that a rejected message comes back zeroed and an accepted one holds only
 * canonical names; then to tapir_time_parse() as a C string.
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>

#include "lib/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_entries(const struct tapir_msg_entry *e, size_t n)
{
	char again[TAPIR_NAME_BUFSIZE];

	for (size_t i = 0; i < n; i++)
		if (tapir_name_canon(e[i].name, strlen(e[i].name), 0, again,
			    NULL, NULL, NULL) != 0 ||
			strcmp(again, e[i].name) != 0 || e[i].ttl < 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tapir_msg zero;
	struct tapir_msg msg;
	struct tapir_error err;
	char *s;
	int64_t t;

	if (tapir_msg_parse((const char *)data, size, &msg, &err) == 0) {
		if (msg.src_name[0] == '\0' || msg.list >= TAPIR_LIST_COUNT ||
			(msg.n_added == 0) != (msg.added == NULL) ||
			(msg.n_removed == 0) != (msg.removed == NULL) ||
			(msg.n_invalid == 0) != (msg.first_invalid[0] == '\0'))
			abort();
		check_entries(msg.added, msg.n_added);
		check_entries(msg.removed, msg.n_removed);
	} else if (memcmp(&msg, &zero, sizeof(msg)) != 0) {
		abort();
	}
	tapir_msg_clear(&msg);

	/* An exact-size copy, so ASan sees any read past the NUL. */
	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tapir_time_parse(s, &t) != 0 && t != 0)
		abort();
	free(s);
	return 0;
}
