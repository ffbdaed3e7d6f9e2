/* In-place kernels (docs/ROPE.md): a kernel that stores an output over
 * memory it reads works group by group, one element or one rope pair
 * (j, j + L/2 or 2j, 2j + 1 of the last dimension), and computes every
 * element of its groups (all the loads) before it stores any of them. The
 * fusion pass (fuse/inplace.c) has checked that no other thread reads those
 * elements, so the result is the same as reading everything first. */
#include "codegen/codegen.h"

#include <stdlib.h>

enum { MAX_WIDTH = 8 };

int nf_slots_group(const nf_slots *s, const nf_fused_kernel *k)
{
    for (int i = 0; i < s->n_in_place; i++)
        if (s->in_place[i] == k)
            return s->in_place_group[i];
    return -1;
}

bool nf_slots_kernel_idle(const nf_slots *s, const nf_fused_kernel *k)
{
    if (!s->skip || k->kind != NF_KERNEL_ELEMENTWISE)
        return false;
    for (int i = 0; i < k->n_outputs; i++)
        for (int j = s->n_params; j < s->n; j++)
            if (s->value[j] == k->outputs[i] && !s->skip[j])
                return false;
    return true;
}

/* Groups along one row of the last dimension. */
static int64_t groups_per_row(const nf_fused_kernel *k, const nf_slots *s, int64_t *shape)
{
    nf_slots_shape(s, k->outputs[0], shape);
    int64_t last = shape[k->outputs[0]->shape.rank - 1];
    return nf_slots_group(s, k) == NF_GROUP_ONE ? last : last / 2;
}

int nf_group_width(const nf_fused_kernel *k, const nf_slots *s)
{
    size_t smallest = nf_kernel_smallest_element(k);
    int64_t shape[NF_MAX_DIMS], per_row = groups_per_row(k, s, shape);
    int w = (int)(16 / smallest); /* 16-byte loads and stores of each run */
    if (w > MAX_WIDTH)
        w = MAX_WIDTH;
    while (w > 1 && per_row % w != 0)
        w /= 2;
    return w;
}

int64_t nf_group_work_items(const nf_fused_kernel *k, const nf_slots *s, int width)
{
    int64_t shape[NF_MAX_DIMS], per_row = groups_per_row(k, s, shape);
    int rank = k->outputs[0]->shape.rank;
    return per_row == 0 ? 0 : nf_shape_numel(rank - 1, shape) * (per_row / width);
}

static LLVMValueRef i64c(LLVMModuleRef m, int64_t x)
{
    return LLVMConstInt(LLVMInt64TypeInContext(LLVMGetModuleContext(m)), (unsigned long long)x, 1);
}

void nf_group_store(nf_body *body, const nf_fused_kernel *k, const nf_slots *s, LLVMValueRef item, int width)
{
    LLVMModuleRef m = LLVMGetGlobalParent(LLVMGetBasicBlockParent(LLVMGetInsertBlock(nf_body_builder(body))));
    LLVMBuilderRef b = nf_body_builder(body);
    int kind = nf_slots_group(s, k), rank = k->outputs[0]->shape.rank;
    int64_t shape[NF_MAX_DIMS], per_row = groups_per_row(k, s, shape), last = shape[rank - 1];
    int64_t items_per_row = per_row / width;
    LLVMValueRef row = LLVMBuildUDiv(b, item, i64c(m, items_per_row), "");
    LLVMValueRef col = LLVMBuildMul(b, LLVMBuildURem(b, item, i64c(m, items_per_row), ""), i64c(m, width), "");
    /* the elements of these groups: runs of consecutive columns */
    int per_group = kind == NF_GROUP_ONE ? 1 : 2, n_el = width * per_group;
    LLVMValueRef idx[2 * MAX_WIDTH][NF_MAX_DIMS];
    for (int e = 0; e < n_el; e++) {
        nf_body_unflatten(body, row, rank - 1, shape, idx[e]);
        LLVMValueRef c;
        if (kind == NF_GROUP_INTERLEAVED) /* 2j, 2j + 1 for j = col .. col + width - 1 */
            c = LLVMBuildAdd(b, LLVMBuildMul(b, col, i64c(m, 2), ""), i64c(m, e), "");
        else /* j for j = col .. col + width - 1, then (neox) j + last/2 */
            c = LLVMBuildAdd(b, col, i64c(m, e % width + (e >= width ? last / 2 : 0)), "");
        idx[e][rank - 1] = c;
    }
    nf_body_reset(body);
    LLVMValueRef *vals = malloc((size_t)(n_el * k->n_outputs) * sizeof *vals);
    if (!vals) {
        nf_body_fail(body, "out of memory");
        return;
    }
    for (int e = 0; e < n_el; e++)
        for (int o = 0; o < k->n_outputs; o++)
            vals[e * k->n_outputs + o] = nf_body_value(body, k->outputs[o], idx[e]);
    for (int e = 0; e < n_el; e++)
        for (int o = 0; o < k->n_outputs; o++)
            nf_body_store_value(body, k->outputs[o], idx[e], vals[e * k->n_outputs + o]);
    free(vals);
}
