/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MQTT consumer: libmosquitto on its own thread. Connects (MQTT v5,
 * falling back to 3.1.1 when the broker refuses v5, unless the protocol is
 * pinned; under v5 it asks the broker for packets no larger than
 * limits.max-message-size plus TAPIR_MQTT_PACKET_OVERHEAD), with server and
 * client TLS files when configured, subscribes to
 * every source's topics on each (re)connect, reconnects with exponential
 * backoff, and hands each message to a callback that must copy it: the
 * message memory belongs to libmosquitto. The session persists unless
 * mqtt.session-expiry is 0 (clean start off, and under v5 a session expiry
 * interval on CONNECT), so the broker queues the QoS 1 messages published
 * while we are away; libmosquitto acknowledges each QoS 1 message before
 * the callback runs, so the callback must not drop one.
 *
 * Thread safety: tapir_lib_init() first; create/start/stop/destroy from one
 * thread (the module's init and deinit); publish from any. The callbacks
 * run on the network thread, the only one that calls libmosquitto once it
 * runs.
 */
#ifndef TAPIR_MQTT_H
#define TAPIR_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "lib/tapir.h"

/**
 * libmosquitto's process-wide set-up, for tapir_lib_init() only.
 * @return: 0 or TAPIR_EIO.
 */
int tapir_mqtt_lib_init(void);

/**
 * A message arrived on a topic of source src (the index of the first MQTT
 * source one of whose subscriptions matches; -1 when none does, which a
 * broker should never send). payload is borrowed for the call only.
 */
typedef void (*tapir_mqtt_msg_fn)(
	void *arg, int src, const char *topic, const void *payload, size_t len);
/** The connection went up or down; reason is a short text. */
typedef void (*tapir_mqtt_state_fn)(
	void *arg, bool connected, const char *reason);

/* What an MQTT v5 PUBLISH may carry besides its payload and still reach
 * us: the fixed header, a topic of up to about 4000 bytes, a packet id and
 * properties. The CONNECT asks the broker for packets of at most
 * limits.max-message-size plus this. */
#define TAPIR_MQTT_PACKET_OVERHEAD 4096

struct tapir_mqtt;

/**
 * Prepare a consumer (no network activity yet).
 * @param cfg: borrowed, must outlive the consumer.
 * @return: the consumer or NULL with err filled.
 */
struct tapir_mqtt *tapir_mqtt_create(const struct tapir_config *cfg,
	tapir_mqtt_msg_fn on_msg, tapir_mqtt_state_fn on_state, void *arg,
	struct tapir_error *err);

/**
 * Start the network thread. A broker that is down is not an error: the
 * thread keeps retrying with backoff.
 * @return: 0 or a negative tapir_err when no thread could be started.
 */
int tapir_mqtt_start(struct tapir_mqtt *m) TAPIR_WUR;

/**
 * Any thread: publish one message at QoS 0, not retained (health reports
 * to the core; nothing about queries). Copied into an outbox that the
 * network thread publishes from within LOOP_MS; a newer message replaces
 * one still waiting there.
 * @return: 0, TAPIR_EIO when not connected, TAPIR_ENOMEM.
 */
int tapir_mqtt_publish(struct tapir_mqtt *m, const char *topic, const void *buf,
	size_t len) TAPIR_WUR;

/** Join the network thread and disconnect; the consumer stays valid
 * (publish answers TAPIR_EIO). NULL and a second call are fine. */
void tapir_mqtt_stop(struct tapir_mqtt *m);

/** Stop (if not yet) and free; NULL is fine. */
void tapir_mqtt_destroy(struct tapir_mqtt *m);

/**
 * The MQTT source of cfg that a topic belongs to: the first whose
 * subscriptions (with MQTT wildcards) match it.
 * @return: the source's index, or -1.
 */
int tapir_mqtt_source_for_topic(
	const struct tapir_config *cfg, const char *topic);

/** Protocol in use for the next connect: TAPIR_MQTT_V5 or _V311. */
enum tapir_mqtt_protocol tapir_mqtt_protocol(const struct tapir_mqtt *m);

/* Internal, for unit tests: the handlers libmosquitto calls. */
void tapir__mqtt_on_connect(struct tapir_mqtt *m, int rc);
/* The SUBACK of SUBSCRIBE mid: the QoS granted, or a reason >= 0x80. */
void tapir__mqtt_on_subscribed(struct tapir_mqtt *m, int mid, int granted);
void tapir__mqtt_on_message(
	struct tapir_mqtt *m, const char *topic, const void *payload, int len);
/* What the network thread does between rounds: publish the outbox. */
void tapir__mqtt_flush_outbox(struct tapir_mqtt *m);

#endif
