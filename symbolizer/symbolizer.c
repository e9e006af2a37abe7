/* SPDX-License-Identifier: MIT */
#include "symbolizer.h"

#include <elfutils/debuginfod.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"
#include "symbolizer_internal.h"
#include "unwtab.h"

#define KERNEL_MODULE_NAME "[kernel.kallsyms]"
#define NO_OBJECT UINT32_MAX
#define VDSO_OBJECT (UINT32_MAX - 1)

enum obj_state { OBJ_PENDING, OBJ_LOADED, OBJ_FAILED };

/*
 * What was read from one object: shared by every file with the same
 * build-id (the same library in many containers, a binary and its copy),
 * so each is read and indexed once.
 */
struct objdata {
	struct elf_object *elf;     /* symbols and program headers */
	struct dwarf_index *dwarf;  /* NULL without DWARF */
	bool dwarf_lost;            /* its file shrank under us */
	const char *path;           /* for messages */
	uint64_t last_use;          /* symbolizer.use_tick when last used */
};

/*
 * What unwinding needs of an object, read without its symbols: where its
 * segments go and its unwind table. Shared by build-id like objdata.
 */
struct unwdata {
	struct elf_object *hdr; /* program headers and build-id only */
	struct unwtab *tab;     /* NULL: no CFI */
	uint32_t id;            /* index in unws + 1 */
};

/*
 * One ELF object, identified by the device and inode the kernel reported
 * for its mapping: every process mapping it shares this entry. While a
 * process lives we hold an fd opened through /proc/PID/map_files, so the
 * object stays readable when the process exits, when the file is deleted
 * or replaced, and when it lives in another mount namespace.
 */
struct object {
	uint64_t dev, ino;
	char *path;
	int fd; /* pinned fd, or -1 */
	enum obj_state state;
	struct objdata *data;
	struct unwdata *uw; /* read on first sym_proc_unwind */
	bool uw_done;
};

/* Code a JIT compiler described in /tmp/perf-PID.map. */
struct jit_sym {
	uint64_t start, end;
	const char *name;
};

struct demangled {
	const char *raw, *out;
};

struct symbolizer {
	char *kallsyms_path;
	char *proc_root;

	struct ksyms ksyms;
	bool ksyms_tried;
	char *kernel_problem;

	struct object *objs;
	size_t nobjs, objs_alloc;
	struct hmap obj_idx;
	size_t pinned, max_pinned;

	struct objdata **datas;
	size_t ndatas, datas_alloc;
	struct hmap build_id_idx;

	struct elf_object *vdso;
	bool vdso_tried;
	struct unwtab *vdso_unw;
	struct unwdata **unws;
	size_t nunws, unws_alloc;
	struct hmap unw_bid_idx;
	const void *vdso_image;
	size_t vdso_size;
	int vdso_memfd; /* a file holding the image; -1 until asked for */
	bool unwind_tables;

	char *debug_dir;
	bool no_demangle;
	debuginfod_client *debuginfod;
	bool debuginfod_tried;

	struct demangled *dems;
	size_t ndems, dems_alloc;
	struct hmap dem_idx;
	struct arena dem_arena;
	uint64_t use_tick;

	struct arena arena; /* paths of mappings */
	struct hmap path_idx;
	const char **paths;
	size_t npaths, paths_alloc;

	struct sym_stats stats;
};

struct mapping_rec {
	struct sym_mapping m;
	uint32_t obj; /* index into objs, NO_OBJECT or VDSO_OBJECT */
};

struct sym_proc {
	struct symbolizer *s;
	int pid;
	int nspid; /* the pid inside its own pid namespace */
	uint64_t start_ticks; /* /proc/PID/stat starttime */
	struct mapping_rec *maps;
	size_t nmaps, maps_alloc;
	/* The JIT's perf map, read when an anonymous mapping is first
	 * resolved and again when it has grown. */
	struct jit_sym *jit;
	size_t njit;
	off_t jit_size;
	uint64_t jit_read_ns; /* CLOCK_MONOTONIC of the last look for it */
	struct arena jit_arena;
};

struct symbolizer *symbolizer_new(const struct sym_opts *opts)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));
	struct rlimit rl;

	s->kallsyms_path = xstrdup(opts && opts->kallsyms_path ?
					   opts->kallsyms_path : "/proc/kallsyms");
	s->proc_root = xstrdup(opts && opts->proc_root ? opts->proc_root : "/proc");
	s->debug_dir = xstrdup(opts && opts->debug_dir ? opts->debug_dir :
							 "/usr/lib/debug");
	s->no_demangle = opts && opts->no_demangle;
	s->unwind_tables = opts && opts->unwind_tables;
	s->vdso_memfd = -1;
	/* Pin at most half the fds we may open; past that, objects are
	 * opened by path when needed. */
	s->max_pinned = 256;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 > s->max_pinned)
		s->max_pinned = rl.rlim_cur / 2;
	return s;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nobjs; i++) {
		if (s->objs[i].fd >= 0)
			close(s->objs[i].fd);
		free(s->objs[i].path);
	}
	free(s->objs);
	for (size_t i = 0; i < s->ndatas; i++) {
		if (!s->datas[i])
			continue;
		elf_object_free(s->datas[i]->elf);
		dwarf_index_free(s->datas[i]->dwarf);
		free(s->datas[i]);
	}
	free(s->datas);
	hmap_release(&s->build_id_idx);
	free(s->dems);
	hmap_release(&s->dem_idx);
	arena_release(&s->dem_arena);
	if (s->debuginfod)
		debuginfod_end(s->debuginfod);
	free(s->debug_dir);
	hmap_release(&s->obj_idx);
	elf_object_free(s->vdso);
	unwtab_free(s->vdso_unw);
	for (size_t i = 0; i < s->nunws; i++) {
		elf_object_free(s->unws[i]->hdr);
		unwtab_free(s->unws[i]->tab);
		free(s->unws[i]);
	}
	free(s->unws);
	hmap_release(&s->unw_bid_idx);
	if (s->vdso_memfd >= 0)
		close(s->vdso_memfd);
	ksyms_release(&s->ksyms);
	free(s->kernel_problem);
	free(s->kallsyms_path);
	free(s->proc_root);
	free(s->paths);
	hmap_release(&s->path_idx);
	arena_release(&s->arena);
	free(s);
}

/* ---- kernel ---- */

static void load_ksyms(struct symbolizer *s)
{
	char buf[512];
	FILE *f;
	int err;

	if (s->ksyms_tried)
		return;
	s->ksyms_tried = true;
	f = fopen(s->kallsyms_path, "re");
	if (!f) {
		snprintf(buf, sizeof(buf), "cannot open '%s': %s",
			 s->kallsyms_path, strerror(errno));
		s->kernel_problem = xstrdup(buf);
		return;
	}
	err = ksyms_parse(&s->ksyms, f);
	fclose(f);
	if (err) {
		snprintf(buf, sizeof(buf), "cannot parse '%s': %s",
			 s->kallsyms_path, strerror(-err));
		s->kernel_problem = xstrdup(buf);
		return;
	}
	if (s->ksyms.zero_addresses) {
		snprintf(buf, sizeof(buf),
			 "'%s' shows every address as zero (kernel.kptr_restrict"
			 " hides them: run as root, or set it to 0)",
			 s->kallsyms_path);
		s->kernel_problem = xstrdup(buf);
	}
	s->stats.kernel_symbols = s->ksyms.n;
}

const char *symbolizer_kernel_problem(struct symbolizer *s)
{
	load_ksyms(s);
	return s->kernel_problem;
}

static void result_init(struct sym_result *out, enum frame_kind kind)
{
	out->status = SYM_NO_MAPPING;
	out->kind = kind;
	out->nframes = 0;
	out->module = NULL;
	out->module_offset = 0;
	out->symbol_offset = 0;
	out->mapping = NULL;
}

static void result_symbol(struct sym_result *out, const char *name,
			  uint64_t symbol_offset)
{
	out->status = SYM_OK;
	out->nframes = 1;
	out->frames[0] = (struct sym_frame){ .name = name, .system_name = name };
	out->symbol_offset = symbol_offset;
}

void symbolize_kernel(struct symbolizer *s, uint64_t addr, bool is_return,
		      struct sym_result *out)
{
	uint64_t a = is_return ? addr - 1 : addr;
	const struct ksym *k;

	result_init(out, FRAME_KERNEL);
	load_ksyms(s);
	if (a < s->ksyms.text_start || !s->ksyms.n)
		return; /* SYM_NO_MAPPING: not kernel text we know of */
	out->module = KERNEL_MODULE_NAME;
	out->module_offset = a - s->ksyms.text_start;
	out->status = SYM_NO_SYMBOL;
	k = ksyms_lookup(&s->ksyms, a);
	if (!k)
		return;
	if (k->module)
		out->module = k->module;
	result_symbol(out, k->name, a - k->addr);
}

/* ---- objects ---- */

static const char *intern_path(struct symbolizer *s, const char *path)
{
	uint64_t h = hash_str(path);
	size_t pos;

	for (uint32_t i = hmap_first(&s->path_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&s->path_idx, h, &pos))
		if (!strcmp(s->paths[i], path))
			return s->paths[i];
	ALLOC_GROW(s->paths, s->npaths + 1, s->paths_alloc);
	s->paths[s->npaths] = arena_strdup(&s->arena, path);
	hmap_insert(&s->path_idx, h, (uint32_t)s->npaths);
	return s->paths[s->npaths++];
}

static uint32_t find_object(struct symbolizer *s, uint64_t dev, uint64_t ino)
{
	uint64_t h = hash_combine(dev, ino);
	size_t pos;

	for (uint32_t i = hmap_first(&s->obj_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&s->obj_idx, h, &pos))
		if (s->objs[i].dev == dev && s->objs[i].ino == ino)
			return i;
	return NO_OBJECT;
}

static uint32_t add_object(struct symbolizer *s, uint64_t dev, uint64_t ino,
			   const char *path)
{
	uint32_t i = (uint32_t)s->nobjs;

	ALLOC_GROW(s->objs, s->nobjs + 1, s->objs_alloc);
	s->objs[i] = (struct object){
		.dev = dev, .ino = ino, .path = xstrdup(path), .fd = -1,
		.state = OBJ_PENDING,
	};
	hmap_insert(&s->obj_idx, hash_combine(dev, ino), i);
	s->nobjs++;
	return i;
}

/* Whether the file at `fd` is an ELF file with the build-id `want`. */
static bool same_build_id(int fd, const char *want, struct elf_object **out)
{
	struct elf_object *e = elf_object_load(fd, NULL, 0);

	if (e && e->build_id && !strcmp(e->build_id, want)) {
		*out = e;
		return true;
	}
	elf_object_free(e);
	return false;
}

/* The CRC .gnu_debuglink names: zlib's CRC-32 of the whole file. */
static bool crc_matches(int fd, uint32_t want)
{
	struct stat st;
	void *p;
	uLong crc;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return false;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return false;
	crc = crc32(0L, Z_NULL, 0);
	for (off_t off = 0; off < st.st_size;) {
		uInt n = st.st_size - off > (1 << 30) ? 1u << 30
						      : (uInt)(st.st_size - off);

		crc = crc32(crc, (const Bytef *)p + off, n);
		off += n;
	}
	munmap(p, (size_t)st.st_size);
	return (uint32_t)crc == want;
}

static int open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static debuginfod_client *get_debuginfod(struct symbolizer *s)
{
	const char *urls = getenv("DEBUGINFOD_URLS");

	if (!s->debuginfod_tried) {
		s->debuginfod_tried = true;
		if (urls && *urls) {
			s->debuginfod = debuginfod_begin();
			if (!s->debuginfod)
				log_warn("debuginfod: cannot start a client: %s",
					 strerror(errno));
		}
	}
	return s->debuginfod;
}

/*
 * Find the separate debug file of a stripped object, as gdb does: by
 * build-id under the debug directory, then the file .gnu_debuglink names
 * (beside the object, in .debug/ beside it, and under the debug directory
 * by the object's directory), with its CRC checked, then from a debuginfod
 * server when DEBUGINFOD_URLS names one. Returns an fd or -1; *dbg is the
 * debug file's symbol tables.
 */
static int find_debug_file(struct symbolizer *s, const struct elf_object *elf,
			   const char *obj_path, struct elf_object **dbg)
{
	char path[PATH_MAX];
	debuginfod_client *c;
	int fd;

	*dbg = NULL;
	if (elf->build_id && strlen(elf->build_id) >= 3) {
		snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug",
			 s->debug_dir, elf->build_id, elf->build_id + 2);
		fd = open_regular(path);
		if (fd >= 0) {
			if (same_build_id(fd, elf->build_id, dbg)) {
				log_debug("debug file '%s'", path);
				return fd;
			}
			log_debug("'%s' is not the debug file it is named for",
				  path);
			close(fd);
		}
	}
	if (elf->debuglink && obj_path && obj_path[0] == '/') {
		const char *slash = strrchr(obj_path, '/');
		int dirlen = (int)(slash - obj_path);
		for (int i = 0; i < 3; i++) {
			if (i == 0)
				snprintf(path, sizeof(path), "%.*s/%s", dirlen,
					 obj_path, elf->debuglink);
			else if (i == 1)
				snprintf(path, sizeof(path), "%.*s/.debug/%s",
					 dirlen, obj_path, elf->debuglink);
			else
				snprintf(path, sizeof(path), "%s%.*s/%s",
					 s->debug_dir, dirlen, obj_path,
					 elf->debuglink);
			if (!strcmp(path, obj_path))
				continue; /* the object itself */
			fd = open_regular(path);
			if (fd < 0)
				continue;
			if (crc_matches(fd, elf->debuglink_crc)) {
				*dbg = elf_object_load(fd, NULL, 0);
				if (*dbg) {
					log_debug("debug file '%s'", path);
					return fd;
				}
			} else {
				log_debug("'%s': CRC differs from .gnu_debuglink",
					  path);
			}
			close(fd);
		}
	}
	if (elf->build_id && (c = get_debuginfod(s))) {
		char *where = NULL;

		fd = debuginfod_find_debuginfo(
			c, (const unsigned char *)elf->build_id, 0, &where);
		if (fd >= 0) {
			s->stats.debuginfod_fetched++;
			log_debug("debuginfod: '%s' for %s", where ? where : "?",
				  elf->build_id);
			free(where);
			if (same_build_id(fd, elf->build_id, dbg))
				return fd;
			close(fd);
		} else {
			s->stats.debuginfod_failed++;
			log_debug("debuginfod: nothing for %s: %s",
				  elf->build_id, strerror(-fd));
		}
	}
	return -1;
}

static int cmp_sym_addr(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * Take the debug file's symbols when it knows more functions, keeping the
 * PLT stubs only the object itself can name (a debug file's .plt has no
 * contents).
 */
static void adopt_symbols(struct elf_object *elf, struct elf_object *dbg)
{
	struct elf_sym *syms = elf->syms;
	size_t n = elf->nsyms, nplt = 0, k;
	struct arena a = elf->arena;

	if (dbg->nsyms <= elf->nsyms)
		return;
	for (size_t i = 0; i < n; i++)
		nplt += strstr(syms[i].name, "@plt") != NULL;
	if (nplt) {
		dbg->syms = xreallocarray(dbg->syms, dbg->nsyms + nplt,
					  sizeof(*dbg->syms));
		k = dbg->nsyms;
		for (size_t i = 0; i < n; i++) {
			if (!strstr(syms[i].name, "@plt"))
				continue;
			dbg->syms[k] = syms[i];
			dbg->syms[k++].name = arena_strdup(&dbg->arena,
							   syms[i].name);
		}
		dbg->nsyms = k;
		qsort(dbg->syms, dbg->nsyms, sizeof(*dbg->syms), cmp_sym_addr);
	}
	elf->syms = dbg->syms;
	elf->nsyms = dbg->nsyms;
	elf->arena = dbg->arena;
	dbg->syms = syms;
	dbg->nsyms = n;
	dbg->arena = a;
}

static struct objdata *find_data(struct symbolizer *s, const char *build_id)
{
	uint64_t h = hash_str(build_id);
	size_t pos;

	for (uint32_t i = hmap_first(&s->build_id_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&s->build_id_idx, h, &pos))
		if (s->datas[i] && !strcmp(s->datas[i]->elf->build_id, build_id))
			return s->datas[i];
	return NULL;
}

static void install_bus_guard(void);

static struct unwtab *build_unwtab(struct symbolizer *s, int fd,
				   const void *image, size_t size,
				   const char *path)
{
	struct unwtab *t = unwtab_build(fd, image, size);

	if (!t) {
		if (errno == ENOENT)
			s->stats.unwind_no_cfi++;
		log_debug("no unwind table for '%s': %s", path,
			  errno == ENOENT ? "it has no CFI" : strerror(errno));
		return NULL;
	}
	s->stats.unwind_tables++;
	s->stats.unwind_rows += t->nrows;
	s->stats.unwind_unsupported += t->unsupported;
	s->stats.unwind_build_ns += t->build_ns;
	log_debug("unwind table of '%s': %u rows from %u FDEs in %s"
		  " (%u unsupported), %.1f ms", path, t->nrows, t->fdes,
		  t->source, t->unsupported, (double)t->build_ns / 1e6);
	return t;
}

static struct objdata *new_data(struct symbolizer *s, struct elf_object *elf,
				int fd, const char *path)
{
	struct objdata *d = xcalloc(1, sizeof(*d));
	struct elf_object *dbg = NULL;

	d->elf = elf;
	d->path = intern_path(s, path);
	if (elf->has_dwarf) {
		d->dwarf = dwarf_index_open(fd);
	} else {
		int dfd = find_debug_file(s, elf, path, &dbg);

		if (dfd >= 0) {
			s->stats.debug_files++;
			adopt_symbols(elf, dbg);
			if (dbg->has_dwarf)
				d->dwarf = dwarf_index_open(dfd);
			elf_object_free(dbg);
			close(dfd);
		}
	}
	if (d->dwarf) {
		s->stats.dwarf_objects++;
		install_bus_guard();
	}
	ALLOC_GROW(s->datas, s->ndatas + 1, s->datas_alloc);
	if (elf->build_id)
		hmap_insert(&s->build_id_idx, hash_str(elf->build_id),
			    (uint32_t)s->ndatas);
	s->datas[s->ndatas++] = d;
	s->stats.objects_loaded++;
	s->stats.symbols += elf->nsyms;
	return d;
}

/*
 * The object's pinned fd (borrowed), or a new one opened by its path. The
 * path may name another file by now: it is accepted only if it is still
 * the same inode. -1 when there is none.
 */
static int object_fd(const struct object *o)
{
	struct stat st;
	int fd = o->fd;

	if (fd >= 0)
		return fd;
	fd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) || st.st_ino != o->ino)) {
		log_debug("'%s' was replaced since it was mapped", o->path);
		close(fd);
		fd = -1;
	}
	return fd;
}

static void load_object(struct symbolizer *s, struct object *o)
{
	struct elf_object *elf = NULL;
	int fd;

	if (o->state != OBJ_PENDING)
		return;
	fd = object_fd(o);
	if (fd >= 0)
		elf = elf_object_load(fd, NULL, 0);
	if (elf) {
		o->data = elf->build_id ? find_data(s, elf->build_id) : NULL;
		if (o->data) {
			s->stats.objects_shared++;
			elf_object_free(elf);
		} else {
			o->data = new_data(s, elf, fd, o->path);
		}
		o->state = OBJ_LOADED;
	} else {
		log_debug("cannot read symbols of '%s': %s", o->path,
			  fd < 0 ? "cannot open it" : strerror(errno));
		o->state = OBJ_FAILED;
		s->stats.objects_failed++;
	}
	if (fd >= 0)
		close(fd);
	if (o->fd >= 0)
		s->pinned--;
	o->fd = -1;
}

static struct elf_object *get_vdso(struct symbolizer *s)
{
	/* Every process of this kernel maps the same vDSO image; read ours. */
	unsigned long base = getauxval(AT_SYSINFO_EHDR);

	if (!s->vdso_tried && base) {
		FILE *f = fopen("/proc/self/maps", "re");
		char *line = NULL;
		size_t cap = 0;

		s->vdso_tried = true;
		while (f && getline(&line, &cap, f) > 0) {
			struct procmap_entry e;

			if (!procmaps_parse_line(line, &e) && e.start == base &&
			    !strcmp(e.path, "[vdso]")) {
				s->vdso = elf_object_load(-1, (void *)base,
							  e.end - e.start);
				s->vdso_image = (const void *)base;
				s->vdso_size = e.end - e.start;
				if (s->unwind_tables)
					s->vdso_unw = build_unwtab(
						s, -1, (void *)base,
						e.end - e.start, "[vdso]");
				break;
			}
		}
		free(line);
		if (f)
			fclose(f);
	}
	return s->vdso;
}

/* Memory an object's symbols and DWARF indexes hold, roughly. */
static size_t data_bytes(const struct objdata *d)
{
	return sizeof(*d) + d->elf->nsyms * sizeof(struct elf_sym) +
	       d->elf->arena.total + (d->dwarf ? dwarf_index_bytes(d->dwarf) : 0);
}

static int cmp_use(const void *a, const void *b)
{
	const struct objdata *x = *(struct objdata *const *)a;
	const struct objdata *y = *(struct objdata *const *)b;

	return x->last_use < y->last_use ? -1 : x->last_use > y->last_use;
}

size_t symbolizer_trim(struct symbolizer *s, size_t max_bytes)
{
	struct objdata **order;
	size_t total = 0, n = 0, evicted = 0;

	for (size_t i = 0; i < s->ndatas; i++)
		if (s->datas[i])
			total += data_bytes(s->datas[i]);
	s->stats.cache_bytes = total;
	if (total <= max_bytes)
		return 0;
	order = xmalloc(s->ndatas * sizeof(*order));
	for (size_t i = 0; i < s->ndatas; i++)
		if (s->datas[i])
			order[n++] = s->datas[i];
	qsort(order, n, sizeof(*order), cmp_use);
	/* Down to 3/4 of the cap, so that trimming is not every time. */
	for (size_t k = 0; k < n && total > max_bytes / 4 * 3; k++) {
		struct objdata *d = order[k];

		total -= data_bytes(d);
		for (size_t i = 0; i < s->nobjs; i++)
			if (s->objs[i].data == d) {
				/* Read again (by its path) when next needed. */
				s->objs[i].data = NULL;
				s->objs[i].state = OBJ_PENDING;
			}
		for (size_t i = 0; i < s->ndatas; i++)
			if (s->datas[i] == d)
				s->datas[i] = NULL;
		elf_object_free(d->elf);
		dwarf_index_free(d->dwarf);
		free(d);
		evicted++;
	}
	free(order);
	/* Demangled names are keyed by the raw names' addresses. */
	free(s->dems);
	s->dems = NULL;
	s->ndems = s->dems_alloc = 0;
	hmap_release(&s->dem_idx);
	hmap_init(&s->dem_idx);
	arena_release(&s->dem_arena);
	s->stats.objects_evicted += evicted;
	s->stats.cache_bytes = total;
	return evicted;
}

/* ---- processes ---- */

static int open_proc_dir(struct symbolizer *s, int pid)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%d", s->proc_root, pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		errno = ESRCH;
	return fd;
}

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static int read_start_ticks(int dirfd, uint64_t *ticks)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = openat(dirfd, "stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the
	 * last ')'. It is followed by field 3 (state). */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (field == 22) {
			*ticks = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -EINVAL;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct mapping_rec *x = a, *y = b;

	if (x->m.start != y->m.start)
		return x->m.start < y->m.start ? -1 : 1;
	return 0;
}

/* Read the executable mappings of the process at dirfd into *out. */
/* Parse /proc/PID/maps text from f; with dirfd >= 0 (the live process's
 * /proc directory), pin new objects through map_files. */
static void parse_maps(struct symbolizer *s, FILE *f, int dirfd,
		       struct mapping_rec **out, size_t *nout, size_t *alloc)
{
	char *line = NULL;
	size_t cap = 0;

	*nout = 0;
	while (getline(&line, &cap, f) > 0) {
		struct procmap_entry e;
		struct mapping_rec *r;

		if (procmaps_parse_line(line, &e)) {
			log_debug("unexpected line in maps: %s", line);
			continue;
		}
		if (e.perms[2] != 'x')
			continue;
		ALLOC_GROW(*out, *nout + 1, *alloc);
		r = &(*out)[(*nout)++];
		memset(r, 0, sizeof(*r));
		r->m.start = e.start;
		r->m.end = e.end;
		r->m.offset = e.offset;
		r->m.inode = e.inode;
		r->m.dev_major = e.dev_major;
		r->m.dev_minor = e.dev_minor;
		r->m.deleted = e.deleted;
		r->m.path = intern_path(s, e.path);
		r->obj = NO_OBJECT;
		if (!strcmp(e.path, "[vdso]")) {
			r->obj = VDSO_OBJECT;
		} else if (e.path[0] == '/' && e.inode) {
			uint64_t dev = makedev(e.dev_major, e.dev_minor);
			uint32_t i = find_object(s, dev, e.inode);

			if (i == NO_OBJECT)
				i = add_object(s, dev, e.inode, e.path);
			r->obj = i;
			if (dirfd >= 0 && s->objs[i].state == OBJ_PENDING &&
			    s->objs[i].fd < 0 && s->pinned < s->max_pinned) {
				char mf[64];

				snprintf(mf, sizeof(mf), "map_files/%llx-%llx",
					 (unsigned long long)e.start,
					 (unsigned long long)e.end);
				s->objs[i].fd = openat(dirfd, mf,
						       O_RDONLY | O_CLOEXEC);
				if (s->objs[i].fd >= 0)
					s->pinned++;
			}
		}
	}
	free(line);
	if (*nout) /* a zombie has no mappings */
		qsort(*out, *nout, sizeof(**out), cmp_rec);
}

static int read_maps(struct symbolizer *s, int dirfd, struct mapping_rec **out,
		     size_t *nout, size_t *alloc)
{
	FILE *f;
	int fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	parse_maps(s, f, dirfd, out, nout, alloc);
	fclose(f);
	return 0;
}

/* The process's pid in its own pid namespace (the last NSpid value),
 * which names its JIT perf map; 0 when unknown. */
static int read_nspid(int dirfd)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = openat(dirfd, "status", O_RDONLY | O_CLOEXEC), pid = 0;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nNSpid:");
	if (!p)
		return 0;
	p += 7;
	while (*p && *p != '\n') {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		pid = (int)v;
		p = end;
	}
	return pid;
}

static int check_start(int dirfd, uint64_t start_boottime_ns, uint64_t *ticks)
{
	long hz = sysconf(_SC_CLK_TCK);
	int err = read_start_ticks(dirfd, ticks);

	if (err)
		return err == -ENOENT ? -ESRCH : err;
	if (start_boottime_ns && hz > 0) {
		uint64_t want = start_boottime_ns / (1000000000ull / (uint64_t)hz);

		if (*ticks + 1 < want || *ticks > want + 1)
			return -ESRCH;
	}
	return 0;
}

struct sym_proc *sym_proc_capture(struct symbolizer *s, int pid,
				  uint64_t start_boottime_ns)
{
	struct sym_proc *sp;
	int dirfd, err;
	uint64_t ticks;

	dirfd = open_proc_dir(s, pid);
	if (dirfd < 0)
		return NULL;
	err = check_start(dirfd, start_boottime_ns, &ticks);
	if (err) {
		close(dirfd);
		errno = -err;
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->s = s;
	sp->pid = pid;
	sp->start_ticks = ticks;
	sp->nspid = read_nspid(dirfd);
	err = read_maps(s, dirfd, &sp->maps, &sp->nmaps, &sp->maps_alloc);
	close(dirfd);
	if (err) {
		sym_proc_free(sp);
		errno = err == -ENOENT ? ESRCH : -err;
		return NULL;
	}
	return sp;
}

static void merge_maps(struct sym_proc *sp, struct mapping_rec *fresh,
		       size_t nfresh, size_t alloc);

int sym_proc_refresh(struct sym_proc *sp)
{
	struct mapping_rec *fresh = NULL;
	size_t nfresh = 0, alloc = 0;
	uint64_t ticks;
	int dirfd, err;

	dirfd = open_proc_dir(sp->s, sp->pid);
	if (dirfd < 0)
		return -ESRCH;
	err = read_start_ticks(dirfd, &ticks);
	if (!err && ticks != sp->start_ticks)
		err = -ESRCH;
	if (!err)
		err = read_maps(sp->s, dirfd, &fresh, &nfresh, &alloc);
	close(dirfd);
	if (err) {
		free(fresh);
		return err == -ENOENT ? -ESRCH : err;
	}
	merge_maps(sp, fresh, nfresh, alloc);
	return 0;
}

/* Take `fresh` as the process's mappings, keeping old mappings that no
 * new one overlaps: addresses sampled before an unmap still resolve. */
static void merge_maps(struct sym_proc *sp, struct mapping_rec *fresh,
		       size_t nfresh, size_t alloc)
{
	size_t j = 0;

	/* Both lists are sorted. */
	for (size_t i = 0; i < sp->nmaps; i++) {
		const struct mapping_rec *old = &sp->maps[i];
		bool overlap = false;

		while (j < nfresh && fresh[j].m.end <= old->m.start)
			j++;
		for (size_t k = j; k < nfresh && fresh[k].m.start < old->m.end; k++)
			overlap = true;
		if (!overlap) {
			ALLOC_GROW(fresh, nfresh + 1, alloc);
			fresh[nfresh++] = *old;
		}
	}
	if (nfresh)
		qsort(fresh, nfresh, sizeof(*fresh), cmp_rec);
	free(sp->maps);
	sp->maps = fresh;
	sp->nmaps = nfresh;
	sp->maps_alloc = alloc;
}

int sym_snapshot_take(const char *proc_root, int pid,
		      uint64_t start_boottime_ns, struct sym_snapshot *out)
{
	char path[256], buf[65536];
	struct strbuf sb = STRBUF_INIT;
	int dirfd, fd, err;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%d", proc_root ? proc_root : "/proc",
		 pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	err = check_start(dirfd, start_boottime_ns, &out->start_ticks);
	if (err) {
		close(dirfd);
		return err;
	}
	out->nspid = read_nspid(dirfd);
	fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		close(dirfd);
		return err;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(&sb, buf, (size_t)n);
	err = n < 0 ? -errno : 0;
	close(fd);
	/* A process that exited while we read has an empty maps file. */
	if (!err && !sb.len && read_start_ticks(dirfd, &out->start_ticks))
		err = -ESRCH;
	close(dirfd);
	if (err) {
		strbuf_release(&sb);
		return err;
	}
	out->pid = pid;
	out->maps_len = sb.len;
	out->maps = strbuf_detach(&sb);
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root ? proc_root : "/proc",
		 pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		out->exe = xstrdup(buf);
	}
	return 0;
}

void sym_snapshot_release(struct sym_snapshot *snap)
{
	free(snap->maps);
	free(snap->exe);
	memset(snap, 0, sizeof(*snap));
}

static FILE *snapshot_file(const struct sym_snapshot *snap)
{
	return fmemopen(snap->maps ? snap->maps : (char *)"", snap->maps_len,
			"r");
}

struct sym_proc *sym_proc_from_snapshot(struct symbolizer *s,
					const struct sym_snapshot *snap)
{
	struct sym_proc *sp;
	FILE *f = snapshot_file(snap);

	if (!f)
		return NULL;
	sp = xcalloc(1, sizeof(*sp));
	sp->s = s;
	sp->pid = snap->pid;
	sp->start_ticks = snap->start_ticks;
	sp->nspid = snap->nspid;
	parse_maps(s, f, -1, &sp->maps, &sp->nmaps, &sp->maps_alloc);
	fclose(f);
	return sp;
}

int sym_proc_refresh_snapshot(struct sym_proc *sp,
			      const struct sym_snapshot *snap)
{
	struct mapping_rec *fresh = NULL;
	size_t nfresh = 0, alloc = 0;
	FILE *f;

	if (snap->pid != sp->pid || snap->start_ticks != sp->start_ticks)
		return -ESRCH;
	f = snapshot_file(snap);
	if (!f)
		return -errno;
	parse_maps(sp->s, f, -1, &fresh, &nfresh, &alloc);
	fclose(f);
	merge_maps(sp, fresh, nfresh, alloc);
	return 0;
}

void sym_proc_free(struct sym_proc *sp)
{
	if (!sp)
		return;
	free(sp->maps);
	free(sp->jit);
	arena_release(&sp->jit_arena);
	free(sp);
}

int sym_proc_pid(const struct sym_proc *sp)
{
	return sp->pid;
}

unsigned sym_proc_nmappings(const struct sym_proc *sp)
{
	return (unsigned)sp->nmaps;
}

const struct sym_mapping *sym_proc_mapping(const struct sym_proc *sp,
					   unsigned i)
{
	return i < sp->nmaps ? &sp->maps[i].m : NULL;
}

static struct mapping_rec *find_mapping(struct sym_proc *sp, uint64_t a)
{
	size_t lo = 0, hi = sp->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sp->maps[mid].m.start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && a < sp->maps[lo - 1].m.end)
		return &sp->maps[lo - 1];
	return NULL;
}

/*
 * C++ and Rust names, demangled once each: libiberty's demangler, the one
 * binutils uses, so names read as addr2line -C and perf print them.
 */
static const char *demangle(struct symbolizer *s, const char *raw)
{
	uint64_t h;
	size_t pos;
	char *d;

	if (!raw || s->no_demangle || raw[0] != '_' ||
	    (raw[1] != 'Z' && raw[1] != 'R'))
		return raw;
	h = hash_combine((uint64_t)(uintptr_t)raw, 0);
	for (uint32_t i = hmap_first(&s->dem_idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&s->dem_idx, h, &pos))
		if (s->dems[i].raw == raw)
			return s->dems[i].out;
	d = sym_demangle(raw);
	ALLOC_GROW(s->dems, s->ndems + 1, s->dems_alloc);
	s->dems[s->ndems] = (struct demangled){
		.raw = raw, .out = d ? arena_strdup(&s->dem_arena, d) : raw };
	free(d);
	hmap_insert(&s->dem_idx, h, (uint32_t)s->ndems);
	return s->dems[s->ndems++].out;
}

static void set_frame(struct symbolizer *s, struct sym_frame *f,
		      const char *raw)
{
	f->system_name = raw;
	f->name = demangle(s, raw);
}

/*
 * libdw reads DWARF from a mapping of the file. A file truncated while
 * mapped (rewritten in place: `cp new old`, a linker writing over its
 * output) makes the pages past the new end raise SIGBUS. Look-ups run
 * under a guard: the fault jumps back, and that object's DWARF is no
 * longer used (its symbols are our own copies and stay good). A deleted
 * or renamed-over file is no problem: its inode lives while mapped.
 */
static __thread sigjmp_buf *bus_guard;
static struct sigaction prev_bus;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (bus_guard)
		siglongjmp(*bus_guard, 1);
	if ((prev_bus.sa_flags & SA_SIGINFO) && prev_bus.sa_sigaction) {
		prev_bus.sa_sigaction(sig, si, uc);
	} else if (prev_bus.sa_handler != SIG_DFL &&
		   prev_bus.sa_handler != SIG_IGN) {
		prev_bus.sa_handler(sig);
	} else {
		signal(SIGBUS, SIG_DFL);
		raise(SIGBUS);
	}
}

static void install_bus_guard(void)
{
	static bool done;
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				/* no mask to restore after the jump */
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	if (done)
		return;
	done = true;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &prev_bus);
}

static int guarded_dwarf_lookup(struct symbolizer *s, struct objdata *d,
				uint64_t vaddr, struct dwarf_frame *df,
				unsigned *n, uint64_t *entry)
{
	sigjmp_buf jb;
	int r;

	if (sigsetjmp(jb, 0)) {
		bus_guard = NULL;
		d->dwarf_lost = true;
		s->stats.objects_lost++;
		log_warn("'%s' shrank while it was being read (rewritten in"
			 " place?): its source lines are no longer used",
			 d->path ? d->path : "?");
		*n = 0;
		return -EIO;
	}
	bus_guard = &jb;
	r = dwarf_index_lookup(d->dwarf, vaddr, df, SYM_MAX_FRAMES, n, entry);
	bus_guard = NULL;
	return r;
}

static void lookup_in(struct symbolizer *s, struct objdata *d, uint64_t vaddr,
		      struct sym_result *out)
{
	const struct elf_sym *sym = elf_object_lookup(d->elf, vaddr);
	struct dwarf_frame df[SYM_MAX_FRAMES];
	unsigned n = 0;
	uint64_t entry = 0;

	out->module_offset = vaddr;
	out->status = SYM_NO_SYMBOL;
	if (d->dwarf && !d->dwarf_lost &&
	    !guarded_dwarf_lookup(s, d, vaddr, df, &n, &entry) &&
	    n && (df[n - 1].name || sym)) {
		for (unsigned i = 0; i < n; i++) {
			struct sym_frame *f = &out->frames[i];

			*f = (struct sym_frame){
				.file = df[i].file,
				.line = df[i].line,
				.column = df[i].column,
				.start_line = df[i].decl_line,
			};
			set_frame(s, f, df[i].name ? df[i].name : "??");
			if (!df[i].name)
				f->system_name = NULL;
		}
		/* The outermost frame is named by the symbol table when it
		 * covers the address, as llvm-symbolizer and addr2line do:
		 * it knows the split-off parts ("main.cold") and gives a
		 * linkage name where DWARF has only a plain one (functions
		 * in anonymous namespaces). */
		if (sym) {
			set_frame(s, &out->frames[n - 1], sym->name);
			entry = sym->addr;
		}
		out->status = SYM_OK;
		out->nframes = n;
		out->symbol_offset = vaddr - entry;
		return;
	}
	if (sym) {
		result_symbol(out, NULL, vaddr - sym->addr);
		set_frame(s, &out->frames[0], sym->name);
		out->frames[0].file = sym->file;
	} else if (n && df[0].file && !df[0].name) {
		/* No function, but the line table covers it (padding
		 * between functions): keep the line for those who ask. */
		out->frames[0] = (struct sym_frame){
			.file = df[0].file, .line = df[0].line,
			.column = df[0].column };
		out->nframes = 1;
	}
}

/* ---- JIT code ---- */

static int cmp_jit(const void *a, const void *b)
{
	const struct jit_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* Same start: the later line (stored at the higher address in
	 * the arena, as lines are read in order) wins. */
	return x->name < y->name ? -1 : x->name > y->name;
}

/*
 * Read the perf map a JIT writes for its code (node --perf-basic-prof,
 * Java's perf-map-agent, python -X perf): lines "START SIZE NAME" in hex.
 * It is looked for in the process's own /tmp (a container's) under its
 * pid there, then in ours.
 */
static void read_perf_map(struct sym_proc *sp)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0, alloc = sp->njit;
	struct stat st;
	uint64_t now;
	FILE *f;

	/* Many addresses can miss (code the JIT did not describe, or no
	 * map at all): look at the files at most once a second. */
	now = clock_ns(CLOCK_MONOTONIC);
	if (sp->jit_read_ns && now - sp->jit_read_ns < 1000000000ull)
		return;
	sp->jit_read_ns = now;
	snprintf(path, sizeof(path), "%s/%d/root/tmp/perf-%d.map",
		 sp->s->proc_root, sp->pid, sp->nspid ? sp->nspid : sp->pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", sp->pid);
		f = fopen(path, "re");
	}
	if (!f)
		return;
	if (fstat(fileno(f), &st) || st.st_size == sp->jit_size) {
		fclose(f);
		return;
	}
	sp->jit_size = st.st_size;
	free(sp->jit);
	sp->jit = NULL;
	sp->njit = alloc = 0;
	arena_release(&sp->jit_arena);
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *end;
		uint64_t start, size;

		start = strtoull(p, &end, 16);
		if (end == p || *end != ' ')
			continue;
		p = end + 1;
		size = strtoull(p, &end, 16);
		if (end == p || *end != ' ' || !size || start + size < start)
			continue;
		p = end + 1;
		p[strcspn(p, "\n")] = '\0';
		ALLOC_GROW(sp->jit, sp->njit + 1, alloc);
		sp->jit[sp->njit++] = (struct jit_sym){
			start, start + size, arena_strdup(&sp->jit_arena, p) };
	}
	free(line);
	fclose(f);
	if (sp->njit)
		qsort(sp->jit, sp->njit, sizeof(*sp->jit), cmp_jit);
	log_debug("%zu JIT symbols from '%s'", sp->njit, path);
}

static const struct jit_sym *find_jit(const struct sym_proc *sp, uint64_t a)
{
	size_t lo = 0, hi = sp->njit;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sp->jit[mid].start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Entries may overlap when code was replaced: the nearest start
	 * below the address that still covers it. */
	for (size_t k = lo, n = 0; k > 0 && n < 16; k--, n++)
		if (a < sp->jit[k - 1].end)
			return &sp->jit[k - 1];
	return NULL;
}

static bool lookup_jit(struct sym_proc *sp, uint64_t a, struct sym_result *out)
{
	const struct jit_sym *j = find_jit(sp, a);

	if (!j) {
		read_perf_map(sp);
		j = find_jit(sp, a);
	}
	if (!j)
		return false;
	out->kind = FRAME_JIT;
	result_symbol(out, j->name, a - j->start);
	return true;
}

static void symbolize_user_at(struct symbolizer *s, struct sym_proc *sp,
			      uint64_t a, struct sym_result *out);

void symbolize_user(struct symbolizer *s, struct sym_proc *sp, uint64_t addr,
		    bool is_return, struct sym_result *out)
{
	struct sym_result *alt;

	symbolize_user_at(s, sp, is_return ? addr - 1 : addr, out);
	if (!is_return || out->status != SYM_NO_SYMBOL)
		return;
	/* A "return address" the kernel made, not a call: a signal handler
	 * returns to the first instruction of the trampoline (__restore_rt),
	 * whose address minus one is outside any function. */
	alt = xmalloc(sizeof(*alt));
	symbolize_user_at(s, sp, addr, alt);
	if (alt->status == SYM_OK && alt->symbol_offset == 0)
		*out = *alt;
	free(alt);
}

static void symbolize_user_at(struct symbolizer *s, struct sym_proc *sp,
			      uint64_t a, struct sym_result *out)
{
	struct mapping_rec *r;
	struct objdata vdso = { 0 }, *d = NULL;
	uint64_t off, vaddr;

	result_init(out, FRAME_USER);
	r = sp ? find_mapping(sp, a) : NULL;
	if (!r)
		return;
	out->mapping = &r->m;
	out->module = r->m.path[0] ? r->m.path : "[anon]";
	off = a - r->m.start + r->m.offset;
	out->module_offset = r->obj == NO_OBJECT ? a - r->m.start : off;
	out->status = SYM_NO_OBJECT;
	if (r->obj == VDSO_OBJECT) {
		vdso.elf = get_vdso(s);
		d = vdso.elf ? &vdso : NULL;
	} else if (r->obj != NO_OBJECT) {
		struct object *o = &s->objs[r->obj];

		load_object(s, o);
		d = o->data;
		if (d)
			d->last_use = ++s->use_tick;
	} else if (!r->m.path[0] || !strncmp(r->m.path, "[anon", 5) ||
		   !strncmp(r->m.path, "/memfd:", 7)) {
		if (lookup_jit(sp, a, out))
			return;
	}
	if (!d)
		return;
	/* Interned: the object's data may be evicted (symbolizer_trim). */
	if (d->elf->build_id && !r->m.build_id)
		r->m.build_id = intern_path(s, d->elf->build_id);
	if (elf_object_offset_to_vaddr(d->elf, off, &vaddr)) {
		out->status = SYM_NO_SYMBOL;
		return;
	}
	lookup_in(s, d, vaddr, out);
}

#define VDSO_UNWIND_ID UINT32_MAX

/* The unwinding data of an object, read (once per build-id) on first use:
 * its headers and CFI, not its symbols, which wait for symbolization. */
static struct unwdata *get_unwdata(struct symbolizer *s, struct object *o)
{
	struct elf_object *hdr = NULL;
	struct unwdata *u = NULL;
	int fd;
	size_t pos;

	if (o->uw_done)
		return o->uw;
	o->uw_done = true;
	/* A pinned fd stays open: the symbols are read from it later. */
	fd = object_fd(o);
	if (fd >= 0)
		hdr = elf_object_load_headers(fd, NULL, 0);
	if (hdr && hdr->build_id) {
		uint64_t h = hash_str(hdr->build_id);

		for (uint32_t i = hmap_first(&s->unw_bid_idx, h, &pos);
		     i != HMAP_NONE; i = hmap_next(&s->unw_bid_idx, h, &pos))
			if (!strcmp(s->unws[i]->hdr->build_id, hdr->build_id)) {
				u = s->unws[i];
				break;
			}
	}
	if (!u && hdr) {
		u = xcalloc(1, sizeof(*u));
		u->hdr = hdr;
		hdr = NULL;
		if (s->unwind_tables)
			u->tab = build_unwtab(s, fd, NULL, 0, o->path);
		ALLOC_GROW(s->unws, s->nunws + 1, s->unws_alloc);
		u->id = (uint32_t)s->nunws + 1;
		if (u->hdr->build_id)
			hmap_insert(&s->unw_bid_idx, hash_str(u->hdr->build_id),
				    (uint32_t)s->nunws);
		s->unws[s->nunws++] = u;
	}
	elf_object_free(hdr);
	if (fd >= 0 && fd != o->fd)
		close(fd);
	o->uw = u;
	return u;
}

int sym_proc_unwind(struct sym_proc *sp, unsigned i, struct sym_unwind *out)
{
	struct symbolizer *s = sp->s;
	struct mapping_rec *r;
	struct elf_object *elf = NULL;
	uint64_t vaddr;

	memset(out, 0, sizeof(*out));
	if (i >= sp->nmaps)
		return -ENOENT;
	r = &sp->maps[i];
	if (r->obj == VDSO_OBJECT) {
		elf = get_vdso(s);
		out->table = s->vdso_unw;
		out->object = VDSO_UNWIND_ID;
	} else if (r->obj != NO_OBJECT) {
		struct unwdata *u = get_unwdata(s, &s->objs[r->obj]);

		if (u) {
			elf = u->hdr;
			out->table = u->tab;
			out->object = u->id;
		}
	}
	if (!elf || elf_object_offset_to_vaddr(elf, r->m.offset, &vaddr)) {
		out->table = NULL;
		return -ENOENT;
	}
	out->bias = r->m.start - vaddr;
	return 0;
}

/* `fd` if it is the file (dev, ino), else -1 (fd closed). */
static int same_file(int fd, uint64_t dev, uint64_t ino)
{
	struct stat st;

	if (fd >= 0 && (fstat(fd, &st) || st.st_ino != ino || st.st_dev != dev)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int sym_proc_open_object(struct sym_proc *sp, unsigned i)
{
	struct symbolizer *s = sp->s;
	struct mapping_rec *r;
	struct object *o;
	char mf[96];
	int fd;

	if (i >= sp->nmaps)
		return -ENOENT;
	r = &sp->maps[i];
	if (r->obj == VDSO_OBJECT) {
		if (s->vdso_memfd < 0 && get_vdso(s) && s->vdso_image) {
			fd = memfd_create("vdso", MFD_CLOEXEC);
			if (fd >= 0 && write(fd, s->vdso_image, s->vdso_size) !=
					       (ssize_t)s->vdso_size) {
				close(fd);
				fd = -1;
			}
			s->vdso_memfd = fd;
		}
		if (s->vdso_memfd < 0)
			return -ENOENT;
		fd = fcntl(s->vdso_memfd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (r->obj == NO_OBJECT)
		return -ENOENT;
	o = &s->objs[r->obj];
	if (o->fd >= 0) {
		fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	/* Through the process while it lives (another mount namespace, a
	 * deleted file), else by path; either must still be the file. */
	snprintf(mf, sizeof(mf), "%s/%d/map_files/%llx-%llx", s->proc_root,
		 sp->pid, (unsigned long long)r->m.start,
		 (unsigned long long)r->m.end);
	fd = same_file(open(mf, O_RDONLY | O_CLOEXEC), o->dev, o->ino);
	if (fd < 0)
		fd = same_file(open(o->path, O_RDONLY | O_CLOEXEC), o->dev,
			       o->ino);
	return fd < 0 ? -ENOENT : fd;
}

/* symbolizer_open_file; *exists says whether the path names anything. */
static uint32_t open_file(struct symbolizer *s, const char *path, bool *exists)
{
	struct stat st;
	uint32_t i;

	*exists = !stat(path, &st);
	if (!*exists)
		return NO_OBJECT;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return NO_OBJECT;
	}
	i = find_object(s, st.st_dev, st.st_ino);
	if (i == NO_OBJECT)
		i = add_object(s, st.st_dev, st.st_ino, path);
	load_object(s, &s->objs[i]);
	if (s->objs[i].state != OBJ_LOADED) {
		errno = access(path, R_OK) ? errno : ENOEXEC;
		return NO_OBJECT;
	}
	return i;
}

uint32_t symbolizer_open_file(struct symbolizer *s, const char *path)
{
	bool exists;

	return open_file(s, path, &exists);
}

void symbolize_opened(struct symbolizer *s, uint32_t handle, uint64_t addr,
		      struct sym_result *out)
{
	result_init(out, FRAME_USER);
	if (handle >= s->nobjs || !s->objs[handle].data)
		return;
	out->module = s->objs[handle].path;
	out->module_offset = addr;
	lookup_in(s, s->objs[handle].data, addr, out);
}

void symbolize_file(struct symbolizer *s, const char *path, uint64_t addr,
		    struct sym_result *out)
{
	bool exists;
	uint32_t i = open_file(s, path, &exists);

	if (i != NO_OBJECT) {
		symbolize_opened(s, i, addr, out);
		return;
	}
	result_init(out, FRAME_USER);
	if (!exists)
		return; /* SYM_NO_MAPPING */
	out->module = intern_path(s, path);
	out->module_offset = addr;
	out->status = SYM_NO_OBJECT;
}

void symbolizer_stats(const struct symbolizer *s, struct sym_stats *out)
{
	*out = s->stats;
}
