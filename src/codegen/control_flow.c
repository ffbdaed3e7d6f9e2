/* Structured control flow for the kernel generators. */
#include "codegen/codegen.h"

LLVMBasicBlockRef nf_emit_if_begin(LLVMBuilderRef b, LLVMValueRef fn, LLVMValueRef cond)
{
    LLVMContextRef c = LLVMGetTypeContext(LLVMTypeOf(fn));
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c, fn, "then");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c, fn, "join");
    LLVMBuildCondBr(b, cond, then, join);
    LLVMPositionBuilderAtEnd(b, then);
    return join;
}

void nf_emit_if_end(LLVMBuilderRef b, LLVMBasicBlockRef join)
{
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
}
