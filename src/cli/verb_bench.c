/* nsafuse bench: the fused and the unfused graph timed on one target, on the
 * same inputs: kernel counts and the median time of one call. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    WARMUP_RUNS = 3,  /* the first compiles; the rest settle caches and clocks */
    MIN_RUNS = 5,
    MAX_RUNS = 100,
};
#define TIME_BUDGET_S 2.0 /* per variant, after MIN_RUNS */

typedef struct timing {
    nf_kernel_stats stats;
    double median_us;
    int runs;
} timing;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One call, waited for: what a caller that needs the result pays. */
static nf_status timed_call(nf_kernel *k, cli_tensors *in, cli_tensors *out, double *seconds, nf_error *err)
{
    double t0 = now_s();
    nf_status s = nf_kernel_run(k, in->dev, in->n, out->dev, out->n, NULL, err);
    if (s == NF_OK)
        s = nf_device_synchronize(in->device, err);
    *seconds = now_s() - t0;
    return s;
}

static nf_status time_variant(const nf_graph *g, const char *target, bool unfused, uint32_t constants, cli_tensors *in,
                              cli_tensors *out, timing *t, nf_error *err)
{
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    o.unfused = unfused;
    o.constant_inputs = constants;
    nf_kernel *k = NULL;
    nf_status s = nf_compile(g, &o, &k, err);
    if (s != NF_OK)
        return s;
    double samples[MAX_RUNS], dt;
    for (int i = 0; i < WARMUP_RUNS && s == NF_OK; i++)
        s = timed_call(k, in, out, &dt, err);
    double start = now_s();
    t->runs = 0;
    while (s == NF_OK && t->runs < MAX_RUNS && (t->runs < MIN_RUNS || now_s() - start < TIME_BUDGET_S)) {
        s = timed_call(k, in, out, &dt, err);
        samples[t->runs++] = dt;
    }
    if (s == NF_OK) {
        qsort(samples, (size_t)t->runs, sizeof samples[0], compare_doubles);
        int m = t->runs / 2;
        t->median_us = 1e6 * (t->runs % 2 ? samples[m] : 0.5 * (samples[m - 1] + samples[m]));
        nf_kernel_get_stats(k, &t->stats);
    }
    nf_kernel_free(k);
    return s;
}

static void print_timing(const char *label, const timing *t)
{
    printf("%-8s %3d kernel%s  median %10.2f us  (%d runs; compile %.1f ms)\n", label, t->stats.kernels,
           t->stats.kernels == 1 ? " " : "s", t->median_us, t->runs, t->stats.last_compile_ms);
}

int cli_verb_bench(const cli_args *a)
{
    if (!a->target)
        return cli_usage_error(a->verb, "--target is required (" CLI_TARGETS ")");
    nf_device_kind device;
    if (!nf_target_device(a->target, &device))
        return cli_usage_error(a->verb, "unknown --target %s (" CLI_TARGETS ")",
                               a->target);
    int status;
    nf_graph *g = cli_load_graph(a, &status);
    if (!g)
        return status;
    nf_bindings b;
    uint32_t constants;
    if (!cli_bindings(a, g, &b, &status) || !cli_constant_inputs(a, g, &constants, &status)) {
        nf_graph_free(g);
        return status;
    }
    nf_error err = {0};
    cli_tensors in, out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    timing fused = {0}, unfused = {0};
    nf_status s = cli_alloc_params(g, &b, device, &in, &err);
    if (s == NF_OK)
        s = cli_alloc_outputs(g, &b, device, &out, &err);
    if (s == NF_OK)
        s = cli_fill_inputs(&in, a->seed, &err);
    if (s == NF_OK) {
        char dims[512];
        cli_format_bindings(&b, dims, sizeof dims);
        printf("bench %s on %s%s%s%s\n", nf_graph_name(g), a->target, dims[0] ? " (" : "", dims, dims[0] ? ")" : "");
        fflush(stdout);
        s = time_variant(g, a->target, false, constants, &in, &out, &fused, &err);
    }
    if (s == NF_OK) {
        print_timing("fused", &fused);
        fflush(stdout);
        s = time_variant(g, a->target, true, constants, &in, &out, &unfused, &err);
    }
    if (s == NF_OK) {
        print_timing("unfused", &unfused);
        if (fused.median_us > 0)
            printf("fused is %.2fx the speed of unfused\n", unfused.median_us / fused.median_us);
    }
    status = s == NF_OK ? CLI_EXIT_OK : cli_report(a->verb, a->positional, &err);
    cli_tensors_free(&in);
    cli_tensors_free(&out);
    nf_graph_free(g);
    return status;
}
