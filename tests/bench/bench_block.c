/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Time from an MQTT publish to the first client query that gets the block
 * answer, for names that Unbound has cached as allowed: the path an
 * observation takes through the broker, the module's writer, the cache
 * purge and the next query. Prints p50/p99/max over the trials; timings
 * are numbers to read, never asserted.
 *
 * bench_block -u UNBOUND_PORT -m MQTT_PORT -t TOPIC -k SIGNER.jwk [-n TRIALS]
 *	[-p PREFIX] [-b BURST] [-o FILE]
 *
 * -o FILE: each trial's latency in microseconds, one a line, for the
 * distribution (tests/bench/bench_all.sh plots it).
 *
 * With -b, instead: the worst latency of a steady stream of cached allowed
 * queries while BURST decision changes (observations of new names, each
 * purged from Unbound's cache) arrive as fast as the broker takes them.
 *
 * bench_block -u UNBOUND_PORT -s SECONDS [-r QPS]
 *
 * The same steady stream alone for SECONDS, while something else changes
 * the policy (bench_rpz.sh: one IXFR of many names into Unbound's RPZ), or
 * until SIGTERM (bench_mem.sh: while a source loads). Queries unanswered
 * within 2 s and SERVFAIL answers are counted: a reload must not cost any.
 * With -r, QPS queries a second on a fixed clock instead of each as soon
 * as the last is answered: steady traffic that leaves CPU to the rest,
 * where the flood measures what is left once the workers have all they
 * want.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/jws.h"
#include "lib/name.h"

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One A query over UDP; returns the rcode, or -1 on timeout. */
static int
query(int fd, const char *name, uint16_t id, int timeout_ms)
{
	uint8_t pkt[512], ans[1500];
	uint8_t wire[TAPIR_NAME_WIRE_MAX];
	size_t wlen;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (tapir_name_to_wire(name, wire, &wlen) != 0)
		return -1;
	memset(pkt, 0, 12);
	pkt[0] = (uint8_t)(id >> 8);
	pkt[1] = (uint8_t)id;
	pkt[2] = 0x01; /* RD */
	pkt[5] = 1;    /* QDCOUNT */
	memcpy(pkt + 12, wire, wlen);
	pkt[12 + wlen] = 0;
	pkt[13 + wlen] = 1; /* A */
	pkt[14 + wlen] = 0;
	pkt[15 + wlen] = 1; /* IN */
	if (send(fd, pkt, 16 + wlen, 0) < 0)
		return -1;
	for (;;) {
		ssize_t n;
		if (poll(&p, 1, timeout_ms) != 1)
			return -1;
		if ((n = recv(fd, ans, sizeof(ans), 0)) < 12)
			continue;
		if (((ans[0] << 8) | ans[1]) != id)
			continue; /* a late answer to an earlier query */
		return ans[3] & 0x0f;
	}
}

struct stream {
	int port;
	volatile int stop;
	int64_t total, answered;
	/* Queries with no answer within 2 s; SERVFAIL answers. Like the
	 * counts above, the stream thread's own, read once it is joined. */
	int64_t unanswered, servfail;
	int64_t start; /* when the stream began */
	/* 0: each query as soon as the last is answered (a flood that keeps
	 * a CPU busy); else one query every interval ns, on a fixed clock. */
	int64_t interval;
	bool realtime; /* the stream thread got SCHED_FIFO */
	/* Each answer after the first 20 (warm-up): when it was asked (from
	 * start) and how long it took. */
	int64_t *at, *lat;
	size_t n, cap;
};

/* Cached allowed names, asked one after another: the stall a client
 * sees is the longest wait for one answer. */
static void *
stream_main(void *arg)
{
	struct stream *st = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint16_t id = 1;
	struct sched_param sp = { .sched_priority = 10 };

	/* The client's own wait for a CPU is not the resolver's stall: as
	 * root, this one thread runs real-time, so that on a machine with
	 * few cores what is measured is Unbound's answer time. */
	st->realtime =
		pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;

	sa.sin_port = htons((uint16_t)st->port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return NULL;
	int64_t next = now_ns();

	while (!st->stop) {
		char name[64];
		int64_t t0, dt;
		int rc;

		if (st->interval) {
			struct timespec ts;

			next += st->interval;
			ts.tv_sec = next / 1000000000;
			ts.tv_nsec = next % 1000000000;
			clock_nanosleep(
				CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		t0 = now_ns();
		snprintf(name, sizeof(name), "steady-%d.example", id % 20);
		if ((rc = query(fd, name, id++, 2000)) < 0) {
			st->unanswered++;
			continue;
		}
		st->servfail += rc == 2;
		dt = now_ns() - t0;
		if (st->answered > 20 && st->n < st->cap) {
			st->at[st->n] = t0 - st->start;
			st->lat[st->n++] = dt;
		}
		st->total += dt;
		st->answered++;
	}
	close(fd);
	return NULL;
}

/* A signed observation that blocks name (likelymalware, one hour). */
static int
block_jws(struct tapir_signer *signer, const char *name, char **jws,
	size_t *jws_len)
{
	char payload[1024], ts[64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(payload, sizeof(payload),
		"{\"src_name\":\"dns-tapir\",\"creator\":\"bench\","
		"\"msg_type\":\"observation\",\"list_type\":"
		"\"doubtlist\",\"added\":[{\"name\":\"%s\","
		"\"time_added\":\"%s\",\"ttl\":3600,\"tag_mask\":16}],"
		"\"removed\":[],\"msg\":\"\",\"timestamp\":\"%s\","
		"\"time_str\":\"\"}",
		name, ts, ts);
	return tapir_jws_sign(signer, (const uint8_t *)payload, strlen(payload),
		false, jws, jws_len);
}

/* The worst answer and the answers over 1 ms among those asked within
 * [from, to) ns (inside) or outside it. */
struct span_stats {
	int64_t worst[2], worst_at[2], slow[2], count[2];
};

static void
span_stats(const struct stream *st, int64_t from, int64_t to,
	struct span_stats *ss)
{
	memset(ss, 0, sizeof(*ss));
	for (size_t i = 0; i < st->n; i++) {
		int in = st->at[i] >= from && st->at[i] < to;
		ss->count[in]++;
		if (st->lat[i] > ss->worst[in]) {
			ss->worst[in] = st->lat[i];
			ss->worst_at[in] = st->at[i];
		}
		ss->slow[in] += st->lat[i] > 1000000;
	}
}

static void
stream_report(const struct stream *st)
{
	struct span_stats ss;

	span_stats(st, 0, INT64_MAX, &ss);
	printf("%lld cached queries answered, mean %.3f ms, worst %.2f ms "
	       "(at %.2f s), %lld over 1 ms, %lld unanswered, %lld SERVFAIL%s%s\n",
		(long long)st->answered,
		st->answered ? st->total / 1e6 / (double)st->answered : 0.0,
		ss.worst[1] / 1e6, ss.worst_at[1] / 1e9, (long long)ss.slow[1],
		(long long)st->unanswered, (long long)st->servfail,
		st->realtime ? "" : " (client not real-time)",
		st->n == st->cap ? " (answers past the first million untimed)"
				 : "");
}

/* The answers asked within [from, to) ns and those outside: a burst's
 * own stall against what the machine does anyway in the same run. */
static void
window_report(const struct stream *st, int64_t from, int64_t to)
{
	struct span_stats ss;

	span_stats(st, from, to, &ss);
	printf("  during the burst (%.2f-%.2f s): %lld answers, worst %.2f ms, "
	       "%lld over 1 ms; before and after it: %lld answers, worst "
	       "%.2f ms, %lld over 1 ms\n",
		from / 1e9, to / 1e9, (long long)ss.count[1], ss.worst[1] / 1e6,
		(long long)ss.slow[1], (long long)ss.count[0],
		ss.worst[0] / 1e6, (long long)ss.slow[0]);
}

static bool
stream_alloc(struct stream *st)
{
	st->cap = (size_t)1 << 20;
	st->at = calloc(st->cap, sizeof(*st->at));
	st->lat = calloc(st->cap, sizeof(*st->lat));
	return st->at && st->lat;
}

static int
burst(int uport, struct mosquitto *mosq, struct tapir_signer *signer,
	const char *topic, const char *prefix, int n)
{
	struct stream st = { .port = uport };
	pthread_t th;
	struct timespec settle = { 1, 0 };
	int64_t pub0, pub1;
	char **jws = calloc((size_t)n, sizeof(*jws));
	size_t *jws_len = calloc((size_t)n, sizeof(*jws_len));

	/* Signed beforehand: what is measured is Unbound and the module
	 * working off a burst, not this program's own signing competing for
	 * the same CPUs. */
	if (!jws || !jws_len || !stream_alloc(&st))
		return 1;
	for (int i = 0; i < n; i++) {
		char name[128];
		snprintf(name, sizeof(name), "%s-burst-%d.example", prefix, i);
		if (block_jws(signer, name, &jws[i], &jws_len[i]) != 0)
			return 1;
	}
	st.start = now_ns();
	pthread_create(&th, NULL, stream_main, &st);
	nanosleep(&settle, NULL);
	pub0 = now_ns() - st.start;
	for (int i = 0; i < n; i++) {
		if (mosquitto_publish(mosq, NULL, topic, (int)jws_len[i],
			    jws[i], 1, false) != MOSQ_ERR_SUCCESS)
			return 1;
		free(jws[i]);
	}
	pub1 = now_ns() - st.start;
	free(jws);
	free(jws_len);
	/* Let the module and Unbound work the burst off. */
	nanosleep(&settle, NULL);
	nanosleep(&settle, NULL);
	st.stop = 1;
	pthread_join(th, NULL);
	printf("burst of %d decision changes (published %.2f-%.2f s): ", n,
		pub0 / 1e9, pub1 / 1e9);
	stream_report(&st);
	/* The burst is worked off within a second of the last publish:
	 * decisions in ~1 ms each, purges in ~0.5 s (cache.purge.done). */
	window_report(&st, pub0, pub1 + 1000000000LL);
	free(st.at);
	free(st.lat);
	return 0;
}

static volatile sig_atomic_t terminated;

static void
on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

static int
stream_only(int uport, int seconds, int rate)
{
	struct stream st = { .port = uport,
		.start = now_ns(),
		.interval = rate > 0 ? 1000000000 / rate : 0 };
	pthread_t th;
	struct timespec tick = { 0, 10000000 };
	struct sigaction sa = { .sa_handler = on_term };
	int64_t end = st.start + (int64_t)seconds * 1000000000;

	if (!stream_alloc(&st))
		return 1;
	/* SIGTERM ends the stream early, with its report: the caller stops
	 * it when what it waited for is done. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	pthread_create(&th, NULL, stream_main, &st);
	while (!terminated && now_ns() < end)
		nanosleep(&tick, NULL);
	st.stop = 1;
	pthread_join(th, NULL);
	if (rate > 0)
		printf("steady stream of %d queries/s for %d s: ", rate,
			seconds);
	else
		printf("steady stream for %d s: ", seconds);
	stream_report(&st);
	free(st.at);
	free(st.lat);
	return 0;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int uport = 0, mport = 0, trials = 200, c, fd;
	const char *topic = NULL, *key = NULL, *prefix = "bench";
	struct tapir_signer *signer;
	struct tapir_error err = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct mosquitto *mosq;
	int64_t *lat;
	uint16_t id = 1;
	int done = 0, lost = 0, nburst = 0, stream_s = 0, rate = 0;
	const char *lat_file = NULL;

	while ((c = getopt(argc, argv, "u:m:t:k:n:p:b:s:r:o:")) != -1) {
		switch (c) {
		case 'u':
			uport = atoi(optarg);
			break;
		case 'm':
			mport = atoi(optarg);
			break;
		case 't':
			topic = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			trials = atoi(optarg);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'b':
			nburst = atoi(optarg);
			break;
		case 's':
			stream_s = atoi(optarg);
			break;
		case 'r':
			rate = atoi(optarg);
			break;
		case 'o':
			lat_file = optarg;
			break;
		default:
			return 2;
		}
	}
	if (uport && stream_s > 0)
		return stream_only(uport, stream_s, rate);
	if (!uport || !mport || !topic || !key || trials < 1)
		return 2;
	if (!(signer = tapir_signer_load_file(key, &err))) {
		fprintf(stderr, "%s\n", err.text);
		return 2;
	}
	mosquitto_lib_init();
	mosq = mosquitto_new(NULL, true, NULL);
	if (!mosq || mosquitto_connect(mosq, "127.0.0.1", mport, 30) != 0 ||
		mosquitto_loop_start(mosq) != 0) {
		fprintf(stderr, "cannot connect to the broker\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_port = htons((uint16_t)uport);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return 2;
	if (nburst > 0) {
		/* Torn down as the trials are, so that a sanitizer build
		 * reports no leak of its own. */
		int rc = burst(uport, mosq, signer, topic, prefix, nburst);

		mosquitto_disconnect(mosq);
		mosquitto_loop_stop(mosq, false);
		mosquitto_destroy(mosq);
		mosquitto_lib_cleanup();
		tapir_signer_destroy(signer);
		close(fd);
		return rc;
	}
	lat = calloc((size_t)trials, sizeof(*lat));
	for (int i = 0; i < trials; i++) {
		char name[128];
		char *jws = NULL;
		size_t jws_len = 0;
		int64_t t0, deadline;
		int rc = -1;

		snprintf(name, sizeof(name), "%s-%d.example", prefix, i);
		/* Cached as allowed first. */
		if (query(fd, name, id++, 1000) != 0) {
			lost++;
			continue;
		}
		/* Signed before the clock starts: the core signs, not us. */
		if (block_jws(signer, name, &jws, &jws_len) != 0)
			return 2;
		t0 = now_ns();
		mosquitto_publish(
			mosq, NULL, topic, (int)jws_len, jws, 1, false);
		free(jws);
		deadline = t0 + 2000000000LL;
		while (now_ns() < deadline &&
			(rc = query(fd, name, id++, 200)) != 3) {
			struct timespec pause = { 0, 100000 };
			nanosleep(&pause, NULL);
		}
		if (rc != 3) {
			lost++;
			continue;
		}
		lat[done++] = now_ns() - t0;
	}
	qsort(lat, (size_t)done, sizeof(*lat), cmp64);
	if (done)
		printf("trials %d blocked %d not-blocked-in-2s %d  p50 %.2f ms  "
		       "p99 %.2f ms  max %.2f ms\n",
			trials, done, lost, lat[done / 2] / 1e6,
			lat[(done * 99) / 100 < done ? (done * 99) / 100
						     : done - 1] /
				1e6,
			lat[done - 1] / 1e6);
	else
		printf("trials %d blocked 0\n", trials);
	if (lat_file) {
		FILE *f = fopen(lat_file, "w");

		if (!f) {
			perror(lat_file);
			return 1;
		}
		for (int i = 0; i < done; i++)
			fprintf(f, "%lld\n", (long long)(lat[i] / 1000));
		if (fclose(f) != 0)
			return 1;
	}
	mosquitto_disconnect(mosq);
	mosquitto_loop_stop(mosq, false);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	tapir_signer_destroy(signer);
	free(lat);
	close(fd);
	return done ? 0 : 1;
}
