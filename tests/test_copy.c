/* nf_copy: identical, disjoint, partly overlapping and same-address-other-
 * strides views, with poisoned memory around the destination. */
#include "nsafuse.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum { GUARD = 16 };

/* A buffer of n floats with GUARD NaNs on each side; returns the inside. */
static float *guarded(float *mem, int n)
{
    for (int i = 0; i < n + 2 * GUARD; i++)
        mem[i] = NAN;
    return mem + GUARD;
}

static void assert_guards_intact(const float *mem, int n)
{
    for (int i = 0; i < GUARD; i++) {
        if (!isnan(mem[i]) || !isnan(mem[GUARD + n + i]))
            fail_msg("a write outside the destination (guard %d)", i);
    }
}

static void identical_views_launch_nothing(void **state)
{
    (void)state;
    float mem[6 + 2 * GUARD], *x = guarded(mem, 6);
    for (int i = 0; i < 6; i++)
        x[i] = (float)i + 1;
    nf_tensor t;
    nf_tensor_init(&t, x, NF_F32, 2, (int64_t[]){2, 3});
    nf_copy_path path;
    nf_error err;
    assert_int_equal(nf_copy(&t, &t, NULL, &path, &err), NF_OK);
    assert_int_equal(path, NF_COPY_SKIPPED);
    for (int i = 0; i < 6; i++)
        assert_true(x[i] == (float)i + 1);
}

static void disjoint_views_copy_directly(void **state)
{
    (void)state;
    float src[12], mem[6 + 2 * GUARD], *dst = guarded(mem, 6);
    for (int i = 0; i < 12; i++)
        src[i] = (float)i * 0.5f + 0.25f;
    nf_tensor s, d;
    nf_tensor_init(&s, src, NF_F32, 2, (int64_t[]){3, 2});
    s.strides[0] = 4; /* every other pair of a 3 x 4 buffer */
    s.strides[1] = 2;
    nf_tensor_init(&d, dst, NF_F32, 2, (int64_t[]){3, 2});
    nf_copy_path path;
    nf_error err;
    assert_int_equal(nf_copy(&d, &s, NULL, &path, &err), NF_OK);
    assert_int_equal(path, NF_COPY_DIRECT);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            assert_true(dst[i * 2 + j] == src[i * 4 + j * 2]);
    assert_guards_intact(mem, 6);
}

static void overlapping_views_keep_the_old_source(void **state)
{
    (void)state;
    enum { N = 1000 };
    float mem[N + 1 + 2 * GUARD], *buf = guarded(mem, N + 1);
    for (int i = 0; i < N; i++)
        buf[i] = (float)i;
    nf_tensor s, d;
    nf_tensor_init(&s, buf, NF_F32, 1, (int64_t[]){N});
    nf_tensor_init(&d, buf + 1, NF_F32, 1, (int64_t[]){N}); /* shifted by one: memmove territory */
    nf_copy_path path;
    nf_error err;
    assert_int_equal(nf_copy(&d, &s, NULL, &path, &err), NF_OK);
    assert_int_equal(path, NF_COPY_STAGED);
    for (int i = 0; i < N; i++)
        if (buf[i + 1] != (float)i)
            fail_msg("element %d is %g, want %d", i + 1, buf[i + 1], i);
    assert_guards_intact(mem, N + 1);
}

/* The case sglang's `src.data_ptr() == dst.data_ptr()` guard gets wrong:
 * one address, other strides. Writing x into its own transpose view must
 * leave x's transpose in memory. */
static void same_address_other_strides_is_copied(void **state)
{
    (void)state;
    enum { R = 5 };
    float mem[R * R + 2 * GUARD], *x = guarded(mem, R * R), before[R * R];
    for (int i = 0; i < R * R; i++)
        x[i] = before[i] = (float)(i * 3 % 17) + 0.5f;
    nf_tensor s, d;
    nf_tensor_init(&s, x, NF_F32, 2, (int64_t[]){R, R});
    nf_tensor_init(&d, x, NF_F32, 2, (int64_t[]){R, R});
    d.strides[0] = 1; /* the transpose view: same data pointer */
    d.strides[1] = R;
    nf_copy_path path;
    nf_error err;
    assert_int_equal(nf_copy(&d, &s, NULL, &path, &err), NF_OK);
    assert_int_not_equal(path, NF_COPY_SKIPPED);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++)
            if (x[j * R + i] != before[i * R + j])
                fail_msg("d[%d][%d] = %g, want %g", i, j, x[j * R + i], before[i * R + j]);
    assert_guards_intact(mem, R * R);
}

static void mismatches_are_errors(void **state)
{
    (void)state;
    float a[4], b[4];
    nf_tensor s, d;
    nf_tensor_init(&s, a, NF_F32, 1, (int64_t[]){4});
    nf_tensor_init(&d, b, NF_F32, 1, (int64_t[]){3});
    nf_error err;
    assert_int_equal(nf_copy(&d, &s, NULL, NULL, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "dimension 0"));
    nf_tensor_init(&d, b, NF_I32, 1, (int64_t[]){4});
    assert_int_equal(nf_copy(&d, &s, NULL, NULL, &err), NF_ERR_ARG);
    nf_tensor_init(&d, b, NF_F32, 1, (int64_t[]){4});
    d.strides[0] = 0;
    assert_int_equal(nf_copy(&d, &s, NULL, NULL, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "stride 0"));
    assert_int_equal(nf_copy(NULL, &s, NULL, NULL, &err), NF_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identical_views_launch_nothing),
        cmocka_unit_test(disjoint_views_copy_directly),
        cmocka_unit_test(overlapping_views_keep_the_old_source),
        cmocka_unit_test(same_address_other_strides_is_copied),
        cmocka_unit_test(mismatches_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
