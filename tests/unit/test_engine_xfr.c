/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/engine_xfr.c: a started engine with one xfr source against
 * an in-process fake primary on 127.0.0.1 (a thread that accepts any
 * number of connections and answers each AXFR or IXFR query with one
 * canned message, built with libknot from zone text before it starts), and
 * a state directory of its own, so that a second engine restores what the
 * first one saved.
 *
 * They prove that destroy cancels a transfer to a primary that never
 * answers at once instead of at the transfer's timeout; that an IXFR which
 * deletes one record of an owner keeps the owner's entry while another
 * record of it remains, across a restart; that zone data restored from the
 * state file expires when the zone would have, with the primary down; and
 * that a serials file that does not go with the state file is not
 * believed.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libknot/libknot.h>
#include <libzscanner/scanner.h>

#include "lib/config.h"
#include "lib/engine.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

#define ZONE "rpz.test"

struct primary {
	int lfd, port;
	pthread_t th;
	bool started;
	atomic_bool stop;
	/* Accept, read the query, then never answer. */
	bool silent;
	/* One answer message per query type; NULL: close at once. */
	uint8_t *axfr, *ixfr;
	size_t axfr_len, ixfr_len;
	/* Or, for AXFR, this many messages (bulk_axfr()). */
	uint8_t **axfr_msgs;
	size_t *axfr_lens, n_axfr_msgs;
	/* What it saw. */
	atomic_int connections, queries, axfrs, ixfrs;
	atomic_uint ixfr_serial;
};

struct fixture {
	char dir[64];
	char state_dir[96];
	struct primary p;
	struct tapir_engine *e;
};

/* One answer message, question (ZONE, qtype), with the RRs in text, one
 * per line, relative to ZONE. */
static uint8_t *
build_msg(uint16_t qtype, const char *text, size_t *len)
{
	zs_scanner_t s;
	knot_pkt_t *p = knot_pkt_new(NULL, 16384, NULL);
	uint8_t apex[KNOT_DNAME_MAXLEN], *out;

	assert_non_null(p);
	memset(p->wire, 0, KNOT_WIRE_HEADER_SIZE);
	assert_non_null(knot_dname_from_str(apex, ZONE, sizeof(apex)));
	assert_int_equal(
		knot_pkt_put_question(p, apex, KNOT_CLASS_IN, qtype), KNOT_EOK);
	knot_wire_set_qr(p->wire);
	knot_wire_set_aa(p->wire);
	assert_int_equal(knot_pkt_begin(p, KNOT_ANSWER), KNOT_EOK);
	assert_int_equal(zs_init(&s, ZONE ".", KNOT_CLASS_IN, 300), 0);
	assert_int_equal(zs_set_input_string(&s, text, strlen(text)), 0);
	while (zs_parse_record(&s) == 0 && s.state == ZS_STATE_DATA) {
		knot_rrset_t rr;

		knot_rrset_init(&rr, knot_dname_copy(s.r_owner, NULL), s.r_type,
			KNOT_CLASS_IN, s.r_ttl);
		assert_int_equal(knot_rrset_add_rdata(&rr, s.r_data,
					 (uint16_t)s.r_data_length, NULL),
			KNOT_EOK);
		assert_int_equal(
			knot_pkt_put(p, 0, &rr, KNOT_PF_FREE), KNOT_EOK);
	}
	assert_int_equal(s.state, ZS_STATE_EOF);
	zs_deinit(&s);
	out = malloc(p->size);
	assert_non_null(out);
	memcpy(out, p->wire, p->size);
	*len = p->size;
	knot_pkt_free(p);
	return out;
}

/* Reads n bytes, polling in short steps so that stop is seen. */
static bool
read_n(struct primary *pr, int fd, uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;
		int rc = poll(&pfd, 1, 50);

		if (atomic_load(&pr->stop))
			return false;
		if (rc == 0)
			continue;
		if (rc < 0 || (r = recv(fd, p, n, 0)) <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static void
serve(struct primary *pr, int fd)
{
	uint8_t q[2048], out[2 + 65535], byte;
	const uint8_t *msg = NULL;
	size_t n = 0;
	knot_pkt_t *qp;
	uint16_t len, qtype;

	if (!read_n(pr, fd, q, 2))
		return;
	len = knot_wire_read_u16(q);
	if (len > sizeof(q) || !read_n(pr, fd, q, len))
		return;
	atomic_fetch_add(&pr->queries, 1);
	if (!(qp = knot_pkt_new(q, len, NULL)) ||
		knot_pkt_parse(qp, 0) != KNOT_EOK) {
		knot_pkt_free(qp);
		return;
	}
	qtype = knot_pkt_qtype(qp);
	if (qtype == KNOT_RRTYPE_IXFR &&
		knot_pkt_section(qp, KNOT_AUTHORITY)->count == 1) {
		const knot_rrset_t *soa =
			knot_pkt_rr(knot_pkt_section(qp, KNOT_AUTHORITY), 0);
		atomic_store(&pr->ixfr_serial, knot_soa_serial(soa->rrs.rdata));
	}
	knot_pkt_free(qp);
	if (pr->silent) {
		/* Until the client hangs up or the test ends. */
		(void)read_n(pr, fd, &byte, 1);
		return;
	}
	if (qtype == KNOT_RRTYPE_AXFR && pr->n_axfr_msgs) {
		atomic_fetch_add(&pr->axfrs, 1);
		for (size_t i = 0; i < pr->n_axfr_msgs; i++) {
			n = pr->axfr_lens[i];
			memcpy(out + 2, pr->axfr_msgs[i], n);
			knot_wire_set_id(out + 2, knot_wire_get_id(q));
			knot_wire_write_u16(out, (uint16_t)n);
			if (send(fd, out, n + 2, MSG_NOSIGNAL) !=
				(ssize_t)(n + 2))
				return;
		}
		(void)read_n(pr, fd, &byte, 1);
		return;
	}
	if (qtype == KNOT_RRTYPE_AXFR) {
		atomic_fetch_add(&pr->axfrs, 1);
		msg = pr->axfr;
		n = pr->axfr_len;
	} else if (qtype == KNOT_RRTYPE_IXFR) {
		atomic_fetch_add(&pr->ixfrs, 1);
		msg = pr->ixfr;
		n = pr->ixfr_len;
	}
	if (!msg)
		return;
	memcpy(out + 2, msg, n);
	knot_wire_set_id(out + 2, knot_wire_get_id(q));
	knot_wire_write_u16(out, (uint16_t)n);
	if (send(fd, out, n + 2, MSG_NOSIGNAL) != (ssize_t)(n + 2))
		return;
	(void)read_n(pr, fd, &byte, 1);
}

static void *
primary_main(void *arg)
{
	struct primary *pr = arg;

	while (!atomic_load(&pr->stop)) {
		struct pollfd pfd = { .fd = pr->lfd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 50) != 1)
			continue;
		if ((fd = accept(pr->lfd, NULL, NULL)) < 0)
			continue;
		atomic_fetch_add(&pr->connections, 1);
		serve(pr, fd);
		close(fd);
	}
	return NULL;
}

static void
primary_listen(struct primary *pr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pr->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(pr->lfd >= 0);
	assert_int_equal(bind(pr->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(pr->lfd, 8), 0);
	assert_int_equal(getsockname(pr->lfd, (struct sockaddr *)&sa, &sl), 0);
	pr->port = ntohs(sa.sin_port);
}

static void
primary_start(struct primary *pr)
{
	atomic_store(&pr->stop, false);
	assert_int_equal(pthread_create(&pr->th, NULL, primary_main, pr), 0);
	pr->started = true;
}

static void
primary_stop(struct primary *pr)
{
	if (!pr->started)
		return;
	atomic_store(&pr->stop, true);
	pthread_join(pr->th, NULL);
	pr->started = false;
}

/* The zone's SOA with expire seconds of expiry and the given serial. */
static void
soa(char *buf, size_t size, unsigned serial, unsigned expire)
{
	snprintf(buf, size,
		"@ 300 SOA ns.example. host.example. %u 3600 600 %u 60\n",
		serial, expire);
}

static void
set_axfr(struct primary *pr, unsigned serial, unsigned expire, const char *body)
{
	char s[128], text[4096];

	soa(s, sizeof(s), serial, expire);
	snprintf(text, sizeof(text), "%s%s%s", s, body, s);
	free(pr->axfr);
	pr->axfr = build_msg(KNOT_RRTYPE_AXFR, text, &pr->axfr_len);
}

/* An AXFR of n names "nI.bulk" CNAME . in as many messages as it takes,
 * SOA expire a day. */
static void
bulk_axfr(struct primary *pr, unsigned serial, size_t n)
{
	const size_t per_msg = 500;
	char s[128], *text;
	size_t at, cap = per_msg * 40 + 512;

	soa(s, sizeof(s), serial, 86400);
	assert_non_null(text = malloc(cap));
	for (size_t i = 0; i <= n; i += per_msg) {
		size_t msgs = pr->n_axfr_msgs + 1;

		at = (size_t)snprintf(text, cap, "%s", i == 0 ? s : "");
		for (size_t k = i; k < i + per_msg && k < n; k++)
			at += (size_t)snprintf(text + at, cap - at,
				"n%zu.bulk 300 CNAME .\n", k);
		if (i + per_msg > n)
			at += (size_t)snprintf(text + at, cap - at, "%s", s);
		assert_non_null(pr->axfr_msgs = realloc(pr->axfr_msgs,
					msgs * sizeof(*pr->axfr_msgs)));
		assert_non_null(pr->axfr_lens = realloc(pr->axfr_lens,
					msgs * sizeof(*pr->axfr_lens)));
		pr->axfr_msgs[msgs - 1] = build_msg(
			KNOT_RRTYPE_AXFR, text, &pr->axfr_lens[msgs - 1]);
		pr->n_axfr_msgs = msgs;
	}
	free(text);
}

/* One changeset from..to: the deletions, then the additions. */
static void
set_ixfr(struct primary *pr, unsigned from, unsigned to, unsigned expire,
	const char *del, const char *add)
{
	char s_from[128], s_to[128], text[4096];

	soa(s_from, sizeof(s_from), from, expire);
	soa(s_to, sizeof(s_to), to, expire);
	snprintf(text, sizeof(text), "%s%s%s%s%s%s", s_to, s_from, del, s_to,
		add, s_to);
	free(pr->ixfr);
	pr->ixfr = build_msg(KNOT_RRTYPE_IXFR, text, &pr->ixfr_len);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-engine-xfr-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
	if (mkdir(f->state_dir, 0700) != 0)
		return -1;
	primary_listen(&f->p);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	static const char *const files[] = { "tapir-pop.state",
		"tapir-pop.state.serials", "overrides.json" };
	struct fixture *f = *state;
	char path[160];

	tapir_engine_destroy(f->e);
	primary_stop(&f->p);
	close(f->p.lfd);
	free(f->p.axfr);
	free(f->p.ixfr);
	for (size_t i = 0; i < f->p.n_axfr_msgs; i++)
		free(f->p.axfr_msgs[i]);
	free(f->p.axfr_msgs);
	free(f->p.axfr_lens);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->state_dir, files[i]);
		unlink(path);
	}
	rmdir(f->state_dir);
	rmdir(f->dir);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

/* A started engine with one denylist xfr source on port, and the state
 * directory. */
static struct tapir_engine *
engine_with(struct fixture *f, int port, unsigned timeout, const char *extra)
{
	struct tapir_engine *e;
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"keys: %s/no-keys.json\n"
		"state-dir: %s\n"
		"sources:\n"
		"  - name: rpz\n"
		"    type: xfr\n"
		"    list: denylist\n"
		"    primary: 127.0.0.1\n"
		"    port: %d\n"
		"    zone: " ZONE "\n"
		"    timeout: %u\n"
		"%s",
		f->dir, f->state_dir, port, timeout, extra);
	e = fixture_engine_yaml(yaml);
	assert_int_equal(tapir_engine_start(e), 0);
	return e;
}

static struct tapir_engine *
engine_on(struct fixture *f, int port, unsigned timeout)
{
	return engine_with(f, port, timeout, "");
}

static enum tapir_action
decide(struct fixture *f, const char *name)
{
	return tapir_engine_decide(f->e, name, strlen(name), NULL);
}

/* Waits up to ms for name's decision to become want. */
static bool
wait_decision(
	struct fixture *f, const char *name, enum tapir_action want, int ms)
{
	int64_t t0 = tapir_monotonic_ms();

	while (tapir_monotonic_ms() - t0 < ms) {
		if (decide(f, name) == want)
			return true;
		fixture_sleep_ms(10);
	}
	return decide(f, name) == want;
}

/* A port nothing listens on: bound, then closed. */
static int
dead_port(void)
{
	struct primary pr = { 0 };
	int port;

	primary_listen(&pr);
	port = pr.port;
	close(pr.lfd);
	return port;
}

/* ---- destroy ---- */

static void
test_destroy_cancels_transfer_to_silent_primary(void **state)
{
	struct fixture *f = *state;
	int64_t t0, took;

	f->p.silent = true;
	primary_start(&f->p);
	/* A timeout far longer than the test may take. */
	f->e = engine_on(f, f->p.port, 20);
	t0 = tapir_monotonic_ms();
	while (atomic_load(&f->p.queries) == 0 &&
		tapir_monotonic_ms() - t0 < 5000)
		fixture_sleep_ms(10);
	assert_int_equal(atomic_load(&f->p.queries), 1);
	/* The transfer thread now waits for an answer that never comes. */
	fixture_sleep_ms(100);
	t0 = tapir_monotonic_ms();
	tapir_engine_destroy(f->e);
	f->e = NULL;
	took = tapir_monotonic_ms() - t0;
	print_message("destroy took %lld ms with a transfer in flight\n",
		(long long)took);
	if (took >= 1000)
		fail_msg("destroy took %lld ms, not under 1000",
			(long long)took);
}

/* ---- IXFR and the records behind an entry ---- */

/* Starts an engine on the fixture's primary and waits for name to get
 * want: the transfer it makes at start is applied. */
static void
engine_until(struct fixture *f, const char *name, enum tapir_action want)
{
	f->e = engine_on(f, f->p.port, 5);
	if (!wait_decision(f, name, want, 5000))
		fail_msg("%s: %s, expected %s after the transfer", name,
			tapir_action_str(decide(f, name)),
			tapir_action_str(want));
}

static void
engine_stop(struct fixture *f)
{
	tapir_engine_destroy(f->e);
	f->e = NULL;
}

static void
test_ixfr_deleting_one_record_keeps_owner(void **state)
{
	struct fixture *f = *state;

	/* x and the subtree below w have two records each, y one; m has a
	 * CNAME beside other data, which DNS forbids but a primary may
	 * serve: the most restrictive decides. */
	set_axfr(&f->p, 1, 86400,
		"x 300 A 192.0.2.1\n"
		"x 300 AAAA 2001:db8::1\n"
		"*.w 300 A 192.0.2.2\n"
		"*.w 300 TXT \"local data\"\n"
		"y 300 CNAME .\n"
		"m 300 TXT \"local data\"\n"
		"m 300 CNAME .\n");
	primary_start(&f->p);
	engine_until(f, "x", TAPIR_ACTION_REDIRECT);
	assert_int_equal(decide(f, "a.w"), TAPIR_ACTION_REDIRECT);
	assert_int_equal(decide(f, "y"), TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(decide(f, "m"), TAPIR_ACTION_NXDOMAIN);
	engine_stop(f);
	assert_int_equal(atomic_load(&f->p.axfrs), 1);

	/* The next start asks for the changes since serial 1 (the zone
	 * comes back from the state file): one record of x and of *.w go,
	 * y goes whole. */
	set_ixfr(&f->p, 1, 2, 86400,
		"x 300 AAAA 2001:db8::1\n"
		"*.w 300 TXT \"local data\"\n"
		"y 300 CNAME .\n"
		"m 300 CNAME .\n",
		"z 300 CNAME .\n");
	engine_until(f, "z", TAPIR_ACTION_NXDOMAIN);
	assert_int_equal(atomic_load(&f->p.ixfrs), 1);
	assert_int_equal(atomic_load(&f->p.ixfr_serial), 1);
	assert_int_equal(atomic_load(&f->p.axfrs), 1);
	if (decide(f, "x") != TAPIR_ACTION_REDIRECT)
		fail_msg("x: %s after one of its two records was deleted, "
			 "expected REDIRECT (its A record remains)",
			tapir_action_str(decide(f, "x")));
	assert_int_equal(decide(f, "a.w"), TAPIR_ACTION_REDIRECT);
	assert_int_equal(decide(f, "y"), TAPIR_ACTION_PASS);
	/* Its CNAME gone, m is what its TXT says. */
	assert_int_equal(decide(f, "m"), TAPIR_ACTION_REDIRECT);
	engine_stop(f);

	/* The last records of x and *.w go: so do their entries. */
	set_ixfr(&f->p, 2, 3, 86400,
		"x 300 A 192.0.2.1\n"
		"*.w 300 A 192.0.2.2\n",
		"v 300 CNAME rpz-drop.\n");
	engine_until(f, "v", TAPIR_ACTION_DROP);
	assert_int_equal(atomic_load(&f->p.ixfr_serial), 2);
	assert_int_equal(decide(f, "x"), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "a.w"), TAPIR_ACTION_PASS);
	assert_int_equal(decide(f, "z"), TAPIR_ACTION_NXDOMAIN);
}

/* ---- expiry of restored zone data ---- */

static void
test_restored_zone_expires_with_primary_down(void **state)
{
	struct fixture *f = *state;
	int64_t t_xfr, t0, gone;

	/* SOA expire 3 s. */
	set_axfr(&f->p, 1, 3, "x 300 CNAME .\n");
	primary_start(&f->p);
	engine_until(f, "x", TAPIR_ACTION_NXDOMAIN);
	t_xfr = tapir_monotonic_ms();
	engine_stop(f);
	primary_stop(&f->p);

	/* The primary is gone: the restored zone serves until its expire
	 * runs out, counted from the transfer, then goes. */
	f->e = engine_on(f, dead_port(), 1);
	if (!wait_decision(f, "x", TAPIR_ACTION_NXDOMAIN, 2000))
		fail_msg("x not restored from the state file");
	t0 = tapir_monotonic_ms();
	while (decide(f, "x") != TAPIR_ACTION_PASS &&
		tapir_monotonic_ms() - t0 < 8000)
		fixture_sleep_ms(20);
	gone = tapir_monotonic_ms() - t_xfr;
	if (decide(f, "x") != TAPIR_ACTION_PASS)
		fail_msg("restored zone data still served %lld ms after its "
			 "transfer (SOA expire 3 s)",
			(long long)gone);
	print_message("restored zone expired %lld ms after its transfer "
		      "(SOA expire 3 s)\n",
		(long long)gone);
	assert_true(gone >= 2000 && gone <= 5000);
}

/* A serials file that does not go with the state file beside it (here:
 * another stamp, as after a crash between the two renames) is not
 * believed: the zone is transferred whole, not from its serial. */
static void
test_serials_file_of_another_state_file_is_ignored(void **state)
{
	struct fixture *f = *state;
	char path[160], text[256];
	FILE *fp;

	set_axfr(&f->p, 1, 86400, "x 300 CNAME .\n");
	set_ixfr(&f->p, 1, 2, 86400, "x 300 CNAME .\n", "");
	primary_start(&f->p);
	engine_until(f, "x", TAPIR_ACTION_NXDOMAIN);
	engine_stop(f);
	snprintf(
		path, sizeof(path), "%s/tapir-pop.state.serials", f->state_dir);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(text, sizeof(text), fp));
	fclose(fp);
	assert_int_equal(strncmp(text, "tapir-pop-serials 2 ", 20), 0);
	assert_non_null(fp = fopen(path, "w"));
	fputs("tapir-pop-serials 2 12345\nzone rpz 1 0\n", fp);
	assert_int_equal(fclose(fp), 0);

	f->e = engine_on(f, f->p.port, 5);
	while (atomic_load(&f->p.axfrs) + atomic_load(&f->p.ixfrs) < 2)
		fixture_sleep_ms(10);
	assert_int_equal(atomic_load(&f->p.axfrs), 2);
	assert_int_equal(atomic_load(&f->p.ixfrs), 0);
	assert_true(wait_decision(f, "x", TAPIR_ACTION_NXDOMAIN, 2000));
}

/* ---- size and the writer ---- */

/* The engine's status line of the zone, once it shows want. */
static char *
status_until(struct fixture *f, const char *want)
{
	int64_t t0 = tapir_monotonic_ms();
	struct tapir_buf out = { 0 };

	for (;;) {
		char *line;

		tapir_buf_clear(&out);
		tapir_engine_command(f->e, "status", &out);
		assert_false(out.failed);
		if ((line = strstr(out.data, "source: rpz ")) &&
			strstr(line, want)) {
			char *copy = strndup(line, strcspn(line, "\n"));

			tapir_buf_clear(&out);
			return copy;
		}
		if (tapir_monotonic_ms() - t0 > 5000)
			fail_msg("no '%s' in status:\n%s", want, out.data);
		fixture_sleep_ms(20);
	}
}

/* A transfer is bounded by limits: max-entries bounds its records (four
 * RRs an entry: room for DNSSEC data and an IXFR's deletions), so a zone
 * far larger than the database is refused, not held whole. */
static void
test_transfer_over_max_entries_is_refused(void **state)
{
	struct fixture *f = *state;
	char *line;

	bulk_axfr(&f->p, 1, 100);
	primary_start(&f->p);
	f->e = engine_with(f, f->p.port, 5, "limits:\n  max-entries: 10\n");
	line = status_until(f, "failures=1");
	print_message("%s\n", line);
	assert_non_null(strstr(line, "names=0 "));
	assert_non_null(strstr(line, "more than 40 records"));
	free(line);
	assert_int_equal(decide(f, "n0.bulk"), TAPIR_ACTION_PASS);
}

/* And by bytes: limits.max-transfer-size bounds what it holds before it
 * is applied. */
static void
test_transfer_over_max_transfer_size_is_refused(void **state)
{
	struct fixture *f = *state;
	char *line;

	/* 8000 names of 7 to 10 octets, two more each: over 64 KiB. */
	bulk_axfr(&f->p, 1, 8000);
	primary_start(&f->p);
	f->e = engine_with(
		f, f->p.port, 5, "limits:\n  max-transfer-size: 65536\n");
	line = status_until(f, "failures=1");
	print_message("%s\n", line);
	assert_non_null(strstr(line, "names=0 "));
	assert_non_null(strstr(line, "limits.max-transfer-size"));
	free(line);
	assert_int_equal(decide(f, "n0.bulk"), TAPIR_ACTION_PASS);
}

/* ThreadSanitizer runs this code about ten times slower: the large
 * transfers below are smaller there (still several slices of 8192 names)
 * and what is timed gets more time. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
#define LARGE_ZONE 40000
#define SLOWER	   5
#else
#define LARGE_ZONE 200000
#define SLOWER	   1
#endif

/* A large transfer reaches the writer in slices: a job submitted while it
 * is applied (here an override) runs between two slices, not after the
 * whole zone. */
static void
test_writer_runs_jobs_while_a_large_transfer_applies(void **state)
{
	struct fixture *f = *state;
	const size_t n = LARGE_ZONE;
	struct tapir_buf out = { 0 };
	char last[32];
	int64_t t0;
	bool last_in;

	bulk_axfr(&f->p, 1, n);
	snprintf(last, sizeof(last), "n%zu.bulk", n - 1);
	primary_start(&f->p);
	f->e = engine_on(f, f->p.port, 30);
	t0 = tapir_monotonic_ms();
	while (decide(f, "n0.bulk") != TAPIR_ACTION_NXDOMAIN &&
		tapir_monotonic_ms() - t0 < 20000)
		;
	assert_int_equal(decide(f, "n0.bulk"), TAPIR_ACTION_NXDOMAIN);
	/* The transfer is being applied now. */
	t0 = tapir_monotonic_ms();
	tapir_engine_command(f->e, "override deny probe.example 0", &out);
	assert_string_equal(out.data, "ok\n");
	tapir_buf_clear(&out);
	last_in = decide(f, last) == TAPIR_ACTION_NXDOMAIN;
	print_message("override applied after %lld ms; the zone's last name "
		      "%s\n",
		(long long)(tapir_monotonic_ms() - t0),
		last_in ? "was already applied" : "was not yet applied");
	if (last_in)
		fail_msg("the override waited for the whole transfer of %zu "
			 "names",
			n);
	assert_true(wait_decision(f, last, TAPIR_ACTION_NXDOMAIN, 20000));
}

/* Stopping while a large transfer is being applied stops between two
 * slices; the zone then has no serial, so the next start transfers it
 * whole instead of asking for changes to data it only half has. */
static void
test_destroy_during_apply_stops_between_slices(void **state)
{
	struct fixture *f = *state;
	int64_t t0, took;
	char last[32];

	bulk_axfr(&f->p, 1, LARGE_ZONE);
	primary_start(&f->p);
	f->e = engine_on(f, f->p.port, 30);
	t0 = tapir_monotonic_ms();
	while (decide(f, "n0.bulk") != TAPIR_ACTION_NXDOMAIN &&
		tapir_monotonic_ms() - t0 < 20000)
		;
	t0 = tapir_monotonic_ms();
	engine_stop(f);
	took = tapir_monotonic_ms() - t0;
	print_message(
		"destroy took %lld ms during the apply\n", (long long)took);
	assert_true(took < 1000 * SLOWER);

	f->e = engine_on(f, f->p.port, 30);
	t0 = tapir_monotonic_ms();
	while (atomic_load(&f->p.axfrs) + atomic_load(&f->p.ixfrs) < 2 &&
		tapir_monotonic_ms() - t0 < 5000 * SLOWER)
		fixture_sleep_ms(10);
	assert_int_equal(atomic_load(&f->p.axfrs), 2);
	assert_int_equal(atomic_load(&f->p.ixfrs), 0);
	snprintf(last, sizeof(last), "n%d.bulk", LARGE_ZONE - 1);
	assert_true(wait_decision(f, last, TAPIR_ACTION_NXDOMAIN, 20000));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_destroy_cancels_transfer_to_silent_primary),
		T(test_ixfr_deleting_one_record_keeps_owner),
		T(test_restored_zone_expires_with_primary_down),
		T(test_serials_file_of_another_state_file_is_ignored),
		T(test_transfer_over_max_entries_is_refused),
		T(test_transfer_over_max_transfer_size_is_refused),
		T(test_writer_runs_jobs_while_a_large_transfer_applies),
		T(test_destroy_during_apply_stops_between_slices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
