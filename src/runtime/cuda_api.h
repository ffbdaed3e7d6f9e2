/* The part of the CUDA driver API nsafuse uses, declared by hand so the build
 * needs no CUDA toolkit: types, the enum values we pass, and the signatures
 * as of the API version we ask cuGetProcAddress for (NF_CUDA_API_VERSION).
 * Values checked against cuda.h of CUDA 13.0. Only src/runtime/cuda.c
 * includes this. */
#ifndef NF_RUNTIME_CUDA_API_H
#define NF_RUNTIME_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

/* Every function below is resolved with the ABI it had in CUDA 12.0: a newer
 * driver hands back that variant (e.g. cuMemAlloc -> cuMemAlloc_v2, and
 * cuCtxSynchronize without the context argument that CUDA 13's _v2 takes).
 * cuGetProcAddress_v2 itself appeared in 12.0, hence the minimum driver. */
#define NF_CUDA_API_VERSION 12000

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct CUlinkState_st *CUlinkState;
typedef int CUjit_option;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_STUB_LIBRARY = 34,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_JIT_COMPILER_NOT_FOUND = 221,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
};

enum { /* CUdevice_attribute */
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
};

enum { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

enum { /* CUjit_option */
    CU_JIT_INFO_LOG_BUFFER = 3,
    CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

enum { CU_JIT_INPUT_PTX = 1 }; /* CUjitInputType */

/* cuLaunchKernelEx's configuration; an attribute's value is a 64-byte union
 * of which nsafuse sets one int. */
enum { CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6 }; /* CUlaunchAttributeID */
typedef struct CUlaunchAttribute {
    int id;
    char pad[4];
    union {
        char pad[64];
        int programmatic_stream_serialization_allowed;
    } value;
} CUlaunchAttribute;
typedef struct CUlaunchConfig {
    unsigned grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes;
    CUstream stream;
    CUlaunchAttribute *attrs;
    unsigned n_attrs;
} CUlaunchConfig;
enum { CU_STREAM_NON_BLOCKING = 1 };
enum { CU_EVENT_DEFAULT = 0 };
enum { CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1 };

enum { CU_GET_PROC_ADDRESS_LEGACY_STREAM = 1 };
enum { CU_GET_PROC_ADDRESS_SUCCESS = 0 };

/* Found with dlsym by these exact names, before anything else. */
typedef CUresult (*nf_pfn_cuGetProcAddress_v2)(const char *symbol, void **pfn, int cuda_version,
                                               uint64_t flags, int *symbol_status);
typedef CUresult (*nf_pfn_cuDriverGetVersion)(int *version);
typedef CUresult (*nf_pfn_cuInit)(unsigned flags);
typedef CUresult (*nf_pfn_cuGetErrorName)(CUresult error, const char **name);
typedef CUresult (*nf_pfn_cuGetErrorString)(CUresult error, const char **text);

/* Resolved through cuGetProcAddress_v2 at NF_CUDA_API_VERSION: X(name, parameters). */
#define NF_CUDA_FUNCTIONS(X)                                                                     \
    X(cuDeviceGetCount, (int *count))                                                            \
    X(cuDeviceGet, (CUdevice * dev, int ordinal))                                                \
    X(cuDeviceGetName, (char *name, int len, CUdevice dev))                                      \
    X(cuDeviceGetAttribute, (int *value, int attribute, CUdevice dev))                           \
    X(cuDevicePrimaryCtxRetain, (CUcontext * ctx, CUdevice dev))                                 \
    X(cuCtxGetCurrent, (CUcontext * ctx))                                                        \
    X(cuCtxSetCurrent, (CUcontext ctx))                                                          \
    X(cuCtxGetDevice, (CUdevice * dev))                                                          \
    X(cuCtxSynchronize, (void))                                                                  \
    X(cuMemAlloc, (CUdeviceptr * ptr, size_t bytes))                                             \
    X(cuMemFree, (CUdeviceptr ptr))                                                              \
    X(cuMemcpyHtoD, (CUdeviceptr dst, const void *src, size_t bytes))                            \
    X(cuMemcpyDtoH, (void *dst, CUdeviceptr src, size_t bytes))                                  \
    X(cuMemcpyDtoD, (CUdeviceptr dst, CUdeviceptr src, size_t bytes))                            \
    X(cuModuleLoadDataEx, (CUmodule * module, const void *image, unsigned n_options,             \
                           CUjit_option *options, void **values))                                \
    X(cuModuleUnload, (CUmodule module))                                                         \
    X(cuModuleGetFunction, (CUfunction * fn, CUmodule module, const char *name))                 \
    X(cuFuncSetAttribute, (CUfunction fn, int attribute, int value))                             \
    X(cuLaunchKernel, (CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,        \
                       unsigned by, unsigned bz, unsigned shared_bytes, CUstream stream,         \
                       void **params, void **extra))                                             \
    X(cuLaunchKernelEx, (const CUlaunchConfig *config, CUfunction fn, void **params, void **extra)) \
    X(cuLinkCreate, (unsigned n_options, CUjit_option *options, void **values,                   \
                     CUlinkState *state))                                                        \
    X(cuLinkAddData, (CUlinkState state, int input_type, void *data, size_t size,                \
                      const char *name, unsigned n_options, CUjit_option *options,               \
                      void **values))                                                            \
    X(cuLinkComplete, (CUlinkState state, void **cubin, size_t *size))                           \
    X(cuLinkDestroy, (CUlinkState state))                                                        \
    X(cuStreamCreate, (CUstream * stream, unsigned flags))                                       \
    X(cuStreamDestroy, (CUstream stream))                                                        \
    X(cuStreamSynchronize, (CUstream stream))                                                    \
    X(cuEventCreate, (CUevent * event, unsigned flags))                                          \
    X(cuEventDestroy, (CUevent event))                                                           \
    X(cuEventRecord, (CUevent event, CUstream stream))                                           \
    X(cuEventSynchronize, (CUevent event))                                                       \
    X(cuEventElapsedTime, (float *ms, CUevent start, CUevent end))                               \
    X(cuStreamBeginCapture, (CUstream stream, int mode))                                         \
    X(cuStreamEndCapture, (CUstream stream, CUgraph * graph))                                    \
    X(cuGraphInstantiateWithFlags, (CUgraphExec * exec, CUgraph graph, unsigned long long flags)) \
    X(cuGraphLaunch, (CUgraphExec exec, CUstream stream))                                        \
    X(cuGraphExecDestroy, (CUgraphExec exec))                                                    \
    X(cuGraphDestroy, (CUgraph graph))                                                           \
    X(cuTensorMapEncodeTiled, (void *map, int dtype, unsigned rank, void *address,               \
                               const uint64_t *dims, const uint64_t *strides, const unsigned *box, \
                               const unsigned *element_strides, int interleave, int swizzle,     \
                               int l2_promotion, int oob_fill))

#endif
