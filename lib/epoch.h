/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Grace periods for memory that readers may still see (a minimal RCU).
 *
 * Readers (Unbound's worker threads, in operate()) bracket each lookup with
 * tapir_epoch_enter()/tapir_epoch_exit(): a store into a cache line of
 * their own on the way in and one on the way out, no lock, no
 * read-modify-write, no system call. The single writer publishes new memory
 * with an atomic pointer store, then calls tapir_epoch_synchronize(), which
 * waits until no reader that entered before the call is still inside.
 * After it returns, memory unlinked before the call can be freed. Readers
 * never wait for the writer; the writer waits at most for the readers'
 * current lookups. lib/epoch.c explains why this is a grace period.
 *
 * enter/exit are inline: a lookup is ~100 ns, and two calls, a dynamic TLS
 * access (__tls_get_addr in a shared object) and their instructions in the
 * out-of-order window cost a fifth of that. Only the structures they touch
 * are in this header; everything else stays in lib/epoch.c.
 *
 * Thread safety: enter/exit from any number of threads; synchronize from
 * one thread at a time (the writer). A reader must not call synchronize
 * inside its own read section (it would wait for itself).
 */
#ifndef TAPIR_EPOCH_H
#define TAPIR_EPOCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/tapir.h"

#if defined(__SANITIZE_THREAD__)
#define TAPIR_EPOCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TAPIR_EPOCH_TSAN 1
#endif
#endif

/*
 * A full (seq_cst) fence. ThreadSanitizer does not model a fence on its
 * own: it ignores atomic_thread_fence() (gcc says so, -Wtsan, an error
 * with --enable-werror) and so would miss the orderings this code builds
 * on fences, and report races that the fences rule out. Under TSan it is
 * a seq_cst read-modify-write of one dummy variable instead, as liburcu
 * does for its barriers there: every two such fences are then ordered
 * through the dummy (acquire and release), which gives TSan at least the
 * happens-before edges that the C11 fence rules give (more, so TSan may
 * miss a race, never invent one), and on the hardware the locked RMW is a
 * full barrier all the same (x86 LOCK; an acquire-release RMW on ARMv8).
 * The other builds keep the plain fence.
 */
#ifdef TAPIR_EPOCH_TSAN
extern _Atomic unsigned long tapir_fence_dummy;
#define tapir_fence()                                                          \
	((void)atomic_fetch_add_explicit(                                      \
		&tapir_fence_dummy, 1, memory_order_seq_cst))
#else
#define tapir_fence() atomic_thread_fence(memory_order_seq_cst)
#endif

#define TAPIR_EPOCH_SLOTS 128
#define TAPIR_EPOCH_LINE  64
/* A read section's token: its slot's address, with TAPIR_EPOCH_TEMP set
 * for a slot lent for this one section (lib/epoch.c). Slots are aligned to
 * a cache line, so the low bit is free. Handing back the address, rather
 * than an index to turn into one again, measured ~25 ns less per lookup in
 * a loop at 1M names. */
typedef uintptr_t tapir_epoch_token;
#define TAPIR_EPOCH_TEMP ((tapir_epoch_token)1)

/* One reader thread's slot, a cache line of its own. */
struct tapir_epoch_slot {
	_Atomic unsigned long ctr; /* 0: outside; else ctr seen at entry */
	_Atomic unsigned owner;	   /* free, owned or lent (lib/epoch.c) */
	unsigned depth;		   /* owner thread only */
	char pad[TAPIR_EPOCH_LINE - sizeof(unsigned long) -
		 2 * sizeof(unsigned)];
};

struct tapir_epoch {
	_Atomic unsigned long ctr; /* grace-period counter, never 0 */
	unsigned long id;	   /* never reused by another domain */
	bool expedited; /* membarrier registered: readers need no fence */
	pthread_key_t key;
	/* Aligned, so that no two readers' slots share a cache line. */
	_Alignas(TAPIR_EPOCH_LINE) struct tapir_epoch_slot
		slots[TAPIR_EPOCH_SLOTS];
};

/* The calling thread's slot in the domain it last entered. Initial-exec:
 * one %fs-relative load even in the dlopen()ed module. glibc keeps a
 * static TLS surplus for exactly such late-loaded objects, and these 16
 * bytes are all the module takes from it. */
#if defined(__GNUC__) && !defined(TAPIR_EPOCH_TSAN)
#define TAPIR_EPOCH_TLS __attribute__((tls_model("initial-exec")))
#else
#define TAPIR_EPOCH_TLS
#endif
extern __thread unsigned long tapir_epoch_tls_id TAPIR_EPOCH_TLS;
extern __thread struct tapir_epoch_slot *tapir_epoch_tls_slot TAPIR_EPOCH_TLS;

/** Create a grace-period domain. @return: the domain or NULL. */
struct tapir_epoch *tapir_epoch_create(void);

/** Destroy a domain; no reader may be inside. NULL is fine. */
void tapir_epoch_destroy(struct tapir_epoch *ep);

/* The slow paths of enter and exit: first use in a thread, a lent slot. */
tapir_epoch_token tapir_epoch_enter_slow(struct tapir_epoch *ep);
void tapir_epoch_exit_slow(struct tapir_epoch *ep, tapir_epoch_token token);

/* Store the entry mark. With membarrier the writer's barrier stands in for
 * a fence here, so only the compiler is kept from moving loads above the
 * store (lib/epoch.c, the two cases). */
static inline void
tapir_epoch_mark(struct tapir_epoch *ep, struct tapir_epoch_slot *s)
{
	unsigned long v = atomic_load_explicit(&ep->ctr, memory_order_relaxed);

#ifdef TAPIR_EPOCH_TSAN
	atomic_store_explicit(&s->ctr, v, memory_order_seq_cst);
	tapir_fence();
#else
	atomic_store_explicit(&s->ctr, v, memory_order_relaxed);
	if (ep->expedited)
		atomic_signal_fence(memory_order_seq_cst);
	else
		tapir_fence();
#endif
}

/**
 * Enter a read section.
 * @return: a token for tapir_epoch_exit().
 */
static inline tapir_epoch_token
tapir_epoch_enter(struct tapir_epoch *ep)
{
	struct tapir_epoch_slot *s;

	if (tapir_epoch_tls_id != ep->id)
		return tapir_epoch_enter_slow(ep);
	s = tapir_epoch_tls_slot;
	if (s->depth++ == 0)
		tapir_epoch_mark(ep, s);
	return (tapir_epoch_token)s;
}

/** Leave the read section entered with token. */
static inline void
tapir_epoch_exit(struct tapir_epoch *ep, tapir_epoch_token token)
{
	struct tapir_epoch_slot *s;

	if (token & TAPIR_EPOCH_TEMP) {
		tapir_epoch_exit_slow(ep, token);
		return;
	}
	s = (struct tapir_epoch_slot *)token;
	if (--s->depth == 0)
		atomic_store_explicit(&s->ctr, 0, memory_order_release);
}

/** Wait until every read section that began before the call has ended. */
void tapir_epoch_synchronize(struct tapir_epoch *ep);

#endif
