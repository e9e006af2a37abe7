/* SPDX-License-Identifier: MIT */
/* A C fixture for the symbolizer tests: inlining of several kinds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
	int key;
	double weight;
	char name[16];
};

static inline int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static inline __attribute__((always_inline)) unsigned mix(unsigned h,
							   unsigned v)
{
	h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
	return h;
}

static inline __attribute__((always_inline)) unsigned hash_item(
	const struct item *it)
{
	unsigned h = mix(0, (unsigned)it->key);

	for (const char *p = it->name; *p; p++)
		h = mix(h, (unsigned char)*p);
	return h;
}

static int cmp_items(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? -1 : 1;
	return clamp(x->key - y->key, -1, 1);
}

static __attribute__((noinline)) void fill(struct item *items, int n)
{
	for (int i = 0; i < n; i++) {
		items[i].key = (i * 7919) % n;
		items[i].weight = (double)((i * 31) % 97) / 7.0;
		snprintf(items[i].name, sizeof(items[i].name), "item%d", i);
	}
}

static __attribute__((noinline)) unsigned digest(const struct item *items,
						 int n)
{
	unsigned h = 0;

	for (int i = 0; i < n; i++)
		h = mix(h, hash_item(&items[i]));
	return h;
}

static int fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

typedef int (*op_fn)(int, int);

static int op_add(int a, int b) { return a + b; }
static int op_mul(int a, int b) { return a * b; }
static int op_sub(int a, int b) { return a - b; }

static __attribute__((noinline)) int apply(const op_fn *ops, int nops, int x)
{
	for (int i = 0; i < nops; i++)
		x = clamp(ops[i](x, i + 1), -100000, 100000);
	return x;
}

static __attribute__((noinline)) const char *classify(int v)
{
	switch (v % 7) {
	case 0: return "zero";
	case 1: return "one";
	case 2: return "two";
	case 3: return "three";
	case 4: return "four";
	case 5: return "five";
	default: return "six";
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	struct item *items = calloc((size_t)n, sizeof(*items));
	static const op_fn ops[] = { op_add, op_mul, op_sub, op_add };

	if (!items)
		return 1;
	fill(items, n);
	qsort(items, (size_t)n, sizeof(*items), cmp_items);
	printf("%u %d %d %s\n", digest(items, n), fib(n % 20),
	       apply(ops, 4, n), classify(n));
	free(items);
	return strlen(argv[0]) > 1000;
}
