/* SPDX-License-Identifier: MIT */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define CHUNK_SIZE (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	alignas(max_align_t) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t size)
{
	size_t align = alignof(max_align_t);
	size_t need = (size + align - 1) & ~(align - 1);
	struct arena_chunk *c;

	if (!need)
		need = align;
	if (!a->head || a->used + need > a->head->size) {
		size_t cs = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;

		if (cs == need && a->head) {
			/* A big object gets a chunk of its own, placed behind
			 * the current one so its free space is not wasted. */
			c = xmalloc(sizeof(*c) + cs);
			c->size = cs;
			c->next = a->head->next;
			a->head->next = c;
			a->total += need;
			return c->data;
		}
		c = xmalloc(sizeof(*c) + cs);
		c->size = cs;
		c->next = a->head;
		a->head = c;
		a->used = 0;
	}
	void *p = a->head->data + a->used;

	a->used += need;
	a->total += need;
	return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t size)
{
	void *q = arena_alloc(a, size);

	if (size)
		memcpy(q, p, size);
	return q;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup(a, s, strlen(s) + 1);
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	memset(a, 0, sizeof(*a));
}
