/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/mqtt.c without a broker: the handlers libmosquitto would call
 * (tapir__mqtt_on_connect, tapir__mqtt_on_message) are driven directly. They
 * show the protocol choice (v5 first, 3.1.1 after a broker refuses v5, never
 * when pinned), that messages reach the callback byte for byte, and that a
 * TLS set-up that cannot work fails at create, not at the first connect.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "lib/config.h"
#include "lib/mqtt.h"
#include "lib/tapir.h"

struct fixture {
	int src; /* the source the last message was handed with */
	struct tapir_config *cfg;
	struct tapir_mqtt *m;
	/* What the callbacks saw. */
	int msgs;
	char topic[256];
	unsigned char payload[64];
	size_t len;
	int states;
	bool connected;
	char reason[256];
	int log_lines;
};

static void
capture_log(void *arg, enum tapir_log_level level, const char *msg)
{
	struct fixture *f = arg;

	(void)level;
	(void)msg;
	f->log_lines++;
}

static void
on_msg(void *arg, int src, const char *topic, const void *payload, size_t len)
{
	struct fixture *f = arg;

	f->msgs++;
	f->src = src;
	snprintf(f->topic, sizeof(f->topic), "%s", topic);
	assert_true(len <= sizeof(f->payload));
	if (len)
		memcpy(f->payload, payload, len);
	f->len = len;
}

static void
on_state(void *arg, bool connected, const char *reason)
{
	struct fixture *f = arg;

	f->states++;
	f->connected = connected;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static struct tapir_config *
config_with(const char *protocol, const char *extra_mqtt)
{
	char yaml[1024];
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;

	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: %s\n"
		"  protocol: \"%s\"\n"
		"%s"
		"keys: /nonexistent/keys.json\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [observations/down/tapir-pop]\n",
		extra_mqtt ? "mqtts://127.0.0.1:1" : "mqtt://127.0.0.1:1",
		protocol, extra_mqtt ? extra_mqtt : "");
	cfg = tapir_config_parse(yaml, strlen(yaml), "mqtt.yaml", &err);
	if (!cfg)
		fail_msg("config: %s", err.text);
	return cfg;
}

static int
group_setup(void **state)
{
	(void)state;
	return tapir_lib_init() == 0 ? 0 : -1;
}

static int
setup_with(void **state, const char *protocol)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tapir_error err = { 0 };

	if (!f)
		return -1;
	tapir_log_set(capture_log, f);
	f->cfg = config_with(protocol, NULL);
	f->m = tapir_mqtt_create(f->cfg, on_msg, on_state, f, &err);
	if (!f->m) {
		print_error("tapir_mqtt_create: %s\n", err.text);
		tapir_config_destroy(f->cfg);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
setup_auto(void **state)
{
	return setup_with(state, "auto");
}

static int
setup_v5(void **state)
{
	return setup_with(state, "5");
}

static int
setup_v311(void **state)
{
	return setup_with(state, "3.1.1");
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tapir_mqtt_destroy(f->m);
	tapir_config_destroy(f->cfg);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

static void
test_auto_starts_with_v5(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V5);
}

static void
test_pinned_v311_starts_with_v311(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V311);
}

static void
test_pinned_v5_starts_with_v5(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V5);
}

static void
test_auto_falls_back_on_v5_unsupported_protocol(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_connect(f->m, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V311);
	assert_int_equal(f->states, 1);
	assert_false(f->connected);
	assert_non_null(strstr(f->reason, "refused"));
}

static void
test_auto_falls_back_on_v3_connack_refused_protocol(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_connect(f->m, CONNACK_REFUSED_PROTOCOL_VERSION);
	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V311);
	assert_int_equal(f->states, 1);
	assert_false(f->connected);
}

static void
test_auto_fallback_stays_on_v311(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_connect(f->m, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	tapir__mqtt_on_connect(f->m, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V311);
	assert_int_equal(f->states, 2);
}

static void
test_auto_keeps_v5_on_other_refusals(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_connect(f->m, MQTT_RC_NOT_AUTHORIZED);
	tapir__mqtt_on_connect(f->m, CONNACK_REFUSED_NOT_AUTHORIZED);
	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V5);
	assert_int_equal(f->states, 2);
	assert_false(f->connected);
}

static void
test_pinned_v5_never_falls_back(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_connect(f->m, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	tapir__mqtt_on_connect(f->m, CONNACK_REFUSED_PROTOCOL_VERSION);
	assert_int_equal(tapir_mqtt_protocol(f->m), TAPIR_MQTT_V5);
	assert_int_equal(f->states, 2);
	assert_false(f->connected);
}

static void
test_accepted_connect_reports_connected_with_protocol(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_connect(f->m, 0);
	assert_int_equal(f->states, 1);
	assert_true(f->connected);
	assert_non_null(strstr(f->reason, "v5"));
}

extern int (*tapir__mqtt_publish_fn)(struct mosquitto *mosq, int *mid,
	const char *topic, int payloadlen, const void *payload, int qos,
	bool retain);

static int published;
static char published_topic[64];

static int
record_publish(struct mosquitto *mosq, int *mid, const char *topic,
	int payloadlen, const void *payload, int qos, bool retain)
{
	(void)mosq;
	(void)mid;
	(void)qos;
	(void)retain;
	published++;
	snprintf(published_topic, sizeof(published_topic), "%s %.*s", topic,
		payloadlen, (const char *)payload);
	return MOSQ_ERR_SUCCESS;
}

/* A report published from another thread (the engine's writer) is left
 * for the network thread: libmosquitto is never called from two threads
 * (with TLS, one SSL object). The newer of two waiting reports wins. */
static void
test_publish_waits_for_the_network_thread(void **state)
{
	struct fixture *f = *state;

	published = 0;
	tapir__mqtt_publish_fn = record_publish;
	assert_int_equal(tapir_mqtt_publish(f->m, "status/up", "a", 1),
		TAPIR_EIO); /* not connected */
	tapir__mqtt_on_connect(f->m, 0);
	assert_int_equal(tapir_mqtt_publish(f->m, "status/up", "old", 3), 0);
	assert_int_equal(tapir_mqtt_publish(f->m, "status/up", "new", 3), 0);
	assert_int_equal(published, 0);
	tapir__mqtt_flush_outbox(f->m);
	assert_int_equal(published, 1);
	assert_string_equal(published_topic, "status/up new");
	tapir__mqtt_flush_outbox(f->m);
	assert_int_equal(published, 1);
	tapir__mqtt_publish_fn = mosquitto_publish;
}

static void
test_message_topic_and_binary_bytes_unchanged(void **state)
{
	struct fixture *f = *state;
	static const unsigned char bin[] = { 'a', 0, 0xff, '\n', 0, 'z' };

	tapir__mqtt_on_message(
		f->m, "observations/down/tapir-pop", bin, (int)sizeof(bin));
	assert_int_equal(f->msgs, 1);
	assert_int_equal(f->src, 0);
	assert_string_equal(f->topic, "observations/down/tapir-pop");
	assert_int_equal(f->len, sizeof(bin));
	assert_memory_equal(f->payload, bin, sizeof(bin));
}

static void
test_message_zero_length_is_delivered(void **state)
{
	struct fixture *f = *state;

	f->len = 99;
	tapir__mqtt_on_message(f->m, "t/empty", NULL, 0);
	assert_int_equal(f->msgs, 1);
	/* Not a topic of any source: handed on, marked for the engine to
	 * reject and count. */
	assert_int_equal(f->src, -1);
	assert_string_equal(f->topic, "t/empty");
	assert_int_equal(f->len, 0);
}

static void
test_message_negative_length_is_dropped(void **state)
{
	struct fixture *f = *state;

	tapir__mqtt_on_message(f->m, "t", "x", -1);
	assert_int_equal(f->msgs, 0);
}

static void
test_tls_missing_ca_file_fails_create_naming_tls(void **state)
{
	struct tapir_config *cfg;
	struct tapir_error err = { 0 };
	struct tapir_mqtt *m;
	int dummy = 0;

	(void)state;
	cfg = config_with("auto", "  ca-file: /nonexistent/tapir-ca.pem\n");
	assert_true(cfg->mqtt.tls);
	m = tapir_mqtt_create(cfg, on_msg, on_state, &dummy, &err);
	assert_null(m);
	assert_non_null(strstr(err.text, "TLS"));
	tapir_config_destroy(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_auto_starts_with_v5, setup_auto, teardown),
		cmocka_unit_test_setup_teardown(
			test_publish_waits_for_the_network_thread, setup_auto,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_pinned_v311_starts_with_v311, setup_v311,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_pinned_v5_starts_with_v5, setup_v5, teardown),
		cmocka_unit_test_setup_teardown(
			test_auto_falls_back_on_v5_unsupported_protocol,
			setup_auto, teardown),
		cmocka_unit_test_setup_teardown(
			test_auto_falls_back_on_v3_connack_refused_protocol,
			setup_auto, teardown),
		cmocka_unit_test_setup_teardown(
			test_auto_fallback_stays_on_v311, setup_auto, teardown),
		cmocka_unit_test_setup_teardown(
			test_auto_keeps_v5_on_other_refusals, setup_auto,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_pinned_v5_never_falls_back, setup_v5, teardown),
		cmocka_unit_test_setup_teardown(
			test_accepted_connect_reports_connected_with_protocol,
			setup_auto, teardown),
		cmocka_unit_test_setup_teardown(
			test_message_topic_and_binary_bytes_unchanged,
			setup_auto, teardown),
		cmocka_unit_test_setup_teardown(
			test_message_zero_length_is_delivered, setup_auto,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_message_negative_length_is_dropped, setup_auto,
			teardown),
		cmocka_unit_test(
			test_tls_missing_ca_file_fails_create_naming_tls),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
