/* The device table dispatch, the host device, and the public nf_device_*
 * functions of nsafuse.h. */
#include "runtime/device.h"

#include "ir/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the host ------------------------------------------------------------ */

static nf_status host_init(nf_error *err)
{
    (void)err;
    return NF_OK;
}

static nf_status host_alloc(size_t bytes, void **ptr, nf_error *err)
{
    *ptr = NULL;
    if (bytes == 0)
        return NF_OK;
    *ptr = malloc(bytes);
    if (!*ptr)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of host memory allocating %zu bytes",
                            bytes);
    return NF_OK;
}

static void host_free(void *ptr) { free(ptr); }

static nf_status host_copy(void *dst, const void *src, size_t bytes, nf_copy_kind kind,
                           nf_error *err)
{
    (void)kind;
    (void)err;
    if (bytes)
        memmove(dst, src, bytes);
    return NF_OK;
}

static nf_status host_synchronize(nf_error *err)
{
    (void)err;
    return NF_OK;
}

static nf_status host_device_name(char *buf, size_t n, nf_error *err)
{
    (void)err;
    snprintf(buf, n, "host CPU");
    return NF_OK;
}

static nf_status host_compute_capability(int *major, int *minor, nf_error *err)
{
    *major = *minor = 0;
    return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "the host has no compute capability");
}

static nf_status host_arch_name(char *buf, size_t n, nf_error *err)
{
    (void)err;
    snprintf(buf, n, "host");
    return NF_OK;
}

static int host_multiprocessor_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

const nf_device_ops nf_host_device_ops = {
    .name = "host",
    .kind = NF_DEVICE_HOST,
    .init = host_init,
    .alloc = host_alloc,
    .free = host_free,
    .copy = host_copy,
    .synchronize = host_synchronize,
    .device_name = host_device_name,
    .compute_capability = host_compute_capability,
    .arch_name = host_arch_name,
    .multiprocessor_count = host_multiprocessor_count,
};

/* ---- dispatch ------------------------------------------------------------ */

const nf_device_ops *nf_device_get(nf_device_kind kind)
{
    switch (kind) {
    case NF_DEVICE_HOST: return &nf_host_device_ops;
    case NF_DEVICE_CUDA: return &nf_cuda_device_ops;
    case NF_DEVICE_HIP: return &nf_hip_device_ops;
    }
    return NULL;
}

static const nf_device_ops *device_or_error(nf_device_kind kind, nf_error *err)
{
    const nf_device_ops *ops = nf_device_get(kind);
    if (!ops)
        nf_set_error(err, NF_ERR_ARG, 0, 0, "unknown device kind %d", (int)kind);
    return ops;
}

/* ---- the public functions ----------------------------------------------- */

nf_status nf_device_alloc(nf_device_kind device, size_t bytes, void **ptr, nf_error *err)
{
    if (!ptr)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_device_alloc: ptr is NULL");
    *ptr = NULL;
    const nf_device_ops *ops = device_or_error(device, err);
    if (!ops)
        return NF_ERR_ARG;
    return ops->alloc(bytes, ptr, err);
}

void nf_device_free(nf_device_kind device, void *ptr)
{
    const nf_device_ops *ops = nf_device_get(device);
    if (ops && ptr)
        ops->free(ptr);
}

nf_status nf_device_copy(void *dst, nf_device_kind dst_device, const void *src,
                         nf_device_kind src_device, size_t bytes, nf_error *err)
{
    if (bytes == 0)
        return NF_OK;
    if (!dst || !src)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_device_copy: null %s pointer",
                            dst ? "source" : "destination");
    if (!device_or_error(dst_device, err) || !device_or_error(src_device, err))
        return NF_ERR_ARG;
    if (dst_device == NF_DEVICE_HOST && src_device == NF_DEVICE_HOST)
        return nf_host_device_ops.copy(dst, src, bytes, NF_COPY_D2D, err);
    if (src_device == NF_DEVICE_HOST)
        return nf_device_get(dst_device)->copy(dst, src, bytes, NF_COPY_H2D, err);
    if (dst_device == NF_DEVICE_HOST)
        return nf_device_get(src_device)->copy(dst, src, bytes, NF_COPY_D2H, err);
    if (src_device == dst_device)
        return nf_device_get(src_device)->copy(dst, src, bytes, NF_COPY_D2D, err);
    return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0,
                        "nf_device_copy: no direct copy from %s to %s; go through the host",
                        nf_device_get(src_device)->name, nf_device_get(dst_device)->name);
}

nf_status nf_device_synchronize(nf_device_kind device, nf_error *err)
{
    const nf_device_ops *ops = device_or_error(device, err);
    if (!ops)
        return NF_ERR_ARG;
    return ops->synchronize(err);
}
