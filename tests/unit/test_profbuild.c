/* SPDX-License-Identifier: MIT */
/*
 * Drained samples to the profile model: names, kinds, labels, values and
 * the marker frames, with a synthetic kallsyms (a module included) and this
 * test process's own mappings.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../formats/folded.h"
#include "../../profiler/profbuild.h"
#include "../../profiler/proctrack.h"
#include "harness.h"

#define PERIOD 10101010ull

static const char kallsyms[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81001000 T vfs_write\n"
	"ffffffff81002000 T ksys_write\n"
	"ffffffffc0001000 t nft_do_chain\t[nf_tables]\n";

__attribute__((noinline)) int user_leaf(int x)
{
	return x * 7 + 1;
}

__attribute__((noinline)) int user_caller(int x)
{
	return user_leaf(x) + 1;
}

struct fixture {
	char kpath[64];
	struct symbolizer *sym;
	struct proctrack *procs;
	struct profbuild *b;
};

static void setup(struct fixture *fx)
{
	FILE *f;
	int fd;

	snprintf(fx->kpath, sizeof(fx->kpath), "/tmp/smolder-kallsyms.XXXXXX");
	fd = mkstemp(fx->kpath);
	f = fdopen(fd, "w");
	fputs(kallsyms, f);
	fclose(f);
	fx->sym = symbolizer_new(&(struct sym_opts){ .kallsyms_path = fx->kpath });
	fx->procs = proctrack_new(fx->sym);
	fx->b = profbuild_new(fx->sym, fx->procs, PERIOD);

	/* Announce this very process as instance 1. */
	struct sm_proc_event e = { .type = SM_PROC_NEW, .tgid = (__u32)getpid(),
				   .inst = 1 };

	proctrack_event(fx->procs, &e);
	proctrack_flush(fx->procs);
}

static void teardown(struct fixture *fx)
{
	profbuild_free(fx->b);
	proctrack_free(fx->procs);
	symbolizer_free(fx->sym);
	unlink(fx->kpath);
}

static struct sample_key key_for(__u32 tgid, __u32 inst, const char *comm,
				 const char *pcomm)
{
	struct sample_key k = { .tgid = tgid, .pid = tgid + 1, .inst = inst };

	memcpy(k.comm, comm, strnlen(comm, sizeof(k.comm)));
	memcpy(k.pcomm, pcomm, strnlen(pcomm, sizeof(k.pcomm)));
	return k;
}

static char *folded(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	folded_write(p, 0, f);
	fclose(f);
	return buf;
}

static void builds_named_frames(void)
{
	struct fixture fx;
	__u32 me = (__u32)getpid();

	setup(&fx);

	/* A thread in the write path under two user frames. */
	struct sample_key k1 = key_for(me, 1, "worker", "app");
	__u64 kst[] = { 0xffffffff81001010ull, 0xffffffff81002020ull };
	__u64 ust[] = { (__u64)(uintptr_t)user_leaf + 2,
			(__u64)(uintptr_t)user_caller + 9 };
	struct sampler_sample s1 = { .key = &k1, .count = 5, .kstack = kst,
				     .kstack_len = 2, .ustack = ust,
				     .ustack_len = 2 };
	profbuild_add(fx.b, &s1);

	/* Module code, and the idle task. */
	struct sample_key k2 = key_for(0, 0, "swapper/1", "swapper/1");
	__u64 kst2[] = { 0xffffffffc0001004ull };
	struct sampler_sample s2 = { .key = &k2, .count = 3, .kstack = kst2,
				     .kstack_len = 1 };
	profbuild_add(fx.b, &s2);

	/* An address no mapping covers; a truncated stack; a lost one. */
	struct sample_key k3 = key_for(me, 1, "worker", "app");
	__u64 ust3[] = { 0x10 };
	struct sampler_sample s3 = { .key = &k3, .count = 2, .ustack = ust3,
				     .ustack_len = 1 };
	k3.flags = SAMPLE_USTACK_TRUNCATED;
	k3.ustack = 1;
	profbuild_add(fx.b, &s3);
	struct sample_key k4 = key_for(me, 1, "worker", "app");
	struct sampler_sample s4 = { .key = &k4, .count = 1 };
	k4.flags = SAMPLE_USTACK_LOST;
	profbuild_add(fx.b, &s4);

	struct profbuild_stats st;

	profbuild_stats(fx.b, &st);
	CHECK_EQ(st.samples, 11);
	CHECK_EQ(st.processes, 1); /* the idle task is not a process */
	CHECK_EQ(st.unknown_mapping, 2);
	CHECK_EQ(st.truncated, 2);
	CHECK_EQ(st.unresolved, 0);

	struct profile *p = profbuild_finish(fx.b);
	char *text = folded(p);

	CHECK_STR(text,
		  "[idle];nft_do_chain [nf_tables]_[k] 3\n"
		  "worker;[truncated];[unknown] 2\n"
		  "worker;[user stack lost] 1\n"
		  "worker;user_caller;user_leaf;ksys_write_[k];vfs_write_[k] 5\n");
	free(text);

	/* Values: count and count x period; the default type is cpu. */
	CHECK_EQ(profile_total(p, 0), 11);
	CHECK_EQ(profile_total(p, 1), 11 * (int64_t)PERIOD);
	CHECK_STR(profile_str(p, p->default_sample_type), "cpu");
	CHECK_EQ(p->period, (int64_t)PERIOD);

	/* Labels and kinds of the first sample. */
	const struct profile_sample *s = &p->samples[0];

	CHECK_STR(profile_sample_label_str(p, s, LABEL_COMM), "app");
	CHECK_STR(profile_sample_label_str(p, s, LABEL_THREAD_NAME), "worker");
	CHECK_EQ(s->nlocations, 4);
	CHECK_EQ(profile_location(p, s->location_ids[0])->kind, FRAME_KERNEL);
	CHECK_EQ(profile_location(p, s->location_ids[3])->kind, FRAME_USER);
	/* The leaf keeps its address; callers are stored as return - 1. */
	CHECK_EQ(profile_location(p, s->location_ids[2])->address, ust[0]);
	CHECK_EQ(profile_location(p, s->location_ids[3])->address, ust[1] - 1);
	/* User frames carry their mapping: this test binary. */
	const struct profile_mapping *m =
		profile_mapping(p, profile_location(p, s->location_ids[2])->mapping_id);

	CHECK(m && strstr(profile_str(p, m->filename), "test_profbuild"));
	CHECK(m && m->has_functions);
	CHECK(m && strlen(profile_str(p, m->build_id)) == 40);

	profile_free(p);
	teardown(&fx);
}

/* An instance whose mappings were never captured resolves nothing, and says
 * so; kernel frames beyond every symbol stay visible too. */
static void counts_what_it_cannot_resolve(void)
{
	struct fixture fx;

	setup(&fx);
	struct sample_key k = key_for(4242, 77, "gone", "gone");
	__u64 ust[] = { 0x401000 };
	__u64 kst[] = { 0xffffffff70000000ull };
	struct sampler_sample smp = { .key = &k, .count = 4, .ustack = ust,
				      .ustack_len = 1, .kstack = kst,
				      .kstack_len = 1 };

	k.ustack = 1;
	k.kstack = 1;
	profbuild_add(fx.b, &smp);

	struct profbuild_stats st;

	profbuild_stats(fx.b, &st);
	CHECK_EQ(st.no_process, 4);
	CHECK_EQ(st.unknown_mapping, 4);
	CHECK_EQ(st.unresolved, 0);

	struct profile *p = profbuild_finish(fx.b);
	char *text = folded(p);

	CHECK_STR(text, "gone;[unknown];[unknown]_[k] 4\n");
	free(text);
	profile_free(p);
	teardown(&fx);
}

int main(void)
{
	RUN(builds_named_frames);
	RUN(counts_what_it_cannot_resolve);
	HARNESS_END();
}
