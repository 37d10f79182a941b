/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * decide(): the only decision function. The query path, the control
 * socket's lookup and every export call it, so what is enforced and what is
 * explained cannot disagree.
 *
 * Semantics (upstream TAPIR-POP, github.com/dnstapir/pop): an entry that
 * applies to a name is an exact entry of the name or a subtree entry of one
 * of its ancestors, not expired at `now` (expiry is exact to the second).
 *  1. any allowlist entry → PASSTHRU (never filtered);
 *  2. else any denylist entry → the denylist action;
 *  3. else doubtlist rules, every one that fires counts, the most
 *     restrictive action wins (DROP > NXDOMAIN > NODATA > REDIRECT):
 *     numsources (distinct doubtlist sources ≥ limit), numtapirtags (tag
 *     bits of the TAPIR source's entries ≥ limit), denytapir (the TAPIR
 *     source's entries have any of the listed tags);
 *  4. else PASS.
 * Extensions: an entry may carry its own action (RPZ records): PASSTHRU
 * then counts as an allowlist entry, a blocking action replaces the
 * denylist's. Named rules (policy.rules) are evaluated whenever no
 * allowlist entry applies, together with step 2 or 3, and the most
 * restrictive fired action wins. A log-only rule, or every rule under
 * policy.log-only, is evaluated and reported as "would" but changes
 * nothing.
 *
 * Thread safety: a policy is immutable once created and may be used by any
 * number of threads; tapir_decide() is a reader of the database.
 */
#ifndef TAPIR_POLICY_H
#define TAPIR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/db.h"
#include "lib/tapir.h"
#include "lib/vocab.h"

struct tapir_config;

enum tapir_rule {
	TAPIR_RULE_NONE = 0,
	TAPIR_RULE_ALLOWLIST,
	TAPIR_RULE_DENYLIST,
	TAPIR_RULE_NUMSOURCES,
	TAPIR_RULE_NUMTAPIRTAGS,
	TAPIR_RULE_DENYTAPIR,
	TAPIR_RULE_COUNT,
};

/* Named rule i of the configuration is rule TAPIR_RULE_NAMED + i. */
#define TAPIR_RULE_NAMED 8

/** Name of a built-in rule ("allowlist", "numtapirtags", ...). */
const char *tapir_rule_str(enum tapir_rule rule);

/* Entries an explanation keeps; more are counted but not listed. */
#define TAPIR_REASON_MAX 32

struct tapir_match {
	uint8_t owner_off; /* the entry's owner is name + owner_off */
	bool expired;	   /* listed for the explanation, not applied */
	struct tapir_entry e;
};

/* The decision without the entries: what the query path needs. */
struct tapir_verdict {
	enum tapir_action action;	/* enforced */
	int rule;			/* the rule that decided it */
	enum tapir_action would_action; /* from log-only rules, if stronger */
	int would_rule;
	/* Bit (1 << source) of every source whose unexpired entries counted
	 * in the decision (entries of log-only sources do not). */
	uint64_t sources;
};

struct tapir_reason {
	enum tapir_action action;
	enum tapir_rule
		rule;	/* the rule that decided (or TAPIR_RULE_NAMED+i) */
	uint64_t fired; /* bit (1 << rule) for every rule that fired */
	uint64_t would_fired;		/* the same for log-only rules */
	enum tapir_action would_action; /* what log-only rules would do */
	int would_rule;
	unsigned doubt_sources;
	uint32_t tapir_tags; /* union of the TAPIR source's tag bits */
	size_t n_matches;    /* entries found, expired ones included */
	struct tapir_match matches[TAPIR_REASON_MAX];
};

struct tapir_policy;

/**
 * Compile a policy from a configuration.
 * @param cfg: borrowed; must outlive the policy.
 * @return: the policy (owned by the caller) or NULL on allocation failure.
 */
struct tapir_policy *tapir_policy_create(const struct tapir_config *cfg);

/** Free a policy; NULL is fine. */
void tapir_policy_destroy(struct tapir_policy *p);

/**
 * Decide for a canonical name.
 * @param db: read inside a read section taken here.
 * @param name, len: canonical name (lib/name.h).
 * @param now: seconds since the epoch.
 * @param why: if not NULL, filled with the full reason (slower).
 * @return: the action; TAPIR_ACTION_PASS when nothing applies.
 */
enum tapir_action tapir_decide(const struct tapir_policy *p,
	struct tapir_db *db, const char *name, size_t len, int64_t now,
	struct tapir_reason *why);

/**
 * Decide, and tell what log-only rules would have done. Same cost as
 * tapir_decide() without a reason.
 */
void tapir_decide_verdict(const struct tapir_policy *p, struct tapir_db *db,
	const char *name, size_t len, int64_t now, struct tapir_verdict *v);

/** Name of rule r of this policy: built-in or named. */
const char *tapir_policy_rule_name(const struct tapir_policy *p, int rule);

/**
 * Write a reason as text lines ("key: value"), for operators.
 * @return: bytes written (without NUL), truncated to size.
 */
size_t tapir_reason_format(const struct tapir_policy *p, const char *name,
	const struct tapir_reason *why, int64_t now, char *buf, size_t size);

#endif
