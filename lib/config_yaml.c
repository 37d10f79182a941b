/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The strict YAML walker of the configuration (lib/config.c): errors as
 * "file:line: key: reason", scalars, integers in range, mappings checked
 * for unknown, repeated and missing keys, and the field parsers every
 * section shares (strings, integers, booleans, names, actions).
 */
#include "tapir_build.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "lib/config.h"
#include "lib/config_impl.h"

static int
mark_line(yaml_mark_t mark)
{
	return mark.line < INT_MAX - 1 ? (int)mark.line + 1 : INT_MAX;
}

static int
fail_line(struct parser *p, int code, int line, size_t offset, const char *key,
	const char *why)
{
	if (key)
		tapir_error_set(p->err, code, offset, "%s:%d: %s: %s", p->name,
			line, key, why);
	else
		tapir_error_set(
			p->err, code, offset, "%s:%d: %s", p->name, line, why);
	if (p->err)
		p->err->line = line;
	return code;
}

/* An error at node; with no node (a missing section), at the top level. */
int
tapir__cfg_fail(struct parser *p, const yaml_node_t *node, const char *key,
	const char *fmt, ...)
{
	char why[WHY_MAX];
	va_list ap;

	if (!node)
		node = p->root;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return fail_line(p, TAPIR_ECONFIG,
		node ? mark_line(node->start_mark) : 1,
		node ? node->start_mark.index : 0, key, why);
}

int
tapir__cfg_nomem(struct parser *p)
{
	return tapir_error_set(
		p->err, TAPIR_ENOMEM, 0, "%s: out of memory", p->name);
}

/* A file name that leaves room for the reason in the 160 bytes of text. */
const char *
tapir__cfg_shown_name(const char *name)
{
	const char *slash;
	size_t len;

	if (!name || !*name)
		return "config";
	if ((len = strlen(name)) <= SHOWN_NAME_MAX)
		return name;
	if ((slash = strrchr(name, '/')) && slash[1] &&
		strlen(slash + 1) <= SHOWN_NAME_MAX)
		return slash + 1;
	return name + len - SHOWN_NAME_MAX;
}

/*
 * Up to EXCERPT_MAX bytes of a value, to quote it back: control characters
 * become '?' so that the text stays one log line, and a cut never splits a
 * UTF-8 sequence.
 */
const char *
tapir__cfg_excerpt(char out[EXCERPT_MAX + 4], const char *s, size_t len)
{
	size_t n = len;

	if (n > EXCERPT_MAX) {
		n = EXCERPT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

void
tapir__cfg_make_key(char out[KEY_MAX], const char *prefix, const char *name)
{
	int n = prefix[0] ? snprintf(out, KEY_MAX, "%s.%s", prefix, name)
			  : snprintf(out, KEY_MAX, "%s", name);

	/* Keys are short and excerpts bounded, but a cut must show. */
	if (n >= KEY_MAX)
		memcpy(out + KEY_MAX - 4, "...", 4);
}

const char *
tapir__cfg_node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

const char *
tapir__cfg_scalar_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML's null: an empty plain value ("key:"), "~" or "null". */
bool
tapir__cfg_is_null(const yaml_node_t *n)
{
	const char *s;
	size_t len;

	if (n->type != YAML_SCALAR_NODE ||
		n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = tapir__cfg_scalar_text(n);
	len = n->data.scalar.length;
	return len == 0 || (len == 1 && s[0] == '~') ||
	       (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
				    !memcmp(s, "NULL", 4)));
}

/*
 * libyaml gives every untagged node its kind's default tag and does no
 * further typing. Any other tag ("!!binary", "!include") asks for a meaning
 * this parser would silently ignore, so it is refused.
 */
int
tapir__cfg_check_tag(struct parser *p, const yaml_node_t *n, const char *key)
{
	const char *want;
	char ex[EXCERPT_MAX + 4];

	switch (n->type) {
	case YAML_SCALAR_NODE:
		want = YAML_DEFAULT_SCALAR_TAG;
		break;
	case YAML_SEQUENCE_NODE:
		want = YAML_DEFAULT_SEQUENCE_TAG;
		break;
	case YAML_MAPPING_NODE:
		want = YAML_DEFAULT_MAPPING_TAG;
		break;
	default:
		return tapir__cfg_fail(p, n, key, "malformed node");
	}
	if (n->tag && strcmp((const char *)n->tag, want) != 0)
		return tapir__cfg_fail(p, n, key,
			"YAML tag '%s' is not supported",
			tapir__cfg_excerpt(ex, (const char *)n->tag,
				strlen((const char *)n->tag)));
	return 0;
}

yaml_node_t *
tapir__cfg_get_node(struct parser *p, int i)
{
	return yaml_document_get_node(p->doc, i);
}

/* A scalar as a C string: not null, no NUL inside, not absurdly long. */
int
tapir__cfg_get_text(struct parser *p, const yaml_node_t *v, const char *key,
	const char **s, size_t *len)
{
	int rc;

	if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SCALAR_NODE)
		return tapir__cfg_fail(p, v, key,
			"must be a single value, not %s",
			tapir__cfg_node_kind(v));
	if (tapir__cfg_is_null(v))
		return tapir__cfg_fail(p, v, key, "missing value");
	*s = tapir__cfg_scalar_text(v);
	*len = v->data.scalar.length;
	if (*len > STRING_MAX)
		return tapir__cfg_fail(
			p, v, key, "longer than %d bytes", STRING_MAX);
	if (*len == 0)
		return tapir__cfg_fail(p, v, key, "must not be empty");
	if (memchr(*s, '\0', *len))
		return tapir__cfg_fail(p, v, key, "contains a NUL character");
	return 0;
}

/*
 * A decimal integer in [min, max]. Only plain scalars: "30" in quotes is a
 * string in YAML. Leading zeros are refused because YAML 1.1 readers take
 * them as octal, so 010 would mean 8 to one tool and 10 to another.
 */
int
tapir__cfg_get_int(struct parser *p, const yaml_node_t *v, const char *key,
	long long min, long long max, long long *out)
{
	char ex[EXCERPT_MAX + 4];
	unsigned long long n = 0;
	bool neg = false, overflow = false;
	const char *s;
	size_t len, i = 0;
	int rc;

	if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SCALAR_NODE)
		return tapir__cfg_fail(p, v, key, "must be an integer, not %s",
			tapir__cfg_node_kind(v));
	if (tapir__cfg_is_null(v))
		return tapir__cfg_fail(p, v, key, "missing value");
	s = tapir__cfg_scalar_text(v);
	len = v->data.scalar.length;
	if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return tapir__cfg_fail(
			p, v, key, "must be an integer, not a string");
	if (s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return tapir__cfg_fail(p, v, key,
			"must be an integer, not '%s'",
			tapir__cfg_excerpt(ex, s, len));
	for (size_t j = i; j < len; j++) {
		unsigned d = (unsigned char)s[j] - '0';

		if (d > 9)
			return tapir__cfg_fail(p, v, key,
				"must be an integer, not '%s'",
				tapir__cfg_excerpt(ex, s, len));
		if (n > (ULLONG_MAX - d) / 10)
			overflow = true;
		else
			n = n * 10 + d;
	}
	if (s[i] == '0' && len - i > 1)
		return tapir__cfg_fail(p, v, key,
			"'%s': leading zeros are not allowed (octal?)",
			tapir__cfg_excerpt(ex, s, len));
	if (overflow || n > (unsigned long long)LLONG_MAX + neg)
		goto out_range;
	/* n - 1 first: -LLONG_MIN does not fit in a long long. */
	*out = neg && n ? -(long long)(n - 1) - 1 : (long long)n;
	if (*out < min || *out > max)
		goto out_range;
	return 0;

out_range:
	*out = 0;
	return tapir__cfg_fail(p, v, key, "'%s' is out of range %lld..%lld",
		tapir__cfg_excerpt(ex, s, len), min, max);
}

/* 1..max characters of [A-Za-z0-9._-]: source and tag names. */
bool
tapir__cfg_valid_ident(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			    c == '-'))
			return false;
	}
	return true;
}

bool
tapir__cfg_all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * Checks a mapping against fields: each key must be known and appear once.
 * With run, each value goes to its field's parser as it is met; without,
 * values are only collected in nodes[] (by field index, NULL if absent) for
 * the caller to process in an order of its choosing. A null value ("mqtt:"
 * with everything below commented out) is an empty mapping. Missing
 * required keys are reported at the mapping.
 */
int
tapir__cfg_walk_map(struct parser *p, yaml_node_t *map, const char *prefix,
	const struct field *fields, size_t n_fields, void *base, bool run,
	yaml_node_t *nodes[NODES_MAX])
{
	const char *what = prefix[0] ? prefix : "top level";
	char key[KEY_MAX];
	int rc;

	for (size_t i = 0; i < n_fields; i++)
		nodes[i] = NULL;
	if (map && !tapir__cfg_is_null(map)) {
		if ((rc = tapir__cfg_check_tag(p, map, what)) != 0)
			return rc;
		if (map->type != YAML_MAPPING_NODE)
			return tapir__cfg_fail(p, map, what,
				"must be a mapping, not %s",
				tapir__cfg_node_kind(map));
		for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
			pair < map->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = tapir__cfg_get_node(p, pair->key);
			yaml_node_t *v = tapir__cfg_get_node(p, pair->value);
			char ex[EXCERPT_MAX + 4];
			const char *ks;
			size_t i, klen;

			if (!k || !v)
				return tapir__cfg_fail(
					p, map, what, "malformed mapping");
			if (k->type != YAML_SCALAR_NODE)
				return tapir__cfg_fail(p, k, what,
					"keys must be names, not %s",
					tapir__cfg_node_kind(k));
			ks = tapir__cfg_scalar_text(k);
			klen = k->data.scalar.length;
			for (i = 0; i < n_fields; i++)
				if (strlen(fields[i].name) == klen &&
					!memcmp(fields[i].name, ks, klen))
					break;
			if (i == n_fields) {
				tapir__cfg_make_key(key, prefix,
					tapir__cfg_excerpt(ex, ks, klen));
				return tapir__cfg_fail(
					p, k, key, "unknown key");
			}
			tapir__cfg_make_key(key, prefix, fields[i].name);
			if (nodes[i])
				return tapir__cfg_fail(
					p, k, key, "duplicate key");
			nodes[i] = v;
			if (run && fields[i].fn &&
				(rc = fields[i].fn(
					 p, v, key, &fields[i], base)) != 0)
				return rc;
		}
	}
	for (size_t i = 0; i < n_fields; i++) {
		if (!(fields[i].flags & F_REQUIRED) || nodes[i])
			continue;
		tapir__cfg_make_key(key, prefix, fields[i].name);
		return tapir__cfg_fail(p, map, key, "missing (required)");
	}
	return 0;
}

int
tapir__cfg_str_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char **dst = (char **)((char *)base + f->off);
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	free(*dst);
	if (!(*dst = strdup(s)))
		return tapir__cfg_nomem(p);
	return 0;
}

int
tapir__cfg_int_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	void *dst = (char *)base + f->off;
	long long n;
	int rc;

	if ((rc = tapir__cfg_get_int(p, v, key, f->min, f->max, &n)) != 0)
		return rc;
	/* The bounds in the tables keep n within each type. */
	switch (f->type) {
	case INT_INT:
		*(int *)dst = (int)n;
		break;
	case INT_UINT:
		*(unsigned *)dst = (unsigned)n;
		break;
	case INT_U32:
		*(uint32_t *)dst = (uint32_t)n;
		break;
	case INT_SIZE:
		*(size_t *)dst = (size_t)n;
		break;
	}
	return 0;
}

/* An action in [f->min, f->max]: PASSTHRU only for the allowlist, never
 * for lists and rules that block. */
int
tapir__cfg_action_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char ex[EXCERPT_MAX + 4], allowed[64] = "";
	const char *s;
	size_t len;
	int rc, a;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	a = tapir_action_from_str(s);
	if (a >= f->min && a <= f->max) {
		*(enum tapir_action *)((char *)base + f->off) =
			(enum tapir_action)a;
		return 0;
	}
	for (long long i = f->min; i <= f->max; i++) {
		size_t o = strlen(allowed);
		snprintf(allowed + o, sizeof(allowed) - o, "%s%s",
			i == f->min ? "" : (i == f->max ? " or " : ", "),
			tapir_action_str((enum tapir_action)i));
	}
	return tapir__cfg_fail(p, v, key, "must be %s, not '%s'", allowed,
		tapir__cfg_excerpt(ex, s, len));
}

/* A source name, also used for policy.tapir-source. */
int
tapir__cfg_ident_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char *dst = (char *)base + f->off;
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!tapir__cfg_valid_ident(s, len, IDENT_MAX))
		return tapir__cfg_fail(p, v, key,
			"'%s' is not 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'",
			tapir__cfg_excerpt(ex, s, len), IDENT_MAX);
	memcpy(dst, s, len + 1);
	return 0;
}

/* A domain name into a TAPIR_NAME_BUFSIZE buffer, canonicalised. */
int
tapir__cfg_dname_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char *dst = (char *)base + f->off;
	struct tapir_error nerr;
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (tapir_name_canon(s, len, 0, dst, NULL, NULL, &nerr) != 0)
		return tapir__cfg_fail(
			p, v, key, "not a valid domain name: %s", nerr.text);
	return 0;
}

/* Rules and sections: a nested mapping, stored below base + f->off. */
int
tapir__cfg_map_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	yaml_node_t *nodes[NODES_MAX];

	return tapir__cfg_walk_map(p, v, key, f->sub, f->n_sub,
		(char *)base + f->off, true, nodes);
}

/* yes/no, true/false, on/off (YAML 1.1 booleans). */
int
tapir__cfg_bool_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	bool *dst = (bool *)((char *)base + f->off);
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	if ((rc = tapir__cfg_get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") ||
		!strcasecmp(s, "on")) {
		*dst = true;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") ||
		!strcasecmp(s, "off")) {
		*dst = false;
		return 0;
	}
	return tapir__cfg_fail(p, v, key, "must be yes or no, not '%s'",
		tapir__cfg_excerpt(ex, s, len));
}

/*
 * A sequence (or one scalar) of text values: fn is called for each, with
 * its key ("key[i]" in a sequence). empty: the complaint for an empty
 * sequence; max: most items accepted.
 */
int
tapir__cfg_each_text(struct parser *p, yaml_node_t *v, const char *key,
	const char *empty, size_t max, item_fn fn, void *ctx, size_t *count)
{
	yaml_node_item_t *items = NULL;
	char ikey[KEY_MAX];
	size_t n = 1;
	int rc;

	if (v->type == YAML_SEQUENCE_NODE) {
		if ((rc = tapir__cfg_check_tag(p, v, key)) != 0)
			return rc;
		items = v->data.sequence.items.start;
		n = (size_t)(v->data.sequence.items.top - items);
		if (n == 0)
			return tapir__cfg_fail(p, v, key, "%s", empty);
		if (n > max)
			return tapir__cfg_fail(
				p, v, key, "more than %zu items", max);
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			items ? tapir__cfg_get_node(p, items[i]) : v;
		const char *s;
		size_t len;
		if (items)
			snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		else
			snprintf(ikey, sizeof(ikey), "%s", key);
		if (!item)
			return tapir__cfg_fail(p, v, key, "malformed list");
		if ((rc = tapir__cfg_get_text(p, item, ikey, &s, &len)) != 0 ||
			(rc = fn(p, item, ikey, s, len, i, ctx)) != 0)
			return rc;
	}
	if (count)
		*count = n;
	return 0;
}

/* libyaml's reason, at libyaml's line. Reader errors (bad UTF-8, control
 * characters) carry a byte offset instead of a line: count to it. */
int
tapir__cfg_syntax_fail(
	struct parser *p, const yaml_parser_t *yp, const char *buf, size_t len)
{
	const char *problem = yp->problem ? yp->problem : "unknown problem";
	char why[WHY_MAX];
	size_t offset;
	int line;

	if (yp->error == YAML_MEMORY_ERROR)
		return tapir__cfg_nomem(p);
	if (yp->error == YAML_READER_ERROR) {
		offset = yp->problem_offset < len ? yp->problem_offset : len;
		line = 1;
		for (size_t i = 0; i < offset && line < INT_MAX; i++)
			line += buf[i] == '\n';
		if (yp->problem_value >= 0)
			snprintf(why, sizeof(why), "YAML: %s (byte 0x%02X)",
				problem, (unsigned)yp->problem_value);
		else
			snprintf(why, sizeof(why), "YAML: %s", problem);
	} else {
		offset = yp->problem_mark.index;
		line = mark_line(yp->problem_mark);
		if (yp->context)
			snprintf(why, sizeof(why), "YAML: %s (%s at line %d)",
				problem, yp->context,
				mark_line(yp->context_mark));
		else
			snprintf(why, sizeof(why), "YAML: %s", problem);
	}
	return fail_line(p, TAPIR_EPARSE, line, offset, NULL, why);
}

/* A second document would be ignored by yaml_parser_load(): refuse it,
 * and report syntax errors in it, rather than act on half a file. */
int
tapir__cfg_check_one_document(
	struct parser *p, yaml_parser_t *yp, const char *buf, size_t len)
{
	yaml_document_t extra;
	const yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_load(yp, &extra))
		return tapir__cfg_syntax_fail(p, yp, buf, len);
	if ((root = yaml_document_get_root_node(&extra)))
		rc = tapir__cfg_fail(
			p, root, NULL, "only one YAML document is allowed");
	yaml_document_delete(&extra);
	return rc;
}
