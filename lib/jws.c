/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JWS (RFC 7515) verification against a JWKS keyring, and signing, for the
 * two algorithms DNS TAPIR uses: EdDSA over Ed25519 (RFC 8037, libsodium)
 * and ES256 (RFC 7518 §3.4, OpenSSL libcrypto). The signature is checked over
 * the protected and payload texts exactly as received, and the payload is
 * decoded only after it verified. Base64url in messages must be canonical
 * (no padding, no stray bits), so that one accepted message has exactly one
 * spelling; the trusted key file may carry padding. Keyrings and signers are
 * immutable after loading, so any number of threads may use one at once.
 */
#include "tapir_build.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "lib/fileio.h"
#include "lib/jws.h"

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define KID_MAX	    128
#define SIG_MAX	    64
#define P256_BYTES  32

enum jws_alg {
	ALG_EDDSA = 1,
	ALG_ES256,
};

/* What each algorithm name requires of a JWK: RFC 8037 §2, RFC 7518 §6.2. */
static const struct {
	const char *name;
	const char *kty;
	const char *crv;
	enum jws_alg alg;
	size_t sig_len;
} algs[] = {
	{ "EdDSA", "OKP", "Ed25519", ALG_EDDSA, crypto_sign_BYTES },
	{ "ES256", "EC", "P-256", ALG_ES256, 2 * P256_BYTES },
};

struct jws_key {
	char kid[KID_MAX];
	enum jws_alg alg;
	uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES];
	EVP_PKEY *ec; /* owned; read-only after load */
};

struct tapir_keyring {
	size_t count;
	struct jws_key *keys; /* owned, count entries */
};

struct tapir_signer {
	char kid[KID_MAX];
	enum jws_alg alg;
	uint8_t ed_sk[crypto_sign_SECRETKEYBYTES];
	EVP_PKEY *ec; /* owned */
};

/* The three texts of a JWS, pointing into the input or into root. */
struct jws_parts {
	const char *prot, *pay, *sig;
	size_t prot_len, pay_len, sig_len;
	const char *input; /* prot "." pay, the bytes signed */
	size_t input_len;
	char *input_buf; /* owned copy for the JSON form */
	json_t *root;	 /* owned, the flattened JSON document */
};

/*
 * The module sets the libraries up in its init as well; this covers tools
 * and tests. Every path to verification passes through a load, so the
 * loads are the only callers.
 */
static int
crypto_ready(struct tapir_error *err)
{
	if (tapir_lib_init() != 0)
		return tapir_error_set(
			err, TAPIR_ENOMEM, 0, "libsodium failed to initialise");
	return 0;
}

static void
error_reset(struct tapir_error *err)
{
	if (err) {
		err->line = 0;
		err->offset = 0;
		err->text[0] = '\0';
	}
}

/* Copy untrusted text for a log or error line: printable, bounded. */
static const char *
printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int
alg_index(const char *name)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const char *
alg_name(enum jws_alg alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return "?";
}

static size_t
alg_sig_len(enum jws_alg alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return algs[i].sig_len;
	return 0;
}

/*
 * libsodium 1.0.18's URL-safe decoder takes any byte from 0x80 up as '_'
 * (value 63), so one flipped high bit would leave a signature valid. Every
 * character is checked against the alphabet first.
 */
static bool
all_b64url(const char *in, size_t inlen)
{
	for (size_t i = 0; i < inlen; i++)
		if (!is_b64url(in[i]))
			return false;
	return true;
}

/*
 * Decode canonical base64url into a malloc'd buffer with a NUL after the
 * bytes. libsodium rejects '=' and nonzero bits after the last byte, so a
 * changed character never decodes to the same bytes.
 */
static int
b64_decode_alloc(const char *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	size_t max = inlen / 4 * 3 + 3, n = 0;
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (!all_b64url(in, inlen))
		return TAPIR_EPARSE;
	if (!(buf = malloc(max + 1)))
		return TAPIR_ENOMEM;
	if (sodium_base642bin(
		    buf, max, in, inlen, NULL, &n, NULL, B64_VARIANT) != 0) {
		free(buf);
		return TAPIR_EPARSE;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* Decode exactly len bytes; anything longer or shorter fails. */
static int
b64_decode_exact(const char *in, size_t inlen, uint8_t *out, size_t len)
{
	size_t n = 0;

	if (!all_b64url(in, inlen) ||
		sodium_base642bin(out, len, in, inlen, NULL, &n, NULL,
			B64_VARIANT) != 0 ||
		n != len)
		return TAPIR_EPARSE;
	return 0;
}

/*
 * A fixed-size JWK member. RFC 7517 forbids padding, but some key tools
 * write it and the key file is trusted configuration, so up to two '=' are
 * dropped here (never in messages).
 */
static int
jwk_bytes(const json_t *jwk, const char *member, uint8_t *out, size_t len)
{
	const json_t *v = json_object_get(jwk, member);
	const char *s = json_string_value(v);
	size_t slen;

	if (!s)
		return TAPIR_EPARSE;
	slen = json_string_length(v);
	for (int i = 0; i < 2 && slen > 0 && s[slen - 1] == '='; i++)
		slen--;
	return b64_decode_exact(s, slen, out, len);
}

static const char *
jwk_string(const json_t *jwk, const char *member)
{
	return json_string_value(json_object_get(jwk, member));
}

/*
 * A P-256 key from JWK coordinates (and the private scalar for signing).
 * OpenSSL checks that the point is on the curve when importing it; the
 * explicit checks also catch a private scalar that does not match x and y.
 */
static EVP_PKEY *
ec_key_from_jwk(const json_t *jwk, bool private)
{
	uint8_t point[1 + 2 * P256_BYTES], d[P256_BYTES];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn = NULL;
	bool ok = false;

	point[0] = 0x04; /* uncompressed: 0x04 || x || y (SEC 1 §2.3.3) */
	if (jwk_bytes(jwk, "x", point + 1, P256_BYTES) != 0 ||
		jwk_bytes(jwk, "y", point + 1 + P256_BYTES, P256_BYTES) != 0)
		return NULL;
	if (private) {
		if (jwk_bytes(jwk, "d", d, sizeof(d)) != 0)
			return NULL;
		bn = BN_bin2bn(d, sizeof(d), NULL);
		sodium_memzero(d, sizeof(d));
		if (!bn)
			goto out_free;
	}
	if (!(bld = OSSL_PARAM_BLD_new()) ||
		!OSSL_PARAM_BLD_push_utf8_string(
			bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
		!OSSL_PARAM_BLD_push_octet_string(
			bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) ||
		(bn && !OSSL_PARAM_BLD_push_BN(
			       bld, OSSL_PKEY_PARAM_PRIV_KEY, bn)) ||
		!(params = OSSL_PARAM_BLD_to_param(bld)))
		goto out_free;
	if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
		EVP_PKEY_fromdata_init(ctx) != 1 ||
		EVP_PKEY_fromdata(ctx, &pkey,
			private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
			params) != 1)
		goto out_free;
	if (!(check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)))
		goto out_free;
	ok = private ? EVP_PKEY_check(check) == 1
		     : EVP_PKEY_public_check(check) == 1;
out_free:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	if (!ok) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	/* Leave no stale errors for whoever uses OpenSSL next on this thread
	 * (Unbound does, for TLS). */
	ERR_clear_error();
	return pkey;
}

/*
 * One JWKS entry into *key. Returns NULL when usable, or the reason for the
 * log line that says why it was skipped.
 */
static const char *
key_from_jwk(const json_t *jwk, struct jws_key *key)
{
	const char *kty, *kid, *use, *alg, *crv;
	const json_t *ops;
	size_t i;
	int a;

	if (!json_is_object(jwk))
		return "not a JSON object";
	if (!(kid = jwk_string(jwk, "kid")) || !*kid)
		return "no kid";
	if (json_string_length(json_object_get(jwk, "kid")) >= KID_MAX)
		return "kid too long";
	if (json_object_get(jwk, "use") &&
		(!(use = jwk_string(jwk, "use")) || strcmp(use, "sig") != 0))
		return "use is not \"sig\"";
	if ((ops = json_object_get(jwk, "key_ops"))) {
		const json_t *op;
		bool verify = false;
		if (!json_is_array(ops))
			return "key_ops is not an array";
		json_array_foreach(ops, i, op)
		{
			if (json_is_string(op) &&
				strcmp(json_string_value(op), "verify") == 0)
				verify = true;
		}
		if (!verify)
			return "key_ops lacks \"verify\"";
	}
	/* Upstream matches no key without "alg", and an algorithm taken from
	 * the key type would let a message choose among several. */
	if (!(alg = jwk_string(jwk, "alg")))
		return "no alg";
	if ((a = alg_index(alg)) < 0)
		return "unsupported alg";
	if (!(kty = jwk_string(jwk, "kty")) || strcmp(kty, algs[a].kty) != 0)
		return "kty does not fit alg";
	if (!(crv = jwk_string(jwk, "crv")) || strcmp(crv, algs[a].crv) != 0)
		return "crv does not fit alg";

	memset(key, 0, sizeof(*key));
	snprintf(key->kid, sizeof(key->kid), "%s", kid);
	key->alg = algs[a].alg;
	switch (key->alg) {
	case ALG_EDDSA:
		if (jwk_bytes(jwk, "x", key->ed_pk, sizeof(key->ed_pk)) != 0)
			return "x is not a 32-byte base64url value";
		break;
	case ALG_ES256:
		if (!(key->ec = ec_key_from_jwk(jwk, false)))
			return "x, y are not a P-256 point";
		break;
	}
	return NULL;
}

static void
keys_free(struct jws_key *keys, size_t count)
{
	for (size_t i = 0; i < count; i++)
		EVP_PKEY_free(keys[i].ec);
	free(keys);
}

static const struct jws_key *
keyring_find(const struct tapir_keyring *kr, const char *kid, size_t kid_len)
{
	if (kid_len >= KID_MAX)
		return NULL;
	for (size_t i = 0; i < kr->count; i++)
		if (strcmp(kr->keys[i].kid, kid) == 0)
			return &kr->keys[i];
	return NULL;
}

struct tapir_keyring *
tapir_keyring_load(const char *buf, size_t len, struct tapir_error *err)
{
	struct tapir_keyring *kr = NULL;
	json_error_t jerr;
	json_t *root, *keys, *jwk;
	size_t i;

	error_reset(err);
	if (crypto_ready(err) != 0)
		return NULL;
	if (!buf) {
		tapir_error_set(err, TAPIR_EINVAL, 0, "no JWKS");
		return NULL;
	}
	if (len > TAPIR_JWS_MAX_SIZE) {
		tapir_error_set(err, TAPIR_ETOOBIG, 0, "JWKS over %d bytes",
			TAPIR_JWS_MAX_SIZE);
		return NULL;
	}
	if (!(root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr))) {
		tapir_error_set(err, TAPIR_EPARSE, (size_t)jerr.position,
			"JWKS: %s", jerr.text);
		if (err)
			err->line = jerr.line;
		return NULL;
	}
	if (!json_is_array(keys = json_object_get(root, "keys"))) {
		tapir_error_set(
			err, TAPIR_EPARSE, 0, "JWKS has no \"keys\" array");
		goto out_free_root;
	}
	if (!(kr = calloc(1, sizeof(*kr))) ||
		(json_array_size(keys) &&
			!(kr->keys = calloc(
				  json_array_size(keys), sizeof(*kr->keys))))) {
		tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		goto out_free_kr;
	}
	json_array_foreach(keys, i, jwk)
	{
		struct jws_key *key = &kr->keys[kr->count];
		const char *why = key_from_jwk(jwk, key);
		const char *kid = jwk_string(jwk, "kid");
		char show[KID_MAX];

		printable(show, sizeof(show), kid ? kid : "");
		if (!why && keyring_find(kr, key->kid, strlen(key->kid)))
			why = "duplicate kid";
		if (why) {
			EVP_PKEY_free(key->ec);
			memset(key, 0, sizeof(*key));
			tapir_log(TAPIR_LOG_WARN,
				"JWKS key %zu (kid \"%s\") skipped: %s", i,
				show, why);
			continue;
		}
		if (json_object_get(jwk, "d"))
			tapir_log(TAPIR_LOG_WARN,
				"JWKS key \"%s\" has a private part \"d\"",
				show);
		kr->count++;
	}
	if (kr->count == 0) {
		tapir_error_set(err, TAPIR_ENOKEY, 0,
			"JWKS has no usable signature key");
		goto out_free_kr;
	}
	json_decref(root);
	return kr;

out_free_kr:
	tapir_keyring_destroy(kr);
	kr = NULL;
out_free_root:
	json_decref(root);
	return kr;
}

struct tapir_keyring *
tapir_keyring_load_file(const char *path, struct tapir_error *err)
{
	struct tapir_keyring *kr;
	char *buf;
	size_t len;

	error_reset(err);
	if (tapir_fileio_read(path, TAPIR_JWS_MAX_SIZE, 0, &buf, &len, err) < 0)
		return NULL;
	kr = tapir_keyring_load(buf, len, err);
	free(buf);
	return kr;
}

size_t
tapir_keyring_count(const struct tapir_keyring *kr)
{
	return kr ? kr->count : 0;
}

void
tapir_keyring_destroy(struct tapir_keyring *kr)
{
	if (!kr)
		return;
	keys_free(kr->keys, kr->count);
	free(kr);
}

/*
 * Split "prot.pay.sig". Text made only of base64url and dots but with the
 * wrong number of parts is a damaged JWS (EPARSE); other text is not one.
 */
static int
split_compact(const char *buf, size_t len, size_t skip, struct jws_parts *p,
	struct tapir_error *err)
{
	const char *dot[2];
	size_t dots = 0;
	bool only_b64 = true;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '.') {
			if (dots < 2)
				dot[dots] = buf + i;
			dots++;
		} else if (!is_b64url(buf[i])) {
			only_b64 = false;
		}
	}
	if (dots != 2) {
		if (dots > 0 && only_b64)
			return tapir_error_set(err, TAPIR_EPARSE, skip,
				"compact JWS with %zu parts instead of 3",
				dots + 1);
		return tapir_error_set(err, TAPIR_EUNSIGNED, skip,
			"neither JWS JSON nor compact JWS");
	}
	p->prot = buf;
	p->prot_len = (size_t)(dot[0] - buf);
	p->pay = dot[0] + 1;
	p->pay_len = (size_t)(dot[1] - p->pay);
	p->sig = dot[1] + 1;
	p->sig_len = (size_t)(buf + len - p->sig);
	p->input = buf;
	p->input_len = (size_t)(dot[1] - buf);
	return 0;
}

static int
split_json(const char *buf, size_t len, struct jws_parts *p,
	struct tapir_error *err)
{
	const json_t *prot, *pay, *sig;
	json_error_t jerr;

	if (!(p->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr))) {
		tapir_error_set(err, TAPIR_EPARSE, (size_t)jerr.position,
			"JWS JSON: %s", jerr.text);
		if (err)
			err->line = jerr.line;
		return TAPIR_EPARSE;
	}
	if (!json_is_object(p->root))
		return tapir_error_set(
			err, TAPIR_EUNSIGNED, 0, "JSON is not an object");
	if (json_object_get(p->root, "signatures"))
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"general JWS JSON serialization is not supported");
	pay = json_object_get(p->root, "payload");
	prot = json_object_get(p->root, "protected");
	sig = json_object_get(p->root, "signature");
	if (!pay && !prot && !sig)
		return tapir_error_set(err, TAPIR_EUNSIGNED, 0,
			"JSON without payload, protected and signature");
	if (!json_is_string(pay) || !json_is_string(prot) ||
		!json_is_string(sig))
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"JWS JSON needs string payload, protected and signature");
	p->prot = json_string_value(prot);
	p->prot_len = json_string_length(prot);
	p->pay = json_string_value(pay);
	p->pay_len = json_string_length(pay);
	p->sig = json_string_value(sig);
	p->sig_len = json_string_length(sig);

	/* Both lengths are below TAPIR_JWS_MAX_SIZE: no overflow. */
	p->input_len = p->prot_len + 1 + p->pay_len;
	if (!(p->input_buf = malloc(p->input_len)))
		return tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
	memcpy(p->input_buf, p->prot, p->prot_len);
	p->input_buf[p->prot_len] = '.';
	memcpy(p->input_buf + p->prot_len + 1, p->pay, p->pay_len);
	p->input = p->input_buf;
	return 0;
}

/*
 * Read the protected header and pick the key: kid selects, and the key's
 * own alg must be the header's, so a message cannot choose the algorithm.
 */
static int
select_key(const struct tapir_keyring *kr, const struct jws_parts *p,
	const struct jws_key **keyp, char *kid, struct tapir_error *err)
{
	const json_t *alg_v, *kid_v;
	const struct jws_key *key;
	char show[KID_MAX];
	json_error_t jerr;
	json_t *hdr;
	uint8_t *text;
	size_t text_len;
	int rc, a;

	if ((rc = b64_decode_alloc(p->prot, p->prot_len, &text, &text_len)))
		return tapir_error_set(
			err, rc, 0, "protected header is not base64url");
	hdr = json_loadb(
		(const char *)text, text_len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!hdr || !json_is_object(hdr)) {
		rc = tapir_error_set(err, TAPIR_EPARSE, 0,
			"protected header is not a JSON object");
		goto out_free_hdr;
	}
	kid_v = json_object_get(hdr, "kid");
	if (kid_v && !json_is_string(kid_v)) {
		rc = tapir_error_set(
			err, TAPIR_EPARSE, 0, "kid is not a string");
		goto out_free_hdr;
	}
	/* Reported for log lines, so made printable like any other text
	 * taken from a message; a kid that needed it matches no key. */
	if (kid_v && kid)
		printable(kid, KID_MAX, json_string_value(kid_v));
	/* RFC 7515 §4.1.11: extensions we do not know must not be ignored,
	 * and we know none. */
	if (json_object_get(hdr, "crit")) {
		rc = tapir_error_set(err, TAPIR_EPARSE, 0,
			"critical header extensions are not supported");
		goto out_free_hdr;
	}
	if (!(alg_v = json_object_get(hdr, "alg")) || !json_is_string(alg_v)) {
		rc = tapir_error_set(
			err, TAPIR_EALG, 0, "no alg in protected header");
		goto out_free_hdr;
	}
	if ((a = alg_index(json_string_value(alg_v))) < 0) {
		rc = tapir_error_set(err, TAPIR_EALG, 0,
			"algorithm \"%s\" not allowed",
			printable(show, 32, json_string_value(alg_v)));
		goto out_free_hdr;
	}
	if (!kid_v) {
		rc = tapir_error_set(
			err, TAPIR_ENOKEY, 0, "no kid in protected header");
		goto out_free_hdr;
	}
	if (!(key = keyring_find(kr, json_string_value(kid_v),
		      json_string_length(kid_v)))) {
		rc = tapir_error_set(err, TAPIR_ENOKEY, 0,
			"no trusted key with kid \"%s\"",
			printable(show, 64, json_string_value(kid_v)));
		goto out_free_hdr;
	}
	if (key->alg != algs[a].alg) {
		rc = tapir_error_set(err, TAPIR_EALG, 0,
			"key \"%s\" is for %s, message says %s",
			printable(show, 64, key->kid), alg_name(key->alg),
			algs[a].name);
		goto out_free_hdr;
	}
	*keyp = key;
	rc = 0;
out_free_hdr:
	json_decref(hdr);
	return rc;
}

/* ES256: RFC 7518 §3.4 sends R || S; OpenSSL wants DER (RFC 3279). */
static int
es256_verify(EVP_PKEY *pkey, const uint8_t *msg, size_t len, const uint8_t *sig)
{
	ECDSA_SIG *esig;
	BIGNUM *r, *s;
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	int der_len, rc = TAPIR_ENOMEM;

	r = BN_bin2bn(sig, P256_BYTES, NULL);
	s = BN_bin2bn(sig + P256_BYTES, P256_BYTES, NULL);
	if (!(esig = ECDSA_SIG_new()) || !r || !s) {
		BN_free(r);
		BN_free(s);
		goto out_free;
	}
	if (ECDSA_SIG_set0(esig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		goto out_free;
	}
	if ((der_len = i2d_ECDSA_SIG(esig, &der)) <= 0)
		goto out_free;
	if (!(md = EVP_MD_CTX_new()) ||
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1)
		goto out_free;
	rc = EVP_DigestVerify(md, der, (size_t)der_len, msg, len) == 1
		     ? 0
		     : TAPIR_ESIG;
out_free:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(esig);
	ERR_clear_error();
	return rc;
}

int
tapir_jws_verify(const struct tapir_keyring *kr, const char *buf, size_t len,
	uint8_t **payload, size_t *payload_len, char kid[128],
	struct tapir_error *err)
{
	struct jws_parts p = { 0 };
	const struct jws_key *key = NULL;
	uint8_t sig[SIG_MAX], *out = NULL;
	size_t out_len = 0, skip = 0, sig_len;
	int rc;

	error_reset(err);
	if (payload)
		*payload = NULL;
	if (payload_len)
		*payload_len = 0;
	if (kid)
		kid[0] = '\0';
	if (!kr || !payload || !payload_len || (!buf && len))
		return tapir_error_set(
			err, TAPIR_EINVAL, 0, "invalid argument");
	if (len > TAPIR_JWS_MAX_SIZE)
		return tapir_error_set(err, TAPIR_ETOOBIG, 0,
			"JWS of %zu bytes, limit %d", len, TAPIR_JWS_MAX_SIZE);

	while (skip < len && is_space(buf[skip]))
		skip++;
	while (len > skip && is_space(buf[len - 1]))
		len--;
	if (skip == len)
		return tapir_error_set(
			err, TAPIR_EUNSIGNED, 0, "empty message");
	if (buf[skip] == '{')
		rc = split_json(buf + skip, len - skip, &p, err);
	else
		rc = split_compact(buf + skip, len - skip, skip, &p, err);
	if (rc != 0)
		goto out_free;

	if ((rc = select_key(kr, &p, &key, kid, err)) != 0)
		goto out_free;

	sig_len = alg_sig_len(key->alg);
	if (b64_decode_exact(p.sig, p.sig_len, sig, sig_len) != 0) {
		rc = tapir_error_set(err, TAPIR_EPARSE, 0,
			"signature is not %zu bytes of base64url", sig_len);
		goto out_free;
	}
	if (key->alg == ALG_EDDSA) {
		if (crypto_sign_verify_detached(sig,
			    (const unsigned char *)p.input, p.input_len,
			    key->ed_pk) != 0)
			rc = TAPIR_ESIG;
	} else {
		rc = es256_verify(
			key->ec, (const uint8_t *)p.input, p.input_len, sig);
	}
	if (rc != 0) {
		tapir_error_set(err, rc, 0, "%s",
			rc == TAPIR_ESIG ? "signature does not verify"
					 : "out of memory");
		goto out_free;
	}

	/* Only now is the payload trusted enough to decode. */
	if ((rc = b64_decode_alloc(p.pay, p.pay_len, &out, &out_len)) != 0) {
		tapir_error_set(err, rc, 0, "payload is not base64url");
		goto out_free;
	}
	*payload = out;
	*payload_len = out_len;
out_free:
	free(p.input_buf);
	json_decref(p.root);
	return rc;
}

struct tapir_signer *
tapir_signer_load(const char *buf, size_t len, struct tapir_error *err)
{
	struct tapir_signer *s = NULL;
	const char *kty, *kid, *alg, *crv, *use;
	uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t x[crypto_sign_PUBLICKEYBYTES];
	json_error_t jerr;
	json_t *jwk;
	int a;

	error_reset(err);
	if (crypto_ready(err) != 0)
		return NULL;
	if (!buf) {
		tapir_error_set(err, TAPIR_EINVAL, 0, "no JWK");
		return NULL;
	}
	if (len > TAPIR_JWS_MAX_SIZE) {
		tapir_error_set(err, TAPIR_ETOOBIG, 0, "JWK over %d bytes",
			TAPIR_JWS_MAX_SIZE);
		return NULL;
	}
	if (!(jwk = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr))) {
		tapir_error_set(err, TAPIR_EPARSE, (size_t)jerr.position,
			"JWK: %s", jerr.text);
		if (err)
			err->line = jerr.line;
		return NULL;
	}
	if (!json_is_object(jwk)) {
		tapir_error_set(err, TAPIR_EPARSE, 0, "JWK is not an object");
		goto out_free_jwk;
	}
	if (!(kid = jwk_string(jwk, "kid")) || !*kid ||
		json_string_length(json_object_get(jwk, "kid")) >= KID_MAX) {
		tapir_error_set(err, TAPIR_EPARSE, 0,
			"JWK needs a kid of 1 to %d characters", KID_MAX - 1);
		goto out_free_jwk;
	}
	if (json_object_get(jwk, "use") &&
		(!(use = jwk_string(jwk, "use")) || strcmp(use, "sig") != 0)) {
		tapir_error_set(err, TAPIR_EPARSE, 0, "JWK use is not \"sig\"");
		goto out_free_jwk;
	}
	if (!(kty = jwk_string(jwk, "kty")) ||
		!(crv = jwk_string(jwk, "crv"))) {
		tapir_error_set(err, TAPIR_EPARSE, 0, "JWK needs kty and crv");
		goto out_free_jwk;
	}
	/* Without "alg", the algorithm is the one the key type allows. */
	if ((alg = jwk_string(jwk, "alg")))
		a = alg_index(alg);
	else
		for (a = (int)(sizeof(algs) / sizeof(algs[0])) - 1; a >= 0; a--)
			if (strcmp(algs[a].kty, kty) == 0)
				break;
	if (a < 0 || strcmp(algs[a].kty, kty) != 0 ||
		strcmp(algs[a].crv, crv) != 0) {
		tapir_error_set(err, TAPIR_EALG, 0,
			"JWK is not OKP/Ed25519 (EdDSA) or EC/P-256 (ES256)");
		goto out_free_jwk;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		goto out_free_jwk;
	}
	snprintf(s->kid, sizeof(s->kid), "%s", kid);
	s->alg = algs[a].alg;
	switch (s->alg) {
	case ALG_EDDSA:
		if (jwk_bytes(jwk, "d", seed, sizeof(seed)) != 0 ||
			jwk_bytes(jwk, "x", x, sizeof(x)) != 0) {
			tapir_error_set(err, TAPIR_EPARSE, 0,
				"Ed25519 JWK needs 32-byte d and x");
			goto out_free_signer;
		}
		crypto_sign_seed_keypair(pk, s->ed_sk, seed);
		sodium_memzero(seed, sizeof(seed));
		if (sodium_memcmp(pk, x, sizeof(pk)) != 0) {
			tapir_error_set(err, TAPIR_EPARSE, 0,
				"Ed25519 JWK: x does not match d");
			goto out_free_signer;
		}
		break;
	case ALG_ES256:
		if (!(s->ec = ec_key_from_jwk(jwk, true))) {
			tapir_error_set(err, TAPIR_EPARSE, 0,
				"EC JWK: x, y, d are not a P-256 key pair");
			goto out_free_signer;
		}
		break;
	}
	json_decref(jwk);
	return s;

out_free_signer:
	tapir_signer_destroy(s);
	s = NULL;
out_free_jwk:
	/* The JWK text held "d"; jansson frees its copy unscrubbed, which is
	 * no worse than the caller's buffer. */
	json_decref(jwk);
	return s;
}

struct tapir_signer *
tapir_signer_load_file(const char *path, struct tapir_error *err)
{
	struct tapir_signer *s;
	char *buf;
	size_t len;

	error_reset(err);
	if (tapir_fileio_read(path, TAPIR_JWS_MAX_SIZE, 0, &buf, &len, err) < 0)
		return NULL;
	s = tapir_signer_load(buf, len, err);
	sodium_memzero(buf, len);
	free(buf);
	return s;
}

void
tapir_signer_destroy(struct tapir_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->ec);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* ES256 signature as R || S, each left-padded to 32 bytes. */
static int
es256_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t len, uint8_t *sig)
{
	/* DER of two 33-byte INTEGERs in a SEQUENCE is at most 72 bytes. */
	unsigned char der[80];
	const unsigned char *pp = der;
	size_t der_len = sizeof(der);
	const BIGNUM *r, *s;
	ECDSA_SIG *esig = NULL;
	EVP_MD_CTX *md;
	int rc = TAPIR_ENOMEM;

	if (!(md = EVP_MD_CTX_new()) ||
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
		EVP_DigestSign(md, der, &der_len, msg, len) != 1 ||
		!(esig = d2i_ECDSA_SIG(NULL, &pp, (long)der_len)))
		goto out_free;
	ECDSA_SIG_get0(esig, &r, &s);
	if (BN_bn2binpad(r, sig, P256_BYTES) != P256_BYTES ||
		BN_bn2binpad(s, sig + P256_BYTES, P256_BYTES) != P256_BYTES)
		goto out_free;
	rc = 0;
out_free:
	ECDSA_SIG_free(esig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

int
tapir_jws_sign(const struct tapir_signer *s, const uint8_t *payload, size_t len,
	bool compact, char **out, size_t *outlen)
{
	static const char pre[] = "{\"payload\":\"",
			  mid1[] = "\",\"protected\":\"",
			  mid2[] = "\",\"signature\":\"", post[] = "\"}";
	json_t *hdr_obj;
	char *hdr, *input = NULL, *res = NULL,
		   sig_b64[sodium_base64_ENCODED_LEN(SIG_MAX, B64_VARIANT)];
	size_t hdr_len, prot_len, pay_len, sig_b64_len, input_len, res_len;
	uint8_t sig[SIG_MAX];
	int rc;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (!s || !out || (!payload && len))
		return TAPIR_EINVAL;
	/* What the verifier would refuse is not worth producing. */
	if (len > TAPIR_JWS_MAX_SIZE)
		return TAPIR_ETOOBIG;

	if (!(hdr_obj = json_pack(
		      "{s:s,s:s}", "alg", alg_name(s->alg), "kid", s->kid)))
		return TAPIR_ENOMEM;
	hdr = json_dumps(hdr_obj, JSON_COMPACT);
	json_decref(hdr_obj);
	if (!hdr)
		return TAPIR_ENOMEM;
	hdr_len = strlen(hdr);

	/* The _ENCODED_LEN macros count the NUL. */
	prot_len = sodium_base64_ENCODED_LEN(hdr_len, B64_VARIANT) - 1;
	pay_len = sodium_base64_ENCODED_LEN(len, B64_VARIANT) - 1;
	input_len = prot_len + 1 + pay_len;
	if (input_len + sizeof(pre) + sizeof(mid1) + sizeof(mid2) +
			sizeof(post) + sizeof(sig_b64) >
		TAPIR_JWS_MAX_SIZE) {
		rc = TAPIR_ETOOBIG;
		goto out_free;
	}
	if (!(input = malloc(input_len + 1))) {
		rc = TAPIR_ENOMEM;
		goto out_free;
	}
	sodium_bin2base64(input, prot_len + 1, (const uint8_t *)hdr, hdr_len,
		B64_VARIANT);
	input[prot_len] = '.';
	sodium_bin2base64(
		input + prot_len + 1, pay_len + 1, payload, len, B64_VARIANT);

	if (s->alg == ALG_EDDSA) {
		crypto_sign_detached(
			sig, NULL, (const uint8_t *)input, input_len, s->ed_sk);
		rc = 0;
	} else {
		rc = es256_sign(s->ec, (const uint8_t *)input, input_len, sig);
	}
	if (rc != 0)
		goto out_free;
	sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, alg_sig_len(s->alg),
		B64_VARIANT);
	sig_b64_len = strlen(sig_b64);

	res_len = compact ? input_len + 1 + sig_b64_len
			  : sizeof(pre) - 1 + pay_len + sizeof(mid1) - 1 +
				    prot_len + sizeof(mid2) - 1 + sig_b64_len +
				    sizeof(post) - 1;
	if (!(res = malloc(res_len + 1))) {
		rc = TAPIR_ENOMEM;
		goto out_free;
	}
	if (compact)
		snprintf(res, res_len + 1, "%s.%s", input, sig_b64);
	else
		snprintf(res, res_len + 1, "%s%s%s%.*s%s%s%s", pre,
			input + prot_len + 1, mid1, (int)prot_len, input, mid2,
			sig_b64, post);
	*out = res;
	if (outlen)
		*outlen = res_len;
out_free:
	free(input);
	free(hdr);
	return rc;
}
