/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: any input as an ELF object through the symbolizer's
 * file entry point (libelf symbol tables, .gnu_debugdata, .gnu_debuglink,
 * libdw and our DWARF indexes), then a spread of look-ups. A corrupt object
 * may resolve nothing, but must never crash, hang, leak memory or leak fds.
 *
 * The input is written to a memfd and opened as /proc/self/fd/N, which is
 * a regular file to the symbolizer, with a fresh inode each run. Separate
 * debug files are looked for in a directory that does not exist, and
 * debuginfod is switched off. Two look-ups remain that the input steers:
 * a .gnu_debuglink name is tried beside the object, that is as another fd
 * under /proc/self/fd (used only if its CRC matches), and libdw tries the
 * file a .gnu_debugaltlink names.
 *
 * The same object then goes through the unwind table builder (libdw's CFI
 * reader and our walk over its FDEs), whose rows must come out sorted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../symbolizer/symbolizer.h"
#include "../../symbolizer/unwtab.h"

/* The most look-ups one input gets: enough to build every unit of a small
 * object, few enough to keep thousands of runs a second. */
#define MAX_LOOKUPS 4096

static int first_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Read by our debuginfod fallback, and by libdw's own client when
	 * it looks for files: a fuzzer must not reach for the network. */
	unsetenv("DEBUGINFOD_URLS");
	return 0;
}

static uint64_t get_u64(const uint8_t *data, size_t size, size_t off)
{
	uint64_t v = 0;

	if (off <= size && size - off >= 8)
		memcpy(&v, data + off, 8); /* little-endian, as x86-64 ELF is */
	return v;
}

static uint16_t get_u16(const uint8_t *data, size_t size, size_t off)
{
	uint16_t v = 0;

	if (off <= size && size - off >= 2)
		memcpy(&v, data + off, 2);
	return v;
}

/* Every string a result holds must be readable: strlen lets ASan check
 * that what it borrows from libdw and libelf is still alive. */
static void check_result(const struct sym_result *r)
{
	volatile size_t sink = 0;

	if (r->status > SYM_NO_MAPPING || r->nframes > SYM_MAX_FRAMES)
		abort();
	if (r->status == SYM_OK && !r->nframes)
		abort();
	if (r->status != SYM_OK && r->nframes > 1)
		abort();
	for (uint32_t i = 0; i < r->nframes; i++) {
		const struct sym_frame *f = &r->frames[i];

		if (r->status == SYM_OK && !f->name)
			abort();
		if (f->name)
			sink += strlen(f->name);
		if (f->system_name)
			sink += strlen(f->system_name);
		if (f->file)
			sink += strlen(f->file);
	}
	if (r->module)
		sink += strlen(r->module);
	(void)sink;
}

struct run {
	struct symbolizer *s;
	uint32_t handle;
	unsigned nlookups;
};

static void lookup(struct run *run, uint64_t addr)
{
	struct sym_result r;

	if (run->nlookups >= MAX_LOOKUPS)
		return;
	run->nlookups++;
	symbolize_opened(run->s, run->handle, addr, &r);
	check_result(&r);
}

/*
 * Addresses inside the executable sections the input's own section headers
 * name, when it looks like a 64-bit ELF file: where real code, and so real
 * DWARF and symbols, would be. Read only as far as the input holds.
 */
static void lookup_sections(struct run *run, const uint8_t *data, size_t size)
{
	uint64_t shoff = get_u64(data, size, 0x28);
	uint32_t shentsize = get_u16(data, size, 0x3a);
	uint32_t shnum = get_u16(data, size, 0x3c);

	if (size < 0x40 || memcmp(data, "\177ELF\2", 5) || shentsize < 0x40 ||
	    shoff >= size)
		return;
	for (uint32_t i = 0; i < shnum && i < 64; i++) {
		size_t sh = (size_t)shoff + (size_t)i * shentsize;
		uint64_t flags, addr, len, step;

		if (sh < shoff || sh > size || size - sh < 0x40)
			break;
		flags = get_u64(data, size, sh + 0x08);
		addr = get_u64(data, size, sh + 0x10);
		len = get_u64(data, size, sh + 0x20);
		if (!(flags & 0x4) || !len) /* SHF_EXECINSTR */
			continue;
		/* At most 512 addresses per section, every byte of a small
		 * one: inline segments can be a few bytes long. */
		step = len / 512 + 1;
		for (uint64_t a = 0; a < len && a < 512 * step; a += step)
			lookup(run, addr + a);
		lookup(run, addr + len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t fixed[] = {
		0, 1, 0x1000, 0x1130, 0x400000, 0x401000, 0x10000000,
		UINT64_MAX - 1, UINT64_MAX,
	};
	struct sym_opts opts = {
		.debug_dir = "/nonexistent/smolder-fuzz-debug",
	};
	struct run run = { 0 };
	char path[64];
	int fd;

	fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		abort(); /* EMFILE here would be an fd leak */
	}
	/* Each run gets the lowest free fd; if it keeps climbing, fds leak. */
	if (first_fd < 0)
		first_fd = fd;
	if (fd > first_fd + 16) {
		fprintf(stderr, "fd %d: file descriptors leak\n", fd);
		abort();
	}
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0) {
			perror("write");
			abort();
		}
		off += (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	run.s = symbolizer_new(&opts);
	run.handle = symbolizer_open_file(run.s, path);
	if (run.handle != UINT32_MAX) {
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			lookup(&run, fixed[i]);
		/* The entry point, and values where a mutation steers them. */
		lookup(&run, get_u64(data, size, 0x18));
		lookup(&run, get_u64(data, size, (size / 2) & ~(size_t)7));
		if (size >= 8)
			lookup(&run, get_u64(data, size, size - 8));
		lookup_sections(&run, data, size);
		/* PIE objects and shared libraries start at 0, so their
		 * addresses are close to file offsets; a coarse sweep. */
		for (uint64_t a = 0; a < size; a += 64)
			lookup(&run, a);
		/* A second symbolize of one address uses what the first
		 * built: the per-unit indexes must be reusable. */
		lookup(&run, get_u64(data, size, 0x18));
	}
	symbolizer_free(run.s);

	struct unwtab *t = unwtab_build(fd, NULL, 0);

	if (t) {
		for (uint32_t i = 1; i < t->nrows; i++)
			if (t->rows[i].pc <= t->rows[i - 1].pc)
				abort();
		for (uint32_t i = 0; i < t->nrows && i < 64; i++) {
			const struct unw_row *r = unwtab_find(t, t->base +
							      t->rows[i].pc);

			if (!r || r->pc != t->rows[i].pc)
				abort();
		}
		unwtab_find(t, get_u64(data, size, 0x18));
		unwtab_free(t);
	}
	close(fd);
	return 0;
}
