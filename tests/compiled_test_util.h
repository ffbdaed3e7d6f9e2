/* Helpers shared by the tests that compile graphs and compare with the
 * interpreter (test_fused, test_rope, test_alias): host tensors, the GPU
 * probe and the seed. */
#ifndef NF_TESTS_COMPILED_TEST_UTIL_H
#define NF_TESTS_COMPILED_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "nsafuse.h"

typedef struct host_tensor {
    nf_tensor t;
    void *mem;
} host_tensor;

/* A zeroed host tensor of that shape (callers fill or poison it). */
static inline void alloc_tensor(host_tensor *h, nf_dtype dt, int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= shape[d];
    h->mem = calloc((size_t)(n ? n : 1), nf_dtype_size(dt));
    assert_non_null(h->mem);
    nf_tensor_init(&h->t, h->mem, dt, rank, shape);
}

/* h's contents in a new buffer on device (h's own tensor on the host). */
static inline nf_tensor device_copy(const host_tensor *h, nf_device_kind device)
{
    if (device == NF_DEVICE_HOST)
        return h->t;
    nf_tensor t = h->t;
    size_t bytes = (size_t)nf_tensor_numel(&t) * nf_dtype_size(t.dtype);
    nf_error err;
    if (nf_device_alloc(device, bytes ? bytes : 1, &t.data, &err) ||
        nf_device_copy(t.data, device, h->mem, NF_DEVICE_HOST, bytes, &err))
        fail_msg("%s", err.message);
    t.device = device;
    return t;
}

/* Frees a device_copy, first copying its contents back into read_into
 * (when not NULL); nothing for a host tensor. */
static inline void device_release(nf_tensor *t, host_tensor *read_into)
{
    if (t->device == NF_DEVICE_HOST)
        return;
    nf_error err;
    size_t bytes = (size_t)nf_tensor_numel(t) * nf_dtype_size(t->dtype);
    if (read_into && nf_device_copy(read_into->mem, NF_DEVICE_HOST, t->data, t->device, bytes, &err))
        fail_msg("%s", err.message);
    nf_device_free(t->device, t->data);
}

/* "cuda" when a CUDA device answers, else NULL; says which, and what the GPU
 * part of the test covers, so a CI log shows that it was skipped. */
static inline const char *find_cuda(const char *what)
{
    void *p = NULL;
    nf_error err;
    if (nf_device_alloc(NF_DEVICE_CUDA, 16, &p, &err) == NF_OK) {
        nf_device_free(NF_DEVICE_CUDA, p);
        printf("GPU: %s\n", what);
        return "cuda";
    }
    printf("SKIP GPU part: %s\n", err.message);
    return NULL;
}

/* NF_TEST_SEED when set, else fallback; printed. */
static inline uint64_t test_seed(uint64_t fallback)
{
    const char *s = getenv("NF_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : fallback;
    printf("seed %" PRIu64 " (NF_TEST_SEED to change)\n", seed);
    return seed;
}

#endif
