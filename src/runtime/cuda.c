/* The CUDA device: the driver API through dlopen("libcuda.so.1").
 *
 * Every entry point comes from cuGetProcAddress_v2 at NF_CUDA_API_VERSION,
 * so a newer driver hands back the ABI cuda_api.h declares (never a guessed
 * _v2). Work happens in the device's primary context, the one the CUDA
 * runtime and PyTorch use; it is made current on any calling thread that has
 * no current context. $NSAFUSE_LIBCUDA names another library to load (tests). */
#include "runtime/cuda_api.h"
#include "runtime/device.h"

#include "ir/ir.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cuda_api {
#define X(name, params) CUresult(*name) params;
    NF_CUDA_FUNCTIONS(X)
#undef X
    nf_pfn_cuGetErrorName cuGetErrorName;
    nf_pfn_cuGetErrorString cuGetErrorString;
} cuda_api;

static cuda_api cu;

enum { UNTRIED, READY, FAILED };
static atomic_int init_state = UNTRIED;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static nf_error init_error; /* the remembered failure */
static void *libcuda;
static CUdevice device;
static CUcontext primary_context;
static char device_name_text[256];
static int cc_major, cc_minor, sm_count, l2_bytes;

/* ---- errors -------------------------------------------------------------- */

static const char *known_error_name(CUresult r)
{
    switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
    case CUDA_ERROR_STUB_LIBRARY: return "CUDA_ERROR_STUB_LIBRARY";
    case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_PTX: return "CUDA_ERROR_INVALID_PTX";
    default: return NULL;
    }
}

static void describe_error(CUresult r, char *buf, size_t n)
{
    const char *name = NULL, *text = NULL;
    if (cu.cuGetErrorName && cu.cuGetErrorName(r, &name) != CUDA_SUCCESS)
        name = NULL;
    if (cu.cuGetErrorString && cu.cuGetErrorString(r, &text) != CUDA_SUCCESS)
        text = NULL;
    if (!name)
        name = known_error_name(r);
    if (name && text)
        snprintf(buf, n, "%s: %s", name, text);
    else if (name)
        snprintf(buf, n, "%s", name);
    else
        snprintf(buf, n, "CUDA error %d", r);
}

static nf_status driver_error(nf_error *err, const char *call, CUresult r)
{
    char what[256];
    describe_error(r, what, sizeof what);
    nf_status s = r == CUDA_ERROR_OUT_OF_MEMORY ? NF_ERR_NOMEM : NF_ERR_DRIVER;
    return nf_set_error(err, s, 0, 0, "%s failed: %s", call, what);
}

/* What to do about an error that stops CUDA from starting. */
static const char *startup_hint(CUresult r)
{
    switch (r) {
    case CUDA_ERROR_STUB_LIBRARY:
        return "this libcuda is the CUDA toolkit's stub (lib64/stubs): take that directory "
               "out of LD_LIBRARY_PATH so the NVIDIA driver's libcuda.so.1 loads";
    case CUDA_ERROR_NO_DEVICE:
        return "no NVIDIA GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES, or use "
               "target \"host\"";
    default:
        return "check the NVIDIA driver with nvidia-smi, or use target \"host\"";
    }
}

static nf_status startup_error(nf_error *err, const char *call, CUresult r)
{
    char what[256];
    describe_error(r, what, sizeof what);
    return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0, "CUDA unavailable: %s failed (%s); %s", call,
                        what, startup_hint(r));
}

/* A JIT failure: the driver's log, on one line, goes into the message. */
static nf_status jit_error(nf_error *err, const char *call, CUresult r, char *log)
{
    char what[256];
    describe_error(r, what, sizeof what);
    size_t len = strlen(log);
    while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
        log[--len] = '\0';
    for (char *p = log; *p; p++)
        if (*p == '\n')
            *p = ' ';
    bool compile = r == CUDA_ERROR_INVALID_PTX || r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION ||
                   r == CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUDA_ERROR_INVALID_IMAGE ||
                   r == CUDA_ERROR_JIT_COMPILER_NOT_FOUND;
    return nf_set_error(err, compile ? NF_ERR_COMPILE : NF_ERR_DRIVER, 0, 0, "%s failed: %s%s%s",
                        call, what, len ? "; JIT log: " : "", log);
}

/* ---- starting ------------------------------------------------------------ */

static nf_status resolve_functions(nf_pfn_cuGetProcAddress_v2 get_proc, nf_error *err)
{
    static const struct {
        const char *name;
        size_t offset;
    } table[] = {
#define X(name, params) {#name, offsetof(cuda_api, name)},
        NF_CUDA_FUNCTIONS(X)
#undef X
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        void *fn = NULL;
        int found = -1;
        CUresult r = get_proc(table[i].name, &fn, NF_CUDA_API_VERSION,
                              CU_GET_PROC_ADDRESS_LEGACY_STREAM, &found);
        if (r != CUDA_SUCCESS || found != CU_GET_PROC_ADDRESS_SUCCESS || !fn)
            return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                                "CUDA unavailable: the driver has no %s for CUDA 12.0; update "
                                "the NVIDIA driver",
                                table[i].name);
        memcpy((char *)&cu + table[i].offset, &fn, sizeof fn);
    }
    return NF_OK;
}

static nf_status choose_device(nf_error *err)
{
    int count = 0;
    CUresult r = cu.cuDeviceGetCount(&count);
    if (r != CUDA_SUCCESS)
        return startup_error(err, "cuDeviceGetCount", r);
    if (count == 0)
        return startup_error(err, "cuDeviceGetCount", CUDA_ERROR_NO_DEVICE);
    /* A context already current (PyTorch's device) picks the device. */
    CUcontext current = NULL;
    if (cu.cuCtxGetCurrent(&current) != CUDA_SUCCESS || !current ||
        cu.cuCtxGetDevice(&device) != CUDA_SUCCESS) {
        if ((r = cu.cuDeviceGet(&device, 0)) != CUDA_SUCCESS)
            return startup_error(err, "cuDeviceGet", r);
    }
    if ((r = cu.cuDevicePrimaryCtxRetain(&primary_context, device)) != CUDA_SUCCESS)
        return startup_error(err, "cuDevicePrimaryCtxRetain", r);
    if ((r = cu.cuDeviceGetName(device_name_text, sizeof device_name_text, device)) !=
            CUDA_SUCCESS ||
        (r = cu.cuDeviceGetAttribute(&cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                     device)) != CUDA_SUCCESS ||
        (r = cu.cuDeviceGetAttribute(&cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                     device)) != CUDA_SUCCESS ||
        (r = cu.cuDeviceGetAttribute(&sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                     device)) != CUDA_SUCCESS ||
        (r = cu.cuDeviceGetAttribute(&l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, device)) != CUDA_SUCCESS)
        return startup_error(err, "cuDeviceGetAttribute", r);
    return NF_OK;
}

static nf_status start(nf_error *err)
{
    const char *path = getenv("NSAFUSE_LIBCUDA");
    if (!path || !*path)
        path = "libcuda.so.1";
    libcuda = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!libcuda)
        return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                            "CUDA unavailable: cannot load %s (%s); install the NVIDIA driver, "
                            "or use target \"host\"",
                            path, dlerror());
    nf_pfn_cuDriverGetVersion get_version;
    nf_pfn_cuInit init;
    nf_pfn_cuGetProcAddress_v2 get_proc;
    *(void **)&get_version = dlsym(libcuda, "cuDriverGetVersion");
    *(void **)&init = dlsym(libcuda, "cuInit");
    *(void **)&get_proc = dlsym(libcuda, "cuGetProcAddress_v2");
    *(void **)&cu.cuGetErrorName = dlsym(libcuda, "cuGetErrorName");
    *(void **)&cu.cuGetErrorString = dlsym(libcuda, "cuGetErrorString");
    if (!get_version || !init)
        return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                            "CUDA unavailable: %s is not a CUDA driver library; install the "
                            "NVIDIA driver, or use target \"host\"",
                            path);
    int version = 0;
    CUresult r = get_version(&version);
    if (r != CUDA_SUCCESS)
        return startup_error(err, "cuDriverGetVersion", r);
    if (version < NF_CUDA_API_VERSION || !get_proc)
        return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                            "CUDA unavailable: the driver supports CUDA %d.%d, nsafuse needs "
                            "12.0 or newer; update the NVIDIA driver",
                            version / 1000, version % 1000 / 10);
    if ((r = init(0)) != CUDA_SUCCESS)
        return startup_error(err, "cuInit", r);
    nf_status s = resolve_functions(get_proc, err);
    if (s != NF_OK)
        return s;
    return choose_device(err);
}

static nf_status cuda_init(nf_error *err)
{
    if (atomic_load_explicit(&init_state, memory_order_acquire) == READY)
        return NF_OK;
    pthread_mutex_lock(&init_lock);
    if (atomic_load_explicit(&init_state, memory_order_relaxed) == UNTRIED) {
        if (start(&init_error) == NF_OK) {
            atomic_store_explicit(&init_state, READY, memory_order_release);
        } else {
            memset(&cu, 0, sizeof cu);
            if (libcuda)
                dlclose(libcuda);
            libcuda = NULL;
            atomic_store_explicit(&init_state, FAILED, memory_order_release);
        }
    }
    pthread_mutex_unlock(&init_lock);
    if (atomic_load_explicit(&init_state, memory_order_acquire) == READY)
        return NF_OK;
    if (err)
        *err = init_error;
    return init_error.status;
}

/* Started, and a context current on this thread. */
static nf_status ready(nf_error *err)
{
    nf_status s = cuda_init(err);
    if (s != NF_OK)
        return s;
    CUcontext current = NULL;
    CUresult r = cu.cuCtxGetCurrent(&current);
    if (r != CUDA_SUCCESS)
        return driver_error(err, "cuCtxGetCurrent", r);
    if (!current && (r = cu.cuCtxSetCurrent(primary_context)) != CUDA_SUCCESS)
        return driver_error(err, "cuCtxSetCurrent", r);
    return NF_OK;
}

/* Calls a driver function when ready, turning a failure into an nf_error. */
#define CALL(err, fn, ...)                                                                       \
    do {                                                                                         \
        nf_status s_ = ready(err);                                                               \
        if (s_ != NF_OK)                                                                         \
            return s_;                                                                           \
        CUresult r_ = cu.fn(__VA_ARGS__);                                                        \
        if (r_ != CUDA_SUCCESS)                                                                  \
            return driver_error(err, #fn, r_);                                                   \
        return NF_OK;                                                                            \
    } while (0)

/* ---- memory and device facts -------------------------------------------- */

static CUdeviceptr dptr(const void *p) { return (CUdeviceptr)(uintptr_t)p; }

static nf_status cuda_alloc(size_t bytes, void **ptr, nf_error *err)
{
    *ptr = NULL;
    if (bytes == 0)
        return NF_OK;
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    CUdeviceptr p = 0;
    CUresult r = cu.cuMemAlloc(&p, bytes);
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of GPU memory allocating %zu bytes",
                            bytes);
    if (r != CUDA_SUCCESS)
        return driver_error(err, "cuMemAlloc", r);
    *ptr = (void *)(uintptr_t)p;
    return NF_OK;
}

static void cuda_free(void *ptr)
{
    if (ptr && ready(NULL) == NF_OK)
        (void)cu.cuMemFree(dptr(ptr));
}

static nf_status cuda_copy(void *dst, const void *src, size_t bytes, nf_copy_kind kind,
                           nf_error *err)
{
    if (bytes == 0)
        return NF_OK;
    switch (kind) {
    case NF_COPY_H2D: CALL(err, cuMemcpyHtoD, dptr(dst), src, bytes);
    case NF_COPY_D2H: CALL(err, cuMemcpyDtoH, dst, dptr(src), bytes);
    case NF_COPY_D2D: CALL(err, cuMemcpyDtoD, dptr(dst), dptr(src), bytes);
    }
    return nf_set_error(err, NF_ERR_ARG, 0, 0, "unknown copy kind %d", (int)kind);
}

static nf_status cuda_synchronize(nf_error *err)
{
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    CUresult r = cu.cuCtxSynchronize();
    return r == CUDA_SUCCESS ? NF_OK : driver_error(err, "cuCtxSynchronize", r);
}

static nf_status cuda_device_name(char *buf, size_t n, nf_error *err)
{
    nf_status s = cuda_init(err);
    if (s == NF_OK)
        snprintf(buf, n, "%s", device_name_text);
    return s;
}

static nf_status cuda_compute_capability(int *major, int *minor, nf_error *err)
{
    nf_status s = cuda_init(err);
    *major = s == NF_OK ? cc_major : 0;
    *minor = s == NF_OK ? cc_minor : 0;
    return s;
}

static nf_status cuda_arch_name(char *buf, size_t n, nf_error *err)
{
    nf_status s = cuda_init(err);
    if (s == NF_OK)
        snprintf(buf, n, "sm_%d%d", cc_major, cc_minor);
    return s;
}

static int cuda_multiprocessor_count(void) { return cuda_init(NULL) == NF_OK ? sm_count : 0; }
static int64_t cuda_l2_cache_bytes(void) { return cuda_init(NULL) == NF_OK ? l2_bytes : 0; }

/* ---- modules and launches ------------------------------------------------ */

#define JIT_OPTIONS(info, error)                                                                 \
    CUjit_option options[4] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,        \
                               CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};     \
    void *values[4] = {info, (void *)(uintptr_t)sizeof info, error,                              \
                       (void *)(uintptr_t)sizeof error}

static nf_status cuda_load_module(const void *image, size_t size, bool is_ptx, void **module,
                                  nf_error *err)
{
    if (!image || !module)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "load_module: null argument");
    *module = NULL;
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    char *terminated = NULL; /* the driver reads PTX up to a NUL */
    if (is_ptx && (size == 0 || ((const char *)image)[size - 1] != '\0')) {
        if (!(terminated = malloc(size + 1)))
            return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory loading PTX");
        memcpy(terminated, image, size);
        terminated[size] = '\0';
        image = terminated;
    }
    char info[2048] = "", error[8192] = "";
    JIT_OPTIONS(info, error);
    CUmodule m = NULL;
    CUresult r = cu.cuModuleLoadDataEx(&m, image, 4, options, values);
    free(terminated);
    if (r != CUDA_SUCCESS)
        return jit_error(err, "cuModuleLoadDataEx", r, error);
    *module = m;
    return NF_OK;
}

static void cuda_unload_module(void *module)
{
    if (module && ready(NULL) == NF_OK)
        (void)cu.cuModuleUnload(module);
}

static nf_status cuda_link_ptx_to_cubin(const char *ptx, void **cubin, size_t *size, nf_error *err)
{
    if (!ptx || !cubin || !size)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "link_ptx_to_cubin: null argument");
    *cubin = NULL;
    *size = 0;
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    char info[2048] = "", error[8192] = "";
    JIT_OPTIONS(info, error);
    CUlinkState link = NULL;
    CUresult r = cu.cuLinkCreate(4, options, values, &link);
    if (r != CUDA_SUCCESS)
        return jit_error(err, "cuLinkCreate", r, error);
    void *out = NULL;
    size_t out_size = 0;
    if ((r = cu.cuLinkAddData(link, CU_JIT_INPUT_PTX, (void *)ptx, strlen(ptx) + 1, "nsafuse.ptx",
                              0, NULL, NULL)) != CUDA_SUCCESS) {
        s = jit_error(err, "cuLinkAddData", r, error);
    } else if ((r = cu.cuLinkComplete(link, &out, &out_size)) != CUDA_SUCCESS) {
        s = jit_error(err, "cuLinkComplete", r, error);
    } else if (!(*cubin = malloc(out_size ? out_size : 1))) { /* out belongs to link */
        s = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory copying a cubin");
    } else {
        memcpy(*cubin, out, out_size);
        *size = out_size;
    }
    (void)cu.cuLinkDestroy(link);
    return s;
}

static nf_status cuda_get_function(void *module, const char *name, void **fn, nf_error *err)
{
    if (!module || !name || !fn)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "get_function: null argument");
    *fn = NULL;
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    CUfunction f = NULL;
    CUresult r = cu.cuModuleGetFunction(&f, module, name);
    if (r != CUDA_SUCCESS) {
        char what[256];
        describe_error(r, what, sizeof what);
        return nf_set_error(err, NF_ERR_DRIVER, 0, 0, "no kernel %s in the module: %s", name, what);
    }
    *fn = f;
    return NF_OK;
}

static nf_status cuda_set_max_dynamic_shared(void *fn, unsigned bytes, nf_error *err)
{
    CALL(err, cuFuncSetAttribute, fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)bytes);
}

/* CUtensorMapDataType, CUtensorMapSwizzle, ... values of cuda.h */
enum { TMA_F16 = 6, TMA_F32 = 7, TMA_BF16 = 9, TMA_SWIZZLE_128B = 3, TMA_L2_256B = 3 };

static nf_status cuda_tensor_map_2d(void *map, const void *base, nf_dtype dtype, uint64_t rows, uint64_t cols,
                                    uint64_t row_stride, unsigned box_rows, unsigned box_cols, nf_error *err)
{
    int code = dtype == NF_BF16 ? TMA_BF16 : dtype == NF_F16 ? TMA_F16 : dtype == NF_F32 ? TMA_F32 : -1;
    if (code < 0)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "TMA descriptor for %s", nf_dtype_name(dtype));
    uint64_t dims[2] = {cols, rows}, strides[1] = {row_stride};
    unsigned box[2] = {box_cols, box_rows}, element_strides[2] = {1, 1};
    CALL(err, cuTensorMapEncodeTiled, map, code, 2, (void *)base, dims, strides, box,
         element_strides, 0, TMA_SWIZZLE_128B, TMA_L2_256B, 0);
}

static nf_status cuda_launch(void *fn, const unsigned grid[3], const unsigned block[3], unsigned shared_bytes,
                             bool programmatic, void *stream, void **params, nf_error *err)
{
    if (!fn || !grid || !block)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "launch: null argument");
    if (programmatic) {
        /* The grid may start while the previous one in the stream finishes
         * (programmatic dependent launch, sm_90): its code waits for that
         * grid (griddepcontrol.wait) before it touches memory. */
        CUlaunchAttribute attr = {.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
                                  .value.programmatic_stream_serialization_allowed = 1};
        CUlaunchConfig config = {grid[0], grid[1], grid[2], block[0], block[1], block[2], shared_bytes, stream, &attr, 1};
        CALL(err, cuLaunchKernelEx, &config, fn, params, NULL);
    }
    CALL(err, cuLaunchKernel, fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared_bytes, stream,
         params, NULL);
}

/* ---- streams, events, graphs --------------------------------------------- */

static nf_status cuda_stream_create(void **stream, nf_error *err)
{
    *stream = NULL;
    CALL(err, cuStreamCreate, (CUstream *)stream, CU_STREAM_NON_BLOCKING);
}

static void cuda_stream_destroy(void *stream)
{
    if (stream && ready(NULL) == NF_OK)
        (void)cu.cuStreamDestroy(stream);
}

static nf_status cuda_stream_synchronize(void *stream, nf_error *err)
{
    CALL(err, cuStreamSynchronize, stream);
}

static nf_status cuda_event_create(void **event, nf_error *err)
{
    *event = NULL;
    CALL(err, cuEventCreate, (CUevent *)event, CU_EVENT_DEFAULT);
}

static void cuda_event_destroy(void *event)
{
    if (event && ready(NULL) == NF_OK)
        (void)cu.cuEventDestroy(event);
}

static nf_status cuda_event_record(void *event, void *stream, nf_error *err)
{
    CALL(err, cuEventRecord, event, stream);
}

static nf_status cuda_event_elapsed_ms(void *start, void *end, float *ms, nf_error *err)
{
    *ms = 0;
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    CUresult r = cu.cuEventSynchronize(end);
    if (r != CUDA_SUCCESS)
        return driver_error(err, "cuEventSynchronize", r);
    CALL(err, cuEventElapsedTime, ms, start, end);
}

static nf_status cuda_capture_begin(void *stream, nf_error *err)
{
    if (!stream)
        return nf_set_error(err, NF_ERR_ARG, 0, 0,
                            "graph capture needs a stream from stream_create, not the default");
    /* Thread-local mode: other threads' driver calls stay unaffected. */
    CALL(err, cuStreamBeginCapture, stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
}

static nf_status cuda_capture_end(void *stream, void **graph, nf_error *err)
{
    *graph = NULL;
    nf_status s = ready(err);
    if (s != NF_OK)
        return s;
    CUgraph captured = NULL;
    CUresult r = cu.cuStreamEndCapture(stream, &captured);
    if (r != CUDA_SUCCESS)
        return driver_error(err, "cuStreamEndCapture", r);
    CUgraphExec exec = NULL;
    r = cu.cuGraphInstantiateWithFlags(&exec, captured, 0);
    (void)cu.cuGraphDestroy(captured); /* the executable graph does not need it */
    if (r != CUDA_SUCCESS)
        return driver_error(err, "cuGraphInstantiateWithFlags", r);
    *graph = exec;
    return NF_OK;
}

static nf_status cuda_graph_launch(void *graph, void *stream, nf_error *err)
{
    CALL(err, cuGraphLaunch, graph, stream);
}

static void cuda_graph_destroy(void *graph)
{
    if (graph && ready(NULL) == NF_OK)
        (void)cu.cuGraphExecDestroy(graph);
}

const nf_device_ops nf_cuda_device_ops = {
    .name = "cuda",
    .kind = NF_DEVICE_CUDA,
    .init = cuda_init,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy = cuda_copy,
    .synchronize = cuda_synchronize,
    .device_name = cuda_device_name,
    .compute_capability = cuda_compute_capability,
    .arch_name = cuda_arch_name,
    .multiprocessor_count = cuda_multiprocessor_count,
    .l2_cache_bytes = cuda_l2_cache_bytes,
    .load_module = cuda_load_module,
    .unload_module = cuda_unload_module,
    .link_ptx_to_cubin = cuda_link_ptx_to_cubin,
    .get_function = cuda_get_function,
    .set_max_dynamic_shared = cuda_set_max_dynamic_shared,
    .tensor_map_2d = cuda_tensor_map_2d,
    .launch = cuda_launch,
    .stream_create = cuda_stream_create,
    .stream_destroy = cuda_stream_destroy,
    .stream_synchronize = cuda_stream_synchronize,
    .event_create = cuda_event_create,
    .event_destroy = cuda_event_destroy,
    .event_record = cuda_event_record,
    .event_elapsed_ms = cuda_event_elapsed_ms,
    .capture_begin = cuda_capture_begin,
    .capture_end = cuda_capture_end,
    .graph_launch = cuda_graph_launch,
    .graph_destroy = cuda_graph_destroy,
};
