/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-query path, called by Unbound's worker threads: decide, count
 * the answer, explain it. Readers only: nothing here waits for the
 * writer.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

enum tapir_action
tapir_engine_decide(struct tapir_engine *e, const char *name, size_t len,
	struct tapir_reason *why)
{
	if (!e->cfg) {
		if (why)
			memset(why, 0, sizeof(*why));
		return TAPIR_ACTION_PASS;
	}
	return tapir_decide(cur_policy(e), e->db, name, len, e->now(), why);
}

/* The canonical form of a name met in a query of type qtype, marked
 * first when that type is one a flush by name leaves in the cache
 * (tapir__eng_rare_note(): before the database is read). @return: false for a name
 * that cannot match. */
static bool
query_name(struct tapir_engine *e, const uint8_t *wire, size_t maxlen,
	uint16_t qtype, char name[TAPIR_NAME_BUFSIZE], size_t *len)
{
	if (tapir_name_from_wire(wire, maxlen, name, len) != 0)
		return false;
	if (!tapir_purge_by_name_covers(qtype))
		tapir__eng_rare_note(e, name, *len);
	return true;
}

enum tapir_action
tapir_engine_decide_wire(struct tapir_engine *e, const uint8_t *wire,
	size_t maxlen, uint16_t qtype, struct tapir_reason *why)
{
	char name[TAPIR_NAME_BUFSIZE];
	size_t len;

	if (!query_name(e, wire, maxlen, qtype, name, &len)) {
		if (why)
			memset(why, 0, sizeof(*why));
		return TAPIR_ACTION_PASS;
	}
	return tapir_engine_decide(e, name, len, why);
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

void
tapir_engine_count_answer(struct tapir_engine *e, enum tapir_action a)
{
	count_slot(e, a);
}

enum tapir_action
tapir_engine_query(struct tapir_engine *e, const uint8_t *wire, size_t maxlen,
	uint16_t qtype)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_verdict v;
	size_t len;

	if (!e->cfg || !query_name(e, wire, maxlen, qtype, name, &len)) {
		count_slot(e, TAPIR_ACTION_PASS);
		return TAPIR_ACTION_PASS;
	}
	tapir_decide_verdict(cur_policy(e), e->db, name, len, e->now(), &v);
	count_slot(e, v.action);
	if (v.action > TAPIR_ACTION_PASSTHRU && v.rule >= 0 &&
		v.rule < TAPIR_RULE_NAMED + TAPIR_MAX_RULES)
		count_slot(e, RULE_BASE + (unsigned)v.rule);
	if (v.would_action > TAPIR_ACTION_PASSTHRU)
		count_slot(e, WOULD_BLOCK);
	return v.action;
}

void
tapir_engine_purge_wire(
	struct tapir_engine *e, const uint8_t *wire, size_t maxlen)
{
	char name[TAPIR_NAME_BUFSIZE];

	if (e->purger && tapir_name_from_wire(wire, maxlen, name, NULL) == 0)
		(void)tapir_purger_push(e->purger, name);
}

int
tapir_engine_explain_short(struct tapir_engine *e, const uint8_t *wire,
	size_t maxlen, char *text, size_t size)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_reason why;
	uint64_t seen = 0;
	size_t len, at;
	int n;

	text[0] = '\0';
	if (!e->cfg || tapir_name_from_wire(wire, maxlen, name, &len) != 0)
		return 0;
	tapir_decide(cur_policy(e), e->db, name, len, e->now(), &why);
	if (why.action <= TAPIR_ACTION_PASSTHRU)
		return 0;
	n = snprintf(text, size, "tapir-pop: rule %s; sources",
		tapir_policy_rule_name(cur_policy(e), why.rule));
	at = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < why.n_matches && i < TAPIR_REASON_MAX; i++) {
		const struct tapir_match *m = &why.matches[i];
		uint16_t src = m->e.source;
		if (m->expired || src >= e->cfg->n_sources ||
			(seen & (UINT64_C(1) << src)) || at >= size)
			continue;
		seen |= UINT64_C(1) << src;
		n = snprintf(
			text + at, size - at, " %s", e->cfg->sources[src].name);
		at += n < 0 ? 0 : (size_t)n;
	}
	/* RFC 8914: 15 Blocked (a list said so), 17 Filtered (a rule). */
	return why.rule == TAPIR_RULE_DENYLIST ? 15 : 17;
}

size_t
tapir_engine_memory(struct tapir_engine *e)
{
	return sizeof(*e) + atomic_load(&e->db_bytes);
}
