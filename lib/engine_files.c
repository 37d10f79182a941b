/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * File sources: (re)loading a list file when it changed. Writer thread.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

struct file_load {
	struct tapir_engine *e;
	int src;
	uint32_t generation;
	size_t names, logged;
	size_t n_purge;
	bool purge_all;
	char (*purge)[TAPIR_NAME_BUFSIZE];
};

static int
file_record(void *arg, const struct tapir_file_record *r)
{
	struct file_load *fl = arg;
	struct tapir_engine *e = fl->e;
	const struct tapir_source_config *sc = &wcfg(e)->sources[fl->src];
	uint8_t flags = r->subtree ? TAPIR_ENTRY_SUBTREE : 0;
	struct tapir_entry ent = {
		.expiry = TAPIR_EXPIRY_NEVER,
		.added = fl->generation,
		.source = (uint16_t)fl->src,
		.list = (uint8_t)sc->list,
	};
	int had;

	if (r->action != TAPIR_ACTION_PASS)
		flags |= (uint8_t)(r->action << TAPIR_ENTRY_ACTION_SHIFT);
	ent.flags = flags;
	if (tapir_db_set_had(e->db, r->name, r->len, &ent, &had) != 0) {
		count(e, TAPIR_C_ENTRY_DB_FULL, 1);
		tapir__eng_log_reject(e, TAPIR_C_ENTRY_DB_FULL, "source %s: %s",
			sc->name, r->name);
		return 0;
	}
	fl->names++;
	/* Only names new to this source, or with another action from it,
	 * can sit in the cache as allowed. */
	if (had != flags && fl->purge && !fl->purge_all) {
		if (fl->n_purge == PURGE_BATCH_MAX)
			fl->purge_all = true;
		else
			snprintf(fl->purge[fl->n_purge++], TAPIR_NAME_BUFSIZE,
				"%s", r->name);
	}
	return 0;
}

static void
file_error(void *arg, unsigned line, const char *reason)
{
	struct file_load *fl = arg;
	const struct tapir_source_config *sc = &wcfg(fl->e)->sources[fl->src];

	if (fl->logged++ < FILE_ERRORS_LOGGED)
		tapir_log(TAPIR_LOG_WARN, "source %s: %s:%u: %s (line skipped)",
			sc->name, sc->path, line, reason);
}

int
tapir__eng_find_stale(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n)
{
	struct stale *st = arg;

	for (size_t i = 0; i < n; i++) {
		if (e[i].source != st->src || e[i].added == st->generation)
			continue;
		if (st->n == st->cap) {
			size_t cap = st->cap ? st->cap * 2 : 256;
			void *v = realloc(st->v, cap * sizeof(*st->v));
			if (!v)
				return -1;
			st->v = v;
			st->cap = cap;
		}
		memcpy(st->v[st->n].name, name, len + 1);
		st->v[st->n].flags = e[i].flags;
		st->n++;
	}
	return 0;
}

/* Whether two stat() results show the same file, unchanged as far as its
 * size and modification time tell. */
static bool
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Why a load looks like a file caught mid-rewrite, into why ("" when it
 * does not). A writer that rewrites a list in place (truncate, then write)
 * can be read half way: empty, or cut mid-line. Taken as the truth, that
 * would remove every name it lacks, and an allowlist that empties blocks
 * what it allowed. So a load is suspect when it
 *   - saw the file change while it was being read;
 *   - ends mid-line or on a bad line, as a file cut short does;
 *   - would remove more than max-shrink percent (default 50) of the
 *     names the last accepted load listed (an emptied file always does).
 */
static void
suspect(const struct tapir_source_config *sc, const struct file_state *fs,
	const struct tapir_file_stats *st, bool moved, size_t removing,
	char *why, size_t size)
{
	unsigned max_shrink = sc->max_shrink ? sc->max_shrink : 50;

	why[0] = '\0';
	if (moved)
		snprintf(why, size, "it changed while it was read");
	else if (st->unterminated)
		snprintf(why, size, "its last line has no line end");
	else if (st->last_bad_line && st->last_bad_line == st->lines)
		snprintf(why, size, "its last line is bad");
	else if (removing * 100 > (size_t)max_shrink * fs->names)
		snprintf(why, size,
			"it drops %zu of the last load's %zu names, more than "
			"max-shrink %u%%",
			removing, fs->names, max_shrink);
}

/*
 * (Re)load a file source when it changed. The new lines are applied over
 * the old ones (a name in both files never passes through "absent"), then
 * entries the new file no longer has are removed. A file that cannot be
 * read keeps its last good data; a bad line is reported and skipped.
 *
 * The removals of a suspect load (suspect() says when) are held back:
 * the names the file no longer lists stay, and status (error=, a
 * "problem:" line) and the log say why. What the load added stays
 * applied: it was in the file. A held file is taken as meant when the
 * next check finds it unchanged (refresh seconds later, by when a writer
 * has finished), or at once on tapir-pop-control reload (force), which is
 * how an operator accepts a list emptied on purpose. A load that removes
 * nothing is never held. A file that changed while it was read is read
 * again at the next check, even on reload.
 */
static void
file_check(struct tapir_engine *e, int src, bool force)
{
	const struct tapir_source_config *sc = &wcfg(e)->sources[src];
	struct file_state *fs = &e->files[src];
	struct tapir_file_opts opts = {
		.format = (enum tapir_file_format)sc->format,
		.csv_column = sc->csv_column,
		.csv_header = sc->csv_header,
		.csv_delim = sc->csv_delim,
		.origin = sc->origin[0] ? sc->origin : NULL,
	};
	struct file_load fl = { .e = e, .src = src };
	struct tapir_file_stats st = { 0 };
	struct tapir_error err = { 0 };
	struct stale stale = { .src = (uint16_t)src };
	struct purges unallowed = { 0 };
	int64_t t0 = tapir_monotonic_ms();
	struct stat sb, after;
	char why[120] = "";
	bool accept, moved;
	int rc;

	if (!force && t0 < fs->next_check_ms)
		return;
	fs->next_check_ms = t0 + (int64_t)sc->refresh * 1000;
	if (stat(sc->path, &sb) != 0) {
		snprintf(err.text, sizeof(err.text), "%s: %s", sc->path,
			strerror(errno));
		goto failed;
	}
	if (fs->loaded && !fs->held && sb.st_dev == fs->dev &&
		sb.st_ino == fs->ino && sb.st_size == fs->size &&
		sb.st_mtim.tv_sec == fs->mtime.tv_sec &&
		sb.st_mtim.tv_nsec == fs->mtime.tv_nsec)
		return;
	/* Held at the last check and unchanged since: what it says is
	 * meant. */
	accept = force || (fs->held && same_stat(&sb, &fs->held_sb));
	/* A stamp that differs from every earlier load of this source. */
	fl.generation = (uint32_t)tapir_now();
	if (fl.generation <= fs->generation)
		fl.generation = fs->generation + 1;
	if (e->purger &&
		!(fl.purge = malloc(PURGE_BATCH_MAX * sizeof(*fl.purge))))
		fl.purge_all = true;
	rc = tapir_file_parse_path(sc->path, sc->max_size, &opts, file_record,
		file_error, &fl, &st, &err);
	fs->generation = fl.generation;
	if (rc != 0) {
		/* Nothing was read: the old entries all stay. Records
		 * already applied from a partial read are harmless (they
		 * were in the file) and go with the next good load. */
		free(fl.purge);
		goto failed;
	}
	moved = stat(sc->path, &after) != 0 || !same_stat(&sb, &after);
	stale.generation = fl.generation;
	if (tapir_db_walk(e->db, tapir__eng_find_stale, &stale) != 0)
		stale.n = 0; /* out of memory: remove nothing this time */
	if (stale.n && (moved || !accept))
		suspect(sc, fs, &st, moved, stale.n, why, sizeof(why));
	if (!why[0])
		for (size_t i = 0; i < stale.n; i++)
			(void)tapir__eng_remove_entry(e, src, stale.v[i].name,
				stale.v[i].flags, &unallowed);
	tapir_db_commit(e->db);
	if (e->purger) {
		if (fl.purge_all) {
			(void)tapir_purger_push(e->purger, "");
		} else {
			for (size_t i = 0; i < fl.n_purge; i++)
				tapir__eng_purge_if_blocked(
					e, fl.purge[i], true, e->now());
			tapir__eng_purges_end(e, &unallowed);
		}
	}
	free(fl.purge);
	count(e, TAPIR_C_FILE_BAD_LINES, st.errors);
	if (why[0]) {
		pthread_mutex_lock(&e->slock);
		fs->held = !moved;
		fs->held_sb = sb;
		snprintf(fs->error, sizeof(fs->error),
			"%s: keeping %zu names it no longer lists until it is "
			"unchanged at the next check or tapir-pop-control "
			"reload",
			why, stale.n);
		pthread_mutex_unlock(&e->slock);
		count(e, TAPIR_C_FILE_FAILURES, 1);
		tapir__eng_log_reject(e, TAPIR_C_FILE_FAILURES,
			"source %s: %s: %s", sc->name, sc->path, fs->error);
		free(stale.v);
		return;
	}
	count(e, TAPIR_C_FILE_LOADS, 1);
	pthread_mutex_lock(&e->slock);
	fs->loaded = true;
	fs->held = false;
	fs->dev = sb.st_dev;
	fs->ino = sb.st_ino;
	fs->size = sb.st_size;
	fs->mtime = sb.st_mtim;
	fs->names = fl.names;
	fs->bad_lines = st.errors;
	fs->loaded_at = tapir_now();
	fs->error[0] = '\0';
	pthread_mutex_unlock(&e->slock);
	tapir_log(TAPIR_LOG_INFO,
		"source %s: %zu names from %s (%zu removed, %zu bad lines, %zu "
		"skipped) in %lld ms",
		sc->name, fl.names, sc->path, stale.n, st.errors, st.skipped,
		(long long)(tapir_monotonic_ms() - t0));
	free(stale.v);
	return;

failed:
	free(stale.v);
	count(e, TAPIR_C_FILE_FAILURES, 1);
	pthread_mutex_lock(&e->slock);
	snprintf(fs->error, sizeof(fs->error), "%s", err.text);
	pthread_mutex_unlock(&e->slock);
	tapir__eng_log_reject(e, TAPIR_C_FILE_FAILURES,
		"source %s: %s; keeping its last good data", sc->name,
		err.text);
}

void
tapir__eng_files_check(struct tapir_engine *e, bool force)
{
	for (size_t i = 0; i < wcfg(e)->n_sources; i++)
		if (wcfg(e)->sources[i].type == TAPIR_SOURCE_FILE)
			file_check(e, (int)i, force);
}
