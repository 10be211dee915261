/* The K230 system-memory queries through the platform layer. */
#include "test.h"

int main(void) {
    mpgc_sysmem_t heap, page, mmz;
    uint64_t total = mpgc_sys_total();
    bool h = mpgc_sys_heap(&heap), p = mpgc_sys_page(&page), m = mpgc_sys_mmz(&mmz);
#ifdef __linux__
    CHECK(total > 0);
    CHECK(h && p && m);
    CHECK(page.total == total);
    CHECK(page.free <= page.total && page.used == page.total - page.free);
    CHECK(heap.total > 0 && heap.free + heap.used <= heap.total + 4096);
    CHECK(mmz.free <= mmz.total && mmz.used == mmz.total - mmz.free);
    CHECK(!mpgc_sys_page(NULL));
#else
    CHECK(total == 0);
    CHECK(!h && !p && !m);
#endif
    return test_done();
}
