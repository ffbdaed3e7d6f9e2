/* Host JIT: ORC LLJIT behind a mutex. Modules are optimized before they
 * enter it, each with a target machine of its own, so several threads
 * optimize at once; only the JIT's own work (code generation) is serialized. */
#include "codegen/jit.h"

#include "codegen/emit.h"
#include "ir/ir.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include <pthread.h>
#include <stdlib.h>

struct nf_jit {
    pthread_mutex_t mu;
    LLVMOrcLLJITRef jit;
};

static nf_status from_llvm_error(LLVMErrorRef e, nf_status s, const char *what, nf_error *err)
{
    char *msg = LLVMGetErrorMessage(e);
    nf_set_error(err, s, 0, 0, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return s;
}

nf_status nf_jit_create(nf_jit **out, nf_error *err)
{
    *out = NULL;
    nf_llvm_init();
    nf_jit *j = calloc(1, sizeof *j);
    if (!j)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory creating the JIT");
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "cannot create the JIT's mutex");
    }
    LLVMTargetMachineRef jit_tm;
    nf_status s = nf_emit_target_machine("host", &jit_tm, err);
    if (s != NF_OK) {
        nf_jit_destroy(j);
        return s;
    }
    /* The builder takes jit_tm as its template and disposes it. */
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jit_tm));
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
    if (e) {
        j->jit = NULL;
        nf_jit_destroy(j);
        return from_llvm_error(e, NF_ERR_COMPILE, "cannot create the LLVM JIT", err);
    }
    /* Let JIT code call into the process (libm, memcpy, ...). */
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit),
                                                             NULL, NULL);
    if (e) {
        nf_jit_destroy(j);
        return from_llvm_error(e, NF_ERR_COMPILE, "cannot link the JIT to the process", err);
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);
    *out = j;
    return NF_OK;
}

static void dispose_module(LLVMContextRef ctx, LLVMModuleRef m)
{
    if (m)
        LLVMDisposeModule(m);
    if (ctx)
        LLVMContextDispose(ctx);
}

nf_status nf_jit_add_module(nf_jit *j, LLVMContextRef ctx, LLVMModuleRef m, nf_error *err)
{
    if (!j || !ctx || !m || LLVMGetModuleContext(m) != ctx) {
        dispose_module(ctx, m);
        return nf_set_error(err, NF_ERR_ARG, 0, 0,
                            "nf_jit_add_module: needs a JIT and a module of the given context");
    }
    LLVMTargetMachineRef tm; /* tunes the optimization pipeline; one a thread */
    nf_status s = nf_emit_target_machine("host", &tm, err);
    if (s == NF_OK) {
        s = nf_emit_prepare(m, tm, true, err);
        LLVMDisposeTargetMachine(tm);
    }
    if (s != NF_OK) {
        dispose_module(ctx, m);
        return s;
    }
    pthread_mutex_lock(&j->mu);
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(ctx);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps it alive */
    /* Takes tsm in all cases. */
    LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm);
    pthread_mutex_unlock(&j->mu);
    if (e)
        return from_llvm_error(e, NF_ERR_COMPILE, "the JIT refused the module", err);
    return NF_OK;
}

nf_status nf_jit_lookup(nf_jit *j, const char *name, void **fn, nf_error *err)
{
    *fn = NULL;
    if (!j || !name)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_jit_lookup: null argument");
    LLVMOrcExecutorAddress addr = 0;
    pthread_mutex_lock(&j->mu);
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, name);
    pthread_mutex_unlock(&j->mu);
    if (e)
        return from_llvm_error(e, NF_ERR_COMPILE, "JIT symbol lookup failed", err);
    *fn = (void *)(uintptr_t)addr;
    return NF_OK;
}

void nf_jit_destroy(nf_jit *j)
{
    if (!j)
        return;
    if (j->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
        if (e)
            LLVMConsumeError(e);
    }
    pthread_mutex_destroy(&j->mu);
    free(j);
}
