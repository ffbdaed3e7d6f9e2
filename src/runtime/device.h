/* Devices behind a table of function pointers: host, CUDA (driver API through
 * dlopen) and HIP (through dlopen). Nothing above this header knows a driver.
 *
 * GPU backends initialize on first use (every member may be called without
 * calling init first); init is idempotent and thread-safe, and a failure is
 * remembered: no library, no GPU or a driver too old gives NF_ERR_NO_DEVICE
 * with a one-line message saying what to do. Before each call the backend
 * makes its context current on the calling thread when that thread has none
 * (CUDA: the device's primary context, so nsafuse lives beside PyTorch).
 *
 * Handles are opaque void pointers: a device pointer, a module (CUmodule /
 * hipModule_t), a function, a stream (CUstream / hipStream_t; NULL is the
 * default stream), an event, an executable graph. */
#ifndef NF_RUNTIME_DEVICE_H
#define NF_RUNTIME_DEVICE_H

#include "nsafuse.h"

typedef enum nf_copy_kind { NF_COPY_H2D, NF_COPY_D2H, NF_COPY_D2D } nf_copy_kind;

typedef struct nf_device_ops {
    const char *name; /* "host", "cuda", "hip" */
    nf_device_kind kind;

    nf_status (*init)(nf_error *err);

    /* Memory. bytes == 0 gives *ptr == NULL and NF_OK; free(NULL) is a no-op.
     * copy is synchronous with respect to the host. */
    nf_status (*alloc)(size_t bytes, void **ptr, nf_error *err);
    void (*free)(void *ptr);
    nf_status (*copy)(void *dst, const void *src, size_t bytes, nf_copy_kind kind, nf_error *err);
    nf_status (*synchronize)(nf_error *err); /* the whole device */

    /* What the device is. arch_name is the target name the codegen uses:
     * "sm_90", "gfx942". multiprocessor_count is 0 when unavailable, and
     * so is l2_cache_bytes (which may be NULL). */
    nf_status (*device_name)(char *buf, size_t n, nf_error *err);
    nf_status (*compute_capability)(int *major, int *minor, nf_error *err);
    nf_status (*arch_name)(char *buf, size_t n, nf_error *err);
    int (*multiprocessor_count)(void);
    int64_t (*l2_cache_bytes)(void);

    /* ---- the rest is NULL for the host (host code runs through ORC) ---- */

    /* Loads PTX text (is_ptx; need not be NUL-terminated) or a binary (cubin,
     * fatbin, AMD code object). The JIT's error log goes into err's message. */
    nf_status (*load_module)(const void *image, size_t size, bool is_ptx, void **module,
                             nf_error *err);
    void (*unload_module)(void *module);
    /* PTX -> cubin for the current device, for the disk cache. *cubin is
     * malloc'd: free() it. NF_ERR_UNSUPPORTED on HIP. */
    nf_status (*link_ptx_to_cubin)(const char *ptx, void **cubin, size_t *size, nf_error *err);
    nf_status (*get_function)(void *module, const char *name, void **fn, nf_error *err);
    /* Lets fn use up to bytes of dynamic shared memory (needed above 48 KiB on
     * NVIDIA); call once after get_function. */
    nf_status (*set_max_dynamic_shared)(void *fn, unsigned bytes, nf_error *err);
    /* Encodes the TMA descriptor (128 bytes at map, 64-byte aligned) of a
     * row-major bf16/f16/f32 matrix of rows x cols elements, rows row_stride
     * bytes apart, copied in boxes of box_rows x box_cols with the 128-byte
     * swizzle; reads past the matrix fill zeros. NULL where there is no TMA. */
    nf_status (*tensor_map_2d)(void *map, const void *base, nf_dtype dtype, uint64_t rows, uint64_t cols,
                               uint64_t row_stride, unsigned box_rows, unsigned box_cols, nf_error *err);
    /* params: one pointer per kernel argument, pointing at its value.
     * programmatic: the kernel's code waits for the grid before it in the
     * stream (nf_launch.programmatic), so it may be launched before that
     * grid ends. */
    nf_status (*launch)(void *fn, const unsigned grid[3], const unsigned block[3], unsigned shared_bytes,
                        bool programmatic, void *stream, void **params, nf_error *err);

    /* Streams, events and graphs, for tests and benchmarks. */
    nf_status (*stream_create)(void **stream, nf_error *err); /* non-blocking */
    void (*stream_destroy)(void *stream);
    nf_status (*stream_synchronize)(void *stream, nf_error *err);
    nf_status (*event_create)(void **event, nf_error *err);
    void (*event_destroy)(void *event);
    nf_status (*event_record)(void *event, void *stream, nf_error *err);
    /* Waits for end, then gives the time between the two in milliseconds. */
    nf_status (*event_elapsed_ms)(void *start, void *end, float *ms, nf_error *err);
    /* Captures the launches made on stream (not the default stream) between
     * begin and end into an executable graph; replay it with graph_launch. */
    nf_status (*capture_begin)(void *stream, nf_error *err);
    nf_status (*capture_end)(void *stream, void **graph, nf_error *err);
    nf_status (*graph_launch)(void *graph, void *stream, nf_error *err);
    void (*graph_destroy)(void *graph);
} nf_device_ops;

/* NULL for an unknown kind. The tables are static: never freed. */
const nf_device_ops *nf_device_get(nf_device_kind kind);

/* The backends' tables (device.c picks among them). */
extern const nf_device_ops nf_host_device_ops;
extern const nf_device_ops nf_cuda_device_ops;
extern const nf_device_ops nf_hip_device_ops;

#endif
