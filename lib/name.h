/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Domain names: the one place where a name from outside (a feed, a file, a
 * config, a query) becomes the canonical form the policy database keys on.
 *
 * Canonical form: presentation format, ASCII lower case, no trailing dot,
 * labels of [a-z0-9_-] only, 1..63 octets each, at most 255 octets in wire
 * form (so at most 253 characters of text). The root is not a valid policy
 * name. A name that cannot be written in this form can never be in the
 * database, so a query for it simply passes.
 *
 * Thread safety: every function is reentrant and touches only its arguments.
 */
#ifndef TAPIR_NAME_H
#define TAPIR_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tapir.h"

/* Longest canonical text (253) plus NUL, rounded up. */
#define TAPIR_NAME_BUFSIZE  256
/* Longest wire-format name. */
#define TAPIR_NAME_WIRE_MAX 255

enum tapir_name_flags {
	/* Accept a leading "*." label: out gets the name below it and
	 * *wildcard is set (subtree entries, RPZ wildcard owners). */
	TAPIR_NAME_ALLOW_WILDCARD = 1 << 0,
};

/**
 * Validate and canonicalise a name in text form (trailing dot optional, any
 * letter case).
 * @param text: the name, need not be NUL-terminated.
 * @param len: its length in bytes.
 * @param flags: enum tapir_name_flags.
 * @param out: receives the canonical name, NUL-terminated; empty on error.
 * @param outlen: if not NULL, receives strlen(out).
 * @param wildcard: if not NULL, set to whether a "*." label was stripped.
 * @param err: if not NULL, receives the reason and offset on error.
 * @return: 0, or TAPIR_ENAME (empty label, label over 63, name over 255
 *	octets, illegal character, misplaced '*', root).
 */
int tapir_name_canon(const char *text, size_t len, unsigned flags,
	char out[TAPIR_NAME_BUFSIZE], size_t *outlen, bool *wildcard,
	struct tapir_error *err) TAPIR_WUR;

/**
 * Canonicalise a wire-format name (uncompressed, as in a query).
 * @param wire: label sequence ending with the root label.
 * @param maxlen: bytes available at wire.
 * @param out, outlen: as tapir_name_canon().
 * @return: 0, or TAPIR_ENAME when the name is malformed, is the root, or has
 *	an octet outside the canonical alphabet (such a name cannot match).
 */
int tapir_name_from_wire(const uint8_t *wire, size_t maxlen,
	char out[TAPIR_NAME_BUFSIZE], size_t *outlen) TAPIR_WUR;

/**
 * Canonical text to wire format.
 * @param canon: a canonical name (as produced above).
 * @param out: receives the wire form.
 * @param outlen: receives its length.
 * @return: 0 or TAPIR_ENAME.
 */
int tapir_name_to_wire(const char *canon, uint8_t out[TAPIR_NAME_WIRE_MAX],
	size_t *outlen) TAPIR_WUR;

/**
 * The parent of a canonical name, inside the same buffer.
 * @return: pointer to the text after the first dot, or NULL for a TLD.
 */
const char *tapir_name_parent(const char *canon);

#endif
