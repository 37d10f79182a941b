/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Exports of the database for the control commands list, dump-rpz and
 * digest. Control thread; reads under an epoch.
 *
 * They walk the database in parts (tapir_db_walk_part()) of
 * tapir__eng_export_names names, each in a read section of its own, and
 * list and dump-rpz hand each part's lines to the client between two
 * parts (tapir_buf_flush()), with no read section open. So the writer
 * waits for at most one part's worth of decisions, never for a client,
 * and their answer's memory is one part's lines, whatever the number of
 * names. An export is therefore no snapshot: a name added or removed
 * while it runs may be in it or not, and one whose decision changes is in
 * it with the decision of the moment its part was walked (lib/db.h,
 * tapir_db_walk_part()). A name there throughout is in it exactly once.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

size_t tapir__eng_export_names = 4096;

struct walk_out {
	struct tapir_engine *e;
	const struct tapir_runtime *rt; /* the command's reference */
	struct tapir_buf *out;
	int list, source, action; /* -1: any */
	const char *zone;
	bool json;
	size_t n;
	char **names; /* digest: collected, sorted */
	size_t n_names, cap_names;
};

/* The decision of a name as the query path makes it, plus what fed it. */
static enum tapir_action
walk_decide(struct walk_out *w, const char *name, size_t len,
	struct tapir_reason *why)
{
	return tapir_decide(
		w->rt->policy, w->e->db, name, len, w->e->now(), why);
}

/* Walk every name in parts, each in a read section of its own. After each
 * part, outside the section, what it wrote goes to the client (when flush
 * is set), which may take its time: the writer does not wait for it.
 * @return: 0, or nonzero when cb or the client stopped the walk. */
static int
walk_parts(struct walk_out *w, tapir_db_walk_cb cb, bool flush)
{
	uint64_t cursor = 0;
	tapir_epoch_token tok;
	int rc;

	while (cursor != TAPIR_DB_CURSOR_END) {
		tok = tapir_db_read_begin(w->e->db);
		rc = tapir_db_walk_part(
			w->e->db, &cursor, tapir__eng_export_names, cb, w);
		tapir_db_read_end(w->e->db, tok);
		if (rc != 0)
			return rc;
		if (flush && tapir_buf_flush(w->out) != 0)
			return -1;
	}
	return 0;
}

/* "error: TEXT", in JSON the object that tapir_engine_command() makes of
 * the other commands' errors: list and dump-rpz write their JSON answers
 * themselves, as they go. */
static void export_error(struct walk_out *w, const char *fmt, ...)
	TAPIR_PRINTF(2, 3);

static void
export_error(struct walk_out *w, const char *fmt, ...)
{
	char text[256], *txt = NULL;
	json_t *obj = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (w->json && (obj = json_pack("{s:s}", "error", text)) &&
		(txt = json_dumps(obj, JSON_INDENT(2))))
		tapir_buf_printf(w->out, "error: %s\n", txt);
	else
		tapir_buf_printf(w->out, "error: %s\n", text);
	free(txt);
	json_decref(obj);
}

static bool
walk_filter(struct walk_out *w, const struct tapir_entry *e, size_t n,
	enum tapir_action a)
{
	bool list = w->list < 0, src = w->source < 0;

	for (size_t i = 0; i < n; i++) {
		list |= e[i].list == w->list;
		src |= e[i].source == w->source;
	}
	return list && src && (w->action < 0 || (int)a == w->action);
}

/* One element of the JSON array, laid out as json_dumps() lays out the
 * whole array with JSON_INDENT(2): the object one level in, after "\n"
 * or ",\n". */
static void
list_json_one(struct walk_out *w, const char *name, enum tapir_action a,
	const char *rule)
{
	json_t *obj = json_pack("{s:s,s:s,s:s}", "name", name, "action",
		tapir_action_str(a), "rule", rule);
	char *txt = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;
	const char *at = txt, *nl;

	json_decref(obj);
	if (!txt) {
		w->out->failed = true;
		return;
	}
	tapir_buf_append(w->out, w->n > 1 ? ",\n  " : "\n  ", w->n > 1 ? 4 : 3);
	while ((nl = strchr(at, '\n'))) {
		tapir_buf_append(w->out, at, (size_t)(nl - at));
		tapir_buf_append(w->out, "\n  ", 3);
		at = nl + 1;
	}
	tapir_buf_append(w->out, at, strlen(at));
	free(txt);
}

static int
list_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	struct tapir_reason why;
	enum tapir_action a = walk_decide(w, name, len, &why);
	const char *rule = tapir_policy_rule_name(w->rt->policy, why.rule);

	if (!walk_filter(w, e, n, a))
		return 0;
	w->n++;
	if (w->json)
		list_json_one(w, name, a, rule);
	else
		tapir_buf_printf(
			w->out, "%s %s %s\n", name, tapir_action_str(a), rule);
	return w->out->failed ? -1 : 0;
}

/* Zone text into the answer; in JSON, as the inside of one string (the
 * object tapir_engine_command() wraps a text answer in). Escaping in
 * jansson is byte by byte, so pieces escape as the whole would. */
static void
rpz_text(struct walk_out *w, const char *text, size_t n)
{
	json_t *str;
	char *txt;

	if (!w->json) {
		tapir_buf_append(w->out, text, n);
		return;
	}
	if (!(str = json_stringn(text, n)) ||
		!(txt = json_dumps(str, JSON_ENCODE_ANY))) {
		json_decref(str);
		w->out->failed = true;
		return;
	}
	/* Without the quotes. */
	tapir_buf_append(w->out, txt + 1, strlen(txt) - 2);
	free(txt);
	json_decref(str);
}

/* One RPZ owner's records: what the answer plans of the action give
 * (lib/answer.c), so that a resolver loading the dump answers as the
 * module does, REDIRECT included. */
static void
rpz_records(struct walk_out *w, const char *owner, enum tapir_action a)
{
	char full[2 * TAPIR_NAME_BUFSIZE + 16], text[4096];
	size_t n;

	snprintf(full, sizeof(full), "%s.%s", owner, w->zone);
	if (!(n = tapir_answer_rpz(w->rt, a, full, text, sizeof(text))))
		return;
	rpz_text(w, text, n);
	for (size_t i = 0; i < n; i++)
		w->n += text[i] == '\n';
}

static int
rpz_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	char child[TAPIR_NAME_BUFSIZE + 8], star[TAPIR_NAME_BUFSIZE + 8];
	bool exact = false, subtree = false;

	for (size_t i = 0; i < n; i++) {
		if (e[i].flags & TAPIR_ENTRY_SUBTREE)
			subtree = true;
		else
			exact = true;
	}
	/* The owner itself, and a representative name below it for the
	 * subtree (the decision of any child with no entries of its own). */
	if (exact)
		rpz_records(w, name, walk_decide(w, name, len, NULL));
	if (subtree) {
		int m = snprintf(child, sizeof(child), "x--tapir.%s", name);
		snprintf(star, sizeof(star), "*.%s", name);
		if (m > 0 && (size_t)m < TAPIR_NAME_BUFSIZE)
			rpz_records(w, star,
				walk_decide(w, child, (size_t)m, NULL));
	}
	return w->out->failed ? -1 : 0;
}

void
tapir__eng_cmd_dump_rpz(struct tapir_engine *e, const struct tapir_runtime *rt,
	const char *zone_arg, bool json, struct tapir_buf *out)
{
	char zone[TAPIR_NAME_BUFSIZE], head[TAPIR_NAME_BUFSIZE + 160];
	struct tapir_error err = { 0 };
	struct walk_out w = {
		.e = e, .rt = rt, .out = out, .zone = zone, .json = json
	};
	int n;

	if (!zone_arg[0])
		zone_arg = "rpz.tapir-pop.invalid";
	if (tapir_name_canon(
		    zone_arg, strlen(zone_arg), 0, zone, NULL, NULL, &err)) {
		export_error(&w, "zone: %s", err.text);
		return;
	}
	/* Decisions now, as an RPZ other resolvers can load: a SOA whose
	 * serial is the time of the dump, one NS, then one record per
	 * decided owner. */
	if (json)
		tapir_buf_printf(out, "{\n  \"text\": \"");
	n = snprintf(head, sizeof(head),
		"$ORIGIN %s.\n$TTL 60\n"
		"@ SOA localhost. hostmaster.localhost. %lld 3600 600 86400 60\n"
		"@ NS localhost.\n",
		zone, (long long)tapir_now());
	rpz_text(&w, head, (size_t)n);
	if (walk_parts(&w, rpz_one, true) != 0)
		return;
	/* In JSON the text ends without its last newline, as the object
	 * tapir_engine_command() makes of a text answer does. */
	n = snprintf(
		head, sizeof(head), "; %zu records%s", w.n, json ? "" : "\n");
	rpz_text(&w, head, (size_t)n);
	if (json)
		tapir_buf_printf(out, "\"\n}\n");
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
digest_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	enum tapir_action a = walk_decide(w, name, len, NULL);
	char *line;

	(void)e;
	(void)n;
	if (a == TAPIR_ACTION_PASS)
		return 0;
	if (w->n_names == w->cap_names) {
		size_t cap = w->cap_names ? w->cap_names * 2 : 1024;
		char **v = realloc(w->names, cap * sizeof(*v));
		if (!v)
			return -1;
		w->names = v;
		w->cap_names = cap;
	}
	if (!(line = malloc(len + 16)))
		return -1;
	snprintf(line, len + 16, "%s %s\n", name, tapir_action_str(a));
	w->names[w->n_names++] = line;
	return 0;
}

/* A hash of the decision set, independent of insertion order and of the
 * machine: resolvers of one fleet compare it. Expired entries do not
 * count; names are sorted before hashing. */
void
tapir__eng_cmd_digest(struct tapir_engine *e, const struct tapir_runtime *rt,
	bool json, struct tapir_buf *out)
{
	struct walk_out w = { .e = e, .rt = rt, .out = out };
	unsigned char h[32];
	char hex[65];
	crypto_generichash_state st;
	int rc;

	rc = walk_parts(&w, digest_one, false);
	if (rc == 0) {
		qsort(w.names, w.n_names, sizeof(*w.names), name_cmp);
		crypto_generichash_init(&st, NULL, 0, sizeof(h));
		for (size_t i = 0; i < w.n_names; i++)
			crypto_generichash_update(&st,
				(const unsigned char *)w.names[i],
				strlen(w.names[i]));
		crypto_generichash_final(&st, h, sizeof(h));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		if (json)
			tapir_buf_printf(out,
				"{\"digest\": \"blake2b-256:%s\", \"names\": %zu}\n",
				hex, w.n_names);
		else
			tapir_buf_printf(out,
				"digest: blake2b-256:%s\nnames: %zu\n", hex,
				w.n_names);
	} else {
		tapir_buf_printf(out, "error: out of memory\n");
	}
	for (size_t i = 0; i < w.n_names; i++)
		free(w.names[i]);
	free(w.names);
}

/* "list [list=L] [source=S] [action=A]" */
void
tapir__eng_cmd_list(struct tapir_engine *e, const struct tapir_runtime *rt,
	const char *args, bool json, struct tapir_buf *out)
{
	struct walk_out w = { .e = e,
		.rt = rt,
		.out = out,
		.list = -1,
		.source = -1,
		.action = -1,
		.json = json };
	char key[16], val[128];
	int n;

	while (*args && sscanf(args, " %15[^= ]=%127s%n", key, val, &n) == 2) {
		args += n;
		if (!strcmp(key, "list"))
			w.list = tapir_list_from_str(val);
		else if (!strcmp(key, "source"))
			w.source = tapir_config_source_index(rt->cfg, val);
		else if (!strcmp(key, "action"))
			w.action = tapir_action_from_str(val);
		else
			w.list = -2;
		if (w.list == -2 || (!strcmp(key, "list") && w.list < 0) ||
			(!strcmp(key, "source") && w.source < 0) ||
			(!strcmp(key, "action") && w.action < 0)) {
			export_error(&w, "bad filter %s=%s", key, val);
			return;
		}
	}
	while (*args == ' ')
		args++;
	if (*args) {
		export_error(&w, "bad filter: %.64s", args);
		return;
	}
	if (json)
		tapir_buf_append(out, "[", 1);
	if (walk_parts(&w, list_one, true) != 0)
		return;
	if (json)
		tapir_buf_printf(out, "%s]\n", w.n ? "\n" : "");
}
