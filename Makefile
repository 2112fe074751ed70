# autotrace — build, test, demo, bench, install.
#
# Products (in build/):
#   libautotrace.so       the preloaded shim: hooks + capture queue, libc only
#   libautotrace-core.so  parsers, spool, worker glue; dlopen()ed RTLD_LOCAL by
#                         the shim on the first capture (see docs/architecture.md)
#   autotrace             the CLI
# Knobs: CC, OPT (default -O2), PREFIX, DESTDIR, SAN=1 (sanitizer build into
# build/asan/).

CC      ?= cc
V       ?= 0
OPT     ?= -O2
PREFIX  ?= /usr/local
DESTDIR ?=

ifeq ($(SAN),1)
B        := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
else
B        := build
SANFLAGS :=
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   += -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -fPIC \
            -fvisibility=hidden $(SANFLAGS) -I. -Icommon -Iproviders -Ispool
LDFLAGS  += $(SANFLAGS)

COMMON_SRC    := $(wildcard common/*.c)
PROVIDERS_SRC := $(wildcard providers/*.c)
SPOOL_SRC     := $(wildcard spool/*.c)
# HTTP/1.1 and HTTP/2 decoding of raw byte streams (docs/wire.md).
WIRE_SRC      := $(wildcard wire/*.c)
# The nesting engine: calls and events -> the observation tree
# (docs/nesting.md). Pure; linked into the core, the CLI and its tests.
NEST_SRC      := $(wildcard nest/*.c)
# The shim proper: hooks, runtime, and the allocation-free URL matcher.
SHIM_SRC      := $(filter-out preload/core_%.c,$(wildcard preload/*.c)) \
                 $(wildcard hooks/*.c) $(COMMON_SRC) providers/registry.c
# log.c and capture.c are linked into both objects: the core is loaded
# RTLD_LOCAL and cannot (and should not) reach into the shim's symbols.
CORE_SRC      := $(wildcard preload/core_*.c) preload/log.c preload/capture.c \
                 $(COMMON_SRC) \
                 $(PROVIDERS_SRC) $(SPOOL_SRC) $(WIRE_SRC) $(NEST_SRC)
CLI_SRC       := $(wildcard cli/*.c)
LIB_SRC       := $(COMMON_SRC) $(PROVIDERS_SRC) $(SPOOL_SRC) $(WIRE_SRC) \
                 $(NEST_SRC)
CLI_LIB_SRC   := $(filter-out cli/main.c,$(CLI_SRC))
TOOL_SRC      := $(wildcard tests/tools/*.c)
EXAMPLE_SRC   := $(wildcard examples/*.c)
BENCH_SRC     := $(wildcard bench/*.c)

# Quiet by default, like curl and Redis: `make V=1` prints whole commands.
ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = printf '  %-6s %s\n' $(1) $(2);
endif

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

SHIM   := $(B)/libautotrace.so
CORE   := $(B)/libautotrace-core.so
CLI    := $(B)/autotrace
# One Criterion binary per module, linking only what that module needs, so
# that each module's tests build on their own.
UNIT_MODULES := $(notdir $(wildcard tests/unit/*))
UNITS  := $(patsubst %,$(B)/tests/unit_%,$(UNIT_MODULES))
UNIT_DEPS_common    := $(COMMON_SRC)
UNIT_DEPS_providers := $(COMMON_SRC) $(PROVIDERS_SRC)
UNIT_DEPS_spool     := $(COMMON_SRC) $(SPOOL_SRC)
UNIT_DEPS_preload   := $(COMMON_SRC) preload/config.c preload/bufpool.c preload/capture.c
UNIT_DEPS_cli       := $(CLI_LIB_SRC) $(LIB_SRC)
UNIT_DEPS_wire      := $(COMMON_SRC) $(WIRE_SRC) $(PROVIDERS_SRC)
UNIT_DEPS_nest      := $(COMMON_SRC) $(NEST_SRC)
# Extra libraries of one module's tests (the wire tests compress fixtures).
UNIT_LIBS_wire      := -lbrotlienc
# Stack capture and symbolization: a call chain built with and without
# frame pointers, and a shared object with and without .symtab.
UNIT_DEPS_stack     := preload/stack.c preload/core_symbolize.c
UNIT_LIBS_stack     := -ldw -lelf -ldl
$(B)/obj/tests/unit/stack/chain_nofp.o: CFLAGS += -fomit-frame-pointer
$(B)/obj/tests/unit/stack/chain_fp.o: CFLAGS += -fno-omit-frame-pointer
# Hot/cold splitting is on at -O2 in GCC; asked for whatever OPT is.
$(B)/obj/tests/unit/stack/chain_cold.o: CFLAGS += -O2 -fomit-frame-pointer -freorder-blocks-and-partition
$(B)/obj/tests/unit/stack/chain_cold_fp.o: CFLAGS += -O2 -fno-omit-frame-pointer -freorder-blocks-and-partition
SYMTEST := $(B)/tests/libsymtest.so $(B)/tests/libsymtest-stripped.so
# The TLS/socket capture path's pure parts: sniffing and the core's side.
UNIT_DEPS_conn      := $(COMMON_SRC) $(WIRE_SRC) $(PROVIDERS_SRC) \
                       hooks/conn_sniff.c preload/core_conn.c preload/log.c
# gnutls_client links libgnutls (a test-only dependency): built with the
# unit tests, not by `make all`.
GNUTLS_TOOL := $(B)/tests/gnutls_client
TOOLS  := $(filter-out $(GNUTLS_TOOL),$(patsubst tests/tools/%.c,$(B)/tests/%,$(TOOL_SRC)))
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRC))
BENCHES  := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

.PHONY: all units deps deps-test demo test test-unit test-integration conformance \
        bench fuzz install uninstall clean format format-check

all: $(SHIM) $(CORE) $(CLI) $(EXAMPLES) $(TOOLS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,CC,$<)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The shim links nothing but libc: libcurl and libssl are only ever reached
# through dlsym(RTLD_NEXT) when the application itself has loaded them.
# -z noseparate-code: two LOAD segments instead of four, fewer mmaps and
# page faults in every exec'd process (docs/benchmarks.md, /bin/true).
$(SHIM): $(call obj,$(SHIM_SRC)) preload/exports.map
	$(Q)$(call say,LINK,$@)$(CC) -shared -o $@ $(call obj,$(SHIM_SRC)) $(LDFLAGS) \
	  -Wl,--version-script=preload/exports.map -Wl,-z,defs \
	  -Wl,-z,noseparate-code -ldl -lpthread

$(CORE): $(call obj,$(CORE_SRC)) preload/core.map
	$(Q)$(call say,LINK,$@)$(CC) -shared -o $@ $(call obj,$(CORE_SRC)) $(LDFLAGS) \
	  -Wl,--version-script=preload/core.map -Wl,-z,defs -lcjson -llmdb -lpthread -lm \
	  -lz -lbrotlidec -lzstd -ldw -lelf -lnghttp2

# Only the CLI links libcurl (the uploader is a libcurl client); the shim
# never does.
$(CLI): $(call obj,$(CLI_SRC) $(LIB_SRC))
	$(Q)$(call say,LINK,$@)$(CC) -o $@ $^ $(LDFLAGS) -lcurl -lcjson -llmdb -lpthread -lm -lz \
	  -lbrotlidec -lzstd -lnghttp2

# Keep every object: the unit-test pattern rule makes them intermediate,
# and make would delete (and later rebuild) them.
.SECONDARY:

.SECONDEXPANSION:
$(B)/tests/unit_%: $$(call obj,$$(wildcard tests/unit/$$*/*.c) $$(UNIT_DEPS_$$*))
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) -o $@ $^ $(LDFLAGS) -lcriterion -lcurl -lcjson -llmdb -lpthread -lm -lz \
	  -lbrotlidec -lzstd -lnghttp2 $(UNIT_LIBS_$*)

$(B)/tests/unit_stack: | $(SYMTEST)

$(B)/tests/libsymtest.so: tests/unit/stack/lib/symtest.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -shared -o $@ $< $(LDFLAGS)

$(B)/tests/libsymtest-stripped.so: $(B)/tests/libsymtest.so
	$(Q)$(call say,STRIP,$@)strip --strip-all -o $@ $<

$(B)/tests/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lcurl -lpthread

$(B)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lcurl

$(B)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $< $(call obj,$(LIB_SRC)) $(LDFLAGS) -lcurl \
	  -lcjson -llmdb -lpthread -lm -lz -lbrotlidec -lzstd -lnghttp2

$(BENCHES): $(call obj,$(LIB_SRC))

# The stack capture benchmark times preload/stack.c itself.
$(B)/bench/stack_bench: bench/stack_bench.c $(call obj,preload/stack.c)
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $< $(call obj,preload/stack.c) $(LDFLAGS) -ldl

# The TLS benchmark's server and client are OpenSSL programs.
$(B)/bench/tls_bench: bench/tls_bench.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lssl -lcrypto

# ---- the two commands of the README ----

deps:
	@sh scripts/deps.sh build

deps-test:
	@sh scripts/deps.sh test

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

# Everything is built twice: plain (what users run) and with ASan+UBSan;
# unit tests run under the sanitizers, integration tests under both builds.
test: deps-test
	@$(MAKE) --no-print-directory all units
	@$(MAKE) --no-print-directory SAN=1 all units
	@sh tests/run.sh all

units: $(UNITS) $(GNUTLS_TOOL)

$(GNUTLS_TOOL): tests/tools/gnutls_client.c
	@mkdir -p $(dir $@)
	$(Q)$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lgnutls

test-unit:
	@$(MAKE) --no-print-directory SAN=1 units
	@sh tests/run.sh unit

test-integration: all
	@sh tests/run.sh integration

conformance: all
	@/usr/bin/python3 tests/conformance.py ../shared/corpus

bench: deps-test
	@$(MAKE) --no-print-directory OPT=-O2 all $(BENCHES)
	@sh bench/run.sh

fuzz:
	@sh tests/fuzz/run.sh

# ---- install ----

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/autotrace \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/bin/autotrace
	install -m 0644 $(SHIM) $(CORE) $(DESTDIR)$(PREFIX)/lib/autotrace/
	install -m 0644 man/autotrace.1 $(DESTDIR)$(PREFIX)/share/man/man1/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/autotrace \
	  $(DESTDIR)$(PREFIX)/share/man/man1/autotrace.1
	rm -rf $(DESTDIR)$(PREFIX)/lib/autotrace

clean:
	rm -rf build

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
