/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/engine_overrides.c: local overrides through the control
 * command (tapir-pop-control override), kept in overrides.json in a
 * private state directory.
 *
 * They prove that a comment longer than an override keeps is cut on a
 * UTF-8 character boundary (so that the override stays in overrides.json,
 * which jansson writes only as valid UTF-8), that a comment that is not
 * UTF-8 is refused; that a TTL is read strictly (s, m, h and d suffixes,
 * anything else refused rather than read as its leading digits or as
 * "permanent"); and that `override list` on a freshly started engine
 * shows what the writer loads from overrides.json, never an empty list
 * read while it loads; and that a save that fails leaks no descriptor.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/control.h"
#include "lib/engine.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

/* 2026-07-20T09:15:00Z */
#define NOW INT64_C(1784538900)

static int64_t
fake_clock(void)
{
	return NOW;
}

struct fixture {
	char dir[64];
	char state[96];
	char json[128];
	char yaml[128];
	struct tapir_engine *e;
};

/* An engine (not started unless a test starts it) with a state directory,
 * on a fake clock. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char yaml[512];

	if (!f)
		return -1;
	tapir_log_set(fixture_quiet_log, NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-overrides-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->json, sizeof(f->json), "%s/overrides.json", f->state);
	snprintf(f->yaml, sizeof(f->yaml), "%s/tapir-pop.yaml", f->dir);
	if (mkdir(f->state, 0700) != 0)
		return -1;
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"keys: %s/no-keys.json\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    list: doubtlist\n"
		"    topics: [t]\n"
		"state-dir: %s\n",
		f->dir, f->state);
	fixture_write_file(f->yaml, yaml);
	f->e = tapir_engine_create(f->yaml);
	if (!f->e || !tapir_engine_active(f->e))
		return -1;
	tapir_engine_set_clock(f->e, fake_clock);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	static const char *const files[] = { "tapir-pop.state",
		"tapir-pop.state.serials", "overrides.json" };
	struct fixture *f = *state;
	char path[192];

	tapir_engine_destroy(f->e);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->state, files[i]);
		unlink(path);
	}
	rmdir(f->state);
	unlink(f->yaml);
	rmdir(f->dir);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

static void
command_is(struct fixture *f, const char *line, const char *want)
{
	char *out = fixture_control(f->e, line, true);

	if (strcmp(out, want) != 0)
		fail_msg("'%s' answered '%s', want '%s'", line, out, want);
	free(out);
}

static void
command_fails(struct fixture *f, const char *line, const char *want)
{
	char *out = fixture_control(f->e, line, true);

	if (strncmp(out, "error: ", 7) != 0 || !strstr(out, want))
		fail_msg("'%s' answered '%s', want an error with '%s'", line,
			out, want);
	free(out);
}

/* The override of name in overrides.json, or NULL (a new reference). */
static json_t *
saved(struct fixture *f, const char *name)
{
	json_error_t jerr;
	json_t *root = json_load_file(f->json, 0, &jerr), *it, *found = NULL;
	size_t i;

	if (!root)
		fail_msg("%s: %s", f->json, jerr.text);
	json_array_foreach(json_object_get(root, "overrides"), i, it)
	{
		const char *n = json_string_value(json_object_get(it, "name"));
		if (n && !strcmp(n, name))
			found = json_incref(it);
	}
	json_decref(root);
	return found;
}

static bool
utf8_valid(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* 200 two-byte characters: cut at 255 bytes, a cut in the middle of one. */
static void
test_long_comment_is_cut_on_a_character_boundary(void **state)
{
	struct fixture *f = *state;
	char line[600] = "override deny cut.example 0 ";
	const char *comment;
	json_t *o;

	for (int i = 0; i < 200; i++)
		strcat(line, "\xc3\xa9"); /* é */
	command_is(f, line, "ok\n");
	command_is(f, "override deny other.example 0 plain", "ok\n");
	if (!(o = saved(f, "cut.example")))
		fail_msg("cut.example missing from overrides.json");
	comment = json_string_value(json_object_get(o, "comment"));
	assert_non_null(comment);
	assert_int_equal(strlen(comment), 254);
	assert_true(utf8_valid(comment));
	json_decref(o);
	assert_non_null(o = saved(f, "other.example"));
	json_decref(o);
}

static void
test_comment_that_is_not_utf8_is_refused(void **state)
{
	struct fixture *f = *state;
	char *out;

	command_fails(
		f, "override deny bad.example 0 caf\xe9 latin-1", "UTF-8");
	command_fails(f, "override deny bad.example 0 \xc3", "UTF-8");
	command_fails(f, "override deny bad.example 0 \xed\xa0\x80", "UTF-8");
	out = fixture_control(f->e, "override list", true);
	assert_null(strstr(out, "bad.example"));
	free(out);
}

static void
expires_is(struct fixture *f, const char *name, long long want)
{
	char *out = fixture_control(f->e, "override list", true);
	char line[160];

	snprintf(line, sizeof(line), "%s deny added=", name);
	if (!strstr(out, line))
		fail_msg("no %s in:\n%s", name, out);
	snprintf(line, sizeof(line), " expires=%lld", want);
	if (!strstr(strstr(out, name), line))
		fail_msg("%s does not expire at %lld:\n%s", name, want, out);
	free(out);
}

static void
test_ttl_takes_unit_suffixes(void **state)
{
	struct fixture *f = *state;

	command_is(f, "override deny s.example 90", "ok\n");
	expires_is(f, "s.example", NOW + 90);
	command_is(f, "override deny s2.example 90s", "ok\n");
	expires_is(f, "s2.example", NOW + 90);
	command_is(f, "override deny m.example 5m", "ok\n");
	expires_is(f, "m.example", NOW + 300);
	command_is(f, "override deny h.example 2h why not", "ok\n");
	expires_is(f, "h.example", NOW + 7200);
	command_is(f, "override deny d.example 1d", "ok\n");
	expires_is(f, "d.example", NOW + 86400);
	command_is(f, "override deny p.example 0", "ok\n");
	expires_is(f, "p.example", 0);
}

static void
test_ttl_garbage_is_refused(void **state)
{
	struct fixture *f = *state;
	char *out;

	command_fails(f, "override deny x.example abc", "ttl");
	command_fails(f, "override deny x.example 1x", "ttl");
	command_fails(f, "override deny x.example 1dd", "ttl");
	command_fails(f, "override deny x.example -5", "ttl");
	command_fails(f, "override deny x.example d", "ttl");
	command_fails(f, "override deny x.example 99999999999999999999", "ttl");
	command_fails(f, "override deny x.example 3651d", "ttl");
	out = fixture_control(f->e, "override list", true);
	assert_null(strstr(out, "x.example"));
	free(out);
}

/* A list right after start comes after the writer's load of
 * overrides.json, not in the middle of it. */
static void
test_list_after_start_shows_loaded_overrides(void **state)
{
	struct fixture *f = *state;
	char text[8192] = "{\"version\":1,\"overrides\":[";
	char *out;

	for (int i = 0; i < 100; i++) {
		size_t at = strlen(text);
		snprintf(text + at, sizeof(text) - at,
			"%s{\"name\":\"n%d.example\",\"action\":\"deny\","
			"\"added\":1,\"expires\":0,\"comment\":\"\"}",
			i ? "," : "", i);
	}
	strcat(text, "]}");
	fixture_write_file(f->json, text);
	tapir_engine_destroy(f->e);
	f->e = tapir_engine_create(f->yaml);
	assert_non_null(f->e);
	assert_int_equal(tapir_engine_start(f->e), 0);
	out = fixture_control(f->e, "override list", true);
	if (!strstr(out, "n0.example deny") || !strstr(out, "n99.example deny"))
		fail_msg("override list right after start:\n%s", out);
	free(out);
}

static int
open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* overrides.json cannot be replaced (a non-empty directory stands in its
 * place, which rename() refuses even to root): every save fails, says so
 * in status, and leaves no descriptor and no temporary file behind. */
static void
test_failed_save_leaks_no_descriptor(void **state)
{
	struct fixture *f = *state;
	char sub[192], line[128], *out;
	int before;

	snprintf(sub, sizeof(sub), "%s/x", f->json);
	assert_int_equal(mkdir(f->json, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	before = open_fds();
	for (int i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "override deny n%d.example 1h", i);
		command_is(f, line, "ok\n");
	}
	assert_int_equal(open_fds(), before);
	out = fixture_control(f->e, "status", true);
	assert_non_null(strstr(out, "(overrides are not kept)"));
	free(out);
	out = fixture_control(f->e, "override list", true);
	assert_non_null(strstr(out, "n19.example deny"));
	free(out);
	rmdir(sub);
	rmdir(f->json);
	/* Nothing but the directories made above was left in state/. */
	assert_int_equal(rmdir(f->state), 0);
	assert_int_equal(mkdir(f->state, 0700), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_long_comment_is_cut_on_a_character_boundary),
		T(test_comment_that_is_not_utf8_is_refused),
		T(test_ttl_takes_unit_suffixes),
		T(test_ttl_garbage_is_refused),
		T(test_list_after_start_shows_loaded_overrides),
		T(test_failed_save_leaks_no_descriptor),
	};

	return cmocka_run_group_tests(tests, fixture_group_setup, NULL);
}
