/* nf_kernel_dump: what `nsafuse dump` prints, from a compiled kernel. */
#include "runtime/kernel_state.h"
#include "codegen/emit.h"

#include <stdlib.h>
#include <string.h>

/* Code for contiguous tensors of the sizes in b, as `nsafuse dump` shows it. */
static nf_status dump_code(nf_kernel *k, const char *what, const nf_bindings *b, char **out, size_t *len,
                           nf_error *err)
{
    const nf_graph *g = k->graph;
    int64_t sym_sizes[64];
    nf_tensor *ts = calloc((size_t)(g->n_params + g->n_outputs), sizeof *ts);
    nf_compiled *c = calloc(1, sizeof *c);
    nf_status st = ts && c ? nf_kernel_contiguous_tensors(k, b, sym_sizes, ts, err)
                           : nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    if (st) {
        free(ts);
        free(c);
        return st;
    }
    c->sym_sizes = malloc(sizeof sym_sizes);
    if (c->sym_sizes)
        memcpy(c->sym_sizes, sym_sizes, sizeof sym_sizes);
    st = c->sym_sizes ? nf_compiled_slots(k, c, ts, ts + g->n_params, true, err)
                      : nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    c->slots.split_terms = k->terms_wanted; /* the code of a call passing the constants */
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = NULL;
    if (!st)
        st = nf_codegen_module(k->target, k->plan, &c->slots, ctx, &m, err);
    if (!st) {
        bool want_ptx = strcmp(what, "ptx") == 0, want_gcn = strcmp(what, "amdgcn") == 0;
        bool want_hsaco = strcmp(what, "hsaco") == 0;
        if ((want_ptx && k->target->kind != NF_TARGET_NVPTX) ||
            ((want_gcn || want_hsaco) && k->target->kind != NF_TARGET_AMDGPU)) {
            st = nf_set_error(err, NF_ERR_ARG, 0, 0, "--emit %s needs a %s target, not %s", what,
                              want_ptx ? "NVIDIA (sm_80, sm_90)" : "AMD (gfx90a, gfx942, gfx950)", k->target->name);
        } else if (want_ptx) {
            st = nf_emit_ptx(m, k->target->cpu, out, err);
        } else if (want_gcn) {
            st = nf_emit_amdgpu_asm(m, k->target->cpu, out, err);
        } else if (want_hsaco) {
            void *elf = NULL;
            size_t size = 0;
            st = nf_emit_amdgpu_hsaco(m, k->target->cpu, &elf, &size, err);
            *out = elf;
            if (len)
                *len = size;
        } else {
            st = nf_emit_llvm_text(m, out, err);
        }
        if (!st && len && !want_hsaco)
            *len = strlen(*out);
    }
    if (m)
        LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
    nf_compiled_free(c);
    free(ts);
    return st;
}

nf_status nf_kernel_dump(nf_kernel *k, const char *what, const nf_bindings *b, char **out, size_t *len,
                         nf_error *err)
{
    if (!k || !what || !out)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_kernel_dump: NULL argument");
    *out = NULL;
    char *text = NULL;
    if (strcmp(what, "ir") == 0)
        text = nf_graph_print(k->graph);
    else if (strcmp(what, "fused") == 0)
        text = nf_plan_print(k->plan);
    else if (strcmp(what, "llvm") == 0 || strcmp(what, "ptx") == 0 || strcmp(what, "amdgcn") == 0 ||
             strcmp(what, "hsaco") == 0)
        return dump_code(k, what, b, out, len, err);
    else
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "unknown dump '%s' (ir, fused, llvm, ptx, amdgcn, hsaco)", what);
    if (!text)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    *out = text;
    if (len)
        *len = strlen(text);
    return NF_OK;
}
