/* SPDX-License-Identifier: MIT */
#include "stackcopy.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include "../bpf/stackhash.h"
#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"

/* A copy waiting for its instance's mappings. */
struct pending {
	struct sm_stack_copy *rec; /* malloc'd, rec->size bytes of stack */
};

/* libdw's view of one process instance: its objects as modules. */
struct cinst {
	uint32_t inst;
	Dwfl *dwfl;      /* NULL until first needed, or when it failed */
	bool failed;
	bool ended;      /* its Dwfl goes once no copy of it waits */
	uint32_t pending; /* its copies waiting in the queue */
};

/* One aggregated sample. */
struct agg {
	struct sample_key key;
	uint64_t count;
	uint32_t len;
	__u64 *ip;
};

struct stackcopy {
	struct proctrack *procs;
	char *self_exe; /* our own executable */
	struct pending *queue; /* a FIFO: [head, nqueue) */
	size_t head, nqueue, queue_alloc;

	struct cinst *insts;
	size_t ninsts, insts_alloc;
	struct hmap inst_idx;

	/* Unwound samples, per map set (window) they belong to. */
	struct aggset {
		struct agg *aggs;
		size_t n, alloc;
		struct hmap idx;
	} sets[2];

	/* The copy being unwound, for libdw's callbacks. */
	const struct sm_stack_copy *cur;
	size_t cur_size;
	__u64 ip[MAX_USTACK_DEPTH];
	uint32_t nip;
	bool last_exact; /* the last frame's pc is not a return address */
	bool last_rbp0;  /* the last frame's rbp is known to be 0 */

	struct stackcopy_stats st;
};

static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_callbacks = {
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

struct stackcopy *stackcopy_new(struct proctrack *procs)
{
	struct stackcopy *c = xcalloc(1, sizeof(*c));
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		c->self_exe = xstrdup(self);
	}
	c->procs = procs;
	return c;
}

void stackcopy_free(struct stackcopy *c)
{
	if (!c)
		return;
	free(c->self_exe);
	for (size_t i = c->head; i < c->nqueue; i++)
		free(c->queue[i].rec);
	free(c->queue);
	for (size_t i = 0; i < c->ninsts; i++)
		if (c->insts[i].dwfl)
			dwfl_end(c->insts[i].dwfl);
	free(c->insts);
	hmap_release(&c->inst_idx);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < c->sets[k].n; i++)
			free(c->sets[k].aggs[i].ip);
		free(c->sets[k].aggs);
		hmap_release(&c->sets[k].idx);
	}
	free(c);
}

static struct cinst *find_inst(struct stackcopy *c, uint32_t inst, bool make);

void stackcopy_queue(struct stackcopy *c, const struct sm_stack_copy *rec,
		     size_t size)
{
	struct pending *p;

	if (size < sizeof(*rec))
		return;
	/* What BPF says was copied, within what arrived. */
	if (rec->size < size - sizeof(*rec))
		size = sizeof(*rec) + rec->size;
	ALLOC_GROW(c->queue, c->nqueue + 1, c->queue_alloc);
	p = &c->queue[c->nqueue++];
	p->rec = xmalloc(size);
	memcpy(p->rec, rec, size);
	p->rec->size = (__u32)(size - sizeof(*rec));
	find_inst(c, rec->key.inst, true)->pending++;
	c->st.samples++;
	c->st.bytes += p->rec->size;
}

static struct cinst *find_inst(struct stackcopy *c, uint32_t inst, bool make)
{
	size_t pos;

	for (uint32_t i = hmap_first(&c->inst_idx, inst, &pos); i != HMAP_NONE;
	     i = hmap_next(&c->inst_idx, inst, &pos))
		if (c->insts[i].inst == inst)
			return &c->insts[i];
	if (!make)
		return NULL;
	ALLOC_GROW(c->insts, c->ninsts + 1, c->insts_alloc);
	c->insts[c->ninsts] = (struct cinst){ .inst = inst };
	hmap_insert(&c->inst_idx, inst, (uint32_t)c->ninsts);
	return &c->insts[c->ninsts++];
}

/* ---- libdw's thread callbacks: one thread, the copy's ---- */

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct stackcopy *c = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = c;
	return (pid_t)c->cur->key.pid;
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct stackcopy *c = arg;

	(void)dwfl;
	*thread_argp = c;
	return tid == (pid_t)c->cur->key.pid;
}

/* Memory reads are served from the copy only: the stack is all the CFI of
 * a user frame refers to. */
static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			   void *arg)
{
	struct stackcopy *c = arg;
	uint64_t base = c->cur->regs[SM_REG_RSP] & ~4095ull;

	(void)dwfl;
	if (addr < base || addr - base + sizeof(*result) > c->cur->size)
		return false;
	memcpy(result, c->cur->stack + (addr - base), sizeof(*result));
	return true;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct stackcopy *c = arg;
	Dwarf_Word regs[SM_NREGS];

	for (int i = 0; i < SM_NREGS; i++)
		regs[i] = c->cur->regs[i];
	return dwfl_thread_state_registers(thread, 0, SM_NREGS, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

static int cb_frame(Dwfl_Frame *state, void *arg)
{
	struct stackcopy *c = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	if (c->nip == MAX_USTACK_DEPTH)
		return DWARF_CB_ABORT;
	Dwarf_Word rbp;

	c->ip[c->nip++] = pc;
	c->last_exact = activation;
	c->last_rbp0 = dwfl_frame_reg(state, SM_REG_RBP, &rbp) == 0 && !rbp;
	return DWARF_CB_OK;
}

/*
 * Whether the frame at `pc` is the outermost one: its CFI says the return
 * address is undefined (_start, a thread's start), or, where there is no
 * CFI, rbp is 0 as the ABI leaves it there (the dynamic linker's _start).
 * libdw ends such walks with an error rather than success.
 */
static bool is_outermost(Dwfl *dwfl, Dwarf_Addr pc, bool rbp0)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Addr bias;
	Dwarf_CFI *cfi;
	Dwarf_Frame *fr = NULL;
	Dwarf_Op mem[3], *ops;
	size_t n;
	bool end = false;

	if (!mod)
		return false;
	cfi = dwfl_module_eh_cfi(mod, &bias);
	if (!cfi)
		cfi = dwfl_module_dwarf_cfi(mod, &bias);
	if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &fr))
		return rbp0;
	if (!dwarf_frame_register(fr, SM_REG_RIP, mem, &ops, &n))
		end = n == 0 && ops == mem;
	free(fr);
	return end;
}

/* A Dwfl holding every object the instance maps, placed where it is. */
static Dwfl *make_dwfl(struct stackcopy *c, struct sym_proc *sp)
{
	Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);
	unsigned n = sym_proc_nmappings(sp);
	unsigned reported = 0;

	if (!dwfl)
		return NULL;
	dwfl_report_begin(dwfl);
	for (unsigned i = 0; i < n; i++) {
		const struct sym_mapping *m = sym_proc_mapping(sp, i);
		struct sym_unwind ui;
		int fd;

		if (sym_proc_unwind(sp, i, &ui))
			continue;
		fd = sym_proc_open_object(sp, i);
		if (fd < 0)
			continue;
		/* ui.bias places the ELF's virtual addresses; libdw takes it
		 * as a base added to p_vaddr (ignored for ET_EXEC). It owns
		 * fd from here. */
		if (dwfl_report_elf(dwfl, m->path, m->path, fd, ui.bias, true)) {
			reported++;
			log_debug("libdw: '%s' at %#llx-%#llx, bias %#llx",
				  m->path, (unsigned long long)m->start,
				  (unsigned long long)m->end,
				  (unsigned long long)ui.bias);
		}
		else
			log_debug("libdw cannot use '%s': %s", m->path,
				  dwfl_errmsg(-1));
	}
	if (dwfl_report_end(dwfl, NULL, NULL) || !reported ||
	    !dwfl_attach_state(dwfl, NULL, (pid_t)sym_proc_pid(sp),
			       &thread_callbacks, c)) {
		log_debug("cannot set up unwinding of process %d: %s",
			  sym_proc_pid(sp), dwfl_errmsg(-1));
		dwfl_end(dwfl);
		return NULL;
	}
	return dwfl;
}

static void add_agg(struct stackcopy *c, unsigned set,
		    const struct sample_key *key)
{
	struct aggset *as = &c->sets[set & 1];
	uint64_t h = hash_bytes(key, sizeof(*key));
	struct agg *a;
	size_t pos;

	for (uint32_t i = hmap_first(&as->idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&as->idx, h, &pos)) {
		a = &as->aggs[i];
		if (!memcmp(&a->key, key, sizeof(*key)) && a->len == c->nip &&
		    !memcmp(a->ip, c->ip, c->nip * sizeof(*c->ip))) {
			a->count++;
			return;
		}
	}
	ALLOC_GROW(as->aggs, as->n + 1, as->alloc);
	a = &as->aggs[as->n];
	a->key = *key;
	a->count = 1;
	a->len = c->nip;
	a->ip = xmalloc((c->nip ? c->nip : 1) * sizeof(*c->ip));
	memcpy(a->ip, c->ip, c->nip * sizeof(*c->ip));
	hmap_insert(&as->idx, h, (uint32_t)as->n++);
}

static bool is_self(struct stackcopy *c, uint32_t inst)
{
	const char *exe = proctrack_exe(c->procs, inst);

	return exe && c->self_exe && !strcmp(exe, c->self_exe);
}

/* An ended instance with no copy left: nothing more comes for it. */
static void release_dwfl(struct cinst *ci)
{
	if (ci->dwfl)
		dwfl_end(ci->dwfl);
	ci->dwfl = NULL;
	ci->failed = true;
}

static void unwind_one(struct stackcopy *c, const struct pending *p)
{
	struct sample_key key = p->rec->key;
	struct sym_proc *sp = proctrack_lookup(c->procs, key.inst);
	struct cinst *ci = find_inst(c, key.inst, true);
	uint64_t h = STACKHASH_SEED;
	int r = -1;

	if (ci->pending)
		ci->pending--;
	c->cur = p->rec;
	c->nip = 0;
	if (!sp) {
		c->st.no_process++;
	} else if (is_self(c, key.inst)) {
		/* Our own image: a `record -- CMD` child before its exec.
		 * Setting up libdw for all our libraries would hold up the
		 * command's own copies; its pc is enough. */
		ci->failed = true;
	} else {
		if (!ci->dwfl && !ci->failed) {
			ci->dwfl = make_dwfl(c, sp);
			ci->failed = !ci->dwfl;
		}
		if (ci->dwfl)
			r = dwfl_getthread_frames(ci->dwfl, (pid_t)key.pid,
						  cb_frame, c);
	}
	if (!c->nip) /* at least the pc, so the sample shows where it was */
		c->ip[c->nip++] = p->rec->regs[SM_REG_RIP];
	if (r == 0 || (r < 0 && c->nip && ci->dwfl &&
			is_outermost(ci->dwfl, c->ip[c->nip - 1] -
					       (c->last_exact ? 0 : 1),
				     c->last_rbp0))) {
		c->st.complete++;
	} else {
		log_debug("unwinding a copy of process %u stopped after %u"
			  " frames: %s", key.tgid, c->nip,
			  r < 0 ? dwfl_errmsg(-1) : "too deep");
		c->st.cut++;
		key.flags |= SAMPLE_USTACK_TRUNCATED;
	}
	for (uint32_t i = 0; i < c->nip; i++)
		h = stackhash_mix(h, c->ip[i]);
	key.ustack = stackhash_finish(h, c->nip);
	add_agg(c, p->rec->window, &key);
	c->cur = NULL;
	if (ci->ended && !ci->pending)
		release_dwfl(ci);
}

bool stackcopy_process(struct stackcopy *c, uint64_t budget_ns)
{
	uint64_t t0;

	if (c->head == c->nqueue)
		return false;
	t0 = clock_ns(CLOCK_MONOTONIC);
	while (c->head < c->nqueue) {
		struct pending *p = &c->queue[c->head++];

		unwind_one(c, p);
		free(p->rec);
		p->rec = NULL;
		/* A queue too long to wait is worked off whatever it costs. */
		if (budget_ns &&
		    clock_ns(CLOCK_MONOTONIC) - t0 >= budget_ns &&
		    c->nqueue - c->head <= STACKCOPY_MAX_PENDING)
			break;
	}
	c->st.unwind_ns += clock_ns(CLOCK_MONOTONIC) - t0;
	if (c->head < c->nqueue)
		return true;
	c->head = c->nqueue = 0;
	return false;
}

void stackcopy_gc(struct stackcopy *c)
{
	size_t kept = 0;

	for (size_t i = 0; i < c->ninsts; i++) {
		struct cinst *ci = &c->insts[i];

		if (ci->ended && !ci->pending && !ci->dwfl)
			continue;
		c->insts[kept++] = *ci;
	}
	if (kept == c->ninsts)
		return;
	c->ninsts = kept;
	hmap_release(&c->inst_idx);
	hmap_init(&c->inst_idx);
	for (size_t i = 0; i < c->ninsts; i++)
		hmap_insert(&c->inst_idx, c->insts[i].inst, (uint32_t)i);
}

bool stackcopy_pending(const struct stackcopy *c, unsigned set)
{
	/* Copies arrive in time order, so a set's are a prefix of the
	 * queue once sampling has moved on to the other set. */
	for (size_t i = c->head; i < c->nqueue; i++)
		if (c->queue[i].rec->window == set)
			return true;
	return false;
}

void stackcopy_remap(struct stackcopy *c, uint32_t inst)
{
	struct cinst *ci = find_inst(c, inst, false);

	if (!ci || !ci->dwfl)
		return;
	dwfl_end(ci->dwfl);
	ci->dwfl = NULL;
}

void stackcopy_forget(struct stackcopy *c, uint32_t inst)
{
	/* Made if missing: copies of it may still be waiting, and whatever
	 * Dwfl they make must go once they are unwound. */
	struct cinst *ci = find_inst(c, inst, true);

	if (ci->ended)
		return;
	ci->ended = true;
	if (!ci->pending)
		release_dwfl(ci);
}

void stackcopy_take(struct stackcopy *c, unsigned set, stackcopy_fn fn,
		    void *ctx)
{
	struct aggset *as = &c->sets[set & 1];

	for (size_t i = 0; i < as->n; i++) {
		fn(&as->aggs[i].key, as->aggs[i].count, as->aggs[i].ip,
		   as->aggs[i].len, ctx);
		free(as->aggs[i].ip);
	}
	as->n = 0;
	hmap_release(&as->idx);
	hmap_init(&as->idx);
}

void stackcopy_stats(const struct stackcopy *c, struct stackcopy_stats *out)
{
	*out = c->st;
}
