/* One LLVM module per (plan, signature): a function per kernel. */
#include "codegen/codegen.h"

#include <llvm-c/Analysis.h>
#include <stdlib.h>

nf_status nf_codegen_module(const nf_target *t, const nf_plan *p, const nf_slots *s, LLVMContextRef ctx,
                            LLVMModuleRef *out, nf_error *err)
{
    *out = NULL;
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext(p->graph->name, ctx);
    if (t->triple)
        LLVMSetTarget(m, t->triple);
    for (int i = 0; i < p->n_kernels; i++) {
        nf_status st;
        switch (t->kind) {
        case NF_TARGET_HOST: st = nf_host_emit_kernel(m, p, i, s, err); break;
        default: st = nf_gpu_emit_kernel(t, m, p, i, s, err); break;
        }
        if (st) {
            LLVMDisposeModule(m);
            return st;
        }
    }
    if (nf_nvptx_dependent_launch(t))
        nf_nvptx_wait_for_prior_grid(m);
    char *msg = NULL;
    if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
        nf_set_error(err, NF_ERR_COMPILE, 0, 0, "internal error: generated invalid LLVM IR: %s", msg ? msg : "");
        LLVMDisposeMessage(msg);
        LLVMDisposeModule(m);
        return NF_ERR_COMPILE;
    }
    LLVMDisposeMessage(msg);
    *out = m;
    return NF_OK;
}
