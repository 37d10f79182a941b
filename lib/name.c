/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Domain names in canonical form: lower-case text without the trailing dot,
 * labels of [a-z0-9_-], 1..63 octets each, at most 255 octets as wire format.
 * tapir_name_from_wire() runs for every query, so it allocates nothing, looks
 * at each octet once and uses a table instead of the locale-dependent
 * <ctype.h> functions. The text form of a valid name is always two octets
 * shorter than its wire form (one length octet per label, where the text has
 * a dot between labels, plus the root label), which is why the text limit is
 * 253 characters.
 */
#include "tapir_build.h"

#include <string.h>

#include "lib/name.h"

#define LABEL_MAX 63
#define TEXT_MAX  (TAPIR_NAME_WIRE_MAX - 2)

/*
 * Octet → its canonical form, or 0 when the octet may not appear in a
 * canonical name. Upper-case letters fold to lower case here and nowhere
 * else; everything from 0x80 up is 0, so UTF-8 never gets through.
 */
static const unsigned char canon_octet[256] = {
	['0'] = '0',
	['1'] = '1',
	['2'] = '2',
	['3'] = '3',
	['4'] = '4',
	['5'] = '5',
	['6'] = '6',
	['7'] = '7',
	['8'] = '8',
	['9'] = '9',
	['A'] = 'a',
	['B'] = 'b',
	['C'] = 'c',
	['D'] = 'd',
	['E'] = 'e',
	['F'] = 'f',
	['G'] = 'g',
	['H'] = 'h',
	['I'] = 'i',
	['J'] = 'j',
	['K'] = 'k',
	['L'] = 'l',
	['M'] = 'm',
	['N'] = 'n',
	['O'] = 'o',
	['P'] = 'p',
	['Q'] = 'q',
	['R'] = 'r',
	['S'] = 's',
	['T'] = 't',
	['U'] = 'u',
	['V'] = 'v',
	['W'] = 'w',
	['X'] = 'x',
	['Y'] = 'y',
	['Z'] = 'z',
	['a'] = 'a',
	['b'] = 'b',
	['c'] = 'c',
	['d'] = 'd',
	['e'] = 'e',
	['f'] = 'f',
	['g'] = 'g',
	['h'] = 'h',
	['i'] = 'i',
	['j'] = 'j',
	['k'] = 'k',
	['l'] = 'l',
	['m'] = 'm',
	['n'] = 'n',
	['o'] = 'o',
	['p'] = 'p',
	['q'] = 'q',
	['r'] = 'r',
	['s'] = 's',
	['t'] = 't',
	['u'] = 'u',
	['v'] = 'v',
	['w'] = 'w',
	['x'] = 'x',
	['y'] = 'y',
	['z'] = 'z',
	['-'] = '-',
	['_'] = '_',
};

/* Names the offending octet; the text ends up in logs, so only printable
 * ASCII is shown as itself. */
static int
illegal_octet(
	struct tapir_error *err, unsigned char c, size_t off, unsigned flags)
{
	if (c == '*' && (flags & TAPIR_NAME_ALLOW_WILDCARD))
		return tapir_error_set(err, TAPIR_ENAME, off,
			"misplaced '*' at offset %zu (not a whole first label)",
			off);
	if (c == '*')
		return tapir_error_set(err, TAPIR_ENAME, off,
			"illegal character '*' at offset %zu (no wildcards)",
			off);
	if (c == '\\')
		return tapir_error_set(err, TAPIR_ENAME, off,
			"illegal character '\\' at offset %zu (no escapes)",
			off);
	if (c >= 0x20 && c < 0x7f)
		return tapir_error_set(err, TAPIR_ENAME, off,
			"illegal character '%c' at offset %zu", c, off);
	return tapir_error_set(err, TAPIR_ENAME, off,
		"illegal octet 0x%02x at offset %zu", c, off);
}

int
tapir_name_canon(const char *text, size_t len, unsigned flags,
	char out[TAPIR_NAME_BUFSIZE], size_t *outlen, bool *wildcard,
	struct tapir_error *err)
{
	size_t start = 0, end = len, o = 0, label = 0;
	bool wild = false;
	int rc;

	out[0] = '\0';
	if (outlen)
		*outlen = 0;
	if (wildcard)
		*wildcard = false;

	if (len == 0)
		return tapir_error_set(err, TAPIR_ENAME, 0, "empty name");
	if (len == 1 && text[0] == '.')
		return tapir_error_set(err, TAPIR_ENAME, 0,
			"the root is not a valid policy name");
	/* One trailing dot is the absolute form of the same name; a second
	 * one is left in place to be caught as an empty label. */
	if (text[len - 1] == '.')
		end = len - 1;
	if ((flags & TAPIR_NAME_ALLOW_WILDCARD) && text[0] == '*') {
		if (end == 1)
			return tapir_error_set(err, TAPIR_ENAME, 0,
				"wildcard '*' without a name below it");
		/* "*foo" is not a wildcard: the scan below reports it. */
		if (text[1] == '.') {
			start = 2;
			wild = true;
		}
	}
	/* The limit applies to the name as given, "*." included: a wildcard
	 * owner must itself be a valid DNS name. */
	if (end > TEXT_MAX)
		return tapir_error_set(err, TAPIR_ENAME, TEXT_MAX,
			"name longer than 255 octets in wire form");

	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)text[i], m;

		if (c == '.') {
			if (label == 0) {
				rc = tapir_error_set(err, TAPIR_ENAME, i,
					"empty label at offset %zu", i);
				goto out_clear;
			}
			label = 0;
			out[o++] = '.';
			continue;
		}
		if (!(m = canon_octet[c])) {
			rc = illegal_octet(err, c, i, flags);
			goto out_clear;
		}
		if (++label > LABEL_MAX) {
			rc = tapir_error_set(err, TAPIR_ENAME, i - LABEL_MAX,
				"label longer than 63 octets");
			goto out_clear;
		}
		out[o++] = (char)m;
	}
	if (label == 0) {
		/* "a..", "*..": the name ends in an empty label. */
		rc = tapir_error_set(err, TAPIR_ENAME, end,
			"empty label at offset %zu", end);
		goto out_clear;
	}
	/* o <= end - start <= TEXT_MAX, so the NUL fits. */
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	if (wildcard)
		*wildcard = wild;
	return 0;

out_clear:
	out[0] = '\0';
	return rc;
}

int
tapir_name_from_wire(const uint8_t *wire, size_t maxlen,
	char out[TAPIR_NAME_BUFSIZE], size_t *outlen)
{
	size_t pos = 0, o = 0;

	out[0] = '\0';
	if (outlen)
		*outlen = 0;
	for (;;) {
		size_t n;

		if (pos >= maxlen)
			goto out_clear;
		n = wire[pos];
		if (n == 0)
			break;
		/* 0xc0 is a compression pointer, 0x40 and 0x80 are the
		 * obsolete extended label types: none occurs in a query
		 * name that could match. */
		if (n > LABEL_MAX)
			goto out_clear;
		/* This label and the root label after it must fit in 255
		 * octets: pos + 1 + n + 1 <= 255. Since every label passed
		 * this test, o < pos here and out never overflows. */
		if (pos + n > TAPIR_NAME_WIRE_MAX - 2)
			goto out_clear;
		if (n > maxlen - pos - 1)
			goto out_clear;
		if (o)
			out[o++] = '.';
		for (size_t i = pos + 1; i <= pos + n; i++) {
			unsigned char m = canon_octet[wire[i]];
			if (!m)
				goto out_clear;
			out[o++] = (char)m;
		}
		pos += 1 + n;
	}
	if (o == 0)
		goto out_clear;
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return 0;

out_clear:
	out[0] = '\0';
	return TAPIR_ENAME;
}

int
tapir_name_to_wire(
	const char *canon, uint8_t out[TAPIR_NAME_WIRE_MAX], size_t *outlen)
{
	/* Text octet i lands at out[i + 1]; the length octet of the label
	 * starting at text offset lab goes to out[lab], where the dot before
	 * it (or nothing, for the first label) was. */
	size_t i, lab = 0;

	*outlen = 0;
	for (i = 0; canon[i] != '\0'; i++) {
		unsigned char c = (unsigned char)canon[i];

		if (i >= TEXT_MAX)
			return TAPIR_ENAME;
		if (c == '.') {
			if (i == lab)
				return TAPIR_ENAME;
			out[lab] = (uint8_t)(i - lab);
			lab = i + 1;
			continue;
		}
		/* Only canonical input: upper case is refused, not folded. */
		if (canon_octet[c] != c || i - lab >= LABEL_MAX)
			return TAPIR_ENAME;
		out[i + 1] = c;
	}
	/* Empty name, or a trailing dot (not canonical). */
	if (i == lab)
		return TAPIR_ENAME;
	out[lab] = (uint8_t)(i - lab);
	out[i + 1] = 0;
	*outlen = i + 2;
	return 0;
}

const char *
tapir_name_parent(const char *canon)
{
	const char *dot = strchr(canon, '.');

	return dot ? dot + 1 : NULL;
}
