/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the name parsers, as text (with and without the
 * wildcard flag) and as wire format, and aborts when an accepted name breaks
 * an invariant: canonical output re-canonicalises to itself, and text to
 * wire to text gives the name back.
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>

#include "lib/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_canonical(const char *name, size_t len)
{
	char again[TAPIR_NAME_BUFSIZE];
	uint8_t wire[TAPIR_NAME_WIRE_MAX];
	size_t alen, wlen;
	bool wild;
	const char *p;

	if (len == 0 || len > TAPIR_NAME_WIRE_MAX - 2 || strlen(name) != len)
		abort();
	if (tapir_name_canon(name, len, 0, again, &alen, &wild, NULL) != 0 ||
		alen != len || wild || strcmp(again, name) != 0)
		abort();
	if (tapir_name_to_wire(name, wire, &wlen) != 0 || wlen != len + 2)
		abort();
	if (tapir_name_from_wire(wire, wlen, again, &alen) != 0 ||
		alen != len || strcmp(again, name) != 0)
		abort();
	for (p = name; (p = tapir_name_parent(p));)
		if (p <= name || p > name + len || *p == '\0' || p[-1] != '.')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[TAPIR_NAME_BUFSIZE], plain[TAPIR_NAME_BUFSIZE];
	struct tapir_error err;
	size_t len;
	bool wild;
	int rc;

	rc = tapir_name_canon(
		(const char *)data, size, 0, plain, &len, &wild, &err);
	if (rc == 0)
		check_canonical(plain, len);
	else if (plain[0] != '\0' || wild || err.offset > size)
		abort();

	/* The flag only ever adds names: a plain name reads the same. */
	if (tapir_name_canon((const char *)data, size,
		    TAPIR_NAME_ALLOW_WILDCARD, out, &len, &wild, &err) == 0) {
		check_canonical(out, len);
		if (wild != (size > 2 && data[0] == '*' && data[1] == '.'))
			abort();
		if (rc == 0 && (wild || strcmp(out, plain) != 0))
			abort();
	} else if (rc == 0 || out[0] != '\0' || err.offset > size) {
		abort();
	}

	if (tapir_name_from_wire(data, size, out, &len) == 0)
		check_canonical(out, len);
	else if (out[0] != '\0')
		abort();
	return 0;
}
