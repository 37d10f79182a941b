/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/mqtt.c without a broker: the handlers libmosquitto would call
 * (tapir__mqtt_on_connect, tapir__mqtt_on_message) are driven directly. They
 * show the protocol choice (v5 first, 3.1.1 after a broker refuses v5, never
 * when pinned), that messages reach the callback byte for byte, and that a
 * TLS set-up that cannot work fails at create, not at the first connect.
 * A fake broker on 127.0.0.1 reads the CONNECT packets: each v5 one asks
 * the broker for a maximum packet size that keeps messages within
 * max-message-size.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* A ca-file that holds no certificate is refused when the client is made,
 * naming the key and the file, not at each connect as "A TLS error
 * occurred." (libmosquitto's own setup only checked that it opens). */
static void
test_tls_ca_file_without_certificate_fails_create_naming_it(void **state)
{
	char path[] = "/tmp/tapir-ca-XXXXXX", extra[128];
	struct tapir_config *cfg;
	struct tapir_error err = { 0 };
	struct tapir_mqtt *m;
	int dummy = 0, fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a certificate\n", 18), 18);
	close(fd);
	snprintf(extra, sizeof(extra), "  ca-file: %s\n", path);
	cfg = config_with("auto", extra);
	m = tapir_mqtt_create(cfg, on_msg, on_state, &dummy, &err);
	unlink(path);
	assert_null(m);
	assert_non_null(strstr(err.text, "TLS"));
	assert_non_null(strstr(err.text, "ca-file"));
	assert_non_null(strstr(err.text, path));
	tapir_config_destroy(cfg);
}

/* ---- the CONNECT packet, seen by a fake broker on 127.0.0.1 ---- */

static int
listen_local(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Exactly n bytes within 5 s, or fail. */
static void
read_exact(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		if (poll(&p, 1, 5000) != 1)
			fail_msg("no data from the client in 5 s");
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			fail_msg(
				"client closed after %zu of %zu bytes", got, n);
		got += (size_t)r;
	}
}

static int
accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, ms) != 1)
		fail_msg("no connection in %d ms", ms);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	return fd;
}

/* MQTT's variable byte integer at *p (advanced past it). */
static uint32_t
varint(const unsigned char **p)
{
	uint32_t v = 0;

	for (int shift = 0; shift < 28; shift += 7) {
		unsigned char b = *(*p)++;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	return v;
}

struct connect_seen {
	int level;	     /* 4: 3.1.1, 5: v5 */
	bool has_max_packet; /* CONNECT property maximum packet size */
	uint32_t max_packet;
	bool clean;	 /* clean session (3.1.1), clean start (v5) */
	bool has_expiry; /* CONNECT property session expiry interval */
	uint32_t expiry;
};

/* Accept a connection and read its CONNECT packet. */
static int
read_connect(int lfd, struct connect_seen *c)
{
	unsigned char hdr[5], *body;
	const unsigned char *p, *end;
	uint32_t len = 0;
	int fd = accept_within(lfd, 5000);
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	read_exact(fd, hdr, 1);
	assert_int_equal(hdr[0], 0x10);
	do {
		read_exact(fd, hdr + 1 + i, 1);
		len |= (uint32_t)(hdr[1 + i] & 0x7f) << (7 * i);
	} while (hdr[1 + i++] & 0x80 && i < 4);
	assert_non_null(body = malloc(len));
	read_exact(fd, body, len);
	/* "\0\4MQTT", level, flags, keepalive (2), then v5 properties. */
	assert_memory_equal(body, "\0\4MQTT", 6);
	c->level = body[6];
	c->clean = (body[7] & 0x02) != 0;
	if (c->level == 5) {
		p = body + 10;
		end = p + varint(&p);
		while (p < end) {
			unsigned char id = *p++;
			if (id == MQTT_PROP_MAXIMUM_PACKET_SIZE) {
				c->has_max_packet = true;
				c->max_packet = (uint32_t)p[0] << 24 |
						(uint32_t)p[1] << 16 |
						(uint32_t)p[2] << 8 | p[3];
				p += 4;
			} else if (id == MQTT_PROP_RECEIVE_MAXIMUM) {
				p += 2;
			} else if (id == MQTT_PROP_SESSION_EXPIRY_INTERVAL) {
				c->has_expiry = true;
				c->expiry = (uint32_t)p[0] << 24 |
					    (uint32_t)p[1] << 16 |
					    (uint32_t)p[2] << 8 | p[3];
				p += 4;
			} else {
				fail_msg("unexpected CONNECT property %u", id);
			}
		}
	}
	free(body);
	return fd;
}

/* The broker must never send more than max-message-size of payload, on
 * the first connect and on every reconnect; after a fall back to 3.1.1
 * (which has no properties) the client still connects. */
static void
test_connect_asks_for_maximum_packet_size(void **state)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	struct tapir_mqtt *m;
	struct connect_seen c;
	char yaml[512];
	int lfd, fd, port, dummy = 0;
	static const unsigned char refuse_v5[] = { 0x20, 3, 0, 0x84, 0 };

	(void)state;
	lfd = listen_local(&port);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:%d\n"
		"  reconnect-min: 1\n"
		"  reconnect-max: 1\n"
		"keys: /nonexistent/keys.json\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [observations/down/tapir-pop]\n"
		"limits:\n"
		"  max-message-size: 4096\n",
		port);
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "m.yaml", &err)))
		fail_msg("config: %s", err.text);
	assert_non_null(m = tapir_mqtt_create(cfg, on_msg, NULL, &dummy, &err));
	assert_int_equal(tapir_mqtt_start(m), 0);

	fd = read_connect(lfd, &c);
	assert_int_equal(c.level, 5);
	if (!c.has_max_packet)
		fail_msg("CONNECT without maximum packet size");
	assert_int_equal(c.max_packet, 4096 + TAPIR_MQTT_PACKET_OVERHEAD);
	/* Hang up: the reconnect asks for the same. */
	close(fd);
	fd = read_connect(lfd, &c);
	assert_int_equal(c.level, 5);
	assert_true(c.has_max_packet);
	assert_int_equal(c.max_packet, 4096 + TAPIR_MQTT_PACKET_OVERHEAD);
	/* A broker that refuses v5: 3.1.1, without properties. */
	assert_int_equal(write(fd, refuse_v5, sizeof(refuse_v5)),
		(ssize_t)sizeof(refuse_v5));
	close(read_connect(lfd, &c));
	assert_int_equal(c.level, 4);
	close(fd);
	tapir_mqtt_destroy(m);
	tapir_config_destroy(cfg);
	close(lfd);
}

/* A client started against a fake broker, with more mqtt: keys. */
static struct tapir_mqtt *
start_against(int *lfd, struct tapir_config **cfg, const char *mqtt_extra)
{
	struct tapir_error err = { 0 };
	struct tapir_mqtt *m;
	static int dummy;
	char yaml[512];
	int port;

	*lfd = listen_local(&port);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:%d\n"
		"  reconnect-min: 1\n"
		"  reconnect-max: 1\n"
		"%s"
		"keys: /nonexistent/keys.json\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [observations/down/tapir-pop]\n",
		port, mqtt_extra);
	if (!(*cfg = tapir_config_parse(yaml, strlen(yaml), "m.yaml", &err)))
		fail_msg("config: %s", err.text);
	assert_non_null(
		m = tapir_mqtt_create(*cfg, on_msg, NULL, &dummy, &err));
	assert_int_equal(tapir_mqtt_start(m), 0);
	return m;
}

/* By default the session outlives the connection: clean start off and a
 * session expiry of an hour on every v5 CONNECT (the first, a reconnect),
 * clean session off after a fall back to 3.1.1; otherwise what is
 * published while the module is away is lost. */
static void
test_connect_keeps_the_session(void **state)
{
	struct tapir_config *cfg;
	struct tapir_mqtt *m;
	struct connect_seen c;
	int lfd, fd;
	static const unsigned char refuse_v5[] = { 0x20, 3, 0, 0x84, 0 };

	(void)state;
	m = start_against(&lfd, &cfg, "");
	fd = read_connect(lfd, &c);
	assert_int_equal(c.level, 5);
	assert_false(c.clean);
	assert_true(c.has_expiry);
	assert_int_equal(c.expiry, 3600);
	close(fd);
	fd = read_connect(lfd, &c);
	assert_false(c.clean);
	assert_true(c.has_expiry);
	assert_int_equal(c.expiry, 3600);
	assert_int_equal(write(fd, refuse_v5, sizeof(refuse_v5)),
		(ssize_t)sizeof(refuse_v5));
	close(read_connect(lfd, &c));
	assert_int_equal(c.level, 4);
	assert_false(c.clean);
	close(fd);
	tapir_mqtt_destroy(m);
	tapir_config_destroy(cfg);
	close(lfd);
}

/* session-expiry: 0 is the clean session of before: clean start on, no
 * expiry property. */
static void
test_connect_session_expiry_zero_is_clean(void **state)
{
	struct tapir_config *cfg;
	struct tapir_mqtt *m;
	struct connect_seen c;
	int lfd;

	(void)state;
	m = start_against(&lfd, &cfg, "  session-expiry: 0\n");
	close(read_connect(lfd, &c));
	assert_int_equal(c.level, 5);
	assert_true(c.clean);
	assert_false(c.has_expiry);
	tapir_mqtt_destroy(m);
	tapir_config_destroy(cfg);
	close(lfd);
}

/* What the network thread reported, read by the test's thread. */
struct seen_state {
	pthread_mutex_t lock;
	int ups;
	char reason[256];
	char warning[512];
};

static void
seen_on_state(void *arg, bool connected, const char *reason)
{
	struct seen_state *st = arg;

	pthread_mutex_lock(&st->lock);
	if (connected) {
		st->ups++;
		snprintf(st->reason, sizeof(st->reason), "%s", reason);
	}
	pthread_mutex_unlock(&st->lock);
}

static void
seen_log(void *arg, enum tapir_log_level level, const char *msg)
{
	struct seen_state *st = arg;

	pthread_mutex_lock(&st->lock);
	if (level == TAPIR_LOG_WARN && strstr(msg, "granted"))
		snprintf(st->warning, sizeof(st->warning), "%s", msg);
	pthread_mutex_unlock(&st->lock);
}

/* A broker that grants QoS 0 where 1 was asked (mosquitto's max_qos): the
 * module says so once in the log, and "connected" says at which QoS, for
 * status. */
static void
test_lower_qos_granted_is_logged_and_reported(void **state)
{
	struct seen_state st = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	struct tapir_mqtt *m;
	struct connect_seen c;
	static const unsigned char connack[] = { 0x20, 3, 0, 0, 0 };
	unsigned char hdr[5], body[512], suback[6];
	uint32_t len = 0;
	char yaml[512];
	int lfd, fd, port, ups = 0;
	size_t i = 0;

	(void)state;
	lfd = listen_local(&port);
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:%d\n"
		"keys: /nonexistent/keys.json\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [observations/down/tapir-pop]\n",
		port);
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "m.yaml", &err)))
		fail_msg("config: %s", err.text);
	tapir_log_set(seen_log, &st);
	assert_non_null(
		m = tapir_mqtt_create(cfg, on_msg, seen_on_state, &st, &err));
	assert_int_equal(tapir_mqtt_start(m), 0);
	fd = read_connect(lfd, &c);
	assert_int_equal(c.level, 5);
	assert_int_equal(
		write(fd, connack, sizeof(connack)), (ssize_t)sizeof(connack));
	/* SUBSCRIBE: packet id, properties, the filter, its options. */
	read_exact(fd, hdr, 1);
	assert_int_equal(hdr[0], 0x82);
	do {
		read_exact(fd, hdr + 1 + i, 1);
		len |= (uint32_t)(hdr[1 + i] & 0x7f) << (7 * i);
	} while (hdr[1 + i++] & 0x80 && i < 4);
	assert_true(len <= sizeof(body));
	read_exact(fd, body, len);
	/* It asked for QoS 1: the options byte ends the packet. */
	assert_int_equal(body[len - 1] & 0x03, 1);
	suback[0] = 0x90;
	suback[1] = 4;
	suback[2] = body[0];
	suback[3] = body[1];
	suback[4] = 0; /* no properties */
	suback[5] = 0; /* granted QoS 0 */
	assert_int_equal(
		write(fd, suback, sizeof(suback)), (ssize_t)sizeof(suback));
	for (int t = 0; t < 100 && !ups; t++) {
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&st.lock);
		ups = st.ups;
		pthread_mutex_unlock(&st.lock);
	}
	tapir_mqtt_destroy(m);
	tapir_log_set(NULL, NULL);
	close(fd);
	close(lfd);
	tapir_config_destroy(cfg);
	assert_int_equal(ups, 1);
	assert_non_null(
		strstr(st.reason, "subscribed at QoS 0 (less than asked)"));
	assert_non_null(strstr(st.warning,
		"granted QoS 0 for observations/down/tapir-pop, qos 1 was asked"));
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
		cmocka_unit_test(
			test_tls_ca_file_without_certificate_fails_create_naming_it),
		cmocka_unit_test(test_connect_asks_for_maximum_packet_size),
		cmocka_unit_test(test_connect_keeps_the_session),
		cmocka_unit_test(test_connect_session_expiry_zero_is_clean),
		cmocka_unit_test(test_lower_qos_granted_is_logged_and_reported),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
