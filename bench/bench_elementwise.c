/* nsafuse-bench elementwise: the chains of bench/graphs/ fused and unfused,
 * time per call (in a CUDA graph, per replay, plain), bytes moved (inputs +
 * outputs) over time, beside the device's copy bandwidth measured in the same
 * run. Fused and unfused outputs are compared at both ends of the tensor, so
 * that a broken kernel is not timed as a fast one. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CHECK_SAMPLE = 1 << 20 }; /* elements compared at each end of an output */

typedef struct chain {
    const char *name; /* the graph's name and file stem */
    int64_t inner;    /* elements per row: the graph's tensors are [N, inner] */
    int64_t sizes[8]; /* default element counts (ANCHORS.md's shapes), 0-terminated */
} chain;

static const chain chains[] = {
    {"bias_gelu_residual", 1536, {65536LL * 1536}},
    {"transcendental_chain", 33, {(4LL << 20) * 33}},
    {"upcast_two_scales", 1, {1LL << 20, 4LL << 20, 16LL << 20, 64LL << 20, 256LL << 20}},
};

typedef struct variant {
    const char *label;
    bool unfused;
    nf_kernel_stats stats;
    double first_ms; /* the first call: compile (or disk cache) + load + run */
    bench_times t;
} variant;

typedef struct run_ctx {
    nf_kernel *k;
    const bench_tensors *in, *out;
} run_ctx;

static nf_status run_once(void *ctx, void *stream, nf_error *err)
{
    run_ctx *r = ctx;
    return nf_kernel_run(r->k, r->in->t, r->in->n, r->out->t, r->out->n, stream, err);
}

static double tbps(int64_t bytes, double us) { return us > 0 ? (double)bytes / (us * 1e-6) / 1e12 : NAN; }

/* The figure a row is judged by: in a graph where there are graphs. */
static double best_us(const bench_times *t) { return isnan(t->graph_us) ? t->plain_us : t->graph_us; }

static void csv_row(FILE *csv, const char *name, int64_t elements, int64_t bytes, const char *label, int kernels,
                    const bench_times *t)
{
    if (csv)
        fprintf(csv, "nsafuse,%s,%lld,%lld,%s,%d,%.3f,%.3f,%.3f\n", name, (long long)elements, (long long)bytes,
                label, kernels, t->graph_us, t->replay_us, t->plain_us);
}

static nf_status compile_and_time(const bench_opts *o, bench_clock *c, const nf_graph *g, const bench_tensors *in,
                                  const bench_tensors *out, variant *v, nf_error *err)
{
    nf_compile_options co;
    nf_compile_options_init(&co);
    co.target = o->target;
    co.unfused = v->unfused;
    run_ctx r = {NULL, in, out};
    nf_status s = nf_compile(g, &co, &r.k, err);
    if (s != NF_OK)
        return s;
    double t0 = bench_now_s();
    s = run_once(&r, c->stream, err);
    if (s == NF_OK)
        s = nf_device_synchronize(o->device, err);
    v->first_ms = 1e3 * (bench_now_s() - t0);
    if (s == NF_OK)
        s = bench_time_call(c, run_once, &r, o->graph_calls, &v->t, err);
    if (s == NF_OK)
        s = nf_device_synchronize(o->device, err);
    nf_kernel_get_stats(r.k, &v->stats);
    nf_kernel_free(r.k);
    return s;
}

/* The device's copy bandwidth, two ways: the driver's device-to-device
 * memcpy and nsafuse's own copy kernel (cast f32 -> f32). Bytes counted are
 * read + written. *ref_tbps: the memcpy's. */
static nf_status copy_bandwidth(const bench_opts *o, bench_clock *c, FILE *csv, double *ref_tbps, nf_error *err)
{
    nf_graph *g = bench_load_graph(o, "copy_f32.nf", err);
    if (!g)
        return err->status;
    nf_bindings b = {.n = 1, .names = {"N"}, .sizes = {o->copy_elements}};
    bench_tensors in = {0}, out = {0};
    nf_status s = bench_alloc_params(g, &b, o->device, &in, err);
    if (s == NF_OK)
        s = bench_alloc_outputs(g, &b, o->device, &out, err);
    int64_t bytes = bench_tensors_bytes(&in) + bench_tensors_bytes(&out);
    double memcpy_us = 0;
    if (s == NF_OK)
        s = bench_time_memcpy(c, out.t[0].data, in.t[0].data, (size_t)bench_tensors_bytes(&in), &memcpy_us, err);
    variant v = {.label = "fused"};
    if (s == NF_OK)
        s = compile_and_time(o, c, g, &in, &out, &v, err);
    if (s == NF_OK) {
        char size[32];
        bench_format_size(o->copy_elements, size, sizeof size);
        *ref_tbps = tbps(bytes, memcpy_us);
        printf("copy bandwidth, %s f32 elements (%.0f MB read + written):\n", size, (double)bytes / 1e6);
        printf("  driver memcpy device to device  %9.1f us  %5.2f TB/s  (the reference below)\n", memcpy_us,
               *ref_tbps);
        printf("  nsafuse copy kernel (cast f32)  %9.1f us  %5.2f TB/s  (%.1f%%)\n\n", best_us(&v.t),
               tbps(bytes, best_us(&v.t)), 100 * tbps(bytes, best_us(&v.t)) / *ref_tbps);
        bench_times mt = {.graph_us = NAN, .replay_us = NAN, .plain_us = memcpy_us};
        csv_row(csv, "copy", o->copy_elements, bytes, "memcpy", 0, &mt);
        csv_row(csv, "copy", o->copy_elements, bytes, "kernel", v.stats.kernels, &v.t);
    }
    bench_tensors_free(&in);
    bench_tensors_free(&out);
    nf_graph_free(g);
    return s;
}

/* Fused against unfused at both ends of every output, within the library's
 * own tolerance for the graph (docs/FUSION.md). */
static nf_status check_outputs(const nf_graph *g, const bench_tensors *want, const bench_tensors *got, char *verdict,
                               size_t len, nf_error *err)
{
    nf_status s = NF_OK;
    bool pass = true;
    double worst_rel = 0;
    for (int i = 0; i < got->n && s == NF_OK; i++) {
        nf_tensor w = {0}, h = {0};
        s = bench_read_ends(&want->t[i], CHECK_SAMPLE, &w, err);
        if (s == NF_OK)
            s = bench_read_ends(&got->t[i], CHECK_SAMPLE, &h, err);
        double *ref = s == NF_OK ? malloc((size_t)nf_tensor_numel(&w) * sizeof *ref) : NULL;
        if (s == NF_OK && !ref)
            s = bench_error(err, NF_ERR_NOMEM, "out of memory");
        if (s == NF_OK)
            s = nf_tensor_to_f64(&w, ref, err);
        double max_abs = 0;
        for (int64_t k = 0; s == NF_OK && k < nf_tensor_numel(&w); k++)
            if (isfinite(ref[k]) && fabs(ref[k]) > max_abs)
                max_abs = fabs(ref[k]);
        nf_compare_result res;
        if (s == NF_OK)
            s = nf_tensor_compare(&h, &w, nf_graph_tolerance(g, i, max_abs), &res, err);
        if (s == NF_OK) {
            if (res.n_mismatch) {
                pass = false;
                fprintf(stderr, "check: output %d: %lld mismatches, first at sampled element %lld: got %g, want %g\n",
                        i, (long long)res.n_mismatch, (long long)res.first_mismatch, res.first_got, res.first_want);
            }
            if (res.max_rel_err > worst_rel)
                worst_rel = res.max_rel_err;
        }
        free(ref);
        free(w.data);
        free(h.data);
    }
    if (s == NF_OK)
        snprintf(verdict, len, "%s (max rel err %.2g)", pass ? "PASS" : "FAIL", worst_rel);
    return s;
}

/* "-" where the device cannot say (no graphs on the host) */
static void format_us(double us, char *buf, size_t n)
{
    if (isnan(us))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2f", us);
}

static void format_shape(const nf_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? "x" : "", (long long)t->shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static nf_status bench_case(const bench_opts *o, bench_clock *c, const nf_graph *g, const chain *ch,
                            int64_t elements, double ref_tbps, FILE *csv, bool *failed, nf_error *err)
{
    int64_t rows = elements / ch->inner > 0 ? elements / ch->inner : 1;
    nf_bindings b = {.n = 1, .names = {"N"}, .sizes = {rows}};
    bench_tensors in = {0}, out_u = {0}, out_f = {0};
    nf_status s = bench_alloc_params(g, &b, o->device, &in, err);
    if (s == NF_OK)
        s = bench_alloc_outputs(g, &b, o->device, &out_u, err);
    if (s == NF_OK)
        s = bench_alloc_outputs(g, &b, o->device, &out_f, err);
    for (int i = 0; i < in.n && s == NF_OK; i++)
        s = bench_fill_random(&in.t[i], o->seed + (uint64_t)i * 7919, err);
    for (int i = 0; i < out_f.n && s == NF_OK; i++) {
        s = bench_poison_ends(&out_u.t[i], CHECK_SAMPLE, err);
        if (s == NF_OK)
            s = bench_poison_ends(&out_f.t[i], CHECK_SAMPLE, err);
    }
    variant vs[2] = {{.label = "unfused", .unfused = true}, {.label = "fused"}};
    for (int i = 0; i < 2 && s == NF_OK; i++)
        s = compile_and_time(o, c, g, &in, i ? &out_f : &out_u, &vs[i], err);
    char verdict[128] = "not checked";
    if (s == NF_OK && o->check)
        s = check_outputs(g, &out_u, &out_f, verdict, sizeof verdict, err);
    if (s == NF_OK) {
        int64_t bytes = bench_tensors_bytes(&in) + bench_tensors_bytes(&out_f);
        char shape[64];
        format_shape(&in.t[0], shape, sizeof shape);
        for (int i = 1; i >= 0; i--) {
            const variant *v = &vs[i];
            double us = best_us(&v->t), bw = tbps(bytes, us);
            char graph[32], replay[32];
            format_us(v->t.graph_us, graph, sizeof graph);
            format_us(v->t.replay_us, replay, sizeof replay);
            printf("%-21s %-13s %8.1f %-7s %3d %10s %10s %10.2f %6.2f %6.1f%% %8.1f\n", i ? ch->name : "",
                   i ? shape : "", (double)bytes / 1e6, v->label, v->stats.kernels, graph, replay, v->t.plain_us, bw,
                   100 * bw / ref_tbps, v->first_ms);
            csv_row(csv, ch->name, rows * ch->inner, bytes, v->label, v->stats.kernels, &v->t);
        }
        printf("%-21s fused is %.2fx the speed of unfused; fused vs unfused outputs: %s\n", "",
               best_us(&vs[0].t) / best_us(&vs[1].t), verdict);
        *failed = *failed || strncmp(verdict, "FAIL", 4) == 0;
        fflush(stdout);
    }
    bench_tensors_free(&in);
    bench_tensors_free(&out_u);
    bench_tensors_free(&out_f);
    return s;
}

int bench_elementwise(const bench_opts *o)
{
    bool known = !o->chain;
    for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++)
        known = known || strcmp(o->chain, chains[i].name) == 0;
    if (!known) {
        fprintf(stderr, "nsafuse-bench elementwise: no chain named %s\n", o->chain);
        return 1;
    }
    nf_error err = {0};
    bench_clock c;
    nf_status s = bench_clock_open(o->device, &c, &err);
    if (s != NF_OK)
        return bench_report("elementwise", &err);
    FILE *csv = NULL;
    if (o->csv_path && !(csv = fopen(o->csv_path, "w"))) {
        bench_clock_close(&c);
        fprintf(stderr, "nsafuse-bench elementwise: cannot write %s\n", o->csv_path);
        return 2;
    }
    if (csv)
        fprintf(csv, "tool,chain,elements,bytes,variant,kernels,graph_us,replay_us,plain_us\n");
    char device[256] = "host CPU";
    if (c.ops)
        c.ops->device_name(device, sizeof device, &err);
    printf("nsafuse-bench elementwise on %s (target %s); times in us per call; graph = inside a graph of %d "
           "calls\n\n",
           device, o->target, o->graph_calls);
    double ref_tbps = NAN;
    s = copy_bandwidth(o, &c, csv, &ref_tbps, &err);
    bool failed = false;
    if (s == NF_OK)
        printf("%-21s %-13s %8s %-7s %3s %10s %10s %10s %6s %7s %8s\n", "chain", "shape", "MB", "variant", "kn",
               "graph", "replay", "plain", "TB/s", "% copy", "1st ms");
    for (size_t i = 0; i < sizeof chains / sizeof chains[0] && s == NF_OK; i++) {
        const chain *ch = &chains[i];
        if (o->chain && strcmp(o->chain, ch->name) != 0)
            continue;
        char file[128];
        snprintf(file, sizeof file, "%s.nf", ch->name);
        nf_graph *g = bench_load_graph(o, file, &err);
        if (!g) {
            s = err.status;
            break;
        }
        const int64_t *sizes = o->n_sizes ? o->sizes : ch->sizes;
        int n = o->n_sizes;
        if (!n)
            while (n < 8 && sizes[n])
                n++;
        for (int k = 0; k < n && s == NF_OK; k++)
            s = bench_case(o, &c, g, ch, sizes[k], ref_tbps, csv, &failed, &err);
        nf_graph_free(g);
    }
    if (csv)
        fclose(csv);
    bench_clock_close(&c);
    if (s != NF_OK)
        return bench_report("elementwise", &err);
    printf("\nTB/s: (input + output bytes) / time in a graph; %% copy: of the driver memcpy's TB/s above; "
           "1st ms: the first call (compile + load + run)\n");
    return failed ? 1 : 0;
}
