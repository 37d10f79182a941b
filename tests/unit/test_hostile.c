/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hostile-input corpus (tests/hostile/, written by its
 * make-corpus.py and committed): every file fed, on a started engine that
 * holds good state, through the path a user's input really takes, each
 * answered by a counter or a clear error, and the good state unchanged
 * after each one.
 *
 * The engine: an MQTT source (its broker unreachable) whose feed blocked
 * feed-blocked.example and sent allowed.example, a denylist file that
 * blocks list-blocked.example, an allowlist file that allows
 * allowed.example, and two file sources hostile-list (domains) and
 * hostile-rpz (rpz) that the list and rpz cases are written over; a state
 * directory, a control socket and a fake clock at T0 + 60 s.
 *
 * Paths per kind of case:
 *  - json: the payload, signed with tests/hostile/keys/trusted.jwk (whose
 *    public half the engine trusts), handed to the MQTT callback;
 *  - jws: the bytes handed to the MQTT callback as they are;
 *  - name: the name in an observation (JSON-escaped here, bytes over 0x7f
 *    kept raw), signed, handed to the MQTT callback;
 *  - yaml: written over the configuration file, then
 *    tapir-pop-control reload;
 *  - list, rpz: written over the hostile source's file, then the file
 *    check the writer runs (forced, as reload does);
 *  - control: the bytes written to the control socket; "refused" cases
 *    come from an unprivileged peer (tapir_engine_control());
 *  - state: written as the state file, then the load the writer does at
 *    start.
 * tests/hostile/EXPECT says what must answer each file. Every mismatch is
 * reported, then the test fails.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/control.h"
#include "lib/engine.h"
#include "lib/engine_impl.h"
#include "lib/jws.h"
#include "lib/tapir.h"
#include "tests/unit/fixture.h"

#define TOPIC "observations/down/tapir-pop"
/* 2026-07-20T09:15:00Z, as in tests/hostile/make-corpus.py. */
#define T0    INT64_C(1784538900)
#define NOW   (T0 + 60)

static int64_t
fake_clock(void)
{
	return NOW;
}

/* Log lines of the case running: the engine's threads log too. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16]; /* guarded by log_lock */
static size_t log_len;	       /* guarded by log_lock */

static void
capture_log(void *arg, enum tapir_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&log_lock);
	if (log_len < sizeof(log_text) - 1) {
		int n = snprintf(log_text + log_len, sizeof(log_text) - log_len,
			"%s\n", msg);
		if (n > 0)
			log_len += (size_t)n;
		if (log_len > sizeof(log_text) - 1)
			log_len = sizeof(log_text) - 1;
	}
	pthread_mutex_unlock(&log_lock);
}

static void
log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

static bool
log_has(const char *text)
{
	bool has;

	pthread_mutex_lock(&log_lock);
	has = strstr(log_text, text) != NULL;
	pthread_mutex_unlock(&log_lock);
	return has;
}

struct fixture {
	char dir[64];
	char path[8][160]; /* enum paths */
	const char *srcdir;
	struct tapir_signer *signer;
	struct tapir_engine *e;
	char good_yaml[2048];
	char *digest; /* of the good state */
	int failures;
	unsigned cases[9];
};

enum paths { P_YAML, P_GOOD, P_ALLOW, P_HLIST, P_HRPZ, P_SOCK, P_STATE };

/* Names whose decision the good state fixes, and that decision. */
static const struct {
	const char *name;
	enum tapir_action action;
} answers[] = {
	{ "feed-blocked.example", TAPIR_ACTION_NXDOMAIN },
	{ "list-blocked.example", TAPIR_ACTION_NXDOMAIN },
	{ "allowed.example", TAPIR_ACTION_PASSTHRU },
	/* What a case would add were it taken. */
	{ "jws-case.example", TAPIR_ACTION_PASS },
	{ "entry-case.example", TAPIR_ACTION_PASS },
	{ "state-case.example", TAPIR_ACTION_PASS },
	{ "ads.example", TAPIR_ACTION_PASS },
};

/* Counters no hostile case may move: they count changes to the state. */
static const enum tapir_counter unmoved[] = { TAPIR_C_ENTRY_ADDED,
	TAPIR_C_ENTRY_REMOVED, TAPIR_C_DECISION_CHANGES, TAPIR_C_STATE_LOADED,
	TAPIR_C_JOURNAL_REPLAYED };

static void
noop_job(struct tapir_engine *e, void *arg)
{
	(void)e;
	(void)arg;
}

/* Returns once the writer has done everything queued before. */
static void
writer_sync(struct tapir_engine *e)
{
	tapir__eng_run_on_writer(e, noop_job, NULL);
}

static void
files_job(struct tapir_engine *e, void *arg)
{
	(void)arg;
	tapir__eng_files_check(e, true);
}

static void
state_job(struct tapir_engine *e, void *arg)
{
	(void)arg;
	tapir__eng_state_load(e);
}

/* As libmosquitto's thread hands a message of source 0 (dns-tapir). */
static void
mqtt_message(struct fixture *f, const char *payload, size_t len)
{
	tapir__eng_on_mqtt_message(f->e, 0, TOPIC, payload, len);
	writer_sync(f->e);
}

static void
mqtt_signed(struct fixture *f, const char *payload, size_t len)
{
	char *jws = NULL;
	size_t jws_len = 0;

	assert_int_equal(tapir_jws_sign(f->signer, (const uint8_t *)payload,
				 len, false, &jws, &jws_len),
		0);
	mqtt_message(f, jws, jws_len);
	free(jws);
}

static char *
digest(struct fixture *f)
{
	return fixture_command(f->e, "digest");
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tapir_error err = { 0 };
	static const char *const names[] = { "tapir-pop.yaml", "good.txt",
		"allow.txt", "hostile.txt", "hostile.rpz", "ctl.sock",
		"state" };
	char path[512], *jwk, *good;
	size_t len;

	if (!f)
		return -1;
	tapir_log_set(capture_log, NULL);
	f->srcdir = getenv("srcdir");
	if (!f->srcdir)
		f->srcdir = getenv("top_srcdir");
	if (!f->srcdir)
		f->srcdir = ".";
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-hostile-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		snprintf(f->path[i], sizeof(f->path[i]), "%s/%s", f->dir,
			names[i]);
	if (mkdir(f->path[P_STATE], 0700) != 0)
		return -1;
	*state = f;

	snprintf(path, sizeof(path), "%s/tests/hostile/keys/trusted.jwk",
		f->srcdir);
	jwk = fixture_read_file(path, &len);
	if (!(f->signer = tapir_signer_load(jwk, len, &err)))
		fail_msg("%s: %s", path, err.text);
	free(jwk);

	fixture_write_file(f->path[P_GOOD], "list-blocked.example\n");
	fixture_write_file(f->path[P_ALLOW], "allowed.example\n");
	fixture_write_file(f->path[P_HLIST], "");
	fixture_write_file(f->path[P_HRPZ], "");
	snprintf(f->good_yaml, sizeof(f->good_yaml),
		"mqtt:\n"
		"  broker: mqtt://127.0.0.1:1\n"
		"  reconnect-min: 1\n"
		"  reconnect-max: 2\n"
		"keys: %s/tests/hostile/keys/trusted.jwks\n"
		"state-dir: %s\n"
		"control:\n"
		"  socket: %s\n"
		"sources:\n"
		"  - name: dns-tapir\n"
		"    type: mqtt\n"
		"    list: doubtlist\n"
		"    topics: [" TOPIC "]\n"
		"  - name: good-list\n"
		"    type: file\n"
		"    list: denylist\n"
		"    path: %s\n"
		"    refresh: 3600\n"
		"  - name: allow\n"
		"    type: file\n"
		"    list: allowlist\n"
		"    path: %s\n"
		"    refresh: 3600\n"
		"  - name: hostile-list\n"
		"    type: file\n"
		"    list: denylist\n"
		"    path: %s\n"
		"    refresh: 3600\n"
		"  - name: hostile-rpz\n"
		"    type: file\n"
		"    list: denylist\n"
		"    format: rpz\n"
		"    origin: rpz.example\n"
		"    path: %s\n"
		"    refresh: 3600\n"
		"policy:\n"
		"  doubtlist:\n"
		"    denytapir: { tags: [likelymalware], action: NXDOMAIN }\n"
		"limits:\n"
		"  max-message-size: 65536\n",
		f->srcdir, f->path[P_STATE], f->path[P_SOCK], f->path[P_GOOD],
		f->path[P_ALLOW], f->path[P_HLIST], f->path[P_HRPZ]);
	fixture_write_file(f->path[P_YAML], f->good_yaml);
	f->e = tapir_engine_create(f->path[P_YAML]);
	assert_non_null(f->e);
	assert_true(tapir_engine_active(f->e));
	tapir_engine_set_clock(f->e, fake_clock);
	assert_int_equal(tapir_engine_start(f->e), 0);
	writer_sync(f->e);

	/* The feed's good message. */
	good = "{\"src_name\":\"dns-tapir\",\"creator\":\"unit-test\","
	       "\"msg_type\":\"observation\",\"list_type\":\"doubtlist\","
	       "\"added\":[{\"name\":\"feed-blocked.example\","
	       "\"time_added\":\"2026-07-20T09:15:00Z\",\"ttl\":86400,"
	       "\"tag_mask\":16,\"extended_tags\":[]},"
	       "{\"name\":\"allowed.example\","
	       "\"time_added\":\"2026-07-20T09:15:00Z\",\"ttl\":86400,"
	       "\"tag_mask\":16,\"extended_tags\":[]}],"
	       "\"removed\":[],\"msg\":\"\","
	       "\"timestamp\":\"2026-07-20T09:15:00Z\",\"time_str\":\"\"}";
	mqtt_signed(f, good, strlen(good));
	assert_int_equal(tapir_engine_counter(f->e, TAPIR_C_MSG_ACCEPTED), 1);
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if (tapir_engine_decide(f->e, answers[i].name,
			    strlen(answers[i].name), NULL) != answers[i].action)
			fail_msg("good state: %s is not %s", answers[i].name,
				tapir_action_str(answers[i].action));
	f->digest = digest(f);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	tapir_engine_destroy(f->e);
	tapir_signer_destroy(f->signer);
	free(f->digest);
	tapir_log_set(NULL, NULL);
	/* What the engine left in its private directory (state, journal,
	 * overrides): nothing of anyone else's is under it. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static void
report(struct fixture *f, const char *file, const char *fmt, ...)
{
	va_list ap;

	f->failures++;
	fprintf(stderr, "FINDING %s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* An observation of one name, the name's bytes escaped for JSON. */
static char *
name_message(const char *name, size_t len)
{
	size_t size = 512 + 6 * len;
	char *s = malloc(size), *p;

	assert_non_null(s);
	p = s + snprintf(s, size,
			"{\"src_name\":\"dns-tapir\",\"creator\":\"hostile\","
			"\"msg_type\":\"observation\","
			"\"list_type\":\"doubtlist\",\"added\":[{\"name\":\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '"' || c == '\\')
			p += sprintf(p, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			p += sprintf(p, "\\u%04x", c);
		else
			*p++ = (char)c;
	}
	snprintf(p, size - (size_t)(p - s),
		"\",\"time_added\":\"2026-07-20T09:15:00Z\",\"ttl\":3600,"
		"\"tag_mask\":16,\"extended_tags\":[]}],\"removed\":[],"
		"\"msg\":\"\",\"timestamp\":\"2026-07-20T09:15:00Z\","
		"\"time_str\":\"\"}");
	return s;
}

/* The answer of the control socket to bytes sent as they are. */
static char *
socket_request(struct fixture *f, const char *data, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tapir_buf out = { 0 };
	char buf[4096];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(f->path[P_SOCK]) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->path[P_SOCK], strlen(f->path[P_SOCK]) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The server stops reading at its line limit: the rest may not go. */
	for (size_t at = 0; at < len; at += (size_t)n) {
		n = send(fd, data + at, len - at, MSG_NOSIGNAL);
		if (n <= 0)
			break;
	}
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		tapir_buf_append(&out, buf, (size_t)n);
	close(fd);
	assert_false(out.failed);
	return out.data ? out.data : strdup("");
}

static bool
is_error(const char *answer, const char *text)
{
	return strncmp(answer, "error:", 6) == 0 && strlen(answer) > 8 &&
	       strstr(answer, text) != NULL;
}

static int
counter_of(const char *name)
{
	for (int c = 0; c < TAPIR_C_COUNT; c++)
		if (!strcmp(tapir_counter_str(c), name))
			return c;
	return -1;
}

static const char *const kinds[] = { "json", "jws", "name", "yaml", "list",
	"rpz", "control", "state" };

static void
run_case(
	struct fixture *f, const char *file, const char *what, const char *text)
{
	uint64_t before[TAPIR_C_COUNT];
	char path[512], *data, *answer = NULL, *now;
	size_t len, kind;
	int want = -1;

	snprintf(path, sizeof(path), "%s/tests/hostile/%s", f->srcdir, file);
	data = fixture_read_file(path, &len);
	for (kind = 0; kind < sizeof(kinds) / sizeof(kinds[0]); kind++)
		if (!strncmp(file, kinds[kind], strlen(kinds[kind])) &&
			file[strlen(kinds[kind])] == '/')
			break;
	if (kind == sizeof(kinds) / sizeof(kinds[0]))
		fail_msg("%s: no such kind", file);
	f->cases[kind]++;
	if (strcmp(what, "error") && strcmp(what, "refused") &&
		(want = counter_of(what)) < 0)
		fail_msg("%s: no counter %s", file, what);
	for (int c = 0; c < TAPIR_C_COUNT; c++)
		before[c] = tapir_engine_counter(f->e, c);
	log_reset();

	if (!strcmp(kinds[kind], "json")) {
		mqtt_signed(f, data, len);
	} else if (!strcmp(kinds[kind], "jws")) {
		mqtt_message(f, data, len);
	} else if (!strcmp(kinds[kind], "name")) {
		char *m = name_message(data, len);
		mqtt_signed(f, m, strlen(m));
		free(m);
	} else if (!strcmp(kinds[kind], "yaml")) {
		fixture_write_bytes(f->path[P_YAML], data, len);
		answer = fixture_command(f->e, "reload");
		fixture_write_file(f->path[P_YAML], f->good_yaml);
	} else if (!strcmp(kinds[kind], "list") ||
		   !strcmp(kinds[kind], "rpz")) {
		fixture_write_bytes(
			f->path[!strcmp(kinds[kind], "list") ? P_HLIST
							     : P_HRPZ],
			data, len);
		tapir__eng_run_on_writer(f->e, files_job, NULL);
	} else if (!strcmp(kinds[kind], "control") &&
		   !strcmp(what, "refused")) {
		/* A line, as the socket's reader hands it on. */
		if (len && data[len - 1] == '\n')
			data[--len] = '\0';
		answer = fixture_control(f->e, data, false);
		want = TAPIR_C_CONTROL_REFUSED;
	} else if (!strcmp(kinds[kind], "control")) {
		answer = socket_request(f, data, len);
	} else {
		char sp[256];
		snprintf(
			sp, sizeof(sp), "%s/tapir-pop.state", f->path[P_STATE]);
		fixture_write_bytes(sp, data, len);
		tapir__eng_run_on_writer(f->e, state_job, NULL);
		unlink(sp);
	}

	/* What answered it, for the log of the test. */
	if (answer) {
		printf("%s: %.*s\n", file, (int)strcspn(answer, "\n"), answer);
	} else if (want >= 0) {
		pthread_mutex_lock(&log_lock);
		printf("%s: %s +%llu; %.*s\n", file, what,
			(unsigned long long)(tapir_engine_counter(f->e, want) -
					     before[want]),
			(int)strcspn(log_text, "\n"), log_text);
		pthread_mutex_unlock(&log_lock);
	}
	/* (a) rejected, by an error or a counter, with the reason given. */
	if (answer && !is_error(answer, text))
		report(f, file, "answer '%.200s', expected an error with '%s'",
			answer, text);
	if (want >= 0) {
		uint64_t n = tapir_engine_counter(f->e, want);
		if (n <= before[want]) {
			report(f, file, "counter %s did not move", what);
			for (int c = 0; c < TAPIR_C_COUNT; c++)
				if (tapir_engine_counter(f->e, c) != before[c])
					fprintf(stderr, "  %s moved\n",
						tapir_counter_str(c));
		}
		if (text[0] && !answer && !log_has(text))
			report(f, file, "no log line with '%s' in:\n%s", text,
				log_text);
	}
	/* (b) the good state unchanged. */
	for (size_t i = 0; i < sizeof(unmoved) / sizeof(unmoved[0]); i++)
		if (tapir_engine_counter(f->e, unmoved[i]) !=
			before[unmoved[i]])
			report(f, file, "counter %s moved",
				tapir_counter_str(unmoved[i]));
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if (tapir_engine_decide(f->e, answers[i].name,
			    strlen(answers[i].name), NULL) != answers[i].action)
			report(f, file, "decision for %s changed",
				answers[i].name);
	now = digest(f);
	if (strcmp(now, f->digest) != 0)
		report(f, file, "digest changed:\n%s\nwas:\n%s", now,
			f->digest);
	free(now);
	free(answer);
	free(data);
}

static void
test_hostile_corpus(void **state)
{
	struct fixture *f = *state;
	char path[512], *expect, *line, *save = NULL;
	size_t len, total = 0;

	snprintf(path, sizeof(path), "%s/tests/hostile/EXPECT", f->srcdir);
	expect = fixture_read_file(path, &len);
	for (line = strtok_r(expect, "\n", &save); line;
		line = strtok_r(NULL, "\n", &save)) {
		char *file, *what, *text;
		if (line[0] == '#')
			continue;
		file = line;
		if (!(what = strchr(file, '\t')))
			fail_msg("EXPECT: no tab in '%s'", line);
		*what++ = '\0';
		if (!(text = strchr(what, '\t')))
			fail_msg("EXPECT: one tab only in '%s'", file);
		*text++ = '\0';
		run_case(f, file, what, text);
		total++;
	}
	free(expect);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		printf("%-8s %u cases\n", kinds[k], f->cases[k]);
		/* Every kind is exercised, not just listed. */
		assert_true(f->cases[k] >= 15);
	}
	printf("%zu cases, %d findings\n", total, f->failures);
	assert_true(total >= 200);
	assert_int_equal(f->failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_hostile_corpus, setup, teardown),
	};

	return cmocka_run_group_tests(tests, fixture_group_setup, NULL);
}
