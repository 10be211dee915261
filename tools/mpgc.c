/*
 * mpgc - the command-line program.
 *
 *   mpgc [demo]          seed 002's gc walkthrough, then seed 004's
 *                        fragmentation story, on a static 8 KiB heap
 *   mpgc map [bytes]     heap map of a small churned heap of that size
 *   mpgc replay FILE [heap-bytes]
 *                        replays an allocation trace and prints the figures;
 *                        one operation per line:
 *                          a ID SIZE [s|n|f]  allocate (scanned, no-scan, finaliser)
 *                          f ID               mpgc_free
 *                          d ID               drop the program's reference
 *                          p ID ID2           store pointer to ID2 in ID's first word
 *                          c                  collect
 *                          i                  print mpgc_info
 *                          m                  print the heap map
 *                        lines starting with # are comments
 *
 * Every figure printed comes from the engine; nothing is canned. The demo's
 * "interpreter" is a table of object references registered as a root, the
 * way a VM's globals are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpgc.h"

#define MAX_OBJS 4096

static _Alignas(64) unsigned char heap8k[8 * 1024];
static void *refs[MAX_OBJS]; /* the program's references: a root range */

static void out(void *ctx, const char *s, size_t n) { fwrite(s, 1, n, (FILE *)ctx); }

static mpgc_t *new_heap(void *mem, size_t size) {
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true; /* every reference lives in refs[] */
    mpgc_t *gc = mpgc_init(mem, size, &cfg);
    if (!gc) {
        fprintf(stderr, "mpgc: %zu bytes is too small for a heap\n", size);
        exit(2);
    }
    memset(refs, 0, sizeof refs);
    mpgc_add_root(gc, refs, sizeof refs);
    return gc;
}

/* A bytearray as MicroPython builds one: a small object (type, length,
 * pointer) and a no-scan buffer with the bytes. The object is held in a
 * root slot while the buffer is allocated, since that allocation may
 * collect (the C stack is not scanned in this program). */
static void *bytearray(mpgc_t *gc, size_t n) {
    void **obj = mpgc_alloc(gc, 3 * sizeof(void *), 0);
    if (!obj) return NULL;
    refs[MAX_OBJS - 1] = obj;
    obj[1] = (void *)n;
    obj[2] = mpgc_alloc(gc, n, MPGC_NO_SCAN);
    refs[MAX_OBJS - 1] = NULL;
    return obj[2] ? obj : NULL;
}

static void repl(const char *line) { printf(">>> %s\n", line); }

static void demo_walkthrough(void) {
    printf("== seed 002: the gc module on a static %zu-byte heap (%u-byte blocks) ==\n",
           sizeof heap8k, (unsigned)MPGC_BLOCK_BYTES);
    mpgc_t *gc = new_heap(heap8k, sizeof heap8k);
    /* What a freshly started interpreter already holds: a globals table
     * and a few small objects. */
    refs[0] = mpgc_alloc(gc, 16 * sizeof(void *), 0);
    for (int i = 1; i < 6; i++) refs[i] = mpgc_alloc(gc, 2 * sizeof(void *), 0);
    repl("import gc");
    repl("gc.mem_free()");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("foo = bytearray(1000)");
    refs[10] = bytearray(gc, 1000);
    repl("gc.mem_free()  # less memory available");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()  # more memory used");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("del foo");
    refs[10] = NULL;
    repl("gc.mem_free()  # collection hasn't run yet");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()  # that memory is still allocated");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("gc.collect()");
    size_t freed = mpgc_collect(gc);
    printf("# (%zu objects freed)\n", freed);
    repl("gc.mem_free()  # now we have reclaimed that memory");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()  # that memory is no longer allocated");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("gc.threshold(), gc.isenabled()");
    printf("(%td, %s)\n", mpgc_threshold(gc), mpgc_isenabled(gc) ? "True" : "False");
    mpgc_sysmem_t m;
    repl("gc.sys_total(), gc.sys_page()  # K230 extensions");
    if (mpgc_sys_page(&m))
        printf("(%llu, (%llu, %llu, %llu))\n", (unsigned long long)mpgc_sys_total(),
               (unsigned long long)m.total, (unsigned long long)m.free,
               (unsigned long long)m.used);
    else
        printf("# not available on this platform\n");
}

static void print_info(mpgc_t *gc) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    printf("GC: total: %zu, used: %zu, free: %zu, max free run: %zu (fragmentation %.0f%%)\n",
           i.total, i.used, i.free, i.max_free,
           i.free ? 100.0 * (1.0 - (double)i.max_free / (double)i.free) : 0.0);
}

/* Seed 004: a long-running loop keeps allocating differently sized buffers
 * with different lifetimes; later a big buffer is needed. */
static void demo_fragmentation(void) {
    printf("\n== seed 004: fragmentation on the same %zu-byte heap ==\n", sizeof heap8k);
    mpgc_t *gc = new_heap(heap8k, sizeof heap8k);
    size_t big = 2048;
    printf("# a loop keeps small readings (kept) between temporary buffers (dropped)\n");
    unsigned x = 1;
    for (int i = 0; i < 40; i++) {
        x = x * 1103515245u + 12345u;
        refs[20 + i] = mpgc_alloc(gc, 24 + (x >> 16) % 40, 0); /* kept */
        (void)bytearray(gc, 100 + (x >> 8) % 60);               /* temporary */
    }
    mpgc_collect(gc);
    print_info(gc);
    printf(">>> buf = bytearray(%zu)\n", big);
    void *buf = bytearray(gc, big);
    if (!buf) {
        mpgc_info_t i;
        mpgc_info(gc, &i);
        printf("MemoryError: memory allocation failed, allocating %zu bytes\n", big);
        printf("# %zu bytes are free in total, but the largest free run is %zu bytes:\n",
               i.free, i.max_free);
        mpgc_dump_alloc_table(gc, out, stdout);
    }
    printf("\n# the same program with the long-lived buffer allocated first:\n");
    gc = new_heap(heap8k, sizeof heap8k);
    refs[1] = bytearray(gc, big);
    x = 1;
    for (int i = 0; i < 40; i++) {
        x = x * 1103515245u + 12345u;
        refs[20 + i] = mpgc_alloc(gc, 24 + (x >> 16) % 40, 0);
        (void)bytearray(gc, 100 + (x >> 8) % 60);
    }
    mpgc_collect(gc);
    print_info(gc);
    printf(">>> buf  # pre-allocated: %s\n", refs[1] ? "still there, no MemoryError" : "lost");
    mpgc_dump_alloc_table(gc, out, stdout);
    if (!mpgc_check(gc)) {
        fprintf(stderr, "mpgc: heap check failed\n");
        exit(1);
    }
}

static int cmd_map(size_t size) {
    void *mem = malloc(size);
    if (!mem) return 2;
    mpgc_t *gc = new_heap(mem, size);
    unsigned x = 7;
    for (size_t i = 0; i < MAX_OBJS; i++) {
        x = x * 1103515245u + 12345u;
        void *p = mpgc_alloc(gc, 8 + (x >> 16) % 200, (x & 1) ? MPGC_NO_SCAN : 0);
        if (!p) break;
        if ((x >> 8) % 3 == 0) refs[i] = p;
    }
    mpgc_collect(gc);
    print_info(gc);
    mpgc_dump_alloc_table(gc, out, stdout);
    free(mem);
    return 0;
}

static int cmd_replay(const char *path, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 2;
    }
    void *mem = malloc(size);
    if (!mem) return 2;
    mpgc_t *gc = new_heap(mem, size);
    char line[256];
    unsigned long lineno = 0, failed = 0, ops = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char op;
        unsigned long id = 0, id2 = 0, sz = 0;
        char kind = 's';
        if (line[0] == '#' || sscanf(line, " %c", &op) != 1) continue;
        ops++;
        int n = sscanf(line + 1, "%lu %lu %c", &id, &sz, &kind);
        if ((op == 'a' || op == 'f' || op == 'd' || op == 'p') && (n < 1 || id >= MAX_OBJS)) {
            fprintf(stderr, "%s:%lu: bad operation\n", path, lineno);
            return 2;
        }
        switch (op) {
        case 'a':
            refs[id] = mpgc_alloc(gc, sz, kind == 'n' ? MPGC_NO_SCAN : kind == 'f' ? MPGC_FINALISE : 0);
            if (!refs[id]) {
                failed++;
                printf("line %lu: allocation of %lu bytes failed\n", lineno, sz);
            }
            break;
        case 'f': mpgc_free(gc, refs[id]); refs[id] = NULL; break;
        case 'd': refs[id] = NULL; break;
        case 'p':
            id2 = sz;
            if (id2 < MAX_OBJS && refs[id] && mpgc_size(gc, refs[id]) >= sizeof(void *))
                *(void **)refs[id] = refs[id2];
            break;
        case 'c': printf("line %lu: collect freed %zu objects\n", lineno, mpgc_collect(gc)); break;
        case 'i': print_info(gc); break;
        case 'm': mpgc_dump_alloc_table(gc, out, stdout); break;
        default: fprintf(stderr, "%s:%lu: unknown operation '%c'\n", path, lineno, op); return 2;
        }
    }
    fclose(f);
    printf("%lu operations, %lu failed allocations\n", ops, failed);
    print_info(gc);
    int ok = mpgc_check(gc);
    printf("heap check: %s\n", ok ? "ok" : "FAILED");
    free(mem);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "demo";
    if (strcmp(cmd, "demo") == 0) {
        demo_walkthrough();
        demo_fragmentation();
        return 0;
    }
    if (strcmp(cmd, "map") == 0) return cmd_map(argc > 2 ? strtoul(argv[2], NULL, 0) : 16384);
    if (strcmp(cmd, "replay") == 0 && argc > 2)
        return cmd_replay(argv[2], argc > 3 ? strtoul(argv[3], NULL, 0) : 65536);
    fprintf(stderr, "usage: mpgc [demo] | map [bytes] | replay FILE [heap-bytes]\n");
    return 2;
}
