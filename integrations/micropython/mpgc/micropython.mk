# mpgc as MicroPython's heap and `gc` module, for make-based ports.
#
#   make -C ports/unix USER_C_MODULES=/path/to/mpgc/integrations/micropython
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

# System memory queries behind gc.sys_*: linux (/proc/meminfo) or none.
MPGC_SYSMEM ?= $(if $(filter Linux,$(shell uname -s 2>/dev/null)),linux,none)

# Scanned for qstrs and module registrations.
SRC_USERMOD_C += $(MPGC_MP_DIR)/gc_mpgc.c $(MPGC_MP_DIR)/modgc_mpgc.c $(MPGC_MP_DIR)/modmpgc.c

MPGC_LIB_C := $(MPGC_MP_DIR)/mpgc_mp.c \
	$(addprefix $(MPGC_ROOT)/src/,heap.c freelist.c alloc.c mark.c roots.c stack.c \
		finalise.c markstack.c sweep.c collect.c stats.c check.c snapshot.c) \
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
# threshold are compiled out.
CFLAGS_USERMOD += -I$(MPGC_ROOT)/include -I$(MPGC_MP_DIR) \
	-DMPGC_ENABLE_LOCK_HOOKS=0 -DMPGC_ENABLE_THRESHOLD=0

override PY_CORE_O = $(filter-out $(BUILD)/py/gc.o $(BUILD)/py/modgc.o,\
	$(addprefix $(BUILD)/, $(PY_CORE_O_BASENAME)))

# The collector is hot: the same optimisation as py/gc.c gets (CSUPEROPT).
$(BUILD)/$(MPGC_ROOT)/src/%.o: CFLAGS += $(CSUPEROPT)
$(BUILD)/$(notdir $(MPGC_MP_DIR))/gc_mpgc.o: CFLAGS += $(CSUPEROPT)
