/* SPDX-License-Identifier: MIT */
/*
 * .debug_info read directly: a unit's abbreviations, then its DIEs one
 * after the other, each one's attributes that the index wants picked out
 * in the same pass that steps over the rest.
 *
 * Written here rather than walking with libdw because of speed: building
 * a unit's index visits every DIE that may hold code, and libdw's calls
 * per DIE (dwarf_child, dwarf_siblingof, dwarf_tag, dwarf_getattrs, each
 * looking up the abbreviation again under a lock) were over half of a
 * cold symbolization of a large C++ program. What this reader does not
 * know (forms of dwz's shared files, split units, a unit it cannot make
 * sense of) makes it give up on the unit, and dwarf.c walks that one
 * with libdw.
 */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xalloc.h"
#include "dwread.h"
#include "symbolizer_internal.h"

/* Abbreviation codes are numbered from 1 by every producer we know; a
 * table with codes past this is left to libdw. */
#define MAX_CODE 65536

static bool read_abbrevs(struct dwi_unit *u, uint64_t off)
{
	const struct dwl_section *ab = &u->s->abbrev;
	struct cursor c;

	if (!ab->data || off >= ab->size)
		return false;
	c = (struct cursor){ .p = ab->data + off, .end = ab->data + ab->size };
	for (;;) {
		uint64_t code = uleb(&c), tag;
		struct dwi_abbrev *a;

		if (c.bad)
			return false;
		if (!code)
			return true;
		if (code >= MAX_CODE)
			return false;
		tag = uleb(&c);
		if (code >= u->nabbrevs) {
			size_t n = u->nabbrevs ? u->nabbrevs : 64;

			while (n <= code)
				n *= 2;
			u->abbrevs = xreallocarray(u->abbrevs, n, sizeof(*u->abbrevs));
			memset(u->abbrevs + u->nabbrevs, 0,
			       (n - u->nabbrevs) * sizeof(*u->abbrevs));
			u->nabbrevs = n;
		}
		a = &u->abbrevs[code];
		*a = (struct dwi_abbrev){ .tag = (uint32_t)tag,
					  .children = rd(&c, 1) != 0,
					  .first = (uint32_t)u->nspecs,
					  .defined = true };
		for (;;) {
			uint64_t name = uleb(&c), form = uleb(&c);
			int64_t implicit = 0;

			if (c.bad)
				return false;
			if (!name && !form)
				break;
			if (form == DW_FORM_implicit_const)
				implicit = sleb(&c);
			ALLOC_GROW(u->specs, u->nspecs + 1, u->specs_cap);
			u->specs[u->nspecs++] = (struct dwi_spec){
				.name = (uint32_t)name, .form = (uint32_t)form,
				.implicit = implicit };
			a->n++;
		}
	}
}

int dwi_attr_slot(uint32_t name)
{
	switch (name) {
	case DW_AT_abstract_origin: return DWI_ORIGIN;
	case DW_AT_specification: return DWI_SPEC;
	case DW_AT_linkage_name: return DWI_LINKAGE;
	case DW_AT_MIPS_linkage_name: return DWI_MIPS;
	case DW_AT_name: return DWI_NAME;
	case DW_AT_decl_line: return DWI_DECL_LINE;
	case DW_AT_call_file: return DWI_CALL_FILE;
	case DW_AT_call_line: return DWI_CALL_LINE;
	case DW_AT_call_column: return DWI_CALL_COLUMN;
	case DW_AT_low_pc: return DWI_LOW_PC;
	case DW_AT_high_pc: return DWI_HIGH_PC;
	case DW_AT_ranges: return DWI_RANGES;
	case DW_AT_sibling: return DWI_SIBLING;
	case DW_AT_str_offsets_base: return DWI_STR_OFFSETS_BASE;
	case DW_AT_addr_base:
	case DW_AT_GNU_addr_base: return DWI_ADDR_BASE;
	case DW_AT_rnglists_base: return DWI_RNGLISTS_BASE;
	default: return -1;
	}
}

bool dwr_value(struct cursor *c, uint32_t form, const struct dwr_unit *f,
	       int64_t implicit, uint64_t *val)
{
	size_t osize = f->offset64 ? 8 : 4;
	uint64_t n;

	switch (form) {
	case DW_FORM_addr: *val = rd(c, f->addr_size); break;
	case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag:
	case DW_FORM_strx1: case DW_FORM_addrx1:
		*val = rd(c, 1); break;
	case DW_FORM_data2: case DW_FORM_ref2: case DW_FORM_strx2:
	case DW_FORM_addrx2:
		*val = rd(c, 2); break;
	case DW_FORM_strx3: case DW_FORM_addrx3: *val = rd(c, 3); break;
	case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4:
	case DW_FORM_addrx4: case DW_FORM_ref_sup4:
		*val = rd(c, 4); break;
	case DW_FORM_data8: case DW_FORM_ref8: case DW_FORM_ref_sig8:
	case DW_FORM_ref_sup8:
		*val = rd(c, 8); break;
	case DW_FORM_data16:
		*val = 0;
		if (need(c, 16))
			c->p += 16;
		break;
	case DW_FORM_sdata: *val = (uint64_t)sleb(c); break;
	case DW_FORM_udata: case DW_FORM_ref_udata: case DW_FORM_strx:
	case DW_FORM_addrx: case DW_FORM_GNU_addr_index:
	case DW_FORM_GNU_str_index: case DW_FORM_loclistx:
	case DW_FORM_rnglistx:
		*val = uleb(c); break;
	case DW_FORM_string:
		*val = (uint64_t)(uintptr_t)cstr(c);
		break;
	case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset:
	case DW_FORM_strp_sup: case DW_FORM_GNU_ref_alt:
	case DW_FORM_GNU_strp_alt:
		*val = rd(c, osize); break;
	case DW_FORM_ref_addr:
		*val = rd(c, f->version <= 2 ? f->addr_size : osize); break;
	case DW_FORM_flag_present: *val = 1; break;
	case DW_FORM_implicit_const: *val = (uint64_t)implicit; break;
	case DW_FORM_block1: n = rd(c, 1); goto block;
	case DW_FORM_block2: n = rd(c, 2); goto block;
	case DW_FORM_block4: n = rd(c, 4); goto block;
	case DW_FORM_block: case DW_FORM_exprloc:
		n = uleb(c);
	block:
		*val = 0;
		if (need(c, n))
			c->p += n;
		break;
	default:
		return false;
	}
	return !c->bad;
}

/* An attribute's value in a DIE: references within the unit made offsets
 * in .debug_info. */
static bool read_value(const struct dwi_unit *u, struct cursor *c,
		       uint32_t form, int64_t implicit, uint64_t *val)
{
	if (!dwr_value(c, form, &u->fmt, implicit, val))
		return false;
	switch (form) {
	case DW_FORM_ref1: case DW_FORM_ref2: case DW_FORM_ref4:
	case DW_FORM_ref8: case DW_FORM_ref_udata:
		*val += u->off;
		break;
	default:
		break;
	}
	return true;
}

int dwi_read_die(const struct dwi_unit *u, uint64_t *pos, struct dwi_die *die)
{
	const struct dwl_section *info = &u->s->info;
	struct cursor c;
	uint64_t code;
	const struct dwi_abbrev *a;

	if (*pos >= u->end)
		return -EINVAL;
	c = (struct cursor){ .p = info->data + *pos, .end = info->data + u->end };
	die->off = *pos;
	die->have = 0;
	code = uleb(&c);
	if (c.bad)
		return -EINVAL;
	if (!code) {
		die->tag = 0;
		die->children = false;
		*pos = (uint64_t)(c.p - info->data);
		return 0;
	}
	if (code >= u->nabbrevs || !u->abbrevs[code].defined)
		return -EINVAL;
	a = &u->abbrevs[code];
	die->tag = a->tag;
	die->children = a->children;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct dwi_spec *sp = &u->specs[a->first + i];
		uint32_t form = sp->form;
		uint64_t v;
		int slot;

		/* The form is in the DIE itself (rarely used). */
		while (form == DW_FORM_indirect)
			form = (uint32_t)uleb(&c);
		if (!read_value(u, &c, form, sp->implicit, &v))
			return -EINVAL;
		slot = dwi_attr_slot(sp->name);
		if (slot >= 0 && !(die->have & (1u << slot))) {
			die->have |= 1u << slot;
			die->form[slot] = form;
			die->val[slot] = v;
		}
	}
	*pos = (uint64_t)(c.p - info->data);
	return 0;
}

int dwi_unit_open(struct dwi_unit *u, const struct dwi_sections *s,
		  uint64_t off)
{
	const struct dwl_section *info = &s->info;
	struct cursor c;
	uint64_t len, abbrev_off, pos;
	struct dwi_die die;

	memset(u, 0, sizeof(*u));
	u->s = s;
	u->off = off;
	if (!info->data || off >= info->size)
		return -EINVAL;
	c = (struct cursor){ .p = info->data + off, .end = info->data + info->size };
	len = rd(&c, 4);
	if (len == 0xffffffff) {
		u->fmt.offset64 = true;
		len = rd(&c, 8);
	} else if (len >= 0xfffffff0) {
		return -EINVAL;
	}
	if (c.bad || len > (uint64_t)(c.end - c.p))
		return -EINVAL;
	u->end = (uint64_t)(c.p - info->data) + len;
	u->fmt.version = (uint16_t)rd(&c, 2);
	if (u->fmt.version < 2 || u->fmt.version > 5)
		return -EINVAL;
	if (u->fmt.version >= 5) {
		uint8_t type = (uint8_t)rd(&c, 1);

		/* Other kinds carry more in their headers (and split
		 * units their strings elsewhere): libdw's. */
		if (type != DW_UT_compile && type != DW_UT_partial)
			return -EINVAL;
		u->fmt.addr_size = (uint8_t)rd(&c, 1);
		abbrev_off = rd(&c, u->fmt.offset64 ? 8 : 4);
	} else {
		abbrev_off = rd(&c, u->fmt.offset64 ? 8 : 4);
		u->fmt.addr_size = (uint8_t)rd(&c, 1);
	}
	if (c.bad || (u->fmt.addr_size != 4 && u->fmt.addr_size != 8))
		return -EINVAL;
	u->die_off = (uint64_t)(c.p - info->data);
	if (!read_abbrevs(u, abbrev_off))
		goto bad;

	/* The unit's own DIE: where its strings, addresses and range
	 * lists are, and the base address of its range lists. */
	pos = u->die_off;
	if (dwi_read_die(u, &pos, &die) || !die.tag)
		goto bad;
	if (die.have & (1u << DWI_STR_OFFSETS_BASE))
		u->str_offsets_base = die.val[DWI_STR_OFFSETS_BASE];
	else if (u->fmt.version >= 5)
		u->str_offsets_base = u->fmt.offset64 ? 16 : 8; /* the first table */
	if (die.have & (1u << DWI_ADDR_BASE))
		u->addr_base = die.val[DWI_ADDR_BASE];
	else if (u->fmt.version >= 5)
		u->addr_base = u->fmt.offset64 ? 16 : 8; /* past the first header */
	if (die.have & (1u << DWI_RNGLISTS_BASE))
		u->rnglists_base = die.val[DWI_RNGLISTS_BASE];
	else if (u->fmt.version >= 5)
		u->rnglists_base = u->fmt.offset64 ? 20 : 12;
	if ((die.have & (1u << DWI_LOW_PC)) &&
	    dwi_addr(u, die.form[DWI_LOW_PC], die.val[DWI_LOW_PC], &u->base))
		goto bad;
	u->children_off = pos;
	u->has_children = die.children;
	return 0;
bad:
	dwi_unit_release(u);
	return -EINVAL;
}

void dwi_unit_release(struct dwi_unit *u)
{
	free(u->abbrevs);
	free(u->specs);
	u->abbrevs = NULL;
	u->specs = NULL;
	u->nabbrevs = u->nspecs = u->specs_cap = 0;
}

int dwi_skip_children(const struct dwi_unit *u, uint64_t *pos,
		      const struct dwi_die *die)
{
	uint64_t open = 1;
	struct dwi_die d;

	if (!die->children)
		return 0;
	/* DW_AT_sibling says where the next one is, when it is sane. */
	if ((die->have & (1u << DWI_SIBLING)) &&
	    (die->form[DWI_SIBLING] == DW_FORM_ref1 ||
	     die->form[DWI_SIBLING] == DW_FORM_ref2 ||
	     die->form[DWI_SIBLING] == DW_FORM_ref4 ||
	     die->form[DWI_SIBLING] == DW_FORM_ref8 ||
	     die->form[DWI_SIBLING] == DW_FORM_ref_udata) &&
	    die->val[DWI_SIBLING] >= *pos && die->val[DWI_SIBLING] < u->end) {
		*pos = die->val[DWI_SIBLING];
		return 0;
	}
	while (open && *pos < u->end) {
		if (dwi_read_die(u, pos, &d))
			return -EINVAL;
		if (!d.tag)
			open--;
		else if (d.children)
			open++;
	}
	return 0;
}

int dwi_addr(const struct dwi_unit *u, uint32_t form, uint64_t val,
	     uint64_t *addr)
{
	const struct dwl_section *as = &u->s->addr;
	uint64_t off;

	switch (form) {
	case DW_FORM_addr:
		*addr = val;
		return 0;
	case DW_FORM_addrx: case DW_FORM_addrx1: case DW_FORM_addrx2:
	case DW_FORM_addrx3: case DW_FORM_addrx4: case DW_FORM_GNU_addr_index:
		if (val > (UINT64_MAX - u->addr_base) / u->fmt.addr_size)
			return -EINVAL;
		off = u->addr_base + val * u->fmt.addr_size;
		if (!as->data || off > as->size || as->size - off < u->fmt.addr_size)
			return -EINVAL;
		*addr = 0;
		for (unsigned i = 0; i < u->fmt.addr_size; i++)
			*addr |= (uint64_t)as->data[off + i] << (8 * i);
		return 0;
	default:
		return -EINVAL;
	}
}

int dwi_string(const struct dwi_unit *u, const struct dwi_die *die, int slot,
	       const char **s)
{
	const struct dwi_sections *secs = u->s;
	uint64_t val = die->val[slot], off;
	size_t osize = u->fmt.offset64 ? 8 : 4;

	*s = NULL;
	if (!(die->have & (1u << slot)))
		return 0;
	switch (die->form[slot]) {
	case DW_FORM_string: /* in the DIE, checked ended by dwr_value */
		*s = (const char *)(uintptr_t)val;
		break;
	case DW_FORM_strp:
		*s = sec_str(&secs->str, val);
		break;
	case DW_FORM_line_strp:
		*s = sec_str(&secs->line_str, val);
		break;
	case DW_FORM_strx: case DW_FORM_strx1: case DW_FORM_strx2:
	case DW_FORM_strx3: case DW_FORM_strx4: case DW_FORM_GNU_str_index:
		if (!secs->str_offsets.data ||
		    val > (UINT64_MAX - u->str_offsets_base) / osize)
			return -EINVAL;
		off = u->str_offsets_base + val * osize;
		if (off > secs->str_offsets.size ||
		    secs->str_offsets.size - off < osize)
			return -EINVAL;
		val = 0;
		for (unsigned i = 0; i < osize; i++)
			val |= (uint64_t)secs->str_offsets.data[off + i] << (8 * i);
		*s = sec_str(&secs->str, val);
		break;
	default:
		return -EINVAL; /* dwz's shared strings, a number: libdw's */
	}
	return *s ? 0 : -EINVAL;
}

int dwi_ranges(const struct dwi_unit *u, const struct dwi_die *die,
	       void (*add)(void *arg, uint64_t lo, uint64_t hi), void *arg)
{
	const struct dwi_sections *secs = u->s;
	uint32_t form = die->form[DWI_RANGES];
	uint64_t off = die->val[DWI_RANGES], base = u->base;
	size_t osize = u->fmt.offset64 ? 8 : 4;
	struct cursor c;

	if (u->fmt.version < 5) {
		const struct dwl_section *r = &secs->ranges;
		uint64_t maxv = u->fmt.addr_size == 4 ? UINT32_MAX : UINT64_MAX;

		if (form != DW_FORM_sec_offset && form != DW_FORM_data4 &&
		    form != DW_FORM_data8)
			return -EINVAL;
		if (!r->data || off >= r->size)
			return -EINVAL;
		c = (struct cursor){ .p = r->data + off, .end = r->data + r->size };
		for (;;) {
			uint64_t b = rd(&c, u->fmt.addr_size), e = rd(&c, u->fmt.addr_size);

			if (c.bad)
				return -EINVAL;
			if (!b && !e)
				return 0;
			if (b == maxv)
				base = e;
			else
				add(arg, base + b, base + e);
		}
	}
	if (form == DW_FORM_rnglistx) {
		uint64_t at;

		if (!secs->rnglists.data ||
		    off > (UINT64_MAX - u->rnglists_base) / osize)
			return -EINVAL;
		at = u->rnglists_base + off * osize;
		if (at > secs->rnglists.size || secs->rnglists.size - at < osize)
			return -EINVAL;
		off = 0;
		for (unsigned i = 0; i < osize; i++)
			off |= (uint64_t)secs->rnglists.data[at + i] << (8 * i);
		off += u->rnglists_base;
	} else if (form != DW_FORM_sec_offset) {
		return -EINVAL;
	}
	if (!secs->rnglists.data || off >= secs->rnglists.size)
		return -EINVAL;
	c = (struct cursor){ .p = secs->rnglists.data + off,
			     .end = secs->rnglists.data + secs->rnglists.size };
	for (;;) {
		uint8_t kind = (uint8_t)rd(&c, 1);
		uint64_t a, b;

		if (c.bad)
			return -EINVAL;
		switch (kind) {
		case DW_RLE_end_of_list:
			return 0;
		case DW_RLE_base_addressx:
			if (dwi_addr(u, DW_FORM_addrx, uleb(&c), &base))
				return -EINVAL;
			break;
		case DW_RLE_startx_endx:
			a = uleb(&c);
			b = uleb(&c);
			if (dwi_addr(u, DW_FORM_addrx, a, &a) ||
			    dwi_addr(u, DW_FORM_addrx, b, &b))
				return -EINVAL;
			add(arg, a, b);
			break;
		case DW_RLE_startx_length:
			a = uleb(&c);
			b = uleb(&c);
			if (dwi_addr(u, DW_FORM_addrx, a, &a))
				return -EINVAL;
			add(arg, a, a + b);
			break;
		case DW_RLE_offset_pair:
			a = uleb(&c);
			b = uleb(&c);
			add(arg, base + a, base + b);
			break;
		case DW_RLE_base_address:
			base = rd(&c, u->fmt.addr_size);
			break;
		case DW_RLE_start_end:
			a = rd(&c, u->fmt.addr_size);
			b = rd(&c, u->fmt.addr_size);
			add(arg, a, b);
			break;
		case DW_RLE_start_length:
			a = rd(&c, u->fmt.addr_size);
			b = uleb(&c);
			add(arg, a, a + b);
			break;
		default:
			return -EINVAL;
		}
		if (c.bad)
			return -EINVAL;
	}
}
