/* Checks of an AMDGPU code object (what `nsafuse dump --emit hsaco` writes)
 * that need no AMD GPU. In C: the ELF header (EM_AMDGPU, the HSA OS ABI,
 * code object v5, the gfx and its target-ID bits), a symbol and a kernel
 * descriptor per kernel nf_k0.. (code entry, kernarg size, no LDS, no
 * scratch, VGPR blocks). Through `llvm-readelf --notes`: the AMDHSA metadata
 * (names, the kernarg layout gpu.c builds, register counts within the ISA's
 * limits, no LDS, no scratch, no spills, wave64, 256-thread blocks).
 * Through `llvm-objdump -d --mcpu=GFX`: every kernel disassembles, and
 * the GEMM kernels, and only they, use MFMA instructions. In every kernel's
 * code: no scratch or buffer instructions.
 * For the test programs: cmocka asserts stop on the test's own faults. */
#ifndef NF_TESTS_AMDGPU_CODE_OBJECT_H
#define NF_TESTS_AMDGPU_CODE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

enum { AMD_MAX_KERNELS = 64, AMD_N_TARGETS = 3 };

typedef struct amd_target {
    const char *gfx;
    unsigned mach; /* EF_AMDGPU_MACH_AMDGCN_* (AMDGPUUsage, "ELF Header") */
} amd_target;

extern const amd_target amd_targets[AMD_N_TARGETS]; /* gfx90a, gfx942, gfx950 */

/* What one code object must hold: kernels nf_k0 .. nf_k<n_kernels - 1>,
 * each taking gpu.c's parameters for `slots` buffers. */
typedef struct amd_expect {
    const amd_target *target;
    int n_kernels, slots;
    /* no float multiply-add in the code: the GEMM and its epilogue round
     * every product and sum as the host does (graphs without exp, erf...,
     * whose math library uses fma on purpose) */
    bool no_fma;
    /* when check_mfma: kernel k's code holds MFMA instructions (v_mfma_*)
     * exactly when bit k of mfma is set (the matrix-core GEMM, amdgpu_gemm.c) */
    bool check_mfma;
    unsigned long long mfma;
} amd_expect;

/* The parameters gpu.c gives every kernel (nf_gpu_kernel_function): a global
 * pointer per slot, the work count (i64), a scratch pointer; 8 bytes each
 * at offset 8 * index, and no hidden arguments after them. */
int amd_kernel_args(int slots);

/* Problems found in one code object, reported together. */
typedef struct amd_problems {
    char text[6144];
    size_t len;
    int count;
} amd_problems;

/* One kernel's metadata as llvm-readelf shows it (-1: absent); mfma: the
 * MFMA instructions in its code (-1: not disassembled). */
typedef struct amd_kernel_meta {
    char name[64], symbol[64];
    long long kernarg_size, kernarg_align, sgpr, vgpr, agpr, lds, scratch, sgpr_spill, vgpr_spill, wavefront,
        max_block;
    char dynamic_stack[8];
    int n_args;
    char args_problem[200];
    int mfma;
} amd_kernel_meta;

/* Looks for llvm-readelf-22 and llvm-objdump-22 and prints the checks that
 * are skipped without them. */
void amd_find_tools(void);
bool amd_have_readelf(void);
bool amd_have_objdump(void);

/* Every check on the ELF image; seen (may be NULL) gets kernel i's metadata
 * at [i] when llvm-readelf is there. */
void amd_check_code_object(const void *elf, size_t size, const amd_expect *x, amd_kernel_meta *seen,
                           amd_problems *p);

/* The parts, for the tests of the checks themselves. */
/* `llvm-readelf --notes` of the image, malloc'd; NULL without the tool. */
char *amd_readelf_notes(const void *elf, size_t size);
/* Checks the metadata text (modified in place); seen as above. */
void amd_check_notes(char *text, const amd_expect *x, amd_kernel_meta *seen, amd_problems *p);
/* The file offset of kernel k's descriptor (nf_k<k>.kd), or -1. */
long amd_descriptor_offset(const void *elf, size_t size, int k);

#endif
