/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the list-file parsers. The first byte picks the
 * format (bits 0-1) and the options (bit 2: CSV header, bits 3-4: CSV
 * column, bit 5: ';' as delimiter, bit 6: an RPZ origin, bit 7: one error
 * reported); the rest is the file. Aborts when a record name is not
 * canonical, a line number is past the input's last line, a non-RPZ record
 * carries an action, or the counts disagree with the callbacks. A line
 * format is also read from a file (a memfd), in blocks of 1 to 61 bytes
 * chosen by the input's length, as tapir_file_parse_path() reads lists:
 * it aborts unless that gives the same records, bad lines and counts.
 */
#include "tapir_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/listfile.h"
#include "lib/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	enum tapir_file_format format;
	unsigned max_line;
	size_t records, errors;
	uint64_t digest; /* of every record and error, in order */
};

static void
mix(struct seen *s, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		s->digest = (s->digest ^ b[i]) * 0x100000001b3ULL;
}

static int
on_record(void *arg, const struct tapir_file_record *r)
{
	struct seen *s = arg;
	char again[TAPIR_NAME_BUFSIZE];
	size_t len;
	bool wild;

	if (!r->name || r->len == 0 || strlen(r->name) != r->len)
		abort();
	if (tapir_name_canon(r->name, r->len, 0, again, &len, &wild, NULL) ||
		len != r->len || wild || strcmp(again, r->name) != 0)
		abort();
	if (r->line < 1 || r->line > s->max_line)
		abort();
	if ((unsigned)r->action >= TAPIR_ACTION_COUNT)
		abort();
	if (s->format != TAPIR_FORMAT_RPZ && r->action != TAPIR_ACTION_PASS)
		abort();
	s->records++;
	mix(s, r->name, r->len + 1);
	mix(s, &r->line, sizeof(r->line));
	mix(s, &r->subtree, sizeof(r->subtree));
	return 0;
}

static void
on_error(void *arg, unsigned line, const char *reason)
{
	struct seen *s = arg;

	if (line < 1 || line > s->max_line || !reason || !reason[0] ||
		strchr(reason, '\n'))
		abort();
	s->errors++;
	mix(s, &line, sizeof(line));
	mix(s, reason, strlen(reason) + 1);
}

/* The same input read from a file, a block at a time. */
static void
from_a_file(const char *buf, size_t len, const struct tapir_file_opts *o,
	const struct seen *whole, const struct tapir_file_stats *wst)
{
	struct seen s = { .format = whole->format,
		.max_line = whole->max_line };
	struct tapir_file_stats st;
	size_t saved = tapir__listfile_block;
	char path[64];
	int fd, rc;

	if ((fd = memfd_create("fuzz_listfile", MFD_CLOEXEC)) < 0)
		return;
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	tapir__listfile_block = 1 + len % 61;
	rc = tapir_file_parse_path(
		path, 0, o, on_record, on_error, &s, &st, NULL);
	tapir__listfile_block = saved;
	close(fd);
	if (rc == TAPIR_ENOMEM)
		return;
	if (rc != 0 || s.digest != whole->digest ||
		s.records != whole->records || s.errors != whole->errors ||
		st.lines != wst->lines || st.records != wst->records ||
		st.errors != wst->errors || st.skipped != wst->skipped ||
		st.unterminated != wst->unterminated ||
		st.last_bad_line != wst->last_bad_line)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapir_file_opts o;
	struct tapir_file_stats st;
	struct seen s;
	const char *buf;
	size_t len, cap;
	int rc;

	if (size < 1)
		return 0;
	memset(&o, 0, sizeof(o));
	o.format = (enum tapir_file_format)(data[0] & 3);
	o.csv_header = data[0] & 4;
	o.csv_column = (data[0] >> 3) & 3;
	o.csv_delim = (data[0] & 32) ? ';' : 0;
	o.origin = (data[0] & 64) ? "rpz.local" : NULL;
	o.max_errors_reported = (data[0] & 128) ? 1 : 0;
	buf = (const char *)data + 1;
	len = size - 1;

	memset(&s, 0, sizeof(s));
	s.format = o.format;
	s.max_line = 1;
	for (size_t i = 0; i < len; i++)
		s.max_line += buf[i] == '\n';

	rc = tapir_file_parse(buf, len, &o, on_record, on_error, &s, &st);
	if (rc != 0 && rc != TAPIR_ENOMEM)
		abort();
	cap = o.max_errors_reported ? o.max_errors_reported
				    : TAPIR_FILE_ERRORS_REPORTED_DEFAULT;
	if (st.records != s.records || st.lines > s.max_line ||
		s.errors != (st.errors < cap ? st.errors : cap))
		abort();
	if (o.format != TAPIR_FORMAT_RPZ && rc == 0)
		from_a_file(buf, len, &o, &s, &st);
	return 0;
}
