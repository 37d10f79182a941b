/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine. The queue between libmosquitto's thread and the writer is a
 * mutex-protected list bounded by limits.queue-length: a flood is dropped
 * and counted at the door instead of growing memory. The writer verifies
 * each message's signature over the exact bytes received before parsing
 * anything inside it, then applies the whole message and commits, so a
 * reader sees each message's changes after at most one grace period.
 */
#include "tapir_build.h"

#include <jansson.h>
#include <mosquitto.h>
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
#include "lib/listfile.h"
#include "lib/state.h"
#include "lib/xfr.h"

/* Bits of the filter of names answered with a type that a flush by name
 * leaves in Unbound's caches (rare_note()): 1 MiB. */
#define RARE_BITS ((size_t)1 << 23)

#define ANSWER_SLOTS	      64
#define EXPIRE_SLOTS_PER_PASS 65536
#define KEYS_RETRY_MS	      30000
/* A state directory that cannot be written is probed again this often. */
#define STATE_DIR_RETRY_MS    30000
#define LOG_INTERVAL_MS	      10000
#define STATE_SAVE_MS	      60000
#define STATE_FILE	      "tapir-pop.state"
/* A file load that changes more names than this flushes Unbound's whole
 * cache once instead of name by name. */
#define PURGE_BATCH_MAX	      1000
#define FILE_ERRORS_LOGGED    5

static const char *const counter_names[TAPIR_C_COUNT] = {
	[TAPIR_C_MSG_RECEIVED] = "msg.received",
	[TAPIR_C_MSG_ACCEPTED] = "msg.accepted",
	[TAPIR_C_REJ_TOO_BIG] = "msg.rejected.too_big",
	[TAPIR_C_REJ_QUEUE_FULL] = "msg.rejected.queue_full",
	[TAPIR_C_REJ_NO_SOURCE] = "msg.rejected.no_source",
	[TAPIR_C_REJ_NO_KEYS] = "msg.rejected.no_keys",
	[TAPIR_C_REJ_UNSIGNED] = "msg.rejected.unsigned",
	[TAPIR_C_REJ_MALFORMED_JWS] = "msg.rejected.malformed_jws",
	[TAPIR_C_REJ_BAD_ALG] = "msg.rejected.bad_alg",
	[TAPIR_C_REJ_UNKNOWN_KEY] = "msg.rejected.unknown_key",
	[TAPIR_C_REJ_BAD_SIGNATURE] = "msg.rejected.bad_signature",
	[TAPIR_C_REJ_MALFORMED_MSG] = "msg.rejected.malformed_msg",
	[TAPIR_C_REJ_MSG_TYPE] = "msg.rejected.msg_type",
	[TAPIR_C_REJ_WRONG_SOURCE] = "msg.rejected.wrong_source",
	[TAPIR_C_REJ_WRONG_LIST] = "msg.rejected.wrong_list",
	[TAPIR_C_ENTRY_ADDED] = "entry.added",
	[TAPIR_C_ENTRY_REMOVED] = "entry.removed",
	[TAPIR_C_ENTRY_ALREADY_EXPIRED] = "entry.already_expired",
	[TAPIR_C_ENTRY_INVALID] = "entry.invalid",
	[TAPIR_C_ENTRY_DB_FULL] = "entry.db_full",
	[TAPIR_C_ENTRY_EXPIRED] = "entry.expired",
	[TAPIR_C_MQTT_CONNECTS] = "mqtt.connects",
	[TAPIR_C_MQTT_DISCONNECTS] = "mqtt.disconnects",
	[TAPIR_C_FILE_LOADS] = "file.loads",
	[TAPIR_C_FILE_FAILURES] = "file.failures",
	[TAPIR_C_FILE_BAD_LINES] = "file.bad_lines",
	[TAPIR_C_STATE_SAVES] = "state.saves",
	[TAPIR_C_STATE_LOADED] = "state.loaded",
	[TAPIR_C_STATE_FAILURES] = "state.failures",
	[TAPIR_C_XFR_FAILURES] = "xfr.failures",
	[TAPIR_C_STATUS_SENT] = "core_status.sent",
	[TAPIR_C_DECISION_CHANGES] = "decision.changes",
};

const char *
tapir_counter_str(enum tapir_counter c)
{
	return c < TAPIR_C_COUNT ? counter_names[c] : "unknown";
}

struct tapir_engine;

struct qmsg {
	struct qmsg *next;
	/* A job for the writer thread (control commands that change the
	 * database) instead of a message: run, then done set under qlock. */
	void (*job)(struct tapir_engine *e, void *arg);
	void *job_arg;
	bool *job_done;
	size_t len;
	char *topic; /* points into data, after the payload */
	char data[];
};

/* What the writer knows of a file source; text covered by slock. */
struct file_state {
	bool loaded;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int64_t next_check_ms;
	uint32_t generation; /* the `added` stamp of the last load */
	size_t names, bad_lines;
	int64_t loaded_at;
	char error[200]; /* last failure, "" after a good load */
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

/* What the transfer thread knows of an xfr source. Covered by slock for
 * the status command; the serial is the writer's once applied. */
struct xfr_state {
	bool have_serial;
	uint32_t serial;
	struct tapir_xfr_soa soa;
	int64_t next_ms;   /* next SOA check or transfer */
	int64_t expire_ms; /* data dropped without a success by then */
	int64_t last_ok;   /* wall time of the last good transfer */
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
	PROBLEM_MQTT,
	PROBLEM_CORE_STATUS,
	PROBLEM_CONTROL,
	PROBLEM_THREADS,
	PROBLEM_COUNT,
};

/* Answer counters, one cache line per worker thread. */
#define WOULD_BLOCK   TAPIR_ACTION_COUNT /* log-only: counted, not done */
/* Then one counter per rule that decided a blocked answer: built-in rules
 * and named rules (TAPIR_RULE_NAMED + i). */
#define RULE_BASE     (TAPIR_ACTION_COUNT + 1)
#define SLOT_COUNTERS (RULE_BASE + TAPIR_RULE_NAMED + TAPIR_MAX_RULES)

struct answer_slot {
	_Atomic uint64_t n[SLOT_COUNTERS];
	char pad[64 - (SLOT_COUNTERS * 8) % 64];
};

/* Feed counters per source (writer increments, readers sum). */
struct source_counters {
	_Atomic uint64_t accepted, rejected, added, removed;
	_Atomic int64_t last_msg; /* wall time of the last accepted one */
};

struct tapir_engine {
	char *config_path;
	char config_error[256];
	struct tapir_config *cfg;
	_Atomic(struct tapir_policy *) policy;
	/* Replaced by reload; kept until destroy (readers may hold them). */
	struct tapir_policy *old_policies[16];
	struct tapir_config *old_cfgs[16];
	size_t n_old;
	struct tapir_db *db;
	struct tapir_mqtt *mqtt;
	struct tapir_control *control;
	struct tapir_purger *purger;
	char *purge_endpoint;
	int purge_port;
	int64_t (*now)(void);
	int64_t started;
	char host_info[256];

	/* Workers set, the writer reads: see rare_note(). */
	uint64_t rare_seed;
	_Atomic uint64_t rare[RARE_BITS / 64];

	/* Writer-owned. */
	struct tapir_signer *status_signer; /* core-status reports */
	int64_t status_sent_ms;
	struct tapir_keyring *keys;
	int64_t keys_tried_ms;
	int64_t last_log_ms[TAPIR_C_COUNT];
	uint64_t suppressed[TAPIR_C_COUNT];

	/* Queue: covered by qlock. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	pthread_cond_t jcond; /* a job finished */
	struct qmsg *qhead, *qtail;
	size_t qlen;
	bool stop;
	char mqtt_state[160];
	bool mqtt_connected;

	pthread_t writer;
	bool writer_running;

	/* Local overrides: writer-owned (changed by jobs), listed by the
	 * control thread while the writer waits for nothing of it. */
	struct override *overrides;
	size_t n_overrides, cap_overrides;
	int src_override_allow, src_override_deny;
	size_t n_config_sources;

	/* Zone transfers: a thread of their own, so that a large transfer
	 * never holds up the writer; changes reach the writer as jobs. */
	struct xfr_state xfrs[TAPIR_MAX_SOURCES];
	pthread_t xfr_thread;
	bool xfr_running;
	pthread_mutex_t xlock; /* with xcond: wakes the thread to stop */
	pthread_cond_t xcond;
	bool xfr_stop;
	bool writer_ready; /* covered by qlock: the initial loads are done */

	/* Writer-owned; the status command reads them under slock. */
	pthread_mutex_t slock;
	char problems[PROBLEM_COUNT][320]; /* "" when fine; slock */
	int64_t state_dir_tried_ms;	   /* writer */
	struct file_state files[TAPIR_MAX_SOURCES];
	char *state_path;
	bool state_dirty;
	int64_t state_saved_ms;
	int64_t state_saved_at;

	_Atomic uint64_t counters[TAPIR_C_COUNT];
	struct source_counters per_source[TAPIR_MAX_SOURCES];
	struct answer_slot answers[ANSWER_SLOTS];

	/* Database figures the writer publishes after each batch, for
	 * readers of status (the database's own fields are writer-only). */
	_Atomic size_t db_names, db_entries, db_bytes;
	_Atomic size_t n_keys;
};

static inline struct tapir_policy *
cur_policy(struct tapir_engine *e)
{
	return atomic_load_explicit(&e->policy, memory_order_acquire);
}

static void
count(struct tapir_engine *e, enum tapir_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&e->counters[c], n, memory_order_relaxed);
}

uint64_t
tapir_engine_counter(struct tapir_engine *e, enum tapir_counter c)
{
	return atomic_load_explicit(&e->counters[c], memory_order_relaxed);
}

/* One log line per reason per interval: a feed that repeats an error must
 * not flood Unbound's log. Writer thread only. */
static void log_reject(struct tapir_engine *e, enum tapir_counter c,
	const char *fmt, ...) TAPIR_PRINTF(3, 4);

static void
log_reject(struct tapir_engine *e, enum tapir_counter c, const char *fmt, ...)
{
	int64_t now = tapir_monotonic_ms();
	char text[256];
	va_list ap;

	if (e->last_log_ms[c] && now - e->last_log_ms[c] < LOG_INTERVAL_MS) {
		e->suppressed[c]++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (e->suppressed[c])
		tapir_log(TAPIR_LOG_WARN,
			"%s: %s (%llu more since last report)",
			counter_names[c], text,
			(unsigned long long)e->suppressed[c]);
	else
		tapir_log(TAPIR_LOG_WARN, "%s: %s", counter_names[c], text);
	e->last_log_ms[c] = now;
	e->suppressed[c] = 0;
}

static bool problem_set(struct tapir_engine *e, enum problem p, const char *fmt,
	...) TAPIR_PRINTF(3, 4);

/* Any thread but one holding slock. Returns whether the text changed, so
 * that a retry that meets the same problem logs nothing new. */
static bool
problem_set(struct tapir_engine *e, enum problem p, const char *fmt, ...)
{
	char text[sizeof(e->problems[0])];
	bool changed;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&e->slock);
	changed = strcmp(e->problems[p], text) != 0;
	memcpy(e->problems[p], text, sizeof(text));
	pthread_mutex_unlock(&e->slock);
	return changed;
}

/* Returns whether there was one. */
static bool
problem_clear(struct tapir_engine *e, enum problem p)
{
	bool was;

	pthread_mutex_lock(&e->slock);
	was = e->problems[p][0] != '\0';
	e->problems[p][0] = '\0';
	pthread_mutex_unlock(&e->slock);
	return was;
}

static bool
problem_is_set(struct tapir_engine *e, enum problem p)
{
	bool set;

	pthread_mutex_lock(&e->slock);
	set = e->problems[p][0] != '\0';
	pthread_mutex_unlock(&e->slock);
	return set;
}

/* A problem with a file the module reads: "cannot read PATH: reason" when
 * reading failed (the loaders' text then starts with the path), else
 * "PATH: what is wrong inside". */
static bool
file_problem(struct tapir_engine *e, enum problem p, const char *what,
	const char *path, const char *text)
{
	size_t n = strlen(path);

	if (!strncmp(text, path, n) && text[n] == ':')
		return problem_set(e, p, "%s: cannot read %s", what, text);
	return problem_set(e, p, "%s: %s: %s", what, path, text);
}

/*
 * Whether the state directory takes new files, as the state file's and
 * overrides.json's atomic replace needs (a temporary file, then rename):
 * the reason in why when not. Run at load, as the user Unbound runs the
 * module as, so that a directory the package made for another user shows
 * in status at once instead of at the first save a minute later. An
 * unnamed O_TMPFILE leaves nothing behind; where the file system or a
 * security profile refuses it, a named file as the save makes decides.
 */
static bool
state_dir_writable(const char *dir, char *why, size_t size)
{
	char tmp[4096];
	struct stat st;
	int fd;

	if (stat(dir, &st) != 0) {
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "%s: not a directory", dir);
		return false;
	}
#ifdef O_TMPFILE
	if ((fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)) >= 0) {
		close(fd);
		return true;
	}
#endif
	snprintf(tmp, sizeof(tmp), "%s/.tapir-pop-probe.XXXXXX", dir);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return false;
	}
	close(fd);
	unlink(tmp);
	return true;
}

/* Probe the state directory and set or clear its problem. */
static void
state_dir_check(struct tapir_engine *e)
{
	char why[300];

	if (!e->cfg->state_dir)
		return;
	e->state_dir_tried_ms = tapir_monotonic_ms();
	if (state_dir_writable(e->cfg->state_dir, why, sizeof(why))) {
		if (problem_clear(e, PROBLEM_STATE_DIR))
			tapir_log(TAPIR_LOG_INFO, "state-dir: %s is writable",
				e->cfg->state_dir);
		return;
	}
	if (problem_set(e, PROBLEM_STATE_DIR, "state-dir: %s", why))
		tapir_log(TAPIR_LOG_ERR,
			"state-dir: %s; decisions are not kept across a "
			"reload or restart until this process can write "
			"there (tried again every %d s)",
			why, STATE_DIR_RETRY_MS / 1000);
}

static struct tapir_engine *
engine_alloc(void)
{
	struct tapir_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	pthread_mutex_init(&e->qlock, NULL);
	pthread_cond_init(&e->qcond, NULL);
	pthread_cond_init(&e->jcond, NULL);
	pthread_mutex_init(&e->slock, NULL);
	pthread_mutex_init(&e->xlock, NULL);
	pthread_cond_init(&e->xcond, NULL);
	e->now = tapir_now;
	e->started = tapir_now();
	/* Keyed: names come from queries, and an outsider must not aim at
	 * a bit (sodium_init() is idempotent and thread-safe). */
	if (sodium_init() >= 0)
		randombytes_buf(&e->rare_seed, sizeof(e->rare_seed));
	else
		e->rare_seed = (uint64_t)(uintptr_t)e ^ (uint64_t)tapir_now();
	snprintf(e->mqtt_state, sizeof(e->mqtt_state), "not started");
	return e;
}

static void
load_keys(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	struct tapir_keyring *kr;

	e->keys_tried_ms = tapir_monotonic_ms();
	if (!(kr = tapir_keyring_load_file(e->cfg->keys_file, &err))) {
		/* A retry that meets the same error has said it already. */
		if (!file_problem(e, PROBLEM_KEYS, "keys", e->cfg->keys_file,
			    err.text))
			return;
		if (e->keys)
			tapir_log(TAPIR_LOG_ERR,
				"keys %s: %s; keeping the %zu key(s) loaded "
				"before",
				e->cfg->keys_file, err.text,
				tapir_keyring_count(e->keys));
		else
			tapir_log(TAPIR_LOG_ERR,
				"keys %s: %s; every message is rejected until "
				"it loads (tried again every %d s)",
				e->cfg->keys_file, err.text,
				KEYS_RETRY_MS / 1000);
		return;
	}
	problem_clear(e, PROBLEM_KEYS);
	tapir_keyring_destroy(e->keys);
	e->keys = kr;
	atomic_store(&e->n_keys, tapir_keyring_count(kr));
	tapir_log(TAPIR_LOG_INFO, "loaded %zu trusted key(s) from %s",
		tapir_keyring_count(kr), e->cfg->keys_file);
}

/* Append the override sources to cfg (taken by the engine). */
static int
add_override_sources(struct tapir_engine *e, struct tapir_config *cfg)
{
	static const struct {
		const char *name;
		enum tapir_list list;
	} ov[2] = { { "override-allow", TAPIR_LIST_ALLOW },
		{ "override-deny", TAPIR_LIST_DENY } };

	e->src_override_allow = e->src_override_deny = -1;
	if (cfg->n_sources + 2 > TAPIR_MAX_SOURCES ||
		tapir_config_source_index(cfg, ov[0].name) >= 0 ||
		tapir_config_source_index(cfg, ov[1].name) >= 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct tapir_source_config *sc = &cfg->sources[cfg->n_sources];
		memset(sc, 0, sizeof(*sc));
		snprintf(sc->name, sizeof(sc->name), "%s", ov[i].name);
		sc->type = (enum tapir_source_type)SOURCE_OVERRIDE;
		sc->list = ov[i].list;
		*(i ? &e->src_override_deny : &e->src_override_allow) =
			(int)cfg->n_sources++;
	}
	return 0;
}

static int
engine_setup(struct tapir_engine *e)
{
	struct tapir_policy *pol;

	e->n_config_sources = e->cfg->n_sources;
	if (add_override_sources(e, e->cfg) != 0)
		tapir_log(TAPIR_LOG_WARN,
			"no room for the override sources (64 sources, or a "
			"source named override-allow/-deny): overrides are off");
	if (!(pol = tapir_policy_create(e->cfg)))
		return TAPIR_ENOMEM;
	atomic_init(&e->policy, pol);
	if (!(e->db = tapir_db_create(e->cfg->limits.max_entries)))
		return TAPIR_ENOMEM;
	if (e->cfg->state_dir) {
		size_t n = strlen(e->cfg->state_dir) + sizeof(STATE_FILE) + 2;
		if (!(e->state_path = malloc(n)))
			return TAPIR_ENOMEM;
		snprintf(e->state_path, n, "%s/%s", e->cfg->state_dir,
			STATE_FILE);
	}
	load_keys(e);
	state_dir_check(e);
	if (e->cfg->core_status.topic) {
		struct tapir_error err = { 0 };
		if (!(e->status_signer = tapir_signer_load_file(
			      e->cfg->core_status.key_file, &err))) {
			file_problem(e, PROBLEM_CORE_STATUS,
				"core-status: signing-key",
				e->cfg->core_status.key_file, err.text);
			tapir_log(TAPIR_LOG_ERR,
				"core-status: %s; no reports are sent",
				err.text);
		}
	}
	return 0;
}

struct tapir_engine *
tapir_engine_create_take(struct tapir_config *cfg)
{
	struct tapir_engine *e = engine_alloc();

	if (!e) {
		tapir_config_destroy(cfg);
		return NULL;
	}
	e->cfg = cfg;
	if (engine_setup(e) != 0) {
		tapir_engine_destroy(e);
		return NULL;
	}
	return e;
}

struct tapir_engine *
tapir_engine_create(const char *path)
{
	struct tapir_engine *e = engine_alloc();
	struct tapir_error err = { 0 };

	if (!e)
		return NULL;
	if (!(e->config_path = strdup(path))) {
		tapir_engine_destroy(e);
		return NULL;
	}
	if (!(e->cfg = tapir_config_load(path, &err))) {
		snprintf(e->config_error, sizeof(e->config_error), "%s",
			err.text);
		tapir_log(TAPIR_LOG_ERR,
			"configuration not loaded, every query passes: %s",
			err.text);
		return e;
	}
	if (engine_setup(e) != 0) {
		tapir_engine_destroy(e);
		return NULL;
	}
	return e;
}

bool
tapir_engine_active(const struct tapir_engine *e)
{
	return e->cfg != NULL;
}

const struct tapir_config *
tapir_engine_config(const struct tapir_engine *e)
{
	return e->cfg;
}

void
tapir_engine_set_clock(struct tapir_engine *e, int64_t (*now)(void))
{
	e->now = now ? now : tapir_now;
}

void
tapir_engine_set_purge_endpoint(
	struct tapir_engine *e, const char *endpoint, int port)
{
	free(e->purge_endpoint);
	e->purge_endpoint = endpoint ? strdup(endpoint) : NULL;
	e->purge_port = port;
}

void
tapir_engine_set_host_info(struct tapir_engine *e, const char *info)
{
	snprintf(e->host_info, sizeof(e->host_info), "%s", info);
}

static int
source_for_topic(const struct tapir_config *cfg, const char *topic)
{
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *s = &cfg->sources[i];
		if (s->type != TAPIR_SOURCE_MQTT)
			continue;
		for (size_t t = 0; t < s->n_topics; t++) {
			bool match = false;
			if (mosquitto_topic_matches_sub(s->topics[t], topic,
				    &match) == MOSQ_ERR_SUCCESS &&
				match)
				return (int)i;
		}
	}
	return -1;
}

static enum tapir_counter
jws_counter(int rc)
{
	switch (rc) {
	case TAPIR_EUNSIGNED:
		return TAPIR_C_REJ_UNSIGNED;
	case TAPIR_EALG:
		return TAPIR_C_REJ_BAD_ALG;
	case TAPIR_ENOKEY:
		return TAPIR_C_REJ_UNKNOWN_KEY;
	case TAPIR_ESIG:
		return TAPIR_C_REJ_BAD_SIGNATURE;
	case TAPIR_ETOOBIG:
		return TAPIR_C_REJ_TOO_BIG;
	default:
		return TAPIR_C_REJ_MALFORMED_JWS;
	}
}

/*
 * Names that had an answer of a type Unbound's "flush NAME" does not
 * remove (TXT, CAA, DNSKEY, ANY, ...; tapir_purge_by_name_covers()): one
 * bit each, by a keyed hash, set by the worker that lets such a query
 * pass, before it decides. Every message Unbound caches comes from a
 * query that passed a module, this one first (operate(), and the chain
 * check after the iterator for the names a CNAME or DNAME chain brings
 * in). A name whose bit is clear can then be flushed by key, without the
 * cache walk of flush_zone; a bit set by another name costs a walk, as
 * every flush did before. Bits are never cleared: with serve-expired an
 * answer can stay in the cache for ever.
 *
 * Order: a worker sets the bit (a full barrier) before it reads the
 * database, and the writer changes the database before a full fence and
 * reads the bit; so a query that still passed under the old entries is
 * always seen by the writer that changed them.
 */
static size_t
rare_bit(const struct tapir_engine *e, const char *name, size_t len)
{
	return (size_t)XXH3_64bits_withSeed(name, len, e->rare_seed) &
	       (RARE_BITS - 1);
}

static void
rare_note(struct tapir_engine *e, const char *name, size_t len)
{
	size_t b = rare_bit(e, name, len);
	uint64_t m = UINT64_C(1) << (b & 63);

	/* Read first: after the first query for a name, no shared write. */
	if (!(atomic_load_explicit(&e->rare[b >> 6], memory_order_relaxed) & m))
		atomic_fetch_or(&e->rare[b >> 6], m);
}

static bool
rare_seen(struct tapir_engine *e, const char *name)
{
	size_t b = rare_bit(e, name, strlen(name));

	atomic_thread_fence(memory_order_seq_cst);
	return (atomic_load_explicit(&e->rare[b >> 6], memory_order_relaxed) >>
		       (b & 63)) &
	       1;
}

/* The new entry is visible to every worker from here on; answers cached
 * before it are not: ask Unbound to drop them when the name now blocks.
 * A subtree, or a name with an answer a flush by name would leave, needs
 * the walk of flush_zone; any other name is flushed by key. */
static void
purge_decided(struct tapir_engine *e, const char *name, bool subtree,
	enum tapir_action a)
{
	if (!e->purger || (!subtree && a <= TAPIR_ACTION_PASSTHRU))
		return;
	if (subtree || rare_seen(e, name))
		(void)tapir_purger_push(e->purger, name);
	else
		(void)tapir_purger_push_name(e->purger, name);
}

static enum tapir_action
decide_now(struct tapir_engine *e, const char *name, int64_t now)
{
	return tapir_decide(
		cur_policy(e), e->db, name, strlen(name), now, NULL);
}

static void
purge_if_blocked(
	struct tapir_engine *e, const char *name, bool subtree, int64_t now)
{
	if (e->purger)
		purge_decided(e, name, subtree, decide_now(e, name, now));
}

/* The purges one change of a source asks for: past PURGE_BATCH_MAX names,
 * one purge of everything instead (purges_end()). */
struct purges {
	size_t n;
};

static void
purges_add(struct tapir_engine *e, struct purges *p, const char *name,
	bool subtree)
{
	if (e->purger && p->n++ < PURGE_BATCH_MAX)
		purge_if_blocked(e, name, subtree, e->now());
}

static void
purges_end(struct tapir_engine *e, const struct purges *p)
{
	if (e->purger && p->n > PURGE_BATCH_MAX)
		(void)tapir_purger_push(e->purger, "");
}

/* Remove a source's entry. Taking a name off a denylist or doubtlist can
 * only unblock it, but taking it off an allowlist can block it (a subtree
 * entry: names under it) while its allowed answer sits in the cache, so
 * that removal is purged like an added block.
 * @return: 0 when an entry was removed. */
static int
remove_entry(struct tapir_engine *e, int src, const char *name, uint8_t flags,
	struct purges *p)
{
	if (tapir_db_remove(e->db, name, strlen(name), (uint16_t)src, flags) !=
		0)
		return -1;
	if (e->cfg->sources[src].list == TAPIR_LIST_ALLOW)
		purges_add(e, p, name, (flags & TAPIR_ENTRY_SUBTREE) != 0);
	return 0;
}

/* Feeds whose decisions persist: the broker does not re-send them. */
static bool
want_persisted(void *arg, uint16_t source)
{
	const struct tapir_config *cfg = arg;

	/* Zone data goes with its serial: an IXFR after a reload asks only
	 * for what changed since. */
	return source < cfg->n_sources &&
	       (cfg->sources[source].type == TAPIR_SOURCE_MQTT ||
		       cfg->sources[source].type == TAPIR_SOURCE_XFR);
}

/* One "name serial" line per xfr source that has one. */
static int
serials_fill(void *arg, int fd, struct tapir_error *err)
{
	struct tapir_engine *e = arg;
	FILE *f;
	int dfd;

	(void)err;
	/* On a duplicate: fclose() must leave fd to the caller. */
	if ((dfd = dup(fd)) < 0)
		return errno;
	if (!(f = fdopen(dfd, "w"))) {
		int saved = errno;
		close(dfd);
		return saved;
	}
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < e->cfg->n_sources; i++)
		if (e->cfg->sources[i].type == TAPIR_SOURCE_XFR &&
			e->xfrs[i].have_serial)
			fprintf(f, "%s %u\n", e->cfg->sources[i].name,
				e->xfrs[i].serial);
	pthread_mutex_unlock(&e->slock);
	if (ferror(f)) {
		fclose(f);
		return EIO;
	}
	if (fclose(f) != 0)
		return errno ? errno : EIO;
	return 0;
}

/* xfr serials beside the state file, written right after it: the
 * entries of a zone and the serial they are at travel together. */
static void
serials_save(struct tapir_engine *e)
{
	char path[4096 + 16];

	snprintf(path, sizeof(path), "%s.serials", e->state_path);
	/* Silently: without the file the next start asks for a full AXFR. */
	if (tapir_fileio_write_atomic(path, serials_fill, e, NULL) != 0)
		return;
}

static void
serials_load(struct tapir_engine *e)
{
	char path[4096 + 16], name[TAPIR_SOURCE_NAME_MAX + 1];
	unsigned serial;
	FILE *f;

	snprintf(path, sizeof(path), "%s.serials", e->state_path);
	if (!(f = fopen(path, "r")))
		return;
	while (fscanf(f, "%64s %u", name, &serial) == 2) {
		int i = tapir_config_source_index(e->cfg, name);
		if (i < 0 || e->cfg->sources[i].type != TAPIR_SOURCE_XFR)
			continue;
		pthread_mutex_lock(&e->slock);
		e->xfrs[i].have_serial = true;
		e->xfrs[i].serial = serial;
		pthread_mutex_unlock(&e->slock);
	}
	fclose(f);
}

static void
state_save(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	size_t saved = 0;

	if (!e->state_path)
		return;
	if (tapir_state_save(e->db, e->cfg, e->state_path, e->now(),
		    want_persisted, e->cfg, &saved, &err) != 0) {
		char why[300];
		count(e, TAPIR_C_STATE_FAILURES, 1);
		log_reject(e, TAPIR_C_STATE_FAILURES, "saving %s: %s",
			e->state_path, err.text);
		/* The directory's own reason when it is the directory. */
		if (!state_dir_writable(e->cfg->state_dir, why, sizeof(why)))
			problem_set(e, PROBLEM_STATE_DIR, "state-dir: %s", why);
		else
			problem_set(e, PROBLEM_STATE_DIR,
				"state-dir: saving %s: %s", e->state_path,
				err.text);
		e->state_dir_tried_ms = tapir_monotonic_ms();
		return;
	}
	problem_clear(e, PROBLEM_STATE_DIR);
	count(e, TAPIR_C_STATE_SAVES, 1);
	serials_save(e);
	e->state_dirty = false;
	e->state_saved_ms = tapir_monotonic_ms();
	pthread_mutex_lock(&e->slock);
	e->state_saved_at = tapir_now();
	pthread_mutex_unlock(&e->slock);
	tapir_log(TAPIR_LOG_DEBUG, "state: saved %zu entries to %s", saved,
		e->state_path);
}

static void
state_load(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	size_t loaded = 0, expired = 0, other = 0;
	int rc;

	if (!e->state_path)
		return;
	rc = tapir_state_load(e->db, e->cfg, e->state_path, e->now(), &loaded,
		&expired, &other, &err);
	if (rc == TAPIR_ENOENT) {
		tapir_log(TAPIR_LOG_INFO, "state: no %s yet", e->state_path);
		return;
	}
	if (rc != 0) {
		/* Corrupt or unreadable: start without it, never fail. */
		count(e, TAPIR_C_STATE_FAILURES, 1);
		tapir_log(TAPIR_LOG_ERR, "state: ignoring %s: %s",
			e->state_path, err.text);
		return;
	}
	count(e, TAPIR_C_STATE_LOADED, loaded);
	serials_load(e);
	tapir_log(TAPIR_LOG_INFO,
		"state: %zu entries from %s (%zu expired, %zu of sources no "
		"longer configured)",
		loaded, e->state_path, expired, other);
}

struct file_load {
	struct tapir_engine *e;
	int src;
	uint32_t generation;
	size_t names, logged;
	size_t n_purge;
	bool purge_all;
	char (*purge)[TAPIR_NAME_BUFSIZE];
};

static int
file_record(void *arg, const struct tapir_file_record *r)
{
	struct file_load *fl = arg;
	struct tapir_engine *e = fl->e;
	const struct tapir_source_config *sc = &e->cfg->sources[fl->src];
	uint8_t flags = r->subtree ? TAPIR_ENTRY_SUBTREE : 0;
	struct tapir_entry ent = {
		.expiry = TAPIR_EXPIRY_NEVER,
		.added = fl->generation,
		.source = (uint16_t)fl->src,
		.list = (uint8_t)sc->list,
	};
	const struct tapir_entry *old;
	bool known = false;
	tapir_epoch_token tok;
	size_t n;

	if (r->action != TAPIR_ACTION_PASS)
		flags |= (uint8_t)(r->action << TAPIR_ENTRY_ACTION_SHIFT);
	ent.flags = flags;
	tok = tapir_db_read_begin(e->db);
	if ((old = tapir_db_find(e->db, r->name, r->len, &n)))
		for (size_t i = 0; i < n && !known; i++)
			known = old[i].source == fl->src &&
				old[i].flags == flags;
	tapir_db_read_end(e->db, tok);
	if (tapir_db_set(e->db, r->name, r->len, &ent) != 0) {
		count(e, TAPIR_C_ENTRY_DB_FULL, 1);
		log_reject(e, TAPIR_C_ENTRY_DB_FULL, "source %s: %s", sc->name,
			r->name);
		return 0;
	}
	fl->names++;
	/* Only names new to this source can sit in the cache as allowed. */
	if (!known && fl->purge && !fl->purge_all) {
		if (fl->n_purge == PURGE_BATCH_MAX)
			fl->purge_all = true;
		else
			snprintf(fl->purge[fl->n_purge++], TAPIR_NAME_BUFSIZE,
				"%s", r->name);
	}
	return 0;
}

static void
file_error(void *arg, unsigned line, const char *reason)
{
	struct file_load *fl = arg;
	const struct tapir_source_config *sc = &fl->e->cfg->sources[fl->src];

	if (fl->logged++ < FILE_ERRORS_LOGGED)
		tapir_log(TAPIR_LOG_WARN, "source %s: %s:%u: %s (line skipped)",
			sc->name, sc->path, line, reason);
}

struct stale {
	uint16_t src;
	uint32_t generation;
	size_t n, cap;
	struct {
		char name[TAPIR_NAME_BUFSIZE];
		uint8_t flags;
	} * v;
};

static int
find_stale(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct stale *st = arg;

	for (size_t i = 0; i < n; i++) {
		if (e[i].source != st->src || e[i].added == st->generation)
			continue;
		if (st->n == st->cap) {
			size_t cap = st->cap ? st->cap * 2 : 256;
			void *v = realloc(st->v, cap * sizeof(*st->v));
			if (!v)
				return -1;
			st->v = v;
			st->cap = cap;
		}
		memcpy(st->v[st->n].name, name, len + 1);
		st->v[st->n].flags = e[i].flags;
		st->n++;
	}
	return 0;
}

/*
 * (Re)load a file source when it changed. The new lines are applied over
 * the old ones (a name in both files never passes through "absent"), then
 * entries the new file no longer has are removed. A file that cannot be
 * read keeps its last good data; a bad line is reported and skipped.
 */
static void
file_check(struct tapir_engine *e, int src, bool force)
{
	const struct tapir_source_config *sc = &e->cfg->sources[src];
	struct file_state *fs = &e->files[src];
	struct tapir_file_opts opts = {
		.format = (enum tapir_file_format)sc->format,
		.csv_column = sc->csv_column,
		.csv_header = sc->csv_header,
		.csv_delim = sc->csv_delim,
		.origin = sc->origin[0] ? sc->origin : NULL,
	};
	struct file_load fl = { .e = e, .src = src };
	struct tapir_file_stats st = { 0 };
	struct tapir_error err = { 0 };
	struct stale stale = { .src = (uint16_t)src };
	struct purges unallowed = { 0 };
	int64_t t0 = tapir_monotonic_ms();
	struct stat sb;
	int rc;

	if (!force && t0 < fs->next_check_ms)
		return;
	fs->next_check_ms = t0 + (int64_t)sc->refresh * 1000;
	if (stat(sc->path, &sb) != 0) {
		snprintf(err.text, sizeof(err.text), "%s: %s", sc->path,
			strerror(errno));
		goto failed;
	}
	if (fs->loaded && sb.st_dev == fs->dev && sb.st_ino == fs->ino &&
		sb.st_size == fs->size &&
		sb.st_mtim.tv_sec == fs->mtime.tv_sec &&
		sb.st_mtim.tv_nsec == fs->mtime.tv_nsec)
		return;
	/* A stamp that differs from every earlier load of this source. */
	fl.generation = (uint32_t)tapir_now();
	if (fl.generation <= fs->generation)
		fl.generation = fs->generation + 1;
	if (e->purger &&
		!(fl.purge = malloc(PURGE_BATCH_MAX * sizeof(*fl.purge))))
		fl.purge_all = true;
	rc = tapir_file_parse_path(sc->path, sc->max_size, &opts, file_record,
		file_error, &fl, &st, &err);
	if (rc != 0) {
		/* Nothing was read: the old entries all stay. Records
		 * already applied from a partial read are harmless (they
		 * were in the file) and go with the next good load. */
		free(fl.purge);
		goto failed;
	}
	stale.generation = fl.generation;
	if (tapir_db_walk(e->db, find_stale, &stale) == 0)
		for (size_t i = 0; i < stale.n; i++)
			(void)remove_entry(e, src, stale.v[i].name,
				stale.v[i].flags, &unallowed);
	tapir_db_commit(e->db);
	if (e->purger) {
		if (fl.purge_all) {
			(void)tapir_purger_push(e->purger, "");
		} else {
			for (size_t i = 0; i < fl.n_purge; i++)
				purge_if_blocked(
					e, fl.purge[i], true, e->now());
			purges_end(e, &unallowed);
		}
	}
	free(fl.purge);
	count(e, TAPIR_C_FILE_LOADS, 1);
	count(e, TAPIR_C_FILE_BAD_LINES, st.errors);
	pthread_mutex_lock(&e->slock);
	fs->loaded = true;
	fs->dev = sb.st_dev;
	fs->ino = sb.st_ino;
	fs->size = sb.st_size;
	fs->mtime = sb.st_mtim;
	fs->generation = fl.generation;
	fs->names = fl.names;
	fs->bad_lines = st.errors;
	fs->loaded_at = tapir_now();
	fs->error[0] = '\0';
	pthread_mutex_unlock(&e->slock);
	tapir_log(TAPIR_LOG_INFO,
		"source %s: %zu names from %s (%zu removed, %zu bad lines, %zu "
		"skipped) in %lld ms",
		sc->name, fl.names, sc->path, stale.n, st.errors, st.skipped,
		(long long)(tapir_monotonic_ms() - t0));
	free(stale.v);
	return;

failed:
	free(stale.v);
	count(e, TAPIR_C_FILE_FAILURES, 1);
	pthread_mutex_lock(&e->slock);
	snprintf(fs->error, sizeof(fs->error), "%s", err.text);
	pthread_mutex_unlock(&e->slock);
	log_reject(e, TAPIR_C_FILE_FAILURES,
		"source %s: %s; keeping its last good data", sc->name,
		err.text);
}

static void
log_xfr_failure(struct tapir_engine *e, const struct tapir_source_config *sc,
	const char *why)
{
	tapir_log(TAPIR_LOG_WARN,
		"source %s: transfer of %s from %s failed: %s; keeping its "
		"last good data",
		sc->name, sc->zone, sc->primary, why);
}

static void
files_check(struct tapir_engine *e, bool force)
{
	for (size_t i = 0; i < e->cfg->n_sources; i++)
		if (e->cfg->sources[i].type == TAPIR_SOURCE_FILE)
			file_check(e, (int)i, force);
}

static void
on_expired(void *arg, const char *name, size_t len)
{
	struct tapir_engine *e = arg;

	/* An expired allowlist entry can turn a name into a block. */
	(void)len;
	purge_if_blocked(e, name, false, e->now());
}

static void
apply(struct tapir_engine *e, int src, const struct tapir_msg *msg)
{
	int64_t now = e->now();
	enum tapir_action before;
	struct purges unallowed = { 0 };

	for (size_t i = 0; i < msg->n_added; i++) {
		const struct tapir_msg_entry *m = &msg->added[i];
		int64_t expiry = m->time_added + m->ttl;
		struct tapir_entry ent = {
			.added = m->time_added < 0 ? 0
				 : m->time_added > UINT32_MAX
					 ? UINT32_MAX
					 : (uint32_t)m->time_added,
			.tags = m->tag_mask,
			.source = (uint16_t)src,
			.list = (uint8_t)msg->list,
			.flags = m->wildcard ? TAPIR_ENTRY_SUBTREE : 0,
		};
		int rc;
		if (expiry <= now) {
			count(e, TAPIR_C_ENTRY_ALREADY_EXPIRED, 1);
			log_reject(e, TAPIR_C_ENTRY_ALREADY_EXPIRED,
				"%s expired %llds ago", m->name,
				(long long)(now - expiry));
			continue;
		}
		/* Time as 32-bit seconds lasts to 2106; an expiry beyond
		 * is as good as never. */
		ent.expiry = expiry >= TAPIR_EXPIRY_NEVER
				     ? TAPIR_EXPIRY_NEVER - 1
				     : (uint32_t)expiry;
		before = decide_now(e, m->name, now);
		rc = tapir_db_set(e->db, m->name, strlen(m->name), &ent);
		if (rc == 0) {
			/* One decision after the change: counted and purged. */
			enum tapir_action after = decide_now(e, m->name, now);
			count(e, TAPIR_C_ENTRY_ADDED, 1);
			atomic_fetch_add(&e->per_source[src].added, 1);
			if (after != before)
				count(e, TAPIR_C_DECISION_CHANGES, 1);
			purge_decided(e, m->name, m->wildcard, after);
		} else {
			count(e, TAPIR_C_ENTRY_DB_FULL, 1);
			log_reject(e, TAPIR_C_ENTRY_DB_FULL, "%s: %s", m->name,
				tapir_strerror(rc));
		}
	}
	for (size_t i = 0; i < msg->n_removed; i++) {
		const struct tapir_msg_entry *m = &msg->removed[i];
		before = decide_now(e, m->name, now);
		if (remove_entry(e, src, m->name,
			    m->wildcard ? TAPIR_ENTRY_SUBTREE : 0,
			    &unallowed) == 0) {
			count(e, TAPIR_C_ENTRY_REMOVED, 1);
			atomic_fetch_add(&e->per_source[src].removed, 1);
			if (decide_now(e, m->name, now) != before)
				count(e, TAPIR_C_DECISION_CHANGES, 1);
		}
	}
	purges_end(e, &unallowed);
	if (msg->n_invalid) {
		count(e, TAPIR_C_ENTRY_INVALID, msg->n_invalid);
		log_reject(e, TAPIR_C_ENTRY_INVALID, "%zu entries dropped: %s",
			msg->n_invalid, msg->first_invalid);
	}
}

static int
process_msg(struct tapir_engine *e, const char *topic, const void *payload,
	size_t len, int *src_out)
{
	const struct tapir_config *cfg = e->cfg;
	struct tapir_error err = { 0 };
	struct tapir_msg msg;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	char kid[128] = "";
	int src, rc;

	if (!cfg)
		return TAPIR_ECONFIG;
	if ((src = *src_out = source_for_topic(cfg, topic)) < 0) {
		count(e, TAPIR_C_REJ_NO_SOURCE, 1);
		log_reject(e, TAPIR_C_REJ_NO_SOURCE,
			"no source subscribes to topic %s", topic);
		return TAPIR_ESOURCE;
	}
	if (!e->keys &&
		tapir_monotonic_ms() - e->keys_tried_ms >= KEYS_RETRY_MS)
		load_keys(e);
	if (!e->keys) {
		count(e, TAPIR_C_REJ_NO_KEYS, 1);
		log_reject(e, TAPIR_C_REJ_NO_KEYS, "no trusted keys loaded");
		return TAPIR_ENOKEY;
	}
	rc = tapir_jws_verify(
		e->keys, payload, len, &plain, &plain_len, kid, &err);
	if (rc != 0) {
		enum tapir_counter c = jws_counter(rc);
		count(e, c, 1);
		log_reject(e, c, "source %s, topic %s, kid '%s': %s",
			cfg->sources[src].name, topic, kid, err.text);
		return rc;
	}
	rc = tapir_msg_parse((const char *)plain, plain_len, &msg, &err);
	free(plain);
	if (rc != 0) {
		enum tapir_counter c =
			rc == TAPIR_EMSGTYPE ? TAPIR_C_REJ_MSG_TYPE
			: rc == TAPIR_ELIST  ? TAPIR_C_REJ_WRONG_LIST
					     : TAPIR_C_REJ_MALFORMED_MSG;
		count(e, c, 1);
		log_reject(e, c, "source %s, kid %s: %s",
			cfg->sources[src].name, kid, err.text);
		return rc;
	}
	if (strcmp(msg.src_name, cfg->sources[src].name) != 0) {
		count(e, TAPIR_C_REJ_WRONG_SOURCE, 1);
		log_reject(e, TAPIR_C_REJ_WRONG_SOURCE,
			"message for source '%s' on topic %s of source %s",
			msg.src_name, topic, cfg->sources[src].name);
		tapir_msg_clear(&msg);
		return TAPIR_ESOURCE;
	}
	/* A source feeds one list: a doubtlist feed cannot allowlist. */
	if (msg.list != cfg->sources[src].list) {
		count(e, TAPIR_C_REJ_WRONG_LIST, 1);
		log_reject(e, TAPIR_C_REJ_WRONG_LIST,
			"source %s feeds the %s, message is for the %s",
			cfg->sources[src].name,
			tapir_list_str(cfg->sources[src].list),
			tapir_list_str(msg.list));
		tapir_msg_clear(&msg);
		return TAPIR_ELIST;
	}
	apply(e, src, &msg);
	tapir_msg_clear(&msg);
	e->state_dirty = true;
	count(e, TAPIR_C_MSG_ACCEPTED, 1);
	return 0;
}

int
tapir_engine_process(struct tapir_engine *e, const char *topic,
	const void *payload, size_t len)
{
	int src = -1, rc = process_msg(e, topic, payload, len, &src);

	if (src >= 0 && src < TAPIR_MAX_SOURCES) {
		struct source_counters *sc = &e->per_source[src];
		if (rc == 0) {
			atomic_fetch_add(&sc->accepted, 1);
			atomic_store(&sc->last_msg, tapir_now());
		} else {
			atomic_fetch_add(&sc->rejected, 1);
		}
	}
	return rc;
}

static void
publish_db_stats(struct tapir_engine *e)
{
	struct tapir_db_stats st;

	tapir_db_stats(e->db, &st);
	atomic_store(&e->db_names, st.names);
	atomic_store(&e->db_entries, st.entries);
	atomic_store(&e->db_bytes, st.bytes);
}

/* ---- health reports to the DNS TAPIR core ------------------------------ */

static void
rfc3339(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	/* Go's zero time for "never", as upstream's encoder writes it. */
	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		snprintf(out, 32, "0001-01-01T00:00:00Z");
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One component in upstream's TapirComponentStatus shape: Status 0 fail,
 * 1 warn, 2 ok. */
static void
component(json_t *map, const char *name, bool ok, const char *error,
	const char *msg, uint64_t fails, int64_t last_ok)
{
	char fail_t[32], ok_t[32], zero[32];

	rfc3339(ok ? tapir_now() : last_ok, ok_t);
	rfc3339(ok ? 0 : tapir_now(), fail_t);
	rfc3339(0, zero);
	json_object_set_new(map, name,
		json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:i, s:s, s:s, s:s}",
			"Component", name, "Status", ok ? 2 : 0, "ErrorMsg",
			error ? error : "", "WarningMsg", "", "Msg",
			msg ? msg : "", "NumFails", (json_int_t)fails,
			"NumWarnings", 0, "LastFail", fail_t, "LastWarn", zero,
			"LastSuccess", ok_t));
}

/*
 * A signed report in upstream's TapirFunctionStatus shape: the state of
 * the MQTT link, the keys, each source and the policy database, as
 * counts. Nothing about queries: no names, no clients, no answers.
 */
static void
core_status_send(struct tapir_engine *e)
{
	const struct tapir_config *cfg = e->cfg;
	json_t *root, *comps;
	char msg[256], *payload, *jws = NULL;
	size_t jws_len = 0;
	int failures = 0;
	bool up;

	if (!(comps = json_object()))
		return;
	pthread_mutex_lock(&e->qlock);
	up = e->mqtt_connected;
	snprintf(msg, sizeof(msg), "%s", e->mqtt_state);
	pthread_mutex_unlock(&e->qlock);
	component(comps, "mqtt", up, up ? NULL : msg, msg,
		tapir_engine_counter(e, TAPIR_C_MQTT_DISCONNECTS), 0);
	failures += !up;
	snprintf(msg, sizeof(msg), "%zu trusted keys", atomic_load(&e->n_keys));
	component(comps, "keys", atomic_load(&e->n_keys) > 0,
		atomic_load(&e->n_keys) ? NULL : "no trusted keys", msg,
		tapir_engine_counter(e, TAPIR_C_REJ_NO_KEYS), 0);
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < e->n_config_sources; i++) {
		const struct tapir_source_config *sc = &cfg->sources[i];
		const char *err = NULL;
		char name[TAPIR_SOURCE_NAME_MAX + 8];
		uint64_t fails = 0;
		int64_t last = 0;
		if (sc->type == TAPIR_SOURCE_FILE) {
			err = e->files[i].error[0] ? e->files[i].error : NULL;
			last = e->files[i].loaded_at;
			snprintf(msg, sizeof(msg), "%zu names",
				e->files[i].names);
		} else if (sc->type == TAPIR_SOURCE_XFR) {
			err = e->xfrs[i].error[0] ? e->xfrs[i].error : NULL;
			fails = e->xfrs[i].failures;
			last = e->xfrs[i].last_ok;
			snprintf(msg, sizeof(msg), "serial %u, %zu names",
				e->xfrs[i].serial, e->xfrs[i].names);
		} else {
			snprintf(msg, sizeof(msg), "%s", "mqtt");
		}
		snprintf(name, sizeof(name), "source:%s", sc->name);
		component(comps, name, !err, err, msg, fails, last);
		failures += err != NULL;
	}
	pthread_mutex_unlock(&e->slock);
	snprintf(msg, sizeof(msg),
		"names=%zu entries=%zu accepted=%llu rejected=%llu",
		atomic_load(&e->db_names), atomic_load(&e->db_entries),
		(unsigned long long)tapir_engine_counter(
			e, TAPIR_C_MSG_ACCEPTED),
		(unsigned long long)(tapir_engine_counter(
					     e, TAPIR_C_MSG_RECEIVED) -
				     tapir_engine_counter(
					     e, TAPIR_C_MSG_ACCEPTED)));
	component(comps, "policy", true, NULL, msg, 0, 0);
	root = json_pack("{s:s, s:s, s:o, s:i, s:s}", "Function", "tapir-pop",
		"FunctionID", cfg->mqtt.client_id ? cfg->mqtt.client_id : "",
		"ComponentStatus", comps, "NumFailures", failures,
		"LastFailure", "0001-01-01T00:00:00Z");
	if (!root)
		return;
	payload = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!payload)
		return;
	if (tapir_jws_sign(e->status_signer, (const uint8_t *)payload,
		    strlen(payload), false, &jws, &jws_len) == 0 &&
		tapir_mqtt_publish(
			e->mqtt, cfg->core_status.topic, jws, jws_len) == 0) {
		/* Not connected: tried again at the next writer tick. */
		e->status_sent_ms = tapir_monotonic_ms();
		count(e, TAPIR_C_STATUS_SENT, 1);
	}
	free(jws);
	free(payload);
}

static void overrides_load(struct tapir_engine *e);

static void *
writer_main(void *arg)
{
	struct tapir_engine *e = arg;
	int64_t last_expire = 0;

	tapir_thread_background("tapir-writer");

	/* Before the first message: what the last load knew, and the files.
	 * Unbound answers meanwhile (passing what is not loaded yet). */
	state_load(e);
	overrides_load(e);
	files_check(e, true);
	tapir_db_commit(e->db);
	publish_db_stats(e);
	pthread_mutex_lock(&e->qlock);
	e->writer_ready = true;
	pthread_cond_broadcast(&e->jcond);
	pthread_mutex_unlock(&e->qlock);
	e->state_saved_ms = tapir_monotonic_ms();

	for (;;) {
		struct qmsg *batch;
		struct timespec ts;

		pthread_mutex_lock(&e->qlock);
		if (!e->qhead && !e->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&e->qcond, &e->qlock, &ts);
		}
		if (e->stop) {
			pthread_mutex_unlock(&e->qlock);
			break;
		}
		batch = e->qhead;
		e->qhead = e->qtail = NULL;
		e->qlen = 0;
		pthread_mutex_unlock(&e->qlock);

		while (batch) {
			struct qmsg *next = batch->next;
			if (batch->job) {
				batch->job(e, batch->job_arg);
				tapir_db_commit(e->db);
				publish_db_stats(e);
				pthread_mutex_lock(&e->qlock);
				*batch->job_done = true;
				pthread_cond_broadcast(&e->jcond);
				pthread_mutex_unlock(&e->qlock);
			} else {
				(void)tapir_engine_process(e, batch->topic,
					batch->data, batch->len);
			}
			free(batch);
			batch = next;
		}
		if (tapir_monotonic_ms() - last_expire >= 1000) {
			size_t n = tapir_db_expire(e->db, e->now(),
				EXPIRE_SLOTS_PER_PASS, on_expired, e);
			count(e, TAPIR_C_ENTRY_EXPIRED, n);
			last_expire = tapir_monotonic_ms();
			files_check(e, false);
		}
		if (e->state_dirty &&
			tapir_monotonic_ms() - e->state_saved_ms >=
				STATE_SAVE_MS)
			state_save(e);
		/* What an operator fixes shows in status within one retry
		 * interval, whether or not messages arrive meanwhile. */
		if (tapir_monotonic_ms() - e->keys_tried_ms >= KEYS_RETRY_MS &&
			problem_is_set(e, PROBLEM_KEYS))
			load_keys(e);
		if (tapir_monotonic_ms() - e->state_dir_tried_ms >=
				STATE_DIR_RETRY_MS &&
			problem_is_set(e, PROBLEM_STATE_DIR))
			state_dir_check(e);
		if (e->status_signer && e->mqtt &&
			tapir_monotonic_ms() - e->status_sent_ms >=
				(int64_t)e->cfg->core_status.interval * 1000)
			core_status_send(e);
		tapir_db_commit(e->db);
		publish_db_stats(e);
	}
	return NULL;
}

/* Append to the writer's queue and wake it; qlock held. */
static void
enqueue_locked(struct tapir_engine *e, struct qmsg *q)
{
	if (e->qtail)
		e->qtail->next = q;
	else
		e->qhead = q;
	e->qtail = q;
	e->qlen++;
	pthread_cond_signal(&e->qcond);
}

int
tapir_engine_submit(struct tapir_engine *e, const char *topic,
	const void *payload, size_t len)
{
	size_t tlen = strlen(topic);
	struct qmsg *q;

	/* An inactive engine has no limits and no writer to queue for. */
	if (!e->cfg)
		return TAPIR_ECONFIG;
	count(e, TAPIR_C_MSG_RECEIVED, 1);
	if (len > e->cfg->limits.max_message_size) {
		count(e, TAPIR_C_REJ_TOO_BIG, 1);
		return TAPIR_ETOOBIG;
	}
	if (!(q = malloc(sizeof(*q) + len + tlen + 2)))
		return TAPIR_ENOMEM;
	memset(q, 0, sizeof(*q));
	q->len = len;
	memcpy(q->data, payload, len);
	q->data[len] = '\0';
	q->topic = q->data + len + 1;
	memcpy(q->topic, topic, tlen + 1);

	pthread_mutex_lock(&e->qlock);
	if (e->qlen >= e->cfg->limits.queue_length) {
		pthread_mutex_unlock(&e->qlock);
		free(q);
		count(e, TAPIR_C_REJ_QUEUE_FULL, 1);
		return TAPIR_EFULL;
	}
	enqueue_locked(e, q);
	pthread_mutex_unlock(&e->qlock);
	return 0;
}

static void
on_mqtt_message(void *arg, const char *topic, const void *payload, size_t len)
{
	(void)tapir_engine_submit(arg, topic, payload, len);
}

static void
on_mqtt_state(void *arg, bool connected, const char *reason)
{
	struct tapir_engine *e = arg;
	bool was;

	pthread_mutex_lock(&e->qlock);
	was = e->mqtt_connected;
	e->mqtt_connected = connected;
	snprintf(e->mqtt_state, sizeof(e->mqtt_state), "%s", reason);
	pthread_mutex_unlock(&e->qlock);
	if (connected) {
		count(e, TAPIR_C_MQTT_CONNECTS, 1);
		tapir_log(TAPIR_LOG_INFO, "mqtt: %s to %s:%d", reason,
			e->cfg->mqtt.host, e->cfg->mqtt.port);
	} else if (was) {
		count(e, TAPIR_C_MQTT_DISCONNECTS, 1);
		tapir_log(TAPIR_LOG_WARN, "mqtt: %s", reason);
	}
}

static void
on_control(void *arg, const char *line, struct tapir_buf *out)
{
	tapir_engine_command(arg, line, out);
}

/* ---- zone transfers --------------------------------------------------- */

static void run_on_writer(struct tapir_engine *e,
	void (*fn)(struct tapir_engine *, void *), void *arg);

struct xfr_change {
	bool add, subtree;
	uint8_t action;
	char name[TAPIR_NAME_BUFSIZE];
};

struct xfr_job {
	int src;
	bool full, expired;
	uint32_t serial;
	struct xfr_change *v;
	size_t n, cap;
	size_t names; /* out: entries of the source after applying */
};

static int
xfr_begin(void *arg, bool full, uint32_t from, uint32_t to)
{
	struct xfr_job *j = arg;

	/* An IXFR answered AXFR-style restarts the changeset whole. */
	if (full) {
		j->full = true;
		j->n = 0;
	}
	return 0;
}

static int
xfr_record(void *arg, bool add, const struct tapir_file_record *r)
{
	struct xfr_job *j = arg;
	struct xfr_change *c;

	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 1024;
		struct xfr_change *v = realloc(j->v, cap * sizeof(*v));
		if (!v)
			return TAPIR_ENOMEM;
		j->v = v;
		j->cap = cap;
	}
	c = &j->v[j->n++];
	c->add = add;
	c->subtree = r->subtree;
	c->action = (uint8_t)r->action;
	memcpy(c->name, r->name, r->len + 1);
	return 0;
}

static int
xfr_end(void *arg, const struct tapir_xfr_soa *soa)
{
	((struct xfr_job *)arg)->serial = soa->serial;
	return 0;
}

static int
count_source(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n)
{
	struct stale *st = arg;

	for (size_t i = 0; i < n; i++)
		st->n += e[i].source == st->src;
	return 0;
}

/* Writer: apply a verified transfer. A full one replaces the source's
 * entries (new ones over old, then the stale ones go); an incremental one
 * applies deletions and additions in order. */
static void
xfr_apply(struct tapir_engine *e, void *arg)
{
	struct xfr_job *j = arg;
	const struct tapir_source_config *sc = &e->cfg->sources[j->src];
	struct stale stale = { .src = (uint16_t)j->src };
	uint32_t gen = (uint32_t)tapir_now();
	struct purges purges = { 0 };

	if (j->expired) {
		/* An allowlist zone gone: any name it allowed may block. */
		if (tapir_db_remove_source(e->db, (uint16_t)j->src) > 0 &&
			sc->list == TAPIR_LIST_ALLOW && e->purger)
			(void)tapir_purger_push(e->purger, "");
		j->names = 0;
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		const struct xfr_change *c = &j->v[i];
		uint8_t flags = c->subtree ? TAPIR_ENTRY_SUBTREE : 0;
		size_t len = strlen(c->name);
		struct tapir_entry ent = { .expiry = TAPIR_EXPIRY_NEVER,
			.added = gen,
			.source = (uint16_t)j->src,
			.list = (uint8_t)sc->list };
		if (c->action != TAPIR_ACTION_PASS)
			flags |= (uint8_t)(c->action
					   << TAPIR_ENTRY_ACTION_SHIFT);
		ent.flags = flags;
		if (!c->add) {
			(void)remove_entry(e, j->src, c->name, flags, &purges);
			continue;
		}
		if (tapir_db_set(e->db, c->name, len, &ent) != 0) {
			count(e, TAPIR_C_ENTRY_DB_FULL, 1);
			continue;
		}
		purges_add(e, &purges, c->name, c->subtree);
	}
	if (j->full) {
		stale.generation = gen;
		if (tapir_db_walk(e->db, find_stale, &stale) == 0)
			for (size_t i = 0; i < stale.n; i++)
				(void)remove_entry(e, j->src, stale.v[i].name,
					stale.v[i].flags, &purges);
		free(stale.v);
	}
	purges_end(e, &purges);
	stale = (struct stale){ .src = (uint16_t)j->src };
	(void)tapir_db_walk(e->db, count_source, &stale);
	j->names = stale.n;
	pthread_mutex_lock(&e->slock);
	e->xfrs[j->src].have_serial = true;
	e->xfrs[j->src].serial = j->serial;
	pthread_mutex_unlock(&e->slock);
	e->state_dirty = true;
}

/* One SOA check, and a transfer when the serial moved; on the transfer
 * thread. @return: 0 or the failure. */
static int
xfr_once(struct tapir_engine *e, int src, struct tapir_error *err)
{
	const struct tapir_source_config *sc = &e->cfg->sources[src];
	struct xfr_state *xs = &e->xfrs[src];
	struct tapir_xfr_opts o = {
		.primary = sc->primary,
		.port = sc->port,
		.zone = sc->zone,
		.tsig_name = sc->tsig_name[0] ? sc->tsig_name : NULL,
		.tsig_alg = sc->tsig_alg,
		.tsig_secret = sc->tsig_secret,
		.timeout_ms = (int)sc->timeout * 1000,
	};
	static const struct tapir_xfr_ops ops = {
		.begin = xfr_begin,
		.record = xfr_record,
		.end = xfr_end,
	};
	struct xfr_job j = { .src = src };
	struct tapir_xfr_soa soa;
	bool have;
	uint32_t serial;
	int rc;

	pthread_mutex_lock(&e->slock);
	have = xs->have_serial;
	serial = xs->serial;
	pthread_mutex_unlock(&e->slock);
	rc = tapir_xfr_fetch(&o, have, serial, &ops, &j, &soa, err);
	if (rc == TAPIR_EEXIST) {
		xs->soa = soa;
		rc = 0;
	} else if (rc == 0) {
		xs->soa = soa;
		run_on_writer(e, xfr_apply, &j);
		pthread_mutex_lock(&e->slock);
		xs->names = j.names;
		xs->transfers++;
		pthread_mutex_unlock(&e->slock);
		tapir_log(TAPIR_LOG_INFO,
			"source %s: %s of %s to serial %u: %zu changes, %zu "
			"names",
			sc->name, j.full ? "AXFR" : "IXFR", sc->zone, j.serial,
			j.n, j.names);
	}
	free(j.v);
	return rc;
}

static void
xfr_schedule(struct tapir_engine *e, size_t i, bool ok, const char *why)
{
	const struct tapir_config *cfg = e->cfg;
	struct xfr_state *xs = &e->xfrs[i];
	int64_t now = tapir_monotonic_ms();
	uint32_t r;

	if (ok) {
		/* SOA timers, bounded so that a zone is always checked
		 * again within a day and never hammered. */
		r = xs->soa.refresh;
		r = r < 5 ? 5 : r > 86400 ? 86400 : r;
		xs->next_ms = now + (int64_t)r * 1000;
		xs->expire_ms = now + (int64_t)(xs->soa.expire ? xs->soa.expire
							       : 604800) *
					      1000;
		pthread_mutex_lock(&e->slock);
		xs->last_ok = tapir_now();
		xs->error[0] = '\0';
		pthread_mutex_unlock(&e->slock);
		return;
	}
	r = xs->soa.retry;
	r = r < 2 ? 10 : r > 3600 ? 3600 : r;
	xs->next_ms = now + (int64_t)r * 1000;
	pthread_mutex_lock(&e->slock);
	xs->failures++;
	snprintf(xs->error, sizeof(xs->error), "%s", why);
	pthread_mutex_unlock(&e->slock);
	count(e, TAPIR_C_XFR_FAILURES, 1);
	log_xfr_failure(e, &cfg->sources[i], why);
	/* RFC 1996 expire: a zone not refreshed for this long is no longer
	 * trusted, and its entries go. */
	if (xs->expire_ms && now > xs->expire_ms) {
		struct xfr_job j = { .src = (int)i, .expired = true };
		run_on_writer(e, xfr_apply, &j);
		xs->expire_ms = 0;
		pthread_mutex_lock(&e->slock);
		xs->have_serial = false;
		xs->names = 0;
		pthread_mutex_unlock(&e->slock);
		tapir_log(TAPIR_LOG_ERR,
			"source %s: zone expired, its entries are dropped",
			cfg->sources[i].name);
	}
}

static void *
xfr_main(void *arg)
{
	struct tapir_engine *e = arg;
	const struct tapir_config *cfg = e->cfg;

	tapir_thread_background("tapir-xfr");

	/* The state file may hold the zones and their serials: transfer
	 * only once the writer has read it, so that a reload asks for an
	 * IXFR rather than the whole zone again. */
	pthread_mutex_lock(&e->qlock);
	while (!e->writer_ready && !e->stop)
		pthread_cond_wait(&e->jcond, &e->qlock);
	pthread_mutex_unlock(&e->qlock);

	for (;;) {
		int64_t now = tapir_monotonic_ms(), wait = 60000;
		struct timespec ts;

		for (size_t i = 0; i < cfg->n_sources; i++) {
			struct xfr_state *xs = &e->xfrs[i];
			struct tapir_error err = { 0 };
			if (cfg->sources[i].type != TAPIR_SOURCE_XFR)
				continue;
			if (xs->next_ms <= now)
				xfr_schedule(e, i,
					xfr_once(e, (int)i, &err) == 0,
					err.text);
			if (xs->next_ms - now < wait)
				wait = xs->next_ms - now;
		}
		if (wait < 100)
			wait = 100;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&e->xlock);
		if (!e->xfr_stop)
			pthread_cond_timedwait(&e->xcond, &e->xlock, &ts);
		if (e->xfr_stop) {
			pthread_mutex_unlock(&e->xlock);
			break;
		}
		pthread_mutex_unlock(&e->xlock);
	}
	return NULL;
}

/*
 * The MQTT consumer could not be set up: nothing will ever connect, so it
 * is a problem, not a state to retry. libmosquitto says only "invalid
 * arguments" for a TLS file it cannot open: name the file and why.
 */
static void
mqtt_failed(struct tapir_engine *e, const char *why)
{
	const struct tapir_config *cfg = e->cfg;
	const char *files[3] = { cfg->mqtt.ca_file, cfg->mqtt.cert_file,
		cfg->mqtt.key_file };
	const char *names[3] = { "ca-file", "cert-file", "key-file" };
	char text[sizeof(e->problems[0])];
	int fd;

	if (!strncmp(why, "mqtt: ", 6))
		why = why + 6;
	snprintf(text, sizeof(text), "%s", why);
	for (int i = 0; cfg->mqtt.tls && i < 3; i++) {
		if (!files[i])
			continue;
		if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(text, sizeof(text), "%s: cannot read %s: %s",
				names[i], files[i], strerror(errno));
			break;
		}
		close(fd);
	}
	tapir_log(TAPIR_LOG_ERR, "mqtt: %s; the module does not connect", text);
	problem_set(e, PROBLEM_MQTT, "mqtt: %s", text);
	pthread_mutex_lock(&e->qlock);
	/* Its line in status is shorter; the problem line has it all. */
	snprintf(e->mqtt_state, sizeof(e->mqtt_state), "not started: %.100s",
		text);
	pthread_mutex_unlock(&e->qlock);
}

/* control.owner and control.group: who may use the socket, with mode
 * 0660 its group's members. Names or numbers. The module runs as the user
 * Unbound dropped privileges to: it can give the socket only to itself
 * and to one of that user's groups, and says so in status otherwise. */
static void
set_socket_owner(struct tapir_engine *e, const char *path, const char *owner,
	const char *group)
{
	char buf[4096], *end;
	unsigned long uid = (unsigned long)-1, gid = (unsigned long)-1;

	if (owner) {
		struct passwd pw, *res = NULL;
		uid = strtoul(owner, &end, 10);
		if (*end != '\0' || end == owner) {
			if (getpwnam_r(owner, &pw, buf, sizeof(buf), &res) !=
					0 ||
				!res) {
				tapir_log(TAPIR_LOG_ERR, "control: no user %s",
					owner);
				problem_set(e, PROBLEM_CONTROL,
					"control: owner %s: no such user",
					owner);
				return;
			}
			uid = res->pw_uid;
		}
	}
	if (group) {
		struct group gr, *res = NULL;
		gid = strtoul(group, &end, 10);
		if (*end != '\0' || end == group) {
			if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) !=
					0 ||
				!res) {
				tapir_log(TAPIR_LOG_ERR, "control: no group %s",
					group);
				problem_set(e, PROBLEM_CONTROL,
					"control: group %s: no such group",
					group);
				return;
			}
			gid = res->gr_gid;
		}
	}
	if (chown(path, (uid_t)uid, (gid_t)gid) != 0) {
		int err = errno;
		tapir_log(TAPIR_LOG_ERR,
			"control: chown %s to %s:%s: %s (this process runs as "
			"uid %u gid %u)",
			path, owner ? owner : "-", group ? group : "-",
			strerror(err), (unsigned)geteuid(),
			(unsigned)getegid());
		problem_set(e, PROBLEM_CONTROL,
			"control: chown %s to %s:%s: %s (the module runs as "
			"uid %u gid %u: control.owner can only be that user, "
			"control.group only one of its groups)",
			path, owner ? owner : "-", group ? group : "-",
			strerror(err), (unsigned)geteuid(),
			(unsigned)getegid());
	}
}

/*
 * An inactive engine's only service: the socket's path is in the file
 * that did not load, so status is served on the compiled-in path that
 * tapir-pop-control asks by default ($TAPIR_POP_SOCKET first), mode 0660
 * for the group Unbound runs as. Never fails the load.
 */
static void
start_inactive_control(struct tapir_engine *e)
{
	const char *path = tapir_control_default_socket();
	struct tapir_error err = { 0 };

	if (!(e->control = tapir_control_create(
		      path, 0660, on_control, e, &err))) {
		tapir_log(TAPIR_LOG_WARN,
			"%s; tapir-pop-control status cannot tell why this "
			"module is inactive",
			err.text);
		return;
	}
	tapir_log(TAPIR_LOG_INFO,
		"control: inactive; tapir-pop-control status answers on %s",
		path);
}

int
tapir_engine_start(struct tapir_engine *e)
{
	const struct tapir_config *cfg = e->cfg;
	struct tapir_error err = { 0 };
	bool has_mqtt = false;

	if (!cfg) {
		start_inactive_control(e);
		return 0;
	}
	/* Before the writer: it pushes names from its first load on. */
	if (e->purge_endpoint) {
		e->purger = tapir_purger_create(e->purge_endpoint,
			e->purge_port, cfg->limits.queue_length);
		if (!e->purger)
			tapir_log(TAPIR_LOG_ERR, "purge: cannot start thread");
	}
	if (pthread_create(&e->writer, NULL, writer_main, e) != 0) {
		tapir_log(TAPIR_LOG_ERR, "cannot start the writer thread");
		problem_set(e, PROBLEM_THREADS,
			"threads: the writer did not start: nothing is applied");
		return TAPIR_ENOMEM;
	}
	e->writer_running = true;
	for (size_t i = 0; i < cfg->n_sources; i++)
		has_mqtt |= cfg->sources[i].type == TAPIR_SOURCE_MQTT;
	if (has_mqtt) {
		e->mqtt = tapir_mqtt_create(
			cfg, on_mqtt_message, on_mqtt_state, e, &err);
		if (!e->mqtt)
			mqtt_failed(e, err.text);
		else if (tapir_mqtt_start(e->mqtt) != 0)
			mqtt_failed(e, "cannot start its thread");
	}
	for (size_t i = 0; i < cfg->n_sources; i++) {
		if (cfg->sources[i].type != TAPIR_SOURCE_XFR || e->xfr_running)
			continue;
		if (pthread_create(&e->xfr_thread, NULL, xfr_main, e) == 0) {
			e->xfr_running = true;
		} else {
			tapir_log(TAPIR_LOG_ERR, "xfr: cannot start thread");
			problem_set(e, PROBLEM_THREADS,
				"threads: the zone transfer thread did not "
				"start: xfr sources are not updated");
		}
	}
	if (cfg->control.socket) {
		e->control = tapir_control_create(cfg->control.socket,
			cfg->control.mode, on_control, e, &err);
		if (!e->control)
			tapir_log(TAPIR_LOG_ERR, "control: %s", err.text);
		else if (cfg->control.group || cfg->control.owner)
			set_socket_owner(e, cfg->control.socket,
				cfg->control.owner, cfg->control.group);
	}
	return 0;
}

void
tapir_engine_destroy(struct tapir_engine *e)
{
	struct qmsg *q;

	if (!e)
		return;
	tapir_control_destroy(e->control);
	/* The transfer thread waits for the writer's jobs: it goes before
	 * the writer. A transfer in flight ends at its timeout. */
	if (e->xfr_running) {
		pthread_mutex_lock(&e->xlock);
		e->xfr_stop = true;
		pthread_cond_signal(&e->xcond);
		pthread_mutex_unlock(&e->xlock);
		pthread_join(e->xfr_thread, NULL);
	}
	/* The consumer goes first: after it is joined nothing submits. */
	tapir_mqtt_destroy(e->mqtt);
	if (e->writer_running) {
		pthread_mutex_lock(&e->qlock);
		e->stop = true;
		pthread_cond_signal(&e->qcond);
		pthread_mutex_unlock(&e->qlock);
		pthread_join(e->writer, NULL);
	}
	/* The writer is gone: save what the feed gave, for the next load
	 * (Unbound's reload unloads this module). */
	if (e->writer_running && e->state_dirty)
		state_save(e);
	/* Nothing pushes to the purger any more. */
	tapir_purger_destroy(e->purger);
	free(e->purge_endpoint);
	while ((q = e->qhead)) {
		e->qhead = q->next;
		free(q);
	}
	tapir_db_destroy(e->db);
	tapir_policy_destroy(atomic_load(&e->policy));
	for (size_t i = 0; i < e->n_old; i++) {
		tapir_policy_destroy(e->old_policies[i]);
		tapir_config_destroy(e->old_cfgs[i]);
	}
	tapir_keyring_destroy(e->keys);
	tapir_signer_destroy(e->status_signer);
	tapir_config_destroy(e->cfg);
	pthread_cond_destroy(&e->qcond);
	pthread_cond_destroy(&e->jcond);
	pthread_mutex_destroy(&e->qlock);
	pthread_mutex_destroy(&e->slock);
	pthread_mutex_destroy(&e->xlock);
	pthread_cond_destroy(&e->xcond);
	free(e->state_path);
	free(e->overrides);
	free(e->config_path);
	free(e);
}

enum tapir_action
tapir_engine_decide(struct tapir_engine *e, const char *name, size_t len,
	struct tapir_reason *why)
{
	if (!e->cfg) {
		if (why)
			memset(why, 0, sizeof(*why));
		return TAPIR_ACTION_PASS;
	}
	return tapir_decide(cur_policy(e), e->db, name, len, e->now(), why);
}

/* The canonical form of a name met in a query of type qtype, marked
 * first when that type is one a flush by name leaves in the cache
 * (rare_note(): before the database is read). @return: false for a name
 * that cannot match. */
static bool
query_name(struct tapir_engine *e, const uint8_t *wire, size_t maxlen,
	uint16_t qtype, char name[TAPIR_NAME_BUFSIZE], size_t *len)
{
	if (tapir_name_from_wire(wire, maxlen, name, len) != 0)
		return false;
	if (!tapir_purge_by_name_covers(qtype))
		rare_note(e, name, *len);
	return true;
}

enum tapir_action
tapir_engine_decide_wire(struct tapir_engine *e, const uint8_t *wire,
	size_t maxlen, uint16_t qtype, struct tapir_reason *why)
{
	char name[TAPIR_NAME_BUFSIZE];
	size_t len;

	if (!query_name(e, wire, maxlen, qtype, name, &len)) {
		if (why)
			memset(why, 0, sizeof(*why));
		return TAPIR_ACTION_PASS;
	}
	return tapir_engine_decide(e, name, len, why);
}

/* Each thread keeps its answer counters on a line of its own. */
static _Atomic unsigned next_answer_slot;
static __thread unsigned my_answer_slot_plus1;

static void
count_slot(struct tapir_engine *e, unsigned what)
{
	if (!my_answer_slot_plus1)
		my_answer_slot_plus1 =
			atomic_fetch_add(&next_answer_slot, 1) % ANSWER_SLOTS +
			1;
	atomic_fetch_add_explicit(&e->answers[my_answer_slot_plus1 - 1].n[what],
		1, memory_order_relaxed);
}

void
tapir_engine_count_answer(struct tapir_engine *e, enum tapir_action a)
{
	count_slot(e, a);
}

enum tapir_action
tapir_engine_query(struct tapir_engine *e, const uint8_t *wire, size_t maxlen,
	uint16_t qtype)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_verdict v;
	size_t len;

	if (!e->cfg || !query_name(e, wire, maxlen, qtype, name, &len)) {
		count_slot(e, TAPIR_ACTION_PASS);
		return TAPIR_ACTION_PASS;
	}
	tapir_decide_verdict(cur_policy(e), e->db, name, len, e->now(), &v);
	count_slot(e, v.action);
	if (v.action > TAPIR_ACTION_PASSTHRU && v.rule >= 0 &&
		v.rule < TAPIR_RULE_NAMED + TAPIR_MAX_RULES)
		count_slot(e, RULE_BASE + (unsigned)v.rule);
	if (v.would_action > TAPIR_ACTION_PASSTHRU)
		count_slot(e, WOULD_BLOCK);
	return v.action;
}

void
tapir_engine_purge_wire(
	struct tapir_engine *e, const uint8_t *wire, size_t maxlen)
{
	char name[TAPIR_NAME_BUFSIZE];

	if (e->purger && tapir_name_from_wire(wire, maxlen, name, NULL) == 0)
		(void)tapir_purger_push(e->purger, name);
}

int
tapir_engine_explain_short(struct tapir_engine *e, const uint8_t *wire,
	size_t maxlen, char *text, size_t size)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_reason why;
	uint64_t seen = 0;
	size_t len, at;
	int n;

	text[0] = '\0';
	if (!e->cfg || tapir_name_from_wire(wire, maxlen, name, &len) != 0)
		return 0;
	tapir_decide(cur_policy(e), e->db, name, len, e->now(), &why);
	if (why.action <= TAPIR_ACTION_PASSTHRU)
		return 0;
	n = snprintf(text, size, "tapir-pop: rule %s; sources",
		tapir_policy_rule_name(cur_policy(e), why.rule));
	at = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < why.n_matches && i < TAPIR_REASON_MAX; i++) {
		const struct tapir_match *m = &why.matches[i];
		uint16_t src = m->e.source;
		if (m->expired || src >= e->cfg->n_sources ||
			(seen & (UINT64_C(1) << src)) || at >= size)
			continue;
		seen |= UINT64_C(1) << src;
		n = snprintf(
			text + at, size - at, " %s", e->cfg->sources[src].name);
		at += n < 0 ? 0 : (size_t)n;
	}
	/* RFC 8914: 15 Blocked (a list said so), 17 Filtered (a rule). */
	return why.rule == TAPIR_RULE_DENYLIST ? 15 : 17;
}

size_t
tapir_engine_memory(struct tapir_engine *e)
{
	return sizeof(*e) + atomic_load(&e->db_bytes);
}

static uint64_t
take(_Atomic uint64_t *c, bool reset)
{
	return reset ? atomic_exchange(c, 0) : atomic_load(c);
}

static void
cmd_stats(struct tapir_engine *e, bool reset, struct tapir_buf *out)
{
	uint64_t answers[SLOT_COUNTERS] = { 0 };

	for (int c = 0; c < TAPIR_C_COUNT; c++)
		tapir_buf_printf(out, "%s=%llu\n", counter_names[c],
			(unsigned long long)take(&e->counters[c], reset));
	for (int s = 0; s < ANSWER_SLOTS; s++)
		for (int a = 0; a < SLOT_COUNTERS; a++)
			answers[a] += take(&e->answers[s].n[a], reset);
	for (int a = 0; a < TAPIR_ACTION_COUNT; a++) {
		char lower[16];
		const char *s = tapir_action_str(a);
		size_t i;
		for (i = 0; s[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32
								     : s[i]);
		lower[i] = '\0';
		tapir_buf_printf(out, "answer.%s=%llu\n", lower,
			(unsigned long long)answers[a]);
	}
	tapir_buf_printf(out, "answer.would_block=%llu\n",
		(unsigned long long)answers[WOULD_BLOCK]);
	for (int r = TAPIR_RULE_ALLOWLIST + 1;
		r < TAPIR_RULE_NAMED + TAPIR_MAX_RULES; r++) {
		if (r >= TAPIR_RULE_COUNT && r < TAPIR_RULE_NAMED)
			continue;
		if (r >= TAPIR_RULE_NAMED && (size_t)(r - TAPIR_RULE_NAMED) >=
						     e->cfg->policy.n_rules)
			break;
		tapir_buf_printf(out, "rule.%s=%llu\n",
			tapir_policy_rule_name(cur_policy(e), r),
			(unsigned long long)answers[RULE_BASE + r]);
	}
	for (size_t i = 0; i < e->cfg->n_sources; i++) {
		struct source_counters *sc = &e->per_source[i];
		const char *n = e->cfg->sources[i].name;
		tapir_buf_printf(out,
			"source.%s.accepted=%llu\nsource.%s.rejected=%llu\n"
			"source.%s.added=%llu\nsource.%s.removed=%llu\n",
			n, (unsigned long long)take(&sc->accepted, reset), n,
			(unsigned long long)take(&sc->rejected, reset), n,
			(unsigned long long)take(&sc->added, reset), n,
			(unsigned long long)take(&sc->removed, reset));
	}
	if (e->purger) {
		struct tapir_purger_stats ps;
		tapir_purger_stats(e->purger, &ps);
		tapir_buf_printf(out,
			"cache.purge.requested=%llu\ncache.purge.done=%llu\n"
			"cache.purge.failed=%llu\ncache.purge.dropped=%llu\n"
			"cache.purge.coalesced=%llu\ncache.purge.by-name=%llu\n",
			(unsigned long long)ps.requested,
			(unsigned long long)ps.done,
			(unsigned long long)ps.failed,
			(unsigned long long)ps.dropped,
			(unsigned long long)ps.coalesced,
			(unsigned long long)ps.by_name);
	}
	tapir_buf_printf(out, "db.names=%zu\ndb.entries=%zu\ndb.bytes=%zu\n",
		atomic_load(&e->db_names), atomic_load(&e->db_entries),
		atomic_load(&e->db_bytes));
}

static void
cmd_status(struct tapir_engine *e, struct tapir_buf *out)
{
	const struct tapir_config *cfg = e->cfg;

	tapir_buf_printf(out, "version: %s\n", PACKAGE_VERSION);
	tapir_buf_printf(
		out, "uptime: %lld\n", (long long)(tapir_now() - e->started));
	if (e->host_info[0])
		tapir_buf_printf(out, "host: %s\n", e->host_info);
	if (!cfg) {
		tapir_buf_printf(
			out, "state: inactive (%s)\n", e->config_error);
		if (e->config_path)
			tapir_buf_printf(out, "config: %s\n", e->config_path);
		tapir_buf_printf(out, "problem: configuration not loaded: %s\n",
			e->config_error);
		return;
	}
	tapir_buf_printf(out, "state: active\nconfig: %s\n",
		cfg->path ? cfg->path : "-");
	/* What must be fixed here first, one "problem:" line each, so that
	 * a script greps them and tapir-pop-control exits 1. */
	pthread_mutex_lock(&e->slock);
	for (int p = 0; p < PROBLEM_COUNT; p++)
		if (e->problems[p][0])
			tapir_buf_printf(out, "problem: %s\n", e->problems[p]);
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].type == TAPIR_SOURCE_FILE &&
			e->files[i].error[0])
			tapir_buf_printf(out, "problem: source %s: %s\n",
				cfg->sources[i].name, e->files[i].error);
	pthread_mutex_unlock(&e->slock);
	pthread_mutex_lock(&e->qlock);
	tapir_buf_printf(out, "mqtt: %s (%s)\n",
		e->mqtt_connected ? "connected" : "disconnected",
		e->mqtt_state);
	pthread_mutex_unlock(&e->qlock);
	tapir_buf_printf(out, "keys: %zu\n", atomic_load(&e->n_keys));
	tapir_buf_printf(out, "cache-purge: %s%s\n",
		e->purger ? "via Unbound remote-control " : "unavailable",
		e->purger ? e->purge_endpoint : "");
	tapir_buf_printf(out, "db.names: %zu\ndb.entries: %zu\ndb.bytes: %zu\n",
		atomic_load(&e->db_names), atomic_load(&e->db_entries),
		atomic_load(&e->db_bytes));
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *sc = &cfg->sources[i];
		const struct file_state *fs = &e->files[i];
		if ((int)sc->type == SOURCE_OVERRIDE) {
			tapir_buf_printf(out,
				"source: %s list=%s type=override\n", sc->name,
				tapir_list_str(sc->list));
			continue;
		}
		if (sc->type == TAPIR_SOURCE_XFR) {
			const struct xfr_state *xs = &e->xfrs[i];
			tapir_buf_printf(out,
				"source: %s list=%s type=xfr zone=%s primary=%s "
				"serial=%u names=%zu transfers=%zu failures=%zu "
				"last-ok=%lld%s%s\n",
				sc->name, tapir_list_str(sc->list), sc->zone,
				sc->primary, xs->serial, xs->names,
				xs->transfers, xs->failures,
				(long long)xs->last_ok,
				xs->error[0] ? " error=" : "", xs->error);
			continue;
		}
		if (sc->type != TAPIR_SOURCE_FILE) {
			const struct source_counters *pc = &e->per_source[i];
			tapir_buf_printf(out,
				"source: %s list=%s type=mqtt accepted=%llu "
				"rejected=%llu last-message=%lld\n",
				sc->name, tapir_list_str(sc->list),
				(unsigned long long)atomic_load(&pc->accepted),
				(unsigned long long)atomic_load(&pc->rejected),
				(long long)atomic_load(&pc->last_msg));
			continue;
		}
		tapir_buf_printf(out,
			"source: %s list=%s type=file path=%s names=%zu "
			"bad-lines=%zu loaded=%lld%s%s\n",
			sc->name, tapir_list_str(sc->list), sc->path, fs->names,
			fs->bad_lines, (long long)fs->loaded_at,
			fs->error[0] ? " error=" : "", fs->error);
	}
	if (e->state_path)
		tapir_buf_printf(out, "state-file: %s saved=%lld\n",
			e->state_path, (long long)e->state_saved_at);
	pthread_mutex_unlock(&e->slock);
}

static void
cmd_lookup(struct tapir_engine *e, const char *arg, struct tapir_buf *out)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_error err = { 0 };
	struct tapir_reason why;
	char text[4096];
	size_t len;

	if (tapir_name_canon(arg, strlen(arg), 0, name, &len, NULL, &err)) {
		tapir_buf_printf(out, "error: %s\n", err.text);
		return;
	}
	if (!e->cfg) {
		tapir_buf_printf(out, "error: inactive: %s\n", e->config_error);
		return;
	}
	tapir_decide(cur_policy(e), e->db, name, len, e->now(), &why);
	tapir_reason_format(
		cur_policy(e), name, &why, e->now(), text, sizeof(text));
	tapir_buf_append(out, text, strlen(text));
	/* What a client gets, in the module's words. */
	switch (why.action) {
	case TAPIR_ACTION_NXDOMAIN:
	case TAPIR_ACTION_REDIRECT:
	case TAPIR_ACTION_NODATA:
		tapir_buf_printf(out,
			"answer: %s with SOA %s. %s. in authority, TTL %u\n",
			why.action == TAPIR_ACTION_NODATA ? "NOERROR/NODATA"
							  : "NXDOMAIN",
			e->cfg->answer.soa_mname, e->cfg->answer.soa_rname,
			e->cfg->answer.negative_ttl);
		break;
	case TAPIR_ACTION_DROP:
		tapir_buf_printf(out, "answer: none (dropped)\n");
		break;
	default:
		tapir_buf_printf(out, "answer: resolved normally\n");
		break;
	}
}

/* Run fn on the writer thread (the only one that may change the database)
 * and wait for it; inline when no writer runs (tests, before start). */
static void
run_on_writer(struct tapir_engine *e, void (*fn)(struct tapir_engine *, void *),
	void *arg)
{
	struct qmsg *q;
	bool done = false;

	if (!e->writer_running || !(q = calloc(1, sizeof(*q)))) {
		if (!e->writer_running)
			fn(e, arg);
		return;
	}
	q->job = fn;
	q->job_arg = arg;
	q->job_done = &done;
	q->topic = "";
	pthread_mutex_lock(&e->qlock);
	if (e->stop) {
		pthread_mutex_unlock(&e->qlock);
		free(q);
		return;
	}
	enqueue_locked(e, q);
	while (!done)
		pthread_cond_wait(&e->jcond, &e->qlock);
	pthread_mutex_unlock(&e->qlock);
}

/* JSON for the text commands: their lines are "key: value" or
 * "key=value"; a key given more than once (source:, entry:) becomes an
 * array. Numbers stay numbers. */
static void
cmd_json(struct tapir_engine *e, const char *line, struct tapir_buf *out)
{
	struct tapir_buf text = { 0 };
	json_t *root = json_object();
	char *txt, *save = NULL;

	tapir_engine_command(e, line, &text);
	if (!root || text.failed || !text.data) {
		tapir_buf_printf(out, "error: out of memory\n");
		goto out_free;
	}
	if (!strncmp(text.data, "error:", 6)) {
		tapir_buf_append(out, text.data, text.len);
		goto out_free;
	}
	for (char *l = strtok_r(text.data, "\n", &save); l;
		l = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(l, ": "), *eq = strchr(l, '='), *val, *end;
		json_t *v, *old;
		if (sep && (!eq || sep < eq)) {
			*sep = '\0';
			val = sep + 2;
		} else if (eq) {
			*eq = '\0';
			val = eq + 1;
		} else {
			continue;
		}
		errno = 0;
		long long n = strtoll(val, &end, 10);
		v = (*val && !*end && !errno) ? json_integer(n)
					      : json_string(val);
		if (!v)
			continue;
		if ((old = json_object_get(root, l))) {
			if (!json_is_array(old)) {
				json_t *arr = json_array();
				json_array_append(arr, old);
				json_object_set_new(root, l, arr);
				old = arr;
			}
			json_array_append_new(old, v);
		} else {
			json_object_set_new(root, l, v);
		}
	}
	/* status: "problem:" lines are the array "problems", empty when
	 * there are none, so that a script tests its length. */
	if (!strcmp(line, "status")) {
		json_t *p = json_object_get(root, "problem"), *arr = p;
		if (!p) {
			arr = json_array();
		} else if (!json_is_array(p)) {
			arr = json_array();
			json_array_append(arr, p);
		} else {
			json_incref(arr);
		}
		json_object_del(root, "problem");
		json_object_set_new(root, "problems", arr);
	}
	if ((txt = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		tapir_buf_printf(out, "%s\n", txt);
		free(txt);
	}
out_free:
	json_decref(root);
	tapir_buf_clear(&text);
}

/* ---- local overrides ------------------------------------------------ */

static int
override_source(const struct tapir_engine *e, bool allow)
{
	return allow ? e->src_override_allow : e->src_override_deny;
}

static struct override *
override_find(struct tapir_engine *e, const char *name)
{
	for (size_t i = 0; i < e->n_overrides; i++)
		if (!strcmp(e->overrides[i].name, name))
			return &e->overrides[i];
	return NULL;
}

static int
override_apply(struct tapir_engine *e, const struct override *o)
{
	struct tapir_entry ent = {
		.expiry =
			o->expires ? (uint32_t)o->expires : TAPIR_EXPIRY_NEVER,
		.added = (uint32_t)o->added,
		.source = (uint16_t)override_source(e, o->allow),
		.list = o->allow ? TAPIR_LIST_ALLOW : TAPIR_LIST_DENY,
	};
	int src = override_source(e, !o->allow), rc;

	/* One override per name: the other kind goes. */
	if (src >= 0 && tapir_db_remove(e->db, o->name, strlen(o->name),
				(uint16_t)src, 0) != 0) {
		/* none there: fine */
	}
	if ((rc = tapir_db_set(e->db, o->name, strlen(o->name), &ent)) != 0)
		return rc;
	if (!o->allow)
		purge_if_blocked(e, o->name, false, e->now());
	return 0;
}

/* overrides.json in the state directory: written whole, atomically, on
 * every change; read at start. Without a state directory overrides live
 * until the module is unloaded. */
static int
overrides_fill(void *arg, int fd, struct tapir_error *err)
{
	(void)err;
	if (json_dumpfd(arg, fd, JSON_INDENT(1) | JSON_SORT_KEYS) != 0)
		return errno ? errno : EIO;
	return 0;
}

static void
overrides_save(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	json_t *arr, *root;
	char path[4096];

	if (!e->cfg->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/overrides.json", e->cfg->state_dir);
	if (!(arr = json_array()))
		return;
	for (size_t i = 0; i < e->n_overrides; i++) {
		const struct override *o = &e->overrides[i];
		json_array_append_new(arr,
			json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", o->name,
				"action", o->allow ? "allow" : "deny", "added",
				(json_int_t)o->added, "expires",
				(json_int_t)o->expires, "comment", o->comment));
	}
	root = json_pack("{s:i, s:o}", "version", 1, "overrides", arr);
	if (!root)
		return;
	if (tapir_fileio_write_atomic(path, overrides_fill, root, &err) != 0) {
		tapir_log(TAPIR_LOG_ERR, "overrides: %s", err.text);
		problem_set(e, PROBLEM_STATE_DIR,
			"state-dir: %s (overrides are not kept)", err.text);
	}
	json_decref(root);
}

static int
override_add(struct tapir_engine *e, const char *name, bool allow,
	int64_t expires, const char *comment)
{
	struct override *o = override_find(e, name);

	if (!o) {
		if (e->n_overrides == e->cap_overrides) {
			size_t cap =
				e->cap_overrides ? e->cap_overrides * 2 : 16;
			struct override *v =
				realloc(e->overrides, cap * sizeof(*v));
			if (!v)
				return TAPIR_ENOMEM;
			e->overrides = v;
			e->cap_overrides = cap;
		}
		o = &e->overrides[e->n_overrides++];
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", name);
	}
	o->allow = allow;
	o->added = tapir_now();
	o->expires = expires;
	snprintf(o->comment, sizeof(o->comment), "%s", comment ? comment : "");
	return override_apply(e, o);
}

static void
overrides_load(struct tapir_engine *e)
{
	char path[4096];
	json_error_t jerr;
	json_t *root, *arr, *it;
	size_t i, n = 0;

	if (!e->cfg->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/overrides.json", e->cfg->state_dir);
	if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
		if (access(path, F_OK) == 0)
			tapir_log(TAPIR_LOG_ERR,
				"overrides: ignoring %s:%d: %s", path,
				jerr.line, jerr.text);
		return;
	}
	arr = json_object_get(root, "overrides");
	json_array_foreach(arr, i, it)
	{
		const char *name =
			json_string_value(json_object_get(it, "name"));
		const char *act =
			json_string_value(json_object_get(it, "action"));
		const char *cm =
			json_string_value(json_object_get(it, "comment"));
		json_int_t exp =
			json_integer_value(json_object_get(it, "expires"));
		char canon[TAPIR_NAME_BUFSIZE];
		if (!name || !act ||
			tapir_name_canon(name, strlen(name), 0, canon, NULL,
				NULL, NULL) != 0 ||
			(strcmp(act, "allow") && strcmp(act, "deny")))
			continue;
		if (exp && exp <= e->now())
			continue;
		if (override_add(e, canon, !strcmp(act, "allow"), exp, cm) == 0)
			n++;
	}
	json_decref(root);
	tapir_log(TAPIR_LOG_INFO, "overrides: %zu from %s", n, path);
}

struct override_job {
	const char *name;
	bool allow, remove;
	int64_t expires;
	const char *comment;
	int rc;
};

static void
override_job(struct tapir_engine *e, void *arg)
{
	struct override_job *j = arg;
	struct override *o;

	if (j->remove) {
		if (!(o = override_find(e, j->name))) {
			j->rc = TAPIR_ENOENT;
			return;
		}
		struct purges unallowed = { 0 };
		(void)remove_entry(e, override_source(e, o->allow), o->name, 0,
			&unallowed);
		*o = e->overrides[--e->n_overrides];
		j->rc = 0;
	} else {
		j->rc = override_add(
			e, j->name, j->allow, j->expires, j->comment);
	}
	if (j->rc == 0)
		overrides_save(e);
}

/* "override allow|deny NAME TTL [COMMENT...]", "override remove NAME",
 * "override list". TTL 0: until removed. */
static void
cmd_override(struct tapir_engine *e, const char *args, bool json,
	struct tapir_buf *out)
{
	char verb[16] = "", raw[TAPIR_NAME_BUFSIZE + 1] = "";
	char name[TAPIR_NAME_BUFSIZE];
	struct override_job j = { 0 };
	struct tapir_error err = { 0 };
	long long ttl = 0;
	int n = 0;

	if (sscanf(args, "%15s %256s %lld %n", verb, raw, &ttl, &n) < 1) {
		tapir_buf_printf(
			out, "error: usage: override allow|deny|remove|list\n");
		return;
	}
	if (!strcmp(verb, "list")) {
		json_t *arr = json ? json_array() : NULL;
		for (size_t i = 0; i < e->n_overrides; i++) {
			const struct override *o = &e->overrides[i];
			if (arr)
				json_array_append_new(arr,
					json_pack("{s:s,s:s,s:I,s:I,s:s}",
						"name", o->name, "action",
						o->allow ? "allow" : "deny",
						"added", (json_int_t)o->added,
						"expires",
						(json_int_t)o->expires,
						"comment", o->comment));
			else
				tapir_buf_printf(out,
					"%s %s added=%lld expires=%lld%s%s\n",
					o->name, o->allow ? "allow" : "deny",
					(long long)o->added,
					(long long)o->expires,
					o->comment[0] ? " comment=" : "",
					o->comment);
		}
		if (arr) {
			char *txt = json_dumps(arr, JSON_INDENT(2));
			if (txt)
				tapir_buf_printf(out, "%s\n", txt);
			free(txt);
			json_decref(arr);
		}
		return;
	}
	if (tapir_name_canon(raw, strlen(raw), 0, name, NULL, NULL, &err)) {
		tapir_buf_printf(out, "error: %s\n", err.text);
		return;
	}
	j.name = name;
	if (!strcmp(verb, "remove")) {
		j.remove = true;
	} else if (!strcmp(verb, "allow") || !strcmp(verb, "deny")) {
		if (e->src_override_allow < 0) {
			tapir_buf_printf(
				out, "error: no room for override sources\n");
			return;
		}
		if (ttl < 0 || ttl > 10LL * 365 * 86400) {
			tapir_buf_printf(out, "error: ttl out of range\n");
			return;
		}
		j.allow = !strcmp(verb, "allow");
		j.expires = ttl ? e->now() + ttl : 0;
		j.comment = n ? args + n : "";
	} else {
		tapir_buf_printf(
			out, "error: unknown override verb: %.16s\n", verb);
		return;
	}
	run_on_writer(e, override_job, &j);
	if (j.rc != 0)
		tapir_buf_printf(out, "error: override %s %s: %s\n", verb, name,
			tapir_strerror(j.rc));
	else
		tapir_buf_printf(out, "ok\n");
}

/* ---- list, dump-rpz, digest ------------------------------------------- */

struct walk_out {
	struct tapir_engine *e;
	struct tapir_buf *out;
	int list, source, action; /* -1: any */
	const char *zone;
	json_t *arr;
	size_t n;
	crypto_generichash_state *hash;
	char **names; /* digest: collected, sorted */
	size_t n_names, cap_names;
};

/* The decision of a name as the query path makes it, plus what fed it. */
static enum tapir_action
walk_decide(struct walk_out *w, const char *name, size_t len,
	struct tapir_reason *why)
{
	return tapir_decide(
		cur_policy(w->e), w->e->db, name, len, w->e->now(), why);
}

static bool
walk_filter(struct walk_out *w, const struct tapir_entry *e, size_t n,
	enum tapir_action a)
{
	bool list = w->list < 0, src = w->source < 0;

	for (size_t i = 0; i < n; i++) {
		list |= e[i].list == w->list;
		src |= e[i].source == w->source;
	}
	return list && src && (w->action < 0 || (int)a == w->action);
}

static int
list_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	struct tapir_reason why;
	enum tapir_action a = walk_decide(w, name, len, &why);
	const char *rule = tapir_policy_rule_name(cur_policy(w->e), why.rule);

	if (!walk_filter(w, e, n, a))
		return 0;
	w->n++;
	if (w->arr)
		json_array_append_new(w->arr,
			json_pack("{s:s,s:s,s:s}", "name", name, "action",
				tapir_action_str(a), "rule", rule));
	else
		tapir_buf_printf(
			w->out, "%s %s %s\n", name, tapir_action_str(a), rule);
	return w->out->failed ? -1 : 0;
}

static const char *
rpz_target(enum tapir_action a)
{
	switch (a) {
	case TAPIR_ACTION_PASSTHRU:
		return "rpz-passthru.";
	case TAPIR_ACTION_NODATA:
		return "*.";
	case TAPIR_ACTION_DROP:
		return "rpz-drop.";
	case TAPIR_ACTION_NXDOMAIN:
	case TAPIR_ACTION_REDIRECT: /* with no target configured */
		return ".";
	default:
		return NULL;
	}
}

/* One RPZ owner's records for an action; REDIRECT as the module answers
 * it: the configured CNAME target, or the configured addresses as local
 * data, or NXDOMAIN. */
static void
rpz_records(struct walk_out *w, const char *owner, enum tapir_action a)
{
	const struct tapir_config *cfg = w->e->cfg;
	char addr[INET6_ADDRSTRLEN];
	const char *t;

	if (a == TAPIR_ACTION_REDIRECT &&
		(cfg->answer.redirect_cname[0] || cfg->answer.n_redirect_a ||
			cfg->answer.n_redirect_aaaa)) {
		if (cfg->answer.redirect_cname[0]) {
			tapir_buf_printf(w->out, "%s.%s CNAME %s.\n", owner,
				w->zone, cfg->answer.redirect_cname);
			w->n++;
			return;
		}
		for (size_t i = 0; i < cfg->answer.n_redirect_a; i++) {
			inet_ntop(AF_INET, cfg->answer.redirect_a[i], addr,
				sizeof(addr));
			tapir_buf_printf(
				w->out, "%s.%s A %s\n", owner, w->zone, addr);
			w->n++;
		}
		for (size_t i = 0; i < cfg->answer.n_redirect_aaaa; i++) {
			inet_ntop(AF_INET6, cfg->answer.redirect_aaaa[i], addr,
				sizeof(addr));
			tapir_buf_printf(w->out, "%s.%s AAAA %s\n", owner,
				w->zone, addr);
			w->n++;
		}
		return;
	}
	if ((t = rpz_target(a))) {
		tapir_buf_printf(w->out, "%s.%s CNAME %s\n", owner, w->zone, t);
		w->n++;
	}
}

static int
rpz_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	char child[TAPIR_NAME_BUFSIZE + 8], star[TAPIR_NAME_BUFSIZE + 8];
	bool exact = false, subtree = false;

	for (size_t i = 0; i < n; i++) {
		if (e[i].flags & TAPIR_ENTRY_SUBTREE)
			subtree = true;
		else
			exact = true;
	}
	/* The owner itself, and a representative name below it for the
	 * subtree (the decision of any child with no entries of its own). */
	if (exact)
		rpz_records(w, name, walk_decide(w, name, len, NULL));
	if (subtree) {
		int m = snprintf(child, sizeof(child), "x--tapir.%s", name);
		snprintf(star, sizeof(star), "*.%s", name);
		if (m > 0 && (size_t)m < TAPIR_NAME_BUFSIZE)
			rpz_records(w, star,
				walk_decide(w, child, (size_t)m, NULL));
	}
	return w->out->failed ? -1 : 0;
}

static void
cmd_dump_rpz(
	struct tapir_engine *e, const char *zone_arg, struct tapir_buf *out)
{
	char zone[TAPIR_NAME_BUFSIZE];
	struct tapir_error err = { 0 };
	struct walk_out w = { .e = e, .out = out, .zone = zone };
	tapir_epoch_token tok;

	if (!zone_arg[0])
		zone_arg = "rpz.tapir-pop.invalid";
	if (tapir_name_canon(
		    zone_arg, strlen(zone_arg), 0, zone, NULL, NULL, &err)) {
		tapir_buf_printf(out, "error: zone: %s\n", err.text);
		return;
	}
	/* Decisions now, as an RPZ other resolvers can load: a SOA whose
	 * serial is the time of the dump, one NS, then one record per
	 * decided owner. */
	tapir_buf_printf(out,
		"$ORIGIN %s.\n$TTL 60\n"
		"@ SOA localhost. hostmaster.localhost. %lld 3600 600 86400 60\n"
		"@ NS localhost.\n",
		zone, (long long)tapir_now());
	tok = tapir_db_read_begin(e->db);
	(void)tapir_db_walk(e->db, rpz_one, &w);
	tapir_db_read_end(e->db, tok);
	tapir_buf_printf(out, "; %zu records\n", w.n);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
digest_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	enum tapir_action a = walk_decide(w, name, len, NULL);
	char *line;

	(void)e;
	(void)n;
	if (a == TAPIR_ACTION_PASS)
		return 0;
	if (w->n_names == w->cap_names) {
		size_t cap = w->cap_names ? w->cap_names * 2 : 1024;
		char **v = realloc(w->names, cap * sizeof(*v));
		if (!v)
			return -1;
		w->names = v;
		w->cap_names = cap;
	}
	if (!(line = malloc(len + 16)))
		return -1;
	snprintf(line, len + 16, "%s %s\n", name, tapir_action_str(a));
	w->names[w->n_names++] = line;
	return 0;
}

/* A hash of the decision set, independent of insertion order and of the
 * machine: resolvers of one fleet compare it. Expired entries do not
 * count; names are sorted before hashing. */
static void
cmd_digest(struct tapir_engine *e, bool json, struct tapir_buf *out)
{
	struct walk_out w = { .e = e, .out = out };
	unsigned char h[32];
	char hex[65];
	crypto_generichash_state st;
	tapir_epoch_token tok;
	int rc;

	tok = tapir_db_read_begin(e->db);
	rc = tapir_db_walk(e->db, digest_one, &w);
	tapir_db_read_end(e->db, tok);
	if (rc == 0) {
		qsort(w.names, w.n_names, sizeof(*w.names), name_cmp);
		crypto_generichash_init(&st, NULL, 0, sizeof(h));
		for (size_t i = 0; i < w.n_names; i++)
			crypto_generichash_update(&st,
				(const unsigned char *)w.names[i],
				strlen(w.names[i]));
		crypto_generichash_final(&st, h, sizeof(h));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		if (json)
			tapir_buf_printf(out,
				"{\"digest\": \"blake2b-256:%s\", \"names\": %zu}\n",
				hex, w.n_names);
		else
			tapir_buf_printf(out,
				"digest: blake2b-256:%s\nnames: %zu\n", hex,
				w.n_names);
	} else {
		tapir_buf_printf(out, "error: out of memory\n");
	}
	for (size_t i = 0; i < w.n_names; i++)
		free(w.names[i]);
	free(w.names);
}

/* "list [list=L] [source=S] [action=A]" */
static void
cmd_list(struct tapir_engine *e, const char *args, bool json,
	struct tapir_buf *out)
{
	struct walk_out w = {
		.e = e, .out = out, .list = -1, .source = -1, .action = -1
	};
	char key[16], val[128];
	tapir_epoch_token tok;
	int n;

	while (*args && sscanf(args, " %15[^= ]=%127s%n", key, val, &n) == 2) {
		args += n;
		if (!strcmp(key, "list"))
			w.list = tapir_list_from_str(val);
		else if (!strcmp(key, "source"))
			w.source = tapir_config_source_index(e->cfg, val);
		else if (!strcmp(key, "action"))
			w.action = tapir_action_from_str(val);
		else
			w.list = -2;
		if (w.list == -2 || (!strcmp(key, "list") && w.list < 0) ||
			(!strcmp(key, "source") && w.source < 0) ||
			(!strcmp(key, "action") && w.action < 0)) {
			tapir_buf_printf(
				out, "error: bad filter %s=%s\n", key, val);
			return;
		}
	}
	while (*args == ' ')
		args++;
	if (*args) {
		tapir_buf_printf(out, "error: bad filter: %.64s\n", args);
		return;
	}
	if (json && !(w.arr = json_array())) {
		tapir_buf_printf(out, "error: out of memory\n");
		return;
	}
	tok = tapir_db_read_begin(e->db);
	(void)tapir_db_walk(e->db, list_one, &w);
	tapir_db_read_end(e->db, tok);
	if (w.arr) {
		char *txt = json_dumps(w.arr, JSON_INDENT(2));
		if (txt)
			tapir_buf_printf(out, "%s\n", txt);
		free(txt);
		json_decref(w.arr);
	}
}

/* "flush NAME" / "flush --all": ask Unbound to drop cached answers. */
static void
cmd_flush(struct tapir_engine *e, const char *arg, struct tapir_buf *out)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_error err = { 0 };

	if (!e->purger) {
		tapir_buf_printf(out,
			"error: no cache purging: Unbound's remote-control is not usable (see status)\n");
		return;
	}
	if (!strcmp(arg, "--all")) {
		/* flush_zone of the root: every cached answer. */
		(void)tapir_purger_push(e->purger, "");
		tapir_purger_drain(e->purger, 10000);
		tapir_buf_printf(out, "ok\n");
		return;
	}
	if (tapir_name_canon(arg, strlen(arg), 0, name, NULL, NULL, &err)) {
		tapir_buf_printf(out, "error: %s\n", err.text);
		return;
	}
	(void)tapir_purger_push(e->purger, name);
	tapir_purger_drain(e->purger, 10000);
	tapir_buf_printf(out, "ok\n");
}

struct reload_job {
	struct tapir_config *cfg;
	struct tapir_policy *pol;
	char msg[256];
	int rc;
};

static bool
same_sources(
	const struct tapir_config *a, const struct tapir_config *b, size_t n)
{
	if (b->n_sources != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct tapir_source_config *x = &a->sources[i],
						 *y = &b->sources[i];
		if (strcmp(x->name, y->name) || x->type != y->type ||
			x->list != y->list)
			return false;
	}
	return true;
}

static void
reload_job(struct tapir_engine *e, void *arg)
{
	struct reload_job *j = arg;

	if (e->n_old == sizeof(e->old_cfgs) / sizeof(e->old_cfgs[0])) {
		j->rc = TAPIR_EFULL;
		snprintf(j->msg, sizeof(j->msg),
			"too many reloads since the module loaded: use unbound-control reload");
		return;
	}
	/* Overrides are sources the engine adds after the configured ones. */
	if (add_override_sources(e, j->cfg) != 0) {
		j->rc = TAPIR_ECONFIG;
		snprintf(
			j->msg, sizeof(j->msg), "no room for override sources");
		return;
	}
	e->old_cfgs[e->n_old] = e->cfg;
	e->old_policies[e->n_old++] = atomic_load(&e->policy);
	e->cfg = j->cfg;
	atomic_store_explicit(&e->policy, j->pol, memory_order_release);
	j->cfg = NULL;
	j->pol = NULL;
	load_keys(e);
	/* An operator who fixed the directory sees it in status now. */
	state_dir_check(e);
	files_check(e, true);
	j->rc = 0;
}

/* Re-read the configuration file, the key file and every file source,
 * without restarting Unbound. A broken file is refused with its error
 * and the running configuration stays. Changes to the set of sources
 * (and to mqtt, answer, control, state-dir) need unbound-control reload. */
static void
cmd_reload(struct tapir_engine *e, struct tapir_buf *out)
{
	struct reload_job j = { 0 };
	struct tapir_error err = { 0 };

	if (!e->config_path) {
		tapir_buf_printf(
			out, "error: no configuration file to re-read\n");
		return;
	}
	if (!(j.cfg = tapir_config_load(e->config_path, &err))) {
		tapir_buf_printf(out,
			"error: %s (the running configuration stays)\n",
			err.text);
		return;
	}
	if (!same_sources(e->cfg, j.cfg, e->n_config_sources)) {
		tapir_config_destroy(j.cfg);
		tapir_buf_printf(out,
			"error: the sources changed: that needs unbound-control reload (the running configuration stays)\n");
		return;
	}
	if (!(j.pol = tapir_policy_create(j.cfg))) {
		tapir_config_destroy(j.cfg);
		tapir_buf_printf(out, "error: out of memory\n");
		return;
	}
	run_on_writer(e, reload_job, &j);
	if (j.rc != 0) {
		tapir_policy_destroy(j.pol);
		tapir_config_destroy(j.cfg);
		tapir_buf_printf(out, "error: %s\n", j.msg);
		return;
	}
	tapir_log(TAPIR_LOG_INFO, "reloaded %s", e->config_path);
	tapir_buf_printf(out, "ok\n");
}

static void dispatch(struct tapir_engine *e, const char *line, bool json,
	struct tapir_buf *out);

void
tapir_engine_command(
	struct tapir_engine *e, const char *line, struct tapir_buf *out)
{
	struct tapir_buf tmp = { 0 };
	json_t *obj;
	char *txt;

	while (*line == ' ')
		line++;
	if (strncmp(line, "json ", 5) != 0) {
		dispatch(e, line, false, out);
		return;
	}
	/* --json: commands that answer in JSON do so; the others' answer
	 * ("ok", "error: ...", a zone file) is wrapped in an object. */
	dispatch(e, line + 5, true, &tmp);
	if (tmp.data && (tmp.data[0] == '{' || tmp.data[0] == '[')) {
		tapir_buf_append(out, tmp.data, tmp.len);
	} else {
		const char *t = tmp.data ? tmp.data : "";
		size_t n = strlen(t);
		while (n && t[n - 1] == '\n')
			n--;
		if (!strncmp(t, "error: ", 7))
			obj = json_pack("{s:s%}", "error", t + 7, n - 7);
		else if (n == 2 && !strncmp(t, "ok", 2))
			obj = json_pack("{s:s}", "result", "ok");
		else
			obj = json_pack("{s:s%}", "text", t, n);
		if (obj && (txt = json_dumps(obj, JSON_INDENT(2)))) {
			/* An error keeps its "error:" prefix line so that the
			 * client's exit code stays 1. */
			if (!strncmp(t, "error: ", 7))
				tapir_buf_printf(out, "error: %s\n", txt);
			else
				tapir_buf_printf(out, "%s\n", txt);
			free(txt);
		}
		json_decref(obj);
	}
	tapir_buf_clear(&tmp);
}

static void
dispatch(struct tapir_engine *e, const char *line, bool json,
	struct tapir_buf *out)
{
	if (!e->cfg && strcmp(line, "status") != 0) {
		tapir_buf_printf(out, "error: inactive: %s\n", e->config_error);
		return;
	}
	if (json && (!strcmp(line, "status") || !strcmp(line, "stats") ||
			    !strcmp(line, "stats_noreset") ||
			    !strncmp(line, "lookup ", 7))) {
		cmd_json(e, line, out);
		return;
	}
	if (strcmp(line, "status") == 0)
		cmd_status(e, out);
	else if (strcmp(line, "stats") == 0)
		cmd_stats(e, true, out);
	else if (strcmp(line, "stats_noreset") == 0)
		cmd_stats(e, false, out);
	else if (strncmp(line, "lookup ", 7) == 0)
		cmd_lookup(e, line + 7, out);
	else if (!strcmp(line, "list") || !strncmp(line, "list ", 5))
		cmd_list(e, line + 4, json, out);
	else if (!strcmp(line, "dump-rpz") || !strncmp(line, "dump-rpz ", 9))
		cmd_dump_rpz(e, line[8] ? line + 9 : "", out);
	else if (!strncmp(line, "override ", 9))
		cmd_override(e, line + 9, json, out);
	else if (!strncmp(line, "flush ", 6))
		cmd_flush(e, line + 6, out);
	else if (!strcmp(line, "digest"))
		cmd_digest(e, json, out);
	else if (!strcmp(line, "reload"))
		cmd_reload(e, out);
	else
		tapir_buf_printf(out, "error: unknown command: %.64s\n", line);
}
