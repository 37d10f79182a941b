/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests for lib/xfr.c against an in-process fake primary: a thread that
 * accepts one TCP connection on 127.0.0.1 and answers the query with
 * canned messages built with libknot from zone text (libzscanner),
 * TSIG-signed on demand. The callbacks write one line each into a log that
 * every test compares whole, so order and content are both checked.
 * With TAPIR_XFR_SEEDS=dir set, test_write_fuzz_seeds writes the seed
 * corpus of tests/fuzz/fuzz_xfr.c into dir.
 */
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
#include <unistd.h>

#include <libknot/libknot.h>
#include <libzscanner/scanner.h>

#include "lib/xfr.h"

#define ZONE	 "rpz.test"
#define SECRET	 "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
#define SECRET2	 "b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcg=="
#define MAX_MSGS 8

struct fake {
	int lfd;
	int port;
	pthread_t th;
	bool started;
	/* the script */
	size_t n_msgs;
	uint8_t *msgs[MAX_MSGS];
	size_t lens[MAX_MSGS];
	size_t send_only; /* close after this many messages; 0: all */
	bool silent;	  /* read the query, never answer */
	bool wrong_id;
	size_t tamper;		/* 1-based message whose last TTL changes after
			* signing; 0: none */
	bool tsig;		/* sign answers with key */
	unsigned unsigned_mask; /* messages left unsigned */
	knot_tsig_key_t key;
	/* what the server saw */
	uint16_t qtype;
	uint32_t qserial;
	bool query_signed, query_tsig_ok;
};

struct log {
	char text[4096];
	size_t len;
	int abort_after; /* records; 0: never */
	int n_records;
};

static void
logf_(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	l->len += (size_t)vsnprintf(
		l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	assert_true(l->len < sizeof(l->text));
}

static int
on_begin(void *arg, bool full, uint32_t from, uint32_t to)
{
	logf_(arg, "begin %s %u %u\n", full ? "full" : "incr", from, to);
	return 0;
}

static int
on_record(void *arg, bool add, const struct tapir_file_record *r)
{
	struct log *l = arg;

	assert_int_equal(strlen(r->name), r->len);
	logf_(l, "%s %s%s %s\n", add ? "add" : "del", r->subtree ? "*." : "",
		r->name, tapir_action_str(r->action));
	if (l->abort_after && ++l->n_records == l->abort_after)
		return 42;
	return 0;
}

static int
on_end(void *arg, const struct tapir_xfr_soa *s)
{
	logf_(arg, "end %u %u %u %u %u\n", s->serial, s->refresh, s->retry,
		s->expire, s->minimum);
	return 0;
}

static void
on_bad(void *arg, const char *reason)
{
	logf_(arg, "bad %s\n", reason);
}

static const struct tapir_xfr_ops ops = {
	.begin = on_begin,
	.record = on_record,
	.end = on_end,
	.bad = on_bad,
};

/* An answer message to ZONE's query of qtype, its answer section open. */
static knot_pkt_t *
msg_begin(struct fake *f, uint16_t qtype, uint8_t apex[KNOT_DNAME_MAXLEN])
{
	knot_pkt_t *p = knot_pkt_new(NULL, 16384, NULL);

	assert_non_null(p);
	memset(p->wire, 0, KNOT_WIRE_HEADER_SIZE);
	assert_true(f->n_msgs < MAX_MSGS);
	assert_non_null(knot_dname_from_str(apex, ZONE, KNOT_DNAME_MAXLEN));
	assert_int_equal(
		knot_pkt_put_question(p, apex, KNOT_CLASS_IN, qtype), KNOT_EOK);
	knot_wire_set_qr(p->wire);
	knot_wire_set_aa(p->wire);
	assert_int_equal(knot_pkt_begin(p, KNOT_ANSWER), KNOT_EOK);
	return p;
}

/* The message, next in the script. */
static void
msg_end(struct fake *f, knot_pkt_t *p)
{
	f->msgs[f->n_msgs] = malloc(p->size);
	assert_non_null(f->msgs[f->n_msgs]);
	memcpy(f->msgs[f->n_msgs], p->wire, p->size);
	f->lens[f->n_msgs++] = p->size;
	knot_pkt_free(p);
}

/* One answer message: question (ZONE, qtype) and the RRs in text, one per
 * line, relative to ZONE. */
static void
add_msg(struct fake *f, uint16_t qtype, const char *text)
{
	uint8_t apex[KNOT_DNAME_MAXLEN];
	knot_pkt_t *p = msg_begin(f, qtype, apex);
	zs_scanner_t s;

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
	msg_end(f, p);
}

/* One answer message whose only RR is the zone's SOA with empty rdata,
 * as libknot's parser takes it in a record of class NONE. */
static void
add_empty_soa_msg(struct fake *f, uint16_t qtype)
{
	uint8_t apex[KNOT_DNAME_MAXLEN];
	knot_pkt_t *p = msg_begin(f, qtype, apex);
	knot_rrset_t rr;

	knot_rrset_init(&rr, knot_dname_copy(apex, NULL), KNOT_RRTYPE_SOA,
		KNOT_CLASS_NONE, 0);
	assert_int_equal(knot_rrset_add_rdata(&rr, NULL, 0, NULL), KNOT_EOK);
	assert_int_equal(knot_pkt_put(p, 0, &rr, KNOT_PF_FREE), KNOT_EOK);
	msg_end(f, p);
}

static bool
read_n(int fd, uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 2000) <= 0)
			return false;
		if ((r = recv(fd, p, n, 0)) <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static void
serve(struct fake *f, int fd)
{
	uint8_t q[2048], out[20000], acc[65536];
	uint8_t mac[64], digest[64];
	size_t maclen = 0, dlen = 0, acclen = 0, n = 0;
	knot_pkt_t *qp;
	uint16_t len;

	if (!read_n(fd, q, 2))
		return;
	len = knot_wire_read_u16(q);
	if (len > sizeof(q) || !read_n(fd, q, len))
		return;
	qp = knot_pkt_new(q, len, NULL);
	if (!qp || knot_pkt_parse(qp, 0) != KNOT_EOK) {
		knot_pkt_free(qp);
		return;
	}
	f->qtype = knot_pkt_qtype(qp);
	if (knot_pkt_section(qp, KNOT_AUTHORITY)->count == 1) {
		const knot_rrset_t *soa =
			knot_pkt_rr(knot_pkt_section(qp, KNOT_AUTHORITY), 0);
		f->qserial = knot_soa_serial(soa->rrs.rdata);
	}
	if (qp->tsig_rr) {
		f->query_signed = true;
		maclen = knot_tsig_rdata_mac_length(qp->tsig_rr);
		memcpy(mac, knot_tsig_rdata_mac(qp->tsig_rr), maclen);
		f->query_tsig_ok = knot_tsig_server_check(qp->tsig_rr, qp->wire,
					   qp->size, &f->key) == KNOT_EOK;
	}
	knot_pkt_free(qp);
	if (f->silent) {
		read_n(fd, q, 1);
		return;
	}
	for (size_t i = 0; i < f->n_msgs; i++) {
		if (f->send_only && i == f->send_only)
			return;
		n = f->lens[i];
		memcpy(out + 2, f->msgs[i], n);
		knot_wire_set_id(out + 2, knot_wire_get_id(q) + f->wrong_id);
		if (f->tsig && !(f->unsigned_mask & (1u << i))) {
			size_t dl = sizeof(digest);
			int rc;

			if (i == 0) {
				rc = knot_tsig_sign(out + 2, &n,
					sizeof(out) - 2, mac, maclen, digest,
					&dl, &f->key, 0, 0);
			} else {
				memcpy(acc + acclen, out + 2, n);
				acclen += n;
				rc = knot_tsig_sign_next(out + 2, &n,
					sizeof(out) - 2, mac, maclen, digest,
					&dl, &f->key, acc, acclen);
			}
			assert_int_equal(rc, KNOT_EOK);
			memcpy(mac, digest, dl);
			maclen = dlen = dl;
			acclen = 0;
		} else if (f->tsig) {
			memcpy(acc + acclen, out + 2, n);
			acclen += n;
		}
		if (f->tamper == i + 1)
			out[2 + f->lens[i] - 4] ^= 1;
		knot_wire_write_u16(out, (uint16_t)n);
		if (send(fd, out, n + 2, MSG_NOSIGNAL) != (ssize_t)(n + 2))
			return;
	}
	(void)dlen;
	/* Until the client hangs up. */
	read_n(fd, q, 1);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
	int fd;

	if (poll(&pfd, 1, 2000) != 1)
		return NULL;
	if ((fd = accept(f->lfd, NULL, NULL)) < 0)
		return NULL;
	serve(f, fd);
	close(fd);
	return NULL;
}

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	assert_non_null(f);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(
		knot_tsig_key_init(&f->key, "hmac-sha256", "xfr-key", SECRET),
		KNOT_EOK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	if (f->started)
		pthread_join(f->th, NULL);
	close(f->lfd);
	for (size_t i = 0; i < f->n_msgs; i++)
		free(f->msgs[i]);
	knot_tsig_key_deinit(&f->key);
	free(f);
	return 0;
}

static void
start(struct fake *f)
{
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	f->started = true;
}

static struct tapir_xfr_opts
opts(const struct fake *f)
{
	struct tapir_xfr_opts o = { .primary = "127.0.0.1",
		.port = f->port,
		.zone = ZONE,
		.timeout_ms = 1500 };
	return o;
}

static struct tapir_xfr_opts
opts_tsig(const struct fake *f)
{
	struct tapir_xfr_opts o = opts(f);

	o.tsig_name = "xfr-key";
	o.tsig_alg = "hmac-sha256";
	o.tsig_secret = SECRET;
	return o;
}

#define SOA(n) "@ 300 SOA ns.example. host.example. " #n " 3600 600 86400 60\n"

/* --- SOA query --- */

static void
test_soa_query_reads_timers(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;

	add_msg(f, KNOT_RRTYPE_SOA, SOA(7));
	start(f);
	assert_int_equal(tapir_xfr_soa_query(&o, &soa, &e), 0);
	assert_int_equal(f->qtype, KNOT_RRTYPE_SOA);
	assert_int_equal(soa.serial, 7);
	assert_int_equal(soa.refresh, 3600);
	assert_int_equal(soa.retry, 600);
	assert_int_equal(soa.expire, 86400);
	assert_int_equal(soa.minimum, 60);
}

/* The SOA query of f's script fails as unparsable, with no serial. */
static void
soa_query_fails(struct fake *f)
{
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;

	start(f);
	assert_int_equal(tapir_xfr_soa_query(&o, &soa, &e), TAPIR_EPARSE);
	assert_int_equal(soa.serial, 0);
}

static void
test_soa_query_without_soa_is_parse_error(void **state)
{
	struct fake *f = *state;

	add_msg(f, KNOT_RRTYPE_SOA, "a 300 CNAME .\n");
	soa_query_fails(f);
}

static void
test_soa_query_tsig_signed(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts_tsig(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;

	f->tsig = true;
	add_msg(f, KNOT_RRTYPE_SOA, SOA(8));
	start(f);
	assert_int_equal(tapir_xfr_soa_query(&o, &soa, &e), 0);
	assert_true(f->query_signed);
	assert_true(f->query_tsig_ok);
	assert_int_equal(soa.serial, 8);
}

/* --- AXFR --- */

static void
axfr_script(struct fake *f)
{
	add_msg(f, KNOT_RRTYPE_AXFR,
		SOA(10) "@ 300 NS ns.example.\n"
			"a 300 CNAME .\n"
			"*.b 300 CNAME *.\n");
	add_msg(f, KNOT_RRTYPE_AXFR,
		"c 300 CNAME rpz-drop.\n"
		"d 300 CNAME rpz-passthru.\n"
		"e 300 CNAME rpz-tcp-only.\n"
		"f 300 A 192.0.2.1\n"
		"G 300 CNAME www.example.\n"
		"32.1.2.0.192.rpz-ip 300 CNAME .\n"
		"x\\032y 300 CNAME .\n");
	add_msg(f, KNOT_RRTYPE_AXFR, "h 300 TXT \"hi\"\n" SOA(10));
}

static const char axfr_log[] =
	"begin full 0 10\n"
	"add a NXDOMAIN\n"
	"add *.b NODATA\n"
	"add c DROP\n"
	"add d PASSTHRU\n"
	"add f REDIRECT\n"
	"add g REDIRECT\n"
	"bad x\\032y.rpz.test.: illegal character '\\' at offset 1 "
	"(no escapes)\n"
	"add h REDIRECT\n"
	"end 10 3600 600 86400 60\n";

static void
test_axfr_multi_message_maps_rpz_actions(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, &soa, &e), 0);
	assert_int_equal(f->qtype, KNOT_RRTYPE_AXFR);
	assert_string_equal(l.text, axfr_log);
	assert_int_equal(soa.serial, 10);
	assert_int_equal(soa.refresh, 3600);
}

static void
test_axfr_reset_mid_transfer_fails(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	f->send_only = 2;
	start(f);
	assert_int_equal(
		tapir_xfr_fetch(&o, false, 0, &ops, &l, &soa, &e), TAPIR_EIO);
	/* Records came, end did not: the caller discards them. */
	assert_null(strstr(l.text, "end"));
	assert_non_null(strstr(l.text, "add f REDIRECT"));
	assert_int_equal(soa.serial, 0);
}

static void
test_axfr_wrong_id_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	f->wrong_id = true;
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_EPARSE);
	assert_string_equal(l.text, "");
}

static void
test_axfr_silent_primary_times_out(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };
	int64_t t0;

	f->silent = true;
	o.timeout_ms = 200;
	start(f);
	t0 = tapir_monotonic_ms();
	assert_int_equal(
		tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), TAPIR_EIO);
	assert_true(tapir_monotonic_ms() - t0 < 1000);
	assert_non_null(strstr(e.text, "timed out"));
}

static void *
cancel_later(void *arg)
{
	struct timespec ts = { 0, 200 * 1000000L };

	nanosleep(&ts, NULL);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

/* A cancel stops a wait for a primary that never answers at once, not at
 * the timeout. */
static void
test_axfr_cancel_stops_wait_for_silent_primary(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };
	atomic_bool cancel = false;
	pthread_t th;
	int64_t t0, took;

	f->silent = true;
	o.timeout_ms = 60000;
	o.cancel = &cancel;
	start(f);
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &cancel), 0);
	t0 = tapir_monotonic_ms();
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_ECANCELED);
	took = tapir_monotonic_ms() - t0;
	pthread_join(th, NULL);
	assert_true(took >= 200 && took < 200 + TAPIR_XFR_CANCEL_MS + 300);
	assert_string_equal(e.text, "transfer cancelled");
	assert_string_equal(l.text, "");
}

/* Set before the call: nothing is asked. */
static void
test_axfr_cancelled_before_start_sends_nothing(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };
	atomic_bool cancel = true;

	o.cancel = &cancel;
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_ECANCELED);
	assert_string_equal(l.text, "");
	/* Not even a connection: the listener has none to accept. */
	{
		struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, 0), 0);
	}
}

static void
test_axfr_over_max_records_is_too_big(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	o.max_records = 5;
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_ETOOBIG);
}

static void
test_axfr_callback_abort_is_returned(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { .abort_after = 2 };

	axfr_script(f);
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), 42);
	assert_string_equal(l.text, "begin full 0 10\n"
				    "add a NXDOMAIN\n"
				    "add *.b NODATA\n");
}

/* A SOA with no rdata (fuzz_xfr found it): the SOA readers would read
 * past the record. */
static void
test_soa_query_with_empty_soa_is_parse_error(void **state)
{
	struct fake *f = *state;

	add_empty_soa_msg(f, KNOT_RRTYPE_SOA);
	soa_query_fails(f);
}

static void
test_axfr_with_empty_soa_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_empty_soa_msg(f, KNOT_RRTYPE_AXFR);
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_EPARSE);
	assert_string_equal(e.text, "the zone's SOA record is malformed");
	assert_string_equal(l.text, "");
}

static void
test_axfr_without_leading_soa_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_AXFR, "a 300 CNAME .\n" SOA(1));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_EPARSE);
}

static void
test_axfr_refused_rcode_fails(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_AXFR, "");
	knot_wire_set_rcode(f->msgs[0], KNOT_RCODE_REFUSED);
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_EPARSE);
	assert_non_null(strstr(e.text, "REFUSED"));
}

/* --- IXFR --- */

static void
test_ixfr_one_changeset_with_deletion(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(11) SOA(10) "old 300 CNAME .\n" SOA(
			11) "new 300 CNAME .\n"
			    "*.sub 300 CNAME rpz-drop.\n" SOA(11));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, &soa, &e), 0);
	assert_int_equal(f->qtype, KNOT_RRTYPE_IXFR);
	assert_int_equal(f->qserial, 10);
	assert_string_equal(l.text, "begin incr 10 11\n"
				    "del old NXDOMAIN\n"
				    "add new NXDOMAIN\n"
				    "add *.sub DROP\n"
				    "end 11 3600 600 86400 60\n");
	assert_int_equal(soa.serial, 11);
}

static void
test_ixfr_two_changesets_across_messages(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR, SOA(12) SOA(10) "a 300 CNAME .\n");
	add_msg(f, KNOT_RRTYPE_IXFR,
		"b 300 A 192.0.2.1\n" SOA(11) "x 300 CNAME *.\n" SOA(11));
	add_msg(f, KNOT_RRTYPE_IXFR,
		"x 300 CNAME *.\n" SOA(12) "y 300 CNAME rpz-passthru.\n" SOA(
			12));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, NULL, &e), 0);
	assert_string_equal(l.text, "begin incr 10 11\n"
				    "del a NXDOMAIN\n"
				    "del b REDIRECT\n"
				    "add x NODATA\n"
				    "begin incr 11 12\n"
				    "del x NODATA\n"
				    "add y PASSTHRU\n"
				    "end 12 3600 600 86400 60\n");
}

static void
test_ixfr_answered_axfr_style(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(12) "@ 300 NS ns.example.\n"
			"a 300 CNAME .\n");
	add_msg(f, KNOT_RRTYPE_IXFR, "b 300 CNAME *.\n" SOA(12));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, NULL, &e), 0);
	assert_string_equal(l.text, "begin full 10 12\n"
				    "add a NXDOMAIN\n"
				    "add b NODATA\n"
				    "end 12 3600 600 86400 60\n");
}

static void
test_ixfr_single_soa_is_up_to_date(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR, SOA(10));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, &soa, &e),
		TAPIR_EEXIST);
	assert_string_equal(l.text, "");
	assert_int_equal(soa.serial, 10);
}

static void
test_ixfr_older_serial_is_range_error(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR, SOA(9));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, NULL, &e),
		TAPIR_ERANGE);
	assert_string_equal(l.text, "");
}

static void
test_ixfr_changeset_from_other_serial_is_range_error(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(12) SOA(9) "a 300 CNAME .\n" SOA(12) SOA(12));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, NULL, &e),
		TAPIR_ERANGE);
}

static void
test_ixfr_changesets_must_chain(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(13) SOA(10) SOA(11) SOA(12) SOA(13) SOA(13));
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, NULL, &e),
		TAPIR_ERANGE);
}

static void
test_ixfr_records_after_end_are_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_error e;
	struct log l = { 0 };

	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(11) SOA(10) SOA(11) SOA(11) "a 300 CNAME .\n");
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, true, 10, &ops, &l, NULL, &e),
		TAPIR_EPARSE);
}

/* --- TSIG --- */

static void
test_tsig_signed_transfer_verifies(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts_tsig(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	f->tsig = true;
	f->unsigned_mask = 1u << 1; /* RFC 8945 lets the middle go unsigned */
	start(f);
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), 0);
	assert_true(f->query_tsig_ok);
	assert_string_equal(l.text, axfr_log);
}

static void
test_tsig_wrong_key_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts_tsig(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	f->tsig = true;
	o.tsig_secret = SECRET2;
	start(f);
	assert_int_equal(
		tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), TAPIR_ESIG);
	assert_false(f->query_tsig_ok);
	assert_string_equal(l.text, "");
}

static void
test_tsig_unsigned_answer_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts_tsig(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	start(f);
	assert_int_equal(
		tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), TAPIR_ESIG);
	assert_string_equal(l.text, "");
}

static void
test_tsig_unsigned_last_message_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts_tsig(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	f->tsig = true;
	f->unsigned_mask = 1u << 2;
	start(f);
	assert_int_equal(
		tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), TAPIR_ESIG);
	assert_null(strstr(l.text, "end"));
}

static void
test_tsig_tampered_message_is_refused(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts_tsig(f);
	struct tapir_error e;
	struct log l = { 0 };

	axfr_script(f);
	f->tsig = true;
	f->unsigned_mask = 1u << 1;
	/* The unsigned middle message is covered by the last one's MAC. */
	f->tamper = 2;
	start(f);
	assert_int_equal(
		tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e), TAPIR_ESIG);
	assert_null(strstr(l.text, "end"));
}

/* --- options --- */

static void
test_bad_options_are_einval(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;
	struct log l = { 0 };

	o.primary = "primary.example";
	assert_int_equal(tapir_xfr_soa_query(&o, &soa, &e), TAPIR_EINVAL);
	o = opts_tsig(f);
	o.tsig_secret = "not base64!";
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_EINVAL);
	o = opts_tsig(f);
	o.tsig_alg = "hmac-nonesuch";
	assert_int_equal(tapir_xfr_fetch(&o, false, 0, &ops, &l, NULL, &e),
		TAPIR_EINVAL);
	assert_string_equal(l.text, "");
}

static void
test_connection_refused_is_eio(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = opts(f);
	struct tapir_xfr_soa soa;
	struct tapir_error e;

	close(f->lfd);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(tapir_xfr_soa_query(&o, &soa, &e), TAPIR_EIO);
}

/* --- replay (tapir__xfr_replay(), tests/fuzz/fuzz_xfr.c) --- */

#define REPLAY_ID 0x7a9e

/* The fake's script as the primary's stream: each message after its
 * length, with the query id REPLAY_ID (as serve() sends it). */
static size_t
replay_stream(const struct fake *f, uint8_t *out, size_t size)
{
	size_t len = 0;

	for (size_t i = 0; i < f->n_msgs; i++) {
		assert_true(len + 2 + f->lens[i] <= size);
		knot_wire_write_u16(out + len, (uint16_t)f->lens[i]);
		memcpy(out + len + 2, f->msgs[i], f->lens[i]);
		knot_wire_set_id(out + len + 2, REPLAY_ID);
		len += 2 + f->lens[i];
	}
	return len;
}

/* The same stream, replayed from memory, gives what the TCP transfer
 * gave, callback by callback; a stream cut short is a closed connection,
 * and another query id is refused as over TCP. */
static void
test_replay_matches_fetch(void **state)
{
	struct fake *f = *state;
	struct tapir_xfr_opts o = { .primary = "127.0.0.1", .zone = ZONE };
	struct tapir_xfr_soa soa;
	struct tapir_error e;
	struct log l = { 0 };
	uint8_t stream[8192];
	size_t len;

	axfr_script(f);
	len = replay_stream(f, stream, sizeof(stream));
	assert_int_equal(tapir__xfr_replay(&o, false, 0, REPLAY_ID, stream, len,
				 &ops, &l, &soa, &e),
		0);
	assert_string_equal(l.text, axfr_log);
	assert_int_equal(soa.serial, 10);
	memset(&l, 0, sizeof(l));
	assert_int_equal(tapir__xfr_replay(&o, false, 0, REPLAY_ID, stream,
				 len - 1, &ops, &l, &soa, &e),
		TAPIR_EIO);
	assert_string_equal(e.text, "primary closed the connection mid-answer");
	memset(&l, 0, sizeof(l));
	assert_int_equal(tapir__xfr_replay(&o, false, 0, REPLAY_ID + 1, stream,
				 len, &ops, &l, &soa, &e),
		TAPIR_EPARSE);
	assert_string_equal(l.text, "");
}

/* One seed of tests/fuzz/fuzz_xfr.c: mode octet, serial, stream. */
static void
write_seed(const char *dir, const char *name, struct fake *f, uint8_t mode,
	uint32_t serial)
{
	uint8_t buf[8192];
	char path[4096];
	size_t len;
	FILE *fp;

	buf[0] = mode;
	knot_wire_write_u32(buf + 1, serial);
	len = 5 + replay_stream(f, buf + 5, sizeof(buf) - 5);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	for (size_t i = 0; i < f->n_msgs; i++)
		free(f->msgs[i]);
	f->n_msgs = 0;
}

/* With TAPIR_XFR_SEEDS=dir, writes the seed corpus of
 * tests/fuzz/fuzz_xfr.c into dir: the scripts of the tests above. */
static void
test_write_fuzz_seeds(void **state)
{
	struct fake *f = *state;
	const char *dir = getenv("TAPIR_XFR_SEEDS");

	if (!dir)
		return;
	axfr_script(f);
	write_seed(dir, "axfr", f, 0, 0);
	axfr_script(f);
	write_seed(dir, "axfr-tsig-unsigned", f, 2, 0);
	add_msg(f, KNOT_RRTYPE_AXFR, "a 300 CNAME .\n" SOA(1));
	write_seed(dir, "axfr-no-leading-soa", f, 0, 0);
	add_msg(f, KNOT_RRTYPE_AXFR, "");
	knot_wire_set_rcode(f->msgs[0], KNOT_RCODE_REFUSED);
	write_seed(dir, "axfr-refused", f, 0, 0);
	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(11) SOA(10) "old 300 CNAME .\n" SOA(
			11) "new 300 CNAME .\n"
			    "*.sub 300 CNAME rpz-drop.\n" SOA(11));
	write_seed(dir, "ixfr-one-changeset", f, 1, 10);
	add_msg(f, KNOT_RRTYPE_IXFR, SOA(12) SOA(10) "a 300 CNAME .\n");
	add_msg(f, KNOT_RRTYPE_IXFR,
		"b 300 A 192.0.2.1\n" SOA(11) "x 300 CNAME *.\n" SOA(11));
	add_msg(f, KNOT_RRTYPE_IXFR,
		"x 300 CNAME *.\n" SOA(12) "y 300 CNAME rpz-passthru.\n" SOA(
			12));
	write_seed(dir, "ixfr-two-changesets", f, 1, 10);
	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(12) "@ 300 NS ns.example.\n"
			"a 300 CNAME .\n");
	add_msg(f, KNOT_RRTYPE_IXFR, "b 300 CNAME *.\n" SOA(12));
	write_seed(dir, "ixfr-axfr-style", f, 1, 10);
	add_msg(f, KNOT_RRTYPE_IXFR, SOA(10));
	write_seed(dir, "ixfr-up-to-date", f, 1, 10);
	add_msg(f, KNOT_RRTYPE_IXFR, SOA(9));
	write_seed(dir, "ixfr-older", f, 1, 10);
	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(13) SOA(10) SOA(11) SOA(12) SOA(13) SOA(13));
	write_seed(dir, "ixfr-no-chain", f, 1, 10);
	add_msg(f, KNOT_RRTYPE_IXFR,
		SOA(11) SOA(10) SOA(11) SOA(11) "a 300 CNAME .\n");
	write_seed(dir, "ixfr-after-end", f, 1, 10);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_soa_query_reads_timers),
		T(test_soa_query_without_soa_is_parse_error),
		T(test_soa_query_tsig_signed),
		T(test_axfr_multi_message_maps_rpz_actions),
		T(test_axfr_reset_mid_transfer_fails),
		T(test_axfr_wrong_id_is_refused),
		T(test_axfr_silent_primary_times_out),
		T(test_axfr_cancel_stops_wait_for_silent_primary),
		T(test_axfr_cancelled_before_start_sends_nothing),
		T(test_axfr_over_max_records_is_too_big),
		T(test_axfr_callback_abort_is_returned),
		T(test_soa_query_with_empty_soa_is_parse_error),
		T(test_axfr_with_empty_soa_is_refused),
		T(test_axfr_without_leading_soa_is_refused),
		T(test_axfr_refused_rcode_fails),
		T(test_ixfr_one_changeset_with_deletion),
		T(test_ixfr_two_changesets_across_messages),
		T(test_ixfr_answered_axfr_style),
		T(test_ixfr_single_soa_is_up_to_date),
		T(test_ixfr_older_serial_is_range_error),
		T(test_ixfr_changeset_from_other_serial_is_range_error),
		T(test_ixfr_changesets_must_chain),
		T(test_ixfr_records_after_end_are_refused),
		T(test_tsig_signed_transfer_verifies),
		T(test_tsig_wrong_key_is_refused),
		T(test_tsig_unsigned_answer_is_refused),
		T(test_tsig_unsigned_last_message_is_refused),
		T(test_tsig_tampered_message_is_refused),
		T(test_bad_options_are_einval),
		T(test_connection_refused_is_eio),
		T(test_replay_matches_fetch),
		T(test_write_fuzz_seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
