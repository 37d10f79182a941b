/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Grace periods for memory that readers may still see (a minimal RCU).
 *
 * Readers (Unbound's worker threads, in operate()) bracket each lookup with
 * tapir_epoch_enter()/tapir_epoch_exit(): two atomic increments on a counter
 * stripe that is private to the thread in practice, no lock, no system call.
 * The single writer publishes new memory with an atomic pointer store, then
 * calls tapir_epoch_synchronize(), which flips the phase and waits until no
 * reader that entered in the old phase is still inside. After it returns,
 * memory unlinked before the call can be freed. Readers never wait for the
 * writer; the writer waits at most for the readers' current lookups.
 *
 * This is the counter-flip scheme of classic userspace RCU; counters are
 * striped over cache lines so that workers do not share one hot line.
 *
 * Thread safety: enter/exit from any number of threads; synchronize from
 * one thread at a time (the writer). A reader must not call synchronize
 * inside its own read section (it would wait for itself).
 */
#ifndef TAPIR_EPOCH_H
#define TAPIR_EPOCH_H

#include "lib/tapir.h"

struct tapir_epoch;

/** Create a grace-period domain. @return: the domain or NULL. */
struct tapir_epoch *tapir_epoch_create(void);

/** Destroy a domain; no reader may be inside. NULL is fine. */
void tapir_epoch_destroy(struct tapir_epoch *ep);

/**
 * Enter a read section.
 * @return: a token for tapir_epoch_exit().
 */
unsigned tapir_epoch_enter(struct tapir_epoch *ep);

/** Leave the read section entered with token. */
void tapir_epoch_exit(struct tapir_epoch *ep, unsigned token);

/** Wait until every read section that began before the call has ended. */
void tapir_epoch_synchronize(struct tapir_epoch *ep);

#endif
