/* Outputs that share memory with inputs or with each other (docs/ROPE.md).
 *
 * A call's outputs may be any views, including views of its inputs' memory.
 * The result is always what the reference interpreter gives: every output
 * computed from the inputs as they were at the call, outputs written in
 * order. Per output, the cheapest way that keeps that promise:
 *   skip      the output is a view of an input (through the graph's views)
 *             and its tensor is that very view: address, dtype, shape and
 *             strides (of dims longer than 1) equal. Nothing is written;
 *   direct    it shares no memory with any input or other output;
 *   in place  its tensor is exactly a view that the storing kernel reads,
 *             and the fusion pass finds every read of that input in the
 *             kernel local to the element written (fuse/inplace.c);
 *   staged    anything else that overlaps (a shifted view, the same address
 *             with other strides, a partial overlap): written to a
 *             temporary, copied into place after every kernel has run.
 * Overlap is judged on address ranges, so views that interleave without
 * sharing an element are staged too: correct, one copy slower. */
#include "runtime/runtime.h"
#include "runtime/device.h"

#include <stdlib.h>
#include <string.h>

void nf_view_extent(const nf_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    int64_t last = 0;
    *lo = *hi = (uintptr_t)t->data;
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] == 0)
            return; /* no elements */
        last += (t->shape[d] - 1) * t->strides[d];
    }
    *hi = *lo + (uintptr_t)(last + 1) * nf_dtype_size(t->dtype);
}

bool nf_views_overlap(const nf_tensor *a, const nf_tensor *b)
{
    if (a->device != b->device || a->device_id != b->device_id)
        return false;
    uintptr_t alo, ahi, blo, bhi;
    nf_view_extent(a, &alo, &ahi);
    nf_view_extent(b, &blo, &bhi);
    return alo < ahi && blo < bhi && alo < bhi && blo < ahi;
}

bool nf_views_identical(const nf_tensor *a, const nf_tensor *b)
{
    if (a->data != b->data || a->dtype != b->dtype || a->rank != b->rank || a->device != b->device ||
        a->device_id != b->device_id)
        return false;
    for (int d = 0; d < a->rank; d++) {
        if (a->shape[d] != b->shape[d])
            return false;
        if (a->shape[d] > 1 && a->strides[d] != b->strides[d])
            return false; /* a size-1 dim's stride never matters */
    }
    return true;
}

/* Whether distinct elements of t are distinct memory: sorted by stride,
 * each dim's stride passes everything the smaller ones reach. */
static bool view_is_injective(const nf_tensor *t)
{
    int order[NF_MAX_DIMS], n = 0;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] > 1)
            order[n++] = d;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t->strides[order[j]] < t->strides[order[j - 1]]; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    int64_t reach = 0; /* largest offset of the dims so far */
    for (int i = 0; i < n; i++) {
        int d = order[i];
        if (t->strides[d] <= reach)
            return false;
        reach += (t->shape[d] - 1) * t->strides[d];
    }
    return true;
}

/* The tensor that value v (a parameter or a chain of views of one) reads. */
static void view_tensor(const nf_value *v, const nf_tensor *param, nf_tensor *out)
{
    if (nf_op_kind_of(v->op) != NF_KIND_VIEW) {
        *out = *param;
        return;
    }
    nf_tensor base;
    view_tensor(v->args[0], param, &base);
    nf_layout bl = {.rank = base.rank}, l;
    memcpy(bl.shape, base.shape, sizeof bl.shape);
    memcpy(bl.strides, base.strides, sizeof bl.strides);
    nf_view_layout(v, &bl, &l);
    *out = base;
    out->rank = l.rank;
    memcpy(out->shape, l.shape, sizeof out->shape);
    memcpy(out->strides, l.strides, sizeof out->strides);
    out->data = (char *)base.data + l.offset * (int64_t)nf_dtype_size(base.dtype);
}

static int storing_kernel(const nf_plan *p, const nf_value *v)
{
    for (int i = 0; i < p->n_kernels; i++)
        for (int j = 0; j < p->kernels[i].n_outputs; j++)
            if (p->kernels[i].outputs[j] == v)
                return i;
    return -1;
}

/* Output o written over input `in` in place: the view of `in` that the
 * storing kernel reads and whose memory o's tensor is, if the kernel is safe. */
static bool find_in_place(const nf_plan *p, const nf_tensor *inputs, int in, const nf_tensor *o, const nf_value *v,
                          nf_alias *a, int out_index)
{
    int kk = storing_kernel(p, v);
    if (kk < 0 || kk >= NF_ALIAS_MAX_KERNELS || !view_is_injective(o))
        return false;
    const nf_fused_kernel *k = &p->kernels[kk];
    const nf_value *param = p->graph->params[in];
    for (int i = -1; i < k->n_ops; i++) {
        const nf_value *u = i < 0 ? param : k->ops[i];
        if (i >= 0 && (nf_op_kind_of(u->op) != NF_KIND_VIEW || nf_view_root(u) != param))
            continue;
        nf_tensor t;
        view_tensor(u, &inputs[in], &t);
        nf_group_kind group;
        if (!nf_views_identical(&t, o) || !nf_plan_in_place(p, kk, u, &group))
            continue;
        signed char *g = &a->kernel_group[kk];
        if (*g >= 0 && *g != (signed char)group && group != NF_GROUP_ONE && *g != NF_GROUP_ONE)
            return false; /* another output of the kernel pairs elements otherwise */
        if (*g < 0 || *g == NF_GROUP_ONE)
            *g = (signed char)group;
        a->mode[out_index] = NF_OUT_IN_PLACE;
        a->through[out_index] = u->id;
        return true;
    }
    return false;
}

nf_status nf_alias_classify(const nf_plan *p, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                            int n_outputs, nf_alias *a, nf_error *err)
{
    memset(a, 0, sizeof *a);
    if (n_outputs > NF_ALIAS_MAX)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than %d outputs", NF_ALIAS_MAX);
    for (int i = 0; i < p->n_kernels && i < NF_ALIAS_MAX_KERNELS; i++)
        a->kernel_group[i] = -1;
    for (int i = 0; i < n_outputs; i++) {
        const nf_tensor *o = &outputs[i];
        a->through[i] = -1;
        bool with_output = false;
        int with_inputs = 0, in = -1;
        for (int j = 0; j < n_outputs; j++)
            with_output |= j != i && nf_views_overlap(o, &outputs[j]);
        for (int j = 0; j < n_inputs; j++)
            if (nf_views_overlap(o, &inputs[j])) {
                with_inputs++;
                in = j;
            }
        if (!with_output && !with_inputs)
            continue; /* direct */
        const nf_value *v = p->graph->outputs[i], *root = nf_view_root(v);
        if (!with_output && root->op == NF_OP_PARAM) {
            nf_tensor t;
            view_tensor(v, &inputs[root->param_index], &t);
            if (nf_views_identical(&t, o)) {
                a->mode[i] = NF_OUT_SKIP;
                continue;
            }
        }
        if (!with_output && with_inputs == 1 && find_in_place(p, inputs, in, o, v, a, i))
            continue;
        a->mode[i] = NF_OUT_STAGED;
        a->n_staged++;
    }
    return NF_OK;
}

bool nf_alias_changes_code(const nf_alias *a, int n_outputs)
{
    for (int i = 0; a && i < n_outputs; i++) /* staged outputs run the plain code on temporaries */
        if (a->mode[i] == NF_OUT_SKIP || a->mode[i] == NF_OUT_IN_PLACE)
            return true;
    return false;
}

size_t nf_alias_key(const nf_alias *a, int n_outputs, int64_t *key, size_t cap)
{
    size_t n = 0;
    if (!nf_alias_changes_code(a, n_outputs))
        return 0;
    for (int i = 0; i < n_outputs && n + 2 <= cap; i++) {
        key[n++] = a->mode[i] == NF_OUT_STAGED ? NF_OUT_DIRECT : a->mode[i]; /* a staged output is a temporary */
        key[n++] = a->through[i];
    }
    return n;
}

nf_status nf_alias_stage(const nf_tensor *outputs, int n_outputs, const nf_alias *a, nf_tensor *staged, void **temps,
                         nf_error *err)
{
    for (int i = 0; i < n_outputs; i++) {
        staged[i] = outputs[i];
        temps[i] = NULL;
        if (a->mode[i] != NF_OUT_STAGED)
            continue;
        const nf_device_ops *dev = nf_device_get(outputs[i].device);
        size_t bytes = (size_t)nf_tensor_numel(&outputs[i]) * nf_dtype_size(outputs[i].dtype);
        nf_status st = dev->alloc(bytes ? bytes : 1, &temps[i], err);
        if (st) {
            for (int j = 0; j < i; j++)
                if (temps[j])
                    nf_device_get(outputs[j].device)->free(temps[j]);
            return st;
        }
        nf_tensor_init(&staged[i], temps[i], outputs[i].dtype, outputs[i].rank, outputs[i].shape);
        staged[i].device = outputs[i].device;
        staged[i].device_id = outputs[i].device_id;
    }
    return NF_OK;
}

nf_status nf_alias_unstage(const nf_tensor *outputs, const nf_tensor *staged, int n_outputs, const nf_alias *a,
                           void **temps, void *stream, nf_status st, nf_error *err)
{
    /* in output order: where staged outputs overlap, the later one stays */
    for (int i = 0; i < n_outputs && !st; i++)
        if (a->mode[i] == NF_OUT_STAGED)
            st = nf_copy(&outputs[i], &staged[i], stream, NULL, err);
    const nf_device_ops *sync = NULL;
    for (int i = 0; i < n_outputs; i++)
        if (temps[i] && outputs[i].device != NF_DEVICE_HOST)
            sync = nf_device_get(outputs[i].device);
    if (sync) { /* the temporaries must outlive the kernels that read them */
        nf_error sync_err;
        nf_status s2 = sync->stream_synchronize(stream, st ? &sync_err : err);
        if (!st)
            st = s2;
    }
    for (int i = 0; i < n_outputs; i++)
        if (temps[i])
            nf_device_get(outputs[i].device)->free(temps[i]);
    return st;
}
