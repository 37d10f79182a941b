/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zone transfers: a thread of their own, so that a large transfer never
 * holds up the writer. A transfer is received and verified whole before
 * any of it applies (a primary that fails half way leaves the last good
 * data), held compactly and bounded by limits (records: four per
 * max-entries; bytes: max-transfer-size); the verified changes then reach
 * the writer in slices of XFR_SLICE, each a job of its own, so that MQTT
 * messages and other jobs wait for one slice, never for a whole zone.
 *
 * Expiry (RFC 1035 3.3.13, SOA EXPIRE): a zone's data is trusted for the
 * SOA's expire after the last check that reached the primary, and then
 * dropped. The deadline is kept in wall time (xfr_state.expires_at) in the
 * serials file beside the state file, so that data restored at start
 * expires when it would have, whether or not the primary is reachable.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

static void
log_xfr_failure(struct tapir_engine *e, const struct tapir_source_config *sc,
	const char *why)
{
	tapir_log(TAPIR_LOG_WARN,
		"source %s: transfer of %s from %s failed: %s; keeping its "
		"last good data",
		sc->name, sc->zone, sc->primary, why);
}

/* One change, decoded from the job's buffer. */
struct xfr_change {
	bool add, subtree;
	uint8_t action;
	char name[TAPIR_NAME_BUFSIZE];
};

/* A change in the job's buffer: one octet of CH_ flags and the action,
 * one of the name's length, the name without its NUL. A record costs two
 * octets more than its name, not a TAPIR_NAME_BUFSIZE slot. */
#define CH_ADD	   0x80
#define CH_SUBTREE 0x40
#define CH_ACTION  0x07
/* Changes the writer applies per job: milliseconds of work, so what is
 * queued behind a large transfer waits for one slice. */
#define XFR_SLICE  8192

struct xfr_job;

/* Applying one transfer, slice by slice (the writer's). */
struct apply {
	struct tapir_engine *e;
	const struct xfr_job *j;
	struct xfr_state *xs;
	uint8_t list;
	uint32_t gen;
	struct purges purges;
	bool counts_lost; /* a count could not be stored */
};

struct xfr_job {
	int src;
	bool full, expired;
	uint32_t serial;
	struct tapir_error *err; /* the transfer's, for xfr_record() */
	uint8_t *buf;		 /* owned: the changes, as above */
	size_t len, cap, max;	 /* max: limits.max-transfer-size */
	size_t n;		 /* changes in buf */
	/* The writer's progress through buf: octets, changes. */
	size_t at, applied;
	bool started, done;
	struct apply a;
	size_t names;	/* out: entries of the source after applying */
	size_t removed; /* out, expired: entries dropped */
};

static int
xfr_begin(void *arg, bool full, uint32_t from, uint32_t to)
{
	struct xfr_job *j = arg;

	/* An IXFR answered AXFR-style restarts the changeset whole. */
	if (full) {
		j->full = true;
		j->len = j->n = 0;
	}
	return 0;
}

static int
xfr_record(void *arg, bool add, const struct tapir_file_record *r)
{
	struct xfr_job *j = arg;
	size_t need = 2 + r->len;
	uint8_t *p;

	if (j->len + need > j->max)
		return tapir_error_set(j->err, TAPIR_ETOOBIG, 0,
			"transfer holds more than %zu bytes of changes "
			"(limits.max-transfer-size)",
			j->max);
	if (j->len + need > j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 65536;
		uint8_t *nb;

		if (cap > j->max)
			cap = j->max;
		if (!(nb = realloc(j->buf, cap)))
			return TAPIR_ENOMEM;
		j->buf = nb;
		j->cap = cap;
	}
	p = j->buf + j->len;
	p[0] = (uint8_t)((add ? CH_ADD : 0) | (r->subtree ? CH_SUBTREE : 0) |
			 ((unsigned)r->action & CH_ACTION));
	p[1] = (uint8_t)r->len;
	memcpy(p + 2, r->name, r->len);
	j->len += need;
	j->n++;
	return 0;
}

static int
xfr_end(void *arg, const struct tapir_xfr_soa *soa)
{
	((struct xfr_job *)arg)->serial = soa->serial;
	return 0;
}

static int
count_source(void *arg, const char *name, size_t len,
	const struct tapir_entry *e, size_t n)
{
	struct stale *st = arg;

	for (size_t i = 0; i < n; i++)
		st->n += e[i].source == st->src;
	return 0;
}

/*
 * The records behind an entry. Every RR of an RPZ owner maps to the one
 * entry of (source, name, kind), and an owner may have several (an A and
 * an AAAA of local data). An IXFR deletes records: the entry goes with the
 * last of them, and while any remain it keeps the action they give
 * (tapir_rrcount_action()). An owner with one record is its entry alone;
 * xs->rrs counts the records of owners with more, per action.
 */
/* The action of the source's entry of (name, kind), if it has one that
 * counts: during a full transfer, only one this transfer made (of its
 * generation); an older one is about to be replaced. */
static bool
entry_action(struct apply *a, const struct xfr_change *c, size_t len,
	enum tapir_action *action)
{
	size_t n;
	const struct tapir_entry *v = tapir_db_find(a->e->db, c->name, len, &n);

	for (size_t i = 0; i < n; i++) {
		if (v[i].source != a->j->src ||
			((v[i].flags & TAPIR_ENTRY_SUBTREE) != 0) != c->subtree)
			continue;
		if (a->j->full && v[i].added != a->gen)
			return false;
		*action = (enum tapir_action)TAPIR_ENTRY_ACTION(v[i].flags);
		return true;
	}
	return false;
}

static void
set_entry(struct apply *a, const struct xfr_change *c, size_t len,
	enum tapir_action action)
{
	struct tapir_entry ent = { .expiry = TAPIR_EXPIRY_NEVER,
		.added = a->gen,
		.source = (uint16_t)a->j->src,
		.list = a->list,
		.flags = c->subtree ? TAPIR_ENTRY_SUBTREE : 0 };

	if (action != TAPIR_ACTION_PASS)
		ent.flags |= (uint8_t)(action << TAPIR_ENTRY_ACTION_SHIFT);
	if (tapir_db_set(a->e->db, c->name, len, &ent) != 0) {
		count(a->e, TAPIR_C_ENTRY_DB_FULL, 1);
		return;
	}
	tapir__eng_purges_add(a->e, &a->purges, c->name, c->subtree);
}

static void
put_counts(struct apply *a, const struct xfr_change *c, size_t len,
	const uint32_t n[TAPIR_ACTION_COUNT])
{
	if ((!a->xs->rrs && !(a->xs->rrs = tapir_rrcount_create())) ||
		tapir_rrcount_put(a->xs->rrs, c->name, len, c->subtree, n) != 0)
		a->counts_lost = true;
}

static void
apply_add(struct apply *a, const struct xfr_change *c, size_t len)
{
	uint32_t n[TAPIR_ACTION_COUNT] = { 0 };
	enum tapir_action cur, action = (enum tapir_action)c->action;
	uint64_t total = 0;

	if (a->xs->rrs)
		total = tapir_rrcount_get(
			a->xs->rrs, c->name, len, c->subtree, n);
	/* The owner's one record so far is its entry. */
	if (total == 0 && entry_action(a, c, len, &cur)) {
		n[cur] = 1;
		total = 1;
	}
	if (total > 0) {
		enum tapir_action before = tapir_rrcount_action(n);

		if (n[c->action] < UINT32_MAX)
			n[c->action]++;
		put_counts(a, c, len, n);
		action = tapir_rrcount_action(n);
		/* Another record of an owner that decides the same: the
		 * entry (and what was purged for it) stands. */
		if (action == before && entry_action(a, c, len, &cur) &&
			cur == action)
			return;
	}
	set_entry(a, c, len, action);
}

static void
apply_del(struct apply *a, const struct xfr_change *c, size_t len)
{
	uint32_t n[TAPIR_ACTION_COUNT] = { 0 };
	static const uint32_t none[TAPIR_ACTION_COUNT];
	enum tapir_action cur, left;
	uint64_t total = 0;

	if (a->xs->rrs)
		total = tapir_rrcount_get(
			a->xs->rrs, c->name, len, c->subtree, n);
	if (total == 0) {
		/* One record: the entry goes with it. A record this zone
		 * never had (of another action) leaves the one it has. */
		if (entry_action(a, c, len, &cur) && cur == c->action)
			(void)tapir__eng_remove_entry(a->e, a->j->src, c->name,
				c->subtree ? TAPIR_ENTRY_SUBTREE : 0,
				&a->purges);
		return;
	}
	if (n[c->action] > 0) {
		n[c->action]--;
		total--;
	}
	left = tapir_rrcount_action(n);
	/* One left: the entry alone says what it is. */
	put_counts(a, c, len, total > 1 ? n : none);
	if (left == TAPIR_ACTION_PASS)
		(void)tapir__eng_remove_entry(a->e, a->j->src, c->name,
			c->subtree ? TAPIR_ENTRY_SUBTREE : 0, &a->purges);
	else if (entry_action(a, c, len, &cur) && cur != left)
		set_entry(a, c, len, left);
}

/* Writer: the end of a transfer applied whole. A full one removes the
 * entries it did not make (stale), then the zone is at its new serial. */
static void
apply_finish(struct tapir_engine *e, struct xfr_job *j)
{
	const struct tapir_source_config *sc = &wcfg(e)->sources[j->src];
	struct xfr_state *xs = &e->xfrs[j->src];
	struct stale stale = { .src = (uint16_t)j->src };

	if (j->full) {
		stale.generation = j->a.gen;
		if (tapir_db_walk(e->db, tapir__eng_find_stale, &stale) == 0)
			for (size_t i = 0; i < stale.n; i++)
				(void)tapir__eng_remove_entry(e, j->src,
					stale.v[i].name, stale.v[i].flags,
					&j->a.purges);
		free(stale.v);
	}
	tapir__eng_purges_end(e, &j->a.purges);
	stale = (struct stale){ .src = (uint16_t)j->src };
	(void)tapir_db_walk(e->db, count_source, &stale);
	j->names = stale.n;
	pthread_mutex_lock(&e->slock);
	/* Without its counts the zone cannot take deletions safely: the
	 * next transfer is a full one, which counts again. */
	xs->have_serial = !j->a.counts_lost;
	xs->serial = j->serial;
	pthread_mutex_unlock(&e->slock);
	if (j->a.counts_lost)
		tapir_log(TAPIR_LOG_ERR,
			"source %s: out of memory counting the records of "
			"%s; the next transfer is a full one",
			sc->name, sc->zone);
	e->state_dirty = true;
	j->done = true;
}

/* Writer: apply the next slice of a verified transfer (the transfer
 * thread submits slices until done). A full transfer replaces the
 * source's entries (new ones over old, then the stale ones go) and its
 * counts; an incremental one applies deletions and additions in order.
 * Or, for an expired zone, drop its entries. */
static void
xfr_apply(struct tapir_engine *e, void *arg)
{
	struct xfr_job *j = arg;
	const struct tapir_source_config *sc = &wcfg(e)->sources[j->src];
	struct xfr_state *xs = &e->xfrs[j->src];
	struct xfr_change c;

	if (j->expired) {
		/* An allowlist zone gone: any name it allowed may block. */
		j->removed = tapir_db_remove_source(e->db, (uint16_t)j->src);
		if (j->removed > 0 && sc->list == TAPIR_LIST_ALLOW && e->purger)
			(void)tapir_purger_push(e->purger, "");
		if (xs->rrs)
			tapir_rrcount_clear(xs->rrs);
		j->names = 0;
		/* Or the state file would bring them back. */
		if (j->removed > 0)
			e->state_dirty = true;
		j->done = true;
		return;
	}
	if (!j->started) {
		j->a = (struct apply){
			.e = e, .j = j, .xs = xs, .list = (uint8_t)sc->list
		};
		/* Never one a full transfer could mistake for its own, even
		 * two in one second or after the clock stepped back. */
		j->a.gen = tapir_db_time32(e->now());
		if (j->a.gen <= xs->generation &&
			xs->generation < TAPIR_EXPIRY_NEVER - 1)
			j->a.gen = xs->generation + 1;
		xs->generation = j->a.gen;
		if (j->full && xs->rrs)
			tapir_rrcount_clear(xs->rrs);
		j->started = true;
	}
	for (size_t k = 0; k < XFR_SLICE && j->at < j->len; k++) {
		const uint8_t *p = j->buf + j->at;
		size_t len = p[1];

		c.add = (p[0] & CH_ADD) != 0;
		c.subtree = (p[0] & CH_SUBTREE) != 0;
		c.action = p[0] & CH_ACTION;
		memcpy(c.name, p + 2, len);
		c.name[len] = '\0';
		j->at += 2 + len;
		j->applied++;
		if (c.add)
			apply_add(&j->a, &c, len);
		else
			apply_del(&j->a, &c, len);
	}
	if (j->at == j->len)
		apply_finish(e, j);
}

/* Writer: a transfer stopped between two slices (the engine stops). What
 * was applied stays, but the zone is at no serial any more: the next
 * start transfers it whole, which also recounts its records. */
static void
xfr_abandon(struct tapir_engine *e, void *arg)
{
	struct xfr_job *j = arg;
	struct xfr_state *xs = &e->xfrs[j->src];

	tapir__eng_purges_end(e, &j->a.purges);
	pthread_mutex_lock(&e->slock);
	xs->have_serial = false;
	pthread_mutex_unlock(&e->slock);
	e->state_dirty = true;
	tapir_log(TAPIR_LOG_WARN,
		"source %s: stopped with %zu of %zu changes of %s applied; "
		"the next transfer is a full one",
		wcfg(e)->sources[j->src].name, j->applied, j->n,
		wcfg(e)->sources[j->src].zone);
}

/* One SOA check, and a transfer when the serial moved; on the transfer
 * thread. @return: 0 or the failure. */
static int
xfr_once(struct tapir_engine *e, int src, struct tapir_error *err)
{
	const struct tapir_source_config *sc = &e->xfr_rt->cfg->sources[src];
	struct xfr_state *xs = &e->xfrs[src];
	size_t max_entries = e->xfr_rt->cfg->limits.max_entries;
	struct tapir_xfr_opts o = {
		.primary = sc->primary,
		.port = sc->port,
		.zone = sc->zone,
		.tsig_name = sc->tsig_name[0] ? sc->tsig_name : NULL,
		.tsig_alg = sc->tsig_alg,
		.tsig_secret = sc->tsig_secret,
		.timeout_ms = (int)sc->timeout * 1000,
		/* Four RRs an entry: room for a signed zone's RRSIG and
		 * NSEC, and for an IXFR's deletions. */
		.max_records =
			max_entries > SIZE_MAX / 4 ? SIZE_MAX : max_entries * 4,
		.cancel = &e->xfr_stop,
	};
	static const struct tapir_xfr_ops ops = {
		.begin = xfr_begin,
		.record = xfr_record,
		.end = xfr_end,
	};
	struct xfr_job j = { .src = src,
		.err = err,
		.max = e->xfr_rt->cfg->limits.max_transfer_size };
	struct tapir_xfr_soa soa;
	bool have;
	uint32_t serial;
	int rc;

	pthread_mutex_lock(&e->slock);
	have = xs->have_serial;
	serial = xs->serial;
	pthread_mutex_unlock(&e->slock);
	rc = tapir_xfr_fetch(&o, have, serial, &ops, &j, &soa, err);
	if (rc == TAPIR_EEXIST) {
		xs->soa = soa;
		rc = 0;
	} else if (rc == 0) {
		xs->soa = soa;
		while (!j.done) {
			/* Stopping: leave the rest (seconds of a large
			 * zone) to the next start. */
			if (atomic_load(&e->xfr_stop)) {
				if (j.started)
					tapir__eng_run_on_writer(
						e, xfr_abandon, &j);
				rc = TAPIR_ECANCELED;
				break;
			}
			tapir__eng_run_on_writer(e, xfr_apply, &j);
		}
	}
	if (rc == 0 && j.done) {
		pthread_mutex_lock(&e->slock);
		xs->names = j.names;
		xs->transfers++;
		pthread_mutex_unlock(&e->slock);
		tapir_log(TAPIR_LOG_INFO,
			"source %s: %s of %s to serial %u: %zu changes, %zu "
			"names",
			sc->name, j.full ? "AXFR" : "IXFR", sc->zone, j.serial,
			j.n, j.names);
	}
	free(j.buf);
	return rc;
}

static void
xfr_schedule(struct tapir_engine *e, size_t i, bool ok, const char *why)
{
	const struct tapir_config *cfg = e->xfr_rt->cfg;
	struct xfr_state *xs = &e->xfrs[i];
	int64_t now = tapir_monotonic_ms();
	uint32_t r, expire;

	if (ok) {
		/* SOA timers, bounded so that a zone is always checked
		 * again within a day and never hammered. */
		r = xs->soa.refresh;
		r = r < 5 ? 5 : r > 86400 ? 86400 : r;
		xs->next_ms = now + (int64_t)r * 1000;
		expire = xs->soa.expire ? xs->soa.expire : XFR_EXPIRE_DEFAULT_S;
		xs->expire_ms = now + (int64_t)expire * 1000;
		pthread_mutex_lock(&e->slock);
		xs->last_ok = e->now();
		xs->expires_at = tapir_time_add(e->now(), expire);
		xs->error[0] = '\0';
		pthread_mutex_unlock(&e->slock);
		/* The new deadline goes to the serials file, so that a
		 * restart with the primary down keeps the zone as long. */
		atomic_store(&e->serials_dirty, true);
		return;
	}
	r = xs->soa.retry;
	r = r < 2 ? 10 : r > 3600 ? 3600 : r;
	xs->next_ms = now + (int64_t)r * 1000;
	pthread_mutex_lock(&e->slock);
	xs->failures++;
	snprintf(xs->error, sizeof(xs->error), "%s", why);
	pthread_mutex_unlock(&e->slock);
	count(e, TAPIR_C_XFR_FAILURES, 1);
	log_xfr_failure(e, &cfg->sources[i], why);
}

/* RFC 1035 expire: a zone not refreshed for this long is no longer
 * trusted, and its entries go; the next transfer is a full one. */
static void
xfr_expire(struct tapir_engine *e, size_t i)
{
	struct xfr_state *xs = &e->xfrs[i];
	struct xfr_job j = { .src = (int)i, .expired = true };
	bool had;

	tapir__eng_run_on_writer(e, xfr_apply, &j);
	xs->expire_ms = 0;
	pthread_mutex_lock(&e->slock);
	had = xs->have_serial;
	xs->have_serial = false;
	xs->expires_at = 0;
	xs->names = 0;
	pthread_mutex_unlock(&e->slock);
	atomic_store(&e->serials_dirty, true);
	if (had || j.removed)
		tapir_log(TAPIR_LOG_ERR,
			"source %s: zone expired, its %zu entries are dropped",
			e->xfr_rt->cfg->sources[i].name, j.removed);
}

/* Arms each zone's expiry from the deadline the writer restored with the
 * state file: data restored at start goes when the zone would have
 * expired, even if the primary never answers. */
static void
xfr_arm_restored(struct tapir_engine *e)
{
	const struct tapir_config *cfg = e->xfr_rt->cfg;
	int64_t now = tapir_monotonic_ms(), wall = e->now();

	for (size_t i = 0; i < cfg->n_sources; i++) {
		struct xfr_state *xs = &e->xfrs[i];
		int64_t at, left;

		if (cfg->sources[i].type != TAPIR_SOURCE_XFR)
			continue;
		pthread_mutex_lock(&e->slock);
		at = xs->expires_at;
		pthread_mutex_unlock(&e->slock);
		if (!at)
			continue;
		/* The serials file bounds it; a year keeps the product far
		 * from overflowing whatever the clocks say. */
		left = at - wall;
		left = left < 0 ? 0 : left > 366 * 86400 ? 366 * 86400 : left;
		xs->expire_ms = now + left * 1000;
	}
}

void *
tapir__eng_xfr_main(void *arg)
{
	struct tapir_engine *e = arg;
	const struct tapir_config *cfg;

	tapir_thread_background("tapir-xfr");

	/* The state file may hold the zones and their serials: transfer
	 * only once the writer has read it, so that a reload asks for an
	 * IXFR rather than the whole zone again. */
	pthread_mutex_lock(&e->qlock);
	while (!e->writer_ready && !e->stop && !atomic_load(&e->xfr_stop))
		pthread_cond_wait(&e->jcond, &e->qlock);
	pthread_mutex_unlock(&e->qlock);
	e->xfr_rt = tapir__eng_rt_get(e);
	xfr_arm_restored(e);
	tapir_runtime_unref(e->xfr_rt);

	for (;;) {
		int64_t now = tapir_monotonic_ms(), wait = 60000;
		struct timespec ts;

		/* Each pass on the snapshot in force, held for the pass:
		 * a transfer may outlast a reload. */
		e->xfr_rt = tapir__eng_rt_get(e);
		cfg = e->xfr_rt->cfg;
		for (size_t i = 0; i < cfg->n_sources; i++) {
			struct xfr_state *xs = &e->xfrs[i];
			struct tapir_error err = { 0 };
			int rc;
			if (cfg->sources[i].type != TAPIR_SOURCE_XFR)
				continue;
			/* Before a check that may take its whole timeout. */
			if (xs->expire_ms && xs->expire_ms <= now)
				xfr_expire(e, i);
			if (xs->next_ms <= now) {
				/* Cancelled by destroy: not a failure. */
				if ((rc = xfr_once(e, (int)i, &err)) ==
					TAPIR_ECANCELED) {
					tapir_runtime_unref(e->xfr_rt);
					e->xfr_rt = NULL;
					return NULL;
				}
				xfr_schedule(e, i, rc == 0, err.text);
			}
			if (xs->next_ms - now < wait)
				wait = xs->next_ms - now;
			if (xs->expire_ms && xs->expire_ms - now < wait)
				wait = xs->expire_ms - now;
		}
		tapir_runtime_unref(e->xfr_rt);
		e->xfr_rt = NULL;
		if (wait < 100)
			wait = 100;
		tapir_deadline_ms(&ts, wait);
		pthread_mutex_lock(&e->xlock);
		if (!atomic_load(&e->xfr_stop))
			pthread_cond_timedwait(&e->xcond, &e->xlock, &ts);
		if (atomic_load(&e->xfr_stop)) {
			pthread_mutex_unlock(&e->xlock);
			break;
		}
		pthread_mutex_unlock(&e->xlock);
	}
	return NULL;
}
