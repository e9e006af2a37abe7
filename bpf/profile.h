/* SPDX-License-Identifier: MIT */
/*
 * Record layouts shared by bpf/profile.bpf.c and its loader
 * (profiler/sampler.c). Only fixed-size __u32/__u64 types: the two sides
 * are compiled by different compilers for different targets.
 */
#ifndef SMOLDER_BPF_PROFILE_H
#define SMOLDER_BPF_PROFILE_H

/* The kernel caps every callchain at kernel.perf_event_max_stack frames
 * (127 by default); a stack that fills the buffer is counted truncated. */
#define MAX_STACK_DEPTH 127
#define SM_COMM_LEN 16

/* Value of the `stacks` map, keyed by the stack's 64-bit hash. */
struct stack_trace {
	__u32 len; /* frames in ip[] */
	__u32 pad;
	__u64 ip[MAX_STACK_DEPTH];
};

/* sample_key.flags */
#define SAMPLE_KSTACK_TRUNCATED (1u << 0)
#define SAMPLE_USTACK_TRUNCATED (1u << 1)
#define SAMPLE_KSTACK_ERROR (1u << 2) /* wanted, but the kernel had none */
#define SAMPLE_USTACK_ERROR (1u << 3)
#define SAMPLE_KSTACK_LOST (1u << 4)  /* taken, but not stored (map full) */
#define SAMPLE_USTACK_LOST (1u << 5)

/*
 * Key of the `counts` map: one entry per distinct (thread, stacks) pair,
 * its value a __u64 sample count. `inst` names one process image: it
 * changes when the process execs, so samples before and after an exec are
 * resolved against the right mappings.
 */
struct sample_key {
	__u32 tgid;
	__u32 pid;
	__u32 inst;  /* process instance (see struct sm_proc_event); 0: none */
	__u32 flags; /* SAMPLE_* */
	__u64 kstack; /* hash key into `stacks`; 0: no kernel stack */
	__u64 ustack; /* hash key into `stacks`; 0: no user stack */
	__u64 cgroup_id;
	char comm[SM_COMM_LEN];  /* thread name */
	char pcomm[SM_COMM_LEN]; /* process (group leader) name */
};

/* Indexes of the per-CPU `counters` array. */
enum counter {
	CNT_SAMPLES,        /* program runs, before filtering */
	CNT_RECORDED,       /* samples counted in `counts` */
	CNT_COUNTS_FULL,    /* dropped: `counts` map full */
	CNT_STACKS_FULL,    /* stack lost: `stacks` map full */
	CNT_STACK_COLLISION,/* stack lost: two stacks with one hash */
	CNT_KSTACK_TRUNC,   /* kernel stack deeper than MAX_STACK_DEPTH */
	CNT_USTACK_TRUNC,   /* user stack deeper than MAX_STACK_DEPTH */
	CNT_KSTACK_ERR,     /* kernel stack could not be read */
	CNT_USTACK_ERR,     /* user stack could not be read */
	CNT_EVENTS_LOST,    /* process events the ring buffer could not take */
	CNT_PROCS_FULL,     /* `procs` map full: process not tracked */
	CNT_TARGETS_FULL,   /* `targets` map full: a child not followed */
	CNT__MAX,
};

/* Ring buffer records: a process instance begins or ends. */
enum sm_proc_event_type {
	SM_PROC_NEW = 1,  /* first sample of an instance: read its maps now */
	SM_PROC_EXEC = 2, /* the instance exec'd: it ends, a new one begins */
	SM_PROC_EXIT = 3, /* the instance's last thread exited */
	SM_PROC_MMAP = 4, /* the instance mapped new executable code */
};

struct sm_proc_event {
	__u32 type;
	__u32 tgid;
	__u32 inst;
	__u32 pad;
	__u64 start_boottime; /* group leader's start, ns, CLOCK_BOOTTIME */
};

/* Value of the `procs` map, keyed by tgid. */
struct proc_state {
	__u32 inst;
	__u32 announced; /* a SM_PROC_NEW reached the ring buffer */
};


/* ---- DWARF unwinding (--unwind=dwarf) ----
 *
 * Userspace turns each object's CFI (.eh_frame, .debug_frame) into sorted
 * rows, one per pc range with one rule, and loads them into `unw_rows`; a
 * process's executable mappings point at their object's rows. The BPF
 * walker finds the row of each pc and steps to the caller.
 */
#define MAX_USTACK_DEPTH 256

/* How to find the caller's CFA (canonical frame address: the caller's rsp
 * after the call returns; its return address is at CFA - 8). */
enum unw_cfa {
	UNW_CFA_NONE = 0,   /* no CFI covers the pc: use frame pointers */
	UNW_CFA_RSP = 1,    /* rsp + cfa_off */
	UNW_CFA_RBP = 2,    /* rbp + cfa_off */
	UNW_CFA_PLT = 3,    /* a PLT entry: rsp + 8, + 8 more when
			       (pc & 15) >= cfa_off (the standard expression) */
	UNW_CFA_SIGNAL = 4, /* a signal trampoline (__restore_rt): the
			       interrupted registers are in the ucontext at rsp */
	UNW_CFA_END = 5,    /* the return address is undefined: the outermost
			       frame (_start, a thread's clone) */
	UNW_CFA_UNSUP = 6,  /* a rule the walker cannot follow: it stops */
};

/* Where the caller's rbp is. */
enum unw_rbp {
	UNW_RBP_SAME = 0,  /* unchanged */
	UNW_RBP_CFA = 1,   /* saved at CFA + rbp_off */
	UNW_RBP_LOST = 2,  /* not recoverable by the walker */
};

/*
 * One row: from `pc` (relative to the table's base) up to the next row's
 * pc, `rule` says how to unwind: bits 0-2 enum unw_cfa, bits 3-4 enum
 * unw_rbp, bits 5-12 rbp_off / 8 (signed), bits 13-31 cfa_off (signed).
 */
struct unw_row {
	__u32 pc;
	__u32 rule;
};

#define UNW_RBP_OFF_MIN (-128 * 8)
#define UNW_RBP_OFF_MAX (127 * 8)
#define UNW_CFA_OFF_MIN (-(1 << 18))
#define UNW_CFA_OFF_MAX ((1 << 18) - 1)

#define UNW_RULE(cfa, cfa_off, rbp, rbp_off)                          \
	((__u32)(cfa) | ((__u32)(rbp) << 3) |                          \
	 (((__u32)((rbp_off) / 8) & 0xff) << 5) |                      \
	 ((__u32)(cfa_off) << 13))
#define UNW_RULE_CFA(r) ((r) & 7)
#define UNW_RULE_RBP(r) (((r) >> 3) & 3)
#define UNW_RULE_RBP_OFF(r) ((__s32)((__s8)(((r) >> 5) & 0xff)) * 8)
#define UNW_RULE_CFA_OFF(r) ((__s32)(r) >> 13)

#endif
