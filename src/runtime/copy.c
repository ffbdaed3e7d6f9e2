/* nf_copy: a copy between two strided views that knows when they are the
 * same memory. Identical views (address, shape, strides, dtype) launch
 * nothing; disjoint views take one copy kernel; views that overlap in any
 * other way (a shifted range, the same address with other strides) go
 * through a temporary, so the result is what the source held before. A
 * guard on data pointers alone gets the last case wrong. The comparison is
 * alias.c's, the one every nf_kernel_run makes of its outputs. */
#include "runtime/device.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One compiled copy per (device, dtype, rank), built on first use: the
 * graph `return %x` over symbolic sizes. Running it with dst as the output
 * lets nf_kernel_run_paths (alias.c) compare the views: the very same view
 * is skipped, disjoint memory is one elementwise kernel through any
 * strides, and any other overlap is staged through a temporary. */
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
        nf_value *x = g ? nf_param(g, "x", dt, rank, dims) : NULL;
        if (x)
            nf_graph_return(g, 1, &x);
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
    if (nf_tensor_numel(dst) > 0) {
        nf_kernel *k;
        if ((st = copy_kernel(dst->device, dst->dtype, dst->rank, &k, err)))
            return st;
        st = nf_kernel_run_paths(k, src, 1, dst, 1, stream, &taken, err);
    }
    if (path)
        *path = taken;
    return st;
}
