/* The K230 system-memory queries through the platform layer: the port the
 * build linked (MPGC_TEST_SYSMEM_LINUX is 1 for port/sysmem_linux.c, 0 for
 * port/sysmem_none.c; tests/CMakeLists.txt sets it from MPGC_SYSMEM). */
#include "test.h"

#ifndef MPGC_TEST_SYSMEM_LINUX
#error "tests/CMakeLists.txt sets MPGC_TEST_SYSMEM_LINUX"
#endif

/* Every field overwritten: a query must not leave the caller's garbage. */
static mpgc_sysmem_t garbage(void) {
    mpgc_sysmem_t m;
    memset(&m, 0xA5, sizeof m);
    return m;
}

static void linux_meminfo(void) {
    mpgc_sysmem_t heap = garbage(), page = garbage(), mmz = garbage();
    uint64_t total = mpgc_sys_total();
    CHECK(total > 0);
    CHECK(mpgc_sys_heap(&heap) && mpgc_sys_page(&page) && mpgc_sys_mmz(&mmz));
    CHECK(page.total == total);
    CHECK(page.free <= page.total && page.used == page.total - page.free);
    CHECK(heap.total > 0 && heap.free + heap.used <= heap.total + 4096);
    CHECK(mmz.free <= mmz.total && mmz.used == mmz.total - mmz.free);
}

/* No system memory is not a failure: zeros, and true (gc.sys_mmz() must
 * not raise on such a port). */
static void none_zeros(void) {
    mpgc_sysmem_t heap = garbage(), page = garbage(), mmz = garbage();
    CHECK_EQ(mpgc_sys_total(), 0);
    CHECK(mpgc_sys_heap(&heap));
    CHECK(mpgc_sys_page(&page));
    CHECK(mpgc_sys_mmz(&mmz));
    CHECK(heap.total == 0 && heap.free == 0 && heap.used == 0);
    CHECK(page.total == 0 && page.free == 0 && page.used == 0);
    CHECK(mmz.total == 0 && mmz.free == 0 && mmz.used == 0);
}

/* A NULL destination is the one failure every port reports. */
static void null_out(void) {
    CHECK(!mpgc_sys_heap(NULL));
    CHECK(!mpgc_sys_page(NULL));
    CHECK(!mpgc_sys_mmz(NULL));
}

int main(void) {
    if (MPGC_TEST_SYSMEM_LINUX)
        RUN(linux_meminfo);
    else
        RUN(none_zeros);
    RUN(null_out);
    return test_done();
}
