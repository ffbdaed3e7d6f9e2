/* nsafuse-bench: shared declarations of its files. The program uses the
 * public API to compile and run, and the internal device table
 * (runtime/device.h) only for streams, events and CUDA graphs, to time. */
#ifndef NF_BENCH_H
#define NF_BENCH_H

#include "nsafuse.h"
#include "runtime/device.h"

#include <stdio.h>

#define BENCH_MAX_SIZES 16

typedef struct bench_opts {
    const char *target;     /* --target: "cuda" (default), "host", "sm_90", ... */
    const char *graphs_dir; /* --graphs: where the .nf files are */
    const char *chain;      /* --chain: only this graph (NULL: all) */
    const char *forms;      /* --forms: headgate forms, comma-separated (NULL: all three) */
    const char *csv_path;   /* --csv: machine-readable rows for bench/torch_bench.py */
    int64_t sizes[BENCH_MAX_SIZES]; /* --sizes: elements per chain (0 given: each chain's own) */
    int n_sizes;
    int64_t copy_elements;  /* --copy-size: f32 elements of the bandwidth copy */
    int graph_calls;        /* --graph-calls: calls captured into one CUDA graph (50) */
    int launch_calls;       /* --calls: nf_kernel_run calls timed by `launch` */
    bool check;             /* compare fused with unfused outputs (--no-check: off) */
    uint64_t seed;
    nf_device_kind device;  /* the target's device */
    const char *self;       /* argv[0], for `compile` to run itself again */
    const char *child_cache;/* internal: `compile --child DIR` */
} bench_opts;

/* ---- helpers (bench_util.c) ---------------------------------------------- */

double bench_now_s(void);
/* Makes the first call of a shape a cold compile: NSAFUSE_CACHE_DIR set to a
 * new empty folder (its path in dir), and the CUDA driver's own JIT cache
 * off (CUDA_CACHE_DISABLE=1, unless the environment says otherwise; read at
 * cuInit, so call this before the device is opened). false if no folder. */
bool bench_cold_caches(const char *who, char *dir, size_t len);
/* Empties and removes bench_cold_caches' folder. */
void bench_drop_cache_dir(const char *who, const char *dir);
/* Sorts v and returns its q-quantile (0.5: the median). n >= 1. */
double bench_quantile(double *v, int n, double q);
/* "1M" = 2^20, "4K", "1G", or a plain number; false on anything else. */
bool bench_parse_size(const char *text, int64_t *out);
/* "1M", "256M", "100663296": the shortest exact form. */
void bench_format_size(int64_t n, char *buf, size_t len);
/* Reads a whole file; malloc'd, NUL-terminated. NULL (and err) on failure. */
char *bench_read_file(const char *path, size_t *len, nf_error *err);
/* Parses graph `name` from DIR/FILE (dir: --graphs, else
 * $NF_SOURCE_ROOT/bench/graphs, else the source tree's, from the build). */
nf_graph *bench_load_graph(const bench_opts *o, const char *file, nf_error *err);
/* Fills err and returns s. */
nf_status bench_error(nf_error *err, nf_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Device tensors shaped by a graph's parameters or outputs under b. */
typedef struct bench_tensors {
    int n;
    nf_device_kind device;
    nf_tensor *t;
} bench_tensors;

nf_status bench_alloc_params(const nf_graph *g, const nf_bindings *b, nf_device_kind device, bench_tensors *out,
                             nf_error *err);
nf_status bench_alloc_outputs(const nf_graph *g, const nf_bindings *b, nf_device_kind device, bench_tensors *out,
                              nf_error *err);
void bench_tensors_free(bench_tensors *ts);
int64_t bench_tensors_bytes(const bench_tensors *ts);
/* Seeded random values: a host block of at most a few million elements,
 * repeated over the device tensor (timing does not need more entropy). */
nf_status bench_fill_random(const nf_tensor *t, uint64_t seed, nf_error *err);
/* NaN (or a sentinel) over the first and last `sample` elements. */
nf_status bench_poison_ends(const nf_tensor *t, int64_t sample, nf_error *err);
/* The first and last `sample` elements of a device tensor, as one 1-D host
 * tensor of 2 * sample elements (or all of them when fewer): free ->data. */
nf_status bench_read_ends(const nf_tensor *t, int64_t sample, nf_tensor *host, nf_error *err);

/* ---- timing on a device (bench_timer.c) ---------------------------------- */

/* One call of the code being timed, on stream (NULL on the host). */
typedef nf_status (*bench_call_fn)(void *ctx, void *stream, nf_error *err);

typedef struct bench_clock {
    nf_device_kind device;
    const nf_device_ops *ops; /* NULL on the host: wall clock only */
    void *stream;             /* non-blocking, so that it can be captured */
    void *start, *end;
} bench_clock;

nf_status bench_clock_open(nf_device_kind device, bench_clock *c, nf_error *err);
void bench_clock_close(bench_clock *c);
bool bench_clock_has_graphs(const bench_clock *c);

/* Times of one call in microseconds; NAN where the device cannot say. */
typedef struct bench_times {
    double plain_us;  /* events around back-to-back calls on one stream, per call */
    double graph_us;  /* `calls` calls captured into one graph, replayed, divided by calls */
    double replay_us; /* a graph of one call, replayed: median of single replays */
    int graph_calls;
} bench_times;

/* All three, after one warm call; repetitions scale with the call's time
 * so that a case takes a fraction of a second. */
nf_status bench_time_call(bench_clock *c, bench_call_fn fn, void *ctx, int graph_calls, bench_times *t,
                          nf_error *err);
/* Device-to-device copy of bytes (the driver's memcpy) on the default
 * stream: median time in microseconds (wall clock on the host). */
nf_status bench_time_memcpy(bench_clock *c, void *dst, const void *src, size_t bytes, double *us, nf_error *err);

/* ---- the subcommands ----------------------------------------------------- */

int bench_elementwise(const bench_opts *o);
int bench_launch(const bench_opts *o);
int bench_compile(const bench_opts *o);
/* The NSA head gate's three forms at T = 1 .. 16384 (ANCHORS.md). */
int bench_headgate(const bench_opts *o);
/* The process `compile` starts: one cold run against the cache in o->child_cache. */
int bench_compile_child(const bench_opts *o);

/* Prints err on stderr with the subcommand's name; returns the exit status
 * (1 for the user's mistakes, 2 for the environment). */
int bench_report(const char *what, const nf_error *err);

#endif
