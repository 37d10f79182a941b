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
 *   builds block answers from parts precomputed at init.
 *
 * The configuration file is $TAPIR_POP_CONFIG when set, else tapir-pop.yaml
 * in Unbound's "directory:" (/etc/unbound by default): the dynlib clause of
 * unbound.conf has no room for module options.
 */
#include "config.h"

#include <jansson.h>
#include <mosquitto.h>
#include <sodium.h>
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
#include "module/buildid.h"
#include "module/compat.h"

#define TAPIR_API   __attribute__((visibility("default")))
#define CONFIG_NAME "tapir-pop.yaml"

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

/* SOA values other than the names and the negative TTL: fixed, since no
 * secondary ever transfers this "zone". */
#define SOA_SERIAL  1
#define SOA_REFRESH 3600
#define SOA_RETRY   600
#define SOA_EXPIRE  86400

struct tapir_module {
	struct tapir_engine *engine;
	uint32_t negative_ttl;
	bool log_blocked, log_client;	/* logging.* of the configuration */
	const struct tapir_config *cfg; /* the engine's, for answers */
	/* REDIRECT's CNAME target in wire form with its length prefix. */
	uint8_t cname_rdata[2 + TAPIR_NAME_WIRE_MAX];
	size_t cname_rdata_len;
	/* SOA rdata with its 2-byte length prefix, as packed rrsets keep it. */
	uint8_t soa_rdata[2 + 2 * TAPIR_NAME_WIRE_MAX + 20];
	size_t soa_rdata_len;
};

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

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
build_soa_rdata(struct tapir_module *m, const struct tapir_config *cfg)
{
	uint8_t *p = m->soa_rdata + 2;
	size_t len;

	if (tapir_name_to_wire(cfg->answer.soa_mname, p, &len) != 0)
		return -1;
	p += len;
	if (tapir_name_to_wire(cfg->answer.soa_rname, p, &len) != 0)
		return -1;
	p += len;
	put32(p, SOA_SERIAL);
	put32(p + 4, SOA_REFRESH);
	put32(p + 8, SOA_RETRY);
	put32(p + 12, SOA_EXPIRE);
	put32(p + 16, cfg->answer.negative_ttl);
	p += 20;
	len = (size_t)(p - m->soa_rdata) - 2;
	m->soa_rdata[0] = (uint8_t)(len >> 8);
	m->soa_rdata[1] = (uint8_t)len;
	m->soa_rdata_len = len + 2;
	m->negative_ttl = cfg->answer.negative_ttl;
	m->log_blocked = cfg->logging.blocked;
	m->log_client = cfg->logging.client;
	m->cfg = cfg;
	if (cfg->answer.redirect_cname[0]) {
		if (tapir_name_to_wire(cfg->answer.redirect_cname,
			    m->cname_rdata + 2, &len) != 0)
			return -1;
		m->cname_rdata[0] = (uint8_t)(len >> 8);
		m->cname_rdata[1] = (uint8_t)len;
		m->cname_rdata_len = len + 2;
	}
	return 0;
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

/* Names that become blocked are flushed from Unbound's caches through its
 * own remote-control interface (see lib/purge.h for why not directly). */
static void
setup_purge(struct module_env *env, struct tapir_engine *e)
{
	struct config_file *cfg = env->cfg;
	const char *ifc;

	if (!cfg || !cfg->remote_control_enable) {
		log_warn("tapir-pop: remote-control is disabled: a name "
			 "cached before it is blocked keeps resolving until "
			 "its TTL ends; enable remote-control (a Unix socket "
			 "or control-use-cert: no) for immediate blocking");
		return;
	}
	ifc = cfg->control_ifs.first && cfg->control_ifs.first->str
		      ? cfg->control_ifs.first->str
		      : "127.0.0.1";
	if (ifc[0] != '/' && cfg->control_use_cert) {
		log_warn("tapir-pop: remote-control uses certificates: cache "
			 "purging needs a Unix control socket or "
			 "control-use-cert: no");
		return;
	}
	tapir_engine_set_purge_endpoint(e, ifc, cfg->control_port);
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
	/* Library set-up that is not thread-safe, before any thread. */
	if (sodium_init() < 0) {
		log_err("tapir-pop: libsodium failed to initialise; "
			"the module passes every query");
		de->dyn_env = NULL;
		return 1;
	}
	json_object_seed(0);
	mosquitto_lib_init();

	if (!(m = calloc(1, sizeof(*m)))) {
		log_err("tapir-pop: out of memory; the module passes every "
			"query");
		de->dyn_env = NULL;
		return 1;
	}
	config_path(env, path, sizeof(path));
	m->engine = tapir_engine_create(path);
	if (m->engine && tapir_engine_active(m->engine) &&
		build_soa_rdata(m, tapir_engine_config(m->engine)) != 0) {
		log_err("tapir-pop: cannot encode the SOA names; the module "
			"passes every query");
		tapir_engine_destroy(m->engine);
		m->engine = NULL;
	}
	if (m->engine) {
		snprintf(info, sizeof(info), "Unbound %s build-id %s",
			TAPIR_UNBOUND_VERSION, TAPIR_UNBOUND_BUILD_ID);
		tapir_engine_set_host_info(m->engine, info);
		setup_purge(env, m->engine);
		if (tapir_engine_start(m->engine) != 0)
			log_err("tapir-pop: engine threads did not all start");
	}
	de->dyn_env = m;
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
		tapir_engine_destroy(m->engine);
		free(m);
		de->dyn_env = NULL;
		mosquitto_lib_cleanup();
	}
	tapir_log_set(NULL, NULL);
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

/* A one-record rrset. */
static struct ub_packed_rrset_key *
make_rrset(struct regional *region, const uint8_t *owner, size_t owner_len,
	uint16_t type, const uint8_t *rdata, size_t rdata_len, time_t ttl)
{
	return make_rrset_n(
		region, owner, owner_len, type, &rdata, rdata_len, 1, ttl);
}

/* NXDOMAIN or NODATA with the SOA in authority, so clients can cache the
 * negative answer for negative-ttl seconds (RFC 2308). */
static int
answer_negative(struct module_qstate *qstate, struct tapir_module *m, int rcode)
{
	struct query_info *q = &qstate->qinfo;
	struct dns_msg *msg;
	struct ub_packed_rrset_key *soa;

	if (!(msg = regional_alloc_zero(qstate->region, sizeof(*msg))))
		return -1;
	msg->qinfo = *q;
	msg->rep = tapir_reply_info_base(qstate->region,
		(uint16_t)(BIT_QR | BIT_RA | rcode), 1, m->negative_ttl,
		m->negative_ttl, 0, 0, 1, 0, 1, sec_status_insecure);
	if (!msg->rep)
		return -1;
	soa = make_rrset(qstate->region, q->qname, q->qname_len,
		LDNS_RR_TYPE_SOA, m->soa_rdata, m->soa_rdata_len,
		(time_t)m->negative_ttl);
	if (!soa)
		return -1;
	msg->rep->rrsets[0] = soa;
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

/* With Unbound's ede: yes, say why in an Extended DNS Error. Built only for
 * blocked answers, so the full decision is affordable here. */
static void
add_ede(struct module_qstate *qstate, struct tapir_module *m,
	const uint8_t *name, size_t len)
{
	char text[256];
	int code;

	if (!qstate->env->cfg || !qstate->env->cfg->ede)
		return;
	code = tapir_engine_explain_short(
		m->engine, name, len, text, sizeof(text));
	if (code)
		(void)edns_opt_list_append_ede(&qstate->edns_opts_front_out,
			qstate->region, (sldns_ede_code)code, text);
}

/*
 * REDIRECT: the configured CNAME for any type, or the configured
 * addresses for A and AAAA (other types NODATA); with nothing configured,
 * NXDOMAIN. Answers carry the negative TTL, so a redirect ends when the
 * decision does.
 */
static int
answer_redirect(struct module_qstate *qstate, struct tapir_module *m)
{
	const struct tapir_config *cfg = m->cfg;
	struct query_info *q = &qstate->qinfo;
	uint8_t buf[TAPIR_MAX_REDIRECT][2 + 16];
	const uint8_t *rd[TAPIR_MAX_REDIRECT];
	struct ub_packed_rrset_key *k = NULL;
	struct dns_msg *msg;
	size_t n = 0, alen = 0;

	if (m->cname_rdata_len) {
		k = make_rrset(qstate->region, q->qname, q->qname_len,
			LDNS_RR_TYPE_CNAME, m->cname_rdata, m->cname_rdata_len,
			(time_t)m->negative_ttl);
	} else if (q->qtype == LDNS_RR_TYPE_A && cfg->answer.n_redirect_a) {
		n = cfg->answer.n_redirect_a;
		alen = 4;
	} else if (q->qtype == LDNS_RR_TYPE_AAAA &&
		   cfg->answer.n_redirect_aaaa) {
		n = cfg->answer.n_redirect_aaaa;
		alen = 16;
	} else if (cfg->answer.n_redirect_a || cfg->answer.n_redirect_aaaa) {
		return answer_negative(qstate, m, LDNS_RCODE_NOERROR);
	} else {
		return answer_negative(qstate, m, LDNS_RCODE_NXDOMAIN);
	}
	for (size_t i = 0; i < n; i++) {
		buf[i][0] = 0;
		buf[i][1] = (uint8_t)alen;
		memcpy(buf[i] + 2,
			alen == 4 ? cfg->answer.redirect_a[i]
				  : cfg->answer.redirect_aaaa[i],
			alen);
		rd[i] = buf[i];
	}
	if (n)
		k = make_rrset_n(qstate->region, q->qname, q->qname_len,
			q->qtype, rd, alen + 2, n, (time_t)m->negative_ttl);
	if (!k || !(msg = regional_alloc_zero(qstate->region, sizeof(*msg))))
		return -1;
	msg->qinfo = *q;
	msg->rep = tapir_reply_info_base(qstate->region,
		(uint16_t)(BIT_QR | BIT_RA | LDNS_RCODE_NOERROR), 1,
		m->negative_ttl, m->negative_ttl, 0, 1, 0, 0, 1,
		sec_status_insecure);
	if (!msg->rep)
		return -1;
	msg->rep->rrsets[0] = k;
	qstate->return_msg = msg;
	qstate->return_rcode = LDNS_RCODE_NOERROR;
	return 0;
}

/* logging.blocked-queries: one line per blocked query, off by default;
 * the client's address only with logging.client-address. */
static void
log_block(struct module_qstate *qstate, struct tapir_module *m,
	enum tapir_action action, const uint8_t *why_name, size_t why_len)
{
	char name[LDNS_MAX_DOMAINLEN + 1], type[16], why[256], client[128] = "";
	const char *rule;

	if (!m->log_blocked)
		return;
	dname_str(qstate->qinfo.qname, name);
	sldns_wire2str_type_buf(qstate->qinfo.qtype, type, sizeof(type));
	tapir_engine_explain_short(
		m->engine, why_name, why_len, why, sizeof(why));
	rule = strncmp(why, "tapir-pop: ", 11) == 0 ? why + 11 : why;
	if (m->log_client && qstate->mesh_info && qstate->mesh_info->reply_list)
		addr_to_str(
			&qstate->mesh_info->reply_list->query_reply.remote_addr,
			qstate->mesh_info->reply_list->query_reply
				.remote_addrlen,
			client, sizeof(client));
	log_info("tapir-pop: blocked %s %s %s (%s)%s%s", name, type,
		tapir_action_str(action), rule, client[0] ? " client " : "",
		client);
}

/* Answer the query with the block action; 0 or -1 (out of memory). */
static int
answer_block(struct module_qstate *qstate, struct tapir_module *m,
	enum tapir_action action, const uint8_t *why_name, size_t why_len)
{
	int rc = 0;

	switch (action) {
	case TAPIR_ACTION_DROP:
		qstate->is_drop = 1;
		qstate->return_msg = NULL;
		break;
	case TAPIR_ACTION_NODATA:
		rc = answer_negative(qstate, m, LDNS_RCODE_NOERROR);
		break;
	case TAPIR_ACTION_REDIRECT:
		rc = answer_redirect(qstate, m);
		break;
	case TAPIR_ACTION_NXDOMAIN:
	default:
		rc = answer_negative(qstate, m, LDNS_RCODE_NXDOMAIN);
		break;
	}
	if (rc != 0) {
		/* Out of region memory: SERVFAIL rather than the answer
		 * the policy forbids. */
		qstate->return_msg = NULL;
		qstate->return_rcode = LDNS_RCODE_SERVFAIL;
		return -1;
	}
	if (action != TAPIR_ACTION_DROP)
		add_ede(qstate, m, why_name, why_len);
	log_block(qstate, m, action, why_name, why_len);
	/* A block answer must not land in the cache as if resolved. */
	qstate->no_cache_store = 1;
	count_stat(qstate, action);
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
			enum tapir_action a;
			if (!names[j] ||
				query_dname_compare((uint8_t *)names[j],
					qstate->qinfo.qname) == 0)
				continue;
			a = tapir_engine_decide_wire(m->engine, names[j],
				lens[j], qstate->qinfo.qtype, NULL);
			if (a <= TAPIR_ACTION_PASSTHRU)
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
			tapir_engine_count_answer(m->engine, a);
			(void)answer_block(qstate, m, a, names[j], lens[j]);
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
		qstate->qinfo.qname_len, qstate->qinfo.qtype);
	if (action <= TAPIR_ACTION_PASSTHRU) {
		if (action == TAPIR_ACTION_PASSTHRU)
			count_stat(qstate, action);
		qstate->ext_state[id] = module_wait_module;
		return;
	}
	/* A prefetch has no client: its block answer is thrown away and the
	 * stale allowed answer would be served on (for ever, with
	 * serve-expired). Dropping the name from the cache ends that. */
	if (qstate->prefetch_leeway)
		tapir_engine_purge_wire(m->engine, qstate->qinfo.qname,
			qstate->qinfo.qname_len);
	(void)answer_block(qstate, m, action, qstate->qinfo.qname,
		qstate->qinfo.qname_len);
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
