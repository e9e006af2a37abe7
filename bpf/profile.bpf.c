// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * smolder's sampling program. Runs on every tick of a per-CPU cpu-clock
 * perf event, takes the kernel and user stacks of whatever the CPU was
 * running, stores each distinct stack once in `stacks` (keyed by its
 * 64-bit hash) and counts samples per (thread, stacks) in `counts`. Nothing
 * crosses to userspace per sample: the only ring buffer records say that a
 * process instance was first seen, exec'd or exited, so userspace can read
 * its mappings while it lives.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "profile.h"
#include "stackhash.h"

#define EEXIST 17
#define PROT_EXEC 0x4

/* Set by the loader before load. */
const volatile bool collect_kernel = true;
const volatile bool collect_user = true;
const volatile bool filter_targets = false;  /* only tgids in `targets` */
const volatile bool follow_children = false; /* add forked children */
const volatile bool dwarf_unwind = false;    /* walk user stacks with CFI */
/* Send samples with a copy of their user stack for userspace to unwind:
 * 0 never, 1 when the process has no tables yet, 2 always. */
const volatile __u32 copy_stacks = 0;
const volatile __u32 copy_bytes = 16384; /* a multiple of 4096 */
/* The profiler itself: never copied, so that handling copies cannot make
 * more of them. */
const volatile __u32 self_tgid = 0;
/* Sample only tasks under one of the first `ncgroups` cgroups of
 * `cgroup_filter` (or, with filter_targets too, in either). */
const volatile __u32 ncgroups = 0;

/* Which of the two sets of aggregation maps (counts, stacks, ustacks and
 * their "2" twins) samples go to. Userspace flips it to close a window
 * and drains the other set while sampling goes on into this one. */
__u32 window = 0;

/* Sizes are defaults; the loader may change them before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct sample_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct sample_key);
	__type(value, __u64);
} counts2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} scratch SEC(".maps");

/* ---- DWARF unwinding: tables written by userspace, stacks walked here ---- */

/* Every loaded object's rows, each object's contiguous and sorted;
 * userspace writes them through a memory mapping. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct unw_row);
} unw_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct unw_proc);
} unw_procs SEC(".maps");

/* Walked user stacks, keyed by their hash like `stacks`. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct ustack_trace);
} ustacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct ustack_trace);
} ustacks2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ustack_trace);
} uscratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct proc_state);
} procs SEC(".maps");

/* Threads inside an mmap(PROT_EXEC) of a tracked process → its instance. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} mmap_pending SEC(".maps");

/* Cgroups to sample (--cgroup), with their descendants. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, SM_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

/* Per CPU, bumped as on_sample begins and ends: odd while it runs. After
 * flipping `window`, userspace waits for every CPU it sees odd to move on,
 * and then no sample is still being written into the closed set. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} running SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Process instance numbers; 0 is never handed out. */
__u32 next_inst = 0;

static __always_inline void count(enum counter c)
{
	__u32 k = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &k);

	/* Per-CPU slot: no other CPU writes it. */
	if (v)
		(*v)++;
}

static __always_inline bool emit(__u32 type, __u32 tgid, __u32 inst,
				 __u64 start_boottime)
{
	struct sm_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(CNT_EVENTS_LOST);
		return false;
	}
	e->type = type;
	e->tgid = tgid;
	e->inst = inst;
	e->pad = 0;
	e->start_boottime = start_boottime;
	bpf_ringbuf_submit(e, 0);
	return true;
}

/*
 * The instance number of the current process, announcing it to userspace
 * the first time it is seen. 0 when the process table is full.
 */
static __always_inline __u32 proc_instance(struct task_struct *task, __u32 tgid)
{
	struct proc_state *ps = bpf_map_lookup_elem(&procs, &tgid);
	struct proc_state fresh = {};

	if (ps && ps->announced)
		return ps->inst;
	if (!ps) {
		fresh.inst = __sync_fetch_and_add(&next_inst, 1) + 1;
		if (bpf_map_update_elem(&procs, &tgid, &fresh, BPF_NOEXIST)) {
			/* Another CPU won the race, or the table is full. */
			ps = bpf_map_lookup_elem(&procs, &tgid);
			if (!ps) {
				count(CNT_PROCS_FULL);
				return 0;
			}
			return ps->inst;
		}
		ps = bpf_map_lookup_elem(&procs, &tgid);
		if (!ps)
			return fresh.inst;
	}
	/* Retried on later samples if the ring buffer was full this time. */
	if (emit(SM_PROC_NEW, tgid, ps->inst,
		 BPF_CORE_READ(task, group_leader, start_boottime)))
		ps->announced = 1;
	return ps->inst;
}

/*
 * Store a stack under its hash `h` in `map` (`stacks` or `ustacks`, whose
 * values both begin { __u32 len; __u32 pad; __u64 ip[]; }), once. Returns
 * h, or 0 with lost_flag set and counted when it cannot be stored.
 */
static __always_inline __u64 store_stack(void *map, __u64 h, const void *st,
					 __u32 len, __u64 leaf,
					 __u32 *key_flags, __u32 lost_flag)
{
	struct stack_trace *old = bpf_map_lookup_elem(map, &h);
	long err;

	if (old) {
		/* A cheap check that the stored stack is this one; a full
		 * compare would cost more than the collision is likely. */
		if (old->len != len || old->ip[0] != leaf) {
			*key_flags |= lost_flag;
			count(CNT_STACK_COLLISION);
			return 0;
		}
		return h;
	}
	err = bpf_map_update_elem(map, &h, st, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		*key_flags |= lost_flag;
		count(CNT_STACKS_FULL);
		return 0;
	}
	return h;
}

static __always_inline __u64 record_stack(void *ctx, __u32 buf, __u64 flags,
					  __u32 *key_flags, __u32 trunc_flag,
					  __u32 err_flag, __u32 lost_flag,
					  enum counter trunc_cnt,
					  enum counter err_cnt)
{
	struct stack_trace *st;
	__u32 zero = 0, len;
	__u64 h = STACKHASH_SEED;
	long n;

	st = bpf_map_lookup_elem(&scratch, &zero);
	if (!st)
		return 0;
	n = bpf_get_stack(ctx, st->ip, sizeof(st->ip), flags);
	if (n < 0) {
		*key_flags |= err_flag;
		count(err_cnt);
		return 0;
	}
	len = (__u32)n / sizeof(__u64);
	if (len == 0)
		return 0;
	if (len >= MAX_STACK_DEPTH) {
		len = MAX_STACK_DEPTH;
		*key_flags |= trunc_flag;
		count(trunc_cnt);
	}
	st->len = len;
	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= len)
			break;
		h = stackhash_mix(h, st->ip[i]);
	}
	h = stackhash_finish(h, len);
	return store_stack(buf ? (void *)&stacks2 : (void *)&stacks, h, st, len,
			   st->ip[0], key_flags, lost_flag);
}


/*
 * The user stack walker. Each step finds the mapping of pc, the row of
 * its object's table that covers it, and from the row's rule the caller's
 * CFA, rbp and return address. Code without a table is stepped with frame
 * pointers. bpf_loop runs the steps, so the verifier checks one step and
 * the depth is not bounded by its instruction limit.
 */
enum walk_status {
	WALK_GOING = 0,
	WALK_DONE,        /* reached the outermost frame */
	WALK_UNSUPPORTED, /* a rule the walker cannot follow */
	WALK_FAILED,      /* unreadable memory or a frame that makes no sense */
	WALK_STALE,       /* a pc in no known mapping: the process mapped new
			     code since its tables were written */
};

struct walk {
	struct unw_proc *proc;
	struct ustack_trace *out;
	__u64 pc, sp, bp;
	__u64 hash;
	__u32 exact;  /* pc is not a return address (leaf, signal frame) */
	__u32 status;
	__u32 stop_stale; /* stop at WALK_STALE rather than use frame pointers */
	struct unw_mapping *last; /* the previous frame's mapping, or NULL */
};

/*
 * Both searches below are branch-free (a fixed number of steps, each
 * moving `base` by a multiply, not an if): the verifier checks one path
 * instead of one per outcome of every comparison.
 */

/* 1 when a <= b: no borrow out of b - a, for any two 64-bit values (the
 * vsyscall page's mapping starts above 2^63). */
static __always_inline __u64 le(__u64 a, __u64 b)
{
	return (((~b & a) | (~(b ^ a) & (b - a))) >> 63) ^ 1;
}

static __always_inline struct unw_mapping *find_mapping(struct unw_proc *p,
							 __u64 pc)
{
	__u32 n = p->nmaps, base = 0, half;
	struct unw_mapping *m;

	if (!n || n > UNW_MAX_MAPPINGS)
		return NULL;
	for (int i = 0; i < 8; i++) { /* log2(UNW_MAX_MAPPINGS) */
		half = n >> 1;
		base += (__u32)le(p->maps[(base + half) & (UNW_MAX_MAPPINGS - 1)].start,
				  pc) * half;
		n -= half;
	}
	m = &p->maps[base & (UNW_MAX_MAPPINGS - 1)];
	return m->start <= pc && pc < m->end ? m : NULL;
}

/* The rule of the last row at or before rel among `count` rows from
 * `first`; UNW_CFA_NONE when there is none. */
static __always_inline __u32 find_rule(__u32 first, __u32 count, __u32 rel)
{
	__u32 n = count, base = 0, half, idx;
	struct unw_row *r;

	for (int i = 0; i < 24; i++) { /* UNW_MAX_TABLE_ROWS */
		if (n <= 1)
			break; /* one way out: few states to check after it */
		half = n >> 1;
		idx = first + base + half;
		r = bpf_map_lookup_elem(&unw_rows, &idx);
		if (!r)
			return UNW_CFA_UNSUP;
		base += (__u32)le(r->pc, rel) * half;
		n -= half;
	}
	idx = first + base;
	r = bpf_map_lookup_elem(&unw_rows, &idx);
	if (!r)
		return UNW_CFA_UNSUP;
	return r->pc <= rel ? r->rule : UNW_CFA_NONE;
}

/* One frame-pointer step: [rbp] is the caller's rbp, [rbp + 8] the
 * return address. */
static __always_inline void fp_step(struct walk *w)
{
	__u64 pair[2];

	if (!w->bp) {
		w->status = WALK_DONE; /* the ABI's outermost frame */
		return;
	}
	if (w->bp < w->sp || bpf_probe_read_user(pair, sizeof(pair),
						 (void *)w->bp)) {
		w->status = WALK_FAILED;
		return;
	}
	w->sp = w->bp + 16;
	w->bp = pair[0];
	w->pc = pair[1];
	w->exact = 0;
}

static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct unw_mapping *m;
	__u64 cfa, lookup, pair[2];
	__u32 rule = UNW_CFA_NONE, n;
	__s32 off;

	if (!w->pc) {
		w->status = WALK_DONE;
		return 1;
	}
	n = w->out->len;
	if (n >= MAX_USTACK_DEPTH)
		return 1; /* still going: truncated */
	w->out->ip[n & (MAX_USTACK_DEPTH - 1)] = w->pc;
	w->out->len = n + 1;
	w->hash = stackhash_mix(w->hash, w->pc);

	/* A return address belongs to the call before it. */
	lookup = w->exact ? w->pc : w->pc - 1;
	/* Callers are often in the same object as their callee. */
	m = w->last;
	if (!m || lookup < m->start || lookup >= m->end)
		m = find_mapping(w->proc, lookup);
	w->last = m;
	if (!m && w->stop_stale && !(w->proc->flags & UNW_PROC_PARTIAL)) {
		w->status = WALK_STALE;
		return 1;
	}
	if (m && m->row_count && lookup - m->adj <= 0xffffffffull)
		rule = find_rule(m->row_first, m->row_count,
				 (__u32)(lookup - m->adj));

	switch (UNW_RULE_CFA(rule)) {
	case UNW_CFA_NONE:
		fp_step(w);
		return w->status != WALK_GOING;
	case UNW_CFA_END:
		w->status = WALK_DONE;
		return 1;
	case UNW_CFA_SIGNAL:
		/* rt_sigframe: the ucontext is at rsp; its mcontext holds
		 * rbp at 120, rsp at 160 and rip at 168 (kernel ABI). */
		if (bpf_probe_read_user(&w->bp, 8, (void *)(w->sp + 120)) ||
		    bpf_probe_read_user(pair, 16, (void *)(w->sp + 160))) {
			w->status = WALK_FAILED;
			return 1;
		}
		w->sp = pair[0];
		w->pc = pair[1];
		w->exact = 1;
		return 0;
	case UNW_CFA_RSP:
		cfa = w->sp + UNW_RULE_CFA_OFF(rule);
		break;
	case UNW_CFA_RBP:
		if (!w->bp) {
			w->status = WALK_FAILED;
			return 1;
		}
		cfa = w->bp + UNW_RULE_CFA_OFF(rule);
		break;
	case UNW_CFA_PLT:
		cfa = w->sp + 8 +
		      (((w->pc & 15) >= (__u64)UNW_RULE_CFA_OFF(rule)) ? 8 : 0);
		break;
	default:
		w->status = WALK_UNSUPPORTED;
		return 1;
	}
	/* Callers live above their callees. */
	if (cfa <= w->sp) {
		w->status = WALK_FAILED;
		return 1;
	}

	off = UNW_RULE_RBP_OFF(rule);
	if (UNW_RULE_RBP(rule) == UNW_RBP_CFA && off == -16) {
		/* The usual layout: saved rbp, then the return address. */
		if (bpf_probe_read_user(pair, 16, (void *)(cfa - 16))) {
			w->status = WALK_FAILED;
			return 1;
		}
		w->bp = pair[0];
		w->pc = pair[1];
	} else {
		if (bpf_probe_read_user(&w->pc, 8, (void *)(cfa - 8))) {
			w->status = WALK_FAILED;
			return 1;
		}
		if (UNW_RULE_RBP(rule) == UNW_RBP_CFA) {
			if (bpf_probe_read_user(&w->bp, 8, (void *)(cfa + off))) {
				w->status = WALK_FAILED;
				return 1;
			}
		} else if (UNW_RULE_RBP(rule) == UNW_RBP_LOST) {
			w->bp = 0;
		}
	}
	w->sp = cfa;
	w->exact = 0;
	return 0;
}

/*
 * Walk the user stack of the current task with its process's tables and
 * store it in `ustacks`. Returns the stack's key, 0 when not stored.
 */
static __always_inline __u64 walk_user_stack(struct bpf_perf_event_data *ctx,
					     __u32 buf, bool user_mode,
					     struct task_struct *task,
					     struct unw_proc *proc,
					     __u32 *key_flags, bool *stale)
{
	struct walk w = { .proc = proc, .hash = STACKHASH_SEED, .exact = 1,
			  .stop_stale = copy_stacks != 0 };
	struct pt_regs *regs;
	__u32 zero = 0, len;
	__u64 h;

	w.out = bpf_map_lookup_elem(&uscratch, &zero);
	if (!w.out)
		return 0;
	w.out->len = 0;
	/* The user registers: the sample's own if it interrupted user mode,
	 * else those the task saved on entering the kernel. */
	if (user_mode) {
		w.pc = ctx->regs.ip;
		w.sp = ctx->regs.sp;
		w.bp = ctx->regs.bp;
	} else {
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		if (!regs) {
			*key_flags |= SAMPLE_USTACK_ERROR;
			count(CNT_USTACK_ERR);
			return 0;
		}
		w.pc = BPF_CORE_READ(regs, ip);
		w.sp = BPF_CORE_READ(regs, sp);
		w.bp = BPF_CORE_READ(regs, bp);
	}
	bpf_loop(MAX_USTACK_DEPTH + 1, walk_step, &w, 0);
	if (w.status == WALK_STALE) {
		*stale = true;
		return 0;
	}

	len = w.out->len;
	if (!len)
		return 0;
	switch (w.status) {
	case WALK_DONE:
		break;
	case WALK_GOING: /* out of room */
		*key_flags |= SAMPLE_USTACK_TRUNCATED;
		count(CNT_USTACK_TRUNC);
		break;
	case WALK_UNSUPPORTED:
		*key_flags |= SAMPLE_USTACK_TRUNCATED;
		count(CNT_UNW_UNSUPPORTED);
		break;
	default:
		*key_flags |= SAMPLE_USTACK_TRUNCATED;
		count(CNT_UNW_FAILED);
		break;
	}
	h = store_stack(buf ? (void *)&ustacks2 : (void *)&ustacks,
			stackhash_finish(w.hash, len), w.out, len,
			w.out->ip[0], key_flags, SAMPLE_USTACK_LOST);
	if (h)
		*key_flags |= SAMPLE_USTACK_DWARF;
	return h;
}

/* The user registers, in DWARF order, from pt_regs. */
static __always_inline void dwarf_regs(__u64 *out, struct pt_regs *r)
{
	out[SM_REG_RAX] = r->ax;
	out[SM_REG_RDX] = r->dx;
	out[SM_REG_RCX] = r->cx;
	out[SM_REG_RBX] = r->bx;
	out[SM_REG_RSI] = r->si;
	out[SM_REG_RDI] = r->di;
	out[SM_REG_RBP] = r->bp;
	out[SM_REG_RSP] = r->sp;
	out[SM_REG_R8] = r->r8;
	out[SM_REG_R9] = r->r9;
	out[SM_REG_R10] = r->r10;
	out[SM_REG_R11] = r->r11;
	out[SM_REG_R12] = r->r12;
	out[SM_REG_R13] = r->r13;
	out[SM_REG_R14] = r->r14;
	out[SM_REG_R15] = r->r15;
	out[SM_REG_RIP] = r->ip;
}

/*
 * Copy the user stack from the page holding sp up, a page at a time (whole
 * pages keep the verifier's arithmetic simple), stopping at the first page
 * that cannot be read: the top of the stack. Returns the bytes copied.
 */
static __always_inline __u32 copy_user_stack(__u8 *dst, __u64 sp)
{
	__u64 base = sp & ~4095ull;
	__u32 pages = copy_bytes / 4096 + 1, n = 0;

	for (int i = 0; i < SM_COPY_MAX_BYTES / 4096 + 1; i++) {
		if (i >= pages)
			break;
		if (bpf_probe_read_user(dst + i * 4096, 4096,
					(void *)(base + i * 4096)))
			break;
		n += 4096;
	}
	return n;
}

/*
 * Send the sample to userspace with its user registers and stack. Returns
 * false when the ring buffer has no room (counted).
 */
static __always_inline bool send_copy(struct task_struct *task, __u32 buf,
				      const struct sample_key *key)
{
	struct sm_stack_copy *rec;
	struct pt_regs *regs;

	rec = bpf_ringbuf_reserve(&events, sizeof(*rec) + copy_bytes + 4096, 0);
	if (!rec) {
		count(CNT_COPIES_LOST);
		return false;
	}
	rec->type = SM_STACK_COPY;
	rec->window = buf;
	rec->pad = 0;
	rec->key = *key;
	/* The user registers the task saved on entering the kernel: for a
	 * tick that interrupted user mode, the interrupted state itself. */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs) {
		bpf_ringbuf_discard(rec, 0);
		return false;
	}
	dwarf_regs(rec->regs, regs);
	rec->size = copy_user_stack(rec->stack, rec->regs[SM_REG_RSP]);
	bpf_ringbuf_submit(rec, 0);
	count(CNT_COPIED);
	return true;
}

/* Whether the current task is one the filters (-p, --cgroup) let in. */
static __always_inline bool wanted(__u32 tgid)
{
	if (filter_targets && bpf_map_lookup_elem(&targets, &tgid))
		return true;
	for (__u32 i = 0; i < SM_MAX_CGROUPS; i++) {
		if (i >= ncgroups)
			break;
		if (bpf_current_task_under_cgroup(&cgroup_filter, i) == 1)
			return true;
	}
	return !filter_targets && !ncgroups;
}

/* Take one sample into map set `buf` (0: counts..., 1: counts2...). */
static __always_inline void take_sample(struct bpf_perf_event_data *ctx,
					__u32 buf)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, pid = (__u32)id;
	void *counts_map = buf ? (void *)&counts2 : (void *)&counts;
	struct task_struct *task;
	struct sample_key key;
	__u64 *c, one = 1;
	bool user_mode;
	long err;

	if (!wanted(tgid))
		return;
	count(CNT_SAMPLES);

	task = bpf_get_current_task_btf();
	__builtin_memset(&key, 0, sizeof(key));
	key.tgid = tgid;
	key.pid = pid;
	/* The cgroup (v2) and the names by direct loads through the task's
	 * BTF pointers: cheaper than the helpers (bpf_get_current_cgroup_id,
	 * bpf_get_current_comm, probe reads) on every sample. */
	key.cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	__builtin_memcpy(key.comm, task->comm, sizeof(key.comm));
	__builtin_memcpy(key.pcomm, task->group_leader->comm, sizeof(key.pcomm));

	/* A tick that interrupted user mode has no kernel stack: skip the
	 * helper call. The privilege level is in the low two bits of cs, read
	 * as the whole 8-byte slot (the verifier allows no narrower access). */
	user_mode = (*(volatile __u64 *)((void *)ctx +
			__builtin_offsetof(struct pt_regs, cs)) & 3) == 3;
	if (collect_kernel && !user_mode)
		key.kstack = record_stack(ctx, buf, 0, &key.flags,
					  SAMPLE_KSTACK_TRUNCATED,
					  SAMPLE_KSTACK_ERROR, SAMPLE_KSTACK_LOST,
					  CNT_KSTACK_TRUNC,
					  CNT_KSTACK_ERR);
	/* Kernel threads and the idle task have no user half, nor has a
	 * task inside execve: its saved registers are the old program's,
	 * its memory may be the new one's already. */
	if (collect_user && tgid && task->mm &&
	    (user_mode || !BPF_CORE_READ_BITFIELD_PROBED(task, in_execve))) {
		struct task_struct *owner = task->mm->owner, *itask = task;
		__u32 utgid = tgid;
		struct unw_proc *up;

		/* A vfork child runs in its parent's address space until it
		 * execs: its user stack is resolved with the parent's
		 * mappings (its own, read later, are the next program's). */
		if (owner && owner->tgid != tgid) {
			utgid = owner->tgid;
			itask = owner;
		}
		key.inst = proc_instance(itask, utgid);
		if (dwarf_unwind) {
			up = bpf_map_lookup_elem(&unw_procs, &utgid);
			/* Tables written for an earlier image are not used. */
			if (up && up->inst == key.inst && key.inst) {
				bool stale = false;

				key.ustack = walk_user_stack(ctx, buf, user_mode,
							     task, up,
							     &key.flags, &stale);
				if (!stale) {
					count(CNT_UNW_WALKED);
					goto counted;
				}
				/* Userspace learns of the new code soon, and
				 * unwinds this sample then. */
				count(CNT_UNW_STALE);
			}
		}
		/* Unwound in userspace: the sample is counted there. A copy
		 * needs the process's mappings, hence an announced instance. */
		if (copy_stacks && key.inst && tgid != self_tgid &&
		    send_copy(task, buf, &key))
			return;
		if (dwarf_unwind)
			count(CNT_UNW_NO_TABLES);
		key.ustack = record_stack(ctx, buf, BPF_F_USER_STACK, &key.flags,
					  SAMPLE_USTACK_TRUNCATED,
					  SAMPLE_USTACK_ERROR, SAMPLE_USTACK_LOST,
					  CNT_USTACK_TRUNC,
					  CNT_USTACK_ERR);
	}
counted:
	c = bpf_map_lookup_elem(counts_map, &key);
	if (!c) {
		err = bpf_map_update_elem(counts_map, &key, &one, BPF_NOEXIST);
		if (!err) {
			count(CNT_RECORDED);
			return;
		}
		if (err != -EEXIST) {
			count(CNT_COUNTS_FULL);
			return;
		}
		c = bpf_map_lookup_elem(counts_map, &key);
		if (!c) {
			count(CNT_COUNTS_FULL);
			return;
		}
	}
	__sync_fetch_and_add(c, 1);
	count(CNT_RECORDED);
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&running, &zero);

	if (!seq)
		return 0;
	/* A locked add: a full barrier between marking this CPU busy and
	 * reading `window` (userspace writes window, then reads `running`). */
	__sync_fetch_and_add(seq, 1);
	take_sample(ctx, *(volatile __u32 *)&window & 1);
	__sync_fetch_and_add(seq, 1);
	return 0;
}

/* A process image ends at exec: the next sample starts a new instance. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct proc_state *ps = bpf_map_lookup_elem(&procs, &tgid);
	__u32 inst;

	if (dwarf_unwind)
		bpf_map_delete_elem(&unw_procs, &tgid);
	if (ps) {
		inst = ps->inst;
		bpf_map_delete_elem(&procs, &tgid);
		emit(SM_PROC_EXEC, tgid, inst, 0);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct proc_state *ps;
	__u32 inst;

	/* Only the last thread of the group ends the process. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (filter_targets)
		bpf_map_delete_elem(&targets, &tgid); /* its pid may be reused */
	if (dwarf_unwind)
		bpf_map_delete_elem(&unw_procs, &tgid);
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (!ps)
		return 0;
	inst = ps->inst;
	bpf_map_delete_elem(&procs, &tgid);
	emit(SM_PROC_EXIT, tgid, inst, 0);
	return 0;
}

/*
 * New executable code in a process already announced (dlopen): tell
 * userspace once the mmap has succeeded, so it reads the mappings again
 * while the process lives. Syscall tracepoints fire for mmap only, so this
 * costs nothing to the rest of the system.
 */
SEC("tracepoint/syscalls/sys_enter_mmap")
int on_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct proc_state *ps;

	if (!(ctx->args[2] & PROT_EXEC))
		return 0;
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (!ps || !ps->announced)
		return 0; /* its mappings are read when it is first sampled */
	bpf_map_update_elem(&mmap_pending, &tid, &ps->inst, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int on_mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, inst, *pending;

	pending = bpf_map_lookup_elem(&mmap_pending, &tid);
	if (!pending)
		return 0;
	inst = *pending;
	bpf_map_delete_elem(&mmap_pending, &tid);
	if (ctx->ret < 0 && ctx->ret > -4096)
		return 0; /* the mmap failed */
	emit(SM_PROC_MMAP, id >> 32, inst, 0);
	return 0;
}

/* With follow_children: a new process forked by a target is a target. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (!follow_children || ptgid == ctgid)
		return 0;
	if (!bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	if (bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY))
		count(CNT_TARGETS_FULL);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
