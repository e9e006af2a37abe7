/* SPDX-License-Identifier: MIT */
#include "hmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "xalloc.h"

void hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void hmap_release(struct hmap *m)
{
	free(m->slots);
	hmap_init(m);
}

static uint32_t digest(uint64_t hash)
{
	return (uint32_t)(hash >> 32) ^ (uint32_t)hash;
}

static void place(uint64_t *slots, size_t mask, uint64_t slot)
{
	size_t pos = (uint32_t)(slot >> 32) & mask;

	while (slots[pos])
		pos = (pos + 1) & mask;
	slots[pos] = slot;
}

static void grow(struct hmap *m)
{
	size_t old_cap = m->slots ? m->mask + 1 : 0;
	size_t new_cap = old_cap ? old_cap * 2 : 16;
	uint64_t *slots = xcalloc(new_cap, sizeof(*slots));

	for (size_t i = 0; i < old_cap; i++)
		if (m->slots[i])
			place(slots, new_cap - 1, m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->mask = new_cap - 1;
}

void hmap_insert(struct hmap *m, uint64_t hash, uint32_t idx)
{
	assert(idx != HMAP_NONE);
	/* Keep the load factor at or below 1/2 so probes stay short. */
	if (!m->slots || (m->count + 1) * 2 > m->mask + 1)
		grow(m);
	place(m->slots, m->mask, ((uint64_t)digest(hash) << 32) | (idx + 1u));
	m->count++;
}

static uint32_t scan(const struct hmap *m, uint32_t d, size_t *pos)
{
	for (;;) {
		uint64_t slot = m->slots[*pos];

		if (!slot)
			return HMAP_NONE;
		*pos = (*pos + 1) & m->mask;
		if ((uint32_t)(slot >> 32) == d)
			return (uint32_t)slot - 1;
	}
}

uint32_t hmap_first(const struct hmap *m, uint64_t hash, size_t *pos)
{
	uint32_t d = digest(hash);

	if (!m->slots)
		return HMAP_NONE;
	*pos = d & m->mask;
	return scan(m, d, pos);
}

uint32_t hmap_next(const struct hmap *m, uint64_t hash, size_t *pos)
{
	return scan(m, digest(hash), pos);
}

uint64_t hash_bytes(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

void hash128_bytes(const void *data, size_t len, uint64_t *lo, uint64_t *hi)
{
	XXH128_hash_t h = XXH3_128bits(data, len);

	*lo = h.low64;
	*hi = h.high64;
}

uint64_t hash_str(const char *s)
{
	return XXH3_64bits(s, strlen(s));
}

uint64_t hash_combine(uint64_t h, uint64_t v)
{
	uint64_t in[2] = { h, v };

	return XXH3_64bits(in, sizeof(in));
}
