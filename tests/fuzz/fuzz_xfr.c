/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds arbitrary bytes to the zone transfer client as what a primary
 * sends (tapir__xfr_replay(), lib/xfr.c: the code of tapir_xfr_fetch()
 * with the socket replaced by memory), and puts what it delivers into a
 * database as the engine does: an entry per (name, kind) with the RPZ
 * action in its flags.
 *
 * Input: one octet of mode (bit 0: IXFR from the serial that follows,
 * else AXFR; bit 1: TSIG with the key below), the four octets of that
 * serial (big-endian), then the answer stream: DNS messages, each after
 * its two-octet length, with query id ID and question (ZONE, AXFR|IXFR).
 * The seeds come from tests/unit/test_xfr.c (TAPIR_XFR_SEEDS).
 *
 * Aborts when the callbacks come out of order (a record before begin(),
 * a deletion in a full transfer, end() twice or on a failed transfer,
 * anything on "up to date"), or a record is not canonical or has an
 * action out of range.
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>

#include "lib/db.h"
#include "lib/name.h"
#include "lib/xfr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID     0x7a9e
#define ZONE   "rpz.test"
#define SECRET "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"

struct run {
	struct tapir_db *db;
	bool begun, full, ended;
	size_t records, missing;
};

static int
on_begin(void *arg, bool full, uint32_t from, uint32_t to)
{
	struct run *r = arg;

	(void)from;
	(void)to;
	if (r->ended || (r->begun && (full || r->full)))
		abort();
	r->begun = true;
	r->full = full;
	return 0;
}

static int
on_record(void *arg, bool add, const struct tapir_file_record *rec)
{
	struct run *r = arg;
	char canon[TAPIR_NAME_BUFSIZE];
	size_t clen;
	struct tapir_entry ent = { .expiry = TAPIR_EXPIRY_NEVER,
		.list = TAPIR_LIST_DENY };
	uint8_t flags = rec->subtree ? TAPIR_ENTRY_SUBTREE : 0;

	if (!r->begun || r->ended || (!add && r->full) ||
		(unsigned)rec->action >= TAPIR_ACTION_COUNT ||
		strlen(rec->name) != rec->len)
		abort();
	if (tapir_name_canon(
		    rec->name, rec->len, 0, canon, &clen, NULL, NULL) != 0 ||
		clen != rec->len || memcmp(canon, rec->name, clen) != 0)
		abort();
	r->records++;
	if (!add) {
		/* A deletion of what is not there is the engine's to skip. */
		if (tapir_db_remove(r->db, rec->name, rec->len, 0, flags) != 0)
			r->missing++;
		return 0;
	}
	ent.flags = flags;
	if (rec->action != TAPIR_ACTION_PASS)
		ent.flags |= (uint8_t)(rec->action << TAPIR_ENTRY_ACTION_SHIFT);
	/* A full database is the engine's to count, not an error here. */
	if (tapir_db_set(r->db, rec->name, rec->len, &ent) != 0)
		r->missing++;
	return 0;
}

static int
on_end(void *arg, const struct tapir_xfr_soa *soa)
{
	struct run *r = arg;

	(void)soa;
	if (!r->begun || r->ended)
		abort();
	r->ended = true;
	return 0;
}

static void
on_bad(void *arg, const char *reason)
{
	(void)arg;
	if (!reason || !reason[0])
		abort();
}

static const struct tapir_xfr_ops ops = {
	.begin = on_begin,
	.record = on_record,
	.end = on_end,
	.bad = on_bad,
};

static int
check_entry(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n)
{
	(void)arg;
	(void)name;
	(void)len;
	for (size_t i = 0; i < n; i++)
		if (TAPIR_ENTRY_ACTION(e[i].flags) >= TAPIR_ACTION_COUNT)
			abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapir_xfr_opts o = {
		.primary = "127.0.0.1", .zone = ZONE, .max_records = 10000
	};
	struct tapir_xfr_soa soa;
	struct tapir_error err = { 0 };
	struct run r = { 0 };
	bool ixfr;
	uint32_t serial;
	int rc;

	if (size < 5 || !(r.db = tapir_db_create(0)))
		return 0;
	ixfr = data[0] & 1;
	if (data[0] & 2) {
		o.tsig_name = "xfr-key";
		o.tsig_secret = SECRET;
	}
	serial = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
		 (uint32_t)data[3] << 8 | data[4];
	rc = tapir__xfr_replay(
		&o, ixfr, serial, ID, data + 5, size - 5, &ops, &r, &soa, &err);
	if ((rc == 0) != r.ended ||
		(rc != 0 && rc != TAPIR_ENOMEM && !err.text[0]) ||
		(rc == TAPIR_EEXIST && (r.begun || r.records)))
		abort();
	tapir_db_walk(r.db, check_entry, NULL);
	tapir_db_destroy(r.db);
	return 0;
}
