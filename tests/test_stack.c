/* The conservative stack scan on the target it runs on (host, -m32,
 * Cortex-M, RISC-V): pointers held only in registers, and pointers in
 * every frame of a deep call chain, keep their objects alive; with no
 * stack top, the same objects are garbage. */
#include <stdint.h>

#include "test.h"

static _Alignas(64) uint8_t mem[16 * 1024];
static void *stack_top; /* an address in main's frame */

#define NPTR 8
#define MAGIC 0x600du
/* The test's own copy of each pointer. Static data is not a root (only
 * registered ranges and the stack are), and the array is volatile so the
 * compiler must read each pointer once, before the collection, and keep
 * it live across mpgc_collect instead of re-reading it afterwards. */
static void *volatile hidden[NPTR];

__attribute__((noinline)) static void fill_hidden(mpgc_t *gc) {
    for (unsigned i = 0; i < NPTR; i++) {
        uint32_t *p = mpgc_alloc(gc, 8 * sizeof(uint32_t), 0);
        p[0] = MAGIC + i;
        hidden[i] = p;
    }
}

/* Overwrites the dead frames below the caller, where fill_hidden and the
 * allocator may have left copies of the pointers. */
__attribute__((noinline)) static uintptr_t scrub_stack(void) {
    volatile uintptr_t junk[1024];
    for (unsigned i = 0; i < 1024; i++) junk[i] = 0;
    return junk[1023];
}

#define DECODE(i) uint32_t *p##i = hidden[i]
#define ALIVE(i) (mpgc_size(gc, p##i) > 0 && p##i[0] == MAGIC + i)

/* Eight pointers live across the collection and used after it: an
 * optimising compiler keeps them in callee-saved registers (r4-r11 on Arm,
 * s0-s11 on RISC-V, some spill on x86), the pattern of an interpreter's
 * locals. Returns how many objects survived intact. */
__attribute__((noinline)) static unsigned collect_holding(mpgc_t *gc) {
    DECODE(0); DECODE(1); DECODE(2); DECODE(3);
    DECODE(4); DECODE(5); DECODE(6); DECODE(7);
    mpgc_collect(gc);
    return (unsigned)(ALIVE(0) + ALIVE(1) + ALIVE(2) + ALIVE(3) + ALIVE(4) +
                      ALIVE(5) + ALIVE(6) + ALIVE(7));
}

static void test_register_roots(void) {
    mpgc_t *gc = mpgc_init(mem, sizeof mem, NULL);
    mpgc_set_stack_top(gc, stack_top);
    fill_hidden(gc);
    CHECK_EQ(scrub_stack(), 0);
    CHECK_EQ(collect_holding(gc), NPTR);
    CHECK(mpgc_check(gc));
    /* Control: hidden[] is not a root, so without the stack scan every
     * one of the objects is freed. */
    mpgc_set_stack_top(gc, NULL);
    CHECK_EQ(mpgc_collect(gc), NPTR);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
}

/* Each level of a 48-deep recursion holds one object in its frame; the
 * bottom level collects; each level checks its object on the way back. */
#define DEPTH 48
__attribute__((noinline)) static unsigned deep(mpgc_t *gc, unsigned level) {
    uint32_t *volatile mine = mpgc_alloc(gc, 3 * sizeof(uint32_t), 0);
    mine[0] = MAGIC + level;
    unsigned alive = level + 1 < DEPTH ? deep(gc, level + 1) : (mpgc_collect(gc), 0u);
    return alive + (mpgc_size(gc, mine) > 0 && mine[0] == MAGIC + level);
}

static void test_deep_frames(void) {
    mpgc_t *gc = mpgc_init(mem, sizeof mem, NULL);
    mpgc_set_stack_top(gc, stack_top);
    CHECK_EQ(deep(gc, 0), DEPTH);
    CHECK(mpgc_check(gc));
    mpgc_set_stack_top(gc, NULL);
    CHECK_EQ(mpgc_collect(gc), DEPTH);
}

int main(void) {
    volatile int top = 0;
    stack_top = (void *)&top;
    RUN(test_register_roots);
    RUN(test_deep_frames);
    return test_done();
}
