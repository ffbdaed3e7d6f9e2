/* The HIP device: the HIP runtime (ROCm 6+) through dlopen("libamdhip64.so").
 *
 * HIP keeps a current device per thread (device 0 unless the caller chose
 * another); nsafuse works on whichever device the calling thread has, as
 * PyTorch does. Modules are AMD code objects (ELF), never PTX.
 * $NSAFUSE_LIBAMDHIP names another library to load. Untested here: no AMD
 * GPU on the machines this was written on. */
#include "runtime/device.h"
#include "runtime/hip_api.h"

#include "ir/ir.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hip_api {
#define X(name, params) hipError_t(*name) params;
    NF_HIP_FUNCTIONS(X)
#undef X
    nf_pfn_hipGetErrorName hipGetErrorName;
} hip_api;

static hip_api hip;

enum { UNTRIED, READY, FAILED };
static atomic_int init_state = UNTRIED;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static nf_error init_error;
static void *libhip;
static char device_name_text[256];
static char arch_text[64];
static int cc_major, cc_minor, cu_count;

static const char *error_name(hipError_t e)
{
    const char *name = hip.hipGetErrorName ? hip.hipGetErrorName(e) : NULL;
    return name ? name : "unknown HIP error";
}

static nf_status driver_error(nf_error *err, const char *call, hipError_t e)
{
    nf_status s = e == hipErrorOutOfMemory ? NF_ERR_NOMEM : NF_ERR_DRIVER;
    return nf_set_error(err, s, 0, 0, "%s failed: %s (%d)", call, error_name(e), e);
}

static nf_status startup_error(nf_error *err, const char *call, hipError_t e)
{
    const char *hint = e == hipErrorNoDevice
                           ? "no AMD GPU is visible: check rocm-smi and HIP_VISIBLE_DEVICES, or "
                             "use target \"host\""
                           : "check the ROCm installation with rocm-smi, or use target \"host\"";
    return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0, "HIP unavailable: %s failed (%s); %s", call,
                        error_name(e), hint);
}

/* ---- starting ------------------------------------------------------------ */

static void *open_library(char *tried, size_t n)
{
    const char *env = getenv("NSAFUSE_LIBAMDHIP");
    const char *candidates[] = {env && *env ? env : "libamdhip64.so", "libamdhip64.so.7",
                                "libamdhip64.so.6", "/opt/rocm/lib/libamdhip64.so"};
    size_t count = env && *env ? 1 : sizeof candidates / sizeof candidates[0];
    for (size_t i = 0; i < count; i++) {
        void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
    }
    snprintf(tried, n, "%s", count == 1 ? candidates[0] : "libamdhip64.so (and /opt/rocm/lib)");
    return NULL;
}

static nf_status start(nf_error *err)
{
    char tried[256];
    libhip = open_library(tried, sizeof tried);
    if (!libhip)
        return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                            "HIP unavailable: cannot load %s; install ROCm 6 or newer, or use "
                            "target \"host\"",
                            tried);
    *(void **)&hip.hipGetErrorName = dlsym(libhip, "hipGetErrorName");
    static const struct {
        const char *name;
        size_t offset;
    } table[] = {
#define X(name, params) {#name, offsetof(hip_api, name)},
        NF_HIP_FUNCTIONS(X)
#undef X
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        void *fn = dlsym(libhip, table[i].name);
        if (!fn)
            return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                                "HIP unavailable: the HIP runtime has no %s; nsafuse needs ROCm "
                                "6.0 or newer",
                                table[i].name);
        memcpy((char *)&hip + table[i].offset, &fn, sizeof fn);
    }
    hipError_t e = hip.hipInit(0);
    if (e != hipSuccess)
        return startup_error(err, "hipInit", e);
    int count = 0, device = 0;
    if ((e = hip.hipGetDeviceCount(&count)) != hipSuccess)
        return startup_error(err, "hipGetDeviceCount", e);
    if (count == 0)
        return startup_error(err, "hipGetDeviceCount", hipErrorNoDevice);
    if ((e = hip.hipGetDevice(&device)) != hipSuccess)
        return startup_error(err, "hipGetDevice", e);
    nf_hip_device_prop *prop = calloc(1, sizeof *prop);
    if (!prop)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory starting HIP");
    e = hip.hipGetDevicePropertiesR0600(prop, device);
    if (e == hipSuccess) {
        snprintf(device_name_text, sizeof device_name_text, "%.255s", prop->name);
        /* "gfx942:sramecc+:xnack-" -> "gfx942" */
        size_t len = strcspn(prop->gcnArchName, ":");
        snprintf(arch_text, sizeof arch_text, "%.*s", (int)(len < 63 ? len : 63), prop->gcnArchName);
        cc_major = prop->major;
        cc_minor = prop->minor;
        cu_count = prop->multiProcessorCount;
    }
    free(prop);
    if (e != hipSuccess)
        return startup_error(err, "hipGetDeviceProperties", e);
    if (strncmp(arch_text, "gfx", 3) != 0)
        return nf_set_error(err, NF_ERR_NO_DEVICE, 0, 0,
                            "HIP unavailable: unexpected architecture name \"%s\" (a HIP runtime "
                            "with another device properties layout?)",
                            arch_text);
    return NF_OK;
}

static nf_status hip_init(nf_error *err)
{
    if (atomic_load_explicit(&init_state, memory_order_acquire) == READY)
        return NF_OK;
    pthread_mutex_lock(&init_lock);
    if (atomic_load_explicit(&init_state, memory_order_relaxed) == UNTRIED) {
        if (start(&init_error) == NF_OK) {
            atomic_store_explicit(&init_state, READY, memory_order_release);
        } else {
            memset(&hip, 0, sizeof hip);
            if (libhip)
                dlclose(libhip);
            libhip = NULL;
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

#define CALL(err, fn, ...)                                                                       \
    do {                                                                                         \
        nf_status s_ = hip_init(err);                                                            \
        if (s_ != NF_OK)                                                                         \
            return s_;                                                                           \
        hipError_t e_ = hip.fn(__VA_ARGS__);                                                     \
        if (e_ != hipSuccess)                                                                    \
            return driver_error(err, #fn, e_);                                                   \
        return NF_OK;                                                                            \
    } while (0)

/* ---- memory and device facts -------------------------------------------- */

static nf_status hip_alloc(size_t bytes, void **ptr, nf_error *err)
{
    *ptr = NULL;
    if (bytes == 0)
        return NF_OK;
    CALL(err, hipMalloc, ptr, bytes);
}

static void hip_free(void *ptr)
{
    if (ptr && hip_init(NULL) == NF_OK)
        (void)hip.hipFree(ptr);
}

static nf_status hip_copy(void *dst, const void *src, size_t bytes, nf_copy_kind kind, nf_error *err)
{
    if (bytes == 0)
        return NF_OK;
    int hip_kind = kind == NF_COPY_H2D   ? hipMemcpyHostToDevice
                   : kind == NF_COPY_D2H ? hipMemcpyDeviceToHost
                                         : hipMemcpyDeviceToDevice;
    CALL(err, hipMemcpy, dst, src, bytes, hip_kind);
}

static nf_status hip_synchronize(nf_error *err)
{
    nf_status s = hip_init(err);
    if (s != NF_OK)
        return s;
    hipError_t e = hip.hipDeviceSynchronize();
    return e == hipSuccess ? NF_OK : driver_error(err, "hipDeviceSynchronize", e);
}

static nf_status hip_device_name(char *buf, size_t n, nf_error *err)
{
    nf_status s = hip_init(err);
    if (s == NF_OK)
        snprintf(buf, n, "%s", device_name_text);
    return s;
}

static nf_status hip_compute_capability(int *major, int *minor, nf_error *err)
{
    nf_status s = hip_init(err);
    *major = s == NF_OK ? cc_major : 0;
    *minor = s == NF_OK ? cc_minor : 0;
    return s;
}

static nf_status hip_arch_name(char *buf, size_t n, nf_error *err)
{
    nf_status s = hip_init(err);
    if (s == NF_OK)
        snprintf(buf, n, "%s", arch_text);
    return s;
}

static int hip_multiprocessor_count(void) { return hip_init(NULL) == NF_OK ? cu_count : 0; }

/* ---- modules and launches ------------------------------------------------ */

static nf_status hip_load_module(const void *image, size_t size, bool is_ptx, void **module,
                                 nf_error *err)
{
    (void)size; /* a code object is an ELF file: the runtime reads its size from it */
    if (!image || !module)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "load_module: null argument");
    *module = NULL;
    if (is_ptx)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "HIP loads AMD code objects, not PTX");
    nf_status s = hip_init(err);
    if (s != NF_OK)
        return s;
    hipError_t e = hip.hipModuleLoadData((hipModule_t *)module, image);
    if (e != hipSuccess)
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0,
                            "hipModuleLoadData failed: %s (%d); is the code object built for %s?",
                            error_name(e), e, arch_text);
    return NF_OK;
}

static void hip_unload_module(void *module)
{
    if (module && hip_init(NULL) == NF_OK)
        (void)hip.hipModuleUnload(module);
}

static nf_status hip_link_ptx_to_cubin(const char *ptx, void **cubin, size_t *size, nf_error *err)
{
    (void)ptx;
    if (cubin)
        *cubin = NULL;
    if (size)
        *size = 0;
    return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "HIP has no PTX; cache the code object");
}

static nf_status hip_get_function(void *module, const char *name, void **fn, nf_error *err)
{
    if (!module || !name || !fn)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "get_function: null argument");
    *fn = NULL;
    CALL(err, hipModuleGetFunction, (hipFunction_t *)fn, module, name);
}

static nf_status hip_set_max_dynamic_shared(void *fn, unsigned bytes, nf_error *err)
{
    /* AMD needs no opt-in: a kernel may use all of LDS; a launch asking for
     * more than the device has fails there. */
    (void)fn;
    (void)bytes;
    return hip_init(err);
}

static nf_status hip_launch(void *fn, const unsigned grid[3], const unsigned block[3], unsigned shared_bytes,
                            bool programmatic, void *stream, void **params, nf_error *err)
{
    (void)programmatic; /* AMD code never asks for it */
    if (!fn || !grid || !block)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "launch: null argument");
    CALL(err, hipModuleLaunchKernel, fn, grid[0], grid[1], grid[2], block[0], block[1], block[2],
         shared_bytes, stream, params, NULL);
}

/* ---- streams, events, graphs --------------------------------------------- */

static nf_status hip_stream_create(void **stream, nf_error *err)
{
    *stream = NULL;
    CALL(err, hipStreamCreateWithFlags, (hipStream_t *)stream, hipStreamNonBlocking);
}

static void hip_stream_destroy(void *stream)
{
    if (stream && hip_init(NULL) == NF_OK)
        (void)hip.hipStreamDestroy(stream);
}

static nf_status hip_stream_synchronize(void *stream, nf_error *err)
{
    CALL(err, hipStreamSynchronize, stream);
}

static nf_status hip_event_create(void **event, nf_error *err)
{
    *event = NULL;
    CALL(err, hipEventCreate, (hipEvent_t *)event);
}

static void hip_event_destroy(void *event)
{
    if (event && hip_init(NULL) == NF_OK)
        (void)hip.hipEventDestroy(event);
}

static nf_status hip_event_record(void *event, void *stream, nf_error *err)
{
    CALL(err, hipEventRecord, event, stream);
}

static nf_status hip_event_elapsed_ms(void *start, void *end, float *ms, nf_error *err)
{
    *ms = 0;
    nf_status s = hip_init(err);
    if (s != NF_OK)
        return s;
    hipError_t e = hip.hipEventSynchronize(end);
    if (e != hipSuccess)
        return driver_error(err, "hipEventSynchronize", e);
    CALL(err, hipEventElapsedTime, ms, start, end);
}

static nf_status hip_capture_begin(void *stream, nf_error *err)
{
    if (!stream)
        return nf_set_error(err, NF_ERR_ARG, 0, 0,
                            "graph capture needs a stream from stream_create, not the default");
    CALL(err, hipStreamBeginCapture, stream, hipStreamCaptureModeThreadLocal);
}

static nf_status hip_capture_end(void *stream, void **graph, nf_error *err)
{
    *graph = NULL;
    nf_status s = hip_init(err);
    if (s != NF_OK)
        return s;
    hipGraph_t captured = NULL;
    hipError_t e = hip.hipStreamEndCapture(stream, &captured);
    if (e != hipSuccess)
        return driver_error(err, "hipStreamEndCapture", e);
    hipGraphExec_t exec = NULL;
    e = hip.hipGraphInstantiateWithFlags(&exec, captured, 0);
    (void)hip.hipGraphDestroy(captured);
    if (e != hipSuccess)
        return driver_error(err, "hipGraphInstantiateWithFlags", e);
    *graph = exec;
    return NF_OK;
}

static nf_status hip_graph_launch(void *graph, void *stream, nf_error *err)
{
    CALL(err, hipGraphLaunch, graph, stream);
}

static void hip_graph_destroy(void *graph)
{
    if (graph && hip_init(NULL) == NF_OK)
        (void)hip.hipGraphExecDestroy(graph);
}

const nf_device_ops nf_hip_device_ops = {
    .name = "hip",
    .kind = NF_DEVICE_HIP,
    .init = hip_init,
    .alloc = hip_alloc,
    .free = hip_free,
    .copy = hip_copy,
    .synchronize = hip_synchronize,
    .device_name = hip_device_name,
    .compute_capability = hip_compute_capability,
    .arch_name = hip_arch_name,
    .multiprocessor_count = hip_multiprocessor_count,
    .load_module = hip_load_module,
    .unload_module = hip_unload_module,
    .link_ptx_to_cubin = hip_link_ptx_to_cubin,
    .get_function = hip_get_function,
    .set_max_dynamic_shared = hip_set_max_dynamic_shared,
    .launch = hip_launch,
    .stream_create = hip_stream_create,
    .stream_destroy = hip_stream_destroy,
    .stream_synchronize = hip_stream_synchronize,
    .event_create = hip_event_create,
    .event_destroy = hip_event_destroy,
    .event_record = hip_event_record,
    .event_elapsed_ms = hip_event_elapsed_ms,
    .capture_begin = hip_capture_begin,
    .capture_end = hip_capture_end,
    .graph_launch = hip_graph_launch,
    .graph_destroy = hip_graph_destroy,
};
