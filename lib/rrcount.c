/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Record counts per policy entry of a zone: a chained hash table. Rows are
 * few (owners with more than one record; most RPZ owners have one CNAME)
 * and change only when a transfer is applied, so the table favours
 * simplicity: one allocation per row, chains, and a bucket array that
 * doubles when rows outnumber buckets (chains average at most one row).
 */
#include "tapir_build.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lib/rrcount.h"

#define BUCKETS_MIN 64

struct row {
	struct row *next;
	uint64_t hash;
	uint32_t n[TAPIR_ACTION_COUNT];
	bool subtree;
	uint8_t len;
	char name[]; /* len bytes and a NUL */
};

struct tapir_rrcount {
	struct row **buckets; /* nbuckets, a power of two; NULL when empty */
	size_t nbuckets, nrows;
	uint64_t seed;
};

struct tapir_rrcount *
tapir_rrcount_create(void)
{
	struct tapir_rrcount *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	if (getrandom(&rc->seed, sizeof(rc->seed), 0) != sizeof(rc->seed))
		rc->seed = (uint64_t)tapir_monotonic_us();
	return rc;
}

void
tapir_rrcount_clear(struct tapir_rrcount *rc)
{
	for (size_t i = 0; i < rc->nbuckets; i++) {
		struct row *r = rc->buckets[i], *next;

		for (; r; r = next) {
			next = r->next;
			free(r);
		}
	}
	free(rc->buckets);
	rc->buckets = NULL;
	rc->nbuckets = rc->nrows = 0;
}

void
tapir_rrcount_destroy(struct tapir_rrcount *rc)
{
	if (!rc)
		return;
	tapir_rrcount_clear(rc);
	free(rc);
}

size_t
tapir_rrcount_size(const struct tapir_rrcount *rc)
{
	return rc->nrows;
}

/* The kind is hashed with the name: "x" and "*.x" are different rows. */
static uint64_t
row_hash(const struct tapir_rrcount *rc, const char *name, size_t len,
	bool subtree)
{
	return XXH3_64bits_withSeed(name, len, rc->seed ^ (subtree ? 1 : 0));
}

static struct row **
find(const struct tapir_rrcount *rc, const char *name, size_t len, bool subtree,
	uint64_t h)
{
	struct row **p;

	if (!rc->nbuckets)
		return NULL;
	for (p = &rc->buckets[h & (rc->nbuckets - 1)]; *p; p = &(*p)->next)
		if ((*p)->hash == h && (*p)->subtree == subtree &&
			(*p)->len == len && !memcmp((*p)->name, name, len))
			return p;
	return NULL;
}

uint64_t
tapir_rrcount_get(const struct tapir_rrcount *rc, const char *name, size_t len,
	bool subtree, uint32_t n[TAPIR_ACTION_COUNT])
{
	struct row **p =
		find(rc, name, len, subtree, row_hash(rc, name, len, subtree));
	uint64_t total = 0;

	memset(n, 0, TAPIR_ACTION_COUNT * sizeof(n[0]));
	if (!p)
		return 0;
	memcpy(n, (*p)->n, sizeof((*p)->n));
	for (int a = 0; a < TAPIR_ACTION_COUNT; a++)
		total += n[a];
	return total;
}

/* Doubles the bucket array (from BUCKETS_MIN) once rows outnumber it. */
static int
grow(struct tapir_rrcount *rc)
{
	size_t nb = rc->nbuckets ? rc->nbuckets * 2 : BUCKETS_MIN;
	struct row **b;

	if (rc->nrows < rc->nbuckets)
		return 0;
	if (!(b = calloc(nb, sizeof(*b))))
		return TAPIR_ENOMEM;
	for (size_t i = 0; i < rc->nbuckets; i++) {
		struct row *r = rc->buckets[i], *next;

		for (; r; r = next) {
			next = r->next;
			r->next = b[r->hash & (nb - 1)];
			b[r->hash & (nb - 1)] = r;
		}
	}
	free(rc->buckets);
	rc->buckets = b;
	rc->nbuckets = nb;
	return 0;
}

int
tapir_rrcount_put(struct tapir_rrcount *rc, const char *name, size_t len,
	bool subtree, const uint32_t n[TAPIR_ACTION_COUNT])
{
	uint64_t h = row_hash(rc, name, len, subtree);
	struct row **p = find(rc, name, len, subtree, h), *r;
	bool none = true;

	for (int a = 0; a < TAPIR_ACTION_COUNT; a++)
		none &= n[a] == 0;
	if (p && none) {
		r = *p;
		*p = r->next;
		free(r);
		rc->nrows--;
		return 0;
	}
	if (p) {
		memcpy((*p)->n, n, sizeof((*p)->n));
		return 0;
	}
	if (none)
		return 0;
	if (len == 0 || len >= TAPIR_NAME_BUFSIZE)
		return TAPIR_EINVAL;
	if (grow(rc) != 0)
		return TAPIR_ENOMEM;
	if (!(r = malloc(sizeof(*r) + len + 1)))
		return TAPIR_ENOMEM;
	r->hash = h;
	memcpy(r->n, n, sizeof(r->n));
	r->subtree = subtree;
	r->len = (uint8_t)len;
	memcpy(r->name, name, len);
	r->name[len] = '\0';
	r->next = rc->buckets[h & (rc->nbuckets - 1)];
	rc->buckets[h & (rc->nbuckets - 1)] = r;
	rc->nrows++;
	return 0;
}

int
tapir_rrcount_walk(
	const struct tapir_rrcount *rc, tapir_rrcount_walk_cb cb, void *arg)
{
	for (size_t i = 0; i < rc->nbuckets; i++)
		for (const struct row *r = rc->buckets[i]; r; r = r->next) {
			int rv = cb(arg, r->name, r->len, r->subtree, r->n);

			if (rv)
				return rv;
		}
	return 0;
}

enum tapir_action
tapir_rrcount_action(const uint32_t n[TAPIR_ACTION_COUNT])
{
	/* enum tapir_action is ordered by restriction (lib/vocab.h). */
	for (int a = TAPIR_ACTION_COUNT - 1; a > TAPIR_ACTION_PASS; a--)
		if (n[a])
			return (enum tapir_action)a;
	return TAPIR_ACTION_PASS;
}
