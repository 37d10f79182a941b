/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control commands (tapir-pop-control), on the control thread: status,
 * stats, lookup, flush, reload, and the dispatch of every command. A
 * command that changes the database runs on the writer as a job.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

static uint64_t
take(_Atomic uint64_t *c, bool reset)
{
	return reset ? atomic_exchange(c, 0) : atomic_load(c);
}

static void
cmd_stats(struct tapir_engine *e, const struct tapir_runtime *rt, bool reset,
	struct tapir_buf *out)
{
	uint64_t answers[SLOT_COUNTERS] = { 0 };

	for (int c = 0; c < TAPIR_C_COUNT; c++)
		tapir_buf_printf(out, "%s=%llu\n", tapir_counter_str(c),
			(unsigned long long)take(&e->counters[c], reset));
	for (int s = 0; s < ANSWER_SLOTS; s++)
		for (int a = 0; a < SLOT_COUNTERS; a++)
			answers[a] += take(&e->answers[s].n[a], reset);
	for (int a = 0; a < TAPIR_ACTION_COUNT; a++) {
		char lower[16];
		const char *s = tapir_action_str(a);
		size_t i;
		for (i = 0; s[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32
								     : s[i]);
		lower[i] = '\0';
		tapir_buf_printf(out, "answer.%s=%llu\n", lower,
			(unsigned long long)answers[a]);
	}
	tapir_buf_printf(out, "answer.would_block=%llu\n",
		(unsigned long long)answers[WOULD_BLOCK]);
	for (int r = TAPIR_RULE_ALLOWLIST + 1;
		r < TAPIR_RULE_NAMED + TAPIR_MAX_RULES; r++) {
		if (r >= TAPIR_RULE_COUNT && r < TAPIR_RULE_NAMED)
			continue;
		if (r >= TAPIR_RULE_NAMED && (size_t)(r - TAPIR_RULE_NAMED) >=
						     rt->cfg->policy.n_rules)
			break;
		tapir_buf_printf(out, "rule.%s=%llu\n",
			tapir_policy_rule_name(rt->policy, r),
			(unsigned long long)answers[RULE_BASE + r]);
	}
	for (size_t i = 0; i < rt->cfg->n_sources; i++) {
		struct source_counters *sc = &e->per_source[i];
		const char *n = rt->cfg->sources[i].name;
		tapir_buf_printf(out,
			"source.%s.accepted=%llu\nsource.%s.rejected=%llu\n"
			"source.%s.added=%llu\nsource.%s.removed=%llu\n",
			n, (unsigned long long)take(&sc->accepted, reset), n,
			(unsigned long long)take(&sc->rejected, reset), n,
			(unsigned long long)take(&sc->added, reset), n,
			(unsigned long long)take(&sc->removed, reset));
	}
	if (e->purger) {
		struct tapir_purger_stats ps;
		tapir_purger_stats(e->purger, &ps);
		tapir_buf_printf(out,
			"cache.purge.requested=%llu\ncache.purge.done=%llu\n"
			"cache.purge.failed=%llu\ncache.purge.dropped=%llu\n"
			"cache.purge.coalesced=%llu\ncache.purge.by-name=%llu\n"
			"cache.purge.overflows=%llu\n",
			(unsigned long long)ps.requested,
			(unsigned long long)ps.done,
			(unsigned long long)ps.failed,
			(unsigned long long)ps.dropped,
			(unsigned long long)ps.coalesced,
			(unsigned long long)ps.by_name,
			(unsigned long long)ps.overflows);
	}
	tapir_buf_printf(out, "db.names=%zu\ndb.entries=%zu\ndb.bytes=%zu\n",
		atomic_load(&e->db_names), atomic_load(&e->db_entries),
		atomic_load(&e->db_bytes));
}

/* Feeds cut off for longer than FEED_DOWN_PROBLEM_S are problems too:
 * the decisions age while nothing renews them. A broker or a primary
 * that is merely restarting is not. */
static void
feed_problems(struct tapir_engine *e, const struct tapir_config *cfg,
	struct tapir_buf *out)
{
	int64_t now = e->now(), since;
	bool mqtt = false;
	char state[sizeof(e->mqtt_state)];

	for (size_t i = 0; i < cfg->n_sources; i++)
		mqtt |= cfg->sources[i].type == TAPIR_SOURCE_MQTT;
	if (mqtt && e->started_at) {
		pthread_mutex_lock(&e->qlock);
		since = e->mqtt_connected ? 0 : e->mqtt_down_since;
		snprintf(state, sizeof(state), "%s", e->mqtt_state);
		pthread_mutex_unlock(&e->qlock);
		if (since && now - since > FEED_DOWN_PROBLEM_S)
			tapir_buf_printf(out,
				"problem: mqtt: no connection to %s:%d for "
				"%lld s (%s)\n",
				cfg->mqtt.host, cfg->mqtt.port,
				(long long)(now - since), state);
	}
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < cfg->n_sources && e->started_at; i++) {
		const struct xfr_state *xs = &e->xfrs[i];
		if (cfg->sources[i].type != TAPIR_SOURCE_XFR || !xs->error[0])
			continue;
		since = xs->last_ok ? xs->last_ok : e->started_at;
		if (now - since > FEED_DOWN_PROBLEM_S)
			tapir_buf_printf(out,
				"problem: source %s: no good check of zone "
				"%s for %lld s (%s)\n",
				cfg->sources[i].name, cfg->sources[i].zone,
				(long long)(now - since), xs->error);
	}
	pthread_mutex_unlock(&e->slock);
}

static void
cmd_status(struct tapir_engine *e, const struct tapir_runtime *rt,
	struct tapir_buf *out)
{
	const struct tapir_config *cfg = rt ? rt->cfg : NULL;

	tapir_buf_printf(out, "version: %s\n", PACKAGE_VERSION);
	tapir_buf_printf(
		out, "uptime: %lld\n", (long long)(tapir_now() - e->started));
	if (e->host_info[0])
		tapir_buf_printf(out, "host: %s\n", e->host_info);
	if (!cfg) {
		tapir_buf_printf(
			out, "state: inactive (%s)\n", e->config_error);
		if (e->config_path)
			tapir_buf_printf(out, "config: %s\n", e->config_path);
		tapir_buf_printf(out, "problem: configuration not loaded: %s\n",
			e->config_error);
		return;
	}
	tapir_buf_printf(out, "state: active\nconfig: %s\n",
		cfg->path ? cfg->path : "-");
	/* What must be fixed here first, one "problem:" line each, so that
	 * a script greps them and tapir-pop-control exits 1. */
	pthread_mutex_lock(&e->slock);
	for (int p = 0; p < PROBLEM_COUNT; p++)
		if (e->problems[p][0])
			tapir_buf_printf(out, "problem: %s\n", e->problems[p]);
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].type == TAPIR_SOURCE_FILE &&
			e->files[i].error[0])
			tapir_buf_printf(out, "problem: source %s: %s\n",
				cfg->sources[i].name, e->files[i].error);
	pthread_mutex_unlock(&e->slock);
	feed_problems(e, cfg, out);
	pthread_mutex_lock(&e->qlock);
	tapir_buf_printf(out, "mqtt: %s (%s)\n",
		e->mqtt_connected ? "connected" : "disconnected",
		e->mqtt_state);
	pthread_mutex_unlock(&e->qlock);
	tapir_buf_printf(out, "keys: %zu\n", atomic_load(&e->n_keys));
	if (e->purger)
		tapir_buf_printf(out, "cache-purge: via %s\n", e->purge_what);
	else
		tapir_buf_printf(out, "cache-purge: unavailable%s%s%s\n",
			e->purge_what[0] ? " (" : "", e->purge_what,
			e->purge_what[0] ? ")" : "");
	tapir_buf_printf(out, "db.names: %zu\ndb.entries: %zu\ndb.bytes: %zu\n",
		atomic_load(&e->db_names), atomic_load(&e->db_entries),
		atomic_load(&e->db_bytes));
	pthread_mutex_lock(&e->slock);
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *sc = &cfg->sources[i];
		const struct file_state *fs = &e->files[i];
		if ((int)sc->type == SOURCE_OVERRIDE) {
			tapir_buf_printf(out,
				"source: %s list=%s type=override\n", sc->name,
				tapir_list_str(sc->list));
			continue;
		}
		if (sc->type == TAPIR_SOURCE_XFR) {
			const struct xfr_state *xs = &e->xfrs[i];
			tapir_buf_printf(out,
				"source: %s list=%s type=xfr zone=%s primary=%s "
				"serial=%u names=%zu transfers=%zu failures=%zu "
				"last-ok=%lld%s%s\n",
				sc->name, tapir_list_str(sc->list), sc->zone,
				sc->primary, xs->serial, xs->names,
				xs->transfers, xs->failures,
				(long long)xs->last_ok,
				xs->error[0] ? " error=" : "", xs->error);
			continue;
		}
		if (sc->type != TAPIR_SOURCE_FILE) {
			const struct source_counters *pc = &e->per_source[i];
			tapir_buf_printf(out,
				"source: %s list=%s type=mqtt accepted=%llu "
				"rejected=%llu last-message=%lld\n",
				sc->name, tapir_list_str(sc->list),
				(unsigned long long)atomic_load(&pc->accepted),
				(unsigned long long)atomic_load(&pc->rejected),
				(long long)atomic_load(&pc->last_msg));
			continue;
		}
		tapir_buf_printf(out,
			"source: %s list=%s type=file path=%s names=%zu "
			"bad-lines=%zu loaded=%lld%s%s\n",
			sc->name, tapir_list_str(sc->list), sc->path, fs->names,
			fs->bad_lines, (long long)fs->loaded_at,
			fs->error[0] ? " error=" : "", fs->error);
	}
	if (e->state_path)
		tapir_buf_printf(out, "state-file: %s saved=%lld\n",
			e->state_path, (long long)e->state_saved_at);
	pthread_mutex_unlock(&e->slock);
}

/* One "answer:" line: the plan of a query of qtype, as a client gets it
 * (label: "" or " for AAAA" and the like). */
static void
lookup_answer(const struct tapir_runtime *rt, const struct tapir_reason *why,
	uint16_t qtype, const char *label, struct tapir_buf *out)
{
	struct tapir_verdict v = { .action = why->action, .rule = why->rule };
	struct tapir_answer a;
	char text[1024];

	tapir_answer_plan(rt, &v, qtype, false, &a);
	tapir_answer_describe(&a, text, sizeof(text));
	tapir_buf_printf(out, "answer%s: %s\n", label, text);
}

/* "lookup NAME [A|AAAA|CNAME|TXT|TYPEnn]": the decision, why, and the answer a
 * query of that type (A by default) gets. Where the answer depends on the
 * type (REDIRECT to addresses), the other types follow without a type. */
static void
cmd_lookup(struct tapir_engine *e, const struct tapir_runtime *rt,
	const char *arg, struct tapir_buf *out)
{
	struct tapir_lookup_args la;
	struct tapir_error err = { 0 };
	struct tapir_reason why;
	const char *name = la.name;
	size_t len;
	uint16_t qtype;
	bool sp;
	char text[4096];

	if (tapir_control_parse_lookup(arg, &la, &err)) {
		tapir_buf_printf(out, "error: %s\n", err.text);
		return;
	}
	len = la.len;
	qtype = la.qtype;
	sp = la.typed;
	tapir_decide(rt->policy, e->db, name, len, e->now(), &why);
	tapir_reason_format(
		rt->policy, name, &why, e->now(), text, sizeof(text));
	tapir_buf_append(out, text, strlen(text));
	/* What a client gets: the plan the module answers from. */
	lookup_answer(rt, &why, qtype, "", out);
	if (!sp && why.action == TAPIR_ACTION_REDIRECT &&
		!rt->answer.cname_len &&
		(rt->answer.n_a || rt->answer.n_aaaa)) {
		lookup_answer(rt, &why, TAPIR_DNS_TYPE_AAAA, " for AAAA", out);
		lookup_answer(
			rt, &why, TAPIR_DNS_TYPE_TXT, " for other types", out);
	}
}

/* JSON for the text commands: their lines are "key: value" or
 * "key=value"; a key given more than once (source:, entry:) becomes an
 * array. Numbers stay numbers. */
static void
cmd_json(struct tapir_engine *e, const char *line, struct tapir_buf *out)
{
	struct tapir_buf text = { 0 };
	json_t *root = json_object();
	char *txt, *save = NULL;

	tapir_engine_command(e, line, &text);
	if (!root || text.failed || !text.data) {
		tapir_buf_printf(out, "error: out of memory\n");
		goto out_free;
	}
	if (!strncmp(text.data, "error:", 6)) {
		tapir_buf_append(out, text.data, text.len);
		goto out_free;
	}
	for (char *l = strtok_r(text.data, "\n", &save); l;
		l = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(l, ": "), *eq = strchr(l, '='), *val, *end;
		json_t *v, *old;
		if (sep && (!eq || sep < eq)) {
			*sep = '\0';
			val = sep + 2;
		} else if (eq) {
			*eq = '\0';
			val = eq + 1;
		} else {
			continue;
		}
		errno = 0;
		long long n = strtoll(val, &end, 10);
		v = (*val && !*end && !errno) ? json_integer(n)
					      : json_string(val);
		if (!v)
			continue;
		if ((old = json_object_get(root, l))) {
			if (!json_is_array(old)) {
				json_t *arr = json_array();
				json_array_append(arr, old);
				json_object_set_new(root, l, arr);
				old = arr;
			}
			json_array_append_new(old, v);
		} else {
			json_object_set_new(root, l, v);
		}
	}
	/* status: "problem:" lines are the array "problems", empty when
	 * there are none, so that a script tests its length. */
	if (!strcmp(line, "status")) {
		json_t *p = json_object_get(root, "problem"), *arr = p;
		if (!p) {
			arr = json_array();
		} else if (!json_is_array(p)) {
			arr = json_array();
			json_array_append(arr, p);
		} else {
			json_incref(arr);
		}
		json_object_del(root, "problem");
		json_object_set_new(root, "problems", arr);
	}
	if ((txt = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		tapir_buf_printf(out, "%s\n", txt);
		free(txt);
	}
out_free:
	json_decref(root);
	tapir_buf_clear(&text);
}

/*
 * "flush NAME" / "flush --all": ask Unbound to drop cached answers, and
 * say "ok" only once it has. The request goes through a purger of its
 * own, one name long: its counters are this request's alone (the engine's
 * purger also carries the writer's purges, whose outcome is not the
 * operator's), and its retries ride out a reload of Unbound. The thread
 * it costs is the price of an answer that can be trusted.
 */
static void
cmd_flush(struct tapir_engine *e, const char *arg, struct tapir_buf *out)
{
	char name[TAPIR_NAME_BUFSIZE];
	struct tapir_error err = { 0 };
	struct tapir_purger_stats st = { 0 };
	struct tapir_purger *p;
	bool all = !strcmp(arg, "--all");

	if (!e->purger) {
		tapir_buf_printf(out,
			"error: no cache purging: Unbound's remote-control is not usable (see status)\n");
		return;
	}
	/* flush_zone of the root ("") is every cached answer. */
	if (all)
		name[0] = '\0';
	else if (tapir_name_canon(
			 arg, strlen(arg), 0, name, NULL, NULL, &err)) {
		tapir_buf_printf(out, "error: %s\n", err.text);
		return;
	}
	if (!(p = tapir_purger_create(
		      e->purge_send, e->purge_arg, e->purge_what, 1))) {
		tapir_buf_printf(out, "error: cannot start a purge: %s\n",
			tapir_strerror(TAPIR_ENOMEM));
		return;
	}
	if (tapir_purger_push(p, name) == 0)
		tapir_purger_drain(p, TAPIR_CONTROL_RUN_MS);
	tapir_purger_stats(p, &st);
	tapir_purger_destroy(p);
	if (st.done == 1)
		tapir_buf_printf(out, "ok\n");
	else if (st.failed)
		tapir_buf_printf(out,
			"error: %s did not flush %s (see Unbound's log): cached answers stay until they expire\n",
			e->purge_what, all ? "its cache" : name);
	else
		tapir_buf_printf(out,
			"error: %s did not flush %s within %d s\n",
			e->purge_what, all ? "its cache" : name,
			TAPIR_CONTROL_RUN_MS / 1000);
}

struct reload_job {
	struct tapir_runtime *rt;
	size_t changed; /* names whose decision the new policy changed */
	char msg[256];
	int rc;
};

static bool
same_sources(
	const struct tapir_config *a, const struct tapir_config *b, size_t n)
{
	if (b->n_sources != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct tapir_source_config *x = &a->sources[i],
						 *y = &b->sources[i];
		if (strcmp(x->name, y->name) || x->type != y->type ||
			x->list != y->list)
			return false;
	}
	return true;
}

/* Writer: put the new snapshot in force, purge what its policy decides
 * otherwise, then load what it names: keys, the state directory, file
 * sources. */
static void
reload_job(struct tapir_engine *e, void *arg)
{
	struct reload_job *j = arg;
	struct tapir_runtime *old = wrt(e);

	tapir_runtime_ref(old);
	tapir__eng_rt_swap(e, j->rt);
	j->changed = tapir__eng_purge_policy_change(e, old, j->rt);
	tapir_runtime_unref(old);
	j->rt = NULL;
	tapir__eng_load_keys(e);
	/* An operator who fixed the directory sees it in status now. */
	tapir__eng_state_dir_check(e);
	tapir__eng_files_check(e, true);
	j->rc = 0;
}

/* Re-read the configuration file, the key file and every file source,
 * without restarting Unbound. A broken file is refused with its error
 * and the running configuration stays. The policy, the answers and
 * logging change at once; changes to the set of sources (and to mqtt,
 * control, state-dir) need unbound-control reload. */
static void
cmd_reload(struct tapir_engine *e, const struct tapir_runtime *rt,
	struct tapir_buf *out)
{
	struct reload_job j = { 0 };
	struct tapir_error err = { 0 };
	struct tapir_config *cfg;
	int idx[2];

	if (!e->config_path) {
		tapir_buf_printf(
			out, "error: no configuration file to re-read\n");
		return;
	}
	if (!(cfg = tapir_config_load(e->config_path, &err))) {
		tapir_buf_printf(out,
			"error: %s (the running configuration stays)\n",
			err.text);
		return;
	}
	if (!same_sources(rt->cfg, cfg, e->n_config_sources)) {
		tapir_config_destroy(cfg);
		tapir_buf_printf(out,
			"error: the sources changed: that needs unbound-control reload (the running configuration stays)\n");
		return;
	}
	/* Overrides are sources the engine adds after the configured ones,
	 * at the same indexes as before (the sources did not change). */
	if (tapir__eng_add_override_sources(cfg, idx) != 0 ||
		idx[0] != e->src_override_allow ||
		idx[1] != e->src_override_deny) {
		tapir_config_destroy(cfg);
		tapir_buf_printf(out, "error: no room for override sources\n");
		return;
	}
	if (!(j.rt = tapir_runtime_create(cfg, rt->generation + 1, &err))) {
		tapir_buf_printf(out,
			"error: %s (the running configuration stays)\n",
			err.text);
		return;
	}
	if (tapir__eng_run_on_writer_within(
		    e, reload_job, &j, TAPIR_CONTROL_RUN_MS) != 0) {
		tapir_runtime_unref(j.rt);
		tapir_buf_printf(out,
			"error: the writer did not take the reload up within %d s (busy loading a file or a zone?); the running configuration stays\n",
			TAPIR_CONTROL_RUN_MS / 1000);
		return;
	}
	if (j.rc != 0) {
		tapir_runtime_unref(j.rt);
		tapir_buf_printf(out, "error: %s\n", j.msg);
		return;
	}
	tapir_log(TAPIR_LOG_INFO,
		"reloaded %s (configuration %llu): %zu decisions changed",
		e->config_path, (unsigned long long)rt->generation + 1,
		j.changed);
	tapir_buf_printf(out, "ok\n");
}

void
tapir_engine_control(struct tapir_engine *e, const char *line,
	const struct tapir_control_peer *peer, struct tapir_buf *out)
{
	struct tapir_control_req req;
	struct tapir_runtime *rt;
	const char *group;
	size_t before = out->len;
	char why[320];
	json_t *obj;
	char *txt;

	/* Who may run it is read from the same parse that runs it. */
	tapir_control_parse(line, &req);
	if (peer->privileged || req.reads_only) {
		tapir_engine_command(e, line, out);
		return;
	}
	count(e, TAPIR_C_CONTROL_REFUSED, 1);
	rt = tapir__eng_rt_get(e);
	group = rt && rt->cfg->control.group ? rt->cfg->control.group : NULL;
	/* The answer names who may, so that the operator knows what to
	 * fix. */
	snprintf(why, sizeof(why),
		"not permitted: '%.32s' changes the module's state; only root, uid %u (Unbound's user)%s%s%s may (you are uid %d)",
		req.command, (unsigned)geteuid(),
		group ? " and members of group " : "", group ? group : "",
		group ? " (control.group)" : "",
		peer->uid == (uid_t)-1 ? -1 : (int)peer->uid);
	/* In JSON like every other error (tapir_engine_command()). */
	if (req.json && (obj = json_pack("{s:s}", "error", why))) {
		if ((txt = json_dumps(obj, JSON_INDENT(2)))) {
			tapir_buf_printf(out, "error: %s\n", txt);
			free(txt);
		}
		json_decref(obj);
	}
	if (out->len == before)
		tapir_buf_printf(out, "error: %s\n", why);
	tapir_runtime_unref(rt);
}

void
tapir__eng_on_control(void *arg, const char *line,
	const struct tapir_control_peer *peer, struct tapir_buf *out)
{
	tapir_engine_control(arg, line, peer, out);
}

static void dispatch(struct tapir_engine *e,
	const struct tapir_control_req *req, struct tapir_buf *out);

void
tapir_engine_command(
	struct tapir_engine *e, const char *line, struct tapir_buf *out)
{
	struct tapir_control_req req;
	struct tapir_buf tmp = { 0 };
	json_t *obj;
	char *txt;

	tapir_control_parse(line, &req);
	if (!req.json || req.streams) {
		dispatch(e, &req, out);
		return;
	}
	/* --json: commands that answer in JSON do so; the others' answer
	 * ("ok", "error: ...", a zone file) is wrapped in an object. */
	dispatch(e, &req, &tmp);
	if (tmp.data && (tmp.data[0] == '{' || tmp.data[0] == '[')) {
		tapir_buf_append(out, tmp.data, tmp.len);
	} else {
		const char *t = tmp.data ? tmp.data : "";
		size_t n = strlen(t);
		while (n && t[n - 1] == '\n')
			n--;
		if (!strncmp(t, "error: ", 7))
			obj = json_pack("{s:s%}", "error", t + 7, n - 7);
		else if (n == 2 && !strncmp(t, "ok", 2))
			obj = json_pack("{s:s}", "result", "ok");
		else
			obj = json_pack("{s:s%}", "text", t, n);
		if (obj && (txt = json_dumps(obj, JSON_INDENT(2)))) {
			/* An error keeps its "error:" prefix line so that the
			 * client's exit code stays 1. */
			if (!strncmp(t, "error: ", 7))
				tapir_buf_printf(out, "error: %s\n", txt);
			else
				tapir_buf_printf(out, "%s\n", txt);
			free(txt);
		}
		json_decref(obj);
	}
	tapir_buf_clear(&tmp);
}

/* Each command runs on one snapshot, referenced for its whole run (a
 * reload may replace the one in force meanwhile). */
static void
dispatch(struct tapir_engine *e, const struct tapir_control_req *req,
	struct tapir_buf *out)
{
	struct tapir_runtime *rt = tapir__eng_rt_get(e);
	const char *line = req->command;
	bool json = req->json;

	/* Inactive: status says why, metrics says so (tapir_pop_active). */
	if (!rt && req->cmd != TAPIR_CMD_STATUS &&
		req->cmd != TAPIR_CMD_METRICS) {
		json_t *obj = NULL;
		char *txt = NULL;
		/* A streaming command's JSON is not wrapped for it. */
		if (json && req->streams &&
			(obj = json_pack("{s:s++}", "error",
				 "inactive: ", e->config_error)) &&
			(txt = json_dumps(obj, JSON_INDENT(2))))
			tapir_buf_printf(out, "error: %s\n", txt);
		else
			tapir_buf_printf(
				out, "error: inactive: %s\n", e->config_error);
		free(txt);
		json_decref(obj);
		return;
	}
	switch (req->cmd) {
	case TAPIR_CMD_STATUS:
	case TAPIR_CMD_STATS:
	case TAPIR_CMD_STATS_NORESET:
	case TAPIR_CMD_LOOKUP:
		if (json) {
			cmd_json(e, line, out);
			break;
		}
		if (req->cmd == TAPIR_CMD_STATUS)
			cmd_status(e, rt, out);
		else if (req->cmd == TAPIR_CMD_LOOKUP)
			cmd_lookup(e, rt, req->args, out);
		else
			cmd_stats(e, rt, req->cmd == TAPIR_CMD_STATS, out);
		break;
	case TAPIR_CMD_METRICS:
		tapir__eng_metrics(e, rt, out);
		break;
	case TAPIR_CMD_LIST:
		tapir__eng_cmd_list(e, rt, req->args, json, out);
		break;
	case TAPIR_CMD_DUMP_RPZ:
		tapir__eng_cmd_dump_rpz(e, rt, req->args, json, out);
		break;
	case TAPIR_CMD_OVERRIDE:
		tapir__eng_cmd_override(e, req->args, json, out);
		break;
	case TAPIR_CMD_FLUSH:
		cmd_flush(e, req->args, out);
		break;
	case TAPIR_CMD_DIGEST:
		tapir__eng_cmd_digest(e, rt, json, out);
		break;
	case TAPIR_CMD_RELOAD:
		cmd_reload(e, rt, out);
		break;
	case TAPIR_CMD_UNKNOWN:
		tapir_buf_printf(out, "error: unknown command: %.64s\n", line);
		break;
	}
	tapir_runtime_unref(rt);
}
