/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the configuration parser (lib/config*.c): the parser state,
 * the field tables' shape, and the helpers its files share. Cross-file
 * helpers are named tapir__cfg_*; nothing here is part of libtapir's API.
 *
 * Thread safety: a struct parser belongs to one parse, on one thread.
 */
#ifndef TAPIR_CONFIG_IMPL_H
#define TAPIR_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "lib/config.h"
#include "lib/tapir.h"

#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))
#define KEY_MAX	       96   /* "policy.doubtlist.denytapir.tags[12]" */
#define WHY_MAX	       160  /* the reason, before it joins file:line: key */
#define STRING_MAX     4095 /* PATH_MAX less the NUL */
#define EXCERPT_MAX    32   /* bytes of a bad value quoted back */
#define SHOWN_NAME_MAX 64   /* leaves room in err->text for the reason */
#define NODES_MAX      24   /* keys in the largest section */
#define IDENT_MAX      (TAPIR_SOURCE_NAME_MAX - 1)

struct parser {
	yaml_document_t *doc;
	yaml_node_t *root; /* line of last resort for errors */
	const char *name;  /* shown in messages */
	struct tapir_error *err;
	struct tapir_config *cfg;
	uint32_t tags_named; /* bits that "tags:" named */
	bool policy_seen;    /* policy: read (here or from pop-policy.yaml) */
};

struct field;

/* Parses v, the value of key, into base + f->off. */
typedef int (*field_fn)(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);

enum field_flags {
	F_REQUIRED = 1 << 0,
};

enum int_type {
	INT_INT = 0,
	INT_UINT,
	INT_U32,
	INT_SIZE,
};

struct field {
	const char *name;
	field_fn fn; /* NULL at the top level: collected, run later */
	size_t off;  /* of the destination inside base */
	unsigned flags;
	enum int_type type;	 /* int_field */
	long long min, max;	 /* int_field, action_field */
	const struct field *sub; /* map_field, rule_field */
	size_t n_sub;
	/* A section whose parser walks a table of another file: that
	 * table, for tapir_config_list_keys(). */
	const struct field *(*table)(size_t *n);
};

#define SUB(table)  .sub = (table), .n_sub = ARRAY_SIZE(table)
#define CFG(member) offsetof(struct tapir_config, member)

/* One text item of a list, for tapir__cfg_each_text(). */
typedef int (*item_fn)(struct parser *p, yaml_node_t *item, const char *ikey,
	const char *s, size_t len, size_t i, void *ctx);

#define SRC(member) offsetof(struct tapir_source_config, member)

/* config_yaml.c: the walker and the shared field parsers */
int tapir__cfg_fail(struct parser *p, const yaml_node_t *node, const char *key,
	const char *fmt, ...) TAPIR_PRINTF(4, 5);
int tapir__cfg_nomem(struct parser *p);
const char *tapir__cfg_shown_name(const char *name);
const char *tapir__cfg_excerpt(
	char out[EXCERPT_MAX + 4], const char *s, size_t len);
void tapir__cfg_make_key(
	char out[KEY_MAX], const char *prefix, const char *name);
const char *tapir__cfg_node_kind(const yaml_node_t *n);
const char *tapir__cfg_scalar_text(const yaml_node_t *n);
bool tapir__cfg_is_null(const yaml_node_t *n);
int tapir__cfg_check_tag(
	struct parser *p, const yaml_node_t *n, const char *key);
yaml_node_t *tapir__cfg_get_node(struct parser *p, int i);
int tapir__cfg_get_text(struct parser *p, const yaml_node_t *v, const char *key,
	const char **s, size_t *len);
int tapir__cfg_get_int(struct parser *p, const yaml_node_t *v, const char *key,
	long long min, long long max, long long *out);
bool tapir__cfg_valid_ident(const char *s, size_t len, size_t max);
bool tapir__cfg_all_digits(const char *s, size_t len);
int tapir__cfg_walk_map(struct parser *p, yaml_node_t *map, const char *prefix,
	const struct field *fields, size_t n_fields, void *base, bool run,
	yaml_node_t *nodes[NODES_MAX]);
int tapir__cfg_str_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_int_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_action_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_ident_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_dname_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_map_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_bool_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_each_text(struct parser *p, yaml_node_t *v, const char *key,
	const char *empty, size_t max, item_fn fn, void *ctx, size_t *count);
int tapir__cfg_syntax_fail(
	struct parser *p, const yaml_parser_t *yp, const char *buf, size_t len);
int tapir__cfg_check_one_document(
	struct parser *p, yaml_parser_t *yp, const char *buf, size_t len);

/* config_sources.c */
int tapir__cfg_list_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_add_topic(struct parser *p, yaml_node_t *v, const char *key,
	struct tapir_source_config *src);
int tapir__cfg_sources_section(struct parser *p, yaml_node_t *v,
	const char *key, const struct field *f, void *base);
const struct field *tapir__cfg_sources_table(size_t *n);

/* config_policy.c */
int tapir__cfg_policy_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_tags_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base);
int tapir__cfg_fill_tag_names(struct parser *p);
const struct field *tapir__cfg_policy_table(size_t *n);

/* config_upstream.c */
int tapir__cfg_upstream_section(struct parser *p, yaml_node_t *v,
	const char *key, const struct field *f, void *base);
const struct field *tapir__cfg_upstream_table(size_t *n);

/* config.c */
int tapir__cfg_read_config_file(
	const char *path, char **out, size_t *out_len, struct tapir_error *err);

#endif
