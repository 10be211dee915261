/*
 * stack.c - conservative scan of the collecting thread's registers and C
 * stack, as MicroPython's gc_helper_collect_regs_and_stack does.
 *
 * setjmp() spills the callee-saved registers into a jmp_buf in this frame;
 * scan_from_here() is a deeper, non-inlined frame, so the address of its
 * local is below the jmp_buf and [that address, stack_top) covers both the
 * registers and every caller's frame. The stack is assumed to grow down,
 * as on every target mpgc supports (x86, Arm, RISC-V).
 */
#include <setjmp.h>

#include "internal.h"

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

void mpgc_mark_stack(mpgc_t *gc) {
    jmp_buf regs;
    if (setjmp(regs) == 0) scan_from_here(gc);
    mpgc_mark_drain(gc);
}
