/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the configuration parser as a YAML file, and
 * aborts when a rejection does not say where, or when an accepted config
 * breaks what the engine relies on: required values present (the broker
 * and the keys with an MQTT source), numbers in range, names unique, each
 * tag name resolving back to its own bit.
 */
#include "tapir_build.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_config(const struct tapir_config *cfg)
{
	char canon[TAPIR_NAME_BUFSIZE];

	if ((cfg->mqtt.host &&
		    (cfg->mqtt.port < 1 || cfg->mqtt.port > 65535)) ||
		!cfg->mqtt.client_id ||
		cfg->mqtt.reconnect_min > cfg->mqtt.reconnect_max ||
		cfg->control.mode > 0777 || cfg->n_sources > TAPIR_MAX_SOURCES)
		abort();
	if ((cfg->mqtt.ca_file || cfg->mqtt.cert_file) && !cfg->mqtt.tls)
		abort();
	if (cfg->core_status.topic && !cfg->mqtt.host)
		abort();
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *s = &cfg->sources[i];
		bool mqtt = s->type == TAPIR_SOURCE_MQTT;

		/* An MQTT source needs the broker, the keys and a topic. */
		if (tapir_config_source_index(cfg, s->name) != (int)i ||
			(mqtt && (!cfg->mqtt.host || !cfg->keys_file ||
					 s->n_topics < 1)) ||
			(!mqtt && s->n_topics != 0) ||
			s->n_topics > TAPIR_MAX_TOPICS || s->qos < 0 ||
			s->qos > 2)
			abort();
		for (size_t t = 0; t < s->n_topics; t++)
			if (!s->topics[t] || !s->topics[t][0])
				abort();
	}
	if (cfg->policy.denytapir.enabled && !cfg->policy.denytapir.tags)
		abort();
	for (int b = 0; b < 32; b++)
		if (cfg->tag_names[b] &&
			tapir_config_tag_bit(cfg, cfg->tag_names[b]) != b)
			abort();
	if (tapir_name_canon(cfg->answer.soa_mname,
		    strlen(cfg->answer.soa_mname), 0, canon, NULL, NULL,
		    NULL) != 0 ||
		strcmp(canon, cfg->answer.soa_mname) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapir_error err;
	struct tapir_config *cfg;

	cfg = tapir_config_parse((const char *)data, size, "fuzz.yaml", &err);
	if (cfg)
		check_config(cfg);
	else if (strncmp(err.text, "fuzz.yaml", 9) != 0 || err.line < 0 ||
		 !memchr(err.text, '\0', sizeof(err.text)))
		abort();
	tapir_config_destroy(cfg);
	return 0;
}
