/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zone transfer client. One TCP connection per exchange; every wait is a
 * poll() bounded by what is left of the one deadline, so the whole call is
 * bounded however the primary behaves. Messages are at most 65535 octets
 * (the 2-octet TCP length), read into one buffer per connection.
 *
 * The response is walked RR by RR through a small state machine (RFC 1995
 * section 4, RFC 5936 section 2.2): the first RR is the new SOA; for IXFR
 * the second tells an incremental answer (a SOA: the first removal set)
 * from an AXFR-style one (anything else). An IXFR changeset's deletions
 * come before its new serial, so they are held back until the serial that
 * opens its addition set arrives, and begin() can name both serials.
 *
 * TSIG: the query is signed; the first answer message must be signed and
 * is checked against the query's MAC, later ones against the previous
 * message's MAC over every unsigned message since (RFC 8945 section 5.3.1
 * lets a server sign only every 100th message, and always the last).
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libknot/libknot.h>

#include "lib/fileio.h"
#include "lib/name.h"
#include "lib/xfr.h"

/* RFC 8945 5.3.1: at most 99 unsigned messages between signed ones. */
#define MAX_UNSIGNED 99
#define QUERY_MAX    1024

struct conn {
	int fd;
	int64_t deadline;	   /* tapir_monotonic_ms() */
	const atomic_bool *cancel; /* borrowed, may be NULL */
	uint16_t id;
	uint16_t qtype;
	uint8_t apex[KNOT_DNAME_MAXLEN];
	size_t apex_len;
	uint8_t *msg; /* owned, 65535 octets */
	/* TSIG */
	bool tsig;
	knot_tsig_key_t key;
	uint8_t digest[64]; /* MAC of the query, then of the last answer */
	size_t digest_len;
	uint64_t prev_time; /* time signed of the last verified answer */
	bool verified;	    /* an answer verified already */
	bool last_signed;
	unsigned n_unsigned;
	uint8_t *ubuf; /* owned: unsigned messages since the last MAC */
	size_t ulen, ucap;
	/* tapir__xfr_replay(): the primary's answer stream (borrowed), read
	 * in place of the socket; nothing is connected or sent. */
	const uint8_t *mem;
	size_t mem_len;
};

static int
serial_cmp(uint32_t a, uint32_t b)
{
	int32_t d = (int32_t)(a - b);

	return d < 0 ? -1 : d > 0;
}

static int
check_cancel(const struct conn *c, struct tapir_error *err)
{
	if (c->cancel && atomic_load_explicit(c->cancel, memory_order_relaxed))
		return tapir_error_set(
			err, TAPIR_ECANCELED, 0, "transfer cancelled");
	return 0;
}

/* Waits until fd is ready for events or the deadline passes. With a
 * cancel flag the wait goes in steps of TAPIR_XFR_CANCEL_MS, so that a
 * primary that never answers holds a stopping caller for one step, not
 * for the rest of the deadline (up to an hour). */
static int
wait_fd(struct conn *c, short events, struct tapir_error *err)
{
	for (;;) {
		int64_t until = c->deadline;
		int rc;

		if ((rc = check_cancel(c, err)) != 0)
			return rc;
		if (c->cancel &&
			tapir_monotonic_ms() + TAPIR_XFR_CANCEL_MS < until)
			until = tapir_monotonic_ms() + TAPIR_XFR_CANCEL_MS;
		rc = tapir_fd_wait(c->fd, events, until, err);
		if (rc != TAPIR_ETIMEDOUT)
			return rc;
		if (until >= c->deadline)
			return tapir_error_set(err, TAPIR_EIO, 0,
				"timed out talking to the primary");
	}
}

static int
conn_connect(
	struct conn *c, const struct tapir_xfr_opts *o, struct tapir_error *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	uint16_t port = htons((uint16_t)(o->port ? o->port : 53));
	socklen_t slen;
	int rc, soerr = 0;
	socklen_t elen = sizeof(soerr);

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, o->primary, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		slen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, o->primary, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = port;
		slen = sizeof(*s6);
	} else {
		return tapir_error_set(err, TAPIR_EINVAL, 0,
			"primary '%s' is not an IP address", o->primary);
	}
	c->fd = socket(
		ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return tapir_error_set(
			err, TAPIR_EIO, 0, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&ss, slen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return tapir_error_set(err, TAPIR_EIO, 0, "connect to %s: %s",
			o->primary, strerror(errno));
	if ((rc = wait_fd(c, POLLOUT, err)) != 0)
		return rc;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
		soerr = errno;
	if (soerr)
		return tapir_error_set(err, TAPIR_EIO, 0, "connect to %s: %s",
			o->primary, strerror(soerr));
	return 0;
}

static int
send_all(struct conn *c, const uint8_t *p, size_t len, struct tapir_error *err)
{
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(c, POLLOUT, err)) != 0)
				return rc;
			continue;
		}
		if (n < 0)
			return tapir_error_set(
				err, TAPIR_EIO, 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
recv_all(struct conn *c, uint8_t *p, size_t len, struct tapir_error *err)
{
	if (c->mem) {
		if (len > c->mem_len)
			return tapir_error_set(err, TAPIR_EIO, 0,
				"primary closed the connection mid-answer");
		memcpy(p, c->mem, len);
		c->mem += len;
		c->mem_len -= len;
		return 0;
	}
	while (len) {
		ssize_t n = recv(c->fd, p, len, 0);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(c, POLLIN, err)) != 0)
				return rc;
			continue;
		}
		if (n < 0)
			return tapir_error_set(
				err, TAPIR_EIO, 0, "recv: %s", strerror(errno));
		if (n == 0)
			return tapir_error_set(err, TAPIR_EIO, 0,
				"primary closed the connection mid-answer");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Everything but the connection: options, TSIG key, query id, buffer. */
static int
conn_init(
	struct conn *c, const struct tapir_xfr_opts *o, struct tapir_error *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->deadline = tapir_monotonic_ms() +
		      (o && o->timeout_ms > 0 ? o->timeout_ms
					      : TAPIR_XFR_TIMEOUT_MS_DEFAULT);
	c->cancel = o ? o->cancel : NULL;
	if (!o || !o->primary || !o->zone)
		return tapir_error_set(
			err, TAPIR_EINVAL, 0, "primary and zone are required");
	if (o->port < 0 || o->port > 65535)
		return tapir_error_set(
			err, TAPIR_EINVAL, 0, "port %d out of range", o->port);
	if (!knot_dname_from_str(c->apex, o->zone, sizeof(c->apex)))
		return tapir_error_set(err, TAPIR_EINVAL, 0,
			"zone '%s' is not a valid name", o->zone);
	c->apex_len = knot_dname_size(c->apex);
	if (o->tsig_name) {
		if (!o->tsig_secret)
			return tapir_error_set(err, TAPIR_EINVAL, 0,
				"TSIG key '%s' has no secret", o->tsig_name);
		rc = knot_tsig_key_init(&c->key,
			o->tsig_alg ? o->tsig_alg : "hmac-sha256", o->tsig_name,
			o->tsig_secret);
		if (rc != KNOT_EOK)
			return tapir_error_set(err, TAPIR_EINVAL, 0,
				"TSIG key '%s': %s", o->tsig_name,
				knot_strerror(rc));
		c->tsig = true;
	}
	if (getrandom(&c->id, sizeof(c->id), 0) != sizeof(c->id))
		c->id = (uint16_t)(tapir_monotonic_ms() ^ getpid());
	if (!(c->msg = malloc(UINT16_MAX)))
		return TAPIR_ENOMEM;
	return 0;
}

static int
conn_open(
	struct conn *c, const struct tapir_xfr_opts *o, struct tapir_error *err)
{
	int rc;

	if ((rc = conn_init(c, o, err)) != 0)
		return rc;
	if ((rc = check_cancel(c, err)) != 0)
		return rc;
	return conn_connect(c, o, err);
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->tsig)
		knot_tsig_key_deinit(&c->key);
	c->tsig = false;
	free(c->msg);
	free(c->ubuf);
	c->msg = c->ubuf = NULL;
}

/* Builds, signs and sends the query: qtype for the apex, with our SOA in
 * the authority section for IXFR (RFC 1995 section 3). */
static int
send_query(struct conn *c, uint16_t qtype, uint32_t serial,
	struct tapir_error *err)
{
	uint8_t buf[2 + QUERY_MAX];
	/* SOA RDATA: MNAME and RNAME the root, our serial, zero timers;
	 * only the serial means anything to the primary. */
	uint8_t soa_rd[22] = { 0 };
	knot_rrset_t soa;
	knot_pkt_t *q;
	size_t len;
	int rc = 0, krc;

	/* knot_pkt_new() over our buffer leaves the header as it finds it. */
	memset(buf, 0, sizeof(buf));
	if (!(q = knot_pkt_new(buf + 2, QUERY_MAX, NULL)))
		return TAPIR_ENOMEM;
	c->qtype = qtype;
	knot_wire_set_id(q->wire, c->id);
	krc = knot_pkt_put_question(q, c->apex, KNOT_CLASS_IN, qtype);
	if (krc == KNOT_EOK && qtype == KNOT_RRTYPE_IXFR) {
		knot_wire_write_u32(soa_rd + 2, serial);
		knot_rrset_init(
			&soa, c->apex, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, 0);
		krc = knot_pkt_begin(q, KNOT_AUTHORITY);
		if (krc == KNOT_EOK)
			krc = knot_rrset_add_rdata(
				&soa, soa_rd, sizeof(soa_rd), NULL);
		if (krc == KNOT_EOK)
			krc = knot_pkt_put(q, 0, &soa, 0);
		knot_rdataset_clear(&soa.rrs, NULL);
	}
	len = q->size;
	if (krc == KNOT_EOK && c->tsig) {
		c->digest_len = sizeof(c->digest);
		krc = knot_tsig_sign(q->wire, &len, QUERY_MAX, NULL, 0,
			c->digest, &c->digest_len, &c->key, 0, 0);
	}
	knot_pkt_free(q);
	if (krc != KNOT_EOK)
		return tapir_error_set(err, TAPIR_EINVAL, 0,
			"cannot build the query: %s", knot_strerror(krc));
	knot_wire_write_u16(buf, (uint16_t)len);
	/* A replay only needs the query's qtype and TSIG digest. */
	if (!c->mem)
		rc = send_all(c, buf, len + 2, err);
	return rc;
}

static int
keep_unsigned(struct conn *c, const knot_pkt_t *p)
{
	if (c->ulen + p->size > c->ucap) {
		size_t cap = (c->ulen + p->size) * 2;
		uint8_t *nb = realloc(c->ubuf, cap);

		if (!nb)
			return TAPIR_ENOMEM;
		c->ubuf = nb;
		c->ucap = cap;
	}
	memcpy(c->ubuf + c->ulen, p->wire, p->size);
	c->ulen += p->size;
	return 0;
}

/* RFC 8945 5.3.1, as Knot's own tsig_ctx does it. */
static int
verify_tsig(struct conn *c, const knot_pkt_t *p, struct tapir_error *err)
{
	const knot_rrset_t *t = p->tsig_rr;
	const uint8_t *data = p->wire;
	size_t size = p->size;
	int krc, rc;

	if (!c->tsig)
		return 0;
	c->last_signed = t != NULL;
	if (!t) {
		if (!c->verified)
			return tapir_error_set(err, TAPIR_ESIG, 0,
				"answer is not TSIG-signed");
		if (++c->n_unsigned > MAX_UNSIGNED)
			return tapir_error_set(err, TAPIR_ESIG, 0,
				"more than %d unsigned messages in a row",
				MAX_UNSIGNED);
		return keep_unsigned(c, p);
	}
	if (!c->verified) {
		krc = knot_tsig_client_check(
			t, data, size, c->digest, c->digest_len, &c->key, 0);
	} else {
		if (c->ulen) {
			if ((rc = keep_unsigned(c, p)) != 0)
				return rc;
			data = c->ubuf;
			size = c->ulen;
		}
		krc = knot_tsig_client_check_next(t, data, size, c->digest,
			c->digest_len, &c->key, c->prev_time);
	}
	if (krc != KNOT_EOK)
		return tapir_error_set(err, TAPIR_ESIG, 0,
			"TSIG of the answer does not verify: %s",
			knot_strerror(krc));
	c->digest_len = knot_tsig_rdata_mac_length(t);
	if (c->digest_len > sizeof(c->digest))
		return tapir_error_set(err, TAPIR_ESIG, 0, "TSIG MAC too long");
	memcpy(c->digest, knot_tsig_rdata_mac(t), c->digest_len);
	c->prev_time = knot_tsig_rdata_time_signed(t);
	c->verified = true;
	c->n_unsigned = 0;
	c->ulen = 0;
	return 0;
}

static bool
dname_eq(const uint8_t *a, const uint8_t *b)
{
	size_t la = knot_dname_size(a), lb = knot_dname_size(b);

	if (la != lb)
		return false;
	for (size_t i = 0; i < la; i++) {
		uint8_t x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

/*
 * Reads and checks one answer message. On success *out is the parsed
 * packet over c->msg (free it with knot_pkt_free()).
 */
static int
recv_msg(struct conn *c, bool first, knot_pkt_t **out, struct tapir_error *err)
{
	uint8_t hdr[2];
	uint16_t len;
	knot_pkt_t *p;
	int rc, krc;

	*out = NULL;
	/* A primary that streams fast never lets a wait look at the flag. */
	if ((rc = check_cancel(c, err)) != 0)
		return rc;
	if ((rc = recv_all(c, hdr, 2, err)) != 0)
		return rc;
	len = knot_wire_read_u16(hdr);
	if (len < KNOT_WIRE_HEADER_SIZE)
		return tapir_error_set(err, TAPIR_EPARSE, 0,
			"message of %u octets is too short", len);
	if ((rc = recv_all(c, c->msg, len, err)) != 0)
		return rc;
	if (!(p = knot_pkt_new(c->msg, len, NULL)))
		return TAPIR_ENOMEM;
	if ((krc = knot_pkt_parse(p, 0)) != KNOT_EOK) {
		rc = tapir_error_set(err, TAPIR_EPARSE, 0,
			"malformed message: %s", knot_strerror(krc));
		goto out_free;
	}
	if (knot_wire_get_id(p->wire) != c->id || !knot_wire_get_qr(p->wire) ||
		knot_wire_get_opcode(p->wire) != KNOT_OPCODE_QUERY) {
		rc = tapir_error_set(err, TAPIR_EPARSE, 0,
			"message is not an answer to our query (id %u, not %u)",
			knot_wire_get_id(p->wire), c->id);
		goto out_free;
	}
	/* Later messages of a transfer may leave the question out. */
	if ((first || knot_wire_get_qdcount(p->wire) > 0) &&
		(knot_wire_get_qdcount(p->wire) != 1 ||
			knot_pkt_qtype(p) != c->qtype ||
			!dname_eq(knot_pkt_qname(p), c->apex))) {
		rc = tapir_error_set(
			err, TAPIR_EPARSE, 0, "answer is for another question");
		goto out_free;
	}
	if (c->tsig && p->tsig_rr && knot_tsig_rdata_error(p->tsig_rr)) {
		const knot_lookup_t *l =
			knot_lookup_by_id(knot_tsig_rcode_names,
				knot_tsig_rdata_error(p->tsig_rr));
		rc = tapir_error_set(err, TAPIR_ESIG, 0,
			"primary refused our TSIG: %s", l ? l->name : "?");
		goto out_free;
	}
	if ((rc = verify_tsig(c, p, err)) != 0)
		goto out_free;
	if (knot_wire_get_rcode(p->wire) != KNOT_RCODE_NOERROR) {
		rc = tapir_error_set(err, TAPIR_EPARSE, 0,
			"primary answered %s", knot_pkt_ext_rcode_name(p));
		goto out_free;
	}
	*out = p;
	return 0;

out_free:
	knot_pkt_free(p);
	return rc;
}

/*
 * Whether a SOA's rdata holds what knot_soa_serial() and the rest read:
 * two names and five 32-bit fields. libknot's parser lets a record of
 * class NONE or ANY (or 0) through with any rdata, down to none, and the
 * readers trust the length.
 */
static bool
soa_rdata_ok(const knot_rdata_t *rd)
{
	const uint8_t *p = rd->data, *end = rd->data + rd->len;

	for (int i = 0; i < 2; i++) {
		int n = knot_dname_wire_check(p, end, NULL);
		if (n <= 0)
			return false;
		p += n;
	}
	return end - p >= 20;
}

/* The zone's SOA, with rdata soa_from() can read. */
static bool
is_apex_soa(const knot_rrset_t *rr, const knot_rdata_t *rd,
	const knot_dname_t *apex)
{
	return rr->type == KNOT_RRTYPE_SOA && rd && dname_eq(rr->owner, apex) &&
	       soa_rdata_ok(rd);
}

static void
soa_from(const knot_rrset_t *rr, struct tapir_xfr_soa *soa)
{
	const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, 0);

	soa->serial = knot_soa_serial(rd);
	soa->refresh = knot_soa_refresh(rd);
	soa->retry = knot_soa_retry(rd);
	soa->expire = knot_soa_expire(rd);
	soa->minimum = knot_soa_minimum(rd);
}

int
tapir_xfr_soa_query(const struct tapir_xfr_opts *o, struct tapir_xfr_soa *soa,
	struct tapir_error *err)
{
	const knot_pktsection_t *an;
	struct conn c;
	knot_pkt_t *p = NULL;
	int rc;

	memset(soa, 0, sizeof(*soa));
	if ((rc = conn_open(&c, o, err)) != 0)
		goto out_close;
	if ((rc = send_query(&c, KNOT_RRTYPE_SOA, 0, err)) != 0)
		goto out_close;
	if ((rc = recv_msg(&c, true, &p, err)) != 0)
		goto out_close;
	if (c.tsig && !c.last_signed) {
		rc = tapir_error_set(
			err, TAPIR_ESIG, 0, "answer is not TSIG-signed");
		goto out_free;
	}
	an = knot_pkt_section(p, KNOT_ANSWER);
	rc = tapir_error_set(err, TAPIR_EPARSE, 0, "answer has no SOA");
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);

		if (rr->rrs.count > 0 &&
			is_apex_soa(
				rr, knot_rdataset_at(&rr->rrs, 0), c.apex)) {
			soa_from(rr, soa);
			rc = 0;
			break;
		}
	}
out_free:
	knot_pkt_free(p);
out_close:
	conn_close(&c);
	return rc;
}

/* --- transfers --- */

enum xstate {
	X_FIRST,  /* expecting the new SOA */
	X_SECOND, /* IXFR: a SOA (incremental) or anything else (AXFR style) */
	X_FULL,	  /* additions until the new SOA again */
	X_DEL,	  /* a removal set, until the SOA of its new serial */
	X_ADD,	  /* an addition set, until a SOA */
	X_DONE,
};

struct xfer {
	struct conn *c;
	const struct tapir_xfr_ops *ops;
	void *arg;
	struct tapir_error *err;
	enum xstate st;
	bool ixfr;
	uint32_t asked; /* the serial we hold (IXFR) */
	struct tapir_xfr_soa soa;
	uint32_t from, to; /* the changeset being read */
	size_t n_rr, max_rr;
	/* Held-back deletions: per record, one octet of flags (bit 0:
	 * subtree), one of action, then the name and its NUL. */
	char *del;
	size_t del_len, del_cap;
};

static int
hold_deletion(struct xfer *x, const struct tapir_file_record *r)
{
	size_t need = 2 + r->len + 1;

	if (x->del_len + need > x->del_cap) {
		size_t cap = x->del_cap ? x->del_cap * 2 : 4096;
		char *nb;

		while (cap < x->del_len + need)
			cap *= 2;
		if (!(nb = realloc(x->del, cap)))
			return TAPIR_ENOMEM;
		x->del = nb;
		x->del_cap = cap;
	}
	x->del[x->del_len] = (char)(r->subtree ? 1 : 0);
	x->del[x->del_len + 1] = (char)r->action;
	memcpy(x->del + x->del_len + 2, r->name, r->len + 1);
	x->del_len += need;
	return 0;
}

static int
flush_deletions(struct xfer *x)
{
	struct tapir_file_record r = { 0 };
	size_t i = 0;
	int rc;

	while (i < x->del_len) {
		r.subtree = x->del[i] & 1;
		r.action = (enum tapir_action)x->del[i + 1];
		r.name = x->del + i + 2;
		r.len = strlen(r.name);
		i += 2 + r.len + 1;
		if ((rc = x->ops->record(x->arg, false, &r)) != 0)
			return rc;
	}
	x->del_len = 0;
	return 0;
}

/* A data RR (not a transfer's SOA): its policy record, if any, added or
 * held back as a deletion. */
static int
data_rr(struct xfer *x, const knot_rrset_t *rr, const knot_rdata_t *rd,
	bool add)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_file_record r;
	struct tapir_error e;
	int rc;

	rc = tapir_rpz_map(rr->owner, knot_dname_size(rr->owner), x->c->apex,
		x->c->apex_len, rr->type, rd->data, rd->len, &r, name, &e);
	if (rc == TAPIR_RPZ_SKIP || rc == TAPIR_RPZ_APEX)
		return 0;
	if (rc != TAPIR_RPZ_RECORD) {
		if (x->ops->bad) {
			/* Room for the longest name and reason. */
			char owner[KNOT_DNAME_TXT_MAXLEN + 1];
			char reason[sizeof(owner) + sizeof(e.text) + 2];

			if (!knot_dname_to_str(owner, rr->owner, sizeof(owner)))
				snprintf(owner, sizeof(owner), "?");
			snprintf(reason, sizeof(reason), "%s: %s", owner,
				e.text);
			x->ops->bad(x->arg, reason);
		}
		return 0;
	}
	if (add)
		return x->ops->record(x->arg, true, &r);
	return hold_deletion(x, &r);
}

static int
xfer_rr(struct xfer *x, const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	bool soa = is_apex_soa(rr, rd, x->c->apex);
	uint32_t s = soa ? knot_soa_serial(rd) : 0;
	int rc;

	if (++x->n_rr > x->max_rr)
		return tapir_error_set(x->err, TAPIR_ETOOBIG, 0,
			"transfer has more than %zu records", x->max_rr);
	if (!soa && rr->type == KNOT_RRTYPE_SOA &&
		dname_eq(rr->owner, x->c->apex))
		return tapir_error_set(x->err, TAPIR_EPARSE, 0,
			"the zone's SOA record is malformed");
	switch (x->st) {
	case X_FIRST:
		if (!soa)
			return tapir_error_set(x->err, TAPIR_EPARSE, 0,
				"transfer does not start with the zone's SOA");
		soa_from(rr, &x->soa);
		if (x->ixfr && serial_cmp(s, x->asked) < 0)
			return tapir_error_set(x->err, TAPIR_ERANGE, 0,
				"primary's serial %u is older than ours, %u", s,
				x->asked);
		if (x->ixfr) {
			x->st = X_SECOND;
			return 0;
		}
		x->st = X_FULL;
		return x->ops->begin(x->arg, true, 0, x->soa.serial);
	case X_SECOND:
		if (soa && s != x->soa.serial) {
			if (s != x->asked)
				return tapir_error_set(x->err, TAPIR_ERANGE, 0,
					"changes start at serial %u, we hold %u",
					s, x->asked);
			x->from = s;
			x->st = X_DEL;
			return 0;
		}
		/* AXFR style; a SOA here is the end of an empty zone. */
		if ((rc = x->ops->begin(
			     x->arg, true, x->asked, x->soa.serial)) != 0)
			return rc;
		x->st = X_FULL;
		return xfer_rr(x, rr, rd);
	case X_FULL:
		if (!soa)
			return data_rr(x, rr, rd, true);
		if (s != x->soa.serial)
			return tapir_error_set(x->err, TAPIR_EPARSE, 0,
				"SOA serial %u inside a transfer of %u", s,
				x->soa.serial);
		x->st = X_DONE;
		return 0;
	case X_DEL:
		if (!soa)
			return data_rr(x, rr, rd, false);
		if (serial_cmp(s, x->from) <= 0 ||
			serial_cmp(s, x->soa.serial) > 0)
			return tapir_error_set(x->err, TAPIR_ERANGE, 0,
				"changeset from %u goes to serial %u", x->from,
				s);
		x->to = s;
		x->st = X_ADD;
		if ((rc = x->ops->begin(x->arg, false, x->from, x->to)) != 0)
			return rc;
		return flush_deletions(x);
	case X_ADD:
		if (!soa)
			return data_rr(x, rr, rd, true);
		if (x->to == x->soa.serial && s == x->soa.serial) {
			x->st = X_DONE;
			return 0;
		}
		if (s != x->to)
			return tapir_error_set(x->err, TAPIR_ERANGE, 0,
				"changeset starts at %u, the last ended at %u",
				s, x->to);
		x->from = s;
		x->st = X_DEL;
		return 0;
	case X_DONE:
		break;
	}
	return tapir_error_set(
		x->err, TAPIR_EPARSE, 0, "records after the transfer's end");
}

static int
xfer_msg(struct xfer *x, const knot_pkt_t *p)
{
	const knot_pktsection_t *an = knot_pkt_section(p, KNOT_ANSWER);
	int rc;

	if (an->count == 0)
		return tapir_error_set(
			x->err, TAPIR_EPARSE, 0, "transfer message is empty");
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);

		for (uint16_t j = 0; j < rr->rrs.count; j++)
			if ((rc = xfer_rr(x, rr,
				     knot_rdataset_at(&rr->rrs, j))) != 0)
				return rc;
	}
	return 0;
}

/* The transfer over an open c (a connection or a replay), which it
 * closes. */
static int
xfr_run(struct conn *c, const struct tapir_xfr_opts *o, bool have_serial,
	uint32_t serial, const struct tapir_xfr_ops *ops, void *arg,
	struct tapir_xfr_soa *soa_out, struct tapir_error *err)
{
	struct xfer x = { .ops = ops, .arg = arg, .err = err };
	knot_pkt_t *p;
	bool first = true;
	int rc;

	x.c = c;
	x.ixfr = have_serial;
	x.asked = have_serial ? serial : 0;
	x.max_rr = o && o->max_records ? o->max_records
				       : TAPIR_XFR_MAX_RECORDS_DEFAULT;
	if ((rc = send_query(c,
		     have_serial ? KNOT_RRTYPE_IXFR : KNOT_RRTYPE_AXFR, serial,
		     err)) != 0)
		goto out_close;
	while (x.st != X_DONE) {
		if ((rc = recv_msg(c, first, &p, err)) != 0)
			goto out_close;
		rc = xfer_msg(&x, p);
		knot_pkt_free(p);
		if (rc)
			goto out_close;
		/* A lone SOA no newer than ours: nothing to transfer. A
		 * newer one may be the start of a split answer: read on. */
		if (first && x.st == X_SECOND && x.n_rr == 1 &&
			x.soa.serial == x.asked) {
			rc = TAPIR_EEXIST;
			tapir_error_set(err, rc, 0, "zone is up to date at %u",
				x.asked);
			if (soa_out)
				*soa_out = x.soa;
			goto out_close;
		}
		first = false;
	}
	if (c->tsig && !c->last_signed) {
		rc = tapir_error_set(err, TAPIR_ESIG, 0,
			"last message of the transfer is not TSIG-signed");
		goto out_close;
	}
	if ((rc = ops->end(arg, &x.soa)) == 0 && soa_out)
		*soa_out = x.soa;
out_close:
	conn_close(c);
	free(x.del);
	return rc;
}

/* What both entries check before a transfer: the socket's and memory's
 * (tapir__xfr_replay()) paths are the same from here on. */
static int
xfr_start(const struct tapir_xfr_ops *ops, struct tapir_xfr_soa *soa_out,
	struct tapir_error *err)
{
	if (soa_out)
		memset(soa_out, 0, sizeof(*soa_out));
	if (!ops || !ops->begin || !ops->record || !ops->end)
		return tapir_error_set(err, TAPIR_EINVAL, 0, "no callbacks");
	return 0;
}

int
tapir_xfr_fetch(const struct tapir_xfr_opts *o, bool have_serial,
	uint32_t serial, const struct tapir_xfr_ops *ops, void *arg,
	struct tapir_xfr_soa *soa_out, struct tapir_error *err)
{
	struct conn c;
	int rc;

	if ((rc = xfr_start(ops, soa_out, err)) != 0)
		return rc;
	if ((rc = conn_open(&c, o, err)) != 0) {
		conn_close(&c);
		return rc;
	}
	return xfr_run(&c, o, have_serial, serial, ops, arg, soa_out, err);
}

int
tapir__xfr_replay(const struct tapir_xfr_opts *o, bool have_serial,
	uint32_t serial, uint16_t id, const uint8_t *stream, size_t len,
	const struct tapir_xfr_ops *ops, void *arg,
	struct tapir_xfr_soa *soa_out, struct tapir_error *err)
{
	struct conn c;
	int rc;

	if ((rc = xfr_start(ops, soa_out, err)) != 0)
		return rc;
	if ((rc = conn_init(&c, o, err)) != 0) {
		conn_close(&c);
		return rc;
	}
	c.id = id;
	/* Not NULL even for an empty stream: that is a primary that closed
	 * at once, never a socket. */
	c.mem = stream ? stream : (const uint8_t *)"";
	c.mem_len = stream ? len : 0;
	return xfr_run(&c, o, have_serial, serial, ops, arg, soa_out, err);
}
