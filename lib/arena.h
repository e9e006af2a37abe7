/* SPDX-License-Identifier: MIT */
/*
 * arena: a bump allocator for many small objects that die together
 * (a profile's sample arrays, a symbol table's names). Freed all at once by
 * arena_release; there is no per-object free.
 */
#ifndef SMOLDER_ARENA_H
#define SMOLDER_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used;  /* bytes used in head */
	size_t total; /* bytes handed out, for statistics */
};

#define ARENA_INIT { 0 }

/* Memory aligned for any scalar type; never NULL (dies on exhaustion). */
void *arena_alloc(struct arena *a, size_t size);
void *arena_memdup(struct arena *a, const void *p, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void arena_release(struct arena *a);

#endif
