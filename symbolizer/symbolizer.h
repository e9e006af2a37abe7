/* SPDX-License-Identifier: MIT */
/*
 * symbolizer: addresses to the frames a person reads.
 *
 * Kernel addresses resolve through /proc/kallsyms (modules included). User
 * addresses resolve in two steps: a process's executable mappings are
 * captured while it lives (sym_proc_capture), and later any address in them
 * is turned into (object, object-relative address) and looked up in that
 * object's symbol tables. Objects are read once per symbolizer whatever the
 * number of processes that map them, and a captured process can be resolved
 * after it has exited.
 *
 * Results borrow their strings from the symbolizer: they stay valid until
 * symbolizer_free(). Nothing here talks to BPF.
 */
#ifndef SMOLDER_SYMBOLIZER_H
#define SMOLDER_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/frame.h"

struct symbolizer;
struct sym_proc;

struct sym_opts {
	/* Where kernel symbols come from; NULL means /proc/kallsyms. */
	const char *kallsyms_path;
	/* Where process information comes from; NULL means /proc. */
	const char *proc_root;
	/* Root of separate debug files (.build-id/xx/rest.debug and
	 * .gnu_debuglink targets); NULL means /usr/lib/debug. */
	const char *debug_dir;
	/* Keep C++ and Rust names as the compiler mangled them. */
	bool no_demangle;
	/* Build each object's unwind table as it is read (sym_proc_unwind). */
	bool unwind_tables;
};

enum sym_status {
	SYM_OK = 0,         /* a function was found */
	SYM_NO_SYMBOL = 1,  /* the object was read; no symbol covers the address */
	SYM_NO_OBJECT = 2,  /* a mapping covers the address; its object is unreadable */
	SYM_NO_MAPPING = 3, /* nothing known covers the address */
};

struct sym_frame {
	const char *name;        /* function name, demangled; NULL unless SYM_OK */
	const char *system_name; /* the name as in the object (mangled), or NULL */
	const char *file;        /* source file or NULL */
	uint32_t line;           /* 0 when unknown */
	uint32_t column;         /* 0 when unknown */
	uint32_t start_line;     /* where the function is declared; 0: unknown */
};

/* One executable mapping of a process, as /proc/PID/maps described it. */
struct sym_mapping {
	uint64_t start, end; /* [start, end) virtual addresses */
	uint64_t offset;     /* file offset of start */
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	const char *path;     /* "" for anonymous memory; "[vdso]" etc. */
	const char *build_id; /* lower-case hex or NULL when unknown */
	bool deleted;         /* the path was marked "(deleted)" */
};

#define SYM_MAX_FRAMES 64

struct sym_result {
	enum sym_status status;
	enum frame_kind kind;
	/* Innermost first: frames[0] is the code at the address, later ones
	 * the functions it was inlined into (so every frame but the last is
	 * an inlined one). At least one when SYM_OK. Otherwise there may be
	 * one frame with a file and line but no name (code outside any
	 * function that the line table still covers). */
	struct sym_frame frames[SYM_MAX_FRAMES];
	uint32_t nframes;
	/* The object: a file path, "[kernel.kallsyms]", a module name, or
	 * NULL when nothing covers the address. */
	const char *module;
	/* The address relative to the object: the ELF virtual address for
	 * files (what addr2line takes), the offset from the kernel's text
	 * start for kernel addresses. Valid when module is not NULL. */
	uint64_t module_offset;
	/* Offset of the address from the start of frames[0]'s function. */
	uint64_t symbol_offset;
	/* For user addresses: the mapping that covers it, or NULL. */
	const struct sym_mapping *mapping;
};

struct sym_stats {
	uint64_t objects_loaded;  /* ELF objects read */
	uint64_t objects_evicted; /* their symbols dropped by symbolizer_trim */
	uint64_t cache_bytes;     /* symbols and DWARF indexes held, about */
	uint64_t objects_failed;  /* objects that could not be read */
	uint64_t symbols;         /* function symbols held, all objects */
	uint64_t kernel_symbols;  /* from kallsyms */
	uint64_t objects_shared;  /* files found to be an object already read
				     (same build-id) */
	uint64_t debug_files;     /* separate debug files used */
	uint64_t dwarf_objects;   /* objects with DWARF */
	uint64_t debuginfod_fetched, debuginfod_failed;
	uint64_t objects_lost;    /* files that shrank while mapped: their
				     DWARF is no longer used */
	uint64_t unwind_tables;   /* unwind tables built */
	uint64_t unwind_rows;     /* their rows, all tables */
	uint64_t unwind_unsupported; /* rows with rules a walker cannot follow */
	uint64_t unwind_no_cfi;   /* objects without CFI */
	uint64_t unwind_build_ns; /* time spent building them */
};

/* Caller owns; free with symbolizer_free(). `opts` may be NULL. */
struct symbolizer *symbolizer_new(const struct sym_opts *opts);
void symbolizer_free(struct symbolizer *s);

/*
 * Resolve a kernel address. `is_return` says the address is a return
 * address (every frame but the leaf), so the call instruction before it is
 * what gets resolved. Never fails: problems show in out->status.
 */
void symbolize_kernel(struct symbolizer *s, uint64_t addr, bool is_return,
		      struct sym_result *out);

/*
 * Why kernel symbols are unavailable (a sentence fragment such as
 * "'/proc/kallsyms' shows zero addresses (kernel.kptr_restrict)"), or NULL
 * when they are fine. Loads them if needed.
 */
const char *symbolizer_kernel_problem(struct symbolizer *s);

/*
 * Capture the executable mappings of process `pid` now. When
 * `start_boottime_ns` is not 0, the process must have started at that time
 * (CLOCK_BOOTTIME, as the kernel's task start_boottime), which proves it is
 * the same process and not a later one that reused the pid; otherwise
 * errno is ESRCH. Caller owns the result; free with sym_proc_free(), before
 * the symbolizer. NULL and errno set on failure (ESRCH: no such process).
 */
struct sym_proc *sym_proc_capture(struct symbolizer *s, int pid,
				  uint64_t start_boottime_ns);
/*
 * Read the mappings again if the process still lives (and is the same
 * process): new mappings are added, mappings that were unmapped are kept
 * for addresses sampled earlier. Returns 0, or -ESRCH when it is gone.
 */
int sym_proc_refresh(struct sym_proc *sp);
void sym_proc_free(struct sym_proc *sp);

/*
 * What capturing a process needs from /proc, read in one go so that it can
 * be taken the moment a process appears (from any thread: it touches no
 * symbolizer) and used after the process has exited.
 */
struct sym_snapshot {
	int pid;
	int nspid;
	uint64_t start_ticks;
	char *maps;     /* the text of /proc/PID/maps */
	size_t maps_len;
	char *exe;      /* where /proc/PID/exe points, or NULL */
};
/* Take one; start_boottime_ns as for sym_proc_capture. 0, or -ESRCH when
 * the process is gone (or is another one), or a negative errno. */
int sym_snapshot_take(const char *proc_root, int pid,
		      uint64_t start_boottime_ns, struct sym_snapshot *out);
void sym_snapshot_release(struct sym_snapshot *snap);
/* sym_proc_capture from a snapshot (objects are opened by path, as the
 * process may be gone). NULL and errno on failure. */
struct sym_proc *sym_proc_from_snapshot(struct symbolizer *s,
					const struct sym_snapshot *snap);
/* sym_proc_refresh from a later snapshot of the same process; -ESRCH
 * when it is of another process. */
int sym_proc_refresh_snapshot(struct sym_proc *sp,
			      const struct sym_snapshot *snap);
int sym_proc_pid(const struct sym_proc *sp);
/* Number of executable mappings held, and the i-th one (by address). */
unsigned sym_proc_nmappings(const struct sym_proc *sp);
const struct sym_mapping *sym_proc_mapping(const struct sym_proc *sp,
					   unsigned i);

struct unwtab;

/* How to unwind through one mapping of a process. */
struct sym_unwind {
	/* The object's unwind table, NULL when it has none (no CFI, or
	 * the object cannot be read). Lives as long as the symbolizer. */
	const struct unwtab *table;
	/* An ELF virtual address of the object + bias = its address in the
	 * mapping. */
	uint64_t bias;
	/* Names the table: equal for every mapping of one object (one file,
	 * or copies with one build-id), never 0. */
	uint32_t object;
};

/*
 * The unwind table for mapping `i` of `sp` (needs sym_opts.unwind_tables),
 * reading the object now if it was not yet. Returns 0, or -ENOENT when no
 * object backs the mapping (anonymous memory, a file that cannot be read):
 * out->table is then NULL.
 */
int sym_proc_unwind(struct sym_proc *sp, unsigned i, struct sym_unwind *out);

/*
 * A new fd (caller closes it) on the object behind mapping `i` of `sp`
 * (for the vDSO, a memory file holding its image), or a negative errno
 * (-ENOENT: anonymous memory, or the file is gone or was replaced).
 */
int sym_proc_open_object(struct sym_proc *sp, unsigned i);

/* Resolve a user address of a captured process. Never fails. */
void symbolize_user(struct symbolizer *s, struct sym_proc *sp, uint64_t addr,
		    bool is_return, struct sym_result *out);

/*
 * Resolve `addr`, an ELF virtual address in the object at `path` (what
 * addr2line takes). Never fails.
 */
void symbolize_file(struct symbolizer *s, const char *path, uint64_t addr,
		    struct sym_result *out);
/*
 * Open and read the object at `path` now (symbolize_file does it on first
 * use). Returns an internal handle, or UINT32_MAX when the file cannot
 * be read (errno says why).
 */
uint32_t symbolizer_open_file(struct symbolizer *s, const char *path);
/*
 * Keep the symbols and DWARF indexes of objects within about max_bytes:
 * evict those of the least recently used objects (read again from their
 * files when next needed) down to 3/4 of it. Results of earlier look-ups
 * (names, files) may point into evicted data: call it between uses.
 * Returns the number of objects evicted.
 */
size_t symbolizer_trim(struct symbolizer *s, size_t max_bytes);

/* symbolize_file for a file opened by symbolizer_open_file: no path
 * look-up per address. */
void symbolize_opened(struct symbolizer *s, uint32_t handle, uint64_t addr,
		      struct sym_result *out);

void symbolizer_stats(const struct symbolizer *s, struct sym_stats *out);

#endif
