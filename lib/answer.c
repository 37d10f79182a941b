/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The answer plan (lib/answer.h): from a verdict to what the client gets,
 * and the same plan in words and as RPZ records.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/answer.h"
#include "lib/runtime.h"

/* SOA values other than the names and the minimum: fixed, since no
 * secondary ever transfers this "zone". */
#define SOA_SERIAL  1
#define SOA_REFRESH 3600
#define SOA_RETRY   600
#define SOA_EXPIRE  86400

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static void
put_prefix(uint8_t *rdata, size_t len)
{
	rdata[0] = (uint8_t)(len >> 8);
	rdata[1] = (uint8_t)len;
}

int
tapir_answer_parts_init(
	struct tapir_answer_parts *p, const struct tapir_config *cfg)
{
	uint8_t *at = p->soa + 2;
	size_t len;

	memset(p, 0, sizeof(*p));
	p->ttl = cfg->answer.negative_ttl;
	if (tapir_name_to_wire(cfg->answer.soa_mname, at, &len) != 0)
		return TAPIR_ENAME;
	at += len;
	if (tapir_name_to_wire(cfg->answer.soa_rname, at, &len) != 0)
		return TAPIR_ENAME;
	at += len;
	at = put32(at, SOA_SERIAL);
	at = put32(at, SOA_REFRESH);
	at = put32(at, SOA_RETRY);
	at = put32(at, SOA_EXPIRE);
	at = put32(at, p->ttl);
	p->soa_len = (size_t)(at - p->soa);
	put_prefix(p->soa, p->soa_len - 2);
	if (cfg->answer.redirect_cname[0]) {
		if (tapir_name_to_wire(cfg->answer.redirect_cname, p->cname + 2,
			    &len) != 0)
			return TAPIR_ENAME;
		put_prefix(p->cname, len);
		p->cname_len = len + 2;
	}
	p->n_a = cfg->answer.n_redirect_a;
	p->n_aaaa = cfg->answer.n_redirect_aaaa;
	memcpy(p->a, cfg->answer.redirect_a, sizeof(p->a));
	memcpy(p->aaaa, cfg->answer.redirect_aaaa, sizeof(p->aaaa));
	p->log_blocked = cfg->logging.blocked;
	p->log_client = cfg->logging.client;
	p->cache_blocked = cfg->answer.cache_blocked;
	return 0;
}

static void
one_record(
	struct tapir_answer *a, uint16_t type, const uint8_t *rdata, size_t len)
{
	a->rr_type = type;
	a->n_rr = 1;
	a->rdata_len = len;
	memcpy(a->rdata, rdata, len);
}

static void
negative(struct tapir_answer *a, const struct tapir_answer_parts *p,
	uint8_t rcode)
{
	a->kind = TAPIR_ANSWER_NEGATIVE;
	a->rcode = rcode;
	one_record(a, TAPIR_DNS_TYPE_SOA, p->soa, p->soa_len);
}

static void
addresses(struct tapir_answer *a, uint16_t type, const void *addrs, size_t n,
	size_t alen)
{
	uint8_t *at = a->rdata;

	a->kind = TAPIR_ANSWER_RECORDS;
	a->rr_type = type;
	a->n_rr = n;
	a->rdata_len = 2 + alen;
	for (size_t i = 0; i < n; i++, at += 2 + alen) {
		put_prefix(at, alen);
		memcpy(at + 2, (const uint8_t *)addrs + i * alen, alen);
	}
}

/* REDIRECT: the configured CNAME for any type, or the configured
 * addresses for A and AAAA (NODATA for other types); with nothing
 * configured, NXDOMAIN. */
static void
redirect(struct tapir_answer *a, const struct tapir_answer_parts *p,
	uint16_t qtype)
{
	if (p->cname_len) {
		a->kind = TAPIR_ANSWER_RECORDS;
		one_record(a, TAPIR_DNS_TYPE_CNAME, p->cname, p->cname_len);
	} else if (qtype == TAPIR_DNS_TYPE_A && p->n_a) {
		addresses(a, TAPIR_DNS_TYPE_A, p->a, p->n_a, 4);
	} else if (qtype == TAPIR_DNS_TYPE_AAAA && p->n_aaaa) {
		addresses(a, TAPIR_DNS_TYPE_AAAA, p->aaaa, p->n_aaaa, 16);
	} else if (p->n_a || p->n_aaaa) {
		negative(a, p, TAPIR_DNS_RCODE_NOERROR);
	} else {
		negative(a, p, TAPIR_DNS_RCODE_NXDOMAIN);
	}
}

/* "rule R; sources a b": the rule that decided, and the sources whose
 * entries counted in that decision. */
static void
explain(const struct tapir_runtime *rt, const struct tapir_verdict *v,
	char *buf, size_t size)
{
	const struct tapir_config *cfg = rt->cfg;
	size_t at;

	at = tapir_strappend(buf, size, 0, "rule %s; sources",
		tapir_policy_rule_name(rt->policy, v->rule));
	for (size_t i = 0; i < cfg->n_sources && i < 64; i++)
		if (v->sources & (UINT64_C(1) << i))
			at = tapir_strappend(
				buf, size, at, " %s", cfg->sources[i].name);
}

void
tapir_answer_plan(const struct tapir_runtime *rt, const struct tapir_verdict *v,
	uint16_t qtype, bool want_why, struct tapir_answer *a)
{
	const struct tapir_answer_parts *p = &rt->answer;

	a->action = v->action;
	a->kind = TAPIR_ANSWER_RESOLVE;
	a->rcode = TAPIR_DNS_RCODE_NOERROR;
	a->rr_type = 0;
	a->ttl = p->ttl;
	a->n_rr = a->rdata_len = 0;
	a->ede = 0;
	a->why[0] = '\0';
	a->log = p->log_blocked;
	a->log_client = p->log_client;
	a->cache = false;
	switch (v->action) {
	case TAPIR_ACTION_DROP:
		a->kind = TAPIR_ANSWER_DROP;
		break;
	case TAPIR_ACTION_NXDOMAIN:
		negative(a, p, TAPIR_DNS_RCODE_NXDOMAIN);
		break;
	case TAPIR_ACTION_NODATA:
		negative(a, p, TAPIR_DNS_RCODE_NOERROR);
		break;
	case TAPIR_ACTION_REDIRECT:
		redirect(a, p, qtype);
		break;
	default:
		return;
	}
	a->ede = v->rule == TAPIR_RULE_DENYLIST ? TAPIR_EDE_BLOCKED
						: TAPIR_EDE_FILTERED;
	a->cache = p->cache_blocked && a->kind == TAPIR_ANSWER_NEGATIVE;
	if (want_why || a->log)
		explain(rt, v, a->why, sizeof(a->why));
}

/* A name in an rdata as text with its trailing dot; "?" when it has no
 * canonical form (never for names the configuration accepted). */
static size_t
name_text(const uint8_t *wire, size_t maxlen, char *buf, size_t size, size_t at)
{
	char name[TAPIR_NAME_BUFSIZE];

	if (tapir_name_from_wire(wire, maxlen, name, NULL) != 0)
		return tapir_strappend(buf, size, at, "?");
	return tapir_strappend(buf, size, at, "%s.", name);
}

/* Record i of a plan's rdata as presentation text. */
static size_t
rdata_text(const struct tapir_answer *a, size_t i, char *buf, size_t size,
	size_t at)
{
	const uint8_t *rd = a->rdata + i * a->rdata_len + 2;
	size_t len = a->rdata_len - 2;
	char addr[INET6_ADDRSTRLEN];

	switch (a->rr_type) {
	case TAPIR_DNS_TYPE_A:
	case TAPIR_DNS_TYPE_AAAA:
		inet_ntop(a->rr_type == TAPIR_DNS_TYPE_A ? AF_INET : AF_INET6,
			rd, addr, sizeof(addr));
		return tapir_strappend(buf, size, at, "%s", addr);
	case TAPIR_DNS_TYPE_CNAME:
		return name_text(rd, len, buf, size, at);
	default:
		return at;
	}
}

static const char *
type_str(uint16_t type)
{
	switch (type) {
	case TAPIR_DNS_TYPE_A:
		return "A";
	case TAPIR_DNS_TYPE_AAAA:
		return "AAAA";
	case TAPIR_DNS_TYPE_CNAME:
		return "CNAME";
	default:
		return "SOA";
	}
}

size_t
tapir_answer_describe(const struct tapir_answer *a, char *buf, size_t size)
{
	size_t at = 0;
	const uint8_t *soa = a->rdata + 2;
	size_t soa_len = a->rdata_len > 2 ? a->rdata_len - 2 : 0;
	size_t mlen = 0;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	switch (a->kind) {
	case TAPIR_ANSWER_RESOLVE:
		return tapir_strappend(buf, size, at, "resolved normally");
	case TAPIR_ANSWER_DROP:
		return tapir_strappend(buf, size, at, "none (dropped)");
	case TAPIR_ANSWER_NEGATIVE:
		at = tapir_strappend(buf, size, at, "%s with SOA ",
			a->rcode == TAPIR_DNS_RCODE_NXDOMAIN
				? "NXDOMAIN"
				: "NOERROR/NODATA");
		at = name_text(soa, soa_len, buf, size, at);
		while (mlen < soa_len && soa[mlen])
			mlen += (size_t)soa[mlen] + 1;
		at = tapir_strappend(buf, size, at, " ");
		if (mlen < soa_len)
			at = name_text(soa + mlen + 1, soa_len - mlen - 1, buf,
				size, at);
		return tapir_strappend(
			buf, size, at, " in authority, TTL %u", a->ttl);
	case TAPIR_ANSWER_RECORDS:
		at = tapir_strappend(
			buf, size, at, "NOERROR, %s", type_str(a->rr_type));
		for (size_t i = 0; i < a->n_rr; i++) {
			at = tapir_strappend(buf, size, at, " ");
			at = rdata_text(a, i, buf, size, at);
		}
		return tapir_strappend(buf, size, at, ", TTL %u", a->ttl);
	}
	return at;
}

size_t
tapir_answer_rpz(const struct tapir_runtime *rt, enum tapir_action action,
	const char *owner, char *buf, size_t size)
{
	static const uint16_t qtypes[] = { TAPIR_DNS_TYPE_A,
		TAPIR_DNS_TYPE_AAAA };
	struct tapir_verdict v = { .action = action };
	struct tapir_answer a;
	const char *target = NULL;
	bool cname = false, records = false;
	size_t at = 0;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	/* Local data: what the plans for A and AAAA answer with (a CNAME
	 * answers both, once). */
	for (size_t q = 0; q < sizeof(qtypes) / sizeof(qtypes[0]); q++) {
		tapir_answer_plan(rt, &v, qtypes[q], false, &a);
		if (a.kind != TAPIR_ANSWER_RECORDS ||
			(a.rr_type == TAPIR_DNS_TYPE_CNAME && cname))
			continue;
		cname |= a.rr_type == TAPIR_DNS_TYPE_CNAME;
		records = true;
		for (size_t i = 0; i < a.n_rr; i++) {
			at = tapir_strappend(buf, size, at, "%s %s ", owner,
				type_str(a.rr_type));
			at = rdata_text(&a, i, buf, size, at);
			at = tapir_strappend(buf, size, at, "\n");
		}
	}
	if (records)
		return at;
	/* Otherwise RPZ's special CNAME targets. */
	tapir_answer_plan(rt, &v, TAPIR_DNS_TYPE_A, false, &a);
	switch (a.kind) {
	case TAPIR_ANSWER_DROP:
		target = "rpz-drop.";
		break;
	case TAPIR_ANSWER_NEGATIVE:
		target = a.rcode == TAPIR_DNS_RCODE_NXDOMAIN ? "." : "*.";
		break;
	default:
		if (action == TAPIR_ACTION_PASSTHRU)
			target = "rpz-passthru.";
		break;
	}
	if (target)
		at = tapir_strappend(
			buf, size, at, "%s CNAME %s\n", owner, target);
	return at;
}
