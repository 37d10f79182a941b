/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's private header: struct tapir_engine and what its rooms
 * share. Nothing here is part of libtapir's API (that is lib/engine.h);
 * the helpers shared between the rooms are named tapir__eng_*.
 *
 * The rooms, by what they do:
 *   engine.c             create, start, destroy; the runtime snapshot;
 *                        counters, problems
 *   engine_query.c       the per-query path (Unbound's worker threads)
 *   engine_ingest.c      MQTT messages, topic routing, the writer thread
 *                        and its queue
 *   engine_purge.c       the rare-type filter and cache purges
 *   engine_files.c       file sources
 *   engine_xfr.c         the zone transfer thread
 *   engine_state.c       the state directory, state file, journal and serials
 *   engine_overrides.c   local overrides and overrides.json
 *   engine_core_status.c health reports to the DNS TAPIR core
 *   engine_control.c     control commands and their dispatch
 *   engine_export.c      list, dump-rpz and digest
 *   engine_metrics.c     metrics in Prometheus's text format, and the
 *                        writer's textfile of them
 *
 * Thread safety: Unbound's workers only read (the runtime snapshot and
 * the database in epoch read sections, atomics). The writer
 * thread is the only one that changes the database; other threads hand it
 * jobs (tapir__eng_run_on_writer()). Each field of struct tapir_engine
 * below says which thread owns it or what covers it. qlock, slock and
 * xlock are never held together, so they have no order.
 */
#ifndef TAPIR_ENGINE_IMPL_H
#define TAPIR_ENGINE_IMPL_H

#include <jansson.h>
#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/db.h"
#include "lib/engine.h"
#include "lib/fileio.h"
#include "lib/jws.h"
#include "lib/mqtt.h"
#include "lib/msg.h"
#include "lib/name.h"
#include "lib/purge.h"
#include "lib/rrcount.h"
#include "lib/runtime.h"
#include "lib/listfile.h"
#include "lib/journal.h"
#include "lib/state.h"
#include "lib/xfr.h"
#include "lib/vocab.h"

/* Bits of the filter of names answered with a type that a flush by name
 * leaves in Unbound's caches (tapir__eng_rare_note()): 1 MiB. */
#define RARE_BITS ((size_t)1 << 23)

#define ANSWER_SLOTS	      64
#define EXPIRE_SLOTS_PER_PASS 65536
#define KEYS_RETRY_MS	      30000
/* A state directory that cannot be written is probed again this often. */
#define STATE_DIR_RETRY_MS    30000
#define LOG_INTERVAL_MS	      10000
#define STATE_SAVE_MS	      60000
#define STATE_FILE	      "tapir-pop.state"
/* The journal beside it (lib/journal.h): "tapir-pop.state.journal". */
#define JOURNAL_SUFFIX	      ".journal"
/* A journal past this is folded into the state file at once (a save,
 * which starts a new one): at ~80 bytes a record, some 800,000 changes,
 * which a start replays in about a second, while a save of even a few
 * million entries takes seconds, so a busier feed saves at most that
 * often. It also bounds the disk a journal takes beside the state file. */
#define JOURNAL_MAX_BYTES     ((uint64_t)64 << 20)
/* A journal written to is fdatasync()ed at most this often. */
#define JOURNAL_SYNC_MS	      1000
/* A zone's expire when its SOA says 0, or when restored data has no
 * deadline of its own: a week, RFC 1912's lower bound. */
#define XFR_EXPIRE_DEFAULT_S  604800
/* A file load that changes more names than this flushes Unbound's whole
 * cache once instead of name by name. */
#define PURGE_BATCH_MAX	      1000
#define FILE_ERRORS_LOGGED    5
/* How long a feed may be cut off before status calls it a problem: the
 * broker down this long, or a zone primary with no good check. A broker
 * restart or a primary's maintenance stays under it. */
#define FEED_DOWN_PROBLEM_S   120

struct qmsg {
	struct qmsg *next;
	/* A job for the writer thread (control commands that change the
	 * database) instead of a message: run, then done set under qlock. */
	void (*job)(struct tapir_engine *e, void *arg);
	void *job_arg;
	bool *job_done;
	int src; /* the MQTT source, or SRC_BY_TOPIC (engine_ingest.c) */
	/* qlock: the writer took the job up; its submitter gave up first
	 * (tapir__eng_run_on_writer_within()), so it never runs. */
	bool job_started, job_withdrawn;
	size_t len;
	char *topic; /* points into data, after the payload */
	char data[];
};

/* What the writer knows of a file source. Written by the writer thread
 * only, which reads it without a lock; the fields the status command and
 * core-status reports read are written under slock. */
struct file_state {
	bool loaded;		 /* writer; written under slock */
	dev_t dev;		 /* writer; written under slock */
	ino_t ino;		 /* writer; written under slock */
	off_t size;		 /* writer; written under slock */
	struct timespec mtime;	 /* writer; written under slock */
	int64_t next_check_ms;	 /* writer only */
	uint32_t generation;	 /* the `added` stamp of the last load; ditto */
	size_t names, bad_lines; /* slock */
	int64_t loaded_at;	 /* slock */
	char error[200];	 /* slock: last failure, "" after a good load */
	/* Writer; written under slock: the last read was held back as a
	 * file caught mid-rewrite (engine_files.c), and what stat() said of
	 * the file then. */
	bool held;
	struct stat held_sb;
};

/* The sources the engine adds after the configured ones, for local
 * overrides (tapir-pop-control override): never in the YAML file. */
#define SOURCE_OVERRIDE 3

struct override {
	char name[TAPIR_NAME_BUFSIZE];
	bool allow;
	int64_t added, expires; /* expires 0: until removed */
	char comment[256];
};

/* What the transfer thread knows of an xfr source. The status command,
 * core-status reports and the serials file read it under slock. */
struct xfr_state {
	/* slock: the writer sets them (the job that applies a transfer,
	 * the serials file at start), the transfer thread reads them and
	 * clears them when the zone expires. */
	bool have_serial;
	uint32_t serial;
	/* slock: wall time (e->now()) at which the zone's data expires
	 * unless a check succeeds first: the last good check plus the SOA
	 * expire. The transfer thread sets it; the serials file keeps it
	 * (the writer saves it, and sets it at start, before the transfer
	 * thread reads it to arm expire_ms). 0: not known. */
	int64_t expires_at;
	/* Writer only: the records behind the zone's entries, for owners
	 * with more than one (lib/rrcount.h; NULL: none), and the `added`
	 * stamp of the last transfer applied, which only grows, so that a
	 * full transfer tells the entries it made from older ones. Both
	 * travel in the serials file. */
	struct tapir_rrcount *rrs;
	uint32_t generation;
	struct tapir_xfr_soa soa; /* transfer thread only */
	int64_t next_ms;	  /* transfer thread only: next check */
	int64_t expire_ms; /* transfer thread only: data dropped by then */
	/* slock; written by the transfer thread. */
	int64_t last_ok; /* wall time of the last good transfer */
	size_t names, transfers, failures;
	char error[200];
};

/*
 * What an operator must fix on this host, for status ("problem: ..."
 * lines, and tapir-pop-control status exits 1): files the module cannot
 * read or write, threads that did not start. A broker or a primary that
 * cannot be reached is not one (it is retried, and shown in its own
 * line). File sources keep their errors in their file_state.
 */
enum problem {
	PROBLEM_KEYS = 0,
	PROBLEM_STATE_DIR,
	PROBLEM_JOURNAL,
	PROBLEM_MQTT,
	PROBLEM_CORE_STATUS,
	PROBLEM_CONTROL,
	PROBLEM_THREADS,
	PROBLEM_METRICS,
	PROBLEM_COUNT,
};

/* Answer counters, one cache line per worker thread. */
#define WOULD_BLOCK   TAPIR_ACTION_COUNT /* log-only: counted, not done */
/* Then one counter per rule that decided a blocked answer: built-in rules
 * and named rules (TAPIR_RULE_NAMED + i). */
#define RULE_BASE     (TAPIR_ACTION_COUNT + 1)
/* Then one per source whose entries counted in an answer's decision
 * (struct tapir_verdict's sources). */
#define SOURCE_BASE   (RULE_BASE + TAPIR_RULE_NAMED + TAPIR_MAX_RULES)
#define SLOT_COUNTERS (SOURCE_BASE + TAPIR_MAX_SOURCES)

struct answer_slot {
	_Atomic uint64_t n[SLOT_COUNTERS];
	char pad[64 - (SLOT_COUNTERS * 8) % 64];
};

/* Feed counters per source (writer increments, readers sum). */
struct source_counters {
	_Atomic uint64_t accepted, rejected, added, removed;
	_Atomic int64_t last_msg; /* wall time of the last accepted one */
	/* Entries the source has in the database: the writer publishes
	 * them after each batch (tapir__eng_metrics_publish()). */
	_Atomic size_t entries;
};

/*
 * The engine. Each field names what covers it: a thread that alone
 * touches it, a lock, an atomic, or "read-only": set by create (or by the
 * embedder before tapir_engine_start()) and only read once the threads
 * run. destroy runs after every thread but the caller's is joined.
 */
struct tapir_engine {
	/* Set at create, read-only after. */
	char *config_path;
	char config_error[256];
	/* The runtime snapshot in force (lib/runtime.h), NULL when
	 * inactive. Atomic: only the writer replaces it (reload_job()),
	 * through tapir__eng_rt_swap(); workers load it inside a read
	 * section of the database's epoch (tapir__eng_rt_enter()), other
	 * threads take a reference (tapir__eng_rt_get()), the writer and
	 * create, start and destroy read it with wrt(). */
	_Atomic(struct tapir_runtime *) rt;
	/* A reference on the snapshot the MQTT client was created with,
	 * which it reads for as long as it lives (its settings change
	 * with an Unbound reload only). Start and destroy only. */
	struct tapir_runtime *mqtt_rt;
	/* The pointer: set at create, read-only. The database: the writer
	 * changes and commits it; readers use its epoch read sections. */
	struct tapir_db *db;
	/* Set by start before the writer starts, freed by destroy after
	 * the writer is joined: read-only while the threads run (the
	 * client's own lock covers its outbox, lib/mqtt.h). */
	struct tapir_mqtt *mqtt;
	/* Start and destroy only (the embedder's thread). */
	struct tapir_control *control;
	/* Set by start before the writer starts; read-only until destroy
	 * (the purger has its own lock). */
	struct tapir_purger *purger;
	/* Set by the embedder before start, read-only after. */
	tapir_purge_send_fn purge_send;
	void *purge_arg;
	char purge_what[160];
	/* Set at create (tests: tapir_engine_set_clock() before start),
	 * read-only after. */
	int64_t (*now)(void);
	/* Set at create, read-only after. */
	int64_t started;
	/* Set by start, on the engine's clock (e->now()), read-only after:
	 * what "for how long" problems count from. */
	int64_t started_at;
	/* Set by the embedder before start, read by the control thread. */
	char host_info[256];

	/* Workers set, the writer reads: see tapir__eng_rare_note().
	 * rare_seed: set at create, read-only; rare: atomic, bits only ever
	 * set. */
	uint64_t rare_seed;
	_Atomic uint64_t rare[RARE_BITS / 64];

	/* Writer thread only (also create, before it runs, and reload jobs,
	 * which run on it). */
	struct tapir_signer *status_signer; /* core-status reports */
	int64_t status_sent_ms;
	struct tapir_keyring *keys;
	int64_t keys_tried_ms;
	int64_t last_log_ms[TAPIR_C_COUNT]; /* tapir__eng_log_reject() */
	uint64_t suppressed[TAPIR_C_COUNT];
	/* Per MQTT source, the newest timestamp of a message applied, capped
	 * at the clock (engine_ingest.c, replay protection). */
	int64_t newest_msg[TAPIR_MAX_SOURCES];

	/* Queue: covered by qlock. qcond wakes the writer; jcond signals a
	 * finished job and writer_ready. No other lock is ever held with
	 * qlock (nor with slock or xlock). */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	pthread_cond_t jcond; /* a job finished */
	/* Room in the queue: the writer took a batch, or destroy began. */
	pthread_cond_t rcond;
	/* qlock: destroy is stopping the MQTT thread; submit() waits for
	 * room no more. */
	bool closing;
	struct qmsg *qhead, *qtail; /* qlock */
	size_t qlen;		    /* qlock */
	size_t qbytes;		    /* qlock: what the messages hold */
	bool stop;		    /* qlock: set by destroy */
	char mqtt_state[320];	    /* qlock: MQTT thread, start write */
	bool mqtt_connected;	    /* qlock */
	/* qlock: when the connection to the broker was lost (or start, when
	 * it never came up), on the engine's clock; 0 while connected. */
	int64_t mqtt_down_since;

	/* Start and destroy only; writer_running is set by start before
	 * the threads that read it (control, transfer) are started. */
	pthread_t writer;
	bool writer_running;

	/* Local overrides: writer only (changed and listed by jobs the
	 * control thread submits, and loaded by tapir__eng_overrides_load()
	 * when the writer starts, before it runs any job). */
	struct override *overrides;
	size_t n_overrides, cap_overrides;
	/* Set at create, read-only after (a reload keeps every source's
	 * index). */
	int src_override_allow, src_override_deny;
	/* Set at create, read-only after. */
	size_t n_config_sources;

	/* Zone transfers: a thread of their own, so that a large transfer
	 * never holds up the writer; changes reach the writer as jobs. What
	 * covers each field of struct xfr_state is written there. */
	struct xfr_state xfrs[TAPIR_MAX_SOURCES];
	/* Start and destroy only. */
	pthread_t xfr_thread;
	bool xfr_running;
	/* Transfer thread only: a reference on the snapshot of the pass in
	 * progress. */
	struct tapir_runtime *xfr_rt;
	pthread_mutex_t xlock; /* with xcond: wakes the thread to stop */
	pthread_cond_t xcond;
	/* Atomic, stored under xlock (so that the thread's wait on xcond
	 * cannot miss it): destroy sets it; a transfer in flight reads it
	 * as its cancel flag (lib/xfr.h) and stops within 100 ms. */
	atomic_bool xfr_stop;
	bool writer_ready; /* covered by qlock: the initial loads are done */

	/* slock: what the writer (and the transfer thread) change and the
	 * status command and core-status reports read. */
	pthread_mutex_t slock;
	char problems[PROBLEM_COUNT][320]; /* "" when fine; slock */
	int64_t state_dir_tried_ms;	   /* writer */
	/* Per field in struct file_state: writer-only or slock. */
	struct file_state files[TAPIR_MAX_SOURCES];
	char *state_path; /* set at create, read-only after */
	bool state_dirty; /* writer (destroy after the join) */
	/* Atomic: what only the serials file holds changed (a zone's
	 * expiry moved with a good check); any thread sets it, the writer
	 * saves the serials file alone and clears it. */
	atomic_bool serials_dirty;
	/* Writer: the `created` stamp of the state file on disk (the one it
	 * loaded or last saved), 0 when none. The serials file names it, so
	 * that a serials file that does not go with the state file beside
	 * it (a crash between the two renames) is not believed. */
	int64_t state_created;
	int64_t state_saved_ms; /* writer */
	int64_t state_saved_at; /* slock */
	/* Writer (destroy after the join): the journal of what changed in
	 * journaled sources since the state file was saved (engine_state.c);
	 * NULL when there is no state-dir or it could not be written (a
	 * save starts a new one, tried every STATE_DIR_RETRY_MS). */
	char *journal_path; /* set at create, read-only after */
	struct tapir_journal *journal;
	struct tapir_journal_batch journal_batch; /* reused per message */
	int64_t journal_synced_ms, journal_tried_ms;
	/* The journal failed while the state directory's problem was set:
	 * tried again as soon as that clears. */
	bool journal_wait_dir;

	/* Atomic, relaxed: any thread adds, readers sum. */
	_Atomic uint64_t counters[TAPIR_C_COUNT];
	/* Atomic: the writer adds, the control thread reads. */
	struct source_counters per_source[TAPIR_MAX_SOURCES];
	/* Atomic: each worker adds to its own slot (count_slot()), the
	 * control thread sums and may reset them. */
	struct answer_slot answers[ANSWER_SLOTS];

	/* Database figures the writer publishes after each batch, for
	 * readers of status (the database's own fields are writer-only).
	 * Atomic. */
	_Atomic size_t db_names, db_entries, db_bytes;
	_Atomic size_t n_keys; /* atomic: the writer stores it */

	/* Writer only (destroy after the join): when the metrics textfile
	 * was last written (monotonic ms, 0: not yet), the path it was
	 * written to (owned, NULL: none yet), and whether the last write
	 * failed (PROBLEM_METRICS is set). */
	int64_t metrics_written_ms;
	char *metrics_path;
	bool metrics_failing;
};

/* The snapshot in force, for the writer thread (the only one that
 * replaces it) and for create, start and destroy. */
static inline struct tapir_runtime *
wrt(struct tapir_engine *e)
{
	return atomic_load_explicit(&e->rt, memory_order_relaxed);
}

/* The writer's configuration; NULL when inactive. */
static inline const struct tapir_config *
wcfg(struct tapir_engine *e)
{
	struct tapir_runtime *rt = wrt(e);

	return rt ? rt->cfg : NULL;
}

/* A worker's view: the snapshot in force, valid until
 * tapir__eng_rt_exit(); NULL (and no section) when inactive. Nothing
 * inside may wait for the writer. */
static inline struct tapir_runtime *
tapir__eng_rt_enter(struct tapir_engine *e, tapir_epoch_token *tok)
{
	if (!e->db)
		return NULL;
	*tok = tapir_db_read_begin(e->db);
	return atomic_load_explicit(&e->rt, memory_order_acquire);
}

static inline void
tapir__eng_rt_exit(struct tapir_engine *e, tapir_epoch_token tok)
{
	tapir_db_read_end(e->db, tok);
}

static inline void
count(struct tapir_engine *e, enum tapir_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&e->counters[c], n, memory_order_relaxed);
}

/* The purges one change of a source asks for: past PURGE_BATCH_MAX names,
 * one purge of everything instead (tapir__eng_purges_end()). */
struct purges {
	size_t n;
};

struct stale {
	uint16_t src;
	uint32_t generation;
	size_t n, cap;
	struct {
		char name[TAPIR_NAME_BUFSIZE];
		uint8_t flags;
	} * v;
};

/* engine.c */
struct tapir_runtime *tapir__eng_rt_get(struct tapir_engine *e);
void tapir__eng_rt_swap(struct tapir_engine *e, struct tapir_runtime *rt);
void tapir__eng_log_reject(struct tapir_engine *e, enum tapir_counter c,
	const char *fmt, ...) TAPIR_PRINTF(3, 4);
bool tapir__eng_problem_set(struct tapir_engine *e, enum problem p,
	const char *fmt, ...) TAPIR_PRINTF(3, 4);
bool tapir__eng_problem_clear(struct tapir_engine *e, enum problem p);
bool tapir__eng_problem_is_set(struct tapir_engine *e, enum problem p);
void tapir__eng_load_keys(struct tapir_engine *e);
int tapir__eng_add_override_sources(struct tapir_config *cfg, int idx[2]);

/* engine_ingest.c */
void *tapir__eng_writer_main(void *arg);
void tapir__eng_on_mqtt_message(
	void *arg, int src, const char *topic, const void *payload, size_t len);
void tapir__eng_on_mqtt_state(void *arg, bool connected, const char *reason);
void tapir__eng_run_on_writer(struct tapir_engine *e,
	void (*fn)(struct tapir_engine *, void *), void *arg);
int tapir__eng_run_on_writer_within(struct tapir_engine *e,
	void (*fn)(struct tapir_engine *, void *), void *arg, int timeout_ms);

/* engine_control.c */
void tapir__eng_on_control(void *arg, const char *line,
	const struct tapir_control_peer *peer, struct tapir_buf *out);

/* engine_purge.c */
void tapir__eng_rare_note(struct tapir_engine *e, const char *name, size_t len);
void tapir__eng_purge_decided(struct tapir_engine *e, const char *name,
	bool subtree, enum tapir_action a);
enum tapir_action tapir__eng_decide_now(
	struct tapir_engine *e, const char *name, int64_t now);
void tapir__eng_purge_if_blocked(
	struct tapir_engine *e, const char *name, bool subtree, int64_t now);
void tapir__eng_purges_add(struct tapir_engine *e, struct purges *p,
	const char *name, bool subtree);
void tapir__eng_purges_end(struct tapir_engine *e, const struct purges *p);
int tapir__eng_remove_entry(struct tapir_engine *e, int src, const char *name,
	uint8_t flags, struct purges *p);
size_t tapir__eng_purge_policy_change(struct tapir_engine *e,
	const struct tapir_runtime *old, const struct tapir_runtime *cur);

/* engine_state.c */
/* What one serials file says, applied only once all of it checked out. */
struct tapir__serials {
	bool have[TAPIR_MAX_SOURCES], seen[TAPIR_MAX_SOURCES];
	uint32_t serial[TAPIR_MAX_SOURCES];
	int64_t expires_at[TAPIR_MAX_SOURCES];
	uint32_t generation[TAPIR_MAX_SOURCES];
	struct tapir_rrcount *rrs[TAPIR_MAX_SOURCES]; /* owned */
};
/* Parse a serials file (read from f) for the xfr sources of cfg into s,
 * which starts zeroed; nothing else is touched. @return: false, with the
 * reason in why, when it cannot be believed (s then holds a part: clear
 * it). */
bool tapir__serials_read(const struct tapir_config *cfg, FILE *f,
	int64_t created, struct tapir__serials *s, char *why, size_t size);
/* Free what s owns and zero it. */
void tapir__serials_clear(struct tapir__serials *s);
void tapir__eng_state_dir_check(struct tapir_engine *e);
void tapir__eng_state_save(struct tapir_engine *e);
void tapir__eng_state_load(struct tapir_engine *e);
void tapir__eng_remove_temps(const char *path);
bool tapir__eng_journaled(struct tapir_engine *e, int src);
void tapir__eng_journal_append(struct tapir_engine *e, int built);
void tapir__eng_journal_tick(struct tapir_engine *e);
void tapir__eng_journal_close(struct tapir_engine *e);

/* engine_files.c */
int tapir__eng_find_stale(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n);
void tapir__eng_files_check(struct tapir_engine *e, bool force);

/* engine_core_status.c */
void tapir__eng_core_status_send(struct tapir_engine *e);
extern int tapir__eng_report_delay_ms;

/* engine_xfr.c */
void *tapir__eng_xfr_main(void *arg);

/* engine_overrides.c */
/* How overrides.json is read (json_load_file(), json_loadb()). */
#define TAPIR__OVERRIDES_JSON_FLAGS JSON_REJECT_DUPLICATES
/* One override of overrides.json, valid during the callback only. */
struct tapir__override_rec {
	const char *name; /* canonical (lib/name.h) */
	bool allow;	  /* else deny */
	json_int_t expires;
	/* expires is negative or past what an entry holds: to refuse. */
	bool out_of_range;
	const char *comment; /* NULL when missing or not a string */
};
/* @return: 0 when the override was taken. */
typedef int (*tapir__override_fn)(
	void *arg, const struct tapir__override_rec *r);
/* Hands each well-formed override of overrides.json's root to fn; skips
 * the rest. A pure function of root (tests/fuzz/fuzz_overrides.c).
 * @return: how many fn took. */
int tapir__overrides_parse(
	const json_t *root, tapir__override_fn fn, void *arg);
void tapir__eng_overrides_load(struct tapir_engine *e);
void tapir__eng_cmd_override(struct tapir_engine *e, const char *args,
	bool json, struct tapir_buf *out);

/* engine_metrics.c */
void tapir__eng_metrics(struct tapir_engine *e, const struct tapir_runtime *rt,
	struct tapir_buf *out);
void tapir__eng_metrics_publish(struct tapir_engine *e);
void tapir__eng_metrics_tick(struct tapir_engine *e);
void tapir__eng_metrics_remove(struct tapir_engine *e);

/* engine_export.c: list and dump-rpz send their answers in pieces
 * (tapir_buf_flush()) and write their JSON, errors included, themselves. */
extern size_t tapir__eng_export_names; /* names per read section */
extern size_t tapir__eng_digest_bytes; /* memory of a digest pass */
void tapir__eng_cmd_dump_rpz(struct tapir_engine *e,
	const struct tapir_runtime *rt, const char *zone_arg, bool json,
	struct tapir_buf *out);
void tapir__eng_cmd_digest(struct tapir_engine *e,
	const struct tapir_runtime *rt, bool json, struct tapir_buf *out);
void tapir__eng_cmd_list(struct tapir_engine *e, const struct tapir_runtime *rt,
	const char *args, bool json, struct tapir_buf *out);

#endif
