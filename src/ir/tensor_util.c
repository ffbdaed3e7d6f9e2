/* Host tensor utilities for tests, the CLI and benchmarks: seeded random
 * fills, NaN poisoning and tolerance comparison over tensors of any
 * (non-negative) strides and any dtype. Element conversions are numeric.h's. */
#include "ir/ir.h"
#include "ir/numeric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- walking a strided tensor in row-major logical order ----------------- */

static nf_status check_host_tensor(const nf_tensor *t, const char *what, nf_error *err)
{
    if (!t)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s tensor is NULL", what);
    if (t->device != NF_DEVICE_HOST)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s tensor is on a device; host tensors only (copy it back first)",
                            what);
    if ((int)t->dtype < 0 || t->dtype >= NF_DTYPE_COUNT)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s tensor has an invalid dtype %d", what, (int)t->dtype);
    if (t->rank < 0 || t->rank > NF_MAX_DIMS)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s tensor has rank %d; ranks are 0..%d", what, t->rank,
                            NF_MAX_DIMS);
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s tensor has size %lld in dim %d; sizes are >= 0", what,
                                (long long)t->shape[d], d);
        if (t->strides[d] < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0,
                                "%s tensor has stride %lld in dim %d; only non-negative strides are supported", what,
                                (long long)t->strides[d], d);
    }
    if (!t->data && nf_tensor_numel(t) > 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s tensor has no data", what);
    return NF_OK;
}

/* A row-major counter over a shape; offset follows each tensor's strides. */
typedef struct walker {
    int rank;
    int64_t shape[NF_MAX_DIMS];
    int64_t idx[NF_MAX_DIMS];
} walker;

static void walker_init(walker *w, const nf_tensor *t)
{
    memset(w, 0, sizeof *w);
    w->rank = t->rank;
    memcpy(w->shape, t->shape, sizeof w->shape);
}

static int64_t walker_offset(const walker *w, const nf_tensor *t)
{
    int64_t off = 0;
    for (int d = 0; d < w->rank; d++)
        off += w->idx[d] * t->strides[d];
    return off;
}

static void walker_next(walker *w)
{
    for (int d = w->rank - 1; d >= 0; d--) {
        if (++w->idx[d] < w->shape[d])
            return;
        w->idx[d] = 0;
    }
}

/* ---- random fill ---------------------------------------------------------- */

/* splitmix64: one 64-bit state, good enough mixing for test data, and the
 * same sequence on every platform. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double unit_double(uint64_t r) { return (double)(r >> 11) * 0x1.0p-53; }

nf_status nf_tensor_fill_random(const nf_tensor *t, uint64_t seed, nf_error *err)
{
    nf_status s = check_host_tensor(t, "random fill", err);
    if (s != NF_OK)
        return s;
    int64_t n = nf_tensor_numel(t);
    uint64_t state = seed;
    walker w;
    walker_init(&w, t);
    /* Values follow the logical (row-major) order, so a tensor gets the same
     * numbers whatever its strides. */
    for (int64_t i = 0; i < n; i++, walker_next(&w)) {
        uint64_t r = splitmix64(&state);
        int64_t off = walker_offset(&w, t);
        bool negative = r & 1;
        if (nf_dtype_is_float(t->dtype)) {
            /* Magnitude in [1/16, 1]: no zeros and no subnormals in any float
             * dtype, f8e4m3 included, so every element carries information. */
            double mag = 0.0625 + 0.9375 * unit_double(r);
            nf_store_f64(t->data, t->dtype, off, negative ? -mag : mag);
        } else if (t->dtype == NF_BOOL) {
            nf_store_i64(t->data, t->dtype, off, (int64_t)((r >> 1) & 1));
        } else {
            int64_t mag = 1 + (int64_t)((r >> 1) % 8);
            nf_store_i64(t->data, t->dtype, off, negative ? -mag : mag);
        }
    }
    return NF_OK;
}

/* ---- poison --------------------------------------------------------------- */

/* Bools get a byte that is neither 0 nor 1, which nf_tensor_compare reports as
 * a mismatch, so an output nobody wrote cannot pass. */
#define BOOL_POISON_BYTE 0xA5

nf_status nf_tensor_fill_poison(const nf_tensor *t, nf_error *err)
{
    nf_status s = check_host_tensor(t, "poison", err);
    if (s != NF_OK)
        return s;
    int64_t n = nf_tensor_numel(t);
    walker w;
    walker_init(&w, t);
    for (int64_t i = 0; i < n; i++, walker_next(&w)) {
        int64_t off = walker_offset(&w, t);
        switch (t->dtype) {
        case NF_BOOL: ((unsigned char *)t->data)[off] = BOOL_POISON_BYTE; break;
        case NF_I32: nf_store_i64(t->data, t->dtype, off, INT32_MIN); break;
        case NF_I64: nf_store_i64(t->data, t->dtype, off, INT64_MIN); break;
        default: nf_store_f64(t->data, t->dtype, off, NAN); break;
        }
    }
    return NF_OK;
}

/* ---- compare -------------------------------------------------------------- */

/* Element as a double; bool bytes other than 0 and 1 (poison) come back as
 * the byte's value so that they never equal a real bool. */
static double load_element(const nf_tensor *t, int64_t off)
{
    if (t->dtype == NF_BOOL)
        return ((const unsigned char *)t->data)[off];
    return nf_load_f64(t->data, t->dtype, off);
}

static bool is_integer_dtype(nf_dtype t) { return t == NF_I32 || t == NF_I64; }

/* Whether got matches want within tol; fills the element's errors. NaN matches
 * only NaN and an infinity only the same infinity (either costs an infinite
 * error otherwise); relative error is counted only where want != 0. */
static bool element_matches(double got, double want, nf_tolerance tol, double *abs_err, double *rel_err)
{
    *rel_err = 0;
    if (isnan(got) || isnan(want)) {
        bool both = isnan(got) && isnan(want);
        *abs_err = both ? 0 : INFINITY;
        *rel_err = *abs_err;
        return both;
    }
    if (isinf(got) || isinf(want)) {
        bool same = got == want;
        *abs_err = same ? 0 : INFINITY;
        *rel_err = *abs_err;
        return same;
    }
    *abs_err = fabs(got - want);
    if (want != 0)
        *rel_err = *abs_err / fabs(want);
    return *abs_err <= tol.atol + tol.rtol * fabs(want);
}

static void format_shape(const nf_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

nf_status nf_tensor_compare(const nf_tensor *got, const nf_tensor *want, nf_tolerance tol, nf_compare_result *res,
                            nf_error *err)
{
    nf_status s = check_host_tensor(got, "compared (got)", err);
    if (s == NF_OK)
        s = check_host_tensor(want, "reference (want)", err);
    if (s != NF_OK)
        return s;
    if (!res)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "compare result is NULL");
    if (!(tol.atol >= 0) || !(tol.rtol >= 0))
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "tolerances must be >= 0 (atol %g, rtol %g)", tol.atol, tol.rtol);
    bool same_shape = got->rank == want->rank;
    for (int d = 0; same_shape && d < got->rank; d++)
        same_shape = got->shape[d] == want->shape[d];
    if (!same_shape) {
        char gs[256], ws[256];
        format_shape(got, gs, sizeof gs);
        format_shape(want, ws, sizeof ws);
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "compared tensors differ in shape: got %s, want %s", gs, ws);
    }

    memset(res, 0, sizeof *res);
    res->first_mismatch = -1;
    /* Two integer tensors compare exactly as int64: doubles lose i64 bits. */
    bool as_ints = is_integer_dtype(got->dtype) && is_integer_dtype(want->dtype);
    bool bools = got->dtype == NF_BOOL || want->dtype == NF_BOOL;
    int64_t n = nf_tensor_numel(got);
    walker w;
    walker_init(&w, got);
    for (int64_t i = 0; i < n; i++, walker_next(&w)) {
        int64_t og = walker_offset(&w, got), ow = walker_offset(&w, want);
        double g, v, abs_err, rel_err;
        bool ok;
        if (as_ints) {
            int64_t gi = nf_load_i64(got->data, got->dtype, og), wi = nf_load_i64(want->data, want->dtype, ow);
            g = (double)gi;
            v = (double)wi;
            /* |gi - wi| in unsigned arithmetic: no overflow for any pair */
            uint64_t diff = gi >= wi ? (uint64_t)gi - (uint64_t)wi : (uint64_t)wi - (uint64_t)gi;
            abs_err = (double)diff;
            rel_err = wi != 0 ? abs_err / fabs(v) : 0;
            ok = diff == 0 || abs_err <= tol.atol + tol.rtol * fabs(v);
        } else {
            g = load_element(got, og);
            v = load_element(want, ow);
            ok = element_matches(g, v, tol, &abs_err, &rel_err);
            if (bools)
                ok = g == v; /* no tolerance for truth values */
        }
        if (abs_err > res->max_abs_err)
            res->max_abs_err = abs_err;
        if (rel_err > res->max_rel_err)
            res->max_rel_err = rel_err;
        if (!ok) {
            if (res->n_mismatch == 0) {
                res->first_mismatch = i;
                res->first_got = g;
                res->first_want = v;
            }
            res->n_mismatch++;
        }
    }
    return NF_OK;
}

/* ---- reading out ---------------------------------------------------------- */

nf_status nf_tensor_to_f64(const nf_tensor *t, double *out, nf_error *err)
{
    nf_status s = check_host_tensor(t, "read", err);
    if (s != NF_OK)
        return s;
    int64_t n = nf_tensor_numel(t);
    if (n > 0 && !out)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "output array is NULL");
    walker w;
    walker_init(&w, t);
    for (int64_t i = 0; i < n; i++, walker_next(&w))
        out[i] = nf_load_f64(t->data, t->dtype, walker_offset(&w, t));
    return NF_OK;
}
