/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What differs between the Unbound versions the module builds against
 * (Debian 12's 1.17.1, 1.24.x, 1.26.x), told from what the configured
 * tree's own headers declare when the module is compiled: never from a
 * version number (Debian backports fixes into its 1.17.1) and never at run
 * time. Include after the Unbound headers. A tree whose declarations match
 * none of the forms here fails to compile, with the function named.
 */
#ifndef TAPIR_COMPAT_H
#define TAPIR_COMPAT_H

#include "util/data/msgreply.h"
#include "services/cache/dns.h"

/*
 * construct_reply_info_base(): 1.17.1 takes 11 arguments
 * (util/data/msgreply.h:246-249); later releases add the serve-expired
 * no-recursion TTL after expttl and the DNSSEC-bogus EDE code at the end
 * (13 arguments; 1.24.2 and 1.26.0 util/data/msgreply.h:269-273).
 * The exact type the tree declares picks the helper that calls it
 * (__builtin_types_compatible_p, __builtin_choose_expr: GCC and clang);
 * the helpers only call the pointer they are given, so both compile
 * against either tree. A block answer is never served expired and is not
 * DNSSEC-bogus: 0 and LDNS_EDE_NONE, what 1.17.1 itself sets.
 */
typedef struct reply_info *(*tapir_rib11_fn)(struct regional *, uint16_t,
	size_t, time_t, time_t, time_t, size_t, size_t, size_t, size_t,
	enum sec_status);
typedef struct reply_info *(*tapir_rib13_fn)(struct regional *, uint16_t,
	size_t, time_t, time_t, time_t, time_t, size_t, size_t, size_t, size_t,
	enum sec_status, sldns_ede_code);

#define TAPIR_RIB_IS(fn_type)                                                  \
	__builtin_types_compatible_p(                                          \
		__typeof__(&construct_reply_info_base), fn_type)
_Static_assert(TAPIR_RIB_IS(tapir_rib11_fn) || TAPIR_RIB_IS(tapir_rib13_fn),
	"construct_reply_info_base() of this Unbound tree has a form "
	"module/compat.h does not know");

static inline struct reply_info *
tapir_rib11(tapir_rib11_fn f, struct regional *region, uint16_t flags,
	size_t qd, time_t ttl, time_t prettl, time_t expttl, size_t an,
	size_t ns, size_t ar, size_t total, enum sec_status sec)
{
	return f(
		region, flags, qd, ttl, prettl, expttl, an, ns, ar, total, sec);
}

static inline struct reply_info *
tapir_rib13(tapir_rib13_fn f, struct regional *region, uint16_t flags,
	size_t qd, time_t ttl, time_t prettl, time_t expttl, size_t an,
	size_t ns, size_t ar, size_t total, enum sec_status sec)
{
	return f(region, flags, qd, ttl, prettl, expttl, 0, an, ns, ar, total,
		sec, LDNS_EDE_NONE);
}

/* construct_reply_info_base() with the 1.17.1 arguments, on any of them. */
#define tapir_reply_info_base(...)                                             \
	__builtin_choose_expr(TAPIR_RIB_IS(tapir_rib13_fn), tapir_rib13,       \
		tapir_rib11)(&construct_reply_info_base, __VA_ARGS__)

/*
 * dns_cache_store(): 1.17.1 takes 9 arguments (services/cache/dns.h:95-97);
 * 1.24.2 and 1.26.0 add is_valrec at the end (dns.h:97-100), which says
 * whether the message came from a validation recursion: a block answer
 * never does (0).
 */
typedef int (*tapir_dcs9_fn)(struct module_env *, struct query_info *,
	struct reply_info *, int, time_t, int, struct regional *, uint32_t,
	time_t);
typedef int (*tapir_dcs10_fn)(struct module_env *, struct query_info *,
	struct reply_info *, int, time_t, int, struct regional *, uint32_t,
	time_t, int);

#define TAPIR_DCS_IS(fn_type)                                                  \
	__builtin_types_compatible_p(__typeof__(&dns_cache_store), fn_type)
_Static_assert(TAPIR_DCS_IS(tapir_dcs9_fn) || TAPIR_DCS_IS(tapir_dcs10_fn),
	"dns_cache_store() of this Unbound tree has a form module/compat.h "
	"does not know");

static inline int
tapir_dcs9(tapir_dcs9_fn f, struct module_env *env, struct query_info *q,
	struct reply_info *rep, struct regional *region, uint32_t flags,
	time_t qstarttime)
{
	return f(env, q, rep, 0, 0, 0, region, flags, qstarttime);
}

static inline int
tapir_dcs10(tapir_dcs10_fn f, struct module_env *env, struct query_info *q,
	struct reply_info *rep, struct regional *region, uint32_t flags,
	time_t qstarttime)
{
	return f(env, q, rep, 0, 0, 0, region, flags, qstarttime, 0);
}

/* dns_cache_store() of a final answer (not a referral, no leeway, not
 * parent-side), on any of them. */
#define tapir_dns_cache_store(...)                                             \
	__builtin_choose_expr(TAPIR_DCS_IS(tapir_dcs10_fn), tapir_dcs10,       \
		tapir_dcs9)(&dns_cache_store, __VA_ARGS__)

#endif
