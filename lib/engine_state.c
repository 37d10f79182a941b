/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Persistence: the state directory, the state file and the xfr serials
 * beside it (each zone's serial and expiry). Writer thread (and destroy,
 * after the writer is joined).
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"
#include "lib/fileio.h"

/*
 * Whether the state directory takes new files, as the state file's and
 * overrides.json's atomic replace needs (a temporary file, then rename):
 * the reason in why when not. Run at load, as the user Unbound runs the
 * module as, so that a directory the package made for another user shows
 * in status at once instead of at the first save a minute later. An
 * unnamed O_TMPFILE leaves nothing behind; where the file system or a
 * security profile refuses it, a named file as the save makes decides.
 */
static bool
state_dir_writable(const char *dir, char *why, size_t size)
{
	char tmp[4096];
	struct stat st;
	int fd;

	if (stat(dir, &st) != 0) {
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "%s: not a directory", dir);
		return false;
	}
#ifdef O_TMPFILE
	if ((fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)) >= 0) {
		close(fd);
		return true;
	}
#endif
	snprintf(tmp, sizeof(tmp), "%s/.tapir-pop-probe.XXXXXX", dir);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return false;
	}
	close(fd);
	unlink(tmp);
	return true;
}

/* Probe the state directory and set or clear its problem. */
void
tapir__eng_state_dir_check(struct tapir_engine *e)
{
	char why[300];

	if (!wcfg(e)->state_dir)
		return;
	e->state_dir_tried_ms = tapir_monotonic_ms();
	if (state_dir_writable(wcfg(e)->state_dir, why, sizeof(why))) {
		if (tapir__eng_problem_clear(e, PROBLEM_STATE_DIR))
			tapir_log(TAPIR_LOG_INFO, "state-dir: %s is writable",
				wcfg(e)->state_dir);
		return;
	}
	if (tapir__eng_problem_set(e, PROBLEM_STATE_DIR, "state-dir: %s", why))
		tapir_log(TAPIR_LOG_ERR,
			"state-dir: %s; decisions are not kept across a "
			"reload or restart until this process can write "
			"there (tried again every %d s)",
			why, STATE_DIR_RETRY_MS / 1000);
}

/* Feeds whose decisions persist: the broker does not re-send them. */
static bool
want_persisted(void *arg, uint16_t source)
{
	const struct tapir_config *cfg = arg;

	/* Zone data goes with its serial: an IXFR after a reload asks only
	 * for what changed since. */
	return source < cfg->n_sources &&
	       (cfg->sources[source].type == TAPIR_SOURCE_MQTT ||
		       cfg->sources[source].type == TAPIR_SOURCE_XFR);
}

/*
 * The serials file, beside the state file and written right after it:
 * for each xfr source, the serial its entries in the state file are at,
 * when they expire, and the records behind them. Text, version 2, one
 * record a line:
 *
 *   tapir-pop-serials 2 CREATED
 *   zone SOURCE SERIAL|- EXPIRES-AT GENERATION
 *   rrs SOURCE exact|subtree N0,N1,N2,N3,N4,N5 NAME
 *
 * CREATED is the stamp of the state file it goes with
 * (tapir_state_created()); EXPIRES-AT is xfr_state.expires_at (0: not
 * known); GENERATION is xfr_state.generation. An "rrs" line is a row of
 * xfr_state.rrs: the records of NAME (canonical, last on the line, so
 * nothing in it is a separator) per enum tapir_action. A file that names
 * another state file (a crash between the two renames), or that does not
 * parse to the end, is ignored whole: the zones are then transferred in
 * full (an IXFR's deletions need the counts), and their restored data
 * expires a week after the state file was saved. So is version 1 ("SOURCE
 * SERIAL" lines), which cannot tell which state file it goes with.
 */
#define SERIALS_MAGIC	 "tapir-pop-serials"
#define SERIALS_VERSION	 2
/* Longest line: "rrs", a source name (63), the kind, six counts and a
 * name (253), with room. */
#define SERIALS_LINE	 512
/* Expiry times past year 9999 are damage, not a zone's timers. */
#define SERIALS_TIME_MAX INT64_C(253402300800)

struct rrs_out {
	FILE *f;
	const char *source;
};

static int
rrs_line(void *arg, const char *name, size_t len, bool subtree,
	const uint32_t n[TAPIR_ACTION_COUNT])
{
	struct rrs_out *o = arg;

	(void)len;
	_Static_assert(TAPIR_ACTION_COUNT == 6, "rrs lines have 6 counts");
	fprintf(o->f, "rrs %s %s %u,%u,%u,%u,%u,%u %s\n", o->source,
		subtree ? "subtree" : "exact", n[0], n[1], n[2], n[3], n[4],
		n[5], name);
	return 0;
}

static int
serials_fill(void *arg, int fd, struct tapir_error *err)
{
	struct tapir_engine *e = arg;
	FILE *f;
	int dfd;

	(void)err;
	/* On a duplicate: fclose() must leave fd to the caller. */
	if ((dfd = dup(fd)) < 0)
		return errno;
	if (!(f = fdopen(dfd, "w"))) {
		int saved = errno;
		close(dfd);
		return saved;
	}
	fprintf(f, "%s %d %lld\n", SERIALS_MAGIC, SERIALS_VERSION,
		(long long)e->state_created);
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < wcfg(e)->n_sources; i++) {
		const struct xfr_state *xs = &e->xfrs[i];
		if (wcfg(e)->sources[i].type != TAPIR_SOURCE_XFR)
			continue;
		if (xs->have_serial)
			fprintf(f, "zone %s %u %lld %u\n",
				wcfg(e)->sources[i].name, xs->serial,
				(long long)xs->expires_at, xs->generation);
		else
			fprintf(f, "zone %s - %lld %u\n",
				wcfg(e)->sources[i].name,
				(long long)xs->expires_at, xs->generation);
	}
	pthread_mutex_unlock(&e->slock);
	/* The counts are the writer's own: no lock. */
	for (size_t i = 0; i < wcfg(e)->n_sources; i++) {
		struct rrs_out o = { f, wcfg(e)->sources[i].name };
		if (wcfg(e)->sources[i].type == TAPIR_SOURCE_XFR &&
			e->xfrs[i].rrs)
			(void)tapir_rrcount_walk(e->xfrs[i].rrs, rrs_line, &o);
	}
	if (ferror(f)) {
		fclose(f);
		return EIO;
	}
	if (fclose(f) != 0)
		return errno ? errno : EIO;
	return 0;
}

static void
serials_save(struct tapir_engine *e)
{
	char path[4096 + 16];

	snprintf(path, sizeof(path), "%s.serials", e->state_path);
	/* Silently: without the file the next start asks for a full AXFR;
	 * the next save tries again. */
	if (tapir_fileio_write_atomic(path, serials_fill, e, NULL) != 0)
		atomic_store(&e->serials_dirty, true);
}

/* A decimal number in [0, max], the whole word. */
static bool
serials_number(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end == '\0' && errno != ERANGE && *v <= max;
}

/* What one file says, applied only once all of it checked out. */
struct serials {
	bool have[TAPIR_MAX_SOURCES], seen[TAPIR_MAX_SOURCES];
	uint32_t serial[TAPIR_MAX_SOURCES];
	int64_t expires_at[TAPIR_MAX_SOURCES];
	uint32_t generation[TAPIR_MAX_SOURCES];
	struct tapir_rrcount *rrs[TAPIR_MAX_SOURCES]; /* owned */
};

static void
serials_clear(struct serials *s)
{
	for (size_t i = 0; i < TAPIR_MAX_SOURCES; i++)
		tapir_rrcount_destroy(s->rrs[i]);
	memset(s, 0, sizeof(*s));
}

/* One "zone" line's words after the keyword. @return: false when bad. */
static bool
serials_zone(struct tapir_engine *e, struct serials *s, char *words)
{
	char *save = NULL, *name, *serial, *at, *gen, *extra;
	uint64_t v = 0, t, g;
	int i;

	name = strtok_r(words, " ", &save);
	serial = strtok_r(NULL, " ", &save);
	at = strtok_r(NULL, " ", &save);
	gen = strtok_r(NULL, " ", &save);
	extra = strtok_r(NULL, " ", &save);
	if (!name || !serial || !at || !gen || extra ||
		!serials_number(at, (uint64_t)SERIALS_TIME_MAX, &t) ||
		!serials_number(gen, UINT32_MAX, &g))
		return false;
	if (strcmp(serial, "-") && !serials_number(serial, UINT32_MAX, &v))
		return false;
	/* A source no longer configured, or no longer a zone: skipped. */
	i = tapir_config_source_index(wcfg(e), name);
	if (i < 0 || wcfg(e)->sources[i].type != TAPIR_SOURCE_XFR)
		return true;
	if (s->seen[i])
		return false;
	s->seen[i] = true;
	s->have[i] = strcmp(serial, "-") != 0;
	s->serial[i] = (uint32_t)v;
	s->expires_at[i] = (int64_t)t;
	s->generation[i] = (uint32_t)g;
	return true;
}

/* One "rrs" line's words after the keyword. @return: false when bad. */
static bool
serials_rrs(struct tapir_engine *e, struct serials *s, char *words)
{
	char *save = NULL, *save_n = NULL, *source, *kind, *counts, *name;
	char *extra, *c;
	char canon[TAPIR_NAME_BUFSIZE];
	uint32_t n[TAPIR_ACTION_COUNT];
	size_t len, clen;
	uint64_t v;
	int i, a = 0;

	source = strtok_r(words, " ", &save);
	kind = strtok_r(NULL, " ", &save);
	counts = strtok_r(NULL, " ", &save);
	name = strtok_r(NULL, " ", &save);
	extra = strtok_r(NULL, " ", &save);
	if (!source || !kind || !counts || !name || extra ||
		(strcmp(kind, "exact") && strcmp(kind, "subtree")))
		return false;
	for (c = strtok_r(counts, ",", &save_n); c;
		c = strtok_r(NULL, ",", &save_n)) {
		if (a == TAPIR_ACTION_COUNT ||
			!serials_number(c, UINT32_MAX, &v))
			return false;
		n[a++] = (uint32_t)v;
	}
	/* The name as the database keys it, or it could match nothing. */
	len = strlen(name);
	if (a != TAPIR_ACTION_COUNT ||
		tapir_name_canon(name, len, 0, canon, &clen, NULL, NULL) != 0 ||
		clen != len || memcmp(canon, name, len) != 0)
		return false;
	i = tapir_config_source_index(wcfg(e), source);
	if (i < 0 || wcfg(e)->sources[i].type != TAPIR_SOURCE_XFR)
		return true;
	if (!s->rrs[i] && !(s->rrs[i] = tapir_rrcount_create()))
		return false;
	return tapir_rrcount_put(
		       s->rrs[i], name, len, !strcmp(kind, "subtree"), n) == 0;
}

/* Reads the serials file into s. @return: false, with the reason in why,
 * when it cannot be believed. */
static bool
serials_read(struct tapir_engine *e, const char *path, int64_t created,
	struct serials *s, char *why, size_t size)
{
	char line[SERIALS_LINE];
	unsigned lineno = 0;
	bool ok = false;
	FILE *f;

	if (!(f = fopen(path, "re"))) {
		snprintf(why, size, "%s", strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		long long stamp;
		int version, n = 0;
		uint64_t v;

		lineno++;
		if (len == 0 || line[len - 1] != '\n') {
			snprintf(why, size, "line %u is cut or too long",
				lineno);
			goto out_close;
		}
		line[len - 1] = '\0';
		if (lineno == 1) {
			if (sscanf(line, SERIALS_MAGIC " %d %n", &version,
				    &n) != 1 ||
				version != SERIALS_VERSION) {
				snprintf(why, size,
					"not version %d (an older module "
					"wrote it)",
					SERIALS_VERSION);
				goto out_close;
			}
			/* Checked as a word: %lld is undefined past range. */
			if (!serials_number(line + n, INT64_MAX, &v)) {
				snprintf(why, size, "line 1: bad stamp");
				goto out_close;
			}
			stamp = (long long)v;
			if (stamp != created) {
				snprintf(why, size,
					"it goes with the state file of %lld, "
					"not of %lld",
					stamp, (long long)created);
				goto out_close;
			}
			continue;
		}
		if (!strncmp(line, "zone ", 5) && serials_zone(e, s, line + 5))
			continue;
		if (!strncmp(line, "rrs ", 4) && serials_rrs(e, s, line + 4))
			continue;
		snprintf(why, size, "line %u is not understood", lineno);
		goto out_close;
	}
	if (ferror(f))
		snprintf(why, size, "%s", strerror(errno));
	else if (lineno == 0)
		snprintf(why, size, "it is empty");
	else
		ok = true;
out_close:
	fclose(f);
	return ok;
}

static void
serials_load(struct tapir_engine *e, int64_t created)
{
	char path[4096 + 16], why[200];
	/* A state file whose stamp could not be read was saved just now. */
	int64_t base = created ? created : e->now();
	struct serials s;

	memset(&s, 0, sizeof(s));
	snprintf(path, sizeof(path), "%s.serials", e->state_path);
	if (!serials_read(e, path, created, &s, why, sizeof(why))) {
		tapir_log(TAPIR_LOG_WARN,
			"state: ignoring %s: %s; zones are transferred in full",
			path, why);
		serials_clear(&s);
	}
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < wcfg(e)->n_sources; i++) {
		struct xfr_state *xs = &e->xfrs[i];
		if (wcfg(e)->sources[i].type != TAPIR_SOURCE_XFR)
			continue;
		xs->have_serial = s.have[i];
		xs->serial = s.serial[i];
		/* Past every stamp restored with the state file (a save
		 * follows every transfer), should the serials file be
		 * gone. */
		xs->generation =
			s.seen[i] ? s.generation[i] : tapir_db_time32(base);
		tapir_rrcount_destroy(xs->rrs);
		xs->rrs = s.rrs[i];
		s.rrs[i] = NULL;
		/* Zone data restored without a deadline of its own (no
		 * serials file to believe) still expires: the default
		 * expire after the state file was saved, the last time it
		 * is known to have been held. */
		xs->expires_at =
			s.expires_at[i]
				? s.expires_at[i]
				: tapir_time_add(base, XFR_EXPIRE_DEFAULT_S);
	}
	pthread_mutex_unlock(&e->slock);
}

void
tapir__eng_state_save(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	size_t saved = 0;
	int64_t stamp;

	if (!e->state_path)
		return;
	if (!e->state_dirty) {
		/* Only what the serials file holds changed: it goes alone,
		 * with the stamp of the state file already there. */
		if (atomic_exchange(&e->serials_dirty, false) &&
			e->state_created)
			serials_save(e);
		e->state_saved_ms = tapir_monotonic_ms();
		return;
	}
	/* Strictly growing, so that two saves within one second still
	 * tell their serials files apart. */
	stamp = e->now();
	if (stamp <= e->state_created)
		stamp = e->state_created + 1;
	if (tapir_state_save(e->db, wrt(e)->cfg, e->state_path, stamp,
		    want_persisted, wrt(e)->cfg, &saved, &err) != 0) {
		char why[300];
		count(e, TAPIR_C_STATE_FAILURES, 1);
		tapir__eng_log_reject(e, TAPIR_C_STATE_FAILURES,
			"saving %s: %s", e->state_path, err.text);
		/* The directory's own reason when it is the directory. */
		if (!state_dir_writable(wcfg(e)->state_dir, why, sizeof(why)))
			tapir__eng_problem_set(
				e, PROBLEM_STATE_DIR, "state-dir: %s", why);
		else
			tapir__eng_problem_set(e, PROBLEM_STATE_DIR,
				"state-dir: saving %s: %s", e->state_path,
				err.text);
		e->state_dir_tried_ms = tapir_monotonic_ms();
		return;
	}
	tapir__eng_problem_clear(e, PROBLEM_STATE_DIR);
	count(e, TAPIR_C_STATE_SAVES, 1);
	e->state_created = stamp;
	atomic_store(&e->serials_dirty, false);
	serials_save(e);
	e->state_dirty = false;
	e->state_saved_ms = tapir_monotonic_ms();
	pthread_mutex_lock(&e->slock);
	e->state_saved_at = tapir_now();
	pthread_mutex_unlock(&e->slock);
	tapir_log(TAPIR_LOG_DEBUG, "state: saved %zu entries to %s", saved,
		e->state_path);
}

/* Before the first save: a save killed before its rename (Unbound killed,
 * the machine down) left its temporary file, which nothing else removes. */
void
tapir__eng_remove_temps(const char *path)
{
	size_t n = tapir_fileio_remove_temps(path);

	if (n)
		tapir_log(TAPIR_LOG_INFO,
			"state: removed %zu temporary file%s of an interrupted "
			"save of %s",
			n, n == 1 ? "" : "s", path);
}

void
tapir__eng_state_load(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	size_t loaded = 0, expired = 0, other = 0;
	int rc;

	if (!e->state_path)
		return;
	tapir__eng_remove_temps(e->state_path);
	{
		char serials[4096];
		snprintf(serials, sizeof(serials), "%s.serials", e->state_path);
		tapir__eng_remove_temps(serials);
	}
	rc = tapir_state_load(e->db, wcfg(e), e->state_path, e->now(), &loaded,
		&expired, &other, &err);
	if (rc == TAPIR_ENOENT) {
		tapir_log(TAPIR_LOG_INFO, "state: no %s yet", e->state_path);
		return;
	}
	if (rc != 0) {
		/* Corrupt or unreadable: start without it, never fail. */
		count(e, TAPIR_C_STATE_FAILURES, 1);
		tapir_log(TAPIR_LOG_ERR, "state: ignoring %s: %s",
			e->state_path, err.text);
		return;
	}
	count(e, TAPIR_C_STATE_LOADED, loaded);
	/* The file just read: a save replaces it only on this thread. */
	if (tapir_state_created(e->state_path, &e->state_created) != 0)
		e->state_created = 0;
	serials_load(e, e->state_created);
	tapir_log(TAPIR_LOG_INFO,
		"state: %zu entries from %s (%zu expired, %zu of sources no "
		"longer configured)",
		loaded, e->state_path, expired, other);
}
