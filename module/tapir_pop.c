/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tapir-pop.so: the Unbound adapter, the only file that includes Unbound
 * headers. qstate in, one lib/ call, ext_state out. Everything that can be
 * tested without Unbound lives in lib/.
 *
 * Invariants:
 * - init() fails only when this build does not match the running daemon
 *   (struct layouts would not match: silent memory corruption otherwise);
 *   a missing config, key file or broker never fails it.
 * - deinit() stops and joins every thread before returning: Unbound
 *   dlclose()s the module right after.
 * - operate() never blocks, never logs per query above debug level, and
 *   builds block answers from the plan lib/ hands it (lib/answer.h): the
 *   module keeps no configuration of its own, so a reload of the
 *   configuration changes the answers and what lookup says together.
 *
 * The configuration file is $TAPIR_POP_CONFIG when set, else tapir-pop.yaml
 * in Unbound's "directory:" (/etc/unbound by default): the dynlib clause of
 * unbound.conf has no room for module options.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynlibmod/dynlibmod.h"
#include "sldns/rrdef.h"
#include "sldns/sbuffer.h"
#include "sldns/wire2str.h"
#include "util/config_file.h"
#include "util/data/msgreply.h"
#include "util/data/packed_rrset.h"
#include "util/log.h"
#include "util/module.h"
#include "util/net_help.h"
#include "util/regional.h"
#include "services/cache/dns.h"
#include "services/cache/rrset.h"
#include "services/mesh.h"
#include "services/rpz.h"
#include "util/data/dname.h"

#include "lib/engine.h"
#include "lib/name.h"
#include "lib/ratelimit.h"
#include "module/buildid.h"
#include "module/compat.h"
#include "module/unbound_control.h"

#define TAPIR_API	  __attribute__((visibility("default")))
#define CONFIG_NAME	  "tapir-pop.yaml"
/* logging.blocked-queries writes at most this many lines a second: a
 * flood of blocked queries (a botnet's, an attack's) must not become a
 * flood of Unbound's log. Documented in tapir-pop.yaml(5). */
#define BLOCK_LOG_PER_SEC 100

/* The six entry points dynlibmod looks up by name (dynlibmod/dynlibmod.c);
 * the only symbols the module exports. */
TAPIR_API int init(struct module_env *env, int id);
TAPIR_API void deinit(struct module_env *env, int id);
TAPIR_API void operate(struct module_qstate *qstate, enum module_ev event,
	int id, struct outbound_entry *outbound);
TAPIR_API void inform_super(
	struct module_qstate *qstate, int id, struct module_qstate *super);
TAPIR_API void clear(struct module_qstate *qstate, int id);
TAPIR_API size_t get_mem(struct module_env *env, int id);

static int cached_answer(struct query_info *qinfo, struct module_qstate *qstate,
	struct reply_info *rep, int rcode, struct edns_data *edns,
	struct edns_option **opt_list_out, struct comm_reply *repinfo,
	struct regional *region, struct timeval *start_time, int id, void *arg);

struct tapir_module {
	struct tapir_engine *engine;
	/* Unbound's, for the cache-answer callback (no qstate there); lives
	 * as long as the module. */
	struct module_env *env;
	bool cache_cb; /* the callback is registered */
	/* Unbound's remote-control socket, for cache flushes; read by the
	 * engine's purger thread, set before the engine starts. */
	struct tapir_ubctl control;
	/* The block log's rate limit, shared by every worker (lock-free);
	 * NULL (out of memory at init): no limit. */
	struct tapir_ratelimit *block_log;
};

/* The block log lines the rate limit left out (BLOCK_LOG_PER_SEC). */
static void
log_suppressed(uint64_t missed)
{
	log_info(
		"tapir-pop: %llu block log lines suppressed (at most %d a second)",
		(unsigned long long)missed, BLOCK_LOG_PER_SEC);
}

static void
log_sink(void *arg, enum tapir_log_level level, const char *msg)
{
	switch (level) {
	case TAPIR_LOG_ERR:
		log_err("%s", msg);
		break;
	case TAPIR_LOG_WARN:
		log_warn("%s", msg);
		break;
	case TAPIR_LOG_INFO:
		verbose(VERB_OPS, "%s", msg);
		break;
	default:
		verbose(VERB_ALGO, "%s", msg);
		break;
	}
}

static int
check_build_id(void)
{
	char running[128];

	if (tapir_running_build_id(running, sizeof(running)) != 0) {
		log_err("tapir-pop: refusing to load: the running unbound has "
			"no GNU build-id; this module was built for Unbound "
			"%s build-id %s",
			TAPIR_UNBOUND_VERSION, TAPIR_UNBOUND_BUILD_ID);
		return -1;
	}
	if (strcmp(running, TAPIR_UNBOUND_BUILD_ID) != 0) {
		log_err("tapir-pop: refusing to load: built for Unbound %s "
			"build-id %s, running build-id %s; rebuild the module "
			"against this daemon's source tree",
			TAPIR_UNBOUND_VERSION, TAPIR_UNBOUND_BUILD_ID, running);
		return -1;
	}
	return 0;
}

static void
config_path(struct module_env *env, char *out, size_t size)
{
	const char *env_path = getenv("TAPIR_POP_CONFIG");
	const char *dir =
		env->cfg && env->cfg->directory && env->cfg->directory[0]
			? env->cfg->directory
			: ".";

	if (env_path && env_path[0])
		snprintf(out, size, "%s", env_path);
	else
		snprintf(out, size, "%s/%s", dir, CONFIG_NAME);
}

/* Names whose decision changes are flushed from Unbound's caches through
 * its own remote-control interface (module/unbound_control.h says why not
 * directly). */
static void
setup_purge(struct module_env *env, struct tapir_module *m)
{
	struct config_file *cfg = env->cfg;
	const char *ifc;

	if (!cfg || !cfg->remote_control_enable) {
		log_warn("tapir-pop: remote-control is disabled: a name "
			 "cached before it is blocked keeps resolving until "
			 "its TTL ends; enable remote-control on a Unix socket "
			 "for immediate blocking");
		tapir_engine_set_purge(m->engine, NULL, NULL,
			"Unbound's remote-control is disabled");
		return;
	}
	ifc = cfg->control_ifs.first && cfg->control_ifs.first->str
		      ? cfg->control_ifs.first->str
		      : "127.0.0.1";
	/* A TCP control port without certificates gives every local user
	 * all of unbound-control, and one with certificates would need the
	 * module to hold the client key: only a Unix socket, whose file
	 * mode says who may use it, is used. */
	if (ifc[0] != '/') {
		log_warn("tapir-pop: remote-control listens on %s port %d, "
			 "not a Unix socket: no cache purging (a TCP control "
			 "port without certificates would let every local "
			 "user run unbound-control); set control-interface "
			 "to a socket path, e.g. /run/unbound.ctl",
			ifc, cfg->control_port);
		tapir_engine_set_purge(m->engine, NULL, NULL,
			"remote-control is not on a Unix socket");
		return;
	}
	if (tapir_ubctl_init(&m->control, ifc, cfg->control_port) != 0) {
		log_warn("tapir-pop: remote-control interface %s: path too "
			 "long for a Unix socket; no cache purging",
			ifc);
		return;
	}
	tapir_engine_set_purge(
		m->engine, tapir_ubctl_flush, &m->control, m->control.what);
}

/*
 * Stay loaded across unbound-control reload. Unbound dlclose()s and
 * dlopen()s the module on every reload, so the libraries it pulls into
 * the daemon (libknot brings GnuTLS) would be unloaded and their
 * constructors and destructors run again each time; GnuTLS does not
 * survive that (seen under AddressSanitizer: its constructor blocked on a
 * glibc lock at the second load). Pinning the module pins them all, once.
 * init and deinit still build and tear down everything of ours; the cost
 * is that a new tapir-pop.so on disk is picked up by a restart of
 * Unbound, not by a reload.
 */
static void
pin_module(const char *path)
{
	if (!path || !dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
		log_warn("tapir-pop: cannot pin %s in memory: %s",
			path ? path : "the module", dlerror());
}

/*
 * The mesh of the worker on this thread, for cached_answer(): Unbound's
 * reply_cache callback gets no env, so the worker whose num.rpz.action
 * counters a cached block answer belongs in is the one that last ran
 * operate() on this thread (every worker does for its first query the
 * cache cannot answer). Read and written by this thread only; deinit()
 * clears it on the main thread, whose worker 0 outlives a reload, so no
 * freed mesh is ever counted into.
 */
static __thread struct mesh_area *worker_mesh;

TAPIR_API int
init(struct module_env *env, int id)
{
	struct dynlibmod_env *de = env->modinfo[id];
	struct tapir_module *m;
	char path[1024], info[256];

	if (check_build_id() != 0)
		return 0;
	pin_module(de ? de->fname : NULL);
	tapir_log_set(log_sink, NULL);
	/* Library set-up that is not thread-safe, before any thread; once
	 * per process, since the module stays loaded across reloads. */
	if (tapir_lib_init() != 0) {
		log_err("tapir-pop: a library (libsodium, jansson, "
			"libmosquitto) failed to initialise; the module "
			"passes every query");
		de->dyn_env = NULL;
		return 1;
	}

	if (!(m = calloc(1, sizeof(*m)))) {
		log_err("tapir-pop: out of memory; the module passes every "
			"query");
		de->dyn_env = NULL;
		return 1;
	}
	config_path(env, path, sizeof(path));
	m->env = env;
	m->block_log = tapir_ratelimit_create(BLOCK_LOG_PER_SEC, 1000);
	m->engine = tapir_engine_create(path);
	if (m->engine) {
		snprintf(info, sizeof(info), "Unbound %s build-id %s",
			TAPIR_UNBOUND_VERSION, TAPIR_UNBOUND_BUILD_ID);
		tapir_engine_set_host_info(m->engine, info);
		setup_purge(env, m);
		if (tapir_engine_start(m->engine) != 0)
			log_err("tapir-pop: engine threads did not all start");
	}
	de->dyn_env = m;
	/* Through dynlibmod's wrapper: Unbound calls only whitelisted
	 * callback functions, and the wrapper is one. */
	if (m->engine && de->inplace_cb_register_wrapped)
		m->cache_cb =
			de->inplace_cb_register_wrapped((void *)cached_answer,
				inplace_cb_reply_cache, m, env, id);
	log_info("tapir-pop %s: loaded for Unbound %s, config %s%s",
		TAPIR_POP_VERSION, TAPIR_UNBOUND_VERSION, path,
		m->engine && tapir_engine_active(m->engine) ? ""
							    : " (inactive)");
	return 1;
}

TAPIR_API void
deinit(struct module_env *env, int id)
{
	struct dynlibmod_env *de = env->modinfo[id];
	struct tapir_module *m = de ? de->dyn_env : NULL;

	if (m) {
		uint64_t missed;

		if (m->cache_cb && de->inplace_cb_delete_wrapped)
			de->inplace_cb_delete_wrapped(
				env, inplace_cb_reply_cache, id);
		tapir_engine_destroy(m->engine);
		/* No worker runs now: the last count is complete. */
		if (m->block_log && (missed = tapir_ratelimit_take_suppressed(
					     m->block_log)))
			log_suppressed(missed);
		tapir_ratelimit_destroy(m->block_log);
		free(m);
		de->dyn_env = NULL;
	}
	tapir_log_set(NULL, NULL);
	worker_mesh = NULL;
}

/* An rrset of n records (rdata[i] of rdata_len bytes each, with their
 * length prefix) in region memory, in the packed layout the encoder
 * expects. */
static struct ub_packed_rrset_key *
make_rrset_n(struct regional *region, const uint8_t *owner, size_t owner_len,
	uint16_t type, const uint8_t *const *rdata, size_t rdata_len, size_t n,
	time_t ttl)
{
	struct ub_packed_rrset_key *k;
	struct packed_rrset_data *d;

	if (!(k = regional_alloc_zero(region, sizeof(*k))))
		return NULL;
	if (!(k->rk.dname = regional_alloc_init(region, owner, owner_len)))
		return NULL;
	k->rk.dname_len = owner_len;
	k->rk.type = htons(type);
	k->rk.rrset_class = htons(LDNS_RR_CLASS_IN);
	k->entry.key = k;
	d = regional_alloc_zero(
		region, sizeof(*d) + n * (sizeof(size_t) + sizeof(uint8_t *) +
						 sizeof(time_t) + rdata_len));
	if (!d)
		return NULL;
	d->ttl = ttl;
	d->count = n;
	d->trust = rrset_trust_prim_noglue;
	d->security = sec_status_insecure;
	d->rr_len = (size_t *)((uint8_t *)d + sizeof(*d));
	for (size_t i = 0; i < n; i++)
		d->rr_len[i] = rdata_len;
	packed_rrset_ptr_fixup(d);
	for (size_t i = 0; i < n; i++) {
		d->rr_ttl[i] = ttl;
		memcpy(d->rr_data[i], rdata[i], rdata_len);
	}
	k->entry.data = d;
	k->entry.hash = rrset_key_hash(&k->rk);
	return k;
}

/* The plan's records as one rrset owned by the query name. */
static struct ub_packed_rrset_key *
plan_rrset(struct module_qstate *qstate, const struct tapir_answer *a)
{
	const uint8_t *rd[TAPIR_MAX_REDIRECT];

	for (size_t i = 0; i < a->n_rr && i < TAPIR_MAX_REDIRECT; i++)
		rd[i] = a->rdata + i * a->rdata_len;
	return make_rrset_n(qstate->region, qstate->qinfo.qname,
		qstate->qinfo.qname_len, a->rr_type, rd, a->rdata_len,
		a->n_rr < TAPIR_MAX_REDIRECT ? a->n_rr : TAPIR_MAX_REDIRECT,
		(time_t)a->ttl);
}

/* A NEGATIVE plan: its rcode with the SOA in authority, so that clients
 * cache the negative answer for its TTL (RFC 2308); a RECORDS plan: its
 * records in the answer section. */
static int
answer_plan(struct module_qstate *qstate, const struct tapir_answer *a)
{
	bool negative = a->kind == TAPIR_ANSWER_NEGATIVE;
	struct ub_packed_rrset_key *k;
	struct dns_msg *msg;

	if (!(k = plan_rrset(qstate, a)) ||
		!(msg = regional_alloc_zero(qstate->region, sizeof(*msg))))
		return -1;
	msg->qinfo = qstate->qinfo;
	msg->rep = tapir_reply_info_base(qstate->region,
		(uint16_t)(BIT_QR | BIT_RA | a->rcode), 1, a->ttl, a->ttl, 0,
		negative ? 0 : 1, negative ? 1 : 0, 0, 1, sec_status_insecure);
	if (!msg->rep)
		return -1;
	msg->rep->rrsets[0] = k;
	qstate->return_msg = msg;
	qstate->return_rcode = LDNS_RCODE_NOERROR;
	return 0;
}

/* Where Unbound's own statistics count a module answer:
 * num.rpz.action.* with extended-statistics: yes. */
static int
rpz_stat(enum tapir_action a)
{
	switch (a) {
	case TAPIR_ACTION_NXDOMAIN:
		return RPZ_NXDOMAIN_ACTION;
	case TAPIR_ACTION_NODATA:
		return RPZ_NODATA_ACTION;
	case TAPIR_ACTION_DROP:
		return RPZ_DROP_ACTION;
	case TAPIR_ACTION_PASSTHRU:
		return RPZ_PASSTHRU_ACTION;
	case TAPIR_ACTION_REDIRECT:
		return RPZ_LOCAL_DATA_ACTION;
	default:
		return -1;
	}
}

static void
count_stat(struct module_qstate *qstate, enum tapir_action a)
{
	int i = rpz_stat(a);

	/* Per worker: only this worker's thread touches its mesh. */
	if (i >= 0 && qstate->env->mesh)
		qstate->env->mesh->rpz_action[i]++;
}

/* With Unbound's ede: yes, say why in an Extended DNS Error. */
static void
add_ede(struct module_qstate *qstate, const struct tapir_answer *a)
{
	char text[sizeof(a->why) + 16];

	if (!qstate->env->cfg || !qstate->env->cfg->ede || !a->ede)
		return;
	snprintf(text, sizeof(text), "tapir-pop: %s", a->why);
	(void)edns_opt_list_append_ede(&qstate->edns_opts_front_out,
		qstate->region, (sldns_ede_code)a->ede, text);
}

/* What the engine needs to know of this query besides its name: whether
 * a block's explanation is wanted (for an EDE; the block log's setting is
 * the plan's own), and whether Unbound's flush by name would leave an
 * answer of its type in the cache. */
static unsigned
query_flags(struct module_qstate *qstate)
{
	unsigned f = 0;

	if (qstate->env->cfg && qstate->env->cfg->ede)
		f |= TAPIR_QUERY_EXPLAIN;
	if (!tapir_ubctl_flush_covers(qstate->qinfo.qtype))
		f |= TAPIR_QUERY_RARE_TYPE;
	return f;
}

/* Whether one more block log line may be written now; the first after
 * lines were dropped says how many. */
static bool
block_log_allowed(struct tapir_module *m)
{
	uint64_t missed = 0;

	if (!m->block_log)
		return true;
	if (!tapir_ratelimit_allow(m->block_log, tapir_monotonic_ms(), &missed))
		return false;
	if (missed)
		log_suppressed(missed);
	return true;
}

/* logging.blocked-queries: one line per blocked query, off by default,
 * at most BLOCK_LOG_PER_SEC a second; the client's address only with
 * logging.client-address. */
static void
log_block(struct tapir_module *m, struct module_qstate *qstate,
	const struct tapir_answer *a)
{
	char name[LDNS_MAX_DOMAINLEN + 1], type[16], client[128] = "";

	if (!a->log || !block_log_allowed(m))
		return;
	dname_str(qstate->qinfo.qname, name);
	sldns_wire2str_type_buf(qstate->qinfo.qtype, type, sizeof(type));
	if (a->log_client && qstate->mesh_info && qstate->mesh_info->reply_list)
		addr_to_str(
			&qstate->mesh_info->reply_list->query_reply.remote_addr,
			qstate->mesh_info->reply_list->query_reply
				.remote_addrlen,
			client, sizeof(client));
	log_info("tapir-pop: blocked %s %s %s (%s)%s%s", name, type,
		tapir_action_str(a->action), a->why,
		client[0] ? " client " : "", client);
}

/* Answer the query as the plan says; 0 or -1 (out of memory). */
static int
answer_block(struct tapir_module *m, struct module_qstate *qstate,
	const struct tapir_answer *a)
{
	int rc = 0;

	if (a->kind == TAPIR_ANSWER_DROP) {
		qstate->is_drop = 1;
		qstate->return_msg = NULL;
	} else {
		rc = answer_plan(qstate, a);
	}
	if (rc != 0) {
		/* Out of region memory: SERVFAIL rather than the answer
		 * the policy forbids. */
		qstate->return_msg = NULL;
		qstate->return_rcode = LDNS_RCODE_SERVFAIL;
		return -1;
	}
	if (a->kind != TAPIR_ANSWER_DROP)
		add_ede(qstate, a);
	log_block(m, qstate, a);
	/* answer.cache-blocked: Unbound answers the next queries for this
	 * name and type from its message cache, for the answer's TTL, and
	 * cached_answer() counts and explains them. Otherwise (and always
	 * for a CNAME, addresses or a drop) nothing of a block answer lands
	 * in the cache as if resolved. */
	if (a->cache)
		(void)tapir_dns_cache_store(qstate->env, &qstate->qinfo,
			qstate->return_msg->rep, qstate->region,
			qstate->query_flags, qstate->qstarttime);
	qstate->no_cache_store = 1;
	count_stat(qstate, a->action);
	return 0;
}

/*
 * Unbound's reply_cache callback, on a worker, for every answer from the
 * message cache: the block answers answer.cache-blocked stored there are
 * counted, explained (EDE) and logged as the query path does for the
 * first one. Ours have no answer records and one SOA, owned by the query
 * name, with the configured names: a real negative answer's SOA is its
 * zone's. Anything else costs these few comparisons. Unbound's own
 * num.rpz.action counters see only the first answer of each TTL.
 */
static int
cached_answer(struct query_info *qinfo, struct module_qstate *qstate,
	struct reply_info *rep, int rcode, struct edns_data *edns,
	struct edns_option **opt_list_out, struct comm_reply *repinfo,
	struct regional *region, struct timeval *start_time, int id, void *arg)
{
	struct tapir_module *m = arg;
	struct ub_packed_rrset_key *k;
	struct packed_rrset_data *d;
	struct tapir_answer a;
	unsigned flags = 0;
	char text[sizeof(a.why) + 16];

	if (!rep || rep->an_numrrsets != 0 || rep->ns_numrrsets != 1 ||
		rep->rrset_count != 1 || !(k = rep->rrsets[0]) ||
		k->rk.type != htons(LDNS_RR_TYPE_SOA) ||
		query_dname_compare(k->rk.dname, qinfo->qname) != 0 ||
		!(d = k->entry.data) || d->count != 1 ||
		!tapir_engine_is_block_soa(
			m->engine, d->rr_data[0], d->rr_len[0]))
		return 0;
	if (m->env->cfg && m->env->cfg->ede)
		flags |= TAPIR_QUERY_EXPLAIN;
	if (tapir_engine_query(m->engine, qinfo->qname, qinfo->qname_len,
		    qinfo->qtype, flags, &a) <= TAPIR_ACTION_PASSTHRU)
		return 0; /* changed meanwhile: its purge is on its way */
	if (worker_mesh && rpz_stat(a.action) >= 0)
		worker_mesh->rpz_action[rpz_stat(a.action)]++;
	if ((flags & TAPIR_QUERY_EXPLAIN) && a.ede) {
		snprintf(text, sizeof(text), "tapir-pop: %s", a.why);
		(void)edns_opt_list_append_ede(
			opt_list_out, region, (sldns_ede_code)a.ede, text);
	}
	if (a.log && block_log_allowed(m)) {
		char name[LDNS_MAX_DOMAINLEN + 1], type[16], client[128] = "";
		dname_str(qinfo->qname, name);
		sldns_wire2str_type_buf(qinfo->qtype, type, sizeof(type));
		if (a.log_client && repinfo)
			addr_to_str(&repinfo->remote_addr,
				repinfo->remote_addrlen, client,
				sizeof(client));
		log_info("tapir-pop: blocked %s %s %s (%s, cached)%s%s", name,
			type, tapir_action_str(a.action), a.why,
			client[0] ? " client " : "", client);
	}
	return 0;
}

/*
 * Drop at once what the iterator has just cached under name for this
 * query: its messages of the query's type (with the CD variant Unbound
 * keeps apart for AAAA) and its rrsets of that type. The purger's
 * flush_zone follows for every other type, but it runs on its own thread
 * and through Unbound's control socket, later; a query in between must
 * not find these. Safe here, unlike from a thread of the module's own:
 * operate() runs on a worker, so the caches cannot be freed by a reload
 * meanwhile, and the cache code takes its own locks.
 */
static void
drop_now(struct module_qstate *qstate, const uint8_t *name, size_t len)
{
	uint8_t *nm = (uint8_t *)name;
	uint16_t t = qstate->qinfo.qtype, c = qstate->qinfo.qclass;

	msg_cache_remove(qstate->env, nm, len, t, c, 0);
	msg_cache_remove(qstate->env, nm, len, t, c, BIT_CD);
	rrset_cache_remove(qstate->env->rrset_cache, nm, len, t, c, 0);
}

/*
 * After the iterator: an answer whose CNAME/DNAME chain passes through a
 * blocked name is blocked as a whole (operate() saw only the first name).
 * The iterator has already cached the chain, under each name of it: what
 * this query's type left there goes at once (drop_now()), and the query
 * name and the blocked target are purged whole, so that no query for a
 * name of the chain, CD=1 included, is answered from the cache.
 */
static void
check_chain(struct module_qstate *qstate, struct tapir_module *m)
{
	struct reply_info *rep =
		qstate->return_msg ? qstate->return_msg->rep : NULL;
	struct tapir_answer a;

	if (!rep)
		return;
	for (size_t i = 0; i < rep->an_numrrsets && i < rep->rrset_count; i++) {
		struct ub_packed_rrset_key *k = rep->rrsets[i];
		struct packed_rrset_data *d = k->entry.data;
		const uint8_t *names[2] = { k->rk.dname, NULL };
		size_t lens[2] = { k->rk.dname_len, 0 };
		uint16_t type = ntohs(k->rk.type);

		if ((type == LDNS_RR_TYPE_CNAME ||
			    type == LDNS_RR_TYPE_DNAME) &&
			d && d->count > 0 && d->rr_len[0] > 2) {
			names[1] = d->rr_data[0] + 2;
			lens[1] = d->rr_len[0] - 2;
		}
		for (int j = 0; j < 2; j++) {
			if (!names[j] ||
				query_dname_compare((uint8_t *)names[j],
					qstate->qinfo.qname) == 0)
				continue;
			if (tapir_engine_query(m->engine, names[j], lens[j],
				    qstate->qinfo.qtype,
				    TAPIR_QUERY_CHAIN | query_flags(qstate),
				    &a) <= TAPIR_ACTION_PASSTHRU)
				continue;
			for (size_t r = 0;
				r < rep->an_numrrsets && r < rep->rrset_count;
				r++)
				drop_now(qstate, rep->rrsets[r]->rk.dname,
					rep->rrsets[r]->rk.dname_len);
			drop_now(qstate, names[j], lens[j]);
			tapir_engine_purge_wire(m->engine, qstate->qinfo.qname,
				qstate->qinfo.qname_len);
			tapir_engine_purge_wire(m->engine, names[j], lens[j]);
			(void)answer_block(m, qstate, &a);
			return;
		}
	}
}

TAPIR_API void
operate(struct module_qstate *qstate, enum module_ev event, int id,
	struct outbound_entry *outbound)
{
	struct dynlibmod_env *de = qstate->env->modinfo[id];
	struct tapir_module *m = de->dyn_env;
	enum tapir_action action;
	struct tapir_answer a;

	worker_mesh = qstate->env->mesh;
	if (event == module_event_moddone) {
		if (m && m->engine)
			check_chain(qstate, m);
		qstate->ext_state[id] = module_finished;
		return;
	}
	if (event != module_event_new && event != module_event_pass) {
		qstate->ext_state[id] = module_error;
		return;
	}
	if (!m || !m->engine) {
		qstate->ext_state[id] = module_wait_module;
		return;
	}
	action = tapir_engine_query(m->engine, qstate->qinfo.qname,
		qstate->qinfo.qname_len, qstate->qinfo.qtype,
		query_flags(qstate), &a);
	if (action <= TAPIR_ACTION_PASSTHRU) {
		if (action == TAPIR_ACTION_PASSTHRU)
			count_stat(qstate, action);
		qstate->ext_state[id] = module_wait_module;
		return;
	}
	/* A prefetch has no client: its block answer is thrown away and the
	 * stale allowed answer would be served on (for ever, with
	 * serve-expired). Dropping the name from the cache ends that; a
	 * block answer stored in the cache (answer.cache-blocked) replaces
	 * it instead. */
	if (qstate->prefetch_leeway && !a.cache)
		tapir_engine_purge_wire(m->engine, qstate->qinfo.qname,
			qstate->qinfo.qname_len);
	(void)answer_block(m, qstate, &a);
	qstate->ext_state[id] = module_finished;
}

TAPIR_API void
inform_super(struct module_qstate *qstate, int id, struct module_qstate *super)
{
}

TAPIR_API void
clear(struct module_qstate *qstate, int id)
{
}

TAPIR_API size_t
get_mem(struct module_env *env, int id)
{
	struct dynlibmod_env *de = env->modinfo[id];
	struct tapir_module *m = de ? de->dyn_env : NULL;

	if (!m)
		return 0;
	return sizeof(*m) + (m->engine ? tapir_engine_memory(m->engine) : 0);
}
