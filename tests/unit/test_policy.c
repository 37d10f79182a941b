/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/policy.c: upstream TAPIR-POP's decision matrix, one
 * named cmocka test per row (allowlist > denylist > doubtlist rules, the
 * numsources / numtapirtags / denytapir limits, tags that count only from
 * the TAPIR source), expiry exact to the second, subtree entries, the
 * reason and its text, and properties: the decision does not depend on the
 * order entries were inserted, and the fast and explaining paths agree.
 *
 * The configuration is built by hand, without owned pointers, so it is
 * never passed to tapir_config_destroy().
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/msg.h"
#include "lib/policy.h"

#define NOW   1700000000
#define LATER (NOW + 3600)

/* Sources of the test configuration. */
enum {
	S_TAPIR = 0, /* "dns-tapir", doubtlist: its tags feed the rules */
	S_DOUBT_B,
	S_DOUBT_C,
	S_DENY_A,
	S_DENY_B,
	S_ALLOW_A,
	N_SRC,
};

/* Tag bits, older POP names. */
#define NEWNAME (1u << 0)
#define HIGHVOL (1u << 1)
#define BADIP	(1u << 2)
#define CDN	(1u << 3)
#define MALWARE (1u << 4)
#define BOTNET	(1u << 5)

#define BIT(r) (1u << (r))

struct fixture {
	struct tapir_config cfg;
	struct tapir_policy *p;
	struct tapir_db *db;
	const void *param; /* a matrix row, for the row tests */
};

static void
add_source(struct tapir_config *cfg, const char *name, enum tapir_list list)
{
	struct tapir_source_config *s = &cfg->sources[cfg->n_sources++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = TAPIR_SOURCE_MQTT;
	s->list = list;
}

/*
 * Upstream's shape, with a distinct action per rule so that the deciding
 * rule is always known: the denylist action (NODATA) is less restrictive
 * than numsources (NXDOMAIN), to show that step 2 comes before step 3.
 */
static void
config_init(struct tapir_config *cfg)
{
	add_source(cfg, "dns-tapir", TAPIR_LIST_DOUBT);
	add_source(cfg, "doubt-b", TAPIR_LIST_DOUBT);
	add_source(cfg, "doubt-c", TAPIR_LIST_DOUBT);
	add_source(cfg, "deny-a", TAPIR_LIST_DENY);
	add_source(cfg, "deny-b", TAPIR_LIST_DENY);
	add_source(cfg, "allow-a", TAPIR_LIST_ALLOW);
	cfg->policy.denylist_action = TAPIR_ACTION_NODATA;
	cfg->policy.numsources = (struct tapir_rule_config){
		.enabled = true, .limit = 2, .action = TAPIR_ACTION_NXDOMAIN
	};
	cfg->policy.numtapirtags = (struct tapir_rule_config){
		.enabled = true, .limit = 3, .action = TAPIR_ACTION_DROP
	};
	cfg->policy.denytapir = (struct tapir_rule_config){ .enabled = true,
		.tags = MALWARE | BADIP,
		.action = TAPIR_ACTION_REDIRECT };
	snprintf(cfg->policy.tapir_source, sizeof(cfg->policy.tapir_source),
		"dns-tapir");
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->param = *state;
	config_init(&f->cfg);
	f->p = tapir_policy_create(&f->cfg);
	f->db = tapir_db_create(0);
	if (!f->p || !f->db) {
		tapir_policy_destroy(f->p);
		tapir_db_destroy(f->db);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tapir_policy_destroy(f->p);
	tapir_db_destroy(f->db);
	free(f);
	return 0;
}

/* Recompile the policy after a test changed the configuration. */
static void
reload(struct fixture *f)
{
	tapir_policy_destroy(f->p);
	f->p = tapir_policy_create(&f->cfg);
	assert_non_null(f->p);
}

static void
put(struct fixture *f, const char *name, uint16_t source, uint32_t tags,
	uint32_t expiry, uint8_t flags)
{
	struct tapir_entry e;

	memset(&e, 0, sizeof(e));
	e.source = source;
	e.list = (uint8_t)f->cfg.sources[source].list;
	e.tags = tags;
	e.expiry = expiry;
	e.added = NOW - 60;
	e.flags = flags;
	assert_int_equal(tapir_db_set(f->db, name, strlen(name), &e), 0);
}

/* Decide through both paths; they must agree. */
static enum tapir_action
decide(struct fixture *f, const char *name, int64_t now,
	struct tapir_reason *why)
{
	enum tapir_action fast =
		tapir_decide(f->p, f->db, name, strlen(name), now, NULL);
	enum tapir_action slow =
		tapir_decide(f->p, f->db, name, strlen(name), now, why);

	assert_int_equal(fast, slow);
	assert_int_equal(why->action, slow);
	return slow;
}

/* The upstream matrix: all entries are exact entries of one name. */
struct row {
	const char *name;
	size_t n;
	struct {
		uint16_t source;
		uint32_t tags;
	} e[4];
	enum tapir_action action;
	enum tapir_rule rule;
	uint32_t fired;
	unsigned doubt_sources;
	uint32_t tapir_tags;
};

static const struct row matrix[] = {
	{ "unknown name passes", 0, { { 0 } }, TAPIR_ACTION_PASS,
		TAPIR_RULE_NONE, 0, 0, 0 },
	{ "allowlist alone passes through", 1, { { S_ALLOW_A, 0 } },
		TAPIR_ACTION_PASSTHRU, TAPIR_RULE_ALLOWLIST,
		BIT(TAPIR_RULE_ALLOWLIST), 0, 0 },
	{ "allowlist beats denylist", 2, { { S_ALLOW_A, 0 }, { S_DENY_A, 0 } },
		TAPIR_ACTION_PASSTHRU, TAPIR_RULE_ALLOWLIST,
		BIT(TAPIR_RULE_ALLOWLIST), 0, 0 },
	{ "allowlist beats every firing doubt rule", 3,
		{ { S_ALLOW_A, 0 }, { S_TAPIR, 0x3f }, { S_DOUBT_B, 0 } },
		TAPIR_ACTION_PASSTHRU, TAPIR_RULE_ALLOWLIST,
		BIT(TAPIR_RULE_ALLOWLIST), 2, 0x3f },
	{ "denylist alone gives the denylist action", 1, { { S_DENY_A, 0 } },
		TAPIR_ACTION_NODATA, TAPIR_RULE_DENYLIST,
		BIT(TAPIR_RULE_DENYLIST), 0, 0 },
	{ "two denylist sources give the denylist action", 2,
		{ { S_DENY_A, 0 }, { S_DENY_B, 0 } }, TAPIR_ACTION_NODATA,
		TAPIR_RULE_DENYLIST, BIT(TAPIR_RULE_DENYLIST), 0, 0 },
	{ "denylist beats more restrictive doubt rules", 3,
		{ { S_DENY_A, 0 }, { S_TAPIR, 0x3f }, { S_DOUBT_B, 0 } },
		TAPIR_ACTION_NODATA, TAPIR_RULE_DENYLIST,
		BIT(TAPIR_RULE_DENYLIST), 2, 0x3f },
	{ "one doubt source below numsources limit passes", 1,
		{ { S_DOUBT_B, 0 } }, TAPIR_ACTION_PASS, TAPIR_RULE_NONE, 0, 1,
		0 },
	{ "tapir source alone without tags passes", 1, { { S_TAPIR, 0 } },
		TAPIR_ACTION_PASS, TAPIR_RULE_NONE, 0, 1, 0 },
	{ "two doubt sources at numsources limit fire", 2,
		{ { S_DOUBT_B, 0 }, { S_DOUBT_C, 0 } }, TAPIR_ACTION_NXDOMAIN,
		TAPIR_RULE_NUMSOURCES, BIT(TAPIR_RULE_NUMSOURCES), 2, 0 },
	{ "three doubt sources fire numsources", 3,
		{ { S_TAPIR, 0 }, { S_DOUBT_B, 0 }, { S_DOUBT_C, 0 } },
		TAPIR_ACTION_NXDOMAIN, TAPIR_RULE_NUMSOURCES,
		BIT(TAPIR_RULE_NUMSOURCES), 3, 0 },
	{ "tapir tags below numtapirtags limit pass", 1,
		{ { S_TAPIR, NEWNAME | HIGHVOL } }, TAPIR_ACTION_PASS,
		TAPIR_RULE_NONE, 0, 1, NEWNAME | HIGHVOL },
	{ "tapir tags at numtapirtags limit fire", 1,
		{ { S_TAPIR, NEWNAME | HIGHVOL | CDN } }, TAPIR_ACTION_DROP,
		TAPIR_RULE_NUMTAPIRTAGS, BIT(TAPIR_RULE_NUMTAPIRTAGS), 1,
		NEWNAME | HIGHVOL | CDN },
	{ "tapir tags above numtapirtags limit fire", 1,
		{ { S_TAPIR, NEWNAME | HIGHVOL | CDN | BOTNET } },
		TAPIR_ACTION_DROP, TAPIR_RULE_NUMTAPIRTAGS,
		BIT(TAPIR_RULE_NUMTAPIRTAGS), 1,
		NEWNAME | HIGHVOL | CDN | BOTNET },
	{ "other doubt source tags do not count for numtapirtags", 1,
		{ { S_DOUBT_B, NEWNAME | HIGHVOL | CDN | BOTNET } },
		TAPIR_ACTION_PASS, TAPIR_RULE_NONE, 0, 1, 0 },
	{ "other doubt source tags do not add to tapir tags", 2,
		{ { S_TAPIR, NEWNAME | HIGHVOL }, { S_DOUBT_B, CDN } },
		TAPIR_ACTION_NXDOMAIN, TAPIR_RULE_NUMSOURCES,
		BIT(TAPIR_RULE_NUMSOURCES), 2, NEWNAME | HIGHVOL },
	{ "other doubt source tags do not count for denytapir", 1,
		{ { S_DOUBT_B, BADIP | MALWARE } }, TAPIR_ACTION_PASS,
		TAPIR_RULE_NONE, 0, 1, 0 },
	{ "denylist source tags do not count for denytapir", 1,
		{ { S_DENY_A, BADIP | MALWARE | NEWNAME } },
		TAPIR_ACTION_NODATA, TAPIR_RULE_DENYLIST,
		BIT(TAPIR_RULE_DENYLIST), 0, 0 },
	{ "denytapir fires on badip", 1, { { S_TAPIR, BADIP } },
		TAPIR_ACTION_REDIRECT, TAPIR_RULE_DENYTAPIR,
		BIT(TAPIR_RULE_DENYTAPIR), 1, BADIP },
	{ "denytapir fires on likelymalware", 1, { { S_TAPIR, MALWARE } },
		TAPIR_ACTION_REDIRECT, TAPIR_RULE_DENYTAPIR,
		BIT(TAPIR_RULE_DENYTAPIR), 1, MALWARE },
	{ "denytapir fires on any of its tags", 1,
		{ { S_TAPIR, MALWARE | BADIP } }, TAPIR_ACTION_REDIRECT,
		TAPIR_RULE_DENYTAPIR, BIT(TAPIR_RULE_DENYTAPIR), 1,
		MALWARE | BADIP },
	{ "denytapir ignores unlisted tags", 1, { { S_TAPIR, NEWNAME | CDN } },
		TAPIR_ACTION_PASS, TAPIR_RULE_NONE, 0, 1, NEWNAME | CDN },
	{ "numsources beats denytapir", 2,
		{ { S_TAPIR, BADIP }, { S_DOUBT_B, 0 } }, TAPIR_ACTION_NXDOMAIN,
		TAPIR_RULE_NUMSOURCES,
		BIT(TAPIR_RULE_NUMSOURCES) | BIT(TAPIR_RULE_DENYTAPIR), 2,
		BADIP },
	{ "most restrictive of three fired rules wins", 2,
		{ { S_TAPIR, BADIP | NEWNAME | CDN }, { S_DOUBT_B, 0 } },
		TAPIR_ACTION_DROP, TAPIR_RULE_NUMTAPIRTAGS,
		BIT(TAPIR_RULE_NUMSOURCES) | BIT(TAPIR_RULE_NUMTAPIRTAGS) |
			BIT(TAPIR_RULE_DENYTAPIR),
		2, BADIP | NEWNAME | CDN },
};

#define N_ROWS (sizeof(matrix) / sizeof(matrix[0]))

static void
test_matrix_row(void **state)
{
	struct fixture *f = *state;
	const struct row *r = f->param;
	struct tapir_reason why;

	for (size_t i = 0; i < r->n; i++)
		put(f, "x.example", r->e[i].source, r->e[i].tags, LATER, 0);
	assert_int_equal(decide(f, "x.example", NOW, &why), r->action);
	assert_int_equal(why.rule, r->rule);
	assert_int_equal(why.fired, r->fired);
	assert_int_equal(why.doubt_sources, r->doubt_sources);
	assert_int_equal(why.tapir_tags, r->tapir_tags);
	assert_int_equal(why.n_matches, r->n);
}

static void
test_disabled_rules_never_fire(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	f->cfg.policy.numsources.enabled = false;
	f->cfg.policy.numtapirtags.enabled = false;
	f->cfg.policy.denytapir.enabled = false;
	reload(f);
	put(f, "x.example", S_TAPIR, 0x3f, LATER, 0);
	put(f, "x.example", S_DOUBT_B, 0, LATER, 0);
	put(f, "x.example", S_DOUBT_C, 0, LATER, 0);
	assert_int_equal(decide(f, "x.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.fired, 0);
	assert_int_equal(why.doubt_sources, 3);
}

static void
test_without_tapir_source_tags_never_count(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	snprintf(f->cfg.policy.tapir_source, sizeof(f->cfg.policy.tapir_source),
		"not-configured");
	reload(f);
	put(f, "x.example", S_TAPIR, 0x3f, LATER, 0);
	assert_int_equal(decide(f, "x.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.tapir_tags, 0);
}

static void
test_most_restrictive_fired_action_wins(void **state)
{
	struct fixture *f = *state;
	static const enum tapir_action acts[] = { TAPIR_ACTION_REDIRECT,
		TAPIR_ACTION_NODATA, TAPIR_ACTION_NXDOMAIN, TAPIR_ACTION_DROP };
	const size_t n = sizeof(acts) / sizeof(acts[0]);
	struct tapir_reason why;

	/* Fires numsources and denytapir on one name, and numtapirtags and
	 * denytapir on another, for every pair of distinct actions. */
	put(f, "two.example", S_TAPIR, BADIP, LATER, 0);
	put(f, "two.example", S_DOUBT_B, 0, LATER, 0);
	put(f, "tags.example", S_TAPIR, BADIP | NEWNAME | CDN, LATER, 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			enum tapir_action a = acts[i], b = acts[j];
			enum tapir_action max = a > b ? a : b;
			if (i == j)
				continue;
			f->cfg.policy.numsources.action = a;
			f->cfg.policy.numtapirtags.action = a;
			f->cfg.policy.denytapir.action = b;
			reload(f);
			assert_int_equal(
				decide(f, "two.example", NOW, &why), max);
			assert_int_equal(
				why.rule, max == a ? TAPIR_RULE_NUMSOURCES
						   : TAPIR_RULE_DENYTAPIR);
			assert_int_equal(
				decide(f, "tags.example", NOW, &why), max);
			assert_int_equal(
				why.rule, max == a ? TAPIR_RULE_NUMTAPIRTAGS
						   : TAPIR_RULE_DENYTAPIR);
		}
	}
	/* And the order itself: DROP > NXDOMAIN > NODATA > REDIRECT. */
	assert_true(TAPIR_ACTION_DROP > TAPIR_ACTION_NXDOMAIN);
	assert_true(TAPIR_ACTION_NXDOMAIN > TAPIR_ACTION_NODATA);
	assert_true(TAPIR_ACTION_NODATA > TAPIR_ACTION_REDIRECT);
}

static void
test_unknown_name_passes_with_empty_reason(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "example.com", S_DENY_A, 0, LATER, 0);
	memset(&why, 0xa5, sizeof(why));
	assert_int_equal(
		decide(f, "example.org", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.rule, TAPIR_RULE_NONE);
	assert_int_equal(why.fired, 0);
	assert_int_equal(why.doubt_sources, 0);
	assert_int_equal(why.tapir_tags, 0);
	assert_int_equal(why.n_matches, 0);
}

static void
test_entry_expiring_now_does_not_apply_but_is_listed(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "x.example", S_DENY_A, 0, NOW, 0);
	assert_int_equal(decide(f, "x.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.rule, TAPIR_RULE_NONE);
	assert_int_equal(why.n_matches, 1);
	assert_true(why.matches[0].expired);
	assert_int_equal(why.matches[0].e.source, S_DENY_A);
	/* One second earlier it still applied. */
	assert_int_equal(
		decide(f, "x.example", NOW - 1, &why), TAPIR_ACTION_NODATA);
	assert_false(why.matches[0].expired);
}

static void
test_entry_expiring_next_second_applies(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "x.example", S_DENY_A, 0, NOW + 1, 0);
	assert_int_equal(
		decide(f, "x.example", NOW, &why), TAPIR_ACTION_NODATA);
	assert_false(why.matches[0].expired);
	assert_int_equal(
		decide(f, "x.example", NOW + 1, &why), TAPIR_ACTION_PASS);
}

static void
test_entry_that_never_expires_applies(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "x.example", S_DENY_A, 0, TAPIR_EXPIRY_NEVER, 0);
	assert_int_equal(decide(f, "x.example", (int64_t)UINT32_MAX - 1, &why),
		TAPIR_ACTION_NODATA);
}

static void
test_expired_allowlist_entry_does_not_beat_denylist(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "x.example", S_ALLOW_A, 0, NOW, 0);
	put(f, "x.example", S_DENY_A, 0, LATER, 0);
	assert_int_equal(
		decide(f, "x.example", NOW, &why), TAPIR_ACTION_NODATA);
	assert_int_equal(why.n_matches, 2);
	assert_int_equal(why.matches[0].e.source, S_DENY_A);
	assert_false(why.matches[0].expired);
	assert_int_equal(why.matches[1].e.source, S_ALLOW_A);
	assert_true(why.matches[1].expired);
}

static void
test_expired_doubt_entries_neither_count_nor_add_tags(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "x.example", S_TAPIR, BADIP | NEWNAME | CDN, NOW, 0);
	put(f, "x.example", S_DOUBT_B, 0, LATER, 0);
	assert_int_equal(decide(f, "x.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.doubt_sources, 1);
	assert_int_equal(why.tapir_tags, 0);
	assert_int_equal(why.n_matches, 2);
}

static void
test_subtree_entry_applies_to_child_not_owner(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "example.com", S_DENY_A, 0, LATER, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(
		decide(f, "www.example.com", NOW, &why), TAPIR_ACTION_NODATA);
	assert_int_equal(why.n_matches, 1);
	assert_int_equal(why.matches[0].owner_off, 4);
	assert_int_equal(why.matches[0].e.flags, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(
		decide(f, "a.bb.example.com", NOW, &why), TAPIR_ACTION_NODATA);
	assert_int_equal(why.matches[0].owner_off, 5);
	assert_int_equal(
		decide(f, "example.com", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.n_matches, 0);
	assert_int_equal(decide(f, "com", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(
		decide(f, "wwwexample.com", NOW, &why), TAPIR_ACTION_PASS);
}

static void
test_subtree_entry_of_a_tld_covers_its_names(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "zip", S_DENY_A, 0, LATER, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(
		decide(f, "example.zip", NOW, &why), TAPIR_ACTION_NODATA);
	assert_int_equal(why.matches[0].owner_off, 8);
	assert_int_equal(decide(f, "zip", NOW, &why), TAPIR_ACTION_PASS);
}

static void
test_exact_entry_does_not_cover_children(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "example.com", S_DENY_A, 0, LATER, 0);
	assert_int_equal(
		decide(f, "www.example.com", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.n_matches, 0);
	assert_int_equal(
		decide(f, "example.com", NOW, &why), TAPIR_ACTION_NODATA);
}

static void
test_allowlist_subtree_on_ancestor_beats_exact_deny_of_child(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "example.com", S_ALLOW_A, 0, LATER, TAPIR_ENTRY_SUBTREE);
	put(f, "www.example.com", S_DENY_A, 0, LATER, 0);
	assert_int_equal(
		decide(f, "www.example.com", NOW, &why), TAPIR_ACTION_PASSTHRU);
	assert_int_equal(why.rule, TAPIR_RULE_ALLOWLIST);
	assert_int_equal(why.n_matches, 2);
	assert_int_equal(why.matches[0].owner_off, 0);
	assert_int_equal(why.matches[0].e.source, S_DENY_A);
	assert_int_equal(why.matches[1].owner_off, 4);
	assert_int_equal(why.matches[1].e.source, S_ALLOW_A);
}

static void
test_one_source_at_several_owners_counts_once(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "a.b.example", S_DOUBT_B, 0, LATER, 0);
	put(f, "b.example", S_DOUBT_B, 0, LATER, TAPIR_ENTRY_SUBTREE);
	put(f, "example", S_DOUBT_B, 0, LATER, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(
		decide(f, "a.b.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.doubt_sources, 1);
	assert_int_equal(why.n_matches, 3);
}

static void
test_reason_lists_rule_fired_counts_and_matches(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	const struct tapir_match *m = why.matches;

	/* Tapir tags come from two owners; a second doubt source from a
	 * third; a subtree entry of the name itself does not apply. */
	put(f, "a.b.example.com", S_TAPIR, NEWNAME, LATER, 0);
	put(f, "a.b.example.com", S_DOUBT_C, 0, LATER, TAPIR_ENTRY_SUBTREE);
	put(f, "b.example.com", S_TAPIR, BADIP, LATER, TAPIR_ENTRY_SUBTREE);
	put(f, "b.example.com", S_DENY_A, 0, LATER, 0);
	put(f, "example.com", S_DOUBT_B, 0, LATER, TAPIR_ENTRY_SUBTREE);
	put(f, "com", S_DOUBT_C, 0, NOW, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(
		decide(f, "a.b.example.com", NOW, &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.rule, TAPIR_RULE_NUMSOURCES);
	assert_int_equal(why.fired,
		BIT(TAPIR_RULE_NUMSOURCES) | BIT(TAPIR_RULE_DENYTAPIR));
	assert_int_equal(why.doubt_sources, 2);
	assert_int_equal(why.tapir_tags, NEWNAME | BADIP);
	/* The name's exact entries, then ancestors from the nearest. */
	assert_int_equal(why.n_matches, 4);
	assert_int_equal(m[0].owner_off, 0);
	assert_int_equal(m[0].e.source, S_TAPIR);
	assert_int_equal(m[0].e.flags, 0);
	assert_int_equal(m[0].e.tags, NEWNAME);
	assert_int_equal(m[1].owner_off, 2);
	assert_int_equal(m[1].e.source, S_TAPIR);
	assert_int_equal(m[1].e.flags, TAPIR_ENTRY_SUBTREE);
	assert_int_equal(m[1].e.tags, BADIP);
	assert_int_equal(m[2].owner_off, 4);
	assert_int_equal(m[2].e.source, S_DOUBT_B);
	assert_int_equal(m[2].e.list, TAPIR_LIST_DOUBT);
	assert_int_equal(m[3].owner_off, 12);
	assert_int_equal(m[3].e.source, S_DOUBT_C);
	assert_true(m[3].expired);
	for (size_t i = 0; i < 3; i++)
		assert_false(m[i].expired);
}

static void
test_reason_counts_matches_beyond_its_capacity(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	char buf[8192];
	const char *p = buf;
	size_t lines = 0;

	/* 20 more doubt sources, each with an exact entry of the name and
	 * a subtree entry of its parent: 40 matches, 32 kept. */
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "extra-%d", i);
		add_source(&f->cfg, name, TAPIR_LIST_DOUBT);
	}
	reload(f);
	for (uint16_t s = N_SRC; s < N_SRC + 20; s++) {
		put(f, "x.example", s, 0, LATER, 0);
		put(f, "example", s, 0, LATER, TAPIR_ENTRY_SUBTREE);
	}
	assert_int_equal(
		decide(f, "x.example", NOW, &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.doubt_sources, 20);
	assert_int_equal(why.n_matches, 40);
	assert_int_equal(why.matches[TAPIR_REASON_MAX - 1].owner_off, 2);
	tapir_reason_format(f->p, "x.example", &why, NOW, buf, sizeof(buf));
	assert_non_null(strstr(buf, "entries: 40\n"));
	while ((p = strstr(p, "entry: "))) {
		lines++;
		p++;
	}
	assert_int_equal(lines, TAPIR_REASON_MAX);
}

static void
test_reason_format_names_action_rule_and_entry(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	char buf[1024];
	size_t n;

	f->cfg.policy.denytapir.action = TAPIR_ACTION_NXDOMAIN;
	f->cfg.tag_names[2] = (char *)"badip";
	reload(f);
	put(f, "x.example", S_TAPIR, BADIP | (1u << 9), LATER, 0);
	put(f, "x.example", S_DOUBT_B, 0, NOW, 0);
	assert_int_equal(
		decide(f, "x.example", NOW, &why), TAPIR_ACTION_NXDOMAIN);
	n = tapir_reason_format(f->p, "x.example", &why, NOW, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "name: x.example\n"));
	assert_non_null(strstr(buf, "action: NXDOMAIN\n"));
	assert_non_null(strstr(buf, "rule: denytapir\n"));
	assert_non_null(strstr(buf, "fired: denytapir\n"));
	assert_non_null(strstr(buf, "doubt-sources: 1\n"));
	assert_non_null(
		strstr(buf, "entry: x.example source=dns-tapir list=doubtlist "
			    "tags=badip,bit9 expires-in=3600s\n"));
	assert_non_null(strstr(buf,
		"entry: x.example source=doubt-b list=doubtlist tags=none "
		"expires-in=0s (expired)\n"));
	f->cfg.tag_names[2] = NULL;
}

static void
test_reason_format_shows_subtree_owner(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	char buf[1024];

	put(f, "example.com", S_DENY_A, 0, TAPIR_EXPIRY_NEVER,
		TAPIR_ENTRY_SUBTREE);
	assert_int_equal(
		decide(f, "www.example.com", NOW, &why), TAPIR_ACTION_NODATA);
	tapir_reason_format(
		f->p, "www.example.com", &why, NOW, buf, sizeof(buf));
	assert_non_null(strstr(buf, "action: NODATA\n"));
	assert_non_null(strstr(buf, "rule: denylist\n"));
	assert_non_null(strstr(buf,
		"entry: *.example.com source=deny-a list=denylist tags=none "
		"expires=never\n"));
}

static void
test_reason_format_truncates_and_terminates(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	char full[1024], buf[1024];
	size_t n, whole;

	put(f, "x.example", S_DENY_A, 0, LATER, 0);
	(void)decide(f, "x.example", NOW, &why);
	whole = tapir_reason_format(
		f->p, "x.example", &why, NOW, full, sizeof(full));
	assert_true(whole > 40);
	for (size_t size = 1; size < whole + 2; size += 7) {
		memset(buf, 'Z', sizeof(buf));
		n = tapir_reason_format(
			f->p, "x.example", &why, NOW, buf, size);
		assert_true(n < size);
		assert_int_equal(buf[n], '\0');
		assert_int_equal(strlen(buf), n);
		assert_memory_equal(buf, full, n);
		assert_int_equal(buf[size], 'Z');
	}
	assert_int_equal(
		tapir_reason_format(f->p, "x.example", &why, NOW, buf, 0), 0);
}

static void
test_rule_names(void **state)
{
	(void)state;
	assert_string_equal(tapir_rule_str(TAPIR_RULE_NONE), "none");
	assert_string_equal(tapir_rule_str(TAPIR_RULE_ALLOWLIST), "allowlist");
	assert_string_equal(tapir_rule_str(TAPIR_RULE_DENYLIST), "denylist");
	assert_string_equal(
		tapir_rule_str(TAPIR_RULE_NUMSOURCES), "numsources");
	assert_string_equal(
		tapir_rule_str(TAPIR_RULE_NUMTAPIRTAGS), "numtapirtags");
	assert_string_equal(tapir_rule_str(TAPIR_RULE_DENYTAPIR), "denytapir");
	assert_string_equal(tapir_rule_str(TAPIR_RULE_COUNT), "unknown");
}

/*
 * Properties over random databases: names in a small tree under "t", so
 * that subtree entries overlap; unique (name, source, kind) keys, so that
 * insertion order cannot matter by replacement; expiries around now.
 */
#define PROP_SCENARIOS	 30
#define PROP_ORDERS	 6
#define PROP_MAX_ENTRIES 512

struct prop_entry {
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_entry e;
};

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64*: reproducible everywhere, unlike rand(). */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* All names over labels {a,b,c} up to three deep below "t" (40). */
static size_t
prop_names(char names[][TAPIR_NAME_BUFSIZE])
{
	size_t n = 0;

	snprintf(names[n++], TAPIR_NAME_BUFSIZE, "t");
	for (size_t start = 0, end = 1, depth = 0; depth < 3; depth++) {
		for (size_t i = start; i < end; i++)
			for (char c = 'a'; c <= 'c'; c++)
				snprintf(names[n++], TAPIR_NAME_BUFSIZE,
					"%c.%s", c, names[i]);
		start = end;
		end = n;
	}
	return n;
}

static void
assert_reason_equal(const struct tapir_reason *a, const struct tapir_reason *b)
{
	assert_int_equal(a->action, b->action);
	assert_int_equal(a->rule, b->rule);
	assert_int_equal(a->fired, b->fired);
	assert_int_equal(a->doubt_sources, b->doubt_sources);
	assert_int_equal(a->tapir_tags, b->tapir_tags);
	assert_int_equal(a->n_matches, b->n_matches);
	for (size_t i = 0; i < a->n_matches && i < TAPIR_REASON_MAX; i++) {
		const struct tapir_match *x = &a->matches[i],
					 *y = &b->matches[i];
		assert_int_equal(x->owner_off, y->owner_off);
		assert_int_equal(x->expired, y->expired);
		assert_int_equal(x->e.source, y->e.source);
		assert_int_equal(x->e.flags, y->e.flags);
		assert_int_equal(x->e.tags, y->e.tags);
		assert_int_equal(x->e.expiry, y->e.expiry);
	}
}

static void
test_decision_independent_of_insertion_order(void **state)
{
	struct fixture *f = *state;
	char(*names)[TAPIR_NAME_BUFSIZE] = calloc(80, TAPIR_NAME_BUFSIZE);
	struct prop_entry *ents = calloc(PROP_MAX_ENTRIES, sizeof(*ents));
	struct tapir_reason *want = calloc(80, sizeof(*want));
	size_t *order = calloc(PROP_MAX_ENTRIES, sizeof(*order));
	static const uint32_t expiries[] = { NOW - 1, NOW, NOW + 1, LATER,
		TAPIR_EXPIRY_NEVER };
	unsigned seen_action[TAPIR_ACTION_COUNT] = { 0 };
	uint64_t seed = 0x7461706972ULL;
	size_t n_names, n_queries;

	assert_non_null(names);
	assert_non_null(ents);
	assert_non_null(want);
	assert_non_null(order);
	n_names = prop_names(names);
	assert_int_equal(n_names, 40);
	/* Queries: the names, and a child of each (below every owner). */
	for (size_t i = 0; i < n_names; i++)
		snprintf(names[n_names + i], TAPIR_NAME_BUFSIZE, "z.%s",
			names[i]);
	n_queries = 2 * n_names;

	for (int sc = 0; sc < PROP_SCENARIOS; sc++) {
		size_t n = 0;
		/* Denser scenarios fire more rules. */
		unsigned pct = 4 + (unsigned)(rnd(&seed) % 12);

		for (size_t i = 0; i < n_names; i++)
			for (uint16_t s = 0; s < N_SRC; s++)
				for (uint8_t k = 0; k < 2; k++) {
					struct prop_entry *pe;
					if (rnd(&seed) % 100 >= pct)
						continue;
					pe = &ents[n++];
					memcpy(pe->name, names[i],
						TAPIR_NAME_BUFSIZE);
					memset(&pe->e, 0, sizeof(pe->e));
					pe->e.source = s;
					pe->e.list =
						(uint8_t)f->cfg.sources[s].list;
					pe->e.flags =
						k ? TAPIR_ENTRY_SUBTREE : 0;
					pe->e.tags =
						(uint32_t)rnd(&seed) & 0x3f;
					pe->e.expiry = expiries[rnd(&seed) % 5];
				}
		for (int o = 0; o < PROP_ORDERS; o++) {
			struct tapir_db *db = tapir_db_create(0);

			assert_non_null(db);
			for (size_t i = 0; i < n; i++)
				order[i] = i;
			for (size_t i = n; o > 0 && i > 1; i--) {
				size_t j = rnd(&seed) % i, t = order[i - 1];
				order[i - 1] = order[j];
				order[j] = t;
			}
			for (size_t i = 0; i < n; i++) {
				const struct prop_entry *pe = &ents[order[i]];
				assert_int_equal(
					tapir_db_set(db, pe->name,
						strlen(pe->name), &pe->e),
					0);
			}
			tapir_db_destroy(f->db);
			f->db = db;
			for (size_t q = 0; q < n_queries; q++) {
				struct tapir_reason why, again;
				decide(f, names[q], NOW, &why);
				/* Deterministic: same db, same answer. */
				decide(f, names[q], NOW, &again);
				assert_reason_equal(&why, &again);
				if (o == 0) {
					want[q] = why;
					seen_action[why.action]++;
				} else {
					assert_reason_equal(&why, &want[q]);
				}
			}
		}
	}
	/* Not vacuous: every action the configuration can give came up. */
	for (int a = 0; a < TAPIR_ACTION_COUNT; a++)
		assert_true(seen_action[a] > 0);
	free(order);
	free(want);
	free(ents);
	free(names);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* Extensions beyond upstream: entry actions, named rules, log-only. */

static void
test_entry_action_replaces_denylist_action(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	put(f, "drop.example", S_DENY_A, 0, LATER,
		TAPIR_ACTION_DROP << TAPIR_ENTRY_ACTION_SHIFT);
	put(f, "plain.example", S_DENY_A, 0, LATER, 0);
	assert_int_equal(
		decide(f, "drop.example", NOW, &why), TAPIR_ACTION_DROP);
	assert_int_equal(
		decide(f, "plain.example", NOW, &why), TAPIR_ACTION_NODATA);
}

static void
test_passthru_entry_acts_as_allowlist(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	/* An rpz-passthru record under a wildcard deny exempts one name. */
	put(f, "zone.example", S_DENY_A, 0, LATER,
		TAPIR_ENTRY_SUBTREE |
			(TAPIR_ACTION_NXDOMAIN << TAPIR_ENTRY_ACTION_SHIFT));
	put(f, "ok.zone.example", S_DENY_B, 0, LATER,
		TAPIR_ACTION_PASSTHRU << TAPIR_ENTRY_ACTION_SHIFT);
	assert_int_equal(decide(f, "bad.zone.example", NOW, &why),
		TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(
		decide(f, "ok.zone.example", NOW, &why), TAPIR_ACTION_PASSTHRU);
	assert_int_equal(why.rule, TAPIR_RULE_ALLOWLIST);
}

static void
add_rule(struct fixture *f, const char *name, struct tapir_named_rule r)
{
	snprintf(r.name, sizeof(r.name), "%s", name);
	f->cfg.policy.rules[f->cfg.policy.n_rules++] = r;
	reload(f);
}

static void
test_named_rule_counts_only_its_sources(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	f->cfg.policy.numsources.enabled = false;
	add_rule(f, "b-and-c",
		(struct tapir_named_rule){ .action = TAPIR_ACTION_DROP,
			.sources_min = 2,
			.sources_mask = BIT(S_DOUBT_B) | BIT(S_DOUBT_C) });
	put(f, "two.example", S_TAPIR, 0, LATER, 0);
	put(f, "two.example", S_DOUBT_B, 0, LATER, 0);
	assert_int_equal(
		decide(f, "two.example", NOW, &why), TAPIR_ACTION_PASS);
	put(f, "two.example", S_DOUBT_C, 0, LATER, 0);
	assert_int_equal(
		decide(f, "two.example", NOW, &why), TAPIR_ACTION_DROP);
	assert_int_equal(why.rule, TAPIR_RULE_NAMED);
	assert_true(why.fired & (UINT64_C(1) << TAPIR_RULE_NAMED));
}

static void
test_named_rule_tag_conditions(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	f->cfg.policy.numtapirtags.enabled = false;
	f->cfg.policy.denytapir.enabled = false;
	add_rule(f, "fresh-malware",
		(struct tapir_named_rule){ .action = TAPIR_ACTION_NXDOMAIN,
			.tags_all = NEWNAME | MALWARE,
			.tags_none = CDN });
	put(f, "a.example", S_TAPIR, NEWNAME | MALWARE, LATER, 0);
	put(f, "b.example", S_TAPIR, NEWNAME, LATER, 0);
	put(f, "c.example", S_TAPIR, NEWNAME | MALWARE | CDN, LATER, 0);
	/* The tags come from the TAPIR source only, by default. */
	put(f, "d.example", S_DOUBT_B, NEWNAME | MALWARE, LATER, 0);
	assert_int_equal(
		decide(f, "a.example", NOW, &why), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "b.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "c.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "d.example", NOW, &why), TAPIR_ACTION_PASS);
}

static void
test_named_rule_tags_from_other_source_and_any_min(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	f->cfg.policy.numtapirtags.enabled = false;
	f->cfg.policy.denytapir.enabled = false;
	add_rule(f, "b-tags",
		(struct tapir_named_rule){ .action = TAPIR_ACTION_NODATA,
			.tags_from = BIT(S_DOUBT_B),
			.tags_min = 2,
			.tags_any = BOTNET | MALWARE });
	put(f, "x.example", S_DOUBT_B, NEWNAME | BOTNET, LATER, 0);
	put(f, "y.example", S_DOUBT_B, NEWNAME | HIGHVOL, LATER, 0);
	put(f, "z.example", S_DOUBT_B, BOTNET, LATER, 0);
	assert_int_equal(
		decide(f, "x.example", NOW, &why), TAPIR_ACTION_NODATA);
	assert_int_equal(decide(f, "y.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "z.example", NOW, &why), TAPIR_ACTION_PASS);
}

static void
test_named_rule_on_lists_combines_with_denylist(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;

	/* Deny gives NODATA; a named rule on denylist membership makes it
	 * DROP: the most restrictive fired action wins. */
	add_rule(f, "deny-drops",
		(struct tapir_named_rule){ .action = TAPIR_ACTION_DROP,
			.lists = 1u << TAPIR_LIST_DENY });
	put(f, "d.example", S_DENY_A, 0, LATER, 0);
	assert_int_equal(decide(f, "d.example", NOW, &why), TAPIR_ACTION_DROP);
	assert_true(why.fired & BIT(TAPIR_RULE_DENYLIST));
	/* Allowlist stays absolute. */
	put(f, "d.example", S_ALLOW_A, 0, LATER, 0);
	assert_int_equal(
		decide(f, "d.example", NOW, &why), TAPIR_ACTION_PASSTHRU);
}

static void
test_log_only_rule_would_block_but_passes(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	struct tapir_verdict v;
	char buf[2048];

	f->cfg.policy.denytapir.enabled = false;
	f->cfg.policy.numtapirtags.enabled = false;
	add_rule(f, "trial",
		(struct tapir_named_rule){ .action = TAPIR_ACTION_NXDOMAIN,
			.log_only = true,
			.tags_any = MALWARE });
	put(f, "m.example", S_TAPIR, MALWARE, LATER, 0);
	assert_int_equal(decide(f, "m.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.would_action, TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(why.would_rule, TAPIR_RULE_NAMED);
	tapir_decide_verdict(f->p, f->db, "m.example", 9, NOW, &v);
	assert_int_equal(v.action, TAPIR_ACTION_PASS);
	assert_int_equal(v.would_action, TAPIR_ACTION_NXDOMAIN);
	tapir_reason_format(f->p, "m.example", &why, NOW, buf, sizeof(buf));
	assert_non_null(strstr(buf, "log-only: would NXDOMAIN (rule trial)"));
}

static void
test_global_log_only_blocks_nothing(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	struct tapir_verdict v;

	f->cfg.policy.log_only = true;
	reload(f);
	put(f, "d.example", S_DENY_A, 0, LATER, 0);
	put(f, "a.example", S_ALLOW_A, 0, LATER, 0);
	assert_int_equal(decide(f, "d.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.would_action, TAPIR_ACTION_NODATA);
	assert_true(why.would_fired & BIT(TAPIR_RULE_DENYLIST));
	tapir_decide_verdict(f->p, f->db, "d.example", 9, NOW, &v);
	assert_int_equal(v.would_action, TAPIR_ACTION_NODATA);
	/* An allowlisted name is still PASSTHRU: nothing would block it. */
	assert_int_equal(
		decide(f, "a.example", NOW, &why), TAPIR_ACTION_PASSTHRU);
}

static void
test_log_only_source_counts_but_does_not_decide(void **state)
{
	struct fixture *f = *state;
	struct tapir_reason why;
	struct tapir_verdict v;

	/* deny-b on trial: its entries are evaluated, never enforced. */
	f->cfg.sources[S_DENY_B].log_only = true;
	reload(f);
	put(f, "trial.example", S_DENY_B, 0, LATER, 0);
	put(f, "both.example", S_DENY_B, 0, LATER, 0);
	put(f, "both.example", S_DENY_A, 0, LATER, 0);
	assert_int_equal(
		decide(f, "trial.example", NOW, &why), TAPIR_ACTION_PASS);
	assert_int_equal(why.would_action, TAPIR_ACTION_NODATA);
	assert_true(why.would_fired & BIT(TAPIR_RULE_DENYLIST));
	tapir_decide_verdict(f->p, f->db, "trial.example", 13, NOW, &v);
	assert_int_equal(v.action, TAPIR_ACTION_PASS);
	assert_int_equal(v.would_action, TAPIR_ACTION_NODATA);
	/* An enforced source still decides on its own. */
	assert_int_equal(
		decide(f, "both.example", NOW, &why), TAPIR_ACTION_NODATA);
	assert_int_equal(why.would_action, TAPIR_ACTION_PASS);
}

static void
test_policy_rule_names(void **state)
{
	struct fixture *f = *state;

	add_rule(f, "mine",
		(struct tapir_named_rule){
			.action = TAPIR_ACTION_DROP, .tags_min = 1 });
	assert_string_equal(
		tapir_policy_rule_name(f->p, TAPIR_RULE_NAMED), "mine");
	assert_string_equal(tapir_policy_rule_name(f->p, TAPIR_RULE_DENYTAPIR),
		"denytapir");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_disabled_rules_never_fire),
		T(test_without_tapir_source_tags_never_count),
		T(test_most_restrictive_fired_action_wins),
		T(test_unknown_name_passes_with_empty_reason),
		T(test_entry_expiring_now_does_not_apply_but_is_listed),
		T(test_entry_expiring_next_second_applies),
		T(test_entry_that_never_expires_applies),
		T(test_expired_allowlist_entry_does_not_beat_denylist),
		T(test_expired_doubt_entries_neither_count_nor_add_tags),
		T(test_subtree_entry_applies_to_child_not_owner),
		T(test_subtree_entry_of_a_tld_covers_its_names),
		T(test_exact_entry_does_not_cover_children),
		T(test_allowlist_subtree_on_ancestor_beats_exact_deny_of_child),
		T(test_one_source_at_several_owners_counts_once),
		T(test_reason_lists_rule_fired_counts_and_matches),
		T(test_reason_counts_matches_beyond_its_capacity),
		T(test_reason_format_names_action_rule_and_entry),
		T(test_reason_format_shows_subtree_owner),
		T(test_reason_format_truncates_and_terminates),
		cmocka_unit_test(test_rule_names),
		T(test_decision_independent_of_insertion_order),
		T(test_entry_action_replaces_denylist_action),
		T(test_passthru_entry_acts_as_allowlist),
		T(test_named_rule_counts_only_its_sources),
		T(test_named_rule_tag_conditions),
		T(test_named_rule_tags_from_other_source_and_any_min),
		T(test_named_rule_on_lists_combines_with_denylist),
		T(test_log_only_rule_would_block_but_passes),
		T(test_global_log_only_blocks_nothing),
		T(test_policy_rule_names),
		T(test_log_only_source_counts_but_does_not_decide),
	};
	/* One named test per row of the upstream matrix. */
	struct CMUnitTest rows[N_ROWS];
	int failed;

	for (size_t i = 0; i < N_ROWS; i++)
		rows[i] = (struct CMUnitTest){ .name = matrix[i].name,
			.test_func = test_matrix_row,
			.setup_func = setup,
			.teardown_func = teardown,
			.initial_state = (void *)&matrix[i] };
	failed = cmocka_run_group_tests_name(
		"upstream matrix", rows, NULL, NULL);
	failed += cmocka_run_group_tests(tests, NULL, NULL);
	return failed;
}
