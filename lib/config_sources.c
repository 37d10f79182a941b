/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "sources:" section of the configuration (lib/config.c): mqtt, file
 * and xfr sources, the checks between their keys, and their defaults.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "lib/config.h"
#include "lib/config_impl.h"

/*
 * A field whose value is one word of a vocabulary: from_str maps it to a
 * value >= 0, or < 0 with "must be WHAT, not '...'" as the error.
 */
static int
word_field(struct parser *p, yaml_node_t *v, const char *key,
	int (*from_str)(const char *), const char *what, int *out)
{
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc, value;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if ((value = from_str(s)) < 0)
		return tapir__cfg_fail(p, v, key, "must be %s, not '%s'", what,
			tapir__cfg_excerpt(ex, s, len));
	*out = value;
	return 0;
}

int
tapir__cfg_list_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	int list = 0, rc;

	(void)f;
	rc = word_field(p, v, key, tapir_list_from_str,
		"allowlist, denylist or doubtlist", &list);
	if (rc == 0)
		src->list = (enum tapir_list)list;
	return rc;
}

static int
type_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	int type = 0, rc;

	(void)f;
	rc = word_field(p, v, key, tapir_source_type_from_str,
		"mqtt, file or xfr", &type);
	if (rc == 0)
		src->type = (enum tapir_source_type)type;
	return rc;
}

/*
 * Why s is not a valid MQTT subscription filter (MQTT 5.0 4.7), or NULL.
 * '#' must be a whole level and the last one; '+' a whole level.
 */
static const char *
filter_problem(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return "empty";
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && s[i] != '/')
			continue;
		n = i - start;
		if (memchr(s + start, '#', n) && (n != 1 || i != len))
			return "'#' must be the whole last level";
		if (memchr(s + start, '+', n) && n != 1)
			return "'+' must be a whole level";
		start = i + 1;
	}
	return NULL;
}

int
tapir__cfg_add_topic(struct parser *p, yaml_node_t *v, const char *key,
	struct tapir_source_config *src)
{
	char ex[EXCERPT_MAX + 4];
	const char *s, *why;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if ((why = filter_problem(s, len)))
		return tapir__cfg_fail(p, v, key,
			"'%s' is not a valid topic filter: %s",
			tapir__cfg_excerpt(ex, s, len), why);
	if (src->n_topics >= TAPIR_MAX_TOPICS)
		return tapir__cfg_fail(
			p, v, key, "more than %d topics", TAPIR_MAX_TOPICS);
	if (!(src->topics[src->n_topics] = strdup(s)))
		return tapir__cfg_nomem(p);
	src->n_topics++;
	return 0;
}

/* One topic filter, or a list of 1..TAPIR_MAX_TOPICS. */
static int
topics_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	char ikey[KEY_MAX];
	size_t n;
	int rc;

	(void)f;
	if (v->type != YAML_SEQUENCE_NODE) {
		if (v->type == YAML_MAPPING_NODE || tapir__cfg_is_null(v))
			return tapir__cfg_fail(p, v, key,
				"must be a topic filter or a list of them");
		return tapir__cfg_add_topic(p, v, key, src);
	}
	if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
		return rc;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 || n > TAPIR_MAX_TOPICS)
		return tapir__cfg_fail(p, v, key,
			"must list 1 to %d topic filters", TAPIR_MAX_TOPICS);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			tapir__cfg_get_node(p, v->data.sequence.items.start[i]);

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		if (!item)
			return tapir__cfg_fail(p, v, ikey, "malformed list");
		if ((rc = tapir__cfg_add_topic(p, item, ikey, src)) != 0)
			return rc;
	}
	return 0;
}

static int
format_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;

	(void)f;
	return word_field(p, v, key, tapir__file_format_from_str_icase,
		"domains, hosts, csv or rpz", &src->format);
}

static int
delim_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	const char *s;
	size_t len;
	int rc;

	(void)f;
	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (len != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r')
		return tapir__cfg_fail(p, v, key,
			"must be one character other than a quote or newline");
	src->csv_delim = s[0];
	return 0;
}

/* An IPv4 or IPv6 literal: transfers go to one primary, never a name that
 * would need a resolver (which may be this one). */
static int
ip_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (inet_pton(AF_INET, s, addr) != 1 &&
		inet_pton(AF_INET6, s, addr) != 1)
		return tapir__cfg_fail(p, v, key,
			"'%s' is not an IPv4 or IPv6 address",
			tapir__cfg_excerpt(ex, s, len));
	return tapir__cfg_str_field(p, v, key, f, base);
}

static const char *const tsig_algs[] = { "hmac-md5", "hmac-sha1", "hmac-sha224",
	"hmac-sha256", "hmac-sha384", "hmac-sha512" };

static int
tsig_alg_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(tsig_algs); i++)
		if (!strcasecmp(s, tsig_algs[i]))
			return tapir__cfg_str_field(p, v, key, f, base);
	return tapir__cfg_fail(p, v, key,
		"must be hmac-sha256 (or hmac-sha512, -sha384, -sha224, -sha1, -md5), not '%s'",
		tapir__cfg_excerpt(ex, s, len));
}

/* Base64 text, as knot_tsig_key_init() takes it; the key itself is only
 * built when a transfer starts, so its errors are caught here. */
static bool
is_base64(const char *s, size_t len)
{
	size_t pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad ||
			!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				(c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

static int
tsig_secret_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!is_base64(s, len))
		return tapir__cfg_fail(p, v, key, "not a base64 TSIG secret");
	return tapir__cfg_str_field(p, v, key, f, base);
}

/* The secret read now, so that a missing file is a configuration error and
 * the transfer thread never touches the file system. Surrounding blanks
 * and line ends are dropped. */
static int
tsig_secret_file_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	struct tapir_error ferr = { 0 };
	const char *s, *b;
	size_t len, n;
	char *buf;
	int rc;

	(void)f;
	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (tapir__cfg_read_config_file(s, &buf, &len, &ferr) != 0)
		return tapir__cfg_fail(p, v, key, "%s", ferr.text);
	for (b = buf, n = len; n && strchr(" \t\r\n", *b) && *b; b++, n--)
		;
	while (n && strchr(" \t\r\n", b[n - 1]) && b[n - 1])
		n--;
	if (!is_base64(b, n)) {
		free(buf);
		return tapir__cfg_fail(
			p, v, key, "%s does not hold a base64 TSIG secret", s);
	}
	free(src->tsig_secret);
	src->tsig_secret = strndup(b, n);
	free(buf);
	if (!src->tsig_secret)
		return tapir__cfg_nomem(p);
	return 0;
}

static const struct field source_fields[] = {
	{ .name = "name",
		.fn = tapir__cfg_ident_field,
		.off = SRC(name),
		.flags = F_REQUIRED },
	{ .name = "type", .fn = type_field },
	{ .name = "list", .fn = tapir__cfg_list_field, .flags = F_REQUIRED },
	{ .name = "topics", .fn = topics_field },
	{ .name = "qos",
		.fn = tapir__cfg_int_field,
		.off = SRC(qos),
		.type = INT_INT,
		.min = 0,
		.max = 2 },
	{ .name = "path", .fn = tapir__cfg_str_field, .off = SRC(path) },
	{ .name = "format", .fn = format_field },
	{ .name = "csv-column",
		.fn = tapir__cfg_int_field,
		.off = SRC(csv_column),
		.type = INT_UINT,
		.min = 1,
		.max = 1000 },
	{ .name = "csv-header",
		.fn = tapir__cfg_bool_field,
		.off = SRC(csv_header) },
	{ .name = "csv-delimiter", .fn = delim_field },
	{ .name = "origin", .fn = tapir__cfg_dname_field, .off = SRC(origin) },
	{ .name = "refresh",
		.fn = tapir__cfg_int_field,
		.off = SRC(refresh),
		.type = INT_UINT,
		.min = 1,
		.max = 86400 },
	{ .name = "max-size",
		.fn = tapir__cfg_int_field,
		.off = SRC(max_size),
		.type = INT_SIZE,
		.min = 1,
		.max = 4LL << 30 },
	{ .name = "max-shrink",
		.fn = tapir__cfg_int_field,
		.off = SRC(max_shrink),
		.type = INT_UINT,
		.min = 1,
		.max = 100 },
	{ .name = "primary", .fn = ip_field, .off = SRC(primary) },
	{ .name = "port",
		.fn = tapir__cfg_int_field,
		.off = SRC(port),
		.type = INT_INT,
		.min = 1,
		.max = 65535 },
	{ .name = "zone", .fn = tapir__cfg_dname_field, .off = SRC(zone) },
	{ .name = "tsig-name",
		.fn = tapir__cfg_dname_field,
		.off = SRC(tsig_name) },
	{ .name = "tsig-algorithm",
		.fn = tsig_alg_field,
		.off = SRC(tsig_alg) },
	{ .name = "tsig-secret",
		.fn = tsig_secret_field,
		.off = SRC(tsig_secret) },
	{ .name = "tsig-secret-file", .fn = tsig_secret_file_field },
	{ .name = "timeout",
		.fn = tapir__cfg_int_field,
		.off = SRC(timeout),
		.type = INT_UINT,
		.min = 1,
		.max = 3600 },
	{ .name = "log-only",
		.fn = tapir__cfg_bool_field,
		.off = SRC(log_only) },
};

enum {
	S_NAME,
	S_TYPE,
	S_LIST,
	S_TOPICS,
	S_QOS,
	S_PATH,
	S_FORMAT,
	S_CSV_COLUMN,
	S_CSV_HEADER,
	S_CSV_DELIMITER,
	S_ORIGIN,
	S_REFRESH,
	S_MAX_SIZE,
	S_MAX_SHRINK,
	S_PRIMARY,
	S_PORT,
	S_ZONE,
	S_TSIG_NAME,
	S_TSIG_ALGORITHM,
	S_TSIG_SECRET,
	S_TSIG_SECRET_FILE,
	S_TIMEOUT,
	S_LOG_ONLY,
};

/* What an xfr source needs, and its defaults. */
static int
check_xfr(struct parser *p, yaml_node_t *item, const char *ikey,
	struct tapir_source_config *src, yaml_node_t **nodes)
{
	char k[KEY_MAX];

	if (src->type != TAPIR_SOURCE_XFR)
		return 0;
	if (!src->primary) {
		tapir__cfg_make_key(k, ikey, "primary");
		return tapir__cfg_fail(
			p, item, k, "missing (required for xfr sources)");
	}
	if (!src->zone[0]) {
		tapir__cfg_make_key(k, ikey, "zone");
		return tapir__cfg_fail(
			p, item, k, "missing (required for xfr sources)");
	}
	if (nodes[S_TSIG_SECRET] && nodes[S_TSIG_SECRET_FILE]) {
		tapir__cfg_make_key(k, ikey, "tsig-secret-file");
		return tapir__cfg_fail(p, nodes[S_TSIG_SECRET_FILE], k,
			"give tsig-secret or tsig-secret-file, not both");
	}
	if (src->tsig_name[0] && !src->tsig_secret) {
		tapir__cfg_make_key(k, ikey, "tsig-secret");
		return tapir__cfg_fail(p, item, k,
			"missing (tsig-name needs tsig-secret or tsig-secret-file)");
	}
	if (!src->tsig_name[0] &&
		(src->tsig_secret || nodes[S_TSIG_ALGORITHM])) {
		tapir__cfg_make_key(k, ikey, "tsig-name");
		return tapir__cfg_fail(p, item, k,
			"missing (a TSIG secret or algorithm needs a key name)");
	}
	if (src->tsig_name[0] && !src->tsig_alg &&
		!(src->tsig_alg = strdup("hmac-sha256")))
		return tapir__cfg_nomem(p);
	if (!src->port)
		src->port = 53;
	if (!src->timeout)
		src->timeout = 30;
	return 0;
}

int
tapir__cfg_sources_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	yaml_node_t *nodes[NODES_MAX];
	char ikey[KEY_MAX], k[KEY_MAX];
	size_t n;
	int rc;

	(void)f;
	if (tapir__cfg_is_null(v))
		return 0;
	if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SEQUENCE_NODE)
		return tapir__cfg_fail(p, v, key,
			"must be a list of sources, not %s",
			tapir__cfg_node_kind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			tapir__cfg_get_node(p, v->data.sequence.items.start[i]);
		struct tapir_source_config *src;

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		if (!item)
			return tapir__cfg_fail(p, v, ikey, "malformed list");
		if (cfg->n_sources == TAPIR_MAX_SOURCES)
			return tapir__cfg_fail(p, item, key,
				"more than %d sources", TAPIR_MAX_SOURCES);
		/* Counted before it is filled, so that destroy frees the
		 * topics of a source that fails half way. */
		src = &cfg->sources[cfg->n_sources++];
		if ((rc = tapir__cfg_walk_map(p, item, ikey, source_fields,
			     ARRAY_SIZE(source_fields), src, true, nodes)) != 0)
			return rc;
		if (src->type == TAPIR_SOURCE_MQTT && src->n_topics == 0) {
			tapir__cfg_make_key(k, ikey, "topics");
			return tapir__cfg_fail(p, item, k,
				"missing (required for mqtt sources)");
		}
		if (src->type == TAPIR_SOURCE_FILE && !src->path) {
			tapir__cfg_make_key(k, ikey, "path");
			return tapir__cfg_fail(p, item, k,
				"missing (required for file sources)");
		}
		if ((rc = check_xfr(p, item, ikey, src, nodes)) != 0)
			return rc;
		for (int fk = S_PATH; fk <= S_TIMEOUT; fk++) {
			bool xfr_key = fk >= S_PRIMARY;

			if (!nodes[fk] ||
				src->type == (xfr_key ? TAPIR_SOURCE_XFR
						      : TAPIR_SOURCE_FILE))
				continue;
			tapir__cfg_make_key(k, ikey, source_fields[fk].name);
			return tapir__cfg_fail(p, nodes[fk], k,
				"only for %s sources",
				xfr_key ? "xfr" : "file");
		}
		if (src->type != TAPIR_SOURCE_MQTT && nodes[S_TOPICS]) {
			tapir__cfg_make_key(k, ikey, "topics");
			return tapir__cfg_fail(
				p, nodes[S_TOPICS], k, "only for mqtt sources");
		}
		/* QoS 1 unless told otherwise: with the persistent session
		 * (mqtt.session-expiry) the broker keeps what is published
		 * while the module is away and re-sends what it has not
		 * acknowledged; at QoS 0 it keeps nothing. */
		if (src->type == TAPIR_SOURCE_MQTT && !nodes[S_QOS])
			src->qos = 1;
		if (!src->refresh)
			src->refresh = 10;
		if (!src->max_size)
			src->max_size = (size_t)256 << 20;
		if (!src->max_shrink)
			src->max_shrink = 50;
		for (size_t j = 0; j + 1 < cfg->n_sources; j++) {
			if (strcmp(cfg->sources[j].name, src->name) != 0)
				continue;
			tapir__cfg_make_key(k, ikey, "name");
			return tapir__cfg_fail(p, nodes[S_NAME], k,
				"duplicate source name '%s' (also %s[%zu])",
				src->name, key, j);
		}
	}
	return 0;
}

_Static_assert(ARRAY_SIZE(source_fields) <= NODES_MAX, "source too big");

const struct field *
tapir__cfg_sources_table(size_t *n)
{
	*n = ARRAY_SIZE(source_fields);
	return source_fields;
}
