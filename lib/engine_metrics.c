/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Metrics in Prometheus's text exposition format (version 0.0.4): the
 * answer to the metrics control command, and the file the writer replaces
 * every metrics.interval seconds for node_exporter's textfile collector
 * (metrics.textfile). One function writes both, so they cannot differ.
 * The file lives while the module runs: it is removed at destroy and when
 * a reload names another, so that node_exporter never serves the numbers
 * of a module that is gone as current.
 *
 * Names follow Prometheus's conventions: the tapir_pop_ prefix, base
 * units (seconds, bytes), counters end in _total, gauges do not; every
 * family has its HELP and TYPE lines, also while it has no sample. Label
 * values come from bounded sets only: actions, rules, reasons, and the
 * configuration's sources with their list and type. Never a domain name
 * or a client: the number of series follows the configuration, not the
 * traffic, and the file holds nothing private.
 *
 * The counters are those of stats. Nothing here resets them; stats does,
 * which Prometheus's rate() and increase() take for a counter reset (a
 * monitoring system should read metrics or stats_noreset, never stats).
 *
 * Thread safety: tapir__eng_metrics() runs on the control thread and
 * reads what status reads: atomics, and what slock and qlock cover, one
 * lock at a time. The writer writes the textfile with the same text,
 * reading the database's figures itself. publish() and tick() are the
 * writer's.
 */
#include "tapir_build.h"

#include <errno.h>

#include "lib/engine_impl.h"

_Static_assert(TAPIR_MAX_SOURCES <= TAPIR_DB_COUNTED_SOURCES,
	"every source's entries are counted by the database");

/* Label values longer than this are cut (source and rule names are at most
 * 63 bytes, escaped at most twice that). */
#define LABEL_MAX 160

static void
family(struct tapir_buf *out, const char *name, const char *type,
	const char *help)
{
	tapir_buf_printf(
		out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format writes it: backslash, double quote and
 * newline escaped. The configuration allows none of them in the names
 * used here; the format holds whatever comes. */
static const char *
esc(const char *s, char *buf, size_t size)
{
	size_t at = 0;

	for (; *s && at + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			buf[at++] = '\\';
			buf[at++] = *s;
		} else if (*s == '\n') {
			buf[at++] = '\\';
			buf[at++] = 'n';
		} else {
			buf[at++] = *s;
		}
	}
	buf[at] = '\0';
	return buf;
}

/* name{labels} value; labels "" for none. */
static void
sample(struct tapir_buf *out, const char *name, const char *labels,
	unsigned long long v)
{
	tapir_buf_printf(out, "%s%s%s%s %llu\n", name, labels[0] ? "{" : "",
		labels, labels[0] ? "}" : "", v);
}

static void
sample_i(struct tapir_buf *out, const char *name, const char *labels,
	long long v)
{
	tapir_buf_printf(out, "%s%s%s%s %lld\n", name, labels[0] ? "{" : "",
		labels, labels[0] ? "}" : "", v);
}

static uint64_t
counter(struct tapir_engine *e, enum tapir_counter c)
{
	return atomic_load_explicit(&e->counters[c], memory_order_relaxed);
}

/* Action names in lower case, as label values are written. */
static const char *
lower(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	buf[i] = '\0';
	return buf;
}

static const char *
source_type(const struct tapir_source_config *sc)
{
	return (int)sc->type == SOURCE_OVERRIDE
		       ? "override"
		       : tapir_source_type_str(sc->type);
}

/* A family of one sample a source, labelled source="NAME" and, by what
 * its samples say, the list the source feeds or its type. */
struct source_family {
	const char *name, *type, *help;
	enum { BY_NAME, BY_LIST, BY_TYPE } labels;
	/* Source i's value; false leaves the source out (a message family
	 * has no file source, a feed time no override). arg: the caller's.
	 * Values are never negative: one format writes them all. */
	bool (*value)(struct tapir_engine *e, const struct tapir_config *cfg,
		size_t i, const void *arg, unsigned long long *v);
};

static void
source_family(struct tapir_engine *e, const struct tapir_config *cfg,
	const struct source_family *f, const void *arg, struct tapir_buf *out)
{
	char l[3 * LABEL_MAX], v[LABEL_MAX];
	unsigned long long x;

	family(out, f->name, f->type, f->help);
	for (size_t i = 0; cfg && i < cfg->n_sources; i++) {
		const struct tapir_source_config *sc = &cfg->sources[i];

		if (!f->value(e, cfg, i, arg, &x))
			continue;
		esc(sc->name, v, sizeof(v));
		if (f->labels == BY_LIST)
			snprintf(l, sizeof(l), "source=\"%s\",list=\"%s\"", v,
				tapir_list_str(sc->list));
		else if (f->labels == BY_TYPE)
			snprintf(l, sizeof(l), "source=\"%s\",type=\"%s\"", v,
				source_type(sc));
		else
			snprintf(l, sizeof(l), "source=\"%s\"", v);
		sample(out, f->name, l, x);
	}
}

/* What the database holds, as the writer last published it; read from the
 * database itself by the writer, and before start, when the caller is the
 * only thread (tests, as tapir_engine_process()). */
struct db_figures {
	size_t names, entries, bytes;
	size_t by_source[TAPIR_MAX_SOURCES];
};

static void
db_figures(struct tapir_engine *e, bool direct, struct db_figures *d)
{
	struct tapir_db_stats st;

	memset(d, 0, sizeof(*d));
	if (direct && e->db) {
		tapir_db_stats(e->db, &st);
		d->names = st.names;
		d->entries = st.entries;
		d->bytes = st.bytes;
		for (int i = 0; i < TAPIR_MAX_SOURCES; i++)
			d->by_source[i] =
				tapir_db_source_entries(e->db, (uint16_t)i);
		return;
	}
	d->names = atomic_load(&e->db_names);
	d->entries = atomic_load(&e->db_entries);
	d->bytes = atomic_load(&e->db_bytes);
	for (int i = 0; i < TAPIR_MAX_SOURCES; i++)
		d->by_source[i] = atomic_load_explicit(
			&e->per_source[i].entries, memory_order_relaxed);
}

/* arg: the answer counters summed over the slots. */
static bool
source_answers_value(struct tapir_engine *e, const struct tapir_config *cfg,
	size_t i, const void *arg, unsigned long long *v)
{
	const uint64_t *n = arg;

	(void)e;
	(void)cfg;
	*v = n[SOURCE_BASE + i];
	return true;
}

static const struct source_family source_answers = {
	.name = "tapir_pop_source_answers_total",
	.type = "counter",
	.help = "Answers whose decision counted entries of this source, blocked or not (allowlist sources count the answers they let through).",
	.labels = BY_LIST,
	.value = source_answers_value,
};

static void
answers(struct tapir_engine *e, const struct tapir_runtime *rt,
	struct tapir_buf *out)
{
	const struct tapir_config *cfg = rt ? rt->cfg : NULL;
	uint64_t n[SLOT_COUNTERS] = { 0 };
	char l[2 * LABEL_MAX], v[LABEL_MAX];

	for (int s = 0; s < ANSWER_SLOTS; s++)
		for (int a = 0; a < SLOT_COUNTERS; a++)
			n[a] += atomic_load_explicit(
				&e->answers[s].n[a], memory_order_relaxed);
	family(out, "tapir_pop_answers_total", "counter",
		"Queries the module answered, by the action taken (pass: the name is in no list that decides; passthru: allowlisted).");
	for (int a = 0; a < TAPIR_ACTION_COUNT; a++) {
		snprintf(l, sizeof(l), "action=\"%s\"",
			lower(tapir_action_str(a), v, sizeof(v)));
		sample(out, "tapir_pop_answers_total", l, n[a]);
	}
	family(out, "tapir_pop_would_block_answers_total", "counter",
		"Answers that log-only rules or sources would have blocked (answered normally).");
	sample(out, "tapir_pop_would_block_answers_total", "", n[WOULD_BLOCK]);
	family(out, "tapir_pop_blocked_answers_total", "counter",
		"Blocked answers (redirect, nodata, nxdomain, drop), by the rule that decided.");
	/* As stats: the built-in rules that block, then the named ones. */
	for (int r = TAPIR_RULE_ALLOWLIST + 1;
		cfg && r < TAPIR_RULE_NAMED + TAPIR_MAX_RULES; r++) {
		if (r >= TAPIR_RULE_COUNT && r < TAPIR_RULE_NAMED)
			continue;
		if (r >= TAPIR_RULE_NAMED &&
			(size_t)(r - TAPIR_RULE_NAMED) >= cfg->policy.n_rules)
			break;
		snprintf(l, sizeof(l), "rule=\"%s\"",
			esc(tapir_policy_rule_name(rt->policy, r), v,
				sizeof(v)));
		sample(out, "tapir_pop_blocked_answers_total", l,
			n[RULE_BASE + r]);
	}
	source_family(e, cfg, &source_answers, n, out);
}

/* MQTT sources only: the others receive no message. */
static bool
source_accepted_value(struct tapir_engine *e, const struct tapir_config *cfg,
	size_t i, const void *arg, unsigned long long *v)
{
	(void)arg;
	if (cfg->sources[i].type != TAPIR_SOURCE_MQTT)
		return false;
	*v = atomic_load(&e->per_source[i].accepted);
	return true;
}

static bool
source_rejected_value(struct tapir_engine *e, const struct tapir_config *cfg,
	size_t i, const void *arg, unsigned long long *v)
{
	(void)arg;
	if (cfg->sources[i].type != TAPIR_SOURCE_MQTT)
		return false;
	*v = atomic_load(&e->per_source[i].rejected);
	return true;
}

static const struct source_family source_accepted = {
	.name = "tapir_pop_source_messages_accepted_total",
	.type = "counter",
	.help = "Messages accepted, by MQTT source.",
	.labels = BY_NAME,
	.value = source_accepted_value,
};

static const struct source_family source_rejected = {
	.name = "tapir_pop_source_messages_rejected_total",
	.type = "counter",
	.help = "Messages rejected, by the MQTT source they came for.",
	.labels = BY_NAME,
	.value = source_rejected_value,
};

static void
messages(struct tapir_engine *e, const struct tapir_config *cfg,
	struct tapir_buf *out)
{
	static const char rej[] = "msg.rejected.";
	char l[2 * LABEL_MAX], v[LABEL_MAX];

	family(out, "tapir_pop_messages_received_total", "counter",
		"MQTT messages received from the broker.");
	sample(out, "tapir_pop_messages_received_total", "",
		counter(e, TAPIR_C_MSG_RECEIVED));
	family(out, "tapir_pop_messages_accepted_total", "counter",
		"Messages verified and applied.");
	sample(out, "tapir_pop_messages_accepted_total", "",
		counter(e, TAPIR_C_MSG_ACCEPTED));
	family(out, "tapir_pop_messages_rejected_total", "counter",
		"Messages rejected whole, by reason (bad_signature, unknown_key, no_keys, queue_full, ...).");
	/* Every reason, also those never met, so that a query finds 0. */
	for (int c = 0; c < TAPIR_C_COUNT; c++) {
		const char *name = tapir_counter_str(c);
		if (strncmp(name, rej, sizeof(rej) - 1) != 0)
			continue;
		snprintf(l, sizeof(l), "reason=\"%s\"",
			esc(name + sizeof(rej) - 1, v, sizeof(v)));
		sample(out, "tapir_pop_messages_rejected_total", l,
			counter(e, c));
	}
	source_family(e, cfg, &source_accepted, NULL, out);
	source_family(e, cfg, &source_rejected, NULL, out);
}

/* arg: the struct db_figures. */
static bool
source_entries_value(struct tapir_engine *e, const struct tapir_config *cfg,
	size_t i, const void *arg, unsigned long long *v)
{
	const struct db_figures *d = arg;

	(void)e;
	(void)cfg;
	*v = d->by_source[i];
	return true;
}

static const struct source_family source_entries = {
	.name = "tapir_pop_entries",
	.type = "gauge",
	.help = "Entries the database holds, by source and the list it feeds.",
	.labels = BY_LIST,
	.value = source_entries_value,
};

static void
entries(struct tapir_engine *e, const struct tapir_config *cfg,
	const struct db_figures *d, struct tapir_buf *out)
{
	static const struct {
		enum tapir_counter c;
		const char *reason;
	} refused[] = {
		{ TAPIR_C_ENTRY_ALREADY_EXPIRED, "already_expired" },
		{ TAPIR_C_ENTRY_INVALID, "invalid" },
		{ TAPIR_C_ENTRY_DB_FULL, "db_full" },
	};
	char l[2 * LABEL_MAX];

	source_family(e, cfg, &source_entries, d, out);
	family(out, "tapir_pop_entries_added_total", "counter",
		"Entries added or replaced by MQTT messages.");
	sample(out, "tapir_pop_entries_added_total", "",
		counter(e, TAPIR_C_ENTRY_ADDED));
	family(out, "tapir_pop_entries_removed_total", "counter",
		"Entries removed by MQTT messages.");
	sample(out, "tapir_pop_entries_removed_total", "",
		counter(e, TAPIR_C_ENTRY_REMOVED));
	family(out, "tapir_pop_entries_expired_total", "counter",
		"Entries dropped when their time ran out.");
	sample(out, "tapir_pop_entries_expired_total", "",
		counter(e, TAPIR_C_ENTRY_EXPIRED));
	family(out, "tapir_pop_entries_refused_total", "counter",
		"Entries of accepted messages that were not applied, by reason.");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(l, sizeof(l), "reason=\"%s\"", refused[i].reason);
		sample(out, "tapir_pop_entries_refused_total", l,
			counter(e, refused[i].c));
	}
	family(out, "tapir_pop_database_names", "gauge",
		"Names with at least one entry.");
	sample(out, "tapir_pop_database_names", "", d->names);
	family(out, "tapir_pop_database_entries", "gauge",
		"Entries over all names and sources.");
	sample(out, "tapir_pop_database_entries", "", d->entries);
	family(out, "tapir_pop_database_memory_bytes", "gauge",
		"Memory the policy database holds.");
	sample(out, "tapir_pop_database_memory_bytes", "", d->bytes);
}

/* The wall time of a source's last new data: its last accepted message,
 * file load or good transfer; 0 when none yet. */
static int64_t
last_update(struct tapir_engine *e, const struct tapir_config *cfg, size_t i)
{
	int64_t t = 0;

	switch ((int)cfg->sources[i].type) {
	case TAPIR_SOURCE_MQTT:
		return atomic_load(&e->per_source[i].last_msg);
	case TAPIR_SOURCE_FILE:
		pthread_mutex_lock(&e->slock);
		t = e->files[i].loaded_at;
		pthread_mutex_unlock(&e->slock);
		return t;
	case TAPIR_SOURCE_XFR:
		pthread_mutex_lock(&e->slock);
		t = e->xfrs[i].last_ok;
		pthread_mutex_unlock(&e->slock);
		return t;
	default:
		return -1; /* overrides: no feed */
	}
}

/* Left out for a source with no feed (overrides). */
static bool
source_updated_value(struct tapir_engine *e, const struct tapir_config *cfg,
	size_t i, const void *arg, unsigned long long *v)
{
	int64_t t = last_update(e, cfg, i);

	(void)arg;
	if (t < 0)
		return false;
	*v = (unsigned long long)t;
	return true;
}

/* arg: the int64_t wall time now, one for every source. */
static bool
source_age_value(struct tapir_engine *e, const struct tapir_config *cfg,
	size_t i, const void *arg, unsigned long long *v)
{
	int64_t t = last_update(e, cfg, i);

	if (t < 0)
		return false;
	t = *(const int64_t *)arg - (t ? t : e->started);
	*v = (unsigned long long)(t > 0 ? t : 0);
	return true;
}

static const struct source_family source_updated = {
	.name = "tapir_pop_source_last_update_timestamp_seconds",
	.type = "gauge",
	.help = "When a source last brought data: its last accepted message, file load or good zone transfer (Unix time; 0: not since the module started).",
	.labels = BY_TYPE,
	.value = source_updated_value,
};

static const struct source_family source_age = {
	.name = "tapir_pop_source_last_update_age_seconds",
	.type = "gauge",
	.help = "Seconds since a source last brought data (since the module started when it has not).",
	.labels = BY_TYPE,
	.value = source_age_value,
};

static void
feed(struct tapir_engine *e, const struct tapir_config *cfg,
	struct tapir_buf *out)
{
	int64_t now = tapir_now();
	bool connected;
	size_t qlen;

	pthread_mutex_lock(&e->qlock);
	connected = e->mqtt_connected;
	qlen = e->qlen;
	pthread_mutex_unlock(&e->qlock);
	family(out, "tapir_pop_mqtt_connected", "gauge",
		"Whether the module is connected to the MQTT broker (1) or not (0).");
	sample(out, "tapir_pop_mqtt_connected", "", connected);
	family(out, "tapir_pop_mqtt_connects_total", "counter",
		"Connections made to the MQTT broker.");
	sample(out, "tapir_pop_mqtt_connects_total", "",
		counter(e, TAPIR_C_MQTT_CONNECTS));
	family(out, "tapir_pop_mqtt_disconnects_total", "counter",
		"Connections to the MQTT broker lost.");
	sample(out, "tapir_pop_mqtt_disconnects_total", "",
		counter(e, TAPIR_C_MQTT_DISCONNECTS));
	family(out, "tapir_pop_mqtt_queue_waits_total", "counter",
		"Acknowledged messages that waited for room in a full queue.");
	sample(out, "tapir_pop_mqtt_queue_waits_total", "",
		counter(e, TAPIR_C_MQTT_QUEUE_WAITS));
	family(out, "tapir_pop_queue_messages", "gauge",
		"Messages received and waiting for the writer thread.");
	sample(out, "tapir_pop_queue_messages", "", qlen);
	family(out, "tapir_pop_keys_loaded", "gauge",
		"Keys trusted to sign TAPIR messages (0: every message is rejected).");
	sample(out, "tapir_pop_keys_loaded", "", atomic_load(&e->n_keys));
	source_family(e, cfg, &source_updated, NULL, out);
	source_family(e, cfg, &source_age, &now, out);
	family(out, "tapir_pop_file_loads_total", "counter",
		"File sources loaded.");
	sample(out, "tapir_pop_file_loads_total", "",
		counter(e, TAPIR_C_FILE_LOADS));
	family(out, "tapir_pop_file_load_failures_total", "counter",
		"File source loads that failed (the last good data stays).");
	sample(out, "tapir_pop_file_load_failures_total", "",
		counter(e, TAPIR_C_FILE_FAILURES));
	family(out, "tapir_pop_file_bad_lines_total", "counter",
		"Lines of file sources skipped as invalid.");
	sample(out, "tapir_pop_file_bad_lines_total", "",
		counter(e, TAPIR_C_FILE_BAD_LINES));
	family(out, "tapir_pop_xfr_failures_total", "counter",
		"Zone transfers or checks that failed.");
	sample(out, "tapir_pop_xfr_failures_total", "",
		counter(e, TAPIR_C_XFR_FAILURES));
}

static void
purges(struct tapir_engine *e, struct tapir_buf *out)
{
	struct tapir_purger_stats ps = { 0 };

	if (e->purger)
		tapir_purger_stats(e->purger, &ps);
	family(out, "tapir_pop_decision_changes_total", "counter",
		"Names whose decision changed (each is purged from Unbound's cache).");
	sample(out, "tapir_pop_decision_changes_total", "",
		counter(e, TAPIR_C_DECISION_CHANGES));
	family(out, "tapir_pop_cache_purge_available", "gauge",
		"Whether cache purges reach Unbound (1) or not (0: see status).");
	sample(out, "tapir_pop_cache_purge_available", "", e->purger != NULL);
	family(out, "tapir_pop_cache_purge_requests_total", "counter",
		"Names queued to be purged from Unbound's cache.");
	sample(out, "tapir_pop_cache_purge_requests_total", "", ps.requested);
	family(out, "tapir_pop_cache_purges_total", "counter",
		"Purges sent to Unbound, by result (done, failed: retried then dropped, dropped).");
	sample(out, "tapir_pop_cache_purges_total", "result=\"done\"", ps.done);
	sample(out, "tapir_pop_cache_purges_total", "result=\"failed\"",
		ps.failed);
	sample(out, "tapir_pop_cache_purges_total", "result=\"dropped\"",
		ps.dropped);
	family(out, "tapir_pop_cache_purges_by_name_total", "counter",
		"Purges done by name alone, without walking Unbound's cache.");
	sample(out, "tapir_pop_cache_purges_by_name_total", "", ps.by_name);
	family(out, "tapir_pop_cache_purge_coalesced_total", "counter",
		"Names folded into one purge of the whole cache.");
	sample(out, "tapir_pop_cache_purge_coalesced_total", "", ps.coalesced);
	family(out, "tapir_pop_cache_purge_overflows_total", "counter",
		"Full purge queues turned into one purge of the whole cache.");
	sample(out, "tapir_pop_cache_purge_overflows_total", "", ps.overflows);
}

static void
state(struct tapir_engine *e, struct tapir_buf *out)
{
	int64_t saved;

	pthread_mutex_lock(&e->slock);
	saved = e->state_saved_at;
	pthread_mutex_unlock(&e->slock);
	family(out, "tapir_pop_state_saves_total", "counter",
		"State files saved (state-dir).");
	sample(out, "tapir_pop_state_saves_total", "",
		counter(e, TAPIR_C_STATE_SAVES));
	family(out, "tapir_pop_state_failures_total", "counter",
		"State files that could not be saved or loaded.");
	sample(out, "tapir_pop_state_failures_total", "",
		counter(e, TAPIR_C_STATE_FAILURES));
	family(out, "tapir_pop_journal_replayed_total", "counter",
		"Changes replayed from the journal beside the state file at start.");
	sample(out, "tapir_pop_journal_replayed_total", "",
		counter(e, TAPIR_C_JOURNAL_REPLAYED));
	family(out, "tapir_pop_journal_failures_total", "counter",
		"Journals that could not be written, or read at start.");
	sample(out, "tapir_pop_journal_failures_total", "",
		counter(e, TAPIR_C_JOURNAL_FAILURES));
	family(out, "tapir_pop_state_last_save_timestamp_seconds", "gauge",
		"When the state file was last saved (Unix time; 0: not since the module started).");
	sample_i(out, "tapir_pop_state_last_save_timestamp_seconds", "",
		(long long)saved);
	family(out, "tapir_pop_core_status_reports_total", "counter",
		"Health reports sent to the DNS TAPIR core.");
	sample(out, "tapir_pop_core_status_reports_total", "",
		counter(e, TAPIR_C_STATUS_SENT));
	family(out, "tapir_pop_control_refused_total", "counter",
		"Control commands refused to a peer without the privilege.");
	sample(out, "tapir_pop_control_refused_total", "",
		counter(e, TAPIR_C_CONTROL_REFUSED));
}

/* The problem: lines status shows (tapir-pop-control status exits 1). */
static size_t
problems(struct tapir_engine *e, const struct tapir_config *cfg)
{
	size_t n = 0;

	if (!cfg)
		return 1; /* the configuration did not load */
	pthread_mutex_lock(&e->slock);
	for (int p = 0; p < PROBLEM_COUNT; p++)
		n += e->problems[p][0] != '\0';
	for (size_t i = 0; i < cfg->n_sources; i++)
		n += cfg->sources[i].type == TAPIR_SOURCE_FILE &&
		     e->files[i].error[0];
	pthread_mutex_unlock(&e->slock);
	return n;
}

static void
metrics(struct tapir_engine *e, const struct tapir_runtime *rt, bool direct,
	struct tapir_buf *out)
{
	const struct tapir_config *cfg = rt ? rt->cfg : NULL;
	struct db_figures d;
	char v[LABEL_MAX], l[2 * LABEL_MAX];

	family(out, "tapir_pop_build_info", "gauge",
		"Always 1; the module's version in a label.");
	snprintf(l, sizeof(l), "version=\"%s\"",
		esc(PACKAGE_VERSION, v, sizeof(v)));
	sample(out, "tapir_pop_build_info", l, 1);
	family(out, "tapir_pop_active", "gauge",
		"Whether a configuration is loaded (1), or none is and every query passes (0).");
	sample(out, "tapir_pop_active", "", cfg != NULL);
	family(out, "tapir_pop_start_time_seconds", "gauge",
		"When the module started (Unix time): Unbound's start or reload.");
	sample_i(
		out, "tapir_pop_start_time_seconds", "", (long long)e->started);
	family(out, "tapir_pop_problems", "gauge",
		"Problems an operator must fix on this host: the problem: lines of tapir-pop-control status.");
	sample(out, "tapir_pop_problems", "", problems(e, cfg));
	answers(e, rt, out);
	messages(e, cfg, out);
	db_figures(e, direct, &d);
	entries(e, cfg, &d, out);
	feed(e, cfg, out);
	purges(e, out);
	state(e, out);
}

void
tapir__eng_metrics(struct tapir_engine *e, const struct tapir_runtime *rt,
	struct tapir_buf *out)
{
	/* Before start the caller is the writer (tapir_engine_process()). */
	metrics(e, rt, !e->writer_running, out);
}

void
tapir__eng_metrics_publish(struct tapir_engine *e)
{
	for (int i = 0; i < TAPIR_MAX_SOURCES; i++)
		atomic_store_explicit(&e->per_source[i].entries,
			tapir_db_source_entries(e->db, (uint16_t)i),
			memory_order_relaxed);
}

/* Writes the text into the temporary file. node_exporter reads it as a
 * user of its own: 0644 (it holds counts, no name and no client). */
static int
fill_textfile(void *arg, int fd, struct tapir_error *err)
{
	const struct tapir_buf *text = arg;
	size_t at = 0;

	(void)err;
	if (fchmod(fd, 0644) != 0)
		return errno;
	while (at < text->len) {
		ssize_t n = write(fd, text->data + at, text->len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		at += (size_t)n;
	}
	return 0;
}

/* A textfile the module no longer writes goes, so that node_exporter does
 * not serve its numbers as if they were current: at destroy (Unbound stops
 * or reloads) and when a reload names another file or none. */
void
tapir__eng_metrics_remove(struct tapir_engine *e)
{
	if (!e->metrics_path)
		return;
	if (unlink(e->metrics_path) != 0 && errno != ENOENT)
		tapir_log(TAPIR_LOG_WARN, "metrics: cannot remove %s: %s",
			e->metrics_path, strerror(errno));
	free(e->metrics_path);
	e->metrics_path = NULL;
}

void
tapir__eng_metrics_tick(struct tapir_engine *e)
{
	const struct tapir_config *cfg = wcfg(e);
	struct tapir_error err = { 0 };
	struct tapir_buf text = { 0 };
	int64_t now = tapir_monotonic_ms();
	int rc;

	if (e->metrics_path &&
		(!cfg || !cfg->metrics.textfile ||
			strcmp(cfg->metrics.textfile, e->metrics_path) != 0)) {
		tapir__eng_metrics_remove(e);
		e->metrics_written_ms = 0;
	}
	if (!cfg || !cfg->metrics.textfile) {
		/* A reload that turned it off takes its problem along. */
		if (e->metrics_failing) {
			tapir__eng_problem_clear(e, PROBLEM_METRICS);
			e->metrics_failing = false;
		}
		return;
	}
	if (e->metrics_written_ms &&
		now - e->metrics_written_ms <
			(int64_t)cfg->metrics.interval * 1000)
		return;
	e->metrics_written_ms = now;
	metrics(e, wrt(e), true, &text);
	if (text.failed)
		rc = tapir_error_set(&err, TAPIR_ENOMEM, 0, "out of memory");
	else
		rc = tapir_fileio_write_atomic(
			cfg->metrics.textfile, fill_textfile, &text, &err);
	tapir_buf_clear(&text);
	if (rc != 0) {
		/* Logged when the reason changes, not at every interval. */
		if (tapir__eng_problem_set(e, PROBLEM_METRICS,
			    "metrics.textfile: cannot write %s: %s",
			    cfg->metrics.textfile, err.text))
			tapir_log(TAPIR_LOG_ERR,
				"metrics: cannot write %s: %s (tried again every %u s)",
				cfg->metrics.textfile, err.text,
				cfg->metrics.interval);
		e->metrics_failing = true;
		return;
	}
	/* Without memory for the path, the file stays at destroy: stale
	 * numbers, which node_textfile_mtime_seconds shows as such. */
	if (!e->metrics_path)
		e->metrics_path = strdup(cfg->metrics.textfile);
	if (e->metrics_failing) {
		tapir__eng_problem_clear(e, PROBLEM_METRICS);
		tapir_log(TAPIR_LOG_INFO, "metrics: %s written again",
			cfg->metrics.textfile);
		e->metrics_failing = false;
	}
}
