/* SPDX-License-Identifier: MIT */
/*
 * ELF symbol lookup on binaries this test builds: a PIE executable, a
 * non-PIE one, a shared library, and a stripped copy of the library. `nm`
 * is the oracle for where each function lies, and a running copy of the
 * PIE executable (printing its own function addresses) checks the load
 * bias of PIE executables and shared libraries.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../symbolizer/symbolizer.h"
#include "harness.h"

static char dir[] = "/tmp/smolder-test-elf.XXXXXX";

static const char lib_src[] =
	"__attribute__((noinline)) int lib_first(int x) { return x * 3 + 1; }\n"
	"__attribute__((noinline)) static int lib_hidden(int x) {"
	" return x ^ 0x55; }\n"
	"__attribute__((noinline)) int lib_second(int x) {"
	" return lib_hidden(x) + lib_first(x); }\n";

static const char exe_src[] =
	"#include <stdio.h>\n"
	"#include <unistd.h>\n"
	"int lib_first(int); int lib_second(int);\n"
	"__attribute__((noinline)) int alpha(int x) { return x + 1; }\n"
	"__attribute__((noinline)) static int beta(int x) {"
	" for (int i = 0; i < 10; i++) x = alpha(x) * 3; return x; }\n"
	"__attribute__((noinline)) int gamma_fn(int x) { return beta(x) - 1; }\n"
	"int main(int argc, char **argv) {\n"
	"  if (argc > 1) {\n"
	"    printf(\"%p %p %p %p\\n\", (void *)alpha, (void *)beta,\n"
	"           (void *)lib_first, (void *)lib_second);\n"
	"    fflush(stdout); pause();\n"
	"  }\n"
	"  return gamma_fn(argc) + lib_second(argc) > 0;\n"
	"}\n";

static int build_fixtures(void)
{
	if (!mkdtemp(dir))
		return -1;
	write_file_in(dir, "lib.c", lib_src);
	write_file_in(dir, "exe.c", exe_src);
	return sh("cd %s && cc -O1 -g -fPIC -shared -o libfix.so lib.c &&"
		  " cc -O1 -g -fPIE -pie -o exe-pie exe.c -L. -lfix -Wl,-rpath,%s &&"
		  " cc -O1 -g -fno-pie -no-pie -o exe-nopie exe.c -L. -lfix"
		  " -Wl,-rpath,%s &&"
		  " cp libfix.so libfix-stripped.so && strip libfix-stripped.so",
		  dir, dir, dir);
}

/* Check every function `nm` lists in `file` (those that match `only`, or
 * all if NULL) against symbolize_file: start, middle and last byte. */
static int check_against_nm(struct symbolizer *s, const char *file,
			    const char *nm_flags)
{
	char cmd[512], line[512], path[256];
	int checked = 0;
	FILE *p;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(cmd, sizeof(cmd), "nm -S --defined-only %s %s", nm_flags, path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long addr, size;
		char type, name[256];
		struct sym_result r;

		if (sscanf(line, "%llx %llx %c %255s", &addr, &size, &type,
			   name) != 4 || (type != 'T' && type != 't') || !size)
			continue;
		if (strchr(name, '.')) /* compiler clones; aliases of others */
			continue;
		for (int k = 0; k < 3; k++) {
			uint64_t a = addr + (k == 0 ? 0 : k == 1 ? size / 2 : size - 1);

			symbolize_file(s, path, a, &r);
			CHECK_EQ(r.status, SYM_OK);
			if (r.status == SYM_OK)
				CHECK_STR(r.frames[0].name, name);
			CHECK_EQ(r.symbol_offset, a - addr);
			CHECK_EQ(r.module_offset, a);
		}
		checked++;
	}
	pclose(p);
	return checked;
}

static void resolves_all_functions(void)
{
	struct symbolizer *s = symbolizer_new(NULL);

	CHECK(check_against_nm(s, "exe-pie", "") >= 4);
	CHECK(check_against_nm(s, "exe-nopie", "") >= 4);
	CHECK(check_against_nm(s, "libfix.so", "") >= 3);
	/* The stripped library keeps only its exported functions. */
	CHECK(check_against_nm(s, "libfix-stripped.so", "-D") >= 2);
	symbolizer_free(s);
}

static void reports_gaps_and_bad_files(void)
{
	struct symbolizer *s = symbolizer_new(NULL);
	char path[256];
	struct sym_result r;

	/* A stripped object knows nothing of its static function: the
	 * address must stay unresolved, not borrow a neighbour's name. */
	char cmd[512], line[256];
	unsigned long long hidden = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm %s/libfix.so | grep ' lib_hidden$'", dir);
	p = popen(cmd, "r");
	CHECK(p && fgets(line, sizeof(line), p) &&
	      sscanf(line, "%llx", &hidden) == 1);
	if (p)
		pclose(p);
	snprintf(path, sizeof(path), "%s/libfix-stripped.so", dir);
	symbolize_file(s, path, hidden + 1, &r);
	CHECK_EQ(r.status, SYM_NO_SYMBOL);
	CHECK_EQ(r.module_offset, hidden + 1);

	snprintf(path, sizeof(path), "%s/lib.c", dir);
	symbolize_file(s, path, 0x1000, &r);
	CHECK_EQ(r.status, SYM_NO_OBJECT);

	symbolize_file(s, "/nonexistent/file", 0x1000, &r);
	CHECK_EQ(r.status, SYM_NO_MAPPING);
	symbolizer_free(s);
}

/* Run the PIE executable and resolve the runtime addresses it prints. */
static void resolves_running_process(void)
{
	static const char *const expect[] = { "alpha", "beta", "lib_first",
					      "lib_second" };
	struct symbolizer *s = symbolizer_new(NULL);
	unsigned long long addrs[4];
	char path[256], line[256];
	int fds[2];
	pid_t pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/exe-pie", dir);
	CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		execl(path, path, "wait", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	CHECK(f && fgets(line, sizeof(line), f));
	CHECK(sscanf(line, "%llx %llx %llx %llx", &addrs[0], &addrs[1],
		     &addrs[2], &addrs[3]) == 4);

	struct sym_proc *sp = sym_proc_capture(s, pid, 0);

	CHECK(sp != NULL);
	for (int i = 0; sp && i < 4; i++) {
		struct sym_result r;

		symbolize_user(s, sp, addrs[i] + 2, false, &r);
		CHECK_EQ(r.status, SYM_OK);
		if (r.status == SYM_OK)
			CHECK_STR(r.frames[0].name, expect[i]);
		CHECK_EQ(r.symbol_offset, 2);
		CHECK(r.mapping && r.mapping->build_id &&
		      strlen(r.mapping->build_id) == 40);
		/* As a return address, the start + 1 is the call before it,
		 * which is in whatever precedes the function. */
		symbolize_user(s, sp, addrs[i] + 1, true, &r);
		CHECK(r.status != SYM_OK || strcmp(r.frames[0].name, expect[i]) ||
		      r.symbol_offset == 0);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(f);

	/* The process is gone; its captured mappings still resolve. */
	for (int i = 0; sp && i < 4; i++) {
		struct sym_result r;

		symbolize_user(s, sp, addrs[i], false, &r);
		CHECK(r.status == SYM_OK && !strcmp(r.frames[0].name, expect[i]));
	}
	if (sp)
		CHECK_EQ(sym_proc_refresh(sp), -ESRCH);

	/* An address outside every mapping. */
	struct sym_result r;

	if (sp) {
		symbolize_user(s, sp, 0x10, false, &r);
		CHECK_EQ(r.status, SYM_NO_MAPPING);
		CHECK(r.module == NULL);
	}
	sym_proc_free(sp);

	struct sym_stats st;

	symbolizer_stats(s, &st);
	CHECK(st.objects_loaded >= 2);
	symbolizer_free(s);
}

int main(void)
{
	if (build_fixtures()) {
		fprintf(stderr, "cannot build the fixtures in %s\n", dir);
		return 1;
	}
	RUN(resolves_all_functions);
	RUN(reports_gaps_and_bad_files);
	RUN(resolves_running_process);
	sh("rm -rf %s", dir);
	HARNESS_END();
}
