/* Data made once from inputs the caller declared constant
 * (nf_compile_options.constant_inputs): for an f32 weight that a GEMM on
 * sm_90 splits into three bf16 terms, the terms themselves, so no block of
 * any call splits it again (docs/GEMM.md, "split once"). */
#include "runtime/runtime.h"
#include "ir/numeric.h"

#include <stdlib.h>
#include <string.h>

/* The kernels' own split (nf_gemm_convert_stage): w1 = w with the low 16
 * bits of its encoding cleared, w2 the same of w - w1, w3 = w - w1 - w2,
 * each exact; the terms' bf16 encodings are their high halves. */
void nf_split_f32_terms(const float *w, int64_t rows, int64_t cols, int64_t row_stride, uint16_t *terms)
{
    size_t plane = (size_t)(rows * cols);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) {
            float rest = w[r * row_stride + k];
            size_t at = (size_t)(r * cols + k);
            for (int t = 0; t < 3; t++) {
                uint32_t bits = nf_f32_bits(rest);
                uint32_t part = t < 2 ? bits & 0xffff0000u : bits;
                terms[(size_t)t * plane + at] = (uint16_t)(part >> 16);
                rest -= nf_f32_from_bits(part);
            }
        }
}

void nf_constant_free(nf_constant *c, const nf_device_ops *dev)
{
    if (c->terms)
        dev->free(c->terms);
    memset(c, 0, sizeof *c);
}

bool nf_constant_current(const nf_constant *c, const nf_tensor *w)
{
    return c->terms && !c->stale && c->source == w->data && w->rank == 2 && c->rows == w->shape[0] &&
           c->cols == w->shape[1] && c->row_stride == w->strides[0];
}

nf_status nf_constant_make_terms(nf_constant *c, const nf_device_ops *dev, const nf_tensor *w, nf_error *err)
{
    if (w->rank != 2 || w->dtype != NF_F32 || w->strides[1] != 1 || w->shape[0] < 1 || w->shape[1] < 1 ||
        w->strides[0] < w->shape[1])
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0,
                            "a constant f32 weight is split once only as a row-major [N, K] matrix");
    int64_t rows = w->shape[0], cols = w->shape[1], stride = w->strides[0];
    size_t src_bytes = (size_t)((rows - 1) * stride + cols) * 4, bytes = (size_t)(3 * rows * cols) * 2;
    float *host = malloc(src_bytes);
    uint16_t *terms = malloc(bytes);
    nf_status st = host && terms ? NF_OK : nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory splitting a weight");
    /* the weight's writers are done, and no kernel still reads the old terms */
    if (!st)
        st = dev->synchronize(err);
    if (!st)
        st = dev->copy(host, w->data, src_bytes, NF_COPY_D2H, err);
    if (!st) {
        nf_split_f32_terms(host, rows, cols, stride, terms);
        if (c->terms && c->bytes != bytes) { /* same size: same address, for graphs captured with it */
            dev->free(c->terms);
            c->terms = NULL;
        }
        if (!c->terms && (st = dev->alloc(bytes, &c->terms, err)) != NF_OK)
            c->terms = NULL;
    }
    if (!st)
        st = dev->copy(c->terms, terms, bytes, NF_COPY_H2D, err);
    free(host);
    free(terms);
    if (st) {
        c->source = NULL; /* not current: the next call tries again */
        return st;
    }
    c->bytes = bytes;
    c->source = w->data;
    c->rows = rows;
    c->cols = cols;
    c->row_stride = stride;
    c->stale = false;
    return NF_OK;
}
