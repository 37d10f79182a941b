/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lib/control.c: the answer buffer grows without losing bytes, a
 * request travels to the handler and its answer back over a real Unix
 * socket in a private temporary directory, and the server defends itself:
 * over-long requests, NUL bytes, an empty line and silent clients get
 * bounded treatment. A long answer goes out in pieces while it is made,
 * each piece and the whole with a deadline, and a client that leaves or
 * stops reading stops the command; the client takes an answer that keeps
 * coming past its first deadline.
 * The socket gets the requested mode and is removed on destroy; a stale
 * socket is replaced but one another process serves is left alone. The
 * default socket honours $TAPIR_POP_SOCKET; a client that cannot connect
 * gets connect()'s errno.
 */
#include "tapir_build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/control.h"
#include "lib/tapir.h"

/* Slack over the server's deadline for reading a request. */
#define SLACK_MS 1000

struct fixture {
	char dir[64];
	char path[128];
	struct tapir_control *c;
	_Atomic int calls; /* handler calls, made on the control thread */
	struct tapir_control_peer peer; /* of the last call */
	/* Answers in pieces: the client has the first piece; what the
	 * handler saw. */
	atomic_bool got_first, handler_done, handler_failed;
	_Atomic size_t pieces, held_after_flush;
	int raw_fd; /* a client the teardown closes, -1: none */
};

/* A socket of mode, owned by this process, no privileged group. */
static const struct tapir_control_opts *
opts_mode(unsigned mode)
{
	static struct tapir_control_opts o;

	o = (struct tapir_control_opts){ .mode = mode,
		.owner = (uid_t)-1,
		.group = (gid_t)-1,
		.admin_group = (gid_t)-1 };
	return &o;
}

static void
quiet_log(void *arg, enum tapir_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

/* Three pieces of 1000 lines; the second is made only once the client
 * has the first (or 3 s have passed), as a command that streams its
 * answer makes the next piece while the client reads. */
static void
pieces(struct fixture *f, struct tapir_buf *out)
{
	struct timespec ts = { 0, 10 * 1000000 };

	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 1000; i++)
			tapir_buf_printf(out, "piece %d line %03d\n", k, i);
		if (tapir_buf_flush(out) != 0)
			return;
		f->pieces++;
		f->held_after_flush = out->len;
		for (int w = 0; k == 0 && !f->got_first && w < 300; w++)
			nanosleep(&ts, NULL);
		if (k == 0 && !f->got_first)
			tapir_buf_printf(out,
				"the first piece never reached the client\n");
	}
}

/* 1 MiB pieces, more than a socket buffer holds, up to 64 MiB in all,
 * until a flush fails. */
static void
endless(struct fixture *f, struct tapir_buf *out)
{
	static char piece[1024 * 1024];

	memset(piece, 'x', sizeof(piece));
	for (int i = 0; i < 64; i++) {
		tapir_buf_append(out, piece, sizeof(piece));
		if (tapir_buf_flush(out) != 0)
			break;
		f->pieces++;
	}
	f->handler_failed = out->failed;
	f->handler_done = true;
}

/* Answers "you said: LINE", or a large answer for "big". */
static void
echo(void *arg, const char *line, const struct tapir_control_peer *peer,
	struct tapir_buf *out)
{
	struct fixture *f = arg;

	f->calls++;
	f->peer = *peer;
	if (strcmp(line, "slow") == 0) {
		/* Longer than reading a request may take, well within what
		 * a command may run (a reload waiting for the writer). */
		struct timespec ts = { 2, 500 * 1000000 };
		nanosleep(&ts, NULL);
		tapir_buf_printf(out, "slept\n");
		return;
	}
	if (strcmp(line, "big") == 0) {
		for (int i = 0; i < 10000; i++)
			tapir_buf_printf(out, "line %05d\n", i);
		return;
	}
	if (strcmp(line, "pieces") == 0) {
		pieces(f, out);
		return;
	}
	if (strcmp(line, "endless") == 0) {
		endless(f, out);
		return;
	}
	if (strcmp(line, "drip") == 0) {
		/* Six pieces, 300 ms apart. */
		struct timespec ts = { 0, 300 * 1000000 };
		for (int i = 0; i < 6; i++) {
			if (i)
				nanosleep(&ts, NULL);
			tapir_buf_printf(out, "drop %d\n", i);
			if (tapir_buf_flush(out) != 0)
				break;
		}
		f->handler_failed = out->failed;
		f->handler_done = true;
		return;
	}
	tapir_buf_printf(out, "you said: %s\n", line);
}

static int
setup_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tapir-ctl-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->raw_fd = -1;
	tapir_log_set(quiet_log, NULL);
	*state = f;
	return 0;
}

static int
setup_server(void **state)
{
	struct tapir_error err = { 0 };
	struct fixture *f;

	if (setup_dir(state) != 0)
		return -1;
	f = *state;
	if (!(f->c = tapir_control_create(
		      f->path, opts_mode(0600), echo, f, NULL, &err))) {
		print_error("tapir_control_create: %s\n", err.text);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* Before the server stops: it may be sending to this client. */
	if (f->raw_fd >= 0)
		close(f->raw_fd);
	tapir_control_destroy(f->c);
	unlink(f->path);
	rmdir(f->dir);
	tapir_log_set(NULL, NULL);
	free(f);
	return 0;
}

/* A raw client: connect, send bytes as given, no newline added. */
static int
raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Reads until the server closes (or 5 s pass). */
static void
raw_read_all(int fd, struct tapir_buf *out)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;
		assert_int_equal(poll(&p, 1, 5000), 1);
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		tapir_buf_append(out, buf, (size_t)n);
	}
}

static void
test_buf_append_grows_past_initial_size(void **state)
{
	struct tapir_buf b = { 0 };

	(void)state;
	for (int i = 0; i < 1000; i++)
		tapir_buf_append(&b, "ab", 2);
	assert_false(b.failed);
	assert_int_equal(b.len, 2000);
	assert_true(b.cap >= b.len + 1);
	assert_int_equal(strlen(b.data), 2000);
	for (size_t i = 0; i < b.len; i += 2)
		assert_memory_equal(b.data + i, "ab", 2);
	tapir_buf_clear(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void
test_buf_append_keeps_embedded_bytes(void **state)
{
	struct tapir_buf b = { 0 };

	(void)state;
	tapir_buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	tapir_buf_clear(&b);
}

static void
test_buf_printf_big_formatted_string(void **state)
{
	struct tapir_buf b = { 0 };
	char big[3001];

	(void)state;
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tapir_buf_printf(&b, "head ");
	/* Over the 512-byte stack buffer: the heap path. */
	tapir_buf_printf(&b, "<%s|%d>", big, 42);
	tapir_buf_printf(&b, " tail %u", 7u);
	assert_false(b.failed);
	assert_int_equal(b.len, 5 + 1 + 3000 + 4 + 7);
	assert_int_equal(strncmp(b.data, "head <qqq", 9), 0);
	assert_string_equal(b.data + 5 + 1 + 3000, "|42> tail 7");
	tapir_buf_clear(&b);
}

static void
test_buf_printf_at_stack_buffer_boundary(void **state)
{
	struct tapir_buf b = { 0 };

	(void)state;
	/* 511, 512 and 513 bytes: either side of the stack buffer. */
	for (int n = 511; n <= 513; n++) {
		tapir_buf_printf(&b, "%*s", n, "x");
		assert_int_equal(b.len, (size_t)n);
		assert_int_equal(strlen(b.data), (size_t)n);
		assert_int_equal(b.data[n - 1], 'x');
		tapir_buf_clear(&b);
	}
}

static void
test_request_round_trip(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };

	assert_int_equal(
		tapir_control_request(f->path, "status", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: status\n");
	tapir_buf_clear(&out);
}

static void
test_request_large_answer_arrives_whole(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };

	assert_int_equal(
		tapir_control_request(f->path, "big", 5000, &out, &err), 0);
	assert_int_equal(out.len, 10000 * 11);
	assert_int_equal(strncmp(out.data, "line 00000\n", 11), 0);
	assert_string_equal(out.data + 9999 * 11, "line 09999\n");
	tapir_buf_clear(&out);
}

static void
test_request_trailing_cr_is_stripped(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };

	assert_int_equal(
		tapir_control_request(f->path, "stats\r", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: stats\n");
	tapir_buf_clear(&out);
}

static void
test_server_rejects_request_over_max_line(void **state)
{
	struct fixture *f = *state;
	struct tapir_buf out = { 0 };
	size_t n = TAPIR_CONTROL_MAX_LINE + 100;
	char *big = malloc(n);
	int fd;

	assert_non_null(big);
	memset(big, 'a', n);
	fd = raw_connect(f->path);
	/* The server stops reading at the limit; the rest may bounce. */
	(void)send(fd, big, n, MSG_NOSIGNAL);
	raw_read_all(fd, &out);
	close(fd);
	free(big);
	assert_non_null(out.data);
	assert_int_equal(strncmp(out.data, "error:", 6), 0);
	assert_int_equal(f->calls, 0);
	tapir_buf_clear(&out);
}

static void
test_client_refuses_request_over_max_line(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	char *big = malloc(TAPIR_CONTROL_MAX_LINE + 1);

	assert_non_null(big);
	memset(big, 'a', TAPIR_CONTROL_MAX_LINE);
	big[TAPIR_CONTROL_MAX_LINE] = '\0';
	assert_int_equal(tapir_control_request(f->path, big, 5000, &out, &err),
		TAPIR_EINVAL);
	free(big);
	tapir_buf_clear(&out);
}

static void
test_server_rejects_nul_byte_in_request(void **state)
{
	struct fixture *f = *state;
	struct tapir_buf out = { 0 };
	int fd = raw_connect(f->path);

	assert_int_equal(send(fd, "sta\0tus\n", 8, MSG_NOSIGNAL), 8);
	raw_read_all(fd, &out);
	close(fd);
	assert_non_null(out.data);
	assert_int_equal(strncmp(out.data, "error:", 6), 0);
	assert_non_null(strstr(out.data, "NUL"));
	assert_int_equal(f->calls, 0);
	tapir_buf_clear(&out);
}

/* "\n" alone: an empty request, answered by the handler like any other
 * (it says "error: unknown command"); the server never looks before the
 * line for a '\r' to strip (under ASan that read is a stack underflow). */
static void
test_server_answers_empty_request(void **state)
{
	struct fixture *f = *state;
	struct tapir_buf out = { 0 };
	int fd = raw_connect(f->path);

	assert_int_equal(send(fd, "\n", 1, MSG_NOSIGNAL), 1);
	raw_read_all(fd, &out);
	close(fd);
	assert_non_null(out.data);
	assert_string_equal(out.data, "you said: \n");
	assert_int_equal(f->calls, 1);
	tapir_buf_clear(&out);
}

static void
test_silent_client_delays_next_by_deadline_at_most(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	int64_t t0, took;
	int silent = raw_connect(f->path);

	t0 = tapir_monotonic_ms();
	assert_int_equal(
		tapir_control_request(f->path, "after", 10000, &out, &err), 0);
	took = tapir_monotonic_ms() - t0;
	close(silent);
	assert_string_equal(out.data, "you said: after\n");
	assert_true(took < TAPIR_CONTROL_READ_MS + SLACK_MS);
	tapir_buf_clear(&out);
}

/* A command that runs longer than a request may take to read still gets
 * its whole answer to the client: each phase has its own deadline. */
static void
test_slow_command_answer_arrives(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	int rc = tapir_control_request(f->path, "slow", 10000, &out, &err);

	if (rc != 0)
		fail_msg("request: %s", err.text);
	assert_non_null(out.data);
	assert_string_equal(out.data, "slept\n");
	tapir_buf_clear(&out);
}

/* Waits up to ms for the handler to finish. */
static bool
handler_done_within(struct fixture *f, int ms)
{
	struct timespec ts = { 0, 10 * 1000000 };

	for (int i = 0; i < ms / 10 && !f->handler_done; i++)
		nanosleep(&ts, NULL);
	return f->handler_done;
}

/* A long answer goes to the client piece by piece while the command makes
 * it: the client has the first piece before the second is made, and the
 * buffer holds one piece at a time. */
static void
test_long_answer_reaches_the_client_while_it_is_made(void **state)
{
	struct fixture *f = *state;
	struct tapir_buf out = { 0 };
	int fd = raw_connect(f->path);
	const char *first_end = "piece 0 line 999\n";

	assert_int_equal(send(fd, "pieces\n", 7, MSG_NOSIGNAL), 7);
	while (!out.data || !strstr(out.data, first_end)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;
		if (poll(&p, 1, 5000) != 1)
			fail_msg("no first piece within 5 s");
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		tapir_buf_append(&out, buf, (size_t)n);
	}
	f->got_first = true;
	raw_read_all(fd, &out);
	close(fd);
	assert_non_null(out.data);
	if (strstr(out.data, "never reached"))
		fail_msg("the answer came whole at the end, not in pieces");
	assert_int_equal(f->pieces, 3);
	assert_int_equal(f->held_after_flush, 0);
	/* Every line, in order, then the end mark. */
	assert_int_equal(out.len, 3 * 1000 * 17 + 1);
	assert_int_equal(out.data[out.len - 1], '\0');
	assert_int_equal(
		strncmp(out.data + 1000 * 17, "piece 1 line 000\n", 17), 0);
	tapir_buf_clear(&out);
}

/* A client that leaves makes the next flush fail, and the command stops
 * instead of making the rest of its answer for nobody. */
static void
test_streamed_answer_stops_when_the_client_leaves(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	int fd = raw_connect(f->path);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(send(fd, "endless\n", 8, MSG_NOSIGNAL), 8);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	close(fd);
	assert_true(handler_done_within(f, 10000));
	if (!f->handler_failed)
		fail_msg("every flush succeeded: %zu pieces made for nobody",
			(size_t)f->pieces);
	assert_true(f->pieces < 64);
}

/* A client that stops reading is given up on after the deadline of one
 * piece, and the server serves the next client. */
static void
test_streamed_answer_to_a_stalled_client_ends_at_the_piece_deadline(
	void **state)
{
	struct fixture *f = *state;
	struct tapir_control_opts o = *opts_mode(0600);
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	int64_t t0;
	int fd;

	o.send_ms = 300;
	f->c = tapir_control_create(f->path, &o, echo, f, NULL, &err);
	assert_non_null(f->c);
	f->raw_fd = fd = raw_connect(f->path);
	t0 = tapir_monotonic_ms();
	assert_int_equal(send(fd, "endless\n", 8, MSG_NOSIGNAL), 8);
	assert_true(handler_done_within(f, 10000));
	if (!f->handler_failed)
		fail_msg("every flush succeeded: %zu pieces for a client that "
			 "reads nothing",
			(size_t)f->pieces);
	assert_true(tapir_monotonic_ms() - t0 < 300 + 2000);
	assert_int_equal(
		tapir_control_request(f->path, "after", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: after\n");
	tapir_buf_clear(&out);
}

/* The whole of an answer in pieces has a deadline too: past it, the
 * client gets a cut answer, and the command is told to stop. */
static void
test_streamed_answer_ends_at_the_answer_deadline(void **state)
{
	struct fixture *f = *state;
	struct tapir_control_opts o = *opts_mode(0600);
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	int rc;

	o.answer_ms = 500;
	f->c = tapir_control_create(f->path, &o, echo, f, NULL, &err);
	assert_non_null(f->c);
	rc = tapir_control_request(f->path, "drip", 5000, &out, &err);
	assert_true(handler_done_within(f, 5000));
	assert_int_equal(rc, TAPIR_EIO);
	assert_non_null(strstr(err.text, "cut"));
	assert_true(f->handler_failed);
	tapir_buf_clear(&out);
}

/* The client's deadline is for the answer to begin: one that keeps
 * coming in pieces may take longer. */
static void
test_client_takes_a_streamed_answer_longer_than_its_deadline(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	int rc = tapir_control_request(f->path, "drip", 1000, &out, &err);

	if (rc != 0)
		fail_msg("request: %s", err.text);
	assert_string_equal(
		out.data, "drop 0\ndrop 1\ndrop 2\ndrop 3\ndrop 4\ndrop 5\n");
	tapir_buf_clear(&out);
}

/* A server of our own that answers answer[0..len) and closes: what a
 * module that gave up half-way, or never answered, looks like. */
struct fake_server {
	int fd;
	const char *answer;
	size_t len;
	pthread_t thread;
};

static void *
fake_serve(void *arg)
{
	struct fake_server *fs = arg;
	char buf[256];
	int fd = accept(fs->fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	/* The request line, then the answer; a failure shows in the
	 * client's result. */
	if (read(fd, buf, sizeof(buf)) > 0 && fs->len &&
		send(fd, fs->answer, fs->len, MSG_NOSIGNAL) < 0)
		fs->len = 0;
	close(fd);
	return NULL;
}

static void
fake_start(struct fake_server *fs, const char *path, const char *answer,
	size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	fs->answer = answer;
	fs->len = len;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fs->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fs->fd >= 0);
	assert_int_equal(bind(fs->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fs->fd, 1), 0);
	assert_int_equal(pthread_create(&fs->thread, NULL, fake_serve, fs), 0);
}

static void
fake_stop(struct fake_server *fs)
{
	pthread_join(fs->thread, NULL);
	close(fs->fd);
}

/* The connection closed with nothing said: an error, never an empty
 * success. */
static void
test_client_fails_on_empty_answer(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	struct fake_server fs;
	int rc;

	fake_start(&fs, f->path, "", 0);
	rc = tapir_control_request(f->path, "reload", 5000, &out, &err);
	fake_stop(&fs);
	assert_int_equal(rc, TAPIR_EIO);
	assert_non_null(strstr(err.text, "no answer"));
	assert_int_equal(out.len, 0);
	tapir_buf_clear(&out);
}

/* Lines that stop without the end of the answer: cut, whatever they
 * look like. */
static void
test_client_fails_on_cut_answer(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	struct fake_server fs;
	static const char part[] = "a.example NXDOMAIN denylist\n";
	int rc;

	fake_start(&fs, f->path, part, sizeof(part) - 1);
	rc = tapir_control_request(f->path, "list", 5000, &out, &err);
	fake_stop(&fs);
	assert_int_equal(rc, TAPIR_EIO);
	assert_non_null(strstr(err.text, "cut"));
	assert_int_equal(out.len, 0);
	tapir_buf_clear(&out);
}

/* What a streaming client was handed: the bytes, and the largest piece. */
struct pieces {
	struct tapir_buf all;
	size_t largest, count;
};

static int
take_piece(void *arg, const char *data, size_t len)
{
	struct pieces *p = arg;

	tapir_buf_append(&p->all, data, len);
	if (len > p->largest)
		p->largest = len;
	p->count++;
	return 0;
}

static void
test_stream_hands_over_pieces_without_the_end_mark(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct pieces p = { 0 };

	assert_int_equal(tapir_control_request_stream(
				 f->path, "big", 5000, take_piece, &p, &err),
		0);
	/* The whole answer, in more than one piece, none over one read. */
	assert_int_equal(p.all.len, 10000 * 11);
	assert_null(memchr(p.all.data, '\0', p.all.len));
	assert_int_equal(strncmp(p.all.data, "line 00000\n", 11), 0);
	assert_int_equal(
		strncmp(p.all.data + 9999 * 11, "line 09999\n", 11), 0);
	assert_true(p.count > 1);
	assert_true(p.largest <= 4096);
	tapir_buf_clear(&p.all);
}

static void
test_stream_of_cut_answer_fails_after_its_pieces(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct fake_server fs;
	struct pieces p = { 0 };
	static const char part[] = "a.example NXDOMAIN denylist\n";
	int rc;

	fake_start(&fs, f->path, part, sizeof(part) - 1);
	rc = tapir_control_request_stream(
		f->path, "list", 5000, take_piece, &p, &err);
	fake_stop(&fs);
	assert_int_equal(rc, TAPIR_EIO);
	assert_non_null(strstr(err.text, "cut"));
	/* All but the byte that might have been the end mark. */
	assert_int_equal(p.all.len, sizeof(part) - 2);
	tapir_buf_clear(&p.all);
}

static void
test_socket_gets_requested_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void
test_socket_gets_requested_mode_0660(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct stat st;

	f->c = tapir_control_create(
		f->path, opts_mode(0660), echo, f, NULL, &err);
	assert_non_null(f->c);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
}

/*
 * The socket appears at its path whole: bound elsewhere, given its mode
 * and owner there, then renamed into place (IN_MOVED_TO). A socket bound
 * at its path (IN_CREATE) is there, with the mode bind() gave it, until
 * a chmod() that comes after: another user may connect in between.
 */
static void
test_socket_appears_at_path_only_when_ready(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	char buf[4096] __attribute__((aligned(8)));
	bool created = false, moved = false;
	ssize_t n;
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	assert_true(in >= 0);
	assert_true(
		inotify_add_watch(in, f->dir, IN_CREATE | IN_MOVED_TO) >= 0);
	f->c = tapir_control_create(
		f->path, opts_mode(0600), echo, f, NULL, &err);
	assert_non_null(f->c);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			if (ev->len && !strcmp(ev->name, "ctl.sock")) {
				created |= (ev->mask & IN_CREATE) != 0;
				moved |= (ev->mask & IN_MOVED_TO) != 0;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	close(in);
	if (created)
		fail_msg("the socket was bound at %s before its mode was set",
			f->path);
	assert_true(moved);
}

/* The handler learns from the kernel who called: here, this process. */
static void
test_handler_gets_the_peer(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };

	assert_int_equal(
		tapir_control_request(f->path, "who", 5000, &out, &err), 0);
	tapir_buf_clear(&out);
	assert_int_equal(f->peer.pid, getpid());
	assert_int_equal(f->peer.uid, geteuid());
	assert_int_equal(f->peer.gid, getegid());
	/* This process's own user. */
	assert_true(f->peer.privileged);
}

#define OTHER_UID   65534 /* nobody */
#define OTHER_GID   65534
#define ADMIN_GROUP 4242

/* In a child, as OTHER_UID with gid and the supplementary groups given:
 * a request; exits 0 when the peer was privileged, 1 when not, 2 when
 * something else went wrong. */
static int
request_as(struct fixture *f, gid_t gid, const gid_t *groups, size_t n)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct tapir_error err = { 0 };
		struct tapir_buf out = { 0 };
		if (setgroups(n, groups) != 0 || setgid(gid) != 0 ||
			setuid(OTHER_UID) != 0)
			_exit(2);
		if (tapir_control_request(f->path, "who", 5000, &out, &err))
			_exit(2);
		_exit(!strcmp(out.data, "privileged\n") ? 0
			: !strcmp(out.data, "not\n")	? 1
							: 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
who(void *arg, const char *line, const struct tapir_control_peer *peer,
	struct tapir_buf *out)
{
	(void)arg;
	(void)line;
	tapir_buf_printf(out, "%s\n", peer->privileged ? "privileged" : "not");
}

/* Root, this process's user and members of the admin group, by their
 * primary group or a supplementary one, are privileged; another user
 * who reaches the socket is not. Needs root, to be another user. */
static void
test_peer_privileged_by_user_and_group(void **state)
{
	struct fixture *f = *state;
	struct tapir_control_opts o = { .mode = 0666,
		.owner = (uid_t)-1,
		.group = (gid_t)-1,
		.admin_group = ADMIN_GROUP };
	struct tapir_error err = { 0 };
	gid_t groups[3] = { 100, ADMIN_GROUP, 101 };

	if (geteuid() != 0)
		skip();
	/* The other user must reach the socket. */
	assert_int_equal(chmod(f->dir, 0711), 0);
	f->c = tapir_control_create(f->path, &o, who, f, NULL, &err);
	assert_non_null(f->c);
	assert_int_equal(request_as(f, OTHER_GID, NULL, 0), 1);
	assert_int_equal(request_as(f, OTHER_GID, groups, 1), 1);
	assert_int_equal(request_as(f, OTHER_GID, groups, 3), 0);
	assert_int_equal(request_as(f, ADMIN_GROUP, NULL, 0), 0);
	/* Without an admin group, only root and this process's user. */
	tapir_control_destroy(f->c);
	o.admin_group = (gid_t)-1;
	f->c = tapir_control_create(f->path, &o, who, f, NULL, &err);
	assert_non_null(f->c);
	assert_int_equal(request_as(f, ADMIN_GROUP, groups, 3), 1);
}

/* The owner and group asked for, or, when this process may not give the
 * socket away, its own with chown()'s errno; served either way. */
static void
test_socket_gets_requested_owner_and_group(void **state)
{
	struct fixture *f = *state;
	struct tapir_control_opts o = { .mode = 0660,
		.owner = OTHER_UID,
		.group = ADMIN_GROUP,
		.admin_group = ADMIN_GROUP };
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	struct stat st;
	int owner_err = -1;

	f->c = tapir_control_create(f->path, &o, echo, f, &owner_err, &err);
	assert_non_null(f->c);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	if (geteuid() == 0) {
		assert_int_equal(owner_err, 0);
		assert_int_equal(st.st_uid, OTHER_UID);
		assert_int_equal(st.st_gid, ADMIN_GROUP);
	} else {
		assert_int_equal(owner_err, EPERM);
		assert_int_equal(st.st_uid, geteuid());
	}
	assert_int_equal(
		tapir_control_request(f->path, "x", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: x\n");
	tapir_buf_clear(&out);
}

/* Nothing is left beside the socket: the temporary directory it was
 * made in is gone. */
static void
test_create_leaves_nothing_beside_the_socket(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	DIR *d = opendir(f->dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		assert_string_equal(de->d_name, "ctl.sock");
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void
test_destroy_removes_socket_file(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	tapir_control_destroy(f->c);
	f->c = NULL;
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_create_replaces_stale_file(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	FILE *stale = fopen(f->path, "w");

	assert_non_null(stale);
	fclose(stale);
	f->c = tapir_control_create(
		f->path, opts_mode(0600), echo, f, NULL, &err);
	assert_non_null(f->c);
	assert_int_equal(
		tapir_control_request(f->path, "x", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: x\n");
	tapir_buf_clear(&out);
}

static void
test_create_leaves_a_served_socket_alone(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	struct tapir_control *second;

	second = tapir_control_create(
		f->path, opts_mode(0600), echo, f, NULL, &err);
	assert_null(second);
	assert_non_null(strstr(err.text, "in use by another process"));
	assert_non_null(strstr(err.text, f->path));
	/* The first server still has its socket. */
	assert_int_equal(
		tapir_control_request(f->path, "x", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: x\n");
	tapir_buf_clear(&out);
}

static void
test_create_replaces_socket_nobody_serves(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* Bound, never listening, closed: what a crash leaves. */
	assert_true(fd >= 0);
	assert_true(strlen(f->path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	f->c = tapir_control_create(
		f->path, opts_mode(0600), echo, f, NULL, &err);
	assert_non_null(f->c);
	assert_int_equal(
		tapir_control_request(f->path, "y", 5000, &out, &err), 0);
	assert_string_equal(out.data, "you said: y\n");
	tapir_buf_clear(&out);
}

static void
test_default_socket_honours_environment(void **state)
{
	(void)state;
	unsetenv(TAPIR_CONTROL_SOCKET_ENV);
	assert_string_equal(
		tapir_control_default_socket(), TAPIR_CONTROL_DEFAULT_SOCKET);
	assert_int_equal(setenv(TAPIR_CONTROL_SOCKET_ENV, "", 1), 0);
	assert_string_equal(
		tapir_control_default_socket(), TAPIR_CONTROL_DEFAULT_SOCKET);
	assert_int_equal(
		setenv(TAPIR_CONTROL_SOCKET_ENV, "/tmp/x/ctl.sock", 1), 0);
	assert_string_equal(tapir_control_default_socket(), "/tmp/x/ctl.sock");
	unsetenv(TAPIR_CONTROL_SOCKET_ENV);
}

static void
test_client_keeps_connect_errno(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };
	char path[160];

	errno = 0;
	assert_int_equal(
		tapir_control_request(f->path, "status", 1000, &out, &err),
		TAPIR_EIO);
	assert_int_equal(errno, ENOENT);
	/* A file that is no socket refuses the connection. */
	fclose(fopen(f->path, "w"));
	errno = 0;
	assert_int_equal(
		tapir_control_request(f->path, "status", 1000, &out, &err),
		TAPIR_EIO);
	assert_int_equal(errno, ECONNREFUSED);
	snprintf(path, sizeof(path), "%s/no-dir/ctl.sock", f->dir);
	errno = 0;
	assert_int_equal(
		tapir_control_request(path, "status", 1000, &out, &err),
		TAPIR_EIO);
	assert_int_equal(errno, ENOENT);
	tapir_buf_clear(&out);
}

static void
test_client_missing_path_is_eio_naming_path(void **state)
{
	struct fixture *f = *state;
	struct tapir_error err = { 0 };
	struct tapir_buf out = { 0 };

	assert_int_equal(
		tapir_control_request(f->path, "status", 1000, &out, &err),
		TAPIR_EIO);
	assert_non_null(strstr(err.text, f->path));
	assert_int_equal(out.len, 0);
	tapir_buf_clear(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_grows_past_initial_size),
		cmocka_unit_test(test_buf_append_keeps_embedded_bytes),
		cmocka_unit_test(test_buf_printf_big_formatted_string),
		cmocka_unit_test(test_buf_printf_at_stack_buffer_boundary),
		cmocka_unit_test_setup_teardown(
			test_request_round_trip, setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_request_large_answer_arrives_whole, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_request_trailing_cr_is_stripped, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_server_rejects_request_over_max_line, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_client_refuses_request_over_max_line, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_server_rejects_nul_byte_in_request, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_server_answers_empty_request, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_silent_client_delays_next_by_deadline_at_most,
			setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_slow_command_answer_arrives, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_long_answer_reaches_the_client_while_it_is_made,
			setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_streamed_answer_stops_when_the_client_leaves,
			setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_streamed_answer_to_a_stalled_client_ends_at_the_piece_deadline,
			setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
			test_streamed_answer_ends_at_the_answer_deadline,
			setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_takes_a_streamed_answer_longer_than_its_deadline,
			setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_fails_on_empty_answer, setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_fails_on_cut_answer, setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
			test_stream_hands_over_pieces_without_the_end_mark,
			setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_stream_of_cut_answer_fails_after_its_pieces,
			setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
			test_socket_gets_requested_mode_0600, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_socket_gets_requested_mode_0660, setup_dir,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_socket_appears_at_path_only_when_ready, setup_dir,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_handler_gets_the_peer, setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_peer_privileged_by_user_and_group, setup_dir,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_socket_gets_requested_owner_and_group, setup_dir,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_create_leaves_nothing_beside_the_socket,
			setup_server, teardown),
		cmocka_unit_test_setup_teardown(
			test_destroy_removes_socket_file, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_create_replaces_stale_file, setup_dir, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_missing_path_is_eio_naming_path, setup_dir,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_create_leaves_a_served_socket_alone, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_create_replaces_socket_nobody_serves, setup_dir,
			teardown),
		cmocka_unit_test(test_default_socket_honours_environment),
		cmocka_unit_test_setup_teardown(
			test_client_keeps_connect_errno, setup_dir, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
