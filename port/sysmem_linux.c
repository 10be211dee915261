/*
 * sysmem_linux.c - the K230 gc.sys_* queries on Linux, from /proc/meminfo.
 *
 *   sys_total  MemTotal
 *   sys_page   user memory:  total MemTotal, free MemAvailable, used = difference
 *   sys_heap   kernel heap (slab): total Slab, free SReclaimable, used SUnreclaim
 *   sys_mmz    media zone -> CMA:  total CmaTotal, free CmaFree, used = difference
 *              (zeros when the kernel has no CMA pool)
 * Each returns false when /proc/meminfo cannot be read.
 */
#include <stdio.h>
#include <string.h>

#include "mpgc.h"

typedef struct {
    uint64_t total, avail, slab, sreclaim, sunreclaim, cma_total, cma_free;
} meminfo_t;

static bool read_meminfo(meminfo_t *m) {
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"MemTotal:", offsetof(meminfo_t, total)},
        {"MemAvailable:", offsetof(meminfo_t, avail)},
        {"Slab:", offsetof(meminfo_t, slab)},
        {"SReclaimable:", offsetof(meminfo_t, sreclaim)},
        {"SUnreclaim:", offsetof(meminfo_t, sunreclaim)},
        {"CmaTotal:", offsetof(meminfo_t, cma_total)},
        {"CmaFree:", offsetof(meminfo_t, cma_free)},
    };
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return false;
    memset(m, 0, sizeof *m);
    char line[128];
    bool have_total = false;
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t n = strlen(keys[i].key);
            unsigned long long kb;
            if (strncmp(line, keys[i].key, n) != 0 || sscanf(line + n, "%llu", &kb) != 1) continue;
            *(uint64_t *)(void *)((char *)m + keys[i].off) = (uint64_t)kb * 1024u;
            have_total |= i == 0;
        }
    }
    fclose(f);
    return have_total;
}

static bool triple(mpgc_sysmem_t *out, uint64_t total, uint64_t free, uint64_t used) {
    if (!out) return false;
    out->total = total;
    out->free = free;
    out->used = used;
    return true;
}

uint64_t mpgc_sys_total(void) {
    meminfo_t m;
    return read_meminfo(&m) ? m.total : 0;
}

bool mpgc_sys_page(mpgc_sysmem_t *out) {
    meminfo_t m;
    if (!read_meminfo(&m)) return false;
    uint64_t free = m.avail < m.total ? m.avail : m.total;
    return triple(out, m.total, free, m.total - free);
}

bool mpgc_sys_heap(mpgc_sysmem_t *out) {
    meminfo_t m;
    if (!read_meminfo(&m)) return false;
    return triple(out, m.slab, m.sreclaim, m.sunreclaim);
}

bool mpgc_sys_mmz(mpgc_sysmem_t *out) {
    meminfo_t m;
    if (!read_meminfo(&m)) return false;
    uint64_t free = m.cma_free < m.cma_total ? m.cma_free : m.cma_total;
    return triple(out, m.cma_total, free, m.cma_total - free);
}
