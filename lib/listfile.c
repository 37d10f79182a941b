/* SPDX-License-Identifier: BSD-3-Clause */
#include "tapir_build.h"
#include "lib/tapir.h"
