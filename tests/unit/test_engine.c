/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/engine.c, the path from a received MQTT message to a
 * decision. Each test makes a fresh Ed25519 key pair (so no key file from
 * the tree is trusted), writes its JWKS to a private temporary directory,
 * builds an engine from a YAML string and, except where a test says so,
 * never starts its threads: messages go through tapir_engine_process() and
 * the clock is a fixed fake one, so expiry is checked to the second.
 *
 * They prove the policy rules as a feed drives them, the lifetime of an
 * entry (replace, remove, exact expiry), that each class of bad message is
 * rejected whole and counted under exactly its own counter, the bounded
 * queue, the inactive engine (which still answers status on the default
 * control socket), the control commands, the "problem:" lines of status
 * for what an operator must fix (keys, state directory, TLS files, file
 * sources, the socket's group), the upstream DNS TAPIR test vector, that
 * a started engine applies a submitted message and stops promptly with its
 * broker unreachable, and that its threads take no signal sent to the
 * process.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mosquitto.h>
#include <sodium.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/engine.h"
#include "lib/epoch.h"
#include "lib/jws.h"
#include "lib/policy.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

#define TOPIC "observations/down/tapir-pop"
#define KID   "test-key"
#define B64V  sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* 2026-07-20T09:15:00Z: entries are added at T0, the clock reads NOW. */
#define T0  INT64_C(1784538900)
#define NOW (T0 + 60)

#define TAG_GLOBALLY_NEW     1u
#define TAG_NEWLY_REGISTERED 4u
#define TAG_LIKELYMALWARE    16u

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
	char sock_path[128];
	struct tapir_signer *signer;   /* kid KID, trusted */
	struct tapir_signer *stranger; /* kid "stranger", not trusted */
	struct tapir_engine *e;
	int log_lines;
	char last_log[512];
};

/* The started engine logs from its own threads too. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
capture_log(void *arg, enum tapir_log_level level, const char *msg)
{
	struct fixture *f = arg;

	(void)level;
	pthread_mutex_lock(&log_lock);
	f->log_lines++;
	snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
	pthread_mutex_unlock(&log_lock);
}

static struct tapir_signer *
load_signer(const char *jwk)
{
	struct tapir_error err = { 0 };
	struct tapir_signer *s = tapir_signer_load(jwk, strlen(jwk), &err);

	if (!s)
		fail_msg("tapir_signer_load: %s", err.text);
	return s;
}

static const char *
vector_path(const char *name)
{
	static char path[4096];
	const char *srcdir = getenv("srcdir");

	snprintf(path, sizeof(path), "%s/tests/data/tapir-vectors/%s",
		srcdir ? srcdir : ".", name);
	return path;
}

/*
 * Builds an engine: one MQTT source "dns-tapir" (doubtlist) on topics,
 * denytapir [likelymalware] and numtapirtags (limit tags_limit), both
 * NXDOMAIN; max-message-size 4096, queue-length 2; extra is appended.
 */
static struct tapir_engine *
engine_topics(const char *keys_path, unsigned tags_limit, const char *topics,
	const char *extra)
{
	char yaml[2048];
	int n;

	/* Checked: a cut configuration would be another one. */
	n = snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"  reconnect-min: 1\n"
		"  reconnect-max: 2\n"
		"keys: %s\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    type: mqtt\n"
		"    list: doubtlist\n"
		"    topics: [%s]\n"
		"policy:\n"
		"  doubtlist:\n"
		"    numtapirtags: { limit: %u, action: NXDOMAIN }\n"
		"    denytapir: { tags: [likelymalware], action: NXDOMAIN }\n"
		"limits:\n"
		"  max-message-size: 4096\n"
		"  queue-length: 2\n"
		"%s",
		keys_path, topics, tags_limit, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(yaml))
		fail_msg("configuration longer than %zu bytes", sizeof(yaml));
	return fixture_engine_yaml(yaml);
}

static struct tapir_engine *
engine_with(const char *keys_path, unsigned tags_limit, const char *extra)
{
	return engine_topics(keys_path, tags_limit, TOPIC, extra);
}

/* lib/engine_export.c: names per read section of an export, and bytes of
 * lines a digest pass holds. Tests lower them to see many
 * of each; teardown puts them back. */
extern size_t tapir__eng_export_names;
extern size_t tapir__eng_digest_bytes;

static size_t default_export_names, default_digest_bytes;

static int
group_setup(void **state)
{
	(void)state;
	default_export_names = tapir__eng_export_names;
	default_digest_bytes = tapir__eng_digest_bytes;
	return tapir_lib_init() == 0 ? 0 : -1;
}

/* Keys and a directory, no engine yet. */
static int
setup_keys(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char jwk[512], pub[512];

	if (!f)
		return -1;
	tapir_log_set(capture_log, f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-engine-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->keys_path, sizeof(f->keys_path), "%s/keys.json", f->dir);
	snprintf(f->sock_path, sizeof(f->sock_path), "%s/ctl.sock", f->dir);
	fixture_make_key(KID, jwk, sizeof(jwk), pub, sizeof(pub));
	f->signer = load_signer(jwk);
	fixture_write_file(f->keys_path, pub);
	fixture_make_key("stranger", jwk, sizeof(jwk), NULL, 0);
	f->stranger = load_signer(jwk);
	fake_now = NOW;
	*state = f;
	return 0;
}

/* The default engine, on the fake clock. */
static int
setup(void **state)
{
	struct fixture *f;

	if (setup_keys(state) != 0)
		return -1;
	f = *state;
	f->e = engine_with(f->keys_path, 2, NULL);
	tapir_engine_set_clock(f->e, fake_clock);
	return 0;
}

static int
teardown(void **state)
{
	static const char *const extra[] = { "tapir-pop.yaml",
		"later-keys.json", "broken.yaml" };
	struct fixture *f = *state;
	char path[160];

	tapir__eng_export_names = default_export_names;
	tapir__eng_digest_bytes = default_digest_bytes;
	tapir_engine_destroy(f->e);
	tapir_signer_destroy(f->signer);
	tapir_signer_destroy(f->stranger);
	unlink(f->keys_path);
	unlink(f->sock_path);
	/* What the status tests make, also when one failed half-way. */
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, extra[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/state", f->dir);
	rmdir(path);
	rmdir(f->dir);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

static void
rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(gmtime_r(&tt, &tm));
	assert_int_not_equal(strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm), 0);
}

/* One entry of "added" (JSON text, appended to buf). */
static void
entry(char *buf, size_t size, const char *name, int64_t added, int64_t ttl,
	uint32_t tags)
{
	char when[32];
	size_t at = strlen(buf);

	rfc3339(added, when);
	snprintf(buf + at, size - at,
		"%s{\"name\":\"%s\",\"time_added\":\"%s\",\"ttl\":%lld,"
		"\"tag_mask\":%u,\"extended_tags\":[]}",
		at > 1 ? "," : "", name, when, (long long)ttl, tags);
}

/* A TapirMsg sent at sent; added and removed are JSON arrays (or null). */
static char *
tapir_msg_at(const char *src, const char *type, const char *list,
	const char *added, const char *removed, int64_t sent)
{
	size_t size = 256 + strlen(added) + strlen(removed);
	char *s = malloc(size);
	char when[32];

	assert_non_null(s);
	rfc3339(sent, when);
	snprintf(s, size,
		"{\"src_name\":\"%s\",\"creator\":\"unit-test\","
		"\"msg_type\":\"%s\",\"list_type\":\"%s\",\"added\":%s,"
		"\"removed\":%s,\"msg\":\"\","
		"\"timestamp\":\"%s\",\"time_str\":\"\"}",
		src, type, list, added, removed, when);
	return s;
}

/* A TapirMsg sent at T0 (2026-07-20T09:15:00Z). */
static char *
tapir_msg(const char *src, const char *type, const char *list,
	const char *added, const char *removed)
{
	return tapir_msg_at(src, type, list, added, removed, T0);
}

static char *
sign_with(const struct tapir_signer *s, const char *payload, size_t *len)
{
	char *jws = NULL;
	int rc = tapir_jws_sign(
		s, (const uint8_t *)payload, strlen(payload), false, &jws, len);

	assert_int_equal(rc, 0);
	assert_non_null(jws);
	return jws;
}

static int
process_signed(struct fixture *f, const char *topic, const char *payload)
{
	size_t len;
	char *jws = sign_with(f->signer, payload, &len);
	int rc = tapir_engine_process(f->e, topic, jws, len);

	free(jws);
	return rc;
}

/* Observation of one name, signed and processed; must be accepted. */
static void
observe(struct fixture *f, const char *name, int64_t added, int64_t ttl,
	uint32_t tags)
{
	char added_json[512] = "[";
	char *msg;

	entry(added_json, sizeof(added_json), name, added, ttl, tags);
	strcat(added_json, "]");
	msg = tapir_msg(
		"dns-tapir", "observation", "doubtlist", added_json, "[]");
	assert_int_equal(process_signed(f, TOPIC, msg), 0);
	free(msg);
}

static enum tapir_action
decide(struct fixture *f, const char *name, struct tapir_reason *why)
{
	return tapir_engine_decide(f->e, name, strlen(name), why);
}

static void
assert_counters(struct tapir_engine *e, const uint64_t want[TAPIR_C_COUNT])
{
	for (int c = 0; c < TAPIR_C_COUNT; c++)
		if (tapir_engine_counter(e, c) != want[c])
			fail_msg("counter %s is %llu, expected %llu",
				tapir_counter_str(c),
				(unsigned long long)tapir_engine_counter(e, c),
				(unsigned long long)want[c]);
}

static void
snapshot(struct tapir_engine *e, uint64_t out[TAPIR_C_COUNT])
{
	for (int c = 0; c < TAPIR_C_COUNT; c++)
		out[c] = tapir_engine_counter(e, c);
}

/* ---- policy as the feed drives it ---- */

static void
test_likelymalware_blocks_by_denytapir(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	observe(f, "malware.example", T0, 3607, TAG_LIKELYMALWARE);
	assert_int_equal(
		decide(f, "malware.example", &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.action, TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.rule, TAPIR_RULE_DENYTAPIR);
	assert_true(why.fired & (1u << TAPIR_RULE_DENYTAPIR));
	assert_false(why.fired & (1u << TAPIR_RULE_NUMTAPIRTAGS));
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 1);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_ENTRY_ADDED), 1);
}

static void
test_one_tag_globally_new_passes(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	observe(f, "new.example", T0, 3607, TAG_GLOBALLY_NEW);
	assert_int_equal(decide(f, "new.example", &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.rule, TAPIR_RULE_NONE);
	assert_int_equal(why.tapir_tags, TAG_GLOBALLY_NEW);
	assert_int_equal(why.n_matches, 1);
}

static void
test_two_tags_block_by_numtapirtags(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	observe(f, "two.example", T0, 3607,
		TAG_GLOBALLY_NEW | TAG_NEWLY_REGISTERED);
	assert_int_equal(decide(f, "two.example", &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.rule, TAPIR_RULE_NUMTAPIRTAGS);
	assert_false(why.fired & (1u << TAPIR_RULE_DENYTAPIR));
}

static void
test_readd_replaces_tags_not_merges(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	observe(f, "re.example", T0, 3607, TAG_LIKELYMALWARE);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	/* Merged, 16|1 would still be blocked (by both rules). */
	observe(f, "re.example", T0 + 10, 3607, TAG_GLOBALLY_NEW);
	assert_int_equal(decide(f, "re.example", &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.tapir_tags, TAG_GLOBALLY_NEW);
	assert_int_equal(why.n_matches, 1);
}

static void
test_readd_replaces_expiry_even_when_earlier(void **state)
{
	struct fixture *f = *state;

	observe(f, "re.example", T0, 3607, TAG_LIKELYMALWARE);
	observe(f, "re.example", T0, 100, TAG_LIKELYMALWARE);
	fake_now = T0 + 99;
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	fake_now = T0 + 100;
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_PASS);
}

static void
test_readd_extends_expiry(void **state)
{
	struct fixture *f = *state;

	observe(f, "re.example", T0, 100, TAG_LIKELYMALWARE);
	observe(f, "re.example", T0 + 50, 100, TAG_LIKELYMALWARE);
	fake_now = T0 + 149;
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	fake_now = T0 + 150;
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_PASS);
}

static void
test_removed_deletes_entry(void **state)
{
	struct fixture *f = *state;
	char *msg;

	observe(f, "gone.example", T0, 3607, TAG_LIKELYMALWARE);
	observe(f, "stays.example", T0, 3607, TAG_LIKELYMALWARE);
	msg = tapir_msg("dns-tapir", "observation", "doubtlist", "null",
		"[{\"name\":\"gone.example\"}]");
	assert_int_equal(process_signed(f, TOPIC, msg), 0);
	free(msg);
	assert_int_equal(decide(f, "gone.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(
		decide(f, "stays.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_ENTRY_REMOVED), 1);
}

static void
test_removing_absent_name_counts_nothing(void **state)
{
	struct fixture *f = *state;
	char *msg;

	msg = tapir_msg("dns-tapir", "observation", "doubtlist", "[]",
		"[{\"name\":\"never.example\"}]");
	assert_int_equal(process_signed(f, TOPIC, msg), 0);
	free(msg);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_ENTRY_REMOVED), 0);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 1);
}

static void
test_expiry_is_exact_to_the_second(void **state)
{
	struct fixture *f = *state;

	observe(f, "ttl.example", T0, 3607, TAG_LIKELYMALWARE);
	fake_now = T0 + 3607 - 1;
	assert_int_equal(decide(f, "ttl.example", NULL), TAPIR_ACTION_NXDOMAIN);
	fake_now = T0 + 3607;
	assert_int_equal(decide(f, "ttl.example", NULL), TAPIR_ACTION_PASS);
}

static void
test_already_expired_entry_is_counted_not_applied(void **state)
{
	struct fixture *f = *state;
	uint64_t want[TAPIR_C_COUNT] = { 0 };

	/* Expires exactly at NOW: one second too late to apply. */
	observe(f, "old.example", NOW - 100, 100, TAG_LIKELYMALWARE);
	assert_int_equal(decide(f, "old.example", NULL), TAPIR_ACTION_PASS);
	want[TAPIR_C_MSG_ACCEPTED] = 1;
	want[TAPIR_C_ENTRY_ALREADY_EXPIRED] = 1;
	assert_counters(f->e, want);
}

static void
test_entry_expiring_one_second_later_is_applied(void **state)
{
	struct fixture *f = *state;

	observe(f, "young.example", NOW - 100, 101, TAG_LIKELYMALWARE);
	assert_int_equal(
		decide(f, "young.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(
		tapir_engine_counter(f->e, TAPIR_C_ENTRY_ALREADY_EXPIRED), 0);
}

/*
 * The largest ttl a message may carry, on the last instant of year 9999:
 * the expiry saturates to the longest the database keeps. The same with a
 * time-zone offset that carries time_added past that instant used to
 * overflow time_added + ttl (undefined behaviour; it wrapped to an expiry
 * in the past): now the entry is invalid, and counted so.
 */
static void
test_time_added_beyond_year_9999_is_invalid_not_overflowed(void **state)
{
	struct fixture *f = *state;
	uint64_t want[TAPIR_C_COUNT] = { 0 };
	char *msg;

	msg = tapir_msg("dns-tapir", "observation", "doubtlist",
		"[{\"name\":\"far.example\","
		"\"time_added\":\"9999-12-31T23:59:60-23:59\","
		"\"ttl\":9223371783452475007,\"tag_mask\":16},"
		"{\"name\":\"max.example\","
		"\"time_added\":\"9999-12-31T23:59:60Z\","
		"\"ttl\":9223371783452475007,\"tag_mask\":16}]",
		"[]");
	assert_int_equal(process_signed(f, TOPIC, msg), 0);
	free(msg);
	assert_int_equal(decide(f, "far.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "max.example", NULL), TAPIR_ACTION_NXDOMAIN);
	want[TAPIR_C_MSG_ACCEPTED] = 1;
	want[TAPIR_C_ENTRY_ADDED] = 1;
	want[TAPIR_C_ENTRY_INVALID] = 1;
	want[TAPIR_C_DECISION_CHANGES] = 1;
	assert_counters(f->e, want);
	assert_non_null(strstr(f->last_log, "time_added: not between years"));
}

static void
test_invalid_name_drops_only_that_entry(void **state)
{
	struct fixture *f = *state;
	char added[1024] = "[";
	uint64_t want[TAPIR_C_COUNT] = { 0 };
	char *msg;

	entry(added, sizeof(added), "a.example", T0, 3607, TAG_LIKELYMALWARE);
	entry(added, sizeof(added), "bad..example", T0, 3607,
		TAG_LIKELYMALWARE);
	entry(added, sizeof(added), "c.example", T0, 3607, TAG_LIKELYMALWARE);
	strcat(added, "]");
	msg = tapir_msg("dns-tapir", "observation", "doubtlist", added, "[]");
	assert_int_equal(process_signed(f, TOPIC, msg), 0);
	free(msg);
	assert_int_equal(decide(f, "a.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "c.example", NULL), TAPIR_ACTION_NXDOMAIN);
	want[TAPIR_C_MSG_ACCEPTED] = 1;
	want[TAPIR_C_ENTRY_ADDED] = 2;
	want[TAPIR_C_ENTRY_INVALID] = 1;
	/* a.example and c.example went from PASS to NXDOMAIN. */
	want[TAPIR_C_DECISION_CHANGES] = 2;
	assert_counters(f->e, want);
}

static void
test_trailing_dot_and_upper_case_names_match(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	observe(f, "MalWare.Example.COM.", T0, 3607, TAG_LIKELYMALWARE);
	assert_int_equal(
		decide(f, "malware.example.com", &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.rule, TAPIR_RULE_DENYTAPIR);
}

static void
test_wildcard_blocks_below_not_apex(void **state)
{
	struct fixture *f = *state;

	observe(f, "*.example.com", T0, 3607, TAG_LIKELYMALWARE);
	assert_int_equal(
		decide(f, "www.example.com", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(
		decide(f, "a.b.example.com", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "example.com", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "notexample.com", NULL), TAPIR_ACTION_PASS);
}

static void
test_decide_wire_matches_any_case(void **state)
{
	struct fixture *f = *state;
	static const uint8_t wire[] = "\x03WwW\x07"
				      "example\x03"
				      "com";
	struct tapir_answer a;

	observe(f, "www.example.com", T0, 3607, TAG_LIKELYMALWARE);
	/* sizeof includes the string's NUL: the root label. */
	assert_int_equal(tapir_engine_query(f->e, wire, sizeof(wire), 1,
				 TAPIR_QUERY_EXPLAIN, &a),
		TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(a.kind, TAPIR_ANSWER_NEGATIVE);
	assert_int_equal(a.rcode, TAPIR_DNS_RCODE_NXDOMAIN);
	assert_int_equal(a.ede, TAPIR_EDE_FILTERED);
	assert_string_equal(a.why, "rule denytapir; sources dns-tapir");
}

static void
test_decide_wire_malformed_name_passes(void **state)
{
	struct fixture *f = *state;
	static const uint8_t wire[] = "\x03www\x07"
				      "example\x03"
				      "com";
	struct tapir_answer a;

	observe(f, "www.example.com", T0, 3607, TAG_LIKELYMALWARE);
	/* Cut before the root label: not a name. */
	assert_int_equal(tapir_engine_query(f->e, wire, sizeof(wire) - 1, 1,
				 TAPIR_QUERY_EXPLAIN, &a),
		TAPIR_ACTION_PASS);
	assert_int_equal(a.action, TAPIR_ACTION_PASS);
	assert_int_equal(a.kind, TAPIR_ANSWER_RESOLVE);
}

static void
test_compact_jws_is_accepted(void **state)
{
	struct fixture *f = *state;
	char added[512] = "[";
	char *msg, *jws = NULL;
	size_t len;

	entry(added, sizeof(added), "compact.example", T0, 3607,
		TAG_LIKELYMALWARE);
	strcat(added, "]");
	msg = tapir_msg("dns-tapir", "observation", "doubtlist", added, "[]");
	assert_int_equal(tapir_jws_sign(f->signer, (const uint8_t *)msg,
				 strlen(msg), true, &jws, &len),
		0);
	assert_null(strchr(jws, '{'));
	assert_int_equal(tapir_engine_process(f->e, TOPIC, jws, len), 0);
	free(jws);
	free(msg);
	assert_int_equal(
		decide(f, "compact.example", NULL), TAPIR_ACTION_NXDOMAIN);
}

static void
test_multilevel_wildcard_topic_routes_to_source(void **state)
{
	struct fixture *f = *state;
	char added[512] = "[";
	char *msg;

	f->e = engine_topics(f->keys_path, 2, "observations/#", NULL);
	tapir_engine_set_clock(f->e, fake_clock);
	entry(added, sizeof(added), "deep.example", T0, 3607,
		TAG_LIKELYMALWARE);
	strcat(added, "]");
	msg = tapir_msg("dns-tapir", "observation", "doubtlist", added, "[]");
	assert_int_equal(
		process_signed(f, "observations/down/tapir-pop", msg), 0);
	assert_int_equal(
		process_signed(f, "elsewhere/down", msg), TAPIR_ESOURCE);
	free(msg);
	assert_int_equal(
		decide(f, "deep.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_REJ_NO_SOURCE), 1);
}

/* ---- rejections: nothing changes, exactly one counter moves ---- */

/* Blocks keep.example; each rejection test then offers a message that
 * would add bad.example and remove keep.example. */
static void
given_kept_entry(struct fixture *f)
{
	observe(f, "keep.example", T0, 3607, TAG_LIKELYMALWARE);
}

static char *
rejected_payload(const char *src, const char *type, const char *list)
{
	char added[512] = "[";

	entry(added, sizeof(added), "bad.example", T0, 3607, TAG_LIKELYMALWARE);
	strcat(added, "]");
	return tapir_msg(
		src, type, list, added, "[{\"name\":\"keep.example\"}]");
}

static void
assert_rejected(struct fixture *f, const char *topic, const char *buf,
	size_t len, int want_rc, enum tapir_counter want)
{
	uint64_t before[TAPIR_C_COUNT];

	snapshot(f->e, before);
	assert_int_equal(tapir_engine_process(f->e, topic, buf, len), want_rc);
	before[want]++;
	assert_counters(f->e, before);
	assert_int_equal(decide(f, "bad.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(
		decide(f, "keep.example", NULL), TAPIR_ACTION_NXDOMAIN);
}

static void
test_reject_unsigned_plain_json(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "doubtlist");

	given_kept_entry(f);
	assert_rejected(f, TOPIC, msg, strlen(msg), TAPIR_EUNSIGNED,
		TAPIR_C_REJ_UNSIGNED);
	free(msg);
}

static void
test_reject_tampered_payload_byte(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "doubtlist");
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);
	char *p = strstr(jws, "\"payload\":\"");

	given_kept_entry(f);
	assert_non_null(p);
	p += strlen("\"payload\":\"") + 40;
	*p = *p == 'A' ? 'B' : 'A';
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_ESIG, TAPIR_C_REJ_BAD_SIGNATURE);
	free(jws);
	free(msg);
}

static void
test_reject_unknown_kid(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "doubtlist");
	size_t len;
	char *jws = sign_with(f->stranger, msg, &len);

	given_kept_entry(f);
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_ENOKEY, TAPIR_C_REJ_UNKNOWN_KEY);
	free(jws);
	free(msg);
}

static void
test_reject_alg_none(void **state)
{
	static const char hdr[] = "{\"alg\":\"none\",\"kid\":\"" KID "\"}";
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "doubtlist");
	size_t plen = sodium_base64_ENCODED_LEN(strlen(msg), B64V);
	char *pay = malloc(plen), *jws = malloc(plen + 512);
	char prot[128], sig[87];

	assert_non_null(pay);
	assert_non_null(jws);
	sodium_bin2base64(pay, plen, (const uint8_t *)msg, strlen(msg), B64V);
	sodium_bin2base64(
		prot, sizeof(prot), (const uint8_t *)hdr, strlen(hdr), B64V);
	memset(sig, 'A', sizeof(sig) - 1);
	sig[sizeof(sig) - 1] = '\0';
	snprintf(jws, plen + 512,
		"{\"payload\":\"%s\",\"protected\":\"%s\","
		"\"signature\":\"%s\"}",
		pay, prot, sig);
	given_kept_entry(f);
	/* The header is read, and "none" refused, before any signature. */
	assert_rejected(
		f, TOPIC, jws, strlen(jws), TAPIR_EALG, TAPIR_C_REJ_BAD_ALG);
	free(jws);
	free(pay);
	free(msg);
}

static void
test_reject_malformed_tapir_msg(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "{\"src_name\":\"dns-tapir\",\"added\":[";
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	given_kept_entry(f);
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_EPARSE, TAPIR_C_REJ_MALFORMED_MSG);
	free(jws);
}

static void
test_reject_wrong_msg_type(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "bogus-type", "doubtlist");
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	given_kept_entry(f);
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_EMSGTYPE, TAPIR_C_REJ_MSG_TYPE);
	free(jws);
	free(msg);
}

static void
test_reject_src_name_mismatch(void **state)
{
	struct fixture *f = *state;
	char *msg =
		rejected_payload("other-source", "observation", "doubtlist");
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	given_kept_entry(f);
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_ESOURCE, TAPIR_C_REJ_WRONG_SOURCE);
	free(jws);
	free(msg);
}

static void
test_reject_list_type_mismatch(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "denylist");
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	given_kept_entry(f);
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_ELIST, TAPIR_C_REJ_WRONG_LIST);
	free(jws);
	free(msg);
}

static void
test_reject_allowlist_on_doubtlist_source(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "allowlist");
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	given_kept_entry(f);
	assert_rejected(
		f, TOPIC, jws, len, TAPIR_ELIST, TAPIR_C_REJ_WRONG_LIST);
	free(jws);
	free(msg);
}

static void
test_reject_topic_without_source(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "doubtlist");
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	given_kept_entry(f);
	assert_rejected(f, "observations/down/elsewhere", jws, len,
		TAPIR_ESOURCE, TAPIR_C_REJ_NO_SOURCE);
	free(jws);
	free(msg);
}

static void
test_reject_when_keys_file_missing(void **state)
{
	struct fixture *f = *state;
	char *msg = rejected_payload("dns-tapir", "observation", "doubtlist");
	uint64_t want[TAPIR_C_COUNT] = { 0 };
	char missing[160];
	size_t len;
	char *jws = sign_with(f->signer, msg, &len);

	snprintf(missing, sizeof(missing), "%s/no-such-keys.json", f->dir);
	f->e = engine_with(missing, 2, NULL);
	tapir_engine_set_clock(f->e, fake_clock);
	assert_non_null(strstr(f->last_log, "no-such-keys.json"));
	assert_int_equal(
		tapir_engine_process(f->e, TOPIC, jws, len), TAPIR_ENOKEY);
	want[TAPIR_C_REJ_NO_KEYS] = 1;
	assert_counters(f->e, want);
	assert_int_equal(decide(f, "bad.example", NULL), TAPIR_ACTION_PASS);
	free(jws);
	free(msg);
}

static void
test_repeated_rejection_logs_once_per_interval(void **state)
{
	struct fixture *f = *state;
	static const char plain[] = "{\"not\":\"signed\"}";
	int before = f->log_lines;

	for (int i = 0; i < 5; i++)
		assert_int_equal(
			tapir_engine_process(f->e, TOPIC, plain, strlen(plain)),
			TAPIR_EUNSIGNED);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_REJ_UNSIGNED), 5);
	assert_int_equal(f->log_lines - before, 1);
	assert_non_null(strstr(f->last_log, "msg.rejected.unsigned"));
}

/* ---- replayed and stale messages ---- */

/* The counter, read the way an operator reads it. */
static unsigned long long
stat_value(struct fixture *f, const char *name)
{
	char *out = fixture_command(f->e, "stats_noreset");
	char key[80];
	const char *at;
	unsigned long long v = 0;

	snprintf(key, sizeof(key), "\n%s=", name);
	if ((at = strstr(out, key)))
		v = strtoull(at + strlen(key), NULL, 10);
	else if (!strncmp(out, key + 1, strlen(key) - 1))
		v = strtoull(out + strlen(key) - 1, NULL, 10);
	free(out);
	return v;
}

/* A signed observation of name with tags, sent at sent. */
static char *
signed_observation(
	struct fixture *f, const char *name, uint32_t tags, int64_t sent)
{
	char added[512] = "[";
	char *msg, *jws;
	size_t len;

	entry(added, sizeof(added), name, sent, 3607, tags);
	strcat(added, "]");
	msg = tapir_msg_at(
		"dns-tapir", "observation", "doubtlist", added, "[]", sent);
	jws = sign_with(f->signer, msg, &len);
	free(msg);
	return jws;
}

/* A signed removal of name, sent at sent. */
static char *
signed_removal(struct fixture *f, const char *name, int64_t sent)
{
	char removed[300];
	char *msg, *jws;
	size_t len;

	snprintf(removed, sizeof(removed), "[{\"name\":\"%s\"}]", name);
	msg = tapir_msg_at(
		"dns-tapir", "observation", "doubtlist", "[]", removed, sent);
	jws = sign_with(f->signer, msg, &len);
	free(msg);
	return jws;
}

static int
process_jws(struct fixture *f, const char *jws)
{
	return tapir_engine_process(f->e, TOPIC, jws, strlen(jws));
}

/* How many times the list command names name. */
static int
listed(struct fixture *f, const char *name)
{
	char *out = fixture_command(f->e, "list");
	int n = 0;

	for (const char *p = out; (p = strstr(p, name)); p += strlen(name))
		n++;
	free(out);
	return n;
}

/* QoS 1 delivers at least once: the broker sends a message again when
 * its PUBACK was lost (a reload, a network cut), right away or after
 * later messages. Applying it again changes nothing: one entry, the same
 * decision, no decision change counted twice; a removal again is a no-op. */
static void
test_qos1_duplicates_are_harmless(void **state)
{
	struct fixture *f = *state;
	char *a = signed_observation(
		f, "dup.example", TAG_LIKELYMALWARE, NOW - 5);
	char *b = signed_observation(
		f, "other.example", TAG_LIKELYMALWARE, NOW - 4);
	char *gone = signed_removal(f, "other.example", NOW - 3);

	assert_int_equal(process_jws(f, a), 0);
	assert_int_equal(process_jws(f, a), 0);
	assert_int_equal(process_jws(f, b), 0);
	assert_int_equal(process_jws(f, a), 0);
	assert_int_equal(decide(f, "dup.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(stat_value(f, "decision.changes"), 2);
	assert_int_equal(listed(f, "dup.example"), 1);
	assert_int_equal(process_jws(f, gone), 0);
	assert_int_equal(process_jws(f, gone), 0);
	assert_int_equal(decide(f, "other.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "dup.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(stat_value(f, "decision.changes"), 3);
	assert_int_equal(listed(f, "dup.example"), 1);
	assert_int_equal(listed(f, "other.example"), 0);
	assert_int_equal(stat_value(f, "msg.accepted"), 6);
	free(a);
	free(b);
	free(gone);
}

/* A captured removal, published again after the name came back, must not
 * take it away; nor a captured older observation with fewer tags put
 * back a weaker entry. */
static void
test_replayed_old_messages_do_not_roll_back(void **state)
{
	struct fixture *f = *state;
	char *weak = signed_observation(
		f, "re.example", TAG_GLOBALLY_NEW, NOW - 600);
	char *strong = signed_observation(
		f, "re.example", TAG_LIKELYMALWARE, NOW - 500);
	char *gone = signed_removal(f, "re.example", NOW - 400);
	char *back = signed_observation(
		f, "re.example", TAG_LIKELYMALWARE, NOW - 300);

	assert_int_equal(process_jws(f, weak), 0);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(process_jws(f, strong), 0);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	/* The older, weaker observation again: refused. */
	assert_int_not_equal(process_jws(f, weak), 0);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(process_jws(f, gone), 0);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(process_jws(f, back), 0);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	/* The captured removal again: refused. */
	assert_int_not_equal(process_jws(f, gone), 0);
	assert_int_equal(decide(f, "re.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(stat_value(f, "msg.rejected.stale"), 2);
	assert_int_equal(stat_value(f, "msg.accepted"), 4);
	assert_non_null(strstr(f->last_log, "msg.rejected.stale"));
	free(weak);
	free(strong);
	free(gone);
	free(back);
}

/* Messages of one source may arrive a little out of order (publishers
 * whose clocks differ by a second or two): within the window, accepted. */
static void
test_slightly_reordered_messages_are_accepted(void **state)
{
	struct fixture *f = *state;
	char *a = signed_observation(
		f, "a.example", TAG_LIKELYMALWARE, NOW - 100);
	char *b = signed_observation(
		f, "b.example", TAG_LIKELYMALWARE, NOW - 102);

	assert_int_equal(process_jws(f, a), 0);
	assert_int_equal(process_jws(f, b), 0);
	assert_int_equal(decide(f, "b.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(stat_value(f, "msg.rejected.stale"), 0);
	free(a);
	free(b);
}

/* Default bounds: older than 24 h or more than 5 min ahead is refused.
 * (The entries of the old ones have expired; the messages still count.) */
static void
test_messages_outside_the_time_bounds_are_refused(void **state)
{
	struct fixture *f = *state;
	char *old = signed_observation(
		f, "old.example", TAG_LIKELYMALWARE, NOW - 86401);
	char *aged = signed_observation(
		f, "aged.example", TAG_LIKELYMALWARE, NOW - 86400);
	char *ahead = signed_observation(
		f, "ahead.example", TAG_LIKELYMALWARE, NOW + 301);
	char *soon = signed_observation(
		f, "soon.example", TAG_LIKELYMALWARE, NOW + 300);

	/* Oldest first, so that only the bounds can refuse. */
	assert_int_equal(process_jws(f, aged), 0);
	assert_int_equal(process_jws(f, old), TAPIR_ERANGE);
	assert_int_equal(process_jws(f, ahead), TAPIR_ERANGE);
	assert_int_equal(process_jws(f, soon), 0);
	assert_int_equal(
		decide(f, "soon.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "ahead.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(stat_value(f, "msg.rejected.stale"), 2);
	assert_int_equal(stat_value(f, "msg.accepted"), 2);
	free(old);
	free(aged);
	free(ahead);
	free(soon);
}

/* The bounds are configuration; 0 turns one off. */
static void
test_time_bounds_are_configurable(void **state)
{
	struct fixture *f = *state;
	char *old = signed_observation(
		f, "old.example", TAG_LIKELYMALWARE, NOW - 7200);
	char *week = signed_observation(
		f, "week.example", TAG_LIKELYMALWARE, NOW - 7 * 86400);
	char *ahead = signed_observation(
		f, "ahead.example", TAG_LIKELYMALWARE, NOW + 120);

	tapir_engine_destroy(f->e);
	f->e = engine_with(f->keys_path, 2,
		"  max-message-age: 3600\n  max-message-ahead: 60\n");
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_not_equal(process_jws(f, old), 0);
	assert_int_not_equal(process_jws(f, ahead), 0);
	assert_int_equal(stat_value(f, "msg.rejected.stale"), 2);
	tapir_engine_destroy(f->e);
	f->e = engine_with(f->keys_path, 2, "  max-message-age: 0\n");
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_equal(process_jws(f, week), 0);
	assert_int_equal(stat_value(f, "msg.rejected.stale"), 0);
	assert_int_equal(stat_value(f, "msg.accepted"), 1);
	free(old);
	free(week);
	free(ahead);
}

/* Without a timestamp the age of a message is unknown: refused while an
 * age bound is set. */
static void
test_message_without_timestamp_is_refused(void **state)
{
	struct fixture *f = *state;
	char added[512] = "[";
	char msg[1024];

	entry(added, sizeof(added), "nots.example", T0, 3607,
		TAG_LIKELYMALWARE);
	strcat(added, "]");
	snprintf(msg, sizeof(msg),
		"{\"src_name\":\"dns-tapir\",\"msg_type\":\"observation\","
		"\"list_type\":\"doubtlist\",\"added\":%s,\"removed\":[]}",
		added);
	assert_int_not_equal(process_signed(f, TOPIC, msg), 0);
	assert_int_equal(decide(f, "nots.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(stat_value(f, "msg.rejected.stale"), 1);
}

/* Wait until the counter reads want (a started engine), or fail. */
static void
wait_stat(struct fixture *f, const char *name, unsigned long long want)
{
	int64_t t0 = tapir_monotonic_ms();

	while (stat_value(f, name) != want) {
		struct timespec ts = { 0, 10 * 1000000 };
		if (tapir_monotonic_ms() - t0 > 3000)
			fail_msg("%s is %llu, want %llu", name,
				stat_value(f, name), want);
		nanosleep(&ts, NULL);
	}
}

static void
submit_jws(struct fixture *f, const char *jws)
{
	assert_int_equal(tapir_engine_submit(f->e, TOPIC, jws, strlen(jws)), 0);
}

/* The high-water mark outlives a restart: it starts again from the newest
 * entry the state file restores, so a captured message is refused at
 * once, not just after the next message. */
static void
test_replay_after_restart_is_refused(void **state)
{
	struct fixture *f = *state;
	char *a = signed_observation(
		f, "a.example", TAG_LIKELYMALWARE, NOW - 300);
	char *gone = signed_removal(f, "a.example", NOW - 200);
	char *b = signed_observation(
		f, "b.example", TAG_LIKELYMALWARE, NOW - 100);
	char extra[256], dir[160];

	snprintf(dir, sizeof(dir), "%s/state", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(extra, sizeof(extra), "state-dir: %s\n", dir);
	tapir_engine_destroy(f->e);
	f->e = engine_with(f->keys_path, 2, extra);
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_equal(tapir_engine_start(f->e), 0);
	submit_jws(f, a);
	wait_stat(f, "msg.accepted", 1);
	submit_jws(f, gone);
	wait_stat(f, "msg.accepted", 2);
	submit_jws(f, b);
	wait_stat(f, "msg.accepted", 3);
	tapir_engine_destroy(f->e);

	f->e = engine_with(f->keys_path, 2, extra);
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_equal(tapir_engine_start(f->e), 0);
	submit_jws(f, a);
	wait_stat(f, "msg.rejected.stale", 1);
	assert_int_equal(decide(f, "a.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "b.example", NULL), TAPIR_ACTION_NXDOMAIN);
	tapir_engine_destroy(f->e);
	f->e = NULL;
	snprintf(extra, sizeof(extra), "%s/tapir-pop.state", dir);
	unlink(extra);
	snprintf(extra, sizeof(extra), "%s/tapir-pop.state.serials", dir);
	unlink(extra);
	free(a);
	free(gone);
	free(b);
}

/* ---- the queue ---- */

static void
test_submit_over_max_message_size_is_refused(void **state)
{
	struct fixture *f = *state;
	uint64_t want[TAPIR_C_COUNT] = { 0 };
	char *big = calloc(1, 4097);

	assert_non_null(big);
	assert_int_equal(
		tapir_engine_submit(f->e, TOPIC, big, 4097), TAPIR_ETOOBIG);
	want[TAPIR_C_MSG_RECEIVED] = 1;
	want[TAPIR_C_REJ_TOO_BIG] = 1;
	assert_counters(f->e, want);
	/* The limit itself is allowed. */
	assert_int_equal(tapir_engine_submit(f->e, TOPIC, big, 4096), 0);
	free(big);
}

static void
test_submit_to_full_queue_is_refused(void **state)
{
	struct fixture *f = *state;
	uint64_t want[TAPIR_C_COUNT] = { 0 };

	/* No writer runs: the queue (length 2) only fills. The teardown's
	 * destroy must free the two queued messages. */
	assert_int_equal(tapir_engine_submit(f->e, TOPIC, "one", 3), 0);
	assert_int_equal(tapir_engine_submit(f->e, TOPIC, "two", 3), 0);
	assert_int_equal(
		tapir_engine_submit(f->e, TOPIC, "three", 5), TAPIR_EFULL);
	want[TAPIR_C_MSG_RECEIVED] = 3;
	want[TAPIR_C_REJ_QUEUE_FULL] = 1;
	assert_counters(f->e, want);
}

/* lib/engine_ingest.c: what the MQTT thread hands each message to. */
void tapir__eng_on_mqtt_message(
	void *arg, int src, const char *topic, const void *payload, size_t len);

/* libmosquitto acknowledges a QoS 1 message to the broker before it hands
 * it over: one that finds the queue (length 2 here) full must wait for
 * room, not be dropped. 200 observations of the QoS 1 source (the
 * default) handed over as fast as the MQTT thread could, faster than the
 * writer verifies them: all 200 applied, none refused. */
static void
test_acknowledged_messages_wait_for_room(void **state)
{
	struct fixture *f = *state;
	enum { N = 200 };
	char *jws[N], name[32];

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "q%d.example", i);
		jws[i] =
			signed_observation(f, name, TAG_LIKELYMALWARE, NOW - 5);
	}
	assert_int_equal(tapir_engine_start(f->e), 0);
	for (int i = 0; i < N; i++)
		tapir__eng_on_mqtt_message(
			f->e, 0, TOPIC, jws[i], strlen(jws[i]));
	wait_stat(f, "msg.accepted", N);
	assert_int_equal(stat_value(f, "msg.rejected.queue_full"), 0);
	print_message(
		"mqtt.queue_waits=%llu\n", stat_value(f, "mqtt.queue_waits"));
	for (int i = 0; i < N; i++)
		free(jws[i]);
}

/* The queue is bounded by bytes as well as by count: 10,000 messages of
 * 64 KiB (the default limits) would hold 640 MiB. By default it holds at
 * most 64 MiB. */
static void
test_submit_past_queue_bytes_is_refused(void **state)
{
	struct fixture *f = *state;
	static const char yaml_fmt[] = "mqtt:\n  broker: mqtt://127.0.0.1:1\n"
				       "keys: %s\n"
				       "sources:\n"
				       "  - name: dns-tapir\n"
				       "    list: doubtlist\n"
				       "    topics: [%s]\n"
				       "%s";
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	char yaml[512];
	char *big = calloc(1, 65536);
	size_t accepted = 0;

	assert_non_null(big);
	tapir_engine_destroy(f->e);
	snprintf(yaml, sizeof(yaml), yaml_fmt, f->keys_path, TOPIC, "");
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err)))
		fail_msg("config: %s", err.text);
	assert_non_null(f->e = tapir_engine_create_take(cfg));
	/* No writer runs: the queue only fills. */
	while (accepted < 2000 &&
		tapir_engine_submit(f->e, TOPIC, big, 65536) == 0)
		accepted++;
	if (accepted * 65536 > (size_t)64 << 20 || accepted < 900)
		fail_msg("%zu messages of 64 KiB queued", accepted);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_REJ_QUEUE_FULL), 1);
	/* A small one may still fit where a large one does not. */
	tapir_engine_destroy(f->e);

	snprintf(yaml, sizeof(yaml), yaml_fmt, f->keys_path, TOPIC,
		"limits:\n  queue-bytes: 1048576\n");
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err)))
		fail_msg("config: %s", err.text);
	assert_non_null(f->e = tapir_engine_create_take(cfg));
	accepted = 0;
	while (accepted < 100 &&
		tapir_engine_submit(f->e, TOPIC, big, 65536) == 0)
		accepted++;
	assert_int_equal(accepted, 15); /* 16 with their bookkeeping: over */
	assert_int_equal(tapir_engine_submit(f->e, TOPIC, big, 1000), 0);
	free(big);
}

/* ---- an engine without configuration ---- */

static void
test_missing_config_gives_inactive_engine(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	char path[160];

	snprintf(path, sizeof(path), "%s/no-such.yaml", f->dir);
	f->e = tapir_engine_create(path);
	assert_non_null(f->e);
	assert_false(tapir_engine_active(f->e));
	assert_null(tapir_engine_config(f->e));
	assert_true(f->log_lines >= 1);
	memset(&why, 0xff, sizeof(why));
	assert_int_equal(
		decide(f, "anything.example", &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.action, TAPIR_ACTION_PASS);
	assert_int_equal(why.n_matches, 0);
}

static void
test_inactive_engine_status_says_inactive(void **state)
{
	struct fixture *f = *state;
	char path[160];
	char *out;

	snprintf(path, sizeof(path), "%s/no-such.yaml", f->dir);
	f->e = tapir_engine_create(path);
	assert_non_null(f->e);
	out = fixture_command(f->e, "status");
	assert_non_null(strstr(out, "state: inactive"));
	free(out);
	out = fixture_command(f->e, "lookup www.example.com");
	assert_int_equal(strncmp(out, "error:", 6), 0);
	free(out);
}

static void
test_inactive_engine_refuses_messages(void **state)
{
	struct fixture *f = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/no-such.yaml", f->dir);
	f->e = tapir_engine_create(path);
	assert_non_null(f->e);
	assert_int_equal(
		tapir_engine_process(f->e, TOPIC, "{}", 2), TAPIR_ECONFIG);
	assert_int_equal(
		tapir_engine_submit(f->e, TOPIC, "{}", 2), TAPIR_ECONFIG);
	/* Starting it starts no feed and is not an error (its control
	 * socket goes to the test's directory, not /run). */
	assert_int_equal(setenv("TAPIR_POP_SOCKET", f->sock_path, 1), 0);
	assert_int_equal(tapir_engine_start(f->e), 0);
	unsetenv("TAPIR_POP_SOCKET");
}

/* A request over the engine's control socket; the answer, to free. */
static char *
request(struct fixture *f, const char *line)
{
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };

	if (tapir_control_request(f->sock_path, line, 5000, &out, &err) != 0)
		fail_msg("control request '%s': %s", line, err.text);
	assert_non_null(out.data);
	return out.data;
}

static void
test_inactive_engine_serves_status_on_default_socket(void **state)
{
	struct fixture *f = *state;
	char path[160], want[400];
	struct stat st;
	char *out;

	snprintf(path, sizeof(path), "%s/no-such.yaml", f->dir);
	f->e = tapir_engine_create(path);
	assert_non_null(f->e);
	assert_int_equal(setenv("TAPIR_POP_SOCKET", f->sock_path, 1), 0);
	assert_int_equal(tapir_engine_start(f->e), 0);
	unsetenv("TAPIR_POP_SOCKET");
	assert_int_equal(stat(f->sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	out = request(f, "status");
	snprintf(want, sizeof(want),
		"state: inactive (%s: No such file or directory)\n", path);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want),
		"problem: configuration not loaded: %s: No such file or "
		"directory\n",
		path);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	free(out);
	out = request(f, "json status");
	assert_non_null(strstr(out, "\"problems\": ["));
	assert_non_null(strstr(out, "configuration not loaded"));
	free(out);
	/* Every other command: the error of today. */
	out = request(f, "lookup www.example.com");
	assert_int_equal(strncmp(out, "error: inactive: ", 17), 0);
	free(out);
	tapir_engine_destroy(f->e);
	f->e = NULL;
	assert_int_equal(access(f->sock_path, F_OK), -1);
}

static void
test_inactive_engine_status_names_file_and_line(void **state)
{
	struct fixture *f = *state;
	char path[160], yaml[400], want[300];
	char *out;

	snprintf(path, sizeof(path), "%s/broken.yaml", f->dir);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n  broker: mqtt://127.0.0.1\nkeys: %s\nbogus: 1\n",
		f->keys_path);
	fixture_write_file(path, yaml);
	f->e = tapir_engine_create(path);
	unlink(path);
	assert_false(tapir_engine_active(f->e));
	out = fixture_command(f->e, "status");
	snprintf(want, sizeof(want), "state: inactive (%s:4: ", path);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want),
		"problem: configuration not loaded: %s:4: ", path);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	free(out);
}

/* ---- control commands ---- */

static void
test_command_status_active(void **state)
{
	struct fixture *f = *state;
	char *out = fixture_command(f->e, "status");

	assert_non_null(strstr(out, "state: active\n"));
	assert_non_null(strstr(out, "keys: 1\n"));
	assert_non_null(strstr(out, "source: dns-tapir list=doubtlist"));
	assert_non_null(strstr(out, "mqtt: disconnected"));
	/* A broker that is not there is retried: not a problem. */
	assert_null(strstr(out, "problem:"));
	free(out);
	out = fixture_command(f->e, "json status");
	assert_non_null(strstr(out, "\"problems\": []"));
	free(out);
}

/* ---- status names what an operator must fix ---- */

/* status of f->e has the line "problem: WANT" (WANT a prefix of it). */
static void
assert_problem(struct fixture *f, const char *want)
{
	char line[512];
	char *out = fixture_command(f->e, "status");

	snprintf(line, sizeof(line), "\nproblem: %s", want);
	if (!strstr(out, line))
		fail_msg("no 'problem: %s' in:\n%s", want, out);
	free(out);
}

static void
test_status_problem_keys_file_missing(void **state)
{
	struct fixture *f = *state;
	char missing[160], want[300];
	char *out;

	snprintf(missing, sizeof(missing), "%s/no-such-keys.json", f->dir);
	f->e = engine_with(missing, 2, NULL);
	snprintf(want, sizeof(want),
		"keys: cannot read %s: No such file or directory\n", missing);
	assert_problem(f, want);
	out = fixture_command(f->e, "json status");
	snprintf(want, sizeof(want),
		"\"problems\": [\n    \"keys: cannot read %s: No such file or "
		"directory\"\n  ]",
		missing);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	free(out);
}

/* Without an MQTT source there are no keys to load (keys: may be left
 * out), and no keys problem. */
static void
test_status_no_keys_problem_without_mqtt_sources(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	char yaml[512], list[160];
	char *out;

	snprintf(list, sizeof(list), "%s/deny.txt", f->dir);
	fixture_write_file(list, "blocked.example\n");
	snprintf(yaml, sizeof(yaml),
		"sources:\n  - name: deny\n    type: file\n"
		"    list: denylist\n    path: %s\n",
		list);
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err)))
		fail_msg("config: %s", err.text);
	f->e = tapir_engine_create_take(cfg);
	assert_non_null(f->e);
	out = fixture_command(f->e, "status");
	unlink(list);
	if (strstr(out, "problem:"))
		fail_msg("a problem without MQTT sources:\n%s", out);
	free(out);
}

static void
test_status_problem_keys_file_broken(void **state)
{
	struct fixture *f = *state;
	char want[300];

	fixture_write_file(f->keys_path, "{\"keys\": 12}");
	f->e = engine_with(f->keys_path, 2, NULL);
	snprintf(want, sizeof(want), "keys: %s: ", f->keys_path);
	assert_problem(f, want);
}

/* The keys file put right, `reload` clears the problem (and the retry in
 * the writer would, within 30 s). */
static void
test_status_problem_keys_cleared_by_reload(void **state)
{
	struct fixture *f = *state;
	char path[160], missing[160], yaml[600], pub[512], jwk[512];
	char *out;

	snprintf(missing, sizeof(missing), "%s/later-keys.json", f->dir);
	snprintf(path, sizeof(path), "%s/tapir-pop.yaml", f->dir);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n  broker: mqtt://127.0.0.1:1\nkeys: %s\nsources:\n"
		"  - name: dns-tapir\n    list: doubtlist\n"
		"    topics: [%s]\n",
		missing, TOPIC);
	fixture_write_file(path, yaml);
	f->e = tapir_engine_create(path);
	assert_true(tapir_engine_active(f->e));
	assert_problem(f, "keys: cannot read ");
	fixture_make_key(KID, jwk, sizeof(jwk), pub, sizeof(pub));
	fixture_write_file(missing, pub);
	out = fixture_command(f->e, "reload");
	assert_string_equal(out, "ok\n");
	free(out);
	out = fixture_command(f->e, "status");
	assert_null(strstr(out, "problem:"));
	assert_non_null(strstr(out, "keys: 1\n"));
	free(out);
	unlink(missing);
	unlink(path);
}

/* tapir-pop-control reload, many times: each puts a new snapshot in
 * force (no limit), and the answer the query path plans and the one
 * lookup describes change together (REDIRECT included). */
static void
test_reload_unlimited_and_answers_follow(void **state)
{
	struct fixture *f = *state;
	static const uint8_t wire[] = "\03www\07example\03com";
	char path[160], yaml[1024], want[128];
	struct tapir_answer a;
	char *out;

	snprintf(path, sizeof(path), "%s/tapir-pop.yaml", f->dir);
	for (unsigned i = 0; i <= 40; i++) {
		snprintf(yaml, sizeof(yaml),
			"mqtt:\n  broker: mqtt://127.0.0.1:1\nkeys: %s\n"
			"sources:\n"
			"  - name: dns-tapir\n    list: doubtlist\n"
			"    topics: [%s]\n"
			"policy:\n  doubtlist:\n"
			"    denytapir: { tags: [likelymalware], action: %s }\n"
			"answer:\n  negative-ttl: %u\n"
			"  redirect-a: [192.0.2.%u]\n",
			f->keys_path, TOPIC, i == 40 ? "REDIRECT" : "NXDOMAIN",
			100 + i, i);
		fixture_write_file(path, yaml);
		if (i == 0) {
			f->e = tapir_engine_create(path);
			assert_true(tapir_engine_active(f->e));
			tapir_engine_set_clock(f->e, fake_clock);
			observe(f, "www.example.com", T0, 3607,
				TAG_LIKELYMALWARE);
		} else {
			out = fixture_command(f->e, "reload");
			if (strcmp(out, "ok\n") != 0)
				fail_msg("reload %u: %s", i, out);
			free(out);
		}
		tapir_engine_query(f->e, wire, sizeof(wire), 1, 0, &a);
		assert_int_equal(a.ttl, 100 + i);
		out = fixture_command(f->e, "lookup www.example.com");
		snprintf(want, sizeof(want), ", TTL %u\n", 100 + i);
		if (!strstr(out, want))
			fail_msg("reload %u: no '%s' in:\n%s", i, want, out);
		free(out);
	}
	assert_int_equal(a.action, TAPIR_ACTION_REDIRECT);
	assert_int_equal(a.kind, TAPIR_ANSWER_RECORDS);
	assert_memory_equal(a.rdata, "\0\4\xc0\0\2\x28", 6);
	out = fixture_command(f->e, "lookup www.example.com");
	assert_non_null(
		strstr(out, "\nanswer: NOERROR, A 192.0.2.40, TTL 140\n"
			    "answer for AAAA: NOERROR/NODATA with SOA "));
	free(out);
	unlink(path);
}

static void
test_status_problem_state_dir_missing(void **state)
{
	struct fixture *f = *state;
	char extra[300], want[300];

	snprintf(extra, sizeof(extra), "state-dir: %s/no-such-dir\n", f->dir);
	f->e = engine_with(f->keys_path, 2, extra);
	snprintf(want, sizeof(want),
		"state-dir: %s/no-such-dir: No such file or directory\n",
		f->dir);
	assert_problem(f, want);
}

static void
test_status_problem_state_dir_not_a_directory(void **state)
{
	struct fixture *f = *state;
	char extra[300], want[300];

	snprintf(extra, sizeof(extra), "state-dir: %s\n", f->keys_path);
	f->e = engine_with(f->keys_path, 2, extra);
	snprintf(want, sizeof(want), "state-dir: %s: not a directory\n",
		f->keys_path);
	assert_problem(f, want);
}

static void
test_status_problem_state_dir_fixed_clears_on_reload(void **state)
{
	struct fixture *f = *state;
	char path[160], dir[160], yaml[600];
	char *out;

	snprintf(dir, sizeof(dir), "%s/state", f->dir);
	snprintf(path, sizeof(path), "%s/tapir-pop.yaml", f->dir);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n  broker: mqtt://127.0.0.1:1\nkeys: %s\nsources:\n"
		"  - name: dns-tapir\n    list: doubtlist\n"
		"    topics: [%s]\nstate-dir: %s\n",
		f->keys_path, TOPIC, dir);
	fixture_write_file(path, yaml);
	f->e = tapir_engine_create(path);
	assert_problem(f, "state-dir: ");
	assert_int_equal(mkdir(dir, 0750), 0);
	out = fixture_command(f->e, "reload");
	assert_string_equal(out, "ok\n");
	free(out);
	out = fixture_command(f->e, "status");
	assert_null(strstr(out, "problem:"));
	free(out);
	/* The probe left nothing behind. */
	assert_int_equal(rmdir(dir), 0);
	unlink(path);
}

static void
test_status_no_problem_with_writable_state_dir(void **state)
{
	struct fixture *f = *state;
	char extra[300], dir[160];
	char *out;

	snprintf(dir, sizeof(dir), "%s/state", f->dir);
	assert_int_equal(mkdir(dir, 0750), 0);
	snprintf(extra, sizeof(extra), "state-dir: %s\n", dir);
	f->e = engine_with(f->keys_path, 2, extra);
	out = fixture_command(f->e, "status");
	assert_null(strstr(out, "problem:"));
	free(out);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_status_problem_core_status_key_missing(void **state)
{
	struct fixture *f = *state;
	char extra[300], want[300];

	snprintf(extra, sizeof(extra),
		"core-status:\n  topic: status/up/x\n"
		"  signing-key: %s/no-such.jwk\n",
		f->dir);
	f->e = engine_with(f->keys_path, 2, extra);
	snprintf(want, sizeof(want),
		"core-status: signing-key: cannot read %s/no-such.jwk: No such "
		"file or directory\n",
		f->dir);
	assert_problem(f, want);
}

extern int tapir__eng_report_delay_ms;

/* A broker out of reach for longer than two minutes is a problem of
 * status (exit 1), not before: the decisions age while nothing renews
 * them. */
static void
test_status_problem_broker_down_for_long(void **state)
{
	struct fixture *f = *state;
	char *out;

	f->e = engine_with(f->keys_path, 2, NULL);
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_equal(tapir_engine_start(f->e), 0);
	fake_now = NOW + 120;
	out = fixture_command(f->e, "status");
	assert_null(strstr(out, "problem: mqtt"));
	free(out);
	fake_now = NOW + 121;
	out = fixture_command(f->e, "status");
	if (!strstr(out, "\nproblem: mqtt: no connection to 127.0.0.1:1 for "
			 "121 s ("))
		fail_msg("no broker problem in:\n%s", out);
	free(out);
}

/* Destroy while the writer is in the middle of a core-status report: the
 * MQTT client it publishes through must outlive it (a use after free
 * under AddressSanitizer otherwise). The report comes within the writer's
 * first second and waits a second before it is published. */
static void
test_destroy_while_writer_reports(void **state)
{
	struct fixture *f = *state;
	char extra[400], jwk[512], path[200];
	struct timespec ts = { 1, 300 * 1000000L };

	fixture_make_key("status", jwk, sizeof(jwk), NULL, 0);
	snprintf(path, sizeof(path), "%s/status.jwk", f->dir);
	fixture_write_file(path, jwk);
	snprintf(extra, sizeof(extra),
		"core-status:\n  topic: status/up/x\n  interval: 10\n"
		"  signing-key: %s\n",
		path);
	f->e = engine_with(f->keys_path, 2, extra);
	tapir__eng_report_delay_ms = 1000;
	assert_int_equal(tapir_engine_start(f->e), 0);
	nanosleep(&ts, NULL);
	tapir_engine_destroy(f->e);
	f->e = NULL;
	tapir__eng_report_delay_ms = 0;
	unlink(path);
}

/* Wait until status over the socket has want, or fail after 5 s. */
static char *
status_with(struct fixture *f, const char *want)
{
	int64_t t0 = tapir_monotonic_ms();
	char *out = NULL;

	while (tapir_monotonic_ms() - t0 < 5000) {
		struct timespec ts = { 0, 20 * 1000000 };
		free(out);
		out = request(f, "status");
		if (strstr(out, want))
			return out;
		nanosleep(&ts, NULL);
	}
	fail_msg("no '%s' in:\n%s", want, out);
	return out;
}

/* Started: a TLS file the module cannot read, a file source that is not
 * there, a socket group that does not exist. */
static void
test_status_problems_of_a_started_engine(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	char yaml[2048], want[400];
	char *out;

	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtts://127.0.0.1:1\n"
		"  ca-file: %s/no-such-ca.crt\n"
		"keys: %s\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [%s]\n"
		"  - name: local\n"
		"    type: file\n"
		"    list: denylist\n"
		"    path: %s/no-such-list.txt\n"
		"control:\n"
		"  socket: %s\n"
		"  group: tapir-no-such-group\n",
		f->dir, f->keys_path, TOPIC, f->dir, f->sock_path);
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "test.yaml", &err)))
		fail_msg("config: %s", err.text);
	f->e = tapir_engine_create_take(cfg);
	assert_non_null(f->e);
	assert_int_equal(tapir_engine_start(f->e), 0);
	/* The writer reads file sources once it runs. */
	snprintf(want, sizeof(want),
		"\nproblem: source local: %s/no-such-list.txt: No such file or "
		"directory\n",
		f->dir);
	out = status_with(f, want);
	snprintf(want, sizeof(want),
		"\nproblem: mqtt: ca-file: cannot read %s/no-such-ca.crt: No "
		"such file or directory\n",
		f->dir);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	assert_non_null(strstr(out, "\nmqtt: disconnected (not started: "));
	assert_non_null(strstr(out,
		"\nproblem: control: group tapir-no-such-group: no such "
		"group\n"));
	free(out);
}

static void
test_command_stats_noreset_lists_every_counter(void **state)
{
	struct fixture *f = *state;
	char line[128];
	char *out;

	observe(f, "malware.example", T0, 3607, TAG_LIKELYMALWARE);
	out = fixture_command(f->e, "stats_noreset");
	for (int c = 0; c < TAPIR_C_COUNT; c++) {
		snprintf(line, sizeof(line), "%s=%llu\n", tapir_counter_str(c),
			(unsigned long long)tapir_engine_counter(f->e, c));
		if (!strstr(out, line))
			fail_msg("no line '%s' in:\n%s", line, out);
	}
	assert_non_null(strstr(out, "msg.accepted=1\n"));
	assert_non_null(strstr(out, "entry.added=1\n"));
	free(out);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 1);
	out = fixture_command(f->e, "stats_noreset");
	assert_non_null(strstr(out, "msg.accepted=1\n"));
	free(out);
}

static void
test_command_stats_resets_counters(void **state)
{
	struct fixture *f = *state;
	char *out;

	observe(f, "malware.example", T0, 3607, TAG_LIKELYMALWARE);
	out = fixture_command(f->e, "stats");
	assert_non_null(strstr(out, "msg.accepted=1\n"));
	free(out);
	for (int c = 0; c < TAPIR_C_COUNT; c++)
		assert_int_equal(tapir_engine_counter(f->e, c), 0);
	out = fixture_command(f->e, "stats_noreset");
	assert_non_null(strstr(out, "msg.accepted=0\n"));
	free(out);
	/* The database is not a counter: the entry stays. */
	assert_int_equal(
		decide(f, "malware.example", NULL), TAPIR_ACTION_NXDOMAIN);
}

static void
test_command_lookup_explains_decision(void **state)
{
	struct fixture *f = *state;
	char *out;

	observe(f, "malware.example", T0, 3607, TAG_LIKELYMALWARE);
	out = fixture_command(f->e, "lookup Malware.Example.");
	assert_non_null(strstr(out, "name: malware.example\n"));
	assert_non_null(strstr(out, "action: NXDOMAIN\n"));
	assert_non_null(strstr(out, "rule: denytapir\n"));
	assert_non_null(strstr(out, "source=dns-tapir"));
	assert_non_null(strstr(out, "likelymalware"));
	free(out);
}

static void
test_command_lookup_invalid_name_is_error(void **state)
{
	struct fixture *f = *state;
	char *out = fixture_command(f->e, "lookup bad..name");

	assert_int_equal(strncmp(out, "error:", 6), 0);
	free(out);
}

static void
test_command_unknown_is_error(void **state)
{
	struct fixture *f = *state;
	char *out = fixture_command(f->e, "frobnicate now");

	assert_int_equal(strncmp(out, "error:", 6), 0);
	free(out);
	out = fixture_command(f->e, "");
	assert_int_equal(strncmp(out, "error:", 6), 0);
	free(out);
}

/* A peer that is not privileged reads, and is refused, with a reason and
 * counted, everything that changes state (stats resets the counters). */
static void
test_control_unprivileged_peer_only_reads(void **state)
{
	static const char *const reads[] = { "status", "stats_noreset",
		"lookup malware.example", "list", "list list=doubtlist",
		"dump-rpz", "dump-rpz rpz.local", "digest", "override list",
		"json status", "json override list", " json lookup x.example" };
	static const char *const changes[] = { "override allow x.example 0",
		"override deny x.example 60 why", "override remove x.example",
		"reload", "flush x.example", "flush --all", "stats",
		"json stats", "  override  allow x.example 0", "frobnicate",
		"statusx", "override",
		/* Let through as "override list" once, and run as another
		 * verb: who may run it is now read as it runs. */
		"override \vlist" };
	struct fixture *f = *state;
	char *out;
	size_t i;

	observe(f, "malware.example", T0, 3607, TAG_LIKELYMALWARE);
	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		out = fixture_control(f->e, reads[i], false);
		if (strstr(out, "not permitted"))
			fail_msg("'%s' refused: %s", reads[i], out);
		free(out);
	}
	assert_int_equal(
		tapir_engine_counter(f->e, TAPIR_C_CONTROL_REFUSED), 0);
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		out = fixture_control(f->e, changes[i], false);
		if (strncmp(out, "error: ", 7) != 0 ||
			!strstr(out, "not permitted: ") ||
			!strstr(out, "only root") || !strstr(out, "uid 65534"))
			fail_msg("'%s' not refused: %s", changes[i], out);
		free(out);
	}
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_CONTROL_REFUSED),
		sizeof(changes) / sizeof(changes[0]));
	/* Nothing changed: no override, the counters not reset. */
	assert_int_equal(decide(f, "x.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 1);
	/* In JSON, an error object after the protocol's "error: ". */
	out = fixture_control(f->e, "json override deny x.example 0", false);
	assert_int_equal(strncmp(out, "error: {", 8), 0);
	assert_non_null(strstr(out, "\"error\": \"not permitted: "));
	free(out);
	/* A privileged peer runs them. */
	out = fixture_control(f->e, "stats", true);
	assert_non_null(strstr(out, "msg.accepted=1\n"));
	free(out);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 0);
}

/* lookup's type is taken as written or not at all: TYPE4294967297 is no
 * type (atoi() made it 1, A), so the whole argument is the name, which
 * fails. */
static void
test_control_lookup_type_as_written(void **state)
{
	struct fixture *f = *state;
	char *out;

	out = fixture_command(f->e, "lookup x.example TYPE4294967297");
	if (strncmp(out, "error: ", 7) != 0)
		fail_msg("TYPE4294967297 taken as a type: %s", out);
	free(out);
	/* The largest is one. */
	out = fixture_command(f->e, "lookup x.example TYPE65535");
	if (strstr(out, "error"))
		fail_msg("TYPE65535 refused: %s", out);
	free(out);
}

/* ---- exports: list, dump-rpz and digest of many names ---- */

#define EXPORT_PART 100

/* Observations of prefix<i>.example for i in [from, from + count), twenty
 * to a message (max-message-size is 4096). */
static void
observe_many(struct fixture *f, const char *prefix, size_t from, size_t count,
	uint32_t tags)
{
	for (size_t i = from; i < from + count;) {
		char added[4096] = "[", name[64];
		char *msg;
		for (size_t k = 0; k < 20 && i < from + count; k++, i++) {
			snprintf(
				name, sizeof(name), "%s%zu.example", prefix, i);
			entry(added, sizeof(added), name, T0, 3607, tags);
		}
		strcat(added, "]");
		msg = tapir_msg(
			"dns-tapir", "observation", "doubtlist", added, "[]");
		assert_int_equal(process_signed(f, TOPIC, msg), 0);
		free(msg);
	}
}

/* The client of a streamed answer, in the test's thread: what each piece
 * brought, and whether it came while a read section was open. */
struct pieces {
	struct fixture *f;
	struct tapir_buf all;
	size_t n, max_lines, max_len;
	bool in_section, grow;
};

static int
take_piece(void *arg, const char *data, size_t len)
{
	struct pieces *p = arg;
	size_t lines = 0;

	/* The calling thread's read section, if it is in one: a send from
	 * inside would let a slow client hold up the writer's next grace
	 * period (and the growth below would wait for itself). */
	if (tapir_epoch_tls_slot && tapir_epoch_tls_slot->depth > 0) {
		p->in_section = true;
		return TAPIR_EIO;
	}
	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	if (lines > p->max_lines)
		p->max_lines = lines;
	if (len > p->max_len)
		p->max_len = len;
	tapir_buf_append(&p->all, data, len);
	/* While the client reads the second piece, the writer grows the
	 * database past an index rebuild, which waits for a grace period
	 * and moves every name. */
	if (++p->n == 2 && p->grow)
		observe_many(p->f, "grow", 0, 1500, TAG_LIKELYMALWARE);
	return 0;
}

/* Runs line as the control server would, its answer going to p. */
static void
command_streamed(struct fixture *f, const char *line, struct pieces *p)
{
	struct tapir_buf out = { .sink = take_piece, .sink_arg = p };

	p->f = f;
	tapir_engine_command(f->e, line, &out);
	assert_false(out.failed);
	assert_int_equal(tapir_buf_flush(&out), 0);
	tapir_buf_clear(&out);
	assert_false(p->in_section);
	assert_non_null(p->all.data);
}

static size_t
count_lines_of(const char *text, const char *want)
{
	size_t n = 0, len = strlen(want);

	for (const char *at = text; (at = strstr(at, want)); at += len)
		n += at == text || at[-1] == '\n';
	return n;
}

/*
 * list of 2000 names: the answer goes to the client in pieces of about
 * one read section's names each, each sent with no read section open,
 * while the writer grows the database through an index rebuild (which
 * waits for a grace period) between two pieces. Each name there
 * throughout is listed exactly once.
 */
static void
test_list_is_sent_in_pieces_outside_read_sections(void **state)
{
	struct fixture *f = *state;
	struct pieces p = { .grow = true };
	char want[64];

	observe_many(f, "n", 0, 2000, TAG_LIKELYMALWARE);
	tapir__eng_export_names = EXPORT_PART;
	command_streamed(f, "list", &p);
	if (p.n < 2000 / EXPORT_PART / 2)
		fail_msg("a list of 2000 names came in %zu piece(s) of up to "
			 "%zu lines",
			p.n, p.max_lines);
	/* A part ends at the end of a probe run: a bounded overshoot. */
	if (p.max_lines > EXPORT_PART + 400)
		fail_msg("a piece of %zu lines (parts of %d names)",
			p.max_lines, EXPORT_PART);
	for (size_t i = 0; i < 2000; i++) {
		snprintf(want, sizeof(want),
			"n%zu.example NXDOMAIN denytapir\n", i);
		if (count_lines_of(p.all.data, want) != 1)
			fail_msg("n%zu.example listed %zu times", i,
				count_lines_of(p.all.data, want));
	}
	/* The names added during the list: once or not at all. */
	for (size_t i = 0; i < 1500; i++) {
		snprintf(want, sizeof(want),
			"grow%zu.example NXDOMAIN denytapir\n", i);
		assert_true(count_lines_of(p.all.data, want) <= 1);
	}
	assert_int_equal(
		decide(f, "grow1499.example", NULL), TAPIR_ACTION_NXDOMAIN);
	tapir_buf_clear(&p.all);
}

/* In JSON, the pieces make the document one json_dumps() of the whole
 * array makes, as the answer was before it came in pieces. */
static void
test_list_json_in_pieces_is_one_array(void **state)
{
	struct fixture *f = *state;
	struct pieces p = { 0 }, none = { 0 }, bad = { 0 };
	json_error_t jerr;
	json_t *arr;
	char *txt;

	observe_many(f, "j", 0, 450, TAG_LIKELYMALWARE);
	tapir__eng_export_names = EXPORT_PART;
	command_streamed(f, "json list", &p);
	command_streamed(f, "json list list=allowlist", &none);
	command_streamed(f, "json list bogus=1", &bad);
	assert_true(p.n > 1);
	if (!(arr = json_loads(p.all.data, 0, &jerr)))
		fail_msg("not JSON: %s at %d", jerr.text, jerr.position);
	assert_int_equal(json_array_size(arr), 450);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(arr, 0), "action")),
		"NXDOMAIN");
	txt = json_dumps(arr, JSON_INDENT(2));
	assert_non_null(txt);
	assert_int_equal(p.all.len, strlen(txt) + 1);
	assert_memory_equal(p.all.data, txt, strlen(txt));
	assert_string_equal(p.all.data + strlen(txt), "\n");
	free(txt);
	json_decref(arr);
	assert_string_equal(none.all.data, "[]\n");
	assert_string_equal(bad.all.data,
		"error: {\n  \"error\": \"bad filter bogus=1\"\n}\n");
	tapir_buf_clear(&p.all);
	tapir_buf_clear(&none.all);
	tapir_buf_clear(&bad.all);
}

/* The dump's SOA serial is the time of the dump: blank it out. */
static void
blank_serial(char *text)
{
	char *soa = strstr(text, " SOA localhost. hostmaster.localhost. ");

	assert_non_null(soa);
	for (char *c = soa + 38; *c >= '0' && *c <= '9'; c++)
		*c = '0';
}

/* dump-rpz goes out in pieces too; in JSON it is the text as one string,
 * as when the answer was wrapped whole. */
static void
test_dump_rpz_is_sent_in_pieces(void **state)
{
	struct fixture *f = *state;
	struct pieces p = { 0 }, pj = { 0 };
	json_t *obj;
	char *text;
	char want[80];

	observe_many(f, "r", 0, 600, TAG_LIKELYMALWARE);
	tapir__eng_export_names = EXPORT_PART;
	command_streamed(f, "dump-rpz rpz.test", &p);
	command_streamed(f, "json dump-rpz rpz.test", &pj);
	assert_true(p.n > 1);
	assert_non_null(strstr(p.all.data, "$ORIGIN rpz.test.\n"));
	for (size_t i = 0; i < 600; i++) {
		snprintf(want, sizeof(want), "r%zu.example.rpz.test CNAME .\n",
			i);
		if (count_lines_of(p.all.data, want) != 1)
			fail_msg("r%zu.example dumped %zu times", i,
				count_lines_of(p.all.data, want));
	}
	assert_non_null(strstr(p.all.data, "\n; 600 records\n"));
	assert_true(pj.n > 1);
	assert_non_null(obj = json_loads(pj.all.data, 0, NULL));
	assert_non_null(
		text = strdup(json_string_value(json_object_get(obj, "text"))));
	/* The text, without its last newline. */
	assert_int_equal(strlen(text) + 1, p.all.len);
	blank_serial(text);
	blank_serial(p.all.data);
	assert_memory_equal(text, p.all.data, strlen(text));
	free(text);
	json_decref(obj);
	tapir_buf_clear(&p.all);
	tapir_buf_clear(&pj.all);
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* digest: BLAKE2b-256 of the "NAME ACTION" lines of every name not
 * passed, sorted; the same in passes of bounded memory, however small. */
static void
test_digest_is_the_same_in_bounded_passes(void **state)
{
	struct fixture *f = *state;
	static const size_t budgets[] = { 0, 4096, 1000, 200 };
	char *lines[700], want[200], hex[65], *list, *save = NULL;
	unsigned char h[32];
	crypto_generichash_state st;
	size_t n = 0;

	observe_many(f, "d", 0, 700, TAG_LIKELYMALWARE);
	/* One tag of two: passed, not in the digest. */
	observe_many(f, "p", 0, 300, TAG_GLOBALLY_NEW);
	list = fixture_command(f->e, "list");
	for (char *l = strtok_r(list, "\n", &save); l;
		l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : 0;
		assert_non_null(sp2);
		if (!strncmp(sp + 1, "PASS ", 5))
			continue;
		*sp2 = '\0';
		assert_true(n < 700);
		assert_true(asprintf(&lines[n++], "%s\n", l) > 0);
	}
	free(list);
	assert_int_equal(n, 700);
	qsort(lines, n, sizeof(*lines), line_cmp);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (size_t i = 0; i < n; i++) {
		crypto_generichash_update(
			&st, (unsigned char *)lines[i], strlen(lines[i]));
		free(lines[i]);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(want, sizeof(want), "digest: blake2b-256:%s\nnames: 700\n",
		hex);
	tapir__eng_export_names = 7;
	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		char *got;
		if (budgets[b])
			tapir__eng_digest_bytes = budgets[b];
		got = fixture_command(f->e, "digest");
		if (strcmp(got, want) != 0)
			fail_msg("digest in passes of %zu bytes:\n%s"
				 "want:\n%s",
				budgets[b], got, want);
		free(got);
	}
}

/* ---- the upstream vector ---- */

/* 2026-07-20T09:15:02.123456789Z, fraction truncated, + ttl 3607. */
#define VECTOR_EXPIRY (INT64_C(1784538902) + 3607)

static void
test_upstream_vector_blocks_until_exact_expiry(void **state)
{
	struct fixture *f = *state;
	static const char name[] = "xn--exmple-cua.example.se";
	struct tapir_reason why;
	size_t len;
	char *msg;

	f->e = engine_with(vector_path("verkeys-a.pub.json"), 1, NULL);
	tapir_engine_set_clock(f->e, fake_clock);
	fake_now = INT64_C(1784539200); /* 2026-07-20T09:20:00Z */
	msg = fixture_read_file(
		vector_path("observation-globally_new_signed.json"), &len);
	assert_int_equal(tapir_engine_process(f->e, TOPIC, msg, len), 0);
	free(msg);
	assert_int_equal(decide(f, name, &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.rule, TAPIR_RULE_NUMTAPIRTAGS);
	assert_int_equal(why.tapir_tags, TAG_GLOBALLY_NEW);
	assert_int_equal(why.n_matches, 1);
	assert_int_equal(why.matches[0].e.expiry, VECTOR_EXPIRY);
	fake_now = VECTOR_EXPIRY - 1;
	assert_int_equal(decide(f, name, NULL), TAPIR_ACTION_NXDOMAIN);
	fake_now = VECTOR_EXPIRY;
	assert_int_equal(decide(f, name, NULL), TAPIR_ACTION_PASS);
}

/* The TTL of an override is a number of seconds: a word that is not one
 * is refused, not read as 0 (permanent), and so is one past long long
 * (undefined behaviour for the sscanf it went through). */
static void
test_override_ttl_must_be_seconds(void **state)
{
	struct fixture *f = *state;
	char *out;

	out = fixture_command(f->e, "override deny abc.example abc");
	assert_string_equal(out,
		"error: ttl 'abc': not a duration (seconds, or with s, m, h or "
		"d)\n");
	free(out);
	out = fixture_command(
		f->e, "override deny big.example 99999999999999999999");
	assert_string_equal(out,
		"error: ttl '99999999999999999999': more than 3650 days\n");
	free(out);
	assert_int_equal(decide(f, "abc.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "big.example", NULL), TAPIR_ACTION_PASS);
	out = fixture_command(f->e, "override deny ok.example 60");
	assert_string_equal(out, "ok\n");
	free(out);
	assert_int_equal(decide(f, "ok.example", NULL), TAPIR_ACTION_NXDOMAIN);
	fake_now = NOW + 60;
	assert_int_equal(decide(f, "ok.example", NULL), TAPIR_ACTION_PASS);
}

/* ---- with threads ---- */

/*
 * overrides.json is input: an expiry no entry can hold (past 2106) is
 * refused and counted, not cut to 32 bits. 2^32 + NOW + 3600 used to
 * wrap to an hour from now.
 */
static void
test_override_file_expiry_beyond_32_bits_is_refused(void **state)
{
	struct fixture *f = *state;
	char extra[256], dir[128], path[192], json[512];
	int64_t t0;

	snprintf(dir, sizeof(dir), "%s/state", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/overrides.json", dir);
	snprintf(json, sizeof(json),
		"{\"version\":1,\"overrides\":["
		"{\"name\":\"wrap.example\",\"action\":\"deny\","
		"\"added\":0,\"expires\":%lld,\"comment\":\"\"},"
		"{\"name\":\"ok.example\",\"action\":\"deny\","
		"\"added\":0,\"expires\":0,\"comment\":\"\"}]}",
		(long long)(((int64_t)1 << 32) + NOW + 3600));
	fixture_write_file(path, json);
	snprintf(extra, sizeof(extra), "state-dir: %s\n", dir);
	f->e = engine_with(f->keys_path, 2, extra);
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_equal(tapir_engine_start(f->e), 0);
	t0 = tapir_monotonic_ms();
	while (decide(f, "ok.example", NULL) != TAPIR_ACTION_NXDOMAIN &&
		tapir_monotonic_ms() - t0 < 5000) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(decide(f, "ok.example", NULL), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "wrap.example", NULL), TAPIR_ACTION_PASS);
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_ENTRY_INVALID), 1);
	tapir_engine_destroy(f->e);
	f->e = NULL;
	unlink(path);
	snprintf(path, sizeof(path), "%s/tapir-pop.state", dir);
	unlink(path);
}

static void
test_started_engine_applies_submitted_message(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	char extra[256], added[512] = "[";
	enum tapir_action a = TAPIR_ACTION_PASS;
	int64_t t0, took;
	size_t len;
	char *msg, *jws;

	snprintf(extra, sizeof(extra), "control:\n  socket: %s\n  mode: 0600\n",
		f->sock_path);
	f->e = engine_with(f->keys_path, 2, extra);
	assert_int_equal(tapir_engine_start(f->e), 0);

	entry(added, sizeof(added), "threaded.example", tapir_now(), 3600,
		TAG_LIKELYMALWARE);
	strcat(added, "]");
	/* Sent now: this engine runs on the wall clock. */
	msg = tapir_msg_at("dns-tapir", "observation", "doubtlist", added, "[]",
		tapir_now());
	jws = sign_with(f->signer, msg, &len);
	assert_int_equal(tapir_engine_submit(f->e, TOPIC, jws, len), 0);
	free(jws);
	free(msg);

	t0 = tapir_monotonic_ms();
	while (tapir_monotonic_ms() - t0 < 2000) {
		struct timespec ts = { 0, 10 * 1000000 };
		if ((a = decide(f, "threaded.example", NULL)) !=
			TAPIR_ACTION_PASS)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(a, TAPIR_ACTION_NXDOMAIN);

	/* The control thread answers from the same engine. */
	assert_int_equal(tapir_control_request(f->sock_path,
				 "lookup threaded.example", 5000, &out, &err),
		0);
	assert_non_null(strstr(out.data, "action: NXDOMAIN"));
	tapir_buf_clear(&out);

	t0 = tapir_monotonic_ms();
	tapir_engine_destroy(f->e);
	f->e = NULL;
	took = tapir_monotonic_ms() - t0;
	assert_true(took < 5000);
	assert_int_equal(access(f->sock_path, F_OK), -1);
}

/* The resolver's flush, as the engine's purge_send: done when ok is set,
 * failed when not; the names it was asked for, counted. */
struct fake_resolver {
	_Atomic bool ok;
	_Atomic int calls;
	_Atomic int zone_calls;
};

static int
fake_flush(void *arg, const char *name, bool zone)
{
	struct fake_resolver *r = arg;

	(void)name;
	r->calls++;
	r->zone_calls += zone;
	return r->ok ? 0 : -1;
}

/* flush says "ok" only when the resolver flushed, and an error when it
 * did not: the operator must not believe a cache was emptied that was
 * not. */
static void
test_command_flush_reports_what_unbound_did(void **state)
{
	struct fixture *f = *state;
	struct fake_resolver r = { .ok = false };
	char *out;

	f->e = engine_with(f->keys_path, 2, NULL);
	tapir_engine_set_purge(f->e, fake_flush, &r, "the test's resolver");
	assert_int_equal(tapir_engine_start(f->e), 0);

	/* Every retry fails. */
	out = fixture_command(f->e, "flush gone.example");
	if (strncmp(out, "error: the test's resolver did not flush ", 41) != 0)
		fail_msg("flush the resolver refused answered: %s", out);
	free(out);
	out = fixture_command(f->e, "flush --all");
	if (strncmp(out, "error: ", 7) != 0)
		fail_msg("flush --all the resolver refused answered: %s", out);
	free(out);
	assert_true(r.calls >= 2);

	r.ok = true;
	r.calls = r.zone_calls = 0;
	out = fixture_command(f->e, "flush cached.example");
	assert_string_equal(out, "ok\n");
	free(out);
	out = fixture_command(f->e, "flush --all");
	assert_string_equal(out, "ok\n");
	free(out);
	/* Each a flush of the name and below it. */
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.zone_calls, 2);
}

/* The signal mask of the thread named name, from /proc (Linux); false
 * when no thread has that name (yet). */
static bool
thread_sigblk(const char *name, uint64_t *mask)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	bool found = false;

	assert_non_null(d);
	while (!found && (de = readdir(d))) {
		char path[300], comm[32] = "", line[256];
		FILE *fp;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			de->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		if (!fgets(comm, sizeof(comm), fp))
			comm[0] = '\0';
		fclose(fp);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
			de->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "SigBlk: %" SCNx64, mask) == 1)
				found = true;
		fclose(fp);
	}
	closedir(d);
	return found;
}

static int
no_resolver(void *arg, const char *name, bool zone)
{
	(void)arg;
	(void)name;
	(void)zone;
	return -1;
}

static _Atomic pid_t usr1_taken_by;

static void
on_usr1(int sig)
{
	(void)sig;
	usr1_taken_by = (pid_t)syscall(SYS_gettid);
}

/*
 * Unbound loads the module (init) before it blocks signals for its own
 * threads, and relies on its main thread alone taking SIGHUP, SIGTERM and
 * the rest. A module thread that left them unblocked could take a signal
 * sent to the process and run Unbound's handler on it. Every thread a
 * started engine runs blocks them all, and start leaves its caller's mask
 * as it found it.
 */
static void
test_started_engine_threads_block_signals(void **state)
{
	static const char *const names[] = { "tapir-writer", "tapir-mqtt",
		"tapir-purge", "tapir-xfr", "tapir-control" };
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
		SIGUSR2, SIGPIPE, SIGALRM, SIGCHLD };
	struct fixture *f = *state;
	struct sigaction sa = { .sa_handler = on_usr1 }, old_sa;
	struct timespec zero = { 0, 0 };
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	sigset_t before, after, usr1;
	char yaml[1024];
	uint64_t mask = 0;
	int64_t t0;
	size_t i;

	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"keys: %s\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [%s]\n"
		"  - name: rpz\n"
		"    type: xfr\n"
		"    list: denylist\n"
		"    primary: 127.0.0.1\n"
		"    port: 1\n"
		"    zone: rpz.test\n"
		"control:\n"
		"  socket: %s\n",
		f->keys_path, TOPIC, f->sock_path);
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "test.yaml", &err)))
		fail_msg("config: %s", err.text);
	f->e = tapir_engine_create_take(cfg);
	assert_non_null(f->e);
	/* No resolver: the purger only has to run. */
	tapir_engine_set_purge(f->e, no_resolver, NULL, "no resolver");

	/* As Unbound calls init: nothing blocked. */
	sigemptyset(&before);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &before, NULL), 0);
	assert_int_equal(tapir_engine_start(f->e), 0);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigismember(&after, sigs[i]))
			fail_msg("start left signal %d blocked in its caller",
				sigs[i]);

	/* Each thread names itself when it runs. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		t0 = tapir_monotonic_ms();
		while (!thread_sigblk(names[i], &mask)) {
			struct timespec ts = { 0, 10 * 1000000 };
			if (tapir_monotonic_ms() - t0 > 5000)
				fail_msg("no thread %s", names[i]);
			nanosleep(&ts, NULL);
		}
		for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
			if (!(mask & (UINT64_C(1) << (sigs[k] - 1))))
				fail_msg("thread %s takes signal %d (SigBlk "
					 "%016" PRIx64 ")",
					names[i], sigs[k], mask);
	}

	/* What Unbound then does: its threads block signals, and one sent
	 * to the process waits for whoever unblocks it, never running the
	 * handler on a module thread. */
	usr1_taken_by = 0;
	assert_int_equal(sigaction(SIGUSR1, &sa, &old_sa), 0);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	t0 = tapir_monotonic_ms();
	while (!usr1_taken_by && tapir_monotonic_ms() - t0 < 200) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (usr1_taken_by)
		fail_msg("a module thread (tid %d) took SIGUSR1 sent to the "
			 "process",
			(int)usr1_taken_by);
	assert_int_equal(sigtimedwait(&usr1, NULL, &zero), SIGUSR1);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &usr1, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old_sa, NULL), 0);
}

#define T(fn)  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TK(fn) cmocka_unit_test_setup_teardown(fn, setup_keys, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_likelymalware_blocks_by_denytapir),
		T(test_one_tag_globally_new_passes),
		T(test_two_tags_block_by_numtapirtags),
		T(test_readd_replaces_tags_not_merges),
		T(test_readd_replaces_expiry_even_when_earlier),
		T(test_readd_extends_expiry),
		T(test_removed_deletes_entry),
		T(test_removing_absent_name_counts_nothing),
		T(test_expiry_is_exact_to_the_second),
		T(test_already_expired_entry_is_counted_not_applied),
		T(test_entry_expiring_one_second_later_is_applied),
		T(test_time_added_beyond_year_9999_is_invalid_not_overflowed),
		T(test_invalid_name_drops_only_that_entry),
		T(test_trailing_dot_and_upper_case_names_match),
		T(test_wildcard_blocks_below_not_apex),
		T(test_decide_wire_matches_any_case),
		T(test_decide_wire_malformed_name_passes),
		T(test_compact_jws_is_accepted),
		TK(test_multilevel_wildcard_topic_routes_to_source),
		T(test_reject_unsigned_plain_json),
		T(test_reject_tampered_payload_byte),
		T(test_reject_unknown_kid),
		T(test_reject_alg_none),
		T(test_reject_malformed_tapir_msg),
		T(test_reject_wrong_msg_type),
		T(test_reject_src_name_mismatch),
		T(test_reject_list_type_mismatch),
		T(test_reject_allowlist_on_doubtlist_source),
		T(test_reject_topic_without_source),
		TK(test_reject_when_keys_file_missing),
		T(test_repeated_rejection_logs_once_per_interval),
		T(test_replayed_old_messages_do_not_roll_back),
		T(test_qos1_duplicates_are_harmless),
		T(test_slightly_reordered_messages_are_accepted),
		T(test_messages_outside_the_time_bounds_are_refused),
		T(test_time_bounds_are_configurable),
		T(test_message_without_timestamp_is_refused),
		T(test_replay_after_restart_is_refused),
		T(test_submit_over_max_message_size_is_refused),
		T(test_submit_to_full_queue_is_refused),
		T(test_acknowledged_messages_wait_for_room),
		T(test_submit_past_queue_bytes_is_refused),
		TK(test_missing_config_gives_inactive_engine),
		TK(test_inactive_engine_status_says_inactive),
		TK(test_inactive_engine_refuses_messages),
		TK(test_inactive_engine_serves_status_on_default_socket),
		TK(test_inactive_engine_status_names_file_and_line),
		T(test_command_status_active),
		TK(test_status_problem_keys_file_missing),
		TK(test_status_no_keys_problem_without_mqtt_sources),
		TK(test_status_problem_keys_file_broken),
		TK(test_status_problem_keys_cleared_by_reload),
		TK(test_reload_unlimited_and_answers_follow),
		TK(test_status_problem_state_dir_missing),
		TK(test_status_problem_state_dir_not_a_directory),
		TK(test_status_problem_state_dir_fixed_clears_on_reload),
		TK(test_status_no_problem_with_writable_state_dir),
		TK(test_status_problem_core_status_key_missing),
		TK(test_status_problems_of_a_started_engine),
		T(test_command_stats_noreset_lists_every_counter),
		T(test_command_stats_resets_counters),
		T(test_command_lookup_explains_decision),
		T(test_command_lookup_invalid_name_is_error),
		T(test_command_unknown_is_error),
		T(test_override_ttl_must_be_seconds),
		T(test_control_unprivileged_peer_only_reads),
		T(test_control_lookup_type_as_written),
		T(test_list_is_sent_in_pieces_outside_read_sections),
		T(test_list_json_in_pieces_is_one_array),
		T(test_dump_rpz_is_sent_in_pieces),
		T(test_digest_is_the_same_in_bounded_passes),
		TK(test_upstream_vector_blocks_until_exact_expiry),
		TK(test_started_engine_applies_submitted_message),
		TK(test_override_file_expiry_beyond_32_bits_is_refused),
		TK(test_started_engine_threads_block_signals),
		TK(test_destroy_while_writer_reports),
		TK(test_status_problem_broker_down_for_long),
		TK(test_command_flush_reports_what_unbound_did),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
