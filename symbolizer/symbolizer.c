/* SPDX-License-Identifier: MIT */
#include "symbolizer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "symbolizer_internal.h"

#define KERNEL_MODULE_NAME "[kernel.kallsyms]"
#define NO_OBJECT UINT32_MAX
#define VDSO_OBJECT (UINT32_MAX - 1)

enum obj_state { OBJ_PENDING, OBJ_LOADED, OBJ_FAILED };

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
	struct elf_object *elf;
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

	struct elf_object *vdso;
	bool vdso_tried;

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
	uint64_t start_ticks; /* /proc/PID/stat starttime */
	struct mapping_rec *maps;
	size_t nmaps, maps_alloc;
};

struct symbolizer *symbolizer_new(const struct sym_opts *opts)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));
	struct rlimit rl;

	s->kallsyms_path = xstrdup(opts && opts->kallsyms_path ?
					   opts->kallsyms_path : "/proc/kallsyms");
	s->proc_root = xstrdup(opts && opts->proc_root ? opts->proc_root : "/proc");
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
		elf_object_free(s->objs[i].elf);
		free(s->objs[i].path);
	}
	free(s->objs);
	hmap_release(&s->obj_idx);
	elf_object_free(s->vdso);
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
	out->frames[0] = (struct sym_frame){ .name = name };
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

/*
 * Distributions ship the full symbol table of a stripped object as a
 * separate file named by its build-id (Debian's *-dbg and *-dbgsym
 * packages). When one is installed and knows more functions, use its
 * symbols; the object's own program headers still place them.
 */
static void use_debug_file(struct elf_object *elf)
{
	char path[256];
	struct elf_object *dbg;
	int fd;

	if (!elf->build_id || strlen(elf->build_id) < 3)
		return;
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		 elf->build_id, elf->build_id + 2);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	dbg = elf_object_load(fd, NULL, 0);
	close(fd);
	if (!dbg)
		return;
	if (dbg->build_id && !strcmp(dbg->build_id, elf->build_id) &&
	    dbg->nsyms > elf->nsyms) {
		struct elf_sym *syms = elf->syms;
		size_t n = elf->nsyms;
		struct arena a = elf->arena;

		elf->syms = dbg->syms;
		elf->nsyms = dbg->nsyms;
		elf->arena = dbg->arena;
		dbg->syms = syms;
		dbg->nsyms = n;
		dbg->arena = a;
		log_debug("symbols from '%s'", path);
	}
	elf_object_free(dbg);
}

static void load_object(struct symbolizer *s, struct object *o)
{
	int fd = o->fd;

	if (o->state != OBJ_PENDING)
		return;
	if (fd < 0) {
		struct stat st;

		fd = open(o->path, O_RDONLY | O_CLOEXEC);
		/* Without a pinned fd the path may name another file now:
		 * accept it only if it is still the same inode. */
		if (fd >= 0 && (fstat(fd, &st) || st.st_ino != o->ino)) {
			log_debug("'%s' was replaced since it was mapped",
				  o->path);
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		o->elf = elf_object_load(fd, NULL, 0);
	if (o->elf)
		use_debug_file(o->elf);
	if (o->elf) {
		o->state = OBJ_LOADED;
		s->stats.objects_loaded++;
		s->stats.symbols += o->elf->nsyms;
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
				break;
			}
		}
		free(line);
		if (f)
			fclose(f);
	}
	return s->vdso;
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
static int read_maps(struct symbolizer *s, int dirfd, struct mapping_rec **out,
		     size_t *nout, size_t *alloc)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
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
			if (s->objs[i].state == OBJ_PENDING &&
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
	fclose(f);
	if (*nout) /* a zombie has no mappings */
		qsort(*out, *nout, sizeof(**out), cmp_rec);
	return 0;
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
	err = read_maps(s, dirfd, &sp->maps, &sp->nmaps, &sp->maps_alloc);
	close(dirfd);
	if (err) {
		sym_proc_free(sp);
		errno = err == -ENOENT ? ESRCH : -err;
		return NULL;
	}
	return sp;
}

int sym_proc_refresh(struct sym_proc *sp)
{
	struct mapping_rec *fresh = NULL;
	size_t nfresh = 0, alloc = 0, j = 0;
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
	/* Keep old mappings that no new one overlaps: addresses sampled
	 * before an unmap still resolve. Both lists are sorted. */
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
	return 0;
}

void sym_proc_free(struct sym_proc *sp)
{
	if (!sp)
		return;
	free(sp->maps);
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

static void lookup_in(struct elf_object *elf, uint64_t vaddr,
		      struct sym_result *out)
{
	const struct elf_sym *sym = elf_object_lookup(elf, vaddr);

	out->module_offset = vaddr;
	out->status = SYM_NO_SYMBOL;
	if (sym)
		result_symbol(out, sym->name, vaddr - sym->addr);
}

void symbolize_user(struct symbolizer *s, struct sym_proc *sp, uint64_t addr,
		    bool is_return, struct sym_result *out)
{
	uint64_t a = is_return ? addr - 1 : addr;
	struct mapping_rec *r;
	struct elf_object *elf = NULL;
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
		elf = get_vdso(s);
	} else if (r->obj != NO_OBJECT) {
		struct object *o = &s->objs[r->obj];

		load_object(s, o);
		elf = o->elf;
	}
	if (!elf)
		return;
	if (elf->build_id)
		r->m.build_id = elf->build_id;
	if (elf_object_offset_to_vaddr(elf, off, &vaddr)) {
		out->status = SYM_NO_SYMBOL;
		return;
	}
	lookup_in(elf, vaddr, out);
}

void symbolize_file(struct symbolizer *s, const char *path, uint64_t addr,
		    struct sym_result *out)
{
	struct stat st;
	uint32_t i;

	result_init(out, FRAME_USER);
	if (stat(path, &st))
		return;
	out->module = intern_path(s, path);
	out->module_offset = addr;
	out->status = SYM_NO_OBJECT;
	i = find_object(s, st.st_dev, st.st_ino);
	if (i == NO_OBJECT)
		i = add_object(s, st.st_dev, st.st_ino, path);
	load_object(s, &s->objs[i]);
	if (s->objs[i].elf)
		lookup_in(s->objs[i].elf, addr, out);
}

void symbolizer_stats(const struct symbolizer *s, struct sym_stats *out)
{
	*out = s->stats;
}
