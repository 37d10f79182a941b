/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/name.c: every reason a name is refused, the exact length
 * limits (63-octet labels, 255-octet wire names, so 253 characters of text),
 * the wildcard rule, and wire-format conversion both ways. None of these
 * functions allocates, so there is nothing to leak.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/name.h"

/* Canonicalise a NUL-terminated string. */
static int
canon(const char *s, unsigned flags, char *out, bool *wild,
	struct tapir_error *err)
{
	return tapir_name_canon(s, strlen(s), flags, out, NULL, wild, err);
}

/* Writes labels of the given lengths joined by dots into buf. */
static char *
make_name(char *buf, const size_t *lens, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (i)
			buf[o++] = '.';
		memset(buf + o, 'a' + (int)i, lens[i]);
		o += lens[i];
	}
	buf[o] = '\0';
	return buf;
}

static void
assert_rejected(const char *s, unsigned flags, const char *reason)
{
	char out[TAPIR_NAME_BUFSIZE];
	struct tapir_error err;
	bool wild = true;

	memset(&err, 0, sizeof(err));
	assert_int_equal(canon(s, flags, out, &wild, &err), TAPIR_ENAME);
	assert_string_equal(out, "");
	assert_false(wild);
	if (reason)
		assert_string_equal(err.text, reason);
}

static void
test_canon_accepts_plain_name(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];
	size_t len = 0;
	bool wild = true;

	(void)state;
	assert_int_equal(tapir_name_canon("www.example.com", 15, 0, out, &len,
				 &wild, NULL),
		0);
	assert_string_equal(out, "www.example.com");
	assert_int_equal(len, 15);
	assert_false(wild);
}

static void
test_canon_folds_case_and_strips_dot(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];
	size_t len = 0;

	(void)state;
	assert_int_equal(tapir_name_canon("WWW.Example.COM.", 16, 0, out, &len,
				 NULL, NULL),
		0);
	assert_string_equal(out, "www.example.com");
	assert_int_equal(len, 15);
}

static void
test_canon_accepts_digits_hyphen_underscore(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(
		canon("_dmarc.X-1.0-9.example", 0, out, NULL, NULL), 0);
	assert_string_equal(out, "_dmarc.x-1.0-9.example");
	assert_int_equal(
		canon("xn--exmple-cua.example.se", 0, out, NULL, NULL), 0);
	assert_string_equal(out, "xn--exmple-cua.example.se");
}

static void
test_canon_accepts_single_label(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(canon("SE.", 0, out, NULL, NULL), 0);
	assert_string_equal(out, "se");
}

static void
test_canon_reads_only_len_octets(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];
	size_t len;

	(void)state;
	assert_int_equal(tapir_name_canon("example.com junk", 11, 0, out, &len,
				 NULL, NULL),
		0);
	assert_string_equal(out, "example.com");
	assert_int_equal(len, 11);
}

static void
test_canon_accepts_null_optional_outputs(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(tapir_name_canon("*.a.b", 5, TAPIR_NAME_ALLOW_WILDCARD,
				 out, NULL, NULL, NULL),
		0);
	assert_string_equal(out, "a.b");
	assert_int_equal(tapir_name_canon("a b", 3, 0, out, NULL, NULL, NULL),
		TAPIR_ENAME);
	assert_string_equal(out, "");
}

static void
test_canon_clears_outputs_on_error(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];
	size_t len = 99;
	bool wild = true;

	(void)state;
	memset(out, 'x', sizeof(out));
	/* Fails late, after most of out was written. */
	assert_int_equal(
		tapir_name_canon("*.abc.de f", 10, TAPIR_NAME_ALLOW_WILDCARD,
			out, &len, &wild, NULL),
		TAPIR_ENAME);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	assert_false(wild);
}

static void
test_canon_rejects_empty(void **state)
{
	struct tapir_error err;
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_rejected("", 0, "empty name");
	assert_int_equal(tapir_name_canon(NULL, 0, 0, out, NULL, NULL, &err),
		TAPIR_ENAME);
	assert_int_equal(err.offset, 0);
}

static void
test_canon_rejects_root(void **state)
{
	(void)state;
	assert_rejected(".", 0, "the root is not a valid policy name");
	assert_rejected(".", TAPIR_NAME_ALLOW_WILDCARD,
		"the root is not a valid policy name");
}

static void
test_canon_rejects_double_trailing_dot(void **state)
{
	struct tapir_error err;
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(canon("a..", 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(err.text, "empty label at offset 2");
	assert_int_equal(err.offset, 2);
	assert_rejected("..", 0, "empty label at offset 0");
}

static void
test_canon_rejects_leading_dot(void **state)
{
	struct tapir_error err;
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(
		canon(".example.com", 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(err.text, "empty label at offset 0");
	assert_int_equal(err.offset, 0);
}

static void
test_canon_rejects_empty_inner_label(void **state)
{
	struct tapir_error err;
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(canon("a..b", 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(err.text, "empty label at offset 2");
	assert_int_equal(err.offset, 2);
}

static void
test_canon_accepts_label_of_63(void **state)
{
	char name[TAPIR_NAME_BUFSIZE + 8], out[TAPIR_NAME_BUFSIZE];
	const size_t lens[] = { 63, 3 };

	(void)state;
	make_name(name, lens, 2);
	assert_int_equal(canon(name, 0, out, NULL, NULL), 0);
	assert_string_equal(out, name);
}

static void
test_canon_rejects_label_over_63(void **state)
{
	char name[TAPIR_NAME_BUFSIZE + 8], out[TAPIR_NAME_BUFSIZE];
	const size_t first[] = { 64, 3 }, middle[] = { 2, 64, 3 };
	struct tapir_error err;

	(void)state;
	make_name(name, first, 2);
	assert_int_equal(canon(name, 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(err.text, "label longer than 63 octets");
	assert_int_equal(err.offset, 0);
	assert_string_equal(out, "");

	/* The offset is where the long label starts. */
	make_name(name, middle, 3);
	assert_int_equal(canon(name, 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(err.text, "label longer than 63 octets");
	assert_int_equal(err.offset, 3);
}

static void
test_canon_accepts_name_of_253(void **state)
{
	/* 63+1+63+1+63+1+61 = 253 characters; wire form 64*3+62+1 = 255. */
	const size_t lens[] = { 63, 63, 63, 61 };
	char name[TAPIR_NAME_BUFSIZE + 8], out[TAPIR_NAME_BUFSIZE];
	size_t len;

	(void)state;
	make_name(name, lens, 4);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(
		tapir_name_canon(name, 253, 0, out, &len, NULL, NULL), 0);
	assert_int_equal(len, 253);
	assert_string_equal(out, name);
	/* The same name written absolute is 254 characters. */
	strcat(name, ".");
	assert_int_equal(
		tapir_name_canon(name, 254, 0, out, &len, NULL, NULL), 0);
	assert_int_equal(len, 253);
}

static void
test_canon_rejects_name_of_254(void **state)
{
	/* 254 characters make a 256-octet wire name. */
	const size_t lens[] = { 63, 63, 63, 62 };
	char name[TAPIR_NAME_BUFSIZE + 8], out[TAPIR_NAME_BUFSIZE];
	struct tapir_error err;

	(void)state;
	make_name(name, lens, 4);
	assert_int_equal(strlen(name), 254);
	assert_int_equal(canon(name, 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(
		err.text, "name longer than 255 octets in wire form");
	assert_int_equal(err.offset, 253);
	strcat(name, ".");
	assert_int_equal(canon(name, 0, out, NULL, &err), TAPIR_ENAME);
}

static void
test_canon_rejects_many_short_labels_over_limit(void **state)
{
	/* 128 one-letter labels: 255 characters, 257 wire octets. */
	char name[300], out[TAPIR_NAME_BUFSIZE];

	(void)state;
	for (int i = 0; i < 128; i++) {
		name[2 * i] = 'a';
		name[2 * i + 1] = '.';
	}
	name[255] = '\0';
	assert_rejected(name, 0, "name longer than 255 octets in wire form");
	/* 127 of them: 253 characters, exactly 255 wire octets. */
	name[253] = '\0';
	assert_int_equal(canon(name, 0, out, NULL, NULL), 0);
}

static void
test_canon_rejects_space_with_offset(void **state)
{
	struct tapir_error err;
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(canon("foo bar.com", 0, out, NULL, &err), TAPIR_ENAME);
	assert_string_equal(err.text, "illegal character ' ' at offset 3");
	assert_int_equal(err.offset, 3);
}

static void
test_canon_rejects_nul_byte(void **state)
{
	struct tapir_error err;
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(
		tapir_name_canon("ab\0.com", 7, 0, out, NULL, NULL, &err),
		TAPIR_ENAME);
	assert_string_equal(err.text, "illegal octet 0x00 at offset 2");
	assert_int_equal(err.offset, 2);
}

static void
test_canon_rejects_utf8(void **state)
{
	(void)state;
	/* U+00E4 as UTF-8, 0xc3 0xa4: IDNs must arrive as A-labels. */
	assert_rejected(
		"ex\xc3\xa4mple.se", 0, "illegal octet 0xc3 at offset 2");
	assert_rejected("\xff", 0, "illegal octet 0xff at offset 0");
}

static void
test_canon_rejects_control_characters(void **state)
{
	(void)state;
	assert_rejected("a\tb", 0, "illegal octet 0x09 at offset 1");
	assert_rejected("a\nb", 0, "illegal octet 0x0a at offset 1");
	assert_rejected("ab\x7f", 0, "illegal octet 0x7f at offset 2");
}

static void
test_canon_rejects_backslash_escape(void **state)
{
	(void)state;
	assert_rejected(
		"a\\.b", 0, "illegal character '\\' at offset 1 (no escapes)");
	assert_rejected("a\\065b", 0, NULL);
}

static void
test_canon_rejects_every_other_printable(void **state)
{
	char name[4] = "a?b", want[64];

	(void)state;
	for (int c = 0x20; c < 0x7f; c++) {
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			(c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
			c == '.' || c == '*' || c == '\\')
			continue;
		name[1] = (char)c;
		snprintf(want, sizeof(want),
			"illegal character '%c' at offset 1", c);
		assert_rejected(name, 0, want);
	}
}

static void
test_canon_rejects_star_without_flag(void **state)
{
	(void)state;
	assert_rejected("*.example.com", 0,
		"illegal character '*' at offset 0 (no wildcards)");
}

static void
test_canon_wildcard_strips_star_label(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];
	size_t len;
	bool wild = false;

	(void)state;
	assert_int_equal(
		tapir_name_canon("*.Example.COM.", 14,
			TAPIR_NAME_ALLOW_WILDCARD, out, &len, &wild, NULL),
		0);
	assert_string_equal(out, "example.com");
	assert_int_equal(len, 11);
	assert_true(wild);
}

static void
test_canon_wildcard_flag_keeps_plain_name(void **state)
{
	char out[TAPIR_NAME_BUFSIZE];
	bool wild = true;

	(void)state;
	assert_int_equal(canon("example.com", TAPIR_NAME_ALLOW_WILDCARD, out,
				 &wild, NULL),
		0);
	assert_string_equal(out, "example.com");
	assert_false(wild);
}

static void
test_canon_rejects_lone_star(void **state)
{
	(void)state;
	assert_rejected("*", TAPIR_NAME_ALLOW_WILDCARD,
		"wildcard '*' without a name below it");
	assert_rejected("*.", TAPIR_NAME_ALLOW_WILDCARD,
		"wildcard '*' without a name below it");
	assert_rejected(
		"*..", TAPIR_NAME_ALLOW_WILDCARD, "empty label at offset 2");
}

static void
test_canon_rejects_star_inside_label(void **state)
{
	(void)state;
	assert_rejected("*foo.com", TAPIR_NAME_ALLOW_WILDCARD,
		"misplaced '*' at offset 0 (not a whole first label)");
	assert_rejected("f*o.com", TAPIR_NAME_ALLOW_WILDCARD,
		"misplaced '*' at offset 1 (not a whole first label)");
}

static void
test_canon_rejects_star_in_later_label(void **state)
{
	(void)state;
	assert_rejected("a.*.com", TAPIR_NAME_ALLOW_WILDCARD,
		"misplaced '*' at offset 2 (not a whole first label)");
	assert_rejected("*.*.com", TAPIR_NAME_ALLOW_WILDCARD,
		"misplaced '*' at offset 2 (not a whole first label)");
	assert_rejected("com.*", TAPIR_NAME_ALLOW_WILDCARD, NULL);
}

static void
test_canon_wildcard_limit_counts_star_label(void **state)
{
	/* "*." + 251 characters: 253 in all, a valid wildcard owner. */
	const size_t ok[] = { 63, 63, 63, 59 }, over[] = { 63, 63, 63, 60 };
	char name[TAPIR_NAME_BUFSIZE + 8], out[TAPIR_NAME_BUFSIZE];
	bool wild;

	(void)state;
	memcpy(name, "*.", 2);
	make_name(name + 2, ok, 4);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(
		canon(name, TAPIR_NAME_ALLOW_WILDCARD, out, &wild, NULL), 0);
	assert_true(wild);
	assert_int_equal(strlen(out), 251);
	make_name(name + 2, over, 4);
	assert_rejected(name, TAPIR_NAME_ALLOW_WILDCARD,
		"name longer than 255 octets in wire form");
}

static void
test_canon_output_recanonicalises_to_itself(void **state)
{
	const char *in[] = { "A.B.C.", "_x-Y.z", "*.W.x", "xn--Z.se" };
	char out[TAPIR_NAME_BUFSIZE], again[TAPIR_NAME_BUFSIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(canon(in[i], TAPIR_NAME_ALLOW_WILDCARD, out,
					 NULL, NULL),
			0);
		assert_int_equal(canon(out, 0, again, NULL, NULL), 0);
		assert_string_equal(out, again);
	}
}

static void
test_from_wire_folds_case(void **state)
{
	const uint8_t wire[] = "\x03WwW\x07"
			       "Example\x03"
			       "COM";
	char out[TAPIR_NAME_BUFSIZE];
	size_t len = 0;

	(void)state;
	/* sizeof includes the string literal's NUL: the root label. */
	assert_int_equal(
		tapir_name_from_wire(wire, sizeof(wire), out, &len), 0);
	assert_string_equal(out, "www.example.com");
	assert_int_equal(len, 15);
}

static void
test_from_wire_ignores_octets_after_root(void **state)
{
	const uint8_t wire[] = { 1, 'a', 0, 0xc0, 0x0c, 0, 1, 0, 1 };
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(
		tapir_name_from_wire(wire, sizeof(wire), out, NULL), 0);
	assert_string_equal(out, "a");
}

static void
test_from_wire_rejects_root_only(void **state)
{
	const uint8_t wire[] = { 0 };
	char out[TAPIR_NAME_BUFSIZE] = "x";

	(void)state;
	assert_int_equal(tapir_name_from_wire(wire, 1, out, NULL), TAPIR_ENAME);
	assert_string_equal(out, "");
}

static void
test_from_wire_rejects_empty_buffer(void **state)
{
	const uint8_t wire[] = { 1, 'a', 0 };
	char out[TAPIR_NAME_BUFSIZE];
	size_t len = 5;

	(void)state;
	assert_int_equal(tapir_name_from_wire(wire, 0, out, &len), TAPIR_ENAME);
	assert_int_equal(len, 0);
}

static void
test_from_wire_rejects_compression_pointer(void **state)
{
	const uint8_t wire[] = { 1, 'a', 0xc0, 0x0c, 0 };
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(tapir_name_from_wire(wire, sizeof(wire), out, NULL),
		TAPIR_ENAME);
	assert_string_equal(out, "");
}

static void
test_from_wire_rejects_extended_label_types(void **state)
{
	uint8_t wire[] = { 0x40, 'a', 0 };
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(tapir_name_from_wire(wire, sizeof(wire), out, NULL),
		TAPIR_ENAME);
	wire[0] = 0x80;
	assert_int_equal(tapir_name_from_wire(wire, sizeof(wire), out, NULL),
		TAPIR_ENAME);
}

static void
test_from_wire_rejects_label_overrunning_buffer(void **state)
{
	const uint8_t wire[] = { 1, 'a', 5, 'b', 'c' };
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(tapir_name_from_wire(wire, sizeof(wire), out, NULL),
		TAPIR_ENAME);
}

static void
test_from_wire_rejects_missing_root(void **state)
{
	const uint8_t wire[] = { 1, 'a', 1, 'b' };
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	assert_int_equal(tapir_name_from_wire(wire, sizeof(wire), out, NULL),
		TAPIR_ENAME);
}

static void
test_from_wire_rejects_illegal_octets(void **state)
{
	const uint8_t bad[] = { ' ', '.', '*', '\\', 0x00, 0x7f, 0x80, 0xc3,
		0xff };
	uint8_t wire[] = { 3, 'a', 'x', 'b', 0 };
	char out[TAPIR_NAME_BUFSIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		wire[2] = bad[i];
		assert_int_equal(
			tapir_name_from_wire(wire, sizeof(wire), out, NULL),
			TAPIR_ENAME);
		assert_string_equal(out, "");
	}
}

static void
test_from_wire_accepts_255_octets(void **state)
{
	/* Labels 63, 63, 63, 61: 64*3 + 62 + 1 = 255 octets. */
	uint8_t wire[300];
	char out[TAPIR_NAME_BUFSIZE];
	size_t len, pos = 0;
	const size_t lens[] = { 63, 63, 63, 61 };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		wire[pos++] = (uint8_t)lens[i];
		memset(wire + pos, 'q', lens[i]);
		pos += lens[i];
	}
	wire[pos++] = 0;
	assert_int_equal(pos, 255);
	assert_int_equal(tapir_name_from_wire(wire, pos, out, &len), 0);
	assert_int_equal(len, 253);
}

static void
test_from_wire_rejects_256_octets(void **state)
{
	uint8_t wire[300];
	char out[TAPIR_NAME_BUFSIZE];
	size_t pos = 0;
	const size_t lens[] = { 63, 63, 63, 62 };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		wire[pos++] = (uint8_t)lens[i];
		memset(wire + pos, 'q', lens[i]);
		pos += lens[i];
	}
	wire[pos++] = 0;
	assert_int_equal(pos, 256);
	assert_int_equal(tapir_name_from_wire(wire, sizeof(wire), out, NULL),
		TAPIR_ENAME);
	/* Many short labels hit the same limit. */
	for (pos = 0; pos < 256; pos += 2) {
		wire[pos] = 1;
		wire[pos + 1] = 'a';
	}
	wire[256] = 0;
	assert_int_equal(
		tapir_name_from_wire(wire, 257, out, NULL), TAPIR_ENAME);
}

static void
test_to_wire_encodes_labels(void **state)
{
	const uint8_t want[] = "\x03www\x07"
			       "example\x03"
			       "com";
	uint8_t wire[TAPIR_NAME_WIRE_MAX];
	size_t len = 0;

	(void)state;
	assert_int_equal(tapir_name_to_wire("www.example.com", wire, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(wire, want, sizeof(want));
}

static void
test_to_wire_rejects_non_canonical(void **state)
{
	const char *bad[] = { "", ".", "a.", ".a", "a..b", "Upper.case",
		"sp ace", "*.a", "a\\b" };
	uint8_t wire[TAPIR_NAME_WIRE_MAX];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = 7;
		assert_int_equal(
			tapir_name_to_wire(bad[i], wire, &len), TAPIR_ENAME);
		assert_int_equal(len, 0);
	}
}

static void
test_to_wire_rejects_over_limits(void **state)
{
	const size_t long_label[] = { 64 }, long_name[] = { 63, 63, 63, 62 };
	char name[TAPIR_NAME_BUFSIZE + 8];
	uint8_t wire[TAPIR_NAME_WIRE_MAX];
	size_t len;

	(void)state;
	make_name(name, long_label, 1);
	assert_int_equal(tapir_name_to_wire(name, wire, &len), TAPIR_ENAME);
	make_name(name, long_name, 4);
	assert_int_equal(tapir_name_to_wire(name, wire, &len), TAPIR_ENAME);
}

static void
test_wire_round_trip(void **state)
{
	const size_t max[] = { 63, 63, 63, 61 };
	char longest[TAPIR_NAME_BUFSIZE];
	const char *names[] = { "a", "se", "www.example.com",
		"_dmarc.x-1.example", longest };
	uint8_t wire[TAPIR_NAME_WIRE_MAX];
	char back[TAPIR_NAME_BUFSIZE];
	size_t wlen, tlen;

	(void)state;
	make_name(longest, max, 4);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(tapir_name_to_wire(names[i], wire, &wlen), 0);
		assert_int_equal(wlen, strlen(names[i]) + 2);
		assert_int_equal(
			tapir_name_from_wire(wire, wlen, back, &tlen), 0);
		assert_string_equal(back, names[i]);
		assert_int_equal(tlen, strlen(names[i]));
	}
}

static void
test_parent_walks_up_to_tld(void **state)
{
	const char *name = "a.b.example";
	const char *p;

	(void)state;
	p = tapir_name_parent(name);
	assert_ptr_equal(p, name + 2);
	assert_string_equal(p, "b.example");
	p = tapir_name_parent(p);
	assert_string_equal(p, "example");
	assert_null(tapir_name_parent(p));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_accepts_plain_name),
		cmocka_unit_test(test_canon_folds_case_and_strips_dot),
		cmocka_unit_test(test_canon_accepts_digits_hyphen_underscore),
		cmocka_unit_test(test_canon_accepts_single_label),
		cmocka_unit_test(test_canon_reads_only_len_octets),
		cmocka_unit_test(test_canon_accepts_null_optional_outputs),
		cmocka_unit_test(test_canon_clears_outputs_on_error),
		cmocka_unit_test(test_canon_rejects_empty),
		cmocka_unit_test(test_canon_rejects_root),
		cmocka_unit_test(test_canon_rejects_double_trailing_dot),
		cmocka_unit_test(test_canon_rejects_leading_dot),
		cmocka_unit_test(test_canon_rejects_empty_inner_label),
		cmocka_unit_test(test_canon_accepts_label_of_63),
		cmocka_unit_test(test_canon_rejects_label_over_63),
		cmocka_unit_test(test_canon_accepts_name_of_253),
		cmocka_unit_test(test_canon_rejects_name_of_254),
		cmocka_unit_test(
			test_canon_rejects_many_short_labels_over_limit),
		cmocka_unit_test(test_canon_rejects_space_with_offset),
		cmocka_unit_test(test_canon_rejects_nul_byte),
		cmocka_unit_test(test_canon_rejects_utf8),
		cmocka_unit_test(test_canon_rejects_control_characters),
		cmocka_unit_test(test_canon_rejects_backslash_escape),
		cmocka_unit_test(test_canon_rejects_every_other_printable),
		cmocka_unit_test(test_canon_rejects_star_without_flag),
		cmocka_unit_test(test_canon_wildcard_strips_star_label),
		cmocka_unit_test(test_canon_wildcard_flag_keeps_plain_name),
		cmocka_unit_test(test_canon_rejects_lone_star),
		cmocka_unit_test(test_canon_rejects_star_inside_label),
		cmocka_unit_test(test_canon_rejects_star_in_later_label),
		cmocka_unit_test(test_canon_wildcard_limit_counts_star_label),
		cmocka_unit_test(test_canon_output_recanonicalises_to_itself),
		cmocka_unit_test(test_from_wire_folds_case),
		cmocka_unit_test(test_from_wire_ignores_octets_after_root),
		cmocka_unit_test(test_from_wire_rejects_root_only),
		cmocka_unit_test(test_from_wire_rejects_empty_buffer),
		cmocka_unit_test(test_from_wire_rejects_compression_pointer),
		cmocka_unit_test(test_from_wire_rejects_extended_label_types),
		cmocka_unit_test(
			test_from_wire_rejects_label_overrunning_buffer),
		cmocka_unit_test(test_from_wire_rejects_missing_root),
		cmocka_unit_test(test_from_wire_rejects_illegal_octets),
		cmocka_unit_test(test_from_wire_accepts_255_octets),
		cmocka_unit_test(test_from_wire_rejects_256_octets),
		cmocka_unit_test(test_to_wire_encodes_labels),
		cmocka_unit_test(test_to_wire_rejects_non_canonical),
		cmocka_unit_test(test_to_wire_rejects_over_limits),
		cmocka_unit_test(test_wire_round_trip),
		cmocka_unit_test(test_parent_walks_up_to_tld),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
