/* nsafuse-bench launch: the host-side cost of a cached launch, that is of
 * nf_kernel_run on a signature already compiled (binding, signature lookup,
 * argument packing, the driver's launch), with no synchronization inside the
 * timed region. Target (issue 4): under 5 us; PyTorch pays 85-170 us per call
 * of the head gate from Python (ANCHORS.md). For context the tiny kernel's
 * device time follows: per call in a graph, per replay, plain. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    TINY_N = 256,     /* elements of the tiny graph */
    DRAIN_EVERY = 256 /* calls between (untimed) waits, so the launch queue never fills */
};

typedef struct run_ctx {
    nf_kernel *k;
    const bench_tensors *in, *out;
} run_ctx;

static nf_status run_once(void *ctx, void *stream, nf_error *err)
{
    run_ctx *r = ctx;
    return nf_kernel_run(r->k, r->in->t, r->in->n, r->out->t, r->out->n, stream, err);
}

static nf_status launch_cost(const bench_opts *o, const char *target, nf_device_kind device, nf_error *err)
{
    nf_graph *g = bench_load_graph(o, "tiny_scale.nf", err);
    if (!g)
        return err->status;
    nf_bindings b = {.n = 1, .names = {"N"}, .sizes = {TINY_N}};
    bench_tensors in = {0}, out = {0};
    bench_clock c;
    run_ctx r = {NULL, &in, &out};
    int n = o->launch_calls;
    double *dt = malloc((size_t)n * sizeof *dt);
    nf_status s = dt ? bench_clock_open(device, &c, err) : bench_error(err, NF_ERR_NOMEM, "out of memory");
    if (!dt) {
        nf_graph_free(g);
        return s;
    }
    if (s == NF_OK)
        s = bench_alloc_params(g, &b, device, &in, err);
    if (s == NF_OK)
        s = bench_alloc_outputs(g, &b, device, &out, err);
    if (s == NF_OK)
        s = bench_fill_random(&in.t[0], o->seed, err);
    nf_compile_options co;
    nf_compile_options_init(&co);
    co.target = target;
    if (s == NF_OK)
        s = nf_compile(g, &co, &r.k, err);
    if (s == NF_OK) /* compiles the signature: not part of what is timed */
        s = run_once(&r, c.stream, err);
    if (s == NF_OK)
        s = nf_device_synchronize(device, err);
    double total = 0;
    for (int i = 0; i < n && s == NF_OK; i++) {
        if (c.ops && i % DRAIN_EVERY == 0)
            s = c.ops->stream_synchronize(c.stream, err);
        double t0 = bench_now_s();
        if (s == NF_OK)
            s = run_once(&r, c.stream, err);
        dt[i] = 1e6 * (bench_now_s() - t0);
        total += dt[i];
    }
    if (s == NF_OK)
        s = nf_device_synchronize(device, err);
    if (s == NF_OK) {
        double mean = total / n, p10 = bench_quantile(dt, n, 0.1), p50 = bench_quantile(dt, n, 0.5);
        double p90 = bench_quantile(dt, n, 0.9), p99 = bench_quantile(dt, n, 0.99);
        printf("%-6s host us per nf_kernel_run: median %6.2f  p10 %6.2f  p90 %6.2f  p99 %7.2f  mean %6.2f  (%d calls, "
               "f32[%d] * 2)\n",
               target, p50, p10, p90, p99, mean, n, TINY_N);
        if (c.ops) {
            bench_times t;
            s = bench_time_call(&c, run_once, &r, o->graph_calls, &t, err);
            if (s == NF_OK)
                printf("%-6s device us per call of the same kernel: in a graph of %d %.2f, one per replay %.2f, "
                       "plain %.2f\n",
                       target, o->graph_calls, t.graph_us, t.replay_us, t.plain_us);
        }
    }
    nf_kernel_free(r.k);
    bench_tensors_free(&in);
    bench_tensors_free(&out);
    bench_clock_close(&c);
    nf_graph_free(g);
    free(dt);
    return s;
}

int bench_launch(const bench_opts *o)
{
    nf_error err = {0};
    printf("nsafuse-bench launch: host-side cost of a cached launch (no synchronization in the timed region; "
           "target < 5 us)\n");
    nf_status s = launch_cost(o, "host", NF_DEVICE_HOST, &err);
    if (s == NF_OK && o->device != NF_DEVICE_HOST)
        s = launch_cost(o, o->target, o->device, &err);
    return s == NF_OK ? 0 : bench_report("launch", &err);
}
