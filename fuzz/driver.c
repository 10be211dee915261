/*
 * driver.c - runs the fuzz target without libFuzzer: over the files named
 * on the command line (a corpus), and/or over N pseudo-random inputs:
 *   fuzz_heap_driver [-n N] [-seed S] [-len L] [-save FILE] [FILE...]
 * (-save: each random input is written to FILE before it runs, so that the
 * one that fails can be run again.)
 * With no -n and no file, it runs FUZZ_DEFAULT_INPUTS random inputs (the
 * bare-metal targets pass no usable arguments). Used by CTest (every
 * compiler, every target) and for reproducing crashes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

#ifndef FUZZ_DEFAULT_INPUTS
#define FUZZ_DEFAULT_INPUTS 1000
#endif

int main(int argc, char **argv) {
    unsigned long n = 0, seed = 1, len = 2000, files = 0;
    bool given = false;
    const char *save = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = strtoul(argv[++i], NULL, 0), given = true;
        else if (strcmp(argv[i], "-seed") == 0 && i + 1 < argc) seed = strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "-len") == 0 && i + 1 < argc) len = strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "-save") == 0 && i + 1 < argc) save = argv[++i];
        else if (argv[i][0] != '-' && run_file(argv[i]) == 0) files++, given = true;
        else if (argv[i][0] == '-') return 1;
    }
    if (!given) n = FUZZ_DEFAULT_INPUTS;
    static uint8_t buf[1 << 16];
    if (len > sizeof buf) len = sizeof buf;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (unsigned long k = 0; k < n; k++) {
        size_t l = 1 + (size_t)(x % len);
        for (size_t i = 0; i < l; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t)(x >> 24);
        }
        if (save) {
            FILE *f = fopen(save, "wb");
            if (f) fwrite(buf, 1, l, f), fclose(f);
        }
        LLVMFuzzerTestOneInput(buf, l);
    }
    printf("%lu inputs, %lu files: 0 failures\n", n, files);
    return 0;
}
