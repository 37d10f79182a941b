/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy evaluation. The fast path (why == NULL) touches each applying
 * entry once, allocates nothing and returns as soon as the answer is known;
 * the explaining path walks the same entries and records them. Both run the
 * same evaluate(), so they cannot disagree.
 */
#include "tapir_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/policy.h"

struct tapir_policy {
	const struct tapir_config *cfg;
	int tapir_source;	   /* index, or -1 when not configured */
	uint64_t log_only_sources; /* sources whose entries only count */
};

static const char *const rule_names[TAPIR_RULE_COUNT] = {
	[TAPIR_RULE_NONE] = "none",
	[TAPIR_RULE_ALLOWLIST] = "allowlist",
	[TAPIR_RULE_DENYLIST] = "denylist",
	[TAPIR_RULE_NUMSOURCES] = "numsources",
	[TAPIR_RULE_NUMTAPIRTAGS] = "numtapirtags",
	[TAPIR_RULE_DENYTAPIR] = "denytapir",
};

static const struct tapir_vocab rules = { rule_names, TAPIR_VOCAB_N(rule_names),
	false, "unknown" };

const char *
tapir_rule_str(enum tapir_rule rule)
{
	return tapir_vocab_name(&rules, (int)rule);
}

struct tapir_policy *
tapir_policy_create(const struct tapir_config *cfg)
{
	struct tapir_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = cfg;
	p->tapir_source =
		tapir_config_source_index(cfg, cfg->policy.tapir_source);
	for (size_t i = 0; i < cfg->n_sources && i < 64; i++)
		if (cfg->sources[i].log_only)
			p->log_only_sources |= UINT64_C(1) << i;
	return p;
}

void
tapir_policy_destroy(struct tapir_policy *p)
{
	free(p);
}

/* What the entries that apply to one name add up to. */
struct tally {
	bool allow;
	enum tapir_action deny; /* strongest denylist action, PASS if none */
	uint64_t doubt_sources;
	uint32_t tapir_tags;
	uint8_t lists; /* 1 << list of every applying entry */
	/* Tags per source, for named rules: valid where src_seen has the
	 * source's bit (so nothing needs clearing per query). */
	uint64_t src_seen;
	uint32_t src_tags[TAPIR_MAX_SOURCES];
};

static void
add_entries(const struct tapir_policy *p, struct tally *t,
	const struct tapir_entry *e, size_t n, bool subtree, uint8_t off,
	int64_t now, struct tapir_reason *why, uint64_t skip)
{
	const struct tapir_config *cfg = p->cfg;

	for (size_t i = 0; i < n; i++) {
		unsigned own = TAPIR_ENTRY_ACTION(e[i].flags);
		uint64_t bit;
		bool expired;
		if (((e[i].flags & TAPIR_ENTRY_SUBTREE) != 0) != subtree)
			continue;
		expired = (int64_t)e[i].expiry <= now;
		if (why && why->n_matches++ < TAPIR_REASON_MAX) {
			struct tapir_match *m =
				&why->matches[why->n_matches - 1];
			m->owner_off = off;
			m->expired = expired;
			m->e = e[i];
		}
		if (expired || e[i].source >= TAPIR_MAX_SOURCES)
			continue;
		bit = UINT64_C(1) << e[i].source;
		if (skip & bit)
			continue;
		t->lists |= (uint8_t)(1u << e[i].list);
		if (t->src_seen & bit) {
			t->src_tags[e[i].source] |= e[i].tags;
		} else {
			t->src_seen |= bit;
			t->src_tags[e[i].source] = e[i].tags;
		}
		if (e[i].list == TAPIR_LIST_ALLOW ||
			own == TAPIR_ACTION_PASSTHRU) {
			t->allow = true;
		} else if (e[i].list == TAPIR_LIST_DENY) {
			enum tapir_action a =
				own > TAPIR_ACTION_PASSTHRU
					? (enum tapir_action)own
					: cfg->policy.denylist_action;
			if (a > t->deny)
				t->deny = a;
		} else if (e[i].list == TAPIR_LIST_DOUBT) {
			t->doubt_sources |= bit;
			if ((int)e[i].source == p->tapir_source)
				t->tapir_tags |= e[i].tags;
		}
	}
}

static unsigned
popcount64(uint64_t v)
{
	return (unsigned)__builtin_popcountll(v);
}

struct outcome {
	enum tapir_action action, would_action;
	int rule, would_rule;
	uint64_t fired, would_fired;
};

static void
fire(struct outcome *o, int rule, enum tapir_action action, bool log_only)
{
	if (log_only) {
		o->would_fired |= UINT64_C(1) << rule;
		if (action > o->would_action) {
			o->would_action = action;
			o->would_rule = rule;
		}
		return;
	}
	o->fired |= UINT64_C(1) << rule;
	if (action > o->action) {
		o->action = action;
		o->rule = rule;
	}
}

static bool
named_rule_fires(const struct tapir_policy *p, const struct tally *t,
	const struct tapir_named_rule *r)
{
	if (r->sources_min) {
		uint64_t m = r->sources_mask ? r->sources_mask : ~UINT64_C(0);
		if (popcount64(t->doubt_sources & m) < r->sources_min)
			return false;
	}
	if (r->tags_min || r->tags_all || r->tags_any || r->tags_none) {
		uint64_t from = r->tags_from;
		uint32_t tags = 0;
		if (!from && p->tapir_source >= 0)
			from = UINT64_C(1) << p->tapir_source;
		from &= t->src_seen;
		while (from) {
			int s = __builtin_ctzll(from);
			tags |= t->src_tags[s];
			from &= from - 1;
		}
		if (r->tags_min &&
			(unsigned)__builtin_popcount(tags) < r->tags_min)
			return false;
		if ((tags & r->tags_all) != r->tags_all)
			return false;
		if (r->tags_any && !(tags & r->tags_any))
			return false;
		if (tags & r->tags_none)
			return false;
	}
	if (r->lists && !(t->lists & r->lists))
		return false;
	return true;
}

static void
tally_clear(struct tally *t)
{
	t->allow = false;
	t->deny = TAPIR_ACTION_PASS;
	t->doubt_sources = 0;
	t->tapir_tags = 0;
	t->lists = 0;
	t->src_seen = 0;
}

/* The entries of a name and its ancestors into t (and, with log-only
 * sources, all of them into shadow as well). */
static void
collect(const struct tapir_policy *p, struct tapir_db *db, const char *name,
	size_t len, int64_t now, struct tapir_reason *why, struct tally *t,
	struct tally *shadow)
{
	uint64_t skip = p->log_only_sources;
	const struct tapir_entry *e;
	size_t n;
	tapir_epoch_token tok;

	tok = tapir_db_read_begin(db);
	if ((e = tapir_db_find(db, name, len, &n))) {
		add_entries(p, t, e, n, false, 0, now, why, skip);
		if (shadow)
			add_entries(p, shadow, e, n, false, 0, now, NULL, 0);
	}
	if (tapir_db_has_subtree(db)) {
		/* Walk the ancestors: "a.b.c" → "b.c" → "c". */
		for (size_t i = 0; i < len; i++) {
			if (name[i] != '.')
				continue;
			if (!(e = tapir_db_find(
				      db, name + i + 1, len - i - 1, &n)))
				continue;
			add_entries(p, t, e, n, true, (uint8_t)(i + 1), now,
				why, skip);
			if (shadow)
				add_entries(p, shadow, e, n, true,
					(uint8_t)(i + 1), now, NULL, 0);
		}
	}
	tapir_db_read_end(db, tok);
}

/* The rules over a tally. */
static void
judge(const struct tapir_policy *p, const struct tally *t, struct outcome *o)
{
	const struct tapir_config *cfg = p->cfg;
	bool log_all = cfg->policy.log_only;

	memset(o, 0, sizeof(*o));
	if (t->allow) {
		/* Absolute: nothing else is even evaluated. */
		o->action = TAPIR_ACTION_PASSTHRU;
		o->rule = TAPIR_RULE_ALLOWLIST;
		o->fired = UINT64_C(1) << TAPIR_RULE_ALLOWLIST;
		return;
	}
	if (t->deny != TAPIR_ACTION_PASS) {
		fire(o, TAPIR_RULE_DENYLIST, t->deny, log_all);
	} else if (t->doubt_sources) {
		const struct tapir_rule_config *r;
		unsigned nsrc = popcount64(t->doubt_sources);
		r = &cfg->policy.numsources;
		if (r->enabled && nsrc >= r->limit)
			fire(o, TAPIR_RULE_NUMSOURCES, r->action, log_all);
		r = &cfg->policy.numtapirtags;
		if (r->enabled &&
			(unsigned)__builtin_popcount(t->tapir_tags) >= r->limit)
			fire(o, TAPIR_RULE_NUMTAPIRTAGS, r->action, log_all);
		r = &cfg->policy.denytapir;
		if (r->enabled && (t->tapir_tags & r->tags))
			fire(o, TAPIR_RULE_DENYTAPIR, r->action, log_all);
	}
	if (t->src_seen) {
		for (size_t i = 0; i < cfg->policy.n_rules; i++) {
			const struct tapir_named_rule *r =
				&cfg->policy.rules[i];
			if (named_rule_fires(p, t, r))
				fire(o, TAPIR_RULE_NAMED + (int)i, r->action,
					log_all || r->log_only);
		}
	}
}

/*
 * The one evaluation behind every entry point. Entries of log-only
 * sources are left out of the decision; when there are any, the decision
 * with them is made too, and reported as what would happen.
 */
static void
evaluate(const struct tapir_policy *p, struct tapir_db *db, const char *name,
	size_t len, int64_t now, struct tapir_reason *why, struct tally *t,
	struct outcome *o)
{
	struct tally shadow;
	struct outcome so;

	tally_clear(t);
	if (!p->log_only_sources) {
		collect(p, db, name, len, now, why, t, NULL);
		judge(p, t, o);
		return;
	}
	tally_clear(&shadow);
	collect(p, db, name, len, now, why, t, &shadow);
	judge(p, t, o);
	judge(p, &shadow, &so);
	if (so.action > o->action && so.action > o->would_action) {
		o->would_action = so.action;
		o->would_rule = so.rule;
	}
	if (so.action > o->action)
		o->would_fired |= so.fired & ~o->fired;
	o->would_fired |= so.would_fired;
}

enum tapir_action
tapir_decide(const struct tapir_policy *p, struct tapir_db *db,
	const char *name, size_t len, int64_t now, struct tapir_reason *why)
{
	struct tally t;
	struct outcome o;

	if (why)
		memset(why, 0, offsetof(struct tapir_reason, matches));
	evaluate(p, db, name, len, now, why, &t, &o);
	if (why) {
		why->action = o.action;
		why->rule = (enum tapir_rule)o.rule;
		why->fired = o.fired;
		why->would_fired = o.would_fired;
		why->would_action = o.would_action;
		why->would_rule = o.would_rule;
		why->doubt_sources = popcount64(t.doubt_sources);
		why->tapir_tags = t.tapir_tags;
	}
	return o.action;
}

void
tapir_decide_verdict(const struct tapir_policy *p, struct tapir_db *db,
	const char *name, size_t len, int64_t now, struct tapir_verdict *v)
{
	struct tally t;
	struct outcome o;

	evaluate(p, db, name, len, now, NULL, &t, &o);
	v->action = o.action;
	v->rule = o.rule;
	v->would_action =
		o.would_action > o.action ? o.would_action : TAPIR_ACTION_PASS;
	v->would_rule = o.would_rule;
	v->sources = t.src_seen;
}

const char *
tapir_policy_rule_name(const struct tapir_policy *p, int rule)
{
	if (rule >= TAPIR_RULE_NAMED &&
		(size_t)(rule - TAPIR_RULE_NAMED) < p->cfg->policy.n_rules)
		return p->cfg->policy.rules[rule - TAPIR_RULE_NAMED].name;
	return tapir_rule_str((enum tapir_rule)rule);
}

static size_t
format_tags(const struct tapir_config *cfg, uint32_t tags, char *buf,
	size_t size, size_t at)
{
	bool first = true;

	if (!tags)
		return tapir_strappend(buf, size, at, "none");
	for (int b = 0; b < 32; b++) {
		if (!(tags & (1u << b)))
			continue;
		if (cfg->tag_names[b])
			at = tapir_strappend(buf, size, at, "%s%s",
				first ? "" : ",", cfg->tag_names[b]);
		else
			at = tapir_strappend(
				buf, size, at, "%sbit%d", first ? "" : ",", b);
		first = false;
	}
	return at;
}

size_t
tapir_reason_format(const struct tapir_policy *p, const char *name,
	const struct tapir_reason *why, int64_t now, char *buf, size_t size)
{
	const struct tapir_config *cfg = p->cfg;
	size_t at = 0, shown;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	at = tapir_strappend(buf, size, at, "name: %s\naction: %s\nrule: %s\n",
		name, tapir_action_str(why->action),
		tapir_policy_rule_name(p, why->rule));
	at = tapir_strappend(buf, size, at, "fired:");
	for (int r = 1; r < 64; r++)
		if (why->fired & (UINT64_C(1) << r))
			at = tapir_strappend(buf, size, at, " %s",
				tapir_policy_rule_name(p, r));
	at = tapir_strappend(buf, size, at, "%s\n", why->fired ? "" : " none");
	if (why->would_fired) {
		at = tapir_strappend(buf, size, at,
			"log-only: would %s (rule %s); fired:",
			tapir_action_str(why->would_action),
			tapir_policy_rule_name(p, why->would_rule));
		for (int r = 1; r < 64; r++)
			if (why->would_fired & (UINT64_C(1) << r))
				at = tapir_strappend(buf, size, at, " %s",
					tapir_policy_rule_name(p, r));
		at = tapir_strappend(buf, size, at, "\n");
	}
	at = tapir_strappend(buf, size, at,
		"doubt-sources: %u\ntapir-tags: ", why->doubt_sources);
	at = format_tags(cfg, why->tapir_tags, buf, size, at);
	at = tapir_strappend(buf, size, at, "\nentries: %zu\n", why->n_matches);
	shown = why->n_matches < TAPIR_REASON_MAX ? why->n_matches
						  : TAPIR_REASON_MAX;
	for (size_t i = 0; i < shown; i++) {
		const struct tapir_match *m = &why->matches[i];
		const char *src = m->e.source < cfg->n_sources
					  ? cfg->sources[m->e.source].name
					  : "?";
		at = tapir_strappend(buf, size, at,
			"entry: %s%s source=%s list=%s tags=",
			(m->e.flags & TAPIR_ENTRY_SUBTREE) ? "*." : "",
			name + m->owner_off, src, tapir_list_str(m->e.list));
		if (TAPIR_ENTRY_ACTION(m->e.flags))
			at = tapir_strappend(buf, size, at, "%s action=%s", "",
				tapir_action_str(
					TAPIR_ENTRY_ACTION(m->e.flags)));
		at = format_tags(cfg, m->e.tags, buf, size, at);
		if (m->e.expiry == TAPIR_EXPIRY_NEVER)
			at = tapir_strappend(buf, size, at, " expires=never");
		else
			at = tapir_strappend(buf, size, at,
				" expires-in=%llds%s",
				(long long)m->e.expiry - (long long)now,
				m->expired ? " (expired)" : "");
		at = tapir_strappend(buf, size, at, "\n");
	}
	return at;
}
