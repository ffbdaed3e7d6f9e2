/* Host execution through LLVM's ORC LLJIT.
 *
 * Modules are verified, given the host triple and data layout, optimized
 * with the default<O2> pipeline for the native CPU (FP contraction off:
 * fmul/fadd stay separate, FMA only where the IR calls llvm.fma), and added
 * to one JITDylib. Every call is safe from several threads. */
#ifndef NF_CODEGEN_JIT_H
#define NF_CODEGEN_JIT_H

#include "nsafuse.h"

#include <llvm-c/Core.h>

typedef struct nf_jit nf_jit;

nf_status nf_jit_create(nf_jit **out, nf_error *err);

/* Takes ownership of ctx and m, in all cases (also on error). m must be
 * the only module of ctx, a context made for it (LLVMContextCreate, not the
 * global one): the JIT wraps ctx in an ORC ThreadSafeContext, so modules
 * of different contexts compile independently. Symbols must be unique
 * across the modules of one JIT. */
nf_status nf_jit_add_module(nf_jit *j, LLVMContextRef ctx, LLVMModuleRef m, nf_error *err);

/* Address of a function or global defined by an added module (or of the
 * process, e.g. libm, which JIT code may call). */
nf_status nf_jit_lookup(nf_jit *j, const char *name, void **fn, nf_error *err);

void nf_jit_destroy(nf_jit *j);

#endif
