/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GNU build-id of the running executable: the module is compiled
 * against one Unbound build's struct layouts and must refuse any other.
 */
#ifndef TAPIR_BUILDID_H
#define TAPIR_BUILDID_H

#include <stddef.h>

/**
 * Hex build-id of the main executable of this process.
 * @param hex: receives the NUL-terminated lower-case hex string.
 * @return: 0, or -1 when the executable carries no build-id note.
 */
int tapir_running_build_id(char *hex, size_t size);

#endif
