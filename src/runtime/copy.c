/* nf_copy: a copy between two strided views that knows when they are the
 * same memory. Identical views (address, shape, strides, dtype) launch
 * nothing; disjoint views take one copy kernel; views that overlap in any
 * other way (a shifted range, the same address with other strides) go
 * through a temporary, so the result is what the source held before. A
 * guard on data pointers alone gets the last case wrong. */
#include "runtime/device.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One compiled copy kernel per (device, dtype, rank), built on first use:
 * `%y = cast(%x, DT)` over symbolic sizes, which the fusion pass makes one
 * elementwise kernel reading and writing through any strides. */
static pthread_mutex_t copy_lock = PTHREAD_MUTEX_INITIALIZER;
static nf_kernel *copy_kernels[3][NF_DTYPE_COUNT][NF_MAX_DIMS + 1];

static nf_status copy_kernel(nf_device_kind dev, nf_dtype dt, int rank, nf_kernel **out, nf_error *err)
{
    pthread_mutex_lock(&copy_lock);
    nf_status st = NF_OK;
    nf_kernel **slot = &copy_kernels[dev][dt][rank];
    if (!*slot) {
        static const char *names[NF_MAX_DIMS] = {"S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7"};
        nf_dim dims[NF_MAX_DIMS];
        for (int d = 0; d < rank; d++)
            dims[d] = (nf_dim){0, names[d]};
        nf_graph *g = nf_graph_new("copy");
        nf_value *y = g ? nf_cast(g, nf_param(g, "x", dt, rank, dims), dt) : NULL;
        if (y)
            nf_graph_return(g, 1, &y);
        nf_compile_options o;
        nf_compile_options_init(&o);
        o.target = dev == NF_DEVICE_CUDA ? "cuda" : dev == NF_DEVICE_HIP ? "hip" : "host";
        if (!g || nf_graph_error(g))
            st = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "cannot build the copy graph");
        else
            st = nf_compile(g, &o, slot, err);
        nf_graph_free(g);
    }
    *out = *slot;
    pthread_mutex_unlock(&copy_lock);
    return st;
}

/* The bytes a view can touch: [lo, hi). Strides are >= 0 here. */
static void extent(const nf_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    int64_t last = 0;
    for (int d = 0; d < t->rank; d++)
        last += (t->shape[d] - 1) * t->strides[d];
    *lo = (uintptr_t)t->data;
    *hi = *lo + (uintptr_t)(last + 1) * nf_dtype_size(t->dtype);
}

static bool same_view(const nf_tensor *a, const nf_tensor *b)
{
    if (a->data != b->data)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] > 1 && a->strides[d] != b->strides[d])
            return false; /* a size-1 dim's stride never matters */
    return true;
}

static nf_status check(const nf_tensor *dst, const nf_tensor *src, nf_error *err)
{
    if (!dst || !src)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_copy: NULL tensor");
    if (dst->dtype != src->dtype || dst->rank != src->rank)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_copy: %s rank %d into %s rank %d: dtype and rank must match",
                            nf_dtype_name(src->dtype), src->rank, nf_dtype_name(dst->dtype), dst->rank);
    if (dst->device != src->device)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_copy: source and destination are on different devices");
    if (dst->rank < 0 || dst->rank > NF_MAX_DIMS || dst->dtype < 0 || dst->dtype >= NF_DTYPE_COUNT ||
        !nf_device_get(dst->device))
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_copy: invalid tensor");
    for (int d = 0; d < dst->rank; d++) {
        if (dst->shape[d] != src->shape[d])
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_copy: dimension %d is %lld in the source, %lld in the destination",
                                d, (long long)src->shape[d], (long long)dst->shape[d]);
        if (dst->strides[d] < 0 || src->strides[d] < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_copy: negative strides are not supported");
        if (dst->strides[d] == 0 && dst->shape[d] > 1)
            return nf_set_error(err, NF_ERR_ARG, 0, 0,
                                "nf_copy: destination dimension %d has stride 0: its elements share memory", d);
    }
    return NF_OK;
}

nf_status nf_copy(const nf_tensor *dst, const nf_tensor *src, void *stream, nf_copy_path *path, nf_error *err)
{
    nf_status st = check(dst, src, err);
    if (st)
        return st;
    nf_copy_path taken = NF_COPY_SKIPPED;
    int64_t n = nf_tensor_numel(dst);
    if (n == 0 || same_view(dst, src)) {
        if (path)
            *path = taken;
        return NF_OK;
    }
    nf_kernel *k;
    if ((st = copy_kernel(dst->device, dst->dtype, dst->rank, &k, err)))
        return st;
    uintptr_t dlo, dhi, slo, shi;
    extent(dst, &dlo, &dhi);
    extent(src, &slo, &shi);
    if (dhi <= slo || shi <= dlo) {
        taken = NF_COPY_DIRECT;
        st = nf_kernel_run(k, src, 1, dst, 1, stream, err);
    } else {
        /* Overlapping: read everything first, into a temporary. */
        taken = NF_COPY_STAGED;
        const nf_device_ops *dev = nf_device_get(dst->device);
        nf_tensor tmp;
        void *mem = NULL;
        if ((st = dev->alloc((size_t)n * nf_dtype_size(dst->dtype), &mem, err)))
            return st;
        nf_tensor_init(&tmp, mem, dst->dtype, dst->rank, dst->shape);
        tmp.device = dst->device;
        tmp.device_id = dst->device_id;
        st = nf_kernel_run(k, src, 1, &tmp, 1, stream, err);
        if (!st)
            st = nf_kernel_run(k, &tmp, 1, dst, 1, stream, err);
        /* the temporary must outlive both kernels */
        if (!st && dst->device != NF_DEVICE_HOST)
            st = dev->stream_synchronize(stream, err);
        dev->free(mem);
    }
    if (path)
        *path = taken;
    return st;
}
