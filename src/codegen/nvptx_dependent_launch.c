/* Programmatic dependent launch (sm_90): a kernel launched with it may start
 * while the grid before it in the stream is still finishing, which hides most
 * of a launch's ~1 us inside a CUDA graph. Every NVIDIA kernel nsafuse
 * generates for sm_90 and later begins with griddepcontrol.wait, which
 * returns once the previous grid has completed and its memory is visible,
 * before the kernel's first load or store: the launch overlaps, the work
 * stays ordered exactly as without it. Without the launch attribute the wait
 * returns at once. No kernel triggers its dependents early
 * (griddepcontrol.launch_dependents): the next grid starts as this one's
 * blocks exit, which measured as fast as an early trigger on the H100 and
 * keeps waiting blocks off SMs that still have work. */
#include "codegen/codegen.h"
#include "codegen/nvptx_gemm.h"

bool nf_nvptx_dependent_launch(const nf_target *t) { return t->kind == NF_TARGET_NVPTX && nf_nvptx_sm(t) >= 90; }

void nf_nvptx_wait_for_prior_grid(LLVMModuleRef m)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c), NULL, 0, 0);
    LLVMValueRef wait = LLVMGetNamedFunction(m, "llvm.nvvm.griddepcontrol.wait");
    if (!wait)
        wait = LLVMAddFunction(m, "llvm.nvvm.griddepcontrol.wait", fty);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    for (LLVMValueRef fn = LLVMGetFirstFunction(m); fn; fn = LLVMGetNextFunction(fn)) {
        if (LLVMGetFunctionCallConv(fn) != LLVMPTXKernelCallConv || !LLVMGetFirstBasicBlock(fn))
            continue;
        LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(fn);
        LLVMValueRef first = LLVMGetFirstInstruction(entry);
        if (first)
            LLVMPositionBuilderBefore(b, first);
        else
            LLVMPositionBuilderAtEnd(b, entry);
        LLVMBuildCall2(b, fty, wait, NULL, 0, "");
    }
    LLVMDisposeBuilder(b);
}
