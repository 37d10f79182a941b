/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The helpers tests/unit/fixture.h declares: one copy for the engine's
 * unit tests, which had each kept their own.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/db.h"
#include "lib/engine.h"
#include "tests/unit/fixture.h"

#define B64V sodium_base64_VARIANT_URLSAFE_NO_PADDING

void
fixture_make_key(
	const char *kid, char *jwk, size_t jwk_size, char *pub, size_t pub_size)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char x[sodium_base64_ENCODED_LEN(sizeof(pk), B64V)];
	char d[sodium_base64_ENCODED_LEN(sizeof(seed), B64V)];

	randombytes_buf(seed, sizeof(seed));
	assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
	sodium_bin2base64(x, sizeof(x), pk, sizeof(pk), B64V);
	sodium_bin2base64(d, sizeof(d), seed, sizeof(seed), B64V);
	snprintf(jwk, jwk_size,
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
		"\"kid\":\"%s\",\"x\":\"%s\",\"d\":\"%s\"}",
		kid, x, d);
	if (pub)
		snprintf(pub, pub_size,
			"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
			"\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":\"%s\","
			"\"x\":\"%s\"}]}",
			kid, x);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
}

int
fixture_group_setup(void **state)
{
	(void)state;
	return tapir_lib_init() == 0 ? 0 : -1;
}

void
fixture_write_file(const char *path, const char *text)
{
	fixture_write_bytes(path, text, strlen(text));
}

void
fixture_write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

void
fixture_quiet_log(void *arg, enum tapir_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

void
fixture_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct tapir_engine *
fixture_engine_yaml(const char *yaml)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	struct tapir_engine *e;

	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "test.yaml", &err)))
		fail_msg("config: %s", err.text);
	e = tapir_engine_create_take(cfg);
	assert_non_null(e);
	assert_true(tapir_engine_active(e));
	return e;
}

char *
fixture_command(struct tapir_engine *e, const char *line)
{
	struct tapir_buf out = { 0 };

	tapir_engine_command(e, line, &out);
	assert_false(out.failed);
	assert_non_null(out.data);
	return out.data;
}

char *
fixture_control(struct tapir_engine *e, const char *line, bool privileged)
{
	struct tapir_control_peer peer = {
		.pid = 1, .uid = 65534, .gid = 65534, .privileged = privileged
	};
	struct tapir_buf out = { 0 };

	tapir_engine_control(e, line, &peer, &out);
	assert_false(out.failed);
	/* An empty answer (override list of none) has no data. */
	return out.data ? out.data : strdup("");
}

struct tapir_config *
fixture_sources_config(const struct fixture_src *defs, size_t n)
{
	struct tapir_config *cfg = calloc(1, sizeof(*cfg));

	assert_non_null(cfg);
	for (size_t i = 0; i < n; i++) {
		snprintf(cfg->sources[i].name, sizeof(cfg->sources[i].name),
			"%s", defs[i].name);
		cfg->sources[i].list = (enum tapir_list)defs[i].list;
		cfg->sources[i].type = (enum tapir_source_type)defs[i].type;
	}
	cfg->n_sources = n;
	return cfg;
}

struct tapir_entry
fixture_entry(uint16_t source, uint8_t list, uint32_t tags, uint32_t expiry,
	uint8_t flags, uint32_t now)
{
	struct tapir_entry e;

	memset(&e, 0, sizeof(e));
	e.source = source;
	e.list = list;
	e.tags = tags;
	e.expiry = expiry;
	e.added = now - 10 - tags;
	e.flags = flags;
	return e;
}

char *
fixture_read_file(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		fail_msg("cannot open %s (is srcdir set?)", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*lenp = (size_t)n;
	return buf;
}
