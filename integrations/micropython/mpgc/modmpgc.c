/*
 * modmpgc.c - the `mpgc` module: what mpgc offers beyond the `gc` module.
 *
 *   snapshot(stream)   writes a snapshot of the heap's tables (no object
 *                      contents; format: docs/report.md) to a stream open
 *                      for binary writing, e.g. open("heap.snap", "wb");
 *                      returns the bytes written. `mpgc report heap.snap`
 *                      on a PC draws it. OSError when the stream fails.
 *   idle_stats()       (idle collections completed, idle cycles abandoned,
 *                      all collections, longest slice us, longest final
 *                      slice us, least budget left us): idle-time
 *                      collection at work (docs/micropython.md, section 6).
 *
 * The snapshot is written with the heap locked: the stream must be one
 * implemented in C (a file, a socket, a UART) whose write does not
 * allocate; io.BytesIO, which grows by allocating, gets a MemoryError. Its size is 32 bytes plus, per pool, 16 bytes and
 * half a byte per block (4 bits per block, as mpgc's own tables).
 */
#include "py/mperrno.h"
#include "py/obj.h"
#include "py/runtime.h"
#include "py/stream.h"

#include "mpgc.h"
#include "mpgc_mp.h"

#if MICROPY_ENABLE_GC

typedef struct {
    mp_obj_t stream;
    size_t written;
    int err;
    mp_obj_t exc;   /* raised by the stream (MP_OBJ_NULL: none) */
} snap_out_t;

/* Called by mpgc_snapshot with up to 64 bytes at a time. An exception
 * from the stream (a MemoryError when its write allocates) is caught here
 * and raised once the snapshot has returned: jumping out of it would leave
 * the heap locked. */
static bool snap_write(void *ctx, const void *data, size_t n) {
    snap_out_t *o = ctx;
    int err = 0;
    mp_uint_t w;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) != 0) {
        o->exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        return false;
    }
    w = mp_stream_write_exactly(o->stream, data, n, &err);
    nlr_pop();
    if (err != 0 || w != n) {
        o->err = err != 0 ? err : MP_EIO;
        return false;
    }
    o->written += n;
    return true;
}

static mp_obj_t mpgc_py_snapshot(mp_obj_t stream) {
    mp_get_stream_raise(stream, MP_STREAM_OP_WRITE);
    snap_out_t o = {stream, 0, 0, MP_OBJ_NULL};
    if (!gc_mpgc_snapshot(snap_write, &o)) {
        if (o.exc != MP_OBJ_NULL) nlr_raise(o.exc);
        /* No stream error: refused (inside a collection, or compiled out). */
        mp_raise_OSError(o.err != 0 ? o.err : MP_EPERM);
    }
    return mp_obj_new_int_from_uint(o.written);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mpgc_snapshot_obj, mpgc_py_snapshot);

static mp_obj_t mpgc_py_idle_stats(void) {
    size_t n[6];
    gc_mpgc_idle_stats(n);
    mp_obj_t t[6];
    for (size_t i = 0; i < 6; i++) t[i] = mp_obj_new_int_from_uint(n[i]);
    return mp_obj_new_tuple(6, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mpgc_idle_stats_obj, mpgc_py_idle_stats);

static const mp_rom_map_elem_t mp_module_mpgc_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_mpgc) },
    { MP_ROM_QSTR(MP_QSTR_snapshot), MP_ROM_PTR(&mpgc_snapshot_obj) },
    { MP_ROM_QSTR(MP_QSTR_idle_stats), MP_ROM_PTR(&mpgc_idle_stats_obj) },
};
static MP_DEFINE_CONST_DICT(mp_module_mpgc_globals, mp_module_mpgc_globals_table);

const mp_obj_module_t mp_module_mpgc = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mp_module_mpgc_globals,
};

MP_REGISTER_MODULE(MP_QSTR_mpgc, mp_module_mpgc);

#endif /* MICROPY_ENABLE_GC */
