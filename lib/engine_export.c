/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Exports of the database for the control commands list, dump-rpz and
 * digest. Control thread; reads under an epoch.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

struct walk_out {
	struct tapir_engine *e;
	const struct tapir_runtime *rt; /* the command's reference */
	struct tapir_buf *out;
	int list, source, action; /* -1: any */
	const char *zone;
	json_t *arr;
	size_t n;
	crypto_generichash_state *hash;
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
	if (w->arr)
		json_array_append_new(w->arr,
			json_pack("{s:s,s:s,s:s}", "name", name, "action",
				tapir_action_str(a), "rule", rule));
	else
		tapir_buf_printf(
			w->out, "%s %s %s\n", name, tapir_action_str(a), rule);
	return w->out->failed ? -1 : 0;
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
	tapir_buf_append(w->out, text, n);
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
	const char *zone_arg, struct tapir_buf *out)
{
	char zone[TAPIR_NAME_BUFSIZE];
	struct tapir_error err = { 0 };
	struct walk_out w = { .e = e, .rt = rt, .out = out, .zone = zone };
	tapir_epoch_token tok;

	if (!zone_arg[0])
		zone_arg = "rpz.tapir-pop.invalid";
	if (tapir_name_canon(
		    zone_arg, strlen(zone_arg), 0, zone, NULL, NULL, &err)) {
		tapir_buf_printf(out, "error: zone: %s\n", err.text);
		return;
	}
	/* Decisions now, as an RPZ other resolvers can load: a SOA whose
	 * serial is the time of the dump, one NS, then one record per
	 * decided owner. */
	tapir_buf_printf(out,
		"$ORIGIN %s.\n$TTL 60\n"
		"@ SOA localhost. hostmaster.localhost. %lld 3600 600 86400 60\n"
		"@ NS localhost.\n",
		zone, (long long)tapir_now());
	tok = tapir_db_read_begin(e->db);
	(void)tapir_db_walk(e->db, rpz_one, &w);
	tapir_db_read_end(e->db, tok);
	tapir_buf_printf(out, "; %zu records\n", w.n);
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
	tapir_epoch_token tok;
	int rc;

	tok = tapir_db_read_begin(e->db);
	rc = tapir_db_walk(e->db, digest_one, &w);
	tapir_db_read_end(e->db, tok);
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
		.action = -1 };
	char key[16], val[128];
	tapir_epoch_token tok;
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
			tapir_buf_printf(
				out, "error: bad filter %s=%s\n", key, val);
			return;
		}
	}
	while (*args == ' ')
		args++;
	if (*args) {
		tapir_buf_printf(out, "error: bad filter: %.64s\n", args);
		return;
	}
	if (json && !(w.arr = json_array())) {
		tapir_buf_printf(out, "error: out of memory\n");
		return;
	}
	tok = tapir_db_read_begin(e->db);
	(void)tapir_db_walk(e->db, list_one, &w);
	tapir_db_read_end(e->db, tok);
	if (w.arr) {
		char *txt = json_dumps(w.arr, JSON_INDENT(2));
		if (txt)
			tapir_buf_printf(out, "%s\n", txt);
		free(txt);
		json_decref(w.arr);
	}
}
