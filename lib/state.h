/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state file: the policy database's entries of chosen sources (MQTT
 * feeds, whose core never re-sends an observation until it changes), kept
 * across `unbound-control reload` (which unloads the module) and restarts.
 *
 * Invariants: a save replaces the file atomically (temporary file in the
 * same directory, fsync, rename, fsync of the directory), so a reader sees
 * the old file or the new one, never a mix. A load checks the checksum and
 * parses the whole file before it adds the first entry: a corrupt file adds
 * nothing. Sources are matched by name, so a reordered configuration maps
 * correctly; entries of sources no longer configured, or whose list or type
 * changed, are skipped.
 *
 * Format, version 1; every integer little-endian, fixed width:
 *
 *   header (40 bytes)
 *     0  magic "TAPIRST\0"      8
 *     8  version (1)           u32
 *    12  number of sources     u32   0..TAPIR_MAX_SOURCES
 *    16  created (epoch s)     u64
 *    24  number of records     u64
 *    32  bytes of records      u64
 *   source table, one per source, in file index order
 *     name length              u8    1..TAPIR_SOURCE_NAME_MAX-1
 *     list                     u8    enum tapir_list
 *     type                     u8    enum tapir_source_type
 *     name                     bytes (no NUL), unique in the table
 *   records (16 bytes + name), one per entry
 *     source                   u8    index into the source table
 *     flags                    u8    enum tapir_entry_flags, and the
 *                                    action bits 1..3 of lib/db.h
 *     list                     u8    enum tapir_list
 *     name length              u8    1..253
 *     tags                     u32
 *     added                    u32
 *     expiry                   u32
 *     name                     bytes, canonical (lib/name.h), no NUL
 *   checksum                   32    BLAKE2b-256 of every byte before it
 *
 * Thread safety: both functions are for the database's writer thread (they
 * call tapir_db_walk and tapir_db_set); they keep no state of their own.
 * The file must have a single writer: two processes saving to one path
 * each replace it atomically, and the last rename wins.
 */
#ifndef TAPIR_STATE_H
#define TAPIR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/tapir.h"

/* Files over this are refused unread: 4 GiB is ~100M entries. */
#define TAPIR_STATE_MAX_SIZE ((uint64_t)4 << 30)

/**
 * Which sources a save includes (the engine passes MQTT sources and, later,
 * local overrides).
 * @param source: index into the configuration's sources.
 * @return: true to save that source's entries.
 */
typedef bool (*tapir_state_source_fn)(void *arg, uint16_t source);

/**
 * Write the unexpired entries of the chosen sources to a file, atomically.
 * Entries whose source index is not in cfg are left out.
 * @param db: borrowed; only read.
 * @param cfg: borrowed; names the sources in the file.
 * @param path: the file; a temporary "path.XXXXXX" is made beside it, and
 *	on failure removed, leaving any old file as it was.
 * @param now: entries with expiry <= now are not written.
 * @param want: which sources to save; NULL saves every configured one.
 * @param saved: if not NULL, receives the number of entries written (0 on
 *	failure).
 * @param err: if not NULL, receives the reason on failure.
 * @return: 0, TAPIR_EIO (create, write, sync or rename failed),
 *	TAPIR_ENOMEM, TAPIR_EINVAL (a source name that does not fit).
 */
int tapir_state_save(struct tapir_db *db, const struct tapir_config *cfg,
	const char *path, int64_t now, tapir_state_source_fn want, void *arg,
	size_t *saved, struct tapir_error *err) TAPIR_WUR;

/**
 * Add the entries of a state file to the database. An entry replaces the
 * one of the same name, source and kind; other entries stay. Nothing is
 * added unless the whole file checks out.
 * @param db: borrowed; written.
 * @param cfg: borrowed; maps the file's source names to indexes.
 * @param now: entries with expiry <= now are skipped.
 * @param loaded: if not NULL, receives the number of entries added.
 * @param skipped_expired: if not NULL, receives the number of entries
 *	skipped as expired.
 * @param skipped_source: if not NULL, receives the number of entries
 *	skipped because their source is no longer configured, or its list
 *	or type changed.
 * @param err: if not NULL, receives the reason (and byte offset for
 *	TAPIR_EPARSE) on failure.
 * @return: 0; TAPIR_ENOENT when there is no file (no state yet);
 *	TAPIR_EPARSE when the file is corrupt (nothing added); TAPIR_ETOOBIG
 *	over TAPIR_STATE_MAX_SIZE; TAPIR_EIO, TAPIR_ENOMEM; or the error of
 *	tapir_db_set (TAPIR_EFULL, TAPIR_ENOMEM), in which case the entries
 *	before it stay added and are counted in *loaded. Counts are 0 on
 *	every failure but the last.
 */
int tapir_state_load(struct tapir_db *db, const struct tapir_config *cfg,
	const char *path, int64_t now, size_t *loaded, size_t *skipped_expired,
	size_t *skipped_source, struct tapir_error *err) TAPIR_WUR;

/**
 * The `created` stamp of a state file (the `now` it was saved with),
 * read from its header alone: a file kept beside it (the engine's serials
 * file) names the stamp of the state file it goes with.
 * @param created: receives the stamp; 0 on failure.
 * @return: 0; TAPIR_ENOENT; TAPIR_EIO; TAPIR_EPARSE (not a state file of
 *	this version, or a stamp past INT64_MAX).
 */
int tapir_state_created(const char *path, int64_t *created) TAPIR_WUR;

/*
 * Internal, for the fuzz target and tests: tapir_state_load on a buffer
 * (borrowed). verify_checksum false skips only the checksum comparison (so
 * a fuzzer can reach the parser); everything else is checked the same.
 */
int tapir__state_load_buf(struct tapir_db *db, const struct tapir_config *cfg,
	const uint8_t *buf, size_t len, int64_t now, bool verify_checksum,
	size_t *loaded, size_t *skipped_expired, size_t *skipped_source,
	struct tapir_error *err) TAPIR_WUR;

#endif
