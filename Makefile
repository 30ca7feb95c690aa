# fedsched -- one non-recursive Makefile. Objects go to $(BUILD)/, never beside sources.
#
#   make            build build/fedsched
#   make test       install missing packages, start a private PostgreSQL, run every test
#   make run        private PostgreSQL under .run/, simulated clusters, fedsched serve
#   make bench      benchmarks, each beside its baseline (BENCH_MODE=smoke for CI)
#   make asan       the whole test suite under AddressSanitizer + UBSan
#   make lint       the layer check, clang-format check, cppcheck, banned-function grep
#   make fmt        clang-format in place

BUILD   ?= build
CC      ?= cc
PKGS    := libmicrohttpd jansson libcurl liburcu libpq yaml-0.1
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# Truncation by snprintf is how bounded formatting is meant to work here, so the
# warning that it may happen is off.
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla \
           -Wno-format-truncation
OPT     ?= -O2 -g
CPPFLAGS += -I. -D_GNU_SOURCE
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
CFLAGS  += $(WARN) $(OPT) -MMD -MP -pthread
LDLIBS  += -pthread -lm
# The simulator checks client certificates with GnuTLS, libmicrohttpd's TLS library.
LDLIBS  += -lgnutls

ifeq ($(TSAN),1)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# pkg-config runs lazily: the first `make test` on a fresh machine installs the
# packages before anything asks for their flags.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

# Every .c in a layer folder is part of the library; cmd/main.c is the binary.
LAYERS   := base policy cluster store api whatif scheduler client cmd
LIB_SRCS := $(filter-out cmd/main.c,$(foreach d,$(LAYERS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o \
            $(BUILD)/obj/gen/web.o
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
WEB_FILES  := $(sort $(shell find web -type f 2>/dev/null))
LIB      := $(BUILD)/libfedsched.a
BIN      := $(BUILD)/fedsched

# The fake Kubernetes API for tests, benchmarks and `make run`: its own objects and its
# own binary, never linked into fedsched.
KUBESIM_SRCS := $(filter-out tools/kubesim/kubesim_main.c,$(wildcard tools/kubesim/*.c))
KUBESIM_OBJS := $(KUBESIM_SRCS:%.c=$(BUILD)/obj/%.o)
KUBESIM_LIB  := $(BUILD)/libkubesim.a
KUBESIM_BIN  := $(BUILD)/fedsched-kubesim

SUPPORT_SRCS := $(wildcard tests/support/*.c)
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
INTEG_SRCS   := $(wildcard tests/integration/test_*.c)
BENCH_SRCS   := $(wildcard tests/bench/*.c)
UNIT_BINS    := $(UNIT_SRCS:%.c=$(BUILD)/%)
INTEG_BINS   := $(INTEG_SRCS:%.c=$(BUILD)/%)
BENCH_BINS   := $(BENCH_SRCS:%.c=$(BUILD)/%)
# Prints every object fedsched creates in member clusters, for test_schemas.
SCHEMA_BINS  := $(BUILD)/tests/schema/dump_objects

# Keep intermediate objects (test .o files) so relinks do not recompile.
.SECONDARY:

.PHONY: all deps test unit integration run bench asan tsan valgrind lint fmt clean
.DEFAULT_GOAL := all

all: $(BIN) $(KUBESIM_BIN)

deps:
	@.ci/deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) $(CFLAGS) -c $< -o $@

# Migrations are compiled in, so a deployed binary needs no files beside it.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) store/embed-migrations.sh
	@mkdir -p $(dir $@)
	$(Q)store/embed-migrations.sh $(MIGRATIONS) > $@

# So is the dashboard (web/), served under /ui/.
$(BUILD)/gen/web.c: $(WEB_FILES) api/embed-web.sh
	@mkdir -p $(dir $@)
	$(Q)api/embed-web.sh $(WEB_FILES) > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Only version.o carries the version, so a new commit does not rebuild everything.
$(BUILD)/obj/base/version.o: CPPFLAGS += -DFEDSCHED_VERSION='"$(VERSION)"'
$(BUILD)/obj/base/version.o: $(wildcard .git/HEAD .git/index)

$(BIN): $(BUILD)/obj/cmd/main.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(LDLIBS) -o $@

$(KUBESIM_LIB): $(KUBESIM_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(KUBESIM_BIN): $(BUILD)/obj/tools/kubesim/kubesim_main.o $(KUBESIM_LIB) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(SUPPORT_OBJS) $(KUBESIM_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CHECK_LIBS) $(LDLIBS) -o $@

# Tests need the binaries too: integration tests start `fedsched serve` and
# `fedsched-kubesim`.
test: deps
	@$(MAKE) --no-print-directory $(BIN) $(KUBESIM_BIN) $(UNIT_BINS) $(INTEG_BINS) $(BENCH_BINS) $(SCHEMA_BINS)
	@BUILD=$(BUILD) tests/run-tests.sh $(UNIT_BINS) $(INTEG_BINS)

unit: deps
	@$(MAKE) --no-print-directory $(UNIT_BINS)
	@BUILD=$(BUILD) NO_PG=1 tests/run-tests.sh $(UNIT_BINS)

run: deps
	@$(MAKE) --no-print-directory $(BIN) $(KUBESIM_BIN)
	@BUILD=$(BUILD) tools/run-local.sh

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(KUBESIM_BIN) $(BENCH_BINS)
	@BUILD=$(BUILD) tests/bench/run-bench.sh

# Two suites at a time, as `make test` runs them: the sanitizers slow every suite two to
# three times, and the timing checks leave room for that.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 OPT="-O1 -g" test

# ThreadSanitizer on the tests that race threads on purpose: readers of the RCU-published
# capacity snapshot against the poller publishing and changing its cluster set; threads
# handing sockets to the lingering close while it reads others.
TSAN_TESTS := build/tsan/tests/unit/test_cluster_poller build/tsan/tests/unit/test_linger

tsan: deps
	@$(MAKE) --no-print-directory BUILD=build/tsan TSAN=1 OPT="-O1 -g" $(TSAN_TESTS)
	@BUILD=build/tsan NO_PG=1 TSAN_OPTIONS="halt_on_error=1" tests/run-tests.sh $(TSAN_TESTS)

# The integration tests with every fedsched server they start running under valgrind's
# memcheck: a definite or indirect leak, or any memory error, fails the test.
VALGRIND_TESTS := $(filter %/test_jobs_api %/test_clusters_api %/test_auth %/test_durability,$(INTEG_BINS))

valgrind: deps
	@$(MAKE) --no-print-directory $(BIN) $(KUBESIM_BIN) $(VALGRIND_TESTS)
	@BUILD=$(BUILD) FEDSCHED_VALGRIND=1 CK_TIMEOUT_MULTIPLIER=10 tests/run-tests.sh $(VALGRIND_TESTS)

LINT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

lint: deps
	@tests/layers.sh
	@tests/lint.sh $(LINT_SRCS)

fmt:
	clang-format -i $(LINT_SRCS)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- Debian package ------------------------------------------------------------------
#   make deb       $(BUILD)/fedsched_<version>_<arch>.deb with dpkg-deb (deploy/debian/)
#   make deb-test  builds it, installs it, runs the unit's ExecStart against a private
#                  PostgreSQL until /readyz answers, purges it (root; tests/package/)
# The version grows with the commit count, so a newer build upgrades an older one.
DEB_VERSION = 0.$(shell git rev-list --count HEAD 2>/dev/null || echo 0)+g$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DEB = $(BUILD)/fedsched_$(DEB_VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb

.PHONY: deb deb-test

deb: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(Q)deploy/debian/build-deb.sh $(BIN) '$(DEB_VERSION)' $(DEB)

deb-test: deb
	@BUILD=$(BUILD) tests/package/test_deb.sh $(DEB)

# ---- fuzzing (libFuzzer) -------------------------------------------------------------
#   make fuzz        every tests/fuzz/fuzz_<t>.c for FUZZ_SECONDS each (default 600),
#                    seeds from testdata/fuzz/<t>/, findings under $(BUILD)/fuzz/artifacts/
#   make fuzz-smoke  the same for FUZZ_SMOKE_SECONDS each (CI)
# fuzz_request (the whole HTTP request path) gets a private PostgreSQL from the runner,
# tests/fuzz/run-fuzz.sh (or uses FEDSCHED_FUZZ_DSN when set); see docs/fuzzing.md.
# The library is rebuilt with clang and the sanitizers into $(BUILD)/fuzz/ so that
# libFuzzer sees coverage of the parsers, not only of the harness. Clang has no
# -Wformat-truncation, so that switch is dropped from the shared warning set, and clang
# warns where gcc does not (-Wformat-nonliteral on vsnprintf wrappers), so only the
# harnesses are built with -Werror: a clang-only warning elsewhere must not stop fuzzing.
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB     := $(FUZZ_BUILD)/libfedsched.a
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/migrations.o \
                 $(FUZZ_BUILD)/obj/gen/web.o
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(filter-out -Werror -Wno-format-truncation,$(WARN)) -O1 -g -MMD -MP -pthread \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link

.PHONY: fuzz fuzz-smoke fuzz-build

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/obj/base/version.o: CPPFLAGS += -DFEDSCHED_VERSION='"$(VERSION)"'
$(FUZZ_BUILD)/obj/tests/fuzz/%.o: FUZZ_CFLAGS += -Werror

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ $(PKG_LIBS) $(LDLIBS) -o $@

fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZ_LIB) $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run-fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BINS)

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

# ---- mutation check ------------------------------------------------------------------
#   make mutate        every point of tools/mutate/points.txt: plant the one-line bug in a
#                      scratch copy of HEAD, rebuild and run only the tests it names;
#                      exits non-zero below MUTATE_THRESHOLD per cent killed
#   make mutate-smoke  the points tagged smoke (CI); every one must be killed
# MUTATE_ARGS passes options through (--worktree, --keep, point names); docs/mutation.md.
MUTATE_THRESHOLD       ?= 90
MUTATE_SMOKE_THRESHOLD ?= 100
MUTATE_ARGS            ?=

.PHONY: mutate mutate-smoke

mutate: deps
	@MUTATE_THRESHOLD=$(MUTATE_THRESHOLD) tools/mutate/mutate.sh $(MUTATE_ARGS)

mutate-smoke: deps
	@MUTATE_THRESHOLD=$(MUTATE_SMOKE_THRESHOLD) tools/mutate/mutate.sh --tag smoke $(MUTATE_ARGS)
