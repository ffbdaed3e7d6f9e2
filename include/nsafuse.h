/* nsafuse: a JIT kernel-fusion compiler for small tensor graphs.
 *
 * One public header. Every call that can fail returns an nf_status and, when
 * given a non-NULL nf_error, fills it with a message (and, for graph text, the
 * line and column). The library never prints, exits or aborts.
 */
#ifndef NSAFUSE_H
#define NSAFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from libnsafuse.so; everything else stays inside. */
#if defined(__GNUC__)
#define NF_API __attribute__((visibility("default")))
#else
#define NF_API
#endif

#define NF_VERSION_STRING "0.1.0"
#define NF_MAX_DIMS 8

/* ---- status and errors -------------------------------------------------- */

typedef enum nf_status {
    NF_OK = 0,
    NF_ERR_PARSE,       /* malformed graph text */
    NF_ERR_TYPE,        /* verifier: wrong dtype, shape, arity, name */
    NF_ERR_ARG,         /* bad argument to an API call (null, shape, alignment) */
    NF_ERR_UNSUPPORTED, /* valid but not implemented (says what is missing) */
    NF_ERR_NOMEM,
    NF_ERR_IO,          /* file or cache I/O */
    NF_ERR_NO_DEVICE,   /* no GPU, no driver, driver too old */
    NF_ERR_DRIVER,      /* the driver refused a call */
    NF_ERR_COMPILE,     /* LLVM or the driver's JIT failed */
} nf_status;

/* Categories for exit codes: user errors vs environment errors. */
NF_API bool nf_status_is_user_error(nf_status s);
NF_API const char *nf_status_name(nf_status s);

typedef struct nf_error {
    nf_status status;
    int line, col;      /* 1-based position in graph text; 0 when not about text */
    char message[1024];
} nf_error;

/* ---- dtypes -------------------------------------------------------------- */

typedef enum nf_dtype {
    NF_BF16,
    NF_F16,
    NF_F32,
    NF_F64,
    NF_I32,
    NF_I64,
    NF_BOOL,
    NF_F8E4M3, /* float8_e4m3fn: no infinities, one NaN pattern per sign */
    NF_DTYPE_COUNT,
    NF_DTYPE_NONE = -1,
} nf_dtype;

NF_API const char *nf_dtype_name(nf_dtype t);      /* "bf16", ... */
NF_API size_t nf_dtype_size(nf_dtype t);           /* bytes per element */
NF_API bool nf_dtype_is_float(nf_dtype t);
NF_API bool nf_dtype_from_name(const char *name, size_t len, nf_dtype *out);

/* ---- tensors (DLPack-compatible plain struct) ---------------------------- */

typedef enum nf_device_kind { NF_DEVICE_HOST = 0, NF_DEVICE_CUDA = 1, NF_DEVICE_HIP = 2 } nf_device_kind;

/* A strided view of memory. Strides count elements, as in PyTorch. */
typedef struct nf_tensor {
    void *data;
    nf_dtype dtype;
    int rank;
    int64_t shape[NF_MAX_DIMS];
    int64_t strides[NF_MAX_DIMS];
    nf_device_kind device;
    int device_id;
} nf_tensor;

/* A DLPack DLTensor (dlpack.h; what PyTorch, NumPy and CuPy export) as an
 * nf_tensor: data + byte_offset, shape, strides (NULL: row-major), device. */
NF_API nf_status nf_tensor_from_dlpack(const void *dltensor, nf_tensor *out, nf_error *err);

/* Fills shape and contiguous (row-major) strides. */
NF_API void nf_tensor_init(nf_tensor *t, void *data, nf_dtype dtype, int rank, const int64_t *shape);
NF_API int64_t nf_tensor_numel(const nf_tensor *t);

/* ---- graphs -------------------------------------------------------------- */

typedef struct nf_graph nf_graph;
typedef struct nf_value nf_value;

/* One dimension of a parameter's type: a size, or a named symbolic size. */
typedef struct nf_dim {
    int64_t size;
    const char *sym; /* non-NULL: symbolic, bound per call */
} nf_dim;

typedef enum nf_op {
#define NF_OP(id, name, kind) NF_OP_##id,
#include "nsafuse_ops.def"
#undef NF_OP
    NF_OP_COUNT
} nf_op;

NF_API const char *nf_op_name(nf_op op);

/* Building. The builder is sticky: after the first error every call returns
 * NULL and nf_graph_error() reports that first error. */
NF_API nf_graph *nf_graph_new(const char *name);
NF_API void nf_graph_free(nf_graph *g);
NF_API const nf_error *nf_graph_error(const nf_graph *g); /* NULL when fine */
NF_API const char *nf_graph_name(const nf_graph *g);

NF_API nf_value *nf_param(nf_graph *g, const char *name, nf_dtype dtype, int rank, const nf_dim *dims);
NF_API nf_value *nf_scalar(nf_graph *g, double value);    /* a Python float literal */
NF_API nf_value *nf_scalar_int(nf_graph *g, int64_t value); /* a Python int literal */

NF_API nf_value *nf_unary(nf_graph *g, nf_op op, nf_value *a);  /* neg abs exp ... gelu */
NF_API nf_value *nf_binary(nf_graph *g, nf_op op, nf_value *a, nf_value *b);
NF_API nf_value *nf_gelu(nf_graph *g, nf_value *a, bool approximate_tanh);
NF_API nf_value *nf_cast(nf_graph *g, nf_value *a, nf_dtype dtype);
NF_API nf_value *nf_unsqueeze(nf_graph *g, nf_value *a, int64_t dim);
NF_API nf_value *nf_squeeze(nf_graph *g, nf_value *a, int64_t dim);
NF_API nf_value *nf_transpose(nf_graph *g, nf_value *a, int64_t d0, int64_t d1);
/* end is clamped as Python slicing does; step >= 1 */
NF_API nf_value *nf_slice(nf_graph *g, nf_value *a, int64_t dim, int64_t start, int64_t end, int64_t step);
/* out_dtype NF_DTYPE_NONE: the inputs' dtype */
NF_API nf_value *nf_linear(nf_graph *g, nf_value *x, nf_value *w, nf_dtype out_dtype);
NF_API nf_value *nf_matmul(nf_graph *g, nf_value *a, nf_value *b, bool trans_b, nf_dtype out_dtype);
/* Rotary position embedding (docs/ROPE.md): x[N..., R] rotated by the cos and
 * sin in cos_sin_cache[P, R] (cos in the first R/2 columns, sin in the rest)
 * at row positions[N...]; neox style pairs (j, j + R/2), interleaved (2j, 2j + 1). */
NF_API nf_value *nf_rope(nf_graph *g, nf_value *x, nf_value *cos_sin_cache, nf_value *positions, bool interleaved);
/* Names a value (for printing); NULL name clears. Returns v. */
NF_API nf_value *nf_name(nf_graph *g, nf_value *v, const char *name);
NF_API nf_status nf_graph_return(nf_graph *g, int n, nf_value *const *values);

/* Text. Parses the graph named graph_name (NULL: the first) from text.
 * filename only labels messages. On error returns NULL and fills err. */
NF_API nf_graph *nf_graph_parse(const char *text, size_t len, const char *filename,
                         const char *graph_name, nf_error *err);
/* Names of the graphs in a file, newline-separated, malloc'd. */
NF_API char *nf_graph_list(const char *text, size_t len, nf_error *err);
/* Text form of a graph with every type written out. malloc'd; free with free(). */
NF_API char *nf_graph_print(const nf_graph *g);

/* Introspection. */
NF_API int nf_graph_num_params(const nf_graph *g);
NF_API int nf_graph_num_outputs(const nf_graph *g);
NF_API const nf_value *nf_graph_param(const nf_graph *g, int i);
NF_API const nf_value *nf_graph_output(const nf_graph *g, int i);
NF_API nf_dtype nf_value_dtype(const nf_value *v);
NF_API int nf_value_rank(const nf_value *v);
NF_API const char *nf_value_name(const nf_value *v);

/* ---- symbolic sizes ------------------------------------------------------ */

typedef struct nf_bindings {
    int n;
    const char *names[16];
    int64_t sizes[16];
} nf_bindings;

/* Symbols of the graph, in order of first appearance. */
NF_API int nf_graph_num_symbols(const nf_graph *g);
NF_API const char *nf_graph_symbol(const nf_graph *g, int i);

/* Binds the graph's symbols from its inputs' shapes (and checks every fixed
 * size); symbols already in b are kept and checked. */
NF_API nf_status nf_bind_from_inputs(const nf_graph *g, const nf_tensor *inputs, int n_inputs,
                              nf_bindings *b, nf_error *err);
/* Concrete shape of a parameter or output under bindings. */
NF_API nf_status nf_param_shape(const nf_graph *g, int i, const nf_bindings *b, int *rank,
                         int64_t *shape, nf_error *err);
NF_API nf_status nf_output_shape(const nf_graph *g, int i, const nf_bindings *b, int *rank,
                          int64_t *shape, nf_error *err);

/* ---- the reference interpreter ------------------------------------------ */

/* Runs the graph op by op on the CPU, storing every intermediate in its dtype
 * as PyTorch eager does. Inputs and outputs are host tensors with any strides;
 * outputs must have the output shapes and dtypes. */
NF_API nf_status nf_interpret(const nf_graph *g, const nf_tensor *inputs, int n_inputs,
                       const nf_tensor *outputs, int n_outputs, nf_error *err);

/* ---- host tensor utilities (tests, the CLI, benchmarks) ----------------- */

/* Fills a host tensor with seeded random data, never zero: floats uniform in
 * +-[0.0625, 1] (rounded to the dtype), integers in +-[1, 8], bools random. */
NF_API nf_status nf_tensor_fill_random(const nf_tensor *t, uint64_t seed, nf_error *err);
/* Poisons a host tensor: NaN for floats, a sentinel for integers. */
NF_API nf_status nf_tensor_fill_poison(const nf_tensor *t, nf_error *err);

typedef struct nf_tolerance {
    double atol, rtol; /* pass when |got - want| <= atol + rtol * |want|; NaN == NaN */
} nf_tolerance;

typedef struct nf_compare_result {
    double max_abs_err, max_rel_err;
    int64_t n_mismatch;
    int64_t first_mismatch;   /* flat index, -1 if none */
    double first_got, first_want;
} nf_compare_result;

/* The tolerance within which compiled code matches the interpreter on output
 * `output` of g (derived in docs/FUSION.md): zero where the rounding sequence
 * is the same. max_abs: the reference output's largest finite magnitude. */
NF_API nf_tolerance nf_graph_tolerance(const nf_graph *g, int output, double max_abs);

NF_API nf_status nf_tensor_compare(const nf_tensor *got, const nf_tensor *want, nf_tolerance tol,
                            nf_compare_result *res, nf_error *err);
/* Copies a host tensor's elements in row-major logical order into out
 * (nf_tensor_numel(t) doubles): exact for every float dtype, integers rounded
 * to double, bools 0 or 1. For printing and summaries. */
NF_API nf_status nf_tensor_to_f64(const nf_tensor *t, double *out, nf_error *err);

/* ---- compiling and running ---------------------------------------------- */

typedef struct nf_compile_options {
    const char *target; /* "host", "cuda" (the current device), "sm_80", "sm_90",
                           "gfx90a", "gfx942", "gfx950" */
    bool keep_fp32;     /* drop rounding of intermediates to narrow dtypes inside fused kernels */
    bool unfused;       /* every op its own kernel: the eager baseline */
    /* Inputs (bit i: input i) the caller promises not to change between
     * calls, such as weights: the kernel may make data from them once and
     * keep it. An f32 weight that a tensor-core GEMM on sm_90 splits into
     * three bf16 terms is split at the first call that passes it (which
     * synchronizes the device once) instead of in every block of every
     * call. A call that passes another tensor there makes them again; after
     * changing a constant's contents in place, say so with
     * nf_kernel_constants_changed. */
    uint32_t constant_inputs;
} nf_compile_options;

NF_API void nf_compile_options_init(nf_compile_options *o);
/* The device a target's kernels run on ("host"; "cuda" and sm_*: CUDA;
 * "hip" and gfx*: HIP), where its tensors must live. False for any other
 * name; nf_compile says which architectures exist. */
NF_API bool nf_target_device(const char *target, nf_device_kind *device);

/* A compiled graph. Code is generated per concrete signature (sizes, strides,
 * dtypes) on first use and cached; nf_kernel_run is safe from several threads. */
typedef struct nf_kernel nf_kernel;

NF_API nf_status nf_compile(const nf_graph *g, const nf_compile_options *o, nf_kernel **out, nf_error *err);
NF_API void nf_kernel_free(nf_kernel *k);
/* Runs on tensors of the target's device; stream is the caller's CUstream /
 * hipStream_t (NULL: the default stream), ignored on the host. A signature's
 * GPU working memory (temporaries, the split-K GEMM's workspace and counters)
 * belongs to the nf_kernel: its runs must not overlap on the GPU, so keep one
 * kernel's calls (and the graphs that hold them) on one stream at a time, or
 * compile one nf_kernel per concurrent stream. */
NF_API nf_status nf_kernel_run(nf_kernel *k, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                        int n_outputs, void *stream, nf_error *err);

/* The contents of the inputs declared constant (constant_inputs) changed:
 * the next call makes what was made from them again. */
NF_API void nf_kernel_constants_changed(nf_kernel *k);

/* Compiles ahead of the first call, for each of the n bindings of the
 * graph's symbolic sizes (sizes[i]: T = 1, 8, ...), the code that a call with
 * contiguous, 16-byte aligned tensors of those sizes runs, so that call finds
 * it ready (and on NVIDIA a later process finds it in the disk cache).
 * Signatures compile on up to `threads` threads at once (0: one per core),
 * which is how a server warms its batch sizes up in a fraction of the serial
 * time. Calls of signatures compiled already never wait behind a compile.
 * On failure returns the first error, naming the sizes; the others still
 * compile. */
NF_API nf_status nf_kernel_prepare(nf_kernel *k, const nf_bindings *sizes, int n, int threads, nf_error *err);

/* What `nsafuse dump` prints: what is "ir", "fused", "llvm", "ptx", "amdgcn"
 * (text) or "hsaco" (binary), for the sizes in b. *out is malloc'd. */
NF_API nf_status nf_kernel_dump(nf_kernel *k, const char *what, const nf_bindings *b, char **out, size_t *len,
                         nf_error *err);

typedef struct nf_kernel_stats {
    int kernels;           /* kernels launched by the last run (before any run: the plan's kernels) */
    int compiled_signatures;
    double last_compile_ms; /* codegen + load of the last signature compiled */
    bool last_from_disk_cache; /* it was loaded from the disk cache: no LLVM, no driver JIT */
    double last_llvm_ms;    /* of last_compile_ms: LLVM, IR to machine code or PTX (0 from the disk cache) */
    double last_driver_ms;  /* of last_compile_ms: the driver's PTX compile and the module load (GPU) */
} nf_kernel_stats;
NF_API void nf_kernel_get_stats(const nf_kernel *k, nf_kernel_stats *s);

/* ---- guarded copies ------------------------------------------------------- */

typedef enum nf_copy_path {
    NF_COPY_SKIPPED, /* the very same view (address, shape, strides): nothing to do */
    NF_COPY_DIRECT,  /* disjoint memory: one copy kernel */
    NF_COPY_STAGED,  /* overlapping memory: through a temporary (synchronizes the stream on a GPU) */
    NF_COPY_IN_PLACE, /* nf_kernel_run_paths: stored by the kernel over the very view of an input it reads */
} nf_copy_path;

/* dst = src for two strided views of one dtype and shape on one device, on
 * the caller's stream. Unlike a guard on data pointers alone, two views that
 * start at one address with other strides are copied, and partly
 * overlapping views still give the source's old values. *path (may be NULL)
 * says what was done. */
NF_API nf_status nf_copy(const nf_tensor *dst, const nf_tensor *src, void *stream, nf_copy_path *path, nf_error *err);

/* nf_kernel_run, where outputs may be views of the inputs' memory or of each
 * other (docs/ROPE.md): the result is always the interpreter's (every output
 * computed from the inputs as they were, outputs written in order), and
 * paths[i] (paths may be NULL) says how output i got there: SKIPPED (it is a
 * view of an input, through the graph's views, and its tensor is that very
 * view), DIRECT (it shares no memory), IN_PLACE (the kernel stores it over
 * the view of an input it reads, each element after reading what it needs),
 * STAGED (any other overlap: through a temporary). nf_kernel_run does the same. */
NF_API nf_status nf_kernel_run_paths(nf_kernel *k, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                                     int n_outputs, void *stream, nf_copy_path *paths, nf_error *err);

/* ---- device memory (for hosts without their own framework) -------------- */

/* device: NF_DEVICE_HOST, or the kind matching the target. */
NF_API nf_status nf_device_alloc(nf_device_kind device, size_t bytes, void **ptr, nf_error *err);
NF_API void nf_device_free(nf_device_kind device, void *ptr);
NF_API nf_status nf_device_copy(void *dst, nf_device_kind dst_device, const void *src, nf_device_kind src_device,
                         size_t bytes, nf_error *err);
NF_API nf_status nf_device_synchronize(nf_device_kind device, nf_error *err);

/* ---- the disk cache of compiled kernels ---------------------------------- */

/* The cache lives in $NSAFUSE_CACHE_DIR, else $XDG_CACHE_HOME/nsafuse, else
 * ~/.cache/nsafuse; its entries are the files ending in ".nfk". */
/* A listing for people: the directory, then one entry a line (name, size in
 * bytes, modification time, UTC). *text is malloc'd. A missing directory is
 * an empty cache. */
NF_API nf_status nf_cache_list(char **text, nf_error *err);
/* Removes every entry (only files ending in ".nfk"; nothing else is touched). */
NF_API nf_status nf_cache_clear(nf_error *err);

#ifdef __cplusplus
}
#endif
#endif
