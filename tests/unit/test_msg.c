/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/msg.c: the upstream vector, every producer quirk that
 * lib/msg.h names, each envelope rejection with its error code, each reason
 * an entry is dropped, RFC 3339 times, and hostile JSON. Each test parses
 * into its own struct and clears it; the file runs leak-free under valgrind.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/msg.h"

/*
 * The payload of observation-globally_new_signed.json from the DNS TAPIR
 * interoperability vectors, base64url-decoded once: the exact shape the
 * core's observation encoder emits.
 */
static const char upstream_vector[] =
	"{\"src_name\":\"dns-tapir\",\"creator\":\"observation-encoder\","
	"\"msg_type\":\"observation\",\"list_type\":\"doubtlist\","
	"\"added\":[{\"name\":\"xn--exmple-cua.example.se\","
	"\"time_added\":\"2026-07-20T09:15:02.123456789Z\",\"ttl\":3607,"
	"\"tag_mask\":1,\"extended_tags\":[]}],\"removed\":[],\"msg\":\"\","
	"\"timestamp\":\"2026-07-20T09:15:02.123460512Z\",\"time_str\":\"\"}";

/* 2026-07-20T09:15:02Z */
#define T_VECTOR 1784538902LL

/* An envelope around the given added array text. */
#define ENVELOPE(added)                                                        \
	"{\"src_name\":\"dns-tapir\",\"msg_type\":\"observation\","            \
	"\"list_type\":\"doubtlist\",\"added\":" added "}"

/* An added array with one entry whose last members are given. */
#define ENTRY(rest)                                                            \
	ENVELOPE("[{\"name\":\"a.example\","                                   \
		 "\"time_added\":\"2026-07-20T09:15:02Z\"" rest "}]")

static int
parse(const char *json, struct tapir_msg *m, struct tapir_error *err)
{
	return tapir_msg_parse(json, strlen(json), m, err);
}

/* Parses json, expects success with no valid entry and one dropped entry
 * whose reason is want. */
static void
assert_entry_dropped(const char *json, const char *want)
{
	struct tapir_msg m;
	struct tapir_error err;

	assert_int_equal(parse(json, &m, &err), 0);
	assert_int_equal(m.n_added, 0);
	assert_null(m.added);
	assert_int_equal(m.n_invalid, 1);
	assert_string_equal(m.first_invalid, want);
	tapir_msg_clear(&m);
}

/* Parses json, expects code, a zeroed msg and a reason starting with want. */
static void
assert_rejected(const char *json, size_t len, int code, const char *want)
{
	struct tapir_msg m, zero;
	struct tapir_error err;

	memset(&zero, 0, sizeof(zero));
	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(tapir_msg_parse(json, len, &m, &err), code);
	assert_memory_equal(&m, &zero, sizeof(m));
	if (want)
		assert_memory_equal(err.text, want, strlen(want));
}

static void
test_parse_upstream_vector(void **state)
{
	struct tapir_msg m;
	struct tapir_error err;

	(void)state;
	assert_int_equal(parse(upstream_vector, &m, &err), 0);
	assert_string_equal(m.src_name, "dns-tapir");
	assert_int_equal(m.msg_type, TAPIR_MSG_OBSERVATION);
	assert_int_equal(m.list, TAPIR_LIST_DOUBT);
	assert_int_equal(m.timestamp, T_VECTOR);
	assert_true(m.has_timestamp);
	assert_int_equal(m.n_added, 1);
	assert_string_equal(m.added[0].name, "xn--exmple-cua.example.se");
	assert_false(m.added[0].wildcard);
	assert_int_equal(m.added[0].time_added, T_VECTOR);
	assert_int_equal(m.added[0].ttl, 3607);
	assert_int_equal(m.added[0].tag_mask, 1);
	assert_int_equal(m.n_removed, 0);
	assert_null(m.removed);
	assert_int_equal(m.n_invalid, 0);
	assert_string_equal(m.first_invalid, "");
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_trailing_newline(void **state)
{
	char buf[sizeof(upstream_vector) + 1];
	struct tapir_msg m;

	(void)state;
	memcpy(buf, upstream_vector, sizeof(upstream_vector) - 1);
	buf[sizeof(upstream_vector) - 1] = '\n';
	/* Not NUL-terminated: len is all there is. */
	assert_int_equal(
		tapir_msg_parse(buf, sizeof(upstream_vector), &m, NULL), 0);
	assert_int_equal(m.n_added, 1);
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_capitalised_name_key(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse(ENVELOPE("[{\"Name\":\"a.example\","
			       "\"time_added\":\"2026-07-20T09:15:02Z\","
			       "\"ttl\":60}]"),
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	assert_string_equal(m.added[0].name, "a.example");
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_go_field_names(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(parse("{\"SrcName\":\"dns-tapir\",\"Creator\":\"x\","
			       "\"MsgType\":\"observation\","
			       "\"ListType\":\"denylist\",\"Added\":[{"
			       "\"Name\":\"a.example\","
			       "\"TimeAdded\":\"2026-07-20T09:15:02Z\","
			       "\"TTL\":60,\"TagMask\":5,"
			       "\"ExtendedTags\":null}],"
			       "\"Removed\":[{\"Name\":\"b.example\"}],"
			       "\"TimeStamp\":\"2026-07-20T09:15:02Z\"}",
				 &m, NULL),
		0);
	assert_string_equal(m.src_name, "dns-tapir");
	assert_int_equal(m.list, TAPIR_LIST_DENY);
	assert_int_equal(m.timestamp, T_VECTOR);
	assert_int_equal(m.n_added, 1);
	assert_int_equal(m.added[0].time_added, T_VECTOR);
	assert_int_equal(m.added[0].ttl, 60);
	assert_int_equal(m.added[0].tag_mask, 5);
	assert_int_equal(m.n_removed, 1);
	assert_string_equal(m.removed[0].name, "b.example");
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_upper_snake_keys(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(parse("{\"SRC_NAME\":\"dns-tapir\","
			       "\"Msg_Type\":\"observation\","
			       "\"LIST_type\":\"allowlist\",\"ADDED\":[{"
			       "\"NAME\":\"a.example\","
			       "\"TIME_ADDED\":\"2026-07-20T09:15:02Z\","
			       "\"Ttl\":60,\"Tag_Mask\":2}]}",
				 &m, NULL),
		0);
	assert_int_equal(m.list, TAPIR_LIST_ALLOW);
	assert_int_equal(m.n_added, 1);
	assert_int_equal(m.added[0].tag_mask, 2);
	tapir_msg_clear(&m);
}

static void
test_parse_takes_first_of_case_variants(void **state)
{
	struct tapir_msg m;

	(void)state;
	/* Not duplicates to jansson (keys differ in case): first one wins. */
	assert_int_equal(
		parse(ENVELOPE("[{\"name\":\"first.example\","
			       "\"Name\":\"second.example\","
			       "\"time_added\":\"2026-07-20T09:15:02Z\","
			       "\"ttl\":60}]"),
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	assert_string_equal(m.added[0].name, "first.example");
	tapir_msg_clear(&m);
}

static void
test_parse_canonicalises_entry_names(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse(ENVELOPE("[{\"name\":\"WWW.Example.COM.\","
			       "\"time_added\":\"2026-07-20T09:15:02Z\","
			       "\"ttl\":60}]"),
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	assert_string_equal(m.added[0].name, "www.example.com");
	tapir_msg_clear(&m);
}

static void
test_parse_keeps_wildcard_entries(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse(ENVELOPE("[{\"name\":\"*.example.com\","
			       "\"time_added\":\"2026-07-20T09:15:02Z\","
			       "\"ttl\":60}]"),
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	assert_string_equal(m.added[0].name, "example.com");
	assert_true(m.added[0].wildcard);
	tapir_msg_clear(&m);
}

static void
test_parse_treats_null_arrays_as_empty(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"observation\","
		      "\"list_type\":\"doubtlist\",\"added\":null,"
		      "\"removed\":null}",
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 0);
	assert_null(m.added);
	assert_int_equal(m.n_removed, 0);
	assert_null(m.removed);
	tapir_msg_clear(&m);
}

static void
test_parse_treats_missing_arrays_as_empty(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"observation\","
		      "\"list_type\":\"doubtlist\"}",
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 0);
	assert_int_equal(m.n_removed, 0);
	assert_int_equal(m.timestamp, 0);
	assert_false(m.has_timestamp);
	tapir_msg_clear(&m);
}

static void
test_parse_rejects_non_array_added(void **state)
{
	const char *bad[] = {
		ENVELOPE("{}"),
		ENVELOPE("\"a.example\""),
		ENVELOPE("1"),
		ENVELOPE("true"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], strlen(bad[i]), TAPIR_EPARSE,
			"added: neither an array nor null");
}

static void
test_parse_rejects_non_array_removed(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"msg_type\":\"observation\","
			   "\"list_type\":\"denylist\",\"removed\":{}}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE,
		"removed: neither an array nor null");
}

static void
test_parse_reads_removed_names_only(void **state)
{
	struct tapir_msg m;

	(void)state;
	/* Removed entries need neither time_added nor ttl, and their other
	 * members are not looked at. */
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"observation\","
		      "\"list_type\":\"denylist\",\"removed\":["
		      "{\"name\":\"A.example.\"},"
		      "{\"name\":\"b.example\",\"ttl\":\"junk\","
		      "\"tag_mask\":-1}]}",
			&m, NULL),
		0);
	assert_int_equal(m.n_removed, 2);
	assert_string_equal(m.removed[0].name, "a.example");
	assert_string_equal(m.removed[1].name, "b.example");
	assert_int_equal(m.removed[1].ttl, 0);
	assert_int_equal(m.removed[1].tag_mask, 0);
	assert_int_equal(m.n_invalid, 0);
	tapir_msg_clear(&m);
}

static void
test_parse_drops_removed_entry_with_bad_name(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"observation\","
		      "\"list_type\":\"denylist\",\"removed\":["
		      "{\"name\":\"ok.example\"},{\"name\":\"a b\"},"
		      "{\"ttl\":1}]}",
			&m, NULL),
		0);
	assert_int_equal(m.n_removed, 1);
	assert_int_equal(m.n_invalid, 2);
	assert_string_equal(m.first_invalid,
		"removed[1]: name: illegal character ' ' at offset 1");
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_old_list_names(void **state)
{
	static const struct {
		const char *name;
		int list;
	} cases[] = {
		{ "whitelist", TAPIR_LIST_ALLOW },
		{ "blacklist", TAPIR_LIST_DENY },
		{ "greylist", TAPIR_LIST_DOUBT },
		{ "DenyList", TAPIR_LIST_DENY },
	};
	char json[256];
	struct tapir_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json),
			"{\"src_name\":\"s\",\"msg_type\":\"observation\","
			"\"list_type\":\"%s\"}",
			cases[i].name);
		assert_int_equal(parse(json, &m, NULL), 0);
		assert_int_equal(m.list, cases[i].list);
		tapir_msg_clear(&m);
	}
}

static void
test_parse_rejects_unknown_list_type(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"msg_type\":\"observation\","
			   "\"list_type\":\"redlist\\n\"}";

	(void)state;
	/* The newline is shown as '?': reasons go into one-line logs. */
	assert_rejected(json, strlen(json), TAPIR_ELIST,
		"list_type: \"redlist?\" not accepted");
}

static void
test_parse_rejects_missing_list_type(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"msg_type\":\"observation\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "list_type: missing");
}

static void
test_parse_rejects_non_string_list_type(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"msg_type\":\"observation\","
			   "\"list_type\":2}";

	(void)state;
	assert_rejected(
		json, strlen(json), TAPIR_EPARSE, "list_type: not a string");
}

static void
test_parse_accepts_intel_update(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"intel-update\","
		      "\"list_type\":\"allowlist\"}",
			&m, NULL),
		0);
	assert_int_equal(m.msg_type, TAPIR_MSG_INTEL_UPDATE);
	tapir_msg_clear(&m);
}

static void
test_parse_rejects_unknown_msg_type(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"msg_type\":\"new_qname\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EMSGTYPE,
		"msg_type: \"new_qname\" not accepted");
}

static void
test_parse_rejects_missing_msg_type(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "msg_type: missing");
}

static void
test_parse_rejects_non_string_msg_type(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"msg_type\":[\"observation\"],"
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(
		json, strlen(json), TAPIR_EPARSE, "msg_type: not a string");
}

static void
test_parse_rejects_missing_src_name(void **state)
{
	const char *json = "{\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";
	const char *null = "{\"src_name\":null,\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "src_name: missing");
	assert_rejected(null, strlen(null), TAPIR_EPARSE, "src_name: missing");
}

static void
test_parse_rejects_non_string_src_name(void **state)
{
	const char *json = "{\"src_name\":7,\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(
		json, strlen(json), TAPIR_EPARSE, "src_name: not a string");
}

static void
test_parse_rejects_empty_src_name(void **state)
{
	const char *json = "{\"src_name\":\"\",\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "src_name: empty");
}

static void
test_parse_src_name_limit_is_63(void **state)
{
	char json[256], name[65];
	struct tapir_msg m;

	(void)state;
	memset(name, 's', 63);
	name[63] = '\0';
	snprintf(json, sizeof(json),
		"{\"src_name\":\"%s\",\"msg_type\":\"observation\","
		"\"list_type\":\"doubtlist\"}",
		name);
	assert_int_equal(parse(json, &m, NULL), 0);
	assert_string_equal(m.src_name, name);
	tapir_msg_clear(&m);

	name[63] = 's';
	name[64] = '\0';
	snprintf(json, sizeof(json),
		"{\"src_name\":\"%s\",\"msg_type\":\"observation\","
		"\"list_type\":\"doubtlist\"}",
		name);
	assert_rejected(json, strlen(json), TAPIR_EPARSE,
		"src_name: longer than 63 characters");
}

static void
test_parse_rejects_non_object_top_level(void **state)
{
	const char *arrays[] = { "[]", "[{\"src_name\":\"s\"}]" };
	const char *scalars[] = { "\"x\"", "1", "null", "true" };

	(void)state;
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
		assert_rejected(arrays[i], strlen(arrays[i]), TAPIR_EPARSE,
			"top level is not an object");
	/* jansson itself refuses a scalar document. */
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
		assert_rejected(
			scalars[i], strlen(scalars[i]), TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_rejects_invalid_json(void **state)
{
	const char *bad[] = { "", "\n", "{", "{\"src_name\":", "garbage",
		"{\"a\":1,}", "{'a':1}", "{\"a\":1} {}" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], strlen(bad[i]), TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_reports_json_error_position(void **state)
{
	const char *json = "{\"src_name\":\"s\",\n\"msg_type\": x}";
	struct tapir_msg m;
	struct tapir_error err;

	(void)state;
	assert_int_equal(parse(json, &m, &err), TAPIR_EPARSE);
	assert_int_equal(err.line, 2);
	assert_true(err.offset > 17 && err.offset <= strlen(json));
}

static void
test_parse_rejects_invalid_utf8(void **state)
{
	const char *json = "{\"src_name\":\"dns-\xc3\x28tapir\","
			   "\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_rejects_nul_byte_in_buffer(void **state)
{
	/* A NUL inside the buffer, not at its end, must not end the input
	 * early: the JSON before it would be a valid message. */
	const char json[] = "{\"src_name\":\"s\",\"msg_type\":\"observation\","
			    "\"list_type\":\"doubtlist\"}\0{}";
	const char in_string[] = "{\"src_name\":\"s\0t\","
				 "\"msg_type\":\"observation\","
				 "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, sizeof(json) - 1, TAPIR_EPARSE, "JSON: ");
	assert_rejected(
		in_string, sizeof(in_string) - 1, TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_rejects_escaped_nul(void **state)
{
	const char *json = "{\"src_name\":\"s\\u0000t\","
			   "\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_rejects_duplicate_keys(void **state)
{
	const char *json = "{\"src_name\":\"s\",\"src_name\":\"t\","
			   "\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\"}";

	(void)state;
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_rejects_deep_nesting(void **state)
{
	const char *head = "{\"src_name\":\"s\",\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\",\"extended_tags\":";
	size_t depth = 100000, hl = strlen(head);
	char *json = malloc(hl + 2 * depth + 2);

	(void)state;
	assert_non_null(json);
	memcpy(json, head, hl);
	memset(json + hl, '[', depth);
	memset(json + hl + depth, ']', depth);
	json[hl + 2 * depth] = '}';
	assert_rejected(json, hl + 2 * depth + 1, TAPIR_EPARSE, "JSON: ");
	free(json);
}

static void
test_parse_ignores_nested_unknown_members(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse(ENVELOPE("[{\"name\":\"a.example\","
			       "\"time_added\":\"2026-07-20T09:15:02Z\","
			       "\"ttl\":60,\"extended_tags\":"
			       "[[[{\"x\":[1,2,{}]}]]],\"extra\":null}]"),
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	tapir_msg_clear(&m);
}

static void
test_parse_drops_entry_with_bad_name(void **state)
{
	char json[512], label[65];
	struct tapir_msg m;
	struct tapir_error err;

	(void)state;
	memset(label, 'x', 64);
	label[64] = '\0';
	snprintf(json, sizeof(json),
		ENVELOPE("[{\"name\":\"a.example\","
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1},"
			 "{\"name\":\"b.example\","
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1},"
			 "{\"name\":\"c.example\","
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1},"
			 "{\"name\":\"%s.example\","
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1},"
			 "{\"name\":\"\","
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1}]"),
		label);
	assert_int_equal(parse(json, &m, &err), 0);
	assert_int_equal(m.n_added, 3);
	assert_string_equal(m.added[2].name, "c.example");
	assert_int_equal(m.n_invalid, 2);
	/* Only the first reason is kept. */
	assert_string_equal(
		m.first_invalid, "added[3]: name: label longer than 63 octets");
	tapir_msg_clear(&m);
}

static void
test_parse_drops_entry_with_missing_name(void **state)
{
	(void)state;
	assert_entry_dropped(
		ENVELOPE("[{\"time_added\":\"2026-07-20T09:15:02Z\","
			 "\"ttl\":1}]"),
		"added[0]: name: missing");
	assert_entry_dropped(ENVELOPE("[{\"name\":null,"
				      "\"time_added\":\"2026-07-20T09:15:02Z\","
				      "\"ttl\":1}]"),
		"added[0]: name: missing");
}

static void
test_parse_drops_entry_with_non_string_name(void **state)
{
	const char *bad[] = {
		ENVELOPE("[{\"name\":1,\"time_added\":\"2026-07-20T09:15:02Z\","
			 "\"ttl\":1}]"),
		ENVELOPE("[{\"name\":true,"
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1}]"),
		ENVELOPE("[{\"name\":[\"a.example\"],"
			 "\"time_added\":\"2026-07-20T09:15:02Z\",\"ttl\":1}]"),
		ENVELOPE(
			"[{\"name\":{},\"time_added\":\"2026-07-20T09:15:02Z\","
			"\"ttl\":1}]"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_entry_dropped(bad[i], "added[0]: name: not a string");
}

static void
test_parse_drops_entry_with_root_name(void **state)
{
	(void)state;
	assert_entry_dropped(ENVELOPE("[{\"name\":\".\","
				      "\"time_added\":\"2026-07-20T09:15:02Z\","
				      "\"ttl\":1}]"),
		"added[0]: name: the root is not a valid policy name");
}

static void
test_parse_drops_entry_with_missing_time_added(void **state)
{
	(void)state;
	assert_entry_dropped(ENVELOPE("[{\"name\":\"a.example\",\"ttl\":1}]"),
		"added[0]: time_added: missing");
}

static void
test_parse_drops_entry_with_non_string_time_added(void **state)
{
	(void)state;
	assert_entry_dropped(ENVELOPE("[{\"name\":\"a.example\","
				      "\"time_added\":1784538902,\"ttl\":1}]"),
		"added[0]: time_added: not a string");
}

static void
test_parse_drops_entry_with_bad_time_added(void **state)
{
	(void)state;
	assert_entry_dropped(ENVELOPE("[{\"name\":\"a.example\","
				      "\"time_added\":\"2026-07-20T09:15:02\","
				      "\"ttl\":1}]"),
		"added[0]: time_added: not an RFC 3339 time");
	assert_entry_dropped(
		ENVELOPE("[{\"name\":\"a.example\","
			 "\"time_added\":\"yesterday\",\"ttl\":1}]"),
		"added[0]: time_added: not an RFC 3339 time");
}

static void
test_parse_drops_entry_with_missing_ttl(void **state)
{
	(void)state;
	assert_entry_dropped(ENTRY(""), "added[0]: ttl: missing");
	assert_entry_dropped(ENTRY(",\"ttl\":null"), "added[0]: ttl: missing");
}

static void
test_parse_drops_entry_with_non_integer_ttl(void **state)
{
	const char *bad[] = {
		ENTRY(",\"ttl\":3607.0"),
		ENTRY(",\"ttl\":1e3"),
		ENTRY(",\"ttl\":\"3607\""),
		ENTRY(",\"ttl\":true"),
		ENTRY(",\"ttl\":[1]"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_entry_dropped(bad[i], "added[0]: ttl: not an integer");
}

static void
test_parse_drops_entry_with_negative_ttl(void **state)
{
	(void)state;
	assert_entry_dropped(ENTRY(",\"ttl\":-1"), "added[0]: ttl: negative");
}

static void
test_parse_drops_entry_with_ttl_that_overflows_expiry(void **state)
{
	(void)state;
	assert_entry_dropped(ENTRY(",\"ttl\":9223372036854775807"),
		"added[0]: ttl: out of range");
}

/* An offset carries a time of year 9999 past what any expiry can hold
 * (and year 0 before it): dropped with its own reason, never added to a
 * ttl. */
static void
test_parse_drops_entry_with_time_added_out_of_range(void **state)
{
	(void)state;
	assert_entry_dropped(
		ENVELOPE("[{\"name\":\"a.example\","
			 "\"time_added\":\"9999-12-31T23:59:60-23:59\","
			 "\"ttl\":9223371783452475007}]"),
		"added[0]: time_added: not between years 0000 and 9999 "
		"(UTC)");
	assert_entry_dropped(
		ENVELOPE("[{\"name\":\"a.example\","
			 "\"time_added\":\"0000-01-01T00:00:00+00:01\","
			 "\"ttl\":1}]"),
		"added[0]: time_added: not between years 0000 and 9999 "
		"(UTC)");
}

static void
test_parse_rejects_integer_beyond_int64(void **state)
{
	const char *json = ENTRY(",\"ttl\":99999999999999999999");

	(void)state;
	/* jansson refuses the whole document: nothing else to do with it. */
	assert_rejected(json, strlen(json), TAPIR_EPARSE, "JSON: ");
}

static void
test_parse_accepts_ttl_zero(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(parse(ENTRY(",\"ttl\":0"), &m, NULL), 0);
	assert_int_equal(m.n_added, 1);
	assert_int_equal(m.added[0].ttl, 0);
	tapir_msg_clear(&m);
}

static void
test_parse_defaults_missing_tag_mask_to_zero(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(parse(ENTRY(",\"ttl\":1"), &m, NULL), 0);
	assert_int_equal(m.n_added, 1);
	assert_int_equal(m.added[0].tag_mask, 0);
	tapir_msg_clear(&m);
	assert_int_equal(
		parse(ENTRY(",\"ttl\":1,\"tag_mask\":null"), &m, NULL), 0);
	assert_int_equal(m.n_added, 1);
	assert_int_equal(m.added[0].tag_mask, 0);
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_tag_mask_max(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse(ENTRY(",\"ttl\":1,\"tag_mask\":4294967295"), &m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	assert_int_equal(m.added[0].tag_mask, UINT32_MAX);
	tapir_msg_clear(&m);
}

static void
test_parse_drops_tag_mask_out_of_range(void **state)
{
	(void)state;
	assert_entry_dropped(ENTRY(",\"ttl\":1,\"tag_mask\":4294967296"),
		"added[0]: tag_mask: out of range");
	assert_entry_dropped(ENTRY(",\"ttl\":1,\"tag_mask\":-1"),
		"added[0]: tag_mask: out of range");
}

static void
test_parse_drops_non_integer_tag_mask(void **state)
{
	const char *bad[] = {
		ENTRY(",\"ttl\":1,\"tag_mask\":1.5"),
		ENTRY(",\"ttl\":1,\"tag_mask\":\"1\""),
		ENTRY(",\"ttl\":1,\"tag_mask\":[1]"),
		ENTRY(",\"ttl\":1,\"tag_mask\":false"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_entry_dropped(
			bad[i], "added[0]: tag_mask: not an integer");
}

static void
test_parse_drops_non_object_entries(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse(ENVELOPE("[1,\"a.example\",null,[],true,{\"name\":"
			       "\"ok.example\",\"time_added\":"
			       "\"2026-07-20T09:15:02Z\",\"ttl\":1}]"),
			&m, NULL),
		0);
	assert_int_equal(m.n_added, 1);
	assert_string_equal(m.added[0].name, "ok.example");
	assert_int_equal(m.n_invalid, 5);
	assert_string_equal(m.first_invalid, "added[0]: not an object");
	tapir_msg_clear(&m);
}

static void
test_parse_keeps_many_entries(void **state)
{
	const char *head = "{\"src_name\":\"s\",\"msg_type\":\"observation\","
			   "\"list_type\":\"doubtlist\",\"added\":[";
	const size_t n = 5000;
	size_t cap = strlen(head) + n * 96 + 8, o;
	char *json = malloc(cap);
	struct tapir_msg m;

	(void)state;
	assert_non_null(json);
	o = (size_t)snprintf(json, cap, "%s", head);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(json + o, cap - o,
			"%s{\"name\":\"n%zu.example\",\"time_added\":"
			"\"2026-07-20T09:15:02Z\",\"ttl\":%zu}",
			i ? "," : "", i, i);
	snprintf(json + o, cap - o, "]}");
	assert_int_equal(parse(json, &m, NULL), 0);
	assert_int_equal(m.n_added, n);
	assert_string_equal(m.added[n - 1].name, "n4999.example");
	assert_int_equal(m.added[n - 1].ttl, n - 1);
	tapir_msg_clear(&m);
	free(json);
}

static void
test_parse_ignores_bad_timestamp(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"observation\","
		      "\"list_type\":\"doubtlist\","
		      "\"timestamp\":\"noon\"}",
			&m, NULL),
		0);
	assert_int_equal(m.timestamp, 0);
	assert_false(m.has_timestamp);
	tapir_msg_clear(&m);
	assert_int_equal(
		parse("{\"src_name\":\"s\",\"msg_type\":\"observation\","
		      "\"list_type\":\"doubtlist\",\"timestamp\":5}",
			&m, NULL),
		0);
	assert_int_equal(m.timestamp, 0);
	assert_false(m.has_timestamp);
	tapir_msg_clear(&m);
}

static void
test_parse_accepts_null_err(void **state)
{
	struct tapir_msg m;

	(void)state;
	assert_int_equal(parse("[]", &m, NULL), TAPIR_EPARSE);
	assert_int_equal(parse("{", &m, NULL), TAPIR_EPARSE);
}

static void
test_clear_accepts_null_and_zeroed(void **state)
{
	struct tapir_msg m;

	(void)state;
	tapir_msg_clear(NULL);
	memset(&m, 0, sizeof(m));
	tapir_msg_clear(&m);
	tapir_msg_clear(&m);
}

static void
test_time_parses_utc(void **state)
{
	int64_t t = -5;

	(void)state;
	assert_int_equal(tapir_time_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(tapir_time_parse("2026-07-20T09:15:02Z", &t), 0);
	assert_int_equal(t, T_VECTOR);
}

static void
test_time_truncates_fraction(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(
		tapir_time_parse("2026-07-20T09:15:02.999999999Z", &t), 0);
	assert_int_equal(t, T_VECTOR);
	assert_int_equal(tapir_time_parse("2026-07-20T09:15:02.5Z", &t), 0);
	assert_int_equal(t, T_VECTOR);
	assert_int_equal(tapir_time_parse("2026-07-20T09:15:02."
					  "12345678901234567890123456789Z",
				 &t),
		0);
	assert_int_equal(t, T_VECTOR);
}

static void
test_time_applies_positive_offset(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(tapir_time_parse("2026-07-20T11:15:02+02:00", &t), 0);
	assert_int_equal(t, T_VECTOR);
	assert_int_equal(
		tapir_time_parse("2026-07-20T11:15:02.1+02:00", &t), 0);
	assert_int_equal(t, T_VECTOR);
}

static void
test_time_applies_negative_offset(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(tapir_time_parse("2026-07-20T03:45:02-05:30", &t), 0);
	assert_int_equal(t, T_VECTOR);
	/* -00:00 is RFC 3339's "offset unknown": UTC. */
	assert_int_equal(tapir_time_parse("2026-07-20T09:15:02-00:00", &t), 0);
	assert_int_equal(t, T_VECTOR);
}

static void
test_time_offset_crosses_midnight(void **state)
{
	int64_t t;

	(void)state;
	/* 2026-07-20T23:30:00-01:00 is 2026-07-21T00:30:00Z. */
	assert_int_equal(tapir_time_parse("2026-07-20T23:30:00-01:00", &t), 0);
	assert_int_equal(t, 1784592000LL + 1800);
}

static void
test_time_accepts_lower_case_t_and_z(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(tapir_time_parse("2026-07-20t09:15:02z", &t), 0);
	assert_int_equal(t, T_VECTOR);
}

static void
test_time_handles_leap_years(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(tapir_time_parse("2024-02-29T12:00:00Z", &t), 0);
	assert_int_equal(t, 1709208000LL);
	assert_int_equal(tapir_time_parse("2000-02-29T00:00:00Z", &t), 0);
	assert_int_equal(t, 951782400LL);
	assert_int_equal(
		tapir_time_parse("2023-02-29T00:00:00Z", &t), TAPIR_EPARSE);
	assert_int_equal(
		tapir_time_parse("1900-02-29T00:00:00Z", &t), TAPIR_EPARSE);
}

static void
test_time_handles_extreme_years(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(tapir_time_parse("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
	assert_int_equal(tapir_time_parse("0000-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, -62167219200LL);
	assert_int_equal(tapir_time_parse("9999-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, 253402300799LL);
}

/* The bounds are instants, whatever the offset: the last second of year
 * 9999 in UTC-23:59 is a day into year 10000. */
static void
test_time_offset_beyond_year_9999_is_out_of_range(void **state)
{
	const char *bad[] = {
		"9999-12-31T23:59:60-23:59",
		"9999-12-31T23:59:59-00:01",
		"9999-12-31T23:00:01-01:00",
		"0000-01-01T00:00:00+00:01",
		"0000-01-01T00:59:59+01:00",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 7;
		assert_int_equal(tapir_time_parse(bad[i], &t), TAPIR_ERANGE);
		assert_int_equal(t, 0);
	}
	/* The edges themselves, in any offset that reaches them. */
	assert_int_equal(tapir_time_parse("9999-12-31T23:59:60Z", &t), 0);
	assert_int_equal(t, 253402300800LL);
	assert_int_equal(tapir_time_parse("9999-12-31T22:59:60-01:00", &t), 0);
	assert_int_equal(t, 253402300800LL);
	assert_int_equal(tapir_time_parse("0000-01-01T01:00:00+01:00", &t), 0);
	assert_int_equal(t, -62167219200LL);
}

static void
test_time_accepts_leap_second(void **state)
{
	int64_t t;

	(void)state;
	/* Counted as the first second of the next day. */
	assert_int_equal(tapir_time_parse("2026-07-20T23:59:60Z", &t), 0);
	assert_int_equal(t, 1784592000LL);
}

static void
test_time_rejects_out_of_range_fields(void **state)
{
	const char *bad[] = {
		"2026-00-20T09:15:02Z",
		"2026-13-20T09:15:02Z",
		"2026-07-00T09:15:02Z",
		"2026-07-32T09:15:02Z",
		"2026-04-31T09:15:02Z",
		"2026-07-20T24:00:00Z",
		"2026-07-20T09:60:02Z",
		"2026-07-20T09:15:61Z",
		"2026-07-20T09:15:02+24:00",
		"2026-07-20T09:15:02+02:60",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 7;
		assert_int_equal(tapir_time_parse(bad[i], &t), TAPIR_EPARSE);
		assert_int_equal(t, 0);
	}
}

static void
test_time_rejects_missing_offset(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(
		tapir_time_parse("2026-07-20T09:15:02", &t), TAPIR_EPARSE);
	assert_int_equal(
		tapir_time_parse("2026-07-20T09:15:02.123", &t), TAPIR_EPARSE);
}

static void
test_time_rejects_garbage(void **state)
{
	const char *bad[] = {
		"",
		"x",
		"2026-07-20",
		"2026-07-20T",
		"2026-07-20 09:15:02Z",
		"2026-7-20T09:15:02Z",
		"2026-07-20T9:15:02Z",
		"20260720T091502Z",
		"+2026-07-20T09:15:02Z",
		" 2026-07-20T09:15:02Z",
		"2026-07-20T09:15:02Z ",
		"2026-07-20T09:15:02Zx",
		"2026-07-20T09:15:02.Z",
		"2026-07-20T09:15:02,5Z",
		"2026-07-20T09:15:02+0200",
		"2026-07-20T09:15:02+02",
		"2026-07-20T09:15:02+02:00:00",
		"2026-07-20T09:15:02+2:00",
		"2026-07-20T09:15:02UTC",
		"2026-07-20T09:15:02ZZ",
		"\xef\xbc\x92"
		"026-07-20T09:15:02Z",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tapir_time_parse(bad[i], &t), TAPIR_EPARSE);
}

static void
test_list_from_str_accepts_current_names(void **state)
{
	(void)state;
	assert_int_equal(tapir_list_from_str("allowlist"), TAPIR_LIST_ALLOW);
	assert_int_equal(tapir_list_from_str("denylist"), TAPIR_LIST_DENY);
	assert_int_equal(tapir_list_from_str("doubtlist"), TAPIR_LIST_DOUBT);
}

static void
test_list_from_str_accepts_old_names(void **state)
{
	(void)state;
	assert_int_equal(tapir_list_from_str("whitelist"), TAPIR_LIST_ALLOW);
	assert_int_equal(tapir_list_from_str("blacklist"), TAPIR_LIST_DENY);
	assert_int_equal(tapir_list_from_str("greylist"), TAPIR_LIST_DOUBT);
}

static void
test_list_from_str_ignores_case(void **state)
{
	(void)state;
	assert_int_equal(tapir_list_from_str("AllowList"), TAPIR_LIST_ALLOW);
	assert_int_equal(tapir_list_from_str("DENYLIST"), TAPIR_LIST_DENY);
	assert_int_equal(tapir_list_from_str("GreyList"), TAPIR_LIST_DOUBT);
}

static void
test_list_from_str_rejects_unknown(void **state)
{
	const char *bad[] = { "", "allow", "allowlistx", "denylist ",
		"graylist", "list" };

	(void)state;
	assert_int_equal(tapir_list_from_str(NULL), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tapir_list_from_str(bad[i]), -1);
}

static void
test_list_str_names_lists(void **state)
{
	(void)state;
	assert_string_equal(tapir_list_str(TAPIR_LIST_ALLOW), "allowlist");
	assert_string_equal(tapir_list_str(TAPIR_LIST_DENY), "denylist");
	assert_string_equal(tapir_list_str(TAPIR_LIST_DOUBT), "doubtlist");
	assert_string_equal(tapir_list_str(TAPIR_LIST_COUNT), "unknown");
	for (int i = 0; i < TAPIR_LIST_COUNT; i++)
		assert_int_equal(
			tapir_list_from_str(tapir_list_str((enum tapir_list)i)),
			i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_upstream_vector),
		cmocka_unit_test(test_parse_accepts_trailing_newline),
		cmocka_unit_test(test_parse_accepts_capitalised_name_key),
		cmocka_unit_test(test_parse_accepts_go_field_names),
		cmocka_unit_test(test_parse_accepts_upper_snake_keys),
		cmocka_unit_test(test_parse_takes_first_of_case_variants),
		cmocka_unit_test(test_parse_canonicalises_entry_names),
		cmocka_unit_test(test_parse_keeps_wildcard_entries),
		cmocka_unit_test(test_parse_treats_null_arrays_as_empty),
		cmocka_unit_test(test_parse_treats_missing_arrays_as_empty),
		cmocka_unit_test(test_parse_rejects_non_array_added),
		cmocka_unit_test(test_parse_rejects_non_array_removed),
		cmocka_unit_test(test_parse_reads_removed_names_only),
		cmocka_unit_test(test_parse_drops_removed_entry_with_bad_name),
		cmocka_unit_test(test_parse_accepts_old_list_names),
		cmocka_unit_test(test_parse_rejects_unknown_list_type),
		cmocka_unit_test(test_parse_rejects_missing_list_type),
		cmocka_unit_test(test_parse_rejects_non_string_list_type),
		cmocka_unit_test(test_parse_accepts_intel_update),
		cmocka_unit_test(test_parse_rejects_unknown_msg_type),
		cmocka_unit_test(test_parse_rejects_missing_msg_type),
		cmocka_unit_test(test_parse_rejects_non_string_msg_type),
		cmocka_unit_test(test_parse_rejects_missing_src_name),
		cmocka_unit_test(test_parse_rejects_non_string_src_name),
		cmocka_unit_test(test_parse_rejects_empty_src_name),
		cmocka_unit_test(test_parse_src_name_limit_is_63),
		cmocka_unit_test(test_parse_rejects_non_object_top_level),
		cmocka_unit_test(test_parse_rejects_invalid_json),
		cmocka_unit_test(test_parse_reports_json_error_position),
		cmocka_unit_test(test_parse_rejects_invalid_utf8),
		cmocka_unit_test(test_parse_rejects_nul_byte_in_buffer),
		cmocka_unit_test(test_parse_rejects_escaped_nul),
		cmocka_unit_test(test_parse_rejects_duplicate_keys),
		cmocka_unit_test(test_parse_rejects_deep_nesting),
		cmocka_unit_test(test_parse_ignores_nested_unknown_members),
		cmocka_unit_test(test_parse_drops_entry_with_bad_name),
		cmocka_unit_test(test_parse_drops_entry_with_missing_name),
		cmocka_unit_test(test_parse_drops_entry_with_non_string_name),
		cmocka_unit_test(test_parse_drops_entry_with_root_name),
		cmocka_unit_test(
			test_parse_drops_entry_with_missing_time_added),
		cmocka_unit_test(
			test_parse_drops_entry_with_non_string_time_added),
		cmocka_unit_test(test_parse_drops_entry_with_bad_time_added),
		cmocka_unit_test(test_parse_drops_entry_with_missing_ttl),
		cmocka_unit_test(test_parse_drops_entry_with_non_integer_ttl),
		cmocka_unit_test(test_parse_drops_entry_with_negative_ttl),
		cmocka_unit_test(
			test_parse_drops_entry_with_ttl_that_overflows_expiry),
		cmocka_unit_test(
			test_parse_drops_entry_with_time_added_out_of_range),
		cmocka_unit_test(test_parse_rejects_integer_beyond_int64),
		cmocka_unit_test(test_parse_accepts_ttl_zero),
		cmocka_unit_test(test_parse_defaults_missing_tag_mask_to_zero),
		cmocka_unit_test(test_parse_accepts_tag_mask_max),
		cmocka_unit_test(test_parse_drops_tag_mask_out_of_range),
		cmocka_unit_test(test_parse_drops_non_integer_tag_mask),
		cmocka_unit_test(test_parse_drops_non_object_entries),
		cmocka_unit_test(test_parse_keeps_many_entries),
		cmocka_unit_test(test_parse_ignores_bad_timestamp),
		cmocka_unit_test(test_parse_accepts_null_err),
		cmocka_unit_test(test_clear_accepts_null_and_zeroed),
		cmocka_unit_test(test_time_parses_utc),
		cmocka_unit_test(test_time_truncates_fraction),
		cmocka_unit_test(test_time_applies_positive_offset),
		cmocka_unit_test(test_time_applies_negative_offset),
		cmocka_unit_test(test_time_offset_crosses_midnight),
		cmocka_unit_test(test_time_accepts_lower_case_t_and_z),
		cmocka_unit_test(test_time_handles_leap_years),
		cmocka_unit_test(test_time_handles_extreme_years),
		cmocka_unit_test(
			test_time_offset_beyond_year_9999_is_out_of_range),
		cmocka_unit_test(test_time_accepts_leap_second),
		cmocka_unit_test(test_time_rejects_out_of_range_fields),
		cmocka_unit_test(test_time_rejects_missing_offset),
		cmocka_unit_test(test_time_rejects_garbage),
		cmocka_unit_test(test_list_from_str_accepts_current_names),
		cmocka_unit_test(test_list_from_str_accepts_old_names),
		cmocka_unit_test(test_list_from_str_ignores_case),
		cmocka_unit_test(test_list_from_str_rejects_unknown),
		cmocka_unit_test(test_list_str_names_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
