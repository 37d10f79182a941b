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
};

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
	struct tapir_buf out = { 0 };
	char *nl = NULL;

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
	c->fn(c->arg, line, &peer, &out);
	if (out.failed) {
		tapir_buf_clear(&out);
		tapir_buf_printf(&out, "error: out of memory\n");
	}
send:
	/* The end mark: only a client that reads it has the whole answer.
	 * Should there be no memory for it, the client reports a cut. */
	tapir_buf_append(&out, "", 1);
	/* The answer's own time, whatever the command took. */
	deadline = tapir_monotonic_ms() + TAPIR_CONTROL_SEND_MS;
	for (size_t off = 0; off < out.len;) {
		ssize_t n;
		if (tapir_fd_wait(fd, POLLOUT, deadline, NULL) != 0)
			break;
		n = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
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
tapir_control_request(const char *path, const char *line, int timeout_ms,
	struct tapir_buf *out, struct tapir_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = tapir_monotonic_ms() + timeout_ms;
	size_t len = strlen(line);
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
		char buf[4096];
		ssize_t n;
		if (tapir_fd_wait(fd, POLLIN, deadline, NULL) != 0) {
			rc = tapir_error_set(err, TAPIR_ETIMEDOUT, 0,
				"no whole answer within %d s (%zu bytes came)",
				timeout_ms / 1000, out->len);
			goto out_clear;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			rc = tapir_error_set(
				err, TAPIR_EIO, 0, "read: %s", strerror(errno));
			goto out_clear;
		}
		if (n == 0)
			break;
		tapir_buf_append(out, buf, (size_t)n);
	}
	if (out->failed) {
		rc = tapir_error_set(err, TAPIR_ENOMEM, 0,
			"out of memory for an answer of %zu bytes", out->len);
		goto out_clear;
	}
	/* Only the end mark tells a whole answer from one the server gave
	 * up on half-way: text cut between lines looks whole. */
	if (out->len == 0) {
		rc = tapir_error_set(err, TAPIR_EIO, 0,
			"no answer: the module closed the connection without "
			"one (Unbound's log may say why)");
		goto out_clear;
	}
	if (out->data[out->len - 1] != '\0') {
		rc = tapir_error_set(err, TAPIR_EIO, 0,
			"the answer was cut short after %zu bytes (or the "
			"module is older than this tool: reload Unbound)",
			out->len);
		goto out_clear;
	}
	out->len--;
	close(fd);
	return 0;

out_clear:
	close(fd);
	tapir_buf_clear(out);
	return rc;
}
