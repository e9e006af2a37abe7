/* SPDX-License-Identifier: MIT */
/*
 * The stack hash, shared by the BPF program (which keys the `stacks` map
 * by it) and userspace (which checks every stack it reads back against its
 * key, and unit-tests the function). Kept free of BPF-only constructs.
 *
 * A 64-bit multiply-xorshift mix per frame, chained, so the hash depends on
 * every frame and its position. Never returns 0: 0 means "no stack".
 */
#ifndef SMOLDER_STACKHASH_H
#define SMOLDER_STACKHASH_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

static __always_inline __u64 stackhash_mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 33;
	return h;
}

static __always_inline __u64 stackhash_finish(__u64 h, __u32 len)
{
	h = stackhash_mix(h, len);
	return h ? h : 1;
}

#define STACKHASH_SEED 0x736d6f6c646572ull /* "smolder" */

#endif
