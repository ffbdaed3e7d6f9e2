/* rope_writeback: the NSA indexer's query/key RoPE (examples/nsa/rope_writeback.nf)
 * as a host program uses nsafuse's public C API, two ways:
 *
 *   before   what sglang's _get_q_k_bf16 does: RoPE out of place into new
 *            tensors, then copy the results back into query[..., :64] and
 *            key[..., :64] (nf_kernel_run into fresh outputs, then nf_copy):
 *            four kernels;
 *   nsafuse  the same graph with its outputs bound to the views
 *            query[..., :64] and key[..., :64]: nf_kernel_run_paths stores
 *            each rotation in place, one kernel per tensor, no copy.
 *
 * Both are checked against the reference interpreter run in place on a host
 * copy (every element of query and key, bit for bit), then timed. DeepSeek-
 * V3.2 shapes: query bf16[T, 64, 128], key bf16[T, 128], rope dim 64, neox
 * style, cos_sin_cache f32[4096, 64] (cos | sin, base 10000), positions i64[T].
 * Also shown: copying a view onto itself launches nothing, and onto the
 * same address with other strides is a real (staged) copy.
 *
 *   rope_writeback [--target host|cuda|sm_80|sm_90] [--sizes 1,8,...] [--seed N]
 *
 * Exit status: 0 every check passed, 1 a failed check or a bad flag, 2 the
 * environment failed (no GPU, driver, compiler). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <nsafuse.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HEADS = 64, HEAD_DIM = 128, ROPE_DIM = 64, MAX_POS = 4096, MAX_SIZES = 32 };
#define TIME_BUDGET_S 0.05 /* wall clock aimed at per batch of timed calls */

static const int64_t gpu_sizes[] = {1, 8, 32, 128, 512, 2048, 8192, 16384};
static const int64_t host_sizes[] = {1, 8, 32, 128};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int report(nf_status st, const nf_error *err, const char *what)
{
    fprintf(stderr, "rope_writeback: %s: %s\n", what, err->message);
    return nf_status_is_user_error(st) ? 1 : 2;
}

/* The graph of rope_writeback.nf, through the builder. */
static nf_graph *build(void)
{
    nf_graph *g = nf_graph_new("rope_writeback");
    nf_dim t = {0, "T"};
    nf_value *query = nf_param(g, "query", NF_BF16, 3, (nf_dim[]){t, {HEADS, NULL}, {HEAD_DIM, NULL}});
    nf_value *key = nf_param(g, "key", NF_BF16, 2, (nf_dim[]){t, {HEAD_DIM, NULL}});
    nf_value *cache = nf_param(g, "cos_sin_cache", NF_F32, 2, (nf_dim[]){{MAX_POS, NULL}, {ROPE_DIM, NULL}});
    nf_value *pos = nf_param(g, "positions", NF_I64, 1, (nf_dim[]){t});
    nf_value *q = nf_slice(g, query, -1, 0, ROPE_DIM, 1), *k = nf_slice(g, key, -1, 0, ROPE_DIM, 1);
    nf_value *outs[2] = {nf_name(g, nf_rope(g, q, cache, pos, false), "q_rot"),
                         nf_name(g, nf_rope(g, k, cache, pos, false), "k_rot")};
    nf_graph_return(g, 2, outs);
    return g;
}

/* ---- tensors ---------------------------------------------------------------- */

typedef struct buffers {
    nf_device_kind dev;
    void *query, *key, *cache, *pos, *q_out, *k_out; /* on the device */
    nf_tensor t_query, t_key, t_cache, t_pos, q_view, k_view, t_q_out, t_k_out;
} buffers;

static nf_tensor tensor(void *data, nf_dtype dt, nf_device_kind dev, int rank, const int64_t *shape)
{
    nf_tensor t;
    nf_tensor_init(&t, data, dt, rank, shape);
    t.device = dev;
    return t;
}

/* query[..., :64] and key[..., :64]: the views the rotations go back into. */
static void views(buffers *b, int64_t T)
{
    b->q_view = tensor(b->query, NF_BF16, b->dev, 3, (int64_t[]){T, HEADS, ROPE_DIM});
    b->q_view.strides[0] = HEADS * HEAD_DIM;
    b->q_view.strides[1] = HEAD_DIM;
    b->k_view = tensor(b->key, NF_BF16, b->dev, 2, (int64_t[]){T, ROPE_DIM});
    b->k_view.strides[0] = HEAD_DIM;
}

static nf_status alloc_all(buffers *b, int64_t T, nf_error *err)
{
    size_t q = (size_t)T * HEADS * HEAD_DIM * 2, k = (size_t)T * HEAD_DIM * 2;
    size_t sizes[6] = {q, k, (size_t)MAX_POS * ROPE_DIM * 4, (size_t)T * 8, (size_t)T * HEADS * ROPE_DIM * 2,
                       (size_t)T * ROPE_DIM * 2};
    void **ptrs[6] = {&b->query, &b->key, &b->cache, &b->pos, &b->q_out, &b->k_out};
    nf_status st = NF_OK;
    for (int i = 0; i < 6 && !st; i++)
        st = nf_device_alloc(b->dev, sizes[i], ptrs[i], err);
    b->t_query = tensor(b->query, NF_BF16, b->dev, 3, (int64_t[]){T, HEADS, HEAD_DIM});
    b->t_key = tensor(b->key, NF_BF16, b->dev, 2, (int64_t[]){T, HEAD_DIM});
    b->t_cache = tensor(b->cache, NF_F32, b->dev, 2, (int64_t[]){MAX_POS, ROPE_DIM});
    b->t_pos = tensor(b->pos, NF_I64, b->dev, 1, (int64_t[]){T});
    b->t_q_out = tensor(b->q_out, NF_BF16, b->dev, 3, (int64_t[]){T, HEADS, ROPE_DIM});
    b->t_k_out = tensor(b->k_out, NF_BF16, b->dev, 2, (int64_t[]){T, ROPE_DIM});
    views(b, T);
    return st;
}

static void free_all(buffers *b)
{
    void *ptrs[6] = {b->query, b->key, b->cache, b->pos, b->q_out, b->k_out};
    for (int i = 0; i < 6; i++)
        if (ptrs[i])
            nf_device_free(b->dev, ptrs[i]);
}

/* Host contents: random query and key, sglang's cos | sin cache, positions. */
typedef struct host_data {
    void *query, *key;
    float *cache;
    int64_t *pos;
    size_t q_bytes, k_bytes;
} host_data;

static nf_status make_host(host_data *h, int64_t T, uint64_t seed, nf_error *err)
{
    h->q_bytes = (size_t)T * HEADS * HEAD_DIM * 2;
    h->k_bytes = (size_t)T * HEAD_DIM * 2;
    h->query = malloc(h->q_bytes);
    h->key = malloc(h->k_bytes);
    h->cache = malloc((size_t)MAX_POS * ROPE_DIM * sizeof *h->cache);
    h->pos = malloc((size_t)T * sizeof *h->pos);
    if (!h->query || !h->key || !h->cache || !h->pos) {
        snprintf(err->message, sizeof err->message, "out of memory");
        return NF_ERR_NOMEM;
    }
    nf_tensor q = tensor(h->query, NF_BF16, NF_DEVICE_HOST, 3, (int64_t[]){T, HEADS, HEAD_DIM});
    nf_tensor k = tensor(h->key, NF_BF16, NF_DEVICE_HOST, 2, (int64_t[]){T, HEAD_DIM});
    nf_status st = nf_tensor_fill_random(&q, seed, err);
    if (!st)
        st = nf_tensor_fill_random(&k, seed + 1, err);
    for (int p = 0; p < MAX_POS; p++)
        for (int j = 0; j < ROPE_DIM / 2; j++) {
            double inv_freq = pow(10000.0, -2.0 * j / ROPE_DIM), a = (double)p * inv_freq;
            h->cache[p * ROPE_DIM + j] = (float)cos(a);
            h->cache[p * ROPE_DIM + ROPE_DIM / 2 + j] = (float)sin(a);
        }
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t t = 0; t < T; t++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        h->pos[t] = (int64_t)((s >> 33) % MAX_POS);
    }
    return st;
}

static void free_host(host_data *h)
{
    free(h->query);
    free(h->key);
    free(h->cache);
    free(h->pos);
}

static nf_status upload(buffers *b, const host_data *h, int64_t T, nf_error *err)
{
    nf_status st = nf_device_copy(b->query, b->dev, h->query, NF_DEVICE_HOST, h->q_bytes, err);
    if (!st)
        st = nf_device_copy(b->key, b->dev, h->key, NF_DEVICE_HOST, h->k_bytes, err);
    if (!st)
        st = nf_device_copy(b->cache, b->dev, h->cache, NF_DEVICE_HOST, (size_t)MAX_POS * ROPE_DIM * 4, err);
    if (!st)
        st = nf_device_copy(b->pos, b->dev, h->pos, NF_DEVICE_HOST, (size_t)T * 8, err);
    return st;
}

/* ---- the two ways ------------------------------------------------------------ */

typedef struct way {
    const char *name;
    int kernels; /* per call */
    double us;   /* per call */
} way;

/* before: rotations into fresh tensors, then two copies back. */
static nf_status run_before(nf_kernel *k, buffers *b, int *kernels, nf_error *err)
{
    nf_tensor ins[4] = {b->t_query, b->t_key, b->t_cache, b->t_pos}, outs[2] = {b->t_q_out, b->t_k_out};
    nf_status st = nf_kernel_run(k, ins, 4, outs, 2, NULL, err);
    nf_kernel_stats s;
    nf_kernel_get_stats(k, &s);
    nf_copy_path pq = NF_COPY_SKIPPED, pk = NF_COPY_SKIPPED;
    if (!st)
        st = nf_copy(&b->q_view, &b->t_q_out, NULL, &pq, err);
    if (!st)
        st = nf_copy(&b->k_view, &b->t_k_out, NULL, &pk, err);
    *kernels = s.kernels + (pq != NF_COPY_SKIPPED) + (pk != NF_COPY_SKIPPED);
    return st;
}

/* nsafuse: the outputs are the views; stored in place. */
static nf_status run_in_place(nf_kernel *k, buffers *b, int *kernels, nf_error *err)
{
    nf_tensor ins[4] = {b->t_query, b->t_key, b->t_cache, b->t_pos}, outs[2] = {b->q_view, b->k_view};
    nf_copy_path paths[2];
    nf_status st = nf_kernel_run_paths(k, ins, 4, outs, 2, NULL, paths, err);
    if (!st && (paths[0] != NF_COPY_IN_PLACE || paths[1] != NF_COPY_IN_PLACE)) {
        snprintf(err->message, sizeof err->message, "the rotations were not stored in place (paths %d, %d)",
                 (int)paths[0], (int)paths[1]);
        return NF_ERR_ARG;
    }
    nf_kernel_stats s;
    nf_kernel_get_stats(k, &s);
    *kernels = s.kernels;
    return st;
}

typedef nf_status (*way_fn)(nf_kernel *k, buffers *b, int *kernels, nf_error *err);

/* Runs once from the starting contents and compares query and key with want. */
static nf_status check_way(way_fn fn, nf_kernel *k, buffers *b, const host_data *h, const host_data *want, int64_t T,
                           int *kernels, bool *ok, nf_error *err)
{
    nf_status st = upload(b, h, T, err);
    if (!st)
        st = fn(k, b, kernels, err);
    if (!st)
        st = nf_device_synchronize(b->dev, err);
    void *q = malloc(h->q_bytes), *kk = malloc(h->k_bytes);
    if (!st && (!q || !kk)) {
        snprintf(err->message, sizeof err->message, "out of memory");
        st = NF_ERR_NOMEM;
    }
    if (!st)
        st = nf_device_copy(q, NF_DEVICE_HOST, b->query, b->dev, h->q_bytes, err);
    if (!st)
        st = nf_device_copy(kk, NF_DEVICE_HOST, b->key, b->dev, h->k_bytes, err);
    *ok = !st && memcmp(q, want->query, h->q_bytes) == 0 && memcmp(kk, want->key, h->k_bytes) == 0;
    free(q);
    free(kk);
    return st;
}

static nf_status time_way(way_fn fn, nf_kernel *k, buffers *b, double *us, nf_error *err)
{
    int kernels;
    long calls = 1;
    double best = INFINITY;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_s();
        for (long i = 0; i < calls; i++) {
            nf_status st = fn(k, b, &kernels, err);
            if (st)
                return st;
        }
        nf_status st = nf_device_synchronize(b->dev, err);
        if (st)
            return st;
        double dt = now_s() - t0;
        if (rep > 0 && dt / (double)calls < best) /* the first batch warms up */
            best = dt / (double)calls;
        if (dt < TIME_BUDGET_S && calls < (1L << 20))
            calls = (long)((double)calls * (TIME_BUDGET_S / (dt > 1e-6 ? dt : 1e-6))) + 1;
    }
    *us = best * 1e6;
    return NF_OK;
}

/* The guard sglang needs, done right: a view onto itself is nothing, the
 * same address with other strides is a real copy. */
static int show_guarded_copies(buffers *b, int64_t T)
{
    nf_error err;
    nf_copy_path same, other;
    nf_status st = nf_copy(&b->q_view, &b->q_view, NULL, &same, &err);
    nf_tensor packed = tensor(b->query, NF_BF16, b->dev, 3, (int64_t[]){T, HEADS, ROPE_DIM}); /* same data_ptr */
    if (!st)
        st = nf_copy(&packed, &b->q_view, NULL, &other, &err);
    if (!st)
        st = nf_device_synchronize(b->dev, &err);
    if (st)
        return report(st, &err, "nf_copy");
    static const char *names[] = {"skipped", "direct", "staged", "in place"};
    printf("nf_copy(query[..., :64] -> itself): %s; -> the same address, packed strides: %s\n", names[same],
           names[other]);
    return same != NF_COPY_SKIPPED || other == NF_COPY_SKIPPED ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: rope_writeback [--target host|cuda|sm_80|sm_90] [--sizes 1,8,...] [--seed N]\n");
    return 1;
}

int main(int argc, char **argv)
{
    const char *target = "host";
    int64_t sizes[MAX_SIZES];
    int n_sizes = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
            target = argv[++i];
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            for (char *s = argv[++i], *end; *s && n_sizes < MAX_SIZES; s = *end ? end + 1 : end) {
                long long v = strtoll(s, &end, 10);
                if (end == s || v < 1 || v > (1 << 20) || (*end && *end != ','))
                    return usage();
                sizes[n_sizes++] = v;
            }
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else {
            return usage();
        }
    }
    bool host = strcmp(target, "host") == 0;
    if (strncmp(target, "gfx", 3) == 0) {
        fprintf(stderr, "rope_writeback: this driver runs on the host or a CUDA GPU\n");
        return 1;
    }
    if (!n_sizes) {
        const int64_t *d = host ? host_sizes : gpu_sizes;
        n_sizes = host ? 4 : 8;
        memcpy(sizes, d, (size_t)n_sizes * sizeof *d);
    }
    nf_error err;
    nf_graph *g = build();
    if (nf_graph_error(g)) {
        fprintf(stderr, "rope_writeback: %s\n", nf_graph_error(g)->message);
        nf_graph_free(g);
        return 1;
    }
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    nf_kernel *k = NULL;
    nf_status st = nf_compile(g, &o, &k, &err);
    if (st) {
        nf_graph_free(g);
        return report(st, &err, "compile");
    }
    printf("rope_writeback on %s: query bf16[T, 64, 128], key bf16[T, 128], rope dim 64, neox\n", target);
    printf("%8s  %-26s  %-26s  %8s  %s\n", "T", "before: kernels, us/call", "nsafuse: kernels, us/call", "speedup",
           "check (bit for bit)");
    int failed = 0;
    for (int si = 0; si < n_sizes && !failed; si++) {
        int64_t T = sizes[si];
        buffers b = {.dev = host ? NF_DEVICE_HOST : NF_DEVICE_CUDA};
        host_data h = {0}, want = {0};
        st = make_host(&h, T, seed, &err);
        if (!st)
            st = make_host(&want, T, seed, &err);
        nf_graph *ref = st ? NULL : build();
        if (!st) { /* the reference: the interpreter, in place on host copies */
            nf_tensor q = tensor(want.query, NF_BF16, NF_DEVICE_HOST, 3, (int64_t[]){T, HEADS, HEAD_DIM});
            nf_tensor kk = tensor(want.key, NF_BF16, NF_DEVICE_HOST, 2, (int64_t[]){T, HEAD_DIM});
            nf_tensor ins[4] = {q, kk, tensor(want.cache, NF_F32, NF_DEVICE_HOST, 2, (int64_t[]){MAX_POS, ROPE_DIM}),
                                tensor(want.pos, NF_I64, NF_DEVICE_HOST, 1, (int64_t[]){T})};
            buffers hv = {.dev = NF_DEVICE_HOST, .query = want.query, .key = want.key};
            views(&hv, T);
            nf_tensor outs[2] = {hv.q_view, hv.k_view};
            st = nf_interpret(ref, ins, 4, outs, 2, &err);
        }
        nf_graph_free(ref);
        if (!st)
            st = alloc_all(&b, T, &err);
        way ways[2] = {{"before", 0, 0}, {"nsafuse", 0, 0}};
        way_fn fns[2] = {run_before, run_in_place};
        bool ok[2] = {false, false};
        for (int w = 0; w < 2 && !st; w++) {
            st = check_way(fns[w], k, &b, &h, &want, T, &ways[w].kernels, &ok[w], &err);
            if (!st)
                st = time_way(fns[w], k, &b, &ways[w].us, &err);
        }
        if (!st && si == 0)
            failed |= show_guarded_copies(&b, T);
        if (st) {
            failed = report(st, &err, "run");
        } else {
            char before[64], after[64];
            snprintf(before, sizeof before, "%d, %.2f", ways[0].kernels, ways[0].us);
            snprintf(after, sizeof after, "%d, %.2f", ways[1].kernels, ways[1].us);
            printf("%8" PRId64 "  %-26s  %-26s  %7.2fx  %s\n", T, before, after, ways[0].us / ways[1].us,
                   ok[0] && ok[1] ? "PASS" : !ok[0] ? "FAIL (before)" : "FAIL (nsafuse)");
            if (!ok[0] || !ok[1] || ways[1].kernels != 2)
                failed = 1;
        }
        free_all(&b);
        free_host(&h);
        free_host(&want);
    }
    nf_kernel_free(k);
    nf_graph_free(g);
    if (!failed)
        printf("rope_writeback: PASS\n");
    return failed;
}
