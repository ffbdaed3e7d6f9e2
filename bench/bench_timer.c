/* Timing one call on a device three ways (GPU.md): per call inside a CUDA
 * graph of `calls` calls (the figure that counts: what a call costs inside a
 * decode step's graph), one call per graph replay, and plain back-to-back
 * launches. The host has no events or graphs: wall clock, plain calls only. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Each measurement aims at about this much device time. */
#define PLAIN_BUDGET_US 50e3
#define GRAPH_BUDGET_US 200e3
#define REPLAY_BUDGET_US 50e3

static int clamp_int(double v, int lo, int hi)
{
    if (!(v >= lo))
        return lo;
    return v > hi ? hi : (int)v;
}

nf_status bench_clock_open(nf_device_kind device, bench_clock *c, nf_error *err)
{
    memset(c, 0, sizeof *c);
    c->device = device;
    if (device == NF_DEVICE_HOST)
        return NF_OK;
    const nf_device_ops *ops = nf_device_get(device);
    if (!ops)
        return bench_error(err, NF_ERR_ARG, "unknown device kind %d", (int)device);
    nf_status s = ops->init(err);
    if (s == NF_OK && !ops->stream_create)
        s = bench_error(err, NF_ERR_UNSUPPORTED, "the %s device has no streams to time on", ops->name);
    if (s == NF_OK)
        s = ops->stream_create(&c->stream, err);
    if (s == NF_OK)
        s = ops->event_create(&c->start, err);
    if (s == NF_OK)
        s = ops->event_create(&c->end, err);
    c->ops = ops;
    if (s != NF_OK)
        bench_clock_close(c);
    return s;
}

void bench_clock_close(bench_clock *c)
{
    if (c->ops) {
        if (c->start)
            c->ops->event_destroy(c->start);
        if (c->end)
            c->ops->event_destroy(c->end);
        if (c->stream)
            c->ops->stream_destroy(c->stream);
    }
    memset(c, 0, sizeof *c);
}

bool bench_clock_has_graphs(const bench_clock *c) { return c->ops && c->ops->capture_begin; }

/* n calls back to back; the time between events around them, in us. */
static nf_status time_calls(bench_clock *c, bench_call_fn fn, void *ctx, int n, double *us, nf_error *err)
{
    nf_status s = NF_OK;
    if (!c->ops) {
        double t0 = bench_now_s();
        for (int i = 0; i < n && s == NF_OK; i++)
            s = fn(ctx, NULL, err);
        *us = 1e6 * (bench_now_s() - t0);
        return s;
    }
    float ms = 0;
    s = c->ops->event_record(c->start, c->stream, err);
    for (int i = 0; i < n && s == NF_OK; i++)
        s = fn(ctx, c->stream, err);
    if (s == NF_OK)
        s = c->ops->event_record(c->end, c->stream, err);
    if (s == NF_OK)
        s = c->ops->event_elapsed_ms(c->start, c->end, &ms, err);
    *us = 1e3 * (double)ms;
    return s;
}

static nf_status capture(bench_clock *c, bench_call_fn fn, void *ctx, int calls, void **graph, nf_error *err)
{
    *graph = NULL;
    nf_status s = c->ops->capture_begin(c->stream, err);
    if (s != NF_OK)
        return s;
    for (int i = 0; i < calls && s == NF_OK; i++)
        s = fn(ctx, c->stream, err);
    nf_error end_err;
    nf_status e = c->ops->capture_end(c->stream, graph, s == NF_OK ? err : &end_err);
    if (s == NF_OK)
        s = e;
    if (s != NF_OK && *graph) {
        c->ops->graph_destroy(*graph);
        *graph = NULL;
    }
    return s;
}

/* Median time of one replay of graph over reps replays, in us. */
static nf_status time_replays(bench_clock *c, void *graph, int reps, double *us, nf_error *err)
{
    double *v = malloc((size_t)reps * sizeof *v);
    if (!v)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    nf_status s = c->ops->graph_launch(graph, c->stream, err); /* the first replay uploads the graph */
    if (s == NF_OK)
        s = c->ops->stream_synchronize(c->stream, err);
    for (int i = 0; i < reps && s == NF_OK; i++) {
        float ms = 0;
        s = c->ops->event_record(c->start, c->stream, err);
        if (s == NF_OK)
            s = c->ops->graph_launch(graph, c->stream, err);
        if (s == NF_OK)
            s = c->ops->event_record(c->end, c->stream, err);
        if (s == NF_OK)
            s = c->ops->event_elapsed_ms(c->start, c->end, &ms, err);
        v[i] = 1e3 * (double)ms;
    }
    if (s == NF_OK)
        *us = bench_quantile(v, reps, 0.5);
    free(v);
    return s;
}

static nf_status time_graph(bench_clock *c, bench_call_fn fn, void *ctx, int calls, int reps, double *us,
                            nf_error *err)
{
    void *graph = NULL;
    nf_status s = capture(c, fn, ctx, calls, &graph, err);
    if (s == NF_OK)
        s = time_replays(c, graph, reps, us, err);
    if (graph)
        c->ops->graph_destroy(graph);
    return s;
}

nf_status bench_time_call(bench_clock *c, bench_call_fn fn, void *ctx, int graph_calls, bench_times *t,
                          nf_error *err)
{
    t->plain_us = t->graph_us = t->replay_us = NAN;
    t->graph_calls = graph_calls;
    double est = 0;
    /* warm (compiles on a first call), then one call to size the rest */
    nf_status s = time_calls(c, fn, ctx, 1, &est, err);
    if (s == NF_OK)
        s = time_calls(c, fn, ctx, 1, &est, err);
    if (s != NF_OK)
        return s;
    if (est < 0.5)
        est = 0.5;
    int n = clamp_int(PLAIN_BUDGET_US / est, 3, 1000);
    double runs[3];
    for (int r = 0; r < 3 && s == NF_OK; r++) {
        s = time_calls(c, fn, ctx, n, &runs[r], err);
        runs[r] /= n;
    }
    if (s != NF_OK)
        return s;
    t->plain_us = bench_quantile(runs, 3, 0.5);
    if (!bench_clock_has_graphs(c))
        return NF_OK;
    double us = 0;
    s = time_graph(c, fn, ctx, graph_calls, clamp_int(GRAPH_BUDGET_US / (est * graph_calls), 3, 20), &us, err);
    if (s != NF_OK)
        return s;
    t->graph_us = us / graph_calls;
    s = time_graph(c, fn, ctx, 1, clamp_int(REPLAY_BUDGET_US / est, 5, 200), &us, err);
    if (s == NF_OK)
        t->replay_us = us;
    return s;
}

nf_status bench_time_memcpy(bench_clock *c, void *dst, const void *src, size_t bytes, double *us, nf_error *err)
{
    enum { REPS = 5 };
    double v[REPS + 1];
    nf_status s = NF_OK;
    /* the first copy warms up; the default stream (NULL) is where the driver's memcpy runs */
    for (int i = 0; i < REPS + 1 && s == NF_OK; i++) {
        if (!c->ops) {
            double t0 = bench_now_s();
            s = nf_device_copy(dst, NF_DEVICE_HOST, src, NF_DEVICE_HOST, bytes, err);
            v[i] = 1e6 * (bench_now_s() - t0);
            continue;
        }
        float ms = 0;
        s = c->ops->event_record(c->start, NULL, err);
        if (s == NF_OK)
            s = c->ops->copy(dst, src, bytes, NF_COPY_D2D, err);
        if (s == NF_OK)
            s = c->ops->event_record(c->end, NULL, err);
        if (s == NF_OK)
            s = c->ops->event_elapsed_ms(c->start, c->end, &ms, err);
        v[i] = 1e3 * (double)ms;
    }
    if (s == NF_OK)
        *us = bench_quantile(v + 1, REPS, 0.5);
    return s;
}
