/* SPDX-License-Identifier: MIT */
/*
 * xalloc: allocation helpers that never return NULL.
 *
 * A profiler that runs out of memory halfway through building a profile
 * cannot produce a correct result, and every caller would handle the
 * failure the same way (give up), so these helpers print one line naming
 * the failed size and exit with status 1 instead of returning NULL, as
 * git's xmalloc does. Use them for bookkeeping memory; sizes that come
 * from untrusted input must be bounded by the caller first.
 */
#ifndef SMOLDER_XALLOC_H
#define SMOLDER_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
/* reallocarray() that dies on overflow or exhaustion; ptr may be NULL. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * Make room for at least `need` elements in the array `ptr` whose capacity
 * is `cap` (both lvalues), growing geometrically. Elements past the old
 * capacity are left uninitialised.
 */
#define ALLOC_GROW(ptr, need, cap)                                            \
	do {                                                                  \
		if ((size_t)(need) > (size_t)(cap)) {                         \
			size_t ag_new_ = (size_t)(cap) < 8 ? 8 : (size_t)(cap) * 2; \
			if (ag_new_ < (size_t)(need))                         \
				ag_new_ = (size_t)(need);                     \
			(ptr) = xreallocarray((ptr), ag_new_, sizeof(*(ptr))); \
			(cap) = ag_new_;                                      \
		}                                                             \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
