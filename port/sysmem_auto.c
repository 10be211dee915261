/*
 * sysmem_auto.c - the gc.sys_* queries of the system the code is compiled
 * for: port/sysmem_linux.c when the compiler targets Linux, else
 * port/sysmem_none.c (zeros).
 *
 * The MicroPython make fragment's default (MPGC_SYSMEM=auto). A makefile
 * cannot ask reliably: ports set CROSS_COMPILE after py/py.mk includes the
 * fragment, so the compiler is not yet known there, and the build host
 * says nothing about the target. The compiler's own __linux__ does.
 */
#if defined(__linux__)
#include "sysmem_linux.c"
#else
#include "sysmem_none.c"
#endif
