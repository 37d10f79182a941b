/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/jws.c: the upstream DNS TAPIR vectors verify byte for byte,
 * signing round-trips in both serializations and both algorithms, every
 * single-bit change of a signed message is refused, and each rule of the
 * key selection (kid, alg, use) has a test. Vectors are read at run time
 * from $srcdir/tests/data/tapir-vectors/ (srcdir is set by make check).
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

#include <jansson.h>
#include <sodium.h>

#include "lib/jws.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

#define KID_A  "dkT85jeVnDuQ_xkhCgf4nfE1pT0LMgbpxduxhpYYjhg"
#define KID_EC "test-noalg"
#define B64V   sodium_base64_VARIANT_URLSAFE_NO_PADDING

static const char simple_payload[] = "{\"test\":1}\n";

/* data-new_qname_good.json upstream: pretty-printed, ends in a newline. */
static const char new_qname_payload[] =
	"{\n"
	"  \"flags\": 33155,\n"
	"  \"qclass\": 1,\n"
	"  \"qname\": \"dnstapir.xa.\",\n"
	"  \"qtype\": 28,\n"
	"  \"timestamp\": \"2026-03-23T11:50:07+00:00\",\n"
	"  \"type\": \"new_qname\",\n"
	"  \"version\": 0\n"
	"}\n";

static const char observation_payload[] =
	"{\"src_name\":\"dns-tapir\",\"creator\":\"observation-encoder\","
	"\"msg_type\":\"observation\",\"list_type\":\"doubtlist\",\"added\":"
	"[{\"name\":\"xn--exmple-cua.example.se\",\"time_added\":"
	"\"2026-07-20T09:15:02.123456789Z\",\"ttl\":3607,\"tag_mask\":1,"
	"\"extended_tags\":[]}],\"removed\":[],\"msg\":\"\",\"timestamp\":"
	"\"2026-07-20T09:15:02.123460512Z\",\"time_str\":\"\"}";

struct fixture {
	char *verkeys;	  /* verkeys-a.pub.json */
	char *signkey_a;  /* signkeys-a.json */
	char *signkey_ec; /* signkeys-noalg.json with "alg":"ES256" */
	char *jwks_both;  /* key a and the EC key, both with alg */
	struct tapir_keyring *kr;
	struct tapir_signer *ed;
	struct tapir_signer *ec;
	int log_lines;
	char last_log[512];
};

static void
capture_log(void *arg, enum tapir_log_level level, const char *msg)
{
	struct fixture *f = arg;

	(void)level;
	f->log_lines++;
	snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
}

static char *
vector_path(const char *name)
{
	const char *srcdir = getenv("srcdir");
	static char path[4096];

	snprintf(path, sizeof(path), "%s/tests/data/tapir-vectors/%s",
		srcdir ? srcdir : ".", name);
	return path;
}

static char *
read_vector(const char *name, size_t *lenp)
{
	size_t len;
	char *buf = fixture_read_file(vector_path(name), &len);

	if (lenp)
		*lenp = len;
	return buf;
}

static char *
dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_non_null(s);
	json_decref(j);
	return s;
}

static json_t *
load_json(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

/* The public half of a private JWK, as a JWKS entry. */
static json_t *
public_jwk(const char *private_jwk, const char *alg)
{
	json_t *j = load_json(private_jwk);

	json_object_del(j, "d");
	if (alg)
		json_object_set_new(j, "alg", json_string(alg));
	else
		json_object_del(j, "alg");
	return j;
}

static char *
jwks_of(json_t *k1, json_t *k2)
{
	json_t *keys = json_array();

	if (k1)
		json_array_append_new(keys, k1);
	if (k2)
		json_array_append_new(keys, k2);
	return dump(json_pack("{s:o}", "keys", keys));
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tapir_error err;
	json_t *ec;
	char *noalg;

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	tapir_log_set(capture_log, f);
	f->verkeys = read_vector("verkeys-a.pub.json", NULL);
	f->signkey_a = read_vector("signkeys-a.json", NULL);
	noalg = read_vector("signkeys-noalg.json", NULL);
	ec = load_json(noalg);
	free(noalg);
	json_object_set_new(ec, "alg", json_string("ES256"));
	f->signkey_ec = dump(ec);
	f->jwks_both = jwks_of(public_jwk(f->signkey_a, "EdDSA"),
		public_jwk(f->signkey_ec, "ES256"));

	f->kr = tapir_keyring_load(f->jwks_both, strlen(f->jwks_both), &err);
	assert_non_null(f->kr);
	assert_int_equal(tapir_keyring_count(f->kr), 2);
	f->ed = tapir_signer_load(f->signkey_a, strlen(f->signkey_a), &err);
	assert_non_null(f->ed);
	f->ec = tapir_signer_load(f->signkey_ec, strlen(f->signkey_ec), &err);
	assert_non_null(f->ec);
	f->log_lines = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tapir_log_set(NULL, NULL);
	tapir_keyring_destroy(f->kr);
	tapir_signer_destroy(f->ed);
	tapir_signer_destroy(f->ec);
	free(f->verkeys);
	free(f->signkey_a);
	free(f->signkey_ec);
	free(f->jwks_both);
	free(f);
	return 0;
}

static int
verify(const struct tapir_keyring *kr, const char *msg, size_t len,
	uint8_t **payload, size_t *plen, char *kid)
{
	struct tapir_error err;
	int rc = tapir_jws_verify(kr, msg, len, payload, plen, kid, &err);

	if (rc != 0) {
		assert_null(*payload);
		assert_int_equal(*plen, 0);
		assert_true(err.text[0] != '\0');
	}
	return rc;
}

/* Verify and throw the payload away; for tests about the error only. */
static int
verify_rc(const struct tapir_keyring *kr, const char *msg)
{
	uint8_t *payload = NULL;
	size_t plen = 99;
	int rc = verify(kr, msg, strlen(msg), &payload, &plen, NULL);

	free(payload);
	return rc;
}

static void
expect_vector(
	struct fixture *f, const char *file, const char *want, size_t want_len)
{
	struct tapir_keyring *kr;
	struct tapir_error err;
	uint8_t *payload;
	size_t len, plen;
	char kid[128];
	char *msg = read_vector(file, &len);

	kr = tapir_keyring_load(f->verkeys, strlen(f->verkeys), &err);
	assert_non_null(kr);
	assert_int_equal(tapir_keyring_count(kr), 1);
	assert_int_equal(verify(kr, msg, len, &payload, &plen, kid), 0);
	assert_int_equal(plen, want_len);
	assert_memory_equal(payload, want, want_len);
	assert_int_equal(payload[plen], '\0');
	assert_string_equal(kid, KID_A);
	free(payload);
	tapir_keyring_destroy(kr);
	free(msg);
}

static void
test_vector_data_simple_keeps_trailing_newline(void **state)
{
	expect_vector(*state, "data-simple_signed.json", simple_payload,
		strlen(simple_payload));
}

static void
test_vector_new_qname_verifies(void **state)
{
	expect_vector(*state, "data-new_qname_good_signed.json",
		new_qname_payload, strlen(new_qname_payload));
}

static void
test_vector_observation_verifies(void **state)
{
	expect_vector(*state, "observation-globally_new_signed.json",
		observation_payload, strlen(observation_payload));
}

static void
test_vector_keyring_load_file(void **state)
{
	struct tapir_error err;
	struct tapir_keyring *kr;

	(void)state;
	kr = tapir_keyring_load_file(vector_path("verkeys-a.pub.json"), &err);
	assert_non_null(kr);
	assert_int_equal(tapir_keyring_count(kr), 1);
	tapir_keyring_destroy(kr);
}

/* Ed25519 is deterministic: signing the vector's payload with the vector's
 * key must give the vector, which pins the header and member order. */
static void
test_sign_reproduces_upstream_vector(void **state)
{
	struct fixture *f = *state;
	size_t len, outlen;
	char *want = read_vector("data-simple_signed.json", &len);
	char *out;

	assert_int_equal(tapir_jws_sign(f->ed, (const uint8_t *)simple_payload,
				 strlen(simple_payload), false, &out, &outlen),
		0);
	assert_int_equal(outlen, strlen(out));
	assert_string_equal(out, want);
	free(out);
	free(want);
}

/* The vector turned into compact form, with whitespace around it. */
static void
test_vector_compact_with_whitespace_verifies(void **state)
{
	struct fixture *f = *state;
	char *msg = read_vector("data-simple_signed.json", NULL);
	json_t *j = load_json(msg);
	uint8_t *payload;
	size_t plen;
	char compact[1024];

	snprintf(compact, sizeof(compact), " \r\n%s.%s.%s\n",
		json_string_value(json_object_get(j, "protected")),
		json_string_value(json_object_get(j, "payload")),
		json_string_value(json_object_get(j, "signature")));
	assert_int_equal(
		verify(f->kr, compact, strlen(compact), &payload, &plen, NULL),
		0);
	assert_int_equal(plen, strlen(simple_payload));
	assert_memory_equal(payload, simple_payload, plen);
	free(payload);
	json_decref(j);
	free(msg);
}

static void
roundtrip(const struct tapir_keyring *kr, const struct tapir_signer *s,
	bool compact, const char *want_kid, const uint8_t *data, size_t len)
{
	uint8_t *payload;
	size_t plen, outlen;
	char *out, kid[128];

	assert_int_equal(
		tapir_jws_sign(s, data, len, compact, &out, &outlen), 0);
	assert_int_equal(strlen(out), outlen);
	if (compact)
		assert_true(out[0] != '{');
	else
		assert_memory_equal(out, "{\"payload\":\"", 12);
	assert_int_equal(verify(kr, out, outlen, &payload, &plen, kid), 0);
	assert_int_equal(plen, len);
	if (len)
		assert_memory_equal(payload, data, len);
	assert_int_equal(payload[plen], '\0');
	assert_string_equal(kid, want_kid);
	free(payload);
	free(out);
}

static void
test_roundtrip_eddsa_flattened(void **state)
{
	struct fixture *f = *state;

	roundtrip(f->kr, f->ed, false, KID_A, (const uint8_t *)simple_payload,
		strlen(simple_payload));
}

static void
test_roundtrip_eddsa_compact(void **state)
{
	struct fixture *f = *state;

	roundtrip(f->kr, f->ed, true, KID_A, (const uint8_t *)simple_payload,
		strlen(simple_payload));
}

static void
test_roundtrip_es256_flattened(void **state)
{
	struct fixture *f = *state;

	roundtrip(f->kr, f->ec, false, KID_EC,
		(const uint8_t *)observation_payload,
		strlen(observation_payload));
}

static void
test_roundtrip_es256_compact(void **state)
{
	struct fixture *f = *state;

	roundtrip(f->kr, f->ec, true, KID_EC,
		(const uint8_t *)observation_payload,
		strlen(observation_payload));
}

static void
test_roundtrip_empty_and_binary_payloads(void **state)
{
	struct fixture *f = *state;
	static const uint8_t binary[] = { 0, 1, 2, 0xff, 0, '\n', 0x80, 0 };

	roundtrip(f->kr, f->ed, false, KID_A, (const uint8_t *)"", 0);
	roundtrip(f->kr, f->ec, true, KID_EC, (const uint8_t *)"", 0);
	roundtrip(f->kr, f->ed, true, KID_A, binary, sizeof(binary));
	roundtrip(f->kr, f->ec, false, KID_EC, binary, sizeof(binary));
}

/* Where the string value of member starts and ends in a flattened JWS. */
static void
value_range(const char *msg, const char *member, size_t *start, size_t *end)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":\"", member);
	assert_non_null(p = strstr(msg, key));
	*start = (size_t)(p - msg) + strlen(key);
	assert_non_null(p = strchr(msg + *start, '"'));
	*end = (size_t)(p - msg);
}

/*
 * Flip each bit of each byte (libsodium test/default/verify1.c). Nothing
 * may verify. A change inside the payload or signature text must read as a
 * bad signature or malformed input, never as "not a JWS", so that a damaged
 * message is reported as damaged. A change inside the protected header can
 * also yield a well-formed header naming another alg or kid, which is
 * refused before any signature is computed: EALG and ENOKEY are right there.
 */
static void
flip_every_bit(const struct tapir_keyring *kr, const struct tapir_signer *s,
	bool compact)
{
	size_t len, prot[2], pay[2], sig[2];
	char *out, *copy;

	assert_int_equal(
		tapir_jws_sign(s, (const uint8_t *)observation_payload,
			strlen(observation_payload), compact, &out, &len),
		0);
	if (compact) {
		const char *d1 = strchr(out, '.'), *d2 = strrchr(out, '.');
		prot[0] = 0;
		prot[1] = (size_t)(d1 - out);
		pay[0] = prot[1] + 1;
		pay[1] = (size_t)(d2 - out);
		sig[0] = pay[1] + 1;
		sig[1] = len;
	} else {
		value_range(out, "protected", &prot[0], &prot[1]);
		value_range(out, "payload", &pay[0], &pay[1]);
		value_range(out, "signature", &sig[0], &sig[1]);
	}
	assert_non_null(copy = malloc(len));
	for (size_t i = 0; i < len; i++) {
		bool in_prot = i >= prot[0] && i < prot[1];
		bool in_rest = (i >= pay[0] && i < pay[1]) ||
			       (i >= sig[0] && i < sig[1]);

		for (int bit = 0; bit < 8; bit++) {
			uint8_t *payload = NULL;
			size_t plen;
			int rc;

			memcpy(copy, out, len);
			copy[i] = (char)(copy[i] ^ (1 << bit));
			rc = verify(kr, copy, len, &payload, &plen, NULL);
			if (rc == 0)
				fail_msg("byte %zu bit %d: verified", i, bit);
			if ((in_prot || in_rest) && rc != TAPIR_ESIG &&
				rc != TAPIR_EPARSE &&
				(in_rest || (rc != TAPIR_EALG &&
						    rc != TAPIR_ENOKEY)))
				fail_msg("byte %zu bit %d: %s", i, bit,
					tapir_strerror(rc));
		}
	}
	free(copy);
	free(out);
}

static void
test_every_bit_flip_fails_eddsa_flattened(void **state)
{
	struct fixture *f = *state;

	flip_every_bit(f->kr, f->ed, false);
}

static void
test_every_bit_flip_fails_eddsa_compact(void **state)
{
	struct fixture *f = *state;

	flip_every_bit(f->kr, f->ed, true);
}

static void
test_every_bit_flip_fails_es256_flattened(void **state)
{
	struct fixture *f = *state;

	flip_every_bit(f->kr, f->ec, false);
}

static void
test_every_bit_flip_fails_es256_compact(void **state)
{
	struct fixture *f = *state;

	flip_every_bit(f->kr, f->ec, true);
}

/* Every proper prefix of a signed message fails, in both forms. */
static void
test_every_truncation_fails(void **state)
{
	struct fixture *f = *state;

	for (int compact = 0; compact < 2; compact++) {
		size_t len;
		char *out;

		assert_int_equal(
			tapir_jws_sign(f->ed, (const uint8_t *)simple_payload,
				strlen(simple_payload), compact, &out, &len),
			0);
		for (size_t n = 0; n < len; n++) {
			uint8_t *payload = NULL;
			size_t plen;
			char *copy = malloc(n + 1);

			/* An exact-size copy lets valgrind see over-reads. */
			assert_non_null(copy);
			memcpy(copy, out, n);
			assert_int_not_equal(
				verify(f->kr, copy, n, &payload, &plen, NULL),
				0);
			free(copy);
		}
		free(out);
	}
}

/*
 * A flattened JWS with any protected header, signed with key a directly
 * through libsodium, so that header rules are tested with a signature that
 * is otherwise good. pay_b64 is the payload text as sent.
 */
static char *
craft(const char *header, const char *pay_b64)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t seed[crypto_sign_SEEDBYTES], sig[crypto_sign_BYTES];
	char prot[512], input[1024], sig_b64[128], *out;
	const char *d = "6-rgMb-lJYzWjDdrmys2-dvA56pYgsUKBj7HrUoNcaw";
	size_t n;

	assert_int_equal(sodium_base642bin(seed, sizeof(seed), d, strlen(d),
				 NULL, &n, NULL, B64V),
		0);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(prot, sizeof(prot), (const uint8_t *)header,
		strlen(header), B64V);
	snprintf(input, sizeof(input), "%s.%s", prot, pay_b64);
	crypto_sign_detached(
		sig, NULL, (const uint8_t *)input, strlen(input), sk);
	sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig), B64V);
	n = strlen(prot) + strlen(pay_b64) + strlen(sig_b64) + 64;
	assert_non_null(out = malloc(n));
	snprintf(out, n,
		"{\"payload\":\"%s\",\"protected\":\"%s\","
		"\"signature\":\"%s\"}",
		pay_b64, prot, sig_b64);
	return out;
}

static int
craft_rc(
	const struct tapir_keyring *kr, const char *header, const char *pay_b64)
{
	char *msg = craft(header, pay_b64);
	int rc = verify_rc(kr, msg);

	free(msg);
	return rc;
}

#define HDR_A	   "{\"alg\":\"EdDSA\",\"kid\":\"" KID_A "\"}"
#define PAY_SIMPLE "eyJ0ZXN0IjoxfQo"

static void
test_crafted_control_verifies(void **state)
{
	struct fixture *f = *state;

	/* Proves craft() itself is sound, so the failures below are real. */
	assert_int_equal(craft_rc(f->kr, HDR_A, PAY_SIMPLE), 0);
}

static void
test_unknown_kid_is_enokey(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err;
	struct tapir_signer *s;
	json_t *j = load_json(f->signkey_a);
	uint8_t *payload;
	size_t plen, len;
	char *jwk, *out, kid[128];

	json_object_set_new(j, "kid", json_string("no-such-key"));
	jwk = dump(j);
	assert_non_null(s = tapir_signer_load(jwk, strlen(jwk), &err));
	assert_int_equal(
		tapir_jws_sign(s, (const uint8_t *)"x", 1, false, &out, &len),
		0);
	assert_int_equal(
		verify(f->kr, out, len, &payload, &plen, kid), TAPIR_ENOKEY);
	/* The kid is reported once the header parsed, for the log line. */
	assert_string_equal(kid, "no-such-key");
	assert_int_equal(craft_rc(f->kr, "{\"alg\":\"EdDSA\"}", PAY_SIMPLE),
		TAPIR_ENOKEY);
	free(out);
	free(jwk);
	tapir_signer_destroy(s);
}

/* Upstream matches no key without "alg": such a key is skipped (with a log
 * line), and a message naming its kid finds no key. */
static void
test_key_without_alg_matches_nothing(void **state)
{
	struct fixture *f = *state;
	struct tapir_keyring *kr;
	struct tapir_signer *s;
	struct tapir_error err;
	char *noalg = read_vector("signkeys-noalg.json", NULL);
	char *jwks = jwks_of(
		public_jwk(noalg, NULL), public_jwk(f->signkey_a, "EdDSA"));
	size_t len;
	char *out;

	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(tapir_keyring_count(kr), 1);
	assert_int_equal(f->log_lines, 1);
	assert_non_null(strstr(f->last_log, "test-noalg"));
	assert_non_null(strstr(f->last_log, "no alg"));
	/* A private JWK without alg signs with its type's algorithm. */
	assert_non_null(s = tapir_signer_load(noalg, strlen(noalg), &err));
	assert_int_equal(
		tapir_jws_sign(s, (const uint8_t *)"x", 1, true, &out, &len),
		0);
	assert_int_equal(verify_rc(kr, out), TAPIR_ENOKEY);
	free(out);
	tapir_signer_destroy(s);
	tapir_keyring_destroy(kr);
	free(jwks);
	free(noalg);
}

static void
test_jwks_with_only_noalg_key_fails_to_load(void **state)
{
	struct tapir_error err;
	char *noalg = read_vector("signkeys-noalg.json", NULL);
	char *jwks = jwks_of(public_jwk(noalg, NULL), NULL);

	(void)state;
	assert_null(tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_true(err.text[0] != '\0');
	free(jwks);
	free(noalg);
}

static void
test_alg_mismatch_is_ealg(void **state)
{
	struct fixture *f = *state;

	/* Key a is EdDSA; a header claiming ES256 for it is refused before
	 * the signature is looked at. */
	assert_int_equal(
		craft_rc(f->kr, "{\"alg\":\"ES256\",\"kid\":\"" KID_A "\"}",
			PAY_SIMPLE),
		TAPIR_EALG);
	assert_int_equal(
		craft_rc(f->kr, "{\"alg\":\"EdDSA\",\"kid\":\"" KID_EC "\"}",
			PAY_SIMPLE),
		TAPIR_EALG);
}

static void
test_alg_none_hs256_and_missing_are_ealg(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
		craft_rc(f->kr, "{\"alg\":\"none\",\"kid\":\"" KID_A "\"}",
			PAY_SIMPLE),
		TAPIR_EALG);
	assert_int_equal(
		craft_rc(f->kr, "{\"alg\":\"HS256\",\"kid\":\"" KID_A "\"}",
			PAY_SIMPLE),
		TAPIR_EALG);
	assert_int_equal(craft_rc(f->kr, "{\"kid\":\"" KID_A "\"}", PAY_SIMPLE),
		TAPIR_EALG);
	assert_int_equal(craft_rc(f->kr, "{\"alg\":1,\"kid\":\"" KID_A "\"}",
				 PAY_SIMPLE),
		TAPIR_EALG);
	assert_int_equal(
		craft_rc(f->kr, "{\"alg\":\"eddsa\",\"kid\":\"" KID_A "\"}",
			PAY_SIMPLE),
		TAPIR_EALG);
}

static void
test_use_enc_key_is_unusable(void **state)
{
	struct fixture *f = *state;
	struct tapir_keyring *kr;
	struct tapir_error err;
	json_t *a = public_jwk(f->signkey_a, "EdDSA");
	char *jwks;

	json_object_set_new(a, "use", json_string("enc"));
	jwks = jwks_of(a, public_jwk(f->signkey_ec, "ES256"));
	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(tapir_keyring_count(kr), 1);
	assert_int_equal(f->log_lines, 1);
	assert_int_equal(craft_rc(kr, HDR_A, PAY_SIMPLE), TAPIR_ENOKEY);
	tapir_keyring_destroy(kr);
	free(jwks);
}

static void
test_key_ops_without_verify_is_unusable(void **state)
{
	struct fixture *f = *state;
	struct tapir_keyring *kr;
	struct tapir_error err;
	json_t *a = public_jwk(f->signkey_a, "EdDSA");
	char *jwks;

	json_object_set_new(a, "key_ops", json_pack("[s]", "sign"));
	jwks = jwks_of(a, public_jwk(f->signkey_ec, "ES256"));
	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(tapir_keyring_count(kr), 1);
	tapir_keyring_destroy(kr);
	free(jwks);
}

static void
test_keys_of_other_types_are_skipped(void **state)
{
	struct fixture *f = *state;
	struct tapir_keyring *kr;
	struct tapir_error err;
	static const char jwks[] =
		"{\"keys\":["
		"{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"AAAA\"},"
		"{\"kty\":\"EC\",\"kid\":\"c\",\"alg\":\"EdDSA\",\"crv\":\"P-256\"},"
		"{\"kty\":\"OKP\",\"kid\":\"x\",\"alg\":\"EdDSA\",\"crv\":\"X25519\","
		"\"x\":\"ujAA73AWVn8koDwy08ijnRZSL67sqOf1h4eLcf-7LiQ\"},"
		"{\"kty\":\"OKP\",\"kid\":\"s\",\"alg\":\"EdDSA\",\"crv\":\"Ed25519\","
		"\"x\":\"AAAA\"},"
		"{\"kty\":\"EC\",\"kid\":\"p\",\"alg\":\"ES256\",\"crv\":\"P-256\","
		"\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		"\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
		"\"not an object\","
		"{\"kty\":\"OKP\",\"alg\":\"EdDSA\",\"crv\":\"Ed25519\","
		"\"x\":\"ujAA73AWVn8koDwy08ijnRZSL67sqOf1h4eLcf-7LiQ\"},"
		"{\"kty\":\"OKP\",\"kid\":\"" KID_A "\",\"alg\":\"EdDSA\","
		"\"crv\":\"Ed25519\",\"use\":\"sig\","
		"\"x\":\"ujAA73AWVn8koDwy08ijnRZSL67sqOf1h4eLcf-7LiQ\"}]}";

	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(tapir_keyring_count(kr), 1);
	assert_int_equal(f->log_lines, 7);
	assert_int_equal(craft_rc(kr, HDR_A, PAY_SIMPLE), 0);
	tapir_keyring_destroy(kr);
}

static void
test_duplicate_kid_keeps_first(void **state)
{
	struct fixture *f = *state;
	struct tapir_keyring *kr;
	struct tapir_error err;
	json_t *ec = public_jwk(f->signkey_ec, "ES256");
	char *jwks;

	json_object_set_new(ec, "kid", json_string(KID_A));
	jwks = jwks_of(public_jwk(f->signkey_a, "EdDSA"), ec);
	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(tapir_keyring_count(kr), 1);
	assert_non_null(strstr(f->last_log, "duplicate kid"));
	assert_int_equal(craft_rc(kr, HDR_A, PAY_SIMPLE), 0);
	tapir_keyring_destroy(kr);
	free(jwks);
}

/* A private JWK pasted into the trusted keys still verifies, with a
 * warning, since the file then holds a secret that it should not. */
static void
test_private_key_in_jwks_warns(void **state)
{
	struct fixture *f = *state;
	struct tapir_keyring *kr;
	struct tapir_error err;
	char *jwks = jwks_of(load_json(f->signkey_a), NULL);

	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(tapir_keyring_count(kr), 1);
	assert_int_equal(f->log_lines, 1);
	assert_non_null(strstr(f->last_log, "private"));
	assert_int_equal(craft_rc(kr, HDR_A, PAY_SIMPLE), 0);
	tapir_keyring_destroy(kr);
	free(jwks);
}

static void
test_padded_jwk_members_are_accepted(void **state)
{
	struct tapir_keyring *kr;
	struct tapir_error err;
	static const char jwks[] =
		"{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"" KID_A "\","
		"\"alg\":\"EdDSA\",\"crv\":\"Ed25519\","
		"\"x\":\"ujAA73AWVn8koDwy08ijnRZSL67sqOf1h4eLcf-7LiQ=\"}]}";

	(void)state;
	assert_non_null(kr = tapir_keyring_load(jwks, strlen(jwks), &err));
	assert_int_equal(craft_rc(kr, HDR_A, PAY_SIMPLE), 0);
	tapir_keyring_destroy(kr);
}

static void
test_crit_header_is_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(craft_rc(f->kr,
				 "{\"alg\":\"EdDSA\",\"kid\":\"" KID_A
				 "\",\"crit\":[\"b64\"],\"b64\":false}",
				 PAY_SIMPLE),
		TAPIR_EPARSE);
	assert_int_equal(
		craft_rc(f->kr,
			"{\"alg\":\"EdDSA\",\"kid\":\"" KID_A "\",\"crit\":[]}",
			PAY_SIMPLE),
		TAPIR_EPARSE);
}

static void
test_bad_protected_header_is_eparse(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
		craft_rc(f->kr, "[\"EdDSA\"]", PAY_SIMPLE), TAPIR_EPARSE);
	assert_int_equal(craft_rc(f->kr, "{\"alg\":\"EdDSA\"", PAY_SIMPLE),
		TAPIR_EPARSE);
	assert_int_equal(craft_rc(f->kr,
				 "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\","
				 "\"kid\":\"" KID_A "\"}",
				 PAY_SIMPLE),
		TAPIR_EPARSE);
	assert_int_equal(
		craft_rc(f->kr, "{\"alg\":\"EdDSA\",\"kid\":7}", PAY_SIMPLE),
		TAPIR_EPARSE);
	assert_int_equal(craft_rc(f->kr, "", PAY_SIMPLE), TAPIR_EPARSE);
}

static void
test_unprotected_header_is_ignored(void **state)
{
	struct fixture *f = *state;
	char *msg = craft(HDR_A, PAY_SIMPLE);
	char buf[1024];

	/* A kid or alg outside the protected header changes nothing. */
	snprintf(buf, sizeof(buf),
		"{\"header\":{\"kid\":\"other\",\"alg\":\"none\"},%s", msg + 1);
	assert_int_equal(verify_rc(f->kr, buf), 0);
	free(msg);
}

static void
test_general_serialization_is_refused(void **state)
{
	struct fixture *f = *state;
	char *msg = craft(HDR_A, PAY_SIMPLE);
	json_t *j = load_json(msg), *g;
	char *general;

	g = json_pack("{s:O,s:[{s:O,s:O}]}", "payload",
		json_object_get(j, "payload"), "signatures", "protected",
		json_object_get(j, "protected"), "signature",
		json_object_get(j, "signature"));
	general = dump(g);
	assert_int_equal(verify_rc(f->kr, general), TAPIR_EPARSE);
	/* Also with the flattened members present. */
	json_object_set_new(j, "signatures", json_array());
	free(general);
	general = dump(j);
	assert_int_equal(verify_rc(f->kr, general), TAPIR_EPARSE);
	free(general);
	free(msg);
}

static void
test_unsigned_input_is_eunsigned(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(verify_rc(f->kr, simple_payload), TAPIR_EUNSIGNED);
	assert_int_equal(
		verify_rc(f->kr, observation_payload), TAPIR_EUNSIGNED);
	assert_int_equal(verify_rc(f->kr, new_qname_payload), TAPIR_EUNSIGNED);
	assert_int_equal(verify_rc(f->kr, ""), TAPIR_EUNSIGNED);
	assert_int_equal(verify_rc(f->kr, " \n\t"), TAPIR_EUNSIGNED);
	assert_int_equal(verify_rc(f->kr, "hello"), TAPIR_EUNSIGNED);
	assert_int_equal(verify_rc(f->kr, "[1,2]"), TAPIR_EUNSIGNED);
	assert_int_equal(verify_rc(f->kr, "example.com 3600"), TAPIR_EUNSIGNED);
}

static void
test_malformed_members_are_eparse(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(verify_rc(f->kr, "{\"payload\":\"x\"}"), TAPIR_EPARSE);
	assert_int_equal(verify_rc(f->kr, "{\"payload\":1,\"protected\":\"a\","
					  "\"signature\":\"b\"}"),
		TAPIR_EPARSE);
	assert_int_equal(verify_rc(f->kr, "{\"payload\":\"x\""), TAPIR_EPARSE);
	assert_int_equal(
		verify_rc(f->kr, "{\"payload\":\"a\",\"payload\":\"a\","
				 "\"protected\":\"a\",\"signature\":\"b\"}"),
		TAPIR_EPARSE);
	assert_int_equal(verify_rc(f->kr, "a.b.c.d"), TAPIR_EPARSE);
	assert_int_equal(verify_rc(f->kr, "a.b"), TAPIR_EPARSE);
	assert_int_equal(verify_rc(f->kr, "..."), TAPIR_EPARSE);
	assert_int_equal(verify_rc(f->kr, ".."), TAPIR_EPARSE);
}

/* Replace the member's value in a flattened JWS. */
static char *
with_member(const char *msg, const char *member, const char *value)
{
	json_t *j = load_json(msg);

	json_object_set_new(j, member, json_string(value));
	return dump(j);
}

static void
test_padding_and_bad_base64_are_eparse(void **state)
{
	struct fixture *f = *state;
	char *msg = craft(HDR_A, PAY_SIMPLE), *bad, text[256];
	json_t *j = load_json(msg);
	const char *prot = json_string_value(json_object_get(j, "protected"));
	const char *sig = json_string_value(json_object_get(j, "signature"));

	/* Signed over the padded text, so only the decoding can refuse it. */
	assert_int_equal(craft_rc(f->kr, HDR_A, PAY_SIMPLE "="), TAPIR_EPARSE);
	assert_int_equal(
		craft_rc(f->kr, HDR_A, "eyJ0ZXN0IjoxfQo+"), TAPIR_EPARSE);
	assert_int_equal(
		craft_rc(f->kr, HDR_A, "eyJ0ZXN0Ijox/Qo"), TAPIR_EPARSE);

	snprintf(text, sizeof(text), "%s==", sig);
	bad = with_member(msg, "signature", text);
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_EPARSE);
	free(bad);
	snprintf(text, sizeof(text), "%s=", prot);
	bad = with_member(msg, "protected", text);
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_EPARSE);
	free(bad);
	/* Standard alphabet instead of the URL-safe one. */
	snprintf(text, sizeof(text), "%s", sig);
	for (char *c = text; *c; c++)
		*c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
	if (strcmp(text, sig) != 0) {
		bad = with_member(msg, "signature", text);
		assert_int_equal(verify_rc(f->kr, bad), TAPIR_EPARSE);
		free(bad);
	}
	bad = with_member(msg, "signature", "not base64!");
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_EPARSE);
	free(bad);
	/* Compact form with a padded signature. */
	snprintf(text, sizeof(text), "%s.%s.%s=", prot, PAY_SIMPLE, sig);
	assert_int_equal(verify_rc(f->kr, text), TAPIR_EPARSE);
	json_decref(j);
	free(msg);
}

/*
 * libsodium 1.0.18 decodes any byte from 0x80 up as '_'; found by the
 * bit-flip test, where a compact JWS with 0xdf for '_' in its signature
 * verified. JSON catches it as bad UTF-8, so the compact form is the test.
 */
static void
test_high_bit_bytes_are_not_base64url(void **state)
{
	struct fixture *f = *state;
	char *msg = read_vector("data-simple_signed.json", NULL);
	json_t *j = load_json(msg);
	char compact[1024];
	size_t n;

	n = (size_t)snprintf(compact, sizeof(compact), "%s.%s.%s",
		json_string_value(json_object_get(j, "protected")),
		json_string_value(json_object_get(j, "payload")),
		json_string_value(json_object_get(j, "signature")));
	assert_int_equal(verify_rc(f->kr, compact), 0);
	for (size_t i = 0; i < n; i++) {
		if (compact[i] != '_')
			continue;
		for (int c = 0x80; c < 0x100; c++) {
			char copy[1024];

			memcpy(copy, compact, n + 1);
			copy[i] = (char)c;
			assert_int_equal(verify_rc(f->kr, copy), TAPIR_EPARSE);
		}
	}
	json_decref(j);
	free(msg);
}

static void
test_wrong_signature_length_is_eparse(void **state)
{
	struct fixture *f = *state;
	char *msg = craft(HDR_A, PAY_SIMPLE), *bad;

	bad = with_member(msg, "signature", "");
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_EPARSE);
	free(bad);
	/* 48 bytes: valid base64url, wrong size for Ed25519. */
	bad = with_member(msg, "signature",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_EPARSE);
	free(bad);
	free(msg);
}

static void
test_zero_signature_is_esig(void **state)
{
	struct fixture *f = *state;
	char zeros[90], *msg = craft(HDR_A, PAY_SIMPLE), *bad;
	static const uint8_t z[64];

	sodium_bin2base64(zeros, sizeof(zeros), z, sizeof(z), B64V);
	bad = with_member(msg, "signature", zeros);
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_ESIG);
	free(bad);
	free(msg);
	/* And for ES256, where r = s = 0 must not pass. */
	msg = craft("{\"alg\":\"ES256\",\"kid\":\"" KID_EC "\"}", PAY_SIMPLE);
	bad = with_member(msg, "signature", zeros);
	assert_int_equal(verify_rc(f->kr, bad), TAPIR_ESIG);
	free(bad);
	free(msg);
}

static void
test_oversized_is_etoobig(void **state)
{
	struct fixture *f = *state;
	size_t n = TAPIR_JWS_MAX_SIZE + 1, plen;
	char *big = malloc(n);
	uint8_t *payload, *data;
	char *out;

	assert_non_null(big);
	memset(big, 'A', n);
	assert_int_equal(
		verify(f->kr, big, n, &payload, &plen, NULL), TAPIR_ETOOBIG);
	/* At the limit the size is fine and the content is judged. */
	assert_int_not_equal(verify(f->kr, big, n - 1, &payload, &plen, NULL),
		TAPIR_ETOOBIG);
	free(big);
	/* The signer refuses what the verifier would refuse. */
	assert_non_null(data = calloc(1, TAPIR_JWS_MAX_SIZE));
	assert_int_equal(tapir_jws_sign(f->ed, data, TAPIR_JWS_MAX_SIZE, false,
				 &out, &plen),
		TAPIR_ETOOBIG);
	assert_null(out);
	free(data);
}

static void
test_bad_jwks_fails_with_text(void **state)
{
	static const char *bad[] = {
		"",
		"{",
		"[]",
		"{\"keys\":{}}",
		"{\"keys\":[]}",
		"{\"nokeys\":[]}",
		"{\"keys\":[],\"keys\":[]}",
		"{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"a\",\"alg\":\"EdDSA\","
		"\"crv\":\"Ed25519\",\"kid\":\"b\","
		"\"x\":\"ujAA73AWVn8koDwy08ijnRZSL67sqOf1h4eLcf-7LiQ\"}]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tapir_error err;

		memset(&err, 0, sizeof(err));
		assert_null(tapir_keyring_load(bad[i], strlen(bad[i]), &err));
		if (err.text[0] == '\0')
			fail_msg("JWKS %zu: no error text", i);
	}
	assert_int_equal(tapir_keyring_count(NULL), 0);
	tapir_keyring_destroy(NULL);
}

static void
test_missing_files_fail_with_text(void **state)
{
	struct tapir_error err;

	(void)state;
	assert_null(tapir_keyring_load_file("/nonexistent/keys.json", &err));
	assert_non_null(strstr(err.text, "/nonexistent/keys.json"));
	assert_null(tapir_signer_load_file("/nonexistent/key.jwk", &err));
	assert_non_null(strstr(err.text, "/nonexistent/key.jwk"));
}

static void
test_signer_load_file_vector(void **state)
{
	struct tapir_signer *s;
	struct tapir_error err;

	(void)state;
	s = tapir_signer_load_file(vector_path("signkeys-a.json"), &err);
	assert_non_null(s);
	tapir_signer_destroy(s);
	tapir_signer_destroy(NULL);
}

static void
test_bad_private_jwks_are_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const drop[] = { "kid", "d", "x", "kty", "crv" };
	struct tapir_error err;
	json_t *j;
	char *jwk;

	for (int ec = 0; ec < 2; ec++) {
		const char *base = ec ? f->signkey_ec : f->signkey_a;
		for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
			j = load_json(base);
			json_object_del(j, drop[i]);
			jwk = dump(j);
			assert_null(tapir_signer_load(jwk, strlen(jwk), &err));
			assert_true(err.text[0] != '\0');
			free(jwk);
		}
	}
	/* d of one key with x of another. */
	j = load_json(f->signkey_a);
	json_object_set_new(j, "d",
		json_string("3PFw8lSRpxtxVfgNT5dJXGyoIUTftCFVsPHJ9u59Igw"));
	jwk = dump(j);
	assert_null(tapir_signer_load(jwk, strlen(jwk), &err));
	free(jwk);
	j = load_json(f->signkey_ec);
	json_object_set_new(j, "d",
		json_string("6-rgMb-lJYzWjDdrmys2-dvA56pYgsUKBj7HrUoNcaw"));
	jwk = dump(j);
	assert_null(tapir_signer_load(jwk, strlen(jwk), &err));
	free(jwk);
	/* alg that does not fit the key type, use other than sig. */
	j = load_json(f->signkey_a);
	json_object_set_new(j, "alg", json_string("ES256"));
	jwk = dump(j);
	assert_null(tapir_signer_load(jwk, strlen(jwk), &err));
	free(jwk);
	j = load_json(f->signkey_a);
	json_object_set_new(j, "use", json_string("enc"));
	jwk = dump(j);
	assert_null(tapir_signer_load(jwk, strlen(jwk), &err));
	free(jwk);
	assert_null(tapir_signer_load("{", 1, &err));
	assert_null(tapir_signer_load("[]", 2, &err));
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_vector_data_simple_keeps_trailing_newline),
		T(test_vector_new_qname_verifies),
		T(test_vector_observation_verifies),
		T(test_vector_keyring_load_file),
		T(test_sign_reproduces_upstream_vector),
		T(test_vector_compact_with_whitespace_verifies),
		T(test_roundtrip_eddsa_flattened),
		T(test_roundtrip_eddsa_compact),
		T(test_roundtrip_es256_flattened),
		T(test_roundtrip_es256_compact),
		T(test_roundtrip_empty_and_binary_payloads),
		T(test_every_bit_flip_fails_eddsa_flattened),
		T(test_every_bit_flip_fails_eddsa_compact),
		T(test_every_bit_flip_fails_es256_flattened),
		T(test_every_bit_flip_fails_es256_compact),
		T(test_every_truncation_fails),
		T(test_crafted_control_verifies),
		T(test_unknown_kid_is_enokey),
		T(test_key_without_alg_matches_nothing),
		T(test_jwks_with_only_noalg_key_fails_to_load),
		T(test_alg_mismatch_is_ealg),
		T(test_alg_none_hs256_and_missing_are_ealg),
		T(test_use_enc_key_is_unusable),
		T(test_key_ops_without_verify_is_unusable),
		T(test_keys_of_other_types_are_skipped),
		T(test_duplicate_kid_keeps_first),
		T(test_private_key_in_jwks_warns),
		T(test_padded_jwk_members_are_accepted),
		T(test_crit_header_is_refused),
		T(test_bad_protected_header_is_eparse),
		T(test_unprotected_header_is_ignored),
		T(test_general_serialization_is_refused),
		T(test_unsigned_input_is_eunsigned),
		T(test_malformed_members_are_eparse),
		T(test_padding_and_bad_base64_are_eparse),
		T(test_high_bit_bytes_are_not_base64url),
		T(test_wrong_signature_length_is_eparse),
		T(test_zero_signature_is_esig),
		T(test_oversized_is_etoobig),
		T(test_bad_jwks_fails_with_text),
		T(test_missing_files_fail_with_text),
		T(test_signer_load_file_vector),
		T(test_bad_private_jwks_are_refused),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
