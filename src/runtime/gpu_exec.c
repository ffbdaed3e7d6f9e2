/* GPU signatures: PTX (or an AMD code object) from LLVM, loaded through the
 * device table, with the driver's cubin kept in the disk cache so that a new
 * process loads it without LLVM or the driver's JIT. */
#include "runtime/runtime.h"
#include "codegen/emit.h"
#include "runtime/device.h"
#include "runtime/disk_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A kernel's last TMA descriptors: encoding one costs a fraction of a
 * microsecond of host time, and callers mostly pass the same buffers again.
 * Everything but the address is fixed by the signature. */
typedef struct tma_cache {
    const void *base[2];
    unsigned char map[2][128];
} tma_cache;

struct nf_gpu_code {
    const nf_device_ops *dev;
    pthread_mutex_t tma_lock;
    tma_cache *tma;  /* by kernel */
    void *module;
    void **fns;
    nf_launch *launch;
    void **scratch;  /* by kernel: zeroed once; the kernels keep what the next launch expects there */
    void **temps;    /* by slot; temporaries live as long as the signature */
    int n_slots, n_kernels;
    bool from_disk;  /* loaded from the disk cache: no LLVM, no JIT */
    double llvm_ms, driver_ms; /* compiling it, when not from the disk cache */
};

static nf_status emit_image(const nf_target *t, const nf_plan *p, const nf_slots *s, void **image, size_t *size,
                            bool *is_ptx, nf_error *err)
{
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = NULL;
    nf_status st = nf_codegen_module(t, p, s, ctx, &m, err);
    if (!st && t->kind == NF_TARGET_NVPTX) {
        char *ptx = NULL;
        st = nf_emit_ptx(m, t->cpu, &ptx, err);
        *image = ptx;
        *size = ptx ? strlen(ptx) + 1 : 0;
        *is_ptx = true;
    } else if (!st) {
        st = nf_emit_amdgpu_hsaco(m, t->cpu, image, size, err);
        *is_ptx = false;
    }
    if (m)
        LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
    return st;
}

/* NSAFUSE_PDL=0 launches every kernel after the previous grid has ended, as
 * without programmatic dependent launch (to measure what it gains). */
static bool dependent_launch_wanted(void)
{
    const char *v = getenv("NSAFUSE_PDL");
    return !(v && strcmp(v, "0") == 0);
}

/* Loads the module: from the disk cache when the key is there, else
 * compiled now (and, on NVIDIA, linked to a cubin and cached). */
static nf_status load(nf_gpu_code *code, const nf_target *t, const nf_plan *p, const nf_slots *s,
                      const char *cache_key, nf_error *err)
{
    void *image = NULL;
    size_t size = 0;
    nf_error ignored;
    if (cache_key && nf_disk_cache_get(cache_key, &image, &size, &ignored) == NF_OK && image) {
        nf_status st = code->dev->load_module(image, size, false, &code->module, err);
        free(image);
        if (!st) {
            code->from_disk = true;
            return NF_OK;
        }
    }
    bool is_ptx = false;
    double t0 = nf_now_ms();
    nf_status st = emit_image(t, p, s, &image, &size, &is_ptx, err);
    if (st)
        return st;
    double t1 = nf_now_ms();
    code->llvm_ms = t1 - t0;
    void *binary = image;
    size_t binary_size = size;
    if (is_ptx && code->dev->link_ptx_to_cubin) {
        void *cubin = NULL;
        size_t cubin_size = 0;
        st = code->dev->link_ptx_to_cubin(image, &cubin, &cubin_size, err);
        if (st) {
            free(image);
            return st;
        }
        free(image);
        binary = cubin;
        binary_size = cubin_size;
    }
    st = code->dev->load_module(binary, binary_size, false, &code->module, err);
    code->driver_ms = nf_now_ms() - t1;
    if (!st && cache_key)
        nf_disk_cache_put(cache_key, binary, binary_size, &ignored); /* a cache that cannot write is no error */
    free(binary);
    return st;
}

nf_status nf_gpu_compile(const nf_target *t, const nf_plan *p, const nf_slots *s, const char *cache_key,
                         nf_gpu_code **out, nf_error *err)
{
    *out = NULL;
    nf_device_kind kind = t->kind == NF_TARGET_NVPTX ? NF_DEVICE_CUDA : NF_DEVICE_HIP;
    const nf_device_ops *dev = nf_device_get(kind);
    nf_status st = dev->init(err);
    if (st)
        return st;
    nf_gpu_code *code = calloc(1, sizeof *code);
    if (!code)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    code->dev = dev;
    code->n_slots = s->n;
    code->fns = calloc((size_t)p->n_kernels + 1, sizeof *code->fns);
    code->launch = calloc((size_t)p->n_kernels + 1, sizeof *code->launch);
    code->scratch = calloc((size_t)p->n_kernels + 1, sizeof *code->scratch);
    code->n_kernels = p->n_kernels;
    code->temps = calloc((size_t)s->n + 1, sizeof *code->temps);
    code->tma = calloc((size_t)p->n_kernels + 1, sizeof *code->tma);
    pthread_mutex_init(&code->tma_lock, NULL);
    if (!code->fns || !code->launch || !code->scratch || !code->temps || !code->tma) {
        nf_gpu_code_free(code);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    }
    st = load(code, t, p, s, cache_key, err);
    for (int i = 0; !st && i < p->n_kernels; i++) {
        char name[32];
        snprintf(name, sizeof name, "nf_k%d", i);
        st = dev->get_function(code->module, name, &code->fns[i], err);
        nf_gpu_launch_shape(t, &p->kernels[i], s, &code->launch[i]);
        if (!dependent_launch_wanted())
            code->launch[i].programmatic = false;
        /* above 48 KiB, static and dynamic together, a kernel must opt in:
         * opting in always spares counting the static part */
        if (!st && code->launch[i].shared_bytes > 0)
            st = dev->set_max_dynamic_shared(code->fns[i], code->launch[i].shared_bytes, err);
        size_t bytes = code->launch[i].scratch_bytes;
        if (!st && bytes) {
            void *zeros = calloc(1, bytes);
            st = zeros ? dev->alloc(bytes, &code->scratch[i], err) : nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
            if (!st)
                st = dev->copy(code->scratch[i], zeros, bytes, NF_COPY_H2D, err);
            free(zeros);
        }
    }
    for (int i = s->n_params + s->n_outputs; !st && i < s->n; i++) {
        const nf_layout *l = &s->layout[i];
        size_t bytes = (size_t)nf_shape_numel(l->rank, l->shape) * nf_dtype_size(s->value[i]->dtype);
        st = dev->alloc(bytes, &code->temps[i], err);
    }
    if (st) {
        nf_gpu_code_free(code);
        return st;
    }
    *out = code;
    return NF_OK;
}

bool nf_gpu_code_from_disk(const nf_gpu_code *code) { return code && code->from_disk; }
double nf_gpu_code_llvm_ms(const nf_gpu_code *code) { return code ? code->llvm_ms : 0; }
double nf_gpu_code_driver_ms(const nf_gpu_code *code) { return code ? code->driver_ms : 0; }

void nf_gpu_code_free(nf_gpu_code *code)
{
    if (!code)
        return;
    for (int i = 0; code->temps && i < code->n_slots; i++)
        if (code->temps[i])
            code->dev->free(code->temps[i]);
    if (code->module)
        code->dev->unload_module(code->module);
    for (int i = 0; code->scratch && i < code->n_kernels; i++)
        if (code->scratch[i])
            code->dev->free(code->scratch[i]);
    free(code->fns);
    free(code->launch);
    free(code->scratch);
    free(code->temps);
    free(code->tma);
    pthread_mutex_destroy(&code->tma_lock);
    free(code);
}

/* Kernel k's TMA descriptors for this call's buffers, into maps (64-byte
 * aligned, as the driver wants them). */
static nf_status tma_maps(nf_gpu_code *code, int k, void *const *ptrs, void *const *terms, unsigned char (*maps)[128],
                          nf_error *err)
{
    const nf_launch *l = &code->launch[k];
    tma_cache *c = &code->tma[k];
    nf_status st = NF_OK;
    pthread_mutex_lock(&code->tma_lock);
    for (int j = 0; j < l->n_tma && !st; j++) {
        const nf_tma_operand *o = &l->tma[j];
        size_t size = nf_dtype_size(o->dtype);
        const char *start = o->terms ? (terms ? terms[o->slot] : NULL) : ptrs[o->slot];
        if (!start) {
            st = nf_set_error(err, NF_ERR_ARG, 0, 0, "the code reads a weight's terms that were not made");
            break;
        }
        const char *base = start + o->offset * (int64_t)size;
        if (c->base[j] == base) {
            memcpy(maps[j], c->map[j], sizeof c->map[j]);
            continue;
        }
        c->base[j] = NULL;
        st = code->dev->tensor_map_2d
                 ? code->dev->tensor_map_2d(maps[j], base, o->dtype, (uint64_t)o->rows, (uint64_t)o->cols,
                                            (uint64_t)o->row_stride * size, o->box_rows, o->box_cols, err)
                 : nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "the %s device has no TMA", code->dev->name);
        if (!st) {
            memcpy(c->map[j], maps[j], sizeof c->map[j]);
            c->base[j] = base;
        }
    }
    pthread_mutex_unlock(&code->tma_lock);
    return st;
}

nf_status nf_gpu_execute(nf_gpu_code *code, const nf_plan *p, const nf_slots *s, const nf_tensor *inputs,
                         const nf_tensor *outputs, void *const *terms, void *stream, nf_error *err)
{
    void *stack_ptrs[32], *stack_args[36];
    bool heap = s->n > 32;
    void **ptrs = heap ? malloc((size_t)s->n * sizeof *ptrs) : stack_ptrs;
    void **args = heap ? malloc((size_t)(s->n + 4) * sizeof *args) : stack_args;
    _Alignas(64) unsigned char maps[2][128]; /* TMA descriptors, passed by value */
    nf_status st = NF_OK;
    if (!ptrs || !args) {
        st = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
        goto done;
    }
    for (int i = 0; i < s->n; i++) {
        ptrs[i] = i < s->n_params                 ? inputs[i].data
                  : i < s->n_params + s->n_outputs ? outputs[i - s->n_params].data
                                                   : code->temps[i];
        args[i] = &ptrs[i];
    }
    for (int i = 0; i < p->n_kernels && !st; i++) {
        const nf_launch *l = &code->launch[i];
        int64_t n = l->n;
        void *scratch = code->scratch[i];
        if (n <= 0 || l->grid[0] == 0)
            continue;
        args[s->n] = &n;
        args[s->n + 1] = &scratch;
        if (l->n_tma && (st = tma_maps(code, i, ptrs, terms, maps, err)) != NF_OK)
            break;
        for (int j = 0; j < l->n_tma; j++)
            args[s->n + 2 + j] = maps[j];
        st = code->dev->launch(code->fns[i], l->grid, l->block, l->shared_bytes, l->programmatic, stream, args, err);
    }
done:
    if (heap) {
        free(ptrs);
        free(args);
    }
    return st;
}
