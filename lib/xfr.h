/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zone transfer client for "xfr" sources: an RPZ pulled from a primary by
 * AXFR (RFC 5936) or IXFR (RFC 1995) over TCP, optionally signed with TSIG
 * (RFC 8945). Messages are built, parsed and signed with Knot DNS's
 * libknot; each RR gets its RPZ meaning from tapir_rpz_map()
 * (lib/listfile.h), the same as an "rpz" list file, and is handed to the
 * caller's callbacks as a record in canonical form (lib/name.h).
 *
 * Invariants: every call is blocking and bounded by one deadline for the
 * whole exchange (connect, send, each read), so a silent primary costs at
 * most timeout_ms; and a caller that sets its cancel flag gets control back
 * within TAPIR_XFR_CANCEL_MS, however long the timeout. A transfer is all or nothing for the caller: the
 * callbacks run while messages arrive, before the last one has been
 * checked, so a transfer that fails half way (reset, timeout, bad TSIG, a
 * malformed message, a serial going backwards) may already have delivered
 * records, and the caller must buffer them and apply them only after end()
 * returned. A bad RR (its owner outside the zone or not a valid name) is
 * counted through bad() and skipped; it never fails a transfer.
 *
 * Thread safety: every function is reentrant and touches only its
 * arguments; it is meant to run on a thread of its own, as it blocks.
 * Callbacks run on the calling thread, before the function returns.
 */
#ifndef TAPIR_XFR_H
#define TAPIR_XFR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/listfile.h"
#include "lib/tapir.h"

#define TAPIR_XFR_TIMEOUT_MS_DEFAULT  30000
#define TAPIR_XFR_MAX_RECORDS_DEFAULT ((size_t)20000000)
/* How often a wait looks at the cancel flag: the most a cancel waits. */
#define TAPIR_XFR_CANCEL_MS	      100

struct tapir_xfr_opts {
	const char *primary; /* IPv4 or IPv6 literal (borrowed) */
	int port;	     /* 0: 53 */
	/* Canonical zone name (lib/name.h form, no trailing dot; borrowed). */
	const char *zone;
	/* TSIG key name, algorithm ("hmac-sha256", or another libknot
	 * knows; NULL: hmac-sha256) and base64 secret, all borrowed; a NULL
	 * name means no TSIG. With a key, every answer must be signed with
	 * it: an unsigned or wrongly signed one fails with TAPIR_ESIG. */
	const char *tsig_name, *tsig_alg, *tsig_secret;
	int timeout_ms;	    /* whole exchange; 0: 30000 */
	size_t max_records; /* RRs per transfer, more fail; 0: 20,000,000 */
	/* Borrowed, may be NULL. Another thread sets it to stop the
	 * exchange: every wait looks at it at least each
	 * TAPIR_XFR_CANCEL_MS, and so does the reading of each message,
	 * and the call then fails with TAPIR_ECANCELED. */
	const atomic_bool *cancel;
};

/* The zone's SOA timers (RFC 1035 3.3.13). */
struct tapir_xfr_soa {
	uint32_t serial, refresh, retry, expire, minimum;
};

/*
 * Change callbacks, on the calling thread, in wire order. For IXFR every
 * (removal set, addition set) pair is one changeset: begin(full=false,
 * from, to), then its deletions (add=false), then its additions. A full
 * transfer (AXFR, or an IXFR answered in AXFR style) is begin(full=true,
 * 0 or the serial asked from, new serial) and then additions only. end()
 * comes once, after the last message has been verified.
 */
struct tapir_xfr_ops {
	/* @return: nonzero aborts the transfer, which returns it. */
	int (*begin)(
		void *arg, bool full, uint32_t from_serial, uint32_t to_serial);
	/* @param r: borrowed, valid during the call (r->line is 0).
	 * @return: nonzero aborts the transfer, which returns it. */
	int (*record)(void *arg, bool add, const struct tapir_file_record *r);
	/* @param soa: the new SOA. @return: nonzero is returned as is. */
	int (*end)(void *arg, const struct tapir_xfr_soa *soa);
	/* A bad RR, skipped (may be NULL). @param reason: one line,
	 * valid during the call only. */
	void (*bad)(void *arg, const char *reason);
};

/**
 * Ask the primary for the zone's SOA (over TCP, TSIG-signed if configured).
 * @param o: options (borrowed).
 * @param soa: receives the SOA; cleared on failure.
 * @param err: if not NULL, receives the reason on failure.
 * @return: 0; TAPIR_EINVAL (bad options, bad TSIG key); TAPIR_EIO (cannot
 *	connect, reset, timeout); TAPIR_EPARSE (malformed or unexpected
 *	answer, an RCODE other than NOERROR, no SOA); TAPIR_ESIG (TSIG
 *	missing or wrong); TAPIR_ECANCELED (o->cancel was set);
 *	TAPIR_ENOMEM.
 */
int tapir_xfr_soa_query(const struct tapir_xfr_opts *o,
	struct tapir_xfr_soa *soa, struct tapir_error *err) TAPIR_WUR;

/**
 * Transfer the zone: AXFR, or IXFR from a serial. The server may answer an
 * IXFR in AXFR style; both are handled.
 * @param o: options (borrowed).
 * @param have_serial: false: AXFR; true: IXFR from serial.
 * @param serial: the serial the caller holds (IXFR only).
 * @param ops: callbacks (borrowed); begin, record and end must be set.
 * @param arg: passed to the callbacks.
 * @param soa_out: if not NULL, receives the new SOA (the current one for
 *	TAPIR_EEXIST); cleared on other failures.
 * @param err: if not NULL, receives the reason on failure.
 * @return: 0 after end() returned 0; TAPIR_EEXIST when the zone is up to
 *	date (a single SOA with serial, no callbacks); TAPIR_ERANGE when the
 *	primary's serial is older than serial or a changeset's serials do not
 *	chain; TAPIR_ETOOBIG over max_records; the errors of
 *	tapir_xfr_soa_query(); or a callback's nonzero value. On any failure
 *	the callbacks may have run: discard what they got.
 */
int tapir_xfr_fetch(const struct tapir_xfr_opts *o, bool have_serial,
	uint32_t serial, const struct tapir_xfr_ops *ops, void *arg,
	struct tapir_xfr_soa *soa_out, struct tapir_error *err) TAPIR_WUR;

/**
 * tapir_xfr_fetch() over an answer stream in memory instead of a
 * connection, for tests and fuzzing (tests/fuzz/fuzz_xfr.c): the same
 * checks and callbacks, nothing connected or sent. o->primary is not
 * used but must be set.
 * @param id: the query id the answers must carry.
 * @param stream: what the primary sends: messages, each after its
 *	two-octet length (RFC 1035 4.2.2); borrowed.
 * @return: as tapir_xfr_fetch(); TAPIR_EIO when the stream ends first.
 */
int tapir__xfr_replay(const struct tapir_xfr_opts *o, bool have_serial,
	uint32_t serial, uint16_t id, const uint8_t *stream, size_t len,
	const struct tapir_xfr_ops *ops, void *arg,
	struct tapir_xfr_soa *soa_out, struct tapir_error *err) TAPIR_WUR;

#endif
