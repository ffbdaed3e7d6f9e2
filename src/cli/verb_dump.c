/* nsafuse dump: one stage of compiling a graph, as text (or the hsaco code
 * object as bytes), to standard output or -o OUT. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const EMITS[] = {"ir", "fused", "llvm", "ptx", "amdgcn", "hsaco"};
#define N_EMITS ((int)(sizeof EMITS / sizeof EMITS[0]))

static bool known_emit(const char *e)
{
    for (int i = 0; i < N_EMITS; i++)
        if (strcmp(e, EMITS[i]) == 0)
            return true;
    return false;
}

/* The target a stage makes sense for when --target is not given. */
static const char *default_target(const char *emit)
{
    if (strcmp(emit, "ptx") == 0)
        return "sm_90";
    if (strcmp(emit, "amdgcn") == 0 || strcmp(emit, "hsaco") == 0)
        return "gfx942";
    return "host";
}

static int write_output(const cli_args *a, const char *data, size_t len)
{
    if (!a->out_path) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "nsafuse dump: error: cannot write to standard output: %s\n", strerror(errno));
            return CLI_EXIT_ENV;
        }
        return CLI_EXIT_OK;
    }
    FILE *f = fopen(a->out_path, "wb");
    if (!f) {
        fprintf(stderr, "nsafuse dump: error: cannot open %s for writing: %s (check the path)\n", a->out_path,
                strerror(errno));
        return CLI_EXIT_USER;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok) {
        fprintf(stderr, "nsafuse dump: error: cannot write %s: %s (check free space)\n", a->out_path,
                strerror(errno));
        return CLI_EXIT_ENV;
    }
    return CLI_EXIT_OK;
}

static int dump_ir(const cli_args *a, nf_graph *g)
{
    char *text = nf_graph_print(g);
    if (!text) {
        fprintf(stderr, "nsafuse dump: error: out of memory printing the graph (free memory and retry)\n");
        return CLI_EXIT_ENV;
    }
    int status = write_output(a, text, strlen(text));
    free(text);
    return status;
}

static int dump_compiled(const cli_args *a, nf_graph *g)
{
    int status;
    nf_bindings b;
    uint32_t constants;
    if (!cli_bindings(a, g, &b, &status) || !cli_constant_inputs(a, g, &constants, &status))
        return status;
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = a->target ? a->target : default_target(a->emit);
    o.unfused = a->unfused;
    o.constant_inputs = constants;
    nf_error err = {0};
    nf_kernel *k = NULL;
    if (nf_compile(g, &o, &k, &err) != NF_OK)
        return cli_report(a->verb, a->positional, &err);
    char *out = NULL;
    size_t len = 0;
    if (nf_kernel_dump(k, a->emit, &b, &out, &len, &err) != NF_OK) {
        nf_kernel_free(k);
        return cli_report(a->verb, a->positional, &err);
    }
    status = write_output(a, out, len);
    free(out);
    nf_kernel_free(k);
    return status;
}

int cli_verb_dump(const cli_args *a)
{
    if (!a->emit)
        return cli_usage_error(a->verb, "--emit is required (ir, fused, llvm, ptx, amdgcn or hsaco)");
    if (!known_emit(a->emit))
        return cli_usage_error(a->verb, "unknown --emit %s (ir, fused, llvm, ptx, amdgcn or hsaco)", a->emit);
    nf_device_kind device;
    if (a->target && !nf_target_device(a->target, &device))
        return cli_usage_error(a->verb, "unknown --target %s (host, " CLI_ARCH_TARGETS ")",
                               a->target);
    /* A code object is bytes: never dump it on a terminal. */
    if (strcmp(a->emit, "hsaco") == 0 && !a->out_path && isatty(STDOUT_FILENO))
        return cli_usage_error(a->verb, "--emit hsaco is binary: write it with -o FILE or pipe it");
    int status;
    nf_graph *g = cli_load_graph(a, &status);
    if (!g)
        return status;
    status = strcmp(a->emit, "ir") == 0 ? dump_ir(a, g) : dump_compiled(a, g);
    nf_graph_free(g);
    return status;
}
