/* Helpers shared by the interpreter's tests: tensors, graph building,
 * running, poisoning outputs and comparing results. */
#ifndef NF_TESTS_INTERP_TEST_UTIL_H
#define NF_TESTS_INTERP_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/ir.h"
#include "ir/numeric.h"

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static inline nf_tensor tens(void *data, nf_dtype dt, int rank, const int64_t *shape)
{
    nf_tensor t;
    nf_tensor_init(&t, data, dt, rank, rank ? shape : NULL);
    return t;
}

/* One element seen at every index (all strides 0). */
static inline nf_tensor expanded(void *data, nf_dtype dt, int rank, const int64_t *shape)
{
    nf_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dt;
    t.rank = rank;
    memcpy(t.shape, shape, (size_t)rank * sizeof *shape);
    return t;
}

/* A parameter with fixed sizes; sym names a symbolic first dimension. */
static inline nf_value *param(nf_graph *g, const char *name, nf_dtype dt, int rank, const int64_t *shape,
                              const char *sym)
{
    nf_dim dims[NF_MAX_DIMS];
    for (int d = 0; d < rank; d++) {
        dims[d].size = shape[d];
        dims[d].sym = d == 0 ? sym : NULL;
    }
    return nf_param(g, name, dt, rank, dims);
}

/* Returns the given values and checks that building went fine. */
static inline void finish(nf_graph *g, int n, nf_value *const *outs)
{
    nf_status s = nf_graph_return(g, n, outs);
    const nf_error *e = nf_graph_error(g);
    if (s != NF_OK || e)
        fail_msg("building graph %s failed: %s", nf_graph_name(g), e ? e->message : "?");
}

static inline void run_ok(const nf_graph *g, const nf_tensor *in, int n_in, const nf_tensor *out, int n_out)
{
    nf_error err;
    memset(&err, 0, sizeof err);
    nf_status s = nf_interpret(g, in, n_in, out, n_out, &err);
    if (s != NF_OK)
        fail_msg("nf_interpret(%s) failed: %s: %s", nf_graph_name(g), nf_status_name(s), err.message);
}

/* Fills every element of t (any strides) with x: NaN poisons an output, so
 * that an element nobody writes cannot pass. Tests that expect NaN poison
 * with a finite value instead. */
static inline void poison(const nf_tensor *t, double x)
{
    int64_t n = nf_tensor_numel(t), idx[NF_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < t->rank; d++)
            off += idx[d] * t->strides[d];
        nf_store_f64(t->data, t->dtype, off, x);
        for (int d = t->rank - 1; d >= 0 && ++idx[d] == t->shape[d]; d--)
            idx[d] = 0;
    }
}

/* Same value, same sign of zero, NaN equals NaN. */
static inline bool same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* Compares n contiguous elements of dtype dt with want[]. */
static inline void expect_values(const char *what, const void *got, nf_dtype dt, const double *want, int n)
{
    for (int i = 0; i < n; i++) {
        double g = nf_load_f64(got, dt, i);
        if (!same(g, want[i]))
            fail_msg("%s: element %d is %.17g (%a), want %.17g (%a)", what, i, g, g, want[i], want[i]);
    }
}

static inline void expect_bits16(const char *what, const uint16_t *got, const uint16_t *want, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s: element %d is 0x%04X, want 0x%04X", what, i, got[i], want[i]);
}

static inline double f32r(double x) { return (float)x; }
static inline uint16_t bf(float x) { return nf_f32_to_bf16(x); }

/* splitmix64 */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline double rng_uniform(uint64_t *state) { return (double)(rng_next(state) >> 11) * 0x1p-52 - 1.0; }

static inline uint64_t test_seed(void)
{
    const char *env = getenv("NF_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    printf("seed %" PRIu64 " (set NF_SEED to repeat)\n", seed);
    return seed;
}

/* Runs the graph expecting failure; checks the status and that the message
 * contains `needle`. */
static inline void expect_error(const nf_graph *g, const nf_tensor *in, int n_in, const nf_tensor *out, int n_out,
                         nf_status want, const char *needle)
{
    nf_error err;
    memset(&err, 0, sizeof err);
    nf_status s = nf_interpret(g, in, n_in, out, n_out, &err);
    if (s != want)
        fail_msg("expected %s containing \"%s\", got %s: %s", nf_status_name(want), needle, nf_status_name(s),
                 err.message);
    if (!strstr(err.message, needle))
        fail_msg("error message \"%s\" does not mention \"%s\"", err.message, needle);
}

#endif
