/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "../../symbolizer/symbolizer.h"
#include "../../symbolizer/symbolizer_internal.h"
#include "harness.h"

static FILE *text(const char *s)
{
	return fmemopen((void *)s, strlen(s), "r");
}

static void parses_text_and_modules(void)
{
	static const char in[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000000 T _text\n"
		"ffffffff81001000 t __pfx_do_thing\n"
		"ffffffff81001010 T do_thing\n"
		"ffffffff81001100 W weak_thing\n"
		"ffffffff81002000 D some_data\n"
		"ffffffff81003000 T last_func\n"
		"ffffffffc0001000 t mod_func\t[mymod]\n"
		"ffffffffc0001200 t mod_other\t[othermod]\n";
	struct ksyms k;
	FILE *f = text(in);
	const struct ksym *s;

	CHECK_EQ(ksyms_parse(&k, f), 0);
	fclose(f);
	CHECK(!k.zero_addresses);
	CHECK_EQ(k.text_start, 0xffffffff81000000ull);
	/* Data symbols are dropped; aliases at one address collapse. */
	CHECK_EQ(k.n, 7);

	s = ksyms_lookup(&k, 0xffffffff81001010ull);
	CHECK(s && !strcmp(s->name, "do_thing") && !s->module);
	s = ksyms_lookup(&k, 0xffffffff810010ffull);
	CHECK(s && !strcmp(s->name, "do_thing"));
	s = ksyms_lookup(&k, 0xffffffff81001008ull);
	CHECK(s && !strcmp(s->name, "__pfx_do_thing"));
	s = ksyms_lookup(&k, 0xffffffff81000010ull);
	CHECK(s && !strcmp(s->name, "_stext"));
	s = ksyms_lookup(&k, 0xffffffff81001150ull);
	CHECK(s && !strcmp(s->name, "weak_thing"));
	s = ksyms_lookup(&k, 0xffffffffc0001004ull);
	CHECK(s && !strcmp(s->name, "mod_func") && s->module &&
	      !strcmp(s->module, "mymod"));
	s = ksyms_lookup(&k, 0xffffffffc0001204ull);
	CHECK(s && s->module && !strcmp(s->module, "othermod"));
	/* Below the first symbol, and far past the last: nothing. */
	CHECK(!ksyms_lookup(&k, 0xffffffff80000000ull));
	CHECK(!ksyms_lookup(&k, 0xffffffffc0001200ull + (8u << 20)));
	ksyms_release(&k);
}

static void prefers_real_names_over_padding(void)
{
	/* Same address: the padding symbol must lose whatever the order. */
	static const char in[] =
		"ffffffff81001000 t __pfx_zzz\n"
		"ffffffff81001000 T aaa_real\n"
		"ffffffff81002000 T __cfi_b\n"
		"ffffffff81002000 T __b\n";
	struct ksyms k;
	FILE *f = text(in);
	const struct ksym *s;

	CHECK_EQ(ksyms_parse(&k, f), 0);
	fclose(f);
	s = ksyms_lookup(&k, 0xffffffff81001001ull);
	CHECK(s && !strcmp(s->name, "aaa_real"));
	s = ksyms_lookup(&k, 0xffffffff81002001ull);
	CHECK(s && !strcmp(s->name, "__b"));
	ksyms_release(&k);
}

static void parses_empty(void)
{
	struct ksyms k;
	FILE *f = text("");

	CHECK_EQ(ksyms_parse(&k, f), 0);
	fclose(f);
	CHECK_EQ(k.n, 0);
	CHECK(!ksyms_lookup(&k, 0xffffffff81000000ull));
	ksyms_release(&k);
}

static void detects_hidden_addresses(void)
{
	static const char in[] = "0000000000000000 T _stext\n"
				 "0000000000000000 T do_thing\n";
	struct ksyms k;
	FILE *f = text(in);

	CHECK_EQ(ksyms_parse(&k, f), 0);
	fclose(f);
	CHECK(k.zero_addresses);
	CHECK(!ksyms_lookup(&k, 0x10));
	ksyms_release(&k);
}

static void rejects_malformed(void)
{
	static const char *const bad[] = {
		"zzzz T name\n",
		"ffffffff81000000T name\n",
		"ffffffff81000000 T\n",
		"ffffffff81000000 TT name\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ksyms k;
		FILE *f = text(bad[i]);

		CHECK_EQ(ksyms_parse(&k, f), -EINVAL);
		fclose(f);
	}
}

/* On the running kernel, every text symbol must resolve to itself. */
static void resolves_real_kallsyms(void)
{
	struct symbolizer *sym = symbolizer_new(NULL);
	char line[512];
	FILE *f = fopen("/proc/kallsyms", "r");
	int checked = 0;

	if (!f || symbolizer_kernel_problem(sym)) {
		fprintf(stderr, "  SKIP resolves_real_kallsyms: %s\n",
			f ? symbolizer_kernel_problem(sym) : "no /proc/kallsyms");
		if (f)
			fclose(f);
		symbolizer_free(sym);
		return;
	}
	while (fgets(line, sizeof(line), f) && checked < 200) {
		unsigned long long addr;
		char type, name[256];
		struct sym_result r;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 ||
		    (type != 'T' && type != 't') || strchr(line, '['))
			continue;
		if (strncmp(name, "vfs_", 4) && strncmp(name, "do_sys", 6))
			continue;
		symbolize_kernel(sym, addr + 1, false, &r);
		if (r.status != SYM_OK || strcmp(r.frames[0].name, name)) {
			/* An alias at the same address is fine. */
			symbolize_kernel(sym, addr, false, &r);
			CHECK(r.status == SYM_OK);
			continue;
		}
		CHECK(r.kind == FRAME_KERNEL);
		CHECK_STR(r.module, "[kernel.kallsyms]");
		CHECK_EQ(r.symbol_offset, 1);
		/* A return address one past the start is the call before it:
		 * in the previous function. */
		symbolize_kernel(sym, addr, true, &r);
		CHECK(r.status != SYM_OK || strcmp(r.frames[0].name, name));
		checked++;
	}
	fclose(f);
	CHECK(checked > 10);
	symbolizer_free(sym);
}

int main(void)
{
	RUN(parses_text_and_modules);
	RUN(prefers_real_names_over_padding);
	RUN(parses_empty);
	RUN(detects_hidden_addresses);
	RUN(rejects_malformed);
	RUN(resolves_real_kallsyms);
	HARNESS_END();
}
