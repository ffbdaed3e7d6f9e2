/* The runtime: compiled signatures, execution on the host and devices.
 * Internal header of src/runtime/. */
#ifndef NF_RUNTIME_H
#define NF_RUNTIME_H

#include "codegen/codegen.h"

typedef void (*nf_host_fn)(void **slots, int64_t begin, int64_t end);

/* Calls fn over [0, n) split across threads; work_per_item weighs items. */
void nf_host_parallel_for(nf_host_fn fn, void **slots, int64_t n, int64_t work_per_item);


/* Runs a plan's host kernels in order, with temporaries allocated here. */
nf_status nf_host_execute(const nf_plan *p, const nf_slots *s, nf_host_fn *fns, const int64_t *rows,
                          const int64_t *work, const nf_tensor *inputs, const nf_tensor *outputs, nf_error *err);

/* GPU code for one signature (gpu_exec.c). */
typedef struct nf_gpu_code nf_gpu_code;
/* cache_key: the disk cache key (NULL: no disk cache). */
nf_status nf_gpu_compile(const nf_target *t, const nf_plan *p, const nf_slots *s, const char *cache_key,
                         nf_gpu_code **out, nf_error *err);
nf_status nf_gpu_execute(nf_gpu_code *code, const nf_plan *p, const nf_slots *s, const nf_tensor *inputs,
                         const nf_tensor *outputs, void *stream, nf_error *err);
bool nf_gpu_code_from_disk(const nf_gpu_code *code);
void nf_gpu_code_free(nf_gpu_code *code);

#endif
