/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tapir-pop-control: the operator's client of the module's control socket,
 * with the habits of unbound-control: one command per call, "name=value"
 * statistics, and exit codes scripts can rely on:
 *   0  the command succeeded
 *   1  the module answered with an error
 *   2  usage error, or the socket could not be reached
 */
#include "tapir_build.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/jws.h"
#include "lib/listfile.h"

#define DEFAULT_SOCKET "/run/unbound/tapir-pop.sock"
#define DEFAULT_CONFIG "/etc/unbound/tapir-pop.yaml"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: tapir-pop-control [-s SOCKET] [--json] COMMAND [ARGS]\n"
		"  -s SOCKET   control socket (default " DEFAULT_SOCKET ",\n"
		"              or $TAPIR_POP_SOCKET)\n"
		"  --json      answer in JSON\n"
		"commands:\n"
		"  status          version, uptime, Unbound build, sources, database\n"
		"  stats           counters as name=value, then reset them\n"
		"  stats_noreset   counters as name=value\n"
		"  lookup NAME     the decision for NAME and why\n"
		"  list [--list L] [--source S] [--action A]\n"
		"                  decided names with their action and rule\n"
		"  dump-rpz [ZONE] the decisions as an RPZ zone file\n"
		"  override allow|deny NAME [--ttl SECONDS] [--comment TEXT]\n"
		"  override remove NAME\n"
		"  override list   local overrides, applied like any source\n"
		"  reload          re-read the configuration and file sources\n"
		"  flush NAME|--all  purge Unbound's cache for NAME (and below)\n"
		"  digest          a hash of the decision set, to compare resolvers\n"
		"  check [FILE]    validate a configuration file without touching\n"
		"                  a running Unbound (default " DEFAULT_CONFIG
		")\n");
}

struct check_file {
	const char *path;
	size_t names;
};

static int
count_record(void *arg, const struct tapir_file_record *r)
{
	(void)r;
	((struct check_file *)arg)->names++;
	return 0;
}

static void
print_bad_line(void *arg, unsigned line, const char *reason)
{
	fprintf(stderr, "  %s:%u: %s\n", ((struct check_file *)arg)->path, line,
		reason);
}

/*
 * Validate a configuration the way the module will read it, and the files
 * it names, without talking to Unbound: for a change before a reload.
 * Exit 0 when the module would load it, 1 when not.
 */
static int
check(const char *path)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg = tapir_config_load(path, &err);
	struct tapir_keyring *kr;
	int bad = 0;

	if (!cfg) {
		fprintf(stderr, "%s\n", err.text);
		return 1;
	}
	if (!(kr = tapir_keyring_load_file(cfg->keys_file, &err))) {
		fprintf(stderr, "keys: %s\n", err.text);
		bad = 1;
	} else {
		printf("keys: %zu trusted key(s) in %s\n",
			tapir_keyring_count(kr), cfg->keys_file);
		tapir_keyring_destroy(kr);
	}
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct tapir_source_config *sc = &cfg->sources[i];
		struct tapir_file_opts o = { .format = sc->format,
			.csv_column = sc->csv_column,
			.csv_header = sc->csv_header,
			.csv_delim = sc->csv_delim,
			.origin = sc->origin[0] ? sc->origin : NULL };
		struct tapir_file_stats st = { 0 };
		struct check_file cf = { .path = sc->path };
		if (sc->type != TAPIR_SOURCE_FILE) {
			printf("source %s: %s, mqtt, %zu topic(s)\n", sc->name,
				tapir_list_str(sc->list), sc->n_topics);
			continue;
		}
		if (tapir_file_parse_path(sc->path, sc->max_size, &o,
			    count_record, print_bad_line, &cf, &st,
			    &err) != 0) {
			fprintf(stderr, "source %s: %s\n", sc->name, err.text);
			bad = 1;
			continue;
		}
		printf("source %s: %s, %s file %s: %zu names, %zu bad lines, "
		       "%zu skipped\n",
			sc->name, tapir_list_str(sc->list),
			tapir_file_format_str(sc->format), sc->path, cf.names,
			st.errors, st.skipped);
	}
	printf("%s: %s\n", path, bad ? "errors above" : "ok");
	tapir_config_destroy(cfg);
	return bad;
}

static int
append_word(char *line, size_t size, size_t *at, const char *w)
{
	int n;

	if (strchr(w, '\n'))
		return -1;
	n = snprintf(line + *at, size - *at, "%s%s", *at ? " " : "", w);
	if (n < 0 || (size_t)n >= size - *at)
		return -1;
	*at += (size_t)n;
	return 0;
}

/* The command line, as one request line of the control protocol. Options
 * of override and list become the protocol's positional/key=value form. */
static int
build_request(int argc, char **argv, bool json, char *line, size_t size)
{
	size_t at = 0;
	const char *ttl = "0", *comment = NULL;
	char kv[160];

	line[0] = '\0';
	if (json && append_word(line, size, &at, "json") != 0)
		return -1;
	if (!strcmp(argv[0], "override") && argc >= 3 &&
		(!strcmp(argv[1], "allow") || !strcmp(argv[1], "deny"))) {
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--ttl") && i + 1 < argc)
				ttl = argv[++i];
			else if (!strcmp(argv[i], "--comment") && i + 1 < argc)
				comment = argv[++i];
			else
				return -1;
		}
		if (append_word(line, size, &at, "override") ||
			append_word(line, size, &at, argv[1]) ||
			append_word(line, size, &at, argv[2]) ||
			append_word(line, size, &at, ttl) ||
			(comment && append_word(line, size, &at, comment)))
			return -1;
		return 0;
	}
	if (!strcmp(argv[0], "list")) {
		if (append_word(line, size, &at, "list"))
			return -1;
		for (int i = 1; i < argc; i++) {
			if (i + 1 >= argc || strncmp(argv[i], "--", 2) != 0)
				return -1;
			snprintf(kv, sizeof(kv), "%s=%s", argv[i] + 2,
				argv[i + 1]);
			i++;
			if (append_word(line, size, &at, kv))
				return -1;
		}
		return 0;
	}
	for (int i = 0; i < argc; i++)
		if (append_word(line, size, &at, argv[i]) != 0)
			return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("TAPIR_POP_SOCKET");
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tapir_buf out = { 0 };
	struct tapir_error err = { 0 };
	char line[TAPIR_CONTROL_MAX_LINE];
	int c, rc;
	bool json = false;

	if (!sock || !sock[0])
		sock = DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[optind], "check")) {
		if (argc - optind > 2) {
			usage(stderr);
			return 2;
		}
		return check(
			argc - optind == 2 ? argv[optind + 1] : DEFAULT_CONFIG);
	}
	if (build_request(argc - optind, argv + optind, json, line,
		    sizeof(line)) != 0) {
		usage(stderr);
		return 2;
	}
	rc = tapir_control_request(sock, line, 10000, &out, &err);
	if (rc != 0) {
		fprintf(stderr, "tapir-pop-control: %s\n", err.text);
		tapir_buf_clear(&out);
		return 2;
	}
	rc = out.len >= 6 && strncmp(out.data, "error:", 6) == 0 ? 1 : 0;
	/* In JSON an error is an object after the protocol's "error: ". */
	if (out.len && json && rc && out.len > 7 && out.data[7] == '{')
		fwrite(out.data + 7, 1, out.len - 7, stdout);
	else if (out.len)
		fwrite(out.data, 1, out.len, stdout);
	tapir_buf_clear(&out);
	return rc;
}
