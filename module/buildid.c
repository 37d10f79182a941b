/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reads NT_GNU_BUILD_ID from the program headers of the main executable,
 * which dl_iterate_phdr() reports first. No Unbound headers here.
 */
#define _GNU_SOURCE 1
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "module/buildid.h"

struct found {
	char *hex;
	size_t size;
	int ok;
};

static int
first_object(struct dl_phdr_info *info, size_t sz, void *arg)
{
	struct found *f = arg;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;
		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			const unsigned char *desc =
				(const unsigned char *)name +
				((nh->n_namesz + 3) & ~3u);
			if (nh->n_type == NT_GNU_BUILD_ID &&
				nh->n_namesz == 4 &&
				memcmp(name, "GNU", 4) == 0 &&
				nh->n_descsz * 2 < f->size) {
				for (unsigned j = 0; j < nh->n_descsz; j++)
					snprintf(f->hex + 2 * j, 3, "%02x",
						desc[j]);
				f->ok = 1;
				return 1;
			}
			p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	/* Only the first object (the executable) counts. */
	return 1;
}

int
tapir_running_build_id(char *hex, size_t size)
{
	struct found f = { hex, size, 0 };

	if (size)
		hex[0] = '\0';
	dl_iterate_phdr(first_object, &f);
	return f.ok ? 0 : -1;
}
