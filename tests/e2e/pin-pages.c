// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * e2e helper, run inside a guest: pin anonymous pages that lie in a PFN
 * range so that offlining their memory block can never finish.
 *
 *	pin-pages FIRST_PFN LAST_PFN MIB
 *
 * Maps and touches MIB MiB of anonymous memory, finds each page's PFN in
 * /proc/self/pagemap (root sees PFNs), and vmsplice()s the pages inside
 * [FIRST_PFN, LAST_PFN] into pipes.  A pipe buffer holds a reference to the
 * page, so migration fails on it (the reference count is not what it
 * expects) and offline_pages() retries forever: only a signal ends it
 * ("signal backoff").  Prints "pinned N first 0xPFN", then sleeps until
 * killed.  The rest of the mapping stays as ordinary movable memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096UL
#define PIPE_PAGES 16 /* a default pipe holds 16 buffers */
#define MAX_PINNED 64

int main(int argc, char **argv)
{
	unsigned long first, last, mib, pinned = 0, first_pinned = 0;
	int pm, fds[2] = { -1, -1 };
	unsigned char *mem;

	if (argc != 4) {
		fprintf(stderr, "usage: %s FIRST_PFN LAST_PFN MIB\n", argv[0]);
		return 2;
	}
	first = strtoul(argv[1], NULL, 0);
	last = strtoul(argv[2], NULL, 0);
	mib = strtoul(argv[3], NULL, 0);
	mem = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (unsigned long off = 0; off < mib << 20; off += PAGE)
		mem[off] = 1;
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0) {
		perror("/proc/self/pagemap");
		return 1;
	}
	for (unsigned long off = 0; off < mib << 20 && pinned < MAX_PINNED; off += PAGE) {
		uint64_t e, pfn;
		struct iovec iov = { mem + off, PAGE };

		if (pread(pm, &e, 8, (off_t)((uintptr_t)(mem + off) / PAGE * 8)) != 8) {
			perror("pagemap read");
			return 1;
		}
		if (!(e >> 63))
			continue; /* not present */
		pfn = e & ((1ULL << 55) - 1);
		if (pfn < first || pfn > last)
			continue;
		if (pinned % PIPE_PAGES == 0 && pipe(fds)) {
			perror("pipe");
			return 1;
		}
		if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)PAGE) {
			perror("vmsplice");
			return 1;
		}
		if (!pinned)
			first_pinned = pfn;
		pinned++;
	}
	printf("pinned %lu first %#lx\n", pinned, first_pinned);
	fflush(stdout);
	if (!pinned)
		return 3;
	for (;;)
		pause();
}
