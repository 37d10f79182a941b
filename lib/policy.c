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

#include "lib/policy.h"

struct tapir_policy {
	const struct tapir_config *cfg;
	int tapir_source; /* index, or -1 when not configured */
};

static const char *const rule_names[TAPIR_RULE_COUNT] = {
	[TAPIR_RULE_NONE] = "none",
	[TAPIR_RULE_ALLOWLIST] = "allowlist",
	[TAPIR_RULE_DENYLIST] = "denylist",
	[TAPIR_RULE_NUMSOURCES] = "numsources",
	[TAPIR_RULE_NUMTAPIRTAGS] = "numtapirtags",
	[TAPIR_RULE_DENYTAPIR] = "denytapir",
};

const char *
tapir_rule_str(enum tapir_rule rule)
{
	return rule < TAPIR_RULE_COUNT ? rule_names[rule] : "unknown";
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
	return p;
}

void
tapir_policy_destroy(struct tapir_policy *p)
{
	free(p);
}

/* What the entries that apply to one name add up to. */
struct tally {
	bool allow, deny;
	uint64_t doubt_sources[TAPIR_MAX_SOURCES / 64 + 1];
	uint32_t tapir_tags;
};

static void
add_entries(const struct tapir_policy *p, struct tally *t,
	const struct tapir_entry *e, size_t n, bool subtree, uint8_t off,
	int64_t now, struct tapir_reason *why)
{
	for (size_t i = 0; i < n; i++) {
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
		if (expired)
			continue;
		switch (e[i].list) {
		case TAPIR_LIST_ALLOW:
			t->allow = true;
			break;
		case TAPIR_LIST_DENY:
			t->deny = true;
			break;
		case TAPIR_LIST_DOUBT:
			if (e[i].source < TAPIR_MAX_SOURCES)
				t->doubt_sources[e[i].source / 64] |=
					(uint64_t)1 << (e[i].source % 64);
			if ((int)e[i].source == p->tapir_source)
				t->tapir_tags |= e[i].tags;
			break;
		}
	}
}

static unsigned
popcount64(uint64_t v)
{
	return (unsigned)__builtin_popcountll(v);
}

static void
fire(enum tapir_rule rule, const struct tapir_rule_config *rc,
	enum tapir_action *action, enum tapir_rule *decided, uint32_t *fired)
{
	*fired |= 1u << rule;
	if (rc->action > *action) {
		*action = rc->action;
		*decided = rule;
	}
}

enum tapir_action
tapir_decide(const struct tapir_policy *p, struct tapir_db *db,
	const char *name, size_t len, int64_t now, struct tapir_reason *why)
{
	const struct tapir_config *cfg = p->cfg;
	struct tally t = { 0 };
	enum tapir_action action = TAPIR_ACTION_PASS;
	enum tapir_rule rule = TAPIR_RULE_NONE;
	uint32_t fired = 0;
	unsigned nsrc = 0;
	const struct tapir_entry *e;
	size_t n;
	unsigned tok;

	if (why)
		memset(why, 0, offsetof(struct tapir_reason, matches));
	tok = tapir_db_read_begin(db);
	if ((e = tapir_db_find(db, name, len, &n)))
		add_entries(p, &t, e, n, false, 0, now, why);
	if (tapir_db_has_subtree(db)) {
		/* Walk the ancestors: "a.b.c" → "b.c" → "c". */
		for (size_t i = 0; i < len; i++) {
			if (name[i] != '.')
				continue;
			if ((e = tapir_db_find(
				     db, name + i + 1, len - i - 1, &n)))
				add_entries(p, &t, e, n, true, (uint8_t)(i + 1),
					now, why);
		}
	}
	tapir_db_read_end(db, tok);

	for (size_t i = 0; i < sizeof(t.doubt_sources) / 8; i++)
		nsrc += popcount64(t.doubt_sources[i]);
	if (t.allow) {
		action = TAPIR_ACTION_PASSTHRU;
		rule = TAPIR_RULE_ALLOWLIST;
		fired = 1u << rule;
	} else if (t.deny) {
		action = cfg->policy.denylist_action;
		rule = TAPIR_RULE_DENYLIST;
		fired = 1u << rule;
	} else if (nsrc) {
		const struct tapir_rule_config *r;
		r = &cfg->policy.numsources;
		if (r->enabled && nsrc >= r->limit)
			fire(TAPIR_RULE_NUMSOURCES, r, &action, &rule, &fired);
		r = &cfg->policy.numtapirtags;
		if (r->enabled &&
			(unsigned)__builtin_popcount(t.tapir_tags) >= r->limit)
			fire(TAPIR_RULE_NUMTAPIRTAGS, r, &action, &rule,
				&fired);
		r = &cfg->policy.denytapir;
		if (r->enabled && (t.tapir_tags & r->tags))
			fire(TAPIR_RULE_DENYTAPIR, r, &action, &rule, &fired);
	}
	if (why) {
		why->action = action;
		why->rule = rule;
		why->fired = fired;
		why->doubt_sources = nsrc;
		why->tapir_tags = t.tapir_tags;
	}
	return action;
}

static size_t append(char *buf, size_t size, size_t at, const char *fmt, ...)
	TAPIR_PRINTF(4, 5);

static size_t
append(char *buf, size_t size, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at >= size)
		return at;
	va_start(ap, fmt);
	n = vsnprintf(buf + at, size - at, fmt, ap);
	va_end(ap);
	if (n < 0)
		return at;
	return at + (size_t)n >= size ? size - 1 : at + (size_t)n;
}

static size_t
format_tags(const struct tapir_config *cfg, uint32_t tags, char *buf,
	size_t size, size_t at)
{
	bool first = true;

	if (!tags)
		return append(buf, size, at, "none");
	for (int b = 0; b < 32; b++) {
		if (!(tags & (1u << b)))
			continue;
		if (cfg->tag_names[b])
			at = append(buf, size, at, "%s%s", first ? "" : ",",
				cfg->tag_names[b]);
		else
			at = append(
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
	at = append(buf, size, at, "name: %s\naction: %s\nrule: %s\n", name,
		tapir_action_str(why->action), tapir_rule_str(why->rule));
	at = append(buf, size, at, "fired:");
	for (int r = 1; r < TAPIR_RULE_COUNT; r++)
		if (why->fired & (1u << r))
			at = append(buf, size, at, " %s", tapir_rule_str(r));
	at = append(buf, size, at, "%s\ndoubt-sources: %u\ntapir-tags: ",
		why->fired ? "" : " none", why->doubt_sources);
	at = format_tags(cfg, why->tapir_tags, buf, size, at);
	at = append(buf, size, at, "\nentries: %zu\n", why->n_matches);
	shown = why->n_matches < TAPIR_REASON_MAX ? why->n_matches
						  : TAPIR_REASON_MAX;
	for (size_t i = 0; i < shown; i++) {
		const struct tapir_match *m = &why->matches[i];
		const char *src = m->e.source < cfg->n_sources
					  ? cfg->sources[m->e.source].name
					  : "?";
		at = append(buf, size, at,
			"entry: %s%s source=%s list=%s tags=",
			(m->e.flags & TAPIR_ENTRY_SUBTREE) ? "*." : "",
			name + m->owner_off, src, tapir_list_str(m->e.list));
		at = format_tags(cfg, m->e.tags, buf, size, at);
		if (m->e.expiry == TAPIR_EXPIRY_NEVER)
			at = append(buf, size, at, " expires=never");
		else
			at = append(buf, size, at, " expires-in=%llds%s",
				(long long)m->e.expiry - (long long)now,
				m->expired ? " (expired)" : "");
		at = append(buf, size, at, "\n");
	}
	return at;
}
