/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal: every change of a journaled source's entries since the
 * state file (lib/state.h) was last saved, so that a process killed
 * without a save (kill -9, a crash, the OOM killer) gets every decision
 * back at the next start. The TAPIR core never re-sends an observation
 * that has not changed: what is lost here is lost until it changes.
 *
 * Invariants:
 *  - One writer (the engine's writer thread). A record is appended before
 *    the change it describes becomes visible in the database, so nothing
 *    a client was ever answered from is missing from the journal; the
 *    records of one message go in one write() (one append), which a kill
 *    of the process cannot split: the page cache keeps what write()
 *    returned. A crash of the machine can lose the last second: the
 *    engine fdatasync()s at most once a second when something was written.
 *  - A journal follows one state file: its generation is that file's
 *    `created` stamp (tapir_state_created()), 0 when there was none. It is
 *    replayed only on top of that very file; any other journal's records
 *    are in the state file already, or belong to another file, and it is
 *    ignored whole.
 *  - After every save of the state file a new, empty journal with the new
 *    generation replaces the old (temporary file, fsync, rename), so a
 *    crash leaves the old journal (which the new state file ignores by its
 *    generation) or the new empty one, never a mix.
 *  - Each record carries its own checksum: a replay applies records in
 *    order and stops at the first one that is cut or does not check out
 *    (a torn tail, or damage), and says how many bytes it dropped. The
 *    writer truncates those bytes before it appends, so that nothing
 *    written later is hidden behind them.
 *  - Sources are named, not indexed, as in the state file: a reordered
 *    configuration maps correctly; records of sources no longer configured,
 *    or whose list or type changed, are skipped, and so are expired
 *    entries (a set that expired removes the entry it would have replaced,
 *    as its own expiry would have).
 *
 * Format, version 1; every integer little-endian, fixed width:
 *
 *   header (32 bytes)
 *     0  magic "TAPIRJN\0"      8
 *     8  version (1)           u32
 *    12  reserved (0)          u32
 *    16  generation            u64   created stamp of the state file
 *    24  checksum               8    of the 24 bytes before it
 *   records (26 bytes + source name + name), appended
 *     0  kind                  u8    1: set, 2: remove
 *     1  list                  u8    enum tapir_list of the source
 *     2  type                  u8    enum tapir_source_type of the source
 *     3  flags                 u8    as in the state file
 *     4  source name length    u8    1..TAPIR_SOURCE_NAME_MAX-1
 *     5  name length           u8    1..253
 *     6  tags                  u32   0 for a remove
 *    10  added                 u32   0 for a remove
 *    14  expiry                u32   0 for a remove
 *    18  source name           bytes, no NUL
 *        name                  bytes, canonical (lib/name.h), no NUL
 *        checksum               8    of the record's bytes before it
 *
 * A checksum is the first 8 bytes of BLAKE2b-128 (crypto_generichash):
 * enough to tell a torn or damaged record (1 in 2^64 passes), not a
 * defence against someone who can write the state directory, who can
 * write the state file as well.
 *
 * Thread safety: a struct tapir_journal and a struct tapir_journal_batch
 * belong to one thread; tapir_journal_replay() calls tapir_db_set and
 * tapir_db_remove, so it is for the database's writer thread.
 */
#ifndef TAPIR_JOURNAL_H
#define TAPIR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/tapir.h"

#define TAPIR_JOURNAL_HDR_SIZE 32

/** Records of one message (or any one change), built before they are
 * appended together. Zero-initialised is empty; tapir_journal_batch_free
 * frees it. */
struct tapir_journal_batch {
	uint8_t *buf; /* owned */
	size_t len, cap;
};

/**
 * Add a set record: source (the configured one) gets entry ent for name.
 * @param name, len: canonical name, 1..253 bytes.
 * @return: 0, TAPIR_ENOMEM, TAPIR_EINVAL (a name or source name that does
 *	not fit).
 */
int tapir_journal_add_set(struct tapir_journal_batch *b,
	const struct tapir_source_config *source, const char *name, size_t len,
	const struct tapir_entry *ent) TAPIR_WUR;

/**
 * Add a remove record: source's entry of kind flags & SUBTREE for name.
 * @return: as tapir_journal_add_set().
 */
int tapir_journal_add_remove(struct tapir_journal_batch *b,
	const struct tapir_source_config *source, const char *name, size_t len,
	uint8_t flags) TAPIR_WUR;

/** Empty the batch, keeping its memory. */
void tapir_journal_batch_reset(struct tapir_journal_batch *b);

/** Free the batch's memory; it is empty after. */
void tapir_journal_batch_free(struct tapir_journal_batch *b);

/** An open journal, appended to. */
struct tapir_journal;

/**
 * Replace path with a new, empty journal of generation (temporary file,
 * fsync, rename, fsync of the directory) and open it for appending.
 * @param out: receives the journal; NULL on failure.
 * @return: 0, TAPIR_EIO, TAPIR_ENOMEM; the reason in err.
 */
int tapir_journal_start(const char *path, int64_t generation,
	struct tapir_journal **out, struct tapir_error *err) TAPIR_WUR;

/**
 * Open an existing journal for appending after its first valid_len bytes
 * (what tapir_journal_replay() found good): anything after them is cut
 * off first.
 * @return: 0, TAPIR_EIO, TAPIR_ENOMEM; the reason in err.
 */
int tapir_journal_reopen(const char *path, uint64_t valid_len,
	struct tapir_journal **out, struct tapir_error *err) TAPIR_WUR;

/**
 * Append the batch's records with one write() (a short write is
 * completed, and an interrupted one resumed). The batch is left as it
 * was. After a failure the file may end in part of a record, which a
 * replay drops; the caller stops appending (later records would be lost
 * behind it anyway) until a new journal is started.
 * @return: 0, TAPIR_EIO (errno's text in err).
 */
int tapir_journal_append(struct tapir_journal *j,
	const struct tapir_journal_batch *b, struct tapir_error *err) TAPIR_WUR;

/**
 * fdatasync() the journal when something was appended since the last
 * sync; otherwise nothing.
 * @return: 0, TAPIR_EIO.
 */
int tapir_journal_sync(struct tapir_journal *j) TAPIR_WUR;

/** Bytes in the journal file, header included. */
uint64_t tapir_journal_size(const struct tapir_journal *j);

/** Close (without a sync) and free. NULL is fine. */
void tapir_journal_close(struct tapir_journal *j);

/** What a replay did. */
struct tapir_journal_stats {
	int64_t generation;  /* the file's; 0 when the header is bad */
	size_t replayed;     /* records applied */
	size_t expired;	     /* set records of expired entries */
	size_t other_source; /* records of sources gone or changed */
	size_t failed;	     /* records the database refused (full) */
	uint64_t valid_len;  /* header and good records, in bytes */
	uint64_t dropped;    /* bytes after them (a torn tail) */
};

/**
 * Apply a journal's records to the database, in order, if its generation
 * is the given one; stop at the first record that is cut or bad.
 * @param cfg: maps source names to indexes.
 * @param now: set records with expiry <= now remove instead of set.
 * @param st: receives what was done (zeroed first).
 * @return: 0 (even with a dropped tail: st->dropped says);
 *	TAPIR_ENOENT: no journal; TAPIR_ERANGE: another generation
 *	(st->generation says which; nothing applied); TAPIR_EPARSE: not a
 *	journal of this version (nothing applied); TAPIR_EIO.
 */
int tapir_journal_replay(const char *path, int64_t generation,
	struct tapir_db *db, const struct tapir_config *cfg, int64_t now,
	struct tapir_journal_stats *st, struct tapir_error *err) TAPIR_WUR;

#endif
