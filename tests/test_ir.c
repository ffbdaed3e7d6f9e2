/* The IR core: dtype promotion, torch.result_type, broadcasting, views,
 * GEMM shapes, builder errors and concrete layouts. */
#include "ir/ir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const nf_dim T_DIM = {0, "T"};

static nf_value *param(nf_graph *g, const char *name, nf_dtype t, int rank, const int64_t *sizes)
{
    nf_dim dims[NF_MAX_DIMS];
    for (int d = 0; d < rank; d++)
        dims[d] = sizes[d] < 0 ? T_DIM : (nf_dim){sizes[d], NULL};
    return nf_param(g, name, t, rank, dims);
}

static void assert_type(const nf_graph *g, const nf_value *v, const char *want)
{
    assert_non_null(v);
    char buf[256];
    nf_format_type(g, v->dtype, &v->shape, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("inferred %s, expected %s", buf, want);
}

static void promote_types_follow_torch(void **state)
{
    (void)state;
    assert_int_equal(nf_promote_types(NF_BF16, NF_F16), NF_F32);
    assert_int_equal(nf_promote_types(NF_BF16, NF_F32), NF_F32);
    assert_int_equal(nf_promote_types(NF_F16, NF_F64), NF_F64);
    assert_int_equal(nf_promote_types(NF_I32, NF_I64), NF_I64);
    assert_int_equal(nf_promote_types(NF_I64, NF_BF16), NF_BF16);
    assert_int_equal(nf_promote_types(NF_BOOL, NF_I32), NF_I32);
    assert_int_equal(nf_promote_types(NF_F8E4M3, NF_F32), NF_DTYPE_NONE);
    assert_int_equal(nf_promote_types(NF_F8E4M3, NF_F8E4M3), NF_F8E4M3);
}

static void literals_do_not_change_tensor_dtype(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    int64_t s[] = {-1, 64};
    nf_value *b = param(g, "b", NF_BF16, 2, s);
    nf_value *i = param(g, "i", NF_I32, 2, s);
    nf_value *z = param(g, "z", NF_F32, 0, NULL);
    assert_type(g, nf_binary(g, NF_OP_MUL, b, nf_scalar(g, 0.125)), "bf16[T, 64]");
    assert_type(g, nf_binary(g, NF_OP_MUL, i, nf_scalar_int(g, 3)), "i32[T, 64]");
    assert_type(g, nf_binary(g, NF_OP_MUL, i, nf_scalar(g, 0.5)), "f32[T, 64]");
    assert_type(g, nf_binary(g, NF_OP_DIV, i, nf_scalar_int(g, 2)), "f32[T, 64]");
    /* a 0-d f32 tensor does not promote a dimensioned bf16 tensor */
    assert_type(g, nf_binary(g, NF_OP_ADD, b, z), "bf16[T, 64]");
    /* but a 0-d float tensor does promote an integer tensor */
    assert_type(g, nf_binary(g, NF_OP_ADD, i, z), "f32[T, 64]");
    assert_type(g, nf_unary(g, NF_OP_EXP, i), "f32[T, 64]");
    assert_type(g, nf_unary(g, NF_OP_NEG, i), "i32[T, 64]");
    assert_null(nf_graph_error(g));
    nf_graph_free(g);
}

static void broadcasting_with_symbols(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    int64_t a_s[] = {-1, 64, 1}, b_s[] = {64}, c_s[] = {1, 1, 7}, d_s[] = {32};
    nf_value *a = param(g, "a", NF_F32, 3, a_s);
    nf_value *b = param(g, "b", NF_F32, 1, b_s);
    nf_value *c = param(g, "c", NF_F32, 3, c_s);
    nf_value *d = param(g, "d", NF_F32, 1, d_s);
    assert_type(g, nf_binary(g, NF_OP_ADD, a, c), "f32[T, 64, 7]");
    assert_type(g, nf_binary(g, NF_OP_ADD, b, nf_unsqueeze(g, b, -1)), "f32[64, 64]");
    assert_null(nf_binary(g, NF_OP_ADD, b, d));
    const nf_error *e = nf_graph_error(g);
    assert_non_null(e);
    assert_int_equal(e->status, NF_ERR_TYPE);
    assert_non_null(strstr(e->message, "cannot broadcast"));
    /* sticky: later calls fail too */
    assert_null(nf_unary(g, NF_OP_EXP, a));
    nf_graph_free(g);
}

static void symbols_broadcast_only_with_themselves_or_one(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    nf_dim ds[] = {{0, "S"}};
    int64_t t_s[] = {-1};
    nf_value *t = param(g, "t", NF_F32, 1, t_s);
    nf_value *s = nf_param(g, "s", NF_F32, 1, ds);
    assert_null(nf_binary(g, NF_OP_ADD, t, s));
    assert_non_null(strstr(nf_graph_error(g)->message, "T vs S"));
    nf_graph_free(g);
}

static void views_infer_shapes(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    int64_t s[] = {-1, 64, 128};
    nf_value *q = param(g, "q", NF_BF16, 3, s);
    assert_type(g, nf_unsqueeze(g, q, -1), "bf16[T, 64, 128, 1]");
    assert_type(g, nf_unsqueeze(g, q, 0), "bf16[1, T, 64, 128]");
    assert_type(g, nf_transpose(g, q, 0, -1), "bf16[128, 64, T]");
    assert_type(g, nf_slice(g, q, -1, 0, 64, 1), "bf16[T, 64, 64]");
    assert_type(g, nf_slice(g, q, 2, -64, INT64_MAX, 1), "bf16[T, 64, 64]");
    assert_type(g, nf_slice(g, q, 2, 1, 100, 3), "bf16[T, 64, 33]");
    assert_type(g, nf_slice(g, q, 2, 200, 300, 1), "bf16[T, 64, 0]");
    assert_type(g, nf_squeeze(g, nf_unsqueeze(g, q, 1), 1), "bf16[T, 64, 128]");
    assert_type(g, nf_squeeze(g, q, 1), "bf16[T, 64, 128]"); /* size 64: unchanged */
    assert_type(g, nf_slice(g, q, 0, 0, INT64_MAX, 1), "bf16[T, 64, 128]");
    assert_null(nf_graph_error(g));
    assert_null(nf_slice(g, q, 0, 1, INT64_MAX, 1));
    assert_int_equal(nf_graph_error(g)->status, NF_ERR_UNSUPPORTED);
    nf_graph_free(g);
}

static void view_dims_out_of_range_fail(void **state)
{
    (void)state;
    int64_t s[] = {4, 5};
    nf_graph *g = nf_graph_new("g");
    assert_null(nf_transpose(g, param(g, "a", NF_F32, 2, s), 0, 2));
    assert_non_null(strstr(nf_graph_error(g)->message, "out of range"));
    nf_graph_free(g);
}

static void gemm_shapes_and_out_dtype(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    int64_t xs[] = {-1, 7168}, ws[] = {64, 7168}, bs[] = {7168, 64};
    nf_value *x = param(g, "x", NF_BF16, 2, xs);
    nf_value *w = param(g, "w", NF_BF16, 2, ws);
    nf_value *wt = param(g, "wt", NF_BF16, 2, bs);
    assert_type(g, nf_linear(g, x, w, NF_DTYPE_NONE), "bf16[T, 64]");
    assert_type(g, nf_linear(g, x, w, NF_F32), "f32[T, 64]");
    assert_type(g, nf_matmul(g, x, wt, false, NF_DTYPE_NONE), "bf16[T, 64]");
    assert_type(g, nf_matmul(g, x, w, true, NF_F32), "f32[T, 64]");
    assert_null(nf_graph_error(g));
    assert_null(nf_linear(g, x, wt, NF_DTYPE_NONE));
    assert_non_null(strstr(nf_graph_error(g)->message, "shape mismatch"));
    nf_graph_free(g);

    g = nf_graph_new("g");
    nf_value *xf = param(g, "x", NF_F32, 2, xs);
    assert_null(nf_linear(g, xf, param(g, "w", NF_BF16, 2, ws), NF_DTYPE_NONE));
    assert_non_null(strstr(nf_graph_error(g)->message, "one dtype"));
    nf_graph_free(g);

    g = nf_graph_new("g");
    xf = param(g, "x", NF_F32, 2, xs);
    assert_null(nf_linear(g, xf, param(g, "w", NF_F32, 2, ws), NF_BF16));
    assert_non_null(strstr(nf_graph_error(g)->message, "out_dtype"));
    nf_graph_free(g);
}

static void bool_and_f8_only_cast(void **state)
{
    (void)state;
    int64_t s[] = {4};
    nf_graph *g = nf_graph_new("g");
    nf_value *f8 = param(g, "a", NF_F8E4M3, 1, s);
    assert_type(g, nf_cast(g, f8, NF_F32), "f32[4]");
    assert_null(nf_binary(g, NF_OP_MUL, f8, nf_scalar(g, 2.0)));
    assert_non_null(strstr(nf_graph_error(g)->message, "cast"));
    nf_graph_free(g);
}

static void params_and_returns_are_checked(void **state)
{
    (void)state;
    int64_t s[] = {4};
    nf_graph *g = nf_graph_new("g");
    nf_value *a = param(g, "a", NF_F32, 1, s);
    assert_null(param(g, "a", NF_F32, 1, s));
    assert_non_null(strstr(nf_graph_error(g)->message, "duplicate"));
    nf_graph_free(g);

    g = nf_graph_new("g");
    a = param(g, "a", NF_F32, 1, s);
    assert_int_equal(nf_graph_return(g, 1, (nf_value *[]){nf_scalar(g, 1.0)}), NF_ERR_TYPE);
    nf_graph_free(g);

    g = nf_graph_new("g");
    a = param(g, "a", NF_F32, 1, s);
    assert_int_equal(nf_graph_return(g, 1, &a), NF_OK);
    assert_int_equal(nf_graph_num_outputs(g), 1);
    assert_ptr_equal(nf_graph_output(g, 0), a);
    nf_graph_free(g);
}

static void bindings_come_from_inputs(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    int64_t xs[] = {-1, 8}, qs[] = {-1, 8, 1};
    nf_value *x = param(g, "x", NF_F32, 2, xs);
    nf_value *q = param(g, "q", NF_F32, 3, qs);
    nf_value *o = nf_binary(g, NF_OP_MUL, nf_unsqueeze(g, x, -1), q);
    assert_int_equal(nf_graph_return(g, 1, &o), NF_OK);

    nf_tensor in[2];
    nf_tensor_init(&in[0], (void *)1, NF_F32, 2, (int64_t[]){5, 8});
    nf_tensor_init(&in[1], (void *)1, NF_F32, 3, (int64_t[]){5, 8, 1});
    nf_bindings b = {0};
    nf_error err;
    assert_int_equal(nf_bind_from_inputs(g, in, 2, &b, &err), NF_OK);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.names[0], "T");
    assert_int_equal(b.sizes[0], 5);
    int rank;
    int64_t shape[NF_MAX_DIMS];
    assert_int_equal(nf_output_shape(g, 0, &b, &rank, shape, &err), NF_OK);
    assert_int_equal(rank, 3);
    assert_int_equal(shape[0], 5);
    assert_int_equal(shape[1], 8);
    assert_int_equal(shape[2], 1);

    nf_bindings b2 = {0};
    in[1].shape[0] = 6;
    assert_int_equal(nf_bind_from_inputs(g, in, 2, &b2, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "%q"));
    in[1].shape[0] = 5;
    in[1].shape[1] = 9;
    nf_bindings b3 = {0};
    assert_int_equal(nf_bind_from_inputs(g, in, 2, &b3, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "expected f32[T, 8, 1]"));
    nf_graph_free(g);
}

static void view_layouts_compose(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("g");
    int64_t s[] = {3, 4, 5};
    nf_value *a = param(g, "a", NF_F32, 3, s);
    nf_value *t = nf_transpose(g, a, 0, 2);
    nf_value *sl = nf_slice(g, t, 0, 1, 5, 2);
    nf_value *u = nf_unsqueeze(g, sl, 1);
    assert_type(g, u, "f32[2, 1, 4, 3]");
    nf_layout base, lt, ls, lu;
    nf_layout_contiguous(&base, 3, s);
    nf_view_layout(t, &base, &lt);
    nf_view_layout(sl, &lt, &ls);
    nf_view_layout(u, &ls, &lu);
    /* element [i, 0, j, k] of u is a[k, j, 1 + 2 i] */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) {
                int64_t off = lu.offset + i * lu.strides[0] + j * lu.strides[2] + k * lu.strides[3];
                assert_int_equal(off, k * 20 + j * 5 + 1 + 2 * i);
            }
    nf_layout bl;
    nf_broadcast_layout(&ls, 4, (int64_t[]){7, 2, 4, 3}, &bl);
    assert_int_equal(bl.strides[0], 0);
    assert_int_equal(bl.strides[1], ls.strides[0]);
    nf_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(promote_types_follow_torch),
        cmocka_unit_test(literals_do_not_change_tensor_dtype),
        cmocka_unit_test(broadcasting_with_symbols),
        cmocka_unit_test(symbols_broadcast_only_with_themselves_or_one),
        cmocka_unit_test(views_infer_shapes),
        cmocka_unit_test(view_dims_out_of_range_fail),
        cmocka_unit_test(gemm_shapes_and_out_dtype),
        cmocka_unit_test(bool_and_f8_only_cast),
        cmocka_unit_test(params_and_returns_are_checked),
        cmocka_unit_test(bindings_come_from_inputs),
        cmocka_unit_test(view_layouts_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
