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
