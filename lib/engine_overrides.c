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
	tapir__eng_remove_temps(path);
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

/* The longest override, in seconds: ten years. */
#define OVERRIDE_TTL_MAX (INT64_C(3650) * 86400)

/* Splits the next blank-separated word off *p into out (size bytes);
 * false when there is none or it does not fit. */
static bool
next_word(const char **p, char *out, size_t size)
{
	const char *s = *p;
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	for (n = 0; s[n] && s[n] != ' ' && s[n] != '\t'; n++)
		;
	if (!n || n >= size)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	*p = s;
	return true;
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
	char verb[16] = "", raw[TAPIR_NAME_BUFSIZE + 1] = "";
	char ttl_text[32] = "";
	char name[TAPIR_NAME_BUFSIZE];
	struct override_job j = { 0 };
	struct tapir_error err = { 0 };
	const char *p = args;
	int64_t ttl = 0;

	if (!next_word(&p, verb, sizeof(verb))) {
		tapir_buf_printf(
			out, "error: usage: override allow|deny|remove|list\n");
		return;
	}
	if (!strcmp(verb, "list")) {
		struct list_job lj = { .json = json, .out = out };
		tapir__eng_run_on_writer(e, list_job, &lj);
		return;
	}
	if (!next_word(&p, raw, sizeof(raw))) {
		tapir_buf_printf(out, "error: override %s: no name\n", verb);
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
		if (*p && !next_word(&p, ttl_text, sizeof(ttl_text))) {
			tapir_buf_printf(out, "error: ttl: not a duration\n");
			return;
		}
		if (*ttl_text) {
			int rc = tapir_duration_parse(
				ttl_text, OVERRIDE_TTL_MAX, &ttl);
			if (rc != 0) {
				tapir_buf_printf(out, "error: ttl '%s': %s\n",
					ttl_text,
					rc == TAPIR_ERANGE
						? "more than 3650 days"
						: "not a duration (seconds, "
						  "or with s, m, h or d)");
				return;
			}
		}
		for (const char *c = p; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				tapir_buf_printf(out,
					"error: comment: no control "
					"characters\n");
				return;
			}
		if (!tapir_utf8_valid(p, strlen(p))) {
			tapir_buf_printf(
				out, "error: comment: not valid UTF-8\n");
			return;
		}
		j.allow = !strcmp(verb, "allow");
		j.expires = ttl ? e->now() + ttl : 0;
		j.comment = p;
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
