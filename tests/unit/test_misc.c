/* SPDX-License-Identifier: MIT */
/* The small shared pieces: parsing, strbuf, hmap, arena, stack hash. */
#include <errno.h>
#include <linux/types.h>

#include "../../bpf/profile.h"
#include "../../bpf/stackhash.h"
#include "../../lib/arena.h"
#include "../../lib/hmap.h"
#include "../../lib/parse.h"
#include "../../lib/strbuf.h"
#include "harness.h"

static void parses_numbers(void)
{
	long v;
	double d;

	CHECK_EQ(parse_long("99", 1, 10000, &v), 0);
	CHECK_EQ(v, 99);
	CHECK_EQ(parse_long("0", 1, 10000, &v), -EINVAL);
	CHECK_EQ(parse_long("10001", 1, 10000, &v), -EINVAL);
	CHECK_EQ(parse_long("12abc", 1, 10000, &v), -EINVAL);
	CHECK_EQ(parse_long("", 1, 10000, &v), -EINVAL);
	CHECK_EQ(parse_long(" 5", 1, 10000, &v), -EINVAL);
	CHECK_EQ(parse_long("99999999999999999999", 1, 10000, &v), -EINVAL);

	CHECK_EQ(parse_duration("5", &d), 0);
	CHECK(d == 5);
	CHECK_EQ(parse_duration("2.5s", &d), 0);
	CHECK(d == 2.5);
	CHECK_EQ(parse_duration("500ms", &d), 0);
	CHECK(d == 0.5);
	CHECK_EQ(parse_duration("2m", &d), 0);
	CHECK(d == 120);
	CHECK_EQ(parse_duration("1h", &d), 0);
	CHECK(d == 3600);
	CHECK_EQ(parse_duration("0", &d), -EINVAL);
	CHECK_EQ(parse_duration("-1", &d), -EINVAL);
	CHECK_EQ(parse_duration("5x", &d), -EINVAL);
	CHECK_EQ(parse_duration("inf", &d), -EINVAL);
	CHECK_EQ(parse_duration("nan", &d), -EINVAL);
	CHECK_EQ(parse_duration("", &d), -EINVAL);
}

static void parses_times(void)
{
	const int64_t now = 1700000000 * (int64_t)1000000000;
	int64_t t;

	CHECK_EQ(parse_time("now", now, &t), 0);
	CHECK_EQ(t, now);
	CHECK_EQ(parse_time("-1h", now, &t), 0);
	CHECK_EQ(t, now - 3600 * (int64_t)1000000000);
	CHECK_EQ(parse_time("@1700000000.5", now, &t), 0);
	CHECK_EQ(t, now + 500000000);
	CHECK_EQ(parse_time("2023-11-14T22:13:20Z", now, &t), 0);
	CHECK_EQ(t, now);
	CHECK_EQ(parse_time("2023-11-14T23:13:20.25+01:00", now, &t), 0);
	CHECK_EQ(t, now + 250000000);
	CHECK_EQ(parse_time("1970-01-01T00:00:00Z", now, &t), 0);
	CHECK_EQ(t, 0);
	/* Past what int64 nanoseconds hold, and fractions strtod would
	 * take but RFC 3339 does not. */
	CHECK_EQ(parse_time("2262-04-11T23:47:15Z", now, &t), 0);
	CHECK_EQ(parse_time("2262-04-11T23:47:16Z", now, &t), -EINVAL);
	CHECK_EQ(parse_time("2263-01-01T00:00:00Z", now, &t), -EINVAL);
	CHECK_EQ(parse_time("9999-12-31T23:59:59Z", now, &t), -EINVAL);
	CHECK_EQ(parse_time("0000-01-01T00:00:00Z", now, &t), -EINVAL);
	CHECK_EQ(parse_time("2023-11-14T22:13:20.5e400Z", now, &t), -EINVAL);
	CHECK_EQ(parse_time("2023-11-14T22:13:20.inf", now, &t), -EINVAL);
	CHECK_EQ(parse_time("2023-11-14T22:13:20.Z", now, &t), -EINVAL);
}

static void builds_strings(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;

	CHECK_STR(sb.buf, "");
	strbuf_adds(&sb, "abc");
	strbuf_addc(&sb, '-');
	strbuf_addf(&sb, "%d/%s", 42, "x");
	CHECK_STR(sb.buf, "abc-42/x");
	CHECK_EQ(sb.len, 8);
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%04d", i);
	CHECK_EQ(sb.len, 8 + 4000);
	strbuf_reset(&sb);
	CHECK_STR(sb.buf, "");
	strbuf_adds(&sb, "kept");
	s = strbuf_detach(&sb);
	CHECK_STR(s, "kept");
	CHECK_STR(sb.buf, "");
	free(s);
	strbuf_release(&sb);
}

static void indexes_many_keys(void)
{
	struct hmap m = HMAP_INIT;
	enum { N = 20000 };
	uint64_t *keys = calloc(N, sizeof(*keys));
	int found = 0;

	for (uint32_t i = 0; i < N; i++) {
		keys[i] = (uint64_t)i * 7919;
		/* A weak hash on purpose, so probes collide. */
		hmap_insert(&m, keys[i] & 0xff, i);
	}
	for (uint32_t i = 0; i < N; i += 97) {
		size_t pos;

		for (uint32_t j = hmap_first(&m, keys[i] & 0xff, &pos);
		     j != HMAP_NONE; j = hmap_next(&m, keys[i] & 0xff, &pos))
			if (keys[j] == keys[i]) {
				found++;
				break;
			}
	}
	CHECK_EQ(found, (N + 96) / 97);
	CHECK_EQ(m.count, N);
	size_t pos;

	CHECK_EQ(hmap_first(&m, 0x1234567, &pos), HMAP_NONE);
	hmap_release(&m);
	free(keys);
}

static void allocates_from_arena(void)
{
	struct arena a = ARENA_INIT;
	char *big = arena_alloc(&a, 1 << 20);
	char *small[1000];

	memset(big, 1, 1 << 20);
	for (int i = 0; i < 1000; i++) {
		small[i] = arena_alloc(&a, 100);
		CHECK(((uintptr_t)small[i] & 7) == 0);
		memset(small[i], i & 0xff, 100);
	}
	for (int i = 0; i < 1000; i++)
		CHECK(small[i][99] == (char)(i & 0xff));
	CHECK_STR(arena_strdup(&a, "copy"), "copy");
	arena_release(&a);
}

static __u64 hash_stack(const __u64 *ip, __u32 n)
{
	__u64 h = STACKHASH_SEED;

	for (__u32 i = 0; i < n; i++)
		h = stackhash_mix(h, ip[i]);
	return stackhash_finish(h, n);
}

/* The BPF program keys stacks by this hash: order, length and every frame
 * must change it, and it is never 0 (which means "no stack"). */
static void hashes_stacks(void)
{
	__u64 a[4] = { 0xffffffff81000010ull, 0x401000, 0x401234, 0x7f0000001000ull };
	__u64 b[4] = { 0x401000, 0xffffffff81000010ull, 0x401234, 0x7f0000001000ull };
	__u64 zero[MAX_STACK_DEPTH] = { 0 };
	__u64 h = hash_stack(a, 4);

	CHECK(h != 0);
	CHECK_EQ(hash_stack(a, 4), h);
	CHECK(hash_stack(b, 4) != h);
	CHECK(hash_stack(a, 3) != h);
	a[3]++;
	CHECK(hash_stack(a, 4) != h);
	CHECK(hash_stack(zero, 1) != hash_stack(zero, 2));
	CHECK(hash_stack(zero, 0) != 0);

	/* No collisions among many similar stacks. */
	enum { N = 4096 };
	__u64 *hs = calloc(N, sizeof(*hs));
	int dups = 0;

	for (int i = 0; i < N; i++) {
		__u64 st[3] = { 0x401000 + (__u64)i, 0x402000, 0x403000 };

		hs[i] = hash_stack(st, 3);
		for (int j = 0; j < i; j++)
			dups += hs[j] == hs[i];
	}
	CHECK_EQ(dups, 0);
	free(hs);
}

int main(void)
{
	RUN(parses_numbers);
	RUN(parses_times);
	RUN(builds_strings);
	RUN(indexes_many_keys);
	RUN(allocates_from_arena);
	RUN(hashes_stacks);
	HARNESS_END();
}
