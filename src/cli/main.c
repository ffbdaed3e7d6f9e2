/* nsafuse: the command. Picks the verb, parses its flags, runs it. */
#include "cli/cli.h"

#include <string.h>

typedef struct verb {
    const char *name;
    unsigned flags;
    int (*run)(const cli_args *a);
    const char *usage;
} verb;

static const verb VERBS[] = {
    {"check", CLI_FLAG_GRAPH, cli_verb_check,
     "usage: nsafuse check FILE [--graph NAME]\n"
     "\n"
     "Parse and verify a graph file; print the graph with every type inferred.\n"
     "On a bad file print FILE:LINE:COL: error: MESSAGE and exit 1.\n"
     "\n"
     "  --graph NAME   the graph to check (default: the first in FILE)\n"
     "FILE may be - for standard input.\n"},
    {"dump", CLI_FLAG_GRAPH | CLI_FLAG_EMIT | CLI_FLAG_TARGET | CLI_FLAG_DIM | CLI_FLAG_OUT | CLI_FLAG_UNFUSED | CLI_FLAG_CONSTANT,
     cli_verb_dump,
     "usage: nsafuse dump FILE [--graph NAME] --emit ir|fused|llvm|ptx|amdgcn|hsaco\n"
     "                    [--target host|sm_80|sm_90|gfx90a|gfx942|gfx950] [--dim NAME=INT]... [-o OUT]\n"
     "\n"
     "Print (or write to OUT) one stage of compiling a graph:\n"
     "  ir      the graph with every type inferred\n"
     "  fused   the fusion plan: one block per kernel, each starting with `kernel `\n"
     "  llvm    the LLVM IR          ptx     the PTX (NVIDIA targets)\n"
     "  amdgcn  the AMDGPU assembly  hsaco   the AMDGPU code object (binary: needs -o\n"
     "          or a pipe)\n"
     "\n"
     "  --graph NAME     the graph (default: the first in FILE)\n"
     "  --target T       default: host; sm_90 for ptx, gfx942 for amdgcn and hsaco\n"
     "  --dim NAME=INT   the size of a symbolic dimension; every symbol needs one\n"
     "                   (except for --emit ir)\n"
     "  --unfused        compile every op as its own kernel (the eager baseline)\n"
     "  --constant NAME  declare input NAME constant (a weight): the code of calls\n"
     "                   that pass it, e.g. an fp32 weight read as its bf16 terms\n"
     "  -o OUT           write to OUT instead of standard output\n"},
    {"run", CLI_FLAG_GRAPH | CLI_FLAG_TARGET | CLI_FLAG_DIM | CLI_FLAG_SEED | CLI_FLAG_CHECK | CLI_FLAG_UNFUSED | CLI_FLAG_CONSTANT,
     cli_verb_run,
     "usage: nsafuse run FILE [--graph NAME] [--target T] [--dim NAME=INT]... [--seed N]\n"
     "                   [--check] [--unfused]\n"
     "\n"
     "Run a graph on seeded random inputs and print a summary of each output.\n"
     "\n"
     "  --graph NAME     the graph (default: the first in FILE)\n"
     "  --target T       host (default), cuda, " CLI_ARCH_TARGETS "\n"
     "  --dim NAME=INT   the size of a symbolic dimension; every symbol needs one\n"
     "  --seed N         seed of the random inputs (default 0); input i gets its own\n"
     "                   seed derived from N and i\n"
     "  --check          also run the reference interpreter (op by op, on the CPU) and\n"
     "                   compare; print the max abs and rel error and PASS or FAIL;\n"
     "                   exit 0 only on PASS\n"
     "  --unfused        every op its own kernel (the eager baseline)\n"
     "  --constant NAME  declare input NAME constant (a weight; repeatable): what the\n"
     "                   kernel makes from it once, such as an fp32 weight's bf16\n"
     "                   terms, is made at the first call\n"},
    {"bench", CLI_FLAG_GRAPH | CLI_FLAG_TARGET | CLI_FLAG_DIM | CLI_FLAG_SEED | CLI_FLAG_CONSTANT, cli_verb_bench,
     "usage: nsafuse bench FILE [--graph NAME] --target T [--dim NAME=INT]...\n"
     "\n"
     "Time the fused and the unfused (one kernel per op) graph on the target; print\n"
     "kernel counts and the median time per call (after warm-up runs).\n"
     "\n"
     "  --graph NAME     the graph (default: the first in FILE)\n"
     "  --target T       " CLI_TARGETS "\n"
     "  --dim NAME=INT   the size of a symbolic dimension; every symbol needs one\n"
     "  --seed N         seed of the random inputs (default 0)\n"
     "  --constant NAME  declare input NAME constant (a weight; repeatable)\n"},
    {"cache", 0, cli_verb_cache,
     "usage: nsafuse cache list|clear\n"
     "\n"
     "List or remove the compiled kernels cached on disk (files ending in .nfk in\n"
     "$NSAFUSE_CACHE_DIR, else $XDG_CACHE_HOME/nsafuse, else ~/.cache/nsafuse).\n"},
};
#define N_VERBS ((int)(sizeof VERBS / sizeof VERBS[0]))

static void print_program_usage(FILE *f)
{
    fputs("usage: nsafuse VERB [ARGS]   (nsafuse VERB --help for each verb)\n"
          "\n"
          "nsafuse compiles small tensor graphs (.nf files) into fused kernels for the\n"
          "CPU and NVIDIA and AMD GPUs.\n"
          "\n"
          "verbs:\n"
          "  check FILE    parse and verify; print the graph with every type\n"
          "  dump FILE     print the graph, fusion plan, LLVM IR, PTX or AMDGPU code\n"
          "  run FILE      run on seeded random inputs; --check compares with the reference\n"
          "  bench FILE    time fused and unfused kernels\n"
          "  cache         list or clear the on-disk kernel cache\n"
          "\n"
          "  -h, --help    this text\n"
          "  --version     print the version\n"
          "\n"
          "exit status: 0 success, 1 user error (bad file, flag, failed check),\n"
          "2 environment error (no GPU, no driver, compiler failure)\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_program_usage(stderr);
        return CLI_EXIT_USER;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        print_program_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("nsafuse %s\n", NF_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < N_VERBS; i++) {
        const verb *v = &VERBS[i];
        if (strcmp(name, v->name) != 0)
            continue;
        cli_args a;
        if (!cli_parse_args(argc, argv, 2, v->name, v->flags, &a))
            return CLI_EXIT_USER;
        if (a.help) {
            fputs(v->usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!a.positional)
            return cli_usage_error(v->name, "missing %s", strcmp(v->name, "cache") == 0 ? "action (list or clear)"
                                                                                          : "FILE");
        return v->run(&a);
    }
    if (name[0] == '-')
        fprintf(stderr, "nsafuse: error: unknown option %s (see nsafuse --help)\n", name);
    else
        fprintf(stderr, "nsafuse: error: unknown verb '%s' (verbs: check, dump, run, bench, cache; see nsafuse --help)\n",
                name);
    return CLI_EXIT_USER;
}
