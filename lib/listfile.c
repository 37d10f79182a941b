/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * List-file parsers. The text formats walk the buffer once, a line at a
 * time, and never copy a line: every name is handed to tapir_name_canon()
 * as a slice of the input, so the work per line is linear in its length and
 * nothing is allocated. A CSV row is one line (a quoted field cannot span
 * lines), so that an unbalanced quote costs one row, not the rest of the
 * file.
 *
 * RPZ files go through libzscanner record by record (zs_parse_record(), not
 * zs_parse_all(), which would open $INCLUDE files itself). The scanner
 * skips a bad record and goes on by itself, except after a "fatal" error
 * (a bad directive, unbalanced parentheses, a stray CR): there it would stop
 * for good, so we put it back into its start state at the next line. That
 * costs a few assignments, not a new 200 KiB scanner per bad line, which
 * keeps a file of nothing but bad lines linear.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libzscanner/scanner.h>

#include "lib/fileio.h"
#include "lib/listfile.h"
#include "lib/name.h"

/* RR types, from the IANA registry; libzscanner has no names for them. */
enum {
	RR_NS = 2,
	RR_CNAME = 5,
	RR_SOA = 6,
	RR_DS = 43,
	RR_RRSIG = 46,
	RR_NSEC = 47,
	RR_DNSKEY = 48,
	RR_NSEC3 = 50,
	RR_NSEC3PARAM = 51,
	RR_CDS = 59,
	RR_CDNSKEY = 60,
	RR_ZONEMD = 63,
};

/* State shared by the parsers of one call. */
struct ctx {
	tapir_file_record_fn rec;
	tapir_file_error_fn err;
	void *arg;
	struct tapir_file_stats *st;
	unsigned line; /* lines handed to a line parser so far */
	size_t max_reported;
	/* csv */
	unsigned csv_column;
	char csv_delim;
	bool header_pending;
};

static void
bad_line(struct ctx *c, unsigned line, const char *reason)
{
	c->st->errors++;
	c->st->last_bad_line = line;
	if (c->err && c->st->errors <= c->max_reported)
		c->err(c->arg, line, reason);
}

/* Canonicalises text and hands it on; a bad name is a bad line. Returns
 * the record callback's value (0 also after a bad name). */
static int
emit(struct ctx *c, const char *text, size_t len, unsigned flags,
	enum tapir_action action, unsigned line)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_file_record r;
	struct tapir_error e;
	size_t n;
	bool wild;

	if (tapir_name_canon(text, len, flags, name, &n, &wild, &e) != 0) {
		bad_line(c, line, e.text);
		return 0;
	}
	r.name = name;
	r.len = n;
	r.subtree = wild;
	r.action = action;
	r.line = line;
	c->st->records++;
	return c->rec(c->arg, &r);
}

/* Not <ctype.h>: the locale must not change what a list file means. */
static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	       ch == '\f';
}

static void
trim(const char **p, size_t *n)
{
	while (*n && is_blank(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_blank((*p)[*n - 1]))
		(*n)--;
}

/* Cuts a '#' comment; '#' cannot occur in a valid name. */
static size_t
cut_comment(const char *p, size_t n)
{
	const char *h = memchr(p, '#', n);

	return h ? (size_t)(h - p) : n;
}

/* Splits the next blank-separated token off *p; false when none is left. */
static bool
next_token(const char **p, size_t *n, const char **tok, size_t *toklen)
{
	size_t i = 0;

	trim(p, n);
	if (*n == 0)
		return false;
	while (i < *n && !is_blank((*p)[i]))
		i++;
	*tok = *p;
	*toklen = i;
	*p += i;
	*n -= i;
	return true;
}

typedef int (*line_fn)(struct ctx *c, const char *p, size_t n, unsigned line);

/*
 * Calls fn for each line of buf (without its LF), numbering on from the
 * lines of earlier calls; text after the last LF is a line only at_end
 * (a reader of blocks has the rest of it to come). *used: the bytes
 * taken. Stops at fn's first nonzero.
 */
static int
each_line(struct ctx *c, const char *buf, size_t len, bool at_end, line_fn fn,
	size_t *used)
{
	const char *p = buf, *end = buf + len;
	int rc = 0;

	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if (!nl && !at_end)
			break;
		c->st->lines++;
		rc = fn(c, p, (size_t)(eol - p), ++c->line);
		p = nl ? nl + 1 : end;
	}
	*used = (size_t)(p - buf);
	return rc;
}

static int
domains_line(struct ctx *c, const char *p, size_t n, unsigned line)
{
	n = cut_comment(p, n);
	trim(&p, &n);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (is_blank(p[i])) {
			bad_line(c, line, "more than one name on the line");
			return 0;
		}
	return emit(
		c, p, n, TAPIR_NAME_ALLOW_WILDCARD, TAPIR_ACTION_PASS, line);
}

/* Hosts-file names that are the host's own, never a block-list entry. */
static const char *const local_names[] = {
	"localhost",
	"localhost.localdomain",
	"local",
	"broadcasthost",
	"ip6-localhost",
	"ip6-loopback",
	"ip6-localnet",
	"ip6-mcastprefix",
	"ip6-allnodes",
	"ip6-allrouters",
	"ip6-allhosts",
	"0.0.0.0",
};

static bool
is_local_name(const char *canon)
{
	for (size_t i = 0; i < sizeof(local_names) / sizeof(local_names[0]);
		i++)
		if (strcmp(canon, local_names[i]) == 0)
			return true;
	return false;
}

/* -1: not an address; 0: an address that blocks nothing (the line is not
 * a block-list entry); 1: 0.0.0.0, 127.0.0.1, :: or ::1. */
static int
host_address(const char *tok, size_t len)
{
	static const unsigned char any6[16], loop6[16] = { [15] = 1 };
	unsigned char a[16];
	char text[64];
	const char *pct;

	/* A NUL would end the text early: "0.0.0.0\0x" is no address. */
	if (len >= sizeof(text) || memchr(tok, '\0', len))
		return -1;
	memcpy(text, tok, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, a) == 1)
		return memcmp(a, "\0\0\0\0", 4) == 0 ||
		       memcmp(a, "\177\0\0\1", 4) == 0;
	/* "fe80::1%lo0" (macOS hosts files): the zone does not matter. */
	if ((pct = strchr(text, '%')) && strchr(text, ':'))
		text[pct - text] = '\0';
	if (inet_pton(AF_INET6, text, a) == 1)
		return memcmp(a, any6, 16) == 0 || memcmp(a, loop6, 16) == 0;
	return -1;
}

static int
hosts_line(struct ctx *c, const char *p, size_t n, unsigned line)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_file_record r;
	struct tapir_error e;
	const char *tok;
	size_t len;
	bool any = false;
	int rc;

	n = cut_comment(p, n);
	if (!next_token(&p, &n, &tok, &len))
		return 0;
	switch (host_address(tok, len)) {
	case -1:
		bad_line(c, line, "not an IP address");
		return 0;
	case 0:
		c->st->skipped++;
		return 0;
	}
	while (next_token(&p, &n, &tok, &len)) {
		any = true;
		if (tapir_name_canon(tok, len, 0, name, &r.len, NULL, &e)) {
			bad_line(c, line, e.text);
			continue;
		}
		if (is_local_name(name)) {
			c->st->skipped++;
			continue;
		}
		r.name = name;
		r.subtree = false;
		r.action = TAPIR_ACTION_PASS;
		r.line = line;
		c->st->records++;
		if ((rc = c->rec(c->arg, &r)))
			return rc;
	}
	if (!any)
		bad_line(c, line, "no name after the address");
	return 0;
}

/* Blanks around a field, except the delimiter itself. */
static bool
csv_blank(const struct ctx *c, char ch)
{
	return (ch == ' ' || ch == '\t') && ch != c->csv_delim;
}

static int
csv_line(struct ctx *c, const char *p, size_t n, unsigned line)
{
	const char *field = NULL;
	size_t i = 0, flen = 0;
	unsigned col = 0;
	char reason[96];

	if (n && p[n - 1] == '\r')
		n--;
	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return 0;
	if (c->header_pending) {
		c->header_pending = false;
		return 0;
	}
	/* One field per turn; stops at the name's column, so a row costs at
	 * most one pass over its bytes. */
	for (i = 0;;) {
		size_t start, stop;

		col++;
		while (i < n && csv_blank(c, p[i]))
			i++;
		if (i < n && p[i] == '"') {
			start = ++i;
			for (;; i++) {
				if (i >= n) {
					bad_line(c, line,
						"unterminated quoted field");
					return 0;
				}
				if (p[i] != '"')
					continue;
				if (i + 1 < n && p[i + 1] == '"')
					i++;
				else
					break;
			}
			/* A "" inside stays in the slice: '"' is never part of
			 * a name, so tapir_name_canon() refuses it. */
			stop = i++;
			while (i < n && csv_blank(c, p[i]))
				i++;
			if (i < n && p[i] != c->csv_delim) {
				bad_line(c, line,
					"text after the closing quote of a field");
				return 0;
			}
		} else {
			start = i;
			while (i < n && p[i] != c->csv_delim)
				i++;
			stop = i;
			while (stop > start && csv_blank(c, p[stop - 1]))
				stop--;
		}
		if (col == c->csv_column) {
			field = p + start;
			flen = stop - start;
			break;
		}
		if (i >= n)
			break;
		i++; /* the delimiter */
	}
	if (!field) {
		snprintf(reason, sizeof(reason),
			"row has %u columns, the name is in column %u", col,
			c->csv_column);
		bad_line(c, line, reason);
		return 0;
	}
	return emit(c, field, flen, TAPIR_NAME_ALLOW_WILDCARD,
		TAPIR_ACTION_PASS, line);
}

/* --- RPZ --- */

struct rpz {
	struct ctx *c;
	unsigned total_lines;
	/* The zone apex: the origin in effect at the first RR, or that RR's
	 * owner when it is the SOA. Later $ORIGIN lines only abbreviate. */
	uint8_t apex[ZS_MAX_DNAME_LENGTH + 1];
	size_t apex_len;
	bool apex_set;
};

static unsigned char
lower(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
}

/* Wire names compared without case; length octets (< 64) are unchanged
 * by lower(), so this is label-exact. */
static bool
wire_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static bool
label_is(const uint8_t *label, const char *s)
{
	size_t n = strlen(s);

	return label[0] == n && wire_eq(label + 1, (const uint8_t *)s, n);
}

/* Labels that mark a trigger other than QNAME, right below the apex. */
static bool
is_other_trigger(const uint8_t *label)
{
	return label_is(label, "rpz-ip") || label_is(label, "rpz-nsdname") ||
	       label_is(label, "rpz-nsip") || label_is(label, "rpz-client-ip");
}

/* Whether wire name t (len octets) is the one-label absolute name s. */
static bool
target_is(const uint8_t *t, size_t len, const char *s)
{
	return len == strlen(s) + 2 && t[len - 1] == 0 && label_is(t, s);
}

/* The action of a CNAME trigger, or -1 for rpz-tcp-only (no counterpart
 * here). A target given relative to the zone is just another name:
 * a redirect, as in RPZ itself. */
static int
cname_action(const uint8_t *t, size_t len)
{
	if (len == 1 && t[0] == 0)
		return TAPIR_ACTION_NXDOMAIN;
	if (target_is(t, len, "*"))
		return TAPIR_ACTION_NODATA;
	if (target_is(t, len, "rpz-drop"))
		return TAPIR_ACTION_DROP;
	if (target_is(t, len, "rpz-passthru"))
		return TAPIR_ACTION_PASSTHRU;
	if (target_is(t, len, "rpz-tcp-only"))
		return -1;
	return TAPIR_ACTION_REDIRECT;
}

/*
 * Relative wire labels to text. Octets that could change the meaning of
 * the text ('.', '\\') or are not printable become "\DDD", which
 * tapir_name_canon() then refuses with a reason; everything else is left
 * to it. At most 4 characters per octet of a 255-octet name.
 */
static size_t
labels_to_text(const uint8_t *w, size_t len, char *out)
{
	size_t o = 0, i = 0;

	while (i < len) {
		size_t l = w[i++];

		if (o)
			out[o++] = '.';
		for (size_t k = 0; k < l && i < len; k++, i++) {
			unsigned char ch = w[i];
			if (ch == '.' || ch == '\\' || ch <= 0x20 || ch >= 0x7f)
				o += (size_t)sprintf(out + o, "\\%03u", ch);
			else
				out[o++] = (char)ch;
		}
	}
	return o;
}

int
tapir_rpz_map(const uint8_t *owner, size_t owner_len, const uint8_t *apex,
	size_t apex_len, uint16_t rtype, const uint8_t *rdata, size_t rdlen,
	struct tapir_file_record *out, char namebuf[TAPIR_NAME_BUFSIZE],
	struct tapir_error *err)
{
	const uint8_t *last = NULL;
	char text[4 * TAPIR_NAME_WIRE_MAX + 1];
	size_t rel = 0, i, n;
	int action;
	bool found = false, wild;

	memset(out, 0, sizeof(*out));
	namebuf[0] = '\0';
	/* Find the apex as a whole-label suffix of the owner: at most 128
	 * labels to try. */
	for (i = 0; i < owner_len;) {
		if (owner_len - i == apex_len &&
			wire_eq(owner + i, apex, owner_len - i)) {
			rel = i;
			found = true;
			break;
		}
		if (owner[i] == 0)
			break;
		last = owner + i;
		i += (size_t)owner[i] + 1;
	}
	if (!found)
		return tapir_error_set(
			err, TAPIR_ENAME, 0, "owner is outside the zone");
	if (rel == 0) {
		/* The zone's own SOA and NS are structure, not policy. */
		if (rtype == RR_SOA || rtype == RR_NS)
			return TAPIR_RPZ_APEX;
		return TAPIR_RPZ_SKIP;
	}
	if (is_other_trigger(last))
		return TAPIR_RPZ_SKIP;
	switch (rtype) {
	case RR_NS:
	case RR_SOA:
	case RR_DS:
	case RR_RRSIG:
	case RR_NSEC:
	case RR_DNSKEY:
	case RR_NSEC3:
	case RR_NSEC3PARAM:
	case RR_CDS:
	case RR_CDNSKEY:
	case RR_ZONEMD:
		/* Delegations and DNSSEC data of a signed zone: no policy. */
		return TAPIR_RPZ_SKIP;
	case RR_CNAME:
		if ((action = cname_action(rdata, rdlen)) < 0)
			return TAPIR_RPZ_SKIP;
		break;
	default:
		/* Local data (A, AAAA, TXT, ...): the answer is replaced. */
		action = TAPIR_ACTION_REDIRECT;
		break;
	}
	if (tapir_name_canon(text, labels_to_text(owner, rel, text),
		    TAPIR_NAME_ALLOW_WILDCARD, namebuf, &n, &wild, err) != 0)
		return TAPIR_ENAME;
	out->name = namebuf;
	out->len = n;
	out->subtree = wild;
	out->action = (enum tapir_action)action;
	return TAPIR_RPZ_RECORD;
}

static int
rpz_record(struct rpz *z, zs_scanner_t *s, unsigned line)
{
	struct ctx *c = z->c;
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_file_record r;
	struct tapir_error e;
	int rc;

	if (!z->apex_set) {
		const uint8_t *a =
			s->r_type == RR_SOA ? s->r_owner : s->zone_origin;
		z->apex_len = s->r_type == RR_SOA ? s->r_owner_length
						  : s->zone_origin_length;
		if (z->apex_len > sizeof(z->apex))
			z->apex_len = sizeof(z->apex);
		memcpy(z->apex, a, z->apex_len);
		z->apex_set = true;
	}
	rc = tapir_rpz_map(s->r_owner, s->r_owner_length, z->apex, z->apex_len,
		s->r_type, s->r_data, s->r_data_length, &r, name, &e);
	switch (rc) {
	case TAPIR_RPZ_RECORD:
		r.line = line;
		c->st->records++;
		return c->rec(c->arg, &r);
	case TAPIR_RPZ_SKIP:
		c->st->skipped++;
		return 0;
	case TAPIR_RPZ_APEX:
		return 0;
	default:
		bad_line(c, line, e.text);
		return 0;
	}
}

/* Counts LFs in [p, end). */
static unsigned
count_lines(const char *p, const char *end)
{
	unsigned n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/* Where the scanner resumes after a fatal error. */
struct resume {
	const char *block; /* what we last gave zs_set_input_string() */
	const char *end;
	const char *mark; /* a position whose line number is known */
	unsigned mark_line;
	int start_cs;
};

/*
 * Puts the scanner back into the state zs_init() leaves it in (its Ragel
 * state, saved then, with the per-record fields cleared) at the line after
 * the one that failed. Each call moves on by at least one line, so the
 * number of calls and the LFs counted here are both bounded by the input.
 * @return: false at the end of the input.
 */
static bool
rpz_resume(zs_scanner_t *s, struct resume *r)
{
	const char *p, *nl;

	/* After the input, the scanner parses a block of its own (a final
	 * "\n"): a failure there is at the end of the file. */
	if (s->input.start != r->block)
		return false;
	/* Within the block; still at the block's start after an error the
	 * scanner did not store its position for. */
	p = s->input.current;
	if (!(nl = memchr(p, '\n', (size_t)(r->end - p))))
		return false;
	r->mark_line += count_lines(r->mark, nl + 1);
	r->mark = r->block = nl + 1;

	s->cs = r->start_cs;
	s->top = 0;
	s->multiline = false;
	s->long_string = false;
	s->comma_list = false;
	s->r_data_tail = 0;
	s->buffer_length = 0;
	s->error.fatal = false;
	s->error.code = ZS_OK;
	if (zs_set_input_string(s, r->block, (size_t)(r->end - r->block)))
		return false;
	s->line_counter = r->mark_line;
	return true;
}

static unsigned
rpz_line(const struct rpz *z, const zs_scanner_t *s)
{
	uint64_t l = s->line_counter;

	if (l < 1)
		l = 1;
	if (l > z->total_lines)
		l = z->total_lines ? z->total_lines : 1;
	return (unsigned)l;
}

static int
parse_rpz(struct ctx *c, const char *buf, size_t len, const char *origin)
{
	struct rpz z = { .c = c };
	struct resume r;
	zs_scanner_t *s;
	char *copy = NULL;
	bool done = false;
	int rc = 0;

	/* The scanner takes CR as an error that ends the file; a CR LF file
	 * is common enough to read as LF. One copy, only when needed. */
	if (memchr(buf, '\r', len)) {
		if (!(copy = malloc(len)))
			return TAPIR_ENOMEM;
		memcpy(copy, buf, len);
		for (size_t i = 0; i + 1 < len; i++)
			if (copy[i] == '\r' && copy[i + 1] == '\n')
				copy[i] = ' ';
		buf = copy;
	}
	z.total_lines = count_lines(buf, buf + len);
	if (len && buf[len - 1] != '\n')
		z.total_lines++;

	if (!(s = malloc(sizeof(*s)))) {
		rc = TAPIR_ENOMEM;
		goto out_free_copy;
	}
	/* origin was canonicalised by the caller: nothing in it can be read
	 * as a directive by zs_init(). */
	if (zs_init(s, origin, 1, 3600) != 0) {
		rc = s->error.code == ZS_ENOMEM ? TAPIR_ENOMEM : TAPIR_EINVAL;
		goto out_deinit;
	}
	r.start_cs = s->cs;
	r.block = r.mark = buf;
	r.end = buf + len;
	r.mark_line = 1;
	if (zs_set_input_string(s, buf, len) != 0) {
		rc = TAPIR_ENOMEM;
		goto out_deinit;
	}

	while (!done && rc == 0) {
		if (zs_parse_record(s) != 0) {
			/* Only after a fatal error, already reported. */
			done = !rpz_resume(s, &r);
			continue;
		}
		switch (s->state) {
		case ZS_STATE_DATA:
			/* The input ended inside "( ...": the scanner hands
			 * what it had as a record, but a file cut there may
			 * have lost the rest of it (and its ")"). */
			if (s->multiline)
				bad_line(c, rpz_line(&z, s),
					"end of file inside parentheses");
			else
				rc = rpz_record(&z, s, rpz_line(&z, s));
			break;
		case ZS_STATE_ERROR:
			bad_line(
				c, rpz_line(&z, s), zs_strerror(s->error.code));
			if (s->error.fatal)
				done = !rpz_resume(s, &r);
			break;
		case ZS_STATE_INCLUDE:
			/* The scanner has only read the line; the file named
			 * is never opened. It also leaves a frame on its call
			 * stack each time (16 deep, then it overruns), so it
			 * is restarted as after a fatal error. */
			bad_line(c, rpz_line(&z, s),
				"$INCLUDE is not allowed in a list file");
			done = !rpz_resume(s, &r);
			break;
		default:
			done = true;
			break;
		}
	}
	c->st->lines = rc ? rpz_line(&z, s) : z.total_lines;
out_deinit:
	zs_deinit(s);
	free(s);
out_free_copy:
	free(copy);
	return rc;
}

static int
check_opts(const struct tapir_file_opts *o, char *origin, struct tapir_error *e)
{
	struct tapir_error ne;

	origin[0] = '\0';
	if (!o || (unsigned)o->format >= TAPIR_FORMAT_COUNT)
		return tapir_error_set(e, TAPIR_EINVAL, 0, "unknown format");
	if (o->format == TAPIR_FORMAT_CSV &&
		(o->csv_delim == '"' || o->csv_delim == '\n' ||
			o->csv_delim == '\r'))
		return tapir_error_set(e, TAPIR_EINVAL, 0,
			"csv delimiter cannot be a quote or a line end");
	if (o->format == TAPIR_FORMAT_RPZ && o->origin && o->origin[0] &&
		strcmp(o->origin, ".") != 0 &&
		tapir_name_canon(o->origin, strlen(o->origin), 0, origin, NULL,
			NULL, &ne) != 0)
		return tapir_error_set(
			e, TAPIR_EINVAL, 0, "rpz origin: %s", ne.text);
	return 0;
}

/* Sets c up for o, or says why o will not do. st: where the counts go,
 * cleared. */
static int
ctx_init(struct ctx *c, const struct tapir_file_opts *o,
	tapir_file_record_fn rec, tapir_file_error_fn err, void *arg,
	struct tapir_file_stats *st, char *origin, struct tapir_error *e)
{
	int rc;

	memset(st, 0, sizeof(*st));
	if (!rec)
		return tapir_error_set(e, TAPIR_EINVAL, 0, "no input");
	if ((rc = check_opts(o, origin, e)))
		return rc;
	memset(c, 0, sizeof(*c));
	c->rec = rec;
	c->err = err;
	c->arg = arg;
	c->st = st;
	c->max_reported = o->max_errors_reported
				  ? o->max_errors_reported
				  : TAPIR_FILE_ERRORS_REPORTED_DEFAULT;
	c->csv_column = o->csv_column ? o->csv_column : 2;
	c->csv_delim = o->csv_delim ? o->csv_delim : ',';
	c->header_pending = o->csv_header;
	return 0;
}

/* The line parser of a line format; NULL for RPZ. */
static line_fn
line_parser(enum tapir_file_format format)
{
	switch (format) {
	case TAPIR_FORMAT_DOMAINS:
		return domains_line;
	case TAPIR_FORMAT_HOSTS:
		return hosts_line;
	case TAPIR_FORMAT_CSV:
		return csv_line;
	default:
		return NULL;
	}
}

static bool
has_bom(const char *p, size_t len)
{
	/* A UTF-8 byte order mark, as some editors write. */
	return len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0;
}

static int
parse(const char *buf, size_t len, const struct tapir_file_opts *o,
	tapir_file_record_fn rec, tapir_file_error_fn err, void *arg,
	struct tapir_file_stats *st, struct tapir_error *e)
{
	char origin[TAPIR_NAME_BUFSIZE];
	struct tapir_file_stats local;
	struct ctx c;
	line_fn fn;
	size_t used;
	int rc;

	if (!st)
		st = &local;
	if ((rc = ctx_init(&c, o, rec, err, arg, st, origin, e)))
		return rc;
	if (!buf && len)
		return tapir_error_set(e, TAPIR_EINVAL, 0, "no input");
	if (!buf)
		buf = "";
	if (has_bom(buf, len)) {
		buf += 3;
		len -= 3;
	}
	st->unterminated = len && buf[len - 1] != '\n';
	if ((fn = line_parser(o->format)))
		return each_line(&c, buf, len, true, fn, &used);
	rc = parse_rpz(&c, buf, len, origin[0] ? origin : NULL);
	if (rc == TAPIR_ENOMEM || rc == TAPIR_EINVAL)
		tapir_error_set(e, rc, 0, "%s", tapir_strerror(rc));
	return rc;
}

size_t tapir__listfile_block = 65536;

/*
 * A file of a line format, read a block at a time: the list is never
 * whole in memory, so that loading it costs the database's memory and
 * not the list's too (a 10M-name list is some 300 MB). each_line() takes
 * each block's whole lines, and the rest waits for the next block; a line
 * longer than a block grows the block (up to max, the file's own bound).
 */
static int
stream_lines(struct ctx *c, int fd, const char *path, size_t max, line_fn fn,
	struct tapir_error *e)
{
	size_t cap = tapir__listfile_block, have = 0, total = 0;
	char *buf = malloc(cap), *nb, last = '\n';
	bool bom_checked = false, eof = false;
	int rc = 0;

	if (!buf)
		return tapir_error_set(e, TAPIR_ENOMEM, 0, "out of memory");
	while (!eof && rc == 0) {
		size_t used;
		ssize_t r;

		/* Full: a line (or a byte order mark) longer than it. */
		if (have == cap) {
			if (!(nb = realloc(buf, cap * 2))) {
				rc = tapir_error_set(
					e, TAPIR_ENOMEM, 0, "out of memory");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = tapir_error_set(e, TAPIR_EIO, total, "%s: %s",
				path, strerror(errno));
			break;
		}
		/* A file that grows past max while it is read. */
		if ((total += (size_t)r) > max) {
			rc = tapir_error_set(e, TAPIR_ETOOBIG, 0,
				"%s: larger than %zu bytes", path, max);
			break;
		}
		eof = r == 0;
		have += (size_t)r;
		if (!bom_checked) {
			if (have < 3 && !eof)
				continue;
			bom_checked = true;
			if (has_bom(buf, have)) {
				have -= 3;
				memmove(buf, buf + 3, have);
			}
		}
		if (have)
			last = buf[have - 1];
		rc = each_line(c, buf, have, eof, fn, &used);
		have -= used;
		memmove(buf, buf + used, have);
	}
	c->st->unterminated = last != '\n';
	free(buf);
	return rc;
}

int
tapir_file_parse(const char *buf, size_t len, const struct tapir_file_opts *o,
	tapir_file_record_fn rec, tapir_file_error_fn err, void *arg,
	struct tapir_file_stats *st)
{
	return parse(buf, len, o, rec, err, arg, st, NULL);
}

int
tapir_file_parse_path(const char *path, size_t max_size,
	const struct tapir_file_opts *o, tapir_file_record_fn rec,
	tapir_file_error_fn err, void *arg, struct tapir_file_stats *st,
	struct tapir_error *e)
{
	char origin[TAPIR_NAME_BUFSIZE];
	struct tapir_file_stats local;
	struct stat sb;
	struct ctx c;
	line_fn fn;
	char *buf;
	size_t len;
	int fd, rc;

	if (e)
		e->line = 0;
	if (st)
		memset(st, 0, sizeof(*st));
	if (!path)
		return tapir_error_set(e, TAPIR_EINVAL, 0, "no path");
	if (!max_size)
		max_size = TAPIR_FILE_MAX_SIZE_DEFAULT;
	if (o && (fn = line_parser(o->format))) {
		if ((rc = ctx_init(&c, o, rec, err, arg, st ? st : &local,
			     origin, e)) != 0)
			return rc;
		if ((rc = tapir_fileio_open(path, max_size, 0, &fd, &sb, e)))
			return rc;
		rc = stream_lines(&c, fd, path, max_size, fn, e);
		close(fd);
		return rc;
	}
	/* RPZ text goes to the zone scanner whole. */
	if ((rc = tapir_fileio_read(path, max_size, 0, &buf, &len, e)) != 0)
		return rc;
	rc = parse(buf, len, o, rec, err, arg, st, e);
	free(buf);
	return rc;
}
