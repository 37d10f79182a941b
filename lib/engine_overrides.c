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
	/* A deny override may block what Unbound has cached as allowed; an
	 * allow override unblocks, and with answer.cache-blocked the block
	 * answer in Unbound's cache must go too. */
	if (!o->allow || wcfg(e)->answer.cache_blocked)
		tapir__eng_purge_if_blocked(e, o->name, false, e->now());
	return 0;
}

/* One override as overrides.json and `override list --json` have it. */
static json_t *
override_json(const struct override *o)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", o->name, "action",
		o->allow ? "allow" : "deny", "added", (json_int_t)o->added,
		"expires", (json_int_t)o->expires, "comment", o->comment);
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
		goto out_nomem;
	for (size_t i = 0; i < e->n_overrides; i++) {
		/* Names are ASCII and comments valid UTF-8 (override_add()),
		 * so only memory can fail here: then nothing is written,
		 * rather than a file that lacks an override. */
		if (json_array_append_new(
			    arr, override_json(&e->overrides[i])) != 0) {
			json_decref(arr);
			goto out_nomem;
		}
	}
	if (!(root = json_pack("{s:i, s:o}", "version", 1, "overrides", arr)))
		goto out_nomem;
	if (tapir_fileio_write_atomic(path, overrides_fill, root, &err) != 0) {
		tapir_log(TAPIR_LOG_ERR, "overrides: %s", err.text);
		tapir__eng_problem_set(e, PROBLEM_STATE_DIR,
			"state-dir: %s (overrides are not kept)", err.text);
	}
	json_decref(root);
	return;

out_nomem:
	tapir_log(TAPIR_LOG_ERR, "overrides: %s not written: out of memory",
		path);
}

/* Cut on a character boundary: jansson writes valid UTF-8 only, and an
 * override whose comment it refuses would be left out of overrides.json.
 * A comment that is not UTF-8 (refused by the command; a hand-edited file
 * is read by jansson, which refuses it too) is dropped. */
static void
set_comment(struct override *o, const char *comment)
{
	size_t len = comment ? strlen(comment) : 0;

	if (!tapir_utf8_valid(comment, len))
		len = 0;
	len = tapir_utf8_prefix(comment, len, sizeof(o->comment) - 1);
	if (len)
		memcpy(o->comment, comment, len);
	o->comment[len] = '\0';
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
	set_comment(o, comment);
	return override_apply(e, o);
}

/* One entry of overrides.json: name canonical, action "allow" or "deny";
 * the rest is the callback's to judge. */
int
tapir__overrides_parse(const json_t *root, tapir__override_fn fn, void *arg)
{
	const json_t *arr = json_object_get(root, "overrides"), *it;
	size_t i, n = 0;

	json_array_foreach(arr, i, it)
	{
		struct tapir__override_rec r = { 0 };
		char canon[TAPIR_NAME_BUFSIZE];
		const char *name =
			json_string_value(json_object_get(it, "name"));
		const char *act =
			json_string_value(json_object_get(it, "action"));
		if (!name || !act ||
			tapir_name_canon(name, strlen(name), 0, canon, NULL,
				NULL, NULL) != 0 ||
			(strcmp(act, "allow") && strcmp(act, "deny")))
			continue;
		r.name = canon;
		r.allow = !strcmp(act, "allow");
		r.comment = json_string_value(json_object_get(it, "comment"));
		r.expires = json_integer_value(json_object_get(it, "expires"));
		/* The file is input: a time no expiry can hold is refused,
		 * not cut to 32 bits (where 2^32 + 1 would be 1970). */
		r.out_of_range = r.expires < 0 ||
				 r.expires >= (json_int_t)TAPIR_EXPIRY_NEVER;
		if (fn(arg, &r) == 0)
			n++;
	}
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

struct load_ctx {
	struct tapir_engine *e;
	const char *path;
};

static int
load_one(void *arg, const struct tapir__override_rec *r)
{
	struct load_ctx *c = arg;

	if (r->out_of_range) {
		count(c->e, TAPIR_C_ENTRY_INVALID, 1);
		tapir_log(TAPIR_LOG_ERR,
			"overrides: %s in %s: expires %lld is out of "
			"range, ignored",
			r->name, c->path, (long long)r->expires);
		return -1;
	}
	if (r->expires && r->expires <= c->e->now())
		return -1;
	return override_add(c->e, r->name, r->allow, r->expires, r->comment) ==
			       0
		       ? 0
		       : -1;
}

void
tapir__eng_overrides_load(struct tapir_engine *e)
{
	char path[4096];
	json_error_t jerr;
	json_t *root;
	struct load_ctx c = { e, path };
	int n;

	if (!wcfg(e)->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/overrides.json", wcfg(e)->state_dir);
	tapir__eng_remove_temps(path);
	if (!(root = json_load_file(
		      path, TAPIR__OVERRIDES_JSON_FLAGS, &jerr))) {
		if (access(path, F_OK) == 0)
			tapir_log(TAPIR_LOG_ERR,
				"overrides: ignoring %s:%d: %s", path,
				jerr.line, jerr.text);
		return;
	}
	n = tapir__overrides_parse(root, load_one, &c);
	json_decref(root);
	tapir_log(TAPIR_LOG_INFO, "overrides: %d from %s", n, path);
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

struct list_job {
	bool json;
	struct tapir_buf *out;
};

/* On the writer, which owns the overrides (and loads overrides.json
 * before it runs any job): a list never meets a change half made. */
static void
list_job(struct tapir_engine *e, void *arg)
{
	struct list_job *j = arg;
	json_t *arr = j->json ? json_array() : NULL;

	for (size_t i = 0; i < e->n_overrides; i++) {
		const struct override *o = &e->overrides[i];
		if (arr)
			json_array_append_new(arr, override_json(o));
		else
			tapir_buf_printf(j->out,
				"%s %s added=%lld expires=%lld%s%s\n", o->name,
				o->allow ? "allow" : "deny",
				(long long)o->added, (long long)o->expires,
				o->comment[0] ? " comment=" : "", o->comment);
	}
	if (arr) {
		char *txt = json_dumps(arr, JSON_INDENT(2));
		if (txt)
			tapir_buf_printf(j->out, "%s\n", txt);
		else
			tapir_buf_printf(j->out, "error: out of memory\n");
		free(txt);
		json_decref(arr);
	}
}

/* "override allow|deny NAME TTL [COMMENT...]", "override remove NAME",
 * "override list". TTL: seconds, or with an s, m, h or d suffix; 0: until
 * removed. COMMENT: the rest of the line, UTF-8, without control
 * characters, kept to 255 bytes. */
void
tapir__eng_cmd_override(struct tapir_engine *e, const char *args, bool json,
	struct tapir_buf *out)
{
	const char *name;
	struct tapir_override_args oa;
	struct override_job j = { 0 };
	const char *verb;
	char why[300];
	int rc;

	rc = tapir_control_parse_override(args, &oa, why, sizeof(why));
	/* No room is said before what is wrong with the TTL or comment. */
	if ((oa.verb == TAPIR_OVERRIDE_ALLOW ||
		    oa.verb == TAPIR_OVERRIDE_DENY) &&
		oa.named && e->src_override_allow < 0) {
		tapir_buf_printf(out, "error: no room for override sources\n");
		return;
	}
	if (rc != 0) {
		tapir_buf_printf(out, "error: %s\n", why);
		return;
	}
	if (oa.verb == TAPIR_OVERRIDE_LIST) {
		struct list_job lj = { .json = json, .out = out };
		tapir__eng_run_on_writer(e, list_job, &lj);
		return;
	}
	j.name = oa.name;
	j.remove = oa.verb == TAPIR_OVERRIDE_REMOVE;
	j.allow = oa.verb == TAPIR_OVERRIDE_ALLOW;
	j.expires = oa.ttl ? e->now() + oa.ttl : 0;
	j.comment = oa.comment;
	verb = j.remove ? "remove" : j.allow ? "allow" : "deny";
	name = oa.name;
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
