/* The device layer: the host device, clean failure without a GPU (no
 * libcuda, a stub libcuda, a library that is not a driver), and, when a CUDA
 * GPU is present, memory round trips, a hand-written PTX kernel loaded as
 * PTX and as a cubin (through the disk cache), launches from another thread,
 * and a launch sequence captured into a CUDA graph and replayed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/device.h"
#include "runtime/disk_cache.h"

#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t test_seed;

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Floats in [-4, 4), exactly representable steps of 1/256. */
static void fill_floats(float *x, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int)(next_random(rng) % 2048) - 1024) / 256.0f;
}

static void poison(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

static bool cuda_present;

static void skip_without_cuda(void)
{
    if (!cuda_present) {
        printf("SKIP: no CUDA device\n");
        skip();
    }
}

/* ---- the host device ----------------------------------------------------- */

static void test_host_memory_round_trip(void **state)
{
    (void)state;
    uint64_t rng = test_seed;
    float src[1000], dst[1000];
    fill_floats(src, 1000, &rng);
    poison(dst, 1000);
    void *p = NULL;
    nf_error err = {0};
    assert_int_equal(nf_device_alloc(NF_DEVICE_HOST, sizeof src, &p, &err), NF_OK);
    assert_non_null(p);
    assert_int_equal(nf_device_copy(p, NF_DEVICE_HOST, src, NF_DEVICE_HOST, sizeof src, &err),
                     NF_OK);
    assert_int_equal(nf_device_copy(dst, NF_DEVICE_HOST, p, NF_DEVICE_HOST, sizeof dst, &err),
                     NF_OK);
    assert_int_equal(nf_device_synchronize(NF_DEVICE_HOST, &err), NF_OK);
    assert_memory_equal(src, dst, sizeof src);
    nf_device_free(NF_DEVICE_HOST, p);

    assert_int_equal(nf_device_alloc(NF_DEVICE_HOST, 0, &p, &err), NF_OK);
    assert_null(p);
    nf_device_free(NF_DEVICE_HOST, NULL);

    const nf_device_ops *host = nf_device_get(NF_DEVICE_HOST);
    char name[64];
    assert_int_equal(host->arch_name(name, sizeof name, &err), NF_OK);
    assert_string_equal(name, "host");
    assert_true(host->multiprocessor_count() >= 1);
    assert_null(host->launch);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    nf_error err = {0};
    char byte = 0;
    assert_int_equal(nf_device_alloc(NF_DEVICE_HOST, 8, NULL, &err), NF_ERR_ARG);
    void *p = &byte;
    assert_int_equal(nf_device_alloc((nf_device_kind)7, 8, &p, &err), NF_ERR_ARG);
    assert_null(p);
    assert_non_null(strstr(err.message, "device kind"));
    assert_null(nf_device_get((nf_device_kind)7));
    assert_int_equal(nf_device_copy(NULL, NF_DEVICE_HOST, &byte, NF_DEVICE_HOST, 1, &err),
                     NF_ERR_ARG);
    /* No direct CUDA <-> HIP path; refused before touching either driver. */
    assert_int_equal(nf_device_copy(&byte, NF_DEVICE_HIP, &byte, NF_DEVICE_CUDA, 1, &err),
                     NF_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "through the host"));
    assert_int_equal(nf_device_synchronize((nf_device_kind)-1, &err), NF_ERR_ARG);
}

/* ---- without a GPU: clean failures ------------------------------------- */

static void expect_one_line(const nf_error *err, const char *prefix)
{
    assert_true(strlen(err->message) > strlen(prefix) + 20);
    assert_null(strchr(err->message, '\n'));
    if (strncmp(err->message, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err->message, prefix);
}

static void test_cuda_init_works_or_says_why(void **state)
{
    (void)state;
    const nf_device_ops *cuda = nf_device_get(NF_DEVICE_CUDA);
    assert_non_null(cuda);
    assert_string_equal(cuda->name, "cuda");
    nf_error err = {0};
    nf_status s = cuda->init(&err);
    if (s == NF_OK) {
        cuda_present = true;
        return;
    }
    assert_int_equal(s, NF_ERR_NO_DEVICE);
    assert_int_equal(err.status, NF_ERR_NO_DEVICE);
    expect_one_line(&err, "CUDA unavailable: ");
    printf("SKIP: no CUDA device (%s)\n", err.message);

    /* The failure is remembered, and every entry point reports it. */
    nf_error again = {0};
    assert_int_equal(cuda->init(&again), NF_ERR_NO_DEVICE);
    assert_string_equal(again.message, err.message);
    void *p = &again;
    float x = 1;
    assert_int_equal(nf_device_alloc(NF_DEVICE_CUDA, 64, &p, &again), NF_ERR_NO_DEVICE);
    assert_null(p);
    assert_int_equal(nf_device_copy(&x, NF_DEVICE_CUDA, &x, NF_DEVICE_HOST, 4, &again),
                     NF_ERR_NO_DEVICE);
    assert_int_equal(nf_device_copy(&x, NF_DEVICE_HOST, &x, NF_DEVICE_CUDA, 4, &again),
                     NF_ERR_NO_DEVICE);
    assert_int_equal(nf_device_synchronize(NF_DEVICE_CUDA, &again), NF_ERR_NO_DEVICE);
    nf_device_free(NF_DEVICE_CUDA, &x); /* a no-op, not a crash */
    void *module = &x;
    assert_int_equal(cuda->load_module("x", 1, true, &module, &again), NF_ERR_NO_DEVICE);
    assert_null(module);
    char name[64];
    assert_int_equal(cuda->device_name(name, sizeof name, &again), NF_ERR_NO_DEVICE);
    assert_int_equal(cuda->multiprocessor_count(), 0);
    assert_int_equal(cuda->init(NULL), NF_ERR_NO_DEVICE); /* NULL err is fine */
}

static void test_hip_init_works_or_says_why(void **state)
{
    (void)state;
    const nf_device_ops *hip = nf_device_get(NF_DEVICE_HIP);
    nf_error err = {0};
    nf_status s = hip->init(&err);
    if (s == NF_OK) {
        char arch[64];
        assert_int_equal(hip->arch_name(arch, sizeof arch, &err), NF_OK);
        assert_memory_equal(arch, "gfx", 3);
        assert_true(hip->multiprocessor_count() > 0);
        return;
    }
    assert_int_equal(s, NF_ERR_NO_DEVICE);
    expect_one_line(&err, "HIP unavailable: ");
    printf("SKIP: no HIP device (%s)\n", err.message);
    void *p = &err;
    assert_int_equal(nf_device_alloc(NF_DEVICE_HIP, 64, &p, &err), NF_ERR_NO_DEVICE);
    assert_null(p);
    assert_int_equal(hip->multiprocessor_count(), 0);
}

/* Starts CUDA in a child process with $NSAFUSE_LIBCUDA set (the outcome of
 * a first start is remembered for the life of a process); returns the
 * status and message. */
static nf_status cuda_init_with_library(const char *library, char *message, size_t n)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        setenv("NSAFUSE_LIBCUDA", library, 1);
        nf_error err = {0};
        nf_status s = nf_device_get(NF_DEVICE_CUDA)->init(&err);
        if (write(fds[1], err.message, strlen(err.message)) < 0)
            _exit(100);
        _exit((int)s);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], message, n - 1);
    message[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return (nf_status)WEXITSTATUS(status);
}

static void test_cuda_refuses_wrong_libraries(void **state)
{
    (void)state;
    char message[1024];
    assert_int_equal(cuda_init_with_library("/nonexistent/libcuda.so.1", message, sizeof message),
                     NF_ERR_NO_DEVICE);
    assert_non_null(strstr(message, "cannot load /nonexistent/libcuda.so.1"));
    assert_null(strchr(message, '\n'));

    assert_int_equal(cuda_init_with_library("libm.so.6", message, sizeof message),
                     NF_ERR_NO_DEVICE);
    assert_non_null(strstr(message, "not a CUDA driver library"));

    /* The toolkit's stub answers every call with an error: say so. */
    const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
    if (access(stub, R_OK) != 0) {
        printf("SKIP: no stub libcuda at %s\n", stub);
        return;
    }
    assert_int_equal(cuda_init_with_library(stub, message, sizeof message), NF_ERR_NO_DEVICE);
    printf("stub libcuda: %s\n", message);
    assert_non_null(strstr(message, "stub"));
    assert_null(strchr(message, '\n'));
}

/* ---- with a CUDA GPU ------------------------------------------------------ */

/* x[i] += 1.0f for i < n: the kernel add_one, its first instruction `first`. */
#define ADD_ONE_ENTRY(first)                                                                     \
    ".visible .entry add_one(\n"                                                                \
    "    .param .u64 param_data,\n"                                                             \
    "    .param .u32 param_n\n"                                                                 \
    ")\n"                                                                                       \
    "{\n"                                                                                       \
    "    .reg .pred %p<2>;\n"                                                                   \
    "    .reg .b32 %r<6>;\n"                                                                    \
    "    .reg .f32 %f<3>;\n"                                                                    \
    "    .reg .b64 %rd<5>;\n"                                                                   \
    "\n" first                                                                                  \
    "    ld.param.u64 %rd1, [param_data];\n"                                                    \
    "    ld.param.u32 %r1, [param_n];\n"                                                        \
    "    mov.u32 %r2, %ctaid.x;\n"                                                              \
    "    mov.u32 %r3, %ntid.x;\n"                                                               \
    "    mov.u32 %r4, %tid.x;\n"                                                                \
    "    mad.lo.s32 %r5, %r2, %r3, %r4;\n"                                                      \
    "    setp.ge.u32 %p1, %r5, %r1;\n"                                                          \
    "    @%p1 bra DONE;\n"                                                                      \
    "    cvta.to.global.u64 %rd2, %rd1;\n"                                                      \
    "    mul.wide.u32 %rd3, %r5, 4;\n"                                                          \
    "    add.s64 %rd4, %rd2, %rd3;\n"                                                           \
    "    ld.global.f32 %f1, [%rd4];\n"                                                          \
    "    add.f32 %f2, %f1, 0f3F800000;\n"                                                       \
    "    st.global.f32 [%rd4], %f2;\n"                                                          \
    "DONE:\n"                                                                                   \
    "    ret;\n"                                                                                \
    "}\n"

/* PTX for sm_75 and up. */
static const char add_one_ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n\n" ADD_ONE_ENTRY("");

/* For sm_90: first waits for the grid before it in the stream, as every
 * kernel nsafuse generates for sm_90 does. Launched programmatically, it
 * may start early, but its read-modify-write may not. */
static const char add_one_waiting_ptx[] =
    ".version 7.8\n.target sm_90\n.address_size 64\n\n" ADD_ONE_ENTRY("    griddepcontrol.wait;\n");

enum { N = 1000, BLOCK = 256 };

typedef struct gpu {
    const nf_device_ops *cuda;
    float host[N], result[N];
    void *data; /* N floats on the device */
} gpu;

static void check_added(const gpu *g, float added, const char *what)
{
    for (int i = 0; i < N; i++)
        if (g->result[i] != g->host[i] + added)
            fail_msg("%s, seed %llu, n=%d: element %d is %g, want %g", what,
                     (unsigned long long)test_seed, N, i, (double)g->result[i],
                     (double)(g->host[i] + added));
}

static int gpu_setup(void **state)
{
    if (!cuda_present) {
        *state = NULL;
        return 0;
    }
    gpu *g = calloc(1, sizeof *g);
    if (!g)
        return -1;
    g->cuda = nf_device_get(NF_DEVICE_CUDA);
    uint64_t rng = test_seed;
    fill_floats(g->host, N, &rng);
    poison(g->result, N);
    if (nf_device_alloc(NF_DEVICE_CUDA, sizeof g->host, &g->data, NULL) != NF_OK ||
        nf_device_copy(g->data, NF_DEVICE_CUDA, g->host, NF_DEVICE_HOST, sizeof g->host, NULL) !=
            NF_OK) {
        free(g);
        return -1;
    }
    *state = g;
    return 0;
}

static int gpu_teardown(void **state)
{
    gpu *g = *state;
    if (g) {
        nf_device_free(NF_DEVICE_CUDA, g->data);
        free(g);
    }
    return 0;
}

static void read_back(gpu *g)
{
    nf_error err = {0};
    poison(g->result, N);
    if (nf_device_copy(g->result, NF_DEVICE_HOST, g->data, NF_DEVICE_CUDA, sizeof g->result,
                       &err) != NF_OK)
        fail_msg("copy back: %s", err.message);
}

static void launch_add_one_as(gpu *g, void *fn, bool programmatic, void *stream)
{
    unsigned n = N, grid[3] = {(N + BLOCK - 1) / BLOCK, 1, 1}, block[3] = {BLOCK, 1, 1};
    void *params[] = {&g->data, &n};
    nf_error err = {0};
    if (g->cuda->launch(fn, grid, block, 0, programmatic, stream, params, &err) != NF_OK)
        fail_msg("launch: %s", err.message);
}

static void launch_add_one(gpu *g, void *fn, void *stream) { launch_add_one_as(g, fn, false, stream); }

static void *load_add_one(gpu *g, const void *image, size_t size, bool is_ptx, void **fn)
{
    void *module = NULL;
    nf_error err = {0};
    if (g->cuda->load_module(image, size, is_ptx, &module, &err) != NF_OK)
        fail_msg("load_module: %s", err.message);
    if (g->cuda->get_function(module, "add_one", fn, &err) != NF_OK)
        fail_msg("get_function: %s", err.message);
    return module;
}

static void test_gpu_device_facts(void **state)
{
    (void)state;
    skip_without_cuda();
    const nf_device_ops *cuda = nf_device_get(NF_DEVICE_CUDA);
    nf_error err = {0};
    char name[256], arch[32];
    int major = 0, minor = 0;
    assert_int_equal(cuda->device_name(name, sizeof name, &err), NF_OK);
    assert_int_equal(cuda->compute_capability(&major, &minor, &err), NF_OK);
    assert_int_equal(cuda->arch_name(arch, sizeof arch, &err), NF_OK);
    printf("device: %s, %s, %d SMs\n", name, arch, cuda->multiprocessor_count());
    assert_true(strlen(name) > 0);
    assert_true(major >= 7);
    char want[32];
    snprintf(want, sizeof want, "sm_%d%d", major, minor);
    assert_string_equal(arch, want);
    assert_true(cuda->multiprocessor_count() > 0);
}

static void test_gpu_memory_round_trip(void **state)
{
    skip_without_cuda();
    gpu *g = *state;
    void *other = NULL;
    nf_error err = {0};
    assert_int_equal(nf_device_alloc(NF_DEVICE_CUDA, sizeof g->host, &other, &err), NF_OK);
    assert_int_equal(nf_device_copy(other, NF_DEVICE_CUDA, g->data, NF_DEVICE_CUDA, sizeof g->host,
                                    &err),
                     NF_OK);
    poison(g->result, N);
    assert_int_equal(nf_device_copy(g->result, NF_DEVICE_HOST, other, NF_DEVICE_CUDA,
                                    sizeof g->result, &err),
                     NF_OK);
    assert_memory_equal(g->result, g->host, sizeof g->host);
    nf_device_free(NF_DEVICE_CUDA, other);
    assert_int_equal(nf_device_alloc(NF_DEVICE_CUDA, 0, &other, &err), NF_OK);
    assert_null(other);
    assert_int_equal(nf_device_alloc(NF_DEVICE_CUDA, (size_t)1 << 50, &other, &err),
                     NF_ERR_NOMEM);
    assert_null(other);
}

static void test_gpu_ptx_kernel(void **state)
{
    skip_without_cuda();
    gpu *g = *state;
    void *fn = NULL;
    /* Without the trailing NUL: load_module must not read past size. */
    void *module = load_add_one(g, add_one_ptx, strlen(add_one_ptx), true, &fn);
    launch_add_one(g, fn, NULL);
    read_back(g);
    check_added(g, 1.0f, "PTX add_one");
    nf_error err = {0};
    void *missing = &err;
    assert_int_equal(g->cuda->get_function(module, "no_such_kernel", &missing, &err),
                     NF_ERR_DRIVER);
    assert_null(missing);
    assert_non_null(strstr(err.message, "no_such_kernel"));
    g->cuda->unload_module(module);
}

static void test_gpu_bad_ptx_reports_jit_log(void **state)
{
    skip_without_cuda();
    gpu *g = *state;
    const char *bad = ".version 7.0\n.target sm_75\n.address_size 64\n"
                      ".visible .entry broken()\n{\n    frobnicate.u32 %r1;\n    ret;\n}\n";
    void *module = &module;
    nf_error err = {0};
    assert_int_equal(g->cuda->load_module(bad, strlen(bad) + 1, true, &module, &err),
                     NF_ERR_COMPILE);
    assert_null(module);
    printf("bad PTX: %s\n", err.message);
    assert_non_null(strstr(err.message, "JIT log"));
    void *cubin = &module;
    size_t size = 1;
    assert_int_equal(g->cuda->link_ptx_to_cubin(bad, &cubin, &size, &err), NF_ERR_COMPILE);
    assert_null(cubin);
    assert_int_equal(size, 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_gpu_cubin_through_disk_cache(void **state)
{
    skip_without_cuda();
    gpu *g = *state;
    nf_error err = {0};
    void *cubin = NULL;
    size_t size = 0;
    if (g->cuda->link_ptx_to_cubin(add_one_ptx, &cubin, &size, &err) != NF_OK)
        fail_msg("link_ptx_to_cubin: %s", err.message);
    assert_true(size > 4);
    assert_memory_equal(cubin, "\177ELF", 4);

    char dir[] = "/tmp/nf_device_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(nf_disk_cache_put_in(dir, "add_one sm_xx", cubin, size, &err), NF_OK);
    free(cubin);
    void *cached = NULL;
    assert_int_equal(nf_disk_cache_get_in(dir, "add_one sm_xx", &cached, &size, &err), NF_OK);
    assert_non_null(cached);
    nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);

    void *fn = NULL;
    void *module = load_add_one(g, cached, size, false, &fn);
    free(cached);
    launch_add_one(g, fn, NULL);
    read_back(g);
    check_added(g, 1.0f, "cubin add_one");
    g->cuda->unload_module(module);
}

typedef struct thread_job {
    gpu *g;
    void *fn;
    nf_status status;
    char message[1024];
} thread_job;

static void *launch_in_thread(void *arg)
{
    thread_job *job = arg;
    unsigned n = N, grid[3] = {(N + BLOCK - 1) / BLOCK, 1, 1}, block[3] = {BLOCK, 1, 1};
    void *params[] = {&job->g->data, &n};
    nf_error err = {0};
    job->status = job->g->cuda->launch(job->fn, grid, block, 0, false, NULL, params, &err);
    if (job->status == NF_OK)
        job->status = job->g->cuda->synchronize(&err);
    snprintf(job->message, sizeof job->message, "%s", err.message);
    return NULL;
}

static void test_gpu_launch_from_a_fresh_thread(void **state)
{
    skip_without_cuda();
    gpu *g = *state;
    thread_job job = {.g = g};
    void *module = load_add_one(g, add_one_ptx, sizeof add_one_ptx, true, &job.fn);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, launch_in_thread, &job), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (job.status != NF_OK)
        fail_msg("launch from a thread with no current context: %s", job.message);
    read_back(g);
    check_added(g, 1.0f, "add_one from another thread");
    g->cuda->unload_module(module);
}

/* 50 launches of add_one captured into a graph and replayed 3 times: every
 * element must have grown by exactly 150. */
static void replay_graph_of_add_one(gpu *g, const char *ptx, size_t ptx_size, bool programmatic)
{
    const nf_device_ops *cuda = g->cuda;
    nf_error err = {0};
    void *fn = NULL, *stream = NULL, *graph = NULL, *start = NULL, *end = NULL;
    void *module = load_add_one(g, ptx, ptx_size, true, &fn);
    assert_int_equal(cuda->stream_create(&stream, &err), NF_OK);
    assert_int_equal(cuda->capture_begin(NULL, &err), NF_ERR_ARG);
    enum { CAPTURED = 50, REPLAYS = 3 };
    assert_int_equal(cuda->capture_begin(stream, &err), NF_OK);
    for (int i = 0; i < CAPTURED; i++)
        launch_add_one_as(g, fn, programmatic, stream);
    if (cuda->capture_end(stream, &graph, &err) != NF_OK)
        fail_msg("capture_end: %s", err.message);
    /* Capturing runs nothing. */
    assert_int_equal(cuda->stream_synchronize(stream, &err), NF_OK);
    read_back(g);
    check_added(g, 0.0f, "after capture, before replay");

    assert_int_equal(cuda->event_create(&start, &err), NF_OK);
    assert_int_equal(cuda->event_create(&end, &err), NF_OK);
    for (int r = 0; r < REPLAYS; r++) {
        assert_int_equal(cuda->event_record(start, stream, &err), NF_OK);
        assert_int_equal(cuda->graph_launch(graph, stream, &err), NF_OK);
        assert_int_equal(cuda->event_record(end, stream, &err), NF_OK);
        float ms = -1;
        assert_int_equal(cuda->event_elapsed_ms(start, end, &ms, &err), NF_OK);
        assert_true(ms > 0);
        printf("graph replay %d%s: %.2f us per captured launch\n", r, programmatic ? " (programmatic)" : "",
               1000.0 * ms / CAPTURED);
    }
    assert_int_equal(cuda->stream_synchronize(stream, &err), NF_OK);
    read_back(g);
    check_added(g, (float)(CAPTURED * REPLAYS),
                programmatic ? "graph of 50 programmatic add_one, replayed 3 times" : "graph of 50 add_one, replayed 3 times");
    cuda->event_destroy(start);
    cuda->event_destroy(end);
    cuda->graph_destroy(graph);
    cuda->stream_destroy(stream);
    cuda->unload_module(module);
}

static void test_gpu_graph_capture_and_replay(void **state)
{
    skip_without_cuda();
    replay_graph_of_add_one(*state, add_one_ptx, sizeof add_one_ptx, false);
}

/* Programmatic dependent launch: each launch may start before the one before
 * it ends; the kernel's wait keeps the 150 increments in order. */
static void test_gpu_programmatic_launches_stay_ordered(void **state)
{
    skip_without_cuda();
    gpu *g = *state;
    int major = 0, minor = 0;
    nf_error err = {0};
    assert_int_equal(g->cuda->compute_capability(&major, &minor, &err), NF_OK);
    if (major < 9) {
        printf("SKIP programmatic launch: compute capability %d.%d, needs 9.0\n", major, minor);
        skip();
    }
    replay_graph_of_add_one(g, add_one_waiting_ptx, sizeof add_one_waiting_ptx, true);
}

int main(void)
{
    const char *env = getenv("NF_TEST_SEED");
    test_seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    printf("test_device: seed %llu (set NF_TEST_SEED to repeat)\n", (unsigned long long)test_seed);
    /* Order matters: the CUDA start test decides whether GPU tests run. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_memory_round_trip),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_cuda_refuses_wrong_libraries),
        cmocka_unit_test(test_cuda_init_works_or_says_why),
        cmocka_unit_test(test_hip_init_works_or_says_why),
        cmocka_unit_test(test_gpu_device_facts),
        cmocka_unit_test_setup_teardown(test_gpu_memory_round_trip, gpu_setup, gpu_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_ptx_kernel, gpu_setup, gpu_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_bad_ptx_reports_jit_log, gpu_setup,
                                        gpu_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_cubin_through_disk_cache, gpu_setup,
                                        gpu_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_launch_from_a_fresh_thread, gpu_setup,
                                        gpu_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_programmatic_launches_stay_ordered, gpu_setup, gpu_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_graph_capture_and_replay, gpu_setup,
                                        gpu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
