/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local overrides (tapir-pop-control override): two sources the engine
 * adds after the configured ones, kept in overrides.json in the state
 * directory. Changed on the writer thread only (as jobs).
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

static int
override_source(const struct tapir_engine *e, bool allow)
{
	return allow ? e->src_override_allow : e->src_override_deny;
}

static struct override *
override_find(struct tapir_engine *e, const char *name)
{
	for (size_t i = 0; i < e->n_overrides; i++)
		if (!strcmp(e->overrides[i].name, name))
			return &e->overrides[i];
	return NULL;
}

static int
override_apply(struct tapir_engine *e, const struct override *o)
{
	struct tapir_entry ent = {
		.expiry = o->expires ? tapir_db_time32(o->expires)
				     : TAPIR_EXPIRY_NEVER,
		.added = tapir_db_time32(o->added),
		.source = (uint16_t)override_source(e, o->allow),
		.list = o->allow ? TAPIR_LIST_ALLOW : TAPIR_LIST_DENY,
	};
	int src = override_source(e, !o->allow), rc;

	/* One override per name: the other kind goes. */
	if (src >= 0 && tapir_db_remove(e->db, o->name, strlen(o->name),
				(uint16_t)src, 0) != 0) {
		/* none there: fine */
	}
	if ((rc = tapir_db_set(e->db, o->name, strlen(o->name), &ent)) != 0)
		return rc;
	if (!o->allow)
		tapir__eng_purge_if_blocked(e, o->name, false, e->now());
	return 0;
}

/* overrides.json in the state directory: written whole, atomically, on
 * every change; read at start. Without a state directory overrides live
 * until the module is unloaded. */
static int
overrides_fill(void *arg, int fd, struct tapir_error *err)
{
	(void)err;
	if (json_dumpfd(arg, fd, JSON_INDENT(1) | JSON_SORT_KEYS) != 0)
		return errno ? errno : EIO;
	return 0;
}

static void
overrides_save(struct tapir_engine *e)
{
	struct tapir_error err = { 0 };
	json_t *arr, *root;
	char path[4096];

	if (!wcfg(e)->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/overrides.json", wcfg(e)->state_dir);
	if (!(arr = json_array()))
		return;
	for (size_t i = 0; i < e->n_overrides; i++) {
		const struct override *o = &e->overrides[i];
		json_array_append_new(arr,
			json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", o->name,
				"action", o->allow ? "allow" : "deny", "added",
				(json_int_t)o->added, "expires",
				(json_int_t)o->expires, "comment", o->comment));
	}
	root = json_pack("{s:i, s:o}", "version", 1, "overrides", arr);
	if (!root)
		return;
	if (tapir_fileio_write_atomic(path, overrides_fill, root, &err) != 0) {
		tapir_log(TAPIR_LOG_ERR, "overrides: %s", err.text);
		tapir__eng_problem_set(e, PROBLEM_STATE_DIR,
			"state-dir: %s (overrides are not kept)", err.text);
	}
	json_decref(root);
}

static int
override_add(struct tapir_engine *e, const char *name, bool allow,
	int64_t expires, const char *comment)
{
	struct override *o = override_find(e, name);

	if (!o) {
		if (e->n_overrides == e->cap_overrides) {
			size_t cap =
				e->cap_overrides ? e->cap_overrides * 2 : 16;
			struct override *v =
				realloc(e->overrides, cap * sizeof(*v));
			if (!v)
				return TAPIR_ENOMEM;
			e->overrides = v;
			e->cap_overrides = cap;
		}
		o = &e->overrides[e->n_overrides++];
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", name);
	}
	o->allow = allow;
	o->added = tapir_now();
	o->expires = expires;
	snprintf(o->comment, sizeof(o->comment), "%s", comment ? comment : "");
	return override_apply(e, o);
}

void
tapir__eng_overrides_load(struct tapir_engine *e)
{
	char path[4096];
	json_error_t jerr;
	json_t *root, *arr, *it;
	size_t i, n = 0;

	if (!wcfg(e)->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/overrides.json", wcfg(e)->state_dir);
	if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
		if (access(path, F_OK) == 0)
			tapir_log(TAPIR_LOG_ERR,
				"overrides: ignoring %s:%d: %s", path,
				jerr.line, jerr.text);
		return;
	}
	arr = json_object_get(root, "overrides");
	json_array_foreach(arr, i, it)
	{
		const char *name =
			json_string_value(json_object_get(it, "name"));
		const char *act =
			json_string_value(json_object_get(it, "action"));
		const char *cm =
			json_string_value(json_object_get(it, "comment"));
		json_int_t exp =
			json_integer_value(json_object_get(it, "expires"));
		char canon[TAPIR_NAME_BUFSIZE];
		if (!name || !act ||
			tapir_name_canon(name, strlen(name), 0, canon, NULL,
				NULL, NULL) != 0 ||
			(strcmp(act, "allow") && strcmp(act, "deny")))
			continue;
		/* The file is input: a time no expiry can hold is refused,
		 * not cut to 32 bits (where 2^32 + 1 would be 1970). */
		if (exp < 0 || exp >= (json_int_t)TAPIR_EXPIRY_NEVER) {
			count(e, TAPIR_C_ENTRY_INVALID, 1);
			tapir_log(TAPIR_LOG_ERR,
				"overrides: %s in %s: expires %lld is out of "
				"range, ignored",
				canon, path, (long long)exp);
			continue;
		}
		if (exp && exp <= e->now())
			continue;
		if (override_add(e, canon, !strcmp(act, "allow"), exp, cm) == 0)
			n++;
	}
	json_decref(root);
	tapir_log(TAPIR_LOG_INFO, "overrides: %zu from %s", n, path);
}

struct override_job {
	const char *name;
	bool allow, remove;
	int64_t expires;
	const char *comment;
	int rc;
};

static void
override_job(struct tapir_engine *e, void *arg)
{
	struct override_job *j = arg;
	struct override *o;

	if (j->remove) {
		if (!(o = override_find(e, j->name))) {
			j->rc = TAPIR_ENOENT;
			return;
		}
		struct purges unallowed = { 0 };
		(void)tapir__eng_remove_entry(e, override_source(e, o->allow),
			o->name, 0, &unallowed);
		*o = e->overrides[--e->n_overrides];
		j->rc = 0;
	} else {
		j->rc = override_add(
			e, j->name, j->allow, j->expires, j->comment);
	}
	if (j->rc == 0)
		overrides_save(e);
}

/* "override allow|deny NAME TTL [COMMENT...]", "override remove NAME",
 * "override list". TTL 0: until removed. */
void
tapir__eng_cmd_override(struct tapir_engine *e, const char *args, bool json,
	struct tapir_buf *out)
{
	char verb[16] = "", raw[TAPIR_NAME_BUFSIZE + 1] = "";
	char name[TAPIR_NAME_BUFSIZE];
	struct override_job j = { 0 };
	struct tapir_error err = { 0 };
	char ttl_text[32] = "0", *end;
	long long ttl = 0;
	int n = 0;

	/* The TTL as a word, then strtoll: a number beyond long long is
	 * undefined behaviour for sscanf's %lld. */
	if (sscanf(args, "%15s %256s %31s %n", verb, raw, ttl_text, &n) < 1) {
		tapir_buf_printf(
			out, "error: usage: override allow|deny|remove|list\n");
		return;
	}
	if (!strcmp(verb, "list")) {
		json_t *arr = json ? json_array() : NULL;
		for (size_t i = 0; i < e->n_overrides; i++) {
			const struct override *o = &e->overrides[i];
			if (arr)
				json_array_append_new(arr,
					json_pack("{s:s,s:s,s:I,s:I,s:s}",
						"name", o->name, "action",
						o->allow ? "allow" : "deny",
						"added", (json_int_t)o->added,
						"expires",
						(json_int_t)o->expires,
						"comment", o->comment));
			else
				tapir_buf_printf(out,
					"%s %s added=%lld expires=%lld%s%s\n",
					o->name, o->allow ? "allow" : "deny",
					(long long)o->added,
					(long long)o->expires,
					o->comment[0] ? " comment=" : "",
					o->comment);
		}
		if (arr) {
			char *txt = json_dumps(arr, JSON_INDENT(2));
			if (txt)
				tapir_buf_printf(out, "%s\n", txt);
			free(txt);
			json_decref(arr);
		}
		return;
	}
	if (tapir_name_canon(raw, strlen(raw), 0, name, NULL, NULL, &err)) {
		tapir_buf_printf(out, "error: %s\n", err.text);
		return;
	}
	j.name = name;
	if (!strcmp(verb, "remove")) {
		j.remove = true;
	} else if (!strcmp(verb, "allow") || !strcmp(verb, "deny")) {
		if (e->src_override_allow < 0) {
			tapir_buf_printf(
				out, "error: no room for override sources\n");
			return;
		}
		errno = 0;
		ttl = strtoll(ttl_text, &end, 10);
		if (end == ttl_text || *end != '\0') {
			tapir_buf_printf(out,
				"error: ttl '%.31s' is not a number of "
				"seconds\n",
				ttl_text);
			return;
		}
		if (errno == ERANGE || ttl < 0 || ttl > 10LL * 365 * 86400) {
			tapir_buf_printf(out, "error: ttl out of range\n");
			return;
		}
		j.allow = !strcmp(verb, "allow");
		j.expires = ttl ? tapir_time_add(e->now(), ttl) : 0;
		j.comment = n ? args + n : "";
	} else {
		tapir_buf_printf(
			out, "error: unknown override verb: %.16s\n", verb);
		return;
	}
	if (tapir__eng_run_on_writer_within(
		    e, override_job, &j, TAPIR_CONTROL_RUN_MS) != 0)
		tapir_buf_printf(out,
			"error: override %s %s: the writer did not take it up within %d s (busy loading a file or a zone?); nothing changed\n",
			verb, name, TAPIR_CONTROL_RUN_MS / 1000);
	else if (j.rc != 0)
		tapir_buf_printf(out, "error: override %s %s: %s\n", verb, name,
			tapir_strerror(j.rc));
	else
		tapir_buf_printf(out, "ok\n");
}
