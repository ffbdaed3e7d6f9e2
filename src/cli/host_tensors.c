/* The tensors of one call: contiguous host buffers shaped by the graph's
 * types under the bindings, their device copies, random inputs, poisoned
 * outputs, summaries and the --check tolerance. */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance of `run --check` for output i: the library's bound for this
 * graph (nf_graph_tolerance, derived in docs/FUSION.md) at the reference's
 * largest finite magnitude. Zero where the rounding sequence is the same. */
nf_tolerance cli_tolerance(const nf_graph *g, int i, const nf_tensor *want)
{
    int64_t n = nf_tensor_numel(want);
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v), max_abs = 0;
    if (!v || nf_tensor_to_f64(want, v, NULL) != NF_OK) {
        free(v);
        return nf_graph_tolerance(g, i, INFINITY); /* cannot measure: the widest bound */
    }
    for (int64_t k = 0; k < n; k++)
        if (isfinite(v[k]) && fabs(v[k]) > max_abs)
            max_abs = fabs(v[k]);
    free(v);
    return nf_graph_tolerance(g, i, max_abs);
}

/* Seed of input i: splitmix64's finalizer over (seed, i), so that inputs get
 * unrelated streams and `--seed N` reproduces every one of them. */
uint64_t cli_input_seed(uint64_t seed, int i)
{
    uint64_t z = seed + UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

typedef nf_status (*shape_fn)(const nf_graph *g, int i, const nf_bindings *b, int *rank, int64_t *shape,
                              nf_error *err);

static nf_status alloc_tensors(const nf_graph *g, const nf_bindings *b, nf_device_kind device, int n,
                               shape_fn shape_of, bool outputs, cli_tensors *t, nf_error *err)
{
    memset(t, 0, sizeof *t);
    t->device = device;
    t->host = calloc((size_t)(n > 0 ? n : 1), sizeof *t->host);
    t->dev = calloc((size_t)(n > 0 ? n : 1), sizeof *t->dev);
    if (!t->host || !t->dev) {
        cli_tensors_free(t);
        return cli_error(err, NF_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        int rank;
        int64_t shape[NF_MAX_DIMS];
        nf_status s = shape_of(g, i, b, &rank, shape, err);
        if (s != NF_OK) {
            cli_tensors_free(t);
            return s;
        }
        const nf_value *v = outputs ? nf_graph_output(g, i) : nf_graph_param(g, i);
        nf_dtype dtype = nf_value_dtype(v);
        int64_t numel = 1;
        for (int d = 0; d < rank; d++)
            numel *= shape[d];
        size_t elem = nf_dtype_size(dtype);
        if (numel < 0 || (uint64_t)numel > SIZE_MAX / elem / 2) {
            cli_tensors_free(t);
            return cli_error(err, NF_ERR_NOMEM, "%s %d holds %lld elements: too large", outputs ? "output" : "input",
                             i, (long long)numel);
        }
        size_t bytes = (size_t)numel * elem;
        void *host = malloc(bytes > 0 ? bytes : 1);
        if (!host) {
            cli_tensors_free(t);
            return cli_error(err, NF_ERR_NOMEM, "cannot allocate %zu bytes for %s %d", bytes,
                             outputs ? "output" : "input", i);
        }
        nf_tensor_init(&t->host[i], host, dtype, rank, shape);
        t->n = i + 1;
        t->dev[i] = t->host[i];
        if (device != NF_DEVICE_HOST) {
            t->dev[i].data = NULL;
            void *ptr = NULL;
            s = nf_device_alloc(device, bytes > 0 ? bytes : 1, &ptr, err);
            if (s != NF_OK) {
                cli_tensors_free(t);
                return s;
            }
            t->dev[i].data = ptr;
            t->dev[i].device = device;
        }
    }
    return NF_OK;
}

nf_status cli_alloc_params(const nf_graph *g, const nf_bindings *b, nf_device_kind device, cli_tensors *t,
                           nf_error *err)
{
    return alloc_tensors(g, b, device, nf_graph_num_params(g), nf_param_shape, false, t, err);
}

nf_status cli_alloc_outputs(const nf_graph *g, const nf_bindings *b, nf_device_kind device, cli_tensors *t,
                            nf_error *err)
{
    return alloc_tensors(g, b, device, nf_graph_num_outputs(g), nf_output_shape, true, t, err);
}

void cli_tensors_free(cli_tensors *t)
{
    for (int i = 0; i < t->n; i++) {
        if (t->device != NF_DEVICE_HOST && t->dev[i].data)
            nf_device_free(t->device, t->dev[i].data);
        free(t->host[i].data);
    }
    free(t->host);
    free(t->dev);
    memset(t, 0, sizeof *t);
}

static size_t tensor_bytes(const nf_tensor *t) { return (size_t)nf_tensor_numel(t) * nf_dtype_size(t->dtype); }

static nf_status upload(cli_tensors *t, nf_error *err)
{
    if (t->device == NF_DEVICE_HOST)
        return NF_OK;
    for (int i = 0; i < t->n; i++) {
        nf_status s = nf_device_copy(t->dev[i].data, t->device, t->host[i].data, NF_DEVICE_HOST,
                                     tensor_bytes(&t->host[i]), err);
        if (s != NF_OK)
            return s;
    }
    return NF_OK;
}

nf_status cli_download(cli_tensors *t, nf_error *err)
{
    if (t->device == NF_DEVICE_HOST)
        return NF_OK;
    for (int i = 0; i < t->n; i++) {
        nf_status s = nf_device_copy(t->host[i].data, NF_DEVICE_HOST, t->dev[i].data, t->device,
                                     tensor_bytes(&t->host[i]), err);
        if (s != NF_OK)
            return s;
    }
    return NF_OK;
}

nf_status cli_fill_inputs(cli_tensors *t, uint64_t seed, nf_error *err)
{
    for (int i = 0; i < t->n; i++) {
        nf_status s = nf_tensor_fill_random(&t->host[i], cli_input_seed(seed, i), err);
        if (s != NF_OK)
            return s;
    }
    return upload(t, err);
}

nf_status cli_poison(cli_tensors *t, nf_error *err)
{
    for (int i = 0; i < t->n; i++) {
        nf_status s = nf_tensor_fill_poison(&t->host[i], err);
        if (s != NF_OK)
            return s;
    }
    return upload(t, err);
}

void cli_format_type(const nf_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s[", nf_dtype_name(t->dtype));
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

void cli_format_index(const nf_tensor *t, int64_t flat, char *buf, size_t n)
{
    int64_t idx[NF_MAX_DIMS] = {0};
    for (int d = t->rank - 1; d >= 0; d--) {
        if (t->shape[d] > 0) {
            idx[d] = flat % t->shape[d];
            flat /= t->shape[d];
        }
    }
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)idx[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

void cli_value_label(const nf_value *v, const char *kind, int i, char *buf, size_t n)
{
    const char *name = v ? nf_value_name(v) : NULL;
    if (name)
        snprintf(buf, n, "%%%s", name);
    else
        snprintf(buf, n, "%s %d", kind, i);
}

#define SUMMARY_FIRST 4

nf_status cli_print_summary(FILE *f, const nf_tensor *t, nf_error *err)
{
    int64_t n = nf_tensor_numel(t);
    if (n == 0) {
        fprintf(f, "(empty)\n");
        return NF_OK;
    }
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        return cli_error(err, NF_ERR_NOMEM, "out of memory summarizing %lld elements", (long long)n);
    }
    nf_status s = nf_tensor_to_f64(t, v, err);
    if (s != NF_OK) {
        free(v);
        return s;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t n_nan = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            n_nan++;
            continue;
        }
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
        sum += v[i];
    }
    fprintf(f, "first [");
    for (int64_t i = 0; i < n && i < SUMMARY_FIRST; i++)
        fprintf(f, "%s%.6g", i ? ", " : "", v[i]);
    fprintf(f, "%s]", n > SUMMARY_FIRST ? ", ..." : "");
    if (n_nan < n)
        fprintf(f, "  min %.6g  max %.6g  mean %.6g", lo, hi, sum / (double)(n - n_nan));
    if (n_nan)
        fprintf(f, "  nan %lld of %lld", (long long)n_nan, (long long)n);
    fprintf(f, "\n");
    free(v);
    return NF_OK;
}
