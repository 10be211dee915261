# mpgc as MicroPython's heap and `gc` module, for CMake-based ports
# (rp2, esp32, zephyr, ...).
#
#   make -C ports/rp2 USER_C_MODULES=/path/to/mpgc/integrations/micropython/mpgc/micropython.cmake
#
# Cache variables (-D on the cmake line; through rp2's make wrapper, in the
# environment: CMAKE_ARGS="-DMPGC_SYSMEM=none" make ..., which its Makefile
# appends to; not on the make command line, which would replace its own
# CMAKE_ARGS): MPGC_SYSMEM (auto: /proc/meminfo when the
# compiler targets Linux, else zeros; linux; none), MPGC_DEFINES (mpgc
# options, e.g. MPGC_BLOCK_WORDS=8), MPGC_COMPILE_OPTIONS, MPGC_MP_TRACE.
#
# (for CMake, USER_C_MODULES names this file, or the directory holding it;
# micropython.mk beside it serves the make-based ports and ignores this file.)
#
# MicroPython's py/usermod.cmake includes this file in the port's own scope,
# after py/py.cmake has listed the core sources in MICROPY_SOURCE_PY and
# before the port uses that list. It
#  1. makes an INTERFACE library of the adapter (gc_mpgc.c: everything
#     py/gc.h declares; modgc_mpgc.c: the `gc` module) and the mpgc library
#     from src/ and port/, linked into `usermod`. usermod.cmake collects its
#     sources (qstr scan; zephyr also compiles them from that list) and its
#     include directories (added to the firmware by every port);
#  2. takes py/gc.c and py/modgc.c out of MICROPY_SOURCE_PY. The ports give
#     that list to the firmware and build their qstr scan list from it only
#     after this point, so neither file is compiled nor scanned: the `gc`
#     module (mp_module_gc) is registered by modgc_mpgc.c alone.
# No MicroPython file is edited.
# (esp32 enables MICROPY_GC_SPLIT_HEAP_AUTO: gc_mpgc.c then grows the heap
# from the system heap and gives empty areas back, as py/gc.c does.)

# Both files must be in the list, or both collectors would be linked (a
# port that builds py/ from elsewhere, or this file included twice).
foreach(MPGC_REPLACED gc.c modgc.c)
    if(NOT ${MICROPY_PY_DIR}/${MPGC_REPLACED} IN_LIST MICROPY_SOURCE_PY)
        message(FATAL_ERROR "mpgc: ${MICROPY_PY_DIR}/${MPGC_REPLACED} is not in MICROPY_SOURCE_PY: "
            "this port does not build py/ from that list, or includes this file twice")
    endif()
endforeach()

set(MPGC_MP_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(MPGC_ROOT ${MPGC_MP_DIR}/../../.. ABSOLUTE)

# System memory queries behind gc.sys_*: auto (port/sysmem_auto.c: linux
# when the compiler targets Linux, as zephyr's native_sim does, else none),
# linux (/proc/meminfo) or none (zeros).
set(MPGC_SYSMEM auto CACHE STRING "mpgc port/sysmem_<name>.c for gc.sys_*")
if(NOT EXISTS ${MPGC_ROOT}/port/sysmem_${MPGC_SYSMEM}.c)
    message(FATAL_ERROR "mpgc: no ${MPGC_ROOT}/port/sysmem_${MPGC_SYSMEM}.c (MPGC_SYSMEM)")
endif()

# Extra compile options for the collector (src/ and gc_mpgc.c), e.g. -O2;
# empty by default. make ports build py/gc.c with CSUPEROPT (-O3); CMake
# ports have no such flag: py/gc.c gets the port's level (rp2: -Os, esp32:
# the IDF's), and so does mpgc unless this asks for more. (rp2 also links
# py/gc.c's code into RAM, naming py/gc.c.o in its linker script; mpgc's
# code stays in flash, and that script cannot be changed from here.)
set(MPGC_COMPILE_OPTIONS "" CACHE STRING "mpgc: extra compile options for the collector sources")

set(MPGC_ENGINE_SOURCES
    ${MPGC_ROOT}/src/heap.c
    ${MPGC_ROOT}/src/freelist.c
    ${MPGC_ROOT}/src/alloc.c
    ${MPGC_ROOT}/src/mark.c
    ${MPGC_ROOT}/src/roots.c
    ${MPGC_ROOT}/src/finalise.c
    ${MPGC_ROOT}/src/markstack.c
    ${MPGC_ROOT}/src/sweep.c
    ${MPGC_ROOT}/src/step.c
    ${MPGC_ROOT}/src/collect.c
    ${MPGC_ROOT}/src/stats.c
    ${MPGC_ROOT}/src/check.c
    ${MPGC_ROOT}/src/snapshot.c
)
set(MPGC_LIB_SOURCES
    ${MPGC_MP_DIR}/mpgc_mp.c
    ${MPGC_ENGINE_SOURCES}
    ${MPGC_ROOT}/port/sysmem_${MPGC_SYSMEM}.c
)

# MPGC_MP_TRACE=ON: record every gc_alloc, gc_free, gc_realloc and
# collection as a trace for `mpgc replay` (docs/fragmentation.md); the port
# then supplies mpgc_mp_trace_port_write(). Off by default.
option(MPGC_MP_TRACE "mpgc: record allocation traces" OFF)
if(MPGC_MP_TRACE)
    list(APPEND MPGC_LIB_SOURCES ${MPGC_MP_DIR}/mpgc_mp_trace.c)
    set_property(SOURCE ${MPGC_MP_DIR}/gc_mpgc.c ${MPGC_MP_DIR}/modgc_mpgc.c APPEND PROPERTY
        COMPILE_DEFINITIONS MPGC_MP_TRACE=1)
endif()

add_library(usermod_mpgc INTERFACE)

target_sources(usermod_mpgc INTERFACE
    ${MPGC_MP_DIR}/gc_mpgc.c
    ${MPGC_MP_DIR}/modgc_mpgc.c
    ${MPGC_LIB_SOURCES}
)
# MPGC_MODULE=ON: also the `mpgc` module (mpgc.snapshot(f), heap snapshots
# for `mpgc report`: docs/micropython.md section 5). Off by default: it is
# a module MicroPython does not have, and it costs flash.
option(MPGC_MODULE "mpgc: the mpgc module (mpgc.snapshot)" OFF)
if(MPGC_MODULE)
    target_sources(usermod_mpgc INTERFACE ${MPGC_MP_DIR}/modmpgc.c)
endif()

target_include_directories(usermod_mpgc INTERFACE
    ${MPGC_ROOT}/include
    ${MPGC_MP_DIR}
)

target_link_libraries(usermod INTERFACE usermod_mpgc)

# The adapter takes MicroPython's GC mutex itself, and counts gc.threshold
# in MP_STATE_MEM as py/gc.c does: mpgc's own lock hooks and threshold are
# compiled out. They only change the library's code, never the API, so they
# are set on its sources alone. Source properties rather than the INTERFACE
# library's definitions: zephyr compiles the collected sources without
# linking `usermod`, so those would never reach it. (Source properties
# belong to the directory that includes this file, which is the one that
# creates the firmware target in every port.)
# (src/stack.c is not in the list: the port reports its stacks, mpgc never
# scans one, so no setjmp is linked.)
set_property(SOURCE ${MPGC_LIB_SOURCES} APPEND PROPERTY COMPILE_DEFINITIONS
    MPGC_ENABLE_LOCK_HOOKS=0
    MPGC_ENABLE_THRESHOLD=0
    MPGC_ENABLE_SAFE_ORDER=0
)
# mpgc options (include/mpgc_config.h) for every file that includes mpgc.h,
# e.g. MPGC_BLOCK_WORDS=8 to match MICROPY_BYTES_PER_GC_BLOCK.
set(MPGC_DEFINES "" CACHE STRING "mpgc: options for every file that includes mpgc.h (a list)")
if(MPGC_DEFINES)
    set_property(SOURCE ${MPGC_LIB_SOURCES} ${MPGC_MP_DIR}/gc_mpgc.c ${MPGC_MP_DIR}/modgc_mpgc.c
        APPEND PROPERTY COMPILE_DEFINITIONS ${MPGC_DEFINES})
endif()
if(MPGC_COMPILE_OPTIONS)
    separate_arguments(MPGC_COMPILE_OPTIONS_LIST UNIX_COMMAND "${MPGC_COMPILE_OPTIONS}")
    set_property(SOURCE ${MPGC_ENGINE_SOURCES} ${MPGC_MP_DIR}/gc_mpgc.c
        APPEND PROPERTY COMPILE_OPTIONS ${MPGC_COMPILE_OPTIONS_LIST})
endif()

# Replace MicroPython's collector (checked above).
list(REMOVE_ITEM MICROPY_SOURCE_PY
    ${MICROPY_PY_DIR}/gc.c
    ${MICROPY_PY_DIR}/modgc.c
)
