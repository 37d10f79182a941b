/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Persistence: the state directory, the state file and the xfr serials
 * beside it. Writer thread (and destroy, after the writer is joined).
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

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

/* One "name serial" line per xfr source that has one. */
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
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < wcfg(e)->n_sources; i++)
		if (wcfg(e)->sources[i].type == TAPIR_SOURCE_XFR &&
			e->xfrs[i].have_serial)
			fprintf(f, "%s %u\n", wcfg(e)->sources[i].name,
				e->xfrs[i].serial);
	pthread_mutex_unlock(&e->slock);
	if (ferror(f)) {
		fclose(f);
		return EIO;
	}
	if (fclose(f) != 0)
		return errno ? errno : EIO;
	return 0;
}

/* xfr serials beside the state file, written right after it: the
 * entries of a zone and the serial they are at travel together. */
static void
serials_save(struct tapir_engine *e)
{
	char path[4096 + 16];

	snprintf(path, sizeof(path), "%s.serials", e->state_path);
	/* Silently: without the file the next start asks for a full AXFR. */
	if (tapir_fileio_write_atomic(path, serials_fill, e, NULL) != 0)
		return;
}

static void
serials_load(struct tapir_engine *e)
{
	char path[4096 + 16], name[TAPIR_SOURCE_NAME_MAX + 1];
	unsigned serial;
	FILE *f;

	snprintf(path, sizeof(path), "%s.serials", e->state_path);
	if (!(f = fopen(path, "r")))
		return;
	while (fscanf(f, "%64s %u", name, &serial) == 2) {
		int i = tapir_config_source_index(wcfg(e), name);
		if (i < 0 || wcfg(e)->sources[i].type != TAPIR_SOURCE_XFR)
			continue;
		pthread_mutex_lock(&e->slock);
		e->xfrs[i].have_serial = true;
		e->xfrs[i].serial = serial;
		pthread_mutex_unlock(&e->slock);
	}
	fclose(f);
}

void
tapir__eng_state_save(struct tapir_engine *e)
{
	struct tapir_config *cfg = wrt(e)->cfg;
	struct tapir_error err = { 0 };
	size_t saved = 0;

	if (!e->state_path)
		return;
	if (tapir_state_save(e->db, cfg, e->state_path, e->now(),
		    want_persisted, cfg, &saved, &err) != 0) {
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
	serials_save(e);
	e->state_dirty = false;
	e->state_saved_ms = tapir_monotonic_ms();
	pthread_mutex_lock(&e->slock);
	e->state_saved_at = tapir_now();
	pthread_mutex_unlock(&e->slock);
	tapir_log(TAPIR_LOG_DEBUG, "state: saved %zu entries to %s", saved,
		e->state_path);
}

void
tapir__eng_state_load(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	size_t loaded = 0, expired = 0, other = 0;
	int rc;

	if (!e->state_path)
		return;
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
	serials_load(e);
	tapir_log(TAPIR_LOG_INFO,
		"state: %zu entries from %s (%zu expired, %zu of sources no "
		"longer configured)",
		loaded, e->state_path, expired, other);
}
