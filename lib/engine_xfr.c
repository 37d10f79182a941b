/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zone transfers: a thread of their own, so that a large transfer never
 * holds up the writer; a verified transfer reaches the writer as a job.
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

struct xfr_change {
	bool add, subtree;
	uint8_t action;
	char name[TAPIR_NAME_BUFSIZE];
};

struct xfr_job {
	int src;
	bool full, expired;
	uint32_t serial;
	struct xfr_change *v;
	size_t n, cap;
	size_t names; /* out: entries of the source after applying */
};

static int
xfr_begin(void *arg, bool full, uint32_t from, uint32_t to)
{
	struct xfr_job *j = arg;

	/* An IXFR answered AXFR-style restarts the changeset whole. */
	if (full) {
		j->full = true;
		j->n = 0;
	}
	return 0;
}

static int
xfr_record(void *arg, bool add, const struct tapir_file_record *r)
{
	struct xfr_job *j = arg;
	struct xfr_change *c;

	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 1024;
		struct xfr_change *v = realloc(j->v, cap * sizeof(*v));
		if (!v)
			return TAPIR_ENOMEM;
		j->v = v;
		j->cap = cap;
	}
	c = &j->v[j->n++];
	c->add = add;
	c->subtree = r->subtree;
	c->action = (uint8_t)r->action;
	memcpy(c->name, r->name, r->len + 1);
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

/* Writer: apply a verified transfer. A full one replaces the source's
 * entries (new ones over old, then the stale ones go); an incremental one
 * applies deletions and additions in order. */
static void
xfr_apply(struct tapir_engine *e, void *arg)
{
	struct xfr_job *j = arg;
	const struct tapir_source_config *sc = &wcfg(e)->sources[j->src];
	struct stale stale = { .src = (uint16_t)j->src };
	uint32_t gen = (uint32_t)tapir_now();
	struct purges purges = { 0 };

	if (j->expired) {
		/* An allowlist zone gone: any name it allowed may block. */
		if (tapir_db_remove_source(e->db, (uint16_t)j->src) > 0 &&
			sc->list == TAPIR_LIST_ALLOW && e->purger)
			(void)tapir_purger_push(e->purger, "");
		j->names = 0;
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		const struct xfr_change *c = &j->v[i];
		uint8_t flags = c->subtree ? TAPIR_ENTRY_SUBTREE : 0;
		size_t len = strlen(c->name);
		struct tapir_entry ent = { .expiry = TAPIR_EXPIRY_NEVER,
			.added = gen,
			.source = (uint16_t)j->src,
			.list = (uint8_t)sc->list };
		if (c->action != TAPIR_ACTION_PASS)
			flags |= (uint8_t)(c->action
					   << TAPIR_ENTRY_ACTION_SHIFT);
		ent.flags = flags;
		if (!c->add) {
			(void)tapir__eng_remove_entry(
				e, j->src, c->name, flags, &purges);
			continue;
		}
		if (tapir_db_set(e->db, c->name, len, &ent) != 0) {
			count(e, TAPIR_C_ENTRY_DB_FULL, 1);
			continue;
		}
		tapir__eng_purges_add(e, &purges, c->name, c->subtree);
	}
	if (j->full) {
		stale.generation = gen;
		if (tapir_db_walk(e->db, tapir__eng_find_stale, &stale) == 0)
			for (size_t i = 0; i < stale.n; i++)
				(void)tapir__eng_remove_entry(e, j->src,
					stale.v[i].name, stale.v[i].flags,
					&purges);
		free(stale.v);
	}
	tapir__eng_purges_end(e, &purges);
	stale = (struct stale){ .src = (uint16_t)j->src };
	(void)tapir_db_walk(e->db, count_source, &stale);
	j->names = stale.n;
	pthread_mutex_lock(&e->slock);
	e->xfrs[j->src].have_serial = true;
	e->xfrs[j->src].serial = j->serial;
	pthread_mutex_unlock(&e->slock);
	e->state_dirty = true;
}

/* One SOA check, and a transfer when the serial moved; on the transfer
 * thread. @return: 0 or the failure. */
static int
xfr_once(struct tapir_engine *e, int src, struct tapir_error *err)
{
	const struct tapir_source_config *sc = &e->xfr_rt->cfg->sources[src];
	struct xfr_state *xs = &e->xfrs[src];
	struct tapir_xfr_opts o = {
		.primary = sc->primary,
		.port = sc->port,
		.zone = sc->zone,
		.tsig_name = sc->tsig_name[0] ? sc->tsig_name : NULL,
		.tsig_alg = sc->tsig_alg,
		.tsig_secret = sc->tsig_secret,
		.timeout_ms = (int)sc->timeout * 1000,
	};
	static const struct tapir_xfr_ops ops = {
		.begin = xfr_begin,
		.record = xfr_record,
		.end = xfr_end,
	};
	struct xfr_job j = { .src = src };
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
		tapir__eng_run_on_writer(e, xfr_apply, &j);
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
	free(j.v);
	return rc;
}

static void
xfr_schedule(struct tapir_engine *e, size_t i, bool ok, const char *why)
{
	const struct tapir_config *cfg = e->xfr_rt->cfg;
	struct xfr_state *xs = &e->xfrs[i];
	int64_t now = tapir_monotonic_ms();
	uint32_t r;

	if (ok) {
		/* SOA timers, bounded so that a zone is always checked
		 * again within a day and never hammered. */
		r = xs->soa.refresh;
		r = r < 5 ? 5 : r > 86400 ? 86400 : r;
		xs->next_ms = now + (int64_t)r * 1000;
		xs->expire_ms = now + (int64_t)(xs->soa.expire ? xs->soa.expire
							       : 604800) *
					      1000;
		pthread_mutex_lock(&e->slock);
		xs->last_ok = tapir_now();
		xs->error[0] = '\0';
		pthread_mutex_unlock(&e->slock);
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
	/* RFC 1996 expire: a zone not refreshed for this long is no longer
	 * trusted, and its entries go. */
	if (xs->expire_ms && now > xs->expire_ms) {
		struct xfr_job j = { .src = (int)i, .expired = true };
		tapir__eng_run_on_writer(e, xfr_apply, &j);
		xs->expire_ms = 0;
		pthread_mutex_lock(&e->slock);
		xs->have_serial = false;
		xs->names = 0;
		pthread_mutex_unlock(&e->slock);
		tapir_log(TAPIR_LOG_ERR,
			"source %s: zone expired, its entries are dropped",
			cfg->sources[i].name);
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
	while (!e->writer_ready && !e->stop)
		pthread_cond_wait(&e->jcond, &e->qlock);
	pthread_mutex_unlock(&e->qlock);

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
			if (cfg->sources[i].type != TAPIR_SOURCE_XFR)
				continue;
			if (xs->next_ms <= now)
				xfr_schedule(e, i,
					xfr_once(e, (int)i, &err) == 0,
					err.text);
			if (xs->next_ms - now < wait)
				wait = xs->next_ms - now;
		}
		tapir_runtime_unref(e->xfr_rt);
		e->xfr_rt = NULL;
		if (wait < 100)
			wait = 100;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&e->xlock);
		if (!e->xfr_stop)
			pthread_cond_timedwait(&e->xcond, &e->xlock, &ts);
		if (e->xfr_stop) {
			pthread_mutex_unlock(&e->xlock);
			break;
		}
		pthread_mutex_unlock(&e->xlock);
	}
	return NULL;
}
