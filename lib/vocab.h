/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The words every part of libtapir shares: actions, lists, source types and
 * list-file formats, each an enum with its names, and the one name-table
 * helper they are all looked up with. It sits at the bottom of the include
 * graph (nothing but the C library below it), so a header that needs one of
 * these enums includes this, not the configuration.
 *
 * Case rules, as each word has always been read: actions and lists in any
 * ASCII case, source types exactly; formats exactly in
 * tapir_file_format_from_str() and in any case in the configuration.
 *
 * Thread safety: the tables are constant; every function is reentrant.
 */
#ifndef TAPIR_VOCAB_H
#define TAPIR_VOCAB_H

#include <stdbool.h>
#include <stddef.h>

/* Actions, ordered from least to most restrictive: the numeric order is the
 * "most restrictive fired action wins" order of the upstream policy. */
enum tapir_action {
	TAPIR_ACTION_PASS = 0,	   /* no decision: resolve normally */
	TAPIR_ACTION_PASSTHRU = 1, /* explicitly allowed (allowlist) */
	TAPIR_ACTION_REDIRECT = 2,
	TAPIR_ACTION_NODATA = 3,
	TAPIR_ACTION_NXDOMAIN = 4,
	TAPIR_ACTION_DROP = 5,
	TAPIR_ACTION_COUNT = 6,
};

/** "NXDOMAIN", "nxdomain", ... → action, or -1. */
int tapir_action_from_str(const char *s);
/** Upper-case name of an action. */
const char *tapir_action_str(enum tapir_action a);

enum tapir_list {
	TAPIR_LIST_ALLOW = 0,
	TAPIR_LIST_DENY = 1,
	TAPIR_LIST_DOUBT = 2,
	TAPIR_LIST_COUNT = 3,
};

/** "allowlist"/"denylist"/"doubtlist" (and the old names) → list, or -1. */
int tapir_list_from_str(const char *s);
/** The current name of a list. */
const char *tapir_list_str(enum tapir_list list);

enum tapir_source_type {
	TAPIR_SOURCE_MQTT = 0,
	TAPIR_SOURCE_FILE = 1,
	TAPIR_SOURCE_XFR = 2,
	TAPIR_SOURCE_TYPE_COUNT = 3,
};

/** "mqtt", "file" or "xfr" (exact, lower case) → type, or -1. */
int tapir_source_type_from_str(const char *s);
/** Configuration name of a source type, "?" if out of range. */
const char *tapir_source_type_str(enum tapir_source_type t);

enum tapir_file_format {
	TAPIR_FORMAT_DOMAINS = 0, /* one name a line, "*.name" for subtrees */
	TAPIR_FORMAT_HOSTS = 1,	  /* "0.0.0.0 name [name...]" */
	TAPIR_FORMAT_CSV = 2,	  /* the name in one column of each row */
	TAPIR_FORMAT_RPZ = 3,	  /* an RPZ zone file, QNAME triggers */
};
/* Not an enum value, so that a switch on a format must name every one. */
#define TAPIR_FORMAT_COUNT 4

/**
 * Format from its configuration name.
 * @param s: "domains", "hosts", "csv" or "rpz" (exact, lower case).
 * @return: an enum tapir_file_format, or -1 for NULL or anything else.
 */
int tapir_file_format_from_str(const char *s);

/** Configuration name of a format ("domains"...), "?" if out of range. */
const char *tapir_file_format_str(enum tapir_file_format f);

/** tapir_file_format_from_str() in any ASCII case: the configuration's
 * "format:" has always been read so. */
int tapir__file_format_from_str_icase(const char *s);

/**
 * A name table: names[value] is the name of value (NULL: a value without a
 * name, never found by a lookup).
 */
struct tapir_vocab {
	const char *const *names; /* borrowed, static */
	size_t n;
	bool fold_case;	    /* lookups ignore ASCII case */
	const char *absent; /* the name of a value outside the table */
};

/** Number of entries of a static array, for struct tapir_vocab.n. */
#define TAPIR_VOCAB_N(a) (sizeof(a) / sizeof((a)[0]))

/** Equal but for the case of ASCII letters, whatever the locale: the
 * "any case" rule of the tables. */
bool tapir_vocab_caseeq(const char *a, const char *b);

/**
 * Name → value under the table's case rule.
 * @return: the value, or -1 for NULL or an unknown name.
 */
int tapir_vocab_value(const struct tapir_vocab *v, const char *s);

/** Value → name; v->absent for a value outside the table or unnamed. */
const char *tapir_vocab_name(const struct tapir_vocab *v, int value);

#endif
