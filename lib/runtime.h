/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime snapshot: the parsed configuration, the policy compiled from
 * it and the answer parts precomputed from it, as one immutable object. The
 * engine publishes the one in force through one atomic pointer; a reload
 * builds a new one and swaps it. Everything a query needs comes from one
 * snapshot, so no reader can mix an old policy with a new answer or source
 * table.
 *
 * Lifetime: the engine holds one reference for the snapshot it publishes.
 * Unbound's workers read the published one inside a read section of the
 * policy database's epoch and take no reference; threads that keep a
 * snapshot across a wait (control commands, the transfer thread) take one
 * with tapir_runtime_ref() inside such a section. On a swap the writer
 * waits a grace period, so that every reader that saw the old one has
 * either left or holds a reference, then drops the engine's reference: the
 * last holder frees the snapshot.
 *
 * Thread safety: immutable after create; ref/unref from any thread.
 */
#ifndef TAPIR_RUNTIME_H
#define TAPIR_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "lib/answer.h"
#include "lib/config.h"
#include "lib/policy.h"

struct tapir_runtime {
	struct tapir_config *cfg;    /* owned */
	struct tapir_policy *policy; /* owned, compiled from cfg */
	struct tapir_answer_parts answer;
	uint64_t generation;	    /* 1 at load, +1 for each reload */
	_Atomic unsigned long refs; /* tapir_runtime_ref()/unref() */
};

/**
 * Build a snapshot from a configuration, with one reference.
 * @param cfg: taken, even on failure.
 * @param err: if not NULL, why it failed.
 * @return: the snapshot, or NULL (out of memory, a name with no wire
 *	form).
 */
struct tapir_runtime *tapir_runtime_create(
	struct tapir_config *cfg, uint64_t generation, struct tapir_error *err);

/** Take a reference. */
void tapir_runtime_ref(struct tapir_runtime *rt);

/** Drop a reference; the last frees. NULL is fine. */
void tapir_runtime_unref(struct tapir_runtime *rt);

#endif
