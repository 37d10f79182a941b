/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TapirMsg: the JSON payload of a DNS TAPIR observation (after the JWS is
 * verified). Tolerant of every producer quirk seen upstream: key case
 * ("Name"/"name", Go field names), names with or without a trailing dot and
 * in any case, null arrays, RFC 3339 times with fractions and offsets, and
 * the pre-2025 list names (whitelist, greylist, blacklist).
 *
 * An entry whose name is invalid or whose fields are missing is dropped and
 * counted in n_invalid; the rest of the message stays usable. A message
 * whose envelope fields are wrong is rejected whole.
 *
 * Thread safety: reentrant; a struct tapir_msg belongs to one thread.
 */
#ifndef TAPIR_MSG_H
#define TAPIR_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/name.h"
#include "lib/tapir.h"
#include "lib/vocab.h"

enum tapir_msg_type {
	TAPIR_MSG_OBSERVATION = 0,
	TAPIR_MSG_INTEL_UPDATE = 1,
};

struct tapir_msg_entry {
	char name[TAPIR_NAME_BUFSIZE]; /* canonical */
	bool wildcard;		       /* name was given as "*.name" */
	/* Seconds since the epoch (0 in removed), within the range of
	 * tapir_time_parse(); ttl (0 in removed) is at most INT64_MAX less
	 * that range's end, so time_added + ttl never overflows. */
	int64_t time_added;
	int64_t ttl;
	uint32_t tag_mask;
};

struct tapir_msg {
	char src_name[64];
	enum tapir_msg_type msg_type;
	enum tapir_list list;
	/* When the sender sent it (replay protection, lib/engine_ingest.c);
	 * 0 and has_timestamp false when absent or not RFC 3339. */
	int64_t timestamp;
	bool has_timestamp;
	size_t n_added;
	struct tapir_msg_entry *added; /* owned */
	size_t n_removed;
	struct tapir_msg_entry *removed; /* owned */
	size_t n_invalid;		 /* entries dropped */
	char first_invalid[160];	 /* reason for the first one dropped */
};

/**
 * Parse a TapirMsg payload.
 * @param buf, len: the payload bytes (need not be NUL-terminated).
 * @param msg: filled on success (release with tapir_msg_clear); zeroed on
 *	failure.
 * @param err: reason on failure.
 * @return: 0, TAPIR_EPARSE (not JSON, wrong types, missing src_name,
 *	msg_type or list_type), TAPIR_EMSGTYPE, TAPIR_ELIST, TAPIR_ENOMEM.
 */
int tapir_msg_parse(const char *buf, size_t len, struct tapir_msg *msg,
	struct tapir_error *err) TAPIR_WUR;

/** Free what tapir_msg_parse() allocated; msg may be zeroed or NULL. */
void tapir_msg_clear(struct tapir_msg *msg);

/**
 * Parse an RFC 3339 date-time ("2026-07-20T09:15:02.123456789Z",
 * "...+02:00", lower-case t/z accepted) to seconds since the epoch
 * (fractions truncated).
 * @param out: receives the time; 0 on failure.
 * @return: 0; TAPIR_EPARSE; TAPIR_ERANGE for an instant before
 *	0000-01-01T00:00:00Z or after 9999-12-31T23:59:60Z, which only an
 *	offset can reach ("9999-12-31T23:59:59-01:00"): every time it gives
 *	plus a ttl of at most INT64_MAX - 253402300800 fits in an int64_t.
 */
int tapir_time_parse(const char *s, int64_t *out) TAPIR_WUR;

#endif
