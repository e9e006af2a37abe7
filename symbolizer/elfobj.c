/* SPDX-License-Identifier: MIT */
/* Function symbols and load segments of an ELF object, read with libelf. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "symbolizer_internal.h"

struct raw_sym {
	uint64_t addr, size;
	const char *name; /* in the ELF's string table until copied */
	const char *file; /* likewise: STT_FILE of a local symbol */
	int bind_rank;    /* 0 global, 1 weak, 2 local, 3 PLT stub */
};

static int bind_rank(int bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

static int underscores(const char *s)
{
	int n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

/*
 * Order by address, then best name first, so that of several aliases at one
 * address (write, __write, __libc_write) the one people call wins: global
 * before weak before local, fewer leading underscores, then the larger
 * size, then the shorter name, then bytewise. Deterministic for every input.
 */
static int cmp_raw(const void *a, const void *b)
{
	const struct raw_sym *x = a, *y = b;
	int d;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if ((d = x->bind_rank - y->bind_rank))
		return d;
	if ((d = underscores(x->name) - underscores(y->name)))
		return d;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void read_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
			struct raw_sym **raw, size_t *n, size_t *cap)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	const char *file = NULL;
	size_t count;

	if (!data || !sh->sh_entsize)
		return;
	count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (type == STT_FILE) {
			file = elf_strptr(elf, sh->sh_link, sym.st_name);
			if (file && !*file)
				file = NULL;
			continue;
		}
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		ALLOC_GROW(*raw, *n + 1, *cap);
		(*raw)[*n] = (struct raw_sym){
			.addr = sym.st_value,
			.size = sym.st_size,
			.name = name,
			.file = GELF_ST_BIND(sym.st_info) == STB_LOCAL ? file : NULL,
			.bind_rank = bind_rank(GELF_ST_BIND(sym.st_info)),
		};
		(*n)++;
	}
}

/* STT_FILE names repeat for every symbol of a file: one copy of each,
 * and the last one is usually the one asked for again. */
static const char *intern_file(struct elf_object *o, const char *f)
{
	if (o->last_file && !strcmp(o->last_file, f))
		return o->last_file;
	o->last_file = arena_strdup(&o->arena, f);
	return o->last_file;
}

static char *hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = xmalloc(2 * n + 1);

	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static char *read_build_id(Elf *elf, Elf_Scn *scn)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data)
		return NULL;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((char *)data->d_buf + name_off, "GNU", 4) &&
		    nh.n_descsz > 0 && nh.n_descsz <= 64)
			return hex((unsigned char *)data->d_buf + desc_off,
				   nh.n_descsz);
	}
	(void)elf;
	return NULL;
}


/* The largest MiniDebugInfo we decompress: real ones are a few MB. */
#define DEBUGDATA_MAX (256u << 20)

/*
 * .gnu_debugdata (MiniDebugInfo) is an xz-compressed ELF file holding the
 * symbol table a stripped binary lost. liblzma decodes it; NULL when it is
 * not valid xz or is too large.
 */
static unsigned char *unxz(const void *in, size_t in_size, size_t *out_size)
{
	lzma_stream st = LZMA_STREAM_INIT;
	size_t cap = in_size * 4 + 4096;
	unsigned char *out = NULL;
	lzma_ret r;

	if (lzma_stream_decoder(&st, DEBUGDATA_MAX, 0) != LZMA_OK)
		return NULL;
	out = xmalloc(cap);
	st.next_in = in;
	st.avail_in = in_size;
	st.next_out = out;
	st.avail_out = cap;
	for (;;) {
		r = lzma_code(&st, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK && r != LZMA_BUF_ERROR)
			goto fail;
		if (st.avail_out)
			goto fail; /* truncated input */
		if (cap >= DEBUGDATA_MAX)
			goto fail;
		size_t used = cap;

		cap = cap * 2 > DEBUGDATA_MAX ? DEBUGDATA_MAX : cap * 2;
		out = xreallocarray(out, cap, 1);
		st.next_out = out + used;
		st.avail_out = cap - used;
	}
	*out_size = cap - st.avail_out;
	lzma_end(&st);
	return out;
fail:
	lzma_end(&st);
	free(out);
	return NULL;
}

struct plt_scn {
	Elf_Scn *scn;
	GElf_Shdr sh;
};

struct sections {
	struct plt_scn plt[3];   /* .plt, .plt.sec, .plt.got */
	struct plt_scn rela[2];  /* .rela.plt, .rela.dyn */
};

/* A GOT slot's relocation: the slot, and the symbol it binds. */
struct slot_rel {
	uint64_t slot;
	size_t order; /* .rela.plt's first, each in its own order */
	const char *name;
};

static int cmp_slot_rel(const void *a, const void *b)
{
	const struct slot_rel *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The JUMP_SLOT and GLOB_DAT relocations of .rela.plt and .rela.dyn,
 * sorted by slot: read once, not once per stub (a large library has
 * thousands of stubs and tens of thousands of relocations). */
static struct slot_rel *slot_rels(Elf *elf, const struct sections *sc,
				  size_t *n)
{
	struct slot_rel *out = NULL;
	size_t cap = 0, order = 0;

	*n = 0;
	for (int k = 0; k < 2; k++) {
		const struct plt_scn *r = &sc->rela[k];
		Elf_Scn *dynsym;
		Elf_Data *rel, *syms;
		GElf_Shdr dsh;
		size_t count;

		if (!r->scn || r->sh.sh_type != SHT_RELA || !r->sh.sh_entsize)
			continue;
		dynsym = elf_getscn(elf, r->sh.sh_link);
		if (!dynsym || !gelf_getshdr(dynsym, &dsh) ||
		    !(rel = elf_getdata(r->scn, NULL)) ||
		    !(syms = elf_getdata(dynsym, NULL)))
			continue;
		count = r->sh.sh_size / r->sh.sh_entsize;
		for (size_t i = 0; i < count; i++, order++) {
			GElf_Rela rela;
			GElf_Sym sym;
			int type;

			if (!gelf_getrela(rel, (int)i, &rela))
				break;
			type = (int)GELF_R_TYPE(rela.r_info);
			if ((type != R_X86_64_JUMP_SLOT &&
			     type != R_X86_64_GLOB_DAT) ||
			    !gelf_getsym(syms, (int)GELF_R_SYM(rela.r_info), &sym))
				continue;
			ALLOC_GROW(out, *n + 1, cap);
			out[(*n)++] = (struct slot_rel){
				rela.r_offset, order,
				elf_strptr(elf, dsh.sh_link, sym.st_name) };
		}
	}
	if (*n)
		qsort(out, *n, sizeof(*out), cmp_slot_rel);
	return out;
}

/* The symbol the first relocation of the GOT slot at `slot` binds, or
 * NULL. */
static const char *slot_symbol(const struct slot_rel *rels, size_t n,
			       uint64_t slot)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rels[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && rels[lo].slot == slot ? rels[lo].name : NULL;
}

/*
 * Name the PLT stubs "func@plt", as objdump and perf do. Each x86-64 stub
 * jumps through a GOT slot (jmp *disp(%rip), after an endbr64 and a bnd
 * prefix when built for CET); the dynamic relocation of that slot names
 * the function. Stubs live in .plt (lazy binding, after a 16-byte
 * header), .plt.sec (with IBT) and .plt.got (functions whose address is
 * taken).
 */
static void read_plt(Elf *elf, const struct sections *sc, struct raw_sym **raw,
		     size_t *n, size_t *cap, struct arena *arena)
{
	size_t nrels = 0;
	struct slot_rel *rels = NULL;
	bool read_rels = false;

	for (int k = 0; k < 3; k++) {
		const struct plt_scn *p = &sc->plt[k];
		uint64_t step;
		Elf_Data *data;
		const unsigned char *b;

		if (!p->scn || p->sh.sh_type != SHT_PROGBITS ||
		    !(data = elf_getdata(p->scn, NULL)) || !data->d_buf)
			continue;
		step = p->sh.sh_entsize >= 8 && p->sh.sh_entsize <= 32
			       ? p->sh.sh_entsize : 16;
		b = data->d_buf;
		for (uint64_t off = 0; off + step <= data->d_size; off += step) {
			const unsigned char *e = b + off;
			uint64_t at = 0;
			const char *name;
			char *full;
			int32_t disp;

			for (uint64_t i = 0; i + 6 <= step && i <= 6; i++) {
				if (e[i] == 0xff && e[i + 1] == 0x25) {
					at = i;
					break;
				}
			}
			if (!at && !(e[0] == 0xff && e[1] == 0x25))
				continue;
			memcpy(&disp, e + at + 2, 4);
			if (!read_rels) {
				rels = slot_rels(elf, sc, &nrels);
				read_rels = true;
			}
			name = slot_symbol(rels, nrels, p->sh.sh_addr + off + at +
							  6 + (int64_t)disp);
			if (!name || !*name)
				continue;
			size_t len = strcspn(name, "@");

			full = arena_alloc(arena, len + sizeof("@plt"));
			memcpy(full, name, len);
			memcpy(full + len, "@plt", sizeof("@plt"));
			ALLOC_GROW(*raw, *n + 1, *cap);
			(*raw)[(*n)++] = (struct raw_sym){
				.addr = p->sh.sh_addr + off, .size = step,
				.name = full, .bind_rank = 3,
			};
		}
	}
	free(rels);
}

static void read_debuglink(struct elf_object *o, Elf_Scn *scn)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	const char *p;
	size_t len, off;

	if (!data || !data->d_buf || data->d_size < 8)
		return;
	p = data->d_buf;
	len = strnlen(p, data->d_size);
	off = (len + 4) & ~(size_t)3;
	if (!len || len >= data->d_size || off + 4 > data->d_size ||
	    memchr(p, '/', len))
		return;
	o->debuglink = xstrdup(p);
	memcpy(&o->debuglink_crc, p + off, 4);
}

static struct elf_object *load(int fd, const void *image, size_t size,
			       bool headers_only)
{
	struct raw_sym *raw = NULL;
	size_t nraw = 0, rawcap = 0, nphdr = 0, loadcap = 0;
	struct elf_object *o = NULL;
	Elf_Scn *scn = NULL;
	struct sections sc = { 0 };
	GElf_Ehdr eh;
	Elf *elf, *mini = NULL;
	unsigned char *mini_buf = NULL;
	size_t shstrndx = 0;
	bool debugdata_seen = false;
	int err = ENOEXEC;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	if (fd >= 0)
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	else
		elf = elf_memory((char *)image, size);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		goto out;

	o = xcalloc(1, sizeof(*o));
	o->elf_type = eh.e_type;
	if (elf_getphdrnum(elf, &nphdr))
		goto out;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		ALLOC_GROW(o->loads, o->nloads + 1, loadcap);
		o->loads[o->nloads++] = (struct elf_load){
			.offset = ph.p_offset,
			.vaddr = ph.p_vaddr,
			.filesz = ph.p_filesz,
			.memsz = ph.p_memsz,
		};
	}

	if (elf_getshdrstrndx(elf, &shstrndx))
		shstrndx = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = shstrndx ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
		if (!name)
			name = "";
		if (headers_only) {
			if (sh.sh_type == SHT_NOTE && !o->build_id)
				o->build_id = read_build_id(elf, scn);
			continue;
		}
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM)
			read_symtab(elf, scn, &sh, &raw, &nraw, &rawcap);
		else if (sh.sh_type == SHT_NOTE && !o->build_id)
			o->build_id = read_build_id(elf, scn);
		if (sh.sh_type == SHT_NOBITS)
			continue;
		if (!strcmp(name, ".debug_info") && sh.sh_size)
			o->has_dwarf = true;
		else if (!strcmp(name, ".gnu_debuglink") && !o->debuglink)
			read_debuglink(o, scn);
		else if (!strcmp(name, ".rela.plt"))
			sc.rela[0] = (struct plt_scn){ scn, sh };
		else if (!strcmp(name, ".rela.dyn"))
			sc.rela[1] = (struct plt_scn){ scn, sh };
		else if (!strcmp(name, ".plt"))
			sc.plt[0] = (struct plt_scn){ scn, sh };
		else if (!strcmp(name, ".plt.sec"))
			sc.plt[1] = (struct plt_scn){ scn, sh };
		else if (!strcmp(name, ".plt.got"))
			sc.plt[2] = (struct plt_scn){ scn, sh };
		else if (!strcmp(name, ".gnu_debugdata") && !debugdata_seen) {
			/* The first only: real files have one, each costs a
			 * decompression of up to DEBUGDATA_MAX, and a second
			 * would be decompressed over mini_buf. */
			Elf_Data *d = elf_rawdata(scn, NULL);
			size_t n = 0;

			debugdata_seen = true;
			if (d && d->d_buf)
				mini_buf = unxz(d->d_buf, d->d_size, &n);
			if (mini_buf)
				mini = elf_memory((char *)mini_buf, n);
			if (mini && elf_kind(mini) == ELF_K_ELF) {
				Elf_Scn *ms = NULL;

				o->has_debugdata = true;
				while ((ms = elf_nextscn(mini, ms))) {
					GElf_Shdr msh;

					if (gelf_getshdr(ms, &msh) &&
					    msh.sh_type == SHT_SYMTAB)
						read_symtab(mini, ms, &msh, &raw,
							    &nraw, &rawcap);
				}
			} else {
				log_debug("unreadable .gnu_debugdata");
			}
		}
	}
	if (eh.e_machine == EM_X86_64 && !headers_only)
		read_plt(elf, &sc, &raw, &nraw, &rawcap, &o->arena);

	if (nraw)
		qsort(raw, nraw, sizeof(*raw), cmp_raw);
	o->syms = xcalloc(nraw, sizeof(*o->syms));
	for (size_t i = 0; i < nraw; i++) {
		if (o->nsyms && o->syms[o->nsyms - 1].addr == raw[i].addr) {
			/* An alias of a better name; it may know the size. */
			if (!o->syms[o->nsyms - 1].size)
				o->syms[o->nsyms - 1].size = raw[i].size;
			continue;
		}
		/* Drop a symbol version ("memcpy@@GLIBC_2.14"): it names
		 * the interface, not the function. PLT names are ours. */
		const char *at = strchr(raw[i].name, '@');
		size_t len = at && at != raw[i].name && raw[i].bind_rank != 3
				     ? (size_t)(at - raw[i].name)
				     : strlen(raw[i].name);
		char *name = arena_alloc(&o->arena, len + 1);

		memcpy(name, raw[i].name, len);
		name[len] = '\0';
		o->syms[o->nsyms++] = (struct elf_sym){
			.addr = raw[i].addr,
			.size = raw[i].size,
			.name = name,
			.file = raw[i].file ? intern_file(o, raw[i].file) : NULL,
		};
	}
	err = 0;
out:
	free(raw);
	if (mini)
		elf_end(mini);
	free(mini_buf);
	if (elf)
		elf_end(elf);
	if (err) {
		elf_object_free(o);
		errno = err;
		return NULL;
	}
	return o;
}

void elf_object_free(struct elf_object *o)
{
	if (!o)
		return;
	free(o->syms);
	free(o->loads);
	free(o->build_id);
	free(o->debuglink);
	arena_release(&o->arena);
	free(o);
}

const struct elf_sym *elf_object_lookup(const struct elf_object *o,
					uint64_t vaddr)
{
	size_t lo = 0, hi = o->nsyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct elf_sym *s = &o->syms[lo - 1];

	if (s->size) {
		if (vaddr < s->addr + s->size)
			return s;
		/* A symbol nested in a larger one (a local entry point inside
		 * a function) can end before the address; look a little back
		 * for the enclosing function. */
		for (size_t back = 2; back <= 4 && back <= lo; back++) {
			const struct elf_sym *e = &o->syms[lo - back];

			if (e->size && vaddr < e->addr + e->size)
				return e;
		}
		return NULL;
	}
	/* A symbol without a size runs to the next symbol, and no further
	 * than the end of the loadable segment that holds it. */
	if (lo < o->nsyms && vaddr >= o->syms[lo].addr)
		return NULL;
	for (size_t i = 0; i < o->nloads; i++) {
		const struct elf_load *l = &o->loads[i];

		if (s->addr >= l->vaddr && s->addr < l->vaddr + l->memsz)
			return vaddr < l->vaddr + l->memsz ? s : NULL;
	}
	return NULL;
}

int elf_object_offset_to_vaddr(const struct elf_object *o, uint64_t off,
			       uint64_t *vaddr)
{
	for (size_t i = 0; i < o->nloads; i++) {
		const struct elf_load *l = &o->loads[i];

		if (off >= l->offset && off < l->offset + l->filesz) {
			*vaddr = off - l->offset + l->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

struct elf_object *elf_object_load(int fd, const void *image, size_t size)
{
	return load(fd, image, size, false);
}

struct elf_object *elf_object_load_headers(int fd, const void *image,
					   size_t size)
{
	return load(fd, image, size, true);
}
