/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parsers for the list files of "file" sources: one name a line
 * ("domains"), hosts files ("hosts"), CSV with the name in one column
 * ("csv") and RPZ zone files ("rpz", read with Knot DNS's libzscanner).
 * Each name becomes a record in canonical form (lib/name.h) handed to a
 * callback; the caller puts it into the policy database.
 *
 * Invariants: a bad line is reported through the error callback with its
 * 1-based line number and skipped, and parsing goes on with the next line;
 * nothing short of a bad option, a failed allocation or the record callback
 * stops a parse. Work is linear in the input and memory does not grow with
 * it: the text formats allocate nothing, "rpz" allocates one scanner (and,
 * for a file with CR LF line ends, one copy of the input) per parse. A list
 * file never reads another file: "$INCLUDE" in an RPZ file is an error line.
 *
 * Thread safety: every function is reentrant and touches only its arguments;
 * callbacks run on the calling thread, before the parse function returns.
 */
#ifndef TAPIR_LISTFILE_H
#define TAPIR_LISTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/name.h"
#include "lib/tapir.h"
#include "lib/vocab.h"

/* Largest file tapir_file_parse_path() reads when given max_size 0. */
#define TAPIR_FILE_MAX_SIZE_DEFAULT	   (64u * 1024 * 1024)
/* Error callbacks per parse when max_errors_reported is 0. */
#define TAPIR_FILE_ERRORS_REPORTED_DEFAULT 20

/* enum tapir_file_format and its names: lib/vocab.h. */

struct tapir_file_opts {
	enum tapir_file_format format;
	/* csv: 1-based column holding the name; 0 means 2, as upstream. */
	unsigned csv_column;
	/* csv: the first line that is neither blank nor a comment is a
	 * header and is skipped. */
	bool csv_header;
	/* csv: field separator; 0 means ','. Not '"', CR or LF. */
	char csv_delim;
	/* rpz: zone name used as the origin until the file sets $ORIGIN
	 * (borrowed, may be NULL: the root). */
	const char *origin;
	/* Error callbacks per parse; 0 means
	 * TAPIR_FILE_ERRORS_REPORTED_DEFAULT. Every error is counted in
	 * tapir_file_stats.errors all the same. */
	size_t max_errors_reported;
};

struct tapir_file_record {
	/* Canonical name (lib/name.h), NUL-terminated; borrowed, valid
	 * during the callback only. */
	const char *name;
	size_t len;
	/* "*.name" line or RPZ wildcard owner: covers the names below name
	 * (name itself is not covered). */
	bool subtree;
	/* rpz: the action of the record's RR; other formats:
	 * TAPIR_ACTION_PASS, meaning "the source's list default". */
	enum tapir_action action;
	unsigned line; /* 1-based */
};

struct tapir_file_stats {
	size_t lines;	/* lines looked at (all of them unless stopped) */
	size_t records; /* records handed to the record callback */
	size_t errors;	/* bad lines (or RRs), reported or not */
	/* Lines, names or RRs left out on purpose: hosts lines for other
	 * addresses and names like "localhost"; RPZ RRs of other triggers,
	 * rpz-tcp-only, delegations and DNSSEC data. */
	size_t skipped;
	/* The input does not end with a line end. A file read while its
	 * writer is half way through usually ends mid-line; so does a
	 * complete file whose writer left out the last line end. */
	bool unterminated;
	/* The 1-based line of the last bad line, 0 when there was none;
	 * equal to lines when the very last line was bad (as a record cut
	 * short is). */
	unsigned last_bad_line;
};

/**
 * Called once per record.
 * @param arg: the parse function's arg.
 * @param r: the record; borrowed, valid during the call only.
 * @return: 0 to go on; anything else stops the parse, which returns it.
 */
typedef int (*tapir_file_record_fn)(
	void *arg, const struct tapir_file_record *r);

/**
 * Called for a bad line, at most max_errors_reported times per parse.
 * @param arg: the parse function's arg.
 * @param line: 1-based line number of the bad line (for a multi-line RPZ
 *	record, the line where the scanner found the fault).
 * @param reason: one line of text, no newline; valid during the call only.
 */
typedef void (*tapir_file_error_fn)(
	void *arg, unsigned line, const char *reason);

/**
 * Parse a list file held in memory.
 * @param buf: the file's bytes (borrowed, need not be NUL-terminated; NUL
 *	octets are ordinary bad characters). A leading UTF-8 BOM is ignored.
 * @param len: bytes at buf. The caller bounds it; memory use does not
 *	depend on it.
 * @param o: format and options (borrowed).
 * @param rec: record callback, must not be NULL.
 * @param err: error callback, may be NULL.
 * @param arg: passed to both callbacks.
 * @param st: if not NULL, receives the counts (cleared first, filled even
 *	on failure).
 * @return: 0 (line errors are not failures: see st->errors); the record
 *	callback's nonzero value when it stopped the parse; TAPIR_EINVAL for
 *	NULL arguments, an unknown format, a bad csv_delim or an origin that
 *	is not a valid name; TAPIR_ENOMEM.
 */
int tapir_file_parse(const char *buf, size_t len,
	const struct tapir_file_opts *o, tapir_file_record_fn rec,
	tapir_file_error_fn err, void *arg,
	struct tapir_file_stats *st) TAPIR_WUR;

/**
 * Read a file and tapir_file_parse() its contents.
 * @param path: file to read (borrowed).
 * @param max_size: largest size accepted in bytes; 0 means
 *	TAPIR_FILE_MAX_SIZE_DEFAULT.
 * @param o, rec, err, arg, st: as tapir_file_parse().
 * @param e: if not NULL, receives the reason when the file cannot be read
 *	or the options are bad (not for bad lines, which go to err).
 * @return: as tapir_file_parse(), or TAPIR_ENOENT (no such file), TAPIR_EIO
 *	(cannot open or read), TAPIR_ETOOBIG (over max_size; nothing parsed).
 */
int tapir_file_parse_path(const char *path, size_t max_size,
	const struct tapir_file_opts *o, tapir_file_record_fn rec,
	tapir_file_error_fn err, void *arg, struct tapir_file_stats *st,
	struct tapir_error *e) TAPIR_WUR;

/* What tapir_rpz_map() made of an RR. */
enum tapir_rpz_map_result {
	TAPIR_RPZ_RECORD = 0, /* *out is a policy record */
	TAPIR_RPZ_SKIP = 1, /* left out on purpose (tapir_file_stats.skipped) */
	TAPIR_RPZ_APEX = 2, /* the zone's own SOA or NS: structure, no count */
};

/**
 * The RPZ meaning of one RR, the single definition shared by "rpz" list
 * files and zone transfers (lib/xfr.h): the owner below the apex, with the
 * apex stripped, is the policy name ("*.name": the subtree below name);
 * a CNAME to "." is NXDOMAIN, to "*." NODATA, to "rpz-drop." DROP, to
 * "rpz-passthru." PASSTHRU, to "rpz-tcp-only." skipped, to anything else a
 * REDIRECT, as is any other data (A, AAAA, TXT...). Triggers other than
 * QNAME (rpz-ip, rpz-nsdname, rpz-nsip, rpz-client-ip), delegations and
 * DNSSEC records are skipped.
 * @param owner: the RR's owner in wire form, uncompressed (borrowed).
 * @param owner_len: its length in octets, root label included.
 * @param apex, apex_len: the zone's name in wire form; compared without
 *	case.
 * @param rtype: the RR's type.
 * @param rdata, rdlen: its RDATA; read only for a CNAME, whose target must
 *	be uncompressed.
 * @param out: receives the record (line 0) on TAPIR_RPZ_RECORD; cleared
 *	otherwise.
 * @param namebuf: receives the canonical name; out->name points into it.
 * @param err: if not NULL, receives the reason on error.
 * @return: an enum tapir_rpz_map_result, or TAPIR_ENAME when the owner is
 *	outside the zone or is not a valid policy name (a bad RR: count it
 *	and go on).
 */
int tapir_rpz_map(const uint8_t *owner, size_t owner_len, const uint8_t *apex,
	size_t apex_len, uint16_t rtype, const uint8_t *rdata, size_t rdlen,
	struct tapir_file_record *out, char namebuf[TAPIR_NAME_BUFSIZE],
	struct tapir_error *err) TAPIR_WUR;

/* Test seam: the block tapir_file_parse_path() reads a line format in
 * (64 KiB). */
extern size_t tapir__listfile_block;

#endif
