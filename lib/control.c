/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control socket server and client. The server handles one connection at a
 * time with a deadline for each phase (control.h), so a stuck client
 * delays other operators by at most the deadline and never touches the
 * resolver.
 */
#include "tapir_build.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/control.h"
#include "lib/fileio.h"

struct tapir_control {
	char *path;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	tapir_control_fn fn;
	void *arg;
	uid_t euid;	   /* this process's user, privileged */
	gid_t admin_group; /* (gid_t)-1: none */
	int send_ms, answer_ms;
};

/* The client of one request, as the sink of its answer. */
struct client {
	int fd;
	int send_ms;
	int64_t end; /* the whole answer's deadline */
	bool gone;   /* a send failed: nothing more goes to this client */
};

/* Send one piece of an answer within its own deadline, and the answer's. */
static int
client_send(void *arg, const char *data, size_t len)
{
	struct client *cl = arg;
	int64_t deadline = tapir_monotonic_ms() + cl->send_ms;

	if (cl->gone)
		return TAPIR_EIO;
	if (deadline > cl->end)
		deadline = cl->end;
	for (size_t off = 0; off < len;) {
		ssize_t n;
		if (tapir_fd_wait(cl->fd, POLLOUT, deadline, NULL) != 0) {
			cl->gone = true;
			return TAPIR_ETIMEDOUT;
		}
		/* Not blocking: on a blocking socket send() waits until all
		 * of a large piece has gone, deadline or not, and a client
		 * that stops reading would hold the server for good. */
		n = send(cl->fd, data + off, len - off,
			MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
				     errno == EINTR))
			continue;
		if (n <= 0) {
			cl->gone = true;
			return TAPIR_EIO;
		}
		off += (size_t)n;
	}
	return 0;
}

void
tapir_buf_append(struct tapir_buf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap < b->len + len + 1)
			cap *= 2;
		if (!(p = realloc(b->data, cap))) {
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
tapir_buf_printf(struct tapir_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		tapir_buf_append(b, small, (size_t)n);
	} else {
		char *big = malloc((size_t)n + 1);
		if (!big) {
			b->failed = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		tapir_buf_append(b, big, (size_t)n);
		free(big);
	}
}

void
tapir_buf_clear(struct tapir_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int
tapir_buf_flush(struct tapir_buf *b)
{
	int rc;

	if (b->failed)
		return TAPIR_EIO;
	if (!b->sink || b->len == 0)
		return 0;
	if ((rc = b->sink(b->sink_arg, b->data, b->len)) != 0) {
		b->failed = true;
		return rc;
	}
	b->sent += b->len;
	/* The memory stays for the next piece, as large as the largest. */
	b->len = 0;
	b->data[0] = '\0';
	return 0;
}

/* Whether the peer of fd has gid among its supplementary groups, as the
 * kernel saw them at connect() (SO_PEERGROUPS, Linux 4.13): the groups
 * the caller runs with, not what the group database says today. Where
 * the kernel cannot tell, only the primary group counts. */
static bool
peer_in_group(int fd, gid_t gid)
{
#ifdef SO_PEERGROUPS
	gid_t small[64], *gids = small;
	socklen_t len = sizeof(small);
	bool in = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) != 0) {
		/* ERANGE: len is now the size needed. */
		if (errno != ERANGE || !(gids = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) !=
			0) {
			free(gids);
			return false;
		}
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		in |= gids[i] == gid;
	if (gids != small)
		free(gids);
	return in;
#else
	(void)fd;
	(void)gid;
	return false;
#endif
}

/* Who is calling. A peer the kernel says nothing about is not
 * privileged. */
static void
peer_of(const struct tapir_control *c, int fd, struct tapir_control_peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	memset(p, 0, sizeof(*p));
	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 ||
		len != sizeof(uc))
		return;
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
	p->privileged = uc.uid == 0 || uc.uid == c->euid ||
			(c->admin_group != (gid_t)-1 &&
				(uc.gid == c->admin_group ||
					peer_in_group(fd, c->admin_group)));
}

static void
serve_one(struct tapir_control *c, int fd)
{
	struct tapir_control_peer peer;
	char line[TAPIR_CONTROL_MAX_LINE + 1];
	size_t len = 0;
	int64_t deadline = tapir_monotonic_ms() + TAPIR_CONTROL_READ_MS;
	struct client cl = { .fd = fd, .send_ms = c->send_ms };
	struct tapir_buf out = { .sink = client_send, .sink_arg = &cl };
	char *nl = NULL;
	int rc;

	while (len < TAPIR_CONTROL_MAX_LINE) {
		ssize_t n;
		if (tapir_fd_wait(fd, POLLIN, deadline, NULL) != 0)
			return;
		n = read(fd, line + len, TAPIR_CONTROL_MAX_LINE - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		if ((nl = memchr(line, '\n', len)))
			break;
	}
	line[len] = '\0';
	if (nl) {
		*nl = '\0';
	} else if (len == TAPIR_CONTROL_MAX_LINE) {
		tapir_buf_printf(&out, "error: request longer than %d bytes\n",
			TAPIR_CONTROL_MAX_LINE);
		goto send;
	}
	if (strlen(line) != (nl ? (size_t)(nl - line) : len)) {
		tapir_buf_printf(&out, "error: NUL byte in request\n");
		goto send;
	}
	/* The line's own length, not the bytes read: "\n" alone leaves it
	 * empty, and there is no byte before it to look at. */
	if ((len = strlen(line)) > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	peer_of(c, fd, &peer);
	/* Pieces the command sends as it goes share the answer's deadline,
	 * counted from here. */
	cl.end = tapir_monotonic_ms() + c->answer_ms;
	c->fn(c->arg, line, &peer, &out);
	if (out.failed && !cl.gone && out.sent == 0) {
		/* Nothing went out yet: the client learns why. */
		out.failed = false;
		out.len = 0;
		tapir_buf_printf(&out, "error: out of memory\n");
	}
	if (out.failed)
		goto out_clear;
send:
	/* The end mark: only a client that reads it has the whole answer.
	 * Should there be no memory for it, or a piece not have gone out,
	 * the client reports a cut. */
	tapir_buf_append(&out, "", 1);
	/* The last piece (for most commands the whole answer) has its own
	 * time, whatever the command took, within the answer's. */
	if (cl.end < tapir_monotonic_ms() + c->send_ms && out.sent == 0)
		cl.end = tapir_monotonic_ms() + c->send_ms;
	/* A client gone or too slow reports a cut, or nothing. */
	rc = tapir_buf_flush(&out);
	(void)rc;
out_clear:
	tapir_buf_clear(&out);
}

const char *
tapir_control_default_socket(void)
{
	const char *env = getenv(TAPIR_CONTROL_SOCKET_ENV);

	return env && env[0] ? env : TAPIR_CONTROL_DEFAULT_SOCKET;
}

/* Whether a process accepts connections on the socket at sa: connect()
 * succeeds only while one listens; a socket file left by a process that
 * is gone refuses (ECONNREFUSED), and other files are no sockets. */
static bool
socket_served(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool served;

	if (fd < 0)
		return false;
	served = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return served;
}

static void *
control_main(void *arg)
{
	struct tapir_control *c = arg;

	tapir_thread_background("tapir-control");

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = c->stop_pipe[0], .events = POLLIN },
		};
		int fd;
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if ((fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve_one(c, fd);
		close(fd);
	}
	return NULL;
}

/*
 * Bind the socket at tmp inside a directory only this process can enter,
 * give it its mode and owner there, and rename it to path. A socket bound
 * at path itself is there with the mode bind() gives it (0777 less the
 * umask) until the chmod() that follows, and another user may connect in
 * between. fchmod() on the socket before bind() would avoid that on some
 * systems, but Linux ignores it (the mode of a socket's file comes from the
 * umask alone), and changing the umask, which belongs to the whole process,
 * would race with the files the module's other threads write. A rename
 * within one directory is atomic and replaces what is left at path.
 */
static int
bind_ready(struct tapir_control *c, const char *path, char *dir, char *tmp,
	const struct tapir_control_opts *o, int *owner_errno)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc = -1;

	if (!mkdtemp(dir))
		return -1;
	/* tmp was made from the template: the name mkdtemp() chose has
	 * its length. */
	memcpy(tmp, dir, strlen(dir));
	strcpy(sa.sun_path, tmp);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out_rmdir;
	if (chmod(tmp, o->mode) != 0)
		goto out_unlink;
	if ((o->owner != (uid_t)-1 || o->group != (gid_t)-1) &&
		chown(tmp, o->owner, o->group) != 0 && owner_errno)
		*owner_errno = errno;
	if (listen(c->fd, 16) != 0 || rename(tmp, path) != 0)
		goto out_unlink;
	rc = 0;
	goto out_rmdir;
out_unlink:
	unlink(tmp);
out_rmdir:
	/* Keep bind()'s or rename()'s errno for the caller. */
	{
		int e = errno;
		rmdir(dir);
		errno = e;
	}
	return rc;
}

struct tapir_control *
tapir_control_create(const char *path, const struct tapir_control_opts *opts,
	tapir_control_fn fn, void *arg, int *owner_errno,
	struct tapir_error *err)
{
	struct tapir_control *c;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *slash = strrchr(path, '/');
	/* DIR/.tapir-XXXXXX and DIR/.tapir-XXXXXX/s, beside path. */
	char dir[sizeof(sa.sun_path)], tmp[sizeof(sa.sun_path)];
	int dlen = slash ? (int)(slash - path + 1) : 0;

	if (owner_errno)
		*owner_errno = 0;
	if (strlen(path) >= sizeof(sa.sun_path) ||
		snprintf(dir, sizeof(dir), "%.*s.tapir-XXXXXX", dlen, path) >=
			(int)sizeof(dir) ||
		snprintf(tmp, sizeof(tmp), "%s/s", dir) >= (int)sizeof(tmp)) {
		tapir_error_set(err, TAPIR_EINVAL, 0,
			"control socket path too long: %s (at most %zu bytes; its directory at most %zu)",
			path, sizeof(sa.sun_path) - 1,
			sizeof(sa.sun_path) - sizeof(".tapir-XXXXXX/s"));
		return NULL;
	}
	if (!(c = calloc(1, sizeof(*c))) || !(c->path = strdup(path))) {
		free(c);
		tapir_error_set(err, TAPIR_ENOMEM, 0, "out of memory");
		return NULL;
	}
	c->fn = fn;
	c->arg = arg;
	c->euid = geteuid();
	c->admin_group = opts->admin_group;
	c->send_ms = opts->send_ms > 0 ? opts->send_ms : TAPIR_CONTROL_SEND_MS;
	c->answer_ms =
		opts->answer_ms > 0 ? opts->answer_ms : TAPIR_CONTROL_ANSWER_MS;
	c->stop_pipe[0] = c->stop_pipe[1] = -1;
	strcpy(sa.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto out_errno;
	/* Our own previous load removed its socket (deinit before init on
	 * reload), so one that answers belongs to another process. */
	if (socket_served(&sa)) {
		tapir_error_set(err, TAPIR_EEXIST, 0,
			"control socket %s: in use by another process (another Unbound with this module?)",
			path);
		goto out_free;
	}
	/* What is left there is stale, a crashed process's socket: the
	 * rename replaces it. */
	if (bind_ready(c, path, dir, tmp, opts, owner_errno) != 0)
		goto out_errno;
	if (pipe2(c->stop_pipe, O_CLOEXEC) != 0)
		goto out_unlink;
	if (pthread_create(&c->thread, NULL, control_main, c) != 0)
		goto out_unlink;
	return c;

out_unlink:
	unlink(path);
out_errno:
	tapir_error_set(err, TAPIR_EIO, 0, "control socket %s: %s", path,
		strerror(errno));
out_free:
	if (c->fd >= 0)
		close(c->fd);
	if (c->stop_pipe[0] >= 0) {
		close(c->stop_pipe[0]);
		close(c->stop_pipe[1]);
	}
	free(c->path);
	free(c);
	return NULL;
}

void
tapir_control_destroy(struct tapir_control *c)
{
	if (!c)
		return;
	if (write(c->stop_pipe[1], "x", 1) != 1)
		tapir_log(TAPIR_LOG_ERR, "control: cannot stop thread");
	pthread_join(c->thread, NULL);
	close(c->fd);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	unlink(c->path);
	free(c->path);
	free(c);
}

int
tapir_control_request_stream(const char *path, const char *line, int timeout_ms,
	tapir_control_piece_fn piece, void *arg, struct tapir_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t start = tapir_monotonic_ms(), deadline = start + timeout_ms;
	/* Once the answer has begun it may come in pieces, each within
	 * TAPIR_CONTROL_GAP_MS of the last, up to the server's bound on a
	 * whole answer. */
	int64_t last = start + timeout_ms + TAPIR_CONTROL_ANSWER_MS;
	size_t len = strlen(line), got = 0;
	/* The last byte read is held back until more comes or the server
	 * closes: only then is it known whether it is the end mark. */
	char buf[4096], held = 0;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return tapir_error_set(
			err, TAPIR_EINVAL, 0, "socket path too long");
	if (len >= TAPIR_CONTROL_MAX_LINE || memchr(line, '\n', len))
		return tapir_error_set(err, TAPIR_EINVAL, 0,
			"request too long or has a newline");
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		tapir_error_set(err, TAPIR_EIO, 0, "%s: %s", path, strerror(e));
		/* Kept for the caller: tapir-pop-control explains it. */
		errno = e;
		return TAPIR_EIO;
	}
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len ||
		send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		close(fd);
		return tapir_error_set(
			err, TAPIR_EIO, 0, "send: %s", strerror(errno));
	}
	for (;;) {
		ssize_t n;
		if (tapir_fd_wait(fd, POLLIN, deadline, NULL) != 0) {
			if (got == 0)
				rc = tapir_error_set(err, TAPIR_ETIMEDOUT, 0,
					"no answer within %d s",
					timeout_ms / 1000);
			else
				rc = tapir_error_set(err, TAPIR_ETIMEDOUT, 0,
					"the answer stopped coming after %zu bytes",
					got);
			goto out;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			rc = tapir_error_set(
				err, TAPIR_EIO, 0, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((got > 0 && piece(arg, &held, 1) != 0) ||
			(n > 1 && piece(arg, buf, (size_t)n - 1) != 0)) {
			rc = tapir_error_set(err, TAPIR_ENOMEM, 0,
				"out of memory for an answer of %zu bytes",
				got);
			goto out;
		}
		held = buf[n - 1];
		got += (size_t)n;
		deadline = tapir_monotonic_ms() + TAPIR_CONTROL_GAP_MS;
		if (deadline > last)
			deadline = last;
	}
	/* Only the end mark tells a whole answer from one the server gave
	 * up on half-way: text cut between lines looks whole. */
	if (got == 0)
		rc = tapir_error_set(err, TAPIR_EIO, 0,
			"no answer: the module closed the connection without "
			"one (Unbound's log may say why)");
	else if (held != '\0')
		rc = tapir_error_set(err, TAPIR_EIO, 0,
			"the answer was cut short after %zu bytes (or the "
			"module is older than this tool: reload Unbound)",
			got);
	else
		rc = 0;
out:
	close(fd);
	return rc;
}

static int
append_piece(void *arg, const char *data, size_t len)
{
	struct tapir_buf *out = arg;

	tapir_buf_append(out, data, len);
	return out->failed ? -1 : 0;
}

int
tapir_control_request(const char *path, const char *line, int timeout_ms,
	struct tapir_buf *out, struct tapir_error *err)
{
	int rc = tapir_control_request_stream(
		path, line, timeout_ms, append_piece, out, err);

	if (rc == 0) {
		/* NUL-terminated: the end mark's place, never counted. */
		tapir_buf_append(out, "", 1);
		if (out->failed)
			rc = tapir_error_set(err, TAPIR_ENOMEM, 0,
				"out of memory for an answer of %zu bytes",
				out->len);
		else
			out->len--;
	}
	if (rc != 0)
		tapir_buf_clear(out);
	return rc;
}
