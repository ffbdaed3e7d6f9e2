/* The fusion plan: which ops form which kernel, which values live in memory.
 * Internal header of src/fuse/. The rules are written down in docs/FUSION.md. */
#ifndef NF_FUSE_H
#define NF_FUSE_H

#include "ir/ir.h"

typedef enum nf_kernel_kind {
    NF_KERNEL_ELEMENTWISE, /* one thread of work per element of the iteration shape */
    NF_KERNEL_GEMM,        /* linear/matmul whose accumulator feeds an elementwise epilogue */
} nf_kernel_kind;

/* How a GEMM operand is read: through views and (at most) one cast of a
 * value in memory, e.g. the AMD path's x.to(float32) fused into the load. */
typedef struct nf_gemm_operand {
    const nf_value *source; /* the value in memory (a kernel input) */
    const nf_value *value;  /* the operand as the GEMM sees it */
} nf_gemm_operand;

typedef struct nf_fused_kernel {
    nf_kernel_kind kind;
    const nf_value **inputs;  /* values read from memory: params or earlier kernels' outputs */
    int n_inputs;
    const nf_value **outputs; /* values this kernel stores (same iteration shape) */
    int n_outputs;
    const nf_value **ops;     /* every op computed here, views included, in graph order */
    int n_ops;
    const nf_value *gemm;     /* GEMM kernels: the linear/matmul */
    nf_gemm_operand a, b;     /* GEMM kernels: how A and B are loaded */
} nf_fused_kernel;

typedef struct nf_plan {
    const nf_graph *graph;
    nf_fused_kernel *kernels;
    int n_kernels;
    /* Values stored by one kernel and read by a later one, not graph outputs:
     * they need temporary buffers (contiguous). */
    const nf_value **temporaries;
    int n_temporaries;
    bool keep_fp32;
    bool unfused;
} nf_plan;

typedef struct nf_plan_options {
    bool keep_fp32; /* drop rounding to narrow dtypes between fused ops */
    bool unfused;   /* every non-view op its own kernel (eager) */
} nf_plan_options;

nf_status nf_plan_build(const nf_graph *g, const nf_plan_options *o, nf_plan **out, nf_error *err);
void nf_plan_free(nf_plan *p);
/* `nsafuse dump --emit fused`: one block per kernel, first line `kernel ...`. */
char *nf_plan_print(const nf_plan *p);

/* Whether v is rounded to its dtype where it is computed inside kernel k:
 * always when stored; between fused ops unless keep_fp32. */
bool nf_plan_rounds(const nf_plan *p, const nf_fused_kernel *k, const nf_value *v);

/* How an in-place kernel groups elements (inplace.c, docs/ROPE.md): it
 * computes a whole group before storing any of it. */
typedef enum nf_group_kind {
    NF_GROUP_ONE,         /* each element alone */
    NF_GROUP_NEOX,        /* elements j and j + L/2 of the last dimension (L its size) */
    NF_GROUP_INTERLEAVED, /* elements 2j and 2j + 1 of the last dimension */
} nf_group_kind;

/* The parameter a chain of views reads (v itself when it is no view). */
const nf_value *nf_view_root(const nf_value *v);
/* Whether kernel `index` may store its outputs over the memory `through`
 * (a parameter or a chain of views of one) reads, with *group the grouping
 * that makes it safe: every read of that parameter in the kernel is
 * `through` at the element written or its rope partner, and no later kernel
 * reads the parameter. */
bool nf_plan_in_place(const nf_plan *p, int index, const nf_value *through, nf_group_kind *group);

#endif
