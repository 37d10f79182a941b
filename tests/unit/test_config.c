/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/config.c: a full configuration and the shipped example
 * parse to the expected struct, a minimal one gets every default, and each
 * class of mistake (unknown or duplicate key, wrong type, bad value, YAML
 * syntax) is refused with "file:line: key: reason". Also: every tag alias,
 * tags resolved whatever the section order, actions, file loading. Each
 * test parses its own config and destroys it; the file runs leak-free under
 * valgrind.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/config.h"

#define KEY_LEN 64

/* Three lines that make a valid config; error snippets start on line 4. */
#define BASE "mqtt:\n  broker: mqtt://localhost\nkeys: /k.json\n"

/* BASE plus one doubtlist source named dns-tapir (lines 4..8). */
#define BASE_SRC                                                               \
	BASE "sources:\n"                                                      \
	     "  - name: dns-tapir\n"                                           \
	     "    list: doubtlist\n"                                           \
	     "    topics: observations/down/tapir-pop\n"                       \
	     "    qos: 0\n"

static const char full_config[] =
	"# every key, most of them away from their defaults\n"
	"mqtt:\n"
	"  broker: mqtts://[2001:db8::1]:18883\n"
	"  client-id: resolver-1\n"
	"  ca-file: /ca.pem\n"
	"  cert-file: /cert.pem\n"
	"  key-file: /key.pem\n"
	"  keepalive: 45\n"
	"  protocol: \"3.1.1\"\n"
	"  reconnect-min: 2\n"
	"  reconnect-max: 120\n"
	"  session-expiry: 600\n"
	"keys: /etc/dnstapir/certs/validation-keys.json\n"
	"sources:\n"
	"  - name: dns-tapir\n"
	"    type: mqtt\n"
	"    list: doubtlist\n"
	"    topics: [observations/down/tapir-pop, \"observations/+/x/#\"]\n"
	"    qos: 1\n"
	"  - name: local.deny_1\n"
	"    list: blacklist\n"
	"    topics: local/deny\n"
	"    qos: 2\n"
	"  - name: allow\n"
	"    list: whitelist\n"
	"    topics:\n"
	"      - a/#\n"
	"policy:\n"
	"  allowlist: { action: passthru }\n"
	"  denylist: { action: NODATA }\n"
	"  doubtlist:\n"
	"    numsources: { limit: 2, action: drop }\n"
	"    numtapirtags: { limit: 3, action: REDIRECT }\n"
	"    denytapir:\n"
	"      tags: [likelymalware, badip, 16, suspicious]\n"
	"      action: NXDOMAIN\n"
	"  tapir-source: dns-tapir\n"
	"tags:\n"
	"  suspicious: 7\n"
	"answer:\n"
	"  negative-ttl: 300\n"
	"  soa-mname: NS.Example.ORG.\n"
	"  soa-rname: hostmaster.example.org\n"
	"limits:\n"
	"  max-message-size: 4096\n"
	"  max-entries: 500\n"
	"  queue-length: 77\n"
	"  queue-bytes: 2097152\n"
	"  max-message-age: 3600\n"
	"  max-message-ahead: 0\n"
	"control:\n"
	"  socket: /run/t.sock\n"
	"  mode: \"0640\"\n"
	"state-dir: /var/lib/t\n";

static struct tapir_config *
parse(const char *yaml, struct tapir_error *err)
{
	return tapir_config_parse(yaml, strlen(yaml), "t.yaml", err);
}

/* Parses yaml and expects a config; fails the test with the error text. */
static struct tapir_config *
parse_ok(const char *yaml, const char *file, int at)
{
	struct tapir_error err;
	struct tapir_config *cfg = parse(yaml, &err);

	if (!cfg) {
		print_error(
			"%s:%d: unexpected error: %s\n", file, at, err.text);
		_fail(file, at);
	}
	return cfg;
}
#define assert_parses(yaml) parse_ok((yaml), __FILE__, __LINE__)

/*
 * Parses yaml and expects failure with err->line == line and a text that
 * starts "t.yaml:<line>: <key>: " (no key: "t.yaml:<line>: ") and contains
 * reason.
 */
static void
check_error(const char *yaml, int line, const char *key, const char *reason,
	const char *file, int at)
{
	struct tapir_error err;
	struct tapir_config *cfg;
	char want[160];

	memset(&err, 0x5a, sizeof(err));
	err.text[sizeof(err.text) - 1] = '\0';
	cfg = parse(yaml, &err);
	if (key)
		snprintf(want, sizeof(want), "t.yaml:%d: %s: ", line, key);
	else
		snprintf(want, sizeof(want), "t.yaml:%d: ", line);
	if (cfg || err.line != line ||
		strncmp(err.text, want, strlen(want)) != 0 ||
		!strstr(err.text, reason)) {
		print_error("%s:%d: want \"%s...%s...\", got line %d \"%s\"\n",
			file, at, want, reason, err.line,
			cfg ? "(parsed)" : err.text);
		tapir_config_destroy(cfg);
		_fail(file, at);
	}
}
#define assert_config_error(yaml, line, key, reason)                           \
	check_error((yaml), (line), (key), (reason), __FILE__, __LINE__)

static void
test_full_config_parses_to_expected_struct(void **state)
{
	struct tapir_config *cfg = assert_parses(full_config);

	(void)state;
	assert_string_equal(cfg->path, "t.yaml");
	assert_string_equal(cfg->mqtt.host, "2001:db8::1");
	assert_int_equal(cfg->mqtt.port, 18883);
	assert_true(cfg->mqtt.tls);
	assert_string_equal(cfg->mqtt.client_id, "resolver-1");
	assert_string_equal(cfg->mqtt.ca_file, "/ca.pem");
	assert_string_equal(cfg->mqtt.cert_file, "/cert.pem");
	assert_string_equal(cfg->mqtt.key_file, "/key.pem");
	assert_int_equal(cfg->mqtt.keepalive, 45);
	assert_int_equal(cfg->mqtt.protocol, TAPIR_MQTT_V311);
	assert_int_equal(cfg->mqtt.reconnect_min, 2);
	assert_int_equal(cfg->mqtt.reconnect_max, 120);
	assert_int_equal(cfg->mqtt.session_expiry, 600);
	assert_string_equal(
		cfg->keys_file, "/etc/dnstapir/certs/validation-keys.json");

	assert_int_equal(cfg->n_sources, 3);
	assert_string_equal(cfg->sources[0].name, "dns-tapir");
	assert_int_equal(cfg->sources[0].type, TAPIR_SOURCE_MQTT);
	assert_int_equal(cfg->sources[0].list, TAPIR_LIST_DOUBT);
	assert_int_equal(cfg->sources[0].n_topics, 2);
	assert_string_equal(
		cfg->sources[0].topics[0], "observations/down/tapir-pop");
	assert_string_equal(cfg->sources[0].topics[1], "observations/+/x/#");
	assert_int_equal(cfg->sources[0].qos, 1);
	assert_string_equal(cfg->sources[1].name, "local.deny_1");
	assert_int_equal(cfg->sources[1].list, TAPIR_LIST_DENY);
	assert_int_equal(cfg->sources[1].n_topics, 1);
	assert_string_equal(cfg->sources[1].topics[0], "local/deny");
	assert_int_equal(cfg->sources[1].qos, 2);
	assert_string_equal(cfg->sources[2].name, "allow");
	assert_int_equal(cfg->sources[2].list, TAPIR_LIST_ALLOW);
	assert_string_equal(cfg->sources[2].topics[0], "a/#");
	/* No qos given: QoS 1, what the persistent session needs. */
	assert_int_equal(cfg->sources[2].qos, 1);

	assert_int_equal(cfg->policy.denylist_action, TAPIR_ACTION_NODATA);
	assert_true(cfg->policy.numsources.enabled);
	assert_int_equal(cfg->policy.numsources.limit, 2);
	assert_int_equal(cfg->policy.numsources.action, TAPIR_ACTION_DROP);
	assert_true(cfg->policy.numtapirtags.enabled);
	assert_int_equal(cfg->policy.numtapirtags.limit, 3);
	assert_int_equal(
		cfg->policy.numtapirtags.action, TAPIR_ACTION_REDIRECT);
	assert_true(cfg->policy.denytapir.enabled);
	assert_int_equal(cfg->policy.denytapir.tags,
		(1u << 4) | (1u << 2) | (1u << 16) | (1u << 7));
	assert_int_equal(cfg->policy.denytapir.action, TAPIR_ACTION_NXDOMAIN);
	assert_string_equal(cfg->policy.tapir_source, "dns-tapir");
	assert_string_equal(cfg->tag_names[7], "suspicious");

	assert_int_equal(cfg->answer.negative_ttl, 300);
	assert_string_equal(cfg->answer.soa_mname, "ns.example.org");
	assert_string_equal(cfg->answer.soa_rname, "hostmaster.example.org");
	assert_int_equal(cfg->limits.max_message_size, 4096);
	assert_int_equal(cfg->limits.max_entries, 500);
	assert_int_equal(cfg->limits.queue_length, 77);
	assert_int_equal(cfg->limits.queue_bytes, 2097152);
	assert_int_equal(cfg->limits.max_message_age, 3600);
	assert_int_equal(cfg->limits.max_message_ahead, 0);
	assert_string_equal(cfg->control.socket, "/run/t.sock");
	assert_int_equal(cfg->control.mode, 0640);
	assert_string_equal(cfg->state_dir, "/var/lib/t");
	tapir_config_destroy(cfg);
}

static void
test_minimal_config_gets_defaults(void **state)
{
	struct tapir_config *cfg = assert_parses(BASE);

	(void)state;
	assert_string_equal(cfg->mqtt.host, "localhost");
	assert_int_equal(cfg->mqtt.port, 1883);
	assert_false(cfg->mqtt.tls);
	assert_non_null(cfg->mqtt.client_id);
	assert_true(strncmp(cfg->mqtt.client_id, "tapir-pop", 9) == 0);
	assert_null(cfg->mqtt.ca_file);
	assert_null(cfg->mqtt.cert_file);
	assert_null(cfg->mqtt.key_file);
	assert_int_equal(cfg->mqtt.keepalive, 30);
	assert_int_equal(cfg->mqtt.protocol, TAPIR_MQTT_AUTO);
	assert_int_equal(cfg->mqtt.reconnect_min, 1);
	assert_int_equal(cfg->mqtt.reconnect_max, 60);
	assert_int_equal(cfg->mqtt.session_expiry, 3600);
	assert_string_equal(cfg->keys_file, "/k.json");
	assert_int_equal(cfg->n_sources, 0);
	assert_int_equal(cfg->policy.denylist_action, TAPIR_ACTION_NXDOMAIN);
	assert_false(cfg->policy.numsources.enabled);
	assert_false(cfg->policy.numtapirtags.enabled);
	assert_false(cfg->policy.denytapir.enabled);
	assert_string_equal(cfg->policy.tapir_source, "dns-tapir");
	assert_string_equal(cfg->tag_names[0], "globally_new");
	assert_string_equal(cfg->tag_names[1], "highvolume");
	assert_string_equal(cfg->tag_names[2], "newly_registered");
	assert_string_equal(cfg->tag_names[3], "registry_investigation");
	assert_string_equal(cfg->tag_names[4], "likelymalware");
	assert_string_equal(cfg->tag_names[5], "likelybotnetcc");
	assert_string_equal(cfg->tag_names[10], "looptest");
	for (int b = 6; b < 32; b++)
		if (b != 10)
			assert_null(cfg->tag_names[b]);
	assert_int_equal(cfg->answer.negative_ttl, 60);
	assert_string_equal(cfg->answer.soa_mname, "tapir-pop.invalid");
	assert_string_equal(
		cfg->answer.soa_rname, "hostmaster.tapir-pop.invalid");
	assert_int_equal(cfg->limits.max_message_size, 65536);
	assert_int_equal(cfg->limits.max_entries, 10000000);
	assert_int_equal(cfg->limits.queue_length, 10000);
	assert_int_equal(cfg->limits.queue_bytes, (size_t)64 << 20);
	assert_int_equal(cfg->limits.max_message_age, 86400);
	assert_int_equal(cfg->limits.max_message_ahead, 300);
	assert_int_equal(cfg->limits.max_transfer_size, (size_t)512 << 20);
	assert_null(cfg->control.socket);
	assert_int_equal(cfg->control.mode, 0660);
	assert_null(cfg->state_dir);
	tapir_config_destroy(cfg);
}

static void
test_client_id_default_is_prefix_and_hostname(void **state)
{
	struct tapir_config *cfg = assert_parses(BASE);
	char host[256] = "", want[300];

	(void)state;
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	snprintf(want, sizeof(want), "tapir-pop-%s", host);
	assert_string_equal(cfg->mqtt.client_id, want);
	tapir_config_destroy(cfg);
}

static void
test_null_sections_mean_empty(void **state)
{
	struct tapir_config *cfg = assert_parses(
		BASE "sources:\npolicy:\ntags: ~\nanswer:\nlimits: null\n"
		     "control: NULL\n");

	(void)state;
	assert_int_equal(cfg->n_sources, 0);
	assert_int_equal(cfg->limits.queue_length, 10000);
	assert_null(cfg->control.socket);
	tapir_config_destroy(cfg);
}

static void
test_example_file_parses(void **state)
{
	const char *srcdir = getenv("srcdir");
	struct tapir_error err;
	struct tapir_config *cfg;
	char path[4096];

	(void)state;
	snprintf(path, sizeof(path), "%s/examples/tapir-pop.yaml",
		srcdir ? srcdir : ".");
	cfg = tapir_config_load(path, &err);
	if (!cfg)
		fail_msg("%s", err.text);
	assert_string_equal(cfg->path, path);
	assert_true(cfg->mqtt.tls);
	assert_int_equal(cfg->mqtt.port, 8883);
	assert_non_null(cfg->mqtt.ca_file);
	assert_non_null(cfg->mqtt.cert_file);
	assert_non_null(cfg->mqtt.key_file);
	assert_string_equal(
		cfg->keys_file, "/etc/dnstapir/certs/validation-keys.json");
	assert_int_equal(cfg->n_sources, 1);
	assert_string_equal(cfg->sources[0].name, "dns-tapir");
	assert_int_equal(cfg->sources[0].list, TAPIR_LIST_DOUBT);
	assert_int_equal(cfg->sources[0].n_topics, 1);
	assert_string_equal(
		cfg->sources[0].topics[0], "observations/down/tapir-pop");
	assert_int_equal(
		tapir_config_source_index(cfg, cfg->policy.tapir_source), 0);
	assert_true(cfg->policy.numsources.enabled);
	assert_true(cfg->policy.numtapirtags.enabled);
	assert_true(cfg->policy.denytapir.enabled);
	assert_int_equal(cfg->policy.denytapir.tags, (1u << 4) | (1u << 5));
	assert_int_equal(cfg->control.mode, 0660);
	assert_non_null(cfg->control.socket);
	/* Packaged, its members may change state (tapir-pop-control.8). */
	assert_string_equal(cfg->control.group, "unbound");
	tapir_config_destroy(cfg);
}

static void
test_unknown_key_is_named(void **state)
{
	(void)state;
	assert_config_error(BASE "polcy:\n", 4, "polcy", "unknown key");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  brokr: x\nkeys: k\n",
		3, "mqtt.brokr", "unknown key");
	assert_config_error(BASE_SRC "    topic: x\n", 9, "sources[0].topic",
		"unknown key");
	assert_config_error(BASE "policy:\n  doubtlist:\n"
				 "    numsources: { limit: 1, acton: DROP }\n",
		6, "policy.doubtlist.numsources.acton", "unknown key");
	/* Control characters are not echoed into the log. */
	assert_config_error(BASE "\"a\\x01b\": 1\n", 4, "a?b", "unknown key");
	assert_config_error(
		BASE "[a]: 1\n", 4, "top level", "keys must be names");
}

static void
test_duplicate_key_is_named(void **state)
{
	(void)state;
	assert_config_error(
		"mqtt:\n  broker: mqtt://a\n  broker: mqtt://b\nkeys: k\n", 3,
		"mqtt.broker", "duplicate key");
	assert_config_error(BASE "keys: /x\n", 4, "keys", "duplicate key");
	assert_config_error(BASE "tags:\n  foo: 6\n  FOO: 7\n", 6, "tags.FOO",
		"duplicate key");
	assert_config_error(
		BASE_SRC "    qos: 1\n", 9, "sources[0].qos", "duplicate key");
}

static void
test_wrong_type_is_named(void **state)
{
	(void)state;
	assert_config_error("mqtt: mqtt://h\nkeys: k\n", 1, "mqtt",
		"must be a mapping, not a single value");
	assert_config_error("- a\n", 1, "top level", "must be a mapping");
	assert_config_error(BASE "sources:\n  name: x\n", 5, "sources",
		"must be a list of sources, not a mapping");
	assert_config_error(BASE "limits:\n  queue-length: [1]\n", 5,
		"limits.queue-length", "must be an integer, not a list");
	assert_config_error(BASE "limits:\n  queue-length: \"10\"\n", 5,
		"limits.queue-length", "must be an integer, not a string");
	assert_config_error(BASE "state-dir: {a: 1}\n", 4, "state-dir",
		"must be a single value, not a mapping");
	assert_config_error(
		BASE "state-dir:\n", 4, "state-dir", "missing value");
	assert_config_error(
		BASE "state-dir: ''\n", 4, "state-dir", "must not be empty");
	assert_config_error(
		BASE "state-dir: \"a\\0b\"\n", 4, "state-dir", "NUL");
	assert_config_error(BASE "answer:\n  negative-ttl: !!int 5\n", 5,
		"answer.negative-ttl", "YAML tag");
	assert_config_error(
		BASE "keys2: !include x.yaml\n", 4, "keys2", "unknown key");
	assert_config_error(BASE "state-dir: !include x.yaml\n", 4, "state-dir",
		"YAML tag '!include' is not supported");
	assert_config_error(BASE "policy:\n  denylist: [NXDOMAIN]\n", 5,
		"policy.denylist", "must be a mapping, not a list");
}

static void
test_missing_required_key_is_named(void **state)
{
	(void)state;
	assert_config_error("keys: k\nsources:\n  - name: a\n"
			    "    list: denylist\n    topics: x\n",
		1, "mqtt", "missing (required: source 'a' is an mqtt source)");
	assert_config_error("mqtt:\n  broker: mqtt://h\nsources:\n"
			    "  - name: a\n    list: denylist\n    topics: x\n",
		1, "keys", "missing (required: source 'a' is an mqtt source)");
	assert_config_error("keys: k\nmqtt:\n  keepalive: 10\n", 3,
		"mqtt.broker", "missing (required)");
	assert_config_error(BASE "sources:\n  - list: denylist\n"
				 "    topics: x\n",
		5, "sources[0].name", "missing (required)");
	assert_config_error(BASE "sources:\n  - name: a\n    topics: x\n", 5,
		"sources[0].list", "missing (required)");
	assert_config_error(BASE "sources:\n  - name: a\n    list: denylist\n",
		5, "sources[0].topics", "missing (required for mqtt sources)");
	assert_config_error(BASE "sources:\n  -\n", 5, "sources[0].name",
		"missing (required)");
	assert_config_error(BASE "policy:\n  doubtlist:\n    numsources: {}\n",
		6, "policy.doubtlist.numsources.limit", "missing (required)");
	assert_config_error(BASE "policy:\n  doubtlist:\n    denytapir:\n", 6,
		"policy.doubtlist.denytapir.tags", "missing (required)");
}

static void
test_empty_input_is_an_error(void **state)
{
	struct tapir_error err;

	(void)state;
	assert_null(tapir_config_parse(NULL, 0, "t.yaml", &err));
	assert_int_equal(err.line, 1);
	assert_string_equal(err.text, "t.yaml:1: the configuration is empty");
	assert_config_error("# only a comment\n", 1, NULL, "is empty");
	assert_config_error("~\n", 1, NULL, "is empty");
	/* No err and no name: still no crash. */
	assert_null(tapir_config_parse("x: [", 4, NULL, NULL));
	assert_null(tapir_config_parse("x: 1", 4, NULL, &err));
	assert_string_equal(err.text, "config:1: x: unknown key");
}

static void
test_broker_urls(void **state)
{
	static const struct {
		const char *url, *host;
		int port;
		bool tls;
	} good[] = {
		{ "mqtt://h", "h", 1883, false },
		{ "mqtts://h", "h", 8883, true },
		{ "mqtt://[::1]:1883", "::1", 1883, false },
		{ "mqtts://[2001:db8::1]", "2001:db8::1", 8883, true },
		{ "MQTTS://192.0.2.1:1", "192.0.2.1", 1, true },
		{ "mqtt://broker.example.net:65535", "broker.example.net",
			65535, false },
		{ "mqtt://a_b-c.d:08883", "a_b-c.d", 8883, false },
	};
	static const char *const bad[] = {
		"http://h",
		"mqtt://",
		"mqtt:/h",
		"mqtts//h",
		"mqtt://h:",
		"mqtt://h:0",
		"mqtt://h:65536",
		"mqtt://h:123456",
		"mqtt://h:12a",
		"mqtt://h:-1",
		"mqtt://h:1883/",
		"mqtt://h/path",
		"mqtt://user@h",
		"mqtt://h?x=1",
		"mqtt://::1",
		"mqtt://::1:1883",
		"mqtt://[::1",
		"mqtt://[::1]x",
		"mqtt://[]:1",
		"mqtt://[zz::1]:1",
		"mqtt://[192.0.2.1]:1",
		"mqtt://h h",
		"mqtt://-h",
		"mqtt://.h",
		" mqtt://h",
	};
	char yaml[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tapir_config *cfg;

		snprintf(yaml, sizeof(yaml), "mqtt:\n  broker: '%s'\nkeys: k\n",
			good[i].url);
		cfg = assert_parses(yaml);
		assert_string_equal(cfg->mqtt.host, good[i].host);
		assert_int_equal(cfg->mqtt.port, good[i].port);
		assert_int_equal(cfg->mqtt.tls, good[i].tls);
		tapir_config_destroy(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "mqtt:\n  broker: '%s'\nkeys: k\n",
			bad[i]);
		assert_config_error(yaml, 2, "mqtt.broker",
			"is not mqtt://host[:port] or mqtts://host[:port]");
	}
}

/* mqtt.session-expiry: an hour by default, 0 (a clean session, as before
 * the key) up to a day; and an MQTT source subscribes at QoS 1 unless its
 * qos says otherwise, 0 included. */
static void
test_session_expiry_and_qos_defaults(void **state)
{
	struct tapir_config *cfg;

	(void)state;
	cfg = assert_parses("mqtt:\n  broker: mqtt://h\n  session-expiry: 0\n"
			    "keys: k\n");
	assert_int_equal(cfg->mqtt.session_expiry, 0);
	tapir_config_destroy(cfg);
	cfg = assert_parses("mqtt:\n  broker: mqtt://h\n"
			    "  session-expiry: 86400\nkeys: k\n");
	assert_int_equal(cfg->mqtt.session_expiry, 86400);
	tapir_config_destroy(cfg);
	assert_config_error("mqtt:\n  broker: mqtt://h\n"
			    "  session-expiry: 86401\nkeys: k\n",
		3, "mqtt.session-expiry", "'86401' is out of range 0..86400");
	assert_config_error("mqtt:\n  broker: mqtt://h\n"
			    "  session-expiry: -1\nkeys: k\n",
		3, "mqtt.session-expiry", "'-1' is out of range 0..86400");
	assert_config_error("mqtt:\n  broker: mqtt://h\n"
			    "  session-expiry: 1h\nkeys: k\n",
		3, "mqtt.session-expiry", "must be an integer, not '1h'");

	cfg = assert_parses(BASE "sources:\n"
				 "  - name: a\n"
				 "    list: doubtlist\n"
				 "    topics: t/a\n"
				 "  - name: b\n"
				 "    list: doubtlist\n"
				 "    topics: t/b\n"
				 "    qos: 0\n");
	assert_int_equal(cfg->sources[0].qos, 1);
	assert_int_equal(cfg->sources[1].qos, 0);
	tapir_config_destroy(cfg);
}

static void
test_bad_qos_is_named(void **state)
{
	(void)state;
	assert_config_error(
		BASE_SRC "    qos2: 1\n", 9, "sources[0].qos2", "unknown key");
	assert_config_error(BASE "sources:\n  - {name: a, list: denylist, "
				 "topics: x, qos: 3}\n",
		5, "sources[0].qos", "'3' is out of range 0..2");
	assert_config_error(BASE "sources:\n  - {name: a, list: denylist, "
				 "topics: x, qos: -1}\n",
		5, "sources[0].qos", "'-1' is out of range 0..2");
	assert_config_error(BASE "sources:\n  - {name: a, list: denylist, "
				 "topics: x, qos: 1.0}\n",
		5, "sources[0].qos", "must be an integer, not '1.0'");
}

static void
test_topic_filters(void **state)
{
	static const struct {
		const char *filter, *why;
	} bad[] = {
		{ "a/#/b", "'#' must be the whole last level" },
		{ "#/a", "'#' must be the whole last level" },
		{ "a#", "'#' must be the whole last level" },
		{ "a/b#", "'#' must be the whole last level" },
		{ "a+/b", "'+' must be a whole level" },
		{ "a/+b", "'+' must be a whole level" },
		{ "++", "'+' must be a whole level" },
		{ "", "must not be empty" },
	};
	static const char *const good[] = {
		"#",
		"+",
		"+/+/#",
		"a//b",
		"/",
		"$SYS/#",
		"observations/down/#",
		"a/+/c",
	};
	char yaml[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			BASE "sources:\n  - name: a\n    list: denylist\n"
			     "    topics: [ok, '%s']\n",
			bad[i].filter);
		assert_config_error(
			yaml, 7, "sources[0].topics[1]", bad[i].why);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tapir_config *cfg;

		snprintf(yaml, sizeof(yaml),
			BASE "sources:\n  - name: a\n    list: denylist\n"
			     "    topics: '%s'\n",
			good[i]);
		cfg = assert_parses(yaml);
		assert_int_equal(cfg->sources[0].n_topics, 1);
		assert_string_equal(cfg->sources[0].topics[0], good[i]);
		tapir_config_destroy(cfg);
	}
	assert_config_error(BASE "sources:\n  - name: a\n    list: denylist\n"
				 "    topics: \"a\\0b\"\n",
		7, "sources[0].topics", "NUL");
	assert_config_error(BASE "sources:\n  - name: a\n    list: denylist\n"
				 "    topics: []\n",
		7, "sources[0].topics", "must list 1 to 16 topic filters");
	assert_config_error(BASE
		"sources:\n  - name: a\n    list: denylist\n"
		"    topics: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q]\n",
		7, "sources[0].topics", "must list 1 to 16 topic filters");
	assert_config_error(BASE "sources:\n  - name: a\n    list: denylist\n"
				 "    topics: {a: b}\n",
		7, "sources[0].topics", "must be a topic filter or a list");
}

static void
test_sixteen_topics_are_allowed(void **state)
{
	struct tapir_config *cfg = assert_parses(
		BASE "sources:\n  - name: a\n    list: denylist\n"
		     "    topics: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p]\n");

	(void)state;
	assert_int_equal(cfg->sources[0].n_topics, 16);
	assert_string_equal(cfg->sources[0].topics[15], "p");
	tapir_config_destroy(cfg);
}

static void
test_unknown_tag_is_named(void **state)
{
	(void)state;
	assert_config_error(BASE_SRC "policy:\n  doubtlist:\n    denytapir:\n"
				     "      tags:\n"
				     "        - likelymalware\n"
				     "        - nosuch\n",
		14, "policy.doubtlist.denytapir.tags[1]",
		"unknown tag 'nosuch'");
	assert_config_error(BASE_SRC "policy:\n  doubtlist:\n"
				     "    denytapir: { tags: [32] }\n",
		11, "policy.doubtlist.denytapir.tags[0]", "unknown tag '32'");
	assert_config_error(BASE_SRC "policy:\n  doubtlist:\n"
				     "    denytapir: { tags: -1 }\n",
		11, "policy.doubtlist.denytapir.tags", "unknown tag '-1'");
	assert_config_error(BASE_SRC "policy:\n  doubtlist:\n"
				     "    denytapir: { tags: [] }\n",
		11, "policy.doubtlist.denytapir.tags",
		"must list at least one tag");
}

static void
test_tag_definitions_are_checked(void **state)
{
	(void)state;
	assert_config_error(BASE "tags:\n  a: 3\n  b: 3\n", 6, "tags.b",
		"bit 3 is already named 'a'");
	assert_config_error(BASE "tags:\n  a: 32\n", 5, "tags.a",
		"'32' is out of range 0..31");
	assert_config_error(
		BASE "tags:\n  '12': 3\n", 5, "tags.12", "not all digits");
	assert_config_error(BASE "tags:\n  'a b': 3\n", 5, "tags.a b",
		"a tag name is 1 to 63 characters");
	assert_config_error(BASE "tags: [a]\n", 4, "tags",
		"must be a mapping of tag names to bit numbers");
}

static void
test_duplicate_source_name_is_named(void **state)
{
	(void)state;
	assert_config_error(BASE_SRC "  - name: dns-tapir\n"
				     "    list: denylist\n"
				     "    topics: x\n",
		9, "sources[1].name", "duplicate source name 'dns-tapir'");
	/* The same mapping twice through an alias. */
	assert_config_error(BASE "sources:\n"
				 "  - &s {name: a, list: denylist, topics: x}\n"
				 "  - *s\n",
		5, "sources[1].name", "duplicate source name 'a'");
}

static void
test_source_names_are_checked(void **state)
{
	char yaml[512], name[80];

	(void)state;
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(yaml, sizeof(yaml),
		BASE "sources:\n  - {name: %s, list: denylist, topics: x}\n",
		name);
	assert_config_error(
		yaml, 5, "sources[0].name", "is not 1 to 63 characters");
	name[63] = '\0';
	snprintf(yaml, sizeof(yaml),
		BASE "sources:\n  - {name: %s, list: denylist, topics: x}\n",
		name);
	tapir_config_destroy(assert_parses(yaml));
	assert_config_error(BASE "sources:\n  - {name: 'a b', list: denylist, "
				 "topics: x}\n",
		5, "sources[0].name", "'a b' is not 1 to 63 characters");
	assert_config_error(BASE "sources:\n  - {name: a/b, list: denylist, "
				 "topics: x}\n",
		5, "sources[0].name", "is not 1 to 63 characters");
	assert_config_error(BASE "sources:\n  - {name: a, list: graylist, "
				 "topics: x}\n",
		5, "sources[0].list",
		"must be allowlist, denylist or doubtlist, not 'graylist'");
}

static void
test_old_list_names_are_accepted(void **state)
{
	struct tapir_config *cfg = assert_parses(
		BASE "sources:\n"
		     "  - {name: a, list: whitelist, topics: x}\n"
		     "  - {name: b, list: blacklist, topics: x}\n"
		     "  - {name: c, list: greylist, topics: x}\n"
		     "  - {name: d, list: allowlist, topics: x}\n"
		     "  - {name: e, list: denylist, topics: x}\n"
		     "  - {name: f, list: doubtlist, topics: x}\n");

	(void)state;
	assert_int_equal(cfg->n_sources, 6);
	assert_int_equal(cfg->sources[0].list, TAPIR_LIST_ALLOW);
	assert_int_equal(cfg->sources[1].list, TAPIR_LIST_DENY);
	assert_int_equal(cfg->sources[2].list, TAPIR_LIST_DOUBT);
	assert_int_equal(cfg->sources[3].list, TAPIR_LIST_ALLOW);
	assert_int_equal(cfg->sources[4].list, TAPIR_LIST_DENY);
	assert_int_equal(cfg->sources[5].list, TAPIR_LIST_DOUBT);
	assert_int_equal(tapir_config_source_index(cfg, "e"), 4);
	assert_int_equal(tapir_config_source_index(cfg, "g"), -1);
	assert_int_equal(tapir_config_source_index(cfg, NULL), -1);
	assert_int_equal(tapir_config_source_index(NULL, "a"), -1);
	tapir_config_destroy(cfg);
}

static void
test_unsupported_source_type_is_named(void **state)
{
	(void)state;
	assert_config_error(BASE "sources:\n  - name: a\n    type: http\n", 6,
		"sources[0].type", "must be mqtt, file or xfr, not 'http'");
}

#define XFR_SRC                                                                \
	BASE "sources:\n"                                                      \
	     "  - name: rpz\n"                                                 \
	     "    type: xfr\n"                                                 \
	     "    list: denylist\n"

static void
test_xfr_source_fields(void **state)
{
	struct tapir_config *cfg;
	const struct tapir_source_config *s;

	(void)state;
	cfg = assert_parses(XFR_SRC "    primary: 2001:db8::53\n"
				    "    port: 5353\n"
				    "    zone: RPZ.Example.\n"
				    "    tsig-name: xfr-key\n"
				    "    tsig-secret: c2VjcmV0\n"
				    "    timeout: 9\n");
	s = &cfg->sources[0];
	assert_int_equal(s->type, TAPIR_SOURCE_XFR);
	assert_string_equal(s->primary, "2001:db8::53");
	assert_int_equal(s->port, 5353);
	assert_string_equal(s->zone, "rpz.example");
	assert_string_equal(s->tsig_name, "xfr-key");
	assert_string_equal(s->tsig_alg, "hmac-sha256");
	assert_string_equal(s->tsig_secret, "c2VjcmV0");
	assert_int_equal(s->timeout, 9);
	tapir_config_destroy(cfg);

	cfg = assert_parses(
		XFR_SRC "    primary: 192.0.2.1\n    zone: rpz.example\n");
	s = &cfg->sources[0];
	assert_int_equal(s->port, 53);
	assert_int_equal(s->timeout, 30);
	assert_string_equal(s->tsig_name, "");
	assert_null(s->tsig_alg);
	assert_null(s->tsig_secret);
	tapir_config_destroy(cfg);
}

static void
test_xfr_tsig_secret_file_is_read(void **state)
{
	char path[] = "/tmp/tapir-tsig-XXXXXX", yaml[512];
	struct tapir_config *cfg;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, " c2VjcmV0\n", 10), 10);
	close(fd);
	snprintf(yaml, sizeof(yaml),
		XFR_SRC "    primary: 192.0.2.1\n    zone: rpz.example\n"
			"    tsig-name: k\n    tsig-algorithm: hmac-sha512\n"
			"    tsig-secret-file: %s\n",
		path);
	cfg = assert_parses(yaml);
	assert_string_equal(cfg->sources[0].tsig_secret, "c2VjcmV0");
	assert_string_equal(cfg->sources[0].tsig_alg, "hmac-sha512");
	tapir_config_destroy(cfg);
	unlink(path);
}

static void
test_xfr_source_errors(void **state)
{
	(void)state;
	assert_config_error(XFR_SRC "    zone: rpz.example\n", 5,
		"sources[0].primary", "missing (required for xfr sources)");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n", 5,
		"sources[0].zone", "missing (required for xfr sources)");
	assert_config_error(XFR_SRC "    primary: ns.example\n", 8,
		"sources[0].primary",
		"'ns.example' is not an IPv4 or IPv6 address");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: a..b\n",
		9, "sources[0].zone", "not a valid domain name");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    port: 0\n", 9,
		"sources[0].port", "");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: r.x\n"
				    "    tsig-name: k\n",
		5, "sources[0].tsig-secret", "missing (tsig-name needs");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: r.x\n"
				    "    tsig-secret: c2VjcmV0\n",
		5, "sources[0].tsig-name", "missing (a TSIG secret");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: r.x\n"
				    "    tsig-name: k\n    tsig-secret: no!\n",
		11, "sources[0].tsig-secret", "not a base64 TSIG secret");
	assert_config_error(XFR_SRC
		"    primary: 192.0.2.1\n    zone: r.x\n"
		"    tsig-name: k\n    tsig-secret: c2VjcmV0\n"
		"    tsig-algorithm: rot13\n",
		12, "sources[0].tsig-algorithm", "must be hmac-sha256");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: r.x\n"
				    "    tsig-name: k\n"
				    "    tsig-secret-file: /nonexistent/k\n",
		11, "sources[0].tsig-secret-file", "No such file");
	/* xfr keys elsewhere, file keys here. */
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: r.x\n"
				    "    path: /x\n",
		10, "sources[0].path", "only for file sources");
	assert_config_error(BASE "sources:\n  - name: f\n    type: file\n"
				 "    list: denylist\n    path: /x\n"
				 "    zone: r.x\n",
		9, "sources[0].zone", "only for xfr sources");
	assert_config_error(BASE_SRC "    primary: 192.0.2.1\n", 9,
		"sources[0].primary", "only for xfr sources");
	assert_config_error(XFR_SRC "    primary: 192.0.2.1\n    zone: r.x\n"
				    "    topics: a/b\n",
		10, "sources[0].topics", "only for mqtt sources");
}

static void
test_upstream_xfr_source(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	char path[] = "/tmp/tapir-up-XXXXXX";
	char yaml[512];
	const char *up = "sources:\n  x:\n    name: rpz\n    type: denylist\n"
			 "    format: rpz\n    source: xfr\n"
			 "    upstream: 192.0.2.1:5300\n"
			 "    zone: rpz.example.com.\n"
			 "  y:\n    name: rpz6\n    type: denylist\n"
			 "    source: xfr\n    upstream: '[2001:db8::1]:53'\n"
			 "    zone: rpz.example.com.\n";
	const char *bad = "sources:\n  x:\n    name: rpz\n    type: denylist\n"
			  "    source: xfr\n    upstream: ns.example:53\n"
			  "    zone: rpz.example.com.\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, up, strlen(up)), (ssize_t)strlen(up));
	close(fd);
	snprintf(yaml, sizeof(yaml), BASE "upstream:\n  sources: %s\n", path);
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	if (!cfg)
		fail_msg("%s", err.text);
	assert_int_equal(cfg->n_sources, 2);
	assert_int_equal(cfg->sources[0].type, TAPIR_SOURCE_XFR);
	assert_string_equal(cfg->sources[0].primary, "192.0.2.1");
	assert_int_equal(cfg->sources[0].port, 5300);
	assert_string_equal(cfg->sources[0].zone, "rpz.example.com");
	assert_string_equal(cfg->sources[1].primary, "2001:db8::1");
	assert_int_equal(cfg->sources[1].port, 53);
	tapir_config_destroy(cfg);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	assert_null(tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err));
	assert_non_null(strstr(err.text, ":6: sources.x.upstream: "
					 "'ns.example:53' is not an IP"));
	unlink(path);
}

static void
test_file_source_fields(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	const char *yaml = BASE "sources:\n"
				"  - name: deny\n"
				"    type: file\n"
				"    list: denylist\n"
				"    path: /etc/deny.csv\n"
				"    format: csv\n"
				"    csv-column: 3\n"
				"    csv-header: yes\n"
				"    csv-delimiter: \";\"\n"
				"    refresh: 5\n"
				"    max-shrink: 30\n"
				"  - name: zone\n"
				"    type: file\n"
				"    list: denylist\n"
				"    path: /etc/rpz.zone\n"
				"    format: rpz\n"
				"    origin: RPZ.Example.\n";

	(void)state;
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->sources[0].type, TAPIR_SOURCE_FILE);
	assert_string_equal(cfg->sources[0].path, "/etc/deny.csv");
	assert_int_equal(cfg->sources[0].format, 2);
	assert_int_equal(cfg->sources[0].csv_column, 3);
	assert_true(cfg->sources[0].csv_header);
	assert_int_equal(cfg->sources[0].csv_delim, ';');
	assert_int_equal(cfg->sources[0].refresh, 5);
	assert_int_equal(cfg->sources[1].format, 3);
	assert_string_equal(cfg->sources[1].origin, "rpz.example");
	assert_int_equal(cfg->sources[1].refresh, 10);
	assert_int_equal(cfg->sources[1].max_size, (size_t)256 << 20);
	assert_int_equal(cfg->sources[0].max_shrink, 30);
	assert_int_equal(cfg->sources[1].max_shrink, 50);
	tapir_config_destroy(cfg);
}

static void
test_file_source_needs_path_and_no_topics(void **state)
{
	(void)state;
	assert_config_error(BASE "sources:\n  - name: a\n    type: file\n"
				 "    list: denylist\n",
		5, "sources[0].path", "missing (required for file sources)");
	assert_config_error(BASE "sources:\n  - name: a\n    type: file\n"
				 "    list: denylist\n    path: /x\n"
				 "    topics: [t]\n",
		9, "sources[0].topics", "only for mqtt sources");
	assert_config_error(BASE "sources:\n  - name: a\n    list: doubtlist\n"
				 "    topics: [t]\n    path: /x\n",
		8, "sources[0].path", "only for file sources");
	assert_config_error(BASE "sources:\n  - name: a\n    type: file\n"
				 "    list: denylist\n    path: /x\n"
				 "    format: json\n",
		9, "sources[0].format", "must be domains, hosts, csv or rpz");
}

static void
test_named_rules(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	const char *yaml =
		BASE "sources:\n"
		     "  - name: dns-tapir\n"
		     "    list: doubtlist\n"
		     "    topics: [t]\n"
		     "  - name: feed\n"
		     "    list: doubtlist\n"
		     "    topics: [u]\n"
		     "policy:\n"
		     "  log-only: yes\n"
		     "  rules:\n"
		     "    - name: both\n"
		     "      action: DROP\n"
		     "      sources-min: 2\n"
		     "      sources: [dns-tapir, feed]\n"
		     "    - name: fresh-malware\n"
		     "      log-only: yes\n"
		     "      tags-all: [globally_new, likelymalware]\n"
		     "      tags-none: [looptest]\n"
		     "      tags-from: feed\n"
		     "      lists: [doubtlist, denylist]\n";

	(void)state;
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	assert_non_null(cfg);
	assert_true(cfg->policy.log_only);
	assert_int_equal(cfg->policy.n_rules, 2);
	assert_string_equal(cfg->policy.rules[0].name, "both");
	assert_int_equal(cfg->policy.rules[0].action, TAPIR_ACTION_DROP);
	assert_int_equal(cfg->policy.rules[0].sources_min, 2);
	assert_int_equal(cfg->policy.rules[0].sources_mask, 3);
	assert_false(cfg->policy.rules[0].log_only);
	assert_int_equal(cfg->policy.rules[1].action, TAPIR_ACTION_NXDOMAIN);
	assert_true(cfg->policy.rules[1].log_only);
	assert_int_equal(cfg->policy.rules[1].tags_all, 1u | 16u);
	assert_int_equal(cfg->policy.rules[1].tags_none, 1024u);
	assert_int_equal(cfg->policy.rules[1].tags_from, 2);
	assert_int_equal(cfg->policy.rules[1].lists,
		(1u << TAPIR_LIST_DOUBT) | (1u << TAPIR_LIST_DENY));
	tapir_config_destroy(cfg);
}

static void
test_named_rule_errors(void **state)
{
	(void)state;
	assert_config_error(BASE "policy:\n  rules:\n    - name: r\n"
				 "      action: NXDOMAIN\n",
		6, "policy.rules[0]", "states no condition");
	assert_config_error(BASE
		"policy:\n  rules:\n    - name: r\n"
		"      sources: [nope]\n      sources-min: 1\n",
		7, "policy.rules[0].sources[0]", "no source is named 'nope'");
	assert_config_error(BASE "policy:\n  rules:\n    - name: r\n"
				 "      tags-min: 1\n    - name: r\n"
				 "      tags-min: 2\n",
		8, "policy.rules[1]", "duplicate rule name 'r'");
	assert_config_error(BASE "policy:\n  rules:\n    - name: r\n"
				 "      lists: [greylist, nolist]\n",
		7, "policy.rules[0].lists[1]", "must be allowlist");
	assert_config_error(BASE "policy:\n  log-only: maybe\n", 5,
		"policy.log-only", "must be yes or no");
}

static void
test_too_many_sources(void **state)
{
	size_t size = sizeof(BASE) + 66 * 64;
	char *yaml = malloc(size), *p;
	struct tapir_config *cfg;

	(void)state;
	assert_non_null(yaml);
	p = yaml + sprintf(yaml, BASE "sources:\n");
	for (int i = 0; i < TAPIR_MAX_SOURCES; i++)
		p += sprintf(
			p, "  - {name: s%d, list: denylist, topics: x}\n", i);
	cfg = assert_parses(yaml);
	assert_int_equal(cfg->n_sources, TAPIR_MAX_SOURCES);
	assert_string_equal(cfg->sources[63].name, "s63");
	tapir_config_destroy(cfg);
	sprintf(p, "  - {name: s64, list: denylist, topics: x}\n");
	assert_config_error(
		yaml, 5 + TAPIR_MAX_SOURCES, "sources", "more than 64 sources");
	free(yaml);
}

static void
test_bad_action_is_named(void **state)
{
	(void)state;
	assert_config_error(BASE "policy:\n  denylist: { action: BLOCK }\n", 5,
		"policy.denylist.action",
		"must be REDIRECT, NODATA, NXDOMAIN or DROP, not 'BLOCK'");
	assert_config_error(BASE "policy:\n  denylist: { action: passthru }\n",
		5, "policy.denylist.action", "not 'passthru'");
	assert_config_error(BASE "policy:\n  allowlist: { action: DROP }\n", 5,
		"policy.allowlist.action", "must be PASSTHRU, not 'DROP'");
	assert_config_error(BASE "policy:\n  doubtlist:\n"
				 "    numsources: { limit: 2, action: PASS }\n",
		6, "policy.doubtlist.numsources.action", "not 'PASS'");
	assert_config_error(BASE "policy:\n  doubtlist:\n"
				 "    numsources: { limit: 2, action: 4 }\n",
		6, "policy.doubtlist.numsources.action", "not '4'");
}

static void
test_actions_are_case_insensitive(void **state)
{
	struct tapir_config *cfg = assert_parses(
		BASE "policy:\n  allowlist: { action: PassThru }\n"
		     "  denylist: { action: Redirect }\n"
		     "  doubtlist:\n    numsources: { limit: 64 }\n");

	(void)state;
	assert_int_equal(cfg->policy.denylist_action, TAPIR_ACTION_REDIRECT);
	assert_true(cfg->policy.numsources.enabled);
	assert_int_equal(cfg->policy.numsources.limit, 64);
	/* A rule's action defaults to NXDOMAIN. */
	assert_int_equal(cfg->policy.numsources.action, TAPIR_ACTION_NXDOMAIN);
	tapir_config_destroy(cfg);
}

static void
test_action_strings(void **state)
{
	static const char *const names[] = { "PASSTHRU", "REDIRECT", "NODATA",
		"NXDOMAIN", "DROP" };

	(void)state;
	for (int a = TAPIR_ACTION_PASSTHRU; a < TAPIR_ACTION_COUNT; a++) {
		char lower[16];
		size_t i;

		assert_string_equal(
			tapir_action_str((enum tapir_action)a), names[a - 1]);
		assert_int_equal(tapir_action_from_str(names[a - 1]), a);
		for (i = 0; names[a - 1][i]; i++)
			lower[i] = (char)(names[a - 1][i] | 0x20);
		lower[i] = '\0';
		assert_int_equal(tapir_action_from_str(lower), a);
	}
	assert_string_equal(tapir_action_str(TAPIR_ACTION_PASS), "PASS");
	assert_string_equal(tapir_action_str((enum tapir_action)99), "UNKNOWN");
	assert_int_equal(tapir_action_from_str("PASS"), -1);
	assert_int_equal(tapir_action_from_str("NXDOMAINX"), -1);
	assert_int_equal(tapir_action_from_str(""), -1);
	assert_int_equal(tapir_action_from_str(NULL), -1);
}

static void
test_integers_are_checked(void **state)
{
	(void)state;
	assert_config_error(BASE "limits:\n"
				 "  max-entries: 99999999999999999999999\n",
		5, "limits.max-entries", "out of range 1..1000000000");
	assert_config_error(BASE "limits:\n"
				 "  max-entries: 18446744073709551616\n",
		5, "limits.max-entries", "out of range");
	assert_config_error(BASE "limits:\n"
				 "  max-entries: 9223372036854775808\n",
		5, "limits.max-entries", "out of range");
	assert_config_error(BASE "answer:\n"
				 "  negative-ttl: -9223372036854775809\n",
		5, "answer.negative-ttl", "out of range 0..86400");
	assert_config_error(BASE "answer:\n"
				 "  negative-ttl: -9223372036854775808\n",
		5, "answer.negative-ttl", "out of range 0..86400");
	assert_config_error(BASE "answer:\n  negative-ttl: -1\n", 5,
		"answer.negative-ttl", "'-1' is out of range 0..86400");
	assert_config_error(BASE "answer:\n  negative-ttl: 86401\n", 5,
		"answer.negative-ttl", "'86401' is out of range 0..86400");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: 4\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "'4' is out of range 5..3600");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: 1e3\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "must be an integer, not '1e3'");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: 30.5\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "must be an integer, not '30.5'");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: 0x10\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "must be an integer, not '0x10'");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: +30\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "must be an integer, not '+30'");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: thirty\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "must be an integer, not 'thirty'");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: '-'\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "must be an integer, not a string");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  keepalive: 030\n"
			    "keys: k\n",
		3, "mqtt.keepalive", "leading zeros are not allowed");
	assert_config_error(BASE "limits:\n  max-message-size: 511\n", 5,
		"limits.max-message-size", "out of range 512..1048576");
	assert_config_error(BASE "limits:\n  queue-length: 0\n", 5,
		"limits.queue-length", "out of range 1..1000000");
	assert_config_error(BASE "limits:\n  queue-bytes: 1048575\n", 5,
		"limits.queue-bytes", "out of range 1048576..17179869184");
	assert_config_error(BASE "limits:\n  max-message-ahead: 86401\n", 5,
		"limits.max-message-ahead", "out of range 0..86400");
	assert_config_error(BASE "limits:\n  max-transfer-size: 65535\n", 5,
		"limits.max-transfer-size", "out of range 65536..68719476736");
	assert_config_error(BASE "policy:\n  doubtlist:\n"
				 "    numtapirtags: { limit: 33 }\n",
		6, "policy.doubtlist.numtapirtags.limit",
		"'33' is out of range 1..32");
	assert_config_error(BASE "policy:\n  doubtlist:\n"
				 "    numsources: { limit: 0 }\n",
		6, "policy.doubtlist.numsources.limit",
		"'0' is out of range 1..64");
}

static void
test_integer_bounds_are_inclusive(void **state)
{
	struct tapir_config *cfg =
		assert_parses("mqtt:\n  broker: mqtt://h\n  keepalive: 3600\n"
			      "  reconnect-min: 86400\n  reconnect-max: 86400\n"
			      "keys: k\nanswer:\n  negative-ttl: 0\n"
			      "limits:\n  max-message-size: 1048576\n"
			      "  max-entries: 1000000000\n  queue-length: 1\n"
			      "  max-transfer-size: 68719476736\n");

	(void)state;
	assert_int_equal(cfg->mqtt.keepalive, 3600);
	assert_int_equal(cfg->mqtt.reconnect_min, 86400);
	assert_int_equal(cfg->answer.negative_ttl, 0);
	assert_int_equal(cfg->limits.max_message_size, 1048576);
	assert_int_equal(cfg->limits.max_entries, 1000000000);
	assert_int_equal(cfg->limits.queue_length, 1);
	assert_int_equal(cfg->limits.max_transfer_size, (size_t)64 << 30);
	tapir_config_destroy(cfg);
}

static void
test_yaml_syntax_error_gives_libyaml_line(void **state)
{
	(void)state;
	assert_config_error(
		"mqtt:\n  broker: mqtt://h\n keys: k\n", 3, NULL, "YAML: ");
	assert_config_error("mqtt:\n\tbroker: mqtt://h\n", 2, NULL,
		"YAML: found character that cannot start any token");
	assert_config_error(BASE "sources: [a, b\n", 5, NULL,
		"YAML: did not find expected ',' or ']'");
	assert_config_error(BASE "state-dir: 'open\n", 5, NULL,
		"YAML: found unexpected end of stream");
	assert_config_error(
		BASE "keys: *nope\n", 4, NULL, "YAML: found undefined alias");
	/* Reader errors: the line is counted up to libyaml's offset. */
	assert_config_error(BASE "state-dir: a\xff\n", 4, NULL,
		"YAML: invalid leading UTF-8 octet");
	assert_config_error(BASE "\n\nstate-dir: a\x01z\n", 6, NULL,
		"YAML: control characters are not allowed");
}

static void
test_second_document_is_refused(void **state)
{
	(void)state;
	assert_config_error(BASE "---\nkeys: x\n", 5, NULL,
		"only one YAML document is allowed");
	assert_config_error(BASE "---\nkeys: [\n", 6, NULL, "YAML: ");
	/* An explicit document end with nothing after it is one document. */
	tapir_config_destroy(assert_parses("---\n" BASE "...\n"));
}

static void
test_cyclic_alias_does_not_loop(void **state)
{
	(void)state;
	assert_config_error(BASE "tags: &t {x: *t}\n", 4, "tags.x",
		"must be an integer, not a mapping");
	assert_config_error(BASE "sources: &s [*s]\n", 4, "sources[0]",
		"must be a mapping, not a list");
}

static void
test_tag_lookup_knows_every_alias(void **state)
{
	static const struct {
		const char *name;
		int bit;
	} names[] = {
		{ "globally_new", 0 },
		{ "newname", 0 },
		{ "highvolume", 1 },
		{ "newly_registered", 2 },
		{ "badip", 2 },
		{ "registry_investigation", 3 },
		{ "cdntracker", 3 },
		{ "likelymalware", 4 },
		{ "likelybotnetcc", 5 },
		{ "looptest", 10 },
		{ "LikelyMalware", 4 },
		{ "BADIP", 2 },
		{ "0", 0 },
		{ "9", 9 },
		{ "10", 10 },
		{ "31", 31 },
		{ "32", -1 },
		{ "07", -1 },
		{ "-1", -1 },
		{ "+1", -1 },
		{ "1x", -1 },
		{ "100", -1 },
		{ "", -1 },
		{ "nosuch", -1 },
	};
	struct tapir_config *cfg = assert_parses(BASE);

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(tapir_config_tag_bit(NULL, names[i].name),
			names[i].bit);
		assert_int_equal(
			tapir_config_tag_bit(cfg, names[i].name), names[i].bit);
	}
	assert_int_equal(tapir_config_tag_bit(cfg, NULL), -1);
	tapir_config_destroy(cfg);
}

static void
test_configured_tags_add_and_override(void **state)
{
	struct tapir_config *cfg = assert_parses(
		BASE "tags:\n  suspicious: 7\n  globally_new: 9\n  foo: 2\n");

	(void)state;
	assert_int_equal(tapir_config_tag_bit(cfg, "suspicious"), 7);
	assert_int_equal(tapir_config_tag_bit(cfg, "SUSPICIOUS"), 7);
	/* A built-in name given to another bit means that bit now... */
	assert_int_equal(tapir_config_tag_bit(cfg, "globally_new"), 9);
	/* ...and the other names of its old bit still work. */
	assert_int_equal(tapir_config_tag_bit(cfg, "newname"), 0);
	assert_int_equal(tapir_config_tag_bit(cfg, "foo"), 2);
	assert_int_equal(tapir_config_tag_bit(cfg, "badip"), 2);
	assert_int_equal(tapir_config_tag_bit(cfg, "newly_registered"), 2);
	assert_int_equal(tapir_config_tag_bit(cfg, "7"), 7);
	assert_int_equal(tapir_config_tag_bit(NULL, "suspicious"), -1);
	assert_string_equal(cfg->tag_names[7], "suspicious");
	assert_string_equal(cfg->tag_names[9], "globally_new");
	assert_string_equal(cfg->tag_names[0], "newname");
	assert_string_equal(cfg->tag_names[2], "foo");
	assert_string_equal(cfg->tag_names[3], "registry_investigation");
	tapir_config_destroy(cfg);
}

static void
test_tags_resolve_whatever_the_section_order(void **state)
{
	static const char tags_first[] =
		BASE_SRC "tags:\n  suspicious: 7\n  likelymalware: 20\n"
			 "policy:\n  doubtlist:\n"
			 "    denytapir: { tags: [suspicious, likelymalware, "
			 "badip, 30] }\n";
	static const char policy_first[] =
		BASE_SRC "policy:\n  doubtlist:\n"
			 "    denytapir: { tags: [suspicious, likelymalware, "
			 "badip, 30] }\n"
			 "tags:\n  suspicious: 7\n  likelymalware: 20\n";
	const uint32_t want = (1u << 7) | (1u << 20) | (1u << 2) | (1u << 30);
	struct tapir_config *a = assert_parses(tags_first);
	struct tapir_config *b = assert_parses(policy_first);

	(void)state;
	assert_int_equal(a->policy.denytapir.tags, want);
	assert_int_equal(b->policy.denytapir.tags, want);
	assert_int_equal(a->policy.denytapir.action, TAPIR_ACTION_NXDOMAIN);
	tapir_config_destroy(a);
	tapir_config_destroy(b);
}

static void
test_denytapir_takes_one_tag_as_a_scalar(void **state)
{
	struct tapir_config *cfg = assert_parses(
		BASE_SRC "policy:\n  doubtlist:\n"
			 "    denytapir: { tags: looptest, action: drop }\n");

	(void)state;
	assert_int_equal(cfg->policy.denytapir.tags, 1u << 10);
	assert_int_equal(cfg->policy.denytapir.action, TAPIR_ACTION_DROP);
	tapir_config_destroy(cfg);
}

static void
test_tag_rules_need_a_doubtlist_tapir_source(void **state)
{
	(void)state;
	assert_config_error(BASE "policy:\n  doubtlist:\n"
				 "    numtapirtags: { limit: 2 }\n",
		6, "policy.tapir-source", "no source is named 'dns-tapir'");
	assert_config_error(BASE_SRC "policy:\n  doubtlist:\n"
				     "    numtapirtags: { limit: 2 }\n"
				     "  tapir-source: other\n",
		12, "policy.tapir-source", "no source is named 'other'");
	assert_config_error(BASE "sources:\n"
				 "  - {name: dns-tapir, list: denylist, "
				 "topics: x}\n"
				 "policy:\n  doubtlist:\n"
				 "    denytapir: { tags: [0] }\n",
		8, "policy.tapir-source",
		"source 'dns-tapir' is not a doubtlist");
	assert_config_error(BASE "policy:\n  tapir-source: 'a b'\n", 5,
		"policy.tapir-source", "is not 1 to 63 characters");
	/* numsources alone reads no tags: no tapir source needed. */
	tapir_config_destroy(assert_parses(
		BASE "policy:\n  doubtlist:\n    numsources: { limit: 1 }\n"));
}

static void
test_tls_files_rules(void **state)
{
	(void)state;
	assert_config_error("mqtt:\n  broker: mqtts://h\n  cert-file: /c\n"
			    "keys: k\n",
		3, "mqtt.key-file", "missing (required with cert-file)");
	assert_config_error("mqtt:\n  broker: mqtts://h\n  key-file: /k\n"
			    "keys: k\n",
		3, "mqtt.cert-file", "missing (required with key-file)");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  ca-file: /ca\n"
			    "keys: k\n",
		3, "mqtt.ca-file", "needs an mqtts:// broker");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  cert-file: /c\n"
			    "  key-file: /k\nkeys: k\n",
		3, "mqtt.cert-file", "needs an mqtts:// broker");
	tapir_config_destroy(assert_parses(
		"mqtt:\n  broker: mqtts://h\n  ca-file: /ca\nkeys: k\n"));
}

static void
test_reconnect_min_not_above_max(void **state)
{
	struct tapir_config *cfg;

	(void)state;
	assert_config_error("mqtt:\n  broker: mqtt://h\n  reconnect-min: 10\n"
			    "  reconnect-max: 5\nkeys: k\n",
		4, "mqtt.reconnect-max", "5 is less than reconnect-min (10)");
	assert_config_error("mqtt:\n  broker: mqtt://h\n  reconnect-min: 61\n"
			    "keys: k\n",
		3, "mqtt.reconnect-max", "60 is less than reconnect-min (61)");
	cfg = assert_parses("mqtt:\n  broker: mqtt://h\n  reconnect-min: 60\n"
			    "keys: k\n");
	assert_int_equal(cfg->mqtt.reconnect_min, 60);
	tapir_config_destroy(cfg);
}

static void
test_protocol_values(void **state)
{
	static const struct {
		const char *text;
		enum tapir_mqtt_protocol want;
	} good[] = {
		{ "auto", TAPIR_MQTT_AUTO },
		{ "AUTO", TAPIR_MQTT_AUTO },
		{ "5", TAPIR_MQTT_V5 },
		{ "'5'", TAPIR_MQTT_V5 },
		{ "3.1.1", TAPIR_MQTT_V311 },
		{ "311", TAPIR_MQTT_V311 },
	};
	char yaml[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tapir_config *cfg;

		snprintf(yaml, sizeof(yaml),
			"mqtt:\n  broker: mqtt://h\n  protocol: %s\nkeys: k\n",
			good[i].text);
		cfg = assert_parses(yaml);
		assert_int_equal(cfg->mqtt.protocol, good[i].want);
		tapir_config_destroy(cfg);
	}
	assert_config_error("mqtt:\n  broker: mqtt://h\n  protocol: 4\n"
			    "keys: k\n",
		3, "mqtt.protocol", "must be auto, 5 or 3.1.1, not '4'");
}

static void
test_control_mode_forms(void **state)
{
	static const struct {
		const char *text;
		unsigned want;
	} good[] = {
		{ "0660", 0660 },
		{ "\"0640\"", 0640 },
		{ "0o600", 0600 },
		{ "'0o777'", 0777 },
		{ "600", 0600 },
		{ "0", 0 },
	};
	static const char *const bad[] = { "0888", "01777", "07777", "rw", "0o",
		"'0x1ff'", "-0660", "6.6" };
	char yaml[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tapir_config *cfg;

		snprintf(yaml, sizeof(yaml), BASE "control:\n  mode: %s\n",
			good[i].text);
		cfg = assert_parses(yaml);
		assert_int_equal(cfg->control.mode, good[i].want);
		assert_null(cfg->control.socket);
		tapir_config_destroy(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), BASE "control:\n  mode: %s\n",
			bad[i]);
		assert_config_error(yaml, 5, "control.mode",
			"must be an octal mode from 0 to 0777");
	}
}

static void
test_control_socket_must_fit_sun_path(void **state)
{
	char yaml[512], path[200];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(yaml, sizeof(yaml), BASE "control:\n  socket: %s\n", path);
	assert_config_error(
		yaml, 5, "control.socket", "the limit for a Unix socket");
}

static void
test_soa_names_are_validated(void **state)
{
	(void)state;
	assert_config_error(BASE "answer:\n  soa-mname: 'bad name'\n", 5,
		"answer.soa-mname", "not a valid domain name");
	assert_config_error(BASE "answer:\n  soa-rname: a..b\n", 5,
		"answer.soa-rname", "not a valid domain name");
	assert_config_error(BASE "answer:\n  soa-rname: .\n", 5,
		"answer.soa-rname", "not a valid domain name");
}

static void
test_load_reports_path_and_strerror(void **state)
{
	struct tapir_error err;

	(void)state;
	assert_null(tapir_config_load("/nonexistent/tapir-pop.yaml", &err));
	assert_string_equal(err.text,
		"/nonexistent/tapir-pop.yaml: No such file or directory");
	assert_null(tapir_config_load("/", &err));
	assert_string_equal(err.text, "/: Is a directory");
	assert_null(tapir_config_load(NULL, &err));
}

/* Writes len bytes of BASE followed by comment padding to a temporary
 * file; returns its path (static buffer). */
static const char *
write_padded(size_t len)
{
	static char path[] = "/tmp/test_config.XXXXXX";
	char *buf = malloc(len);
	FILE *f;
	int fd;

	assert_non_null(buf);
	memset(buf, ' ', len);
	memcpy(buf, BASE "#", sizeof(BASE));
	buf[len - 1] = '\n';
	strcpy(path, "/tmp/test_config.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(buf);
	return path;
}

static void
test_load_bounds_the_file_to_one_mib(void **state)
{
	struct tapir_config *cfg;
	struct tapir_error err;
	const char *path;

	(void)state;
	path = write_padded(1024 * 1024);
	cfg = tapir_config_load(path, &err);
	if (!cfg)
		fail_msg("%s", err.text);
	assert_string_equal(cfg->keys_file, "/k.json");
	tapir_config_destroy(cfg);
	unlink(path);

	path = write_padded(1024 * 1024 + 1);
	assert_null(tapir_config_load(path, &err));
	assert_non_null(strstr(err.text, "larger than 1048576 bytes"));
	unlink(path);

	assert_null(tapir_config_parse(BASE, 1024 * 1024 + 1, "t.yaml", &err));
	assert_string_equal(err.text, "t.yaml: larger than 1048576 bytes");
}

static void
test_long_file_names_are_shortened(void **state)
{
	char name[200];
	struct tapir_error err;

	(void)state;
	memset(name, 'd', sizeof(name));
	memcpy(name + 150, "/tapir-pop.yaml", 16);
	assert_null(tapir_config_parse("x: 1", 4, name, &err));
	assert_string_equal(err.text, "tapir-pop.yaml:1: x: unknown key");
}

static void
test_destroy_accepts_null(void **state)
{
	(void)state;
	tapir_config_destroy(NULL);
}

static char *
example_path(char *buf, size_t size, const char *rel)
{
	const char *srcdir = getenv("srcdir");

	snprintf(buf, size, "%s/%s", srcdir ? srcdir : ".", rel);
	return buf;
}

static void
test_upstream_files_are_read_unchanged(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	char srcs[1024], pol[1024], yaml[4096];
	int i;

	(void)state;
	snprintf(yaml, sizeof(yaml),
		BASE "upstream:\n  sources: %s\n  policy: %s\n",
		example_path(srcs, sizeof(srcs),
			"examples/upstream/pop-sources.yaml"),
		example_path(
			pol, sizeof(pol), "examples/upstream/pop-policy.yaml"));
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	if (!cfg)
		fail_msg("%s", err.text);
	/* The inactive xfr source is left out. */
	assert_int_equal(cfg->n_sources, 3);
	i = tapir_config_source_index(cfg, "dns-tapir");
	assert_true(i >= 0);
	assert_int_equal(cfg->sources[i].type, TAPIR_SOURCE_MQTT);
	assert_int_equal(cfg->sources[i].list, TAPIR_LIST_DOUBT);
	assert_string_equal(
		cfg->sources[i].topics[0], "observations/down/tapir-pop");
	i = tapir_config_source_index(cfg, "local-allowlist");
	assert_int_equal(cfg->sources[i].type, TAPIR_SOURCE_FILE);
	assert_int_equal(cfg->sources[i].list, TAPIR_LIST_ALLOW);
	assert_string_equal(
		cfg->sources[i].path, "/etc/dnstapir/allowlist.txt");
	i = tapir_config_source_index(cfg, "partner-feed");
	assert_int_equal(cfg->sources[i].format, 2);
	assert_true(cfg->sources[i].csv_header);
	assert_int_equal(cfg->sources[i].csv_column, 2);
	assert_int_equal(cfg->policy.denylist_action, TAPIR_ACTION_NXDOMAIN);
	assert_true(cfg->policy.numsources.enabled);
	assert_int_equal(cfg->policy.numsources.limit, 2);
	assert_int_equal(cfg->policy.numtapirtags.action, TAPIR_ACTION_DROP);
	assert_int_equal(cfg->policy.denytapir.tags, (1u << 4) | (1u << 2));
	assert_int_equal(cfg->policy.denytapir.action, TAPIR_ACTION_DROP);
	tapir_config_destroy(cfg);
}

static void
test_upstream_errors_name_the_upstream_file(void **state)
{
	struct tapir_error err = { 0 };
	char path[] = "/tmp/tapir-up-XXXXXX";
	char yaml[512];
	const char *bad = "sources:\n  x:\n    name: x\n    type: doubtlist\n"
			  "    source: carrier-pigeon\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	snprintf(yaml, sizeof(yaml), BASE "upstream:\n  sources: %s\n", path);
	assert_null(tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err));
	assert_non_null(strstr(err.text, ":5: sources.x.source: must be mqtt, "
					 "file or xfr, not 'carrier-pigeon'"));
	snprintf(yaml, sizeof(yaml),
		BASE "upstream:\n  sources: /nonexistent/pop-sources.yaml\n");
	assert_null(tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err));
	assert_non_null(strstr(err.text, "t.yaml:5: upstream.sources:"));
	assert_non_null(strstr(err.text, "No such file"));
	unlink(path);
}

static void
test_policy_given_twice_is_refused(void **state)
{
	struct tapir_error err = { 0 };
	char pol[1024], yaml[2048];

	(void)state;
	snprintf(yaml, sizeof(yaml),
		BASE_SRC "upstream:\n  policy: %s\npolicy:\n  log-only: yes\n",
		example_path(
			pol, sizeof(pol), "examples/upstream/pop-policy.yaml"));
	assert_null(tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err));
	assert_non_null(strstr(err.text, "policy: given twice"));
}

static void
test_redirect_answers(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	const char *yaml = BASE "answer:\n  redirect-a: 192.0.2.1\n"
				"  redirect-aaaa: [\"2001:db8::1\", \"::2\"]\n"
				"  redirect-cname: Walled.Example.\n";

	(void)state;
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->answer.n_redirect_a, 1);
	assert_int_equal(cfg->answer.redirect_a[0][0], 192);
	assert_int_equal(cfg->answer.redirect_a[0][3], 1);
	assert_int_equal(cfg->answer.n_redirect_aaaa, 2);
	assert_int_equal(cfg->answer.redirect_aaaa[1][15], 2);
	assert_string_equal(cfg->answer.redirect_cname, "walled.example");
	tapir_config_destroy(cfg);
	assert_config_error(BASE "answer:\n  redirect-a: [\"2001:db8::1\"]\n",
		5, "answer.redirect-a[0]", "is not an IPv4 address");
	assert_config_error(BASE "answer:\n  redirect-aaaa: 192.0.2.1\n", 5,
		"answer.redirect-aaaa", "is not an IPv6 address");
}

/*
 * mqtt: and keys: are needed by MQTT sources only: a resolver fed by
 * files and zone transfers has no broker and no signed messages.
 */
static void
test_mqtt_and_keys_only_with_mqtt_sources(void **state)
{
	struct tapir_config *cfg;

	(void)state;
	cfg = assert_parses("sources:\n  - name: deny\n    type: file\n"
			    "    list: denylist\n    path: /deny.txt\n"
			    "  - name: rpz\n    type: xfr\n    list: denylist\n"
			    "    primary: 192.0.2.1\n    zone: rpz.example\n");
	assert_int_equal(cfg->n_sources, 2);
	assert_null(cfg->mqtt.host);
	assert_null(cfg->keys_file);
	tapir_config_destroy(cfg);
	/* No sources at all: nothing is enforced, nothing is needed. */
	cfg = assert_parses("policy:\n  log-only: yes\n");
	assert_int_equal(cfg->n_sources, 0);
	assert_null(cfg->mqtt.host);
	tapir_config_destroy(cfg);
	/* Given anyway, they are still checked. */
	assert_config_error(
		"mqtt:\n  brokr: x\n", 2, "mqtt.brokr", "unknown key");
	assert_config_error("keys: [a]\n", 1, "keys", "single value");
	/* An mqtt source (the default type) needs both. */
	assert_config_error("keys: k\nsources:\n  - name: deny\n"
			    "    type: file\n    list: denylist\n"
			    "    path: /d\n  - name: feed\n"
			    "    list: doubtlist\n    topics: t\n",
		1, "mqtt", "source 'feed' is an mqtt source");
	assert_config_error(
		BASE_SRC "keys: again\n", 9, "keys", "duplicate key");
	/* core-status publishes through the broker. */
	assert_config_error("core-status:\n  topic: t\n  signing-key: /k\n", 1,
		"mqtt", "missing (required by core-status)");
}

struct key_list {
	char keys[200][KEY_LEN];
	size_t n;
};

static void
collect_key(const char *key, void *arg)
{
	struct key_list *l = arg;

	assert_true(l->n < 200);
	assert_true(strlen(key) < KEY_LEN);
	snprintf(l->keys[l->n++], KEY_LEN, "%s", key);
}

static bool
has_key(const struct key_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->keys[i], key))
			return true;
	return false;
}

/* The keys the manual must document come from the parser's own tables,
 * sections resolved to the keys in them, once each. */
static void
test_list_keys_walks_every_table(void **state)
{
	static const char *const want[] = { "mqtt.broker", "mqtt.reconnect-max",
		"keys", "sources.name", "sources.tsig-secret-file",
		"sources.log-only", "upstream.sources", "upstream.policy",
		"policy.allowlist.action", "policy.denylist.action",
		"policy.doubtlist.numsources.limit",
		"policy.doubtlist.denytapir.tags", "policy.tapir-source",
		"policy.rules.tags-none", "policy.logfile", "tags",
		"answer.redirect-aaaa", "answer.cache-blocked",
		"limits.max-transfer-size", "control.owner",
		"logging.client-address", "state-dir",
		"core-status.signing-key" };
	static const char *const sections[] = { "mqtt", "sources", "policy",
		"policy.doubtlist", "policy.rules", "answer", "upstream" };
	struct key_list *l = calloc(1, sizeof(*l));

	(void)state;
	assert_non_null(l);
	tapir_config_list_keys(collect_key, l);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!has_key(l, want[i]))
			fail_msg("%s not listed", want[i]);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (has_key(l, sections[i]))
			fail_msg("section %s listed as a key", sections[i]);
	for (size_t i = 0; i < l->n; i++)
		for (size_t j = i + 1; j < l->n; j++)
			if (!strcmp(l->keys[i], l->keys[j]))
				fail_msg("%s listed twice", l->keys[i]);
	free(l);
}

static void
test_control_group_and_logging(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	const char *yaml =
		BASE "control:\n  socket: /run/t.sock\n"
		     "  group: unbound\nlogging:\n"
		     "  blocked-queries: yes\n  client-address: no\n";

	(void)state;
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	assert_non_null(cfg);
	assert_string_equal(cfg->control.group, "unbound");
	assert_true(cfg->logging.blocked);
	assert_false(cfg->logging.client);
	tapir_config_destroy(cfg);
	yaml = BASE "sources:\n  - name: trial\n    list: denylist\n"
		    "    topics: [t]\n    log-only: yes\n";
	cfg = tapir_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	assert_non_null(cfg);
	assert_true(cfg->sources[0].log_only);
	tapir_config_destroy(cfg);
	assert_config_error(BASE "logging:\n  blocked: yes\n", 5,
		"logging.blocked", "unknown key");
}

/* metrics: off by default; textfile names a *.prom file, which is all
 * node_exporter's textfile collector reads; interval 1 to 3600 s. */
static void
test_metrics_textfile_and_interval(void **state)
{
	struct tapir_config *cfg = assert_parses(BASE);

	(void)state;
	assert_null(cfg->metrics.textfile);
	assert_int_equal(cfg->metrics.interval, 15);
	tapir_config_destroy(cfg);
	cfg = assert_parses(BASE "metrics:\n"
				 "  textfile: /var/lib/node/tapir-pop.prom\n"
				 "  interval: 60\n");
	assert_string_equal(
		cfg->metrics.textfile, "/var/lib/node/tapir-pop.prom");
	assert_int_equal(cfg->metrics.interval, 60);
	tapir_config_destroy(cfg);
	assert_config_error(BASE "metrics:\n  textfile: /x/tapir-pop.txt\n", 5,
		"metrics.textfile", "must name a file ending in .prom");
	assert_config_error(BASE "metrics:\n  textfile: /x/.prom\n", 5,
		"metrics.textfile", "ending in .prom");
	assert_config_error(BASE "metrics:\n  interval: 5\n", 5,
		"metrics.textfile", "missing (required)");
	assert_config_error(BASE "metrics:\n  textfile: /t.prom\n"
				 "  interval: 0\n",
		6, "metrics.interval", "1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config_parses_to_expected_struct),
		cmocka_unit_test(test_minimal_config_gets_defaults),
		cmocka_unit_test(test_client_id_default_is_prefix_and_hostname),
		cmocka_unit_test(test_null_sections_mean_empty),
		cmocka_unit_test(test_example_file_parses),
		cmocka_unit_test(test_unknown_key_is_named),
		cmocka_unit_test(test_duplicate_key_is_named),
		cmocka_unit_test(test_wrong_type_is_named),
		cmocka_unit_test(test_missing_required_key_is_named),
		cmocka_unit_test(test_empty_input_is_an_error),
		cmocka_unit_test(test_broker_urls),
		cmocka_unit_test(test_bad_qos_is_named),
		cmocka_unit_test(test_session_expiry_and_qos_defaults),
		cmocka_unit_test(test_topic_filters),
		cmocka_unit_test(test_sixteen_topics_are_allowed),
		cmocka_unit_test(test_unknown_tag_is_named),
		cmocka_unit_test(test_tag_definitions_are_checked),
		cmocka_unit_test(test_duplicate_source_name_is_named),
		cmocka_unit_test(test_source_names_are_checked),
		cmocka_unit_test(test_old_list_names_are_accepted),
		cmocka_unit_test(test_unsupported_source_type_is_named),
		cmocka_unit_test(test_file_source_fields),
		cmocka_unit_test(test_xfr_source_fields),
		cmocka_unit_test(test_xfr_tsig_secret_file_is_read),
		cmocka_unit_test(test_xfr_source_errors),
		cmocka_unit_test(test_upstream_xfr_source),
		cmocka_unit_test(test_file_source_needs_path_and_no_topics),
		cmocka_unit_test(test_named_rules),
		cmocka_unit_test(test_named_rule_errors),
		cmocka_unit_test(test_upstream_files_are_read_unchanged),
		cmocka_unit_test(test_upstream_errors_name_the_upstream_file),
		cmocka_unit_test(test_policy_given_twice_is_refused),
		cmocka_unit_test(test_mqtt_and_keys_only_with_mqtt_sources),
		cmocka_unit_test(test_list_keys_walks_every_table),
		cmocka_unit_test(test_control_group_and_logging),
		cmocka_unit_test(test_redirect_answers),
		cmocka_unit_test(test_too_many_sources),
		cmocka_unit_test(test_bad_action_is_named),
		cmocka_unit_test(test_actions_are_case_insensitive),
		cmocka_unit_test(test_action_strings),
		cmocka_unit_test(test_integers_are_checked),
		cmocka_unit_test(test_integer_bounds_are_inclusive),
		cmocka_unit_test(test_yaml_syntax_error_gives_libyaml_line),
		cmocka_unit_test(test_second_document_is_refused),
		cmocka_unit_test(test_cyclic_alias_does_not_loop),
		cmocka_unit_test(test_tag_lookup_knows_every_alias),
		cmocka_unit_test(test_configured_tags_add_and_override),
		cmocka_unit_test(test_tags_resolve_whatever_the_section_order),
		cmocka_unit_test(test_denytapir_takes_one_tag_as_a_scalar),
		cmocka_unit_test(test_tag_rules_need_a_doubtlist_tapir_source),
		cmocka_unit_test(test_tls_files_rules),
		cmocka_unit_test(test_reconnect_min_not_above_max),
		cmocka_unit_test(test_protocol_values),
		cmocka_unit_test(test_control_mode_forms),
		cmocka_unit_test(test_control_socket_must_fit_sun_path),
		cmocka_unit_test(test_soa_names_are_validated),
		cmocka_unit_test(test_load_reports_path_and_strerror),
		cmocka_unit_test(test_load_bounds_the_file_to_one_mib),
		cmocka_unit_test(test_long_file_names_are_shortened),
		cmocka_unit_test(test_destroy_accepts_null),
		cmocka_unit_test(test_metrics_textfile_and_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
