/* Internals of the reference interpreter, shared by interp.c (driver: checks,
 * buffers, views, outputs) and interp_ops.c (the per-op kernels). */
#ifndef NF_IR_INTERP_H
#define NF_IR_INTERP_H

#include "ir/ir.h"

/* Memory the interpreter reads or writes: element i of the storage lives at
 * data + i * nf_dtype_size(dtype); the layout picks the elements. */
typedef struct nf_strided {
    char *data;
    nf_dtype dtype;
    nf_layout lay;
} nf_strided;

/* An operand of an elementwise op: a tensor, or a literal (SCALAR value). */
typedef struct nf_operand {
    const nf_value *value;
    nf_strided t; /* unused for a literal */
} nf_operand;

/* Unary, binary and cast ops: reads the operands broadcast to out's shape,
 * computes in the opmath type, stores into out (any layout). */
void nf_interp_elementwise(const nf_value *v, const nf_operand *args, const nf_strided *out);

/* linear and matmul into out (contiguous, v's shape). Fails only when out of
 * memory. */
nf_status nf_interp_gemm(const nf_value *v, const nf_strided *a, const nf_strided *b, const nf_strided *out,
                         nf_error *err);

/* rope(x, cos_sin_cache, positions) into out (any layout, x's shape). Fails
 * when a position is outside the cache. */
nf_status nf_interp_rope(const nf_value *v, const nf_strided *x, const nf_strided *cache, const nf_strided *pos,
                         const nf_strided *out, nf_error *err);

/* Element-by-element copy between two layouts of one shape and one dtype. */
void nf_interp_copy(const nf_strided *src, const nf_strided *dst);

#endif
