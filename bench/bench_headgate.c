/* nsafuse-bench headgate: the NSA indexer's head gate (ANCHORS.md,
 * examples/nsa/logits_head_gate.nf) in its three forms, fused and unfused,
 * at T = 1 .. 16384 tokens. Per case: the three times (per call inside a
 * graph of 50 calls, one call per replay, plain launches), the host cost of
 * one nf_kernel_run, kernel counts, the bandwidth floor (bytes that must
 * move / the driver memcpy's bandwidth measured in the same run) and the
 * relative error against the exact float64 math. Up to T = 128 both outputs
 * are also checked against nf_interpret within nf_graph_tolerance, so that a
 * wrong kernel is never reported as a fast one. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef NF_BENCH_EXAMPLES
#define NF_BENCH_EXAMPLES "examples/nsa"
#endif

enum {
    HG_K = 7168,        /* hidden size */
    HG_N = 64,          /* heads */
    CHECK_MAX_T = 128,  /* interpreter check up to this T */
    REF_ALL_ROWS = 256, /* float64 reference on every row up to this T, else on the ends */
    REF_END_ROWS = 128, /* rows at each end otherwise */
    HOST_CALLS = 1000,  /* nf_kernel_run calls timed for the host cost */
    DRAIN_EVERY = 256,  /* calls between (untimed) waits, so the launch queue never fills */
};
#define N_HEADS_SCALE 0.125              /* n_heads ** -0.5 */
#define SOFTMAX_SCALE 0.08838834764831845 /* head_dim ** -0.5 */
#define MAX_REL_ERR 1e-2                 /* above this vs float64 a result is wrong, whatever the form */

static const int64_t default_sizes[] = {1, 8, 32, 128, 512, 2048, 8192, 16384};

typedef struct form {
    const char *graph; /* name in logits_head_gate.nf */
    const char *label; /* in the output and the CSV: the graph, or a variant of it */
    const char *alias; /* for --forms */
    const char *what;
    bool f32_weights;
    uint32_t constants; /* nf_compile_options.constant_inputs */
} form;

static const form forms[] = {
    {"logits_head_gate", "logits_head_gate", "bf16", "bf16-rounded: linear in bf16, then cast(f32)", false, 0},
    {"logits_head_gate_f32out", "logits_head_gate_f32out", "f32out",
     "f32-output: linear(out_dtype=f32), as sglang on NVIDIA", false, 0},
    {"logits_head_gate_f32w", "logits_head_gate_f32w", "f32w", "fp32 weights: cast(x, f32), fp32 linear", true, 0},
    {"logits_head_gate_f32w", "logits_head_gate_f32w_const", "f32w-const",
     "fp32 weights declared constant: their bf16 terms made once (constant_inputs)", true, 1u << 1},
};
enum { N_FORMS = sizeof forms / sizeof forms[0] };

/* The targets, per call in a graph of 50 (us); 0: none. The
 * fp32-weight form has its own at T = 16384: 95 us. */
static double target_us(int64_t t, bool f32_weights)
{
    if (f32_weights && t > 8192 && t <= 16384)
        return 95.0;
    static const struct {
        int64_t max_t;
        double us;
    } targets[] = {{8, 1.8}, {32, 2.5}, {128, 3.0}, {512, 4.5}, {2048, 11.0}, {8192, 43.0}, {16384, 83.0}};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (t <= targets[i].max_t)
            return targets[i].us;
    return 0;
}

/* Inputs for the largest T, on the host (for the references) and on the
 * device; a case of T tokens views the first T rows. */
typedef struct hg_inputs {
    int64_t t_max;
    nf_tensor x, w16, w32, q; /* host */
    void *x_dev, *w16_dev, *w32_dev, *q_dev;
    double *w16_f64, *w32_f64; /* [HG_N * HG_K] */
    nf_device_kind device;
} hg_inputs;

typedef struct run_ctx {
    nf_kernel *k;
    nf_tensor in[3];
    nf_tensor out;
} run_ctx;

typedef struct variant {
    const char *label;
    bool unfused;
    nf_kernel_stats stats;
    double first_ms, host_us, rel_err;
    bench_times t;
    nf_tensor out_host; /* the whole output, read back */
    bool unstable;      /* the output after the timed calls differs from the first call's */
    const char *check;  /* "PASS", "FAIL", "-" */
} variant;

static nf_status run_once(void *ctx, void *stream, nf_error *err)
{
    run_ctx *r = ctx;
    return nf_kernel_run(r->k, r->in, 3, &r->out, 1, stream, err);
}

static nf_tensor view(void *data, nf_dtype dtype, nf_device_kind device, int rank, int64_t d0, int64_t d1,
                      int64_t d2)
{
    int64_t shape[3] = {d0, d1, d2};
    nf_tensor t;
    nf_tensor_init(&t, data, dtype, rank, shape);
    t.device = device;
    return t;
}

static size_t tensor_bytes(const nf_tensor *t) { return (size_t)nf_tensor_numel(t) * nf_dtype_size(t->dtype); }

/* ---- inputs ---------------------------------------------------------------- */

static void inputs_free(hg_inputs *in)
{
    free(in->x.data);
    free(in->w16.data);
    free(in->w32.data);
    free(in->q.data);
    nf_device_free(in->device, in->x_dev);
    nf_device_free(in->device, in->w16_dev);
    nf_device_free(in->device, in->w32_dev);
    nf_device_free(in->device, in->q_dev);
    free(in->w16_f64);
    free(in->w32_f64);
    memset(in, 0, sizeof *in);
}

static nf_status host_random(nf_tensor *t, nf_dtype dtype, int rank, int64_t d0, int64_t d1, int64_t d2,
                             uint64_t seed, nf_error *err)
{
    *t = view(NULL, dtype, NF_DEVICE_HOST, rank, d0, d1, d2);
    t->data = malloc(tensor_bytes(t));
    if (!t->data)
        return bench_error(err, NF_ERR_NOMEM, "out of memory for %zu host bytes", tensor_bytes(t));
    return nf_tensor_fill_random(t, seed, err);
}

static nf_status upload(const nf_tensor *host, nf_device_kind device, void **dev, nf_error *err)
{
    nf_status s = nf_device_alloc(device, tensor_bytes(host), dev, err);
    if (s == NF_OK)
        s = nf_device_copy(*dev, device, host->data, NF_DEVICE_HOST, tensor_bytes(host), err);
    return s;
}

static nf_status weights_f64(const nf_tensor *w, double **out, nf_error *err)
{
    *out = malloc((size_t)HG_N * HG_K * sizeof **out);
    if (!*out)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    return nf_tensor_to_f64(w, *out, err);
}

static nf_status inputs_make(const bench_opts *o, int64_t t_max, hg_inputs *in, nf_error *err)
{
    memset(in, 0, sizeof *in);
    in->t_max = t_max;
    in->device = o->device;
    double t0 = bench_now_s();
    nf_status s = host_random(&in->x, NF_BF16, 2, t_max, HG_K, 1, o->seed, err);
    if (s == NF_OK)
        s = host_random(&in->w16, NF_BF16, 2, HG_N, HG_K, 1, o->seed + 7919, err);
    if (s == NF_OK)
        s = host_random(&in->w32, NF_F32, 2, HG_N, HG_K, 1, o->seed + 7919, err);
    if (s == NF_OK)
        s = host_random(&in->q, NF_F32, 3, t_max, HG_N, 1, o->seed + 2 * 7919, err);
    if (s == NF_OK)
        s = upload(&in->x, o->device, &in->x_dev, err);
    if (s == NF_OK)
        s = upload(&in->w16, o->device, &in->w16_dev, err);
    if (s == NF_OK)
        s = upload(&in->w32, o->device, &in->w32_dev, err);
    if (s == NF_OK)
        s = upload(&in->q, o->device, &in->q_dev, err);
    if (s == NF_OK)
        s = weights_f64(&in->w16, &in->w16_f64, err);
    if (s == NF_OK)
        s = weights_f64(&in->w32, &in->w32_f64, err);
    if (s == NF_OK)
        printf("inputs (seed %llu): x bf16[%lld, %d], W bf16 and f32 [%d, %d], q_scale f32[%lld, %d, 1], "
               "made and uploaded in %.1f s; a case of T tokens uses the first T rows\n",
               (unsigned long long)o->seed, (long long)t_max, HG_K, HG_N, HG_K, (long long)t_max, HG_N,
               bench_now_s() - t0);
    if (s != NF_OK)
        inputs_free(in);
    return s;
}

/* The case's inputs (x, W, q_scale) for T tokens: device (dev) or host. */
static void case_inputs(const hg_inputs *in, const form *f, int64_t t, bool dev, nf_tensor out[3])
{
    nf_device_kind d = dev ? in->device : NF_DEVICE_HOST;
    const nf_tensor *w = f->f32_weights ? &in->w32 : &in->w16;
    void *w_data = dev ? (f->f32_weights ? in->w32_dev : in->w16_dev) : w->data;
    out[0] = view(dev ? in->x_dev : in->x.data, NF_BF16, d, 2, t, HG_K, 1);
    out[1] = view(w_data, w->dtype, d, 2, HG_N, HG_K, 1);
    out[2] = view(dev ? in->q_dev : in->q.data, NF_F32, d, 3, t, HG_N, 1);
}

/* ---- checks ---------------------------------------------------------------- */

/* The exact float64 math (no bf16 rounding of the GEMM, whatever the form)
 * on the reference rows: every row up to REF_ALL_ROWS, else REF_END_ROWS at
 * each end. Computed once per case, compared with both variants. */
typedef struct hg_ref {
    int64_t n_rows, *rows;
    double *ref; /* [n_rows * HG_N] */
    double max_abs;
} hg_ref;

static void ref_free(hg_ref *r)
{
    free(r->rows);
    free(r->ref);
    memset(r, 0, sizeof *r);
}

static nf_status ref_make(const hg_inputs *in, const form *f, int64_t t, hg_ref *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_rows = t <= REF_ALL_ROWS ? t : 2 * REF_END_ROWS;
    out->rows = malloc((size_t)out->n_rows * sizeof *out->rows);
    out->ref = malloc((size_t)out->n_rows * HG_N * sizeof *out->ref);
    double *xrow = malloc(HG_K * sizeof *xrow);
    nf_status s = out->rows && out->ref && xrow ? NF_OK : bench_error(err, NF_ERR_NOMEM, "out of memory");
    const double *w = f->f32_weights ? in->w32_f64 : in->w16_f64;
    const float *q = in->q.data;
    for (int64_t i = 0; i < out->n_rows && s == NF_OK; i++) {
        int64_t r = t <= REF_ALL_ROWS || i < REF_END_ROWS ? i : t - 2 * REF_END_ROWS + i;
        out->rows[i] = r;
        nf_tensor row = view((char *)in->x.data + (size_t)r * HG_K * 2, NF_BF16, NF_DEVICE_HOST, 1, HG_K, 1, 1);
        s = nf_tensor_to_f64(&row, xrow, err);
        for (int h = 0; h < HG_N && s == NF_OK; h++) {
            double dot = 0;
            const double *wh = w + (size_t)h * HG_K;
            for (int k = 0; k < HG_K; k++)
                dot += xrow[k] * wh[k];
            double v = dot * N_HEADS_SCALE * (double)q[r * HG_N + h] * SOFTMAX_SCALE;
            out->ref[i * HG_N + h] = v;
            if (fabs(v) > out->max_abs)
                out->max_abs = fabs(v);
        }
    }
    free(xrow);
    if (s != NF_OK)
        ref_free(out);
    return s;
}

/* max |got - ref| / max |ref| over the reference rows; NaN counts as
 * infinitely wrong. */
static nf_status rel_error_vs_f64(const hg_ref *ref, const nf_tensor *got, double *rel, nf_error *err)
{
    double *g = malloc((size_t)nf_tensor_numel(got) * sizeof *g);
    nf_status s = g ? nf_tensor_to_f64(got, g, err) : bench_error(err, NF_ERR_NOMEM, "out of memory");
    double max_diff = 0;
    for (int64_t i = 0; i < ref->n_rows && s == NF_OK; i++)
        for (int h = 0; h < HG_N; h++) {
            double diff = fabs(g[ref->rows[i] * HG_N + h] - ref->ref[i * HG_N + h]);
            if (!(diff <= max_diff))
                max_diff = isnan(diff) ? INFINITY : diff;
        }
    if (s == NF_OK)
        *rel = max_diff / ref->max_abs;
    free(g);
    return s;
}

/* The interpreter's output on the host for T tokens: free ->data. */
static nf_status interpret(const nf_graph *g, const hg_inputs *in, const form *f, int64_t t, nf_tensor *want,
                           nf_error *err)
{
    nf_tensor host_in[3];
    case_inputs(in, f, t, false, host_in);
    *want = view(NULL, NF_F32, NF_DEVICE_HOST, 3, t, HG_N, 1);
    want->data = malloc(tensor_bytes(want));
    if (!want->data)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    nf_status s = nf_tensor_fill_poison(want, err);
    if (s == NF_OK)
        s = nf_interpret(g, host_in, 3, want, 1, err);
    return s;
}

static nf_status check_vs_interpreter(const nf_graph *g, const nf_tensor *want, variant *v, nf_error *err)
{
    double *ref = malloc((size_t)nf_tensor_numel(want) * sizeof *ref);
    if (!ref)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    nf_status s = nf_tensor_to_f64(want, ref, err);
    double max_abs = 0;
    for (int64_t i = 0; s == NF_OK && i < nf_tensor_numel(want); i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > max_abs)
            max_abs = fabs(ref[i]);
    free(ref);
    nf_compare_result res;
    if (s == NF_OK)
        s = nf_tensor_compare(&v->out_host, want, nf_graph_tolerance(g, 0, max_abs), &res, err);
    if (s == NF_OK) {
        v->check = res.n_mismatch ? "FAIL" : "PASS";
        if (res.n_mismatch)
            fprintf(stderr,
                    "check: %s vs nf_interpret: %lld mismatches, first at element %lld (row %lld, head %lld): got %g, "
                    "want %g\n",
                    v->label, (long long)res.n_mismatch, (long long)res.first_mismatch,
                    (long long)(res.first_mismatch / HG_N), (long long)(res.first_mismatch % HG_N), res.first_got,
                    res.first_want);
    }
    return s;
}

/* ---- timing ---------------------------------------------------------------- */

/* Median host time of one nf_kernel_run (no synchronization in the timed
 * region), as `nsafuse-bench launch` measures it. NAN on the host target,
 * where the call runs the kernel. */
static nf_status host_cost(bench_clock *c, run_ctx *r, double *median_us, nf_error *err)
{
    *median_us = NAN;
    if (!c->ops)
        return NF_OK;
    double *dt = malloc(HOST_CALLS * sizeof *dt);
    if (!dt)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    nf_status s = NF_OK;
    for (int i = 0; i < HOST_CALLS && s == NF_OK; i++) {
        if (i % DRAIN_EVERY == 0)
            s = c->ops->stream_synchronize(c->stream, err);
        double t0 = bench_now_s();
        if (s == NF_OK)
            s = run_once(r, c->stream, err);
        dt[i] = 1e6 * (bench_now_s() - t0);
    }
    if (s == NF_OK)
        s = c->ops->stream_synchronize(c->stream, err);
    if (s == NF_OK)
        *median_us = bench_quantile(dt, HOST_CALLS, 0.5);
    free(dt);
    return s;
}

static nf_status read_back(const nf_tensor *dev, nf_tensor *host, nf_error *err)
{
    *host = view(NULL, dev->dtype, NF_DEVICE_HOST, dev->rank, dev->shape[0], dev->shape[1], dev->shape[2]);
    host->data = malloc(tensor_bytes(dev));
    if (!host->data)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    return nf_device_copy(host->data, NF_DEVICE_HOST, dev->data, dev->device, tensor_bytes(dev), err);
}

/* Whether the output after the timed calls is bit for bit the first
 * call's: the kernels are deterministic, and a later launch (its split-K
 * counters some launches further on) must compute the same. */
static nf_status same_as_first(const nf_tensor *dev, const nf_tensor *first, bool *same, nf_error *err)
{
    nf_tensor now;
    nf_status s = read_back(dev, &now, err);
    *same = s == NF_OK && memcmp(now.data, first->data, tensor_bytes(dev)) == 0;
    free(now.data);
    return s;
}

/* Compiles, runs once on poisoned output (the first call: compile + load +
 * run), reads the output back, then times. */
static nf_status compile_and_time(const bench_opts *o, bench_clock *c, const nf_graph *g, const hg_inputs *in,
                                  const form *f, int64_t t, variant *v, nf_error *err)
{
    nf_compile_options co;
    nf_compile_options_init(&co);
    co.target = o->target;
    co.unfused = v->unfused;
    co.constant_inputs = f->constants;
    run_ctx r = {0};
    case_inputs(in, f, t, true, r.in);
    r.out = view(NULL, NF_F32, o->device, 3, t, HG_N, 1);
    nf_status s = nf_device_alloc(o->device, tensor_bytes(&r.out), &r.out.data, err);
    if (s == NF_OK)
        s = bench_poison_ends(&r.out, nf_tensor_numel(&r.out), err);
    if (s == NF_OK)
        s = nf_compile(g, &co, &r.k, err);
    double t0 = bench_now_s();
    if (s == NF_OK)
        s = run_once(&r, c->stream, err);
    if (s == NF_OK)
        s = nf_device_synchronize(o->device, err);
    v->first_ms = 1e3 * (bench_now_s() - t0);
    if (s == NF_OK)
        s = read_back(&r.out, &v->out_host, err);
    if (s == NF_OK)
        s = bench_time_call(c, run_once, &r, o->graph_calls, &v->t, err);
    if (s == NF_OK)
        s = host_cost(c, &r, &v->host_us, err);
    if (s == NF_OK)
        s = nf_device_synchronize(o->device, err);
    bool same = true;
    if (s == NF_OK)
        s = same_as_first(&r.out, &v->out_host, &same, err);
    v->unstable = !same;
    if (r.k)
        nf_kernel_get_stats(r.k, &v->stats);
    nf_kernel_free(r.k);
    nf_device_free(o->device, r.out.data);
    return s;
}

/* ---- one case ---------------------------------------------------------------- */

static int64_t floor_bytes(const form *f, int64_t t)
{
    return t * HG_K * 2 + (int64_t)HG_N * HG_K * (f->f32_weights ? 4 : 2) + 2 * t * HG_N * 4;
}

static double best_us(const bench_times *t) { return isnan(t->graph_us) ? t->plain_us : t->graph_us; }

static void format_us(double us, char *buf, size_t n)
{
    if (isnan(us))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2f", us);
}

static void csv_row(FILE *csv, const char *name, int64_t t, int64_t bytes, const variant *v)
{
    if (csv)
        fprintf(csv, "nsafuse,%s,%lld,%lld,%s,%d,%.3f,%.3f,%.3f,%.3f,%.3g,%s\n", name, (long long)t, (long long)bytes,
                v->label, v->stats.kernels, v->t.graph_us, v->t.replay_us, v->t.plain_us, v->host_us, v->rel_err,
                v->check);
}

/* The fused line carries T, the floor and the target; the unfused one follows. */
static void print_case(int64_t t, bool f32_weights, double floor_us, const variant vs[2])
{
    for (int i = 1; i >= 0; i--) {
        const variant *v = &vs[i];
        char tt[32] = "", fl[32] = "", graph[32], replay[32], host[32], target[48] = "";
        format_us(v->t.graph_us, graph, sizeof graph);
        format_us(v->t.replay_us, replay, sizeof replay);
        format_us(v->host_us, host, sizeof host);
        double goal = target_us(t, f32_weights);
        if (i == 1) {
            snprintf(tt, sizeof tt, "%lld", (long long)t);
            snprintf(fl, sizeof fl, "%.2f", floor_us);
            if (goal > 0)
                snprintf(target, sizeof target, "%5.1f %s", goal, best_us(&v->t) <= goal ? "met" : "MISSED");
        }
        char first[32];
        snprintf(first, sizeof first, "%.1f (%.0f+%.0f)", v->first_ms, v->stats.last_llvm_ms, v->stats.last_driver_ms);
        printf("%6s %7s %-8s %3d %9s %9s %9.2f %7s %7.2f %10.2g %-5s %17s  %s\n", tt, fl, v->label,
               v->stats.kernels, graph, replay, v->t.plain_us, host, best_us(&v->t) / floor_us, v->rel_err, v->check,
               first, target);
    }
}

static nf_status bench_case(const bench_opts *o, bench_clock *c, const nf_graph *g, const hg_inputs *in,
                            const form *f, int64_t t, double ref_tbps, FILE *csv, bool *failed, nf_error *err)
{
    variant vs[2] = {{.label = "unfused", .unfused = true, .check = "f64"}, {.label = "fused", .check = "f64"}};
    hg_ref ref = {0};
    nf_status s = ref_make(in, f, t, &ref, err);
    for (int i = 0; i < 2 && s == NF_OK; i++) {
        vs[i].rel_err = NAN;
        s = compile_and_time(o, c, g, in, f, t, &vs[i], err);
        if (s == NF_OK)
            s = rel_error_vs_f64(&ref, &vs[i].out_host, &vs[i].rel_err, err);
    }
    nf_tensor want = {0};
    if (s == NF_OK && t <= CHECK_MAX_T)
        s = interpret(g, in, f, t, &want, err);
    for (int i = 0; i < 2 && s == NF_OK && t <= CHECK_MAX_T; i++)
        s = check_vs_interpreter(g, &want, &vs[i], err);
    if (s == NF_OK) {
        int64_t bytes = floor_bytes(f, t);
        double floor_us = (double)bytes / (ref_tbps * 1e6);
        for (int i = 0; i < 2; i++) {
            if (!(vs[i].rel_err <= MAX_REL_ERR)) {
                vs[i].check = "FAIL";
                fprintf(stderr, "check: %s T=%lld %s: relative error vs float64 %.3g is above %g\n", f->label,
                        (long long)t, vs[i].label, vs[i].rel_err, MAX_REL_ERR);
            }
            if (vs[i].unstable) {
                vs[i].check = "FAIL";
                fprintf(stderr, "check: %s T=%lld %s: the output after the timed calls differs from the first call's\n",
                        f->label, (long long)t, vs[i].label);
            }
            *failed = *failed || strcmp(vs[i].check, "FAIL") == 0;
        }
        print_case(t, f->f32_weights, floor_us, vs);
        for (int i = 1; i >= 0; i--)
            csv_row(csv, f->label, t, bytes, &vs[i]);
        if (csv)
            fflush(csv);
    }
    free(want.data);
    ref_free(&ref);
    for (int i = 0; i < 2; i++)
        free(vs[i].out_host.data);
    return s;
}

/* ---- the subcommand ---------------------------------------------------------- */

static bool form_selected(const bench_opts *o, const form *f)
{
    if (!o->forms)
        return true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o->forms);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (strcmp(tok, f->label) == 0 || strcmp(tok, f->alias) == 0)
            return true;
    return false;
}

static nf_graph *load_form(const form *f, nf_error *err)
{
    char path[4096];
    const char *root = getenv("NF_SOURCE_ROOT");
    if (root && *root)
        snprintf(path, sizeof path, "%s/examples/nsa/logits_head_gate.nf", root);
    else
        snprintf(path, sizeof path, "%s/logits_head_gate.nf", NF_BENCH_EXAMPLES);
    size_t len = 0;
    char *text = bench_read_file(path, &len, err);
    if (!text)
        return NULL;
    nf_graph *g = nf_graph_parse(text, len, path, f->graph, err);
    free(text);
    return g;
}

/* The driver's device-to-device memcpy of o->copy_elements f32: read +
 * written bytes / time, in TB/s (the floor's bandwidth). */
static nf_status copy_bandwidth(const bench_opts *o, bench_clock *c, FILE *csv, double *tbps, nf_error *err)
{
    size_t bytes = (size_t)o->copy_elements * 4;
    void *src = NULL, *dst = NULL;
    double us = 0;
    nf_status s = nf_device_alloc(o->device, bytes, &src, err);
    if (s == NF_OK)
        s = nf_device_alloc(o->device, bytes, &dst, err);
    if (s == NF_OK)
        s = bench_time_memcpy(c, dst, src, bytes, &us, err);
    nf_device_free(o->device, src);
    nf_device_free(o->device, dst);
    if (s != NF_OK)
        return s;
    *tbps = 2.0 * (double)bytes / (us * 1e6);
    char size[32];
    bench_format_size(o->copy_elements, size, sizeof size);
    printf("copy bandwidth: driver memcpy device to device of %s f32 (%.0f MB read + written): %.1f us, %.2f TB/s\n"
           "floor = bytes that must move (x, W, q_scale, out) / %.2f TB/s\n",
           size, 2.0 * (double)bytes / 1e6, us, *tbps, *tbps);
    if (csv)
        fprintf(csv, "nsafuse,copy,%lld,%lld,memcpy,0,nan,nan,%.3f,nan,nan,-\n", (long long)o->copy_elements,
                (long long)(2 * bytes), us);
    return NF_OK;
}

int bench_headgate(const bench_opts *o)
{
    const int64_t *sizes = o->n_sizes ? o->sizes : default_sizes;
    int n_sizes = o->n_sizes ? o->n_sizes : (int)(sizeof default_sizes / sizeof default_sizes[0]);
    int64_t t_max = 0;
    for (int i = 0; i < n_sizes; i++)
        t_max = sizes[i] > t_max ? sizes[i] : t_max;
    int n_selected = 0;
    for (int i = 0; i < N_FORMS; i++)
        n_selected += form_selected(o, &forms[i]);
    if (!n_selected) {
        fprintf(stderr, "nsafuse-bench headgate: no form named in --forms %s (bf16, f32out, f32w, f32w-const or the labels)\n",
                o->forms);
        return 1;
    }
    char cache_dir[4096]; /* "1st ms" is a cold compile: LLVM, the driver's PTX compile, the load */
    if (!bench_cold_caches("headgate", cache_dir, sizeof cache_dir))
        return 2;
    nf_error err = {0};
    bench_clock c;
    nf_status s = bench_clock_open(o->device, &c, &err);
    if (s != NF_OK) {
        bench_drop_cache_dir("headgate", cache_dir);
        return bench_report("headgate", &err);
    }
    FILE *csv = NULL;
    if (o->csv_path && !(csv = fopen(o->csv_path, "w"))) {
        bench_clock_close(&c);
        bench_drop_cache_dir("headgate", cache_dir);
        fprintf(stderr, "nsafuse-bench headgate: cannot write %s\n", o->csv_path);
        return 2;
    }
    if (csv)
        fprintf(csv, "tool,chain,elements,bytes,variant,kernels,graph_us,replay_us,plain_us,host_us,rel_err,check\n");
    char device[256] = "host CPU";
    if (c.ops)
        c.ops->device_name(device, sizeof device, &err);
    printf("nsafuse-bench headgate on %s (target %s); times in us per call; graph = per call inside a graph of %d "
           "calls\n",
           device, o->target, o->graph_calls);
    double ref_tbps = NAN;
    s = copy_bandwidth(o, &c, csv, &ref_tbps, &err);
    hg_inputs in = {0};
    if (s == NF_OK)
        s = inputs_make(o, t_max, &in, &err);
    bool failed = false;
    for (int fi = 0; fi < N_FORMS && s == NF_OK; fi++) {
        const form *f = &forms[fi];
        if (!form_selected(o, f))
            continue;
        nf_graph *g = load_form(f, &err);
        if (!g) {
            s = err.status;
            break;
        }
        printf("\n%s (%s)\n", f->label, f->what);
        printf("%6s %7s %-8s %3s %9s %9s %9s %7s %7s %10s %-5s %17s  %s\n", "T", "floor", "variant", "kn", "graph",
               "replay", "plain", "host", "x floor", "rel err", "check", "1st ms (LLVM+drv)", "target");
        for (int k = 0; k < n_sizes && s == NF_OK; k++) {
            s = bench_case(o, &c, g, &in, f, sizes[k], ref_tbps, csv, &failed, &err);
            if (s != NF_OK) { /* report and go on: the other cases' figures still count */
                fprintf(stderr, "nsafuse-bench headgate: %s T=%lld: %s: %s\n", f->label, (long long)sizes[k],
                        nf_status_name(err.status), err.message);
                failed = true;
                s = (err.status == NF_ERR_NO_DEVICE || err.status == NF_ERR_DRIVER) ? err.status : NF_OK;
            }
        }
        nf_graph_free(g);
    }
    inputs_free(&in);
    if (csv)
        fclose(csv);
    bench_clock_close(&c);
    bench_drop_cache_dir("headgate", cache_dir);
    if (s != NF_OK)
        return bench_report("headgate", &err);
    printf("\ngraph: per call inside a graph of %d calls (the figure that counts); replay: one call per graph replay; "
           "plain: back-to-back launches;\nhost: median host us of one nf_kernel_run; x floor: graph time / floor; "
           "rel err: max |got - ref| / max |ref| vs the exact float64 math (rows: all up to T = %d, else %d at each "
           "end);\ncheck: PASS = vs nf_interpret within nf_graph_tolerance (T <= %d) and rel err <= %g; f64 = the "
           "rel err bound only; 1st ms: the first call of the shape (LLVM, the driver's PTX compile and load, run; an "
           "empty disk cache and CUDA_CACHE_DISABLE=1), with LLVM's ms and the driver's (PTX compile, load) of it;\ntarget: the issue's, for fused in a graph\n",
           o->graph_calls, REF_ALL_ROWS, REF_END_ROWS, CHECK_MAX_T, MAX_REL_ERR);
    return failed ? 1 : 0;
}
