/* The runtime: compiled signatures, execution on the host and devices.
 * Internal header of src/runtime/. */
#ifndef NF_RUNTIME_H
#define NF_RUNTIME_H

#include "codegen/codegen.h"
#include "runtime/device.h"

typedef void (*nf_host_fn)(void **slots, int64_t begin, int64_t end);

/* Calls fn over [0, n) split across threads; work_per_item weighs items. */
void nf_host_parallel_for(nf_host_fn fn, void **slots, int64_t n, int64_t work_per_item);


/* Runs a plan's host kernels in order, with temporaries allocated here. */
nf_status nf_host_execute(const nf_plan *p, const nf_slots *s, nf_host_fn *fns, const int64_t *rows,
                          const int64_t *work, const nf_tensor *inputs, const nf_tensor *outputs, nf_error *err);

/* ---- outputs that share memory (alias.c, docs/ROPE.md) ------------------ */

/* The bytes a view (strides >= 0) can touch: [lo, hi); empty for no elements. */
void nf_view_extent(const nf_tensor *t, uintptr_t *lo, uintptr_t *hi);
bool nf_views_overlap(const nf_tensor *a, const nf_tensor *b);
/* One address, dtype, shape and strides (of dims longer than 1), one device. */
bool nf_views_identical(const nf_tensor *a, const nf_tensor *b);

typedef enum nf_out_mode { NF_OUT_DIRECT, NF_OUT_SKIP, NF_OUT_IN_PLACE, NF_OUT_STAGED } nf_out_mode;
enum { NF_ALIAS_MAX = 32, NF_ALIAS_MAX_KERNELS = 256 };

/* How one call writes each output. */
typedef struct nf_alias {
    int n_staged;
    unsigned char mode[NF_ALIAS_MAX];  /* by output: nf_out_mode */
    int through[NF_ALIAS_MAX];         /* in place: the id of the view of the input it overwrites; -1 */
    signed char kernel_group[NF_ALIAS_MAX_KERNELS]; /* by plan kernel: nf_group_kind when in place, -1 */
} nf_alias;

nf_status nf_alias_classify(const nf_plan *p, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                            int n_outputs, nf_alias *a, nf_error *err);
/* Whether some output is skipped or stored in place: code of its own. */
bool nf_alias_changes_code(const nf_alias *a, int n_outputs);
/* Words for the signature key (none when the code is the plain one). */
size_t nf_alias_key(const nf_alias *a, int n_outputs, int64_t *key, size_t cap);
/* Staged outputs: contiguous temporaries in *staged (the others as given),
 * then copied into the real outputs in order and freed (after st, the
 * status of the run, which unstage returns unless a copy fails). */
nf_status nf_alias_stage(const nf_tensor *outputs, int n_outputs, const nf_alias *a, nf_tensor *staged, void **temps,
                         nf_error *err);
nf_status nf_alias_unstage(const nf_tensor *outputs, const nf_tensor *staged, int n_outputs, const nf_alias *a,
                           void **temps, void *stream, nf_status st, nf_error *err);

/* GPU code for one signature (gpu_exec.c). */
typedef struct nf_gpu_code nf_gpu_code;
/* cache_key: the disk cache key (NULL: no disk cache). */
nf_status nf_gpu_compile(const nf_target *t, const nf_plan *p, const nf_slots *s, const char *cache_key,
                         nf_gpu_code **out, nf_error *err);
/* terms: by slot, the device address of a weight's bf16 terms where the
 * slots say the code reads them (nf_slots.split_terms); NULL when none. */
nf_status nf_gpu_execute(nf_gpu_code *code, const nf_plan *p, const nf_slots *s, const nf_tensor *inputs,
                         const nf_tensor *outputs, void *const *terms, void *stream, nf_error *err);
bool nf_gpu_code_from_disk(const nf_gpu_code *code);
/* ms spent compiling it: in LLVM (IR to PTX or a code object) and in the
 * driver (PTX to a cubin, loading); both 0 when it came from the disk cache */
double nf_gpu_code_llvm_ms(const nf_gpu_code *code);
double nf_gpu_code_driver_ms(const nf_gpu_code *code);
void nf_gpu_code_free(nf_gpu_code *code);

/* Compiles (or finds) the signature of contiguous, 16-byte aligned,
 * unshared tensors for these symbol sizes (kernel.c; prepare.c runs it on
 * several threads). */
nf_status nf_kernel_prepare_signature(nf_kernel *k, const nf_bindings *b, nf_error *err);

/* An input declared constant, and what was made from it (constants.c). */
typedef struct nf_constant {
    const void *source;       /* the tensor the terms were made from; NULL: none yet */
    int64_t rows, cols, row_stride;
    void *terms;              /* device: [3 rows, cols] bf16, term t in rows t rows .. */
    size_t bytes;
    bool stale;               /* the caller changed the tensor's contents */
} nf_constant;
/* w's three bf16 terms (w = t0 + t1 + t2 exactly) as a [3 rows, cols] matrix. */
void nf_split_f32_terms(const float *w, int64_t rows, int64_t cols, int64_t row_stride, uint16_t *terms);
/* Whether c holds the terms of the tensor w as it is now. */
bool nf_constant_current(const nf_constant *c, const nf_tensor *w);
/* Makes c the terms of w (an f32 [N, K] matrix on dev): synchronizes the
 * device, splits on the host, writes them at c's address when the size is
 * the same. */
nf_status nf_constant_make_terms(nf_constant *c, const nf_device_ops *dev, const nf_tensor *w, nf_error *err);
void nf_constant_free(nf_constant *c, const nf_device_ops *dev);

/* CLOCK_MONOTONIC in ms (kernel.c) */
double nf_now_ms(void);

#endif
