/*
 * test_nostdlib.c - the engine linked with -nostdlib and libgcc alone, as
 * MicroPython's bare-metal ports link their firmware (Cortex-M, qemu
 * mps2-an385; built only in the Arm cross stages, tests/CMakeLists.txt).
 *
 * The program never calls mpgc_set_stack_top, as a runtime that reports its
 * own stacks never does, so src/stack.c (setjmp) must stay out of the link:
 * if any object of the library it uses needed the C library, the link would
 * fail with an undefined symbol. The only functions supplied here are
 * memcpy, memmove, memset and memcmp, which GCC requires of every
 * freestanding environment (it may emit calls to them for any code); a
 * firmware has its own.
 *
 * No startup code, no C library: the vector table, .bss clearing, output
 * and exit (Arm semihosting) are below. Then the heap is driven through
 * every public call but mpgc_set_stack_top, and each result checked.
 */
#include <stddef.h>
#include <stdint.h>

#include "mpgc.h"

/* ---- the freestanding environment -------------------------------------- */

/* Compiled with -ffreestanding -fno-builtin (tests/CMakeLists.txt), so
 * these loops are not turned back into calls to themselves. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *dst, int c, size_t n) {
    volatile unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026 /* qemu exits with 0 */
#define ADP_STOPPED_RUNTIME_ERROR 0x20023    /* qemu exits with 1 */

static void semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

static void say(const char *s) { semihost(SYS_WRITE0, s); }

static void say_num(unsigned long v) {
    char buf[24];
    char *p = buf + sizeof buf;
    *--p = '\0';
    do *--p = (char)('0' + v % 10); while ((v /= 10) != 0);
    say(p);
}

/* ---- the checks -------------------------------------------------------- */

static unsigned passed, failed;

#define CHECK(c) check((c), __LINE__, #c)

static void check(int ok, int line, const char *what) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    say("test_nostdlib.c:");
    say_num((unsigned long)line);
    say(": CHECK failed: ");
    say(what);
    say("\n");
}

static uint64_t heap_mem[64 * 1024 / sizeof(uint64_t)];
static uint64_t region_mem[16 * 1024 / sizeof(uint64_t)];
static void *roots[8];     /* registered with mpgc_add_root */
static void *reported[2];  /* reported by scan_roots */
static unsigned finalised; /* finaliser calls */
static size_t dumped;      /* characters of the heap map */

static void finaliser(mpgc_t *gc, void *obj, void *user) {
    (void)gc, (void)obj, (void)user;
    finalised++;
}

static void scan_roots(mpgc_t *gc, void *user) {
    (void)user;
    mpgc_mark_range(gc, reported, sizeof reported);
}

static void count_chars(void *ctx, const char *s, size_t n) {
    (void)ctx, (void)s;
    dumped += n;
}

static void run(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    cfg.scan_roots = scan_roots;
    mpgc_t *gc = mpgc_init(heap_mem, sizeof heap_mem, &cfg);
    CHECK(gc != NULL);
    if (!gc) return;
    CHECK(mpgc_add_root(gc, roots, sizeof roots));
    CHECK(mpgc_add_region(gc, region_mem, sizeof region_mem));

    /* Rooted, reported, finalisable garbage and plain garbage. */
    roots[0] = mpgc_alloc(gc, 100, 0);
    reported[0] = mpgc_alloc(gc, 40, MPGC_NO_SCAN);
    void *fin = mpgc_alloc(gc, 24, MPGC_FINALISE);
    void *junk = mpgc_alloc(gc, 3000, 0);
    CHECK(roots[0] && reported[0] && fin && junk);
    CHECK(mpgc_size(gc, junk) >= 3000);
    size_t used = mpgc_mem_alloc(gc);
    CHECK(used >= 3000 + 100 + 40 + 24);
    fin = junk = NULL;
    /* junk is freed; fin's finaliser runs, fin itself goes next time */
    CHECK(mpgc_collect(gc) == 1);
    CHECK(finalised == 1);
    CHECK(mpgc_size(gc, roots[0]) >= 100 && mpgc_size(gc, reported[0]) >= 40);
    CHECK(mpgc_mem_alloc(gc) < used);

    /* realloc keeps the contents; free; a bad pointer is ignored. */
    unsigned char *b = roots[0];
    for (int i = 0; i < 100; i++) b[i] = (unsigned char)i;
    roots[0] = mpgc_realloc(gc, roots[0], 5000, true);
    b = roots[0];
    CHECK(b && b[99] == 99 && mpgc_size(gc, b) >= 5000);
    mpgc_free(gc, reported[0]);
    reported[0] = NULL;
    mpgc_free(gc, heap_mem); /* not an allocation */
    CHECK(mpgc_check(gc));

    /* Three-step collection, the finaliser switch, the lock. */
    roots[1] = mpgc_alloc(gc, 16, MPGC_FINALISE);
    CHECK(mpgc_set_finaliser(gc, roots[1], false));
    void *kept = mpgc_alloc(gc, 16, 0);
    CHECK(mpgc_collect_start(gc));
    mpgc_mark_range(gc, &kept, sizeof kept);
    CHECK(mpgc_collect_end(gc) == 1); /* fin */
    CHECK(mpgc_size(gc, kept) >= 16);
    mpgc_lock(gc);
    CHECK(mpgc_is_locked(gc) && mpgc_alloc(gc, 16, 0) == NULL);
    mpgc_unlock(gc);
    CHECK(!mpgc_is_locked(gc));

    /* The gc module's switches and the diagnostics. */
    mpgc_disable(gc);
    CHECK(!mpgc_isenabled(gc));
    mpgc_enable(gc);
    mpgc_set_threshold(gc, 4096);
    CHECK(mpgc_threshold(gc) == 4096);
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK(info.pools == 2 && info.collections == 2 && info.used > 0);
    CHECK(mpgc_mem_free(gc) > 0);
    mpgc_dump_alloc_table(gc, count_chars, NULL);
    CHECK(dumped > 0);

    /* sysmem_none.c: no system memory, zeros. */
    mpgc_sysmem_t m = {1, 1, 1};
    CHECK(mpgc_sys_total() == 0 && mpgc_sys_mmz(&m) && m.total == 0);

    /* Shutdown: everything freed, the rooted finalisable object's
     * finaliser was switched off. */
    roots[2] = mpgc_alloc(gc, 16, MPGC_FINALISE);
    CHECK(mpgc_sweep_all(gc) == 4); /* roots[0..2] and kept */
    CHECK(finalised == 2 && mpgc_mem_alloc(gc) == 0);
    CHECK(mpgc_remove_region(gc, region_mem));
    CHECK(mpgc_remove_root(gc, roots));
}

/* ---- start-up ----------------------------------------------------------- */

extern char __bss_start__[], __bss_end__[]; /* the default linker script */

/* The entry point (-Wl,--entry, tests/CMakeLists.txt) and reset vector. */
void nostdlib_reset(void);
void nostdlib_reset(void) {
    memset(__bss_start__, 0, (size_t)(__bss_end__ - __bss_start__));
    run();
    say_num(passed);
    say(" passed, ");
    say_num(failed);
    say(" failed\n");
    semihost(SYS_EXIT, (const void *)(uintptr_t)(failed ? ADP_STOPPED_RUNTIME_ERROR
                                                        : ADP_STOPPED_APPLICATION_EXIT));
    for (;;) {}
}

static void fault(void) {
    say("fault\n");
    semihost(SYS_EXIT, (const void *)(uintptr_t)ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {}
}

/* Initial SP (the top of mps2's 4 MiB SRAM at 0x20000000), Reset, NMI,
 * HardFault, MemManage, BusFault, UsageFault; placed at address 0 by the
 * toolchain file's -Wl,--section-start=.vectors=0 -Wl,-u,vectors. */
__attribute__((section(".vectors"), used)) void (*const vectors[7])(void) = {
    (void (*)(void))0x20400000u, nostdlib_reset, fault, fault, fault, fault, fault};
