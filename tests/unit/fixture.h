/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the engine's unit tests share (tests/unit/test_engine*.c, and
 * the state file's and the journal's): the library's set-up, a fresh
 * signing key, a file written whole, a silent log, a sleep, an engine
 * built from YAML text, a control command's answer, a configuration of
 * sources alone and an entry. Those that can fail fail the running
 * cmocka test, so a caller never checks. Called from the test's own
 * thread (cmocka's assertions jump back to it), never from an engine's.
 */
#ifndef TAPIR_TESTS_UNIT_FIXTURE_H
#define TAPIR_TESTS_UNIT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tapir.h"

struct tapir_config;
struct tapir_engine;
struct tapir_entry;

/**
 * A fresh Ed25519 key pair of id kid: its private JWK into jwk and,
 * unless pub is NULL, a JWKS of its public half into pub.
 */
void fixture_make_key(const char *kid, char *jwk, size_t jwk_size, char *pub,
	size_t pub_size);

/** A cmocka group setup: tapir_lib_init(), which every engine needs. */
int fixture_group_setup(void **state);

/** Writes text to path, replacing what was there. */
void fixture_write_file(const char *path, const char *text);

/** len bytes, written whole (binary, NUL bytes and all). */
void fixture_write_bytes(const char *path, const void *data, size_t len);

/** A log sink that drops every line: tapir_log_set(fixture_quiet_log, NULL). */
void fixture_quiet_log(void *arg, enum tapir_log_level level, const char *msg);

/** Sleeps ms milliseconds. */
void fixture_sleep_ms(int ms);

/**
 * An active engine, not started, of the configuration in yaml (parsed as
 * "test.yaml"); the caller destroys it.
 */
struct tapir_engine *fixture_engine_yaml(const char *yaml);

/**
 * The answer to a control command from a privileged peer, which must
 * answer something; the caller frees it.
 */
char *fixture_command(struct tapir_engine *e, const char *line);

/**
 * The answer to a control command from a peer with or without the
 * privilege to change state: "" for an empty answer (an override list of
 * none); the caller frees it.
 */
char *fixture_control(
	struct tapir_engine *e, const char *line, bool privileged);

/** A source as the state file and the journal know it. */
struct fixture_src {
	const char *name;
	int list; /* enum tapir_list */
	int type; /* enum tapir_source_type */
};

/**
 * A configuration with only its sources set (what the state file and the
 * journal read): no owned pointers, so free() frees it.
 */
struct tapir_config *fixture_sources_config(
	const struct fixture_src *defs, size_t n);

/** An entry of source and list, with tags, expiry, flags, added at now
 * less 10 s less tags (so entries differ by their time too). */
struct tapir_entry fixture_entry(uint16_t source, uint8_t list, uint32_t tags,
	uint32_t expiry, uint8_t flags, uint32_t now);

/** A whole file, NUL-terminated, its length in *lenp; free() it. */
char *fixture_read_file(const char *path, size_t *lenp);

#endif
