/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared vocabulary (lib/vocab.h): one name table per enum and the
 * lookups every part of libtapir uses, so that a name is written once.
 */
#include "tapir_build.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lib/vocab.h"

static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool
tapir_vocab_caseeq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (ascii_lower((unsigned char)*a) !=
			ascii_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

int
tapir_vocab_value(const struct tapir_vocab *v, const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		const char *name = v->names[i];

		if (name && (v->fold_case ? tapir_vocab_caseeq(s, name)
					  : !strcmp(s, name)))
			return (int)i;
	}
	return -1;
}

const char *
tapir_vocab_name(const struct tapir_vocab *v, int value)
{
	if (value < 0 || (size_t)value >= v->n || !v->names[value])
		return v->absent;
	return v->names[value];
}

static const char *const action_names[TAPIR_ACTION_COUNT] = {
	[TAPIR_ACTION_PASS] = "PASS",
	[TAPIR_ACTION_PASSTHRU] = "PASSTHRU",
	[TAPIR_ACTION_REDIRECT] = "REDIRECT",
	[TAPIR_ACTION_NODATA] = "NODATA",
	[TAPIR_ACTION_NXDOMAIN] = "NXDOMAIN",
	[TAPIR_ACTION_DROP] = "DROP",
};

static const struct tapir_vocab actions = { action_names,
	TAPIR_VOCAB_N(action_names), true, "UNKNOWN" };

int
tapir_action_from_str(const char *s)
{
	int a = tapir_vocab_value(&actions, s);

	/* PASS is the absence of a decision, not something to configure. */
	if (a == TAPIR_ACTION_PASS)
		return -1;
	/* Upstream's pop-policy.yaml writes the allowlist's action so. */
	if (a < 0 && s && tapir_vocab_caseeq(s, "allowlist"))
		return TAPIR_ACTION_PASSTHRU;
	return a;
}

const char *
tapir_action_str(enum tapir_action a)
{
	return tapir_vocab_name(&actions, (int)a);
}

static const char *const list_names[TAPIR_LIST_COUNT] = {
	[TAPIR_LIST_ALLOW] = "allowlist",
	[TAPIR_LIST_DENY] = "denylist",
	[TAPIR_LIST_DOUBT] = "doubtlist",
};

/* The pre-2025 names, same order. */
static const char *const list_old_names[TAPIR_LIST_COUNT] = {
	[TAPIR_LIST_ALLOW] = "whitelist",
	[TAPIR_LIST_DENY] = "blacklist",
	[TAPIR_LIST_DOUBT] = "greylist",
};

static const struct tapir_vocab lists = { list_names, TAPIR_VOCAB_N(list_names),
	true, "unknown" };
static const struct tapir_vocab old_lists = { list_old_names,
	TAPIR_VOCAB_N(list_old_names), true, "unknown" };

int
tapir_list_from_str(const char *s)
{
	int list = tapir_vocab_value(&lists, s);

	return list >= 0 ? list : tapir_vocab_value(&old_lists, s);
}

const char *
tapir_list_str(enum tapir_list list)
{
	return tapir_vocab_name(&lists, (int)list);
}

static const char *const source_type_names[TAPIR_SOURCE_TYPE_COUNT] = {
	[TAPIR_SOURCE_MQTT] = "mqtt",
	[TAPIR_SOURCE_FILE] = "file",
	[TAPIR_SOURCE_XFR] = "xfr",
};

static const struct tapir_vocab source_types = { source_type_names,
	TAPIR_VOCAB_N(source_type_names), false, "?" };

int
tapir_source_type_from_str(const char *s)
{
	return tapir_vocab_value(&source_types, s);
}

const char *
tapir_source_type_str(enum tapir_source_type t)
{
	return tapir_vocab_name(&source_types, (int)t);
}

static const char *const format_names[TAPIR_FORMAT_COUNT] = {
	[TAPIR_FORMAT_DOMAINS] = "domains",
	[TAPIR_FORMAT_HOSTS] = "hosts",
	[TAPIR_FORMAT_CSV] = "csv",
	[TAPIR_FORMAT_RPZ] = "rpz",
};

static const struct tapir_vocab formats = { format_names,
	TAPIR_VOCAB_N(format_names), false, "?" };
static const struct tapir_vocab formats_icase = { format_names,
	TAPIR_VOCAB_N(format_names), true, "?" };

int
tapir_file_format_from_str(const char *s)
{
	return tapir_vocab_value(&formats, s);
}

const char *
tapir_file_format_str(enum tapir_file_format f)
{
	return tapir_vocab_name(&formats, (int)f);
}

int
tapir__file_format_from_str_icase(const char *s)
{
	return tapir_vocab_value(&formats_icase, s);
}
