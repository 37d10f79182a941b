/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-query path, called by Unbound's worker threads: one evaluation
 * of the policy, the answer planned from it, the answer counted. Readers
 * only: nothing here waits for the writer, and everything comes from the
 * one runtime snapshot loaded at the start of the read section.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

enum tapir_action
tapir_engine_decide(struct tapir_engine *e, const char *name, size_t len,
	struct tapir_reason *why)
{
	struct tapir_runtime *rt;
	enum tapir_action a = TAPIR_ACTION_PASS;
	tapir_epoch_token tok;

	if (!(rt = tapir__eng_rt_enter(e, &tok))) {
		if (why)
			memset(why, 0, sizeof(*why));
		return a;
	}
	a = tapir_decide(rt->policy, e->db, name, len, e->now(), why);
	tapir__eng_rt_exit(e, tok);
	return a;
}

/* Each thread keeps its answer counters on a line of its own. */
static _Atomic unsigned next_answer_slot;
static __thread unsigned my_answer_slot_plus1;

static void
count_slot(struct tapir_engine *e, unsigned what)
{
	if (!my_answer_slot_plus1)
		my_answer_slot_plus1 =
			atomic_fetch_add(&next_answer_slot, 1) % ANSWER_SLOTS +
			1;
	atomic_fetch_add_explicit(&e->answers[my_answer_slot_plus1 - 1].n[what],
		1, memory_order_relaxed);
}

_Static_assert(TAPIR_MAX_SOURCES <= 64,
	"a source's answer counter is a bit of the verdict's 64-bit sources");

static void
count_verdict(struct tapir_engine *e, const struct tapir_verdict *v)
{
	count_slot(e, v->action);
	if (v->action > TAPIR_ACTION_PASSTHRU && v->rule >= 0 &&
		v->rule < TAPIR_RULE_NAMED + TAPIR_MAX_RULES)
		count_slot(e, RULE_BASE + (unsigned)v->rule);
	if (v->would_action > TAPIR_ACTION_PASSTHRU)
		count_slot(e, WOULD_BLOCK);
	/* Each source whose entries counted: none for a name in no list
	 * (the common pass), a few bits otherwise. */
	for (uint64_t s = v->sources; s; s &= s - 1)
		count_slot(e, SOURCE_BASE + (unsigned)__builtin_ctzll(s));
}

enum tapir_action
tapir_engine_query(struct tapir_engine *e, const uint8_t *wire, size_t maxlen,
	uint16_t qtype, unsigned flags, struct tapir_answer *a)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_verdict v = { .action = TAPIR_ACTION_PASS };
	struct tapir_runtime *rt;
	tapir_epoch_token tok;
	size_t len;

	a->action = TAPIR_ACTION_PASS;
	a->kind = TAPIR_ANSWER_RESOLVE;
	if (tapir_name_from_wire(wire, maxlen, name, &len) != 0) {
		/* A name that cannot be written canonically cannot match. */
		if (!(flags & TAPIR_QUERY_CHAIN))
			count_slot(e, TAPIR_ACTION_PASS);
		return TAPIR_ACTION_PASS;
	}
	/* Marked before the database is read: see tapir__eng_rare_note(). */
	if (flags & TAPIR_QUERY_RARE_TYPE)
		tapir__eng_rare_note(e, name, len);
	if (!(rt = tapir__eng_rt_enter(e, &tok))) {
		if (!(flags & TAPIR_QUERY_CHAIN))
			count_slot(e, TAPIR_ACTION_PASS);
		return TAPIR_ACTION_PASS;
	}
	tapir_decide_verdict(rt->policy, e->db, name, len, e->now(), &v);
	if (v.action > TAPIR_ACTION_PASSTHRU)
		tapir_answer_plan(
			rt, &v, qtype, (flags & TAPIR_QUERY_EXPLAIN) != 0, a);
	else
		a->action = v.action;
	tapir__eng_rt_exit(e, tok);
	/* A chain name's query was counted when it passed: only a block
	 * of the chain is an answer of its own. */
	if (!(flags & TAPIR_QUERY_CHAIN) || v.action > TAPIR_ACTION_PASSTHRU)
		count_verdict(e, &v);
	return v.action;
}

bool
tapir_engine_is_block_soa(
	struct tapir_engine *e, const uint8_t *rdata, size_t len)
{
	struct tapir_runtime *rt;
	tapir_epoch_token tok;
	bool ours;

	if (!(rt = tapir__eng_rt_enter(e, &tok)))
		return false;
	ours = len == rt->answer.soa_len &&
	       memcmp(rdata, rt->answer.soa, len) == 0;
	tapir__eng_rt_exit(e, tok);
	return ours;
}

void
tapir_engine_purge_wire(
	struct tapir_engine *e, const uint8_t *wire, size_t maxlen)
{
	char name[TAPIR_NAME_BUFSIZE];

	if (e->purger && tapir_name_from_wire(wire, maxlen, name, NULL) == 0)
		(void)tapir_purger_push(e->purger, name);
}

size_t
tapir_engine_memory(struct tapir_engine *e)
{
	return sizeof(*e) + atomic_load(&e->db_bytes);
}
