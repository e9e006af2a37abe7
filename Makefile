# smolder — build, test, install.
#
#   make            build ./smolder
#   make run        install packages if missing, build, profile this host
#                   for 5 s and write flame.folded and flame.svg
#   make check      install packages if missing, build, run every test
#   make install    install to $(PREFIX) (DESTDIR honoured)
#   V=1             show full commands
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR := $(PREFIX)/share/doc/smolder

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

B := build
CFLAGS ?= -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DSMOLDER_VERSION='"$(VERSION)"' \
	$(WARNINGS) -I$(B) -I$(B)/gen -Ibpf -MMD -MP
LIBS := -lbpf -ldw -lelf -ldebuginfod -llzma -liberty -lz -lzstd -lxxhash -lprotobuf-c \
	-ljansson -lmicrohttpd -lcurl -lpthread -lm
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

# Generated sources: the pprof codec (protoc-c) and the flame graph script.
GEN_SRCS := $(B)/gen/profile.pb-c.c
WEB_ASSETS := index.html app.js app.css
GEN_HDRS := $(B)/gen/profile.pb-c.h $(B)/gen/flamegraph_js.h \
	$(patsubst %,$(B)/gen/web_%.h,$(subst .,_,$(WEB_ASSETS)))

# Everything but main.c goes into a library the unit tests link too.
LIB_SRCS := $(wildcard lib/*.c symbolizer/*.c formats/*.c web/*.c) \
	$(filter-out profiler/main.c,$(wildcard profiler/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o) \
	$(GEN_SRCS:$(B)/gen/%.c=$(B)/obj/gen/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(B)/san/%.o) \
	$(GEN_SRCS:$(B)/gen/%.c=$(B)/san/gen/%.o)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)
UNIT_SAN_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit-san/%)

WORKLOAD_SRCS := $(filter-out tests/workloads/lib%.c,$(wildcard tests/workloads/*.c))
WORKLOAD_LIBS := $(wildcard tests/workloads/lib*.c)
WORKLOADS := $(WORKLOAD_SRCS:tests/workloads/%.c=$(B)/workloads/%) \
	$(WORKLOAD_LIBS:tests/workloads/%.c=$(B)/workloads/%.so)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(B)/%.skel.h)

.PHONY: all deps run check test unit unit-san cli cli-san workloads install \
	fuzz fuzz-build fuzz-check \
	uninstall clean bench
all: smolder

smolder: $(B)/obj/profiler/main.o $(B)/libsmolder.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same binary with ASan+UBSan, for the end-to-end tests.
$(B)/smolder-san: $(B)/san/profiler/main.o $(B)/libsmolder-san.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/libsmolder.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/libsmolder-san.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/obj/%.o: %.c | $(BPF_SKELS) $(GEN_HDRS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(BASE_CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c | $(BPF_SKELS) $(GEN_HDRS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(BASE_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(B)/obj/gen/%.o: $(B)/gen/%.c $(GEN_HDRS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(BASE_CFLAGS) -c -o $@ $<

$(B)/san/gen/%.o: $(B)/gen/%.c $(GEN_HDRS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(BASE_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# ---- generated sources ----
$(B)/gen/profile.pb-c.c $(B)/gen/profile.pb-c.h &: formats/profile.proto
	$(call msg,PROTOC,$<)
	$(Q)mkdir -p $(B)/gen
	$(Q)protoc-c --c_out=$(B)/gen --proto_path=formats $<

$(B)/gen/flamegraph_js.h: formats/flamegraph.js
	$(call msg,XXD,$<)
	$(Q)mkdir -p $(B)/gen
	$(Q)xxd -i -n flamegraph_js $< > $@

# The web page's files, compiled in (web/assets.c serves them).
$(B)/gen/web_index_html.h: web/page/index.html
$(B)/gen/web_app_js.h: web/page/app.js
$(B)/gen/web_app_css.h: web/page/app.css
$(B)/gen/web_%.h:
	$(call msg,XXD,$<)
	$(Q)mkdir -p $(B)/gen
	$(Q)xxd -i -n web_$* $< > $@

# ---- BPF: vmlinux.h from the running kernel's BTF, objects, skeletons ----
$(B)/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)test -r $(VMLINUX_BTF) || { echo "error: $(VMLINUX_BTF) is missing:" \
		"the kernel needs CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(B)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(B)/vmlinux.h
	$(call msg,BPF,$<)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 \
		-Wall -Werror -I$(B) -Ibpf -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# ---- tests ----
$(B)/unit/%: tests/unit/%.c tests/unit/harness.h $(B)/libsmolder.a
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $< $(B)/libsmolder.a $(LIBS)

$(B)/unit-san/%: tests/unit/%.c tests/unit/harness.h $(B)/libsmolder-san.a
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(BASE_CFLAGS) $(SAN_FLAGS) -o $@ $< \
		$(B)/libsmolder-san.a $(LIBS)

# Test workloads keep frame pointers, in leaf functions too (which gcc 12
# drops even with -mno-omit-leaf-frame-pointer; clang keeps them).
$(B)/workloads/%: tests/workloads/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
		-Wall -Wextra -Werror -o $@ $< -lpthread -ldl

$(B)/workloads/%.so: tests/workloads/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
		-Wall -Wextra -Werror -fPIC -shared -o $@ $<

# Workloads without frame pointers (as distribution binaries are built),
# for the DWARF unwinder: gcc at -O2, which omits them everywhere.
NOFP_CFLAGS := -O2 -g -fomit-frame-pointer -Wall -Wextra -Werror
$(B)/workloads/libnofp.so: tests/workloads/libnofp.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(NOFP_CFLAGS) -fPIC -shared -o $@ $<

$(B)/workloads/nofp: tests/workloads/nofp.c $(B)/workloads/libnofp.so
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(NOFP_CFLAGS) -o $@ $< -L$(B)/workloads -lnofp \
		-Wl,-rpath,'$$ORIGIN'

$(B)/workloads/nofpcases: tests/workloads/nofpcases.c $(B)/workloads/libnofp.so
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(NOFP_CFLAGS) -o $@ $< -L$(B)/workloads -lnofp \
		-Wl,-rpath,'$$ORIGIN'

workloads: $(WORKLOADS)

unit: $(UNIT_BINS)
	$(Q)tests/unit/run $(UNIT_BINS)

unit-san: $(UNIT_SAN_BINS)
	$(Q)$(SAN_ENV) tests/unit/run $(UNIT_SAN_BINS)

cli: smolder workloads
	$(Q)tests/cli/run

# End-to-end tests that exercise the most code, again under the sanitizers.
# The file readers (formats, symbolizer) and the server's request handling
# are covered under them by the unit tests (unit-san) and the fuzzers.
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cli-san: $(B)/smolder-san workloads
	$(Q)$(SAN_ENV) SMOLDER=$(CURDIR)/$(B)/smolder-san \
		tests/cli/run t-record.sh t-procs.sh t-drops.sh t-errors.sh \
		t-unwind.sh t-agent.sh

# ---- fuzzing: libFuzzer targets over every reader of untrusted input ----
# The readers and writers are rebuilt with clang and coverage; each target
# replays its seeds and past crashes (tests/fuzz/corpus, .../regressions),
# then explores for FUZZ_SECONDS. `elf` feeds objects to the symbolizer;
# libelf and libdw are not instrumented, so only our side guides it.
# `ingest` feeds requests to the server's side (web/ingest.c, web/api.c
# over a store), with a dictionary of its keys (tests/fuzz/ingest.dict).
FUZZ_TARGETS := read pprof folded perfscript speedscope elf ingest
FUZZ_SRCS := $(wildcard lib/*.c formats/*.c)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(B)/fuzz/%.o) $(B)/fuzz/gen/profile.pb-c.o
# Apart, as they need libdw, libelf and friends the readers' targets do not.
FUZZ_SYM_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,$(wildcard symbolizer/*.c))
FUZZ_WEB_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,web/ingest.c web/api.c \
	web/assets.c profiler/store.c)
FUZZ_SECONDS ?= 3
FUZZ_DEF_read :=
FUZZ_DEF_pprof := -DFUZZ_PPROF
FUZZ_DEF_folded := -DFUZZ_FOLDED
FUZZ_DEF_perfscript := -DFUZZ_PERFSCRIPT
FUZZ_DEF_speedscope := -DFUZZ_SPEEDSCOPE

$(B)/fuzz/%.o: %.c | $(GEN_HDRS)
	$(call msg,CC-FUZZ,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -std=gnu11 -D_GNU_SOURCE $(WARNINGS) \
		-Wno-unused-command-line-argument -I$(B) -I$(B)/gen -MMD -MP \
		-c -o $@ $<

$(B)/fuzz/gen/%.o: $(B)/gen/%.c $(GEN_HDRS)
	$(call msg,CC-FUZZ,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -std=gnu11 -D_GNU_SOURCE -I$(B)/gen -c -o $@ $<

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_read.c $(FUZZ_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer $(FUZZ_DEF_$*) $(WARNINGS) \
		-std=gnu11 -D_GNU_SOURCE -I$(B)/gen -o $@ $< $(FUZZ_OBJS) \
		-lz -lzstd -lxxhash -lprotobuf-c -ljansson -lm

$(B)/fuzz/fuzz_elf: tests/fuzz/fuzz_elf.c $(FUZZ_OBJS) $(FUZZ_SYM_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer $(WARNINGS) \
		-std=gnu11 -D_GNU_SOURCE -o $@ $< $(FUZZ_OBJS) $(FUZZ_SYM_OBJS) \
		-ldw -lelf -ldebuginfod -llzma -liberty -lz -lzstd -lxxhash \
		-lprotobuf-c -ljansson -lm

$(B)/fuzz/fuzz_ingest: tests/fuzz/fuzz_ingest.c $(FUZZ_OBJS) $(FUZZ_WEB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer $(WARNINGS) \
		-std=gnu11 -D_GNU_SOURCE -o $@ $< $(FUZZ_OBJS) $(FUZZ_WEB_OBJS) \
		-lz -lzstd -lxxhash -lprotobuf-c -ljansson -lpthread -lm

FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

fuzz-build: $(FUZZ_BINS)

# A short run of every target (make check); `make fuzz` runs longer.
# Objects get more room than profiles, so that mutations of a real one
# (tens of KB) can still grow it.
fuzz-check: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(B)/fuzz/work/$$t; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		len=65536; [ $$t = elf ] && len=262144; \
		dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
		$(SAN_ENV) $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-timeout=10 -rss_limit_mb=2048 -max_len=$$len $$dict \
			-artifact_prefix=$(B)/fuzz/crash-$$t- \
			$(B)/fuzz/work/$$t tests/fuzz/corpus/$$t \
			tests/fuzz/regressions/$$t >$(B)/fuzz/$$t.log 2>&1 || \
			{ tail -40 $(B)/fuzz/$$t.log; echo "fuzz_$$t: FAILED" \
			  "(crash input in $(B)/fuzz/; copy it into" \
			  "tests/fuzz/regressions/$$t/)"; exit 1; }; \
		tail -1 $(B)/fuzz/$$t.log; \
	done

fuzz:
	$(Q)$(MAKE) --no-print-directory fuzz-check FUZZ_SECONDS=$${FUZZ_SECONDS:-300}

test: unit unit-san cli cli-san fuzz-check

deps:
	$(Q)scripts/install-deps

# The two commands at the top of README.md.
run: deps
	$(Q)$(MAKE) --no-print-directory smolder
	./smolder record -a -d 5 -o flame.folded -o flame.svg

# Everything the tests run, built on every CPU first; then the tests, one
# at a time (several measure sampling rates and must not share the CPUs).
NPROC := $(shell nproc 2>/dev/null || echo 2)
check: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) smolder $(B)/smolder-san \
		workloads $(UNIT_BINS) $(UNIT_SAN_BINS) $(FUZZ_BINS)
	$(Q)$(MAKE) --no-print-directory test

bench: smolder workloads
	bench/overhead

# The binary, the systemd units of the agent and of serve (`systemctl enable --now
# smolder-agent`), its config (kept if one is there) and the README.
install: smolder
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/smolder $(DESTDIR)$(DOCDIR)
	install -m 0755 smolder $(DESTDIR)$(BINDIR)/smolder
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|@DOCDIR@|$(DOCDIR)|g' dist/smolder-agent.service.in \
		> $(DESTDIR)$(UNITDIR)/smolder-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smolder-agent.service
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		dist/smolder-serve.service.in > $(DESTDIR)$(UNITDIR)/smolder-serve.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smolder-serve.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/smolder/agent.conf ] || \
		install -m 0644 dist/agent.conf $(DESTDIR)$(SYSCONFDIR)/smolder/agent.conf
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smolder \
		$(DESTDIR)$(UNITDIR)/smolder-agent.service \
		$(DESTDIR)$(UNITDIR)/smolder-serve.service \
		$(DESTDIR)$(DOCDIR)/README.md

clean:
	rm -rf $(B) smolder

-include $(shell find $(B) -name '*.d' 2>/dev/null)
