/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unbound's remote-control protocol for cache flushes
 * (module/unbound_control.h): connect, send one command, read until
 * Unbound closes, "ok" or not.
 */
#include "tapir_build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/name.h"
#include "lib/tapir.h"
#include "module/unbound_control.h"

#define IO_DEADLINE_MS 2000

int
tapir_ubctl_init(struct tapir_ubctl *c, const char *endpoint, int port)
{
	if (strlen(endpoint) >= sizeof(c->endpoint))
		return -1;
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	c->port = port;
	if (endpoint[0] == '/')
		snprintf(c->what, sizeof(c->what), "Unbound remote-control %s",
			endpoint);
	else
		snprintf(c->what, sizeof(c->what),
			"Unbound remote-control %s port %d", endpoint, port);
	return 0;
}

static int
connect_to(const struct sockaddr *sa, socklen_t len)
{
	int fd;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, sa, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
connect_endpoint(const struct tapir_ubctl *c)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (c->endpoint[0] == '/') {
		snprintf(su.sun_path, sizeof(su.sun_path), "%s", c->endpoint);
		return connect_to((struct sockaddr *)&su, sizeof(su));
	}
	if (inet_pton(AF_INET, c->endpoint, &s4.sin_addr) == 1) {
		s4.sin_port = htons((uint16_t)c->port);
		return connect_to((struct sockaddr *)&s4, sizeof(s4));
	}
	if (inet_pton(AF_INET6, c->endpoint, &s6.sin6_addr) == 1) {
		s6.sin6_port = htons((uint16_t)c->port);
		return connect_to((struct sockaddr *)&s6, sizeof(s6));
	}
	return -1;
}

int
tapir_ubctl_flush(void *arg, const char *name, bool zone)
{
	const struct tapir_ubctl *c = arg;
	int64_t deadline = tapir_monotonic_ms() + IO_DEADLINE_MS;
	char req[TAPIR_NAME_BUFSIZE + 32], ans[256];
	size_t got = 0;
	int fd, n;

	if ((fd = connect_endpoint(c)) < 0)
		return -1;
	n = snprintf(req, sizeof(req), "UBCT1 %s %s.\n",
		zone ? "flush_zone" : "flush", name);
	if (tapir_fd_wait(fd, POLLOUT, deadline, NULL) != 0 ||
		send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return -1;
	}
	while (got < sizeof(ans) - 1) {
		ssize_t r;
		if (tapir_fd_wait(fd, POLLIN, deadline, NULL) != 0)
			break;
		if ((r = read(fd, ans + got, sizeof(ans) - 1 - got)) <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	ans[got] = '\0';
	return strncmp(ans, "ok", 2) == 0 ? 0 : -1;
}

bool
tapir_ubctl_flush_covers(uint16_t qtype)
{
	switch (qtype) {
	case 1:	 /* A */
	case 28: /* AAAA */
	case 2:	 /* NS */
	case 6:	 /* SOA */
	case 5:	 /* CNAME */
	case 39: /* DNAME */
	case 15: /* MX */
	case 12: /* PTR */
	case 33: /* SRV */
	case 35: /* NAPTR */
	case 64: /* SVCB */
	case 65: /* HTTPS */
		return true;
	default:
		return false;
	}
}
