/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "policy:" and "tags:" sections of the configuration (lib/config.c):
 * the upstream rules, named rules, and tag names with both upstream
 * vocabularies built in.
 */
#include "tapir_build.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "lib/config.h"
#include "lib/config_impl.h"

/*
 * Both upstream tag vocabularies: the DNS TAPIR core's of 2026 and the
 * older one of upstream TAPIR-POP (github.com/dnstapir/pop). For each bit
 * the first name listed is the one shown when "tags:" does not name the
 * bit: the 2026 core name where there is one, else the older POP name.
 */
static const struct {
	const char *name;
	int bit;
} builtin_tags[] = {
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
};

/* A doubtlist rule: being present is what turns it on. */
static int
rule_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_rule_config *rule =
		(struct tapir_rule_config *)((char *)base + f->off);
	int rc;

	if ((rc = tapir__cfg_map_field(p, v, key, f, base)) != 0)
		return rc;
	rule->enabled = true;
	return 0;
}

/* The allowlist's action is PASSTHRU by definition; it may be written to
 * match upstream's pop-policy.yaml, and is checked, but not stored. */
static int
allow_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	enum tapir_action action = TAPIR_ACTION_PASSTHRU;
	yaml_node_t *nodes[NODES_MAX];

	(void)base;
	return tapir__cfg_walk_map(
		p, v, key, f->sub, f->n_sub, &action, true, nodes);
}

/*
 * denytapir's tags: names or bit numbers, one or a list, resolved with
 * tapir_config_tag_bit(), so "tags:" must have been read already.
 */
static int
taglist_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	uint32_t *mask = (uint32_t *)((char *)base + f->off);
	yaml_node_item_t *items = NULL;
	char ex[EXCERPT_MAX + 4], ikey[KEY_MAX];
	size_t n = 1;
	int rc;

	*mask = 0;
	if (v->type == YAML_SEQUENCE_NODE) {
		if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
			return rc;
		items = v->data.sequence.items.start;
		n = (size_t)(v->data.sequence.items.top - items);
	}
	if (n == 0 || tapir__cfg_is_null(v) || v->type == YAML_MAPPING_NODE)
		return tapir__cfg_fail(p, v, key, "must list at least one tag");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = v;
		const char *s;
		size_t len;
		int bit;

		snprintf(ikey, sizeof(ikey), "%s", key);
		if (v->type == YAML_SEQUENCE_NODE) {
			snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
			if (!(item = tapir__cfg_get_node(p, items[i])))
				return tapir__cfg_fail(
					p, v, ikey, "malformed list");
		}
		if ((rc = tapir__cfg_get_text(p, item, ikey, &s, &len)) != 0)
			return rc;
		if ((bit = tapir_config_tag_bit(p->cfg, s)) < 0)
			return tapir__cfg_fail(p, item, ikey,
				"unknown tag '%s' (name it under tags:)",
				tapir__cfg_excerpt(ex, s, len));
		*mask |= UINT32_C(1) << bit;
	}
	return 0;
}

static int
source_bit(struct parser *p, yaml_node_t *item, const char *ikey, const char *s,
	size_t len, size_t i, void *ctx)
{
	char ex[EXCERPT_MAX + 4];
	int idx = tapir_config_source_index(p->cfg, s);

	(void)i;
	if (idx < 0)
		return tapir__cfg_fail(p, item, ikey, "no source is named '%s'",
			tapir__cfg_excerpt(ex, s, len));
	*(uint64_t *)ctx |= UINT64_C(1) << idx;
	return 0;
}

/* A sequence (or one scalar) of configured source names → bit mask. */
static int
sourcelist_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	uint64_t *mask = (uint64_t *)((char *)base + f->off);

	*mask = 0;
	return tapir__cfg_each_text(p, v, key, "must name at least one source",
		TAPIR_MAX_SOURCES, source_bit, mask, NULL);
}

static int
list_bit(struct parser *p, yaml_node_t *item, const char *ikey, const char *s,
	size_t len, size_t i, void *ctx)
{
	char ex[EXCERPT_MAX + 4];
	int list = tapir_list_from_str(s);

	(void)i;
	if (list < 0)
		return tapir__cfg_fail(p, item, ikey,
			"must be allowlist, denylist or doubtlist, not '%s'",
			tapir__cfg_excerpt(ex, s, len));
	*(uint8_t *)ctx |= (uint8_t)(1u << list);
	return 0;
}

/* A sequence (or one scalar) of list names → mask of 1 << list. */
static int
listset_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	uint8_t *mask = (uint8_t *)((char *)base + f->off);

	*mask = 0;
	return tapir__cfg_each_text(p, v, key, "must name at least one list", 8,
		list_bit, mask, NULL);
}

#define RULE(member) offsetof(struct tapir_rule_config, member)

static const struct field allow_fields[] = {
	{ .name = "action",
		.fn = tapir__cfg_action_field,
		.min = TAPIR_ACTION_PASSTHRU,
		.max = TAPIR_ACTION_PASSTHRU },
};

static const struct field deny_fields[] = {
	{ .name = "action",
		.fn = tapir__cfg_action_field,
		.off = CFG(policy.denylist_action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
};

static const struct field numsources_fields[] = {
	{ .name = "limit",
		.fn = tapir__cfg_int_field,
		.off = RULE(limit),
		.flags = F_REQUIRED,
		.type = INT_UINT,
		.min = 1,
		.max = TAPIR_MAX_SOURCES },
	{ .name = "action",
		.fn = tapir__cfg_action_field,
		.off = RULE(action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
};

static const struct field numtapirtags_fields[] = {
	{ .name = "limit",
		.fn = tapir__cfg_int_field,
		.off = RULE(limit),
		.flags = F_REQUIRED,
		.type = INT_UINT,
		.min = 1,
		.max = 32 },
	{ .name = "action",
		.fn = tapir__cfg_action_field,
		.off = RULE(action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
};

static const struct field denytapir_fields[] = {
	{ .name = "tags",
		.fn = taglist_field,
		.off = RULE(tags),
		.flags = F_REQUIRED },
	{ .name = "action",
		.fn = tapir__cfg_action_field,
		.off = RULE(action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
};

static const struct field doubt_fields[] = {
	{ .name = "numsources",
		.fn = rule_field,
		.off = CFG(policy.numsources),
		SUB(numsources_fields) },
	{ .name = "numtapirtags",
		.fn = rule_field,
		.off = CFG(policy.numtapirtags),
		SUB(numtapirtags_fields) },
	{ .name = "denytapir",
		.fn = rule_field,
		.off = CFG(policy.denytapir),
		SUB(denytapir_fields) },
};

/* A key of upstream's files that has no meaning here: checked to be a
 * value, then ignored. */
static int
ignored_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	(void)f;
	(void)base;
	return tapir__cfg_check_tag(p, v, key);
}

#define NRULE(member) offsetof(struct tapir_named_rule, member)

static const struct field named_rule_fields[] = {
	{ .name = "name",
		.fn = tapir__cfg_ident_field,
		.off = NRULE(name),
		.flags = F_REQUIRED },
	{ .name = "action",
		.fn = tapir__cfg_action_field,
		.off = NRULE(action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
	{ .name = "log-only",
		.fn = tapir__cfg_bool_field,
		.off = NRULE(log_only) },
	{ .name = "sources-min",
		.fn = tapir__cfg_int_field,
		.off = NRULE(sources_min),
		.type = INT_UINT,
		.min = 1,
		.max = TAPIR_MAX_SOURCES },
	{ .name = "sources",
		.fn = sourcelist_field,
		.off = NRULE(sources_mask) },
	{ .name = "tags-min",
		.fn = tapir__cfg_int_field,
		.off = NRULE(tags_min),
		.type = INT_UINT,
		.min = 1,
		.max = 32 },
	{ .name = "tags-all", .fn = taglist_field, .off = NRULE(tags_all) },
	{ .name = "tags-any", .fn = taglist_field, .off = NRULE(tags_any) },
	{ .name = "tags-none", .fn = taglist_field, .off = NRULE(tags_none) },
	{ .name = "tags-from",
		.fn = sourcelist_field,
		.off = NRULE(tags_from) },
	{ .name = "lists", .fn = listset_field, .off = NRULE(lists) },
};

/*
 * policy.rules: named rules. A rule must state at least one condition (a
 * rule that always fires would block every name with any entry), and its
 * name must be unique, since explanations and statistics name it.
 */
static int
rules_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	yaml_node_t *nodes[NODES_MAX];
	char ikey[KEY_MAX];
	size_t n;
	int rc;

	(void)f;
	if (tapir__cfg_is_null(v))
		return 0;
	if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SEQUENCE_NODE)
		return tapir__cfg_fail(p, v, key,
			"must be a list of rules, not %s",
			tapir__cfg_node_kind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			tapir__cfg_get_node(p, v->data.sequence.items.start[i]);
		struct tapir_named_rule *r;

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		if (!item)
			return tapir__cfg_fail(p, v, ikey, "malformed list");
		if (cfg->policy.n_rules == TAPIR_MAX_RULES)
			return tapir__cfg_fail(p, item, key,
				"more than %d rules", TAPIR_MAX_RULES);
		r = &cfg->policy.rules[cfg->policy.n_rules++];
		r->action = TAPIR_ACTION_NXDOMAIN;
		if ((rc = tapir__cfg_walk_map(p, item, ikey, named_rule_fields,
			     ARRAY_SIZE(named_rule_fields), r, true, nodes)) !=
			0)
			return rc;
		if (!r->sources_min && !r->tags_min && !r->tags_all &&
			!r->tags_any && !r->tags_none && !r->lists)
			return tapir__cfg_fail(p, item, ikey,
				"states no condition (sources-min, tags-min, tags-all, tags-any, tags-none or lists)");
		for (size_t j = 0; j + 1 < cfg->policy.n_rules; j++)
			if (!strcmp(cfg->policy.rules[j].name, r->name))
				return tapir__cfg_fail(p, item, ikey,
					"duplicate rule name '%s'", r->name);
	}
	return 0;
}

static const struct field policy_fields[] = {
	{ .name = "allowlist", .fn = allow_field, SUB(allow_fields) },
	{ .name = "denylist", .fn = tapir__cfg_map_field, SUB(deny_fields) },
	{ .name = "doubtlist", .fn = tapir__cfg_map_field, SUB(doubt_fields) },
	{ .name = "tapir-source",
		.fn = tapir__cfg_ident_field,
		.off = CFG(policy.tapir_source) },
	{ .name = "log-only",
		.fn = tapir__cfg_bool_field,
		.off = CFG(policy.log_only) },
	{ .name = "rules", .fn = rules_field, SUB(named_rule_fields) },
	/* Upstream pop-policy.yaml's own log; this module logs through
	 * Unbound. Accepted so that the file is read unchanged. */
	{ .name = "logfile", .fn = ignored_field },
};

const struct field *
tapir__cfg_policy_table(size_t *n)
{
	*n = ARRAY_SIZE(policy_fields);
	return policy_fields;
}

enum {
	P_ALLOWLIST,
	P_DENYLIST,
	P_DOUBTLIST,
	P_TAPIR_SOURCE,
	P_LOG_ONLY,
	P_RULES,
};

/*
 * The tag rules read the tags of one doubtlist source's entry. If that
 * source does not exist they could never fire, which is a misconfiguration
 * to report, not a policy to enforce quietly.
 */
int
tapir__cfg_policy_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	yaml_node_t *nodes[NODES_MAX], *where;
	char k[KEY_MAX];
	int rc, i;

	(void)f;
	if (p->policy_seen)
		return tapir__cfg_fail(p, v, key,
			"given twice (here and in upstream.policy's file)");
	p->policy_seen = true;
	if ((rc = tapir__cfg_walk_map(p, v, key, policy_fields,
		     ARRAY_SIZE(policy_fields), cfg, true, nodes)) != 0)
		return rc;
	if (!cfg->policy.numtapirtags.enabled && !cfg->policy.denytapir.enabled)
		return 0;
	where = nodes[P_TAPIR_SOURCE] ? nodes[P_TAPIR_SOURCE]
				      : nodes[P_DOUBTLIST];
	tapir__cfg_make_key(k, key, "tapir-source");
	if ((i = tapir_config_source_index(cfg, cfg->policy.tapir_source)) < 0)
		return tapir__cfg_fail(p, where, k,
			"no source is named '%s' (numtapirtags and denytapir read its tags)",
			cfg->policy.tapir_source);
	if (cfg->sources[i].list != TAPIR_LIST_DOUBT)
		return tapir__cfg_fail(p, where, k,
			"source '%s' is not a doubtlist",
			cfg->policy.tapir_source);
	return 0;
}

/*
 * "tags:" maps names to bits. One name per bit, so that tag_names[] can
 * show it; more than 32 entries therefore always fail, which also bounds
 * the duplicate check below.
 */
int
tapir__cfg_tags_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	char ex[EXCERPT_MAX + 4], tkey[KEY_MAX];
	int rc;

	(void)f;
	if (tapir__cfg_is_null(v))
		return 0;
	if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_MAPPING_NODE)
		return tapir__cfg_fail(p, v, key,
			"must be a mapping of tag names to bit numbers, not %s",
			tapir__cfg_node_kind(v));
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = tapir__cfg_get_node(p, pair->key);
		yaml_node_t *val = tapir__cfg_get_node(p, pair->value);
		const char *ks;
		size_t klen;
		long long bit;

		if (!k || !val)
			return tapir__cfg_fail(p, v, key, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE)
			return tapir__cfg_fail(p, k, key,
				"keys must be names, not %s",
				tapir__cfg_node_kind(k));
		ks = tapir__cfg_scalar_text(k);
		klen = k->data.scalar.length;
		tapir__cfg_make_key(
			tkey, key, tapir__cfg_excerpt(ex, ks, klen));
		if (!tapir__cfg_valid_ident(ks, klen, IDENT_MAX) ||
			tapir__cfg_all_digits(ks, klen))
			return tapir__cfg_fail(p, k, tkey,
				"a tag name is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-', not all digits",
				IDENT_MAX);
		if ((rc = tapir__cfg_get_int(p, val, tkey, 0, 31, &bit)) != 0)
			return rc;
		for (int b = 0; b < 32; b++)
			if ((p->tags_named & (UINT32_C(1) << b)) &&
				!strcasecmp(cfg->tag_names[b], ks))
				return tapir__cfg_fail(
					p, k, tkey, "duplicate key");
		if (p->tags_named & (UINT32_C(1) << bit))
			return tapir__cfg_fail(p, val, tkey,
				"bit %lld is already named '%s'", bit,
				cfg->tag_names[bit]);
		if (!(cfg->tag_names[bit] = strdup(ks)))
			return tapir__cfg_nomem(p);
		p->tags_named |= UINT32_C(1) << bit;
	}
	return 0;
}

/*
 * A bit that "tags:" did not name shows its first built-in name, unless
 * "tags:" gave that name to another bit: then the next one, or none. So no
 * name appears twice in tag_names[], and tapir_config_tag_bit() finds a
 * configured name before a built-in meaning of the same name.
 */
int
tapir__cfg_fill_tag_names(struct parser *p)
{
	struct tapir_config *cfg = p->cfg;

	for (size_t i = 0; i < ARRAY_SIZE(builtin_tags); i++) {
		int bit = builtin_tags[i].bit;
		bool taken = false;

		if (cfg->tag_names[bit])
			continue;
		for (int b = 0; b < 32 && !taken; b++)
			taken = (p->tags_named & (UINT32_C(1) << b)) &&
				!strcasecmp(cfg->tag_names[b],
					builtin_tags[i].name);
		if (!taken &&
			!(cfg->tag_names[bit] = strdup(builtin_tags[i].name)))
			return tapir__cfg_nomem(p);
	}
	return 0;
}

int
tapir_config_tag_bit(const struct tapir_config *cfg, const char *name)
{
	if (!name || !*name)
		return -1;
	/* Configured names first: "tags:" may give a built-in name to
	 * another bit, and tapir__cfg_fill_tag_names() keeps tag_names[] free of
	 * duplicates, so the first match is the only one. */
	if (cfg)
		for (int b = 0; b < 32; b++)
			if (cfg->tag_names[b] &&
				!strcasecmp(cfg->tag_names[b], name))
				return b;
	for (size_t i = 0; i < ARRAY_SIZE(builtin_tags); i++)
		if (!strcasecmp(builtin_tags[i].name, name))
			return builtin_tags[i].bit;
	/* "0".."31", without sign or leading zero. */
	if (name[0] >= '0' && name[0] <= '9') {
		int bit = name[0] - '0';

		if (name[1] == '\0')
			return bit;
		if (bit != 0 && name[1] >= '0' && name[1] <= '9' &&
			name[2] == '\0' &&
			(bit = bit * 10 + name[1] - '0') < 32)
			return bit;
	}
	return -1;
}
