/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../symbolizer/symbolizer.h"
#include "../../symbolizer/symbolizer_internal.h"
#include "harness.h"

static int parse(const char *line, struct procmap_entry *e, char *buf,
		 size_t size)
{
	snprintf(buf, size, "%s", line);
	return procmaps_parse_line(buf, e);
}

static void parses_file_mapping(void)
{
	char buf[512];
	struct procmap_entry e;

	CHECK_EQ(parse("55d0c3a00000-55d0c3a28000 r-xp 00002000 fe:01 1234567"
		       "                    /usr/bin/foo\n", &e, buf, sizeof(buf)), 0);
	CHECK_EQ(e.start, 0x55d0c3a00000ull);
	CHECK_EQ(e.end, 0x55d0c3a28000ull);
	CHECK_EQ(e.offset, 0x2000);
	CHECK_EQ(e.dev_major, 0xfe);
	CHECK_EQ(e.dev_minor, 1);
	CHECK_EQ(e.inode, 1234567);
	CHECK_STR(e.perms, "r-xp");
	CHECK_STR(e.path, "/usr/bin/foo");
	CHECK(!e.deleted);
}

static void parses_odd_paths(void)
{
	char buf[512];
	struct procmap_entry e;

	CHECK_EQ(parse("7f0000000000-7f0000001000 r-xp 00000000 08:02 42   "
		       "  /opt/my app/lib x.so (deleted)", &e, buf, sizeof(buf)), 0);
	CHECK_STR(e.path, "/opt/my app/lib x.so");
	CHECK(e.deleted);

	CHECK_EQ(parse("7ffd5e9f1000-7ffd5e9f3000 r-xp 00000000 00:00 0"
		       "                          [vdso]", &e, buf, sizeof(buf)), 0);
	CHECK_STR(e.path, "[vdso]");
	CHECK_EQ(e.inode, 0);

	/* Anonymous memory: no path at all, with or without a space. */
	CHECK_EQ(parse("7f1000000000-7f1000021000 rw-p 00000000 00:00 0 ", &e,
		       buf, sizeof(buf)), 0);
	CHECK_STR(e.path, "");
	CHECK_EQ(parse("7f1000000000-7f1000021000 rwxp 00000000 00:00 0", &e,
		       buf, sizeof(buf)), 0);
	CHECK_STR(e.path, "");
	CHECK_STR(e.perms, "rwxp");

	/* A three-digit major device number. */
	CHECK_EQ(parse("400000-401000 r-xp 00000000 103:05 77 /bin/x", &e, buf,
		       sizeof(buf)), 0);
	CHECK_EQ(e.dev_major, 0x103);
}

static void rejects_malformed(void)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"1000 r-xp 00000000 00:00 0",
		"2000-1000 r-xp 00000000 00:00 0",
		"1000-2000 r-x 00000000 00:00 0",
		"1000-2000 r-xp zz 00:00 0",
		"1000-2000 r-xp 00000000 0000 0",
		"1000-2000 r-xp 00000000 00:00 x /bin/x",
	};
	char buf[128];
	struct procmap_entry e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(parse(bad[i], &e, buf, sizeof(buf)), -EINVAL);
}

/* Our own mappings, through the public API: the code of this very
 * function lies in an executable mapping of this test binary. */
static void captures_own_process(void)
{
	struct symbolizer *s = symbolizer_new(NULL);
	struct sym_proc *sp = sym_proc_capture(s, getpid(), 0);
	uint64_t here = (uint64_t)(uintptr_t)&captures_own_process;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	bool found = false;

	CHECK(sp != NULL);
	CHECK(n > 0);
	exe[n > 0 ? n : 0] = '\0';
	for (unsigned i = 0; sp && i < sym_proc_nmappings(sp); i++) {
		const struct sym_mapping *m = sym_proc_mapping(sp, i);

		if (here >= m->start && here < m->end) {
			found = true;
			CHECK_STR(m->path, exe);
		}
		if (i)
			CHECK(m->start >= sym_proc_mapping(sp, i - 1)->end);
	}
	CHECK(found);
	sym_proc_free(sp);

	/* A pid that does not exist, and a start time that does not match. */
	errno = 0;
	CHECK(sym_proc_capture(s, 0x3ffffff0, 0) == NULL && errno == ESRCH);
	errno = 0;
	CHECK(sym_proc_capture(s, getpid(), 12345) == NULL && errno == ESRCH);
	symbolizer_free(s);
}

/* A zombie has no mappings at all: capturing and refreshing it must work
 * (or say ESRCH), and nothing in it resolves. */
static void captures_zombie(void)
{
	struct symbolizer *s = symbolizer_new(NULL);
	struct sym_result r;
	struct sym_proc *sp;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	usleep(100000); /* let it exit; not reaped, so it stays a zombie */
	sp = sym_proc_capture(s, pid, 0);
	CHECK(sp != NULL || errno == ESRCH);
	if (sp) {
		CHECK_EQ(sym_proc_nmappings(sp), 0);
		symbolize_user(s, sp, 0x401000, false, &r);
		CHECK_EQ(r.status, SYM_NO_MAPPING);
		CHECK(sym_proc_refresh(sp) == 0 || sym_proc_refresh(sp) == -ESRCH);
		sym_proc_free(sp);
	}
	waitpid(pid, NULL, 0);
	symbolizer_free(s);
}

int main(void)
{
	RUN(parses_file_mapping);
	RUN(parses_odd_paths);
	RUN(rejects_malformed);
	RUN(captures_own_process);
	RUN(captures_zombie);
	HARNESS_END();
}
