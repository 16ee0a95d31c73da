# Pulp in C: top-level build.
#
#   make            build build/mod_pulp.so, build/pulp-worker and build/pulp-manage-db
#   make check      install missing packages, build, run unit then functional tests
#   make demo       bring up the private stack and run the main job
#   make start|stop|status   manage the private stack under $(PULP_RUN_DIR)
#
# configure (and autoreconf) run by themselves when their output is missing or older than
# their inputs. CI=true or WERROR=1 turns warnings into errors.

SHELL := /bin/bash
B := build
O := $(B)/obj

# Goals that must work before configure can run, on a machine without the build packages.
NO_CONFIG_GOALS := check demo start stop status deps clean distclean fuzz-run unit functional
ifneq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(B)/config.mk
endif

CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
ifneq ($(filter true 1,$(CI) $(WERROR)),)
WARNINGS += -Werror
endif
BASE_CFLAGS = -std=gnu11 -fPIC -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) $(SANITIZE) -I. -Icommon

DEPS_CFLAGS = $(PQ_CFLAGS) $(JSONC_CFLAGS) $(APR_CFLAGS) $(CRYPTO_CFLAGS)
WORKER_CFLAGS = $(DEPS_CFLAGS) $(PROTON_CFLAGS) $(CURL_CFLAGS) $(CREATEREPO_CFLAGS) \
                $(GLIB_CFLAGS) $(RPM_CFLAGS) $(ARCHIVE_CFLAGS)
MODULE_CFLAGS = -I$(HTTPD_INCLUDEDIR) $(HTTPD_CPPFLAGS) $(APR_CFLAGS) $(APRUTIL_CFLAGS) \
                $(PQ_CFLAGS) $(JSONC_CFLAGS) $(PROTON_CFLAGS) $(CRYPTO_CFLAGS)

# common/ and the plugins' configuration checks: no httpd and no proton headers.
COMMON_SRCS := $(wildcard common/*.c) $(wildcard plugins/*/*_config.c)
# amqp/: the proton sender and receiver shared by mod_pulp and pulp-worker.
AMQP_SRCS := $(wildcard amqp/*.c)
MODULE_SRCS := $(wildcard mod_pulp/*.c)
# worker/ plus the plugins' task implementations (sync, publish, upload import).
WORKER_SRCS := $(filter-out worker/main.c worker/task_main.c,$(wildcard worker/*.c)) \
               $(filter-out %_config.c,$(wildcard plugins/*/*.c))
MANAGE_SRCS := $(wildcard tools/pulp-manage-db/*.c)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
MIGRATIONS := $(sort $(wildcard sql/[0-9]*.sql))

COMMON_LIB := $(B)/libpulpcommon.a
AMQP_LIB := $(B)/libpulpamqp.a
WORKER_LIB := $(B)/libpulpworker.a
COMMON_LDLIBS = $(PQ_LIBS) $(JSONC_LIBS) $(APR_LIBS) $(CRYPT_LIBS) $(CRYPTO_LIBS)
WORKER_LDLIBS = $(PROTON_LIBS) $(CURL_LIBS) $(CREATEREPO_LIBS) $(GLIB_LIBS) $(RPM_LIBS) \
                $(ARCHIVE_LIBS) $(COMMON_LDLIBS) -lm

PROGRAMS := $(B)/mod_pulp.so $(B)/pulp-worker $(B)/pulp-task $(B)/pulp-manage-db
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))

.PHONY: all check unit unit-build functional demo start stop status deps clean distclean fuzz fuzz-run
.DELETE_ON_ERROR:
# Keep the unit tests' objects, so that an unchanged test is not relinked on every run.
.SECONDARY:

all: $(PROGRAMS)

# --- configure -------------------------------------------------------------------------------

configure: configure.ac
	autoreconf -fi

$(B)/config.mk: configure $(B)/config.mk.in
	./configure --quiet

# --- objects ---------------------------------------------------------------------------------

$(O)/common/%.o $(O)/plugins/%.o $(O)/worker/%.o $(O)/tools/%.o $(O)/tests/%.o: \
	private EXTRA_CFLAGS = $(WORKER_CFLAGS) $(CHECK_CFLAGS)
$(O)/amqp/%.o: private EXTRA_CFLAGS = $(DEPS_CFLAGS) $(PROTON_CFLAGS)
$(O)/mod_pulp/%.o: private EXTRA_CFLAGS = $(MODULE_CFLAGS)

$(O)/%.o: %.c $(B)/config.mk
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(O) -name '*.d' 2>/dev/null)

objects = $(patsubst %.c,$(O)/%.o,$(1))

$(COMMON_LIB): $(call objects,$(COMMON_SRCS))
	rm -f $@ && ar rcs $@ $^

$(AMQP_LIB): $(call objects,$(AMQP_SRCS))
	rm -f $@ && ar rcs $@ $^

$(WORKER_LIB): $(call objects,$(WORKER_SRCS))
	rm -f $@ && ar rcs $@ $^

# --- programs --------------------------------------------------------------------------------

$(B)/mod_pulp.so: $(call objects,$(MODULE_SRCS)) $(AMQP_LIB) $(COMMON_LIB)
	$(CC) -shared $(SANITIZE) -o $@ $^ $(PROTON_LIBS) $(COMMON_LDLIBS) $(LDFLAGS)

# The supervisor links only what it uses (--as-needed), so that it stays small; its task
# processes run pulp-task, which links the content libraries.
$(B)/pulp-worker: $(call objects,worker/main.c) $(WORKER_LIB) $(AMQP_LIB) $(COMMON_LIB)
	$(CC) $(SANITIZE) -o $@ $^ -Wl,--as-needed -Wl,--export-dynamic-symbol=_gnutls_global_init_skip \
		$(PROTON_LIBS) $(COMMON_LDLIBS) $(LDFLAGS)

$(B)/pulp-task: $(call objects,worker/task_main.c) $(WORKER_LIB) $(AMQP_LIB) $(COMMON_LIB)
	$(CC) $(SANITIZE) -o $@ $^ $(WORKER_LDLIBS) $(LDFLAGS)

# The migrations are compiled into pulp-manage-db so that it needs no data directory.
$(B)/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations
	@mkdir -p $(@D)
	scripts/embed-migrations $(MIGRATIONS) > $@

$(O)/gen/migrations.o: private EXTRA_CFLAGS =
$(O)/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -c -o $@ $<

$(B)/pulp-manage-db: $(call objects,$(MANAGE_SRCS)) $(O)/gen/migrations.o $(COMMON_LIB)
	$(CC) $(SANITIZE) -o $@ $^ $(COMMON_LDLIBS) $(LDFLAGS)

# --- tests -----------------------------------------------------------------------------------

$(B)/tests/%: $(O)/tests/unit/%.o $(WORKER_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(CHECK_LIBS) $(WORKER_LDLIBS) $(LDFLAGS)

# Unit tests of mod_pulp's code (routing, directives): they link the module's objects with
# stand-ins for the httpd functions that the module calls (tests/unit/httpd_stubs.c).
MODULE_UNIT_TESTS := $(B)/tests/test_router $(B)/tests/test_directives
$(O)/tests/unit/test_router.o $(O)/tests/unit/test_directives.o $(O)/tests/unit/httpd_stubs.o: \
	private EXTRA_CFLAGS = $(MODULE_CFLAGS) $(CHECK_CFLAGS)
$(MODULE_UNIT_TESTS): $(B)/tests/%: $(O)/tests/unit/%.o $(O)/tests/unit/httpd_stubs.o \
		$(call objects,$(MODULE_SRCS)) $(AMQP_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(CHECK_LIBS) $(PROTON_LIBS) $(APRUTIL_LIBS) $(COMMON_LDLIBS) \
		$(LDFLAGS)

unit-build: $(UNIT_TESTS)

deps:
	@scripts/install-deps

unit: deps
	@$(MAKE) --no-print-directory unit-build
	@scripts/run-unit-tests $(B)/tests

functional: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-functional-tests

# The fuzzer runs for a bounded time here (PULP_FUZZ_SECONDS, default 30); longer by hand.
fuzz-run:
	@scripts/run-fuzz

# The functional suite runs once per MPM, since mod_pulp must work under each of them.
check: deps
	@$(MAKE) --no-print-directory all unit-build
	@scripts/run-unit-tests $(B)/tests
	@scripts/run-fuzz
	@PULP_TEST_MPMS="$${PULP_TEST_MPMS:-event worker prefork}" scripts/run-functional-tests
	@echo "make check: passed (unit tests, fuzzer, functional tests under MPMs: $${PULP_TEST_MPMS:-event worker prefork})"

# --- the private stack -----------------------------------------------------------------------

start: deps
	@$(MAKE) --no-print-directory all
	@scripts/stack start

stop:
	@scripts/stack stop

status:
	@scripts/stack status

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

clean:
	rm -rf $(O) $(B)/gen $(B)/tests $(B)/*.a $(PROGRAMS)

distclean: clean
	rm -rf $(B)/config.mk configure config.log config.status autom4te.cache build-aux aclocal.m4
