/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state file (format in lib/state.h). A save walks the database twice:
 * once to count, so the header can go first and the checksum be computed as
 * the bytes stream out through a 1 MiB buffer, whatever the database size.
 * A load reads the whole file into memory, checks the checksum, validates
 * every record, and only then adds entries: the database never sees part
 * of a corrupt file.
 */
#include "tapir_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/fileio.h"
#include "lib/state.h"
#include "lib/name.h"

#define MAGIC	       "TAPIRST\0"
#define FORMAT_VERSION 1
#define HDR_SIZE       40
#define SRC_HDR	       3  /* name length, list, type */
#define REC_HDR	       16 /* source, flags, list, name length, 3 x u32 */
#define SUM_SIZE       32 /* BLAKE2b-256 */
#define NAME_MAX_T     (TAPIR_NAME_BUFSIZE - 3) /* 253: longest canonical */
#define WBUF_SIZE      (1 << 20)

/* Flag bits a file may carry: the kind and, where lib/db.h has it, the
 * entry's own action in bits 1..3. Other bits come from a newer writer or
 * from damage; either way this reader cannot know what they mean. */
#ifdef TAPIR_ENTRY_ACTION_MASK
#define KNOWN_FLAGS    (TAPIR_ENTRY_SUBTREE | TAPIR_ENTRY_ACTION_MASK)
#define FLAG_ACTION(f) TAPIR_ENTRY_ACTION(f)
#else
#define KNOWN_FLAGS    TAPIR_ENTRY_SUBTREE
#define FLAG_ACTION(f) 0u
#endif

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static bool
expired(uint32_t expiry, int64_t now)
{
	/* Same test as tapir_db_expire: expiry is the first dead second. */
	return (int64_t)expiry <= now;
}

/* Save */

struct writer {
	int fd;
	uint8_t *buf; /* owned, WBUF_SIZE */
	size_t used;
	crypto_generichash_state hash;
	int error; /* errno of the first failed write, 0 if none */
};

static int
flush_buf(struct writer *w)
{
	if (w->error)
		return -1;
	crypto_generichash_update(&w->hash, w->buf, w->used);
	if (tapir_fileio_write_all(w->fd, w->buf, w->used) != 0) {
		w->error = errno;
		return -1;
	}
	w->used = 0;
	return 0;
}

/* Room for n more bytes; n is at most one record (REC_HDR + NAME_MAX_T). */
static uint8_t *
reserve(struct writer *w, size_t n)
{
	uint8_t *p;

	if (w->used + n > WBUF_SIZE && flush_buf(w) != 0)
		return NULL;
	p = w->buf + w->used;
	w->used += n;
	return p;
}

struct save_walk {
	const struct tapir_config *cfg;
	int16_t file_index[TAPIR_MAX_SOURCES]; /* -1: not saved */
	int64_t now;
	uint64_t records, bytes;
	struct writer *w; /* NULL on the counting pass */
};

static bool
keep_entry(const struct save_walk *s, const struct tapir_entry *e)
{
	return e->source < s->cfg->n_sources && s->file_index[e->source] >= 0 &&
	       !expired(e->expiry, s->now);
}

static int
save_cb(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct save_walk *s = arg;

	for (size_t i = 0; i < n; i++) {
		uint8_t *p;
		if (!keep_entry(s, &e[i]))
			continue;
		s->records++;
		s->bytes += REC_HDR + len;
		if (!s->w)
			continue;
		if (!(p = reserve(s->w, REC_HDR + len)))
			return 1;
		p[0] = (uint8_t)s->file_index[e[i].source];
		p[1] = e[i].flags;
		p[2] = e[i].list;
		p[3] = (uint8_t)len;
		put_u32(p + 4, e[i].tags);
		put_u32(p + 8, e[i].added);
		put_u32(p + 12, e[i].expiry);
		memcpy(p + REC_HDR, name, len);
	}
	return 0;
}

/* Header and source table: the bytes before the first record. */
static int
write_head(struct writer *w, const struct tapir_config *cfg,
	const struct save_walk *s, unsigned n_sources, int64_t now)
{
	uint8_t *p;

	if (!(p = reserve(w, HDR_SIZE)))
		return -1;
	memcpy(p, MAGIC, 8);
	put_u32(p + 8, FORMAT_VERSION);
	put_u32(p + 12, n_sources);
	put_u64(p + 16, (uint64_t)now);
	put_u64(p + 24, s->records);
	put_u64(p + 32, s->bytes);
	for (size_t i = 0; i < cfg->n_sources; i++) {
		size_t nlen = strlen(cfg->sources[i].name);
		if (s->file_index[i] < 0)
			continue;
		if (!(p = reserve(w, SRC_HDR + nlen)))
			return -1;
		p[0] = (uint8_t)nlen;
		p[1] = (uint8_t)cfg->sources[i].list;
		p[2] = (uint8_t)cfg->sources[i].type;
		memcpy(p + SRC_HDR, cfg->sources[i].name, nlen);
	}
	return 0;
}

/* What save_fill() writes: the walk counted on the first pass. */
struct save_job {
	struct tapir_db *db;
	const struct tapir_config *cfg;
	struct save_walk *s;
	struct writer *w;
	unsigned n_sources;
	int64_t now;
	uint64_t counted;
};

/* The second pass, into the temporary file: an errno value when a write
 * failed (tapir_fileio_write_atomic() names the file). */
static int
save_fill(void *arg, int fd, struct tapir_error *err)
{
	struct save_job *j = arg;
	struct writer *w = j->w;
	uint8_t sum[SUM_SIZE];

	w->fd = fd;
	crypto_generichash_init(&w->hash, NULL, 0, SUM_SIZE);
	if (write_head(w, j->cfg, j->s, j->n_sources, j->now) != 0)
		return w->error ? w->error : EIO;
	j->s->records = j->s->bytes = 0;
	j->s->w = w;
	if (tapir_db_walk(j->db, save_cb, j->s) != 0 || flush_buf(w) != 0)
		return w->error ? w->error : EIO;
	/* The walk is on the writer thread, so nothing can change between
	 * the passes; a header that lied would make the file unloadable. */
	if (j->s->records != j->counted)
		return tapir_error_set(
			err, TAPIR_EINVAL, 0, "database changed during save");
	crypto_generichash_final(&w->hash, sum, sizeof(sum));
	if (tapir_fileio_write_all(fd, sum, sizeof(sum)) != 0)
		return errno ? errno : EIO;
	return 0;
}

int
tapir_state_save(struct tapir_db *db, const struct tapir_config *cfg,
	const char *path, int64_t now, tapir_state_source_fn want, void *arg,
	size_t *saved, struct tapir_error *err)
{
	struct save_walk s;
	struct save_job job;
	struct writer w;
	unsigned n_sources = 0;
	int rc;

	if (saved)
		*saved = 0;
	if (tapir_lib_init() != 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "libsodium failed to initialise");
	if (cfg->n_sources > TAPIR_MAX_SOURCES)
		return tapir_error_set(
			err, TAPIR_EINVAL, 0, "too many sources");
	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.now = now;
	for (size_t i = 0; i < cfg->n_sources; i++) {
		size_t nlen = strlen(cfg->sources[i].name);
		s.file_index[i] = -1;
		if (want && !want(arg, (uint16_t)i))
			continue;
		if (nlen == 0 || nlen >= TAPIR_SOURCE_NAME_MAX)
			return tapir_error_set(err, TAPIR_EINVAL, 0,
				"source %zu: name length %zu out of range", i,
				nlen);
		s.file_index[i] = (int16_t)n_sources++;
	}
	(void)tapir_db_walk(db, save_cb, &s);

	memset(&w, 0, sizeof(w));
	w.fd = -1;
	if (!(w.buf = malloc(WBUF_SIZE)))
		return tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
	job.db = db;
	job.cfg = cfg;
	job.s = &s;
	job.w = &w;
	job.n_sources = n_sources;
	job.now = now;
	job.counted = s.records;
	rc = tapir_fileio_write_atomic(path, save_fill, &job, err);
	if (rc == 0 && saved)
		*saved = (size_t)job.counted;
	free(w.buf);
	return rc;
}

/* Load */

struct load_src {
	int cfg_index; /* -1: entries skipped (gone, or list/type changed) */
};

static int
parse_sources(const struct tapir_config *cfg, const uint8_t *buf, size_t end,
	size_t *pos, unsigned n, struct load_src *map, struct tapir_error *err)
{
	char names[TAPIR_MAX_SOURCES][TAPIR_SOURCE_NAME_MAX];
	size_t p = *pos;

	for (unsigned i = 0; i < n; i++) {
		size_t nlen;
		unsigned list, type;
		int idx;
		if (end - p < SRC_HDR)
			return tapir_error_set(
				err, TAPIR_EPARSE, p, "source table truncated");
		nlen = buf[p];
		list = buf[p + 1];
		type = buf[p + 2];
		if (nlen == 0 || nlen >= TAPIR_SOURCE_NAME_MAX)
			return tapir_error_set(err, TAPIR_EPARSE, p,
				"source %u: name length %zu", i, nlen);
		if (list >= TAPIR_LIST_COUNT || type > TAPIR_SOURCE_XFR)
			return tapir_error_set(err, TAPIR_EPARSE, p + 1,
				"source %u: list %u or type %u unknown", i,
				list, type);
		p += SRC_HDR;
		if (end - p < nlen)
			return tapir_error_set(
				err, TAPIR_EPARSE, p, "source table truncated");
		if (memchr(buf + p, '\0', nlen))
			return tapir_error_set(err, TAPIR_EPARSE, p,
				"source %u: NUL in name", i);
		memcpy(names[i], buf + p, nlen);
		names[i][nlen] = '\0';
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(names[j], names[i]))
				return tapir_error_set(err, TAPIR_EPARSE, p,
					"source %u: duplicate name", i);
		p += nlen;
		idx = tapir_config_source_index(cfg, names[i]);
		if (idx >= 0 && (cfg->sources[idx].list != list ||
					cfg->sources[idx].type != type))
			idx = -1;
		map[i].cfg_index = idx;
	}
	*pos = p;
	return 0;
}

/* Validate one record at p (which has end - p bytes left).
 * @return: its size, or 0 after filling err. */
static size_t
check_record(const uint8_t *buf, size_t p, size_t end, unsigned n_sources,
	struct tapir_error *err)
{
	char canon[TAPIR_NAME_BUFSIZE];
	const uint8_t *r = buf + p;
	size_t nlen, clen;

	if (end - p < REC_HDR) {
		tapir_error_set(err, TAPIR_EPARSE, p, "record truncated");
		return 0;
	}
	nlen = r[3];
	if (r[0] >= n_sources)
		tapir_error_set(err, TAPIR_EPARSE, p,
			"source index %u out of range", r[0]);
	else if ((r[1] & ~KNOWN_FLAGS) ||
		 FLAG_ACTION(r[1]) >= TAPIR_ACTION_COUNT)
		tapir_error_set(
			err, TAPIR_EPARSE, p + 1, "unknown flags 0x%02x", r[1]);
	else if (r[2] >= TAPIR_LIST_COUNT)
		tapir_error_set(
			err, TAPIR_EPARSE, p + 2, "unknown list %u", r[2]);
	else if (nlen == 0 || nlen > NAME_MAX_T)
		tapir_error_set(err, TAPIR_EPARSE, p + 3,
			"name length %zu out of range", nlen);
	else if (end - p - REC_HDR < nlen)
		tapir_error_set(err, TAPIR_EPARSE, p, "record truncated");
	/* The file is input like any other: its names must be exactly what
	 * tapir_name_canon would make of them, or the db keys would differ
	 * from the ones lookups compute. */
	else if (tapir_name_canon((const char *)r + REC_HDR, nlen, 0, canon,
			 &clen, NULL, NULL) != 0 ||
		 clen != nlen || memcmp(canon, r + REC_HDR, nlen) != 0)
		tapir_error_set(
			err, TAPIR_EPARSE, p + REC_HDR, "name not canonical");
	else
		return REC_HDR + nlen;
	return 0;
}

int
tapir__state_load_buf(struct tapir_db *db, const struct tapir_config *cfg,
	const uint8_t *buf, size_t len, int64_t now, bool verify_checksum,
	size_t *loaded, size_t *skipped_expired, size_t *skipped_source,
	struct tapir_error *err)
{
	struct load_src map[TAPIR_MAX_SOURCES];
	uint8_t sum[SUM_SIZE];
	uint32_t version, n_sources;
	uint64_t n_records, rec_bytes, i;
	size_t pos, end, n_loaded = 0, n_expired = 0, n_gone = 0;
	int rc;

	if (loaded)
		*loaded = 0;
	if (skipped_expired)
		*skipped_expired = 0;
	if (skipped_source)
		*skipped_source = 0;
	if (tapir_lib_init() != 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "libsodium failed to initialise");

	if (len < HDR_SIZE + SUM_SIZE)
		return tapir_error_set(err, TAPIR_EPARSE, len,
			"file too short (%zu bytes)", len);
	if (memcmp(buf, MAGIC, 8) != 0)
		return tapir_error_set(err, TAPIR_EPARSE, 0, "bad magic");
	if ((version = get_u32(buf + 8)) != FORMAT_VERSION)
		return tapir_error_set(err, TAPIR_EPARSE, 8,
			"unknown version %u", (unsigned)version);
	end = len - SUM_SIZE;
	if (verify_checksum) {
		crypto_generichash(sum, sizeof(sum), buf, end, NULL, 0);
		if (crypto_verify_32(sum, buf + end) != 0)
			return tapir_error_set(
				err, TAPIR_EPARSE, end, "checksum mismatch");
	}
	n_sources = get_u32(buf + 12);
	n_records = get_u64(buf + 24);
	rec_bytes = get_u64(buf + 32);
	if (n_sources > TAPIR_MAX_SOURCES)
		return tapir_error_set(err, TAPIR_EPARSE, 12,
			"%u sources, at most %d", (unsigned)n_sources,
			TAPIR_MAX_SOURCES);
	pos = HDR_SIZE;
	if ((rc = parse_sources(cfg, buf, end, &pos, n_sources, map, err)))
		return rc;
	/* Both counts must describe exactly the bytes that are there; the
	 * second bound also keeps the record loop short on a lying count. */
	if (rec_bytes != end - pos)
		return tapir_error_set(err, TAPIR_EPARSE, 32,
			"records take %zu bytes, header says %llu", end - pos,
			(unsigned long long)rec_bytes);
	if (n_records > rec_bytes / (REC_HDR + 1))
		return tapir_error_set(err, TAPIR_EPARSE, 24,
			"%llu records cannot fit in %llu bytes",
			(unsigned long long)n_records,
			(unsigned long long)rec_bytes);

	/* Pass 1: validate everything; the db is untouched until it ends. */
	size_t start = pos;
	for (i = 0; i < n_records; i++) {
		size_t sz = check_record(buf, pos, end, n_sources, err);
		if (!sz)
			return TAPIR_EPARSE;
		pos += sz;
	}
	if (pos != end)
		return tapir_error_set(err, TAPIR_EPARSE, pos,
			"%zu bytes after the last record", end - pos);

	/* Pass 2: apply. Only the db can fail now (full, out of memory). */
	pos = start;
	for (i = 0; i < n_records; i++) {
		const uint8_t *r = buf + pos;
		struct tapir_entry e;
		size_t nlen = r[3];
		int idx = map[r[0]].cfg_index;
		pos += REC_HDR + nlen;
		e.expiry = get_u32(r + 12);
		if (expired(e.expiry, now)) {
			n_expired++;
			continue;
		}
		if (idx < 0) {
			n_gone++;
			continue;
		}
		e.added = get_u32(r + 8);
		e.tags = get_u32(r + 4);
		e.source = (uint16_t)idx;
		e.list = r[2];
		e.flags = r[1];
		if ((rc = tapir_db_set(
			     db, (const char *)r + REC_HDR, nlen, &e)) != 0) {
			tapir_error_set(err, rc, pos - REC_HDR - nlen,
				"record %llu: %s", (unsigned long long)i,
				tapir_strerror(rc));
			break;
		}
		n_loaded++;
	}
	if (loaded)
		*loaded = n_loaded;
	if (skipped_expired)
		*skipped_expired = n_expired;
	if (skipped_source)
		*skipped_source = n_gone;
	return rc;
}

int
tapir_state_created(const char *path, int64_t *created)
{
	uint8_t hdr[HDR_SIZE];
	size_t got = 0;
	uint64_t v;
	int fd;

	*created = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? TAPIR_ENOENT : TAPIR_EIO;
	while (got < sizeof(hdr)) {
		ssize_t n = read(fd, hdr + got, sizeof(hdr) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got < sizeof(hdr) || memcmp(hdr, MAGIC, 8) != 0 ||
		get_u32(hdr + 8) != FORMAT_VERSION)
		return TAPIR_EPARSE;
	if ((v = get_u64(hdr + 16)) > INT64_MAX)
		return TAPIR_EPARSE;
	*created = (int64_t)v;
	return 0;
}

int
tapir_state_load(struct tapir_db *db, const struct tapir_config *cfg,
	const char *path, int64_t now, size_t *loaded, size_t *skipped_expired,
	size_t *skipped_source, struct tapir_error *err)
{
	char *buf;
	size_t len;
	int rc;

	if (loaded)
		*loaded = 0;
	if (skipped_expired)
		*skipped_expired = 0;
	if (skipped_source)
		*skipped_source = 0;
	/* The limit is 4 GiB, more than a 32-bit size_t holds. */
	if ((rc = tapir_fileio_read(path,
		     TAPIR_STATE_MAX_SIZE > SIZE_MAX
			     ? SIZE_MAX
			     : (size_t)TAPIR_STATE_MAX_SIZE,
		     TAPIR_FILEIO_REGULAR, &buf, &len, err)) != 0)
		return rc;
	rc = tapir__state_load_buf(db, cfg, (const uint8_t *)buf, len, now,
		true, loaded, skipped_expired, skipped_source, err);
	free(buf);
	return rc;
}
