/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine lifecycle: create (configuration, policy, database, keys), start
 * (the writer, MQTT, transfer and control threads), destroy; the counters
 * and the problems shown in status. The other rooms of the engine are
 * named in engine_impl.h.
 */
#include "tapir_build.h"

#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include <signal.h>

#include "lib/engine_impl.h"

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
	[TAPIR_C_REJ_STALE] = "msg.rejected.stale",
	[TAPIR_C_ENTRY_ADDED] = "entry.added",
	[TAPIR_C_ENTRY_REMOVED] = "entry.removed",
	[TAPIR_C_ENTRY_ALREADY_EXPIRED] = "entry.already_expired",
	[TAPIR_C_ENTRY_INVALID] = "entry.invalid",
	[TAPIR_C_ENTRY_DB_FULL] = "entry.db_full",
	[TAPIR_C_ENTRY_EXPIRED] = "entry.expired",
	[TAPIR_C_MQTT_CONNECTS] = "mqtt.connects",
	[TAPIR_C_MQTT_DISCONNECTS] = "mqtt.disconnects",
	[TAPIR_C_MQTT_QUEUE_WAITS] = "mqtt.queue_waits",
	[TAPIR_C_FILE_LOADS] = "file.loads",
	[TAPIR_C_FILE_FAILURES] = "file.failures",
	[TAPIR_C_FILE_BAD_LINES] = "file.bad_lines",
	[TAPIR_C_STATE_SAVES] = "state.saves",
	[TAPIR_C_STATE_LOADED] = "state.loaded",
	[TAPIR_C_STATE_FAILURES] = "state.failures",
	[TAPIR_C_JOURNAL_REPLAYED] = "journal.replayed",
	[TAPIR_C_JOURNAL_FAILURES] = "journal.failures",
	[TAPIR_C_XFR_FAILURES] = "xfr.failures",
	[TAPIR_C_STATUS_SENT] = "core_status.sent",
	[TAPIR_C_DECISION_CHANGES] = "decision.changes",
	[TAPIR_C_CONTROL_REFUSED] = "control.refused",
};

static const struct tapir_vocab counters = {
	.names = counter_names,
	.n = TAPIR_VOCAB_N(counter_names),
	.absent = "unknown",
};

const char *
tapir_counter_str(enum tapir_counter c)
{
	return tapir_vocab_name(&counters, (int)c);
}

uint64_t
tapir_engine_counter(struct tapir_engine *e, enum tapir_counter c)
{
	return atomic_load_explicit(&e->counters[c], memory_order_relaxed);
}

void
tapir__eng_log_reject(
	struct tapir_engine *e, enum tapir_counter c, const char *fmt, ...)
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
			tapir_counter_str(c), text,
			(unsigned long long)e->suppressed[c]);
	else
		tapir_log(TAPIR_LOG_WARN, "%s: %s", tapir_counter_str(c), text);
	e->last_log_ms[c] = now;
	e->suppressed[c] = 0;
}

/* Any thread but one holding slock. Returns whether the text changed, so
 * that a retry that meets the same problem logs nothing new. */
bool
tapir__eng_problem_set(
	struct tapir_engine *e, enum problem p, const char *fmt, ...)
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
bool
tapir__eng_problem_clear(struct tapir_engine *e, enum problem p)
{
	bool was;

	pthread_mutex_lock(&e->slock);
	was = e->problems[p][0] != '\0';
	e->problems[p][0] = '\0';
	pthread_mutex_unlock(&e->slock);
	return was;
}

bool
tapir__eng_problem_is_set(struct tapir_engine *e, enum problem p)
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
		return tapir__eng_problem_set(
			e, p, "%s: cannot read %s", what, text);
	return tapir__eng_problem_set(e, p, "%s: %s: %s", what, path, text);
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
	pthread_cond_init(&e->rcond, NULL);
	pthread_mutex_init(&e->slock, NULL);
	pthread_mutex_init(&e->xlock, NULL);
	pthread_cond_init(&e->xcond, NULL);
	e->now = tapir_now;
	e->started = tapir_now();
	/* Keyed: names come from queries, and an outsider must not aim at
	 * a bit. */
	if (tapir_lib_init() == 0)
		randombytes_buf(&e->rare_seed, sizeof(e->rare_seed));
	else
		e->rare_seed = (uint64_t)(uintptr_t)e ^ (uint64_t)tapir_now();
	snprintf(e->mqtt_state, sizeof(e->mqtt_state), "not started");
	return e;
}

void
tapir__eng_load_keys(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	struct tapir_keyring *kr;

	e->keys_tried_ms = tapir_monotonic_ms();
	/* keys: is optional without MQTT sources (lib/config.c): no
	 * message to verify, so no key to hold and nothing to report. */
	if (!wcfg(e)->keys_file) {
		tapir__eng_problem_clear(e, PROBLEM_KEYS);
		tapir_keyring_destroy(e->keys);
		e->keys = NULL;
		atomic_store(&e->n_keys, 0);
		return;
	}
	if (!(kr = tapir_keyring_load_file(wcfg(e)->keys_file, &err))) {
		/* A retry that meets the same error has said it already. */
		if (!file_problem(e, PROBLEM_KEYS, "keys", wcfg(e)->keys_file,
			    err.text))
			return;
		if (e->keys)
			tapir_log(TAPIR_LOG_ERR,
				"keys %s: %s; keeping the %zu key(s) loaded "
				"before",
				wcfg(e)->keys_file, err.text,
				tapir_keyring_count(e->keys));
		else
			tapir_log(TAPIR_LOG_ERR,
				"keys %s: %s; every message is rejected until "
				"it loads (tried again every %d s)",
				wcfg(e)->keys_file, err.text,
				KEYS_RETRY_MS / 1000);
		return;
	}
	tapir__eng_problem_clear(e, PROBLEM_KEYS);
	tapir_keyring_destroy(e->keys);
	e->keys = kr;
	atomic_store(&e->n_keys, tapir_keyring_count(kr));
	tapir_log(TAPIR_LOG_INFO, "loaded %zu trusted key(s) from %s",
		tapir_keyring_count(kr), wcfg(e)->keys_file);
}

/* Append the override sources to cfg; their indexes into idx (allow,
 * deny). */
int
tapir__eng_add_override_sources(struct tapir_config *cfg, int idx[2])
{
	static const struct {
		const char *name;
		enum tapir_list list;
	} ov[2] = { { "override-allow", TAPIR_LIST_ALLOW },
		{ "override-deny", TAPIR_LIST_DENY } };

	idx[0] = idx[1] = -1;
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
		idx[i] = (int)cfg->n_sources++;
	}
	return 0;
}

/* Take cfg, add the override sources, and build the first snapshot and
 * everything that hangs off the configuration. */
static int
engine_setup(struct tapir_engine *e, struct tapir_config *cfg)
{
	struct tapir_error err = { 0 };
	struct tapir_runtime *rt;
	int idx[2];

	e->n_config_sources = cfg->n_sources;
	if (tapir__eng_add_override_sources(cfg, idx) != 0)
		tapir_log(TAPIR_LOG_WARN,
			"no room for the override sources (64 sources, or a "
			"source named override-allow/-deny): overrides are off");
	e->src_override_allow = idx[0];
	e->src_override_deny = idx[1];
	if (!(rt = tapir_runtime_create(cfg, 1, &err))) {
		tapir_log(TAPIR_LOG_ERR, "configuration: %s", err.text);
		return TAPIR_ENOMEM;
	}
	atomic_init(&e->rt, rt);
	cfg = rt->cfg;
	if (!(e->db = tapir_db_create(cfg->limits.max_entries)))
		return TAPIR_ENOMEM;
	if (cfg->state_dir) {
		size_t n = strlen(cfg->state_dir) + sizeof(STATE_FILE) + 2;
		if (!(e->state_path = malloc(n)))
			return TAPIR_ENOMEM;
		snprintf(e->state_path, n, "%s/%s", cfg->state_dir, STATE_FILE);
		n += sizeof(JOURNAL_SUFFIX);
		if (!(e->journal_path = malloc(n)))
			return TAPIR_ENOMEM;
		snprintf(e->journal_path, n, "%s%s", e->state_path,
			JOURNAL_SUFFIX);
	}
	tapir__eng_load_keys(e);
	tapir__eng_state_dir_check(e);
	if (cfg->core_status.topic) {
		if (!(e->status_signer = tapir_signer_load_file(
			      cfg->core_status.key_file, &err))) {
			file_problem(e, PROBLEM_CORE_STATUS,
				"core-status: signing-key",
				cfg->core_status.key_file, err.text);
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
	if (engine_setup(e, cfg) != 0) {
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
	struct tapir_config *cfg;

	if (!e)
		return NULL;
	if (!(e->config_path = strdup(path))) {
		tapir_engine_destroy(e);
		return NULL;
	}
	if (!(cfg = tapir_config_load(path, &err))) {
		snprintf(e->config_error, sizeof(e->config_error), "%s",
			err.text);
		tapir_log(TAPIR_LOG_ERR,
			"configuration not loaded, every query passes: %s",
			err.text);
		return e;
	}
	if (engine_setup(e, cfg) != 0) {
		tapir_engine_destroy(e);
		return NULL;
	}
	return e;
}

struct tapir_runtime *
tapir__eng_rt_get(struct tapir_engine *e)
{
	struct tapir_runtime *rt;
	tapir_epoch_token tok;

	if (!(rt = tapir__eng_rt_enter(e, &tok)))
		return NULL;
	tapir_runtime_ref(rt);
	tapir__eng_rt_exit(e, tok);
	return rt;
}

/*
 * Writer: publish rt in place of the snapshot in force. After the grace
 * period no worker still reads the old one, and every other thread that
 * saw it holds a reference: dropping the engine's own frees it, or leaves
 * it to the last of those holders.
 */
void
tapir__eng_rt_swap(struct tapir_engine *e, struct tapir_runtime *rt)
{
	struct tapir_runtime *old = wrt(e);

	atomic_store_explicit(&e->rt, rt, memory_order_release);
	tapir_db_grace(e->db);
	tapir_runtime_unref(old);
}

bool
tapir_engine_active(const struct tapir_engine *e)
{
	return atomic_load_explicit(&e->rt, memory_order_relaxed) != NULL;
}

const struct tapir_config *
tapir_engine_config(const struct tapir_engine *e)
{
	struct tapir_runtime *rt =
		atomic_load_explicit(&e->rt, memory_order_acquire);

	return rt ? rt->cfg : NULL;
}

void
tapir_engine_set_clock(struct tapir_engine *e, int64_t (*now)(void))
{
	e->now = now ? now : tapir_now;
}

void
tapir_engine_set_purge(struct tapir_engine *e, tapir_purge_send_fn send,
	void *arg, const char *what)
{
	e->purge_send = send;
	e->purge_arg = arg;
	snprintf(e->purge_what, sizeof(e->purge_what), "%s", what);
}

void
tapir_engine_set_host_info(struct tapir_engine *e, const char *info)
{
	snprintf(e->host_info, sizeof(e->host_info), "%s", info);
}

/*
 * The MQTT consumer could not be set up: nothing will ever connect, so it
 * is a problem, not a state to retry. libmosquitto says only "invalid
 * arguments" for a TLS file it cannot open: name the file and why.
 */
static void
mqtt_failed(struct tapir_engine *e, const char *why)
{
	const struct tapir_config *cfg = e->mqtt_rt->cfg;
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
	tapir__eng_problem_set(e, PROBLEM_MQTT, "mqtt: %s", text);
	pthread_mutex_lock(&e->qlock);
	/* Its line in status is shorter; the problem line has it all. */
	snprintf(e->mqtt_state, sizeof(e->mqtt_state), "not started: %.100s",
		text);
	pthread_mutex_unlock(&e->qlock);
}

/* control.owner and control.group: who may use the socket, with mode
 * 0660 its group's members, and whose members may change state. Names or
 * numbers. Fills uid and gid ((uid_t)-1, (gid_t)-1 when not given);
 * for a name with no user or group, both stay so (the socket keeps this
 * process's) and status shows a problem. */
static void
socket_owner(struct tapir_engine *e, const char *owner, const char *group,
	uid_t *uid, gid_t *gid)
{
	char buf[4096], *end;
	unsigned long id;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (owner) {
		struct passwd pw, *res = NULL;
		id = strtoul(owner, &end, 10);
		if (*end != '\0' || end == owner) {
			if (getpwnam_r(owner, &pw, buf, sizeof(buf), &res) !=
					0 ||
				!res) {
				tapir_log(TAPIR_LOG_ERR, "control: no user %s",
					owner);
				tapir__eng_problem_set(e, PROBLEM_CONTROL,
					"control: owner %s: no such user",
					owner);
				return;
			}
			id = res->pw_uid;
		}
		*uid = (uid_t)id;
	}
	if (group) {
		struct group gr, *res = NULL;
		id = strtoul(group, &end, 10);
		if (*end != '\0' || end == group) {
			if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) !=
					0 ||
				!res) {
				tapir_log(TAPIR_LOG_ERR, "control: no group %s",
					group);
				tapir__eng_problem_set(e, PROBLEM_CONTROL,
					"control: group %s: no such group",
					group);
				*uid = (uid_t)-1;
				return;
			}
			id = res->gr_gid;
		}
		*gid = (gid_t)id;
	}
}

/* The module runs as the user Unbound dropped privileges to: it can give
 * the socket only to itself and to one of that user's groups, and says so
 * in status otherwise. */
static void
socket_owner_failed(struct tapir_engine *e, const char *path, const char *owner,
	const char *group, int err)
{
	tapir_log(TAPIR_LOG_ERR,
		"control: chown %s to %s:%s: %s (this process runs as "
		"uid %u gid %u)",
		path, owner ? owner : "-", group ? group : "-", strerror(err),
		(unsigned)geteuid(), (unsigned)getegid());
	tapir__eng_problem_set(e, PROBLEM_CONTROL,
		"control: chown %s to %s:%s: %s (the module runs as "
		"uid %u gid %u: control.owner can only be that user, "
		"control.group only one of its groups)",
		path, owner ? owner : "-", group ? group : "-", strerror(err),
		(unsigned)geteuid(), (unsigned)getegid());
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
	const struct tapir_control_opts opts = { .mode = 0660,
		.owner = (uid_t)-1,
		.group = (gid_t)-1,
		.admin_group = (gid_t)-1 };
	struct tapir_error err = { 0 };

	if (!(e->control = tapir_control_create(
		      path, &opts, tapir__eng_on_control, e, NULL, &err))) {
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

static int
start_threads(struct tapir_engine *e)
{
	const struct tapir_config *cfg = wcfg(e);
	struct tapir_error err = { 0 };
	bool has_mqtt = false;

	if (!cfg) {
		start_inactive_control(e);
		return 0;
	}
	e->started_at = e->now();
	pthread_mutex_lock(&e->qlock);
	e->mqtt_down_since = e->started_at;
	pthread_mutex_unlock(&e->qlock);
	/* Before the writer: it pushes names from its first load on. */
	if (e->purge_send) {
		e->purger = tapir_purger_create(e->purge_send, e->purge_arg,
			e->purge_what, cfg->limits.queue_length);
		if (!e->purger)
			tapir_log(TAPIR_LOG_ERR, "purge: cannot start thread");
	}
	for (size_t i = 0; i < cfg->n_sources; i++)
		has_mqtt |= cfg->sources[i].type == TAPIR_SOURCE_MQTT;
	/* The client exists before the writer, which publishes core-status
	 * reports through it, and outlives it (destroy); its network thread
	 * starts once the writer takes messages. */
	if (has_mqtt) {
		/* The client reads its configuration for as long as it
		 * lives: it keeps this snapshot. */
		e->mqtt_rt = tapir__eng_rt_get(e);
		e->mqtt = tapir_mqtt_create(e->mqtt_rt->cfg,
			tapir__eng_on_mqtt_message, tapir__eng_on_mqtt_state, e,
			&err);
		if (!e->mqtt)
			mqtt_failed(e, err.text);
	}
	if (pthread_create(&e->writer, NULL, tapir__eng_writer_main, e) != 0) {
		tapir_log(TAPIR_LOG_ERR, "cannot start the writer thread");
		tapir__eng_problem_set(e, PROBLEM_THREADS,
			"threads: the writer did not start: nothing is applied");
		return TAPIR_ENOMEM;
	}
	e->writer_running = true;
	if (e->mqtt && tapir_mqtt_start(e->mqtt) != 0)
		mqtt_failed(e, "cannot start its thread");
	for (size_t i = 0; i < cfg->n_sources; i++) {
		if (cfg->sources[i].type != TAPIR_SOURCE_XFR || e->xfr_running)
			continue;
		if (pthread_create(&e->xfr_thread, NULL, tapir__eng_xfr_main,
			    e) == 0) {
			e->xfr_running = true;
		} else {
			tapir_log(TAPIR_LOG_ERR, "xfr: cannot start thread");
			tapir__eng_problem_set(e, PROBLEM_THREADS,
				"threads: the zone transfer thread did not "
				"start: xfr sources are not updated");
		}
	}
	if (cfg->control.socket) {
		struct tapir_control_opts opts = { .mode = cfg->control.mode };
		int owner_err = 0;
		/* The group's members may change state, also when the socket
		 * could not be given to it. */
		socket_owner(e, cfg->control.owner, cfg->control.group,
			&opts.owner, &opts.group);
		opts.admin_group = opts.group;
		e->control = tapir_control_create(cfg->control.socket, &opts,
			tapir__eng_on_control, e, &owner_err, &err);
		if (!e->control)
			tapir_log(TAPIR_LOG_ERR, "control: %s", err.text);
		else if (owner_err)
			socket_owner_failed(e, cfg->control.socket,
				cfg->control.owner, cfg->control.group,
				owner_err);
	}
	return 0;
}

/*
 * Unbound calls init, and so this, before it blocks signals for the
 * threads it starts, and expects its main thread to take SIGHUP, SIGTERM
 * and the rest; a module thread that did not block them could take one
 * sent to the process and run Unbound's handler there. A thread inherits
 * its creator's mask, so with every signal blocked around the creations
 * here each thread starts blocked: the writer, MQTT, purger, transfer and
 * control threads, and any thread they start later (a flush's purger).
 * The fault signals a thread raises itself (SIGSEGV, SIGBUS) still kill
 * the process as they should, blocked or not. The caller's mask is put
 * back as it was.
 */
int
tapir_engine_start(struct tapir_engine *e)
{
	sigset_t all, old;
	int rc, err;

	sigfillset(&all);
	if ((err = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0)
		tapir_log(TAPIR_LOG_WARN,
			"cannot block signals for the module's threads: %s",
			strerror(err));
	rc = start_threads(e);
	if (err == 0)
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void
tapir_engine_destroy(struct tapir_engine *e)
{
	struct qmsg *q;

	if (!e)
		return;
	tapir_control_destroy(e->control);
	/* The transfer thread waits for the writer's jobs: it goes before
	 * the writer. A transfer in flight is cancelled (Unbound's workers
	 * are stopped while this runs); the wait for the writer's first
	 * loads is woken through jcond. */
	if (e->xfr_running) {
		pthread_mutex_lock(&e->xlock);
		atomic_store(&e->xfr_stop, true);
		pthread_cond_signal(&e->xcond);
		pthread_mutex_unlock(&e->xlock);
		pthread_mutex_lock(&e->qlock);
		pthread_cond_broadcast(&e->jcond);
		pthread_mutex_unlock(&e->qlock);
		pthread_join(e->xfr_thread, NULL);
	}
	/* The consumer's thread goes first: after it is joined nothing
	 * submits. It may be waiting in submit() for room in the queue: it
	 * waits no longer (closing), so the join is not held up by a writer
	 * busy with a long job. The client itself stays until the writer,
	 * which may be publishing a core-status report through it, is
	 * joined too; the writer applies what is queued before it stops
	 * (those QoS 1 messages are acknowledged to the broker already). */
	pthread_mutex_lock(&e->qlock);
	e->closing = true;
	pthread_cond_broadcast(&e->rcond);
	pthread_mutex_unlock(&e->qlock);
	tapir_mqtt_stop(e->mqtt);
	if (e->writer_running) {
		pthread_mutex_lock(&e->qlock);
		e->stop = true;
		pthread_cond_signal(&e->qcond);
		pthread_mutex_unlock(&e->qlock);
		pthread_join(e->writer, NULL);
	}
	tapir_mqtt_destroy(e->mqtt);
	e->mqtt = NULL;
	tapir_runtime_unref(e->mqtt_rt);
	/* The writer is gone: save what the feed gave, for the next load
	 * (Unbound's reload unloads this module). */
	if (e->writer_running &&
		(e->state_dirty || atomic_load(&e->serials_dirty)))
		tapir__eng_state_save(e);
	tapir__eng_metrics_remove(e);
	/* Nothing pushes to the purger any more. */
	tapir_purger_destroy(e->purger);
	while ((q = e->qhead)) {
		e->qhead = q->next;
		free(q);
	}
	tapir_db_destroy(e->db);
	for (size_t i = 0; i < TAPIR_MAX_SOURCES; i++)
		tapir_rrcount_destroy(e->xfrs[i].rrs);
	/* Every thread is joined: the engine's is the last reference. */
	tapir_runtime_unref(wrt(e));
	tapir_keyring_destroy(e->keys);
	tapir_signer_destroy(e->status_signer);
	pthread_cond_destroy(&e->qcond);
	pthread_cond_destroy(&e->jcond);
	pthread_cond_destroy(&e->rcond);
	pthread_mutex_destroy(&e->qlock);
	pthread_mutex_destroy(&e->slock);
	pthread_mutex_destroy(&e->xlock);
	pthread_cond_destroy(&e->xcond);
	tapir__eng_journal_close(e);
	free(e->state_path);
	free(e->overrides);
	free(e->config_path);
	free(e);
#ifdef HAVE_MALLOC_TRIM
	/* The database was freed in the arenas of threads that are gone;
	 * glibc keeps such pages, and the next load's threads may take other
	 * arenas and grow them anew: over many unbound-control reloads every
	 * arena would hold a database's worth. Give them back now. */
	(void)malloc_trim(0);
#endif
}
