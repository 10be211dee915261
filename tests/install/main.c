/* Builds against the installed headers and library, and uses them. */
#include <mpgc.h>

static _Alignas(16) unsigned char mem[16384];
static void *root;

int main(void) {
    mpgc_t *gc = mpgc_init(mem, sizeof mem, 0);
    int top;
    mpgc_set_stack_top(gc, &top);
    mpgc_add_root(gc, &root, sizeof root);
    root = mpgc_alloc(gc, 100, 0);
    mpgc_collect(gc);
    return root && mpgc_size(gc, root) >= 100 && mpgc_check(gc) ? 0 : 1;
}
