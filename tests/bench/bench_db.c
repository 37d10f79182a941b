/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the policy database (lib/db.c) and of tapir_decide() on it:
 * memory per name (RSS delta and tapir_db_stats), load time, lookups (a
 * tight loop of hits in random order, hits one at a time through a data
 * dependency chain, misses of 3-label names), updates and expiry. It prints
 * numbers and never judges them: times depend on the machine.
 *
 * Names: the real list (-f, $TAPIR_BENCH_NAMES, or the team's test corpus
 * beside the source tree when there is one), canonicalised and
 * deduplicated, in a fixed shuffled order, padded to N with
 * "synth-<n>-<hex>.<tld>" where the TLD is that of a random real name; with
 * no list at all, every name is synthetic. Each (size, repeat) runs in a
 * fresh child process, so that memory freed by one run cannot hide the
 * growth of the next; medians of the repeats are printed.
 *
 * Entries: by default every name gets the same entry, as a file or a zone
 * source loads them, so names share one entry set. With -d each name's
 * entry differs (its time added), as MQTT observations from many messages
 * do: every name then has a set of its own.
 */
#include "tapir_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/msg.h"
#include "lib/name.h"
#include "lib/policy.h"

#define MAX_SIZES     8
#define MAX_REPEATS   15
#define TIGHT_LOOKUPS (2u << 20) /* per measurement, whatever N is */
#define ISO_LOOKUPS   (1u << 20)
#define MISS_NAMES    (1u << 20)
#define NOW	      1700000000
#define LATER	      (NOW + 3600)
#define DEFAULT_NAMES "blocklist-all.txt"
#define DEFAULT_SIZES "10000,100000,1000000"
#define SUBTREE_NAME  "synth-subtree.invalid"
#define TAG_LOAD      (1u << 3)
#define TAG_UPDATE    (1u << 5)

/* A list of names packed in one buffer: name i is buf + off[i], len[i]
 * bytes, NUL-terminated. */
struct names {
	char *buf;
	size_t used, cap;
	uint32_t *off;
	uint8_t *len;
	size_t n, max;
};

enum metric {
	M_RSS_BPN,
	M_STATS_BPN,
	M_LOAD_S,
	M_LOAD_RATE,
	M_HIT_TIGHT,
	M_HIT_ISO,
	M_MISS,
	M_MISS_ANC,
	M_DEC_HIT,
	M_DEC_ISO,
	M_DEC_MISS,
	M_DECS_HIT,
	M_DECS_ISO,
	M_DECS_MISS,
	M_UPDATE_RATE,
	M_EXPIRE_RATE,
	M_OK, /* 1 when the run's counts were as expected */
	M_COUNT,
};

static const char *const metric_names[M_COUNT] = {
	[M_RSS_BPN] = "bytes/name, RSS delta",
	[M_STATS_BPN] = "bytes/name, tapir_db_stats",
	[M_LOAD_S] = "load N names, s",
	[M_LOAD_RATE] = "load, names/s",
	[M_HIT_TIGHT] = "find hit ns, tight loop",
	[M_HIT_ISO] = "find hit ns, one at a time",
	[M_MISS] = "find miss ns, 3 labels",
	[M_MISS_ANC] = "find miss ns, + 2 ancestors",
	[M_DEC_HIT] = "decide hit ns, tight loop",
	[M_DEC_ISO] = "decide hit ns, one at a time",
	[M_DEC_MISS] = "decide miss ns",
	[M_DECS_HIT] = "decide* hit ns, tight loop",
	[M_DECS_ISO] = "decide* hit ns, one at a time",
	[M_DECS_MISS] = "decide* miss ns",
	[M_UPDATE_RATE] = "update, entries/s",
	[M_EXPIRE_RATE] = "expire all, entries/s",
	[M_OK] = "counts as expected (1 = yes)",
};

static volatile uint64_t sink;

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: deterministic, so runs compare. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "bench_db: out of memory\n");
		exit(1);
	}
	return p;
}

static void
names_init(struct names *nl, size_t max)
{
	memset(nl, 0, sizeof(*nl));
	nl->max = max;
	nl->cap = max * 24 + 4096;
	nl->buf = xmalloc(nl->cap);
	nl->off = xmalloc(max * sizeof(*nl->off));
	nl->len = xmalloc(max * sizeof(*nl->len));
}

static void
names_free(struct names *nl)
{
	free(nl->buf);
	free(nl->off);
	free(nl->len);
}

static void
names_add(struct names *nl, const char *s, size_t len)
{
	if (nl->n == nl->max)
		return;
	if (nl->used + len + 1 > nl->cap) {
		char *b;
		nl->cap = nl->cap * 2 + len + 1;
		if (!(b = realloc(nl->buf, nl->cap))) {
			fprintf(stderr, "bench_db: out of memory\n");
			exit(1);
		}
		nl->buf = b;
	}
	memcpy(nl->buf + nl->used, s, len);
	nl->buf[nl->used + len] = '\0';
	nl->off[nl->n] = (uint32_t)nl->used;
	nl->len[nl->n] = (uint8_t)len;
	nl->used += len + 1;
	nl->n++;
}

static const char *
name_at(const struct names *nl, size_t i, size_t *len)
{
	*len = nl->len[i];
	return nl->buf + nl->off[i];
}

static uint64_t
fnv(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

/* Read, canonicalise and deduplicate the real names of a list file.
 * @return: false when the file cannot be read. */
static bool
load_real(const char *path, struct names *out, size_t *lines)
{
	FILE *f = fopen(path, "r");
	char line[1024], canon[TAPIR_NAME_BUFSIZE];
	size_t cap = 1 << 16, mask, count = 0;
	uint32_t *set;

	*lines = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		count++;
	rewind(f);
	while (cap < 2 * count + 2)
		cap *= 2;
	mask = cap - 1;
	set = xmalloc(cap * sizeof(*set));
	memset(set, 0xff, cap * sizeof(*set));
	names_init(out, count + 1);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n \t#"), clen;
		bool wild;
		uint64_t h;
		size_t i;
		(*lines)++;
		if (len == 0 ||
			tapir_name_canon(line, len, TAPIR_NAME_ALLOW_WILDCARD,
				canon, &clen, &wild, NULL) != 0)
			continue;
		h = fnv(canon, clen);
		for (i = h & mask; set[i] != UINT32_MAX; i = (i + 1) & mask) {
			size_t l;
			const char *s = name_at(out, set[i], &l);
			if (l == clen && memcmp(s, canon, clen) == 0)
				break;
		}
		if (set[i] != UINT32_MAX)
			continue;
		set[i] = (uint32_t)out->n;
		names_add(out, canon, clen);
	}
	fclose(f);
	free(set);
	return true;
}

static void
shuffle(uint32_t *a, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(seed) % i;
		uint32_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

static const char *const fallback_tlds[] = { "com", "net", "org", "xyz", "info",
	"ru", "de", "top", "io", "se" };

/* A TLD: that of a random real name, or of a short fixed list. */
static const char *
pick_tld(const struct names *real, uint64_t *seed, size_t *len)
{
	const char *s, *dot;
	size_t l;

	if (real->n == 0) {
		s = fallback_tlds[rnd(seed) %
				  (sizeof(fallback_tlds) /
					  sizeof(fallback_tlds[0]))];
		*len = strlen(s);
		return s;
	}
	s = name_at(real, rnd(seed) % real->n, &l);
	dot = strrchr(s, '.');
	s = dot ? dot + 1 : s;
	*len = strlen(s);
	return s;
}

/* The benchmark's name list: real names in a fixed random order, then
 * synthetic ones up to max. */
static void
build_names(const struct names *real, size_t max, struct names *out)
{
	uint64_t seed = 42;
	uint32_t *order = xmalloc((real->n + 1) * sizeof(*order));
	size_t take = real->n < max ? real->n : max;
	char buf[TAPIR_NAME_BUFSIZE];

	for (size_t i = 0; i < real->n; i++)
		order[i] = (uint32_t)i;
	shuffle(order, real->n, &seed);
	names_init(out, max);
	for (size_t i = 0; i < take; i++) {
		size_t l;
		const char *s = name_at(real, order[i], &l);
		names_add(out, s, l);
	}
	for (size_t n = 0; out->n < max; n++) {
		size_t tl;
		const char *tld = pick_tld(real, &seed, &tl);
		int l = snprintf(buf, sizeof(buf), "synth-%zu-%08x.%.*s", n,
			(unsigned)rnd(&seed), (int)tl, tld);
		names_add(out, buf, (size_t)l);
	}
	free(order);
}

/* Names that are in no list: three random labels under a real TLD. */
static void
build_misses(const struct names *real, size_t count, struct names *out)
{
	uint64_t seed = 4242;
	char buf[TAPIR_NAME_BUFSIZE];

	names_init(out, count);
	while (out->n < count) {
		size_t tl;
		const char *tld = pick_tld(real, &seed, &tl);
		uint64_t r = rnd(&seed);
		int l = snprintf(buf, sizeof(buf), "q%08x.m%06x.%.*s",
			(unsigned)r, (unsigned)(r >> 40), (int)tl, tld);
		names_add(out, buf, (size_t)l);
	}
}

/* The first n names in a random order, packed so that a lookup loop reads
 * its query names sequentially (as a resolver has the query in cache). */
static void
build_stream(
	const struct names *all, size_t n, uint64_t seed, struct names *out)
{
	uint32_t *order = xmalloc(n * sizeof(*order));

	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	shuffle(order, n, &seed);
	names_init(out, n);
	for (size_t i = 0; i < n; i++) {
		size_t l;
		const char *s = name_at(all, order[i], &l);
		names_add(out, s, l);
	}
	free(order);
}

static struct tapir_entry
entry(uint32_t tags, uint32_t expiry, uint8_t flags)
{
	struct tapir_entry e;

	memset(&e, 0, sizeof(e));
	e.source = 0;
	e.list = TAPIR_LIST_DOUBT;
	e.tags = tags;
	e.added = NOW;
	e.expiry = expiry;
	e.flags = flags;
	return e;
}

/* Hits in a tight loop: independent lookups overlap their cache misses. */
static double
find_tight(struct tapir_db *db, const struct names *q, size_t count)
{
	uint64_t acc = 0;
	size_t i = 0;
	double t0 = now_s();

	for (size_t k = 0; k < count; k++) {
		size_t len, n;
		const char *s = name_at(q, i, &len);
		tapir_epoch_token tok = tapir_db_read_begin(db);
		const struct tapir_entry *e = tapir_db_find(db, s, len, &n);
		acc += n ? e[0].tags : 0;
		tapir_db_read_end(db, tok);
		if (++i == q->n)
			i = 0;
	}
	sink += acc;
	return (now_s() - t0) * 1e9 / (double)count;
}

/* Hits one at a time: the next query's position depends on what the last
 * lookup read (n - 1 is 0 for a hit), so lookups cannot overlap. */
static double
find_isolated(struct tapir_db *db, const struct names *q, size_t count)
{
	uint64_t acc = 0;
	size_t i = 0;
	double t0 = now_s();

	for (size_t k = 0; k < count; k++) {
		size_t len, n;
		const char *s = name_at(q, i, &len);
		tapir_epoch_token tok = tapir_db_read_begin(db);
		const struct tapir_entry *e = tapir_db_find(db, s, len, &n);
		size_t dep = n ? n - 1 + e[0].source : 0;
		tapir_db_read_end(db, tok);
		acc += n;
		i += 1 + dep;
		if (i >= q->n)
			i = 0;
	}
	sink += acc;
	return (now_s() - t0) * 1e9 / (double)count;
}

/* Misses; with ancestors, also each parent down to the TLD. */
static double
find_miss(struct tapir_db *db, const struct names *q, size_t count,
	bool ancestors)
{
	uint64_t acc = 0;
	size_t i = 0;
	double t0 = now_s();

	for (size_t k = 0; k < count; k++) {
		size_t len, n;
		const char *s = name_at(q, i, &len);
		tapir_epoch_token tok = tapir_db_read_begin(db);
		(void)tapir_db_find(db, s, len, &n);
		acc += n;
		if (ancestors)
			for (size_t j = 0; j < len; j++)
				if (s[j] == '.') {
					(void)tapir_db_find(
						db, s + j + 1, len - j - 1, &n);
					acc += n;
				}
		tapir_db_read_end(db, tok);
		if (++i == q->n)
			i = 0;
	}
	sink += acc;
	return (now_s() - t0) * 1e9 / (double)count;
}

static double
decide_loop(const struct tapir_policy *p, struct tapir_db *db,
	const struct names *q, size_t count, bool isolated,
	enum tapir_action expect, bool *ok)
{
	uint64_t wrong = 0;
	size_t i = 0;
	double t0 = now_s();

	for (size_t k = 0; k < count; k++) {
		size_t len;
		const char *s = name_at(q, i, &len);
		enum tapir_action a = tapir_decide(p, db, s, len, NOW, NULL);
		wrong += a != expect;
		i += 1 + (isolated && a != expect);
		if (i >= q->n)
			i = 0;
	}
	if (wrong)
		*ok = false;
	return (now_s() - t0) * 1e9 / (double)count;
}

struct inputs {
	const struct names *all, *miss;
	const struct tapir_policy *policy;
	bool distinct; /* -d: an entry of its own for each name */
};

static void
run_one(const struct inputs *in, size_t n, double *m)
{
	struct names hits;
	struct tapir_db *db;
	struct tapir_db_stats st;
	struct tapir_entry e = entry(TAG_LOAD, LATER, 0);
	struct tapir_entry sub =
		entry(TAG_LOAD, TAPIR_EXPIRY_NEVER, TAPIR_ENTRY_SUBTREE);
	size_t rss0, rss1, dropped;
	bool ok = true;
	double t0, t;

	build_stream(in->all, n, 7, &hits);
	rss0 = rss_bytes();
	if (!(db = tapir_db_create(0))) {
		fprintf(stderr, "bench_db: tapir_db_create failed\n");
		exit(1);
	}

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *s = name_at(in->all, i, &len);
		if (in->distinct)
			e.added = NOW - (uint32_t)i;
		if (tapir_db_set(db, s, len, &e) != 0) {
			fprintf(stderr, "bench_db: tapir_db_set failed\n");
			exit(1);
		}
	}
	tapir_db_commit(db);
	t = now_s() - t0;
	rss1 = rss_bytes();
	tapir_db_stats(db, &st);
	ok = ok && st.names == n && st.entries == n;
	m[M_LOAD_S] = t;
	m[M_LOAD_RATE] = (double)n / t;
	m[M_RSS_BPN] = ((double)rss1 - (double)rss0) / (double)n;
	m[M_STATS_BPN] = (double)st.bytes / (double)n;

	m[M_HIT_TIGHT] = find_tight(db, &hits, TIGHT_LOOKUPS);
	m[M_HIT_ISO] = find_isolated(db, &hits, ISO_LOOKUPS);
	m[M_MISS] = find_miss(db, in->miss, TIGHT_LOOKUPS, false);
	m[M_MISS_ANC] = find_miss(db, in->miss, ISO_LOOKUPS, true);

	/* No subtree entry: decide() looks up the name alone. */
	m[M_DEC_HIT] = decide_loop(in->policy, db, &hits, ISO_LOOKUPS, false,
		TAPIR_ACTION_NXDOMAIN, &ok);
	m[M_DEC_ISO] = decide_loop(in->policy, db, &hits, ISO_LOOKUPS, true,
		TAPIR_ACTION_NXDOMAIN, &ok);
	m[M_DEC_MISS] = decide_loop(in->policy, db, in->miss, ISO_LOOKUPS,
		false, TAPIR_ACTION_PASS, &ok);

	/* One subtree entry anywhere: every decide() walks the ancestors. */
	if (tapir_db_set(db, SUBTREE_NAME, strlen(SUBTREE_NAME), &sub) != 0)
		ok = false;
	tapir_db_commit(db);
	m[M_DECS_HIT] = decide_loop(in->policy, db, &hits, ISO_LOOKUPS, false,
		TAPIR_ACTION_NXDOMAIN, &ok);
	m[M_DECS_ISO] = decide_loop(in->policy, db, &hits, ISO_LOOKUPS, true,
		TAPIR_ACTION_NXDOMAIN, &ok);
	m[M_DECS_MISS] = decide_loop(in->policy, db, in->miss, ISO_LOOKUPS,
		false, TAPIR_ACTION_PASS, &ok);

	/* Update every name (new tags), in random order. */
	e.tags = TAG_UPDATE;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *s = name_at(&hits, i, &len);
		if (in->distinct)
			e.added = NOW - (uint32_t)i;
		if (tapir_db_set(db, s, len, &e) != 0)
			ok = false;
	}
	tapir_db_commit(db);
	m[M_UPDATE_RATE] = (double)n / (now_s() - t0);

	/* Every entry but the subtree one expires. */
	t0 = now_s();
	dropped = tapir_db_expire(db, LATER, SIZE_MAX, NULL, NULL);
	tapir_db_commit(db);
	m[M_EXPIRE_RATE] = (double)dropped / (now_s() - t0);
	tapir_db_stats(db, &st);
	ok = ok && dropped == n && st.names == 1;

	m[M_OK] = ok;
	tapir_db_destroy(db);
	names_free(&hits);
}

/* One run in a child process; its metrics come back through a pipe. */
static bool
run_child(const struct inputs *in, size_t n, double *m)
{
	int fd[2], status;
	pid_t pid;
	ssize_t got;

	if (pipe(fd) != 0)
		return false;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return false;
	if (pid == 0) {
		close(fd[0]);
		run_one(in, n, m);
		if (write(fd[1], m, M_COUNT * sizeof(*m)) !=
			(ssize_t)(M_COUNT * sizeof(*m)))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	got = read(fd[0], m, M_COUNT * sizeof(*m));
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got == (ssize_t)(M_COUNT * sizeof(*m)) && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
print_machine(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512], model[256] = "unknown", l3[64] = "?";

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *c = strchr(line, ':');
			if (strncmp(line, "model name", 10) == 0 && c) {
				snprintf(model, sizeof(model), "%s", c + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	if ((f = fopen(
		     "/sys/devices/system/cpu/cpu0/cache/index3/size", "r"))) {
		if (fgets(l3, sizeof(l3), f))
			l3[strcspn(l3, "\n")] = '\0';
		fclose(f);
	}
	printf("machine: %ld CPUs online, %s, L3 %s\n",
		sysconf(_SC_NPROCESSORS_ONLN), model, l3);
}

static bool
parse_sizes(const char *s, size_t *sizes, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || end == s)
			return false;
		if (*end == 'k' || *end == 'K')
			v *= 1000, end++;
		else if (*end == 'M' || *end == 'm')
			v *= 1000000, end++;
		if (v == 0 || v > 50000000 || *n == MAX_SIZES)
			return false;
		sizes[(*n)++] = (size_t)v;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return *n > 0;
}

static void
default_names_path(char *buf, size_t size)
{
	/* __FILE__ is this file as the compiler was given it, relative to
	 * the build directory or absolute: <src>/tests/bench/bench_db.c. */
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dir = slash ? (int)(slash - file) : 1;

	snprintf(buf, size, "%.*s/../../../shared/data/%s", dir,
		slash ? file : ".", DEFAULT_NAMES);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_db [-d] [-f names-file] [-n N,N,...] "
			"[-r repeats]\n");
}

static void
print_value(enum metric k, double v)
{
	if (k == M_LOAD_RATE || k == M_UPDATE_RATE || k == M_EXPIRE_RATE)
		printf(" %12.3gM", v / 1e6);
	else if (k == M_LOAD_S)
		printf(" %13.3f", v);
	else if (k == M_OK)
		printf(" %13s", v >= 1 ? "yes" : "NO");
	else
		printf(" %13.1f", v);
}

int
main(int argc, char **argv)
{
	char pathbuf[4096];
	const char *path = getenv("TAPIR_BENCH_NAMES");
	size_t sizes[MAX_SIZES], n_sizes, repeats = 3, max_n = 0, lines = 0;
	static double runs[MAX_SIZES][M_COUNT][MAX_REPEATS];
	double med[MAX_SIZES][M_COUNT];
	struct names real, all, miss;
	struct tapir_config *cfg;
	struct tapir_policy *policy;
	struct inputs in;
	int opt;

	(void)parse_sizes(DEFAULT_SIZES, sizes, &n_sizes);
	if (!path || !*path) {
		default_names_path(pathbuf, sizeof(pathbuf));
		path = pathbuf;
	}
	memset(&in, 0, sizeof(in));
	while ((opt = getopt(argc, argv, "df:n:r:h")) != -1) {
		switch (opt) {
		case 'd':
			in.distinct = true;
			break;
		case 'f':
			path = optarg;
			break;
		case 'n':
			if (!parse_sizes(optarg, sizes, &n_sizes)) {
				usage();
				return 2;
			}
			break;
		case 'r':
			repeats = strtoul(optarg, NULL, 10);
			if (repeats < 1 || repeats > MAX_REPEATS) {
				usage();
				return 2;
			}
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	for (size_t i = 0; i < n_sizes; i++)
		if (sizes[i] > max_n)
			max_n = sizes[i];

	printf("tapir-pop policy database benchmark (lib/db.c, "
	       "tapir_decide)\n");
	print_machine();
	if (!load_real(path, &real, &lines)) {
		printf("names: cannot read %s (%s): purely synthetic names\n",
			path, strerror(errno));
		names_init(&real, 1);
	} else {
		printf("names: %s: %zu lines, %zu valid and distinct; padded "
		       "with synth-<n>-<hex>.<tld>\n",
			path, lines, real.n);
	}
	build_names(&real, max_n, &all);
	build_misses(&real, MISS_NAMES, &miss);

	/* The smallest policy that decides something: one doubtlist source
	 * "dns-tapir" and numtapirtags with limit 1. */
	if (!(cfg = calloc(1, sizeof(*cfg)))) {
		fprintf(stderr, "bench_db: out of memory\n");
		return 1;
	}
	cfg->n_sources = 1;
	snprintf(cfg->sources[0].name, sizeof(cfg->sources[0].name),
		"dns-tapir");
	cfg->sources[0].type = TAPIR_SOURCE_MQTT;
	cfg->sources[0].list = TAPIR_LIST_DOUBT;
	cfg->policy.denylist_action = TAPIR_ACTION_NXDOMAIN;
	cfg->policy.numtapirtags.enabled = true;
	cfg->policy.numtapirtags.limit = 1;
	cfg->policy.numtapirtags.action = TAPIR_ACTION_NXDOMAIN;
	snprintf(cfg->policy.tapir_source, sizeof(cfg->policy.tapir_source),
		"dns-tapir");
	if (!(policy = tapir_policy_create(cfg))) {
		fprintf(stderr, "bench_db: tapir_policy_create failed\n");
		return 1;
	}
	in.all = &all;
	in.miss = &miss;
	in.policy = policy;

	for (size_t s = 0; s < n_sizes; s++) {
		for (size_t r = 0; r < repeats; r++) {
			double m[M_COUNT] = { 0 };
			if (!run_child(&in, sizes[s], m)) {
				fprintf(stderr,
					"bench_db: run with N=%zu "
					"failed\n",
					sizes[s]);
				return 1;
			}
			for (int k = 0; k < M_COUNT; k++)
				runs[s][k][r] = m[k];
		}
		for (int k = 0; k < M_COUNT; k++)
			med[s][k] = median(runs[s][k], repeats);
	}

	printf("medians of %zu runs, each a fresh process; one entry per "
	       "name, %s; lookups through\n"
	       "tapir_db_read_begin/find/read_end, queries in random order; "
	       "\"one at a time\":\n"
	       "each query's position depends on the previous result; "
	       "decide* = one subtree\n"
	       "entry exists, so tapir_decide() also looks up every "
	       "ancestor\n\n",
		repeats,
		in.distinct ? "a different one for each name (-d)"
			    : "the same for all (as a file source)");
	printf("%-30s", "N");
	for (size_t s = 0; s < n_sizes; s++)
		printf(" %13zu", sizes[s]);
	printf("\n");
	for (int k = 0; k < M_COUNT; k++) {
		printf("%-30s", metric_names[k]);
		for (size_t s = 0; s < n_sizes; s++)
			print_value((enum metric)k, med[s][k]);
		printf("\n");
	}
	printf("\ntargets at 1M names: <= 64 bytes/name, <= 100 ns/lookup, "
	       "load <= 0.5 s\n");
	/* The same medians, one machine-readable line a size, for
	 * tests/bench/bench_all.sh. */
	for (size_t s = 0; s < n_sizes; s++)
		printf("RESULT bench=db distinct=%d n=%zu rss_bpn=%.1f "
		       "stats_bpn=%.1f load_s=%.3f hit_ns=%.1f hit_iso_ns=%.1f "
		       "miss_ns=%.1f decide_ns=%.1f decide_iso_ns=%.1f "
		       "update_per_s=%.0f ok=%d\n",
			in.distinct ? 1 : 0, sizes[s], med[s][M_RSS_BPN],
			med[s][M_STATS_BPN], med[s][M_LOAD_S],
			med[s][M_HIT_TIGHT], med[s][M_HIT_ISO], med[s][M_MISS],
			med[s][M_DEC_HIT], med[s][M_DEC_ISO],
			med[s][M_UPDATE_RATE], med[s][M_OK] >= 1 ? 1 : 0);

	tapir_policy_destroy(policy);
	free(cfg);
	names_free(&real);
	names_free(&all);
	names_free(&miss);
	return 0;
}
