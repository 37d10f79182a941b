/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal (format and invariants in lib/journal.h). Records are built
 * in a batch and appended with one write(); a replay streams the file
 * through stdio, so a journal of any size costs one buffer, and applies
 * each record as soon as it checks out: unlike the state file, a journal
 * is good up to its first bad record, not all or nothing.
 */
#include "tapir_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/fileio.h"
#include "lib/journal.h"
#include "lib/name.h"

#define MAGIC	       "TAPIRJN\0"
#define FORMAT_VERSION 1
#define HDR_SIZE       TAPIR_JOURNAL_HDR_SIZE
#define REC_HDR	       18
#define SUM_SIZE       8
#define NAME_MAX_T     (TAPIR_NAME_BUFSIZE - 3) /* 253: longest canonical */
#define REC_MAX	       (REC_HDR + TAPIR_SOURCE_NAME_MAX + NAME_MAX_T + SUM_SIZE)

enum { KIND_SET = 1, KIND_REMOVE = 2 };

/* Flag bits a record may carry: as the state file's (lib/state.c). */
#ifdef TAPIR_ENTRY_ACTION_MASK
#define KNOWN_FLAGS (TAPIR_ENTRY_SUBTREE | TAPIR_ENTRY_ACTION_MASK)
#else
#define KNOWN_FLAGS TAPIR_ENTRY_SUBTREE
#endif

struct tapir_journal {
	int fd;
	uint64_t size;
	bool unsynced; /* appended to since the last sync */
};

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* BLAKE2b's shortest output is 16 bytes; 8 of them are kept. */
static void
checksum(uint8_t out[SUM_SIZE], const uint8_t *p, size_t n)
{
	uint8_t full[crypto_generichash_BYTES_MIN];

	crypto_generichash(full, sizeof(full), p, n, NULL, 0);
	memcpy(out, full, SUM_SIZE);
}

static bool
checksum_ok(const uint8_t *p, size_t n)
{
	uint8_t sum[SUM_SIZE];

	checksum(sum, p, n);
	return sodium_memcmp(sum, p + n, SUM_SIZE) == 0;
}

/* Batches */

static int
add(struct tapir_journal_batch *b, uint8_t kind,
	const struct tapir_source_config *source, const char *name, size_t len,
	uint8_t flags, const struct tapir_entry *ent)
{
	size_t slen = strnlen(source->name, TAPIR_SOURCE_NAME_MAX);
	size_t n = REC_HDR + slen + len + SUM_SIZE;
	uint8_t *p;

	if (slen == 0 || slen >= TAPIR_SOURCE_NAME_MAX || len == 0 ||
		len > NAME_MAX_T)
		return TAPIR_EINVAL;
	if (tapir_lib_init() != 0)
		return TAPIR_ENOMEM;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *nb;
		while (cap - b->len < n)
			cap *= 2;
		if (!(nb = realloc(b->buf, cap)))
			return TAPIR_ENOMEM;
		b->buf = nb;
		b->cap = cap;
	}
	p = b->buf + b->len;
	p[0] = kind;
	p[1] = (uint8_t)source->list;
	p[2] = (uint8_t)source->type;
	p[3] = flags;
	p[4] = (uint8_t)slen;
	p[5] = (uint8_t)len;
	put_u32(p + 6, ent ? ent->tags : 0);
	put_u32(p + 10, ent ? ent->added : 0);
	put_u32(p + 14, ent ? ent->expiry : 0);
	memcpy(p + REC_HDR, source->name, slen);
	memcpy(p + REC_HDR + slen, name, len);
	checksum(p + n - SUM_SIZE, p, n - SUM_SIZE);
	b->len += n;
	return 0;
}

int
tapir_journal_add_set(struct tapir_journal_batch *b,
	const struct tapir_source_config *source, const char *name, size_t len,
	const struct tapir_entry *ent)
{
	return add(b, KIND_SET, source, name, len, ent->flags, ent);
}

int
tapir_journal_add_remove(struct tapir_journal_batch *b,
	const struct tapir_source_config *source, const char *name, size_t len,
	uint8_t flags)
{
	return add(b, KIND_REMOVE, source, name, len,
		flags & TAPIR_ENTRY_SUBTREE, NULL);
}

void
tapir_journal_batch_reset(struct tapir_journal_batch *b)
{
	b->len = 0;
}

void
tapir_journal_batch_free(struct tapir_journal_batch *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* Writing */

static int
header_fill(void *arg, int fd, struct tapir_error *err)
{
	const int64_t *generation = arg;
	uint8_t h[HDR_SIZE];

	(void)err;
	memset(h, 0, sizeof(h));
	memcpy(h, MAGIC, 8);
	put_u32(h + 8, FORMAT_VERSION);
	put_u32(h + 16, (uint32_t)(uint64_t)*generation);
	put_u32(h + 20, (uint32_t)((uint64_t)*generation >> 32));
	checksum(h + 24, h, 24);
	return tapir_fileio_write_all(fd, h, sizeof(h)) != 0 ? errno : 0;
}

static int
open_append(const char *path, uint64_t len, struct tapir_journal **out,
	struct tapir_error *err)
{
	struct tapir_journal *j;
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "%s: %s", path, strerror(errno));
	/* A torn tail goes: a record after it would never be replayed. */
	if (ftruncate(fd, (off_t)len) != 0) {
		int saved = errno;
		close(fd);
		return tapir_error_set(err, TAPIR_EIO, 0, "%s: truncate: %s",
			path, strerror(saved));
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		close(fd);
		return tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
	}
	j->fd = fd;
	j->size = len;
	*out = j;
	return 0;
}

int
tapir_journal_start(const char *path, int64_t generation,
	struct tapir_journal **out, struct tapir_error *err)
{
	int rc;

	*out = NULL;
	if (tapir_lib_init() != 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "libsodium failed to initialise");
	if ((rc = tapir_fileio_write_atomic(
		     path, header_fill, &generation, err)) != 0)
		return rc;
	/* Single writer: nothing replaces the file between the two. */
	return open_append(path, HDR_SIZE, out, err);
}

int
tapir_journal_reopen(const char *path, uint64_t valid_len,
	struct tapir_journal **out, struct tapir_error *err)
{
	*out = NULL;
	if (valid_len < HDR_SIZE)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "%s: no valid header", path);
	return open_append(path, valid_len, out, err);
}

int
tapir_journal_append(struct tapir_journal *j,
	const struct tapir_journal_batch *b, struct tapir_error *err)
{
	if (b->len == 0)
		return 0;
	j->unsynced = true;
	if (tapir_fileio_write_all(j->fd, b->buf, b->len) != 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "write: %s", strerror(errno));
	j->size += b->len;
	return 0;
}

int
tapir_journal_sync(struct tapir_journal *j)
{
	if (!j->unsynced)
		return 0;
	if (fdatasync(j->fd) != 0)
		return TAPIR_EIO;
	j->unsynced = false;
	return 0;
}

uint64_t
tapir_journal_size(const struct tapir_journal *j)
{
	return j->size;
}

void
tapir_journal_close(struct tapir_journal *j)
{
	if (!j)
		return;
	close(j->fd);
	free(j);
}

/* Replay */

/* One record's fixed part checks out (its lengths and values); the
 * checksum is checked once the rest is read. */
static bool
head_ok(const uint8_t *r)
{
	return (r[0] == KIND_SET || r[0] == KIND_REMOVE) &&
	       (r[3] & ~KNOWN_FLAGS) == 0 && r[4] > 0 &&
	       r[4] < TAPIR_SOURCE_NAME_MAX && r[5] > 0 && r[5] <= NAME_MAX_T;
}

/* The name as the database keys it, or it could match nothing. */
static bool
name_ok(const char *name, size_t len)
{
	char canon[TAPIR_NAME_BUFSIZE];
	size_t clen;

	return tapir_name_canon(name, len, 0, canon, &clen, NULL, NULL) == 0 &&
	       clen == len && memcmp(canon, name, len) == 0;
}

static void
apply(struct tapir_db *db, const struct tapir_config *cfg, int64_t now,
	const uint8_t *r, struct tapir_journal_stats *st)
{
	char sname[TAPIR_SOURCE_NAME_MAX];
	const char *name = (const char *)r + REC_HDR + r[4];
	uint32_t expiry = get_u32(r + 14);
	struct tapir_entry ent;
	int i;

	memcpy(sname, r + REC_HDR, r[4]);
	sname[r[4]] = '\0';
	i = tapir_config_source_index(cfg, sname);
	if (i < 0 || cfg->sources[i].list != r[1] ||
		cfg->sources[i].type != r[2]) {
		st->other_source++;
		return;
	}
	/* No entry to remove is fine: it expired, or never got in. */
	if (r[0] == KIND_REMOVE) {
		if (tapir_db_remove(db, name, r[5], (uint16_t)i, r[3]) ==
			TAPIR_ENOMEM)
			st->failed++;
		else
			st->replayed++;
		return;
	}
	/* Same test as tapir_db_expire: expiry is the first dead second.
	 * The entry this set replaced would be gone by now too. */
	if ((int64_t)expiry <= now) {
		if (tapir_db_remove(db, name, r[5], (uint16_t)i, r[3]) ==
			TAPIR_ENOMEM)
			st->failed++;
		else
			st->expired++;
		return;
	}
	memset(&ent, 0, sizeof(ent));
	ent.source = (uint16_t)i;
	ent.list = r[1];
	ent.flags = r[3];
	ent.tags = get_u32(r + 6);
	ent.added = get_u32(r + 10);
	ent.expiry = expiry;
	if (tapir_db_set(db, name, r[5], &ent) != 0)
		st->failed++;
	else
		st->replayed++;
}

int
tapir_journal_replay(const char *path, int64_t generation, struct tapir_db *db,
	const struct tapir_config *cfg, int64_t now,
	struct tapir_journal_stats *st, struct tapir_error *err)
{
	uint8_t h[HDR_SIZE], r[REC_MAX];
	struct stat sb;
	uint64_t gen;
	FILE *f;
	int fd;

	memset(st, 0, sizeof(*st));
	if (tapir_lib_init() != 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "libsodium failed to initialise");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return tapir_error_set(
				err, TAPIR_ENOENT, 0, "no journal");
		return tapir_error_set(
			err, TAPIR_EIO, 0, "%s", strerror(errno));
	}
	/* Not a FIFO or a device: a read must end. */
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return tapir_error_set(err, TAPIR_EIO, 0, "not a regular file");
	}
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return tapir_error_set(
			err, TAPIR_ENOMEM, 0, "%s", strerror(errno));
	}
	if (fread(h, 1, HDR_SIZE, f) != HDR_SIZE || memcmp(h, MAGIC, 8) != 0 ||
		get_u32(h + 8) != FORMAT_VERSION || !checksum_ok(h, 24)) {
		fclose(f);
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"not a journal of version %d", FORMAT_VERSION);
	}
	gen = (uint64_t)get_u32(h + 16) | (uint64_t)get_u32(h + 20) << 32;
	st->generation = (int64_t)gen;
	if (gen != (uint64_t)generation) {
		fclose(f);
		return tapir_error_set(err, TAPIR_ERANGE, 16,
			"it follows the state file of %llu, not of %lld",
			(unsigned long long)gen, (long long)generation);
	}
	st->valid_len = HDR_SIZE;
	for (;;) {
		size_t rest;
		if (fread(r, 1, REC_HDR, f) != REC_HDR || !head_ok(r))
			break;
		rest = (size_t)r[4] + r[5] + SUM_SIZE;
		if (fread(r + REC_HDR, 1, rest, f) != rest ||
			!checksum_ok(r, REC_HDR + rest - SUM_SIZE) ||
			!name_ok((const char *)r + REC_HDR + r[4], r[5]))
			break;
		apply(db, cfg, now, r, st);
		st->valid_len += REC_HDR + rest;
	}
	if (ferror(f)) {
		int saved = errno;
		fclose(f);
		return tapir_error_set(
			err, TAPIR_EIO, st->valid_len, "%s", strerror(saved));
	}
	/* The size read at open: the writer is this thread, not appending. */
	if ((uint64_t)sb.st_size > st->valid_len)
		st->dropped = (uint64_t)sb.st_size - st->valid_len;
	fclose(f);
	return 0;
}
