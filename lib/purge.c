/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The purger's thread takes names from a bounded queue and hands each to
 * the embedder's send function. A failure is retried up to RETRIES times
 * RETRY_MS apart (a reload takes Unbound's control socket away for a
 * moment), then counted as failed.
 */
#include "tapir_build.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/name.h"
#include "lib/purge.h"

#define RETRIES	       10
#define RETRY_MS       100
/* Fold the waiting names into one flush of everything once flushing them
 * one by one would take longer than this (names waiting times the recent
 * cost of one flush). A name waiting here is blocked already, on every
 * query that misses the cache; only an answer cached while it was allowed
 * waits for its flush. Emptying the cache slows every client and sends
 * every query upstream again, so the budget is generous: on a busy 2-core
 * machine a flush round trip took 0.3-1.5 ms, and a quarter of a second
 * folded about half of the 1,000-name bursts. */
#define FOLD_BUDGET_US 1000000
#define COST_WINDOW    8
#define HELD_WAKE      64

struct item {
	struct item *next;
	bool zone; /* flush_zone: everything at or below; else flush */
	char name[];
};

struct tapir_purger {
	/* Set at create, read-only after. */
	tapir_purge_send_fn send;
	void *send_arg;
	char *what;
	size_t queue_max;
	pthread_t thread;
	/* Covered by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *head, *tail;
	size_t qlen;
	size_t qzone; /* of qlen: flush_zone requests */
	bool busy, stop;
	bool held; /* tapir_purger_hold(): pushes do not wake the thread */
	/* Purger thread only: the last COST_WINDOW flush_zone round trips,
	 * of names that came alone (calm) and of names of a backlog. */
	int64_t calm_us[COST_WINDOW], busy_us[COST_WINDOW];
	unsigned n_calm, n_busy;
	_Atomic uint64_t requested, done, failed, dropped, coalesced, by_name;
	_Atomic uint64_t overflows;
};

static int64_t
least_of(const int64_t *us, unsigned count)
{
	unsigned n = count < COST_WINDOW ? count : COST_WINDOW;
	int64_t least = 0;

	for (unsigned i = 0; i < n; i++)
		if (i == 0 || us[i] < least)
			least = us[i];
	return least;
}

/* What one flush_zone costs: the least of the last few round trips of
 * names that came alone, else of any. The walk of the cache is the cost
 * that grows with it; a round trip in a burst also waits for a CPU (this
 * thread runs niced, beside the broker, the writer and Unbound's workers)
 * and would fold bursts that flush cheaply. 0: not known yet. */
static int64_t
flush_cost(const struct tapir_purger *p)
{
	return p->n_calm ? least_of(p->calm_us, p->n_calm)
			 : least_of(p->busy_us, p->n_busy);
}

static void *
purger_main(void *arg)
{
	struct tapir_purger *p = arg;

	tapir_thread_background("tapir-purge");

	for (;;) {
		struct item *it;
		int tries = 0;
		int64_t t0;
		bool ok, calm;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		it = p->head;
		calm = p->qlen == 1;
		/* A cost not known yet (0) never folds. */
		if (p->qzone > 1 &&
			(int64_t)p->qzone * flush_cost(p) > FOLD_BUDGET_US) {
			/* Each flush_zone walks Unbound's whole cache on
			 * worker 0, so its cost grows with the cache. Flushed
			 * one by one, a burst drops only what it must and
			 * holds the worker a short while each time; once that
			 * would take longer than the budget, one walk of
			 * everything ("flush_zone .") enforces them all at
			 * once, at the price of answers Unbound re-resolves.
			 * A fixed count cannot tell a 1,000-entry cache from
			 * a 10-million-entry one. Flushes by name walk
			 * nothing: a backlog of them is never folded. */
			size_t n = p->qlen;
			struct item *next;
			for (struct item *x = it->next; x; x = next) {
				next = x->next;
				free(x);
			}
			p->head = p->tail = NULL;
			p->qlen = p->qzone = 0;
			it->name[0] = '\0';
			it->zone = true;
			atomic_fetch_add(&p->coalesced, n - 1);
		} else {
			if (!(p->head = it->next))
				p->tail = NULL;
			p->qlen--;
			p->qzone -= it->zone;
		}
		p->busy = true;
		pthread_mutex_unlock(&p->lock);

		t0 = tapir_monotonic_us();
		while (!(ok = p->send(p->send_arg, it->name, it->zone) == 0)) {
			struct timespec ts = { 0, RETRY_MS * 1000000L };
			bool stop;
			pthread_mutex_lock(&p->lock);
			stop = p->stop;
			pthread_mutex_unlock(&p->lock);
			if (stop || ++tries >= RETRIES)
				break;
			nanosleep(&ts, NULL);
			t0 = tapir_monotonic_us(); /* cost of one attempt */
		}
		if (ok && it->zone) {
			/* The cost that folding saves is the cache walk of
			 * flush_zone; a flush by name walks nothing. */
			int64_t us = tapir_monotonic_us() - t0;
			if (calm)
				p->calm_us[p->n_calm++ % COST_WINDOW] = us;
			else
				p->busy_us[p->n_busy++ % COST_WINDOW] = us;
		}
		if (ok) {
			atomic_fetch_add(&p->done, 1);
			if (!it->zone)
				atomic_fetch_add(&p->by_name, 1);
		} else {
			atomic_fetch_add(&p->failed, 1);
			tapir_log(TAPIR_LOG_WARN,
				"purge: %s did not flush %s; a cached answer "
				"may stay until it expires",
				p->what, it->name[0] ? it->name : "everything");
		}
		free(it);
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

struct tapir_purger *
tapir_purger_create(
	tapir_purge_send_fn send, void *arg, const char *what, size_t queue_max)
{
	struct tapir_purger *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (!(p->what = strdup(what))) {
		free(p);
		return NULL;
	}
	p->send = send;
	p->send_arg = arg;
	p->queue_max = queue_max ? queue_max : 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, purger_main, p) != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p->what);
		free(p);
		return NULL;
	}
	return p;
}

void
tapir_purger_destroy(struct tapir_purger *p)
{
	struct item *it;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	while ((it = p->head)) {
		p->head = it->next;
		free(it);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->what);
	free(p);
}

/* qlock held: the queue is full. A name that cannot wait must not be
 * lost (its answer would stay in the cache): the queue becomes one flush
 * of everything, which covers every name in it and the new one. */
static void
overflow_locked(struct tapir_purger *p, struct item *it)
{
	size_t n = p->qlen;
	struct item *x, *next;

	for (x = p->head; x; x = next) {
		next = x->next;
		free(x);
	}
	it->name[0] = '\0';
	it->zone = true;
	it->next = NULL;
	p->head = p->tail = it;
	p->qlen = p->qzone = 1;
	atomic_fetch_add(&p->coalesced, n);
	atomic_fetch_add(&p->overflows, 1);
}

static int
push(struct tapir_purger *p, const char *name, bool zone)
{
	size_t len = strlen(name);
	struct item *it;

	atomic_fetch_add(&p->requested, 1);
	if (!(it = malloc(sizeof(*it) + len + 1))) {
		atomic_fetch_add(&p->dropped, 1);
		return TAPIR_ENOMEM;
	}
	it->next = NULL;
	it->zone = zone;
	memcpy(it->name, name, len + 1);
	pthread_mutex_lock(&p->lock);
	if (p->head && p->head->zone && !p->head->name[0] && !p->head->next) {
		/* Only a flush of everything waits: it covers this name. */
		pthread_mutex_unlock(&p->lock);
		free(it);
		atomic_fetch_add(&p->coalesced, 1);
		return 0;
	}
	if (p->qlen >= p->queue_max) {
		overflow_locked(p, it);
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	if (p->tail)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
	p->qlen++;
	p->qzone += zone;
	/* Held, it still wakes for a batch's worth, so that a long burst
	 * is worked through as it grows, never left to overflow. */
	if (!p->held || p->qlen >= HELD_WAKE)
		pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void
tapir_purger_hold(struct tapir_purger *p)
{
	pthread_mutex_lock(&p->lock);
	p->held = true;
	pthread_mutex_unlock(&p->lock);
}

void
tapir_purger_release(struct tapir_purger *p)
{
	pthread_mutex_lock(&p->lock);
	p->held = false;
	if (p->head)
		pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int
tapir_purger_push(struct tapir_purger *p, const char *name)
{
	return push(p, name, true);
}

int
tapir_purger_push_name(struct tapir_purger *p, const char *name)
{
	return push(p, name, false);
}

void
tapir_purger_stats(struct tapir_purger *p, struct tapir_purger_stats *st)
{
	st->requested = atomic_load(&p->requested);
	st->done = atomic_load(&p->done);
	st->failed = atomic_load(&p->failed);
	st->dropped = atomic_load(&p->dropped);
	st->coalesced = atomic_load(&p->coalesced);
	st->by_name = atomic_load(&p->by_name);
	st->overflows = atomic_load(&p->overflows);
}

void
tapir_purger_drain(struct tapir_purger *p, int timeout_ms)
{
	struct timespec ts;

	tapir_deadline_ms(&ts, timeout_ms);
	pthread_mutex_lock(&p->lock);
	/* What was pushed while held has not woken the thread. */
	pthread_cond_broadcast(&p->cond);
	while ((p->head || p->busy) &&
		pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&p->lock);
}
