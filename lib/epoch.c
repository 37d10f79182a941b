/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Grace periods by per-thread reader slots (the "memb" flavour of
 * userspace RCU). A domain holds a grace-period counter ctr (never 0, only
 * the writer advances it) and SLOTS cache-line slots. A reader thread owns
 * one slot per domain; entering stores the ctr it read into its slot, with
 * only a compiler barrier after the store; leaving is a release store of 0.
 * No read-modify-write, no fence: lookups in a loop overlap their misses.
 *
 * synchronize: (1) a process-wide barrier, membarrier(PRIVATE_EXPEDITED),
 * which makes every thread of the process execute a full fence (or be
 * between two context switches, which imply one); (2) ctr = ctr + 1 = new;
 * (3) wait until no slot holds a value v != 0 older than new.
 * Why this is a grace period: take a reader section [S: store slot; L:
 * loads of shared data; E: release store of 0] and memory the writer
 * unlinked with U before synchronize. The barrier reaches the reader's
 * thread at one instruction boundary B, after U is globally visible.
 * - If S is before B, the fence at B makes S visible before step 3 reads
 *   the slot, and the v it stored was read before B, so before step 2:
 *   v < new, and step 3 waits until it reads 0, that is E (acquire load
 *   against release store: L happens before the free).
 * - If S is after B, so is L (the compiler barrier keeps L after S in the
 *   program, and B is an instruction boundary), and the fence at B orders
 *   L after U: L cannot see the unlinked memory. The slot may still be
 *   seen with an old v and waited for: harmless, and it is what keeps a
 *   later synchronize right, since ctr only grows (no parity to alias: a
 *   stale v is always "older", compared wrap-safely).
 * Without membarrier (not Linux, old kernel, seccomp) the reader puts a
 * seq_cst fence after S and the writer one in place of (1); the C11 fence
 * rule gives the same two cases. Under ThreadSanitizer, which cannot see
 * membarrier, the fence path is always taken and the reader's store is
 * seq_cst, so TSan sees only orderings C11 guarantees.
 *
 * Slots: a thread claims a free slot (CAS owner 0 -> 1) on its first read
 * section in a domain, remembers it in a pthread key of the domain and a
 * one-entry thread-local cache (keyed by a domain id that is never reused,
 * so a new domain at an old address is not confused), and gives it back
 * in the key's destructor at thread exit. tapir_epoch_destroy() deletes
 * the key, so once every domain is destroyed (deinit, before Unbound
 * dlclose()s the module) no destructor points into unloaded code. The last
 * OVERFLOW slots are never owned by a thread: threads beyond SLOTS -
 * OVERFLOW (or whose key could not be set) claim one of those per read
 * section (one CAS) and free it at exit, so every reader makes progress.
 * Nesting: the owner counts depth in its slot; only the outermost enter
 * stores, only the outermost exit clears.
 */
#include "tapir_build.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "lib/epoch.h"

#ifdef TAPIR_EPOCH_TSAN
#define TSAN 1
#endif

#define SLOTS	  TAPIR_EPOCH_SLOTS
#define OVERFLOW  8 /* slots only lent for one read section */
#define CACHELINE TAPIR_EPOCH_LINE
#define TEMP	  TAPIR_EPOCH_TEMP

enum { FREE, OWNED, LENT };

_Static_assert(
	sizeof(struct tapir_epoch_slot) == CACHELINE, "slot is one line");
_Static_assert(offsetof(struct tapir_epoch, slots) % CACHELINE == 0,
	"slots start on a line");

static _Atomic unsigned long next_id = 1;
#ifdef TAPIR_EPOCH_TSAN
_Atomic unsigned long tapir_fence_dummy;
#endif
__thread unsigned long tapir_epoch_tls_id TAPIR_EPOCH_TLS;
__thread struct tapir_epoch_slot *tapir_epoch_tls_slot TAPIR_EPOCH_TLS;

static void
slot_release(void *p)
{
	atomic_store_explicit(&((struct tapir_epoch_slot *)p)->owner, FREE,
		memory_order_release);
}

static bool
membarrier_register(void)
{
#if defined(__linux__) && defined(__NR_membarrier) && !defined(TSAN)
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0);

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return false;
	return syscall(__NR_membarrier,
		       MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
#else
	return false;
#endif
}

/* Step (1) of synchronize: a full fence in every thread of the process. */
static void
barrier_all(struct tapir_epoch *ep)
{
	tapir_fence();
#if defined(__linux__) && defined(__NR_membarrier) && !defined(TSAN)
	if (ep->expedited &&
		syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) !=
			0) {
		/* Cannot happen once registered; if it did, readers would
		 * rely on a fence they do not execute: a broken invariant. */
		abort();
	}
#else
	(void)ep;
#endif
	tapir_fence();
}

struct tapir_epoch *
tapir_epoch_create(void)
{
	struct tapir_epoch *ep;

	if (posix_memalign((void **)&ep, CACHELINE, sizeof(*ep)) != 0)
		return NULL;
	if (pthread_key_create(&ep->key, slot_release) != 0) {
		free(ep);
		return NULL;
	}
	atomic_init(&ep->ctr, 1);
	ep->id = atomic_fetch_add(&next_id, 1);
	ep->expedited = membarrier_register();
	for (int i = 0; i < SLOTS; i++) {
		atomic_init(&ep->slots[i].ctr, 0);
		atomic_init(&ep->slots[i].owner, FREE);
		ep->slots[i].depth = 0;
	}
	return ep;
}

void
tapir_epoch_destroy(struct tapir_epoch *ep)
{
	if (!ep)
		return;
	/* Threads that still own slots keep a key value pointing here; after
	 * the delete their destructor is never called. */
	pthread_key_delete(ep->key);
	free(ep);
}

/* The calling thread's own slot in ep, claimed on first use; NULL when
 * none can be owned (the caller borrows an overflow slot). */
static struct tapir_epoch_slot *
own_slot(struct tapir_epoch *ep)
{
	struct tapir_epoch_slot *s;

	if (tapir_epoch_tls_id == ep->id)
		return tapir_epoch_tls_slot;
	if (!(s = pthread_getspecific(ep->key))) {
		for (int i = 0; i < SLOTS - OVERFLOW && !s; i++) {
			unsigned f = FREE;
			if (atomic_load_explicit(&ep->slots[i].owner,
				    memory_order_relaxed) == FREE &&
				atomic_compare_exchange_strong_explicit(
					&ep->slots[i].owner, &f, OWNED,
					memory_order_acquire,
					memory_order_relaxed))
				s = &ep->slots[i];
		}
		if (!s)
			return NULL;
		if (pthread_setspecific(ep->key, s) != 0) {
			slot_release(s);
			return NULL;
		}
		s->depth = 0;
	}
	tapir_epoch_tls_id = ep->id;
	tapir_epoch_tls_slot = s;
	return s;
}

static unsigned
lend_slot(struct tapir_epoch *ep)
{
	for (unsigned spins = 0;; spins++) {
		for (unsigned i = SLOTS - OVERFLOW; i < SLOTS; i++) {
			unsigned f = FREE;
			if (atomic_compare_exchange_strong_explicit(
				    &ep->slots[i].owner, &f, LENT,
				    memory_order_acquire, memory_order_relaxed))
				return i;
		}
		/* Each holder is inside one short read section. */
		sched_yield();
	}
}

tapir_epoch_token
tapir_epoch_enter_slow(struct tapir_epoch *ep)
{
	struct tapir_epoch_slot *s = own_slot(ep);
	unsigned i;

	if (s) {
		if (s->depth++ == 0)
			tapir_epoch_mark(ep, s);
		return (tapir_epoch_token)s;
	}
	i = lend_slot(ep);
	tapir_epoch_mark(ep, &ep->slots[i]);
	return (tapir_epoch_token)&ep->slots[i] | TEMP;
}

void
tapir_epoch_exit_slow(struct tapir_epoch *ep, tapir_epoch_token token)
{
	struct tapir_epoch_slot *s = (struct tapir_epoch_slot *)(token & ~TEMP);

	(void)ep;
	atomic_store_explicit(&s->ctr, 0, memory_order_release);
	atomic_store_explicit(&s->owner, FREE, memory_order_release);
}

void
tapir_epoch_synchronize(struct tapir_epoch *ep)
{
	unsigned long now;

	barrier_all(ep);
	now = atomic_fetch_add(&ep->ctr, 1) + 1;
	if (now == 0) /* 0 means "outside"; skip it on wrap */
		now = atomic_fetch_add(&ep->ctr, 1) + 1;
	for (int i = 0; i < SLOTS; i++) {
		unsigned spins = 0;
		for (;;) {
			unsigned long v = atomic_load_explicit(
				&ep->slots[i].ctr, memory_order_acquire);
			/* Wrap-safe "v is older than now". */
			if (v == 0 || (long)(v - now) >= 0)
				break;
			/* Read sections are one lookup long: spin briefly,
			 * then yield, then sleep so a preempted reader can
			 * run on a busy 2-core machine. */
			if (++spins < 64) {
				continue;
			} else if (spins < 1024) {
				sched_yield();
			} else {
				struct timespec ts = { 0, 50000 };
				nanosleep(&ts, NULL);
			}
		}
	}
}
