/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/engine_metrics.c: the metrics command, in the Prometheus
 * text exposition format, and the file the writer thread keeps for
 * node_exporter's textfile collector (metrics.textfile).
 *
 * Every answer is read by a checker of the format as Prometheus reads it:
 * each family has a HELP line and then a TYPE line before its samples,
 * its samples follow together, names match ^tapir_pop_[a-z_]+$, counters
 * end in _total and gauges do not, labels are name="value" with valid
 * escapes, values are numbers, no series is given twice. Beyond the
 * format they prove that the numbers are the engine's: answers by action,
 * by the rule that blocked and by the source whose entries decided;
 * messages accepted and rejected by reason; entries per source and list;
 * that reading them resets nothing; that a peer without privileges may
 * read them; that an inactive engine still answers (active 0); and that
 * a started engine writes the same text to its textfile, readable by
 * node_exporter's user, and that one it cannot write is a problem of
 * status.
 *
 * Like tests/unit/test_engine.c, each test makes a fresh Ed25519 key and
 * signs its own messages; the engine is not started unless a test says
 * so, and messages go through tapir_engine_process() on a fake clock.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/engine.h"
#include "lib/jws.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

#define TOPIC "observations/down/tapir-pop"
#define KID   "test-key"

/* 2026-07-20T09:15:00Z: entries are added at T0, the clock reads NOW. */
#define T0  INT64_C(1784538900)
#define NOW (T0 + 60)

#define TAG_LIKELYMALWARE 16u

/* The engine's threads read it while a test moves it on. */
static _Atomic int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

struct fixture {
	char dir[64];
	char keys_path[128];
	char prom_path[128];
	struct tapir_signer *signer;
	struct tapir_engine *e;
};

/*
 * An engine with one MQTT source "dns-tapir" (doubtlist) whose
 * likelymalware entries are NXDOMAIN (denytapir), one file source
 * "local-deny" (denylist, its file absent); extra is appended.
 */
static struct tapir_engine *
engine_with(struct fixture *f, const char *extra)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"  reconnect-min: 1\n"
		"  reconnect-max: 2\n"
		"keys: %s\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    type: mqtt\n"
		"    list: doubtlist\n"
		"    topics: [" TOPIC "]\n"
		"  - name: local-deny\n"
		"    type: file\n"
		"    list: denylist\n"
		"    path: %s/deny.txt\n"
		"policy:\n"
		"  doubtlist:\n"
		"    denytapir: { tags: [likelymalware], action: NXDOMAIN }\n"
		"%s",
		f->keys_path, f->dir, extra ? extra : "");
	return fixture_engine_yaml(yaml);
}

/* Keys and a directory, no engine yet. */
static int
setup_keys(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tapir_error err = { 0 };
	char jwk[512], pub[512];

	if (!f)
		return -1;
	tapir_log_set(fixture_quiet_log, NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-metrics-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->keys_path, sizeof(f->keys_path), "%s/keys.json", f->dir);
	snprintf(f->prom_path, sizeof(f->prom_path), "%s/tapir-pop.prom",
		f->dir);
	fixture_make_key(KID, jwk, sizeof(jwk), pub, sizeof(pub));
	if (!(f->signer = tapir_signer_load(jwk, strlen(jwk), &err)))
		fail_msg("tapir_signer_load: %s", err.text);
	fixture_write_file(f->keys_path, pub);
	fake_now = NOW;
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f;

	if (setup_keys(state) != 0)
		return -1;
	f = *state;
	f->e = engine_with(f, NULL);
	tapir_engine_set_clock(f->e, fake_clock);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];

	tapir_engine_destroy(f->e);
	tapir_signer_destroy(f->signer);
	unlink(f->keys_path);
	unlink(f->prom_path);
	snprintf(path, sizeof(path), "%s/deny.txt", f->dir);
	unlink(path);
	rmdir(f->dir);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

/* A signed TapirMsg of dns-tapir: added and removed are JSON arrays. */
static int
process_msg(struct fixture *f, const char *added, const char *removed)
{
	char msg[2048], *jws = NULL;
	size_t len;
	int rc;

	snprintf(msg, sizeof(msg),
		"{\"src_name\":\"dns-tapir\",\"creator\":\"unit-test\","
		"\"msg_type\":\"observation\",\"list_type\":\"doubtlist\","
		"\"added\":%s,\"removed\":%s,\"msg\":\"\","
		"\"timestamp\":\"2026-07-20T09:15:00Z\",\"time_str\":\"\"}",
		added, removed);
	assert_int_equal(tapir_jws_sign(f->signer, (const uint8_t *)msg,
				 strlen(msg), false, &jws, &len),
		0);
	rc = tapir_engine_process(f->e, TOPIC, jws, len);
	free(jws);
	return rc;
}

/* One name, added at T0 for an hour with tags; must be accepted. */
static void
observe(struct fixture *f, const char *name, uint32_t tags)
{
	char added[256];

	snprintf(added, sizeof(added),
		"[{\"name\":\"%s\",\"time_added\":\"2026-07-20T09:15:00Z\","
		"\"ttl\":3600,\"tag_mask\":%u,\"extended_tags\":[]}]",
		name, tags);
	assert_int_equal(process_msg(f, added, "[]"), 0);
}

/* A query for a dotted name, as Unbound's worker asks. */
static enum tapir_action
query(struct fixture *f, const char *name)
{
	uint8_t wire[256];
	size_t at = 0;
	struct tapir_answer a;

	for (const char *l = name; *l;) {
		const char *dot = strchr(l, '.');
		size_t n = dot ? (size_t)(dot - l) : strlen(l);
		wire[at++] = (uint8_t)n;
		memcpy(wire + at, l, n);
		at += n;
		l += n + (dot != NULL);
	}
	wire[at++] = 0;
	return tapir_engine_query(f->e, wire, at, 1, 0, &a);
}

/* ---- the format, as Prometheus reads it ---- */

static bool
metric_name_ok(const char *s, size_t n)
{
	if (n <= 10 || strncmp(s, "tapir_pop_", 10) != 0)
		return false;
	for (size_t i = 10; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return false;
	return true;
}

static bool
ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);

	return n >= t && !strncmp(s + n - t, tail, t);
}

/* name="value",...} : returns the byte after '}', or NULL. */
static const char *
check_labels(const char *p, const char *line)
{
	for (;;) {
		const char *k = p;
		while ((*p >= 'a' && *p <= 'z') || *p == '_')
			p++;
		if (p == k || p[0] != '=' || p[1] != '"')
			fail_msg("bad label name in: %s", line);
		for (p += 2; *p != '"'; p++) {
			if (!*p || *p == '\n')
				fail_msg("unterminated label value: %s", line);
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					fail_msg("bad escape in: %s", line);
			}
		}
		p++;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			fail_msg("bad label list in: %s", line);
		p++;
	}
}

struct family {
	char name[128];
	char type[16];
	size_t samples;
};

/*
 * Checks text against the exposition format (see the file's comment) and
 * returns the number of families; their names and types go into fam.
 */
static size_t
check_format(const char *text, struct family *fam, size_t max)
{
	char **series = NULL;
	size_t n_series = 0, n = 0;
	struct family *cur = NULL;
	char line[1024];

	assert_non_null(text);
	assert_true(strlen(text) > 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			const char *name = line + 7, *sp = strchr(name, ' ');
			if (!sp || !metric_name_ok(name, (size_t)(sp - name)) ||
				!sp[1])
				fail_msg("bad HELP line: %s", line);
			for (size_t i = 0; i < n; i++)
				if (strlen(fam[i].name) ==
						(size_t)(sp - name) &&
					!strncmp(fam[i].name, name,
						(size_t)(sp - name)))
					fail_msg(
						"family given twice: %s", line);
			assert_true(n < max);
			cur = &fam[n++];
			memset(cur, 0, sizeof(*cur));
			memcpy(cur->name, name, (size_t)(sp - name));
			/* TYPE must come next. */
			nl = strchr(p, '\n');
			assert_non_null(nl);
			len = (size_t)(nl - p);
			assert_true(len < sizeof(line));
			memcpy(line, p, len);
			line[len] = '\0';
			p = nl + 1;
			if (strncmp(line, "# TYPE ", 7) ||
				strncmp(line + 7, cur->name,
					strlen(cur->name)) ||
				line[7 + strlen(cur->name)] != ' ')
				fail_msg(
					"HELP of %s not followed by its TYPE: %s",
					cur->name, line);
			snprintf(cur->type, sizeof(cur->type), "%s",
				line + 8 + strlen(cur->name));
			if (!strcmp(cur->type, "counter")) {
				if (!ends_with(cur->name, strlen(cur->name),
					    "_total"))
					fail_msg(
						"counter %s does not end in _total",
						cur->name);
			} else if (!strcmp(cur->type, "gauge")) {
				if (ends_with(cur->name, strlen(cur->name),
					    "_total"))
					fail_msg("gauge %s ends in _total",
						cur->name);
			} else {
				fail_msg(
					"type of %s: %s", cur->name, cur->type);
			}
			continue;
		}
		if (line[0] == '#' || !line[0])
			fail_msg("unexpected line: '%s'", line);
		/* A sample: NAME[{LABELS}] VALUE, of the current family. */
		const char *q = line, *end;
		while (*q && *q != '{' && *q != ' ')
			q++;
		if (!cur || (size_t)(q - line) != strlen(cur->name) ||
			strncmp(line, cur->name, strlen(cur->name)))
			fail_msg(
				"sample outside its family (HELP and TYPE first, samples together): %s",
				line);
		if (*q == '{')
			q = check_labels(q + 1, line);
		if (*q != ' ')
			fail_msg("no value: %s", line);
		char *vend;
		double v = strtod(q + 1, &vend);
		if (vend == q + 1 || *vend || !isfinite(v))
			fail_msg("value not a number: %s", line);
		if (!strcmp(cur->type, "counter") && v < 0)
			fail_msg("negative counter: %s", line);
		end = q;
		for (size_t i = 0; i < n_series; i++)
			if (strlen(series[i]) == (size_t)(end - line) &&
				!strncmp(series[i], line, (size_t)(end - line)))
				fail_msg("series given twice: %s", line);
		series = realloc(series, (n_series + 1) * sizeof(*series));
		assert_non_null(series);
		series[n_series] = strndup(line, (size_t)(end - line));
		assert_non_null(series[n_series]);
		n_series++;
		cur->samples++;
	}
	for (size_t i = 0; i < n_series; i++)
		free(series[i]);
	free(series);
	return n;
}

/* The value of one series ("name" or "name{labels}"); fails if absent. */
static double
value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p += !!p)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	fail_msg("no series %s in:\n%s", series, text);
	return -1;
}

static char *
metrics(struct fixture *f)
{
	char *text = fixture_control(f->e, "metrics", true);
	struct family fam[128];

	if (!strncmp(text, "error", 5))
		fail_msg("metrics: %s", text);
	check_format(text, fam, 128);
	return text;
}

/* ---- tests ---- */

/* Every family the issue names is there with its type, in the format. */
static void
test_metrics_format_every_family_has_help_and_type(void **state)
{
	static const struct {
		const char *name, *type;
	} want[] = {
		{ "tapir_pop_active", "gauge" },
		{ "tapir_pop_answers_total", "counter" },
		{ "tapir_pop_would_block_answers_total", "counter" },
		{ "tapir_pop_blocked_answers_total", "counter" },
		{ "tapir_pop_source_answers_total", "counter" },
		{ "tapir_pop_messages_received_total", "counter" },
		{ "tapir_pop_messages_accepted_total", "counter" },
		{ "tapir_pop_messages_rejected_total", "counter" },
		{ "tapir_pop_entries", "gauge" },
		{ "tapir_pop_database_names", "gauge" },
		{ "tapir_pop_database_entries", "gauge" },
		{ "tapir_pop_database_memory_bytes", "gauge" },
		{ "tapir_pop_mqtt_connected", "gauge" },
		{ "tapir_pop_source_last_update_age_seconds", "gauge" },
		{ "tapir_pop_keys_loaded", "gauge" },
		{ "tapir_pop_decision_changes_total", "counter" },
		{ "tapir_pop_cache_purges_total", "counter" },
		{ "tapir_pop_state_saves_total", "counter" },
		{ "tapir_pop_journal_replayed_total", "counter" },
		{ "tapir_pop_mqtt_queue_waits_total", "counter" },
	};
	struct fixture *f = *state;
	struct family fam[128];
	char *text = fixture_control(f->e, "metrics", true);
	size_t n = check_format(text, fam, 128);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t j;
		for (j = 0; j < n; j++)
			if (!strcmp(fam[j].name, want[i].name))
				break;
		if (j == n)
			fail_msg("no family %s in:\n%s", want[i].name, text);
		if (strcmp(fam[j].type, want[i].type))
			fail_msg("%s is a %s, not a %s", want[i].name,
				fam[j].type, want[i].type);
		if (!fam[j].samples)
			fail_msg("%s has no sample", want[i].name);
	}
	assert_int_equal(value_of(text, "tapir_pop_active"), 1);
	assert_int_equal(value_of(text, "tapir_pop_keys_loaded"), 1);
	assert_int_equal(value_of(text, "tapir_pop_mqtt_connected"), 0);
	/* Every reason, also those never met, so that a query finds 0. */
	assert_int_equal(
		value_of(text,
			"tapir_pop_messages_rejected_total{reason=\"bad_signature\"}"),
		0);
	assert_true(value_of(text, "tapir_pop_database_memory_bytes") > 0);
	free(text);
}

/* Answers by action, by the rule that blocked and by the source whose
 * entries decided; a pass decided by nothing counts for no source. */
static void
test_metrics_answers_by_action_rule_and_source(void **state)
{
	struct fixture *f = *state;
	char *text;

	observe(f, "malware.example", TAG_LIKELYMALWARE);
	assert_int_equal(query(f, "malware.example"), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(query(f, "malware.example"), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(query(f, "good.example"), TAPIR_ACTION_PASS);
	text = metrics(f);
	assert_int_equal(
		value_of(text, "tapir_pop_answers_total{action=\"nxdomain\"}"),
		2);
	assert_int_equal(
		value_of(text, "tapir_pop_answers_total{action=\"pass\"}"), 1);
	assert_int_equal(
		value_of(text, "tapir_pop_answers_total{action=\"drop\"}"), 0);
	assert_int_equal(
		value_of(text,
			"tapir_pop_blocked_answers_total{rule=\"denytapir\"}"),
		2);
	assert_int_equal(
		value_of(text,
			"tapir_pop_blocked_answers_total{rule=\"denylist\"}"),
		0);
	assert_int_equal(
		value_of(text,
			"tapir_pop_source_answers_total{source=\"dns-tapir\",list=\"doubtlist\"}"),
		2);
	assert_int_equal(
		value_of(text,
			"tapir_pop_source_answers_total{source=\"local-deny\",list=\"denylist\"}"),
		0);
	free(text);
}

/* Messages accepted and rejected, each rejection under its reason, and
 * per source. */
static void
test_metrics_messages_by_reason(void **state)
{
	struct fixture *f = *state;
	const char *plain = "{\"src_name\":\"dns-tapir\"}";
	char *text;

	observe(f, "one.example", TAG_LIKELYMALWARE);
	assert_int_not_equal(
		tapir_engine_process(f->e, TOPIC, plain, strlen(plain)), 0);
	assert_int_not_equal(tapir_engine_process(f->e, "elsewhere/topic",
				     plain, strlen(plain)),
		0);
	text = metrics(f);
	assert_int_equal(
		value_of(text, "tapir_pop_messages_accepted_total"), 1);
	assert_int_equal(
		value_of(text,
			"tapir_pop_messages_rejected_total{reason=\"malformed_jws\"}") +
			value_of(text,
				"tapir_pop_messages_rejected_total{reason=\"unsigned\"}"),
		1);
	assert_int_equal(
		value_of(text,
			"tapir_pop_messages_rejected_total{reason=\"no_source\"}"),
		1);
	assert_int_equal(
		value_of(text,
			"tapir_pop_source_messages_accepted_total{source=\"dns-tapir\"}"),
		1);
	assert_int_equal(
		value_of(text,
			"tapir_pop_source_messages_rejected_total{source=\"dns-tapir\"}"),
		1);
	free(text);
}

/* Entries held per source and list follow adds and removals. */
static void
test_metrics_entries_per_source_and_list(void **state)
{
	struct fixture *f = *state;
	char *text;

	observe(f, "one.example", 1);
	observe(f, "two.example", 1);
	text = metrics(f);
	assert_int_equal(
		value_of(text,
			"tapir_pop_entries{source=\"dns-tapir\",list=\"doubtlist\"}"),
		2);
	assert_int_equal(
		value_of(text,
			"tapir_pop_entries{source=\"local-deny\",list=\"denylist\"}"),
		0);
	free(text);
	assert_int_equal(process_msg(f, "[]",
				 "[{\"name\":\"one.example\","
				 "\"time_added\":\"2026-07-20T09:15:00Z\","
				 "\"ttl\":0,\"tag_mask\":0,"
				 "\"extended_tags\":[]}]"),
		0);
	text = metrics(f);
	assert_int_equal(
		value_of(text,
			"tapir_pop_entries{source=\"dns-tapir\",list=\"doubtlist\"}"),
		1);
	assert_int_equal(value_of(text, "tapir_pop_entries_removed_total"), 1);
	free(text);
}

/* Reading metrics resets nothing (stats does): a second read sees the
 * same counters, and so does stats_noreset. */
static void
test_metrics_reading_resets_nothing(void **state)
{
	struct fixture *f = *state;
	char *a, *b;

	observe(f, "malware.example", TAG_LIKELYMALWARE);
	assert_int_equal(query(f, "malware.example"), TAPIR_ACTION_NXDOMAIN);
	a = metrics(f);
	b = metrics(f);
	assert_string_equal(a, b);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 1);
	free(a);
	free(b);
}

/* Anyone who reaches the socket may read them, as status: a monitoring
 * agent needs no privilege. */
static void
test_metrics_open_to_unprivileged_peer(void **state)
{
	struct fixture *f = *state;
	char *text = fixture_control(f->e, "metrics", false);
	struct family fam[128];

	if (strstr(text, "not permitted"))
		fail_msg("refused: %s", text);
	check_format(text, fam, 128);
	assert_int_equal(
		tapir_engine_counter(f->e, TAPIR_C_CONTROL_REFUSED), 0);
	free(text);
}

/* An engine whose configuration did not load still answers, with
 * active 0, so that an alert can fire on it. */
static void
test_metrics_inactive_engine_says_inactive(void **state)
{
	struct fixture *f = *state;
	char path[160], *text;
	struct family fam[128];

	snprintf(path, sizeof(path), "%s/missing.yaml", f->dir);
	f->e = tapir_engine_create(path);
	assert_non_null(f->e);
	assert_false(tapir_engine_active(f->e));
	text = fixture_control(f->e, "metrics", true);
	if (!strncmp(text, "error", 5))
		fail_msg("metrics: %s", text);
	check_format(text, fam, 128);
	assert_int_equal(value_of(text, "tapir_pop_active"), 0);
	free(text);
}

/* With metrics.textfile, a started engine writes the same families to
 * that file, for node_exporter, which runs as another user: mode 0644;
 * destroy removes it. */
static void
test_metrics_textfile_written_by_started_engine(void **state)
{
	struct fixture *f = *state;
	char extra[256], *text = NULL;
	struct family fam[128];
	struct stat st;
	size_t len;
	int64_t t0;

	snprintf(extra, sizeof(extra),
		"metrics:\n  textfile: %s\n  interval: 1\n", f->prom_path);
	f->e = engine_with(f, extra);
	assert_int_equal(tapir_engine_start(f->e), 0);
	t0 = tapir_monotonic_ms();
	while (stat(f->prom_path, &st) != 0 &&
		tapir_monotonic_ms() - t0 < 5000) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (stat(f->prom_path, &st) != 0)
		fail_msg("%s not written within 5 s", f->prom_path);
	assert_int_equal(st.st_mode & 0777, 0644);
	{
		FILE *fp = fopen(f->prom_path, "r");
		assert_non_null(fp);
		text = calloc(1, (size_t)st.st_size + 1);
		assert_non_null(text);
		len = fread(text, 1, (size_t)st.st_size, fp);
		fclose(fp);
		assert_int_equal(len, (size_t)st.st_size);
	}
	check_format(text, fam, 128);
	assert_int_equal(value_of(text, "tapir_pop_active"), 1);
	assert_true(value_of(text, "tapir_pop_database_memory_bytes") > 0);
	free(text);
	/* A module that stops (Unbound stops or reloads) leaves no numbers
	 * behind for node_exporter to serve as if it still ran. */
	tapir_engine_destroy(f->e);
	f->e = NULL;
	assert_int_equal(access(f->prom_path, F_OK), -1);
}

/* A textfile the module cannot write is a problem of status (exit 1) and
 * counts in tapir_pop_problems, so that it does not go unnoticed. */
static void
test_metrics_textfile_unwritable_is_a_problem(void **state)
{
	struct fixture *f = *state;
	char extra[256], *text = NULL;
	int64_t t0;

	snprintf(extra, sizeof(extra),
		"metrics:\n  textfile: %s/no-such-dir/tapir-pop.prom\n"
		"  interval: 1\n",
		f->dir);
	f->e = engine_with(f, extra);
	assert_int_equal(tapir_engine_start(f->e), 0);
	t0 = tapir_monotonic_ms();
	do {
		struct timespec ts = { 0, 20 * 1000000 };
		free(text);
		text = fixture_control(f->e, "status", true);
		if (strstr(text, "problem: metrics.textfile: cannot write "))
			break;
		nanosleep(&ts, NULL);
	} while (tapir_monotonic_ms() - t0 < 5000);
	if (!strstr(text, "problem: metrics.textfile: cannot write ") ||
		!strstr(text, "no-such-dir"))
		fail_msg("no problem line within 5 s:\n%s", text);
	free(text);
	text = metrics(f);
	/* This one, and the file source whose file is absent. */
	assert_int_equal(value_of(text, "tapir_pop_problems"), 2);
	free(text);
}

#define T(fn)  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TK(fn) cmocka_unit_test_setup_teardown(fn, setup_keys, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_metrics_format_every_family_has_help_and_type),
		T(test_metrics_answers_by_action_rule_and_source),
		T(test_metrics_messages_by_reason),
		T(test_metrics_entries_per_source_and_list),
		T(test_metrics_reading_resets_nothing),
		T(test_metrics_open_to_unprivileged_peer),
		TK(test_metrics_inactive_engine_says_inactive),
		TK(test_metrics_textfile_written_by_started_engine),
		TK(test_metrics_textfile_unwritable_is_a_problem),
	};

	return cmocka_run_group_tests(tests, fixture_group_setup, NULL);
}
