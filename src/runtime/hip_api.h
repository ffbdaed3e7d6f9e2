/* The part of the HIP runtime API nsafuse uses, declared by hand so the build
 * needs no ROCm: types, enum values and signatures of ROCm 6 and later
 * (hip_runtime_api.h). Only src/runtime/hip.c includes this. */
#ifndef NF_RUNTIME_HIP_API_H
#define NF_RUNTIME_HIP_API_H

#include <stddef.h>
#include <stdint.h>

typedef int hipError_t;
typedef struct ihipModule_t *hipModule_t;
typedef struct ihipModuleSymbol_t *hipFunction_t;
typedef struct ihipStream_t *hipStream_t;
typedef struct ihipEvent_t *hipEvent_t;
typedef struct ihipGraph *hipGraph_t;
typedef struct hipGraphExec *hipGraphExec_t;

enum { hipSuccess = 0, hipErrorOutOfMemory = 2, hipErrorNoDevice = 100 };
enum { hipMemcpyHostToDevice = 1, hipMemcpyDeviceToHost = 2, hipMemcpyDeviceToDevice = 3 };
enum { hipStreamNonBlocking = 1 };
enum { hipStreamCaptureModeThreadLocal = 1 };

/* hipDeviceProp_tR0600 (ROCm 6.0 and later), only the fields we read, at the
 * offsets that layout puts them (x86-64), then room for fields a newer
 * runtime may append: the runtime writes its whole struct into ours. */
typedef struct nf_hip_device_prop {
    char name[256];             /* offset 0 */
    char pad0[308 - 256];
    int warpSize;               /* 308 */
    char pad1[360 - 312];
    int major;                  /* 360 */
    int minor;                  /* 364 */
    char pad2[388 - 368];
    int multiProcessorCount;    /* 388 */
    char pad3[1160 - 392];
    char gcnArchName[256];      /* 1160, e.g. "gfx942:sramecc+:xnack-" */
    char tail[8192];            /* the real struct is 1472 bytes in ROCm 6 and 7 */
} nf_hip_device_prop;

_Static_assert(offsetof(nf_hip_device_prop, warpSize) == 308, "hipDeviceProp_tR0600 layout");
_Static_assert(offsetof(nf_hip_device_prop, major) == 360, "hipDeviceProp_tR0600 layout");
_Static_assert(offsetof(nf_hip_device_prop, multiProcessorCount) == 388,
               "hipDeviceProp_tR0600 layout");
_Static_assert(offsetof(nf_hip_device_prop, gcnArchName) == 1160, "hipDeviceProp_tR0600 layout");

typedef const char *(*nf_pfn_hipGetErrorName)(hipError_t error);

/* Found with dlsym by these exact names: X(name, parameters). */
#define NF_HIP_FUNCTIONS(X)                                                                      \
    X(hipInit, (unsigned flags))                                                                 \
    X(hipGetDeviceCount, (int *count))                                                           \
    X(hipGetDevice, (int *device))                                                               \
    X(hipGetDevicePropertiesR0600, (nf_hip_device_prop * prop, int device))                      \
    X(hipMalloc, (void **ptr, size_t bytes))                                                     \
    X(hipFree, (void *ptr))                                                                      \
    X(hipMemcpy, (void *dst, const void *src, size_t bytes, int kind))                           \
    X(hipDeviceSynchronize, (void))                                                              \
    X(hipModuleLoadData, (hipModule_t * module, const void *image))                              \
    X(hipModuleUnload, (hipModule_t module))                                                     \
    X(hipModuleGetFunction, (hipFunction_t * fn, hipModule_t module, const char *name))          \
    X(hipModuleLaunchKernel, (hipFunction_t fn, unsigned gx, unsigned gy, unsigned gz,           \
                              unsigned bx, unsigned by, unsigned bz, unsigned shared_bytes,      \
                              hipStream_t stream, void **params, void **extra))                  \
    X(hipStreamCreateWithFlags, (hipStream_t * stream, unsigned flags))                          \
    X(hipStreamDestroy, (hipStream_t stream))                                                    \
    X(hipStreamSynchronize, (hipStream_t stream))                                                \
    X(hipEventCreate, (hipEvent_t * event))                                                      \
    X(hipEventDestroy, (hipEvent_t event))                                                       \
    X(hipEventRecord, (hipEvent_t event, hipStream_t stream))                                    \
    X(hipEventSynchronize, (hipEvent_t event))                                                   \
    X(hipEventElapsedTime, (float *ms, hipEvent_t start, hipEvent_t end))                        \
    X(hipStreamBeginCapture, (hipStream_t stream, int mode))                                     \
    X(hipStreamEndCapture, (hipStream_t stream, hipGraph_t * graph))                             \
    X(hipGraphInstantiateWithFlags, (hipGraphExec_t * exec, hipGraph_t graph,                    \
                                     unsigned long long flags))                                  \
    X(hipGraphLaunch, (hipGraphExec_t exec, hipStream_t stream))                                 \
    X(hipGraphExecDestroy, (hipGraphExec_t exec))                                                \
    X(hipGraphDestroy, (hipGraph_t graph))

#endif
