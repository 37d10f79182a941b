/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz tapir_jws_verify() with a fixed keyring: the upstream Ed25519 test
 * key (tests/data/tapir-vectors/verkeys-a.pub.json) and the public half of
 * signkeys-noalg.json given "alg":"ES256", so that both algorithms' paths
 * are reached by seeds signed with either key.
 */
#include "tapir_build.h"

#include <stdint.h>
#include <stdlib.h>

#include "lib/jws.h"

static const char jwks[] =
	"{\"keys\":["
	"{\"use\":\"sig\",\"kty\":\"OKP\","
	"\"kid\":\"dkT85jeVnDuQ_xkhCgf4nfE1pT0LMgbpxduxhpYYjhg\","
	"\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
	"\"x\":\"ujAA73AWVn8koDwy08ijnRZSL67sqOf1h4eLcf-7LiQ\"},"
	"{\"use\":\"sig\",\"kty\":\"EC\",\"kid\":\"test-noalg\","
	"\"crv\":\"P-256\",\"alg\":\"ES256\","
	"\"x\":\"nFI6Ux7LOEYX8VmWA332h8TAev1XwdR1E-TrB-TI--k\","
	"\"y\":\"uOLs9R4hDKF-2KRDhhu-hYcz_atQiVGjAWuv-iSQ0I8\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Built once and never freed: the process exit reclaims it. */
	static struct tapir_keyring *kr;
	struct tapir_error err;
	uint8_t *payload;
	size_t len;
	char kid[128];

	if (!kr && !(kr = tapir_keyring_load(jwks, sizeof(jwks) - 1, &err)))
		abort();
	if (tapir_jws_verify(kr, (const char *)data, size, &payload, &len, kid,
		    &err) == 0)
		free(payload);
	return 0;
}
