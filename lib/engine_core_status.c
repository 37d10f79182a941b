/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health reports to the DNS TAPIR core, signed and published on MQTT.
 * Writer thread.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

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
/* Tests: how long a report waits before it is published, to stand for a
 * writer caught in the middle of one. */
int tapir__eng_report_delay_ms;

void
tapir__eng_core_status_send(struct tapir_engine *e)
{
	const struct tapir_config *cfg = wcfg(e);
	json_t *root, *comps;
	char msg[320], *payload, *jws = NULL;
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
	if (tapir__eng_report_delay_ms) {
		struct timespec ts = { tapir__eng_report_delay_ms / 1000,
			(tapir__eng_report_delay_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
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
