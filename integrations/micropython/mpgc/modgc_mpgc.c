/*
 * modgc_mpgc.c - the `gc` module on mpgc: MicroPython's functions with the
 * same behaviour (replaces py/modgc.c, see micropython.mk), plus CanMV
 * K230's sys_total/sys_heap/sys_page/sys_mmz backed by mpgc's port layer.
 *
 *   collect()          full collection; the number of freed objects when
 *                      MICROPY_PY_GC_COLLECT_RETVAL, else None
 *   enable()/disable()/isenabled()   automatic collection on/off
 *   mem_alloc()/mem_free()           bytes, O(1) (counters, no heap walk)
 *   threshold([n])     collect after every n bytes allocated; -1: off.
 *                      Kept in blocks, so it reads back rounded down.
 *   sys_total()        int: total system memory
 *   sys_heap()/sys_page()/sys_mmz()  tuples (total, free, used)
 */
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/mpstate.h"
#include "py/obj.h"
#include "py/runtime.h"

#include "mpgc.h"
#include "mpgc_mp.h"
#include "mpgc_mp_trace.h"

#if MICROPY_PY_GC && MICROPY_ENABLE_GC

#if MICROPY_PY_GC_COLLECT_RETVAL
static mp_obj_t collect_result(void) { return MP_OBJ_NEW_SMALL_INT(MP_STATE_MEM(gc_collected)); }
#else
static mp_obj_t collect_result(void) { return mp_const_none; }
#endif

static mp_obj_t py_gc_collect(void) {
    gc_collect();
    return collect_result();
}
MP_DEFINE_CONST_FUN_OBJ_0(gc_collect_obj, py_gc_collect);

static mp_obj_t gc_disable(void) {
    MP_STATE_MEM(gc_auto_collect_enabled) = 0;
    gc_mpgc_trace_enable(false);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_0(gc_disable_obj, gc_disable);

static mp_obj_t gc_enable(void) {
    MP_STATE_MEM(gc_auto_collect_enabled) = 1;
    gc_mpgc_trace_enable(true);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_0(gc_enable_obj, gc_enable);

static mp_obj_t gc_isenabled(void) {
    return mp_obj_new_bool(MP_STATE_MEM(gc_auto_collect_enabled));
}
MP_DEFINE_CONST_FUN_OBJ_0(gc_isenabled_obj, gc_isenabled);

static mp_obj_t gc_mem_free(void) {
    gc_info_t info;
    gc_info_fast(&info);
    #if MICROPY_GC_SPLIT_HEAP_AUTO
    /* as py/modgc.c: what the heap could still grow by counts as free */
    return MP_OBJ_NEW_SMALL_INT(info.free + info.max_new_split);
    #else
    return MP_OBJ_NEW_SMALL_INT(info.free);
    #endif
}
MP_DEFINE_CONST_FUN_OBJ_0(gc_mem_free_obj, gc_mem_free);

static mp_obj_t gc_mem_alloc(void) {
    gc_info_t info;
    gc_info_fast(&info);
    return MP_OBJ_NEW_SMALL_INT(info.used);
}
MP_DEFINE_CONST_FUN_OBJ_0(gc_mem_alloc_obj, gc_mem_alloc);

#if MICROPY_GC_ALLOC_THRESHOLD
static mp_obj_t gc_threshold(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0) {
        return mp_obj_new_int(mpgc_mp_threshold_bytes(MP_STATE_MEM(gc_alloc_threshold),
            MICROPY_BYTES_PER_GC_BLOCK));
    }
    mp_int_t amount = mp_obj_get_int(args[0]);
    MP_STATE_MEM(gc_alloc_threshold) =
        mpgc_mp_threshold_blocks(amount, MICROPY_BYTES_PER_GC_BLOCK);
    gc_mpgc_trace_threshold(amount < 0 ? -1 : amount);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(gc_threshold_obj, 0, 1, gc_threshold);
#define THRESHOLD_ENTRY { MP_ROM_QSTR(MP_QSTR_threshold), MP_ROM_PTR(&gc_threshold_obj) },
#else
#define THRESHOLD_ENTRY
#endif

/* ---- K230 system memory ---------------------------------------------------- */

/* A small int when it fits (mp_obj_new_int_from_ull always makes a long
 * int, or raises OverflowError on ports without them). */
static mp_obj_t new_uint64(uint64_t v) {
    if (v == (mp_uint_t)v) return mp_obj_new_int_from_uint((mp_uint_t)v);
    return mp_obj_new_int_from_ull(v);
}

static mp_obj_t gc_sys_total(void) {
    return new_uint64(mpgc_sys_total());
}
static MP_DEFINE_CONST_FUN_OBJ_0(gc_sys_total_obj, gc_sys_total);

static mp_obj_t sys_tuple(bool (*query)(mpgc_sysmem_t *), bool raise_on_failure) {
    uint64_t v[3];
    if (!mpgc_mp_sys_tuple(query, raise_on_failure, v)) mp_raise_OSError(MP_EIO);
    mp_obj_t items[3] = {
        new_uint64(v[0]),
        new_uint64(v[1]),
        new_uint64(v[2]),
    };
    return mp_obj_new_tuple(3, items);
}

static mp_obj_t gc_sys_heap(void) { return sys_tuple(mpgc_sys_heap, false); }
static MP_DEFINE_CONST_FUN_OBJ_0(gc_sys_heap_obj, gc_sys_heap);

static mp_obj_t gc_sys_page(void) { return sys_tuple(mpgc_sys_page, false); }
static MP_DEFINE_CONST_FUN_OBJ_0(gc_sys_page_obj, gc_sys_page);

static mp_obj_t gc_sys_mmz(void) { return sys_tuple(mpgc_sys_mmz, true); }
static MP_DEFINE_CONST_FUN_OBJ_0(gc_sys_mmz_obj, gc_sys_mmz);

static const mp_rom_map_elem_t mp_module_gc_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_gc) },
    { MP_ROM_QSTR(MP_QSTR_collect), MP_ROM_PTR(&gc_collect_obj) },
    { MP_ROM_QSTR(MP_QSTR_disable), MP_ROM_PTR(&gc_disable_obj) },
    { MP_ROM_QSTR(MP_QSTR_enable), MP_ROM_PTR(&gc_enable_obj) },
    { MP_ROM_QSTR(MP_QSTR_isenabled), MP_ROM_PTR(&gc_isenabled_obj) },
    { MP_ROM_QSTR(MP_QSTR_mem_free), MP_ROM_PTR(&gc_mem_free_obj) },
    { MP_ROM_QSTR(MP_QSTR_mem_alloc), MP_ROM_PTR(&gc_mem_alloc_obj) },
    THRESHOLD_ENTRY
    { MP_ROM_QSTR(MP_QSTR_sys_total), MP_ROM_PTR(&gc_sys_total_obj) },
    { MP_ROM_QSTR(MP_QSTR_sys_heap), MP_ROM_PTR(&gc_sys_heap_obj) },
    { MP_ROM_QSTR(MP_QSTR_sys_page), MP_ROM_PTR(&gc_sys_page_obj) },
    { MP_ROM_QSTR(MP_QSTR_sys_mmz), MP_ROM_PTR(&gc_sys_mmz_obj) },
};
static MP_DEFINE_CONST_DICT(mp_module_gc_globals, mp_module_gc_globals_table);

const mp_obj_module_t mp_module_gc = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mp_module_gc_globals,
};

MP_REGISTER_MODULE(MP_QSTR_gc, mp_module_gc);

#endif /* MICROPY_PY_GC && MICROPY_ENABLE_GC */
