/* What the matrix-core GEMMs of both vendors (nvptx_gemm*.c, amdgpu_gemm.c)
 * share: the operand forms they read straight from memory. Each generator
 * adds its own rules on N, alignment and tile shape. */
#include "codegen/codegen.h"

bool nf_gemm_splits_b(const nf_fused_kernel *k)
{
    const nf_value *g = k->gemm, *a = g->args[0], *b = g->args[1];
    return g->dtype == NF_F32 && a->op == NF_OP_CAST && a->args[0] == k->a.source && k->a.source->dtype == NF_BF16 &&
           b == k->b.source && b->dtype == NF_F32;
}

bool nf_gemm_b_terms_given(const nf_fused_kernel *k, const nf_slots *s)
{
    int slot = nf_gemm_splits_b(k) ? s->first_slot[k->b.source->id] : -1;
    return slot >= 0 && slot < s->n_params && slot < 32 && (s->split_terms >> slot & 1u);
}

bool nf_gemm_matrix_form(const nf_fused_kernel *k)
{
    if (k->kind != NF_KERNEL_GEMM)
        return false;
    const nf_value *g = k->gemm, *a = k->a.source, *b = k->b.source;
    if (!nf_gemm_splits_b(k) && (a != g->args[0] || b != g->args[1] || a->dtype != b->dtype ||
                                 (a->dtype != NF_BF16 && a->dtype != NF_F16)))
        return false;
    return !(g->op == NF_OP_MATMUL && !g->attr.trans_b);
}

bool nf_gemm_matrix_operands(const nf_fused_kernel *k, const nf_slots *s)
{
    if (!nf_gemm_matrix_form(k) || !s->aligned16)
        return false;
    const nf_value *a = k->a.source, *b = k->b.source;
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    if (K % 16 || M < 1 || N < 1)
        return false;
    const nf_layout *la = nf_slots_layout(s, a), *lb = nf_slots_layout(s, b);
    /* 8-byte loads of four 16-bit columns (16-byte of four f32 weights) */
    if (la->strides[la->rank - 1] != 1 || lb->strides[1] != 1 || la->offset % 4 || lb->offset % 4 || lb->strides[0] % 4)
        return false;
    /* A's leading dims must flatten to one row stride */
    for (int d = 0; d + 2 < la->rank; d++)
        if (la->shape[d] > 1 && la->strides[d] != la->strides[d + 1] * la->shape[d + 1])
            return false;
    return la->rank < 2 || la->strides[la->rank - 2] % 4 == 0;
}
