/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/answer.c and lib/runtime.c: the answer plan of every
 * action (REDIRECT to a CNAME, to addresses, to nothing), the plan in
 * words (what lookup prints) and as RPZ records (what dump-rpz writes),
 * the explanation an EDE carries, and the snapshot's references.
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

#include "lib/answer.h"
#include "lib/runtime.h"

#define BASE                                                                   \
	"mqtt:\n  broker: mqtt://localhost\nkeys: /k.json\n"                   \
	"sources:\n"                                                           \
	"  - name: dns-tapir\n"                                                \
	"    list: doubtlist\n"                                                \
	"    topics: observations/down/tapir-pop\n"                            \
	"  - name: deny\n"                                                     \
	"    type: file\n"                                                     \
	"    list: denylist\n"                                                 \
	"    path: /deny.txt\n"

static struct tapir_runtime *
runtime(const char *answer)
{
	char yaml[2048];
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	struct tapir_runtime *rt;

	snprintf(yaml, sizeof(yaml), "%sanswer:\n  negative-ttl: 30\n%s", BASE,
		answer);
	cfg = tapir_config_parse(yaml, strlen(yaml), "test.yaml", &err);
	if (!cfg)
		fail_msg("config: %s", err.text);
	rt = tapir_runtime_create(cfg, 1, &err);
	if (!rt)
		fail_msg("runtime: %s", err.text);
	return rt;
}

static const struct tapir_verdict deny_verdict = {
	.action = TAPIR_ACTION_NXDOMAIN,
	.rule = TAPIR_RULE_DENYLIST,
	.sources = 1u << 1,
};

static void
describe(const struct tapir_answer *a, char *buf, size_t size)
{
	size_t n = tapir_answer_describe(a, buf, size);

	assert_int_equal(n, strlen(buf));
}

static void
test_nxdomain_carries_the_soa_and_its_ttl(void **state)
{
	struct tapir_runtime *rt = runtime("");
	struct tapir_answer a;
	char text[512];

	(void)state;
	tapir_answer_plan(rt, &deny_verdict, TAPIR_DNS_TYPE_A, true, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_NEGATIVE);
	assert_int_equal(a.rcode, TAPIR_DNS_RCODE_NXDOMAIN);
	assert_int_equal(a.rr_type, TAPIR_DNS_TYPE_SOA);
	assert_int_equal(a.n_rr, 1);
	assert_int_equal(a.ttl, 30);
	/* The SOA minimum is the negative TTL: the last 4 bytes. */
	assert_int_equal(a.rdata[a.rdata_len - 1], 30);
	assert_int_equal((a.rdata[0] << 8 | a.rdata[1]) + 2, a.rdata_len);
	assert_int_equal(a.ede, TAPIR_EDE_BLOCKED);
	assert_string_equal(a.why, "rule denylist; sources deny");
	describe(&a, text, sizeof(text));
	assert_string_equal(text,
		"NXDOMAIN with SOA tapir-pop.invalid. "
		"hostmaster.tapir-pop.invalid. in authority, TTL 30");
	tapir_runtime_unref(rt);
}

static void
test_nodata_drop_and_pass(void **state)
{
	struct tapir_runtime *rt = runtime("");
	struct tapir_verdict v = { .action = TAPIR_ACTION_NODATA,
		.rule = TAPIR_RULE_NUMSOURCES };
	struct tapir_answer a;
	char text[512];

	(void)state;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_NEGATIVE);
	assert_int_equal(a.rcode, TAPIR_DNS_RCODE_NOERROR);
	/* A rule, not a list: Filtered. Not asked, no log: no text. */
	assert_int_equal(a.ede, TAPIR_EDE_FILTERED);
	assert_string_equal(a.why, "");
	describe(&a, text, sizeof(text));
	assert_non_null(strstr(text, "NOERROR/NODATA with SOA "));
	v.action = TAPIR_ACTION_DROP;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_DROP);
	describe(&a, text, sizeof(text));
	assert_string_equal(text, "none (dropped)");
	v.action = TAPIR_ACTION_PASSTHRU;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, true, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_RESOLVE);
	assert_int_equal(a.ede, 0);
	describe(&a, text, sizeof(text));
	assert_string_equal(text, "resolved normally");
	tapir_runtime_unref(rt);
}

/* REDIRECT with addresses: A and AAAA get them, other types NODATA. */
static void
test_redirect_to_addresses_depends_on_the_type(void **state)
{
	struct tapir_runtime *rt =
		runtime("  redirect-a: [192.0.2.53, 192.0.2.54]\n"
			"  redirect-aaaa: [\"2001:db8::53\"]\n");
	struct tapir_verdict v = { .action = TAPIR_ACTION_REDIRECT,
		.rule = TAPIR_RULE_DENYTAPIR,
		.sources = 1 };
	struct tapir_answer a;
	char text[512];
	size_t n;

	(void)state;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, true, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_RECORDS);
	assert_int_equal(a.rr_type, TAPIR_DNS_TYPE_A);
	assert_int_equal(a.n_rr, 2);
	assert_int_equal(a.rdata_len, 6);
	assert_memory_equal(a.rdata, "\0\4\xc0\0\2\x35\0\4\xc0\0\2\x36", 12);
	assert_string_equal(a.why, "rule denytapir; sources dns-tapir");
	describe(&a, text, sizeof(text));
	assert_string_equal(text, "NOERROR, A 192.0.2.53 192.0.2.54, TTL 30");
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_AAAA, false, &a);
	describe(&a, text, sizeof(text));
	assert_string_equal(text, "NOERROR, AAAA 2001:db8::53, TTL 30");
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_TXT, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_NEGATIVE);
	assert_int_equal(a.rcode, TAPIR_DNS_RCODE_NOERROR);
	n = tapir_answer_rpz(
		rt, TAPIR_ACTION_REDIRECT, "x.example.rpz", text, sizeof(text));
	assert_int_equal(n, strlen(text));
	assert_string_equal(text, "x.example.rpz A 192.0.2.53\n"
				  "x.example.rpz A 192.0.2.54\n"
				  "x.example.rpz AAAA 2001:db8::53\n");
	tapir_runtime_unref(rt);
}

static void
test_redirect_to_a_cname_for_every_type(void **state)
{
	struct tapir_runtime *rt =
		runtime("  redirect-cname: Walled.Example.\n");
	struct tapir_verdict v = { .action = TAPIR_ACTION_REDIRECT };
	struct tapir_answer a;
	char text[512];

	(void)state;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_TXT, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_RECORDS);
	assert_int_equal(a.rr_type, TAPIR_DNS_TYPE_CNAME);
	describe(&a, text, sizeof(text));
	assert_string_equal(text, "NOERROR, CNAME walled.example., TTL 30");
	tapir_answer_rpz(
		rt, TAPIR_ACTION_REDIRECT, "x.rpz", text, sizeof(text));
	/* Once, though the plans of A and AAAA both give it. */
	assert_string_equal(text, "x.rpz CNAME walled.example.\n");
	tapir_runtime_unref(rt);
}

static void
test_redirect_with_nothing_configured_is_nxdomain(void **state)
{
	struct tapir_runtime *rt = runtime("");
	struct tapir_verdict v = { .action = TAPIR_ACTION_REDIRECT };
	struct tapir_answer a;
	char text[512];

	(void)state;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_AAAA, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_NEGATIVE);
	assert_int_equal(a.rcode, TAPIR_DNS_RCODE_NXDOMAIN);
	tapir_answer_rpz(
		rt, TAPIR_ACTION_REDIRECT, "x.rpz", text, sizeof(text));
	assert_string_equal(text, "x.rpz CNAME .\n");
	tapir_runtime_unref(rt);
}

static void
test_rpz_special_targets(void **state)
{
	static const struct {
		enum tapir_action a;
		const char *want;
	} rows[] = {
		{ TAPIR_ACTION_PASS, "" },
		{ TAPIR_ACTION_PASSTHRU, "o CNAME rpz-passthru.\n" },
		{ TAPIR_ACTION_NODATA, "o CNAME *.\n" },
		{ TAPIR_ACTION_NXDOMAIN, "o CNAME .\n" },
		{ TAPIR_ACTION_DROP, "o CNAME rpz-drop.\n" },
	};
	struct tapir_runtime *rt = runtime("");
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tapir_answer_rpz(rt, rows[i].a, "o", text, sizeof(text));
		assert_string_equal(text, rows[i].want);
	}
	tapir_runtime_unref(rt);
}

/* The block log's setting travels with the plan, and it wants the
 * explanation even when no EDE does. */
static void
test_block_log_settings_are_the_snapshots(void **state)
{
	struct tapir_runtime *rt = runtime("logging:\n"
					   "  blocked-queries: yes\n"
					   "  client-address: yes\n");
	struct tapir_answer a;

	(void)state;
	tapir_answer_plan(rt, &deny_verdict, TAPIR_DNS_TYPE_A, false, &a);
	assert_true(a.log);
	assert_true(a.log_client);
	assert_string_equal(a.why, "rule denylist; sources deny");
	tapir_runtime_unref(rt);
}

/* answer.cache-blocked: only negative answers may be cached; a
 * REDIRECT's records and a drop never are. */
static void
test_cache_blocked_marks_negative_answers_only(void **state)
{
	struct tapir_runtime *rt = runtime("  cache-blocked: yes\n"
					   "  redirect-a: [192.0.2.1]\n");
	struct tapir_verdict v = { .action = TAPIR_ACTION_REDIRECT };
	struct tapir_answer a;

	(void)state;
	tapir_answer_plan(rt, &deny_verdict, TAPIR_DNS_TYPE_A, false, &a);
	assert_true(a.cache);
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_RECORDS);
	assert_false(a.cache);
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_TXT, false, &a);
	assert_true(a.cache); /* NODATA */
	v.action = TAPIR_ACTION_DROP;
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, false, &a);
	assert_false(a.cache);
	tapir_runtime_unref(rt);
	rt = runtime("  cache-blocked: no\n");
	tapir_answer_plan(rt, &deny_verdict, TAPIR_DNS_TYPE_A, false, &a);
	assert_false(a.cache);
	tapir_runtime_unref(rt);
	rt = runtime(""); /* the default */
	tapir_answer_plan(rt, &deny_verdict, TAPIR_DNS_TYPE_A, false, &a);
	assert_true(a.cache);
	tapir_runtime_unref(rt);
}

/* A reference outlives the creator's: the snapshot is freed by the last
 * holder (ASan reports a use after free or a leak otherwise). */
static void
test_runtime_freed_by_last_reference(void **state)
{
	struct tapir_runtime *rt = runtime("");
	struct tapir_answer a;

	(void)state;
	tapir_runtime_ref(rt);
	tapir_runtime_unref(rt);
	tapir_answer_plan(rt, &deny_verdict, TAPIR_DNS_TYPE_A, false, &a);
	assert_int_equal(a.kind, TAPIR_ANSWER_NEGATIVE);
	assert_int_equal(rt->generation, 1);
	tapir_runtime_unref(rt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nxdomain_carries_the_soa_and_its_ttl),
		cmocka_unit_test(test_nodata_drop_and_pass),
		cmocka_unit_test(
			test_redirect_to_addresses_depends_on_the_type),
		cmocka_unit_test(test_redirect_to_a_cname_for_every_type),
		cmocka_unit_test(
			test_redirect_with_nothing_configured_is_nxdomain),
		cmocka_unit_test(test_rpz_special_targets),
		cmocka_unit_test(test_block_log_settings_are_the_snapshots),
		cmocka_unit_test(
			test_cache_blocked_marks_negative_answers_only),
		cmocka_unit_test(test_runtime_freed_by_last_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
