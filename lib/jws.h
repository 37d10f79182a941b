/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JWS (RFC 7515) verification of TAPIR messages against a keyring of trusted
 * keys read from a JWKS file, and signing for tools and tests.
 *
 * Accepted: the flattened JSON serialization {"payload","protected",
 * "signature"} and the compact form "a.b.c"; base64url without padding.
 * The protected header's "kid" selects a key; the key's "use" must be absent
 * or "sig"; the key's "alg" must be present and equal the header's "alg".
 * Algorithms: EdDSA (Ed25519, libsodium) and ES256 (ECDSA P-256 with SHA-256,
 * OpenSSL libcrypto, signature as the 64-byte R||S of RFC 7518 §3.4).
 * The signature is checked over the exact bytes received ("protected" "."
 * "payload"), before anything in the payload is looked at.
 *
 * Thread safety: a keyring is immutable after loading and may be shared by
 * any number of threads; replace it by loading a new one.
 */
#ifndef TAPIR_JWS_H
#define TAPIR_JWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tapir.h"

/* Largest JWS accepted: more than any TAPIR message, bounds all work. */
#define TAPIR_JWS_MAX_SIZE (1024 * 1024)

struct tapir_keyring;

/**
 * Load trusted public keys from a JWKS document ({"keys":[...]}).
 * Keys of unknown type, curve or algorithm are skipped with a log line; a
 * document with no usable key is an error.
 * @return: a keyring (owned by the caller) or NULL with err filled.
 */
struct tapir_keyring *tapir_keyring_load(
	const char *buf, size_t len, struct tapir_error *err);

/** tapir_keyring_load() on a file's contents. */
struct tapir_keyring *tapir_keyring_load_file(
	const char *path, struct tapir_error *err);

/** Number of usable keys. */
size_t tapir_keyring_count(const struct tapir_keyring *kr);

/** Free a keyring; NULL is fine. */
void tapir_keyring_destroy(struct tapir_keyring *kr);

/**
 * Verify a JWS and return its payload.
 * @param kr: trusted keys (borrowed).
 * @param buf, len: the message as received.
 * @param payload: on success, the decoded payload (owned by the caller,
 *	free()), NUL-terminated for convenience; NULL on failure.
 * @param payload_len: its length without the NUL.
 * @param kid: if not NULL, receives the key id used (NUL-terminated,
 *	truncated to the buffer); empty on failure before the header parsed.
 * @param err: reason on failure.
 * @return: 0, TAPIR_EUNSIGNED (not a JWS), TAPIR_EPARSE (bad base64 or
 *	header), TAPIR_EALG, TAPIR_ENOKEY, TAPIR_ESIG, TAPIR_ETOOBIG,
 *	TAPIR_ENOMEM.
 */
int tapir_jws_verify(const struct tapir_keyring *kr, const char *buf,
	size_t len, uint8_t **payload, size_t *payload_len, char kid[128],
	struct tapir_error *err) TAPIR_WUR;

struct tapir_signer;

/**
 * Load a private JWK (OKP/Ed25519 with "d", or EC/P-256 with "d"). The JWK
 * must carry "kid"; "alg" defaults to the key type's algorithm.
 * @return: a signer (owned by the caller) or NULL with err filled.
 */
struct tapir_signer *tapir_signer_load(
	const char *buf, size_t len, struct tapir_error *err);
struct tapir_signer *tapir_signer_load_file(
	const char *path, struct tapir_error *err);
void tapir_signer_destroy(struct tapir_signer *s);

/**
 * Sign a payload.
 * @param compact: false for flattened JSON, true for "a.b.c".
 * @param out: the JWS, NUL-terminated, owned by the caller (free()).
 * @return: 0 or a negative tapir_err.
 */
int tapir_jws_sign(const struct tapir_signer *s, const uint8_t *payload,
	size_t len, bool compact, char **out, size_t *outlen) TAPIR_WUR;

#endif
