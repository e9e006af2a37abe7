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
/* Cgroups one session may filter on (--cgroup). */
#define SM_MAX_CGROUPS 16

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
#define SAMPLE_USTACK_DWARF (1u << 6) /* ustack is a key of `ustacks` */

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
	CNT_SAMPLES,        /* samples of the processes sampled (after -p's
			       filter): each is counted, copied or dropped */
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
	CNT_UNW_NO_TABLES,  /* --unwind=dwarf: process without tables yet,
			       walked with frame pointers */
	CNT_UNW_UNSUPPORTED,/* walk stopped at a rule it cannot follow */
	CNT_UNW_FAILED,     /* walk stopped: unreadable stack, bad frame */
	CNT_UNW_STALE,      /* walks that met code mapped since the tables
			       were written (the sample was copied) */
	CNT_UNW_WALKED,     /* user stacks walked with the tables */
	CNT_COPIED,         /* samples sent with a copy of their user stack */
	CNT_COPIES_LOST,    /* stack copies the ring buffer could not take */
	CNT__MAX,
};

/* Ring buffer records: a process instance begins or ends. */
enum sm_proc_event_type {
	SM_PROC_NEW = 1,  /* first sample of an instance: read its maps now */
	SM_PROC_EXEC = 2, /* the instance exec'd: it ends, a new one begins */
	SM_PROC_EXIT = 3, /* the instance's last thread exited */
	SM_PROC_MMAP = 4, /* the instance mapped new executable code */
	SM_STACK_COPY = 5, /* a sample whose user stack userspace unwinds
			      (struct sm_stack_copy) */
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

/* The walker's binary search takes 24 steps: rows per table, at most. */
#define UNW_MAX_TABLE_ROWS (1u << 24)

/* One executable mapping of a process, for the walker. */
struct unw_mapping {
	__u64 start, end; /* [start, end) */
	__u64 adj;        /* row pc = pc - adj (load bias + table base) */
	__u32 row_first;  /* its object's rows in `unw_rows` */
	__u32 row_count;  /* 0: no table: frame pointers */
};

#define UNW_MAX_MAPPINGS 256

/* unw_proc.flags */
#define UNW_PROC_PARTIAL 1u /* more mappings than fit: a pc in none of them
			       is walked with frame pointers, not copied */

/* Value of `unw_procs`, keyed by tgid. */
struct unw_proc {
	__u32 inst;  /* the process instance these mappings belong to */
	__u16 nmaps;
	__u16 flags; /* UNW_PROC_* */
	struct unw_mapping maps[UNW_MAX_MAPPINGS]; /* sorted by start */
};

/* DWARF register numbers of x86-64, the order of sm_stack_copy.regs. */
enum sm_dwarf_reg {
	SM_REG_RAX, SM_REG_RDX, SM_REG_RCX, SM_REG_RBX, SM_REG_RSI, SM_REG_RDI,
	SM_REG_RBP, SM_REG_RSP, SM_REG_R8, SM_REG_R9, SM_REG_R10, SM_REG_R11,
	SM_REG_R12, SM_REG_R13, SM_REG_R14, SM_REG_R15, SM_REG_RIP,
	SM_NREGS,
};

/*
 * A sample sent whole to userspace, which unwinds its user stack from the
 * registers and a copy of the stack (--unwind=copy, or a process whose
 * tables are not loaded yet). The key is complete but for ustack.
 */
struct sm_stack_copy {
	__u32 type;  /* SM_STACK_COPY */
	__u32 size;  /* bytes of stack[] filled */
	__u32 window; /* the map set (0, 1) the sample belongs to */
	__u32 pad;
	struct sample_key key;
	__u64 regs[SM_NREGS];
	/* From the start of the page holding rsp (rsp & ~4095) up, whole
	 * pages: room for copy_bytes + 4096 bytes. */
	__u8 stack[];
};

#define SM_COPY_MAX_BYTES 65536

/* Value of `ustacks`: user stacks the walker produced. */
struct ustack_trace {
	__u32 len;
	__u32 pad;
	__u64 ip[MAX_USTACK_DEPTH];
};

#endif
