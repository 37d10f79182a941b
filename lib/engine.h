/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine: everything the module runs, without Unbound. It owns the
 * configuration, the trusted keys, the policy database (with its single
 * writer thread), the MQTT consumer and the control socket, and answers
 * the query path's one question: what to do with this name.
 *
 * Threads:
 *  - the caller's (Unbound's main thread): create, start, destroy;
 *  - readers (Unbound's workers): tapir_engine_query();
 *  - libmosquitto's thread: copies each message into the bounded queue;
 *  - the writer thread: verifies, parses and applies messages, expires
 *    entries; the only thread that changes the database;
 *  - the control thread: serves the control socket with reader functions.
 *
 * Failure model: nothing here stops Unbound. A missing or broken config
 * leaves an inactive engine that passes every query (logged as an error)
 * and answers status on tapir_control_default_socket(), since the
 * configured socket is in the file it could not read; a missing key file
 * rejects every message (counted) and is retried; a broker that is down
 * is retried with backoff. What an operator must fix on this host (a
 * configuration, keys, TLS files, a file source the module cannot read, a
 * state directory it cannot write, as the user Unbound runs as) is a
 * "problem:" line of status, until it is found fixed.
 */
#ifndef TAPIR_ENGINE_H
#define TAPIR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/answer.h"
#include "lib/config.h"
#include "lib/control.h"
#include "lib/policy.h"
#include "lib/purge.h"
#include "lib/tapir.h"

/* Counters of the feed, named in tapir_counter_str(). */
enum tapir_counter {
	TAPIR_C_MSG_RECEIVED = 0,
	TAPIR_C_MSG_ACCEPTED,
	TAPIR_C_REJ_TOO_BIG,
	TAPIR_C_REJ_QUEUE_FULL,
	TAPIR_C_REJ_NO_SOURCE,
	TAPIR_C_REJ_NO_KEYS,
	TAPIR_C_REJ_UNSIGNED,
	TAPIR_C_REJ_MALFORMED_JWS,
	TAPIR_C_REJ_BAD_ALG,
	TAPIR_C_REJ_UNKNOWN_KEY,
	TAPIR_C_REJ_BAD_SIGNATURE,
	TAPIR_C_REJ_MALFORMED_MSG,
	TAPIR_C_REJ_MSG_TYPE,
	TAPIR_C_REJ_WRONG_SOURCE,
	TAPIR_C_REJ_WRONG_LIST,
	TAPIR_C_REJ_STALE,
	TAPIR_C_ENTRY_ADDED,
	TAPIR_C_ENTRY_REMOVED,
	TAPIR_C_ENTRY_ALREADY_EXPIRED,
	TAPIR_C_ENTRY_INVALID,
	TAPIR_C_ENTRY_DB_FULL,
	TAPIR_C_ENTRY_EXPIRED,
	TAPIR_C_MQTT_CONNECTS,
	TAPIR_C_MQTT_DISCONNECTS,
	TAPIR_C_MQTT_QUEUE_WAITS,
	TAPIR_C_FILE_LOADS,
	TAPIR_C_FILE_FAILURES,
	TAPIR_C_FILE_BAD_LINES,
	TAPIR_C_STATE_SAVES,
	TAPIR_C_STATE_LOADED,
	TAPIR_C_STATE_FAILURES,
	TAPIR_C_JOURNAL_REPLAYED,
	TAPIR_C_JOURNAL_FAILURES,
	TAPIR_C_XFR_FAILURES,
	TAPIR_C_STATUS_SENT,
	TAPIR_C_DECISION_CHANGES,
	TAPIR_C_CONTROL_REFUSED,
	TAPIR_C_COUNT,
};

/** "msg.rejected.bad_signature" and so on. */
const char *tapir_counter_str(enum tapir_counter c);

struct tapir_engine;

/**
 * Create an engine from a configuration file. Never fails for a broken or
 * missing file (the engine is then inactive and says why in its log and
 * status); NULL only when memory runs out.
 * @param path: the YAML file.
 */
struct tapir_engine *tapir_engine_create(const char *path);

/**
 * Create an engine from a parsed configuration (tests, the check tool).
 * @param cfg: taken, even on failure.
 */
struct tapir_engine *tapir_engine_create_take(struct tapir_config *cfg);

/** Whether a configuration is loaded (otherwise every query passes). */
bool tapir_engine_active(const struct tapir_engine *e);

/**
 * The configuration in force, or NULL when inactive. Immutable, but
 * retired by a reload (tapir-pop-control reload): for tests and tools
 * that do not reload meanwhile.
 */
const struct tapir_config *tapir_engine_config(const struct tapir_engine *e);

/**
 * Start the writer thread, the MQTT consumer and the control socket. An
 * inactive engine starts only a control socket, at
 * tapir_control_default_socket(), mode 0660, that answers status (a socket
 * that cannot be made there is logged, not an error).
 * Call once, from the thread that will call destroy.
 * @return: 0, or a negative tapir_err when a thread could not start (the
 *	engine then stays usable and passes queries).
 */
int tapir_engine_start(struct tapir_engine *e) TAPIR_WUR;

/** Stop and join every thread and free everything. NULL is fine. */
void tapir_engine_destroy(struct tapir_engine *e);

/**
 * Reader: decide for a canonical name, with the full reason (lookup, tests).
 * Counts nothing.
 */
enum tapir_action tapir_engine_decide(struct tapir_engine *e, const char *name,
	size_t len, struct tapir_reason *why);

/* Flags of tapir_engine_query(). */
enum tapir_query_flags {
	/* Explain a block in a->why (for an Extended DNS Error). */
	TAPIR_QUERY_EXPLAIN = 1 << 0,
	/* The name is one of the answer's CNAME or DNAME chain, not the
	 * query's: counted only when it blocks. */
	TAPIR_QUERY_CHAIN = 1 << 1,
	/* The query's type is one the resolver's flush by name leaves in its
	 * cache: should the name become blocked, its purge walks the cache
	 * (tapir_purger_push() rather than push_name()). */
	TAPIR_QUERY_RARE_TYPE = 1 << 2,
};

/**
 * Reader: the query path's one call. Decides once for a wire-format name
 * met in a query of type qtype, plans the answer from that decision
 * (lib/answer.h) and counts it in per-thread counters (with "would block"
 * for log-only rules).
 * @param flags: enum tapir_query_flags.
 * @param a: the plan; only action and kind are set unless the name is
 *	blocked. It holds no pointer into the engine.
 * @return: the action to enforce (TAPIR_ACTION_PASS for names that cannot
 *	match, and while the engine is inactive).
 */
enum tapir_action tapir_engine_query(struct tapir_engine *e,
	const uint8_t *wire, size_t maxlen, uint16_t qtype, unsigned flags,
	struct tapir_answer *a);

/**
 * Reader: whether an SOA rdata (with its 2-byte length prefix) is the one
 * the block answers in force carry: a message cached with it in authority
 * is a block answer of this module (answer.cache-blocked).
 */
bool tapir_engine_is_block_soa(
	struct tapir_engine *e, const uint8_t *rdata, size_t len);

/**
 * Any thread: have Unbound's caches forget a wire-format name (and what is
 * below it), when a purger is configured. Asynchronous.
 */
void tapir_engine_purge_wire(
	struct tapir_engine *e, const uint8_t *wire, size_t maxlen);

/**
 * Any thread: queue a received message for the writer (copied).
 * @return: 0, TAPIR_ETOOBIG, TAPIR_EFULL (queue full), TAPIR_ENOMEM.
 */
int tapir_engine_submit(struct tapir_engine *e, const char *topic,
	const void *payload, size_t len);

/**
 * Writer context only (tests, before start): process one message now.
 * @return: 0 when accepted, else the reason it was rejected.
 */
int tapir_engine_process(struct tapir_engine *e, const char *topic,
	const void *payload, size_t len);

/** Read a counter. */
uint64_t tapir_engine_counter(struct tapir_engine *e, enum tapir_counter c);

/** Memory the engine holds, in bytes (approximate, any thread). */
size_t tapir_engine_memory(struct tapir_engine *e);

/** Tests: replace the wall clock (NULL restores it). Before start. */
void tapir_engine_set_clock(struct tapir_engine *e, int64_t (*now)(void));

/** Control thread: run one control command line. */
void tapir_engine_command(
	struct tapir_engine *e, const char *line, struct tapir_buf *out);

/**
 * Control thread: one request from the control socket, as peer. Commands
 * that change state (override allow, deny and remove, reload, flush, stats,
 * which resets the counters every reader sees) need a privileged peer
 * (root, Unbound's user, control.group); anything else a peer that is not
 * gets answered "error: ... not permitted ..." and counted as
 * control.refused. The rest is tapir_engine_command().
 * @param peer: borrowed.
 */
void tapir_engine_control(struct tapir_engine *e, const char *line,
	const struct tapir_control_peer *peer, struct tapir_buf *out);

/**
 * How names whose decision changed leave the resolver's caches (set
 * before start): send flushes one name (lib/purge.h), called on the
 * purger's own thread; what names it in status and logs. A NULL send:
 * nothing is purged, and what says why (status shows it).
 */
void tapir_engine_set_purge(struct tapir_engine *e, tapir_purge_send_fn send,
	void *arg, const char *what);

/** Build information the module sets before start (shown by status). */
void tapir_engine_set_host_info(struct tapir_engine *e, const char *info);

#endif
