/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The answer plan: what a client gets for a verdict, worked out once, in
 * one place. The module builds its DNS message from a plan, lookup
 * describes the same plan, dump-rpz writes it as RPZ records and the block
 * log quotes its explanation, so what an operator reads is what a client
 * receives (REDIRECT included).
 *
 * The parts that do not depend on the query (the SOA and CNAME in wire
 * form, the redirect addresses, the TTL) are computed once per
 * configuration (tapir_answer_parts_init(), part of the runtime snapshot,
 * lib/runtime.h). A plan copies the bytes it needs out of them, so it stays
 * valid after the snapshot is replaced: a caller holds no pointer into a
 * configuration that a reload may retire.
 *
 * Thread safety: parts are immutable once built; a plan belongs to its
 * caller.
 */
#ifndef TAPIR_ANSWER_H
#define TAPIR_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/name.h"
#include "lib/tapir.h"
#include "lib/vocab.h"

struct tapir_runtime;
struct tapir_verdict;

/* The longest rdata a plan carries, with its 2-byte length prefix: an SOA
 * of two longest names and five 32-bit fields. */
#define TAPIR_ANSWER_RDATA_MAX	 (2 + 2 * TAPIR_NAME_WIRE_MAX + 20)
/* DNS values a plan speaks in (RFC 1035, 3596, 8914). */
#define TAPIR_DNS_TYPE_A	 1
#define TAPIR_DNS_TYPE_CNAME	 5
#define TAPIR_DNS_TYPE_SOA	 6
#define TAPIR_DNS_TYPE_TXT	 16
#define TAPIR_DNS_TYPE_AAAA	 28
#define TAPIR_DNS_RCODE_NOERROR	 0
#define TAPIR_DNS_RCODE_NXDOMAIN 3
#define TAPIR_EDE_BLOCKED	 15
#define TAPIR_EDE_FILTERED	 17

/* What a configuration gives every block answer, precomputed. */
struct tapir_answer_parts {
	uint32_t ttl; /* answer.negative-ttl: of every record, and the
		       * SOA minimum */
	/* The SOA rdata with its length prefix, as Unbound's packed rrsets
	 * keep rdata. */
	uint8_t soa[TAPIR_ANSWER_RDATA_MAX];
	size_t soa_len;
	/* answer.redirect-cname in wire form with its prefix; 0: none. */
	uint8_t cname[2 + TAPIR_NAME_WIRE_MAX];
	size_t cname_len;
	size_t n_a, n_aaaa;
	uint8_t a[TAPIR_MAX_REDIRECT][4];
	uint8_t aaaa[TAPIR_MAX_REDIRECT][16];
	bool log_blocked, log_client; /* logging.* */
	bool cache_blocked;	      /* answer.cache-blocked */
};

enum tapir_answer_kind {
	TAPIR_ANSWER_RESOLVE = 0, /* not blocked: resolved as usual */
	TAPIR_ANSWER_DROP,	  /* no answer at all */
	/* rcode, no answer records, the SOA (owned by the query name) in
	 * authority, so that the client caches the negative answer for
	 * ttl seconds (RFC 2308). */
	TAPIR_ANSWER_NEGATIVE,
	/* NOERROR with n_rr records of rr_type owned by the query name in
	 * the answer section. */
	TAPIR_ANSWER_RECORDS,
};

struct tapir_answer {
	enum tapir_action action; /* enforced */
	enum tapir_answer_kind kind;
	uint8_t rcode;	  /* NEGATIVE: NOERROR (NODATA) or NXDOMAIN */
	uint16_t rr_type; /* NEGATIVE: SOA; RECORDS: CNAME, A or AAAA */
	uint32_t ttl;
	/* n_rr rdatas of rdata_len bytes each (length prefix included),
	 * back to back. */
	size_t n_rr, rdata_len;
	uint8_t rdata[TAPIR_ANSWER_RDATA_MAX];
	/* Blocked answers: the Extended DNS Error code (RFC 8914: 15
	 * Blocked when a list decided, 17 Filtered for a rule) and, when
	 * asked for, why: "rule R; sources a b". */
	int ede;
	char why[200];
	/* logging.* in force for this answer. */
	bool log, log_client;
	/* answer.cache-blocked, for a NEGATIVE answer: the resolver may
	 * keep it in its message cache for ttl seconds. */
	bool cache;
};

/**
 * Precompute a configuration's parts.
 * @return: 0, or TAPIR_ENAME when a configured name has no wire form.
 */
int tapir_answer_parts_init(
	struct tapir_answer_parts *p, const struct tapir_config *cfg) TAPIR_WUR;

/**
 * Plan the answer to a query of qtype for a verdict.
 * @param explain: fill why (the block log fills it regardless).
 */
void tapir_answer_plan(const struct tapir_runtime *rt,
	const struct tapir_verdict *v, uint16_t qtype, bool explain,
	struct tapir_answer *a);

/**
 * A plan in words, one line without newline: "NXDOMAIN with SOA m. r. in
 * authority, TTL 60", "NOERROR, CNAME walled.example., TTL 60", ...
 * @return: bytes written (without NUL), truncated to size.
 */
size_t tapir_answer_describe(
	const struct tapir_answer *a, char *buf, size_t size);

/**
 * The RPZ records (RFC draft-vixie-dnsop-dns-rpz) that give what the plans
 * of an action give, one "OWNER TYPE RDATA" line each, owner as passed
 * ("name.zone"). Nothing for PASS.
 * @return: bytes written (without NUL), truncated to size.
 */
size_t tapir_answer_rpz(const struct tapir_runtime *rt, enum tapir_action a,
	const char *owner, char *buf, size_t size);

#endif
