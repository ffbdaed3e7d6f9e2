/* LLVM module -> target artifacts: PTX, AMDGPU assembly and code objects,
 * LLVM text. Also the target table (triple, CPU, features) and LLVM's
 * one-time initialization that the JIT shares.
 *
 * Target names: "host", "sm_80", "sm_90", "gfx90a", "gfx942", "gfx950".
 * The nf_emit_* functions verify the module (a failure is NF_ERR_COMPILE
 * with the verifier's message), set its triple and data layout, optimize it
 * in place with default<O2>, then generate code. Returned buffers are
 * malloc'd; free them with free(). */
#ifndef NF_CODEGEN_EMIT_H
#define NF_CODEGEN_EMIT_H

#include "nsafuse.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

/* Registers the X86, NVPTX and AMDGPU targets once; safe from any thread. */
void nf_llvm_init(void);

bool nf_emit_target_known(const char *target);
/* "nvptx64-nvidia-cuda", "amdgcn-amd-amdhsa", or the host's triple; NULL if unknown. */
const char *nf_emit_target_triple(const char *target);

/* A target machine for target (the host: its CPU and features), O2 code
 * generation, FP contraction only where the IR allows it. Caller disposes. */
nf_status nf_emit_target_machine(const char *target, LLVMTargetMachineRef *tm, nf_error *err);

/* Verifies m, sets its triple and data layout for tm, and, when optimize,
 * runs default<O2> tuned for tm. */
nf_status nf_emit_prepare(LLVMModuleRef m, LLVMTargetMachineRef tm, bool optimize, nf_error *err);

/* PTX text for sm_80/sm_90 (nvptx64-nvidia-cuda, PTX ISA 8.0). Kernels use
 * the ptx_kernel calling convention. */
nf_status nf_emit_ptx(LLVMModuleRef m, const char *sm, char **ptx_out, nf_error *err);

/* AMDGPU (amdgcn-amd-amdhsa) assembly for gfx90a/gfx942/gfx950. Kernels use
 * the amdgpu_kernel calling convention. Sets the module flag
 * amdhsa_code_object_version to 5 unless the module has one. */
nf_status nf_emit_amdgpu_asm(LLVMModuleRef m, const char *gfx, char **asm_out, nf_error *err);

/* An AMDGPU code object (ELF shared object) ready for hipModuleLoadData:
 * the relocatable object linked by ld.lld (run as a subprocess; set
 * NF_LD_LLD to choose the binary). */
nf_status nf_emit_amdgpu_hsaco(LLVMModuleRef m, const char *gfx, void **elf, size_t *size,
                               nf_error *err);

/* The module as LLVM assembly text (unchanged, not verified). */
nf_status nf_emit_llvm_text(LLVMModuleRef m, char **text_out, nf_error *err);

#endif
