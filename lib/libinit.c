/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The process-wide set-up of the libraries lib/ uses, done once per
 * process whoever asks first (the module's init, a tool, a test).
 *
 * There is no matching clean-up on purpose. Inside Unbound these
 * libraries are shared with the daemon (libmosquitto's clean-up resets
 * OpenSSL state that Unbound's own TLS uses), the module is pinned in
 * memory across reloads (module/tapir_pop.c), and a second set-up after a
 * clean-up is what some of them do not survive. The process's exit frees
 * what they hold.
 */
#include "tapir_build.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>

#include "lib/mqtt.h"
#include "lib/tapir.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int status;

static void
init_once(void)
{
	/* Keys, signatures and the keyed hashes of names need it. */
	if (sodium_init() < 0) {
		status = TAPIR_EIO;
		return;
	}
	/* jansson's hash seed: set before any object exists and from one
	 * thread, or it picks one racily on first use. */
	json_object_seed(0);
	if (tapir_mqtt_lib_init() != 0)
		status = TAPIR_EIO;
}

int
tapir_lib_init(void)
{
	pthread_once(&once, init_once);
	return status;
}
