/* SPDX-License-Identifier: MIT */
/*
 * smolder symbolize: addresses to functions, file:line:column and inlined
 * frames, answered in llvm-symbolizer's output shape, streaming.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"
#include "../symbolizer/symbolizer.h"
#include "commands.h"

#define CMD "smolder symbolize"

static const char usage[] =
	"usage: smolder symbolize (-e FILE | -p PID | --kernel) [OPTIONS] [ADDR...]\n"
	"\n"
	"Print the function, source file, line and column, and the inlined\n"
	"frames at each address, in llvm-symbolizer's output shape: for every\n"
	"frame, innermost first, a function line and a file:line:column line;\n"
	"a blank line after each address; '?\?' for what is unknown.\n"
	"Addresses are hexadecimal (a 0x prefix is optional). With none on the\n"
	"command line they are read from standard input, one per line, and\n"
	"each answer is written as soon as it is known.\n"
	"\n"
	"  -e, --exe FILE      addresses are ELF virtual addresses in FILE (as\n"
	"                      addr2line and llvm-symbolizer take them)\n"
	"  -p, --pid PID       addresses are virtual addresses in process PID\n"
	"      --kernel        addresses are kernel addresses (/proc/kallsyms)\n"
	"  -i, --inlines       print inlined frames (the default)\n"
	"      --no-inlines    print only the innermost frame\n"
	"  -f, --functions     print function names (the default)\n"
	"      --no-functions  print only file:line:column\n"
	"  -C, --demangle      demangle C++ and Rust names (the default)\n"
	"      --no-demangle   print names as the object has them\n"
	"  -a, --addresses     print each address before its frames\n"
	"      --json          one JSON object per address, per line\n"
	"      --debug-dir DIR separate debug files (default /usr/lib/debug)\n"
	"  -h, --help          show this help\n"
	"\n"
	"DEBUGINFOD_URLS, when set, names debuginfod servers to fetch missing\n"
	"debug files from.\n";

enum {
	OPT_KERNEL = 256,
	OPT_NO_INLINES,
	OPT_NO_FUNCTIONS,
	OPT_NO_DEMANGLE,
	OPT_JSON,
	OPT_DEBUG_DIR,
};

static const struct option long_opts[] = {
	{ "exe", required_argument, NULL, 'e' },
	{ "obj", required_argument, NULL, 'e' },
	{ "pid", required_argument, NULL, 'p' },
	{ "kernel", no_argument, NULL, OPT_KERNEL },
	{ "inlines", no_argument, NULL, 'i' },
	{ "no-inlines", no_argument, NULL, OPT_NO_INLINES },
	{ "functions", no_argument, NULL, 'f' },
	{ "no-functions", no_argument, NULL, OPT_NO_FUNCTIONS },
	{ "demangle", no_argument, NULL, 'C' },
	{ "no-demangle", no_argument, NULL, OPT_NO_DEMANGLE },
	{ "addresses", no_argument, NULL, 'a' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/*
 * Answers already given, by address: a stream of a profile's addresses
 * asks the same ones again and again, and a repeat then costs one probe
 * and a copy. Only where an answer cannot change during the run (a file,
 * the kernel's symbols as read at the start), not for a live process,
 * which may map something else at an address. The table is emptied when
 * its answers hold CACHE_MAX bytes. Its own open addressing rather than
 * lib/hmap: a slot holds the address and where its answer is, so a look-up
 * is one cache miss, not three.
 */
#define CACHE_MAX (256u << 20)

struct cached {
	uint64_t addr;
	uint32_t off; /* in cache_text */
	uint32_t len : 31; /* 0: an empty slot (an answer is never empty) */
	uint32_t unresolved : 1; /* 16 bytes a slot: four to a cache line */
};

struct symctx {
	struct symbolizer *s;
	struct sym_proc *sp;
	const char *file;
	uint32_t handle;
	bool kernel;
	bool inlines, functions, addresses, json;
	uint64_t unresolved;
	struct strbuf out; /* the answer being written */
	bool caching;
	struct cached *cache; /* mask + 1 slots */
	size_t cache_mask, ncache;
	struct strbuf cache_text;
	char *obuf; /* answers waiting to be written (OUT_SIZE) */
	size_t olen;
	int write_errno; /* the first failed write's */
};

/*
 * Our own output buffer rather than stdio's: answers are copied in one
 * memcpy each (fwrite's layers cost more than the copy for a 40-byte
 * answer, ten million times) and written in 1 MiB writes.
 */
#define OUT_SIZE (1u << 20)

/* Write p[0..n) to stdout; after a failed write, nothing more. */
static int write_all(struct symctx *c, const char *p, size_t n)
{
	while (n && !c->write_errno) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			c->write_errno = w < 0 ? errno : EIO;
		} else {
			p += w;
			n -= (size_t)w;
		}
	}
	return c->write_errno ? -1 : 0;
}

static int out_flush(struct symctx *c)
{
	size_t n = c->olen;

	c->olen = 0;
	return write_all(c, c->obuf, n);
}

static void out(struct symctx *c, const char *p, size_t n)
{
	if (c->olen + n > OUT_SIZE) {
		out_flush(c);
		if (n > OUT_SIZE) { /* larger than the buffer: as it is */
			write_all(c, p, n);
			return;
		}
	}
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
}

static const char *kind_name(const struct sym_result *r, uint32_t i)
{
	if (i + 1 < r->nframes)
		return "inlined";
	switch (r->kind) {
	case FRAME_KERNEL:
		return "kernel";
	case FRAME_JIT:
		return "jit";
	default:
		return "user";
	}
}

static void answer_json(struct symctx *c, uint64_t addr,
			const struct sym_result *r)
{
	json_t *o = json_object(), *frames = json_array();
	char hex[32];
	char *text;

	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)addr);
	json_object_set_new(o, "Address", json_string(hex));
	json_object_set_new(o, "ModuleName",
			    r->module ? json_string(r->module) : json_null());
	if (r->module) {
		snprintf(hex, sizeof(hex), "0x%llx",
			 (unsigned long long)r->module_offset);
		json_object_set_new(o, "ModuleOffset", json_string(hex));
	}
	for (uint32_t i = 0; i < r->nframes; i++) {
		const struct sym_frame *f = &r->frames[i];
		json_t *fr = json_object();

		if (!c->inlines && i > 0)
			break;
		json_object_set_new(fr, "FunctionName",
				    json_string(c->functions && f->name ? f->name
									: ""));
		json_object_set_new(fr, "FileName",
				    json_string(f->file ? f->file : ""));
		json_object_set_new(fr, "Line", json_integer(f->line));
		json_object_set_new(fr, "Column", json_integer(f->column));
		json_object_set_new(fr, "StartLine", json_integer(f->start_line));
		json_object_set_new(fr, "Kind", json_string(kind_name(r, i)));
		if (i + 1 == r->nframes && r->module) {
			/* Where the function (the symbol) starts. */
			snprintf(hex, sizeof(hex), "0x%llx",
				 (unsigned long long)(r->module_offset -
						      r->symbol_offset));
			json_object_set_new(fr, "StartAddress",
					    json_string(hex));
		}
		json_array_append_new(frames, fr);
	}
	json_object_set_new(o, "Symbol", frames);
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text) {
		strbuf_adds(&c->out, text);
		strbuf_addc(&c->out, '\n');
	}
	free(text);
	json_decref(o);
}

/* Numbers written by hand rather than with strbuf_addf: an answer has
 * three or more, and printf's machinery was a tenth of a cold run over a
 * library's symbols. */
static void add_uint(struct strbuf *sb, uint64_t v, unsigned base)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	strbuf_grow(sb, n);
	while (n)
		sb->buf[sb->len++] = tmp[--n];
	sb->buf[sb->len] = '\0';
}

/* "FILE:LINE:COLUMN\n", FILE "??" when unknown. */
static void add_position(struct strbuf *sb, const char *file, uint32_t line,
			 uint32_t column)
{
	strbuf_adds(sb, file ? file : "??");
	strbuf_addc(sb, ':');
	add_uint(sb, line, 10);
	strbuf_addc(sb, ':');
	add_uint(sb, column, 10);
	strbuf_addc(sb, '\n');
}

/* An answer without a function, in llvm-symbolizer's spelling. */
static void print_unknown(struct symctx *c, const struct sym_frame *f)
{
	if (c->functions)
		strbuf_adds(&c->out, "??\n");
	if (f && f->file) {
		add_position(&c->out, f->file, f->line, f->column);
		strbuf_addc(&c->out, '\n');
	} else
		strbuf_adds(&c->out, "??:0:0\n\n");
}

/* Write and forget c->out. */
static void flush_out(struct symctx *c)
{
	out(c, c->out.buf, c->out.len);
	strbuf_reset(&c->out);
}

/* Each hexadecimal digit's value plus one, 0 for any other byte: one
 * load per character, where comparisons were a sixth of answering from
 * the cache. */
static const unsigned char hex_value1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hex_digit(char ch)
{
	return (int)hex_value1[(unsigned char)ch] - 1;
}

static size_t cache_pos(const struct symctx *c, uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 20) & c->cache_mask;
}

static const struct cached *cache_find(const struct symctx *c, uint64_t addr)
{
	if (!c->cache)
		return NULL;
	for (size_t pos = cache_pos(c, addr); c->cache[pos].len;
	     pos = (pos + 1) & c->cache_mask)
		if (c->cache[pos].addr == addr)
			return &c->cache[pos];
	return NULL;
}

static void cache_add(struct symctx *c, uint64_t addr, bool unresolved)
{
	size_t pos;

	if (c->cache_text.len + c->out.len > CACHE_MAX) {
		free(c->cache);
		c->cache = NULL;
		c->ncache = 0;
		strbuf_reset(&c->cache_text);
	}
	if (!c->cache || (c->ncache + 1) * 2 > c->cache_mask + 1) {
		struct cached *old = c->cache;
		size_t oldn = old ? c->cache_mask + 1 : 0;

		c->cache_mask = oldn ? oldn * 2 - 1 : 4095;
		c->cache = xcalloc(c->cache_mask + 1, sizeof(*c->cache));
		for (size_t i = 0; i < oldn; i++) {
			if (!old[i].len)
				continue;
			pos = cache_pos(c, old[i].addr);
			while (c->cache[pos].len)
				pos = (pos + 1) & c->cache_mask;
			c->cache[pos] = old[i];
		}
		free(old);
	}
	pos = cache_pos(c, addr);
	while (c->cache[pos].len)
		pos = (pos + 1) & c->cache_mask;
	c->cache[pos] = (struct cached){
		.addr = addr, .off = (uint32_t)c->cache_text.len,
		.len = (uint32_t)c->out.len, .unresolved = unresolved,
	};
	c->ncache++;
	strbuf_add(&c->cache_text, c->out.buf, c->out.len);
}

static void answer(struct symctx *c, uint64_t addr)
{
	struct sym_result r;
	const struct cached *hit = c->caching ? cache_find(c, addr) : NULL;

	if (hit) {
		c->unresolved += hit->unresolved;
		out(c, c->cache_text.buf + hit->off, hit->len);
		return;
	}
	if (c->kernel)
		symbolize_kernel(c->s, addr, false, &r);
	else if (c->sp)
		symbolize_user(c->s, c->sp, addr, false, &r);
	else
		symbolize_opened(c->s, c->handle, addr, &r);
	if (r.status != SYM_OK)
		c->unresolved++;
	if (c->json) {
		answer_json(c, addr, &r);
	} else {
		if (c->addresses) {
			strbuf_adds(&c->out, "0x");
			add_uint(&c->out, addr, 16);
			strbuf_addc(&c->out, '\n');
		}
		if (r.status != SYM_OK) {
			/* Maybe a line without a function (padding the line
			 * table covers): "??" and that line. */
			print_unknown(c, r.nframes ? &r.frames[0] : NULL);
		} else {
			for (uint32_t i = 0; i < r.nframes; i++) {
				const struct sym_frame *f = &r.frames[i];

				if (!c->inlines && i > 0)
					break;
				if (c->functions) {
					strbuf_adds(&c->out, f->name);
					strbuf_addc(&c->out, '\n');
				}
				add_position(&c->out, f->file, f->line,
					     f->column);
			}
			strbuf_addc(&c->out, '\n');
		}
	}
	if (c->caching)
		cache_add(c, addr, r.status != SYM_OK);
	flush_out(c);
}

/* By hand rather than strtoull: millions of lines go through it. */
static int parse_addr(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int d, n = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; (d = hex_digit(*s)) >= 0; s++, n++) {
		if (v >> 60)
			return -ERANGE;
		v = v << 4 | (uint64_t)d;
	}
	if (!n)
		return -EINVAL;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * Read addresses from stdin with read(2), flushing our answers whenever
 * no complete line is waiting: a caller that writes one address and waits
 * for its answer gets it at once, and a pipe of millions is answered in
 * large writes. The complete lines of what was read are cut and parsed in
 * one pass; while one is answered, the cache slot of the line
 * PREFETCH_LINES ahead is fetched, so that the cache's misses overlap (a
 * look-up in a big cache waits on memory).
 */
#define PREFETCH_LINES 16
#define READ_SIZE (1u << 20)

/* A line of input, cut at its newline and parsed once. */
struct in_line {
	size_t start, len; /* in the input buffer */
	uint64_t addr;
	bool ok; /* addr is what the line says */
};

static void one_line(struct symctx *c, const char *line,
		     const struct in_line *in, unsigned long lineno, int *bad)
{
	if (in->ok) {
		answer(c, in->addr);
		return;
	}
	if (strspn(line, " \t\r") == in->len)
		return; /* a blank line */
	if ((*bad)++ < 10)
		log_err("line %lu: '%.64s' is not a hexadecimal address", lineno,
			line);
	if (c->json)
		strbuf_adds(&c->out, "{\"Error\":\"not an address\"}\n");
	else
		print_unknown(c, NULL);
	flush_out(c);
}

static int from_stdin(struct symctx *c)
{
	size_t cap = READ_SIZE, len = 0, lines_cap = 0;
	struct in_line *lines = NULL;
	char *buf = malloc(cap + 1);
	unsigned long lineno = 0;
	int bad = 0;
	bool eof = false;

	if (!buf)
		return -ENOMEM;
	while (!eof) {
		size_t n = 0, start = 0;
		ssize_t got;

		/* More input: answers go out first, if a caller waits. */
		if (out_flush(c))
			break;
		got = read(STDIN_FILENO, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			log_err("cannot read standard input: %s", strerror(errno));
			free(buf);
			free(lines);
			return -errno;
		}
		if (got == 0) {
			eof = true;
			if (len)
				buf[len++] = '\n'; /* the last line, unended */
		}
		len += (size_t)got;
		for (char *p = buf, *e; (e = memchr(p, '\n', len - (size_t)(p - buf)));
		     p = e + 1) {
			struct in_line *l;

			ALLOC_GROW(lines, n + 1, lines_cap);
			l = &lines[n++];
			*e = '\0';
			l->start = (size_t)(p - buf);
			l->len = (size_t)(e - p);
			l->ok = !parse_addr(p, &l->addr);
			start = (size_t)(e - buf) + 1;
		}
		for (size_t k = 0; k < n; k++) {
			if (c->cache && k + PREFETCH_LINES < n &&
			    lines[k + PREFETCH_LINES].ok)
				__builtin_prefetch(&c->cache[cache_pos(
					c, lines[k + PREFETCH_LINES].addr)]);
			one_line(c, buf + lines[k].start, &lines[k], ++lineno,
				 &bad);
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len == cap && !eof) {
			char *nb = cap >= (64u << 20) ? NULL : realloc(buf, cap * 2 + 1);

			if (!nb) {
				log_err("line %lu: longer than 64 MiB", lineno + 1);
				free(buf);
				free(lines);
				return -EINVAL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	free(lines);
	free(buf);
	if (bad > 10)
		log_err("%d lines were not addresses", bad);
	return bad ? -EINVAL : 0;
}

int cmd_symbolize(int argc, char **argv)
{
	struct sym_opts so = { 0 };
	struct symctx c = { .inlines = true, .functions = true };
	long pid = -1;
	int opt, err = 0;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":e:p:ifCah", long_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'e':
			c.file = optarg;
			break;
		case 'p':
			if (parse_long(optarg, 1, 0x7fffffff, &pid))
				return usage_error(CMD, "invalid process id '%s'",
						   optarg);
			break;
		case OPT_KERNEL:
			c.kernel = true;
			break;
		case 'i':
			c.inlines = true;
			break;
		case OPT_NO_INLINES:
			c.inlines = false;
			break;
		case 'f':
			c.functions = true;
			break;
		case OPT_NO_FUNCTIONS:
			c.functions = false;
			break;
		case 'C':
			so.no_demangle = false;
			break;
		case OPT_NO_DEMANGLE:
			so.no_demangle = true;
			break;
		case 'a':
			c.addresses = true;
			break;
		case OPT_JSON:
			c.json = true;
			break;
		case OPT_DEBUG_DIR:
			so.debug_dir = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return option_error(CMD, opt, argv);
		}
	}
	if (!!c.file + (pid > 0) + c.kernel != 1)
		return usage_error(CMD, "say where the addresses are: one of"
				   " -e FILE, -p PID or --kernel");
	for (int i = optind; i < argc; i++) {
		uint64_t a;

		if (parse_addr(argv[i], &a))
			return usage_error(CMD, "'%s' is not a hexadecimal"
					   " address", argv[i]);
	}

	c.s = symbolizer_new(&so);
	if (c.file &&
	    (c.handle = symbolizer_open_file(c.s, c.file)) == UINT32_MAX) {
		log_err("cannot read '%s': %s", c.file,
			errno == ENOEXEC ? "not an ELF file" : strerror(errno));
		symbolizer_free(c.s);
		return 1;
	}
	if (c.file) {
		struct sym_stats st;

		symbolizer_stats(c.s, &st);
		if (!st.symbols && !st.dwarf_objects)
			log_warn("'%s' has no symbols and no debug information"
				 " (stripped without a debug file, or"
				 " truncated): addresses will be unknown",
				 c.file);
	}
	if (pid > 0) {
		c.sp = sym_proc_capture(c.s, (int)pid, 0);
		if (!c.sp) {
			log_err("cannot read process %ld: %s", pid,
				errno == ESRCH ? "no such process" : strerror(errno));
			symbolizer_free(c.s);
			return 1;
		}
	}
	if (c.kernel && symbolizer_kernel_problem(c.s))
		log_warn("%s", symbolizer_kernel_problem(c.s));
	c.caching = !c.sp;
	strbuf_init(&c.out);
	strbuf_init(&c.cache_text);
	/* Answers go out in large writes; from_stdin flushes whenever it
	 * waits for input. */
	c.obuf = xmalloc(OUT_SIZE);

	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			uint64_t a;

			parse_addr(argv[i], &a);
			answer(&c, a);
		}
	} else {
		err = from_stdin(&c);
	}
	if (out_flush(&c) && c.write_errno != EPIPE) {
		log_err("cannot write standard output: %s",
			strerror(c.write_errno));
		err = -c.write_errno;
	}
	if (c.unresolved)
		log_info("%llu address(es) not resolved to a function",
			 (unsigned long long)c.unresolved);
	free(c.obuf);
	free(c.cache);
	strbuf_release(&c.out);
	strbuf_release(&c.cache_text);
	sym_proc_free(c.sp);
	symbolizer_free(c.s);
	return err ? 1 : 0;
}
