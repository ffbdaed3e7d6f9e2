/* What a compiled nf_kernel holds, shared by kernel.c (compiling and
 * running) and kernel_dump.c (showing code). Private to those two files. */
#ifndef NF_RUNTIME_KERNEL_STATE_H
#define NF_RUNTIME_KERNEL_STATE_H

#include "runtime/runtime.h"

#include <pthread.h>

typedef struct nf_compiled {
    struct nf_compiled *next;
    int64_t *key;       /* signature_key's words */
    size_t key_words;
    bool ready;         /* compiled; until then a placeholder for the thread compiling it */
    nf_slots slots;
    int64_t *sym_sizes;
    nf_host_fn *fns;    /* host: one per plan kernel */
    int64_t *rows;      /* work per kernel */
    int64_t *work;      /* cost per row, to decide on threads */
    nf_gpu_code *gpu;   /* GPU targets */
    bool *skip;         /* by slot: outputs already in place (NULL: none) */
    const nf_fused_kernel **in_place;
    signed char *in_place_group;
    int launched;       /* kernels a run launches */
    double compile_ms;
} nf_compiled;

struct nf_kernel {
    nf_graph *graph;
    nf_plan *plan;
    const nf_target *target;
    nf_compile_options opt;
    pthread_mutex_t lock;
    pthread_cond_t signature_ready; /* a signature became ready, or its compile failed */
    nf_compiled *signatures;
    int n_signatures;
    double last_compile_ms, last_llvm_ms, last_driver_ms;
    bool last_from_disk;
    int last_launched;  /* by the last run, staged copies included; -1 before any */
    char *graph_text;   /* part of the disk cache key */
    char device_name[256];
    /* inputs declared constant whose bf16 terms the code reads (f32 weights
     * of GEMMs on sm_90), and the terms; guarded by lock */
    unsigned terms_wanted;
    nf_constant constants[32];
};

/* The slots of signature c: the graph's params, outputs and temporaries with
 * the layouts of these tensors. */
nf_status nf_compiled_slots(nf_kernel *k, nf_compiled *c, const nf_tensor *in, const nf_tensor *out, bool aligned16,
                            nf_error *err);
void nf_compiled_free(nf_compiled *c);
/* sym_sizes (64) from b, and ts (params then outputs) as contiguous tensors
 * of those sizes with no data: what a plain call of the sizes presents. */
nf_status nf_kernel_contiguous_tensors(const nf_kernel *k, const nf_bindings *b, int64_t *sym_sizes, nf_tensor *ts,
                                       nf_error *err);

#endif
