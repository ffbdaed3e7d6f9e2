/* nf_compile / nf_kernel_run: a compiled graph keeps its plan and, per
 * concrete signature (sizes, strides, dtypes), the generated code. */
#include "runtime/runtime.h"
#include "runtime/kernel_state.h"
#include "codegen/emit.h"
#include "codegen/jit.h"
#include "runtime/device.h"
#include "build_revision.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm/Config/llvm-config.h>

static pthread_mutex_t jit_lock = PTHREAD_MUTEX_INITIALIZER;
static nf_jit *host_jit;
static unsigned long jit_serial;

void nf_compile_options_init(nf_compile_options *o)
{
    memset(o, 0, sizeof *o);
    o->target = "host";
}

double nf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

bool nf_target_device(const char *target, nf_device_kind *device)
{
    if (!target || !device)
        return false;
    if (strcmp(target, "host") == 0)
        *device = NF_DEVICE_HOST;
    else if (strcmp(target, "cuda") == 0 || strncmp(target, "sm_", 3) == 0)
        *device = NF_DEVICE_CUDA;
    else if (strcmp(target, "hip") == 0 || strncmp(target, "gfx", 3) == 0)
        *device = NF_DEVICE_HIP;
    else
        return false;
    return true;
}

/* The inputs declared constant that are f32 weights some GEMM of the plan
 * splits into bf16 terms, where the target's code can take them made. */
static unsigned split_weights_declared(const nf_kernel *k)
{
    unsigned mask = 0;
    if (!k->opt.constant_inputs || !nf_target_reads_split_terms(k->target))
        return 0;
    for (int i = 0; i < k->plan->n_kernels; i++) {
        const nf_fused_kernel *fk = &k->plan->kernels[i];
        if (fk->kind != NF_KERNEL_GEMM || !nf_gemm_splits_b(fk))
            continue;
        for (int p = 0; p < k->graph->n_params && p < 32; p++)
            if (k->graph->params[p] == fk->b.source && (k->opt.constant_inputs >> p & 1u))
                mask |= 1u << p;
    }
    return mask;
}

nf_status nf_compile(const nf_graph *g, const nf_compile_options *o, nf_kernel **out, nf_error *err)
{
    if (!out)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_compile: out is NULL");
    *out = NULL;
    if (!g)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_compile: graph is NULL");
    nf_compile_options opt;
    nf_compile_options_init(&opt);
    if (o)
        opt = *o;
    if (!opt.target)
        opt.target = "host";
    char arch[32] = "";
    if (strcmp(opt.target, "cuda") == 0 || strcmp(opt.target, "hip") == 0) {
        /* the current device's own architecture */
        const nf_device_ops *dev = nf_device_get(opt.target[0] == 'c' ? NF_DEVICE_CUDA : NF_DEVICE_HIP);
        nf_status st = dev->init(err);
        if (!st)
            st = dev->arch_name(arch, sizeof arch, err);
        if (st)
            return st;
        if (strcmp(arch, "sm_90") == 0) /* exactly CC 9.0: its own instructions (wgmma) too */
            snprintf(arch, sizeof arch, "sm_90a");
        else if (strncmp(arch, "sm_", 3) == 0 && !nf_target_find(arch))
            snprintf(arch, sizeof arch, "%s", atoi(arch + 3) >= 90 ? "sm_90" : "sm_80");
        opt.target = arch;
    }
    const nf_target *t = nf_target_find(opt.target);
    if (!t)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "unknown target '%s' (known: %s)", opt.target, nf_target_names());
    nf_kernel *k = calloc(1, sizeof *k);
    if (!k)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    k->target = t;
    k->last_launched = -1;
    k->opt = opt;
    k->opt.target = t->name;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->signature_ready, NULL);
    k->graph = nf_graph_clone(g, err);
    nf_plan_options po = {.keep_fp32 = opt.keep_fp32, .unfused = opt.unfused};
    if (k->graph)
        k->graph_text = nf_graph_print(k->graph);
    if (!k->graph || !k->graph_text || nf_plan_build(k->graph, &po, &k->plan, err)) {
        nf_kernel_free(k);
        return err ? err->status : NF_ERR_ARG;
    }
    k->terms_wanted = split_weights_declared(k);
    *out = k;
    return NF_OK;
}

void nf_compiled_free(nf_compiled *c)
{
    free(c->key);
    free((void *)c->slots.value);
    free(c->slots.layout);
    free(c->slots.first_slot);
    free(c->sym_sizes);
    free(c->fns);
    free(c->rows);
    free(c->work);
    nf_gpu_code_free(c->gpu);
    free(c->skip);
    free(c->in_place);
    free(c->in_place_group);
    free(c);
}

void nf_kernel_free(nf_kernel *k)
{
    if (!k)
        return;
    for (nf_compiled *c = k->signatures, *next; c; c = next) {
        next = c->next;
        nf_compiled_free(c);
    }
    for (int i = 0; i < 32; i++)
        if (k->constants[i].terms)
            nf_constant_free(&k->constants[i], nf_device_get(NF_DEVICE_CUDA));
    nf_plan_free(k->plan);
    nf_graph_free(k->graph);
    free(k->graph_text);
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->signature_ready);
    free(k);
}

/* ---- signatures ---------------------------------------------------------- */

static void layout_of(nf_layout *l, const nf_tensor *t)
{
    memset(l, 0, sizeof *l);
    l->rank = t->rank;
    for (int d = 0; d < t->rank; d++) {
        l->shape[d] = t->shape[d];
        l->strides[d] = t->strides[d];
    }
}

static nf_status check_tensor(const nf_tensor *t, const char *what, int i, const nf_value *v, const nf_graph *g,
                              const int64_t *want_shape, nf_device_kind device, nf_error *err)
{
    char want[512] = "";
    if (t->dtype != v->dtype || t->rank != v->shape.rank || (want_shape && memcmp(t->shape, want_shape, (size_t)t->rank * sizeof *want_shape)))
        nf_format_type(g, v->dtype, &v->shape, want, sizeof want); /* only for the message */
    if (!t->data && nf_shape_numel(t->rank, t->shape) > 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d: data pointer is NULL", what, i);
    if (t->device != device)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d: tensor is on device kind %d, the kernel runs on %s", what,
                            i, (int)t->device, device == NF_DEVICE_HOST ? "the host" : "a GPU");
    if (t->dtype != v->dtype || t->rank != v->shape.rank)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d: expected %s, got %s with rank %d", what, i, want,
                            nf_dtype_name(t->dtype), t->rank);
    for (int d = 0; d < t->rank; d++) {
        if (want_shape && t->shape[d] != want_shape[d])
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d: dimension %d is %lld, expected %lld (%s)", what, i, d,
                                (long long)t->shape[d], (long long)want_shape[d], want);
        if (t->strides[d] < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d: negative strides are not supported", what, i);
    }
    size_t align = nf_dtype_size(t->dtype);
    if (t->data && ((uintptr_t)t->data % align) != 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d: data pointer %p is not aligned to %zu bytes", what, i,
                            t->data, align);
    return NF_OK;
}

/* The signature: every input's and output's dtype, shape and strides, and
 * whether all buffers are 16-byte aligned, as words (cheap to build and to
 * compare on every call). Returns the word count written, at most cap. */
static size_t signature_key(const nf_tensor *in, int n_in, const nf_tensor *out, int n_out, bool aligned16,
                            int64_t *key, size_t cap)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const nf_tensor *ts = pass ? out : in;
        int count = pass ? n_out : n_in;
        for (int i = 0; i < count && n + 2 + 2 * NF_MAX_DIMS <= cap; i++) {
            key[n++] = ts[i].dtype;
            key[n++] = ts[i].rank;
            for (int d = 0; d < ts[i].rank; d++) {
                key[n++] = ts[i].shape[d];
                key[n++] = ts[i].strides[d];
            }
        }
    }
    if (n < cap)
        key[n++] = aligned16;
    return n;
}

/* The same as text, for the disk cache key. */
static char *signature_text(const int64_t *key, size_t words)
{
    char *text = malloc(words * 21 + 1);
    if (!text)
        return NULL;
    size_t len = 0;
    for (size_t i = 0; i < words; i++)
        len += (size_t)sprintf(text + len, "%lld,", (long long)key[i]);
    text[len] = 0;
    return text;
}

/* The in-place part of the slots: outputs to skip, kernels that store over
 * memory they read (alias.c decided which). */
static nf_status alias_slots(nf_kernel *k, nf_compiled *c, const nf_alias *a, nf_error *err)
{
    nf_slots *s = &c->slots;
    if (!nf_alias_changes_code(a, s->n_outputs))
        return NF_OK;
    int nk = k->plan->n_kernels;
    c->skip = calloc((size_t)s->n, sizeof *c->skip);
    c->in_place = calloc((size_t)nk + 1, sizeof *c->in_place);
    c->in_place_group = calloc((size_t)nk + 1, sizeof *c->in_place_group);
    if (!c->skip || !c->in_place || !c->in_place_group)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    for (int i = 0; i < s->n_outputs; i++)
        c->skip[s->n_params + i] = a->mode[i] == NF_OUT_SKIP;
    for (int i = 0; i < nk; i++) {
        if (a->kernel_group[i] < 0)
            continue;
        c->in_place[s->n_in_place] = &k->plan->kernels[i];
        c->in_place_group[s->n_in_place++] = a->kernel_group[i];
    }
    s->skip = c->skip;
    s->in_place = c->in_place;
    s->in_place_group = c->in_place_group;
    return NF_OK;
}

nf_status nf_compiled_slots(nf_kernel *k, nf_compiled *c, const nf_tensor *in, const nf_tensor *out, bool aligned16,
                             nf_error *err)
{
    const nf_graph *g = k->graph;
    nf_slots *s = &c->slots;
    s->aligned16 = aligned16;
    s->n_params = g->n_params;
    s->n_outputs = g->n_outputs;
    s->n = g->n_params + g->n_outputs + k->plan->n_temporaries;
    s->value = malloc((size_t)s->n * sizeof *s->value);
    s->layout = calloc((size_t)s->n, sizeof *s->layout);
    s->first_slot = malloc((size_t)g->n_values * sizeof *s->first_slot);
    if (!s->value || !s->layout || !s->first_slot)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    for (int i = 0; i < g->n_params; i++) {
        s->value[i] = g->params[i];
        layout_of(&s->layout[i], &in[i]);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        s->value[g->n_params + i] = g->outputs[i];
        layout_of(&s->layout[g->n_params + i], &out[i]);
    }
    for (int i = 0; i < k->plan->n_temporaries; i++) {
        const nf_value *v = k->plan->temporaries[i];
        int64_t shape[NF_MAX_DIMS];
        nf_concrete_shape(&v->shape, c->sym_sizes, shape);
        s->value[g->n_params + g->n_outputs + i] = v;
        nf_layout_contiguous(&s->layout[g->n_params + g->n_outputs + i], v->shape.rank, shape);
    }
    for (int i = 0; i < g->n_values; i++)
        s->first_slot[i] = -1;
    for (int i = s->n - 1; i >= 0; i--)
        s->first_slot[s->value[i]->id] = i;
    s->sym_sizes = c->sym_sizes;
    return NF_OK;
}

static nf_status jit_module(nf_kernel *k, nf_compiled *c, nf_error *err)
{
    pthread_mutex_lock(&jit_lock);
    nf_status st = host_jit ? NF_OK : nf_jit_create(&host_jit, err);
    unsigned long serial = ++jit_serial;
    pthread_mutex_unlock(&jit_lock);
    if (st)
        return st;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = NULL;
    st = nf_codegen_module(k->target, k->plan, &c->slots, ctx, &m, err);
    if (st) {
        LLVMContextDispose(ctx);
        return st;
    }
    /* unique names: every signature lives in the one process-wide JIT */
    char name[64];
    for (int i = 0; i < k->plan->n_kernels; i++) {
        snprintf(name, sizeof name, "nf_k%d", i);
        LLVMValueRef fn = LLVMGetNamedFunction(m, name);
        snprintf(name, sizeof name, "nf_s%lu_k%d", serial, i);
        LLVMSetValueName2(fn, name, strlen(name));
    }
    st = nf_jit_add_module(host_jit, ctx, m, err); /* takes both */
    if (st)
        return st;
    for (int i = 0; i < k->plan->n_kernels && !st; i++) {
        snprintf(name, sizeof name, "nf_s%lu_k%d", serial, i);
        void *fn = NULL;
        st = nf_jit_lookup(host_jit, name, &fn, err);
        c->fns[i] = (nf_host_fn)fn;
    }
    return st;
}

/* Everything the code depends on: compiler, device, graph, options, signature. */
static char *disk_cache_key(nf_kernel *k, const char *signature)
{
    pthread_mutex_lock(&k->lock); /* compiles run outside it, several at once */
    if (!k->device_name[0]) {
        const nf_device_ops *dev = nf_device_get(k->target->kind == NF_TARGET_NVPTX ? NF_DEVICE_CUDA : NF_DEVICE_HIP);
        nf_error ignored;
        if (dev->device_name(k->device_name, sizeof k->device_name, &ignored))
            snprintf(k->device_name, sizeof k->device_name, "unknown device");
    }
    pthread_mutex_unlock(&k->lock);
    /* the GEMM tiling override changes the code (nvptx_gemm.h) */
    const char *plan = getenv("NSAFUSE_GEMM_PLAN");
    const char *fmt = "nsafuse %s build %s (LLVM %d)\ntarget %s\ndevice %s\nkeep_fp32 %d unfused %d\ngemm plan %s\nsignature %s\n%s";
    int n = snprintf(NULL, 0, fmt, NF_VERSION_STRING, NF_BUILD_REVISION, LLVM_VERSION_MAJOR, k->target->name, k->device_name,
                     k->opt.keep_fp32, k->opt.unfused, plan ? plan : "", signature, k->graph_text);
    char *key = malloc((size_t)n + 1);
    if (key)
        snprintf(key, (size_t)n + 1, fmt, NF_VERSION_STRING, NF_BUILD_REVISION, LLVM_VERSION_MAJOR, k->target->name, k->device_name,
                 k->opt.keep_fp32, k->opt.unfused, plan ? plan : "", signature, k->graph_text);
    return key;
}

/* Generates and loads c's code (c holds its key); runs outside the kernel's
 * lock, so it touches nothing of k but what compiling never changes. */
static nf_status compile_signature(nf_kernel *k, nf_compiled *c, const int64_t *sym_sizes, const nf_tensor *in,
                                   const nf_tensor *out, bool aligned16, const nf_alias *alias, unsigned terms,
                                   nf_error *err)
{
    double t0 = nf_now_ms();
    int nk = k->plan->n_kernels;
    c->sym_sizes = malloc((size_t)(k->graph->n_syms + 1) * sizeof *c->sym_sizes);
    c->fns = calloc((size_t)nk + 1, sizeof *c->fns);
    c->rows = calloc((size_t)nk + 1, sizeof *c->rows);
    c->work = calloc((size_t)nk + 1, sizeof *c->work);
    nf_status st = NF_OK;
    if (!c->sym_sizes || !c->fns || !c->rows || !c->work)
        st = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    if (!st) {
        memcpy(c->sym_sizes, sym_sizes, (size_t)k->graph->n_syms * sizeof *sym_sizes);
        st = nf_compiled_slots(k, c, in, out, aligned16, err);
        if (!st)
            st = alias_slots(k, c, alias, err);
        c->slots.split_terms = terms;
    }
    for (int i = 0; !st && i < nk; i++) {
        const nf_fused_kernel *fk = &k->plan->kernels[i];
        c->rows[i] = nf_kernel_rows(fk, &c->slots);
        c->launched += !nf_slots_kernel_idle(&c->slots, fk);
        c->work[i] = 1;
        if (fk->kind == NF_KERNEL_GEMM) {
            int64_t m, n, kk;
            nf_gemm_sizes(fk, &c->slots, &m, &n, &kk);
            c->work[i] = n * kk;
        }
    }
    if (!st && k->target->kind == NF_TARGET_HOST) {
        st = jit_module(k, c, err);
    } else if (!st) {
        const nf_device_ops *dev = nf_device_get(k->target->kind == NF_TARGET_NVPTX ? NF_DEVICE_CUDA : NF_DEVICE_HIP);
        c->slots.multiprocessors = dev->multiprocessor_count ? dev->multiprocessor_count() : 0;
        c->slots.l2_bytes = dev->l2_cache_bytes ? dev->l2_cache_bytes() : 0;
        char *text = signature_text(c->key, c->key_words);
        char *cache_key = text ? disk_cache_key(k, text) : NULL;
        free(text);
        st = cache_key ? nf_gpu_compile(k->target, k->plan, &c->slots, cache_key, &c->gpu, err)
                       : nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
        free(cache_key);
    }
    if (st)
        return st;
    c->compile_ms = nf_now_ms() - t0;
    return NF_OK;
}

/* The entry of a signature, ready or being compiled; NULL: none. */
static nf_compiled *find_signature(const nf_kernel *k, const int64_t *key, size_t words)
{
    nf_compiled *c = k->signatures;
    while (c && (c->key_words != words || memcmp(c->key, key, words * sizeof *key) != 0))
        c = c->next;
    return c;
}

/* The ready code of a signature: found, or compiled by this thread outside
 * the kernel's lock, so calls of signatures compiled already never wait
 * behind a compile and several signatures compile at once. A thread that
 * needs a signature another thread is compiling waits for that compile; if
 * it fails, the waiter compiles again and reports its own error. A run
 * (staged >= 0: its staged copies) records the kernels it launches. */
static nf_status signature_code(nf_kernel *k, const int64_t *key, size_t words, const int64_t *sym_sizes,
                                const nf_tensor *in, const nf_tensor *out, bool aligned16, const nf_alias *alias,
                                unsigned terms, int staged, nf_compiled **result, nf_error *err)
{
    pthread_mutex_lock(&k->lock);
    nf_compiled *c;
    while ((c = find_signature(k, key, words)) && !c->ready)
        pthread_cond_wait(&k->signature_ready, &k->lock);
    if (c) {
        if (staged >= 0)
            k->last_launched = c->launched + staged;
        pthread_mutex_unlock(&k->lock);
        *result = c;
        return NF_OK;
    }
    /* a placeholder, so other threads wait for this compile rather than repeat it */
    c = calloc(1, sizeof *c);
    int64_t *own_key = malloc(words * sizeof *key);
    if (!c || !own_key) {
        pthread_mutex_unlock(&k->lock);
        free(c);
        free(own_key);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    }
    memcpy(own_key, key, words * sizeof *key);
    c->key = own_key;
    c->key_words = words;
    c->next = k->signatures;
    k->signatures = c;
    pthread_mutex_unlock(&k->lock);

    nf_status st = compile_signature(k, c, sym_sizes, in, out, aligned16, alias, terms, err);

    pthread_mutex_lock(&k->lock);
    if (st) {
        nf_compiled **link = &k->signatures;
        while (*link != c)
            link = &(*link)->next;
        *link = c->next;
    } else {
        c->ready = true;
        k->n_signatures++;
        k->last_compile_ms = c->compile_ms;
        k->last_from_disk = nf_gpu_code_from_disk(c->gpu);
        k->last_llvm_ms = c->gpu ? nf_gpu_code_llvm_ms(c->gpu) : c->compile_ms; /* host: all of it */
        k->last_driver_ms = c->gpu ? nf_gpu_code_driver_ms(c->gpu) : 0;
        if (staged >= 0)
            k->last_launched = c->launched + staged;
    }
    pthread_cond_broadcast(&k->signature_ready);
    pthread_mutex_unlock(&k->lock);
    if (st) {
        nf_compiled_free(c);
        return st;
    }
    *result = c;
    return NF_OK;
}

static nf_device_kind kernel_device(const nf_kernel *k)
{
    return k->target->kind == NF_TARGET_NVPTX    ? NF_DEVICE_CUDA
           : k->target->kind == NF_TARGET_AMDGPU ? NF_DEVICE_HIP
                                                 : NF_DEVICE_HOST;
}

static nf_status bind(nf_kernel *k, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs, int n_outputs,
                      int64_t *sym_sizes, nf_error *err)
{
    const nf_graph *g = k->graph;
    nf_device_kind dev = kernel_device(k);
    nf_bindings b = {0};
    nf_status st = nf_bind_from_inputs(g, inputs, n_inputs, &b, err);
    if (st)
        return st;
    if ((st = nf_resolve_symbols(g, &b, sym_sizes, err)))
        return st;
    for (int i = 0; i < n_inputs; i++) {
        int64_t shape[NF_MAX_DIMS];
        nf_concrete_shape(&g->params[i]->shape, sym_sizes, shape);
        if ((st = check_tensor(&inputs[i], "input", i, g->params[i], g, shape, dev, err)))
            return st;
    }
    if (n_outputs != g->n_outputs || (n_outputs && !outputs))
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph %s has %d outputs, got %d", g->name, g->n_outputs,
                            n_outputs);
    for (int i = 0; i < n_outputs; i++) {
        int64_t shape[NF_MAX_DIMS];
        nf_concrete_shape(&g->outputs[i]->shape, sym_sizes, shape);
        if ((st = check_tensor(&outputs[i], "output", i, g->outputs[i], g, shape, dev, err)))
            return st;
    }
    return NF_OK;
}

/* One run of the signature of these tensors (bound already), with outputs
 * shared with inputs as alias says (staged ones are temporaries by now). */
/* The bf16 terms of this call's constant f32 weights, made now where they
 * are not those of the tensors passed: bit i of *mask and terms[i] for each
 * input whose code can read them. A weight in another layout than
 * row-major [N, K] runs as undeclared. */
static nf_status constant_terms(nf_kernel *k, const nf_tensor *inputs, unsigned *mask, void **terms, nf_error *err)
{
    *mask = 0;
    if (!k->terms_wanted)
        return NF_OK;
    const nf_device_ops *dev = nf_device_get(NF_DEVICE_CUDA);
    nf_status st = dev->init(err); /* this thread's context, when the target was named (sm_90a) */
    if (st)
        return st;
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < 32 && st == NF_OK; i++) {
        if (!(k->terms_wanted >> i & 1u))
            continue;
        nf_constant *c = &k->constants[i];
        if (!nf_constant_current(c, &inputs[i])) {
            nf_error why;
            st = nf_constant_make_terms(c, dev, &inputs[i], &why);
            if (st == NF_ERR_UNSUPPORTED) {
                st = NF_OK;
                continue;
            }
            if (st) {
                nf_set_error(err, st, 0, 0,
                             "making the bf16 terms of constant input %d (the first call that passes it "
                             "synchronizes the device: make it before capturing a CUDA graph): %s",
                             i, why.message);
                break;
            }
        }
        *mask |= 1u << i;
        terms[i] = c->terms;
    }
    pthread_mutex_unlock(&k->lock);
    return st;
}

void nf_kernel_constants_changed(nf_kernel *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < 32; i++)
        k->constants[i].stale = true;
    pthread_mutex_unlock(&k->lock);
}

static nf_status run_signature(nf_kernel *k, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                               int n_outputs, const int64_t *sym_sizes, const nf_alias *alias, void *stream,
                               nf_error *err)
{
    bool aligned16 = true;
    for (int i = 0; i < n_inputs; i++)
        aligned16 &= ((uintptr_t)inputs[i].data & 15) == 0;
    for (int i = 0; i < n_outputs; i++)
        aligned16 &= ((uintptr_t)outputs[i].data & 15) == 0;
    int64_t key[8 + 32 * (2 + 2 * NF_MAX_DIMS) + 2 * NF_ALIAS_MAX];
    size_t cap = sizeof key / sizeof key[0];
    size_t words = signature_key(inputs, n_inputs, outputs, n_outputs, aligned16, key, cap);
    words += nf_alias_key(alias, n_outputs, key + words, cap - words);
    unsigned terms = 0;
    void *term_ptrs[32] = {0};
    nf_status st = constant_terms(k, inputs, &terms, term_ptrs, err);
    if (st)
        return st;
    if (k->terms_wanted && words < cap)
        key[words++] = terms;
    nf_compiled *c;
    st = signature_code(k, key, words, sym_sizes, inputs, outputs, aligned16, alias, terms, alias->n_staged, &c, err);
    if (st)
        return st;
    if (c->gpu)
        return nf_gpu_execute(c->gpu, k->plan, &c->slots, inputs, outputs, term_ptrs, stream, err);
    return nf_host_execute(k->plan, &c->slots, c->fns, c->rows, c->work, inputs, outputs, err);
}

nf_status nf_kernel_contiguous_tensors(const nf_kernel *k, const nf_bindings *b, int64_t *sym_sizes, nf_tensor *ts,
                                       nf_error *err)
{
    const nf_graph *g = k->graph;
    if (g->n_syms > 64)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than 64 symbolic sizes");
    nf_status st = nf_resolve_symbols(g, b, sym_sizes, err);
    for (int i = 0; !st && i < g->n_params + g->n_outputs; i++) {
        const nf_value *v = i < g->n_params ? g->params[i] : g->outputs[i - g->n_params];
        int64_t shape[NF_MAX_DIMS];
        nf_concrete_shape(&v->shape, sym_sizes, shape);
        nf_tensor_init(&ts[i], NULL, v->dtype, v->shape.rank, shape);
        ts[i].device = kernel_device(k);
    }
    return st;
}

nf_status nf_kernel_prepare_signature(nf_kernel *k, const nf_bindings *b, nf_error *err)
{
    const nf_graph *g = k->graph;
    if (g->n_params + g->n_outputs > 32)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than 32 inputs and outputs");
    for (int i = 0; i < b->n; i++) {
        int s = 0;
        while (s < g->n_syms && !(b->names[i] && strcmp(b->names[i], g->syms[s]) == 0))
            s++;
        if (s == g->n_syms)
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s is not a symbolic size of graph %s", b->names[i] ? b->names[i] : "(null)", g->name);
    }
    /* what a call with contiguous, 16-byte aligned, unshared tensors presents */
    int64_t sym_sizes[64];
    nf_tensor ts[32];
    nf_status st = nf_kernel_contiguous_tensors(k, b, sym_sizes, ts, err);
    if (st)
        return st;
    nf_alias plain;
    memset(&plain, 0, sizeof plain);
    for (int i = 0; i < NF_ALIAS_MAX; i++)
        plain.through[i] = -1;
    memset(plain.kernel_group, -1, sizeof plain.kernel_group);
    int64_t key[8 + 32 * (2 + 2 * NF_MAX_DIMS)];
    size_t words = signature_key(ts, g->n_params, ts + g->n_params, g->n_outputs, true, key, sizeof key / sizeof key[0]);
    if (k->terms_wanted) /* as a call passing the constants, once their terms are made */
        key[words++] = k->terms_wanted;
    nf_compiled *c;
    return signature_code(k, key, words, sym_sizes, ts, ts + g->n_params, true, &plain, k->terms_wanted, -1, &c, err);
}

nf_status nf_kernel_run_paths(nf_kernel *k, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                              int n_outputs, void *stream, nf_copy_path *paths, nf_error *err)
{
    if (!k)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_kernel_run: kernel is NULL");
    int64_t sym_sizes[64];
    if (k->graph->n_syms > 64)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than 64 symbolic sizes");
    nf_status st = bind(k, inputs, n_inputs, outputs, n_outputs, sym_sizes, err);
    if (st)
        return st;
    if (n_inputs + n_outputs > 32)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than 32 inputs and outputs");
    nf_alias alias;
    if ((st = nf_alias_classify(k->plan, inputs, n_inputs, outputs, n_outputs, &alias, err)))
        return st;
    for (int i = 0; paths && i < n_outputs; i++) {
        static const nf_copy_path by_mode[] = {[NF_OUT_DIRECT] = NF_COPY_DIRECT, [NF_OUT_SKIP] = NF_COPY_SKIPPED,
                                               [NF_OUT_IN_PLACE] = NF_COPY_IN_PLACE, [NF_OUT_STAGED] = NF_COPY_STAGED};
        paths[i] = by_mode[alias.mode[i]];
    }
    if (!alias.n_staged)
        return run_signature(k, inputs, n_inputs, outputs, n_outputs, sym_sizes, &alias, stream, err);
    nf_tensor staged[NF_ALIAS_MAX];
    void *temps[NF_ALIAS_MAX];
    if ((st = nf_alias_stage(outputs, n_outputs, &alias, staged, temps, err)))
        return st;
    st = run_signature(k, inputs, n_inputs, staged, n_outputs, sym_sizes, &alias, stream, err);
    return nf_alias_unstage(outputs, staged, n_outputs, &alias, temps, stream, st, err);
}

nf_status nf_kernel_run(nf_kernel *k, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                        int n_outputs, void *stream, nf_error *err)
{
    return nf_kernel_run_paths(k, inputs, n_inputs, outputs, n_outputs, stream, NULL, err);
}

void nf_kernel_get_stats(const nf_kernel *k, nf_kernel_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!k)
        return;
    pthread_mutex_t *lock = (pthread_mutex_t *)&k->lock; /* reading what compiles write */
    pthread_mutex_lock(lock);
    s->kernels = k->last_launched >= 0 ? k->last_launched : k->plan->n_kernels;
    s->compiled_signatures = k->n_signatures;
    s->last_compile_ms = k->last_compile_ms;
    s->last_from_disk_cache = k->last_from_disk;
    s->last_llvm_ms = k->last_llvm_ms;
    s->last_driver_ms = k->last_driver_ms;
    pthread_mutex_unlock(lock);
}
