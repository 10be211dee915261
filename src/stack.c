/*
 * stack.c - conservative scan of the collecting thread's registers and C
 * stack, as MicroPython's gc_helper_collect_regs_and_stack does.
 *
 * First every callee-saved register must be in memory: a caller's pointer
 * may live only in one of them. With GCC and clang, __builtin_unwind_init()
 * makes mark_stack's prologue save all of them (integer and FP) in its
 * own frame; setjmp() into a jmp_buf in the same frame is the portable
 * fallback. setjmp alone is not enough where the C library hides registers:
 * glibc on x86-64 stores rbp mangled with its pointer guard, so a pointer
 * held only in rbp was missed (found by tests/test_stack.c), and newlib's
 * Arm setjmp leaves out the VFP registers s16-s31 of the hard-float ABI.
 *
 * scan_from_here() is a deeper, non-inlined frame, so the address of its
 * local is below mark_stack's frame and [that address, stack_top)
 * covers the saved registers and every caller's frame. The stack is assumed
 * to grow down, as on every target mpgc supports (x86, Arm, RISC-V).
 *
 * This file is the only one that needs setjmp (the C library): the scan is
 * reached only through the pointer mpgc_set_stack_top installs, so a
 * program that never calls it (a runtime that reports its stacks itself,
 * as MicroPython's port does) links without this file and without libc.
 */
#include <setjmp.h>

#include "internal.h"

#if defined(__GNUC__) || defined(__clang__)
#define SPILL_CALLEE_SAVED() __builtin_unwind_init()
#else
#define SPILL_CALLEE_SAVED() ((void)0)
#endif

#if MPGC_VALGRIND
#include <valgrind/memcheck.h>
/* Stack words are partly uninitialised; memcheck must not flag the scan. */
#define STACK_DEFINED(lo, n) VALGRIND_MAKE_MEM_DEFINED((lo), (n))
#else
#define STACK_DEFINED(lo, n) ((void)(lo), (void)(n))
#endif

static MPGC_NO_SANITIZE void scan_from_here(mpgc_t *gc) {
    volatile word_t here = 0;
    const uint8_t *lo = (const uint8_t *)&here;
    const uint8_t *hi = (const uint8_t *)gc->stack_top;
    if (hi <= lo) return;
    STACK_DEFINED(lo, (size_t)(hi - lo));
    mpgc_mark_words(gc, lo, hi);
    (void)here;
}

static void mark_stack(mpgc_t *gc) {
    jmp_buf regs;
    SPILL_CALLEE_SAVED();
    if (setjmp(regs) == 0) scan_from_here(gc);
    mpgc_mark_drain(gc);
}

void mpgc_set_stack_top(mpgc_t *gc, void *top) {
    hook_lock(gc);
    gc->stack_top = top;
    gc->scan_stack = top ? mark_stack : NULL;
    hook_unlock(gc);
}
