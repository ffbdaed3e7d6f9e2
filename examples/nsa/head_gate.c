/* head_gate: the NSA indexer's head gate (examples/nsa/logits_head_gate.nf),
 * written as a host program uses nsafuse's public C API (include/nsafuse.h):
 *
 *   1. build the graph with the builder (nf_graph_new, nf_param, nf_linear, ...),
 *   2. compile it twice for one target: fused, and unfused (every op its own
 *      kernel, the eager baseline),
 *   3. put inputs in device memory (nf_device_alloc, nf_device_copy),
 *   4. run both at each T on the default stream (nf_kernel_run), check the
 *      fused output against the unfused one within nf_graph_tolerance,
 *   5. report kernels launched (nf_kernel_get_stats) and time per call.
 *
 *   (linear(x, W).float() * n_heads ** -0.5).unsqueeze(-1) * q_scale * head_dim ** -0.5
 *
 * in its three forms: bf16-rounded (the GEMM result stored in bf16, then
 * cast to f32), f32-output (linear with out_dtype=f32) and fp32 weights
 * (x cast to f32, then an f32 GEMM), the last once more with the weight
 * declared constant (nf_compile_options.constant_inputs: on sm_90 its bf16
 * terms are made once instead of in every GEMM block). x: bf16[T, 7168], W: [64, 7168],
 * q_scale: f32[T, 64, 1]; T is symbolic, bound at each call.
 *
 *   head_gate [--target host|cuda|sm_80|sm_90|gfx90a|gfx942|gfx950]
 *             [--sizes 1,8,32,...] [--seed N] [--print-graphs]
 *
 * Exit status: 0 every check passed, 1 a failed check or a bad flag, 2 the
 * environment failed (no GPU, driver, compiler). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <nsafuse.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    HIDDEN = 7168, /* K of the GEMM */
    N_HEADS = 64,  /* N of the GEMM */
    MAX_SIZES = 64,
    MAX_TIMED_CALLS = 1 << 16,
};
#define MAX_T 1048576                       /* a sanity bound on --sizes */
#define N_HEADS_SCALE 0.125                 /* n_heads ** -0.5 */
#define SOFTMAX_SCALE 0.08838834764831845   /* head_dim ** -0.5, head_dim = 128 */
#define TIME_BUDGET_S 0.05                  /* wall clock aimed at per batch of calls */
#define TIME_REPEATS 3                      /* batches timed; the best counts */

static const int64_t gpu_sizes[] = {1, 8, 32, 128, 512, 2048, 8192, 16384};
/* The host CPU's GEMM takes seconds at T = 16384: small sizes only. */
static const int64_t host_sizes[] = {1, 8, 32, 128};

typedef enum form_kind { BF16_ROUNDED, F32_OUTPUT, F32_WEIGHTS, F32_WEIGHTS_CONSTANT, N_FORMS } form_kind;

static const struct form {
    const char *graph_name;
    const char *what;
    nf_dtype w_dtype;
    uint32_t constant_inputs; /* of the fused variant: bit 1, the weight */
} forms[N_FORMS] = {
    [BF16_ROUNDED] = {"logits_head_gate", "bf16-rounded: linear in bf16, then cast(f32)", NF_BF16, 0},
    [F32_OUTPUT] = {"logits_head_gate_f32out", "f32-output: linear(x, w, out_dtype=f32)", NF_BF16, 0},
    [F32_WEIGHTS] = {"logits_head_gate_f32w", "fp32 weights: cast(x, f32), then an f32 linear", NF_F32, 0},
    [F32_WEIGHTS_CONSTANT] = {"logits_head_gate_f32w_const", "fp32 weights declared constant: their bf16 terms made once",
                              NF_F32, 1u << 1},
};

typedef struct options {
    const char *target;
    nf_device_kind device;
    int64_t sizes[MAX_SIZES];
    int n_sizes;
    uint64_t seed;
    bool print_graphs;
} options;

/* ---- small helpers ----------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fills err as the library does, for this program's own failures. */
static nf_status fail(nf_error *err, nf_status status, const char *message)
{
    memset(err, 0, sizeof *err);
    err->status = status;
    snprintf(err->message, sizeof err->message, "%s", message);
    return status;
}

/* A contiguous tensor of rank 2 or 3 (d2 is ignored for rank 2). */
static nf_tensor tensor(void *data, nf_dtype dtype, nf_device_kind device, int rank, int64_t d0, int64_t d1,
                        int64_t d2)
{
    const int64_t shape[3] = {d0, d1, d2};
    nf_tensor t;
    nf_tensor_init(&t, data, dtype, rank, shape);
    t.device = device;
    return t;
}

static size_t tensor_bytes(const nf_tensor *t) { return (size_t)nf_tensor_numel(t) * nf_dtype_size(t->dtype); }

/* ---- 1. building the three forms ------------------------------------------- */

/* The builder is sticky: after a failure every call returns NULL, so the
 * whole chain is written out and checked once at the end. */
static nf_graph *build_head_gate(form_kind form, nf_error *err)
{
    nf_graph *g = nf_graph_new(forms[form].graph_name);
    if (!g) {
        fail(err, NF_ERR_NOMEM, "out of memory creating a graph");
        return NULL;
    }
    const nf_dim x_dims[2] = {{.sym = "T"}, {.size = HIDDEN}};
    const nf_dim w_dims[2] = {{.size = N_HEADS}, {.size = HIDDEN}};
    const nf_dim q_dims[3] = {{.sym = "T"}, {.size = N_HEADS}, {.size = 1}};
    nf_value *x = nf_param(g, "x", NF_BF16, 2, x_dims);
    nf_value *w = nf_param(g, "w", forms[form].w_dtype, 2, w_dims);
    nf_value *q_scale = nf_param(g, "q_scale", NF_F32, 3, q_dims);

    nf_value *y = NULL; /* f32[T, 64] */
    switch (form) {
    case BF16_ROUNDED: /* linear(x, w) is bf16[T, 64]: rounded to bf16 before the cast */
        y = nf_cast(g, nf_linear(g, x, w, NF_DTYPE_NONE), NF_F32);
        break;
    case F32_OUTPUT:
        y = nf_linear(g, x, w, NF_F32);
        break;
    case F32_WEIGHTS:
    case F32_WEIGHTS_CONSTANT:
    default:
        y = nf_linear(g, nf_cast(g, x, NF_F32), w, NF_DTYPE_NONE);
        break;
    }
    nf_value *scaled = nf_binary(g, NF_OP_MUL, y, nf_scalar(g, N_HEADS_SCALE));
    nf_value *gate = nf_binary(g, NF_OP_MUL, nf_unsqueeze(g, scaled, -1), q_scale);
    nf_value *out = nf_name(g, nf_binary(g, NF_OP_MUL, gate, nf_scalar(g, SOFTMAX_SCALE)), "o");
    nf_graph_return(g, 1, &out);

    const nf_error *e = nf_graph_error(g);
    if (e) {
        *err = *e;
        nf_graph_free(g);
        return NULL;
    }
    return g;
}

/* ---- 2. inputs in device memory -------------------------------------------- */

/* Random inputs for the largest T; a case of T tokens views the first T rows
 * of x and q_scale (row-major, so a prefix of the buffer). */
typedef struct inputs {
    nf_device_kind device;
    void *x, *w_bf16, *w_f32, *q_scale;
} inputs;

static void inputs_free(inputs *in)
{
    nf_device_free(in->device, in->x);
    nf_device_free(in->device, in->w_bf16);
    nf_device_free(in->device, in->w_f32);
    nf_device_free(in->device, in->q_scale);
    memset(in, 0, sizeof *in);
}

/* Fills a host tensor of t's shape with seeded random values and copies it
 * into a new device buffer *dev. */
static nf_status upload_random(nf_tensor t, uint64_t seed, void **dev, nf_error *err)
{
    size_t bytes = tensor_bytes(&t);
    nf_device_kind device = t.device;
    t.device = NF_DEVICE_HOST; /* filled on the host, then copied */
    t.data = malloc(bytes);
    if (!t.data)
        return fail(err, NF_ERR_NOMEM, "out of host memory for the inputs");
    nf_status s = nf_tensor_fill_random(&t, seed, err);
    if (s == NF_OK)
        s = nf_device_alloc(device, bytes, dev, err);
    if (s == NF_OK)
        s = nf_device_copy(*dev, device, t.data, NF_DEVICE_HOST, bytes, err);
    free(t.data);
    return s;
}

static nf_status inputs_make(const options *o, int64_t t_max, inputs *in, nf_error *err)
{
    memset(in, 0, sizeof *in);
    in->device = o->device;
    nf_device_kind d = o->device;
    nf_status s = upload_random(tensor(NULL, NF_BF16, d, 2, t_max, HIDDEN, 1), o->seed, &in->x, err);
    if (s == NF_OK)
        s = upload_random(tensor(NULL, NF_BF16, d, 2, N_HEADS, HIDDEN, 1), o->seed + 1, &in->w_bf16, err);
    if (s == NF_OK)
        s = upload_random(tensor(NULL, NF_F32, d, 2, N_HEADS, HIDDEN, 1), o->seed + 2, &in->w_f32, err);
    if (s == NF_OK)
        s = upload_random(tensor(NULL, NF_F32, d, 3, t_max, N_HEADS, 1), o->seed + 3, &in->q_scale, err);
    if (s != NF_OK)
        inputs_free(in);
    return s;
}

/* The three inputs of a case of T tokens, in the graph's parameter order. */
static void case_inputs(const inputs *in, form_kind form, int64_t t, nf_tensor out[3])
{
    nf_dtype w_dtype = forms[form].w_dtype;
    out[0] = tensor(in->x, NF_BF16, in->device, 2, t, HIDDEN, 1);
    out[1] = tensor(w_dtype == NF_F32 ? in->w_f32 : in->w_bf16, w_dtype, in->device, 2, N_HEADS, HIDDEN, 1);
    out[2] = tensor(in->q_scale, NF_F32, in->device, 3, t, N_HEADS, 1);
}

/* ---- 3. one run, one check, one timing -------------------------------------- */

/* What one compiled variant (fused or unfused) did at one T. */
typedef struct variant {
    nf_kernel *k;
    nf_tensor out;       /* on the device */
    nf_tensor out_host;  /* read back after the first call */
    nf_kernel_stats stats;
    double us_per_call;
} variant;

/* The first call at a new T generates code for that signature: it runs on a
 * NaN-poisoned output (so that an element no kernel wrote cannot pass the
 * check), and the result is read back to the host. */
static nf_status first_call(variant *v, const nf_tensor in[3], nf_device_kind device, nf_error *err)
{
    nf_status s = nf_tensor_fill_poison(&v->out_host, err);
    if (s == NF_OK)
        s = nf_device_copy(v->out.data, device, v->out_host.data, NF_DEVICE_HOST, tensor_bytes(&v->out), err);
    if (s == NF_OK)
        s = nf_kernel_run(v->k, in, 3, &v->out, 1, NULL, err);
    if (s == NF_OK)
        s = nf_device_synchronize(device, err);
    if (s == NF_OK)
        s = nf_device_copy(v->out_host.data, NF_DEVICE_HOST, v->out.data, device, tensor_bytes(&v->out), err);
    if (s == NF_OK)
        nf_kernel_get_stats(v->k, &v->stats);
    return s;
}

/* n back-to-back calls on the default stream, then one
 * nf_device_synchronize: wall-clock seconds. */
static nf_status run_calls(variant *v, const nf_tensor in[3], nf_device_kind device, int n, double *seconds,
                           nf_error *err)
{
    double t0 = now_s();
    nf_status s = NF_OK;
    for (int i = 0; i < n && s == NF_OK; i++)
        s = nf_kernel_run(v->k, in, 3, &v->out, 1, NULL, err);
    if (s == NF_OK)
        s = nf_device_synchronize(device, err);
    *seconds = now_s() - t0;
    return s;
}

/* Time per call: n doubles until n calls take TIME_BUDGET_S, then the best
 * of TIME_REPEATS batches of n (others share the machine). On a GPU this is
 * the rate of plain launches (launch cost included, no CUDA graph); on the
 * host each call runs the kernel. */
static nf_status time_calls(variant *v, const nf_tensor in[3], nf_device_kind device, nf_error *err)
{
    int n = 1;
    double dt = 0;
    for (;; n *= 2) {
        nf_status s = run_calls(v, in, device, n, &dt, err);
        if (s != NF_OK)
            return s;
        if (dt >= TIME_BUDGET_S || n >= MAX_TIMED_CALLS)
            break;
    }
    double best = dt;
    for (int r = 1; r < TIME_REPEATS; r++) {
        nf_status s = run_calls(v, in, device, n, &dt, err);
        if (s != NF_OK)
            return s;
        best = dt < best ? dt : best;
    }
    v->us_per_call = 1e6 * best / n;
    return NF_OK;
}

/* Fused vs unfused: each is within nf_graph_tolerance of the exact reference
 * (docs/FUSION.md), so the two are within twice that of each other. */
static nf_status check_fused(const nf_graph *g, const variant *fused, const variant *unfused, int64_t t,
                             uint64_t seed, bool *passed, double *max_err, nf_error *err)
{
    const float *want = unfused->out_host.data;
    int64_t n = nf_tensor_numel(&unfused->out_host), n_bad = 0;
    double max_abs = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(want[i]))
            n_bad++;
        else if (fabs(want[i]) > max_abs)
            max_abs = fabs(want[i]);
    }
    nf_tolerance tol = nf_graph_tolerance(g, 0, max_abs);
    tol.atol *= 2;
    tol.rtol *= 2;
    nf_compare_result res;
    nf_status s = nf_tensor_compare(&fused->out_host, &unfused->out_host, tol, &res, err);
    if (s != NF_OK)
        return s;
    *max_err = res.max_abs_err;
    *passed = res.n_mismatch == 0 && n_bad == 0;
    fflush(stdout); /* the table so far, before the complaint */
    if (n_bad)
        fprintf(stderr, "head_gate: %s T=%" PRId64 " (seed %" PRIu64 "): the unfused output has %" PRId64
                        " non-finite elements\n",
                nf_graph_name(g), t, seed, n_bad);
    if (res.n_mismatch)
        fprintf(stderr,
                "head_gate: %s T=%" PRId64 " (seed %" PRIu64 "): %" PRId64 " of %" PRId64
                " elements outside atol %.3g + rtol %.3g; first at [%" PRId64 ", %" PRId64 ", 0]: fused %.9g, "
                "unfused %.9g\n",
                nf_graph_name(g), t, seed, res.n_mismatch, n, tol.atol, tol.rtol, res.first_mismatch / N_HEADS,
                res.first_mismatch % N_HEADS, res.first_got, res.first_want);
    return NF_OK;
}

/* ---- 4. one form at every T ----------------------------------------------- */

static nf_status compile_variant(const nf_graph *g, const options *o, form_kind form, bool unfused, nf_kernel **k,
                                 nf_error *err)
{
    nf_compile_options co;
    nf_compile_options_init(&co);
    co.target = o->target;
    co.unfused = unfused;
    co.constant_inputs = unfused ? 0 : forms[form].constant_inputs;
    return nf_compile(g, &co, k, err);
}

/* Output buffers for the largest T on the device and on the host; a case
 * views the first T rows. */
static nf_status variant_alloc(variant *v, nf_device_kind device, int64_t t_max, nf_error *err)
{
    v->out = tensor(NULL, NF_F32, device, 3, t_max, N_HEADS, 1);
    v->out_host = tensor(NULL, NF_F32, NF_DEVICE_HOST, 3, t_max, N_HEADS, 1);
    v->out_host.data = malloc(tensor_bytes(&v->out_host));
    if (!v->out_host.data)
        return fail(err, NF_ERR_NOMEM, "out of host memory for the outputs");
    return nf_device_alloc(device, tensor_bytes(&v->out), &v->out.data, err);
}

static void variant_free(variant *v, nf_device_kind device)
{
    nf_kernel_free(v->k);
    nf_device_free(device, v->out.data);
    free(v->out_host.data);
    memset(v, 0, sizeof *v);
}

static void set_rows(variant *v, int64_t t)
{
    v->out.shape[0] = t;
    v->out_host.shape[0] = t;
}

static nf_status run_form(const options *o, form_kind form, const inputs *in, int64_t t_max, int *n_checks,
                          int *n_failed, nf_error *err)
{
    nf_graph *g = build_head_gate(form, err);
    if (!g)
        return err->status;
    printf("\n%s (%s)\n", forms[form].graph_name, forms[form].what);
    if (o->print_graphs) {
        char *text = nf_graph_print(g);
        if (text)
            printf("%s", text);
        free(text);
    }
    variant vs[2]; /* fused, unfused */
    memset(vs, 0, sizeof vs);
    nf_status s = NF_OK;
    for (int i = 0; i < 2 && s == NF_OK; i++) {
        s = compile_variant(g, o, form, i == 1, &vs[i].k, err);
        if (s == NF_OK)
            s = variant_alloc(&vs[i], o->device, t_max, err);
    }
    if (s == NF_OK)
        printf("%7s  %7s  %12s  %12s  %7s  %9s  %13s  %s\n", "T", "kernels", "fused us", "unfused us", "speedup",
               "1st ms", "max |f - u|", "check");
    for (int k = 0; k < o->n_sizes && s == NF_OK; k++) {
        int64_t t = o->sizes[k];
        nf_tensor x_w_q[3];
        case_inputs(in, form, t, x_w_q);
        for (int i = 0; i < 2 && s == NF_OK; i++) {
            set_rows(&vs[i], t);
            s = first_call(&vs[i], x_w_q, o->device, err);
        }
        bool passed = false;
        double max_err = NAN;
        if (s == NF_OK)
            s = check_fused(g, &vs[0], &vs[1], t, o->seed, &passed, &max_err, err);
        for (int i = 0; i < 2 && s == NF_OK; i++)
            s = time_calls(&vs[i], x_w_q, o->device, err);
        if (s != NF_OK)
            break;
        (*n_checks)++;
        *n_failed += !passed;
        char kernels[32];
        snprintf(kernels, sizeof kernels, "%d / %d", vs[0].stats.kernels, vs[1].stats.kernels);
        printf("%7" PRId64 "  %7s  %12.2f  %12.2f  %6.2fx  %9.1f  %13.3g  %s\n", t, kernels, vs[0].us_per_call,
               vs[1].us_per_call, vs[1].us_per_call / vs[0].us_per_call, vs[0].stats.last_compile_ms, max_err,
               passed ? "PASS" : "FAIL");
        fflush(stdout);
    }
    for (int i = 0; i < 2; i++)
        variant_free(&vs[i], o->device);
    nf_graph_free(g);
    return s;
}

/* ---- flags ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: head_gate [--target host|cuda|sm_80|sm_90|gfx90a|gfx942|gfx950] [--sizes 1,8,32,...]\n"
            "                 [--seed N] [--print-graphs]\n"
            "Builds the NSA head gate in three forms with nsafuse's C API (the fp32-weight one twice, the\n"
            "second with its weight declared constant), runs each fused and unfused at each T, checks\n"
            "fused against unfused, and prints kernels launched and time per call.\n"
            "Default target: cuda when a CUDA GPU is there, else host. Default sizes: %s.\n",
            "1,8,32,128,512,2048,8192,16384 on a GPU, 1,8,32,128 on the host");
}

static bool parse_sizes(const char *text, options *o)
{
    const char *p = text;
    o->n_sizes = 0;
    while (*p) {
        if (o->n_sizes == MAX_SIZES)
            return false;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || v > MAX_T || (*end != ',' && *end != '\0'))
            return false;
        o->sizes[o->n_sizes++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return o->n_sizes > 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_flags(int argc, char **argv, options *o, bool *sizes_given)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    *sizes_given = false;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(flag, "--print-graphs") == 0) {
            o->print_graphs = true;
            continue;
        }
        bool known = strcmp(flag, "--target") == 0 || strcmp(flag, "--sizes") == 0 || strcmp(flag, "--seed") == 0;
        if (!known) {
            fprintf(stderr, "head_gate: unknown flag '%s'\n", flag);
            usage(stderr);
            return 1;
        }
        if (!value) {
            fprintf(stderr, "head_gate: %s wants a value\n", flag);
            return 1;
        }
        i++;
        if (strcmp(flag, "--target") == 0) {
            o->target = value;
            if (!nf_target_device(value, &o->device)) {
                fprintf(stderr, "head_gate: unknown --target %s (host, cuda, sm_80, sm_90, gfx90a, gfx942, gfx950)\n",
                        value);
                return 1;
            }
        } else if (strcmp(flag, "--sizes") == 0) {
            *sizes_given = true;
            if (!parse_sizes(value, o)) {
                fprintf(stderr, "head_gate: --sizes wants up to %d comma-separated integers in 1..%d, got '%s'\n",
                        MAX_SIZES, MAX_T, value);
                return 1;
            }
        } else {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(value, &end, 10);
            if (end == value || *end || errno || value[0] == '-') {
                fprintf(stderr, "head_gate: --seed wants a non-negative integer, got '%s'\n", value);
                return 1;
            }
            o->seed = seed;
        }
    }
    return -1;
}

/* Without --target: cuda when the driver starts and finds a GPU, else the
 * host CPU, saying why. */
static void choose_default_target(options *o)
{
    nf_error probe = {0};
    if (nf_device_synchronize(NF_DEVICE_CUDA, &probe) == NF_OK) {
        o->target = "cuda";
        o->device = NF_DEVICE_CUDA;
        return;
    }
    o->target = "host";
    o->device = NF_DEVICE_HOST;
    printf("head_gate: no CUDA GPU (%s); running on the host CPU (--target host)\n", probe.message);
}

static int report_error(const char *what, const nf_error *err)
{
    fflush(stdout);
    fprintf(stderr, "head_gate: %s: %s: %s\n", what, nf_status_name(err->status), err->message);
    return nf_status_is_user_error(err->status) ? 1 : 2;
}

int main(int argc, char **argv)
{
    options o;
    bool sizes_given;
    int status = parse_flags(argc, argv, &o, &sizes_given);
    if (status >= 0)
        return status;
    if (!o.target)
        choose_default_target(&o);
    if (!sizes_given) {
        const int64_t *sizes = o.device == NF_DEVICE_HOST ? host_sizes : gpu_sizes;
        o.n_sizes = o.device == NF_DEVICE_HOST ? (int)(sizeof host_sizes / sizeof host_sizes[0])
                                               : (int)(sizeof gpu_sizes / sizeof gpu_sizes[0]);
        memcpy(o.sizes, sizes, (size_t)o.n_sizes * sizeof *sizes);
    }
    nf_error err = {0};
    /* An explicit GPU target without a GPU fails here, with the driver's reason. */
    char what[64];
    snprintf(what, sizeof what, "target %s", o.target);
    if (nf_device_synchronize(o.device, &err) != NF_OK)
        return report_error(what, &err);

    int64_t t_max = 0;
    for (int i = 0; i < o.n_sizes; i++)
        t_max = o.sizes[i] > t_max ? o.sizes[i] : t_max;
    printf("head_gate: the NSA head gate (hidden %d, %d heads) on target %s, seed %" PRIu64 "\n", HIDDEN, N_HEADS,
           o.target, o.seed);
    printf("inputs: random x bf16[%" PRId64 ", %d], w bf16 and f32 [%d, %d], q_scale f32[%" PRId64
           ", %d, 1]; T tokens use the first T rows\n",
           t_max, HIDDEN, N_HEADS, HIDDEN, t_max, N_HEADS);
    printf("kernels: launched per call, fused / unfused; 1st ms: code generation + load for the fused call's "
           "signature\n");
    printf("us: per call, wall clock of N back-to-back nf_kernel_run calls on the default stream and one "
           "nf_device_synchronize, / N (N: a batch takes %.0f ms or more; best of %d batches)%s\n",
           1e3 * TIME_BUDGET_S, TIME_REPEATS,
           o.device == NF_DEVICE_HOST ? "; the host CPU runs each call" : "; plain launches, not in a CUDA graph");
    printf("check: fused vs unfused within twice nf_graph_tolerance; max |f - u| is the largest difference\n");

    inputs in;
    if (inputs_make(&o, t_max, &in, &err) != NF_OK)
        return report_error("inputs", &err);
    int n_checks = 0, n_failed = 0;
    for (int f = 0; f < N_FORMS; f++) {
        if (run_form(&o, (form_kind)f, &in, t_max, &n_checks, &n_failed, &err) != NF_OK) {
            inputs_free(&in);
            return report_error(forms[f].graph_name, &err);
        }
    }
    inputs_free(&in);
    if (n_failed) {
        printf("\nFAIL: %d of %d checks (seed %" PRIu64 ")\n", n_failed, n_checks, o.seed);
        return 1;
    }
    printf("\nPASS: all %d checks\n", n_checks);
    return 0;
}
