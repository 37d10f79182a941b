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
#include "lib/msg.h"
#include "lib/name.h"
#include "lib/tapir.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CONFIG_MAX_SIZE (1024 * 1024) /* a config is a few KiB */
#define KEY_MAX		96   /* "policy.doubtlist.denytapir.tags[12]" */
#define WHY_MAX		160  /* the reason, before it joins file:line: key */
#define STRING_MAX	4095 /* PATH_MAX less the NUL */
#define EXCERPT_MAX	32   /* bytes of a bad value quoted back */
#define SHOWN_NAME_MAX	64   /* leaves room in err->text for the reason */
#define NODES_MAX	24   /* keys in the largest section */
#define IDENT_MAX	(TAPIR_SOURCE_NAME_MAX - 1)
#define CLIENT_ID_MAX	256

static const char *const action_names[TAPIR_ACTION_COUNT] = {
	[TAPIR_ACTION_PASS] = "PASS",
	[TAPIR_ACTION_PASSTHRU] = "PASSTHRU",
	[TAPIR_ACTION_REDIRECT] = "REDIRECT",
	[TAPIR_ACTION_NODATA] = "NODATA",
	[TAPIR_ACTION_NXDOMAIN] = "NXDOMAIN",
	[TAPIR_ACTION_DROP] = "DROP",
};

/*
 * Both upstream tag vocabularies (TAPIR-COMPAT.md). For each bit the first
 * name listed is the one shown when "tags:" does not name the bit: the 2026
 * core name where there is one, else the older POP name.
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
};

#define SUB(table)  .sub = (table), .n_sub = ARRAY_SIZE(table)
#define CFG(member) offsetof(struct tapir_config, member)

static int fail(struct parser *p, const yaml_node_t *node, const char *key,
	const char *fmt, ...) TAPIR_PRINTF(4, 5);

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
static int
fail(struct parser *p, const yaml_node_t *node, const char *key,
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

static int
nomem(struct parser *p)
{
	return tapir_error_set(
		p->err, TAPIR_ENOMEM, 0, "%s: out of memory", p->name);
}

/* A file name that leaves room for the reason in the 160 bytes of text. */
static const char *
shown_name(const char *name)
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
static const char *
excerpt(char out[EXCERPT_MAX + 4], const char *s, size_t len)
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

static void
make_key(char out[KEY_MAX], const char *prefix, const char *name)
{
	int n = prefix[0] ? snprintf(out, KEY_MAX, "%s.%s", prefix, name)
			  : snprintf(out, KEY_MAX, "%s", name);

	/* Keys are short and excerpts bounded, but a cut must show. */
	if (n >= KEY_MAX)
		memcpy(out + KEY_MAX - 4, "...", 4);
}

static const char *
node_kind(const yaml_node_t *n)
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

static const char *
scalar_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML's null: an empty plain value ("key:"), "~" or "null". */
static bool
is_null(const yaml_node_t *n)
{
	const char *s;
	size_t len;

	if (n->type != YAML_SCALAR_NODE ||
		n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = scalar_text(n);
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
static int
check_tag(struct parser *p, const yaml_node_t *n, const char *key)
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
		return fail(p, n, key, "malformed node");
	}
	if (n->tag && strcmp((const char *)n->tag, want) != 0)
		return fail(p, n, key, "YAML tag '%s' is not supported",
			excerpt(ex, (const char *)n->tag,
				strlen((const char *)n->tag)));
	return 0;
}

static yaml_node_t *
get_node(struct parser *p, int i)
{
	return yaml_document_get_node(p->doc, i);
}

/* A scalar as a C string: not null, no NUL inside, not absurdly long. */
static int
get_text(struct parser *p, const yaml_node_t *v, const char *key,
	const char **s, size_t *len)
{
	int rc;

	if ((rc = check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, key, "must be a single value, not %s",
			node_kind(v));
	if (is_null(v))
		return fail(p, v, key, "missing value");
	*s = scalar_text(v);
	*len = v->data.scalar.length;
	if (*len > STRING_MAX)
		return fail(p, v, key, "longer than %d bytes", STRING_MAX);
	if (*len == 0)
		return fail(p, v, key, "must not be empty");
	if (memchr(*s, '\0', *len))
		return fail(p, v, key, "contains a NUL character");
	return 0;
}

/*
 * A decimal integer in [min, max]. Only plain scalars: "30" in quotes is a
 * string in YAML. Leading zeros are refused because YAML 1.1 readers take
 * them as octal, so 010 would mean 8 to one tool and 10 to another.
 */
static int
get_int(struct parser *p, const yaml_node_t *v, const char *key, long long min,
	long long max, long long *out)
{
	char ex[EXCERPT_MAX + 4];
	unsigned long long n = 0;
	bool neg = false, overflow = false;
	const char *s;
	size_t len, i = 0;
	int rc;

	if ((rc = check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SCALAR_NODE)
		return fail(
			p, v, key, "must be an integer, not %s", node_kind(v));
	if (is_null(v))
		return fail(p, v, key, "missing value");
	s = scalar_text(v);
	len = v->data.scalar.length;
	if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail(p, v, key, "must be an integer, not a string");
	if (s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return fail(p, v, key, "must be an integer, not '%s'",
			excerpt(ex, s, len));
	for (size_t j = i; j < len; j++) {
		unsigned d = (unsigned char)s[j] - '0';

		if (d > 9)
			return fail(p, v, key, "must be an integer, not '%s'",
				excerpt(ex, s, len));
		if (n > (ULLONG_MAX - d) / 10)
			overflow = true;
		else
			n = n * 10 + d;
	}
	if (s[i] == '0' && len - i > 1)
		return fail(p, v, key,
			"'%s': leading zeros are not allowed (octal?)",
			excerpt(ex, s, len));
	if (overflow || n > (unsigned long long)LLONG_MAX + neg)
		goto out_range;
	/* n - 1 first: -LLONG_MIN does not fit in a long long. */
	*out = neg && n ? -(long long)(n - 1) - 1 : (long long)n;
	if (*out < min || *out > max)
		goto out_range;
	return 0;

out_range:
	*out = 0;
	return fail(p, v, key, "'%s' is out of range %lld..%lld",
		excerpt(ex, s, len), min, max);
}

/* 1..max characters of [A-Za-z0-9._-]: source and tag names. */
static bool
valid_ident(const char *s, size_t len, size_t max)
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

static bool
all_digits(const char *s, size_t len)
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
static int
walk_map(struct parser *p, yaml_node_t *map, const char *prefix,
	const struct field *fields, size_t n_fields, void *base, bool run,
	yaml_node_t *nodes[NODES_MAX])
{
	const char *what = prefix[0] ? prefix : "top level";
	char key[KEY_MAX];
	int rc;

	for (size_t i = 0; i < n_fields; i++)
		nodes[i] = NULL;
	if (map && !is_null(map)) {
		if ((rc = check_tag(p, map, what)) != 0)
			return rc;
		if (map->type != YAML_MAPPING_NODE)
			return fail(p, map, what, "must be a mapping, not %s",
				node_kind(map));
		for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
			pair < map->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = get_node(p, pair->key);
			yaml_node_t *v = get_node(p, pair->value);
			char ex[EXCERPT_MAX + 4];
			const char *ks;
			size_t i, klen;

			if (!k || !v)
				return fail(p, map, what, "malformed mapping");
			if (k->type != YAML_SCALAR_NODE)
				return fail(p, k, what,
					"keys must be names, not %s",
					node_kind(k));
			ks = scalar_text(k);
			klen = k->data.scalar.length;
			for (i = 0; i < n_fields; i++)
				if (strlen(fields[i].name) == klen &&
					!memcmp(fields[i].name, ks, klen))
					break;
			if (i == n_fields) {
				make_key(key, prefix, excerpt(ex, ks, klen));
				return fail(p, k, key, "unknown key");
			}
			make_key(key, prefix, fields[i].name);
			if (nodes[i])
				return fail(p, k, key, "duplicate key");
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
		make_key(key, prefix, fields[i].name);
		return fail(p, map, key, "missing (required)");
	}
	return 0;
}

static int
str_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char **dst = (char **)((char *)base + f->off);
	const char *s;
	size_t len;
	int rc;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	free(*dst);
	if (!(*dst = strdup(s)))
		return nomem(p);
	return 0;
}

static int
int_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	void *dst = (char *)base + f->off;
	long long n;
	int rc;

	if ((rc = get_int(p, v, key, f->min, f->max, &n)) != 0)
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
static int
action_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char ex[EXCERPT_MAX + 4], allowed[64] = "";
	const char *s;
	size_t len;
	int rc, a;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
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
			action_names[i]);
	}
	return fail(p, v, key, "must be %s, not '%s'", allowed,
		excerpt(ex, s, len));
}

/* A source name, also used for policy.tapir-source. */
static int
ident_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char *dst = (char *)base + f->off;
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!valid_ident(s, len, IDENT_MAX))
		return fail(p, v, key,
			"'%s' is not 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'",
			excerpt(ex, s, len), IDENT_MAX);
	memcpy(dst, s, len + 1);
	return 0;
}

/* A domain name into a TAPIR_NAME_BUFSIZE buffer, canonicalised. */
static int
dname_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	char *dst = (char *)base + f->off;
	struct tapir_error nerr;
	const char *s;
	size_t len;
	int rc;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (tapir_name_canon(s, len, 0, dst, NULL, NULL, &nerr) != 0)
		return fail(
			p, v, key, "not a valid domain name: %s", nerr.text);
	return 0;
}

/* Rules and sections: a nested mapping, stored below base + f->off. */
static int
map_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	yaml_node_t *nodes[NODES_MAX];

	return walk_map(p, v, key, f->sub, f->n_sub, (char *)base + f->off,
		true, nodes);
}

/* A doubtlist rule: being present is what turns it on. */
static int
rule_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_rule_config *rule =
		(struct tapir_rule_config *)((char *)base + f->off);
	int rc;

	if ((rc = map_field(p, v, key, f, base)) != 0)
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
	return walk_map(p, v, key, f->sub, f->n_sub, &action, true, nodes);
}

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
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
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
		if (!valid_ident(host, hlen, TAPIR_NAME_BUFSIZE - 3) ||
			host[0] == '.' || host[0] == '-')
			goto out_bad;
		rest = host + hlen;
	}
	if (rest[0] == ':') {
		const char *d = rest + 1;

		port = 0;
		if (!*d || strlen(d) > 5 || !all_digits(d, strlen(d)))
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
		return nomem(p);
	cfg->mqtt.port = (int)port;
	cfg->mqtt.tls = tls;
	return 0;

out_bad:
	return fail(p, v, key,
		"'%s' is not mqtt://host[:port] or mqtts://host[:port]",
		excerpt(ex, s, len));
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
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!strcasecmp(s, "auto"))
		cfg->mqtt.protocol = TAPIR_MQTT_AUTO;
	else if (!strcmp(s, "5"))
		cfg->mqtt.protocol = TAPIR_MQTT_V5;
	else if (!strcmp(s, "3.1.1") || !strcmp(s, "311"))
		cfg->mqtt.protocol = TAPIR_MQTT_V311;
	else
		return fail(p, v, key, "must be auto, 5 or 3.1.1, not '%s'",
			excerpt(ex, s, len));
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

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
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
	return fail(p, v, key,
		"must be an octal mode from 0 to 0777 such as 0660, not '%s'",
		excerpt(ex, s, len));
}

static int
socket_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	const char *s;
	size_t len;
	int rc;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (len > max)
		return fail(p, v, key,
			"longer than %zu bytes, the limit for a Unix socket",
			max);
	return str_field(p, v, key, f, base);
}

static int
list_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc, list;

	(void)f;
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if ((list = tapir_list_from_str(s)) < 0)
		return fail(p, v, key,
			"must be allowlist, denylist or doubtlist, not '%s'",
			excerpt(ex, s, len));
	src->list = (enum tapir_list)list;
	return 0;
}

static int
type_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	(void)f;
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!strcmp(s, "mqtt")) {
		src->type = TAPIR_SOURCE_MQTT;
		return 0;
	}
	if (!strcmp(s, "file")) {
		src->type = TAPIR_SOURCE_FILE;
		return 0;
	}
	if (!strcmp(s, "xfr")) {
		src->type = TAPIR_SOURCE_XFR;
		return 0;
	}
	return fail(p, v, key, "must be mqtt, file or xfr, not '%s'",
		excerpt(ex, s, len));
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

static int
add_topic(struct parser *p, yaml_node_t *v, const char *key,
	struct tapir_source_config *src)
{
	char ex[EXCERPT_MAX + 4];
	const char *s, *why;
	size_t len;
	int rc;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if ((why = filter_problem(s, len)))
		return fail(p, v, key, "'%s' is not a valid topic filter: %s",
			excerpt(ex, s, len), why);
	if (src->n_topics >= TAPIR_MAX_TOPICS)
		return fail(p, v, key, "more than %d topics", TAPIR_MAX_TOPICS);
	if (!(src->topics[src->n_topics] = strdup(s)))
		return nomem(p);
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
		if (v->type == YAML_MAPPING_NODE || is_null(v))
			return fail(p, v, key,
				"must be a topic filter or a list of them");
		return add_topic(p, v, key, src);
	}
	if ((rc = check_tag(p, v, key)) != 0)
		return rc;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 || n > TAPIR_MAX_TOPICS)
		return fail(p, v, key, "must list 1 to %d topic filters",
			TAPIR_MAX_TOPICS);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			get_node(p, v->data.sequence.items.start[i]);

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		if (!item)
			return fail(p, v, ikey, "malformed list");
		if ((rc = add_topic(p, item, ikey, src)) != 0)
			return rc;
	}
	return 0;
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
		if ((rc = check_tag(p, v, key)) != 0)
			return rc;
		items = v->data.sequence.items.start;
		n = (size_t)(v->data.sequence.items.top - items);
	}
	if (n == 0 || is_null(v) || v->type == YAML_MAPPING_NODE)
		return fail(p, v, key, "must list at least one tag");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = v;
		const char *s;
		size_t len;
		int bit;

		snprintf(ikey, sizeof(ikey), "%s", key);
		if (v->type == YAML_SEQUENCE_NODE) {
			snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
			if (!(item = get_node(p, items[i])))
				return fail(p, v, ikey, "malformed list");
		}
		if ((rc = get_text(p, item, ikey, &s, &len)) != 0)
			return rc;
		if ((bit = tapir_config_tag_bit(p->cfg, s)) < 0)
			return fail(p, item, ikey,
				"unknown tag '%s' (name it under tags:)",
				excerpt(ex, s, len));
		*mask |= UINT32_C(1) << bit;
	}
	return 0;
}

static const struct field mqtt_fields[] = {
	{ .name = "broker", .fn = broker_field, .flags = F_REQUIRED },
	{ .name = "client-id", .fn = str_field, .off = CFG(mqtt.client_id) },
	{ .name = "ca-file", .fn = str_field, .off = CFG(mqtt.ca_file) },
	{ .name = "cert-file", .fn = str_field, .off = CFG(mqtt.cert_file) },
	{ .name = "key-file", .fn = str_field, .off = CFG(mqtt.key_file) },
	{ .name = "keepalive",
		.fn = int_field,
		.off = CFG(mqtt.keepalive),
		.type = INT_INT,
		.min = 5,
		.max = 3600 },
	{ .name = "protocol", .fn = protocol_field },
	{ .name = "reconnect-min",
		.fn = int_field,
		.off = CFG(mqtt.reconnect_min),
		.type = INT_INT,
		.min = 1,
		.max = 86400 },
	{ .name = "reconnect-max",
		.fn = int_field,
		.off = CFG(mqtt.reconnect_max),
		.type = INT_INT,
		.min = 1,
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
	if ((rc = walk_map(p, v, key, mqtt_fields, ARRAY_SIZE(mqtt_fields), cfg,
		     true, nodes)) != 0)
		return rc;
	if (cfg->mqtt.client_id) {
		len = strlen(cfg->mqtt.client_id);
		if (len > CLIENT_ID_MAX) {
			make_key(k, key, "client-id");
			return fail(p, nodes[M_CLIENT_ID], k,
				"longer than %d bytes", CLIENT_ID_MAX);
		}
	}
	/* A certificate is useless without its key and the other way round;
	 * libmosquitto would only fail at connect time. */
	if (cfg->mqtt.cert_file && !cfg->mqtt.key_file) {
		make_key(k, key, "key-file");
		return fail(p, nodes[M_CERT_FILE], k,
			"missing (required with cert-file)");
	}
	if (cfg->mqtt.key_file && !cfg->mqtt.cert_file) {
		make_key(k, key, "cert-file");
		return fail(p, nodes[M_KEY_FILE], k,
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
		make_key(k, key, tls_key);
		return fail(p, tls_node, k, "needs an mqtts:// broker");
	}
	if (cfg->mqtt.reconnect_min > cfg->mqtt.reconnect_max) {
		make_key(k, key, "reconnect-max");
		return fail(p,
			nodes[M_RECONNECT_MAX] ? nodes[M_RECONNECT_MAX]
					       : nodes[M_RECONNECT_MIN],
			k, "%d is less than reconnect-min (%d)",
			cfg->mqtt.reconnect_max, cfg->mqtt.reconnect_min);
	}
	return 0;
}

/* yes/no, true/false, on/off (YAML 1.1 booleans). */
static int
bool_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	bool *dst = (bool *)((char *)base + f->off);
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
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
	return fail(
		p, v, key, "must be yes or no, not '%s'", excerpt(ex, s, len));
}

static const char *const file_formats[] = { "domains", "hosts", "csv", "rpz" };

static int
format_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_source_config *src = base;
	char ex[EXCERPT_MAX + 4];
	const char *s;
	size_t len;
	int rc;

	(void)f;
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(file_formats); i++) {
		if (!strcasecmp(s, file_formats[i])) {
			src->format = (int)i;
			return 0;
		}
	}
	return fail(p, v, key, "must be domains, hosts, csv or rpz, not '%s'",
		excerpt(ex, s, len));
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
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (len != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r')
		return fail(p, v, key,
			"must be one character other than a quote or newline");
	src->csv_delim = s[0];
	return 0;
}

typedef int (*item_fn)(struct parser *p, yaml_node_t *item, const char *ikey,
	const char *s, size_t len, size_t i, void *ctx);

/*
 * A sequence (or one scalar) of text values: fn is called for each, with
 * its key ("key[i]" in a sequence). empty: the complaint for an empty
 * sequence; max: most items accepted.
 */
static int
each_text(struct parser *p, yaml_node_t *v, const char *key, const char *empty,
	size_t max, item_fn fn, void *ctx, size_t *count)
{
	yaml_node_item_t *items = NULL;
	char ikey[KEY_MAX];
	size_t n = 1;
	int rc;

	if (v->type == YAML_SEQUENCE_NODE) {
		if ((rc = check_tag(p, v, key)) != 0)
			return rc;
		items = v->data.sequence.items.start;
		n = (size_t)(v->data.sequence.items.top - items);
		if (n == 0)
			return fail(p, v, key, "%s", empty);
		if (n > max)
			return fail(p, v, key, "more than %zu items", max);
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = items ? get_node(p, items[i]) : v;
		const char *s;
		size_t len;
		if (items)
			snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		else
			snprintf(ikey, sizeof(ikey), "%s", key);
		if (!item)
			return fail(p, v, key, "malformed list");
		if ((rc = get_text(p, item, ikey, &s, &len)) != 0 ||
			(rc = fn(p, item, ikey, s, len, i, ctx)) != 0)
			return rc;
	}
	if (count)
		*count = n;
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
		return fail(p, item, ikey, "no source is named '%s'",
			excerpt(ex, s, len));
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
	return each_text(p, v, key, "must name at least one source",
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
		return fail(p, item, ikey,
			"must be allowlist, denylist or doubtlist, not '%s'",
			excerpt(ex, s, len));
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
	return each_text(p, v, key, "must name at least one list", 8, list_bit,
		mask, NULL);
}

#define SRC(member) offsetof(struct tapir_source_config, member)

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

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (inet_pton(AF_INET, s, addr) != 1 &&
		inet_pton(AF_INET6, s, addr) != 1)
		return fail(p, v, key, "'%s' is not an IPv4 or IPv6 address",
			excerpt(ex, s, len));
	return str_field(p, v, key, f, base);
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

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(tsig_algs); i++)
		if (!strcasecmp(s, tsig_algs[i]))
			return str_field(p, v, key, f, base);
	return fail(p, v, key,
		"must be hmac-sha256 (or hmac-sha512, -sha384, -sha224, -sha1, -md5), not '%s'",
		excerpt(ex, s, len));
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

	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (!is_base64(s, len))
		return fail(p, v, key, "not a base64 TSIG secret");
	return str_field(p, v, key, f, base);
}

static int read_config_file(
	const char *path, char **out, size_t *out_len, struct tapir_error *err);

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
	if ((rc = get_text(p, v, key, &s, &len)) != 0)
		return rc;
	if (read_config_file(s, &buf, &len, &ferr) != 0)
		return fail(p, v, key, "%s", ferr.text);
	for (b = buf, n = len; n && strchr(" \t\r\n", *b) && *b; b++, n--)
		;
	while (n && strchr(" \t\r\n", b[n - 1]) && b[n - 1])
		n--;
	if (!is_base64(b, n)) {
		free(buf);
		return fail(
			p, v, key, "%s does not hold a base64 TSIG secret", s);
	}
	free(src->tsig_secret);
	src->tsig_secret = strndup(b, n);
	free(buf);
	if (!src->tsig_secret)
		return nomem(p);
	return 0;
}

static const struct field source_fields[] = {
	{ .name = "name",
		.fn = ident_field,
		.off = SRC(name),
		.flags = F_REQUIRED },
	{ .name = "type", .fn = type_field },
	{ .name = "list", .fn = list_field, .flags = F_REQUIRED },
	{ .name = "topics", .fn = topics_field },
	{ .name = "qos",
		.fn = int_field,
		.off = SRC(qos),
		.type = INT_INT,
		.min = 0,
		.max = 2 },
	{ .name = "path", .fn = str_field, .off = SRC(path) },
	{ .name = "format", .fn = format_field },
	{ .name = "csv-column",
		.fn = int_field,
		.off = SRC(csv_column),
		.type = INT_UINT,
		.min = 1,
		.max = 1000 },
	{ .name = "csv-header", .fn = bool_field, .off = SRC(csv_header) },
	{ .name = "csv-delimiter", .fn = delim_field },
	{ .name = "origin", .fn = dname_field, .off = SRC(origin) },
	{ .name = "refresh",
		.fn = int_field,
		.off = SRC(refresh),
		.type = INT_UINT,
		.min = 1,
		.max = 86400 },
	{ .name = "max-size",
		.fn = int_field,
		.off = SRC(max_size),
		.type = INT_SIZE,
		.min = 1,
		.max = 4LL << 30 },
	{ .name = "primary", .fn = ip_field, .off = SRC(primary) },
	{ .name = "port",
		.fn = int_field,
		.off = SRC(port),
		.type = INT_INT,
		.min = 1,
		.max = 65535 },
	{ .name = "zone", .fn = dname_field, .off = SRC(zone) },
	{ .name = "tsig-name", .fn = dname_field, .off = SRC(tsig_name) },
	{ .name = "tsig-algorithm",
		.fn = tsig_alg_field,
		.off = SRC(tsig_alg) },
	{ .name = "tsig-secret",
		.fn = tsig_secret_field,
		.off = SRC(tsig_secret) },
	{ .name = "tsig-secret-file", .fn = tsig_secret_file_field },
	{ .name = "timeout",
		.fn = int_field,
		.off = SRC(timeout),
		.type = INT_UINT,
		.min = 1,
		.max = 3600 },
	{ .name = "log-only", .fn = bool_field, .off = SRC(log_only) },
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
		make_key(k, ikey, "primary");
		return fail(p, item, k, "missing (required for xfr sources)");
	}
	if (!src->zone[0]) {
		make_key(k, ikey, "zone");
		return fail(p, item, k, "missing (required for xfr sources)");
	}
	if (nodes[S_TSIG_SECRET] && nodes[S_TSIG_SECRET_FILE]) {
		make_key(k, ikey, "tsig-secret-file");
		return fail(p, nodes[S_TSIG_SECRET_FILE], k,
			"give tsig-secret or tsig-secret-file, not both");
	}
	if (src->tsig_name[0] && !src->tsig_secret) {
		make_key(k, ikey, "tsig-secret");
		return fail(p, item, k,
			"missing (tsig-name needs tsig-secret or tsig-secret-file)");
	}
	if (!src->tsig_name[0] &&
		(src->tsig_secret || nodes[S_TSIG_ALGORITHM])) {
		make_key(k, ikey, "tsig-name");
		return fail(p, item, k,
			"missing (a TSIG secret or algorithm needs a key name)");
	}
	if (src->tsig_name[0] && !src->tsig_alg &&
		!(src->tsig_alg = strdup("hmac-sha256")))
		return nomem(p);
	if (!src->port)
		src->port = 53;
	if (!src->timeout)
		src->timeout = 30;
	return 0;
}

static int
sources_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	yaml_node_t *nodes[NODES_MAX];
	char ikey[KEY_MAX], k[KEY_MAX];
	size_t n;
	int rc;

	(void)f;
	if (is_null(v))
		return 0;
	if ((rc = check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(p, v, key, "must be a list of sources, not %s",
			node_kind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			get_node(p, v->data.sequence.items.start[i]);
		struct tapir_source_config *src;

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		if (!item)
			return fail(p, v, ikey, "malformed list");
		if (cfg->n_sources == TAPIR_MAX_SOURCES)
			return fail(p, item, key, "more than %d sources",
				TAPIR_MAX_SOURCES);
		/* Counted before it is filled, so that destroy frees the
		 * topics of a source that fails half way. */
		src = &cfg->sources[cfg->n_sources++];
		if ((rc = walk_map(p, item, ikey, source_fields,
			     ARRAY_SIZE(source_fields), src, true, nodes)) != 0)
			return rc;
		if (src->type == TAPIR_SOURCE_MQTT && src->n_topics == 0) {
			make_key(k, ikey, "topics");
			return fail(p, item, k,
				"missing (required for mqtt sources)");
		}
		if (src->type == TAPIR_SOURCE_FILE && !src->path) {
			make_key(k, ikey, "path");
			return fail(p, item, k,
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
			make_key(k, ikey, source_fields[fk].name);
			return fail(p, nodes[fk], k, "only for %s sources",
				xfr_key ? "xfr" : "file");
		}
		if (src->type != TAPIR_SOURCE_MQTT && nodes[S_TOPICS]) {
			make_key(k, ikey, "topics");
			return fail(
				p, nodes[S_TOPICS], k, "only for mqtt sources");
		}
		if (!src->refresh)
			src->refresh = 10;
		if (!src->max_size)
			src->max_size = (size_t)256 << 20;
		for (size_t j = 0; j + 1 < cfg->n_sources; j++) {
			if (strcmp(cfg->sources[j].name, src->name) != 0)
				continue;
			make_key(k, ikey, "name");
			return fail(p, nodes[S_NAME], k,
				"duplicate source name '%s' (also %s[%zu])",
				src->name, key, j);
		}
	}
	return 0;
}

#define RULE(member) offsetof(struct tapir_rule_config, member)

static const struct field allow_fields[] = {
	{ .name = "action",
		.fn = action_field,
		.min = TAPIR_ACTION_PASSTHRU,
		.max = TAPIR_ACTION_PASSTHRU },
};

static const struct field deny_fields[] = {
	{ .name = "action",
		.fn = action_field,
		.off = CFG(policy.denylist_action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
};

static const struct field numsources_fields[] = {
	{ .name = "limit",
		.fn = int_field,
		.off = RULE(limit),
		.flags = F_REQUIRED,
		.type = INT_UINT,
		.min = 1,
		.max = TAPIR_MAX_SOURCES },
	{ .name = "action",
		.fn = action_field,
		.off = RULE(action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
};

static const struct field numtapirtags_fields[] = {
	{ .name = "limit",
		.fn = int_field,
		.off = RULE(limit),
		.flags = F_REQUIRED,
		.type = INT_UINT,
		.min = 1,
		.max = 32 },
	{ .name = "action",
		.fn = action_field,
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
		.fn = action_field,
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
	return check_tag(p, v, key);
}

#define NRULE(member) offsetof(struct tapir_named_rule, member)

static const struct field named_rule_fields[] = {
	{ .name = "name",
		.fn = ident_field,
		.off = NRULE(name),
		.flags = F_REQUIRED },
	{ .name = "action",
		.fn = action_field,
		.off = NRULE(action),
		.min = TAPIR_ACTION_REDIRECT,
		.max = TAPIR_ACTION_DROP },
	{ .name = "log-only", .fn = bool_field, .off = NRULE(log_only) },
	{ .name = "sources-min",
		.fn = int_field,
		.off = NRULE(sources_min),
		.type = INT_UINT,
		.min = 1,
		.max = TAPIR_MAX_SOURCES },
	{ .name = "sources",
		.fn = sourcelist_field,
		.off = NRULE(sources_mask) },
	{ .name = "tags-min",
		.fn = int_field,
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
	if (is_null(v))
		return 0;
	if ((rc = check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(p, v, key, "must be a list of rules, not %s",
			node_kind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			get_node(p, v->data.sequence.items.start[i]);
		struct tapir_named_rule *r;

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		if (!item)
			return fail(p, v, ikey, "malformed list");
		if (cfg->policy.n_rules == TAPIR_MAX_RULES)
			return fail(p, item, key, "more than %d rules",
				TAPIR_MAX_RULES);
		r = &cfg->policy.rules[cfg->policy.n_rules++];
		r->action = TAPIR_ACTION_NXDOMAIN;
		if ((rc = walk_map(p, item, ikey, named_rule_fields,
			     ARRAY_SIZE(named_rule_fields), r, true, nodes)) !=
			0)
			return rc;
		if (!r->sources_min && !r->tags_min && !r->tags_all &&
			!r->tags_any && !r->tags_none && !r->lists)
			return fail(p, item, ikey,
				"states no condition (sources-min, tags-min, tags-all, tags-any, tags-none or lists)");
		for (size_t j = 0; j + 1 < cfg->policy.n_rules; j++)
			if (!strcmp(cfg->policy.rules[j].name, r->name))
				return fail(p, item, ikey,
					"duplicate rule name '%s'", r->name);
	}
	return 0;
}

static const struct field policy_fields[] = {
	{ .name = "allowlist", .fn = allow_field, SUB(allow_fields) },
	{ .name = "denylist", .fn = map_field, SUB(deny_fields) },
	{ .name = "doubtlist", .fn = map_field, SUB(doubt_fields) },
	{ .name = "tapir-source",
		.fn = ident_field,
		.off = CFG(policy.tapir_source) },
	{ .name = "log-only", .fn = bool_field, .off = CFG(policy.log_only) },
	{ .name = "rules", .fn = rules_field },
	/* Upstream pop-policy.yaml's own log; this module logs through
	 * Unbound. Accepted so that the file is read unchanged. */
	{ .name = "logfile", .fn = ignored_field },
};

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
static int
policy_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	yaml_node_t *nodes[NODES_MAX], *where;
	char k[KEY_MAX];
	int rc, i;

	(void)f;
	if (p->policy_seen)
		return fail(p, v, key,
			"given twice (here and in upstream.policy's file)");
	p->policy_seen = true;
	if ((rc = walk_map(p, v, key, policy_fields, ARRAY_SIZE(policy_fields),
		     cfg, true, nodes)) != 0)
		return rc;
	if (!cfg->policy.numtapirtags.enabled && !cfg->policy.denytapir.enabled)
		return 0;
	where = nodes[P_TAPIR_SOURCE] ? nodes[P_TAPIR_SOURCE]
				      : nodes[P_DOUBTLIST];
	make_key(k, key, "tapir-source");
	if ((i = tapir_config_source_index(cfg, cfg->policy.tapir_source)) < 0)
		return fail(p, where, k,
			"no source is named '%s' (numtapirtags and denytapir read its tags)",
			cfg->policy.tapir_source);
	if (cfg->sources[i].list != TAPIR_LIST_DOUBT)
		return fail(p, where, k, "source '%s' is not a doubtlist",
			cfg->policy.tapir_source);
	return 0;
}

/*
 * "tags:" maps names to bits. One name per bit, so that tag_names[] can
 * show it; more than 32 entries therefore always fail, which also bounds
 * the duplicate check below.
 */
static int
tags_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	char ex[EXCERPT_MAX + 4], tkey[KEY_MAX];
	int rc;

	(void)f;
	if (is_null(v))
		return 0;
	if ((rc = check_tag(p, v, key)) != 0)
		return rc;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, key,
			"must be a mapping of tag names to bit numbers, not %s",
			node_kind(v));
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = get_node(p, pair->key);
		yaml_node_t *val = get_node(p, pair->value);
		const char *ks;
		size_t klen;
		long long bit;

		if (!k || !val)
			return fail(p, v, key, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail(p, k, key, "keys must be names, not %s",
				node_kind(k));
		ks = scalar_text(k);
		klen = k->data.scalar.length;
		make_key(tkey, key, excerpt(ex, ks, klen));
		if (!valid_ident(ks, klen, IDENT_MAX) || all_digits(ks, klen))
			return fail(p, k, tkey,
				"a tag name is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-', not all digits",
				IDENT_MAX);
		if ((rc = get_int(p, val, tkey, 0, 31, &bit)) != 0)
			return rc;
		for (int b = 0; b < 32; b++)
			if ((p->tags_named & (UINT32_C(1) << b)) &&
				!strcasecmp(cfg->tag_names[b], ks))
				return fail(p, k, tkey, "duplicate key");
		if (p->tags_named & (UINT32_C(1) << bit))
			return fail(p, val, tkey,
				"bit %lld is already named '%s'", bit,
				cfg->tag_names[bit]);
		if (!(cfg->tag_names[bit] = strdup(ks)))
			return nomem(p);
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
static int
fill_tag_names(struct parser *p)
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
			return nomem(p);
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
		return fail(p, item, ikey, "'%s' is not an %s address",
			excerpt(ex, s, len), six ? "IPv6" : "IPv4");
	return 0;
}

/* redirect-a / redirect-aaaa: one address or a list of them. */
static int
redirect_field(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	struct tapir_config *cfg = base;
	bool six = f->type != 0;

	return each_text(p, v, key, "must list 1 to 8 addresses",
		TAPIR_MAX_REDIRECT, redirect_addr, &six,
		six ? &cfg->answer.n_redirect_aaaa : &cfg->answer.n_redirect_a);
}

static const struct field answer_fields[] = {
	{ .name = "negative-ttl",
		.fn = int_field,
		.off = CFG(answer.negative_ttl),
		.type = INT_U32,
		.min = 0,
		.max = 86400 },
	{ .name = "soa-mname",
		.fn = dname_field,
		.off = CFG(answer.soa_mname) },
	{ .name = "soa-rname",
		.fn = dname_field,
		.off = CFG(answer.soa_rname) },
	{ .name = "redirect-a", .fn = redirect_field },
	{ .name = "redirect-aaaa", .fn = redirect_field, .type = 1 },
	{ .name = "redirect-cname",
		.fn = dname_field,
		.off = CFG(answer.redirect_cname) },
};

static const struct field limits_fields[] = {
	{ .name = "max-message-size",
		.fn = int_field,
		.off = CFG(limits.max_message_size),
		.type = INT_SIZE,
		.min = 512,
		.max = 1048576 },
	{ .name = "max-entries",
		.fn = int_field,
		.off = CFG(limits.max_entries),
		.type = INT_SIZE,
		.min = 1,
		.max = 1000000000 },
	{ .name = "queue-length",
		.fn = int_field,
		.off = CFG(limits.queue_length),
		.type = INT_SIZE,
		.min = 1,
		.max = 1000000 },
};

static const struct field control_fields[] = {
	{ .name = "socket", .fn = socket_field, .off = CFG(control.socket) },
	{ .name = "mode", .fn = mode_field, .off = CFG(control.mode) },
	{ .name = "group", .fn = str_field, .off = CFG(control.group) },
	{ .name = "owner", .fn = str_field, .off = CFG(control.owner) },
};

static const struct field core_status_fields[] = {
	{ .name = "topic",
		.fn = str_field,
		.off = CFG(core_status.topic),
		.flags = F_REQUIRED },
	{ .name = "interval",
		.fn = int_field,
		.off = CFG(core_status.interval),
		.type = INT_UINT,
		.min = 10,
		.max = 86400 },
	{ .name = "signing-key",
		.fn = str_field,
		.off = CFG(core_status.key_file),
		.flags = F_REQUIRED },
};

static const struct field logging_fields[] = {
	{ .name = "blocked-queries",
		.fn = bool_field,
		.off = CFG(logging.blocked) },
	{ .name = "client-address",
		.fn = bool_field,
		.off = CFG(logging.client) },
};

/* In processing order: tags before policy, sources before policy. */
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

static int read_config_file(
	const char *path, char **out, size_t *out_len, struct tapir_error *err);
static int syntax_fail(
	struct parser *p, const yaml_parser_t *yp, const char *buf, size_t len);
static int check_one_document(
	struct parser *p, yaml_parser_t *yp, const char *buf, size_t len);

static int
load_sub(struct parser *p, yaml_node_t *at, const char *key, const char *path,
	sub_fn fn)
{
	struct parser sub = { .name = shown_name(path),
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

	if ((rc = read_config_file(path, &buf, &len, &ferr)) != 0)
		return fail(p, at, key, "%s", ferr.text);
	if (!yaml_parser_initialize(&yp)) {
		free(buf);
		return nomem(p);
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = syntax_fail(&sub, &yp, buf, len);
	} else {
		sub.doc = &doc;
		sub.root = yaml_document_get_root_node(&doc);
		if ((rc = check_one_document(&sub, &yp, buf, len)) == 0)
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

	make_key(k, ikey, "upstream");
	if (!nodes[U_UPSTREAM])
		return fail(p, item, k, "missing (required for xfr sources)");
	if ((rc = get_text(p, nodes[U_UPSTREAM], k, &s, &len)) != 0)
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
		return nomem(p);
	src->port = (int)port;
	src->timeout = 30;
	make_key(k, ikey, "zone");
	if (!nodes[U_ZONE])
		return fail(p, item, k, "missing (required for xfr sources)");
	{
		struct field zf = { .off = SRC(zone) };
		return dname_field(p, nodes[U_ZONE], k, &zf, src);
	}

out_bad:
	return fail(p, nodes[U_UPSTREAM], k,
		"'%s' is not an IP address with an optional :port",
		excerpt(ex, s, len));
}

static bool
in_active_list(struct parser *p, yaml_node_t *list, const char *ks, size_t klen)
{
	for (yaml_node_item_t *it = list->data.sequence.items.start;
		it < list->data.sequence.items.top; it++) {
		yaml_node_t *n = get_node(p, *it);
		if (n && n->type == YAML_SCALAR_NODE &&
			n->data.scalar.length == klen &&
			!memcmp(scalar_text(n), ks, klen))
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
	int rc;

	if ((rc = walk_map(p, item, ikey, up_source_fields,
		     ARRAY_SIZE(up_source_fields), NULL, false, nodes)) != 0)
		return rc;
	if (nodes[U_ACTIVE]) {
		struct field bf = { .off = 0 };
		make_key(k, ikey, "active");
		if ((rc = bool_field(p, nodes[U_ACTIVE], k, &bf, &active)) != 0)
			return rc;
		if (!active)
			return 0;
	}
	if (cfg->n_sources == TAPIR_MAX_SOURCES)
		return fail(p, item, ikey, "more than %d sources",
			TAPIR_MAX_SOURCES);
	src = &cfg->sources[cfg->n_sources++];
	make_key(k, ikey, "name");
	{
		struct field nf = { .off = SRC(name) };
		if ((rc = ident_field(p, nodes[U_NAME], k, &nf, src)) != 0)
			return rc;
	}
	make_key(k, ikey, "type");
	if ((rc = list_field(p, nodes[U_TYPE], k, NULL, src)) != 0)
		return rc;
	if (nodes[U_FORMAT]) {
		make_key(k, ikey, "format");
		if ((rc = get_text(p, nodes[U_FORMAT], k, &fmt, &len)) != 0)
			return rc;
	}
	make_key(k, ikey, "source");
	if ((rc = get_text(p, nodes[U_SOURCE], k, &how, &len)) != 0)
		return rc;
	if (!strcmp(how, "mqtt")) {
		src->type = TAPIR_SOURCE_MQTT;
		make_key(k, ikey, "topic");
		if (!nodes[U_TOPIC])
			return fail(p, item, k,
				"missing (required for mqtt sources)");
		if ((rc = add_topic(p, nodes[U_TOPIC], k, src)) != 0)
			return rc;
	} else if (!strcmp(how, "file")) {
		src->type = TAPIR_SOURCE_FILE;
		make_key(k, ikey, "filename");
		if (!nodes[U_FILENAME])
			return fail(p, item, k,
				"missing (required for file sources)");
		{
			struct field pf = { .off = SRC(path) };
			if ((rc = str_field(
				     p, nodes[U_FILENAME], k, &pf, src)) != 0)
				return rc;
		}
		make_key(k, ikey, "format");
		if (!fmt || !strcmp(fmt, "domains")) {
			src->format = 0;
		} else if (!strcmp(fmt, "csv")) {
			/* Upstream's CSV: a header row, the name second. */
			src->format = 2;
			src->csv_header = true;
			src->csv_column = 2;
		} else {
			return fail(p, nodes[U_FORMAT], k,
				"'%s' files are not supported (domains, csv)",
				excerpt(ex, fmt, strlen(fmt)));
		}
		src->refresh = 10;
		src->max_size = (size_t)256 << 20;
	} else if (!strcmp(how, "xfr")) {
		src->type = TAPIR_SOURCE_XFR;
		if ((rc = up_xfr(p, item, ikey, nodes, src)) != 0)
			return rc;
	} else {
		return fail(p, nodes[U_SOURCE], k,
			"must be mqtt, file or xfr, not '%s'",
			excerpt(ex, how, len));
	}
	for (size_t j = 0; j + 1 < cfg->n_sources; j++)
		if (!strcmp(cfg->sources[j].name, src->name)) {
			make_key(k, ikey, "name");
			return fail(p, nodes[U_NAME], k,
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

	if ((rc = walk_map(sub, root, "", f, 1, NULL, false, nodes)) != 0)
		return rc;
	v = nodes[0];
	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(sub, v, "sources",
			"must be a mapping of sources, not %s", node_kind(v));
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = get_node(sub, pair->key);
		yaml_node_t *val = get_node(sub, pair->value);
		if (k && val && k->type == YAML_SCALAR_NODE &&
			!strcmp(scalar_text(k), "active") &&
			val->type == YAML_SEQUENCE_NODE)
			active = val;
	}
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = get_node(sub, pair->key);
		yaml_node_t *val = get_node(sub, pair->value);
		const char *ks;
		size_t klen;
		if (!k || !val || k->type != YAML_SCALAR_NODE)
			return fail(sub, v, "sources", "malformed mapping");
		ks = scalar_text(k);
		klen = k->data.scalar.length;
		if (val == active)
			continue;
		snprintf(ikey, sizeof(ikey), "sources.%s",
			excerpt(ex, ks, klen));
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
	static const struct field f[] = {
		{ .name = "policy", .fn = policy_section, .flags = F_REQUIRED }
	};
	yaml_node_t *nodes[NODES_MAX];

	return walk_map(sub, root, "", f, 1, sub->cfg, true, nodes);
}

static int
upstream_section(struct parser *p, yaml_node_t *v, const char *key,
	const struct field *f, void *base)
{
	static const struct field fields[] = { { .name = "sources" },
		{ .name = "policy" } };
	yaml_node_t *nodes[NODES_MAX];
	char k[KEY_MAX];
	const char *path;
	size_t len;
	int rc;

	(void)f;
	(void)base;
	if ((rc = walk_map(p, v, key, fields, 2, NULL, false, nodes)) != 0)
		return rc;
	if (nodes[0]) {
		make_key(k, key, "sources");
		if ((rc = get_text(p, nodes[0], k, &path, &len)) != 0 ||
			(rc = load_sub(
				 p, nodes[0], k, path, up_sources_root)) != 0)
			return rc;
	}
	if (nodes[1]) {
		make_key(k, key, "policy");
		if ((rc = get_text(p, nodes[1], k, &path, &len)) != 0 ||
			(rc = load_sub(p, nodes[1], k, path, up_policy_root)) !=
				0)
			return rc;
	}
	return 0;
}

static const struct field top_fields[] = {
	{ .name = "tags", .fn = tags_section },
	{ .name = "mqtt", .fn = mqtt_section, .flags = F_REQUIRED },
	{ .name = "keys",
		.fn = str_field,
		.off = CFG(keys_file),
		.flags = F_REQUIRED },
	{ .name = "sources", .fn = sources_section },
	/* After sources (adds to them), before policy (may provide it). */
	{ .name = "upstream", .fn = upstream_section },
	{ .name = "policy", .fn = policy_section },
	{ .name = "answer", .fn = map_field, SUB(answer_fields) },
	{ .name = "limits", .fn = map_field, SUB(limits_fields) },
	{ .name = "control", .fn = map_field, SUB(control_fields) },
	{ .name = "logging", .fn = map_field, SUB(logging_fields) },
	{ .name = "state-dir", .fn = str_field, .off = CFG(state_dir) },
	{ .name = "core-status", .fn = map_field, SUB(core_status_fields) },
};

_Static_assert(ARRAY_SIZE(top_fields) <= NODES_MAX, "top level too big");
_Static_assert(ARRAY_SIZE(mqtt_fields) <= NODES_MAX, "mqtt too big");
_Static_assert(ARRAY_SIZE(source_fields) <= NODES_MAX, "source too big");

static void
set_defaults(struct tapir_config *cfg)
{
	cfg->mqtt.keepalive = 30;
	cfg->mqtt.protocol = TAPIR_MQTT_AUTO;
	cfg->mqtt.reconnect_min = 1;
	cfg->mqtt.reconnect_max = 60;
	cfg->policy.denylist_action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.numsources.action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.numtapirtags.action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.denytapir.action = TAPIR_ACTION_NXDOMAIN;
	snprintf(cfg->policy.tapir_source, sizeof(cfg->policy.tapir_source),
		"%s", "dns-tapir");
	cfg->answer.negative_ttl = 60;
	snprintf(cfg->answer.soa_mname, sizeof(cfg->answer.soa_mname), "%s",
		"tapir-pop.invalid");
	snprintf(cfg->answer.soa_rname, sizeof(cfg->answer.soa_rname), "%s",
		"hostmaster.tapir-pop.invalid");
	cfg->limits.max_message_size = 65536;
	cfg->limits.max_entries = 10000000;
	cfg->limits.queue_length = 10000;
	cfg->control.mode = 0660;
	cfg->core_status.interval = 60;
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
		return nomem(p);
	return 0;
}

static int
walk_root(struct parser *p)
{
	yaml_node_t *nodes[NODES_MAX];
	int rc;

	p->root = yaml_document_get_root_node(p->doc);
	if ((rc = walk_map(p, p->root, "", top_fields, ARRAY_SIZE(top_fields),
		     p->cfg, false, nodes)) != 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(top_fields); i++) {
		const struct field *f = &top_fields[i];

		if (nodes[i] &&
			(rc = f->fn(p, nodes[i], f->name, f, p->cfg)) != 0)
			return rc;
		/* Before policy: denytapir's names resolve against these. */
		if (f->fn == tags_section && (rc = fill_tag_names(p)) != 0)
			return rc;
	}
	if (!p->cfg->mqtt.client_id)
		return default_client_id(p);
	return 0;
}

/* libyaml's reason, at libyaml's line. Reader errors (bad UTF-8, control
 * characters) carry a byte offset instead of a line: count to it. */
static int
syntax_fail(
	struct parser *p, const yaml_parser_t *yp, const char *buf, size_t len)
{
	const char *problem = yp->problem ? yp->problem : "unknown problem";
	char why[WHY_MAX];
	size_t offset;
	int line;

	if (yp->error == YAML_MEMORY_ERROR)
		return nomem(p);
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
static int
check_one_document(
	struct parser *p, yaml_parser_t *yp, const char *buf, size_t len)
{
	yaml_document_t extra;
	const yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_load(yp, &extra))
		return syntax_fail(p, yp, buf, len);
	if ((root = yaml_document_get_root_node(&extra)))
		rc = fail(p, root, NULL, "only one YAML document is allowed");
	yaml_document_delete(&extra);
	return rc;
}

int
tapir_action_from_str(const char *s)
{
	if (!s)
		return -1;
	/* PASS is the absence of a decision, not something to configure. */
	for (int a = TAPIR_ACTION_PASSTHRU; a < TAPIR_ACTION_COUNT; a++)
		if (!strcasecmp(s, action_names[a]))
			return a;
	/* Upstream's pop-policy.yaml writes the allowlist's action so. */
	if (!strcasecmp(s, "allowlist"))
		return TAPIR_ACTION_PASSTHRU;
	return -1;
}

const char *
tapir_action_str(enum tapir_action a)
{
	if ((unsigned)a >= TAPIR_ACTION_COUNT)
		return "UNKNOWN";
	return action_names[a];
}

struct tapir_config *
tapir_config_parse(
	const char *buf, size_t len, const char *name, struct tapir_error *err)
{
	struct parser p = { .name = shown_name(name), .err = err };
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
		nomem(&p);
		return NULL;
	}
	p.cfg = cfg;
	set_defaults(cfg);
	if (name && !(cfg->path = strdup(name))) {
		rc = nomem(&p);
		goto out_destroy;
	}
	if (!yaml_parser_initialize(&yp)) {
		rc = nomem(&p);
		goto out_destroy;
	}
	yaml_parser_set_input_string(
		&yp, (const unsigned char *)(buf ? buf : ""), len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = syntax_fail(&p, &yp, buf, len);
		goto out_parser;
	}
	p.doc = &doc;
	if ((rc = check_one_document(&p, &yp, buf, len)) == 0)
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
 * CONFIG_MAX_SIZE bytes. */
static int
read_config_file(
	const char *path, char **out, size_t *out_len, struct tapir_error *err)
{
	size_t len = 0, cap = 4096;
	char *buf, *nbuf;
	int fd, e, rc = 0;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		return tapir_error_set(err, TAPIR_EIO, 0, "%s: %s",
			shown_name(path), strerror(e));
	}
	if (!(buf = malloc(cap))) {
		close(fd);
		return tapir_error_set(err, TAPIR_ENOMEM, 0,
			"%s: out of memory", shown_name(path));
	}
	/* Reads one byte past the limit, to tell "exactly 1 MiB" from
	 * "larger". */
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > CONFIG_MAX_SIZE) {
				rc = tapir_error_set(err, TAPIR_ETOOBIG, 0,
					"%s: larger than %d bytes",
					shown_name(path), CONFIG_MAX_SIZE);
				break;
			}
			cap = cap * 2 > CONFIG_MAX_SIZE ? CONFIG_MAX_SIZE + 1
							: cap * 2;
			if (!(nbuf = realloc(buf, cap))) {
				rc = tapir_error_set(err, TAPIR_ENOMEM, 0,
					"%s: out of memory", shown_name(path));
				break;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			rc = tapir_error_set(err, TAPIR_EIO, 0, "%s: %s",
				shown_name(path), strerror(e));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
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
	if (read_config_file(path, &buf, &len, err) != 0)
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
	free(cfg->state_dir);
	free(cfg);
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

int
tapir_config_tag_bit(const struct tapir_config *cfg, const char *name)
{
	if (!name || !*name)
		return -1;
	/* Configured names first: "tags:" may give a built-in name to
	 * another bit, and fill_tag_names() keeps tag_names[] free of
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
