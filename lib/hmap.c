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
	free(m->hashes);
	free(m->slots);
	hmap_init(m);
}

static void place(uint64_t *hashes, uint32_t *slots, size_t mask,
		  uint64_t hash, uint32_t slot)
{
	size_t pos = hash & mask;

	while (slots[pos])
		pos = (pos + 1) & mask;
	hashes[pos] = hash;
	slots[pos] = slot;
}

static void grow(struct hmap *m)
{
	size_t old_cap = m->slots ? m->mask + 1 : 0;
	size_t new_cap = old_cap ? old_cap * 2 : 16;
	uint64_t *hashes = xcalloc(new_cap, sizeof(*hashes));
	uint32_t *slots = xcalloc(new_cap, sizeof(*slots));

	for (size_t i = 0; i < old_cap; i++)
		if (m->slots[i])
			place(hashes, slots, new_cap - 1, m->hashes[i],
			      m->slots[i]);
	free(m->hashes);
	free(m->slots);
	m->hashes = hashes;
	m->slots = slots;
	m->mask = new_cap - 1;
}

void hmap_insert(struct hmap *m, uint64_t hash, uint32_t idx)
{
	assert(idx != HMAP_NONE);
	/* Keep the load factor at or below 1/2 so probes stay short. */
	if (!m->slots || (m->count + 1) * 2 > m->mask + 1)
		grow(m);
	place(m->hashes, m->slots, m->mask, hash, idx + 1);
	m->count++;
}

static uint32_t scan(const struct hmap *m, uint64_t hash, size_t *pos)
{
	for (;;) {
		size_t p = *pos;
		uint32_t slot = m->slots[p];

		if (!slot)
			return HMAP_NONE;
		*pos = (p + 1) & m->mask;
		if (m->hashes[p] == hash)
			return slot - 1;
	}
}

uint32_t hmap_first(const struct hmap *m, uint64_t hash, size_t *pos)
{
	if (!m->slots)
		return HMAP_NONE;
	*pos = hash & m->mask;
	return scan(m, hash, pos);
}

uint32_t hmap_next(const struct hmap *m, uint64_t hash, size_t *pos)
{
	return scan(m, hash, pos);
}

uint64_t hash_bytes(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
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
