/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unbound's remote-control protocol, as far as the module speaks it: one
 * cache flush per connection ("UBCT1 flush_zone NAME." or "UBCT1 flush
 * NAME."), to a Unix socket or a loopback address with control-use-cert:
 * no. Unbound runs the flush on its own worker with its own locking, and
 * while it reloads (freeing and recreating its caches) it does not answer,
 * so nothing here can touch freed cache memory. lib/purge.c queues, folds
 * and retries; this is the one place that knows how to ask.
 *
 * No Unbound header is needed: the protocol is text on a socket.
 *
 * Thread safety: a control endpoint is immutable; tapir_ubctl_flush() from
 * any thread.
 */
#ifndef TAPIR_UNBOUND_CONTROL_H
#define TAPIR_UNBOUND_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct tapir_ubctl {
	char endpoint[108]; /* a socket path, or an IPv4/IPv6 address */
	int port;	    /* with an address */
	char what[160];	    /* "Unbound's control socket ..." for logs */
};

/**
 * Set up an endpoint.
 * @return: 0, or -1 when the path is too long for a Unix socket.
 */
int tapir_ubctl_init(struct tapir_ubctl *c, const char *endpoint, int port);

/**
 * One flush: of name and everything below it (zone; "" is the whole
 * cache), or of the types tapir_ubctl_flush_covers() of name alone, by
 * key, without a walk of the cache. Every step has a 2-second deadline.
 * A tapir_purge_send_fn (lib/purge.h).
 * @return: 0 when Unbound answered "ok", else -1.
 */
int tapir_ubctl_flush(void *c, const char *name, bool zone);

/**
 * Whether Unbound's "flush NAME" removes answers of qtype: A, AAAA, NS,
 * SOA, CNAME, DNAME, MX, PTR, SRV, NAPTR, SVCB, HTTPS, with the CD
 * variant of AAAA and the negative SOA (daemon/remote.c do_flush_name,
 * 1.17 to 1.26). A name once answered with any other type needs the walk
 * of flush_zone.
 */
bool tapir_ubctl_flush_covers(uint16_t qtype);

#endif
