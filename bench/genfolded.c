/* SPDX-License-Identifier: MIT */
/*
 * Folded-stacks input for bench/flamegraph: LINES lines over DISTINCT
 * distinct stacks, written to standard output. The same arguments give the
 * same bytes.
 *
 * usage: genfolded LINES DISTINCT [SEED]
 *
 * A line is "root;frame;...;frame COUNT": 1 to 64 frames, the root one of
 * 16 thread names, the others from a vocabulary of 4000 function names
 * shaped like C and C++ symbols ("net::Server::handle_17",
 * "io_read_2048", "core::detail::Pool<Buffer>::alloc_391"), COUNT 1..100.
 *
 * Stacks look like a program's: each function calls one of a few callees
 * of its own most of the time, a new stack often continues a prefix of an
 * earlier one, and a few functions are much more common than the rest.
 * Depths are uniform over 1..64 (a depth whose stacks are used up is drawn
 * again). Every distinct stack appears on at least one line; the other
 * lines repeat stacks, the hotter ones more often, and all lines come in
 * shuffled order, as a profile concatenated from many runs would.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define NROOTS 16
#define NNAMES 4000
#define FANOUT 6          /* callees per function */
#define P_CALLEE 75       /* % of frames that are a callee of their caller */
#define P_PREFIX 85       /* % of stacks that continue an earlier prefix */

static uint64_t rng_state;

/* splitmix64 */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n small next to 2^64: the bias is negligible). */
static uint32_t below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* Skewed to 0: u^2 of a uniform u in [0, 1), times n. */
static uint32_t skewed(uint32_t n)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;

	return (uint32_t)(u * u * n);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "genfolded: out of memory\n");
		exit(1);
	}
	return p;
}

static const char *const roots[NROOTS] = {
	"main", "worker-0", "worker-1", "worker-2", "worker-3", "worker-4",
	"worker-5", "worker-6", "worker-7", "io-0", "io-1", "timer",
	"gc", "logger", "http-acceptor", "[idle]",
};
static const char *const spaces[] = {
	"net", "db", "io", "http", "json", "sql", "gfx", "core", "util", "rpc",
	"cache", "sched", "mem", "fs", "crypto", "log", "ui", "auth", "proto",
	"tls",
};
static const char *const classes[] = {
	"Server", "Connection", "Parser", "Buffer", "Pool", "Worker",
	"Session", "Handler", "Encoder", "Decoder", "Allocator", "Table",
	"Index", "Query", "Planner", "Executor", "Stream", "Socket", "Request",
	"Response", "Scheduler", "Task", "Queue", "HashMap", "Cache", "Reader",
	"Writer", "Lexer", "Node", "Tree",
};
static const char *const verbs[] = {
	"run", "handle", "process", "read", "write", "flush", "parse",
	"encode", "decode", "lookup", "insert", "erase", "resize", "alloc",
	"free", "dispatch", "poll", "wait", "notify", "commit", "rollback",
	"scan", "merge", "split", "compute", "update", "render", "send", "recv",
	"open", "close", "init", "reset", "visit", "emit",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Name i of the vocabulary: its number keeps every name distinct. */
static char *make_name(uint32_t i)
{
	const char *ns = spaces[below(N(spaces))], *cl = classes[below(N(classes))],
		   *cl2 = classes[below(N(classes))], *v = verbs[below(N(verbs))];
	uint32_t form = below(100);
	char buf[160];

	if (form < 55)
		snprintf(buf, sizeof(buf), "%s::%s::%s_%u", ns, cl, v, i);
	else if (form < 85)
		snprintf(buf, sizeof(buf), "%s_%s_%u", ns, v, i);
	else if (form < 95)
		snprintf(buf, sizeof(buf), "func_%u", i);
	else
		snprintf(buf, sizeof(buf), "%s::detail::%s<%s>::%s_%u", ns, cl, cl2, v, i);
	return strdup(buf);
}

/* The stacks, frame ids (0..NROOTS-1 roots, then names) root first. */
static uint16_t *pool;
static size_t *start;   /* stack i is pool[start[i] .. start[i + 1]) */

/* A set of stack hashes. A false "seen" only makes a stack be drawn again. */
static uint64_t *seen;
static size_t seen_mask;

static uint64_t stack_hash(const uint16_t *f, size_t n)
{
	uint64_t h = 0x2545f4914f6cdd1dull ^ n;

	for (size_t i = 0; i < n; i++)
		h = mix(h ^ f[i]) + i;
	return h | 1;   /* 0 marks an empty slot */
}

static int seen_add(uint64_t h)
{
	size_t i = (size_t)h & seen_mask;

	while (seen[i]) {
		if (seen[i] == h)
			return 0;
		i = (i + 1) & seen_mask;
	}
	seen[i] = h;
	return 1;
}

/* The next frame under caller `f`. */
static uint16_t next_frame(uint16_t f)
{
	if (below(100) < P_CALLEE)
		return (uint16_t)(NROOTS + mix((uint64_t)f * FANOUT + below(FANOUT)) % NNAMES);
	return (uint16_t)(NROOTS + skewed(NNAMES));
}

static unsigned long parse_count(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v > 100000000ul) {
		fprintf(stderr, "genfolded: %s: a number, 1..100000000\n", what);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	size_t nlines, ndistinct, size;
	uint32_t *order;
	char *names[NROOTS + NNAMES], *out;
	size_t namelen[NROOTS + NNAMES];
	uint16_t cur[MAX_DEPTH];

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: genfolded LINES DISTINCT [SEED]\n");
		return 2;
	}
	nlines = parse_count(argv[1], "LINES");
	ndistinct = parse_count(argv[2], "DISTINCT");
	rng_state = argc > 3 ? parse_count(argv[3], "SEED") : 42;
	if (ndistinct > nlines) {
		fprintf(stderr, "genfolded: DISTINCT must not exceed LINES\n");
		return 2;
	}

	for (uint32_t i = 0; i < NROOTS; i++)
		names[i] = (char *)roots[i];
	for (uint32_t i = 0; i < NNAMES; i++)
		names[NROOTS + i] = make_name(i);
	for (uint32_t i = 0; i < NROOTS + NNAMES; i++)
		namelen[i] = strlen(names[i]);

	for (size = 1024; size < 2 * ndistinct; size *= 2)
		;
	seen = calloc(size, sizeof(*seen));
	seen_mask = size - 1;
	pool = xmalloc(ndistinct * (MAX_DEPTH + 1) / 2 * sizeof(*pool) + MAX_DEPTH * sizeof(*pool));
	start = xmalloc((ndistinct + 1) * sizeof(*start));
	if (!seen) {
		fprintf(stderr, "genfolded: out of memory\n");
		return 1;
	}

	/* The distinct stacks. */
	start[0] = 0;
	size_t cap = ndistinct * (MAX_DEPTH + 1) / 2 + MAX_DEPTH;
	for (size_t i = 0; i < ndistinct;) {
		size_t depth = 1 + below(MAX_DEPTH), n = 0;

		if (i && below(100) < P_PREFIX) {
			size_t j = below((uint32_t)i), jn = start[j + 1] - start[j];
			size_t keep = 1 + below((uint32_t)(jn < depth ? jn : depth));

			memcpy(cur, pool + start[j], keep * sizeof(*cur));
			n = keep;
		} else {
			cur[n++] = (uint16_t)below(NROOTS);
		}
		while (n < depth) {
			cur[n] = next_frame(cur[n - 1]);
			n++;
		}
		if (!seen_add(stack_hash(cur, n)))
			continue;
		if (start[i] + n > cap) {
			cap = cap * 2;
			pool = realloc(pool, cap * sizeof(*pool));
			if (!pool) {
				fprintf(stderr, "genfolded: out of memory\n");
				return 1;
			}
		}
		memcpy(pool + start[i], cur, n * sizeof(*cur));
		start[i + 1] = start[i] + n;
		i++;
	}

	/* Every stack once, then repeats of the hotter ones; shuffled. */
	order = xmalloc(nlines * sizeof(*order));
	for (size_t i = 0; i < nlines; i++)
		order[i] = (uint32_t)(i < ndistinct ? i : skewed((uint32_t)ndistinct));
	for (size_t i = nlines - 1; i > 0; i--) {
		size_t j = (size_t)(rnd() % (i + 1));
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}

	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	out = xmalloc(MAX_DEPTH * 160 + 32);
	for (size_t i = 0; i < nlines; i++) {
		const uint16_t *f = pool + start[order[i]];
		size_t n = start[order[i] + 1] - start[order[i]], len = 0;

		for (size_t k = 0; k < n; k++) {
			if (k)
				out[len++] = ';';
			memcpy(out + len, names[f[k]], namelen[f[k]]);
			len += namelen[f[k]];
		}
		len += (size_t)sprintf(out + len, " %u\n", 1 + below(100));
		if (fwrite(out, 1, len, stdout) != len)
			break;
	}
	if (fflush(stdout) || ferror(stdout)) {
		perror("genfolded: write");
		return 1;
	}
	return 0;
}
