/* SPDX-License-Identifier: MIT */
/*
 * Our own DWARF readers against libdw, on objects this test builds (C and
 * C++ at -O2, DWARF 4 and 5, gcc and clang, compressed debug sections)
 * and on the test binary itself: the line program decoder (dwline.c)
 * against dwarf_getsrclines unit by unit and row by row; the index built
 * with it and the .debug_info reader (dwinfo.c) against the index built
 * with libdw alone, answer by answer for every byte of every function;
 * and the row sort against a plain stable sort, on line tables made up
 * to be awkward.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <unistd.h>

#include "../../symbolizer/symbolizer_internal.h"
#include "harness.h"

static char dir[] = "/tmp/smolder-test-dwline.XXXXXX";

static const char c_src[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include \"helper.h\"\n"
	"static inline int sq(int x) { return x * x; }\n"
	"__attribute__((always_inline)) static inline int twice(int x) {\n"
	"  return helper(x) + helper(x + 1); }\n"
	"__attribute__((noinline)) int work(int n) {\n"
	"  int s = 0;\n"
	"  for (int i = 0; i < n; i++)\n"
	"    s += sq(i) + twice(i);\n"
	"  return s; }\n"
	"int main(int argc, char **argv) {\n"
	"  printf(\"%d\\n\", work(argc > 1 ? atoi(argv[1]) : 10));\n"
	"  return 0; }\n";

static const char h_src[] =
	"static inline int helper(int x) { return x * 3 - 1; }\n";

static const char cpp_src[] =
	"#include <algorithm>\n"
	"#include <map>\n"
	"#include <string>\n"
	"#include <vector>\n"
	"namespace app {\n"
	"template <typename T> T total(const std::vector<T> &v) {\n"
	"  T s{}; for (auto &x : v) s += x; return s; }\n"
	"int run(int n) {\n"
	"  std::vector<int> v; std::map<std::string, int> m;\n"
	"  for (int i = 0; i < n; i++) { v.push_back(n - i);"
	" m[std::to_string(i)] = i; }\n"
	"  std::sort(v.begin(), v.end(), [](int a, int b) { return a > b; });\n"
	"  return total(v) + (int)m.size(); }\n"
	"}\n"
	"int main(int argc, char **) { return app::run(argc * 100) & 1; }\n";

static bool have_clang;

static int build_fixtures(void)
{
	if (!mkdtemp(dir))
		return -1;
	write_file_in(dir, "prog.c", c_src);
	write_file_in(dir, "helper.h", h_src);
	write_file_in(dir, "prog.cpp", cpp_src);
	have_clang = sh("command -v clang >/dev/null") == 0;
	/* One object from a relative path and a sub-directory, so that
	 * its file names are relative to the compilation directory. */
	return sh("cd %s && mkdir -p sub && cp prog.c helper.h sub/ &&"
		  " cc -O2 -gdwarf-5 -o c5 prog.c &&"
		  " cc -O2 -gdwarf-4 -o c4 prog.c &&"
		  " cc -O2 -gdwarf-5 -gz=zlib -o c5z prog.c &&"
		  " (cd sub && cc -O2 -g -o ../c5rel ./prog.c) &&"
		  " c++ -O2 -gdwarf-5 -o cpp5 prog.cpp &&"
		  " c++ -O2 -gdwarf-4 -o cpp4 prog.cpp &&"
		  " (%s || (clang -O2 -g -o clang5 prog.c &&"
		  " clang++ -O2 -g -o clangcpp prog.cpp))",
		  dir, have_clang ? "false" : "true");
}

/* ---- against libdw, unit by unit ---- */

static void find_sections(Elf *elf, struct dwl_sections *secs)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	memset(secs, 0, sizeof(*secs));
	if (elf_getshdrstrndx(elf, &shstrndx))
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		struct dwl_section *to = NULL;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_flags & SHF_COMPRESSED) ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".debug_line"))
			to = &secs->line;
		else if (!strcmp(name, ".debug_line_str"))
			to = &secs->line_str;
		else if (!strcmp(name, ".debug_str"))
			to = &secs->str;
		if (to && (d = elf_getdata(scn, NULL)))
			*to = (struct dwl_section){ d->d_buf, d->d_size };
	}
}

/* Compare every unit of `path`; returns the rows compared. */
static size_t compare_object(const char *path)
{
	int fd = open(path, O_RDONLY);
	Elf *elf;
	Dwarf *dw;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	uint8_t unit_type;
	Dwarf_Half version;
	struct dwl_sections secs;
	size_t rows = 0, units = 0;

	CHECK(fd >= 0);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	dw = elf ? dwarf_begin_elf(elf, DWARF_C_READ, NULL) : NULL;
	CHECK(dw != NULL);
	if (!dw) {
		close(fd);
		return 0;
	}
	find_sections(elf, &secs);
	CHECK(secs.line.data != NULL);
	while (dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie,
			       NULL) == 0) {
		Dwarf_Attribute attr;
		Dwarf_Word off;
		Dwarf_Lines *lines;
		size_t n;
		struct dwl_table t = { 0 };
		const char *comp_dir = NULL;
		const struct dwl_row *sorted;
		struct dwl_row *out;
		int e;

		if (!dwarf_attr(&cudie, DW_AT_stmt_list, &attr) ||
		    dwarf_formudata(&attr, &off) ||
		    dwarf_getsrclines(&cudie, &lines, &n))
			continue;
		if (dwarf_attr(&cudie, DW_AT_comp_dir, &attr))
			comp_dir = dwarf_formstring(&attr);
		e = dwl_read(&secs, off, comp_dir, &t);
		CHECK_EQ(e, 0);
		if (e)
			continue;
		units++;
		out = malloc((t.nrows + 1) * sizeof(*out));
		sorted = dwl_sort_rows(t.rows, t.nrows, out);
		if (sorted == t.rows && t.nrows)
			memcpy(out, t.rows, t.nrows * sizeof(*out));
		sorted = out;
		/* As libdw and dwarf.c do: nothing past the highest row. */
		if (t.nrows)
			out[t.nrows - 1].end_sequence = 1;
		CHECK_EQ(t.nrows, n);
		for (size_t i = 0; i < n && i < t.nrows; i++) {
			Dwarf_Line *l = dwarf_onesrcline(lines, i);
			const struct dwl_row *r = &sorted[i];
			Dwarf_Addr a = 0;
			int line = 0, col = 0;
			bool end = false;
			char *ours = dwl_path(&t, r->file);
			const char *theirs = dwarf_linesrc(l, NULL, NULL);

			dwarf_lineaddr(l, &a);
			dwarf_lineno(l, &line);
			dwarf_linecol(l, &col);
			dwarf_lineendsequence(l, &end);
			if (r->addr != a || r->line != (uint32_t)line ||
			    r->column != (uint32_t)col || r->end_sequence != end ||
			    !ours || !theirs || strcmp(ours, theirs)) {
				fprintf(stderr, "%s: row %zu: ours %#llx %s:%u:%u%s,"
					" libdw's %#llx %s:%d:%d%s\n", path, i,
					(unsigned long long)r->addr,
					ours ? ours : "(null)", r->line,
					r->column, r->end_sequence ? " end" : "",
					(unsigned long long)a,
					theirs ? theirs : "(null)", line, col,
					end ? " end" : "");
				CHECK(!"the same row");
				free(ours);
				break;
			}
			free(ours);
			rows++;
		}
		free(out);
		dwl_release(&t);
	}
	CHECK(units > 0);
	dwarf_end(dw);
	elf_end(elf);
	close(fd);
	return rows;
}

static void same_rows_as_libdw(void)
{
	static const char *const objs[] = { "c5", "c4", "c5z", "c5rel",
					    "cpp5", "cpp4", "clang5" };
	char path[512];

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		if (!strcmp(objs[i], "clang5") && !have_clang)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, objs[i]);
		if (compare_object(path) <= 10) {
			fprintf(stderr, "%s: too few rows compared\n", path);
			CHECK(!"rows compared");
		}
	}
	/* This test's own binary: libsmolder's units, many files. */
	CHECK(compare_object("/proc/self/exe") > 1000);
}

/* ---- the whole index: our readers against libdw alone ---- */

static bool same_frames(const struct dwarf_frame *a, unsigned na,
			const struct dwarf_frame *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++) {
		if ((a[i].name == NULL) != (b[i].name == NULL) ||
		    (a[i].name && strcmp(a[i].name, b[i].name)) ||
		    (a[i].file == NULL) != (b[i].file == NULL) ||
		    (a[i].file && strcmp(a[i].file, b[i].file)) ||
		    a[i].line != b[i].line || a[i].column != b[i].column ||
		    a[i].decl_line != b[i].decl_line)
			return false;
	}
	return true;
}

/* Look up every `step`-th byte of every function of `path` in both
 * indexes; returns the addresses that DWARF describes. */
static size_t compare_index(const char *path, unsigned step)
{
	int fd = open(path, O_RDONLY);
	struct dwarf_index *ours, *theirs;
	struct dwarf_index_counts n;
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t found = 0, bad = 0;

	CHECK(fd >= 0);
	if (fd < 0)
		return 0;
	ours = dwarf_index_open(fd);
	theirs = dwarf_index_open(fd);
	CHECK(ours && theirs);
	if (!ours || !theirs)
		goto out;
	dwarf_index_use_libdw(theirs);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;

			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
				continue;
			for (uint64_t a = sym.st_value; a < sym.st_value + sym.st_size;
			     a += step) {
				struct dwarf_frame f1[64], f2[64];
				unsigned n1 = 0, n2 = 0;
				uint64_t e1 = 0, e2 = 0;
				int r1 = dwarf_index_lookup(ours, a, f1, 64, &n1, &e1);
				int r2 = dwarf_index_lookup(theirs, a, f2, 64, &n2, &e2);

				if (r1 != r2 || e1 != e2 ||
				    !same_frames(f1, n1, f2, n2)) {
					if (bad++ < 3)
						fprintf(stderr, "%s: %#llx: ours %d, %u frames"
							" (%s %s:%u), libdw's %d, %u frames"
							" (%s %s:%u)\n", path,
							(unsigned long long)a, r1, n1,
							n1 && f1[0].name ? f1[0].name : "-",
							n1 && f1[0].file ? f1[0].file : "-",
							n1 ? f1[0].line : 0, r2, n2,
							n2 && f2[0].name ? f2[0].name : "-",
							n2 && f2[0].file ? f2[0].file : "-",
							n2 ? f2[0].line : 0);
				} else if (!r1) {
					found++;
				}
			}
		}
	}
	if (elf)
		elf_end(elf);
	CHECK_EQ(bad, 0);
	/* Both ways were taken: ours for every unit, libdw's for all. */
	dwarf_index_counts(ours, &n);
	CHECK(n.rows_own > 0 && n.dies_own > 0);
	CHECK_EQ(n.rows_libdw, 0);
	CHECK_EQ(n.dies_libdw, 0);
	dwarf_index_counts(theirs, &n);
	CHECK(n.rows_libdw > 0 && n.dies_libdw > 0);
	CHECK_EQ(n.rows_own + n.dies_own, 0);
out:
	dwarf_index_free(ours);
	dwarf_index_free(theirs);
	close(fd);
	return found;
}

static void same_index_as_libdw(void)
{
	static const char *const objs[] = { "c5", "c4", "c5z", "c5rel",
					    "cpp5", "cpp4", "clang5",
					    "clangcpp" };
	char path[512];

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		if (!strncmp(objs[i], "clang", 5) && !have_clang)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, objs[i]);
		if (compare_index(path, 1) < 50) {
			fprintf(stderr, "%s: too few addresses described\n", path);
			CHECK(!"addresses described");
		}
	}
	CHECK(compare_index("/proc/self/exe", 3) > 10000);
}

/* ---- the row sort ---- */

struct tagged {
	struct dwl_row row;
	size_t order;
};

static int cmp_tagged(const void *a, const void *b)
{
	const struct tagged *x = a, *y = b;

	if (x->row.addr != y->row.addr)
		return x->row.addr < y->row.addr ? -1 : 1;
	if (x->row.end_sequence != y->row.end_sequence)
		return x->row.end_sequence ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

/* A made-up line table: sequences of a few rows, in random order, some
 * touching, some overlapping (a few at 0, as the linker leaves discarded
 * code), some of no length, some out of order, perhaps no end at the
 * end; rows carry their position in `line`, so that any reordering of
 * equal rows shows. */
static size_t make_rows(struct dwl_row *rows, size_t max)
{
	size_t n = 0;
	uint64_t next = 0x1000;

	while (n + 40 < max) {
		size_t len = 1 + rnd(12);
		uint64_t start;
		int kind = (int)rnd(10);

		if (kind == 0)
			start = rnd(3) * 4; /* discarded: at 0 */
		else if (kind == 1)
			start = next; /* touching the last one */
		else
			start = 0x1000 + rnd(4000) * 8;
		for (size_t k = 0; k < len; k++) {
			uint64_t a = start + k * rnd(3) * 4;

			if (kind == 2 && k == len / 2)
				a = start; /* going back: out of order */
			rows[n] = (struct dwl_row){ .addr = a,
						    .line = (uint32_t)n };
			n++;
		}
		if (rnd(20) == 0 && n + 1 < max) {
			/* no length: the end where it starts */
			rows[n] = (struct dwl_row){ .addr = start,
						    .line = (uint32_t)n,
						    .end_sequence = 1 };
			n++;
			continue;
		}
		next = rows[n - 1].addr + 4 * rnd(3);
		rows[n] = (struct dwl_row){ .addr = next, .line = (uint32_t)n,
					    .end_sequence = 1 };
		n++;
	}
	if (rnd(2)) /* a last sequence without its end row */
		for (int k = 0; k < 3; k++, n++)
			rows[n] = (struct dwl_row){ .addr = 0x1000 + 8 * rnd(100),
						    .line = (uint32_t)n };
	return n;
}

static void sorts_as_a_stable_sort(void)
{
	enum { MAX = 4000, ROUNDS = 300 };
	struct dwl_row *rows = malloc(MAX * sizeof(*rows));
	struct dwl_row *out = malloc(MAX * sizeof(*out));
	const struct dwl_row *got;
	struct tagged *want = malloc(MAX * sizeof(*want));
	int bad = 0;

	for (int round = 0; round < ROUNDS; round++) {
		size_t n = round == 0 ? 0 : make_rows(rows, MAX - (round % 7) * 500);

		for (size_t i = 0; i < n; i++)
			want[i] = (struct tagged){ rows[i], i };
		qsort(want, n, sizeof(*want), cmp_tagged);
		got = dwl_sort_rows(rows, n, out);
		for (size_t i = 0; i < n; i++)
			if (got[i].addr != want[i].row.addr ||
			    got[i].line != want[i].row.line ||
			    got[i].end_sequence != want[i].row.end_sequence) {
				if (!bad++)
					fprintf(stderr, "round %d, row %zu: line %u,"
						" want line %u\n", round, i,
						got[i].line, want[i].row.line);
				break;
			}
	}
	CHECK_EQ(bad, 0);
	free(rows);
	free(out);
	free(want);
}

/* ---- bad input ---- */

static void refuses_what_it_cannot_read(void)
{
	static const uint8_t truncated[] = { 0x40, 0, 0, 0, 5, 0, 8 };
	static const uint8_t version9[] = { 0x10, 0, 0, 0, 9, 0, 8, 0,
					    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* Version 5, a file entry in a form it does not know (strx1). */
	static const uint8_t strx[] = {
		0x22, 0, 0, 0, 5, 0, 8, 0, 0x1a, 0, 0, 0, /* length, header */
		1, 1, 1, 0xfb, 14, 13, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1,
		1, 1, 0x25, 1, 0, 0, 0, 0,
	};
	struct dwl_sections secs = { 0 };
	struct dwl_table t = { 0 };

	secs.line = (struct dwl_section){ truncated, sizeof(truncated) };
	CHECK_EQ(dwl_read(&secs, 0, NULL, &t), -EINVAL);
	CHECK_EQ(t.nrows, 0);
	CHECK_EQ(dwl_read(&secs, 100, NULL, &t), -EINVAL);
	secs.line = (struct dwl_section){ version9, sizeof(version9) };
	CHECK_EQ(dwl_read(&secs, 0, NULL, &t), -EINVAL);
	secs.line = (struct dwl_section){ strx, sizeof(strx) };
	CHECK_EQ(dwl_read(&secs, 0, NULL, &t), -EINVAL);
	secs.line = (struct dwl_section){ NULL, 0 };
	CHECK_EQ(dwl_read(&secs, 0, NULL, &t), -EINVAL);
}

int main(void)
{
	if (build_fixtures()) {
		fprintf(stderr, "cannot build the fixtures in %s\n", dir);
		sh("rm -rf %s", dir);
		return 1;
	}
	RUN(same_rows_as_libdw);
	RUN(same_index_as_libdw);
	RUN(sorts_as_a_stable_sort);
	RUN(refuses_what_it_cannot_read);
	sh("rm -rf %s", dir);
	HARNESS_END();
}
