/* Emission to PTX, AMDGPU assembly and code objects, and the host JIT: a
 * tiny kernel (out[i] = 2 * exp(in[i])) through every target, checked by
 * the tools that consume it (ptxas, llvm-readelf) when they are installed;
 * verifier failures and bad targets as errors; the JIT from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/emit.h"
#include "codegen/jit.h"
#include "codegen/mathlib.h"

#include <llvm-c/Core.h>

static const char *const ptxas = "/usr/local/cuda/bin/ptxas";

static LLVMValueRef call_sreg(LLVMModuleRef m, LLVMBuilderRef b, const char *name)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(c);
    LLVMValueRef f = LLVMGetNamedFunction(m, name);
    LLVMTypeRef fty = LLVMFunctionType(i32, NULL, 0, 0);
    if (!f)
        f = LLVMAddFunction(m, name, fty);
    return LLVMBuildCall2(b, fty, f, NULL, 0, "");
}

/* kernel scale_exp(ptr addrspace(1) in, ptr addrspace(1) out, i32 n):
 * i = block * 256 + thread; if (i < n) out[i] = 2 * exp(in[i]). */
static LLVMModuleRef kernel_module(bool nvptx)
{
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("k", c);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(c), i32 = LLVMInt32TypeInContext(c);
    LLVMTypeRef gptr = LLVMPointerTypeInContext(c, 1);
    LLVMTypeRef params[3] = {gptr, gptr, i32};
    LLVMValueRef k = LLVMAddFunction(m, "scale_exp", LLVMFunctionType(LLVMVoidTypeInContext(c), params, 3, 0));
    LLVMSetFunctionCallConv(k, nvptx ? LLVMPTXKernelCallConv : LLVMAMDGPUKERNELCallConv);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c, k, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c, k, "body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c, k, "done");
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef tid = call_sreg(m, b, nvptx ? "llvm.nvvm.read.ptx.sreg.tid.x" : "llvm.amdgcn.workitem.id.x");
    LLVMValueRef bid = call_sreg(m, b, nvptx ? "llvm.nvvm.read.ptx.sreg.ctaid.x" : "llvm.amdgcn.workgroup.id.x");
    LLVMValueRef i = LLVMBuildAdd(b, LLVMBuildMul(b, bid, LLVMConstInt(i32, 256, 0), ""), tid, "i");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, i, LLVMGetParam(k, 2), ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef idx = LLVMBuildSExt(b, i, LLVMInt64TypeInContext(c), "");
    LLVMValueRef x = LLVMBuildLoad2(b, f32, LLVMBuildGEP2(b, f32, LLVMGetParam(k, 0), &idx, 1, ""), "");
    LLVMValueRef e = nf_math_emit(m, b, NF_MATH_EXP, x, NULL);
    LLVMValueRef y = LLVMBuildFMul(b, e, LLVMConstReal(f32, 2.0), "");
    LLVMBuildStore(b, y, LLVMBuildGEP2(b, f32, LLVMGetParam(k, 1), &idx, 1, ""));
    LLVMBuildBr(b, done);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    return m;
}

/* One kernel per math function and type: out[i] = fn(in[i], in2[i]). */
static LLVMModuleRef all_math_module(bool nvptx)
{
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("all_math", c);
    LLVMTypeRef gptr = LLVMPointerTypeInContext(c, 1), i64 = LLVMInt64TypeInContext(c);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    for (int fn = 0; fn < NF_MATH_COUNT; fn++)
        for (int w = 0; w < 2; w++) {
            LLVMTypeRef t = w ? LLVMDoubleTypeInContext(c) : LLVMFloatTypeInContext(c);
            char name[64];
            snprintf(name, sizeof name, "k_%s_%s", nf_math_name((nf_math_fn)fn), w ? "f64" : "f32");
            LLVMTypeRef params[3] = {gptr, gptr, gptr};
            LLVMValueRef k = LLVMAddFunction(m, name, LLVMFunctionType(LLVMVoidTypeInContext(c), params, 3, 0));
            LLVMSetFunctionCallConv(k, nvptx ? LLVMPTXKernelCallConv : LLVMAMDGPUKERNELCallConv);
            LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, k, "entry"));
            LLVMValueRef tid = call_sreg(m, b, nvptx ? "llvm.nvvm.read.ptx.sreg.tid.x" : "llvm.amdgcn.workitem.id.x");
            LLVMValueRef i = LLVMBuildZExt(b, tid, i64, "");
            LLVMValueRef x = LLVMBuildLoad2(b, t, LLVMBuildGEP2(b, t, LLVMGetParam(k, 0), &i, 1, ""), "");
            LLVMValueRef y = LLVMBuildLoad2(b, t, LLVMBuildGEP2(b, t, LLVMGetParam(k, 1), &i, 1, ""), "");
            LLVMValueRef r = nf_math_emit(m, b, (nf_math_fn)fn, x, y);
            LLVMBuildStore(b, r, LLVMBuildGEP2(b, t, LLVMGetParam(k, 2), &i, 1, ""));
            LLVMBuildRetVoid(b);
        }
    LLVMDisposeBuilder(b);
    return m;
}

static void dispose(LLVMModuleRef m)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
}

static bool tool_exists(const char *path)
{
    return access(path, X_OK) == 0;
}

static void write_temp(char *path, size_t n, const char *suffix, const void *data, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, n, "%s/nf_test_emit_XXXXXX%s", tmp && *tmp ? tmp : "/tmp", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    close(fd);
}

/* Runs cmd, returns its exit status; its output (up to cap) in out. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    return pclose(p);
}

static void test_ptx(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        const char *sm = t ? "sm_90" : "sm_80";
        LLVMModuleRef m = kernel_module(true);
        char *ptx = NULL;
        nf_error err = {0};
        nf_status s = nf_emit_ptx(m, sm, &ptx, &err);
        if (s != NF_OK)
            fail_msg("nf_emit_ptx %s: %s", sm, err.message);
        char want[32];
        snprintf(want, sizeof want, ".target %s", sm);
        assert_non_null(strstr(ptx, want));
        assert_non_null(strstr(ptx, ".entry scale_exp"));
        assert_non_null(strstr(ptx, ".version 8.0"));
        /* exact arithmetic only: no approximations, no flush to zero, and
         * .rn on every mul/add so ptxas cannot contract them into FMAs */
        assert_null(strstr(ptx, ".approx"));
        assert_null(strstr(ptx, ".ftz"));
        assert_null(strstr(ptx, "mul.f32"));
        assert_null(strstr(ptx, "add.f32"));
        assert_null(strstr(ptx, "call"));
        assert_non_null(strstr(ptx, "fma.rn.f32"));
        if (tool_exists(ptxas)) {
            char path[512], cmd[1200], out[4096];
            write_temp(path, sizeof path, ".ptx", ptx, strlen(ptx));
            snprintf(cmd, sizeof cmd, "%s --gpu-name %s %s -o /dev/null 2>&1", ptxas, sm, path);
            int rc = run_capture(cmd, out, sizeof out);
            unlink(path);
            if (rc != 0)
                fail_msg("ptxas rejected the PTX for %s: %s", sm, out);
        } else {
            printf("  skipped: %s not installed, PTX for %s not assembled\n", ptxas, sm);
        }
        free(ptx);
        dispose(m);
    }
}

static const char *readelf(void)
{
    static const char *const names[] = {"/usr/bin/llvm-readelf-22", "/usr/lib/llvm-22/bin/llvm-readelf"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (tool_exists(names[i]))
            return names[i];
    return NULL;
}

static void test_amdgpu(void **state)
{
    (void)state;
    static const char *const gfx[] = {"gfx942", "gfx950", "gfx90a"};
    for (size_t t = 0; t < sizeof gfx / sizeof *gfx; t++) {
        nf_error err = {0};
        LLVMModuleRef m = kernel_module(false);
        char *text = NULL;
        if (nf_emit_amdgpu_asm(m, gfx[t], &text, &err) != NF_OK)
            fail_msg("nf_emit_amdgpu_asm %s: %s", gfx[t], err.message);
        assert_non_null(strstr(text, ".amdhsa_kernel scale_exp"));
        char want[64];
        snprintf(want, sizeof want, "amdgcn-amd-amdhsa--%s", gfx[t]);
        assert_non_null(strstr(text, want));
        free(text);
        dispose(m);

        m = kernel_module(false);
        void *elf = NULL;
        size_t size = 0;
        nf_status s = nf_emit_amdgpu_hsaco(m, gfx[t], &elf, &size, &err);
        dispose(m);
        if (s != NF_OK && strstr(err.message, "ld.lld not found")) {
            printf("  skipped: %s\n", err.message);
            return;
        }
        if (s != NF_OK)
            fail_msg("nf_emit_amdgpu_hsaco %s: %s", gfx[t], err.message);
        const unsigned char *e = elf;
        assert_true(size > 64);
        assert_memory_equal(e, "\x7f" "ELF", 4);
        assert_int_equal(e[4], 2);                  /* 64-bit */
        assert_int_equal(e[18] | e[19] << 8, 224);  /* e_machine = EM_AMDGPU */
        assert_int_equal(e[16] | e[17] << 8, 3);    /* ET_DYN: linked */
        const char *re = readelf();
        if (re) {
            char path[512], cmd[1200];
            static char out[1 << 16];
            write_temp(path, sizeof path, ".hsaco", elf, size);
            snprintf(cmd, sizeof cmd, "%s --notes %s 2>&1", re, path);
            int rc = run_capture(cmd, out, sizeof out);
            unlink(path);
            assert_int_equal(rc, 0);
            assert_non_null(strstr(out, "amdhsa.kernels"));
            assert_non_null(strstr(out, ".name:           scale_exp"));
            assert_non_null(strstr(out, gfx[t]));
        } else {
            printf("  skipped: llvm-readelf-22 not installed, notes not checked\n");
        }
        free(elf);
    }
}

/* Every math function compiles for every GPU target into plain code: no
 * calls left (nothing from libm or libdevice), no approximate or
 * flush-to-zero instructions, and ptxas / ld.lld accept the result. */
static void test_all_math_all_targets(void **state)
{
    (void)state;
    static const char *const sms[] = {"sm_80", "sm_90"};
    for (size_t t = 0; t < 2; t++) {
        LLVMModuleRef m = all_math_module(true);
        char *ptx = NULL;
        nf_error err = {0};
        if (nf_emit_ptx(m, sms[t], &ptx, &err) != NF_OK)
            fail_msg("nf_emit_ptx %s: %s", sms[t], err.message);
        dispose(m);
        assert_null(strstr(ptx, "call"));
        assert_null(strstr(ptx, ".approx"));
        assert_null(strstr(ptx, ".ftz"));
        assert_null(strstr(ptx, "mul.f32"));
        assert_null(strstr(ptx, "add.f32"));
        assert_null(strstr(ptx, "mul.f64"));
        assert_null(strstr(ptx, "add.f64"));
        if (tool_exists(ptxas)) {
            char path[512], cmd[1200], out[4096];
            write_temp(path, sizeof path, ".ptx", ptx, strlen(ptx));
            snprintf(cmd, sizeof cmd, "%s --gpu-name %s %s -o /dev/null 2>&1", ptxas, sms[t], path);
            int rc = run_capture(cmd, out, sizeof out);
            unlink(path);
            if (rc != 0)
                fail_msg("ptxas rejected the math PTX for %s: %s", sms[t], out);
        }
        free(ptx);
    }
    static const char *const gfx[] = {"gfx90a", "gfx942", "gfx950"};
    for (size_t t = 0; t < 3; t++) {
        LLVMModuleRef m = all_math_module(false);
        char *text = NULL;
        nf_error err = {0};
        if (nf_emit_amdgpu_asm(m, gfx[t], &text, &err) != NF_OK)
            fail_msg("nf_emit_amdgpu_asm %s: %s", gfx[t], err.message);
        dispose(m);
        assert_null(strstr(text, "s_swappc")); /* no calls */
        assert_null(strstr(text, "v_exp_f32"));  /* no hardware approximations */
        assert_null(strstr(text, "v_log_f32"));
        assert_non_null(strstr(text, "v_div_fixup_f32")); /* IEEE division */
        free(text);
        m = all_math_module(false);
        void *elf = NULL;
        size_t size = 0;
        nf_status s = nf_emit_amdgpu_hsaco(m, gfx[t], &elf, &size, &err);
        dispose(m);
        if (s != NF_OK && !strstr(err.message, "ld.lld not found"))
            fail_msg("nf_emit_amdgpu_hsaco %s: %s", gfx[t], err.message);
        free(elf);
    }
}

static void test_lld_missing(void **state)
{
    (void)state;
    setenv("NF_LD_LLD", "/nonexistent/ld.lld", 1);
    LLVMModuleRef m = kernel_module(false);
    void *elf = (void *)1;
    size_t size = 1;
    nf_error err = {0};
    nf_status s = nf_emit_amdgpu_hsaco(m, "gfx942", &elf, &size, &err);
    unsetenv("NF_LD_LLD");
    dispose(m);
    assert_int_equal(s, NF_ERR_COMPILE);
    assert_null(elf);
    assert_non_null(strstr(err.message, "install lld-22"));
}

static void test_errors(void **state)
{
    (void)state;
    nf_error err = {0};
    char *text = NULL;
    LLVMModuleRef m = kernel_module(true);
    assert_int_equal(nf_emit_ptx(m, "sm_75", &text, &err), NF_ERR_ARG);
    assert_int_equal(nf_emit_ptx(m, "gfx942", &text, &err), NF_ERR_ARG);
    assert_int_equal(nf_emit_amdgpu_asm(m, "sm_90", &text, &err), NF_ERR_ARG);
    assert_null(text);
    assert_int_equal(nf_emit_llvm_text(m, &text, &err), NF_OK);
    assert_non_null(strstr(text, "define ptx_kernel void @scale_exp"));
    free(text);
    dispose(m);

    /* a block without a terminator: the verifier's message comes back */
    LLVMContextRef c = LLVMContextCreate();
    m = LLVMModuleCreateWithNameInContext("bad", c);
    LLVMValueRef f = LLVMAddFunction(m, "broken", LLVMFunctionType(LLVMVoidTypeInContext(c), NULL, 0, 0));
    LLVMAppendBasicBlockInContext(c, f, "entry");
    assert_int_equal(nf_emit_ptx(m, "sm_90", &text, &err), NF_ERR_COMPILE);
    assert_null(text);
    assert_non_null(strstr(err.message, "invalid"));
    assert_non_null(strstr(err.message, "terminator"));
    dispose(m);

    assert_true(nf_emit_target_known("gfx950"));
    assert_false(nf_emit_target_known("sm_100"));
    assert_string_equal(nf_emit_target_triple("sm_80"), "nvptx64-nvidia-cuda");
    assert_string_equal(nf_emit_target_triple("gfx90a"), "amdgcn-amd-amdhsa");
}

/* ---- the JIT --------------------------------------------------------------------- */

/* A module with float name(float x) { return 2 * exp(x) + bias; } */
static LLVMModuleRef host_module(const char *name, float bias)
{
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext(name, c);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(c);
    LLVMValueRef f = LLVMAddFunction(m, name, LLVMFunctionType(f32, &f32, 1, 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, f, "entry"));
    LLVMValueRef e = nf_math_emit(m, b, NF_MATH_EXP, LLVMGetParam(f, 0), NULL);
    LLVMValueRef r = LLVMBuildFAdd(b, LLVMBuildFMul(b, e, LLVMConstReal(f32, 2), ""), LLVMConstReal(f32, bias), "");
    LLVMBuildRet(b, r);
    LLVMDisposeBuilder(b);
    return m;
}

typedef struct worker {
    nf_jit *jit;
    int id;
    int failures;
    char message[256];
} worker;

static void *jit_worker(void *arg)
{
    worker *w = arg;
    for (int k = 0; k < 4; k++) {
        char name[64];
        snprintf(name, sizeof name, "f_%d_%d", w->id, k);
        nf_error err = {0};
        float bias = (float)(w->id * 10 + k);
        LLVMModuleRef m = host_module(name, bias);
        if (nf_jit_add_module(w->jit, LLVMGetModuleContext(m), m, &err) != NF_OK) {
            w->failures++;
            snprintf(w->message, sizeof w->message, "add %s: %.150s", name, err.message);
            continue;
        }
        void *p;
        if (nf_jit_lookup(w->jit, name, &p, &err) != NF_OK) {
            w->failures++;
            snprintf(w->message, sizeof w->message, "lookup %s: %.150s", name, err.message);
            continue;
        }
        float (*fn)(float);
        memcpy(&fn, &p, sizeof p);
        if (fn(0.0f) != 2.0f + bias) {
            w->failures++;
            snprintf(w->message, sizeof w->message, "%s(0) = %g, want %g", name, (double)fn(0.0f),
                     (double)(2.0f + bias));
        }
    }
    return NULL;
}

static void test_jit_threads(void **state)
{
    (void)state;
    nf_jit *jit;
    nf_error err = {0};
    assert_int_equal(nf_jit_create(&jit, &err), NF_OK);
    enum { N = 4 };
    worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.jit = jit, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, jit_worker, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            fail_msg("JIT thread %d: %s", i, w[i].message);
    }
    /* a missing symbol is an error, not a crash */
    void *p = (void *)1;
    assert_int_equal(nf_jit_lookup(jit, "no_such_function", &p, &err), NF_ERR_COMPILE);
    assert_null(p);
    /* the process's own symbols resolve (JIT code may call libm) */
    assert_int_equal(nf_jit_lookup(jit, "memcpy", &p, &err), NF_OK);
    assert_non_null(p);
    /* an invalid module is refused with the verifier's message and freed */
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("bad", c);
    LLVMValueRef f = LLVMAddFunction(m, "broken", LLVMFunctionType(LLVMVoidTypeInContext(c), NULL, 0, 0));
    LLVMAppendBasicBlockInContext(c, f, "entry");
    assert_int_equal(nf_jit_add_module(jit, c, m, &err), NF_ERR_COMPILE);
    assert_non_null(strstr(err.message, "terminator"));
    nf_jit_destroy(jit);
}

/* FP contraction stays off: a*b + c in IR is two roundings on the host. */
static void test_jit_no_contraction(void **state)
{
    (void)state;
    nf_jit *jit;
    nf_error err = {0};
    assert_int_equal(nf_jit_create(&jit, &err), NF_OK);
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("muladd", c);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(c);
    LLVMTypeRef ps[3] = {f32, f32, f32};
    LLVMValueRef f = LLVMAddFunction(m, "muladd", LLVMFunctionType(f32, ps, 3, 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, f, "entry"));
    LLVMBuildRet(b, LLVMBuildFAdd(b, LLVMBuildFMul(b, LLVMGetParam(f, 0), LLVMGetParam(f, 1), ""),
                                  LLVMGetParam(f, 2), ""));
    LLVMDisposeBuilder(b);
    assert_int_equal(nf_jit_add_module(jit, c, m, &err), NF_OK);
    void *p;
    assert_int_equal(nf_jit_lookup(jit, "muladd", &p, &err), NF_OK);
    float (*fn)(float, float, float);
    memcpy(&fn, &p, sizeof p);
    volatile float a = 1.0f + 0x1p-12f, nc = -(1.0f + 0x1p-11f);
    /* exact a*a = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11: the sum is 0, not 2^-24 */
    assert_true(fn(a, a, nc) == 0.0f);
    nf_jit_destroy(jit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ptx),
        cmocka_unit_test(test_amdgpu),
        cmocka_unit_test(test_all_math_all_targets),
        cmocka_unit_test(test_lld_missing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_jit_threads),
        cmocka_unit_test(test_jit_no_contraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
