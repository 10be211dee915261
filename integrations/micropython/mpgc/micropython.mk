# mpgc as MicroPython's heap and `gc` module, for make-based ports.
#
#   export USER_C_MODULES=/path/to/mpgc/integrations/micropython
#   make -C ports/unix
#
# (in the environment or a makefile assignment, not on the make command
# line: a command-line USER_C_MODULES cannot be appended to, and the unix
# coverage variant's own modules would silently disappear; docs/micropython.md)
#
# Variables (make command line or environment):
#   MPGC_SYSMEM   what backs gc.sys_*: auto (default: /proc/meminfo when the
#                 compiler targets Linux, else zeros), linux or none
#   MPGC_CFLAGS   mpgc options for every file that includes mpgc.h, e.g.
#                 -DMPGC_BLOCK_WORDS=8 to match MICROPY_BYTES_PER_GC_BLOCK
#   MPGC_MP_TRACE 1: record allocation traces (docs/fragmentation.md)
#
# MicroPython's py/py.mk includes this file (USER_C_MODULES names a
# directory of modules; this one is "mpgc", so its objects go to
# $(BUILD)/mpgc/). It
#  1. compiles the adapter (gc_mpgc.c: everything py/gc.h declares;
#     modgc_mpgc.c: the `gc` module) and the mpgc library from src/ and port/;
#  2. takes py/gc.o and py/modgc.o out of the firmware. py.mk defines
#     PY_CORE_O after including this file, so the replacement is made with
#     `override`, which makes make ignore py.mk's own assignment.
#     (py/modgc.c is still scanned for qstrs and module registrations: it
#     registers the same name and object, mp_module_gc, as modgc_mpgc.c, and
#     the registrations are a set, so the two collapse into one.)
# No MicroPython file is edited.

MPGC_MP_DIR := $(USERMOD_DIR)
MPGC_ROOT := $(abspath $(MPGC_MP_DIR)/../../..)

# System memory queries behind gc.sys_*: port/sysmem_$(MPGC_SYSMEM).c. auto
# follows the target (port/sysmem_auto.c tests the compiler's __linux__):
# the build host says nothing about it, and the compiler is not known yet
# here (ports set CROSS_COMPILE after including py/py.mk).
MPGC_SYSMEM ?= auto
ifeq ($(wildcard $(MPGC_ROOT)/port/sysmem_$(MPGC_SYSMEM).c),)
$(error mpgc: MPGC_SYSMEM=$(MPGC_SYSMEM): no $(MPGC_ROOT)/port/sysmem_$(MPGC_SYSMEM).c (auto, linux or none))
endif

# mpgc options (include/mpgc_config.h) for the library and the adapter. A
# fragment variable because CFLAGS_USERMOD cannot carry them: on the make
# command line it replaces this file's include paths, and py/py.mk resets
# it before including user modules, so an environment value is lost.
MPGC_CFLAGS ?=

# Scanned for qstrs and module registrations.
SRC_USERMOD_C += $(MPGC_MP_DIR)/gc_mpgc.c $(MPGC_MP_DIR)/modgc_mpgc.c
# MPGC_MODULE=1: also the `mpgc` module (mpgc.snapshot(f), heap snapshots
# for `mpgc report`: docs/micropython.md section 5). Off by default: it is
# a module MicroPython does not have (its test of the module list,
# ports/unix/extra_coverage.py, would see it) and it costs flash.
MPGC_MODULE ?= 0
ifeq ($(MPGC_MODULE),1)
SRC_USERMOD_C += $(MPGC_MP_DIR)/modmpgc.c
endif

MPGC_LIB_C := $(MPGC_MP_DIR)/mpgc_mp.c \
	$(addprefix $(MPGC_ROOT)/src/,heap.c freelist.c alloc.c mark.c roots.c \
		finalise.c markstack.c sweep.c collect.c step.c stats.c check.c snapshot.c) \
	$(MPGC_ROOT)/port/sysmem_$(MPGC_SYSMEM).c
# MPGC_MP_TRACE=1: record every gc_alloc, gc_free, gc_realloc and collection
# as a trace for `mpgc replay` (docs/fragmentation.md); unix writes to the
# file named by $MPGC_TRACE when the program runs. Off (0) by default: then
# nothing of the recorder is compiled in.
MPGC_MP_TRACE ?= 0
ifeq ($(MPGC_MP_TRACE),1)
MPGC_LIB_C += $(MPGC_MP_DIR)/mpgc_mp_trace.c
CFLAGS_USERMOD += -DMPGC_MP_TRACE=1
endif
SRC_USERMOD_LIB_C += $(MPGC_LIB_C)

# The adapter takes MicroPython's GC mutex itself, and counts
# gc.threshold in MP_STATE_MEM as py/gc.c does: mpgc's own lock hooks and
# threshold are compiled out; it selects MicroPython's finaliser order, so
# mpgc's safe order is compiled out too (about 1.9 KB). src/stack.c is not compiled: the port
# reports its stacks (gc_collect_root), mpgc never scans one, so the
# firmware needs no setjmp and no C library from mpgc (-nostdlib links).
CFLAGS_USERMOD += -I$(MPGC_ROOT)/include -I$(MPGC_MP_DIR) \
	-DMPGC_ENABLE_LOCK_HOOKS=0 -DMPGC_ENABLE_THRESHOLD=0 -DMPGC_ENABLE_SAFE_ORDER=0 $(MPGC_CFLAGS)

override PY_CORE_O = $(filter-out $(BUILD)/py/gc.o $(BUILD)/py/modgc.o,\
	$(addprefix $(BUILD)/, $(PY_CORE_O_BASENAME)))

# The collector is hot: the same optimisation as py/gc.c gets (CSUPEROPT).
$(BUILD)/$(MPGC_ROOT)/src/%.o: CFLAGS += $(CSUPEROPT)
$(BUILD)/$(notdir $(MPGC_MP_DIR))/gc_mpgc.o: CFLAGS += $(CSUPEROPT)
