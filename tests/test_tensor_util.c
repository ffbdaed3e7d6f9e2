/* Host tensor utilities: seeded random fills, poison and tolerance compare,
 * over every dtype and over strided (transposed, broadcast) tensors. */
#include "nsafuse.h"
#include "ir/numeric.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define SEED UINT64_C(20261124)

static const nf_dtype ALL_DTYPES[] = {NF_BF16, NF_F16, NF_F32, NF_F64, NF_I32, NF_I64, NF_BOOL, NF_F8E4M3};
#define N_DTYPES (sizeof ALL_DTYPES / sizeof ALL_DTYPES[0])

/* A contiguous host tensor with its own zeroed storage. */
static nf_tensor make_tensor(nf_dtype t, int rank, const int64_t *shape)
{
    nf_tensor x;
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= shape[d];
    void *data = calloc((size_t)(n > 0 ? n : 1), nf_dtype_size(t));
    assert_non_null(data);
    nf_tensor_init(&x, data, t, rank, shape);
    return x;
}

static double at(const nf_tensor *t, int64_t flat_offset) { return nf_load_f64(t->data, t->dtype, flat_offset); }

static void fail_with_error(const char *what, const nf_error *err)
{
    fail_msg("%s failed: %s (seed %llu)", what, err->message, (unsigned long long)SEED);
}

static void random_values_are_in_range_and_never_zero(void **state)
{
    (void)state;
    int64_t shape[] = {37, 29};
    for (size_t k = 0; k < N_DTYPES; k++) {
        nf_dtype t = ALL_DTYPES[k];
        nf_tensor x = make_tensor(t, 2, shape);
        nf_error err = {0};
        if (nf_tensor_fill_random(&x, SEED, &err) != NF_OK)
            fail_with_error("fill_random", &err);
        int n_true = 0, n_negative = 0;
        for (int64_t i = 0; i < nf_tensor_numel(&x); i++) {
            double v = at(&x, i);
            if (t == NF_BOOL) {
                if (v != 0 && v != 1)
                    fail_msg("bool element %lld is %g (seed %llu)", (long long)i, v, (unsigned long long)SEED);
                n_true += v == 1;
                continue;
            }
            double lo = nf_dtype_is_float(t) ? 0.0625 : 1, hi = nf_dtype_is_float(t) ? 1 : 8;
            if (!(fabs(v) >= lo && fabs(v) <= hi))
                fail_msg("%s element %lld of [37, 29] is %g, outside +-[%g, %g] (seed %llu)", nf_dtype_name(t),
                         (long long)i, v, lo, hi, (unsigned long long)SEED);
            if (nf_dtype_is_float(t) && nf_round_f64(v, t) != v)
                fail_msg("%s element %lld is %g, not a %s value", nf_dtype_name(t), (long long)i, v, nf_dtype_name(t));
            n_negative += v < 0;
        }
        /* 1073 fair coin flips: both outcomes appear */
        if (t == NF_BOOL)
            assert_true(n_true > 400 && n_true < 673);
        else
            assert_true(n_negative > 400 && n_negative < 673);
        free(x.data);
    }
}

static void random_fill_is_deterministic_per_seed(void **state)
{
    (void)state;
    int64_t shape[] = {100};
    nf_tensor a = make_tensor(NF_F32, 1, shape), b = make_tensor(NF_F32, 1, shape),
              c = make_tensor(NF_F32, 1, shape);
    assert_int_equal(nf_tensor_fill_random(&a, SEED, NULL), NF_OK);
    assert_int_equal(nf_tensor_fill_random(&b, SEED, NULL), NF_OK);
    assert_int_equal(nf_tensor_fill_random(&c, SEED + 1, NULL), NF_OK);
    assert_memory_equal(a.data, b.data, 100 * sizeof(float));
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += ((float *)a.data)[i] == ((float *)c.data)[i];
    if (same > 5)
        fail_msg("seeds %llu and %llu agree on %d of 100 values", (unsigned long long)SEED,
                 (unsigned long long)SEED + 1, same);
    free(a.data);
    free(b.data);
    free(c.data);
}

/* A tensor gets the same logical values whatever its strides. */
static void random_fill_follows_logical_order(void **state)
{
    (void)state;
    int64_t shape[] = {5, 7}, tshape[] = {7, 5};
    nf_tensor contiguous = make_tensor(NF_BF16, 2, shape);
    nf_tensor storage = make_tensor(NF_BF16, 2, tshape);
    /* a [5, 7] view of [7, 5] storage: column-major */
    nf_tensor view = storage;
    view.shape[0] = 5;
    view.shape[1] = 7;
    view.strides[0] = 1;
    view.strides[1] = 5;
    assert_int_equal(nf_tensor_fill_random(&contiguous, SEED, NULL), NF_OK);
    assert_int_equal(nf_tensor_fill_random(&view, SEED, NULL), NF_OK);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 7; j++)
            if (at(&contiguous, i * 7 + j) != at(&storage, j * 5 + i))
                fail_msg("element [%d, %d] of [5, 7]: contiguous %g, column-major %g (seed %llu)", i, j,
                         at(&contiguous, i * 7 + j), at(&storage, j * 5 + i), (unsigned long long)SEED);
    free(contiguous.data);
    free(storage.data);
}

static void poison_marks_every_element(void **state)
{
    (void)state;
    int64_t shape[] = {3, 4, 5};
    for (size_t k = 0; k < N_DTYPES; k++) {
        nf_dtype t = ALL_DTYPES[k];
        nf_tensor x = make_tensor(t, 3, shape), y = make_tensor(t, 3, shape);
        assert_int_equal(nf_tensor_fill_poison(&x, NULL), NF_OK);
        for (int64_t i = 0; i < 60; i++) {
            if (nf_dtype_is_float(t))
                assert_true(isnan(at(&x, i)));
            else if (t == NF_I32)
                assert_int_equal(nf_load_i64(x.data, t, i), INT32_MIN);
            else if (t == NF_I64)
                assert_true(nf_load_i64(x.data, t, i) == INT64_MIN);
        }
        /* a poisoned output never passes against real values, bools included */
        assert_int_equal(nf_tensor_fill_random(&y, SEED, NULL), NF_OK);
        nf_compare_result r;
        nf_tolerance loose = {1e3, 1e3};
        assert_int_equal(nf_tensor_compare(&x, &y, loose, &r, NULL), NF_OK);
        if (r.n_mismatch != 60)
            fail_msg("%s: poisoned [3, 4, 5] vs random: %lld mismatches, expected 60 (seed %llu)", nf_dtype_name(t),
                     (long long)r.n_mismatch, (unsigned long long)SEED);
        assert_int_equal(r.first_mismatch, 0);
        free(x.data);
        free(y.data);
    }
}

static void compare_matches_nan_and_same_infinity(void **state)
{
    (void)state;
    int64_t shape[] = {4};
    nf_tensor got = make_tensor(NF_F32, 1, shape), want = make_tensor(NF_F32, 1, shape);
    float *g = got.data, *w = want.data;
    g[0] = NAN, w[0] = NAN;
    g[1] = INFINITY, w[1] = INFINITY;
    g[2] = -INFINITY, w[2] = -INFINITY;
    g[3] = 1, w[3] = 1;
    nf_compare_result r;
    nf_tolerance exact = {0, 0};
    assert_int_equal(nf_tensor_compare(&got, &want, exact, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 0);
    assert_int_equal(r.first_mismatch, -1);
    assert_true(r.max_abs_err == 0 && r.max_rel_err == 0);

    /* inf vs -inf, inf vs a huge finite value, NaN vs a number: all mismatch */
    g[1] = -INFINITY;
    g[2] = 3e38f;
    w[3] = NAN;
    nf_tolerance loose = {1e30, 1e30};
    assert_int_equal(nf_tensor_compare(&got, &want, loose, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 3);
    assert_int_equal(r.first_mismatch, 1);
    assert_true(r.first_got == -INFINITY && r.first_want == INFINITY);
    assert_true(isinf(r.max_abs_err));
    free(got.data);
    free(want.data);
}

static void compare_applies_atol_plus_rtol(void **state)
{
    (void)state;
    int64_t shape[] = {3};
    nf_tensor got = make_tensor(NF_F64, 1, shape), want = make_tensor(NF_F64, 1, shape);
    double *g = got.data, *w = want.data;
    /* bound = 0.5 + 0.25 * |want| */
    w[0] = 2, g[0] = 3;        /* err 1.0 == bound 1.0: pass */
    w[1] = -4, g[1] = -5.5;    /* err 1.5 == bound 1.5: pass */
    w[2] = 4, g[2] = 5.515625; /* err 1.515625 > 1.5: fail */
    nf_tolerance tol = {0.5, 0.25};
    nf_compare_result r;
    assert_int_equal(nf_tensor_compare(&got, &want, tol, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 1);
    assert_int_equal(r.first_mismatch, 2);
    assert_true(r.first_got == 5.515625 && r.first_want == 4);
    assert_true(r.max_abs_err == 1.515625);
    assert_true(r.max_rel_err == 0.5); /* element 0: 1 / 2 */
    free(got.data);
    free(want.data);
}

/* got read through transposed strides, want through a broadcast (stride 0). */
static void compare_walks_both_tensors_by_their_strides(void **state)
{
    (void)state;
    int64_t shape[] = {3, 2};
    nf_tensor storage = make_tensor(NF_F16, 2, (int64_t[]){2, 3});
    nf_tensor row = make_tensor(NF_F32, 1, (int64_t[]){2});
    ((float *)row.data)[0] = 0.5f;
    ((float *)row.data)[1] = -2.0f;
    for (int j = 0; j < 3; j++) {
        nf_store_f64(storage.data, NF_F16, 0 * 3 + j, 0.5);
        nf_store_f64(storage.data, NF_F16, 1 * 3 + j, -2.0);
    }
    nf_tensor got = storage, want = row;
    got.rank = want.rank = 2;
    memcpy(got.shape, shape, sizeof shape);
    memcpy(want.shape, shape, sizeof shape);
    got.strides[0] = 1, got.strides[1] = 3;
    want.strides[0] = 0, want.strides[1] = 1;
    nf_compare_result r;
    assert_int_equal(nf_tensor_compare(&got, &want, (nf_tolerance){0, 0}, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 0);
    nf_store_f64(storage.data, NF_F16, 1 * 3 + 2, -2.5); /* logical [2, 1], flat 5 */
    assert_int_equal(nf_tensor_compare(&got, &want, (nf_tolerance){0, 0}, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 1);
    assert_int_equal(r.first_mismatch, 5);
    free(storage.data);
    free(row.data);
}

static void compare_is_exact_for_large_int64(void **state)
{
    (void)state;
    int64_t shape[] = {2};
    nf_tensor got = make_tensor(NF_I64, 1, shape), want = make_tensor(NF_I64, 1, shape);
    int64_t *g = got.data, *w = want.data;
    /* 2^62 and 2^62 + 1 are the same double */
    g[0] = (INT64_C(1) << 62) + 1, w[0] = INT64_C(1) << 62;
    g[1] = INT64_MIN, w[1] = INT64_MAX;
    nf_compare_result r;
    assert_int_equal(nf_tensor_compare(&got, &want, (nf_tolerance){0, 0}, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 2);
    assert_int_equal(r.first_mismatch, 0);
    free(got.data);
    free(want.data);
}

static void zero_element_and_zero_rank_tensors_work(void **state)
{
    (void)state;
    nf_tensor empty = make_tensor(NF_F32, 2, (int64_t[]){0, 5});
    nf_tensor scalar = make_tensor(NF_F32, 0, NULL), scalar2 = make_tensor(NF_F32, 0, NULL);
    nf_compare_result r;
    assert_int_equal(nf_tensor_fill_random(&empty, SEED, NULL), NF_OK);
    assert_int_equal(nf_tensor_compare(&empty, &empty, (nf_tolerance){0, 0}, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 0);
    assert_int_equal(nf_tensor_fill_random(&scalar, SEED, NULL), NF_OK);
    assert_true(fabs(*(float *)scalar.data) >= 0.0625);
    assert_int_equal(nf_tensor_fill_poison(&scalar2, NULL), NF_OK);
    assert_int_equal(nf_tensor_compare(&scalar2, &scalar, (nf_tolerance){1, 1}, &r, NULL), NF_OK);
    assert_int_equal(r.n_mismatch, 1);
    free(empty.data);
    free(scalar.data);
    free(scalar2.data);
}

static void to_f64_reads_in_logical_order(void **state)
{
    (void)state;
    nf_tensor storage = make_tensor(NF_BF16, 2, (int64_t[]){3, 2});
    for (int i = 0; i < 6; i++)
        nf_store_f64(storage.data, NF_BF16, i, i + 0.5);
    nf_tensor view = storage; /* [2, 3] transpose of the [3, 2] storage */
    view.shape[0] = 2, view.shape[1] = 3;
    view.strides[0] = 1, view.strides[1] = 2;
    double out[6];
    assert_int_equal(nf_tensor_to_f64(&view, out, NULL), NF_OK);
    const double want[6] = {0.5, 2.5, 4.5, 1.5, 3.5, 5.5};
    for (int i = 0; i < 6; i++)
        if (out[i] != want[i])
            fail_msg("element %d of the [2, 3] view: %g, want %g", i, out[i], want[i]);
    free(storage.data);
}

static void bad_tensors_are_argument_errors(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3};
    nf_tensor a = make_tensor(NF_F32, 2, shape), b = make_tensor(NF_F32, 2, (int64_t[]){3, 2});
    nf_error err = {0};
    nf_compare_result r;
    assert_int_equal(nf_tensor_compare(&a, &b, (nf_tolerance){0, 0}, &r, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "[2, 3]"));
    assert_int_equal(nf_tensor_compare(&a, &a, (nf_tolerance){-1, 0}, &r, &err), NF_ERR_ARG);
    assert_int_equal(nf_tensor_compare(&a, &a, (nf_tolerance){0, 0}, NULL, &err), NF_ERR_ARG);
    nf_tensor neg = a;
    neg.strides[1] = -1;
    assert_int_equal(nf_tensor_fill_random(&neg, SEED, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "stride"));
    nf_tensor dev = a;
    dev.device = NF_DEVICE_CUDA;
    assert_int_equal(nf_tensor_fill_poison(&dev, &err), NF_ERR_ARG);
    nf_tensor nodata = a;
    nodata.data = NULL;
    assert_int_equal(nf_tensor_fill_random(&nodata, SEED, &err), NF_ERR_ARG);
    assert_int_equal(nf_tensor_fill_random(NULL, SEED, &err), NF_ERR_ARG);
    free(a.data);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_values_are_in_range_and_never_zero),
        cmocka_unit_test(random_fill_is_deterministic_per_seed),
        cmocka_unit_test(random_fill_follows_logical_order),
        cmocka_unit_test(poison_marks_every_element),
        cmocka_unit_test(compare_matches_nan_and_same_infinity),
        cmocka_unit_test(compare_applies_atol_plus_rtol),
        cmocka_unit_test(compare_walks_both_tensors_by_their_strides),
        cmocka_unit_test(compare_is_exact_for_large_int64),
        cmocka_unit_test(zero_element_and_zero_rank_tensors_work),
        cmocka_unit_test(to_f64_reads_in_logical_order),
        cmocka_unit_test(bad_tensors_are_argument_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
