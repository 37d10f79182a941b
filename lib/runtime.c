/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime snapshot (lib/runtime.h): built whole or not at all, freed
 * by its last holder.
 */
#include "tapir_build.h"

#include <stdlib.h>

#include "lib/runtime.h"

struct tapir_runtime *
tapir_runtime_create(
	struct tapir_config *cfg, uint64_t generation, struct tapir_error *err)
{
	struct tapir_runtime *rt;

	if (!cfg) {
		tapir_error_set(err, TAPIR_EINVAL, 0, "no configuration");
		return NULL;
	}
	if (!(rt = calloc(1, sizeof(*rt)))) {
		tapir_config_destroy(cfg);
		tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		return NULL;
	}
	rt->cfg = cfg;
	rt->generation = generation;
	atomic_init(&rt->refs, 1);
	if (tapir_answer_parts_init(&rt->answer, cfg) != 0) {
		tapir_error_set(err, TAPIR_ENAME, 0,
			"answer: the SOA or redirect names have no wire form");
		tapir_runtime_unref(rt);
		return NULL;
	}
	if (!(rt->policy = tapir_policy_create(cfg))) {
		tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		tapir_runtime_unref(rt);
		return NULL;
	}
	return rt;
}

void
tapir_runtime_ref(struct tapir_runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

void
tapir_runtime_unref(struct tapir_runtime *rt)
{
	if (!rt || atomic_fetch_sub_explicit(
			   &rt->refs, 1, memory_order_acq_rel) != 1)
		return;
	tapir_policy_destroy(rt->policy);
	tapir_config_destroy(rt->cfg);
	free(rt);
}
