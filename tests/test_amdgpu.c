/* AMDGPU code objects, checked without AMD hardware (amdgpu_code_object.h
 * says what is checked): every example graph at T = 1 and 16384 and random
 * graphs (elementwise chains, GEMM + epilogue), fused, with keep_fp32 and
 * unfused, compiled for gfx90a, gfx942 and gfx950 through
 * nf_kernel_dump("hsaco"); and the checks themselves must catch broken code
 * objects. What nothing here can check (no AMD GPU ran this code) is written
 * down in docs/AMD.md. */
#include "codegen/codegen.h"
#include "amdgpu_code_object.h"
#include "random_graph.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

/* ---- one graph, one target ------------------------------------------------- */

typedef struct variant {
    const char *name;
    bool keep_fp32, unfused;
} variant;

static const variant variants[] = {{"fused", false, false}, {"keep_fp32", true, false}, {"unfused", false, true}};

static bool lld_missing;
static int mfma_gemms; /* kernels checked to use MFMA */
static char lld_message[1100];

/* Whether every op of g is exact arithmetic, a cast, a view or a GEMM: then
 * the code must hold no multiply-add (LLVM lowers division, square roots
 * and the math library with fma on purpose). */
static bool mul_add_only(const nf_graph *g)
{
    for (int i = 0; i < g->n_values; i++) {
        nf_op op = g->values[i]->op;
        if (op == NF_OP_DIV || op == NF_OP_POW || op == NF_OP_EXP || op == NF_OP_LOG || op == NF_OP_SQRT ||
            op == NF_OP_RSQRT || op == NF_OP_SIGMOID || op == NF_OP_TANH || op == NF_OP_SILU || op == NF_OP_GELU)
            return false;
    }
    return true;
}

/* Kernels of the plan that must run on the matrix cores (bit k: nf_k<k>):
 * GEMMs of an operand form the MFMA GEMM takes (gemm_common.c) with K % 16
 * == 0 and M, N >= 1. A dump lays out every buffer contiguously and 16-byte
 * aligned, so nothing else may keep such a GEMM off the matrix cores. */
static unsigned long long mfma_kernels(const nf_graph *g, const nf_plan *plan, const nf_bindings *b)
{
    int64_t sym_sizes[64];
    nf_error err;
    if (g->n_syms > 64 || nf_resolve_symbols(g, b, sym_sizes, &err) != NF_OK)
        fail_msg("symbol sizes of %s", g->name);
    unsigned long long mask = 0;
    for (int i = 0; i < plan->n_kernels && i < 64; i++) {
        const nf_fused_kernel *k = &plan->kernels[i];
        if (!nf_gemm_matrix_form(k))
            continue;
        int64_t a[NF_MAX_DIMS], out[NF_MAX_DIMS], M = 1;
        nf_concrete_shape(&k->gemm->args[0]->shape, sym_sizes, a);
        nf_concrete_shape(&k->gemm->shape, sym_sizes, out);
        for (int d = 0; d + 1 < k->gemm->shape.rank; d++)
            M *= out[d];
        if (a[k->gemm->args[0]->shape.rank - 1] % 16 == 0 && M >= 1 && out[k->gemm->shape.rank - 1] >= 1)
            mask |= 1ull << i;
    }
    return mask;
}

/* The code object of g for t, *size bytes (malloc'd), and what it must hold;
 * NULL when ld.lld is missing. */
static void *compile_code_object(const nf_graph *g, const char *what, const amd_target *t, const nf_bindings *b,
                                 const variant *v, size_t *size, amd_expect *x)
{
    nf_error err = {0};
    nf_plan *plan = NULL;
    nf_plan_options po = {.keep_fp32 = v->keep_fp32, .unfused = v->unfused};
    if (nf_plan_build(g, &po, &plan, &err) != NF_OK)
        fail_msg("%s: plan: %s", what, err.message);
    int n_kernels = plan->n_kernels;
    int slots = nf_graph_num_params(g) + nf_graph_num_outputs(g) + plan->n_temporaries;
    unsigned long long mfma = mfma_kernels(g, plan, b);
    nf_plan_free(plan);
    *x = (amd_expect){t, n_kernels, slots, mul_add_only(g), true, mfma};

    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = t->gfx;
    o.keep_fp32 = v->keep_fp32;
    o.unfused = v->unfused;
    nf_kernel *k = NULL;
    char *elf = NULL;
    nf_status st = nf_compile(g, &o, &k, &err);
    if (!st)
        st = nf_kernel_dump(k, "hsaco", b, &elf, size, &err);
    nf_kernel_free(k);
    if (st && strstr(err.message, "ld.lld not found")) {
        lld_missing = true;
        snprintf(lld_message, sizeof lld_message, "SKIP: %s", err.message);
        return NULL;
    }
    if (st)
        fail_msg("%s on %s (%s): nf_kernel_dump hsaco: %s\n%s", what, t->gfx, v->name, err.message,
                 nf_graph_print(g));
    return elf;
}

/* Compiles g for t and checks the code object; fills seen[] (kernel
 * metadata, may be NULL) and returns the number of kernels. */
static int check_code_object(const nf_graph *g, const char *what, const amd_target *t, const nf_bindings *b,
                             const variant *v, amd_kernel_meta *seen)
{
    size_t size = 0;
    amd_expect x;
    void *elf = compile_code_object(g, what, t, b, v, &size, &x);
    if (!elf)
        return 0;

    amd_problems *p = calloc(1, sizeof *p);
    assert_non_null(p);
    amd_check_code_object(elf, size, &x, seen, p);
    mfma_gemms += __builtin_popcountll(x.mfma);
    free(elf);
    if (p->count)
        fail_msg("%s on %s (%s; %d kernels, %d slots): %d problem(s) in the code object:\n%s\ngraph:\n%s", what,
                 t->gfx, v->name, x.n_kernels, x.slots, p->count, p->text, nf_graph_print(g));
    free(p);
    return x.n_kernels;
}

/* ---- the tests ------------------------------------------------------------- */

static int find_tools(void **state)
{
    (void)state;
    amd_find_tools();
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void examples_give_valid_code_objects(void **state)
{
    (void)state;
    const char *root = getenv("NF_SOURCE_ROOT") ? getenv("NF_SOURCE_ROOT") : NF_SOURCE_ROOT;
    char dir_path[1024];
    snprintf(dir_path, sizeof dir_path, "%s/examples/nsa", root);
    DIR *dir = opendir(dir_path);
    if (!dir)
        fail_msg("cannot open %s", dir_path);
    char *files[64];
    int n_files = 0;
    for (struct dirent *d; (d = readdir(dir));) {
        size_t l = strlen(d->d_name);
        if (l > 3 && strcmp(d->d_name + l - 3, ".nf") == 0 && n_files < 64) {
            files[n_files] = strdup(d->d_name);
            assert_non_null(files[n_files++]);
        }
    }
    closedir(dir);
    assert_true(n_files > 0);
    qsort(files, (size_t)n_files, sizeof files[0], compare_names);
    static const int64_t token_counts[] = {1, 16384}; /* decode .. prefill */
    int n_graphs = 0;
    for (int f = 0; f < n_files && !lld_missing; f++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir_path, files[f]);
        size_t len = 0;
        char *src = read_file(path, &len);
        assert_non_null(src);
        nf_error err;
        char *names = nf_graph_list(src, len, &err);
        if (!names)
            fail_msg("%s: %s", path, err.message);
        char *save = NULL;
        for (char *name = strtok_r(names, "\n", &save); name && !lld_missing; name = strtok_r(NULL, "\n", &save)) {
            nf_graph *g = nf_graph_parse(src, len, path, name, &err);
            if (!g)
                fail_msg("%s: %s", path, err.message);
            n_graphs++;
            for (size_t ti = 0; ti < sizeof token_counts / sizeof token_counts[0]; ti++) {
                nf_bindings b = {0};
                for (int s = 0; s < nf_graph_num_symbols(g); s++) {
                    b.names[b.n] = nf_graph_symbol(g, s);
                    b.sizes[b.n++] = token_counts[ti];
                }
                for (int t = 0; t < AMD_N_TARGETS && !lld_missing; t++) {
                    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
                        char what[256];
                        snprintf(what, sizeof what, "%s (%s, symbols = %lld)", name, files[f],
                                 (long long)token_counts[ti]);
                        amd_kernel_meta seen[AMD_MAX_KERNELS];
                        int nk = check_code_object(g, what, &amd_targets[t], &b, &variants[v], seen);
                        for (int i = 0; i < nk && v == 0 && amd_have_readelf(); i++)
                            printf("  %-36s %s T=%-5lld %s: sgpr %lld vgpr %lld agpr %lld, LDS %lld, scratch %lld, "
                                   "%d MFMA\n",
                                   name, amd_targets[t].gfx, (long long)token_counts[ti], seen[i].name, seen[i].sgpr,
                                   seen[i].vgpr, seen[i].agpr, seen[i].lds, seen[i].scratch, seen[i].mfma);
                    }
                }
            }
            nf_graph_free(g);
        }
        free(names);
        free(src);
    }
    for (int f = 0; f < n_files; f++)
        free(files[f]);
    if (lld_missing) {
        printf("%s\n", lld_message);
        skip();
    }
    printf("examples: %d graphs x %d targets x fused/keep_fp32/unfused: valid code objects\n", n_graphs, AMD_N_TARGETS);
}

static void random_graphs_give_valid_code_objects(void **state)
{
    (void)state;
    uint64_t seed = getenv("NF_TEST_SEED") ? strtoull(getenv("NF_TEST_SEED"), NULL, 0) : (uint64_t)time(NULL);
    int count = getenv("NF_TEST_GRAPHS") ? atoi(getenv("NF_TEST_GRAPHS")) : 50;
    printf("random graphs: seed %llu (rerun with NF_TEST_SEED=%llu), %d graphs\n", (unsigned long long)seed,
           (unsigned long long)seed, count);
    int kernels = 0, mul_add_graphs = 0;
    mfma_gemms = 0;
    for (int i = 0; i < count && !lld_missing; i++) {
        bool gemm = i % 2 == 0;
        nf_graph *g = random_graph(seed + (uint64_t)i * 7919, gemm, NULL);
        const nf_error *e = nf_graph_error(g);
        if (e)
            fail_msg("generator built a bad graph (seed %llu, graph %d): %s", (unsigned long long)seed, i, e->message);
        char what[128];
        snprintf(what, sizeof what, "random %s graph %d (seed %llu)", gemm ? "GEMM" : "elementwise", i,
                 (unsigned long long)seed);
        nf_bindings b = {0};
        mul_add_graphs += mul_add_only(g);
        for (int t = 0; t < AMD_N_TARGETS; t++)
            kernels += check_code_object(g, what, &amd_targets[t], &b, &variants[i % 3], NULL);
        nf_graph_free(g);
    }
    if (lld_missing) {
        printf("%s\n", lld_message);
        skip();
    }
    printf("random graphs: %d kernels in %d code objects, all valid (%d graphs of exact arithmetic: no multiply-add; "
           "%d GEMM kernels on MFMA)\n",
           kernels, count * AMD_N_TARGETS, mul_add_graphs, mfma_gemms);
}

/* The MFMA GEMM's shapes and forms: tails in M and N, K with and without
 * gfx950's K = 32 steps, every operand form, each with a small epilogue. */
static void mfma_gemms_give_valid_code_objects(void **state)
{
    (void)state;
    static const struct {
        const char *name, *params, *gemm;
    } forms[] = {
        {"bf16", "%x: bf16[M, K], %w: bf16[N, K]", "linear(%x, %w)"},
        {"f16", "%x: f16[M, K], %w: f16[N, K]", "linear(%x, %w)"},
        {"f32out", "%x: bf16[M, K], %w: bf16[N, K]", "linear(%x, %w, out_dtype=f32)"},
        {"f32w", "%x: bf16[M, K], %w: f32[N, K]", "linear(cast_x, %w)"},
        {"trans_b", "%x: bf16[M, K], %w: bf16[N, K]", "matmul(%x, %w, trans_b=true)"},
    };
    static const int64_t Ms[] = {1, 5, 17, 100}, Ns[] = {8, 24, 64, 200}, Ks[] = {16, 48, 64};
    int objects = 0;
    for (size_t f = 0; f < sizeof forms / sizeof forms[0] && !lld_missing; f++)
        for (size_t i = 0; i < 4 && !lld_missing; i++) {
            /* M, N, K cycle through their lists so every value meets every form */
            int64_t M = Ms[(i + f) % 4], N = Ns[i], K = Ks[(i + 2 * f) % 3];
            char text[1024], gemm[128];
            bool f32w = strcmp(forms[f].name, "f32w") == 0;
            snprintf(gemm, sizeof gemm, "%s", forms[f].gemm);
            if (f32w)
                snprintf(gemm, sizeof gemm, "linear(%%xf, %%w)");
            snprintf(text, sizeof text,
                     "graph g(%s, %%s: f32[N]) {\n%s  %%y = %s\n  %%yf = cast(%%y, f32)\n  %%o = mul(%%yf, %%s)\n"
                     "  return %%o\n}\n",
                     forms[f].params, f32w ? "  %xf = cast(%x, f32)\n" : "", gemm);
            nf_error err;
            nf_graph *g = nf_graph_parse(text, strlen(text), "mfma.nf", NULL, &err);
            if (!g)
                fail_msg("%s\n%s", err.message, text);
            nf_bindings b = {3, {"M", "N", "K"}, {M, N, K}};
            char what[128];
            snprintf(what, sizeof what, "%s GEMM, M = %lld, N = %lld, K = %lld", forms[f].name, (long long)M,
                     (long long)N, (long long)K);
            for (int t = 0; t < AMD_N_TARGETS && !lld_missing; t++)
                for (size_t v = 0; v < 2; v++) { /* fused, keep_fp32 */
                    int before = mfma_gemms;
                    check_code_object(g, what, &amd_targets[t], &b, &variants[v], NULL);
                    if (!lld_missing && mfma_gemms != before + 1)
                        fail_msg("%s on %s: the plan has no matrix-core GEMM", what, amd_targets[t].gfx);
                    objects++;
                }
            nf_graph_free(g);
        }
    if (lld_missing) {
        printf("%s\n", lld_message);
        skip();
    }
    printf("MFMA GEMMs: %d code objects (5 forms, tails in M and N, K = 16, 48, 64), all valid with MFMA\n", objects);
}

/* ---- the checks catch what they are for ---------------------------------- */

/* A copy of text with key's value (on its first line) replaced, or that
 * line dropped when value is NULL. */
static char *with_value(const char *text, const char *key, const char *value)
{
    const char *at = strstr(text, key);
    assert_non_null(at);
    const char *line = at, *end = strchr(at, '\n');
    while (line > text && line[-1] != '\n')
        line--;
    end = end ? end + 1 : at + strlen(at);
    size_t cap = strlen(text) + (value ? strlen(value) : 0) + 2;
    char *out = malloc(cap);
    assert_non_null(out);
    if (value)
        snprintf(out, cap, "%.*s%s: %s\n%s", (int)(at - text), text, key, value, end);
    else
        snprintf(out, cap, "%.*s%s", (int)(line - text), text, end);
    return out;
}

static void expect_problem(const amd_problems *p, const char *broken, const char *want)
{
    if (p->count == 0 || !strstr(p->text, want))
        fail_msg("the checks missed a broken code object (%s): want a problem naming '%s', got %d:\n%s", broken,
                 want, p->count, p->text);
}

static void checks_catch_broken_code_objects(void **state)
{
    (void)state;
    static const char text[] = "graph gate(%x: bf16[4, 16], %w: bf16[8, 16]) {\n"
                               "  %y = linear(%x, %w, out_dtype=f32)\n"
                               "  %o = mul(%y, 0.125)\n"
                               "  return %o\n"
                               "}\n";
    nf_error err;
    nf_graph *g = nf_graph_parse(text, sizeof text - 1, "gate.nf", NULL, &err);
    if (!g)
        fail_msg("%s", err.message);
    nf_bindings b = {0};
    size_t size = 0;
    amd_expect x;
    const amd_target *t = &amd_targets[1];
    unsigned char *elf = compile_code_object(g, "gate", t, &b, &variants[0], &size, &x);
    nf_graph_free(g);
    if (!elf) {
        printf("%s\n", lld_message);
        skip();
    }
    amd_problems *p = calloc(1, sizeof *p);
    assert_non_null(p);
    amd_check_code_object(elf, size, &x, NULL, p);
    if (p->count)
        fail_msg("the good code object fails the checks:\n%s", p->text);
    long kd = amd_descriptor_offset(elf, size, 0);
    assert_true(kd > 0);

    /* one byte range of the ELF changed at a time */
    uint32_t flags;
    memcpy(&flags, elf + 48, 4);
    uint32_t other_gfx = (flags & ~0xffu) | amd_targets[0].mach, xnack_on = flags | 0x300;
    uint32_t no_scratch_seen = 64, short_kernargs = 8;
    int64_t entry;
    memcpy(&entry, elf + kd + 16, 8);
    int64_t wrong_entry = entry + 256;
    uint32_t rsrc1;
    memcpy(&rsrc1, elf + kd + 48, 4);
    uint32_t more_vgprs = (rsrc1 & ~0x3fu) | (((rsrc1 & 0x3f) + 1) & 0x3f), flush_f32 = rsrc1 & ~(3u << 16);
    unsigned char abi_v4 = 2;
    const struct {
        const char *what;
        long offset;
        const void *bytes;
        size_t n;
        const char *want;
        bool needs_readelf;
    } elf_breaks[] = {
        {"another gfx in e_flags", 48, &other_gfx, 4, "EF_AMDGPU_MACH", false},
        {"xnack on in e_flags", 48, &xnack_on, 4, "xnack", false},
        {"code object v4", 8, &abi_v4, 1, "EI_ABIVERSION", false},
        {"scratch in the descriptor", kd + 4, &no_scratch_seen, 4, "private segment", false},
        {"kernarg size in the descriptor", kd + 8, &short_kernargs, 4, "kernarg size", false},
        {"code entry offset", kd + 16, &wrong_entry, 8, "code entry", false},
        {"VGPR blocks in the descriptor", kd + 48, &more_vgprs, 4, "VGPR blocks", true},
        {"f32 denormals flushed", kd + 48, &flush_f32, 4, "denormal flushing off", false},
    };
    for (size_t i = 0; i < sizeof elf_breaks / sizeof elf_breaks[0]; i++) {
        if (elf_breaks[i].needs_readelf && !amd_have_readelf())
            continue;
        unsigned char *copy = malloc(size);
        assert_non_null(copy);
        memcpy(copy, elf, size);
        memcpy(copy + elf_breaks[i].offset, elf_breaks[i].bytes, elf_breaks[i].n);
        memset(p, 0, sizeof *p);
        amd_check_code_object(copy, size, &x, NULL, p);
        expect_problem(p, elf_breaks[i].what, elf_breaks[i].want);
        free(copy);
    }
    /* the right object against the wrong expectations */
    amd_expect two_kernels = {x.target, 2, x.slots, false, false, 0};
    amd_expect more_slots = {x.target, 1, x.slots + 1, false, false, 0};
    amd_expect no_mfma = {x.target, 1, x.slots, false, true, 0};
    memset(p, 0, sizeof *p);
    amd_check_code_object(elf, size, &two_kernels, NULL, p);
    expect_problem(p, "a kernel missing", "nf_k1");
    memset(p, 0, sizeof *p);
    amd_check_code_object(elf, size, &more_slots, NULL, p);
    expect_problem(p, "an argument missing", "kernarg size");
    /* the gate's GEMM runs on the matrix cores; taken for a plain kernel, it fails */
    assert_true(x.check_mfma && x.mfma == 1);
    memset(p, 0, sizeof *p);
    amd_check_code_object(elf, size, &no_mfma, NULL, p);
    if (amd_have_objdump())
        expect_problem(p, "MFMA where none belongs", "no matrix-core GEMM");

    /* one metadata line changed at a time */
    char *notes = amd_readelf_notes(elf, size);
    const struct {
        const char *key, *value, *want;
    } meta_breaks[] = {
        {".max_flat_workgroup_size", "1024", ".max_flat_workgroup_size"},
        {".wavefront_size", "32", ".wavefront_size"},
        {".wavefront_size", NULL, ".wavefront_size missing"},
        {".private_segment_fixed_size", "16", ".private_segment_fixed_size"},
        {".group_segment_fixed_size", "4096", ".group_segment_fixed_size"},
        {".vgpr_spill_count", "3", ".vgpr_spill_count"},
        {".sgpr_spill_count", "1", ".sgpr_spill_count"},
        {".sgpr_count", "104", ".sgpr_count"},
        {".vgpr_count", "513", ".vgpr_count"},
        {".kernarg_segment_size", "48", ".kernarg_segment_size"},
        {".value_kind", "by_value", "argument 0"},
        {".name", "other", "nf_k0: not in the metadata"},
        {".symbol", "nf_k0", ".symbol"},
        {"amdhsa.target", "amdgcn-amd-amdhsa--gfx90a", "amdhsa.target"},
    };
    for (size_t i = 0; notes && i < sizeof meta_breaks / sizeof meta_breaks[0]; i++) {
        char *broken = with_value(notes, meta_breaks[i].key, meta_breaks[i].value);
        memset(p, 0, sizeof *p);
        amd_check_notes(broken, &x, NULL, p);
        expect_problem(p, meta_breaks[i].key, meta_breaks[i].want);
        free(broken);
    }
    if (notes) {
        memset(p, 0, sizeof *p);
        amd_check_notes(notes, &x, NULL, p);
        if (p->count)
            fail_msg("the good metadata fails the checks:\n%s", p->text);
    }
    /* exp's code uses fma on purpose: taken for exact arithmetic, it fails */
    static const char exp_text[] = "graph e(%x: f32[64]) {\n  %y = exp(%x)\n  return %y\n}\n";
    g = nf_graph_parse(exp_text, sizeof exp_text - 1, "e.nf", NULL, &err);
    assert_non_null(g);
    free(elf);
    elf = compile_code_object(g, "e", t, &b, &variants[0], &size, &x);
    nf_graph_free(g);
    assert_non_null(elf);
    assert_false(x.no_fma);
    x.no_fma = true;
    memset(p, 0, sizeof *p);
    amd_check_code_object(elf, size, &x, NULL, p);
    if (amd_have_objdump())
        expect_problem(p, "exp taken for exact arithmetic", "contracts a multiply and an add");
    /* an elementwise kernel taken for a matrix-core GEMM */
    x.no_fma = false;
    x.mfma = 1;
    memset(p, 0, sizeof *p);
    amd_check_code_object(elf, size, &x, NULL, p);
    if (amd_have_objdump())
        expect_problem(p, "a GEMM without MFMA", "without MFMA instructions");
    printf("the checks catch %zu broken ELF images, 6 wrong expectations and %zu broken metadata lines\n",
           sizeof elf_breaks / sizeof elf_breaks[0], notes ? sizeof meta_breaks / sizeof meta_breaks[0] : 0);
    free(notes);
    free(p);
    free(elf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_catch_broken_code_objects),
        cmocka_unit_test(examples_give_valid_code_objects),
        cmocka_unit_test(mfma_gemms_give_valid_code_objects),
        cmocka_unit_test(random_graphs_give_valid_code_objects),
    };
    return cmocka_run_group_tests(tests, find_tools, NULL);
}
