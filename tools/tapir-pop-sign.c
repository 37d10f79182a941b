/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tapir-pop-sign: plays the DNS TAPIR core in the demo and the integration
 * tests. It signs a payload (a file or stdin, byte for byte) into a JWS,
 * builds and signs TapirMsg observations in the shape the core's encoder
 * emits, and generates key pairs: a private JWK and the JWKS that verifiers
 * load. Keys it makes are for tests and demos; production keys come from
 * the DNS TAPIR enrollment. Exit status: 0 ok, 1 usage, 2 input or key error.
 */
#include "tapir_build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "lib/jws.h"
#include "lib/tapir.h"

#define PROG	   "tapir-pop-sign"
#define EXIT_USAGE 1
#define EXIT_INPUT 2
#define B64V	   sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define B64_32	   sodium_base64_ENCODED_LEN(32, B64V)

/* What the core sends today: an hour of observation plus 7 s margin. */
#define DEFAULT_TTL 3607

static const char usage_text[] =
	"usage: tapir-pop-sign -k KEY.jwk [-c] [FILE|-]\n"
	"       tapir-pop-sign -k KEY.jwk [-c] --observe NAME --tags MASK\n"
	"           [--ttl SECONDS] [--list LIST] [--src NAME]\n"
	"           [--time-added RFC3339] [--remove NAME] [--each]\n"
	"       tapir-pop-sign -k KEY.jwk [-c] --remove NAME [...]\n"
	"       tapir-pop-sign -g -k OUT.jwk -p OUT.pub.json [--kid KID]\n"
	"           [--alg EdDSA|ES256] [-f]\n"
	"\n"
	"Sign a payload as the DNS TAPIR core does; write the JWS (flattened\n"
	"JSON, or compact with -c) and a newline to stdout. With --observe\n"
	"or --remove, the payload is a TapirMsg observation built here.\n"
	"With -g, make a key pair and print its kid.\n"
	"\n"
	"  -k, --key FILE        private JWK (with -g: written, mode 0600)\n"
	"  -c, --compact         compact serialization, not flattened JSON\n"
	"  -g, --generate        make a key pair (test and demo keys only)\n"
	"  -p, --public FILE     with -g: JWKS with the public key\n"
	"      --kid KID         with -g: key id (default: JWK thumbprint)\n"
	"      --alg ALG         with -g: EdDSA (default) or ES256\n"
	"  -f, --force           with -g: overwrite existing files\n"
	"      --observe NAME    add NAME (repeatable)\n"
	"      --remove NAME     remove NAME (repeatable)\n"
	"      --tags MASK       tag_mask, decimal or 0x hex\n"
	"      --ttl SECONDS     ttl of each entry (default 3607)\n"
	"      --list LIST       list_type (default doubtlist)\n"
	"      --src NAME        src_name (default dns-tapir)\n"
	"      --time-added T    time_added, RFC 3339 (default: now, UTC)\n"
	"      --each            one message per --observe NAME, one a line\n"
	"  -h, --help            show this text\n"
	"\n"
	"Exit status: 0 ok, 1 usage, 2 input or key error.\n";

enum {
	OPT_KID = 256,
	OPT_ALG,
	OPT_OBSERVE,
	OPT_REMOVE,
	OPT_TAGS,
	OPT_TTL,
	OPT_LIST,
	OPT_SRC,
	OPT_TIME_ADDED,
	OPT_EACH,
};

static const struct option long_options[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "compact", no_argument, NULL, 'c' },
	{ "generate", no_argument, NULL, 'g' },
	{ "public", required_argument, NULL, 'p' },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "kid", required_argument, NULL, OPT_KID },
	{ "alg", required_argument, NULL, OPT_ALG },
	{ "observe", required_argument, NULL, OPT_OBSERVE },
	{ "remove", required_argument, NULL, OPT_REMOVE },
	{ "tags", required_argument, NULL, OPT_TAGS },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "list", required_argument, NULL, OPT_LIST },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "time-added", required_argument, NULL, OPT_TIME_ADDED },
	{ "each", no_argument, NULL, OPT_EACH },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	const char *key, *pub, *kid, *alg, *list, *src, *time_added;
	bool compact, generate, force, have_tags, each;
	uint32_t tags;
	int64_t ttl;
	json_t *observe, *remove; /* arrays of names, owned */
};

static int usage_error(const char *fmt, ...) TAPIR_PRINTF(1, 2);

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_USAGE;
}

static int
input_error(const char *what, const char *why)
{
	fprintf(stderr, PROG ": %s: %s\n", what, why);
	return EXIT_INPUT;
}

/* RFC 3339 in UTC with Go's RFC3339Nano trimming of trailing zeros, which
 * is how the core (written in Go) spells its times. */
static void
now_rfc3339(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char frac[16];
	size_t n;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
	for (i = 9; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	if (i == 0)
		frac[0] = '\0';
	snprintf(buf + n, size - n, "%sZ", frac);
}

/* Whole stream, byte-exact, at most TAPIR_JWS_MAX_SIZE bytes. */
static int
read_all(FILE *f, uint8_t **out, size_t *outlen)
{
	size_t cap = 4096, len = 0, n;
	uint8_t *buf = malloc(cap), *nbuf;

	if (!buf)
		return TAPIR_ENOMEM;
	do {
		if (len == cap) {
			if (!(nbuf = realloc(buf, cap * 2))) {
				free(buf);
				return TAPIR_ENOMEM;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > TAPIR_JWS_MAX_SIZE) {
			free(buf);
			return TAPIR_ETOOBIG;
		}
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		return TAPIR_EIO;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static json_t *
entries(json_t *names, const char *time_added, int64_t ttl, uint32_t tags)
{
	json_t *arr = json_array(), *name;
	size_t i;

	if (!arr)
		return NULL;
	json_array_foreach(names, i, name)
	{
		json_t *e = json_pack("{s:O,s:s,s:I,s:I,s:[]}", "name", name,
			"time_added", time_added, "ttl", (json_int_t)ttl,
			"tag_mask", (json_int_t)tags, "extended_tags");
		if (!e || json_array_append_new(arr, e) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* A TapirMsg with the members, in the order, of the core's encoder. */
static char *
build_observation(const struct opts *o)
{
	char added_at[64], stamp[64];
	json_t *msg, *added, *removed;
	char *text;

	now_rfc3339(added_at, sizeof(added_at));
	added = entries(o->observe, o->time_added ? o->time_added : added_at,
		o->ttl, o->tags);
	removed = entries(o->remove, o->time_added ? o->time_added : added_at,
		o->ttl, o->tags);
	now_rfc3339(stamp, sizeof(stamp));
	if (!added || !removed) {
		json_decref(added);
		json_decref(removed);
		return NULL;
	}
	msg = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s}", "src_name",
		o->src, "creator", PROG, "msg_type", "observation", "list_type",
		o->list, "added", added, "removed", removed, "msg", "",
		"timestamp", stamp, "time_str", "");
	if (!msg)
		return NULL;
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return text;
}

/* Sign one payload with s and write the JWS and a newline to stdout. */
static int
sign_payload(const struct opts *o, struct tapir_signer *s,
	const uint8_t *payload, size_t len)
{
	size_t outlen;
	char *out;
	int rc, status = EXIT_INPUT;

	if ((rc = tapir_jws_sign(s, payload, len, o->compact, &out, &outlen)) !=
		0)
		return input_error("sign", tapir_strerror(rc));
	if (fwrite(out, 1, outlen, stdout) != outlen ||
		fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		input_error("stdout", strerror(errno));
	else
		status = 0;
	free(out);
	return status;
}

/*
 * --each: one observation per --observe name, each signed and on its own
 * line, the way the core sends one name per message. One process for
 * thousands of messages: the tests publish them with mosquitto_pub -l.
 */
static int
sign_each(const struct opts *o, struct tapir_signer *s)
{
	struct opts one = *o;
	json_t *name;
	size_t i;
	int status = 0;

	one.remove = json_array();
	json_array_foreach(o->observe, i, name)
	{
		char *text;

		one.observe = json_pack("[O]", name);
		text = one.observe && one.remove ? build_observation(&one)
						 : NULL;
		json_decref(one.observe);
		if (!text) {
			status = input_error("observation", "out of memory");
			break;
		}
		status = sign_payload(o, s, (uint8_t *)text, strlen(text));
		free(text);
		if (status != 0)
			break;
	}
	json_decref(one.remove);
	return status;
}

static int
sign_mode(const struct opts *o, const char *file)
{
	struct tapir_error err;
	struct tapir_signer *s;
	uint8_t *payload = NULL;
	size_t len = 0;
	int rc, status = EXIT_INPUT;

	if (o->each) {
		/* Built per name below. */
	} else if (json_array_size(o->observe) || json_array_size(o->remove)) {
		char *text = build_observation(o);
		if (!text)
			return input_error("observation", "out of memory");
		payload = (uint8_t *)text;
		len = strlen(text);
	} else {
		FILE *f = stdin;
		if (file && strcmp(file, "-") != 0 && !(f = fopen(file, "rb")))
			return input_error(file, strerror(errno));
		rc = read_all(f, &payload, &len);
		if (f != stdin)
			fclose(f);
		if (rc != 0)
			return input_error(
				file ? file : "stdin", tapir_strerror(rc));
	}

	if (!(s = tapir_signer_load_file(o->key, &err))) {
		/* File errors already name the file. */
		if (strncmp(err.text, o->key, strlen(o->key)) == 0)
			fprintf(stderr, PROG ": %s\n", err.text);
		else
			input_error(o->key, err.text);
		goto out_free_payload;
	}
	status = o->each ? sign_each(o, s) : sign_payload(o, s, payload, len);
	tapir_signer_destroy(s);
out_free_payload:
	free(payload);
	return status;
}

static void
b64(char *out, size_t size, const uint8_t *bin, size_t len)
{
	sodium_bin2base64(out, size, bin, len, B64V);
}

/*
 * The key's members as base64url: x (and y) public, d private. Ed25519's d
 * is the 32-byte seed (RFC 8037 §2); P-256 coordinates and the scalar are
 * left-padded to 32 bytes (RFC 7518 §6.2.1.2).
 */
static int
generate_key(bool ec, char *x, char *y, char *d)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t buf[32];
	BIGNUM *bx = NULL, *by = NULL, *bd = NULL;
	EVP_PKEY *pkey;
	int rc = -1;

	if (!ec) {
		crypto_sign_keypair(pk, sk);
		b64(x, B64_32, pk, sizeof(pk));
		b64(d, B64_32, sk, crypto_sign_SEEDBYTES);
		sodium_memzero(sk, sizeof(sk));
		y[0] = '\0';
		return 0;
	}
	if (!(pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")))
		return -1;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) !=
			1 ||
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bd) != 1)
		goto out_free;
	if (BN_bn2binpad(bx, buf, 32) != 32)
		goto out_free;
	b64(x, B64_32, buf, 32);
	if (BN_bn2binpad(by, buf, 32) != 32)
		goto out_free;
	b64(y, B64_32, buf, 32);
	if (BN_bn2binpad(bd, buf, 32) != 32)
		goto out_free;
	b64(d, B64_32, buf, 32);
	rc = 0;
out_free:
	sodium_memzero(buf, sizeof(buf));
	BN_free(bx);
	BN_free(by);
	BN_clear_free(bd);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

/* RFC 7638 thumbprint: SHA-256 of the required members in lexical order,
 * no whitespace; base64url. Upstream's kids are made this way. */
static void
thumbprint(bool ec, const char *x, const char *y, char *out, size_t size)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char canon[256];

	if (ec)
		snprintf(canon, sizeof(canon),
			"{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\","
			"\"y\":\"%s\"}",
			x, y);
	else
		snprintf(canon, sizeof(canon),
			"{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
			x);
	crypto_hash_sha256(h, (const uint8_t *)canon, strlen(canon));
	b64(out, size, h, sizeof(h));
}

static int
write_fd(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static int
open_out(const char *path, mode_t mode, bool force)
{
	int fd = open(path,
		O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (force ? 0 : O_EXCL),
		mode);

	/* With --force the file may have existed with a looser mode. */
	if (fd >= 0 && fchmod(fd, mode) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
generate_mode(const struct opts *o)
{
	bool ec = o->alg && strcmp(o->alg, "ES256") == 0;
	char x[B64_32], y[B64_32], d[B64_32], tp[B64_32];
	const char *kid;
	json_t *priv, *pub = NULL;
	char *priv_text = NULL, *pub_text = NULL;
	struct tapir_signer *check;
	struct tapir_error err;
	int fd_priv = -1, fd_pub = -1, status = EXIT_INPUT;

	if (tapir_lib_init() != 0)
		return input_error("libraries", "initialisation failed");
	if (generate_key(ec, x, y, d) != 0)
		return input_error("keygen", "cannot generate a P-256 key");
	thumbprint(ec, x, y, tp, sizeof(tp));
	kid = o->kid ? o->kid : tp;

	/* Member order as in upstream's key files. */
	priv = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "use", "sig", "kty",
		ec ? "EC" : "OKP", "kid", kid, "crv", ec ? "P-256" : "Ed25519",
		"alg", ec ? "ES256" : "EdDSA", "x", x);
	if (priv && ec)
		json_object_set_new(priv, "y", json_string(y));
	/* "o" hands the copy to the JWKS, which frees it even on failure. */
	if (priv)
		pub = json_pack("{s:[o]}", "keys", json_deep_copy(priv));
	if (priv)
		json_object_set_new(priv, "d", json_string(d));
	sodium_memzero(d, sizeof(d));
	if (!priv || !pub || !(priv_text = json_dumps(priv, JSON_INDENT(2))) ||
		!(pub_text = json_dumps(pub, JSON_INDENT(2)))) {
		input_error("keygen", "out of memory");
		goto out_free;
	}

	/* What is written must load: the same code reads it back. */
	if (!(check = tapir_signer_load(priv_text, strlen(priv_text), &err))) {
		input_error("keygen", err.text);
		goto out_free;
	}
	tapir_signer_destroy(check);

	if ((fd_priv = open_out(o->key, 0600, o->force)) < 0) {
		input_error(o->key, strerror(errno));
		goto out_free;
	}
	if ((fd_pub = open_out(o->pub, 0644, o->force)) < 0) {
		input_error(o->pub, strerror(errno));
		unlink(o->key);
		goto out_free;
	}
	if (write_fd(fd_priv, priv_text) != 0 || write_fd(fd_priv, "\n") != 0 ||
		close(fd_priv) != 0) {
		fd_priv = -1;
		input_error(o->key, strerror(errno));
		goto out_free;
	}
	fd_priv = -1;
	if (write_fd(fd_pub, pub_text) != 0 || write_fd(fd_pub, "\n") != 0 ||
		close(fd_pub) != 0) {
		fd_pub = -1;
		input_error(o->pub, strerror(errno));
		goto out_free;
	}
	fd_pub = -1;
	printf("%s\n", kid);
	status = 0;
out_free:
	if (fd_priv >= 0)
		close(fd_priv);
	if (fd_pub >= 0)
		close(fd_pub);
	if (priv_text) {
		sodium_memzero(priv_text, strlen(priv_text));
		free(priv_text);
	}
	free(pub_text);
	json_decref(priv);
	json_decref(pub);
	return status;
}

static int
parse_opts(int argc, char **argv, struct opts *o, int *status)
{
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "k:cgp:fh", long_options, NULL)) !=
		-1) {
		switch (c) {
		case 'k':
			o->key = optarg;
			break;
		case 'c':
			o->compact = true;
			break;
		case 'g':
			o->generate = true;
			break;
		case 'p':
			o->pub = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			*status = 0;
			return -1;
		case OPT_KID:
			o->kid = optarg;
			break;
		case OPT_ALG:
			if (strcmp(optarg, "EdDSA") != 0 &&
				strcmp(optarg, "ES256") != 0) {
				*status = usage_error(
					"--alg %s: EdDSA or ES256", optarg);
				return -1;
			}
			o->alg = optarg;
			break;
		case OPT_OBSERVE:
			json_array_append_new(o->observe, json_string(optarg));
			break;
		case OPT_REMOVE:
			json_array_append_new(o->remove, json_string(optarg));
			break;
		case OPT_TAGS: {
			unsigned long long v;
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || v > UINT32_MAX ||
				optarg[0] == '-') {
				*status = usage_error(
					"--tags %s: not a 32-bit mask", optarg);
				return -1;
			}
			o->tags = (uint32_t)v;
			o->have_tags = true;
			break;
		}
		case OPT_TTL:
			errno = 0;
			o->ttl = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end) {
				*status = usage_error(
					"--ttl %s: not an integer", optarg);
				return -1;
			}
			break;
		case OPT_LIST:
			o->list = optarg;
			break;
		case OPT_SRC:
			o->src = optarg;
			break;
		case OPT_TIME_ADDED:
			o->time_added = optarg;
			break;
		case OPT_EACH:
			o->each = true;
			break;
		default:
			/* getopt_long has said what was wrong. */
			fprintf(stderr, "Try '" PROG " --help'.\n");
			*status = EXIT_USAGE;
			return -1;
		}
	}
	return 0;
}

/* "--verify KEYS.json [FILE|-]": check a JWS against a JWKS the way the
 * module does and print its payload; the tests read the module's own
 * signed reports with it. */
static int
verify_mode(const char *keys, const char *file)
{
	struct tapir_error err = { 0 };
	struct tapir_keyring *kr = tapir_keyring_load_file(keys, &err);
	uint8_t *in = NULL, *payload = NULL;
	size_t in_len = 0, payload_len = 0;
	char kid[128];
	FILE *f;
	int rc;

	if (!kr)
		return input_error(keys, err.text);
	f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
	if (!f || read_all(f, &in, &in_len) != 0) {
		if (f && f != stdin)
			fclose(f);
		tapir_keyring_destroy(kr);
		return input_error(file, "cannot read");
	}
	if (f != stdin)
		fclose(f);
	rc = tapir_jws_verify(kr, (const char *)in, in_len, &payload,
		&payload_len, kid, &err);
	tapir_keyring_destroy(kr);
	free(in);
	if (rc != 0)
		return input_error(file, err.text);
	fwrite(payload, 1, payload_len, stdout);
	free(payload);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "--verify"))
		return verify_mode(argv[2], argc == 4 ? argv[3] : "-");

	struct opts o = {
		.list = "doubtlist",
		.src = "dns-tapir",
		.ttl = DEFAULT_TTL,
	};
	bool observing;
	int status = EXIT_USAGE;

	o.observe = json_array();
	o.remove = json_array();
	if (!o.observe || !o.remove)
		return input_error("startup", "out of memory");
	if (parse_opts(argc, argv, &o, &status) != 0)
		goto out_free;
	observing = json_array_size(o.observe) || json_array_size(o.remove);
	if (!o.key) {
		status = usage_error("-k KEY is required");
	} else if (o.generate) {
		if (!o.pub)
			status = usage_error("-g needs -p OUT.pub.json");
		else if (optind < argc || observing || o.compact)
			status = usage_error(
				"-g takes no payload and no signing options");
		else
			status = generate_mode(&o);
	} else if (o.each && !observing) {
		status = usage_error("--each needs --observe");
	} else if (o.pub || o.kid || o.alg || o.force) {
		status = usage_error("-p, --kid, --alg and -f go with -g");
	} else if (observing) {
		if (optind < argc)
			status = usage_error(
				"--observe/--remove take no payload file");
		else if (json_array_size(o.observe) && !o.have_tags)
			status = usage_error("--observe needs --tags");
		else if (o.each && json_array_size(o.remove))
			status = usage_error("--each goes with --observe only");
		else
			status = sign_mode(&o, NULL);
	} else if (argc - optind > 1) {
		status = usage_error("one payload file at most");
	} else {
		status = sign_mode(&o, optind < argc ? argv[optind] : NULL);
	}
out_free:
	json_decref(o.observe);
	json_decref(o.remove);
	return status;
}
