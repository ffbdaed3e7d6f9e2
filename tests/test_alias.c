/* Outputs that share memory with inputs (docs/ROPE.md): identical views
 * (nothing launched), disjoint views (a plain store), partly overlapping
 * views and the same address with other strides (staged), rope and
 * elementwise chains stored in place over the view they read, and in-place
 * stores that would be unsafe (a broadcast read, a later reader), which
 * must be staged. Every buffer has poisoned guards on both sides; the whole
 * of every buffer, guards included, must equal what the reference
 * interpreter leaves in a copy of the same buffers, bit for bit. Runs on
 * the host, and on a CUDA GPU when one answers. */
#include "nsafuse.h"
#include "codegen/codegen.h"
#include "codegen/emit.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compiled_test_util.h"

enum { GUARD = 64, MAX_BUFS = 6, MAX_VIEWS = 6 };

/* A buffer: n elements of dtype, with GUARD poisoned elements either side. */
typedef struct buf_spec {
    nf_dtype dtype;
    int64_t n;
    bool poisoned; /* an output's fresh buffer: all poison, not random */
} buf_spec;

/* A tensor over buffer `buf`, starting `offset` elements in. */
typedef struct view_spec {
    int buf;
    int64_t offset;
    int rank;
    int64_t shape[NF_MAX_DIMS], strides[NF_MAX_DIMS];
} view_spec;

typedef struct scenario {
    const char *name;
    const char *graph; /* .nf text */
    buf_spec bufs[MAX_BUFS];
    int n_bufs;
    view_spec ins[MAX_VIEWS], outs[MAX_VIEWS];
    int n_ins, n_outs;
    nf_copy_path want_path[MAX_VIEWS];
    int want_kernels;
} scenario;

static const char *gpu_target; /* "cuda" when a CUDA device answers */
static uint64_t seed = 0x5eed;

static size_t buf_bytes(const buf_spec *b) { return (size_t)(b->n + 2 * GUARD) * nf_dtype_size(b->dtype); }

/* Fresh random contents (guards poisoned) for every buffer. */
static void fill(const scenario *sc, unsigned char **mem, uint64_t s)
{
    nf_error err;
    for (int i = 0; i < sc->n_bufs; i++) {
        const buf_spec *b = &sc->bufs[i];
        mem[i] = malloc(buf_bytes(b));
        assert_non_null(mem[i]);
        nf_tensor all, inside;
        nf_tensor_init(&all, mem[i], b->dtype, 1, (int64_t[]){b->n + 2 * GUARD});
        assert_int_equal(nf_tensor_fill_poison(&all, &err), NF_OK);
        nf_tensor_init(&inside, mem[i] + GUARD * nf_dtype_size(b->dtype), b->dtype, 1, (int64_t[]){b->n});
        if (!b->poisoned)
            assert_int_equal(nf_tensor_fill_random(&inside, s + (uint64_t)i, &err), NF_OK);
    }
}

static void tensors(const scenario *sc, const view_spec *vs, int n, unsigned char **mem, nf_device_kind dev,
                    nf_tensor *out)
{
    for (int i = 0; i < n; i++) {
        const view_spec *v = &vs[i];
        nf_dtype dt = sc->bufs[v->buf].dtype;
        memset(&out[i], 0, sizeof out[i]);
        out[i].data = mem[v->buf] + (size_t)(GUARD + v->offset) * nf_dtype_size(dt);
        out[i].dtype = dt;
        out[i].rank = v->rank;
        out[i].device = dev;
        memcpy(out[i].shape, v->shape, sizeof v->shape);
        memcpy(out[i].strides, v->strides, sizeof v->strides);
    }
}

static const char *path_name(nf_copy_path p)
{
    static const char *names[] = {"skipped", "direct", "staged", "in place"};
    return p >= 0 && p <= NF_COPY_IN_PLACE ? names[p] : "?";
}

static void compare(const scenario *sc, unsigned char **got, unsigned char **want, const char *where)
{
    for (int i = 0; i < sc->n_bufs; i++) {
        size_t es = nf_dtype_size(sc->bufs[i].dtype), bytes = buf_bytes(&sc->bufs[i]);
        if (memcmp(got[i], want[i], bytes) == 0)
            continue;
        size_t at = 0;
        while (memcmp(got[i] + at, want[i] + at, es) == 0)
            at += es;
        int64_t e = (int64_t)(at / es) - GUARD;
        double g, w;
        nf_tensor tg, tw;
        nf_tensor_init(&tg, got[i] + at, sc->bufs[i].dtype, 0, NULL);
        nf_tensor_init(&tw, want[i] + at, sc->bufs[i].dtype, 0, NULL);
        nf_tensor_to_f64(&tg, &g, NULL);
        nf_tensor_to_f64(&tw, &w, NULL);
        fail_msg("%s, %s (seed %" PRIu64 "): buffer %d (%s[%" PRId64 "]) differs from the interpreter's first at "
                 "element %" PRId64 "%s: got %g, want %g",
                 sc->name, where, seed, i, nf_dtype_name(sc->bufs[i].dtype), sc->bufs[i].n, e,
                 e < 0 || e >= sc->bufs[i].n ? " (a guard: a write outside the tensor)" : "", g, w);
    }
}

/* Runs on one device; the buffers come back in got. */
static void run_compiled(const scenario *sc, nf_graph *g, unsigned char **start, unsigned char **got, const char *target)
{
    nf_device_kind dev = strcmp(target, "host") ? NF_DEVICE_CUDA : NF_DEVICE_HOST;
    unsigned char *mem[MAX_BUFS];
    nf_error err;
    for (int i = 0; i < sc->n_bufs; i++) {
        got[i] = malloc(buf_bytes(&sc->bufs[i]));
        assert_non_null(got[i]);
        memcpy(got[i], start[i], buf_bytes(&sc->bufs[i]));
        mem[i] = got[i];
        if (dev != NF_DEVICE_HOST) {
            void *d = NULL;
            assert_int_equal(nf_device_alloc(dev, buf_bytes(&sc->bufs[i]), &d, &err), NF_OK);
            assert_int_equal(nf_device_copy(d, dev, got[i], NF_DEVICE_HOST, buf_bytes(&sc->bufs[i]), &err), NF_OK);
            mem[i] = d;
        }
    }
    nf_tensor ins[MAX_VIEWS], outs[MAX_VIEWS];
    tensors(sc, sc->ins, sc->n_ins, mem, dev, ins);
    tensors(sc, sc->outs, sc->n_outs, mem, dev, outs);
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    nf_kernel *k = NULL;
    if (nf_compile(g, &o, &k, &err) != NF_OK)
        fail_msg("%s on %s: compile: %s", sc->name, target, err.message);
    nf_copy_path paths[MAX_VIEWS];
    for (int rep = 0; rep < 2; rep++) { /* the second run reuses the signature */
        if (rep) /* run again on the starting contents */
            for (int i = 0; i < sc->n_bufs; i++) {
                if (dev == NF_DEVICE_HOST)
                    memcpy(got[i], start[i], buf_bytes(&sc->bufs[i]));
                else
                    assert_int_equal(nf_device_copy(mem[i], dev, start[i], NF_DEVICE_HOST, buf_bytes(&sc->bufs[i]), &err),
                                     NF_OK);
            }
        if (nf_kernel_run_paths(k, ins, sc->n_ins, outs, sc->n_outs, NULL, paths, &err) != NF_OK)
            fail_msg("%s on %s: run: %s", sc->name, target, err.message);
        if (dev != NF_DEVICE_HOST)
            assert_int_equal(nf_device_synchronize(dev, &err), NF_OK);
    }
    for (int i = 0; i < sc->n_outs; i++)
        if (paths[i] != sc->want_path[i])
            fail_msg("%s on %s: output %d went %s, want %s", sc->name, target, i, path_name(paths[i]),
                     path_name(sc->want_path[i]));
    nf_kernel_stats stats;
    nf_kernel_get_stats(k, &stats);
    if (stats.kernels != sc->want_kernels)
        fail_msg("%s on %s: %d kernels launched, want %d", sc->name, target, stats.kernels, sc->want_kernels);
    assert_int_equal(stats.compiled_signatures, 1);
    nf_kernel_free(k);
    for (int i = 0; dev != NF_DEVICE_HOST && i < sc->n_bufs; i++) {
        assert_int_equal(nf_device_copy(got[i], NF_DEVICE_HOST, mem[i], dev, buf_bytes(&sc->bufs[i]), &err), NF_OK);
        nf_device_free(dev, mem[i]);
    }
}

static void check_scenario(const scenario *sc)
{
    nf_error err;
    nf_graph *g = nf_graph_parse(sc->graph, strlen(sc->graph), sc->name, NULL, &err);
    if (!g)
        fail_msg("%s: %s", sc->name, err.message);
    unsigned char *start[MAX_BUFS], *want[MAX_BUFS], *got[MAX_BUFS];
    fill(sc, start, seed);
    for (int i = 0; i < sc->n_bufs; i++) {
        want[i] = malloc(buf_bytes(&sc->bufs[i]));
        assert_non_null(want[i]);
        memcpy(want[i], start[i], buf_bytes(&sc->bufs[i]));
    }
    nf_tensor ins[MAX_VIEWS], outs[MAX_VIEWS];
    tensors(sc, sc->ins, sc->n_ins, want, NF_DEVICE_HOST, ins);
    tensors(sc, sc->outs, sc->n_outs, want, NF_DEVICE_HOST, outs);
    if (nf_interpret(g, ins, sc->n_ins, outs, sc->n_outs, &err) != NF_OK)
        fail_msg("%s: interpreter: %s", sc->name, err.message);
    const char *targets[2] = {"host", gpu_target};
    for (int t = 0; t < 2 && targets[t]; t++) {
        run_compiled(sc, g, start, got, targets[t]);
        compare(sc, got, want, targets[t]);
        for (int i = 0; i < sc->n_bufs; i++)
            free(got[i]);
    }
    for (int i = 0; i < sc->n_bufs; i++) {
        free(start[i]);
        free(want[i]);
    }
    nf_graph_free(g);
}

/* ---- the scenarios ----------------------------------------------------------- */

enum { T = 3, H = 4, D = 16, R = 8, ROWS = 16 };

#define ROPE_Q(style)                                                                                             \
    "graph rope_q(%query: bf16[T, 4, 16], %cache: f32[16, 8], %pos: i64[T]) {\n"                                \
    "  %q = slice(%query, -1, 0, 8)\n"                                                                          \
    "  %r = rope(%q, %cache, %pos, style=" style ")\n"                                                          \
    "  return %r\n}\n"

static const char *copy_q = "graph copy_q(%query: bf16[T, 4, 16]) {\n"
                            "  %q = slice(%query, -1, 0, 8)\n"
                            "  return %q\n}\n";

/* query, cache, positions: the inputs of rope_q; buffer 3 a fresh output. */
static void rope_buffers(scenario *sc, int64_t out_elems)
{
    sc->bufs[0] = (buf_spec){NF_BF16, T * H * D, false};
    sc->bufs[1] = (buf_spec){NF_F32, ROWS * R, false};
    sc->bufs[2] = (buf_spec){NF_I64, T, false};
    sc->bufs[3] = (buf_spec){NF_BF16, out_elems, true};
    sc->n_bufs = 4;
    sc->ins[0] = (view_spec){0, 0, 3, {T, H, D}, {H * D, D, 1}};
    sc->ins[1] = (view_spec){1, 0, 2, {ROWS, R}, {R, 1}};
    sc->ins[2] = (view_spec){2, 0, 1, {T}, {1}};
    sc->n_ins = 3;
    sc->n_outs = 1;
}

static const view_spec q_view = {0, 0, 3, {T, H, R}, {H * D, D, 1}}; /* query[..., :8] */

static void rope_in_place(void **state)
{
    (void)state;
    const char *styles[2][2] = {{ROPE_Q("neox"), "rope neox in place"}, {ROPE_Q("interleaved"), "rope interleaved in place"}};
    for (int i = 0; i < 2; i++) {
        scenario sc = {.name = styles[i][1], .graph = styles[i][0]};
        rope_buffers(&sc, 1);
        sc.outs[0] = q_view;
        sc.want_path[0] = NF_COPY_IN_PLACE;
        sc.want_kernels = 1;
        check_scenario(&sc);
    }
}

static void rope_out_of_place(void **state)
{
    (void)state;
    scenario sc = {.name = "rope out of place", .graph = ROPE_Q("neox")};
    rope_buffers(&sc, T * H * R);
    sc.outs[0] = (view_spec){3, 0, 3, {T, H, R}, {H * R, R, 1}};
    sc.want_path[0] = NF_COPY_DIRECT;
    sc.want_kernels = 1;
    check_scenario(&sc);
}

static void identical_view_launches_nothing(void **state)
{
    (void)state;
    scenario sc = {.name = "copy into the identical view", .graph = copy_q};
    rope_buffers(&sc, 1);
    sc.n_ins = 1;
    sc.outs[0] = q_view;
    sc.want_path[0] = NF_COPY_SKIPPED;
    sc.want_kernels = 0;
    check_scenario(&sc);
}

static void disjoint_view_is_one_store(void **state)
{
    (void)state;
    scenario sc = {.name = "copy into a disjoint view", .graph = copy_q};
    rope_buffers(&sc, T * H * D);
    sc.n_ins = 1;
    sc.outs[0] = (view_spec){3, 0, 3, {T, H, R}, {H * D, D, 1}}; /* strided: every other half row */
    sc.want_path[0] = NF_COPY_DIRECT;
    sc.want_kernels = 1;
    check_scenario(&sc);
}

static void partly_overlapping_views_are_staged(void **state)
{
    (void)state;
    const char *graphs[2][2] = {{copy_q, "copy into a shifted view"}, {ROPE_Q("neox"), "rope into a shifted view"}};
    for (int i = 0; i < 2; i++) {
        scenario sc = {.name = graphs[i][1], .graph = graphs[i][0]};
        rope_buffers(&sc, 1);
        if (i == 0)
            sc.n_ins = 1;
        sc.outs[0] = q_view;
        sc.outs[0].offset = R / 2; /* query[..., 4:12]: half of it is what is read */
        sc.want_path[0] = NF_COPY_STAGED;
        sc.want_kernels = 2; /* the graph's kernel, then the copy */
        check_scenario(&sc);
    }
}

/* The case `src.data_ptr() == dst.data_ptr()` gets wrong: one address,
 * other strides. The output is query's first T*H*R elements, packed. */
static void same_address_other_strides_is_copied(void **state)
{
    (void)state;
    const char *graphs[2][2] = {{copy_q, "copy into the same address, other strides"},
                                {ROPE_Q("neox"), "rope into the same address, other strides"}};
    for (int i = 0; i < 2; i++) {
        scenario sc = {.name = graphs[i][1], .graph = graphs[i][0]};
        rope_buffers(&sc, 1);
        if (i == 0)
            sc.n_ins = 1;
        sc.outs[0] = (view_spec){0, 0, 3, {T, H, R}, {H * R, R, 1}};
        sc.want_path[0] = NF_COPY_STAGED;
        sc.want_kernels = 2;
        check_scenario(&sc);
    }
}

static void elementwise_chain_in_place(void **state)
{
    (void)state;
    scenario sc = {.name = "scale, rope, add in place",
                   .graph = "graph chain(%query: bf16[T, 4, 16], %cache: f32[16, 8], %pos: i64[T]) {\n"
                            "  %q = slice(%query, -1, 0, 8)\n"
                            "  %s = mul(%q, 0.5)\n"
                            "  %r = rope(%s, %cache, %pos, style=neox)\n"
                            "  %o = add(%r, %q)\n"
                            "  return %o\n}\n"};
    rope_buffers(&sc, 1);
    sc.outs[0] = q_view;
    sc.want_path[0] = NF_COPY_IN_PLACE;
    sc.want_kernels = 1;
    check_scenario(&sc);
}

/* y = x + x[0] over x itself: every row reads row 0, which the kernel
 * writes. In place it would be wrong; it must be staged. */
static void broadcast_read_is_staged(void **state)
{
    (void)state;
    scenario sc = {.name = "x + x[0] into x",
                   .graph = "graph bcast(%x: f32[6, 8]) {\n"
                            "  %r = slice(%x, 0, 0, 1)\n"
                            "  %y = add(%x, %r)\n"
                            "  return %y\n}\n",
                   .n_bufs = 1,
                   .bufs = {{NF_F32, 48, false}},
                   .ins = {{0, 0, 2, {6, 8}, {8, 1}}},
                   .n_ins = 1,
                   .outs = {{0, 0, 2, {6, 8}, {8, 1}}},
                   .n_outs = 1,
                   .want_path = {NF_COPY_STAGED},
                   .want_kernels = 2};
    check_scenario(&sc);
    scenario local = sc;
    local.name = "x * 2 + 1 into x";
    local.want_path[0] = NF_COPY_IN_PLACE;
    local.want_kernels = 1;
    local.graph = "graph local(%x: f32[6, 8]) {\n  %m = mul(%x, 2.0)\n  %y = add(%m, 1.0)\n  return %y\n}\n";
    check_scenario(&local);
}

/* Output 0 in place over query, but a later kernel reads query for output 1. */
static void later_reader_is_staged(void **state)
{
    (void)state;
    scenario sc = {.name = "rope over query, then query read again",
                   .graph = "graph later(%query: bf16[T, 4, 16], %cache: f32[16, 8], %pos: i64[T]) {\n"
                            "  %q = slice(%query, -1, 0, 8)\n"
                            "  %r = rope(%q, %cache, %pos, style=neox)\n"
                            "  %c = mul(%query, 1.0)\n"
                            "  return %r, %c\n}\n"};
    rope_buffers(&sc, T * H * D);
    sc.outs[0] = q_view;
    sc.outs[1] = (view_spec){3, 0, 3, {T, H, D}, {H * D, D, 1}};
    sc.n_outs = 2;
    sc.want_path[0] = NF_COPY_STAGED;
    sc.want_path[1] = NF_COPY_DIRECT;
    sc.want_kernels = 3;
    check_scenario(&sc);
}

/* Two outputs into one buffer: the later one stays, as in the interpreter. */
static void overlapping_outputs_keep_order(void **state)
{
    (void)state;
    scenario sc = {.name = "two outputs into one buffer",
                   .graph = "graph two(%x: f32[6, 8]) {\n"
                            "  %a = mul(%x, 2.0)\n"
                            "  %b = add(%x, 1.0)\n"
                            "  return %a, %b\n}\n",
                   .n_bufs = 2,
                   .bufs = {{NF_F32, 48, false}, {NF_F32, 48, true}},
                   .ins = {{0, 0, 2, {6, 8}, {8, 1}}},
                   .n_ins = 1,
                   .outs = {{1, 0, 2, {6, 8}, {8, 1}}, {1, 0, 2, {6, 8}, {1, 6}}},
                   .n_outs = 2,
                   .want_path = {NF_COPY_STAGED, NF_COPY_STAGED},
                   .want_kernels = 3};
    check_scenario(&sc);
}

/* DeepSeek-V3.2's indexer: query [T, 64, 128] and key [T, 128], rope over
 * the first 64 of each, written back in place: two kernels, no copy. */
static void deepseek_query_and_key_in_place(void **state)
{
    (void)state;
    enum { TT = 5, NH = 64, HD = 128, RD = 64, P = 32 };
    scenario sc = {.name = "DeepSeek-V3.2 query and key in place",
                   .graph = "graph rope_writeback(%query: bf16[T, 64, 128], %key: bf16[T, 128],\n"
                            "                     %cos_sin_cache: f32[32, 64], %positions: i64[T]) {\n"
                            "  %q = slice(%query, -1, 0, 64)\n"
                            "  %k = slice(%key, -1, 0, 64)\n"
                            "  %qr = rope(%q, %cos_sin_cache, %positions, style=neox)\n"
                            "  %kr = rope(%k, %cos_sin_cache, %positions, style=neox)\n"
                            "  return %qr, %kr\n}\n",
                   .n_bufs = 4,
                   .bufs = {{NF_BF16, TT * NH * HD, false}, {NF_BF16, TT * HD, false}, {NF_F32, P * RD, false},
                            {NF_I64, TT, false}},
                   .ins = {{0, 0, 3, {TT, NH, HD}, {NH * HD, HD, 1}},
                           {1, 0, 2, {TT, HD}, {HD, 1}},
                           {2, 0, 2, {P, RD}, {RD, 1}},
                           {3, 0, 1, {TT}, {1}}},
                   .n_ins = 4,
                   .outs = {{0, 0, 3, {TT, NH, RD}, {NH * HD, HD, 1}}, {1, 0, 2, {TT, RD}, {HD, 1}}},
                   .n_outs = 2,
                   .want_path = {NF_COPY_IN_PLACE, NF_COPY_IN_PLACE},
                   .want_kernels = 2};
    check_scenario(&sc);
}

/* Other dtypes and ranks: f16 x of rank 4 with 2-d i32 positions and a bf16
 * cache, interleaved, in place over the whole parameter. */
static void other_dtypes_in_place(void **state)
{
    (void)state;
    scenario sc = {.name = "f16 x, bf16 cache, i32 positions, interleaved",
                   .graph = "graph other(%x: f16[2, T, 3, 6], %cache: bf16[10, 6], %pos: i32[2, T]) {\n"
                            "  %r = rope(%x, %cache, %pos, style=interleaved)\n"
                            "  return %r\n}\n",
                   .n_bufs = 3,
                   .bufs = {{NF_F16, 2 * T * 3 * 6, false}, {NF_BF16, 60, false}, {NF_I32, 2 * T, false}},
                   .ins = {{0, 0, 4, {2, T, 3, 6}, {T * 18, 18, 6, 1}}, {1, 0, 2, {10, 6}, {6, 1}}, {2, 0, 2, {2, T}, {T, 1}}},
                   .n_ins = 3,
                   .outs = {{0, 0, 4, {2, T, 3, 6}, {T * 18, 18, 6, 1}}},
                   .n_outs = 1,
                   .want_path = {NF_COPY_IN_PLACE},
                   .want_kernels = 1};
    check_scenario(&sc);
}

/* The GPU form of the in-place kernels, which only a GPU run compiles:
 * DeepSeek's query and key rope stored over their views, NEOX pairs, for
 * NVIDIA (through ptxas when it is installed) and AMD. */
static void in_place_gpu_code_assembles(void **state)
{
    (void)state;
    const char *text = "graph rw(%query: bf16[T, 64, 128], %key: bf16[T, 128], %cache: f32[64, 64], %pos: i64[T]) {\n"
                       "  %q = slice(%query, -1, 0, 64)\n  %k = slice(%key, -1, 0, 64)\n"
                       "  %qr = rope(%q, %cache, %pos, style=neox)\n  %kr = rope(%k, %cache, %pos, style=neox)\n"
                       "  return %qr, %kr\n}\n";
    nf_error err;
    nf_graph *g = nf_graph_parse(text, strlen(text), "rw", NULL, &err);
    assert_non_null(g);
    nf_plan *p = NULL;
    assert_int_equal(nf_plan_build(g, NULL, &p, &err), NF_OK);
    assert_int_equal(p->n_kernels, 2);
    enum { TT = 4 };
    int64_t sym_sizes[1] = {TT};
    const nf_value *value[6] = {g->params[0], g->params[1], g->params[2], g->params[3], g->outputs[0], g->outputs[1]};
    nf_layout layout[6] = {
        {3, {TT, 64, 128}, {8192, 128, 1}, 0}, {2, {TT, 128}, {128, 1}, 0}, {2, {64, 64}, {64, 1}, 0},
        {1, {TT}, {1}, 0},                    {3, {TT, 64, 64}, {8192, 128, 1}, 0}, {2, {TT, 64}, {128, 1}, 0},
    };
    int first_slot[64];
    for (int i = 0; i < 64; i++)
        first_slot[i] = -1;
    for (int i = 5; i >= 0; i--)
        first_slot[value[i]->id] = i;
    bool skip[6] = {false};
    const nf_fused_kernel *in_place[2] = {&p->kernels[0], &p->kernels[1]};
    signed char groups[2] = {NF_GROUP_NEOX, NF_GROUP_NEOX};
    nf_slots sl = {.n = 6, .n_params = 4, .n_outputs = 2, .value = value, .layout = layout, .first_slot = first_slot,
                   .sym_sizes = sym_sizes, .aligned16 = true, .skip = skip, .in_place = in_place,
                   .in_place_group = groups, .n_in_place = 2};
    assert_int_equal(nf_group_width(&p->kernels[0], &sl), 8); /* 16-byte runs of bf16 */
    assert_int_equal(nf_group_work_items(&p->kernels[0], &sl, 8), TT * 64 * 32 / 8);
    const char *targets[] = {"sm_80", "sm_90", "gfx942"};
    for (int t = 0; t < 3; t++) {
        LLVMContextRef ctx = LLVMContextCreate();
        LLVMModuleRef m = NULL;
        if (nf_codegen_module(nf_target_find(targets[t]), p, &sl, ctx, &m, &err))
            fail_msg("%s: %s", targets[t], err.message);
        char *out = NULL;
        nf_status st = t < 2 ? nf_emit_ptx(m, targets[t], &out, &err) : nf_emit_amdgpu_asm(m, targets[t], &out, &err);
        if (st)
            fail_msg("%s: %s", targets[t], err.message);
        if (t < 2) {
            assert_non_null(strstr(out, "ld.global.v4")); /* the runs became vector loads and stores */
            assert_non_null(strstr(out, "st.global.v4"));
            if (getenv("NF_SHOW_PTX"))
                puts(out);
            const char *ptxas = "/usr/local/cuda/bin/ptxas";
            FILE *probe = fopen(ptxas, "r");
            if (probe) {
                fclose(probe);
                char path[] = "/tmp/nf_alias_XXXXXX";
                int fd = mkstemp(path);
                assert_true(fd >= 0);
                FILE *f = fdopen(fd, "w");
                fputs(out, f);
                fclose(f);
                char cmd[512];
                snprintf(cmd, sizeof cmd, "%s --gpu-name %s %s -o /dev/null 2>&1", ptxas, targets[t], path);
                int rc = system(cmd);
                remove(path);
                if (rc != 0)
                    fail_msg("ptxas rejected the in-place PTX for %s", targets[t]);
            }
        }
        free(out);
        LLVMDisposeModule(m);
        LLVMContextDispose(ctx);
    }
    nf_plan_free(p);
    nf_graph_free(g);
}

static int find_gpu(void **state)
{
    (void)state;
    seed = test_seed(seed);
    gpu_target = find_cuda("every scenario runs on the GPU too");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rope_in_place),
        cmocka_unit_test(rope_out_of_place),
        cmocka_unit_test(identical_view_launches_nothing),
        cmocka_unit_test(disjoint_view_is_one_store),
        cmocka_unit_test(partly_overlapping_views_are_staged),
        cmocka_unit_test(same_address_other_strides_is_copied),
        cmocka_unit_test(elementwise_chain_in_place),
        cmocka_unit_test(broadcast_read_is_staged),
        cmocka_unit_test(later_reader_is_staged),
        cmocka_unit_test(overlapping_outputs_keep_order),
        cmocka_unit_test(deepseek_query_and_key_in_place),
        cmocka_unit_test(other_dtypes_in_place),
        cmocka_unit_test(in_place_gpu_code_assembles),
    };
    return cmocka_run_group_tests(tests, find_gpu, NULL);
}
