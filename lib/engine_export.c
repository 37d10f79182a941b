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
 * names; digest's is bounded too (below). An export is therefore no
 * snapshot: a name added or removed while it runs may be in it or not,
 * and one whose decision changes is in it with the decision of the moment
 * its part was walked (lib/db.h, tapir_db_walk_part()). A name there
 * throughout is in it exactly once.
 */
#include "tapir_build.h"

#include "lib/engine_impl.h"

size_t tapir__eng_export_names = 4096;
size_t tapir__eng_digest_bytes = 32 << 20;

struct walk_out {
	struct tapir_engine *e;
	const struct tapir_runtime *rt; /* the command's reference */
	struct tapir_buf *out;
	int list, source, action; /* -1: any */
	const char *zone;
	bool json;
	size_t n;
	struct digest_pass *pass;
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

/*
 * digest: BLAKE2b-256 over the lines "NAME ACTION\n" of every name whose
 * decision is not PASS, in byte order of the lines (the order of the
 * names: their characters all sort after the space), as it was computed
 * when it sorted every line in memory. That took a line and a pointer per
 * decided name, ~0.5 GB at 10M names, inside Unbound.
 *
 * Now it is made in passes of bounded memory, and the value is the same.
 * A pass walks the database for the names of one range, (from, ceiling),
 * keeps their lines in a max-heap of at most tapir__eng_digest_bytes,
 * hashes them in order, and the next range starts after the last. The
 * ceiling comes from a sample of the names after the range's start (those
 * whose hash is 0 modulo a power of two, at most SAMPLE_MAX of them),
 * taken by the walk before: so about as many lines as fit fall in the
 * range, and each name is decided and kept about once. When the sample
 * misjudged and the lines do not fit, the largest leave the heap and the
 * ceiling comes down to them: what is in the heap at the end is exactly
 * the range's lines, whatever the sample said.
 *
 * The price is time: a walk per pass, with a name comparison per name, so
 * D decided names of L bytes of lines take about D * L /
 * tapir__eng_digest_bytes walks (~20 at 10M names). A multiset hash (a sum
 * of per-line hashes) would take one walk, but one that is cheap for
 * millions of names and still collision-resistant needs a modulus far
 * larger than a hash (Wagner's k-sum attack on AdHash), and it would
 * change the value operators compare across versions.
 */
#define SAMPLE_MAX 4096

struct digest_line {
	uint16_t name_len;
	char text[]; /* "NAME ACTION\n", NUL-terminated */
};

/* A heap slot: the name's first 8 bytes, big-endian, decide most
 * comparisons without a read of the line (a cache miss each, which made
 * up half the time of a pass). */
struct heap_slot {
	uint64_t key;
	struct digest_line *l;
};

struct sample_name {
	uint8_t len;
	char name[TAPIR_NAME_BUFSIZE - 1];
};

struct digest_pass {
	struct heap_slot *heap; /* max-heap by name */
	size_t n, cap, bytes;
	/* The range: names after from (at or after it when from_incl) and
	 * before ceiling. */
	char from[TAPIR_NAME_BUFSIZE], ceiling[TAPIR_NAME_BUFSIZE];
	size_t from_len, ceiling_len;
	bool has_from, from_incl, has_ceiling;
	/* Names after from whose hash is 0 modulo mod. The hash has a seed
	 * of this digest's, so that names from a feed cannot be made to
	 * crowd the sample (they would only make passes slower). */
	struct sample_name *sample; /* SAMPLE_MAX */
	size_t n_sample;
	uint64_t mod, seed;
	bool sample_only; /* the first walk: no lines yet */
};

/* What a line holds of the budget: its bytes, a heap slot, and malloc's
 * header. */
static size_t
line_cost(size_t text_len)
{
	return sizeof(struct digest_line) + text_len + 1 +
	       sizeof(struct heap_slot) + 16;
}

/* Names in strcmp() order (a name is a prefix of a longer one before
 * it). */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

/* The first 8 bytes of a name as a number that sorts as they do (names
 * have no NUL: a shorter name's zero padding sorts first). */
static uint64_t
name_key(const char *name, size_t len)
{
	uint64_t k = 0;

	for (size_t i = 0; i < 8; i++)
		k = k << 8 | (i < len ? (unsigned char)name[i] : 0);
	return k;
}

static int
slot_cmp(const struct heap_slot *a, const struct heap_slot *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return name_cmp(a->l->text, a->l->name_len, b->l->text, b->l->name_len);
}

/* A name against a slot. */
static int
name_slot_cmp(
	const char *name, size_t len, uint64_t key, const struct heap_slot *s)
{
	if (key != s->key)
		return key < s->key ? -1 : 1;
	return name_cmp(name, len, s->l->text, s->l->name_len);
}

static int
sample_cmp(const void *a, const void *b)
{
	const struct sample_name *x = a, *y = b;

	return name_cmp(x->name, x->len, y->name, y->len);
}

static void
heap_up(struct digest_pass *d, size_t i)
{
	while (i > 0) {
		size_t up = (i - 1) / 2;
		struct heap_slot t = d->heap[up];
		if (slot_cmp(&t, &d->heap[i]) >= 0)
			break;
		d->heap[up] = d->heap[i];
		d->heap[i] = t;
		i = up;
	}
}

static void
heap_down(struct digest_pass *d, size_t i, size_t n)
{
	for (;;) {
		size_t big = i, l = 2 * i + 1, r = l + 1;
		struct heap_slot t;
		if (l < n && slot_cmp(&d->heap[l], &d->heap[big]) > 0)
			big = l;
		if (r < n && slot_cmp(&d->heap[r], &d->heap[big]) > 0)
			big = r;
		if (big == i)
			return;
		t = d->heap[i];
		d->heap[i] = d->heap[big];
		d->heap[big] = t;
		i = big;
	}
}

/* name, and every name after it, waits for a later pass. */
static void
lower_ceiling(struct digest_pass *d, const char *name, size_t len)
{
	if (d->has_ceiling &&
		name_cmp(name, len, d->ceiling, d->ceiling_len) >= 0)
		return;
	memcpy(d->ceiling, name, len);
	d->ceiling_len = len;
	d->has_ceiling = true;
}

static void
heap_pop(struct digest_pass *d)
{
	struct digest_line *top = d->heap[0].l;

	lower_ceiling(d, top->text, top->name_len);
	d->bytes -= line_cost(strlen(top->text));
	d->heap[0] = d->heap[--d->n];
	heap_down(d, 0, d->n);
	free(top);
}

static bool
sampled(const struct digest_pass *d, const char *name, size_t len, uint64_t mod)
{
	return (XXH3_64bits_withSeed(name, len, d->seed) & (mod - 1)) == 0;
}

/* Take name into the sample if its hash says so; a full sample keeps the
 * half whose hash is 0 modulo twice as much. */
static void
sample_add(struct digest_pass *d, const char *name, size_t len)
{
	size_t k = 0;

	if (!sampled(d, name, len, d->mod))
		return;
	while (d->n_sample == SAMPLE_MAX) {
		/* 2^40 names: a sample that will not thin out is full. */
		if (d->mod >= (UINT64_C(1) << 40))
			return;
		d->mod *= 2;
		k = 0;
		for (size_t i = 0; i < d->n_sample; i++)
			if (sampled(d, d->sample[i].name, d->sample[i].len,
				    d->mod))
				d->sample[k++] = d->sample[i];
		d->n_sample = k;
		if (!sampled(d, name, len, d->mod))
			return;
	}
	d->sample[d->n_sample].len = (uint8_t)len;
	memcpy(d->sample[d->n_sample].name, name, len);
	d->n_sample++;
}

static bool
in_range(const struct digest_pass *d, const char *name, size_t len)
{
	int c;

	if (d->has_from && (c = name_cmp(name, len, d->from, d->from_len)) <=
				   (d->from_incl ? -1 : 0))
		return false;
	return true;
}

static int
digest_one(void *arg, const char *name, size_t len, const struct tapir_entry *e,
	size_t n)
{
	struct walk_out *w = arg;
	struct digest_pass *d = w->pass;
	enum tapir_action a;
	struct digest_line *l;
	const char *act;
	size_t cost, text_len;
	uint64_t key;

	(void)e;
	(void)n;
	/* Cheap tests first: most names are in another pass. */
	if (!in_range(d, name, len))
		return 0;
	sample_add(d, name, len);
	if (d->sample_only || (d->has_ceiling && name_cmp(name, len, d->ceiling,
							 d->ceiling_len) >= 0))
		return 0;
	/* At least the shortest action's line: a name past the heap's top
	 * that cannot fit is not worth a decision. */
	cost = line_cost(len + 4);
	key = name_key(name, len);
	if (d->n && d->bytes + cost > tapir__eng_digest_bytes &&
		name_slot_cmp(name, len, key, &d->heap[0]) > 0) {
		lower_ceiling(d, name, len);
		return 0;
	}
	if ((a = walk_decide(w, name, len, NULL)) == TAPIR_ACTION_PASS)
		return 0;
	act = tapir_action_str(a);
	text_len = len + 1 + strlen(act) + 1;
	cost = line_cost(text_len);
	/* Room: lines after this one leave, for a later pass. */
	while (d->n && d->bytes + cost > tapir__eng_digest_bytes &&
		name_slot_cmp(name, len, key, &d->heap[0]) < 0)
		heap_pop(d);
	if (d->n && d->bytes + cost > tapir__eng_digest_bytes) {
		lower_ceiling(d, name, len);
		return 0;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		struct heap_slot *v = realloc(d->heap, cap * sizeof(*v));
		if (!v)
			return -1;
		d->heap = v;
		d->cap = cap;
	}
	if (!(l = malloc(sizeof(*l) + text_len + 1)))
		return -1;
	l->name_len = (uint16_t)len;
	snprintf(l->text, text_len + 1, "%s %s\n", name, act);
	d->heap[d->n].key = key;
	d->heap[d->n++].l = l;
	d->bytes += cost;
	heap_up(d, d->n - 1);
	return 0;
}

/* Hash the pass's lines in order; the next range starts after the last of
 * them, or at the ceiling when the range had none.
 * @return: the number of lines. */
static size_t
digest_pass_end(struct digest_pass *d, crypto_generichash_state *st)
{
	size_t n = d->n;

	/* Heap sort: the largest to the end, one by one. */
	for (size_t k = n; k > 1; k--) {
		struct heap_slot t = d->heap[0];
		d->heap[0] = d->heap[k - 1];
		d->heap[k - 1] = t;
		heap_down(d, 0, k - 1);
	}
	for (size_t i = 0; i < n; i++) {
		struct digest_line *l = d->heap[i].l;
		crypto_generichash_update(
			st, (const unsigned char *)l->text, strlen(l->text));
		if (i == n - 1) {
			memcpy(d->from, l->text, l->name_len);
			d->from_len = l->name_len;
			d->has_from = true;
			d->from_incl = false;
		}
		free(l);
	}
	if (n == 0 && d->has_ceiling) {
		memcpy(d->from, d->ceiling, d->ceiling_len);
		d->from_len = d->ceiling_len;
		d->has_from = true;
		d->from_incl = true;
	}
	d->n = 0;
	d->bytes = 0;
	return n;
}

/* The next range's ceiling: where the sample's lines after the range's
 * start, each standing for mod names, fill nine tenths of the budget.
 * None when they all fit. Then a fresh sample. */
static void
next_ceiling(struct digest_pass *d)
{
	size_t k = 0, budget = tapir__eng_digest_bytes / 10 * 9, sum = 0;

	for (size_t i = 0; i < d->n_sample; i++)
		if (in_range(d, d->sample[i].name, d->sample[i].len))
			d->sample[k++] = d->sample[i];
	qsort(d->sample, k, sizeof(*d->sample), sample_cmp);
	d->has_ceiling = false;
	for (size_t i = 0; i < k; i++) {
		/* A line with the longest action. */
		sum += d->mod * line_cost(d->sample[i].len + 10);
		if (sum > budget && i > 0) {
			lower_ceiling(d, d->sample[i].name, d->sample[i].len);
			break;
		}
	}
	d->n_sample = 0;
	d->mod = 1;
}

/* A hash of the decision set, independent of insertion order and of the
 * machine: resolvers of one fleet compare it. Expired entries do not
 * count. */
void
tapir__eng_cmd_digest(struct tapir_engine *e, const struct tapir_runtime *rt,
	bool json, struct tapir_buf *out)
{
	struct digest_pass *d = calloc(1, sizeof(*d));
	struct walk_out w = { .e = e, .rt = rt, .out = out, .pass = d };
	unsigned char h[32];
	char hex[65];
	crypto_generichash_state st;
	size_t names = 0;
	int rc = -1;

	if (!d || !(d->sample = malloc(SAMPLE_MAX * sizeof(*d->sample))))
		goto out;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	/* A first walk only samples, for the first range's ceiling. */
	d->mod = 1;
	randombytes_buf(&d->seed, sizeof(d->seed));
	d->sample_only = true;
	if ((rc = walk_parts(&w, digest_one, false)) != 0)
		goto out;
	d->sample_only = false;
	next_ceiling(d);
	/* Each pass but the last ends at a ceiling, past a line or at
	 * least at a sampled name: the range only moves on. */
	for (;;) {
		bool more;
		if ((rc = walk_parts(&w, digest_one, false)) != 0)
			goto out;
		/* Without a ceiling the range ran to the end: only a line
		 * that did not fit lowers it. */
		more = d->has_ceiling;
		names += digest_pass_end(d, &st);
		if (!more)
			break;
		next_ceiling(d);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (json)
		tapir_buf_printf(out,
			"{\"digest\": \"blake2b-256:%s\", \"names\": %zu}\n",
			hex, names);
	else
		tapir_buf_printf(out, "digest: blake2b-256:%s\nnames: %zu\n",
			hex, names);
out:
	if (rc != 0)
		tapir_buf_printf(out, "error: out of memory\n");
	if (d) {
		for (size_t i = 0; i < d->n; i++)
			free(d->heap[i].l);
		free(d->heap);
		free(d->sample);
	}
	free(d);
}

static int
source_index(void *arg, const char *name)
{
	return tapir_config_source_index(arg, name);
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
	struct tapir_list_args la;
	char why[200];

	if (tapir_control_parse_list(args, source_index, (void *)rt->cfg, &la,
		    why, sizeof(why)) != 0) {
		export_error(&w, "%s", why);
		return;
	}
	w.list = la.list;
	w.source = la.source;
	w.action = la.action;
	if (json)
		tapir_buf_append(out, "[", 1);
	if (walk_parts(&w, list_one, true) != 0)
		return;
	if (json)
		tapir_buf_printf(out, "%s]\n", w.n ? "\n" : "");
}
