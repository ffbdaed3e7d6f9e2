/* nsafuse-bench compile: what the first call of a new signature costs (LLVM
 * codegen + PTX + the driver's link + load) in a fresh process with an empty
 * disk cache, then in another fresh process with the cache the first one
 * left (no LLVM, no driver JIT: nf_kernel_get_stats says so); and what
 * nf_kernel_prepare takes to warm a server's head-gate sizes up, on one
 * thread and on one per core, each on an empty cache. The program runs
 * itself twice (/proc/self/exe compile --child DIR) and reads the children's
 * result lines from a pipe. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct compile_case {
    const char *label;
    const char *file; /* relative to the graphs' folder */
    const char *sym;
    int64_t first, second; /* sizes of the two signatures */
} compile_case;

static const compile_case cases[] = {
    {"upcast_two_scales", "upcast_two_scales.nf", "N", 1 << 20, 1 << 21},
    {"bias_gelu_residual", "bias_gelu_residual.nf", "N", 1024, 2048},
    {"transcendental_chain", "transcendental_chain.nf", "N", 1024, 2048},
    {"logits_head_gate (GEMM)", "../../examples/nsa/logits_head_gate.nf", "T", 1, 2048},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* The head gate's sizes a server warms up: decode batch sizes, prefill lengths. */
static const int64_t prepare_sizes[] = {1, 2, 4, 8, 16, 24, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
enum { N_PREPARE = sizeof prepare_sizes / sizeof prepare_sizes[0] };

typedef struct case_result {
    bool ok;
    double first_ms, compile_ms, again_ms, second_ms;
    bool first_disk, second_disk;
    int kernels;
} case_result;

/* ---- the child ----------------------------------------------------------- */

/* One signature: the first call (compile + load + run, waited for), then a
 * second call of the same signature (cached in memory). */
static nf_status first_call(nf_kernel *k, const nf_graph *g, const char *sym, int64_t size, nf_device_kind device,
                            double *first_ms, double *again_ms, nf_error *err)
{
    nf_bindings b = {.n = 1, .names = {sym}, .sizes = {size}};
    bench_tensors in = {0}, out = {0};
    nf_status s = bench_alloc_params(g, &b, device, &in, err);
    if (s == NF_OK)
        s = bench_alloc_outputs(g, &b, device, &out, err);
    for (int i = 0; i < in.n && s == NF_OK; i++)
        s = bench_fill_random(&in.t[i], 1 + (uint64_t)i, err);
    if (s == NF_OK)
        s = nf_device_synchronize(device, err);
    for (int pass = 0; pass < 2 && s == NF_OK; pass++) {
        double t0 = bench_now_s();
        s = nf_kernel_run(k, in.t, in.n, out.t, out.n, NULL, err);
        if (s == NF_OK)
            s = nf_device_synchronize(device, err);
        *(pass ? again_ms : first_ms) = 1e3 * (bench_now_s() - t0);
    }
    bench_tensors_free(&in);
    bench_tensors_free(&out);
    return s;
}

/* ms that nf_kernel_prepare takes for every prepare_sizes of the head gate
 * on `threads` threads (0: one per core), in a cache folder of its own under
 * dir, emptied and removed after. */
static nf_status time_prepare(const bench_opts *o, int threads, double *ms, nf_error *err)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/prepare-%d", o->child_cache, threads);
    if (mkdir(sub, 0700) != 0 && errno != EEXIST)
        return bench_error(err, NF_ERR_IO, "cannot make %s: %s", sub, strerror(errno));
    setenv("NSAFUSE_CACHE_DIR", sub, 1);
    nf_graph *g = bench_load_graph(o, "../../examples/nsa/logits_head_gate.nf", err);
    nf_kernel *k = NULL;
    nf_status s = g ? NF_OK : err->status;
    if (s == NF_OK) {
        nf_compile_options co;
        nf_compile_options_init(&co);
        co.target = o->target;
        s = nf_compile(g, &co, &k, err);
    }
    nf_bindings b[N_PREPARE];
    for (int i = 0; i < N_PREPARE; i++)
        b[i] = (nf_bindings){.n = 1, .names = {"T"}, .sizes = {prepare_sizes[i]}};
    double t0 = bench_now_s();
    if (s == NF_OK)
        s = nf_kernel_prepare(k, b, N_PREPARE, threads, err);
    *ms = 1e3 * (bench_now_s() - t0);
    nf_kernel_free(k);
    nf_graph_free(g);
    nf_error ignored;
    nf_cache_clear(&ignored);
    rmdir(sub);
    setenv("NSAFUSE_CACHE_DIR", o->child_cache, 1);
    return s;
}

int bench_compile_child(const bench_opts *o)
{
    nf_error err = {0};
    double t0 = bench_now_s();
    void *probe = NULL;
    nf_status s = nf_device_alloc(o->device, 1, &probe, &err); /* starts the driver and its context */
    nf_device_free(o->device, probe);
    if (s != NF_OK)
        return bench_report("compile", &err);
    printf("D %.3f\n", 1e3 * (bench_now_s() - t0));
    for (int i = 0; i < N_CASES; i++) {
        const compile_case *cc = &cases[i];
        nf_graph *g = bench_load_graph(o, cc->file, &err);
        if (!g) {
            fprintf(stderr, "nsafuse-bench compile: %s skipped: %s\n", cc->label, err.message);
            continue;
        }
        nf_compile_options co;
        nf_compile_options_init(&co);
        co.target = o->target;
        nf_kernel *k = NULL;
        case_result r = {0};
        nf_kernel_stats st;
        s = nf_compile(g, &co, &k, &err);
        if (s == NF_OK)
            s = first_call(k, g, cc->sym, cc->first, o->device, &r.first_ms, &r.again_ms, &err);
        nf_kernel_get_stats(k, &st);
        r.compile_ms = st.last_compile_ms;
        r.first_disk = st.last_from_disk_cache;
        r.kernels = st.kernels;
        double ignored;
        if (s == NF_OK)
            s = first_call(k, g, cc->sym, cc->second, o->device, &r.second_ms, &ignored, &err);
        nf_kernel_get_stats(k, &st);
        r.second_disk = st.last_from_disk_cache;
        nf_kernel_free(k);
        nf_graph_free(g);
        if (s != NF_OK)
            return bench_report("compile", &err);
        printf("R %d %.3f %.3f %.3f %.3f %d %d %d\n", i, r.first_ms, r.compile_ms, r.again_ms, r.second_ms,
               (int)r.first_disk, (int)r.second_disk, r.kernels);
        fflush(stdout);
    }
    double serial_ms = 0, parallel_ms = 0;
    s = time_prepare(o, 1, &serial_ms, &err);
    if (s == NF_OK)
        s = time_prepare(o, 0, &parallel_ms, &err);
    if (s != NF_OK)
        return bench_report("compile", &err);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("P %.3f %.3f %ld\n", serial_ms, parallel_ms, cores);
    return 0;
}

/* ---- the parent ---------------------------------------------------------- */

/* Runs `self compile --child dir` and parses its lines. */
/* What a child measured of nf_kernel_prepare. */
typedef struct prepare_result {
    double serial_ms, parallel_ms;
    long cores;
} prepare_result;

static int run_child(const bench_opts *o, const char *dir, double *start_ms, case_result *res, prepare_result *prep,
                     double *wall_ms)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "nsafuse-bench compile: pipe: %s\n", strerror(errno));
        return 2;
    }
    fflush(stdout);
    double t0 = bench_now_s();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "nsafuse-bench compile: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 2;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        const char *argv[12];
        int n = 0;
        argv[n++] = o->self;
        argv[n++] = "compile";
        argv[n++] = "--child";
        argv[n++] = dir;
        argv[n++] = "--target";
        argv[n++] = o->target;
        if (o->graphs_dir) {
            argv[n++] = "--graphs";
            argv[n++] = o->graphs_dir;
        }
        argv[n] = NULL;
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        int i, d1, d2, kernels;
        double a, b, c, e;
        long cores;
        if (sscanf(line, "D %lf", &a) == 1) {
            *start_ms = a;
        } else if (sscanf(line, "P %lf %lf %ld", &a, &b, &cores) == 3) {
            *prep = (prepare_result){a, b, cores};
        } else if (sscanf(line, "R %d %lf %lf %lf %lf %d %d %d", &i, &a, &b, &c, &e, &d1, &d2, &kernels) == 8 &&
                   i >= 0 && i < N_CASES) {
            res[i] = (case_result){true, a, b, c, e, d1 != 0, d2 != 0, kernels};
        }
    }
    if (f)
        fclose(f);
    else
        close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    *wall_ms = 1e3 * (bench_now_s() - t0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

int bench_compile(const bench_opts *o)
{
    char dir[4096];
    if (!bench_cold_caches("compile", dir, sizeof dir))
        return 2;
    case_result cold[N_CASES] = {0}, warm[N_CASES] = {0};
    prepare_result prep = {0}, prep_again = {0};
    double cold_start = 0, warm_start = 0, cold_wall = 0, warm_wall = 0;
    int rc = run_child(o, dir, &cold_start, cold, &prep, &cold_wall);
    if (rc == 0)
        rc = run_child(o, dir, &warm_start, warm, &prep_again, &warm_wall);
    bench_drop_cache_dir("compile", dir);
    if (rc != 0) {
        fprintf(stderr, "nsafuse-bench compile: a child process failed (exit %d)\n", rc);
        return rc;
    }
    printf("nsafuse-bench compile (target %s): ms of the first call of a new signature (compile + load + run, "
           "waited for)\n",
           o->target);
    printf("process 1: empty NSAFUSE_CACHE_DIR (the driver's JIT cache off); process 2: a fresh process with the cache "
           "process 1 left\n");
    printf("driver start (first allocation): %.1f ms / %.1f ms; whole child process: %.0f ms / %.0f ms\n\n",
           cold_start, warm_start, cold_wall, warm_wall);
    printf("%-24s %3s | %-38s | %-38s\n", "graph", "kn", "process 1: first / compile / again / 2nd sig",
           "process 2: first / compile / again / 2nd sig");
    for (int i = 0; i < N_CASES; i++) {
        if (!cold[i].ok || !warm[i].ok) {
            printf("%-24s (no result)\n", cases[i].label);
            continue;
        }
        const case_result *c = &cold[i], *w = &warm[i];
        printf("%-24s %3d | %7.1f %7.1f %6.3f %7.1f %-5s | %7.1f %7.1f %6.3f %7.1f %-5s\n", cases[i].label, c->kernels,
               c->first_ms, c->compile_ms, c->again_ms, c->second_ms, c->first_disk ? "disk" : "LLVM", w->first_ms,
               w->compile_ms, w->again_ms, w->second_ms, w->first_disk && w->second_disk ? "disk" : "LLVM");
    }
    printf("\nnf_kernel_prepare, logits_head_gate at %d sizes (T = 1 .. 16384), empty cache: %.0f ms on one thread, "
           "%.0f ms on %ld (one per core): %.1fx; the second process: %.0f / %.0f ms\n",
           N_PREPARE, prep.serial_ms, prep.parallel_ms, prep.cores,
           prep.parallel_ms > 0 ? prep.serial_ms / prep.parallel_ms : 0, prep_again.serial_ms, prep_again.parallel_ms);
    printf("\nfirst: the first call; compile: nf_kernel_get_stats' last_compile_ms of that call; again: the next call "
           "of the same signature;\n2nd sig: the first call of a second size in the same process; disk/LLVM: "
           "whether the code came from the disk cache (last_from_disk_cache)\n");
    return 0;
}
