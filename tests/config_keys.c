/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prints every key of tapir-pop.yaml the parser knows, one a line, from
 * its own field tables (tapir_config_list_keys()): what
 * tests/check-manpage.sh compares with the keys tapir-pop.yaml(5)
 * documents. A key added to the parser and not to the manual, or the
 * other way round, fails that test.
 */
#include "tapir_build.h"

#include <stdio.h>

#include "lib/config.h"

static void
print_key(const char *key, void *arg)
{
	printf("%s\n", key);
	(void)arg;
}

int
main(void)
{
	tapir_config_list_keys(print_key, NULL);
	return fflush(stdout) == 0 ? 0 : 1;
}
