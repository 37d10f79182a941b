/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "upstream:" section of the configuration (lib/config.c): the upstream
 * POP's own pop-sources.yaml and pop-policy.yaml, read unchanged into the
 * same struct tapir_config.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "lib/config.h"
#include "lib/config_impl.h"

/*
 * upstream: the upstream POP's own files, read unchanged.
 *
 *   upstream:
 *     sources: /etc/dnstapir/pop-sources.yaml
 *     policy: /etc/dnstapir/pop-policy.yaml
 *
 * pop-sources.yaml maps a key to each source: {active, name, description,
 * type (the list), format, source (mqtt | file | xfr), topic, filename,
 * upstream, zone, and keys of upstream's own machinery that mean nothing
 * here}. An older shape lists the active keys in "active: [...]" beside
 * them. pop-policy.yaml has this file's policy: shape (plus "logfile",
 * ignored; "allowlist" as the allowlist's action). Errors name the
 * upstream file and its line.
 */
typedef int (*sub_fn)(struct parser *sub, yaml_node_t *root);

static int
load_sub(struct parser *p, yaml_node_t *at, const char *key, const char *path,
	sub_fn fn)
{
	struct parser sub = { .name = tapir__cfg_shown_name(path),
		.err = p->err,
		.cfg = p->cfg,
		.tags_named = p->tags_named,
		.policy_seen = p->policy_seen };
	struct tapir_error ferr = { 0 };
	yaml_parser_t yp;
	yaml_document_t doc;
	size_t len;
	char *buf;
	int rc;

	if ((rc = tapir__cfg_read_config_file(path, &buf, &len, &ferr)) != 0)
		return tapir__cfg_fail(p, at, key, "%s", ferr.text);
	if (!yaml_parser_initialize(&yp)) {
		free(buf);
		return tapir__cfg_nomem(p);
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = tapir__cfg_syntax_fail(&sub, &yp, buf, len);
	} else {
		sub.doc = &doc;
		sub.root = yaml_document_get_root_node(&doc);
		if ((rc = tapir__cfg_check_one_document(&sub, &yp, buf, len)) ==
			0)
			rc = fn(&sub, sub.root);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&yp);
	free(buf);
	p->policy_seen = sub.policy_seen;
	return rc;
}

static const struct field up_source_fields[] = {
	{ .name = "active" },
	{ .name = "name", .flags = F_REQUIRED },
	{ .name = "description" },
	{ .name = "type", .flags = F_REQUIRED },
	{ .name = "format" },
	{ .name = "source", .flags = F_REQUIRED },
	{ .name = "topic" },
	{ .name = "filename" },
	{ .name = "upstream" },
	{ .name = "zone" },
	{ .name = "validatorkey" },
	{ .name = "immutable" },
	{ .name = "bootstrap" },
	{ .name = "bootstrapurl" },
	{ .name = "bootstrapkey" },
};

enum {
	U_ACTIVE,
	U_NAME,
	U_DESCRIPTION,
	U_TYPE,
	U_FORMAT,
	U_SOURCE,
	U_TOPIC,
	U_FILENAME,
	U_UPSTREAM,
	U_ZONE,
};

/* upstream: "192.0.2.1:53", "[2001:db8::1]:53" or a bare address. */
static int
up_xfr(struct parser *p, yaml_node_t *item, const char *ikey,
	yaml_node_t **nodes, struct tapir_source_config *src)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char k[KEY_MAX], ex[EXCERPT_MAX + 4], host[64];
	const char *s, *colon, *h;
	size_t len, hlen;
	long port = 53;
	int rc;

	tapir__cfg_make_key(k, ikey, "upstream");
	if (!nodes[U_UPSTREAM])
		return tapir__cfg_fail(
			p, item, k, "missing (required for xfr sources)");
	if ((rc = tapir__cfg_get_text(p, nodes[U_UPSTREAM], k, &s, &len)) != 0)
		return rc;
	h = s;
	hlen = len;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			goto out_bad;
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		if (colon)
			hlen = (size_t)(colon - s);
	}
	if (colon) {
		char *end;
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || errno || port < 1 || port > 65535)
			goto out_bad;
	}
	if (hlen >= sizeof(host))
		goto out_bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, addr) != 1 &&
		inet_pton(AF_INET6, host, addr) != 1)
		goto out_bad;
	if (!(src->primary = strdup(host)))
		return tapir__cfg_nomem(p);
	src->port = (int)port;
	src->timeout = 30;
	tapir__cfg_make_key(k, ikey, "zone");
	if (!nodes[U_ZONE])
		return tapir__cfg_fail(
			p, item, k, "missing (required for xfr sources)");
	{
		struct field zf = { .off = SRC(zone) };
		return tapir__cfg_dname_field(p, nodes[U_ZONE], k, &zf, src);
	}

out_bad:
	return tapir__cfg_fail(p, nodes[U_UPSTREAM], k,
		"'%s' is not an IP address with an optional :port",
		tapir__cfg_excerpt(ex, s, len));
}

static bool
in_active_list(struct parser *p, yaml_node_t *list, const char *ks, size_t klen)
{
	for (yaml_node_item_t *it = list->data.sequence.items.start;
		it < list->data.sequence.items.top; it++) {
		yaml_node_t *n = tapir__cfg_get_node(p, *it);
		if (n && n->type == YAML_SCALAR_NODE &&
			n->data.scalar.length == klen &&
			!memcmp(tapir__cfg_scalar_text(n), ks, klen))
			return true;
	}
	return false;
}

static int
up_source(struct parser *p, yaml_node_t *item, const char *ikey)
{
	struct tapir_config *cfg = p->cfg;
	yaml_node_t *nodes[NODES_MAX];
	struct tapir_source_config *src;
	char k[KEY_MAX], ex[EXCERPT_MAX + 4];
	bool active = true;
	const char *how, *fmt = NULL;
	size_t len;
	int rc, type, format;

	if ((rc = tapir__cfg_walk_map(p, item, ikey, up_source_fields,
		     ARRAY_SIZE(up_source_fields), NULL, false, nodes)) != 0)
		return rc;
	if (nodes[U_ACTIVE]) {
		struct field bf = { .off = 0 };
		tapir__cfg_make_key(k, ikey, "active");
		if ((rc = tapir__cfg_bool_field(
			     p, nodes[U_ACTIVE], k, &bf, &active)) != 0)
			return rc;
		if (!active)
			return 0;
	}
	if (cfg->n_sources == TAPIR_MAX_SOURCES)
		return tapir__cfg_fail(p, item, ikey, "more than %d sources",
			TAPIR_MAX_SOURCES);
	src = &cfg->sources[cfg->n_sources++];
	tapir__cfg_make_key(k, ikey, "name");
	{
		struct field nf = { .off = SRC(name) };
		if ((rc = tapir__cfg_ident_field(
			     p, nodes[U_NAME], k, &nf, src)) != 0)
			return rc;
	}
	tapir__cfg_make_key(k, ikey, "type");
	if ((rc = tapir__cfg_list_field(p, nodes[U_TYPE], k, NULL, src)) != 0)
		return rc;
	if (nodes[U_FORMAT]) {
		tapir__cfg_make_key(k, ikey, "format");
		if ((rc = tapir__cfg_get_text(
			     p, nodes[U_FORMAT], k, &fmt, &len)) != 0)
			return rc;
	}
	tapir__cfg_make_key(k, ikey, "source");
	if ((rc = tapir__cfg_get_text(p, nodes[U_SOURCE], k, &how, &len)) != 0)
		return rc;
	type = tapir_source_type_from_str(how);
	if (type == TAPIR_SOURCE_MQTT) {
		src->type = TAPIR_SOURCE_MQTT;
		src->qos = 1; /* as sources: (see there) */
		tapir__cfg_make_key(k, ikey, "topic");
		if (!nodes[U_TOPIC])
			return tapir__cfg_fail(p, item, k,
				"missing (required for mqtt sources)");
		if ((rc = tapir__cfg_add_topic(p, nodes[U_TOPIC], k, src)) != 0)
			return rc;
	} else if (type == TAPIR_SOURCE_FILE) {
		src->type = TAPIR_SOURCE_FILE;
		tapir__cfg_make_key(k, ikey, "filename");
		if (!nodes[U_FILENAME])
			return tapir__cfg_fail(p, item, k,
				"missing (required for file sources)");
		{
			struct field pf = { .off = SRC(path) };
			if ((rc = tapir__cfg_str_field(
				     p, nodes[U_FILENAME], k, &pf, src)) != 0)
				return rc;
		}
		tapir__cfg_make_key(k, ikey, "format");
		format = fmt ? tapir_file_format_from_str(fmt)
			     : TAPIR_FORMAT_DOMAINS;
		if (format == TAPIR_FORMAT_DOMAINS) {
			src->format = TAPIR_FORMAT_DOMAINS;
		} else if (format == TAPIR_FORMAT_CSV) {
			/* Upstream's CSV: a header row, the name second. */
			src->format = TAPIR_FORMAT_CSV;
			src->csv_header = true;
			src->csv_column = 2;
		} else {
			return tapir__cfg_fail(p, nodes[U_FORMAT], k,
				"'%s' files are not supported (domains, csv)",
				tapir__cfg_excerpt(ex, fmt, strlen(fmt)));
		}
		src->refresh = 10;
		src->max_size = (size_t)256 << 20;
		src->max_shrink = 50;
	} else if (type == TAPIR_SOURCE_XFR) {
		src->type = TAPIR_SOURCE_XFR;
		if ((rc = up_xfr(p, item, ikey, nodes, src)) != 0)
			return rc;
	} else {
		return tapir__cfg_fail(p, nodes[U_SOURCE], k,
			"must be mqtt, file or xfr, not '%s'",
			tapir__cfg_excerpt(ex, how, len));
	}
	for (size_t j = 0; j + 1 < cfg->n_sources; j++)
		if (!strcmp(cfg->sources[j].name, src->name)) {
			tapir__cfg_make_key(k, ikey, "name");
			return tapir__cfg_fail(p, nodes[U_NAME], k,
				"duplicate source name '%s'", src->name);
		}
	return 0;
}

static int
up_sources_root(struct parser *sub, yaml_node_t *root)
{
	static const struct field f[] = { { .name = "sources",
		.flags = F_REQUIRED } };
	yaml_node_t *nodes[NODES_MAX], *v, *active = NULL;
	char ikey[KEY_MAX], ex[EXCERPT_MAX + 4];
	int rc;

	if ((rc = tapir__cfg_walk_map(
		     sub, root, "", f, 1, NULL, false, nodes)) != 0)
		return rc;
	v = nodes[0];
	if (tapir__cfg_is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return tapir__cfg_fail(sub, v, "sources",
			"must be a mapping of sources, not %s",
			tapir__cfg_node_kind(v));
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = tapir__cfg_get_node(sub, pair->key);
		yaml_node_t *val = tapir__cfg_get_node(sub, pair->value);
		if (k && val && k->type == YAML_SCALAR_NODE &&
			!strcmp(tapir__cfg_scalar_text(k), "active") &&
			val->type == YAML_SEQUENCE_NODE)
			active = val;
	}
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = tapir__cfg_get_node(sub, pair->key);
		yaml_node_t *val = tapir__cfg_get_node(sub, pair->value);
		const char *ks;
		size_t klen;
		if (!k || !val || k->type != YAML_SCALAR_NODE)
			return tapir__cfg_fail(
				sub, v, "sources", "malformed mapping");
		ks = tapir__cfg_scalar_text(k);
		klen = k->data.scalar.length;
		if (val == active)
			continue;
		snprintf(ikey, sizeof(ikey), "sources.%s",
			tapir__cfg_excerpt(ex, ks, klen));
		if (active && !in_active_list(sub, active, ks, klen))
			continue;
		if ((rc = up_source(sub, val, ikey)) != 0)
			return rc;
	}
	return 0;
}

static int
up_policy_root(struct parser *sub, yaml_node_t *root)
{
	static const struct field f[] = { { .name = "policy",
		.fn = tapir__cfg_policy_section,
		.flags = F_REQUIRED } };
	yaml_node_t *nodes[NODES_MAX];

	return tapir__cfg_walk_map(sub, root, "", f, 1, sub->cfg, true, nodes);
}

static const struct field upstream_fields[] = { { .name = "sources" },
	{ .name = "policy" } };

const struct field *
tapir__cfg_upstream_table(size_t *n)
{
	*n = ARRAY_SIZE(upstream_fields);
	return upstream_fields;
}

int
tapir__cfg_upstream_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	yaml_node_t *nodes[NODES_MAX];
	char k[KEY_MAX];
	const char *path;
	size_t len;
	int rc;

	(void)f;
	(void)base;
	if ((rc = tapir__cfg_walk_map(p, v, key, upstream_fields,
		     ARRAY_SIZE(upstream_fields), NULL, false, nodes)) != 0)
		return rc;
	if (nodes[0]) {
		tapir__cfg_make_key(k, key, "sources");
		if ((rc = tapir__cfg_get_text(p, nodes[0], k, &path, &len)) !=
				0 ||
			(rc = load_sub(
				 p, nodes[0], k, path, up_sources_root)) != 0)
			return rc;
	}
	if (nodes[1]) {
		tapir__cfg_make_key(k, key, "policy");
		if ((rc = tapir__cfg_get_text(p, nodes[1], k, &path, &len)) !=
				0 ||
			(rc = load_sub(p, nodes[1], k, path, up_policy_root)) !=
				0)
			return rc;
	}
	return 0;
}
