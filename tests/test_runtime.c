/* The compile-and-run API: DLPack tensors in, and one compiled kernel used
 * from several threads at once with changing shapes (the signature cache). */
#include "nsafuse.h"

#include <dlpack/dlpack.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void dlpack_tensors_map_to_nf_tensors(void **state)
{
    (void)state;
    float data[12];
    int64_t shape[2] = {3, 2}, strides[2] = {1, 4};
    DLTensor t = {.data = data, .device = {kDLCPU, 0}, .ndim = 2, .dtype = {kDLFloat, 32, 1},
                  .shape = shape, .strides = strides, .byte_offset = 8};
    nf_tensor out;
    nf_error err;
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_OK);
    assert_ptr_equal(out.data, (char *)data + 8);
    assert_int_equal(out.dtype, NF_F32);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.shape[0], 3);
    assert_int_equal(out.strides[1], 4);
    assert_int_equal(out.device, NF_DEVICE_HOST);

    t.strides = NULL; /* compact row-major */
    t.dtype = (DLDataType){kDLBfloat, 16, 1};
    t.byte_offset = 0;
    t.device = (DLDevice){kDLCUDA, 1};
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_OK);
    assert_int_equal(out.dtype, NF_BF16);
    assert_int_equal(out.strides[0], 2);
    assert_int_equal(out.strides[1], 1);
    assert_int_equal(out.device, NF_DEVICE_CUDA);
    assert_int_equal(out.device_id, 1);

    t.dtype = (DLDataType){kDLComplex, 64, 1};
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "dtype"));
    t.dtype = (DLDataType){kDLFloat, 32, 4};
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_ERR_UNSUPPORTED);
    t.dtype = (DLDataType){kDLFloat, 32, 1};
    t.byte_offset = 2;
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_ERR_ARG);
    assert_int_equal(nf_tensor_from_dlpack(NULL, &out, &err), NF_ERR_ARG);
}

static const char *graph_text = "graph g(%x: bf16[T, 33], %s: f32[33]) {\n"
                                "  %a = mul(%x, %s)\n"
                                "  %e = exp(%a)\n"
                                "  %o = cast(%e, bf16)\n"
                                "  return %o\n"
                                "}\n";

typedef struct worker {
    nf_kernel *k;
    const nf_graph *g;
    int id;
    int failures;
    char why[1200];
} worker;

/* Runs the shared kernel on shapes that change every call and checks each
 * result against the interpreter bit for bit (exp rounds to bf16 here; the
 * math library is within 1 f32 ulp, and both paths round the same f32
 * result only if it is the same: use the graph's own tolerance). */
static void *work(void *arg)
{
    worker *w = arg;
    static const int64_t sizes[] = {1, 7, 33, 100, 250};
    for (int it = 0; it < 40 && !w->failures; it++) {
        int64_t T = sizes[(it + w->id) % 5];
        int64_t xs[2] = {T, 33}, ss[1] = {33};
        uint16_t *x = malloc((size_t)(T * 33) * 2), *got = malloc((size_t)(T * 33) * 2), *want = malloc((size_t)(T * 33) * 2);
        float s[33];
        nf_tensor in[2], out, ref;
        nf_tensor_init(&in[0], x, NF_BF16, 2, xs);
        nf_tensor_init(&in[1], s, NF_F32, 1, ss);
        nf_tensor_init(&out, got, NF_BF16, 2, xs);
        nf_tensor_init(&ref, want, NF_BF16, 2, xs);
        nf_error err;
        nf_tensor_fill_random(&in[0], (uint64_t)(w->id * 1000 + it), NULL);
        nf_tensor_fill_random(&in[1], (uint64_t)(w->id * 1000 + it + 1), NULL);
        nf_tensor_fill_poison(&out, NULL);
        nf_status st = nf_kernel_run(w->k, in, 2, &out, 1, NULL, &err);
        if (!st)
            st = nf_interpret(w->g, in, 2, &ref, 1, &err);
        nf_compare_result r;
        if (!st)
            st = nf_tensor_compare(&out, &ref, nf_graph_tolerance(w->g, 0, 3.0), &r, &err);
        if (st || r.n_mismatch) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "thread %d, T = %lld: %s", w->id, (long long)T,
                     st ? err.message : "results differ from the interpreter");
        }
        free(x);
        free(got);
        free(want);
    }
    return NULL;
}

static void one_kernel_serves_many_threads_and_shapes(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = nf_graph_parse(graph_text, strlen(graph_text), "threads.nf", NULL, &err);
    assert_non_null(g);
    nf_kernel *k;
    assert_int_equal(nf_compile(g, NULL, &k, &err), NF_OK);
    enum { THREADS = 6 };
    pthread_t tids[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.k = k, .g = g, .id = i};
        assert_int_equal(pthread_create(&tids[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures)
            fail_msg("%s", w[i].why);
    nf_kernel_stats st;
    nf_kernel_get_stats(k, &st);
    assert_int_equal(st.compiled_signatures, 5); /* one per shape, however many threads asked */
    nf_kernel_free(k);
    nf_graph_free(g);
}

/* The device each target's kernels run on, and no device for a non-target. */
static void targets_name_their_device(void **state)
{
    (void)state;
    static const struct { const char *target; nf_device_kind device; } known[] = {
        {"host", NF_DEVICE_HOST}, {"cuda", NF_DEVICE_CUDA}, {"sm_80", NF_DEVICE_CUDA}, {"sm_90", NF_DEVICE_CUDA},
        {"hip", NF_DEVICE_HIP},   {"gfx90a", NF_DEVICE_HIP}, {"gfx942", NF_DEVICE_HIP}, {"gfx950", NF_DEVICE_HIP},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        nf_device_kind d = (nf_device_kind)-1;
        assert_true(nf_target_device(known[i].target, &d));
        assert_int_equal(d, known[i].device);
    }
    nf_device_kind d = NF_DEVICE_HOST;
    assert_false(nf_target_device("x86", &d));
    assert_false(nf_target_device("", &d));
    assert_false(nf_target_device(NULL, &d));
    assert_false(nf_target_device("host", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dlpack_tensors_map_to_nf_tensors),
        cmocka_unit_test(one_kernel_serves_many_threads_and_shapes),
        cmocka_unit_test(targets_name_their_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
