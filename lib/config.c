/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration file: YAML, read with libyaml's document API into a
 * struct tapir_config. Strict on purpose: an unknown or repeated key, a
 * wrong type or a value out of range is an error naming file, line and
 * dotted key, because a typo in a policy file must not silently turn a rule
 * off. The parser never opens the files the config names (keys, TLS files):
 * the engine does, so a missing key file is its error, not a parse error.
 *
 * The walk has a fixed depth (top level, section, rule, list item) and
 * never follows a node by recursion, so anchors and aliases, which libyaml
 * turns into shared and even cyclic references, cannot make it loop. Top
 * level sections are collected first and processed in a fixed order ("tags"
 * before "policy", "sources" before "policy"), so the order of sections in
 * the file does not matter.
 *
 * This file: the public API (parse, load, destroy, look-ups), the top
 * level and the small sections (mqtt, answer, limits, control, logging,
 * core-status). The rest, by what it reads:
 *   config_yaml.c      the strict walker: keys, types, ranges, file:line
 *   config_sources.c   sources:
 *   config_policy.c    policy: and tags:
 *   config_upstream.c  upstream: the upstream POP's own files
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <yaml.h>

#include "lib/config.h"
#include "lib/config_impl.h"
#include "lib/fileio.h"

#define CONFIG_MAX_SIZE (1024 * 1024) /* a config is a few KiB */
#define CLIENT_ID_MAX	256

/*
 * "mqtt://host[:port]" or "mqtts://host[:port]", host a name, an IPv4
 * address or a bracketed IPv6 address. Nothing else: a path, user info or
 * query would be ignored by libmosquitto, so they are refused here.
 */
static int
broker_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	char ex[EXCERPT_MAX + 4], addr[INET6_ADDRSTRLEN + 1];
	struct in6_addr in6;
	const char *s, *host, *rest;
	size_t len, hlen;
	unsigned long port;
	bool tls;
	int rc;

	(void)f;
	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!strncasecmp(s, "mqtt://", 7)) {
		tls = false;
		port = 1883;
		host = s + 7;
	} else if (!strncasecmp(s, "mqtts://", 8)) {
		tls = true;
		port = 8883;
		host = s + 8;
	} else {
		goto out_bad;
	}
	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		if (!end || (hlen = (size_t)(end - host - 1)) == 0 ||
			hlen >= sizeof(addr))
			goto out_bad;
		memcpy(addr, host + 1, hlen);
		addr[hlen] = '\0';
		if (inet_pton(AF_INET6, addr, &in6) != 1)
			goto out_bad;
		host++;
		rest = end + 1;
	} else {
		hlen = strcspn(host, ":");
		if (!tapir__cfg_valid_ident(
			    host, hlen, TAPIR_NAME_BUFSIZE - 3) ||
			host[0] == '.' || host[0] == '-')
			goto out_bad;
		rest = host + hlen;
	}
	if (rest[0] == ':') {
		const char *d = rest + 1;

		port = 0;
		if (!*d || strlen(d) > 5 ||
			!tapir__cfg_all_digits(d, strlen(d)))
			goto out_bad;
		for (; *d; d++)
			port = port * 10 + (unsigned long)(*d - '0');
		if (port < 1 || port > 65535)
			goto out_bad;
	} else if (rest[0] != '\0') {
		goto out_bad;
	}
	free(cfg->mqtt.host);
	if (!(cfg->mqtt.host = strndup(host, hlen)))
		return tapir__cfg_nomem(p);
	cfg->mqtt.port = (int)port;
	cfg->mqtt.tls = tls;
	return 0;

out_bad:
	return tapir__cfg_fail(p, v, key,
		"'%s' is not mqtt://host[:port] or mqtts://host[:port]",
		tapir__cfg_excerpt(ex, s, len));
}

static int
protocol_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	(void)f;
	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!strcasecmp(s, "auto"))
		cfg->mqtt.protocol = TAPIR_MQTT_AUTO;
	else if (!strcmp(s, "5"))
		cfg->mqtt.protocol = TAPIR_MQTT_V5;
	else if (!strcmp(s, "3.1.1") || !strcmp(s, "311"))
		cfg->mqtt.protocol = TAPIR_MQTT_V311;
	else
		return tapir__cfg_fail(p, v, key,
			"must be auto, 5 or 3.1.1, not '%s'",
			tapir__cfg_excerpt(ex, s, len));
	return 0;
}

/*
 * A file mode, read as octal whatever its form: 0660 (which YAML 1.1 reads
 * as octal and YAML 1.2 as decimal), "0660", 0o660 or 660. Set-id and
 * sticky bits mean nothing on a socket and are refused.
 */
static int
mode_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len, i = 0;
	unsigned mode = 0;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (len >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		i = 2;
	if (i == len || len - i > 4)
		goto out_bad;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			goto out_bad;
		mode = mode * 8 + (unsigned)(s[i] - '0');
	}
	if (mode > 0777)
		goto out_bad;
	*(unsigned *)((char *)base + f->off) = mode;
	return 0;

out_bad:
	return tapir__cfg_fail(p, v, key,
		"must be an octal mode from 0 to 0777 such as 0660, not '%s'",
		tapir__cfg_excerpt(ex, s, len));
}

static int
socket_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (len > max)
		return tapir__cfg_fail(p, v, key,
			"longer than %zu bytes, the limit for a Unix socket",
			max);
	return tapir__cfg_str_field(p, v, key, f, base);
}

static const struct field mqtt_fields[] = {
	{ .name = "broker", .fn = broker_field, .flags = F_REQUIRED },
	{ .name = "client-id",
		.fn = tapir__cfg_str_field,
		.off = CFG(mqtt.client_id) },
	{ .name = "ca-file",
		.fn = tapir__cfg_str_field,
		.off = CFG(mqtt.ca_file) },
	{ .name = "cert-file",
		.fn = tapir__cfg_str_field,
		.off = CFG(mqtt.cert_file) },
	{ .name = "key-file",
		.fn = tapir__cfg_str_field,
		.off = CFG(mqtt.key_file) },
	{ .name = "keepalive",
		.fn = tapir__cfg_int_field,
		.off = CFG(mqtt.keepalive),
		.type = INT_INT,
		.min = 5,
		.max = 3600 },
	{ .name = "protocol", .fn = protocol_field },
	{ .name = "reconnect-min",
		.fn = tapir__cfg_int_field,
		.off = CFG(mqtt.reconnect_min),
		.type = INT_INT,
		.min = 1,
		.max = 86400 },
	{ .name = "reconnect-max",
		.fn = tapir__cfg_int_field,
		.off = CFG(mqtt.reconnect_max),
		.type = INT_INT,
		.min = 1,
		.max = 86400 },
	/* Up to a day, the default limits.max-message-age: what a broker
	 * keeps longer would mostly be refused as too old. */
	{ .name = "session-expiry",
		.fn = tapir__cfg_int_field,
		.off = CFG(mqtt.session_expiry),
		.type = INT_INT,
		.min = 0,
		.max = 86400 },
};

enum {
	M_BROKER,
	M_CLIENT_ID,
	M_CA_FILE,
	M_CERT_FILE,
	M_KEY_FILE,
	M_KEEPALIVE,
	M_PROTOCOL,
	M_RECONNECT_MIN,
	M_RECONNECT_MAX,
	M_SESSION_EXPIRY,
};

static int
mqtt_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	yaml_node_t *nodes[NODES_MAX];
	const char *tls_key = NULL;
	yaml_node_t *tls_node = NULL;
	char k[KEY_MAX];
	size_t len;
	int rc;

	(void)f;
	if ((rc = tapir__cfg_walk_map(p, v, key, mqtt_fields,
		     ARRAY_SIZE(mqtt_fields), cfg, true, nodes)) != 0)
		return rc;
	if (cfg->mqtt.client_id) {
		len = strlen(cfg->mqtt.client_id);
		if (len > CLIENT_ID_MAX) {
			tapir__cfg_make_key(k, key, "client-id");
			return tapir__cfg_fail(p, nodes[M_CLIENT_ID], k,
				"longer than %d bytes", CLIENT_ID_MAX);
		}
	}
	/* A certificate is useless without its key and the other way round;
	 * libmosquitto would only fail at connect time. */
	if (cfg->mqtt.cert_file && !cfg->mqtt.key_file) {
		tapir__cfg_make_key(k, key, "key-file");
		return tapir__cfg_fail(p, nodes[M_CERT_FILE], k,
			"missing (required with cert-file)");
	}
	if (cfg->mqtt.key_file && !cfg->mqtt.cert_file) {
		tapir__cfg_make_key(k, key, "cert-file");
		return tapir__cfg_fail(p, nodes[M_KEY_FILE], k,
			"missing (required with key-file)");
	}
	/* TLS files with mqtt:// would either be ignored or quietly turn TLS
	 * on: refuse, so the URL says what happens. */
	if (cfg->mqtt.ca_file) {
		tls_key = "ca-file";
		tls_node = nodes[M_CA_FILE];
	} else if (cfg->mqtt.cert_file) {
		tls_key = "cert-file";
		tls_node = nodes[M_CERT_FILE];
	}
	if (tls_key && !cfg->mqtt.tls) {
		tapir__cfg_make_key(k, key, tls_key);
		return tapir__cfg_fail(
			p, tls_node, k, "needs an mqtts:// broker");
	}
	if (cfg->mqtt.reconnect_min > cfg->mqtt.reconnect_max) {
		tapir__cfg_make_key(k, key, "reconnect-max");
		return tapir__cfg_fail(p,
			nodes[M_RECONNECT_MAX] ? nodes[M_RECONNECT_MAX]
					       : nodes[M_RECONNECT_MIN],
			k, "%d is less than reconnect-min (%d)",
			cfg->mqtt.reconnect_max, cfg->mqtt.reconnect_min);
	}
	return 0;
}

static int
redirect_addr(struct parser *p, yaml_node_t *item, const char *ikey,
	const char *s, size_t len, size_t i, void *ctx)
{
	struct tapir_config *cfg = p->cfg;
	bool six = *(bool *)ctx;
	char ex[EXCERPT_MAX + 4];
	void *dst = six ? (void *)cfg->answer.redirect_aaaa[i]
			: (void *)cfg->answer.redirect_a[i];

	if (inet_pton(six ? AF_INET6 : AF_INET, s, dst) != 1)
		return tapir__cfg_fail(p, item, ikey,
			"'%s' is not an %s address",
			tapir__cfg_excerpt(ex, s, len), six ? "IPv6" : "IPv4");
	return 0;
}

/* redirect-a / redirect-aaaa: one address or a list of them. */
static int
redirect_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	bool six = f->type != 0;

	return tapir__cfg_each_text(p, v, key, "must list 1 to 8 addresses",
		TAPIR_MAX_REDIRECT, redirect_addr, &six,
		six ? &cfg->answer.n_redirect_aaaa : &cfg->answer.n_redirect_a);
}

static const struct field answer_fields[] = {
	{ .name = "negative-ttl",
		.fn = tapir__cfg_int_field,
		.off = CFG(answer.negative_ttl),
		.type = INT_U32,
		.min = 0,
		.max = 86400 },
	{ .name = "soa-mname",
		.fn = tapir__cfg_dname_field,
		.off = CFG(answer.soa_mname) },
	{ .name = "soa-rname",
		.fn = tapir__cfg_dname_field,
		.off = CFG(answer.soa_rname) },
	{ .name = "redirect-a", .fn = redirect_field },
	{ .name = "redirect-aaaa", .fn = redirect_field, .type = 1 },
	{ .name = "redirect-cname",
		.fn = tapir__cfg_dname_field,
		.off = CFG(answer.redirect_cname) },
	{ .name = "cache-blocked",
		.fn = tapir__cfg_bool_field,
		.off = CFG(answer.cache_blocked) },
};

static const struct field limits_fields[] = {
	{ .name = "max-message-size",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.max_message_size),
		.type = INT_SIZE,
		.min = 512,
		.max = 1048576 },
	{ .name = "max-entries",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.max_entries),
		.type = INT_SIZE,
		.min = 1,
		.max = 1000000000 },
	{ .name = "queue-length",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.queue_length),
		.type = INT_SIZE,
		.min = 1,
		.max = 1000000 },
	{ .name = "queue-bytes",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.queue_bytes),
		.type = INT_SIZE,
		.min = 1048576,
		.max = 16LL << 30 },
	{ .name = "max-message-age",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.max_message_age),
		.type = INT_UINT,
		.min = 0,
		.max = 31536000 },
	{ .name = "max-message-ahead",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.max_message_ahead),
		.type = INT_UINT,
		.min = 0,
		.max = 86400 },
	{ .name = "max-transfer-size",
		.fn = tapir__cfg_int_field,
		.off = CFG(limits.max_transfer_size),
		.type = INT_SIZE,
		.min = 65536,
		.max = 64LL << 30 },
};

static const struct field control_fields[] = {
	{ .name = "socket", .fn = socket_field, .off = CFG(control.socket) },
	{ .name = "mode", .fn = mode_field, .off = CFG(control.mode) },
	{ .name = "group",
		.fn = tapir__cfg_str_field,
		.off = CFG(control.group) },
	{ .name = "owner",
		.fn = tapir__cfg_str_field,
		.off = CFG(control.owner) },
};

static const struct field core_status_fields[] = {
	{ .name = "topic",
		.fn = tapir__cfg_str_field,
		.off = CFG(core_status.topic),
		.flags = F_REQUIRED },
	{ .name = "interval",
		.fn = tapir__cfg_int_field,
		.off = CFG(core_status.interval),
		.type = INT_UINT,
		.min = 10,
		.max = 86400 },
	{ .name = "signing-key",
		.fn = tapir__cfg_str_field,
		.off = CFG(core_status.key_file),
		.flags = F_REQUIRED },
};

/* node_exporter's textfile collector reads only files named *.prom: any
 * other name would be written and never scraped. */
static int
textfile_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (len < 6 || strncmp(s + len - 5, ".prom", 5) != 0 ||
		s[len - 6] == '/')
		return tapir__cfg_fail(p, v, key,
			"must name a file ending in .prom (the only files node_exporter's textfile collector reads)");
	return tapir__cfg_str_field(p, v, key, f, base);
}

static const struct field metrics_fields[] = {
	{ .name = "textfile",
		.fn = textfile_field,
		.off = CFG(metrics.textfile),
		.flags = F_REQUIRED },
	{ .name = "interval",
		.fn = tapir__cfg_int_field,
		.off = CFG(metrics.interval),
		.type = INT_UINT,
		.min = 1,
		.max = 3600 },
};

static const struct field logging_fields[] = {
	{ .name = "blocked-queries",
		.fn = tapir__cfg_bool_field,
		.off = CFG(logging.blocked) },
	{ .name = "client-address",
		.fn = tapir__cfg_bool_field,
		.off = CFG(logging.client) },
};

/* In processing order: tags before policy, sources before policy. */
static const struct field top_fields[] = {
	{ .name = "tags", .fn = tapir__cfg_tags_section },
	/* Required with an MQTT source: check_mqtt_needed(). */
	{ .name = "mqtt", .fn = mqtt_section, SUB(mqtt_fields) },
	{ .name = "keys", .fn = tapir__cfg_str_field, .off = CFG(keys_file) },
	{ .name = "sources",
		.fn = tapir__cfg_sources_section,
		.table = tapir__cfg_sources_table },
	/* After sources (adds to them), before policy (may provide it). */
	{ .name = "upstream",
		.fn = tapir__cfg_upstream_section,
		.table = tapir__cfg_upstream_table },
	{ .name = "policy",
		.fn = tapir__cfg_policy_section,
		.table = tapir__cfg_policy_table },
	{ .name = "answer", .fn = tapir__cfg_map_field, SUB(answer_fields) },
	{ .name = "limits", .fn = tapir__cfg_map_field, SUB(limits_fields) },
	{ .name = "control", .fn = tapir__cfg_map_field, SUB(control_fields) },
	{ .name = "logging", .fn = tapir__cfg_map_field, SUB(logging_fields) },
	{ .name = "state-dir",
		.fn = tapir__cfg_str_field,
		.off = CFG(state_dir) },
	{ .name = "core-status",
		.fn = tapir__cfg_map_field,
		SUB(core_status_fields) },
	{ .name = "metrics", .fn = tapir__cfg_map_field, SUB(metrics_fields) },
};

_Static_assert(ARRAY_SIZE(top_fields) <= NODES_MAX, "top level too big");

_Static_assert(ARRAY_SIZE(mqtt_fields) <= NODES_MAX, "mqtt too big");

static void
set_defaults(struct tapir_config *cfg)
{
	cfg->mqtt.keepalive = 30;
	cfg->mqtt.protocol = TAPIR_MQTT_AUTO;
	cfg->mqtt.reconnect_min = 1;
	cfg->mqtt.reconnect_max = 60;
	/* An hour: the core's observations live about that long (ttl 3607
	 * s), so a resolver away longer finds most of them expired anyway;
	 * and the broker holds at most an hour of the feed per resolver. */
	cfg->mqtt.session_expiry = 3600;
	cfg->policy.denylist_action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.numsources.action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.numtapirtags.action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.denytapir.action = TAPIR_ACTION_NXDOMAIN;
	snprintf(cfg->policy.tapir_source, sizeof(cfg->policy.tapir_source),
		"%s", "dns-tapir");
	cfg->answer.negative_ttl = 60;
	/* Blocked names then cost what cached answers cost: the mesh each
	 * uncached query goes through is most of a block answer's price. */
	cfg->answer.cache_blocked = true;
	snprintf(cfg->answer.soa_mname, sizeof(cfg->answer.soa_mname), "%s",
		"tapir-pop.invalid");
	snprintf(cfg->answer.soa_rname, sizeof(cfg->answer.soa_rname), "%s",
		"hostmaster.tapir-pop.invalid");
	cfg->limits.max_message_size = 65536;
	cfg->limits.max_entries = 10000000;
	cfg->limits.queue_length = 10000;
	cfg->limits.queue_bytes = (size_t)64 << 20;
	cfg->limits.max_message_age = 86400;
	cfg->limits.max_message_ahead = 300;
	cfg->limits.max_transfer_size = (size_t)512 << 20;
	cfg->control.mode = 0660;
	cfg->core_status.interval = 60;
	cfg->metrics.interval = 15;
}

/* "tapir-pop-<hostname>": distinct per resolver, so that two resolvers on
 * one broker do not keep disconnecting each other. */
static int
default_client_id(struct parser *p)
{
	char host[256] = "", id[sizeof(host) + 16];

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	snprintf(id, sizeof(id), "tapir-pop%s%s", host[0] ? "-" : "", host);
	if (!(p->cfg->mqtt.client_id = strdup(id)))
		return tapir__cfg_nomem(p);
	return 0;
}

/*
 * mqtt: and keys: serve the MQTT sources, and core-status, which publishes
 * through the broker: a resolver fed only by files and zone transfers needs
 * neither. After every section, since upstream.sources may add MQTT
 * sources.
 */
static int
check_mqtt_needed(struct parser *p)
{
	const struct tapir_config *cfg = p->cfg;
	const char *src = NULL;

	for (size_t i = 0; i < cfg->n_sources && !src; i++)
		if (cfg->sources[i].type == TAPIR_SOURCE_MQTT)
			src = cfg->sources[i].name;
	if (src && !cfg->mqtt.host)
		return tapir__cfg_fail(p, NULL, "mqtt",
			"missing (required: source '%s' is an mqtt source)",
			src);
	if (src && !cfg->keys_file)
		return tapir__cfg_fail(p, NULL, "keys",
			"missing (required: source '%s' is an mqtt source)",
			src);
	if (cfg->core_status.topic && !cfg->mqtt.host)
		return tapir__cfg_fail(
			p, NULL, "mqtt", "missing (required by core-status)");
	return 0;
}

static int
walk_root(struct parser *p)
{
	yaml_node_t *nodes[NODES_MAX];
	int rc;

	/* Nothing but comments, or a truncated file: no "mqtt:" to miss any
	 * more, but surely not what was meant. */
	p->root = yaml_document_get_root_node(p->doc);
	if (!p->root || tapir__cfg_is_null(p->root))
		return tapir__cfg_fail(
			p, NULL, NULL, "the configuration is empty");
	if ((rc = tapir__cfg_walk_map(p, p->root, "", top_fields,
		     ARRAY_SIZE(top_fields), p->cfg, false, nodes)) != 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(top_fields); i++) {
		const struct field *f = &top_fields[i];

		if (nodes[i] &&
			(rc = f->fn(p, nodes[i], f->name, f, p->cfg)) != 0)
			return rc;
		/* Before policy: denytapir's names resolve against these. */
		if (f->fn == tapir__cfg_tags_section &&
			(rc = tapir__cfg_fill_tag_names(p)) != 0)
			return rc;
	}
	if ((rc = check_mqtt_needed(p)) != 0)
		return rc;
	if (!p->cfg->mqtt.client_id)
		return default_client_id(p);
	return 0;
}

struct tapir_config *
tapir_config_parse(
	const char *buf, size_t len, const char *name, struct tapir_error *err)
{
	struct parser p = { .name = tapir__cfg_shown_name(name), .err = err };
	struct tapir_config *cfg;
	yaml_parser_t yp;
	yaml_document_t doc;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!buf && len) {
		tapir_error_set(err, TAPIR_EINVAL, 0, "%s: no buffer", p.name);
		return NULL;
	}
	if (len > CONFIG_MAX_SIZE) {
		tapir_error_set(err, TAPIR_ETOOBIG, 0,
			"%s: larger than %d bytes", p.name, CONFIG_MAX_SIZE);
		return NULL;
	}
	if (!(cfg = calloc(1, sizeof(*cfg)))) {
		tapir__cfg_nomem(&p);
		return NULL;
	}
	p.cfg = cfg;
	set_defaults(cfg);
	if (name && !(cfg->path = strdup(name))) {
		rc = tapir__cfg_nomem(&p);
		goto out_destroy;
	}
	if (!yaml_parser_initialize(&yp)) {
		rc = tapir__cfg_nomem(&p);
		goto out_destroy;
	}
	yaml_parser_set_input_string(
		&yp, (const unsigned char *)(buf ? buf : ""), len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = tapir__cfg_syntax_fail(&p, &yp, buf, len);
		goto out_parser;
	}
	p.doc = &doc;
	if ((rc = tapir__cfg_check_one_document(&p, &yp, buf, len)) == 0)
		rc = walk_root(&p);
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&yp);
out_destroy:
	if (rc != 0) {
		tapir_config_destroy(cfg);
		return NULL;
	}
	return cfg;
}

/* A whole configuration file into *buf (malloc'd), at most
 * CONFIG_MAX_SIZE bytes, with errors that name the file as the
 * configuration's other messages do. */
int
tapir__cfg_read_config_file(
	const char *path, char **out, size_t *out_len, struct tapir_error *err)
{
	struct tapir_error e = { 0 };
	size_t plen = strlen(path);
	const char *why = e.text;
	int rc;

	if ((rc = tapir_fileio_read(
		     path, CONFIG_MAX_SIZE, 0, out, out_len, &e)) == 0)
		return 0;
	if (!strncmp(e.text, path, plen) && !strncmp(e.text + plen, ": ", 2))
		why = e.text + plen + 2;
	/* "cannot open" and "no such file" are one failure here. */
	return tapir_error_set(err, rc == TAPIR_ENOENT ? TAPIR_EIO : rc, 0,
		"%s: %s", tapir__cfg_shown_name(path), why);
}

struct tapir_config *
tapir_config_load(const char *path, struct tapir_error *err)
{
	struct tapir_config *cfg;
	size_t len;
	char *buf;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!path) {
		tapir_error_set(err, TAPIR_EINVAL, 0, "no configuration file");
		return NULL;
	}
	if (tapir__cfg_read_config_file(path, &buf, &len, err) != 0)
		return NULL;
	cfg = tapir_config_parse(buf, len, path, err);
	free(buf);
	return cfg;
}

void
tapir_config_destroy(struct tapir_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->mqtt.host);
	free(cfg->mqtt.client_id);
	free(cfg->mqtt.ca_file);
	free(cfg->mqtt.cert_file);
	free(cfg->mqtt.key_file);
	free(cfg->keys_file);
	for (size_t i = 0; i < cfg->n_sources; i++) {
		for (size_t j = 0; j < cfg->sources[i].n_topics; j++)
			free(cfg->sources[i].topics[j]);
		free(cfg->sources[i].path);
		free(cfg->sources[i].primary);
		free(cfg->sources[i].tsig_alg);
		free(cfg->sources[i].tsig_secret);
	}
	for (size_t i = 0; i < 32; i++)
		free(cfg->tag_names[i]);
	free(cfg->control.socket);
	free(cfg->control.group);
	free(cfg->control.owner);
	free(cfg->core_status.topic);
	free(cfg->core_status.key_file);
	free(cfg->metrics.textfile);
	free(cfg->state_dir);
	free(cfg);
}

/* The keys of one table under prefix; the tables nest four deep at most
 * (policy.doubtlist.numsources.limit), depth only guards a cycle. */
static void
list_table(const char *prefix, const struct field *fields, size_t n,
	tapir_config_key_fn fn, void *arg, int depth)
{
	char key[KEY_MAX];

	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		const struct field *sub = f->sub;
		size_t n_sub = f->n_sub;

		tapir__cfg_make_key(key, prefix, f->name);
		if (!sub && f->table)
			sub = f->table(&n_sub);
		if (sub && depth < 8)
			list_table(key, sub, n_sub, fn, arg, depth + 1);
		else
			fn(key, arg);
	}
}

void
tapir_config_list_keys(tapir_config_key_fn fn, void *arg)
{
	list_table("", top_fields, ARRAY_SIZE(top_fields), fn, arg, 0);
}

int
tapir_config_source_index(const struct tapir_config *cfg, const char *name)
{
	if (!cfg || !name)
		return -1;
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (!strcmp(cfg->sources[i].name, name))
			return (int)i;
	return -1;
}
