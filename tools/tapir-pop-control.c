/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tapir-pop-control: the operator's client of the module's control socket,
 * with the habits of unbound-control: one command per call, "name=value"
 * statistics, the socket found from the configuration (-c), -q, and exit
 * codes scripts can rely on:
 *   0  the command succeeded
 *   1  the module answered with an error, status reports a problem, or
 *      check found one
 *   2  usage error, the socket refused this user, or no whole answer came
 *      back (none, cut short, or not in time): never an empty success
 *   3  the module is not running: no socket, or nobody listening on it
 * When status cannot reach the socket, it says what it finds out locally:
 * the socket's directory, the socket's owner and mode against the caller,
 * and the configuration, loaded as check loads it.
 */
#include "tapir_build.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/jws.h"
#include "lib/listfile.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: tapir-pop-control [-s SOCKET] [-c FILE] [-q] [--json] COMMAND [ARGS]\n"
		"  -s SOCKET   control socket (default $" TAPIR_CONTROL_SOCKET_ENV
		", else\n"
		"              control.socket of the configuration, else\n"
		"              " TAPIR_CONTROL_DEFAULT_SOCKET ")\n"
		"  -c FILE     the module's configuration: its control.socket, what\n"
		"              check validates, what status explains when the socket\n"
		"              cannot be reached (default $" TAPIR_CONFIG_ENV
		", else\n"
		"              " TAPIR_DEFAULT_CONFIG ")\n"
		"  -q          quiet: print nothing when the command succeeds\n"
		"  --json      answer in JSON\n"
		"commands:\n"
		"  status          version, uptime, Unbound build, sources, database;\n"
		"                  \"problem: ...\" lines for what must be fixed\n"
		"  stats           counters as name=value, then reset them\n"
		"  stats_noreset   counters as name=value\n"
		"  metrics         counters and gauges in Prometheus's text format\n"
		"  lookup NAME [TYPE]  the decision for NAME, why, and the answer\n"
		"  list [--list L] [--source S] [--action A]\n"
		"                  decided names with their action and rule\n"
		"  dump-rpz [ZONE] the decisions as an RPZ zone file\n"
		"  override allow|deny NAME [--ttl TTL] [--comment TEXT]\n"
		"                  TTL: seconds, or 90s, 15m, 2h, 1d (default:\n"
		"                  until removed); TEXT: UTF-8, 255 bytes kept\n"
		"  override remove NAME\n"
		"  override list   local overrides, applied like any source\n"
		"  reload          re-read the configuration and file sources\n"
		"  flush NAME|--all  purge Unbound's cache for NAME (and below)\n"
		"  digest          a hash of the decision set, to compare resolvers\n"
		"  check [FILE]    validate a configuration file without touching\n"
		"                  a running Unbound (default: as -c)\n"
		"exit status: 0 success; 1 the module answered an error, status\n"
		"reports a problem, or check found one; 2 usage error, the\n"
		"socket refused this user, or no whole answer came back; 3 the\n"
		"module is not running (no socket, or nobody listens on it)\n");
}

struct check_file {
	const char *path;
	size_t names;
	FILE *eout;
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
	const struct check_file *cf = arg;

	fprintf(cf->eout, "  %s:%u: %s\n", cf->path, line, reason);
}

/* The user Unbound runs as (username: in unbound.conf; Debian's and
 * Fedora's packages use this one). */
#define UNBOUND_USER "unbound"

/*
 * When root runs check, every file the module will open is opened again
 * as Unbound's user, in a child that has dropped to that user: root reads
 * anything, the module does not (it starts as that user after a reload).
 * Each file that user cannot use goes to eout.
 * @return: the number of files it cannot use.
 */
static int
check_as_unbound(const char *path, const struct tapir_config *cfg, FILE *eout)
{
	const char *files[TAPIR_MAX_SOURCES + 8];
	const char *what[TAPIR_MAX_SOURCES + 8];
	struct passwd *pw;
	size_t n = 0;
	int status, bad = 0, fds[2];
	pid_t pid;

	if (geteuid() != 0 || !(pw = getpwnam(UNBOUND_USER)))
		return 0;
	files[n] = path, what[n++] = "the configuration";
	files[n] = cfg->keys_file, what[n++] = "keys";
	files[n] = cfg->mqtt.ca_file, what[n++] = "mqtt.ca-file";
	files[n] = cfg->mqtt.cert_file, what[n++] = "mqtt.cert-file";
	files[n] = cfg->mqtt.key_file, what[n++] = "mqtt.key-file";
	files[n] = cfg->core_status.key_file, what[n++] = "core-status";
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].type == TAPIR_SOURCE_FILE)
			files[n] = cfg->sources[i].path,
			what[n++] = cfg->sources[i].name;
	fflush(eout);
	if (pipe(fds) != 0 || (pid = fork()) < 0)
		return 0;
	if (pid == 0) {
		close(fds[0]);
		if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
			setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			_exit(0);
		for (size_t i = 0; i < n; i++) {
			int fd;
			if (!files[i])
				continue;
			if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) >= 0) {
				close(fd);
				continue;
			}
			dprintf(fds[1], "%s: user %s cannot read %s: %s\n",
				what[i], pw->pw_name, files[i],
				strerror(errno));
			bad++;
		}
		if (cfg->state_dir &&
			access(cfg->state_dir, W_OK | X_OK) != 0) {
			dprintf(fds[1],
				"state-dir: user %s cannot write %s: %s\n",
				pw->pw_name, cfg->state_dir, strerror(errno));
			bad++;
		}
		_exit(bad > 100 ? 100 : bad);
	}
	close(fds[1]);
	{
		char buf[4096];
		ssize_t r;
		while ((r = read(fds[0], buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)r, eout);
	}
	close(fds[0]);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		bad = WEXITSTATUS(status);
	return bad;
}

/* What check_config() learnt, for the diagnostics of status. */
struct check_result {
	bool loaded;	  /* the module would load the file */
	char socket[256]; /* its control.socket, "" for none */
};

/*
 * Validate a configuration the way the module will read it, and the files
 * it names, without talking to Unbound: for a change before a reload.
 * Findings go to out, errors to eout.
 * @param res: if not NULL, filled.
 * @return: 0 when the module would load it and read its files, 1 when not.
 */
static int
check_config(const char *path, FILE *out, FILE *eout, struct check_result *res)
{
	struct tapir_error err = { 0 };
	struct tapir_config *cfg = tapir_config_load(path, &err);
	struct tapir_keyring *kr;
	int bad = 0;

	if (res)
		memset(res, 0, sizeof(*res));
	if (!cfg) {
		fprintf(eout, "%s\n", err.text);
		return 1;
	}
	if (res) {
		res->loaded = true;
		snprintf(res->socket, sizeof(res->socket), "%s",
			cfg->control.socket ? cfg->control.socket : "");
	}
	if (!cfg->keys_file) {
		/* Optional without MQTT sources (lib/config.c). */
		fprintf(out, "keys: none (no mqtt source)\n");
	} else if (!(kr = tapir_keyring_load_file(cfg->keys_file, &err))) {
		fprintf(eout, "keys: %s\n", err.text);
		bad = 1;
	} else {
		fprintf(out, "keys: %zu trusted key(s) in %s\n",
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
		struct check_file cf = { .path = sc->path, .eout = eout };
		if (sc->type == TAPIR_SOURCE_XFR) {
			fprintf(out,
				"source %s: %s, zone %s from %s port %u "
				"(transferred when the module runs)\n",
				sc->name, tapir_list_str(sc->list), sc->zone,
				sc->primary, (unsigned)sc->port);
			continue;
		}
		if (sc->type != TAPIR_SOURCE_FILE) {
			fprintf(out, "source %s: %s, mqtt, %zu topic(s)\n",
				sc->name, tapir_list_str(sc->list),
				sc->n_topics);
			continue;
		}
		if (tapir_file_parse_path(sc->path, sc->max_size, &o,
			    count_record, print_bad_line, &cf, &st,
			    &err) != 0) {
			fprintf(eout, "source %s: %s\n", sc->name, err.text);
			bad = 1;
			continue;
		}
		fprintf(out,
			"source %s: %s, %s file %s: %zu names, %zu bad lines, "
			"%zu skipped\n",
			sc->name, tapir_list_str(sc->list),
			tapir_file_format_str(sc->format), sc->path, cf.names,
			st.errors, st.skipped);
	}
	if (check_as_unbound(path, cfg, eout) > 0)
		bad = 1;
	fprintf(out, "%s: %s\n", path, bad ? "errors above" : "ok");
	tapir_config_destroy(cfg);
	return bad;
}

static void
describe_owner(const struct stat *st, char *text, size_t size)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char u[32], g[32];

	snprintf(u, sizeof(u), "%u", (unsigned)st->st_uid);
	snprintf(g, sizeof(g), "%u", (unsigned)st->st_gid);
	snprintf(text, size, "mode %04o, owner %s, group %s",
		(unsigned)(st->st_mode & 07777), pw ? pw->pw_name : u,
		gr ? gr->gr_name : g);
}

/* "you (uid 1000)" or "you (alice)", for the permission hints. */
static void
describe_caller(char *text, size_t size)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw)
		snprintf(text, size, "you (%s)", pw->pw_name);
	else
		snprintf(text, size, "you (uid %u)", (unsigned)geteuid());
}

/* The name of a file's group, for "a member of group G". */
static const char *
group_name(gid_t gid, char *buf, size_t size)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		return gr->gr_name;
	snprintf(buf, size, "%u", (unsigned)gid);
	return buf;
}

/* The caller (who) may not VERB path, whose metadata is st. */
static void
explain_denied(const char *who, const char *verb, const char *path,
	const struct stat *st)
{
	char text[160], gbuf[32];

	describe_owner(st, text, sizeof(text));
	fprintf(stderr,
		"tapir-pop-control: %s may not %s %s (%s): run as root or as "
		"a member of group %s\n",
		who, verb, path, text,
		group_name(st->st_gid, gbuf, sizeof(gbuf)));
}

/*
 * status could not reach the socket (connect() said err): say what can be
 * found out here, to stderr. The socket's directory and the socket against
 * the caller's permissions; then the configuration the module reads,
 * loaded as check loads it, and the socket it names.
 */
static void
explain_unreachable(const char *sock, int err, const char *config)
{
	const char *slash = strrchr(sock, '/');
	char dir[4096], who[96];
	struct check_result res;
	struct stat st;

	fprintf(stderr, "tapir-pop-control: cannot connect to %s: %s\n", sock,
		strerror(err));
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == sock)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sock), sock);
	describe_caller(who, sizeof(who));
	if (stat(dir, &st) != 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			fprintf(stderr,
				"tapir-pop-control: %s: %s: the module cannot "
				"create its socket there (on Debian, "
				"systemd-tmpfiles --create makes "
				"/run/unbound)\n",
				dir, strerror(e));
		else
			fprintf(stderr, "tapir-pop-control: %s: %s\n", dir,
				strerror(e));
	} else if (access(dir, X_OK) != 0) {
		explain_denied(who, "enter", dir, &st);
	} else if (lstat(sock, &st) != 0) {
		fprintf(stderr,
			"tapir-pop-control: no socket at %s: is Unbound "
			"running with the module (module-config: \"dynlib "
			"...\", dynlib-file: naming tapir-pop.so)? Its log "
			"says \"tapir-pop ...: loaded\" when it is\n",
			sock);
	} else if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "tapir-pop-control: %s is not a socket\n",
			sock);
	} else if (err == EACCES || access(sock, W_OK) != 0) {
		explain_denied(who, "use", sock, &st);
	} else if (err == ECONNREFUSED) {
		fprintf(stderr,
			"tapir-pop-control: nothing serves %s: a socket left "
			"by an Unbound that stopped or crashed, or the module "
			"is being reloaded\n",
			sock);
	}

	if (access(config, R_OK) != 0) {
		fprintf(stderr,
			"tapir-pop-control: cannot read %s: %s (the module "
			"reads it as the user Unbound runs as; run as root or "
			"as a member of its group to check it, or name another "
			"file with -c)\n",
			config, strerror(errno));
		return;
	}
	fprintf(stderr, "tapir-pop-control: %s, as the module would load it:\n",
		config);
	(void)check_config(config, stderr, stderr, &res);
	if (!res.loaded)
		fprintf(stderr,
			"tapir-pop-control: the module cannot load it either: "
			"it then passes every query and answers status on %s "
			"(or $" TAPIR_CONTROL_SOCKET_ENV
			" in Unbound's environment)\n",
			TAPIR_CONTROL_DEFAULT_SOCKET);
	else if (!res.socket[0])
		fprintf(stderr,
			"tapir-pop-control: it names no control socket "
			"(control: socket:), so the module opens none\n");
	else if (strcmp(res.socket, sock) != 0)
		fprintf(stderr,
			"tapir-pop-control: its control socket is %s: try "
			"tapir-pop-control -s %s status\n",
			res.socket, res.socket);
}

/* Whether a status answer reports something to fix: a "problem:" line,
 * or in JSON a non-empty "problems" array. */
static bool
status_has_problems(const struct tapir_buf *out, bool json)
{
	const char *l;

	if (!out->len)
		return false;
	if (json) {
		json_t *root = json_loadb(out->data, out->len, 0, NULL);
		json_t *p = json_object_get(root, "problems");
		bool has = json_is_array(p) && json_array_size(p) > 0;
		json_decref(root);
		return has;
	}
	for (l = out->data; l && *l;) {
		if (!strncmp(l, "problem: ", 9))
			return true;
		if ((l = strchr(l, '\n')))
			l++;
	}
	return false;
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

/*
 * Where an answer goes as it arrives. Its first bytes tell an error
 * ("error: ...") from an answer; errors and status answers are small and
 * kept whole (an error in JSON loses its prefix, a status is read for
 * problems); anything else goes to stdout piece by piece, so that a
 * list of millions of names takes this tool no more memory than one read.
 */
struct answer_sink {
	bool keep_whole; /* a status: kept, printed at the end */
	bool quiet;	 /* -q: an answer is not printed */
	bool decided, error;
	char head[8];
	size_t n_head;
	struct tapir_buf kept; /* errors and status answers */
};

#define ERROR_MARK "error:"

static void
sink_route(struct answer_sink *s, const char *data, size_t len)
{
	if (s->error || s->keep_whole)
		tapir_buf_append(&s->kept, data, len);
	else if (!s->quiet)
		fwrite(data, 1, len, stdout);
}

static void
sink_decide(struct answer_sink *s)
{
	s->decided = true;
	s->error = s->n_head >= strlen(ERROR_MARK) &&
		   !memcmp(s->head, ERROR_MARK, strlen(ERROR_MARK));
	sink_route(s, s->head, s->n_head);
}

static int
sink_piece(void *arg, const char *data, size_t len)
{
	struct answer_sink *s = arg;

	while (!s->decided && len) {
		s->head[s->n_head++] = *data++;
		len--;
		/* One more than the mark: the start of a JSON error. */
		if (s->n_head == strlen(ERROR_MARK) + 1)
			sink_decide(s);
	}
	if (len)
		sink_route(s, data, len);
	return s->kept.failed ? -1 : 0;
}

/* The command line, as one request line of the control protocol. Options
 * of override and list become the protocol's positional/key=value form. */
/* The longest override TTL, as the module has it: ten years. */
#define OVERRIDE_TTL_MAX (INT64_C(3650) * 86400)

static int
build_request(int argc, char **argv, bool json, char *line, size_t size)
{
	size_t at = 0;
	const char *ttl = "0", *comment = NULL;
	char kv[160], secs[32];
	int64_t ttl_s;
	int rc;

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
		/* Checked here, so that a typo is an error that names it,
		 * and sent as seconds, which every module version reads. */
		if ((rc = tapir_duration_parse(
			     ttl, OVERRIDE_TTL_MAX, &ttl_s)) != 0) {
			fprintf(stderr, "tapir-pop-control: --ttl '%s': %s\n",
				ttl,
				rc == TAPIR_ERANGE
					? "more than 3650 days"
					: "not a duration (seconds, or a "
					  "number with s, m, h or d: 90, "
					  "15m, 2h, 1d)");
			return -2;
		}
		snprintf(secs, sizeof(secs), "%lld", (long long)ttl_s);
		if (append_word(line, size, &at, "override") ||
			append_word(line, size, &at, argv[1]) ||
			append_word(line, size, &at, argv[2]) ||
			append_word(line, size, &at, secs) ||
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

/* Whether $TAPIR_POP_SOCKET names the socket. */
static bool
socket_from_env(void)
{
	const char *env = getenv(TAPIR_CONTROL_SOCKET_ENV);

	return env && env[0];
}

/* control.socket of the configuration at path, or dflt when the file
 * cannot be read or names none (the status of an inactive module is on
 * dflt). The returned text lives until the process ends. */
static const char *
socket_of_config(const char *path, const char *dflt)
{
	static char sock[256];
	struct tapir_error err = { 0 };
	struct tapir_config *cfg = tapir_config_load(path, &err);

	if (!cfg)
		return dflt;
	if (cfg->control.socket)
		snprintf(sock, sizeof(sock), "%s", cfg->control.socket);
	tapir_config_destroy(cfg);
	return sock[0] ? sock : dflt;
}

int
main(int argc, char **argv)
{
	const char *sock = tapir_control_default_socket();
	const char *config = getenv(TAPIR_CONFIG_ENV);
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct answer_sink sink = { 0 };
	struct tapir_buf *out;
	struct tapir_error err = { 0 };
	char line[TAPIR_CONTROL_MAX_LINE];
	int c, rc, cerr;
	bool json = false, quiet = false, sock_given = false, status,
	     answered_error;

	if (!config || !config[0])
		config = TAPIR_DEFAULT_CONFIG;
	sock_given = socket_from_env();
	while ((c = getopt_long(argc, argv, "+s:c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			sock_given = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'c':
			config = optarg;
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
		return check_config(
			argc - optind == 2 ? argv[optind + 1] : config, stdout,
			stderr, NULL);
	}
	if ((rc = build_request(argc - optind, argv + optind, json, line,
		     sizeof(line))) != 0) {
		/* -2: already said what is wrong. */
		if (rc != -2)
			usage(stderr);
		return 2;
	}
	status = argc - optind == 1 && !strcmp(argv[optind], "status");
	/* As unbound-control finds its socket in unbound.conf. */
	if (!sock_given)
		sock = socket_of_config(config, sock);
	sink.keep_whole = status;
	sink.quiet = quiet;
	rc = tapir_control_request_stream(
		sock, line, TAPIR_CONTROL_CLIENT_MS, sink_piece, &sink, &err);
	cerr = errno;
	if (rc == 0 && !sink.decided)
		sink_decide(&sink);
	out = &sink.kept;
	if (rc != 0) {
		/* connect() failed: its errno, and "SOCKET: reason". */
		bool unreachable = rc == TAPIR_EIO &&
				   !strncmp(err.text, sock, strlen(sock)) &&
				   err.text[strlen(sock)] == ':';
		/* What was printed of an answer that did not come whole
		 * ends where it was cut: the error says so after it. */
		fflush(stdout);
		if (status && unreachable)
			explain_unreachable(sock, cerr, config);
		else if (unreachable)
			fprintf(stderr,
				"tapir-pop-control: cannot connect to %s "
				"(tapir-pop-control status tells more)\n",
				err.text);
		else
			fprintf(stderr, "tapir-pop-control: %s\n", err.text);
		tapir_buf_clear(out);
		return unreachable && (cerr == ENOENT || cerr == ECONNREFUSED)
			       ? 3
			       : 2;
	}
	answered_error = sink.error;
	rc = answered_error || (status && status_has_problems(out, json));
	/* In JSON an error is an object after the protocol's "error: ". */
	if (answered_error && json && out->len > 7 && out->data[7] == '{')
		fwrite(out->data + 7, 1, out->len - 7, stdout);
	else if (out->len && !(quiet && rc == 0))
		fwrite(out->data, 1, out->len, stdout);
	tapir_buf_clear(out);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tapir-pop-control: writing the answer: %s\n",
			strerror(errno));
		return 2;
	}
	return rc;
}
