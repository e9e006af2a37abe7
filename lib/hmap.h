/* SPDX-License-Identifier: MIT */
/*
 * hmap: an open-addressing hash index over a caller-owned array.
 *
 * The map stores only (hash, element index); the elements live in the
 * caller's own array, so one small structure serves every interning table
 * (strings, functions, locations, folded lines) without void pointers or
 * per-entry allocations. Lookup walks the candidates with the same hash:
 *
 *	size_t pos;
 *	for (uint32_t i = hmap_first(&m, h, &pos); i != HMAP_NONE;
 *	     i = hmap_next(&m, h, &pos))
 *		if (equal(&elems[i], key))
 *			return i;
 *
 * Entries cannot be removed. Indexes must be below HMAP_NONE.
 */
#ifndef SMOLDER_HMAP_H
#define SMOLDER_HMAP_H

#include <stddef.h>
#include <stdint.h>

#define HMAP_NONE UINT32_MAX

/*
 * A slot packs a 32-bit digest of the hash (high half) with the element
 * index + 1 (low half; 0 marks an empty slot), so a probe touches one
 * cache line. The digest also picks the slot, so growing needs no rehash.
 */
struct hmap {
	uint64_t *slots;
	size_t mask; /* capacity - 1; capacity is a power of two */
	size_t count;
};

#define HMAP_INIT { 0 }

void hmap_init(struct hmap *m);
void hmap_release(struct hmap *m);
/* Add `idx` under `hash`. Does not check for an existing equal entry. */
void hmap_insert(struct hmap *m, uint64_t hash, uint32_t idx);
/* First candidate index stored under `hash`, or HMAP_NONE. */
uint32_t hmap_first(const struct hmap *m, uint64_t hash, size_t *pos);
/* Next candidate after a previous hmap_first/hmap_next, or HMAP_NONE. */
uint32_t hmap_next(const struct hmap *m, uint64_t hash, size_t *pos);

/* Hashes for keys (XXH3, 64-bit). */
uint64_t hash_bytes(const void *data, size_t len);
/* A 128-bit hash (XXH3) as two halves: for identity without comparison. */
void hash128_bytes(const void *data, size_t len, uint64_t *lo, uint64_t *hi);
uint64_t hash_str(const char *s);
/* Mix two 64-bit values into one hash. */
uint64_t hash_combine(uint64_t h, uint64_t v);

#endif
