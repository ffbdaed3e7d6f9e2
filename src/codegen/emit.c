/* Module -> PTX, AMDGPU assembly / code object, LLVM text. */
#include "codegen/emit.h"

#include "codegen/codegen.h"
#include "ir/ir.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- targets (target.c's table) ---------------------------------------- */

static const nf_target *find_target(const char *name) { return name ? nf_target_find(name) : NULL; }

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char host_triple[256];

static void init_llvm(void)
{
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeX86AsmParser();
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    LLVMInitializeAMDGPUTargetInfo();
    LLVMInitializeAMDGPUTarget();
    LLVMInitializeAMDGPUTargetMC();
    LLVMInitializeAMDGPUAsmPrinter();
    LLVMInitializeAMDGPUAsmParser();
    char *t = LLVMGetDefaultTargetTriple();
    snprintf(host_triple, sizeof host_triple, "%s", t);
    LLVMDisposeMessage(t);
}

void nf_llvm_init(void)
{
    pthread_once(&init_once, init_llvm);
}

bool nf_emit_target_known(const char *target)
{
    return find_target(target) != NULL;
}

const char *nf_emit_target_triple(const char *target)
{
    const nf_target *t = find_target(target);
    if (!t)
        return NULL;
    nf_llvm_init();
    return t->triple ? t->triple : host_triple;
}

static nf_status unknown_target(const char *target, nf_error *err)
{
    return nf_set_error(err, NF_ERR_ARG, 0, 0, "unknown target '%s' (use %s)", target ? target : "(null)",
                        nf_target_names());
}

nf_status nf_emit_target_machine(const char *target, LLVMTargetMachineRef *tm, nf_error *err)
{
    *tm = NULL;
    const nf_target *row = find_target(target);
    if (!row)
        return unknown_target(target, err);
    nf_llvm_init();
    const char *triple = row->triple ? row->triple : host_triple;
    LLVMTargetRef t;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(triple, &t, &msg)) {
        nf_set_error(err, NF_ERR_COMPILE, 0, 0, "LLVM has no target for %s: %s", triple,
                     msg ? msg : "");
        LLVMDisposeMessage(msg);
        return NF_ERR_COMPILE;
    }
    char *host_cpu = row->cpu ? NULL : LLVMGetHostCPUName();
    char *host_features = row->features ? NULL : LLVMGetHostCPUFeatures();
    bool amd = row->kind == NF_TARGET_AMDGPU;
    *tm = LLVMCreateTargetMachine(t, triple, row->cpu ? row->cpu : host_cpu,
                                  row->features ? row->features : host_features,
                                  LLVMCodeGenLevelDefault, amd ? LLVMRelocPIC : LLVMRelocDefault,
                                  LLVMCodeModelDefault);
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(host_features);
    if (!*tm)
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0, "LLVM could not create a target machine for %s",
                            target);
    return NF_OK;
}

/* ---- preparing a module ---------------------------------------------------- */

nf_status nf_emit_prepare(LLVMModuleRef m, LLVMTargetMachineRef tm, bool optimize, nf_error *err)
{
    if (!m || !tm)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_emit_prepare: null module or target machine");
    char *msg = NULL;
    if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
        nf_set_error(err, NF_ERR_COMPILE, 0, 0, "generated LLVM module is invalid: %s",
                     msg ? msg : "");
        LLVMDisposeMessage(msg);
        return NF_ERR_COMPILE;
    }
    LLVMDisposeMessage(msg);

    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(m, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(m, td);
    LLVMDisposeTargetData(td);
    if (!optimize)
        return NF_OK;

    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    /* The loop vectorizer's uniformity analysis (vputils::isUniformAcrossVFsAndUFs)
     * walks operand trees without memoizing: on a fused body that reuses values
     * (x in x * sigmoid(x), a chain of add(v, v)) it is exponential in the chain's
     * depth, and compiling one kernel could take minutes. The pass still plans
     * (with one lane) while interleaving is on, so both are off; the SLP
     * vectorizer stays. */
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 0);
    LLVMPassBuilderOptionsSetLoopInterleaving(opts, 0);
    LLVMErrorRef e = LLVMRunPasses(m, "default<O2>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
        char *em = LLVMGetErrorMessage(e);
        nf_set_error(err, NF_ERR_COMPILE, 0, 0, "LLVM optimization failed: %s", em);
        LLVMDisposeErrorMessage(em);
        return NF_ERR_COMPILE;
    }
    return NF_OK;
}

/* Prepares m for target (which must be of the given triple prefix) and
 * generates one file of the given kind into *buf. */
static nf_status generate(LLVMModuleRef m, const char *target, const char *triple_prefix,
                          LLVMCodeGenFileType kind, LLVMMemoryBufferRef *buf, nf_error *err)
{
    *buf = NULL;
    if (!m)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "null LLVM module");
    const nf_target *row = find_target(target);
    if (!row || !row->triple || strncmp(row->triple, triple_prefix, strlen(triple_prefix)) != 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "'%s' is not a %s target", target ? target : "(null)",
                            strcmp(triple_prefix, "nvptx") == 0 ? "NVIDIA (sm_80, sm_90, sm_90a)"
                                                                : "AMD (gfx90a, gfx942, gfx950)");
    if (row->kind == NF_TARGET_AMDGPU) {
        static const char key[] = "amdhsa_code_object_version";
        if (!LLVMGetModuleFlag(m, key, sizeof key - 1)) {
            LLVMTypeRef i32 = LLVMInt32TypeInContext(LLVMGetModuleContext(m));
            LLVMAddModuleFlag(m, LLVMModuleFlagBehaviorError, key, sizeof key - 1,
                              LLVMValueAsMetadata(LLVMConstInt(i32, 500, 0)));
        }
    }
    LLVMTargetMachineRef tm;
    nf_status s = nf_emit_target_machine(target, &tm, err);
    if (s != NF_OK)
        return s;
    s = nf_emit_prepare(m, tm, true, err);
    if (s == NF_OK) {
        char *msg = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, kind, &msg, buf)) {
            s = nf_set_error(err, NF_ERR_COMPILE, 0, 0, "LLVM code generation for %s failed: %s", target,
                             msg ? msg : "");
            *buf = NULL;
        }
        LLVMDisposeMessage(msg);
    }
    LLVMDisposeTargetMachine(tm);
    return s;
}

static nf_status buffer_to_string(LLVMMemoryBufferRef buf, char **out, nf_error *err)
{
    size_t n = LLVMGetBufferSize(buf);
    char *s = malloc(n + 1);
    if (!s) {
        LLVMDisposeMemoryBuffer(buf);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory copying generated code");
    }
    memcpy(s, LLVMGetBufferStart(buf), n);
    s[n] = '\0';
    LLVMDisposeMemoryBuffer(buf);
    *out = s;
    return NF_OK;
}

nf_status nf_emit_ptx(LLVMModuleRef m, const char *sm, char **ptx_out, nf_error *err)
{
    *ptx_out = NULL;
    LLVMMemoryBufferRef buf;
    nf_status s = generate(m, sm, "nvptx", LLVMAssemblyFile, &buf, err);
    return s != NF_OK ? s : buffer_to_string(buf, ptx_out, err);
}

nf_status nf_emit_amdgpu_asm(LLVMModuleRef m, const char *gfx, char **asm_out, nf_error *err)
{
    *asm_out = NULL;
    LLVMMemoryBufferRef buf;
    nf_status s = generate(m, gfx, "amdgcn", LLVMAssemblyFile, &buf, err);
    return s != NF_OK ? s : buffer_to_string(buf, asm_out, err);
}

nf_status nf_emit_llvm_text(LLVMModuleRef m, char **text_out, nf_error *err)
{
    *text_out = NULL;
    if (!m)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "null LLVM module");
    char *t = LLVMPrintModuleToString(m);
    *text_out = t ? strdup(t) : NULL;
    LLVMDisposeMessage(t);
    if (!*text_out)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory printing the LLVM module");
    return NF_OK;
}

/* ---- ld.lld as a subprocess --------------------------------------------------- */

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* The ld.lld to run: $NF_LD_LLD, LLVM 22's, or one on PATH. */
static bool find_lld(char *out, size_t n)
{
    const char *env = getenv("NF_LD_LLD");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return executable(out);
    }
    static const char *const fixed[] = {"/usr/lib/llvm-22/bin/ld.lld", "/usr/bin/ld.lld-22"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (executable(fixed[i])) {
            snprintf(out, n, "%s", fixed[i]);
            return true;
        }
    const char *path = getenv("PATH");
    static const char *const names[] = {"ld.lld-22", "ld.lld"};
    for (size_t k = 0; path && k < sizeof names / sizeof *names; k++) {
        const char *p = path;
        while (*p) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            if (len > 0 && (size_t)snprintf(out, n, "%.*s/%s", (int)len, p, names[k]) < n &&
                executable(out))
                return true;
            p += len + (colon ? 1 : 0);
        }
    }
    return false;
}

static nf_status write_file(const char *path, const void *data, size_t size, nf_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot create %s: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, size, f);
    if (fclose(f) != 0 || w != size)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot write %s", path);
    return NF_OK;
}

/* Reads a whole file; *data malloc'd (NUL-terminated as a convenience). */
static nf_status read_file(const char *path, void **data, size_t *size, nf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = buf && ferror(f);
    fclose(f);
    if (!buf)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory reading %s", path);
    if (bad) {
        free(buf);
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot read %s", path);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return NF_OK;
}

/* Runs lld -shared on dir/in.o into dir/out.hsaco; its stderr goes to dir/lld.err. */
static nf_status run_lld(const char *lld, const char *dir, nf_error *err)
{
    char in[1200], out[1200], log[1200];
    snprintf(in, sizeof in, "%s/in.o", dir);
    snprintf(out, sizeof out, "%s/out.hsaco", dir);
    snprintf(log, sizeof log, "%s/lld.err", dir);
    /* A plain "lld" binary needs the flavor spelled out; ld.lld names imply it. */
    const char *base = strrchr(lld, '/') ? strrchr(lld, '/') + 1 : lld;
    bool plain = strncmp(base, "ld.lld", 6) != 0;
    char *args[10];
    int n = 0;
    args[n++] = (char *)lld;
    if (plain) {
        args[n++] = "-flavor";
        args[n++] = "gnu";
    }
    args[n++] = "-shared";
    args[n++] = "--no-undefined";
    args[n++] = "-o";
    args[n++] = out;
    args[n++] = in;
    args[n] = NULL;

    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "cannot run ld.lld: out of memory");
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, lld, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0, "cannot run %s: %s", lld, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return nf_set_error(err, NF_ERR_COMPILE, 0, 0, "waiting for %s: %s", lld, strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NF_OK;
    void *msg = NULL;
    size_t msg_len = 0;
    nf_error ignored;
    if (read_file(log, &msg, &msg_len, &ignored) != NF_OK)
        msg = NULL;
    nf_set_error(err, NF_ERR_COMPILE, 0, 0, "%s failed linking the AMDGPU code object: %.700s", lld,
                 msg ? (char *)msg : "(no message)");
    free(msg);
    return NF_ERR_COMPILE;
}

static void remove_temp_dir(const char *dir)
{
    static const char *const names[] = {"in.o", "out.hsaco", "lld.err"};
    char p[1200];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

nf_status nf_emit_amdgpu_hsaco(LLVMModuleRef m, const char *gfx, void **elf, size_t *size,
                               nf_error *err)
{
    *elf = NULL;
    *size = 0;
    char lld[4096];
    if (!find_lld(lld, sizeof lld))
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0,
                            "ld.lld not found: AMDGPU code objects are linked with it; "
                            "install lld-22 (or set NF_LD_LLD to an ld.lld binary)");
    LLVMMemoryBufferRef obj;
    nf_status s = generate(m, gfx, "amdgcn", LLVMObjectFile, &obj, err);
    if (s != NF_OK)
        return s;

    const char *tmp = getenv("TMPDIR");
    char dir[1024];
    int dn = snprintf(dir, sizeof dir, "%s/nsafuse-lld-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (dn < 0 || (size_t)dn >= sizeof dir || !mkdtemp(dir)) {
        LLVMDisposeMemoryBuffer(obj);
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot create a temporary directory %s: %s", dir,
                            strerror(errno));
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/in.o", dir);
    s = write_file(path, LLVMGetBufferStart(obj), LLVMGetBufferSize(obj), err);
    LLVMDisposeMemoryBuffer(obj);
    if (s == NF_OK)
        s = run_lld(lld, dir, err);
    if (s == NF_OK) {
        snprintf(path, sizeof path, "%s/out.hsaco", dir);
        s = read_file(path, elf, size, err);
    }
    remove_temp_dir(dir);
    return s;
}
