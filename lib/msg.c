/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TapirMsg payloads. Upstream decodes them with Go's encoding/json, which
 * matches keys case-insensitively, and older producers wrote Go field names
 * ("SrcName"); we accept a key when it equals the expected one after ASCII
 * case folding and dropping underscores, and take the first such key in
 * document order. Every object is walked once, so a message costs time
 * linear in its size; the caller bounds the size before we get here.
 */
#include "tapir_build.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/msg.h"

#define SRC_NAME_MAX (sizeof(((struct tapir_msg *)0)->src_name) - 1)
#define WHY_SIZE     160

enum env_key {
	ENV_SRC_NAME,
	ENV_MSG_TYPE,
	ENV_LIST_TYPE,
	ENV_ADDED,
	ENV_REMOVED,
	ENV_TIMESTAMP,
	ENV_COUNT,
};

static const char *const env_keys[ENV_COUNT] = {
	[ENV_SRC_NAME] = "srcname",
	[ENV_MSG_TYPE] = "msgtype",
	[ENV_LIST_TYPE] = "listtype",
	[ENV_ADDED] = "added",
	[ENV_REMOVED] = "removed",
	[ENV_TIMESTAMP] = "timestamp",
};

enum entry_key {
	ENTRY_NAME,
	ENTRY_TIME_ADDED,
	ENTRY_TTL,
	ENTRY_TAG_MASK,
	ENTRY_COUNT,
};

static const char *const entry_keys[ENTRY_COUNT] = {
	[ENTRY_NAME] = "name",
	[ENTRY_TIME_ADDED] = "timeadded",
	[ENTRY_TTL] = "ttl",
	[ENTRY_TAG_MASK] = "tagmask",
};

/* find_members() sizes its bookkeeping for the larger set. */
_Static_assert((int)ENTRY_COUNT <= (int)ENV_COUNT,
	"entry keys outnumber envelope keys");

/* Earliest and latest instants RFC 3339 can write (0000-01-01T00:00:00Z
 * and 9999-12-31T23:59:60Z): bounds that keep time_added + ttl checkable.
 * tapir_time_parse() refuses instants outside, which an offset reaches. */
#define TIME_MIN (-62167219200LL)
#define TIME_MAX (253402300800LL)

static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* want is lower case without underscores, so "SrcName", "SRC_NAME" and
 * "src_name" all match "srcname". */
static bool
key_matches(const char *key, const char *want)
{
	for (;; key++, want++) {
		while (*key == '_')
			key++;
		if (ascii_lower((unsigned char)*key) != (unsigned char)*want)
			return false;
		if (*key == '\0')
			return true;
	}
}

/*
 * One pass over obj: found[i] gets the value (borrowed) of the first member
 * matching want[i], or NULL. A JSON null counts as absent, as it does in Go.
 * Costs members * n comparisons with n at most ENV_COUNT.
 */
static void
find_members(json_t *obj, const char *const *want, json_t **found, size_t n)
{
	const char *key;
	json_t *val;
	bool seen[ENV_COUNT] = { false };

	memset(found, 0, n * sizeof(*found));
	json_object_foreach(obj, key, val)
	{
		for (size_t i = 0; i < n; i++) {
			if (seen[i] || !key_matches(key, want[i]))
				continue;
			seen[i] = true;
			found[i] = json_is_null(val) ? NULL : val;
			break;
		}
	}
}

/* A hostile value goes into an error text and from there into a log line:
 * keep printable ASCII only, and not much of it. */
static const char *
printable(char *buf, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s && o + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o] = '\0';
	return buf;
}

/* Reads exactly n decimal digits; stops at the first non-digit, so it never
 * reads past a NUL. */
static bool
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, without
 * timegm() (not in C11, and it consults TZ state): H. Hinnant's
 * days_from_civil. Counting from March makes the leap day the last day of
 * the year, and eras of 400 years repeat exactly (146097 days).
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
tapir_time_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p = s;
	int64_t t;

	*out = 0;
	/* Each test reads one octet past the previous one only after that
	 * one proved not to be the NUL. */
	if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) ||
		p[7] != '-' || !digits(p + 8, 2, &d) ||
		(p[10] != 'T' && p[10] != 't') || !digits(p + 11, 2, &h) ||
		p[13] != ':' || !digits(p + 14, 2, &mi) || p[16] != ':' ||
		!digits(p + 17, 2, &sec))
		return TAPIR_EPARSE;
	p += 19;
	/* Go writes nine digits, others fewer; any length is truncated. */
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return TAPIR_EPARSE;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' ||
			!digits(p + 4, 2, &om))
			return TAPIR_EPARSE;
		p += 6;
	} else {
		return TAPIR_EPARSE;
	}
	if (*p != '\0')
		return TAPIR_EPARSE;
	/* Second 60 is a leap second (RFC 3339 5.7); like timegm() we count
	 * it as the first second of the next minute. */
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
		mi > 59 || sec > 60 || oh > 23 || om > 59)
		return TAPIR_EPARSE;
	/* Four-digit years keep this far from overflowing; an offset can
	 * still carry the instant up to a day past the years RFC 3339 can
	 * write, past what a caller's time + ttl was checked against. */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    (int64_t)sign * (oh * 3600 + om * 60);
	if (t < TIME_MIN || t > TIME_MAX)
		return TAPIR_ERANGE;
	*out = t;
	return 0;
}

/*
 * Fills e from one array element. On a bad element writes the reason
 * (without the "added[i]: " prefix) to why and returns false. Removed
 * entries need only a name.
 */
static bool
parse_entry(json_t *el, bool added, struct tapir_msg_entry *e, char *why)
{
	json_t *f[ENTRY_COUNT];
	struct tapir_error nerr;
	const char *s;
	json_int_t v;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(el)) {
		snprintf(why, WHY_SIZE, "not an object");
		return false;
	}
	find_members(el, entry_keys, f, added ? ENTRY_COUNT : 1);

	if (!f[ENTRY_NAME]) {
		snprintf(why, WHY_SIZE, "name: missing");
		return false;
	}
	if (!(s = json_string_value(f[ENTRY_NAME]))) {
		snprintf(why, WHY_SIZE, "name: not a string");
		return false;
	}
	/* json_string_length, not strlen: a "\u0000" inside the string
	 * (should jansson ever let one through) is then an illegal octet
	 * instead of a silent truncation. */
	if (tapir_name_canon(s, json_string_length(f[ENTRY_NAME]),
		    TAPIR_NAME_ALLOW_WILDCARD, e->name, NULL, &e->wildcard,
		    &nerr) != 0) {
		/* Name reasons are under 80 characters; the precision
		 * shows the compiler that nothing is cut. */
		snprintf(why, WHY_SIZE, "name: %.150s", nerr.text);
		return false;
	}
	if (!added)
		return true;

	if (!f[ENTRY_TIME_ADDED]) {
		snprintf(why, WHY_SIZE, "time_added: missing");
		return false;
	}
	if (!(s = json_string_value(f[ENTRY_TIME_ADDED]))) {
		snprintf(why, WHY_SIZE, "time_added: not a string");
		return false;
	}
	switch (tapir_time_parse(s, &e->time_added)) {
	case 0:
		break;
	case TAPIR_ERANGE:
		snprintf(why, WHY_SIZE,
			"time_added: not between years 0000 and 9999 (UTC)");
		return false;
	default:
		snprintf(why, WHY_SIZE, "time_added: not an RFC 3339 time");
		return false;
	}

	if (!f[ENTRY_TTL]) {
		snprintf(why, WHY_SIZE, "ttl: missing");
		return false;
	}
	/* Go decodes ttl into an int: 3607.0 or "3607" fail there too. */
	if (!json_is_integer(f[ENTRY_TTL])) {
		snprintf(why, WHY_SIZE, "ttl: not an integer");
		return false;
	}
	v = json_integer_value(f[ENTRY_TTL]);
	if (v < 0) {
		snprintf(why, WHY_SIZE, "ttl: negative");
		return false;
	}
	/* time_added lies within [TIME_MIN, TIME_MAX], so the expiry
	 * time_added + ttl that the caller computes cannot overflow. */
	if (v > INT64_MAX - TIME_MAX) {
		snprintf(why, WHY_SIZE, "ttl: out of range");
		return false;
	}
	e->ttl = v;

	if (f[ENTRY_TAG_MASK]) {
		if (!json_is_integer(f[ENTRY_TAG_MASK])) {
			snprintf(why, WHY_SIZE, "tag_mask: not an integer");
			return false;
		}
		v = json_integer_value(f[ENTRY_TAG_MASK]);
		if (v < 0 || v > (json_int_t)UINT32_MAX) {
			snprintf(why, WHY_SIZE, "tag_mask: out of range");
			return false;
		}
		e->tag_mask = (uint32_t)v;
	}
	return true;
}

/*
 * Valid entries of arr into *out, invalid ones counted in msg. The array
 * grows by doubling up to the element count, so memory follows the valid
 * entries (an entry is ~280 bytes, a hostile element may be 2) and the
 * copying stays linear.
 */
static int
parse_entries(json_t *arr, bool added, struct tapir_msg *msg,
	struct tapir_msg_entry **out, size_t *nout)
{
	const char *what = added ? "added" : "removed";
	size_t total = json_array_size(arr), cap = 0, n = 0;
	struct tapir_msg_entry *v = NULL;
	char why[WHY_SIZE];

	for (size_t i = 0; i < total; i++) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct tapir_msg_entry *nv;

			if (ncap > total)
				ncap = total;
			if (!(nv = realloc(v, ncap * sizeof(*v)))) {
				free(v);
				return TAPIR_ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		if (parse_entry(json_array_get(arr, i), added, &v[n], why)) {
			n++;
			continue;
		}
		/* The first reason is what an operator needs to find the
		 * producer's bug; one per message keeps the log quiet. */
		if (msg->n_invalid++ == 0)
			snprintf(msg->first_invalid, sizeof(msg->first_invalid),
				"%s[%zu]: %.120s", what, i, why);
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* Checks and copies the envelope; on failure fills err. */
static int
parse_envelope(json_t *root, struct tapir_msg *msg, json_t **f,
	struct tapir_error *err)
{
	char shown[40];
	const char *s;
	size_t len;
	int list;

	find_members(root, env_keys, f, ENV_COUNT);

	if (!f[ENV_SRC_NAME])
		return tapir_error_set(
			err, TAPIR_EPARSE, 0, "src_name: missing");
	if (!(s = json_string_value(f[ENV_SRC_NAME])))
		return tapir_error_set(
			err, TAPIR_EPARSE, 0, "src_name: not a string");
	len = json_string_length(f[ENV_SRC_NAME]);
	if (len == 0)
		return tapir_error_set(err, TAPIR_EPARSE, 0, "src_name: empty");
	if (len > SRC_NAME_MAX || strlen(s) != len)
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"src_name: longer than %zu characters", SRC_NAME_MAX);
	memcpy(msg->src_name, s, len + 1);

	if (!f[ENV_MSG_TYPE])
		return tapir_error_set(
			err, TAPIR_EPARSE, 0, "msg_type: missing");
	if (!(s = json_string_value(f[ENV_MSG_TYPE])))
		return tapir_error_set(
			err, TAPIR_EPARSE, 0, "msg_type: not a string");
	if (tapir_vocab_caseeq(s, "observation"))
		msg->msg_type = TAPIR_MSG_OBSERVATION;
	else if (tapir_vocab_caseeq(s, "intel-update"))
		msg->msg_type = TAPIR_MSG_INTEL_UPDATE;
	else
		return tapir_error_set(err, TAPIR_EMSGTYPE, 0,
			"msg_type: \"%s\" not accepted",
			printable(shown, sizeof(shown), s));

	if (!f[ENV_LIST_TYPE])
		return tapir_error_set(
			err, TAPIR_EPARSE, 0, "list_type: missing");
	if (!(s = json_string_value(f[ENV_LIST_TYPE])))
		return tapir_error_set(
			err, TAPIR_EPARSE, 0, "list_type: not a string");
	if ((list = tapir_list_from_str(s)) < 0)
		return tapir_error_set(err, TAPIR_ELIST, 0,
			"list_type: \"%s\" not accepted",
			printable(shown, sizeof(shown), s));
	msg->list = (enum tapir_list)list;

	if (f[ENV_ADDED] && !json_is_array(f[ENV_ADDED]))
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"added: neither an array nor null");
	if (f[ENV_REMOVED] && !json_is_array(f[ENV_REMOVED]))
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"removed: neither an array nor null");

	/* A bad one does not make the message malformed: whether a message
	 * without a usable timestamp is accepted is the engine's policy
	 * (limits.max-message-age). */
	if ((s = json_string_value(f[ENV_TIMESTAMP])) &&
		tapir_time_parse(s, &msg->timestamp) == 0)
		msg->has_timestamp = true;
	else
		msg->timestamp = 0;
	return 0;
}

int
tapir_msg_parse(const char *buf, size_t len, struct tapir_msg *msg,
	struct tapir_error *err)
{
	json_t *root, *f[ENV_COUNT];
	json_error_t jerr;
	int rc;

	memset(msg, 0, sizeof(*msg));
	if (err)
		memset(err, 0, sizeof(*err));

	if (!(root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr))) {
		rc = tapir_error_set(err, TAPIR_EPARSE, (size_t)jerr.position,
			"JSON: %s", jerr.text);
		if (err)
			err->line = jerr.line;
		return rc;
	}
	if (!json_is_object(root)) {
		rc = tapir_error_set(
			err, TAPIR_EPARSE, 0, "top level is not an object");
		goto out_decref;
	}
	if ((rc = parse_envelope(root, msg, f, err)) != 0)
		goto out_clear;
	if (f[ENV_ADDED] && (rc = parse_entries(f[ENV_ADDED], true, msg,
				     &msg->added, &msg->n_added)) != 0)
		goto out_nomem;
	if (f[ENV_REMOVED] && (rc = parse_entries(f[ENV_REMOVED], false, msg,
				       &msg->removed, &msg->n_removed)) != 0)
		goto out_nomem;
	json_decref(root);
	return 0;

out_nomem:
	tapir_error_set(err, rc, 0, "out of memory");
out_clear:
	tapir_msg_clear(msg);
out_decref:
	json_decref(root);
	return rc;
}

void
tapir_msg_clear(struct tapir_msg *msg)
{
	if (!msg)
		return;
	free(msg->added);
	free(msg->removed);
	memset(msg, 0, sizeof(*msg));
}
