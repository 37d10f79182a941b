/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ingest: MQTT messages to the writer. The queue between libmosquitto's
 * thread and the writer is a mutex-protected list bounded by
 * limits.queue-length and limits.queue-bytes: a flood is dropped and
 * counted at the door instead of growing memory, except for messages of
 * a QoS 1 or 2 subscription, which libmosquitto has acknowledged to the
 * broker before we see them: dropped here they would be lost for good,
 * so the MQTT thread waits for room instead, and the broker keeps what
 * follows in the session meanwhile. The writer verifies each message's signature over
 * the exact bytes received before parsing anything inside it, then
 * applies the whole message and commits, so a reader sees each message's
 * changes after at most one grace period. Jobs of other threads
 * (tapir__eng_run_on_writer()) go through the same queue.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

/* The source of a message that came with its topic only (tests, and
 * tapir_engine_submit()): routed by the writer against its configuration.
 * The MQTT client hands the source it matched; control reloads keep every
 * source's index. */
#define SRC_BY_TOPIC (-2)

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

static void
on_expired(void *arg, const char *name, size_t len)
{
	struct tapir_engine *e = arg;

	/* An expired allowlist entry can turn a name into a block. */
	(void)len;
	tapir__eng_purge_if_blocked(e, name, false, e->now());
}

/* The entry an added observation makes; its expiry, unclipped. */
static int64_t
msg_entry(int src, const struct tapir_msg *msg, const struct tapir_msg_entry *m,
	struct tapir_entry *ent)
{
	/* tapir_msg_parse() bounds both; saturating all the same. */
	int64_t expiry = tapir_time_add(m->time_added, m->ttl);

	memset(ent, 0, sizeof(*ent));
	ent->added = tapir_db_time32(m->time_added);
	ent->tags = m->tag_mask;
	ent->source = (uint16_t)src;
	ent->list = (uint8_t)msg->list;
	ent->flags = m->wildcard ? TAPIR_ENTRY_SUBTREE : 0;
	/* Time as 32-bit seconds lasts to 2106; an expiry beyond is as
	 * good as never. */
	ent->expiry = tapir_db_time32(expiry);
	return expiry;
}

/* The journal's records of a message, in one write before any of it is
 * applied (lib/journal.h): what a client was answered from is always in
 * the journal. An entry the database then refuses (full) is replayed the
 * same way: refused again, or taken where there is room. */
static void
journal_msg(struct tapir_engine *e, int src, const struct tapir_msg *msg,
	int64_t now)
{
	const struct tapir_source_config *sc = &wcfg(e)->sources[src];
	struct tapir_journal_batch *b = &e->journal_batch;
	struct tapir_entry ent;
	int rc = 0;

	if (!tapir__eng_journaled(e, src))
		return;
	tapir_journal_batch_reset(b);
	for (size_t i = 0; i < msg->n_added && rc == 0; i++) {
		const struct tapir_msg_entry *m = &msg->added[i];
		if (msg_entry(src, msg, m, &ent) > now)
			rc = tapir_journal_add_set(
				b, sc, m->name, strlen(m->name), &ent);
	}
	for (size_t i = 0; i < msg->n_removed && rc == 0; i++) {
		const struct tapir_msg_entry *m = &msg->removed[i];
		rc = tapir_journal_add_remove(b, sc, m->name, strlen(m->name),
			m->wildcard ? TAPIR_ENTRY_SUBTREE : 0);
	}
	tapir__eng_journal_append(e, rc);
}

static void
apply(struct tapir_engine *e, int src, const struct tapir_msg *msg)
{
	int64_t now = e->now();
	enum tapir_action before;
	struct purges unallowed = { 0 };

	journal_msg(e, src, msg, now);
	for (size_t i = 0; i < msg->n_added; i++) {
		const struct tapir_msg_entry *m = &msg->added[i];
		struct tapir_entry ent;
		int64_t expiry = msg_entry(src, msg, m, &ent);
		int rc;
		if (expiry <= now) {
			count(e, TAPIR_C_ENTRY_ALREADY_EXPIRED, 1);
			tapir__eng_log_reject(e, TAPIR_C_ENTRY_ALREADY_EXPIRED,
				"%s expired %llds ago", m->name,
				(long long)(now - expiry));
			continue;
		}
		before = tapir__eng_decide_now(e, m->name, now);
		rc = tapir_db_set(e->db, m->name, strlen(m->name), &ent);
		if (rc == 0) {
			/* One decision after the change: counted and purged. */
			enum tapir_action after =
				tapir__eng_decide_now(e, m->name, now);
			count(e, TAPIR_C_ENTRY_ADDED, 1);
			atomic_fetch_add(&e->per_source[src].added, 1);
			if (after != before)
				count(e, TAPIR_C_DECISION_CHANGES, 1);
			tapir__eng_purge_decided(
				e, m->name, m->wildcard, after);
		} else {
			count(e, TAPIR_C_ENTRY_DB_FULL, 1);
			tapir__eng_log_reject(e, TAPIR_C_ENTRY_DB_FULL,
				"%s: %s", m->name, tapir_strerror(rc));
		}
	}
	for (size_t i = 0; i < msg->n_removed; i++) {
		const struct tapir_msg_entry *m = &msg->removed[i];
		before = tapir__eng_decide_now(e, m->name, now);
		if (tapir__eng_remove_entry(e, src, m->name,
			    m->wildcard ? TAPIR_ENTRY_SUBTREE : 0,
			    &unallowed) == 0) {
			count(e, TAPIR_C_ENTRY_REMOVED, 1);
			atomic_fetch_add(&e->per_source[src].removed, 1);
			if (tapir__eng_decide_now(e, m->name, now) != before)
				count(e, TAPIR_C_DECISION_CHANGES, 1);
		}
	}
	tapir__eng_purges_end(e, &unallowed);
	if (msg->n_invalid) {
		count(e, TAPIR_C_ENTRY_INVALID, msg->n_invalid);
		tapir__eng_log_reject(e, TAPIR_C_ENTRY_INVALID,
			"%zu entries dropped: %s", msg->n_invalid,
			msg->first_invalid);
	}
}

/*
 * Replay protection. A signed message stays valid for ever, so anyone who
 * captured one (a `removed`, an older `added` with fewer tags) could
 * publish it again and roll a decision back. The message's own timestamp,
 * inside what is signed, says when it was sent:
 *  - a message older than limits.max-message-age, or further ahead of
 *    this clock than limits.max-message-ahead, is refused (bounds that a
 *    message's age makes sense within: the core re-sends what changes);
 *  - per source, a message more than STALE_WINDOW_S older than the newest
 *    one already applied is refused.
 * The second is a high-water mark per source, not a timestamp per name:
 * one int64 per source instead of 8 bytes on each of millions of entries
 * (and a record of names already removed, which a replayed `added` would
 * need), and the core sends one source's messages from one publisher in
 * time order over one MQTT session, which keeps them in order. The window
 * lets through what does arrive out of order (several publishers for one
 * source, whose clocks and send paths differ by a second or two, and
 * timestamps cut to the second); what it leaves open is a replay of a
 * message at most STALE_WINDOW_S older than the newest applied, which can
 * only repeat a change that recent. The mark never runs ahead of this
 * clock, so one message stamped in the future cannot lock a source out;
 * after a restart it starts from the newest time_added of the entries the
 * state file restored (seed_newest_msg()), a time no later than the
 * messages that carried them.
 */
#define STALE_WINDOW_S 10

static bool
is_stale(struct tapir_engine *e, int src, const struct tapir_msg *msg,
	char *why, size_t size)
{
	const struct tapir_config *cfg = wcfg(e);
	int64_t now = e->now(), ts = msg->timestamp;
	int64_t age = cfg->limits.max_message_age;
	int64_t ahead = cfg->limits.max_message_ahead;

	if (!msg->has_timestamp) {
		if (!age)
			return false;
		snprintf(
			why, size, "no valid timestamp, so its age is unknown");
		return true;
	}
	if (age && ts < now - age) {
		snprintf(why, size,
			"sent %llds ago, more than max-message-age %llds",
			(long long)(now - ts), (long long)age);
		return true;
	}
	if (ahead && ts > now + ahead) {
		snprintf(why, size,
			"sent %llds ahead of this clock, more than "
			"max-message-ahead %llds",
			(long long)(ts - now), (long long)ahead);
		return true;
	}
	if (ts < e->newest_msg[src] - STALE_WINDOW_S) {
		snprintf(why, size,
			"sent %llds before a message already applied",
			(long long)(e->newest_msg[src] - ts));
		return true;
	}
	return false;
}

static void
note_applied(struct tapir_engine *e, int src, const struct tapir_msg *msg)
{
	int64_t ts = msg->timestamp, now = e->now();

	if (!msg->has_timestamp)
		return;
	if (ts > now)
		ts = now;
	if (ts > e->newest_msg[src])
		e->newest_msg[src] = ts;
}

static int
seed_entry(void *arg, const char *name, size_t len,
	const struct tapir_entry *ent, size_t n)
{
	struct tapir_engine *e = arg;
	const struct tapir_config *cfg = wcfg(e);

	(void)name;
	(void)len;
	for (size_t i = 0; i < n; i++)
		if (ent[i].source < cfg->n_sources &&
			cfg->sources[ent[i].source].type == TAPIR_SOURCE_MQTT &&
			ent[i].added > e->newest_msg[ent[i].source])
			e->newest_msg[ent[i].source] = ent[i].added;
	return 0;
}

/* After the state file is loaded: each MQTT source's high-water mark from
 * the entries it restored, so that a restart does not reopen replays. */
static void
seed_newest_msg(struct tapir_engine *e)
{
	int64_t now = e->now();

	(void)tapir_db_walk(e->db, seed_entry, e);
	for (size_t i = 0; i < TAPIR_MAX_SOURCES; i++)
		if (e->newest_msg[i] > now)
			e->newest_msg[i] = now;
}

static int
process_msg(struct tapir_engine *e, const char *topic, const void *payload,
	size_t len, int *src_out)
{
	const struct tapir_config *cfg = wcfg(e);
	struct tapir_error err = { 0 };
	struct tapir_msg msg;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	char kid[128] = "", why[120];
	int src, rc;

	if (!cfg)
		return TAPIR_ECONFIG;
	if (*src_out == SRC_BY_TOPIC)
		*src_out = tapir_mqtt_source_for_topic(cfg, topic);
	if ((src = *src_out) < 0 || (size_t)src >= cfg->n_sources ||
		cfg->sources[src].type != TAPIR_SOURCE_MQTT) {
		*src_out = -1;
		count(e, TAPIR_C_REJ_NO_SOURCE, 1);
		tapir__eng_log_reject(e, TAPIR_C_REJ_NO_SOURCE,
			"no source subscribes to topic %s", topic);
		return TAPIR_ESOURCE;
	}
	if (!e->keys &&
		tapir_monotonic_ms() - e->keys_tried_ms >= KEYS_RETRY_MS)
		tapir__eng_load_keys(e);
	if (!e->keys) {
		count(e, TAPIR_C_REJ_NO_KEYS, 1);
		tapir__eng_log_reject(
			e, TAPIR_C_REJ_NO_KEYS, "no trusted keys loaded");
		return TAPIR_ENOKEY;
	}
	rc = tapir_jws_verify(
		e->keys, payload, len, &plain, &plain_len, kid, &err);
	if (rc != 0) {
		enum tapir_counter c = jws_counter(rc);
		count(e, c, 1);
		tapir__eng_log_reject(e, c, "source %s, topic %s, kid '%s': %s",
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
		tapir__eng_log_reject(e, c, "source %s, kid %s: %s",
			cfg->sources[src].name, kid, err.text);
		return rc;
	}
	if (strcmp(msg.src_name, cfg->sources[src].name) != 0) {
		count(e, TAPIR_C_REJ_WRONG_SOURCE, 1);
		tapir__eng_log_reject(e, TAPIR_C_REJ_WRONG_SOURCE,
			"message for source '%s' on topic %s of source %s",
			msg.src_name, topic, cfg->sources[src].name);
		tapir_msg_clear(&msg);
		return TAPIR_ESOURCE;
	}
	/* A source feeds one list: a doubtlist feed cannot allowlist. */
	if (msg.list != cfg->sources[src].list) {
		count(e, TAPIR_C_REJ_WRONG_LIST, 1);
		tapir__eng_log_reject(e, TAPIR_C_REJ_WRONG_LIST,
			"source %s feeds the %s, message is for the %s",
			cfg->sources[src].name,
			tapir_list_str(cfg->sources[src].list),
			tapir_list_str(msg.list));
		tapir_msg_clear(&msg);
		return TAPIR_ELIST;
	}
	if (is_stale(e, src, &msg, why, sizeof(why))) {
		count(e, TAPIR_C_REJ_STALE, 1);
		tapir__eng_log_reject(e, TAPIR_C_REJ_STALE,
			"source %s, kid %s: message %s", cfg->sources[src].name,
			kid, why);
		tapir_msg_clear(&msg);
		return TAPIR_ERANGE;
	}
	apply(e, src, &msg);
	note_applied(e, src, &msg);
	tapir_msg_clear(&msg);
	e->state_dirty = true;
	count(e, TAPIR_C_MSG_ACCEPTED, 1);
	return 0;
}

/* Writer: verify, parse and apply one message of source src (or
 * SRC_BY_TOPIC), and count it for its source. */
static int
process(struct tapir_engine *e, int src, const char *topic, const void *payload,
	size_t len)
{
	int rc = process_msg(e, topic, payload, len, &src);

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

int
tapir_engine_process(struct tapir_engine *e, const char *topic,
	const void *payload, size_t len)
{
	return process(e, SRC_BY_TOPIC, topic, payload, len);
}

static void
publish_db_stats(struct tapir_engine *e)
{
	struct tapir_db_stats st;

	tapir_db_stats(e->db, &st);
	atomic_store(&e->db_names, st.names);
	atomic_store(&e->db_entries, st.entries);
	atomic_store(&e->db_bytes, st.bytes);
	tapir__eng_metrics_publish(e);
}

void *
tapir__eng_writer_main(void *arg)
{
	struct tapir_engine *e = arg;
	int64_t last_expire = 0;

	tapir_thread_background("tapir-writer");

	/* Before the first message: what the last load knew, and the files.
	 * Unbound answers meanwhile (passing what is not loaded yet). */
	tapir__eng_state_load(e);
	seed_newest_msg(e);
	tapir__eng_overrides_load(e);
	tapir__eng_files_check(e, true);
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
			tapir_deadline_ms(&ts, 1000);
			pthread_cond_timedwait(&e->qcond, &e->qlock, &ts);
		}
		/* Stopping: what is queued is applied first. The MQTT
		 * thread is joined, so nothing more comes; its QoS 1
		 * messages are acknowledged already, and the next load (an
		 * Unbound reload) finds them in the state file. */
		if (e->stop && !e->qhead) {
			pthread_mutex_unlock(&e->qlock);
			break;
		}
		batch = e->qhead;
		e->qhead = e->qtail = NULL;
		e->qlen = 0;
		e->qbytes = 0;
		pthread_cond_broadcast(&e->rcond);
		pthread_mutex_unlock(&e->qlock);

		/* A burst's purges wake the purger once, after the batch. */
		if (e->purger && batch)
			tapir_purger_hold(e->purger);
		while (batch) {
			struct qmsg *next = batch->next;
			if (batch->job) {
				bool withdrawn;
				pthread_mutex_lock(&e->qlock);
				withdrawn = batch->job_withdrawn;
				batch->job_started = !withdrawn;
				pthread_mutex_unlock(&e->qlock);
				/* Its submitter is gone, and so is its arg. */
				if (withdrawn) {
					free(batch);
					batch = next;
					continue;
				}
				batch->job(e, batch->job_arg);
				tapir_db_commit(e->db);
				publish_db_stats(e);
				pthread_mutex_lock(&e->qlock);
				*batch->job_done = true;
				pthread_cond_broadcast(&e->jcond);
				pthread_mutex_unlock(&e->qlock);
			} else {
				(void)process(e, batch->src, batch->topic,
					batch->data, batch->len);
			}
			free(batch);
			batch = next;
		}
		if (e->purger)
			tapir_purger_release(e->purger);
		if (tapir_monotonic_ms() - last_expire >= 1000) {
			size_t n = tapir_db_expire(e->db, e->now(),
				EXPIRE_SLOTS_PER_PASS, on_expired, e);
			count(e, TAPIR_C_ENTRY_EXPIRED, n);
			last_expire = tapir_monotonic_ms();
			tapir__eng_files_check(e, false);
		}
		if ((e->state_dirty || atomic_load(&e->serials_dirty)) &&
			tapir_monotonic_ms() - e->state_saved_ms >=
				STATE_SAVE_MS)
			tapir__eng_state_save(e);
		/* What an operator fixes shows in status within one retry
		 * interval, whether or not messages arrive meanwhile. */
		if (tapir_monotonic_ms() - e->keys_tried_ms >= KEYS_RETRY_MS &&
			tapir__eng_problem_is_set(e, PROBLEM_KEYS))
			tapir__eng_load_keys(e);
		if (tapir_monotonic_ms() - e->state_dir_tried_ms >=
				STATE_DIR_RETRY_MS &&
			tapir__eng_problem_is_set(e, PROBLEM_STATE_DIR))
			tapir__eng_state_dir_check(e);
		if (e->status_signer && e->mqtt &&
			tapir_monotonic_ms() - e->status_sent_ms >=
				(int64_t)wcfg(e)->core_status.interval * 1000)
			tapir__eng_core_status_send(e);
		tapir__eng_journal_tick(e);
		tapir__eng_metrics_tick(e);
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

/* Any thread: copy a message into the writer's queue, within the limits
 * of the snapshot in force: at most limits.queue-length messages holding
 * at most limits.queue-bytes between them (each counted with its topic
 * and bookkeeping, as allocated). By count alone, 10,000 messages of the
 * largest size (1 MiB) would be 10 GiB; by bytes, a burst of small
 * messages still fills the count first. */
static int
submit(struct tapir_engine *e, int src, const char *topic, const void *payload,
	size_t len)
{
	size_t tlen = strlen(topic), max_size, max_queue, max_bytes, size;
	struct tapir_runtime *rt;
	tapir_epoch_token tok;
	struct qmsg *q;
	bool acked, waited = false;

	/* An inactive engine has no limits and no writer to queue for. */
	if (!(rt = tapir__eng_rt_enter(e, &tok)))
		return TAPIR_ECONFIG;
	max_size = rt->cfg->limits.max_message_size;
	max_queue = rt->cfg->limits.queue_length;
	max_bytes = rt->cfg->limits.queue_bytes;
	/* A message of a QoS 1 or 2 subscription, acknowledged already. */
	acked = src >= 0 && (size_t)src < rt->cfg->n_sources &&
		rt->cfg->sources[src].type == TAPIR_SOURCE_MQTT &&
		rt->cfg->sources[src].qos > 0;
	tapir__eng_rt_exit(e, tok);
	count(e, TAPIR_C_MSG_RECEIVED, 1);
	if (len > max_size) {
		count(e, TAPIR_C_REJ_TOO_BIG, 1);
		return TAPIR_ETOOBIG;
	}
	size = sizeof(*q) + len + tlen + 2;
	if (!(q = malloc(size)))
		return TAPIR_ENOMEM;
	memset(q, 0, sizeof(*q));
	q->src = src;
	q->len = len;
	memcpy(q->data, payload, len);
	q->data[len] = '\0';
	q->topic = q->data + len + 1;
	memcpy(q->topic, topic, tlen + 1);

	pthread_mutex_lock(&e->qlock);
	/* qbytes may be over a limit a reload just lowered. An acknowledged
	 * message waits for the writer to take the queue up (it takes it
	 * whole); one that comes while destroy closes the door goes in over
	 * the limit, since there is at most one, and the writer applies
	 * the queue before it stops. */
	while (acked && e->writer_running && !e->closing && !e->stop &&
		(e->qlen >= max_queue || e->qbytes > max_bytes ||
			size > max_bytes - e->qbytes)) {
		waited = true;
		pthread_cond_wait(&e->rcond, &e->qlock);
	}
	if (waited)
		count(e, TAPIR_C_MQTT_QUEUE_WAITS, 1);
	if (!(acked && e->writer_running) &&
		(e->qlen >= max_queue || e->qbytes > max_bytes ||
			size > max_bytes - e->qbytes)) {
		pthread_mutex_unlock(&e->qlock);
		free(q);
		count(e, TAPIR_C_REJ_QUEUE_FULL, 1);
		return TAPIR_EFULL;
	}
	e->qbytes += size;
	enqueue_locked(e, q);
	pthread_mutex_unlock(&e->qlock);
	return 0;
}

int
tapir_engine_submit(struct tapir_engine *e, const char *topic,
	const void *payload, size_t len)
{
	return submit(e, SRC_BY_TOPIC, topic, payload, len);
}

void
tapir__eng_on_mqtt_message(
	void *arg, int src, const char *topic, const void *payload, size_t len)
{
	(void)submit(arg, src, topic, payload, len);
}

void
tapir__eng_on_mqtt_state(void *arg, bool connected, const char *reason)
{
	struct tapir_engine *e = arg;
	bool was;

	pthread_mutex_lock(&e->qlock);
	was = e->mqtt_connected;
	e->mqtt_connected = connected;
	if (connected)
		e->mqtt_down_since = 0;
	else if (was || !e->mqtt_down_since)
		e->mqtt_down_since = e->now();
	snprintf(e->mqtt_state, sizeof(e->mqtt_state), "%s", reason);
	pthread_mutex_unlock(&e->qlock);
	if (connected) {
		count(e, TAPIR_C_MQTT_CONNECTS, 1);
		tapir_log(TAPIR_LOG_INFO, "mqtt: %s to %s:%d", reason,
			e->mqtt_rt->cfg->mqtt.host, e->mqtt_rt->cfg->mqtt.port);
	} else if (was) {
		count(e, TAPIR_C_MQTT_DISCONNECTS, 1);
		tapir_log(TAPIR_LOG_WARN, "mqtt: %s", reason);
	}
}

/*
 * Run fn on the writer thread (the only one that may change the database)
 * and wait for it; inline when no writer runs (tests, before start). With
 * timeout_ms >= 0, a job the writer has not taken up by then (it is busy
 * with a large file or transfer) is withdrawn and never runs: the caller
 * can then say so and return, and fn's arg, which may live on the caller's
 * stack, is never touched again. A job already taken up is waited for: it
 * cannot be stopped half-way.
 * @return: 0 when fn ran, TAPIR_ETIMEDOUT when withdrawn, TAPIR_ENOMEM
 *	or TAPIR_EIO (the writer stops) when it could not be queued.
 */
int
tapir__eng_run_on_writer_within(struct tapir_engine *e,
	void (*fn)(struct tapir_engine *, void *), void *arg, int timeout_ms)
{
	struct timespec until;
	struct qmsg *q;
	bool done = false;
	int rc = 0;

	if (!e->writer_running) {
		fn(e, arg);
		return 0;
	}
	if (!(q = calloc(1, sizeof(*q))))
		return TAPIR_ENOMEM;
	q->job = fn;
	q->job_arg = arg;
	q->job_done = &done;
	q->topic = "";
	/* jcond waits on CLOCK_REALTIME, its default. */
	tapir_deadline_ms(&until, timeout_ms);
	pthread_mutex_lock(&e->qlock);
	if (e->stop) {
		pthread_mutex_unlock(&e->qlock);
		free(q);
		return TAPIR_EIO;
	}
	enqueue_locked(e, q);
	while (!done) {
		if (timeout_ms < 0 || q->job_started) {
			pthread_cond_wait(&e->jcond, &e->qlock);
			continue;
		}
		if (pthread_cond_timedwait(&e->jcond, &e->qlock, &until) ==
				ETIMEDOUT &&
			!done && !q->job_started) {
			/* Still queued, or in the writer's batch: the writer
			 * frees it when it comes to it. */
			q->job_withdrawn = true;
			rc = TAPIR_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&e->qlock);
	return rc;
}

void
tapir__eng_run_on_writer(struct tapir_engine *e,
	void (*fn)(struct tapir_engine *, void *), void *arg)
{
	(void)tapir__eng_run_on_writer_within(e, fn, arg, -1);
}
