/* The checks of amdgpu_code_object.h. */
#include "amdgpu_code_object.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

extern char **environ;

/* ---- what the code objects must be ------------------------------------- */

enum {
    ELFOSABI_AMDGPU_HSA_ = 64,
    ELFABIVERSION_AMDGPU_HSA_V5 = 3, /* code object version 5 (emit.c asks for it) */
    EF_AMDGPU_MACH_MASK = 0x0ff,
    EF_AMDGPU_XNACK_MASK = 0x300, EF_AMDGPU_XNACK_ANY = 0x100,
    EF_AMDGPU_SRAMECC_MASK = 0xc00, EF_AMDGPU_SRAMECC_ANY = 0x400,
    KD_SIZE = 64,           /* the amdhsa kernel descriptor */
    ENTRY_ALIGN = 256,      /* kernel code entries are 256-byte aligned */
    MAX_SGPRS = 102,        /* GFX9: addressable SGPRs, VCC and XNACK mask included */
    MAX_VGPRS = 512,        /* GFX90A+: one file of 512, arch VGPRs then AGPRs */
    MAX_AGPRS = 256,
    VGPR_GRANULE = 8,       /* GFX90A+: COMPUTE_PGM_RSRC1 counts VGPRs in blocks of 8 */
    RSRC1_RNE_DENORMALS_KEPT = 0xf0, /* bits 12-19: round 32, round 16/64 = 0; denorm 32, 16/64 = 3 */
    RSRC1_IEEE_MODE = 1 << 23,
    BLOCK = 256,            /* NF_GPU_BLOCK: gpu.c's threads per block */
    MAX_KERNELS = AMD_MAX_KERNELS,
};

const amd_target amd_targets[AMD_N_TARGETS] = {{"gfx90a", 0x03f}, {"gfx942", 0x04c}, {"gfx950", 0x04f}};

int amd_kernel_args(int slots) { return slots + 2; }

typedef amd_problems problems;
typedef amd_kernel_meta kernel_meta;

static void problem(problems *p, const char *fmt, ...)
{
    p->count++;
    if (p->len + 2 >= sizeof p->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->text + p->len, sizeof p->text - p->len - 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len += (size_t)n < sizeof p->text - p->len - 1 ? (size_t)n : sizeof p->text - p->len - 2;
    p->text[p->len++] = '\n';
    p->text[p->len] = '\0';
}

/* ---- running llvm-readelf / llvm-objdump ------------------------------- */

static const char *find_tool(const char *versioned, const char *in_llvm_dir, char *buf, size_t n)
{
    snprintf(buf, n, "/usr/bin/%s", versioned);
    if (access(buf, X_OK) == 0)
        return buf;
    snprintf(buf, n, "/usr/lib/llvm-22/bin/%s", in_llvm_dir);
    if (access(buf, X_OK) == 0)
        return buf;
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len && (size_t)snprintf(buf, n, "%.*s/%s", (int)len, path, versioned) < n && access(buf, X_OK) == 0)
            return buf;
        path += len + (colon ? 1 : 0);
    }
    return NULL;
}

static char readelf_buf[512], objdump_buf[512];
static const char *readelf_path, *objdump_path;

void amd_find_tools(void)
{
    readelf_path = find_tool("llvm-readelf-22", "llvm-readelf", readelf_buf, sizeof readelf_buf);
    objdump_path = find_tool("llvm-objdump-22", "llvm-objdump", objdump_buf, sizeof objdump_buf);
    printf("%s\n%s\n", readelf_path ? readelf_path : "SKIP metadata checks: llvm-readelf-22 not found (apt-get install llvm-22)",
           objdump_path ? objdump_path : "SKIP disassembly checks: llvm-objdump-22 not found (apt-get install llvm-22)");
}

bool amd_have_readelf(void) { return readelf_path != NULL; }
bool amd_have_objdump(void) { return objdump_path != NULL; }

/* Runs argv with stdout and stderr into *out (malloc'd); the exit status, or -1. */
static int run_tool(char *const argv[], char **out)
{
    char tmpl[] = "/tmp/nsafuse-amdgpu-out-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = -1;
    if (rc == 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size >= 0);
    *out = malloc((size_t)size + 1);
    assert_non_null(*out);
    ssize_t got = pread(fd, *out, (size_t)size, 0);
    close(fd);
    (*out)[got > 0 ? got : 0] = '\0';
    if (rc != 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- the ELF, in C --------------------------------------------------------- */

typedef struct kd_info {
    bool found;
    uint32_t lds, scratch, kernarg_size, vgpr_blocks;
} kd_info;

static bool in_bounds(size_t size, uint64_t off, uint64_t len) { return off <= size && len <= size - off; }

/* The file bytes at virtual address addr (len of them), or NULL. */
static const unsigned char *at_address(const unsigned char *e, size_t size, const Elf64_Ehdr *h, uint64_t addr,
                                       uint64_t len)
{
    for (int i = 0; i < h->e_shnum; i++) {
        Elf64_Shdr s;
        memcpy(&s, e + h->e_shoff + (uint64_t)i * sizeof s, sizeof s);
        if (s.sh_type == SHT_PROGBITS && (s.sh_flags & SHF_ALLOC) && addr >= s.sh_addr &&
            addr - s.sh_addr <= s.sh_size && len <= s.sh_size - (addr - s.sh_addr) &&
            in_bounds(size, s.sh_offset + (addr - s.sh_addr), len))
            return e + s.sh_offset + (addr - s.sh_addr);
    }
    return NULL;
}

static bool find_symbol(const unsigned char *e, const Elf64_Shdr *symtab, const Elf64_Shdr *strtab, const char *name,
                        Elf64_Sym *out)
{
    size_t n = symtab->sh_size / sizeof(Elf64_Sym);
    for (size_t i = 1; i < n; i++) {
        Elf64_Sym s;
        memcpy(&s, e + symtab->sh_offset + i * sizeof s, sizeof s);
        if (s.st_name < strtab->sh_size &&
            strncmp((const char *)e + strtab->sh_offset + s.st_name, name, strtab->sh_size - s.st_name) == 0) {
            *out = s;
            return true;
        }
    }
    return false;
}

/* Header, symbols, and each kernel's descriptor (what the loader and the
 * command processor read), filling kd[] for the metadata cross-checks. */
static void check_elf(const unsigned char *e, size_t size, const amd_expect *x, kd_info *kd, problems *p)
{
    const amd_target *t = x->target;
    int n_kernels = x->n_kernels, slots = x->slots;
    Elf64_Ehdr h;
    if (size < sizeof h || memcmp(e, ELFMAG, SELFMAG) != 0) {
        problem(p, "not an ELF file (%zu bytes)", size);
        return;
    }
    memcpy(&h, e, sizeof h);
    if (e[EI_CLASS] != ELFCLASS64 || e[EI_DATA] != ELFDATA2LSB)
        problem(p, "ELF class %d data %d, want 64-bit little-endian", e[EI_CLASS], e[EI_DATA]);
    if (e[EI_OSABI] != ELFOSABI_AMDGPU_HSA_)
        problem(p, "EI_OSABI %d, want ELFOSABI_AMDGPU_HSA (64)", e[EI_OSABI]);
    if (e[EI_ABIVERSION] != ELFABIVERSION_AMDGPU_HSA_V5)
        problem(p, "EI_ABIVERSION %d, want 3 (code object v5)", e[EI_ABIVERSION]);
    if (h.e_machine != EM_AMDGPU)
        problem(p, "e_machine %u, want EM_AMDGPU (224)", h.e_machine);
    if (h.e_type != ET_DYN)
        problem(p, "e_type %u, want ET_DYN (a linked code object)", h.e_type);
    if ((h.e_flags & EF_AMDGPU_MACH_MASK) != t->mach)
        problem(p, "EF_AMDGPU_MACH 0x%03x, want 0x%03x (%s)", h.e_flags & EF_AMDGPU_MACH_MASK, t->mach, t->gfx);
    /* "any": the object loads whatever xnack/sramecc mode the device runs in */
    if ((h.e_flags & EF_AMDGPU_XNACK_MASK) != EF_AMDGPU_XNACK_ANY ||
        (h.e_flags & EF_AMDGPU_SRAMECC_MASK) != EF_AMDGPU_SRAMECC_ANY)
        problem(p, "e_flags 0x%x: xnack and sramecc should both be 'any'", h.e_flags);
    if (h.e_shentsize != sizeof(Elf64_Shdr) || !in_bounds(size, h.e_shoff, (uint64_t)h.e_shnum * sizeof(Elf64_Shdr))) {
        problem(p, "section headers out of bounds");
        return;
    }
    Elf64_Shdr dynsym = {0}, dynstr = {0};
    for (int i = 0; i < h.e_shnum; i++) {
        Elf64_Shdr s;
        memcpy(&s, e + h.e_shoff + (uint64_t)i * sizeof s, sizeof s);
        if (s.sh_type == SHT_DYNSYM && s.sh_link < h.e_shnum) {
            dynsym = s;
            memcpy(&dynstr, e + h.e_shoff + (uint64_t)s.sh_link * sizeof s, sizeof s);
        }
    }
    if (!dynsym.sh_size || !in_bounds(size, dynsym.sh_offset, dynsym.sh_size) ||
        !in_bounds(size, dynstr.sh_offset, dynstr.sh_size)) {
        problem(p, "no usable .dynsym (the loader finds kernels there)");
        return;
    }
    int n_kd = 0;
    for (size_t i = 1; i < dynsym.sh_size / sizeof(Elf64_Sym); i++) {
        Elf64_Sym s;
        memcpy(&s, e + dynsym.sh_offset + i * sizeof s, sizeof s);
        const char *name = s.st_name < dynstr.sh_size ? (const char *)e + dynstr.sh_offset + s.st_name : "";
        size_t len = strnlen(name, dynstr.sh_size - s.st_name);
        n_kd += len > 3 && strncmp(name + len - 3, ".kd", 3) == 0;
    }
    if (n_kd != n_kernels)
        problem(p, "%d kernel descriptors in .dynsym, want %d", n_kd, n_kernels);
    for (int k = 0; k < n_kernels; k++) {
        char name[32], kd_name[40];
        snprintf(name, sizeof name, "nf_k%d", k);
        snprintf(kd_name, sizeof kd_name, "nf_k%d.kd", k);
        Elf64_Sym fn, d;
        if (!find_symbol(e, &dynsym, &dynstr, name, &fn) || ELF64_ST_TYPE(fn.st_info) != STT_FUNC ||
            ELF64_ST_BIND(fn.st_info) != STB_GLOBAL || fn.st_shndx == SHN_UNDEF) {
            problem(p, "%s: no defined global function symbol", name);
            continue;
        }
        if (fn.st_value % ENTRY_ALIGN)
            problem(p, "%s at 0x%llx: not %d-byte aligned", name, (unsigned long long)fn.st_value, ENTRY_ALIGN);
        if (!find_symbol(e, &dynsym, &dynstr, kd_name, &d) || ELF64_ST_TYPE(d.st_info) != STT_OBJECT ||
            ELF64_ST_BIND(d.st_info) != STB_GLOBAL || d.st_shndx == SHN_UNDEF || d.st_size != KD_SIZE) {
            problem(p, "%s: no defined global %d-byte object symbol", kd_name, KD_SIZE);
            continue;
        }
        const unsigned char *b = at_address(e, size, &h, d.st_value, KD_SIZE);
        if (!b || d.st_value % KD_SIZE) {
            problem(p, "%s: descriptor at 0x%llx not in an allocated section, or misaligned", kd_name,
                    (unsigned long long)d.st_value);
            continue;
        }
        uint32_t rsrc1, rsrc2;
        uint16_t props;
        int64_t entry;
        kd[k].found = true;
        memcpy(&kd[k].lds, b + 0, 4);
        memcpy(&kd[k].scratch, b + 4, 4);
        memcpy(&kd[k].kernarg_size, b + 8, 4);
        memcpy(&entry, b + 16, 8);
        memcpy(&rsrc1, b + 48, 4);
        memcpy(&rsrc2, b + 52, 4);
        memcpy(&props, b + 56, 2);
        kd[k].vgpr_blocks = rsrc1 & 0x3f;
        if (d.st_value + (uint64_t)entry != fn.st_value)
            problem(p, "%s: code entry 0x%llx, but %s is at 0x%llx", kd_name,
                    (unsigned long long)(d.st_value + (uint64_t)entry), name, (unsigned long long)fn.st_value);
        if (kd[k].lds || kd[k].scratch || (rsrc2 & 1))
            problem(p, "%s: group segment %u, private segment %u, scratch enabled %u: want 0, 0, 0", kd_name,
                    kd[k].lds, kd[k].scratch, rsrc2 & 1);
        if (kd[k].kernarg_size != 8u * (unsigned)amd_kernel_args(slots))
            problem(p, "%s: kernarg size %u, want %d (%d slot pointers, the work count, the scratch pointer)",
                    kd_name, kd[k].kernarg_size, 8 * amd_kernel_args(slots), slots);
        if (!(props & 0x8))
            problem(p, "%s: ENABLE_SGPR_KERNARG_SEGMENT_PTR not set", kd_name);
        /* the host's float environment: round to nearest even, denormals kept
         * (in and out, every width), IEEE mode (NaN inputs handled as IEEE 754 says) */
        if (((rsrc1 >> 12) & 0xff) != RSRC1_RNE_DENORMALS_KEPT || !(rsrc1 & RSRC1_IEEE_MODE))
            problem(p, "%s: COMPUTE_PGM_RSRC1 0x%08x: want round-to-nearest-even, denormal flushing off, IEEE mode on",
                    kd_name, rsrc1);
    }
}

/* ---- the AMDHSA metadata, through llvm-readelf --notes ------------------- */

typedef struct notes {
    char target[96];
    long long version[2];
    int n_versions;
    kernel_meta kernels[MAX_KERNELS];
    int n_kernels;
} notes;

static const struct {
    const char *key;
    size_t offset;
} number_keys[] = {
    {".kernarg_segment_size", offsetof(kernel_meta, kernarg_size)},
    {".kernarg_segment_align", offsetof(kernel_meta, kernarg_align)},
    {".sgpr_count", offsetof(kernel_meta, sgpr)},
    {".vgpr_count", offsetof(kernel_meta, vgpr)},
    {".agpr_count", offsetof(kernel_meta, agpr)},
    {".group_segment_fixed_size", offsetof(kernel_meta, lds)},
    {".private_segment_fixed_size", offsetof(kernel_meta, scratch)},
    {".sgpr_spill_count", offsetof(kernel_meta, sgpr_spill)},
    {".vgpr_spill_count", offsetof(kernel_meta, vgpr_spill)},
    {".wavefront_size", offsetof(kernel_meta, wavefront)},
    {".max_flat_workgroup_size", offsetof(kernel_meta, max_block)},
};
enum { N_NUMBER_KEYS = sizeof number_keys / sizeof number_keys[0] };

static void new_kernel(notes *n)
{
    kernel_meta *k = &n->kernels[n->n_kernels++];
    memset(k, 0, sizeof *k);
    for (int i = 0; i < N_NUMBER_KEYS; i++)
        *(long long *)((char *)k + number_keys[i].offset) = -1; /* missing */
}

/* An argument's key, against the layout of kernel_args(). */
static void arg_key(kernel_meta *k, int slots, const char *key, const char *value)
{
    int a = k->n_args - 1;
    if (a >= amd_kernel_args(slots))
        return; /* counted, reported by the caller */
    bool by_value = a == slots;
    char want[32] = "";
    if (strcmp(key, ".offset") == 0)
        snprintf(want, sizeof want, "%d", 8 * a);
    else if (strcmp(key, ".size") == 0)
        snprintf(want, sizeof want, "8");
    else if (strcmp(key, ".value_kind") == 0)
        snprintf(want, sizeof want, "%s", by_value ? "by_value" : "global_buffer");
    else if (strcmp(key, ".address_space") == 0 && !by_value)
        snprintf(want, sizeof want, "global");
    if (*want && strcmp(value, want) != 0 && !*k->args_problem)
        snprintf(k->args_problem, sizeof k->args_problem, "argument %d: %s is %s, want %s", a, key, value, want);
}

/* A line-by-line reading of the YAML llvm-readelf prints: top-level keys at
 * column 0, kernels as list items under amdhsa.kernels, their arguments as
 * items under .args one level deeper. */
static void parse_notes(char *text, int slots, notes *n, problems *p)
{
    memset(n, 0, sizeof *n);
    bool in_doc = false, in_kernels = false, in_version = false, in_args = false;
    int kernel_col = -1; /* column of a kernel's keys */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int ind = (int)strspn(line, " ");
        if (!in_doc) {
            in_doc = strcmp(line + ind, "---") == 0;
            continue;
        }
        if (strcmp(line, "...") == 0)
            break;
        bool item = line[ind] == '-' && (line[ind + 1] == ' ' || line[ind + 1] == '\0');
        int col = item ? ind + 1 + (int)strspn(line + ind + 1, " ") : ind;
        char *key = line + col, *colon = strchr(key, ':');
        char *value = colon ? colon + 1 + strspn(colon + 1, " ") : key;
        if (colon)
            *colon = '\0';
        size_t vl = strlen(value);
        if (vl >= 2 && (value[0] == '\'' || value[0] == '"') && value[vl - 1] == value[0]) {
            value[vl - 1] = '\0';
            value++;
        }
        if (ind == 0 && !item) {
            in_kernels = strcmp(key, "amdhsa.kernels") == 0;
            in_version = strcmp(key, "amdhsa.version") == 0;
            if (strcmp(key, "amdhsa.target") == 0)
                snprintf(n->target, sizeof n->target, "%s", value);
            continue;
        }
        if (in_version && item && n->n_versions < 2) {
            n->version[n->n_versions++] = atoll(value);
            continue;
        }
        if (!in_kernels || !colon || (!item && n->n_kernels == 0))
            continue;
        if (item && (kernel_col < 0 || col == kernel_col)) {
            if (n->n_kernels == MAX_KERNELS) {
                problem(p, "more than %d kernels in the metadata", MAX_KERNELS);
                return;
            }
            kernel_col = col;
            new_kernel(n);
            in_args = false;
        }
        kernel_meta *k = &n->kernels[n->n_kernels - 1];
        if (col == kernel_col) {
            in_args = strcmp(key, ".args") == 0;
            if (strcmp(key, ".name") == 0)
                snprintf(k->name, sizeof k->name, "%s", value);
            else if (strcmp(key, ".symbol") == 0)
                snprintf(k->symbol, sizeof k->symbol, "%s", value);
            else if (strcmp(key, ".uses_dynamic_stack") == 0)
                snprintf(k->dynamic_stack, sizeof k->dynamic_stack, "%s", value);
            for (int i = 0; i < N_NUMBER_KEYS; i++)
                if (strcmp(key, number_keys[i].key) == 0)
                    *(long long *)((char *)k + number_keys[i].offset) = strtoll(value, NULL, 10);
        } else if (in_args && col > kernel_col) {
            k->n_args += item;
            if (k->n_args > 0)
                arg_key(k, slots, key, value);
        }
    }
}

static void check_number(problems *p, const kernel_meta *k, const char *what, long long got, long long lo,
                         long long hi)
{
    if (got < 0)
        problem(p, "%s: %s missing from the metadata", k->name, what);
    else if (got < lo || got > hi)
        problem(p, "%s: %s = %lld, want %lld..%lld", k->name, what, got, lo, hi);
}

/* kd: the descriptors as check_elf read them (NULL: not cross-checked). */
static void check_notes(char *text, const amd_expect *x, const kd_info *kd, kernel_meta *seen, problems *p)
{
    const amd_target *t = x->target;
    int n_kernels = x->n_kernels, slots = x->slots;
    notes *n = malloc(sizeof *n);
    assert_non_null(n);
    parse_notes(text, slots, n, p);
    char want[64];
    snprintf(want, sizeof want, "amdgcn-amd-amdhsa--%s", t->gfx);
    if (strcmp(n->target, want) != 0)
        problem(p, "amdhsa.target '%s', want '%s'", n->target, want);
    if (n->n_versions != 2 || n->version[0] != 1 || n->version[1] != 2)
        problem(p, "amdhsa.version is not [1, 2] (code object v5)");
    if (n->n_kernels != n_kernels)
        problem(p, "%d kernels in the metadata, want %d", n->n_kernels, n_kernels);
    for (int i = 0; i < n_kernels; i++) {
        char name[32];
        snprintf(name, sizeof name, "nf_k%d", i);
        const kernel_meta *k = NULL;
        for (int j = 0; j < n->n_kernels; j++)
            if (strcmp(n->kernels[j].name, name) == 0)
                k = &n->kernels[j];
        if (!k) {
            problem(p, "%s: not in the metadata", name);
            continue;
        }
        char sym[40];
        snprintf(sym, sizeof sym, "%s.kd", name);
        if (strcmp(k->symbol, sym) != 0)
            problem(p, "%s: .symbol '%s', want '%s'", name, k->symbol, sym);
        long long kernarg = 8LL * amd_kernel_args(slots);
        check_number(p, k, ".kernarg_segment_size", k->kernarg_size, kernarg, kernarg);
        check_number(p, k, ".kernarg_segment_align", k->kernarg_align, 8, 8);
        if (k->n_args != amd_kernel_args(slots))
            problem(p, "%s: %d arguments, want %d", name, k->n_args, amd_kernel_args(slots));
        if (*k->args_problem)
            problem(p, "%s: %s", name, k->args_problem);
        check_number(p, k, ".sgpr_count", k->sgpr, 1, MAX_SGPRS);
        check_number(p, k, ".vgpr_count", k->vgpr, 1, MAX_VGPRS);
        check_number(p, k, ".agpr_count", k->agpr, 0, MAX_AGPRS);
        check_number(p, k, ".group_segment_fixed_size (LDS)", k->lds, 0, 0);
        check_number(p, k, ".private_segment_fixed_size (scratch)", k->scratch, 0, 0);
        check_number(p, k, ".sgpr_spill_count", k->sgpr_spill, 0, 0);
        check_number(p, k, ".vgpr_spill_count", k->vgpr_spill, 0, 0);
        check_number(p, k, ".wavefront_size", k->wavefront, 64, 64);
        check_number(p, k, ".max_flat_workgroup_size", k->max_block, BLOCK, BLOCK);
        if (*k->dynamic_stack && strcmp(k->dynamic_stack, "false") != 0)
            problem(p, "%s: .uses_dynamic_stack %s", name, k->dynamic_stack);
        long long blocks = ((k->vgpr > 1 ? k->vgpr : 1) + VGPR_GRANULE - 1) / VGPR_GRANULE - 1;
        if (kd && kd[i].found && k->vgpr >= 0 && kd[i].vgpr_blocks != blocks)
            problem(p, "%s: the descriptor allocates %u VGPR blocks, the metadata's %lld VGPRs need %lld", name,
                    kd[i].vgpr_blocks + 1, k->vgpr, blocks + 1);
        if (seen)
            seen[i] = *k;
    }
    free(n);
}

/* ---- the disassembly, through llvm-objdump -d ----------------------------- */

/* The MFMA instructions in kernel k's disassembly: from its label to the
 * blank line that ends it; -1 when the label is missing. */
static int count_mfma(const char *text, int k)
{
    char label[32];
    snprintf(label, sizeof label, "<nf_k%d>:", k);
    const char *at = strstr(text, label);
    if (!at)
        return -1;
    const char *end = strstr(at, "\n\n");
    if (!end)
        end = at + strlen(at);
    int n = 0;
    for (const char *s = at; (s = strstr(s, "v_mfma_")) && s < end; s++)
        n++;
    return n;
}

static void check_disassembly(const char *text, int rc, const amd_expect *x, kernel_meta *seen, problems *p)
{
    int n_kernels = x->n_kernels;
    static const char *const fma[] = {"v_fma_f", "v_fmac_f", "v_mad_f", "v_mac_f", "v_pk_fma_f", "_mix_f"};
    for (size_t i = 0; x->no_fma && i < sizeof fma / sizeof fma[0]; i++)
        if (strstr(text, fma[i]))
            problem(p, "the code contracts a multiply and an add (%s...): results would differ from the host's",
                    fma[i]);
    if (rc != 0)
        problem(p, "llvm-objdump exited with %d", rc);
    if (!strstr(text, "file format elf64-amdgpu"))
        problem(p, "llvm-objdump does not see an elf64-amdgpu file");
    static const char *const bad[] = {"<unknown>", "error:", "warning:", "scratch_", "buffer_"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(text, bad[i]))
            problem(p, "the disassembly contains '%s' (%s)", bad[i],
                    i < 3 ? "undecodable code or a tool complaint" : "private memory use");
    for (int k = 0; k < n_kernels; k++) {
        char label[32];
        snprintf(label, sizeof label, "<nf_k%d>:", k);
        if (!strstr(text, label))
            problem(p, "no code disassembled for %s", label);
    }
    int ends = 0;
    for (const char *s = text; (s = strstr(s, "s_endpgm")); s++)
        ends++;
    if (ends < n_kernels)
        problem(p, "%d s_endpgm for %d kernels", ends, n_kernels);
    for (int k = 0; k < n_kernels; k++) {
        int mfma = count_mfma(text, k);
        if (seen)
            seen[k].mfma = mfma;
        bool want = k < 64 && (x->mfma >> k & 1);
        if (x->check_mfma && mfma == 0 && want)
            problem(p, "nf_k%d: a matrix-core GEMM without MFMA instructions (v_mfma_*)", k);
        if (x->check_mfma && mfma > 0 && !want)
            problem(p, "nf_k%d: %d MFMA instructions in a kernel that is no matrix-core GEMM", k, mfma);
    }
}


/* ---- all of it -------------------------------------------------------------- */

static void write_temp(char *path, size_t n, const void *data, size_t size)
{
    snprintf(path, n, "/tmp/nsafuse-amdgpu-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    close(fd);
}

char *amd_readelf_notes(const void *elf, size_t size)
{
    if (!readelf_path)
        return NULL;
    char path[64], *out = NULL;
    write_temp(path, sizeof path, elf, size);
    char *argv[] = {(char *)readelf_path, "--notes", path, NULL};
    int rc = run_tool(argv, &out);
    unlink(path);
    assert_int_equal(rc, 0);
    return out;
}

void amd_check_notes(char *text, const amd_expect *x, amd_kernel_meta *seen, amd_problems *p)
{
    check_notes(text, x, NULL, seen, p);
}

void amd_check_code_object(const void *elf, size_t size, const amd_expect *x, amd_kernel_meta *seen,
                           amd_problems *p)
{
    kd_info kd[MAX_KERNELS] = {{0}};
    if (x->n_kernels > MAX_KERNELS) {
        problem(p, "%d kernels: the checks read at most %d", x->n_kernels, MAX_KERNELS);
        return;
    }
    check_elf(elf, size, x, kd, p);
    char path[64];
    write_temp(path, sizeof path, elf, size);
    if (readelf_path) {
        char *out = NULL;
        char *argv[] = {(char *)readelf_path, "--notes", path, NULL};
        int rc = run_tool(argv, &out);
        if (rc != 0)
            problem(p, "llvm-readelf --notes exited with %d: %.300s", rc, out);
        else
            check_notes(out, x, kd, seen, p);
        free(out);
    }
    if (objdump_path) {
        char *out = NULL, mcpu[32];
        snprintf(mcpu, sizeof mcpu, "--mcpu=%s", x->target->gfx);
        char *argv[] = {(char *)objdump_path, "-d", mcpu, path, NULL};
        int rc = run_tool(argv, &out);
        check_disassembly(out, rc, x, seen, p);
        free(out);
    } else {
        for (int k = 0; seen && k < x->n_kernels; k++)
            seen[k].mfma = -1;
    }
    unlink(path);
}

long amd_descriptor_offset(const void *elf, size_t size, int k)
{
    const unsigned char *e = elf;
    Elf64_Ehdr h;
    if (size < sizeof h)
        return -1;
    memcpy(&h, e, sizeof h);
    if (h.e_shentsize != sizeof(Elf64_Shdr) || !in_bounds(size, h.e_shoff, (uint64_t)h.e_shnum * sizeof(Elf64_Shdr)))
        return -1;
    for (int i = 0; i < h.e_shnum; i++) {
        Elf64_Shdr sym, str;
        memcpy(&sym, e + h.e_shoff + (uint64_t)i * sizeof sym, sizeof sym);
        if (sym.sh_type != SHT_DYNSYM || sym.sh_link >= h.e_shnum)
            continue;
        memcpy(&str, e + h.e_shoff + (uint64_t)sym.sh_link * sizeof str, sizeof str);
        char name[40];
        snprintf(name, sizeof name, "nf_k%d.kd", k);
        Elf64_Sym d;
        const unsigned char *b;
        if (in_bounds(size, sym.sh_offset, sym.sh_size) && in_bounds(size, str.sh_offset, str.sh_size) &&
            find_symbol(e, &sym, &str, name, &d) && (b = at_address(e, size, &h, d.st_value, KD_SIZE)))
            return (long)(b - e);
    }
    return -1;
}
