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

/* Sizes are defaults; the loader may change them before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct sample_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} scratch SEC(".maps");

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

static __always_inline __u64 record_stack(void *ctx, __u64 flags,
					  __u32 *key_flags, __u32 trunc_flag,
					  __u32 err_flag, __u32 lost_flag,
					  enum counter trunc_cnt,
					  enum counter err_cnt)
{
	struct stack_trace *st, *old;
	__u32 zero = 0, len;
	__u64 h = STACKHASH_SEED;
	long n, err;

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

	old = bpf_map_lookup_elem(&stacks, &h);
	if (old) {
		/* A cheap check that the stored stack is this one; a full
		 * compare would cost more than the collision is likely. */
		if (old->len != len || old->ip[0] != st->ip[0]) {
			*key_flags |= lost_flag;
			count(CNT_STACK_COLLISION);
			return 0;
		}
		return h;
	}
	err = bpf_map_update_elem(&stacks, &h, st, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		*key_flags |= lost_flag;
		count(CNT_STACKS_FULL);
		return 0;
	}
	return h;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, pid = (__u32)id;
	struct task_struct *task;
	struct sample_key key;
	__u64 *c, one = 1;
	long err;

	count(CNT_SAMPLES);
	if (filter_targets && !bpf_map_lookup_elem(&targets, &tgid))
		return 0;

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
	if (collect_kernel && (*(volatile __u64 *)((void *)ctx +
			__builtin_offsetof(struct pt_regs, cs)) & 3) != 3)
		key.kstack = record_stack(ctx, 0, &key.flags,
					  SAMPLE_KSTACK_TRUNCATED,
					  SAMPLE_KSTACK_ERROR, SAMPLE_KSTACK_LOST,
					  CNT_KSTACK_TRUNC,
					  CNT_KSTACK_ERR);
	/* Kernel threads and the idle task have no user half. */
	if (collect_user && tgid && task->mm) {
		key.inst = proc_instance(task, tgid);
		key.ustack = record_stack(ctx, BPF_F_USER_STACK, &key.flags,
					  SAMPLE_USTACK_TRUNCATED,
					  SAMPLE_USTACK_ERROR, SAMPLE_USTACK_LOST,
					  CNT_USTACK_TRUNC,
					  CNT_USTACK_ERR);
	}

	c = bpf_map_lookup_elem(&counts, &key);
	if (!c) {
		err = bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		if (!err) {
			count(CNT_RECORDED);
			return 0;
		}
		if (err != -EEXIST) {
			count(CNT_COUNTS_FULL);
			return 0;
		}
		c = bpf_map_lookup_elem(&counts, &key);
		if (!c) {
			count(CNT_COUNTS_FULL);
			return 0;
		}
	}
	__sync_fetch_and_add(c, 1);
	count(CNT_RECORDED);
	return 0;
}

/* A process image ends at exec: the next sample starts a new instance. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct proc_state *ps = bpf_map_lookup_elem(&procs, &tgid);
	__u32 inst;

	if (!ps)
		return 0;
	inst = ps->inst;
	bpf_map_delete_elem(&procs, &tgid);
	emit(SM_PROC_EXEC, tgid, inst, 0);
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
