/* SPDX-License-Identifier: MIT */
/*
 * Reading DWARF's encodings from a section, bounds checked: a cursor that
 * turns bad (and stays at the end) on reading past its end. Shared by the
 * line program decoder and the .debug_info reader.
 */
#ifndef SMOLDER_DWREAD_H
#define SMOLDER_DWREAD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "symbolizer_internal.h"

struct cursor {
	const uint8_t *p, *end;
	bool bad;
};

static inline bool need(struct cursor *c, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return false;
	}
	return true;
}

static inline uint64_t rd(struct cursor *c, size_t n)
{
	uint64_t v = 0;

	if (!need(c, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* A LEB128 number, sign-extended when `sign` (its last byte's bit 6). */
static inline uint64_t leb(struct cursor *c, bool sign)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		uint8_t b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (sign && shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return v;
		}
	}
	c->bad = true;
	return 0;
}

static inline uint64_t uleb(struct cursor *c)
{
	return leb(c, false);
}

static inline int64_t sleb(struct cursor *c)
{
	return (int64_t)leb(c, true);
}

static inline const char *cstr(struct cursor *c)
{
	const uint8_t *z;

	if (c->bad)
		return NULL;
	z = memchr(c->p, 0, (size_t)(c->end - c->p));
	if (!z) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	const char *s = (const char *)c->p;

	c->p = z + 1;
	return s;
}

/* A string at `off` in a string section, or NULL. */
static inline const char *sec_str(const struct dwl_section *s, uint64_t off)
{
	if (!s->data || off >= s->size ||
	    !memchr(s->data + off, 0, s->size - off))
		return NULL;
	return (const char *)s->data + off;
}

/*
 * Read one attribute value in `form` (dwinfo.c): constants, addresses and
 * indexes as they are, offsets and references as read (not yet based),
 * DW_FORM_string as a pointer to the string, blocks stepped over (0).
 * False on a form it does not know or on reading past the end.
 */
bool dwr_value(struct cursor *c, uint32_t form, const struct dwr_unit *f,
	       int64_t implicit, uint64_t *val);

#endif
