/* nsafuse-bench helpers: clocks, quantiles, sizes, graph files and device
 * tensors with random inputs. */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef NF_BENCH_GRAPHS
#define NF_BENCH_GRAPHS "bench/graphs"
#endif

enum { FILL_BLOCK = 1 << 22 }; /* elements of random data made on the host */

double bench_now_s(void)
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

double bench_quantile(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    double pos = q * (n - 1);
    int lo = (int)pos;
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

bool bench_parse_size(const char *text, int64_t *out)
{
    errno = 0;
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (errno || end == text || n <= 0)
        return false;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end || n > (INT64_MAX >> shift))
        return false;
    *out = (int64_t)n << shift;
    return true;
}

void bench_format_size(int64_t n, char *buf, size_t len)
{
    static const char units[] = "GMK";
    for (int i = 0; i < 3; i++) {
        int shift = 30 - 10 * i;
        if (n >= ((int64_t)1 << shift) && n % ((int64_t)1 << shift) == 0) {
            snprintf(buf, len, "%lld%c", (long long)(n >> shift), units[i]);
            return;
        }
    }
    snprintf(buf, len, "%lld", (long long)n);
}

nf_status bench_error(nf_error *err, nf_status s, const char *fmt, ...)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->status = s;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return s;
}

char *bench_read_file(const char *path, size_t *len, nf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bench_error(err, NF_ERR_IO, "cannot open %s: %s (give the graphs' folder with --graphs DIR)", path,
                    strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    while (text) {
        n += fread(text + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *bigger = realloc(text, cap * 2);
        if (!bigger) {
            free(text);
            text = NULL;
            break;
        }
        text = bigger;
        cap *= 2;
    }
    bool failed = ferror(f);
    fclose(f);
    if (!text || failed) {
        free(text);
        bench_error(err, text ? NF_ERR_IO : NF_ERR_NOMEM, "cannot read %s", path);
        return NULL;
    }
    text[n] = '\0';
    if (len)
        *len = n;
    return text;
}

nf_graph *bench_load_graph(const bench_opts *o, const char *file, nf_error *err)
{
    char path[4096];
    const char *root = getenv("NF_SOURCE_ROOT");
    if (o->graphs_dir)
        snprintf(path, sizeof path, "%s/%s", o->graphs_dir, file);
    else if (root && *root)
        snprintf(path, sizeof path, "%s/bench/graphs/%s", root, file);
    else
        snprintf(path, sizeof path, "%s/%s", NF_BENCH_GRAPHS, file);
    size_t len = 0;
    char *text = bench_read_file(path, &len, err);
    if (!text)
        return NULL;
    nf_graph *g = nf_graph_parse(text, len, path, NULL, err);
    free(text);
    return g;
}

/* ---- device tensors ------------------------------------------------------ */

typedef nf_status (*shape_fn)(const nf_graph *g, int i, const nf_bindings *b, int *rank, int64_t *shape,
                              nf_error *err);

static nf_status alloc_tensors(const nf_graph *g, const nf_bindings *b, nf_device_kind device, bool outputs,
                               bench_tensors *out, nf_error *err)
{
    int n = outputs ? nf_graph_num_outputs(g) : nf_graph_num_params(g);
    shape_fn shape_of = outputs ? nf_output_shape : nf_param_shape;
    memset(out, 0, sizeof *out);
    out->device = device;
    out->t = calloc((size_t)(n > 0 ? n : 1), sizeof *out->t);
    if (!out->t)
        return bench_error(err, NF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int rank;
        int64_t shape[NF_MAX_DIMS];
        nf_status s = shape_of(g, i, b, &rank, shape, err);
        if (s != NF_OK) {
            bench_tensors_free(out);
            return s;
        }
        const nf_value *v = outputs ? nf_graph_output(g, i) : nf_graph_param(g, i);
        nf_tensor *t = &out->t[i];
        nf_tensor_init(t, NULL, nf_value_dtype(v), rank, shape);
        t->device = device;
        size_t bytes = (size_t)nf_tensor_numel(t) * nf_dtype_size(t->dtype);
        s = nf_device_alloc(device, bytes, &t->data, err);
        if (s != NF_OK) {
            bench_tensors_free(out);
            return s;
        }
        out->n = i + 1;
    }
    return NF_OK;
}

nf_status bench_alloc_params(const nf_graph *g, const nf_bindings *b, nf_device_kind device, bench_tensors *out,
                             nf_error *err)
{
    return alloc_tensors(g, b, device, false, out, err);
}

nf_status bench_alloc_outputs(const nf_graph *g, const nf_bindings *b, nf_device_kind device, bench_tensors *out,
                              nf_error *err)
{
    return alloc_tensors(g, b, device, true, out, err);
}

void bench_tensors_free(bench_tensors *ts)
{
    for (int i = 0; ts->t && i < ts->n; i++)
        nf_device_free(ts->device, ts->t[i].data);
    free(ts->t);
    memset(ts, 0, sizeof *ts);
}

int64_t bench_tensors_bytes(const bench_tensors *ts)
{
    int64_t bytes = 0;
    for (int i = 0; i < ts->n; i++)
        bytes += nf_tensor_numel(&ts->t[i]) * (int64_t)nf_dtype_size(ts->t[i].dtype);
    return bytes;
}

/* A host block of n elements of t's dtype, filled by fill(). */
static nf_status host_block(const nf_tensor *t, int64_t n, uint64_t seed, bool poison, nf_tensor *block,
                            nf_error *err)
{
    int64_t shape[1] = {n};
    void *data = malloc((size_t)(n > 0 ? n : 1) * nf_dtype_size(t->dtype));
    if (!data)
        return bench_error(err, NF_ERR_NOMEM, "out of memory for %lld host elements", (long long)n);
    nf_tensor_init(block, data, t->dtype, 1, shape);
    nf_status s = poison ? nf_tensor_fill_poison(block, err) : nf_tensor_fill_random(block, seed, err);
    if (s != NF_OK) {
        free(data);
        block->data = NULL;
    }
    return s;
}

/* Copies count elements of a host block to element `at` of a device tensor. */
static nf_status upload(const nf_tensor *t, int64_t at, const nf_tensor *block, int64_t count, nf_error *err)
{
    size_t elem = nf_dtype_size(t->dtype);
    return nf_device_copy((char *)t->data + (size_t)at * elem, t->device, block->data, NF_DEVICE_HOST,
                          (size_t)count * elem, err);
}

nf_status bench_fill_random(const nf_tensor *t, uint64_t seed, nf_error *err)
{
    int64_t n = nf_tensor_numel(t);
    nf_tensor block;
    nf_status s = host_block(t, n < FILL_BLOCK ? n : FILL_BLOCK, seed, false, &block, err);
    for (int64_t at = 0; s == NF_OK && at < n; at += FILL_BLOCK)
        s = upload(t, at, &block, n - at < FILL_BLOCK ? n - at : FILL_BLOCK, err);
    free(block.data);
    return s;
}

nf_status bench_poison_ends(const nf_tensor *t, int64_t sample, nf_error *err)
{
    int64_t n = nf_tensor_numel(t), head = n < sample ? n : sample;
    int64_t tail = n - head < sample ? n - head : sample;
    nf_tensor block;
    nf_status s = host_block(t, head, 0, true, &block, err);
    if (s == NF_OK)
        s = upload(t, 0, &block, head, err);
    if (s == NF_OK && tail > 0)
        s = upload(t, n - tail, &block, tail, err);
    free(block.data);
    return s;
}

nf_status bench_read_ends(const nf_tensor *t, int64_t sample, nf_tensor *host, nf_error *err)
{
    int64_t n = nf_tensor_numel(t), head = n < sample ? n : sample;
    int64_t tail = n - head < sample ? n - head : sample;
    size_t elem = nf_dtype_size(t->dtype);
    int64_t shape[1] = {head + tail};
    void *data = malloc((size_t)(head + tail > 0 ? head + tail : 1) * elem);
    if (!data)
        return bench_error(err, NF_ERR_NOMEM, "out of memory reading back %lld elements", (long long)(head + tail));
    nf_tensor_init(host, data, t->dtype, 1, shape);
    nf_status s = nf_device_copy(data, NF_DEVICE_HOST, t->data, t->device, (size_t)head * elem, err);
    if (s == NF_OK && tail > 0)
        s = nf_device_copy((char *)data + (size_t)head * elem, NF_DEVICE_HOST,
                           (const char *)t->data + (size_t)(n - tail) * elem, t->device, (size_t)tail * elem, err);
    if (s != NF_OK) {
        free(data);
        host->data = NULL;
    }
    return s;
}

int bench_report(const char *what, const nf_error *err)
{
    fprintf(stderr, "nsafuse-bench %s: %s: %s\n", what, nf_status_name(err->status), err->message);
    return nf_status_is_user_error(err->status) ? 1 : 2;
}

bool bench_cold_caches(const char *who, char *dir, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, len, "%s/nsafuse-bench-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "nsafuse-bench %s: cannot make a cache folder %s: %s\n", who, dir, strerror(errno));
        return false;
    }
    setenv("NSAFUSE_CACHE_DIR", dir, 1); /* children inherit both */
    setenv("CUDA_CACHE_DISABLE", "1", 0);
    return true;
}

void bench_drop_cache_dir(const char *who, const char *dir)
{
    nf_error err = {0};
    if (nf_cache_clear(&err) != NF_OK)
        fprintf(stderr, "nsafuse-bench %s: cannot clear %s: %s\n", who, dir, err.message);
    rmdir(dir);
}
