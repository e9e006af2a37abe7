/* SPDX-License-Identifier: MIT */
/*
 * Kernel symbols from /proc/kallsyms. Parsed by hand: the format is one
 * line per symbol and no library reads it (libbpf's reader is internal).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hmap.h"
#include "../lib/xalloc.h"
#include "symbolizer_internal.h"

/* No kernel function is this large; a longer distance means the address
 * lies past the last symbol of a region, not inside it. */
#define KSYM_MAX_SIZE (1u << 20)

static bool is_text_type(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

/* Names the kernel emits for padding and section markers, which are never
 * the function a person wants to see when a real name shares the address. */
static int name_rank(const char *name)
{
	if (!strncmp(name, "__pfx_", 6) || !strncmp(name, "__cfi_", 6))
		return 2;
	if (name[0] == '_' && name[1] == '_')
		return 1;
	return 0;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	int rx, ry;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	rx = name_rank(x->name);
	ry = name_rank(y->name);
	if (rx != ry)
		return rx - ry;
	return strcmp(x->name, y->name);
}

static const char *intern_module(struct ksyms *k, struct hmap *mods,
				 const char ***tab, size_t *ntab, size_t *cap,
				 const char *m)
{
	uint64_t h = hash_str(m);
	size_t pos;

	for (uint32_t i = hmap_first(mods, h, &pos); i != HMAP_NONE;
	     i = hmap_next(mods, h, &pos))
		if (!strcmp((*tab)[i], m))
			return (*tab)[i];
	ALLOC_GROW(*tab, *ntab + 1, *cap);
	(*tab)[*ntab] = arena_strdup(&k->arena, m);
	hmap_insert(mods, h, (uint32_t)*ntab);
	return (*tab)[(*ntab)++];
}

int ksyms_parse(struct ksyms *k, FILE *f)
{
	struct hmap mods = HMAP_INIT;
	const char **modtab = NULL;
	size_t nmods = 0, modcap = 0, cap = 0, nonzero = 0, lines = 0;
	uint64_t stext = 0;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	int err = 0;

	memset(k, 0, sizeof(*k));
	k->text_start = UINT64_MAX;
	while ((len = getline(&line, &linecap, f)) > 0) {
		char *p = line, *end, *name, *mod = NULL;
		uint64_t addr;
		char type;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		lines++;
		errno = 0;
		addr = strtoull(p, &end, 16);
		if (end == p || *end != ' ' || errno) {
			err = -EINVAL;
			break;
		}
		p = end + 1;
		type = *p;
		if (!type || p[1] != ' ') {
			err = -EINVAL;
			break;
		}
		name = p + 2;
		if (!*name) {
			err = -EINVAL;
			break;
		}
		if (addr)
			nonzero++;
		if (!is_text_type(type))
			continue;
		/* "name\t[module]" for module symbols. */
		end = strchr(name, '\t');
		if (end) {
			*end = '\0';
			mod = end + 1;
			if (*mod == '[') {
				char *close = strchr(++mod, ']');

				if (close)
					*close = '\0';
			}
		}
		ALLOC_GROW(k->syms, k->n + 1, cap);
		k->syms[k->n].addr = addr;
		k->syms[k->n].name = arena_strdup(&k->arena, name);
		k->syms[k->n].module =
			mod ? intern_module(k, &mods, &modtab, &nmods, &modcap, mod)
			    : NULL;
		k->n++;
		if (!mod && addr < k->text_start)
			k->text_start = addr;
		if (!mod && !strcmp(name, "_stext"))
			stext = addr;
	}
	free(line);
	free(modtab);
	hmap_release(&mods);
	if (!err && ferror(f))
		err = -EIO;
	if (err) {
		ksyms_release(k);
		return err;
	}
	k->zero_addresses = lines > 0 && nonzero == 0;
	if (stext)
		k->text_start = stext;
	else if (k->text_start == UINT64_MAX)
		k->text_start = 0;
	if (k->n)
		qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	/* Keep the best name per address (sorted first). */
	size_t out = 0;

	for (size_t i = 0; i < k->n; i++)
		if (!out || k->syms[out - 1].addr != k->syms[i].addr)
			k->syms[out++] = k->syms[i];
	k->n = out;
	return 0;
}

const struct ksym *ksyms_lookup(const struct ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	if (k->zero_addresses)
		return NULL;
	/* Find the last symbol whose address is <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	if (addr - k->syms[lo - 1].addr >= KSYM_MAX_SIZE)
		return NULL;
	return &k->syms[lo - 1];
}

void ksyms_release(struct ksyms *k)
{
	free(k->syms);
	arena_release(&k->arena);
	memset(k, 0, sizeof(*k));
}
