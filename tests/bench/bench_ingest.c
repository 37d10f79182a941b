/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How many signed observations per second one core takes through the
 * whole path a message from the broker takes (the engine's queue, JWS
 * verification, parsing, the database and the cache purge of each name
 * that becomes blocked), next to the raw Ed25519 verification rate of the
 * same signatures measured in the same run. Prints numbers; asserts
 * nothing.
 *
 * bench_ingest [-n MESSAGES] [-r ROUNDS]
 *
 * Every message is signed beforehand, one new name each (so that every
 * one is a decision change that is purged), and the rounds alternate:
 * raw verification, then the engine. The engine's rate per core is the
 * messages over the CPU time of the engine's own threads (tapir-*, as
 * the scheduler counts it), not this program's: the writer does the work,
 * its purger sends each name to a sink that only counts it (Unbound's
 * flush itself is the resolver's cost, not the module's), and the MQTT
 * client has no broker to talk to. Round figures and the medians are printed.
 */
#include "tapir_build.h"

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/engine.h"
#include "lib/jws.h"
#include "lib/tapir.h"

#define TOPIC "observations/down/tapir-pop"
#define B64V  sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* One signed message, and what raw verification of it needs. */
struct signed_msg {
	char *jws; /* flattened JSON serialisation, as the core sends */
	size_t len;
	char *input; /* "protected.payload": the signing input */
	size_t input_len;
	unsigned char sig[crypto_sign_BYTES];
};

static void
die(const char *what)
{
	fprintf(stderr, "bench_ingest: %s\n", what);
	exit(1);
}

static atomic_ulong purged;

static int
count_purge(void *arg, const char *name, bool zone)
{
	(void)arg;
	(void)name;
	(void)zone;
	atomic_fetch_add_explicit(&purged, 1, memory_order_relaxed);
	return 0;
}

static void
quiet_log(void *arg, enum tapir_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static double
clock_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds the engine's own threads (named tapir-*) have run, from
 * the scheduler's nanosecond count of each. */
static double
engine_cpu_s(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *t;
	double sum = 0;

	if (!d)
		die("/proc/self/task");
	while ((t = readdir(d))) {
		char path[300], comm[32] = "";
		unsigned long long ns;
		FILE *f;

		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			t->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, "tapir-", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat",
			t->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (double)ns / 1e9;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A fresh Ed25519 key: the private JWK for the signer, the JWKS. */
static void
make_key(char *jwk, size_t jwk_size, char *jwks, size_t jwks_size,
	unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char x[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, B64V)];
	char d[sodium_base64_ENCODED_LEN(sizeof(seed), B64V)];

	randombytes_buf(seed, sizeof(seed));
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
		die("key pair");
	sodium_bin2base64(x, sizeof(x), pk, crypto_sign_PUBLICKEYBYTES, B64V);
	sodium_bin2base64(d, sizeof(d), seed, sizeof(seed), B64V);
	snprintf(jwk, jwk_size,
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
		"\"kid\":\"bench\",\"x\":\"%s\",\"d\":\"%s\"}",
		x, d);
	snprintf(jwks, jwks_size,
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":\"bench\","
		"\"x\":\"%s\"}]}",
		x);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
}

/* An observation that blocks name (likelymalware, one hour), as the
 * TAPIR core sends it, signed; and its signature for raw verification. */
static void
sign_one(const struct tapir_signer *signer, const char *name, const char *ts,
	struct signed_msg *m)
{
	char payload[1024];
	const char *prot, *pay, *sig;
	json_t *j;
	size_t sig_len;

	snprintf(payload, sizeof(payload),
		"{\"src_name\":\"dns-tapir\",\"creator\":\"bench\","
		"\"msg_type\":\"observation\",\"list_type\":"
		"\"doubtlist\",\"added\":[{\"name\":\"%s\","
		"\"time_added\":\"%s\",\"ttl\":3600,\"tag_mask\":16}],"
		"\"removed\":[],\"msg\":\"\",\"timestamp\":\"%s\","
		"\"time_str\":\"\"}",
		name, ts, ts);
	if (tapir_jws_sign(signer, (const uint8_t *)payload, strlen(payload),
		    false, &m->jws, &m->len) != 0)
		die("signing");
	if (!(j = json_loadb(m->jws, m->len, 0, NULL)) ||
		json_unpack(j, "{s:s, s:s, s:s}", "protected", &prot, "payload",
			&pay, "signature", &sig) != 0)
		die("not a flattened JWS");
	m->input_len = strlen(prot) + 1 + strlen(pay);
	if (!(m->input = malloc(m->input_len + 1)))
		die("out of memory");
	snprintf(m->input, m->input_len + 1, "%s.%s", prot, pay);
	if (sodium_base642bin(m->sig, sizeof(m->sig), sig, strlen(sig), NULL,
		    &sig_len, NULL, B64V) != 0 ||
		sig_len != sizeof(m->sig))
		die("signature encoding");
	json_decref(j);
}

/* Raw verifications per second of one core, over msgs. */
static double
raw_round(const struct signed_msg *msgs, size_t n,
	const unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID), t1;

	for (size_t i = 0; i < n; i++)
		if (crypto_sign_verify_detached(msgs[i].sig,
			    (const unsigned char *)msgs[i].input,
			    msgs[i].input_len, pk) != 0)
			die("raw verification failed");
	t1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	return (double)n / (t1 - t0);
}

/* Messages rejected, less those the full queue turned back (the
 * submitting loop offers them again). */
static uint64_t
rejected(struct tapir_engine *e)
{
	uint64_t n = 0;

	for (int c = TAPIR_C_REJ_TOO_BIG; c <= TAPIR_C_REJ_STALE; c++)
		if (c != TAPIR_C_REJ_QUEUE_FULL)
			n += tapir_engine_counter(e, (enum tapir_counter)c);
	return n;
}

/* The engine's rate: messages per CPU second of its threads, and per
 * wall second. */
static void
engine_round(struct tapir_engine *e, const struct signed_msg *msgs, size_t n,
	double *per_core, double *per_wall)
{
	uint64_t acc0 = tapir_engine_counter(e, TAPIR_C_MSG_ACCEPTED);
	uint64_t rej0 = rejected(e);
	unsigned long purged0 = atomic_load(&purged);
	double w0 = clock_s(CLOCK_MONOTONIC), c0 = engine_cpu_s();
	double w1, c1, deadline = w0 + 300;
	struct timespec pause = { 0, 100000 };
	uint64_t acc;

	for (size_t i = 0; i < n; i++) {
		int rc;

		while ((rc = tapir_engine_submit(e, TOPIC, msgs[i].jws,
				msgs[i].len)) == TAPIR_EFULL)
			nanosleep(&pause, NULL);
		if (rc != 0)
			die("submit failed");
	}
	while ((acc = tapir_engine_counter(e, TAPIR_C_MSG_ACCEPTED)) - acc0 <
		n) {
		if (rejected(e) != rej0) {
			for (int c = 0; c < TAPIR_C_COUNT; c++)
				fprintf(stderr, "%s %llu\n",
					tapir_counter_str(c),
					(unsigned long long)
						tapir_engine_counter(e,
							(enum tapir_counter)c));
			die("a message was rejected");
		}
		if (clock_s(CLOCK_MONOTONIC) > deadline)
			die("the engine took over 300 s");
		nanosleep(&pause, NULL);
	}
	/* The round's purges are its cost too: each message blocks a new
	 * name, so the round ends when n names have been purged. */
	while (atomic_load(&purged) - purged0 < n) {
		if (clock_s(CLOCK_MONOTONIC) > deadline)
			die("the purges took over 300 s");
		nanosleep(&pause, NULL);
	}
	w1 = clock_s(CLOCK_MONOTONIC);
	c1 = engine_cpu_s();
	*per_core = (double)n / (c1 - c0);
	*per_wall = (double)n / (w1 - w0);
}

int
main(int argc, char **argv)
{
	size_t n = 20000;
	int rounds = 5, c;
	char dir[] = "/tmp/tapir-bench-ingest-XXXXXX";
	char jwk[512], jwks[512], keys[64], yaml[1024], ts[32];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	struct tapir_error err = { 0 };
	struct tapir_signer *signer;
	struct tapir_config *cfg;
	struct tapir_engine *e;
	struct signed_msg *msgs;
	double *raw, *core, *wall;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: bench_ingest [-n MESSAGES] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (n == 0 || rounds < 1)
		die("-n and -r must be positive");
	if (tapir_lib_init() != 0)
		die("library init");
	tapir_log_set(quiet_log, NULL);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(keys, sizeof(keys), "%s/keys.json", dir);
	make_key(jwk, sizeof(jwk), jwks, sizeof(jwks), pk);
	if (!(f = fopen(keys, "w")) || fputs(jwks, f) < 0 || fclose(f) != 0)
		die("writing the key file");
	if (!(signer = tapir_signer_load(jwk, strlen(jwk), &err)))
		die(err.text);

	/* No broker: the MQTT client retries now and then, on its own
	 * thread, and takes no measurable CPU. */
	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"  reconnect-min: 60\n"
		"  reconnect-max: 60\n"
		"keys: %s\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    type: mqtt\n"
		"    list: doubtlist\n"
		"    topics: " TOPIC "\n"
		"policy:\n"
		"  doubtlist:\n"
		"    denytapir: { tags: [likelymalware], action: NXDOMAIN }\n"
		"limits:\n"
		"  queue-length: 4096\n",
		keys);
	if (!(cfg = tapir_config_parse(yaml, strlen(yaml), "bench.yaml", &err)))
		die(err.text);
	if (!(e = tapir_engine_create_take(cfg)))
		die("engine");
	tapir_engine_set_purge(e, count_purge, NULL, "a counting sink");
	if (tapir_engine_start(e) != 0)
		die("engine start");

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	msgs = calloc(n * (size_t)rounds, sizeof(*msgs));
	raw = calloc((size_t)rounds, sizeof(*raw));
	core = calloc((size_t)rounds, sizeof(*core));
	wall = calloc((size_t)rounds, sizeof(*wall));
	if (!msgs || !raw || !core || !wall)
		die("out of memory");
	for (size_t i = 0; i < n * (size_t)rounds; i++) {
		char name[64];

		snprintf(name, sizeof(name), "ingest-%zu.bench.example", i);
		sign_one(signer, name, ts, &msgs[i]);
	}
	printf("%zu signed observations per round (one new blocked name "
	       "each, %zu bytes), %d rounds; Ed25519 by libsodium %s\n",
		n, msgs[0].len, rounds, sodium_version_string());
	for (int r = 0; r < rounds; r++) {
		const struct signed_msg *m = msgs + (size_t)r * n;

		raw[r] = raw_round(m, n, pk);
		engine_round(e, m, n, &core[r], &wall[r]);
		printf("round %d  raw verify %8.0f /s per core  engine "
		       "%8.0f /s per core  %8.0f /s wall  ratio %.3f\n",
			r + 1, raw[r], core[r], wall[r], core[r] / raw[r]);
		fflush(stdout);
	}
	{
		double mr = median(raw, rounds), mc = median(core, rounds);

		printf("median  raw verify %8.0f /s per core  engine %8.0f /s "
		       "per core  %8.0f /s wall  ratio %.3f (target >= 0.80); "
		       "%lu names purged\n",
			mr, mc, median(wall, rounds), mc / mr,
			(unsigned long)atomic_load(&purged));
		printf("RESULT bench=ingest messages=%zu rounds=%d "
		       "raw_per_s=%.0f engine_per_s=%.0f wall_per_s=%.0f "
		       "ratio=%.3f\n",
			n, rounds, mr, mc, median(wall, rounds), mc / mr);
	}
	tapir_engine_destroy(e);
	tapir_signer_destroy(signer);
	for (size_t i = 0; i < n * (size_t)rounds; i++) {
		free(msgs[i].jws);
		free(msgs[i].input);
	}
	free(msgs);
	free(raw);
	free(core);
	free(wall);
	unlink(keys);
	rmdir(dir);
	return 0;
}
